/*
 * Proof of reliability: fault injection on real parts (a throwaway
 * PostgreSQL cluster, the dev broker, the fake model and the real daemon).
 * Each scenario kills, stops or breaks one part during a run and then
 * checks the same contract: every ticket produced has exactly one triage
 * row, nothing is stored twice, every offset is committed, and a model call
 * that completed and was persisted is never paid for again.
 *
 * One TCase per scenario (CK_RUN_CASE=<name>); each prints one figures line
 * "faults <scenario>: tickets_in=N rows=N lost=N duplicated=N model_calls=N
 * repeated_calls=N retries=N ..." (tests/integ/FAULTS.md explains them).
 * TRIAGED_FAULTS_SEED=<n> replays the kill times of `sigkill`.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "stack.h"

/* ---- helpers ------------------------------------------------------------- */

/* 1 while the process runs (not reaped). */
static int alive(struct h_proc *d)
{
	return h_wait_exit(d, 0, NULL) != 0;
}

/* The number after "key=" on the last log line holding it; -1 if none. */
static long long log_last_num(const struct h_proc *d, const char *key)
{
	FILE *f = fopen(d->log_path, "r");
	char line[8192];
	long long v = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, key);
		if (p)
			v = atoll(p + strlen(key));
	}
	fclose(f);
	return v;
}

/* The total= of the daemon's last assignment line; 0 when it has none or lost them. */
static int assigned_total(const struct h_proc *d)
{
	FILE *f = fopen(d->log_path, "r");
	char line[8192];
	int total = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		const char *t;
		if (!strstr(line, "partitions assigned") && !strstr(line, "partitions revoked") &&
		    !strstr(line, "partitions lost"))
			continue;
		t = strstr(line, " total=");
		if (t)
			total = atoi(t + 7);
	}
	fclose(f);
	return total;
}

/* A count query with the ticket id prefix as its one %s (a literal, so formats are checked). */
#define sqlv(s, fmt, prefix) h_sql_ll((s)->db, fmt, prefix)

/* The contract's figures for the tickets whose id starts with prefix. */
struct figs {
	long long tickets_in, tickets, rows, lost, duplicated, model_calls, repeated_completed,
	    attempts, retries, pending_review, needs_human;
};

static void db_figures(struct stack *s, const char *prefix, long long n, struct figs *f)
{
	memset(f, 0, sizeof(*f));
	f->tickets_in = n;
	f->tickets = sqlv(s, "SELECT count(*) FROM tickets WHERE ticket_id LIKE '%s%%'", prefix);
	f->rows = sqlv(s,
		       "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = "
		       "tr.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
		       prefix);
	f->lost = n - sqlv(s,
			   "SELECT count(DISTINCT t.ticket_id) FROM triage_results tr JOIN "
			   "tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
			   prefix);
	/* impossible by the unique keys, counted anyway: rows beyond one per revision,
	 * and tickets that were taken for an update (revision 2) though the content is the same */
	f->duplicated =
	    sqlv(s,
		 "SELECT count(*) - count(DISTINCT (tr.ticket_pk, tr.revision)) FROM "
		 "triage_results tr JOIN tickets t ON t.id = tr.ticket_pk WHERE "
		 "t.ticket_id LIKE '%s%%'",
		 prefix) +
	    sqlv(s, "SELECT count(*) FROM tickets WHERE revision > 1 AND ticket_id LIKE '%s%%'",
		 prefix);
	f->model_calls = sqlv(s,
			      "SELECT count(*) FROM model_calls mc JOIN tickets t ON t.id = "
			      "mc.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
			      prefix);
	/* completed calls persisted twice for the same step (ticket, revision, tier, purpose) */
	f->repeated_completed =
	    sqlv(s,
		 "SELECT count(*) - count(DISTINCT (mc.ticket_pk, mc.revision, mc.tier, "
		 "mc.purpose)) FROM model_calls mc JOIN tickets t ON t.id = mc.ticket_pk WHERE "
		 "t.ticket_id LIKE '%s%%' AND mc.purpose = 'triage'",
		 prefix);
	f->attempts = sqlv(s,
			   "SELECT coalesce(sum(mc.attempts), 0) FROM model_calls mc JOIN tickets "
			   "t ON t.id = mc.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
			   prefix);
	f->retries = f->attempts - f->model_calls;
	f->pending_review = sqlv(s,
				 "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = "
				 "tr.ticket_pk WHERE t.ticket_id LIKE '%s%%' AND tr.status = "
				 "'pending_review'",
				 prefix);
	f->needs_human = sqlv(s,
			      "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = "
			      "tr.ticket_pk WHERE t.ticket_id LIKE '%s%%' AND tr.status = "
			      "'needs_human'",
			      prefix);
}

static long long rows_of(struct stack *s, const char *prefix)
{
	return sqlv(s,
		    "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = "
		    "tr.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
		    prefix);
}

/* Wait until the tickets with prefix have at least want rows; returns the last count. */
static long long wait_rows(struct stack *s, const char *prefix, long long want, int timeout_ms)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk "
		 "WHERE t.ticket_id LIKE '%s%%'",
		 prefix);
	return stack_wait_count(s, want, timeout_ms, sql);
}

/* The fake model's requests per ticket, for tickets with prefix. */
struct per_ticket {
	long long tickets;  /* tickets that reached the model */
	long long requests; /* their requests */
	long long beyond1;  /* requests beyond the first per ticket */
	long long max;	    /* most requests for one ticket */
	long long total;    /* all requests the model saw (any ticket) */
	long long timeouts, repairs;
};

static int model_per_ticket(struct stack *s, int port, const char *prefix, struct per_ticket *pt)
{
	json_object *o = stack_model_stats(s, port), *m, *v;
	size_t plen = strlen(prefix);
	memset(pt, 0, sizeof(*pt));
	if (o == NULL)
		return -1;
	if (json_object_object_get_ex(o, "requests", &v))
		pt->total = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "timeouts", &v))
		pt->timeouts = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "repairs", &v))
		pt->repairs = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "per_ticket", &m)) {
		json_object_object_foreach(m, key, val)
		{
			long long c = json_object_get_int64(val);
			if (strncmp(key, prefix, plen) != 0)
				continue;
			pt->tickets++;
			pt->requests += c;
			pt->beyond1 += c - 1;
			if (c > pt->max)
				pt->max = c;
		}
	}
	json_object_put(o);
	return 0;
}

/* One line of the fake model's --request-log. */
struct req {
	char ticket[48];
	long long ts, n;
	int status;
	int repair;
};

struct reqlog {
	struct req *v;
	size_t n, cap;
};

static int req_cmp(const void *a, const void *b)
{
	const struct req *x = a, *y = b;
	int c = strcmp(x->ticket, y->ticket);
	if (c)
		return c;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->n < y->n ? -1 : x->n > y->n;
}

