/*
 * Unit tests for service/core/intake.c: each helpdesk format against its
 * fixtures in tests/fixtures/helpdesk/<format>/ (file names say the expected
 * outcome: ticket-*, skip-*, dead-*), the custom mapping's startup checks
 * (file:line errors), tombstones, and plan-name tiers in volume.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake.h"
#include "textfile.h"
#include "xmem.h"

#define FIXTURES TRIAGED_SOURCE_DIR "/tests/fixtures/helpdesk"

struct tally {
	int ticket, skip, dead;
	uint64_t bytes_in, bytes_out;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every fixture of a format through a new intake; each outcome must match its file name. */
static struct tally run_format(enum intake_format f, const char *dir, const char *mapping)
{
	char path[1024], err[512];
	struct tally t = {0};
	struct intake *in = intake_new(f, mapping, "", NULL, err, sizeof(err));
	DIR *d;
	struct dirent *e;
	char *names[64];
	size_t n = 0;

	ck_assert_msg(in != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/%s", FIXTURES, dir);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL && n < 64)
		if (strstr(e->d_name, ".json") != NULL)
			names[n++] = xstrdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct intake_result r;
		char *text;

		snprintf(path, sizeof(path), "%s/%s/%s", FIXTURES, dir, names[i]);
		text = textfile_read(path, 1 << 20, err, sizeof(err));
		ck_assert_msg(text != NULL, "%s", err);
		intake_parse(in, text, strlen(text), "any-key", 7, 1739181600000LL, &r);
		if (strncmp(names[i], "ticket-", 7) == 0) {
			ck_assert_msg(r.outcome == INTAKE_TICKET, "%s/%s: got %d (%s)", dir, names[i],
				      r.outcome, r.reason);
			t.ticket++;
		} else if (strncmp(names[i], "skip-", 5) == 0) {
			ck_assert_msg(r.outcome == INTAKE_SKIP, "%s/%s: got %d (%s)", dir, names[i],
				      r.outcome, r.reason);
			ck_assert_int_eq(r.skip, INTAKE_SKIP_NOTHING);
			t.skip++;
		} else {
			ck_assert_msg(r.outcome == INTAKE_DEAD, "%s/%s: got %d", dir, names[i],
				      r.outcome);
			/* the reason names the source field */
			ck_assert_msg(strstr(r.reason, "(from /") != NULL, "%s/%s: %s", dir, names[i],
				      r.reason);
			t.dead++;
		}
		ticket_free(r.t);
		free(text);
		free(names[i]);
	}
	t.bytes_in = intake_stats(in)->prompt_bytes_in;
	t.bytes_out = intake_stats(in)->prompt_bytes_out;
	ck_assert_uint_eq(intake_stats(in)->tickets, (uint64_t)t.ticket);
	ck_assert_uint_eq(intake_stats(in)->skipped[INTAKE_SKIP_NOTHING], (uint64_t)t.skip);
	ck_assert_uint_eq(intake_stats(in)->dead, (uint64_t)t.dead);
	fprintf(stderr,
		"intake %-9s fixtures=%zu parsed=%d skipped=%d dead_lettered=%d prompt_bytes "
		"before=%llu after=%llu (~%llu -> ~%llu tokens per ticket)\n",
		dir, n, t.ticket, t.skip, t.dead, (unsigned long long)t.bytes_in,
		(unsigned long long)t.bytes_out,
		(unsigned long long)(t.ticket ? t.bytes_in / 4 / (unsigned)t.ticket : 0),
		(unsigned long long)(t.ticket ? t.bytes_out / 4 / (unsigned)t.ticket : 0));
	intake_free(in);
	return t;
}

START_TEST(test_zendesk)
{
	struct tally t = run_format(INTAKE_ZENDESK, "zendesk", NULL);
	ck_assert_int_eq(t.ticket, 4);
	ck_assert_int_eq(t.skip, 5);
	ck_assert_int_eq(t.dead, 2);
	ck_assert_uint_lt(t.bytes_out, t.bytes_in);
}
END_TEST

START_TEST(test_zammad)
{
	struct tally t = run_format(INTAKE_ZAMMAD, "zammad", NULL);
	ck_assert_int_eq(t.ticket, 2);
	ck_assert_int_eq(t.skip, 3);
	ck_assert_int_eq(t.dead, 1);
}
END_TEST

START_TEST(test_intercom)
{
	struct tally t = run_format(INTAKE_INTERCOM, "intercom", NULL);
	ck_assert_int_eq(t.ticket, 2);
	ck_assert_int_eq(t.skip, 3);
	ck_assert_int_eq(t.dead, 1);
}
END_TEST

START_TEST(test_freshdesk_custom)
{
	struct tally t = run_format(INTAKE_CUSTOM, "freshdesk",
				   TRIAGED_SOURCE_DIR "/deploy/mappings/freshdesk.json");
	ck_assert_int_eq(t.ticket, 2);
	ck_assert_int_eq(t.skip, 1);
	ck_assert_int_eq(t.dead, 1);
}
END_TEST

