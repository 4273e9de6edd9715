/*
 * Unit tests for policy: one table row per rule firing and not firing
 * (blank, length bounds, links and e-mail hosts against the allowlist,
 * leftover placeholders, system prompt windows, refund promises and the
 * categories allowed to make them), reasons joined in order, the reason
 * text cut at a UTF-8 boundary, and the defaults. The prebuilt prompt index
 * (policy_prompt_new, policy_check_draft_ix) must give what
 * policy_check_draft gives, reason text included.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "draft_check.h"
#include "ticket.h"

static const char *const allow[] = {"example.com", "*.help.example.org", ".Docs.Example.NET"};
static const char *const refund_cats[] = {"refunds", "billing_dispute"};

/* From prompts/triage-v1.prompt: the kind of text a draft must not echo. */
static const char sysprompt[] =
	"You are the triage assistant of a customer-support team. For one support ticket you "
	"choose the queue and the priority, and you draft a first reply that a human agent will "
	"review before sending.\n\n"
	"- never promise a refund, credit, discount, compensation or deadline, and never claim "
	"that something was already done: say the team will look into it;\n"
	"- end with the sign-off \"The Support Team\", in those words.";

#define OK_TEXT "Thank you for reaching out. Our team will look into it and get back to you."

static void test_policy_init(struct draft_policy *p)
{
	draft_policy_default(p);
	p->link_allow = allow;
	p->nlink_allow = ARRAY_SIZE(allow);
	p->refund_categories = refund_cats;
	p->nrefund_categories = ARRAY_SIZE(refund_cats);
	p->max_len = 400;
}

struct pcase {
	const char *name;
	const char *draft;
	const char *category;
	const char *why; /* exact; "" when it passes */
};

