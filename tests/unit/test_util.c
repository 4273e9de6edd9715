/*
 * Unit tests for util: the capped buffer (the cap is exact and a refused
 * append changes nothing), the parse helpers' bounds and garbage, the string
 * helpers and the PRNG's determinism. Tables where the cases are data.
 */
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

/* ---- struct buf ---- */

START_TEST(test_buf_cap_exact)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append(&b, "12345", 5), 0);
	ck_assert_int_eq(buf_append(&b, "67890", 5), 0);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "1234567890");
	/* One over the cap: refused, contents and length unchanged. */
	ck_assert_int_eq(buf_append(&b, "x", 1), -1);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "1234567890");
	/* Nothing more still fits. */
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_uint_eq(b.len, 10);
	/* Sizes that would wrap len + n are refused, not wrapped. */
	ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX), -1);
	ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX - 9), -1);
	ck_assert_str_eq(b.data, "1234567890");
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	ck_assert_uint_eq(b.cap, 10);
	ck_assert_int_eq(buf_append(&b, "abcdefghij", 10), 0);
	ck_assert_int_eq(buf_append(&b, "abcdefghijk", 11), -1);
	buf_cleanup(&b);
	ck_assert_ptr_null(b.data);
	buf_cleanup(&b);
}
END_TEST

/* Byte by byte through several allocation doublings up to a cap that is not a power of two. */
START_TEST(test_buf_cap_growth)
{
	struct buf b;
	const size_t cap = 1000;

	buf_init(&b, cap);
	for (size_t i = 0; i < cap; i++) {
		char c = (char)('a' + i % 26);
		ck_assert_int_eq(buf_append(&b, &c, 1), 0);
	}
	ck_assert_int_eq(buf_append(&b, "z", 1), -1);
	ck_assert_uint_eq(b.len, cap);
	ck_assert_uint_eq(strlen(b.data), cap);
	for (size_t i = 0; i < cap; i++)
		ck_assert_int_eq(b.data[i], 'a' + i % 26);
	ck_assert_uint_le(b.alloc, cap + 1);
	buf_cleanup(&b);
}
END_TEST

START_TEST(test_buf_cap_zero)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_str_eq(b.data, "");
	ck_assert_int_eq(buf_append(&b, "a", 1), -1);
	ck_assert_int_eq(buf_appendf(&b, "%s", "a"), -1);
	ck_assert_int_eq(buf_appendf(&b, "%s", ""), 0);
	ck_assert_str_eq(b.data, "");
	buf_cleanup(&b);
}
END_TEST

/* A cap of SIZE_MAX means "no cap": appends must still allocate enough. */
START_TEST(test_buf_cap_unbounded)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
	ck_assert_int_eq(buf_appendf(&b, " %s %d", "world", 42), 0);
	ck_assert_str_eq(b.data, "hello world 42");
	ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX), -1);
	ck_assert_str_eq(b.data, "hello world 42");
	buf_cleanup(&b);
}
END_TEST

/* appendf below, at and above its 512-byte stack buffer, and against the cap. */
static const size_t appendf_sizes[] = {0, 1, 510, 511, 512, 513, 4096, 100000};

