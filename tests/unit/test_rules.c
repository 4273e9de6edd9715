/*
 * Unit tests for rules: every condition matching and not matching, AND within
 * a rule, several rules (order, strongest action, max priority), stop,
 * enabled, a missing mini answer, the keyword matcher's word boundaries,
 * regexes, parse errors with file:line, limits, file loading, and the
 * shipped deploy/rules.conf on hand-made tickets.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"

#ifndef TRIAGED_SOURCE_DIR
#define TRIAGED_SOURCE_DIR "."
#endif

/*
 * One input, as data. NULL (or 0) fields take the defaults of env_build: a
 * plain English billing question by email from a standard-tier customer,
 * triaged by the mini as billing/neutral/normal with confidence 0.9.
 * hint "-" means no language hint.
 */
struct in_spec {
	const char *subject, *body, *channel, *tier, *hint;
	int no_mini, mini_invalid;
	const char *category, *sentiment, *urgency, *conf, *lang;
	const char *flags[RULES_MAX_FLAGS];
};

struct env {
	struct ticket t;
	struct answer m;
	struct rules_input in;
};

/* Builds in e from s; every string is borrowed from s (static data), nothing to free. */
static void env_build(struct env *e, const struct in_spec *s)
{
	memset(e, 0, sizeof(*e));
	e->t.ticket_id = (char *)"T-1";
	e->t.source = (char *)"default";
	e->t.subject = (char *)(s->subject ? s->subject : "Question about my invoice");
	e->t.body = (char *)(s->body ? s->body : "Hello, where can I download my invoice?");
	e->t.body_len = strlen(e->t.body);
	e->t.body_prompt_len = e->t.body_len;
	e->t.channel = CH_EMAIL;
	if (s->channel != NULL)
		ck_assert_int_eq(ticket_channel_parse(s->channel, &e->t.channel), 0);
	e->t.tier = TIER_STANDARD;
	if (s->tier != NULL && strcmp(s->tier, "none") == 0)
		e->t.tier = TIER_NONE;
	else if (s->tier != NULL)
		ck_assert_int_eq(customer_tier_parse(s->tier, &e->t.tier), 0);
	e->t.language = (char *)"en";
	if (s->hint != NULL)
		e->t.language = strcmp(s->hint, "-") == 0 ? NULL : (char *)s->hint;

	e->m.category = (char *)(s->category ? s->category : "billing");
	e->m.sentiment = SENT_NEUTRAL;
	if (s->sentiment != NULL)
		ck_assert_int_eq(sentiment_parse(s->sentiment, &e->m.sentiment), 0);
	e->m.urgency = URG_NORMAL;
	if (s->urgency != NULL)
		ck_assert_int_eq(urgency_parse(s->urgency, &e->m.urgency), 0);
	e->m.confidence = 0.9;
	if (s->conf != NULL)
		ck_assert_int_eq(parse_double(s->conf, 0, 1, &e->m.confidence), 0);
	e->m.language = (char *)(s->lang ? s->lang : "en");
	e->m.summary = (char *)"Customer asks where to download an invoice.";
	e->m.draft_reply = (char *)"Hello, you can download it from the billing page.";

	e->in.ticket = &e->t;
	e->in.mini = s->no_mini ? NULL : &e->m;
	e->in.mini_invalid = s->mini_invalid;
	for (size_t i = 0; i < RULES_MAX_FLAGS && s->flags[i] != NULL; i++)
		e->in.flags[e->in.nflags++] = s->flags[i];
}

static struct rules *parse_ok(const char *text)
{
	char err[512] = "";
	struct rules *r = rules_parse(text, "t.conf", err, sizeof(err));

	ck_assert_msg(r != NULL, "parse failed: %s", err);
	return r;
}

/* ---- evaluation, one rules text and one input per case ---- */

/* clang-format off */
#define R(cond) "[rule r]\n" cond "\naction = escalate\n"

