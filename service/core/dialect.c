/*
 * dialect: see dialect.h. Owns the dialect table, the automatic choice,
 * and the parsers of what providers answer besides the triage (errors,
 * rate-limit headers, retry hints). Pure: json-c only.
 *
 * Sources (tests/fixtures/providers/README.md names them per fixture):
 * OpenAI's API reference (reasoning models refuse max_tokens and any
 * temperature but the default; GPT-5.0 takes reasoning_effort minimal, 5.1
 * and later none/low/medium/high), Azure OpenAI's REST reference (api-key
 * header, /openai/deployments/{d}/chat/completions?api-version=; strict
 * schemas without minimum/maximum/pattern/format), Gemini's and Anthropic's
 * OpenAI-compatibility pages (Anthropic ignores response_format and
 * reasoning_effort and takes temperature 0..1).
 */
#include "dialect.h"

#include "buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

static const char *const names[DIALECT__COUNT] = {
    "auto", "openai", "openai-reasoning", "azure", "gemini", "anthropic", "local",
};

const char *dialect_name(enum model_dialect d)
{
	return (unsigned)d < DIALECT__COUNT ? names[d] : "?";
}

const char *dialect_mode_name(enum response_format rf)
{
	switch (rf) {
	case RF_JSON_SCHEMA:
		return "json_schema";
	case RF_JSON_OBJECT:
		return "json_object";
	case RF_NONE:
	default:
		return "prompt";
	}
}

static int prefix(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

/* The host of a URL, lower-cased, into out (empty when there is none). */
static void url_host(const char *url, char *out, size_t n)
{
	const char *p = url ? strstr(url, "://") : NULL, *e;
	size_t len, i;

	out[0] = '\0';
	if (p == NULL || n == 0)
		return;
	p += 3;
	e = p + strcspn(p, "/?#");
	/* user:password@ */
	for (const char *q = p; q < e; q++)
		if (*q == '@')
			p = q + 1;
	if (*p == '[') { /* IPv6 literal */
		const char *rb = memchr(p, ']', (size_t)(e - p));
		if (rb != NULL)
			e = rb + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(e - p));
		if (colon != NULL)
			e = colon;
	}
	len = (size_t)(e - p);
	if (len >= n)
		len = n - 1;
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)p[i]);
	out[len] = '\0';
}

static int host_ends(const char *host, const char *suffix)
{
	size_t h = strlen(host), s = strlen(suffix);
	return h >= s && strcmp(host + h - s, suffix) == 0 &&
	       (h == s || host[h - s - 1] == '.' || suffix[0] == '.');
}

int dialect_reasoning_model(const char *model)
{
	const char *m = model ? model : "";
	/* a deployment path such as "openai/gpt-5-mini" names the model last */
	const char *slash = strrchr(m, '/');

	if (slash != NULL)
		m = slash + 1;
	if (prefix(m, "gpt-5"))
		return 1;
	if ((m[0] == 'o' || m[0] == 'O') && (m[1] == '1' || m[1] == '3' || m[1] == '4') &&
	    (m[2] == '\0' || m[2] == '-'))
		return 1;
	/* gpt-6 and later, should they come: assume the reasoning parameters */
	if (prefix(m, "gpt-") && isdigit((unsigned char)m[4]) && m[4] >= '6')
		return 1;
	return 0;
}

/* GPT-5.0: "gpt-5", "gpt-5-mini", "gpt-5-nano", dated "gpt-5-2025-08-07" (not "gpt-5.1"). */
static int gpt5_0(const char *m)
{
	const char *slash = strrchr(m, '/');
	if (slash != NULL)
		m = slash + 1;
	return prefix(m, "gpt-5") && (m[5] == '\0' || m[5] == '-');
}

const char *dialect_default_effort(const char *model)
{
	const char *slash = model ? strrchr(model, '/') : NULL;
	const char *m = slash ? slash + 1 : model;

	if (!dialect_reasoning_model(model))
		return NULL;
	/* "gpt-5-pro defaults to (and only supports) high" (OpenAI's API reference) */
	if (prefix(m, "gpt-5-pro") || (prefix(m, "gpt-5.") && strstr(m, "-pro") != NULL))
		return "high";
	return gpt5_0(model) ? "minimal" : "low";
}

