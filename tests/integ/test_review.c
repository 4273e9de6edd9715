/*
 * The review queue (schema/002_review.sql) on a real PostgreSQL cluster:
 * queue order, SLA deadlines, claims from concurrent connections, approve /
 * reject / correct and their outcome counts, the database roles, the
 * metrics views, and migrations applied twice and in two databases of one
 * cluster. Only PostgreSQL: no broker, no model, no daemon beyond
 * `triaged migrate`. Each test has its own database; fixtures are inserted
 * directly as the superuser.
 */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "stack.h"

/* Fixed base time of the hand-made tickets (received_at = T - minutes). */
#define T "2024-05-01 12:00:00+00"

/* The first column of the first row equals want (a string). */
#define ck_sql_str(c, want, ...)                                                                   \
	do {                                                                                       \
		char *s_ = h_sql_str((c), __VA_ARGS__);                                            \
		ck_assert_msg(s_ != NULL, "no value for: %s", #__VA_ARGS__);                       \
		ck_assert_str_eq(s_, (want));                                                      \
		free(s_);                                                                          \
	} while (0)

static void conninfo_for(char *out, size_t len, const char *dbname, const char *user)
{
	snprintf(out, len, "host=%s port=%d user=%s dbname=%s", stack_pg.dir, stack_pg.port, user, dbname);
}

static PGconn *connect_as(const char *dbname, const char *user)
{
	char ci[PATH_MAX + 256];
	PGconn *c;

	conninfo_for(ci, sizeof(ci), dbname, user);
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect %s: %s\n", ci, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	/* days in the metrics views are cut in the session's time zone */
	if (h_sql_exec(c, "SET TimeZone = 'UTC'") < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/*
 * Run `triaged migrate` on dbname as an operator would. Returns the number of
 * migrations it applied (from its "migrations done" log line), -1 on failure.
 */
static int migrate_log(const char *dbname, char *text, size_t textlen)
{
	char bin[PATH_MAX], ci[PATH_MAX + 256], env_ci[PATH_MAX + 300], env_sd[PATH_MAX + 32];
	struct h_proc p;
	const char *line, *a;
	FILE *f;
	size_t n;
	int st = -1;

	if (h_bin(bin, sizeof(bin), "triaged") < 0)
		return -1;
	conninfo_for(ci, sizeof(ci), dbname, "postgres");
	snprintf(env_ci, sizeof(env_ci), "TRIAGED_POSTGRES_CONNINFO=%s", ci);
	snprintf(env_sd, sizeof(env_sd), "TRIAGED_SCHEMA_DIR=%s/schema", h_source_dir());
	{
		char *env[] = {env_ci, env_sd, NULL};
		char *argv[] = {bin, "migrate", NULL};
		memset(&p, 0, sizeof(p));
		if (h_spawn(&p, "migrate", argv, env) < 0)
			return -1;
		if (h_wait_exit(&p, 60000, &st) < 0)
			st = -1;
	}
	f = fopen(p.log_path, "r");
	if (f == NULL)
		return -1;
	n = fread(text, 1, textlen - 1, f);
	fclose(f);
	text[n] = '\0';
	if (st != 0) {
		fprintf(stderr, "triaged migrate failed (status %d)\n", st);
		h_stop(&p);
		return -1;
	}
	line = strstr(text, "msg=\"migrations done\"");
	a = line ? strstr(line, "applied=") : NULL;
	if (a == NULL)
		return -1;
	return (int)strtol(a + strlen("applied="), NULL, 10);
}

static int migrate(const char *dbname)
{
	static char text[65536];
	int rc = migrate_log(dbname, text, sizeof(text));
	if (rc < 0)
		fprintf(stderr, "%.4000s\n", text);
	return rc;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Create (or re-create) database dbname, migrate it, connect as the superuser. */
static PGconn *db_new(const char *dbname)
{
	PGconn *admin = h_pg_connect(&stack_pg);
	int applied;

	if (admin == NULL)
		return NULL;
	PQsetNoticeProcessor(admin, quiet, NULL);
	h_sql_exec(admin, "DROP DATABASE IF EXISTS %s", dbname);
	if (h_sql_exec(admin, "CREATE DATABASE %s", dbname) < 0) {
		PQfinish(admin);
		return NULL;
	}
	PQfinish(admin);
	applied = migrate(dbname);
	if (applied < 2) {
		fprintf(stderr, "migrate %s: applied %d, want at least 2\n", dbname, applied);
		return NULL;
	}
	return connect_as(dbname, "postgres");
}

/*
 * A database at version 5 (migrations 001-005 applied by hand, as before the
 * functions moved out), connected as the superuser; NULL on error.
 */
static PGconn *db_v5(const char *dbname)
{
	static const char *const names[] = {"001_init.sql", "002_review.sql", "003_cascade.sql",
					    "004_safety.sql", "005_fast.sql"};
	PGconn *admin = h_pg_connect(&stack_pg), *v5;

	if (admin == NULL)
		return NULL;
	PQsetNoticeProcessor(admin, quiet, NULL);
	h_sql_exec(admin, "DROP DATABASE IF EXISTS %s", dbname);
	if (h_sql_exec(admin, "CREATE DATABASE %s", dbname) < 0) {
		PQfinish(admin);
		return NULL;
	}
	PQfinish(admin);
	v5 = connect_as(dbname, "postgres");
	if (v5 == NULL)
		return NULL;
	PQsetNoticeProcessor(v5, quiet, NULL);
	if (h_sql_exec(v5, "CREATE TABLE schema_version (version integer PRIMARY KEY, name text "
			   "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())") < 0)
		goto fail;
	for (int v = 1; v <= 5; v++) {
		char path[PATH_MAX], *sql = NULL;
		size_t cap = 0;
		FILE *f;
		PGresult *r;
		int ok;

		snprintf(path, sizeof(path), "%s/schema/migrations/%s", h_source_dir(), names[v - 1]);
		f = fopen(path, "r");
		if (f == NULL)
			goto fail;
		if (getdelim(&sql, &cap, '\0', f) < 0) {
			fclose(f);
			free(sql);
			goto fail;
		}
		fclose(f);
		r = PQexec(v5, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		free(sql);
		if (!ok || h_sql_exec(v5, "INSERT INTO schema_version (version, name) VALUES (%d, '%s')",
				      v, names[v - 1]) < 0)
			goto fail;
	}
	return v5;
fail:
	PQfinish(v5);
	return NULL;
}

/* Run one statement and return its SQLSTATE: "00000" when it succeeded. */
static const char *sqlstate(PGconn *c, const char *fmt, ...) H_PRINTF_LIKE(2, 3);

static const char *sqlstate(PGconn *c, const char *fmt, ...)
{
	static char st[8];
	char *q = NULL;
	PGresult *r;
	va_list ap;
	const char *s;

	va_start(ap, fmt);
	if (vasprintf(&q, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = PQexec(c, q);
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK) {
		snprintf(st, sizeof(st), "00000");
	} else {
		s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(st, sizeof(st), "%s", s ? s : "?????");
	}
	PQclear(r);
	free(q);
	return st;
}

struct fx {
	const char *tid;
	const char *tier;   /* NULL: none */
	int minutes_before; /* received_at = base - minutes */
	const char *status; /* NULL: pending_review */
	const char *urgency;
	const char *category;
	const char *draft;
	const char *decided_by;
	const char *model;
};

/*
 * Insert a ticket (source 'test'), its revision 1 and its triage result;
 * base is a timestamptz literal, NULL for now(). Returns the ticket's pk, -1
 * on error.
 */
static long long add_ticket(PGconn *c, const char *base, const struct fx *f)
{
	static const char *sql =
		"WITH t AS (INSERT INTO tickets (source, ticket_id, content_hash, channel, subject, "
		"body, customer_tier, received_at) VALUES ('test', $1::text, '\\x00'::bytea, "
		"'email', 'Subject of ' || $1::text, 'Body', $2::text, coalesce($3::timestamptz, "
		"now()) - $4::int * interval '1 minute') RETURNING id, received_at), "
		"r AS (INSERT INTO ticket_revisions (ticket_pk, revision, content_hash, received_at) "
		"SELECT id, 1, '\\x00'::bytea, received_at FROM t) "
		"INSERT INTO triage_results (ticket_pk, revision, status, category, sentiment, "
		"urgency, confidence, summary, draft_reply, decided_by, model, prompt_version) "
		"SELECT id, 1, coalesce($5::text, 'pending_review'), $6::text, 'neutral', $7::text, "
		"0.9, 'summary', $8::text, $9::text, $10::text, 'triage-v1' FROM t RETURNING ticket_pk";
	char mins[16];
	const char *params[10];
	PGresult *r;
	long long pk = -1;

	snprintf(mins, sizeof(mins), "%d", f->minutes_before);
	params[0] = f->tid;
	params[1] = f->tier;
	params[2] = base;
	params[3] = mins;
	params[4] = f->status;
	params[5] = f->category;
	params[6] = f->urgency;
	params[7] = f->draft;
	params[8] = f->decided_by;
	params[9] = f->model;
	r = PQexecParams(c, sql, 10, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		pk = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		fprintf(stderr, "add_ticket %s: %s\n", f->tid, PQresultErrorMessage(r));
	PQclear(r);
	return pk;
}

/* Insert the tickets of a NULL-tid-terminated table; their pks into pks (may be NULL). */
static void add_tickets(PGconn *c, const char *base, const struct fx *fxs, long long *pks)
{
	for (int i = 0; fxs[i].tid; i++) {
		long long pk = add_ticket(c, base, &fxs[i]);
		ck_assert_int_gt(pk, 0);
		if (pks)
			pks[i] = pk;
	}
}

/* Add revision 2 of ticket pk (copy of revision 1 with this status and urgency). */
static int add_revision2(PGconn *c, long long pk, const char *status, const char *urgency)
{
	if (h_sql_exec(c, "UPDATE tickets SET revision = 2 WHERE id = %lld", pk) < 0 ||
	    h_sql_exec(c,
		       "INSERT INTO ticket_revisions (ticket_pk, revision, content_hash) "
		       "VALUES (%lld, 2, '\\x01'::bytea)",
		       pk) < 0)
		return -1;
	return h_sql_exec(c,
			  "INSERT INTO triage_results (ticket_pk, revision, status, category, "
			  "sentiment, urgency, confidence, summary, draft_reply, decided_by, model, "
			  "prompt_version, review_state) SELECT ticket_pk, 2, '%s', category, "
			  "sentiment, '%s', confidence, summary, draft_reply, decided_by, model, "
			  "prompt_version, CASE WHEN '%s' IN ('approved', 'rejected') THEN '%s' "
			  "ELSE 'open' END FROM triage_results WHERE ticket_pk = %lld AND revision = 1",
			  status, urgency, status, status, pk);
}

/* Create a login role when missing (roles are cluster-wide; tests share the cluster). */
static int login_role(PGconn *c, const char *name, const char *group)
{
	return h_sql_exec(c,
			  "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') "
			  "THEN CREATE ROLE %s LOGIN%s%s; END IF; END $$",
			  name, name, group ? " IN ROLE " : "", group ? group : "");
}

/* ---- tests ------------------------------------------------------------------ */

/* Migrating twice applies nothing; a second database in the same cluster migrates too. */
START_TEST(test_migrate_idempotent)
{
	PGconn *a, *b;

	a = db_new("r_mig_a");
	ck_assert_ptr_nonnull(a);
	ck_sql_str(a, "002_review.sql", "SELECT name FROM schema_version WHERE version = 2");
	ck_assert_int_eq(migrate("r_mig_a"), 0);
	ck_assert_int_eq(h_sql_ll(a, "SELECT count(*) FROM schema_version WHERE version = 2"), 1);
	/* the roles now exist: the second database's migration must not fail on them */
	b = db_new("r_mig_b");
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(migrate("r_mig_b"), 0);
	ck_assert_int_eq(h_sql_ll(b, "SELECT count(*) FROM pg_roles WHERE rolname IN "
				     "('triaged_service', 'triaged_agent', 'triaged_supervisor') "
				     "AND NOT rolcanlogin"),
			 3);
	/* and the second database has its own grants */
	ck_sql_str(b, "t", "SELECT has_table_privilege('triaged_agent', 'agent_review_queue', "
			   "'SELECT')");
	ck_sql_str(b, "f", "SELECT has_table_privilege('triaged_agent', 'triage_results', "
			   "'SELECT')");
	ck_sql_str(b, "t", "SELECT has_function_privilege('triaged_agent', "
			   "'review_approve(bigint, integer, text, text)', 'EXECUTE')");
	ck_sql_str(b, "t", "SELECT has_table_privilege('triaged_supervisor', 'metrics_backlog', "
			   "'SELECT')");
	ck_sql_str(b, "true false", "SELECT has_function_privilege('triaged_service', "
			     "'triaged_store_rows(triaged_store_in[])', 'EXECUTE') || ' ' || "
			     "has_function_privilege('triaged_service', 'triaged_store(jsonb)', 'EXECUTE')");
	ck_sql_str(b, "true false", "SELECT has_function_privilege('triaged_service', "
			     "'triaged_claim_rows(triaged_claim_in[])', 'EXECUTE') || ' ' || "
			     "has_function_privilege('triaged_service', 'triaged_claim(jsonb)', 'EXECUTE')");
	ck_sql_str(b, "t", "SELECT to_regprocedure('triaged_claim_v3(jsonb)') IS NULL "
			   "AND to_regprocedure('triaged_release(jsonb)') IS NULL");
	/* a database at version 5 (migrated before the functions moved out) upgrades to the
	 * same functions, views and grants as a fresh one, its rows kept */
	{
		static const struct fx one[] = {
			{"v5-1", "standard", 10, NULL, "high", "billing", "Hi", "mini", "mini-1"},
			{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
		};
		static const char digest[] =
			"SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM ("
			"SELECT pg_get_functiondef(p.oid) || coalesce(p.proacl::text, '') AS x "
			"FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
			"UNION ALL SELECT c.relname || ':' || coalesce(pg_get_viewdef(c.oid), '') || "
			"coalesce(c.relacl::text, '') FROM pg_class c "
			"WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'S', 'i') "
			"UNION ALL SELECT conname || pg_get_constraintdef(oid) FROM pg_constraint "
			"WHERE connamespace = 'public'::regnamespace "
			"UNION ALL SELECT tgname || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal) d";
		PGconn *v5 = db_v5("r_mig_v5");
		long long pk5;
		char *fresh, *upgraded;

		ck_assert_ptr_nonnull(v5);
		add_tickets(v5, NULL, one, &pk5);
		ck_assert_int_eq(h_sql_ll(v5, "SELECT count(*) FROM pg_proc WHERE proname = "
					      "'triaged_claim_v3'"),
				 1);
		ck_assert_int_ge(migrate("r_mig_v5"), 1);
		ck_assert_int_eq(h_sql_ll(v5, "SELECT count(*) FROM agent_review_queue WHERE "
					      "ticket_pk = %lld",
					  pk5),
				 1);
		fresh = h_sql_str(b, "%s", digest);
		upgraded = h_sql_str(v5, "%s", digest);
		ck_assert_ptr_nonnull(fresh);
		ck_assert_ptr_nonnull(upgraded);
		ck_assert_str_eq(upgraded, fresh);
		free(fresh);
		free(upgraded);
		PQfinish(v5);
	}
	/* the seeded SLA policy is there once, not twice */
	ck_assert_int_eq(h_sql_ll(b, "SELECT count(*) FROM sla_policy"), 12);
	PQfinish(a);
	PQfinish(b);
}
END_TEST

/* The queue's exact order: urgency, SLA deadline, tier, age; one row per ticket. */
START_TEST(test_queue_order)
{
	static const struct fx fxs[] = {
		/* tid, tier, minutes before T, status, urgency, category, draft, decided_by, model */
		{"q-low-legacy", "legacy", 1440, NULL, "low", "billing", "d", "mini", "mini-1"},
		{"q-norm-std", "standard", 0, NULL, "normal", "billing", "d", "mini", "mini-1"},
		{"q-crit-std", "standard", 30, NULL, "critical", "outage", "d", "mini", "mini-1"},
		{"q-high-free", "free", 180, NULL, "high", "billing", "d", "mini", "mini-1"},
		{"q-norm-ent", "enterprise", 700, NULL, "normal", "billing", "d", "mini", "mini-1"},
		{"q-nh", NULL, 200, "needs_human", NULL, NULL, NULL, NULL, NULL},
		{"q-low-none", NULL, 2880, NULL, "low", "billing", "d", "mini", "mini-1"},
		{"q-high-prem", "Premium", 60, NULL, "high", "billing", "d", "flagship", "big-1"},
		{"q-crit-ent", "enterprise", 0, NULL, "critical", "outage", "d", "mini", "mini-1"},
		{"q-norm-rev2", "standard", 100, NULL, "low", "billing", "d", "mini", "mini-1"},
		/* not in the queue */
		{"q-approved", "enterprise", 500, "approved", "critical", "billing", "d", "mini",
		 "mini-1"},
		{"q-rejected", "enterprise", 500, "rejected", "critical", "billing", "d", "mini",
		 "mini-1"},
		{"q-superseded", "enterprise", 500, NULL, "critical", "billing", "d", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	long long pk[16];
	PGconn *c = db_new("r_order");

	ck_assert_ptr_nonnull(c);
	/* a tier-specific policy whose window makes age the only tie-breaker */
	ck_assert_int_eq(h_sql_exec(c, "INSERT INTO sla_policy (urgency, customer_tier, "
				       "due_minutes) VALUES ('low', 'legacy', 2880)"),
			 0);
	add_tickets(c, T, fxs, pk);
	/* decided rows as they were before 002 (the migration backfills review_state) */
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET review_state = status WHERE "
				       "status IN ('approved', 'rejected')"),
			 0);
	/* q-norm-rev2: revision 2 (normal) awaits review; q-superseded: revision 2 approved */
	ck_assert_int_eq(add_revision2(c, pk[9], "pending_review", "normal"), 0);
	ck_assert_int_eq(add_revision2(c, pk[12], "approved", "critical"), 0);
	/* a claimed ticket stays in the queue */
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET review_state = 'claimed', "
				       "assigned_to = 'zed', claimed_at = now() WHERE ticket_pk = %lld",
				    pk[3]),
			 0);

	ck_sql_str(c,
		   "q-crit-ent,q-crit-std,q-nh,q-high-prem,q-high-free,q-norm-ent,q-norm-rev2,"
		   "q-norm-std,q-low-none,q-low-legacy",
		   "SELECT string_agg(ticket_id, ',' ORDER BY queue_position) FROM agent_review_queue");
	/* positions are 1..n without gaps, one row per ticket */
	ck_sql_str(c, "10 10 10 1",
		   "SELECT count(*) || ' ' || count(DISTINCT ticket_pk) || ' ' || max(queue_position) "
		   "|| ' ' || min(queue_position) FROM agent_review_queue");
	/* the latest revision is the one shown */
	ck_assert_int_eq(h_sql_ll(c, "SELECT revision FROM agent_review_queue WHERE ticket_id = "
				     "'q-norm-rev2'"),
			 2);
	ck_sql_str(c, "normal", "SELECT urgency FROM agent_review_queue WHERE ticket_id = 'q-norm-rev2'");
	/* columns the agents need */
	ck_sql_str(c, "claimed zed f", "SELECT concat_ws(' ', review_state, assigned_to, "
				       "escalated) FROM agent_review_queue WHERE ticket_id = 'q-high-free'");
	ck_sql_str(c, "needs_human 40 t",
		   "SELECT concat_ws(' ', status, extract(epoch FROM sla_due - '" T "'::timestamptz)::int "
		   "/ 60, sla_breached) FROM agent_review_queue WHERE ticket_id = 'q-nh'");
	ck_sql_str(c, "Subject of q-crit-ent|email|d|mini-1|50",
		   "SELECT concat_ws('|', subject, channel, draft_reply, model, priority) "
		   "FROM agent_review_queue WHERE queue_position = 1");
	PQfinish(c);
}
END_TEST

/* triaged_sla_due and the queue's deadline, breach and at-risk figures. */
START_TEST(test_sla)
{
	static const struct fx fxs[] = {
		{"s-breached", "standard", 300, NULL, "high", "billing", "d", "mini", "mini-1"},
		{"s-risk", "standard", 200, NULL, "high", "billing", "d", "mini", "mini-1"},
		{"s-fresh", "standard", 10, NULL, "high", "billing", "d", "mini", "mini-1"},
		{"s-nh", "enterprise", 100, "needs_human", NULL, NULL, NULL, NULL, NULL},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	static const struct {
		const char *urgency, *tier;
		int minutes;
	} due[] = {
		{"'critical'", "NULL", 60},	 {"'critical'", "'enterprise'", 30},
		{"'critical'", "'premium'", 30}, {"'high'", "'standard'", 240},
		{"'high'", "'Premium'", 120},	 {"'normal'", "'free'", 1440},
		{"'normal'", "'enterprise'", 720}, {"'low'", "NULL", 4320},
		{"'low'", "'Enterprise'", 2160}, {"NULL", "NULL", 240},
		{"NULL", "'premium'", 120},	 {"'high'", "'gold'", 10},
	};
	PGconn *c = db_new("r_sla");

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_sql_exec(c, "INSERT INTO sla_policy (urgency, customer_tier, "
				       "due_minutes) VALUES ('high', 'gold', 10)"),
			 0);
	for (size_t i = 0; i < sizeof(due) / sizeof(due[0]); i++) {
		long long m = h_sql_ll(c,
				       "SELECT extract(epoch FROM triaged_sla_due(%s, %s, '" T
				       "') - '" T "'::timestamptz)::int / 60",
				       due[i].urgency, due[i].tier);
		ck_assert_msg(m == due[i].minutes, "sla_due(%s, %s): %lld min, want %d",
			      due[i].urgency, due[i].tier, m, due[i].minutes);
	}
	/* tiers are stored lower-case, one default row per urgency */
	ck_assert_int_eq(sqlstate(c, "INSERT INTO sla_policy (urgency, customer_tier, due_minutes) "
				     "VALUES ('low', 'VIP', 5)")[0],
			 '2');
	ck_assert_str_eq(sqlstate(c, "INSERT INTO sla_policy (urgency, customer_tier, due_minutes) "
				     "VALUES ('low', NULL, 5)"),
			 "23505");

	add_tickets(c, NULL, fxs, NULL);
	ck_sql_str(c, "s-breached:t:-60,s-nh:f:20,s-risk:f:40,s-fresh:f:230",
		   "SELECT string_agg(concat_ws(':', ticket_id, sla_breached, "
		   "round(extract(epoch FROM sla_due - now()) / 60)), ',' ORDER BY queue_position) "
		   "FROM agent_review_queue");
	ck_sql_str(c, "300", "SELECT round(extract(epoch FROM waiting) / 60) FROM "
			     "agent_review_queue WHERE ticket_id = 's-breached'");
	ck_sql_str(c, "3 3 1 1",
		   "SELECT concat_ws(' ', awaiting, open, breached, at_risk) FROM metrics_backlog "
		   "WHERE urgency = 'high'");
	ck_sql_str(c, "1 0 1", "SELECT concat_ws(' ', awaiting, breached, at_risk) FROM "
			       "metrics_backlog WHERE urgency IS NULL");

	/* triaged_store computes a first revision's order keys itself (issue #15): they
	 * must be what the row trigger would compute (its own tier's policy, else the
	 * NULL-tier one; a NULL urgency counts as high; an unknown tier) */
	ck_sql_str(c, "8",
		   "SELECT count(*) FROM triaged_claim((SELECT jsonb_agg(jsonb_build_object("
		   "'source', 'web', 'ticket_id', 'k-' || i, 'channel', 'email', 'body', 'Hi', "
		   "'customer_tier', (ARRAY['Gold', 'gold', 'premium', NULL, 'unknown', "
		   "'Enterprise', 'free', 'standard'])[i])) FROM generate_series(1, 8) i))");
	ck_sql_str(c, "8",
		   "SELECT count(*) FROM triaged_store((SELECT jsonb_agg(jsonb_build_object("
		   "'ticket_pk', t.id, 'revision', 1, 'status', 'pending_review', 'urgency', "
		   "(ARRAY['high', 'high', NULL, 'critical', 'low', 'critical', 'normal', NULL])"
		   "[substr(t.ticket_id, 3)::int], 'decided_by', 'mini', 'model', 'mini-1', "
		   "'prompt_version', 'triage-v1')) FROM tickets t WHERE t.ticket_id LIKE 'k-%%'))");
	ck_sql_str(c, "8 8 10,10,120,60,4320,30,1440,240",
		   "SELECT count(*) FILTER (WHERE tr.q_sla_due = triaged_sla_due(tr.urgency, "
		   "t.customer_tier, t.received_at) AND tr.q_received_at = t.received_at) || ' ' || "
		   "count(*) FILTER (WHERE tr.q_tier = triaged_tier_rank(t.customer_tier) AND "
		   "tr.q_urgency = triaged_urgency_rank(tr.urgency)) || ' ' || string_agg(("
		   "extract(epoch FROM tr.q_sla_due - t.received_at) / 60)::int::text, ',' ORDER BY "
		   "substr(t.ticket_id, 3)::int) FROM triage_results tr JOIN tickets t ON t.id = "
		   "tr.ticket_pk WHERE t.ticket_id LIKE 'k-%%'");
	PQfinish(c);
}
END_TEST

/* Two connections never get the same ticket; SKIP LOCKED never waits. */
START_TEST(test_claim_concurrency)
{
	static const struct fx fxs[] = {
		{"c-1", "standard", 10, NULL, "critical", "outage", "d", "mini", "mini-1"},
		{"c-2", "standard", 10, NULL, "high", "billing", "d", "mini", "mini-1"},
		{"c-3", "standard", 10, NULL, "normal", "billing", "d", "mini", "mini-1"},
		{"c-4", "standard", 10, NULL, "low", "billing", "d", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	long long pk[4];
	PGconn *c = db_new("r_claim"), *a, *b;
	PGresult *r;
	int trues = 0;

	ck_assert_ptr_nonnull(c);
	add_tickets(c, NULL, fxs, pk);
	a = connect_as("r_claim", "postgres");
	b = connect_as("r_claim", "postgres");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* a wait on a lock would fail the statement instead of hanging the test */
	ck_assert_int_eq(h_sql_exec(b, "SET statement_timeout = '5s'"), 0);

	/* claim_next: A holds c-1 uncommitted; B gets c-2 at once */
	ck_assert_int_eq(h_sql_exec(a, "BEGIN"), 0);
	ck_assert_int_eq(h_sql_ll(a, "SELECT review_claim_next('alice')"), pk[0]);
	ck_assert_int_eq(h_sql_ll(b, "SELECT review_claim_next('bob')"), pk[1]);
	ck_assert_int_eq(h_sql_exec(a, "COMMIT"), 0);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_claim_next('carol')"), pk[2]);
	/* A holds the last open one: B finds nothing, without waiting */
	ck_assert_int_eq(h_sql_exec(a, "BEGIN"), 0);
	ck_assert_int_eq(h_sql_ll(a, "SELECT review_claim_next('alice')"), pk[3]);
	ck_sql_str(b, "none", "SELECT coalesce(review_claim_next('bob')::text, 'none')");
	ck_assert_int_eq(h_sql_exec(a, "COMMIT"), 0);
	ck_sql_str(c, "alice,bob,carol,alice",
		   "SELECT string_agg(assigned_to, ',' ORDER BY queue_position) FROM "
		   "agent_review_queue WHERE review_state = 'claimed'");
	ck_sql_str(c, "none", "SELECT coalesce(review_claim_next('dave')::text, 'none')");

	/* review_claim on one ticket from two connections: B waits for A's row lock */
	ck_assert_int_eq(h_sql_exec(c, "SELECT review_release(%lld, 'alice')", pk[3]), 0);
	ck_assert_int_eq(h_sql_exec(b, "SET statement_timeout = 0"), 0);
	ck_assert_int_eq(h_sql_exec(a, "BEGIN"), 0);
	ck_sql_str(a, "t", "SELECT review_claim(%lld, 'dave')", pk[3]);
	trues++;
	ck_assert_int_eq(PQsendQuery(b, "SELECT review_claim((SELECT id FROM tickets WHERE "
					"ticket_id = 'c-4'), 'erin')"),
			 1);
	usleep(300 * 1000);
	ck_assert_int_eq(PQconsumeInput(b), 1);
	ck_assert_int_eq(PQisBusy(b), 1);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND "
				     "wait_event_type = 'Lock'",
				  PQbackendPID(b)),
			 1);
	ck_assert_int_eq(h_sql_exec(a, "COMMIT"), 0);
	r = PQgetResult(b);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
		trues++;
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "f");
	PQclear(r);
	ck_assert_ptr_null(PQgetResult(b));
	ck_assert_int_eq(trues, 1);
	ck_sql_str(c, "dave", "SELECT assigned_to FROM triage_results WHERE ticket_pk = %lld", pk[3]);
	/* claiming one's own ticket again is fine; someone else's is not */
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'dave')", pk[3]);
	ck_sql_str(c, "f", "SELECT review_claim(%lld, 'erin')", pk[3]);

	/* only the holder acts on a claimed ticket */
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(%lld, 1, NULL, 'erin')", pk[3]), "55P03");
	ck_assert_str_eq(sqlstate(c, "SELECT review_release(%lld, 'erin')", pk[3]), "55P03");
	ck_assert_str_eq(sqlstate(c, "SELECT review_reassign(%lld, 'erin', 'erin')", pk[3]),
			 "55P03");
	ck_assert_str_eq(sqlstate(c, "SELECT review_reassign(%lld, '', 'dave')", pk[3]), "22004");
	ck_assert_str_eq(sqlstate(c, "SELECT review_claim(%lld, ' ')", pk[3]), "22004");
	ck_assert_str_eq(sqlstate(c, "SELECT review_claim(987654, 'dave')"), "P0002");
	ck_assert_int_eq(h_sql_exec(c, "SELECT review_reassign(%lld, 'erin', 'dave')", pk[3]), 0);
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(%lld, 1, NULL, 'dave')", pk[3]), "55P03");
	ck_sql_str(c, "accepted", "SELECT review_approve(%lld, 1, NULL, 'erin')", pk[3]);
	/* done: nobody can claim, release or approve it again */
	ck_sql_str(c, "f", "SELECT review_claim(%lld, 'frank')", pk[3]);
	ck_assert_str_eq(sqlstate(c, "SELECT review_release(%lld, 'erin')", pk[3]), "55000");
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(%lld, 1, NULL, 'erin')", pk[3]), "55000");
	/* releasing an open ticket is a mistake too */
	ck_assert_int_eq(h_sql_exec(c, "SELECT review_release(%lld, 'carol')", pk[2]), 0);
	ck_assert_str_eq(sqlstate(c, "SELECT review_release(%lld, 'carol')", pk[2]), "55000");
	ck_sql_str(c, "open", "SELECT review_state FROM triage_results WHERE ticket_pk = %lld", pk[2]);

	/* every action is in the audit log, with its agent */
	ck_sql_str(c, "claim:alice,release:alice,claim:dave,reassign:dave,approve:erin",
		   "SELECT string_agg(action || ':' || agent, ',' ORDER BY id) FROM review_events "
		   "WHERE ticket_pk = %lld",
		   pk[3]);
	ck_sql_str(c, "{\"to\": \"erin\", \"from\": \"dave\"}",
		   "SELECT detail::text FROM review_events WHERE action = 'reassign'");
	PQfinish(a);
	PQfinish(b);
	PQfinish(c);
}
END_TEST

/* Approve with and without an edited reply, reject with a reason; outcome counts. */
START_TEST(test_approve_reject)
{
	static const struct fx fxs[] = {
		{"a-1", "standard", 10, NULL, "normal", "billing", "Hello A", "mini", "mini-1"},
		{"a-2", "standard", 10, NULL, "normal", "billing", "Hello B", "mini", "mini-1"},
		{"a-3", "standard", 10, NULL, "normal", "billing", "Hello C", "flagship", "big-1"},
		{"a-4", "standard", 10, NULL, "normal", "shipping", "Hello D", "mini", "mini-1"},
		{"a-5", "standard", 10, "needs_human", NULL, NULL, NULL, NULL, NULL},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	long long pk[5];
	PGconn *c = db_new("r_approve");

	ck_assert_ptr_nonnull(c);
	add_tickets(c, NULL, fxs, pk);

	/* an open ticket is claimed and approved at once; the draft goes out */
	ck_sql_str(c, "accepted", "SELECT review_approve(%lld, 1, p_agent => 'ann')", pk[0]);
	ck_sql_str(c, "approved|approved|Hello A|accepted|ann|ann|t",
		   "SELECT concat_ws('|', status, review_state, final_reply, review_outcome, "
		   "reviewed_by, assigned_to, reviewed_at IS NOT NULL) FROM triage_results "
		   "WHERE ticket_pk = %lld",
		   pk[0]);
	ck_sql_str(c, "claim,approve", "SELECT string_agg(action, ',' ORDER BY id) FROM "
				       "review_events WHERE ticket_pk = %lld",
		   pk[0]);
	/* a reply equal to the draft is still 'accepted'; a different one is 'edited' */
	ck_assert_int_eq(h_sql_exec(c, "SELECT review_claim(%lld, 'ann')", pk[1]), 0);
	ck_sql_str(c, "accepted", "SELECT review_approve(%lld, 1, 'Hello B', 'ann')", pk[1]);
	ck_sql_str(c, "edited", "SELECT review_approve(%lld, 1, 'Hello C, edited', 'ann')", pk[2]);
	ck_sql_str(c, "Hello C, edited|edited",
		   "SELECT final_reply || '|' || review_outcome FROM triage_results WHERE "
		   "ticket_pk = %lld",
		   pk[2]);
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(%lld, 1, '  ', 'ann')", pk[3]), "22023");

	/* reject needs a reason; a failed call changes nothing */
	ck_assert_str_eq(sqlstate(c, "SELECT review_reject(%lld, 1, NULL, 'bo')", pk[3]), "22004");
	ck_assert_str_eq(sqlstate(c, "SELECT review_reject(%lld, 1, '   ', 'bo')", pk[3]), "22004");
	ck_sql_str(c, "open pending_review", "SELECT review_state || ' ' || status FROM "
					     "triage_results WHERE ticket_pk = %lld",
		   pk[3]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM review_events WHERE ticket_pk = %lld",
				  pk[3]),
			 0);
	ck_assert_int_eq(h_sql_exec(c, "SELECT review_reject(%lld, 1, 'wrong category', 'bo')", pk[3]),
			 0);
	ck_sql_str(c, "rejected|rejected|rejected|wrong category|bo",
		   "SELECT concat_ws('|', status, review_state, review_outcome, reject_reason, "
		   "reviewed_by) FROM triage_results WHERE ticket_pk = %lld",
		   pk[3]);
	ck_assert_str_eq(sqlstate(c, "SELECT review_reject(%lld, 1, 'again', 'bo')", pk[3]), "55000");

	/* a needs_human ticket has no draft: the agent must write the reply */
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(%lld, 1, NULL, 'cy')", pk[4]), "22004");
	ck_sql_str(c, "edited", "SELECT review_approve(%lld, 1, 'Written by hand', 'cy')", pk[4]);
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(987654, 1, NULL, 'cy')"), "P0002");
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM agent_review_queue"), 0);

	/* 5 reviewed: accepted 2 (a-1, a-2), edited 2 (a-3, a-5), rejected 1 (a-4) */
	ck_sql_str(c, "5 2 2 1 0.4000 0.8000",
		   "SELECT concat_ws(' ', reviewed, accepted, edited, rejected, acceptance_rate, "
		   "approval_rate) FROM review_outcomes WHERE dimension = 'all'");
	ck_sql_str(c, "3 2 1 0 0.6667",
		   "SELECT concat_ws(' ', reviewed, accepted, edited, rejected, acceptance_rate) "
		   "FROM review_outcomes WHERE dimension = 'category' AND category = 'billing'");
	ck_sql_str(c, "1 0 0 1 0.0000",
		   "SELECT concat_ws(' ', reviewed, accepted, edited, rejected, acceptance_rate) "
		   "FROM review_outcomes WHERE dimension = 'category' AND category = 'shipping'");
	ck_sql_str(c, "3 2 0 1",
		   "SELECT concat_ws(' ', reviewed, accepted, edited, rejected) FROM "
		   "review_outcomes WHERE dimension = 'model' AND decided_by = 'mini' AND "
		   "model = 'mini-1'");
	ck_sql_str(c, "1 0 1 0",
		   "SELECT concat_ws(' ', reviewed, accepted, edited, rejected) FROM "
		   "review_outcomes WHERE dimension = 'model' AND decided_by = 'flagship'");
	ck_sql_str(c, "1 0 1 0",
		   "SELECT concat_ws(' ', reviewed, accepted, edited, rejected) FROM "
		   "review_outcomes WHERE dimension = 'model' AND decided_by IS NULL");
	/* the daily view has the same, under today */
	ck_sql_str(c, "5 2", "SELECT concat_ws(' ', reviewed, accepted) FROM "
			     "metrics_review_outcomes WHERE dimension = 'all' AND day = "
			     "date_trunc('day', now())");
	PQfinish(c);
}
END_TEST

/* Corrections are gold labels: stored apart, shown by the queue, model labels kept. */
START_TEST(test_corrections)
{
	static const struct fx fxs[] = {
		{"k-1", "standard", 10, NULL, "low", "billing", "d", "mini", "mini-1"},
		{"k-2", "standard", 10, NULL, "normal", "billing", "d", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	long long pk[2];
	PGconn *c = db_new("r_correct");

	ck_assert_ptr_nonnull(c);
	add_tickets(c, NULL, fxs, pk);
	ck_sql_str(c, "k-2,k-1", "SELECT string_agg(ticket_id, ',' ORDER BY queue_position) FROM "
				 "agent_review_queue");

	ck_assert_str_eq(sqlstate(c, "SELECT review_correct(%lld, 1, p_agent => 'kim')", pk[0]),
			 "22004");
	ck_assert_str_eq(sqlstate(c, "SELECT review_correct(%lld, 1, NULL, 'urgent', NULL, 'kim')",
				  pk[0]),
			 "22023");
	ck_assert_str_eq(sqlstate(c, "SELECT review_correct(%lld, 1, NULL, NULL, 'angry', 'kim')",
				  pk[0]),
			 "22023");
	ck_assert_str_eq(sqlstate(c, "SELECT review_correct(%lld, 1, ' ', NULL, NULL, 'kim')", pk[0]),
			 "22023");
	/* sentiment given but unchanged: two fields change, two rows */
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_correct(%lld, 1, 'shipping', 'critical', "
				     "'neutral', 'kim')",
				  pk[0]),
			 2);
	ck_sql_str(c, "category:billing>shipping:kim,urgency:low>critical:kim",
		   "SELECT string_agg(field || ':' || old_value || '>' || new_value || ':' || agent, "
		   "',' ORDER BY field) FROM label_corrections WHERE ticket_pk = %lld AND "
		   "revision = 1",
		   pk[0]);
	/* the model's labels are untouched */
	ck_sql_str(c, "billing low neutral", "SELECT concat_ws(' ', category, urgency, sentiment) "
					     "FROM triage_results WHERE ticket_pk = %lld",
		   pk[0]);
	/* the queue shows the corrected labels, and orders by them */
	ck_sql_str(c, "shipping critical neutral t claimed kim",
		   "SELECT concat_ws(' ', category, urgency, sentiment, labels_corrected, "
		   "review_state, assigned_to) FROM agent_review_queue WHERE ticket_pk = %lld",
		   pk[0]);
	ck_sql_str(c, "k-1,k-2", "SELECT string_agg(ticket_id, ',' ORDER BY queue_position) FROM "
				 "agent_review_queue");
	ck_sql_str(c, "f", "SELECT labels_corrected FROM agent_review_queue WHERE ticket_pk = %lld",
		   pk[1]);
	/* the same values again change nothing; a new one chains from the last */
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_correct(%lld, 1, 'shipping', 'critical', NULL, "
				     "'kim')",
				  pk[0]),
			 0);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_correct(%lld, 1, 'refund', p_agent => 'kim')",
				  pk[0]),
			 1);
	ck_sql_str(c, "shipping>refund", "SELECT old_value || '>' || new_value FROM "
					 "label_corrections ORDER BY id DESC LIMIT 1");
	ck_sql_str(c, "refund", "SELECT category FROM agent_review_queue WHERE ticket_pk = %lld",
		   pk[0]);
	/* kim holds it now: nobody else corrects it */
	ck_assert_str_eq(sqlstate(c, "SELECT review_correct(%lld, 1, 'billing', p_agent => 'lou')",
				  pk[0]),
			 "55P03");
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM label_corrections"), 3);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM review_events WHERE action = 'correct'"),
			 3);

	/* outcomes and volume count the corrected category */
	ck_sql_str(c, "accepted", "SELECT review_approve(%lld, 1, NULL, 'kim')", pk[0]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT reviewed FROM review_outcomes WHERE dimension = "
				     "'category' AND category = 'refund'"),
			 1);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM review_outcomes WHERE category = "
				     "'billing'"),
			 0);
	ck_sql_str(c, "refund critical", "SELECT category || ' ' || urgency FROM "
					 "metrics_volume_daily WHERE category <> 'billing'");
	/* a reviewed ticket takes no more corrections */
	ck_assert_str_eq(sqlstate(c, "SELECT review_correct(%lld, 1, 'billing', p_agent => 'kim')",
				  pk[0]),
			 "55000");
	PQfinish(c);
}
END_TEST

