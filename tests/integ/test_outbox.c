/*
 * The helpdesk round trip's way back (issue #12): the review outbox and its
 * relay to tickets.reviewed, and the helpdesk's feedback recorded as the
 * review functions would. Real parts: the throwaway PostgreSQL cluster,
 * the dev broker, the daemon. Tickets awaiting review are written by SQL
 * (the relay does not care how they were triaged); the review actions are
 * the real review functions.
 *
 *   roundtrip     every kind of action becomes one event, in order per
 *                 ticket, with the reply's personal data restored, the
 *                 labels as corrected; claims are not sent
 *   feedback      a sent reply -> accepted / edited / replaced, changed
 *                 fields -> corrections; a redelivered event changes
 *                 nothing; the helpdesk's decisions are not sent back
 *   relay_faults  1,000 review actions, 5 SIGKILLs of the daemon and one
 *                 PostgreSQL restart: 0 lost, 0 duplicated per sequence,
 *                 per-ticket order kept (figures printed)
 *   feedback_dlq_at_exit  a refused feedback event's dead letter acknowledged
 *                 during the shutdown: its offset committed, dead-lettered once
 *   relay_at_exit a review event acknowledged during the shutdown: marked
 *                 sent in the final flush, not sent again after the restart
 *   two_relays    two daemons: one relay sends, the other on standby takes
 *                 over; each event once
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "stack.h"

#define REVIEWED_PARTS 4 /* tickets.reviewed: auto-created by the dev broker with 4 */
#define DRAFT "Hello, we have refunded your order today. Kind regards, the support team."

/* n tickets <prefix>1..n awaiting review (source src), each with a PII map. */
static void seed_src(struct stack *s, const char *src, const char *prefix, int n)
{
	ck_assert_int_eq(
	    h_sql_exec(s->db,
		       "WITH t AS (INSERT INTO tickets (source, ticket_id, content_hash, channel, "
		       "subject, body, customer_tier) SELECT '%s', '%s' || g, '\\x00'::bytea, "
		       "'email', 'Refund', 'Body', 'standard' FROM generate_series(1, %d) g "
		       "RETURNING id), "
		       "r AS (INSERT INTO ticket_revisions (ticket_pk, revision, content_hash) "
		       "SELECT id, 1, '\\x00'::bytea FROM t), "
		       "p AS (INSERT INTO ticket_pii (ticket_pk, revision, map) SELECT id, 1, "
		       "'[{\"placeholder\": \"[EMAIL_1]\", \"value\": \"ann@example.com\", "
		       "\"kind\": \"email\"}]'::jsonb FROM t) "
		       "INSERT INTO triage_results (ticket_pk, revision, status, category, "
		       "sentiment, urgency, confidence, summary, draft_reply, decided_by, model, "
		       "prompt_version) SELECT id, 1, 'pending_review', 'billing', 'neutral', "
		       "'normal', 0.9, 'summary', '" DRAFT "', 'mini', 'm', 'triage-v1' FROM t",
		       src, prefix, n),
	    0);
}

static void seed(struct stack *s, const char *prefix, int n)
{
	seed_src(s, "test", prefix, n);
}

static long long pk_of(struct stack *s, const char *tid)
{
	return h_sql_ll(s->db, "SELECT id FROM tickets WHERE source = 'test' AND ticket_id = '%s'",
			tid);
}

/* ---- what came out on the topic ------------------------------------------ */

#define MAX_TICKETS 512
#define MAX_EVENTS 8192

struct seen {
	int n;			/* messages read */
	int bad;		/* not JSON, or key != ticket_id */
	char *key[MAX_EVENTS];	/* ticket_id */
	int seq[MAX_EVENTS];	/* sequence */
	char *json[MAX_EVENTS]; /* payload */
};

static void on_msg(const rd_kafka_message_t *m, void *arg)
{
	struct seen *sn = arg;
	json_object *o, *v;
	char *payload;

	if (sn->n >= MAX_EVENTS)
		return;
	payload = strndup(m->payload ? (const char *)m->payload : "", m->len);
	o = json_tokener_parse(payload);
	if (o == NULL || !json_object_object_get_ex(o, "sequence", &v) || m->key == NULL) {
		sn->bad++;
		free(payload);
		json_object_put(o);
		return;
	}
	sn->seq[sn->n] = json_object_get_int(v);
	sn->key[sn->n] = strndup(m->key, m->key_len);
	sn->json[sn->n] = payload;
	if (!json_object_object_get_ex(o, "ticket_id", &v) ||
	    strcmp(json_object_get_string(v), sn->key[sn->n]) != 0)
		sn->bad++;
	json_object_put(o);
	sn->n++;
}

static void seen_free(struct seen *sn)
{
	for (int i = 0; i < sn->n; i++) {
		free(sn->key[i]);
		free(sn->json[i]);
	}
	sn->n = 0;
}

struct figures {
	long long distinct;	/* (ticket, sequence) pairs on the topic */
	long long redelivered;	/* copies of a pair seen before (same payload) */
	long long conflicting;	/* a pair seen before with another payload */
	long long out_of_order; /* a new sequence that is not the ticket's last + 1 */
};

/* Walk the messages (in partition order: one ticket's are in one partition). */
static void figures_of(const struct seen *sn, struct figures *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < sn->n; i++) {
		int last = 0, dup = -1;
		for (int j = 0; j < i; j++) {
			if (strcmp(sn->key[j], sn->key[i]) != 0)
				continue;
			if (sn->seq[j] > last)
				last = sn->seq[j];
			if (sn->seq[j] == sn->seq[i] && dup < 0)
				dup = j;
		}
		if (dup >= 0) {
			if (strcmp(sn->json[dup], sn->json[i]) == 0)
				f->redelivered++;
			else
				f->conflicting++;
			continue;
		}
		f->distinct++;
		if (sn->seq[i] != last + 1)
			f->out_of_order++;
	}
}

