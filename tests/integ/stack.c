/*
 * stack: see stack.h. Test-side only: blocking calls are fine here.
 */
#include "stack.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#define MAX_PROCS 32

static struct h_proc *procs[MAX_PROCS];
static int nprocs;
static int atexit_set;

static void kill_all(void)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i] && procs[i]->pid > 0 && !procs[i]->exited)
			kill(procs[i]->pid, SIGKILL);
}

static void track(struct h_proc *p)
{
	if (!atexit_set) {
		atexit(kill_all);
		atexit_set = 1;
	}
	for (int i = 0; i < nprocs; i++)
		if (procs[i] == p)
			return;
	if (nprocs < MAX_PROCS)
		procs[nprocs++] = p;
}

static int spawn(struct h_proc *p, const char *name, char *const argv[], char *const env[])
{
	if (h_spawn(p, name, argv, env) < 0)
		return -1;
	track(p);
	return 0;
}

static int run_wait(const char *name, char *const argv[], int timeout_ms)
{
	struct h_proc p;
	int st = -1;
	memset(&p, 0, sizeof(p));
	if (spawn(&p, name, argv, NULL) < 0)
		return -1;
	if (h_wait_exit(&p, timeout_ms, &st) < 0 || st != 0) {
		fprintf(stderr, "%s failed (status %d)\n", name, st);
		h_dump_log(&p, 30);
		h_stop(&p);
		return -1;
	}
	return 0;
}

void stack_env(struct stack *s, const char *name, const char *value)
{
	size_t n = strlen(name);
	for (int i = 0; i < s->nenv; i++) {
		if (strncmp(s->env[i], name, n) == 0 && s->env[i][n] == '=') {
			free(s->env[i]);
			if (asprintf(&s->env[i], "%s=%s", name, value) < 0)
				abort();
			return;
		}
	}
	if (s->nenv + 1 >= STACK_MAX_ENV)
		abort();
	if (asprintf(&s->env[s->nenv++], "%s=%s", name, value) < 0)
		abort();
	s->env[s->nenv] = NULL;
}

