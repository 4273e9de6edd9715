/*
 * eval_load: see eval_load.h.
 */
#include "eval_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "injection.h"
#include "text.h"
#include "xmem.h"

uint64_t eval_text_hash(const char *subject, const char *body, size_t body_len)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)subject; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0) * 1099511628211ULL;
	for (size_t i = 0; i < body_len; i++)
		h = (h ^ (unsigned char)body[i]) * 1099511628211ULL;
	return h;
}

/* ---- the eval set ---------------------------------------------------------- */

int eval_label_index(const char *const *names, size_t n, const char *v)
{
	for (size_t i = 0; v && i < n; i++)
		if (strcmp(names[i], v) == 0)
			return (int)i;
	return -1;
}

const char *const eval_sent_names[SENT__COUNT] = {"very_negative", "negative", "neutral",
						    "positive"};
const char *const eval_urg_names[URG__COUNT] = {"low", "normal", "high", "critical"};

/* Append one labelled ticket (jt: the ticket object, jg: the gold object). -1 with err. */
static int add_item(struct eval_run *run, const struct config *cfg, struct redactor *red,
		    json_object *jt, json_object *jg, size_t *cap, size_t *unknown, char *err,
		    size_t errlen)
{
	struct ticket_limits lim;
	struct eval_item *it;
	json_object *v;
	const char *tj;
	char e[256];
	uint64_t h;

	ticket_limits_default(&lim);
	lim.max_body_prompt_len = (size_t)cfg->max_body_prompt_bytes;
	if (run->n == *cap) {
		*cap = *cap ? *cap * 2 : 512;
		run->items = xrealloc(run->items, *cap * sizeof(*run->items));
	}
	it = &run->items[run->n];
	memset(it, 0, sizeof(*it));
	tj = json_object_to_json_string_ext(jt, JSON_C_TO_STRING_PLAIN);
	if (ticket_parse(tj, strlen(tj), NULL, 0, &lim, &it->t, e, sizeof(e)) != TICKET_OK) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	it->gold[0] = eval_label_index((const char *const *)cfg->categories, cfg->ncategories,
				  json_object_object_get_ex(jg, "category", &v) ? json_object_get_string(v)
										: NULL);
	if (it->gold[0] < 0)
		(*unknown)++;
	it->gold[1] = eval_label_index(eval_sent_names, SENT__COUNT,
				  json_object_object_get_ex(jg, "sentiment", &v) ? json_object_get_string(v)
										 : NULL);
	it->gold[2] = eval_label_index(eval_urg_names, URG__COUNT,
				  json_object_object_get_ex(jg, "urgency", &v) ? json_object_get_string(v)
									       : NULL);
	h = eval_text_hash(it->t->subject, it->t->body, it->t->body_len);
	snprintf(it->hash, sizeof(it->hash), "%016llx", (unsigned long long)h);

	/* what the daemon's safety_prepare gives the models: invisible
	 * characters stripped, PII replaced, the prompt's cut of the body */
	{
		const char *src[2] = {it->t->subject,
				      it->t->prompt_body ? it->t->prompt_body : it->t->body};
		size_t len[2] = {strlen(it->t->subject),
				 it->t->prompt_body ? it->t->prompt_body_len : it->t->body_len};
		char *outp[2] = {NULL, NULL};
		struct redact_map map;
		redact_map_init(&map);
		for (int k = 0; k < 2; k++) {
			char *c = xstrndup(src[k], len[k]);
			size_t m = injection_strip_invisible(c, len[k]);
			c[m] = '\0';
			if (red) {
				char *r = redact_text(red, c, m, &map, NULL, e, sizeof(e));
				free(c);
				/* as the daemon: an unredactable text is never sent */
				c = r ? r : xstrdup("");
			}
			outp[k] = c;
		}
		redact_map_cleanup(&map);
		it->p_subject = outp[0];
		it->p_body = outp[1];
		it->pt = *it->t;
		it->pt.subject = it->p_subject;
		it->pt.body = it->p_body;
		it->pt.body_len = strlen(it->p_body);
		it->pt.body_prompt_len =
		    utf8_cut(it->p_body, it->pt.body_len, (size_t)cfg->max_body_prompt_bytes);
	}
	run->n++;
	return 0;
}

/*
 * One line of f into *line (NUL-terminated, without its newline or a CR before
 * it), growing it to at most max bytes. 1: a line; 0: end of file; -1: the line
 * is longer than max (read to its end and dropped: the file is not held whole in
 * memory); -2: a read error.
 */
static int read_line(FILE *f, char **line, size_t *cap, size_t max, size_t *len)
{
	size_t n = 0;
	int ch, over = 0;

	/* one byte more than max: a CR that ends a line of max bytes is not counted */
	while ((ch = getc_unlocked(f)) != EOF && ch != '\n') {
		if (over || n > max) {
			over = 1;
			continue;
		}
		if (n + 1 >= *cap) {
			*cap = *cap ? *cap * 2 : 4096;
			if (*cap > max + 2)
				*cap = max + 2;
			*line = xrealloc(*line, *cap);
		}
		(*line)[n++] = (char)ch;
	}
	if (ch == EOF && ferror(f))
		return -2;
	if (over)
		return -1;
	if (ch == EOF && n == 0)
		return 0;
	if (n > 0 && (*line)[n - 1] == '\r')
		n--; /* a file written on Windows */
	if (n > max)
		return -1;
	if (*cap == 0) {
		*cap = 1;
		*line = xrealloc(*line, 1);
	}
	(*line)[n] = '\0';
	*len = n;
	return 1;
}

#define EVAL_LINE_SLACK 65536

