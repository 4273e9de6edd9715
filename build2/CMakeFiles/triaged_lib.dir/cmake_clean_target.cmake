file(REMOVE_RECURSE
  "libtriaged_lib.a"
)
