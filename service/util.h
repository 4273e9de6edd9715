/*
 * util: allocation that aborts on OOM, capped growable buffers, small string
 * helpers. Pure: no I/O, no clock. Everything sized by outside data goes
 * through struct buf with a cap, so an oversized input is an ordinary error.
 */
#ifndef TRIAGED_UTIL_H
#define TRIAGED_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define WUR __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Allocation: abort the process on OOM (the OpenBSD xmalloc convention). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a new string; caller frees. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Copy with truncation; always NUL-terminates when size > 0. Returns strlen(src). */
size_t strlcpy_t(char *dst, const char *src, size_t size);
/* snprintf into err/errlen, tolerant of err == NULL. */
void set_err(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);

/*
 * A growable byte buffer with a hard cap. data is always NUL-terminated
 * (one byte beyond len), so it can be used as a C string when the content is
 * text. buf_append returns -1 (and leaves the buffer unchanged) when the cap
 * would be exceeded; the caller turns that into a per-ticket error.
 */
struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;
};

void buf_init(struct buf *b, size_t cap);
void buf_cleanup(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n) WUR;
int buf_appendf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3) WUR;
/* Hand the data to the caller (caller frees); the buffer is left empty. */
char *buf_steal(struct buf *b);

/* Parse helpers: 0 ok, -1 on syntax error or out of [min,max]. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out) WUR;
int parse_double(const char *s, double min, double max, double *out) WUR;
int parse_bool(const char *s, int *out) WUR;

/* Trim ASCII whitespace in place; returns s. */
char *str_trim(char *s);
/* 1 if s is empty or only whitespace. */
int str_blank(const char *s);

/* xorshift64* PRNG: deterministic and testable; state must be non-zero. */
uint64_t rng_next(uint64_t *state);

#endif
