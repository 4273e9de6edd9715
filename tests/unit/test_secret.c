/* Unit tests for secret: permissions refused, first line trimmed, errors never echo the key. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"

static char dir[] = "/tmp/test_secret.XXXXXX";

static void write_key(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_reads_first_line)
{
	char path[256], key[128], err[256];
	snprintf(path, sizeof(path), "%s/k1", dir);
	write_key(path, "  sk-test-123 \nsecond line\n", 0600);
	ck_assert_int_eq(secret_read_file(path, key, sizeof(key), err, sizeof(err)), 0);
	ck_assert_str_eq(key, "sk-test-123");
	write_key(path, "sk-ro", 0400);
	ck_assert_int_eq(secret_read_file(path, key, sizeof(key), err, sizeof(err)), 0);
	ck_assert_str_eq(key, "sk-ro");
}
END_TEST

START_TEST(test_refuses_open_permissions)
{
	static const mode_t modes[] = {0644, 0640, 0604, 0660, 0606, 0610};
	char path[256], key[128], err[256];
	snprintf(path, sizeof(path), "%s/k2", dir);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		write_key(path, "sk-secret-value", modes[i]);
		ck_assert_int_eq(secret_read_file(path, key, sizeof(key), err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "group or others"));
		ck_assert_ptr_null(strstr(err, "sk-secret-value"));
		ck_assert_str_eq(key, "");
	}
}
END_TEST

START_TEST(test_errors)
{
	char path[256], key[8], err[256];
	ck_assert_int_eq(secret_read_file("/nonexistent/key", key, sizeof(key), err, sizeof(err)), -1);
	ck_assert_int_eq(secret_read_file(dir, key, sizeof(key), err, sizeof(err)), -1); /* a directory */
	snprintf(path, sizeof(path), "%s/k3", dir);
	write_key(path, "\n", 0600);
	ck_assert_int_eq(secret_read_file(path, key, sizeof(key), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	write_key(path, "sk-much-too-long", 0600);
	ck_assert_int_eq(secret_read_file(path, key, sizeof(key), err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "sk-much"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secret");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	if (mkdtemp(dir) == NULL)
		return EXIT_FAILURE;
	tcase_add_test(tc, test_reads_first_line);
	tcase_add_test(tc, test_refuses_open_permissions);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			failed++;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
