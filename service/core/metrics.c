/*
 * metrics: see metrics.h. The exposition is table driven (metrics[] below):
 * a new counter of struct metrics_snapshot is one line there. Pure.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum msrc {
	MS_U64,	 /* uint64_t */
	MS_INT,	 /* int */
	MS_SIZE, /* size_t */
	MS_I64,	 /* int64_t; negative = unknown, not exported */
};

enum mexpand {
	MX_NONE,
	MX_TIER,  /* an array [METRICS_TIERS]: one sample per tier, label tier="..." */
	MX_STATE, /* an array [nstates]: one sample per state, label state="..." */
};

/*
 * One row per sample (or per array of samples). Rows of one family are
 * adjacent; the first carries the help text. Exported as triaged_<name>.
 */
struct metric {
	const char *name;
	const char *type;
	const char *help;
	const char *labels; /* fixed labels after the expanded one, e.g. outcome="ok" */
	enum msrc src;
	size_t off;
	enum mexpand expand;
};

#define ST(f) MS_U64, offsetof(struct metrics_snapshot, f)
#define STI(f) MS_INT, offsetof(struct metrics_snapshot, f)
#define SZ(f) MS_SIZE, offsetof(struct metrics_snapshot, f)
#define SI(f) MS_INT, offsetof(struct metrics_snapshot, f)
#define SL(f) MS_I64, offsetof(struct metrics_snapshot, f)
#define CNT "counter"
#define GAU "gauge"

static const char *const tier_names[METRICS_TIERS] = {"mini", "flagship"};

