/*
 * config: the one configuration struct, declared as a table (name, type,
 * offset, default, bounds). Pure: parses ini text and an environment array
 * passed in; never reads files or getenv itself (config_load_file in main
 * does the reading). Errors are reported as "file:line: message".
 *
 * Keys are "section.key". [kafka] keys are passed verbatim to librdkafka
 * (kafka.bootstrap.servers -> bootstrap.servers), as kcat's -X does.
 * Environment: TRIAGED_<SECTION>_<KEY>, upper case, dots -> underscores,
 * overrides the file (TRIAGED_MINI_BASE_URL, TRIAGED_KAFKA_BOOTSTRAP_SERVERS).
 */
#ifndef TRIAGED_CONFIG_H
#define TRIAGED_CONFIG_H

#include "config_mask.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

#define CONFIG_MAX_CATEGORIES 64

enum on_failure { ONFAIL_NEEDS_HUMAN, ONFAIL_WAIT };
/* provider edges (#11.4): a tier whose calls keep getting 400/401/403/404 */
enum on_config_error { ONCFG_HOLD, ONCFG_NEEDS_HUMAN };
enum response_format { RF_JSON_SCHEMA, RF_JSON_OBJECT, RF_NONE };
/* Request dialects (issue #11): what each provider's servers accept; see dialect.h. */
enum model_dialect {
	DIALECT_AUTO,
	DIALECT_OPENAI,
	DIALECT_OPENAI_REASONING,
	DIALECT_AZURE,
	DIALECT_GEMINI,
	DIALECT_ANTHROPIC,
	DIALECT_LOCAL,
	DIALECT__COUNT
};

struct kv {
	char *key; /* without the "kafka." prefix */
	char *value;
};

struct model_config {
	char *base_url;    /* e.g. http://127.0.0.1:8080/v1 ; request goes to base_url + "/chat/completions" */
	char *model;
	char *api_key_env; /* name of the environment variable holding the key; "" = no key */
	char *api_key_file; /* or a file holding it (mode 0600); wins over api_key_env */
	char *ca_file;      /* CA bundle for HTTPS to this endpoint; "" = the system's */
	char *prompt;      /* prompt template name in prompts_dir, e.g. "triage-v1" */
	int64_t timeout_ms;
	int64_t connect_timeout_ms;
	int64_t max_attempts;    /* HTTP attempts per call, including the first */
	int64_t backoff_base_ms;
	int64_t backoff_max_ms;
	int64_t max_concurrency; /* requests in flight to this endpoint */
	int64_t max_tokens;
	double temperature;
	int64_t max_response_bytes;
	enum response_format response_format;
	enum on_failure on_failure;
	int64_t breaker_failures;    /* consecutive failed calls that open the circuit breaker */
	int64_t breaker_cooldown_ms; /* how long it stays open before a probe */
	/* providers (issue #11): the request dialect and what only some dialects take */
	enum model_dialect dialect;  /* DIALECT_AUTO: from model and base_url (dialect_resolve) */
	char *reasoning_effort;      /* "auto" (the dialect's default for the model), or a value */
	char *verbosity;             /* "auto" (not sent), low, medium, high (GPT-5 family) */
	int64_t reasoning_headroom;  /* reasoning dialects: added to max_tokens (reasoning tokens count) */
	char *api_version;           /* azure: the api-version query */
	char *deployment;            /* azure: the deployment name; "" = the model name */
	/* provider edges (#11.4/5) */
	int64_t config_errors; /* consecutive 400/401/403/404 that mean misconfigured */
	enum on_config_error on_config_error; /* hold (breaker open, intake held) or needs_human */
	int pacing;			      /* 1: spread requests over the x-ratelimit-* window */
	/* a call's 429s (rate limits) spend none of its attempts until it has met them
	 * for this long; 0: each 429 spends one, like any error */
	int64_t rate_limited_max_ms;
};

