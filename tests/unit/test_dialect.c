/*
 * Unit tests for dialect: the automatic choice, the parameters each dialect
 * sends (checked on requests rendered by prompt and parsed back), the strict
 * schema rules, and the provider answers recorded in
 * tests/fixtures/providers/ (errors, rate-limit headers, retry hints, usage).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "answer.h"
#include "backoff.h"
#include "config.h"
#include "dialect.h"
#include "prompt.h"
#include "textfile.h"

#ifndef TRIAGED_SOURCE_DIR
#error "TRIAGED_SOURCE_DIR must be defined (CMake does it for unit tests)"
#endif
#define FIXTURES TRIAGED_SOURCE_DIR "/tests/fixtures/providers/"

static const char *const cats[] = {"billing", "technical", "account"};
static const struct taxonomy tax = {cats, ARRAY_SIZE(cats)};

/* A fixture file's text (new string). */
static char *fixture(const char *name)
{
	char err[256], path[512];
	char *t;

	snprintf(path, sizeof(path), "%s%s", FIXTURES, name);
	t = textfile_read(path, 1 << 20, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	return t;
}

/* ---- the automatic choice (the README table) ---- */

static const struct {
	const char *model, *url;
	enum model_dialect want;
} auto_cases[] = {
    {"gpt-4o-mini", "https://api.openai.com/v1", DIALECT_OPENAI},
    {"gpt-4.1", "https://api.openai.com/v1", DIALECT_OPENAI},
    {"gpt-5.4-mini", "https://api.openai.com/v1", DIALECT_OPENAI_REASONING},
    {"gpt-5.4", "http://127.0.0.1:8080/v1", DIALECT_OPENAI_REASONING},
    {"gpt-5-mini", "https://api.openai.com/v1", DIALECT_OPENAI_REASONING},
    {"o3", "https://api.openai.com/v1", DIALECT_OPENAI_REASONING},
    {"o4-mini", "https://api.openai.com/v1", DIALECT_OPENAI_REASONING},
    {"gpt-4o-mini", "https://myres.openai.azure.com", DIALECT_AZURE},
    {"gpt-5.4-mini", "https://myres.cognitiveservices.azure.com/", DIALECT_AZURE},
    {"gemini-2.5-flash", "https://generativelanguage.googleapis.com/v1beta/openai", DIALECT_GEMINI},
    {"gemini-2.5-flash", "http://127.0.0.1:4000/v1", DIALECT_GEMINI},
    {"claude-haiku-4-5", "https://api.anthropic.com/v1", DIALECT_ANTHROPIC},
    {"anything", "https://api.anthropic.com/v1/", DIALECT_ANTHROPIC},
    {"qwen2.5-7b-instruct", "http://127.0.0.1:8000/v1", DIALECT_LOCAL},
    {"llama3.1:8b", "http://localhost:11434/v1", DIALECT_LOCAL},
    {"gpt-4o-mini", "http://127.0.0.1:8080/v1", DIALECT_OPENAI},
    {"gpt-4o-mini", "http://user:pw@evil.openai.azure.com.example.org/v1", DIALECT_OPENAI},
};

START_TEST(test_auto)
{
	ck_assert_msg(
	    dialect_resolve(DIALECT_AUTO, auto_cases[_i].model, auto_cases[_i].url) ==
		auto_cases[_i].want,
	    "%s at %s: got %s, want %s", auto_cases[_i].model, auto_cases[_i].url,
	    dialect_name(dialect_resolve(DIALECT_AUTO, auto_cases[_i].model, auto_cases[_i].url)),
	    dialect_name(auto_cases[_i].want));
	/* a configured dialect always wins */
	ck_assert_int_eq(dialect_resolve(DIALECT_LOCAL, auto_cases[_i].model, auto_cases[_i].url),
			 DIALECT_LOCAL);
}
END_TEST

static const struct {
	const char *model, *effort;
} effort_cases[] = {
    {"gpt-5", "minimal"},
    {"gpt-5-mini", "minimal"},
    {"gpt-5-nano", "minimal"},
    {"gpt-5-2025-08-07", "minimal"},
    {"gpt-5.1", "low"},
    {"gpt-5-pro", "high"},
    {"gpt-5.2-pro", "high"},
    {"gpt-5.2-mini", "low"},
    {"gpt-5.4-mini", "low"},
    {"gpt-5.4", "low"},
    {"o3", "low"},
    {"o4-mini", "low"},
    {"gpt-4o-mini", NULL},
    {"gpt-4.1", NULL},
    {"o", NULL},
    {"omni-local", NULL},
};

START_TEST(test_default_effort)
{
	const char *got = dialect_default_effort(effort_cases[_i].model);
	if (effort_cases[_i].effort == NULL)
		ck_assert_msg(got == NULL, "%s: got %s", effort_cases[_i].model, got);
	else
		ck_assert_msg(got && strcmp(got, effort_cases[_i].effort) == 0, "%s: got %s",
			      effort_cases[_i].model, got ? got : "NULL");
}
END_TEST

/* ---- rendered requests ---- */

struct rq {
	struct config cfg;
	struct ticket t;
	json_object *req;
};

static void rq_init(struct rq *r, const char *model, const char *url, enum model_dialect d)
{
	memset(r, 0, sizeof(*r));
	config_init(&r->cfg);
	free(r->cfg.mini.model);
	r->cfg.mini.model = strdup(model);
	free(r->cfg.mini.base_url);
	r->cfg.mini.base_url = strdup(url);
	r->cfg.mini.dialect = d;
	r->t.ticket_id = (char *)"T-1";
	r->t.subject = (char *)"Charged twice";
	r->t.body = (char *)"I was charged twice for my order.";
	r->t.body_len = r->t.body_prompt_len = strlen(r->t.body);
}

static void set_str(char **f, const char *v)
{
	free(*f);
	*f = strdup(v);
}

/* Render with the real triage prompt; parse back into r->req (and check the frame gives the same
 * bytes). */
static json_object *rq_render(struct rq *r)
{
	char err[256];
	struct prompt *p =
	    prompt_load(TRIAGED_SOURCE_DIR "/prompts", "triage-v1", err, sizeof(err));
	struct prompt_vars v = {.ticket = &r->t, .tax = &tax};
	struct prompt_frame *f;
	char *s, *fs;

	ck_assert_msg(p != NULL, "%s", err);
	s = prompt_render_request(p, NULL, &r->cfg.mini, &v, 1 << 20, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	f = prompt_frame_new(p, &r->cfg.mini, &tax, err, sizeof(err));
	ck_assert_msg(f != NULL, "%s", err);
	fs = prompt_frame_render(f, p, &v, 1 << 20, err, sizeof(err));
	ck_assert_str_eq(fs, s);
	json_object_put(r->req);
	r->req = json_tokener_parse(s);
	ck_assert_ptr_nonnull(r->req);
	free(s);
	free(fs);
	prompt_frame_free(f);
	prompt_free(p);
	return r->req;
}

static void rq_cleanup(struct rq *r)
{
	json_object_put(r->req);
	config_cleanup(&r->cfg);
}

static int has(json_object *o, const char *k)
{
	return json_object_object_get_ex(o, k, NULL);
}

static const char *str(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t num(json_object *o, const char *k)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, k, &v), "%s missing", k);
	return json_object_get_int64(v);
}

