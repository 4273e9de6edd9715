file(REMOVE_RECURSE
  "CMakeFiles/test_breaker.dir/tests/unit/test_breaker.c.o"
  "CMakeFiles/test_breaker.dir/tests/unit/test_breaker.c.o.d"
  "test_breaker"
  "test_breaker.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_breaker.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
