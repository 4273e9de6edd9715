/*
 * snapshot: see snapshot.h. The one place that knows both struct
 * pipeline_stats and struct metrics_snapshot: a field added to one is
 * copied here.
 */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "feedback_in.h"
#include "intake.h"
#include "kafka_out.h"
#include "outbox.h"
#include "pipeline.h"
#include "shadow.h"
#include "ticket.h"

#define CP(f) out->f = st->f
#define CPA(f) memcpy(out->f, st->f, sizeof(out->f))

_Static_assert(TIER__MODELS == METRICS_TIERS, "metrics snapshot: one slot per model tier");
_Static_assert(TICKET_FLAG__COUNT == METRICS_INTAKE_FLAGS, "metrics snapshot: one slot per flag");
_Static_assert(INTAKE_SKIP__COUNT == 2, "metrics: one row per intake skip reason");
_Static_assert(JOB__STATES <= METRICS_MAX_STATES, "metrics snapshot: room for every state");

void snapshot_fill(void *arg, struct metrics_snapshot *out)
{
	struct pipeline *pl = arg;
	struct pipeline_stats *st;
	struct pipeline_health hl;

	if (pl == NULL)
		return;
	st = xcalloc(1, sizeof(*st)); /* ~35 KiB: not on the stack */
	pipeline_get_stats(pl, st);
	CP(consumed);
	CP(dlq);
	CP(claimed_new);
	CP(claimed_updated);
	CP(claimed_pending);
	CP(redelivered_done);
	CP(redelivered_in_flight);
	CP(claimed_elsewhere);
	CP(stored_pending_review);
	CP(stored_needs_human);
	CP(stored_duplicate);
	CPA(model_requests);
	CPA(model_ok);
	CPA(model_http_errors);
	CPA(model_transport_errors);
	CPA(model_invalid);
	CPA(repairs);
	CPA(retries);
	CPA(http_429);
	CP(calls_reused);
	CP(escalated);
	CP(human_only);
	CP(flagship_decided);
	CPA(budget_denied);
	CP(events_sent);
	CP(db_rejected);
	CP(rules_reloads);
	CP(rules_reload_errors);
	CPA(redactions);
	CP(injection_flagged);
	CP(drafts_flagged);
	CPA(breaker_opens);
	CPA(breaker_denied);
	CPA(breaker_state);
	CPA(misconfigs);
	CP(in_flight);
	out->nstates = JOB__STATES;
	for (size_t i = 0; i < JOB__STATES; i++) {
		out->state_names[i] = job_state_name((enum job_state)i);
		out->state_count[i] = st->state_count[i];
	}
	CP(e2e_ms);
	CP(model_ms);
	CP(added_ms);
	CP(flagship_parked);
	out->flagship_wait_ms = st->state_ms[JOB_FLAGSHIP_WAIT];
	free(st);

	memset(&hl, 0, sizeof(hl));
	hl.consumer_lag = -1;
	pipeline_get_health(pl, &hl);
	out->db_up = hl.db_up;
	out->partitions = hl.partitions;
	out->draining = hl.draining;
	out->budget_no_price = hl.budget_no_price;
	out->budget_lost_calls = hl.budget_lost_calls;
	out->paused = hl.paused;
	out->consumer_lag = hl.consumer_lag;
	out->mini_in_flight = hl.mini_in_flight;
	out->mini_waiting = hl.mini_waiting;
	out->flagship_in_flight = hl.flagship_in_flight;
	out->mini_connects = hl.mini_connects;
	out->flagship_connects = hl.flagship_connects;
	out->mini_http = hl.mini_http;
	out->flagship_http = hl.flagship_http;
	out->flagship_waiting = hl.flagship_waiting;
	out->flagship_max_queue = hl.flagship_max_queue;
	out->db_pending = hl.db_pending;
	out->db_rounds = hl.db_rounds;
	out->db_round_items = hl.db_round_items;
	out->db_rounds_held = hl.db_rounds_held;
	out->dlq_pending = hl.dlq_pending;
	out->produce_failing = hl.produce_failing;
	out->produce_oldest_s = (int64_t)hl.produce_oldest_s;
	memcpy(out->produce_stuck, hl.produce_stuck, sizeof(out->produce_stuck));
	memcpy(out->misconfigured, hl.misconfigured, sizeof(out->misconfigured));
	for (int t = 0; t < METRICS_TIERS; t++)
		out->misconfigured_now[t] = hl.misconfigured[t][0] != '\0';
	{
		struct shadow_stats ss;
		pipeline_shadow_stats(pl, &ss);
		out->shadow_picked = ss.picked;
		out->shadow_answered = ss.answered;
		out->shadow_invalid = ss.invalid;
		out->shadow_failed = ss.failed;
		out->shadow_abandoned = ss.abandoned;
		out->shadow_stored = ss.stored;
		out->shadow_store_errors = ss.store_errors;
		out->shadow_skipped_queue = ss.skipped_queue;
		out->shadow_skipped_budget = ss.skipped_budget;
		out->shadow_skipped_draining = ss.skipped_draining;
		out->shadow_in_flight = ss.in_flight;
	}
	{
		const struct intake_stats *is = pipeline_intake_stats(pl);
		if (is) {
			memcpy(out->intake_skipped, is->skipped, sizeof(out->intake_skipped));
			memcpy(out->intake_flagged, is->flagged, sizeof(out->intake_flagged));
			out->intake_html_bodies = is->html_bodies;
			out->intake_prompt_bytes_in = is->prompt_bytes_in;
			out->intake_prompt_bytes_out = is->prompt_bytes_out;
		}
	}
}

void snapshot_fill_roundtrip(const struct outbox *relay, const struct feedback_in *fbin,
			     struct metrics_snapshot *out)
{
	/* their producers' messages waiting to be delivered join the events' */
	double age = (double)out->produce_oldest_s;
	if (relay)
		kout_health_add(outbox_kout(relay), &out->produce_failing, &age, out->produce_stuck,
				sizeof(out->produce_stuck));
	if (fbin)
		kout_health_add(feedback_in_kout(fbin), &out->produce_failing, &age,
				out->produce_stuck, sizeof(out->produce_stuck));
	out->produce_oldest_s = (int64_t)age;
	if (relay) {
		struct outbox_stats os;
		outbox_get_stats(relay, &os);
		out->outbox_sent = os.sent;
		out->outbox_produce_retries = os.produce_retries;
		out->outbox_errors = os.errors;
		out->outbox_reconnects = os.reconnects;
		out->outbox_notifies = os.notifies;
		out->outbox_rounds = os.rounds;
		out->outbox_up = os.up;
		out->outbox_leader = os.leader;
		out->outbox_backlog = os.backlog;
		out->outbox_oldest_unsent_s = os.backlog < 0 ? -1 : os.oldest_unsent_ms / 1000;
	}
	if (fbin) {
		struct feedback_in_stats fs;
		feedback_in_get_stats(fbin, &fs);
		out->feedback_consumed = fs.consumed;
		out->feedback_recorded = fs.recorded;
		out->feedback_duplicates = fs.duplicates;
		out->feedback_ignored = fs.ignored;
		out->feedback_skipped = fs.skipped;
		out->feedback_rejected = fs.rejected;
		out->feedback_dead_lettered = fs.dead_lettered;
	}
}
