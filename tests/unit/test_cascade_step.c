/*
 * Unit tests for cascade: the transition function as a table. Every
 * (state, event) pair is walked: the possible ones against the expected next
 * state and action (with the facts that change the decision), the
 * impossible ones must give ACT_ERROR and keep the state.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cascade.h"

/* Fact variants a case may set on top of a zeroed job_facts. */
enum {
	F_REDACT = 1 << 0,
	F_BUDGET = 1 << 1,
	F_WAITBUDGET = 1 << 2,
	F_RETRYRES = 1 << 3,
	F_EVENTS = 1 << 4,
	F_HASEVENT = 1 << 5,
	F_HASMINI = 1 << 6,
	F_FLAGSHIP = 1 << 7, /* current call on the flagship */
	F_REPAIR = 1 << 8,   /* current call is a repair */
	F_MAXCALLS = 1 << 9, /* CASCADE_MAX_CALLS made */
	F_RETRYCLAIM = 1 << 10,
};

struct step_case {
	enum job_state from;
	enum job_event ev;
	int facts;
	enum job_state want_state;
	enum cascade_act want_act;
	/* the details that matter for some actions; 0/NULL: not checked */
	const char *want_what;
	int want_status; /* -1: not checked */
	int want_tier, want_purpose;
	int want_drop, want_mini_invalid;
	uint32_t want_wait;
};

#define ANY -1
#define ARRAY_LEN (sizeof(cases) / sizeof(cases[0]))
#define C(from, ev, facts, st, act)                                                                \
	{                                                                                          \
		from, ev, facts, st, act, NULL, ANY, ANY, ANY, 0, 0, 0                             \
	}
#define CH(from, ev, facts, what)                                                                  \
	{                                                                                          \
		from, ev, facts, JOB_STORE, ACT_STORE, what, STATUS_NEEDS_HUMAN, ANY, ANY, 0, 0, 0 \
	}
#define CALL(from, ev, facts, tier, purpose)                                                       \
	{                                                                                          \
		from, ev, facts, JOB_MODEL, ACT_CALL, NULL, ANY, tier, purpose, 0, 0, 0            \
	}

