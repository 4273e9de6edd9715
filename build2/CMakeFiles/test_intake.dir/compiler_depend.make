# Empty compiler generated dependencies file for test_intake.
# This may be replaced when dependencies are built.
