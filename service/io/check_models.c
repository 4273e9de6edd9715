/*
 * check_models: see check_models.h. Owns the synthetic probe ticket and the
 * one-line report. Must never print an API key; must never be called from
 * inside the daemon's loop (it runs its own, then may block on PostgreSQL).
 */
#include "loopslice.h"
#include "check_models.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "answer.h"
#include "dialect.h"
#include "llm.h"
#include "prompt.h"
#include "secret.h"
#include "ticket.h"

#define PROBE_REQUEST_CAP (4u << 20)

struct probe {
	struct event_base *base;
	int done;
	long status;
	int transport_error;
	char error[256];
	char *body;
	size_t body_len;
	double latency_ms;
	char request_id[LLM_REQUEST_ID_MAX];
};

static void on_done(void *arg, const struct llm_result *res)
{
	struct probe *p = arg;

	p->done = 1;
	p->status = res->http_status;
	p->transport_error = res->transport_error;
	snprintf(p->error, sizeof(p->error), "%s", res->error ? res->error : "");
	p->body = xstrndup(res->body ? res->body : "", res->body_len);
	p->body_len = res->body_len;
	p->latency_ms = res->latency_ms;
	snprintf(p->request_id, sizeof(p->request_id), "%s", res->request_id ? res->request_id : "");
	free(res->request);
	event_base_loopbreak(p->base);
}

/* The tier's API key as the daemon reads it (file, else environment); "" when none. */
static int api_key(const struct model_config *mc, char *out, size_t n, char *err, size_t errlen)
{
	const char *k = NULL;

	out[0] = '\0';
	if (mc->api_key_file && *mc->api_key_file)
		return secret_read_file(mc->api_key_file, out, n, err, errlen);
	if (mc->api_key_env && *mc->api_key_env)
		k = getenv(mc->api_key_env);
	snprintf(out, n, "%s", k ? k : "");
	return 0;
}

struct tier_report {
	const char *name;
	const struct model_config *mc;
	int ok;
	enum response_format mode;
	long status;
	double latency_ms;
	int protocol; /* the HTTP version the endpoint answered with: 0 none, 1, 2 */
	char request_id[LLM_REQUEST_ID_MAX]; /* the provider's id of the last probe */
	struct llm_usage usage;
	char error[320];
	char url[512];
};

/* The URL with any user:password@ left out (a password in base_url is never printed). */
static void url_without_userinfo(const char *url, char *out, size_t n)
{
	const char *scheme = strstr(url, "://"), *auth, *end, *at = NULL;

	if (scheme == NULL) {
		snprintf(out, n, "%s", url);
		return;
	}
	auth = scheme + 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at == NULL)
		snprintf(out, n, "%s", url);
	else
		snprintf(out, n, "%.*s%s", (int)(auth - url), url, at + 1);
}

/* One exchange in the given mode. Returns 0 when an HTTP answer came (any status). */
static int probe_once(struct event_base *base, struct llm_client *c, char *body, struct probe *p)
{
	memset(p, 0, sizeof(*p));
	p->base = base;
	llm_submit(c, body, on_done, p);
	while (!p->done)
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			return -1;
	return 0;
}

static void probe_tier(struct event_base *base, const struct config *cfg,
		       const struct taxonomy *tax, struct tier_report *r)
{
	struct model_config m = *r->mc;
	struct prompt *pr = NULL;
	struct llm_client *c = NULL;
	struct ticket t;
	struct prompt_vars v;
	struct probe p;
	char key[1024], err[256];

	memset(&p, 0, sizeof(p));
	memset(&t, 0, sizeof(t));
	t.ticket_id = (char *)"check-models";
	t.source = (char *)"default";
	t.channel = CH_EMAIL;
	t.subject = (char *)"Cannot log in";
	t.body = (char *)"Hello, since this morning I cannot log in to my account and the password "
			 "reset e-mail never arrives. Can you help me?";
	t.body_len = t.body_prompt_len = strlen(t.body);
	t.language = (char *)"en";
	memset(&v, 0, sizeof(v));
	v.ticket = &t;
	v.tax = tax;

	pr = prompt_load(cfg->prompts_dir, m.prompt, err, sizeof(err));
	if (pr == NULL) {
		snprintf(r->error, sizeof(r->error), "prompt: %s", err);
		goto out;
	}
	if (api_key(&m, key, sizeof(key), err, sizeof(err)) < 0) {
		snprintf(r->error, sizeof(r->error), "api key: %s", err);
		goto out;
	}
	c = llm_client_new(base, r->name, &m, key);
	explicit_bzero(key, sizeof(key));
	url_without_userinfo(llm_url(c), r->url, sizeof(r->url));
	for (;;) {
		struct provider_error pe;
		char *body = NULL;

		r->mode = dialect_start_mode(&m);
		body = prompt_render_request(pr, NULL, &m, &v, PROBE_REQUEST_CAP, err, sizeof(err));
		if (body == NULL) {
			snprintf(r->error, sizeof(r->error), "render: %s", err);
			goto out;
		}
		free(p.body);
		if (probe_once(base, c, body, &p) < 0) {
			snprintf(r->error, sizeof(r->error), "event loop failed");
			goto out;
		}
		r->status = p.status;
		r->latency_ms = p.latency_ms;
		r->protocol = llm_http_version(c);
		snprintf(r->request_id, sizeof(r->request_id), "%s", p.request_id);
		if (p.transport_error) {
			snprintf(r->error, sizeof(r->error), "unreachable: %s", p.error);
			goto out;
		}
		if (p.status >= 200 && p.status < 300)
			break;
		memset(&pe, 0, sizeof(pe));
		if (dialect_parse_error(p.body, p.body_len, &pe) < 0)
			snprintf(pe.message, sizeof(pe.message), "(no error body)");
		/* as the daemon does: a refused structured-output request falls back a step */
		if (dialect_error_is_response_format(p.status, &pe) && r->mode != RF_NONE) {
			m.response_format = r->mode == RF_JSON_SCHEMA ? RF_JSON_OBJECT : RF_NONE;
			continue;
		}
		dialect_error_line(p.status, &pe, r->error, sizeof(r->error));
		if (p.status == 401 || p.status == 403) {
			char tmp[sizeof(r->error)];
			snprintf(tmp, sizeof(tmp), "not authenticated: %s", r->error);
			snprintf(r->error, sizeof(r->error), "%s", tmp);
		}
		goto out;
	}
	{
		char *content = NULL;
		struct answer a;
		if (answer_parse_completion(p.body, p.body_len, &content, &r->usage, err,
					    sizeof(err)) < 0) {
			snprintf(r->error, sizeof(r->error), "answer: %s", err);
			goto out;
		}
		answer_init(&a);
		if (answer_validate(content, tax, &a, err, sizeof(err)) < 0)
			snprintf(r->error, sizeof(r->error), "answer invalid: %s", err);
		else
			r->ok = 1;
		answer_cleanup(&a);
		free(content);
	}
out:
	free(p.body);
	llm_client_free(c);
	prompt_free(pr);
}

