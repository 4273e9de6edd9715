file(REMOVE_RECURSE
  "CMakeFiles/test_intake.dir/tests/unit/test_intake.c.o"
  "CMakeFiles/test_intake.dir/tests/unit/test_intake.c.o.d"
  "test_intake"
  "test_intake.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_intake.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