int stack_start(struct stack *s, const struct h_pg *pg, const char *name, int partitions,
		const char *const *model_args)
{
	char bin[PATH_MAX], topic[64], port_file[PATH_MAX], schema[PATH_MAX], *line;
	PGconn *admin;
	const char *margv[32];
	int n = 0;

	memset(s, 0, sizeof(*s));
	s->pg = pg;
	s->partitions = partitions;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->dbname, sizeof(s->dbname), "t_%s", name);
	admin = h_pg_connect(pg);
	if (admin == NULL)
		return -1;
	h_sql_exec(admin, "DROP DATABASE IF EXISTS %s", s->dbname);
	if (h_sql_exec(admin, "CREATE DATABASE %s", s->dbname) < 0) {
		PQfinish(admin);
		return -1;
	}
	PQfinish(admin);
	snprintf(s->conninfo, sizeof(s->conninfo), "host=%s port=%d user=postgres dbname=%s",
		 pg->dir, pg->port, s->dbname);

	/* migrate with the real binary, as an operator would */
	if (h_bin(bin, sizeof(bin), "triaged") < 0)
		return -1;
	snprintf(schema, sizeof(schema), "%s/schema", h_source_dir());
	{
		char ci[PATH_MAX + 200], sd[PATH_MAX + 32];
		snprintf(ci, sizeof(ci), "TRIAGED_POSTGRES_CONNINFO=%s", s->conninfo);
		snprintf(sd, sizeof(sd), "TRIAGED_SCHEMA_DIR=%s", schema);
		char *env[] = {ci, sd, NULL};
		char *argv[] = {bin, "migrate", NULL};
		struct h_proc p;
		int st = -1;
		memset(&p, 0, sizeof(p));
		if (spawn(&p, "migrate", argv, env) < 0 || h_wait_exit(&p, 60000, &st) < 0 ||
		    st != 0) {
			h_dump_log(&p, 30);
			return -1;
		}
	}
	s->db = PQconnectdb(s->conninfo);
	if (PQstatus(s->db) != CONNECTION_OK) {
		fprintf(stderr, "connect %s: %s\n", s->conninfo, PQerrorMessage(s->db));
		return -1;
	}

	/* broker */
	if (h_bin(bin, sizeof(bin), "triaged-devbroker") < 0)
		return -1;
	snprintf(s->boot_file, sizeof(s->boot_file), "%s/%s.bootstrap", h_tmpdir(), name);
	unlink(s->boot_file);
	snprintf(topic, sizeof(topic), "tickets.incoming:%d", partitions);
	{
		char *argv[] = {bin, "--topic", topic, "--topic", "tickets.dlq:1", "--topic", "tickets.triaged:1",
				"--bootstrap-file", s->boot_file, NULL};
		char pname[80];
		snprintf(pname, sizeof(pname), "%s-broker", name);
		if (spawn(&s->broker, pname, argv, NULL) < 0 || h_wait_file(s->boot_file, 10000) < 0)
			return -1;
	}
	line = h_read_first_line(s->boot_file);
	if (line == NULL)
		return -1;
	snprintf(s->bootstrap, sizeof(s->bootstrap), "%s", line);
	free(line);

	/* fake model */
	if (h_bin(bin, sizeof(bin), "triaged-fakemodel") < 0)
		return -1;
	snprintf(port_file, sizeof(port_file), "%s/%s.model-port", h_tmpdir(), name);
	unlink(port_file);
	margv[n++] = bin;
	margv[n++] = "--port-file";
	margv[n++] = port_file;
	for (int i = 0; model_args && model_args[i] && n < 30; i++)
		margv[n++] = model_args[i];
	margv[n] = NULL;
	{
		char pname[80];
		snprintf(pname, sizeof(pname), "%s-model", name);
		if (spawn(&s->model, pname, (char *const *)margv, NULL) < 0 ||
		    h_wait_file(port_file, 10000) < 0)
			return -1;
	}
	line = h_read_first_line(port_file);
	if (line == NULL)
		return -1;
	s->model_port = atoi(line);
	free(line);
	snprintf(s->model_url, sizeof(s->model_url), "http://127.0.0.1:%d/v1", s->model_port);

	{
		char group[96];
		snprintf(group, sizeof(group), "triaged-%s", name);
		stack_env(s, "TRIAGED_KAFKA_BOOTSTRAP_SERVERS", s->bootstrap);
		stack_env(s, "TRIAGED_KAFKA_GROUP_ID", group);
		/* the mock coordinator holds a rejoin for session.timeout.ms - 1 s */
		stack_env(s, "TRIAGED_KAFKA_SESSION_TIMEOUT_MS", "6000");
		stack_env(s, "TRIAGED_KAFKA_HEARTBEAT_INTERVAL_MS", "500");
		/* the daemon's heartbeat (and budget leases): a killed daemon's claims are
		 * taken over 6 s after its last renewal, not 60 (migration 064) */
		stack_env(s, "TRIAGED_BUDGET_LEASE_S", "6");
		stack_env(s, "TRIAGED_POSTGRES_CONNINFO", s->conninfo);
		stack_env(s, "TRIAGED_MINI_BASE_URL", s->model_url);
		stack_env(s, "TRIAGED_FLAGSHIP_BASE_URL", s->model_url);
		stack_env(s, "TRIAGED_HTTP_LISTEN", "");
		stack_env(s, "TRIAGED_SCHEMA_DIR", schema);
		/* the spine alone unless a test sets its rules (test_cascade.c) */
		stack_env(s, "TRIAGED_TRIAGE_RULES_FILE", "");
	}
	return 0;
}

int stack_daemon(struct stack *s, struct h_proc *d, const char *label)
{
	char bin[PATH_MAX], pname[96];
	if (h_bin(bin, sizeof(bin), "triaged") < 0)
		return -1;
	char *argv[] = {bin, NULL};
	memset(d, 0, sizeof(*d));
	snprintf(pname, sizeof(pname), "%s-%s", s->name, label);
	return spawn(d, pname, argv, s->env);
}

int stack_log_count(const struct h_proc *d, const char *a, const char *b)
{
	FILE *f = fopen(d->log_path, "r");
	char line[8192];
	int n = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, a) && (b == NULL || strstr(line, b)))
			n++;
	fclose(f);
	return n;
}

