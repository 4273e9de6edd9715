/*
 * offsets: per-partition offset tracking for manual commits. Offsets are
 * added in increasing order as messages are consumed (gaps allowed), marked
 * done in any order, and the committable offset is the last contiguous done
 * offset + 1: never past a ticket that is not yet durable. Pure.
 */
#ifndef TRIAGED_OFFSETS_H
#define TRIAGED_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

struct offsets;

/* Returns a new tracker; free with offsets_free(). */
struct offsets *offsets_new(void);
void offsets_free(struct offsets *t);

/* Register a consumed offset. Must be greater than every offset added before: returns -1 otherwise. */
int offsets_add(struct offsets *t, int64_t offset) WUR;
/* Mark an added offset done. Returns -1 if the offset is unknown or already done. */
int offsets_done(struct offsets *t, int64_t offset) WUR;
/*
 * The offset to commit: (last offset of the done prefix) + 1, where the
 * prefix starts at the oldest offset still tracked. Done prefixes are
 * released as they are passed. Returns -1 if nothing new became committable
 * since the last call that returned a value.
 */
int64_t offsets_committable(struct offsets *t);
/* Offsets added and not yet done. */
size_t offsets_pending(const struct offsets *t);
enum offsets_state { OFFSETS_UNKNOWN, OFFSETS_PENDING, OFFSETS_DONE };
/*
 * What the tracker knows of offset: added and not done (PENDING); done,
 * whether or not released yet (DONE: any offset from the first one added up
 * to the last committable() returned counts, gaps included, since nothing
 * below it waits); anything else UNKNOWN.
 */
enum offsets_state offsets_state_at(const struct offsets *t, int64_t offset);

#endif
