file(REMOVE_RECURSE
  "CMakeFiles/test_cascade_step.dir/tests/unit/test_cascade_step.c.o"
  "CMakeFiles/test_cascade_step.dir/tests/unit/test_cascade_step.c.o.d"
  "test_cascade_step"
  "test_cascade_step.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_cascade_step.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
