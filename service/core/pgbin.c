/*
 * pgbin: see pgbin.h.
 */
#include "pgbin.h"

#include <string.h>

static void put32(unsigned char *o, uint32_t v)
{
	o[0] = (unsigned char)(v >> 24);
	o[1] = (unsigned char)(v >> 16);
	o[2] = (unsigned char)(v >> 8);
	o[3] = (unsigned char)v;
}

uint32_t pgbin_get32(const void *p)
{
	const unsigned char *i = p;

	return (uint32_t)i[0] << 24 | (uint32_t)i[1] << 16 | (uint32_t)i[2] << 8 | (uint32_t)i[3];
}

static int append32(struct buf *b, uint32_t v)
{
	unsigned char o[4];

	put32(o, v);
	return buf_append(b, o, 4);
}

/* One column: type, length (-1: NULL), bytes. */
static void col(struct pgbin_rec *r, uint32_t oid, const void *p, int32_t len)
{
	if (r->err)
		return;
	if (append32(r->b, oid) < 0 || append32(r->b, (uint32_t)len) < 0 ||
	    (len > 0 && buf_append(r->b, p, (size_t)len) < 0)) {
		r->err = 1;
		return;
	}
	r->ncols++;
}

void pgbin_rec_begin(struct pgbin_rec *r, struct buf *b)
{
	r->b = b;
	r->at = b->len;
	r->ncols = 0;
	r->err = append32(b, 0) < 0;
}

void pgbin_int4(struct pgbin_rec *r, int32_t v)
{
	unsigned char o[4];

	put32(o, (uint32_t)v);
	col(r, PGBIN_INT4, o, 4);
}

void pgbin_int8(struct pgbin_rec *r, int64_t v)
{
	unsigned char o[8];

	put32(o, (uint32_t)((uint64_t)v >> 32));
	put32(o + 4, (uint32_t)v);
	col(r, PGBIN_INT8, o, 8);
}

void pgbin_float8(struct pgbin_rec *r, double v)
{
	uint64_t u;
	unsigned char o[8];

	memcpy(&u, &v, sizeof(u)); /* IEEE 754, as float8send sends it */
	put32(o, (uint32_t)(u >> 32));
	put32(o + 4, (uint32_t)u);
	col(r, PGBIN_FLOAT8, o, 8);
}

void pgbin_bool(struct pgbin_rec *r, int v)
{
	unsigned char o = v ? 1 : 0;

	col(r, PGBIN_BOOL, &o, 1);
}

void pgbin_text(struct pgbin_rec *r, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (s == NULL) {
		col(r, PGBIN_TEXT, NULL, -1);
		return;
	}
	if (n > INT32_MAX) {
		r->err = 1;
		return;
	}
	col(r, PGBIN_TEXT, s, (int32_t)n);
}

void pgbin_jsonb(struct pgbin_rec *r, const char *json)
{
	size_t n = json ? strlen(json) : 0;

	if (json == NULL) {
		col(r, PGBIN_JSONB, NULL, -1);
		return;
	}
	if (r->err)
		return;
	if (n >= INT32_MAX || append32(r->b, PGBIN_JSONB) < 0 ||
	    append32(r->b, (uint32_t)(n + 1)) < 0 || buf_append(r->b, "\1", 1) < 0 ||
	    buf_append(r->b, json, n) < 0) {
		r->err = 1;
		return;
	}
	r->ncols++;
}

void pgbin_null(struct pgbin_rec *r, uint32_t oid)
{
	col(r, oid, NULL, -1);
}

int pgbin_rec_end(struct pgbin_rec *r)
{
	if (r->err)
		return -1;
	put32((unsigned char *)r->b->data + r->at, (uint32_t)r->ncols);
	return 0;
}

int pgbin_array_header(struct buf *b, uint32_t elem_oid, int32_t n)
{
	return append32(b, 1) < 0 || append32(b, 0) < 0 || append32(b, elem_oid) < 0 ||
		       append32(b, (uint32_t)n) < 0 || append32(b, 1) < 0
		   ? -1
		   : 0;
}

int pgbin_array_elem(struct buf *b, const void *p, size_t len)
{
	if (len > INT32_MAX)
		return -1;
	return append32(b, (uint32_t)len) < 0 || buf_append(b, p, len) < 0 ? -1 : 0;
}