/* clang-format off */
static const struct metric metrics[] = {
	{"tickets_consumed_total", CNT, "Messages consumed from the intake topic.", NULL, ST(consumed), MX_NONE},
	{"dlq_total", CNT, "Messages dead-lettered (invalid, or rejected by the database).", NULL, ST(dlq), MX_NONE},
	{"tickets_claimed_total", CNT, "Tickets claimed in the database, by result.", "result=\"new\"", ST(claimed_new), MX_NONE},
	{"tickets_claimed_total", CNT, NULL, "result=\"updated\"", ST(claimed_updated), MX_NONE},
	{"tickets_claimed_total", CNT, NULL, "result=\"pending\"", ST(claimed_pending), MX_NONE},
	{"tickets_claimed_total", CNT, NULL, "result=\"elsewhere\"", ST(claimed_elsewhere), MX_NONE},
	{"redelivered_total", CNT, "Redelivered tickets already triaged (nothing redone).", NULL, ST(redelivered_done), MX_NONE},
	{"redelivered_in_flight_total", CNT, "Redelivered tickets that an earlier assignment of their partition to this daemon still ran or had finished (not started again).", NULL, ST(redelivered_in_flight), MX_NONE},
	{"tickets_stored_total", CNT, "Triage results stored, by status.", "status=\"pending_review\"", ST(stored_pending_review), MX_NONE},
	{"tickets_stored_total", CNT, NULL, "status=\"needs_human\"", ST(stored_needs_human), MX_NONE},
	{"tickets_store_duplicates_total", CNT, "Stores that found the result already stored.", NULL, ST(stored_duplicate), MX_NONE},
	{"model_requests_total", CNT, "HTTP requests to the models (attempts).", NULL, ST(model_requests), MX_TIER},
	{"model_outcomes_total", CNT, "Model HTTP attempts by outcome.", "outcome=\"ok\"", ST(model_ok), MX_TIER},
	{"model_outcomes_total", CNT, NULL, "outcome=\"http_error\"", ST(model_http_errors), MX_TIER},
	{"model_outcomes_total", CNT, NULL, "outcome=\"transport_error\"", ST(model_transport_errors), MX_TIER},
	{"model_outcomes_total", CNT, NULL, "outcome=\"invalid\"", ST(model_invalid), MX_TIER},
	{"model_retries_total", CNT, "Model attempts retried after 429, 5xx, timeouts or transport errors.", NULL, ST(retries), MX_TIER},
	{"model_http_429_total", CNT, "Model answers with HTTP 429.", NULL, ST(http_429), MX_TIER},
	{"repairs_total", CNT, "Repair attempts for invalid model answers.", NULL, ST(repairs), MX_TIER},
	{"model_calls_reused_total", CNT, "Model answers reused from calls persisted before a redelivery.", NULL, ST(calls_reused), MX_NONE},
	{"escalated_total", CNT, "Tickets escalated to the flagship model.", NULL, ST(escalated), MX_NONE},
	{"human_only_total", CNT, "Tickets routed to a person by the rules, without a flagship call.", NULL, ST(human_only), MX_NONE},
	{"flagship_decided_total", CNT, "Tickets decided by the flagship model.", NULL, ST(flagship_decided), MX_NONE},
	{"budget_denied_total", CNT, "Model calls refused for lack of budget.", NULL, ST(budget_denied), MX_TIER},
	{"events_sent_total", CNT, "tickets.triaged events produced.", NULL, ST(events_sent), MX_NONE},
	{"db_rejected_total", CNT, "Tickets the database refused for their data.", NULL, ST(db_rejected), MX_NONE},
	{"rules_reloads_total", CNT, "Escalation rules reloads (SIGHUP).", NULL, ST(rules_reloads), MX_NONE},
	{"rules_reload_errors_total", CNT, "Escalation rules reloads that failed (old rules kept).", NULL, ST(rules_reload_errors), MX_NONE},
	{"redactions_total", CNT, "Values replaced by placeholders before a model call, by kind.", "kind=\"email\"", ST(redactions[0]), MX_NONE},
	{"redactions_total", CNT, NULL, "kind=\"phone\"", ST(redactions[1]), MX_NONE},
	{"redactions_total", CNT, NULL, "kind=\"card\"", ST(redactions[2]), MX_NONE},
	{"redactions_total", CNT, NULL, "kind=\"iban\"", ST(redactions[3]), MX_NONE},
	{"redactions_total", CNT, NULL, "kind=\"custom\"", ST(redactions[4]), MX_NONE},
	{"injection_flagged_total", CNT, "Tickets flagged as suspected prompt injection.", NULL, ST(injection_flagged), MX_NONE},
	{"drafts_flagged_total", CNT, "Draft replies flagged by the policy checks.", NULL, ST(drafts_flagged), MX_NONE},
	{"breaker_opens_total", CNT, "Times a model circuit breaker opened.", NULL, ST(breaker_opens), MX_TIER},
	{"breaker_denied_total", CNT, "Model calls held back by an open circuit breaker.", NULL, ST(breaker_denied), MX_TIER},
	{"breaker_state", GAU, "Model circuit breaker: 0 closed, 1 open, 2 half-open.", NULL, STI(breaker_state), MX_TIER},
	/* provider edges (#11.4) */
	{"model_misconfigured", GAU, "1 while a tier is held as misconfigured (a run of 400/401/403/404; cause in /readyz).", NULL, STI(misconfigured_now), MX_TIER},
	{"model_misconfigured_total", CNT, "Times a tier was found misconfigured.", NULL, ST(misconfigs), MX_TIER},
	/* intake counters (pipeline_intake_stats) */
	{"intake_skipped_total", CNT, "Messages skipped at intake, by reason.", "reason=\"tombstone\"", ST(intake_skipped[0]), MX_NONE},
	{"intake_skipped_total", CNT, NULL, "reason=\"nothing_to_triage\"", ST(intake_skipped[1]), MX_NONE},
	{"intake_flagged_total", CNT, "Tickets with a lenient field kept as given and flagged, by field.", "field=\"tier\"", ST(intake_flagged[0]), MX_NONE},
	{"intake_flagged_total", CNT, NULL, "field=\"channel\"", ST(intake_flagged[1]), MX_NONE},
	{"intake_flagged_total", CNT, NULL, "field=\"language\"", ST(intake_flagged[2]), MX_NONE},
	{"intake_flagged_total", CNT, NULL, "field=\"created_at\"", ST(intake_flagged[3]), MX_NONE},
	{"intake_flagged_total", CNT, NULL, "field=\"controls\"", ST(intake_flagged[4]), MX_NONE},
	{"intake_html_bodies_total", CNT, "Ticket bodies turned from HTML to text.", NULL, ST(intake_html_bodies), MX_NONE},
	{"intake_prompt_bytes_total", CNT, "Body bytes before and after the cleanup for the prompt.", "stage=\"in\"", ST(intake_prompt_bytes_in), MX_NONE},
	{"intake_prompt_bytes_total", CNT, NULL, "stage=\"out\"", ST(intake_prompt_bytes_out), MX_NONE},
	/* shadow tier (issue #13) */
	{"shadow_picked_total", CNT, "Tickets the shadow tier's hash selected.", NULL, ST(shadow_picked), MX_NONE},
	{"shadow_calls_total", CNT, "Shadow calls ended, by outcome (abandoned: cut by the shutdown, answer not stored).", "outcome=\"answered\"", ST(shadow_answered), MX_NONE},
	{"shadow_calls_total", CNT, NULL, "outcome=\"invalid\"", ST(shadow_invalid), MX_NONE},
	{"shadow_calls_total", CNT, NULL, "outcome=\"failed\"", ST(shadow_failed), MX_NONE},
	{"shadow_calls_total", CNT, NULL, "outcome=\"abandoned\"", ST(shadow_abandoned), MX_NONE},
	{"shadow_stored_total", CNT, "Shadow answers written to shadow_answers, and refused.", "result=\"ok\"", ST(shadow_stored), MX_NONE},
	{"shadow_stored_total", CNT, NULL, "result=\"error\"", ST(shadow_store_errors), MX_NONE},
	{"shadow_skipped_total", CNT, "Selected tickets not sent to the shadow tier, by reason.", "reason=\"queue\"", ST(shadow_skipped_queue), MX_NONE},
	{"shadow_skipped_total", CNT, NULL, "reason=\"budget\"", ST(shadow_skipped_budget), MX_NONE},
	{"shadow_skipped_total", CNT, NULL, "reason=\"draining\"", ST(shadow_skipped_draining), MX_NONE},
	{"shadow_in_flight", GAU, "Shadow calls out and answers being stored.", NULL, ST(shadow_in_flight), MX_NONE},
	/* helpdesk round trip (#12): the review outbox relay and the feedback consumer */
	{"outbox_events_sent_total", CNT, "Review events produced to review.events_topic, acknowledged by the broker and marked sent.", NULL, ST(outbox_sent), MX_NONE},
	{"outbox_produce_retries_total", CNT, "Review event produce attempts that failed and were retried.", NULL, ST(outbox_produce_retries), MX_NONE},
	{"outbox_errors_total", CNT, "Outbox relay statements that failed (the round is tried again).", NULL, ST(outbox_errors), MX_NONE},
	{"outbox_reconnects_total", CNT, "Outbox relay database connections lost.", NULL, ST(outbox_reconnects), MX_NONE},
	{"outbox_notifies_total", CNT, "Outbox relay wake-ups by NOTIFY triaged_outbox.", NULL, ST(outbox_notifies), MX_NONE},
	{"outbox_rounds_total", CNT, "Batches of review events the outbox relay fetched and produced.", NULL, ST(outbox_rounds), MX_NONE},
	{"outbox_up", GAU, "1 while the outbox relay is connected and listening.", NULL, SI(outbox_up), MX_NONE},
	{"outbox_leader", GAU, "1 while this daemon's outbox relay holds the relay lock and sends (one daemon of a database at a time).", NULL, SI(outbox_leader), MX_NONE},
	{"outbox_backlog", GAU, "Review events not yet sent (read every review.poll_ms).", NULL, SL(outbox_backlog), MX_NONE},
	{"outbox_oldest_unsent_seconds", GAU, "Age of the oldest review event not yet sent, in whole seconds (0 when none; read every review.poll_ms).", NULL, SL(outbox_oldest_unsent_s), MX_NONE},
	{"feedback_consumed_total", CNT, "Helpdesk events consumed from feedback.topic.", NULL, ST(feedback_consumed), MX_NONE},
	{"feedback_events_total", CNT, "Helpdesk feedback events by outcome: recorded (a reply or label change), duplicate (redelivered, changed nothing), ignored (unknown ticket, already reviewed), skipped (nothing to record), rejected (refused by the database; dead-lettered).", "outcome=\"recorded\"", ST(feedback_recorded), MX_NONE},
	{"feedback_events_total", CNT, NULL, "outcome=\"duplicate\"", ST(feedback_duplicates), MX_NONE},
	{"feedback_events_total", CNT, NULL, "outcome=\"ignored\"", ST(feedback_ignored), MX_NONE},
	{"feedback_events_total", CNT, NULL, "outcome=\"skipped\"", ST(feedback_skipped), MX_NONE},
	{"feedback_events_total", CNT, NULL, "outcome=\"rejected\"", ST(feedback_rejected), MX_NONE},
	{"feedback_dead_letters_total", CNT, "Refused feedback events dead-lettered to intake.dlq_topic (code feedback_rejected), acknowledged by the broker.", NULL, ST(feedback_dead_lettered), MX_NONE},
	{"in_flight", GAU, "Tickets in flight.", NULL, ST(in_flight), MX_NONE},
	{"tickets_by_state", GAU, "Tickets in flight by state.", NULL, ST(state_count), MX_STATE},
	{"partitions_assigned", GAU, "Intake partitions assigned to this consumer.", NULL, SZ(partitions), MX_NONE},
	{"db_up", GAU, "1 when the database connection is ready.", NULL, SI(db_up), MX_NONE},
	{"intake_paused", GAU, "1 while intake is paused (backpressure, database, shutdown).", NULL, SI(paused), MX_NONE},
	{"draining", GAU, "1 while shutting down.", NULL, SI(draining), MX_NONE},
	{"budget_calls_lost", GAU, "Model calls paid but whose answer was lost with a dead daemon, today, all daemons (budget.enforce; from the last lease renewal).", NULL, SL(budget_lost_calls), MX_NONE},
	{"consumer_lag", GAU, "Messages behind the high watermarks of the assigned partitions.", NULL, SL(consumer_lag), MX_NONE},
	{"mini_in_flight", GAU, "Requests in flight to the mini model.", NULL, SZ(mini_in_flight), MX_NONE},
	{"mini_waiting", GAU, "Requests waiting for a mini model slot.", NULL, SZ(mini_waiting), MX_NONE},
	{"flagship_in_flight", GAU, "Requests in flight to the flagship model.", NULL, SZ(flagship_in_flight), MX_NONE},
	{"model_connections_opened_total", CNT, "Connections opened to each model endpoint (TCP, and for https a TLS handshake each). Over HTTP/2 a few carry every call; over HTTP/1.1 one per call in flight.", "tier=\"mini\"", ST(mini_connects), MX_NONE},
	{"model_connections_opened_total", CNT, NULL, "tier=\"flagship\"", ST(flagship_connects), MX_NONE},
	{"model_http_version", GAU, "HTTP version the client treats the model endpoint as speaking (1 after an HTTP/1.1 answer, 2 after 8 HTTP/2 answers in a row or at the first answer; 0 before it).", "tier=\"mini\"", SI(mini_http), MX_NONE},
	{"model_http_version", GAU, NULL, "tier=\"flagship\"", SI(flagship_http), MX_NONE},
	{"flagship_waiting", GAU, "Escalations waiting for a flagship slot.", NULL, SZ(flagship_waiting), MX_NONE},
	{"flagship_parked", GAU, "Escalations parked outside intake.max_in_flight: waiting for a flagship slot or in a flagship call.", NULL, ST(flagship_parked), MX_NONE},
	{"flagship_max_queue", GAU, "flagship.max_queue: escalations waiting beyond it hold intake.", NULL, SL(flagship_max_queue), MX_NONE},
	{"db_pending", GAU, "Items queued or in flight to the database.", NULL, SZ(db_pending), MX_NONE},
	{"db_rounds_total", CNT, "Rounds the database answered on the write connection (one transaction each, a statement per kind of item), rolled-back ones included.", NULL, ST(db_rounds), MX_NONE},
	{"db_round_items_total", CNT, "Items (claims, calls, stores, ...) those rounds carried; an item of a rolled-back round counts again when sent again.", NULL, ST(db_round_items), MX_NONE},
	{"db_rounds_held_total", CNT, "Rounds held back while others were in the database (group commit, postgres.batch_delay_ms).", NULL, ST(db_rounds_held), MX_NONE},
	{"dlq_pending", GAU, "Dead letters not yet acknowledged by the broker.", NULL, SZ(dlq_pending), MX_NONE},
	{"produce_failing", GAU, "Messages to produce (events, dead letters, review events) not delivered yet of which an attempt failed; each is retried until delivered.", NULL, SZ(produce_failing), MX_NONE},
	{"produce_oldest_undelivered_seconds", GAU, "Age of the oldest message to produce not yet acknowledged by the broker, in whole seconds (0 when none); /readyz fails from 30 s.", NULL, SL(produce_oldest_s), MX_NONE},
	{"http_connections", GAU, "Admin HTTP connections open.", NULL, ST(http_open), MX_NONE},
	{"http_connections_total", CNT, "Admin HTTP connections by fate.", "event=\"accepted\"", ST(http_accepted), MX_NONE},
	{"http_connections_total", CNT, NULL, "event=\"head_deadline\"", ST(http_head_cut), MX_NONE},
	{"http_connections_total", CNT, NULL, "event=\"keepalive_idle\"", ST(http_idle_cut), MX_NONE},
	{"http_connections_total", CNT, NULL, "event=\"evicted\"", ST(http_evicted), MX_NONE},
	{"http_connections_total", CNT, NULL, "event=\"refused\"", ST(http_refused), MX_NONE},
	{"http_accept_errors_total", CNT, "accept() failures on the admin port (EMFILE, ENFILE, ...).", NULL, ST(http_accept_errors), MX_NONE},
	{"http_accept_paused", GAU, "1 while the admin port stops accepting (descriptors short).", NULL, ST(http_accept_paused), MX_NONE},
	{"dashboard_queries_total", CNT, "Dashboard data query rounds sent to the database.", NULL, ST(dash_queries), MX_NONE},
};

