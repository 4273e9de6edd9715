file(REMOVE_RECURSE
  "CMakeFiles/test_injection.dir/tests/unit/test_injection.c.o"
  "CMakeFiles/test_injection.dir/tests/unit/test_injection.c.o.d"
  "test_injection"
  "test_injection.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_injection.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
