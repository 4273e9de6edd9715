# Empty dependencies file for test_evalstats.
# This may be replaced when dependencies are built.