/* Load the request log: the requests of tickets with prefix, sorted by ticket then time. */
static void reqlog_load(const char *path, const char *prefix, struct reqlog *rl)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, plen = strlen(prefix);
	ssize_t len;

	memset(rl, 0, sizeof(*rl));
	ck_assert_msg(f != NULL, "no request log %s", path);
	while ((len = getline(&line, &cap, f)) > 0) {
		json_object *o = json_tokener_parse(line), *v;
		struct req r;
		memset(&r, 0, sizeof(r));
		if (o == NULL)
			continue;
		if (json_object_object_get_ex(o, "ticket_id", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(r.ticket, sizeof(r.ticket), "%s", json_object_get_string(v));
		if (strncmp(r.ticket, prefix, plen) == 0) {
			if (json_object_object_get_ex(o, "ts_ms", &v))
				r.ts = json_object_get_int64(v);
			if (json_object_object_get_ex(o, "n", &v))
				r.n = json_object_get_int64(v);
			if (json_object_object_get_ex(o, "status", &v))
				r.status = json_object_get_int(v);
			if (json_object_object_get_ex(o, "repair", &v))
				r.repair = json_object_get_boolean(v);
			if (rl->n == rl->cap) {
				rl->cap = rl->cap ? rl->cap * 2 : 1024;
				rl->v = realloc(rl->v, rl->cap * sizeof(*rl->v));
				ck_assert_ptr_nonnull(rl->v);
			}
			rl->v[rl->n++] = r;
		}
		json_object_put(o);
	}
	free(line);
	fclose(f);
	qsort(rl->v, rl->n, sizeof(*rl->v), req_cmp);
}

/*
 * Requests the model got for a ticket after a call of that ticket had
 * completed and been persisted (model_calls.finished_at): the model was paid
 * twice for an answer the daemon already had. A call in flight when the
 * daemon died is not persisted, so its new request comes before the
 * persisted call's completion and does not count.
 */
static long long repeats_after_completion(struct stack *s, const struct reqlog *rl,
					  const char *prefix)
{
	PGresult *r;
	json_object *done = json_object_new_object(), *v;
	long long repeats = 0;
	char sql[512];

	snprintf(
	    sql, sizeof(sql),
	    "SELECT t.ticket_id, floor(extract(epoch FROM min(mc.finished_at)) * 1000)::bigint "
	    "FROM model_calls mc JOIN tickets t ON t.id = mc.ticket_pk WHERE t.ticket_id LIKE "
	    "'%s%%' AND mc.purpose = 'triage' AND mc.tier = 'mini' GROUP BY t.ticket_id",
	    prefix);
	r = PQexec(s->db, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(s->db));
	for (int i = 0; i < PQntuples(r); i++)
		json_object_object_add(done, PQgetvalue(r, i, 0),
				       json_object_new_int64(atoll(PQgetvalue(r, i, 1))));
	PQclear(r);
	for (size_t i = 0; i < rl->n; i++) {
		if (rl->v[i].repair)
			continue;
		if (json_object_object_get_ex(done, rl->v[i].ticket, &v) &&
		    rl->v[i].ts > json_object_get_int64(v)) {
			if (repeats < 5)
				fprintf(stderr,
					"repeated call: ticket=%s request_ts=%lld completed=%lld\n",
					rl->v[i].ticket, rl->v[i].ts,
					(long long)json_object_get_int64(v));
			repeats++;
		}
	}
	json_object_put(done);
	return repeats;
}

/* ---- 1. sigkill ------------------------------------------------------------ */

#define SK_TICKETS 5000
#define SK_KILLS 5

/*
 * SIGKILL the daemon at random moments (1-4 s after it got its partitions)
 * and restart it in the same group, five times, during 5,000 tickets.
 */
START_TEST(test_sigkill)
{
	struct stack s;
	struct h_proc d[SK_KILLS + 1];
	char reqlog_path[PATH_MAX], rows_at[128] = "";
	const char *margs[] = {"--latency-ms",	"20",	     "--jitter-ms", "20",
			       "--request-log", reqlog_path, NULL};
	unsigned seed, rnd;
	long long at_kill[SK_KILLS], committed, end, repeats, in_flight_lost = 0;
	struct figs f;
	struct per_ticket pt;
	struct reqlog rl;
	const char *env_seed = getenv("TRIAGED_FAULTS_SEED");

	seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10)
			: (unsigned)time(NULL) ^ ((unsigned)getpid() << 8);
	rnd = seed;
	fprintf(stderr, "faults sigkill: seed=%u (TRIAGED_FAULTS_SEED=%u replays it)\n", seed,
		seed);
	snprintf(reqlog_path, sizeof(reqlog_path), "%s/sigkill.requests", h_tmpdir());
	unlink(reqlog_path);
	/* 8 partitions: the mock keeps about 5 MiB each */
	ck_assert_int_eq(stack_start(&s, &stack_pg, "sigkill", 8, margs), 0);
	/* the production lease: a killed daemon's heartbeat stays fresh for a minute, so only
	 * its released advisory lock can tell the next daemon that it is gone */
	stack_env(&s, "TRIAGED_BUDGET_LEASE_S", "60");
	/* about 200 tickets/s (4 calls of ~20 ms at a time): every kill lands mid-run */
	stack_env(&s, "TRIAGED_MINI_MAX_CONCURRENCY", "4");
	stack_env(&s, "TRIAGED_INTAKE_MAX_IN_FLIGHT", "200");
	stack_env(&s, "TRIAGED_INTAKE_LOW_WATER", "100");
	ck_assert_int_eq(stack_produce_samples(&s, SK_TICKETS, "sk-"), 0);
	ck_assert_int_eq(stack_end_offsets(&s), SK_TICKETS);

	for (int k = 0; k < SK_KILLS; k++) {
		char label[32];
		int wait_ms;
		snprintf(label, sizeof(label), "daemon%d", k);
		ck_assert_int_eq(stack_daemon(&s, &d[k], label), 0);
		ck_assert_d(stack_wait_log(&d[k], "partitions assigned", 60000) == 0, &d[k]);
		wait_ms = 1000 + (int)(rand_r(&rnd) % 3001);
		usleep((useconds_t)wait_ms * 1000);
		at_kill[k] = rows_of(&s, "sk-");
		ck_assert_int_eq(h_signal(&d[k], SIGKILL), 0);
		ck_assert_int_eq(h_wait_exit(&d[k], 10000, NULL), 0);
		fprintf(stderr, "faults sigkill: kill %d after %d ms with partitions: rows=%lld\n",
			k + 1, wait_ms, at_kill[k]);
		snprintf(rows_at + strlen(rows_at), sizeof(rows_at) - strlen(rows_at), "%s%lld",
			 k ? "," : "", at_kill[k]);
		/* the kill must land mid-run, or this scenario proves nothing */
		ck_assert_msg(at_kill[k] < SK_TICKETS, "kill %d came after the run (%lld rows)",
			      k + 1, at_kill[k]);
	}
	ck_assert_int_eq(stack_daemon(&s, &d[SK_KILLS], "daemon-last"), 0);
	ck_assert_d(wait_rows(&s, "sk-", SK_TICKETS, 240000) == SK_TICKETS, &d[SK_KILLS]);
	ck_assert_d(stack_wait_committed(&s, SK_TICKETS, 30000) == 0, &d[SK_KILLS]);
	committed = stack_committed(&s);
	end = stack_end_offsets(&s);
	ck_assert_int_eq(stack_stop_daemon(&d[SK_KILLS], 30000), 0);

	db_figures(&s, "sk-", SK_TICKETS, &f);
	ck_assert_int_eq(model_per_ticket(&s, 0, "sk-", &pt), 0);
	reqlog_load(reqlog_path, "sk-", &rl);
	repeats = repeats_after_completion(&s, &rl, "sk-");
	/* requests beyond one per ticket whose answer was never persisted: in flight at a kill */
	in_flight_lost = pt.beyond1;
	fprintf(
	    stderr,
	    "faults sigkill: tickets_in=%d rows=%lld lost=%lld duplicated=%lld model_calls=%lld "
	    "repeated_calls=%lld retries=%lld kills=%d seed=%u rows_at_kills=%s "
	    "model_requests=%lld completed_calls_persisted=%lld resent_in_flight=%lld "
	    "max_requests_per_ticket=%lld repeated_completed_rows=%lld committed=%lld end=%lld\n",
	    SK_TICKETS, f.rows, f.lost, f.duplicated, f.model_calls, repeats, f.retries, SK_KILLS,
	    seed, rows_at, pt.requests, f.model_calls, in_flight_lost, pt.max, f.repeated_completed,
	    committed, end);

	ck_assert_int_eq(f.tickets, SK_TICKETS);
	ck_assert_int_eq(f.rows, SK_TICKETS);
	ck_assert_int_eq(f.lost, 0);
	ck_assert_int_eq(f.duplicated, 0);
	ck_assert_int_eq(committed, end);
	ck_assert_int_eq(end, SK_TICKETS);
	/* every ticket: exactly one completed call persisted, never a second one */
	ck_assert_int_eq(h_sql_ll(s.db,
				  "SELECT count(*) FROM tickets t WHERE t.ticket_id LIKE 'sk-%%' "
				  "AND (SELECT count(*) FROM model_calls mc WHERE mc.ticket_pk = "
				  "t.id AND mc.outcome = 'ok') <> 1"),
			 0);
	ck_assert_int_eq(f.model_calls, SK_TICKETS);
	ck_assert_int_eq(f.repeated_completed, 0);
	/* the model saw every ticket; a ticket is sent again only for a call a kill cut short */
	ck_assert_int_eq(pt.tickets, SK_TICKETS);
	ck_assert_int_eq((long long)rl.n, pt.requests);
	ck_assert_int_le(pt.max - 1, SK_KILLS);
	ck_assert_int_eq(repeats, 0);
	/* a killed daemon's claims were taken over at once, not after its lease: its database
	 * session, and with it the advisory lock that says it lives, went with it. The last
	 * daemon, started right after the last kill (well within its 6 s lease), found none
	 * of its tickets held elsewhere (the heartbeats, 60 s leases, said alive); and it said it
	 * stopped at its clean exit */
	ck_assert_int_eq(log_last_num(&d[SK_KILLS], " elsewhere="), 0);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM triaged_daemons WHERE lease_s > 0"),
			 SK_KILLS);
	free(rl.v);
	stack_stop(&s);
}
END_TEST

/* ---- 2. pg_down_20s --------------------------------------------------------- */

#define PGD_TICKETS 3000

/* PostgreSQL stopped for 20 s mid-run: the daemon waits, reconnects, loses and repeats nothing. */
START_TEST(test_pg_down_20s)
{
	struct stack s;
	struct h_proc d;
	static const char *const margs[] = {"--latency-ms", "20", NULL};
	long long before, after_restart, t0, down_ms, committed, paused_at;
	struct figs f;
	struct per_ticket pt;
	struct stack_lag lag0, lag1;
	int port;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "pgdown", 4, margs), 0);
	stack_env(&s, "TRIAGED_POSTGRES_RECONNECT_MAX_MS", "1000");
	stack_env(&s, "TRIAGED_INTAKE_MAX_IN_FLIGHT", "200");
	stack_env(&s, "TRIAGED_INTAKE_LOW_WATER", "100");
	stack_env(&s, "TRIAGED_MINI_MAX_CONCURRENCY", "8");
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0"); /* the loop-lag histogram */
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d((port = stack_http_port(&d)) > 0, &d);
	ck_assert_d(stack_wait_log(&d, "partitions assigned", 60000) == 0, &d);
	ck_assert_int_eq(stack_produce_samples(&s, PGD_TICKETS, "pg-"), 0);
	before = wait_rows(&s, "pg-", 300, 60000);
	ck_assert_d(before >= 300, &d);
	PQfinish(s.db);
	s.db = NULL;
	ck_assert_d(stack_loop_lag(port, &lag0) == 0, &d);
	t0 = h_now_ms();
	ck_assert_int_eq(h_pg_stop(&stack_pg), 0);
	/* the daemon notices, pauses its intake and stays up */
	ck_assert_d(stack_wait_log(&d, "intake paused\" reason=database", 15000) == 0, &d);
	paused_at = h_now_ms() - t0;
	while (h_now_ms() - t0 < 20000) {
		ck_assert_d(alive(&d), &d);
		usleep(250 * 1000);
	}
	ck_assert_d(alive(&d), &d);
	/* reconnecting (every second at most) must not hold the loop: its timer keeps firing */
	ck_assert_d(stack_loop_lag(port, &lag1) == 0, &d);
	ck_assert_int_eq(h_pg_start_again(&stack_pg), 0);
	down_ms = h_now_ms() - t0;
	s.db = PQconnectdb(s.conninfo);
	ck_assert_int_eq(PQstatus(s.db), CONNECTION_OK);
	after_restart = rows_of(&s, "pg-");
	ck_assert_d(wait_rows(&s, "pg-", PGD_TICKETS, 180000) == PGD_TICKETS, &d);
	ck_assert_d(stack_wait_committed(&s, PGD_TICKETS, 30000) == 0, &d);
	committed = stack_committed(&s);
	ck_assert_d(stack_log_count(&d, "intake resumed", NULL) > 0, &d);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);

	db_figures(&s, "pg-", PGD_TICKETS, &f);
	ck_assert_int_eq(model_per_ticket(&s, 0, "pg-", &pt), 0);
	fprintf(
	    stderr,
	    "faults pg_down_20s: tickets_in=%d rows=%lld lost=%lld duplicated=%lld "
	    "model_calls=%lld repeated_calls=%lld retries=%lld down_ms=%lld paused_after_ms=%lld "
	    "rows_before_stop=%lld rows_after_restart=%lld model_requests=%lld committed=%lld "
	    "loop_ticks_while_down=%lld loop_lag_p99<=%ss loop_lag_max<=%ss\n",
	    PGD_TICKETS, f.rows, f.lost, f.duplicated, f.model_calls, pt.beyond1, f.retries,
	    down_ms, paused_at, before, after_restart, pt.requests, committed,
	    lag1.count - lag0.count, stack_lag_quantile(&lag0, &lag1, 0.99),
	    stack_lag_max(&lag0, &lag1));
	/* Liveness, not timing (the lag itself is only printed: on a shared 2-core machine the
	 * scheduler alone makes stalls of seconds): the 100 ms timer fired during the outage. */
	ck_assert_int_gt(lag1.count - lag0.count, 0);
	ck_assert_int_lt(before, PGD_TICKETS); /* stopped mid-run */
	ck_assert_int_eq(f.tickets, PGD_TICKETS);
	ck_assert_int_eq(f.rows, PGD_TICKETS);
	ck_assert_int_eq(f.lost, 0);
	ck_assert_int_eq(f.duplicated, 0);
	ck_assert_int_eq(f.model_calls, PGD_TICKETS);
	ck_assert_int_eq(f.repeated_completed, 0);
	/* the model saw each ticket once: nothing was asked again after the outage */
	ck_assert_int_eq(pt.tickets, PGD_TICKETS);
	ck_assert_int_eq(pt.requests, PGD_TICKETS);
	ck_assert_int_eq(pt.beyond1, 0);
	ck_assert_int_eq(committed, PGD_TICKETS);
	stack_stop(&s);
}
END_TEST

