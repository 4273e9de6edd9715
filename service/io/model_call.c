/*
 * model_call: see model_call.h. Owns the endpoints and the per-ticket call
 * records; must never persist anything or decide a ticket's next state.
 */
#include "model_call.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"

static double now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static const char *const outcome_names[] = {NULL, "ok", "invalid_answer", "http_error",
					    "transport_error"};

const char *call_outcome_name(enum call_outcome o)
{
	return (unsigned)o < ARRAY_SIZE(outcome_names) ? outcome_names[o] : NULL;
}

const struct prompt *model_call_prompt(const struct model_caller *mcl, enum model_tier t,
				       enum call_purpose p)
{
	return p == PURPOSE_TRIAGE ? mcl->ep[t].prompt : mcl->p_repair;
}

/* ---- the endpoints -------------------------------------------------------- */

static int init_endpoint(struct model_caller *mcl, struct event_base *base,
			 const struct config *cfg, enum model_tier t, const struct model_config *mc,
			 char *err, size_t errlen)
{
	struct model_endpoint *ep = &mcl->ep[t];
	const char *key = NULL;
	ep->mc_eff = *mc; /* a shallow copy: the strings stay the config's */
	ep->mc = mc = &ep->mc_eff;
	ep->dialect = dialect_resolve(mc->dialect, mc->model, mc->base_url);
	ep->backoff.base_ms = (uint32_t)mc->backoff_base_ms;
	ep->backoff.max_ms = (uint32_t)mc->backoff_max_ms;
	ep->backoff.max_attempts = (uint32_t)mc->max_attempts;
	breaker_init(&ep->breaker, (uint32_t)mc->breaker_failures, (double)mc->breaker_cooldown_ms);
	/* a probe's answer comes within its timeout once it starts, and the client may hold a
	 * request up to a minute for a rate-limit window first: past both it is lost */
	breaker_set_probe_deadline(&ep->breaker, (double)mc->timeout_ms + 60000.0);
	ep->prompt = prompt_load(cfg->prompts_dir, mc->prompt, err, errlen);
	if (ep->prompt == NULL)
		return -1;
	{
		char e[256], q[300];
		ep->frame = prompt_frame_new(ep->prompt, mc, mcl->tax, e, sizeof(e));
		if (ep->frame == NULL)
			log_info("requests rendered in full", "tier=%s reason=%s",
				 model_tier_name(t), log_quote(q, sizeof(q), e));
	}
	if (mc->api_key_file && *mc->api_key_file) {
		char buf[1024], e[512];
		if (secret_read_file(mc->api_key_file, buf, sizeof(buf), e, sizeof(e)) < 0) {
			set_err(err, errlen, "%s.api_key_file: %s", model_tier_name(t), e);
			return -1;
		}
		ep->client = llm_client_new(base, model_tier_name(t), mc, buf);
		explicit_bzero(buf, sizeof(buf));
	} else {
		if (mc->api_key_env && *mc->api_key_env)
			key = getenv(mc->api_key_env);
		ep->client = llm_client_new(base, model_tier_name(t), mc, key);
	}
	llm_client_set_slice(ep->client, cfg->loop_slice_ms * 1000);
	log_info("model tier", "tier=%s model=%s dialect=%s response_mode=%s url=%s",
		 model_tier_name(t), mc->model, dialect_name(ep->dialect),
		 dialect_mode_name(dialect_start_mode(mc)), llm_url(ep->client));
	return 0;
}

struct model_caller *model_caller_new(struct event_base *base, const struct config *cfg,
				      const struct taxonomy *tax, char *err, size_t errlen)
{
	struct model_caller *mcl = xcalloc(1, sizeof(*mcl));
	mcl->tax = tax;
	mcl->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)now_ms() ^ 0x9E3779B97F4A7C15ULL;
	if (init_endpoint(mcl, base, cfg, MODEL_MINI, &cfg->mini, err, errlen) < 0 ||
	    init_endpoint(mcl, base, cfg, MODEL_FLAGSHIP, &cfg->flagship, err, errlen) < 0)
		goto fail;
	mcl->p_repair = prompt_load(cfg->prompts_dir, cfg->repair_prompt, err, errlen);
	if (mcl->p_repair == NULL)
		goto fail;
	return mcl;
fail:
	model_caller_free(mcl);
	return NULL;
}

