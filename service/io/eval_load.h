/*
 * eval_load: the eval set of `triaged eval` (issue #13), read into the run:
 * a JSONL file of {"ticket", "gold"} lines, or the gold-labelled tickets in
 * PostgreSQL (--from-db: corrected or approved results). Each ticket is
 * parsed as the daemon parses it and made what the daemon's safety_prepare
 * gives the models (invisible characters stripped, PII replaced, the
 * prompt's cut of the body). Blocking libpq: a command, never the daemon.
 */
#ifndef TRIAGED_EVAL_LOAD_H
#define TRIAGED_EVAL_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "config.h"
#include "eval_set.h"
#include "redact.h"
#include "ticket.h"

/* FNV-1a 64 of subject, a NUL byte, body: the key of a ticket's text. */
uint64_t eval_text_hash(const char *subject, const char *body, size_t body_len);
/* The index of v in names[n]; -1: absent or NULL. */
int eval_label_index(const char *const *names, size_t n, const char *v);
extern const char *const eval_sent_names[SENT__COUNT];
extern const char *const eval_urg_names[URG__COUNT];

/* The tickets of a JSONL file at path into run->items. -1 with err. */
int eval_load_set(struct eval_run *run, const struct config *cfg, struct redactor *red,
		  const char *path, char *err, size_t errlen);
/* The newest limit (>= 1) gold-labelled tickets of db. -1 with err. */
int eval_load_db(struct eval_run *run, const struct config *cfg, struct redactor *red,
		 PGconn *db, long limit, char *err, size_t errlen);

#endif
