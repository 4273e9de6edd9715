/*
 * fuzz_triage: libFuzzer harness for the model's answer (service/core/answer.h).
 * The input goes to answer_parse_completion() as a raw response body (not
 * NUL-terminated), and the content it yields to answer_validate(); the input
 * itself, as a C string, also goes straight to answer_validate() so the
 * validator is reached without the envelope. Results are checked against the
 * contract in triage.h. Taxonomy: the default [triage] categories. Must not
 * leak.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "answer.h"

static const char *const categories[] = {
    "billing",		"technical",	   "account",	 "shipping",
    "product_question", "feature_request", "bug_report", "complaint",
    "cancellation",	"security",	   "legal",	 "other",
};
static const struct taxonomy tax = {categories, sizeof(categories) / sizeof(categories[0])};

static void check_triage(const struct answer *t)
{
	enum sentiment s;
	enum urgency u;
	size_t i, n;

	FUZZ_CHECK(t->category != NULL);
	for (i = 0; i < tax.ncategories; i++)
		if (strcmp(t->category, tax.categories[i]) == 0)
			break;
	FUZZ_CHECK(i < tax.ncategories);
	FUZZ_CHECK((unsigned)t->sentiment < SENT__COUNT);
	FUZZ_CHECK((unsigned)t->urgency < URG__COUNT);
	FUZZ_CHECK(sentiment_parse(sentiment_name(t->sentiment), &s) == 0 && s == t->sentiment);
	FUZZ_CHECK(urgency_parse(urgency_name(t->urgency), &u) == 0 && u == t->urgency);
	FUZZ_CHECK(!isnan(t->confidence) && t->confidence >= 0.0 && t->confidence <= 1.0);
	FUZZ_CHECK(t->language != NULL);
	n = strlen(t->language);
	FUZZ_CHECK(n >= 2 && n <= ANSWER_MAX_LANGUAGE);
	FUZZ_CHECK(t->summary != NULL && t->summary[0] != '\0');
	FUZZ_CHECK(strlen(t->summary) <= ANSWER_MAX_SUMMARY);
	FUZZ_CHECK(strpbrk(t->summary, "\r\n") == NULL);
	FUZZ_CHECK(t->draft_reply != NULL && t->draft_reply[0] != '\0');
	FUZZ_CHECK(strlen(t->draft_reply) <= ANSWER_MAX_DRAFT);
}

static void validate_checked(const char *content)
{
	struct answer t;
	char err[512] = "";

	answer_init(&t);
	if (answer_validate(content, &tax, &t, err, sizeof(err)) == 0) {
		check_triage(&t);
	} else {
		FUZZ_CHECK(err[0] != '\0');
		/* On failure nothing is left allocated in t. */
		FUZZ_CHECK(t.category == NULL && t.language == NULL && t.summary == NULL &&
			   t.draft_reply == NULL);
	}
	answer_cleanup(&t);
}

int fuzz_triage_one(const uint8_t *data, size_t size)
{
	struct llm_usage usage;
	char err[512] = "", *content = NULL, *text;

	if (answer_parse_completion((const char *)data, size, &content, &usage, err, sizeof(err)) ==
	    0) {
		FUZZ_CHECK(content != NULL);
		validate_checked(content);
		free(content);
	} else {
		FUZZ_CHECK(content == NULL);
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(usage.prompt_tokens == 0 && usage.completion_tokens == 0 &&
			   usage.cached_tokens == 0);
	}

	text = fuzz_cstr(data, size);
	validate_checked(text);
	free(text);

	for (int i = -1; i <= SENT__COUNT; i++)
		FUZZ_CHECK(sentiment_name((enum sentiment)i) != NULL);
	for (int i = -1; i <= URG__COUNT; i++)
		FUZZ_CHECK(urgency_name((enum urgency)i) != NULL);
	return 0;
}

#ifndef TRIAGED_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_triage_one(data, size);
}
#endif
