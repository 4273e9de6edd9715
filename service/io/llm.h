/*
 * llm: HTTP client for OpenAI-compatible chat-completions endpoints, with
 * curl multi driven by the libevent loop (socket-action API). One
 * llm_client per endpoint (mini, flagship): it owns the connection pool
 * (keep-alive), a concurrency cap and a FIFO of requests waiting for a slot.
 * It performs one HTTP exchange per request; retry policy belongs to the
 * caller. Responses are capped; an oversized body is an ordinary failure.
 */
#ifndef TRIAGED_LLM_H
#define TRIAGED_LLM_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "dialect.h"
#include "resp_meta.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

struct llm_client;
struct llm_req;

/* Longest provider request id kept, with its NUL (longer ones are cut). */
#define LLM_REQUEST_ID_MAX RESP_REQUEST_ID_MAX

struct llm_result {
	long http_status;     /* 0 when no HTTP response */
	int transport_error;  /* CURLcode, 0 if none */
	const char *error;    /* human text for a transport error or cap; "" if none */
	const char *body;     /* response body (NUL-terminated), valid during the callback */
	size_t body_len;
	int has_retry_after;  /* where the wait came from: resp_meta's retry_rank; 0 none */
	uint32_t retry_after_ms;
	struct ratelimit ratelimit; /* the x-ratelimit-* headers of this response (dialect.h) */
	int too_large;        /* the body passed max_response_bytes (the endpoint works) */
	/* the provider's id of this exchange (x-request-id, request-id, apim-request-id;
	 * what its support asks for), "" if none; valid during the callback */
	const char *request_id;
	int not_sent;         /* handed back unsent by llm_return_waiting(): no attempt was made */
	double latency_ms;    /* this exchange, from send to completion */
	double queued_ms;     /* time spent waiting for a concurrency slot */
	/* the request body given to llm_submit, handed back: the callback owns
	 * it (free it, or keep it for a retry); NULL after a cancel */
	char *request;
};

/* Called exactly once per submitted request (not after llm_req_cancel). The request is freed after it returns. */
typedef void llm_done_fn(void *arg, const struct llm_result *res);

/*
 * Returns a new client for base_url (".../chat/completions" is appended;
 * for the azure dialect ".../openai/deployments/<deployment>/chat/completions
 * ?api-version=<api_version>"). api_key may be NULL or "" for endpoints
 * without authentication; it is copied into the Authorization header (azure:
 * the api-key header) and never logged. ca_file may be NULL.
 *
 * Pacing: when a response says no request or no token remains
 * (x-ratelimit-remaining-* 0) the client starts nothing new until the
 * matching x-ratelimit-reset-* has passed; requests wait in its FIFO.
 */
struct llm_client *llm_client_new(struct event_base *base, const char *name,
				  const struct model_config *mc, const char *api_key);
/*
 * Bound the work of finished calls per loop pass to about slice_us of their
 * owners' callbacks (besides LLM_DONE_PER_PASS of them); the rest wait for the
 * next pass. 0 (the default): the count alone.
 */
void llm_client_set_slice(struct llm_client *c, int64_t slice_us);
void llm_client_free(struct llm_client *c);

/* Queue a POST of body (stolen; freed by the client). Returns the request handle. */
struct llm_req *llm_submit(struct llm_client *c, char *body, llm_done_fn *cb, void *arg);
/* Abandon a request: its callback will not be called. */
void llm_req_cancel(struct llm_req *r);

/*
 * Hand every request still waiting for a slot back to its owner unsent
 * (callback with not_sent = 1), e.g. when the endpoint's circuit breaker
 * opens. Returns how many.
 */
size_t llm_return_waiting(struct llm_client *c);

/* The URL requests go to (for logs and check-models). */
const char *llm_url(const struct llm_client *c);
/* Times the rate-limit headers held new requests back (pacing). */
uint64_t llm_paced(const struct llm_client *c);

/* Connections opened to the endpoint so far (each transfer's CURLINFO_NUM_CONNECTS). */
uint64_t llm_connects(const struct llm_client *c);
/* The endpoint's HTTP version as the client treats it: 0 no answer yet, 1 (HTTP/1.x;
 * one answer over it is enough) or 2 (after 8 answers in a row over HTTP/2). */
int llm_http_version(const struct llm_client *c);
size_t llm_in_flight(const struct llm_client *c);
size_t llm_waiting(const struct llm_client *c);

#endif