/* ---- 3. kafka_faults -------------------------------------------------------- */

#define KF_TICKETS 3000
#define KF_PARTS 6
#define KF_BROKERS 3
#define KF_DOWN_S 5
#define KF_MAX_IN_FLIGHT 200
#define KF_PROGRESS (KF_MAX_IN_FLIGHT + 50)

/* A value from the daemon's last "final stats" line (-1 if absent). */
static long long final_stat(const struct h_proc *d, const char *key)
{
	FILE *f = fopen(d->log_path, "r");
	char line[8192], k[64];
	long long v = -1;
	if (f == NULL)
		return -1;
	snprintf(k, sizeof(k), " %s=", key);
	while (fgets(line, sizeof(line), f)) {
		const char *p;
		if (strstr(line, "msg=\"final stats\"") && (p = strstr(line, k)) != NULL)
			v = atoll(p + strlen(k));
	}
	fclose(f);
	return v;
}

/* One fault: control lines to send, how long it lasts, the lines that end it. */
struct kf_step {
	const char *name;
	char on[2][96];
	int hold_s;
	char off[2][96];
};

/*
 * A three-broker cluster (replication 3) under the daemon, failing in turn:
 * the leader of partition 0 refuses connections for 5 s; the whole cluster
 * for 8 s (longer than session.timeout.ms: the group coordinator is gone, the
 * assignment is lost and comes back); the coordinator fences the member
 * (UNKNOWN_MEMBER_ID on a heartbeat: assignment lost, rejoin); a partition
 * has no leader for 3 s; leaders move; then Fetch, OffsetCommit, Produce and
 * Heartbeat requests fail with retriable errors. After each fault the
 * daemon must make progress again: KF_PROGRESS more rows within 60 s, more
 * than intake.max_in_flight, so tickets already in memory cannot fake it.
 */
START_TEST(test_kafka_faults)
{
	struct stack s;
	struct h_proc d;
	static const char *const margs[] = {"--latency-ms", "20", NULL};
	int leaders[KF_PARTS], nmoved = 0;
	long long before, committed, end;
	char stalls[256] = "";
	struct figs f;
	struct per_ticket pt;
	struct kf_step steps[4];
	/* retriable errors, each on the next few requests of that kind, on any broker */
	static const char *const errors[] = {
	    "request_errors Fetch NOT_LEADER_FOR_PARTITION 3",
	    "request_errors Fetch REQUEST_TIMED_OUT 2",
	    "request_errors Fetch _TRANSPORT 2",
	    "request_errors OffsetCommit REQUEST_TIMED_OUT 2",
	    "request_errors OffsetCommit COORDINATOR_NOT_AVAILABLE 2",
	    "request_errors OffsetCommit NOT_COORDINATOR 2",
	    "request_errors Produce NOT_LEADER_FOR_PARTITION 3",
	    "request_errors Produce REQUEST_TIMED_OUT 2",
	    "request_errors Heartbeat COORDINATOR_NOT_AVAILABLE 1",
	};

	ck_assert_int_eq(stack_start(&s, &stack_pg, "kfaults", KF_PARTS, margs), 0);
	ck_assert_int_eq(stack_broker_cluster(&s, KF_BROKERS), 0);
	/* about 100 tickets/s: the run outlasts the faults; intake often paused by backpressure */
	stack_env(&s, "TRIAGED_MINI_MAX_CONCURRENCY", "2");
	{
		char v[16];
		snprintf(v, sizeof(v), "%d", KF_MAX_IN_FLIGHT);
		stack_env(&s, "TRIAGED_INTAKE_MAX_IN_FLIGHT", v);
	}
	stack_env(&s, "TRIAGED_INTAKE_LOW_WATER", "100");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d(stack_wait_log(&d, "partitions assigned", 60000) == 0, &d);
	ck_assert_int_eq(stack_produce_samples(&s, KF_TICKETS, "kf-"), 0);
	before = wait_rows(&s, "kf-", 300, 60000);
	ck_assert_d(before >= 300, &d);
	ck_assert_int_eq(stack_partition_leaders(&s, leaders, KF_PARTS), 0);

	memset(steps, 0, sizeof(steps));
	steps[0].name = "leader_down";
	snprintf(steps[0].on[0], sizeof(steps[0].on[0]), "broker_down %d", leaders[0]);
	steps[0].hold_s = KF_DOWN_S;
	snprintf(steps[0].off[0], sizeof(steps[0].off[0]), "broker_up %d", leaders[0]);
	steps[1].name = "cluster_down";
	snprintf(steps[1].on[0], sizeof(steps[1].on[0]), "broker_down -1");
	steps[1].hold_s = 8;
	snprintf(steps[1].off[0], sizeof(steps[1].off[0]), "broker_up -1");
	steps[2].name = "member_fenced";
	snprintf(steps[2].on[0], sizeof(steps[2].on[0]),
		 "request_errors Heartbeat UNKNOWN_MEMBER_ID 1");
	steps[3].name = "leaderless";
	snprintf(steps[3].on[0], sizeof(steps[3].on[0]), "leader tickets.incoming 1 -1");
	steps[3].hold_s = 3;
	snprintf(steps[3].off[0], sizeof(steps[3].off[0]), "leader tickets.incoming 1 %d",
		 leaders[1]);

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		long long t, r = rows_of(&s, "kf-"), got;
		ck_assert_msg(r < KF_TICKETS, "fault %s came after the run", steps[i].name);
		for (int c = 0; c < 2 && steps[i].on[c][0]; c++)
			ck_assert_int_eq(stack_broker_control(&s, "%s", steps[i].on[c]), 0);
		sleep((unsigned)steps[i].hold_s);
		for (int c = 0; c < 2 && steps[i].off[c][0]; c++)
			ck_assert_int_eq(stack_broker_control(&s, "%s", steps[i].off[c]), 0);
		t = h_now_ms();
		r = rows_of(&s, "kf-");
		got = wait_rows(&s, "kf-", r + KF_PROGRESS, 60000);
		if (got < r + KF_PROGRESS)
			h_dump_log(&d, 40);
		ck_assert_msg(got >= r + KF_PROGRESS,
			      "no progress within 60 s after fault %s (rows %lld -> %lld): the "
			      "consumer is wedged",
			      steps[i].name, r, got);
		snprintf(stalls + strlen(stalls), sizeof(stalls) - strlen(stalls), "%s%s:%lld",
			 i ? "," : "", steps[i].name, h_now_ms() - t);
		ck_assert_d(alive(&d), &d);
	}
	/* leaders move: every other partition to the next broker */
	for (int p = 0; p < KF_PARTS; p += 2) {
		ck_assert_int_eq(stack_broker_control(&s, "leader tickets.incoming %d %d", p,
						      leaders[p] % KF_BROKERS + 1),
				 0);
		nmoved++;
	}
	/* retriable request errors */
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		ck_assert_int_eq(stack_broker_control(&s, "%s", errors[i]), 0);
	ck_assert_d(rows_of(&s, "kf-") < KF_TICKETS, &d);

	ck_assert_d(wait_rows(&s, "kf-", KF_TICKETS, 240000) == KF_TICKETS, &d);
	ck_assert_d(stack_wait_committed(&s, KF_TICKETS, 60000) == 0, &d);
	committed = stack_committed(&s);
	end = stack_end_offsets(&s);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);

	db_figures(&s, "kf-", KF_TICKETS, &f);
	ck_assert_int_eq(model_per_ticket(&s, 0, "kf-", &pt), 0);
	fprintf(stderr,
		"faults kafka_faults: tickets_in=%d rows=%lld lost=%lld duplicated=%lld "
		"model_calls=%lld repeated_calls=%lld retries=%lld brokers=%d "
		"recovery_ms=%s partitions_lost=%d leaders_moved=%d request_errors=%zu "
		"redelivered_done=%lld events=%lld model_requests=%lld committed=%lld end=%lld\n",
		KF_TICKETS, f.rows, f.lost, f.duplicated, f.model_calls, pt.beyond1, f.retries,
		KF_BROKERS, stalls, stack_log_count(&d, "partitions lost", NULL), nmoved,
		sizeof(errors) / sizeof(errors[0]), final_stat(&d, "redelivered_done"),
		final_stat(&d, "events"), pt.requests, committed, end);
	ck_assert_int_eq(f.tickets, KF_TICKETS);
	ck_assert_int_eq(f.rows, KF_TICKETS);
	ck_assert_int_eq(f.lost, 0);
	ck_assert_int_eq(f.duplicated, 0);
	ck_assert_int_eq(f.repeated_completed, 0);
	ck_assert_int_eq(end, KF_TICKETS);
	ck_assert_int_eq(committed, end);
	/* the assignment was lost and came back (the cluster outage outlasted the session) */
	ck_assert_int_ge(stack_log_count(&d, "partitions lost", NULL), 1);
	/* one daemon, no crash: Kafka trouble never makes it ask the model twice */
	ck_assert_int_eq(pt.tickets, KF_TICKETS);
	ck_assert_int_eq(pt.beyond1, 0);
	stack_stop(&s);
}
END_TEST

