/*
 * Unit tests for service/core/ticket.c (and ticket_json.c, ticket_utf8.c,
 * ticket_time.c): the helpdesk event contract, the UTF-8 helpers and the RFC
 * 3339 check. Table-driven where the cases are data;
 * every case asserts the code and the field named in err.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticket.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

/* A string literal and its length, embedded NULs included. */
#define J(s) s, sizeof(s) - 1
#define BASE "\"ticket_id\":\"T-1\",\"body\":\"hello\""

static enum ticket_err parse_with(const char *msg, size_t len, const char *key, size_t keylen,
				  const struct ticket_limits *lim, struct ticket **t, char *err,
				  size_t errlen)
{
	err[0] = '\0';
	return ticket_parse(msg, len, key, keylen, lim, t, err, errlen);
}

static enum ticket_err parse(const char *msg, size_t len, struct ticket **t, char *err,
			     size_t errlen)
{
	struct ticket_limits lim;

	ticket_limits_default(&lim);
	return parse_with(msg, len, NULL, 0, &lim, t, err, errlen);
}

/* A message of exactly total bytes: {"ticket_id":"T-1","body":"aaa...a"}. Caller frees. */
static char *message_of_size(size_t total)
{
	static const char head[] = "{\"ticket_id\":\"T-1\",\"body\":\"", tail[] = "\"}";
	size_t fixed = sizeof(head) - 1 + sizeof(tail) - 1;
	char *m = xmalloc(total + 1);

	ck_assert_uint_ge(total, fixed + 1);
	memcpy(m, head, sizeof(head) - 1);
	memset(m + sizeof(head) - 1, 'a', total - fixed);
	memcpy(m + total - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	m[total] = '\0';
	return m;
}

/* ---- whole tickets ---- */

START_TEST(test_full_ticket)
{
	static const char msg[] =
		"{\"ticket_id\":\"T-1001\",\"source\":\"zendesk\","
		"\"created_at\":\"2026-11-24T05:40:00.250+01:00\",\"channel\":\"email\","
		"\"subject\":\"Refund for order 42\","
		"\"body\":\"I was charged twice.\\nCaf\\u00e9 \\ud83d\\ude00\","
		"\"customer\":{\"id\":\"C-7\",\"email\":\"ana@example.com\",\"name\":\"Ana Lima\","
		"\"tier\":\"enterprise\"},"
		"\"language\":\"pt-BR\",\"tags\":[\"billing\",\"refund\"],"
		"\"metadata\":{\"order\":42,\"nested\":{\"ok\":true,\"list\":[1,2.5,null]}},"
		"\"unknown_field\":{\"x\":1}}";
	static const char body[] = "I was charged twice.\nCaf\xc3\xa9 \xf0\x9f\x98\x80";
	struct ticket *t = NULL;
	json_object *v = NULL;
	char err[256];

	ck_assert_int_eq(parse(J(msg), &t, err, sizeof(err)), TICKET_OK);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(t->ticket_id, "T-1001");
	ck_assert_str_eq(t->source, "zendesk");
	/* the instant in UTC for the database, the text as given beside it */
	ck_assert_str_eq(t->created_at, "2026-11-24T04:40:00.250Z");
	ck_assert(json_object_object_get_ex(t->original, "created_at", &v));
	ck_assert_str_eq(json_object_get_string(v), "2026-11-24T05:40:00.250+01:00");
	ck_assert_uint_eq(t->flags, 0);
	ck_assert_int_eq(t->channel, CH_EMAIL);
	ck_assert_str_eq(t->subject, "Refund for order 42");
	ck_assert_str_eq(t->body, body);
	ck_assert_uint_eq(t->body_len, sizeof(body) - 1);
	ck_assert_uint_eq(t->body_prompt_len, sizeof(body) - 1);
	ck_assert_int_eq(t->body_truncated, 0);
	ck_assert_str_eq(t->customer_id, "C-7");
	ck_assert_str_eq(t->customer_email, "ana@example.com");
	ck_assert_str_eq(t->customer_name, "Ana Lima");
	ck_assert_int_eq(t->tier, TIER_ENTERPRISE);
	ck_assert_str_eq(t->language, "pt-BR");

	/* tags outlive the parsed document (their own reference); metadata is kept as its text */
	ck_assert_ptr_nonnull(t->tags);
	ck_assert(json_object_is_type(t->tags, json_type_array));
	ck_assert_uint_eq(json_object_array_length(t->tags), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(t->tags, 0)), "billing");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(t->tags, 1)), "refund");
	ck_assert_ptr_nonnull(t->metadata_json);
	v = json_tokener_parse(t->metadata_json);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
			 "{\"order\":42,\"nested\":{\"ok\":true,\"list\":[1,2.5,null]}}");
	json_object_put(v);
	ticket_free(t);
}
END_TEST

/* What the claim has stored is dropped from a ticket held in flight; triage's fields stay. */
START_TEST(test_drop_stored_only)
{
	static const char msg[] = "{" BASE ",\"created_at\":\"2026-11-16T09:44:09+01:00\","
				  "\"tags\":[\"billing\"],\"metadata\":{\"order\":42}}";
	struct ticket *t = NULL;
	json_object *o, *v;
	char err[256];

	ck_assert_int_eq(parse(J(msg), &t, err, sizeof(err)), TICKET_OK);
	ck_assert_ptr_nonnull(t->metadata_json);
	ck_assert_ptr_nonnull(t->original);
	ticket_drop_stored_only(t);
	ck_assert_ptr_null(t->metadata_json);
	ck_assert_ptr_null(t->original);
	ck_assert_str_eq(t->body, "hello");
	ck_assert_str_eq(t->created_at, "2026-11-16T08:44:09Z");
	ck_assert_uint_eq(json_object_array_length(t->tags), 1);
	o = ticket_to_json(t);
	ck_assert(json_object_object_get_ex(o, "metadata", &v));
	ck_assert_ptr_null(v);
	json_object_put(o);
	ticket_drop_stored_only(t); /* twice is harmless */
	ticket_free(t);
}
END_TEST

START_TEST(test_defaults)
{
	struct ticket *t = NULL;
	char err[256];

	/* a created_at given as stored has nothing to keep beside it */
	ck_assert_int_eq(parse(J("{" BASE ",\"created_at\":\"2026-11-24T04:40:00Z\"}"), &t, err,
			       sizeof(err)),
			 TICKET_OK);
	ck_assert_str_eq(t->created_at, "2026-11-24T04:40:00Z");
	ck_assert_ptr_null(t->original);
	ticket_free(t);

	ck_assert_int_eq(parse(J("{" BASE "}"), &t, err, sizeof(err)), TICKET_OK);
	ck_assert_str_eq(t->ticket_id, "T-1");
	ck_assert_str_eq(t->source, "default");
	ck_assert_ptr_null(t->created_at);
	ck_assert_int_eq(t->channel, CH_OTHER);
	ck_assert_str_eq(t->subject, "");
	ck_assert_str_eq(t->body, "hello");
	ck_assert_uint_eq(t->body_len, 5);
	ck_assert_uint_eq(t->body_prompt_len, 5);
	ck_assert_int_eq(t->body_truncated, 0);
	ck_assert_ptr_null(t->customer_id);
	ck_assert_ptr_null(t->customer_email);
	ck_assert_ptr_null(t->customer_name);
	ck_assert_int_eq(t->tier, TIER_NONE);
	ck_assert_ptr_null(t->language);
	ck_assert_ptr_null(t->tags);
	ck_assert_ptr_null(t->metadata_json);
	ticket_free(t);
}
END_TEST

