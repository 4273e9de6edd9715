/*
 * policy: the deterministic check of a model's draft reply before it reaches
 * the agents' queue. Pure: no I/O, no clock, no globals but const tables.
 *
 * A flagged draft is not thrown away: the caller keeps it, marks it and
 * shows the reasons to the agent. The checks are plain text rules, so they
 * err towards flagging: "we cannot offer compensation" is flagged like a
 * promise (no negation analysis), and a link is any URL, "www." name, bare
 * domain with a common top-level domain, or e-mail address.
 */
#ifndef TRIAGED_POLICY_H
#define TRIAGED_POLICY_H

#include <stddef.h>

#include "util.h"

struct draft_policy {
	/*
	 * Hosts links may point to (borrowed). An entry allows itself and its
	 * subdomains: "example.com" allows example.com and help.example.com, not
	 * badexample.com. Compared case-insensitively. Default: none.
	 */
	const char *const *link_allow;
	size_t nlink_allow;
	/*
	 * Categories whose drafts may speak of refunds, credits or compensation
	 * (borrowed, exact and case-insensitive). Default: none, so every such
	 * promise is flagged: whether a refund is due is an agent's decision,
	 * and the triage prompt forbids promising one.
	 */
	const char *const *refund_categories;
	size_t nrefund_categories;
	size_t min_len;	      /* bytes; default 20 */
	size_t max_len;	      /* bytes; default 4000; 0: no maximum */
	size_t prompt_window; /* words of the system prompt that may not appear in a row; default 8
			       */
};

void draft_policy_default(struct draft_policy *p);

/*
 * Check draft against p. Returns 0 if it passes, 1 if flagged; why gets
 * every reason joined by "; " (cut at a UTF-8 boundary to fit whylen),
 * e.g. "link to a host not allowed: evil.example; leftover placeholder
 * [EMAIL_1]". Checks, in this order:
 *   - blank (empty or only whitespace), or not valid UTF-8;
 *   - length in bytes outside [min_len, max_len] (not checked when blank);
 *   - links and e-mail addresses to hosts outside link_allow;
 *   - placeholders left from redaction ("[EMAIL_1]", "[ORDER_ID_3]"): run
 *     the check on the model's draft before redact_restore(), and any
 *     placeholder the model echoed is reported; after it, those the map
 *     does not know;
 *   - p->prompt_window words in a row of system_prompt (case-insensitive,
 *     whitespace-normalized, punctuation at word ends ignored); skipped when
 *     system_prompt is NULL;
 *   - promises of refunds, credits or compensation, unless category (may be
 *     NULL) is one of refund_categories.
 */
int policy_check_draft(const struct draft_policy *p, const char *draft, const char *category,
		       const char *system_prompt, char *why, size_t whylen) WUR;

#endif