/* What a mapped ticket holds: HTML to text, the HTML kept, quoted text cut for the prompt. */
START_TEST(test_zendesk_values)
{
	char err[512];
	struct intake *in = intake_new(INTAKE_ZENDESK, NULL, "", NULL, err, sizeof(err));
	char *text = textfile_read(FIXTURES "/zendesk/ticket-created-html.json", 1 << 20, err,
				   sizeof(err));
	struct intake_result r;
	json_object *v = NULL;

	intake_parse(in, text, strlen(text), NULL, 0, -1, &r);
	ck_assert_int_eq(r.outcome, INTAKE_TICKET);
	ck_assert_str_eq(r.t->ticket_id, "5158");
	ck_assert_str_eq(r.t->source, "zendesk");
	ck_assert_str_eq(r.t->customer_id, "8447388090494");
	ck_assert_int_eq(r.t->channel, CH_EMAIL);
	ck_assert_str_eq(r.t->created_at, "2025-01-08T10:12:07Z");
	ck_assert_ptr_nonnull(strstr(r.t->body, "I was charged twice for order #20931 on 3 January "
						"\xe2\x80\x93 once"));
	ck_assert_ptr_null(strstr(r.t->body, "<p>"));
	ck_assert(json_object_object_get_ex(r.t->original, "body", &v));
	ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "<b>twice</b>"));
	ck_assert_ptr_nonnull(r.t->prompt_body);
	ck_assert_ptr_null(strstr(r.t->prompt_body, "wrote:"));
	ck_assert_ptr_null(strstr(r.t->prompt_body, "89.90"));
	ck_assert_uint_eq(r.t->prompt_cut_bytes, r.t->body_len - r.t->prompt_body_len);
	ticket_free(r.t);
	free(text);
	intake_free(in);
}
END_TEST

START_TEST(test_tombstone)
{
	char err[256];
	struct intake *in = intake_new(INTAKE_TRIAGED, NULL, "", NULL, err, sizeof(err));
	struct intake_result r;

	intake_parse(in, NULL, 0, "T-1", 3, -1, &r);
	ck_assert_int_eq(r.outcome, INTAKE_SKIP);
	ck_assert_int_eq(r.skip, INTAKE_SKIP_TOMBSTONE);
	ck_assert_uint_eq(intake_stats(in)->skipped[INTAKE_SKIP_TOMBSTONE], 1);
	/* an empty (not null) value is still not JSON */
	intake_parse(in, "", 0, NULL, 0, -1, &r);
	ck_assert_int_eq(r.outcome, INTAKE_DEAD);
	ck_assert_int_eq(r.code, TICKET_E_JSON);
	/* a key that is not UTF-8 gives a reason header that is */
	intake_parse(in, "{\"ticket_id\":\"T-1\",\"body\":\"b\"}",
		     strlen("{\"ticket_id\":\"T-1\",\"body\":\"b\"}"), "\xff\xfe", 2, -1, &r);
	ck_assert_int_eq(r.outcome, INTAKE_DEAD);
	ck_assert_int_eq(r.code, TICKET_E_KEY_MISMATCH);
	ck_assert(utf8_valid(r.reason, strlen(r.reason)));
	ck_assert_ptr_nonnull(strstr(r.reason, "\\xFF\\xFE"));
	intake_free(in);
}
END_TEST

/* 1,000 tickets whose tiers are a helpdesk's plan names: all triaged, the unknown tier counted. */
START_TEST(test_plan_names_in_volume)
{
	static const char *const plans[] = {"free", "pro", "enterprise"};
	char err[256], msg[256];
	struct intake *in = intake_new(INTAKE_TRIAGED, NULL, "", NULL, err, sizeof(err));
	struct intake *mapped = intake_new(INTAKE_TRIAGED, NULL, "pro=premium", NULL, err,
					   sizeof(err));
	int tickets = 0, premium = 0;

	for (int i = 0; i < 1000; i++) {
		struct intake_result r, r2;
		int n = snprintf(msg, sizeof(msg),
				 "{\"ticket_id\":\"p-%d\",\"body\":\"Where is my invoice?\","
				 "\"customer\":{\"tier\":\"%s\"}}",
				 i, plans[i % 3]);
		intake_parse(in, msg, (size_t)n, NULL, 0, -1, &r);
		intake_parse(mapped, msg, (size_t)n, NULL, 0, -1, &r2);
		tickets += r.outcome == INTAKE_TICKET;
		premium += r2.outcome == INTAKE_TICKET && r2.t->tier == TIER_PREMIUM;
		ticket_free(r.t);
		ticket_free(r2.t);
	}
	ck_assert_int_eq(tickets, 1000);
	ck_assert_uint_eq(intake_stats(in)->dead, 0);
	ck_assert_uint_eq(intake_stats(in)->flagged[0], 333); /* "pro": i % 3 == 1 */
	ck_assert_int_eq(premium, 333);
	ck_assert_str_eq(ticket_flag_name(0), "tier");
	intake_free(in);
	intake_free(mapped);
}
END_TEST