/* Latency histograms of struct pipeline_stats, exported in seconds. */
static const struct {
	const char *name, *help;
	size_t off;
} hists[] = {
	{"ticket_seconds", "Time from receiving a ticket to done.", offsetof(struct metrics_snapshot, e2e_ms)},
	{"model_wait_seconds", "Time per ticket spent waiting for models (calls and backoff).", offsetof(struct metrics_snapshot, model_ms)},
	{"added_latency_seconds", "Time per ticket added by the daemon (end to end minus model wait).", offsetof(struct metrics_snapshot, added_ms)},
	{"flagship_wait_seconds", "Time an escalation waited for a flagship slot, parked outside intake.max_in_flight.", offsetof(struct metrics_snapshot, flagship_wait_ms)},
};

/* Bucket bounds: the label as printed, and the bound in ms for hist_count_le. */
static const struct {
	const char *le;
	double ms;
} le_bounds[] = {
	{"0.001", 1},   {"0.0025", 2.5}, {"0.005", 5},   {"0.01", 10},   {"0.025", 25},
	{"0.05", 50},   {"0.1", 100},    {"0.25", 250},  {"0.5", 500},   {"1", 1000},
	{"2.5", 2500},  {"5", 5000},     {"10", 10000},  {"30", 30000},  {"60", 60000},
};
/* clang-format on */

