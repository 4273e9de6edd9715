/*
 * fakemodel: a fake OpenAI-compatible chat-completions server for the
 * integration tests, the demo and the benchmark.
 *
 * Owns: its settings and fault knobs, a deterministic triage of the ticket
 * found in the prompt, fault injection (429, 500, hung requests, malformed or
 * truncated answers, latency) and the counters behind GET /_stats.
 *
 * Split by concern, all under tools/ and prefixed fm_: fm_settings (flags,
 * knobs), fm_server (server state, fault random stream), fm_triage (the
 * deterministic answer), fm_dialect (strict modes, per-minute limit),
 * fm_util (log, memory, json helpers). This file keeps the replies, held
 * requests, handlers and startup.
 *
 * Must never: include the daemon's service/ headers (it stands in for a remote
 * model and shares no code with the client under test), block the event loop
 * (delays are evtimers, hung requests just stay open), or keep a request's
 * memory after its client went away.
 *
 * Endpoints: POST .../chat/completions (/v1, /v1beta/openai, /openai/deployments/NAME), POST /_control,
 * GET /_stats, GET /health. Run with --help for the flags.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <json-c/json.h>

#include "fake_errors.h"
#include "fm_dialect.h"
#include "fm_server.h"
#include "fm_settings.h"
#include "fm_triage.h"
#include "fm_util.h"


/* ---------------------------------------------------------------- replies */

static const char *fm_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	default: return "Status";
	}
}

/* Send and release body (NULL for none). */
static void fm_send(struct evhttp_request *req, int status, struct evbuffer *body, const char *ctype, long retry_after)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	if (status == 429 && retry_after >= 0) { /* < 0: no Retry-After */
		char ra[32];
		snprintf(ra, sizeof(ra), "%ld", retry_after);
		evhttp_add_header(h, "Retry-After", ra);
	}
	evhttp_send_reply(req, status, fm_reason(status), body);
	if (body)
		evbuffer_free(body);
}

static struct evbuffer *fm_error_body(const char *type, const char *code, const char *message)
{
	return fm_error_body_param(type, code, NULL, message);
}

static void fm_send_error(struct evhttp_request *req, int status, const char *type, const char *code, const char *message)
{
	fm_send(req, status, fm_error_body(type, code, message), "application/json", 0);
}

static void fm_send_json(struct evhttp_request *req, int status, struct json_object *o)
{
	struct evbuffer *b = fm_buf_new();
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);

	fm_buf_add(b, s, len);
	fm_send(req, status, b, "application/json", 0);
}

/* Tokens of the answers written, per model (GET /_stats "tokens"): the provider's own
 * count, for tests that recount a budget's spend independently of the daemon (#21). */
static struct json_object *fm_tokens;

static void fm_count_tokens(const char *model, int64_t pt, int64_t ct)
{
	struct json_object *m, *v;
	if (fm_tokens == NULL)
		fm_tokens = jx(json_object_new_object());
	if (!json_object_object_get_ex(fm_tokens, model, &m)) {
		m = jx(json_object_new_object());
		jadd(m, "answers", jx(json_object_new_int64(0)));
		jadd(m, "prompt_tokens", jx(json_object_new_int64(0)));
		jadd(m, "completion_tokens", jx(json_object_new_int64(0)));
		/* jadd keeps the key's pointer; the model name is the request's: copy it */
		if (json_object_object_add(fm_tokens, model, m))
			fm_oom();
	}
	json_object_object_get_ex(m, "answers", &v);
	json_object_set_int64(v, json_object_get_int64(v) + 1);
	json_object_object_get_ex(m, "prompt_tokens", &v);
	json_object_set_int64(v, json_object_get_int64(v) + pt);
	json_object_object_get_ex(m, "completion_tokens", &v);
	json_object_set_int64(v, json_object_get_int64(v) + ct);
}

