/*
 * main: command line, configuration loading, startup checks, the event loop
 * and signals. The only file outside the library. Fatal errors are allowed
 * here, at startup, and nowhere else.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "clocale.h"
#include "loopslice.h"
#include "check_models.h"
#include "eval_run.h"
#include "config.h"
#include "http.h"
#include "intake.h"
#include "log.h"
#include "looplag.h"
#include "outbox.h"
#include "feedback_in.h"
#include "migrate.h"
#include "pipeline.h"
#include "snapshot.h"
#include "textfile.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

extern char **environ;

#ifndef TRIAGED_DEFAULT_SCHEMA_DIR
#define TRIAGED_DEFAULT_SCHEMA_DIR "/usr/share/triaged/schema"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: triaged [-c FILE] [options] [run|migrate|check-ticket|check-models|eval]\n"
		"\n"
		"Triage support tickets from Kafka with a mini model, escalate hard ones,\n"
		"store everything in PostgreSQL.\n"
		"\n"
		"commands:\n"
		"  run            consume and triage tickets (default)\n"
		"  migrate        apply database migrations from the schema directory\n"
		"  check-ticket [--format F] [--key K] [--lines] FILE|-\n"
		"                 run a payload through the intake parser and mapper (no Kafka,\n"
		"                 no PostgreSQL): print the ticket as it would be stored, or the\n"
		"                 dead-letter code and reason (exit 1); F is intake.format\n"
		"                 (triaged, zendesk, zammad, intercom, custom); --lines: one\n"
		"                 message per line, one JSON answer per line\n"
		"  check-models   send one synthetic ticket to each model tier, print one\n"
		"                 line per tier, exit non-zero if one fails\n"
		"  eval --set FILE.jsonl [--model TIER[=MODEL[@PROMPT]]]... [--concurrency N]\n"
		"       [--rules FILE] [--calibrate] [--report FILE.html] [--no-calls]\n"
		"       [--holdout F] [--max-cost USD]\n"
		"                 the model-mix lab: a labelled set through the configured\n"
		"                 models (answers kept in eval_answers and reused), accuracy,\n"
		"                 macro-F1, cost and latency per configuration, the cascade\n"
		"                 replayed under rules, calibration (triaged eval --help)\n"
		"\n"
		"options:\n"
		"  -c, --config FILE     ini configuration file (see deploy/triaged.ini.example);\n"
		"                        without it the embedded defaults apply\n"
		"      --check-config    validate, print the effective configuration with\n"
		"                        secrets masked, and exit\n"
		"      --schema-dir DIR  migrations directory (default %s;\n"
		"                        env TRIAGED_SCHEMA_DIR)\n"
		"  -V, --version         print the version and exit\n"
		"  -h, --help            this help\n"
		"\n"
		"Every key can be overridden from the environment as TRIAGED_<SECTION>_<KEY>,\n"
		"e.g. TRIAGED_KAFKA_BOOTSTRAP_SERVERS, TRIAGED_POSTGRES_CONNINFO.\n",
		TRIAGED_DEFAULT_SCHEMA_DIR);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct pipeline *pl = arg;
	log_info("signal received, draining", "signal=%s", strsignal((int)sig));
	pipeline_drain(pl);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	log_info("SIGHUP: reloading the escalation rules", "%s", "");
	(void)pipeline_reload_rules(arg);
}

/* What the admin server's /metrics shows: the pipeline's snapshot and the loop lag. */
struct admin_feed {
	struct pipeline *pl;
	struct looplag *lag;
	struct outbox *relay;	  /* NULL: review.events_topic empty */
	struct feedback_in *fbin; /* NULL: feedback.topic empty */
};

static void admin_snapshot(void *arg, struct metrics_snapshot *out)
{
	struct admin_feed *f = arg;
	snapshot_fill(f->pl, out);
	looplag_fill(f->lag, out);
	snapshot_fill_roundtrip(f->relay, f->fbin, out);
}

/*
 * triage.check_models_at_start (#11.6): the check-models probe, before the loop
 * exists (it runs its own and may wait on PostgreSQL), one log line per tier. A
 * failing tier is a warning: the daemon still starts (the misconfiguration hold
 * and the breaker deal with it at run time).
 */
