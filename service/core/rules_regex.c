/*
 * rules_regex: see rules_regex.h. Owns the cost model of a rules file's
 * regexes (regcomp() nodes, nesting, counted repetitions of character
 * classes) and refuses the ones that would backtrack or scan too slowly on
 * the event loop. Must never compile or run a regex (rules.c compiles,
 * rules_eval.c runs), log, or read the clock.
 */
#include "rules_regex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *rules_regex_check(const char *re, size_t *width)
{
	struct level {
		size_t cost;   /* estimated nodes of the group so far */
		size_t last;   /* nodes of its last item: what a repetition copies */
		int has_last;  /* there is a last item in the current branch */
		int last_null; /* the last item can match the empty string */
		int last_cls;  /* the last item holds a character class ('.', [..], \\w) */
		int cls;       /* the group so far holds one */
		int pre_null;  /* the current branch can match empty before its last item */
		int alt_null;  /* an earlier branch of the group can match empty */
	} st[RULES_REGEX_MAX_DEPTH + 1], *t = st;
	const size_t limit = strlen(re) + RULES_REGEX_MAX_COST, over = limit + 1;
	const char *p = re;
	size_t wide = 0; /* class copies made by repetitions */

	*width = 0;
	memset(t, 0, sizeof(*t));
	t->pre_null = 1;
	while (*p != '\0') {
		size_t item = 1, grown, copies;
		unsigned long min = 0, max = 0; /* a repetition x{min,max} */
		int is_rep = 0, open = 0, item_null = 0, item_cls = 0;

		switch (*p) {
		case '(':
			if (t == st + RULES_REGEX_MAX_DEPTH)
				return "groups nest too deeply";
			t++;
			memset(t, 0, sizeof(*t));
			t->pre_null = 1;
			p++;
			continue;
		case ')':
			if (t > st) {
				item_null =
				    t->alt_null || (t->pre_null && (!t->has_last || t->last_null));
				item_cls = t->cls;
				item = t->cost + 1;
				t--;
			}
			p++;
			break;
		case '|':
			t->alt_null |= t->pre_null && (!t->has_last || t->last_null);
			t->pre_null = 1;
			t->has_last = 0;
			t->cost++;
			p++;
			continue;
		case '*':
		case '+':
		case '?':
			is_rep = 1;
			min = *p == '+';
			max = 1;
			open = *p != '?';
			p++;
			break;
		case '{': {
			/* {m}, {m,} or {m,n}; anything else is a literal '{' */
			char *e;
			if (!isdigit((unsigned char)p[1]))
				goto literal;
			min = max = strtoul(p + 1, &e, 10);
			if (*e == ',') {
				e++;
				if (isdigit((unsigned char)*e))
					max = strtoul(e, &e, 10);
				else
					open = 1;
			}
			if (*e != '}')
				goto literal;
			is_rep = 1;
			p = e + 1;
			break;
		}
		case '[':
			/* A bracket expression is one atom: skip to its ']' ("[]a]", "[[:a:]]"). */
			item_cls = 1;
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p != '\0' && *p != ']') {
				if (*p == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
					const char *end = p + 2;
					while (*end != '\0' && !(end[0] == p[1] && end[1] == ']'))
						end++;
					p = *end != '\0' ? end + 2 : end;
				} else {
					p++;
				}
			}
			if (*p == ']')
				p++;
			break;
		case '^':
		case '$':
			item_null = 1; /* anchors match the empty string */
			p++;
			break;
		case '\\':
			if (p[1] != '\0' && strchr("bB<>`'", p[1]) != NULL)
				item_null = 1;
			if (p[1] >= '1' && p[1] <= '9')
				return "back-references (\\1 to \\9) make matching backtrack: "
				       "too slow on long tickets";
			item_cls = p[1] != '\0' && strchr("wWsS", p[1]) != NULL;
			p += p[1] != '\0' ? 2 : 1;
			break;
		case '.':
			item_cls = 1;
			p++;
			break;
		default:
		literal:
			p++;
			break;
		}
		if (!is_rep) {
			if (t->has_last)
				t->pre_null = t->pre_null && t->last_null;
			t->has_last = 1;
			t->last = item;
			t->last_null = item_null;
			t->last_cls = item_cls;
			t->cls |= item_cls;
			t->cost += item;
		} else if (t->has_last) {
			/* The last item becomes its copies under one repetition node. */
			if ((open || max > 1) && t->last_null)
				return "repeats something that can match the empty string";
			copies = open ? min + 1 : max;
			copies = copies > over ? over : (copies == 0 ? 1 : copies);
			grown = copies > over / t->last ? over : t->last * copies + 1;
			/* Class copies stay alive together at every byte: a scan cost. */
			if (t->last_cls && copies > 1)
				wide += grown - t->last - 1;
			t->cost = t->cost - t->last + grown;
			t->last = grown;
			t->last_null = t->last_null || min == 0;
		}
		if (t->cost > limit)
			return "too complex: its repetitions expand to too many nodes";
		if (wide > RULES_REGEX_MAX_WIDTH)
			return "too costly to scan: its counted repetitions make more than 64 "
			       "extra copies of '.', [...] or \\w";
	}
	*width = wide;
	return NULL;
}