enum model_dialect dialect_resolve(enum model_dialect configured, const char *model,
				   const char *base_url)
{
	char host[256];
	const char *m = model ? model : "";

	if (configured != DIALECT_AUTO && (unsigned)configured < DIALECT__COUNT)
		return configured;
	url_host(base_url, host, sizeof(host));
	if (host_ends(host, "openai.azure.com") || host_ends(host, "cognitiveservices.azure.com") ||
	    host_ends(host, "services.ai.azure.com"))
		return DIALECT_AZURE;
	if (strcmp(host, "generativelanguage.googleapis.com") == 0 || prefix(m, "gemini"))
		return DIALECT_GEMINI;
	if (strcmp(host, "api.anthropic.com") == 0 || prefix(m, "claude"))
		return DIALECT_ANTHROPIC;
	if (dialect_reasoning_model(m))
		return DIALECT_OPENAI_REASONING;
	if (strcmp(host, "api.openai.com") == 0 || prefix(m, "gpt-") || prefix(m, "chatgpt-"))
		return DIALECT_OPENAI;
	/* anything else is a server of one's own: vLLM, llama.cpp, Ollama */
	return DIALECT_LOCAL;
}

void dialect_params_for(const struct model_config *mc, struct dialect_params *p)
{
	const char *effort = mc->reasoning_effort && strcmp(mc->reasoning_effort, "auto") != 0
				 ? mc->reasoning_effort
				 : NULL;
	const char *verbosity =
	    mc->verbosity && strcmp(mc->verbosity, "auto") != 0 ? mc->verbosity : NULL;
	int reasoning = dialect_reasoning_model(mc->model);

	memset(p, 0, sizeof(*p));
	p->dialect = dialect_resolve(mc->dialect, mc->model, mc->base_url);
	p->tokens_key = "max_tokens";
	p->max_tokens = mc->max_tokens;
	p->send_temperature = 1;
	p->temperature = mc->temperature;
	p->best_mode = RF_JSON_SCHEMA;
	switch (p->dialect) {
	case DIALECT_AZURE:
		/* Azure serves both kinds; the model (not the deployment name) tells which */
		p->schema_no_bounds = 1;
		if (!reasoning)
			break;
		/* fall through */
	case DIALECT_OPENAI_REASONING:
		/* reasoning tokens count against max_completion_tokens */
		p->tokens_key = "max_completion_tokens";
		p->max_tokens = mc->max_tokens + mc->reasoning_headroom;
		p->send_temperature = 0;
		p->reasoning_effort = effort ? effort : dialect_default_effort(mc->model);
		if (p->reasoning_effort == NULL)
			p->reasoning_effort = "low";
		/* verbosity is a GPT-5 parameter; the o-series refuse it */
		if (verbosity && mc->model && prefix(mc->model, "gpt-"))
			p->verbosity = verbosity;
		break;
	case DIALECT_GEMINI:
		/* thinking models spend output tokens on thoughts: leave them room */
		p->max_tokens = mc->max_tokens + mc->reasoning_headroom;
		p->reasoning_effort = effort; /* only when asked: some models cannot turn it off */
		break;
	case DIALECT_ANTHROPIC:
		/* takes 0..1 (higher is clamped); ignores response_format and reasoning_effort */
		if (p->temperature > 1.0)
			p->temperature = 1.0;
		p->best_mode = RF_NONE;
		break;
	case DIALECT_OPENAI:
	case DIALECT_LOCAL:
	default:
		p->reasoning_effort = effort;
		break;
	}
}

enum response_format dialect_start_mode(const struct model_config *mc)
{
	struct dialect_params p;
	dialect_params_for(mc, &p);
	/* the enum runs from the strongest mode (json_schema) to the weakest */
	return mc->response_format > p.best_mode ? mc->response_format : p.best_mode;
}

/* Append to an uncapped buffer: failure is a bug. */
static void add(struct buf *b, const char *p, size_t n)
{
	if (buf_append(b, p, n) < 0)
		abort();
}

/* Append s percent-encoded (RFC 3986 unreserved characters kept). */
static void append_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			add(b, s, 1);
		else
			add(b, e, 3);
	}
}