/* The probe's cost from the database's prices; -1 when unknown (no database, no price). */
static double probe_cost(PGconn *db, const struct tier_report *r)
{
	char pt[24], ct[24], cached[24];
	const char *params[4] = {r->mc->model, pt, cached, ct};
	PGresult *res;
	double cost = -1;

	if (db == NULL || PQstatus(db) != CONNECTION_OK)
		return -1;
	snprintf(pt, sizeof(pt), "%lld", (long long)r->usage.prompt_tokens);
	snprintf(ct, sizeof(ct), "%lld", (long long)r->usage.completion_tokens);
	snprintf(cached, sizeof(cached), "%lld", (long long)r->usage.cached_tokens);
	res = PQexecParams(db,
			   "SELECT triaged_cost(triaged_price_at($1, now()), $2::integer, "
			   "$3::integer, $4::integer)",
			   4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		cost = strtod(PQgetvalue(res, 0, 0), NULL);
	PQclear(res);
	return cost;
}

/* 1 when the model has a price row in force, 0 when not, -1 when unknown (no database). */
static int has_price(PGconn *db, const char *model)
{
	const char *params[1] = {model};
	PGresult *res;
	int r = -1;

	if (db == NULL || PQstatus(db) != CONNECTION_OK)
		return -1;
	res = PQexecParams(db, "SELECT (triaged_price_at($1, now())).id IS NOT NULL", 1, NULL,
			   params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		r = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return r;
}

int check_models_run(const struct config *cfg, FILE *out)
{
	struct tier_report r[2] = {
	    {.name = "mini", .mc = &cfg->mini},
	    {.name = "flagship", .mc = &cfg->flagship},
	};
	struct taxonomy tax = {(const char *const *)cfg->categories, cfg->ncategories};
	struct event_base *base = loopslice_base_new();
	PGconn *db = NULL;
	int failed = 0;

	if (base == NULL) {
		fprintf(out, "check-models: event_base_new failed\n");
		return 1;
	}
	for (size_t i = 0; i < 2; i++)
		probe_tier(base, cfg, &tax, &r[i]);
	event_base_free(base);
	db = PQconnectdb(cfg->pg_conninfo);
	for (size_t i = 0; i < 2; i++) {
		enum model_dialect d =
		    dialect_resolve(r[i].mc->dialect, r[i].mc->model, r[i].mc->base_url);
		fprintf(out, "%s: %s model=%s dialect=%s mode=%s", r[i].name,
			r[i].ok ? "ok" : "FAILED", r[i].mc->model, dialect_name(d),
			dialect_mode_name(r[i].mode));
		if (r[i].status) {
			fprintf(out, " http=%ld latency_ms=%.0f", r[i].status, r[i].latency_ms);
			/* HTTP/2 over https (the calls share a few connections) or HTTP/1.1, and
			 * the provider's id of the probe, for its support */
			if (r[i].protocol)
				fprintf(out, " protocol=HTTP/%s", r[i].protocol == 2 ? "2" : "1.1");
			if (r[i].request_id[0])
				fprintf(out, " request_id=%s", r[i].request_id);
		}
		if (r[i].ok) {
			double cost = probe_cost(db, &r[i]);
			fprintf(out,
				" prompt_tokens=%lld completion_tokens=%lld cached_tokens=%lld "
				"reasoning_tokens=%lld",
				(long long)r[i].usage.prompt_tokens,
				(long long)r[i].usage.completion_tokens,
				(long long)r[i].usage.cached_tokens,
				(long long)r[i].usage.reasoning_tokens);
			if (cost >= 0)
				fprintf(out, " cost_usd=%.6f", cost);
			else
				fprintf(out, " cost_usd=unknown");
		} else {
			fprintf(out, " error=\"%s\"", r[i].error);
			failed = 1;
		}
		/* budget.enforce: a model without a price fails closed (issue #21) */
		if (cfg->budget_enforce && has_price(db, r[i].mc->model) == 0) {
			fprintf(out,
				" price=missing error=\"budget.enforce: no model_prices row for "
				"%s; the %s tier is refused until one exists\"",
				r[i].mc->model, r[i].name);
			failed = 1;
		}
		fprintf(out, " url=%s\n", r[i].url);
	}
	PQfinish(db);
	return failed;
}
