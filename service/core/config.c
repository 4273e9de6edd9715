/*
 * config: see config.h. Owns the key table below: every key of struct config
 * is one row (name, type, offset, default, bounds, checks), and init, load,
 * validate, dump and cleanup all walk that table; there is no per-key code.
 * [kafka] is the exception by design: free-form keys kept as a list.
 *
 * Must never read files, call getenv or read the clock, and must never print
 * a secret: config_dump masks conninfo passwords, URL passwords and secret
 * kafka values, and error messages do not echo values of keys that may hold
 * one.
 */
#include "config.h"
#include "config_mask.h"
#include "ticket.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef TRIAGED_DEFAULT_PROMPTS_DIR
#define PROMPTS_DIR_DEFAULT TRIAGED_DEFAULT_PROMPTS_DIR
#else
#define PROMPTS_DIR_DEFAULT "/usr/share/triaged/prompts"
#endif
#ifdef TRIAGED_DEFAULT_RULES_FILE
#define RULES_FILE_DEFAULT TRIAGED_DEFAULT_RULES_FILE
#else
#define RULES_FILE_DEFAULT "/etc/triaged/rules.conf"
#endif

#define ENV_PREFIX	 "TRIAGED_"
#define ENV_KAFKA_PREFIX "TRIAGED_KAFKA_"
#define LIST_ENTRY_MAX	 64 /* longest list entry (a category name) */
#define MASK		 "***"

enum cfg_type { CT_STRING, CT_INT, CT_DOUBLE, CT_ENUM, CT_LIST };

/* Checks on string values, applied when a value is set and again by config_validate. */
enum {
	CF_NONEMPTY = 1 << 0,
	CF_URL = 1 << 1,      /* http:// or https:// and something after it; password masked */
	CF_FILENAME = 1 << 2, /* a plain file name: [A-Za-z0-9._-]+, not starting with '.' */
	CF_ENVNAME = 1 << 3,  /* "" or an environment variable name */
	CF_LISTEN = 1 << 4,   /* "" or host:port */
	CF_CONNINFO = 1 << 5, /* libpq conninfo or URI: password masked by config_dump */
	CF_SECRET = 1 << 6,   /* never printed: config_dump shows *** when set */
};

/*
 * One key. min/max bound CT_INT and CT_DOUBLE values and the number of
 * CT_LIST entries. names: CT_ENUM values in enum order (stored as the index);
 * for CT_STRING, if set, the only accepted values (stored as the canonical
 * spelling). CT_LIST stores char *[max] at offset and its size_t count at
 * count_offset; entries are [a-z0-9_]+, unique.
 */
struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;
	double min, max;
	const char *const *names;
	unsigned flags;
	size_t count_offset;
};

static const char *const response_format_names[] = {"json_schema", "json_object", "none", NULL};
/* intake formats (issue #12): the order of enum intake_format in core/intake.h */
static const char *const intake_format_names[] = {"triaged", "zendesk", "zammad", "intercom",
						  "custom", NULL};
static const char *const on_failure_names[] = {"needs_human", "wait", NULL};
static const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};
static const char *const bool_names[] = {"false", "true", NULL};
static const char *const exhausted_names[] = {"needs_human", "pause", NULL};
/* providers (issue #11) */
static const char *const dialect_names[] = {"auto",	 "openai",    "openai-reasoning", "azure",
					    "gemini",	 "anthropic", "local",		  NULL};
static const char *const effort_names[] = {"auto", "none", "minimal", "low", "medium", "high", NULL};
static const char *const verbosity_names[] = {"auto", "low", "medium", "high", NULL};
/* redaction, issue #20: an unbroken 10-digit number with one leading 0 (enum redact_lead0) */
static const char *const lead0_names[] = {"phone", "keep", NULL};
/* provider edges (issue #11.4): what a run of 400/401/403/404 does */
static const char *const on_config_error_names[] = {"hold", "needs_human", NULL};

_Static_assert(sizeof(enum response_format) == sizeof(int), "CT_ENUM fields are stored as int");
_Static_assert(sizeof(enum on_failure) == sizeof(int), "CT_ENUM fields are stored as int");
_Static_assert(sizeof(enum model_dialect) == sizeof(int), "CT_ENUM fields are stored as int");
_Static_assert(ARRAY_SIZE(dialect_names) == DIALECT__COUNT + 1, "one name per dialect");

/* clang-format off */
#define OFF(f) offsetof(struct config, f)
#define K_STR(n, f, d, fl) {n, CT_STRING, OFF(f), d, 0, 0, NULL, fl, 0}
#define K_CHOICE(n, f, d, names) {n, CT_STRING, OFF(f), d, 0, 0, names, CF_NONEMPTY, 0}
#define K_INT(n, f, d, lo, hi) {n, CT_INT, OFF(f), d, lo, hi, NULL, 0, 0}
#define K_DBL(n, f, d, lo, hi) {n, CT_DOUBLE, OFF(f), d, lo, hi, NULL, 0, 0}
#define K_ENUM(n, f, d, names) {n, CT_ENUM, OFF(f), d, 0, 0, names, 0, 0}
#define K_LIST(n, f, cnt, d, lo, hi) {n, CT_LIST, OFF(f), d, lo, hi, NULL, 0, OFF(cnt)}

