/*
 * xmem: allocation that aborts on OOM (the OpenBSD xmalloc convention), error
 * strings for callers' err/errlen, and the attribute macros every module uses.
 * Pure: no I/O but the abort message.
 */
#ifndef TRIAGED_XMEM_H
#define TRIAGED_XMEM_H

#include <stdarg.h>
#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define WUR __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

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

#endif
