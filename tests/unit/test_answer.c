/*
 * Unit tests for triage: the chat-completion envelope and the strict
 * validation of the triage answer. Table-driven: each case is data.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "answer.h"

static const char *const cats[] = {"billing", "technical", "account", "shipping", "other"};
static const struct taxonomy tax = {cats, ARRAY_SIZE(cats)};

#define VALID                                                                                      \
	"{\"category\":\"billing\",\"sentiment\":\"negative\",\"urgency\":\"high\","               \
	"\"confidence\":0.82,\"language\":\"en\",\"summary\":\"Customer was charged twice.\","     \
	"\"draft_reply\":\"Hello,\\nthank you for reaching out.\\n\\nThe Support Team\"}"

/* ---- envelope ---- */

struct env_case {
	const char *name;
	const char *body;
	int rc;
	const char *content; /* expected content when rc == 0 */
	int64_t prompt, completion, cached;
	const char *err; /* substring of err when rc != 0 */
};

static const struct env_case env_cases[] = {
	{"ok with usage",
	 "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
	 "\"{\\\"a\\\":1}\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":812,"
	 "\"completion_tokens\":95,\"total_tokens\":907,\"prompt_tokens_details\":"
	 "{\"cached_tokens\":768}}}",
	 0, "{\"a\":1}", 812, 95, 768, NULL},
	{"ok usage without details",
	 "{\"choices\":[{\"message\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
	 "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2}}",
	 0, "hi", 10, 2, 0, NULL},
	{"ok no usage", "{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}", 0, "hi", 0, 0, 0,
	 NULL},
	{"ok odd usage types",
	 "{\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"usage\":{\"prompt_tokens\":\"7\","
	 "\"completion_tokens\":-3,\"prompt_tokens_details\":null}}",
	 0, "hi", 0, 0, 0, NULL},
	{"ok finish_reason null",
	 "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":null}]}", 0, "x", 0, 0,
	 0, NULL},
	{"ok trailing whitespace", "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}\r\n", 0, "x",
	 0, 0, 0, NULL},
	{"error body",
	 "{\"error\":{\"message\":\"Rate limit reached for gpt-4o-mini\",\"type\":\"requests\","
	 "\"code\":\"rate_limit_exceeded\"}}",
	 -1, NULL, 0, 0, 0, "Rate limit reached for gpt-4o-mini"},
	{"error string", "{\"error\":\"model 'x' not found\"}", -1, NULL, 0, 0, 0,
	 "model 'x' not found"},
	{"error without message", "{\"error\":{\"code\":500}}", -1, NULL, 0, 0, 0,
	 "model API error"},
	{"no choices", "{\"choices\":[]}", -1, NULL, 0, 0, 0, "no choices"},
	{"choices missing", "{\"id\":\"x\"}", -1, NULL, 0, 0, 0, "no choices"},
	{"choices not array", "{\"choices\":{}}", -1, NULL, 0, 0, 0, "no choices"},
	{"choice not object", "{\"choices\":[1]}", -1, NULL, 0, 0, 0,
	 "choices[0] is not an object"},
	{"no message", "{\"choices\":[{\"finish_reason\":\"stop\"}]}", -1, NULL, 0, 0, 0,
	 "no message"},
	{"finish_reason length",
	 "{\"choices\":[{\"message\":{\"content\":\"{\\\"category\\\":\"},"
	 "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5}}",
	 -1, NULL, 0, 0, 0, "answer truncated (finish_reason=length)"},
	{"finish_reason content_filter",
	 "{\"choices\":[{\"message\":{\"content\":null},\"finish_reason\":\"content_filter\"}]}",
	 -1, NULL, 0, 0, 0, "content_filter"},
	{"content null", "{\"choices\":[{\"message\":{\"content\":null}}]}", -1, NULL, 0, 0, 0,
	 "content is null"},
	{"content absent", "{\"choices\":[{\"message\":{\"role\":\"assistant\"}}]}", -1, NULL, 0, 0,
	 0, "content is null"},
	{"refusal",
	 "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't help with that.\"}}]}",
	 -1, NULL, 0, 0, 0, "model refused: I can't help with that."},
	{"content number", "{\"choices\":[{\"message\":{\"content\":42}}]}", -1, NULL, 0, 0, 0,
	 "content is not a string"},
	{"content array", "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\"}]}}]}", -1,
	 NULL, 0, 0, 0, "content is not a string"},
	{"content with NUL", "{\"choices\":[{\"message\":{\"content\":\"a\\u0000b\"}}]}", -1, NULL,
	 0, 0, 0, "NUL"},
	{"not JSON", "<html>502 Bad Gateway</html>", -1, NULL, 0, 0, 0, "response is not JSON"},
	{"empty", "", -1, NULL, 0, 0, 0, "unexpected end of input"},
	{"truncated JSON", "{\"choices\":[{\"message\":{\"content\":\"hel", -1, NULL, 0, 0, 0,
	 "unexpected end of input"},
	{"trailing garbage", "{\"choices\":[]} {}", -1, NULL, 0, 0, 0, "trailing text"},
	{"not an object", "[1,2]", -1, NULL, 0, 0, 0, "not a JSON object"},
	{"invalid UTF-8", "{\"choices\":[{\"message\":{\"content\":\"\xc3\x28\"}}]}", -1, NULL, 0,
	 0, 0, "response is not JSON"},
};