/* [mini] and [flagship] have the same keys; only some defaults differ. */
#define MODEL_KEYS(sec, m, d_model, d_prompt, d_conc, d_tokens)                                   \
	K_STR(sec ".base_url", m.base_url, "http://127.0.0.1:8080/v1", CF_URL),                    \
	K_STR(sec ".model", m.model, d_model, CF_NONEMPTY),                                        \
	K_STR(sec ".api_key_env", m.api_key_env, "OPENAI_API_KEY", CF_ENVNAME),                    \
	K_STR(sec ".api_key_file", m.api_key_file, "", 0),                                         \
	K_STR(sec ".ca_file", m.ca_file, "", 0),                                                   \
	K_STR(sec ".prompt", m.prompt, d_prompt, CF_FILENAME),                                     \
	K_INT(sec ".timeout_ms", m.timeout_ms, "30000", 1, 3600000),                               \
	K_INT(sec ".connect_timeout_ms", m.connect_timeout_ms, "5000", 1, 600000),                 \
	K_INT(sec ".max_attempts", m.max_attempts, "5", 1, 100),                                   \
	K_INT(sec ".backoff_base_ms", m.backoff_base_ms, "250", 1, 600000),                        \
	K_INT(sec ".backoff_max_ms", m.backoff_max_ms, "20000", 1, 3600000),                       \
	K_INT(sec ".max_concurrency", m.max_concurrency, d_conc, 1, 100000),                       \
	K_INT(sec ".max_tokens", m.max_tokens, d_tokens, 1, 1000000),                              \
	K_DBL(sec ".temperature", m.temperature, "0.0", 0, 2),                                     \
	K_INT(sec ".max_response_bytes", m.max_response_bytes, "1048576", 1024, 268435456),        \
	K_ENUM(sec ".response_format", m.response_format, "json_schema", response_format_names),   \
	K_ENUM(sec ".on_failure", m.on_failure, "needs_human", on_failure_names),                  \
	K_INT(sec ".breaker_failures", m.breaker_failures, "10", 1, 100000),                       \
	K_INT(sec ".breaker_cooldown_ms", m.breaker_cooldown_ms, "30000", 100, 3600000)

/* Providers (issue #11): the request dialect per tier and the keys only some dialects take. */
#define PROVIDER_KEYS(sec, m)                                                                     \
	K_ENUM(sec ".dialect", m.dialect, "auto", dialect_names),                                  \
	K_CHOICE(sec ".reasoning_effort", m.reasoning_effort, "auto", effort_names),               \
	K_CHOICE(sec ".verbosity", m.verbosity, "auto", verbosity_names),                          \
	K_INT(sec ".reasoning_headroom", m.reasoning_headroom, "2048", 0, 1000000),                \
	K_STR(sec ".api_version", m.api_version, "2024-10-21", CF_NONEMPTY),                       \
	K_STR(sec ".deployment", m.deployment, "", 0)

/* Provider edges (issue #11.4/5): a misconfigured tier holds intake; pacing from x-ratelimit-*. */
#define EDGE_KEYS(sec, m)                                                                         \
	K_INT(sec ".config_errors", m.config_errors, "3", 1, 100000),                              \
	K_ENUM(sec ".on_config_error", m.on_config_error, "hold", on_config_error_names),          \
	K_ENUM(sec ".pacing", m.pacing, "true", bool_names),                                       \
	K_INT(sec ".rate_limited_max_ms", m.rate_limited_max_ms, "300000", 0, 86400000)

