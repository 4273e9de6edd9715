/*
 * ticket: see ticket.h. Owns the helpdesk event contract: what a valid
 * message is, and a field-named reason when it is not. Must never do I/O,
 * read the clock or log: the caller decides what a bad ticket costs.
 *
 * A message passes four gates before any field is read: its size (checked
 * before parsing), raw UTF-8, JSON syntax (json-c, strict mode), then a
 * second look at the raw text (strict_scan) for what json-c 0.16 accepts or
 * silently rewrites: it decodes "\u0000" into a string (and truncates member
 * names at it), turns lone surrogate escapes into U+FFFD, and even in strict
 * mode accepts single-quoted names, raw control characters in strings, NaN,
 * Infinity, "1." and "-01", which would come back out of json-c as invalid
 * JSON when metadata is stored or rendered.
 */
#include "ticket.h"

#include "mailtext.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LANGUAGE_MAX_LEN 35 /* bytes; long enough for any BCP 47 tag in use */
#define ECHO_MAX 64	    /* bytes of an offending value quoted back in err */
#define PATH_LEN 256	    /* a field path in err: "metadata.a.b[3]" */
/*
 * "Nesting at most 32 deep": 32 containers, one in the other, with a value in
 * the innermost. The scan counts containers; json-c counts the innermost
 * value as a level too, so its tokener gets one more.
 */
#define SCAN_DEPTH 32
#define TOKENER_DEPTH (SCAN_DEPTH + 1)

static const char *const channel_names[CH__COUNT] = {
	[CH_EMAIL] = "email",	[CH_CHAT] = "chat", [CH_WEB] = "web",	  [CH_PHONE] = "phone",
	[CH_SOCIAL] = "social", [CH_API] = "api",   [CH_OTHER] = "other",
};

static const char *const tier_names[TIER__COUNT] = {
	[TIER_NONE] = "none",
	[TIER_FREE] = "free",
	[TIER_STANDARD] = "standard",
	[TIER_PREMIUM] = "premium",
	[TIER_ENTERPRISE] = "enterprise",
};

static const char *const err_codes[] = {
	[TICKET_OK] = "ok",
	[TICKET_E_TOO_LARGE] = "too_large",
	[TICKET_E_UTF8] = "invalid_utf8",
	[TICKET_E_JSON] = "invalid_json",
	[TICKET_E_MISSING] = "missing_field",
	[TICKET_E_TYPE] = "wrong_type",
	[TICKET_E_VALUE] = "invalid_value",
	[TICKET_E_KEY_MISMATCH] = "key_mismatch",
};

static const char *const flag_names[TICKET_FLAG__COUNT] = {"tier", "channel", "language",
								 "created_at", "controls"};

const char *ticket_flag_name(int i)
{
	return i >= 0 && i < TICKET_FLAG__COUNT ? flag_names[i] : NULL;
}

void ticket_opts_default(struct ticket_opts *o)
{
	ticket_limits_default(&o->lim);
	o->tier_map = NULL;
	o->kafka_ts_ms = -1;
}

int tier_map_parse(const char *s, struct tier_map *m, char *err, size_t errlen)
{
	const char *p = s ? s : "";

	m->n = 0;
	while (*p != '\0') {
		const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p), *eq;
		char item[160], *name, *tier;
		size_t il = (size_t)(end - p);

		if (il >= sizeof(item)) {
			set_err(err, errlen, "tier map entry '%.40s...' is too long", p);
			return -1;
		}
		memcpy(item, p, il);
		item[il] = '\0';
		p = comma ? comma + 1 : end;
		name = str_trim(item);
		if (*name == '\0')
			continue;
		eq = strchr(name, '=');
		if (eq == NULL) {
			set_err(err, errlen, "tier map entry '%s' is not name=tier", name);
			return -1;
		}
		tier = str_trim(name + (eq - name) + 1);
		name[eq - name] = '\0';
		name = str_trim(name);
		if (*name == '\0' || strlen(name) >= sizeof(m->e[0].name)) {
			set_err(err, errlen, "tier map entry '%s=%s': the name must be 1..63 bytes",
				name, tier);
			return -1;
		}
		if (m->n == TIER_MAP_MAX) {
			set_err(err, errlen, "tier map: more than %d entries", TIER_MAP_MAX);
			return -1;
		}
		if (customer_tier_parse(tier, &m->e[m->n].tier) < 0) {
			set_err(err, errlen,
				"tier map entry '%s=%s': '%s' is not one of free, standard, premium, "
				"enterprise",
				name, tier, tier);
			return -1;
		}
		strlcpy_t(m->e[m->n].name, name, sizeof(m->e[0].name));
		m->n++;
	}
	return 0;
}

