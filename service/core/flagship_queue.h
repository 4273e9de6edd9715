/*
 * flagship_queue: escalations waiting for a flagship slot, as a binary heap,
 * most valuable first: higher urgency, then higher customer tier, then the
 * older ticket. Items are embedded in their owner (struct job) and know their
 * position, so a queued item can be removed in O(log n). Pure; never frees
 * the items.
 */
#ifndef TRIAGED_FLAGSHIP_QUEUE_H
#define TRIAGED_FLAGSHIP_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct fq_item {
	int urgency;	    /* enum urgency; an invalid mini pass counts as high */
	int tier;	    /* enum customer_tier */
	double received_ms; /* older first among equals */
	size_t idx;	    /* position while queued (private) */
};

struct flagship_queue {
	struct fq_item **v;
	size_t len, cap;
};

void flagship_queue_init(struct flagship_queue *q);
void flagship_queue_cleanup(struct flagship_queue *q);
/* Queue an item (borrowed: it must stay alive until popped or removed). */
void flagship_queue_push(struct flagship_queue *q, struct fq_item *it);
/* The most valuable item, removed from the queue; NULL when empty. */
struct fq_item *flagship_queue_pop(struct flagship_queue *q);
/* Remove an item wherever it is; a no-op when it is not queued. */
void flagship_queue_remove(struct flagship_queue *q, struct fq_item *it);
size_t flagship_queue_len(const struct flagship_queue *q);
/* 1 if a should get a slot before b. */
int flagship_queue_before(const struct fq_item *a, const struct fq_item *b);

/*
 * Escalations never block intake (issue #15 part 2). An escalation is
 * "parked" from the moment it joins the queue until its flagship slot is
 * released (its store starts, or it is dropped): parked tickets do not count
 * against intake.max_in_flight, so the mini path keeps flowing while the
 * flagship is the bottleneck. The queue has its own limit
 * (flagship.max_queue): when that many wait for a slot, intake holds, as it
 * does at max_in_flight. A ticket already in flight that escalates still
 * joins a full queue (never dropped), so the queue may pass its limit by at
 * most the tickets in flight on the mini path.
 */
struct fq_load {
	uint64_t in_flight; /* every ticket in flight, parked ones included */
	uint64_t parked;    /* escalations queued or holding a flagship slot */
	size_t queued;	    /* escalations waiting for a slot */
	int hold_paused;    /* intake's hold has turned into a pause (kin_hold_paused) */
};

struct fq_limits {
	int64_t max_in_flight; /* intake.max_in_flight: the mini path */
	int64_t low_water;     /* intake.low_water: a paused hold resumes at or below */
	int64_t max_queue;     /* flagship.max_queue */
};

enum fq_intake {
	FQ_INTAKE_GO,	 /* take tickets */
	FQ_INTAKE_HOLD,	 /* hold intake: the mini path is full */
	FQ_INTAKE_FULL,	 /* hold intake: the flagship queue is full */
	FQ_INTAKE_KEEP,	 /* a paused hold stays until the low-water marks */
};

/* Tickets in flight that count against max_in_flight (the parked ones do not). */
uint64_t flagship_queue_active(const struct fq_load *l);
/*
 * What intake should do under this load. A paused hold resumes only when
 * the mini path is at or below low_water and the queue at or below three
 * quarters of its limit, so that intake does not flap at either edge.
 */
enum fq_intake flagship_queue_intake(const struct fq_load *l, const struct fq_limits *lim);

#endif
