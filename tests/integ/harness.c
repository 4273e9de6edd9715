/*
 * harness: see harness.h. Owns the temp dirs, the throwaway PostgreSQL
 * clusters and the child processes of integration tests, and cleans up what
 * a failed test leaves behind (processes die with their spawner, clusters
 * are stopped at exit). Test code only: it blocks, sleeps and prints to
 * stderr; it must never be linked into the daemon.
 *
 * Between fork and exec only async-signal-safe calls are made: environments,
 * group lists and messages are prepared in the parent, because a test
 * process may have librdkafka threads running.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TRIAGED_BIN_DIR
#error "TRIAGED_BIN_DIR must be defined (CMake defines it for tests/integ)"
#endif
#ifndef TRIAGED_SOURCE_DIR
#error "TRIAGED_SOURCE_DIR must be defined (CMake defines it for tests/integ)"
#endif

extern char **environ;

#define PG_PORT 5432
#define PG_CMD_TIMEOUT_MS 180000
/* sun_path is 108 bytes: "<dir>/.s.PGSQL.5432" must fit. */
#define SOCKET_PATH_MAX 107
#define MAX_LIVE_PG 8
#define KEEP_MARKER "KEEP"

static void hmsg(const char *fmt, ...) H_PRINTF_LIKE(1, 2);

static void hmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("harness: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void *hmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL) {
		fputs("harness: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *hstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = hmalloc(n);
	memcpy(p, s, n);
	return p;
}

/* snprintf that reports truncation: 0 ok, -1 when it did not fit. */
static int fmt_path(char *out, size_t outlen, const char *fmt, ...) H_PRINTF_LIKE(3, 4);

static int fmt_path(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen) {
		hmsg("path too long: %s...", out);
		return -1;
	}
	return 0;
}

static int keep_tmp(void)
{
	const char *v = getenv("TRIAGED_KEEP_TMP");
	return v != NULL && strcmp(v, "1") == 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

double h_proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

long long h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int h_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1 && errno != ENOENT)
		hmsg("remove %s: %s", path, strerror(errno));
	return 0;
}

static void rm_rf(const char *path)
{
	if (path[0] == '\0' || strcmp(path, "/") == 0)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* exit status as the API reports it: WEXITSTATUS or 128 + signal. */
static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* 0 reaped (*st set), -1 timeout, -2 error (message printed). */
static int wait_pid(pid_t pid, int timeout_ms, int *st)
{
	long long deadline = h_now_ms() + timeout_ms;

	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r == pid)
			return 0;
		if (r == -1 && errno != EINTR) {
			hmsg("waitpid %d: %s", (int)pid, strerror(errno));
			return -2;
		}
		if (h_now_ms() >= deadline)
			return -1;
		sleep_ms(10);
	}
}

/* A NULL-terminated environment: environ with env_extra applied ("N=v" sets,
 * "N" unsets). Caller frees the array only; the strings are borrowed. */
static char **build_env(char *const extra[])
{
	size_t n = 0, ne = 0, i, j, k = 0;
	char **env;

	for (i = 0; environ[i] != NULL; i++)
		n++;
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		ne++;
	env = hmalloc((n + ne + 1) * sizeof(*env));
	for (i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int overridden = 0;
		for (j = 0; j < ne; j++) {
			const char *e = extra[j];
			size_t el = strchr(e, '=') ? (size_t)(strchr(e, '=') - e) : strlen(e);
			if (el == nl && strncmp(e, environ[i], nl) == 0)
				overridden = 1;
		}
		if (!overridden)
			env[k++] = environ[i];
	}
	for (j = 0; j < ne; j++) {
		if (strchr(extra[j], '=') == NULL)
			continue;
		/* a later duplicate wins, as with setenv in order */
		for (i = j + 1; i < ne; i++) {
			size_t el = (size_t)(strchr(extra[j], '=') - extra[j]);
			if (strncmp(extra[i], extra[j], el) == 0 &&
			    (extra[i][el] == '=' || extra[i][el] == '\0'))
				break;
		}
		if (i == ne)
			env[k++] = extra[j];
	}
	env[k] = NULL;
	return env;
}

/* Async-signal-safe message from a child between fork and exec. */
static void child_fail(const char *what, const char *arg, int err)
{
	const char *es = strerror(err);

	(void)!write(2, "harness: ", 9);
	(void)!write(2, what, strlen(what));
	(void)!write(2, " ", 1);
	(void)!write(2, arg, strlen(arg));
	(void)!write(2, ": ", 2);
	(void)!write(2, es, strlen(es));
	(void)!write(2, "\n", 1);
}