void model_caller_free(struct model_caller *mcl)
{
	if (mcl == NULL)
		return;
	for (int t = 0; t < MODEL__TIERS; t++) {
		llm_client_free(mcl->ep[t].client);
		prompt_free(mcl->ep[t].prompt);
		prompt_frame_free(mcl->ep[t].frame);
	}
	prompt_free(mcl->p_repair);
	free(mcl);
}

/* ---- a ticket's calls ------------------------------------------------------ */

void model_calls_init(struct model_calls *c)
{
	memset(c, 0, sizeof(*c));
}

void model_calls_cleanup(struct model_calls *c)
{
	if (c->req)
		llm_req_cancel(c->req);
	for (int i = 0; i < c->n; i++) {
		free(c->v[i].answer);
		free(c->v[i].perr);
	}
	free(c->v);
	json_object_put(c->prior);
	free(c->request);
	model_calls_init(c);
}

void model_calls_set_prior(struct model_calls *c, json_object *prior)
{
	json_object_put(c->prior);
	c->prior = prior;
	/* new calls are numbered after the persisted ones */
	for (size_t i = 0; prior && i < json_object_array_length(prior); i++) {
		json_object *v;
		if (json_object_object_get_ex(json_object_array_get_idx(prior, i), "seq", &v) &&
		    json_object_get_int(v) > c->next_seq)
			c->next_seq = json_object_get_int(v);
	}
}

struct call_rec *model_calls_cur(struct model_calls *c)
{
	return c->n ? &c->v[c->n - 1] : NULL;
}

void model_calls_drop(struct model_calls *c)
{
	if (c->n > 0)
		c->n--;
}

double model_calls_wait_ms(const struct model_calls *c, int *fresh)
{
	double ms = 0;
	*fresh = 0;
	for (int i = 0; i < c->n; i++) {
		if (c->v[i].reused)
			continue;
		ms += c->v[i].finished_ms - c->v[i].started_ms;
		*fresh = 1;
	}
	return ms;
}

int model_call_final(enum job_event ev)
{
	/* a call refused for its structured-output mode is over too: it is
	 * recorded as refused, and the ticket asks again in a new call */
	return ev == EV_MODEL_FAILED || ev == EV_ANSWER_TOO_LARGE || ev == EV_ANSWER_OK ||
	       ev == EV_ANSWER_INVALID || ev == EV_MODE_FALLBACK;
}

/* Judge an answer (fresh or reused) for the current call. */
static enum job_event judge(struct model_caller *mcl, struct call_rec *c, const char *content,
			    struct answer *ans, char *err, size_t errlen)
{
	answer_cleanup(ans);
	answer_init(ans);
	if (answer_validate(content, mcl->tax, ans, err, errlen) == 0) {
		c->outcome = CALL_OK;
		c->error[0] = '\0';
		return EV_ANSWER_OK;
	}
	mcl->st.invalid[c->tier]++;
	c->outcome = CALL_INVALID_ANSWER;
	snprintf(c->error, sizeof(c->error), "%s", err);
	return EV_ANSWER_INVALID;
}

/* A call persisted before a redelivery for this tier, purpose, model and prompt. */
static const char *find_prior(const struct model_caller *mcl, struct model_calls *cs,
			      const struct call_rec *c, int *seq)
{
	size_t n = cs->prior ? json_object_array_length(cs->prior) : 0;
	for (size_t i = 0; i < n && i < 32; i++) {
		json_object *p = json_object_array_get_idx(cs->prior, i), *v;
		const char *f[5] = {NULL, NULL, NULL, NULL, NULL};
		static const char *const keys[5] = {"tier", "purpose", "model", "prompt_version",
						    "outcome"};
		if (cs->prior_used & (1u << i))
			continue;
		for (int k = 0; k < 5; k++)
			if (json_object_object_get_ex(p, keys[k], &v))
				f[k] = json_object_get_string(v);
		if (!f[0] || !f[1] || !f[2] || !f[3] || !f[4])
			continue;
		if (strcmp(f[0], model_tier_name(c->tier)) != 0 ||
		    strcmp(f[1], call_purpose_name(c->purpose)) != 0 ||
		    strcmp(f[2], mcl->ep[c->tier].mc->model) != 0 ||
		    strcmp(f[3], model_call_prompt(mcl, c->tier, c->purpose)->version) != 0)
			continue;
		if (strcmp(f[4], "ok") != 0 && strcmp(f[4], "invalid_answer") != 0)
			continue; /* failed calls are retried, not reused */
		if (!json_object_object_get_ex(p, "answer", &v) ||
		    !json_object_is_type(v, json_type_string))
			continue;
		cs->prior_used |= 1u << i;
		*seq = json_object_object_get_ex(p, "seq", &v) ? json_object_get_int(v) : 0;
		return json_object_get_string(json_object_object_get(p, "answer"));
	}
	return NULL;
}