/* Sections appear in table order in config_dump; keep each section's rows together. */
static const struct cfg_key keys[] = {
	K_STR("intake.topic", topic, "tickets.incoming", CF_NONEMPTY),
	K_STR("intake.dlq_topic", dlq_topic, "tickets.dlq", CF_NONEMPTY),
	K_INT("intake.max_in_flight", max_in_flight, "2048", 1, 1000000),
	K_INT("intake.low_water", low_water, "1536", 0, 1000000),
	K_INT("intake.max_message_bytes", max_message_bytes, "262144", 1024, 67108864),
	K_INT("intake.max_body_prompt_bytes", max_body_prompt_bytes, "16384", 256, 1048576),
	K_INT("intake.poll_batch", poll_batch, "500", 1, 100000),
	K_INT("intake.loop_slice_ms", loop_slice_ms, "2", 1, 10000),
	K_INT("intake.prepare_threads", prepare_threads, "1", 0, 16),
	/* intake formats and lenient fields (issues #12, #18): see core/intake.h */
	K_STR("intake.tier_map", tier_map, "", 0),
	K_ENUM("intake.format", intake_format, "triaged", intake_format_names),
	K_STR("intake.mapping_file", mapping_file, "", 0),

	K_STR("postgres.conninfo", pg_conninfo, "host=/var/run/postgresql dbname=triaged",
	      CF_NONEMPTY | CF_CONNINFO),
	K_INT("postgres.batch_size", pg_batch_size, "256", 1, 10000),
	K_INT("postgres.batch_delay_ms", pg_batch_delay_ms, "2", 0, 10000),
	K_INT("postgres.reconnect_max_ms", pg_reconnect_max_ms, "5000", 100, 600000),

	MODEL_KEYS("mini", mini, "gpt-4o-mini", "triage-v1", "2048", "600"),
	PROVIDER_KEYS("mini", mini),
	EDGE_KEYS("mini", mini),
	MODEL_KEYS("flagship", flagship, "gpt-4o", "flagship-v1", "128", "1200"),
	PROVIDER_KEYS("flagship", flagship),
	EDGE_KEYS("flagship", flagship),
	/* escalations never block intake (#15.2): those waiting for a flagship slot are
	 * parked outside intake.max_in_flight, up to this many; at the limit intake holds */
	K_INT("flagship.max_queue", flagship_max_queue, "2048", 1, 1000000),

	/* [shadow]: model-mix lab shadow traffic (issue #13 part 3) */
	K_ENUM("shadow.enabled", shadow_enabled, "false", bool_names),
	K_DBL("shadow.fraction", shadow_fraction, "0.1", 0, 1),
	K_INT("shadow.max_calls_per_hour", shadow_max_calls_per_hour, "10000", 0, 100000000),
	K_INT("shadow.max_queue", shadow_max_queue, "64", 1, 100000),
	MODEL_KEYS("shadow", shadow, "gpt-4o-mini", "triage-v1", "8", "600"),
	PROVIDER_KEYS("shadow", shadow),

	K_STR("triage.prompts_dir", prompts_dir, PROMPTS_DIR_DEFAULT, CF_NONEMPTY),
	K_LIST("triage.categories", categories, ncategories,
	       "billing,technical,account,shipping,product_question,feature_request,bug_report,"
	       "complaint,cancellation,security,legal,other",
	       1, CONFIG_MAX_CATEGORIES),

	K_STR("triage.rules_file", rules_file, RULES_FILE_DEFAULT, 0),
	K_STR("triage.repair_prompt", repair_prompt, "repair-v1", CF_NONEMPTY | CF_FILENAME),
	K_STR("triage.events_topic", events_topic, "tickets.triaged", 0),
	/* rules regex bound (issue 16): bytes of subject and of body the rules' regexes see */
	K_INT("triage.rules_regex_text_bytes", rules_regex_text_bytes, "4096", 64, 16777216),
	/* provider edges (issue #11.6): run check-models at start and log each tier's line */
	K_ENUM("triage.check_models_at_start", check_models_at_start, "false", bool_names),

	K_ENUM("redact.enabled", redact_enabled, "true", bool_names),
	K_STR("redact.patterns_file", redact_patterns_file, "", 0),
	/* redaction for text as customers paste it (issue #20): the leading-0 10-digit choice */
	K_ENUM("redact.leading_zero_10", redact_leading_zero_10, "phone", lead0_names),

	K_STR("policy.link_allow", policy_link_allow, "", 0),
	K_STR("policy.refund_categories", policy_refund_categories, "", 0),
	K_INT("policy.min_len", policy_min_len, "20", 0, 100000),
	K_INT("policy.max_len", policy_max_len, "4000", 0, 1000000),

	K_ENUM("budget.enforce", budget_enforce, "false", bool_names),
	K_ENUM("budget.mini_on_exhausted", mini_on_exhausted, "needs_human", exhausted_names),
	/* budgets that spend what they are given, reservations as leases (issues #21, #16) */
	K_INT("budget.lease_s", budget_lease_s, "60", 3, 86400),
	K_INT("budget.busy_retry_ms", budget_busy_retry_ms, "500", 10, 60000),
	K_INT("budget.estimate_percentile", budget_estimate_pct, "95", 50, 100),

	K_STR("http.listen", http_listen, "127.0.0.1:8081", CF_LISTEN),
	K_STR("http.token", http_token, "", CF_SECRET),
	/* admin server limits, the dashboard snapshot, the loop-lag timer (#19.5, #14.4, #16) */
	K_INT("http.max_connections", http_max_connections, "256", 1, 100000),
	K_INT("http.head_timeout_ms", http_head_timeout_ms, "10000", 100, 600000),
	K_INT("http.keepalive_timeout_ms", http_keepalive_timeout_ms, "30000", 100, 600000),
	K_INT("http.fd_reserve", http_fd_reserve, "256", 0, 1000000),
	K_INT("http.accept_backoff_ms", http_accept_backoff_ms, "1000", 10, 60000),
	K_INT("http.dashboard_interval_ms", http_dashboard_interval_ms, "5000", 0, 600000),
	K_INT("http.loop_lag_interval_ms", loop_lag_interval_ms, "100", 1, 60000),

	/* the helpdesk round trip's way back (issue #12): review outbox relay, feedback in */
	K_STR("review.events_topic", review_events_topic, "tickets.reviewed", 0),
	K_INT("review.poll_ms", review_poll_ms, "1000", 10, 600000),
	K_INT("review.batch", review_batch, "256", 1, 10000),
	K_STR("feedback.topic", feedback_topic, "", 0),

	K_CHOICE("log.level", log_level, "info", log_level_names),
	/* quiet logs (issue #15 part 3): one summary line at info every this many seconds */
	K_INT("log.summary_interval_s", log_summary_interval_s, "60", 1, 86400),

	K_INT("shutdown.drain_timeout_ms", drain_timeout_ms, "30000", 0, 3600000),
	K_INT("shutdown.drain_grace_ms", drain_grace_ms, "10000", 0, 600000),
};
/* clang-format on */