void ticket_limits_default(struct ticket_limits *l)
{
	l->max_message_bytes = 256 * 1024;
	l->max_body_prompt_len = 16 * 1024;
	l->max_field_len = 256;
	l->max_subject_len = 1024;
	l->max_tags = 64;
}

const char *ticket_err_code(enum ticket_err e)
{
	return (unsigned)e < ARRAY_SIZE(err_codes) ? err_codes[e] : "unknown";
}

const char *ticket_channel_name(enum ticket_channel c)
{
	return (unsigned)c < CH__COUNT ? channel_names[c] : "unknown";
}

const char *customer_tier_name(enum customer_tier t)
{
	return (unsigned)t < TIER__COUNT ? tier_names[t] : "unknown";
}

int ticket_channel_parse(const char *s, enum ticket_channel *out)
{
	for (size_t i = 0; s != NULL && i < CH__COUNT; i++) {
		if (strcmp(s, channel_names[i]) == 0) {
			*out = (enum ticket_channel)i;
			return 0;
		}
	}
	return -1;
}

/* Only the contract's values: "none" is the name of an absent tier, not a tier. */
int customer_tier_parse(const char *s, enum customer_tier *out)
{
	for (size_t i = TIER_FREE; s != NULL && i < TIER__COUNT; i++) {
		if (strcmp(s, tier_names[i]) == 0) {
			*out = (enum customer_tier)i;
			return 0;
		}
	}
	return -1;
}

/* ---- UTF-8 ---- */

/* Length of the longest valid prefix of s[0..len), per Unicode table 3-7: len when all is valid. */
static size_t utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i], lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			else if (c == 0xED)
				hi = 0x9F; /* UTF-16 surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			if (c == 0xF0)
				lo = 0x90; /* overlong */
			else if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return i; /* continuation byte, C0/C1 overlong lead, F5..FF */
		}
		if (len - i < n || p[i + 1] < lo || p[i + 1] > hi)
			return i;
		for (size_t k = 2; k < n; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return i;
		i += n;
	}
	return i;
}

int utf8_valid(const char *s, size_t len)
{
	return utf8_valid_prefix(s, len) == len;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n;

	if (len <= max)
		return len;
	/* s[n] is the first byte left out: back up while it continues a character (at most 3). */
	n = max;
	for (int k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; k++)
		n--;
	return n;
}

/* ---- RFC 3339 ---- */

/* Read exactly n ASCII digits; stops at the first non-digit, so never reads past a NUL. */
static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

struct rfc3339 {
	int y, mo, d, h, mi, sec, off; /* off in minutes east of UTC */
	const char *frac;	       /* digits after '.', NULL if none */
	size_t fraclen;
};

/*
 * date-time = full-date "T" full-time (RFC 3339 section 5.6; "T" and "Z" may be
 * lower case, a space is not accepted). The || chain reads left to right, so
 * each separator is read only after the digits before it were there.
 */
static int rfc3339_parse(const char *s, struct rfc3339 *r)
{
	int oh, om;
	const char *p;

	if (s == NULL)
		return 0;
	r->off = 0;
	r->frac = NULL;
	r->fraclen = 0;
	if (digits(s, 4, &r->y) < 0 || s[4] != '-' || digits(s + 5, 2, &r->mo) < 0 || s[7] != '-' ||
	    digits(s + 8, 2, &r->d) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &r->h) < 0 || s[13] != ':' || digits(s + 14, 2, &r->mi) < 0 ||
	    s[16] != ':' || digits(s + 17, 2, &r->sec) < 0)
		return 0;
	if (r->mo < 1 || r->mo > 12 || r->d < 1 || r->d > days_in_month(r->y, r->mo) || r->h > 23 ||
	    r->mi > 59 || r->sec > 60)
		return 0;
	p = s + 19;
	if (*p == '.') {
		const char *frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == frac)
			return 0;
		r->frac = frac;
		r->fraclen = (size_t)(p - frac);
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' || digits(p + 4, 2, &om) < 0 ||
		    oh > 23 || om > 59)
			return 0;
		r->off = (*p == '-' ? -1 : 1) * (oh * 60 + om);
		p += 6;
	} else {
		return 0;
	}
	if (*p != '\0')
		return 0;
	/* Section 5.7: a leap second is 23:59:60 UTC, whatever the local offset. */
	if (r->sec == 60 &&
	    ((r->h * 60 + r->mi - r->off) % 1440 + 1440) % 1440 != 23 * 60 + 59)
		return 0;
	return 1;
}

