/*
 * config_mask: see config_mask.h. Owns the masking of secrets in values that
 * config_dump prints; must never print or log anything itself.
 */
#include "config_mask.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "xmem.h"

#define MASK "***"

/* Append to a mask buffer; its cap is far above any config string, so failure is a bug. */
static void mb_add(struct buf *b, const char *p, size_t n)
{
	if (buf_append(b, p, n) < 0)
		abort();
}

static void mb_str(struct buf *b, const char *s)
{
	mb_add(b, s, strlen(s));
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Is the percent-encoded URI parameter name p[0..n) "password"? */
static int uri_param_is_password(const char *p, size_t n)
{
	char dec[16];
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)p[i];
		if (ch == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
			ch = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
			i += 2;
		}
		if (o + 1 >= sizeof(dec))
			return 0;
		dec[o++] = (char)ch;
	}
	dec[o] = '\0';
	return strcasecmp(dec, "password") == 0;
}

/*
 * Mask the password of scheme://user:password@host/...?password=... (the
 * scheme is the first skip bytes). The userinfo ends at the last '@' before
 * the first '/': libpq stops at the first '@', so this hides at least as much.
 */
char *config_mask_uri(const char *s, size_t skip)
{
	struct buf b;
	const char *a = s + skip, *end = a + strcspn(a, "/"), *at = NULL, *q;

	buf_init(&b, SIZE_MAX / 4);
	mb_add(&b, s, skip);
	for (const char *p = a; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		const char *colon = memchr(a, ':', (size_t)(at - a));
		if (colon != NULL) {
			mb_add(&b, a, (size_t)(colon + 1 - a));
			mb_str(&b, MASK);
		} else {
			mb_add(&b, a, (size_t)(at - a));
		}
		a = at;
	}
	if ((q = strchr(a, '?')) == NULL) {
		mb_str(&b, a);
		return buf_steal(&b);
	}
	mb_add(&b, a, (size_t)(q + 1 - a));
	for (const char *p = q + 1; *p != '\0';) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		if (eq != NULL && uri_param_is_password(p, (size_t)(eq - p))) {
			mb_add(&b, p, (size_t)(eq + 1 - p));
			mb_str(&b, MASK);
		} else {
			mb_add(&b, p, n);
		}
		p += n;
		if (*p == '&')
			mb_add(&b, p++, 1);
	}
	return buf_steal(&b);
}

static size_t pg_uri_scheme_len(const char *s)
{
	if (strncasecmp(s, "postgresql://", 13) == 0)
		return 13;
	if (strncasecmp(s, "postgres://", 11) == 0)
		return 11;
	return 0;
}

/* Read one libpq conninfo value at *pp (quoted or bare, backslash escapes); returns it decoded. */
static char *read_conninfo_value(const char **pp)
{
	const char *p = *pp;
	struct buf v;
	int quoted = (*p == '\'');

	buf_init(&v, SIZE_MAX / 4);
	if (quoted)
		p++;
	while (*p != '\0' && (quoted ? *p != '\'' : !isspace((unsigned char)*p))) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		mb_add(&v, p++, 1);
	}
	if (quoted && *p == '\'')
		p++;
	*pp = p;
	return buf_steal(&v);
}

static void add_quoted_conninfo_value(struct buf *b, const char *v)
{
	mb_add(b, "'", 1);
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			mb_add(b, "\\", 1);
		mb_add(b, v, 1);
	}
	mb_add(b, "'", 1);
}

static char *mask_conninfo_depth(const char *ci, int depth);

/*
 * keyword=value form. A dbname holding a URI or a conninfo is expanded by
 * libpq, so it is masked too. Anything unparseable is hidden whole: it may be
 * a password libpq would have taken.
 */
static char *mask_keywords(const char *s, int depth)
{
	struct buf b;
	const char *p = s;

	buf_init(&b, SIZE_MAX / 4);
	while (*p != '\0') {
		const char *ks, *ke, *vs;
		char *val;
		size_t kn;

		for (ks = p; isspace((unsigned char)*p); p++)
			;
		mb_add(&b, ks, (size_t)(p - ks));
		if (*p == '\0')
			break;
		for (ks = p; *p != '\0' && *p != '=' && !isspace((unsigned char)*p); p++)
			;
		ke = p;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=') {
			mb_str(&b, MASK);
			break;
		}
		for (p++; isspace((unsigned char)*p); p++)
			;
		mb_add(&b, ks, (size_t)(p - ks));
		kn = (size_t)(ke - ks);
		vs = p;
		val = read_conninfo_value(&p);
		if (kn == 8 && strncasecmp(ks, "password", 8) == 0) {
			mb_str(&b, MASK);
		} else if (depth == 0 && kn == 6 && strncasecmp(ks, "dbname", 6) == 0 &&
			   (pg_uri_scheme_len(val) > 0 || strchr(val, '=') != NULL)) {
			char *m = mask_conninfo_depth(val, depth + 1);
			if (strcmp(m, val) != 0)
				add_quoted_conninfo_value(&b, m);
			else
				mb_add(&b, vs, (size_t)(p - vs));
			free(m);
		} else {
			mb_add(&b, vs, (size_t)(p - vs));
		}
		free(val);
	}
	return buf_steal(&b);
}

static char *mask_conninfo_depth(const char *ci, int depth)
{
	size_t skip = pg_uri_scheme_len(ci);
	return skip > 0 ? config_mask_uri(ci, skip) : mask_keywords(ci, depth);
}

char *config_mask_conninfo(const char *conninfo)
{
	return mask_conninfo_depth(conninfo ? conninfo : "", 0);
}

/* Kafka properties whose values are secrets (passwords, keys, token configs). */
int config_kafka_key_is_secret(const char *k)
{
	size_t n = strlen(k);
	return strcasestr(k, "password") != NULL || strcasestr(k, "secret") != NULL ||
	       strcasestr(k, "sasl.oauthbearer.config") != NULL ||
	       (n >= 4 && strcasecmp(k + n - 4, ".key") == 0) ||
	       (n >= 4 && strcasecmp(k + n - 4, ".pem") == 0);
}

/* Print "key = value", quoting values the ini parser would otherwise trim or unquote. */
