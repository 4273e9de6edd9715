# Empty dependencies file for triaged-produce.
# This may be replaced when dependencies are built.
