file(REMOVE_RECURSE
  "CMakeFiles/test_flagship_queue.dir/tests/unit/test_flagship_queue.c.o"
  "CMakeFiles/test_flagship_queue.dir/tests/unit/test_flagship_queue.c.o.d"
  "test_flagship_queue"
  "test_flagship_queue.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_flagship_queue.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
