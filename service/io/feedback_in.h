/*
 * feedback_in: the consumer of feedback.topic (issue #12). The helpdesk's
 * own events, mapped by core/feedback.c with intake.format's helpdesk
 * format, are recorded through db.c (triaged_feedback: as the review
 * functions would record the agent's decision, idempotent on the event's
 * identity). Its own consumer group (kafka group.id + ".feedback"); an
 * offset advances once its event is recorded (or skipped), or, when the
 * database refuses it on its own, once its dead letter (intake.dlq_topic,
 * code feedback_rejected, the message as it came) is acknowledged. Never
 * blocks.
 */
#ifndef TRIAGED_FEEDBACK_IN_H
#define TRIAGED_FEEDBACK_IN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct kout;

#include "config.h"
#include "db.h"

struct feedback_in;

struct feedback_in_stats {
	uint64_t consumed, skipped, recorded, duplicates, ignored, rejected;
	uint64_t dead_lettered; /* rejected events whose dead letter the broker acknowledged */
};

/* A new consumer of cfg->feedback_topic writing through db (borrowed), or NULL with err. */
struct feedback_in *feedback_in_new(struct event_base *base, const struct config *cfg,
				    struct db *db, char *err, size_t errlen);
/* Close the consumer (commits stored offsets), flush the dead letters in flight (up to 2 s,
 * blocking: shutdown only); the struct goes once db has answered every item. */
void feedback_in_free(struct feedback_in *f);
void feedback_in_get_stats(const struct feedback_in *f, struct feedback_in_stats *out);
/* Its producer (dead letters), for kout_health_add; NULL once closed. */
const struct kout *feedback_in_kout(const struct feedback_in *f);

#endif