struct config {
	/* [kafka]: everything passed to librdkafka */
	struct kv *kafka;
	size_t nkafka;
	/* [intake] */
	char *topic;
	char *dlq_topic;
	int64_t max_in_flight;
	int64_t low_water;
	int64_t max_message_bytes;
	int64_t max_body_prompt_bytes;
	/* [intake] lenient fields and helpdesk formats (issues #12, #18) */
	char *tier_map;
	int intake_format; /* enum intake_format */
	char *mapping_file;
	int64_t poll_batch;
	int64_t loop_slice_ms;
	int64_t prepare_threads; /* 0: prepare tickets on the loop (offload.h) */
	/* [postgres] */
	char *pg_conninfo;
	int64_t pg_batch_size;
	int64_t pg_batch_delay_ms;
	int64_t pg_reconnect_max_ms;
	/* [mini], [flagship] */
	struct model_config mini;
	struct model_config flagship;
	/* [shadow] (model-mix lab, issue #13 part 3): a candidate model or prompt on a
	 * fixed share of live tickets, after they are stored; never shown to agents */
	int shadow_enabled;
	double shadow_fraction;            /* share of tickets, chosen by ticket hash */
	int64_t shadow_max_calls_per_hour; /* its own budget: calls started per clock hour */
	int64_t flagship_max_queue; /* issue #15.2: escalations parked for a slot, at most */
	int64_t shadow_max_queue;          /* tickets waiting or in flight; more are skipped */
	struct model_config shadow;        /* endpoint, model, prompt, breaker of the candidate */
	/* [triage] */
	char *prompts_dir;
	char *categories[CONFIG_MAX_CATEGORIES];
	size_t ncategories;
	char *rules_file;    /* escalation rules (deploy/RULES.md); "" = no rules */
	char *repair_prompt; /* prompt used to repair an invalid answer */
	char *events_topic;  /* tickets.triaged events; "" = none */
	int64_t rules_regex_text_bytes; /* bytes of subject and of body the rules' regexes see */
	int check_models_at_start; /* provider edges (#11.6): check-models at start, logged */
	/* [redact]: PII replaced by placeholders before any model call */
	int redact_enabled;
	char *redact_patterns_file; /* lines "LABEL posix-ere" for order ids etc.; "" none */
	int redact_leading_zero_10; /* enum redact_lead0: 0 phone (redact), 1 keep */
	/* [policy]: the deterministic check of drafts */
	char *policy_link_allow;        /* comma-separated hosts links may point to */
	char *policy_refund_categories; /* comma-separated categories allowed to promise refunds */
	int64_t policy_min_len, policy_max_len;
	/* [budget] */
	int budget_enforce;    /* reserve worst-case cost before every call */
	int mini_on_exhausted; /* 0 needs_human, 1 pause intake */
	/* budgets that spend what they are given, reservations as leases (issues #21, #16) */
	int64_t budget_lease_s;	  /* a reservation's lease, renewed every third of it */
	int64_t budget_busy_retry_ms; /* budget held by calls in flight: ask again after (+ jitter) */
	int64_t budget_estimate_pct;  /* completion estimate: this percentile of recent calls */
	/* [http] */
	char *http_listen; /* "127.0.0.1:8081"; "" disables */
	char *http_token;  /* bearer token; required for a non-loopback listen */
	/* admin server limits, the dashboard snapshot, the loop-lag timer */
	int64_t http_max_connections, http_head_timeout_ms, http_keepalive_timeout_ms, http_fd_reserve;
	int64_t http_accept_backoff_ms, http_dashboard_interval_ms, loop_lag_interval_ms;
	/* [review] and [feedback]: the helpdesk round trip's way back (issue #12) */
	char *review_events_topic; /* tickets.reviewed events from the outbox; "" = no relay */
	int64_t review_poll_ms;	   /* outbox poll when no NOTIFY came */
	int64_t review_batch;	   /* outbox events read per round */
	char *feedback_topic;	   /* the helpdesk's own events; "" = none */
	/* [log] */
	char *log_level;
	int64_t log_summary_interval_s; /* issue #15.3: the info-level summary's period */
	/* [shutdown] */
	int64_t drain_timeout_ms;
	int64_t drain_grace_ms; /* after the drain timeout: stores, events, dead letters under way */
};

/* Fill with the embedded defaults (which run against the dev stack). */
void config_init(struct config *c);
void config_cleanup(struct config *c);

/*
 * Apply ini text (filename used in messages only), then environment
 * overrides from envp (NULL-terminated "NAME=value" strings, may be NULL).
 * Returns 0, or -1 with err = "file:line: message" (or "env NAME: message").
 * Unknown keys outside [kafka] are errors; so are values out of bounds.
 */
int config_load_text(struct config *c, const char *text, const char *filename, char *const *envp,
		     char *err, size_t errlen) WUR;
/* Same as above for environment only. */
int config_load_env(struct config *c, char *const *envp, char *err, size_t errlen) WUR;

/* Cross-key checks (low_water < max_in_flight, categories non-empty, ...). */
int config_validate(const struct config *c, char *err, size_t errlen) WUR;

/*
 * Print the effective configuration as ini, secrets masked (password= in
 * conninfo, kafka keys containing "password", "secret" or "key" values of
 * sasl/ssl). api keys are never part of the config, only their env names.
 */
void config_dump(const struct config *c, FILE *out);

/* config_mask_conninfo(): core/config_mask.h, included here for the callers of config_dump's masking. */

#endif
