/*
 * secret: reading an API key from a file. The file must be a regular file
 * that neither group nor others can read or write (mode 0600 or 0400, like
 * ssh keys); otherwise it is refused at startup. The key is the first line,
 * trimmed. Keys are never logged, printed or stored: callers wipe them with
 * explicit_bzero when done.
 */
#ifndef TRIAGED_SECRET_H
#define TRIAGED_SECRET_H

#include <stddef.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

/* Read the key into out (NUL-terminated). Returns 0, or -1 with err (never containing the key). */
int secret_read_file(const char *path, char *out, size_t outlen, char *err, size_t errlen) WUR;

#endif
