/*
 * feedback_in: feedback.topic -> core/feedback -> db.c (DB_FEEDBACK).
 * See feedback.h. Owns its consumer and a producer for the dead letters
 * (an event the database refuses goes to intake.dlq_topic as it came, its
 * offset advancing once the broker has it); never the meaning of an event
 * (core) nor what it does to the review (SQL).
 */
#include "feedback_in.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feedback.h"
#include "kafka_in.h"
#include "kafka_out.h"
#include "log.h"

struct fb_item;

struct feedback_in {
	const struct config *cfg;
	struct kin *kin;
	struct kout *kout; /* dead letters */
	struct db *db;
	enum intake_format fmt;
	size_t pending;	     /* items submitted, not answered (dead letters in flight included) */
	struct fb_item *dlq; /* dead letters not yet acknowledged (freed at shutdown) */
	int dead;	     /* freed by the owner: go when pending reaches 0 */
	struct feedback_in_stats st;
};

struct fb_item {
	struct feedback_in *f;
	struct kin_part *part;
	int64_t offset;
	char *key, *payload; /* the message as it came: a refused event is dead-lettered as is */
	size_t keylen, len;
	struct fb_item *prev, *next; /* on f->dlq while its dead letter is in flight */
};

static void fb_release(struct feedback_in *f)
{
	if (f->dead && f->pending == 0)
		free(f);
}

static void item_free(struct fb_item *it)
{
	kin_part_unref(it->part);
	free(it->key);
	free(it->payload);
	free(it);
}

/* The dead letter of a refused event is in the topic: its offset may advance. */
static void on_dead_letter_delivered(void *arg)
{
	struct fb_item *it = arg;
	struct feedback_in *f = it->f;

	if (it->prev)
		it->prev->next = it->next;
	else
		f->dlq = it->next;
	if (it->next)
		it->next->prev = it->prev;
	f->pending--;
	f->st.dead_lettered++;
	if (!f->dead)
		kin_done(f->kin, it->part, it->offset);
	item_free(it);
	fb_release(f);
}

static void dead_letter(struct fb_item *it, const char *err)
{
	struct feedback_in *f = it->f;
	char part[16], off[32], reason[256];
	struct kout_header h[5];

	snprintf(part, sizeof(part), "%d", (int)kin_part_partition(it->part));
	snprintf(off, sizeof(off), "%lld", (long long)it->offset);
	snprintf(reason, sizeof(reason), "feedback refused by the database: %.200s",
		 err ? err : "");
	reason[strcspn(reason, "\r\n")] = '\0'; /* the first line of the error */
	h[0] = (struct kout_header){"triaged.error.code", "feedback_rejected"};
	h[1] = (struct kout_header){"triaged.error.reason", reason};
	h[2] = (struct kout_header){"triaged.original.topic", kin_part_topic(it->part)};
	h[3] = (struct kout_header){"triaged.original.partition", part};
	h[4] = (struct kout_header){"triaged.original.offset", off};
	it->next = f->dlq;
	it->prev = NULL;
	if (f->dlq)
		f->dlq->prev = it;
	f->dlq = it;
	f->pending++;
	kout_produce(f->kout, f->cfg->dlq_topic, it->key, it->keylen, it->payload, it->len, h,
		     ARRAY_SIZE(h), on_dead_letter_delivered, it);
}

static void on_recorded(void *arg, const struct db_row *row, const char *err)
{
	struct fb_item *it = arg;
	struct feedback_in *f = it->f;

	f->pending--;
	if (row == NULL) {
		/* rejected on its own (bad data): retrying cannot help; dead-lettered */
		f->st.rejected++;
		log_warn("feedback event rejected by the database, dead-lettered",
			 "offset=%lld error=\"%.200s\"", (long long)it->offset, err ? err : "");
		if (!f->dead) {
			dead_letter(it, err); /* the offset advances once the broker has it */
			return;
		}
	} else {
		const char *out = row->ncols > 1 && row->cols[1] ? row->cols[1] : "";
		if (strcmp(out, "duplicate") == 0)
			f->st.duplicates++;
		else if (strcmp(out, "ignored") == 0)
			f->st.ignored++;
		else
			f->st.recorded++;
		log_debug("feedback recorded", "offset=%lld outcome=%s", (long long)it->offset,
			  out);
	}
	if (!f->dead)
		kin_done(f->kin, it->part, it->offset);
	item_free(it);
	fb_release(f);
}

