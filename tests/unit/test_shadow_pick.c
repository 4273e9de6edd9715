/*
 * shadow_pick: the shadow share is deterministic, close to the fraction on
 * many ids, nested (a ticket picked at 10% is picked at 20%), and the ends
 * (0 and 1) are exact.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "shadow_pick.h"

START_TEST(test_known_hash)
{
	/* FNV-1a 64 of "" NUL "": offset basis once multiplied by the prime */
	ck_assert_uint_eq(shadow_hash("", ""), (1469598103934665603ULL ^ 0) * 1099511628211ULL);
	ck_assert_uint_ne(shadow_hash("a", "b"), shadow_hash("ab", ""));
	ck_assert_uint_eq(shadow_hash("web", "T-1"), shadow_hash("web", "T-1"));
}
END_TEST

START_TEST(test_share_and_nesting)
{
	int at10 = 0, at20 = 0, at0 = 0, at100 = 0;
	char id[32];
	for (int i = 0; i < 20000; i++) {
		int a, b;
		snprintf(id, sizeof(id), "ticket-%d", i);
		a = shadow_pick("default", id, 0.10);
		b = shadow_pick("default", id, 0.20);
		ck_assert_int_eq(a, shadow_pick("default", id, 0.10)); /* deterministic */
		ck_assert(!a || b);				       /* nested */
		at10 += a;
		at20 += b;
		at0 += shadow_pick("default", id, 0.0);
		at100 += shadow_pick("default", id, 1.0);
	}
	ck_assert_int_eq(at0, 0);
	ck_assert_int_eq(at100, 20000);
	ck_assert_msg(at10 > 1800 && at10 < 2200, "10%%: %d of 20000", at10);
	ck_assert_msg(at20 > 3700 && at20 < 4300, "20%%: %d of 20000", at20);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shadow_pick");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_known_hash);
	tcase_add_test(tc, test_share_and_nesting);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
