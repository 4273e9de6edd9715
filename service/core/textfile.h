/*
 * textfile: read a whole text file with a size cap, at startup or on a
 * reload (blocking: never inside a ticket's path). Used for the config,
 * prompts, rules and migrations.
 */
#ifndef TRIAGED_TEXTFILE_H
#define TRIAGED_TEXTFILE_H

#include <stddef.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

/*
 * Returns the file's contents as a new NUL-terminated string (caller frees),
 * or NULL with err: "PATH: cannot open: REASON", "PATH: read error: REASON",
 * "PATH: larger than CAP bytes", "PATH: contains a NUL byte".
 */
char *textfile_read(const char *path, size_t cap, char *err, size_t errlen);

#endif
