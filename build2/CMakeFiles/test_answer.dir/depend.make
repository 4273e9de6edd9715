# Empty dependencies file for test_answer.
# This may be replaced when dependencies are built.
