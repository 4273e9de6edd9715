/*
 * outbox: the relay of the review outbox (issue #12). Reads the events that
 * the review functions wrote to review_outbox (schema/functions/
 * triaged_outbox_*.sql), produces them to review.events_topic keyed by the
 * helpdesk's ticket id, and marks them sent once the broker acknowledged
 * them: at least once, in sequence order per ticket (one event per ticket in
 * flight), a crash between the acknowledgement and the mark sends the event
 * again with the same sequence number (consumers keep the highest).
 *
 * It owns its PostgreSQL connection, non-blocking on the libevent loop, and
 * its producer. Why not db.c: LISTEN is session state, and db.c's pipeline
 * connection is a group-commit engine whose every round is one transaction
 * of unrelated writes, re-sent item by item after a reconnect; a LISTEN
 * there would have to be re-issued after every reconnect by a caller that
 * cannot see them, and the relay's strict read -> produce -> mark cycle
 * would wait behind ticket batches. It wakes on NOTIFY triaged_outbox and
 * on a periodic poll (review.poll_ms) in case a notification was lost (a
 * reconnect, a restart of PostgreSQL). Never blocks; never exits.
 */
#ifndef TRIAGED_OUTBOX_H
#define TRIAGED_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct kout;

#include "config.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

struct outbox;

struct outbox_stats {
	uint64_t sent;	     /* events acknowledged by the broker and marked sent */
	uint64_t rounds;     /* reads of the outbox that returned events */
	uint64_t notifies;   /* NOTIFY wake-ups */
	uint64_t reconnects; /* lost connections */
	uint64_t errors;     /* statements that failed (the round is tried again) */
	uint64_t produce_retries; /* produce attempts failed and scheduled again (kafka_out) */
	int up;		     /* connected and listening */
	int leader;	     /* holds the relay's lock: this daemon's relay is the one that sends */
	/* unsent rows and the age of the oldest, read on each poll tick (review.poll_ms);
	 * backlog -1 until the first read */
	int64_t backlog, oldest_unsent_ms;
};

/* A new relay connecting in the background, or NULL with err (startup: fatal for the caller).
 * Free with outbox_free(). */
struct outbox *outbox_new(struct event_base *base, const struct config *cfg, char *err,
			  size_t errlen);
/* Flush the producer (up to timeout_ms, blocking: shutdown only; main passes 0, the final
 * flush having marked the last batch on the loop), close and free; NULL ok. */
void outbox_free(struct outbox *o, int timeout_ms);
/*
 * The end of a shutdown, on the loop (pipeline_flush_also): no new batch is fetched;
 * the batch being produced is still acknowledged and marked sent. outbox_idle is
 * 1 once nothing is produced and not marked (then outbox_free has nothing to flush).
 */
void outbox_quiesce(void *o);
int outbox_idle(const void *o);
void outbox_get_stats(const struct outbox *o, struct outbox_stats *out);
/* Its producer, for kout_health_add. */
const struct kout *outbox_kout(const struct outbox *o);

#endif