/* [kafka] defaults, applied by config_init before anything else. */
static const struct {
	const char *key, *value;
} kafka_defaults[] = {
	{"bootstrap.servers", "127.0.0.1:9092"},
	{"group.id", "triaged"},
};

static void *field(struct config *c, const struct cfg_key *k)
{
	return (char *)c + k->offset;
}

static const void *cfield(const struct config *c, const struct cfg_key *k)
{
	return (const char *)c + k->offset;
}

static size_t *list_count(struct config *c, const struct cfg_key *k)
{
	return (size_t *)(void *)((char *)c + k->count_offset);
}

static size_t clist_count(const struct config *c, const struct cfg_key *k)
{
	return *(const size_t *)(const void *)((const char *)c + k->count_offset);
}

/* Length of the section part of "section.key". */
static size_t section_len(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot ? (size_t)(dot - name) : strlen(name);
}

static const struct cfg_key *find_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int section_known(const char *sec)
{
	size_t n = strlen(sec);
	if (strcmp(sec, "kafka") == 0)
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (section_len(keys[i].name) == n && strncmp(keys[i].name, sec, n) == 0)
			return 1;
	return 0;
}

static int find_name(const char *const *names, const char *v)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcasecmp(names[i], v) == 0)
			return i;
	return -1;
}

static void join_names(const char *const *names, char *out, size_t outlen)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; names[i] != NULL && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", names[i]);
}

static int has_control(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

static int is_filename(const char *v)
{
	if (*v == '\0' || *v == '.')
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '.' && *v != '_' && *v != '-')
			return 0;
	return 1;
}

static int is_envname(const char *v)
{
	if (*v == '\0')
		return 1;
	if (!isalpha((unsigned char)*v) && *v != '_')
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '_')
			return 0;
	return 1;
}

static int is_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	int64_t port;
	if (*v == '\0')
		return 1;
	if (colon == NULL || colon == v || colon[1] == '\0' || strchr(v, ' ') != NULL)
		return 0;
	for (const char *p = colon + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return parse_int64(colon + 1, 0, 65535, &port) == 0;
}

/* Scheme length of an http(s) URL with something after "://", else 0. */
static size_t http_scheme_len(const char *v)
{
	if (strncasecmp(v, "http://", 7) == 0 && v[7] != '\0')
		return 7;
	if (strncasecmp(v, "https://", 8) == 0 && v[8] != '\0')
		return 8;
	return 0;
}

/* Checks of a string value (flags, control characters). Messages never echo secrets. */
static int check_string(const struct cfg_key *k, const char *v, char *msg, size_t msglen)
{
	if (v == NULL) {
		set_err(msg, msglen, "is not set");
		return -1;
	}
	if (has_control(v)) {
		set_err(msg, msglen, "contains a control character");
		return -1;
	}
	if ((k->flags & CF_NONEMPTY) && *v == '\0') {
		set_err(msg, msglen, "must not be empty");
		return -1;
	}
	if ((k->flags & CF_URL) && http_scheme_len(v) == 0) {
		set_err(msg, msglen, "must be an http:// or https:// URL");
		return -1;
	}
	if ((k->flags & CF_FILENAME) && !is_filename(v)) {
		set_err(msg, msglen,
			"'%s' is not a plain file name ([A-Za-z0-9._-], no leading '.')", v);
		return -1;
	}
	if ((k->flags & CF_ENVNAME) && !is_envname(v)) {
		set_err(msg, msglen, "'%s' is not an environment variable name", v);
		return -1;
	}
	if ((k->flags & CF_LISTEN) && !is_listen(v)) {
		set_err(msg, msglen, "'%s' is not host:port (port 0-65535), or empty to disable",
			v);
		return -1;
	}
	return 0;
}