int rfc3339_valid(const char *s)
{
	struct rfc3339 r;
	return rfc3339_parse(s, &r);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int rfc3339_to_utc(const char *s, char out[static 32])
{
	struct rfc3339 r;
	int64_t mins, days, y;
	int m, d, mod;
	size_t fl;

	if (!rfc3339_parse(s, &r))
		return -1;
	/* The offset moves hours and minutes only: a leap second stays :60 (checked above). */
	mins = days_from_civil(r.y, r.mo, r.d) * 1440 + r.h * 60 + r.mi - r.off;
	days = mins >= 0 ? mins / 1440 : -((-mins + 1439) / 1440);
	mod = (int)(mins - days * 1440);
	civil_from_days(days, &y, &m, &d);
	if (y < 1 || y > 9999)
		return -2;
	fl = r.fraclen > 6 ? 6 : r.fraclen;
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d%s%.*sZ", (int)y, m, d, mod / 60, mod % 60,
		 r.sec, fl ? "." : "", (int)fl, fl ? r.frac : "");
	return 0;
}

int rfc3339_from_ms(int64_t ms, char out[static 32])
{
	int64_t secs, days, y;
	int m, d, sod;

	/* 0001-01-01 .. 9999-12-31 */
	if (ms < -62135596800000LL || ms > 253402300799999LL)
		return -1;
	secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = (int)(secs - days * 86400);
	civil_from_days(days, &y, &m, &d);
	{
		/* the values are in range (checked above), but gcc -O3 cannot prove it for
		 * out's 32 bytes (-Wformat-truncation): format into room enough, then copy */
		char tmp[128];
		int n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
				 sod / 3600, sod / 60 % 60, sod % 60, (int)(ms - secs * 1000));
		if (n < 0 || n >= 32)
			return -1;
		memcpy(out, tmp, (size_t)n + 1);
	}
	return 0;
}

/* ---- error text helpers ---- */

/*
 * Copy at most ECHO_MAX bytes of an outside value into out (ECHO_MAX + 4
 * bytes) for an error message, cut at a character boundary, with control
 * characters, quotes and backslashes replaced by '?' so err stays one
 * printable line.
 */
static const char *echo(char out[static ECHO_MAX + 4], const char *s, size_t n)
{
	size_t cut = utf8_cut(s, n, ECHO_MAX), o = 0;

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
static const char *json_type_label(json_object *v)
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
	struct scan_frame st[SCAN_DEPTH];
	int depth;
};

