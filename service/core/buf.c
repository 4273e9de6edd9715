/*
 * buf: see buf.h. The capped growable buffer; must never grow past its cap.
 */
#include "buf.h"
#include "xmem.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int buf_reserve(struct buf *b, size_t extra)
{
	size_t need;
	/* The last test keeps need (len + extra + 1) from wrapping when cap is SIZE_MAX. */
	if (extra > b->cap || b->len > b->cap - extra || b->len + extra == SIZE_MAX)
		return -1;
	need = b->len + extra + 1;
	if (need > b->alloc) {
		size_t na = b->alloc ? b->alloc : 256;
		while (na < need)
			na = na <= SIZE_MAX / 2 ? na * 2 : need;
		/* Not "na > cap + 1": cap + 1 wraps to 0 when cap is SIZE_MAX. */
		if (na - 1 > b->cap)
			na = b->cap + 1;
		b->data = xrealloc(b->data, na);
		b->alloc = na;
	}
	return 0;
}

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_cleanup(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->alloc = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *buf_steal(struct buf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->alloc = 0;
	return p;
}