enum job_event model_call_prepare(struct model_caller *mcl, struct model_calls *cs,
				  enum model_tier t, enum call_purpose p, struct prompt_vars v,
				  double now, struct answer *ans, char *err, size_t errlen)
{
	const struct model_endpoint *ep = &mcl->ep[t];
	const struct call_rec *prev;
	struct call_rec *c;
	const char *answer;
	int seq = 0;

	if (cs->n == cs->alloc) {
		/* most tickets make one call: room for more only when a second comes */
		int n = cs->alloc ? CASCADE_MAX_CALLS : 1;
		if (cs->n >= CASCADE_MAX_CALLS) {
			set_err(err, errlen, "limit reached");
			return EV_PROMPT_FAILED;
		}
		cs->v = xrealloc(cs->v, (size_t)n * sizeof(*cs->v));
		memset(cs->v + cs->alloc, 0, (size_t)(n - cs->alloc) * sizeof(*cs->v));
		cs->alloc = n;
	}
	prev = model_calls_cur(cs);
	c = &cs->v[cs->n++];
	/* a slot given back by model_calls_drop holds a call never made */
	free(c->answer);
	free(c->perr);
	memset(c, 0, sizeof(*c));
	c->tier = t;
	c->purpose = p;
	c->started_ms = now;
	c->dialect = ep->dialect;
	c->mode = dialect_start_mode(ep->mc);
	if (p == PURPOSE_REPAIR)
		mcl->st.repairs[t]++;
	answer = find_prior(mcl, cs, c, &seq);
	if (answer) {
		/* paid for before a crash or a rebalance: reuse, do not call again */
		mcl->st.calls_reused++;
		c->reused = 1;
		c->seq = seq;
		c->answer = xstrdup(answer);
		c->finished_ms = c->started_ms;
		return judge(mcl, c, c->answer, ans, err, errlen);
	}
	c->seq = ++cs->next_seq;
	v.error = NULL;
	v.previous = NULL;
	if (p == PURPOSE_REPAIR && prev) {
		v.error = prev->error;
		v.previous = prev->answer ? prev->answer : "";
	}
	if (t != MODEL_FLAGSHIP) {
		v.mini = NULL;
		v.mini_error = NULL;
		v.escalation_reasons = NULL;
	}
	free(cs->request);
	if (p == PURPOSE_TRIAGE && ep->frame)
		cs->request = prompt_frame_render(ep->frame, ep->prompt, &v, MODEL_CALL_REQUEST_CAP,
						  err, errlen);
	else
		cs->request =
		    prompt_render_request(ep->prompt, p == PURPOSE_REPAIR ? mcl->p_repair : NULL,
					  ep->mc, &v, MODEL_CALL_REQUEST_CAP, err, errlen);
	if (cs->request == NULL) {
		cs->n--;
		return EV_PROMPT_FAILED;
	}
	return EV_REQUEST_READY;
}

/* How often a refused call asks for its verdict: often enough to follow the tier. */
static uint32_t verdict_poll_ms(struct model_caller *mcl, const struct model_endpoint *ep)
{
	uint32_t base = ep->breaker.cooldown_ms < 1000 ? (uint32_t)ep->breaker.cooldown_ms : 1000;
	return base / 2 + (uint32_t)(rng_next(&mcl->rng) % (base / 2 + 1));
}

int model_call_may_send(struct model_caller *mcl, struct model_calls *cs, double now,
			uint32_t *wait_ms)
{
	struct call_rec *c = model_calls_cur(cs);
	struct model_endpoint *ep = &mcl->ep[c->tier];
	double wait;
	if (c->verdict_pending) {
		struct config_watch w = {ep->answered, ep->misconfigs};
		switch (dialect_config_verdict(&c->verdict_seen, &w, now, c->verdict_until_ms)) {
		case VERDICT_WAIT:
			*wait_ms = verdict_poll_ms(mcl, ep);
			return 0;
		case VERDICT_OWN:
			/* others are answered: the request was wrong for this ticket alone */
			c->verdict_pending = 0;
			c->outcome = CALL_HTTP_ERROR;
			return -1;
		case VERDICT_TIER:
			/* the configuration's: ask again once it is fixed */
			c->verdict_pending = 0;
			break;
		}
	}
	if (breaker_allow(&ep->breaker, now, &wait))
		return 1;
	/* the endpoint is resting: wait without spending an attempt */
	*wait_ms = (uint32_t)wait + (uint32_t)(rng_next(&mcl->rng) % 250);
	return 0;
}

