/*
 * dialect: what each model provider's chat-completions servers accept and
 * how they answer (issue #11). Pure: no I/O, no clock; json-c only.
 *
 * - The dialect table: which request parameters a dialect sends (max_tokens
 *   or max_completion_tokens, temperature, reasoning_effort, verbosity), the
 *   best structured-output mode its servers honour, whether the strict
 *   schema must drop minimum/maximum/pattern/format (Azure).
 * - The automatic choice from the model name and the base URL (the table in
 *   README.md, "Model providers").
 * - The provider's error object ({"error":{message,type,code,param}}, the
 *   Anthropic and Gemini shapes), bounded.
 * - Rate limits: x-ratelimit-* response headers, and retry hints in an error
 *   body (Gemini's RetryInfo retryDelay, OpenAI's "Please try again in 1.2s").
 *
 * Must never log, read the environment or see an API key.
 */
#ifndef TRIAGED_DIALECT_H
#define TRIAGED_DIALECT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "xmem.h"

/* "auto", "openai", "openai-reasoning", "azure", "gemini", "anthropic", "local". */
const char *dialect_name(enum model_dialect d);
/* The name of a structured-output mode: "json_schema", "json_object", "prompt". */
const char *dialect_mode_name(enum response_format rf);

/*
 * The dialect for a tier: configured unless it is DIALECT_AUTO, else chosen
 * from base_url's host and the model name (never returns DIALECT_AUTO).
 */
enum model_dialect dialect_resolve(enum model_dialect configured, const char *model,
				   const char *base_url);

/* 1 for OpenAI reasoning models: gpt-5 and later, o1, o3, o4 (and their -mini, dated names). */
int dialect_reasoning_model(const char *model);

/*
 * The reasoning_effort a triage sends when the key says "auto": "minimal"
 * for GPT-5.0 (gpt-5, gpt-5-mini, gpt-5-nano: no "none"), "low" for GPT-5.1
 * and later (no "minimal") and for the o-series, "high" for the -pro models
 * (they take nothing else); NULL when the model takes none.
 */
const char *dialect_default_effort(const char *model);

/* What a request to one tier carries. Strings are static or borrowed from mc. */
struct dialect_params {
	enum model_dialect dialect; /* resolved */
	const char *tokens_key;	    /* "max_tokens" or "max_completion_tokens" */
	int64_t max_tokens;	    /* the value sent under tokens_key */
	int send_temperature;
	double temperature;		/* clamped to what the dialect takes */
	const char *reasoning_effort;	/* NULL: not sent */
	const char *verbosity;		/* NULL: not sent */
	int schema_no_bounds;		/* strict schema without minimum/maximum/pattern/format */
	enum response_format best_mode; /* the best mode its servers honour */
};

/* Fill p for mc (pure: mc->dialect, model, base_url and the dialect keys). */
void dialect_params_for(const struct model_config *mc, struct dialect_params *p);

/*
 * The structured-output mode a tier starts with: the configured one, or
 * the dialect's best when that is weaker (Anthropic ignores response_format:
 * its answers are validated and repaired locally, as in prompt-only mode).
 */
enum response_format dialect_start_mode(const struct model_config *mc);

/*
 * The URL requests go to (new string; caller frees). base_url with its
 * trailing slashes removed, then "/chat/completions"; for azure, unless
 * base_url already names a deployment (".../openai/deployments/NAME") or is
 * the v1 API (".../openai/v1"), "/openai/deployments/<deployment or
 * model>/chat/completions"; azure's deployment URLs get "?api-version=V".
 * Names and the version are percent-encoded.
 */
char *dialect_request_url(const struct model_config *mc);

/* ---- provider errors ----------------------------------------------------- */

#define PROVIDER_ERR_MESSAGE_MAX 256
#define PROVIDER_ERR_FIELD_MAX 64

/* A provider's error, every field NUL-terminated and cut to its size. */
struct provider_error {
	char message[PROVIDER_ERR_MESSAGE_MAX];
	char type[PROVIDER_ERR_FIELD_MAX];  /* "invalid_request_error", Gemini "status" */
	char code[PROVIDER_ERR_FIELD_MAX];  /* "unsupported_parameter", Gemini's number */
	char param[PROVIDER_ERR_FIELD_MAX]; /* "max_tokens" */
};

/*
 * Parse an error body: {"error":{...}} (OpenAI, Azure, vLLM, Anthropic's
 * {"type":"error","error":{...}}), [{"error":{...}}] (Gemini), or
 * {"error":"text"}. Returns 0 and fills e (empty fields where absent), or
 * -1 (e all empty) when body carries no error object.
 */
int dialect_parse_error(const char *body, size_t len, struct provider_error *e) WUR;