/* The payload of ticket tid's event with sequence seq (borrowed), NULL if none. */
static json_object *event_of(const struct seen *sn, const char *tid, int seq, json_object **keep)
{
	for (int i = 0; i < sn->n; i++)
		if (strcmp(sn->key[i], tid) == 0 && sn->seq[i] == seq) {
			*keep = json_tokener_parse(sn->json[i]);
			return *keep;
		}
	return NULL;
}

static const char *str_at(json_object *o, const char *k1, const char *k2)
{
	json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, k1, &v))
		return NULL;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return json_object_get_string(v);
}

static long long unsent(struct stack *s)
{
	return h_sql_ll(s->db, "SELECT count(*) FROM review_outbox WHERE sent_at IS NULL");
}

static int wait_sent(struct stack *s, int timeout_ms)
{
	long long t0 = h_now_ms();
	while (h_now_ms() - t0 < timeout_ms) {
		if (unsent(s) == 0)
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

/* ---- /metrics -------------------------------------------------------------- */


static char body[1 << 18];
static size_t body_len;

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	size_t k = sz * n;
	(void)arg;
	if (body_len + k >= sizeof(body))
		k = sizeof(body) - 1 - body_len;
	memcpy(body + body_len, p, k);
	body_len += k;
	body[body_len] = '\0';
	return sz * n;
}

/* GET /metrics from the daemon's admin port into body: the HTTP status. */
static long get_metrics(int port)
{
	char url[256];
	long code = 0;
	CURL *c = curl_easy_init();
	body_len = 0;
	body[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

/*
 * Wait (up to timeout_ms) until /metrics has every line of want (NULL-ended, each a whole
 * sample line "name{labels} value"). 0, or -1 with the first line missing in *missing.
 */
static int wait_metrics(int port, const char *const *want, int timeout_ms, const char **missing)
{
	long long t0 = h_now_ms();
	char line[256];
	*missing = want[0];
	while (h_now_ms() - t0 < timeout_ms) {
		int ok = get_metrics(port) == 200;
		for (size_t i = 0; ok && want[i]; i++) {
			snprintf(line, sizeof(line), "\n%s\n", want[i]);
			if (strstr(body, line) == NULL) {
				ok = 0;
				*missing = want[i];
			}
		}
		if (ok)
			return 0;
		usleep(200 * 1000);
	}
	return -1;
}

/* ---- roundtrip ----------------------------------------------------------- */

START_TEST(test_roundtrip)
{
	struct stack s;
	struct h_proc d;
	static struct seen sn;
	struct figures f;
	json_object *e, *keep = NULL;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "outbox", 1, NULL), 0);
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	stack_env(&s, "TRIAGED_REVIEW_POLL_MS", "200");
	/* the daemon as a login of triaged_service, which reads no table: the relay and its
	 * gauges go through the granted functions only */
	ck_assert_int_eq(h_sql_exec(s.db, "DO $$BEGIN CREATE ROLE outbox_svc LOGIN IN ROLE "
					  "triaged_service; EXCEPTION WHEN duplicate_object THEN "
					  "NULL; END$$"),
			 0);
	{
		char ci[sizeof(s.conninfo) + 32];
		snprintf(ci, sizeof(ci), "%s user=outbox_svc", s.conninfo);
		stack_env(&s, "TRIAGED_POSTGRES_CONNINFO", ci);
	}
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d(stack_wait_log(&d, "outbox relay listening", 30000) == 0, &d);
	seed(&s, "rt-", 4);
	/* rt-1 approved as is */
	ck_assert_int_eq(
	    h_sql_exec(s.db, "SELECT review_approve(%lld, 1, NULL, 'alice')", pk_of(&s, "rt-1")),
	    0);
	/* rt-2 corrected, then approved edited with a placeholder left in the text */
	ck_assert_int_eq(h_sql_exec(s.db,
				    "SELECT review_correct(%lld, 1, 'shipping', 'high', NULL, "
				    "'alice')",
				    pk_of(&s, "rt-2")),
			 0);
	ck_assert_int_eq(h_sql_exec(s.db,
				    "SELECT review_approve(%lld, 1, 'Hi, we wrote to "
				    "[EMAIL_1] about the parcel.', 'alice')",
				    pk_of(&s, "rt-2")),
			 0);
	/* rt-3 rejected */
	ck_assert_int_eq(h_sql_exec(s.db, "SELECT review_reject(%lld, 1, 'wrong product', 'bob')",
				    pk_of(&s, "rt-3")),
			 0);
	/* rt-4 claimed (not sent), reassigned, released */
	ck_assert_int_eq(h_sql_exec(s.db, "SELECT review_claim(%lld, 'alice')", pk_of(&s, "rt-4")),
			 0);
	ck_assert_int_eq(
	    h_sql_exec(s.db, "SELECT review_reassign(%lld, 'bob', 'alice')", pk_of(&s, "rt-4")), 0);
	ck_assert_int_eq(h_sql_exec(s.db, "SELECT review_release(%lld, 'bob')", pk_of(&s, "rt-4")),
			 0);
	/* one outbox row per action but the claim, numbered per ticket */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM review_outbox"), 6);
	ck_assert_int_eq(
	    h_sql_ll(s.db, "SELECT count(*) FROM review_events WHERE action <> 'claim'"), 6);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT max(seq) FROM review_outbox WHERE ticket_pk = %lld",
				  pk_of(&s, "rt-4")),
			 2);
	ck_assert_d(wait_sent(&s, 20000) == 0, &d);
	ck_assert_int_eq(h_kafka_consume_all(s.bootstrap, "tickets.reviewed", REVIEWED_PARTS, 15000,
					     on_msg, &sn),
			 0);
	figures_of(&sn, &f);
	fprintf(stderr, "outbox roundtrip: rows=6 messages=%d distinct=%lld redelivered=%lld\n",
		sn.n, f.distinct, f.redelivered);
	ck_assert_int_eq(sn.bad, 0);
	ck_assert_int_eq(f.distinct, 6);
	ck_assert_int_eq(f.conflicting, 0);
	ck_assert_int_eq(f.out_of_order, 0);

	e = event_of(&sn, "rt-1", 1, &keep);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(str_at(e, "type", NULL), "ticket.reviewed");
	ck_assert_str_eq(str_at(e, "action", NULL), "approve");
	ck_assert_str_eq(str_at(e, "outcome", NULL), "accepted");
	ck_assert_str_eq(str_at(e, "reply", NULL), DRAFT);
	ck_assert_str_eq(str_at(e, "agent", NULL), "alice");
	ck_assert_str_eq(str_at(e, "labels", "category"), "billing");
	ck_assert_ptr_nonnull(str_at(e, "at", NULL));
	json_object_put(keep);

	e = event_of(&sn, "rt-2", 1, &keep);
	ck_assert_str_eq(str_at(e, "action", NULL), "correct");
	ck_assert_str_eq(str_at(e, "corrections", "category") ? "ok" : "", "ok");
	json_object_put(keep);
	e = event_of(&sn, "rt-2", 2, &keep);
	ck_assert_str_eq(str_at(e, "action", NULL), "approve");
	ck_assert_str_eq(str_at(e, "outcome", NULL), "edited");
	/* the personal data the model never saw, restored for the customer */
	ck_assert_str_eq(str_at(e, "reply", NULL),
			 "Hi, we wrote to ann@example.com about the parcel.");
	ck_assert_str_eq(str_at(e, "labels", "category"), "shipping");
	ck_assert_str_eq(str_at(e, "labels", "urgency"), "high");
	ck_assert_str_eq(str_at(e, "labels", "corrected"), "true");
	json_object_put(keep);

	e = event_of(&sn, "rt-3", 1, &keep);
	ck_assert_str_eq(str_at(e, "outcome", NULL), "rejected");
	ck_assert_str_eq(str_at(e, "reason", NULL), "wrong product");
	ck_assert_ptr_null(str_at(e, "reply", NULL));
	json_object_put(keep);

	e = event_of(&sn, "rt-4", 1, &keep);
	ck_assert_str_eq(str_at(e, "action", NULL), "reassign");
	ck_assert_str_eq(str_at(e, "to", NULL), "bob");
	json_object_put(keep);
	e = event_of(&sn, "rt-4", 2, &keep);
	ck_assert_str_eq(str_at(e, "action", NULL), "release");
	json_object_put(keep);

	seen_free(&sn);
	/* /metrics: the six events sent, nothing left (the backlog is read every poll_ms) */
	{
		static const char *const want[] = {
		    "triaged_outbox_events_sent_total 6", "triaged_outbox_backlog 0",
		    "triaged_outbox_oldest_unsent_seconds 0", "triaged_outbox_up 1",
		    "triaged_outbox_errors_total 0", "triaged_outbox_produce_retries_total 0",
		    "triaged_outbox_reconnects_total 0", NULL};
		const char *miss;
		int port = stack_http_port(&d);
		ck_assert_int_gt(port, 0);
		ck_assert_msg(wait_metrics(port, want, 10000, &miss) == 0, "/metrics lacks '%s'",
			      miss);
		/* woken by NOTIFY at least once per action batch, not only by the poll */
		ck_assert_ptr_null(strstr(body, "\ntriaged_outbox_notifies_total 0\n"));
	}
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	ck_assert_d(stack_wait_log(&d, "outbox relay stopped\" sent=6 ", 1000) == 0, &d);
	stack_stop(&s);
}
END_TEST