/* ---- 4. two_daemons ---------------------------------------------------------- */

#define TD_TICKETS 4000

/* Two daemons share the group; one is SIGKILLed; the other takes its partitions over. */
START_TEST(test_two_daemons)
{
	struct stack s;
	struct h_proc d1, d2;
	char reqlog_path[PATH_MAX];
	const char *margs[] = {"--latency-ms", "30", "--request-log", reqlog_path, NULL};
	long long at_kill, t_kill, takeover_ms, committed, end, repeats, deadline;
	int t1 = 0, t2 = 0;
	struct figs f;
	struct per_ticket pt;
	struct reqlog rl;

	snprintf(reqlog_path, sizeof(reqlog_path), "%s/two.requests", h_tmpdir());
	unlink(reqlog_path);
	ck_assert_int_eq(stack_start(&s, &stack_pg, "two", 8, margs), 0);
	/* about 250 tickets/s per daemon: the kill lands mid-run */
	stack_env(&s, "TRIAGED_MINI_MAX_CONCURRENCY", "8");
	stack_env(&s, "TRIAGED_INTAKE_MAX_IN_FLIGHT", "200");
	stack_env(&s, "TRIAGED_INTAKE_LOW_WATER", "100");
	ck_assert_int_eq(stack_daemon(&s, &d1, "daemon1"), 0);
	ck_assert_int_eq(stack_daemon(&s, &d2, "daemon2"), 0);
	/* both in the group, the 8 partitions split between them */
	deadline = h_now_ms() + 60000;
	while (h_now_ms() < deadline) {
		t1 = assigned_total(&d1);
		t2 = assigned_total(&d2);
		if (t1 > 0 && t2 > 0 && t1 + t2 == 8)
			break;
		usleep(200 * 1000);
	}
	ck_assert_d(t1 > 0 && t2 > 0 && t1 + t2 == 8, &d1);
	ck_assert_int_eq(stack_produce_samples(&s, TD_TICKETS, "td-"), 0);
	ck_assert_d(wait_rows(&s, "td-", 500, 60000) >= 500, &d1);
	/* both were working */
	ck_assert_d(stack_log_count(&d2, "partitions assigned", NULL) > 0, &d2);
	at_kill = rows_of(&s, "td-");
	t_kill = h_now_ms();
	ck_assert_int_eq(h_signal(&d2, SIGKILL), 0);
	ck_assert_int_eq(h_wait_exit(&d2, 10000, NULL), 0);
	/* the survivor gets all 8 partitions once the dead member's session expires */
	deadline = h_now_ms() + 60000;
	while (h_now_ms() < deadline && assigned_total(&d1) != 8)
		usleep(100 * 1000);
	takeover_ms = h_now_ms() - t_kill;
	ck_assert_d(assigned_total(&d1) == 8, &d1);
	ck_assert_d(wait_rows(&s, "td-", TD_TICKETS, 240000) == TD_TICKETS, &d1);
	ck_assert_d(stack_wait_committed(&s, TD_TICKETS, 30000) == 0, &d1);
	committed = stack_committed(&s);
	end = stack_end_offsets(&s);
	ck_assert_int_eq(stack_stop_daemon(&d1, 30000), 0);

	db_figures(&s, "td-", TD_TICKETS, &f);
	ck_assert_int_eq(model_per_ticket(&s, 0, "td-", &pt), 0);
	reqlog_load(reqlog_path, "td-", &rl);
	repeats = repeats_after_completion(&s, &rl, "td-");
	fprintf(stderr,
		"faults two_daemons: tickets_in=%d rows=%lld lost=%lld duplicated=%lld "
		"model_calls=%lld repeated_calls=%lld retries=%lld split=%d+%d rows_at_kill=%lld "
		"takeover_ms=%lld model_requests=%lld resent_in_flight=%lld "
		"max_requests_per_ticket=%lld "
		"committed=%lld end=%lld\n",
		TD_TICKETS, f.rows, f.lost, f.duplicated, f.model_calls, repeats, f.retries, t1, t2,
		at_kill, takeover_ms, pt.requests, pt.beyond1 - repeats, pt.max, committed, end);
	ck_assert_int_lt(at_kill, TD_TICKETS);
	ck_assert_int_eq(f.tickets, TD_TICKETS);
	ck_assert_int_eq(f.rows, TD_TICKETS);
	ck_assert_int_eq(f.lost, 0);
	ck_assert_int_eq(f.duplicated, 0);
	ck_assert_int_eq(end, TD_TICKETS);
	ck_assert_int_eq(committed, end);
	ck_assert_int_eq(pt.tickets, TD_TICKETS);
	ck_assert_int_eq(f.repeated_completed, 0);
	/* a completed, persisted call is never made again; only the killed daemon's calls
	 * whose answers were not committed are: in flight (at most its concurrency, 8) or
	 * answered and waiting for their row's group commit, which on a loaded machine
	 * takes long enough for dozens (40 seen at load average 13). Each of them at most
	 * once, and never more than the killed daemon had claimed (its max_in_flight). */
	ck_assert_int_eq(repeats, 0);
	ck_assert_int_le(pt.max, 2);
	ck_assert_int_le(pt.beyond1, 200);
	free(rl.v);
	stack_stop(&s);
}
END_TEST

/* ---- two daemons, one joining while the first has tickets in flight ------------ */

/* daemon1 alone with all nparts partitions, then n tickets <prefix>N produced, and
 * at least want of them at the model. */
static void first_daemon_busy(struct stack *s, struct h_proc *d1, int nparts, int n,
			      const char *prefix, long long want)
{
	struct per_ticket pt;
	long long deadline = h_now_ms() + 60000;
	ck_assert_int_eq(stack_daemon(s, d1, "daemon1"), 0);
	while (h_now_ms() < deadline && assigned_total(d1) != nparts)
		usleep(100 * 1000);
	ck_assert_d(assigned_total(d1) == nparts, d1);
	ck_assert_int_eq(stack_produce_samples(s, n, prefix), 0);
	deadline = h_now_ms() + 30000;
	while (h_now_ms() < deadline &&
	       (model_per_ticket(s, 0, prefix, &pt) != 0 || pt.tickets < want))
		usleep(50 * 1000);
	ck_assert_msg(pt.tickets >= want, "%lld of %lld tickets at the model (%lld requests)",
		      pt.tickets, want, pt.total);
}

/* daemon2 joins: wait until the partitions are split between the two. */
static void second_daemon_joins(struct stack *s, struct h_proc *d1, struct h_proc *d2,
				int nparts)
{
	long long deadline = h_now_ms() + 60000;
	ck_assert_int_eq(stack_daemon(s, d2, "daemon2"), 0);
	while (h_now_ms() < deadline &&
	       (assigned_total(d1) + assigned_total(d2) != nparts || assigned_total(d2) == 0))
		usleep(100 * 1000);
	ck_assert_d(assigned_total(d2) > 0, d2);
}

/* ---- 4b. rebalance_in_flight --------------------------------------------------- */

#define RB_TICKETS 600

/*
 * A second daemon joins while the first has every ticket in flight (the
 * model takes 30 s): the eager rebalance moves half the partitions, and the
 * newcomer fetches their tickets again from the committed offsets. Before,
 * its claims found them 'pending' and both daemons called the model (found by
 * a review). Now the claims find them held by a daemon that is alive
 * (migration 064): the newcomer waits, then finds them done. No ticket
 * reaches the model twice, none is lost or stored twice.
 */
START_TEST(test_rebalance_in_flight)
{
	struct stack s;
	struct h_proc d1, d2;
	/* long enough for the rebalance (about 5 s on the mock coordinator, more under
	 * load) to land while daemon1's calls run */
	const char *margs[] = {"--latency-ms", "30000", NULL};
	long long elsewhere, holders;
	int t1, t2;
	struct figs f;
	struct per_ticket pt;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "rebal", 8, margs), 0);
	stack_env(&s, "TRIAGED_TRIAGE_RULES_FILE", "");
	/* a holder is alive while it renews (every 10 s): a lease far longer than a
	 * heartbeat queued behind 600 stores on a loaded machine may take */
	stack_env(&s, "TRIAGED_BUDGET_LEASE_S", "30");
	stack_env(&s, "TRIAGED_MINI_PACING", "false"); /* all sent at once, not after 30 s */
	stack_env(&s, "TRIAGED_MINI_TIMEOUT_MS", "60000");
	/* most of them in flight at daemon1 */
	first_daemon_busy(&s, &d1, 8, RB_TICKETS, "rb-", RB_TICKETS / 2);
	second_daemon_joins(&s, &d1, &d2, 8);
	t1 = assigned_total(&d1);
	t2 = assigned_total(&d2);
	ck_assert_d(wait_rows(&s, "rb-", RB_TICKETS, 120000) == RB_TICKETS, &d2);
	ck_assert_d(stack_wait_committed(&s, RB_TICKETS, 30000) == 0, &d2);
	ck_assert_int_eq(stack_stop_daemon(&d2, 30000), 0);
	ck_assert_int_eq(stack_stop_daemon(&d1, 30000), 0);

	db_figures(&s, "rb-", RB_TICKETS, &f);
	ck_assert_int_eq(model_per_ticket(&s, 0, "rb-", &pt), 0);
	elsewhere = log_last_num(&d2, " elsewhere=");
	holders = sqlv(&s,
		       "SELECT count(DISTINCT r.claimed_by) FROM ticket_revisions r JOIN "
		       "tickets t ON t.id = r.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
		       "rb-");
	fprintf(stderr,
		"faults rebalance_in_flight: tickets_in=%d rows=%lld lost=%lld duplicated=%lld "
		"model_tickets=%lld model_requests=%lld max_requests_per_ticket=%lld "
		"split=%d+%d claimed_elsewhere_at_daemon2=%lld claim_holders=%lld\n",
		RB_TICKETS, f.rows, f.lost, f.duplicated, pt.tickets, pt.requests, pt.max,
		t1, t2, elsewhere, holders);
	ck_assert_int_eq(f.rows, RB_TICKETS);
	ck_assert_int_eq(f.lost, 0);
	ck_assert_int_eq(f.duplicated, 0);
	ck_assert_int_eq(f.repeated_completed, 0);
	ck_assert_int_eq(pt.tickets, RB_TICKETS);
	/* the point: no ticket reached the model twice */
	ck_assert_int_eq(pt.max, 1);
	ck_assert_int_eq(pt.requests, RB_TICKETS);
	/* daemon2 met tickets held by daemon1, and took none over */
	ck_assert_int_gt(elsewhere, 0);
	/* both said at their clean exit that they stopped (a heartbeat of lease 0) */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM triaged_daemons WHERE lease_s > 0"), 0);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM triaged_daemons"), 2);
	stack_stop(&s);
}
END_TEST