START_TEST(test_nulls_are_absent)
{
	static const char msg[] = "{" BASE ",\"source\":null,\"created_at\":null,\"channel\":null,"
				  "\"subject\":null,\"customer\":{\"id\":null,\"email\":null,"
				  "\"name\":null,\"tier\":null},\"language\":null,\"tags\":null,"
				  "\"metadata\":null}";
	struct ticket *t = NULL;
	char err[256];

	ck_assert_int_eq(parse(J(msg), &t, err, sizeof(err)), TICKET_OK);
	ck_assert_str_eq(t->source, "default");
	ck_assert_ptr_null(t->created_at);
	ck_assert_int_eq(t->channel, CH_OTHER);
	ck_assert_str_eq(t->subject, "");
	ck_assert_ptr_null(t->customer_id);
	ck_assert_ptr_null(t->customer_email);
	ck_assert_ptr_null(t->customer_name);
	ck_assert_int_eq(t->tier, TIER_NONE);
	ck_assert_ptr_null(t->language);
	ck_assert_ptr_null(t->tags);
	ck_assert_ptr_null(t->metadata_json);
	ticket_free(t);

	/* an absent object and a null one are the same */
	ck_assert_int_eq(parse(J("{" BASE ",\"customer\":null}"), &t, err, sizeof(err)), TICKET_OK);
	ck_assert_ptr_null(t->customer_id);
	ticket_free(t);
}
END_TEST

START_TEST(test_channels_and_tiers)
{
	static const char *const tiers[] = {"free", "standard", "premium", "enterprise"};

	for (int c = 0; c < CH__COUNT; c++) {
		struct ticket *t = NULL;
		char msg[128], err[256];

		snprintf(msg, sizeof(msg), "{" BASE ",\"channel\":\"%s\"}",
			 ticket_channel_name((enum ticket_channel)c));
		ck_assert_int_eq(parse(msg, strlen(msg), &t, err, sizeof(err)), TICKET_OK);
		ck_assert_int_eq(t->channel, c);
		ticket_free(t);
	}
	for (size_t i = 0; i < ARRAY_SIZE(tiers); i++) {
		struct ticket *t = NULL;
		char msg[128], err[256];

		snprintf(msg, sizeof(msg), "{" BASE ",\"customer\":{\"tier\":\"%s\"}}", tiers[i]);
		ck_assert_int_eq(parse(msg, strlen(msg), &t, err, sizeof(err)), TICKET_OK);
		ck_assert_int_eq(t->tier, TIER_FREE + (int)i);
		ck_assert_str_eq(customer_tier_name(t->tier), tiers[i]);
		ticket_free(t);
	}
}
END_TEST

/* ---- messages that parse: the decoded body is checked when given ---- */

static const struct ok_case {
	const char *msg;
	size_t len;
	const char *body; /* expected decoded body, or NULL for "hello" */
} ok_cases[] = {
	{J("{" BASE "}"), NULL},
	{J(" \r\n\t{" BASE "}\n"), NULL},
	{J("{\"extra\":[1,{\"a\":null}],\"we\\\"ird\":\"x\"," BASE "}"), NULL},
	/* an escaped backslash before "u0000" is text, not a NUL */
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\\\u0000\"}"), "\\u0000"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"a\\\\\\\\\"}"), "a\\\\"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\\"q\\\" \\/ \\b\\f\\n\\r\\t\"}"),
	 "\"q\" / \n\r\t"}, /* BS and FF stripped from the text shown */
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\ud83d\\ude00\"}"), "\xf0\x9f\x98\x80"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\uD83D\\uDE00!\"}"), "\xf0\x9f\x98\x80!"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\udbff\\udfff\"}"), "\xf4\x8f\xbf\xbf"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"caf\\u00e9 \\ufffd \\u0001\"}"),
	 "caf\xc3\xa9 \xef\xbf\xbd "},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\xf4\x8f\xbf\xbf \xef\xbf\xbd \xc2\x85\"}"),
	 "\xf4\x8f\xbf\xbf \xef\xbf\xbd "}, /* C1 NEL stripped */
	{J("{\"ticket_id\":\"T-\xc3\xa9\",\"body\":\"x\"}"), "x"},
	{J("{" BASE ",\"metadata\":{\"n\":[0,-0,1.5,1e5,1E+2,-1.25e-3,10],\"b\":[true,false,null],"
	   "\"e\":{},\"a\":[[]]}}"),
	 NULL},
	{J("{" BASE ",\"tags\":[],\"metadata\":{}}"), NULL},
	{J("{" BASE ",\"created_at\":\"2026-11-24t05:40:00z\"}"), NULL},
	{J("{" BASE ",\"language\":\"12345678901234567890123456789012345\"}"), NULL},
	{J("{" BASE ",\"customer\":{\"unknown\":[1],\"tier\":\"free\"}}"), NULL},
};

START_TEST(test_ok_table)
{
	const struct ok_case *c = &ok_cases[_i];
	struct ticket *t = NULL;
	const char *body = c->body ? c->body : "hello";
	char err[256];
	enum ticket_err rc = parse(c->msg, c->len, &t, err, sizeof(err));

	ck_assert_msg(rc == TICKET_OK, "case %d: got %s (%s)", _i, ticket_err_code(rc), err);
	ck_assert_str_eq(t->body, body);
	ck_assert_uint_eq(t->body_len, strlen(body));
	ticket_free(t);
}
END_TEST

/* ---- messages that fail: the code and a piece of err that names the field ---- */