/* ---- feedback ------------------------------------------------------------ */

static const char *fb(struct stack *s, const char *json)
{
	static char out[256];
	char *v = h_sql_str(s->db,
			    "SELECT string_agg(outcome, ',' ORDER BY idx) FROM "
			    "triaged_feedback('%s'::jsonb)",
			    json);
	snprintf(out, sizeof(out), "%s", v ? v : "(null)");
	free(v);
	return out;
}

START_TEST(test_feedback)
{
	struct stack s;
	long long ev_before, corr_before;
	char *v;
	const char *batch =
	    "[{\"source\": \"test\", \"event_id\": \"e1\", \"ticket_id\": \"fb-1\", \"kind\": "
	    "\"reply\", \"agent\": \"zoe\", \"reply\": \"" DRAFT "\"},"
	    " {\"source\": \"test\", \"event_id\": \"e2\", \"ticket_id\": \"fb-2\", \"kind\": "
	    "\"reply\", \"agent\": \"zoe\", \"reply\": \"Hello, we have refunded your order "
	    "yesterday. Kind regards, the support team.\"},"
	    " {\"source\": \"test\", \"event_id\": \"e3\", \"ticket_id\": \"fb-3\", \"kind\": "
	    "\"reply\", \"agent\": \"zoe\", \"reply\": \"Please send us a photo of the box.\"},"
	    " {\"source\": \"test\", \"event_id\": \"e4\", \"ticket_id\": \"fb-4\", \"kind\": "
	    "\"fields\", \"agent\": \"zoe\", \"fields\": {\"urgency\": \"critical\", "
	    "\"category\": \"billing\", \"sentiment\": \"furious\"}},"
	    " {\"source\": \"test\", \"event_id\": \"e5\", \"ticket_id\": \"nope\", \"kind\": "
	    "\"reply\", \"reply\": \"x\"}]";

	ck_assert_int_eq(stack_start(&s, &stack_pg, "feedback", 1, NULL), 0);
	seed(&s, "fb-", 4);
	ck_assert_str_eq(fb(&s, batch), "accepted,edited,replaced,corrected,ignored");
	ck_assert_int_eq(h_sql_ll(s.db,
				  "SELECT edit_distance FROM triage_results WHERE ticket_pk = "
				  "%lld",
				  pk_of(&s, "fb-2")),
			 1);
	v = h_sql_str(
	    s.db, "SELECT string_agg(review_outcome || ':' || status || ':' || reviewed_by, ',' "
		  "ORDER BY ticket_pk) FROM triage_results tr JOIN tickets t ON t.id = "
		  "tr.ticket_pk WHERE t.ticket_id IN ('fb-1', 'fb-2', 'fb-3')");
	ck_assert_str_eq(v, "accepted:approved:zoe,edited:approved:zoe,replaced:approved:zoe");
	free(v);
	/* only the valid, changed field: urgency (category unchanged, sentiment invalid) */
	v = h_sql_str(s.db,
		      "SELECT string_agg(field || '=' || new_value, ',') FROM "
		      "label_corrections WHERE ticket_pk = %lld",
		      pk_of(&s, "fb-4"));
	ck_assert_str_eq(v, "urgency=critical");
	free(v);
	/* counted like SQL reviews: two reviewed as accepted/edited, one replaced (with rejected)
	 */
	ck_assert_int_eq(
	    h_sql_ll(s.db, "SELECT reviewed FROM review_outcomes WHERE dimension = 'all'"), 3);
	ck_assert_int_eq(
	    h_sql_ll(s.db, "SELECT accepted FROM review_outcomes WHERE dimension = 'all'"), 1);
	/* the helpdesk's own decisions are not sent back to it */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM review_outbox"), 0);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM review_events WHERE detail->>'via' = "
					"'helpdesk'"),
			 4);

	/* redelivered: nothing changes a second time */
	ev_before = h_sql_ll(s.db, "SELECT count(*) FROM review_events");
	corr_before = h_sql_ll(s.db, "SELECT count(*) FROM label_corrections");
	ck_assert_str_eq(fb(&s, batch), "duplicate,duplicate,duplicate,duplicate,duplicate");
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM review_events"), ev_before);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM label_corrections"), corr_before);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM feedback_events"), 5);

	/* a ticket reviewed in SQL first: the helpdesk's later reply is ignored, not counted twice
	 */
	ck_assert_int_eq(
	    h_sql_exec(s.db, "SELECT review_reject(%lld, 1, 'no', 'alice')", pk_of(&s, "fb-4")), 0);
	ck_assert_str_eq(fb(&s, "[{\"source\": \"test\", \"event_id\": \"e6\", \"ticket_id\": "
				"\"fb-4\", \"kind\": \"reply\", \"reply\": \"ok\"}]"),
			 "ignored");
	ck_assert_int_eq(
	    h_sql_ll(s.db, "SELECT reviewed FROM review_outcomes WHERE dimension = 'all'"), 4);
	stack_stop(&s);
}
END_TEST

