/*
 * Loop lag under regex load (issue 16): figures, not timing assertions.
 * Without LOOPLAG_BENCH=1 only `big_rounds` runs (below, at the end: large
 * tickets through the database's split rounds, asserted). Opt-in with
 * LOOPLAG_BENCH=1: `regex_load` triages the same 10,000
 * tickets twice on fresh stacks (database, broker, fake model, daemon):
 *   baseline  the shipped rules (deploy/rules.conf) as they are;
 *   regexes   the shipped rules plus the costliest regexes the load-time
 *             budget accepts (rules_regex.h: each regex counts 1 plus its
 *             class copies, 128 in all), written so they never match, so
 *             glibc scans all of the capped text with every copy alive.
 * For each run it reads the triaged_loop_lag_seconds buckets from /metrics
 * once the daemon has its partitions and again when the last ticket is
 * stored, and prints the quantiles of the difference (bucket upper bounds:
 * 1, 2.5, 5, 10, 25 ms, ...), the mean, and the ticket rate:
 *   looplag <run>: tickets=N body_bytes=N secs=N tickets/s=N ticks=N
 *       p50<=Xms p99<=Xms max<=Xms mean=Xms
 * It asserts what must hold whatever the machine: every ticket stored once,
 * every offset committed, and the costly file accepted (the daemon starts).
 *
 *   LOOPLAG_BENCH=1 build/test_looplag
 *   LOOPLAG_TICKETS (default 10000), LOOPLAG_BODY_BYTES (default 8192: twice
 *   triage.rules_regex_text_bytes, so the regexes see a full capped text;
 *   262144 is the body, which the mock broker needs
 *   bytes / 4 MiB partitions for: the case sizes them), LOOPLAG_INTERVAL_MS
 *   (the lag timer's period, default 10), LOOPLAG_NICE (a nice value for
 *   the daemon's threads, default 0: on a shared machine the lag also
 *   counts the time the scheduler gave the neighbours; -10, as root, keeps
 *   mostly the loop's own stalls), LOOPLAG_RT=1 (root: the loop thread
 *   alone as SCHED_FIFO, so the lag is its own stalls and not its waits
 *   for a core held by PostgreSQL or the mock broker on a small machine;
 *   set once the partitions are assigned, so librdkafka's threads stay
 *   ordinary), LOOPLAG_ONLY=base|regex (one of the two runs).
 *   The line also gives the ticks over 5 ms, the loop thread's CPU
 *   seconds and run delay (seconds it was ready but waited for a core:
 *   the machine's share of the lag), the daemon's CPU ms per ticket and
 *   the one-minute load average, to read the lag against.
 *   LOOPLAG_PIN=1 (root): the loop thread alone on CPU 0, everything else
 *   (the daemon's other threads, PostgreSQL, broker, model) on CPU 1; the
 *   line then ends with the machine's floor measured in the same run: a
 *   thread above the loop on CPU 0 that only wakes every 10 ms, and the
 *   share of its wake-ups over 5 ms late (what the loop cannot go below).
 */
#include <check.h>
#include <pthread.h>
#include <time.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../bench/wakeup.h"
#include "harness.h"
#include "stack.h"

