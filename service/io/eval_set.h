/*
 * eval_set: the in-memory eval set of `triaged eval`, shared by eval_run
 * (which loads the items, runs the calls and fills each configuration's
 * answers from eval_answers) and eval_report_print (which only reads them to
 * print the figures). Definitions only: no functions, no I/O.
 * Must never grow behaviour: what fills these is eval_run's, what prints
 * them is eval_report_print's.
 */
#ifndef TRIAGED_EVAL_SET_H
#define TRIAGED_EVAL_SET_H

#include <stddef.h>

#include "answer.h"
#include "cascade.h"
#include "config.h"
#include "hist.h"
#include "ticket.h"

struct event_base;
struct eval_task;
struct model_caller;

struct eval_item {
	struct ticket *t;  /* as parsed */
	struct ticket pt;  /* what the models see (redacted; strings owned below) */
	char *p_subject, *p_body;
	char hash[17];
	int gold[3];       /* category, sentiment, urgency indices; -1 unlabelled */
};

/* One configuration's answer to one item, as stored. */
struct eval_res {
	int have;
	int valid, repaired;
	int label[3]; /* category, sentiment, urgency; -1 when invalid */
	double conf, cost, latency_ms;
};

struct eval_conf {
	enum model_tier tier;
	char *spec;		/* the --model argument (owned), or NULL */
	struct config cfg;	/* shallow copy with this tier's model/prompt */
	struct model_caller *mcl;
	const char *prompt_version;
	struct eval_res *r;	/* one per item */
	size_t calls, failed, reused;
	int priced;		/* price per million tokens known (--max-cost) */
	double in_mtok, cached_mtok, out_mtok;
	/* the provider refuses this configuration's tier (eval_budget_stop_refused): its
	 * calls stop, the other configurations' go on */
	int refused;
	char refused_msg[256];
	size_t not_made; /* its calls stopped or never started once refused */
};

struct eval_run {
	struct event_base *base;
	struct taxonomy tax;
	struct eval_item *items;
	size_t n;
	struct eval_task *tasks;
	size_t ntasks, next, inflight, finished;
	long concurrency;
	int progress_pct;
	/* --max-cost: no call starts once spent + calls in flight at the
	 * dearest call seen so far would reach max_cost; then capped is set */
	double max_cost, spent, dearest;
	int capped;
	/* budget.enforce (issue #13): each call reserves through triaged_reserve
	 * (the daemon's budgets and row lock) before it is sent and settles when
	 * it ends; a denial stops the run as --max-cost does (stopped, stop_rc) */
	struct pg_conn *db;		      /* NULL: no budget guard */
	struct hist completion[MODEL__TIERS]; /* completion tokens: the estimates */
	char owner[128];		      /* "eval:host:pid": the leases' holder */
	struct event *renew;
	int lease_s, busy_ms; /* budget.lease_s, budget.busy_retry_ms */
	double pct;	      /* budget.estimate_percentile / 100 */
	int stopped, stop_rc;
	int stop_config; /* the stop's message is a tier the provider refuses */
	int confs_left;	 /* configurations not refused: at 0 the run stops (stop_config) */
	char stop_msg[512];
	size_t not_made;       /* tasks started, then stopped by the budget without an answer */
	size_t budget_calls;   /* calls reserved and settled */
	double budget_settled; /* their real cost */
};

#endif
