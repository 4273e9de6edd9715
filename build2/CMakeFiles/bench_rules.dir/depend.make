# Empty dependencies file for bench_rules.
# This may be replaced when dependencies are built.