int eval_load_set(struct eval_run *run, const struct config *cfg, struct redactor *red,
		    const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, e[512];
	size_t lcap = 0, cap = 0, lineno = 0, unknown = 0, len = 0;
	/* a ticket as intake takes it, and room for its gold labels and the wrapper */
	size_t max = (size_t)cfg->max_message_bytes + EVAL_LINE_SLACK;
	int rc = -1, got;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((got = read_line(f, &line, &lcap, max, &len)) != 0) {
		json_object *root = NULL, *jt, *jg;

		lineno++;
		if (got == -2) {
			snprintf(err, errlen, "%s:%zu: read error: %s", path, lineno, strerror(errno));
			goto out;
		}
		if (got < 0) {
			snprintf(err, errlen,
				 "%s:%zu: line longer than %zu bytes (intake.max_message_bytes, a ticket's "
				 "limit, and %d for its gold labels)",
				 path, lineno, max, EVAL_LINE_SLACK);
			goto out;
		}
		if (len == 0)
			continue;
		root = json_tokener_parse(line);
		if (!root || !json_object_object_get_ex(root, "ticket", &jt) ||
		    !json_object_object_get_ex(root, "gold", &jg)) {
			snprintf(err, errlen, "%s:%zu: not an eval line ({\"ticket\":..,\"gold\":..})",
				 path, lineno);
			json_object_put(root);
			goto out;
		}
		if (add_item(run, cfg, red, jt, jg, &cap, &unknown, e, sizeof(e)) < 0) {
			snprintf(err, errlen, "%s:%zu: %s", path, lineno, e);
			json_object_put(root);
			goto out;
		}
		json_object_put(root);
	}
	if (run->n == 0) {
		snprintf(err, errlen, "%s: no ticket", path);
		goto out;
	}
	if (unknown)
		fprintf(stderr, "triaged eval: %zu tickets have no gold category of the taxonomy "
				"(not counted for accuracy)\n",
			unknown);
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

/*
 * --from-db: the gold-labelled tickets already in PostgreSQL: a result an
 * agent corrected (the corrected fields win) or approved as it was (its own
 * labels are the gold), newest first, at most limit.
 */
int eval_load_db(struct eval_run *run, const struct config *cfg, struct redactor *red,
		   PGconn *db, long limit, char *err, size_t errlen)
{
	char lim[24], e[512];
	const char *p[1] = {lim};
	size_t cap = 0, unknown = 0;
	PGresult *r;
	int rc = -1;

	snprintf(lim, sizeof(lim), "%ld", limit);
	r = PQexecParams(
	    db,
	    "WITH g AS (SELECT r.id, t.ticket_id, t.source, t.channel, t.subject, t.body, "
	    "nullif(t.language_hint, '') AS language, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	    "AS created_at, "
	    "(SELECT lc.new_value FROM label_corrections lc WHERE lc.ticket_pk = r.ticket_pk AND "
	    "lc.revision = r.revision AND lc.field = 'category' ORDER BY lc.corrected_at DESC, "
	    "lc.id DESC LIMIT 1) AS c_cat, "
	    "(SELECT lc.new_value FROM label_corrections lc WHERE lc.ticket_pk = r.ticket_pk AND "
	    "lc.revision = r.revision AND lc.field = 'sentiment' ORDER BY lc.corrected_at DESC, "
	    "lc.id DESC LIMIT 1) AS c_sent, "
	    "(SELECT lc.new_value FROM label_corrections lc WHERE lc.ticket_pk = r.ticket_pk AND "
	    "lc.revision = r.revision AND lc.field = 'urgency' ORDER BY lc.corrected_at DESC, "
	    "lc.id DESC LIMIT 1) AS c_urg, "
	    "r.category, r.sentiment, r.urgency, r.status "
	    "FROM triage_results r JOIN tickets t ON t.id = r.ticket_pk AND t.revision = r.revision) "
	    "SELECT ticket_id, source, channel, subject, body, language, created_at, "
	    "CASE WHEN status = 'approved' THEN coalesce(c_cat, category) ELSE c_cat END, "
	    "CASE WHEN status = 'approved' THEN coalesce(c_sent, sentiment) ELSE c_sent END, "
	    "CASE WHEN status = 'approved' THEN coalesce(c_urg, urgency) ELSE c_urg END "
	    "FROM g WHERE status = 'approved' OR c_cat IS NOT NULL OR c_sent IS NOT NULL "
	    "OR c_urg IS NOT NULL ORDER BY id DESC LIMIT $1::bigint",
	    1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "gold-labelled tickets: %s", PQresultErrorMessage(r));
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		static const char *const tk[7] = {"ticket_id", "source",  "channel",   "subject",
						  "body",      "language", "created_at"};
		static const char *const gk[3] = {"category", "sentiment", "urgency"};
		json_object *jt = json_object_new_object(), *jg = json_object_new_object();
		int bad;
		for (int k = 0; k < 7; k++)
			if (!PQgetisnull(r, i, k))
				json_object_object_add(jt, tk[k],
						       json_object_new_string(PQgetvalue(r, i, k)));
		for (int k = 0; k < 3; k++)
			if (!PQgetisnull(r, i, 7 + k))
				json_object_object_add(jg, gk[k],
						       json_object_new_string(PQgetvalue(r, i, 7 + k)));
		bad = add_item(run, cfg, red, jt, jg, &cap, &unknown, e, sizeof(e));
		json_object_put(jt);
		json_object_put(jg);
		if (bad < 0) {
			/* a stored ticket the parser refuses now: left out, said */
			fprintf(stderr, "triaged eval: ticket %s left out: %s\n", PQgetvalue(r, i, 0), e);
		}
	}
	if (run->n == 0) {
		snprintf(err, errlen, "no gold-labelled ticket in the database (corrected or approved)");
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