START_TEST(test_openai_classic)
{
	struct rq r;
	json_object *q;
	rq_init(&r, "gpt-4o-mini", "https://api.openai.com/v1", DIALECT_AUTO);
	q = rq_render(&r);
	ck_assert_int_eq(num(q, "max_tokens"), 600);
	ck_assert(has(q, "temperature"));
	ck_assert(!has(q, "max_completion_tokens"));
	ck_assert(!has(q, "reasoning_effort"));
	ck_assert(!has(q, "verbosity"));
	ck_assert(has(q, "response_format"));
	rq_cleanup(&r);
}
END_TEST

START_TEST(test_openai_reasoning)
{
	struct rq r;
	json_object *q;
	rq_init(&r, "gpt-5.4-mini", "https://api.openai.com/v1", DIALECT_AUTO);
	q = rq_render(&r);
	ck_assert(!has(q, "max_tokens"));
	ck_assert(!has(q, "temperature"));
	ck_assert_int_eq(num(q, "max_completion_tokens"), 600 + 2048);
	ck_assert_str_eq(str(q, "reasoning_effort"), "low");
	ck_assert(!has(q, "verbosity"));
	/* configured values are sent as given */
	set_str(&r.cfg.mini.reasoning_effort, "none");
	set_str(&r.cfg.mini.verbosity, "low");
	r.cfg.mini.reasoning_headroom = 0;
	q = rq_render(&r);
	ck_assert_str_eq(str(q, "reasoning_effort"), "none");
	ck_assert_str_eq(str(q, "verbosity"), "low");
	ck_assert_int_eq(num(q, "max_completion_tokens"), 600);
	/* GPT-5.0: minimal; the o-series: no verbosity */
	set_str(&r.cfg.mini.model, "gpt-5-mini");
	set_str(&r.cfg.mini.reasoning_effort, "auto");
	q = rq_render(&r);
	ck_assert_str_eq(str(q, "reasoning_effort"), "minimal");
	set_str(&r.cfg.mini.model, "o4-mini");
	q = rq_render(&r);
	ck_assert_str_eq(str(q, "reasoning_effort"), "low");
	ck_assert(!has(q, "verbosity"));
	rq_cleanup(&r);
}
END_TEST

START_TEST(test_azure)
{
	struct rq r;
	json_object *q;
	rq_init(&r, "gpt-4o", "https://myres.openai.azure.com", DIALECT_AUTO);
	q = rq_render(&r);
	ck_assert_int_eq(num(q, "max_tokens"), 600);
	ck_assert(has(q, "temperature"));
	/* a reasoning model deployed on Azure takes the reasoning parameters */
	set_str(&r.cfg.mini.model, "gpt-5.4-mini");
	q = rq_render(&r);
	ck_assert(!has(q, "max_tokens"));
	ck_assert(!has(q, "temperature"));
	ck_assert_str_eq(str(q, "reasoning_effort"), "low");
	rq_cleanup(&r);
}
END_TEST

