file(REMOVE_RECURSE
  "CMakeFiles/test_offsets.dir/tests/unit/test_offsets.c.o"
  "CMakeFiles/test_offsets.dir/tests/unit/test_offsets.c.o.d"
  "test_offsets"
  "test_offsets.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_offsets.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
