/*
 * ticket_json: see ticket_json.h. Owns the second, strict look at a
 * message's raw JSON text (what json-c 0.16 accepts or silently rewrites:
 * "\u0000", lone surrogates, single quotes, raw control characters, NaN,
 * "1.", "-01"), the field-path error texts, and where each contract member's
 * value lies in the raw text. Must never decide whether a field's value is
 * valid (ticket.c does), allocate beyond its stack, do I/O, read the clock
 * or log.
 */
#include "ticket_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticket_utf8.h"

/* ---- error text helpers ---- */

/*
 * Copy at most TICKET_ECHO_MAX bytes of an outside value into out (TICKET_ECHO_MAX + 4
 * bytes) for an error message, cut at a character boundary, with control
 * characters, quotes and backslashes replaced by '?' so err stays one
 * printable line.
 */
const char *ticket_json_echo(char out[static TICKET_ECHO_MAX + 4], const char *s, size_t n)
{
	size_t cut = utf8_cut(s, n, TICKET_ECHO_MAX), o = 0;

	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0xC2 && i + 1 < cut && (unsigned char)s[i + 1] <= 0x9F) {
			out[o++] = '?'; /* C1 control */
			i++;
		} else if (c < 0x20 || c == 0x7F || c == '\'' || c == '"' || c == '\\') {
			out[o++] = '?';
		} else {
			out[o++] = (char)c;
		}
	}
	if (cut < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* JSON type names as a producer knows them (json-c says "int" and "double"). */
const char *ticket_json_type_label(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_int:
	case json_type_double:
		return "number";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "unknown";
}

/* ---- the raw-text scan ---- */

/* One open container while scanning: the member or element being read. */
struct scan_frame {
	int is_obj;
	const char *key; /* raw (still escaped) member name; NULL before the name is read */
	size_t keylen;
	size_t index; /* element index in an array */
};

struct scan {
	const char *s;
	size_t len;
	struct scan_frame st[TICKET_SCAN_DEPTH];
	int depth;
};

/* The path of the value being scanned, "message" at the top: "customer.email", "tags[2]". */
static const char *scan_path(const struct scan *sc, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (int k = 0; k < sc->depth && o < outlen; k++) {
		const struct scan_frame *f = &sc->st[k];
		char e[TICKET_ECHO_MAX + 4];
		int n;

		if (f->is_obj && f->key == NULL)
			break;
		if (f->is_obj)
			n = snprintf(out + o, outlen - o, "%s%s", o ? "." : "",
				     ticket_json_echo(e, f->key, f->keylen));
		else
			n = snprintf(out + o, outlen - o, "[%zu]", f->index);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (out[0] == '\0')
		snprintf(out, outlen, "message");
	return out;
}

static int hex4(const char *s, size_t avail, unsigned *out)
{
	unsigned v = 0;

	if (avail < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* The string whose opening quote is at *pos; on success *pos is just past the closing quote. */
static enum ticket_err scan_string(struct scan *sc, size_t *pos, char *err, size_t errlen)
{
	const char *s = sc->s;
	size_t i = *pos + 1;
	char path[TICKET_PATH_LEN];

	while (i < sc->len) {
		unsigned char c = (unsigned char)s[i];
		unsigned u, lo;

		if (c == '"') {
			*pos = i + 1;
			return TICKET_OK;
		}
		if (c < 0x20) {
			set_err(err, errlen, "%s: unescaped control character 0x%02x at byte %zu",
				scan_path(sc, path, sizeof(path)), c, i);
			return TICKET_E_JSON;
		}
		if (c != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= sc->len || s[i + 1] != 'u') {
			i += 2;
			continue;
		}
		if (hex4(s + i + 2, sc->len - (i + 2), &u) < 0) {
			set_err(err, errlen, "%s: bad \\u escape at byte %zu",
				scan_path(sc, path, sizeof(path)), i);
			return TICKET_E_JSON;
		}
		if (u == 0) {
			set_err(err, errlen, "%s: \\u0000 (NUL) is not allowed, at byte %zu",
				scan_path(sc, path, sizeof(path)), i);
			return TICKET_E_UTF8;
		}
		if (u >= 0xD800 && u <= 0xDBFF && i + 12 <= sc->len && s[i + 6] == '\\' &&
		    s[i + 7] == 'u' && hex4(s + i + 8, 4, &lo) == 0 && lo >= 0xDC00 &&
		    lo <= 0xDFFF) {
			i += 12; /* a surrogate pair: one character beyond U+FFFF */
			continue;
		}
		if (u >= 0xD800 && u <= 0xDFFF) {
			set_err(err, errlen, "%s: \\u%04x is a lone UTF-16 surrogate, at byte %zu",
				scan_path(sc, path, sizeof(path)), u, i);
			return TICKET_E_UTF8;
		}
		i += 6;
	}
	set_err(err, errlen, "message: unterminated string");
	return TICKET_E_JSON;
}

/* RFC 8259 number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, all of s[0..n). */
static int json_number_valid(const char *s, size_t n)
{
	size_t i = 0, start;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		i++;
	} else {
		start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	if (i < n && s[i] == '.') {
		start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	return i == n;
}

static int bare_token_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '+' || c == '-' || c == '.';
}

/*
 * Second pass over text json-c already accepted (so the structure is sound):
 * hold it to RFC 8259 and reject the escapes json-c would decode into
 * something other than what was sent. Also catches NUL anywhere, including
 * in member names, which json-c silently truncates.
 */
enum ticket_err ticket_json_strict_scan(const char *s, size_t len, char *err, size_t errlen)
{
	struct scan sc = {.s = s, .len = len, .depth = 0};
	char path[TICKET_PATH_LEN], e[TICKET_ECHO_MAX + 4];
	size_t i = 0;

	while (i < len) {
		struct scan_frame *top = sc.depth > 0 ? &sc.st[sc.depth - 1] : NULL;
		enum ticket_err rc;
		size_t start;

		switch (s[i]) {
		case '{':
		case '[':
			if (sc.depth == TICKET_SCAN_DEPTH) {
				set_err(err, errlen, "message: nesting too deep at byte %zu", i);
				return TICKET_E_JSON;
			}
			sc.st[sc.depth++] = (struct scan_frame){.is_obj = s[i] == '{'};
			i++;
			break;
		case '}':
		case ']':
			if (sc.depth > 0)
				sc.depth--;
			i++;
			break;
		case ',':
			if (top != NULL && top->is_obj)
				top->key = NULL;
			else if (top != NULL)
				top->index++;
			i++;
			break;
		case '"':
			/*
			 * In an object without a current name, this string is the
			 * name: its own errors are reported at the object's path,
			 * those of the value after the ':' under the name.
			 */
			start = i;
			rc = scan_string(&sc, &i, err, errlen);
			if (rc != TICKET_OK)
				return rc;
			if (top != NULL && top->is_obj && top->key == NULL) {
				top->key = s + start + 1;
				top->keylen = i - start - 2;
			}
			break;
		case '\'':
			set_err(err, errlen, "%s: single-quoted string at byte %zu",
				scan_path(&sc, path, sizeof(path)), i);
			return TICKET_E_JSON;
		case ' ':
		case '\t':
		case '\n':
		case '\r':
		case ':':
			i++;
			break;
		default:
			start = i;
			while (i < len && bare_token_char(s[i]))
				i++;
			if (i == start) {
				set_err(err, errlen, "%s: unexpected character at byte %zu",
					scan_path(&sc, path, sizeof(path)), i);
				return TICKET_E_JSON;
			}
			if (!json_number_valid(s + start, i - start) &&
			    !(i - start == 4 && memcmp(s + start, "true", 4) == 0) &&
			    !(i - start == 5 && memcmp(s + start, "false", 5) == 0) &&
			    !(i - start == 4 && memcmp(s + start, "null", 4) == 0)) {
				set_err(err, errlen, "%s: '%s' is not a JSON value, at byte %zu",
					scan_path(&sc, path, sizeof(path)),
					ticket_json_echo(e, s + start, i - start), start);
				return TICKET_E_JSON;
			}
			break;
		}
	}
	return TICKET_OK;
}

/*
 * Defence in depth behind strict_scan, which should leave nothing for this to
 * find: every decoded string and member name must be valid UTF-8 without
 * NUL. name is the top-level field the value lives in.
 */
static enum ticket_err check_decoded(json_object *v, const char *name, char *err, size_t errlen)
{
	enum ticket_err rc;

	switch (json_object_get_type(v)) {
	case json_type_string: {
		const char *str = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);
		if (strlen(str) != n) {
			set_err(err, errlen, "%s: contains U+0000 (NUL)", name);
			return TICKET_E_UTF8;
		}
		if (!utf8_valid(str, n)) {
			set_err(err, errlen, "%s: decoded string is not valid UTF-8", name);
			return TICKET_E_UTF8;
		}
		return TICKET_OK;
	}
	case json_type_array:
		for (size_t k = 0; k < json_object_array_length(v); k++) {
			rc = check_decoded(json_object_array_get_idx(v, k), name, err, errlen);
			if (rc != TICKET_OK)
				return rc;
		}
		return TICKET_OK;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			if (!utf8_valid(key, strlen(key))) {
				set_err(err, errlen, "%s: member name is not valid UTF-8", name);
				return TICKET_E_UTF8;
			}
			rc = check_decoded(val, name, err, errlen);
			if (rc != TICKET_OK)
				return rc;
		}
		return TICKET_OK;
	}
	default:
		return TICKET_OK;
	}
}

enum ticket_err ticket_json_check_decoded_fields(json_object *root, char *err, size_t errlen)
{
	json_object_object_foreach(root, name, val)
	{
		char e[TICKET_ECHO_MAX + 4];
		enum ticket_err rc =
		    check_decoded(val, ticket_json_echo(e, name, strlen(name)), err, errlen);
		if (rc != TICKET_OK)
			return rc;
	}
	return TICKET_OK;
}

/* ---- contract members in the raw text ---- */

static const char *const member_names[TICKET_M__COUNT] = {
    "ticket_id", "source", "created_at", "channel", "subject", "body", "customer",
    "language",	 "tags",   "metadata",	 "id",	    "email",   "name", "tier",
};

static const char *const member_paths[TICKET_M__COUNT] = {
    "ticket_id",   "source",	     "created_at",    "channel",       "subject",
    "body",	   "customer",	     "language",      "tags",	       "metadata",
    "customer.id", "customer.email", "customer.name", "customer.tier",
};

static size_t skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* i at the opening quote; returns just past the closing one. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i + 1;
}