/* ---- 4c. claim_held_long ------------------------------------------------------ */

#define HL_TICKETS 40

/*
 * A claim older than ten minutes is taken over by the next daemon that meets
 * its ticket, even when its holder is alive: the holder may have lost it. A
 * holder that still works on the ticket (waiting for a budget, a quota, or
 * on_failure = wait) now refreshes the claim with its heartbeat, once the job
 * is a lease old. Here the model takes 60 s, the claims are aged to eleven
 * minutes in the database, and a second daemon joins: it waits for daemon1
 * instead of paying again. Before (found by a review), it took the moved
 * tickets over and the model saw them twice.
 */
START_TEST(test_claim_held_long)
{
	struct stack s;
	struct h_proc d1, d2;
	/* daemon2 must claim before daemon1 stores (60 s after sending): it starts
	 * about 20 s after, and its group join takes 3-10 s */
	const char *margs[] = {"--latency-ms", "60000", NULL};
	long long elsewhere, fresh;
	struct per_ticket pt;
	struct figs f;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "heldlong", 8, margs), 0);
	stack_env(&s, "TRIAGED_TRIAGE_RULES_FILE", "");
	stack_env(&s, "TRIAGED_MINI_TIMEOUT_MS", "90000");
	/* pacing sends one request until an answer tells the window: 60 s */
	stack_env(&s, "TRIAGED_MINI_PACING", "false");
	first_daemon_busy(&s, &d1, 8, HL_TICKETS, "hl-", HL_TICKETS);
	/* the jobs over a lease old (the suite's lease is 6 s), then the claims aged */
	usleep(13 * 1000 * 1000);
	ck_assert_int_eq(sqlv(&s,
			      "WITH u AS (UPDATE ticket_revisions r SET claimed_at = now() - "
			      "interval '11 minutes', received_at = now() - interval '11 minutes' "
			      "FROM tickets t WHERE t.id = r.ticket_pk AND t.ticket_id LIKE "
			      "'%s%%' RETURNING 1) SELECT count(*) FROM u",
			      "hl-"),
			 HL_TICKETS);
	/* daemon1's heartbeats (every 2 s) refresh them; looked at, not waited for */
	usleep(5 * 1000 * 1000);
	fresh = sqlv(&s,
		     "SELECT count(*) FROM ticket_revisions r JOIN tickets t ON t.id = r.ticket_pk "
		     "WHERE t.ticket_id LIKE '%s%%' AND r.claimed_at > now() - interval '1 minute'",
		     "hl-");
	second_daemon_joins(&s, &d1, &d2, 8);
	ck_assert_d(wait_rows(&s, "hl-", HL_TICKETS, 120000) == HL_TICKETS, &d2);
	ck_assert_d(stack_wait_committed(&s, HL_TICKETS, 30000) == 0, &d2);
	ck_assert_int_eq(stack_stop_daemon(&d2, 30000), 0);
	ck_assert_int_eq(stack_stop_daemon(&d1, 30000), 0);

	db_figures(&s, "hl-", HL_TICKETS, &f);
	ck_assert_int_eq(model_per_ticket(&s, 0, "hl-", &pt), 0);
	elsewhere = log_last_num(&d2, " elsewhere=");
	fprintf(stderr,
		"faults claim_held_long: tickets_in=%d rows=%lld lost=%lld duplicated=%lld "
		"claims_refreshed=%lld model_requests=%lld max_requests_per_ticket=%lld "
		"claimed_elsewhere_at_daemon2=%lld\n",
		HL_TICKETS, f.rows, f.lost, f.duplicated, fresh, pt.requests, pt.max, elsewhere);
	ck_assert_int_eq(f.rows, HL_TICKETS);
	ck_assert_int_eq(f.lost, 0);
	ck_assert_int_eq(f.duplicated, 0);
	ck_assert_int_eq(fresh, HL_TICKETS);
	/* the point: daemon2 waited for the live holder, no ticket was paid twice */
	ck_assert_int_gt(elsewhere, 0);
	ck_assert_int_eq(pt.max, 1);
	ck_assert_int_eq(pt.requests, HL_TICKETS);
	stack_stop(&s);
}
END_TEST

/* ---- 5. model_storm ---------------------------------------------------------- */

#define MS_A 200 /* 429 storm */
#define MS_B 200 /* 5xx and timeouts */
#define MS_C 200 /* malformed and truncated */
#define MS_D 3	 /* answers over the size cap */
#define MS_E_SLOW 3
#define MS_E_FAST 50
#define MS_MAX_ATTEMPTS 8

static void control(struct stack *s, const char *json)
{
	ck_assert_msg(stack_model_control(s, json) == 0, "fake model refused %s", json);
}

/* Wait until every ticket <prefix>1..n reached the model at least once. */
static int wait_model_saw(struct stack *s, const char *prefix, int n, int timeout_ms)
{
	long long end = h_now_ms() + timeout_ms;
	struct per_ticket pt;
	while (h_now_ms() < end) {
		if (model_per_ticket(s, 0, prefix, &pt) == 0 && pt.tickets >= n)
			return 0;
		usleep(20 * 1000);
	}
	return -1;
}

/*
 * The model misbehaves in five ways, one after the other, against one
 * daemon (mini.max_attempts 8, timeout 1.5 s, responses capped at 1 KiB):
 * (a) a 429 storm with Retry-After 2, (b) 5xx and timeouts, (c) malformed
 * and truncated JSON, (d) answers over the cap, (e) a body that trickles.
 */