/* The chat.completion object around content; truncated keeps only its first half. */
static struct evbuffer *fm_completion_body(uint64_t n, const char *model, const char *content, size_t prompt_bytes,
					   bool truncated, long pad)
{
	struct json_object *resp = jx(json_object_new_object());
	struct json_object *choices = jx(json_object_new_array_ext(1));
	struct json_object *choice = jx(json_object_new_object());
	struct json_object *msg = jx(json_object_new_object());
	struct json_object *usage = jx(json_object_new_object());
	struct json_object *details = jx(json_object_new_object());
	struct evbuffer *b = fm_buf_new();
	char id[48];
	size_t clen = strlen(content), len;
	int64_t pt = (int64_t)((prompt_bytes + 3) / 4), ct = (int64_t)((clen + 3) / 4);

	snprintf(id, sizeof(id), "chatcmpl-%" PRIu64, n);
	jadd(resp, "id", jx(json_object_new_string(id)));
	jadd(resp, "object", jx(json_object_new_string("chat.completion")));
	jadd(resp, "created", jx(json_object_new_int64((int64_t)time(NULL))));
	jadd(resp, "model", jx(json_object_new_string(model)));
	jadd(msg, "role", jx(json_object_new_string("assistant")));
	jadd(msg, "content", jx(json_object_new_string_len(content, (int)clen)));
	jadd(choice, "index", jx(json_object_new_int(0)));
	jadd(choice, "message", msg);
	jadd(choice, "finish_reason", jx(json_object_new_string("stop")));
	if (json_object_array_add(choices, choice))
		fm_oom();
	jadd(resp, "choices", choices);
	/* a reasoning model also thinks: reasoning tokens, counted in completion_tokens */
	int64_t rt = fm_reasoning_model(model) ? 64 : 0;
	ct += rt;
	fm_count_tokens(model, pt, ct);
	jadd(usage, "prompt_tokens", jx(json_object_new_int64(pt)));
	jadd(usage, "completion_tokens", jx(json_object_new_int64(ct)));
	jadd(usage, "total_tokens", jx(json_object_new_int64(pt + ct)));
	if (rt > 0) {
		struct json_object *cd = jx(json_object_new_object());
		jadd(cd, "reasoning_tokens", jx(json_object_new_int64(rt)));
		jadd(usage, "completion_tokens_details", cd);
	}
	jadd(details, "cached_tokens", jx(json_object_new_int(0)));
	jadd(usage, "prompt_tokens_details", details);
	jadd(resp, "usage", usage);
	const char *s = json_object_to_json_string_length(resp, JSON_C_TO_STRING_PLAIN, &len);
	if (truncated || pad <= 0 || len == 0) {
		fm_buf_add(b, s, truncated ? len / 2 : len);
	} else {
		/* --pad-bytes: white space before the closing brace keeps the JSON valid, only bigger */
		char spaces[256];
		memset(spaces, ' ', sizeof(spaces));
		fm_buf_add(b, s, len - 1);
		for (long left = pad; left > 0; left -= (long)sizeof(spaces))
			fm_buf_add(b, spaces, left < (long)sizeof(spaces) ? (size_t)left : sizeof(spaces));
		fm_buf_add(b, s + len - 1, 1);
	}
	json_object_put(resp);
	return b;
}

/* --------------------------------------------------- delayed and hung replies */

static void fm_pending_free(struct fm_pending *p)
{
	if (!p)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		p->srv->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->srv->npending--;
	if (p->timer)
		event_free(p->timer);
	if (p->watch)
		event_free(p->watch);
	if (p->body)
		evbuffer_free(p->body);
	free(p);
}

/*
 * The client's connection is going away (it gave up, or the server is
 * shutting down). If libevent already detached the request (EOF while we
 * held it), the request is ours to free; otherwise libevent frees it right
 * after this callback, with the connection.
 */
static void fm_pending_closecb(struct evhttp_connection *evcon, void *arg)
{
	struct fm_pending *p = arg;

	if (evhttp_request_get_connection(p->req) == NULL)
		evhttp_request_free(p->req);
	fm_pending_free(p);
}

/*
 * libevent 2.1 stops reading a connection while its request is being
 * answered, so it never notices a client that gives up on a held request.
 * This watcher peeks at the socket: EOF or an error means the client is gone,
 * and freeing the connection runs fm_pending_closecb, which releases p.
 */
static void fm_pending_watchcb(evutil_socket_t fd, short what, void *arg)
{
	struct fm_pending *p = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0) {
		/* A pipelined request: the client is alive; stop watching rather than spin. */
		event_del(p->watch);
		return;
	}
	evhttp_connection_free(p->evcon); /* frees p through the close callback */
}

/*
 * --trickle-ms: one FM_TRICKLE_CHUNK-byte write of the answer per tick (the
 * first tick sends the status line and headers, chunked encoding), the end
 * after the last byte. A client that gives up is seen by the watcher or by
 * the failed write, and its close callback releases p (and the timer).
 */
