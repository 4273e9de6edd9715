/*
 * test_harness: the integration harness checks itself against the real
 * parts it drives: a PostgreSQL cluster (values read back, and still there
 * after a restart), a child process (exit status and log), the
 * librdkafka mock cluster for the Kafka helpers, and triaged-produce's
 * --rate pacing (the benchmark's half-rate feed).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "harness.h"

/* Started once in the runner process (unchecked fixture), shared by the tests. */
static struct h_pg pg;

static void pg_setup(void)
{
	ck_assert_msg(h_pg_start(&pg) == 0, "h_pg_start failed (see stderr)");
}

static void pg_teardown(void)
{
	h_pg_destroy(&pg);
}

START_TEST(test_pg_roundtrip_and_durability)
{
	PGconn *c = h_pg_connect(&pg);
	char *s;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_sql_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)"), 0);
	ck_assert_int_eq(h_sql_exec(c, "INSERT INTO t VALUES (%d, '%s')", 7, "seven"), 0);
	ck_assert_int_eq(h_sql_ll(c, "SELECT id * 6 FROM t WHERE v = '%s'", "seven"), 42);
	s = h_sql_str(c, "SELECT v FROM t WHERE id = %d", 7);
	ck_assert_str_eq(s, "seven");
	free(s);
	/* no row and SQL errors are reported, not mistaken for values */
	ck_assert_ptr_null(h_sql_str(c, "SELECT v FROM t WHERE id = 8"));
	ck_assert_int_eq(h_sql_ll(c, "SELECT nope FROM t"), -1);
	ck_assert_int_eq(h_sql_exec(c, "INSERT INTO t VALUES (7, 'dup')"), -1);
	ck_assert_str_eq(PQparameterStatus(c, "server_encoding"), "UTF8");
	s = h_sql_str(c, "SHOW fsync");
	ck_assert_str_eq(s, "on");
	free(s);
	s = h_sql_str(c, "SELECT current_database()");
	ck_assert_str_eq(s, "triaged");
	free(s);
	PQfinish(c);

	ck_assert_int_eq(h_pg_stop(&pg), 0);
	ck_assert_ptr_null(h_pg_connect(&pg));
	ck_assert_int_eq(h_pg_start_again(&pg), 0);

	c = h_pg_connect(&pg);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_sql_ll(c, "SELECT count(*) FROM t"), 1);
	s = h_sql_str(c, "SELECT v FROM t WHERE id = 7");
	ck_assert_str_eq(s, "seven");
	free(s);
	PQfinish(c);
}
END_TEST