/* Agents, supervisors and the daemon can do their work and nothing else. */
START_TEST(test_roles)
{
	static const struct fx fxs[] = {
		{"p-1", "standard", 10, NULL, "high", "billing", "Hi", "mini", "mini-1"},
		{"p-2", "standard", 10, NULL, "normal", "billing", "Hi", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	static const char *const views[] = {
		"agent_review_queue",	 "review_outcomes",	  "metrics_review_outcomes",
		"metrics_volume_hourly", "metrics_volume_daily", "metrics_escalation",
		"metrics_escalation_reasons", "metrics_model_latency", "metrics_backlog",
		"metrics_dlq",
	};
	long long pk[2], got, svc_pk;
	PGconn *c = db_new("r_roles"), *ag, *sup, *svc, *nob, *app;

	ck_assert_ptr_nonnull(c);
	add_tickets(c, NULL, fxs, pk);
	ck_assert_int_eq(login_role(c, "agent1", "triaged_agent"), 0);
	ck_assert_int_eq(login_role(c, "super1", "triaged_supervisor"), 0);
	ck_assert_int_eq(login_role(c, "svc1", "triaged_service"), 0);
	ck_assert_int_eq(login_role(c, "nobody1", NULL), 0);

	/* agent: the queue and the functions, with its login as the default agent */
	ag = connect_as("r_roles", "agent1");
	ck_assert_ptr_nonnull(ag);
	ck_assert_int_eq(h_sql_ll(ag, "SELECT count(*) FROM agent_review_queue"), 2);
	got = h_sql_ll(ag, "SELECT review_claim_next()");
	ck_assert_int_eq(got, pk[0]);
	ck_sql_str(c, "agent1", "SELECT assigned_to FROM triage_results WHERE ticket_pk = %lld", pk[0]);
	ck_sql_str(ag, "edited", "SELECT review_approve(%lld, 1, 'Hello there')", pk[0]);
	ck_sql_str(c, "agent1 agent1", "SELECT reviewed_by || ' ' || db_user FROM triage_results tr "
				       "JOIN review_events e ON e.result_id = tr.id WHERE e.action = "
				       "'approve'");
	/* an agent's own login acts only as itself */
	ck_assert_str_eq(sqlstate(ag, "SELECT review_correct(%lld, 1, 'refund', NULL, NULL, 'maria')",
				  pk[1]),
			 "42501");
	/* a shared application login (triaged_review_app) acts for a named agent, recorded with the
	 * login that did it */
	ck_assert_int_eq(login_role(c, "app1", "triaged_review_app"), 0);
	app = connect_as("r_roles", "app1");
	ck_assert_ptr_nonnull(app);
	ck_assert_int_eq(h_sql_ll(app, "SELECT review_correct(%lld, 1, 'refund', NULL, NULL, 'maria')",
				  pk[1]),
			 1);
	ck_sql_str(c, "maria app1", "SELECT agent || ' ' || db_user FROM review_events WHERE "
				    "action = 'correct'");
	PQfinish(app);
	ck_assert_int_eq(h_sql_ll(ag, "SELECT reviewed FROM review_outcomes WHERE dimension = "
				      "'all'"),
			 1);
	ck_assert_str_eq(sqlstate(ag, "UPDATE triage_results SET category = 'x'"), "42501");
	ck_assert_str_eq(sqlstate(ag, "SELECT * FROM model_calls"), "42501");
	ck_assert_str_eq(sqlstate(ag, "SELECT * FROM triage_results"), "42501");
	ck_assert_str_eq(sqlstate(ag, "DELETE FROM tickets"), "42501");
	ck_assert_str_eq(sqlstate(ag, "INSERT INTO label_corrections (ticket_pk, revision, field, "
				      "new_value, agent) VALUES (%lld, 1, 'category', 'x', 'a')",
				  pk[1]),
			 "42501");
	ck_assert_str_eq(sqlstate(ag, "INSERT INTO review_events (result_id, ticket_pk, revision, "
				      "action, agent) VALUES (1, 1, 1, 'claim', 'x')"),
			 "42501");
	ck_assert_str_eq(sqlstate(ag, "SELECT triaged_review_take(%lld, 1, 'agent1')", pk[1]),
			 "42501");
	ck_assert_str_eq(sqlstate(ag, "SELECT * FROM metrics_backlog"), "42501");
	/* the model's labels were not changed by anything the agent did */
	ck_sql_str(c, "billing", "SELECT category FROM triage_results WHERE ticket_pk = %lld", pk[1]);

	/* supervisor: every view, no review function, no table */
	sup = connect_as("r_roles", "super1");
	ck_assert_ptr_nonnull(sup);
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		const char *st = sqlstate(sup, "SELECT * FROM %s", views[i]);
		ck_assert_msg(strcmp(st, "00000") == 0, "supervisor SELECT %s: %s", views[i], st);
	}
	ck_assert_int_eq(h_sql_ll(sup, "SELECT awaiting FROM metrics_backlog WHERE urgency = "
				       "'normal'"),
			 1);
	ck_assert_str_eq(sqlstate(sup, "SELECT review_approve(%lld, 1)", pk[1]), "42501");
	ck_assert_str_eq(sqlstate(sup, "SELECT review_claim_next()"), "42501");
	ck_assert_str_eq(sqlstate(sup, "SELECT * FROM triage_results"), "42501");
	ck_assert_str_eq(sqlstate(sup, "UPDATE sla_policy SET due_minutes = 1"), "42501");

	/* the daemon's role: claim and store a batch as triaged does, read schema_version */
	svc = connect_as("r_roles", "svc1");
	ck_assert_ptr_nonnull(svc);
	ck_assert_int_ge(h_sql_ll(svc, "SELECT max(version) FROM schema_version"), 2);
	ck_sql_str(svc, "new",
		   "SELECT state FROM triaged_claim_rows(ARRAY(SELECT jsonb_populate_recordset("
		   "NULL::triaged_claim_in, '[{\"source\": \"web\", \"ticket_id\": \"svc-1\", "
		   "\"channel\": \"email\", \"body\": \"Hi\", \"customer_tier\": \"premium\"}]')))");
	/* the JSON wrapper is for scripts, not the daemon's role (as triaged_store's) */
	ck_assert_str_eq(sqlstate(svc, "SELECT * FROM triaged_claim('[]')"), "42501");
	svc_pk = h_sql_ll(c, "SELECT id FROM tickets WHERE ticket_id = 'svc-1'");
	ck_assert_int_gt(svc_pk, 0);
	ck_sql_str(svc, "t",
		   "SELECT inserted FROM triaged_store_rows(ARRAY(SELECT jsonb_populate_recordset("
		   "NULL::triaged_store_in, jsonb_build_array(jsonb_build_object("
		   "'ticket_pk', %lld, 'revision', 1, "
		   "'status', 'pending_review', 'category', 'billing', 'sentiment', 'neutral', "
		   "'urgency', 'high', 'confidence', 0.8, 'draft_reply', 'Hi', 'decided_by', 'mini', "
		   "'model', 'mini-1', 'prompt_version', 'triage-v1', 'calls', jsonb_build_array("
		   "jsonb_build_object('seq', 1, 'tier', 'mini', 'purpose', 'triage', 'model', "
		   "'mini-1', 'prompt_version', 'triage-v1', 'outcome', 'ok', 'attempts', 1, "
		   "'latency_ms', 12.5, 'total_ms', 12.5, 'started_ms', 1714564800000, "
		   "'finished_ms', 1714564800012)))))))",
		   svc_pk);
	/* the daemon writes only through its functions */
	ck_assert_str_eq(sqlstate(svc, "SELECT * FROM tickets"), "42501");
	ck_assert_str_eq(sqlstate(svc, "INSERT INTO dead_letters (topic, partition, kafka_offset, "
				       "error_code) VALUES ('t', 0, 0, 'x')"),
			 "42501");
	/* the review columns got their defaults, and the ticket is in the queue */
	ck_sql_str(c, "open 50 f", "SELECT concat_ws(' ', review_state, priority, escalated) FROM "
				   "triage_results tr JOIN tickets t ON t.id = tr.ticket_pk WHERE "
				   "t.ticket_id = 'svc-1'");
	ck_assert_int_eq(h_sql_ll(ag, "SELECT queue_position FROM agent_review_queue WHERE "
				      "ticket_id = 'svc-1'"),
			 1);
	ck_assert_str_eq(sqlstate(svc, "SELECT review_claim(%lld, 'svc')", pk[1]), "42501");
	ck_assert_str_eq(sqlstate(svc, "SELECT * FROM agent_review_queue"), "42501");
	ck_assert_str_eq(sqlstate(svc, "SELECT * FROM label_corrections"), "42501");

	/* anyone else: nothing */
	nob = connect_as("r_roles", "nobody1");
	ck_assert_ptr_nonnull(nob);
	ck_assert_str_eq(sqlstate(nob, "SELECT review_claim(%lld)", pk[1]), "42501");
	ck_assert_str_eq(sqlstate(nob, "SELECT * FROM tickets"), "42501");
	ck_assert_str_eq(sqlstate(nob, "SELECT * FROM agent_review_queue"), "42501");
	ck_assert_str_eq(sqlstate(nob, "SELECT * FROM triaged_claim('[]')"), "42501");
	PQfinish(nob);
	PQfinish(svc);
	PQfinish(sup);
	PQfinish(ag);
	PQfinish(c);
}
END_TEST

/*
 * Add to out (comma-separated, no repeats) every SQL function the daemon's C
 * sources call: the name after "FROM " in a string literal, "triaged_...(".
 * Walks dir recursively. Returns the number of files read, -1 on error.
 */
static int daemon_sql_calls(const char *dir, char *out, size_t outlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX], *text = NULL;
		size_t len = strlen(e->d_name), cap = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR) {
			int n = daemon_sql_calls(path, out, outlen);
			if (n < 0) {
				closedir(d);
				return -1;
			}
			files += n;
			continue;
		}
		if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0)
			continue;
		/* `triaged eval` (eval_*.c) is a command run as the schema's owner (it
		 * writes eval_answers, which no role may): its statements are not the
		 * daemon's entry points */
		if (strncmp(e->d_name, "eval_", 5) == 0)
			continue;
		f = fopen(path, "r");
		if (f == NULL || getdelim(&text, &cap, '\0', f) < 0) {
			if (f)
				fclose(f);
			free(text);
			closedir(d);
			return -1;
		}
		fclose(f);
		files++;
		for (const char *p = text; (p = strstr(p, "FROM triaged_")) != NULL; p++) {
			char name[80], key[84];
			size_t n = strspn(p + 5, "abcdefghijklmnopqrstuvwxyz0123456789_");
			if (n >= sizeof(name) || p[5 + n] != '(')
				continue;
			memcpy(name, p + 5, n);
			name[n] = '\0';
			snprintf(key, sizeof(key), ",%s,", name);
			{
				char padded[4096];
				snprintf(padded, sizeof(padded), ",%s,", out);
				if (strstr(padded, key))
					continue;
			}
			if (*out)
				strncat(out, ",", outlen - strlen(out) - 1);
			strncat(out, name, outlen - strlen(out) - 1);
		}
		free(text);
	}
	closedir(d);
	return files;
}

