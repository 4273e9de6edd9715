/*
 * Unit tests for config: defaults, every value type, error messages with
 * file:line, [kafka] passthrough, ini syntax, environment overrides,
 * categories, cross-key validation, secret masking and the documented
 * example file (deploy/triaged.ini.example), which must list every key with
 * its default.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#ifndef TRIAGED_SOURCE_DIR
#define TRIAGED_SOURCE_DIR "."
#endif

#ifdef TRIAGED_DEFAULT_PROMPTS_DIR
#define EXPECT_PROMPTS_DIR TRIAGED_DEFAULT_PROMPTS_DIR
#else
#define EXPECT_PROMPTS_DIR "/usr/share/triaged/prompts"
#endif

#define NKEYS 142 /* key lines in a default dump: 2 kafka + 140 table keys */

static char *dump_str(const struct config *c)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	ck_assert_ptr_nonnull(f);
	config_dump(c, f);
	fclose(f);
	return s;
}

static const char *kafka_value(const struct config *c, const char *key)
{
	for (size_t i = 0; i < c->nkafka; i++)
		if (strcmp(c->kafka[i].key, key) == 0)
			return c->kafka[i].value;
	return NULL;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	size_t n = 0, got;
	ck_assert_msg(f != NULL, "cannot open %s", path);
	s = malloc(1 << 20);
	got = fread(s, 1, (1 << 20) - 1, f);
	ck_assert(got > 0);
	n = got;
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Value of section.key in ini text (dump format), or NULL. Returns a new string. */
static char *ini_get(const char *text, const char *name)
{
	const char *dot = strchr(name, '.');
	size_t sl = (size_t)(dot - name);
	char section[64] = "";
	const char *p = text;

	while (*p) {
		size_t n = strcspn(p, "\n");
		char *line = strndup(p, n);
		char *eq;
		p += n + (p[n] == '\n');
		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%.*s", (int)(strlen(line) - 2),
				 line + 1);
		} else if (line[0] != '#' && (eq = strstr(line, " = ")) != NULL) {
			*eq = '\0';
			if (strlen(section) == sl && strncmp(section, name, sl) == 0 &&
			    strcmp(line, dot + 1) == 0) {
				char *v = strdup(eq + 3);
				free(line);
				return v;
			}
		}
		free(line);
	}
	return NULL;
}

START_TEST(test_defaults)
{
	struct config c;
	char err[512];

	config_init(&c);
	ck_assert_uint_eq(c.nkafka, 2);
	ck_assert_str_eq(kafka_value(&c, "bootstrap.servers"), "127.0.0.1:9092");
	ck_assert_str_eq(kafka_value(&c, "group.id"), "triaged");
	ck_assert_str_eq(c.topic, "tickets.incoming");
	ck_assert_str_eq(c.dlq_topic, "tickets.dlq");
	ck_assert_int_eq(c.max_in_flight, 2048);
	ck_assert_int_eq(c.low_water, 1536);
	ck_assert_int_eq(c.max_message_bytes, 262144);
	ck_assert_int_eq(c.max_body_prompt_bytes, 16384);
	ck_assert_int_eq(c.poll_batch, 500);
	ck_assert_str_eq(c.pg_conninfo, "host=/var/run/postgresql dbname=triaged");
	ck_assert_int_eq(c.pg_batch_size, 256);
	ck_assert_int_eq(c.pg_batch_delay_ms, 2);
	ck_assert_int_eq(c.pg_reconnect_max_ms, 5000);

	ck_assert_str_eq(c.mini.base_url, "http://127.0.0.1:8080/v1");
	ck_assert_str_eq(c.mini.model, "gpt-4o-mini");
	ck_assert_str_eq(c.mini.api_key_env, "OPENAI_API_KEY");
	ck_assert_str_eq(c.mini.prompt, "triage-v1");
	ck_assert_int_eq(c.mini.timeout_ms, 30000);
	ck_assert_int_eq(c.mini.connect_timeout_ms, 5000);
	ck_assert_int_eq(c.mini.max_attempts, 5);
	ck_assert_int_eq(c.mini.backoff_base_ms, 250);
	ck_assert_int_eq(c.mini.backoff_max_ms, 20000);
	ck_assert_int_eq(c.mini.max_concurrency, 2048);
	ck_assert_int_eq(c.mini.max_tokens, 600);
	ck_assert_double_eq(c.mini.temperature, 0.0);
	ck_assert_int_eq(c.mini.max_response_bytes, 1048576);
	ck_assert_int_eq(c.mini.response_format, RF_JSON_SCHEMA);
	ck_assert_int_eq(c.mini.on_failure, ONFAIL_NEEDS_HUMAN);

	ck_assert_str_eq(c.flagship.base_url, "http://127.0.0.1:8080/v1");
	ck_assert_str_eq(c.flagship.model, "gpt-4o");
	ck_assert_str_eq(c.flagship.api_key_env, "OPENAI_API_KEY");
	ck_assert_str_eq(c.flagship.prompt, "flagship-v1");
	ck_assert_int_eq(c.flagship.timeout_ms, 30000);
	ck_assert_int_eq(c.flagship.max_concurrency, 128);
	ck_assert_int_eq(c.flagship.max_tokens, 1200);
	ck_assert_int_eq(c.flagship.max_attempts, 5);
	ck_assert_int_eq(c.flagship.response_format, RF_JSON_SCHEMA);
	ck_assert_int_eq(c.flagship.on_failure, ONFAIL_NEEDS_HUMAN);

	ck_assert_str_eq(c.prompts_dir, EXPECT_PROMPTS_DIR);
	ck_assert_uint_eq(c.ncategories, 12);
	ck_assert_str_eq(c.categories[0], "billing");
	ck_assert_str_eq(c.categories[4], "product_question");
	ck_assert_str_eq(c.categories[11], "other");
	ck_assert_ptr_null(c.categories[12]);
	ck_assert_str_eq(c.http_listen, "127.0.0.1:8081");
	ck_assert_str_eq(c.log_level, "info");
	ck_assert_int_eq(c.drain_timeout_ms, 30000);
	ck_assert_int_eq(c.drain_grace_ms, 10000);

	ck_assert_msg(config_validate(&c, err, sizeof(err)) == 0, "%s", err);
	config_cleanup(&c);
}
END_TEST

