/*
 * redact_map: the map's internal operations used by redact_text (the public
 * map API is in redact.h). Must never do I/O, read the clock or log.
 */
#ifndef TRIAGED_REDACT_MAP_H
#define TRIAGED_REDACT_MAP_H

#include <stddef.h>

#include "redact.h"

/* Placeholder label of a built-in kind ("EMAIL"); NULL for REDACT_CUSTOM and unknown kinds. */
const char *redact_map_kind_label(enum redact_kind k);
void redact_map_free_entries(struct redact_map *m, size_t from);
/* Rebuild both hash tables and the counters from the entries (tables sized for m->alloc). */
void redact_map_reindex(struct redact_map *m);
/*
 * The placeholder for value[0..vlen): the existing one if the value is
 * known (whatever its kind), else a new one numbered after the label's last.
 * Returns the entry index, or SIZE_MAX when the map is full.
 */
size_t redact_map_intern(struct redact_map *m, const char *label, const char *value, size_t vlen,
			 enum redact_kind kind);

#endif