int stack_wait_log(const struct h_proc *d, const char *text, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	while (h_now_ms() < end) {
		FILE *f = fopen(d->log_path, "r");
		char line[8192];
		int found = 0;
		if (f) {
			while (fgets(line, sizeof(line), f))
				if (strstr(line, text)) {
					found = 1;
					break;
				}
			fclose(f);
		}
		if (found)
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

int stack_stop_daemon(struct h_proc *d, int timeout_ms)
{
	int st = -1;
	if (h_signal(d, SIGTERM) < 0)
		return -1;
	if (h_wait_exit(d, timeout_ms, &st) < 0) {
		h_stop(d);
		return -1;
	}
	return st;
}

int stack_produce_samples(struct stack *s, int n, const char *prefix)
{
	char bin[PATH_MAX], file[PATH_MAX], count[32];
	if (h_bin(bin, sizeof(bin), "triaged-produce") < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/deploy/samples/tickets.jsonl", h_source_dir());
	snprintf(count, sizeof(count), "%d", n);
	char *argv[] = {bin, "--bootstrap-file", s->boot_file, "-t", "tickets.incoming", "-f", file,
			"-n", count, "--repeat", "--id-prefix", (char *)prefix, NULL};
	return run_wait("produce", argv, 120000);
}

int stack_produce_file(struct stack *s, const char *path, int raw)
{
	char bin[PATH_MAX];
	if (h_bin(bin, sizeof(bin), "triaged-produce") < 0)
		return -1;
	char *argv[] = {bin, "--bootstrap-file", s->boot_file, "-t", "tickets.incoming", "-f",
			(char *)path, raw ? "--raw" : NULL, NULL};
	return run_wait("produce", argv, 60000);
}

int stack_produce_binary(struct stack *s, const char *path)
{
	char bin[PATH_MAX];
	if (h_bin(bin, sizeof(bin), "triaged-produce") < 0)
		return -1;
	char *argv[] = {bin, "--bootstrap-file", s->boot_file, "-t", "tickets.incoming",
			"--binary-file", (char *)path, NULL};
	return run_wait("produce", argv, 60000);
}

long long stack_wait_count(struct stack *s, long long want, int timeout_ms, const char *sql)
{
	long long end = h_now_ms() + timeout_ms, v = -1;
	while (h_now_ms() < end) {
		v = h_sql_ll(s->db, "%s", sql);
		if (v >= want)
			return v;
		usleep(200 * 1000);
	}
	return v;
}

struct membuf {
	char data[1 << 20];
	size_t len;
};

static size_t mb_write(char *p, size_t sz, size_t n, void *ud)
{
	struct membuf *m = ud;
	size_t k = sz * n;
	if (m->len + k >= sizeof(m->data))
		return 0;
	memcpy(m->data + m->len, p, k);
	m->len += k;
	m->data[m->len] = '\0';
	return k;
}

static json_object *model_get(struct stack *s, const char *path, const char *post)
{
	static struct membuf mb;
	char url[256];
	CURL *c = curl_easy_init();
	json_object *o = NULL;
	struct curl_slist *h = NULL;
	mb.len = 0;
	mb.data[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->model_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mb_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &mb);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (post) {
		h = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		o = json_tokener_parse(mb.data);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return o;
}

long long stack_model_requests(struct stack *s, const char *ticket)
{
	json_object *o = model_get(s, "/_stats", NULL), *v = NULL;
	long long r = -1;
	if (o == NULL)
		return -1;
	if (ticket == NULL) {
		if (json_object_object_get_ex(o, "requests", &v))
			r = json_object_get_int64(v);
	} else {
		json_object *pt;
		r = 0;
		if (json_object_object_get_ex(o, "per_ticket", &pt) &&
		    json_object_object_get_ex(pt, ticket, &v))
			r = json_object_get_int64(v);
	}
	json_object_put(o);
	return r;
}

int stack_model_tokens(struct stack *s, const char *model, long long *answers,
		       long long *prompt_tokens, long long *completion_tokens)
{
	json_object *o = model_get(s, "/_stats", NULL), *t, *m, *v;
	int rc = -1;
	*answers = *prompt_tokens = *completion_tokens = 0;
	if (o == NULL)
		return -1;
	rc = 0;
	if (json_object_object_get_ex(o, "tokens", &t) && json_object_object_get_ex(t, model, &m)) {
		if (json_object_object_get_ex(m, "answers", &v))
			*answers = json_object_get_int64(v);
		if (json_object_object_get_ex(m, "prompt_tokens", &v))
			*prompt_tokens = json_object_get_int64(v);
		if (json_object_object_get_ex(m, "completion_tokens", &v))
			*completion_tokens = json_object_get_int64(v);
	}
	json_object_put(o);
	return rc;
}

int stack_model_control(struct stack *s, const char *json)
{
	json_object *o = model_get(s, "/_control", json);
	if (o == NULL)
		return -1;
	json_object_put(o);
	return 0;
}

long long stack_orphans(struct stack *s)
{
	return h_sql_ll(s->db, "SELECT CASE WHEN count(*) = 4 THEN sum(orphans) ELSE -1 END "
			       "FROM triaged_integrity()");
}

long long stack_committed(struct stack *s)
{
	char group[96];
	snprintf(group, sizeof(group), "triaged-%s", s->name);
	return h_kafka_committed_sum(s->bootstrap, group, "tickets.incoming", s->partitions);
}

long long stack_end_offsets(struct stack *s)
{
	return h_kafka_end_offsets_sum(s->bootstrap, "tickets.incoming", s->partitions);
}

void stack_stop(struct stack *s)
{
	h_stop(&s->model);
	h_stop(&s->broker);
	if (s->db)
		PQfinish(s->db);
	s->db = NULL;
	for (int i = 0; i < s->nenv; i++)
		free(s->env[i]);
	s->nenv = 0;
}

/* ---- fault injection ------------------------------------------------------- */

int stack_broker_cluster(struct stack *s, int brokers)
{
	char bin[PATH_MAX], topic[64], nb[16], pname[80], *line;

	if (h_bin(bin, sizeof(bin), "triaged-devbroker") < 0)
		return -1;
	h_stop(&s->broker);
	unlink(s->boot_file);
	snprintf(s->control, sizeof(s->control), "%s/%s.control", h_tmpdir(), s->name);
	unlink(s->control);
	snprintf(topic, sizeof(topic), "tickets.incoming:%d", s->partitions);
	snprintf(nb, sizeof(nb), "%d", brokers);
	snprintf(pname, sizeof(pname), "%s-cluster", s->name);
	{
		char *argv[] = {bin, "--brokers", nb, "--topic", topic, "--topic", "tickets.dlq:1",
				"--topic", "tickets.triaged:1", "--bootstrap-file", s->boot_file,
				"--control", s->control, NULL};
		if (spawn(&s->broker, pname, argv, NULL) < 0 || h_wait_file(s->boot_file, 10000) < 0)
			return -1;
	}
	line = h_read_first_line(s->boot_file);
	if (line == NULL)
		return -1;
	snprintf(s->bootstrap, sizeof(s->bootstrap), "%s", line);
	free(line);
	s->brokers = brokers;
	stack_env(s, "TRIAGED_KAFKA_BOOTSTRAP_SERVERS", s->bootstrap);
	return 0;
}

/* Lines of the broker log that are replies to control commands. */
static int control_replies(const struct stack *s, int *errors)
{
	FILE *f = fopen(s->broker.log_path, "r");
	char line[4096];
	int n = 0;
	*errors = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "ok cmd=", 7) == 0)
			n++;
		else if (strncmp(line, "error cmd=", 10) == 0) {
			n++;
			(*errors)++;
		}
	}
	fclose(f);
	return n;
}

int stack_broker_control(struct stack *s, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int fd, before, errs_before, errs, n;
	long long end;
	ssize_t w;

	if (s->control[0] == '\0')
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 1)
		return -1;
	cmd[n++] = '\n';
	before = control_replies(s, &errs_before);
	fd = open(s->control, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "broker control %s: %s\n", s->control, strerror(errno));
		return -1;
	}
	w = write(fd, cmd, (size_t)n);
	close(fd);
	if (w != n)
		return -1;
	end = h_now_ms() + 5000;
	while (h_now_ms() < end) {
		if (control_replies(s, &errs) > before) {
			if (errs > errs_before) {
				fprintf(stderr, "broker control refused: %.*s", n, cmd);
				return -1;
			}
			return 0;
		}
		usleep(20 * 1000);
	}
	fprintf(stderr, "broker control: no reply to %.*s", n, cmd);
	return -1;
}