static void fm_pending_trickle(struct fm_pending *p)
{
	struct timeval tv = {p->trickle_ms / 1000, (p->trickle_ms % 1000) * 1000};
	struct evbuffer *chunk;

	if (!p->started) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);
		evhttp_add_header(h, "Content-Type", "application/json");
		if (p->status == 429 && p->retry_after >= 0) {
			char ra[32];
			snprintf(ra, sizeof(ra), "%ld", p->retry_after);
			evhttp_add_header(h, "Retry-After", ra);
		}
		evhttp_send_reply_start(p->req, p->status, fm_reason(p->status));
		p->started = true;
	}
	if (p->body && evbuffer_get_length(p->body) > 0) {
		chunk = fm_buf_new();
		if (evbuffer_remove_buffer(p->body, chunk, FM_TRICKLE_CHUNK) < 0)
			fm_oom();
		evhttp_send_reply_chunk(p->req, chunk);
		evbuffer_free(chunk);
	}
	if (p->body && evbuffer_get_length(p->body) > 0) {
		if (evtimer_add(p->timer, &tv) != 0)
			fm_oom();
		return;
	}
	/* Ending may free the connection: the close callback must not see p again. */
	if (evhttp_request_get_connection(p->req))
		evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	evhttp_send_reply_end(p->req);
	fm_pending_free(p);
}

static void fm_pending_timercb(evutil_socket_t fd, short what, void *arg)
{
	struct fm_pending *p = arg;
	struct evbuffer *body = p->body;

	if (p->trickle_ms > 0) {
		fm_pending_trickle(p);
		return;
	}

	/* Sending may free the connection: the close callback must not see p again. */
	if (evhttp_request_get_connection(p->req))
		evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	p->body = NULL;
	fm_send(p->req, p->status, body, "application/json", p->retry_after);
	fm_pending_free(p);
}

/* Hold req: answer after delay_ms (trickled when trickle_ms > 0), or never when hang. Takes body. */
static void fm_pending_start(struct fm_server *srv, struct evhttp_request *req, int status, struct evbuffer *body,
			     long retry_after, long delay_ms, bool hang, long trickle_ms)
{
	struct fm_pending *p = fm_xcalloc(1, sizeof(*p));
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	p->srv = srv;
	p->req = req;
	p->evcon = evcon;
	p->body = body;
	p->status = status;
	p->retry_after = retry_after;
	p->trickle_ms = trickle_ms;
	p->next = srv->pending;
	if (p->next)
		p->next->prev = p;
	srv->pending = p;
	srv->npending++;
	if (evcon) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
		evhttp_connection_set_closecb(evcon, fm_pending_closecb, p);
		if (fd >= 0) {
			p->watch = event_new(srv->base, fd, EV_READ | EV_PERSIST, fm_pending_watchcb, p);
			if (!p->watch || event_add(p->watch, NULL) != 0)
				fm_oom();
		}
	}
	if (!hang) {
		struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
		p->timer = evtimer_new(srv->base, fm_pending_timercb, p);
		if (!p->timer || evtimer_add(p->timer, &tv) != 0)
			fm_oom();
	}
}

/* ------------------------------------------------------------- handlers */

enum fm_outcome { FM_O_OK, FM_O_429, FM_O_500, FM_O_HANG, FM_O_MALFORMED, FM_O_TRUNCATED };

static void fm_request_log(struct fm_server *srv, uint64_t n, const struct fm_call *c, int status, const char *body,
			   size_t len)
{
	struct json_object *o;
	size_t slen;

	if (!srv->reqlog)
		return;
	o = jx(json_object_new_object());
	jadd(o, "n", jx(json_object_new_int64((int64_t)n)));
	jadd(o, "ts_ms", jx(json_object_new_int64(fm_now_ms())));
	jadd(o, "ticket_id", c->ticket_id ? jx(json_object_new_string(c->ticket_id)) : NULL);
	jadd(o, "repair", jx(json_object_new_boolean(c->repair)));
	jadd(o, "status", jx(json_object_new_int(status)));
	jadd(o, "body", jx(json_object_new_string_len(body, (int)len)));
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &slen);
	if (fwrite(s, 1, slen, srv->reqlog) != slen || fputc('\n', srv->reqlog) == EOF || fflush(srv->reqlog) != 0)
		FM_LOG(FM_L_WARN, "msg=\"request log write failed\" err=\"%s\"", strerror(errno));
	json_object_put(o);
}