static const struct pcase cases[] = {
	{"passes", OK_TEXT "\n\nThe Support Team", "technical", ""},
	/* blank and length */
	{"empty", "", NULL, "blank draft"},
	{"whitespace only", "  \n\t \r\n", NULL, "blank draft"},
	{"too short", "Thanks, will check.", NULL, "too short: 19 bytes (min 20)"},
	{"exactly min", "Thanks, we'll check.", NULL, ""},
	{"invalid UTF-8", OK_TEXT " caf\xc3\x28", NULL, "not valid UTF-8"},
	/* links */
	{"https to a host not allowed", "Please reset it at https://evil.example.net/reset today.",
	 NULL, "link to a host not allowed: evil.example.net"},
	{"http to an allowed subdomain", OK_TEXT " See http://help.example.com/articles/12.", NULL,
	 ""},
	{"allowed host itself, upper case", OK_TEXT " See HTTPS://EXAMPLE.COM/.", NULL, ""},
	{"allowed with *. prefix", OK_TEXT " See https://kb.help.example.org and help.example.org.",
	 NULL, ""},
	{"allowed with . prefix", OK_TEXT " See https://docs.example.net/a.", NULL, ""},
	{"not a suffix on a label boundary", OK_TEXT " See https://badexample.com/x", NULL,
	 "link to a host not allowed: badexample.com"},
	{"allowed name as a subdomain of another", OK_TEXT " https://example.com.evil.io/", NULL,
	 "link to a host not allowed: example.com.evil.io"},
	{"user info before the host", OK_TEXT " https://example.com@evil.io/login", NULL,
	 "link to a host not allowed: evil.io"},
	{"port", OK_TEXT " http://evil.io:8080/x", NULL, "link to a host not allowed: evil.io"},
	{"IP address", OK_TEXT " http://192.168.0.1/admin", NULL,
	 "link to a host not allowed: 192.168.0.1"},
	{"redirect in the path", OK_TEXT " https://example.com/out?to=evil.io/x", NULL,
	 "link to a host not allowed: evil.io"},
	{"no host", OK_TEXT " file:///etc/passwd", NULL, "link without a host"},
	{"www", OK_TEXT " Visit www.evil-site.net.", NULL,
	 "link to a host not allowed: www.evil-site.net"},
	{"www with an unknown tld", OK_TEXT " Visit www.intranet today.", NULL,
	 "link to a host not allowed: www.intranet"},
	{"bare domain", OK_TEXT " Go to paypal-login.com now.", NULL,
	 "link to a host not allowed: paypal-login.com"},
	{"bare domain upper case", OK_TEXT " Go to PAYPAL-LOGIN.COM now.", NULL,
	 "link to a host not allowed: paypal-login.com"},
	{"bare domain allowed", OK_TEXT " Our site example.com has more.", NULL, ""},
	{"same host once", OK_TEXT " evil.io, https://EVIL.IO and evil.io.", NULL,
	 "link to a host not allowed: evil.io"},
	{"two hosts", OK_TEXT " evil.io or https://bad.co", NULL,
	 "link to a host not allowed: evil.io; link to a host not allowed: bad.co"},
	{"not links",
	 OK_TEXT " E.g. this, i.e. that, version 2.0, file.txt, Mr.Smith, our website.It "
		 "works, 3.5 days, a.m.",
	 NULL, ""},
	{"e-mail address at a host not allowed", OK_TEXT " Write to help@evil.io.", NULL,
	 "e-mail address to a host not allowed: evil.io"},
	{"e-mail address at an allowed host", OK_TEXT " Write to help@support.example.com.", NULL,
	 ""},
	/* placeholders */
	{"leftover placeholders", OK_TEXT " Hi [NAME_1], we wrote to [EMAIL_1] and [EMAIL_1].",
	 NULL, "leftover placeholders [NAME_1], [EMAIL_1]"},
	{"one placeholder", OK_TEXT " Card [CARD_12].", NULL, "leftover placeholder [CARD_12]"},
	{"not placeholders", OK_TEXT " [email_1] [EMAIL] [1] [EMAIL_] [_1] [ORDER ID_1]", NULL, ""},
	/* refunds */
	{"we will refund", "We will refund the charge within five days.", NULL,
	 "promises a refund, credit or compensation (\"we will refund\")"},
	{"typographic apostrophe", "You\u2019ll   receive a refund shortly, sorry about that.",
	 NULL, "promises a refund, credit or compensation (\"you'll receive a refund\")"},
	{"issued", "I've issued a refund to your card today.", NULL,
	 "promises a refund, credit or compensation (\"issued a refund\")"},
	{"credited", "We have credited your account with the fee.", NULL,
	 "promises a refund, credit or compensation (\"we have credited\")"},
	{"compensation stem", "As compensation we add a free month.", NULL,
	 "promises a refund, credit or compensation (\"compensat\")"},
	{"free month", "Enjoy a FREE MONTH on us while we fix it.", NULL,
	 "promises a refund, credit or compensation (\"free month\")"},
	{"negation is still flagged", "We are unable to offer compensation for this delay.", NULL,
	 "promises a refund, credit or compensation (\"compensat\")"},
	{"exempt category", "We will refund the charge within five days.", "refunds", ""},
	{"exempt category, other case", "We will refund the charge within five days.", "Refunds",
	 ""},
	{"other category", "We will refund the charge within five days.", "refund",
	 "promises a refund, credit or compensation (\"we will refund\")"},
	{"talking about refunds without promising", OK_TEXT " Your refund request was received.",
	 NULL, ""},
	{"word boundary", OK_TEXT " It is non-refundable; we refunded nothing; a creditor wrote.",
	 NULL, ""},
	/* everything at once, in order */
	{"several reasons", "Hi [NAME_1]: full refund at evil.io", "technical",
	 "link to a host not allowed: evil.io; leftover placeholder [NAME_1]; promises a refund, "
	 "credit or compensation (\"full refund\")"},
};

START_TEST(test_case)
{
	const struct pcase *c = &cases[_i];
	struct draft_policy p;
	char why[512] = "x";
	int rc;

	test_policy_init(&p);
	rc = draft_check(&p, c->draft, c->category, sysprompt, why, sizeof(why));
	ck_assert_msg(strcmp(why, c->why) == 0, "%s: why \"%s\", want \"%s\"", c->name, why,
		      c->why);
	ck_assert_int_eq(rc, c->why[0] != '\0');
}
END_TEST