static const char *metric_expand_label(const struct metrics_snapshot *s, enum mexpand e,
				      size_t i)
{
	if (e == MX_TIER)
		return tier_names[i];
	return s->state_names[i] ? s->state_names[i] : "unknown";
}

/* The sample's value as text; 0 when it is not exported (unknown). */
static int metric_value(const struct metric *m, size_t i, const struct metrics_snapshot *snap,
			char *out, size_t outlen)
{
	const char *s = (const char *)snap;
	switch (m->src) {
	case MS_U64: {
		uint64_t v;
		memcpy(&v, s + m->off + i * sizeof(v), sizeof(v));
		snprintf(out, outlen, "%" PRIu64, v);
		return 1;
	}
	case MS_INT: {
		int v;
		memcpy(&v, s + m->off + i * sizeof(v), sizeof(v));
		snprintf(out, outlen, "%d", v);
		return 1;
	}
	case MS_SIZE: {
		size_t v;
		memcpy(&v, s + m->off, sizeof(v));
		snprintf(out, outlen, "%zu", v);
		return 1;
	}
	case MS_I64: {
		int64_t v;
		memcpy(&v, s + m->off, sizeof(v));
		if (v < 0)
			return 0;
		snprintf(out, outlen, "%" PRId64, v);
		return 1;
	}
	}
	return 0;
}