static void check_models_at_start(const struct config *cfg)
{
	char *text = NULL, *line, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;
	if (f == NULL) {
		log_warn("check-models at start: no memory stream", "%s", "");
		return;
	}
	rc = check_models_run(cfg, f);
	fclose(f);
	for (line = text; line && *line; line = nl ? nl + 1 : NULL) {
		char q[1100];
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strstr(line, ": FAILED ") != NULL)
			log_warn("check-models at start", "result=%s",
				 log_quote(q, sizeof(q), line));
		else
			log_info("check-models at start", "result=%s",
				 log_quote(q, sizeof(q), line));
	}
	if (rc != 0)
		log_warn("check-models at start: a tier failed, starting anyway", "%s", "");
	free(text);
}
static int run(const struct config *cfg, const char *schema_dir)
{
	struct admin_feed feed = {NULL, NULL, NULL, NULL};
	struct event_base *base = NULL;
	struct pipeline *pl = NULL;
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	struct http *http = NULL;
	struct db *dash_db = NULL;
	struct outbox *relay = NULL;
	struct feedback_in *fbin = NULL;
	char err[1024], q[1100];
	int dbv = 0, latest = 0, rc = 1;

	/* what this process really links against, for bug reports and benchmarks */
	log_info("library versions", "librdkafka=%s libcurl=%s libevent=%s libpq=%d json-c=%s",
		 rd_kafka_version_str(), curl_version_info(CURLVERSION_NOW)->version,
		 event_get_version(), PQlibVersion(), json_c_version());

	if (migrate_status(cfg->pg_conninfo, schema_dir, &dbv, &latest, err, sizeof(err)) == 0) {
		if (dbv < latest)
			fatal("database schema is behind: run 'triaged migrate'",
			      "db_version=%d latest=%d", dbv, latest);
	} else {
		/* not fatal: intake stays paused until the database answers */
		log_warn("database not reachable at startup; intake waits for it", "error=%s",
			 log_quote(q, sizeof(q), err));
	}
	signal(SIGPIPE, SIG_IGN);
	{
		/* thousands of model connections need more descriptors than the usual 1024 */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				log_warn("could not raise the open-files limit", "%s", "");
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed", "%s", "");
	if (cfg->check_models_at_start)
		check_models_at_start(cfg);
	base = loopslice_base_new();
	if (base == NULL)
		fatal("event_base_new failed", "%s", "");
	pl = pipeline_new(base, cfg, err, sizeof(err));
	if (pl == NULL)
		fatal("startup failed", "error=%s", log_quote(q, sizeof(q), err));
	feed.pl = pl;
	feed.lag = looplag_new(base, cfg->loop_lag_interval_ms);
	/* the review outbox relay (issue #12): its own connection and producer */
	if (cfg->review_events_topic[0] != '\0') {
		relay = outbox_new(base, cfg, err, sizeof(err));
		if (relay == NULL)
			fatal("outbox relay failed", "error=%s", log_quote(q, sizeof(q), err));
		feed.relay = relay;
		/* a review event acknowledged at shutdown is marked sent on the loop */
		pipeline_flush_also(pl, outbox_quiesce, outbox_idle, relay);
	}
	/* the helpdesk's feedback (issue #12): recorded through the pipeline's database */
	if (cfg->feedback_topic[0] != '\0') {
		fbin = feedback_in_new(base, cfg, pipeline_db(pl), err, sizeof(err));
		if (fbin == NULL)
			fatal("feedback consumer failed", "error=%s", log_quote(q, sizeof(q), err));
		feed.fbin = fbin;
	}
	if (cfg->http_listen[0] != '\0') {
		struct http_limits lim = {
		    .max_connections = cfg->http_max_connections,
		    .head_timeout_ms = cfg->http_head_timeout_ms,
		    .keepalive_timeout_ms = cfg->http_keepalive_timeout_ms,
		    .fd_reserve = cfg->http_fd_reserve,
		    .accept_backoff_ms = cfg->http_accept_backoff_ms,
		    .dashboard_interval_ms = cfg->http_dashboard_interval_ms,
		};
		/* data.json reads on a connection of its own: a slow dashboard query (up to
		 * its 10 s statement timeout) never holds the claims and stores behind it */
		dash_db = db_new(base, cfg->pg_conninfo, 1, (int)cfg->pg_reconnect_max_ms, NULL,
				 NULL);
		db_set_label(dash_db, "dashboard");
		http = http_new(base, cfg->http_listen, cfg->http_token, dash_db, admin_snapshot,
				&feed, &lim, err, sizeof(err));
		if (http == NULL)
			fatal("http endpoint failed", "error=%s", log_quote(q, sizeof(q), err));
	}
	ev_term = evsignal_new(base, SIGTERM, on_signal, pl);
	ev_int = evsignal_new(base, SIGINT, on_signal, pl);
	ev_hup = evsignal_new(base, SIGHUP, on_hup, pl);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	{
		const char *group = "";
		for (size_t i = 0; i < cfg->nkafka; i++)
			if (strcmp(cfg->kafka[i].key, "group.id") == 0)
				group = cfg->kafka[i].value;
		log_info("triaged started", "version=%s topic=%s group=%s", TRIAGED_VERSION,
			 cfg->topic, group);
	}
	event_base_dispatch(base);
	http_free(http);
	if (dash_db)
		db_free(dash_db);
	looplag_free(feed.lag);
	feedback_in_free(fbin);
	/* its last batch was acknowledged and marked in the final flush, on the loop (or the
	 * flush gave up on it: an acknowledgement now could not be marked) */
	outbox_free(relay, 0);
	pipeline_free(pl);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_base_free(base);
	curl_global_cleanup();
	log_info("triaged stopped", "%s", "");
	rc = 0;
	return rc;
}

/*
 * check-ticket: the daemon's own intake on one payload (or one per line), as
 * a JSON answer per message: {"outcome":"ticket","ticket":{...}},
 * {"outcome":"skip","reason":...} or {"outcome":"dead_letter","code":...,
 * "reason":...}. Exit 1 if any message is a dead letter, 2 on a usage error.
 */
static int check_ticket(const struct config *cfg, const char *format, const char *key,
			int lines, const char *path)
{
	struct ticket_limits lim;
	struct intake *in = NULL;
	struct buf b;
	char err[1024], chunk[65536];
	int fmt = format ? intake_format_parse(format) : cfg->intake_format, rc = 2, dead = 0;
	FILE *f = NULL;
	size_t n;

	buf_init(&b, (size_t)cfg->max_message_bytes * 64 + 1);
	if (fmt < 0) {
		fprintf(stderr, "triaged: check-ticket: unknown format '%s'\n", format);
		goto out;
	}
	ticket_limits_default(&lim);
	lim.max_message_bytes = (size_t)cfg->max_message_bytes;
	lim.max_body_prompt_len = (size_t)cfg->max_body_prompt_bytes;
	in = intake_new((enum intake_format)fmt, cfg->mapping_file, cfg->tier_map, &lim, err,
			sizeof(err));
	if (in == NULL) {
		fprintf(stderr, "triaged: check-ticket: %s\n", err);
		goto out;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "triaged: check-ticket: %s: %s\n", path, strerror(errno));
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) < 0) {
			fprintf(stderr, "triaged: check-ticket: %s: too large\n", path);
			goto out;
		}
	}
	for (size_t pos = 0; pos < b.len || (pos == 0 && !lines);) {
		const char *nl = lines ? memchr(b.data + pos, '\n', b.len - pos) : NULL;
		size_t end = lines ? (nl ? (size_t)(nl - b.data) : b.len) : b.len;
		struct intake_result r;
		json_object *o = json_object_new_object();

		intake_parse(in, b.data + pos, end - pos, key, key ? strlen(key) : 0, -1, &r);
		if (r.outcome == INTAKE_TICKET) {
			json_object_object_add(o, "outcome", json_object_new_string("ticket"));
			json_object_object_add(o, "ticket", ticket_to_json(r.t));
		} else if (r.outcome == INTAKE_SKIP) {
			json_object_object_add(o, "outcome", json_object_new_string("skip"));
			json_object_object_add(o, "reason", json_object_new_string(r.reason));
		} else {
			dead = 1;
			json_object_object_add(o, "outcome", json_object_new_string("dead_letter"));
			json_object_object_add(o, "code",
					       json_object_new_string(ticket_err_code(r.code)));
			json_object_object_add(o, "reason", json_object_new_string(r.reason));
		}
		puts(json_object_to_json_string_ext(o, (lines ? JSON_C_TO_STRING_PLAIN
							       : JSON_C_TO_STRING_PRETTY) |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		ticket_free(r.t);
		pos = end + 1;
		if (!lines)
			break;
	}
	rc = dead;
out:
	if (f != NULL && f != stdin)
		fclose(f);
	intake_free(in);
	buf_cleanup(&b);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"schema-dir", required_argument, NULL, 'S'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{"format", required_argument, NULL, 'F'}, /* check-ticket */
		{"key", required_argument, NULL, 'K'},
		{"lines", no_argument, NULL, 'L'},
		{NULL, 0, NULL, 0},
	};
	struct config cfg;
	const char *file = NULL, *cmd = "run";
	const char *schema_dir = getenv("TRIAGED_SCHEMA_DIR");
	char err[1024], *text = NULL;
	int check = 0, o, rc = 1, lines = 0;
	const char *format = NULL, *key = NULL, *payload = NULL;
	enum log_level lvl;
	int eval_argc = 0;
	char **eval_argv = NULL;

	/* the loop thread parses JSON too: without glibc's locale lock (clocale.h) */
	(void)clocale_thread();
	if (schema_dir == NULL || *schema_dir == '\0')
		schema_dir = TRIAGED_DEFAULT_SCHEMA_DIR;
	/* eval has options of its own: main's end at the command */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "eval") == 0 && (i == 1 || strcmp(argv[i - 1], "-c") != 0) &&
		    (i == 1 || strcmp(argv[i - 1], "--config") != 0)) {
			eval_argc = argc - i;
			eval_argv = argv + i;
			argc = i;
			break;
		}
	while ((o = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			file = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'S':
			schema_dir = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'L':
			lines = 1;
			break;
		case 'V':
			printf("triaged %s\n", TRIAGED_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		cmd = argv[optind++];
	else if (eval_argv)
		cmd = "eval";
	if (strcmp(cmd, "check-ticket") == 0 && optind < argc)
		payload = argv[optind++];
	if (strcmp(cmd, "check-ticket") == 0 && payload == NULL) {
		fprintf(stderr, "triaged: check-ticket needs a FILE or -\n");
		return 2;
	}
	if (optind < argc || (strcmp(cmd, "run") != 0 && strcmp(cmd, "migrate") != 0 &&
			      strcmp(cmd, "check-ticket") != 0 && strcmp(cmd, "check-models") != 0 &&
			      strcmp(cmd, "eval") != 0)) {
		fprintf(stderr, "triaged: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}

	config_init(&cfg);
	if (file) {
		text = textfile_read(file, 1u << 20, err, sizeof(err));
		if (text == NULL || config_load_text(&cfg, text, file, environ, err, sizeof(err)) < 0) {
			fprintf(stderr, "triaged: %s\n", err);
			goto out;
		}
	} else if (config_load_env(&cfg, environ, err, sizeof(err)) < 0) {
		fprintf(stderr, "triaged: %s\n", err);
		goto out;
	}
	if (config_validate(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "triaged: %s%s%s\n", file ? file : "", file ? ": " : "", err);
		goto out;
	}
	if (log_level_parse(cfg.log_level, &lvl) == 0)
		log_min_level = lvl;
	if (check) {
		config_dump(&cfg, stdout);
		rc = 0;
		goto out;
	}
	if (strcmp(cmd, "check-ticket") == 0) {
		rc = check_ticket(&cfg, format, key, lines, payload);
		goto out;
	}
	if (strcmp(cmd, "migrate") == 0) {
		int applied = 0;
		if (migrate_run(cfg.pg_conninfo, schema_dir, &applied, err, sizeof(err)) < 0) {
			fprintf(stderr, "triaged: migrate: %s\n", err);
			goto out;
		}
		log_info("migrations done", "applied=%d", applied);
		rc = 0;
		goto out;
	}
	if (strcmp(cmd, "check-models") == 0) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			fprintf(stderr, "triaged: curl_global_init failed\n");
			goto out;
		}
		rc = check_models_run(&cfg, stdout);
		curl_global_cleanup();
		goto out;
	}
	if (strcmp(cmd, "eval") == 0) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			fprintf(stderr, "triaged: curl_global_init failed\n");
			goto out;
		}
		rc = eval_run_main(&cfg, eval_argc, eval_argv, stdout);
		curl_global_cleanup();
		goto out;
	}
	rc = run(&cfg, schema_dir);
out:
	free(text);
	config_cleanup(&cfg);
	return rc;
}