/* The dump of the defaults lists every key once, with its default. */
static const struct {
	const char *name, *value;
} default_dump[] = {
	{"kafka.bootstrap.servers", "127.0.0.1:9092"},
	{"kafka.group.id", "triaged"},
	{"intake.topic", "tickets.incoming"},
	{"intake.dlq_topic", "tickets.dlq"},
	{"intake.max_in_flight", "2048"},
	{"intake.low_water", "1536"},
	{"intake.max_message_bytes", "262144"},
	{"intake.max_body_prompt_bytes", "16384"},
	{"intake.poll_batch", "500"},
	{"intake.loop_slice_ms", "2"},
	{"intake.prepare_threads", "1"},
	{"intake.tier_map", "\"\""},
	{"intake.format", "triaged"},
	{"intake.mapping_file", "\"\""},
	{"postgres.conninfo", "host=/var/run/postgresql dbname=triaged"},
	{"postgres.batch_size", "256"},
	{"postgres.batch_delay_ms", "2"},
	{"postgres.reconnect_max_ms", "5000"},
	{"mini.base_url", "http://127.0.0.1:8080/v1"},
	{"mini.model", "gpt-4o-mini"},
	{"mini.api_key_env", "OPENAI_API_KEY"},
	{"mini.api_key_file", "\"\""},
	{"mini.ca_file", "\"\""},
	{"mini.prompt", "triage-v1"},
	{"mini.timeout_ms", "30000"},
	{"mini.connect_timeout_ms", "5000"},
	{"mini.max_attempts", "5"},
	{"mini.backoff_base_ms", "250"},
	{"mini.backoff_max_ms", "20000"},
	{"mini.max_concurrency", "2048"},
	{"mini.max_tokens", "600"},
	{"mini.temperature", "0"},
	{"mini.max_response_bytes", "1048576"},
	{"mini.response_format", "json_schema"},
	{"mini.on_failure", "needs_human"},
	{"mini.breaker_failures", "10"},
	{"mini.breaker_cooldown_ms", "30000"},
	{"mini.dialect", "auto"},
	{"mini.reasoning_effort", "auto"},
	{"mini.verbosity", "auto"},
	{"mini.reasoning_headroom", "2048"},
	{"mini.api_version", "2024-10-21"},
	{"mini.deployment", "\"\""},
	{"mini.config_errors", "3"},
	{"mini.on_config_error", "hold"},
	{"mini.pacing", "true"},
	{"mini.rate_limited_max_ms", "300000"},
	{"flagship.base_url", "http://127.0.0.1:8080/v1"},
	{"flagship.model", "gpt-4o"},
	{"flagship.api_key_env", "OPENAI_API_KEY"},
	{"flagship.api_key_file", "\"\""},
	{"flagship.ca_file", "\"\""},
	{"flagship.prompt", "flagship-v1"},
	{"flagship.timeout_ms", "30000"},
	{"flagship.connect_timeout_ms", "5000"},
	{"flagship.max_attempts", "5"},
	{"flagship.backoff_base_ms", "250"},
	{"flagship.backoff_max_ms", "20000"},
	{"flagship.max_concurrency", "128"},
	{"flagship.max_tokens", "1200"},
	{"flagship.temperature", "0"},
	{"flagship.max_response_bytes", "1048576"},
	{"flagship.response_format", "json_schema"},
	{"flagship.on_failure", "needs_human"},
	{"flagship.breaker_failures", "10"},
	{"flagship.breaker_cooldown_ms", "30000"},
	{"flagship.dialect", "auto"},
	{"flagship.reasoning_effort", "auto"},
	{"flagship.verbosity", "auto"},
	{"flagship.reasoning_headroom", "2048"},
	{"flagship.api_version", "2024-10-21"},
	{"flagship.deployment", "\"\""},
	{"flagship.config_errors", "3"},
	{"flagship.on_config_error", "hold"},
	{"flagship.pacing", "true"},
	{"flagship.rate_limited_max_ms", "300000"},
	{"flagship.max_queue", "2048"},
	/* [shadow] (issue #13 part 3) */
	{"shadow.enabled", "false"},
	{"shadow.fraction", "0.1"},
	{"shadow.max_calls_per_hour", "10000"},
	{"shadow.max_queue", "64"},
	{"shadow.base_url", "http://127.0.0.1:8080/v1"},
	{"shadow.model", "gpt-4o-mini"},
	{"shadow.api_key_env", "OPENAI_API_KEY"},
	{"shadow.api_key_file", "\"\""},
	{"shadow.ca_file", "\"\""},
	{"shadow.prompt", "triage-v1"},
	{"shadow.timeout_ms", "30000"},
	{"shadow.connect_timeout_ms", "5000"},
	{"shadow.max_attempts", "5"},
	{"shadow.backoff_base_ms", "250"},
	{"shadow.backoff_max_ms", "20000"},
	{"shadow.max_concurrency", "8"},
	{"shadow.max_tokens", "600"},
	{"shadow.temperature", "0"},
	{"shadow.max_response_bytes", "1048576"},
	{"shadow.response_format", "json_schema"},
	{"shadow.on_failure", "needs_human"},
	{"shadow.breaker_failures", "10"},
	{"shadow.breaker_cooldown_ms", "30000"},
	{"shadow.dialect", "auto"},
	{"shadow.reasoning_effort", "auto"},
	{"shadow.verbosity", "auto"},
	{"shadow.reasoning_headroom", "2048"},
	{"shadow.api_version", "2024-10-21"},
	{"shadow.deployment", "\"\""},
	{"triage.prompts_dir", EXPECT_PROMPTS_DIR},
	{"triage.categories",
	 "billing,technical,account,shipping,product_question,"
	 "feature_request,bug_report,complaint,cancellation,security,legal,other"},
	{"triage.rules_file", TRIAGED_DEFAULT_RULES_FILE},
	{"triage.repair_prompt", "repair-v1"},
	{"triage.events_topic", "tickets.triaged"},
	{"triage.rules_regex_text_bytes", "4096"},
	{"triage.check_models_at_start", "false"},
	{"redact.enabled", "true"},
	{"redact.patterns_file", "\"\""},
	{"redact.leading_zero_10", "phone"},
	{"policy.link_allow", "\"\""},
	{"policy.refund_categories", "\"\""},
	{"policy.min_len", "20"},
	{"policy.max_len", "4000"},
	{"budget.enforce", "false"},
	{"budget.mini_on_exhausted", "needs_human"},
	{"budget.lease_s", "60"},
	{"budget.busy_retry_ms", "500"},
	{"budget.estimate_percentile", "95"},
	{"http.listen", "127.0.0.1:8081"},
	{"http.token", "\"\""},
	{"http.max_connections", "256"},
	{"http.head_timeout_ms", "10000"},
	{"http.keepalive_timeout_ms", "30000"},
	{"http.fd_reserve", "256"},
	{"http.accept_backoff_ms", "1000"},
	{"http.dashboard_interval_ms", "5000"},
	{"http.loop_lag_interval_ms", "100"},
	{"review.events_topic", "tickets.reviewed"},
	{"review.poll_ms", "1000"},
	{"review.batch", "256"},
	{"feedback.topic", "\"\""},
	{"log.level", "info"},
	{"log.summary_interval_s", "60"},
	{"shutdown.drain_timeout_ms", "30000"},
	{"shutdown.drain_grace_ms", "10000"},
};