int stack_partition_leaders(struct stack *s, int *leaders, int n)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	const struct rd_kafka_metadata *md = NULL;
	int rc = -1;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", s->bootstrap, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "metadata client: %s\n", err);
		return -1;
	}
	rkt = rd_kafka_topic_new(rk, "tickets.incoming", NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    md->topic_cnt == 1) {
		const rd_kafka_metadata_topic_t *t = &md->topics[0];
		for (int i = 0; i < n; i++)
			leaders[i] = -1;
		for (int i = 0; i < t->partition_cnt; i++)
			if (t->partitions[i].id >= 0 && t->partitions[i].id < n)
				leaders[t->partitions[i].id] = t->partitions[i].leader;
		rc = 0;
		for (int i = 0; i < n; i++)
			if (leaders[i] < 0)
				rc = -1;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return rc;
}

int stack_model_extra(struct stack *s, struct h_proc *p, const char *label,
		      const char *const *model_args, char *url, size_t urllen, int *port)
{
	char bin[PATH_MAX], port_file[PATH_MAX], pname[96], *line;
	const char *margv[32];
	int n = 0;

	if (h_bin(bin, sizeof(bin), "triaged-fakemodel") < 0)
		return -1;
	snprintf(port_file, sizeof(port_file), "%s/%s-%s.model-port", h_tmpdir(), s->name, label);
	unlink(port_file);
	margv[n++] = bin;
	margv[n++] = "--port-file";
	margv[n++] = port_file;
	for (int i = 0; model_args && model_args[i] && n < 30; i++)
		margv[n++] = model_args[i];
	margv[n] = NULL;
	memset(p, 0, sizeof(*p));
	snprintf(pname, sizeof(pname), "%s-%s", s->name, label);
	if (spawn(p, pname, (char *const *)margv, NULL) < 0 || h_wait_file(port_file, 10000) < 0)
		return -1;
	line = h_read_first_line(port_file);
	if (line == NULL)
		return -1;
	*port = atoi(line);
	free(line);
	snprintf(url, urllen, "http://127.0.0.1:%d/v1", *port);
	return 0;
}