/* The path of the value being scanned, "message" at the top: "customer.email", "tags[2]". */
static const char *scan_path(const struct scan *sc, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (int k = 0; k < sc->depth && o < outlen; k++) {
		const struct scan_frame *f = &sc->st[k];
		char e[ECHO_MAX + 4];
		int n;

		if (f->is_obj && f->key == NULL)
			break;
		if (f->is_obj)
			n = snprintf(out + o, outlen - o, "%s%s", o ? "." : "",
				     echo(e, f->key, f->keylen));
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
	char path[PATH_LEN];

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
static enum ticket_err strict_scan(const char *s, size_t len, char *err, size_t errlen)
{
	struct scan sc = {.s = s, .len = len, .depth = 0};
	char path[PATH_LEN], e[ECHO_MAX + 4];
	size_t i = 0;

	while (i < len) {
		struct scan_frame *top = sc.depth > 0 ? &sc.st[sc.depth - 1] : NULL;
		enum ticket_err rc;
		size_t start;

		switch (s[i]) {
		case '{':
		case '[':
			if (sc.depth == SCAN_DEPTH) {
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
					echo(e, s + start, i - start), start);
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

static enum ticket_err check_decoded_fields(json_object *root, char *err, size_t errlen)
{
	json_object_object_foreach(root, name, val)
	{
		char e[ECHO_MAX + 4];
		enum ticket_err rc = check_decoded(val, echo(e, name, strlen(name)), err, errlen);
		if (rc != TICKET_OK)
			return rc;
	}
	return TICKET_OK;
}

/* ---- contract members in the raw text ---- */

/*
 * The contract's member names, top level then customer. The raw text is
 * walked once more (it passed json-c and strict_scan, so it is well formed)
 * to find what json-c hides: a duplicate name (json-c keeps the last one)
 * and the exact bytes of a value (metadata is kept byte for byte).
 */
enum member {
	M_TICKET_ID,
	M_SOURCE,
	M_CREATED_AT,
	M_CHANNEL,
	M_SUBJECT,
	M_BODY,
	M_CUSTOMER,
	M_LANGUAGE,
	M_TAGS,
	M_METADATA,
	M__TOP,
	M_C_ID = M__TOP,
	M_C_EMAIL,
	M_C_NAME,
	M_C_TIER,
	M__COUNT
};

static const char *const member_names[M__COUNT] = {
	"ticket_id", "source", "created_at", "channel", "subject", "body", "customer",
	"language",  "tags",   "metadata",   "id",	 "email",   "name", "tier",
};

static const char *const member_paths[M__COUNT] = {
	"ticket_id", "source",	"created_at", "channel",     "subject",	      "body",
	"customer",  "language", "tags",       "metadata",    "customer.id",   "customer.email",
	"customer.name", "customer.tier",
};

struct spans {
	size_t start[M__COUNT], end[M__COUNT];
	unsigned seen;
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
				c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b'
				    : e == 'f'			  ? '\f'
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
				    struct spans *sp, char *err, size_t errlen)
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
				/* I-JSON (RFC 7493): two parsers must not disagree on which value counts */
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

static enum ticket_err find_members(const char *s, size_t len, struct spans *sp, char *err,
				    size_t errlen)
{
	enum ticket_err rc;

	memset(sp, 0, sizeof(*sp));
	rc = walk_members(s, len, skip_ws(s, len, 0), 0, M__TOP, sp, err, errlen);
	if (rc == TICKET_OK && (sp->seen & (1u << M_CUSTOMER)) && s[sp->start[M_CUSTOMER]] == '{')
		rc = walk_members(s, len, sp->start[M_CUSTOMER], M__TOP, M__COUNT, sp, err, errlen);
	return rc;
}

/* ---- fields ---- */

/* Borrowed member; NULL when absent or JSON null (null means absent). */
static json_object *member(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* An optional string member, borrowed; *out is NULL when absent. */
static enum ticket_err get_str(json_object *obj, const char *key, const char *path, size_t maxlen,
			       const char **out, size_t *outlen, char *err, size_t errlen)
{
	json_object *v = member(obj, key);
	size_t n;

	*out = NULL;
	*outlen = 0;
	if (v == NULL)
		return TICKET_OK;
	if (!json_object_is_type(v, json_type_string)) {
		set_err(err, errlen, "%s: expected string, got %s", path, json_type_label(v));
		return TICKET_E_TYPE;
	}
	n = (size_t)json_object_get_string_len(v);
	if (n > maxlen) {
		set_err(err, errlen, "%s: %zu bytes exceeds the %zu-byte limit", path, n, maxlen);
		return TICKET_E_VALUE;
	}
	*out = json_object_get_string(v);
	*outlen = n;
	return TICKET_OK;
}

/* C0, DEL and C1 (U+0080..U+009F, which UTF-8 encodes as C2 80..C2 9F). */
static int has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F)
			return 1;
		if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9F)
			return 1;
	}
	return 0;
}

/* Keep what was given under path in t->original: a string as is, anything else as its JSON text. */
static void keep_original(struct ticket *t, const char *path, json_object *v, const char *msg,
			  const struct spans *sp, enum member m)
{
	json_object *o;

	if (json_object_is_type(v, json_type_string))
		o = json_object_new_string_len(json_object_get_string(v),
					       json_object_get_string_len(v));
	else
		o = json_object_new_string_len(msg + sp->start[m],
					       (int)(sp->end[m] - sp->start[m]));
	if (t->original == NULL)
		t->original = json_object_new_object();
	json_object_object_add(t->original, path, o);
}

/*
 * Text shown to agents and to the model: C0/C1 controls (but TAB, LF, CR)
 * stripped, the original kept and the ticket flagged. Returns a new string.
 */
static char *shown_text(struct ticket *t, const char *path, const char *s, size_t n,
			size_t *outlen)
{
	if (!mailtext_has_controls(s, n)) {
		*outlen = n;
		return xstrndup(s, n);
	}
	if (t->original == NULL)
		t->original = json_object_new_object();
	json_object_object_add(t->original, path, json_object_new_string_len(s, (int)n));
	t->flags |= TICKET_F_CONTROLS;
	return mailtext_strip_controls(s, n, outlen);
}

static void parse_channel(json_object *root, const char *msg, const struct spans *sp,
			  struct ticket *t)
{
	json_object *v = member(root, "channel");

	t->channel = CH_OTHER;
	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_string) &&
	    ticket_channel_parse(json_object_get_string(v), &t->channel) == 0)
		return;
	t->channel = CH_OTHER;
	t->flags |= TICKET_F_CHANNEL;
	keep_original(t, "channel", v, msg, sp, M_CHANNEL);
}