START_TEST(test_model_storm)
{
	struct stack s;
	struct h_proc d;
	char reqlog_path[PATH_MAX];
	const char *margs[] = {"--request-log", reqlog_path, "--seed", "11", NULL};
	struct figs fa, fb, fc, fd, fe;
	struct per_ticket pa, pb, pc, pd, pe, pe_all, before;
	struct reqlog rl;
	long long t0, storm_ms, min_gap = -1, n429 = 0, max_attempts = 0, gaps = 0, short_gaps = 0;
	long long fast_done_ms, slow_rows_when_fast_done, slow_min_retry_gap = -1;

	snprintf(reqlog_path, sizeof(reqlog_path), "%s/storm.requests", h_tmpdir());
	unlink(reqlog_path);
	ck_assert_int_eq(stack_start(&s, &stack_pg, "storm", 4, margs), 0);
	{
		char v[16];
		snprintf(v, sizeof(v), "%d", MS_MAX_ATTEMPTS);
		stack_env(&s, "TRIAGED_MINI_MAX_ATTEMPTS", v);
	}
	stack_env(&s, "TRIAGED_MINI_TIMEOUT_MS", "1500");
	stack_env(&s, "TRIAGED_MINI_CONNECT_TIMEOUT_MS", "1000");
	stack_env(&s, "TRIAGED_MINI_BACKOFF_MAX_MS", "1000");
	/* the fake model's answers to the sample tickets are at most ~770 bytes */
	stack_env(&s, "TRIAGED_MINI_MAX_RESPONSE_BYTES", "1024");
	/* the retries are under test here; the breaker has its own scenario */
	stack_env(&s, "TRIAGED_MINI_BREAKER_FAILURES", "100000");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d(stack_wait_log(&d, "partitions assigned", 60000) == 0, &d);

	/* (a) every request gets 429 + Retry-After: 2 for about 5 s, then the model recovers */
	control(&s, "{\"rate_429\": 1, \"retry_after\": 2}");
	t0 = h_now_ms();
	ck_assert_int_eq(stack_produce_samples(&s, MS_A, "sa-"), 0);
	while (h_now_ms() - t0 < 5000)
		usleep(50 * 1000);
	control(&s, "{\"rate_429\": 0}");
	storm_ms = h_now_ms() - t0;
	ck_assert_d(wait_rows(&s, "sa-", MS_A, 120000) == MS_A, &d);
	db_figures(&s, "sa-", MS_A, &fa);
	ck_assert_int_eq(model_per_ticket(&s, 0, "sa-", &pa), 0);
	reqlog_load(reqlog_path, "sa-", &rl);
	for (size_t i = 0, first = 0; i < rl.n; i++) {
		if (i == 0 || strcmp(rl.v[i].ticket, rl.v[first].ticket) != 0)
			first = i;
		if ((long long)(i - first + 1) > max_attempts)
			max_attempts = (long long)(i - first + 1);
		if (rl.v[i].status != 429)
			continue;
		n429++;
		if (i + 1 < rl.n && strcmp(rl.v[i + 1].ticket, rl.v[i].ticket) == 0) {
			long long gap = rl.v[i + 1].ts - rl.v[i].ts;
			gaps++;
			if (min_gap < 0 || gap < min_gap)
				min_gap = gap;
			if (gap < 2000 - 50)
				short_gaps++;
		}
	}
	free(rl.v);
	fprintf(
	    stderr,
	    "faults model_storm/429: tickets_in=%d rows=%lld lost=%lld duplicated=%lld "
	    "model_calls=%lld repeated_calls=%lld retries=%lld storm_ms=%lld responses_429=%lld "
	    "min_gap_after_429_ms=%lld gaps_under_retry_after=%lld max_attempts_per_ticket=%lld "
	    "retries_429_recorded=%lld pending_review=%lld\n",
	    MS_A, fa.rows, fa.lost, fa.duplicated, fa.model_calls, pa.requests - fa.attempts,
	    fa.retries, storm_ms, n429, min_gap, short_gaps, max_attempts,
	    sqlv(&s,
		 "SELECT coalesce(sum(mc.retries_429), 0) FROM model_calls mc JOIN tickets t ON "
		 "t.id = mc.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
		 "sa-"),
	    fa.pending_review);
	/*
	 * Each 429 holds the tier for its Retry-After (a796205 and later), and the
	 * window is unknown until an answer says so, so one request goes at a time:
	 * the model sees about one request per Retry-After during the storm, not one
	 * per ticket (it saw 200 and more before: each ticket met the limit).
	 */
	ck_assert_int_ge(n429, 1);
	ck_assert_int_le(n429, storm_ms / 2000 + 2);
	ck_assert_int_gt(gaps, 0);
	ck_assert_int_eq(short_gaps, 0); /* Retry-After honoured, every time */
	ck_assert_int_ge(min_gap, 2000 - 50);
	ck_assert_int_le(max_attempts, MS_MAX_ATTEMPTS);
	ck_assert_int_eq(fa.rows, MS_A);
	ck_assert_int_eq(fa.lost, 0);
	ck_assert_int_eq(fa.duplicated, 0);
	ck_assert_int_eq(fa.pending_review, MS_A);
	ck_assert_int_eq(fa.repeated_completed, 0);
	/* every request the model saw is an attempt of a recorded call: none made twice */
	ck_assert_int_eq(pa.requests, fa.attempts);
	/* each 429 is on the ticket's call row */
	ck_assert_int_eq(sqlv(&s,
			      "SELECT coalesce(sum(mc.retries_429), 0) FROM model_calls mc JOIN "
			      "tickets t ON t.id = mc.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
			      "sa-"),
			 n429);

	/* (b) 30% 500s and 5% requests that never answer (the daemon gives up after 1.5 s) */
	ck_assert_int_eq(model_per_ticket(&s, 0, "sb-", &before), 0);
	control(&s, "{\"rate_500\": 0.3, \"rate_timeout\": 0.05}");
	ck_assert_int_eq(stack_produce_samples(&s, MS_B, "sb-"), 0);
	ck_assert_d(wait_rows(&s, "sb-", MS_B, 180000) == MS_B, &d);
	control(&s, "{\"rate_500\": 0, \"rate_timeout\": 0}");
	ck_assert_int_eq(model_per_ticket(&s, 0, "sb-", &pb), 0);
	db_figures(&s, "sb-", MS_B, &fb);
	fprintf(
	    stderr,
	    "faults model_storm/5xx: tickets_in=%d rows=%lld lost=%lld duplicated=%lld "
	    "model_calls=%lld repeated_calls=%lld retries=%lld model_requests=%lld timeouts=%lld "
	    "pending_review=%lld needs_human=%lld\n",
	    MS_B, fb.rows, fb.lost, fb.duplicated, fb.model_calls, pb.requests - fb.attempts,
	    fb.retries, pb.requests, pb.timeouts - before.timeouts, fb.pending_review,
	    fb.needs_human);
	ck_assert_int_eq(fb.rows, MS_B);
	ck_assert_int_eq(fb.lost, 0);
	ck_assert_int_eq(fb.duplicated, 0);
	ck_assert_int_eq(fb.pending_review + fb.needs_human, MS_B);
	ck_assert_int_eq(sqlv(&s,
			      "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = "
			      "tr.ticket_pk WHERE t.ticket_id LIKE '%s%%' AND tr.status = "
			      "'needs_human' AND coalesce(tr.status_reason, '') = ''",
			      "sb-"),
			 0);
	ck_assert_int_gt(fb.retries, 0);
	ck_assert_int_gt(pb.timeouts - before.timeouts, 0);
	/* every HTTP attempt the model saw is on a call row */
	ck_assert_int_eq(sqlv(&s,
			      "SELECT coalesce(sum(mc.attempts), 0) FROM model_calls mc JOIN "
			      "tickets t ON t.id = mc.ticket_pk WHERE t.ticket_id LIKE '%s%%'",
			      "sb-"),
			 pb.requests);
	ck_assert_int_eq(fb.repeated_completed, 0);

	/* (c) 30% malformed content, 30% bodies cut mid-JSON: one repair each, then needs_human */
	ck_assert_int_eq(model_per_ticket(&s, 0, "sc-", &before), 0);
	control(&s, "{\"rate_malformed\": 0.3, \"rate_truncated\": 0.3}");
	ck_assert_int_eq(stack_produce_samples(&s, MS_C, "sc-"), 0);
	ck_assert_d(wait_rows(&s, "sc-", MS_C, 120000) == MS_C, &d);
	control(&s, "{\"rate_malformed\": 0, \"rate_truncated\": 0}");
	ck_assert_int_eq(model_per_ticket(&s, 0, "sc-", &pc), 0);
	db_figures(&s, "sc-", MS_C, &fc);
	{
		long long repairs =
		    sqlv(&s,
			 "SELECT count(*) FROM model_calls mc JOIN tickets t ON t.id "
			 "= mc.ticket_pk WHERE t.ticket_id LIKE '%s%%' AND "
			 "mc.purpose = 'repair'",
			 "sc-");
		long long invalid_first = sqlv(&s,
					       "SELECT count(*) FROM model_calls mc JOIN tickets t "
					       "ON t.id = mc.ticket_pk WHERE t.ticket_id LIKE "
					       "'%s%%' AND mc.purpose = 'triage' AND mc.outcome = "
					       "'invalid_answer'",
					       "sc-");
		fprintf(stderr,
			"faults model_storm/malformed: tickets_in=%d rows=%lld lost=%lld "
			"duplicated=%lld model_calls=%lld repeated_calls=%lld retries=%lld "
			"invalid_first_answers=%lld repairs=%lld model_repairs_seen=%lld "
			"pending_review=%lld needs_human=%lld\n",
			MS_C, fc.rows, fc.lost, fc.duplicated, fc.model_calls,
			pc.requests - fc.attempts, fc.retries, invalid_first, repairs,
			pc.repairs - before.repairs, fc.pending_review, fc.needs_human);
		ck_assert_int_gt(repairs, 0);
		/* exactly one repair per invalid first answer, and each reached the model */
		ck_assert_int_eq(repairs, invalid_first);
		ck_assert_int_eq(repairs, pc.repairs - before.repairs);
		ck_assert_int_eq(fc.model_calls, pc.requests);
		ck_assert_int_eq(fc.attempts, pc.requests);
	}
	ck_assert_int_eq(fc.rows, MS_C);
	ck_assert_int_eq(fc.lost, 0);
	ck_assert_int_eq(fc.duplicated, 0);
	ck_assert_int_eq(fc.pending_review + fc.needs_human, MS_C);
	ck_assert_int_gt(fc.needs_human, 0);
	ck_assert_int_eq(sqlv(&s,
			      "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = "
			      "tr.ticket_pk WHERE t.ticket_id LIKE '%s%%' AND tr.status = "
			      "'needs_human' AND tr.status_reason NOT LIKE 'invalid answer after "
			      "repair:%%'",
			      "sc-"),
			 0);

	/* (d) answers padded over the 1 KiB cap: an ordinary per-ticket failure */
	control(&s, "{\"pad_bytes\": 4096}");
	ck_assert_int_eq(stack_produce_samples(&s, MS_D, "sd-"), 0);
	ck_assert_d(wait_rows(&s, "sd-", MS_D, 120000) == MS_D, &d);
	control(&s, "{\"pad_bytes\": 0}");
	db_figures(&s, "sd-", MS_D, &fd);
	ck_assert_int_eq(model_per_ticket(&s, 0, "sd-", &pd), 0);
	{
		char *reason =
		    h_sql_str(s.db, "SELECT min(tr.status_reason) FROM triage_results tr JOIN "
				    "tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id "
				    "LIKE 'sd-%%'");
		fprintf(stderr,
			"faults model_storm/oversize: tickets_in=%d rows=%lld lost=%lld "
			"duplicated=%lld model_calls=%lld repeated_calls=%lld retries=%lld "
			"needs_human=%lld reason=\"%s\"\n",
			MS_D, fd.rows, fd.lost, fd.duplicated, fd.model_calls,
			pd.requests - fd.attempts, fd.retries, fd.needs_human,
			reason ? reason : "");
		ck_assert_ptr_nonnull(reason);
		ck_assert_ptr_nonnull(strstr(reason, "max_response_bytes"));
		free(reason);
	}
	ck_assert_int_eq(fd.needs_human, MS_D);
	ck_assert_int_eq(pd.requests, fd.attempts);
	ck_assert_int_eq(fd.attempts, MS_D); /* one paid answer each: an over-cap answer is not retried */
	ck_assert_int_eq(sqlv(&s,
			      "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = "
			      "tr.ticket_pk WHERE t.ticket_id LIKE '%s%%' AND tr.status_reason "
			      "LIKE '%%max_response_bytes%%'",
			      "sd-"),
			 MS_D);
	ck_assert_d(alive(&d), &d);

	/* (e) answers that trickle 32 bytes every 200 ms (~5 s) against a 1.5 s timeout */
	control(&s, "{\"trickle_ms\": 200}");
	ck_assert_int_eq(stack_produce_samples(&s, MS_E_SLOW, "se-slow-"), 0);
	ck_assert_d(wait_model_saw(&s, "se-slow-", MS_E_SLOW, 30000) == 0, &d);
	/* later requests get whole answers at once; the slow ones keep trickling */
	control(&s, "{\"trickle_ms\": 0}");
	t0 = h_now_ms();
	ck_assert_int_eq(stack_produce_samples(&s, MS_E_FAST, "se-fast-"), 0);
	ck_assert_d(wait_rows(&s, "se-fast-", MS_E_FAST, 60000) == MS_E_FAST, &d);
	fast_done_ms = h_now_ms() - t0;
	slow_rows_when_fast_done = rows_of(&s, "se-slow-");
	ck_assert_d(wait_rows(&s, "se-slow-", MS_E_SLOW, 60000) == MS_E_SLOW, &d);
	db_figures(&s, "se-", MS_E_SLOW + MS_E_FAST, &fe);
	ck_assert_int_eq(model_per_ticket(&s, 0, "se-slow-", &pe), 0);
	ck_assert_int_eq(model_per_ticket(&s, 0, "se-", &pe_all), 0);
	reqlog_load(reqlog_path, "se-slow-", &rl);
	for (size_t i = 1; i < rl.n; i++)
		if (strcmp(rl.v[i].ticket, rl.v[i - 1].ticket) == 0) {
			long long gap = rl.v[i].ts - rl.v[i - 1].ts;
			if (slow_min_retry_gap < 0 || gap < slow_min_retry_gap)
				slow_min_retry_gap = gap;
		}
	free(rl.v);
	fprintf(stderr,
		"faults model_storm/trickle: tickets_in=%d rows=%lld lost=%lld duplicated=%lld "
		"model_calls=%lld repeated_calls=%lld retries=%lld slow_requests=%lld "
		"slow_first_retry_after_ms=%lld fast_tickets_done_ms=%lld "
		"slow_rows_when_fast_done=%lld pending_review=%lld\n",
		MS_E_SLOW + MS_E_FAST, fe.rows, fe.lost, fe.duplicated, fe.model_calls,
		pe_all.requests - fe.attempts, fe.retries, pe.requests, slow_min_retry_gap,
		fast_done_ms, slow_rows_when_fast_done, fe.pending_review);
	ck_assert_int_eq(fe.rows, MS_E_SLOW + MS_E_FAST);
	ck_assert_int_eq(fe.lost, 0);
	ck_assert_int_eq(fe.duplicated, 0);
	ck_assert_int_eq(fe.pending_review, MS_E_SLOW + MS_E_FAST);
	ck_assert_int_eq(pe_all.requests, fe.attempts);
	/* each slow answer timed out (not before 1.5 s) and was asked again */
	ck_assert_int_ge(pe.requests, 2 * MS_E_SLOW);
	ck_assert_int_ge(slow_min_retry_gap, 1500 - 50);
	ck_assert_int_eq(sqlv(&s,
			      "SELECT count(*) FROM model_calls mc JOIN tickets t ON t.id = "
			      "mc.ticket_pk WHERE t.ticket_id LIKE '%s%%' AND mc.attempts >= 2 "
			      "AND mc.outcome = 'ok'",
			      "se-slow-"),
			 MS_E_SLOW);
	/* the loop never waited on them: the fast tickets were done before any slow one */
	ck_assert_int_eq(slow_rows_when_fast_done, 0);
	ck_assert_d(alive(&d), &d);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	stack_stop(&s);
}
END_TEST

