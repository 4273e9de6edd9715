/*
 * rules: see rules.h. Owns the rules file syntax and the matchers. Every key
 * of a [rule] section is one row of the key table below (name, value type,
 * field, condition kind); parsing walks that table, evaluation is one switch
 * over the condition kinds. There is no per-key parsing code.
 *
 * Must never read anything but the file handed to rules_load_file(), log,
 * read the clock, or keep state outside a struct rules: evaluation only reads
 * the compiled set, so one set can serve many threads and a reload is a swap.
 */
#include "rules.h"
#include "textfile.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REASON_MAX  200 /* bytes of a reason = value */
#define WHY_SHOW    48	/* bytes of a keyword or regex quoted in a generated reason */
#define REGEX_FLAGS (REG_EXTENDED | REG_ICASE | REG_NOSUB)
/*
 * regcomp() nodes (about 100 bytes each) one regex may add by repeating: a
 * maximal file (2048 regexes) then compiles to no more than its 1 MiB of
 * plain text would, about 100 MB.
 */
#define REGEX_MAX_COST	500
#define REGEX_MAX_DEPTH 16 /* nested groups in one regex */
/*
 * regexec() time, which runs on the event loop: about 10 ns per byte of text
 * for a plain regex, plus about 14 ns per byte for every copy of a character
 * class that a counted repetition makes (".{0,100}" keeps up to 100 positions
 * alive at every byte: 5.7 ms on 4 KiB, 1.1 s for ".{0,400}" on 256 KiB).
 * REGEX_MAX_WIDTH bounds those copies in one regex; RULES_SCAN_BUDGET bounds
 * the sum of (1 + copies) over a file's regexes, so the worst accepted file
 * costs a bounded time per byte of the capped text: at 128, two regexes of 63
 * copies took 11 ms per ticket at the default 4 KiB cap on a loaded 2-core
 * machine (seven of 64, allowed at 512, took 50 ms; tests/bench/bench_rules.c).
 */
#define REGEX_MAX_WIDTH	  64
#define RULES_SCAN_BUDGET 128

/*
 * Condition kinds, in evaluation order: the cheap field checks first, the
 * scans of the ticket text last, so a rule that fails early costs nothing.
 * Generated reasons list the conditions in this order too.
 */
enum cond {
	C_ALWAYS,
	C_MINI_INVALID,
	C_FLAG,
	C_CHANNEL,
	C_TIER,
	C_URGENCY,
	C_SENTIMENT,
	C_CATEGORY,
	C_CONF_BELOW,
	C_CONF_AT_LEAST,
	C_LANG_IN,
	C_LANG_NOT_IN,
	C_BODY_LONGER,
	C_KEYWORDS,
	C_REGEX,
	C__COUNT,
	C_SETTING = C__COUNT, /* a key that is not a condition (action, reason, ...) */
};

enum val_type {
	VT_TRUE,     /* "true" only (always = true) */
	VT_BOOL,     /* int 0/1 */
	VT_SET,	     /* list of names of an enum -> unsigned bit mask */
	VT_NAMES,    /* list of [a-z0-9_]+ -> struct strlist */
	VT_LANGS,    /* list of language tags, lower-cased, '_' -> '-' -> struct strlist */
	VT_KEYWORDS, /* list of phrases, lower-cased, blanks collapsed -> struct strlist */
	VT_REGEX,    /* one POSIX ERE per key, repeatable -> re[], re_src[] */
	VT_PROB,     /* double in [0, 1] */
	VT_BYTES,    /* int64_t >= 0 */
	VT_ACTION,   /* enum rule_action */
	VT_TEXT,     /* char *, one line of printable text */
	VT_PRIO,     /* int in [0, 100] */
};

struct strlist {
	char **v;
	size_t n;
};