START_TEST(test_gemini_anthropic_local)
{
	struct rq r;
	json_object *q;
	rq_init(&r, "gemini-2.5-flash", "https://generativelanguage.googleapis.com/v1beta/openai",
		DIALECT_AUTO);
	q = rq_render(&r);
	ck_assert_int_eq(num(q, "max_tokens"), 600 + 2048);
	ck_assert(has(q, "temperature"));
	ck_assert(!has(q, "reasoning_effort"));
	ck_assert(has(q, "response_format"));
	rq_cleanup(&r);

	rq_init(&r, "claude-haiku-4-5", "https://api.anthropic.com/v1", DIALECT_AUTO);
	r.cfg.mini.temperature = 1.5;
	set_str(&r.cfg.mini.reasoning_effort, "low");
	q = rq_render(&r);
	ck_assert_int_eq(num(q, "max_tokens"), 600);
	ck_assert(!has(q, "response_format")); /* ignored there: prompt-only, checked locally */
	ck_assert(has(q, "reasoning_effort") == 0);
	{
		json_object *t;
		ck_assert(json_object_object_get_ex(q, "temperature", &t));
		ck_assert_double_eq(json_object_get_double(t), 1.0);
	}
	ck_assert_int_eq(dialect_start_mode(&r.cfg.mini), RF_NONE);
	rq_cleanup(&r);

	rq_init(&r, "qwen2.5-7b-instruct", "http://127.0.0.1:8000/v1", DIALECT_AUTO);
	q = rq_render(&r);
	ck_assert_int_eq(num(q, "max_tokens"), 600);
	ck_assert(has(q, "temperature"));
	ck_assert(has(q, "response_format"));
	/* the fallback steps: json_object, then the prompt alone */
	r.cfg.mini.response_format = RF_JSON_OBJECT;
	q = rq_render(&r);
	ck_assert_str_eq(str(json_object_object_get(q, "response_format"), "type"), "json_object");
	r.cfg.mini.response_format = RF_NONE;
	q = rq_render(&r);
	ck_assert(!has(q, "response_format"));
	rq_cleanup(&r);
}
END_TEST

/* ---- the strict schema ---- */

static int forbidden_key(const char *k)
{
	return strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0 ||
	       strcmp(k, "pattern") == 0 || strcmp(k, "format") == 0;
}

/* Walk every value; count objects; fail on a strict-mode violation. */
static void check_strict(json_object *o, int azure, int *nobjects, const char *path)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			check_strict(json_object_array_get_idx(o, i), azure, nobjects, path);
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	if (str(o, "type") && strcmp(str(o, "type"), "object") == 0) {
		json_object *props, *req, *ap;
		(*nobjects)++;
		ck_assert_msg(json_object_object_get_ex(o, "properties", &props),
			      "%s: no properties", path);
		ck_assert_msg(json_object_object_get_ex(o, "additionalProperties", &ap) &&
				  json_object_is_type(ap, json_type_boolean) &&
				  !json_object_get_boolean(ap),
			      "%s: additionalProperties is not false", path);
		ck_assert_msg(json_object_object_get_ex(o, "required", &req) &&
				  json_object_is_type(req, json_type_array),
			      "%s: no required", path);
		ck_assert_uint_eq(json_object_array_length(req),
				  (size_t)json_object_object_length(props));
		json_object_object_foreach(props, k, v)
		{
			int found = 0;
			(void)v;
			for (size_t i = 0; i < json_object_array_length(req); i++)
				if (strcmp(
					json_object_get_string(json_object_array_get_idx(req, i)),
					k) == 0)
					found = 1;
			ck_assert_msg(found, "%s: property %s is not required", path, k);
		}
	}
	json_object_object_foreach(o, k, v)
	{
		if (azure)
			ck_assert_msg(!forbidden_key(k), "%s: azure refuses '%s'", path, k);
		check_strict(v, azure, nobjects, k);
	}
}

