/*
 * metrics: the Prometheus text exposition (format 0.0.4) of one stats
 * snapshot. Pure: no I/O, no clock. The snapshot is the only contract
 * between the daemon's parts and the admin server: the coordinator fills
 * the pipeline's fields (service/snapshot.c), the admin server adds its own
 * connection counters and the loop-lag histogram, and metrics_render()
 * prints it. A new counter is a field here and one line in metrics.c's table.
 */
#ifndef TRIAGED_METRICS_H
#define TRIAGED_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hist.h"
#include "xmem.h"

#define METRICS_TIERS 2	      /* mini, flagship: label tier="..." */
#define METRICS_MAX_STATES 16 /* ticket states exported by name */
#define METRICS_INTAKE_FLAGS 5 /* lenient-field flags (TICKET_FLAG__COUNT) */

struct metrics_snapshot {
	/* ---- pipeline counters */
	uint64_t consumed, dlq;
	uint64_t claimed_new, claimed_updated, claimed_pending, redelivered_done;
	uint64_t redelivered_in_flight, claimed_elsewhere;
	uint64_t stored_pending_review, stored_needs_human, stored_duplicate;
	uint64_t model_requests[METRICS_TIERS], model_ok[METRICS_TIERS];
	uint64_t model_http_errors[METRICS_TIERS], model_transport_errors[METRICS_TIERS];
	uint64_t model_invalid[METRICS_TIERS], repairs[METRICS_TIERS], retries[METRICS_TIERS];
	uint64_t http_429[METRICS_TIERS];
	uint64_t calls_reused;
	uint64_t escalated, human_only, flagship_decided;
	uint64_t budget_denied[METRICS_TIERS];
	uint64_t events_sent, db_rejected, rules_reloads, rules_reload_errors;
	uint64_t redactions[5]; /* email, phone, card, iban, custom */
	uint64_t injection_flagged, drafts_flagged;
	uint64_t breaker_opens[METRICS_TIERS], breaker_denied[METRICS_TIERS];
	int breaker_state[METRICS_TIERS];
	uint64_t in_flight;
	size_t nstates;				     /* <= METRICS_MAX_STATES */
	const char *state_names[METRICS_MAX_STATES]; /* static strings */
	uint64_t state_count[METRICS_MAX_STATES];
	struct hist e2e_ms, model_ms, added_ms;
	/* escalation parking (issue #15.2): escalations outside max_in_flight, and the time
	 * each waited for a flagship slot */
	uint64_t flagship_parked;
	int64_t flagship_max_queue;
	struct hist flagship_wait_ms;

	/* ---- pipeline health */
	int db_up;
	size_t partitions;
	int draining, paused;
	int64_t budget_lost_calls; /* today's calls paid, answer lost (all daemons) */
	const char *budget_no_price; /* static: a tier whose model has no price (enforce); NULL none */
	int64_t consumer_lag; /* -1: unknown, not exported */
	size_t mini_in_flight, mini_waiting, flagship_in_flight, flagship_waiting;
	uint64_t mini_connects, flagship_connects; /* connections opened to each endpoint */
	int mini_http, flagship_http; /* HTTP version of the endpoint's last answer; 0: none yet */
	size_t db_pending, dlq_pending;
	/* the producers (events, dead letters, review events): messages failing to
	 * produce (retried until delivered), the oldest undelivered's age in whole
	 * seconds, and its cause ("" = none) */
	size_t produce_failing;
	int64_t produce_oldest_s;
	char produce_stuck[224];
	uint64_t db_rounds, db_round_items, db_rounds_held; /* the write connection's rounds */
	/* a tier held as misconfigured (#11.4): its cause; "" = not */
	char misconfigured[METRICS_TIERS][160];
	int misconfigured_now[METRICS_TIERS]; /* 1 while held as misconfigured */
	uint64_t misconfigs[METRICS_TIERS];   /* times a tier was found misconfigured */
	/* ---- intake (core/intake's struct intake_stats, #12/#18) */
	uint64_t intake_skipped[2];		       /* tombstone, nothing to triage */
	uint64_t intake_flagged[METRICS_INTAKE_FLAGS]; /* by lenient field (ticket_flag_name) */
	uint64_t intake_html_bodies, intake_prompt_bytes_in, intake_prompt_bytes_out;

	/* ---- shadow tier (issue #13; service/shadow.c's struct shadow_stats) */
	uint64_t shadow_picked, shadow_answered, shadow_invalid, shadow_failed, shadow_abandoned;
	uint64_t shadow_stored, shadow_store_errors;
	uint64_t shadow_skipped_queue, shadow_skipped_budget, shadow_skipped_draining;
	uint64_t shadow_in_flight;
	/* ---- helpdesk round trip (#12): the outbox relay and the feedback consumer (main.c) */
	uint64_t outbox_sent, outbox_produce_retries, outbox_errors, outbox_reconnects;
	uint64_t outbox_notifies, outbox_rounds;
	int outbox_up, outbox_leader;
	int64_t outbox_backlog, outbox_oldest_unsent_s; /* -1: unknown (no relay, not read yet) */
	uint64_t feedback_consumed, feedback_recorded, feedback_duplicates, feedback_ignored;
	uint64_t feedback_skipped, feedback_rejected, feedback_dead_lettered;

	/* ---- admin server (filled by http) */
	uint64_t http_open;	   /* connections open now */
	uint64_t http_accepted;	   /* connections accepted */
	uint64_t http_head_cut;	   /* cut at the request-head deadline */
	uint64_t http_idle_cut;	   /* kept alive, cut idle at http.keepalive_timeout_ms */
	uint64_t http_evicted;	   /* cut at the connection cap to admit a newer one */
	uint64_t http_refused;	   /* closed at once: over the cap or into the fd reserve */
	uint64_t http_accept_errors; /* accept() failures (EMFILE, ENFILE, ...) */
	uint64_t http_accept_paused; /* 1 while accepting is paused */
	uint64_t dash_queries;	     /* dashboard query rounds sent */

	/* ---- event loop (filled by looplag) */
	int has_loop_lag;
	struct hist loop_lag_ms;
	/* the loop thread's time on a CPU, and runnable but waiting for one (the
	 * kernel's schedstat; -1: unknown): a lag with a growing run delay is the
	 * machine's, not the loop's */
	double loop_cpu_s, loop_run_delay_s;
	/*
	 * Ticks over LOOPLAG_LATE_MS, by what held the loop since the tick
	 * before: "waited" when the thread's run delay grew by half the
	 * lateness or more (the machine: another task had the core), else
	 * "busy" (the loop's own work, or a blocking call). Summed over the
	 * late ticks: the loop's CPU and run delay since the tick before.
	 */
	uint64_t loop_late_busy, loop_late_waited;
	double loop_late_cpu_s, loop_late_run_delay_s;
};

/* Zero the snapshot; consumer_lag unknown, histograms empty. */
void metrics_snapshot_init(struct metrics_snapshot *s);

/*
 * Append the exposition of s to out. Returns 0, or -1 when out's cap was
 * reached (the output is then incomplete).
 */
int metrics_render(struct buf *out, const struct metrics_snapshot *s) WUR;
/*
 * The flagship wait as a JSON object for the dashboard's data.json (issue
 * #15.2): {"parked":..,"waiting":..,"in_flight":..,"max_queue":..,"waits":..,
 * "wait_p50_ms":..,"wait_p99_ms":..,"wait_max_ms":..}. Returns 0, or -1 at out's cap.
 */
int metrics_flagship_json(struct buf *out, const struct metrics_snapshot *s) WUR;

#endif
