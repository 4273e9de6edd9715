/*
 * log: logfmt lines on stderr. Owns the level threshold and the line format;
 * must never log secrets or ticket text (callers pass ids and reasons).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_min_level = LOG_L_INFO;
const char *log_prog;

static const char *level_names[] = {"debug", "info", "warn", "error", "fatal"};

const char *log_level_name(enum log_level l)
{
	return (unsigned)l < ARRAY_SIZE(level_names) ? level_names[l] : "unknown";
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static const char *quote(char *out, size_t outlen, const char *v, int always)
{
	size_t o = 0;
	int needq = always || (*v == '\0');
	for (const char *p = v; *p && !needq; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
			needq = 1;
	if (!needq) {
		strlcpy_t(out, v, outlen);
		return out;
	}
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
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
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

const char *log_quote(char *out, size_t outlen, const char *v)
{
	return quote(out, outlen, v, 0);
}

const char *log_quote_always(char *out, size_t outlen, const char *v)
{
	return quote(out, outlen, v, 1);
}

static void vemit(enum log_level l, const char *msg, const char *fmt, va_list ap)
{
	char line[4096], qmsg[1024], ts[40];
	struct timeval tv;
	struct tm tm;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s msg=%s%s%s", ts,
		     (long)(tv.tv_usec / 1000), log_level_name(l), log_quote(qmsg, sizeof(qmsg), msg),
		     log_prog ? " prog=" : "", log_prog ? log_prog : "");
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line) - 2 && fmt && *fmt) {
		line[n++] = ' ';
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof(line) - 1)
			n = (int)sizeof(line) - 2;
		if (line[n - 1] == ' ')
			n--;
	}
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

void log_emit(enum log_level l, const char *msg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(l, msg, fmt, ap);
	va_end(ap);
}

void fatal(const char *msg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(LOG_L_FATAL, msg, fmt, ap);
	va_end(ap);
	exit(1);
}

void log_emit_ticket(enum log_level l, const char *ticket_id, int partition, long long offset,
		     const char *msg, const char *fmt, ...)
{
	char fields[3072], qid[300];
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(fields, sizeof(fields), fmt, ap) < 0)
		fields[0] = '\0';
	va_end(ap);
	log_emit(l, msg, "ticket=%s partition=%d offset=%lld%s%s",
		 log_quote(qid, sizeof(qid), ticket_id ? ticket_id : ""), partition, offset,
		 fields[0] ? " " : "", fields);
}

void fatalx(const char *msg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(LOG_L_FATAL, msg, fmt, ap);
	va_end(ap);
	abort();
}

void log_library(const char *lib, int syslog_level, const char *facility, const char *text)
{
	char qf[64], qt[1024];
	enum log_level l = syslog_level <= 3	 ? LOG_L_ERROR
			   : syslog_level <= 4 ? LOG_L_WARN
			   : syslog_level <= 6 ? LOG_L_INFO
					       : LOG_L_DEBUG;
	log_at(l, lib, "facility=%s detail=%s", log_quote(qf, sizeof(qf), facility),
	       log_quote(qt, sizeof(qt), text));
}