/* ---- 6. breaker --------------------------------------------------------------- */

#define BR_TICKETS 500
#define BR_FAILURES 5
#define BR_COOLDOWN_MS 5000
#define BR_CONCURRENCY 4
#define BR_WINDOW_MS 60000

/*
 * A dead endpoint (every answer 500) for 60 s: the mini breaker opens after
 * 5 failures and lets one probe through every 5 s, so the model sees a few
 * dozen requests a minute instead of thousands; then the endpoint recovers,
 * the breaker closes and every ticket is triaged.
 */
START_TEST(test_breaker)
{
	struct stack s;
	struct h_proc d;
	static const char *const margs[] = {"--rate-500", "1", NULL};
	char v[16];
	long long t0, req0, req_window, bound, probes, opens, recovered_ms, committed;
	struct figs f;
	struct per_ticket pt;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "breaker", 4, margs), 0);
	snprintf(v, sizeof(v), "%d", BR_COOLDOWN_MS);
	stack_env(&s, "TRIAGED_MINI_BREAKER_COOLDOWN_MS", v);
	snprintf(v, sizeof(v), "%d", BR_FAILURES);
	stack_env(&s, "TRIAGED_MINI_BREAKER_FAILURES", v);
	snprintf(v, sizeof(v), "%d", BR_CONCURRENCY);
	stack_env(&s, "TRIAGED_MINI_MAX_CONCURRENCY", v);
	/* tickets wait for the model instead of giving up: all must end pending_review */
	stack_env(&s, "TRIAGED_MINI_ON_FAILURE", "wait");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d(stack_wait_log(&d, "partitions assigned", 60000) == 0, &d);
	req0 = stack_model_requests(&s, NULL);
	t0 = h_now_ms();
	ck_assert_int_eq(stack_produce_samples(&s, BR_TICKETS, "br-"), 0);
	while (h_now_ms() - t0 < BR_WINDOW_MS) {
		ck_assert_d(alive(&d), &d);
		usleep(500 * 1000);
	}
	req_window = stack_model_requests(&s, NULL) - req0;
	/*
	 * Requests while it is closed: the failures that open it, plus those
	 * already in flight then (at most mini.max_concurrency). While open: one
	 * half-open probe per cool-down, at most window / cool-down. Allow twice
	 * the first two terms for slack.
	 */
	bound = 2 * (BR_FAILURES + BR_WINDOW_MS / BR_COOLDOWN_MS) + BR_CONCURRENCY;
	opens = stack_log_count(&d, "circuit breaker open", NULL);
	probes = stack_log_count(&d, "circuit breaker probe failed", NULL);
	fprintf(stderr,
		"faults breaker: window_ms=%d model_requests_in_window=%lld bound=%lld opens=%lld "
		"probes_failed=%lld rows_in_window=%lld\n",
		BR_WINDOW_MS, req_window, bound, opens, probes, rows_of(&s, "br-"));
	ck_assert_d(req_window > 0, &d);
	ck_assert_d(req_window <= bound, &d);
	ck_assert_d(opens >= 1, &d);
	ck_assert_d(probes >= 1, &d); /* a half-open probe went out and failed */
	ck_assert_d(stack_log_count(&d, "intake paused\" reason=breaker", NULL) >= 1, &d);
	ck_assert_int_eq(rows_of(&s, "br-"), 0); /* "wait": nobody gave up */

	/*
	 * The endpoint comes back rate-limited first (what providers do after an
	 * outage): the probe is answered 429. That says nothing of the endpoint's
	 * health, so the breaker opens again and probes after the Retry-After; it
	 * used to stay half-open for good, its probe "in flight", and intake held
	 * until a restart.
	 */
	control(&s, "{\"rate_500\": 0, \"rate_429\": 1, \"retry_after\": 1}");
	ck_assert_d(stack_wait_log(&d, "circuit breaker probe answered without a verdict",
				   BR_COOLDOWN_MS + 10000) == 0,
		    &d);
	ck_assert_d(stack_log_count(&d, "answer=429", NULL) >= 1, &d);
	/* then it recovers: the next probe succeeds, the breaker closes, all flows */
	control(&s, "{\"rate_429\": 0}");
	t0 = h_now_ms();
	ck_assert_d(stack_wait_log(&d, "circuit breaker closed", BR_COOLDOWN_MS + 10000) == 0, &d);
	ck_assert_d(wait_rows(&s, "br-", BR_TICKETS, 120000) == BR_TICKETS, &d);
	recovered_ms = h_now_ms() - t0;
	ck_assert_d(stack_wait_committed(&s, BR_TICKETS, 30000) == 0, &d);
	committed = stack_committed(&s);
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	db_figures(&s, "br-", BR_TICKETS, &f);
	ck_assert_int_eq(model_per_ticket(&s, 0, "br-", &pt), 0);
	fprintf(
	    stderr,
	    "faults breaker: tickets_in=%d rows=%lld lost=%lld duplicated=%lld model_calls=%lld "
	    "repeated_calls=%lld retries=%lld model_requests=%lld requests_per_min_open=%lld "
	    "bound=%lld opens=%lld probes_failed=%lld recovered_ms=%lld pending_review=%lld "
	    "committed=%lld\n",
	    BR_TICKETS, f.rows, f.lost, f.duplicated, f.model_calls, pt.requests - f.attempts,
	    f.retries, pt.requests, req_window * 60000 / BR_WINDOW_MS, bound, opens, probes,
	    recovered_ms, f.pending_review, committed);
	ck_assert_int_eq(f.rows, BR_TICKETS);
	ck_assert_int_eq(f.lost, 0);
	ck_assert_int_eq(f.duplicated, 0);
	ck_assert_int_eq(f.pending_review, BR_TICKETS);
	ck_assert_int_eq(f.repeated_completed, 0);
	ck_assert_int_eq(pt.requests, f.attempts);
	ck_assert_int_eq(committed, BR_TICKETS);
	stack_stop(&s);
}
END_TEST

/* ---- 7. drain under a backlog ----------------------------------------------- */

#define DR_TICKETS 20000
#define DR_PARTS 8 /* the mock keeps about 5 MiB a partition */

/* A number after key= on the last log line that holds msg (-1 if absent). */
static long long log_value(const struct h_proc *d, const char *msg, const char *key)
{
	FILE *f = fopen(d->log_path, "r");
	char line[8192], k[64];
	long long v = -1;
	if (f == NULL)
		return -1;
	snprintf(k, sizeof(k), " %s=", key);
	while (fgets(line, sizeof(line), f)) {
		const char *p;
		if (strstr(line, msg) && (p = strstr(line, k)) != NULL)
			v = atoll(p + strlen(k));
	}
	fclose(f);
	return v;
}

/*
 * SIGTERM with a prefetched backlog of 20,000 tickets and up to 2,048 calls in
 * flight (the deploy case). drain_timeout_ms decides the second half:
 * - long enough: every call finishes and is stored, exit 0, "drained"; a restart
 *   sends each remaining ticket once and repeats no completed call;
 * - too short: exit 0 all the same, with the abandoned calls counted in the log;
 *   exactly those are sent again after the restart.
 */
