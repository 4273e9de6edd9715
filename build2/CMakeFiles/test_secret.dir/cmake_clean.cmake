file(REMOVE_RECURSE
  "CMakeFiles/test_secret.dir/tests/unit/test_secret.c.o"
  "CMakeFiles/test_secret.dir/tests/unit/test_secret.c.o.d"
  "test_secret"
  "test_secret.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_secret.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
