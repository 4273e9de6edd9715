# Empty dependencies file for triaged-devbroker.
# This may be replaced when dependencies are built.
