file(REMOVE_RECURSE
  "CMakeFiles/test_http_endpoints.dir/tests/integ/harness.c.o"
  "CMakeFiles/test_http_endpoints.dir/tests/integ/harness.c.o.d"
  "CMakeFiles/test_http_endpoints.dir/tests/integ/stack.c.o"
  "CMakeFiles/test_http_endpoints.dir/tests/integ/stack.c.o.d"
  "CMakeFiles/test_http_endpoints.dir/tests/integ/test_http_endpoints.c.o"
  "CMakeFiles/test_http_endpoints.dir/tests/integ/test_http_endpoints.c.o.d"
  "test_http_endpoints"
  "test_http_endpoints.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_http_endpoints.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