/* clang-format off */
static const struct step_case cases[] = {
	C(JOB_NEW, EV_RECEIVED, 0, JOB_PREPARE, ACT_PREPARE),
	C(JOB_PREPARE, EV_PARSED, 0, JOB_CLAIM, ACT_CLAIM),
	C(JOB_PREPARE, EV_PARSE_FAILED, 0, JOB_DLQ, ACT_DEAD_LETTER),
	C(JOB_PREPARE, EV_SKIPPED, 0, JOB_DONE, ACT_FINISH),
	CALL(JOB_CLAIM, EV_CLAIMED, 0, MODEL_MINI, PURPOSE_TRIAGE),
	CH(JOB_CLAIM, EV_CLAIMED, F_REDACT, "redaction failed"),
	C(JOB_CLAIM, EV_CLAIMED_DONE, 0, JOB_DONE, ACT_FINISH),
	C(JOB_CLAIM, EV_CLAIMED_DONE, F_EVENTS, JOB_DONE, ACT_FINISH),
	C(JOB_CLAIM, EV_CLAIMED_DONE, F_HASEVENT, JOB_DONE, ACT_FINISH),
	C(JOB_CLAIM, EV_CLAIMED_DONE, F_EVENTS | F_HASEVENT, JOB_EVENT, ACT_PUBLISH),
	C(JOB_CLAIM, EV_DB_REJECTED, 0, JOB_DLQ, ACT_REJECT),
	/* another live daemon's job holds the ticket: wait, and claim again */
	{JOB_CLAIM, EV_CLAIMED_ELSEWHERE, 0, JOB_BACKOFF, ACT_WAIT_CLAIM, NULL, ANY, ANY, ANY, 0, 0, 1234},
	{JOB_CLAIM, EV_CLAIMED_ELSEWHERE, F_BUDGET | F_EVENTS, JOB_BACKOFF, ACT_WAIT_CLAIM, NULL, ANY, ANY, ANY, 0, 0, 1234},
	C(JOB_MODEL, EV_REQUEST_READY, 0, JOB_MODEL, ACT_SEND),
	C(JOB_MODEL, EV_REQUEST_READY, F_BUDGET, JOB_RESERVE, ACT_RESERVE),
	CH(JOB_MODEL, EV_PROMPT_FAILED, 0, "prompt"),
	{JOB_MODEL, EV_RESTING, 0, JOB_BACKOFF, ACT_WAIT, NULL, ANY, ANY, ANY, 0, 0, 1234},
	{JOB_MODEL, EV_NOT_SENT, 0, JOB_BACKOFF, ACT_WAIT, NULL, ANY, ANY, ANY, 0, 0, 1234},
	{JOB_MODEL, EV_MODEL_RETRY, 0, JOB_BACKOFF, ACT_WAIT, NULL, ANY, ANY, ANY, 0, 0, 1234},
	CH(JOB_MODEL, EV_MODEL_FAILED, 0, "mini model unavailable"),
	CH(JOB_MODEL, EV_MODEL_FAILED, F_FLAGSHIP, "flagship model unavailable"),
	CH(JOB_MODEL, EV_ANSWER_TOO_LARGE, 0, "mini answer too large"),
	CH(JOB_MODEL, EV_ANSWER_TOO_LARGE, F_FLAGSHIP | F_REPAIR, "flagship answer too large"),
	C(JOB_MODEL, EV_ANSWER_OK, 0, JOB_MODEL, ACT_DECIDE),
	C(JOB_MODEL, EV_ANSWER_OK, F_REPAIR, JOB_MODEL, ACT_DECIDE),
	{JOB_MODEL, EV_ANSWER_OK, F_FLAGSHIP, JOB_STORE, ACT_STORE, NULL, STATUS_PENDING_REVIEW, ANY, ANY, 0, 0, 0},
	{JOB_MODEL, EV_ANSWER_OK, F_FLAGSHIP | F_REPAIR, JOB_STORE, ACT_STORE, NULL, STATUS_PENDING_REVIEW, ANY, ANY, 0, 0, 0},
	CALL(JOB_MODEL, EV_MODE_FALLBACK, 0, MODEL_MINI, PURPOSE_TRIAGE),
	CALL(JOB_MODEL, EV_MODE_FALLBACK, F_FLAGSHIP, MODEL_FLAGSHIP, PURPOSE_TRIAGE),
	CH(JOB_MODEL, EV_MODE_FALLBACK, F_MAXCALLS, "too many model calls"),
	CALL(JOB_MODEL, EV_ANSWER_INVALID, 0, MODEL_MINI, PURPOSE_REPAIR),
	CALL(JOB_MODEL, EV_ANSWER_INVALID, F_FLAGSHIP, MODEL_FLAGSHIP, PURPOSE_REPAIR),
	CH(JOB_MODEL, EV_ANSWER_INVALID, F_MAXCALLS, "too many model calls"),
	{JOB_MODEL, EV_ANSWER_INVALID, F_REPAIR, JOB_MODEL, ACT_DECIDE, NULL, ANY, ANY, ANY, 0, 1, 0},
	CH(JOB_MODEL, EV_ANSWER_INVALID, F_FLAGSHIP | F_REPAIR, "flagship answer invalid after repair"),
	{JOB_MODEL, EV_RULE_NONE, F_HASMINI, JOB_STORE, ACT_STORE, NULL, STATUS_PENDING_REVIEW, ANY, ANY, 0, 0, 0},
	CH(JOB_MODEL, EV_RULE_NONE, 0, "invalid answer after repair"),
	C(JOB_MODEL, EV_RULE_ESCALATE, 0, JOB_FLAGSHIP_WAIT, ACT_QUEUE_FLAGSHIP),
	C(JOB_MODEL, EV_RULE_ESCALATE, F_HASMINI, JOB_FLAGSHIP_WAIT, ACT_QUEUE_FLAGSHIP),
	CH(JOB_MODEL, EV_RULE_HUMAN_ONLY, F_HASMINI, "human_only"),
	C(JOB_RESERVE, EV_RESERVED, 0, JOB_MODEL, ACT_SEND),
	{JOB_RESERVE, EV_BUDGET_DENIED, F_WAITBUDGET, JOB_BACKOFF, ACT_WAIT_BUDGET, NULL, ANY, ANY, ANY, 0, 0, CASCADE_BUDGET_RETRY_MS},
	{JOB_RESERVE, EV_BUDGET_DENIED, 0, JOB_STORE, ACT_STORE, "budget_exhausted", STATUS_NEEDS_HUMAN, ANY, ANY, 1, 0, 0},
	/* only the mini may wait for its budget */
	{JOB_RESERVE, EV_BUDGET_DENIED, F_FLAGSHIP | F_WAITBUDGET, JOB_STORE, ACT_STORE, "budget_exhausted", STATUS_NEEDS_HUMAN, ANY, ANY, 1, 0, 0},
	/* calls in flight hold the budget: this one waits, whatever the tier or mode */
	{JOB_RESERVE, EV_BUDGET_BUSY, 0, JOB_BACKOFF, ACT_WAIT_RESERVE, NULL, ANY, ANY, ANY, 0, 0, 1234},
	{JOB_RESERVE, EV_BUDGET_BUSY, F_FLAGSHIP | F_WAITBUDGET, JOB_BACKOFF, ACT_WAIT_RESERVE, NULL, ANY, ANY, ANY, 0, 0, 1234},
	{JOB_RESERVE, EV_BUDGET_FAILED, 0, JOB_STORE, ACT_STORE, "budget check failed", STATUS_NEEDS_HUMAN, ANY, ANY, 1, 0, 0},
	C(JOB_BACKOFF, EV_TIMER, 0, JOB_MODEL, ACT_SEND),
	C(JOB_BACKOFF, EV_TIMER, F_RETRYRES, JOB_RESERVE, ACT_RESERVE),
	C(JOB_BACKOFF, EV_TIMER, F_RETRYCLAIM, JOB_CLAIM, ACT_CLAIM),
	C(JOB_BACKOFF, EV_TIMER, F_RETRYCLAIM | F_BUDGET, JOB_CLAIM, ACT_CLAIM),
	CALL(JOB_FLAGSHIP_WAIT, EV_FLAGSHIP_SLOT, F_HASMINI, MODEL_FLAGSHIP, PURPOSE_TRIAGE),
	CH(JOB_FLAGSHIP_WAIT, EV_FLAGSHIP_SLOT, F_MAXCALLS, "too many model calls"),
	C(JOB_STORE, EV_STORED, F_EVENTS | F_HASEVENT, JOB_EVENT, ACT_PUBLISH),
	C(JOB_STORE, EV_STORED, F_HASEVENT, JOB_DONE, ACT_FINISH),
	C(JOB_STORE, EV_STORED, F_EVENTS, JOB_DONE, ACT_FINISH),
	C(JOB_STORE, EV_DB_REJECTED, 0, JOB_DLQ, ACT_REJECT),
	C(JOB_EVENT, EV_DELIVERED, 0, JOB_DONE, ACT_FINISH),
	C(JOB_DLQ, EV_DELIVERED, 0, JOB_DONE, ACT_FINISH),
};
/* clang-format on */

