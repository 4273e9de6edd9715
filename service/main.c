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

#include "config.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "pipeline.h"
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
		"usage: triaged [-c FILE] [options] [run|migrate]\n"
		"\n"
		"Triage support tickets from Kafka with a mini model, escalate hard ones,\n"
		"store everything in PostgreSQL.\n"
		"\n"
		"commands:\n"
		"  run            consume and triage tickets (default)\n"
		"  migrate        apply database migrations from the schema directory\n"
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

static int run(const struct config *cfg, const char *schema_dir)
{
	struct event_base *base = NULL;
	struct pipeline *pl = NULL;
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	struct http *http = NULL;
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
	base = event_base_new();
	if (base == NULL)
		fatal("event_base_new failed", "%s", "");
	pl = pipeline_new(base, cfg, err, sizeof(err));
	if (pl == NULL)
		fatal("startup failed", "error=%s", log_quote(q, sizeof(q), err));
	if (cfg->http_listen[0] != '\0') {
		http = http_new(base, cfg->http_listen, cfg->http_token, cfg->pg_conninfo, pl, err,
				sizeof(err));
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"schema-dir", required_argument, NULL, 'S'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct config cfg;
	const char *file = NULL, *cmd = "run";
	const char *schema_dir = getenv("TRIAGED_SCHEMA_DIR");
	char err[1024], *text = NULL;
	int check = 0, o, rc = 1;
	enum log_level lvl;

	if (schema_dir == NULL || *schema_dir == '\0')
		schema_dir = TRIAGED_DEFAULT_SCHEMA_DIR;
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
	if (optind < argc || (strcmp(cmd, "run") != 0 && strcmp(cmd, "migrate") != 0)) {
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
	rc = run(&cfg, schema_dir);
out:
	free(text);
	config_cleanup(&cfg);
	return rc;
}
