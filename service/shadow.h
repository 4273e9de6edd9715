/*
 * shadow: shadow traffic (issue #13 part 3). A fixed share of live tickets
 * (shadow_pick on source and ticket id) also goes to a candidate model or
 * prompt ([shadow]) once the ticket is stored: fire-and-forget, so it never
 * delays a ticket. Its own endpoint, client and circuit breaker (a
 * model_caller of its own), its own budget (calls per clock hour) and a
 * bounded queue (tickets beyond it are skipped and counted). Answers go to
 * shadow_answers through the database engine, never to the review queue.
 * A shadow call that fails is stored with its outcome; it is never retried
 * after a restart. An invalid answer is stored and counted (outcome
 * invalid), not repaired: the repair call would need the ticket again.
 * At shutdown the drain waits for the calls in flight and their stores (up
 * to the drain timeout); what is still out then is counted as abandoned,
 * on /metrics and in the log, never silently lost. Never logs ticket text.
 */
#ifndef TRIAGED_SHADOW_H
#define TRIAGED_SHADOW_H

#include <stdint.h>

#include <event2/event.h>

#include "answer.h"
#include "config.h"
#include "store.h"
#include "ticket.h"

struct shadow_stats {
	uint64_t picked, started, skipped_queue, skipped_budget, skipped_draining;
	uint64_t answered, invalid, failed; /* calls ended, by outcome */
	uint64_t stored, store_errors;      /* shadow_answers rows written, refused */
	uint64_t abandoned;                 /* ended by the shutdown: call or store still out */
	uint64_t in_flight;                 /* gauge: calls out and stores under way */
};

/* The shadow tier has nothing in flight any more (after shadow_drain). */
typedef void shadow_idle_fn(void *arg);

struct shadow;

/* A new shadow tier for cfg->shadow; NULL with err. store and tax are borrowed. */
struct shadow *shadow_new(struct event_base *base, const struct config *cfg, struct store *store,
			  const struct taxonomy *tax, char *err, size_t errlen);
/*
 * Cancels what is still in flight, counted as abandoned and logged with the
 * tier's final counters. Accepts NULL.
 */
void shadow_free(struct shadow *sh);

/*
 * Shutdown, step one: take no new ticket (offers are counted as
 * skipped_draining) and call fn(arg) once, when the calls in flight and
 * their stores are done. Returns 1 when nothing is in flight (fn is then
 * not called), else 0. Accepts NULL (returns 1).
 */
int shadow_drain(struct shadow *sh, shadow_idle_fn *fn, void *arg);

/*
 * Shutdown, step two (the drain timeout): cancel the calls still waiting for
 * the model, count them as abandoned and log how many; stores already under
 * way go on. Returns 1 when nothing is in flight any more. Accepts NULL.
 */
int shadow_abandon(struct shadow *sh);

/*
 * A ticket was stored (freshly): if its hash is in the share, render the
 * request now from pt (what the models saw: redacted; nothing of it is kept)
 * and send it when the breaker and budget allow. Returns at once.
 */
void shadow_offer(struct shadow *sh, const struct ticket *t, const struct ticket *pt,
		  int64_t ticket_pk, int revision);

void shadow_get_stats(const struct shadow *sh, struct shadow_stats *out);

#endif