/* ---- relay_faults -------------------------------------------------------- */

#define RF_TICKETS 200
#define RF_ACTIONS 1000
#define RF_KILLS 5

/* Action k (0..999): ticket k / 5, step k % 5; an error is printed and counted. */
static int act(struct stack *s, int k, long long *pks)
{
	long long pk = pks[k / 5];
	switch (k % 5) {
	case 0:
		return h_sql_exec(
		    s->db, "SELECT review_correct(%lld, 1, NULL, 'high', NULL, 'alice')", pk);
	case 1:
		return h_sql_exec(s->db, "SELECT review_reassign(%lld, 'bob', 'alice')", pk);
	case 2:
		return h_sql_exec(s->db, "SELECT review_release(%lld, 'bob')", pk);
	case 3:
		return h_sql_exec(
		    s->db, "SELECT review_correct(%lld, 1, NULL, NULL, 'negative', 'alice')", pk);
	default:
		return h_sql_exec(s->db, "SELECT review_approve(%lld, 1, NULL, 'alice')", pk);
	}
}

START_TEST(test_relay_faults)
{
	struct stack s;
	struct h_proc d[RF_KILLS + 1];
	static struct seen sn;
	static long long pks[RF_TICKETS];
	struct figures f;
	long long rows, sent_before_kill[RF_KILLS], unsent_at_restart = -1;
	int done = 0, failed = 0, kills = 0;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "relayfaults", 1, NULL), 0);
	/* poll often, so that the kills land while events are in flight */
	stack_env(&s, "TRIAGED_REVIEW_BATCH", "16");
	seed(&s, "rf-", RF_TICKETS);
	for (int i = 0; i < RF_TICKETS; i++) {
		char tid[32];
		snprintf(tid, sizeof(tid), "rf-%d", i + 1);
		pks[i] = pk_of(&s, tid);
		ck_assert_int_gt(pks[i], 0);
	}
	ck_assert_int_eq(stack_daemon(&s, &d[0], "daemon0"), 0);
	for (int k = 0; k < RF_ACTIONS; k++) {
		/* a kill after every 160 actions, a PostgreSQL restart after 900 */
		if (k > 0 && k % 160 == 0 && kills < RF_KILLS) {
			char label[32];
			sent_before_kill[kills] = h_sql_ll(
			    s.db, "SELECT count(*) FROM review_outbox WHERE sent_at IS NOT NULL");
			ck_assert_int_eq(h_signal(&d[kills], SIGKILL), 0);
			ck_assert_int_eq(h_wait_exit(&d[kills], 10000, NULL), 0);
			kills++;
			snprintf(label, sizeof(label), "daemon%d", kills);
			ck_assert_int_eq(stack_daemon(&s, &d[kills], label), 0);
		}
		if (k == 900) {
			PQfinish(s.db);
			s.db = NULL;
			ck_assert_int_eq(h_pg_stop(&stack_pg), 0);
			usleep(2000 * 1000);
			ck_assert_int_eq(h_pg_start_again(&stack_pg), 0);
			s.db = PQconnectdb(s.conninfo);
			ck_assert_int_eq(PQstatus(s.db), CONNECTION_OK);
			unsent_at_restart = unsent(&s);
		}
		if (act(&s, k, pks) == 0)
			done++;
		else
			failed++;
		usleep(4000);
	}
	ck_assert_d(wait_sent(&s, 120000) == 0, &d[kills]);
	/* the last daemon lived through the restart: it lost its connection and came back */
	ck_assert_d(stack_wait_log(&d[kills], "outbox relay: database connection lost", 1000) == 0,
		    &d[kills]);
	ck_assert_d(stack_wait_log(&d[kills], "outbox relay listening", 1000) == 0, &d[kills]);
	ck_assert_int_eq(stack_stop_daemon(&d[kills], 30000), 0);
	rows = h_sql_ll(s.db, "SELECT count(*) FROM review_outbox");
	ck_assert_int_eq(h_kafka_consume_all(s.bootstrap, "tickets.reviewed", REVIEWED_PARTS, 30000,
					     on_msg, &sn),
			 0);
	figures_of(&sn, &f);
	fprintf(stderr,
		"outbox relay_faults: review_actions=%d failed_actions=%d outbox_rows=%lld "
		"messages=%d events_out=%lld lost=%lld redelivered=%lld duplicated_seq=%lld "
		"out_of_order=%lld kills=%d pg_restarts=1 unsent_at_pg_restart=%lld "
		"sent_before_kills=%lld,%lld,%lld,%lld,%lld\n",
		done, failed, rows, sn.n, f.distinct, rows - f.distinct, f.redelivered,
		f.conflicting, f.out_of_order, kills, unsent_at_restart, sent_before_kill[0],
		sent_before_kill[1], sent_before_kill[2], sent_before_kill[3], sent_before_kill[4]);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(done, RF_ACTIONS);
	ck_assert_int_eq(kills, RF_KILLS);
	ck_assert_int_eq(rows, RF_ACTIONS); /* every action is one event (no claim among them) */
	ck_assert_int_eq(sn.bad, 0);
	ck_assert_int_eq(f.distinct, rows);  /* 0 lost */
	ck_assert_int_eq(f.conflicting, 0);  /* 0 duplicated per sequence */
	ck_assert_int_eq(f.out_of_order, 0); /* per-ticket order kept */
	/* every ticket's last event is its approval, sequence 5 */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM review_outbox WHERE seq = 5 AND "
					"payload->>'action' = 'approve'"),
			 RF_TICKETS);
	seen_free(&sn);
	stack_stop(&s);
}
END_TEST

