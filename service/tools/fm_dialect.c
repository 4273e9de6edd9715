/*
 * fm_dialect: see fm_dialect.h. Owns which request a strict provider
 * refuses and with which error, and the per-minute window. Must never send
 * a reply or block.
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

#include "fm_util.h"
#include "fm_dialect.h"
#include "fm_server.h"

/* ------------------------------------------------- per-dialect strict modes */
/*
 * --dialect openai-reasoning | azure | anthropic | gemini: refuse what the
 * real service refuses, with its status and error body (the texts are
 * OpenAI's, quoted in issue #11 and tests/fixtures/providers/).
 */

bool fm_reasoning_model(const char *m)
{
	if (!m)
		return false;
	if (strncmp(m, "gpt-5", 5) == 0)
		return true;
	return m[0] == 'o' && (m[1] == '1' || m[1] == '3' || m[1] == '4') && (m[2] == '\0' || m[2] == '-');
}

/*
 * As OpenAI's API reference describes reasoning_effort: gpt-5-pro takes only high; GPT-5.0
 * ("gpt-5", "gpt-5-mini"): minimal/low/medium/high (no none); gpt-5.1: none/low/medium/high;
 * xhigh "for all models after gpt-5.1-codex-max" (5.2 and later); o-series: low/medium/high.
 */
static const char *fm_efforts(const char *m)
{
	if (strncmp(m, "gpt-5", 5) == 0 && strstr(m, "-pro") != NULL)
		return "'high'";
	if (strncmp(m, "gpt-5", 5) == 0 && (m[5] == '\0' || m[5] == '-'))
		return "'minimal', 'low', 'medium', and 'high'";
	if (strncmp(m, "gpt-5.1", 7) == 0 || strncmp(m, "gpt-5.0", 7) == 0)
		return "'none', 'low', 'medium', and 'high'";
	if (strncmp(m, "gpt-5", 5) == 0)
		return "'none', 'low', 'medium', 'high', and 'xhigh'";
	return "'low', 'medium', and 'high'";
}

static bool fm_effort_ok(const char *m, const char *v)
{
	const char *allowed = fm_efforts(m);
	char q[40];
	snprintf(q, sizeof(q), "'%s'", v);
	return strstr(allowed, q) != NULL;
}

/* Strict structured outputs: every object closed and all its properties required; azure without bounds. */
static const char *fm_schema_problem(struct json_object *o, bool no_bounds)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			const char *p = fm_schema_problem(json_object_array_get_idx(o, i), no_bounds);
			if (p)
				return p;
		}
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object))
		return NULL;
	struct json_object *t, *props, *req, *ap;
	if (json_object_object_get_ex(o, "type", &t) && json_object_is_type(t, json_type_string) &&
	    strcmp(json_object_get_string(t), "object") == 0) {
		if (!json_object_object_get_ex(o, "additionalProperties", &ap) || json_object_get_boolean(ap))
			return "'additionalProperties' is required to be supplied and to be false.";
		if (json_object_object_get_ex(o, "properties", &props)) {
			if (!json_object_object_get_ex(o, "required", &req) ||
			    !json_object_is_type(req, json_type_array) ||
			    json_object_array_length(req) != (size_t)json_object_object_length(props))
				return "'required' is required to be supplied and to be an array including every key in properties.";
		}
	}
	json_object_object_foreach(o, k, v)
	{
		if (no_bounds && (strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0 ||
				  strcmp(k, "pattern") == 0 || strcmp(k, "format") == 0))
			return "a keyword is not permitted (minimum, maximum, pattern, format are not supported).";
		const char *p = fm_schema_problem(v, no_bounds);
		if (p)
			return p;
	}
	return NULL;
}

/*
 * --rpm: a fixed one-minute window, as OpenAI describes its limits: every
 * answer carries x-ratelimit-limit-requests, -remaining-requests and
 * -reset-requests; past the limit a 429 whose message says when to try
 * again. Returns true (and *out) when the request is over the limit.
 */