static void facts_of(int state, int facts, struct job_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->state = (enum job_state)state;
	f->redact_failed = !!(facts & F_REDACT);
	f->budget_enforce = !!(facts & F_BUDGET);
	f->mini_waits_budget = !!(facts & F_WAITBUDGET);
	f->retry_reserve = !!(facts & F_RETRYRES);
	f->retry_claim = !!(facts & F_RETRYCLAIM);
	f->events_on = !!(facts & F_EVENTS);
	f->has_event = !!(facts & F_HASEVENT);
	f->has_mini = !!(facts & F_HASMINI);
	f->call_tier = facts & F_FLAGSHIP ? MODEL_FLAGSHIP : MODEL_MINI;
	f->call_purpose = facts & F_REPAIR ? PURPOSE_REPAIR : PURPOSE_TRIAGE;
	f->ncalls = facts & F_MAXCALLS ? CASCADE_MAX_CALLS : 1;
	f->wait_ms = 1234;
	f->detail = "the detail";
	f->mini_error = "mini error";
	f->rule_reasons = "vip";
}

START_TEST(test_possible_pairs)
{
	const struct step_case *c = &cases[_i];
	struct job_facts f;
	struct cascade_action a;
	enum job_state next;

	facts_of(c->from, c->facts, &f);
	next = cascade_step(&f, c->ev, &a);
	ck_assert_msg(next == c->want_state && a.act == c->want_act,
		      "case %d: %s + %s: got %s/%s, want %s/%s", _i, job_state_name(c->from),
		      job_event_name(c->ev), job_state_name(next), cascade_act_name(a.act),
		      job_state_name(c->want_state), cascade_act_name(c->want_act));
	if (c->want_what)
		ck_assert_str_eq(a.what, c->want_what);
	if (c->want_status != ANY)
		ck_assert_int_eq(a.status, c->want_status);
	if (c->want_tier != ANY)
		ck_assert_int_eq(a.tier, c->want_tier);
	if (c->want_purpose != ANY)
		ck_assert_int_eq(a.purpose, c->want_purpose);
	ck_assert_int_eq(a.drop_call, c->want_drop);
	ck_assert_int_eq(a.mini_invalid, c->want_mini_invalid);
	if (c->want_wait)
		ck_assert_uint_eq(a.wait_ms, c->want_wait);
	if (a.act == ACT_STORE && a.status == STATUS_NEEDS_HUMAN) {
		/* a person always gets a reason and a detail */
		ck_assert_ptr_nonnull(a.what);
		ck_assert_ptr_nonnull(a.detail);
	}
	ck_assert_int_eq(cascade_act_waits(a.act), a.act != ACT_CALL && a.act != ACT_SEND &&
						       a.act != ACT_DECIDE && a.act != ACT_FINISH &&
						       a.act != ACT_ERROR);
}
END_TEST

