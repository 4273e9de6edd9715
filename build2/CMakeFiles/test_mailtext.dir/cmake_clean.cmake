file(REMOVE_RECURSE
  "CMakeFiles/test_mailtext.dir/tests/unit/test_mailtext.c.o"
  "CMakeFiles/test_mailtext.dir/tests/unit/test_mailtext.c.o.d"
  "test_mailtext"
  "test_mailtext.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_mailtext.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