static const struct map_err_case {
	const char *text, *want;
} map_errs[] = {
	{"{\n  \"fields\": {\"ticket_id\": \"/id\",\n  \"body\": \"/b\",\n  \"priority\": \"/p\"}\n}",
	 "map.json:4: 'priority' is not a contract field"},
	{"{\n  \"fields\": {\"ticket_id\": \"id\", \"body\": \"/b\"}\n}",
	 "map.json:2: ticket_id: expected a JSON pointer such as \"/ticket/id\""},
	{"{\n  \"fields\": {\"body\": \"/b\"}\n}", "map.json:2: fields must map ticket_id"},
	{"{\n  \"fields\": {\"ticket_id\": \"/i\", \"body\": \"/b\"},\n  \"colour\": 1\n}",
	 "map.json:3: unknown key 'colour'"},
	{"{\n  \"fields\": {\"ticket_id\": \"/i\", \"body\": \"/b\"},\n  \"values\": {\"channel\": "
	 "{\"Email\": 5}}\n}",
	 "map.json:3: values.channel.Email must be a string"},
	{"{\n  \"fields\": {\n    \"ticket_id\": \"/i\",\n  }\n}", "map.json:4: "},
	{"{\"fields\": {\"ticket_id\": \"/i\", \"body\": \"/b\"}, \"skip_unless\": {\"pointer\": 1}}",
	 "map.json:1: skip_unless must be"},
};

START_TEST(test_mapping_errors)
{
	char err[512];
	struct intake *in = intake_new_text(INTAKE_CUSTOM, map_errs[_i].text, "map.json", "", NULL,
					    err, sizeof(err));
	ck_assert_ptr_null(in);
	ck_assert_msg(strncmp(err, map_errs[_i].want, strlen(map_errs[_i].want)) == 0,
		      "case %d: '%s', want '%s'", _i, err, map_errs[_i].want);
}
END_TEST

START_TEST(test_custom_values_and_defaults)
{
	char err[512];
	static const char map[] =
		"{\"source\": \"acme\", \"fields\": {\"ticket_id\": \"/t/id\", \"body\": \"/t/text\","
		" \"channel\": \"/t/via\", \"customer.tier\": \"/t/plan\"},"
		" \"defaults\": {\"channel\": \"web\"},"
		" \"values\": {\"customer.tier\": {\"Gold\": \"enterprise\"}}}";
	struct intake *in = intake_new_text(INTAKE_CUSTOM, map, "acme.json", "", NULL, err,
					    sizeof(err));
	struct intake_result r;
	static const char a[] = "{\"t\":{\"id\":17,\"text\":\"Hello there\",\"plan\":\"Gold\"}}";
	static const char b[] = "{\"t\":{\"id\":\"x\",\"text\":\"\",\"plan\":\"Gold\"}}";

	ck_assert_msg(in != NULL, "%s", err);
	intake_parse(in, a, sizeof(a) - 1, NULL, 0, -1, &r);
	ck_assert_int_eq(r.outcome, INTAKE_TICKET);
	ck_assert_str_eq(r.t->ticket_id, "17");
	ck_assert_str_eq(r.t->source, "acme");
	ck_assert_int_eq(r.t->channel, CH_WEB);
	ck_assert_int_eq(r.t->tier, TIER_ENTERPRISE);
	ck_assert_uint_eq(r.t->flags, 0);
	ticket_free(r.t);
	intake_parse(in, b, sizeof(b) - 1, NULL, 0, -1, &r);
	ck_assert_int_eq(r.outcome, INTAKE_DEAD);
	ck_assert_str_eq(r.reason, "body (from /t/text): must not be blank");
	intake_free(in);
}
END_TEST

START_TEST(test_formats)
{
	ck_assert_int_eq(intake_format_parse("zendesk"), INTAKE_ZENDESK);
	ck_assert_int_eq(intake_format_parse("custom"), INTAKE_CUSTOM);
	ck_assert_int_eq(intake_format_parse("freshdesk"), -1);
	ck_assert_str_eq(intake_format_name(INTAKE_INTERCOM), "intercom");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("intake");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_zendesk);
	tcase_add_test(tc, test_zammad);
	tcase_add_test(tc, test_intercom);
	tcase_add_test(tc, test_freshdesk_custom);
	tcase_add_test(tc, test_zendesk_values);
	tcase_add_test(tc, test_tombstone);
	tcase_add_test(tc, test_plan_names_in_volume);
	tcase_add_loop_test(tc, test_mapping_errors, 0, (int)ARRAY_SIZE(map_errs));
	tcase_add_test(tc, test_custom_values_and_defaults);
	tcase_add_test(tc, test_formats);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
