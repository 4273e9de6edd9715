file(REMOVE_RECURSE
  "CMakeFiles/bench_rules.dir/tests/bench/bench_rules.c.o"
  "CMakeFiles/bench_rules.dir/tests/bench/bench_rules.c.o.d"
  "bench_rules"
  "bench_rules.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/bench_rules.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
