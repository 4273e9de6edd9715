# Empty dependencies file for test_safety.
# This may be replaced when dependencies are built.
