/*
 * offload: CPU work taken off the event loop (#16, loop lag). A ticket's
 * preparation (parsing, injection check, redaction, the rules' text
 * conditions) grows with its text: 11-15 ms for a 256 KiB body, which no
 * slice of a loop pass can split. Worker threads run it; the loop hands
 * items over and takes them back, a slice of a pass at a time. Owns the
 * threads, the two queues and the wake-up pipe; never looks inside an item.
 *
 * The work function runs on a worker thread and must touch only its item
 * and what no one changes while the daemon runs (the work may run on
 * several items at once with threads > 1). The done function runs on the
 * loop, in submission order for one thread (any order with more).
 */
#ifndef TRIAGED_OFFLOAD_H
#define TRIAGED_OFFLOAD_H

#include <stddef.h>

#include <event2/event.h>

/* Embedded in the caller's item; the queues link it. */
struct offload_item {
	struct offload_item *next;
};

typedef void offload_fn(struct offload_item *it, void *arg);

struct offload;

/*
 * Start threads (1..OFFLOAD_MAX_THREADS) workers calling work(it, arg), and
 * a reader of their results on base calling done(it, arg), at most
 * slice_ms of one loop pass at a time (0: no limit). Returns a new
 * offload (offload_free()), or NULL with err.
 */
#define OFFLOAD_MAX_THREADS 16
/* How much nicer the workers run than the loop (offload.c: the loop must win a core). */
#define OFFLOAD_NICE 5
struct offload *offload_new(struct event_base *base, int threads, int slice_ms, offload_fn *work,
			    offload_fn *done, void *arg, char *err, size_t errlen);

/* Queue it for a worker (never blocks: the caller bounds what it submits). */
void offload_submit(struct offload *o, struct offload_item *it);

/* Items submitted and not yet given to done. */
size_t offload_pending(const struct offload *o);

/*
 * Free p with fn(p) on a worker thread, later (#16). Memory a worker
 * allocated belongs to that worker's malloc arena: freeing it on the loop
 * takes the arena's lock, and while the worker holds it (it is allocating)
 * the loop sleeps on a futex. perf found these sleeps of 3-8 ms before late
 * ticks. Discards gather in batches of OFFLOAD_DISCARD_BATCH, handed over
 * when full or at offload_discard_flush(); never blocks, allocates only when
 * every batch is in use. o NULL (preparing inline): fn(p) at once.
 */
#define OFFLOAD_DISCARD_BATCH 64
typedef void offload_free_fn(void *p);
void offload_discard(struct offload *o, offload_free_fn *fn, void *p);
/* Hand over a partly filled batch (after a round of discards). */
void offload_discard_flush(struct offload *o);
/* Discards run so far, by the workers or by offload_free. */
unsigned long long offload_discarded(const struct offload *o);

/*
 * Stop: each worker finishes the item it is on and exits; then every item
 * not yet given to done (finished or not) goes to drop(it, arg) on the
 * caller's thread, so the caller can free it. o may be NULL.
 */
void offload_free(struct offload *o, offload_fn *drop);

#endif