static const struct err_case {
	const char *msg;
	size_t len;
	enum ticket_err want;
	const char *err_has;
} err_cases[] = {
	/* not JSON, or not an object */
	{J(""), TICKET_E_JSON, "message: empty"},
	{J("not json"), TICKET_E_JSON, "message: "},
	{J("{\"ticket_id\":"), TICKET_E_JSON, "message: unexpected end of input"},
	{J("[1,2]"), TICKET_E_JSON, "message: expected a JSON object, got array"},
	{J("\"str\""), TICKET_E_JSON, "message: expected a JSON object, got string"},
	{J("42"), TICKET_E_JSON, "message: expected a JSON object, got number"},
	{J("null"), TICKET_E_JSON, "message: expected a JSON object, got null"},
	{J("{" BASE "} x"), TICKET_E_JSON, "message: "},
	{J("{" BASE "}{}"), TICKET_E_JSON, "message: "},
	{J("{" BASE "}\0"), TICKET_E_JSON,
	 "message: unexpected data after the JSON value at byte 34"},
	{J("{" BASE "\0}"), TICKET_E_JSON, "message: "},
	{J("{" BASE ",}"), TICKET_E_JSON, "message: "},
	{J("{/*c*/" BASE "}"), TICKET_E_JSON, "message: "},
	{J("\xef\xbb\xbf{" BASE "}"), TICKET_E_JSON, "message: "},
	/* accepted by json-c even in strict mode, rejected by the second pass */
	{J("{'ticket_id':\"T-1\",\"body\":\"b\"}"), TICKET_E_JSON, "message: single-quoted string"},
	{J("{" BASE ",\"metadata\":{\"x\":NaN}}"), TICKET_E_JSON,
	 "metadata.x: 'NaN' is not a JSON value"},
	{J("{" BASE ",\"metadata\":{\"x\":-Infinity}}"), TICKET_E_JSON, "metadata.x: '-Infinity'"},
	{J("{" BASE ",\"metadata\":{\"x\":[0,1.]}}"), TICKET_E_JSON, "metadata.x[1]: '1.'"},
	{J("{" BASE ",\"metadata\":{\"x\":-01}}"), TICKET_E_JSON, "metadata.x: '-01'"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"a\nb\"}"), TICKET_E_JSON,
	 "body: unescaped control character 0x0a"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"a\tb\"}"), TICKET_E_JSON, "body: unescaped control"},

	/* invalid UTF-8 in the raw bytes: json-c itself accepts the overlong and the surrogate */
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\xff\"}"), TICKET_E_UTF8,
	 "message: invalid UTF-8 at byte 27"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\xc0\x80\"}"), TICKET_E_UTF8,
	 "message: invalid UTF-8"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\xed\xa0\x80\"}"), TICKET_E_UTF8,
	 "message: invalid UTF-8"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\xf4\x90\x80\x80\"}"), TICKET_E_UTF8,
	 "message: invalid"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\xe2\x82\"}"), TICKET_E_UTF8,
	 "message: invalid UTF-8"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"x\xe2\x82"), TICKET_E_UTF8, "message: invalid UTF-8"},
	/* NUL through \u0000: json-c decodes it into values and truncates names at it */
	{J("{\"ticket_id\":\"T-1\",\"body\":\"a\\u0000b\"}"), TICKET_E_UTF8,
	 "body: \\u0000 (NUL) is not allowed"},
	{J("{" BASE ",\"customer\":{\"email\":\"a\\u0000@b\"}}"), TICKET_E_UTF8,
	 "customer.email: "},
	{J("{" BASE ",\"tags\":[\"a\",\"\\u0000\"]}"), TICKET_E_UTF8, "tags[1]: \\u0000"},
	{J("{" BASE ",\"metadata\":{\"a\\u0000b\":1}}"), TICKET_E_UTF8, "metadata: \\u0000"},
	{J("{" BASE ",\"x\\u0000\":1}"), TICKET_E_UTF8, "message: \\u0000"},
	{J("{" BASE ",\"extra\":\"\\u0000\"}"), TICKET_E_UTF8, "extra: \\u0000"},
	/* lone surrogate escapes: json-c turns them into U+FFFD without a word */
	{J("{\"ticket_id\":\"T-1\",\"body\":\"a\\ud800b\"}"), TICKET_E_UTF8,
	 "body: \\ud800 is a lone UTF-16 surrogate"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\udc00\"}"), TICKET_E_UTF8,
	 "body: \\udc00 is a lone"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\uDE00\"}"), TICKET_E_UTF8,
	 "body: \\ude00 is a lone"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\ud83d\"}"), TICKET_E_UTF8,
	 "body: \\ud83d is a lone"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\ud800\\u0041\"}"), TICKET_E_UTF8, "body: \\ud800"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\ud800\\ud800\"}"), TICKET_E_UTF8, "body: \\ud800"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\ude00\\ud83d\"}"), TICKET_E_UTF8, "body: \\ude00"},
	{J("{" BASE ",\"metadata\":{\"k\":[{\"\\ud800\":1}]}}"), TICKET_E_UTF8, "metadata.k[0]: "},

	/* required fields absent, null or blank */
	{J("{\"body\":\"b\"}"), TICKET_E_MISSING, "ticket_id: required"},
	{J("{\"ticket_id\":null,\"body\":\"b\"}"), TICKET_E_MISSING, "ticket_id: required"},
	{J("{\"ticket_id\":\"\",\"body\":\"b\"}"), TICKET_E_MISSING,
	 "ticket_id: must not be blank"},
	{J("{\"ticket_id\":\"   \",\"body\":\"b\"}"), TICKET_E_MISSING, "ticket_id: must not be"},
	{J("{\"ticket_id\":\"T-1\"}"), TICKET_E_MISSING, "body: required"},
	{J("{\"ticket_id\":\"T-1\",\"body\":null}"), TICKET_E_MISSING, "body: required"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\"}"), TICKET_E_MISSING, "body: must not be blank"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\" \\t\\r\\n \"}"), TICKET_E_MISSING, "body: must not"},

	/* wrong JSON types */
	{J("{\"ticket_id\":7,\"body\":\"b\"}"), TICKET_E_TYPE,
	 "ticket_id: expected string, got number"},
	{J("{\"ticket_id\":\"T-1\",\"body\":42}"), TICKET_E_TYPE,
	 "body: expected string, got number"},
	{J("{\"ticket_id\":\"T-1\",\"body\":{}}"), TICKET_E_TYPE,
	 "body: expected string, got object"},
	{J("{" BASE ",\"source\":1}"), TICKET_E_TYPE, "source: expected string, got number"},
	{J("{" BASE ",\"subject\":[]}"), TICKET_E_TYPE, "subject: expected string, got array"},
	{J("{" BASE ",\"customer\":\"x\"}"), TICKET_E_TYPE,
	 "customer: expected object, got string"},
	{J("{" BASE ",\"customer\":[]}"), TICKET_E_TYPE, "customer: expected object, got array"},
	{J("{" BASE ",\"customer\":{\"id\":1}}"), TICKET_E_TYPE, "customer.id: expected string"},
	{J("{" BASE ",\"customer\":{\"email\":5}}"), TICKET_E_TYPE, "customer.email: expected"},
	{J("{" BASE ",\"customer\":{\"name\":false}}"), TICKET_E_TYPE, "customer.name: expected"},
	{J("{" BASE ",\"tags\":\"a\"}"), TICKET_E_TYPE, "tags: expected array, got string"},
	{J("{" BASE ",\"tags\":{}}"), TICKET_E_TYPE, "tags: expected array, got object"},
	{J("{" BASE ",\"tags\":[1]}"), TICKET_E_TYPE, "tags[0]: expected string, got number"},
	{J("{" BASE ",\"tags\":[\"a\",null]}"), TICKET_E_TYPE,
	 "tags[1]: expected string, got null"},
	{J("{" BASE ",\"tags\":[\"a\",[\"b\"]]}"), TICKET_E_TYPE,
	 "tags[1]: expected string, got array"},
	{J("{" BASE ",\"metadata\":[]}"), TICKET_E_TYPE, "metadata: expected object, got array"},
	{J("{" BASE ",\"metadata\":\"x\"}"), TICKET_E_TYPE,
	 "metadata: expected object, got string"},
	{J("{" BASE ",\"metadata\":1}"), TICKET_E_TYPE, "metadata: expected object, got number"},

	/* values outside their domain */
	{J("{\"ticket_id\":\"T\\n1\",\"body\":\"b\"}"), TICKET_E_VALUE,
	 "ticket_id: contains a control character"},
	{J("{\"ticket_id\":\"T\\u0085\",\"body\":\"b\"}"), TICKET_E_VALUE, "ticket_id: contains a"},
	{J("{\"ticket_id\":\"T\\u007f\",\"body\":\"b\"}"), TICKET_E_VALUE, "ticket_id: contains a"},
	{J("{" BASE ",\"source\":\"\"}"), TICKET_E_VALUE, "source: must not be empty"},
	{J("{" BASE ",\"source\":\"a\\tb\"}"), TICKET_E_VALUE,
	 "source: contains a control character"},
	{J("{" BASE ",\"source\":\" \"}"), TICKET_E_VALUE, "source: must not be blank"},
	{J("{" BASE ",\"source\":\"\\u00a0\\u3000\"}"), TICKET_E_VALUE, "source: must not be blank"},
	/* blank is Unicode white space and invisible format characters, not only ASCII */
	{J("{\"ticket_id\":\"\\u00a0\",\"body\":\"b\"}"), TICKET_E_MISSING, "ticket_id: must not be"},
	{J("{\"ticket_id\":\"\\t\\t\",\"body\":\"b\"}"), TICKET_E_MISSING, "ticket_id: must not be"},
	{J("{\"ticket_id\":\"\\ufeff\",\"body\":\"b\"}"), TICKET_E_MISSING, "ticket_id: must not be"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\u3000\\u200b\\u2028 \"}"), TICKET_E_MISSING,
	 "body: must not be blank"},
	{J("{\"ticket_id\":\"T-1\",\"body\":\"\\u0001\\u001b\"}"), TICKET_E_MISSING,
	 "body: must not be blank"},
	/* duplicate names of contract members (I-JSON): two parsers would disagree */
	{J("{\"ticket_id\":\"A\",\"body\":\"b\",\"ticket_id\":\"B\"}"), TICKET_E_JSON,
	 "ticket_id: duplicate member name"},
	{J("{" BASE ",\"body\":\"c\"}"), TICKET_E_JSON, "body: duplicate member name"},
	{J("{" BASE ",\"ticket\\u005fid\":\"B\"}"), TICKET_E_JSON, "ticket_id: duplicate"},
	{J("{" BASE ",\"customer\":{\"tier\":\"free\",\"tier\":\"enterprise\"}}"),
	 TICKET_E_JSON, "customer.tier: duplicate member name"},
	{J("{" BASE ",\"metadata\":{},\"metadata\":{}}"), TICKET_E_JSON, "metadata: duplicate"},
};

START_TEST(test_err_table)
{
	const struct err_case *c = &err_cases[_i];
	struct ticket *t = (struct ticket *)&t; /* must be reset to NULL */
	char err[256];
	enum ticket_err rc = parse(c->msg, c->len, &t, err, sizeof(err));

	ck_assert_msg(rc == c->want, "case %d: got %s (%s), want %s", _i, ticket_err_code(rc), err,
		      ticket_err_code(c->want));
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err, c->err_has) != NULL, "case %d: err '%s' lacks '%s'", _i, err,
		      c->err_has);
}
END_TEST

