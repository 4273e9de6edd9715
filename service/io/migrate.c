/*
 * migrate: see migrate.h. Owns reading the schema directory and the
 * schema_version table. Must never run inside the event loop.
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
	if (!ok)
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
	int n, rc = -1;

	n = list_migrations(schema_dir, m, MAX_MIGRATIONS, err, errlen);
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
	char *sql = NULL, lock[128];
	int n, cur, rc = -1;

	*applied = 0;
	n = list_migrations(schema_dir, m, MAX_MIGRATIONS, err, errlen);
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
		char path[4096], ins[512], what[300];
		if (m[i].version <= cur)
			continue;
		snprintf(path, sizeof(path), "%s/%s", schema_dir, m[i].name);
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
	rc = 0;
out:
	free(sql);
	PQfinish(c); /* releases the advisory lock */
	free(m);
	return rc;
}
