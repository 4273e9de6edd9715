/*
 * fuzz_rules: libFuzzer harness for the escalation rules (service/core/rules.c).
 * The input, as a C string, is compiled with rules_parse(); a set that
 * compiles is evaluated against a fixed ticket with and without a mini
 * answer, and the decision is checked against the contract in rules.h.
 * Built only once service/core/rules.c exists. Must not leak.
 */
#include <string.h>

#include "fuzz.h"
#include "rules.h"
#include "ticket.h"
#include "answer.h"

static const char ticket_json[] =
    "{\"ticket_id\":\"T-fuzz-1\",\"source\":\"fuzz\",\"channel\":\"email\","
    "\"subject\":\"Refund now or I call my lawyer\","
    "\"body\":\"I was charged twice, my account was hacked. Caf\\u00e9 \\ud83d\\ude00\","
    "\"customer\":{\"id\":\"C-1\",\"tier\":\"enterprise\"},\"language\":\"en\","
    "\"tags\":[\"vip\"]}";

/* Built once, kept for the life of the process (reachable: not a leak). */
static struct ticket *fixed_ticket;
static struct answer fixed_mini;

static void fixed_init(void)
{
	struct ticket_limits lim;
	char err[256] = "";

	if (fixed_ticket != NULL)
		return;
	ticket_limits_default(&lim);
	FUZZ_CHECK(ticket_parse(ticket_json, sizeof(ticket_json) - 1, NULL, 0, &lim, &fixed_ticket,
				err, sizeof(err)) == TICKET_OK);
	answer_init(&fixed_mini);
	fixed_mini.category = xstrdup("billing");
	fixed_mini.sentiment = SENT_VERY_NEGATIVE;
	fixed_mini.urgency = URG_HIGH;
	fixed_mini.confidence = 0.42;
	fixed_mini.language = xstrdup("en");
	fixed_mini.summary = xstrdup("Customer charged twice and threatens legal action.");
	fixed_mini.draft_reply = xstrdup("We are looking into it. The Support Team");
}

static void check_decision(const struct rules_decision *d)
{
	FUZZ_CHECK(d->action == RULE_NONE || d->action == RULE_ESCALATE ||
		   d->action == RULE_HUMAN_ONLY);
	FUZZ_CHECK(memchr(d->matched, '\0', sizeof(d->matched)) != NULL);
	FUZZ_CHECK(memchr(d->reasons, '\0', sizeof(d->reasons)) != NULL);
	FUZZ_CHECK(strcmp(rule_action_name(d->action), "") != 0);
	if (d->nmatched == 0) {
		FUZZ_CHECK(d->action == RULE_NONE);
		FUZZ_CHECK(d->priority == 0);
		FUZZ_CHECK(d->matched[0] == '\0');
	} else {
		FUZZ_CHECK(d->matched[0] != '\0');
	}
}

static void eval_checked(const struct rules *r, const struct rules_input *in)
{
	struct rules_decision d;

	memset(&d, 0x5a, sizeof(d)); /* rules_eval fills *out completely */
	rules_eval(r, in, &d);
	check_decision(&d);
	if (r == NULL || rules_count(r) == 0)
		FUZZ_CHECK(d.nmatched == 0);
	/* the text conditions evaluated beforehand (off the loop) decide the same */
	{
		struct rules_input pre = *in;
		struct rules_text rt;
		struct rules_decision d2;

		rules_prepare_text(r, in, &rt);
		pre.text = &rt;
		memset(&d2, 0x5a, sizeof(d2));
		rules_eval(r, &pre, &d2);
		FUZZ_CHECK(d2.action == d.action && d2.priority == d.priority &&
			   d2.nmatched == d.nmatched && strcmp(d2.matched, d.matched) == 0 &&
			   strcmp(d2.reasons, d.reasons) == 0);
		rules_text_free(&rt);
	}
}

int fuzz_rules_one(const uint8_t *data, size_t size)
{
	char err[512] = "", *text = fuzz_cstr(data, size);
	struct rules_input in;
	struct rules *r;

	fixed_init();
	r = rules_parse(text, "fuzz.rules", err, sizeof(err));
	if (r == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		goto out;
	}
	FUZZ_CHECK(rules_count(r) <= RULES_MAX_RULES);

	memset(&in, 0, sizeof(in));
	in.ticket = fixed_ticket;
	in.mini = &fixed_mini;
	in.flags[0] = "injection";
	in.nflags = size % 2;
	eval_checked(r, &in);

	in.mini = NULL;
	in.mini_invalid = 1;
	eval_checked(r, &in);

	in.ticket = NULL;
	eval_checked(r, &in);
out:
	rules_free(r);
	free(text);
	return 0;
}

#ifndef TRIAGED_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_rules_one(data, size);
}
#endif
