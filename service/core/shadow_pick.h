/*
 * shadow_pick: which live tickets the shadow tier also sees (issue #13 part 3),
 * pure. A fixed fraction chosen deterministically by a hash of the ticket's
 * source and id, so the same tickets are picked on every replica, restart and
 * redelivery, and a test (or a SQL view) can tell exactly which ones should be.
 * Must never read the clock, call a model or know about PostgreSQL.
 */
#ifndef TRIAGED_SHADOW_PICK_H
#define TRIAGED_SHADOW_PICK_H

#include <stdint.h>

/* FNV-1a 64 of source, a NUL byte, ticket_id. */
uint64_t shadow_hash(const char *source, const char *ticket_id);

/* 1 if the ticket is in the shadow share: hash % 10000 < fraction * 10000
 * (fraction in [0, 1], at 0.01% steps); else 0. */
int shadow_pick(const char *source, const char *ticket_id, double fraction);

#endif
