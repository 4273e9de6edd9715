# Empty dependencies file for test_jsonw.
# This may be replaced when dependencies are built.