/*
 * Every function the daemon calls exists and is granted to triaged_service,
 * and nothing else is; the agent and supervisor roles get exactly the
 * functions and views the README documents; no function of the schema is in
 * two versions (name_v2, name_v3).
 */
/*
 * Migration 066 gave the calls the provider's request id in a new row type: a
 * daemon of the version before, still sending triaged_call_in rows to
 * triaged_record_calls_rows until its restart, keeps recording its calls (no
 * id); the new rows keep theirs; the JSON form takes it too.
 */
START_TEST(test_call_rows_upgrade)
{
	PGconn *c = db_new("r_callrows");

	ck_assert_ptr_nonnull(c);
	ck_sql_str(c, "1",
		   "SELECT count(*) FROM triaged_record_calls_rows(ARRAY[ROW(1, 1, 1, 'mini', "
		   "'triage', 'gpt-4o-mini', 'v1', 'ok', NULL, 200, 1, 0, 500, 120, 0, 3.0, 3.0, "
		   "1765000000000, 1765000000300, '{}', NULL, NULL, 0, 'openai', 'json_schema', "
		   "NULL, NULL, NULL, NULL)::triaged_call_in]) WHERE call_id IS NOT NULL");
	ck_sql_str(c, "1",
		   "SELECT count(*) FROM triaged_record_calls_rows2(ARRAY[ROW(1, 1, 2, 'mini', "
		   "'triage', 'gpt-4o-mini', 'v1', 'ok', NULL, 200, 1, 0, 500, 120, 0, 3.0, 3.0, "
		   "1765000000000, 1765000000300, '{}', NULL, NULL, 0, 'openai', 'json_schema', "
		   "NULL, NULL, NULL, NULL, 'req_abc')::triaged_call_in2]) WHERE call_id IS NOT NULL");
	ck_sql_str(c, "1",
		   "SELECT count(*) FROM triaged_record_calls('[{\"ticket_pk\": 1, \"revision\": 1, "
		   "\"seq\": 3, \"tier\": \"mini\", \"purpose\": \"triage\", \"model\": "
		   "\"gpt-4o-mini\", \"prompt_version\": \"v1\", \"outcome\": \"ok\", "
		   "\"attempts\": 1, \"latency_ms\": 3.0, \"total_ms\": 3.0, "
		   "\"started_ms\": 1765000000000, "
		   "\"finished_ms\": 1765000000300, "
		   "\"provider_request_id\": \"req_json\"}]'::jsonb) WHERE call_id IS NOT NULL");
	/* the old rows keep their order: idx is the position in the batch */
	ck_sql_str(c, "0,1",
		   "SELECT string_agg(idx::text, ',' ORDER BY call_id) FROM "
		   "triaged_record_calls_rows(ARRAY[ROW(1, 1, 4, "
		   "'mini', 'triage', 'gpt-4o-mini', 'v1', 'ok', NULL, 200, 1, 0, 5, 5, 0, 3.0, 3.0, "
		   "1765000000000, 1765000000300, '{}', NULL, NULL, 0, 'openai', 'json_schema', "
		   "NULL, NULL, NULL, NULL)::triaged_call_in, ROW(1, 1, 5, 'mini', 'triage', "
		   "'gpt-4o-mini', 'v1', 'ok', NULL, 200, 1, 0, 5, 5, 0, 3.0, 3.0, 1765000000000, "
		   "1765000000300, '{}', NULL, NULL, 0, 'openai', 'json_schema', NULL, NULL, NULL, "
		   "NULL)::triaged_call_in])");
	ck_sql_str(c, "4,5", "SELECT string_agg(seq::text, ',' ORDER BY id) FROM model_calls "
			     "WHERE seq IN (4, 5)");
	ck_sql_str(c, "1:,2:req_abc,3:req_json,4:,5:",
		   "SELECT string_agg(seq || ':' || coalesce(provider_request_id, ''), ',' ORDER BY "
		   "seq) FROM model_calls WHERE ticket_pk = 1");
	PQfinish(c);
}
END_TEST