bool fm_rpm_take(struct fm_server *srv, struct evhttp_request *req, long tokens, struct evbuffer **out)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	int64_t now = fm_now_ms(), win = now / 60000, left_ms = (win + 1) * 60000 - now;
	long rpm = srv->set.rpm, tpm = srv->set.tpm;
	char v[64], msg[256];
	bool over_r, over_t;

	if (win != srv->rpm_window) {
		srv->rpm_window = win;
		srv->rpm_used = 0;
		srv->tpm_used = 0;
	}
	over_r = rpm > 0 && srv->rpm_used >= rpm;
	over_t = tpm > 0 && srv->tpm_used + tokens > tpm;
	if (!over_r && !over_t) {
		srv->rpm_used++;
		srv->tpm_used += tokens;
	}
	snprintf(v, sizeof(v), "%.3fs", (double)left_ms / 1000.0);
	if (rpm > 0) {
		char n[32];
		snprintf(n, sizeof(n), "%ld", rpm);
		evhttp_add_header(h, "x-ratelimit-limit-requests", n);
		snprintf(n, sizeof(n), "%ld", rpm - srv->rpm_used);
		evhttp_add_header(h, "x-ratelimit-remaining-requests", n);
		evhttp_add_header(h, "x-ratelimit-reset-requests", v);
	}
	if (tpm > 0) {
		char n[32];
		snprintf(n, sizeof(n), "%ld", tpm);
		evhttp_add_header(h, "x-ratelimit-limit-tokens", n);
		snprintf(n, sizeof(n), "%ld", tpm - srv->tpm_used);
		evhttp_add_header(h, "x-ratelimit-remaining-tokens", n);
		evhttp_add_header(h, "x-ratelimit-reset-tokens", v);
	}
	if (!over_r && !over_t)
		return false;
	if (over_r)
		snprintf(msg, sizeof(msg),
			 "Rate limit reached for requests per min (RPM): Limit %ld, Used %ld, Requested 1. "
			 "Please try again in %.3fs.",
			 rpm, srv->rpm_used, (double)left_ms / 1000.0);
	else
		snprintf(msg, sizeof(msg),
			 "Rate limit reached for tokens per min (TPM): Limit %ld, Used %ld, Requested %ld. "
			 "Please try again in %.3fs.",
			 tpm, srv->tpm_used, tokens, (double)left_ms / 1000.0);
	*out = fm_error_body_param(over_r ? "requests" : "tokens", "rate_limit_exceeded", NULL, msg);
	return true;
}

/* The completion a request asks for: max_completion_tokens, else max_tokens, else 0. */
long fm_asked_completion(struct json_object *root)
{
	struct json_object *v;
	if (root && (json_object_object_get_ex(root, "max_completion_tokens", &v) ||
		     json_object_object_get_ex(root, "max_tokens", &v)))
		return (long)json_object_get_int64(v);
	return 0;
}

/* A body as it is (Azure's and Gemini's error shapes are not OpenAI's). */
static struct evbuffer *fm_raw_body(const char *text)
{
	struct evbuffer *b = fm_buf_new();
	fm_buf_add(b, text, strlen(text));
	return b;
}

/* Gemini's OpenAI-compatible endpoint: a google.rpc error, as a one-element array. */
static struct evbuffer *fm_gemini_error(int code, const char *status, const char *message)
{
	struct json_object *a = jx(json_object_new_array_ext(1)), *o = jx(json_object_new_object());
	struct json_object *e = jx(json_object_new_object());
	struct evbuffer *b = fm_buf_new();
	size_t len;

	jadd(e, "code", jx(json_object_new_int(code)));
	jadd(e, "message", jx(json_object_new_string(message)));
	jadd(e, "status", jx(json_object_new_string(status)));
	jadd(o, "error", e);
	if (json_object_array_add(a, o))
		fm_oom();
	const char *s = json_object_to_json_string_length(a, JSON_C_TO_STRING_PLAIN, &len);
	fm_buf_add(b, s, len);
	json_object_put(a);
	return b;
}

