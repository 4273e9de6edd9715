/*
 * safety: see safety.h. Owns the redactor and the draft policy.
 */
#include "safety.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "injection.h"
#include "log.h"

#define RESTORE_CAP (256u << 10)

/* Split "a, b,c" into a NULL-terminated array of trimmed, non-empty strings. */
static char **split_list(const char *s, size_t *n)
{
	char **v = xcalloc(1, sizeof(*v));
	char *copy = xstrdup(s), *p = copy, *comma;
	*n = 0;
	for (;;) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		str_trim(p);
		if (*p) {
			v = xrealloc(v, (*n + 2) * sizeof(*v));
			v[(*n)++] = xstrdup(p);
			v[*n] = NULL;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	free(copy);
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Custom redaction patterns: one "LABEL regex" per line; '#' comments. */
static int load_patterns(struct redactor *r, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096], e[256];
	int lineno = 0, rc = 0;
	if (f == NULL) {
		set_err(err, errlen, "%s: cannot open", path);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *sp;
		lineno++;
		str_trim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		sp = strpbrk(line, " \t");
		if (sp == NULL) {
			set_err(err, errlen, "%s:%d: expected \"LABEL regex\"", path, lineno);
			rc = -1;
			break;
		}
		*sp = '\0';
		str_trim(sp + 1);
		if (redactor_add_pattern(r, line, sp + 1, e, sizeof(e)) < 0) {
			set_err(err, errlen, "%s:%d: %s", path, lineno, e);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

int safety_init(struct safety *s, const struct config *cfg,
		const struct prompt *const prompts[MODEL__TIERS], char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->max_body_prompt_len = (size_t)cfg->max_body_prompt_bytes;
	draft_policy_default(&s->policy);
	s->link_allow = split_list(cfg->policy_link_allow, &s->policy.nlink_allow);
	s->policy.link_allow = (const char *const *)s->link_allow;
	s->refund_categories =
	    split_list(cfg->policy_refund_categories, &s->policy.nrefund_categories);
	s->policy.refund_categories = (const char *const *)s->refund_categories;
	s->policy.min_len = (size_t)cfg->policy_min_len;
	s->policy.max_len = (size_t)cfg->policy_max_len;
	/* the prompts are fixed for the daemon's life: index their words once */
	for (int t = 0; t < MODEL__TIERS; t++)
		s->pidx[t] = draft_check_prompt_new(prompts[t]->system, s->policy.prompt_window);
	if (!cfg->redact_enabled) {
		log_warn("PII redaction is off: ticket text goes to the models as written", "%s",
			 "");
		return 0;
	}
	s->redactor = redactor_new();
	redactor_set_lead0(s->redactor, (enum redact_lead0)cfg->redact_leading_zero_10);
	if (cfg->redact_patterns_file[0] &&
	    load_patterns(s->redactor, cfg->redact_patterns_file, err, errlen) < 0)
		return -1;
	return 0;
}

void safety_cleanup(struct safety *s)
{
	for (int t = 0; t < MODEL__TIERS; t++)
		draft_check_prompt_free(s->pidx[t]);
	redactor_free(s->redactor);
	free_list(s->link_allow);
	free_list(s->refund_categories);
	memset(s, 0, sizeof(*s));
}

static char *safe_copy(const struct safety *s, struct job *j, const char *text, size_t len,
		       struct redact_stats *st)
{
	char *c = xstrndup(text, len), *r;
	size_t n = injection_strip_invisible(c, len);
	char err[sizeof(((struct job_notes *)0)->redact_err)];
	c[n] = '\0';
	if (s->redactor == NULL || j->redact_failed)
		return c;
	r = redact_text(s->redactor, c, n, &j->pii, st, err, sizeof(err));
	free(c);
	if (r == NULL) {
		j->redact_failed = 1;
		memcpy(job_notes_wr(j)->redact_err, err, sizeof(err));
		return xstrdup("");
	}
	/* kept while the ticket is in flight: an exact copy, not the grown buffer */
	c = xstrdup(r);
	free(r);
	return c;
}

void safety_prepare(const struct safety *s, struct job *j, struct safety_counts *c)
{
	const struct ticket *t = j->t;
	char why[256] = "", why2[256] = "";
	int hits = injection_detect(t->subject, strlen(t->subject), why, sizeof(why)) +
		   injection_detect(t->body, t->body_len, why2, sizeof(why2));

	memset(c, 0, sizeof(*c));
	if (hits > 0) {
		snprintf(job_notes_wr(j)->detector_flags, sizeof(j->nt->detector_flags),
			 "injection: %s%s%s", why, why[0] && why2[0] ? ", " : "", why2);
		c->injection = 1;
	}
	j->p_subject = safe_copy(s, j, t->subject, strlen(t->subject), &c->subject);
	/* the prompt gets the body without quoted replies and signatures, when cut */
	j->p_body = safe_copy(s, j, t->prompt_body ? t->prompt_body : t->body,
			      t->prompt_body ? t->prompt_body_len : t->body_len, &c->body);
	j->pt = *t;
	j->pt.subject = j->p_subject;
	j->pt.body = j->p_body;
	j->pt.body_len = strlen(j->p_body);
	j->pt.body_prompt_len = utf8_cut(j->p_body, j->pt.body_len, s->max_body_prompt_len);
	j->pt.body_truncated = j->pt.body_prompt_len < j->pt.body_len;
}

void safety_account(struct safety *s, const struct job *j, const struct safety_counts *c)
{
	const struct redact_stats *a = &c->subject, *b = &c->body;

	if (c->injection) {
		static const char prefix[] = "injection: ";
		const char *pat = job_notes_rd(j)->detector_flags;
		char q[600];

		if (strncmp(pat, prefix, sizeof(prefix) - 1) == 0)
			pat += sizeof(prefix) - 1;
		s->injection_flagged++;
		log_ticket_at(LOG_L_WARN, j->t->ticket_id, (int)kin_part_partition(j->part),
			      (long long)j->offset, "prompt injection suspected", "patterns=%s",
			      log_quote(q, sizeof(q), pat));
	}
	s->redactions[0] += a->email + b->email;
	s->redactions[1] += a->phone + b->phone;
	s->redactions[2] += a->card + b->card;
	s->redactions[3] += a->iban + b->iban;
	s->redactions[4] += a->custom + b->custom;
}

/* Restore one model-written text in place: placeholders back to the customer's values. */
static void restore_text(struct job *j, char **text)
{
	char err[128];
	char *r;
	if (*text == NULL || j->pii.n == 0)
		return;
	r = redact_restore(&j->pii, *text, RESTORE_CAP, err, sizeof(err));
	if (r == NULL) {
		char *df = job_notes_wr(j)->draft_flags;
		size_t n = strlen(df);
		snprintf(df + n, sizeof(j->nt->draft_flags) - n, "%srestore failed: %s",
			 n ? "; " : "", err);
		return;
	}
	free(*text);
	*text = r;
}

/*
 * Before the draft reaches the queue: the customer's values restored for the
 * agent, then the deterministic policy check on that text (a placeholder
 * still there after restoring was invented by the model).
 */
void safety_check_draft(struct safety *s, struct job *j)
{
	struct answer *tr = job_answer(j);
	char why[sizeof(((struct job_notes *)0)->draft_flags)];
	size_t n;
	if (tr == NULL)
		return;
	restore_text(j, &tr->draft_reply);
	restore_text(j, &tr->summary);
	if (draft_check_ix(&s->policy, tr->draft_reply, tr->category,
			   s->pidx[j->has_ftr ? MODEL_FLAGSHIP : MODEL_MINI], why,
			   sizeof(why)) == 0)
		return;
	s->drafts_flagged++;
	n = strlen(job_notes_wr(j)->draft_flags);
	snprintf(j->nt->draft_flags + n, sizeof(j->nt->draft_flags) - n, "%s%s", n ? "; " : "",
		 why);
	/* per ticket: debug only; counted in triaged_drafts_flagged_total (issue #15.3) */
	log_ticket_at(LOG_L_DEBUG, j->t->ticket_id, (int)kin_part_partition(j->part),
		      (long long)j->offset, "draft flagged by policy", "%s", "");
}