static int listed(enum job_state s, enum job_event e)
{
	for (size_t i = 0; i < ARRAY_LEN; i++)
		if (cases[i].from == s && cases[i].ev == e)
			return 1;
	return 0;
}

/* Every pair the table does not list, under every fact variant: an explicit error. */
START_TEST(test_impossible_pairs)
{
	int errors = 0;
	for (int s = 0; s < JOB__ALL; s++)
		for (int e = 0; e < EV__COUNT; e++) {
			if (listed((enum job_state)s, (enum job_event)e))
				continue;
			for (int facts = 0; facts < (1 << 11); facts++) {
				struct job_facts f;
				struct cascade_action a;
				enum job_state next;
				facts_of(s, facts, &f);
				next = cascade_step(&f, (enum job_event)e, &a);
				ck_assert_msg(a.act == ACT_ERROR && next == (enum job_state)s,
					      "%s + %s should be impossible, got %s/%s",
					      job_state_name((enum job_state)s),
					      job_event_name((enum job_event)e),
					      job_state_name(next), cascade_act_name(a.act));
				ck_assert_ptr_nonnull(a.what);
			}
			errors++;
		}
	/* 11 states x 29 events, 31 of them possible */
	ck_assert_int_eq(errors, JOB__ALL * EV__COUNT - 31);
	/* out of range events too */
	{
		struct job_facts f;
		struct cascade_action a;
		facts_of(JOB_MODEL, 0, &f);
		ck_assert_int_eq(cascade_step(&f, EV_NONE, &a), JOB_MODEL);
		ck_assert_int_eq(a.act, ACT_ERROR);
		facts_of(JOB_DONE, 0, &f);
		ck_assert_int_eq(cascade_step(&f, EV_DELIVERED, &a), JOB_DONE);
		ck_assert_int_eq(a.act, ACT_ERROR);
	}
}
END_TEST

