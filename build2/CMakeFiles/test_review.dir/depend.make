# Empty dependencies file for test_review.
# This may be replaced when dependencies are built.