/* ---- feedback_topic: Zendesk events through the daemon ------------------- */

/* tickets.dlq's messages: the payload (first only) and the error code header. */
struct dlq_seen {
	int n;
	char code[64];
	char *payload;
	size_t len;
};

static void on_dlq(const rd_kafka_message_t *m, void *arg)
{
	struct dlq_seen *d = arg;
	rd_kafka_headers_t *h = NULL;
	const void *v;
	size_t vlen;

	if (d->n++ > 0)
		return;
	d->payload = malloc(m->len + 1);
	memcpy(d->payload, m->payload, m->len);
	d->payload[m->len] = '\0';
	d->len = m->len;
	if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(h, "triaged.error.code", &v, &vlen) ==
		RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(d->code, sizeof(d->code), "%.*s", (int)vlen, (const char *)v);
}

#define ZD_EV(id, tid, type, event)                                                                \
	"{\"id\": \"" id "\", \"type\": \"zen:event-type:ticket." type "\", \"detail\": "          \
	"{\"id\": \"" tid "\", \"actor_id\": \"361789\"}, \"event\": " event "}\n"

/* An event the database refuses on its own: an id over the btree key limit (8,000
 * characters that do not compress) -> dead-lettered as it came, code feedback_rejected. */
static char *refused_event(unsigned x)
{
	size_t n = 8000, len = n + 512;
	char *id = malloc(n + 1), *ev = malloc(len);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		id[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[(x >> 16) % 62];
	}
	id[n] = '\0';
	snprintf(ev, len,
		 "{\"id\": \"%s\", \"type\": \"zen:event-type:ticket.priority_changed\", "
		 "\"detail\": {\"id\": \"zd-3\", \"actor_id\": \"361789\"}, \"event\": "
		 "{\"current\": \"HIGH\"}}",
		 id);
	free(id);
	return ev;
}

/* Produce text to topic, unkeyed. */
static void produce_text(struct stack *s, const char *topic, const char *text)
{
	char path[PATH_MAX], bin[PATH_MAX];
	struct h_proc p;
	int st = -1;
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s.jsonl", h_tmpdir(), topic);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(h_bin(bin, sizeof(bin), "triaged-produce"), 0);
	{
		char *argv[] = {bin, "--bootstrap-file", s->boot_file, "-t", (char *)topic, "-f",
				path, "--no-key", NULL};
		ck_assert_int_eq(h_spawn(&p, "produce", argv, NULL), 0);
		ck_assert_int_eq(h_wait_exit(&p, 60000, &st), 0);
		ck_assert_int_eq(st, 0);
	}
}

/* A refused event (refused_event) produced to helpdesk.events as one line; returns it. */
static char *produce_refused(struct stack *s, unsigned seed)
{
	char *ev = refused_event(seed), *line = malloc(strlen(ev) + 2);
	sprintf(line, "%s\n", ev);
	produce_text(s, "helpdesk.events", line);
	free(line);
	return ev;
}

