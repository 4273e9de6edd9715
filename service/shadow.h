/*
 * shadow: shadow traffic (issue #13 part 3). A fixed share of live tickets
 * (shadow_pick on source and ticket id) also goes to a candidate model or
 * prompt ([shadow]) once the ticket is stored: fire-and-forget, so it never
 * delays a ticket. Its own endpoint, client and circuit breaker (a
 * model_caller of its own), its own budget (calls per clock hour) and a
 * bounded queue (tickets beyond it are skipped and counted). Answers go to
 * shadow_answers through the database engine, never to the review queue.
 * A shadow call that fails is stored with its outcome; it is never retried
 * after a restart. Never logs ticket text.
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
	uint64_t picked, started, skipped_queue, skipped_budget, answered, invalid, failed;
};

struct shadow;

/* A new shadow tier for cfg->shadow; NULL with err. store and tax are borrowed. */
struct shadow *shadow_new(struct event_base *base, const struct config *cfg, struct store *store,
			  const struct taxonomy *tax, char *err, size_t errlen);
/* Cancels calls in flight (their answers are lost). Accepts NULL. */
void shadow_free(struct shadow *sh);

/*
 * A ticket was stored (freshly): if its hash is in the share, render the
 * request now from pt (what the models saw: redacted; nothing of it is kept)
 * and send it when the breaker and budget allow. Returns at once.
 */
void shadow_offer(struct shadow *sh, const struct ticket *t, const struct ticket *pt,
		  int64_t ticket_pk, int revision);

void shadow_get_stats(const struct shadow *sh, struct shadow_stats *out);

#endif
