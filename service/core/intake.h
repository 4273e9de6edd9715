/*
 * intake: one Kafka message in, one of three outcomes out: a ticket to
 * triage, an event to skip (a tombstone, or a helpdesk event with nothing
 * to triage), or a dead letter with its code and reason. Maps the helpdesk
 * formats (zendesk, zammad, intercom, custom) onto the ticket contract and
 * checks the result with the contract's own parser (ticket.c), so every
 * format is held to the same contract. HTML bodies become text, quoted
 * replies are cut from the prompt text. Pure: json-c only, no I/O but
 * reading the mapping file at startup, no clock. Counts what it sees.
 */
#ifndef TRIAGED_INTAKE_H
#define TRIAGED_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "ticket.h"

/* The order of intake_format_names in config.c. */
enum intake_format {
	INTAKE_TRIAGED,
	INTAKE_ZENDESK,
	INTAKE_ZAMMAD,
	INTAKE_INTERCOM,
	INTAKE_CUSTOM,
	INTAKE__FORMATS
};

enum intake_outcome { INTAKE_TICKET, INTAKE_SKIP, INTAKE_DEAD };

enum intake_skip {
	INTAKE_SKIP_TOMBSTONE, /* null value: a compacted topic's delete marker */
	INTAKE_SKIP_NOTHING,   /* a helpdesk event with nothing to triage (agent reply, status...) */
	INTAKE_SKIP__COUNT
};

struct intake_stats {
	uint64_t tickets, dead;
	uint64_t skipped[INTAKE_SKIP__COUNT];
	uint64_t flagged[TICKET_FLAG__COUNT]; /* tickets per lenient-field flag */
	uint64_t html_bodies;		      /* bodies turned from HTML to text */
	uint64_t prompt_bytes_in, prompt_bytes_out; /* body bytes before and after the cleanup */
};

struct intake_result {
	enum intake_outcome outcome;
	struct ticket *t;	 /* INTAKE_TICKET: a new ticket, the caller's (ticket_free) */
	enum ticket_err code;	 /* INTAKE_DEAD */
	enum intake_skip skip;	 /* INTAKE_SKIP */
	char reason[512];	 /* INTAKE_DEAD: valid UTF-8, one line; INTAKE_SKIP: why */
};

struct intake;

/* "triaged", "zendesk", ...; -1 when unknown. */
int intake_format_parse(const char *s);
const char *intake_format_name(enum intake_format f);

/*
 * A new intake for format f (caller frees with intake_free). mapping_file is
 * read and checked for INTAKE_CUSTOM (errors "FILE:LINE: message");
 * tier_map is intake.tier_map. NULL with err on a bad setting.
 */
struct intake *intake_new(enum intake_format f, const char *mapping_file, const char *tier_map,
			  const struct ticket_limits *lim, char *err, size_t errlen);
/* The same, with the mapping file's text given (tests, check-ticket). */
struct intake *intake_new_text(enum intake_format f, const char *mapping_text,
			       const char *mapping_name, const char *tier_map,
			       const struct ticket_limits *lim, char *err, size_t errlen);
void intake_free(struct intake *in);

/*
 * Judge one message. msg NULL is a tombstone. key is the Kafka key (checked
 * against ticket_id for the triaged format only: helpdesks key as they
 * like). kafka_ts_ms < 0: no timestamp. Fills *r; never fails otherwise.
 */
void intake_parse(struct intake *in, const char *msg, size_t len, const char *key, size_t keylen,
		  int64_t kafka_ts_ms, struct intake_result *r);

/*
 * intake_parse() counting into *st instead of in's counters: in is only
 * read, so worker threads may parse at once (offload.h); the loop adds the
 * counts with intake_stats_add().
 */
void intake_parse_counted(const struct intake *in, const char *msg, size_t len, const char *key,
			  size_t keylen, int64_t kafka_ts_ms, struct intake_result *r,
			  struct intake_stats *st);
void intake_stats_add(struct intake *in, const struct intake_stats *d);

const struct intake_stats *intake_stats(const struct intake *in);

#endif
