/*
 * test_db: the daemon's database module (service/io/db.c) on a real
 * PostgreSQL, with stand-in SQL functions of its own in place of the
 * schema's (same names and result columns), so that what each round held,
 * and in which transaction, can be read back.
 *
 * `order`: an item queued after another of an earlier kind is never
 * committed before it. The store of a ticket sums the cost of its calls,
 * recorded just before it (db.h: calls before the stores whose events sum
 * their cost); with rounds that span loop passes (#16), a store queued
 * while a round stood open at the store part joined that round, and the
 * call queued just before it waited for the next one: the event the daemon
 * sent carried the mini's cost without the flagship's (a CI failure of
 * test_cascade, 2026-12-06). Here every loop pass queues a few (call,
 * store) pairs and the slice is 1 us, so every round stays open from pass
 * to pass; each stand-in store records whether its call was already there.
 * A third run ends the connection's server session halfway: every item is
 * still answered once, and the order holds through the re-sending. (It also
 * caught an open round left with no way on: once every item had been
 * submitted, a round whose output the last flush sent waited for ever.) A
 * fourth has the database reject some stores.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "harness.h"
#include "db.h"
#include "loopslice.h"
#include "pgbin.h"

static struct h_pg pg;

static void pg_setup(void)
{
	ck_assert_msg(h_pg_start(&pg) == 0, "h_pg_start failed (see stderr)");
}

static void pg_teardown(void)
{
	h_pg_destroy(&pg);
}

/* Every kind's function, as db_kinds.c selects from it; call and store log what they see. */
static const char *const stand_ins[] = {
	"CREATE TABLE log (id bigserial PRIMARY KEY, kind text NOT NULL, n integer NOT NULL, "
	"tx bigint NOT NULL DEFAULT txid_current(), saw_call boolean)",
	/* calls are binary rows of a composite type (db_submit_bin, migration 061) */
	"CREATE TYPE triaged_call_in2 AS (n integer, pad text)",
	"CREATE FUNCTION triaged_record_calls_rows2(b triaged_call_in2[]) "
	"RETURNS TABLE (idx integer, call_id bigint, cost_usd numeric) LANGUAGE sql AS $$ "
	"INSERT INTO log (kind, n) SELECT 'call', x.n FROM unnest(b) x; "
	"SELECT (o - 1)::int, o, 0.001 FROM unnest(b) WITH ORDINALITY x(n, pad, o) $$",
	"CREATE TYPE triaged_store_in AS (n integer, bad boolean)",
	"CREATE FUNCTION triaged_store_rows(b triaged_store_in[]) RETURNS TABLE (idx integer, "
	"result_id bigint, inserted boolean, triaged_at text, cost_usd numeric, event jsonb) "
	"LANGUAGE sql AS $$ "
	"SELECT pg_sleep(CASE WHEN current_setting('triaged_test.slow', true) = 'on' THEN 0.05 "
	"ELSE 0 END); "
	"INSERT INTO log (kind, n, saw_call) SELECT 'store', x.n "
	"+ 0 * (1 / (CASE WHEN x.bad THEN 0 ELSE 1 END)), EXISTS (SELECT 1 "
	"FROM log l WHERE l.kind = 'call' AND l.n = x.n) FROM unnest(b) x; "
	"SELECT (o - 1)::int, o, true, now()::text, 0.001, NULL::jsonb "
	"FROM unnest(b) WITH ORDINALITY x(n, bad, o) $$",
	"CREATE FUNCTION triaged_reserve(b jsonb) RETURNS TABLE (idx integer, granted boolean, "
	"budget_id bigint, amount_usd numeric, reservation_id bigint, verdict text) LANGUAGE sql "
	"AS $$ SELECT 0, true, 0::bigint, 0::numeric, 0::bigint, ''::text WHERE false $$",
	"CREATE FUNCTION triaged_record_dead_letters(b jsonb) RETURNS TABLE (idx integer, "
	"inserted boolean) LANGUAGE sql AS $$ SELECT 0, true WHERE false $$",
	"CREATE FUNCTION triaged_feedback(b jsonb) RETURNS TABLE (idx integer, outcome text, "
	"ticket_pk bigint) LANGUAGE sql AS $$ SELECT 0, ''::text, 0::bigint WHERE false $$",
	/* claims too (migration 062): the prepare round looks the type up */
	"CREATE TYPE triaged_claim_in AS (n integer)",
	"CREATE FUNCTION triaged_claim_rows(b triaged_claim_in[]) RETURNS TABLE (idx integer, "
	"ticket_pk bigint, revision integer, state text, calls jsonb, event jsonb) LANGUAGE sql "
	"AS $$ SELECT 0, 0::bigint, 0, ''::text, NULL::jsonb, NULL::jsonb WHERE false $$",
	"CREATE FUNCTION triaged_record_shadow(b jsonb) RETURNS TABLE (idx integer, "
	"inserted boolean) LANGUAGE sql AS $$ SELECT 0, true WHERE false $$",
	"CREATE FUNCTION triaged_renew_reservations(b jsonb) RETURNS TABLE (idx integer, "
	"renewed integer, lost_today integer) LANGUAGE sql AS $$ SELECT 0, 0, 0 WHERE false $$",
};

