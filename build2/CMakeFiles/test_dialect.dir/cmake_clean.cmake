file(REMOVE_RECURSE
  "CMakeFiles/test_dialect.dir/tests/unit/test_dialect.c.o"
  "CMakeFiles/test_dialect.dir/tests/unit/test_dialect.c.o.d"
  "test_dialect"
  "test_dialect.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_dialect.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