void model_call_submit(struct model_caller *mcl, struct model_calls *cs, llm_done_fn *cb, void *arg)
{
	struct call_rec *c = model_calls_cur(cs);
	c->attempts++;
	mcl->st.requests[c->tier]++;
	/* the body goes to the client and comes back with the result (for a retry) */
	cs->req = llm_submit(mcl->ep[c->tier].client, cs->request, cb, arg);
	cs->request = NULL;
}

/* The provider's id of an exchange, for a log line (its support asks for it): quoted, "" none. */
static const char *rid(char *out, size_t outlen, const char *id)
{
	return log_quote_always(out, outlen, id ? id : "");
}

/*
 * Keep the provider's error with the call (a 4xx also names it in the error
 * text: "HTTP 400 unsupported_parameter max_tokens: ..."; 400/401/403/404 are
 * never retried: backoff_classify). A 400 that refuses the structured-output
 * request moves the tier one mode down (json_schema -> json_object ->
 * prompt), once per step, logged; each call stores its response_mode.
 * Returns 1 when the ticket should ask again in the new mode.
 */
static int provider_error(struct model_caller *mcl, struct call_rec *c,
			  const struct llm_result *res)
{
	struct model_endpoint *ep = &mcl->ep[c->tier];
	struct provider_error pe;

	if (dialect_parse_error(res->body, res->body_len, &pe) < 0)
		return 0;
	if (c->perr == NULL)
		c->perr = xmalloc(sizeof(*c->perr));
	*c->perr = pe;
	if (res->http_status >= 400 && res->http_status < 500 &&
	    (res->http_status != 429 || dialect_error_is_quota(res->http_status, &pe))) {
		char line[sizeof(c->error) - 5];
		dialect_error_line(res->http_status, &pe, line, sizeof(line));
		snprintf(c->error, sizeof(c->error), "HTTP %s", line);
	}
	/* a repair would lose the answer it repairs: only a first pass is asked again */
	if (!dialect_error_is_response_format(res->http_status, &pe) || c->mode == RF_NONE ||
	    c->purpose != PURPOSE_TRIAGE)
		return 0;
	if (c->mode == dialect_start_mode(ep->mc)) {
		char e[256], q[300], r[LLM_REQUEST_ID_MAX + 8];
		ep->mc_eff.response_format = c->mode == RF_JSON_SCHEMA ? RF_JSON_OBJECT : RF_NONE;
		log_warn("structured-output mode refused, falling back",
			 "tier=%s from=%s to=%s error=%s request_id=%s", model_tier_name(c->tier),
			 dialect_mode_name(c->mode), dialect_mode_name(dialect_start_mode(ep->mc)),
			 log_quote(q, sizeof(q), c->error), rid(r, sizeof(r), c->request_id));
		prompt_frame_free(ep->frame);
		ep->frame = prompt_frame_new(ep->prompt, ep->mc, mcl->tax, e, sizeof(e));
	}
	return 1;
}

/*
 * A half-open probe answered without a verdict on the endpoint's health (a
 * 429, a request refused for its parameters): open again, the next probe after
 * retry_ms or the cool-down (breaker_neutral). Before, the breaker stayed
 * half-open with its probe "in flight" for good and held intake until a restart.
 */
static void probe_unresolved(struct model_caller *mcl, enum model_tier t, double now,
			     double retry_ms, const char *answer)
{
	struct breaker *b = &mcl->ep[t].breaker;
	if (b->state != BRK_HALF_OPEN)
		return;
	breaker_neutral(b, now, retry_ms);
	log_info("circuit breaker probe answered without a verdict, open again",
		 "tier=%s answer=%s next_probe_ms=%.0f", model_tier_name(t), answer,
		 b->next_probe_at - now);
	if (mcl->on_breaker)
		mcl->on_breaker(mcl->breaker_arg, t, b->state);
}

