file(REMOVE_RECURSE
  "CMakeFiles/test_evalstats.dir/tests/unit/test_evalstats.c.o"
  "CMakeFiles/test_evalstats.dir/tests/unit/test_evalstats.c.o.d"
  "test_evalstats"
  "test_evalstats.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_evalstats.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
