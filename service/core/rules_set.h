/*
 * rules_set: the compiled form of a rules file, shared by the parser
 * (rules.c, which builds it) and the evaluator (rules_eval.c, which only
 * reads it). Must never be seen outside the rules module: callers use
 * rules.h. No I/O, no clock.
 */
#ifndef TRIAGED_RULES_SET_H
#define TRIAGED_RULES_SET_H

#include <ctype.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

/*
 * Condition kinds, in evaluation order: the cheap field checks first, the
 * scans of the ticket text last, so a rule that fails early costs nothing.
 * Generated reasons list the conditions in this order too.
 */
enum rule_cond {
	RULE_C_ALWAYS,
	RULE_C_MINI_INVALID,
	RULE_C_FLAG,
	RULE_C_CHANNEL,
	RULE_C_TIER,
	RULE_C_URGENCY,
	RULE_C_SENTIMENT,
	RULE_C_CATEGORY,
	RULE_C_CONF_BELOW,
	RULE_C_CONF_AT_LEAST,
	RULE_C_LANG_IN,
	RULE_C_LANG_NOT_IN,
	RULE_C_BODY_LONGER,
	RULE_C_KEYWORDS,
	RULE_C_REGEX,
	RULE_C__COUNT,
	RULE_C_SETTING = RULE_C__COUNT, /* a key that is not a condition (action, reason, ...) */
};

struct rules_strlist {
	char **v;
	size_t n;
};

struct rule {
	char name[RULES_MAX_NAME + 1];
	int line;	/* of the [rule NAME] header, for messages about the whole rule */
	unsigned seen;	/* bit per key-table row given, to refuse duplicates */
	unsigned conds; /* bit per enum rule_cond present */
	/* settings */
	enum rule_action action;
	char *reason; /* NULL: generated from the conditions that matched */
	int priority;
	int stop;
	int enabled;
	/* conditions */
	int mini_invalid;
	struct rules_strlist flag, category, lang_in, lang_not_in, keywords;
	unsigned channel, tier, urgency, sentiment; /* bit masks of accepted enum values */
	double conf_below, conf_at_least;
	int64_t body_longer_than;
	regex_t re[RULES_MAX_REGEX];
	char *re_src[RULES_MAX_REGEX];
	size_t nre;
	size_t re_scan; /* sum of 1 + width of its regexes (see RULES_SCAN_BUDGET) */
};

struct rules {
	struct rule *v[RULES_MAX_RULES]; /* pointers: a compiled regex_t is never moved */
	size_t n;
	size_t re_scan; /* sum of the rules' re_scan */
};

/* ---- small helpers ---- */

static inline int rules_is_word(int c)
{
	return c >= 0 && c < 0x80 && isalnum(c);
}

static inline int rules_is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline int rules_ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Is s one of l's entries? */
int rules_strlist_has(const struct rules_strlist *l, const char *s);

#endif
