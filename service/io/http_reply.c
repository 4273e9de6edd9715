/*
 * http_reply: see http_reply.h. Never blocks; OOM aborts.
 */
#include "http_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "xmem.h"

static const char *reason_of(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

static const char *method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "OTHER";
	}
}

const char *http_req_path(struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *p = uri ? evhttp_uri_get_path(uri) : NULL;
	return p ? p : "";
}

struct http_shared *http_shared_new(const char *const *parts, const size_t *lens, size_t n)
{
	struct http_shared *s;
	size_t len = 0, off = 0;
	for (size_t i = 0; i < n; i++)
		len += lens[i];
	s = xmalloc(sizeof(*s) + len + 1);
	s->refs = 1;
	s->len = len;
	for (size_t i = 0; i < n; i++) {
		memcpy(s->data + off, parts[i], lens[i]);
		off += lens[i];
	}
	s->data[len] = '\0';
	return s;
}

void http_shared_unref(struct http_shared *s)
{
	if (s && --s->refs == 0)
		free(s);
}

static void shared_cleanup(const void *data, size_t len, void *arg)
{
	http_shared_unref(arg);
}

void http_reply(struct evhttp_request *req, int code, const char *ctype, const char *body,
		size_t len, struct http_shared *shared)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *b = NULL;
	char q[256];

	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "Cache-Control", "no-store");
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		char cl[32];
		snprintf(cl, sizeof(cl), "%zu", len);
		evhttp_add_header(oh, "Content-Length", cl);
	} else {
		b = evbuffer_new();
		if (b == NULL)
			fatal("out of memory: evbuffer_new", "%s", "");
		if (shared) {
			shared->refs++;
			if (evbuffer_add_reference(b, body, len, shared_cleanup, shared) < 0)
				fatal("out of memory: evbuffer_add_reference", "%s", "");
		} else if (evbuffer_add(b, body, len) < 0) {
			fatal("out of memory: evbuffer_add", "%s", "");
		}
	}
	log_debug("http request", "method=%s path=%s status=%d bytes=%zu",
		  method_name(evhttp_request_get_command(req)),
		  log_quote(q, sizeof(q), http_req_path(req)), code, len);
	evhttp_send_reply(req, code, reason_of(code), b);
	if (b)
		evbuffer_free(b);
}

void http_reply_json(struct evhttp_request *req, int code, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	http_reply(req, code, "application/json", s, len, NULL);
	json_object_put(o);
}

static json_object *error_obj(const char *error, const char *detail)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(error));
	if (detail)
		json_object_object_add(o, "detail", json_object_new_string(detail));
	return o;
}

void http_reply_error(struct evhttp_request *req, int code, const char *error, const char *detail)
{
	http_reply_json(req, code, error_obj(error, detail));
}

struct http_shared *http_shared_error(const char *error, const char *detail)
{
	json_object *o = error_obj(error, detail);
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	struct http_shared *sh = http_shared_new(&s, &len, 1);
	json_object_put(o);
	return sh;
}
