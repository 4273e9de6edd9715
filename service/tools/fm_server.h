/*
 * fm_server: the fake model's server state (listener, counters, fault
 * random stream, held requests), shared by the handlers, the request
 * parser and the dialect checks. Must never be seen by the daemon.
 */
#ifndef TRIAGED_FM_SERVER_H
#define TRIAGED_FM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <json-c/json.h>

#include "fm_settings.h"
#include "fm_util.h"

/* ------------------------------------------------------------ the server */

struct fm_server;

/* A completion whose answer is delayed (timer) or never sent (hung). */
struct fm_pending {
	struct fm_server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;   /* NULL: hung until the client goes away */
	struct event *watch;   /* EV_READ on the client's socket, to see it go */
	struct evbuffer *body; /* the answer to send, owned */
	int status;
	long retry_after; /* Retry-After header when status is 429 */
	long trickle_ms;  /* > 0: the body goes out in small chunks, one every trickle_ms */
	bool started;     /* trickling: the status line and headers are sent */
	struct fm_pending *prev, *next;
};

struct fm_server {
	struct fm_settings set;
	struct event_base *base;
	struct evhttp *http;
	struct event *ev_int;
	struct event *ev_term;
	struct json_tokener *tok; /* reused for every parse */
	FILE *reqlog;
	uint64_t rng;
	uint64_t seq; /* completion requests seen: the "n" of ids and the request log */
	uint64_t repairs;
	uint64_t refused; /* requests the strict mode (--dialect, --refuse) refused */
	char refuse_buf[64]; /* /_control "refuse": the parameter refused (provider edges, #11.4) */
	int64_t rpm_window; /* --rpm: the current minute (ms since the epoch / 60000) and its count */
	long rpm_used;
	long tpm_used; /* --tpm: tokens counted in the current minute */
	uint64_t timeouts;
	uint64_t by_status[FM_STATUS_MAX];
	struct json_object *per_ticket; /* {"ticket_id": count}, owned */
	struct fm_pending *pending;     /* list of delayed and hung requests */
	struct fe_model *errors;        /* --error-model, or NULL */
	char *fixed_answer;             /* --answer-file: the answer's JSON text, or NULL */
	size_t npending;
	int port;
};


uint64_t fm_rng_next(struct fm_server *srv);
uint64_t fm_rng_seed(uint64_t seed);
double fm_rng_unit(struct fm_server *srv);
int64_t fm_now_ms(void);

#endif