struct rule {
	char name[RULES_MAX_NAME + 1];
	int line;	/* of the [rule NAME] header, for messages about the whole rule */
	unsigned seen;	/* bit per key-table row given, to refuse duplicates */
	unsigned conds; /* bit per enum cond present */
	/* settings */
	enum rule_action action;
	char *reason; /* NULL: generated from the conditions that matched */
	int priority;
	int stop;
	int enabled;
	/* conditions */
	int mini_invalid;
	struct strlist flag, category, lang_in, lang_not_in, keywords;
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

/* The names of one enum, as its module spells them: values first .. end-1. */
struct name_set {
	const char *(*name)(int v);
	int first, end;
};

static const char *urgency_at(int v)
{
	return urgency_name((enum urgency)v);
}

static const char *sentiment_at(int v)
{
	return sentiment_name((enum sentiment)v);
}

static const char *tier_at(int v)
{
	return customer_tier_name((enum customer_tier)v);
}

static const char *channel_at(int v)
{
	return ticket_channel_name((enum ticket_channel)v);
}

static const struct name_set urgency_set = {urgency_at, 0, URG__COUNT};
static const struct name_set sentiment_set = {sentiment_at, 0, SENT__COUNT};
static const struct name_set tier_set = {tier_at, TIER_FREE, TIER__COUNT}; /* not "none" */
static const struct name_set channel_set = {channel_at, 0, CH__COUNT};

static const char *const action_names[] = {
	[RULE_NONE] = "none",
	[RULE_ESCALATE] = "escalate",
	[RULE_HUMAN_ONLY] = "human_only",
};

_Static_assert(URG__COUNT <= 32 && SENT__COUNT <= 32 && TIER__COUNT <= 32 && CH__COUNT <= 32,
	       "enum sets are stored as 32-bit masks");
_Static_assert(sizeof(enum rule_action) == sizeof(int), "VT_ACTION fields are stored as int");

struct rule_key {
	const char *name;
	enum val_type type;
	size_t offset; /* of the field in struct rule (unused for VT_TRUE, VT_REGEX) */
	enum cond cond;
	const struct name_set *set; /* VT_SET */
};

#define OFF(f) offsetof(struct rule, f)
static const struct rule_key keys[] = {
	{"always", VT_TRUE, 0, C_ALWAYS, NULL},
	{"urgency", VT_SET, OFF(urgency), C_URGENCY, &urgency_set},
	{"sentiment", VT_SET, OFF(sentiment), C_SENTIMENT, &sentiment_set},
	{"category", VT_NAMES, OFF(category), C_CATEGORY, NULL},
	{"tier", VT_SET, OFF(tier), C_TIER, &tier_set},
	{"channel", VT_SET, OFF(channel), C_CHANNEL, &channel_set},
	{"confidence_below", VT_PROB, OFF(conf_below), C_CONF_BELOW, NULL},
	{"confidence_at_least", VT_PROB, OFF(conf_at_least), C_CONF_AT_LEAST, NULL},
	{"language_in", VT_LANGS, OFF(lang_in), C_LANG_IN, NULL},
	{"language_not_in", VT_LANGS, OFF(lang_not_in), C_LANG_NOT_IN, NULL},
	{"keywords", VT_KEYWORDS, OFF(keywords), C_KEYWORDS, NULL},
	{"regex", VT_REGEX, 0, C_REGEX, NULL},
	{"mini_invalid", VT_BOOL, OFF(mini_invalid), C_MINI_INVALID, NULL},
	{"body_longer_than", VT_BYTES, OFF(body_longer_than), C_BODY_LONGER, NULL},
	{"flag", VT_NAMES, OFF(flag), C_FLAG, NULL},
	{"action", VT_ACTION, OFF(action), C_SETTING, NULL},
	{"reason", VT_TEXT, OFF(reason), C_SETTING, NULL},
	{"priority", VT_PRIO, OFF(priority), C_SETTING, NULL},
	{"stop", VT_BOOL, OFF(stop), C_SETTING, NULL},
	{"enabled", VT_BOOL, OFF(enabled), C_SETTING, NULL},
};

_Static_assert(ARRAY_SIZE(keys) <= 32, "seen is a 32-bit mask of key rows");

/* ---- small helpers ---- */

static int is_word(int c)
{
	return c >= 0 && c < 0x80 && isalnum(c);
}

static int is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int is_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RULES_MAX_NAME)
		return 0;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '_')
			return 0;
	return 1;
}

