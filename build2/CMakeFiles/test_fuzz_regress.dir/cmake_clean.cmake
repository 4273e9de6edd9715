file(REMOVE_RECURSE
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_config.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_config.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_dialect.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_dialect.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_draft_check.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_draft_check.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_injection.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_injection.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_prompt.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_prompt.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_redact.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_redact.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_rules.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_rules.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_ticket.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_ticket.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_triage.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_triage.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_util.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/fuzz/fuzz_util.c.o.d"
  "CMakeFiles/test_fuzz_regress.dir/tests/unit/test_fuzz_regress.c.o"
  "CMakeFiles/test_fuzz_regress.dir/tests/unit/test_fuzz_regress.c.o.d"
  "test_fuzz_regress"
  "test_fuzz_regress.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_fuzz_regress.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
