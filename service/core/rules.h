/*
 * rules: escalation rules. Parses a rules file (deploy/RULES.md documents the
 * format) into a compiled, immutable set, and evaluates it against one ticket
 * and its mini-model triage: which tickets go to the flagship model, which go
 * straight to a human, with what queue priority and why.
 *
 * Pure: no I/O except rules_load_file(), which reads the one file it is
 * given; no clock, no globals. A compiled set is never modified after
 * rules_parse(), so rules_eval() may run on it from any number of threads,
 * and a reload (SIGHUP) is "build a new set, swap, free the old one"; when
 * the new file is bad the old set simply stays.
 */
#ifndef TRIAGED_RULES_H
#define TRIAGED_RULES_H

#include <stddef.h>

#include "ticket.h"
#include "answer.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

#define RULES_MAX_RULES	   256	   /* [rule] sections per file */
#define RULES_MAX_LIST	   64	   /* entries in one list value, keywords included */
#define RULES_MAX_REGEX	   8	   /* regex keys in one rule */
#define RULES_MAX_LINE	   4096	   /* bytes per line, without the newline */
#define RULES_MAX_NAME	   64	   /* bytes of a rule name */
#define RULES_MAX_FILE	   1048576 /* bytes of a rules file */
#define RULES_MAX_FLAGS	   8	   /* detector flags in one rules_input */
#define RULES_DEFAULT_PRIO 50
#define RULES_REGEX_TEXT_DEFAULT 4096 /* triage.rules_regex_text_bytes */

enum rule_action { RULE_NONE, RULE_ESCALATE, RULE_HUMAN_ONLY }; /* weakest to strongest */

/* Everything a rule can look at. All pointers are borrowed for the call. */
struct rules_input {
	const struct ticket *ticket; /* subject, body, channel, tier, language hint */
	const struct answer *mini;   /* NULL when the mini answer was invalid or missing */
	int mini_invalid;	     /* 1 if the mini step failed validation (after repair) */
	const char *flags[RULES_MAX_FLAGS]; /* detector flags set by other modules: "injection" */
	size_t nflags;
	/*
	 * Bytes of the subject and of the body that the regexes see (each cut on
	 * a UTF-8 boundary): regexec() runs on the event loop and its time grows
	 * with the text. 0 means RULES_REGEX_TEXT_DEFAULT, SIZE_MAX no cap.
	 * Keywords and body_longer_than always see the whole text.
	 */
	size_t regex_text_max;
	/*
	 * The text conditions (keywords, regexes) already evaluated on this
	 * ticket by rules_prepare_text() with the same rule set, or NULL to
	 * evaluate them here. Their results are the same either way.
	 */
	const struct rules_text *text;
};

/*
 * What the text conditions of each rule give on one ticket: the costly part
 * of an evaluation (keywords over the whole text, regexes over its capped
 * head), done once the ticket is parsed and off the event loop, so that the
 * evaluation after the mini answer reads only its results. Owned by the
 * caller (rules_text_free()).
 */
struct rules_text {
	size_t n;		  /* rules in the set it was made from */
	const char **keyword;	  /* [n]: the first keyword found, or NULL */
	unsigned char *text_ok;	  /* [n]: 1 if every text condition holds */
};

struct rules_decision {
	enum rule_action action; /* strongest action among matches: HUMAN_ONLY > ESCALATE > NONE */
	char matched[512];	 /* ","-separated names of the matching rules, in file order */
	char reasons[1024];	 /* "; "-separated reasons of the matching rules, same order */
	int priority;		 /* max priority of the matching rules, 0 if none matched */
	size_t nmatched;	 /* number of matching rules (matched may be cut with "...") */
};

struct rules; /* opaque compiled rule set */

/*
 * Compile rules text (NUL-terminated; NULL is the empty file). filename is
 * used in messages only (NULL: "rules"). Returns a new set (caller frees with
 * rules_free()), or NULL with err = "file:line: reason". An empty file is a
 * valid set that never matches.
 */
struct rules *rules_parse(const char *text, const char *filename, char *err, size_t errlen) WUR;

/*
 * Read path (at most RULES_MAX_FILE bytes, no NUL bytes) and compile it as
 * rules_parse() does. NULL with err = "path: reason" or "path:line: reason".
 */
struct rules *rules_load_file(const char *path, char *err, size_t errlen) WUR;

void rules_free(struct rules *r);

/*
 * Evaluate r (may be NULL: nothing matches) against in, filling *out
 * completely. Enabled rules are tried in file order; every matching rule
 * contributes its name, reason and priority; a matching rule with
 * stop = true ends the evaluation. Conditions that need a missing input
 * (mini == NULL, ticket == NULL) do not match. Never fails.
 */
void rules_eval(const struct rules *r, const struct rules_input *in, struct rules_decision *out);

/*
 * Evaluate the text conditions of every enabled rule of r on in->ticket
 * (in->regex_text_max applies; in->mini and the flags are not read) into
 * *out (cleared first; free with rules_text_free()). Thread-safe on a set
 * no one changes: it only reads r. Pass out as in->text to rules_eval()
 * with the same set: the decision is the one rules_eval() makes alone.
 */
void rules_prepare_text(const struct rules *r, const struct rules_input *in,
			struct rules_text *out);
void rules_text_free(struct rules_text *t);
/*
 * The same, each block given to put(ctx, block) to free it later (the daemon
 * hands a worker's blocks back to the worker, offload_discard); t is emptied.
 */
void rules_text_release(struct rules_text *t, void (*put)(void *ctx, void *block), void *ctx);

/* Number of rules in the set, disabled ones included (0 for NULL). */
size_t rules_count(const struct rules *r);

/* "none", "escalate", "human_only". */
const char *rule_action_name(enum rule_action a);

#endif