/*
 * fork() with every signal blocked around it: the child must not run a
 * handler inherited from the test process (Check's SIGTERM handler kills the
 * test's whole process group) before it has reset them. In the child, all
 * dispositions are default and the mask empty, as for a freshly started
 * daemon; the parent gets its mask back.
 */
static pid_t fork_clean(void)
{
	sigset_t all, old;
	pid_t pid;
	int s, saved;

	sigfillset(&all);
	fflush(NULL);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	saved = errno;
	if (pid == 0) {
		for (s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP)
				signal(s, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		return 0;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}

/* ---- per-run temp dir ----------------------------------------------------- */

static char tmpdir_path[PATH_MAX];
static pid_t tmpdir_owner;

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");
	struct stat st;

	if (t != NULL && t[0] == '/' && stat(t, &st) == 0 && S_ISDIR(st.st_mode))
		return t;
	return "/tmp";
}

static void tmpdir_cleanup(void)
{
	char marker[PATH_MAX];

	if (tmpdir_path[0] == '\0' || getpid() != tmpdir_owner)
		return;
	if (fmt_path(marker, sizeof(marker), "%s/%s", tmpdir_path, KEEP_MARKER) == -1)
		return;
	if (keep_tmp() || access(marker, F_OK) == 0) {
		hmsg("test logs kept in %s", tmpdir_path);
		return;
	}
	rm_rf(tmpdir_path);
}

const char *h_tmpdir(void)
{
	if (tmpdir_path[0] != '\0')
		return tmpdir_path;
	if (fmt_path(tmpdir_path, sizeof(tmpdir_path), "%s/triaged-test-XXXXXX", tmp_base()) == -1)
		abort();
	if (mkdtemp(tmpdir_path) == NULL) {
		hmsg("cannot create a temp dir under %s: %s", tmp_base(), strerror(errno));
		abort();
	}
	tmpdir_owner = getpid();
	atexit(tmpdir_cleanup);
	return tmpdir_path;
}

static void mark_keep(void)
{
	char marker[PATH_MAX];
	int fd;

	if (tmpdir_path[0] == '\0')
		return;
	if (fmt_path(marker, sizeof(marker), "%s/%s", tmpdir_path, KEEP_MARKER) == -1)
		return;
	fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

/* ---- files and paths ------------------------------------------------------ */

int h_wait_file(const char *path, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	struct stat st;

	for (;;) {
		if (stat(path, &st) == 0 && st.st_size > 0)
			return 0;
		if (h_now_ms() >= deadline)
			return -1;
		sleep_ms(20);
	}
}

char *h_read_first_line(const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return NULL;
	n = getline(&line, &cap, f);
	fclose(f);
	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

int h_wait_until(int (*pred)(void *arg), void *arg, int timeout_ms, int poll_ms)
{
	long long deadline = h_now_ms() + timeout_ms;

	if (poll_ms < 1)
		poll_ms = 1;
	for (;;) {
		if (pred(arg))
			return 0;
		if (h_now_ms() >= deadline)
			return -1;
		sleep_ms(poll_ms);
	}
}

int h_bin(char *out, size_t outlen, const char *name)
{
	struct stat st;

	if (fmt_path(out, outlen, "%s/%s", TRIAGED_BIN_DIR, name) == -1)
		return -1;
	if (stat(out, &st) == -1 || !S_ISREG(st.st_mode) || access(out, X_OK) == -1) {
		hmsg("%s is not an executable file (build it first: cmake --build %s)", out,
		     TRIAGED_BIN_DIR);
		return -1;
	}
	return 0;
}

const char *h_source_dir(void)
{
	return TRIAGED_SOURCE_DIR;
}

void h_dump_file(const char *title, const char *path, int last_lines)
{
	enum { TAIL_MAX = 256 * 1024 };
	char *data = NULL;
	off_t start;
	ssize_t n;
	struct stat st;
	int fd, lines = 0;
	char *p;

	mark_keep();
	if (last_lines < 1)
		last_lines = 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		hmsg("cannot read %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1)
		goto out;
	start = st.st_size > TAIL_MAX ? st.st_size - TAIL_MAX : 0;
	data = hmalloc(TAIL_MAX + 1);
	n = pread(fd, data, TAIL_MAX, start);
	if (n < 0)
		goto out;
	data[n] = '\0';
	/* walk back over last_lines newlines (a final newline does not count) */
	p = data + n;
	if (p > data && p[-1] == '\n')
		p--;
	while (p > data) {
		if (p[-1] == '\n' && ++lines >= last_lines)
			break;
		p--;
	}
	fprintf(stderr, "----- %s: last %d lines of %s -----\n", title, last_lines, path);
	fputs(p, stderr);
	if (n > 0 && data[n - 1] != '\n')
		fputc('\n', stderr);
	fprintf(stderr, "----- end of %s -----\n", title);
out:
	free(data);
	close(fd);
}

void h_dump_log(const struct h_proc *p, int last_lines)
{
	if (p->log_path[0] == '\0') {
		hmsg("%s: no log (never spawned)", p->name[0] ? p->name : "?");
		return;
	}
	h_dump_file(p->name, p->log_path, last_lines);
}

/* ---- processes ------------------------------------------------------------ */

static int open_new_log(struct h_proc *p, const char *name)
{
	int i, fd;

	for (i = 1; i < 1000; i++) {
		int r;

		if (i == 1)
			r = fmt_path(p->log_path, sizeof(p->log_path), "%s/%s.log", h_tmpdir(),
			             name);
		else
			r = fmt_path(p->log_path, sizeof(p->log_path), "%s/%s.%d.log", h_tmpdir(),
			             name, i);
		if (r == -1)
			return -1;
		fd = open(p->log_path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST) {
			hmsg("create %s: %s", p->log_path, strerror(errno));
			return -1;
		}
	}
	hmsg("too many logs named %s", name);
	return -1;
}

int h_spawn(struct h_proc *p, const char *name, char *const argv[], char *const env_extra[])
{
	char **env = NULL;
	pid_t parent = getpid(), pid;
	int logfd = -1, ret = -1;

	memset(p, 0, sizeof(*p));
	if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(p->name) ||
	    strchr(name, '/') != NULL) {
		hmsg("h_spawn: bad process name");
		return -1;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (argv == NULL || argv[0] == NULL) {
		hmsg("h_spawn %s: empty argv", name);
		return -1;
	}
	logfd = open_new_log(p, name);
	if (logfd == -1)
		goto out;
	env = build_env(env_extra);
	pid = fork_clean();
	if (pid == -1) {
		hmsg("h_spawn %s: fork: %s", name, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		/* die with the spawner so a failed test leaves no daemon behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if (devnull == -1 || dup2(devnull, 0) == -1 || dup2(logfd, 1) == -1 ||
		    dup2(logfd, 2) == -1)
			_exit(126);
		close_range(3, ~0U, 0);
		execvpe(argv[0], argv, env);
		child_fail("exec", argv[0], errno);
		_exit(127);
	}
	p->pid = pid;
	ret = 0;
out:
	free(env);
	if (logfd >= 0)
		close(logfd);
	return ret;
}

int h_signal(struct h_proc *p, int sig)
{
	if (p->pid <= 0 || p->exited) {
		hmsg("h_signal %s: not running", p->name);
		return -1;
	}
	if (kill(p->pid, sig) == -1) {
		hmsg("h_signal %s: kill %d: %s", p->name, (int)p->pid, strerror(errno));
		return -1;
	}
	return 0;
}

int h_wait_exit(struct h_proc *p, int timeout_ms, int *exit_status)
{
	int st, r;

	if (p->pid <= 0) {
		hmsg("h_wait_exit %s: never spawned", p->name);
		return -1;
	}
	if (!p->exited) {
		r = wait_pid(p->pid, timeout_ms, &st);
		if (r != 0)
			return -1;
		p->exited = 1;
		p->exit_status = status_code(st);
	}
	if (exit_status != NULL)
		*exit_status = p->exit_status;
	return 0;
}

void h_stop(struct h_proc *p)
{
	if (p->pid <= 0 || p->exited)
		return;
	kill(p->pid, SIGTERM);
	if (h_wait_exit(p, 10000, NULL) == 0)
		return;
	hmsg("%s (pid %d) ignored SIGTERM for 10 s: SIGKILL", p->name, (int)p->pid);
	kill(p->pid, SIGKILL);
	if (h_wait_exit(p, 10000, NULL) == -1)
		hmsg("%s (pid %d) still not reaped after SIGKILL", p->name, (int)p->pid);
}

/* ---- PostgreSQL ----------------------------------------------------------- */

/* Clusters created by this process, copied so that one a failed test never
 * destroyed is still stopped at exit even if its struct is gone. Whether a
 * server runs is read from disk (postmaster.pid), not from pg->running: a
 * forked test child may have stopped or restarted it. */
static struct {
	int used;
	pid_t owner;
	struct h_pg pg;
} live_pg[MAX_LIVE_PG];
static int live_pg_atexit;

static int pg_run(const struct h_pg *pg, const char *outname, const char *const argv[]);

static int pg_pid_file_exists(const struct h_pg *pg)
{
	char path[PATH_MAX];

	if (fmt_path(path, sizeof(path), "%s/postmaster.pid", pg->datadir) == -1)
		return 0;
	return access(path, F_OK) == 0;
}

static void live_pg_cleanup(void)
{
	int i;

	for (i = 0; i < MAX_LIVE_PG; i++) {
		struct h_pg *pg = &live_pg[i].pg;
		if (!live_pg[i].used || live_pg[i].owner != getpid())
			continue;
		live_pg[i].used = 0;
		if (pg_pid_file_exists(pg)) {
			const char *argv[] = {"pg_ctl", "-D", pg->datadir, "-m", "immediate",
			                      "-w",     "-s", "stop",      NULL};
			hmsg("PostgreSQL in %s still running at exit: stopping it", pg->dir);
			pg_run(pg, "pg_ctl.log", argv);
		}
		if (keep_tmp())
			hmsg("PostgreSQL cluster kept in %s", pg->dir);
		else
			rm_rf(pg->dir);
	}
}

/* Called once the paths in pg are filled. */
static void live_pg_add(const struct h_pg *pg)
{
	int i;

	for (i = 0; i < MAX_LIVE_PG; i++)
		if (!live_pg[i].used)
			break;
	if (i == MAX_LIVE_PG)
		return; /* only the safety net is lost */
	live_pg[i].used = 1;
	live_pg[i].owner = getpid();
	live_pg[i].pg = *pg;
	if (!live_pg_atexit) {
		live_pg_atexit = 1;
		atexit(live_pg_cleanup);
	}
}

static void live_pg_drop(const struct h_pg *pg)
{
	int i;

	for (i = 0; i < MAX_LIVE_PG; i++)
		if (live_pg[i].used && live_pg[i].owner == getpid() &&
		    strcmp(live_pg[i].pg.dir, pg->dir) == 0)
			live_pg[i].used = 0;
}

static int has_server_bins(const char *dir)
{
	static const char *const need[] = {"initdb", "pg_ctl", "postgres"};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (fmt_path(path, sizeof(path), "%s/%s", dir, need[i]) == -1 ||
		    access(path, X_OK) == -1)
			return 0;
	}
	return 1;
}

static int find_bindir(char *out, size_t outlen)
{
	const char *env = getenv("TRIAGED_PG_BINDIR");
	char line[PATH_MAX] = "", best[PATH_MAX] = "";
	long best_ver = -1;
	FILE *f;
	DIR *d;
	struct dirent *de;

	if (env != NULL && env[0] != '\0') {
		if (has_server_bins(env))
			return fmt_path(out, outlen, "%s", env);
		hmsg("TRIAGED_PG_BINDIR=%s has no initdb/pg_ctl/postgres", env);
		return -1;
	}
	f = popen("pg_config --bindir 2>/dev/null", "r");
	if (f != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		pclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0' && has_server_bins(line))
			return fmt_path(out, outlen, "%s", line);
	}
	if (has_server_bins("/usr/lib/postgresql/15/bin"))
		return fmt_path(out, outlen, "%s", "/usr/lib/postgresql/15/bin");
	d = opendir("/usr/lib/postgresql");
	while (d != NULL && (de = readdir(d)) != NULL) {
		char cand[PATH_MAX];
		char *end;
		long v = strtol(de->d_name, &end, 10);
		if (end == de->d_name || *end != '\0' || v <= best_ver)
			continue;
		if (fmt_path(cand, sizeof(cand), "/usr/lib/postgresql/%s/bin", de->d_name) == 0 &&
		    has_server_bins(cand)) {
			best_ver = v;
			snprintf(best, sizeof(best), "%s", cand);
		}
	}
	if (d != NULL)
		closedir(d);
	if (best[0] != '\0')
		return fmt_path(out, outlen, "%s", best);
	hmsg("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: tried "
	     "$TRIAGED_PG_BINDIR, `pg_config --bindir` (%s), /usr/lib/postgresql/*/bin. "
	     "Install postgresql-15 (deploy/install-deps.sh). Integration tests need a real "
	     "PostgreSQL and do not skip.",
	     line[0] ? line : "no pg_config");
	return -1;
}

/* Can uid/gid traverse every directory down to path? Supplementary groups
 * are ignored, so the answer errs on "no". */
static int reachable_by(const char *path, uid_t uid, gid_t gid)
{
	char buf[PATH_MAX];
	char *slash;
	struct stat st;

	if (realpath(path, buf) == NULL)
		return 0;
	for (;;) {
		if (stat(buf[0] ? buf : "/", &st) == -1)
			return 0;
		if (!((st.st_mode & S_IXOTH) || (st.st_uid == uid && (st.st_mode & S_IXUSR)) ||
		      (st.st_gid == gid && (st.st_mode & S_IXGRP))))
			return 0;
		if (buf[0] == '\0')
			return 1;
		slash = strrchr(buf, '/');
		*slash = '\0';
	}
}

/* Where to put the cluster: $TMPDIR unless the socket path would be too
 * long, the path needs quoting, or the server user cannot reach it. */
static const char *pg_base_dir(const struct h_pg *pg)
{
	const char *b = tmp_base();
	size_t len = strlen(b) + strlen("/triaged-pg-XXXXXX/.s.PGSQL.5432");

	if (strcmp(b, "/tmp") == 0)
		return b;
	if (len > SOCKET_PATH_MAX || strpbrk(b, " '\\\"\t\n") != NULL ||
	    (pg->drop_privs && !reachable_by(b, pg->run_uid, pg->run_gid))) {
		hmsg("TMPDIR=%s unsuitable for a PostgreSQL socket dir%s: using /tmp", b,
		     pg->drop_privs ? " or not reachable by the server user" : "");
		return "/tmp";
	}
	return b;
}

/*
 * Run a PostgreSQL binary (argv[0] is a name in pg->bindir) as the cluster's
 * user, in pg->dir, with output appended to pg->dir/outname. 0 when it exited
 * with 0; otherwise -1, a message and the tail of its output.
 */
static int pg_run(const struct h_pg *pg, const char *outname, const char *const argv[])
{
	char path[PATH_MAX], out[PATH_MAX];
	char *extra[] = {"LC_ALL=C", "PGDATA", "PGHOST", "PGPORT", "PGOPTIONS", NULL};
	char **env = NULL;
	gid_t groups[64];
	int ngroups = 64, st, r, ret = -1;
	pid_t pid;

	if (fmt_path(path, sizeof(path), "%s/%s", pg->bindir, argv[0]) == -1 ||
	    fmt_path(out, sizeof(out), "%s/%s", pg->dir, outname) == -1)
		return -1;
	if (pg->drop_privs && getgrouplist(pg->run_user, pg->run_gid, groups, &ngroups) == -1) {
		groups[0] = pg->run_gid;
		ngroups = 1;
	}
	env = build_env(extra);
	pid = fork_clean();
	if (pid == -1) {
		hmsg("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int fd;

		if (pg->drop_privs) {
			if (setgroups((size_t)ngroups, groups) == -1 || setgid(pg->run_gid) == -1 ||
			    setuid(pg->run_uid) == -1) {
				child_fail("cannot become", pg->run_user, errno);
				_exit(126);
			}
		}
		if (chdir(pg->dir) == -1) {
			child_fail("chdir", pg->dir, errno);
			_exit(126);
		}
		fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd == -1) {
			child_fail("open", out, errno);
			_exit(126);
		}
		dup2(fd, 1);
		dup2(fd, 2);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		/* the postmaster must not inherit the test's pipes (ctest waits for EOF) */
		close_range(3, ~0U, 0);
		execve(path, (char *const *)argv, env);
		child_fail("exec", path, errno);
		_exit(127);
	}
	r = wait_pid(pid, PG_CMD_TIMEOUT_MS, &st);
	if (r == -1) {
		hmsg("%s: no exit after %d ms, killing it", path, PG_CMD_TIMEOUT_MS);
		kill(pid, SIGKILL);
		wait_pid(pid, 5000, &st);
		goto fail;
	}
	if (r != 0)
		goto fail;
	if (status_code(st) != 0) {
		hmsg("%s failed with status %d", path, status_code(st));
		goto fail;
	}
	ret = 0;
	goto out;
fail:
	h_dump_file(argv[0], out, 30);
out:
	free(env);
	return ret;
}

static int pg_ctl_start(struct h_pg *pg)
{
	const char *argv[] = {"pg_ctl", "-D",  pg->datadir, "-l",    pg->log_path, "-w",
	                      "-t",     "120", "-s",        "start", NULL};

	if (pg_run(pg, "pg_ctl.log", argv) == -1) {
		h_dump_file("postgres", pg->log_path, 30);
		return -1;
	}
	pg->running = 1;
	return 0;
}

static int pg_ctl_stop(struct h_pg *pg, const char *mode)
{
	const char *argv[] = {"pg_ctl", "-D",  pg->datadir, "-m",   mode, "-w",
	                      "-t",     "120", "-s",        "stop", NULL};

	if (pg_run(pg, "pg_ctl.log", argv) == -1)
		return -1;
	pg->running = 0;
	return 0;
}

static int pg_write_conf(const struct h_pg *pg)
{
	char path[PATH_MAX];
	FILE *f;
	int ok;

	if (fmt_path(path, sizeof(path), "%s/postgresql.conf", pg->datadir) == -1)
		return -1;
	f = fopen(path, "ae");
	if (f == NULL) {
		hmsg("open %s: %s", path, strerror(errno));
		return -1;
	}
	/* unix socket only (the socket is per dir, so the port can be fixed);
	 * durable settings stay on, the tests measure the real thing */
	fprintf(f,
	        "\n# triaged test harness\n"
	        "listen_addresses = ''\n"
	        "unix_socket_directories = '%s'\n"
	        "port = %d\n"
	        "max_connections = 100\n"
	        "fsync = on\n"
	        "synchronous_commit = on\n"
	        "full_page_writes = on\n"
	        "logging_collector = off\n",
	        pg->dir, pg->port);
	ok = ferror(f) == 0;
	if (fclose(f) != 0 || !ok) {
		hmsg("write %s failed", path);
		return -1;
	}
	return 0;
}

static int pg_create_db(const struct h_pg *pg)
{
	char ci[PATH_MAX + 96];
	PGconn *c = NULL;
	int ret = -1;

	if (fmt_path(ci, sizeof(ci),
	             "host=%s port=%d user=postgres dbname=postgres connect_timeout=10", pg->dir,
	             pg->port) == -1)
		return -1;
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		hmsg("connect %s: %s", ci, PQerrorMessage(c));
		goto out;
	}
	if (h_sql_exec(c, "CREATE DATABASE triaged") == -1)
		goto out;
	ret = 0;
out:
	PQfinish(c);
	return ret;
}

int h_pg_start(struct h_pg *pg)
{
	const char *initdb[] = {"initdb", "-D",         NULL,        "-A",
	                        "trust",  "-U",         "postgres",  "-E",
	                        "UTF8",   "--locale=C", "--no-sync", "--no-instructions",
	                        NULL};
	long long t0 = h_now_ms();

	memset(pg, 0, sizeof(*pg));
	pg->port = PG_PORT;
	if (find_bindir(pg->bindir, sizeof(pg->bindir)) == -1)
		return -1;
	if (geteuid() == 0) {
		/* the server refuses to run as root: hand the cluster to a system user */
		struct passwd *pw = getpwnam("postgres");
		if (pw == NULL)
			pw = getpwnam("nobody");
		if (pw == NULL) {
			hmsg("running as root but neither user postgres nor nobody exists");
			return -1;
		}
		pg->drop_privs = 1;
		pg->run_uid = pw->pw_uid;
		pg->run_gid = pw->pw_gid;
		snprintf(pg->run_user, sizeof(pg->run_user), "%s", pw->pw_name);
	}
	if (fmt_path(pg->dir, sizeof(pg->dir), "%s/triaged-pg-XXXXXX", pg_base_dir(pg)) == -1)
		return -1;
	if (mkdtemp(pg->dir) == NULL) {
		hmsg("mkdtemp %s: %s", pg->dir, strerror(errno));
		pg->dir[0] = '\0';
		return -1;
	}
	if (pg->drop_privs && chown(pg->dir, pg->run_uid, pg->run_gid) == -1) {
		hmsg("chown %s to %s: %s", pg->dir, pg->run_user, strerror(errno));
		goto fail;
	}
	if (fmt_path(pg->datadir, sizeof(pg->datadir), "%s/data", pg->dir) == -1 ||
	    fmt_path(pg->log_path, sizeof(pg->log_path), "%s/postgres.log", pg->dir) == -1 ||
	    fmt_path(pg->conninfo, sizeof(pg->conninfo),
	             "host=%s port=%d user=postgres dbname=triaged", pg->dir, pg->port) == -1)
		goto fail;
	live_pg_add(pg);
	initdb[2] = pg->datadir;
	if (pg_run(pg, "initdb.log", initdb) == -1)
		goto fail;
	if (pg_write_conf(pg) == -1)
		goto fail;
	if (pg_ctl_start(pg) == -1)
		goto fail;
	if (pg_create_db(pg) == -1) {
		h_dump_file("postgres", pg->log_path, 30);
		goto fail;
	}
	hmsg("PostgreSQL ready in %lld ms: %s (server user %s)", h_now_ms() - t0, pg->conninfo,
	     pg->drop_privs ? pg->run_user : "self");
	return 0;
fail:
	h_pg_destroy(pg);
	return -1;
}

int h_pg_stop(struct h_pg *pg)
{
	if (pg->datadir[0] == '\0') {
		hmsg("h_pg_stop: cluster not started");
		return -1;
	}
	return pg_ctl_stop(pg, "fast");
}

int h_pg_start_again(struct h_pg *pg)
{
	if (pg->datadir[0] == '\0') {
		hmsg("h_pg_start_again: cluster not started");
		return -1;
	}
	return pg_ctl_start(pg);
}

void h_pg_destroy(struct h_pg *pg)
{
	if (pg->dir[0] == '\0')
		return;
	if (pg->datadir[0] != '\0' && pg_pid_file_exists(pg) && pg_ctl_stop(pg, "fast") == -1 &&
	    pg_ctl_stop(pg, "immediate") == -1)
		hmsg("could not stop PostgreSQL in %s", pg->dir);
	live_pg_drop(pg);
	if (keep_tmp())
		hmsg("PostgreSQL cluster kept in %s (TRIAGED_KEEP_TMP=1)", pg->dir);
	else
		rm_rf(pg->dir);
	memset(pg, 0, sizeof(*pg));
}

PGconn *h_pg_connect(const struct h_pg *pg)
{
	PGconn *c;

	if (pg->conninfo[0] == '\0') {
		hmsg("h_pg_connect: cluster not started");
		return NULL;
	}
	c = PQconnectdb(pg->conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		hmsg("connect %s: %s", pg->conninfo, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* ---- SQL helpers ---------------------------------------------------------- */

/* Run a formatted query; returns the result (caller PQclear()s) or NULL with
 * a message when it did not end in one of the two OK states. */
static PGresult *sql_run(PGconn *c, const char *fmt, va_list ap) H_PRINTF_LIKE(2, 0);

static PGresult *sql_run(PGconn *c, const char *fmt, va_list ap)
{
	char *q = NULL;
	PGresult *res;
	ExecStatusType s;

	if (c == NULL) {
		hmsg("sql: no connection");
		return NULL;
	}
	if (vasprintf(&q, fmt, ap) < 0) {
		fputs("harness: out of memory\n", stderr);
		abort();
	}
	res = PQexec(c, q);
	s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		hmsg("sql failed: %s\n  query: %s", PQerrorMessage(c), q);
		PQclear(res);
		res = NULL;
	}
	free(q);
	return res;
}

long long h_sql_ll(PGconn *c, const char *fmt, ...)
{
	PGresult *res;
	va_list ap;
	long long v = -1;
	char *end;

	va_start(ap, fmt);
	res = sql_run(c, fmt, ap);
	va_end(ap);
	if (res == NULL)
		return -1;
	if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
		hmsg("h_sql_ll: no value (%d rows)", PQntuples(res));
		goto out;
	}
	errno = 0;
	v = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (errno != 0 || *end != '\0' || end == PQgetvalue(res, 0, 0)) {
		hmsg("h_sql_ll: not an integer: \"%s\"", PQgetvalue(res, 0, 0));
		v = -1;
	}
out:
	PQclear(res);
	return v;
}

char *h_sql_str(PGconn *c, const char *fmt, ...)
{
	PGresult *res;
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	res = sql_run(c, fmt, ap);
	va_end(ap);
	if (res == NULL)
		return NULL;
	if (PQntuples(res) >= 1 && PQnfields(res) >= 1 && !PQgetisnull(res, 0, 0))
		s = hstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return s;
}

int h_sql_exec(PGconn *c, const char *fmt, ...)
{
	PGresult *res;
	va_list ap;

	va_start(ap, fmt);
	res = sql_run(c, fmt, ap);
	va_end(ap);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* ---- Kafka ---------------------------------------------------------------- */

/* A consumer handle (never subscribed). group may be NULL for a throwaway one. */
static rd_kafka_t *kafka_consumer(const char *bootstrap, const char *group)
{
	char errstr[512], gbuf[128];
	static int seq;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	const char *kv[][2] = {
	        {"bootstrap.servers", bootstrap},      {"group.id", group},
	        {"client.id", "triaged-harness"},      {"enable.auto.commit", "false"},
	        {"enable.auto.offset.store", "false"}, {"enable.partition.eof", "true"},
	        {"auto.offset.reset", "earliest"},     {"log.connection.close", "false"},
	};
	size_t i;

	if (group == NULL) {
		/* librdkafka 2.0 wants a group.id for assign(); it is never joined */
		snprintf(gbuf, sizeof(gbuf), "triaged-harness-%d-%d", (int)getpid(), ++seq);
		kv[1][1] = gbuf;
	}
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) !=
		    RD_KAFKA_CONF_OK) {
			hmsg("kafka conf %s: %s", kv[i][0], errstr);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		hmsg("rd_kafka_new: %s", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

long long h_kafka_committed_sum(const char *bootstrap, const char *group, const char *topic,
                                int partitions)
{
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t err;
	long long sum = -1, s = 0;
	int i;

	if (group == NULL || partitions < 1) {
		hmsg("h_kafka_committed_sum: bad arguments");
		return -1;
	}
	rk = kafka_consumer(bootstrap, group);
	if (rk == NULL)
		return -1;
	l = rd_kafka_topic_partition_list_new(partitions);
	for (i = 0; i < partitions; i++)
		rd_kafka_topic_partition_list_add(l, topic, i);
	err = rd_kafka_committed(rk, l, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		hmsg("rd_kafka_committed %s group %s: %s", topic, group, rd_kafka_err2str(err));
		goto out;
	}
	for (i = 0; i < l->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &l->elems[i];
		if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			hmsg("committed offset %s[%d] group %s: %s", topic, (int)tp->partition,
			     group, rd_kafka_err2str(tp->err));
			goto out;
		}
		if (tp->offset >= 0)
			s += tp->offset;
	}
	sum = s;
out:
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	return sum;
}

long long h_kafka_end_offsets_sum(const char *bootstrap, const char *topic, int partitions)
{
	rd_kafka_t *rk;
	long long sum = 0;
	int i;

	if (partitions < 1) {
		hmsg("h_kafka_end_offsets_sum: bad arguments");
		return -1;
	}
	rk = kafka_consumer(bootstrap, NULL);
	if (rk == NULL)
		return -1;
	for (i = 0; i < partitions; i++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t err =
		        rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 10000);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			hmsg("watermarks %s[%d]: %s", topic, i, rd_kafka_err2str(err));
			sum = -1;
			break;
		}
		sum += hi;
	}
	rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	return sum;
}

int h_kafka_consume_all(const char *bootstrap, const char *topic, int partitions, int timeout_ms,
                        void (*cb)(const rd_kafka_message_t *m, void *arg), void *arg)
{
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_partition_list_t *l = NULL;
	int64_t *end = NULL;
	char *done = NULL;
	long long deadline = h_now_ms() + timeout_ms;
	int i, left = 0, ret = -1;
	rd_kafka_resp_err_t err;

	if (partitions < 1 || cb == NULL) {
		hmsg("h_kafka_consume_all: bad arguments");
		return -1;
	}
	rk = kafka_consumer(bootstrap, NULL);
	if (rk == NULL)
		return -1;
	rd_kafka_poll_set_consumer(rk);
	end = hmalloc(sizeof(*end) * (size_t)partitions);
	done = hmalloc((size_t)partitions);
	l = rd_kafka_topic_partition_list_new(partitions);
	for (i = 0; i < partitions; i++) {
		int64_t lo;
		err = rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &end[i], 10000);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			hmsg("watermarks %s[%d]: %s", topic, i, rd_kafka_err2str(err));
			goto out;
		}
		done[i] = end[i] <= lo;
		if (!done[i]) {
			rd_kafka_topic_partition_list_add(l, topic, i)->offset = lo;
			left++;
		}
	}
	if (left == 0) {
		ret = 0;
		goto out;
	}
	err = rd_kafka_assign(rk, l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		hmsg("assign %s: %s", topic, rd_kafka_err2str(err));
		goto out;
	}
	while (left > 0) {
		rd_kafka_message_t *m;
		int p;

		if (h_now_ms() >= deadline) {
			hmsg("h_kafka_consume_all %s: %d of %d partitions not read to the end "
			     "after %d ms",
			     topic, left, partitions, timeout_ms);
			goto unassign;
		}
		m = rd_kafka_consumer_poll(rk, 100);
		if (m == NULL)
			continue;
		p = m->partition;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (p >= 0 && p < partitions && !done[p]) {
				done[p] = 1;
				left--;
			}
		} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_resp_err_t e = m->err;
			hmsg("consume %s: %s", topic, rd_kafka_message_errstr(m));
			if (e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
			    e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
			    e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
			    e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
				rd_kafka_message_destroy(m);
				goto unassign;
			}
		} else if (p >= 0 && p < partitions && !done[p] && m->offset < end[p]) {
			cb(m, arg);
			if (m->offset >= end[p] - 1) {
				done[p] = 1;
				left--;
			}
		}
		rd_kafka_message_destroy(m);
	}
	ret = 0;
unassign:
	rd_kafka_assign(rk, NULL);
out:
	rd_kafka_topic_partition_list_destroy(l);
	free(end);
	free(done);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return ret;
}
