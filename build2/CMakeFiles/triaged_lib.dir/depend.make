# Empty dependencies file for triaged_lib.
# This may be replaced when dependencies are built.
