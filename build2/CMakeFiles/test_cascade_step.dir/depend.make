# Empty dependencies file for test_cascade_step.
# This may be replaced when dependencies are built.
