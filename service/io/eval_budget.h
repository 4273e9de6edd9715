/*
 * eval_budget: `triaged eval`'s calls under the daemon's daily budgets
 * (budget.enforce, issue #13). Owns the run's reservations: each call
 * reserves the daemon's worst case through triaged_reserve (same budgets,
 * same row lock as the daemons, so an eval and production share one daily
 * budget), renews its leases, and settles each reservation to the call's real
 * cost when the call ends (triaged_settle_reservations: an eval call has no
 * ticket call record). A denial stops the run (eval_run's stopped flag).
 * Blocking libpq on the eval's own connection: a command, never the daemon.
 */
#ifndef TRIAGED_EVAL_BUDGET_H
#define TRIAGED_EVAL_BUDGET_H

#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "config.h"
#include "eval_set.h"
#include "model_call.h"

enum eval_budget_verdict {
	EVAL_BUDGET_GRANTED, /* send the call (its reservation is on the call record) */
	EVAL_BUDGET_BUSY,    /* calls in flight hold the room: ask again after *wait_ms */
	EVAL_BUDGET_STOP,    /* denied, no price or check failed: run->stopped is set */
};

/* Turn the guard on for run: owner "eval:host:pid", lease renewal on run->base. */
void eval_budget_start(struct eval_run *run, const struct config *cfg, PGconn *db);
/* The renewal timer's free; accepts a run whose guard never started. */
void eval_budget_cleanup(struct eval_run *run);
/* Stop the run with rc and msg (the first reason wins). */
void eval_budget_stop_run(struct eval_run *run, int rc, const char *msg);
/*
 * The provider refuses configuration c's tier itself (a 401, a 404 model, a
 * spent quota: config_errors in a row, model_caller_misconfigured). The daemon
 * holds and waits for a fix; on the command line c's calls stop instead
 * (c->refused, c->refused_msg naming the cause): its tasks waiting for the
 * verdict or a probe would otherwise wait for good. The other configurations
 * go on; once every one is refused the run stops (exit 1, stop_config; a run
 * a budget stopped first keeps that message).
 * 1: c is refused (a waiting task of c stops); 0: go on.
 */
int eval_budget_stop_refused(struct eval_run *run, struct eval_conf *c);
/*
 * Reserve for the current call of cs (store_reserve_req_for: the daemon's
 * worst case and estimate). seed spreads the busy retries. Granted: the
 * call record carries budget_id and reservation_id.
 */
enum eval_budget_verdict eval_budget_reserve(struct eval_run *run, const struct model_caller *mcl,
					     struct model_calls *cs, uint64_t seed,
					     uint32_t *wait_ms);
/* Settle every reservation of cs's calls at its real cost, once (a no-op without the guard). */
void eval_budget_settle(struct eval_run *run, struct model_calls *cs);
/* The stop message: why, what was stored, how to resume. */
void eval_budget_print_stop(const struct eval_run *run, size_t stored, FILE *f);

#endif