static int check_list_entry(const char *e, char *msg, size_t msglen)
{
	if (*e == '\0') {
		set_err(msg, msglen, "empty entry");
		return -1;
	}
	if (strlen(e) > LIST_ENTRY_MAX) {
		set_err(msg, msglen, "entry '%.20s...' is longer than %d characters", e,
			LIST_ENTRY_MAX);
		return -1;
	}
	for (const char *p = e; *p; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_') {
			set_err(msg, msglen, "entry '%s' must match [a-z0-9_]+", e);
			return -1;
		}
	}
	return 0;
}

/* Entry count, entries and uniqueness of a list (used by parse and validate). */
static int check_list(const struct cfg_key *k, char *const *v, size_t n, char *msg, size_t msglen)
{
	if (n < (size_t)k->min) {
		set_err(msg, msglen, "must list at least %zu entr%s", (size_t)k->min,
			k->min == 1 ? "y" : "ies");
		return -1;
	}
	if (n > (size_t)k->max) {
		set_err(msg, msglen, "more than %zu entries", (size_t)k->max);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (check_list_entry(v[i], msg, msglen) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(v[i], v[j]) == 0) {
				set_err(msg, msglen, "duplicate entry '%s'", v[i]);
				return -1;
			}
		}
	}
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i]);
		v[i] = NULL;
	}
}

/* Split a comma-separated list; on success the field's old entries are replaced. */
static int set_list(struct config *c, const struct cfg_key *k, const char *value, char *msg,
		    size_t msglen)
{
	char **dst = field(c, k);
	size_t *count = list_count(c, k);
	size_t cap = (size_t)k->max + 1; /* one spare slot so "too many" is detected */
	char **tmp = xcalloc(cap, sizeof(*tmp));
	size_t n = 0;
	int rc = -1;

	if (!str_blank(value)) {
		const char *p = value;
		for (;;) {
			size_t len = strcspn(p, ",");
			if (n == cap) {
				set_err(msg, msglen, "more than %zu entries", (size_t)k->max);
				goto out;
			}
			tmp[n++] = str_trim(xstrndup(p, len));
			if (p[len] == '\0')
				break;
			p += len + 1;
		}
	}
	if (check_list(k, tmp, n, msg, msglen) < 0)
		goto out;
	free_list(dst, *count);
	memcpy(dst, tmp, n * sizeof(*tmp));
	*count = n;
	n = 0; /* ownership moved */
	rc = 0;
out:
	free_list(tmp, n);
	free(tmp);
	return rc;
}

/* Parse and store one value. On error msg holds the reason (without key or location). */
static int set_value(struct config *c, const struct cfg_key *k, const char *v, char *msg,
		     size_t msglen)
{
	char names[256];
	int idx;

	switch (k->type) {
	case CT_STRING: {
		char **dst = field(c, k);
		if (k->names != NULL) {
			if ((idx = find_name(k->names, v)) < 0) {
				join_names(k->names, names, sizeof(names));
				set_err(msg, msglen, "'%s' is not one of %s", v, names);
				return -1;
			}
			v = k->names[idx];
		}
		if (check_string(k, v, msg, msglen) < 0)
			return -1;
		free(*dst);
		*dst = xstrdup(v);
		return 0;
	}
	case CT_INT:
		if (parse_int64(v, (int64_t)k->min, (int64_t)k->max, field(c, k)) < 0) {
			set_err(msg, msglen, "'%s' is not an integer in [%" PRId64 ", %" PRId64 "]",
				v, (int64_t)k->min, (int64_t)k->max);
			return -1;
		}
		return 0;
	case CT_DOUBLE:
		if (parse_double(v, k->min, k->max, field(c, k)) < 0) {
			set_err(msg, msglen, "'%s' is not a number in [%g, %g]", v, k->min, k->max);
			return -1;
		}
		return 0;
	case CT_ENUM:
		if ((idx = find_name(k->names, v)) < 0) {
			join_names(k->names, names, sizeof(names));
			set_err(msg, msglen, "'%s' is not one of %s", v, names);
			return -1;
		}
		*(int *)field(c, k) = idx;
		return 0;
	case CT_LIST:
		return set_list(c, k, v, msg, msglen);
	}
	set_err(msg, msglen, "internal error: bad key type");
	return -1;
}

static int kafka_key_valid(const char *k)
{
	/* A dumped "[x = ..." or "#x = ..." line would read back as a section or a comment. */
	if (*k == '\0' || *k == '[' || *k == '#' || *k == ';')
		return 0;
	for (; *k; k++)
		if ((unsigned char)*k <= 0x20 || *k == 0x7f || *k == '=')
			return 0;
	return 1;
}