START_TEST(test_grants)
{
	char src[PATH_MAX], calls[2048] = "";
	PGconn *c = db_new("r_grants");
	char *got;

	ck_assert_ptr_nonnull(c);
	snprintf(src, sizeof(src), "%s/service", h_source_dir());
	ck_assert_int_gt(daemon_sql_calls(src, calls, sizeof(calls)), 10);
	/* the five batch writes the daemon makes */
	ck_assert_msg(strstr(calls, "triaged_claim") && strstr(calls, "triaged_store") &&
			      strstr(calls, "triaged_record_calls") &&
			      strstr(calls, "triaged_reserve") &&
			      strstr(calls, "triaged_record_dead_letters"),
		      "daemon calls: %s", calls);
	/* and what a daemon of the version before calls, kept for it (migration 066:
	 * its call rows are triaged_call_in, without the request id) */
	strncat(calls, ",triaged_record_calls_rows", sizeof(calls) - strlen(calls) - 1);
	/* each exists (one function of that name, taking the batch: JSON, or the calls',
	 * results' and claims' typed rows, migrations 061 and 062) and the daemon may call it */
	ck_sql_str(c, "", "SELECT coalesce(string_agg(f, ','), '') FROM "
			  "unnest(string_to_array('%s', ',')) f, LATERAL (SELECT coalesce("
			  "to_regprocedure(f || '(jsonb)'), to_regprocedure(f || '(triaged_call_in[])'), "
			  "to_regprocedure(f || '(triaged_call_in2[])'), "
			  "to_regprocedure(f || '(triaged_store_in[])'), "
			  "to_regprocedure(f || '(triaged_claim_in[])'))"
			  "::oid AS fn) p WHERE p.fn IS NULL "
			  "OR NOT has_function_privilege('triaged_service', p.fn, 'EXECUTE') "
			  "OR (SELECT count(*) FROM pg_proc WHERE proname = f) <> 1",
		   calls);
	/* and nothing else: functions, then tables, views and sequences */
	got = h_sql_str(c,
			"SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p "
			"WHERE p.pronamespace = 'public'::regnamespace "
			"AND has_function_privilege('triaged_service', p.oid, 'EXECUTE')");
	ck_assert_ptr_nonnull(got);
	{
		char *want = h_sql_str(c, "SELECT string_agg(f, ',' ORDER BY f) FROM "
					  "unnest(string_to_array('%s', ',')) f",
				       calls);
		ck_assert_ptr_nonnull(want);
		ck_assert_str_eq(got, want);
		free(want);
	}
	free(got);
	ck_sql_str(c, "schema_version",
		   "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c "
		   "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S') "
		   "AND (has_table_privilege('triaged_service', c.oid, 'SELECT, INSERT, UPDATE, "
		   "DELETE, TRUNCATE, REFERENCES, TRIGGER') OR (c.relkind = 'S' AND "
		   "has_sequence_privilege('triaged_service', c.oid, 'USAGE, SELECT, UPDATE')))");
	ck_sql_str(c, "SELECT", "SELECT string_agg(pr, ',') FROM unnest(ARRAY['SELECT', 'INSERT', "
				"'UPDATE', 'DELETE']) pr WHERE has_table_privilege('triaged_service', "
				"'schema_version', pr)");

	/* agents: the review functions (and what the queue view calls), the queue, outcomes, SLA */
	ck_sql_str(c,
		   "review_approve,review_claim,review_claim_next,review_correct,review_reassign,"
		   "review_reject,review_release,triaged_sla_due,triaged_tier_rank,"
		   "triaged_urgency_rank",
		   "SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p "
		   "WHERE p.pronamespace = 'public'::regnamespace "
		   "AND has_function_privilege('triaged_agent', p.oid, 'EXECUTE')");
	ck_sql_str(c, "agent_review_queue,agent_review_queue_head,review_categories,review_outcomes,"
		      "sla_policy",
		   "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c "
		   "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S') "
		   "AND has_table_privilege('triaged_agent', c.oid, 'SELECT, INSERT, UPDATE, DELETE')");
	ck_sql_str(c, "", "SELECT coalesce(string_agg(c.relname, ','), '') FROM pg_class c "
			  "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v') "
			  "AND has_table_privilege('triaged_agent', c.oid, 'INSERT, UPDATE, DELETE')");

	/* supervisors: every view, the SLA policy, prices and budgets, the review settings and
	 * taxonomy; read only, but for releasing claims and folding the dashboard's counters */
	ck_sql_str(c, "review_release_claims,triaged_sla_due,triaged_stats_compact,triaged_tier_rank,"
		      "triaged_urgency_rank",
		   "SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p "
		   "WHERE p.pronamespace = 'public'::regnamespace "
		   "AND has_function_privilege('triaged_supervisor', p.oid, 'EXECUTE')");
	ck_sql_str(c,
		   "agent_review_queue,agent_review_queue_head,budgets,metrics_backlog,metrics_budget,"
		   "metrics_cost_daily,metrics_cost_per_ticket,metrics_dlq,metrics_escalation,"
		   "metrics_escalation_reasons,metrics_model_latency,metrics_model_latency_fast,"
		   "metrics_review_outcomes,"
		   "metrics_safety,metrics_volume_daily,metrics_volume_hourly,model_calls_lost,model_prices,"
		   "review_categories,review_outcomes,review_settings,shadow_vs_production,sla_policy,"
		   "ticket_costs,"
		   "triage_effective",
		   "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c "
		   "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S') "
		   "AND has_table_privilege('triaged_supervisor', c.oid, 'SELECT')");
	ck_sql_str(c, "", "SELECT coalesce(string_agg(c.relname, ','), '') FROM pg_class c "
			  "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v') "
			  "AND has_table_privilege('triaged_supervisor', c.oid, 'INSERT, UPDATE, DELETE')");
	/* every view of the schema is readable by supervisors */
	ck_sql_str(c, "", "SELECT coalesce(string_agg(c.relname, ','), '') FROM pg_class c "
			  "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v' "
			  "AND NOT has_table_privilege('triaged_supervisor', c.oid, 'SELECT')");

	/* one version of each function: no name ending in _vN, no name twice */
	ck_sql_str(c, "", "SELECT coalesce(string_agg(proname, ','), '') FROM pg_proc "
			  "WHERE pronamespace = 'public'::regnamespace AND proname ~ '_v[0-9]+$'");
	ck_sql_str(c, "", "SELECT coalesce(string_agg(proname, ','), '') FROM (SELECT proname "
			  "FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
			  "GROUP BY 1 HAVING count(*) > 1) d");
	/* the daemon's batch writers plan once per session (issue #15: left to choose,
	 * small first batches made PostgreSQL re-plan every batch; BENCHMARK.md) */
	ck_sql_str(c, "triaged_claim_rows,triaged_record_calls_rows2,triaged_store_rows",
		   "SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc WHERE "
		   "pronamespace = 'public'::regnamespace AND proname LIKE 'triaged\\_%%' AND "
		   "'plan_cache_mode=force_generic_plan' = ANY (proconfig)");
	PQfinish(c);
}
END_TEST

