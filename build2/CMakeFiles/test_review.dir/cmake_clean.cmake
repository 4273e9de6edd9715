file(REMOVE_RECURSE
  "CMakeFiles/test_review.dir/tests/integ/harness.c.o"
  "CMakeFiles/test_review.dir/tests/integ/harness.c.o.d"
  "CMakeFiles/test_review.dir/tests/integ/stack.c.o"
  "CMakeFiles/test_review.dir/tests/integ/stack.c.o.d"
  "CMakeFiles/test_review.dir/tests/integ/test_review.c.o"
  "CMakeFiles/test_review.dir/tests/integ/test_review.c.o.d"
  "test_review"
  "test_review.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_review.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
