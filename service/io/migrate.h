/*
 * migrate: applies schema/migrations/NNN_name.sql files in order, each in its
 * own transaction, recorded in schema_version, then re-applies every file of
 * schema/functions/ (in the order its ORDER file gives) in one transaction,
 * all under an advisory lock so two instances cannot migrate at once.
 * Idempotent. Blocking libpq: used only by
 * `triaged migrate` and the startup check, never inside the event loop.
 */
#ifndef TRIAGED_MIGRATE_H
#define TRIAGED_MIGRATE_H

#include <stddef.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

/* Apply pending migrations. *applied = how many were applied now. */
int migrate_run(const char *conninfo, const char *schema_dir, int *applied, char *err,
		size_t errlen) WUR;
/*
 * Compare the database with the files: *db_version (0 if none) and *latest.
 * Returns 0, or -1 with err when the database cannot be reached or read.
 */
int migrate_status(const char *conninfo, const char *schema_dir, int *db_version, int *latest,
		   char *err, size_t errlen) WUR;

#endif