/* Every thread of every process named comm (NULL: of pid only) onto cpu; the count, or -1. */
static int pin_threads(pid_t pid, const char *comm, int cpu)
{
	DIR *pd = opendir("/proc");
	struct dirent *pe;
	cpu_set_t set;
	int n = 0;
	if (pd == NULL)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	while ((pe = readdir(pd)) != NULL) {
		long p = strtol(pe->d_name, NULL, 10);
		char path[300], name[64] = "";
		DIR *td;
		struct dirent *te;
		FILE *f;
		if (p <= 0 || (comm == NULL && p != pid))
			continue;
		if (comm != NULL) {
			snprintf(path, sizeof(path), "/proc/%ld/comm", p);
			if ((f = fopen(path, "r")) == NULL)
				continue;
			if (fgets(name, sizeof(name), f) == NULL)
				name[0] = '\0';
			fclose(f);
			name[strcspn(name, "\n")] = '\0';
			if (strcmp(name, comm) != 0)
				continue;
		}
		snprintf(path, sizeof(path), "/proc/%ld/task", p);
		if ((td = opendir(path)) == NULL)
			continue;
		while ((te = readdir(td)) != NULL) {
			long tid = strtol(te->d_name, NULL, 10);
			if (tid > 0 && sched_setaffinity((pid_t)tid, sizeof(set), &set) == 0)
				n++;
		}
		closedir(td);
	}
	closedir(pd);
	return n;
}

/* The one-minute load average (the machine's other work shows in the lag), or -1. */
static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%lf", &l) != 1)
		l = -1;
	fclose(f);
	return l;
}

/*
 * Set the nice value of every thread of pid (Linux: nice is per thread; the
 * loop thread alone would wait on locks held by librdkafka's threads left
 * starved at the old value), keeping each thread's distance from the main
 * thread's (the offload workers run OFFLOAD_NICE steps nicer than the loop).
 * Returns the threads changed, or -1.
 */
static int renice_threads(pid_t pid, int prio)
{
	int base;
	char dir[64];
	struct dirent *e;
	int n = 0;
	DIR *dp;
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	errno = 0;
	base = getpriority(PRIO_PROCESS, (id_t)pid);
	if (errno != 0 || (dp = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(dp)) != NULL) {
		long tid = strtol(e->d_name, NULL, 10);
		int cur;
		if (tid <= 0)
			continue;
		errno = 0;
		cur = getpriority(PRIO_PROCESS, (id_t)tid);
		if (errno != 0)
			cur = base;
		if (setpriority(PRIO_PROCESS, (id_t)tid, prio + (cur - base)) < 0) {
			n = -1;
			break;
		}
		n++;
	}
	closedir(dp);
	return n;
}

static long long env_ll(const char *name, long long def, long long min, long long max)
{
	const char *v = getenv(name);
	long long x = v ? strtoll(v, NULL, 10) : def;
	return x < min ? min : (x > max ? max : x);
}

/*
 * The tickets: ids <prefix>NNNNN, English text to body_bytes (no "zqxj" or
 * "qjzx" anywhere, so the costly regexes never match and scan to the end).
 */
static void write_tickets(const char *path, const char *prefix, long long n, long long body_bytes)
{
	static const char *const words =
	    "Hello, I was charged twice for my subscription this month and the invoice "
	    "shows the same amount on two lines. Could you please look into it and refund "
	    "the extra payment to my card? I have been a customer for three years and "
	    "never had a problem like this before. Thanks for your help with the order. ";
	size_t wl = strlen(words);
	char *body = malloc((size_t)body_bytes + 1);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_nonnull(f);
	for (long long i = 0; i < body_bytes; i++)
		body[i] = words[(size_t)i % wl];
	body[body_bytes] = '\0';
	for (long long i = 0; i < n; i++)
		fprintf(f,
			"{\"ticket_id\": \"%s%05lld\", \"source\": \"looplag\", \"created_at\": "
			"\"2026-11-16T08:44:09Z\", \"channel\": \"email\", \"subject\": \"Charged "
			"twice, order %lld\", \"body\": \"%s\"}\n",
			prefix, i, i, body);
	ck_assert_int_eq(fclose(f), 0);
	free(body);
}

/*
 * deploy/rules.conf plus two never-matching regex rules that spend the rest
 * of the scan budget: the shipped file's one regex counts 1, ".{0,65}" 65
 * (64 extra copies, the most one regex may make), ".{0,62}" 62: 128 in all.
 */
