/*
 * ticket_time: RFC 3339 date-times (a ticket's created_at, Kafka
 * timestamps) checked and converted. Must never read the clock, do I/O or
 * log.
 */
#ifndef TRIAGED_TICKET_TIME_H
#define TRIAGED_TICKET_TIME_H

#include <stdint.h>

/* 1 if s is a valid RFC 3339 date-time (e.g. 2026-11-24T05:40:00Z, with optional fraction and offset). */
int rfc3339_valid(const char *s);
/*
 * The instant of a valid RFC 3339 date-time as PostgreSQL will take it:
 * converted to UTC, "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (fraction cut to
 * microseconds). 0 ok; -1 not RFC 3339; -2 the UTC year is outside
 * 0001..9999. out needs 32 bytes.
 */
int rfc3339_to_utc(const char *s, char out[static 32]);
/* Kafka milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ"; -1 out of range. */
int rfc3339_from_ms(int64_t ms, char out[static 32]);

#endif
