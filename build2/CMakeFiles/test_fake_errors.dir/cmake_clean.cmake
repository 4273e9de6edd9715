file(REMOVE_RECURSE
  "CMakeFiles/test_fake_errors.dir/service/tools/fake_errors.c.o"
  "CMakeFiles/test_fake_errors.dir/service/tools/fake_errors.c.o.d"
  "CMakeFiles/test_fake_errors.dir/tests/unit/test_fake_errors.c.o"
  "CMakeFiles/test_fake_errors.dir/tests/unit/test_fake_errors.c.o.d"
  "test_fake_errors"
  "test_fake_errors.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_fake_errors.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