/* 400 bytes pass a max_len of 400, 401 do not; only the length rule fires. */
START_TEST(test_max_len)
{
	struct draft_policy p;
	char draft[402], why[128];

	test_policy_init(&p);
	for (size_t i = 0; i < 401; i++)
		draft[i] = i % 6 == 5 ? ' ' : 'a';
	draft[400] = '\0';
	ck_assert_int_eq(draft_check(&p, draft, NULL, NULL, why, sizeof(why)), 0);
	draft[400] = 'a';
	draft[401] = '\0';
	ck_assert_int_eq(draft_check(&p, draft, NULL, NULL, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "too long: 401 bytes (max 400)");
}
END_TEST

START_TEST(test_null_draft)
{
	struct draft_policy p;
	char why[64];

	test_policy_init(&p);
	ck_assert_int_eq(draft_check(&p, NULL, NULL, NULL, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "blank draft");
}
END_TEST

/* ---- the system prompt ---- */

static const struct {
	const char *draft;
	int flagged;
} prompt_cases[] = {
	/* 8 words in a row, with other case, line breaks and punctuation */
	{"Hello! You are the triage assistant of a customer-support team, so I can help.", 1},
	{"Note: never promise a refund,\n credit, DISCOUNT, compensation or deadline here.", 1},
	{"We wrote \"The Support Team\", in those words. Thanks for waiting on us.", 0},
	/* 7 words only */
	{"Hello, you are the triage assistant of the shop we run.", 0},
	{"A human agent will review before sending: that is all.", 0},
	/* the sign-off the prompt asks for is short enough to pass */
	{"Our team will look into it.\n\nThe Support Team", 0},
	/* the whole prompt */
	{sysprompt, 1},
};

START_TEST(test_prompt_window)
{
	struct draft_policy p;
	char why[512];
	int rc;

	test_policy_init(&p);
	p.max_len = 0;
	ck_assert_int_ge(
		draft_check(&p, prompt_cases[_i].draft, NULL, sysprompt, why, sizeof(why)),
		0);
	rc = strstr(why, "repeats the system prompt: \"") != NULL;
	ck_assert_msg(rc == prompt_cases[_i].flagged, "\"%s\": got %d (%s)", prompt_cases[_i].draft,
		      rc, why);
	/* No prompt, or a window of 0: not checked. */
	ck_assert_int_ge(
		draft_check(&p, prompt_cases[_i].draft, NULL, NULL, why, sizeof(why)), 0);
	ck_assert_ptr_null(strstr(why, "system prompt"));
	p.prompt_window = 0;
	ck_assert_int_ge(
		draft_check(&p, prompt_cases[_i].draft, NULL, sysprompt, why, sizeof(why)),
		0);
	ck_assert_ptr_null(strstr(why, "system prompt"));
}
END_TEST

START_TEST(test_prompt_quote)
{
	struct draft_policy p;
	char why[512];

	test_policy_init(&p);
	ck_assert_int_eq(
		draft_check(&p,
				   "Sure: YOU ARE THE TRIAGE ASSISTANT OF A CUSTOMER-SUPPORT "
				   "TEAM!!",
				   NULL, sysprompt, why, sizeof(why)),
		1);
	/* The quote is the first window found: 8 words. */
	ck_assert_str_eq(why, "repeats the system prompt: \"you are the triage assistant of a "
			      "customer-support...\"");
	/* Shorter windows find shorter echoes. */
	p.prompt_window = 3;
	ck_assert_int_eq(draft_check(&p, "Regards, The Support Team", NULL, sysprompt, why,
					    sizeof(why)),
			 1);
	ck_assert_str_eq(why, "repeats the system prompt: \"the support team...\"");
}
END_TEST

/* ---- the prebuilt prompt index ---- */

/* policy_check_draft_ix with pp gives exactly what policy_check_draft with prompt gives. */
static void assert_same(const struct draft_policy *p, const char *draft, const char *category,
			const char *prompt, const struct draft_check_prompt *pp)
{
	char w1[512], w2[512];
	int r1, r2;

	memset(w1, 'a', sizeof(w1));
	memset(w2, 'b', sizeof(w2));
	r1 = draft_check(p, draft, category, prompt, w1, sizeof(w1));
	r2 = draft_check_ix(p, draft, category, pp, w2, sizeof(w2));
	ck_assert_msg(r1 == r2 && strcmp(w1, w2) == 0, "\"%s\": %d \"%s\", _ix %d \"%s\"",
		      draft ? draft : "(null)", r1, w1, r2, w2);
}

START_TEST(test_ix_case)
{
	const struct pcase *c = &cases[_i];
	struct draft_policy p;
	struct draft_check_prompt *pp;
	char why[512] = "x";

	test_policy_init(&p);
	pp = draft_check_prompt_new(sysprompt, p.prompt_window);
	ck_assert_int_eq(draft_check_ix(&p, c->draft, c->category, pp, why, sizeof(why)),
			 c->why[0] != '\0');
	ck_assert_msg(strcmp(why, c->why) == 0, "%s: why \"%s\", want \"%s\"", c->name, why,
		      c->why);
	assert_same(&p, c->draft, c->category, sysprompt, pp);
	draft_check_prompt_free(pp);
}
END_TEST

START_TEST(test_ix_prompt_case)
{
	static const size_t windows[] = {1, 3, 8, 12, 40};
	struct draft_policy p;

	test_policy_init(&p);
	p.max_len = 0;
	for (size_t w = 0; w < ARRAY_SIZE(windows); w++) {
		struct draft_check_prompt *pp = draft_check_prompt_new(sysprompt, windows[w]);

		p.prompt_window = windows[w];
		assert_same(&p, prompt_cases[_i].draft, NULL, sysprompt, pp);
		draft_check_prompt_free(pp);
	}
}
END_TEST

/* One index, built once, serves many drafts in any order. */
START_TEST(test_ix_reused)
{
	struct draft_policy p;
	struct draft_check_prompt *pp;
	char why[512];
	size_t nflagged = 0;

	test_policy_init(&p);
	p.max_len = 0;
	pp = draft_check_prompt_new(sysprompt, p.prompt_window);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
			assert_same(&p, cases[(i * 7 + (size_t)round) % ARRAY_SIZE(cases)].draft,
				    NULL, sysprompt, pp);
		for (size_t i = 0; i < ARRAY_SIZE(prompt_cases); i++) {
			assert_same(&p, prompt_cases[i].draft, "refunds", sysprompt, pp);
			ck_assert_int_ge(draft_check_ix(&p, prompt_cases[i].draft, NULL, pp,
							       why, sizeof(why)),
					 0);
			nflagged += strstr(why, "repeats the system prompt") != NULL;
		}
	}
	ck_assert_uint_eq(nflagged, 3 * 3); /* three flagged prompt_cases, three rounds */
	ck_assert_int_eq(draft_check_ix(&p,
					       "Sure: YOU ARE THE TRIAGE ASSISTANT OF A "
					       "CUSTOMER-SUPPORT TEAM!!",
					       NULL, pp, why, sizeof(why)),
			 1);
	ck_assert_str_eq(why, "repeats the system prompt: \"you are the triage assistant of a "
			      "customer-support...\"");
	draft_check_prompt_free(pp);
}
END_TEST

/* No prompt, an empty or blank one, or window 0: an index that never matches. */
START_TEST(test_ix_no_prompt)
{
	static const char *const prompts[] = {NULL, "", " \n\t ", "... -- !!"};
	struct draft_policy p;
	struct draft_check_prompt *pp;
	char why[512];

	test_policy_init(&p);
	p.max_len = 0;
	for (size_t i = 0; i < ARRAY_SIZE(prompts); i++) {
		pp = draft_check_prompt_new(prompts[i], 8);
		ck_assert_ptr_nonnull(pp);
		ck_assert_int_eq(draft_check_ix(&p, sysprompt, NULL, pp, why, sizeof(why)),
				 1);
		ck_assert_ptr_null(strstr(why, "system prompt"));
		assert_same(&p, sysprompt, NULL, prompts[i], pp);
		assert_same(&p, OK_TEXT, NULL, prompts[i], pp);
		draft_check_prompt_free(pp);
	}
	pp = draft_check_prompt_new(sysprompt, 0);
	ck_assert_int_eq(draft_check_ix(&p, sysprompt, NULL, pp, why, sizeof(why)), 1);
	ck_assert_ptr_null(strstr(why, "system prompt"));
	draft_check_prompt_free(pp);
	/* A NULL index skips the check, like a NULL system_prompt. */
	ck_assert_int_eq(draft_check_ix(&p, sysprompt, NULL, NULL, why, sizeof(why)), 1);
	ck_assert_ptr_null(strstr(why, "system prompt"));
	assert_same(&p, sysprompt, NULL, NULL, NULL);
	draft_check_prompt_free(NULL);
}
END_TEST

/* A prompt of fewer words than the window can never be repeated window-long. */
START_TEST(test_ix_short_prompt)
{
	static const char shortp[] = "The Support Team";
	static const char draft[] = "Regards, The Support Team";
	struct draft_policy p;
	struct draft_check_prompt *pp;
	char why[512];

	test_policy_init(&p);
	for (size_t w = 4; w <= 40; w += 4) {
		pp = draft_check_prompt_new(shortp, w);
		p.prompt_window = w;
		ck_assert_int_eq(draft_check_ix(&p, draft, NULL, pp, why, sizeof(why)), 0);
		ck_assert_int_eq(draft_check_ix(&p, "The Support Team, the support team",
						       NULL, pp, why, sizeof(why)),
				 0);
		assert_same(&p, draft, NULL, shortp, pp);
		draft_check_prompt_free(pp);
	}
	/* Exactly window words: it matches. */
	pp = draft_check_prompt_new(shortp, 3);
	ck_assert_int_eq(draft_check_ix(&p, draft, NULL, pp, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "repeats the system prompt: \"the support team...\"");
	draft_check_prompt_free(pp);
}
END_TEST

/* The window is the index's: p->prompt_window is not read by _ix. */
START_TEST(test_ix_window_is_the_index)
{
	struct draft_policy p;
	struct draft_check_prompt *pp = draft_check_prompt_new(sysprompt, 3);
	char why[512];

	test_policy_init(&p);
	p.prompt_window = 0;
	ck_assert_int_eq(
		draft_check_ix(&p, "Regards, The Support Team", NULL, pp, why, sizeof(why)),
		1);
	ck_assert_str_eq(why, "repeats the system prompt: \"the support team...\"");
	draft_check_prompt_free(pp);
	pp = draft_check_prompt_new(sysprompt, 8);
	p.prompt_window = 3;
	ck_assert_int_eq(
		draft_check_ix(&p, "Regards, The Support Team", NULL, pp, why, sizeof(why)),
		0);
	draft_check_prompt_free(pp);
}
END_TEST

/*
 * Windows repeated inside the prompt, windows wider than the draft scan's
 * stack ring, and quotes cut to whole words within 80 bytes.
 */
START_TEST(test_ix_edges)
{
	static const char rep[] = "a b c a b c a b c d";
	static const char longw[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb "
				    "cccccccccccccccccccccccccccccc dd";
	struct draft_policy p;
	struct draft_check_prompt *pp;
	char why[512], big[100];

	test_policy_init(&p);
	p.min_len = 0;
	p.max_len = 0;
	p.prompt_window = 3;
	pp = draft_check_prompt_new(rep, 3);
	ck_assert_int_eq(draft_check_ix(&p, "x y z, then C. A! B", NULL, pp, why,
					       sizeof(why)),
			 1);
	ck_assert_str_eq(why, "repeats the system prompt: \"c a b...\"");
	assert_same(&p, "x y z, then C. A! B", NULL, rep, pp);
	assert_same(&p, "b c d and nothing else here", NULL, rep, pp);
	assert_same(&p, "c b a, d c b, a c d: no window of rep", NULL, rep, pp);
	draft_check_prompt_free(pp);

	/* 30 + 1 + 30 bytes fit in the quote; a third word of 30 would not. */
	pp = draft_check_prompt_new(longw, 3);
	ck_assert_int_eq(draft_check_ix(&p, longw, NULL, pp, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "repeats the system prompt: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
			      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...\"");
	assert_same(&p, longw, NULL, longw, pp);
	draft_check_prompt_free(pp);
	/* A first word longer than the quote: nothing quoted. */
	memset(big, 'q', 90);
	memcpy(big + 90, " r s", 5);
	pp = draft_check_prompt_new(big, 3);
	ck_assert_int_eq(draft_check_ix(&p, big, NULL, pp, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "repeats the system prompt: \"...\"");
	assert_same(&p, big, NULL, big, pp);
	draft_check_prompt_free(pp);

	/* Wider than the ring kept on the stack. */
	p.prompt_window = 40;
	pp = draft_check_prompt_new(sysprompt, 40);
	ck_assert_int_eq(draft_check_ix(&p, sysprompt, NULL, pp, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "repeats the system prompt: \"you are the triage"));
	assert_same(&p, sysprompt, NULL, sysprompt, pp);
	draft_check_prompt_free(pp);
}
END_TEST

/* ---- defaults and the reason buffer ---- */

START_TEST(test_defaults)
{
	struct draft_policy p;
	char why[256];

	draft_policy_default(&p);
	ck_assert_uint_eq(p.min_len, 20);
	ck_assert_uint_eq(p.max_len, 4000);
	ck_assert_uint_eq(p.prompt_window, 8);
	ck_assert_uint_eq(p.nlink_allow, 0);
	ck_assert_uint_eq(p.nrefund_categories, 0);
	/* No host is allowed and no category may promise. */
	ck_assert_int_eq(draft_check(&p, OK_TEXT " https://example.com", "billing", NULL,
					    why, sizeof(why)),
			 1);
	ck_assert_str_eq(why, "link to a host not allowed: example.com");
	ck_assert_int_eq(draft_check(&p, "We will refund it, sorry for that.", "billing",
					    NULL, why, sizeof(why)),
			 1);
	/* max_len 0: no maximum. */
	p.max_len = 0;
	{
		char *big = xmalloc(100001);

		memset(big, 'a', 100000);
		big[100000] = '\0';
		ck_assert_int_eq(draft_check(&p, big, NULL, NULL, why, sizeof(why)), 0);
		free(big);
	}
}
END_TEST

START_TEST(test_why_cut)
{
	struct draft_policy p;
	char why[40], one[1];
	const char *d = OK_TEXT " https://b\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc\u00fc.example/";
	size_t n;

	test_policy_init(&p);
	/* "link to a host not allowed: b" is 29 bytes, then two-byte characters. */
	for (size_t len = 28; len <= sizeof(why); len++) {
		ck_assert_int_eq(draft_check(&p, d, NULL, NULL, why, len), 1);
		n = strlen(why);
		ck_assert_uint_lt(n, len);
		ck_assert(utf8_valid(why, n));
		ck_assert_int_eq(strncmp(why,
					 "link to a host not allowed: b\u00fc\u00fc\u00fc\u00fc"
					 "\u00fc\u00fc\u00fc.example",
					 n),
				 0);
	}
	ck_assert_int_eq(draft_check(&p, d, NULL, NULL, one, sizeof(one)), 1);
	ck_assert_str_eq(one, "");
	ck_assert_int_eq(draft_check(&p, d, NULL, NULL, NULL, 0), 1);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("rules");

	tcase_add_loop_test(tc, test_case, 0, ARRAY_SIZE(cases));
	tcase_add_test(tc, test_max_len);
	tcase_add_test(tc, test_null_draft);
	tcase_add_loop_test(tc, test_prompt_window, 0, ARRAY_SIZE(prompt_cases));
	tcase_add_test(tc, test_prompt_quote);
	suite_add_tcase(s, tc);

	tc = tcase_create("index");
	tcase_add_loop_test(tc, test_ix_case, 0, ARRAY_SIZE(cases));
	tcase_add_loop_test(tc, test_ix_prompt_case, 0, ARRAY_SIZE(prompt_cases));
	tcase_add_test(tc, test_ix_reused);
	tcase_add_test(tc, test_ix_no_prompt);
	tcase_add_test(tc, test_ix_short_prompt);
	tcase_add_test(tc, test_ix_window_is_the_index);
	tcase_add_test(tc, test_ix_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_why_cut);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
