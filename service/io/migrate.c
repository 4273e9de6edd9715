/*
 * migrate: see migrate.h. Owns reading the schema directory (migrations/ and
 * functions/) and the schema_version table. Must never run inside the event
 * loop.
 */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "textfile.h"

#define MIGRATE_LOCK_KEY 7411720 /* arbitrary, fixed: pg_advisory_lock key */
#define MAX_MIGRATIONS 256
#define MAX_FUNCTION_FILES 512

struct migration {
	int version;
	char name[256];
};

static int cmp_mig(const void *a, const void *b)
{
	return ((const struct migration *)a)->version - ((const struct migration *)b)->version;
}

/* List NNN_*.sql files, sorted. Returns count or -1. */
static int list_migrations(const char *dir, struct migration *out, int max, char *err,
			   size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (d == NULL) {
		set_err(err, errlen, "schema dir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		int64_t v;
		char num[16];
		const char *us = strchr(e->d_name, '_');
		if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || us == NULL ||
		    (size_t)(us - e->d_name) >= sizeof(num))
			continue;
		memcpy(num, e->d_name, (size_t)(us - e->d_name));
		num[us - e->d_name] = '\0';
		if (parse_int64(num, 1, 99999, &v) < 0)
			continue;
		if (n == max) {
			closedir(d);
			set_err(err, errlen, "too many migrations in %s", dir);
			return -1;
		}
		out[n].version = (int)v;
		strlcpy_t(out[n].name, e->d_name, sizeof(out[n].name));
		n++;
	}
	closedir(d);
	qsort(out, (size_t)n, sizeof(*out), cmp_mig);
	for (int i = 1; i < n; i++) {
		if (out[i].version == out[i - 1].version) {
			set_err(err, errlen, "two migrations with version %d: %s and %s",
				out[i].version, out[i - 1].name, out[i].name);
			return -1;
		}
	}
	return n;
}

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen, const char *what)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	const char *state = ok ? NULL : PQresultErrorField(r, PG_DIAG_SQLSTATE);

	/*
	 * 2BP01: a migration drops or replaces one of our views by name, without
	 * CASCADE, and an object of the operator's own reads it. Say so and what
	 * to do, rather than drop the operator's view with ours.
	 */
	if (state != NULL && strcmp(state, "2BP01") == 0)
		set_err(err, errlen,
			"%s: %s(an object that is not triaged's depends on a view this migration "
			"replaces; nothing was changed: drop that object, migrate again, then "
			"re-create it)",
			what, PQresultErrorMessage(r));
	else if (!ok)
		set_err(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

static int db_version(PGconn *c, int *out, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version");
	int64_t v;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (st && strcmp(st, "42P01") == 0) { /* no table yet */
			PQclear(r);
			*out = 0;
			return 0;
		}
		set_err(err, errlen, "schema_version: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	if (parse_int64(PQgetvalue(r, 0, 0), 0, 99999, &v) < 0)
		v = 0;
	PQclear(r);
	*out = (int)v;
	return 0;
}

static PGconn *connect_db(const char *conninfo, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		set_err(err, errlen, "database: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, NULL, NULL);
	return c;
}

int migrate_status(const char *conninfo, const char *schema_dir, int *dbv, int *latest, char *err,
		   size_t errlen)
{
	struct migration *m = xcalloc(MAX_MIGRATIONS, sizeof(*m));
	PGconn *c = NULL;
	char dir[4096];
	int n, rc = -1;

	snprintf(dir, sizeof(dir), "%s/migrations", schema_dir);
	n = list_migrations(dir, m, MAX_MIGRATIONS, err, errlen);
	if (n < 0)
		goto out;
	*latest = n ? m[n - 1].version : 0;
	c = connect_db(conninfo, err, errlen);
	if (c == NULL)
		goto out;
	if (db_version(c, dbv, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	PQfinish(c);
	free(m);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The files of functions/ named in its ORDER file, in that order. Every .sql
 * file there must be named, and every named file must exist: a file added
 * without its line (or a line left after its file went) is an error, not
 * a function silently missing. Returns the count, -1 with err.
 */
static int list_functions(const char *dir, char **out, int max, char *err, size_t errlen)
{
	char path[4200], *order = NULL, *line, *next, *found[MAX_FUNCTION_FILES];
	int n = 0, nfound = 0, rc = -1;
	DIR *d = NULL;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/ORDER", dir);
	order = textfile_read(path, 1u << 20, err, errlen);
	if (order == NULL)
		goto out;
	for (line = order; line; line = next) {
		size_t len;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		len = strlen(line);
		while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (n == max) {
			set_err(err, errlen, "too many files in %s", path);
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (strcmp(out[i], line) == 0) {
				set_err(err, errlen, "%s: %s named twice", path, line);
				goto out;
			}
		}
		out[n++] = xstrdup(line);
	}
	d = opendir(dir);
	if (d == NULL) {
		set_err(err, errlen, "functions dir %s: %s", dir, strerror(errno));
		goto out;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0)
			continue;
		if (nfound == MAX_FUNCTION_FILES) {
			set_err(err, errlen, "too many files in %s", dir);
			goto out;
		}
		found[nfound++] = xstrdup(e->d_name);
	}
	qsort(found, (size_t)nfound, sizeof(found[0]), cmp_str);
	for (int i = 0; i < nfound; i++) {
		int named = 0;
		for (int j = 0; j < n && !named; j++)
			named = strcmp(out[j], found[i]) == 0;
		if (!named) {
			set_err(err, errlen, "%s/%s is not named in %s", dir, found[i], path);
			goto out;
		}
	}
	for (int j = 0; j < n; j++) {
		int there = 0;
		for (int i = 0; i < nfound && !there; i++)
			there = strcmp(out[j], found[i]) == 0;
		if (!there) {
			set_err(err, errlen, "%s names %s, which is not in %s", path, out[j], dir);
			goto out;
		}
	}
	rc = n;
out:
	if (rc < 0) {
		for (int j = 0; j < n; j++)
			free(out[j]);
	}
	for (int i = 0; i < nfound; i++)
		free(found[i]);
	if (d)
		closedir(d);
	free(order);
	return rc;
}

/*
 * Re-apply every function and view of functions/ (CREATE OR REPLACE), all in
 * one transaction after the migrations: a failing file leaves the previous
 * definitions in place. Bodies are checked when called, not when created, so
 * the order matters only for views (ORDER lists what a view reads first).
 */
static int apply_functions(PGconn *c, const char *schema_dir, char *err, size_t errlen)
{
	char dir[4096], path[4200], *files[MAX_FUNCTION_FILES], *sql = NULL;
	int n, rc = -1, began = 0;

	snprintf(dir, sizeof(dir), "%s/functions", schema_dir);
	n = list_functions(dir, files, MAX_FUNCTION_FILES, err, errlen);
	if (n < 0)
		return -1;
	if (exec_ok(c, "BEGIN", err, errlen, "functions") < 0)
		goto out;
	began = 1;
	if (exec_ok(c, "SET LOCAL check_function_bodies = off", err, errlen, "functions") < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		free(sql);
		sql = textfile_read(path, 4u << 20, err, errlen);
		if (sql == NULL)
			goto out;
		if (exec_ok(c, sql, err, errlen, files[i]) < 0)
			goto out;
	}
	if (exec_ok(c, "COMMIT", err, errlen, "functions") < 0) {
		began = 0;
		goto out;
	}
	began = 0;
	log_info("functions applied", "files=%d", n);
	rc = 0;
out:
	if (began)
		PQclear(PQexec(c, "ROLLBACK"));
	free(sql);
	for (int i = 0; i < n; i++)
		free(files[i]);
	return rc;
}

static void notice_cb(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int migrate_run(const char *conninfo, const char *schema_dir, int *applied, char *err,
		size_t errlen)
{
	struct migration *m = xcalloc(MAX_MIGRATIONS, sizeof(*m));
	PGconn *c = NULL;
	char *sql = NULL, lock[128], dir[4096];
	int n, cur, rc = -1;

	*applied = 0;
	snprintf(dir, sizeof(dir), "%s/migrations", schema_dir);
	n = list_migrations(dir, m, MAX_MIGRATIONS, err, errlen);
	if (n < 0)
		goto out;
	c = connect_db(conninfo, err, errlen);
	if (c == NULL)
		goto out;
	PQsetNoticeProcessor(c, notice_cb, NULL);
	snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%d)", MIGRATE_LOCK_KEY);
	if (exec_ok(c, lock, err, errlen, "lock") < 0)
		goto out;
	if (exec_ok(c,
		    "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
		    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
		    err, errlen, "schema_version") < 0)
		goto out;
	if (db_version(c, &cur, err, errlen) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		char path[4400], ins[512], what[300];
		if (m[i].version <= cur)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, m[i].name);
		free(sql);
		sql = textfile_read(path, 16u << 20, err, errlen);
		if (sql == NULL)
			goto out;
		snprintf(what, sizeof(what), "%s", m[i].name);
		if (exec_ok(c, "BEGIN", err, errlen, what) < 0)
			goto out;
		if (exec_ok(c, sql, err, errlen, what) < 0) {
			PQclear(PQexec(c, "ROLLBACK"));
			goto out;
		}
		{
			const char *params[2];
			char v[16];
			PGresult *r;
			snprintf(v, sizeof(v), "%d", m[i].version);
			params[0] = v;
			params[1] = m[i].name;
			snprintf(ins, sizeof(ins),
				 "INSERT INTO schema_version (version, name) VALUES ($1::int, $2)");
			r = PQexecParams(c, ins, 2, NULL, params, NULL, NULL, 0);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				set_err(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
				PQclear(r);
				PQclear(PQexec(c, "ROLLBACK"));
				goto out;
			}
			PQclear(r);
		}
		if (exec_ok(c, "COMMIT", err, errlen, what) < 0)
			goto out;
		log_info("migration applied", "version=%d file=%s", m[i].version, m[i].name);
		(*applied)++;
	}
	if (apply_functions(c, schema_dir, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	free(sql);
	PQfinish(c); /* releases the advisory lock */
	free(m);
	return rc;
}
