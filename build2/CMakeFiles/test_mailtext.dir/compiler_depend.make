# Empty compiler generated dependencies file for test_mailtext.
# This may be replaced when dependencies are built.
