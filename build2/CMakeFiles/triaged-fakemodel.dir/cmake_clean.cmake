file(REMOVE_RECURSE
  "CMakeFiles/triaged-fakemodel.dir/service/tools/fake_errors.c.o"
  "CMakeFiles/triaged-fakemodel.dir/service/tools/fake_errors.c.o.d"
  "CMakeFiles/triaged-fakemodel.dir/service/tools/fakemodel.c.o"
  "CMakeFiles/triaged-fakemodel.dir/service/tools/fakemodel.c.o.d"
  "triaged-fakemodel"
  "triaged-fakemodel.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/triaged-fakemodel.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
