/*
 * kafka_out: the producer (dead-letter topic; later the triaged events).
 * Idempotent producer, acks=all; delivery reports come back on the libevent
 * loop through the main queue's IO-event pipe. A message that fails for
 * good after librdkafka's own retries is produced again after a pause: a
 * dead letter is never dropped.
 */
#ifndef TRIAGED_KAFKA_OUT_H
#define TRIAGED_KAFKA_OUT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

struct kout;

/* Delivery: called exactly once per message, after it is durably in the topic. */
typedef void kout_done_fn(void *arg);

struct kout_header {
	const char *name;
	const char *value; /* NUL-terminated text */
};

struct kout *kout_new(struct event_base *base, const struct config *cfg, char *err, size_t errlen);
/* Flush (up to timeout_ms, blocking: shutdown only; not after kout_quiesce) and free:
 * what is still not acknowledged is purged and freed without its callback. */
void kout_free(struct kout *o, int timeout_ms);

/* Copy key, payload and headers; deliver reliably; call cb when acknowledged. */
void kout_produce(struct kout *o, const char *topic, const void *key, size_t keylen,
		  const void *payload, size_t len, const struct kout_header *hdrs, size_t nhdrs,
		  kout_done_fn *cb, void *arg);

size_t kout_pending(const struct kout *o);
/*
 * The last phase of a shutdown, on the loop: nothing more goes out. Messages not
 * yet sent are dropped (purged from librdkafka's queues, their retry timers
 * stopped) and so are later kout_produce calls: no callback for any of them,
 * their jobs are left uncommitted and redelivered. Messages already sent
 * (kout_in_flight) keep being served: an acknowledgement still calls its cb, so
 * the caller can finish what depends on it while the loop runs. For good: with the
 * idempotent producer, the purged messages leave a gap in its sequence, harmless only
 * because nothing more is produced on the handle.
 */
void kout_quiesce(struct kout *o);
/* Messages librdkafka holds (sent or being sent), waiting for their delivery report. */
size_t kout_in_flight(const struct kout *o);
/* Messages dropped by kout_quiesce or produced after it: never sent. */
uint64_t kout_unsent(const struct kout *o);
/* Produce attempts that failed (at producev or at delivery) and were scheduled again. */
uint64_t kout_retries(const struct kout *o);
/* Messages sent cut to fit a size limit (header triaged.payload.truncated: the original size). */
uint64_t kout_cut(const struct kout *o);
/* Times the producer was made again after a fatal error (its messages sent on the new one). */
uint64_t kout_remade(const struct kout *o);
/*
 * What waits to be produced, added to the caller's figures (several producers
 * fill one): *failing += the messages not delivered yet of which an attempt
 * failed (each is retried until delivered); when o's oldest undelivered
 * message is older than *oldest_s (seconds since kout_produce), *oldest_s and
 * cause become its: topic, last error or "not acknowledged" (a broker gone: no
 * error until message.timeout.ms), and age ("tickets.triaged:
 * TOPIC_AUTHORIZATION_FAILED for 45 s"). Walks the messages not delivered
 * (the events in flight, a few thousand at most). o NULL: nothing.
 */
void kout_health_add(const struct kout *o, size_t *failing, double *oldest_s, char *cause,
		     size_t causelen);
/* The current handle (tests: rd_kafka_test_fatal_error). Changes when remade. */
rd_kafka_t *kout_handle(struct kout *o);

#endif