static int render_header(struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_appendf(out, "# HELP triaged_%s %s\n# TYPE triaged_%s %s\n", name,
			   help ? help : "", name, type);
}

/* A counter of one unlabelled sample with a fraction (seconds). */
static int render_counter_f(struct buf *out, const char *name, const char *help, double v)
{
	if (render_header(out, name, "counter", help) < 0)
		return -1;
	return buf_appendf(out, "triaged_%s %.6f\n", name, v);
}

static int render_histogram(struct buf *out, const char *name, const char *help,
			    const struct hist *hs)
{
	if (render_header(out, name, "histogram", help) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(le_bounds); i++)
		if (buf_appendf(out, "triaged_%s_bucket{le=\"%s\"} %" PRIu64 "\n", name,
				le_bounds[i].le, hist_count_le(hs, le_bounds[i].ms)) < 0)
			return -1;
	return buf_appendf(out,
			   "triaged_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n"
			   "triaged_%s_sum %.9g\n"
			   "triaged_%s_count %" PRIu64 "\n",
			   name, hs->count, name, hs->sum_ms / 1000.0, name, hs->count);
}

/* Prometheus label value escaping: backslash, double quote, newline. */
static int append_label_value(struct buf *out, const char *v)
{
	for (; *v; v++) {
		int r;
		if (*v == '\\' || *v == '"')
			r = buf_appendf(out, "\\%c", *v);
		else if (*v == '\n')
			r = buf_append(out, "\\n", 2);
		else
			r = buf_append(out, v, 1);
		if (r < 0)
			return -1;
	}
	return 0;
}