static void parse_tier(json_object *c, const char *msg, const struct spans *sp,
		       const struct ticket_opts *opts, struct ticket *t)
{
	json_object *v = member(c, "tier");
	const char *s;

	if (v == NULL)
		return;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (s != NULL && customer_tier_parse(s, &t->tier) == 0)
		return;
	t->tier = TIER_STANDARD;
	for (size_t i = 0; s != NULL && opts->tier_map != NULL && i < opts->tier_map->n; i++) {
		if (strcasecmp(s, opts->tier_map->e[i].name) == 0) {
			t->tier = opts->tier_map->e[i].tier;
			break;
		}
	}
	t->flags |= TICKET_F_TIER;
	keep_original(t, "customer.tier", v, msg, sp, M_C_TIER);
}

static enum ticket_err parse_customer(json_object *root, const char *msg, const struct spans *sp,
				      const struct ticket_opts *opts, struct ticket *t,
				      char *err, size_t errlen)
{
	const struct {
		const char *key, *path;
		char **dst;
	} fields[] = {
		{"id", "customer.id", &t->customer_id},
		{"email", "customer.email", &t->customer_email},
		{"name", "customer.name", &t->customer_name},
	};
	json_object *c = member(root, "customer");
	enum ticket_err rc;
	const char *s;
	size_t n;

	if (c == NULL)
		return TICKET_OK;
	if (!json_object_is_type(c, json_type_object)) {
		set_err(err, errlen, "customer: expected object, got %s", json_type_label(c));
		return TICKET_E_TYPE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		rc = get_str(c, fields[i].key, fields[i].path, opts->lim.max_field_len, &s, &n, err,
			     errlen);
		if (rc != TICKET_OK)
			return rc;
		if (s != NULL)
			*fields[i].dst = shown_text(t, fields[i].path, s, n, &n);
	}
	parse_tier(c, msg, sp, opts, t);
	return TICKET_OK;
}

static enum ticket_err parse_tags(json_object *root, const struct ticket_limits *lim,
				  struct ticket *t, char *err, size_t errlen)
{
	json_object *tags = member(root, "tags");
	size_t count;

	if (tags == NULL)
		return TICKET_OK;
	if (!json_object_is_type(tags, json_type_array)) {
		set_err(err, errlen, "tags: expected array, got %s", json_type_label(tags));
		return TICKET_E_TYPE;
	}
	count = json_object_array_length(tags);
	if (count > lim->max_tags) {
		set_err(err, errlen, "tags: %zu entries exceeds the %zu-entry limit", count,
			lim->max_tags);
		return TICKET_E_VALUE;
	}
	for (size_t i = 0; i < count; i++) {
		json_object *tag = json_object_array_get_idx(tags, i);
		size_t n;

		if (!json_object_is_type(tag, json_type_string)) {
			set_err(err, errlen, "tags[%zu]: expected string, got %s", i,
				json_type_label(tag));
			return TICKET_E_TYPE;
		}
		n = (size_t)json_object_get_string_len(tag);
		if (n > lim->max_field_len) {
			set_err(err, errlen, "tags[%zu]: %zu bytes exceeds the %zu-byte limit", i,
				n, lim->max_field_len);
			return TICKET_E_VALUE;
		}
	}
	t->tags = json_object_get(tags);
	return TICKET_OK;
}

/* created_at: kept as given beside the instant; one PostgreSQL cannot hold is flagged. */
static void parse_created_at(json_object *root, const char *msg, const struct spans *sp,
			     const struct ticket_opts *opts, struct ticket *t)
{
	json_object *v = member(root, "created_at");
	char utc[32];

	if (v == NULL)
		return;
	keep_original(t, "created_at", v, msg, sp, M_CREATED_AT);
	if (json_object_is_type(v, json_type_string) &&
	    rfc3339_to_utc(json_object_get_string(v), utc) == 0) {
		t->created_at = xstrdup(utc);
		return;
	}
	t->flags |= TICKET_F_CREATED_AT;
	if (opts->kafka_ts_ms >= 0 && rfc3339_from_ms(opts->kafka_ts_ms, utc) == 0)
		t->created_at = xstrdup(utc);
}

