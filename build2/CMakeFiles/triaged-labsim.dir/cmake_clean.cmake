file(REMOVE_RECURSE
  "CMakeFiles/triaged-labsim.dir/service/tools/fake_errors.c.o"
  "CMakeFiles/triaged-labsim.dir/service/tools/fake_errors.c.o.d"
  "CMakeFiles/triaged-labsim.dir/service/tools/labsim.c.o"
  "CMakeFiles/triaged-labsim.dir/service/tools/labsim.c.o.d"
  "triaged-labsim"
  "triaged-labsim.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/triaged-labsim.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