static void drain_backlog(const char *name, const char *latency_ms, const char *jitter_ms,
			  const char *drain_ms, int expect_timeout)
{
	struct stack s;
	struct h_proc d, d2;
	const char *margs[] = {"--latency-ms", latency_ms, "--jitter-ms", jitter_ms, NULL};
	long long rows_at_term, rows_at_exit, requests_at_exit, committed, abandoned = 0;
	long long in_flight_calls, in_flight_tickets;
	int st = -1;
	char prefix[16];

	snprintf(prefix, sizeof(prefix), "%s-", name);
	ck_assert_int_eq(stack_start(&s, &stack_pg, name, DR_PARTS, margs), 0);
	stack_env(&s, "TRIAGED_SHUTDOWN_DRAIN_TIMEOUT_MS", drain_ms);
	/* the mini path alone: every ticket is one call, so requests count calls */
	stack_env(&s, "TRIAGED_TRIAGE_RULES_FILE", "");
	ck_assert_int_eq(stack_produce_samples(&s, DR_TICKETS, prefix), 0);
	ck_assert_int_eq(stack_end_offsets(&s), DR_TICKETS);
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	/* a backlog: some stored, thousands prefetched, the intake window full
	 * (the fake model holds at least 1,500 calls: they ramp up in bursts) */
	ck_assert_d(wait_rows(&s, prefix, 2500, 120000) >= 2500, &d);
	for (int i = 0; i < 600; i++) {
		if (stack_model_requests(&s, NULL) - rows_of(&s, prefix) >= 1500)
			break;
		usleep(100 * 1000);
	}
	rows_at_term = rows_of(&s, prefix);
	in_flight_calls = stack_model_requests(&s, NULL) - rows_at_term;
	ck_assert_int_lt(rows_at_term, DR_TICKETS / 2);
	ck_assert_int_eq(h_signal(&d, SIGTERM), 0);
	ck_assert_int_eq(h_wait_exit(&d, 90000, &st), 0);
	ck_assert_d(st == 0, &d);
	/* the daemon's own count when the signal came: the intake window was full */
	in_flight_tickets = log_value(&d, "msg=draining", "in_flight");
	ck_assert_int_ge(in_flight_tickets, 500);
	rows_at_exit = rows_of(&s, prefix);
	requests_at_exit = stack_model_requests(&s, NULL);
	committed = stack_committed(&s);
	if (expect_timeout) {
		ck_assert_d(stack_wait_log(&d, "drain timeout", 1000) == 0, &d);
		abandoned = log_value(&d, "drain timeout", "abandoned_calls");
		ck_assert_int_gt(abandoned, 0);
		/* every call was either answered and stored, or is counted as abandoned */
		ck_assert_int_eq(requests_at_exit, rows_at_exit + abandoned);
	} else {
		ck_assert_d(stack_wait_log(&d, "msg=drained", 1000) == 0, &d);
		/* every answer that arrived was stored: no call left unaccounted */
		ck_assert_int_eq(requests_at_exit, rows_at_exit);
	}
	/* offsets cover exactly what is stored (tickets are contiguous per partition) */
	ck_assert_int_le(committed, rows_at_exit);
	ck_assert_int_gt(committed, 0);

	ck_assert_int_eq(stack_daemon(&s, &d2, "daemon2"), 0);
	ck_assert_d(wait_rows(&s, prefix, DR_TICKETS, 240000) == DR_TICKETS, &d2);
	ck_assert_d(stack_wait_committed(&s, DR_TICKETS, 30000) == 0, &d2);
	fprintf(stderr,
		"faults %s: tickets_in=%d rows_at_sigterm=%lld calls_in_flight_at_sigterm=%lld "
		"tickets_in_flight_at_sigterm=%lld "
		"exit_status=%d rows_at_exit=%lld requests_at_exit=%lld committed_at_exit=%lld "
		"abandoned_calls=%lld rows_after_restart=%lld model_requests=%lld "
		"repeated_completed=%lld\n",
		name, DR_TICKETS, rows_at_term, in_flight_calls, in_flight_tickets, st, rows_at_exit, requests_at_exit,
		committed, abandoned, rows_of(&s, prefix), stack_model_requests(&s, NULL),
		stack_model_requests(&s, NULL) - DR_TICKETS - abandoned);
	/* 0 completed calls repeated: only the abandoned ones are sent a second time */
	ck_assert_int_eq(stack_model_requests(&s, NULL), DR_TICKETS + abandoned);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM (SELECT ticket_pk FROM model_calls "
					"WHERE outcome = 'ok' GROUP BY ticket_pk HAVING count(*) > 1) x"),
			 0);
	ck_assert_int_eq(stack_stop_daemon(&d2, 30000), 0);
	stack_stop(&s);
}

START_TEST(test_drain_backlog)
{
	drain_backlog("drain", "1000", "100", "30000", 0);
}
END_TEST

START_TEST(test_drain_timeout)
{
	/* calls of 2.5-7.5 s against a 1 s drain: the daemon gives up on most, cleanly. The
	 * wide jitter matters: with 5 s +- 100 ms the window fills and empties in bursts,
	 * and a SIGTERM just before a burst ends sees every call finish within the second. */
	drain_backlog("drain_to", "5000", "2500", "1000", 1);
}
END_TEST

/* Dead letters on tickets.dlq naming original offset `off` (or any: off < 0). */
struct dl_count {
	long long off;
	int n;
};

static void on_dl(const rd_kafka_message_t *m, void *arg)
{
	struct dl_count *dc = arg;
	rd_kafka_headers_t *h = NULL;
	const void *v;
	size_t vl;
	char o[24] = "";
	if (rd_kafka_message_headers(m, &h) == 0 &&
	    rd_kafka_header_get_last(h, "triaged.original.offset", &v, &vl) == 0)
		snprintf(o, sizeof(o), "%.*s", (int)vl, (const char *)v);
	if (dc->off < 0 || atoll(o) == dc->off)
		dc->n++;
}

/*
 * A dead letter the broker acknowledges only after the drain's grace (the final
 * flush). Before, that flush was a blocking rd_kafka_flush after the loop: the
 * acknowledgement came, but its dead_letters row could not be written, the job was
 * dropped uncommitted, and the restart dead-lettered the message a second time.
 * Now the flush runs on the loop: the row is written, the offset committed, and
 * the topic has the dead letter once. The dead-letter topic's broker answers 3 s
 * late; the drain gives up after 0.2 s + 0.5 s of grace.
 */
START_TEST(test_dlq_at_exit)
{
	struct stack s;
	struct h_proc d, d2;
	struct dl_count dc = {-1, 0};
	char bad[PATH_MAX];
	long long end, t0, bad_off, flushed_ms;
	int port, st = -1;
	double pending = 0;
	FILE *f;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "dlqexit", 1, NULL), 0);
	/* the dead-letter topic on a broker of its own, to be slowed alone */
	ck_assert_int_eq(stack_broker_cluster(&s, 2), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.incoming 0 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.triaged 0 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.dlq 0 2"), 0);
	stack_env(&s, "TRIAGED_SHUTDOWN_DRAIN_TIMEOUT_MS", "200");
	stack_env(&s, "TRIAGED_SHUTDOWN_DRAIN_GRACE_MS", "500");
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d((port = stack_http_port(&d)) > 0, &d);
	/* warm, at speed: the producer knows its topics and is connected to both brokers
	 * (a first dead letter; each round trip of a new connection would be slowed too) */
	snprintf(bad, sizeof(bad), "%s/notjson.jsonl", h_tmpdir());
	f = fopen(bad, "w");
	fprintf(f, "this is not json {\n");
	fclose(f);
	ck_assert_int_eq(stack_produce_samples(&s, 3, "dx-"), 0);
	ck_assert_int_eq(stack_produce_file(&s, bad, 0), 0);
	ck_assert_d(wait_rows(&s, "dx-", 3, 60000) == 3, &d);
	ck_assert_d(stack_wait_committed(&s, 4, 20000) == 0, &d);
	bad_off = stack_end_offsets(&s);
	ck_assert_int_eq(stack_broker_control(&s, "rtt 2 3000"), 0);
	ck_assert_int_eq(stack_produce_file(&s, bad, 0), 0);
	end = bad_off + 1;
	/* the dead letter is sent, its acknowledgement 3 s away: stop now */
	for (t0 = h_now_ms(); h_now_ms() - t0 < 30000; usleep(20 * 1000))
		if ((pending = stack_metric(port, "triaged_dlq_pending")) >= 1)
			break;
	ck_assert_d(pending == 1, &d);
	t0 = h_now_ms();
	ck_assert_int_eq(h_signal(&d, SIGTERM), 0);
	ck_assert_d(stack_wait_log(&d, "final flush done", 30000) == 0, &d);
	flushed_ms = h_now_ms() - t0;
	/* then the broker at speed again: the consumer's close need not wait for it */
	ck_assert_int_eq(stack_broker_control(&s, "rtt 2 0"), 0);
	ck_assert_int_eq(h_wait_exit(&d, 60000, &st), 0);
	ck_assert_d(st == 0, &d);
	ck_assert_d(stack_wait_log(&d, "drain timeout", 1000) == 0, &d);
	ck_assert_d(stack_wait_log(&d, "drain grace over", 1000) == 0, &d);
	/* acknowledged in the final flush: its row, its offset */
	fprintf(stderr, "faults dlq_at_exit: flushed_ms=%lld exit_ms=%lld dead_letter_rows=%lld "
		"committed=%lld end=%lld\n", flushed_ms, h_now_ms() - t0,
		h_sql_ll(s.db, "SELECT count(*) FROM dead_letters"), stack_committed(&s), end);

	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM dead_letters WHERE kafka_offset = "
					"%lld AND error_code = 'invalid_json'", bad_off),
			 1);
	ck_assert_int_eq(stack_committed(&s), end);
	/* a restart does not dead-letter it again */
	ck_assert_int_eq(stack_daemon(&s, &d2, "daemon2"), 0);
	ck_assert_int_eq(stack_produce_samples(&s, 1, "dy-"), 0);
	ck_assert_d(wait_rows(&s, "dy-", 1, 60000) == 1, &d2);
	ck_assert_d(stack_wait_committed(&s, end + 1, 20000) == 0, &d2);
	ck_assert_int_eq(stack_stop_daemon(&d2, 30000), 0);
	dc.off = bad_off;
	ck_assert_int_eq(h_kafka_consume_all(s.bootstrap, "tickets.dlq", 1, 10000, on_dl, &dc), 0);
	ck_assert_int_eq(dc.n, 1);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM dead_letters"), 2);
	stack_stop(&s);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *su = suite_create("faults");
	const struct {
		const char *name;
		const TTest *test;
	} cases[] = {
	    {"sigkill", test_sigkill},		 {"pg_down_20s", test_pg_down_20s},
	    {"kafka_faults", test_kafka_faults}, {"two_daemons", test_two_daemons},
	    {"model_storm", test_model_storm},	 {"breaker", test_breaker},
	    {"drain_backlog", test_drain_backlog}, {"drain_timeout", test_drain_timeout},
	    {"rebalance_in_flight", test_rebalance_in_flight},
	    {"claim_held_long", test_claim_held_long},
	    {"dlq_at_exit", test_dlq_at_exit},
	};
	/* one case per scenario, so CK_RUN_CASE=<name> runs one alone */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_unchecked_fixture(tc, stack_pg_up, stack_pg_down);
		tcase_set_timeout(tc, 600);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(su, tc);
	}
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(faults_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
