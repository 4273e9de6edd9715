/*
 * flagship_queue: see flagship_queue.h. Owns the heap array, never the items.
 */
#include "flagship_queue.h"

#include <stdlib.h>

#include "xmem.h"

void flagship_queue_init(struct flagship_queue *q)
{
	q->v = NULL;
	q->len = q->cap = 0;
}

void flagship_queue_cleanup(struct flagship_queue *q)
{
	free(q->v);
	flagship_queue_init(q);
}

int flagship_queue_before(const struct fq_item *a, const struct fq_item *b)
{
	if (a->urgency != b->urgency)
		return a->urgency > b->urgency;
	if (a->tier != b->tier)
		return a->tier > b->tier;
	return a->received_ms < b->received_ms;
}

static void swap(struct flagship_queue *q, size_t a, size_t b)
{
	struct fq_item *t = q->v[a];
	q->v[a] = q->v[b];
	q->v[b] = t;
	q->v[a]->idx = a;
	q->v[b]->idx = b;
}

static void up(struct flagship_queue *q, size_t i)
{
	while (i > 0 && flagship_queue_before(q->v[i], q->v[(i - 1) / 2])) {
		swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void down(struct flagship_queue *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->len && flagship_queue_before(q->v[l], q->v[m]))
			m = l;
		if (r < q->len && flagship_queue_before(q->v[r], q->v[m]))
			m = r;
		if (m == i)
			return;
		swap(q, i, m);
		i = m;
	}
}

void flagship_queue_push(struct flagship_queue *q, struct fq_item *it)
{
	if (q->len == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		q->v = xrealloc(q->v, q->cap * sizeof(*q->v));
	}
	it->idx = q->len;
	q->v[q->len++] = it;
	up(q, it->idx);
}

void flagship_queue_remove(struct flagship_queue *q, struct fq_item *it)
{
	size_t i = it->idx;
	if (i >= q->len || q->v[i] != it)
		return;
	q->len--;
	if (i != q->len) {
		q->v[i] = q->v[q->len];
		q->v[i]->idx = i;
		down(q, i);
		up(q, i);
	}
}

struct fq_item *flagship_queue_pop(struct flagship_queue *q)
{
	struct fq_item *top;
	if (q->len == 0)
		return NULL;
	top = q->v[0];
	flagship_queue_remove(q, top);
	return top;
}

size_t flagship_queue_len(const struct flagship_queue *q)
{
	return q->len;
}

uint64_t flagship_queue_active(const struct fq_load *l)
{
	return l->in_flight > l->parked ? l->in_flight - l->parked : 0;
}

enum fq_intake flagship_queue_intake(const struct fq_load *l, const struct fq_limits *lim)
{
	uint64_t active = flagship_queue_active(l);
	if (active >= (uint64_t)lim->max_in_flight)
		return FQ_INTAKE_HOLD;
	if ((int64_t)l->queued >= lim->max_queue)
		return FQ_INTAKE_FULL;
	if (!l->hold_paused)
		return FQ_INTAKE_GO;
	if (active <= (uint64_t)lim->low_water &&
	    (int64_t)l->queued <= lim->max_queue - lim->max_queue / 4)
		return FQ_INTAKE_GO;
	return FQ_INTAKE_KEEP;
}
