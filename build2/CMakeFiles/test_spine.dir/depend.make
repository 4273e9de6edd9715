# Empty dependencies file for test_spine.
# This may be replaced when dependencies are built.
