/*
 * jsonw: see jsonw.h. Owns nothing: it writes into the caller's buffer.
 */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int json_escape_append(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[6];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_append(b, s + start, i - start) < 0)
			return -1;
		start = i + 1;
		e[0] = '\\';
		switch (c) {
		case '\b':
			e[1] = 'b';
			break;
		case '\f':
			e[1] = 'f';
			break;
		case '\n':
			e[1] = 'n';
			break;
		case '\r':
			e[1] = 'r';
			break;
		case '\t':
			e[1] = 't';
			break;
		case '"':
			e[1] = '"';
			break;
		case '\\':
			e[1] = '\\';
			break;
		default: /* the other control characters, as json-c writes them */
			memcpy(e + 1, "u00", 3);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 0xf];
			elen = 6;
			break;
		}
		if (buf_append(b, e, elen) < 0)
			return -1;
	}
	return buf_append(b, s + start, n - start);
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (!w->err && buf_append(w->b, s, n) < 0)
		w->err = 1;
}

static void key(struct jsonw *w, const char *k)
{
	if (w->n++)
		put(w, ",\"", 2);
	else
		put(w, "\"", 1);
	if (!w->err && json_escape_append(w->b, k, strlen(k)) < 0)
		w->err = 1;
	put(w, "\":", 2);
}

void jsonw_begin(struct jsonw *w, struct buf *b)
{
	w->b = b;
	w->n = 0;
	w->err = 0;
	put(w, "{", 1);
}

void jsonw_strn(struct jsonw *w, const char *k, const char *v, size_t n)
{
	key(w, k);
	if (v == NULL) {
		put(w, "null", 4);
		return;
	}
	put(w, "\"", 1);
	if (!w->err && json_escape_append(w->b, v, n) < 0)
		w->err = 1;
	put(w, "\"", 1);
}

void jsonw_str(struct jsonw *w, const char *k, const char *v)
{
	jsonw_strn(w, k, v, v ? strlen(v) : 0);
}

void jsonw_int(struct jsonw *w, const char *k, int64_t v)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%" PRId64, v);
	key(w, k);
	put(w, t, (size_t)n);
}

void jsonw_num(struct jsonw *w, const char *k, double v)
{
	char t[40];
	int n;
	key(w, k);
	if (!isfinite(v)) {
		put(w, "null", 4);
		return;
	}
	/* the shortest of %.15g and %.17g that reads back as v: 0.9, not 0.90000000000000002 */
	n = snprintf(t, sizeof(t), "%.15g", v);
	if (strtod(t, NULL) != v)
		n = snprintf(t, sizeof(t), "%.17g", v);
	put(w, t, (size_t)n);
}

void jsonw_numtext(struct jsonw *w, const char *k, const char *v)
{
	size_t n = v ? strlen(v) : 0, digits = 0;
	int ok = n > 0 && n < 64;
	/* -?digits(.digits)? : what PostgreSQL prints for a numeric, not NaN or Infinity */
	for (size_t i = 0; ok && i < n; i++) {
		char c = v[i];
		if (c >= '0' && c <= '9')
			digits++;
		else if (!(c == '-' && i == 0) && !(c == '.' && digits > 0 && i + 1 < n))
			ok = 0;
	}
	key(w, k);
	if (ok && digits > 0)
		put(w, v, n);
	else
		put(w, "null", 4);
}

void jsonw_bool(struct jsonw *w, const char *k, int v)
{
	key(w, k);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(struct jsonw *w, const char *k)
{
	key(w, k);
	put(w, "null", 4);
}

const char *jsonw_text(json_object *v)
{
	return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE)
		 : "null";
}

void jsonw_obj(struct jsonw *w, const char *k, json_object *v)
{
	const char *s = jsonw_text(v);
	key(w, k);
	put(w, s, strlen(s));
}

void jsonw_json(struct jsonw *w, const char *k, const char *json)
{
	key(w, k);
	if (json == NULL)
		put(w, "null", 4);
	else
		put(w, json, strlen(json));
}

int jsonw_end(struct jsonw *w)
{
	put(w, "}", 1);
	return w->err ? -1 : 0;
}