START_TEST(test_spawn_exit_status_and_log)
{
	char *const argv[] = {"/bin/sh", "-c", "echo hi; echo \"x=$H_X\" >&2; exit 3", NULL};
	char *const env[] = {"H_X=extra", NULL};
	struct h_proc p;
	int st = -1;
	char *line;

	ck_assert_int_eq(h_spawn(&p, "sh", argv, env), 0);
	ck_assert_int_gt(p.pid, 0);
	ck_assert_int_eq(h_wait_exit(&p, 10000, &st), 0);
	ck_assert_int_eq(st, 3);
	line = h_read_first_line(p.log_path);
	ck_assert_str_eq(line, "hi");
	free(line);
	/* a second process with the same name gets its own log */
	{
		char *const argv2[] = {"/bin/sh", "-c", "echo second", NULL};
		struct h_proc q;
		ck_assert_int_eq(h_spawn(&q, "sh", argv2, NULL), 0);
		ck_assert_int_eq(h_wait_exit(&q, 10000, &st), 0);
		ck_assert_int_eq(st, 0);
		ck_assert_str_ne(q.log_path, p.log_path);
		line = h_read_first_line(q.log_path);
		ck_assert_str_eq(line, "second");
		free(line);
	}
	{
		FILE *f = fopen(p.log_path, "r");
		char buf[256];
		size_t n;
		ck_assert_ptr_nonnull(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		ck_assert_str_eq(buf, "hi\nx=extra\n");
	}
}
END_TEST

START_TEST(test_spawn_signal_and_stop)
{
	char *const argv[] = {"/bin/sleep", "30", NULL};
	char *const missing[] = {"/nonexistent/triaged-nope", NULL};
	struct h_proc p;
	int st = -1;

	ck_assert_int_eq(h_spawn(&p, "sleeper", argv, NULL), 0);
	/* still running: a timeout, not an exit */
	ck_assert_int_eq(h_wait_exit(&p, 200, &st), -1);
	ck_assert_int_eq(h_signal(&p, SIGTERM), 0);
	ck_assert_int_eq(h_wait_exit(&p, 10000, &st), 0);
	ck_assert_int_eq(st, 128 + SIGTERM);
	h_stop(&p); /* no-op once exited */

	ck_assert_int_eq(h_spawn(&p, "sleeper", argv, NULL), 0);
	h_stop(&p);
	ck_assert_int_eq(p.exited, 1);
	ck_assert_int_eq(p.exit_status, 128 + SIGTERM);

	ck_assert_int_eq(h_spawn(&p, "missing", missing, NULL), 0);
	ck_assert_int_eq(h_wait_exit(&p, 10000, &st), 0);
	ck_assert_int_eq(st, 127);
}
END_TEST

static int file_has_content(void *arg)
{
	char *line = h_read_first_line(arg);
	int ok = line != NULL && strcmp(line, "ready") == 0;
	free(line);
	return ok;
}

START_TEST(test_files_and_paths)
{
	char path[4096], bin[4096];
	char *const argv[] = {"/bin/sh", "-c",
	                      "sleep 0.2; echo ready > \"$OUT.tmp\"; mv \"$OUT.tmp\" \"$OUT\"",
	                      NULL};
	char envv[4200];
	char *const env[] = {envv, NULL};
	struct h_proc p;
	long long t0 = h_now_ms();

	snprintf(path, sizeof(path), "%s/ready.txt", h_tmpdir());
	snprintf(envv, sizeof(envv), "OUT=%s", path);
	ck_assert_int_eq(h_wait_file(path, 50), -1);
	ck_assert_int_eq(h_spawn(&p, "writer", argv, env), 0);
	ck_assert_int_eq(h_wait_file(path, 10000), 0);
	ck_assert_int_eq(h_wait_until(file_has_content, path, 10000, 10), 0);
	ck_assert_int_ge(h_now_ms() - t0, 150);
	h_stop(&p);
	ck_assert_int_eq(access(h_source_dir(), F_OK), 0);
	ck_assert_int_eq(access("/nonexistent-dir", F_OK), -1);
	ck_assert_int_eq(h_bin(bin, sizeof(bin), "no-such-binary"), -1);
	ck_assert_int_eq(h_bin(bin, 8, "triaged"), -1);
}
END_TEST

/* ---- Kafka helpers against librdkafka's mock cluster ---------------------- */

struct seen {
	int n;
	int with_header;
	long long offset_sum;
};

static void count_msg(const rd_kafka_message_t *m, void *arg)
{
	struct seen *s = arg;
	rd_kafka_headers_t *hdrs = NULL;
	const void *v;
	size_t vlen;

	s->n++;
	s->offset_sum += m->offset;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(hdrs, "reason", &v, &vlen) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    vlen == 3 && memcmp(v, "bad", 3) == 0)
		s->with_header++;
}

/*
 * A producer that owns a one-broker mock cluster, with topic (partitions),
 * and the cluster's bootstrap address in *bs. Created in the test's own
 * process because the cluster's threads do not survive Check's fork;
 * rd_kafka_destroy of the producer destroys the cluster too.
 */
static rd_kafka_t *mock_owner(const char *topic, int partitions, const char **bs)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *owner;

	ck_assert_int_eq(
	        rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr)), 0);
	owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	ck_assert_msg(owner != NULL, "%s", errstr);
	mc = rd_kafka_handle_mock_cluster(owner);
	ck_assert_ptr_nonnull(mc);
	*bs = rd_kafka_mock_cluster_bootstraps(mc);
	ck_assert_int_eq(rd_kafka_mock_topic_create(mc, topic, partitions, 1), 0);
	return owner;
}

START_TEST(test_kafka_helpers)
{
	char errstr[256];
	rd_kafka_conf_t *conf;
	rd_kafka_t *prod, *cons;
	rd_kafka_topic_partition_list_t *offs;
	const char *bs;
	struct seen seen = {0};
	int i;

	/* the producer owns a mock cluster and talks to it */
	prod = mock_owner("dlq", 2, &bs);

	/* empty topic: nothing committed, nothing to read */
	ck_assert_int_eq(h_kafka_end_offsets_sum(bs, "dlq", 2), 0);
	ck_assert_int_eq(h_kafka_committed_sum(bs, "g1", "dlq", 2), 0);

	for (i = 0; i < 10; i++) {
		const char *reason = i < 3 ? "bad" : "ok";
		rd_kafka_resp_err_t err =
		        rd_kafka_producev(prod, RD_KAFKA_V_TOPIC("dlq"),
		                          RD_KAFKA_V_PARTITION(i % 2), RD_KAFKA_V_VALUE("x", 1),
		                          RD_KAFKA_V_HEADER("reason", reason, -1), RD_KAFKA_V_END);
		ck_assert_int_eq(err, 0);
	}
	ck_assert_int_eq(rd_kafka_flush(prod, 10000), 0);

	ck_assert_int_eq(h_kafka_end_offsets_sum(bs, "dlq", 2), 10);
	ck_assert_int_eq(h_kafka_consume_all(bs, "dlq", 2, 30000, count_msg, &seen), 0);
	ck_assert_int_eq(seen.n, 10);
	ck_assert_int_eq(seen.with_header, 3);
	ck_assert_int_eq(seen.offset_sum, 2 * (0 + 1 + 2 + 3 + 4));

	/* commit 4 + 2 for group g1 without joining, then read the sum back */
	conf = rd_kafka_conf_new();
	ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bs, errstr, sizeof(errstr)),
	                 0);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", "g1", errstr, sizeof(errstr)), 0);
	cons = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	ck_assert_msg(cons != NULL, "%s", errstr);
	offs = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(offs, "dlq", 0)->offset = 4;
	rd_kafka_topic_partition_list_add(offs, "dlq", 1)->offset = 2;
	ck_assert_int_eq(rd_kafka_commit(cons, offs, 0), 0);
	rd_kafka_topic_partition_list_destroy(offs);
	rd_kafka_destroy_flags(cons, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);

	ck_assert_int_eq(h_kafka_committed_sum(bs, "g1", "dlq", 2), 6);
	ck_assert_int_eq(h_kafka_committed_sum(bs, "other", "dlq", 2), 0);

	rd_kafka_destroy(prod); /* destroys the mock cluster too */
}
END_TEST

