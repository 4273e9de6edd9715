# Empty dependencies file for test_http_endpoints.
# This may be replaced when dependencies are built.
