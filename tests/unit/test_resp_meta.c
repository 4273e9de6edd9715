/* Unit tests for resp_meta: the wait a provider asks for and its request id, header by header. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "resp_meta.h"

#define NOW ((time_t)1765000000) /* Sat, 06 Dec 2025 05:46:40 GMT */

/* Feed a NULL-terminated list of lines, each as libcurl hands it (CRLF). */
static void feed(struct resp_meta *m, const char *const *lines)
{
	for (; *lines; lines++)
		resp_meta_header(m, *lines, strlen(*lines), NOW);
}

START_TEST(test_ms_wins_either_order)
{
	static const char *const ms_last[] = {"HTTP/1.1 429 Too Many Requests\r\n",
					      "Retry-After: 30\r\n", "retry-after-ms: 300\r\n", NULL};
	static const char *const ms_first[] = {"HTTP/2 429 \r\n", "retry-after-ms: 300\r\n",
					       "retry-after: 30\r\n", NULL};
	static const char *const x_ms_then_ms[] = {"x-ms-retry-after-ms: 900\r\n",
						   "Retry-After-Ms: 250\r\n", NULL};
	static const char *const ms_then_x_ms[] = {"retry-after-ms: 250\r\n",
						   "x-ms-retry-after-ms: 900\r\n", NULL};
	struct resp_meta m;

	resp_meta_reset(&m);
	feed(&m, ms_last);
	ck_assert_int_eq(m.retry_rank, 3);
	ck_assert_uint_eq(m.retry_after_ms, 300);
	resp_meta_reset(&m);
	feed(&m, ms_first);
	ck_assert_int_eq(m.retry_rank, 3);
	ck_assert_uint_eq(m.retry_after_ms, 300);
	/* retry-after-ms before x-ms-retry-after-ms, as Azure's SDK reads them */
	resp_meta_reset(&m);
	feed(&m, x_ms_then_ms);
	ck_assert_uint_eq(m.retry_after_ms, 250);
	resp_meta_reset(&m);
	feed(&m, ms_then_x_ms);
	ck_assert_uint_eq(m.retry_after_ms, 250);
}
END_TEST

START_TEST(test_retry_after_forms)
{
	static const char *const secs[] = {"Retry-After:   7  \r\n", NULL};
	static const char *const date[] = {"retry-after: Sat, 06 Dec 2025 05:46:50 GMT\r\n", NULL};
	static const char *const bad_ms[] = {"retry-after-ms: soon\r\n", "Retry-After: 2\r\n", NULL};
	static const char *const zero_ms[] = {"retry-after-ms: 0\r\n", "Retry-After: 30\r\n", NULL};
	static const char *const twice[] = {"retry-after-ms: 40\r\n", "retry-after-ms: 90\r\n", NULL};
	static const char nul[] = "retry-after-ms: 3\0 9999\r\n";
	struct resp_meta m;

	resp_meta_reset(&m);
	feed(&m, secs);
	ck_assert_int_eq(m.retry_rank, 1);
	ck_assert_uint_eq(m.retry_after_ms, 7000);
	resp_meta_reset(&m);
	feed(&m, date);
	ck_assert_uint_eq(m.retry_after_ms, 10000);
	/* an unparseable milliseconds header leaves Retry-After its say */
	resp_meta_reset(&m);
	feed(&m, bad_ms);
	ck_assert_int_eq(m.retry_rank, 1);
	ck_assert_uint_eq(m.retry_after_ms, 2000);
	/* 0 ms is an answer: no wait beyond the backoff, whatever Retry-After says */
	resp_meta_reset(&m);
	feed(&m, zero_ms);
	ck_assert_int_eq(m.retry_rank, 3);
	ck_assert_uint_eq(m.retry_after_ms, 0);
	/* repeated: the first counts, as for the ids */
	resp_meta_reset(&m);
	feed(&m, twice);
	ck_assert_uint_eq(m.retry_after_ms, 40);
	/* a NUL inside a value: no value */
	resp_meta_reset(&m);
	resp_meta_header(&m, nul, sizeof(nul) - 1, NOW);
	ck_assert_int_eq(m.retry_rank, 0);
}
END_TEST

START_TEST(test_status_line_resets)
{
	static const char *const early[] = {"HTTP/1.1 103 Early Hints\r\n", "retry-after-ms: 5000\r\n",
					    "x-request-id: early\r\n", "\r\n",
					    "HTTP/1.1 200 OK\r\n", "x-request-id: final\r\n", NULL};
	struct resp_meta m;

	resp_meta_reset(&m);
	feed(&m, early);
	ck_assert_int_eq(m.retry_rank, 0);
	ck_assert_uint_eq(m.retry_after_ms, 0);
	ck_assert_str_eq(m.request_id, "final");
	ck_assert_int_eq(resp_meta_header(&m, "HTTP/2 200 \r\n", 13, NOW), RESP_STATUS);
	ck_assert_str_eq(m.request_id, "");
	ck_assert_int_eq(resp_meta_header(&m, "content-type: x\r\n", 17, NOW), RESP_OTHER);
	ck_assert_int_eq(resp_meta_header(&m, "X-Request-Id: a\r\n", 17, NOW), RESP_TAKEN);
}
END_TEST

START_TEST(test_request_ids)
{
	static const char *const all[] = {"apim-request-id: 0000-azure\r\n",
					  "request-id: req_anthropic\r\n",
					  "x-request-id: req_openai\r\n", "request-id: later\r\n", NULL};
	static const char *const anthropic[] = {"request-id:req_011CSHoEeqs5C35K2UUqR7Fy\r\n", NULL};
	static const char *const dirty[] = {"x-request-id: \t a b\x01\xc3\xa9 \r\n", NULL};
	static const char *const empty[] = {"x-request-id:   \r\n", "request-id: kept\r\n", NULL};
	char longline[300];
	struct resp_meta m;

	/* x-request-id first, whatever the order; then request-id, then apim-request-id */
	resp_meta_reset(&m);
	feed(&m, all);
	ck_assert_str_eq(m.request_id, "req_openai");
	ck_assert_int_eq(m.id_rank, 1);
	resp_meta_reset(&m);
	feed(&m, anthropic);
	ck_assert_str_eq(m.request_id, "req_011CSHoEeqs5C35K2UUqR7Fy");
	/* white space around it dropped, anything else not printable ASCII becomes '?' */
	resp_meta_reset(&m);
	feed(&m, dirty);
	ck_assert_str_eq(m.request_id, "a?b???");
	/* an empty value is no id */
	resp_meta_reset(&m);
	feed(&m, empty);
	ck_assert_str_eq(m.request_id, "kept");
	/* a long one is cut to fit */
	strcpy(longline, "x-request-id: ");
	memset(longline + 14, 'z', 250);
	strcpy(longline + 264, "\r\n");
	resp_meta_reset(&m);
	resp_meta_header(&m, longline, strlen(longline), NOW);
	ck_assert_uint_eq(strlen(m.request_id), RESP_REQUEST_ID_MAX - 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("resp_meta");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_ms_wins_either_order);
	tcase_add_test(tc, test_retry_after_forms);
	tcase_add_test(tc, test_status_line_resets);
	tcase_add_test(tc, test_request_ids);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
