
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/service/core/xmem.c" "CMakeFiles/triaged-produce.dir/service/core/xmem.c.o" "gcc" "CMakeFiles/triaged-produce.dir/service/core/xmem.c.o.d"
  "/work/main/service/io/log.c" "CMakeFiles/triaged-produce.dir/service/io/log.c.o" "gcc" "CMakeFiles/triaged-produce.dir/service/io/log.c.o.d"
  "/work/main/service/tools/produce.c" "CMakeFiles/triaged-produce.dir/service/tools/produce.c.o" "gcc" "CMakeFiles/triaged-produce.dir/service/tools/produce.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
