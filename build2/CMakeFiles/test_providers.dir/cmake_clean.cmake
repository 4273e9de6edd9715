file(REMOVE_RECURSE
  "CMakeFiles/test_providers.dir/tests/integ/harness.c.o"
  "CMakeFiles/test_providers.dir/tests/integ/harness.c.o.d"
  "CMakeFiles/test_providers.dir/tests/integ/stack.c.o"
  "CMakeFiles/test_providers.dir/tests/integ/stack.c.o.d"
  "CMakeFiles/test_providers.dir/tests/integ/test_providers.c.o"
  "CMakeFiles/test_providers.dir/tests/integ/test_providers.c.o.d"
  "test_providers"
  "test_providers.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_providers.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
