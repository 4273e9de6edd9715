/*
 * jsonw: strings escaped byte for byte as json-c writes them, objects that
 * parse back to what was written, and the cap reported.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonw.h"

/* json-c's own text for string s (without the quotes). */
static char *jsonc_escaped(const char *s, size_t n)
{
	json_object *o = json_object_new_string_len(s, (int)n);
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(t);
	char *r = xstrndup(t + 1, len - 2);
	json_object_put(o);
	return r;
}

static char *ours(const char *s, size_t n)
{
	struct buf b;
	buf_init(&b, SIZE_MAX);
	ck_assert_int_eq(json_escape_append(&b, s, n), 0);
	return buf_steal(&b);
}

START_TEST(test_escape_every_byte)
{
	for (int c = 1; c < 256; c++) {
		char s[3] = {'a', (char)c, '\0'};
		char *a = jsonc_escaped(s, 2), *b = ours(s, 2);
		ck_assert_msg(strcmp(a, b) == 0, "byte 0x%02x: json-c %s, jsonw %s", c, a, b);
		free(a);
		free(b);
	}
}
END_TEST

START_TEST(test_escape_random)
{
	unsigned seed = 12345;
	char s[200];
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(s));
		char *a, *b;
		for (size_t i = 0; i < n; i++) {
			/* mostly text, some quotes, backslashes, controls, high bytes; no NUL */
			int r = rand_r(&seed) % 10;
			s[i] = (char)(r < 6 ? 'a' + rand_r(&seed) % 26
				      : r == 6 ? "\"\\/"[rand_r(&seed) % 3]
				      : r == 7 ? 1 + rand_r(&seed) % 31
						: 128 + rand_r(&seed) % 128);
		}
		a = jsonc_escaped(s, n);
		b = ours(s, n);
		ck_assert_str_eq(a, b);
		free(a);
		free(b);
	}
}
END_TEST

START_TEST(test_object_round_trip)
{
	struct buf b;
	struct jsonw w;
	json_object *o, *v, *tags = json_tokener_parse("[\"a\",\"b/c\"]");
	char *s;

	buf_init(&b, SIZE_MAX);
	jsonw_begin(&w, &b);
	jsonw_str(&w, "s", "line\nquote\" tab\t");
	jsonw_str(&w, "nul", NULL);
	jsonw_strn(&w, "cut", "abcdef", 3);
	jsonw_int(&w, "big", INT64_C(-9007199254740993));
	jsonw_num(&w, "pi", 3.141592653589793);
	jsonw_num(&w, "inf", INFINITY);
	jsonw_bool(&w, "t", 1);
	jsonw_null(&w, "n");
	jsonw_obj(&w, "tags", tags);
	jsonw_obj(&w, "none", NULL);
	ck_assert_int_eq(jsonw_end(&w), 0);
	/* the same text on its own (the claim's jsonb fields): compact, '/' kept, NULL null */
	ck_assert_str_eq(jsonw_text(tags), "[\"a\",\"b/c\"]");
	ck_assert_str_eq(jsonw_text(NULL), "null");
	s = buf_steal(&b);
	o = json_tokener_parse(s);
	ck_assert_msg(o != NULL, "not JSON: %s", s);
	ck_assert(json_object_object_get_ex(o, "s", &v));
	ck_assert_str_eq(json_object_get_string(v), "line\nquote\" tab\t");
	ck_assert(json_object_object_get_ex(o, "nul", &v) && v == NULL);
	ck_assert(json_object_object_get_ex(o, "cut", &v));
	ck_assert_str_eq(json_object_get_string(v), "abc");
	ck_assert(json_object_object_get_ex(o, "big", &v));
	ck_assert(json_object_get_int64(v) == INT64_C(-9007199254740993));
	ck_assert(json_object_object_get_ex(o, "pi", &v));
	ck_assert(json_object_get_double(v) == 3.141592653589793);
	ck_assert(json_object_object_get_ex(o, "inf", &v) && v == NULL);
	ck_assert(json_object_object_get_ex(o, "t", &v) && json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(o, "n", &v) && v == NULL);
	ck_assert(json_object_object_get_ex(o, "tags", &v));
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 1)), "b/c");
	ck_assert(json_object_object_get_ex(o, "none", &v) && v == NULL);
	ck_assert_int_eq(json_object_object_length(o), 10);
	json_object_put(o);
	json_object_put(tags);
	free(s);
}
END_TEST

START_TEST(test_empty_object_and_cap)
{
	struct buf b;
	struct jsonw w;

	buf_init(&b, SIZE_MAX);
	jsonw_begin(&w, &b);
	ck_assert_int_eq(jsonw_end(&w), 0);
	ck_assert_str_eq(b.data, "{}");
	buf_cleanup(&b);

	/* the error sticks: nothing after a failed write counts */
	buf_init(&b, 12);
	jsonw_begin(&w, &b);
	jsonw_str(&w, "key", "a value too long for 12 bytes");
	jsonw_int(&w, "k", 1);
	ck_assert_int_eq(jsonw_end(&w), -1);
	ck_assert_uint_le(b.len, 12);
	buf_cleanup(&b);
}
END_TEST

/* Numbers: the shortest text that reads back exactly; PostgreSQL's numeric text only if plain. */
START_TEST(test_numbers)
{
	static const struct {
		const char *in, *want;
	} texts[] = {{"0.00027000", "0.00027000"}, {"-12", "-12"}, {"5", "5"},
		     {"NaN", "null"},		  {"Infinity", "null"}, {"1e5", "null"},
		     {"1.", "null"},		  {".5", "null"},	{"", "null"},
		     {"--1", "null"},		  {"1-", "null"}};
	struct buf b;
	struct jsonw w;

	buf_init(&b, SIZE_MAX);
	jsonw_begin(&w, &b);
	jsonw_num(&w, "a", 0.9);
	jsonw_num(&w, "b", 0.1 + 0.2);
	jsonw_num(&w, "c", 1.0);
	ck_assert_int_eq(jsonw_end(&w), 0);
	ck_assert_str_eq(b.data, "{\"a\":0.9,\"b\":0.30000000000000004,\"c\":1}");
	ck_assert(strtod("0.30000000000000004", NULL) == 0.1 + 0.2);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char want[64];
		buf_reset(&b);
		jsonw_begin(&w, &b);
		jsonw_numtext(&w, "n", texts[i].in);
		ck_assert_int_eq(jsonw_end(&w), 0);
		snprintf(want, sizeof(want), "{\"n\":%s}", texts[i].want);
		ck_assert_msg(strcmp(b.data, want) == 0, "%s: got %s", texts[i].in, b.data);
	}
	buf_reset(&b);
	jsonw_begin(&w, &b);
	jsonw_numtext(&w, "n", NULL);
	ck_assert_int_eq(jsonw_end(&w), 0);
	ck_assert_str_eq(b.data, "{\"n\":null}");
	buf_cleanup(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsonw");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_escape_every_byte);
	tcase_add_test(tc, test_escape_random);
	tcase_add_test(tc, test_object_round_trip);
	tcase_add_test(tc, test_empty_object_and_cap);
	tcase_add_test(tc, test_numbers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
