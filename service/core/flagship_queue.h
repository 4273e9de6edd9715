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

#endif