static void parse_language(json_object *root, const char *msg, const struct spans *sp,
			   struct ticket *t)
{
	json_object *v = member(root, "language");
	const char *s;
	size_t n;

	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		if (n <= LANGUAGE_MAX_LEN && !mailtext_blank(s, n) && !has_control(s, n)) {
			t->language = xstrndup(s, n);
			return;
		}
	}
	t->flags |= TICKET_F_LANGUAGE;
	keep_original(t, "language", v, msg, sp, M_LANGUAGE);
}

static enum ticket_err parse_fields(json_object *root, const char *msg, const struct spans *sp,
				    const char *key, size_t keylen, const struct ticket_opts *opts,
				    struct ticket *t, char *err, size_t errlen)
{
	const struct ticket_limits *lim = &opts->lim;
	char e1[ECHO_MAX + 4], e2[ECHO_MAX + 4];
	json_object *meta;
	enum ticket_err rc;
	const char *s;
	size_t n;

	rc = get_str(root, "ticket_id", "ticket_id", lim->max_field_len, &s, &n, err, errlen);
	if (rc != TICKET_OK)
		return rc;
	if (s == NULL || mailtext_blank(s, n)) {
		set_err(err, errlen, "ticket_id: %s", s == NULL ? "required" : "must not be blank");
		return TICKET_E_MISSING;
	}
	if (has_control(s, n)) {
		set_err(err, errlen, "ticket_id: contains a control character");
		return TICKET_E_VALUE;
	}
	t->ticket_id = xstrndup(s, n);
	/* The key decides the partition: a different one means the message was misrouted. */
	if (key != NULL && keylen > 0 && (keylen != n || memcmp(key, s, n) != 0)) {
		set_err(err, errlen, "ticket_id: '%s' does not match the Kafka key '%s'",
			echo(e1, s, n), echo(e2, key, keylen));
		return TICKET_E_KEY_MISMATCH;
	}

	rc = get_str(root, "source", "source", lim->max_field_len, &s, &n, err, errlen);
	if (rc != TICKET_OK)
		return rc;
	if (s != NULL && n == 0) {
		set_err(err, errlen, "source: must not be empty");
		return TICKET_E_VALUE;
	}
	if (s != NULL && has_control(s, n)) {
		set_err(err, errlen, "source: contains a control character");
		return TICKET_E_VALUE;
	}
	/* part of the ticket's identity: a blank one would be a different ticket nobody can read */
	if (s != NULL && mailtext_blank(s, n)) {
		set_err(err, errlen, "source: must not be blank");
		return TICKET_E_VALUE;
	}
	t->source = s != NULL ? xstrndup(s, n) : xstrdup("default");

	parse_created_at(root, msg, sp, opts, t);
	parse_channel(root, msg, sp, t);

	rc = get_str(root, "subject", "subject", lim->max_subject_len, &s, &n, err, errlen);
	if (rc != TICKET_OK)
		return rc;
	t->subject = s != NULL ? shown_text(t, "subject", s, n, &n) : xstrdup("");

	/* The body has no limit of its own: the message cap bounds it. */
	rc = get_str(root, "body", "body", SIZE_MAX, &s, &n, err, errlen);
	if (rc != TICKET_OK)
		return rc;
	if (s == NULL || mailtext_blank(s, n)) {
		set_err(err, errlen, "body: %s", s == NULL ? "required" : "must not be blank");
		return TICKET_E_MISSING;
	}
	t->body = shown_text(t, "body", s, n, &t->body_len);
	t->body_prompt_len = utf8_cut(t->body, t->body_len, lim->max_body_prompt_len);
	t->body_truncated = t->body_prompt_len < t->body_len;

	rc = parse_customer(root, msg, sp, opts, t, err, errlen);
	if (rc != TICKET_OK)
		return rc;

	parse_language(root, msg, sp, t);

	rc = parse_tags(root, lim, t, err, errlen);
	if (rc != TICKET_OK)
		return rc;

	meta = member(root, "metadata");
	if (meta != NULL && !json_object_is_type(meta, json_type_object)) {
		set_err(err, errlen, "metadata: expected object, got %s", json_type_label(meta));
		return TICKET_E_TYPE;
	}
	if (meta != NULL) {
		t->metadata = json_object_get(meta);
		/* jsonb's numeric holds any JSON number exactly; json-c's int64 and double do not */
		t->metadata_json = xstrndup(msg + sp->start[M_METADATA],
					    sp->end[M_METADATA] - sp->start[M_METADATA]);
	}
	return TICKET_OK;
}

