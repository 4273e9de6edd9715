file(REMOVE_RECURSE
  "CMakeFiles/test_cascade.dir/tests/integ/harness.c.o"
  "CMakeFiles/test_cascade.dir/tests/integ/harness.c.o.d"
  "CMakeFiles/test_cascade.dir/tests/integ/stack.c.o"
  "CMakeFiles/test_cascade.dir/tests/integ/stack.c.o.d"
  "CMakeFiles/test_cascade.dir/tests/integ/test_cascade.c.o"
  "CMakeFiles/test_cascade.dir/tests/integ/test_cascade.c.o.d"
  "test_cascade"
  "test_cascade.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_cascade.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
