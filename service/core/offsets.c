/*
 * offsets: see offsets.h. Owns one partition's window of in-flight offsets:
 * a ring of (offset, done) entries in strictly increasing offset order, from
 * the oldest offset not yet released to the newest added. Pure: no I/O, no
 * clock, no Kafka; the consumer module turns the result into an offset store.
 *
 * Costs: add O(1) amortised, done O(log n) (binary search over the ring),
 * committable O(released entries) amortised. The ring doubles when full and
 * halves when a quarter full, so a drained tracker goes back to a small fixed
 * size whatever the burst it absorbed.
 */
#include "offsets.h"

#include <stdlib.h>
#include <string.h>

#define OFFTRACK_MIN_CAP 64 /* entries; a power of two */

struct offsets_entry {
	int64_t offset;
	int done;
};

struct offsets {
	struct offsets_entry *ring; /* cap entries; live ones at head .. head + count - 1 */
	size_t cap;                  /* a power of two, >= OFFTRACK_MIN_CAP */
	size_t head;
	size_t count;
	size_t pending;       /* live entries not done */
	int64_t first_added;  /* -1 before the first add */
	int64_t last_added;   /* -1 before the first add */
	int64_t last_release; /* last value committable() returned, -1 before the first */
};

static struct offsets_entry *entry_at(const struct offsets *t, size_t i)
{
	return &t->ring[(t->head + i) & (t->cap - 1)];
}

/* Move the live entries to a new ring of ncap entries, starting at index 0. */
static void resize(struct offsets *t, size_t ncap)
{
	struct offsets_entry *n = xcalloc(ncap, sizeof(*n));

	for (size_t i = 0; i < t->count; i++)
		n[i] = *entry_at(t, i);
	free(t->ring);
	t->ring = n;
	t->cap = ncap;
	t->head = 0;
}

struct offsets *offsets_new(void)
{
	struct offsets *t = xcalloc(1, sizeof(*t));

	t->cap = OFFTRACK_MIN_CAP;
	t->ring = xcalloc(t->cap, sizeof(*t->ring));
	t->first_added = -1;
	t->last_added = -1;
	t->last_release = -1;
	return t;
}

void offsets_free(struct offsets *t)
{
	if (t == NULL)
		return;
	free(t->ring);
	free(t);
}

int offsets_add(struct offsets *t, int64_t offset)
{
	/*
	 * Kafka offsets are >= 0. Refusing negative offsets and INT64_MAX keeps
	 * committable()'s "offset + 1" free of overflow and its -1 unambiguous.
	 */
	if (offset < 0 || offset == INT64_MAX || offset <= t->last_added)
		return -1;
	if (t->count == t->cap)
		resize(t, t->cap * 2);
	*entry_at(t, t->count) = (struct offsets_entry){.offset = offset, .done = 0};
	t->count++;
	t->pending++;
	if (t->first_added < 0)
		t->first_added = offset;
	t->last_added = offset;
	return 0;
}

/* The live entry holding offset, or NULL. */
static struct offsets_entry *find(const struct offsets *t, int64_t offset)
{
	size_t lo = 0, hi = t->count;

	/* Offsets increase from head onward, so the ring is sorted in logical order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (entry_at(t, mid)->offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == t->count || entry_at(t, lo)->offset != offset)
		return NULL;
	return entry_at(t, lo);
}

int offsets_done(struct offsets *t, int64_t offset)
{
	struct offsets_entry *e = find(t, offset);

	if (e == NULL || e->done)
		return -1;
	e->done = 1;
	t->pending--;
	return 0;
}

enum offsets_state offsets_state_at(const struct offsets *t, int64_t offset)
{
	const struct offsets_entry *e = find(t, offset);

	if (e != NULL)
		return e->done ? OFFSETS_DONE : OFFSETS_PENDING;
	if (t->first_added >= 0 && offset >= t->first_added && offset < t->last_release)
		return OFFSETS_DONE;
	return OFFSETS_UNKNOWN;
}

int64_t offsets_committable(struct offsets *t)
{
	int64_t last = -1;
	size_t ncap = t->cap;

	while (t->count > 0 && t->ring[t->head].done) {
		last = t->ring[t->head].offset;
		t->head = (t->head + 1) & (t->cap - 1);
		t->count--;
	}
	while (ncap > OFFTRACK_MIN_CAP && t->count <= ncap / 4)
		ncap /= 2;
	if (ncap != t->cap)
		resize(t, ncap);

	/*
	 * Released offsets strictly increase, so anything released now is past
	 * what was returned before; the comparison keeps the promise explicit.
	 */
	if (last < 0 || last + 1 <= t->last_release)
		return -1;
	t->last_release = last + 1;
	return t->last_release;
}

size_t offsets_pending(const struct offsets *t)
{
	return t->pending;
}