/* Feed the endpoint's circuit breaker; tell the owner when its state moves. */
static void breaker_record(struct model_caller *mcl, enum model_tier t,
			   const struct llm_result *res, int quota)
{
	struct breaker *b = &mcl->ep[t].breaker;
	enum breaker_state before = b->state, after;
	int failed = (res->transport_error != 0 && !res->too_large) || res->http_status >= 500 ||
		     res->http_status == 408;
	if (res->http_status == 429 && !quota) {
		/* neither: Retry-After paces those */
		probe_unresolved(mcl, t, now_ms(), res->has_retry_after ? res->retry_after_ms : 0,
				 "429");
		return;
	}
	if (quota || (res->transport_error == 0 && dialect_status_is_config_error(res->http_status)))
		return; /* neither: config_error() decides */
	after = failed ? breaker_failure(b, now_ms()) : breaker_success(b, now_ms());
	if (after == BRK_CLOSED && mcl->ep[t].misconfigured) {
		mcl->ep[t].misconfigured = 0;
		log_info("tier configuration accepted again, intake resumes", "tier=%s was=\"%s\"",
			 model_tier_name(t), mcl->ep[t].cause);
		mcl->ep[t].cause[0] = '\0';
	}
	if (!failed)
		mcl->ep[t].cfg_errors = 0;
	if (after == BRK_OPEN && before != BRK_OPEN) {
		/* what waits for a connection must not go out now: back to waiting, unspent */
		size_t n = llm_return_waiting(mcl->ep[t].client);
		if (n)
			log_info("circuit breaker held back queued calls", "tier=%s calls=%zu",
				 model_tier_name(t), n);
	}
	if (after == before && !(before == BRK_HALF_OPEN))
		return;
	if (after == BRK_OPEN) {
		char q[LLM_REQUEST_ID_MAX + 8];
		log_warn(before == BRK_HALF_OPEN ? "circuit breaker probe failed, open again"
						 : "circuit breaker open",
			 "tier=%s failures=%u cooldown_ms=%.0f opens=%llu request_id=%s",
			 model_tier_name(t), b->failures, b->cooldown_ms,
			 (unsigned long long)b->opens, rid(q, sizeof(q), res->request_id));
	}
	else if (after == BRK_CLOSED && before != BRK_CLOSED)
		log_info("circuit breaker closed", "tier=%s", model_tier_name(t));
	if (mcl->on_breaker)
		mcl->on_breaker(mcl->breaker_arg, t, after);
}

/*
 * A 400/401/403/404 that is not a refused structured-output mode: the tier's
 * configuration (a parameter, the key, the model, the URL) is wrong. After
 * mc->config_errors in a row, with on_config_error = hold, the breaker opens,
 * the owner holds intake, and the tickets wait (no attempt spent) until a probe
 * succeeds. Returns 1 when this ticket should wait rather than fail.
 */
static int config_error(struct model_caller *mcl, struct call_rec *c, double now)
{
	struct model_endpoint *ep = &mcl->ep[c->tier];
	struct breaker *b = &ep->breaker;
	enum breaker_state before = b->state;
	char line[sizeof(ep->cause) - 16], r[LLM_REQUEST_ID_MAX + 8];
	int hold = ep->mc->on_config_error == ONCFG_HOLD;

	ep->cfg_errors++;
	if (c->perr) {
		/* the cause without the message: "400 unknown_parameter reasoning_effort" */
		struct provider_error pe = *c->perr;
		pe.message[0] = '\0';
		dialect_error_line(c->http_status, &pe, line, sizeof(line));
	} else {
		snprintf(line, sizeof(line), "%ld", c->http_status);
	}
	if (ep->misconfigured) {
		if (before == BRK_HALF_OPEN) {
			breaker_failure(b, now);
			log_warn("tier still misconfigured, probe refused",
				 "tier=%s cause=\"%s\" request_id=%s", model_tier_name(c->tier),
				 ep->cause, rid(r, sizeof(r), c->request_id));
			if (mcl->on_breaker)
				mcl->on_breaker(mcl->breaker_arg, c->tier, b->state);
		}
		return 1;
	}
	if (ep->cfg_errors < (uint32_t)ep->mc->config_errors) {
		probe_unresolved(mcl, c->tier, now, 0, "config_error");
		return 0;
	}
	snprintf(ep->cause, sizeof(ep->cause), "%s: %s", model_tier_name(c->tier), line);
	ep->misconfigs++;
	if (!hold) {
		if (ep->cfg_errors == (uint32_t)ep->mc->config_errors)
			log_warn("tier misconfigured, tickets go to needs_human",
				 "tier=%s cause=\"%s\" errors=%u request_id=%s",
				 model_tier_name(c->tier), ep->cause, ep->cfg_errors,
				 rid(r, sizeof(r), c->request_id));
		ep->cause[0] = '\0';
		probe_unresolved(mcl, c->tier, now, 0, "config_error");
		return 0;
	}
	ep->misconfigured = 1;
	breaker_trip(b, now);
	log_warn("tier misconfigured, breaker open, intake held",
		 "tier=%s cause=\"%s\" errors=%u probe_every_ms=%.0f request_id=%s",
		 model_tier_name(c->tier), ep->cause, ep->cfg_errors, b->cooldown_ms,
		 rid(r, sizeof(r), c->request_id));
	{
		size_t n = llm_return_waiting(ep->client);
		if (n)
			log_info("circuit breaker held back queued calls", "tier=%s calls=%zu",
				 model_tier_name(c->tier), n);
	}
	if (mcl->on_breaker)
		mcl->on_breaker(mcl->breaker_arg, c->tier, b->state);
	return 1;
}

