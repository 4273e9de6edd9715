/*
 * dashboard_files: the dashboard's page, script, style and SQL
 * (service/io/dashboard/), embedded at build time by cmake/embed.cmake.
 * Each file's data is followed by a NUL (the SQL is used as a C string).
 */
#ifndef TRIAGED_DASHBOARD_FILES_H
#define TRIAGED_DASHBOARD_FILES_H

#include <stddef.h>

struct dashboard_file {
	const char *name;  /* e.g. "index.html" */
	const unsigned char *data;
	size_t len; /* without the NUL */
};

extern const struct dashboard_file dashboard_files[];
extern const size_t dashboard_nfiles;

#endif
