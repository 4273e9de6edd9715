# Empty compiler generated dependencies file for test_cascade.
# This may be replaced when dependencies are built.
