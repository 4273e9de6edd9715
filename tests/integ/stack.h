/*
 * stack: one test's set of real parts around a shared throwaway PostgreSQL
 * cluster: a fresh database (migrated by `triaged migrate`), the dev broker,
 * the fake model and one or more daemons. Every process it starts is
 * killed at exit, also when a Check assertion ends the test early.
 */
#ifndef TRIAGED_TEST_STACK_H
#define TRIAGED_TEST_STACK_H

#include <check.h>
#include <libpq-fe.h>

#include "harness.h"

#define STACK_MAX_ENV 32

struct stack {
	const struct h_pg *pg;
	char name[64];
	char dbname[64];
	char conninfo[PATH_MAX + 128];
	char bootstrap[256];
	char boot_file[PATH_MAX];
	char model_url[128];
	int model_port;
	int partitions;
	struct h_proc broker, model;
	PGconn *db;
	/* extra daemon environment ("NAME=value"), added with stack_env() */
	char *env[STACK_MAX_ENV];
	int nenv;
	/* set by stack_broker_cluster(): the broker's control FIFO ("" = none) and size */
	char control[PATH_MAX];
	int brokers;
};

/* Create database <name>, migrate it, start the broker (topic with partitions) and the fake model. */
int stack_start(struct stack *s, const struct h_pg *pg, const char *name, int partitions,
		const char *const *model_args);
/* Add a daemon environment variable for daemons started later. */
void stack_env(struct stack *s, const char *name, const char *value);
/* Start a daemon (group triaged-<name>); returns 0 once it is spawned. */
int stack_daemon(struct stack *s, struct h_proc *d, const char *label);
/* Wait until the daemon's log contains text (0) or timeout (-1). */
int stack_wait_log(const struct h_proc *d, const char *text, int timeout_ms);
/* Lines of the daemon's log holding a (and b too, unless NULL); 0 without a log. */
int stack_log_count(const struct h_proc *d, const char *a, const char *b);
/* SIGTERM and wait; returns the exit status or -1. */
int stack_stop_daemon(struct h_proc *d, int timeout_ms);
/* Produce n tickets from the sample file with ids <prefix><seq>. */
int stack_produce_samples(struct stack *s, int n, const char *prefix);
/* Produce the lines of a JSONL file as they are (keys from ticket_id). */
int stack_produce_file(struct stack *s, const char *path, int raw);
/* Produce one file as one message. */
int stack_produce_binary(struct stack *s, const char *path);
/* Wait until the SQL count query returns at least want; returns the last value. */
long long stack_wait_count(struct stack *s, long long want, int timeout_ms, const char *sql);
/* The fake model's /_stats: total requests, or per-ticket count when ticket != NULL. */
long long stack_model_requests(struct stack *s, const char *ticket);
/* Rows whose ticket or price is missing, over triaged_integrity()'s four
 * checks (migration 060 dropped the foreign keys they stand for): 0 when the
 * data is whole, -1 if the function does not answer with exactly four. */
long long stack_orphans(struct stack *s);
/* Total of committed offsets of the group on the intake topic. */
long long stack_committed(struct stack *s);
long long stack_end_offsets(struct stack *s);
/* The fake model's own token counts for one model (answers written): 0, or -1. */
int stack_model_tokens(struct stack *s, const char *model, long long *answers,
		       long long *prompt_tokens, long long *completion_tokens);
/* POST a JSON body to the fake model's /_control. */
int stack_model_control(struct stack *s, const char *json);
/*
 * The throwaway PostgreSQL cluster shared by a test case: stack_pg_up and
 * stack_pg_down are its unchecked fixture (a cluster that cannot start
 * fails the suite: it is never skipped).
 */