char *dialect_request_url(const struct model_config *mc)
{
	const char *base = mc->base_url ? mc->base_url : "";
	size_t n = strlen(base);
	struct buf b;
	int deployment_url;

	while (n > 0 && base[n - 1] == '/')
		n--;
	buf_init(&b, SIZE_MAX);
	add(&b, base, n);
	if (dialect_resolve(mc->dialect, mc->model, mc->base_url) != DIALECT_AZURE) {
		add(&b, "/chat/completions", 17);
		return buf_steal(&b);
	}
	deployment_url = strstr(b.data ? b.data : "", "/openai/deployments/") != NULL;
	if (n >= 10 && memcmp(base + n - 10, "/openai/v1", 10) == 0) {
		/* the v1 API: OpenAI's paths, the model in the body, no api-version */
		add(&b, "/chat/completions", 17);
		return buf_steal(&b);
	}
	if (!deployment_url) {
		add(&b, "/openai/deployments/", 20);
		append_escaped(&b, mc->deployment && *mc->deployment
				       ? mc->deployment
				       : (mc->model ? mc->model : ""));
	}
	add(&b, "/chat/completions?api-version=", 30);
	append_escaped(&b, mc->api_version ? mc->api_version : "");
	return buf_steal(&b);
}

/* ---- provider errors ------------------------------------------------------ */

static json_object *parse(const char *body, size_t len)
{
	json_tokener *tok;
	json_object *o;

	if (body == NULL || len == 0 || len > (16u << 20))
		return NULL;
	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Copy a string or a number field into out (cut to n, control characters as spaces). */
static void field(json_object *obj, const char *key, char *out, size_t n)
{
	json_object *v;
	const char *s = NULL;
	char num[32];
	size_t i;

	out[0] = '\0';
	if (obj == NULL || !json_object_object_get_ex(obj, key, &v))
		return;
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
	} else if (json_object_is_type(v, json_type_int)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(v));
		s = num;
	} else {
		return;
	}
	for (i = 0; s[i] != '\0' && i + 1 < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
	out[i] = '\0';
	/* do not leave half a UTF-8 sequence at the cut */
	if (s[i] != '\0')
		while (i > 0 && ((unsigned char)out[i - 1] & 0xC0) == 0x80)
			out[--i] = '\0';
	if (i > 0 && s[i] != '\0' && ((unsigned char)out[i - 1] & 0xC0) == 0xC0)
		out[--i] = '\0';
}

/* The error object of a body: root.error, or root[0].error (Gemini). Borrowed. */
static json_object *error_object(json_object *root)
{
	json_object *e;

	if (json_object_is_type(root, json_type_array) && json_object_array_length(root) > 0)
		root = json_object_array_get_idx(root, 0);
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "error", &e) || json_object_is_type(e, json_type_null))
		return NULL;
	return e;
}

int dialect_parse_error(const char *body, size_t len, struct provider_error *e)
{
	json_object *root = parse(body, len), *eo, *st;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	if (root == NULL)
		return -1;
	eo = error_object(root);
	if (eo == NULL)
		goto out;
	if (json_object_is_type(eo, json_type_string)) {
		json_object *wrap = json_object_new_object();
		json_object_object_add(wrap, "message", json_object_get(eo));
		field(wrap, "message", e->message, sizeof(e->message));
		json_object_put(wrap);
		rc = 0;
		goto out;
	}
	if (!json_object_is_type(eo, json_type_object))
		goto out;
	field(eo, "message", e->message, sizeof(e->message));
	field(eo, "type", e->type, sizeof(e->type));
	/* Gemini's "status":"RESOURCE_EXHAUSTED"; not Azure's content-filter "status":400 */
	if (e->type[0] == '\0' && json_object_object_get_ex(eo, "status", &st) &&
	    json_object_is_type(st, json_type_string))
		field(eo, "status", e->type, sizeof(e->type));
	field(eo, "code", e->code, sizeof(e->code));
	field(eo, "param", e->param, sizeof(e->param));
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

void dialect_error_line(long http_status, const struct provider_error *e, char *out, size_t n)
{
	const char *code = e->code[0] ? e->code : e->type;
	int k;

	if (n == 0)
		return;
	k = snprintf(out, n, "%ld%s%s%s%s%s%s", http_status, code[0] ? " " : "", code,
		     e->param[0] ? " " : "", e->param, e->message[0] ? ": " : "", e->message);
	(void)k;
}

int dialect_error_is_response_format(long http_status, const struct provider_error *e)
{
	if (http_status != 400 && http_status != 422)
		return 0;
	if (strncmp(e->param, "response_format", 15) == 0)
		return 1;
	return strstr(e->message, "response_format") != NULL ||
	       strstr(e->message, "json_schema") != NULL ||
	       strstr(e->message, "Invalid schema") != NULL;
}

int dialect_status_is_config_error(long http_status)
{
	return http_status == 400 || http_status == 401 || http_status == 403 || http_status == 404;
}

int dialect_error_is_quota(long http_status, const struct provider_error *e)
{
	/* OpenAI's billing codes (Microsoft Dev Proxy, "OpenAI insufficient_quota"); the
	 * type alone says it too, and older answers carry it as the code, or no code */
	static const char *const codes[] = {"insufficient_quota", "credit_balance_exhausted",
					    "organization_spend_limit_exceeded",
					    "project_spend_limit_exceeded",
					    "organization_usage_limit_exceeded"};
	if (http_status != 429 || e == NULL)
		return 0;
	if (strcmp(e->type, "insufficient_quota") == 0)
		return 1;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(e->code, codes[i]) == 0)
			return 1;
	return 0;
}