int model_caller_misconfigured(const struct model_caller *mcl, enum model_tier t,
			       const char **cause)
{
	if (cause)
		*cause = mcl->ep[t].cause;
	return mcl->ep[t].misconfigured;
}

enum job_event model_call_result(struct model_caller *mcl, struct model_calls *cs,
				 const struct llm_result *res, double now, struct answer *ans,
				 uint32_t *wait_ms, char *err, size_t errlen)
{
	struct call_rec *c = model_calls_cur(cs);
	const struct model_endpoint *ep = &mcl->ep[c->tier];
	int ok_http =
	    res->transport_error == 0 && res->http_status >= 200 && res->http_status < 300;
	char *content = NULL;
	struct provider_error qe;
	/* a 429 that says the quota is spent: a configuration error, not a rate limit */
	int quota = res->http_status == 429 && !res->not_sent &&
		    dialect_parse_error(res->body, res->body_len, &qe) == 0 &&
		    dialect_error_is_quota(res->http_status, &qe);

	cs->req = NULL;
	free(cs->request);
	cs->request = res->request;
	if (res->not_sent) {
		/* never left the queue (the breaker opened): not an attempt; ask again soon */
		c->attempts--;
		mcl->st.requests[c->tier]--;
		*wait_ms = 50 + (uint32_t)(rng_next(&mcl->rng) % 250);
		return EV_NOT_SENT;
	}
	c->http_status = res->http_status;
	/* the last id a provider gave: a later attempt without an answer (a transport
	 * error) does not erase the id of an earlier 5xx that support can trace */
	if (res->request_id && res->request_id[0])
		snprintf(c->request_id, sizeof(c->request_id), "%s", res->request_id);
	c->latency_ms = res->latency_ms;
	c->finished_ms = now;
	breaker_record(mcl, c->tier, res, quota);
	if (res->http_status == 429) {
		mcl->st.http_429[c->tier]++;
		c->retries_429++;
	}
	if (!ok_http) {
		/* an answer over the cap is not a flaky endpoint: retrying pays for it again */
		int retry = !res->too_large && !quota &&
			    backoff_classify(res->transport_error, res->http_status) == RETRY_YES;
		if (res->transport_error) {
			mcl->st.transport_errors[c->tier]++;
			c->outcome = CALL_TRANSPORT_ERROR;
			snprintf(c->error, sizeof(c->error), "%s", res->error);
		} else {
			mcl->st.http_errors[c->tier]++;
			c->outcome = CALL_HTTP_ERROR;
			snprintf(c->error, sizeof(c->error), "HTTP %ld", res->http_status);
			if (provider_error(mcl, c, res) == 1) {
				/* the endpoint answers: the request in the next mode is the next probe */
				probe_unresolved(mcl, c->tier, now, 1, "mode_refused");
				c->finished_ms = now;
				return EV_MODE_FALLBACK; /* this call stays, refused; a new one follows */
			}
			if (dialect_status_is_config_error(res->http_status) || quota) {
				/* a spent quota is the account's, never this ticket's: conclusive
				 * at once (a 400 needs config_errors in a row to tell) */
				if (quota && ep->cfg_errors + 1 < (uint32_t)ep->mc->config_errors)
					mcl->ep[c->tier].cfg_errors = (uint32_t)ep->mc->config_errors - 1;
				if (config_error(mcl, c, now)) {
					/* held: wait for the probe, attempt not spent */
					c->attempts--;
					*wait_ms = (uint32_t)ep->breaker.cooldown_ms +
						   (uint32_t)(rng_next(&mcl->rng) % 250);
					return EV_MODEL_RETRY;
				}
				/* below the threshold with hold: not asked again on a guess (a
				 * 400 one ticket causes would cost max_attempts calls): the call
				 * waits, without a request, until another call is answered (the
				 * ticket's own: it fails with the provider's words) or the tier
				 * is found misconfigured (it waits for the fix, then asks again),
				 * so a misconfiguration's first tickets stay out of needs_human */
				if (ep->mc->on_config_error == ONCFG_HOLD) {
					c->verdict_pending = 1;
					c->verdict_seen.answered = ep->answered;
					c->verdict_seen.misconfigs = ep->misconfigs;
					c->verdict_until_ms =
					    now + (double)ep->mc->breaker_cooldown_ms;
					*wait_ms = verdict_poll_ms(mcl, ep);
					return EV_MODEL_RETRY;
				}
			}
		}
		/* a rate limit is not the endpoint failing: the call waits it out (the tier
		 * holds until its Retry-After or window reset) without spending an attempt,
		 * up to rate_limited_max_ms of meeting them; before, a 429 storm longer than
		 * max_attempts sent its tickets to needs_human */
		if (retry && res->http_status == 429 && ep->mc->rate_limited_max_ms > 0) {
			if (c->first_429_ms <= 0)
				c->first_429_ms = now;
			if (now - c->first_429_ms < (double)ep->mc->rate_limited_max_ms)
				c->unspent++;
		}
		if (retry && ((uint32_t)(c->attempts - c->unspent) < ep->backoff.max_attempts ||
			      ep->mc->on_failure == ONFAIL_WAIT)) {
			uint32_t hint = res->has_retry_after ? res->retry_after_ms : 0;
			/* Gemini's retryDelay, OpenAI's "Please try again in 1.2s" */
			if (!res->has_retry_after && res->http_status == 429 &&
			    dialect_retry_hint(res->body, res->body_len, &hint) < 0)
				hint = 0;
			mcl->st.retries[c->tier]++;
			*wait_ms = backoff_delay_ms(&ep->backoff, (uint32_t)c->attempts, hint,
						    (uint32_t)rng_next(&mcl->rng));
			/* an unspent retry is not bounded by max_attempts: never at once */
			if (res->http_status == 429 && *wait_ms < 100)
				*wait_ms = 100;
			return EV_MODEL_RETRY;
		}
		if (res->too_large) {
			set_err(err, errlen, "%s", c->error);
			return EV_ANSWER_TOO_LARGE;
		}
		set_err(err, errlen, "%s after %d attempts", c->error, c->attempts);
		return EV_MODEL_FAILED;
	}
	mcl->st.ok[c->tier]++;
	mcl->ep[c->tier].answered++;
	/* answered: this request is never sent again (a repair or the flagship renders its
	 * own), and a ticket parked for a flagship slot would hold it for nothing */
	free(cs->request);
	cs->request = NULL;
	/* an earlier attempt's error (a 429) is not this call's outcome */
	free(c->perr);
	c->perr = NULL;
	free(c->answer);
	if (answer_parse_completion(res->body, res->body_len, &content, &c->usage, err, errlen) <
	    0) {
		/* a broken envelope is an invalid answer: the raw body is what we keep */
		c->answer = xstrndup(res->body, res->body_len < MODEL_CALL_ANSWER_CAP
						    ? res->body_len
						    : MODEL_CALL_ANSWER_CAP);
		mcl->st.invalid[c->tier]++;
		c->outcome = CALL_INVALID_ANSWER;
		snprintf(c->error, sizeof(c->error), "%s", err);
		return EV_ANSWER_INVALID;
	}
	c->answer = strlen(content) > MODEL_CALL_ANSWER_CAP
			? xstrndup(content, MODEL_CALL_ANSWER_CAP)
			: xstrdup(content);
	free(content);
	return judge(mcl, c, c->answer, ans, err, errlen);
}