START_TEST(test_buf_appendf_sizes)
{
	size_t n = appendf_sizes[_i];
	char *big = xmalloc(n + 1);
	struct buf b;

	for (size_t i = 0; i < n; i++)
		big[i] = (char)('A' + i % 23);
	big[n] = '\0';

	/* Exactly to the cap, after a prefix. */
	buf_init(&b, n + 3);
	ck_assert_int_eq(buf_append(&b, "<", 1), 0);
	ck_assert_int_eq(buf_appendf(&b, "%s|%c", big, '>'), 0);
	ck_assert_uint_eq(b.len, n + 3);
	ck_assert_uint_eq(strlen(b.data), n + 3);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_int_eq(memcmp(b.data + 1, big, n), 0);
	ck_assert_str_eq(b.data + 1 + n, "|>");
	/* One more byte: refused, unchanged. */
	ck_assert_int_eq(buf_appendf(&b, "%c", '!'), -1);
	ck_assert_uint_eq(b.len, n + 3);
	ck_assert_str_eq(b.data + 1 + n, "|>");
	buf_cleanup(&b);

	/* One byte short of the cap from the start: refused, buffer still empty. */
	buf_init(&b, n + 1);
	ck_assert_int_eq(buf_appendf(&b, "%s%s", big, "!!"), -1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert(b.data == NULL || b.data[0] == '\0');
	buf_cleanup(&b);

	free(big);
}
END_TEST

/* steal always returns a string the caller frees, and leaves a reusable empty buffer. */
START_TEST(test_buf_steal)
{
	struct buf b;
	char *s;

	buf_init(&b, 64);
	s = buf_steal(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	free(s);

	ck_assert_int_eq(buf_appendf(&b, "id=%d", 7), 0);
	s = buf_steal(&b);
	ck_assert_str_eq(s, "id=7");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.alloc, 0);
	ck_assert_uint_eq(b.cap, 64);
	/* The buffer is reusable, with its cap, and independent of the stolen string. */
	ck_assert_int_eq(buf_append(&b, "next", 4), 0);
	ck_assert_str_eq(b.data, "next");
	ck_assert_str_eq(s, "id=7");
	free(s);
	buf_cleanup(&b);
}
END_TEST

/* ---- parse helpers ---- */

struct int_case {
	const char *s;
	int64_t min, max;
	int rc;
	int64_t want;
};

static const struct int_case int_cases[] = {
	{"0", 0, 10, 0, 0},
	{"42", 0, 100, 0, 42},
	{"-42", -100, 100, 0, -42},
	{"+5", 0, 10, 0, 5},
	{" 7 ", 0, 10, 0, 7},
	{"007", 0, 10, 0, 7},
	{"10", 0, 10, 0, 10},
	{"11", 0, 10, -1, 0},
	{"0", 1, 10, -1, 0},
	{"-1", 0, 10, -1, 0},
	{"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX},
	{"-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN},
	{"9223372036854775808", INT64_MIN, INT64_MAX, -1, 0},
	{"-9223372036854775809", INT64_MIN, INT64_MAX, -1, 0},
	{"99999999999999999999999", INT64_MIN, INT64_MAX, -1, 0},
	{"", INT64_MIN, INT64_MAX, -1, 0},
	{NULL, INT64_MIN, INT64_MAX, -1, 0},
	{" ", INT64_MIN, INT64_MAX, -1, 0},
	{"-", INT64_MIN, INT64_MAX, -1, 0},
	{"abc", INT64_MIN, INT64_MAX, -1, 0},
	{"12abc", INT64_MIN, INT64_MAX, -1, 0},
	{"1.5", INT64_MIN, INT64_MAX, -1, 0},
	{"1e3", INT64_MIN, INT64_MAX, -1, 0},
	{"0x10", INT64_MIN, INT64_MAX, -1, 0},
	{"5 6", INT64_MIN, INT64_MAX, -1, 0},
};

START_TEST(test_parse_int64)
{
	const struct int_case *c = &int_cases[_i];
	int64_t v = 12345;
	int rc = parse_int64(c->s, c->min, c->max, &v);

	ck_assert_msg(rc == c->rc, "\"%s\": rc %d, want %d", c->s ? c->s : "(null)", rc, c->rc);
	if (rc == 0)
		ck_assert_msg(v == c->want, "\"%s\": %lld, want %lld", c->s, (long long)v,
			      (long long)c->want);
	else
		ck_assert_msg(v == 12345, "\"%s\": output written on error",
			      c->s ? c->s : "(null)");
}
END_TEST

struct double_case {
	const char *s;
	double min, max;
	int rc;
	double want;
};

static const struct double_case double_cases[] = {
	{"1.5", 0, 10, 0, 1.5},
	{"-0.25", -1, 1, 0, -0.25},
	{"1e3", 0, 1e6, 0, 1000},
	{" 2 ", 0, 10, 0, 2},
	{"0", 0, 0, 0, 0},
	{"1", 0, 1, 0, 1},
	{"1.0000001", 0, 1, -1, 0},
	{"-0.0000001", 0, 1, -1, 0},
	{"nan", -1e308, 1e308, -1, 0},
	{"inf", -1e308, 1e308, -1, 0},
	{"-infinity", -1e308, 1e308, -1, 0},
	{"1e999", -1e308, 1e308, -1, 0},
	{"1.5x", 0, 10, -1, 0},
	{"1,5", 0, 10, -1, 0},
	{"", 0, 10, -1, 0},
	{NULL, 0, 10, -1, 0},
	{" ", 0, 10, -1, 0},
	{".", 0, 10, -1, 0},
	{"abc", 0, 10, -1, 0},
};

START_TEST(test_parse_double)
{
	const struct double_case *c = &double_cases[_i];
	double v = 12345;
	int rc = parse_double(c->s, c->min, c->max, &v);

	ck_assert_msg(rc == c->rc, "\"%s\": rc %d, want %d", c->s ? c->s : "(null)", rc, c->rc);
	if (rc == 0)
		ck_assert_msg(v == c->want, "\"%s\": %g, want %g", c->s, v, c->want);
	else
		ck_assert_msg(v == 12345, "\"%s\": output written on error",
			      c->s ? c->s : "(null)");
}
END_TEST

struct bool_case {
	const char *s;
	int rc, want;
};

static const struct bool_case bool_cases[] = {
	{"1", 0, 1},    {"true", 0, 1},  {"TRUE", 0, 1},  {"Yes", 0, 1},  {"on", 0, 1},
	{"0", 0, 0},    {"false", 0, 0}, {"No", 0, 0},    {"OFF", 0, 0},  {"", -1, 0},
	{"2", -1, 0},   {"truee", -1, 0}, {"y", -1, 0},   {" true", -1, 0}, {"true ", -1, 0},
	{"enable", -1, 0},
};

START_TEST(test_parse_bool)
{
	const struct bool_case *c = &bool_cases[_i];
	int v = 7;
	int rc = parse_bool(c->s, &v);

	ck_assert_msg(rc == c->rc, "\"%s\": rc %d, want %d", c->s, rc, c->rc);
	ck_assert_int_eq(v, rc == 0 ? c->want : 7);
}
END_TEST

/* ---- string helpers ---- */

struct trim_case {
	const char *in, *want;
	int blank;
};

static const struct trim_case trim_cases[] = {
	{"", "", 1},
	{"   ", "", 1},
	{" \t\r\n\v\f", "", 1},
	{"abc", "abc", 0},
	{"  a b  ", "a b", 0},
	{"\t\nx\r\n", "x", 0},
	{"x ", "x", 0},
	{" x", "x", 0},
	{"a\0 hidden", "a", 0},
};

START_TEST(test_str_trim_blank)
{
	const struct trim_case *c = &trim_cases[_i];
	char *s = xstrdup(c->in);

	ck_assert_int_eq(str_blank(c->in), c->blank);
	ck_assert_ptr_eq(str_trim(s), s);
	ck_assert_str_eq(s, c->want);
	free(s);
}
END_TEST

struct lcpy_case {
	const char *src;
	size_t size;
	const char *want;
};

static const struct lcpy_case lcpy_cases[] = {
	{"hello", 1, ""},      {"hello", 2, "h"},    {"hello", 5, "hell"}, {"hello", 6, "hello"},
	{"hello", 16, "hello"}, {"", 1, ""},         {"", 16, ""},
};

START_TEST(test_strlcpy_t)
{
	const struct lcpy_case *c = &lcpy_cases[_i];
	char dst[17];

	memset(dst, 'X', sizeof(dst));
	ck_assert_uint_eq(strlcpy_t(dst, c->src, c->size), strlen(c->src));
	ck_assert_str_eq(dst, c->want);
	/* Nothing written past size. */
	for (size_t i = c->size; i < sizeof(dst); i++)
		ck_assert_int_eq(dst[i], 'X');
}
END_TEST

START_TEST(test_strlcpy_t_size_zero)
{
	char dst[4] = "abc";

	ck_assert_uint_eq(strlcpy_t(dst, "hello", 0), 5);
	ck_assert_str_eq(dst, "abc");
}
END_TEST

START_TEST(test_alloc_helpers)
{
	char err[8];
	char *s;

	s = xstrndup("abcdef", 3);
	ck_assert_str_eq(s, "abc");
	free(s);
	s = xasprintf("%s-%d", "t", 12);
	ck_assert_str_eq(s, "t-12");
	free(s);
	set_err(err, sizeof(err), "too long: %d", 123456);
	ck_assert_str_eq(err, "too lon");
	set_err(NULL, 0, "ignored %d", 1);
	free(xmalloc(0));
	free(xcalloc(0, 0));
	free(xrealloc(NULL, 0));
}
END_TEST

/* ---- rng_next ---- */

START_TEST(test_rng_known_values)
{
	uint64_t st = 1;

	/* xorshift64* (Vigna): from state 1, the state is 0x2000001 after one step. */
	ck_assert_uint_eq(rng_next(&st), 0x47E4CE4B896CDD1DULL);
	ck_assert_uint_eq(st, 0x2000001ULL);
}
END_TEST

START_TEST(test_rng_determinism)
{
	uint64_t a = 0xC0FFEE, b = 0xC0FFEE, c = 0xC0FFEF;
	int same_as_c = 0, high = 0;

	for (int i = 0; i < 100000; i++) {
		uint64_t x = rng_next(&a);

		ck_assert_uint_eq(x, rng_next(&b));
		same_as_c += x == rng_next(&c);
		high += (int)(x >> 63);
		ck_assert_uint_ne(a, 0);
	}
	ck_assert_int_eq(same_as_c, 0);
	/* The top bit is fair: 50% +- 1% over 100,000 draws (about 6 sigma). */
	ck_assert_int_gt(high, 49000);
	ck_assert_int_lt(high, 51000);
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, test_buf_cap_exact);
	tcase_add_test(tc, test_buf_cap_growth);
	tcase_add_test(tc, test_buf_cap_zero);
	tcase_add_test(tc, test_buf_cap_unbounded);
	tcase_add_loop_test(tc, test_buf_appendf_sizes, 0, ARRAY_SIZE(appendf_sizes));
	tcase_add_test(tc, test_buf_steal);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_int64, 0, ARRAY_SIZE(int_cases));
	tcase_add_loop_test(tc, test_parse_double, 0, ARRAY_SIZE(double_cases));
	tcase_add_loop_test(tc, test_parse_bool, 0, ARRAY_SIZE(bool_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("strings");
	tcase_add_loop_test(tc, test_str_trim_blank, 0, ARRAY_SIZE(trim_cases));
	tcase_add_loop_test(tc, test_strlcpy_t, 0, ARRAY_SIZE(lcpy_cases));
	tcase_add_test(tc, test_strlcpy_t_size_zero);
	tcase_add_test(tc, test_alloc_helpers);
	suite_add_tcase(s, tc);

	tc = tcase_create("rng");
	tcase_add_test(tc, test_rng_known_values);
	tcase_add_test(tc, test_rng_determinism);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
