/*
 * draft_check: the deterministic check of a model's draft reply before it reaches
 * the agents' queue. Pure: no I/O, no clock, no globals but const tables.
 *
 * A flagged draft is not thrown away: the caller keeps it, marks it and
 * shows the reasons to the agent. The checks are plain text rules, so they
 * err towards flagging: "we cannot offer compensation" is flagged like a
 * promise (no negation analysis), and a link is any URL, "www." name, bare
 * domain with a common top-level domain, or e-mail address.
 */
#ifndef TRIAGED_DRAFT_CHECK_H
#define TRIAGED_DRAFT_CHECK_H

#include <stddef.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

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
	size_t min_len; /* bytes; default 20 */
	size_t max_len; /* bytes; default 4000; 0: no maximum */
	/*
	 * Words of the system prompt that may not appear in a row; default 8.
	 * Read by draft_check(); draft_check_ix() uses the window
	 * its index was built with (build it from this field).
	 */
	size_t prompt_window;
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
 * It indexes system_prompt on every call: to check many drafts against one
 * prompt, build a policy_prompt once and call draft_check_ix().
 */
int draft_check(const struct draft_policy *p, const char *draft, const char *category,
		       const char *system_prompt, char *why, size_t whylen) WUR;

/*
 * A system prompt indexed for the window check, so that the prompt is split
 * and hashed once (per model tier, at startup) instead of on every draft.
 * Immutable once built: any number of checks may share one. It keeps its own
 * copy of the prompt text.
 */
struct draft_check_prompt;

/*
 * Index system_prompt for windows of window words: pass the policy's
 * prompt_window, since the index, not the policy, decides the window in
 * draft_check_ix(). Returns a new index, never NULL (OOM aborts);
 * caller frees with draft_check_prompt_free(). With system_prompt NULL, window 0,
 * or a prompt of fewer than window words, the index matches no draft.
 */
struct draft_check_prompt *draft_check_prompt_new(const char *system_prompt, size_t window) WUR;
/* Accepts NULL. */
void draft_check_prompt_free(struct draft_check_prompt *pp);

/*
 * draft_check() with the system prompt given as an index: same
 * checks, results and why text. The window check uses the window pp was
 * built with and never reads p->prompt_window; pp NULL skips it, like a
 * NULL system_prompt.
 */
int draft_check_ix(const struct draft_policy *p, const char *draft, const char *category,
			  const struct draft_check_prompt *pp, char *why, size_t whylen) WUR;

#endif
