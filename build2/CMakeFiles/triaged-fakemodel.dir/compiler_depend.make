# Empty compiler generated dependencies file for triaged-fakemodel.
# This may be replaced when dependencies are built.
