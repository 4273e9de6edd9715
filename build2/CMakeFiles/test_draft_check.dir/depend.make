# Empty dependencies file for test_draft_check.
# This may be replaced when dependencies are built.