enum ticket_err ticket_parse(const char *msg, size_t len, const char *key, size_t keylen,
			     const struct ticket_limits *lim, struct ticket **out, char *err,
			     size_t errlen)
{
	struct ticket_opts o;

	ticket_opts_default(&o);
	if (lim != NULL)
		o.lim = *lim;
	return ticket_parse_ex(msg, len, key, keylen, &o, out, err, errlen);
}

enum ticket_err ticket_parse_ex(const char *msg, size_t len, const char *key, size_t keylen,
				const struct ticket_opts *opts, struct ticket **out, char *err,
				size_t errlen)
{
	struct ticket_opts defaults;
	const struct ticket_limits *lim;
	struct spans sp;
	struct json_tokener *tok = NULL;
	json_object *root = NULL;
	struct ticket *t = NULL;
	enum json_tokener_error je;
	enum ticket_err rc;
	size_t bad;

	*out = NULL;
	if (opts == NULL) {
		ticket_opts_default(&defaults);
		opts = &defaults;
	}
	lim = &opts->lim;
	if (msg == NULL)
		len = 0; /* a tombstone */
	if (len > lim->max_message_bytes || len > INT_MAX) {
		set_err(err, errlen, "message: %zu bytes exceeds the %zu-byte limit", len,
			lim->max_message_bytes < INT_MAX ? lim->max_message_bytes
							 : (size_t)INT_MAX);
		rc = TICKET_E_TOO_LARGE;
		goto out;
	}
	if (len == 0) {
		set_err(err, errlen, "message: empty");
		rc = TICKET_E_JSON;
		goto out;
	}
	bad = utf8_valid_prefix(msg, len);
	if (bad != len) {
		set_err(err, errlen, "message: invalid UTF-8 at byte %zu", bad);
		rc = TICKET_E_UTF8;
		goto out;
	}

	/*
	 * JSON_TOKENER_VALIDATE_UTF8 is left out on purpose: the check above is
	 * stricter (json-c 0.16 lets overlongs and encoded surrogates through).
	 */
	tok = json_tokener_new_ex(TOKENER_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, msg, (int)len);
	je = json_tokener_get_error(tok);
	if (je == json_tokener_continue) {
		/*
		 * An object ends at its '}', so this is a truncated message or a
		 * top-level scalar ("42"), which json-c completes only when it
		 * sees the end: a NUL byte says so.
		 */
		root = json_tokener_parse_ex(tok, "", 1);
		je = json_tokener_get_error(tok);
		if (je == json_tokener_success) {
			set_err(err, errlen, "message: expected a JSON object, got %s",
				json_type_label(root));
			rc = TICKET_E_JSON;
			goto out;
		}
		je = json_tokener_continue;
	}
	if (je != json_tokener_success) {
		if (je == json_tokener_continue)
			set_err(err, errlen, "message: unexpected end of input");
		else
			set_err(err, errlen, "message: %s at byte %zu", json_tokener_error_desc(je),
				json_tokener_get_parse_end(tok));
		rc = TICKET_E_JSON;
		goto out;
	}
	/* json-c stops at a NUL byte and leaves what follows a complete value unread. */
	if (json_tokener_get_parse_end(tok) != len) {
		set_err(err, errlen, "message: unexpected data after the JSON value at byte %zu",
			json_tokener_get_parse_end(tok));
		rc = TICKET_E_JSON;
		goto out;
	}
	/* A top-level "null" parses to root == NULL with success: json_type_label says "null". */
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		set_err(err, errlen, "message: expected a JSON object, got %s",
			json_type_label(root));
		rc = TICKET_E_JSON;
		goto out;
	}
	rc = strict_scan(msg, len, err, errlen);
	if (rc != TICKET_OK)
		goto out;
	rc = check_decoded_fields(root, err, errlen);
	if (rc != TICKET_OK)
		goto out;
	rc = find_members(msg, len, &sp, err, errlen);
	if (rc != TICKET_OK)
		goto out;

	t = xcalloc(1, sizeof(*t));
	rc = parse_fields(root, msg, &sp, key, keylen, opts, t, err, errlen);
	if (rc != TICKET_OK)
		goto out;
	*out = t;
	t = NULL;