static const struct eval_case {
	const char *rules;
	struct in_spec in;
	enum rule_action action;
	const char *matched;
	int priority;
	const char *reasons; /* NULL: not checked */
} eval_cases[] = {
	/* each condition, matching and not */
	{R("always = true"), {0}, RULE_ESCALATE, "r", 50, "always"},
	{R("urgency = critical"), {.urgency = "critical"}, RULE_ESCALATE, "r", 50,
	 "urgency=critical"},
	{R("urgency = critical"), {.urgency = "high"}, RULE_NONE, "", 0, ""},
	{R("urgency = high, critical"), {.urgency = "high"}, RULE_ESCALATE, "r", 50,
	 "urgency=high"},
	{R("urgency = High"), {.urgency = "high"}, RULE_ESCALATE, "r", 50, NULL},
	{R("sentiment = very_negative"), {.sentiment = "very_negative"}, RULE_ESCALATE, "r", 50,
	 "sentiment=very_negative"},
	{R("sentiment = very_negative"), {.sentiment = "negative"}, RULE_NONE, "", 0, ""},
	{R("category = security, legal"), {.category = "legal"}, RULE_ESCALATE, "r", 50,
	 "category=legal"},
	{R("category = security, legal"), {.category = "billing"}, RULE_NONE, "", 0, ""},
	{R("category = security"), {.category = "security_review"}, RULE_NONE, "", 0, ""},
	{R("tier = premium, enterprise"), {.tier = "enterprise"}, RULE_ESCALATE, "r", 50,
	 "tier=enterprise"},
	{R("tier = premium, enterprise"), {.tier = "standard"}, RULE_NONE, "", 0, ""},
	{R("tier = premium, enterprise"), {.tier = "none"}, RULE_NONE, "", 0, ""},
	{R("channel = chat"), {.channel = "chat"}, RULE_ESCALATE, "r", 50, "channel=chat"},
	{R("channel = chat"), {.channel = "email"}, RULE_NONE, "", 0, ""},
	{R("confidence_below = 0.6"), {.conf = "0.59"}, RULE_ESCALATE, "r", 50,
	 "confidence=0.59<0.6"},
	{R("confidence_below = 0.6"), {.conf = "0.6"}, RULE_NONE, "", 0, ""},
	{R("confidence_below = 0"), {.conf = "0"}, RULE_NONE, "", 0, ""},
	{R("confidence_at_least = 0.9"), {.conf = "0.9"}, RULE_ESCALATE, "r", 50,
	 "confidence=0.9>=0.9"},
	{R("confidence_at_least = 0.9"), {.conf = "0.89"}, RULE_NONE, "", 0, ""},
	{R("language_in = de, fr"), {.lang = "de"}, RULE_ESCALATE, "r", 50, "language=de"},
	{R("language_in = de, fr"), {.lang = "DE-at"}, RULE_ESCALATE, "r", 50, "language=DE-at"},
	{R("language_in = de, fr"), {.lang = "deu"}, RULE_NONE, "", 0, ""},
	{R("language_in = de, fr"), {.lang = "en"}, RULE_NONE, "", 0, ""},
	{R("language_in = pt-BR"), {.lang = "pt_br"}, RULE_ESCALATE, "r", 50, NULL},
	{R("language_in = pt-br"), {.lang = "pt"}, RULE_NONE, "", 0, ""},
	{R("language_not_in = en"), {.lang = "ja"}, RULE_ESCALATE, "r", 50, "language=ja"},
	{R("language_not_in = en"), {.lang = "en-US"}, RULE_NONE, "", 0, ""},
	{R("language_not_in = en"), {.lang = "EN"}, RULE_NONE, "", 0, ""},
	{R("language_not_in = en, de"), {.lang = "de"}, RULE_NONE, "", 0, ""},
	{R("mini_invalid = true"), {.mini_invalid = 1, .no_mini = 1}, RULE_ESCALATE, "r", 50,
	 "mini_invalid=true"},
	{R("mini_invalid = true"), {0}, RULE_NONE, "", 0, ""},
	{R("mini_invalid = false"), {0}, RULE_ESCALATE, "r", 50, "mini_invalid=false"},
	{R("mini_invalid = false"), {.mini_invalid = 1, .no_mini = 1}, RULE_NONE, "", 0, ""},
	{R("body_longer_than = 10"), {.body = "01234567890"}, RULE_ESCALATE, "r", 50,
	 "body_bytes=11"},
	{R("body_longer_than = 10"), {.body = "0123456789"}, RULE_NONE, "", 0, ""},
	{R("flag = injection, pii"), {.flags = {"pii"}}, RULE_ESCALATE, "r", 50, "flag=pii"},
	{R("flag = injection, pii"), {.flags = {"spam", "injection"}}, RULE_ESCALATE, "r", 50,
	 "flag=injection"},
	{R("flag = injection"), {.flags = {"spam"}}, RULE_NONE, "", 0, ""},
	{R("flag = injection"), {0}, RULE_NONE, "", 0, ""},

	/* keywords: case, word boundaries, blanks, subject, quoting, non-ASCII */
	{R("keywords = sue"), {.body = "I will sue you."}, RULE_ESCALATE, "r", 50, "keyword=sue"},
	{R("keywords = sue"), {.body = "There is an issue with my order."}, RULE_NONE, "", 0, ""},
	{R("keywords = sue"), {.body = "I will pursue this."}, RULE_NONE, "", 0, ""},
	{R("keywords = sue"), {.body = "We sued them."}, RULE_NONE, "", 0, ""},
	{R("keywords = sue"), {.body = "Sue me"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = sue"), {.body = "then I sue"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = sue"), {.body = "SUE"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = sue"), {.body = "sue_x"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = sue"), {.body = "x2sue"}, RULE_NONE, "", 0, ""},
	{R("keywords = \"legal action\""), {.body = "We are considering LEGAL ACTION now."},
	 RULE_ESCALATE, "r", 50, "keyword=legal action"},
	{R("keywords = \"legal action\""), {.body = "further Legal\n\t Action!"}, RULE_ESCALATE,
	 "r", 50, NULL},
	{R("keywords = \"legal action\""), {.body = "legal actions pending"}, RULE_NONE, "", 0,
	 ""},
	{R("keywords = \"legal action\""), {.body = "legalaction"}, RULE_NONE, "", 0, ""},
	{R("keywords = legal  action"), {.body = "a legal action"}, RULE_ESCALATE, "r", 50,
	 "keyword=legal action"},
	{R("keywords = refund"), {.subject = "Refund please", .body = "See subject."},
	 RULE_ESCALATE, "r", 50, "keyword=refund"},
	{R("keywords = \"refund, now\", zzz"), {.body = "refund, now or else"}, RULE_ESCALATE,
	 "r", 50, "keyword=refund, now"},
	{R("keywords = zzz, lawyer, attorney"), {.body = "my attorney and my lawyer"},
	 RULE_ESCALATE, "r", 50, "keyword=lawyer"},
	{R("keywords = Kündigung"), {.body = "Hiermit kündigung zum Monatsende."}, RULE_ESCALATE,
	 "r", 50, "keyword=kündigung"},
	{R("keywords = 返金"), {.body = "返金してください"}, RULE_ESCALATE, "r", 50,
	 "keyword=返金"},
	{R("keywords = sue"), {.body = "ésue"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = c++"), {.body = "my c++ code"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = c++"), {.body = "my c++11 code"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = c++"), {.body = "abc++"}, RULE_NONE, "", 0, ""},
	{R("keywords = sue"), {.subject = "is", .body = "sue"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = sue"), {.body = "an issue, so I sue"}, RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = \"legal action\""), {.body = "legal advice, then legal action"},
	 RULE_ESCALATE, "r", 50, NULL},
	{R("keywords = \"legal action\""), {.subject = "legal", .body = "action"}, RULE_NONE, "",
	 0, ""},

	/* regex: case-insensitive ERE on subject "\n" body; several must all match */
	{R("regex = \\b(chargeback|gdpr)\\b"), {.body = "A GDPR request"}, RULE_ESCALATE, "r",
	 50, "regex=\\b(chargeback|gdpr)\\b"},
	{R("regex = \\b(chargeback|gdpr)\\b"), {.body = "gdprx"}, RULE_NONE, "", 0, ""},
	{R("regex = ^urgent"), {.subject = "URGENT: help", .body = "now"}, RULE_ESCALATE, "r", 50,
	 NULL},
	{R("regex = ^urgent"), {.subject = "help", .body = "urgent"}, RULE_NONE, "", 0, ""},
	{R("regex = help.hello"), {.subject = "help", .body = "hello"}, RULE_ESCALATE, "r", 50,
	 NULL},
	{R("regex = invoice\nregex = download"), {0}, RULE_ESCALATE, "r", 50,
	 "regex=invoice, regex=download"},
	{R("regex = invoice\nregex = refund"), {0}, RULE_NONE, "", 0, ""},
	{R("regex = order [#][0-9]+  # a comment"), {.body = "order #123"}, RULE_ESCALATE, "r",
	 50, "regex=order [#][0-9]+"},
	{R("regex = \"order #[0-9]+\""), {.body = "order #123"}, RULE_ESCALATE, "r", 50, NULL},

	/* AND within a rule; generated reasons in evaluation order */
	{R("urgency = critical\ntier = premium"), {.urgency = "critical", .tier = "premium"},
	 RULE_ESCALATE, "r", 50, "tier=premium, urgency=critical"},
	{R("urgency = critical\ntier = premium"), {.urgency = "critical"}, RULE_NONE, "", 0, ""},
	{R("urgency = critical\ntier = premium"), {.tier = "premium"}, RULE_NONE, "", 0, ""},
	{R("keywords = invoice\nchannel = chat"), {0}, RULE_NONE, "", 0, ""},

	/* several rules: file order, strongest action, max priority, own reasons */
	{"[rule a]\nalways = true\naction = escalate\npriority = 10\nreason = ra\n"
	 "[rule b]\nalways = true\naction = human_only\npriority = 90\nreason = rb\n"
	 "[rule c]\nalways = true\naction = escalate\npriority = 40\nreason = rc\n",
	 {0}, RULE_HUMAN_ONLY, "a,b,c", 90, "ra; rb; rc"},
	{"[rule a]\nalways = true\naction = escalate\npriority = 10\n"
	 "[rule b]\nurgency = critical\naction = human_only\npriority = 90\n"
	 "[rule c]\ntier = standard\naction = escalate\npriority = 40\n",
	 {0}, RULE_ESCALATE, "a,c", 40, "always; tier=standard"},
	{"[rule a]\nalways = true\naction = none\n", {0}, RULE_NONE, "a", 50, "always"},
	{"[rule a]\nalways = true\naction = none\npriority = 0\n", {0}, RULE_NONE, "a", 0, NULL},
	{"[rule a]\nalways = true\naction = human_only\n[rule b]\nalways = true\naction = none\n",
	 {0}, RULE_HUMAN_ONLY, "a,b", 50, NULL},

	/* stop and enabled */
	{"[rule a]\nalways = true\naction = none\nstop = true\n"
	 "[rule b]\nalways = true\naction = human_only\n",
	 {0}, RULE_NONE, "a", 50, NULL},
	{"[rule a]\nurgency = critical\naction = none\nstop = true\n"
	 "[rule b]\nalways = true\naction = escalate\n",
	 {0}, RULE_ESCALATE, "b", 50, NULL},
	{"[rule a]\nalways = true\naction = escalate\n"
	 "[rule b]\nalways = true\naction = escalate\nstop = yes\n"
	 "[rule c]\nalways = true\naction = human_only\n",
	 {0}, RULE_ESCALATE, "a,b", 50, NULL},
	{"[rule a]\nalways = true\naction = human_only\nenabled = false\n"
	 "[rule b]\nalways = true\naction = escalate\n",
	 {0}, RULE_ESCALATE, "b", 50, NULL},
	{"[rule a]\nalways = true\naction = human_only\nenabled = false\nstop = true\n"
	 "[rule b]\nalways = true\naction = escalate\n",
	 {0}, RULE_ESCALATE, "b", 50, NULL},

	/* mini answer missing: its conditions do not match, except language_not_in (hint) */
	{R("urgency = normal"), {.no_mini = 1}, RULE_NONE, "", 0, ""},
	{R("sentiment = neutral"), {.no_mini = 1}, RULE_NONE, "", 0, ""},
	{R("category = billing"), {.no_mini = 1}, RULE_NONE, "", 0, ""},
	{R("confidence_below = 1"), {.no_mini = 1}, RULE_NONE, "", 0, ""},
	{R("confidence_at_least = 0"), {.no_mini = 1}, RULE_NONE, "", 0, ""},
	{R("language_in = en"), {.no_mini = 1}, RULE_NONE, "", 0, ""},
	{R("language_not_in = en"), {.no_mini = 1, .hint = "ja"}, RULE_ESCALATE, "r", 50,
	 "language=ja (hint)"},
	{R("language_not_in = en"), {.no_mini = 1, .hint = "en-GB"}, RULE_NONE, "", 0, ""},
	{R("language_not_in = en"), {.no_mini = 1, .hint = "-"}, RULE_NONE, "", 0, ""},
	{R("language_not_in = en"), {.lang = "en", .hint = "ja"}, RULE_NONE, "", 0, ""},
	{R("tier = standard\nkeywords = invoice"), {.no_mini = 1}, RULE_ESCALATE, "r", 50,
	 "tier=standard, keyword=invoice"},
};
/* clang-format on */

/* Names in a ","-separated list. */
static size_t count_names(const char *list)
{
	size_t n = *list != '\0';

	for (; *list; list++)
		n += *list == ',';
	return n;
}

START_TEST(test_eval)
{
	const struct eval_case *c = &eval_cases[_i];
	struct rules_decision d;
	struct rules *r = parse_ok(c->rules);
	struct env e;

	env_build(&e, &c->in);
	rules_eval(r, &e.in, &d);
	ck_assert_msg(d.action == c->action, "case %d (%s): action %s, want %s", _i, c->rules,
		      rule_action_name(d.action), rule_action_name(c->action));
	ck_assert_msg(strcmp(d.matched, c->matched) == 0, "case %d (%s): matched '%s', want '%s'",
		      _i, c->rules, d.matched, c->matched);
	ck_assert_msg(d.priority == c->priority, "case %d: priority %d, want %d", _i, d.priority,
		      c->priority);
	if (c->reasons != NULL)
		ck_assert_msg(strcmp(d.reasons, c->reasons) == 0,
			      "case %d (%s): reasons '%s', want '%s'", _i, c->rules, d.reasons,
			      c->reasons);
	ck_assert_uint_eq(d.nmatched, count_names(c->matched));
	/*
	 * The text conditions evaluated beforehand (off the loop, issue #16)
	 * give the same decision, reasons included.
	 */
	{
		struct rules_text rt;
		struct rules_decision d2;

		rules_prepare_text(r, &e.in, &rt);
		e.in.text = &rt;
		rules_eval(r, &e.in, &d2);
		e.in.text = NULL;
		ck_assert_msg(d2.action == d.action && d2.priority == d.priority &&
				  d2.nmatched == d.nmatched && strcmp(d2.matched, d.matched) == 0 &&
				  strcmp(d2.reasons, d.reasons) == 0,
			      "case %d (%s): prepared text gives '%s' '%s', live '%s' '%s'", _i,
			      c->rules, d2.matched, d2.reasons, d.matched, d.reasons);
		rules_text_free(&rt);
	}
	rules_free(r);
}
END_TEST

/* ---- parse errors: exact "file:line: message" ---- */

/* clang-format off */
static const struct err_case {
	const char *text;
	const char *err;
} err_cases[] = {
	{"action = escalate\n", "t.conf:1: key 'action' outside a [rule NAME] section"},
	{"# c\n\n[rule a]\nalways = true\naction = escalate\nurgncy = high\n",
	 "t.conf:6: unknown key 'urgncy'"},
	{"[rule a]\nalways = true\n", "t.conf:1: rule 'a' has no action (action = "
				      "none|escalate|human_only)"},
	{"[rule a]\nalways = true\n[rule b]\nalways = true\naction = none\n",
	 "t.conf:1: rule 'a' has no action (action = none|escalate|human_only)"},
	{"[rule a]\naction = escalate\n", "t.conf:1: rule 'a' has no condition (write 'always = "
					  "true' to match every ticket)"},
	{"[rule a]\naction = escalate\nreason = x\npriority = 3\nstop = true\n",
	 "t.conf:1: rule 'a' has no condition (write 'always = true' to match every ticket)"},
	{"[rule a]\nalways = true\naction = none\n\n[rule a]\n",
	 "t.conf:5: duplicate rule name 'a' (first defined at line 1)"},
	{"[rule Legal]\n", "t.conf:1: rule name 'Legal' must match [a-z0-9_]+ (at most 64 bytes)"},
	{"[rule legal threat]\n",
	 "t.conf:1: rule name 'legal threat' must match [a-z0-9_]+ (at most 64 bytes)"},
	{"[rule]\n", "t.conf:1: rule name '' must match [a-z0-9_]+ (at most 64 bytes)"},
	{"[rulex]\n", "t.conf:1: unknown section '[rulex]' (expected '[rule NAME]')"},
	{"[mini]\n", "t.conf:1: unknown section '[mini]' (expected '[rule NAME]')"},
	{"[rule a\n", "t.conf:1: malformed section header (expected '[rule NAME]')"},
	{"[rule a]\nalways\n", "t.conf:2: expected 'key = value'"},
	{"[rule a]\n = x\n", "t.conf:2: missing key before '='"},
	{"[rule a]\nalways = true\nalways = true\n",
	 "t.conf:3: duplicate key 'always' in rule 'a'"},
	{"[rule a]\nalways = false\n",
	 "t.conf:2: always: 'false' is not 'true' (to turn a rule off, use enabled = false)"},
	{"[rule a]\nurgency = urgent\n",
	 "t.conf:2: urgency: 'urgent' is not one of low, normal, high, critical"},
	{"[rule a]\nsentiment = angry\n", "t.conf:2: sentiment: 'angry' is not one of "
					  "very_negative, negative, neutral, positive"},
	{"[rule a]\ntier = premium, gold\n",
	 "t.conf:2: tier: 'gold' is not one of free, standard, premium, enterprise"},
	{"[rule a]\ntier = none\n",
	 "t.conf:2: tier: 'none' is not one of free, standard, premium, enterprise"},
	{"[rule a]\nchannel = fax\n",
	 "t.conf:2: channel: 'fax' is not one of email, chat, web, phone, social, api, other"},
	{"[rule a]\ncategory = Billing\n",
	 "t.conf:2: category: 'Billing' must match [a-z0-9_]+ (at most 64 bytes)"},
	{"[rule a]\ncategory = billing,,legal\n", "t.conf:2: category: empty entry"},
	{"[rule a]\ncategory =\n", "t.conf:2: category: empty list"},
	{"[rule a]\ncategory = # nothing\n", "t.conf:2: category: empty list"},
	{"[rule a]\nflag = pii-leak\n",
	 "t.conf:2: flag: 'pii-leak' must match [a-z0-9_]+ (at most 64 bytes)"},
	{"[rule a]\nconfidence_below = 1.5\n",
	 "t.conf:2: confidence_below: '1.5' is not a number in [0, 1]"},
	{"[rule a]\nconfidence_at_least = high\n",
	 "t.conf:2: confidence_at_least: 'high' is not a number in [0, 1]"},
	{"[rule a]\nlanguage_in = english!\n",
	 "t.conf:2: language_in: 'english!' is not a language tag (en, pt-br, ...)"},
	{"[rule a]\nlanguage_not_in = e\n",
	 "t.conf:2: language_not_in: 'e' is not a language tag (en, pt-br, ...)"},
	{"[rule a]\nkeywords = \"legal action, sue\n",
	 "t.conf:2: keywords: unbalanced double quote"},
	{"[rule a]\nkeywords = \"legal\" action\n",
	 "t.conf:2: keywords: expected ',' after a quoted entry"},
	{"[rule a]\nkeywords = legal \"action\"\n",
	 "t.conf:2: keywords: a double quote must enclose a whole entry"},
	{"[rule a]\nkeywords = \"  \"\n", "t.conf:2: keywords: empty entry"},
	{"[rule a]\nregex = (\n", "t.conf:2: regex: bad regex '(': Unmatched ( or \\("},
	{"[rule a]\nregex = [a\n",
	 "t.conf:2: regex: bad regex '[a': Unmatched [, [^, [:, [., or [=" },
	{"[rule a]\nregex =\n", "t.conf:2: regex: empty regex"},
	{"[rule a]\nregex = \"abc\n", "t.conf:2: regex: unbalanced double quote"},
	{"[rule a]\nmini_invalid = maybe\n",
	 "t.conf:2: mini_invalid: 'maybe' is not a boolean (true or false)"},
	{"[rule a]\nbody_longer_than = -1\n",
	 "t.conf:2: body_longer_than: '-1' is not a byte count (an integer >= 0)"},
	{"[rule a]\nbody_longer_than = 12k\n",
	 "t.conf:2: body_longer_than: '12k' is not a byte count (an integer >= 0)"},
	{"[rule a]\naction = escalate_now\n",
	 "t.conf:2: action: 'escalate_now' is not one of none, escalate, human_only"},
	{"[rule a]\nreason =\n", "t.conf:2: reason: must not be empty"},
	{"[rule a]\npriority = 101\n", "t.conf:2: priority: '101' is not an integer in [0, 100]"},
	{"[rule a]\npriority = high\n", "t.conf:2: priority: 'high' is not an integer in [0, 100]"},
	{"[rule a]\nstop = sometimes\n",
	 "t.conf:2: stop: 'sometimes' is not a boolean (true or false)"},
	{"[rule a]\nenabled = \n", "t.conf:2: enabled: '' is not a boolean (true or false)"},
	{"[rule a]\r\nalways = true\r\naction = none\r\n[rule a]\r\n",
	 "t.conf:4: duplicate rule name 'a' (first defined at line 1)"},
};
/* clang-format on */

START_TEST(test_parse_errors)
{
	char err[512] = "";
	struct rules *r = rules_parse(err_cases[_i].text, "t.conf", err, sizeof(err));

	ck_assert_msg(r == NULL, "case %d accepted", _i);
	ck_assert_msg(strcmp(err, err_cases[_i].err) == 0, "case %d:\n got  %s\n want %s", _i, err,
		      err_cases[_i].err);
}
END_TEST

START_TEST(test_parse_syntax)
{
	static const char text[] = "# leading comment\n"
				   "; also a comment\n"
				   "\n"
				   "   [ rule  a_1 ]   \n"
				   "  keywords = x, \"y, z\"   # trailing comment\n"
				   "action = ESCALATE\n"
				   "reason = \"costs # money\"\n"
				   "\n"
				   "[rule b]  # trailing comment\r\n"
				   "always = yes\r\n"
				   "action = human_only # comment\r\n"
				   "priority = \"7\"\r\n";
	struct rules_decision d;
	struct rules *r = parse_ok(text);
	struct in_spec s = {.body = "y, z"};
	struct env e;

	ck_assert_uint_eq(rules_count(r), 2);
	env_build(&e, &s);
	rules_eval(r, &e.in, &d);
	ck_assert_str_eq(d.matched, "a_1,b");
	ck_assert_str_eq(d.reasons, "costs # money; always");
	ck_assert_int_eq(d.action, RULE_HUMAN_ONLY);
	ck_assert_int_eq(d.priority, 50);
	ck_assert_uint_eq(d.nmatched, 2);
	rules_free(r);

	/* no trailing newline, NULL filename, empty and NULL text */
	r = rules_parse("[rule z]\nalways = 1\naction = none", NULL, NULL, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(rules_count(r), 1);
	rules_free(r);
	r = parse_ok("");
	ck_assert_uint_eq(rules_count(r), 0);
	rules_free(r);
	r = parse_ok("# only comments\n\n");
	ck_assert_uint_eq(rules_count(r), 0);
	rules_free(r);
	r = rules_parse(NULL, NULL, NULL, 0);
	ck_assert_ptr_nonnull(r);
	rules_free(r);
}
END_TEST

START_TEST(test_default_filename)
{
	char err[256] = "";

	ck_assert_ptr_null(rules_parse("x = y\n", NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "rules:1: key 'x' outside a [rule NAME] section");
	/* a tiny error buffer is filled, cut, and terminated */
	ck_assert_ptr_null(rules_parse("x = y\n", "t.conf", err, 8));
	ck_assert_str_eq(err, "t.conf:");
}
END_TEST

START_TEST(test_empty_and_null)
{
	struct rules_decision d;
	struct rules *r = parse_ok("");
	struct in_spec s = {0};
	struct env e;

	env_build(&e, &s);
	memset(&d, 0x5a, sizeof(d));
	rules_eval(r, &e.in, &d);
	ck_assert_int_eq(d.action, RULE_NONE);
	ck_assert_str_eq(d.matched, "");
	ck_assert_str_eq(d.reasons, "");
	ck_assert_int_eq(d.priority, 0);
	ck_assert_uint_eq(d.nmatched, 0);
	rules_free(r);

	memset(&d, 0x5a, sizeof(d));
	rules_eval(NULL, &e.in, &d);
	ck_assert_int_eq(d.action, RULE_NONE);
	ck_assert_str_eq(d.matched, "");
	ck_assert_uint_eq(rules_count(NULL), 0);
	rules_free(NULL);

	/* no ticket at all: ticket conditions do not match, flags and mini still do */
	r = parse_ok("[rule t]\nkeywords = x\naction = escalate\n"
		     "[rule u]\ntier = free\naction = escalate\n"
		     "[rule v]\nregex = .\naction = escalate\n"
		     "[rule w]\nbody_longer_than = 0\naction = escalate\n"
		     "[rule f]\nflag = injection\naction = human_only\n");
	e.in.ticket = NULL;
	e.in.flags[0] = "injection";
	e.in.nflags = 1;
	rules_eval(r, &e.in, &d);
	ck_assert_str_eq(d.matched, "f");
	ck_assert_int_eq(d.action, RULE_HUMAN_ONLY);
	rules_free(r);
}
END_TEST

START_TEST(test_action_names)
{
	ck_assert_str_eq(rule_action_name(RULE_NONE), "none");
	ck_assert_str_eq(rule_action_name(RULE_ESCALATE), "escalate");
	ck_assert_str_eq(rule_action_name(RULE_HUMAN_ONLY), "human_only");
	ck_assert_str_eq(rule_action_name((enum rule_action)7), "unknown");
}
END_TEST

/* ---- limits ---- */

/* n matching rules named "r" and the index, zero-padded to width digits. */
static char *many_rules(size_t n, int width)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < n; i++) {
		int rc = buf_appendf(&b, "[rule r%0*zu]\nalways = true\naction = escalate\n", width,
				     i);
		ck_assert_int_eq(rc, 0);
	}
	return buf_steal(&b);
}

START_TEST(test_limit_rules)
{
	char err[512] = "";
	char *text = many_rules(RULES_MAX_RULES, 1);
	struct rules *r = parse_ok(text);

	ck_assert_uint_eq(rules_count(r), RULES_MAX_RULES);
	rules_free(r);
	free(text);

	text = many_rules(RULES_MAX_RULES + 1, 1);
	ck_assert_ptr_null(rules_parse(text, "t.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "t.conf:769: more than 256 rules");
	free(text);
}
END_TEST

START_TEST(test_limit_matched_cut)
{
	/* 256 matching rules with 60-byte names overflow matched and reasons: cut, marked. */
	char *text = many_rules(RULES_MAX_RULES, 58);
	struct rules *r = parse_ok(text);
	struct rules_decision d;
	struct in_spec s = {0};
	struct env e;
	char first[128];
	size_t n;

	env_build(&e, &s);
	rules_eval(r, &e.in, &d);
	ck_assert_uint_eq(d.nmatched, RULES_MAX_RULES);
	ck_assert_int_eq(d.action, RULE_ESCALATE);
	n = strlen(d.matched);
	ck_assert_uint_lt(n, sizeof(d.matched));
	ck_assert_str_eq(d.matched + n - 4, ",...");
	snprintf(first, sizeof(first), "r%058d,r%058d,", 0, 1);
	ck_assert(strncmp(d.matched, first, strlen(first)) == 0);
	n = strlen(d.reasons);
	ck_assert_uint_lt(n, sizeof(d.reasons));
	ck_assert_str_eq(d.reasons + n - 5, "; ...");
	rules_free(r);
	free(text);
}
END_TEST

START_TEST(test_limit_lists)
{
	char err[512] = "";
	struct buf b;
	struct rules *r;

	/* 64 keywords are fine, 65 are not */
	buf_init(&b, SIZE_MAX);
	ck_assert_int_eq(buf_appendf(&b, "[rule a]\naction = escalate\nkeywords = k0"), 0);
	for (int i = 1; i < RULES_MAX_LIST; i++)
		ck_assert_int_eq(buf_appendf(&b, ", k%d", i), 0);
	r = parse_ok(b.data);
	rules_free(r);
	ck_assert_int_eq(buf_appendf(&b, ", k64\n"), 0);
	ck_assert_ptr_null(rules_parse(b.data, "t.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "t.conf:3: keywords: more than 64 entries");
	buf_cleanup(&b);

	/* 8 regexes are fine, 9 are not */
	buf_init(&b, SIZE_MAX);
	ck_assert_int_eq(buf_appendf(&b, "[rule a]\naction = escalate\n"), 0);
	for (int i = 0; i < RULES_MAX_REGEX; i++)
		ck_assert_int_eq(buf_appendf(&b, "regex = a\n"), 0);
	r = parse_ok(b.data);
	rules_free(r);
	ck_assert_int_eq(buf_appendf(&b, "regex = b\n"), 0);
	ck_assert_ptr_null(rules_parse(b.data, "t.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "t.conf:11: regex: more than 8 regex keys in one rule");
	buf_cleanup(&b);
}
END_TEST

START_TEST(test_limit_line)
{
	char err[512] = "";
	struct buf b;
	struct rules *r;
	const char *head = "[rule a]\naction = escalate\nreason = ";
	size_t pad = RULES_MAX_LINE - strlen("reason = ");

	/* a 4096-byte line is read (and then refused for its content), 4097 is not */
	buf_init(&b, SIZE_MAX);
	ck_assert_int_eq(buf_appendf(&b, "%s", head), 0);
	for (size_t i = 0; i < pad; i++)
		ck_assert_int_eq(buf_append(&b, "x", 1), 0);
	ck_assert_ptr_null(rules_parse(b.data, "t.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "t.conf:3: reason: must be one line of at most 200 bytes");
	ck_assert_int_eq(buf_append(&b, "x\n", 2), 0);
	ck_assert_ptr_null(rules_parse(b.data, "t.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "t.conf:3: line longer than 4096 bytes");
	buf_cleanup(&b);

	/* a 4096-byte regex line compiles */
	buf_init(&b, SIZE_MAX);
	ck_assert_int_eq(buf_appendf(&b, "[rule a]\naction = escalate\nregex = "), 0);
	for (size_t i = 0; i < RULES_MAX_LINE - strlen("regex = "); i++)
		ck_assert_int_eq(buf_append(&b, "a", 1), 0);
	ck_assert_int_eq(buf_append(&b, "\r\n", 2), 0);
	r = parse_ok(b.data);
	rules_free(r);
	buf_cleanup(&b);
}
END_TEST

/* ---- files ---- */

static char *write_tmp(const char *content, size_t len)
{
	char *path = xstrdup("/tmp/test_rules.XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(test_load_file)
{
	static const char good[] = "[rule a]\nalways = true\naction = escalate\n";
	static const char bad[] = "[rule a]\nalways = true\naction = escalate\nfoo = 1\n";
	static const char nul[] = "[rule a]\nalways = true\0\naction = escalate\n";
	char err[512] = "", want[600];
	struct rules *r;
	char *path;

	ck_assert_ptr_null(rules_load_file("/nonexistent/rules.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/rules.conf: cannot open: No such file or directory");

	path = write_tmp(good, sizeof(good) - 1);
	r = rules_load_file(path, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(rules_count(r), 1);
	rules_free(r);
	unlink(path);
	free(path);

	path = write_tmp(bad, sizeof(bad) - 1);
	ck_assert_ptr_null(rules_load_file(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:4: unknown key 'foo'", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	free(path);

	path = write_tmp(nul, sizeof(nul) - 1);
	ck_assert_ptr_null(rules_load_file(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: contains a NUL byte", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	free(path);

	path = write_tmp("", 0);
	r = rules_load_file(path, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(rules_count(r), 0);
	rules_free(r);
	unlink(path);
	free(path);

	ck_assert_ptr_null(rules_load_file("/tmp", err, sizeof(err)));
	ck_assert_str_eq(err, "/tmp: read error: Is a directory");
}
END_TEST

START_TEST(test_load_file_too_large)
{
	char err[512] = "", want[600];
	size_t n = RULES_MAX_FILE + 1;
	char *big = xmalloc(n);
	char *path;

	memset(big, '#', n);
	path = write_tmp(big, n);
	ck_assert_ptr_null(rules_load_file(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: larger than %d bytes", path, RULES_MAX_FILE);
	ck_assert_str_eq(err, want);
	unlink(path);
	free(path);
	free(big);
}
END_TEST

/* ---- the shipped deploy/rules.conf ---- */

/* clang-format off */
static const struct shipped_case {
	const char *what;
	struct in_spec in;
	enum rule_action action;
	const char *matched;
	int priority;
} shipped_cases[] = {
	{"plain question", {0}, RULE_NONE, "", 0},
	{"injection", {.flags = {"injection"}}, RULE_HUMAN_ONLY, "injection", 95},
	{"injection and critical",
	 {.flags = {"injection"}, .urgency = "critical"},
	 RULE_HUMAN_ONLY, "injection,critical", 95},
	{"security category", {.category = "security"}, RULE_ESCALATE,
	 "security_or_legal_category", 85},
	{"account hacked", {.subject = "Account HACKED", .body = "Someone changed my email."},
	 RULE_ESCALATE, "security_incident", 85},
	{"gdpr erasure", {.body = "Under GDPR I request the right to be forgotten."},
	 RULE_ESCALATE, "data_protection", 85},
	{"legal threat", {.body = "If this is not fixed I will sue."}, RULE_ESCALATE,
	 "legal_threat", 80},
	{"issue is not sue", {.body = "There is an issue, please pursue it."}, RULE_NONE, "", 0},
	{"critical", {.urgency = "critical"}, RULE_ESCALATE, "critical", 70},
	{"angry enterprise", {.sentiment = "very_negative", .tier = "enterprise"}, RULE_ESCALATE,
	 "angry_premium", 60},
	{"angry free", {.sentiment = "very_negative", .tier = "free"}, RULE_NONE, "", 0},
	{"mini invalid",
	 {.no_mini = 1, .mini_invalid = 1},
	 RULE_ESCALATE, "invalid_mini", 50},
	{"mini invalid, japanese hint",
	 {.no_mini = 1, .mini_invalid = 1, .hint = "ja"},
	 RULE_ESCALATE, "invalid_mini,non_english", 50},
	{"unsure", {.conf = "0.42"}, RULE_ESCALATE, "low_confidence", 40},
	{"sure enough", {.conf = "0.6"}, RULE_NONE, "", 0},
	{"german", {.lang = "de"}, RULE_ESCALATE, "non_english", 30},
	{"british", {.lang = "en-GB"}, RULE_NONE, "", 0},
	{"chargeback rule is disabled", {.body = "I filed a chargeback."}, RULE_NONE, "", 0},
	{"several",
	 {.category = "legal", .urgency = "critical", .body = "My lawyer calls.", .conf = "0.5"},
	 RULE_ESCALATE, "security_or_legal_category,legal_threat,critical,low_confidence", 85},
};
/* clang-format on */

START_TEST(test_shipped_rules)
{
	const struct shipped_case *c = &shipped_cases[_i];
	char err[512] = "";
	struct rules *r =
		rules_load_file(TRIAGED_SOURCE_DIR "/deploy/rules.conf", err, sizeof(err));
	struct rules_decision d;
	struct env e;

	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(rules_count(r), 12);
	env_build(&e, &c->in);
	rules_eval(r, &e.in, &d);
	ck_assert_msg(d.action == c->action && strcmp(d.matched, c->matched) == 0 &&
			      d.priority == c->priority,
		      "%s: got %s '%s' %d (%s), want %s '%s' %d", c->what,
		      rule_action_name(d.action), d.matched, d.priority, d.reasons,
		      rule_action_name(c->action), c->matched, c->priority);
	rules_free(r);
}
END_TEST

START_TEST(test_shipped_long_body)
{
	char err[512] = "";
	struct rules *r =
		rules_load_file(TRIAGED_SOURCE_DIR "/deploy/rules.conf", err, sizeof(err));
	char *body = xmalloc(12002);
	struct rules_decision d;
	struct in_spec s = {0};
	struct env e;

	ck_assert_msg(r != NULL, "%s", err);
	for (size_t i = 0; i < 12001; i++)
		body[i] = i % 6 == 5 ? ' ' : 'a';
	body[12001] = '\0';
	s.body = body;
	env_build(&e, &s);
	rules_eval(r, &e.in, &d);
	ck_assert_str_eq(d.matched, "long_body");
	ck_assert_str_eq(d.reasons, "very long ticket");
	body[12000] = '\0';
	env_build(&e, &s);
	rules_eval(r, &e.in, &d);
	ck_assert_str_eq(d.matched, "");
	rules_free(r);
	free(body);
}
END_TEST

/*
 * Found by tests/fuzz/fuzz_rules.c: glibc's regcomp() took gigabytes for
 * "a" and 80 '+' (it copies the operand of every repetition) and minutes for
 * "\b(x *****)****" (a repeated operand that can match empty, next to an
 * anchor). Such regexes are now refused before regcomp() sees them.
 */
START_TEST(test_regex_too_costly)
{
	static const struct {
		const char *re, *why; /* why NULL: accepted */
	} cases[] = {
		{"((a{100}){100}){100}", "too complex: its repetitions expand to too many nodes"},
		{"((((((((((((x+)+)+)+)+)+)+)+)+)+)+)+)+",
		 "too complex: its repetitions expand to too many nodes"},
		{"b{3000}", "too complex: its repetitions expand to too many nodes"},
		{"x{1,99999999999999999999}", "too complex: its repetitions expand to too many nodes"},
		{"\\b(a*)*\\b", "repeats something that can match the empty string"},
		{"x**", "repeats something that can match the empty string"},
		{"(a|)+", "repeats something that can match the empty string"},
		{"(\\b){2}", "repeats something that can match the empty string"},
		{"(((((((((((((((((a)))))))))))))))))", "groups nest too deeply"},
		{"[0-9]{13,19}", NULL},
		{".{0,65}", NULL}, /* 64 extra copies of '.': the most one regex may keep alive */
		{".{0,66}", "too costly to scan: its counted repetitions make more than 64 extra copies of '.', [...] or \\w"},
		{".{0,400}zq", "too costly to scan: its counted repetitions make more than 64 extra copies of '.', [...] or \\w"}, /* 1.1 s per 256 KiB body before the cap */
		{"[a-z]{1,100}", "too costly to scan: its counted repetitions make more than 64 extra copies of '.', [...] or \\w"},
		{"(\\w+ ){40}", "too costly to scan: its counted repetitions make more than 64 extra copies of '.', [...] or \\w"},
		{"(.{0,10}x){0,20}", "too costly to scan: its counted repetitions make more than 64 extra copies of '.', [...] or \\w"},
		{".{0,32}a.{0,32}", NULL},
		{"([0-9]{4}[ -]?){3}[0-9]{4}", NULL},
		{"(.+)\\1\\1", "back-references (\\1 to \\9) make matching backtrack: too slow on long tickets"}, /* over a minute on 256 KiB */
		{"([a-z]+) \\9", "back-references (\\1 to \\9) make matching backtrack: too slow on long tickets"},
		{"\\\\1", NULL}, /* an escaped backslash and a '1' */
		{"[\\1]", NULL},   /* a bracket, not a back-reference */
		{"(a{20}){20}", NULL},
		{"a{400}", NULL},
		{"(a?)?", NULL},
		{"a*?", NULL},
		{"( ?[0-9]{4}){3}", NULL},
		{"[]*(]+", NULL},
		{"x\\+[{]", NULL},
		{"\\b(charge ?back|disputed? (the|a|this) (charge|payment))\\b", NULL},
	};
	char text[256], err[512], want[512], plus[81];

	memset(plus, '+', 80);
	plus[80] = '\0';
	snprintf(text, sizeof(text), "[rule a]\nregex = a%s\naction = escalate\n", plus);
	ck_assert_ptr_null(rules_parse(text, "t.conf", err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "t.conf:2: regex: bad regex 'a%.79s': too complex: its repetitions expand to "
		 "too many nodes",
		 plus);
	ck_assert_str_eq(err, want);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "[rule a]\nregex = %s\naction = escalate\n",
			 cases[i].re);
		if (cases[i].why == NULL) {
			rules_free(parse_ok(text));
			continue;
		}
		snprintf(want, sizeof(want), "t.conf:2: regex: bad regex '%s': %s", cases[i].re,
			 cases[i].why);
		err[0] = '\0';
		ck_assert_msg(rules_parse(text, "t.conf", err, sizeof(err)) == NULL, "%s accepted",
			      cases[i].re);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

/*
 * The regexes together: every regex counts 1 plus its class copies, at most
 * 128 in a file, disabled rules included (a reload may enable them).
 */
START_TEST(test_regex_scan_budget)
{
	struct buf b;
	char err[512] = "";
	struct rules *r;
	int line = 0;

	/* 2 rules of 8 regexes of 1 + 7 class copies: exactly 128 */
	buf_init(&b, SIZE_MAX);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(buf_appendf(&b, "[rule r%d]\naction = escalate\nenabled = false\n",
					     i), 0);
		line += 3;
		for (int k = 0; k < RULES_MAX_REGEX; k++, line++)
			ck_assert_int_eq(buf_appendf(&b, "regex = a.{0,8}%d\n", k), 0);
	}
	r = parse_ok(b.data);
	ck_assert_uint_eq(rules_count(r), 2);
	rules_free(r);
	/* one more plain regex is one too many, reported at its line */
	ck_assert_int_eq(buf_appendf(&b, "[rule last]\naction = escalate\nregex = refund\n"), 0);
	line += 3;
	ck_assert_ptr_null(rules_parse(b.data, "t.conf", err, sizeof(err)));
	{
		char want[512];
		snprintf(want, sizeof(want),
			 "t.conf:%d: regex: the file's regexes together are too costly to scan "
			 "(each counts 1 plus its class copies; at most 128 in all)",
			 line);
		ck_assert_str_eq(err, want);
	}
	buf_cleanup(&b);

	/* 128 plain regexes are fine (16 rules of 8) */
	buf_init(&b, SIZE_MAX);
	for (int i = 0; i < 16; i++) {
		ck_assert_int_eq(buf_appendf(&b, "[rule p%d]\naction = escalate\n", i), 0);
		for (int k = 0; k < RULES_MAX_REGEX; k++)
			ck_assert_int_eq(buf_appendf(&b, "regex = w%dx%d\n", i, k), 0);
	}
	rules_free(parse_ok(b.data));
	buf_cleanup(&b);
}
END_TEST

/* Evaluate one regex rule against subject/body with cap max; 1 if it matched. */
static int regex_matches(const char *re, const char *subject, const char *body, size_t max)
{
	char text[512];
	struct rules *r;
	struct rules_decision d;
	struct in_spec s = {0};
	struct env e;

	snprintf(text, sizeof(text), "[rule r]\naction = escalate\nregex = %s\n", re);
	r = parse_ok(text);
	s.subject = subject;
	s.body = body;
	env_build(&e, &s);
	e.in.regex_text_max = max;
	rules_eval(r, &e.in, &d);
	rules_free(r);
	return d.nmatched == 1 && d.action == RULE_ESCALATE;
}

/*
 * The regexes see at most regex_text_max bytes of the subject and of the
 * body (0: RULES_REGEX_TEXT_DEFAULT), cut on a UTF-8 boundary; keywords and
 * body_longer_than still see the whole body.
 */
START_TEST(test_regex_text_cap)
{
	const size_t def = RULES_REGEX_TEXT_DEFAULT;
	char *body = xmalloc(3 * def + 64), *subject = xmalloc(def + 64);
	struct rules *r;
	struct rules_decision d;
	struct in_spec s = {0};
	struct env e;

	ck_assert_uint_eq(def, 4096);
	/* "chargeback" ending exactly at the cap is seen; one byte later it is not */
	memset(body, 'x', 3 * def);
	memcpy(body + def - 10, "chargeback", 10);
	body[def] = '\0';
	ck_assert(regex_matches("chargeback", "s", body, 0));
	body[def] = 'x';
	body[3 * def] = '\0';
	ck_assert(regex_matches("chargeback", "s", body, 0));
	memset(body + def - 10, 'x', 10);
	memcpy(body + def - 9, "chargeback", 10);
	ck_assert(!regex_matches("chargeback", "s", body, 0));
	ck_assert(!regex_matches("chargeback", "s", body, def));
	ck_assert(regex_matches("chargeback", "s", body, def + 1));
	ck_assert(regex_matches("chargeback", "s", body, SIZE_MAX));
	/* the end of the text is the cut */
	ck_assert(regex_matches("xchargebac$", "s", body, 0));
	ck_assert(!regex_matches("chargeback$", "s", body, 0));
	/* a small cap */
	ck_assert(regex_matches("^s.xxxxxxxx$", "s", body, 8));
	ck_assert(!regex_matches("^s.xxxxxxxxx", "s", body, 8));

	/* the subject has its own cap; the "\n" and the body follow it */
	memset(subject, 'y', def + 10);
	memcpy(subject + def + 2, "refund", 6);
	subject[def + 10] = '\0';
	ck_assert(!regex_matches("refund", subject, "b", 0));
	ck_assert(regex_matches("refund", subject, "b", SIZE_MAX));
	ck_assert(regex_matches("y.b$", subject, "b", 0));

	/* cut on a UTF-8 boundary: a 2-byte e-acute straddling the cap goes whole */
	memset(body, 'a', def - 1);
	memcpy(body + def - 1, "\xc3\xa9", 2);
	body[def + 1] = '\0';
	ck_assert(regex_matches("a$", "s", body, 0));
	ck_assert(regex_matches("a\xc3\xa9$", "s", body, def + 1));

	/* keywords and body_longer_than still see it all */
	memset(body, 'x', 3 * def);
	memcpy(body + 2 * def, " lawyer ", 8);
	body[3 * def] = '\0';
	r = parse_ok("[rule k]\naction = escalate\nkeywords = lawyer\n"
		     "[rule l]\naction = escalate\nbody_longer_than = 12000\n"
		     "[rule x]\naction = escalate\nregex = lawyer\n");
	s.body = body;
	env_build(&e, &s);
	rules_eval(r, &e.in, &d);
	ck_assert_str_eq(d.matched, "k,l");
	e.in.regex_text_max = SIZE_MAX;
	rules_eval(r, &e.in, &d);
	ck_assert_str_eq(d.matched, "k,l,x");
	rules_free(r);
	free(body);
	free(subject);
}
END_TEST

/*
 * The keyword matcher against a plain reference, on random texts and lists:
 * the reference tries each keyword in list order at every position (a space
 * in a keyword matches a run of blanks; a keyword that begins or ends with a
 * letter or digit needs a boundary there; subject and body apart). The
 * matcher scans a text of up to 2 KiB once with the keywords bucketed by
 * first byte (issue #15), a longer one with a memmem per keyword; one input
 * in ten has a body over 2 KiB, so both ways run, and a short subject's
 * finding carries into a long body's search. Both must name the same keyword
 * on every input.
 */
static int ref_word(int c)
{
	return c >= 0 && c < 0x80 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				      (c >= '0' && c <= '9'));
}

static int ref_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int ref_low(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int ref_found(const char *t, const char *kw)
{
	size_t tl = strlen(t), kl = strlen(kw);

	for (size_t i = 0; i < tl; i++) {
		size_t p = i;
		const char *k = kw;

		if (ref_word((unsigned char)kw[0]) && i > 0 && ref_word((unsigned char)t[i - 1]))
			continue;
		for (; *k != '\0'; k++) {
			if (*k == ' ') {
				if (p == tl || !ref_blank((unsigned char)t[p]))
					break;
				while (p < tl && ref_blank((unsigned char)t[p]))
					p++;
			} else if (p == tl || ref_low((unsigned char)t[p]) != (unsigned char)*k) {
				break;
			} else {
				p++;
			}
		}
		if (*k != '\0')
			continue;
		if (ref_word((unsigned char)kw[kl - 1]) && p < tl && ref_word((unsigned char)t[p]))
			continue;
		return 1;
	}
	return 0;
}

static unsigned rnd_state = 12345;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* A random string of len bytes from set (which may hold multi-byte UTF-8 pieces). */
static void rnd_text(char *out, size_t len, const char *const *set, size_t nset)
{
	size_t o = 0;

	while (o < len) {
		const char *piece = set[rnd(nset)];
		size_t pl = strlen(piece);

		if (o + pl > len)
			break;
		memcpy(out + o, piece, pl);
		o += pl;
	}
	out[o] = '\0';
}

START_TEST(test_keyword_differential)
{
	static const char *const text_set[] = {"a", "b", "s", "u", "e", "A", "S", "E", "1", " ",
					       " ",  "\t", "\n", ".", "-", "\xc3\xa9", "$", "su",
					       "sue", "ab"};
	static const char *const kw_set[] = {"a", "b", "s", "u", "e", "1", "\xc3\xa9", "$", "-"};
	size_t found = 0, missed = 0, long_found = 0, long_missed = 0;
	static char body[2700];

	for (int iter = 0; iter < 20000; iter++) {
		char kws[8][16], subject[24], conf[512];
		int is_long = iter % 10 == 9;
		size_t nk = 1 + rnd(8), o;
		const char *want = NULL;
		struct rules *r;
		struct env e;
		struct in_spec spec;
		struct rules_text rt;

		o = (size_t)snprintf(conf, sizeof(conf), "[rule r]\nkeywords = ");
		for (size_t k = 0; k < nk; k++) {
			size_t words = 1 + rnd(3), kl = 0;

			for (size_t w = 0; w < words; w++) {
				char word[8];

				rnd_text(word, 1 + rnd(3), kw_set, ARRAY_SIZE(kw_set));
				if (word[0] == '\0')
					strcpy(word, "s");
				kl += (size_t)snprintf(kws[k] + kl, sizeof(kws[k]) - kl, "%s%s",
						       w > 0 ? " " : "", word);
			}
			o += (size_t)snprintf(conf + o, sizeof(conf) - o, "%s\"%s\"", k > 0 ? ", " : "",
					      kws[k]);
		}
		snprintf(conf + o, sizeof(conf) - o, "\naction = escalate\n");
		rnd_text(subject, rnd(sizeof(subject)), text_set, ARRAY_SIZE(text_set));
		rnd_text(body, is_long ? 2049 + rnd(600) : rnd(96), text_set, ARRAY_SIZE(text_set));
		for (size_t k = 0; k < nk && want == NULL; k++)
			if (ref_found(subject, kws[k]) || ref_found(body, kws[k]))
				want = kws[k];

		r = parse_ok(conf);
		memset(&spec, 0, sizeof(spec));
		spec.subject = subject;
		spec.body = body;
		env_build(&e, &spec);
		rules_prepare_text(r, &e.in, &rt);
		ck_assert_uint_eq(rt.n, 1);
		ck_assert_msg((want == NULL && rt.keyword[0] == NULL) ||
				  (want != NULL && rt.keyword[0] != NULL && strcmp(want, rt.keyword[0]) == 0),
			      "iteration %d: rules %s subject '%s' body '%s': matcher '%s', reference '%s'",
			      iter, conf, subject, body, rt.keyword[0] ? rt.keyword[0] : "(none)",
			      want ? want : "(none)");
		if (want != NULL)
			found++;
		else
			missed++;
		if (is_long && want != NULL)
			long_found++;
		else if (is_long)
			long_missed++;
		rules_text_free(&rt);
		rules_free(r);
	}
	/* both outcomes well represented, or the comparison proves little */
	ck_assert_uint_gt(found, 4000);
	ck_assert_uint_gt(missed, 4000);
	/* the long bodies: mostly found (random text is rich in short keywords), some not */
	ck_assert_uint_gt(long_found, 100);
	ck_assert_uint_gt(long_missed, 20);
}
END_TEST

static Suite *rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_eval, 0, (int)ARRAY_SIZE(eval_cases));
	tcase_add_loop_test(tc, test_parse_errors, 0, (int)ARRAY_SIZE(err_cases));
	tcase_add_test(tc, test_parse_syntax);
	tcase_add_test(tc, test_default_filename);
	tcase_add_test(tc, test_empty_and_null);
	tcase_add_test(tc, test_action_names);
	tcase_add_test(tc, test_limit_rules);
	tcase_add_test(tc, test_limit_matched_cut);
	tcase_add_test(tc, test_limit_lists);
	tcase_add_test(tc, test_limit_line);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_file_too_large);
	tcase_add_loop_test(tc, test_shipped_rules, 0, (int)ARRAY_SIZE(shipped_cases));
	tcase_add_test(tc, test_shipped_long_body);
	tcase_add_test(tc, test_regex_too_costly);
	tcase_add_test(tc, test_keyword_differential);
	tcase_add_test(tc, test_regex_scan_budget);
	tcase_add_test(tc, test_regex_text_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rules_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