START_TEST(test_err_text_exact)
{
	struct ticket *t = NULL;
	char err[256], *big = message_of_size(300000);

	ck_assert_int_eq(parse(J("{\"ticket_id\":\"T-1\"}"), &t, err, sizeof(err)),
			 TICKET_E_MISSING);
	ck_assert_str_eq(err, "body: required");
	ck_assert_int_eq(parse(J("{" BASE ",\"source\":\"\\u200b\"}"), &t, err, sizeof(err)),
			 TICKET_E_VALUE);
	ck_assert_str_eq(err, "source: must not be blank");
	ck_assert_int_eq(parse(big, 300000, &t, err, sizeof(err)), TICKET_E_TOO_LARGE);
	ck_assert_str_eq(err, "message: 300000 bytes exceeds the 262144-byte limit");
	free(big);
}
END_TEST

START_TEST(test_err_buffers)
{
	struct ticket *t = NULL;
	char err[8];

	/* err may be NULL, and a short err is truncated, not overrun */
	ck_assert_int_eq(ticket_parse(J("{\"ticket_id\":\"T-1\"}"), NULL, 0, NULL, &t, NULL, 0),
			 TICKET_E_MISSING);
	ck_assert_ptr_null(t);
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(ticket_parse(J("{\"ticket_id\":\"T-1\"}"), NULL, 0, NULL, &t, err, 5),
			 TICKET_E_MISSING);
	ck_assert_str_eq(err, "body");
	ck_assert_int_eq(err[5], 'x');
	/* a Kafka tombstone has no payload */
	ck_assert_int_eq(ticket_parse(NULL, 0, NULL, 0, NULL, &t, err, sizeof(err)), TICKET_E_JSON);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_nesting_limit)
{
	struct buf b;
	struct ticket *t = NULL;
	char err[256];
	int ok_depth = JSON_TOKENER_DEFAULT_DEPTH - 2; /* the top-level object and metadata count */

	for (int depth = ok_depth; depth <= ok_depth + 1; depth++) {
		buf_init(&b, 4096);
		ck_assert_int_eq(buf_appendf(&b, "{" BASE ",\"metadata\":{\"a\":"), 0);
		for (int i = 0; i < depth; i++)
			ck_assert_int_eq(buf_append(&b, "[", 1), 0);
		for (int i = 0; i < depth; i++)
			ck_assert_int_eq(buf_append(&b, "]", 1), 0);
		ck_assert_int_eq(buf_append(&b, "}}", 2), 0);
		if (depth == ok_depth) {
			ck_assert_int_eq(parse(b.data, b.len, &t, err, sizeof(err)), TICKET_OK);
			ticket_free(t);
		} else {
			ck_assert_int_eq(parse(b.data, b.len, &t, err, sizeof(err)), TICKET_E_JSON);
			ck_assert_ptr_nonnull(strstr(err, "message: nesting too deep"));
		}
		buf_cleanup(&b);
	}
}
END_TEST

/* ---- lenient optional fields: kept as given, mapped to a default, flagged ---- */

static const struct lenient_case {
	const char *msg;
	size_t len;
	unsigned flag;
	const char *orig_key; /* key in t->original */
	const char *orig;     /* its value */
	int channel, tier;    /* expected mapping, -1: not checked */
} lenient_cases[] = {
	{J("{" BASE ",\"channel\":\"fax\"}"), TICKET_F_CHANNEL, "channel", "fax", CH_OTHER, -1},
	{J("{" BASE ",\"channel\":\"Email\"}"), TICKET_F_CHANNEL, "channel", "Email", CH_OTHER, -1},
	{J("{" BASE ",\"channel\":\"\"}"), TICKET_F_CHANNEL, "channel", "", CH_OTHER, -1},
	{J("{" BASE ",\"channel\":true}"), TICKET_F_CHANNEL, "channel", "true", CH_OTHER, -1},
	{J("{" BASE ",\"customer\":{\"tier\":\"pro\"}}"), TICKET_F_TIER, "customer.tier", "pro", -1,
	 TIER_STANDARD},
	{J("{" BASE ",\"customer\":{\"tier\":\"none\"}}"), TICKET_F_TIER, "customer.tier", "none",
	 -1, TIER_STANDARD},
	{J("{" BASE ",\"customer\":{\"tier\":1}}"), TICKET_F_TIER, "customer.tier", "1", -1,
	 TIER_STANDARD},
	{J("{" BASE ",\"customer\":{\"tier\":{\"plan\": \"x\"}}}"), TICKET_F_TIER, "customer.tier",
	 "{\"plan\": \"x\"}", -1, TIER_STANDARD},
	{J("{" BASE ",\"language\":1.5}"), TICKET_F_LANGUAGE, "language", "1.5", -1, -1},
	{J("{" BASE ",\"language\":\"123456789012345678901234567890123456\"}"), TICKET_F_LANGUAGE,
	 "language", "123456789012345678901234567890123456", -1, -1},
	{J("{" BASE ",\"language\":\" \"}"), TICKET_F_LANGUAGE, "language", " ", -1, -1},
	{J("{" BASE ",\"created_at\":5}"), TICKET_F_CREATED_AT, "created_at", "5", -1, -1},
	{J("{" BASE ",\"created_at\":\"2026-13-01T00:00:00Z\"}"), TICKET_F_CREATED_AT, "created_at",
	 "2026-13-01T00:00:00Z", -1, -1},
	{J("{" BASE ",\"created_at\":\"\"}"), TICKET_F_CREATED_AT, "created_at", "", -1, -1},
	{J("{" BASE ",\"created_at\":\"2026-11-24 05:40:00Z\"}"), TICKET_F_CREATED_AT,
	 "created_at", "2026-11-24 05:40:00Z", -1, -1},
	/* valid RFC 3339 that PostgreSQL cannot hold: year 0000 in UTC */
	{J("{" BASE ",\"created_at\":\"0000-12-31T23:00:00Z\"}"), TICKET_F_CREATED_AT, "created_at",
	 "0000-12-31T23:00:00Z", -1, -1},
	{J("{" BASE ",\"created_at\":\"0001-01-01T00:00:00+00:01\"}"), TICKET_F_CREATED_AT,
	 "created_at", "0001-01-01T00:00:00+00:01", -1, -1},
	{J("{" BASE ",\"subject\":\"a\\u001b[31mb\"}"), TICKET_F_CONTROLS, "subject",
	 "a\x1b[31mb", -1, -1},
	{J("{" BASE ",\"customer\":{\"name\":\"An\\u0085a\"}}"), TICKET_F_CONTROLS, "customer.name",
	 "An\xc2\x85" "a", -1, -1},
};

START_TEST(test_lenient_table)
{
	const struct lenient_case *c = &lenient_cases[_i];
	struct ticket_opts o;
	struct ticket *t = NULL;
	json_object *v = NULL;
	char err[256];
	enum ticket_err rc;

	ticket_opts_default(&o);
	o.kafka_ts_ms = 1764000000123LL; /* 2025-11-24T16:00:00.123Z */
	rc = ticket_parse_ex(c->msg, c->len, NULL, 0, &o, &t, err, sizeof(err));
	ck_assert_msg(rc == TICKET_OK, "case %d: got %s (%s)", _i, ticket_err_code(rc), err);
	ck_assert_msg(t->flags == c->flag, "case %d: flags %u, want %u", _i, t->flags, c->flag);
	ck_assert_msg(json_object_object_get_ex(t->original, c->orig_key, &v), "case %d", _i);
	ck_assert_str_eq(json_object_get_string(v), c->orig);
	if (c->channel >= 0)
		ck_assert_int_eq(t->channel, c->channel);
	if (c->tier >= 0)
		ck_assert_int_eq(t->tier, c->tier);
	if (c->flag == TICKET_F_CREATED_AT)
		ck_assert_str_eq(t->created_at, "2025-11-24T16:00:00.123Z");
	if (c->flag == TICKET_F_LANGUAGE)
		ck_assert_ptr_null(t->language);
	if (c->flag == TICKET_F_CONTROLS && strcmp(c->orig_key, "subject") == 0)
		ck_assert_str_eq(t->subject, "a[31mb");
	if (c->flag == TICKET_F_CONTROLS && strcmp(c->orig_key, "customer.name") == 0)
		ck_assert_str_eq(t->customer_name, "Ana");
	ticket_free(t);
}
END_TEST