/*
 * #19: an agent cannot approve a draft they never saw. Alice claims revision
 * 1; revision 2 is triaged; her approve of revision 1 fails with TR001 and
 * says so, nothing is decided, her claim has moved to revision 2, the queue
 * shows the ticket as changed, and approving revision 2 works.
 */
START_TEST(test_stale_revision)
{
	static const struct fx fxs[] = {
		{"st-1", "standard", 10, NULL, "normal", "shipping", "Your parcel ships today", "mini",
		 "mini-1"},
		{"st-2", "standard", 5, NULL, "low", "billing", "Hi", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	long long pk[2];
	PGconn *c = db_new("r_stale");
	PGresult *r;

	ck_assert_ptr_nonnull(c);
	add_tickets(c, NULL, fxs, pk);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_claim_next('alice')"), pk[0]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT revision FROM agent_review_queue WHERE ticket_pk = %lld",
				  pk[0]),
			 1);
	/* the customer writes again; revision 2 is triaged (a new draft alice has not read) */
	ck_assert_int_eq(add_revision2(c, pk[0], "pending_review", "high"), 0);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET draft_reply = 'Full refund' "
				       "WHERE ticket_pk = %lld AND revision = 2",
				    pk[0]),
			 0);

	r = PQexec(c, "SELECT review_approve((SELECT id FROM tickets WHERE ticket_id = 'st-1'), 1, "
		      "NULL, 'alice')");
	ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	ck_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "TR001");
	ck_assert_str_eq(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY),
			 "ticket changed since you claimed it: revision 2 is new");
	PQclear(r);
	ck_assert_str_eq(sqlstate(c, "SELECT review_reject(%lld, 1, 'no', 'alice')", pk[0]), "TR001");
	ck_assert_str_eq(sqlstate(c, "SELECT review_correct(%lld, 1, 'billing', p_agent => 'alice')",
				  pk[0]),
			 "TR001");
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(%lld, 3, NULL, 'alice')", pk[0]), "22023");
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(%lld, NULL, NULL, 'alice')", pk[0]),
			 "22004");
	/* nothing was decided; revision 1 left the queue, alice's claim followed revision 2 */
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM review_events WHERE action IN "
				     "('approve', 'reject', 'correct')"),
			 0);
	ck_sql_str(c, "superseded|claimed alice|", "SELECT string_agg(concat_ws(' ', review_state, "
						  "assigned_to), '|' ORDER BY revision) || '|' || "
						  "coalesce(max(review_outcome), '') FROM triage_results "
						  "WHERE ticket_pk = %lld",
		   pk[0]);
	ck_sql_str(c, "2 claimed alice t 1",
		   "SELECT concat_ws(' ', revision, review_state, assigned_to, changed, "
		   "replaces_revision) FROM agent_review_queue WHERE ticket_pk = %lld",
		   pk[0]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM agent_review_queue"), 2);
	ck_sql_str(c, "{\"moved_from_revision\": 1}",
		   "SELECT detail::text FROM review_events WHERE ticket_pk = %lld AND revision = 2 "
		   "AND action = 'claim'",
		   pk[0]);
	/* bob cannot take it, the next claim gets the other ticket */
	ck_sql_str(c, "f", "SELECT review_claim(%lld, 'bob')", pk[0]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_claim_next('bob')"), pk[1]);
	/* having read revision 2, alice approves it */
	ck_sql_str(c, "accepted", "SELECT review_approve(%lld, 2, NULL, 'alice')", pk[0]);
	ck_sql_str(c, "Full refund", "SELECT final_reply FROM triage_results WHERE ticket_pk = %lld "
				     "AND revision = 2",
		   pk[0]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT reviewed FROM review_outcomes WHERE dimension = 'all'"),
			 1);
	PQfinish(c);
}
END_TEST

/* Claim content `body` for ticket `tid` through the daemon's claim; its revision. */
static long long claim_content(PGconn *c, const char *tid, const char *body)
{
	return h_sql_ll(c,
			"SELECT revision FROM triaged_claim(jsonb_build_array(jsonb_build_object("
			"'source', 'web', 'ticket_id', '%s', 'channel', 'email', 'body', '%s')))",
			tid, body);
}

/* Store revision rev of tid through the daemon's store; 1 when inserted now. */
static int store_rev(PGconn *c, const char *tid, int rev)
{
	return (int)h_sql_ll(c,
			     "SELECT count(*) FILTER (WHERE inserted) FROM triaged_store(jsonb_build_array("
			     "jsonb_build_object('ticket_pk', (SELECT id FROM tickets WHERE ticket_id = "
			     "'%s'), 'revision', %d, 'status', 'pending_review', 'urgency', 'high', "
			     "'decided_by', 'mini', 'model', 'mini-1', 'prompt_version', 'triage-v1')))",
			     tid, rev);
}

/* Claim content `body` for ticket `tid` as the message at (partition, offset): "revision state". */
static void claim_at(PGconn *c, const char *tid, const char *body, int part, long long off,
		     const char *want)
{
	ck_sql_str(c, want,
		   "SELECT revision || ' ' || state FROM triaged_claim(jsonb_build_array("
		   "jsonb_build_object('source', 'web', 'ticket_id', '%s', 'channel', 'email', "
		   "'body', '%s', 'kafka_partition', %d, 'kafka_offset', %lld)))",
		   tid, body, part, off);
}

/*
 * A ticket edited back to content it had before (X, Y, X; found by a review
 * of the write path). Before, the third message matched revision 1 by its
 * hash and was taken for a redelivery: the ticket kept Y and Y's triage while
 * the helpdesk showed X. A message later than the current revision's is a new
 * revision; the same messages delivered again are still redeliveries.
 */
START_TEST(test_revert)
{
	PGconn *c = db_new("r_revert");
	ck_assert_ptr_nonnull(c);
	claim_at(c, "rv-1", "X", 0, 5, "1 new");
	ck_assert_int_eq(store_rev(c, "rv-1", 1), 1);
	claim_at(c, "rv-1", "Y", 0, 9, "2 updated");
	ck_assert_int_eq(store_rev(c, "rv-1", 2), 1);
	/* edited back: a new revision, the ticket's content X again */
	claim_at(c, "rv-1", "X", 0, 12, "3 updated");
	ck_sql_str(c, "3 X", "SELECT revision || ' ' || body FROM tickets WHERE ticket_id = 'rv-1'");
	/* the messages delivered again (a restart before their offsets were committed) */
	claim_at(c, "rv-1", "X", 0, 5, "1 done");
	/* a duplicate of X sent between 5 and 9 (it made no revision): the revision before it */
	claim_at(c, "rv-1", "X", 0, 7, "1 done");
	claim_at(c, "rv-1", "Y", 0, 9, "2 done");
	claim_at(c, "rv-1", "X", 0, 12, "3 pending");
	ck_assert_int_eq(store_rev(c, "rv-1", 3), 1);
	claim_at(c, "rv-1", "X", 0, 12, "3 done");
	/* the same content sent twice in a row (a later offset) is the current revision */
	claim_at(c, "rv-1", "X", 0, 13, "3 done");
	/* an older message with older content that is not the one which made revision 1:
	 * earlier than the current revision's, so a redelivery of the content, as before */
	claim_at(c, "rv-1", "Y", 0, 11, "2 done");
	ck_sql_str(c, "3 X", "SELECT revision || ' ' || body FROM tickets WHERE ticket_id = 'rv-1'");
	/* the queue holds the current revision, the older ones superseded */
	ck_sql_str(c, "superseded|superseded|open",
		   "SELECT string_agg(review_state, '|' ORDER BY revision) FROM triage_results "
		   "WHERE ticket_pk = (SELECT id FROM tickets WHERE ticket_id = 'rv-1')");
	/* no coordinates (the JSON path of scripts): by content, the latest revision with it */
	ck_sql_str(c, "3 done",
		   "SELECT revision || ' ' || state FROM triaged_claim(jsonb_build_array("
		   "jsonb_build_object('source', 'web', 'ticket_id', 'rv-1', 'channel', 'email', "
		   "'body', 'X')))");
	PQfinish(c);
}
END_TEST

/*
 * Results of one ticket stored out of order (found by a review of the write
 * path): revision 1 escalated to a slow flagship, revision 2 answered first.
 * The late revision 1 is inserted superseded, not open beside revision 2; the
 * queue shows one row per ticket, and the backlog counts one. Two results of
 * one ticket stored at once take turns on the ticket's row, so the later
 * revision supersedes the earlier even when neither saw the other commit.
 */
START_TEST(test_out_of_order)
{
	PGconn *c = db_new("r_order"), *a, *b;
	PGresult *r;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(claim_content(c, "oo-1", "first words"), 1);
	ck_assert_int_eq(claim_content(c, "oo-1", "second words"), 2);
	ck_assert_int_eq(store_rev(c, "oo-1", 2), 1);
	ck_assert_int_eq(store_rev(c, "oo-1", 1), 1);
	ck_sql_str(c, "1 superseded|2 open",
		   "SELECT string_agg(tr.revision || ' ' || review_state, '|' ORDER BY tr.revision) FROM "
		   "triage_results tr JOIN tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id = 'oo-1'");
	ck_sql_str(c, "2", "SELECT string_agg(revision::text, ',') FROM agent_review_queue WHERE "
			   "ticket_id = 'oo-1'");
	/* in order, as before: revision 2 supersedes revision 1 */
	ck_assert_int_eq(claim_content(c, "oo-2", "first words"), 1);
	ck_assert_int_eq(store_rev(c, "oo-2", 1), 1);
	ck_assert_int_eq(claim_content(c, "oo-2", "second words"), 2);
	ck_assert_int_eq(store_rev(c, "oo-2", 2), 1);
	ck_sql_str(c, "1 superseded|2 open",
		   "SELECT string_agg(tr.revision || ' ' || review_state, '|' ORDER BY tr.revision) FROM "
		   "triage_results tr JOIN tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id = 'oo-2'");
	/* revision 2 already reviewed when revision 1's result comes: nothing reopens */
	ck_assert_int_eq(claim_content(c, "oo-3", "first words"), 1);
	ck_assert_int_eq(claim_content(c, "oo-3", "second words"), 2);
	ck_assert_int_eq(store_rev(c, "oo-3", 2), 1);
	ck_sql_str(c, "t", "SELECT review_claim((SELECT id FROM tickets WHERE ticket_id = 'oo-3'), "
			   "'alice')");
	ck_sql_str(c, "edited", "SELECT review_approve((SELECT id FROM tickets WHERE ticket_id = "
				  "'oo-3'), 2, 'Thanks', 'alice')");
	ck_assert_int_eq(store_rev(c, "oo-3", 1), 1);
	ck_sql_str(c, "0", "SELECT count(*) FROM agent_review_queue WHERE ticket_id = 'oo-3'");
	ck_sql_str(c, "2", "SELECT sum(open + claimed) FROM (SELECT count(*) FILTER (WHERE "
			   "review_state = 'open') open, count(*) FILTER (WHERE review_state = "
			   "'claimed') claimed FROM triage_results) x");
	ck_sql_str(c, "2", "SELECT awaiting FROM metrics_backlog WHERE urgency = 'high'");

	/* at once: A stores revision 2 and has not committed; B stores revision 3 and waits */
	ck_assert_int_eq(claim_content(c, "oo-4", "first words"), 1);
	ck_assert_int_eq(store_rev(c, "oo-4", 1), 1);
	ck_assert_int_eq(claim_content(c, "oo-4", "second words"), 2);
	ck_assert_int_eq(claim_content(c, "oo-4", "third words"), 3);
	a = connect_as("r_order", "postgres");
	b = connect_as("r_order", "postgres");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(h_sql_exec(a, "BEGIN"), 0);
	ck_assert_int_eq(store_rev(a, "oo-4", 2), 1);
	ck_assert_int_eq(
	    PQsendQuery(b, "SELECT count(*) FILTER (WHERE inserted) FROM triaged_store("
			   "jsonb_build_array(jsonb_build_object('ticket_pk', (SELECT id FROM tickets "
			   "WHERE ticket_id = 'oo-4'), 'revision', 3, 'status', 'pending_review', "
			   "'urgency', 'high', 'decided_by', 'mini', 'model', 'mini-1', "
			   "'prompt_version', 'triage-v1')))"),
	    1);
	usleep(300 * 1000);
	ck_assert_int_eq(PQconsumeInput(b), 1);
	ck_assert_int_eq(PQisBusy(b), 1); /* waiting for A's lock on the ticket */
	ck_assert_int_eq(h_sql_exec(a, "COMMIT"), 0);
	r = PQgetResult(b);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	PQclear(r);
	ck_assert_ptr_null(PQgetResult(b));
	ck_sql_str(c, "1 superseded|2 superseded|3 open",
		   "SELECT string_agg(tr.revision || ' ' || review_state, '|' ORDER BY tr.revision) FROM "
		   "triage_results tr JOIN tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id = 'oo-4'");
	/* a result for a ticket that does not exist is refused (it was stored, counted in the
	 * backlog and never shown); the daemon rejects that one item of its batch */
	ck_assert_str_eq(sqlstate(c, "SELECT * FROM triaged_store('[{\"ticket_pk\": 999999, "
				     "\"revision\": 1, \"status\": \"pending_review\", "
				     "\"decided_by\": \"mini\", \"model\": \"m\", "
				     "\"prompt_version\": \"v\"}]')"),
			 "23503");
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM triage_results WHERE ticket_pk = 999999"),
			 0);
	PQfinish(a);
	PQfinish(b);
	PQfinish(c);
}
END_TEST

/* Record call seq of ticket pk for owner's reservation res (0: none); its call_id or -1. */
static long long record_call(PGconn *c, long long pk, int seq, int completion, long long res)
{
	char r[32] = "NULL";
	if (res > 0)
		snprintf(r, sizeof(r), "%lld", res);
	return h_sql_ll(c,
			"SELECT coalesce(call_id, -1) FROM triaged_record_calls(jsonb_build_array("
			"jsonb_build_object('ticket_pk', %lld, 'revision', 1, 'seq', %d, 'tier', "
			"'mini', 'purpose', 'triage', 'model', 'gpt-4o-mini', 'prompt_version', 'p1', "
			"'outcome', 'ok', 'attempts', 1, 'prompt_tokens', 1000, 'completion_tokens', "
			"%d, 'latency_ms', 5, 'total_ms', 5, 'started_ms', extract(epoch FROM now()) * "
			"1000, 'finished_ms', extract(epoch FROM now()) * 1000, 'reservation_id', %s)))",
			pk, seq, completion, r);
}

/*
 * The lock order of the budget statements (found by a review of the write
 * path): a reservation takes its budget's usage row, then sweeps the expired
 * reservations; settling a call took its reservation row, then the usage
 * row. A settle of an expired reservation beside a reserve on its budget
 * deadlocked (one of the two rounds rolled back and was sent again). Now
 * every statement takes the usage rows first: the settle waits for the
 * reserve, which sweeps, and both go through.
 */
