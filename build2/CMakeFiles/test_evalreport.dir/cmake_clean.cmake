file(REMOVE_RECURSE
  "CMakeFiles/test_evalreport.dir/tests/unit/test_evalreport.c.o"
  "CMakeFiles/test_evalreport.dir/tests/unit/test_evalreport.c.o.d"
  "test_evalreport"
  "test_evalreport.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_evalreport.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