START_TEST(test_feedback_topic)
{
	struct stack s;
	struct h_proc d;
	char *v, *refused;
	struct dlq_seen dl = {0};
	static const char events[] =
	    ZD_EV("z1", "zd-1", "comment_added",
		  "{\"comment\": {\"id\": \"1\", \"body\": \"<p>Hello, we have refunded your "
		  "order today. Kind regards, the support team.</p>\", \"is_public\": true, "
		  "\"author\": {\"is_staff\": true, \"name\": \"Ben\"}}}")
		ZD_EV("z2", "zd-2", "priority_changed", "{\"current\": \"URGENT\"}")
		    ZD_EV("z3", "zd-2", "tags_changed", "{\"tags_added\": [\"category:shipping\"]}")
			ZD_EV("z4", "zd-3", "status_changed", "{\"current\": \"SOLVED\"}")
	    /* redelivered, byte for byte (unkeyed: maybe before the first copy) */
	    ZD_EV("z2", "zd-2", "priority_changed", "{\"current\": \"URGENT\"}")
		ZD_EV("z1", "zd-1", "comment_added",
		      "{\"comment\": {\"id\": \"1\", \"body\": \"<p>Hello, we have refunded your "
		      "order today. Kind regards, the support team.</p>\", \"is_public\": true, "
		      "\"author\": {\"is_staff\": true, \"name\": \"Ben\"}}}");

	ck_assert_int_eq(stack_start(&s, &stack_pg, "fbtopic", 1, NULL), 0);
	seed_src(&s, "zendesk", "zd-", 3);
	produce_text(&s, "helpdesk.events", events);
	refused = produce_refused(&s, 12345);
	stack_env(&s, "TRIAGED_FEEDBACK_TOPIC", "helpdesk.events");
	stack_env(&s, "TRIAGED_INTAKE_FORMAT", "zendesk");
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	/* five events mapped (the status change is skipped), two of them redelivered */
	ck_assert_d(stack_wait_count(&s, 3, 60000, "SELECT count(*) FROM feedback_events") == 3,
		    &d);
	{
		static const char *const want[] = {
		    "triaged_feedback_consumed_total 7",
		    "triaged_feedback_events_total{outcome=\"recorded\"} 3",
		    "triaged_feedback_events_total{outcome=\"duplicate\"} 2",
		    "triaged_feedback_events_total{outcome=\"ignored\"} 0",
		    "triaged_feedback_events_total{outcome=\"skipped\"} 1",
		    "triaged_feedback_events_total{outcome=\"rejected\"} 1",
		    "triaged_feedback_dead_letters_total 1",
		    /* the helpdesk's own decisions are not sent back */
		    "triaged_outbox_events_sent_total 0",
		    NULL};
		const char *miss;
		int port = stack_http_port(&d);
		ck_assert_int_gt(port, 0);
		ck_assert_msg(wait_metrics(port, want, 30000, &miss) == 0, "/metrics lacks '%s'",
			      miss);
	}
	ck_assert_int_eq(stack_stop_daemon(&d, 30000), 0);
	ck_assert_d(
	    stack_wait_log(&d,
			   "consumed=7 skipped=1 recorded=3 duplicates=2 ignored=0 rejected=1 "
			   "dead_lettered=1",
			   1000) == 0,
	    &d);
	v = h_sql_str(s.db, "SELECT string_agg(event_id || '=' || outcome, ',' ORDER BY event_id) "
			    "FROM feedback_events");
	ck_assert_str_eq(v, "z1=accepted,z2=corrected,z3=corrected");
	free(v);
	v = h_sql_str(s.db, "SELECT string_agg(field || '=' || new_value, ',' ORDER BY field) FROM "
			    "label_corrections");
	ck_assert_str_eq(v, "category=shipping,urgency=critical");
	free(v);
	/* the reply recorded once, as the first delivery said (HTML as text) */
	v = h_sql_str(s.db,
		      "SELECT final_reply || '|' || review_outcome FROM triage_results tr JOIN "
		      "tickets t ON t.id = tr.ticket_pk WHERE t.ticket_id = 'zd-1'");
	ck_assert_str_eq(v, DRAFT "|accepted");
	free(v);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM review_events"), 3);
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM review_outbox"), 0);
	/* the refused event: nothing recorded, one dead letter, byte for byte */
	ck_assert_int_eq(h_sql_ll(s.db, "SELECT count(*) FROM label_corrections WHERE new_value = "
					"'high'"),
			 0);
	ck_assert_int_eq(h_kafka_consume_all(s.bootstrap, "tickets.dlq", 1, 15000, on_dlq, &dl), 0);
	ck_assert_int_eq(dl.n, 1);
	ck_assert_str_eq(dl.code, "feedback_rejected");
	ck_assert_uint_eq(dl.len, strlen(refused));
	ck_assert_str_eq(dl.payload, refused);
	free(dl.payload);
	free(refused);
	stack_stop(&s);
}
END_TEST

/*
 * A refused feedback event whose dead letter the broker acknowledges after the
 * loop ended (feedback_in_free's flush). Before, the consumer was closed first:
 * the acknowledgement could not advance the offset, and the restart
 * dead-lettered the event a second time. The dead-letter topic is on a broker of
 * its own, 1 s slow.
 */