/* The path (and query) each provider serves chat completions under. */
int fm_strict_path(struct fm_server *srv, struct evhttp_request *req, struct evbuffer **out)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *d = srv->set.dialect, *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	const char *want;

	if (!d || !path)
		return 0;
	if (strcmp(d, "azure") == 0) {
		/* /openai/deployments/{deployment}/chat/completions?api-version=V, or the v1 API */
		const char *p = "/openai/deployments/";
		if (strcmp(path, "/openai/v1/chat/completions") == 0)
			return 0;
		if (strncmp(path, p, strlen(p)) == 0 && strchr(path + strlen(p), '/') != NULL &&
		    strcmp(strchr(path + strlen(p), '/'), "/chat/completions") == 0 &&
		    strchr(path + strlen(p), '/') > path + strlen(p)) {
			if (query && (strncmp(query, "api-version=", 12) == 0 || strstr(query, "&api-version=")))
				return 0;
			*out = fm_raw_body("{\"error\":{\"code\":\"404\",\"message\":\"Resource not found\"}}");
			return 404;
		}
		*out = fm_raw_body("{\"error\":{\"code\":\"404\",\"message\":\"Resource not found\"}}");
		return 404;
	}
	if (strcmp(d, "gemini") == 0)
		want = "/v1beta/openai/chat/completions";
	else if (strcmp(d, "anthropic") == 0 || strcmp(d, "openai") == 0 ||
		 strcmp(d, "openai-reasoning") == 0 || strcmp(d, "local") == 0)
		want = "/v1/chat/completions";
	else
		return 0;
	if (strcmp(path, want) == 0)
		return 0;
	if (strcmp(d, "gemini") == 0)
		*out = fm_gemini_error(404, "NOT_FOUND", "Requested entity was not found.");
	else
		*out = fm_error_body_param("invalid_request_error", "unknown_url", NULL, "Unknown request URL.");
	return 404;
}

/* Parameters Gemini's OpenAI-compatible endpoint knows; any other is refused. */
static const char *const fm_gemini_known[] = {
	"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop",
	"stream", "stream_options", "response_format", "reasoning_effort", "tools", "tool_choice", "seed",
	"presence_penalty", "frequency_penalty", "extra_body", "user", NULL,
};