/* Set a [kafka] key: replace the value of an existing key (last wins) or append. */
static int kafka_set(struct config *c, const char *key, const char *value, char *msg, size_t msglen)
{
	if (!kafka_key_valid(key)) {
		set_err(msg, msglen, "'%s' is not a valid kafka property name", key);
		return -1;
	}
	if (has_control(value)) {
		set_err(msg, msglen, "kafka.%s: contains a control character", key);
		return -1;
	}
	for (size_t i = 0; i < c->nkafka; i++) {
		if (strcmp(c->kafka[i].key, key) == 0) {
			free(c->kafka[i].value);
			c->kafka[i].value = xstrdup(value);
			return 0;
		}
	}
	c->kafka = xrealloc(c->kafka, (c->nkafka + 1) * sizeof(*c->kafka));
	c->kafka[c->nkafka].key = xstrdup(key);
	c->kafka[c->nkafka].value = xstrdup(value);
	c->nkafka++;
	return 0;
}

static const char *kafka_get(const struct config *c, const char *key)
{
	for (size_t i = 0; i < c->nkafka; i++)
		if (strcmp(c->kafka[i].key, key) == 0)
			return c->kafka[i].value;
	return NULL;
}

void config_init(struct config *c)
{
	char msg[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(kafka_defaults); i++)
		if (kafka_set(c, kafka_defaults[i].key, kafka_defaults[i].value, msg, sizeof(msg)) <
		    0)
			abort();
	/* Defaults go through the same parser as the file, so a bad default cannot hide. */
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (set_value(c, &keys[i], keys[i].def, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "config: bad built-in default for %s: %s\n", keys[i].name,
				msg);
			abort();
		}
	}
}

void config_cleanup(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct cfg_key *k = &keys[i];
		if (k->type == CT_STRING) {
			char **p = field(c, k);
			free(*p);
			*p = NULL;
		} else if (k->type == CT_LIST) {
			free_list(field(c, k), *list_count(c, k));
			*list_count(c, k) = 0;
		}
	}
	for (size_t i = 0; i < c->nkafka; i++) {
		free(c->kafka[i].key);
		free(c->kafka[i].value);
	}
	free(c->kafka);
	memset(c, 0, sizeof(*c));
}

/* Strip one pair of surrounding double quotes in place. -1 if only one side has one. */
static int unquote(char *v)
{
	size_t n = strlen(v);
	if (n == 0 || (v[0] != '"' && v[n - 1] != '"'))
		return 0;
	if (n < 2 || v[0] != '"' || v[n - 1] != '"')
		return -1;
	memmove(v, v + 1, n - 2);
	v[n - 2] = '\0';
	return 0;
}

/* One trimmed ini line. *section is the current section (owned). */
static int parse_line(struct config *c, char *line, char **section, char *msg, size_t msglen)
{
	char sub[512];
	char *eq, *key, *value, *full = NULL;
	const struct cfg_key *k;
	size_t n = strlen(line);
	int rc = -1;

	if (n == 0 || line[0] == '#' || line[0] == ';')
		return 0;
	if (line[0] == '[') {
		if (line[n - 1] != ']') {
			set_err(msg, msglen, "malformed section header (expected '[name]')");
			return -1;
		}
		line[n - 1] = '\0';
		str_trim(line + 1);
		if (!section_known(line + 1)) {
			set_err(msg, msglen, "unknown section '%s'", line + 1);
			return -1;
		}
		free(*section);
		*section = xstrdup(line + 1);
		return 0;
	}
	if ((eq = strchr(line, '=')) == NULL) {
		set_err(msg, msglen, "expected 'key = value'");
		return -1;
	}
	*eq = '\0';
	key = str_trim(line);
	value = str_trim(eq + 1);
	if (*key == '\0') {
		set_err(msg, msglen, "missing key before '='");
		return -1;
	}
	if (*section == NULL) {
		set_err(msg, msglen, "key '%s' appears before any [section]", key);
		return -1;
	}
	if (unquote(value) < 0) {
		set_err(msg, msglen, "%s.%s: unbalanced double quote", *section, key);
		return -1;
	}
	if (strcmp(*section, "kafka") == 0)
		return kafka_set(c, key, value, msg, msglen);

	full = xasprintf("%s.%s", *section, key);
	if ((k = find_key(full)) == NULL) {
		set_err(msg, msglen, "unknown key '%s'", full);
		goto out;
	}
	if (set_value(c, k, value, sub, sizeof(sub)) < 0) {
		set_err(msg, msglen, "%s: %s", full, sub);
		goto out;
	}
	rc = 0;
out:
	free(full);
	return rc;
}

