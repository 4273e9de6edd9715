/*
 * Unit tests for feedback: helpdesk events -> triaged_feedback items, as a
 * table (format, payload, the item expected as JSON, or the skip), plus the
 * helpdesk fixtures of the intake: an agent's public Zendesk comment is a
 * reply, every customer-side event is skipped.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feedback.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

struct fb_case {
	enum intake_format f;
	const char *msg;
	const char *want; /* the item as plain JSON, NULL: skipped */
};

#define ZD(type, event)                                                                            \
	"{\"id\": \"ev-1\", \"type\": \"zen:event-type:ticket." type "\", \"detail\": {\"id\": "   \
	"\"5158\", \"actor_id\": \"361789\"}, \"event\": " event "}"

static const struct fb_case cases[] = {
    /* triaged's own format */
    {INTAKE_TRIAGED,
     "{\"event_id\": \"e1\", \"ticket_id\": \"T-1\", \"kind\": \"reply\", \"agent\": \"zoe\", "
     "\"reply\": \"Done.\"}",
     "{\"source\":\"default\",\"event_id\":\"e1\",\"ticket_id\":\"T-1\",\"kind\":\"reply\","
     "\"agent\":\"zoe\",\"reply\":\"Done.\"}"},
    {INTAKE_TRIAGED,
     "{\"event_id\": \"e2\", \"ticket_id\": \"T-1\", \"source\": \"shop\", \"kind\": \"fields\", "
     "\"fields\": {\"urgency\": \"high\", \"other\": \"x\"}}",
     "{\"source\":\"shop\",\"event_id\":\"e2\",\"ticket_id\":\"T-1\",\"kind\":\"fields\","
     "\"fields\":{\"urgency\":\"high\"}}"},
    {INTAKE_TRIAGED, "{\"ticket_id\": \"T-1\", \"kind\": \"reply\", \"reply\": \"x\"}", NULL},
    {INTAKE_TRIAGED, "{\"event_id\": \"e3\", \"ticket_id\": \"T-1\", \"kind\": \"fields\"}", NULL},
    {INTAKE_TRIAGED, "{\"event_id\": \"e4\", \"ticket_id\": \"T-1\", \"kind\": \"note\"}", NULL},
    {INTAKE_TRIAGED, "not json", NULL},
    {INTAKE_TRIAGED, "[1]", NULL},
    /* Zendesk */
    {INTAKE_ZENDESK,
     ZD("comment_added", "{\"comment\": {\"id\": \"9\", \"body\": \"<p>Refunded &amp; "
			 "done.</p>\", \"is_public\": true, \"author\": {\"is_staff\": true, "
			 "\"name\": \"Ben\"}}}"),
     "{\"source\":\"zendesk\",\"event_id\":\"ev-1\",\"ticket_id\":\"5158\",\"kind\":\"reply\","
     "\"agent\":\"Ben\",\"reply\":\"Refunded & done.\"}"},
    {INTAKE_ZENDESK,
     ZD("comment_added", "{\"comment\": {\"body\": \"note\", \"is_public\": false, "
			 "\"author\": {\"is_staff\": true}}}"),
     NULL},
    {INTAKE_ZENDESK,
     ZD("comment_added", "{\"comment\": {\"body\": \"thanks\", \"is_public\": true, "
			 "\"author\": {\"is_staff\": false}}}"),
     NULL},
    {INTAKE_ZENDESK, ZD("priority_changed", "{\"current\": \"URGENT\", \"previous\": \"LOW\"}"),
     "{\"source\":\"zendesk\",\"event_id\":\"ev-1\",\"ticket_id\":\"5158\",\"kind\":\"fields\","
     "\"agent\":\"361789\",\"fields\":{\"urgency\":\"critical\"}}"},
    {INTAKE_ZENDESK, ZD("priority_changed", "{\"current\": null}"), NULL},
    {INTAKE_ZENDESK, ZD("tags_changed", "{\"tags_added\": [\"vip\", \"category:shipping\"]}"),
     "{\"source\":\"zendesk\",\"event_id\":\"ev-1\",\"ticket_id\":\"5158\",\"kind\":\"fields\","
     "\"agent\":\"361789\",\"fields\":{\"category\":\"shipping\"}}"},
    {INTAKE_ZENDESK, ZD("tags_changed", "{\"tags_added\": [\"vip\"]}"), NULL},
    {INTAKE_ZENDESK, ZD("status_changed", "{\"current\": \"SOLVED\"}"), NULL},
    {INTAKE_ZENDESK, "{\"id\": \"u1\", \"type\": \"zen:event-type:user.created\"}", NULL},
    /* Zammad */
    {INTAKE_ZAMMAD,
     "{\"ticket\": {\"id\": 77, \"priority\": \"2 normal\"}, \"article\": {\"id\": 901, "
     "\"sender\": \"Agent\", \"internal\": false, \"from\": \"Ana\", \"body\": \"We sent it.\"}}",
     "{\"source\":\"zammad\",\"event_id\":\"article:901\",\"ticket_id\":\"77\",\"kind\":"
     "\"reply\",\"agent\":\"Ana\",\"reply\":\"We sent it.\"}"},
    {INTAKE_ZAMMAD,
     "{\"ticket\": {\"id\": 77}, \"article\": {\"id\": 902, \"sender\": \"Agent\", "
     "\"internal\": true, \"body\": \"note\"}}",
     NULL},
    {INTAKE_ZAMMAD,
     "{\"ticket\": {\"id\": 77}, \"article\": {\"id\": 903, \"sender\": \"Customer\", "
     "\"body\": \"hi\"}}",
     NULL},
    {INTAKE_ZAMMAD,
     "{\"ticket\": {\"id\": 77, \"priority\": \"3 high\", \"updated_at\": "
     "\"2025-01-08T10:00:00Z\", \"updated_by\": \"ana\"}}",
     "{\"source\":\"zammad\",\"event_id\":\"ticket:77:2025-01-08T10:00:00Z\",\"ticket_id\":"
     "\"77\",\"kind\":\"fields\",\"agent\":\"ana\",\"fields\":{\"urgency\":\"high\"}}"},
    /* Intercom */
    {INTAKE_INTERCOM,
     "{\"id\": \"notif_1\", \"topic\": \"conversation.admin.replied\", \"data\": {\"item\": "
     "{\"id\": \"215\", \"conversation_parts\": {\"conversation_parts\": [{\"part_type\": "
     "\"comment\", \"body\": \"<p>Fixed your plan.</p>\", \"author\": {\"type\": \"admin\", "
     "\"name\": \"Kim\"}}]}}}}",
     "{\"source\":\"intercom\",\"event_id\":\"notif_1\",\"ticket_id\":\"215\",\"kind\":"
     "\"reply\",\"agent\":\"Kim\",\"reply\":\"Fixed your plan.\"}"},
    {INTAKE_INTERCOM,
     "{\"id\": \"notif_2\", \"topic\": \"conversation.priority.updated\", \"data\": {\"item\": "
     "{\"id\": \"215\", \"priority\": \"priority\"}}}",
     "{\"source\":\"intercom\",\"event_id\":\"notif_2\",\"ticket_id\":\"215\",\"kind\":"
     "\"fields\",\"fields\":{\"urgency\":\"high\"}}"},
    {INTAKE_INTERCOM,
     "{\"id\": \"notif_3\", \"topic\": \"conversation.user.replied\", \"data\": {\"item\": "
     "{\"id\": \"215\"}}}",
     NULL},
};

