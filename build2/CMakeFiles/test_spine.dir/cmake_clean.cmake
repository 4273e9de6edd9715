file(REMOVE_RECURSE
  "CMakeFiles/test_spine.dir/tests/integ/harness.c.o"
  "CMakeFiles/test_spine.dir/tests/integ/harness.c.o.d"
  "CMakeFiles/test_spine.dir/tests/integ/stack.c.o"
  "CMakeFiles/test_spine.dir/tests/integ/stack.c.o.d"
  "CMakeFiles/test_spine.dir/tests/integ/test_spine.c.o"
  "CMakeFiles/test_spine.dir/tests/integ/test_spine.c.o.d"
  "test_spine"
  "test_spine.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_spine.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