void metrics_snapshot_init(struct metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->consumer_lag = -1;
	s->outbox_backlog = -1;
	s->outbox_oldest_unsent_s = -1;
	hist_init(&s->e2e_ms);
	hist_init(&s->model_ms);
	hist_init(&s->added_ms);
	hist_init(&s->flagship_wait_ms);
	hist_init(&s->loop_lag_ms);
	s->loop_cpu_s = -1;
	s->loop_run_delay_s = -1;
}

int metrics_render(struct buf *out, const struct metrics_snapshot *st)
{
	const struct metric *family = NULL, *printed = NULL;
	char val[32];

	for (size_t k = 0; k < ARRAY_SIZE(metrics); k++) {
		const struct metric *m = &metrics[k];
		size_t n = m->expand == MX_TIER	   ? METRICS_TIERS
			   : m->expand == MX_STATE ? st->nstates
						   : 1;

		if (family == NULL || strcmp(family->name, m->name) != 0)
			family = m;
		for (size_t i = 0; i < n; i++) {
			int r;
			if (!metric_value(m, i, st, val, sizeof(val)))
				continue;
			if (printed != family) {
				if (render_header(out, family->name, family->type, family->help) <
				    0)
					return -1;
				printed = family;
			}
			if (m->expand != MX_NONE)
				r = buf_appendf(out, "triaged_%s{%s=\"%s\"%s%s} %s\n", m->name,
						m->expand == MX_TIER ? "tier" : "state",
						metric_expand_label(st, m->expand, i),
						m->labels ? "," : "", m->labels ? m->labels : "",
						val);
			else if (m->labels)
				r = buf_appendf(out, "triaged_%s{%s} %s\n", m->name, m->labels,
						val);
			else
				r = buf_appendf(out, "triaged_%s %s\n", m->name, val);
			if (r < 0)
				return -1;
		}
	}
	for (size_t k = 0; k < ARRAY_SIZE(hists); k++) {
		const struct hist *hs = (const struct hist *)((const char *)st + hists[k].off);
		if (render_histogram(out, hists[k].name, hists[k].help, hs) < 0)
			return -1;
	}
	if (st->has_loop_lag &&
	    render_histogram(out, "loop_lag_seconds",
			     "Delay of a periodic timer past its due moment: event loop stalls.",
			     &st->loop_lag_ms) < 0)
		return -1;
	if (st->has_loop_lag && st->loop_cpu_s >= 0 &&
	    (render_counter_f(out, "loop_cpu_seconds_total", "CPU time of the event loop's thread.",
			      st->loop_cpu_s) < 0 ||
	     render_counter_f(out, "loop_run_delay_seconds_total",
			      "Time the event loop's thread was ready to run but waited for a CPU "
			      "(the machine's share of the loop lag).",
			      st->loop_run_delay_s) < 0 ||
	     render_header(out, "loop_late_ticks_total", "counter",
			   "Loop-lag ticks later than 5 ms, by cause: busy (the loop's own work or "
			   "a blocking call) or waited (its thread's run delay grew by half the "
			   "lateness or more: another task had the core).") < 0 ||
	     buf_appendf(out, "triaged_loop_late_ticks_total{cause=\"busy\"} %" PRIu64 "\n",
			 st->loop_late_busy) < 0 ||
	     buf_appendf(out, "triaged_loop_late_ticks_total{cause=\"waited\"} %" PRIu64 "\n",
			 st->loop_late_waited) < 0 ||
	     render_counter_f(out, "loop_late_cpu_seconds_total",
			      "The loop thread's CPU time between each late tick and the tick "
			      "before it.",
			      st->loop_late_cpu_s) < 0 ||
	     render_counter_f(out, "loop_late_run_delay_seconds_total",
			      "The loop thread's run delay between each late tick and the tick "
			      "before it.",
			      st->loop_late_run_delay_s) < 0))
		return -1;
	if (render_header(out, "build_info", "gauge", "Build information; always 1.") < 0 ||
	    buf_appendf(out, "triaged_build_info{version=\"") < 0 ||
	    append_label_value(out, TRIAGED_VERSION) < 0 || buf_appendf(out, "\"} 1\n") < 0)
		return -1;
	return 0;
}


int metrics_flagship_json(struct buf *out, const struct metrics_snapshot *s)
{
	const struct hist *h = &s->flagship_wait_ms;
	return buf_appendf(out,
			   "{\"parked\": %" PRIu64 ", \"waiting\": %zu, \"in_flight\": %zu, "
			   "\"max_queue\": %" PRId64 ", \"waits\": %" PRIu64
			   ", \"wait_p50_ms\": %.1f, \"wait_p99_ms\": %.1f, \"wait_max_ms\": %.1f}",
			   s->flagship_parked, s->flagship_waiting, s->flagship_in_flight,
			   s->flagship_max_queue, h->count, hist_quantile(h, 0.5),
			   hist_quantile(h, 0.99), h->max_ms);
}