START_TEST(test_table)
{
	const struct fb_case *c = &cases[_i];
	struct feedback_result r;

	feedback_map(c->f, c->msg, strlen(c->msg), &r);
	if (c->want == NULL) {
		ck_assert_msg(r.outcome == FEEDBACK_SKIP, "case %d: not skipped", _i);
		ck_assert_ptr_null(r.item);
		ck_assert_msg(r.reason[0] != '\0', "case %d: no reason", _i);
		return;
	}
	ck_assert_msg(r.outcome == FEEDBACK_ITEM, "case %d: skipped: %s", _i, r.reason);
	ck_assert_str_eq(json_object_to_json_string_ext(r.item, JSON_C_TO_STRING_PLAIN), c->want);
	json_object_put(r.item);
}
END_TEST

START_TEST(test_tombstone)
{
	struct feedback_result r;
	feedback_map(INTAKE_ZENDESK, NULL, 0, &r);
	ck_assert_int_eq(r.outcome, FEEDBACK_SKIP);
	ck_assert_str_eq(r.reason, "tombstone");
}
END_TEST

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;
	if (f == NULL)
		return NULL;
	if (getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* The intake's fixtures: the agent's public comment is the only feedback among them. */
START_TEST(test_fixtures)
{
	static const struct {
		const char *file;
		enum intake_format f;
		int item;
	} fx[] = {
	    {"zendesk/skip-comment-by-agent.json", INTAKE_ZENDESK, 1},
	    {"zendesk/skip-comment-private.json", INTAKE_ZENDESK, 0},
	    {"zendesk/ticket-comment-customer-reply.json", INTAKE_ZENDESK, 0},
	    {"zendesk/ticket-created-html.json", INTAKE_ZENDESK, 0},
	    {"zendesk/skip-status-changed.json", INTAKE_ZENDESK, 0},
	    {"zammad/skip-agent-article.json", INTAKE_ZAMMAD, 1},
	    {"zammad/skip-internal-note.json", INTAKE_ZAMMAD, 0},
	    {"zammad/ticket-customer-email-html.json", INTAKE_ZAMMAD, 0},
	    {"intercom/ticket-user-replied.json", INTAKE_INTERCOM, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(fx); i++) {
		char path[512];
		char *text;
		struct feedback_result r;
		snprintf(path, sizeof(path), "%s/tests/fixtures/helpdesk/%s", TRIAGED_SOURCE_DIR,
			 fx[i].file);
		text = slurp(path);
		ck_assert_msg(text != NULL, "%s", path);
		feedback_map(fx[i].f, text, strlen(text), &r);
		ck_assert_msg((r.outcome == FEEDBACK_ITEM) == fx[i].item, "%s: %s", fx[i].file,
			      r.outcome == FEEDBACK_ITEM ? "an item" : r.reason);
		json_object_put(r.item);
		free(text);
	}
}
END_TEST

static Suite *feedback_suite(void)
{
	Suite *s = suite_create("feedback");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_table, 0, ARRAY_SIZE(cases));
	tcase_add_test(tc, test_tombstone);
	tcase_add_test(tc, test_fixtures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(feedback_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
