/*
 * harness: helpers for integration tests that start REAL parts: a throwaway
 * PostgreSQL cluster, child processes with their output in log files, and
 * checks against a Kafka broker through librdkafka. Not tied to Check: every
 * function returns 0 (or a value) on success and -1 (or NULL) on failure, with
 * the reason printed on stderr, so a test only has to assert on the result.
 *
 * Never used by the daemon. Blocking calls and sleeps are fine here.
 *
 * Temporary files: h_tmpdir() is one directory per run
 * ($TMPDIR/triaged-test-XXXXXX) holding the logs of spawned processes; each
 * PostgreSQL cluster gets its own $TMPDIR/triaged-pg-XXXXXX. Both are removed
 * at exit/destroy unless TRIAGED_KEEP_TMP=1; h_tmpdir() is also kept when
 * h_dump_log() was called (a test failed), and its path is printed.
 *
 * Forking test runners (Check's default): call h_tmpdir() and h_pg_start()
 * in the parent (an unchecked fixture) so the directory and the cluster
 * outlive each test's child process. Only the process that created them
 * cleans up at exit; a cluster still running at exit is stopped then.
 */
#ifndef TRIAGED_HARNESS_H
#define TRIAGED_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#define H_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define H_WUR __attribute__((warn_unused_result))

/* ---- throwaway PostgreSQL ------------------------------------------------ */

struct h_pg {
	char dir[PATH_MAX];           /* temp dir: unix socket, logs, data/ */
	char datadir[PATH_MAX];       /* dir/data */
	char log_path[PATH_MAX];      /* server log (pg_ctl -l) */
	char conninfo[PATH_MAX + 64]; /* "host=<dir> port=5432 user=postgres dbname=triaged" */
	char bindir[PATH_MAX];        /* where initdb, pg_ctl, postgres live */
	int port;
	int running; /* as last seen by this process; a forked test child may
	              * have changed it, so the harness itself asks the disk */
	/* When run as root the cluster belongs to an unprivileged user. */
	int drop_privs;
	uid_t run_uid;
	gid_t run_gid;
	char run_user[64];
};

/*
 * Create a temp dir, initdb (trust auth, superuser "postgres", locale C,
 * UTF8), start the server on a unix socket in that dir (no TCP, fsync on),
 * and create database "triaged". As root, the cluster is owned and run by the
 * "postgres" system user (else "nobody"). Missing server binaries are a
 * failure with a message, never a skip. Binaries: $TRIAGED_PG_BINDIR, then
 * `pg_config --bindir`, then /usr/lib/postgresql/<newest>/bin.
 * On failure everything created is removed (or kept with TRIAGED_KEEP_TMP=1).
 */
int h_pg_start(struct h_pg *pg) H_WUR;
/* pg_ctl stop -m fast -w; the cluster stays on disk. */
int h_pg_stop(struct h_pg *pg);
/* pg_ctl start -w on the same data dir (after h_pg_stop). */
int h_pg_start_again(struct h_pg *pg);
/* Stop if running and remove the dir (unless TRIAGED_KEEP_TMP=1). Accepts a
 * zeroed struct; safe to call twice. */
void h_pg_destroy(struct h_pg *pg);

/* ---- SQL over libpq ------------------------------------------------------ */

/* A new connection to pg->conninfo; NULL + message on failure. Caller PQfinish()es. */
PGconn *h_pg_connect(const struct h_pg *pg) H_WUR;
/* Run a printf-formatted query that returns one integer (first column of the
 * first row). -1 and a message on error, no row or NULL. */
long long h_sql_ll(PGconn *c, const char *fmt, ...) H_PRINTF_LIKE(2, 3);
/* First column of the first row as a new string (caller frees); NULL when the
 * query failed (with a message), returned no row or returned NULL. */
char *h_sql_str(PGconn *c, const char *fmt, ...) H_PRINTF_LIKE(2, 3);
/* Run a printf-formatted statement: 0 ok, -1 and a message on error. */
int h_sql_exec(PGconn *c, const char *fmt, ...) H_PRINTF_LIKE(2, 3);

