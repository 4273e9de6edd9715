/*
 * pgbin: rows in PostgreSQL's binary wire format, for a parameter that is an
 * array of a composite type (issue #15: the model calls reach
 * triaged_record_calls_rows as typed values, with no JSON for the server to
 * parse). Pure: it writes into the caller's buffer.
 *
 * A record (record_send's format): int32 column count, then per column its
 * type's OID (uint32), int32 byte length (-1: NULL) and the bytes, all
 * integers big-endian. An array of records (array_send's format, one
 * dimension, lower bound 1): int32 1, int32 has-NULLs (0), uint32 element
 * type OID, int32 element count, int32 1, then per element int32 length and
 * the record. PostgreSQL checks every OID against the declared types.
 */
#ifndef TRIAGED_PGBIN_H
#define TRIAGED_PGBIN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Built-in type OIDs (pg_type.dat; fixed in every PostgreSQL). */
#define PGBIN_BOOL 16
#define PGBIN_INT8 20
#define PGBIN_INT4 23
#define PGBIN_TEXT 25
#define PGBIN_FLOAT8 701
#define PGBIN_JSONB 3802

/* A record being written: where its column count goes, and the count so far. */
struct pgbin_rec {
	struct buf *b;
	size_t at;
	int32_t ncols;
	int err;
};

void pgbin_rec_begin(struct pgbin_rec *r, struct buf *b);
void pgbin_int4(struct pgbin_rec *r, int32_t v);
void pgbin_int8(struct pgbin_rec *r, int64_t v);
void pgbin_float8(struct pgbin_rec *r, double v);
void pgbin_bool(struct pgbin_rec *r, int v);
/* s NULL: a NULL text. The bytes must be valid UTF-8 without NUL, or the server refuses the row. */
void pgbin_text(struct pgbin_rec *r, const char *s);
/*
 * A jsonb value from its JSON text (jsonb_recv's format: the version byte 1,
 * then the text, which the server parses); json NULL: an SQL NULL. The text
 * must be valid JSON, or the server refuses the row.
 */
void pgbin_jsonb(struct pgbin_rec *r, const char *json);
/* A NULL of type oid. */
void pgbin_null(struct pgbin_rec *r, uint32_t oid);
/* Writes the column count. 0, or -1 if the buffer refused a byte (its cap). */
int pgbin_rec_end(struct pgbin_rec *r);

/* The array's header for n elements of type elem_oid (20 bytes), written at b's end. */
int pgbin_array_header(struct buf *b, uint32_t elem_oid, int32_t n);
/* One element: its length, then its bytes (a record from pgbin_rec_*). */
int pgbin_array_elem(struct buf *b, const void *p, size_t len);

/* Big-endian 32-bit integer at p (for tests and readers). */
uint32_t pgbin_get32(const void *p);

#endif
