# Empty dependencies file for test_evalreport.
# This may be replaced when dependencies are built.