int config_load_text(struct config *c, const char *text, const char *filename, char *const *envp,
		     char *err, size_t errlen)
{
	const char *p = text ? text : "";
	const char *fname = filename ? filename : "config";
	char *line = NULL, *section = NULL;
	char msg[768];
	int lineno = 0, rc = -1;

	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		lineno++;
		free(line);
		line = str_trim(xstrndup(p, n));
		p += n + (p[n] == '\n');
		if (parse_line(c, line, &section, msg, sizeof(msg)) < 0) {
			set_err(err, errlen, "%s:%d: %s", fname, lineno, msg);
			goto out;
		}
	}
	rc = config_load_env(c, envp, err, errlen);
out:
	free(line);
	free(section);
	return rc;
}

/* Does env name rest (after "TRIAGED_") equal key name upper-cased, '.' -> '_'? */
static int env_matches(const char *rest, const char *name)
{
	for (; *name; name++, rest++) {
		int want = *name == '.' ? '_' : toupper((unsigned char)*name);
		if (*rest != want)
			return 0;
	}
	return *rest == '\0';
}

/* Does env name rest start with the upper-cased section of name and '_'? */
static int env_in_section(const char *rest, const char *name)
{
	size_t n = section_len(name);
	for (size_t i = 0; i < n; i++)
		if (rest[i] != toupper((unsigned char)name[i]))
			return 0;
	return rest[n] == '_';
}

/* Apply one "NAME=value" entry. Entries not ours are ignored. */
static int apply_env(struct config *c, const char *name, const char *value, char *msg,
		     size_t msglen)
{
	const char *rest = name + strlen(ENV_PREFIX);
	int in_section = 0;

	if (strncmp(name, ENV_KAFKA_PREFIX, strlen(ENV_KAFKA_PREFIX)) == 0) {
		char *key = xstrdup(name + strlen(ENV_KAFKA_PREFIX));
		int rc;
		for (char *q = key; *q; q++)
			*q = *q == '_' ? '.' : (char)tolower((unsigned char)*q);
		rc = kafka_set(c, key, value, msg, msglen);
		free(key);
		return rc;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (env_matches(rest, keys[i].name))
			return set_value(c, &keys[i], value, msg, msglen);
		in_section |= env_in_section(rest, keys[i].name);
	}
	/* A typo in one of our sections must not be silently ignored; other TRIAGED_* are. */
	if (in_section) {
		set_err(msg, msglen, "unknown key");
		return -1;
	}
	return 0;
}

int config_load_env(struct config *c, char *const *envp, char *err, size_t errlen)
{
	char msg[512];
	int rc = 0;

	for (size_t i = 0; envp != NULL && envp[i] != NULL && rc == 0; i++) {
		const char *e = envp[i], *eq = strchr(e, '=');
		char *name;
		if (eq == NULL || strncmp(e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			continue;
		name = xstrndup(e, (size_t)(eq - e));
		if (apply_env(c, name, eq + 1, msg, sizeof(msg)) < 0) {
			set_err(err, errlen, "env %s: %s", name, msg);
			rc = -1;
		}
		free(name);
	}
	return rc;
}

/* Re-check one stored value against its row (values may have been set by code). */
static int validate_key(const struct config *c, const struct cfg_key *k, char *msg, size_t msglen)
{
	const void *f = cfield(c, k);

	switch (k->type) {
	case CT_STRING: {
		const char *v = *(char *const *)f;
		if (k->names != NULL && v != NULL && find_name(k->names, v) < 0) {
			set_err(msg, msglen, "'%s' is not an accepted value", v);
			return -1;
		}
		return check_string(k, v, msg, msglen);
	}
	case CT_INT: {
		int64_t v = *(const int64_t *)f;
		if (v < (int64_t)k->min || v > (int64_t)k->max) {
			set_err(msg, msglen, "%" PRId64 " is not in [%" PRId64 ", %" PRId64 "]", v,
				(int64_t)k->min, (int64_t)k->max);
			return -1;
		}
		return 0;
	}
	case CT_DOUBLE: {
		double v = *(const double *)f;
		if (!(v >= k->min && v <= k->max)) {
			set_err(msg, msglen, "%g is not in [%g, %g]", v, k->min, k->max);
			return -1;
		}
		return 0;
	}
	case CT_ENUM: {
		int v = *(const int *)f;
		int n = 0;
		while (k->names[n] != NULL)
			n++;
		if (v < 0 || v >= n) {
			set_err(msg, msglen, "bad enum value %d", v);
			return -1;
		}
		return 0;
	}
	case CT_LIST:
		return check_list(k, (char *const *)f, clist_count(c, k), msg, msglen);
	}
	return 0;
}

int config_validate(const struct config *c, char *err, size_t errlen)
{
	const struct {
		const char *name;
		const struct model_config *m;
	} models[] = {{"mini", &c->mini}, {"flagship", &c->flagship}, {"shadow", &c->shadow}};
	const char *gid = kafka_get(c, "group.id");
	char msg[512];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (validate_key(c, &keys[i], msg, sizeof(msg)) < 0) {
			set_err(err, errlen, "%s: %s", keys[i].name, msg);
			return -1;
		}
	}
	if (c->low_water >= c->max_in_flight) {
		set_err(err, errlen,
			"intake.low_water (%" PRId64 ") must be less than intake.max_in_flight "
			"(%" PRId64 ")",
			c->low_water, c->max_in_flight);
		return -1;
	}
	if (strcmp(c->topic, c->dlq_topic) == 0) {
		set_err(err, errlen, "intake.dlq_topic must differ from intake.topic ('%s')",
			c->topic);
		return -1;
	}
	{
		struct tier_map tm;
		if (tier_map_parse(c->tier_map, &tm, msg, sizeof(msg)) < 0) {
			set_err(err, errlen, "intake.tier_map: %s", msg);
			return -1;
		}
	}
	if (c->intake_format == 4 && c->mapping_file[0] == '\0') {
		set_err(err, errlen, "intake.format = custom needs intake.mapping_file");
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(models); i++) {
		const struct model_config *m = models[i].m;
		if (m->backoff_base_ms > m->backoff_max_ms) {
			set_err(err, errlen, "%s.backoff_base_ms must not exceed %s.backoff_max_ms",
				models[i].name, models[i].name);
			return -1;
		}
		if (m->connect_timeout_ms > m->timeout_ms) {
			set_err(err, errlen, "%s.connect_timeout_ms must not exceed %s.timeout_ms",
				models[i].name, models[i].name);
			return -1;
		}
	}
	if (gid == NULL || *gid == '\0') {
		set_err(err, errlen, "kafka.group.id must be set");
		return -1;
	}
	return 0;
}

/* Append to a mask buffer; its cap is far above any config string, so failure is a bug. */
static void mb_add(struct buf *b, const char *p, size_t n)
{
	if (buf_append(b, p, n) < 0)
		abort();
}

static void mb_str(struct buf *b, const char *s)
{
	mb_add(b, s, strlen(s));
}

static void dump_kv(FILE *out, const char *key, const char *v)
{
	size_t n = strlen(v);
	int quote = n == 0 || isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]) ||
		    v[0] == '"' || v[n - 1] == '"';
	fprintf(out, "%s = %s%s%s\n", key, quote ? "\"" : "", v, quote ? "\"" : "");
}

