/*
 * snapshot: publishes the pipeline's counters and health as the metrics
 * snapshot the admin server renders (core/metrics.h), so that the admin
 * server never includes pipeline.h. Reads only; never changes the pipeline.
 */
#ifndef TRIAGED_SNAPSHOT_H
#define TRIAGED_SNAPSHOT_H

#include "metrics.h"

/*
 * Fill the pipeline part of out (counters, per-state counts, latency
 * histograms, health) from the pipeline arg (a struct pipeline *; NULL
 * leaves them zero). Matches http_snapshot_fn; wired in main.c.
 */
void snapshot_fill(void *pipeline, struct metrics_snapshot *out);

struct outbox;
struct feedback_in;
/*
 * Fill the helpdesk round trip's part of out (#12) from the outbox relay and
 * the feedback consumer (both borrowed; NULL leaves their fields as
 * metrics_snapshot_init set them).
 */
void snapshot_fill_roundtrip(const struct outbox *relay, const struct feedback_in *fbin,
			     struct metrics_snapshot *out);

#endif
