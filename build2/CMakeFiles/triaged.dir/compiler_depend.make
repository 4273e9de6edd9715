# Empty compiler generated dependencies file for triaged.
# This may be replaced when dependencies are built.