START_TEST(test_lock_order)
{
	PGconn *c = db_new("r_locks"), *a, *b;
	PGresult *r;
	long long pk, res;
	char sql[1024];

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_sql_exec(c, "INSERT INTO budgets (tier, model, daily_limit_usd) VALUES "
				       "('mini', NULL, 10)"),
			 0);
	pk = h_sql_ll(c, "SELECT ticket_pk FROM triaged_claim('[{\"source\": \"s\", \"ticket_id\": "
			 "\"L1\", \"channel\": \"email\", \"body\": \"b\"}]')");
	ck_assert_int_gt(pk, 0);
	/* a reservation whose lease runs out while its call is being recorded */
	res = h_sql_ll(c, "SELECT reservation_id FROM triaged_reserve('[{\"tier\": \"mini\", "
			  "\"model\": \"gpt-4o-mini\", \"prompt_tokens\": 1000, \"max_tokens\": "
			  "1000, \"completion_estimate\": 200, \"owner\": \"A\", \"lease_s\": 1}]')");
	ck_assert_int_gt(res, 0);
	usleep(1500 * 1000);
	a = connect_as("r_locks", "postgres");
	b = connect_as("r_locks", "postgres");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(h_sql_exec(a, "SET deadlock_timeout = '200ms'"), 0);
	ck_assert_int_eq(h_sql_exec(b, "SET deadlock_timeout = '200ms'"), 0);
	/* a: a reserve's first step, the budget's usage row */
	ck_assert_int_eq(h_sql_exec(a, "BEGIN"), 0);
	ck_assert_int_eq(h_sql_ll(a, "SELECT 1 FROM budget_usage FOR UPDATE"), 1);
	/* b: the call of the expired reservation is recorded */
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(call_id, -1) FROM triaged_record_calls(jsonb_build_array("
		 "jsonb_build_object('ticket_pk', %lld, 'revision', 1, 'seq', 1, 'tier', 'mini', "
		 "'purpose', 'triage', 'model', 'gpt-4o-mini', 'prompt_version', 'p1', 'outcome', "
		 "'ok', 'attempts', 1, 'prompt_tokens', 1000, 'completion_tokens', 150, "
		 "'latency_ms', 5, 'total_ms', 5, 'started_ms', 0, 'finished_ms', 0, "
		 "'reservation_id', %lld)))",
		 pk, res);
	ck_assert_int_eq(PQsendQuery(b, sql), 1);
	usleep(300 * 1000);
	ck_assert_int_eq(PQconsumeInput(b), 1);
	ck_assert_int_eq(PQisBusy(b), 1); /* waiting for a's usage row */
	/* a: the reserve's sweep of the expired reservation, then its commit */
	r = PQexec(a, "SELECT triaged_sweep_reservations(NULL)");
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "sweep: %s",
		      PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
							      : "?");
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	PQclear(r);
	ck_assert_int_eq(h_sql_exec(a, "COMMIT"), 0);
	r = PQgetResult(b);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "record: %s",
		      PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
							      : "?");
	ck_assert_int_gt(atoll(PQgetvalue(r, 0, 0)), 0);
	PQclear(r);
	ck_assert_ptr_null(PQgetResult(b));
	/* swept as lost, then settled by its call: nothing held, its cost spent once */
	ck_sql_str(c, "settled", "SELECT state FROM budget_reservations WHERE id = %lld", res);
	ck_sql_str(c, "t t 0",
		   "SELECT concat_ws(' ', reserved_usd = 0, spent_usd = (SELECT cost_usd FROM "
		   "budget_reservations WHERE id = %lld), lost_calls) FROM budget_usage",
		   res);
	PQfinish(a);
	PQfinish(b);
	PQfinish(c);
}
END_TEST

/*
 * The claim's two races with its holder's renewal (sixteenth session, found by
 * a review), made to happen with two connections:
 * - a takeover of a claim that looked ten minutes old, while the holder's
 *   heartbeat renews it: the takeover waits for the renewal's row lock, then
 *   finds the claim renewed and answers 'elsewhere' (before: it took the claim
 *   over, and both daemons paid for the ticket);
 * - a renewal while another transaction holds the row (a takeover under way):
 *   the renewal skips it instead of waiting (no lock order to keep).
 */
#define RACE_TICKET "[{\"source\": \"s\", \"ticket_id\": \"R1\", \"channel\": \"email\", \"body\": \"b\"}]"

START_TEST(test_claim_races)
{
	PGconn *c = db_new("r_races"), *a, *b;
	PGresult *r;
	long long pk;
	char sql[512];

	ck_assert_ptr_nonnull(c);
	a = connect_as("r_races", "postgres");
	b = connect_as("r_races", "postgres");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(h_sql_exec(a, "SELECT set_config('triaged.owner', 'A', false)"), 0);
	ck_assert_int_eq(h_sql_exec(b, "SELECT set_config('triaged.owner', 'B', false)"), 0);
	/* daemon A claimed R1 eleven minutes ago and is alive */
	pk = h_sql_ll(a, "SELECT ticket_pk FROM triaged_claim('" RACE_TICKET "')");
	ck_assert_int_gt(pk, 0);
	ck_assert_int_eq(h_sql_exec(a, "SELECT * FROM triaged_renew_reservations("
				       "'[{\"owner\": \"A\", \"lease_s\": 60}]')"),
			 0);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE ticket_revisions SET claimed_at = now() - "
				       "interval '11 minutes', received_at = now() - interval "
				       "'11 minutes'"),
			 0);

	/* 1. A's heartbeat renews the claim while B's claim is taking it over */
	ck_assert_int_eq(h_sql_exec(a, "BEGIN"), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM triaged_renew_reservations('[{\"owner\": \"A\", "
		 "\"lease_s\": 60, \"held\": [{\"p\": %lld, \"r\": 1}]}]')",
		 pk);
	ck_assert_int_eq(h_sql_ll(a, "%s", sql), 1);
	ck_assert_int_eq(PQsendQuery(b, "SELECT state FROM triaged_claim('" RACE_TICKET "')"), 1);
	usleep(300 * 1000);
	ck_assert_int_eq(PQconsumeInput(b), 1);
	ck_assert_int_eq(PQisBusy(b), 1); /* its takeover waits for A's renewal */
	ck_assert_int_eq(h_sql_exec(a, "COMMIT"), 0);
	r = PQgetResult(b);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "claim: %s", PQresultErrorMessage(r));
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "elsewhere");
	PQclear(r);
	ck_assert_ptr_null(PQgetResult(b));
	ck_sql_str(c, "A t", "SELECT concat_ws(' ', claimed_by, claimed_at > now() - interval "
			     "'1 minute') FROM ticket_revisions");

	/* 2. B takes over a claim A stopped renewing; A's heartbeat meanwhile skips the row */
	ck_assert_int_eq(h_sql_exec(c, "UPDATE ticket_revisions SET claimed_at = now() - "
				       "interval '11 minutes'"),
			 0);
	ck_assert_int_eq(h_sql_exec(b, "BEGIN"), 0);
	ck_sql_str(b, "pending", "SELECT state FROM triaged_claim('" RACE_TICKET "')");
	ck_assert_int_eq(PQsendQuery(a, sql), 1);
	usleep(300 * 1000);
	ck_assert_int_eq(PQconsumeInput(a), 1);
	ck_assert_int_eq(PQisBusy(a), 0); /* answered at once: the held row skipped */
	r = PQgetResult(a);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "renew: %s", PQresultErrorMessage(r));
	PQclear(r);
	ck_assert_ptr_null(PQgetResult(a));
	ck_assert_int_eq(h_sql_exec(b, "COMMIT"), 0);
	ck_sql_str(c, "B", "SELECT claimed_by FROM ticket_revisions");
	PQfinish(a);
	PQfinish(b);
	PQfinish(c);
}
END_TEST

/*
 * Budget settlement of calls recorded twice (found by a review of the write
 * path). Two daemons make the same call after a rebalance: the second's row
 * is not inserted, and its reservation stayed open for the life of the
 * process, holding its worst case against the budget, its cost never spent.
 * Each reservation now settles with its own call's cost, once: sending the
 * batch again settles nothing twice. The same call twice in one batch is one
 * row and is counted once.
 */
START_TEST(test_calls_settle)
{
	PGconn *c = db_new("r_settle");
	long long pk, ra, rb;
#define RESERVE_FOR(owner)                                                                         \
	"SELECT reservation_id FROM triaged_reserve('[{\"tier\": \"mini\", \"model\": "         \
	"\"gpt-4o-mini\", \"prompt_tokens\": 1000, \"max_tokens\": 1000, "                       \
	"\"completion_estimate\": 200, \"owner\": \"" owner "\", \"lease_s\": 60}]')"

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_sql_exec(c, "INSERT INTO budgets (tier, model, daily_limit_usd) VALUES "
				       "('mini', NULL, 10)"),
			 0);
	pk = h_sql_ll(c, "SELECT ticket_pk FROM triaged_claim('[{\"source\": \"s\", \"ticket_id\": "
			 "\"B1\", \"channel\": \"email\", \"body\": \"b\"}]')");
	ck_assert_int_gt(pk, 0);
	ra = h_sql_ll(c, RESERVE_FOR("A"));
	rb = h_sql_ll(c, RESERVE_FOR("B"));
#undef RESERVE_FOR
	ck_assert_int_gt(ra, 0);
	ck_assert_int_gt(rb, ra);
	ck_assert_int_gt(record_call(c, pk, 1, 150, ra), 0);
	ck_assert_int_eq(record_call(c, pk, 1, 180, rb), -1); /* recorded by A already */
	ck_sql_str(c, "settled settled",
		   "SELECT string_agg(state, ' ' ORDER BY id) FROM budget_reservations");
	/* nothing stays reserved; both calls' costs are spent (each at its own tokens) */
	ck_sql_str(c, "t t t",
		   "SELECT concat_ws(' ', reserved_usd = 0, reserved_worst_usd = 0, "
		   "spent_usd = (SELECT sum(cost_usd) FROM budget_reservations)) FROM budget_usage");
	ck_sql_str(c, "t", "SELECT (SELECT cost_usd FROM budget_reservations WHERE id = %lld) > "
			   "(SELECT cost_usd FROM budget_reservations WHERE id = %lld)",
		   rb, ra);
	/* sent again (a lost connection): nothing is settled or spent twice */
	ck_sql_str(c, "t", "SELECT spent_usd = (SELECT sum(cost_usd) FROM budget_reservations) FROM "
			   "budget_usage");
	ck_assert_int_eq(record_call(c, pk, 1, 180, rb), -1);
	ck_assert_int_eq(record_call(c, pk, 1, 150, ra), -1);
	ck_sql_str(c, "t", "SELECT spent_usd = (SELECT sum(cost_usd) FROM budget_reservations) FROM "
			   "budget_usage");
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM budget_reservations WHERE state = "
				     "'open'"),
			 0);

	/* a reservation round sent again after a lost connection (its first attempt
	 * committed): the same request key gets the same reservation, nothing reserved twice */
	{
#define AGAIN                                                                                      \
	"SELECT reservation_id || ' ' || verdict FROM triaged_reserve('[{\"tier\": \"mini\", "    \
	"\"model\": \"gpt-4o-mini\", \"prompt_tokens\": 1000, \"max_tokens\": 1000, "          \
	"\"completion_estimate\": 200, \"owner\": \"C\", \"lease_s\": 60, "                      \
	"\"request_key\": \"7\"}]')"
		char *first = h_sql_str(c, AGAIN), *second = h_sql_str(c, AGAIN);
#undef AGAIN
		ck_assert_ptr_nonnull(first);
		ck_assert_ptr_nonnull(second);
		ck_assert_msg(strstr(first, " granted") != NULL, "reserve: %s", first);
		ck_assert_str_eq(second, first);
		ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM budget_reservations WHERE owner = "
					     "'C'"),
				 1);
		ck_sql_str(c, "t", "SELECT reserved_worst_usd = (SELECT sum(worst_usd) FROM "
				   "budget_reservations WHERE state = 'open') FROM budget_usage");
		/* another key of the same owner is another reservation */
		ck_assert_int_gt(h_sql_ll(c, "SELECT reservation_id FROM triaged_reserve('[{\"tier\": "
					     "\"mini\", \"model\": \"gpt-4o-mini\", \"prompt_tokens\": 1000, "
					     "\"max_tokens\": 1000, \"owner\": \"C\", \"lease_s\": 60, "
					     "\"request_key\": \"8\"}]')"),
				 atoll(first));
		free(first);
		free(second);
	}

	/* the same call twice in one batch: one row, one call_id, counted once */
	ck_sql_str(c, "1 0",
		   "SELECT count(call_id) || ' ' || count(*) FILTER (WHERE call_id IS NULL AND idx = "
		   "0) FROM triaged_record_calls((SELECT jsonb_agg(jsonb_build_object('ticket_pk', "
		   "%lld, 'revision', 1, 'seq', 2, 'tier', 'mini', 'purpose', 'triage', 'model', "
		   "'gpt-4o-mini', 'prompt_version', 'p1', 'outcome', 'ok', 'attempts', 1, "
		   "'prompt_tokens', 100, 'completion_tokens', 10, 'latency_ms', 5, 'total_ms', 5, "
		   "'started_ms', extract(epoch FROM now()) * 1000, 'finished_ms', extract(epoch "
		   "FROM now()) * 1000)) FROM generate_series(1, 2)))",
		   pk);
	ck_sql_str(c, "2 1100 160",
		   "SELECT concat_ws(' ', (SELECT count(*) FROM model_calls), sum(n1), sum(n3)) FROM "
		   "stats_delta WHERE kind = 'tokens'");
	PQfinish(c);
}
END_TEST