static bool fm_auth_ok(struct fm_server *srv, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	if (!srv->set.require_key)
		return true;
	if (srv->set.dialect && strcmp(srv->set.dialect, "azure") == 0) {
		/* Azure takes the key in the api-key header */
		h = evhttp_find_header(evhttp_request_get_input_headers(req), "api-key");
		return h && strcmp(h, srv->set.require_key) == 0;
	}
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return strcmp(h, srv->set.require_key) == 0;
}

static void fm_handle_completion(struct fm_server *srv, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	struct fm_call c;
	struct evbuffer *out = NULL;
	const struct fm_knobs *k = &srv->set.knobs;
	enum fm_outcome oc = FM_O_OK;
	char err[160];
	int status = 200;
	long delay = 0, ra;
	uint64_t n = ++srv->seq;

	memset(&c, 0, sizeof(c));
	if (!body) {
		out = fm_error_body("server_error", NULL, "out of memory");
		status = 500;
		body = "";
		len = 0;
		goto reply;
	}
	if (!fm_auth_ok(srv, req)) {
		status = 401;
		out = fm_error_body("invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
		goto reply;
	}
	if (len > (size_t)srv->set.max_body) {
		status = 413;
		out = fm_error_body("invalid_request_error", "request_too_large", "Request body too large.");
		goto reply;
	}
	if (fm_call_parse(srv, body, len, &c, err, sizeof(err)) != 0) {
		status = 400;
		out = fm_error_body("invalid_request_error", NULL, err);
		goto reply;
	}
	if ((status = fm_strict_path(srv, req, &out)) != 0 ||
	    (status = fm_strict_check(srv, c.root, c.model ? c.model : "", &out)) != 0) {
		srv->refused++;
		goto reply;
	}
	if (c.markers & FM_M_400) {
		/* a request wrong for this ticket alone, as OpenAI answers a prompt over the context */
		status = 400;
		out = fm_error_body_param("invalid_request_error", "context_length_exceeded", "messages",
					  "This model's maximum context length is 128000 tokens. However, your "
					  "messages resulted in 131072 tokens. Please reduce the length of the "
					  "messages.");
		goto reply;
	}
	if (k->quota_spent) {
		/* OpenAI's billing refusal: a 429 that waiting does not end (its error-code
		 * guide: "You exceeded your current quota, please check your plan and billing
		 * details"), type and code insufficient_quota, no Retry-After */
		status = 429;
		out = fm_error_body("insufficient_quota", "insufficient_quota",
				    "You exceeded your current quota, please check your plan and billing "
				    "details. For more information on this error, read the docs: "
				    "https://platform.openai.com/docs/guides/error-codes/api-errors.");
		goto reply;
	}
	status = 200;
	if ((srv->set.rpm > 0 || srv->set.tpm > 0) &&
	    fm_rpm_take(srv, req, (long)(c.prompt_bytes + 3) / 4 + fm_asked_completion(c.root), &out)) {
		status = 429;
		goto reply;
	}

	/* Two draws per request whatever the knobs, so a seed gives one sequence. */
	double u = fm_rng_unit(srv), acc = 0.0;
	uint64_t jdraw = fm_rng_next(srv);
	if (c.markers & FM_M_500)
		oc = FM_O_500;
	else if (u < (acc += k->rate_429))
		oc = FM_O_429;
	else if (u < (acc += k->rate_500))
		oc = FM_O_500;
	else if (u < (acc += k->rate_timeout))
		oc = FM_O_HANG;
	else if (u < (acc += k->rate_malformed))
		oc = FM_O_MALFORMED;
	else if (u < (acc += k->rate_truncated))
		oc = FM_O_TRUNCATED;

	delay = k->latency_ms;
	if (k->jitter_ms > 0)
		delay += (long)(jdraw % (uint64_t)(2 * k->jitter_ms + 1)) - k->jitter_ms;
	if (delay < 0)
		delay = 0;

	switch (oc) {
	case FM_O_429:
		status = 429;
		out = fm_error_body("rate_limit_error", "rate_limit_exceeded", "Rate limit reached. Please retry later.");
		break;
	case FM_O_500:
		status = 500;
		out = fm_error_body("server_error", NULL, "The server had an error while processing your request.");
		break;
	case FM_O_HANG:
		status = 0;
		break;
	case FM_O_OK:
	case FM_O_MALFORMED:
	case FM_O_TRUNCATED: {
		/* A repair of a [[fake:malformed]] ticket succeeds unless [[fake:badrepair]]. */
		bool malformed = oc == FM_O_MALFORMED ||
				 ((c.markers & FM_M_MALFORMED) && (!c.repair || (c.markers & FM_M_BADREPAIR)));
		char *content = srv->fixed_answer && !malformed ? fm_xstrdup(srv->fixed_answer)
							       : fm_call_answer(&c, malformed);
		out = fm_completion_body(n, c.model, content, c.prompt_bytes, oc == FM_O_TRUNCATED, k->pad_bytes);
		free(content);
		break;
	}
	}

reply:
	/* a billing refusal says nothing of when to come back */
	ra = k->quota_spent && status == 429 ? -1 : k->retry_after;
	if (c.repair)
		srv->repairs++;
	if (status == 0)
		srv->timeouts++;
	else
		srv->by_status[status]++;
	if (c.ticket_id) {
		struct json_object *cnt;
		if (json_object_object_get_ex(srv->per_ticket, c.ticket_id, &cnt))
			json_object_int_inc(cnt, 1);
		else if (json_object_object_add(srv->per_ticket, c.ticket_id, jx(json_object_new_int64(1))))
			fm_oom();
	}
	fm_request_log(srv, n, &c, status, body, len);
	if (fm_log_min <= FM_L_DEBUG) {
		char q[160];
		FM_LOG(FM_L_DEBUG, "msg=request n=%" PRIu64 " status=%d repair=%s delay_ms=%ld ticket=%s", n, status,
		       c.repair ? "true" : "false", oc == FM_O_HANG ? -1L : delay,
		       fm_quote(q, sizeof(q), c.ticket_id ? c.ticket_id : ""));
	}
	if (status != 0) {
		/* the exchange's id, as each provider names it: Anthropic's request-id,
		 * Azure API Management's apim-request-id, OpenAI's (and most) x-request-id */
		const char *d = srv->set.dialect ? srv->set.dialect : "";
		char v[48];
		int azure = strcmp(d, "azure") == 0;
		if (azure)
			snprintf(v, sizeof(v), "%08" PRIx64 "-fake-4000-8000-%012" PRIx64, n, n);
		else
			snprintf(v, sizeof(v), "req_fake%" PRIu64, n);
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  strcmp(d, "anthropic") == 0 ? "request-id"
				  : azure			 ? "apim-request-id"
								 : "x-request-id",
				  v);
	}
	if (status == 429 && ra >= 0 && k->retry_after_ms > 0) {
		/* Azure OpenAI's milliseconds, beside Retry-After (OpenAI's and Azure's SDKs
		 * read retry-after-ms first) */
		char v[32];
		snprintf(v, sizeof(v), "%ld", k->retry_after_ms);
		evhttp_add_header(evhttp_request_get_output_headers(req), "retry-after-ms", v);
	}
	if (oc == FM_O_HANG)
		fm_pending_start(srv, req, 0, NULL, 0, 0, true, 0);
	else if ((delay > 0 || k->trickle_ms > 0) && status != 400 && status != 401 && status != 413)
		fm_pending_start(srv, req, status, out, ra, delay, false, k->trickle_ms);
	else
		fm_send(req, status, out, "application/json", ra);
	fm_call_cleanup(&c);
}