START_TEST(test_feedback_dlq_at_exit)
{
	struct stack s;
	struct h_proc d, d2;
	struct dlq_seen dl = {0};
	char *refused;
	int st = -1;
	long long t0;

	ck_assert_int_eq(stack_start(&s, &stack_pg, "fbexit", 1, NULL), 0);
	ck_assert_int_eq(stack_broker_cluster(&s, 2), 0);
	ck_assert_int_eq(stack_broker_control(&s, "topic helpdesk.events 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader helpdesk.events 0 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.incoming 0 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.triaged 0 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.dlq 0 2"), 0);
	seed_src(&s, "zendesk", "zd-", 3);
	stack_env(&s, "TRIAGED_FEEDBACK_TOPIC", "helpdesk.events");
	stack_env(&s, "TRIAGED_INTAKE_FORMAT", "zendesk");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	produce_text(&s, "helpdesk.events",
		     ZD_EV("z2", "zd-2", "priority_changed", "{\"current\": \"URGENT\"}"));
	ck_assert_d(stack_wait_count(&s, 1, 60000, "SELECT count(*) FROM feedback_events") == 1,
		    &d);
	/* one refused event at speed: the producer knows the dead-letter topic's broker */
	free(produce_refused(&s, 12345));
	ck_assert_d(stack_wait_log(&d, "msg=\"feedback event rejected by the database", 30000) == 0,
		    &d);
	for (t0 = h_now_ms(); h_now_ms() - t0 < 15000; usleep(50 * 1000))
		if (h_kafka_end_offsets_sum(s.bootstrap, "tickets.dlq", 1) == 1)
			break;
	ck_assert_d(h_kafka_end_offsets_sum(s.bootstrap, "tickets.dlq", 1) == 1, &d);
	ck_assert_int_eq(stack_broker_control(&s, "rtt 2 1000"), 0);
	refused = produce_refused(&s, 777);
	/* its dead letter is sent, the acknowledgement 1 s away (the flush: 2 s): stop now */
	for (t0 = h_now_ms(); h_now_ms() - t0 < 30000; usleep(20 * 1000))
		if (stack_log_count(&d, "msg=\"feedback event rejected by the database", NULL) == 2)
			break;
	ck_assert_d(stack_log_count(&d, "msg=\"feedback event rejected by the database", NULL) == 2, &d);
	t0 = h_now_ms();
	ck_assert_int_eq(h_signal(&d, SIGTERM), 0);
	ck_assert_int_eq(h_wait_exit(&d, 60000, &st), 0);
	ck_assert_d(st == 0, &d);
	ck_assert_d(stack_wait_log(&d, "dead_lettered=2", 1000) == 0, &d);
	fprintf(stderr, "outbox feedback_dlq_at_exit: exit_ms=%lld\n", h_now_ms() - t0);
	/* a restart does not dead-letter it again */
	ck_assert_int_eq(stack_broker_control(&s, "rtt 2 0"), 0);
	ck_assert_int_eq(stack_daemon(&s, &d2, "daemon2"), 0);
	produce_text(&s, "helpdesk.events",
		     ZD_EV("z3", "zd-2", "tags_changed", "{\"tags_added\": [\"category:shipping\"]}"));
	ck_assert_d(stack_wait_count(&s, 2, 60000, "SELECT count(*) FROM feedback_events") == 2,
		    &d2);
	ck_assert_int_eq(stack_stop_daemon(&d2, 30000), 0);
	ck_assert_d(stack_wait_log(&d2, "consumed=1 ", 1000) == 0, &d2);
	/* two dead letters, each once (the first read is the warm one) */
	ck_assert_int_eq(h_kafka_consume_all(s.bootstrap, "tickets.dlq", 1, 15000, on_dlq, &dl), 0);
	ck_assert_int_eq(dl.n, 2);
	ck_assert_str_eq(dl.code, "feedback_rejected");
	free(dl.payload);
	free(refused);
	stack_stop(&s);
}
END_TEST

/*
 * A review event the broker acknowledges during the shutdown: it is marked sent in
 * the final flush, on the loop, and not sent again after the restart. Before, the
 * relay flushed after the loop (outbox_free): the acknowledgement came, the mark
 * could not be sent, and the restart sent the event again. The review topic is on
 * a broker of its own, 2 s slow.
 */