/* ---- processes ----------------------------------------------------------- */

struct h_proc {
	pid_t pid;
	char name[64];
	char log_path[PATH_MAX];
	int exited;      /* set once reaped by h_wait_exit/h_stop */
	int exit_status; /* WEXITSTATUS, or 128 + signal */
};

/*
 * Fork and exec argv[0] (PATH lookup when it has no '/'), stdin from
 * /dev/null, stdout and stderr into h_tmpdir()/<name>.log (<name>.2.log, ...
 * when the name was used before in this run). env_extra (may be NULL) is a
 * NULL-terminated list of "NAME=value" set on top of the current environment
 * ("NAME" without '=' unsets). The child gets SIGKILL if the spawning process
 * dies first, so a failed test leaves no daemon behind. An exec failure
 * shows up as exit status 127 and a line in the log.
 */
int h_spawn(struct h_proc *p, const char *name, char *const argv[], char *const env_extra[]) H_WUR;
/* kill(pid, sig): 0 ok, -1 (message) when not running. */
int h_signal(struct h_proc *p, int sig);
/* Wait up to timeout_ms for the process to exit; 0 and *exit_status (may be
 * NULL) = WEXITSTATUS or 128 + signal; -1 on timeout (still running). */
int h_wait_exit(struct h_proc *p, int timeout_ms, int *exit_status);
/* SIGTERM, wait up to 10 s, then SIGKILL. Safe on a zeroed or exited proc. */
void h_stop(struct h_proc *p);
/* Print the last last_lines lines of the process log to stderr, and keep
 * h_tmpdir() at exit (meant for a failing test). */
void h_dump_log(const struct h_proc *p, int last_lines);
/* Same for any file (e.g. pg->log_path). */
void h_dump_file(const char *title, const char *path, int last_lines);

/* ---- files, time, paths -------------------------------------------------- */

/* The per-run temp dir, created on first call; never NULL (aborts if it cannot
 * be created). */
const char *h_tmpdir(void);
/* 0 once path exists and is non-empty, -1 after timeout_ms. */
int h_wait_file(const char *path, int timeout_ms);
/* First line of a file without its newline, as a new string (caller frees);
 * NULL if missing or empty. */
char *h_read_first_line(const char *path);
/* CLOCK_MONOTONIC in milliseconds. */
long long h_now_ms(void);
/* qsort comparator for doubles, ascending. */
int h_cmp_double(const void *a, const void *b);
/* CPU time of a process so far (user + system, all threads), in ms, from /proc; -1 if gone. */
double h_proc_cpu_ms(pid_t pid);
/* Call pred(arg) every poll_ms until it returns nonzero: 0; -1 after timeout_ms. */
int h_wait_until(int (*pred)(void *arg), void *arg, int timeout_ms, int poll_ms);
/* out = "${TRIAGED_BIN_DIR}/<name>"; -1 and a message if it does not fit or
 * is not an executable file (build it first). */
int h_bin(char *out, size_t outlen, const char *name) H_WUR;
/* TRIAGED_SOURCE_DIR: the repository root. */
const char *h_source_dir(void);

/* ---- Kafka checks (real librdkafka, blocking) ---------------------------- */

/* Sum of the offsets committed by group for partitions 0..partitions-1 of
 * topic (no commit = 0); -1 on error. Does not join the group. */
long long h_kafka_committed_sum(const char *bootstrap, const char *group, const char *topic,
                                int partitions);
/* Sum of the high watermarks of partitions 0..partitions-1; -1 on error. */
long long h_kafka_end_offsets_sum(const char *bootstrap, const char *topic, int partitions);
/* Read every message of partitions 0..partitions-1 from the beginning up to the
 * high watermark seen at the call, calling cb for each (in order within a
 * partition). No consumer group is joined and nothing is committed.
 * 0 ok, -1 on error or when timeout_ms passed first. */
int h_kafka_consume_all(const char *bootstrap, const char *topic, int partitions, int timeout_ms,
                        void (*cb)(const rd_kafka_message_t *m, void *arg), void *arg);

#endif
