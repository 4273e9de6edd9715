# Empty compiler generated dependencies file for test_injection.
# This may be replaced when dependencies are built.
