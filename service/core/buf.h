/*
 * buf: a growable byte buffer with a hard cap. data is always NUL-terminated
 * (one byte beyond len), so it can be used as a C string when the content is
 * text. buf_append returns -1 (and leaves the buffer unchanged) when the cap
 * would be exceeded; the caller turns that into a per-ticket error.
 * Everything sized by outside data goes through a struct buf with a cap.
 */
#ifndef TRIAGED_BUF_H
#define TRIAGED_BUF_H

#include <stddef.h>

#include "xmem.h"

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;
};

void buf_init(struct buf *b, size_t cap);
void buf_cleanup(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n) WUR;
int buf_appendf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3) WUR;
/* Hand the data to the caller (caller frees); the buffer is left empty. */
char *buf_steal(struct buf *b);

#endif
