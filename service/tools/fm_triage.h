/*
 * fm_triage: the fake model's deterministic answer: the ticket found in a
 * request's prompt, tagged by keyword (category, sentiment, urgency) and
 * drafted, so a test knows what the model will say. Must never do I/O or
 * read the clock.
 */
#ifndef TRIAGED_FM_TRIAGE_H
#define TRIAGED_FM_TRIAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <json-c/json.h>

#include "fm_server.h"

/* What one completion request says. Pointers borrow from root or ticket. */
struct fm_call {
	struct json_object *root;   /* the parsed request, owned */
	struct json_object *ticket; /* the parsed ticket object, owned, or NULL */
	const char *model;
	const char *seg; /* ticket text: the JSON between the markers, or a whole user message */
	size_t seglen;
	const char *ticket_id; /* from the ticket's "ticket_id", or NULL */
	size_t prompt_bytes;   /* all message contents */
	bool repair;           /* an assistant message is present */
	unsigned markers;
	const struct fe_model *errors; /* borrowed from the server, or NULL */
};

/* Frees what c owns; c may be zeroed or partly filled. */
void fm_call_cleanup(struct fm_call *c);
/* Parse exactly one JSON value from data (surrounding white space allowed). Returns a new reference or NULL. */
struct json_object *fm_parse_json(struct fm_server *srv, const char *data, size_t len);
/* Fill c from a request body. Returns 0, or -1 with err (a 400). */
int fm_call_parse(struct fm_server *srv, const char *body, size_t len, struct fm_call *c, char *err, size_t errlen);
/* The triage content for a parsed call. Returns a new string; caller frees. */
char *fm_call_answer(const struct fm_call *c, bool force_malformed);

/* Magic markers in the ticket text. */
enum {
	FM_M_MALFORMED = 1 << 0,
	FM_M_BADLABEL = 1 << 1,
	FM_M_FENCE = 1 << 2,
	FM_M_500 = 1 << 3,
	FM_M_LOWCONF = 1 << 4,
	FM_M_CRITICAL = 1 << 5,
	FM_M_BADREPAIR = 1 << 6,
	FM_M_HOSTILE = 1 << 7, /* a draft with a foreign link, a refund promise, an unknown placeholder */
	FM_M_LEAK = 1 << 8,    /* a draft that repeats the start of the system prompt */
	FM_M_ECHO = 1 << 9,    /* a draft that quotes the ticket's first redaction placeholder */
	FM_M_400 = 1 << 10,    /* a 400 for this ticket alone (context_length_exceeded) */
};

#endif