START_TEST(test_envelope)
{
	const struct env_case *c = &env_cases[_i];
	struct llm_usage u = {-1, -1, -1, -1};
	char *content = (char *)"sentinel", err[256] = "";
	int rc = answer_parse_completion(c->body, strlen(c->body), &content, &u, err, sizeof(err));

	ck_assert_msg(rc == c->rc, "%s: rc %d err '%s'", c->name, rc, err);
	if (rc == 0) {
		ck_assert_str_eq(content, c->content);
		ck_assert_int_eq(u.prompt_tokens, c->prompt);
		ck_assert_int_eq(u.completion_tokens, c->completion);
		ck_assert_int_eq(u.cached_tokens, c->cached);
		free(content);
	} else {
		ck_assert_msg(content == NULL, "%s: content not NULL on failure", c->name);
		ck_assert_msg(strstr(err, c->err) != NULL, "%s: err '%s' lacks '%s'", c->name, err,
			      c->err);
		ck_assert_int_eq(u.prompt_tokens, 0);
	}
}
END_TEST

/* The body is a length, not a C string: bytes past len are not read. */
START_TEST(test_envelope_not_terminated)
{
	const char *full = "{\"choices\":[{\"message\":{\"content\":\"ok\"}}]}XXXX";
	char *content = NULL, err[128];
	struct llm_usage u;

	ck_assert_int_eq(
		answer_parse_completion(full, strlen(full) - 4, &content, &u, err, sizeof(err)), 0);
	ck_assert_str_eq(content, "ok");
	free(content);
	ck_assert_int_eq(
		answer_parse_completion("{\"a\":1}\0{}", 10, &content, &u, err, sizeof(err)), -1);
	ck_assert_ptr_null(content);
}
END_TEST

/* ---- answer ---- */

struct ans_case {
	const char *name;
	const char *content;
	const char *err; /* NULL: valid */
};

#define A(cat, sent, urg, conf, lang, sum, draft)                                                  \
	"{\"category\":" cat ",\"sentiment\":" sent ",\"urgency\":" urg ",\"confidence\":" conf    \
	",\"language\":" lang ",\"summary\":" sum ",\"draft_reply\":" draft "}"
#define OK_CAT "\"billing\""
#define OK_SENT "\"negative\""
#define OK_URG "\"high\""
#define OK_CONF "0.82"
#define OK_LANG "\"en\""
#define OK_SUM "\"Customer was charged twice.\""
#define OK_DRAFT "\"Hello,\\nwe will look into it.\\n\\nThe Support Team\""