/* The supervisors' metrics views count what the tables hold. */
START_TEST(test_metrics)
{
	static const struct fx fxs[] = {
		/* received at T - minutes: 10:00, 10:30, 11:10 on 2024-05-01; one on 04-30 */
		{"m-1", "standard", 120, NULL, "high", "billing", "d", "mini", "mini-1"},
		{"m-2", "standard", 90, NULL, "high", "billing", "d", "mini", "mini-1"},
		{"m-3", "standard", 50, NULL, "low", "shipping", "d", "flagship", "big-1"},
		{"m-4", "standard", 1440, NULL, "low", "shipping", "d", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	long long pk[4];
	PGconn *c = db_new("r_metrics");

	ck_assert_ptr_nonnull(c);
	add_tickets(c, T, fxs, pk);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results tr SET created_at = t.received_at "
				       "FROM tickets t WHERE t.id = tr.ticket_pk"),
			 0);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET escalated = true, "
				       "escalation_reasons = 'low confidence; angry customer' "
				       "WHERE ticket_pk = %lld",
				    pk[0]),
			 0);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET escalated = true, "
				       "escalation_reasons = 'low confidence' WHERE ticket_pk = %lld",
				    pk[2]),
			 0);

	ck_sql_str(c, "2024-05-01 10:00:00+00 high 2|2024-05-01 11:00:00+00 low 1",
		   "SELECT string_agg(concat_ws(' ', hour, urgency, count), '|' ORDER BY hour) FROM "
		   "metrics_volume_hourly WHERE hour >= '" T "'::timestamptz - interval '3 hours'");
	ck_sql_str(c, "2024-04-30 00:00:00+00 shipping 1|2024-05-01 00:00:00+00 billing 2|"
		      "2024-05-01 00:00:00+00 shipping 1",
		   "SELECT string_agg(concat_ws(' ', day, category, count), '|' ORDER BY day, "
		   "category) FROM metrics_volume_daily");
	ck_sql_str(c, "3 2 0.6667", "SELECT concat_ws(' ', tickets, escalated, rate) FROM "
				    "metrics_escalation WHERE day = '2024-05-01'");
	ck_sql_str(c, "low confidence:2,angry customer:1",
		   "SELECT string_agg(reason || ':' || count, ',' ORDER BY count DESC) FROM "
		   "metrics_escalation_reasons");

	/* latency: five mini calls 10..50 ms and one flagship call */
	for (int i = 1; i <= 5; i++)
		ck_assert_int_eq(h_sql_exec(c,
					    "INSERT INTO model_calls (ticket_pk, revision, seq, "
					    "tier, purpose, model, prompt_version, outcome, "
					    "attempts, latency_ms, total_ms, started_at, "
					    "finished_at) VALUES (%lld, 1, %d, 'mini', 'triage', "
					    "'mini-1', 'v1', '%s', 1, %d, %d, '" T "', '" T "')",
					    pk[0], i, i == 5 ? "http_error" : "ok", i * 10, i * 10),
				 0);
	ck_assert_int_eq(h_sql_exec(c, "INSERT INTO model_calls (ticket_pk, revision, seq, tier, "
				       "purpose, model, prompt_version, outcome, attempts, "
				       "latency_ms, total_ms, started_at, finished_at) VALUES "
				       "(%lld, 1, 1, 'flagship', 'triage', 'big-1', 'v1', 'ok', 1, "
				       "900, 900, '" T "', '" T "')",
				    pk[2]),
			 0);
	/* percentiles are rounded to 0.1 ms (numeric), not float noise */
	ck_sql_str(c, "5 1 30.0 48.0", "SELECT concat_ws(' ', calls, failed, p50_ms, p95_ms) FROM "
				   "metrics_model_latency WHERE tier = 'mini' AND model = 'mini-1' "
				   "AND day = '2024-05-01'");
	ck_sql_str(c, "1 900.0", "SELECT concat_ws(' ', calls, p50_ms) FROM metrics_model_latency "
			       "WHERE tier = 'flagship'");

	/* dead letters per day and code */
	ck_assert_int_eq(h_sql_exec(c, "INSERT INTO dead_letters (topic, partition, kafka_offset, "
				       "error_code, reason, created_at) VALUES "
				       "('tickets.incoming', 0, 1, 'invalid_json', 'x', '" T "'), "
				       "('tickets.incoming', 0, 2, 'invalid_json', 'x', '" T "'), "
				       "('tickets.incoming', 1, 2, 'too_large', 'x', '" T "'), "
				       "('tickets.incoming', 0, 3, 'invalid_json', 'x', "
				       "'2024-05-02 01:00:00+00')"),
			 0);
	ck_assert_str_eq(sqlstate(c, "INSERT INTO dead_letters (topic, partition, kafka_offset, "
				     "error_code) VALUES ('tickets.incoming', 0, 1, 'invalid_json')"),
			 "23505");
	ck_sql_str(c, "2024-05-01 invalid_json 2|2024-05-01 too_large 1|2024-05-02 invalid_json 1",
		   "SELECT string_agg(concat_ws(' ', day::date, error_code, count), '|' ORDER BY "
		   "day, error_code) FROM metrics_dlq");
	PQfinish(c);
}
END_TEST

/*
 * The error of one statement: its SQLSTATE into st (8 bytes), its primary
 * message into msg; "00000" and "" when it succeeded.
 */
static void sql_error(PGconn *c, char *st, char *msg, size_t msglen, const char *fmt, ...)
	H_PRINTF_LIKE(5, 6);

static void sql_error(PGconn *c, char *st, char *msg, size_t msglen, const char *fmt, ...)
{
	char *q = NULL;
	PGresult *r;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&q, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = PQexec(c, q);
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK) {
		snprintf(st, 8, "00000");
		snprintf(msg, msglen, "%s", "");
	} else {
		const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		snprintf(st, 8, "%s", s ? s : "?????");
		snprintf(msg, msglen, "%s", m ? m : "");
	}
	PQclear(r);
	free(q);
}

/*
 * #19: claims are leases. 30 minutes by default (review_settings.claim_ttl),
 * renewed by the holder's actions; an expired claim shows as open, goes back
 * to the queue for review_claim_next and may be taken by another agent; a
 * supervisor releases one ticket's claim or all of an agent's; an optional
 * cap on live claims per agent (TR002), off by default.
 */
START_TEST(test_leases)
{
	static const struct fx fxs[] = {
		{"l-1", "standard", 30, NULL, "critical", "billing", "Hi", "mini", "mini-1"},
		{"l-2", "standard", 20, NULL, "high", "billing", "Hi", "mini", "mini-1"},
		{"l-3", "standard", 10, NULL, "normal", "billing", "Hi", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	long long pk[3];
	char st[8], msg[512];
	PGconn *c = db_new("r_leases"), *sup;

	ck_assert_ptr_nonnull(c);
	PQsetNoticeProcessor(c, quiet, NULL);
	add_tickets(c, NULL, fxs, pk);
	ck_sql_str(c, "00:30:00 none", "SELECT claim_ttl || ' ' || coalesce(max_open_claims::text, "
				       "'none') FROM review_settings");

	/* a claim is a 30-minute lease */
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_claim_next('alice')"), pk[0]);
	ck_sql_str(c, "00:30:00", "SELECT claim_expires_at - claimed_at FROM triage_results WHERE "
				  "ticket_pk = %lld",
		   pk[0]);
	ck_sql_str(c, "claimed alice t", "SELECT concat_ws(' ', review_state, assigned_to, "
					 "claim_expires_at IS NOT NULL) FROM agent_review_queue "
					 "WHERE ticket_pk = %lld",
		   pk[0]);
	/* renewed by the holder's action: a correction, a claim again */
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET claim_expires_at = now() + "
				       "interval '1 minute' WHERE ticket_pk = %lld",
				    pk[0]),
			 0);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_correct(%lld, 1, 'shipping', NULL, NULL, "
				     "'alice')",
				  pk[0]),
			 1);
	ck_sql_str(c, "t", "SELECT claim_expires_at > now() + interval '29 minutes' FROM "
			   "triage_results WHERE ticket_pk = %lld",
		   pk[0]);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET claim_expires_at = now() + "
				       "interval '1 minute' WHERE ticket_pk = %lld",
				    pk[0]),
			 0);
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'alice')", pk[0]);
	ck_sql_str(c, "t", "SELECT claim_expires_at > now() + interval '29 minutes' FROM "
			   "triage_results WHERE ticket_pk = %lld",
		   pk[0]);
	/* a live claim stops others */
	ck_sql_str(c, "f", "SELECT review_claim(%lld, 'bob')", pk[0]);

	/* expired: open in the queue, first for review_claim_next, logged as released */
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET claim_expires_at = now() - "
				       "interval '1 second' WHERE ticket_pk = %lld",
				    pk[0]),
			 0);
	ck_sql_str(c, "open -", "SELECT review_state || ' ' || coalesce(assigned_to, '-') FROM "
				"agent_review_queue WHERE ticket_pk = %lld",
		   pk[0]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT open FROM metrics_backlog WHERE urgency = 'critical'"),
			 1);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_claim_next('bob')"), pk[0]);
	ck_sql_str(c, "bob", "SELECT assigned_to FROM triage_results WHERE ticket_pk = %lld", pk[0]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM review_events WHERE ticket_pk = %lld "
				     "AND action = 'release' AND agent = 'alice' AND detail ? "
				     "'expired_at'",
				  pk[0]),
			 1);
	ck_assert_str_eq(sqlstate(c, "SELECT review_approve(%lld, 1, NULL, 'alice')", pk[0]),
			 "55P03");
	/* another agent may take an expired claim directly */
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET claim_expires_at = now() - "
				       "interval '1 second' WHERE ticket_pk = %lld",
				    pk[0]),
			 0);
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'carol')", pk[0]);
	ck_sql_str(c, "bob", "SELECT detail->>'expired_claim_of' FROM review_events WHERE "
			     "ticket_pk = %lld AND action = 'claim' AND agent = 'carol'",
		   pk[0]);

	/* supervisor: release one ticket's claim, then all of an agent's */
	ck_assert_int_eq(login_role(c, "super_l", "triaged_supervisor"), 0);
	sup = connect_as("r_leases", "super_l");
	ck_assert_ptr_nonnull(sup);
	ck_assert_int_eq(h_sql_ll(sup, "SELECT review_release_claims(%lld)", pk[0]), 1);
	ck_sql_str(c, "open", "SELECT review_state FROM triage_results WHERE ticket_pk = %lld",
		   pk[0]);
	ck_sql_str(c, "super_l carol", "SELECT agent || ' ' || (detail->>'released_from') FROM "
				       "review_events WHERE ticket_pk = %lld AND action = 'release' "
				       "ORDER BY id DESC LIMIT 1",
		   pk[0]);
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'dave')", pk[0]);
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'dave')", pk[1]);
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'erin')", pk[2]);
	ck_assert_int_eq(h_sql_ll(sup, "SELECT review_release_claims(p_agent => 'dave')"), 2);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM triage_results WHERE review_state = "
				     "'claimed'"),
			 1);
	ck_assert_int_eq(h_sql_ll(sup, "SELECT review_release_claims(%lld)", pk[0]), 0);
	ck_assert_str_eq(sqlstate(sup, "SELECT review_release_claims()"), "22023");
	ck_assert_str_eq(sqlstate(sup, "SELECT review_release_claims(%lld, 'dave')", pk[0]),
			 "22023");
	PQfinish(sup);

	/* the cap: off by default (erin took a second one above), then one live claim each */
	ck_assert_int_eq(h_sql_exec(c, "UPDATE review_settings SET max_open_claims = 1"), 0);
	sql_error(c, st, msg, sizeof(msg), "SELECT review_claim_next('erin')");
	ck_assert_str_eq(st, "TR002");
	ck_assert_str_eq(msg, "agent erin holds 1 open claims; the cap is 1");
	ck_assert_str_eq(sqlstate(c, "SELECT review_claim(%lld, 'erin')", pk[0]), "TR002");
	ck_assert_str_eq(sqlstate(c, "SELECT review_reassign(%lld, 'erin', 'frank')", pk[0]), "TR002");
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_claim_next('frank')"), pk[0]);
	ck_assert_str_eq(sqlstate(c, "SELECT review_claim_next('frank')"), "TR002");
	/* deciding one frees a place; an expired claim does not count */
	ck_sql_str(c, "accepted", "SELECT review_approve(%lld, 1, NULL, 'erin')", pk[2]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_claim_next('erin')"), pk[1]);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET claim_expires_at = now() - "
				       "interval '1 second' WHERE assigned_to = 'frank'"),
			 0);
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'frank')", pk[0]);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE review_settings SET max_open_claims = NULL, "
				       "claim_ttl = interval '5 minutes'"),
			 0);
	ck_assert_int_eq(h_sql_exec(c, "SELECT review_release(%lld, 'erin')", pk[1]), 0);
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'frank')", pk[1]);
	ck_sql_str(c, "00:05:00", "SELECT claim_expires_at - claimed_at FROM triage_results WHERE "
				  "ticket_pk = %lld",
		   pk[1]);
	PQfinish(c);
}
END_TEST

/*
 * #19: an agent's own login acts only as itself (42501 with a message that
 * says so); length caps on agent name, reply, reason and category (22001
 * naming the field and the cap); a category outside the taxonomy is stored
 * and flagged.
 */