/* Shortest %g form that reads back as the same double. */
static void format_double(char *out, size_t outlen, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, outlen, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static char *value_text(const struct config *c, const struct cfg_key *k)
{
	const void *f = cfield(c, k);
	char num[64];

	switch (k->type) {
	case CT_STRING: {
		const char *v = *(char *const *)f;
		size_t skip;
		if (v == NULL)
			return xstrdup("");
		if (k->flags & CF_SECRET)
			return xstrdup(*v ? "***" : "");
		if (k->flags & CF_CONNINFO)
			return config_mask_conninfo(v);
		if ((k->flags & CF_URL) && (skip = http_scheme_len(v)) > 0)
			return config_mask_uri(v, skip);
		return xstrdup(v);
	}
	case CT_INT:
		return xasprintf("%" PRId64, *(const int64_t *)f);
	case CT_DOUBLE:
		format_double(num, sizeof(num), *(const double *)f);
		return xstrdup(num);
	case CT_ENUM: {
		int v = *(const int *)f, n = 0;
		while (k->names[n] != NULL)
			n++;
		return xstrdup(v >= 0 && v < n ? k->names[v] : "");
	}
	case CT_LIST: {
		char *const *v = f;
		size_t cnt = clist_count(c, k);
		struct buf b;
		buf_init(&b, SIZE_MAX / 4);
		for (size_t i = 0; i < cnt; i++) {
			if (i > 0)
				mb_add(&b, ",", 1);
			mb_str(&b, v[i]);
		}
		return buf_steal(&b);
	}
	}
	return xstrdup("");
}

void config_dump(const struct config *c, FILE *out)
{
	const char *prev = NULL;

	fprintf(out, "# triaged effective configuration (secrets masked)\n");
	fprintf(out, "\n[kafka]\n");
	for (size_t i = 0; i < c->nkafka; i++)
		dump_kv(out, c->kafka[i].key,
			config_kafka_key_is_secret(c->kafka[i].key) ? MASK : c->kafka[i].value);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct cfg_key *k = &keys[i];
		size_t sl = section_len(k->name);
		char *v;
		if (prev == NULL || section_len(prev) != sl || strncmp(prev, k->name, sl) != 0)
			fprintf(out, "\n[%.*s]\n", (int)sl, k->name);
		prev = k->name;
		v = value_text(c, k);
		dump_kv(out, k->name + sl + 1, v);
		free(v);
	}
}
