file(REMOVE_RECURSE
  "CMakeFiles/test_http.dir/tests/unit/test_http.c.o"
  "CMakeFiles/test_http.dir/tests/unit/test_http.c.o.d"
  "test_http"
  "test_http.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_http.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