/* Run triaged-produce against bootstrap bs; its exit status, -1 if it did not end. */
static int run_produce(char *const argv[], long long *elapsed_ms)
{
	struct h_proc p;
	long long t0 = h_now_ms();
	int st = -1;

	ck_assert_int_eq(h_spawn(&p, "produce", argv, NULL), 0);
	if (h_wait_exit(&p, 60000, &st) < 0) {
		h_stop(&p);
		return -1;
	}
	if (elapsed_ms)
		*elapsed_ms = h_now_ms() - t0;
	if (st != 0)
		h_dump_log(&p, 20);
	return st;
}

/*
 * --rate R sends message k no earlier than k/R s after the first: 61 messages
 * at 100/s take at least 0.6 s (the lower bound only: a slow machine may take
 * longer, never shorter), and every one is delivered. Unpaced, the same 61 go
 * in a few milliseconds, so the bound fails if the pacing is lost.
 */
START_TEST(test_produce_rate)
{
	char bin[4096], file[4096];
	rd_kafka_t *owner;
	const char *bs;
	long long ms = 0;
	FILE *f;

	ck_assert_int_eq(h_bin(bin, sizeof(bin), "triaged-produce"), 0);
	snprintf(file, sizeof(file), "%s/rate.jsonl", h_tmpdir());
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 7; i++)
		fprintf(f, "{\"ticket_id\":\"r%d\",\"body\":\"hello\"}\n", i);
	fclose(f);

	owner = mock_owner("paced", 2, &bs);

	{
		char *const argv[] = {bin,	"-b",	  (char *)bs, "-t",	     "paced",
				      "-f",	file,	  "-n",	      "61",	     "--repeat",
				      "--rate", "100",	  NULL};
		ck_assert_int_eq(run_produce(argv, &ms), 0);
	}
	ck_assert_int_eq(h_kafka_end_offsets_sum(bs, "paced", 2), 61);
	ck_assert_msg(ms >= 600, "61 messages at 100/s took %lld ms, want >= 600", ms);

	/* a rate that is not a positive count is a usage error (2), and sends nothing */
	{
		char *const argv[] = {bin, "-b", (char *)bs, "-t", "paced", "-f", file, "--rate", "0", NULL};
		ck_assert_int_eq(run_produce(argv, NULL), 2);
	}
	{
		char *const argv[] = {bin, "-b", (char *)bs, "-t", "paced", "-f", file, "--rate", "fast", NULL};
		ck_assert_int_eq(run_produce(argv, NULL), 2);
	}
	ck_assert_int_eq(h_kafka_end_offsets_sum(bs, "paced", 2), 61);
	rd_kafka_destroy(owner);
}
END_TEST

static Suite *harness_suite(void)
{
	Suite *s = suite_create("harness");
	TCase *tc_pg = tcase_create("postgres");
	TCase *tc_proc = tcase_create("process");
	TCase *tc_kafka = tcase_create("kafka");

	tcase_add_unchecked_fixture(tc_pg, pg_setup, pg_teardown);
	tcase_set_timeout(tc_pg, 120);
	tcase_add_test(tc_pg, test_pg_roundtrip_and_durability);
	suite_add_tcase(s, tc_pg);

	tcase_set_timeout(tc_proc, 60);
	tcase_add_test(tc_proc, test_spawn_exit_status_and_log);
	tcase_add_test(tc_proc, test_spawn_signal_and_stop);
	tcase_add_test(tc_proc, test_files_and_paths);
	suite_add_tcase(s, tc_proc);

	tcase_set_timeout(tc_kafka, 60);
	tcase_add_test(tc_kafka, test_kafka_helpers);
	tcase_add_test(tc_kafka, test_produce_rate);
	suite_add_tcase(s, tc_kafka);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(harness_suite());
	int failed;

	/* created in the runner so the logs outlive each test's child */
	fprintf(stderr, "test logs in %s\n", h_tmpdir());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