static void fm_handle_control(struct fm_server *srv, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	struct json_object *o = NULL, *resp = jx(json_object_new_object());
	struct fm_knobs k = srv->set.knobs;
	char err[160] = "", refuse[64] = "";
	bool refuse_set = false;

	o = body ? fm_parse_json(srv, body, len) : NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(err, sizeof(err), "body must be a JSON object");
		goto out;
	}
	/* Validate everything into a copy, then apply all or nothing. */
	json_object_object_foreach(o, key, val)
	{
		const struct fm_knob_def *d = NULL;
		/* {"refuse": "PARAM"} refuses requests carrying PARAM from now on; "" stops */
		if (strcmp(key, "refuse") == 0) {
			if (!json_object_is_type(val, json_type_string) ||
			    json_object_get_string_len(val) >= (int)sizeof(refuse)) {
				snprintf(err, sizeof(err), "refuse: must be a string under 64 bytes");
				goto out;
			}
			snprintf(refuse, sizeof(refuse), "%s", json_object_get_string(val));
			refuse_set = true;
			continue;
		}
		for (size_t i = 0; i < FM_K__COUNT; i++)
			if (strcmp(key, fm_knob_defs[i].key) == 0)
				d = &fm_knob_defs[i];
		if (!d) {
			snprintf(err, sizeof(err), "unknown knob '%.64s'", key);
			goto out;
		}
		if (!json_object_is_type(val, json_type_int) && !json_object_is_type(val, json_type_double)) {
			snprintf(err, sizeof(err), "%s: must be a number", d->key);
			goto out;
		}
		if (fm_knob_set(&k, d, json_object_get_double(val), err, sizeof(err)) != 0)
			goto out;
	}
	srv->set.knobs = k;
	if (refuse_set) {
		snprintf(srv->refuse_buf, sizeof(srv->refuse_buf), "%s", refuse);
		srv->set.refuse = srv->refuse_buf[0] ? srv->refuse_buf : NULL;
		FM_LOG(FM_L_INFO, "msg=\"refuse changed\" refuse=%s", refuse[0] ? refuse : "none");
	}
	FM_LOG(FM_L_INFO,
	       "msg=\"knobs changed\" latency_ms=%ld jitter_ms=%ld rate_429=%g rate_500=%g rate_timeout=%g "
	       "rate_malformed=%g rate_truncated=%g retry_after=%ld pad_bytes=%ld trickle_ms=%ld quota_spent=%ld",
	       k.latency_ms, k.jitter_ms, k.rate_429, k.rate_500, k.rate_timeout, k.rate_malformed, k.rate_truncated,
	       k.retry_after, k.pad_bytes, k.trickle_ms, k.quota_spent);