enum config_verdict dialect_config_verdict(const struct config_watch *seen,
					   const struct config_watch *now, double now_ms,
					   double until_ms)
{
	if (now->misconfigs > seen->misconfigs)
		return VERDICT_TIER;
	if (now->answered > seen->answered || now_ms >= until_ms)
		return VERDICT_OWN;
	return VERDICT_WAIT;
}

/* ---- rate limits ---------------------------------------------------------- */

int dialect_parse_duration(const char *s, size_t len, uint32_t *ms)
{
	const char *p = s, *e = s + len;
	double total = 0;
	int parts = 0;

	while (p < e && isspace((unsigned char)*p))
		p++;
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	while (p < e) {
		double v = 0, scale = 0;
		int digits = 0;
		while (p < e && isdigit((unsigned char)*p)) {
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (p < e && *p == '.') {
			double f = 0.1;
			p++;
			while (p < e && isdigit((unsigned char)*p)) {
				v += (*p++ - '0') * f;
				f /= 10;
				digits++;
			}
		}
		if (digits == 0 || p >= e)
			return -1;
		if (e - p >= 2 && p[0] == 'm' && p[1] == 's') {
			scale = 1;
			p += 2;
		} else if (*p == 'h') {
			scale = 3600000;
			p++;
		} else if (*p == 'm') {
			scale = 60000;
			p++;
		} else if (*p == 's') {
			scale = 1000;
			p++;
		} else {
			return -1;
		}
		total += v * scale;
		parts++;
	}
	if (parts == 0)
		return -1;
	if (total > 86400000.0)
		total = 86400000.0;
	*ms = (uint32_t)total;
	if ((double)*ms < total)
		(*ms)++;
	return 0;
}

static int parse_count(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;
	size_t i = 0;

	while (i < len && isspace((unsigned char)s[i]))
		i++;
	if (i == len || !isdigit((unsigned char)s[i]))
		return -1;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	while (i < len && isspace((unsigned char)s[i]))
		i++;
	if (i != len)
		return -1;
	*out = v;
	return 0;
}

int dialect_ratelimit_header(struct ratelimit *rl, const char *line, size_t len)
{
	static const char pre[] = "x-ratelimit-";
	const char *colon = memchr(line, ':', len), *v;
	size_t nlen, vlen;
	int64_t n;
	uint32_t ms;

	if (colon == NULL || len < sizeof(pre) || strncasecmp(line, pre, sizeof(pre) - 1) != 0)
		return 0;
	nlen = (size_t)(colon - line) - (sizeof(pre) - 1);
	v = colon + 1;
	vlen = len - (size_t)(v - line);
	while (vlen > 0 && (v[vlen - 1] == '\n' || v[vlen - 1] == '\r'))
		vlen--;
#define NAME_IS(lit)                                                                               \
	(nlen == sizeof(lit) - 1 && strncasecmp(line + sizeof(pre) - 1, lit, nlen) == 0)
	if (NAME_IS("limit-requests") && parse_count(v, vlen, &n) == 0) {
		rl->has_limit_requests = 1;
		rl->limit_requests = n;
	} else if (NAME_IS("limit-tokens") && parse_count(v, vlen, &n) == 0) {
		rl->has_limit_tokens = 1;
		rl->limit_tokens = n;
	} else if (NAME_IS("remaining-requests") && parse_count(v, vlen, &n) == 0) {
		rl->has_remaining_requests = 1;
		rl->remaining_requests = n;
	} else if (NAME_IS("remaining-tokens") && parse_count(v, vlen, &n) == 0) {
		rl->has_remaining_tokens = 1;
		rl->remaining_tokens = n;
	} else if (NAME_IS("reset-requests") && dialect_parse_duration(v, vlen, &ms) == 0) {
		rl->has_reset_requests = 1;
		rl->reset_requests_ms = ms;
	} else if (NAME_IS("reset-tokens") && dialect_parse_duration(v, vlen, &ms) == 0) {
		rl->has_reset_tokens = 1;
		rl->reset_tokens_ms = ms;
	} else {
		return 0;
	}
#undef NAME_IS
	return 1;
}

uint32_t dialect_ratelimit_wait_ms(const struct ratelimit *rl)
{
	uint32_t w = 0;

	if (rl->has_remaining_requests && rl->remaining_requests <= 0 && rl->has_reset_requests)
		w = rl->reset_requests_ms;
	if (rl->has_remaining_tokens && rl->remaining_tokens <= 0 && rl->has_reset_tokens &&
	    rl->reset_tokens_ms > w)
		w = rl->reset_tokens_ms;
	return w;
}

double dialect_pace_ms(const struct ratelimit *rl, uint32_t in_flight, int64_t est_tokens)
{
	double req = 0, tok = 0;

	if (rl->has_remaining_requests && rl->has_reset_requests) {
		int64_t left = rl->remaining_requests - (int64_t)in_flight;
		req = (double)rl->reset_requests_ms / (double)(left > 1 ? left : 1);
	}
	if (est_tokens > 0 && rl->has_remaining_tokens && rl->has_reset_tokens) {
		/* Azure may say -1 (no figure): has_remaining_tokens is then unset */
		int64_t tokens = rl->remaining_tokens - (int64_t)in_flight * est_tokens;
		int64_t left = tokens > 0 ? tokens / est_tokens : 0;
		tok = (double)rl->reset_tokens_ms / (double)(left > 1 ? left : 1);
	}
	return req > tok ? req : tok;
}

/* "try again in 1.2s" / "retry in 20ms" inside a message. */
static int hint_in_message(const char *msg, uint32_t *ms)
{
	static const char *const needles[] = {"try again in ", "retry in ", "Try again in "};

	for (size_t i = 0; i < ARRAY_SIZE(needles); i++) {
		const char *p = strstr(msg, needles[i]), *q;
		if (p == NULL)
			continue;
		p += strlen(needles[i]);
		q = p;
		while (*q && (isdigit((unsigned char)*q) || *q == '.' || *q == 'h' || *q == 'm' ||
			      *q == 's'))
			q++;
		/* a sentence's full stop after the unit */
		while (q > p && q[-1] == '.')
			q--;
		if (q > p && dialect_parse_duration(p, (size_t)(q - p), ms) == 0)
			return 0;
	}
	return -1;
}

int dialect_retry_hint(const char *body, size_t len, uint32_t *ms)
{
	json_object *root = parse(body, len), *eo, *details, *m;
	int rc = -1;

	if (root == NULL)
		return -1;
	eo = error_object(root);
	if (eo == NULL || !json_object_is_type(eo, json_type_object))
		goto out;
	if (json_object_object_get_ex(eo, "details", &details) &&
	    json_object_is_type(details, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(details); i++) {
			json_object *d = json_object_array_get_idx(details, i), *rd;
			if (json_object_is_type(d, json_type_object) &&
			    json_object_object_get_ex(d, "retryDelay", &rd) &&
			    json_object_is_type(rd, json_type_string) &&
			    dialect_parse_duration(json_object_get_string(rd),
						   (size_t)json_object_get_string_len(rd),
						   ms) == 0) {
				rc = 0;
				goto out;
			}
		}
	}
	if (json_object_object_get_ex(eo, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		rc = hint_in_message(json_object_get_string(m), ms);
out:
	json_object_put(root);
	return rc;
}
