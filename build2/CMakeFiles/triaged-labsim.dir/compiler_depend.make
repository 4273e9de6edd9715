# Empty compiler generated dependencies file for triaged-labsim.
# This may be replaced when dependencies are built.
