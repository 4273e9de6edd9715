/*
 * rules_eval: see rules.h (rules_eval). Owns how a compiled rule set is
 * matched against a ticket and its mini answer: the condition checks in
 * evaluation order, keyword and language matching, and the generated
 * reasons. Must never change the set (one set serves many callers; a reload
 * is a swap), log, or read the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rules_set.h"

#define WHY_SHOW 48 /* bytes of a keyword or regex quoted in a generated reason */
/* Longest subject or body scanned once for all keywords (kw_scan); bench_rules -b */
#define KW_SCAN_MAX 2048

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
	size_t rule; /* the index of the rule being evaluated, for in->text */
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
		int c = tag[i] == '_' ? '-' : rules_ascii_lower((unsigned char)tag[i]);
		if (tag[i] == '\0' || c != want[i])
			return 0;
	}
	return tag[i] == '\0' || tag[i] == '-' || tag[i] == '_';
}

static int lang_listed(const struct rules_strlist *l, const char *tag)
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
		clean[o++] = rules_is_word((unsigned char)*p) || *p == '-' || *p == '_' ? *p : '?';
	snprintf(clean + o, sizeof(clean) - o, "%s", suffix);
	why_add(why, "language", clean);
}

/* Bytes of keyword kw matching at lower-cased t (a space matches a run of blanks), or 0. */
static size_t kw_at(const char *t, const char *end, const char *kw)
{
	const char *p = t;

	for (; *kw != '\0'; kw++) {
		if (*kw == ' ') {
			if (p == end || !rules_is_blank((unsigned char)*p))
				return 0;
			while (p < end && rules_is_blank((unsigned char)*p))
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
	int bound_start = rules_is_word((unsigned char)kw[0]);
	int bound_end = rules_is_word((unsigned char)kw[kwlen - 1]);

	while (p < end && (p = memmem(p, (size_t)(end - p), kw, first)) != NULL) {
		size_t n;

		if ((!bound_start || p == t || !rules_is_word((unsigned char)p[-1])) &&
		    (n = kw_at(p, end, kw)) != 0 &&
		    (!bound_end || p + n == end || !rules_is_word((unsigned char)p[n])))
			return 1;
		p++;
	}
	return 0;
}

/*
 * A rule's keywords bucketed by their first byte, for one pass over the text:
 * the keywords that begin with byte c are ord[start[c] .. start[c + 1]), in
 * list order. Built on the stack for each list (a counting sort of at most
 * RULES_MAX_LIST entries), so the rule set stays read-only.
 */
_Static_assert(RULES_MAX_LIST <= 256, "a keyword's index is one byte");

struct kw_index {
	unsigned short start[257];
	unsigned char ord[RULES_MAX_LIST];
	unsigned char bound_end[RULES_MAX_LIST]; /* the keyword ends with a letter or digit */
};

static void kw_index_build(struct kw_index *x, const struct rules_strlist *kws)
{
	unsigned short fill[256];

	memset(x->start, 0, sizeof(x->start));
	for (size_t i = 0; i < kws->n; i++)
		x->start[(unsigned char)kws->v[i][0] + 1]++;
	for (int c = 0; c < 256; c++)
		x->start[c + 1] = (unsigned short)(x->start[c + 1] + x->start[c]);
	memcpy(fill, x->start, sizeof(fill));
	for (size_t i = 0; i < kws->n; i++) {
		const char *kw = kws->v[i];
		size_t len = strlen(kw);

		x->ord[fill[(unsigned char)kw[0]]++] = (unsigned char)i;
		x->bound_end[i] = len > 0 && rules_is_word((unsigned char)kw[len - 1]);
	}
}

/*
 * The smallest index below best of a keyword of kws found in t[0..len), as
 * kw_find finds them, else best. One pass for the whole list (issue #15):
 * each byte is one table look-up, and only the keywords that begin with it
 * are tried there. On a short text that is cheaper than a memmem per keyword
 * (35 in the shipped rules, over subject and body: about twice as fast on the
 * sample tickets, bench_rules); on a long one memmem's speed per byte wins,
 * and it may stop at the first keyword's first occurrence (kw_first below).
 */
static size_t kw_scan(const char *t, size_t len, const struct rules_strlist *kws,
		      const struct kw_index *x, size_t best)
{
	const char *end = t + len;

	for (const char *p = t; p < end && best > 0; p++) {
		unsigned c = (unsigned char)*p;
		unsigned lo = x->start[c], hi = x->start[c + 1];

		if (lo == hi)
			continue;
		/* a keyword that begins with a letter or digit begins a word */
		if (rules_is_word((int)c) && p > t && rules_is_word((unsigned char)p[-1]))
			continue;
		for (unsigned j = lo; j < hi && x->ord[j] < best; j++) {
			size_t k = x->ord[j], n = kw_at(p, end, kws->v[k]);

			if (n != 0 && (!x->bound_end[k] || p + n == end ||
				       !rules_is_word((unsigned char)p[n]))) {
				best = k; /* the rest of the bucket comes later in the list */
				break;
			}
		}
	}
	return best;
}

/* kw_scan on a short text, a memmem per keyword on a long one: the same answer. */
static size_t kw_first(const char *t, size_t len, const struct rules_strlist *kws,
		       const struct kw_index *x, size_t best)
{
	if (len <= KW_SCAN_MAX)
		return kw_scan(t, len, kws, x, best);
	for (size_t i = 0; i < best; i++)
		if (kw_find(t, len, kws->v[i]))
			return i;
	return best;
}

static const char *first_keyword(const struct rules_strlist *kws, struct eval_ctx *cx)
{
	const struct ticket *t = cx->in->ticket;
	struct kw_index x;
	size_t best;

	if (kws->n == 0)
		return NULL;
	if (cx->lower == NULL) {
		const char *subject = t->subject ? t->subject : "";
		const char *body = t->body ? t->body : "";

		cx->slen = strlen(subject);
		cx->blen = strlen(body);
		cx->lower = xmalloc(cx->slen + cx->blen + 2);
		for (size_t i = 0; i <= cx->slen; i++)
			cx->lower[i] = (char)rules_ascii_lower((unsigned char)subject[i]);
		for (size_t i = 0; i <= cx->blen; i++)
			cx->lower[cx->slen + 1 + i] =
			    (char)rules_ascii_lower((unsigned char)body[i]);
	}
	if (cx->slen <= KW_SCAN_MAX || cx->blen <= KW_SCAN_MAX)
		kw_index_build(&x, kws);
	/* Subject and body apart: a phrase must not span the two. */
	best = kw_first(cx->lower, cx->slen, kws, &x, kws->n);
	best = kw_first(cx->lower + cx->slen + 1, cx->blen, kws, &x, best);
	return best < kws->n ? kws->v[best] : NULL;
}

static const char *flag_set(const struct rules_strlist *want, const struct rules_input *in)
{
	size_t n = in->nflags < RULES_MAX_FLAGS ? in->nflags : RULES_MAX_FLAGS;

	for (size_t i = 0; i < n; i++)
		if (in->flags[i] != NULL && rules_strlist_has(want, in->flags[i]))
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
static int cond_match(const struct rule *ru, enum rule_cond c, struct eval_ctx *cx,
		      struct joiner *why)
{
	const struct rules_input *in = cx->in;
	const struct ticket *t = in->ticket;
	const struct answer *m = in->mini;
	const char *s, *lang;
	char num[64];

	switch (c) {
	case RULE_C_ALWAYS:
		join_add(why, ", ", "always");
		return 1;
	case RULE_C_MINI_INVALID:
		if ((in->mini_invalid != 0) != ru->mini_invalid)
			return 0;
		why_add(why, "mini_invalid", ru->mini_invalid ? "true" : "false");
		return 1;
	case RULE_C_FLAG:
		if ((s = flag_set(&ru->flag, in)) == NULL)
			return 0;
		why_add(why, "flag", s);
		return 1;
	case RULE_C_CHANNEL:
		if (t == NULL || !in_mask(ru->channel, (int)t->channel))
			return 0;
		why_add(why, "channel", ticket_channel_name(t->channel));
		return 1;
	case RULE_C_TIER:
		if (t == NULL || !in_mask(ru->tier, (int)t->tier))
			return 0;
		why_add(why, "tier", customer_tier_name(t->tier));
		return 1;
	case RULE_C_URGENCY:
		if (m == NULL || !in_mask(ru->urgency, (int)m->urgency))
			return 0;
		why_add(why, "urgency", urgency_name(m->urgency));
		return 1;
	case RULE_C_SENTIMENT:
		if (m == NULL || !in_mask(ru->sentiment, (int)m->sentiment))
			return 0;
		why_add(why, "sentiment", sentiment_name(m->sentiment));
		return 1;
	case RULE_C_CATEGORY:
		if (m == NULL || m->category == NULL ||
		    !rules_strlist_has(&ru->category, m->category))
			return 0;
		why_add(why, "category", m->category);
		return 1;
	case RULE_C_CONF_BELOW:
		if (m == NULL || !(m->confidence < ru->conf_below))
			return 0;
		snprintf(num, sizeof(num), "%g<%g", m->confidence, ru->conf_below);
		why_add(why, "confidence", num);
		return 1;
	case RULE_C_CONF_AT_LEAST:
		if (m == NULL || !(m->confidence >= ru->conf_at_least))
			return 0;
		snprintf(num, sizeof(num), "%g>=%g", m->confidence, ru->conf_at_least);
		why_add(why, "confidence", num);
		return 1;
	case RULE_C_LANG_IN:
		if (m == NULL || m->language == NULL || !lang_listed(&ru->lang_in, m->language))
			return 0;
		why_lang(why, m->language, "");
		return 1;
	case RULE_C_LANG_NOT_IN:
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
	case RULE_C_BODY_LONGER:
		if (t == NULL || t->body == NULL ||
		    (uint64_t)t->body_len <= (uint64_t)ru->body_longer_than)
			return 0;
		snprintf(num, sizeof(num), "%zu", t->body_len);
		why_add(why, "body_bytes", num);
		return 1;
	case RULE_C_KEYWORDS:
		if (in->text != NULL && cx->rule < in->text->n)
			s = t != NULL ? in->text->keyword[cx->rule] : NULL;
		else
			s = t != NULL ? first_keyword(&ru->keywords, cx) : NULL;
		if (s == NULL)
			return 0;
		why_add(why, "keyword", s);
		return 1;
	case RULE_C_REGEX:
		if (t == NULL)
			return 0;
		if (in->text != NULL && cx->rule < in->text->n) {
			/* keywords come first: text_ok is the regexes' answer here */
			if (!in->text->text_ok[cx->rule])
				return 0;
		} else {
			if (cx->text == NULL)
				cx->text = regex_text(t, in->regex_text_max);
			for (size_t i = 0; i < ru->nre; i++)
				if (regexec(&ru->re[i], cx->text, 0, NULL, 0) != 0)
					return 0;
		}
		for (size_t i = 0; i < ru->nre; i++)
			why_add(why, "regex", ru->re_src[i]);
		return 1;
	case RULE_C__COUNT:
		break;
	}
	return 0;
}

static int rule_match(const struct rule *ru, struct eval_ctx *cx, struct joiner *why)
{
	for (int c = 0; c < RULE_C__COUNT; c++)
		if ((ru->conds & (1u << c)) && !cond_match(ru, (enum rule_cond)c, cx, why))
			return 0;
	return 1;
}

void rules_eval(const struct rules *r, const struct rules_input *in, struct rules_decision *out)
{
	struct eval_ctx cx = {in, 0, NULL, NULL, 0, 0};
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
		cx.rule = i;
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

void rules_prepare_text(const struct rules *r, const struct rules_input *in,
			struct rules_text *out)
{
	struct rules_input live = *in;
	struct eval_ctx cx = {&live, 0, NULL, NULL, 0, 0};
	struct joiner why;
	char whybuf[256];

	memset(out, 0, sizeof(*out));
	if (r == NULL || r->n == 0)
		return;
	live.text = NULL; /* evaluate, do not read an older result */
	out->n = r->n;
	out->keyword = xcalloc(r->n, sizeof(*out->keyword));
	out->text_ok = xcalloc(r->n, 1);
	for (size_t i = 0; i < r->n; i++) {
		const struct rule *ru = r->v[i];
		int ok = 1;

		if (!ru->enabled || in->ticket == NULL)
			continue;
		cx.rule = i;
		join_init(&why, whybuf, sizeof(whybuf));
		/* in cond_match's order, so a failed keyword spares the regexes */
		if (ru->conds & (1u << RULE_C_KEYWORDS)) {
			out->keyword[i] = first_keyword(&ru->keywords, &cx);
			ok = out->keyword[i] != NULL;
		}
		if (ok && (ru->conds & (1u << RULE_C_REGEX)))
			ok = cond_match(ru, RULE_C_REGEX, &cx, &why);
		out->text_ok[i] = (unsigned char)ok;
	}
	free(cx.text);
	free(cx.lower);
}

void rules_text_release(struct rules_text *t, void (*put)(void *ctx, void *block), void *ctx)
{
	if (t == NULL)
		return;
	put(ctx, (void *)t->keyword);
	put(ctx, t->text_ok);
	memset(t, 0, sizeof(*t));
}

static void put_free(void *ctx, void *block)
{
	(void)ctx;
	free(block);
}

void rules_text_free(struct rules_text *t)
{
	rules_text_release(t, put_free, NULL);
}