struct drv {
	struct event_base *base;
	struct db *db;
	struct event *tick, *deadline;
	int total, per_pass, next;
	int tick_us; /* > 0: a tick every tick_us (a steady flow); 0: every loop pass */
	size_t pad; /* bytes of padding in each call */
	int bad_every; /* > 0: every this many stores is one the database rejects (data error) */
	PGconn *killer; /* non-NULL: ends the db's server session once, halfway */
	int killed;
	size_t pending_at_kill; /* items queued or in flight when it was killed */
	int done, failed;
	int up;
};

static void on_item(void *arg, const struct db_row *row, const char *err)
{
	struct drv *d = arg;
	if (row == NULL) {
		fprintf(stderr, "order: item refused: %s\n", err ? err : "?");
		d->failed++;
	}
	if (++d->done == 2 * d->total)
		event_base_loopbreak(d->base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct drv *d = arg;
	(void)fd, (void)what;
	/* as the pipeline does on an answer: the call, then the ticket's store */
	for (int i = 0; i < d->per_pass && d->next < d->total; i++, d->next++) {
		struct buf b;
		struct pgbin_rec r;
		char *pad = malloc(d->pad + 1);
		size_t len;

		memset(pad, 'x', d->pad);
		pad[d->pad] = '\0';
		buf_init(&b, SIZE_MAX);
		pgbin_rec_begin(&r, &b);
		pgbin_int4(&r, d->next);
		pgbin_text(&r, pad);
		ck_assert_int_eq(pgbin_rec_end(&r), 0);
		free(pad);
		len = b.len;
		db_submit_bin(d->db, DB_CALL, buf_steal(&b), len, on_item, d);
		/* the store: a row the database refuses (a division by zero) every bad_every */
		buf_init(&b, SIZE_MAX);
		pgbin_rec_begin(&r, &b);
		pgbin_int4(&r, d->next);
		pgbin_bool(&r, d->bad_every > 0 && d->next % d->bad_every == 0);
		ck_assert_int_eq(pgbin_rec_end(&r), 0);
		len = b.len;
		db_submit_bin(d->db, DB_STORE, buf_steal(&b), len, on_item, d);
	}
	if (d->killer && !d->killed && d->next >= d->total / 2) {
		/* rounds are in flight and open: every unanswered item is sent again */
		d->pending_at_kill = db_pending(d->db);
		d->killed = (int)h_sql_ll(d->killer, "SELECT count(pg_terminate_backend(pid)) FROM "
						   "pg_stat_activity WHERE datname = current_database() "
						   "AND pid <> pg_backend_pid() AND backend_type = "
						   "'client backend'");
	}
	if (d->next < d->total) {
		struct timeval tv = {0, d->tick_us};
		if (d->tick_us > 0)
			evtimer_add(d->tick, &tv);
		else
			loopslice_next_pass(d->tick);
	}
}

static void on_state(void *arg, int up)
{
	struct drv *d = arg;
	if (up && !d->up && d->next < d->total)
		loopslice_next_pass(d->tick);
	d->up = up;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct drv *d = arg;
	(void)fd, (void)what;
	fprintf(stderr, "order: deadline with %d of %d items answered\n", d->done, 2 * d->total);
	event_base_loopbreak(d->base);
}

/*
 * Runs total (call, store) pairs through a db, then checks the log and
 * empties it. kill: end the db's server session once, halfway (the items
 * of the rounds in flight are sent again: a call or store may then be
 * logged twice, as the schema's idempotent functions would see it).
 */
struct run {
	int per_pass, tick_us; /* 0, 0: 3 pairs every loop pass */
	int64_t delay_ms;      /* db_set_delay */
	int slow;	       /* every store statement takes 50 ms more (a busy database) */
	int keep_open;	       /* db_set_slice(1): rounds stay open from pass to pass */
	struct db_stats st;    /* out */
};

static void run_pairs_ex(PGconn *c, const char *label, int total, size_t pad, int kill,
			 int bad_every, struct run *ru)
{
	int bad = bad_every > 0 ? (total + bad_every - 1) / bad_every : 0;
	struct drv d = {0};
	struct db_stats st;
	struct timeval limit = {60, 0};
	char conninfo[sizeof(pg.conninfo) + 64];

	d.total = total;
	d.per_pass = ru->per_pass > 0 ? ru->per_pass : 3;
	d.tick_us = ru->tick_us;
	d.pad = pad;
	d.killer = kill ? c : NULL;
	d.bad_every = bad_every;
	d.base = loopslice_base_new();
	ck_assert_ptr_nonnull(d.base);
	d.tick = evtimer_new(d.base, on_tick, &d);
	d.deadline = evtimer_new(d.base, on_deadline, &d);
	evtimer_add(d.deadline, &limit);
	snprintf(conninfo, sizeof(conninfo), "%s%s", pg.conninfo,
		 ru->slow ? " options='-c triaged_test.slow=on'" : "");
	d.db = db_new(d.base, conninfo, 64, 1000, on_state, &d);
	if (ru->keep_open)
		db_set_slice(d.db, 1); /* every part spends the pass: rounds stay open */
	db_set_delay(d.db, ru->delay_ms);
	event_base_dispatch(d.base);
	db_get_stats(d.db, &st);
	ru->st = st;

	fprintf(stderr,
		"order %s: pairs=%d call_bytes=%zu rounds=%llu items=%llu call_statements=%llu "
		"store_statements=%llu split_rounds=%llu lingered_rounds=%llu reconnects=%llu\n",
		label, d.total, pad + 16, st.batches, st.items, st.kind_batches[DB_CALL],
		st.kind_batches[DB_STORE], st.split_rounds, st.lingered_rounds, st.reconnects);
	ck_assert_int_eq(d.done, 2 * d.total); /* each item answered once */
	ck_assert_int_eq(d.failed, bad);       /* the rejected stores, and only they */
	if (kill) {
		fprintf(stderr, "order %s: items pending at the kill=%zu, rows logged=%lld for %d\n",
			label, d.pending_at_kill, h_sql_ll(c, "SELECT count(*) FROM log"), 2 * d.total);
		ck_assert_int_eq(d.killed, 1);
		ck_assert_uint_ge(st.reconnects, 1);
	}
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(DISTINCT n) FROM log WHERE kind = 'call'"),
			 d.total);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(DISTINCT n) FROM log WHERE kind = 'store'"),
			 d.total - bad);
	/* nothing left queued, in flight or to hand back (the pending gauge) */
	ck_assert_uint_eq(db_pending(d.db), 0);
	if (bad_every > 0) {
		/* a rolled-back round is sent again after the rounds already sent
		 * behind it: their stores may precede its calls (db.h), so only
		 * counted here */
		fprintf(stderr, "order %s: stores committed before their call: %lld\n", label,
			h_sql_ll(c, "SELECT count(*) FROM log WHERE kind = 'store' AND NOT saw_call"));
	} else {
		/* no store before its call: in an earlier transaction, or earlier in the same one */
		ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM log WHERE kind = 'store' AND "
					     "NOT saw_call"),
				 0);
		ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM log s WHERE s.kind = 'store' AND "
					     "(SELECT min(k.tx) FROM log k WHERE k.kind = 'call' AND "
					     "k.n = s.n) > s.tx"),
				 0);
	}
	ck_assert_int_eq(h_sql_exec(c, "TRUNCATE log"), 0);

	if (ru->delay_ms > 0) {
		/* an idle connection sends at once: one more pair, nothing in flight */
		long long t0 = h_now_ms();
		d.total++;
		d.per_pass = 1;
		event_active(d.tick, EV_TIMEOUT, 0);
		event_base_dispatch(d.base);
		ck_assert_int_eq(d.done, 2 * d.total);
		db_get_stats(d.db, &st);
		fprintf(stderr, "order %s: a pair on the idle connection answered in %lld ms\n", label,
			h_now_ms() - t0);
		ck_assert_uint_eq(st.lingered_rounds, ru->st.lingered_rounds);
		ck_assert_int_eq(h_sql_exec(c, "TRUNCATE log"), 0);
	}
	db_free(d.db);
	event_free(d.tick);
	event_free(d.deadline);
	event_base_free(d.base);
}