out:
	jadd(resp, "ok", jx(json_object_new_boolean(err[0] == '\0')));
	if (err[0])
		jadd(resp, "error", jx(json_object_new_string(err)));
	fm_send_json(req, err[0] ? 400 : 200, resp);
	json_object_put(resp);
	json_object_put(o);
}

static void fm_handle_stats(struct fm_server *srv, struct evhttp_request *req)
{
	struct json_object *o = jx(json_object_new_object()), *bs = jx(json_object_new_object());
	uint64_t total = srv->timeouts;

	for (int s = 0; s < FM_STATUS_MAX; s++) {
		char key[16];
		if (!srv->by_status[s])
			continue;
		total += srv->by_status[s];
		snprintf(key, sizeof(key), "%d", s);
		if (json_object_object_add(bs, key, jx(json_object_new_int64((int64_t)srv->by_status[s]))))
			fm_oom();
	}
	jadd(o, "requests", jx(json_object_new_int64((int64_t)total)));
	jadd(o, "by_status", bs);
	jadd(o, "repairs", jx(json_object_new_int64((int64_t)srv->repairs)));
	jadd(o, "refused", jx(json_object_new_int64((int64_t)srv->refused)));
	jadd(o, "timeouts", jx(json_object_new_int64((int64_t)srv->timeouts)));
	jadd(o, "in_flight", jx(json_object_new_int64((int64_t)srv->npending)));
	jadd(o, "per_ticket", json_object_get(srv->per_ticket));
	if (fm_tokens)
		jadd(o, "tokens", json_object_get(fm_tokens));
	fm_send_json(req, 200, o);
	json_object_put(o);
}

static void fm_handle(struct evhttp_request *req, void *arg)
{
	struct fm_server *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (!path || !*path)
		path = "/";
	/* any prefix: /v1 (OpenAI), /v1beta/openai (Gemini), /openai/deployments/NAME (Azure) */
	if (strlen(path) >= 17 && strcmp(path + strlen(path) - 17, "/chat/completions") == 0) {
		if (cmd == EVHTTP_REQ_POST)
			fm_handle_completion(srv, req);
		else
			fm_send_error(req, 405, "invalid_request_error", NULL, "Use POST.");
	} else if (strcmp(path, "/_control") == 0) {
		if (cmd == EVHTTP_REQ_POST)
			fm_handle_control(srv, req);
		else
			fm_send_error(req, 405, "invalid_request_error", NULL, "Use POST.");
	} else if (strcmp(path, "/_stats") == 0) {
		if (cmd == EVHTTP_REQ_GET)
			fm_handle_stats(srv, req);
		else
			fm_send_error(req, 405, "invalid_request_error", NULL, "Use GET.");
	} else if (strcmp(path, "/health") == 0) {
		struct evbuffer *b = fm_buf_new();
		fm_buf_add(b, "ok", 2);
		fm_send(req, 200, b, "text/plain", 0);
	} else {
		fm_send_error(req, 404, "invalid_request_error", "unknown_url", "Unknown request URL.");
	}
}

