file(REMOVE_RECURSE
  "CMakeFiles/triaged-devbroker.dir/service/core/xmem.c.o"
  "CMakeFiles/triaged-devbroker.dir/service/core/xmem.c.o.d"
  "CMakeFiles/triaged-devbroker.dir/service/io/log.c.o"
  "CMakeFiles/triaged-devbroker.dir/service/io/log.c.o.d"
  "CMakeFiles/triaged-devbroker.dir/service/tools/devbroker.c.o"
  "CMakeFiles/triaged-devbroker.dir/service/tools/devbroker.c.o.d"
  "triaged-devbroker"
  "triaged-devbroker.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/triaged-devbroker.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