static void install_stand_ins(PGconn *c)
{
	/* once per database: the cases share the fixture's */
	if (h_sql_ll(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'log'") == 1) {
		ck_assert_int_eq(h_sql_exec(c, "TRUNCATE log"), 0);
		return;
	}
	for (size_t i = 0; i < sizeof(stand_ins) / sizeof(stand_ins[0]); i++)
		ck_assert_int_eq(h_sql_exec(c, "%s", stand_ins[i]), 0);
}

static void run_pairs(PGconn *c, const char *label, int total, size_t pad, int kill,
		      int bad_every, unsigned long long *split_rounds)
{
	struct run ru = {.keep_open = 1};
	run_pairs_ex(c, label, total, pad, kill, bad_every, &ru);
	*split_rounds = ru.st.split_rounds;
}

START_TEST(test_order)
{
	PGconn *c = h_pg_connect(&pg);
	unsigned long long split_small, split_large, split_reconnect, split_rejected;

	ck_assert_ptr_nonnull(c);
	install_stand_ins(c);
	/* small items: a round takes each kind in several statements across passes */
	run_pairs(c, "small", 4000, 0, 0, 0, &split_small);
	/* 40 KiB calls: a round's 1 MiB cap leaves calls for the next round, and
	 * the stores queued after them must wait with them */
	run_pairs(c, "large", 1500, 40 << 10, 0, 0, &split_large);
	/* the connection lost halfway: the rounds in flight go back to the queues
	 * in order, ahead of what came after, and the order still holds */
	run_pairs(c, "reconnect", 1500, 40 << 10, 1, 0, &split_reconnect);
	/* every 50th store the database rejects (a data error): its round is
	 * rolled back and sent again, that statement's items one by one; every
	 * item is still answered once, and only the bad stores are refused */
	run_pairs(c, "rejected", 4000, 0, 0, 50, &split_rejected);
	/* the rounds did span passes: the runs tested what they are about */
	ck_assert_msg(split_small > 0 && split_large > 0, "no round took a kind in two statements");
	PQfinish(c);
}
END_TEST

/*
 * Group commit (postgres.batch_delay_ms), step by step: a pair is submitted on
 * the idle connection, then one pair in each of the next three loop passes,
 * while the first round is still in the database (its store takes 50 ms).
 * Without a delay each pass sends a round of its own: four store statements.
 * With one, the three wait for the round in flight, then go together: two,
 * and one round counted as held back. Every item is answered once and in
 * order either way (run_pairs_ex's checks), and a pair submitted afterwards,
 * on the idle connection, is not held back.
 */
START_TEST(test_linger)
{
	PGconn *c = h_pg_connect(&pg);
	struct run now = {.per_pass = 1, .delay_ms = 0, .slow = 1};
	struct run wait = {.per_pass = 1, .delay_ms = 200, .slow = 1};

	ck_assert_ptr_nonnull(c);
	install_stand_ins(c);
	run_pairs_ex(c, "no-delay", 4, 0, 0, 0, &now);
	run_pairs_ex(c, "delay", 4, 0, 0, 0, &wait);
	ck_assert_uint_eq(now.st.kind_batches[DB_STORE], 4);
	ck_assert_uint_eq(now.st.lingered_rounds, 0);
	ck_assert_uint_eq(wait.st.kind_batches[DB_STORE], 2);
	ck_assert_uint_eq(wait.st.lingered_rounds, 1);
	PQfinish(c);
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("order");
	tcase_add_unchecked_fixture(tc, pg_setup, pg_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_linger);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(db_suite());
	int failed;
	fprintf(stderr, "test logs in %s\n", h_tmpdir());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
