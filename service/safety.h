/*
 * safety: what keeps a ticket's text and its draft safe, around the model
 * calls. Before: injection attempts flagged, invisible characters stripped,
 * PII replaced by placeholders (the models see j->pt). After: the
 * customer's values restored in the draft and summary, then the
 * deterministic draft policy. Never logs ticket text; never decides where
 * a ticket goes (a failed redaction is a fact the cascade reads).
 */
#ifndef TRIAGED_SAFETY_H
#define TRIAGED_SAFETY_H

#include <stdint.h>

#include "cascade.h"
#include "config.h"
#include "draft_check.h"
#include "job.h"
#include "prompt.h"
#include "redact.h"

struct safety {
	struct redactor *redactor; /* NULL when redact.enabled = false */
	struct draft_policy policy;
	char **link_allow, **refund_categories;
	struct draft_check_prompt *pidx[MODEL__TIERS]; /* the system texts' word windows */
	size_t max_body_prompt_len;
	/* counters: values replaced (email, phone, card, iban, custom), flags */
	uint64_t redactions[5];
	uint64_t injection_flagged, drafts_flagged;
};

/* Set up from cfg; prompts are the tiers' triage prompts (indexed once). -1 with err. */
int safety_init(struct safety *s, const struct config *cfg,
		const struct prompt *const prompts[MODEL__TIERS], char *err, size_t errlen);
void safety_cleanup(struct safety *s);
/*
 * Flag injections in j->t and build what the models will see (j->pt); *c
 * gets what was found. Reads s only and logs nothing, so it may run on an
 * offload worker (offload.h) while the loop runs; the loop then calls
 * safety_account().
 */
void safety_prepare(const struct safety *s, struct job *j, struct safety_counts *c);
/* Count what safety_prepare() found, and log a flagged injection. Loop only. */
void safety_account(struct safety *s, const struct job *j, const struct safety_counts *c);
/* Restore the deciding answer's texts and check the draft; notes flags on j. */
void safety_check_draft(struct safety *s, struct job *j);

#endif