START_TEST(test_tier_map)
{
	struct tier_map m;
	struct ticket_opts o;
	struct ticket *t = NULL;
	char err[256];

	ck_assert_int_eq(tier_map_parse(" pro=premium, Team = standard ,,free=free", &m, err,
					sizeof(err)),
			 0);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_str_eq(m.e[1].name, "Team");
	ck_assert_int_eq(m.e[1].tier, TIER_STANDARD);
	ck_assert_int_eq(tier_map_parse("", &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_int_eq(tier_map_parse("pro=gold", &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
			 "tier map entry 'pro=gold': 'gold' is not one of free, standard, premium, "
			 "enterprise");
	ck_assert_int_eq(tier_map_parse("pro", &m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "tier map entry 'pro' is not name=tier");

	ck_assert_int_eq(tier_map_parse("pro=premium,business=enterprise", &m, err, sizeof(err)), 0);
	ticket_opts_default(&o);
	o.tier_map = &m;
	ck_assert_int_eq(ticket_parse_ex(J("{" BASE ",\"customer\":{\"tier\":\"Pro\"}}"), NULL, 0,
					 &o, &t, err, sizeof(err)),
			 TICKET_OK);
	ck_assert_int_eq(t->tier, TIER_PREMIUM);
	ck_assert_uint_eq(t->flags, TICKET_F_TIER);
	ticket_free(t);
	/* not in the map: standard */
	ck_assert_int_eq(ticket_parse_ex(J("{" BASE ",\"customer\":{\"tier\":\"gold\"}}"), NULL, 0,
					 &o, &t, err, sizeof(err)),
			 TICKET_OK);
	ck_assert_int_eq(t->tier, TIER_STANDARD);
	ticket_free(t);
	/* without a Kafka timestamp a bad created_at leaves the time empty (the database's default) */
	o.kafka_ts_ms = -1;
	ck_assert_int_eq(ticket_parse_ex(J("{" BASE ",\"created_at\":\"yesterday\"}"), NULL, 0, &o,
					 &t, err, sizeof(err)),
			 TICKET_OK);
	ck_assert_ptr_null(t->created_at);
	ck_assert_uint_eq(t->flags, TICKET_F_CREATED_AT);
	ticket_free(t);
}
END_TEST

/* metadata is kept as its original JSON text: numbers json-c would clamp or round survive */
START_TEST(test_metadata_bytes)
{
	static const char meta[] =
		"{\"big\": 123456789012345678901234567890, \"neg\":-99999999999999999999999,"
		"\"tiny\":1e-400,\"pi\":3.141592653589793238462643383279,"
		"\"deep\":{\"a\":[{\"b\":[1.0,2.50,-0]}]}, \"s\":\"\\u00e9\\n\"}";
	char msg[512];
	struct ticket *t = NULL;
	json_object *o;
	char err[256];

	snprintf(msg, sizeof(msg), "{" BASE ",\"metadata\":%s }", meta);
	ck_assert_int_eq(parse(msg, strlen(msg), &t, err, sizeof(err)), TICKET_OK);
	ck_assert_str_eq(t->metadata_json, meta);
	o = ticket_to_json(t);
	ck_assert_ptr_nonnull(o);
	/* check-ticket shows it as stored: the same bytes, not json-c's numbers */
	ck_assert_ptr_nonnull(strstr(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), meta));
	json_object_put(o);
	ticket_free(t);
}
END_TEST

/* 32 containers, one in the other, with a value in the innermost: "nesting at most 32 deep" */
START_TEST(test_nesting_with_value)
{
	struct buf b;
	struct ticket *t = NULL;
	char err[256];

	for (int containers = 32; containers <= 33; containers++) {
		buf_init(&b, 4096);
		/* the top-level object and metadata are two of them */
		ck_assert_int_eq(buf_appendf(&b, "{" BASE ",\"metadata\":{\"a\":"), 0);
		for (int i = 0; i < containers - 2; i++)
			ck_assert_int_eq(buf_append(&b, "[", 1), 0);
		ck_assert_int_eq(buf_append(&b, "1", 1), 0);
		for (int i = 0; i < containers - 2; i++)
			ck_assert_int_eq(buf_append(&b, "]", 1), 0);
		ck_assert_int_eq(buf_append(&b, "}}", 2), 0);
		ck_assert_int_eq(parse(b.data, b.len, &t, err, sizeof(err)),
				 containers == 32 ? TICKET_OK : TICKET_E_JSON);
		ticket_free(t);
		t = NULL;
		buf_cleanup(&b);
	}
}
END_TEST

static const struct utc_case {
	const char *in;
	int rc;
	const char *out;
} utc_cases[] = {
	{"2026-11-24T05:40:00Z", 0, "2026-11-24T05:40:00Z"},
	{"2026-11-24t05:40:00.25z", 0, "2026-11-24T05:40:00.25Z"},
	{"2026-11-24T05:40:00.123456789+01:00", 0, "2026-11-24T04:40:00.123456Z"},
	/* offsets PostgreSQL refuses (16 hours or more) are converted here */
	{"2026-01-01T10:00:00+16:00", 0, "2025-12-31T18:00:00Z"},
	{"2026-12-31T23:00:00-23:59", 0, "2027-01-01T22:59:00Z"},
	{"0000-12-31T23:00:00-01:00", 0, "0001-01-01T00:00:00Z"},
	{"2016-12-31T23:59:60Z", 0, "2016-12-31T23:59:60Z"},
	{"2017-01-01T00:59:60+01:00", 0, "2016-12-31T23:59:60Z"},
	{"9999-12-31T23:59:59.999999999Z", 0, "9999-12-31T23:59:59.999999Z"},
	{"0000-06-01T00:00:00Z", -2, NULL},
	{"9999-12-31T23:00:00-01:00", -2, NULL},
	{"2026-13-01T00:00:00Z", -1, NULL},
	{"2026-11-24T05:40:00", -1, NULL},
};

START_TEST(test_rfc3339_to_utc)
{
	const struct utc_case *c = &utc_cases[_i];
	char out[32] = "";

	ck_assert_msg(rfc3339_to_utc(c->in, out) == c->rc, "case %d (%s)", _i, c->in);
	if (c->out != NULL)
		ck_assert_str_eq(out, c->out);
}
END_TEST

START_TEST(test_rfc3339_from_ms)
{
	char out[32];

	ck_assert_int_eq(rfc3339_from_ms(0, out), 0);
	ck_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
	ck_assert_int_eq(rfc3339_from_ms(1764000000123LL, out), 0);
	ck_assert_str_eq(out, "2025-11-24T16:00:00.123Z");
	ck_assert_int_eq(rfc3339_from_ms(-1, out), 0);
	ck_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
	ck_assert_int_eq(rfc3339_from_ms(253402300800000LL, out), -1);
}
END_TEST

/* Dead-letter reasons: valid UTF-8, one line, never the SQL of a libpq error. */
START_TEST(test_reasons)
{
	char out[64], big[40];
	static const char pg[] =
		"ERROR:  time zone displacement out of range: \"2026-01-01T00:00:00+16:00\"\n"
		"CONTEXT:  SQL statement \"INSERT INTO tickets AS tk (source) VALUES ($1)\"\n"
		"PL/pgSQL function triaged_claim(jsonb) line 12 at SQL statement\n";
	char reason[256];

	ck_assert_str_eq(ticket_reason_safe("key \xff\xfe ok", 9, out, sizeof(out)),
			 "key \\xFF\\xFE ok");
	ck_assert_str_eq(ticket_reason_safe("a\x1b[0m\xc2\x85z\\", 9, out, sizeof(out)),
			 "a\\u001B[0m\\u0085z\\\\");
	/* cut at a character boundary, marked */
	ck_assert_str_eq(ticket_reason_safe("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 10, big, 10),
			 "\xc3\xa9\xc3\xa9\xc3\xa9...");
	ck_assert_str_eq(ticket_db_reason(pg, reason, sizeof(reason)),
			 "the database refused the ticket's data: time zone displacement out of "
			 "range: \"2026-01-01T00:00:00+16:00\"");
	ck_assert_ptr_null(strstr(reason, "INSERT"));
	ck_assert_str_eq(ticket_db_reason(NULL, reason, sizeof(reason)),
			 "the database refused the ticket's data: unknown error");
}
END_TEST

START_TEST(test_cut_prompt)
{
	struct ticket *t = NULL;
	char err[256];
	static const char msg[] = "{\"ticket_id\":\"T-1\",\"body\":\"My card was charged twice.\\n\\n"
				  "On Mon, 3 Jun 2024 at 10:00, Support <help@example.com> wrote:\\n"
				  "> How can we help?\\n> Thanks\"}";

	ck_assert_int_eq(parse(J(msg), &t, err, sizeof(err)), TICKET_OK);
	ticket_cut_prompt(t);
	ck_assert_ptr_nonnull(t->prompt_body);
	ck_assert_str_eq(t->prompt_body, "My card was charged twice.");
	ck_assert_uint_eq(t->prompt_cut_bytes, t->body_len - strlen("My card was charged twice."));
	/* the stored body is untouched */
	ck_assert_ptr_nonnull(strstr(t->body, "wrote:"));
	ticket_free(t);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_message_cap)
{
	struct ticket_limits lim;
	struct ticket *t = NULL;
	size_t cap;
	char err[256], *m;

	ticket_limits_default(&lim);
	cap = lim.max_message_bytes;

	/* exactly at the cap: parses, and the body is cut for the prompt */
	m = message_of_size(cap);
	ck_assert_int_eq(parse_with(m, cap, NULL, 0, &lim, &t, err, sizeof(err)), TICKET_OK);
	ck_assert_uint_eq(t->body_len, cap - strlen("{\"ticket_id\":\"T-1\",\"body\":\"\"}"));
	ck_assert_uint_eq(t->body_prompt_len, lim.max_body_prompt_len);
	ck_assert_int_eq(t->body_truncated, 1);
	ticket_free(t);
	free(m);

	/* one byte over */
	m = message_of_size(cap + 1);
	ck_assert_int_eq(parse_with(m, cap + 1, NULL, 0, &lim, &t, err, sizeof(err)),
			 TICKET_E_TOO_LARGE);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err, "message: 262145 bytes exceeds the 262144-byte limit");

	/* the size is checked before anything else looks at the bytes */
	memset(m, 0xff, cap + 1);
	ck_assert_int_eq(parse_with(m, cap + 1, NULL, 0, &lim, &t, err, sizeof(err)),
			 TICKET_E_TOO_LARGE);
	free(m);

	/* a configured cap */
	lim.max_message_bytes = 100;
	m = message_of_size(100);
	ck_assert_int_eq(parse_with(m, 100, NULL, 0, &lim, &t, err, sizeof(err)), TICKET_OK);
	ticket_free(t);
	free(m);
	m = message_of_size(101);
	ck_assert_int_eq(parse_with(m, 101, NULL, 0, &lim, &t, err, sizeof(err)),
			 TICKET_E_TOO_LARGE);
	ck_assert_str_eq(err, "message: 101 bytes exceeds the 100-byte limit");
	free(m);
}
END_TEST

/* Small limits so the boundaries fit in a table: fields 8, subject 16, 3 tags. */
static const struct limit_case {
	const char *msg;
	size_t len;
	enum ticket_err want;
	const char *err_has; /* NULL when want is TICKET_OK */
} limit_cases[] = {
	{J("{\"ticket_id\":\"12345678\",\"body\":\"b\"}"), TICKET_OK, NULL},
	{J("{\"ticket_id\":\"123456789\",\"body\":\"b\"}"), TICKET_E_VALUE,
	 "ticket_id: 9 bytes exceeds the 8-byte limit"},
	/* lengths are bytes: four 2-byte characters fit, five do not */
	{J("{\"ticket_id\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"body\":\"b\"}"), TICKET_OK, NULL},
	{J("{\"ticket_id\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\",\"body\":\"b\"}"),
	 TICKET_E_VALUE, "ticket_id: 10 bytes exceeds the 8-byte limit"},
	{J("{" BASE ",\"source\":\"12345678\"}"), TICKET_OK, NULL},
	{J("{" BASE ",\"source\":\"123456789\"}"), TICKET_E_VALUE, "source: 9 bytes exceeds"},
	{J("{" BASE ",\"subject\":\"1234567890123456\"}"), TICKET_OK, NULL},
	{J("{" BASE ",\"subject\":\"12345678901234567\"}"), TICKET_E_VALUE,
	 "subject: 17 bytes exceeds the 16-byte limit"},
	{J("{" BASE
	   ",\"customer\":{\"id\":\"12345678\",\"email\":\"a@b.c.de\",\"name\":\"Ana Lima\"}}"),
	 TICKET_OK, NULL},
	{J("{" BASE ",\"customer\":{\"id\":\"123456789\"}}"), TICKET_E_VALUE,
	 "customer.id: 9 bytes"},
	{J("{" BASE ",\"customer\":{\"email\":\"a@b.c.def\"}}"), TICKET_E_VALUE,
	 "customer.email: 9"},
	{J("{" BASE ",\"customer\":{\"name\":\"Ana Limas\"}}"), TICKET_E_VALUE, "customer.name: 9"},
	{J("{" BASE ",\"tags\":[\"a\",\"b\",\"12345678\"]}"), TICKET_OK, NULL},
	{J("{" BASE ",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}"), TICKET_E_VALUE,
	 "tags: 4 entries exceeds the 3-entry limit"},
	{J("{" BASE ",\"tags\":[\"a\",\"123456789\"]}"), TICKET_E_VALUE,
	 "tags[1]: 9 bytes exceeds the 8-byte limit"},
	/* created_at is lenient: a long one is still a date */
	{J("{" BASE ",\"created_at\":\"2026-11-24T05:40:00Z\"}"), TICKET_OK, NULL},
	/* the language limit is fixed, not max_field_len */
	{J("{" BASE ",\"language\":\"en-GB-oxendict\"}"), TICKET_OK, NULL},
	/* the body has no limit of its own */
	{J("{\"ticket_id\":\"T-1\",\"body\":\"123456789012345678901234567890\"}"), TICKET_OK, NULL},
};

START_TEST(test_limit_table)
{
	const struct limit_case *c = &limit_cases[_i];
	struct ticket_limits lim;
	struct ticket *t = NULL;
	char err[256];
	enum ticket_err rc;

	ticket_limits_default(&lim);
	lim.max_field_len = 8;
	lim.max_subject_len = 16;
	lim.max_tags = 3;
	rc = parse_with(c->msg, c->len, NULL, 0, &lim, &t, err, sizeof(err));
	ck_assert_msg(rc == c->want, "case %d: got %s (%s), want %s", _i, ticket_err_code(rc), err,
		      ticket_err_code(c->want));
	if (c->want == TICKET_OK) {
		ck_assert_ptr_nonnull(t);
	} else {
		ck_assert_ptr_null(t);
		ck_assert_msg(strstr(err, c->err_has) != NULL, "case %d: err '%s' lacks '%s'", _i,
			      err, c->err_has);
	}
	ticket_free(t);
}
END_TEST

/* body_prompt_len with max_body_prompt_len = 10 */
static const struct trunc_case {
	const char *body; /* raw UTF-8, no characters that need escaping */
	size_t prompt_len;
	int truncated;
} trunc_cases[] = {
	{"0123456789", 10, 0},
	{"012345678", 9, 0},
	{"0123456789a", 10, 1},
	{"012345678\xc3\xa9", 9, 1}, /* 2-byte character across the cut */
	{"01234567\xc3\xa9", 10, 0}, /* ends exactly at the cut */
	{"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9, 1}, /* 3-byte */
	{"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8, 1}, /* 4-byte */
	{"01\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 10, 0},
};

START_TEST(test_truncation_table)
{
	const struct trunc_case *c = &trunc_cases[_i];
	struct ticket_limits lim;
	struct ticket *t = NULL;
	char msg[256], err[256];

	ticket_limits_default(&lim);
	lim.max_body_prompt_len = 10;
	snprintf(msg, sizeof(msg), "{\"ticket_id\":\"T-1\",\"body\":\"%s\"}", c->body);
	ck_assert_int_eq(parse_with(msg, strlen(msg), NULL, 0, &lim, &t, err, sizeof(err)),
			 TICKET_OK);
	ck_assert_str_eq(t->body, c->body); /* the full text is kept */
	ck_assert_uint_eq(t->body_len, strlen(c->body));
	ck_assert_msg(t->body_prompt_len == c->prompt_len, "case %d: prompt_len %zu, want %zu", _i,
		      t->body_prompt_len, c->prompt_len);
	ck_assert_int_eq(t->body_truncated, c->truncated);
	ticket_free(t);
}
END_TEST

/* ---- the Kafka key ---- */

static const struct key_case {
	const char *key;
	size_t keylen;
	enum ticket_err want;
} key_cases[] = {
	{NULL, 0, TICKET_OK},
	{NULL, 5, TICKET_OK}, /* no key: nothing to compare */
	{"", 0, TICKET_OK},
	{"T-1", 3, TICKET_OK},
	{"T-2", 3, TICKET_E_KEY_MISMATCH},
	{"T-12", 4, TICKET_E_KEY_MISMATCH},
	{"T-", 2, TICKET_E_KEY_MISMATCH},
	{"T-1\0", 4, TICKET_E_KEY_MISMATCH},
	{"t-1", 3, TICKET_E_KEY_MISMATCH},
};

START_TEST(test_key_table)
{
	const struct key_case *c = &key_cases[_i];
	struct ticket_limits lim;
	struct ticket *t = NULL;
	char err[256];
	enum ticket_err rc;

	ticket_limits_default(&lim);
	rc = parse_with(J("{" BASE "}"), c->key, c->keylen, &lim, &t, err, sizeof(err));
	ck_assert_msg(rc == c->want, "case %d: got %s (%s)", _i, ticket_err_code(rc), err);
	if (rc == TICKET_OK) {
		ck_assert_str_eq(t->ticket_id, "T-1");
		ticket_free(t);
	} else {
		ck_assert_ptr_null(t);
		ck_assert_ptr_nonnull(strstr(err, "ticket_id: 'T-1' does not match the Kafka key"));
	}
}
END_TEST

START_TEST(test_key_mismatch_text)
{
	struct ticket_limits lim;
	struct ticket *t = NULL;
	char err[256];

	ticket_limits_default(&lim);
	ck_assert_int_eq(parse_with(J("{" BASE "}"), "T-2", 3, &lim, &t, err, sizeof(err)),
			 TICKET_E_KEY_MISMATCH);
	ck_assert_str_eq(err, "ticket_id: 'T-1' does not match the Kafka key 'T-2'");
	/* a binary key is echoed as one printable line */
	ck_assert_int_eq(parse_with(J("{" BASE "}"), "a\nb", 3, &lim, &t, err, sizeof(err)),
			 TICKET_E_KEY_MISMATCH);
	ck_assert_str_eq(err, "ticket_id: 'T-1' does not match the Kafka key 'a?b'");
	/* a ticket without an id is missing, whatever the key */
	ck_assert_int_eq(parse_with(J("{\"body\":\"b\"}"), "T-2", 3, &lim, &t, err, sizeof(err)),
			 TICKET_E_MISSING);
}
END_TEST

/* ---- names and codes ---- */

START_TEST(test_names)
{
	static const char *const codes[] = {
		"ok",	      "too_large",     "invalid_utf8", "invalid_json", "missing_field",
		"wrong_type", "invalid_value", "key_mismatch"};
	enum ticket_channel ch = CH_EMAIL;
	enum customer_tier tier = TIER_FREE;
	struct ticket_limits lim;

	for (int e = TICKET_OK; e <= TICKET_E_KEY_MISMATCH; e++)
		ck_assert_str_eq(ticket_err_code((enum ticket_err)e), codes[e]);
	ck_assert_str_eq(ticket_err_code((enum ticket_err)99), "unknown");

	for (int c = 0; c < CH__COUNT; c++) {
		ck_assert_int_eq(
			ticket_channel_parse(ticket_channel_name((enum ticket_channel)c), &ch), 0);
		ck_assert_int_eq(ch, c);
	}
	ck_assert_str_eq(ticket_channel_name(CH_SOCIAL), "social");
	ck_assert_str_eq(ticket_channel_name(CH__COUNT), "unknown");
	ck_assert_int_eq(ticket_channel_parse("Email", &ch), -1);
	ck_assert_int_eq(ticket_channel_parse("", &ch), -1);
	ck_assert_int_eq(ticket_channel_parse(NULL, &ch), -1);
	ck_assert_int_eq(ch, CH_OTHER); /* untouched on failure */

	for (int t = TIER_FREE; t < TIER__COUNT; t++) {
		ck_assert_int_eq(
			customer_tier_parse(customer_tier_name((enum customer_tier)t), &tier), 0);
		ck_assert_int_eq(tier, t);
	}
	ck_assert_str_eq(customer_tier_name(TIER_NONE), "none");
	ck_assert_str_eq(customer_tier_name(TIER_PREMIUM), "premium");
	ck_assert_str_eq(customer_tier_name(TIER__COUNT), "unknown");
	ck_assert_int_eq(customer_tier_parse("none", &tier), -1);
	ck_assert_int_eq(customer_tier_parse("gold", &tier), -1);
	ck_assert_int_eq(customer_tier_parse(NULL, &tier), -1);

	ticket_limits_default(&lim);
	ck_assert_uint_eq(lim.max_message_bytes, 262144);
	ck_assert_uint_eq(lim.max_body_prompt_len, 16384);
	ck_assert_uint_eq(lim.max_field_len, 256);
	ck_assert_uint_eq(lim.max_subject_len, 1024);
	ck_assert_uint_eq(lim.max_tags, 64);

	ticket_free(NULL);
}
END_TEST

/* ---- UTF-8 ---- */

static const struct utf8_case {
	const char *s;
	size_t len;
	int valid;
} utf8_cases[] = {
	{J(""), 1},
	{J("plain ascii"), 1},
	{J("\0"), 1}, /* NUL is valid UTF-8; strings are checked for it separately */
	{J("\x7f"), 1},
	{J("\xc2\x80"), 1},	    /* U+0080, smallest 2-byte */
	{J("\xdf\xbf"), 1},	    /* U+07FF */
	{J("\xe0\xa0\x80"), 1},	    /* U+0800, smallest 3-byte */
	{J("\xe2\x82\xac"), 1},	    /* euro sign */
	{J("\xed\x9f\xbf"), 1},	    /* U+D7FF, below the surrogates */
	{J("\xee\x80\x80"), 1},	    /* U+E000, above them */
	{J("\xef\xbf\xbf"), 1},	    /* U+FFFF */
	{J("\xf0\x90\x80\x80"), 1}, /* U+10000, smallest 4-byte */
	{J("\xf0\x9f\x98\x80"), 1}, /* emoji */
	{J("\xf4\x8f\xbf\xbf"), 1}, /* U+10FFFF, the last code point */
	{J("a\xc3\xa9z\xe2\x82\xac\xf0\x9f\x98\x80"), 1},
	{J("\x80"), 0}, /* lone continuation byte */
	{J("\xbf"), 0},
	{J("\xc0\x80"), 0},		    /* overlong NUL */
	{J("\xc1\xbf"), 0},		    /* overlong U+007F */
	{J("\xe0\x80\x80"), 0},		    /* overlong 3-byte */
	{J("\xe0\x9f\xbf"), 0},		    /* overlong U+07FF */
	{J("\xed\xa0\x80"), 0},		    /* U+D800 surrogate */
	{J("\xed\xbf\xbf"), 0},		    /* U+DFFF surrogate */
	{J("\xf0\x80\x80\x80"), 0},	    /* overlong 4-byte */
	{J("\xf0\x8f\xbf\xbf"), 0},	    /* overlong U+FFFF */
	{J("\xf4\x90\x80\x80"), 0},	    /* U+110000 */
	{J("\xf5\x80\x80\x80"), 0},	    /* lead byte beyond U+10FFFF */
	{J("\xf8\x88\x80\x80\x80"), 0},	    /* 5-byte form */
	{J("\xfc\x84\x80\x80\x80\x80"), 0}, /* 6-byte form */
	{J("\xfe"), 0},
	{J("\xff"), 0},
	{J("\xc2"), 0},			/* truncated 2-byte */
	{J("\xe2\x82"), 0},		/* truncated 3-byte */
	{J("\xf0\x9f\x98"), 0},		/* truncated 4-byte */
	{J("\xe2\x82z"), 0},		/* continuation missing mid-string */
	{J("\xc3\xa9\xc3"), 0},		/* valid, then truncated */
	{J("\xf0\x9f\x98\x80\x80"), 0}, /* stray continuation after a full character */
};

START_TEST(test_utf8_valid_table)
{
	const struct utf8_case *c = &utf8_cases[_i];

	ck_assert_msg(utf8_valid(c->s, c->len) == c->valid, "case %d: want %d", _i, c->valid);
}
END_TEST

START_TEST(test_utf8_valid_len)
{
	/* only len bytes count: a character cut by len is invalid, what follows len is ignored */
	ck_assert_int_eq(utf8_valid("\xc3\xa9", 1), 0);
	ck_assert_int_eq(utf8_valid("ab\xff", 2), 1);
	ck_assert_int_eq(utf8_valid(NULL, 0), 1);
}
END_TEST

static const struct cut_case {
	const char *s;
	size_t len, max, want;
} cut_cases[] = {
	{"abc", 3, 5, 3},
	{"abc", 3, 3, 3},
	{"abc", 3, 2, 2},
	{"abc", 3, 0, 0},
	{"a\xc3\xa9z", 4, 1, 1}, /* 2-byte character at 1..2 */
	{"a\xc3\xa9z", 4, 2, 1}, /* inside it */
	{"a\xc3\xa9z", 4, 3, 3}, /* just after it */
	{"\xe2\x82\xacx", 4, 1, 0},
	{"\xe2\x82\xacx", 4, 2, 0},
	{"\xe2\x82\xacx", 4, 3, 3},
	{"\xf0\x9f\x98\x80", 4, 1, 0},
	{"\xf0\x9f\x98\x80", 4, 2, 0},
	{"\xf0\x9f\x98\x80", 4, 3, 0},
	{"\xf0\x9f\x98\x80", 4, 4, 4},
	{"x\xf0\x9f\x98\x80y", 6, 4, 1},
	{"x\xf0\x9f\x98\x80y", 6, 5, 5},
	{"\xc3\xa9\xc3\xa9", 4, 3, 2},
};

START_TEST(test_utf8_cut_table)
{
	const struct cut_case *c = &cut_cases[_i];
	size_t got = utf8_cut(c->s, c->len, c->max);

	ck_assert_msg(got == c->want, "case %d: cut %zu, want %zu", _i, got, c->want);
	ck_assert(utf8_valid(c->s, got));
}
END_TEST

/* ---- RFC 3339 ---- */

static const struct time_case {
	const char *s;
	int valid;
} time_cases[] = {
	{"2026-11-24T05:40:00Z", 1},
	{"2026-11-24t05:40:00z", 1},
	{"2026-11-24T05:40:00.123Z", 1},
	{"2026-11-24T05:40:00.123456789+05:30", 1},
	{"2026-11-24T05:40:00.1+01:00", 1},
	{"2026-11-24T05:40:00-08:00", 1},
	{"2026-11-24T05:40:00+23:59", 1},
	{"2026-11-24T05:40:00-00:00", 1}, /* RFC 3339: offset unknown */
	{"2024-02-29T00:00:00Z", 1},	  /* leap year */
	{"2000-02-29T00:00:00Z", 1},	  /* divisible by 400 */
	{"2026-01-31T23:59:59Z", 1},
	{"2026-04-30T00:00:00Z", 1},
	{"2016-12-31T23:59:60Z", 1},	  /* leap second */
	{"1990-12-31T15:59:60-08:00", 1}, /* the RFC's example: 23:59:60 UTC */
	{"0000-01-01T00:00:00Z", 1},
	{"9999-12-31T23:59:59.999999999Z", 1},
	{"", 0},
	{"2026-13-01T00:00:00Z", 0}, /* month 13 */
	{"2026-00-01T00:00:00Z", 0},
	{"2026-01-00T00:00:00Z", 0},
	{"2026-01-32T00:00:00Z", 0},
	{"2026-02-30T00:00:00Z", 0},
	{"2023-02-29T00:00:00Z", 0}, /* not a leap year */
	{"1900-02-29T00:00:00Z", 0}, /* divisible by 100, not by 400 */
	{"2026-04-31T00:00:00Z", 0},
	{"2026-11-24 05:40:00Z", 0}, /* space instead of T */
	{"2026-11-2405:40:00Z", 0},  /* missing T */
	{"2026-11-24T05:40:00", 0},  /* no offset */
	{"2026-11-24", 0},
	{"2026-11-24T24:00:00Z", 0},
	{"2026-11-24T05:60:00Z", 0},
	{"2026-11-24T05:40:61Z", 0},
	{"2016-12-31T22:59:60Z", 0},	  /* a leap second only at 23:59 UTC */
	{"2016-12-31T23:59:60+01:00", 0}, /* that is 22:59:60 UTC */
	{"2026-11-24T05:40:00+24:00", 0},
	{"2026-11-24T05:40:00+01:60", 0},
	{"2026-11-24T05:40:00+0100", 0},
	{"2026-11-24T05:40:00+01", 0},
	{"2026-11-24T05:40:00+1:00", 0},
	{"2026-11-24T05:40:00.Z", 0},
	{"2026-11-24T05:40:00,5Z", 0},
	{"2026-11-24T05:40:00Zjunk", 0},
	{"2026-11-24T05:40:00Z ", 0},
	{"2026-11-24T05:40:00 Z", 0},
	{"26-11-24T05:40:00Z", 0},
	{"2026-1-24T05:40:00Z", 0},
	{"2026-11-24T5:40:00Z", 0},
	{"2026/11/24T05:40:00Z", 0},
	{"+2026-11-24T05:40:00Z", 0},
	{"2026-11-24T05:40Z", 0},
	{"2026-11-24T05:40:00z+01:00", 0},
};

START_TEST(test_rfc3339_table)
{
	const struct time_case *c = &time_cases[_i];

	ck_assert_msg(rfc3339_valid(c->s) == c->valid, "case %d '%s': want %d", _i, c->s, c->valid);
}
END_TEST

START_TEST(test_rfc3339_null)
{
	ck_assert_int_eq(rfc3339_valid(NULL), 0);
}
END_TEST

static Suite *ticket_suite(void)
{
	Suite *s = suite_create("ticket");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_full_ticket);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_drop_stored_only);
	tcase_add_test(tc, test_nulls_are_absent);
	tcase_add_test(tc, test_channels_and_tiers);
	tcase_add_loop_test(tc, test_ok_table, 0, (int)ARRAY_SIZE(ok_cases));
	tcase_add_loop_test(tc, test_err_table, 0, (int)ARRAY_SIZE(err_cases));
	tcase_add_test(tc, test_err_text_exact);
	tcase_add_test(tc, test_err_buffers);
	tcase_add_test(tc, test_nesting_limit);
	tcase_add_test(tc, test_nesting_with_value);
	tcase_add_loop_test(tc, test_lenient_table, 0, (int)ARRAY_SIZE(lenient_cases));
	tcase_add_test(tc, test_tier_map);
	tcase_add_test(tc, test_metadata_bytes);
	tcase_add_loop_test(tc, test_rfc3339_to_utc, 0, (int)ARRAY_SIZE(utc_cases));
	tcase_add_test(tc, test_rfc3339_from_ms);
	tcase_add_test(tc, test_reasons);
	tcase_add_test(tc, test_cut_prompt);
	tcase_add_test(tc, test_message_cap);
	tcase_add_loop_test(tc, test_limit_table, 0, (int)ARRAY_SIZE(limit_cases));
	tcase_add_loop_test(tc, test_truncation_table, 0, (int)ARRAY_SIZE(trunc_cases));
	tcase_add_loop_test(tc, test_key_table, 0, (int)ARRAY_SIZE(key_cases));
	tcase_add_test(tc, test_key_mismatch_text);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8");
	tcase_add_loop_test(tc, test_utf8_valid_table, 0, (int)ARRAY_SIZE(utf8_cases));
	tcase_add_test(tc, test_utf8_valid_len);
	tcase_add_loop_test(tc, test_utf8_cut_table, 0, (int)ARRAY_SIZE(cut_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("rfc3339");
	tcase_add_loop_test(tc, test_rfc3339_table, 0, (int)ARRAY_SIZE(time_cases));
	tcase_add_test(tc, test_rfc3339_null);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ticket_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