/*
 * One line for logs, /readyz and the call row: "400 unsupported_parameter
 * max_tokens: Unsupported parameter: ..." (empty parts left out), cut to n.
 */
void dialect_error_line(long http_status, const struct provider_error *e, char *out, size_t n);

/* 1 when a 400 says the structured-output request itself was refused (response_format,
 * json_schema). */
int dialect_error_is_response_format(long http_status, const struct provider_error *e);

/* 1 for a status that is a configuration error: 400, 401, 403, 404. Never retried. */
int dialect_status_is_config_error(long http_status);
/*
 * 1 when a 429 says the account's quota is spent rather than a rate limit:
 * OpenAI's {"error":{"type":"insufficient_quota","code":"insufficient_quota"}}
 * ("You exceeded your current quota, please check your plan and billing
 * details"; OpenAI's error-code guide), or one of its billing codes under that
 * type (credit_balance_exhausted, organization_spend_limit_exceeded,
 * project_spend_limit_exceeded, organization_usage_limit_exceeded: Microsoft
 * Dev Proxy's page on OpenAI's insufficient_quota). Waiting does not end it:
 * it is a configuration error (add credit, raise the limit), not a rate limit.
 */
int dialect_error_is_quota(long http_status, const struct provider_error *e);

/*
 * A 400/401/403/404 under on_config_error = hold, below config_errors in a
 * row, cannot tell yet whether the request was wrong for this one ticket (a
 * prompt too long, content refused) or for every ticket (a parameter, the
 * key, the model). It is never asked again on a guess (#11): the call waits,
 * without a request, for the tier's verdict. What the call saw when it was
 * refused, and what the tier shows now:
 */
struct config_watch {
	uint64_t answered;   /* 2xx answers the tier has had */
	uint64_t misconfigs; /* times the tier was found misconfigured */
};

enum config_verdict {
	VERDICT_WAIT, /* nothing known yet: ask again later (no request) */
	VERDICT_OWN,  /* another call was answered since: the refusal was this ticket's own */
	VERDICT_TIER, /* the tier was found misconfigured since: ask again once it is fixed */
};

/*
 * The verdict for a call refused when it saw *seen, the tier showing *now,
 * at now_ms; past until_ms with nothing known the refusal is taken as the
 * ticket's own (one request, never a retry on a guess). A tier found
 * misconfigured wins over answers (the probe that fixed it answers too).
 */
enum config_verdict dialect_config_verdict(const struct config_watch *seen,
					   const struct config_watch *now, double now_ms,
					   double until_ms);

/* ---- rate limits --------------------------------------------------------- */

/* The x-ratelimit-* headers of one response; has_* say which were present. */
struct ratelimit {
	int has_limit_requests, has_limit_tokens;
	int has_remaining_requests, has_remaining_tokens;
	int has_reset_requests, has_reset_tokens;
	int64_t limit_requests, limit_tokens;
	int64_t remaining_requests, remaining_tokens;
	uint32_t reset_requests_ms, reset_tokens_ms;
};

/*
 * Feed one raw header line ("Name: value\r\n", as curl's header callback
 * gives it). Returns 1 if it was a rate-limit header it understood, else 0.
 */
int dialect_ratelimit_header(struct ratelimit *rl, const char *line, size_t len);

/*
 * A duration as OpenAI writes them in x-ratelimit-reset-* and error
 * messages, and Gemini in retryDelay: "20ms", "1s", "1.2s", "6m0s",
 * "1h2m3.5s", "35s". Returns 0 and *ms (rounded up, capped at one day), or -1.
 */
int dialect_parse_duration(const char *s, size_t len, uint32_t *ms) WUR;

/*
 * How long the tier should wait before its next request to stay inside the
 * limits, from the last response's headers: 0 while requests and tokens
 * remain; the reset time of the exhausted one otherwise.
 */
uint32_t dialect_ratelimit_wait_ms(const struct ratelimit *rl);

/*
 * Pacing (#11.5): the gap between two request starts that spreads what is
 * left of the provider's windows over their resets. Requests: the reset
 * over the requests left (less in_flight); tokens: the reset over the
 * requests the tokens left still pay for, at est_tokens a request (its
 * prompt and the completion it may use, counted as the provider counts
 * them), less what in_flight requests will spend. The larger gap wins;
 * 0 when the headers state no limit (no pacing). est_tokens <= 0: requests only.
 */
double dialect_pace_ms(const struct ratelimit *rl, uint32_t in_flight, int64_t est_tokens);

/*
 * A retry hint in an error body: Gemini's error.details[] RetryInfo
 * "retryDelay":"35s", or OpenAI's message "... Please try again in 1.2s."
 * (also "in 20ms", "in 6m0s"). Returns 0 and *ms, or -1 when there is none.
 */
int dialect_retry_hint(const char *body, size_t len, uint32_t *ms) WUR;

#endif
