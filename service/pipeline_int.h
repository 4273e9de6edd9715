/*
 * pipeline_int: the coordinator's private parts, shared by pipeline.c (the
 * I/O dispatch: events in, cascade steps, actions out) and pipeline_life.c
 * (setup, intake control, teardown, stats). No other module includes it.
 */
#ifndef TRIAGED_PIPELINE_INT_H
#define TRIAGED_PIPELINE_INT_H

#include <librdkafka/rdkafka.h>

#include "pipeline.h"

#include "db.h"
#include "flagship_queue.h"
#include "job.h"
#include "kafka_in.h"
#include "kafka_out.h"
#include "model_call.h"
#include "offload.h"
#include "rules.h"
#include "safety.h"
#include "shadow.h"
#include "store.h"
#include "intake.h"
#include "ticket.h"

#define PAUSE_DATABASE 2
#define PAUSE_BUDGET 4
#define PAUSE_BREAKER 8
#define PAUSE_MISCONFIG 16 /* a tier held as misconfigured (#11.4) */

struct pipeline {
	struct event_base *base;
	const struct config *cfg;
	struct kin *kin;
	struct kout *kout;
	struct db *db;
	struct store store;
	struct model_caller *mcl;
	struct shadow *shadow; /* [shadow]; NULL when off */
	struct safety safety;
	struct rules *rules;
	/* rules reloaded while tickets were being prepared with them stay until the
	 * last is back (offload.h: a worker may be reading them) */
	unsigned rules_gen;	     /* bumped by each reload */
	size_t rules_users;	     /* preparations holding the current set */
	struct rules_hold *rules_retired;
	struct offload *off;	     /* the preparing threads; NULL: on the loop */
	struct taxonomy tax;
	struct ticket_limits limits;
	struct intake *intake; /* the intake format: message -> ticket, skip or dead letter */
	struct job_set jobs;
	struct flagship_queue fq; /* escalations waiting for a flagship slot */
	size_t flagship_active;
	/* quiet logs (issue #15.3): the counters at the last info-level summary */
	uint64_t sum_in, sum_stored, sum_escalated, sum_failed;
	double sum_ms;
	int fq_full; /* issue #15.2: intake held by a full flagship queue (logged once per change) */
	struct pipeline_stats st; /* the coordinator's counters; the modules keep theirs */
	int pause_flags;
	int draining;
	int abandoning; /* past shutdown.drain_timeout_ms: no new call starts, stores still finish */
	struct event *ev_drain_timeout, *ev_stats, *ev_fpump, *ev_reap;
	char why[512]; /* the text of the event being stepped (job->detail points here) */
	/* budgets (issues #21, #16): completion tokens of this daemon's calls per tier (the
	 * estimate's percentile), the lease owner, the renewal timer, and the tiers whose
	 * model has no price row under budget.enforce (a configuration error, fail closed) */
	struct hist completion[MODEL__TIERS];
	char owner[128];
	struct event *ev_renew;
	struct event *ev_bye; /* the loop's exit waits at most this long for the last heartbeat */
	int said_bye;
	/* the final flush (pipeline_exit_loop): the producer quiesced, its acknowledgements
	 * still served on the loop, with the dead letters' rows they start */
	int flushing;
	struct event *ev_flush;
	double flush_started_ms; /* monotonic; 0 until its first tick */
	int dl_rows; /* dead letters acknowledged whose dead_letters row is being written */
	pipeline_flush_fn *also_quiesce; /* pipeline_flush_also */
	pipeline_idle_fn *also_idle;
	void *also_arg;
	int no_price[MODEL__TIERS];
	int64_t budget_lost_calls;
	struct pipeline
	    *price_check[MODEL__TIERS]; /* the start check's callback args (tier = index) */
	int prices_checked; /* today's "paid, answer lost" calls, from the last renewal */
};

/* A rule set replaced while preparations held it. */
struct rules_hold {
	struct rules *r;
	unsigned gen;
	size_t users;
	struct rules_hold *next;
};
double pipeline_now_ms(void);
/* A preparation made with the rules of generation gen is back. */
void pipeline_rules_release(struct pipeline *pl, unsigned gen);
/* ACT_PREPARE's work, on an offload worker or inline (pipeline.c). */
void pipeline_prepare_work(struct offload_item *it, void *arg);
/* An offload worker prepared a job: step it on (loop). */
void pipeline_on_prepared(struct offload_item *it, void *arg);
/* Intake control: hold for backpressure, pause for outages (PAUSE_* flags). */
void pipeline_update_pause(struct pipeline *pl);
void pipeline_set_pause(struct pipeline *pl, int flag, int on);
/* The dispatch's entry points (pipeline.c). */
void pipeline_on_message(void *arg, struct kin_part *part, rd_kafka_message_t *m);
void pipeline_on_fpump(evutil_socket_t fd, short what, void *arg);
/* Free the jobs that ended during the loop pass. */
void pipeline_on_reap(evutil_socket_t fd, short what, void *arg);
/* Free a job (finished, or abandoned at shutdown), and exit when drained. */
void pipeline_drop_job(struct job *j);
/* Draining, no ticket in flight and the shadow tier idle: the loop may end (pipeline_life.c). */
int pipeline_drained(const struct pipeline *pl);
/* Leave the loop (the drain is over): first the final flush (the producer quiesced, what
 * was sent waited for, at most 5 s), then say this daemon stopped (a heartbeat of lease
 * 0, so that another daemon takes over at once what it abandoned), waiting at most 2 s. */
void pipeline_exit_loop(struct pipeline *pl);

#endif