START_TEST(test_relay_at_exit)
{
	struct stack s;
	struct h_proc d, d2;
	static struct seen sn;
	struct figures f;
	int st = -1, port;
	long long t0;

	memset(&sn, 0, sizeof(sn));
	ck_assert_int_eq(stack_start(&s, &stack_pg, "obexit", 1, NULL), 0);
	ck_assert_int_eq(stack_broker_cluster(&s, 2), 0);
	ck_assert_int_eq(stack_broker_control(&s, "topic tickets.reviewed 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.reviewed 0 2"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.incoming 0 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.triaged 0 1"), 0);
	ck_assert_int_eq(stack_broker_control(&s, "leader tickets.dlq 0 1"), 0);
	stack_env(&s, "TRIAGED_REVIEW_POLL_MS", "200");
	stack_env(&s, "TRIAGED_HTTP_LISTEN", "127.0.0.1:0");
	ck_assert_int_eq(stack_daemon(&s, &d, "daemon"), 0);
	ck_assert_d((port = stack_http_port(&d)) > 0, &d);
	ck_assert_d(stack_wait_log(&d, "outbox relay listening", 30000) == 0, &d);
	seed(&s, "ox-", 3);
	/* at speed: the relay's producer is connected to the review topic's broker */
	ck_assert_int_eq(
	    h_sql_exec(s.db, "SELECT review_approve(%lld, 1, NULL, 'alice')", pk_of(&s, "ox-1")), 0);
	ck_assert_d(wait_sent(&s, 20000) == 0, &d);
	ck_assert_int_eq(stack_broker_control(&s, "rtt 2 2000"), 0);
	ck_assert_int_eq(
	    h_sql_exec(s.db, "SELECT review_approve(%lld, 1, NULL, 'alice')", pk_of(&s, "ox-2")), 0);
	/* fetched and produced (a second round); its acknowledgement up to 2 s away */
	for (t0 = h_now_ms(); h_now_ms() - t0 < 10000; usleep(10 * 1000))
		if (stack_metric(port, "triaged_outbox_rounds_total") >= 2)
			break;
	ck_assert_d(stack_metric(port, "triaged_outbox_rounds_total") == 2, &d);
	ck_assert_int_eq(unsent(&s), 1);
	t0 = h_now_ms();
	ck_assert_int_eq(h_signal(&d, SIGTERM), 0);
	ck_assert_int_eq(h_wait_exit(&d, 60000, &st), 0);
	ck_assert_d(st == 0, &d);
	fprintf(stderr, "outbox relay_at_exit: exit_ms=%lld unsent_after=%lld\n", h_now_ms() - t0,
		unsent(&s));
	/* acknowledged and marked on the loop (pipeline_flush_also), not after it */
	ck_assert_d(stack_wait_log(&d, "final flush done", 1000) == 0, &d);
	ck_assert_d(stack_wait_log(&d, "unmarked=0", 1000) == 0, &d);
	ck_assert_int_eq(stack_broker_control(&s, "rtt 2 0"), 0);
	ck_assert_int_eq(unsent(&s), 0);
	/* a restart does not send it again */
	ck_assert_int_eq(stack_daemon(&s, &d2, "daemon2"), 0);
	ck_assert_d(stack_wait_log(&d2, "outbox relay listening", 30000) == 0, &d2);
	ck_assert_int_eq(
	    h_sql_exec(s.db, "SELECT review_approve(%lld, 1, NULL, 'alice')", pk_of(&s, "ox-3")), 0);
	ck_assert_d(wait_sent(&s, 20000) == 0, &d2);
	ck_assert_int_eq(stack_stop_daemon(&d2, 30000), 0);
	ck_assert_int_eq(
	    h_kafka_consume_all(s.bootstrap, "tickets.reviewed", 1, 15000, on_msg, &sn), 0);
	figures_of(&sn, &f);
	ck_assert_int_eq(sn.n, 3);
	ck_assert_int_eq(f.distinct, 3);
	ck_assert_int_eq(f.redelivered, 0);
	stack_stop(&s);
}
END_TEST

/* Approve the seeded tickets tid_like (LIKE pattern) as they are, by alice. */
static void approve_like(struct stack *s, const char *like)
{
	ck_assert_int_eq(h_sql_exec(s->db,
				    "SELECT count(review_approve(id, 1, NULL, 'alice')) FROM tickets "
				    "WHERE source = 'test' AND ticket_id LIKE '%s'",
				    like),
			 0);
}

/*
 * Two daemons on one database: one relay sends, the other waits on standby and takes
 * over when the first stops. Before, both relays read the same unsent rows and each
 * review event went out twice.
 */
START_TEST(test_two_relays)
{
	struct stack s;
	struct h_proc d1, d2;
	static struct seen sn;
	struct figures f;

	memset(&sn, 0, sizeof(sn));
	ck_assert_int_eq(stack_start(&s, &stack_pg, "tworelay", 1, NULL), 0);
	stack_env(&s, "TRIAGED_REVIEW_POLL_MS", "200");
	ck_assert_int_eq(stack_daemon(&s, &d1, "daemon1"), 0);
	ck_assert_d(stack_wait_log(&d1, "outbox relay active", 30000) == 0, &d1);
	ck_assert_int_eq(stack_daemon(&s, &d2, "daemon2"), 0);
	ck_assert_d(stack_wait_log(&d2, "outbox relay on standby", 30000) == 0, &d2);
	seed(&s, "tr1-", 40);
	seed(&s, "tr2-", 20);
	approve_like(&s, "tr1-%");
	ck_assert_d(wait_sent(&s, 30000) == 0, &d1);
	/* the relay stops: the standby takes over within a poll */
	ck_assert_int_eq(stack_stop_daemon(&d1, 30000), 0);
	ck_assert_d(stack_wait_log(&d2, "outbox relay active", 10000) == 0, &d2);
	approve_like(&s, "tr2-%");
	ck_assert_d(wait_sent(&s, 30000) == 0, &d2);
	ck_assert_int_eq(stack_stop_daemon(&d2, 30000), 0);
	/* each sent its share only: the first 40, the second 20 */
	ck_assert_d(stack_wait_log(&d1, "msg=\"outbox relay stopped\" sent=40 ", 1000) == 0, &d1);
	ck_assert_d(stack_wait_log(&d2, "msg=\"outbox relay stopped\" sent=20 ", 1000) == 0, &d2);
	ck_assert_int_eq(h_kafka_consume_all(s.bootstrap, "tickets.reviewed", REVIEWED_PARTS, 15000,
					     on_msg, &sn),
			 0);
	figures_of(&sn, &f);
	fprintf(stderr, "outbox two_relays: actions=60 messages=%d distinct=%lld redelivered=%lld\n",
		sn.n, f.distinct, f.redelivered);
	ck_assert_int_eq(sn.bad, 0);
	ck_assert_int_eq(f.distinct, 60);
	ck_assert_int_eq(sn.n, 60);
	seen_free(&sn);
	stack_stop(&s);
}
END_TEST

int main(void)
{
	const struct stack_case cases[] = {
	    {"roundtrip", test_roundtrip},
	    {"feedback", test_feedback},
	    {"feedback_topic", test_feedback_topic},
	    {"relay_faults", test_relay_faults},
	    {"feedback_dlq_at_exit", test_feedback_dlq_at_exit},
	    {"relay_at_exit", test_relay_at_exit},
	    {"two_relays", test_two_relays},
	};
	return stack_run_suite("outbox", cases, sizeof(cases) / sizeof(cases[0]), 600);
}