static void write_costly_rules(const char *path)
{
	char src[PATH_MAX], buf[8192];
	size_t n;
	FILE *in, *out;
	snprintf(src, sizeof(src), "%s/deploy/rules.conf", h_source_dir());
	in = fopen(src, "r");
	out = fopen(path, "w");
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	fputs("\n# test_looplag: the costliest regexes the scan budget still accepts\n"
	      "[rule looplag_costly_a]\nregex = [a-z ].{0,65}zqxj\naction = escalate\n"
	      "reason = looplag a\npriority = 10\n"
	      "[rule looplag_costly_b]\nregex = [a-z ].{0,62}qjzx\naction = escalate\n"
	      "reason = looplag b\npriority = 10\n",
	      out);
	ck_assert_int_eq(fclose(out), 0);
}

/*
 * The machine's own floor, in the same run (LOOPLAG_PIN=1, root): a thread
 * of this test on the loop's CPU 0, SCHED_FIFO above the loop, that does
 * nothing but wake every 10 ms. The loop cannot delay it (except in kernel
 * code: this kernel is PREEMPT_NONE), so its late wake-ups are the
 * machine's: the host, kernel threads, interrupts. Costs the loop nothing
 * it would notice: a few us per 10 ms.
 */
struct probe {
	pthread_t th;
	volatile int stop;
	long long ticks, over5;
};

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	struct sched_param sp = {.sched_priority = 20};
	struct timespec due;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_setaffinity(0, sizeof(one), &one) != 0 ||
	    sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
		p->ticks = -1;
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &due);
	while (!p->stop) {
		p->over5 += wakeup_next(&due, 10000000) > 5000;
		p->ticks++;
	}
	return NULL;
}

/* The probe's figures for the line (static text). */
static const char *probe_line(const struct probe *p)
{
	static char s[128];
	if (p->ticks <= 0)
		return "not measured (SCHED_FIFO refused)";
	snprintf(s, sizeof(s), "probe_ticks=%lld probe_over_5ms=%lld (%.2f%%)", p->ticks, p->over5,
		 100.0 * (double)p->over5 / (double)p->ticks);
	return s;
}