static const struct ans_case ans_cases[] = {
	{"valid", VALID, NULL},
	{"valid surrounded by whitespace", "\n\n  " VALID " \n\t", NULL},
	{"fenced json", "```json\n" VALID "\n```", NULL},
	{"fenced JSON upper case", "```JSON\n" VALID "\n```\n", NULL},
	{"fenced bare", "```\n" VALID "\n```", NULL},
	{"fenced one line", "```json " VALID "```", NULL},
	{"fenced, whitespace outside", "  \n```json\n" VALID "\n```  \n", NULL},
	{"fence not closed", "```json\n" VALID "\n", "code fence is not closed"},
	{"fence other language", "```python\n" VALID "\n```", "unexpected code fence"},
	{"two fences", "```json\n" VALID "\n```\n```json\n" VALID "\n```", "not a JSON object"},
	{"leading prose", "Here is the triage:\n" VALID, "answer is not a JSON object"},
	{"trailing text", VALID "\nI hope this helps!",
	 "answer is not a JSON object: trailing text"},
	{"two objects", VALID VALID, "trailing text"},
	{"prose around fence", "Sure!\n```json\n" VALID "\n```", "answer is not a JSON object"},
	{"empty", "", "empty answer"},
	{"blank", " \n ", "empty answer"},
	{"empty fence", "```json\n```", "empty answer"},
	{"truncated", "{\"category\":\"billing\",\"sentiment\":\"neg", "unexpected end of input"},
	{"array", "[" VALID "]", "answer is not a JSON object: got array"},
	{"string", "\"billing\"", "answer is not a JSON object: got string"},
	{"invalid UTF-8", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, OK_LANG, "\"caf\xe9\"", OK_DRAFT),
	 "answer is not a JSON object: invalid utf-8"},
	{"extra field ignored",
	 "{\"reasoning\":{\"steps\":[1,2]},\"category\":\"billing\",\"sentiment\":\"negative\","
	 "\"urgency\":\"high\",\"confidence\":0.82,\"language\":\"en\",\"summary\":\"s\","
	 "\"draft_reply\":\"d\",\"note\":null}",
	 NULL},
	/* category */
	{"category outside taxonomy",
	 A("\"weather\"", OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "category: 'weather' is not in the taxonomy"},
	{"category case differs",
	 A("\"Billing\"", OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "category: 'Billing' is not in the taxonomy"},
	{"category with space",
	 A("\"billing \"", OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "is not in the taxonomy"},
	{"category nested object",
	 A("{\"name\":\"billing\"}", OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "category: expected a string, got object"},
	{"category array", A("[\"billing\"]", OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "category: expected a string, got array"},
	{"category null", A("null", OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "category: expected a string, got null"},
	{"category with NUL",
	 A("\"billing\\u0000x\"", OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "category: contains a NUL character"},
	/* sentiment, urgency */
	{"sentiment outside domain",
	 A(OK_CAT, "\"angry\"", OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "sentiment: 'angry' is not one of"},
	{"sentiment upper case",
	 A(OK_CAT, "\"NEGATIVE\"", OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "sentiment: 'NEGATIVE'"},
	{"sentiment number", A(OK_CAT, "1", OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "sentiment: expected a string, got int"},
	{"urgency outside domain",
	 A(OK_CAT, OK_SENT, "\"urgent\"", OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "urgency: 'urgent' is not one of low, normal, high, critical"},
	{"urgency medium", A(OK_CAT, OK_SENT, "\"medium\"", OK_CONF, OK_LANG, OK_SUM, OK_DRAFT),
	 "urgency: 'medium'"},
	/* confidence */
	{"confidence 1.5", A(OK_CAT, OK_SENT, OK_URG, "1.5", OK_LANG, OK_SUM, OK_DRAFT),
	 "confidence: 1.5 is outside [0, 1]"},
	{"confidence -0.1", A(OK_CAT, OK_SENT, OK_URG, "-0.1", OK_LANG, OK_SUM, OK_DRAFT),
	 "confidence: -0.1 is outside [0, 1]"},
	{"confidence 2 (int)", A(OK_CAT, OK_SENT, OK_URG, "2", OK_LANG, OK_SUM, OK_DRAFT),
	 "confidence: 2 is outside [0, 1]"},
	{"confidence string", A(OK_CAT, OK_SENT, OK_URG, "\"0.9\"", OK_LANG, OK_SUM, OK_DRAFT),
	 "confidence: expected a number, got string"},
	{"confidence bool", A(OK_CAT, OK_SENT, OK_URG, "true", OK_LANG, OK_SUM, OK_DRAFT),
	 "confidence: expected a number, got boolean"},
	{"confidence NaN", A(OK_CAT, OK_SENT, OK_URG, "NaN", OK_LANG, OK_SUM, OK_DRAFT),
	 "confidence: nan is outside [0, 1]"},
	{"confidence huge", A(OK_CAT, OK_SENT, OK_URG, "1e400", OK_LANG, OK_SUM, OK_DRAFT),
	 "confidence: inf is outside [0, 1]"},
	{"confidence 0", A(OK_CAT, OK_SENT, OK_URG, "0", OK_LANG, OK_SUM, OK_DRAFT), NULL},
	{"confidence 1", A(OK_CAT, OK_SENT, OK_URG, "1", OK_LANG, OK_SUM, OK_DRAFT), NULL},
	{"confidence 1.0", A(OK_CAT, OK_SENT, OK_URG, "1.0", OK_LANG, OK_SUM, OK_DRAFT), NULL},
	{"confidence 0e0", A(OK_CAT, OK_SENT, OK_URG, "0e0", OK_LANG, OK_SUM, OK_DRAFT), NULL},
	/* language */
	{"language pt-BR", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, "\"pt-BR\"", OK_SUM, OK_DRAFT),
	 NULL},
	{"language one letter", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, "\"e\"", OK_SUM, OK_DRAFT),
	 "language: 'e' is not a language tag"},
	{"language name", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, "\"English (US)\"", OK_SUM, OK_DRAFT),
	 "language: 'English (US)' is not a language tag"},
	{"language underscore", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, "\"pt_BR\"", OK_SUM, OK_DRAFT),
	 "language:"},
	{"language 36 chars",
	 A(OK_CAT, OK_SENT, OK_URG, OK_CONF, "\"abcdefghij-abcdefghij-abcdefghij-abc\"", OK_SUM,
	   OK_DRAFT),
	 "language:"},
	{"language 35 chars",
	 A(OK_CAT, OK_SENT, OK_URG, OK_CONF, "\"abcdefghij-abcdefghij-abcdefghij-ab\"", OK_SUM,
	   OK_DRAFT),
	 NULL},
	/* summary, draft */
	{"summary with newline",
	 A(OK_CAT, OK_SENT, OK_URG, OK_CONF, OK_LANG, "\"Charged twice.\\nWants refund.\"",
	   OK_DRAFT),
	 "summary: contains a newline"},
	{"summary with CR", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, OK_LANG, "\"a\\rb\"", OK_DRAFT),
	 "summary: contains a newline"},
	{"summary empty", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, OK_LANG, "\"\"", OK_DRAFT),
	 "summary: is blank"},
	{"summary blank", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, OK_LANG, "\"  \\t \"", OK_DRAFT),
	 "summary: is blank"},
	{"summary unicode",
	 A(OK_CAT, OK_SENT, OK_URG, OK_CONF, OK_LANG,
	   "\"Kunde wurde doppelt belastet \\u2013 \xc3\xa4rgerlich\"", OK_DRAFT),
	 NULL},
	{"draft blank", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, "\" \\n \""),
	 "draft_reply: is blank"},
	{"draft number", A(OK_CAT, OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, "0"),
	 "draft_reply: expected a string, got int"},
};

START_TEST(test_answer)
{
	const struct ans_case *c = &ans_cases[_i];
	struct answer t;
	char err[256] = "";
	int rc = answer_validate(c->content, &tax, &t, err, sizeof(err));

	if (c->err == NULL) {
		ck_assert_msg(rc == 0, "%s: rejected: %s", c->name, err);
		ck_assert_ptr_nonnull(t.category);
		ck_assert_ptr_nonnull(t.language);
		ck_assert_ptr_nonnull(t.summary);
		ck_assert_ptr_nonnull(t.draft_reply);
		ck_assert(t.confidence >= 0.0 && t.confidence <= 1.0);
	} else {
		ck_assert_msg(rc == -1, "%s: accepted", c->name);
		ck_assert_msg(strstr(err, c->err) != NULL, "%s: err '%s' lacks '%s'", c->name, err,
			      c->err);
		/* On failure nothing is left to free. */
		ck_assert_ptr_null(t.category);
		ck_assert_ptr_null(t.draft_reply);
	}
	answer_cleanup(&t);
}
END_TEST

START_TEST(test_answer_values)
{
	struct answer t;
	char err[256] = "";

	ck_assert_int_eq(answer_validate("```json\n" VALID "\n```", &tax, &t, err, sizeof(err)), 0);
	ck_assert_str_eq(t.category, "billing");
	ck_assert_int_eq(t.sentiment, SENT_NEGATIVE);
	ck_assert_int_eq(t.urgency, URG_HIGH);
	ck_assert_double_eq_tol(t.confidence, 0.82, 1e-12);
	ck_assert_str_eq(t.language, "en");
	ck_assert_str_eq(t.summary, "Customer was charged twice.");
	ck_assert_str_eq(t.draft_reply, "Hello,\nthank you for reaching out.\n\nThe Support Team");
	answer_cleanup(&t);
	ck_assert_ptr_null(t.category);
	answer_cleanup(&t); /* idempotent */

	ck_assert_int_eq(answer_validate(A("\"other\"", "\"very_negative\"", "\"critical\"", "1",
					   "\"de\"", OK_SUM, OK_DRAFT),
					 &tax, &t, err, sizeof(err)),
			 0);
	ck_assert_str_eq(t.category, "other");
	ck_assert_int_eq(t.sentiment, SENT_VERY_NEGATIVE);
	ck_assert_int_eq(t.urgency, URG_CRITICAL);
	ck_assert_double_eq(t.confidence, 1.0);
	answer_cleanup(&t);
}
END_TEST

static const char *const fields[] = {"category", "sentiment", "urgency",    "confidence",
				     "language", "summary",   "draft_reply"};

/* Each required field missing in turn: the error names that field. */
START_TEST(test_answer_missing_field)
{
	json_object *o = json_tokener_parse(VALID);
	struct answer t;
	char err[256] = "", want[64];

	ck_assert_ptr_nonnull(o);
	json_object_object_del(o, fields[_i]);
	ck_assert_int_eq(answer_validate(json_object_to_json_string(o), &tax, &t, err, sizeof(err)),
			 -1);
	snprintf(want, sizeof(want), "%s: missing", fields[_i]);
	ck_assert_str_eq(err, want);
	json_object_put(o);
	answer_cleanup(&t);
}
END_TEST

/* Limits are bytes, checked at the boundary. */
static char *with_text(const char *field, size_t n, char fill)
{
	json_object *o = json_tokener_parse(VALID);
	char *s = xmalloc(n + 1), *out;

	memset(s, fill, n);
	s[n] = '\0';
	json_object_object_add(o, field, json_object_new_string(s));
	out = xstrdup(json_object_to_json_string(o));
	json_object_put(o);
	free(s);
	return out;
}

struct len_case {
	const char *field;
	size_t n;
	const char *err;
};

static const struct len_case len_cases[] = {
	{"draft_reply", ANSWER_MAX_DRAFT, NULL},
	{"draft_reply", ANSWER_MAX_DRAFT + 1, "draft_reply: 8193 bytes exceeds the limit of 8192"},
	{"draft_reply", 100000, "draft_reply: 100000 bytes exceeds"},
	{"summary", ANSWER_MAX_SUMMARY, NULL},
	{"summary", ANSWER_MAX_SUMMARY + 1, "summary: 513 bytes exceeds the limit of 512"},
};

START_TEST(test_answer_lengths)
{
	const struct len_case *c = &len_cases[_i];
	char *content = with_text(c->field, c->n, 'x'), err[256] = "";
	struct answer t;
	int rc = answer_validate(content, &tax, &t, err, sizeof(err));

	if (c->err == NULL) {
		ck_assert_msg(rc == 0, "%s %zu: %s", c->field, c->n, err);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strstr(err, c->err) != NULL, "err '%s'", err);
	}
	answer_cleanup(&t);
	free(content);
}
END_TEST

/* A long bogus value is shortened in the message, on a UTF-8 boundary. */
START_TEST(test_answer_error_shortened)
{
	char content[1024], err[512] = "";
	char big[400];
	struct answer t;

	memset(big, 0, sizeof(big));
	for (size_t i = 0; i + 2 < 300; i += 2)
		memcpy(big + i, "\xc3\xa9", 2); /* é */
	snprintf(content, sizeof(content),
		 A("\"%s\"", OK_SENT, OK_URG, OK_CONF, OK_LANG, OK_SUM, OK_DRAFT), big);
	ck_assert_int_eq(answer_validate(content, &tax, &t, err, sizeof(err)), -1);
	ck_assert_msg(strlen(err) < 120, "err too long: %zu", strlen(err));
	ck_assert_ptr_nonnull(strstr(err, "...' is not in the taxonomy"));
	ck_assert_ptr_nonnull(strstr(err, "category: '\xc3\xa9"));
	/* No cut character: every byte before "..." completes an é. */
	ck_assert_ptr_nonnull(strstr(err, "\xc3\xa9..."));
}
END_TEST

START_TEST(test_names)
{
	enum sentiment s;
	enum urgency u;

	for (int i = 0; i < SENT__COUNT; i++) {
		ck_assert_int_eq(sentiment_parse(sentiment_name((enum sentiment)i), &s), 0);
		ck_assert_int_eq(s, i);
	}
	for (int i = 0; i < URG__COUNT; i++) {
		ck_assert_int_eq(urgency_parse(urgency_name((enum urgency)i), &u), 0);
		ck_assert_int_eq(u, i);
	}
	ck_assert_str_eq(sentiment_name(SENT_VERY_NEGATIVE), "very_negative");
	ck_assert_str_eq(urgency_name(URG_CRITICAL), "critical");
	ck_assert_str_eq(urgency_name((enum urgency)42), "unknown");
	ck_assert_int_eq(sentiment_parse("Neutral", &s), -1);
	ck_assert_int_eq(urgency_parse("", &u), -1);
}
END_TEST

static Suite *triage_suite(void)
{
	Suite *s = suite_create("triage");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_envelope, 0, ARRAY_SIZE(env_cases));
	tcase_add_test(tc, test_envelope_not_terminated);
	tcase_add_loop_test(tc, test_answer, 0, ARRAY_SIZE(ans_cases));
	tcase_add_test(tc, test_answer_values);
	tcase_add_loop_test(tc, test_answer_missing_field, 0, ARRAY_SIZE(fields));
	tcase_add_loop_test(tc, test_answer_lengths, 0, ARRAY_SIZE(len_cases));
	tcase_add_test(tc, test_answer_error_shortened);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(triage_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
