
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/fuzz/fuzz_config.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_config.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_config.c.o.d"
  "/work/main/tests/fuzz/fuzz_dialect.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_dialect.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_dialect.c.o.d"
  "/work/main/tests/fuzz/fuzz_draft_check.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_draft_check.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_draft_check.c.o.d"
  "/work/main/tests/fuzz/fuzz_injection.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_injection.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_injection.c.o.d"
  "/work/main/tests/fuzz/fuzz_prompt.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_prompt.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_prompt.c.o.d"
  "/work/main/tests/fuzz/fuzz_redact.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_redact.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_redact.c.o.d"
  "/work/main/tests/fuzz/fuzz_rules.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_rules.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_rules.c.o.d"
  "/work/main/tests/fuzz/fuzz_ticket.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_ticket.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_ticket.c.o.d"
  "/work/main/tests/fuzz/fuzz_triage.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_triage.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_triage.c.o.d"
  "/work/main/tests/fuzz/fuzz_util.c" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_util.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_util.c.o.d"
  "/work/main/tests/unit/test_fuzz_regress.c" "CMakeFiles/test_fuzz_regress.dir/tests/unit/test_fuzz_regress.c.o" "gcc" "CMakeFiles/test_fuzz_regress.dir/tests/unit/test_fuzz_regress.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build2/CMakeFiles/triaged_lib.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
