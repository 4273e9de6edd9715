file(REMOVE_RECURSE
  "CMakeFiles/triaged-produce.dir/service/core/xmem.c.o"
  "CMakeFiles/triaged-produce.dir/service/core/xmem.c.o.d"
  "CMakeFiles/triaged-produce.dir/service/io/log.c.o"
  "CMakeFiles/triaged-produce.dir/service/io/log.c.o.d"
  "CMakeFiles/triaged-produce.dir/service/tools/produce.c.o"
  "CMakeFiles/triaged-produce.dir/service/tools/produce.c.o.d"
  "triaged-produce"
  "triaged-produce.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/triaged-produce.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