/* A language tag as the rules accept it: a letter, then letters, digits, '-' or '_'. */
static int is_lang(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > ANSWER_MAX_LANGUAGE || !isalpha((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!is_word((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* "a, b, c" of a name set, for messages. */
static void set_names(const struct name_set *set, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (int v = set->first; v < set->end && o < outlen; v++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", v > set->first ? ", " : "",
				      set->name(v));
}

/* ---- parsing values ---- */

/*
 * Cut an inline comment: a '#' at the start of the value or after a blank,
 * outside double quotes. A '#' inside a word (a regex's "[#]") stays.
 */
static void cut_comment(char *v)
{
	int quoted = 0;

	for (char *p = v; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '#' && !quoted && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

/* Strip one pair of surrounding double quotes in place; -1 if the opening one is unmatched. */
static int unquote(char *v)
{
	size_t n = strlen(v);

	if (n == 0 || v[0] != '"')
		return 0;
	if (n < 2 || v[n - 1] != '"')
		return -1;
	memmove(v, v + 1, n - 2);
	v[n - 2] = '\0';
	return 0;
}

/*
 * Split a comma-separated list into out (appended). An entry is either bare
 * (trimmed; may hold blanks, not commas or quotes) or double-quoted (taken
 * verbatim: may hold commas and blanks; no escapes).
 */
static int split_list(const char *v, struct strlist *out, char *msg, size_t msglen)
{
	const char *p = v;

	if (str_blank(v)) {
		set_err(msg, msglen, "empty list");
		return -1;
	}
	for (;;) {
		const char *start, *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			start = ++p;
			if ((end = strchr(p, '"')) == NULL) {
				set_err(msg, msglen, "unbalanced double quote");
				return -1;
			}
			p = end + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != ',' && *p != '\0') {
				set_err(msg, msglen, "expected ',' after a quoted entry");
				return -1;
			}
		} else {
			start = p;
			p += strcspn(p, ",\"");
			if (*p == '"') {
				set_err(msg, msglen, "a double quote must enclose a whole entry");
				return -1;
			}
			end = p;
			while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
		}
		if (end == start) {
			set_err(msg, msglen, "empty entry");
			return -1;
		}
		if (out->n == RULES_MAX_LIST) {
			set_err(msg, msglen, "more than %d entries", RULES_MAX_LIST);
			return -1;
		}
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = xstrndup(start, (size_t)(end - start));
		if (*p == '\0')
			return 0;
		p++; /* the comma */
	}
}

/* Keyword: ASCII lower case, blank runs collapsed to one space, trimmed. */
static int norm_keyword(char *e, char *msg, size_t msglen)
{
	char *o = e;

	for (const char *p = e; *p; p++) {
		if (is_blank((unsigned char)*p)) {
			if (o > e && o[-1] != ' ')
				*o++ = ' ';
		} else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			set_err(msg, msglen, "keyword contains a control character");
			return -1;
		} else {
			*o++ = (char)ascii_lower((unsigned char)*p);
		}
	}
	if (o > e && o[-1] == ' ')
		o--;
	*o = '\0';
	if (*e == '\0') {
		set_err(msg, msglen, "empty entry");
		return -1;
	}
	return 0;
}

/* Check and normalise one entry of a VT_NAMES, VT_LANGS or VT_KEYWORDS list in place. */
static int norm_entry(enum val_type type, char *e, char *msg, size_t msglen)
{
	switch (type) {
	case VT_NAMES:
		if (!is_name(e)) {
			set_err(msg, msglen, "'%s' must match [a-z0-9_]+ (at most %d bytes)", e,
				RULES_MAX_NAME);
			return -1;
		}
		return 0;
	case VT_LANGS:
		if (!is_lang(e)) {
			set_err(msg, msglen, "'%s' is not a language tag (en, pt-br, ...)", e);
			return -1;
		}
		for (char *p = e; *p; p++)
			*p = *p == '_' ? '-' : (char)ascii_lower((unsigned char)*p);
		return 0;
	case VT_KEYWORDS:
		return norm_keyword(e, msg, msglen);
	default:
		set_err(msg, msglen, "internal error: not a list type");
		return -1;
	}
}

static int set_strlist(struct strlist *dst, enum val_type type, const char *v, char *msg,
		       size_t msglen)
{
	if (split_list(v, dst, msg, msglen) < 0)
		return -1;
	for (size_t i = 0; i < dst->n; i++)
		if (norm_entry(type, dst->v[i], msg, msglen) < 0)
			return -1;
	return 0;
}

static int set_mask(unsigned *dst, const struct name_set *set, const char *v, char *msg,
		    size_t msglen)
{
	struct strlist l = {NULL, 0};
	char names[256];
	int rc = -1;

	if (split_list(v, &l, msg, msglen) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		int found = -1;
		for (int e = set->first; e < set->end && found < 0; e++)
			if (strcasecmp(l.v[i], set->name(e)) == 0)
				found = e;
		if (found < 0) {
			set_names(set, names, sizeof(names));
			set_err(msg, msglen, "'%s' is not one of %s", l.v[i], names);
			goto out;
		}
		*dst |= 1u << found;
	}
	rc = 0;
out:
	strlist_free(&l);
	return rc;
}

/*
 * Refuse, before regcomp() tries, the regexes glibc cannot compile in
 * bounded time and memory; returns NULL or why. regcomp() copies the operand
 * of every repetition ("x+" is "xx*", "x{2,5}" five copies of x), so stacked
 * or nested repetitions take exponential memory ("a" and 80 '+' asks for
 * 2^80 nodes); and repeating something that can match the empty string
 * ("(a*)*", "x**") takes exponential time next to an anchor ("\b" and 22
 * "(a*)*": 8 s). POSIX leaves the second undefined anyway. Two more
 * shapes cost time in regexec(), on every ticket: a back-reference ("\\1")
 * makes matching backtrack (over a minute on 256 KiB for "(.+)\\1\\1"), and
 * the copies of a character class made by a counted repetition (".{0,400}")
 * stay alive at every byte; *width gets those copies (REGEX_MAX_WIDTH bounds
 * them). This is an estimate for those shapes, not an ERE parser: syntax
 * errors are left to regcomp().
 */
static const char *regex_check(const char *re, size_t *width)
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
	} st[REGEX_MAX_DEPTH + 1], *t = st;
	const size_t limit = strlen(re) + REGEX_MAX_COST, over = limit + 1;
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
			if (t == st + REGEX_MAX_DEPTH)
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
		if (wide > REGEX_MAX_WIDTH)
			return "too costly to scan: its counted repetitions make more than 64 "
			       "extra copies of '.', [...] or \\w";
	}
	*width = wide;
	return NULL;
}

static int add_regex(struct rule *ru, const char *v, char *msg, size_t msglen)
{
	size_t width;
	const char *why;
	char rerr[256];
	int rc;

	if (ru->nre == RULES_MAX_REGEX) {
		set_err(msg, msglen, "more than %d regex keys in one rule", RULES_MAX_REGEX);
		return -1;
	}
	if (*v == '\0') {
		set_err(msg, msglen, "empty regex");
		return -1;
	}
	if ((why = regex_check(v, &width)) != NULL) {
		set_err(msg, msglen, "bad regex '%.80s': %s", v, why);
		return -1;
	}
	if ((rc = regcomp(&ru->re[ru->nre], v, REGEX_FLAGS)) != 0) {
		regerror(rc, &ru->re[ru->nre], rerr, sizeof(rerr));
		set_err(msg, msglen, "bad regex '%.80s': %s", v, rerr);
		return -1;
	}
	ru->re_src[ru->nre++] = xstrdup(v);
	ru->re_scan += 1 + width;
	return 0;
}

/* Parse and store one value (v is trimmed, comment cut). On error msg holds the reason. */
static int set_value(struct rule *ru, const struct rule_key *k, char *v, char *msg, size_t msglen)
{
	void *f = (char *)ru + k->offset;
	int64_t i64;
	int b;

	switch (k->type) {
	case VT_SET:
		return set_mask(f, k->set, v, msg, msglen);
	case VT_NAMES:
	case VT_LANGS:
	case VT_KEYWORDS:
		return set_strlist(f, k->type, v, msg, msglen);
	default:
		break;
	}
	/* Scalars: the value may be wrapped in double quotes as a whole. */
	if (unquote(v) < 0) {
		set_err(msg, msglen, "unbalanced double quote");
		return -1;
	}
	switch (k->type) {
	case VT_TRUE:
		if (parse_bool(v, &b) < 0 || !b) {
			set_err(msg, msglen,
				"'%s' is not 'true' (to turn a rule off, use enabled = false)", v);
			return -1;
		}
		return 0;
	case VT_BOOL:
		if (parse_bool(v, f) < 0) {
			set_err(msg, msglen, "'%s' is not a boolean (true or false)", v);
			return -1;
		}
		return 0;
	case VT_REGEX:
		return add_regex(ru, v, msg, msglen);
	case VT_PROB:
		if (parse_double(v, 0, 1, f) < 0) {
			set_err(msg, msglen, "'%s' is not a number in [0, 1]", v);
			return -1;
		}
		return 0;
	case VT_BYTES:
		if (parse_int64(v, 0, INT64_MAX, f) < 0) {
			set_err(msg, msglen, "'%s' is not a byte count (an integer >= 0)", v);
			return -1;
		}
		return 0;
	case VT_ACTION:
		for (size_t a = 0; a < ARRAY_SIZE(action_names); a++) {
			if (strcasecmp(v, action_names[a]) == 0) {
				*(int *)f = (int)a;
				return 0;
			}
		}
		set_err(msg, msglen, "'%s' is not one of none, escalate, human_only", v);
		return -1;
	case VT_TEXT:
		if (str_blank(v)) {
			set_err(msg, msglen, "must not be empty");
			return -1;
		}
		if (strlen(v) > REASON_MAX || has_control(v)) {
			set_err(msg, msglen, "must be one line of at most %d bytes", REASON_MAX);
			return -1;
		}
		free(*(char **)f);
		*(char **)f = xstrdup(v);
		return 0;
	case VT_PRIO:
		if (parse_int64(v, 0, 100, &i64) < 0) {
			set_err(msg, msglen, "'%s' is not an integer in [0, 100]", v);
			return -1;
		}
		*(int *)f = (int)i64;
		return 0;
	default:
		set_err(msg, msglen, "internal error: bad value type");
		return -1;
	}
}

/* ---- parsing the file ---- */

struct parser {
	const char *fname;
	struct rules *rs;
	struct rule *cur; /* the rule being filled (owned by rs), NULL before the first */
	int lineno;
	char *err;
	size_t errlen;
};

static void rule_free(struct rule *ru)
{
	if (ru == NULL)
		return;
	free(ru->reason);
	strlist_free(&ru->flag);
	strlist_free(&ru->category);
	strlist_free(&ru->lang_in);
	strlist_free(&ru->lang_not_in);
	strlist_free(&ru->keywords);
	for (size_t i = 0; i < ru->nre; i++) {
		regfree(&ru->re[i]);
		free(ru->re_src[i]);
	}
	free(ru);
}

void rules_free(struct rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_free(r->v[i]);
	free(r);
}

static int key_index(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Whole-rule checks, reported at the rule's header line. */
static int finish_rule(struct parser *p)
{
	const struct rule *ru = p->cur;

	if (ru == NULL)
		return 0;
	if (!(ru->seen & (1u << key_index("action")))) {
		set_err(p->err, p->errlen,
			"%s:%d: rule '%s' has no action (action = none|escalate|human_only)",
			p->fname, ru->line, ru->name);
		return -1;
	}
	if (ru->conds == 0) {
		set_err(p->err, p->errlen,
			"%s:%d: rule '%s' has no condition (write 'always = true' to match every "
			"ticket)",
			p->fname, ru->line, ru->name);
		return -1;
	}
	return 0;
}

/* "[rule NAME] [# comment]": line is trimmed and starts with '['. */
static int parse_header(struct parser *p, char *line)
{
	struct rule *ru;
	char *inner, *name;
	size_t n;

	if (finish_rule(p) < 0)
		return -1;
	p->cur = NULL;
	cut_comment(line);
	n = strlen(str_trim(line));
	if (line[n - 1] != ']') {
		set_err(p->err, p->errlen,
			"%s:%d: malformed section header (expected '[rule NAME]')", p->fname,
			p->lineno);
		return -1;
	}
	line[n - 1] = '\0';
	inner = str_trim(line + 1);
	if (strncmp(inner, "rule", 4) != 0 || (inner[4] != '\0' && !is_blank(inner[4]))) {
		set_err(p->err, p->errlen, "%s:%d: unknown section '[%s]' (expected '[rule NAME]')",
			p->fname, p->lineno, inner);
		return -1;
	}
	name = str_trim(inner + 4);
	if (!is_name(name)) {
		set_err(p->err, p->errlen,
			"%s:%d: rule name '%s' must match [a-z0-9_]+ (at most %d bytes)", p->fname,
			p->lineno, name, RULES_MAX_NAME);
		return -1;
	}
	for (size_t i = 0; i < p->rs->n; i++) {
		if (strcmp(p->rs->v[i]->name, name) == 0) {
			set_err(p->err, p->errlen,
				"%s:%d: duplicate rule name '%s' (first defined at line %d)",
				p->fname, p->lineno, name, p->rs->v[i]->line);
			return -1;
		}
	}
	if (p->rs->n == RULES_MAX_RULES) {
		set_err(p->err, p->errlen, "%s:%d: more than %d rules", p->fname, p->lineno,
			RULES_MAX_RULES);
		return -1;
	}
	ru = xcalloc(1, sizeof(*ru));
	strlcpy_t(ru->name, name, sizeof(ru->name));
	ru->line = p->lineno;
	ru->action = RULE_NONE;
	ru->priority = RULES_DEFAULT_PRIO;
	ru->enabled = 1;
	p->rs->v[p->rs->n++] = ru;
	p->cur = ru;
	return 0;
}

/* "key = value [# comment]": line is trimmed, not empty, not a comment, not a header. */
static int parse_kv(struct parser *p, char *line)
{
	char msg[512];
	char *eq = strchr(line, '='), *key, *value;
	size_t scan;
	int ki;

	if (eq == NULL) {
		set_err(p->err, p->errlen, "%s:%d: expected 'key = value'", p->fname, p->lineno);
		return -1;
	}
	*eq = '\0';
	key = str_trim(line);
	value = eq + 1;
	cut_comment(value);
	str_trim(value);
	if (*key == '\0') {
		set_err(p->err, p->errlen, "%s:%d: missing key before '='", p->fname, p->lineno);
		return -1;
	}
	if (p->cur == NULL) {
		set_err(p->err, p->errlen, "%s:%d: key '%s' outside a [rule NAME] section",
			p->fname, p->lineno, key);
		return -1;
	}
	if ((ki = key_index(key)) < 0) {
		set_err(p->err, p->errlen, "%s:%d: unknown key '%s'", p->fname, p->lineno, key);
		return -1;
	}
	if (keys[ki].type != VT_REGEX && (p->cur->seen & (1u << ki))) {
		set_err(p->err, p->errlen, "%s:%d: duplicate key '%s' in rule '%s'", p->fname,
			p->lineno, key, p->cur->name);
		return -1;
	}
	scan = p->cur->re_scan;
	if (set_value(p->cur, &keys[ki], value, msg, sizeof(msg)) < 0) {
		set_err(p->err, p->errlen, "%s:%d: %s: %s", p->fname, p->lineno, key, msg);
		return -1;
	}
	/* Every regex runs on every ticket (a disabled rule may come back with a reload). */
	p->rs->re_scan += p->cur->re_scan - scan;
	if (p->rs->re_scan > RULES_SCAN_BUDGET) {
		set_err(p->err, p->errlen,
			"%s:%d: %s: the file's regexes together are too costly to scan (each "
			"counts 1 plus its class copies; at most %d in all)",
			p->fname, p->lineno, key, RULES_SCAN_BUDGET);
		return -1;
	}
	p->cur->seen |= 1u << ki;
	if (keys[ki].cond != C_SETTING)
		p->cur->conds |= 1u << keys[ki].cond;
	return 0;
}

struct rules *rules_parse(const char *text, const char *filename, char *err, size_t errlen)
{
	struct parser p = {filename ? filename : "rules", NULL, NULL, 0, err, errlen};
	const char *s = text ? text : "";
	char *line = xmalloc(RULES_MAX_LINE + 1);
	int rc = -1;

	p.rs = xcalloc(1, sizeof(*p.rs));
	while (*s != '\0') {
		size_t n = strcspn(s, "\n");
		size_t len = n > 0 && s[n - 1] == '\r' ? n - 1 : n;

		p.lineno++;
		if (len > RULES_MAX_LINE) {
			set_err(err, errlen, "%s:%d: line longer than %d bytes", p.fname, p.lineno,
				RULES_MAX_LINE);
			goto out;
		}
		memcpy(line, s, len);
		line[len] = '\0';
		s += n + (s[n] == '\n');
		str_trim(line);
		if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;
		if ((line[0] == '[' ? parse_header(&p, line) : parse_kv(&p, line)) < 0)
			goto out;
	}
	if (finish_rule(&p) < 0)
		goto out;
	rc = 0;
out:
	free(line);
	if (rc < 0) {
		rules_free(p.rs);
		return NULL;
	}
	return p.rs;
}

struct rules *rules_load_file(const char *path, char *err, size_t errlen)
{
	struct rules *r;
	char *text = textfile_read(path, RULES_MAX_FILE, err, errlen);
	if (text == NULL)
		return NULL;
	r = rules_parse(text, path, err, errlen);
	free(text);
	return r;
}

size_t rules_count(const struct rules *r)
{
	return r != NULL ? r->n : 0;
}

const char *rule_action_name(enum rule_action a)
{
	return (unsigned)a < ARRAY_SIZE(action_names) ? action_names[a] : "unknown";
}

/* ---- evaluation ---- */

/*
 * A fixed-size list being joined with a separator. An item that does not fit
 * is replaced by "...", and nothing is added after it, so a cut list is
 * visibly cut and never ends inside a name.
 */
struct joiner {
	char *s;
	size_t cap, len;
	int full;
};

static void join_init(struct joiner *j, char *s, size_t cap)
{
	j->s = s;
	j->cap = cap;
	j->len = 0;
	j->full = 0;
	s[0] = '\0';
}

static void join_add(struct joiner *j, const char *sep, const char *item)
{
	size_t sl = j->len > 0 ? strlen(sep) : 0, il = strlen(item);
	/* Room kept for sep + "..." + NUL, so the cut marker always fits. */
	size_t reserve = strlen(sep) + 4;

	if (j->full)
		return;
	if (j->len + sl + il + reserve <= j->cap) {
		j->len += (size_t)snprintf(j->s + j->len, j->cap - j->len, "%s%s",
					   j->len > 0 ? sep : "", item);
		return;
	}
	j->full = 1;
	if (j->len + sl + 4 <= j->cap)
		j->len += (size_t)snprintf(j->s + j->len, j->cap - j->len, "%s...",
					   j->len > 0 ? sep : "");
}

/* Add "key=value" to a generated reason, the value cut on a UTF-8 boundary if long. */
static void why_add(struct joiner *why, const char *key, const char *value)
{
	char item[WHY_SHOW + 64];
	size_t n = strlen(value), show = utf8_cut(value, n, WHY_SHOW);

	snprintf(item, sizeof(item), "%s=%.*s%s", key, (int)show, value, show < n ? "..." : "");
	join_add(why, ", ", item);
}

struct eval_ctx {
	const struct rules_input *in;
	char *text;  /* subject "\n" body for the regexes, built on first use */
	char *lower; /* subject "\0" body, ASCII lower-cased, for the keywords, ditto */
	size_t slen, blen;
};

static int in_mask(unsigned mask, int v)
{
	return v >= 0 && v < 32 && (mask & (1u << v)) != 0;
}

/*
 * Does language tag match the list entry want (lower case, '-')? Equal
 * ignoring case and '-'/'_', or want is a prefix ending at a subtag boundary:
 * "en" matches "en", "EN", "en-US", "en_GB"; "pt-br" matches "pt-BR", not "pt".
 */
static int lang_match(const char *tag, const char *want)
{
	size_t i;

	for (i = 0; want[i] != '\0'; i++) {
		int c = tag[i] == '_' ? '-' : ascii_lower((unsigned char)tag[i]);
		if (tag[i] == '\0' || c != want[i])
			return 0;
	}
	return tag[i] == '\0' || tag[i] == '-' || tag[i] == '_';
}

static int lang_listed(const struct strlist *l, const char *tag)
{
	for (size_t i = 0; i < l->n; i++)
		if (lang_match(tag, l->v[i]))
			return 1;
	return 0;
}

/* A language tag quoted in a reason: only tag characters, so no ticket text leaks through. */
static void why_lang(struct joiner *why, const char *tag, const char *suffix)
{
	char clean[ANSWER_MAX_LANGUAGE + 16];
	size_t o = 0;

	for (const char *p = tag; *p && o < ANSWER_MAX_LANGUAGE; p++)
		clean[o++] = is_word((unsigned char)*p) || *p == '-' || *p == '_' ? *p : '?';
	snprintf(clean + o, sizeof(clean) - o, "%s", suffix);
	why_add(why, "language", clean);
}

/* Bytes of keyword kw matching at lower-cased t (a space matches a run of blanks), or 0. */
static size_t kw_at(const char *t, const char *end, const char *kw)
{
	const char *p = t;

	for (; *kw != '\0'; kw++) {
		if (*kw == ' ') {
			if (p == end || !is_blank((unsigned char)*p))
				return 0;
			while (p < end && is_blank((unsigned char)*p))
				p++;
		} else {
			if (p == end || *p != *kw)
				return 0;
			p++;
		}
	}
	return (size_t)(p - t);
}

/*
 * Is keyword kw (normalised: lower case, single spaces) in t[0..len) (ASCII
 * lower-cased)? Other bytes compare exactly. Where kw begins (ends) with an
 * ASCII letter or digit, the text byte before (after) the match must not be
 * one: "sue" is not found in "issue" or "pursued". Non-ASCII bytes count as
 * boundaries, so keywords in any script match as plain bytes. memmem finds
 * the candidates for the first word: the scan runs at memory speed.
 */
static int kw_find(const char *t, size_t len, const char *kw)
{
	const char *end = t + len, *p = t;
	size_t kwlen = strlen(kw), first = strcspn(kw, " ");
	int bound_start = is_word((unsigned char)kw[0]);
	int bound_end = is_word((unsigned char)kw[kwlen - 1]);

	while (p < end && (p = memmem(p, (size_t)(end - p), kw, first)) != NULL) {
		size_t n;

		if ((!bound_start || p == t || !is_word((unsigned char)p[-1])) &&
		    (n = kw_at(p, end, kw)) != 0 &&
		    (!bound_end || p + n == end || !is_word((unsigned char)p[n])))
			return 1;
		p++;
	}
	return 0;
}

static const char *first_keyword(const struct strlist *kws, struct eval_ctx *cx)
{
	const struct ticket *t = cx->in->ticket;

	if (cx->lower == NULL) {
		const char *subject = t->subject ? t->subject : "";
		const char *body = t->body ? t->body : "";

		cx->slen = strlen(subject);
		cx->blen = strlen(body);
		cx->lower = xmalloc(cx->slen + cx->blen + 2);
		for (size_t i = 0; i <= cx->slen; i++)
			cx->lower[i] = (char)ascii_lower((unsigned char)subject[i]);
		for (size_t i = 0; i <= cx->blen; i++)
			cx->lower[cx->slen + 1 + i] = (char)ascii_lower((unsigned char)body[i]);
	}
	/* Subject and body apart: a phrase must not span the two. */
	for (size_t i = 0; i < kws->n; i++)
		if (kw_find(cx->lower, cx->slen, kws->v[i]) ||
		    kw_find(cx->lower + cx->slen + 1, cx->blen, kws->v[i]))
			return kws->v[i];
	return NULL;
}

static const char *flag_set(const struct strlist *want, const struct rules_input *in)
{
	size_t n = in->nflags < RULES_MAX_FLAGS ? in->nflags : RULES_MAX_FLAGS;

	for (size_t i = 0; i < n; i++)
		if (in->flags[i] != NULL && strlist_has(want, in->flags[i]))
			return in->flags[i];
	return NULL;
}

/* subject "\n" body, each cut to max bytes (0: the default) on a UTF-8 boundary. */
static char *regex_text(const struct ticket *t, size_t max)
{
	const char *subject = t->subject ? t->subject : "", *body = t->body ? t->body : "";
	size_t slen = strlen(subject), blen = strlen(body);
	char *text;

	if (max == 0)
		max = RULES_REGEX_TEXT_DEFAULT;
	slen = utf8_cut(subject, slen, max);
	blen = utf8_cut(body, blen, max);
	text = xmalloc(slen + blen + 2);
	memcpy(text, subject, slen);
	text[slen] = '\n';
	memcpy(text + slen + 1, body, blen);
	text[slen + 1 + blen] = '\0';
	return text;
}

/* Does condition c of rule ru hold? If so, its description is added to why. */
static int cond_match(const struct rule *ru, enum cond c, struct eval_ctx *cx, struct joiner *why)
{
	const struct rules_input *in = cx->in;
	const struct ticket *t = in->ticket;
	const struct answer *m = in->mini;
	const char *s, *lang;
	char num[64];

	switch (c) {
	case C_ALWAYS:
		join_add(why, ", ", "always");
		return 1;
	case C_MINI_INVALID:
		if ((in->mini_invalid != 0) != ru->mini_invalid)
			return 0;
		why_add(why, "mini_invalid", ru->mini_invalid ? "true" : "false");
		return 1;
	case C_FLAG:
		if ((s = flag_set(&ru->flag, in)) == NULL)
			return 0;
		why_add(why, "flag", s);
		return 1;
	case C_CHANNEL:
		if (t == NULL || !in_mask(ru->channel, (int)t->channel))
			return 0;
		why_add(why, "channel", ticket_channel_name(t->channel));
		return 1;
	case C_TIER:
		if (t == NULL || !in_mask(ru->tier, (int)t->tier))
			return 0;
		why_add(why, "tier", customer_tier_name(t->tier));
		return 1;
	case C_URGENCY:
		if (m == NULL || !in_mask(ru->urgency, (int)m->urgency))
			return 0;
		why_add(why, "urgency", urgency_name(m->urgency));
		return 1;
	case C_SENTIMENT:
		if (m == NULL || !in_mask(ru->sentiment, (int)m->sentiment))
			return 0;
		why_add(why, "sentiment", sentiment_name(m->sentiment));
		return 1;
	case C_CATEGORY:
		if (m == NULL || m->category == NULL || !strlist_has(&ru->category, m->category))
			return 0;
		why_add(why, "category", m->category);
		return 1;
	case C_CONF_BELOW:
		if (m == NULL || !(m->confidence < ru->conf_below))
			return 0;
		snprintf(num, sizeof(num), "%g<%g", m->confidence, ru->conf_below);
		why_add(why, "confidence", num);
		return 1;
	case C_CONF_AT_LEAST:
		if (m == NULL || !(m->confidence >= ru->conf_at_least))
			return 0;
		snprintf(num, sizeof(num), "%g>=%g", m->confidence, ru->conf_at_least);
		why_add(why, "confidence", num);
		return 1;
	case C_LANG_IN:
		if (m == NULL || m->language == NULL || !lang_listed(&ru->lang_in, m->language))
			return 0;
		why_lang(why, m->language, "");
		return 1;
	case C_LANG_NOT_IN:
		/* The one mini condition with a fallback: the sender's hint beats nothing. */
		if (m != NULL && m->language != NULL && *m->language != '\0')
			lang = m->language;
		else if (t != NULL && t->language != NULL && *t->language != '\0')
			lang = t->language;
		else
			return 0;
		if (lang_listed(&ru->lang_not_in, lang))
			return 0;
		why_lang(why, lang, m != NULL && lang == m->language ? "" : " (hint)");
		return 1;
	case C_BODY_LONGER:
		if (t == NULL || t->body == NULL ||
		    (uint64_t)t->body_len <= (uint64_t)ru->body_longer_than)
			return 0;
		snprintf(num, sizeof(num), "%zu", t->body_len);
		why_add(why, "body_bytes", num);
		return 1;
	case C_KEYWORDS:
		if (t == NULL || (s = first_keyword(&ru->keywords, cx)) == NULL)
			return 0;
		why_add(why, "keyword", s);
		return 1;
	case C_REGEX:
		if (t == NULL)
			return 0;
		if (cx->text == NULL)
			cx->text = regex_text(t, in->regex_text_max);
		for (size_t i = 0; i < ru->nre; i++)
			if (regexec(&ru->re[i], cx->text, 0, NULL, 0) != 0)
				return 0;
		for (size_t i = 0; i < ru->nre; i++)
			why_add(why, "regex", ru->re_src[i]);
		return 1;
	case C__COUNT:
		break;
	}
	return 0;
}

static int rule_match(const struct rule *ru, struct eval_ctx *cx, struct joiner *why)
{
	for (int c = 0; c < C__COUNT; c++)
		if ((ru->conds & (1u << c)) && !cond_match(ru, (enum cond)c, cx, why))
			return 0;
	return 1;
}

void rules_eval(const struct rules *r, const struct rules_input *in, struct rules_decision *out)
{
	struct eval_ctx cx = {in, NULL, NULL, 0, 0};
	struct joiner names, reasons;

	memset(out, 0, sizeof(*out));
	out->action = RULE_NONE;
	join_init(&names, out->matched, sizeof(out->matched));
	join_init(&reasons, out->reasons, sizeof(out->reasons));
	if (r == NULL || in == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		const struct rule *ru = r->v[i];
		char whybuf[256];
		struct joiner why;

		if (!ru->enabled)
			continue;
		join_init(&why, whybuf, sizeof(whybuf));
		if (!rule_match(ru, &cx, &why))
			continue;
		out->nmatched++;
		join_add(&names, ",", ru->name);
		join_add(&reasons, "; ", ru->reason != NULL ? ru->reason : whybuf);
		/* enum rule_action is ordered weakest to strongest */
		if (ru->action > out->action)
			out->action = ru->action;
		if (ru->priority > out->priority)
			out->priority = ru->priority;
		if (ru->stop)
			break;
	}
	free(cx.text);
	free(cx.lower);
}
