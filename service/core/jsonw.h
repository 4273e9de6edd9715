/*
 * jsonw: a small JSON writer into a struct buf, for the rows the daemon
 * sends to PostgreSQL (one object per ticket, thousands a second). It
 * writes text directly: no json-c object tree to build, serialize and free.
 * Pure; strings are escaped exactly as json-c 0.16 does with
 * JSON_C_TO_STRING_NOSLASHESCAPE, so either writer gives the same bytes.
 *
 * Usage: jsonw_begin; jsonw_str/int/num/bool/raw per key; jsonw_end.
 * Errors (the buffer's cap) are sticky: check jsonw_end's result once.
 */
#ifndef TRIAGED_JSONW_H
#define TRIAGED_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

struct jsonw {
	struct buf *b;
	int n;	 /* members written in the current object */
	int err; /* a write hit the buffer's cap */
};

/* Append s[0..n) as the inside of a JSON string. -1 at the buffer's cap. */
int json_escape_append(struct buf *b, const char *s, size_t n) WUR;

void jsonw_begin(struct jsonw *w, struct buf *b);
/* "key": "value", or "key": null when v is NULL. */
void jsonw_str(struct jsonw *w, const char *key, const char *v);
void jsonw_strn(struct jsonw *w, const char *key, const char *v, size_t n);
void jsonw_int(struct jsonw *w, const char *key, int64_t v);
/* A finite double with full precision; null when not finite. */
void jsonw_num(struct jsonw *w, const char *key, double v);
void jsonw_bool(struct jsonw *w, const char *key, int v);
void jsonw_null(struct jsonw *w, const char *key);
/* A JSON number given as text (from PostgreSQL); null when NULL or not a plain decimal. */
void jsonw_numtext(struct jsonw *w, const char *key, const char *v);
/* A json-c value serialized in place (NULL: null). */
void jsonw_obj(struct jsonw *w, const char *key, json_object *v);
/* The text jsonw_obj writes for v ("null" for NULL); owned by v, valid until it changes. */
const char *jsonw_text(json_object *v);
/* JSON text that is already valid, written as is (NULL: null): kept byte for byte. */
void jsonw_json(struct jsonw *w, const char *key, const char *json);
/* Close the object; 0, or -1 if anything did not fit. */
int jsonw_end(struct jsonw *w) WUR;

#endif
