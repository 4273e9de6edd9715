# Empty compiler generated dependencies file for test_flagship_queue.
# This may be replaced when dependencies are built.
