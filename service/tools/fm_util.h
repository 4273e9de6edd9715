/*
 * fm_util: the fake model's own logfmt logger, allocation that aborts on
 * OOM, and small json-c and evbuffer helpers, with the limits its modules
 * share. Must never use the daemon's code (the fake model shares none with
 * the client under test).
 */
#ifndef TRIAGED_FM_UTIL_H
#define TRIAGED_FM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <json-c/json.h>

#define FM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FM_DEFAULT_MAX_BODY (4L * 1024 * 1024)
#define FM_MAX_MAX_BODY (1L << 30)
#define FM_SUMMARY_MAX 120
#define FM_STATUS_MAX 600
#define FM_TRICKLE_CHUNK 32 /* bytes per write when trickling an answer */

enum fm_level { FM_L_DEBUG, FM_L_INFO, FM_L_WARN, FM_L_ERROR, FM_L_FATAL };

/* The only global: the threshold, checked before any formatting. */
extern enum fm_level fm_log_min;

#define FM_LOG(lvl, ...)                            \
	do {                                        \
		if ((lvl) >= fm_log_min)            \
			fm_log((lvl), __VA_ARGS__); \
	} while (0)

__attribute__((format(printf, 2, 3))) void fm_log(enum fm_level lvl, const char *fmt, ...);
__attribute__((format(printf, 1, 2), noreturn)) void fm_fatal(const char *fmt, ...);
__attribute__((noreturn)) void fm_oom(void);
const char *fm_quote(char *out, size_t outlen, const char *v);
void *fm_xcalloc(size_t n, size_t sz);
void *fm_xmalloc(size_t n);
char *fm_xstrdup(const char *s);
struct json_object *jx(struct json_object *o);
void jadd(struct json_object *obj, const char *key, struct json_object *val);
void fm_buf_add(struct evbuffer *b, const void *data, size_t len);
struct evbuffer *fm_buf_new(void);
/* An OpenAI-style error body with a param. message is escaped. Returns a new buffer. */
struct evbuffer *fm_error_body_param(const char *type, const char *code, const char *param,
				     const char *message);

#endif