static size_t count_key_lines(const char *text)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, " = ")) != NULL; p += 3)
		n++;
	return n;
}

START_TEST(test_default_dump)
{
	struct config c;
	char *d;

	ck_assert_uint_eq(ARRAY_SIZE(default_dump), NKEYS);
	config_init(&c);
	d = dump_str(&c);
	ck_assert_uint_eq(count_key_lines(d), NKEYS);
	for (size_t i = 0; i < NKEYS; i++) {
		char *v = ini_get(d, default_dump[i].name);
		ck_assert_msg(v != NULL, "%s missing from dump", default_dump[i].name);
		ck_assert_msg(strcmp(v, default_dump[i].value) == 0, "%s = '%s', want '%s'",
			      default_dump[i].name, v, default_dump[i].value);
		free(v);
	}
	free(d);
	config_cleanup(&c);
}
END_TEST

START_TEST(test_every_type)
{
	static const char text[] = "[intake]\n"
				   "topic = in\n"
				   "max_in_flight = 100\n"
				   "low_water = 0\n"
				   "[mini]\n"
				   "base_url = https://api.example.com/v1\n"
				   "api_key_env =\n"
				   "temperature = 0.7\n"
				   "response_format = json_object\n"
				   "on_failure = wait\n"
				   "[flagship]\n"
				   "response_format = NONE\n"
				   "temperature = 2\n"
				   "[triage]\n"
				   "categories = refund, other\n"
				   "[http]\n"
				   "listen = [::1]:0\n"
				   "[log]\n"
				   "level = DEBUG\n";
	struct config c;
	char err[512] = "";

	config_init(&c);
	ck_assert_msg(config_load_text(&c, text, "t.ini", NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.topic, "in");
	ck_assert_int_eq(c.max_in_flight, 100);
	ck_assert_int_eq(c.low_water, 0);
	ck_assert_str_eq(c.mini.base_url, "https://api.example.com/v1");
	ck_assert_str_eq(c.mini.api_key_env, "");
	ck_assert_double_eq(c.mini.temperature, 0.7);
	ck_assert_int_eq(c.mini.response_format, RF_JSON_OBJECT);
	ck_assert_int_eq(c.mini.on_failure, ONFAIL_WAIT);
	ck_assert_int_eq(c.flagship.response_format, RF_NONE);
	ck_assert_double_eq(c.flagship.temperature, 2.0);
	ck_assert_uint_eq(c.ncategories, 2);
	ck_assert_str_eq(c.categories[0], "refund");
	ck_assert_str_eq(c.categories[1], "other");
	ck_assert_ptr_null(c.categories[2]);
	ck_assert_str_eq(c.http_listen, "[::1]:0");
	ck_assert_str_eq(c.log_level, "debug"); /* canonical spelling */
	/* untouched keys keep their defaults */
	ck_assert_str_eq(c.dlq_topic, "tickets.dlq");
	ck_assert_int_eq(c.flagship.on_failure, ONFAIL_NEEDS_HUMAN);
	ck_assert_msg(config_validate(&c, err, sizeof(err)) == 0, "%s", err);
	config_cleanup(&c);
}
END_TEST

/* Bad input: the exact message, with file:line. */
static const struct {
	const char *text, *err;
} bad_cases[] = {
	{"[mini]\ntimeout_ms = -5\n",
	 "t.ini:2: mini.timeout_ms: '-5' is not an integer in [1, 3600000]"},
	{"[intake]\nmax_in_flight = 12abc\n",
	 "t.ini:2: intake.max_in_flight: '12abc' is not an integer in [1, 1000000]"},
	{"[intake]\nlow_water = -1\n",
	 "t.ini:2: intake.low_water: '-1' is not an integer in [0, 1000000]"},
	{"[postgres]\nbatch_size = 99999999999999999999\n",
	 "t.ini:2: postgres.batch_size: '99999999999999999999' is not an integer in [1, 10000]"},
	{"[postgres]\nbatch_size =\n",
	 "t.ini:2: postgres.batch_size: '' is not an integer in [1, 10000]"},
	{"[shutdown]\ndrain_timeout_ms = 3600001\n",
	 "t.ini:2: shutdown.drain_timeout_ms: '3600001' is not an integer in [0, 3600000]"},
	{"[flagship]\ntemperature = 2.5\n",
	 "t.ini:2: flagship.temperature: '2.5' is not a number in [0, 2]"},
	{"[mini]\ntemperature = nan\n",
	 "t.ini:2: mini.temperature: 'nan' is not a number in [0, 2]"},
	{"[mini]\nresponse_format = xml\n",
	 "t.ini:2: mini.response_format: 'xml' is not one of json_schema, json_object, none"},
	{"[flagship]\non_failure = retry\n",
	 "t.ini:2: flagship.on_failure: 'retry' is not one of needs_human, wait"},
	{"[log]\nlevel = verbose\n",
	 "t.ini:2: log.level: 'verbose' is not one of debug, info, warn, error"},
	{"[mini]\nbase_url = ftp://x/v1\n",
	 "t.ini:2: mini.base_url: must be an http:// or https:// URL"},
	{"[mini]\nbase_url = http://\n",
	 "t.ini:2: mini.base_url: must be an http:// or https:// URL"},
	{"[mini]\nprompt = ../../etc/passwd\n", "t.ini:2: mini.prompt: '../../etc/passwd' is not a "
						"plain file name ([A-Za-z0-9._-], no leading '.')"},
	{"[mini]\napi_key_env = 1KEY\n",
	 "t.ini:2: mini.api_key_env: '1KEY' is not an environment variable name"},
	{"[http]\nlisten = localhost\n", "t.ini:2: http.listen: 'localhost' is not host:port "
					 "(port 0-65535), or empty to disable"},
	{"[http]\nlisten = 127.0.0.1:65536\n", "t.ini:2: http.listen: '127.0.0.1:65536' is not "
					       "host:port (port 0-65535), or empty to disable"},
	{"[intake]\ntopic = \"\"\n", "t.ini:2: intake.topic: must not be empty"},
	{"[postgres]\nconninfo =\n", "t.ini:2: postgres.conninfo: must not be empty"},
	{"[triage]\ncategories = a,,b\n", "t.ini:2: triage.categories: empty entry"},
	{"topic = x\n", "t.ini:1: key 'topic' appears before any [section]"},
	{"[intake]\n\n# note\ntopic\n", "t.ini:4: expected 'key = value'"},
	{"[intake]\n = x\n", "t.ini:2: missing key before '='"},
	{"[intake]\ntopic = \"abc\n", "t.ini:2: intake.topic: unbalanced double quote"},
	{"[intake]\ntopic = abc\"\n", "t.ini:2: intake.topic: unbalanced double quote"},
	{"[nope]\n", "t.ini:1: unknown section 'nope'"},
	{"[Mini]\n", "t.ini:1: unknown section 'Mini'"},
	{"[mini\n", "t.ini:1: malformed section header (expected '[name]')"},
	{"[mini]\nbase_url = http://x/v1\n\nbse_url = y\n", "t.ini:4: unknown key 'mini.bse_url'"},
	{"[intake]\nbatch_size = 5\n", "t.ini:2: unknown key 'intake.batch_size'"},
	{"[kafka]\nbad key = 1\n", "t.ini:2: 'bad key' is not a valid kafka property name"},
};

START_TEST(test_bad_values)
{
	struct config c;
	char err[512] = "";

	config_init(&c);
	ck_assert_msg(config_load_text(&c, bad_cases[_i].text, "t.ini", NULL, err, sizeof(err)) ==
			      -1,
		      "case %d accepted", _i);
	ck_assert_msg(strcmp(err, bad_cases[_i].err) == 0, "case %d:\n got  %s\n want %s", _i, err,
		      bad_cases[_i].err);
	config_cleanup(&c);
}
END_TEST

START_TEST(test_unknown_key_text)
{
	struct config c;
	char err[512] = "";

	config_init(&c);
	ck_assert_int_eq(config_load_text(&c, "# triaged\n[mini]\nbse_url = http://x\n",
					  "/etc/triaged.ini", NULL, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "/etc/triaged.ini:3: unknown key 'mini.bse_url'");
	config_cleanup(&c);
}
END_TEST

START_TEST(test_kafka_passthrough)
{
	static const char text[] = "[kafka]\n"
				   "bootstrap.servers = a:1\n"
				   "security.protocol = SASL_SSL\n"
				   "sasl.jaas.config = k=v x=y\n"
				   "bootstrap.servers = b:2\n"
				   "[intake]\n"
				   "topic = t\n"
				   "[kafka]\n"
				   "security.protocol = \"SSL\"\n";
	struct config c;
	char err[512] = "";

	config_init(&c);
	ck_assert_msg(config_load_text(&c, text, "t.ini", NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.nkafka, 4);
	/* defaults first, in order; a later entry replaces the value in place */
	ck_assert_str_eq(c.kafka[0].key, "bootstrap.servers");
	ck_assert_str_eq(c.kafka[0].value, "b:2");
	ck_assert_str_eq(c.kafka[1].key, "group.id");
	ck_assert_str_eq(c.kafka[1].value, "triaged");
	ck_assert_str_eq(c.kafka[2].key, "security.protocol");
	ck_assert_str_eq(c.kafka[2].value, "SSL");
	ck_assert_str_eq(c.kafka[3].key, "sasl.jaas.config");
	ck_assert_str_eq(c.kafka[3].value, "k=v x=y");
	ck_assert_str_eq(c.topic, "t");
	config_cleanup(&c);
}
END_TEST

START_TEST(test_syntax)
{
	static const char text[] = "# leading comment\r\n"
				   "; another comment\n"
				   "\n"
				   "   \t\n"
				   "  [ intake ]  \n"
				   "\ttopic\t=\t \"  spaced topic \"  \r\n"
				   "   # indented comment\n"
				   "dlq_topic = dlq#1;x\n"
				   "poll_batch = 10\n"
				   "poll_batch = 20\n"
				   "[mini]\n"
				   "model = \"say \"hi\"\"\n"
				   "api_key_env = \"\"\n"
				   "[postgres]\n"
				   "conninfo = host=db port=5432 application_name='a b'\n"
				   "[triage]\n"
				   "categories = \" x , y \"\n"
				   "[intake]\n"
				   "poll_batch = 30"; /* no final newline */
	struct config c;
	char err[512] = "";

	config_init(&c);
	ck_assert_msg(config_load_text(&c, text, "t.ini", NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.topic, "  spaced topic ");
	ck_assert_str_eq(c.dlq_topic, "dlq#1;x");     /* no inline comments */
	ck_assert_int_eq(c.poll_batch, 30);	      /* last wins, across sections */
	ck_assert_str_eq(c.mini.model, "say \"hi\""); /* only the outer quotes go */
	ck_assert_str_eq(c.mini.api_key_env, "");
	ck_assert_str_eq(c.pg_conninfo, "host=db port=5432 application_name='a b'");
	ck_assert_uint_eq(c.ncategories, 2);
	ck_assert_str_eq(c.categories[1], "y");
	config_cleanup(&c);
}
END_TEST

START_TEST(test_empty_text)
{
	struct config c;
	char err[512] = "";

	config_init(&c);
	ck_assert_int_eq(config_load_text(&c, "", "t.ini", NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(config_load_text(&c, NULL, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(config_load_text(&c, "\n\n[log]\n", "t.ini", NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(c.log_level, "info");
	/* a NULL err buffer is tolerated */
	ck_assert_int_eq(config_load_text(&c, "x", "t.ini", NULL, NULL, 0), -1);
	config_cleanup(&c);
}
END_TEST

START_TEST(test_env_override)
{
	static const char text[] = "[mini]\n"
				   "base_url = http://file/v1\n"
				   "timeout_ms = 1000\n"
				   "[kafka]\n"
				   "bootstrap.servers = file:1\n"
				   "sasl.username = alice\n";
	char *env[] = {
		"TRIAGED_MINI_BASE_URL=http://env/v1",
		"PATH=/usr/bin",
		"TRIAGED_CONFIG=/etc/triaged.ini", /* not a config section: ignored */
		"TRIAGED_NOEQUALS",
		"TRIAGED_INTAKE_DLQ_TOPIC=dlq.env",
		"TRIAGED_POSTGRES_CONNINFO=host=envdb dbname=x",
		"TRIAGED_FLAGSHIP_TEMPERATURE=0.25",
		"TRIAGED_FLAGSHIP_ON_FAILURE=wait",
		"TRIAGED_TRIAGE_CATEGORIES=a,b,c",
		"TRIAGED_HTTP_LISTEN=",
		"TRIAGED_KAFKA_BOOTSTRAP_SERVERS=env:9092",
		"TRIAGED_KAFKA_GROUP_ID=g1",
		"TRIAGED_KAFKA_SASL_PASSWORD=pw",
		"TRIAGED_KAFKA_GROUP_ID=g2",
		NULL,
	};
	struct config c;
	char err[512] = "";

	config_init(&c);
	ck_assert_msg(config_load_text(&c, text, "t.ini", env, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.mini.base_url, "http://env/v1"); /* env wins over the file */
	ck_assert_int_eq(c.mini.timeout_ms, 1000);	    /* file wins over the default */
	ck_assert_str_eq(c.dlq_topic, "dlq.env");
	ck_assert_str_eq(c.pg_conninfo, "host=envdb dbname=x");
	ck_assert_double_eq(c.flagship.temperature, 0.25);
	ck_assert_int_eq(c.flagship.on_failure, ONFAIL_WAIT);
	ck_assert_uint_eq(c.ncategories, 3);
	ck_assert_str_eq(c.http_listen, "");
	ck_assert_str_eq(kafka_value(&c, "bootstrap.servers"), "env:9092");
	ck_assert_str_eq(kafka_value(&c, "group.id"), "g2");
	ck_assert_str_eq(kafka_value(&c, "sasl.password"), "pw");
	ck_assert_str_eq(kafka_value(&c, "sasl.username"), "alice");
	ck_assert_uint_eq(c.nkafka, 4);
	config_cleanup(&c);

	/* config_load_env on its own */
	config_init(&c);
	ck_assert_msg(config_load_env(&c, env, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.mini.base_url, "http://env/v1");
	ck_assert_int_eq(c.mini.timeout_ms, 30000);
	ck_assert_int_eq(config_load_env(&c, NULL, err, sizeof(err)), 0);
	config_cleanup(&c);
}
END_TEST

static const struct {
	const char *env, *err;
} env_bad_cases[] = {
	{"TRIAGED_MINI_TIMEOUT_MS=-5",
	 "env TRIAGED_MINI_TIMEOUT_MS: '-5' is not an integer in [1, 3600000]"},
	{"TRIAGED_MINI_BSE_URL=http://x", "env TRIAGED_MINI_BSE_URL: unknown key"},
	{"TRIAGED_MINI_BASE_URLX=http://x", "env TRIAGED_MINI_BASE_URLX: unknown key"},
	{"TRIAGED_MINI_=x", "env TRIAGED_MINI_: unknown key"},
	{"TRIAGED_LOG_LEVEL=loud",
	 "env TRIAGED_LOG_LEVEL: 'loud' is not one of debug, info, warn, error"},
	{"TRIAGED_TRIAGE_CATEGORIES=a,a", "env TRIAGED_TRIAGE_CATEGORIES: duplicate entry 'a'"},
	{"TRIAGED_KAFKA_=x", "env TRIAGED_KAFKA_: '' is not a valid kafka property name"},
	{"TRIAGED_INTAKE_TOPIC=a\nb", "env TRIAGED_INTAKE_TOPIC: contains a control character"},
};

START_TEST(test_env_errors)
{
	char *env[] = {"TRIAGED_INTAKE_TOPIC=fine", (char *)env_bad_cases[_i].env, NULL};
	struct config c;
	char err[512] = "";

	config_init(&c);
	ck_assert_int_eq(
		config_load_text(&c, "[intake]\ntopic = t\n", "t.ini", env, err, sizeof(err)), -1);
	ck_assert_msg(strcmp(err, env_bad_cases[_i].err) == 0, "case %d:\n got  %s\n want %s", _i,
		      err, env_bad_cases[_i].err);
	config_cleanup(&c);
}
END_TEST

static const struct {
	const char *value;
	const char *err; /* NULL: accepted */
	size_t n;
	const char *last;
} cat_cases[] = {
	{"billing", NULL, 1, "billing"},
	{" a , b_2 ,c9 ", NULL, 3, "c9"},
	{"x,other", NULL, 2, "other"},
	{"a,b,a", "duplicate entry 'a'", 0, NULL},
	{"Billing", "entry 'Billing' must match [a-z0-9_]+", 0, NULL},
	{"a-b", "entry 'a-b' must match [a-z0-9_]+", 0, NULL},
	{"a b", "entry 'a b' must match [a-z0-9_]+", 0, NULL},
	{"", "must list at least 1 entry", 0, NULL},
	{"   ", "must list at least 1 entry", 0, NULL},
	{"a,,b", "empty entry", 0, NULL},
	{"a,", "empty entry", 0, NULL},
	{",a", "empty entry", 0, NULL},
	{"a123456789b123456789c123456789d123456789e123456789f123456789g12345",
	 "entry 'a123456789b123456789...' is longer than 64 characters", 0, NULL},
};

START_TEST(test_categories)
{
	char text[256], want[256], err[512] = "";
	struct config c;
	int rc;

	snprintf(text, sizeof(text), "[triage]\ncategories = %s\n", cat_cases[_i].value);
	config_init(&c);
	rc = config_load_text(&c, text, "t.ini", NULL, err, sizeof(err));
	if (cat_cases[_i].err == NULL) {
		ck_assert_msg(rc == 0, "case %d: %s", _i, err);
		ck_assert_uint_eq(c.ncategories, cat_cases[_i].n);
		ck_assert_str_eq(c.categories[c.ncategories - 1], cat_cases[_i].last);
	} else {
		snprintf(want, sizeof(want), "t.ini:2: triage.categories: %s", cat_cases[_i].err);
		ck_assert_msg(rc == -1, "case %d accepted", _i);
		ck_assert_msg(strcmp(err, want) == 0, "case %d:\n got  %s\n want %s", _i, err,
			      want);
		/* a rejected list leaves the previous one in place */
		ck_assert_uint_eq(c.ncategories, 12);
		ck_assert_str_eq(c.categories[11], "other");
	}
	config_cleanup(&c);
}
END_TEST

START_TEST(test_categories_max)
{
	char text[2048], err[512] = "";
	struct config c;
	size_t o;

	o = (size_t)snprintf(text, sizeof(text), "[triage]\ncategories = c0");
	for (int i = 1; i < CONFIG_MAX_CATEGORIES; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, ",c%d", i);
	config_init(&c);
	ck_assert_msg(config_load_text(&c, text, "t.ini", NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.ncategories, CONFIG_MAX_CATEGORIES);
	ck_assert_str_eq(c.categories[CONFIG_MAX_CATEGORIES - 1], "c63");

	snprintf(text + o, sizeof(text) - o, ",c%d", CONFIG_MAX_CATEGORIES);
	ck_assert_int_eq(config_load_text(&c, text, "t.ini", NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.ini:2: triage.categories: more than 64 entries");
	snprintf(text + o, sizeof(text) - o, ",x,y,z");
	ck_assert_int_eq(config_load_text(&c, text, "t.ini", NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.ini:2: triage.categories: more than 64 entries");
	ck_assert_uint_eq(c.ncategories, CONFIG_MAX_CATEGORIES);
	config_cleanup(&c);
}
END_TEST

/* Cross-key checks and re-checks of values set by code rather than parsed. */
static void v_low_water_eq(struct config *c)
{
	c->low_water = c->max_in_flight;
}
static void v_low_water_gt(struct config *c)
{
	c->max_in_flight = 10;
	c->low_water = 11;
}
static void v_no_categories(struct config *c)
{
	for (size_t i = 0; i < c->ncategories; i++) {
		free(c->categories[i]);
		c->categories[i] = NULL;
	}
	c->ncategories = 0;
}
static void v_bad_url(struct config *c)
{
	free(c->flagship.base_url);
	c->flagship.base_url = strdup("ftp://x");
}
static void v_same_topic(struct config *c)
{
	free(c->dlq_topic);
	c->dlq_topic = strdup(c->topic);
}
static void v_backoff(struct config *c)
{
	c->mini.backoff_base_ms = c->mini.backoff_max_ms + 1;
}
static void v_connect_timeout(struct config *c)
{
	c->flagship.connect_timeout_ms = c->flagship.timeout_ms + 1;
}
/* [shadow] has [mini]'s keys and their rules (the ini says so) */
static void v_shadow_backoff(struct config *c)
{
	c->shadow.backoff_base_ms = c->shadow.backoff_max_ms + 1;
}
static void v_shadow_connect_timeout(struct config *c)
{
	c->shadow.connect_timeout_ms = c->shadow.timeout_ms + 1;
}
static void v_int_range(struct config *c)
{
	c->pg_batch_size = 0;
}
static void v_temperature(struct config *c)
{
	c->mini.temperature = -0.5;
}
static void v_enum(struct config *c)
{
	c->mini.on_failure = (enum on_failure)7;
}
static void v_null_string(struct config *c)
{
	free(c->prompts_dir);
	c->prompts_dir = NULL;
}
static void v_group_id(struct config *c)
{
	for (size_t i = 0; i < c->nkafka; i++) {
		if (strcmp(c->kafka[i].key, "group.id") == 0) {
			free(c->kafka[i].value);
			c->kafka[i].value = strdup("");
		}
	}
}
static void v_ok_low_water(struct config *c)
{
	c->low_water = c->max_in_flight - 1;
}

static const struct {
	void (*mutate)(struct config *c);
	const char *err; /* NULL: valid */
} validate_cases[] = {
	{v_low_water_eq, "intake.low_water (2048) must be less than intake.max_in_flight (2048)"},
	{v_low_water_gt, "intake.low_water (11) must be less than intake.max_in_flight (10)"},
	{v_no_categories, "triage.categories: must list at least 1 entry"},
	{v_bad_url, "flagship.base_url: must be an http:// or https:// URL"},
	{v_same_topic, "intake.dlq_topic must differ from intake.topic ('tickets.incoming')"},
	{v_backoff, "mini.backoff_base_ms must not exceed mini.backoff_max_ms"},
	{v_connect_timeout, "flagship.connect_timeout_ms must not exceed flagship.timeout_ms"},
	{v_shadow_backoff, "shadow.backoff_base_ms must not exceed shadow.backoff_max_ms"},
	{v_shadow_connect_timeout, "shadow.connect_timeout_ms must not exceed shadow.timeout_ms"},
	{v_int_range, "postgres.batch_size: 0 is not in [1, 10000]"},
	{v_temperature, "mini.temperature: -0.5 is not in [0, 2]"},
	{v_enum, "mini.on_failure: bad enum value 7"},
	{v_null_string, "triage.prompts_dir: is not set"},
	{v_group_id, "kafka.group.id must be set"},
	{v_ok_low_water, NULL},
};

START_TEST(test_validate)
{
	struct config c;
	char err[512] = "";
	int rc;

	config_init(&c);
	validate_cases[_i].mutate(&c);
	rc = config_validate(&c, err, sizeof(err));
	if (validate_cases[_i].err == NULL) {
		ck_assert_msg(rc == 0, "case %d: %s", _i, err);
	} else {
		ck_assert_msg(rc == -1, "case %d accepted", _i);
		ck_assert_msg(strcmp(err, validate_cases[_i].err) == 0,
			      "case %d:\n got  %s\n want %s", _i, err, validate_cases[_i].err);
	}
	config_cleanup(&c);
}
END_TEST

static const struct {
	const char *in, *out;
} mask_cases[] = {
	{"host=x password=secret dbname=y", "host=x password=*** dbname=y"},
	{"password=secret", "password=***"},
	{"host=x password = 'se cret\\' x' dbname=y", "host=x password = *** dbname=y"},
	{"password=a\\ b host=x", "password=*** host=x"},
	{"password='unterminated host=x", "password=***"},
	{"PASSWORD=s", "PASSWORD=***"},
	{"user=password host=x", "user=password host=x"},
	{"host=x passfile=/p", "host=x passfile=/p"},
	{"host=/var/run/postgresql dbname=triaged", "host=/var/run/postgresql dbname=triaged"},
	{"host=x garbage password secret", "host=x ***"},
	{"dbname='postgresql://u:pa55@h/d' host=x", "dbname='postgresql://u:***@h/d' host=x"},
	{"dbname='host=h password=pa55'", "dbname='host=h password=***'"},
	{"dbname='host=h user=u'", "dbname='host=h user=u'"},
	{"postgresql://user:s3cret@db:5432/triaged", "postgresql://user:***@db:5432/triaged"},
	{"postgres://user:s3cret@db/triaged?sslmode=require",
	 "postgres://user:***@db/triaged?sslmode=require"},
	{"postgresql://user@db/triaged?sslmode=require&password=s3cret&x=1",
	 "postgresql://user@db/triaged?sslmode=require&password=***&x=1"},
	{"postgresql://db/triaged?pass%77ord=s3cret", "postgresql://db/triaged?pass%77ord=***"},
	{"postgresql://u:p@ss@db/triaged", "postgresql://u:***@db/triaged"},
	{"postgresql://:s3cret@db", "postgresql://:***@db"},
	{"postgresql://user@db/triaged", "postgresql://user@db/triaged"},
	{"postgresql://db", "postgresql://db"},
	{"", ""},
};

START_TEST(test_mask_conninfo)
{
	char *m = config_mask_conninfo(mask_cases[_i].in);
	ck_assert_msg(strcmp(m, mask_cases[_i].out) == 0, "case %d:\n got  %s\n want %s", _i, m,
		      mask_cases[_i].out);
	free(m);
}
END_TEST

START_TEST(test_dump_masks_keyword_form)
{
	static const char text[] = "[postgres]\n"
				   "conninfo = host=db user=app password=hunter2 dbname=triaged\n"
				   "[mini]\n"
				   "base_url = https://bob:urlpass9@llm.example.com/v1\n"
				   "[kafka]\n"
				   "sasl.username = alice\n"
				   "sasl.password = kpass1\n"
				   "ssl.key.pem = PEMDATA7\n"
				   "ssl.key.password = keypw3\n"
				   "ssl.keystore.password = kspw4\n"
				   "sasl.oauthbearer.config = principal=svc extension_x=tok5\n"
				   "sasl.oauthbearer.client.secret = csec6\n"
				   "ssl_engine.key = ek8\n"
				   "security.protocol = SASL_SSL\n";
	static const char *const secrets[] = {"hunter2", "urlpass9", "kpass1", "PEMDATA7", "keypw3",
					      "kspw4",	 "tok5",     "csec6",  "ek8"};
	struct config c;
	char err[512] = "";
	char *d;

	config_init(&c);
	ck_assert_msg(config_load_text(&c, text, "t.ini", NULL, err, sizeof(err)) == 0, "%s", err);
	d = dump_str(&c);
	for (size_t i = 0; i < ARRAY_SIZE(secrets); i++)
		ck_assert_msg(strstr(d, secrets[i]) == NULL, "'%s' leaked:\n%s", secrets[i], d);
	ck_assert_ptr_nonnull(
		strstr(d, "conninfo = host=db user=app password=*** dbname=triaged\n"));
	ck_assert_ptr_nonnull(strstr(d, "base_url = https://bob:***@llm.example.com/v1\n"));
	ck_assert_ptr_nonnull(strstr(d, "sasl.password = ***\n"));
	ck_assert_ptr_nonnull(strstr(d, "ssl.key.pem = ***\n"));
	ck_assert_ptr_nonnull(strstr(d, "sasl.oauthbearer.config = ***\n"));
	/* non-secret values stay readable */
	ck_assert_ptr_nonnull(strstr(d, "sasl.username = alice\n"));
	ck_assert_ptr_nonnull(strstr(d, "security.protocol = SASL_SSL\n"));
	/* the config itself is untouched */
	ck_assert_str_eq(c.pg_conninfo, "host=db user=app password=hunter2 dbname=triaged");
	free(d);
	config_cleanup(&c);
}
END_TEST

START_TEST(test_dump_masks_uri_form)
{
	char *env[] = {
		"TRIAGED_POSTGRES_CONNINFO=postgresql://app:s3cr3t@db:5432/triaged?sslmode=require",
		NULL};
	struct config c;
	char err[512] = "";
	char *d;

	config_init(&c);
	ck_assert_msg(config_load_env(&c, env, err, sizeof(err)) == 0, "%s", err);
	d = dump_str(&c);
	ck_assert_msg(strstr(d, "s3cr3t") == NULL, "leaked:\n%s", d);
	ck_assert_ptr_nonnull(
		strstr(d, "conninfo = postgresql://app:***@db:5432/triaged?sslmode=require\n"));
	free(d);
	config_cleanup(&c);
}
END_TEST

/* A dump reads back as the same configuration (quoting, doubles, lists, enums). */
START_TEST(test_dump_roundtrip)
{
	static const char text[] = "[kafka]\n"
				   "client.id = \" padded \"\n"
				   "[intake]\n"
				   "topic = \"\"quoted\"\"\n"
				   "[mini]\n"
				   "model = \" spaced \"\n"
				   "api_key_env =\n"
				   "temperature = 0.7\n"
				   "response_format = none\n"
				   "[flagship]\n"
				   "temperature = 0.1\n"
				   "on_failure = wait\n"
				   "[triage]\n"
				   "categories = a, b ,c\n"
				   "[http]\n"
				   "listen =\n"
				   "[log]\n"
				   "level = warn\n";
	struct config a, b;
	char err[512] = "";
	char *da, *db;

	config_init(&a);
	config_init(&b);
	ck_assert_msg(config_load_text(&a, text, "t.ini", NULL, err, sizeof(err)) == 0, "%s", err);
	da = dump_str(&a);
	ck_assert_msg(config_load_text(&b, da, "dump", NULL, err, sizeof(err)) == 0, "%s", err);
	db = dump_str(&b);
	ck_assert_str_eq(da, db);
	ck_assert_str_eq(b.topic, "\"quoted\"");
	ck_assert_str_eq(b.mini.model, " spaced ");
	ck_assert_str_eq(kafka_value(&b, "client.id"), " padded ");
	ck_assert_double_eq(b.mini.temperature, 0.7);
	ck_assert_double_eq(b.flagship.temperature, 0.1);
	ck_assert_ptr_nonnull(strstr(da, "temperature = 0.7\n"));
	ck_assert_ptr_nonnull(strstr(da, "categories = a,b,c\n"));
	ck_assert_ptr_nonnull(strstr(da, "listen = \"\"\n"));
	ck_assert_uint_eq(count_key_lines(da), NKEYS + 1);
	free(da);
	free(db);
	config_cleanup(&a);
	config_cleanup(&b);
}
END_TEST

/*
 * The example file is the documentation: it must load, leave every value at
 * its default, and name every key (set, or commented out with ';').
 */
START_TEST(test_example_file)
{
	struct config c, def;
	char err[512] = "";
	char *text = read_text(TRIAGED_SOURCE_DIR "/deploy/triaged.ini.example");
	char *ddef, *dex, *docs;
	size_t o = 0;

	/* the same text with ';'-disabled settings enabled, to look keys up in */
	docs = malloc(strlen(text) + 1);
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == ';')
			q++;
		while (*q == ' ' || *q == '\t')
			q++;
		memcpy(docs + o, q, n - (size_t)(q - p));
		o += n - (size_t)(q - p);
		docs[o++] = '\n';
		p += n + (p[n] == '\n');
	}
	docs[o] = '\0';

	config_init(&c);
	config_init(&def);
	ck_assert_msg(config_load_text(&c, text, "triaged.ini.example", NULL, err, sizeof(err)) ==
			      0,
		      "%s", err);
	ck_assert_msg(config_validate(&c, err, sizeof(err)) == 0, "%s", err);
	dex = dump_str(&c);
	ddef = dump_str(&def);
	ck_assert_str_eq(dex, ddef);
	for (size_t i = 0; i < NKEYS; i++) {
		char *v = ini_get(docs, default_dump[i].name);
		ck_assert_msg(v != NULL, "%s is not documented in the example",
			      default_dump[i].name);
		free(v);
	}
	free(dex);
	free(ddef);
	free(docs);
	free(text);
	config_cleanup(&c);
	config_cleanup(&def);
}
END_TEST

START_TEST(test_cleanup)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	config_cleanup(&c);
	config_cleanup(NULL);
	config_init(&c);
	config_cleanup(&c);
	ck_assert_ptr_null(c.topic);
	ck_assert_ptr_null(c.kafka);
	ck_assert_uint_eq(c.ncategories, 0);
	config_cleanup(&c); /* twice is harmless */
}
END_TEST

/*
 * Found by tests/fuzz/fuzz_config.c: a kafka property named from the
 * environment could start with '[', '#' or ';', and config_dump() then
 * printed a line that reads back as a section header or a comment.
 */
START_TEST(test_kafka_key_not_ini_syntax)
{
	static const char *const env_names[] = {"TRIAGED_KAFKA_[X", "TRIAGED_KAFKA_#X",
						"TRIAGED_KAFKA_;X"};
	struct config c;
	char err[512], want[128], entry[64];

	for (size_t i = 0; i < ARRAY_SIZE(env_names); i++) {
		char *env[] = {entry, NULL};

		snprintf(entry, sizeof(entry), "%s=1", env_names[i]);
		snprintf(want, sizeof(want), "env %s: '%cx' is not a valid kafka property name",
			 env_names[i], env_names[i][14]);
		err[0] = '\0';
		config_init(&c);
		ck_assert_int_eq(config_load_env(&c, env, err, sizeof(err)), -1);
		ck_assert_str_eq(err, want);
		config_cleanup(&c);
	}
	/* Inside the name these characters stay allowed. */
	config_init(&c);
	ck_assert_int_eq(config_load_text(&c, "[kafka]\na[0]#; = v\n", "t.ini", NULL, err,
					  sizeof(err)),
			 0);
	ck_assert_uint_eq(c.nkafka, 3);
	ck_assert_str_eq(c.kafka[2].key, "a[0]#;");
	config_cleanup(&c);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_default_dump);
	tcase_add_test(tc, test_every_type);
	tcase_add_loop_test(tc, test_bad_values, 0, (int)ARRAY_SIZE(bad_cases));
	tcase_add_test(tc, test_unknown_key_text);
	tcase_add_test(tc, test_kafka_passthrough);
	tcase_add_test(tc, test_syntax);
	tcase_add_test(tc, test_empty_text);
	tcase_add_test(tc, test_env_override);
	tcase_add_loop_test(tc, test_env_errors, 0, (int)ARRAY_SIZE(env_bad_cases));
	tcase_add_loop_test(tc, test_categories, 0, (int)ARRAY_SIZE(cat_cases));
	tcase_add_test(tc, test_categories_max);
	tcase_add_loop_test(tc, test_validate, 0, (int)ARRAY_SIZE(validate_cases));
	tcase_add_loop_test(tc, test_mask_conninfo, 0, (int)ARRAY_SIZE(mask_cases));
	tcase_add_test(tc, test_dump_masks_keyword_form);
	tcase_add_test(tc, test_dump_masks_uri_form);
	tcase_add_test(tc, test_dump_roundtrip);
	tcase_add_test(tc, test_example_file);
	tcase_add_test(tc, test_cleanup);
	tcase_add_test(tc, test_kafka_key_not_ini_syntax);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
