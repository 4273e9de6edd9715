# Empty dependencies file for test_providers.
# This may be replaced when dependencies are built.
