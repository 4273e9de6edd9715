/*
 * offtrack: per-partition offset tracking for manual commits. Offsets are
 * added in increasing order as messages are consumed (gaps allowed), marked
 * done in any order, and the committable offset is the last contiguous done
 * offset + 1: never past a ticket that is not yet durable. Pure.
 */
#ifndef TRIAGED_OFFTRACK_H
#define TRIAGED_OFFTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct offtrack;

/* Returns a new tracker; free with offtrack_free(). */
struct offtrack *offtrack_new(void);
void offtrack_free(struct offtrack *t);

/* Register a consumed offset. Must be greater than every offset added before: returns -1 otherwise. */
int offtrack_add(struct offtrack *t, int64_t offset) WUR;
/* Mark an added offset done. Returns -1 if the offset is unknown or already done. */
int offtrack_done(struct offtrack *t, int64_t offset) WUR;
/*
 * The offset to commit: (last offset of the done prefix) + 1, where the
 * prefix starts at the oldest offset still tracked. Done prefixes are
 * released as they are passed. Returns -1 if nothing new became committable
 * since the last call that returned a value.
 */
int64_t offtrack_committable(struct offtrack *t);
/* Offsets added and not yet done. */
size_t offtrack_pending(const struct offtrack *t);

#endif