/* A ticket's whole life, step by step: escalated after an invalid mini pass. */
START_TEST(test_walk_escalation)
{
	static const struct {
		enum job_event ev;
		int facts;
		enum job_state want;
		enum cascade_act act;
	} walk[] = {
	    {EV_RECEIVED, 0, JOB_PREPARE, ACT_PREPARE},
	    {EV_PARSED, 0, JOB_CLAIM, ACT_CLAIM},
	    {EV_CLAIMED, 0, JOB_MODEL, ACT_CALL},
	    {EV_REQUEST_READY, F_BUDGET, JOB_RESERVE, ACT_RESERVE},
	    {EV_RESERVED, F_BUDGET, JOB_MODEL, ACT_SEND},
	    {EV_MODEL_RETRY, 0, JOB_BACKOFF, ACT_WAIT},
	    {EV_TIMER, 0, JOB_MODEL, ACT_SEND},
	    {EV_ANSWER_INVALID, 0, JOB_MODEL, ACT_CALL},
	    {EV_REQUEST_READY, 0, JOB_MODEL, ACT_SEND},
	    {EV_ANSWER_INVALID, F_REPAIR, JOB_MODEL, ACT_DECIDE},
	    {EV_RULE_ESCALATE, F_REPAIR, JOB_FLAGSHIP_WAIT, ACT_QUEUE_FLAGSHIP},
	    {EV_FLAGSHIP_SLOT, F_REPAIR, JOB_MODEL, ACT_CALL},
	    {EV_REQUEST_READY, F_FLAGSHIP, JOB_MODEL, ACT_SEND},
	    {EV_ANSWER_OK, F_FLAGSHIP, JOB_STORE, ACT_STORE},
	    {EV_STORED, F_EVENTS | F_HASEVENT, JOB_EVENT, ACT_PUBLISH},
	    {EV_DELIVERED, 0, JOB_DONE, ACT_FINISH},
	};
	enum job_state s = JOB_NEW;
	for (size_t i = 0; i < sizeof(walk) / sizeof(walk[0]); i++) {
		struct job_facts f;
		struct cascade_action a;
		facts_of(s, walk[i].facts, &f);
		s = cascade_step(&f, walk[i].ev, &a);
		ck_assert_msg(s == walk[i].want && a.act == walk[i].act, "step %zu: %s/%s", i,
			      job_state_name(s), cascade_act_name(a.act));
	}
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(job_state_name(JOB_FLAGSHIP_WAIT), "flagship_wait");
	ck_assert_str_eq(job_state_name(JOB_DONE), "done");
	ck_assert_str_eq(job_state_name(JOB_PREPARE), "prepare");
	ck_assert_str_eq(job_state_name(JOB_NEW), "new");
	ck_assert_str_eq(job_event_name(EV_RECEIVED), "received");
	ck_assert_str_eq(job_event_name(EV_SKIPPED), "skipped");
	ck_assert_str_eq(job_event_name(EV_CLAIMED), "claimed");
	ck_assert_str_eq(cascade_act_name(ACT_PREPARE), "prepare");
	ck_assert_str_eq(cascade_act_name(ACT_CLAIM), "claim");
	ck_assert_str_eq(job_state_name(JOB__ALL), "unknown");
	ck_assert_str_eq(job_event_name(EV_DELIVERED), "delivered");
	ck_assert_str_eq(job_event_name(EV_NONE), "unknown");
	ck_assert_str_eq(cascade_act_name(ACT_ERROR), "error");
	ck_assert_str_eq(model_tier_name(MODEL_FLAGSHIP), "flagship");
	ck_assert_str_eq(job_status_name(STATUS_NEEDS_HUMAN), "needs_human");
	ck_assert_str_eq(call_purpose_name(PURPOSE_REPAIR), "repair");
	for (int e = 0; e < EV__COUNT; e++)
		ck_assert_str_ne(job_event_name((enum job_event)e), "unknown");
	for (int a = 0; a < ACT__COUNT; a++)
		ck_assert_str_ne(cascade_act_name((enum cascade_act)a), "unknown");
}
END_TEST

static Suite *cascade_suite(void)
{
	Suite *s = suite_create("cascade");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_possible_pairs, 0, (int)ARRAY_LEN);
	tcase_add_test(tc, test_impossible_pairs);
	tcase_add_test(tc, test_walk_escalation);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int failed;
	SRunner *sr = srunner_create(cascade_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