struct json_object *stack_model_stats(struct stack *s, int port)
{
	int saved = s->model_port;
	json_object *o;
	/* model_get() talks to s->model_port */
	if (port > 0)
		s->model_port = port;
	o = model_get(s, "/_stats", NULL);
	s->model_port = saved;
	return o;
}

struct h_pg stack_pg;

void stack_pg_up(void)
{
	if (h_pg_start(&stack_pg) < 0) {
		fprintf(stderr, "cannot start PostgreSQL: the integration suite needs it\n");
		exit(1);
	}
}

void stack_pg_down(void)
{
	h_pg_destroy(&stack_pg);
}

int stack_wait_committed(struct stack *s, long long want, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	while (h_now_ms() < end) {
		if (stack_committed(s) == want)
			return 0;
		usleep(250 * 1000);
	}
	return -1;
}

int stack_run_suite(const char *suite, const struct stack_case *cases, size_t n, int timeout_s)
{
	Suite *su = suite_create(suite);
	SRunner *sr;
	int failed;
	for (size_t i = 0; i < n; i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_unchecked_fixture(tc, stack_pg_up, stack_pg_down);
		tcase_set_timeout(tc, timeout_s);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(su, tc);
	}
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* ---- loop lag from the admin port (issue 16: test_looplag, test_faults) ---- */

/* The Prometheus buckets of triaged_loop_lag_seconds (service/core/metrics.c). */
static const char *const lag_le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
				     "0.1",   "0.25",	"0.5",	 "1",	 "2.5",	  "5",
				     "10",    "30",	"60",	 "+Inf"};

struct lag_buf {
	char *p;
	size_t n;
};

static size_t lag_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct lag_buf *m = ud;
	size_t add = size * nmemb;
	char *p = realloc(m->p, m->n + add + 1);
	if (p == NULL)
		abort();
	memcpy(p + m->n, data, add);
	m->p = p;
	m->n += add;
	m->p[m->n] = '\0';
	return add;
}

/* GET /metrics into a new string (caller frees), or NULL. */
static char *get_admin_metrics(int port)
{
	char url[128];
	struct lag_buf m = {NULL, 0};
	long code = 0;
	CURL *c = curl_easy_init();
	if (c == NULL)
		return NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, lag_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (code != 200) {
		free(m.p);
		return NULL;
	}
	return m.p;
}

