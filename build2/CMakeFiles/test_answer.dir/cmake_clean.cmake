file(REMOVE_RECURSE
  "CMakeFiles/test_answer.dir/tests/unit/test_answer.c.o"
  "CMakeFiles/test_answer.dir/tests/unit/test_answer.c.o.d"
  "test_answer"
  "test_answer.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_answer.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