static size_t skip_value(const char *s, size_t len, size_t i)
{
	int depth = 0;

	if (i >= len)
		return len;
	if (s[i] == '"')
		return skip_string(s, len, i);
	if (s[i] != '{' && s[i] != '[') {
		while (i < len && bare_token_char(s[i]))
			i++;
		return i;
	}
	while (i < len) {
		char c = s[i];
		if (c == '"') {
			i = skip_string(s, len, i);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return len;
}

/* The name inside quotes s[a..b) decoded into out if it is short ASCII; -1 otherwise. */
static int decode_name(const char *s, size_t a, size_t b, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = a; i < b; i++) {
		unsigned c = (unsigned char)s[i];
		if (c == '\\') {
			char e = s[++i];
			if (e == 'u') {
				if (hex4(s + i + 1, b - (i + 1), &c) < 0)
					return -1;
				i += 4;
			} else {
				c = e == 'n'   ? '\n'
				    : e == 't' ? '\t'
				    : e == 'r' ? '\r'
				    : e == 'b' ? '\b'
				    : e == 'f' ? '\f'
					       : (unsigned char)e;
			}
		}
		if (c >= 0x80 || o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* Members of the object at s[i] == '{' whose names are members [from, to). */
static enum ticket_err walk_members(const char *s, size_t len, size_t i, int from, int to,
				    struct ticket_spans *sp, char *err, size_t errlen)
{
	i = skip_ws(s, len, i + 1);
	while (i < len && s[i] == '"') {
		size_t name_end = skip_string(s, len, i), vstart, vend;
		char name[32];
		int known = decode_name(s, i + 1, name_end - 1, name, sizeof(name)) == 0;

		i = skip_ws(s, len, name_end);
		if (i < len && s[i] == ':')
			i++;
		vstart = skip_ws(s, len, i);
		vend = skip_value(s, len, vstart);
		for (int m = from; known && m < to; m++) {
			if (strcmp(name, member_names[m]) != 0)
				continue;
			if (sp->seen & (1u << m)) {
				/* I-JSON (RFC 7493): two parsers must not disagree on which value
				 * counts */
				set_err(err, errlen, "%s: duplicate member name", member_paths[m]);
				return TICKET_E_JSON;
			}
			sp->seen |= 1u << m;
			sp->start[m] = vstart;
			sp->end[m] = vend;
		}
		i = skip_ws(s, len, vend);
		if (i < len && s[i] == ',')
			i = skip_ws(s, len, i + 1);
	}
	return TICKET_OK;
}

enum ticket_err ticket_json_find_members(const char *s, size_t len, struct ticket_spans *sp,
					 char *err, size_t errlen)
{
	enum ticket_err rc;

	memset(sp, 0, sizeof(*sp));
	rc = walk_members(s, len, skip_ws(s, len, 0), 0, TICKET_M__TOP, sp, err, errlen);
	if (rc == TICKET_OK && (sp->seen & (1u << TICKET_M_CUSTOMER)) &&
	    s[sp->start[TICKET_M_CUSTOMER]] == '{')
		rc = walk_members(s, len, sp->start[TICKET_M_CUSTOMER], TICKET_M__TOP,
				  TICKET_M__COUNT, sp, err, errlen);
	return rc;
}
