# Empty dependencies file for test_offsets.
# This may be replaced when dependencies are built.
