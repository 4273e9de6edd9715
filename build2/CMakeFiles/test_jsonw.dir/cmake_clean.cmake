file(REMOVE_RECURSE
  "CMakeFiles/test_jsonw.dir/tests/unit/test_jsonw.c.o"
  "CMakeFiles/test_jsonw.dir/tests/unit/test_jsonw.c.o.d"
  "test_jsonw"
  "test_jsonw.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_jsonw.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