/* N from "key=N" in the daemon's log (its last line holding key), or -1. */
static long long log_value(const struct h_proc *d, const char *key)
{
	char line[4096];
	long long v = -1;
	const char *p;
	FILE *f = fopen(d->log_path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((p = strstr(line, key)) != NULL)
			v = strtoll(p + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

/* postgres.batch_delay_ms for the daemons run() starts; NULL: the shipped value */
static const char *batch_delay_ms;
/* > 0: every commit of the daemon's sessions waits this long (commit_delay) */
static int commit_delay_us;

/*
 * One run on a fresh stack; prints the figures line. Returns the daemon's
 * split_rounds (database rounds where one kind took several statements).
 */
static long long run(const char *label, const char *rules, long long n, long long body_bytes,
		     long long interval_ms, int prio, int rt, int pin)
{
	struct stack s;
	struct h_proc d;
	struct stack_lag a, b;
	char path[PATH_MAX], prefix[32], sql[256], ival[32], maxmsg[32];
	double cpu0, cpu1, load0;
	long long t0, t1, rows = 0, tickets, dup, committed, end;
	/* the mock keeps about 5 MiB per partition: 1 MiB of payload each on average (the
	 * keys spread unevenly: at 4 MiB 5% of 256 KiB tickets never arrived, at 2 MiB 12
	 * of 2,000 once), at least 8 */
	int partitions = (int)((n * (body_bytes + 400)) / (1LL << 20)) + 1;
	const char *margs[] = {NULL};

	if (partitions < 8)
		partitions = 8;
	snprintf(prefix, sizeof(prefix), "ll-%s-", label);
	snprintf(path, sizeof(path), "%s/looplag-%s.jsonl", h_tmpdir(), label);
	write_tickets(path, prefix, n, body_bytes);
	ck_assert_int_eq(stack_start(&s, &stack_pg, label, partitions, margs), 0);
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	stack_env(&s, "TRIAGED_TRIAGE_RULES_FILE", rules);
	snprintf(ival, sizeof(ival), "%lld", interval_ms);
	stack_env(&s, "TRIAGED_HTTP_LOOP_LAG_INTERVAL_MS", ival);
	/* a 256 KiB body plus its JSON is over the default message cap */
	snprintf(maxmsg, sizeof(maxmsg), "%lld",
		 body_bytes + 4096 > 262144 ? body_bytes + 4096 : 262144);
	stack_env(&s, "TRIAGED_INTAKE_MAX_MESSAGE_BYTES", maxmsg);
	if (batch_delay_ms != NULL)
		stack_env(&s, "TRIAGED_POSTGRES_BATCH_DELAY_MS", batch_delay_ms);
	if (commit_delay_us > 0) {
		char ci[sizeof(s.conninfo) + 96];
		snprintf(ci, sizeof(ci), "%s options='-c commit_delay=%d -c commit_siblings=0'",
			 s.conninfo, commit_delay_us);
		stack_env(&s, "TRIAGED_POSTGRES_CONNINFO", ci);
	}
	ck_assert_int_eq(stack_produce_file(&s, path, 0), 0);
	ck_assert_int_eq(stack_end_offsets(&s), n);
	unlink(path);

	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	if (prio != 0)
		ck_assert_d(renice_threads(d.pid, prio) > 0, &d);
	int port = stack_http_port(&d);
	ck_assert_d(port > 0, &d);
	ck_assert_d(stack_wait_log(&d, "partitions assigned", 60000) == 0, &d);
	if (rt) {
		/* the loop thread alone as SCHED_FIFO: it takes a core when it wakes, so the
		 * lag is its own stalls, not its waits for a core (root only). Set once the
		 * consumer has its partitions: librdkafka's threads exist by then and stay
		 * as they are (a thread inherits its creator's policy, so set at the start
		 * the broker threads were FIFO too and held the loop's core) */
		struct sched_param sp = {.sched_priority = 10};
		ck_assert_d(sched_setscheduler(d.pid, SCHED_FIFO, &sp) == 0, &d);
	}
	if (pin) {
		/* the loop thread alone on CPU 0; the daemon's other threads, PostgreSQL,
		 * the broker and the model on CPU 1 (the test and what it starts are there
		 * already): the lag is then the loop's own, not its waits for a core that
		 * another process holds in the kernel (this kernel is PREEMPT_NONE: a woken
		 * FIFO thread waits for the running task to leave the kernel) */
		cpu_set_t one;
		ck_assert_d(pin_threads(d.pid, NULL, 1) > 0, &d);
		ck_assert_d(pin_threads(0, "postgres", 1) > 0, &d);
		CPU_ZERO(&one);
		CPU_SET(0, &one);
		ck_assert_d(sched_setaffinity(d.pid, sizeof(one), &one) == 0, &d);
	}
	ck_assert_d(stack_loop_lag(port, &a) == 0, &d);
	t0 = h_now_ms();
	cpu0 = h_proc_cpu_ms(d.pid);
	load0 = loadavg();
	struct probe pr = {.stop = 0, .ticks = 0, .over5 = 0};
	int probing = pin && pthread_create(&pr.th, NULL, probe_main, &pr) == 0;
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk "
		 "WHERE t.ticket_id LIKE '%s%%'",
		 prefix);
	/*
	 * Wait for every ticket, or give up once the daemon has read everything the
	 * broker still holds: the mock broker keeps about 5 MiB per partition and
	 * drops the oldest beyond it, so with 256 KiB bodies on unevenly keyed
	 * partitions a few tickets can vanish before they are read (the daemon then
	 * has consumer lag 0 and nothing in flight). Say so instead of waiting.
	 */
	for (int idle = 0;;) {
		double consumed, lag, inflight;
		rows = h_sql_ll(s.db, "%s", sql);
		if (rows >= n || h_now_ms() - t0 > 900000)
			break;
		consumed = stack_metric(port, "triaged_tickets_consumed_total");
		lag = stack_metric(port, "triaged_consumer_lag");
		inflight = stack_metric(port, "triaged_in_flight");
		idle = consumed >= 0 && consumed < (double)n && lag == 0 && inflight == 0 ? idle + 1 : 0;
		if (idle >= 6) {
			fprintf(stderr,
				"looplag %s: the mock broker dropped %.0f of %lld tickets before they "
				"were read (consumed %.0f, consumer lag 0): not a figure\n",
				label, (double)n - consumed, n, consumed);
			break;
		}
		sleep(5);
	}
	t1 = h_now_ms();
	if (probing) {
		pr.stop = 1;
		pthread_join(pr.th, NULL);
	}
	cpu1 = h_proc_cpu_ms(d.pid);
	ck_assert_d(stack_loop_lag(port, &b) == 0, &d);
	ck_assert_d(rows == n, &d);
	ck_assert_d(stack_wait_committed(&s, n, 60000) == 0, &d);
	tickets =
	    h_sql_ll(s.db, "SELECT count(*) FROM tickets WHERE ticket_id LIKE '%s%%'", prefix);
	dup = h_sql_ll(s.db,
		       "SELECT count(*) - count(DISTINCT (tr.ticket_pk, tr.revision)) FROM "
		       "triage_results tr JOIN tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id "
		       "LIKE '%s%%'",
		       prefix);
	committed = stack_committed(&s);
	end = stack_end_offsets(&s);
	ck_assert_int_eq(stack_stop_daemon(&d, 60000), 0);
	long long split = log_value(&d, "split_rounds=");
	/* the worker's allocations went back to a worker: a raw message, a ticket, two
	 * redacted copies and a claim each at least (offload_discard) */
	long long discards = log_value(&d, "discards=");
	/* ticks over 5 ms (#16's bound): all of them less those in the 5 ms bucket */
	long long over5 = (b.count - a.count) - (b.le[2] - a.le[2]);

	fprintf(
	    stderr,
	    "looplag %s: tickets=%lld body_bytes=%lld secs=%.1f tickets/s=%.0f ticks=%lld "
	    "interval_ms=%lld nice=%d%s%s p50<=%ss p99<=%ss max<=%ss mean=%.3fms over_5ms=%lld "
	    "(%.2f%%) loop_cpu_s=%.1f loop_run_delay_s=%.2f cpu_ms/ticket=%.2f load1=%.1f "
	    "late_busy=%lld late_waited=%lld late_cpu_ms/tick=%.2f late_run_delay_ms/tick=%.2f "
	    "discards=%lld%s%s\n",
	    label, rows, body_bytes, (double)(t1 - t0) / 1000.0,
	    (double)rows * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1), b.count - a.count,
	    interval_ms, prio, rt ? " loop=fifo" : "", pin ? " loop_cpu=0 others_cpu=1" : "", stack_lag_quantile(&a, &b, 0.50), stack_lag_quantile(&a, &b, 0.99),
	    stack_lag_max(&a, &b),
	    b.count > a.count ? (b.sum_s - a.sum_s) * 1000.0 / (double)(b.count - a.count) : 0.0,
	    over5, b.count > a.count ? 100.0 * (double)over5 / (double)(b.count - a.count) : 0.0,
	    b.cpu_s - a.cpu_s, b.run_delay_s - a.run_delay_s,
	    (cpu1 - cpu0) / (double)(rows > 0 ? rows : 1), load0, b.late_busy - a.late_busy,
	    b.late_waited - a.late_waited,
	    over5 > 0 ? (b.late_cpu_s - a.late_cpu_s) * 1000.0 / (double)over5 : 0.0,
	    over5 > 0 ? (b.late_run_delay_s - a.late_run_delay_s) * 1000.0 / (double)over5 : 0.0,
	    discards, probing ? " machine_floor: " : "", probing ? probe_line(&pr) : "");

	ck_assert_int_gt(b.count, a.count); /* the timer ran during the run */
	ck_assert_int_eq(tickets, n);
	ck_assert_int_eq(dup, 0);
	ck_assert_int_eq(committed, end);
	ck_assert_int_eq(end, n);
	ck_assert_int_ge(discards, 5 * n);
	stack_stop(&s);
	return split;
}

START_TEST(test_regex_load)
{
	long long n = env_ll("LOOPLAG_TICKETS", 10000, 1, 1000000);
	long long body = env_ll("LOOPLAG_BODY_BYTES", 8192, 16, 262144);
	long long interval = env_ll("LOOPLAG_INTERVAL_MS", 10, 1, 1000);
	int prio = (int)env_ll("LOOPLAG_NICE", 0, -20, 19);
	int rt = (int)env_ll("LOOPLAG_RT", 0, 0, 1);
	int pin = (int)env_ll("LOOPLAG_PIN", 0, 0, 1);
	if (pin) {
		/* everything the test starts runs on CPU 1; the daemon's loop thread
		 * alone moves to CPU 0 once it runs (run()) */
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(1, &one);
		ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	}
	char shipped[PATH_MAX], costly[PATH_MAX];

	snprintf(shipped, sizeof(shipped), "%s/deploy/rules.conf", h_source_dir());
	snprintf(costly, sizeof(costly), "%s/looplag-costly.conf", h_tmpdir());
	write_costly_rules(costly);
	const char *only = getenv("LOOPLAG_ONLY"); /* base or regex: that run alone */
	if (only == NULL || strcmp(only, "regex") != 0)
		run("ll_base", shipped, n, body, interval, prio, rt, pin);
	if (only == NULL || strcmp(only, "base") != 0)
		run("ll_regex", costly, n, body, interval, prio, rt, pin);
}
END_TEST

/*
 * In every run (no LOOPLAG_BENCH): 48 tickets of 200 KiB. A database
 * statement carries at most 256 KiB of items (one item always goes), so each
 * claim is a statement of its own, and a round takes several of one kind, a
 * statement per loop pass (db.c, #16). Every ticket is stored once, every
 * offset committed, and the daemon reports rounds that were split. The claims
 * come one by one, as the workers prepare the tickets (about 10 ms each): a
 * round takes several only if they queue while rounds are in the database.
 * So here every commit takes 30 ms (commit_delay; the test cluster has fsync
 * on) and a round waits for the ones in flight (batch_delay_ms 50): three
 * claims or so queue for each round. With PostgreSQL's own pace and the
 * shipped 2 ms, a round was often left with one claim, and none split.
 */
START_TEST(test_big_rounds)
{
	char shipped[PATH_MAX];
	long long split;
	snprintf(shipped, sizeof(shipped), "%s/deploy/rules.conf", h_source_dir());
	batch_delay_ms = "50";
	commit_delay_us = 30000;
	split = run("ll_big", shipped, 48, 200 * 1024, 10, 0, 0, 0);
	fprintf(stderr, "looplag ll_big: split_rounds=%lld (batch_delay_ms %s)\n", split,
		batch_delay_ms);
	ck_assert_int_gt(split, 0);
}
END_TEST

int main(void)
{
	const struct stack_case bench[] = {{"regex_load", test_regex_load}};
	const struct stack_case always[] = {{"big_rounds", test_big_rounds}};
	if (getenv("LOOPLAG_BENCH") == NULL) {
		fprintf(stderr, "looplag: figures not measured (set LOOPLAG_BENCH=1); "
				"big_rounds runs\n");
		return stack_run_suite("looplag", always, 1, 600);
	}
	return stack_run_suite("looplag", bench, 1, 3600);
}
