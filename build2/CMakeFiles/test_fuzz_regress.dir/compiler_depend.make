# Empty compiler generated dependencies file for test_fuzz_regress.
# This may be replaced when dependencies are built.