/* 0 when the request is one the dialect's servers take; else the status, with *out the error body. */
int fm_strict_check(struct fm_server *srv, struct json_object *root, const char *model, struct evbuffer **out)
{
	const char *d = srv->set.dialect;
	struct json_object *v, *rf, *js, *schema;
	char msg[300];

	if (srv->set.refuse && *srv->set.refuse && json_object_object_get_ex(root, srv->set.refuse, NULL)) {
		/* in the error shape of the dialect's provider */
		if (d && strcmp(d, "gemini") == 0) {
			snprintf(msg, sizeof(msg), "Invalid JSON payload received. Unknown name \"%.40s\": Cannot find field.",
				 srv->set.refuse);
			*out = fm_gemini_error(400, "INVALID_ARGUMENT", msg);
		} else if (d && strcmp(d, "anthropic") == 0) {
			char body[300];
			snprintf(body, sizeof(body),
				 "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"%.40s: "
				 "Extra inputs are not permitted\"}}",
				 srv->set.refuse);
			*out = fm_raw_body(body);
		} else {
			snprintf(msg, sizeof(msg), "Unrecognized request argument supplied: %s", srv->set.refuse);
			*out = fm_error_body_param("invalid_request_error", "unknown_parameter", srv->set.refuse, msg);
		}
		return 400;
	}
	if (!d)
		return 0;
	if ((strcmp(d, "openai-reasoning") == 0 || strcmp(d, "azure") == 0) && fm_reasoning_model(model)) {
		if (json_object_object_get_ex(root, "max_tokens", NULL)) {
			*out = fm_error_body_param("invalid_request_error", "unsupported_parameter", "max_tokens",
						   "Unsupported parameter: 'max_tokens' is not supported with this model. "
						   "Use 'max_completion_tokens' instead.");
			return 400;
		}
		if (json_object_object_get_ex(root, "temperature", &v) && json_object_get_double(v) != 1.0) {
			snprintf(msg, sizeof(msg),
				 "Unsupported value: 'temperature' does not support %s with this model. Only the "
				 "default (1) value is supported.",
				 json_object_get_string(v));
			*out = fm_error_body_param("invalid_request_error", "unsupported_value", "temperature", msg);
			return 400;
		}
		if (json_object_object_get_ex(root, "reasoning_effort", &v) &&
		    !fm_effort_ok(model, json_object_get_string(v))) {
			snprintf(msg, sizeof(msg),
				 "Unsupported value: 'reasoning_effort' does not support '%.40s' with this model. "
				 "Supported values are: %s.",
				 json_object_get_string(v), fm_efforts(model));
			*out = fm_error_body_param("invalid_request_error", "unsupported_value", "reasoning_effort", msg);
			return 400;
		}
		if (model[0] == 'o' && json_object_object_get_ex(root, "verbosity", NULL)) {
			*out = fm_error_body_param("invalid_request_error", "unsupported_parameter", "verbosity",
						   "Unsupported parameter: 'verbosity' is not supported with this model.");
			return 400;
		}
	}
	if (strcmp(d, "openai") == 0 && !fm_reasoning_model(model)) {
		/* the classic chat models: no reasoning parameters */
		static const char *const reasoning_only[] = {"reasoning_effort", "verbosity", NULL};
		for (int i = 0; reasoning_only[i]; i++)
			if (json_object_object_get_ex(root, reasoning_only[i], NULL)) {
				snprintf(msg, sizeof(msg), "Unsupported parameter: '%s' is not supported with this model.",
					 reasoning_only[i]);
				*out = fm_error_body_param("invalid_request_error", "unsupported_parameter",
							   reasoning_only[i], msg);
				return 400;
			}
	}
	if (strcmp(d, "gemini") == 0) {
		json_object_object_foreach(root, k, gv)
		{
			bool known = false;
			(void)gv;
			for (int i = 0; fm_gemini_known[i]; i++)
				known = known || strcmp(k, fm_gemini_known[i]) == 0;
			if (!known) {
				snprintf(msg, sizeof(msg), "Invalid JSON payload received. Unknown name \"%.40s\": Cannot find field.", k);
				*out = fm_gemini_error(400, "INVALID_ARGUMENT", msg);
				return 400;
			}
		}
		if (json_object_object_get_ex(root, "reasoning_effort", &v)) {
			const char *e = json_object_get_string(v);
			if (strcmp(e, "none") != 0 && strcmp(e, "minimal") != 0 && strcmp(e, "low") != 0 &&
			    strcmp(e, "medium") != 0 && strcmp(e, "high") != 0) {
				*out = fm_gemini_error(400, "INVALID_ARGUMENT", "Invalid reasoning_effort.");
				return 400;
			}
		}
	}
	if (strcmp(d, "openai-reasoning") == 0 || strcmp(d, "azure") == 0 || strcmp(d, "openai") == 0 ||
	    strcmp(d, "gemini") == 0) {
		if (json_object_object_get_ex(root, "response_format", &rf) &&
		    json_object_object_get_ex(rf, "json_schema", &js) &&
		    json_object_object_get_ex(js, "schema", &schema)) {
			const char *p = fm_schema_problem(schema, strcmp(d, "azure") == 0);
			if (p) {
				snprintf(msg, sizeof(msg), "Invalid schema for response_format 'triage': %s", p);
				*out = fm_error_body_param("invalid_request_error", "invalid_json_schema",
							   "response_format", msg);
				return 400;
			}
		}
	}
	if (strcmp(d, "anthropic") == 0 && json_object_object_get_ex(root, "temperature", &v) &&
	    (json_object_get_double(v) < 0 || json_object_get_double(v) > 1)) {
		/* Anthropic's compatibility layer caps above 1; a negative one is refused */
		if (json_object_get_double(v) < 0) {
			*out = fm_error_body_param("invalid_request_error", NULL, NULL,
						   "temperature: Input should be greater than or equal to 0");
			return 400;
		}
	}
	if (strcmp(d, "anthropic") == 0 && json_object_object_get_ex(root, "n", &v) &&
	    json_object_get_int(v) != 1) {
		*out = fm_error_body_param("invalid_request_error", NULL, NULL, "n: must be exactly 1");
		return 400;
	}
	return 0;
}
