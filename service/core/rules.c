/*
 * rules: see rules.h. Owns the rules file syntax: every key of a [rule]
 * section is one row of the key table below (name, value type, field,
 * condition kind); parsing walks that table. There is no per-key parsing
 * code. The compiled set is in rules_set.h, evaluation (one switch over the
 * condition kinds) in rules_eval.c, the regex cost checks in rules_regex.c.
 *
 * Must never read anything but the file handed to rules_load_file(), log,
 * read the clock, or keep state outside a struct rules: evaluation only reads
 * the compiled set, so one set can serve many threads and a reload is a swap.
 */
#include "rules.h"
#include "textfile.h"
#include "rules_regex.h"
#include "rules_set.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#define REASON_MAX  200 /* bytes of a reason = value */
#define REGEX_FLAGS (REG_EXTENDED | REG_ICASE | REG_NOSUB)

enum val_type {
	VT_TRUE,     /* "true" only (always = true) */
	VT_BOOL,     /* int 0/1 */
	VT_SET,	     /* list of names of an enum -> unsigned bit mask */
	VT_NAMES,    /* list of [a-z0-9_]+ -> struct rules_strlist */
	VT_LANGS,    /* list of language tags, lower-cased, '_' -> '-' -> struct rules_strlist */
	VT_KEYWORDS, /* list of phrases, lower-cased, blanks collapsed -> struct rules_strlist */
	VT_REGEX,    /* one POSIX ERE per key, repeatable -> re[], re_src[] */
	VT_PROB,     /* double in [0, 1] */
	VT_BYTES,    /* int64_t >= 0 */
	VT_ACTION,   /* enum rule_action */
	VT_TEXT,     /* char *, one line of printable text */
	VT_PRIO,     /* int in [0, 100] */
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
	enum rule_cond cond;
	const struct name_set *set; /* VT_SET */
};

#define OFF(f) offsetof(struct rule, f)
static const struct rule_key keys[] = {
	{"always", VT_TRUE, 0, RULE_C_ALWAYS, NULL},
	{"urgency", VT_SET, OFF(urgency), RULE_C_URGENCY, &urgency_set},
	{"sentiment", VT_SET, OFF(sentiment), RULE_C_SENTIMENT, &sentiment_set},
	{"category", VT_NAMES, OFF(category), RULE_C_CATEGORY, NULL},
	{"tier", VT_SET, OFF(tier), RULE_C_TIER, &tier_set},
	{"channel", VT_SET, OFF(channel), RULE_C_CHANNEL, &channel_set},
	{"confidence_below", VT_PROB, OFF(conf_below), RULE_C_CONF_BELOW, NULL},
	{"confidence_at_least", VT_PROB, OFF(conf_at_least), RULE_C_CONF_AT_LEAST, NULL},
	{"language_in", VT_LANGS, OFF(lang_in), RULE_C_LANG_IN, NULL},
	{"language_not_in", VT_LANGS, OFF(lang_not_in), RULE_C_LANG_NOT_IN, NULL},
	{"keywords", VT_KEYWORDS, OFF(keywords), RULE_C_KEYWORDS, NULL},
	{"regex", VT_REGEX, 0, RULE_C_REGEX, NULL},
	{"mini_invalid", VT_BOOL, OFF(mini_invalid), RULE_C_MINI_INVALID, NULL},
	{"body_longer_than", VT_BYTES, OFF(body_longer_than), RULE_C_BODY_LONGER, NULL},
	{"flag", VT_NAMES, OFF(flag), RULE_C_FLAG, NULL},
	{"action", VT_ACTION, OFF(action), RULE_C_SETTING, NULL},
	{"reason", VT_TEXT, OFF(reason), RULE_C_SETTING, NULL},
	{"priority", VT_PRIO, OFF(priority), RULE_C_SETTING, NULL},
	{"stop", VT_BOOL, OFF(stop), RULE_C_SETTING, NULL},
	{"enabled", VT_BOOL, OFF(enabled), RULE_C_SETTING, NULL},
};

_Static_assert(ARRAY_SIZE(keys) <= 32, "seen is a 32-bit mask of key rows");

/* ---- small helpers ---- */

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
		if (!rules_is_word((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

static void strlist_free(struct rules_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int rules_strlist_has(const struct rules_strlist *l, const char *s)
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
static int split_list(const char *v, struct rules_strlist *out, char *msg, size_t msglen)
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
		if (rules_is_blank((unsigned char)*p)) {
			if (o > e && o[-1] != ' ')
				*o++ = ' ';
		} else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			set_err(msg, msglen, "keyword contains a control character");
			return -1;
		} else {
			*o++ = (char)rules_ascii_lower((unsigned char)*p);
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
			*p = *p == '_' ? '-' : (char)rules_ascii_lower((unsigned char)*p);
		return 0;
	case VT_KEYWORDS:
		return norm_keyword(e, msg, msglen);
	default:
		set_err(msg, msglen, "internal error: not a list type");
		return -1;
	}
}

static int set_strlist(struct rules_strlist *dst, enum val_type type, const char *v, char *msg,
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
	struct rules_strlist l = {NULL, 0};
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
	if ((why = rules_regex_check(v, &width)) != NULL) {
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
	if (strncmp(inner, "rule", 4) != 0 || (inner[4] != '\0' && !rules_is_blank(inner[4]))) {
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
	if (keys[ki].cond != RULE_C_SETTING)
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

