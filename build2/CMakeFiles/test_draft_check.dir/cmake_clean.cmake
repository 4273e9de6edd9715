file(REMOVE_RECURSE
  "CMakeFiles/test_draft_check.dir/tests/unit/test_draft_check.c.o"
  "CMakeFiles/test_draft_check.dir/tests/unit/test_draft_check.c.o.d"
  "test_draft_check"
  "test_draft_check.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_draft_check.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
