/*
 * http_reply: answering an evhttp request the one way the admin server does
 * (status, Content-Type, no-store, nosniff; HEAD gets the length only), and
 * bodies shared by reference between many answers (the dashboard snapshot).
 */
#ifndef TRIAGED_HTTP_REPLY_H
#define TRIAGED_HTTP_REPLY_H

#include <stddef.h>

#include <event2/http.h>
#include <json-c/json.h>

/* A response body shared by several requests (evbuffer references). */
struct http_shared {
	int refs;
	size_t len;
	char data[];
};

/* A new shared body (refs 1): the n parts concatenated, NUL-terminated. */
struct http_shared *http_shared_new(const char *const *parts, const size_t *lens, size_t n);
/* Drop one reference; frees at zero. Accepts NULL. */
void http_shared_unref(struct http_shared *s);

/*
 * Answer req. body (len bytes) is copied, or referenced when shared is set
 * (one more reference taken). The request is answered and gone afterwards.
 */
void http_reply(struct evhttp_request *req, int code, const char *ctype, const char *body,
		size_t len, struct http_shared *shared);
/* Answer with a JSON object (reference stolen). */
void http_reply_json(struct evhttp_request *req, int code, json_object *o);
/* {"error": error, "detail": detail} (detail may be NULL). */
void http_reply_error(struct evhttp_request *req, int code, const char *error, const char *detail);
/* The same body as a new shared body, for answering many requests alike. */
struct http_shared *http_shared_error(const char *error, const char *detail);
/* The request's path ("" when none). */
const char *http_req_path(struct evhttp_request *req);

#endif
