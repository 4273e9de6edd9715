/*
 * Unit tests for the model client (io/llm.c) without a network: curl's
 * curl_multi_add_handle is wrapped (-Wl,--wrap, CMakeLists.txt) to refuse.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "llm.h"
#include "loopslice.h"

static int refuse_add;
CURLMcode __real_curl_multi_add_handle(CURLM *m, CURL *e);
CURLMcode __wrap_curl_multi_add_handle(CURLM *m, CURL *e);
CURLMcode __wrap_curl_multi_add_handle(CURLM *m, CURL *e)
{
	if (refuse_add)
		return CURLM_OUT_OF_MEMORY;
	return __real_curl_multi_add_handle(m, e);
}

static int in_submit, calls, calls_in_submit, status_seen;

static void on_done(void *arg, const struct llm_result *res)
{
	(void)arg;
	calls++;
	if (in_submit)
		calls_in_submit++;
	status_seen = res->transport_error;
	free(res->request); /* the body comes back to its owner */
}

/*
 * curl refuses to start a transfer (an allocation failure): the answer comes
 * in the next loop pass, never from inside llm_submit. Before, the callback
 * ran there and freed the request the caller was about to keep: a
 * use-after-free, then a NULL body on the retry (found by a review).
 */
START_TEST(test_refused_start_answers_later)
{
	struct event_base *base = loopslice_base_new();
	struct model_config mc;
	struct llm_client *c;
	struct llm_req *r;

	memset(&mc, 0, sizeof(mc));
	mc.base_url = "http://127.0.0.1:9/v1";
	mc.model = "gpt-4o-mini";
	mc.max_concurrency = 4;
	mc.timeout_ms = 1000;
	mc.connect_timeout_ms = 500;
	mc.max_response_bytes = 1 << 20;
	c = llm_client_new(base, "mini", &mc, NULL);
	ck_assert_ptr_nonnull(c);
	refuse_add = 1;
	in_submit = 1;
	r = llm_submit(c, strdup("{\"x\":1}"), on_done, NULL);
	in_submit = 0;
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(calls, 0);
	ck_assert_uint_eq(llm_in_flight(c), 0); /* not running: refused */
	ck_assert_int_eq(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(calls_in_submit, 0);
	ck_assert_int_eq(status_seen, CURLE_FAILED_INIT);
	/* a cancelled refused request is freed without a call */
	in_submit = 1;
	r = llm_submit(c, strdup("{\"x\":2}"), on_done, NULL);
	in_submit = 0;
	llm_req_cancel(r);
	ck_assert_int_eq(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(calls, 1);
	/* and one left refused when the client goes is freed with it (ASan, valgrind) */
	(void)llm_submit(c, strdup("{\"x\":3}"), on_done, NULL);
	llm_client_free(c);
	ck_assert_int_eq(calls, 1);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("llm");
	TCase *tc = tcase_create("client");
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_test(tc, test_refused_start_answers_later);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