static void take_message(struct feedback_in *f, struct kin_part *part, const rd_kafka_message_t *m)
{
	struct feedback_result r;
	struct fb_item *it;

	f->st.consumed++;
	feedback_map(f->fmt, m->payload, m->len, &r);
	if (r.outcome == FEEDBACK_SKIP) {
		f->st.skipped++;
		log_debug("feedback skipped", "offset=%lld reason=\"%s\"", (long long)m->offset,
			  r.reason);
		kin_done(f->kin, part, m->offset);
		return;
	}
	it = xcalloc(1, sizeof(*it));
	it->f = f;
	it->part = part;
	it->offset = m->offset;
	it->keylen = m->key ? m->key_len : 0;
	it->key = xmalloc(it->keylen + 1);
	if (it->keylen)
		memcpy(it->key, m->key, it->keylen);
	it->len = m->payload ? m->len : 0;
	it->payload = xmalloc(it->len + 1);
	if (it->len)
		memcpy(it->payload, m->payload, it->len);
	kin_part_ref(part);
	f->pending++;
	db_submit_obj(f->db, DB_FEEDBACK, r.item, on_recorded, it);
}

/* Feedback events are small: copied at once, and the message destroyed. */
static void on_message(void *arg, struct kin_part *part, rd_kafka_message_t *m)
{
	take_message(arg, part, m);
	rd_kafka_message_destroy(m);
}

struct feedback_in *feedback_in_new(struct event_base *base, const struct config *cfg,
				    struct db *db, char *err, size_t errlen)
{
	struct feedback_in *f = xcalloc(1, sizeof(*f));
	struct config c = *cfg; /* shallow: only the topic and group differ */
	struct kv *kafka = xcalloc(cfg->nkafka + 1, sizeof(*kafka));
	char *group = NULL;
	size_t n = 0;

	for (size_t i = 0; i < cfg->nkafka; i++) {
		kafka[n] = cfg->kafka[i];
		if (strcmp(cfg->kafka[i].key, "group.id") == 0) {
			size_t len = strlen(cfg->kafka[i].value) + sizeof(".feedback");
			group = xmalloc(len);
			snprintf(group, len, "%s.feedback", cfg->kafka[i].value);
			kafka[n].value = group;
		}
		n++;
	}
	c.kafka = kafka;
	c.nkafka = n;
	c.topic = cfg->feedback_topic;
	f->cfg = cfg;
	f->db = db;
	f->fmt = (enum intake_format)cfg->intake_format;
	f->kout = kout_new(base, cfg, err, errlen);
	if (f->kout != NULL)
		f->kin = kin_new(base, &c, on_message, f, err, errlen);
	free(kafka);
	free(group);
	if (f->kin == NULL) {
		kout_free(f->kout, 0);
		free(f);
		return NULL;
	}
	return f;
}

void feedback_in_free(struct feedback_in *f)
{
	if (f == NULL)
		return;
	kin_stop(f->kin);
	/* dead letters still in flight: a short flush, before the consumer closes, so that
	 * an acknowledgement advances its offset and the close commits it (the other
	 * way round, one acknowledged here was consumed and dead-lettered again at the
	 * next start); what is not acknowledged by then is consumed again */
	f->pending++; /* a delivery served during the flush must not free f under us */
	kout_free(f->kout, 2000);
	f->kout = NULL;
	kin_free(f->kin);
	f->kin = NULL;
	f->dead = 1;
	/* after the flush: its dead letters are counted */
	log_info("feedback consumer stopped",
		 "consumed=%llu skipped=%llu recorded=%llu duplicates=%llu ignored=%llu "
		 "rejected=%llu dead_lettered=%llu",
		 (unsigned long long)f->st.consumed, (unsigned long long)f->st.skipped,
		 (unsigned long long)f->st.recorded, (unsigned long long)f->st.duplicates,
		 (unsigned long long)f->st.ignored, (unsigned long long)f->st.rejected,
		 (unsigned long long)f->st.dead_lettered);
	while (f->dlq) {
		struct fb_item *it = f->dlq;
		f->dlq = it->next;
		f->pending--;
		item_free(it);
	}
	f->pending--;
	fb_release(f);
}

const struct kout *feedback_in_kout(const struct feedback_in *f)
{
	return f->kout;
}

void feedback_in_get_stats(const struct feedback_in *f, struct feedback_in_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (f)
		*out = f->st;
}
