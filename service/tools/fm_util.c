/*
 * fm_util: see fm_util.h. Owns the fake model's log lines (one write per
 * line, prog=fakemodel) and its abort-on-OOM allocation. Must never use the
 * daemon's code, or format a line below the threshold.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <json-c/json.h>

#include "fake_errors.h"

#include "fm_util.h"

/* ---------------------------------------------------------------- logging */


/* The only global: the threshold, checked before any formatting. */
enum fm_level fm_log_min = FM_L_INFO;

static const char *const fm_level_names[] = {"debug", "info", "warn", "error", "fatal"};

__attribute__((format(printf, 2, 0))) static void fm_vlog(enum fm_level lvl, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=fakemodel ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, fm_level_names[lvl]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One write per line so lines from concurrent processes do not interleave. */
	fprintf(stderr, "%s\n", line);
}

__attribute__((format(printf, 2, 3))) void fm_log(enum fm_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fm_vlog(lvl, fmt, ap);
	va_end(ap);
}

/* Startup failures only. */
__attribute__((format(printf, 1, 2), noreturn)) void fm_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fm_vlog(FM_L_FATAL, fmt, ap);
	va_end(ap);
	exit(1);
}

__attribute__((noreturn)) void fm_oom(void)
{
	fputs("level=fatal prog=fakemodel msg=\"out of memory\"\n", stderr);
	abort();
}

/* logfmt value: quoted and escaped when needed, truncated to fit out. */
const char *fm_quote(char *out, size_t outlen, const char *v)
{
	size_t o = 0;

	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (const char *p = v; *p && o + 3 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			out[o++] = ' ';
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------- memory, json-c */

void *fm_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		fm_oom();
	return p;
}

void *fm_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fm_oom();
	return p;
}

char *fm_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(fm_xmalloc(n), s, n);
}

/* json-c constructors return NULL only on OOM. */
struct json_object *jx(struct json_object *o)
{
	if (!o)
		fm_oom();
	return o;
}

/* Add under a constant key (steals val). */
void jadd(struct json_object *obj, const char *key, struct json_object *val)
{
	if (json_object_object_add_ex(obj, key, val, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT))
		fm_oom();
}

void fm_buf_add(struct evbuffer *b, const void *data, size_t len)
{
	if (evbuffer_add(b, data, len) != 0)
		fm_oom();
}

struct evbuffer *fm_buf_new(void)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		fm_oom();
	return b;
}

/* An OpenAI-style error body with a param. message is escaped. Returns a new buffer. */
struct evbuffer *fm_error_body_param(const char *type, const char *code, const char *param,
					    const char *message)
{
	struct json_object *o = jx(json_object_new_object()), *e = jx(json_object_new_object());
	struct evbuffer *b = fm_buf_new();
	size_t len;

	jadd(e, "message", jx(json_object_new_string(message)));
	jadd(e, "type", jx(json_object_new_string(type)));
	jadd(e, "param", param ? jx(json_object_new_string(param)) : NULL);
	jadd(e, "code", code ? jx(json_object_new_string(code)) : NULL);
	jadd(o, "error", e);
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	fm_buf_add(b, s, len);
	json_object_put(o);
	return b;
}
