/*
 * clocale (service/io/clocale.c): a thread switched to glibc's static C
 * locale object, so that json-c's parser takes no global locale lock (#16).
 * Checks that the switch happens (the thread leaves the global locale for
 * the C object newlocale(LC_ALL_MASK, "C", 0) returns), that it is per
 * thread, and that numbers still read and print as in the C locale.
 */

#include <check.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "clocale.h"

static void *in_thread(void *arg)
{
	int *ok = arg;
	locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	char out[32];
	json_object *o;

	*ok = 0;
	if (uselocale((locale_t)0) != LC_GLOBAL_LOCALE) /* a new thread starts on the global one */
		return NULL;
	if (clocale_thread() != 0 || uselocale((locale_t)0) != c)
		return NULL;
	o = json_tokener_parse("{\"n\":1.5}");
	if (o == NULL ||
	    json_object_get_double(json_object_object_get(o, "n")) != 1.5) {
		json_object_put(o);
		return NULL;
	}
	json_object_put(o);
	snprintf(out, sizeof(out), "%.2f", 2.25);
	*ok = strcmp(out, "2.25") == 0 ? 1 : 2;
	return NULL;
}

START_TEST(test_thread_switched)
{
	pthread_t t;
	int ok = -1;
	ck_assert_int_eq(pthread_create(&t, NULL, in_thread, &ok), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(ok, 1);
	/* the switch was that thread's alone */
	ck_assert_ptr_eq(uselocale((locale_t)0), LC_GLOBAL_LOCALE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("clocale");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_thread_switched);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