/* --------------------------------------------------------------- startup */

static void fm_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct fm_server *srv = arg;

	FM_LOG(FM_L_INFO, "msg=\"shutting down\" signal=%d in_flight=%zu", (int)sig, srv->npending);
	event_base_loopexit(srv->base, NULL);
}

static void fm_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		FM_LOG(FM_L_WARN, "msg=\"cannot raise RLIMIT_NOFILE\" err=\"%s\"", strerror(errno));
}

/* Bind and listen on "HOST:PORT" ("[v6]:PORT" too). Returns the socket, or -1 with err. */
static evutil_socket_t fm_listen(const char *spec, int *port_out, char *err, size_t errlen)
{
	char host[256];
	const char *colon, *hs = spec, *he;
	long port;
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	evutil_socket_t fd = -1;
	int one = 1, rc;

	if (spec[0] == '[') {
		hs = spec + 1;
		he = strchr(hs, ']');
		colon = he ? he + 1 : NULL;
		if (!colon || *colon != ':')
			colon = NULL;
	} else {
		colon = strrchr(spec, ':');
		he = colon;
	}
	if (!colon || fm_parse_long(colon + 1, 0, 65535, &port) != 0 || (size_t)(he - hs) >= sizeof(host)) {
		snprintf(err, errlen, "--listen: expected HOST:PORT, got '%.200s'", spec);
		goto fail;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "--listen %.200s: %s", spec, gai_strerror(rc));
		goto fail;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    /* thousands of clients connect at once: a deep backlog (capped by somaxconn) */
	    listen(fd, 65535) != 0 || getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
		snprintf(err, errlen, "--listen %.200s: %s", spec, strerror(errno));
		goto fail;
	}
	*port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(res);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	if (res)
		freeaddrinfo(res);
	return -1;
}