START_TEST(test_strict_schema)
{
	static const struct {
		const char *model, *url;
		int azure;
	} cases[] = {
	    {"gpt-4o-mini", "https://api.openai.com/v1", 0},
	    {"gpt-5.4-mini", "https://api.openai.com/v1", 0},
	    {"gpt-4o", "https://myres.openai.azure.com", 1},
	    {"gpt-5.4", "https://myres.openai.azure.com", 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rq r;
		json_object *q, *rf, *js, *schema, *strict;
		int n = 0;
		rq_init(&r, cases[i].model, cases[i].url, DIALECT_AUTO);
		q = rq_render(&r);
		ck_assert(json_object_object_get_ex(q, "response_format", &rf));
		ck_assert_str_eq(str(rf, "type"), "json_schema");
		ck_assert(json_object_object_get_ex(rf, "json_schema", &js));
		ck_assert(json_object_object_get_ex(js, "strict", &strict) &&
			  json_object_get_boolean(strict));
		ck_assert(json_object_object_get_ex(js, "schema", &schema));
		check_strict(schema, cases[i].azure, &n, "schema");
		ck_assert_int_ge(n, 1);
		if (!cases[i].azure) /* OpenAI keeps the bounds: the walk must see them */
			ck_assert_ptr_nonnull(
			    strstr(json_object_to_json_string(schema), "\"minimum\""));
		rq_cleanup(&r);
	}
}
END_TEST

/* The static part comes first: two tickets' requests share everything up to the ticket. */
START_TEST(test_static_prefix)
{
	struct rq r;
	char *a, *b;
	size_t same = 0;
	const char *ta;
	rq_init(&r, "gpt-5.4-mini", "https://api.openai.com/v1", DIALECT_AUTO);
	a = strdup(json_object_to_json_string_ext(rq_render(&r), JSON_C_TO_STRING_PLAIN));
	r.t.body = (char *)"A completely different ticket body.";
	r.t.body_len = r.t.body_prompt_len = strlen(r.t.body);
	b = strdup(json_object_to_json_string_ext(rq_render(&r), JSON_C_TO_STRING_PLAIN));
	while (a[same] && a[same] == b[same])
		same++;
	ta = strstr(a, "<ticket>");
	ck_assert_ptr_nonnull(ta);
	/* the first difference is inside the ticket, after the whole system prompt */
	ck_assert_uint_ge(same, (size_t)(ta - a));
	ck_assert_ptr_nonnull(strstr(a, "\"role\":\"system\""));
	ck_assert(strstr(a, "\"role\":\"system\"") < ta);
	free(a);
	free(b);
	rq_cleanup(&r);
}
END_TEST

/* ---- request URLs ---- */

START_TEST(test_urls)
{
	static const struct {
		const char *model, *url, *deployment;
		enum model_dialect d;
		const char *want;
	} cases[] = {
	    {"gpt-5.4-mini", "https://api.openai.com/v1/", "", DIALECT_AUTO,
	     "https://api.openai.com/v1/chat/completions"},
	    {"gpt-4o", "https://res.openai.azure.com", "", DIALECT_AUTO,
	     "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
	     "?api-version=2024-10-21"},
	    {"gpt-4o", "https://res.openai.azure.com/", "triage mini/x", DIALECT_AUTO,
	     "https://res.openai.azure.com/openai/deployments/triage%20mini%2Fx/chat/completions"
	     "?api-version=2024-10-21"},
	    /* a base_url that already names the deployment (as the README once said) */
	    {"gpt-4o", "https://res.openai.azure.com/openai/deployments/dep1", "", DIALECT_AUTO,
	     "https://res.openai.azure.com/openai/deployments/dep1/chat/completions"
	     "?api-version=2024-10-21"},
	    /* the v1 API: no deployment, no api-version */
	    {"gpt-5.4", "https://res.openai.azure.com/openai/v1/", "", DIALECT_AUTO,
	     "https://res.openai.azure.com/openai/v1/chat/completions"},
	    {"gpt-4o", "http://127.0.0.1:9000", "d", DIALECT_AZURE,
	     "http://127.0.0.1:9000/openai/deployments/d/chat/completions?api-version=2024-10-21"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rq r;
		char *u;
		rq_init(&r, cases[i].model, cases[i].url, cases[i].d);
		set_str(&r.cfg.mini.deployment, cases[i].deployment);
		u = dialect_request_url(&r.cfg.mini);
		ck_assert_str_eq(u, cases[i].want);
		free(u);
		rq_cleanup(&r);
	}
}
END_TEST

/* ---- provider errors ---- */

static const struct {
	const char *file;
	long status;
	const char *message_start, *type, *code, *param;
	int is_rf;
	const char *line_start;
} error_cases[] = {
    {"openai_400_max_tokens.json", 400, "Unsupported parameter: 'max_tokens'",
     "invalid_request_error", "unsupported_parameter", "max_tokens", 0,
     "400 unsupported_parameter max_tokens: Unsupported parameter"},
    {"openai_400_temperature.json", 400, "Unsupported value: 'temperature'",
     "invalid_request_error", "unsupported_value", "temperature", 0,
     "400 unsupported_value temperature: "},
    {"openai_400_reasoning_effort.json", 400, "Unsupported value: 'reasoning_effort'",
     "invalid_request_error", "unsupported_value", "reasoning_effort", 0,
     "400 unsupported_value reasoning_effort"},
    {"openai_401.json", 401, "Incorrect API key", "invalid_request_error", "invalid_api_key", "", 0,
     "401 invalid_api_key: Incorrect"},
    {"openai_429_tpm.json", 429, "Rate limit reached", "tokens", "rate_limit_exceeded", "", 0,
     "429 rate_limit_exceeded: Rate limit"},
    {"openai_429_quota.json", 429, "You exceeded your current quota", "insufficient_quota",
     "insufficient_quota", "", 0, "429 insufficient_quota: You exceeded"},
    {"azure_400_schema.json", 400, "Invalid schema for response_format", "invalid_request_error",
     "", "response_format", 1, "400 invalid_request_error response_format: Invalid"},
    {"azure_404_deployment.json", 404, "The API deployment", "", "DeploymentNotFound", "", 0,
     "404 DeploymentNotFound: The API"},
    {"gemini_429_retrydelay.json", 429, "You exceeded your current quota", "RESOURCE_EXHAUSTED",
     "429", "", 0, "429 429: You exceeded"},
    {"anthropic_400.json", 400, "max_tokens: Field required", "invalid_request_error", "", "", 0,
     "400 invalid_request_error: max_tokens"},
    {"azure_400_content_filter.json", 400, "The response was filtered", "", "content_filter",
     "prompt", 0, "400 content_filter prompt: The response was filtered"},
    {"openai_400_context_length.json", 400, "This model's maximum context length",
     "invalid_request_error", "context_length_exceeded", "messages", 0,
     "400 context_length_exceeded messages: This model's"},
};

START_TEST(test_errors)
{
	char *body = fixture(error_cases[_i].file), line[512];
	struct provider_error e;

	ck_assert_int_eq(dialect_parse_error(body, strlen(body), &e), 0);
	ck_assert_msg(strncmp(e.message, error_cases[_i].message_start,
			      strlen(error_cases[_i].message_start)) == 0,
		      "message '%s'", e.message);
	ck_assert_str_eq(e.type, error_cases[_i].type);
	ck_assert_str_eq(e.code, error_cases[_i].code);
	ck_assert_str_eq(e.param, error_cases[_i].param);
	ck_assert_int_eq(dialect_error_is_response_format(error_cases[_i].status, &e),
			 error_cases[_i].is_rf);
	dialect_error_line(error_cases[_i].status, &e, line, sizeof(line));
	ck_assert_msg(
	    strncmp(line, error_cases[_i].line_start, strlen(error_cases[_i].line_start)) == 0,
	    "line '%s'", line);
	free(body);
}
END_TEST

/* Pacing spreads tokens as well as requests (#11.5). */
START_TEST(test_pace)
{
	struct ratelimit rl;
	char *raw = fixture("openai_ratelimit_spent.txt");
	const char *p = raw;

	/* no headers: no pacing */
	memset(&rl, 0, sizeof(rl));
	ck_assert_double_eq(dialect_pace_ms(&rl, 0, 1000), 0);
	/* requests only: 60 s over 60 left, less 10 in flight: 60000 / 50 */
	rl.has_remaining_requests = rl.has_reset_requests = 1;
	rl.remaining_requests = 60;
	rl.reset_requests_ms = 60000;
	ck_assert_double_eq_tol(dialect_pace_ms(&rl, 10, 0), 1200, 0.001);
	/* tokens bind harder: 100,000 left over 60 s at 2,000 a request, 10 in flight
	 * (20,000 spoken for): 40 requests -> one every 1.5 s */
	rl.has_remaining_tokens = rl.has_reset_tokens = 1;
	rl.remaining_tokens = 100000;
	rl.reset_tokens_ms = 60000;
	ck_assert_double_eq_tol(dialect_pace_ms(&rl, 10, 2000), 1500, 0.001);
	/* without an estimate the tokens are not used */
	ck_assert_double_eq_tol(dialect_pace_ms(&rl, 10, 0), 1200, 0.001);
	/* plenty of tokens: the requests decide */
	rl.remaining_tokens = 10000000;
	ck_assert_double_eq_tol(dialect_pace_ms(&rl, 10, 2000), 1200, 0.001);
	/* tokens spent by what is in flight: the whole reset (the next window) */
	rl.remaining_tokens = 15000;
	ck_assert_double_eq_tol(dialect_pace_ms(&rl, 10, 2000), 60000, 0.001);
	/* the recorded headers: 149,000 tokens over 1.2 s at 1,000 a request (149 left) vs
	 * no request left in 6m0s: the requests' reset wins */
	memset(&rl, 0, sizeof(rl));
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p + 1) : strlen(p);
		(void)dialect_ratelimit_header(&rl, p, n);
		p += n;
	}
	ck_assert_double_eq_tol(dialect_pace_ms(&rl, 0, 1000), 360000, 0.001);
	/* 600 requests left within 1 s (one every 1.7 ms): now the tokens bind */
	rl.remaining_requests = 600;
	rl.reset_requests_ms = 1000;
	ck_assert_double_eq_tol(dialect_pace_ms(&rl, 0, 1000), 1200.0 / 149, 0.001);
	/* Azure's "x-ratelimit-remaining-tokens: -1" is no figure: not parsed */
	memset(&rl, 0, sizeof(rl));
	ck_assert_int_eq(dialect_ratelimit_header(&rl, "x-ratelimit-remaining-tokens: -1\r\n", 34),
			 0);
	ck_assert_int_eq(rl.has_remaining_tokens, 0);
	free(raw);
}
END_TEST