START_TEST(test_agent_limits)
{
	static const struct fx fxs[] = {
		{"c-1", "standard", 30, NULL, "high", "billing", "Hi", "mini", "mini-1"},
		{"c-2", "standard", 20, NULL, "high", "billing", "Hi", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	long long pk[2];
	char st[8], msg[512];
	PGconn *c = db_new("r_limits"), *alice, *app;

	ck_assert_ptr_nonnull(c);
	PQsetNoticeProcessor(c, quiet, NULL);
	add_tickets(c, NULL, fxs, pk);
	ck_assert_int_eq(login_role(c, "alice", "triaged_agent"), 0);
	ck_assert_int_eq(login_role(c, "app_l", "triaged_review_app"), 0);
	alice = connect_as("r_limits", "alice");
	ck_assert_ptr_nonnull(alice);
	PQsetNoticeProcessor(alice, quiet, NULL);

	/* alice passing p_agent => 'bob' is refused, nothing claimed */
	sql_error(alice, st, msg, sizeof(msg), "SELECT review_claim(%lld, p_agent => 'bob')", pk[0]);
	ck_assert_str_eq(st, "42501");
	ck_assert_str_eq(msg, "login alice may act only as itself, not as agent bob");
	ck_assert_str_eq(sqlstate(alice, "SELECT review_claim_next('bob')"), "42501");
	ck_assert_str_eq(sqlstate(alice, "SELECT review_release_claims(p_agent => 'bob')"), "42501");
	ck_sql_str(c, "open", "SELECT review_state FROM triage_results WHERE ticket_pk = %lld",
		   pk[0]);
	ck_sql_str(alice, "t", "SELECT review_claim(%lld, p_agent => 'alice')", pk[0]);
	ck_sql_str(c, "alice", "SELECT assigned_to FROM triage_results WHERE ticket_pk = %lld",
		   pk[0]);
	/* a shared application login acts for bob, but cannot take alice's live claim */
	app = connect_as("r_limits", "app_l");
	ck_assert_ptr_nonnull(app);
	ck_sql_str(app, "t", "SELECT review_claim(%lld, 'bob')", pk[1]);
	ck_sql_str(app, "f", "SELECT review_claim(%lld, 'bob')", pk[0]);
	PQfinish(app);

	/* caps: name, reply, reason, category; the message names the field and the cap */
	sql_error(c, st, msg, sizeof(msg), "SELECT review_claim(%lld, repeat('a', 129))", pk[0]);
	ck_assert_str_eq(st, "22001");
	ck_assert_str_eq(msg, "agent name is 129 characters long; the cap is 128");
	ck_sql_str(c, "f", "SELECT review_claim(%lld, repeat('a', 128))", pk[0]);
	sql_error(alice, st, msg, sizeof(msg), "SELECT review_approve(%lld, 1, repeat('x', 20001))",
		  pk[0]);
	ck_assert_str_eq(st, "22001");
	ck_assert_str_eq(msg, "reply is 20001 characters long; the cap is 20000");
	sql_error(alice, st, msg, sizeof(msg), "SELECT review_reject(%lld, 1, repeat('x', 2001))",
		  pk[0]);
	ck_assert_str_eq(st, "22001");
	ck_assert_str_eq(msg, "reason is 2001 characters long; the cap is 2000");
	sql_error(alice, st, msg, sizeof(msg), "SELECT review_correct(%lld, 1, repeat('x', 65))",
		  pk[0]);
	ck_assert_str_eq(st, "22001");
	ck_assert_str_eq(msg, "category is 65 characters long; the cap is 64");
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM label_corrections"), 0);
	ck_sql_str(c, "pending_review", "SELECT status FROM triage_results WHERE ticket_pk = %lld",
		   pk[0]);

	/* a category outside the taxonomy: stored and flagged; one inside: not flagged */
	ck_assert_int_eq(h_sql_ll(alice, "SELECT review_correct(%lld, 1, 'refund')", pk[0]), 1);
	ck_sql_str(c, "refund t", "SELECT concat_ws(' ', new_value, off_taxonomy) FROM label_corrections "
				  "WHERE ticket_pk = %lld",
		   pk[0]);
	ck_sql_str(alice, "refund t", "SELECT concat_ws(' ', category, category_off_taxonomy) FROM "
				      "agent_review_queue WHERE ticket_pk = %lld",
		   pk[0]);
	ck_assert_int_eq(h_sql_ll(alice, "SELECT review_correct(%lld, 1, 'shipping')", pk[0]), 1);
	ck_sql_str(alice, "shipping f", "SELECT concat_ws(' ', category, category_off_taxonomy) FROM "
					"agent_review_queue WHERE ticket_pk = %lld",
		   pk[0]);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM label_corrections WHERE off_taxonomy"), 1);
	PQfinish(alice);
	PQfinish(c);
}
END_TEST

/*
 * #19: the dashboard's figures come from counters kept by triggers; after a
 * mix of stores, claims, decisions, corrections, a new revision and an
 * expired claim, every counted view equals a count over the rows, before and
 * after the deltas are folded; the queue head is the queue's first rows.
 */
START_TEST(test_counters)
{
	static const struct fx fxs[] = {
		{"k-1", "premium", 300, NULL, "high", "billing", "Hi", "mini", "mini-1"},
		{"k-2", "standard", 200, NULL, "high", "shipping", "Hi", "mini", "mini-1"},
		{"k-3", "free", 100, "needs_human", NULL, NULL, NULL, NULL, NULL},
		{"k-4", "standard", 2000, NULL, "low", "billing", "Hi", "flagship", "big-1"},
		{"k-5", NULL, 50, NULL, "critical", "account", "Hi", "mini", "mini-1"},
		{"k-6", "enterprise", 10, "approved", "normal", "billing", "Hi", "mini", "mini-1"},
		/* breached hours ago (a past deadline hour), and minutes ago */
		{"k-7", "standard", 500, NULL, "critical", "billing", "Hi", "mini", "mini-1"},
		{"k-8", "standard", 250, NULL, "high", "account", "Hi", "mini", "mini-1"},
		{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	/* each counted view against the same figures counted from the rows */
	static const char *const checks[][2] = {
		{"SELECT string_agg(concat_ws(' ', coalesce(urgency, '-'), awaiting, open, claimed, "
		 "breached, at_risk, extract(epoch FROM oldest_waiting)::bigint / 60), '|' "
		 "ORDER BY urgency) FROM metrics_backlog",
		 "SELECT string_agg(concat_ws(' ', coalesce(urgency, '-'), awaiting, open, claimed, "
		 "breached, at_risk, w), '|' ORDER BY urgency) FROM (SELECT e.urgency, count(*) AS "
		 "awaiting, count(*) FILTER (WHERE tr.review_state = 'open' OR tr.claim_expires_at "
		 "<= now()) AS open, count(*) FILTER (WHERE tr.review_state = 'claimed' AND "
		 "tr.claim_expires_at > now()) AS claimed, count(*) FILTER (WHERE tr.q_sla_due < "
		 "now()) AS breached, count(*) FILTER (WHERE NOT tr.q_sla_due < now() AND "
		 "tr.q_sla_due - now() < (tr.q_sla_due - tr.q_received_at) * 0.25) AS at_risk, "
		 "extract(epoch FROM now() - min(tr.q_received_at))::bigint / 60 AS w FROM "
		 "triage_results tr JOIN triage_effective e ON e.id = tr.id WHERE tr.status IN "
		 "('pending_review', 'needs_human') AND tr.review_state IN ('open', 'claimed') "
		 "GROUP BY 1) x"},
		{"SELECT string_agg(concat_ws(' ', hour, category, urgency, sentiment, count), '|' "
		 "ORDER BY hour, category, urgency, sentiment) FROM metrics_volume_hourly",
		 "SELECT string_agg(concat_ws(' ', hour, category, urgency, sentiment, n), '|' ORDER "
		 "BY hour, category, urgency, sentiment) FROM (SELECT date_trunc('hour', "
		 "r.received_at) AS hour, e.category, e.urgency, e.sentiment, count(*) AS n FROM "
		 "triage_effective e JOIN ticket_revisions r ON r.ticket_pk = e.ticket_pk AND "
		 "r.revision = e.revision GROUP BY 1, 2, 3, 4) x"},
		{"SELECT string_agg(concat_ws(' ', day, tickets, escalated, rate), '|' ORDER BY day) "
		 "FROM metrics_escalation",
		 "SELECT string_agg(concat_ws(' ', day, n, e, round(e::numeric / n, 4)), '|' ORDER BY "
		 "day) FROM (SELECT date_trunc('day', created_at) AS day, count(*) AS n, count(*) "
		 "FILTER (WHERE escalated) AS e FROM triage_results GROUP BY 1) x"},
		{"SELECT string_agg(reason || ':' || count, ',' ORDER BY reason) FROM "
		 "metrics_escalation_reasons",
		 "SELECT string_agg(reason || ':' || n, ',' ORDER BY reason) FROM (SELECT btrim(x) AS "
		 "reason, count(*) AS n FROM triage_results, string_to_table(escalation_reasons, '; ') "
		 "x WHERE escalated AND btrim(x) <> '' GROUP BY 1) y"},
		{"SELECT string_agg(concat_ws(' ', dimension, category, decided_by, model, reviewed, "
		 "accepted, edited, rejected, acceptance_rate), '|' ORDER BY dimension, category, "
		 "decided_by, model) FROM review_outcomes",
		 "SELECT string_agg(concat_ws(' ', d, category, decided_by, model, n, a, e, r, "
		 "round(a::numeric / n, 4)), '|' ORDER BY d, category, decided_by, model) FROM "
		 "(SELECT CASE WHEN GROUPING(category) = 0 THEN 'category' WHEN GROUPING(model) = 0 "
		 "THEN 'model' ELSE 'all' END AS d, category, decided_by, model, count(*) AS n, "
		 "count(*) FILTER (WHERE review_outcome = 'accepted') AS a, count(*) FILTER (WHERE "
		 "review_outcome = 'edited') AS e, count(*) FILTER (WHERE review_outcome = "
		 "'rejected') AS r FROM triage_effective WHERE review_outcome IS NOT NULL GROUP BY "
		 "GROUPING SETS ((category), (decided_by, model), ())) x"},
	};
	long long pk[8];
	PGconn *c = db_new("r_counters");

	ck_assert_ptr_nonnull(c);
	PQsetNoticeProcessor(c, quiet, NULL);
	add_tickets(c, NULL, fxs, pk);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET escalated = true, "
				       "escalation_reasons = 'low confidence; vip' WHERE ticket_pk = "
				       "%lld",
				    pk[3]),
			 0);
	/* decisions, corrections (urgency moves the backlog row), a claim, a new revision */
	ck_sql_str(c, "edited", "SELECT review_approve(%lld, 1, 'Hello', 'a1')", pk[0]);
	ck_assert_int_eq(h_sql_exec(c, "SELECT review_reject(%lld, 1, 'wrong', 'a1')", pk[3]), 0);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_correct(%lld, 1, 'billing', 'critical', "
				     "'negative', 'a2')",
				  pk[1]),
			 3);
	ck_assert_int_eq(h_sql_ll(c, "SELECT review_correct(%lld, 1, 'refund', 'low', NULL, 'a3')",
				  pk[2]),
			 2);
	ck_assert_int_eq(add_revision2(c, pk[1], "pending_review", "normal"), 0);
	ck_sql_str(c, "t", "SELECT review_claim(%lld, 'a4')", pk[4]);
	ck_assert_int_eq(h_sql_exec(c, "UPDATE triage_results SET claim_expires_at = now() - "
				       "interval '1 second' WHERE ticket_pk = %lld",
				    pk[4]),
			 0);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM metrics_backlog"), 4);
	ck_assert_int_eq(h_sql_ll(c, "SELECT sum(breached) FROM metrics_backlog"), 2);
	/* model calls (migration 058): priced, unpriced and failed, two tiers, over 30 hours
	 * back from a minute before today's UTC midnight (from now, the days' groups, and with
	 * them the percentiles compared below, changed with the hour of the run: after midnight
	 * a group of 20 calls put the histogram's p50 4.4% off percentile_cont's), latencies
	 * from 50 ms to 950 ms; half now, half after a fold */
	for (int half = 0; half < 2; half++) {
		ck_assert_int_eq(
		    h_sql_ll(c,
			     "SELECT count(*) FROM triaged_record_calls((SELECT jsonb_agg("
			     "jsonb_build_object('ticket_pk', (ARRAY[%lld, %lld, %lld, %lld])[1 + g "
			     "%% 4], 'revision', 1, 'seq', 100 + g, 'tier', CASE WHEN g %% 3 = 0 "
			     "THEN 'flagship' ELSE 'mini' END, 'purpose', 'triage', 'model', CASE "
			     "WHEN g %% 3 = 0 THEN 'gpt-4o' WHEN g %% 5 = 0 THEN 'unpriced-x' ELSE "
			     "'gpt-4o-mini' END, 'prompt_version', 'v1', 'outcome', CASE WHEN g %% 7 "
			     "= 0 THEN 'error' ELSE 'ok' END, 'attempts', 1, 'prompt_tokens', 100 + "
			     "g, 'completion_tokens', 10 + g %% 13, 'cached_tokens', g %% 4 * 10, "
			     "'latency_ms', 50 + (g * 37) %% 900 + (g %% 10) / 10.0, 'total_ms', 60 "
			     "+ g, 'started_ms', s, 'finished_ms', s + 50 + (g * 37) %% 900, "
			     "'answer', '{}')) FROM (SELECT g, extract(epoch FROM date_trunc('day', "
			     "now(), 'UTC') - interval '1 minute' - (g %% 30) * interval '1 hour') * "
			     "1000 AS s FROM generate_series(%d, %d) g) x))",
			     pk[0], pk[1], pk[2], pk[3], 1 + half * 300, 300 + half * 300),
		    300);
		if (half == 0)
			ck_assert_int_ge(h_sql_ll(c, "SELECT triaged_stats_compact()"), 0);
	}
	for (int pass = 0; pass < 3; pass++) {
		/* the cost counters against a sum over the calls, exact */
		ck_sql_str(c, "t",
			   "SELECT (SELECT string_agg(concat_ws(' ', day, tier, model, calls, "
			   "prompt_tokens, cached_tokens, completion_tokens, cost_usd, unpriced_calls), "
			   "'|' ORDER BY day, tier, model) FROM metrics_cost_daily) = (SELECT "
			   "string_agg(concat_ws(' ', day, tier, model, n, p, ca, co, u, np), '|' ORDER "
			   "BY day, tier, model) FROM (SELECT date_trunc('day', started_at) AS day, "
			   "tier, model, count(*) AS n, sum(prompt_tokens) AS p, sum(cached_tokens) AS "
			   "ca, sum(completion_tokens) AS co, round(sum(cost_usd), 6) AS u, count(*) "
			   "FILTER (WHERE cost_usd IS NULL) AS np FROM model_calls GROUP BY 1, 2, 3) x)");
		if (pass < 2)
			ck_sql_str(c, "t",
				   "SELECT (SELECT count(*) FROM metrics_cost_daily WHERE cost_usd IS "
				   "NULL AND model = 'unpriced-x') = (SELECT count(DISTINCT "
				   "date_trunc('day', started_at)) FROM model_calls WHERE model = "
				   "'unpriced-x') AND (SELECT count(*) FROM metrics_cost_daily) > 2");
		/* the latency histogram against percentile_cont: counts exact, percentiles
		 * within 3% (bins 2.2% wide) */
		ck_sql_str(c, "t",
			   "SELECT count(*) FILTER (WHERE f.calls = m.calls AND f.failed = m.failed "
			   "AND abs(f.p50_ms - m.p50_ms) <= 0.03 * m.p50_ms AND abs(f.p95_ms - "
			   "m.p95_ms) <= 0.03 * m.p95_ms) = count(*) AND count(*) >= 3 AND count(*) = "
			   "(SELECT count(*) FROM metrics_model_latency) AND count(*) = (SELECT "
			   "count(*) FROM metrics_model_latency_fast) FROM metrics_model_latency m "
			   "JOIN metrics_model_latency_fast f USING (day, tier, model)");
		if (pass == 1) {
			/* a re-pricing moves the counted cost with the calls; the price starts
			 * before the oldest call (53 hours before now late in the UTC day: a
			 * price from now() - 2 days left it unpriced after 19:00 UTC) */
			ck_assert_int_eq(h_sql_exec(c, "INSERT INTO model_prices (model, "
						       "effective_from, input_per_mtok, "
						       "cached_input_per_mtok, output_per_mtok) VALUES "
						       "('unpriced-x', date_trunc('day', now(), 'UTC') - "
						       "interval '3 days', 1.25, 0.125, 5)"),
					 0);
			ck_assert_int_eq(h_sql_ll(c, "SELECT triaged_recompute_costs(date_trunc("
						     "'day', now(), 'UTC') - interval '3 days', "
						     "now())"),
					 600);
			ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM metrics_cost_daily WHERE "
						     "cost_usd IS NULL"),
					 0);
			continue;
		}
		ck_assert_int_ge(h_sql_ll(c, "SELECT triaged_stats_compact()"), 0);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
			char *got = h_sql_str(c, "%s", checks[i][0]);
			char *want = h_sql_str(c, "%s", checks[i][1]);
			ck_assert_msg(got && want && strcmp(got, want) == 0,
				      "pass %d check %zu:\n got  %s\n want %s", pass, i,
				      got ? got : "(null)", want ? want : "(null)");
			free(got);
			free(want);
		}
		/* fold the deltas: the same figures from stats_counts alone */
		ck_assert_int_ge(h_sql_ll(c, "SELECT triaged_stats_compact()"), 0);
		ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM stats_delta"), 0);
	}
	/* the head: the queue's first rows, in its order, the same columns */
	ck_sql_str(c, "t", "SELECT (SELECT string_agg(ticket_pk || ':' || queue_position || ':' || "
			   "review_state, ',' ORDER BY queue_position) FROM agent_review_queue) = "
			   "(SELECT string_agg(ticket_pk || ':' || queue_position || ':' || "
			   "review_state, ',' ORDER BY queue_position) FROM agent_review_queue_head)");
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM agent_review_queue_head"), 5);
	PQfinish(c);
}
END_TEST

/*
 * #19: a migration drops our views by name, never CASCADE: an operator's view
 * on one of them makes the migrate fail with a message that says what to
 * do, nothing applied, the operator's view kept.
 */
START_TEST(test_operator_view)
{
	static char text[65536];
	PGconn *v5 = db_v5("r_opview");

	ck_assert_ptr_nonnull(v5);
	ck_assert_int_eq(h_sql_exec(v5, "CREATE VIEW ops_backlog AS SELECT urgency, awaiting FROM "
					"metrics_backlog"),
			 0);
	ck_assert_int_eq(migrate_log("r_opview", text, sizeof(text)), -1);
	ck_assert_msg(strstr(text, "006_functions_apart.sql") != NULL &&
			      strstr(text, "ops_backlog") != NULL &&
			      strstr(text, "an object that is not triaged's depends on a view") != NULL,
		      "migrate log: %.2000s", text);
	ck_assert_int_eq(h_sql_ll(v5, "SELECT max(version) FROM schema_version"), 5);
	ck_assert_int_eq(h_sql_ll(v5, "SELECT count(*) FROM ops_backlog"), 0);
	/* dropped by the operator, the migration goes through */
	ck_assert_int_eq(h_sql_exec(v5, "DROP VIEW ops_backlog"), 0);
	ck_assert_int_ge(migrate("r_opview"), 3);
	ck_assert_int_eq(h_sql_ll(v5, "SELECT count(*) FROM metrics_backlog"), 0);
	PQfinish(v5);
}
END_TEST

static Suite *review_suite(void)
{
	Suite *su = suite_create("review");
	const struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{"migrate", test_migrate_idempotent}, {"order", test_queue_order},
		{"sla", test_sla},		      {"claim", test_claim_concurrency},
		{"approve", test_approve_reject},     {"correct", test_corrections},
		{"roles", test_roles},		      {"metrics", test_metrics},
		{"grants", test_grants},	      {"call_rows_upgrade", test_call_rows_upgrade},
			      {"stale", test_stale_revision},
	    {"out_of_order", test_out_of_order}, {"revert", test_revert},
	    {"calls_settle", test_calls_settle}, {"lock_order", test_lock_order},
	    {"claim_races", test_claim_races},
		{"leases", test_leases},	      {"limits", test_agent_limits},
		{"counters", test_counters},	      {"opview", test_operator_view},
	};
	/* one case per scenario, so CK_RUN_CASE=<name> runs one alone */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_unchecked_fixture(tc, stack_pg_up, stack_pg_down);
		tcase_set_timeout(tc, 120);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(su, tc);
	}
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(review_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