/* Write "PORT\n" to path atomically (temp file + rename). */
static int fm_write_port_file(const char *path, int port, char *err, size_t errlen)
{
	char tmp[4096];
	FILE *f = NULL;
	int rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "--port-file: path too long");
		goto out;
	}
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0) {
		snprintf(err, errlen, "--port-file %.200s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		snprintf(err, errlen, "--port-file %.200s: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "--port-file %.200s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static void fm_server_cleanup(struct fm_server *srv)
{
	/* Frees every connection; their close callbacks release held requests. */
	if (srv->http)
		evhttp_free(srv->http);
	if (srv->pending)
		FM_LOG(FM_L_WARN, "msg=\"requests still held at exit\" count=%zu", srv->npending);
	while (srv->pending)
		fm_pending_free(srv->pending);
	if (srv->ev_int)
		event_free(srv->ev_int);
	if (srv->ev_term)
		event_free(srv->ev_term);
	if (srv->tok)
		json_tokener_free(srv->tok);
	json_object_put(srv->per_ticket);
	fe_model_free(srv->errors);
	free(srv->fixed_answer);
	if (srv->reqlog)
		fclose(srv->reqlog);
	if (srv->base)
		event_base_free(srv->base);
	memset(srv, 0, sizeof(*srv));
}

/*
 * --answer-file: the JSON object every triage answer is, in its compact form
 * (read once at startup; a file that is not one JSON object stops the server).
 */
static char *fm_load_answer(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[65536];
	size_t n;
	struct json_object *o;
	char *s;

	if (!f)
		fm_fatal("msg=\"cannot open answer file\" path=\"%s\" err=\"%s\"", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	o = json_tokener_parse(buf);
	if (n == sizeof(buf) - 1 || !o || !json_object_is_type(o, json_type_object))
		fm_fatal("msg=\"the answer file is not one JSON object under 64 KiB\" path=\"%s\"", path);
	s = fm_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	FM_LOG(FM_L_INFO, "msg=\"fixed answer\" path=\"%s\" bytes=%zu", path, strlen(s));
	return s;
}

int main(int argc, char **argv)
{
	struct fm_server srv;
	struct timeval idle = {3600, 0};
	char err[512];
	evutil_socket_t fd;

	memset(&srv, 0, sizeof(srv));
	fm_settings_init(&srv.set);
	fm_parse_args(argc, argv, &srv.set);
	if (srv.set.verbose)
		fm_log_min = FM_L_DEBUG;
	else if (srv.set.quiet)
		fm_log_min = FM_L_WARN;
	srv.rng = fm_rng_seed(srv.set.seed);
	if (srv.set.error_report) {
		if (!srv.set.error_model || !srv.set.gold_file)
			fm_fatal("msg=\"--error-report needs --error-model SEED and --gold FILE\"");
		if (fe_report(srv.set.error_seed, srv.set.gold_file, "gpt-4o-mini", "gpt-4o", stdout, err,
			      sizeof(err)) != 0)
			fm_fatal("msg=\"error report failed\" err=\"%s\"", err);
		return 0;
	}
	if (srv.set.error_model) {
		srv.errors = fe_model_new(srv.set.error_seed);
		if (srv.set.gold_file) {
			int n = fe_model_load_gold(srv.errors, srv.set.gold_file, err, sizeof(err));
			if (n < 0)
				fm_fatal("msg=\"cannot load gold labels\" err=\"%s\"", err);
			FM_LOG(FM_L_INFO, "msg=\"error model on\" seed=%llu gold=%d", (unsigned long long)srv.set.error_seed, n);
		}
	}

	if (srv.set.answer_file)
		srv.fixed_answer = fm_load_answer(srv.set.answer_file);

	signal(SIGPIPE, SIG_IGN);
	fm_raise_nofile();

	srv.base = event_base_new();
	srv.tok = json_tokener_new();
	srv.per_ticket = json_object_new_object();
	if (!srv.base || !srv.tok || !srv.per_ticket)
		fm_fatal("msg=\"startup allocation failed\"");
	if (srv.set.request_log) {
		srv.reqlog = fopen(srv.set.request_log, "a");
		if (!srv.reqlog)
			fm_fatal("msg=\"cannot open request log\" path=\"%s\" err=\"%s\"", srv.set.request_log,
				 strerror(errno));
	}
	srv.http = evhttp_new(srv.base);
	if (!srv.http)
		fm_fatal("msg=\"evhttp_new failed\"");
	evhttp_set_max_body_size(srv.http, srv.set.max_body);
	/* On 413, read (and drop) the rest of the body first, so the client sees the answer, not EPIPE. */
	if (evhttp_set_flags(srv.http, EVHTTP_SERVER_LINGERING_CLOSE) != 0)
		fm_fatal("msg=\"evhttp_set_flags failed\"");
	/* Held (hung) requests last until the client gives up, so no short server timeout. */
	evhttp_set_timeout_tv(srv.http, &idle);
	evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						     EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(srv.http, fm_handle, &srv);

	fd = fm_listen(srv.set.listen, &srv.port, err, sizeof(err));
	if (fd < 0)
		fm_fatal("msg=\"cannot listen\" err=\"%s\"", err);
	if (!evhttp_accept_socket_with_handle(srv.http, fd)) {
		close(fd);
		fm_fatal("msg=\"cannot accept on socket\" listen=%s", srv.set.listen);
	}

	srv.ev_int = evsignal_new(srv.base, SIGINT, fm_signal_cb, &srv);
	srv.ev_term = evsignal_new(srv.base, SIGTERM, fm_signal_cb, &srv);
	if (!srv.ev_int || !srv.ev_term || evsignal_add(srv.ev_int, NULL) != 0 || evsignal_add(srv.ev_term, NULL) != 0)
		fm_fatal("msg=\"cannot install signal events\"");

	if (srv.set.port_file && fm_write_port_file(srv.set.port_file, srv.port, err, sizeof(err)) != 0)
		fm_fatal("msg=\"cannot write port file\" err=\"%s\"", err);
	FM_LOG(FM_L_INFO, "msg=\"fake model listening\" port=%d", srv.port);

	if (event_base_dispatch(srv.base) < 0)
		FM_LOG(FM_L_ERROR, "msg=\"event loop failed\"");

	fm_server_cleanup(&srv);
	libevent_global_shutdown();
	return 0;
}