/* A 400 below config_errors under hold waits for the tier's verdict (#11). */
START_TEST(test_config_verdict)
{
	static const struct {
		struct config_watch seen, now;
		double now_ms, until_ms;
		enum config_verdict want;
	} cases[] = {
	    /* nothing happened on the tier yet: wait, no request */
	    {{5, 0}, {5, 0}, 1000, 2000, VERDICT_WAIT},
	    /* another call was answered: the refusal was the ticket's own */
	    {{5, 0}, {6, 0}, 1000, 2000, VERDICT_OWN},
	    /* the tier was found misconfigured: ask again once it is fixed */
	    {{5, 0}, {5, 1}, 1000, 2000, VERDICT_TIER},
	    /* ... even when the probe that fixed it was answered since */
	    {{5, 0}, {9, 1}, 1000, 2000, VERDICT_TIER},
	    /* an old misconfiguration, before the refusal, says nothing */
	    {{5, 2}, {5, 2}, 1000, 2000, VERDICT_WAIT},
	    /* nothing known by the deadline: one request, never a retry on a guess */
	    {{5, 0}, {5, 0}, 2000, 2000, VERDICT_OWN},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		ck_assert_msg(dialect_config_verdict(&cases[i].seen, &cases[i].now, cases[i].now_ms,
						     cases[i].until_ms) == cases[i].want,
			      "case %zu", i);
	/* a 400 is not transient: backoff never retries it (nor 401/403/404), a 5xx it does */
	ck_assert_int_eq(backoff_classify(0, 400), RETRY_NO);
	ck_assert_int_eq(backoff_classify(0, 401), RETRY_NO);
	ck_assert_int_eq(backoff_classify(0, 404), RETRY_NO);
	ck_assert_int_eq(backoff_classify(0, 500), RETRY_YES);
	ck_assert_int_eq(dialect_status_is_config_error(400), 1);
	ck_assert_int_eq(dialect_status_is_config_error(429), 0);
}
END_TEST

/* A 429 that says the quota is spent (OpenAI's billing refusal) against a rate limit. */
START_TEST(test_quota_429)
{
	static const struct {
		const char *body;
		long status;
		int quota;
	} cases[] = {
	    /* OpenAI's error-code guide */
	    {"{\"error\":{\"message\":\"You exceeded your current quota, please check your plan and "
	     "billing details.\",\"type\":\"insufficient_quota\",\"param\":null,\"code\":"
	     "\"insufficient_quota\"}}",
	     429, 1},
	    /* older answers: the type alone */
	    {"{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":"
	     "\"insufficient_quota\",\"param\":null,\"code\":null}}",
	     429, 1},
	    /* a billing code under that type (Microsoft Dev Proxy's page on OpenAI's quota errors) */
	    {"{\"error\":{\"message\":\"x\",\"type\":\"insufficient_quota\",\"code\":"
	     "\"credit_balance_exhausted\"}}",
	     429, 1},
	    {"{\"error\":{\"message\":\"x\",\"type\":\"requests\",\"code\":"
	     "\"project_spend_limit_exceeded\"}}",
	     429, 1},
	    /* rate limits: waiting ends them */
	    {"{\"error\":{\"message\":\"Rate limit reached for gpt-4o-mini on requests per min "
	     "(RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.\",\"type\":"
	     "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}",
	     429, 0},
	    {"[{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":"
	     "\"RESOURCE_EXHAUSTED\"}}]",
	     429, 0},
	    {"{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"x\"}}", 429,
	     0},
	    /* the type on another status is not a 429 */
	    {"{\"error\":{\"message\":\"x\",\"type\":\"insufficient_quota\"}}", 400, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct provider_error e;
		ck_assert_int_eq(dialect_parse_error(cases[i].body, strlen(cases[i].body), &e), 0);
		ck_assert_msg(dialect_error_is_quota(cases[i].status, &e) == cases[i].quota, "case %zu",
			      i);
	}
	ck_assert_int_eq(dialect_error_is_quota(429, NULL), 0);
	/* the fixtures: OpenAI's billing refusal is one; its TPM limit and Gemini's
	 * RESOURCE_EXHAUSTED ("You exceeded your current quota" too, but a rate limit with a
	 * retryDelay) are not */
	{
		static const struct {
			const char *file;
			int quota;
		} fx[] = {{"openai_429_quota.json", 1},
			  {"openai_429_tpm.json", 0},
			  {"gemini_429_retrydelay.json", 0}};
		for (size_t i = 0; i < ARRAY_SIZE(fx); i++) {
			char *body = fixture(fx[i].file);
			struct provider_error e;
			ck_assert_int_eq(dialect_parse_error(body, strlen(body), &e), 0);
			ck_assert_msg(dialect_error_is_quota(429, &e) == fx[i].quota, "%s", fx[i].file);
			free(body);
		}
	}
}
END_TEST

START_TEST(test_error_bounds)
{
	struct provider_error e;
	char big[2000], body[2200], line[64];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* a multi-byte character across the cut is dropped whole */
	memcpy(big + PROVIDER_ERR_MESSAGE_MAX - 2, "\xc3\xa9", 2);
	snprintf(body, sizeof(body), "{\"error\":{\"message\":\"%s\",\"code\":\"c\\nd\"}}", big);
	ck_assert_int_eq(dialect_parse_error(body, strlen(body), &e), 0);
	ck_assert_uint_eq(strlen(e.message), PROVIDER_ERR_MESSAGE_MAX - 2);
	ck_assert_str_eq(e.code, "c d");
	dialect_error_line(400, &e, line, sizeof(line));
	ck_assert_uint_eq(strlen(line), sizeof(line) - 1);
	/* not an error body */
	ck_assert_int_eq(dialect_parse_error("{\"choices\":[]}", 14, &e), -1);
	ck_assert_int_eq(dialect_parse_error("not json", 8, &e), -1);
	ck_assert_int_eq(dialect_parse_error("{\"error\":\"plain text\"}", 22, &e), 0);
	ck_assert_str_eq(e.message, "plain text");
	ck_assert(dialect_status_is_config_error(400) && dialect_status_is_config_error(401) &&
		  dialect_status_is_config_error(403) && dialect_status_is_config_error(404));
	ck_assert(!dialect_status_is_config_error(429) && !dialect_status_is_config_error(500) &&
		  !dialect_status_is_config_error(408));
}
END_TEST

/* ---- rate limits ---- */

static const struct {
	const char *s;
	int ok;
	uint32_t ms;
} duration_cases[] = {
    {"20ms", 1, 20},
    {"1s", 1, 1000},
    {"1.2s", 1, 1200},
    {"6m0s", 1, 360000},
    {"1h2m3.5s", 1, 3723500},
    {"35s", 1, 35000},
    {"0.5s", 1, 500},
    {" 6ms ", 1, 6},
    {"0.0004s", 1, 1},
    {"", 0, 0},
    {"s", 0, 0},
    {"12", 0, 0},
    {"1x", 0, 0},
    {"1.2.3s", 0, 0},
    {"99999h", 1, 86400000},
};

START_TEST(test_duration)
{
	uint32_t ms = 7;
	int rc = dialect_parse_duration(duration_cases[_i].s, strlen(duration_cases[_i].s), &ms);
	ck_assert_msg((rc == 0) == duration_cases[_i].ok, "'%s' rc %d", duration_cases[_i].s, rc);
	if (duration_cases[_i].ok)
		ck_assert_uint_eq(ms, duration_cases[_i].ms);
}
END_TEST

static void feed_headers(const char *file, struct ratelimit *rl, int *used)
{
	char *text = fixture(file), *line = text, *nl;
	memset(rl, 0, sizeof(*rl));
	*used = 0;
	while ((nl = strchr(line, '\n')) != NULL) {
		/* as curl gives them: with the CRLF */
		char buf[256];
		int n = snprintf(buf, sizeof(buf), "%.*s\r\n", (int)(nl - line), line);
		*used += dialect_ratelimit_header(rl, buf, (size_t)n);
		line = nl + 1;
	}
	free(text);
}

START_TEST(test_ratelimit_headers)
{
	struct ratelimit rl;
	int used;
	feed_headers("openai_ratelimit_headers.txt", &rl, &used);
	ck_assert_int_eq(used, 6);
	ck_assert(rl.has_limit_requests && rl.limit_requests == 10000);
	ck_assert(rl.has_limit_tokens && rl.limit_tokens == 2000000);
	ck_assert(rl.has_remaining_requests && rl.remaining_requests == 9999);
	ck_assert(rl.has_remaining_tokens && rl.remaining_tokens == 1998797);
	ck_assert(rl.has_reset_requests && rl.reset_requests_ms == 6);
	ck_assert(rl.has_reset_tokens && rl.reset_tokens_ms == 36);
	ck_assert_uint_eq(dialect_ratelimit_wait_ms(&rl), 0);

	feed_headers("openai_ratelimit_spent.txt", &rl, &used);
	ck_assert_int_eq(used, 6);
	ck_assert_int_eq(rl.remaining_requests, 0);
	ck_assert_uint_eq(dialect_ratelimit_wait_ms(&rl), 360000);
	rl.remaining_requests = 3;
	ck_assert_uint_eq(dialect_ratelimit_wait_ms(&rl), 0);
	rl.remaining_tokens = 0;
	ck_assert_uint_eq(dialect_ratelimit_wait_ms(&rl), 1200);
	/* other headers and bad values are not taken */
	memset(&rl, 0, sizeof(rl));
	ck_assert_int_eq(dialect_ratelimit_header(&rl, "content-type: x\r\n", 17), 0);
	ck_assert_int_eq(
	    dialect_ratelimit_header(&rl, "x-ratelimit-remaining-requests: -1\r\n", 36), 0);
	ck_assert_int_eq(dialect_ratelimit_header(&rl, "X-RateLimit-Remaining-Tokens: 5\r\n", 33),
			 1);
	ck_assert(rl.has_remaining_tokens && rl.remaining_tokens == 5);
}
END_TEST

START_TEST(test_retry_hints)
{
	char *g = fixture("gemini_429_retrydelay.json"), *o = fixture("openai_429_tpm.json");
	char *x = fixture("openai_401.json");
	uint32_t ms = 0;
	ck_assert_int_eq(dialect_retry_hint(g, strlen(g), &ms), 0);
	ck_assert_uint_eq(ms, 35000);
	ck_assert_int_eq(dialect_retry_hint(o, strlen(o), &ms), 0);
	ck_assert_uint_eq(ms, 210);
	ck_assert_int_eq(dialect_retry_hint(x, strlen(x), &ms), -1);
	{
		const char *b =
		    "{\"error\":{\"message\":\"Rate limit reached for requests per min. "
		    "Please try again in 1.2s.\"}}";
		ck_assert_int_eq(dialect_retry_hint(b, strlen(b), &ms), 0);
		ck_assert_uint_eq(ms, 1200);
		b = "{\"error\":{\"message\":\"Please try again in 6m0s. Visit ...\"}}";
		ck_assert_int_eq(dialect_retry_hint(b, strlen(b), &ms), 0);
		ck_assert_uint_eq(ms, 360000);
	}
	free(g);
	free(o);
	free(x);
}
END_TEST

/* ---- usage and answers as providers report them ---- */

START_TEST(test_usage)
{
	static const struct {
		const char *file;
		int ok;
		int64_t prompt, completion, cached, reasoning;
		const char *err_start;
	} cases[] = {
	    {"openai_reasoning_usage.json", 1, 1117, 846, 1024, 768, NULL},
	    {"gemini_ok.json", 1, 1050, 64 + 288, 0, 288, NULL},
	    {"anthropic_ok.json", 1, 1210, 58, 0, 0, NULL},
	    {"openai_refusal.json", 0, 900, 12, 0, 0, "model refused: I'm sorry"},
	    {"openai_length.json", 0, 1117, 600, 0, 600, "answer truncated"},
	    {"azure_content_filter.json", 0, 950, 0, 0, 0, "answer blocked"},
	    {"openai_400_max_tokens.json", 0, 0, 0, 0, 0, "model API error: Unsupported parameter"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *body = fixture(cases[i].file), *content = NULL, err[256] = "";
		struct llm_usage u;
		int rc =
		    answer_parse_completion(body, strlen(body), &content, &u, err, sizeof(err));
		ck_assert_msg((rc == 0) == cases[i].ok, "%s: %s", cases[i].file, err);
		if (cases[i].ok) {
			struct answer a;
			answer_init(&a);
			ck_assert_msg(
			    answer_validate(
				content,
				&(struct taxonomy){
				    (const char *const[]){"billing", "shipping", "account"}, 3},
				&a, err, sizeof(err)) == 0,
			    "%s: %s", cases[i].file, err);
			answer_cleanup(&a);
			ck_assert_int_eq(u.prompt_tokens, cases[i].prompt);
			ck_assert_int_eq(u.completion_tokens, cases[i].completion);
			ck_assert_int_eq(u.cached_tokens, cases[i].cached);
			ck_assert_int_eq(u.reasoning_tokens, cases[i].reasoning);
		} else {
			ck_assert_msg(
			    strncmp(err, cases[i].err_start, strlen(cases[i].err_start)) == 0,
			    "%s: '%s'", cases[i].file, err);
		}
		free(content);
		free(body);
	}
}
END_TEST

static Suite *dialect_suite(void)
{
	Suite *s = suite_create("dialect");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_auto, 0, ARRAY_SIZE(auto_cases));
	tcase_add_loop_test(tc, test_default_effort, 0, ARRAY_SIZE(effort_cases));
	tcase_add_test(tc, test_openai_classic);
	tcase_add_test(tc, test_quota_429);
	tcase_add_test(tc, test_openai_reasoning);
	tcase_add_test(tc, test_azure);
	tcase_add_test(tc, test_gemini_anthropic_local);
	tcase_add_test(tc, test_strict_schema);
	tcase_add_test(tc, test_static_prefix);
	tcase_add_test(tc, test_urls);
	tcase_add_loop_test(tc, test_errors, 0, ARRAY_SIZE(error_cases));
	tcase_add_test(tc, test_error_bounds);
	tcase_add_test(tc, test_config_verdict);
	tcase_add_test(tc, test_pace);
	tcase_add_loop_test(tc, test_duration, 0, ARRAY_SIZE(duration_cases));
	tcase_add_test(tc, test_ratelimit_headers);
	tcase_add_test(tc, test_retry_hints);
	tcase_add_test(tc, test_usage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dialect_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
