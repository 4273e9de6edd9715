file(REMOVE_RECURSE
  "CMakeFiles/triaged.dir/service/main.c.o"
  "CMakeFiles/triaged.dir/service/main.c.o.d"
  "triaged"
  "triaged.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/triaged.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