out:
	ticket_free(t);
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

void ticket_free(struct ticket *t)
{
	if (t == NULL)
		return;
	free(t->ticket_id);
	free(t->source);
	free(t->created_at);
	free(t->subject);
	free(t->body);
	free(t->customer_id);
	free(t->customer_email);
	free(t->customer_name);
	free(t->language);
	json_object_put(t->tags);
	json_object_put(t->metadata);
	free(t->metadata_json);
	json_object_put(t->original);
	free(t->prompt_body);
	free(t);
}

void ticket_cut_prompt(struct ticket *t)
{
	size_t n;
	char *cut = mailtext_cut_quoted(t->body, t->body_len, &n);

	free(t->prompt_body);
	t->prompt_body = NULL;
	t->prompt_body_len = t->body_len;
	t->prompt_cut_bytes = 0;
	if (n >= t->body_len) {
		free(cut);
		return;
	}
	t->prompt_body = cut;
	t->prompt_body_len = n;
	t->prompt_cut_bytes = t->body_len - n;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v != NULL ? json_object_new_string(v) : NULL);
}

/* A json-c value that serializes as the JSON text it holds, byte for byte. */
static int raw_serializer(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	const char *text = json_object_get_userdata(jso);
	return printbuf_memappend(pb, text, (int)strlen(text));
}

static void raw_free(struct json_object *jso, void *userdata)
{
	free(userdata);
}

static json_object *raw_json(const char *text)
{
	json_object *o;

	if (text == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_set_serializer(o, raw_serializer, xstrdup(text), raw_free);
	return o;
}

json_object *ticket_to_json(const struct ticket *t)
{
	json_object *o = json_object_new_object(), *flags = json_object_new_array();

	add_str(o, "source", t->source);
	add_str(o, "ticket_id", t->ticket_id);
	add_str(o, "created_at", t->created_at);
	add_str(o, "channel", ticket_channel_name(t->channel));
	add_str(o, "subject", t->subject);
	json_object_object_add(o, "body", json_object_new_string_len(t->body, (int)t->body_len));
	json_object_object_add(o, "body_truncated", json_object_new_boolean(t->body_truncated));
	add_str(o, "customer_id", t->customer_id);
	add_str(o, "customer_email", t->customer_email);
	add_str(o, "customer_name", t->customer_name);
	add_str(o, "customer_tier", t->tier == TIER_NONE ? NULL : customer_tier_name(t->tier));
	add_str(o, "language", t->language);
	json_object_object_add(o, "tags", json_object_get(t->tags));
	/* the text itself, as the database receives it: not through json-c's numbers */
	json_object_object_add(o, "metadata", raw_json(t->metadata_json));
	for (int i = 0; i < TICKET_FLAG__COUNT; i++)
		if (t->flags & (1u << i))
			json_object_array_add(flags, json_object_new_string(flag_names[i]));
	json_object_object_add(o, "intake_flags", flags);
	json_object_object_add(o, "original", json_object_get(t->original));
	if (t->prompt_body != NULL) {
		json_object_object_add(o, "prompt_body",
				       json_object_new_string_len(t->prompt_body,
								  (int)t->prompt_body_len));
		json_object_object_add(o, "prompt_cut_bytes",
				       json_object_new_int64((int64_t)t->prompt_cut_bytes));
	}
	return o;
}

const char *ticket_reason_safe(const char *s, size_t n, char *out, size_t outlen)
{
	mailtext_header_safe(s ? s : "", s ? n : 0, out, outlen);
	return out;
}

const char *ticket_db_reason(const char *pg_err, char *out, size_t outlen)
{
	const char *p = pg_err ? pg_err : "", *nl;
	char msg[512];
	size_t n;

	if (strncmp(p, "ERROR:", 6) == 0)
		p += 6;
	while (*p == ' ')
		p++;
	/* the primary message is the first line; CONTEXT, QUERY, STATEMENT and LINE follow */
	nl = strchr(p, '\n');
	n = nl ? (size_t)(nl - p) : strlen(p);
	if (n == 0) {
		p = "unknown error";
		n = strlen(p);
	}
	mailtext_header_safe(p, n, msg, sizeof(msg));
	snprintf(out, outlen, "the database refused the ticket's data: %s", msg);
	/* snprintf may cut inside a character: back to a boundary */
	n = strlen(out);
	n = utf8_cut(out, n, n);
	while (n > 0 && !utf8_valid(out, n))
		n--;
	out[n] = '\0';
	return out;
}