extern struct h_pg stack_pg;
void stack_pg_up(void);
void stack_pg_down(void);
/* Wait until the group's committed offsets on the intake topic sum to want: 0, or -1 on timeout. */
int stack_wait_committed(struct stack *s, long long want, int timeout_ms);
/* Assert cond (evaluated once); on failure show the tail of process d's log first. */
#define ck_assert_d(cond, d)                                                                       \
	do {                                                                                       \
		int ok_ = (cond);                                                                  \
		if (!ok_)                                                                          \
			h_dump_log((d), 60);                                                       \
		ck_assert_msg(ok_, "Assertion '%s' failed", #cond);                                \
	} while (0)

/* One Check test case per scenario, so CK_RUN_CASE=<name> runs one alone. */
struct stack_case {
	const char *name;
	const TTest *test;
};
/* Run the cases (each with the PostgreSQL fixture and timeout_s); returns main's exit code. */
int stack_run_suite(const char *suite, const struct stack_case *cases, size_t n, int timeout_s);

/* Stop everything (also run at exit). */
void stack_stop(struct stack *s);

/* ---- fault injection (tests/integ/test_faults.c) ------------------------- */

struct json_object;

/*
 * Replace the broker stack_start() made by a cluster of `brokers` brokers
 * (topics with replication factor min(3, brokers)) with a control FIFO, and
 * point later daemons at it. Call before any daemon or producer used the
 * first one: the old broker's messages are gone.
 */
int stack_broker_cluster(struct stack *s, int brokers);
/* Send one control line (printf-like) to the broker and wait up to 5 s for its
 * reply: 0 on "ok", -1 on "error", no reply or no control FIFO. */
int stack_broker_control(struct stack *s, const char *fmt, ...) H_PRINTF_LIKE(2, 3);
/* Leader broker id of partitions 0..n-1 of the intake topic into leaders[]; 0 ok. */
int stack_partition_leaders(struct stack *s, int *leaders, int n);
/* Start one more fake model (args as for stack_start); its base URL
 * ("http://127.0.0.1:PORT/v1") into url. The process is killed at exit. */
int stack_model_extra(struct stack *s, struct h_proc *p, const char *label,
		      const char *const *model_args, char *url, size_t urllen, int *port);
/* GET /_stats of the fake model on port (0: the stack's) as a new json-c
 * object (caller json_object_put()s it), or NULL. */
struct json_object *stack_model_stats(struct stack *s, int port);

/* ---- loop lag from the admin port (issue 16: test_looplag, test_faults) ---- */

#define STACK_LAG_BUCKETS 16 /* triaged_loop_lag_seconds: 1 ms .. 60 s and +Inf */

struct stack_lag {
	long long le[STACK_LAG_BUCKETS]; /* cumulative, as exported */
	double sum_s;
	long long count;
	/* the loop thread's CPU and run delay (seconds; -1 when not exported) */
	double cpu_s, run_delay_s;
	/* ticks over 5 ms by cause, and the loop's CPU and run delay before them (-1: not exported) */
	long long late_busy, late_waited;
	double late_cpu_s, late_run_delay_s;
};

/* The port from the daemon's "http listening" log line (waits up to 30 s); -1 if none. */
int stack_http_port(const struct h_proc *d);
/*
 * Run `triaged ARGS...` with the stack's environment, under label (its log),
 * waiting up to timeout_ms: its output (new string) and exit status.
 */
char *stack_run_cli(struct stack *s, const char *label, char *const args[], int timeout_ms,
		    int *status);
/* stack_run_cli with `check-models`. */
char *stack_check_models(struct stack *s, int *status);
/* One unlabelled sample from GET /metrics on port (e.g. "triaged_consumer_lag"); -1 if none. */
double stack_metric(int port, const char *name);
/* The loop-lag histogram from GET /metrics on port: 0, or -1 when it is not there. */
int stack_loop_lag(int port, struct stack_lag *l);
/* The smallest bucket bound (seconds, as text) holding at least q of the ticks between a and b
 * ("-" when none). */
const char *stack_lag_quantile(const struct stack_lag *a, const struct stack_lag *b, double q);
/* The bound of the highest bucket a tick between a and b went into. */
const char *stack_lag_max(const struct stack_lag *a, const struct stack_lag *b);

#endif
