file(REMOVE_RECURSE
  "CMakeFiles/test_safety.dir/tests/integ/harness.c.o"
  "CMakeFiles/test_safety.dir/tests/integ/harness.c.o.d"
  "CMakeFiles/test_safety.dir/tests/integ/stack.c.o"
  "CMakeFiles/test_safety.dir/tests/integ/stack.c.o.d"
  "CMakeFiles/test_safety.dir/tests/integ/test_safety.c.o"
  "CMakeFiles/test_safety.dir/tests/integ/test_safety.c.o.d"
  "test_safety"
  "test_safety.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_safety.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
