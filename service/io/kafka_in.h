/*
 * kafka_in: the intake consumer. librdkafka's high-level consumer (a
 * consumer group) on the libevent loop: the consumer queue's IO-event pipe
 * wakes the loop, messages are polled with a zero timeout up to a cap per
 * pass, and a periodic tick keeps polling while paused (rebalances,
 * max.poll.interval.ms). Offsets are stored by hand: last contiguous done
 * offset + 1 per partition (offsets), committed by librdkafka's
 * auto-commit and on close. Backpressure pauses every assigned partition.
 */
#ifndef TRIAGED_KAFKA_IN_H
#define TRIAGED_KAFKA_IN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

struct kin;
/* One assigned partition; referenced by each ticket taken from it. */
struct kin_part;

/*
 * A message to handle. The callback must either finish with it at once or
 * keep the part (kin_part_ref) and later call kin_done(). The callback owns
 * the message: it destroys it with rd_kafka_message_destroy(), from any
 * thread, before kin_free() (a kept message holds librdkafka's receive
 * buffer, so keep it briefly: copy what you keep for long).
 */
typedef void kin_msg_fn(void *arg, struct kin_part *part, rd_kafka_message_t *m);

/* Returns a new consumer subscribed to cfg->topic, or NULL with err (startup: fatal for the caller). */
struct kin *kin_new(struct event_base *base, const struct config *cfg, kin_msg_fn *cb, void *arg,
		    char *err, size_t errlen);
/* Close the consumer (commits stored offsets) and free. Blocks briefly: shutdown only. */
void kin_free(struct kin *k);

/* The ticket taken from part at offset is durable (or dead-lettered): advance the stored offset. */
void kin_done(struct kin *k, struct kin_part *part, int64_t offset);
void kin_part_ref(struct kin_part *p);
void kin_part_unref(struct kin_part *p);
/* 1 while the partition is still assigned to us (its result will count). */
int kin_part_active(const struct kin_part *p);
int32_t kin_part_partition(const struct kin_part *p);
const char *kin_part_topic(const struct kin_part *p);

/* Pause or resume every assigned partition (idempotent). reason is for the log. */
void kin_pause(struct kin *k, const char *reason);
void kin_resume(struct kin *k);
int kin_paused(const struct kin *k);
/*
 * Backpressure: while held, take no message and leave prefetched ones in
 * librdkafka's queue (bounded by kafka.queued.max.messages.kbytes): no
 * refetch on release, unlike a pause. A hold longer than a second turns
 * into a pause, so that rebalances are still served (kin_hold_paused).
 * Independent of kin_pause: intake runs when neither holds it.
 */
void kin_hold(struct kin *k, int hold);
int kin_hold_paused(const struct kin *k);
/* Stop taking messages for good (shutdown drain). */
void kin_stop(struct kin *k);

size_t kin_assigned(const struct kin *k);
uint64_t kin_consumed(const struct kin *k);
/* Messages delivered again after a partition came back to us, whose tickets
 * the earlier assignment still ran (left to those jobs) or had finished. */
uint64_t kin_adopted(const struct kin *k);
/* Sum over assigned partitions of (high watermark - position), from the last stats; -1 unknown. */
int64_t kin_lag(const struct kin *k);
/* Store and synchronously commit the offsets now (shutdown). */
void kin_commit_sync(struct kin *k);

/* Route a handle's librdkafka log and error lines to the log module. */
void kin_conf_logging(rd_kafka_conf_t *c);
/* Build an rd_kafka_conf_t from cfg->kafka plus our fixed settings. */
rd_kafka_conf_t *kin_make_conf(const struct config *cfg, char *err, size_t errlen);

#endif
