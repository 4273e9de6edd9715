/*
 * log: the one log sink. logfmt lines on stderr:
 *   ts=2026-11-24T05:40:00.123Z level=info msg="..." key=value ...
 * The level is checked before any formatting. librdkafka, curl and libpq
 * messages are routed here by their modules. Never pass secrets or raw
 * ticket text: log ids, offsets and reasons.
 */
#ifndef TRIAGED_LOG_H
#define TRIAGED_LOG_H

#include <stdint.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

enum log_level { LOG_L_DEBUG, LOG_L_INFO, LOG_L_WARN, LOG_L_ERROR, LOG_L_FATAL };

extern enum log_level log_min_level;
/* The dev tools name themselves on every line (prog=...); NULL in the daemon. */
extern const char *log_prog;

int log_level_parse(const char *s, enum log_level *out) WUR;
const char *log_level_name(enum log_level l);

/* msg is free text; kv is a logfmt fragment ("k=v k2=v2") already formatted by fmt. */
void log_emit(enum log_level l, const char *msg, const char *fmt, ...) PRINTF_LIKE(3, 4);

#define log_at(l, msg, ...)                                                                        \
	do {                                                                                       \
		if ((l) >= log_min_level)                                                          \
			log_emit((l), (msg), __VA_ARGS__);                                         \
	} while (0)
/* Usage: log_info("consumer started", "topic=%s", topic); use "%s","" for no fields. */
#define log_debug(msg, ...) log_at(LOG_L_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_at(LOG_L_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_at(LOG_L_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_at(LOG_L_ERROR, msg, __VA_ARGS__)
/*
 * Ticket-context lines: "ticket=... partition=... offset=..." before the
 * fields of fmt (the id quoted as logfmt needs). Level checked first.
 */
void log_emit_ticket(enum log_level l, const char *ticket_id, int partition, long long offset,
		     const char *msg, const char *fmt, ...) PRINTF_LIKE(6, 7);
#define log_ticket_at(l, tid, part, off, msg, ...)                                                 \
	do {                                                                                       \
		if ((l) >= log_min_level)                                                          \
			log_emit_ticket((l), (tid), (part), (off), (msg), __VA_ARGS__);            \
	} while (0)
/*
 * A library's own log line (librdkafka's log callback, say) at the level its
 * syslog-style number maps to: msg=lib facility=... detail=... (quoted).
 */
void log_library(const char *lib, int syslog_level, const char *facility, const char *text);
/* A broken invariant (never a ticket's or an outage's fault): log and abort(). */
void fatalx(const char *msg, const char *fmt, ...) PRINTF_LIKE(2, 3) __attribute__((noreturn));
/* Startup only: log and exit(1). */
void fatal(const char *msg, const char *fmt, ...) PRINTF_LIKE(2, 3) __attribute__((noreturn));

/* Quote a value for logfmt into out (adds quotes and escapes when needed). */
const char *log_quote(char *out, size_t outlen, const char *v);
/* The same, always quoted (for values that are free text by nature). */
const char *log_quote_always(char *out, size_t outlen, const char *v);

#endif
