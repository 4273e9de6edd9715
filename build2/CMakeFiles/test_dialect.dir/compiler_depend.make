# Empty compiler generated dependencies file for test_dialect.
# This may be replaced when dependencies are built.