/* The value of one series ("name" or "name{labels}") in a /metrics text; -1 if absent. */
static double sample_in(const char *t, const char *series)
{
	char needle[200];
	const char *p;
	snprintf(needle, sizeof(needle), "\n%s ", series);
	if ((p = strstr(t, needle)) == NULL)
		return -1;
	return strtod(p + strlen(needle), NULL);
}

/* One series of GET /metrics on port (e.g. "triaged_consumer_lag"); -1 if none. */
double stack_metric(int port, const char *name)
{
	char *t = get_admin_metrics(port);
	double v;
	if (t == NULL)
		return -1;
	v = sample_in(t, name);
	free(t);
	return v;
}

/* The loop-lag histogram from /metrics: 0, or -1 when it is not there. */
int stack_loop_lag(int port, struct stack_lag *l)
{
	char *t = get_admin_metrics(port), series[128];
	int rc = -1;
	double v;
	if (t == NULL)
		return -1;
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < STACK_LAG_BUCKETS; i++) {
		snprintf(series, sizeof(series), "triaged_loop_lag_seconds_bucket{le=\"%s\"}",
			 lag_le[i]);
		if ((v = sample_in(t, series)) < 0)
			goto out;
		l->le[i] = (long long)v;
	}
	if ((l->sum_s = sample_in(t, "triaged_loop_lag_seconds_sum")) < 0 ||
	    (v = sample_in(t, "triaged_loop_lag_seconds_count")) < 0)
		goto out;
	l->count = (long long)v;
	/* optional: -1 when not exported */
	l->cpu_s = sample_in(t, "triaged_loop_cpu_seconds_total");
	l->run_delay_s = sample_in(t, "triaged_loop_run_delay_seconds_total");
	l->late_busy = (long long)sample_in(t, "triaged_loop_late_ticks_total{cause=\"busy\"}");
	l->late_waited = (long long)sample_in(t, "triaged_loop_late_ticks_total{cause=\"waited\"}");
	l->late_cpu_s = sample_in(t, "triaged_loop_late_cpu_seconds_total");
	l->late_run_delay_s = sample_in(t, "triaged_loop_late_run_delay_seconds_total");
	rc = 0;
out:
	free(t);
	return rc;
}

/* The smallest bucket bound holding at least q of the ticks between a and b ("-" if none). */
const char *stack_lag_quantile(const struct stack_lag *a, const struct stack_lag *b, double q)
{
	long long n = b->count - a->count;
	if (n <= 0)
		return "-";
	for (size_t i = 0; i < STACK_LAG_BUCKETS; i++)
		if ((double)(b->le[i] - a->le[i]) >= q * (double)n)
			return lag_le[i];
	return "+Inf";
}

/* The bound of the highest bucket a tick between a and b went into. */
const char *stack_lag_max(const struct stack_lag *a, const struct stack_lag *b)
{
	for (size_t i = 0; i < STACK_LAG_BUCKETS; i++)
		if (b->le[i] - a->le[i] == b->count - a->count)
			return lag_le[i];
	return "+Inf";
}

/* The port from the daemon's msg="http listening" ... port=N line; -1 if not there. */
char *stack_run_cli(struct stack *s, const char *label, char *const args[], int timeout_ms,
		    int *status)
{
	char bin[PATH_MAX], *out = NULL;
	char *argv[32];
	struct h_proc p;
	FILE *f;
	long n;
	int k = 0;

	ck_assert_int_eq(h_bin(bin, sizeof(bin), "triaged"), 0);
	argv[k++] = bin;
	for (int i = 0; args[i] != NULL; i++) {
		ck_assert_int_lt(k, 31);
		argv[k++] = args[i];
	}
	argv[k] = NULL;
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(h_spawn(&p, label, argv, s->env), 0);
	ck_assert_int_eq(h_wait_exit(&p, timeout_ms, status), 0);
	f = fopen(p.log_path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	out = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return out;
}

char *stack_check_models(struct stack *s, int *status)
{
	char *const args[] = {"check-models", NULL};
	return stack_run_cli(s, "check-models", args, 30000, status);
}

int stack_http_port(const struct h_proc *d)
{
	char line[8192];
	int port = -1;
	FILE *f;
	if (stack_wait_log(d, "msg=\"http listening\"", 30000) < 0)
		return -1;
	if ((f = fopen(d->log_path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p;
		if (strstr(line, "msg=\"http listening\"") &&
		    (p = strstr(line, " port=")) != NULL) {
			port = (int)strtol(p + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return port;
}

