# Empty dependencies file for test_breaker.
# This may be replaced when dependencies are built.
