/*
 * feedback_in: feedback.topic -> core/feedback -> db.c (DB_FEEDBACK).
 * See feedback.h. Owns its consumer; never the meaning of an event (core)
 * nor what it does to the review (SQL).
 */
#include "feedback_in.h"

#include <stdlib.h>
#include <string.h>

#include "feedback.h"
#include "kafka_in.h"
#include "log.h"

struct feedback_in {
	struct kin *kin;
	struct db *db;
	enum intake_format fmt;
	size_t pending; /* items submitted, not answered */
	int dead;	/* freed by the owner: go when pending reaches 0 */
	struct feedback_in_stats st;
};

struct fb_item {
	struct feedback_in *f;
	struct kin_part *part;
	int64_t offset;
};

static void fb_release(struct feedback_in *f)
{
	if (f->dead && f->pending == 0)
		free(f);
}

static void on_recorded(void *arg, const struct db_row *row, const char *err)
{
	struct fb_item *it = arg;
	struct feedback_in *f = it->f;

	f->pending--;
	if (row == NULL) {
		/* rejected on its own (bad data): retrying cannot help; logged and passed */
		f->st.rejected++;
		log_warn("feedback event rejected by the database", "offset=%lld error=\"%.200s\"",
			 (long long)it->offset, err ? err : "");
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
	kin_part_unref(it->part);
	free(it);
	fb_release(f);
}

static void on_message(void *arg, struct kin_part *part, const rd_kafka_message_t *m)
{
	struct feedback_in *f = arg;
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
	kin_part_ref(part);
	f->pending++;
	db_submit_obj(f->db, DB_FEEDBACK, r.item, on_recorded, it);
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
	f->db = db;
	f->fmt = (enum intake_format)cfg->intake_format;
	f->kin = kin_new(base, &c, on_message, f, err, errlen);
	free(kafka);
	free(group);
	if (f->kin == NULL) {
		free(f);
		return NULL;
	}
	return f;
}

void feedback_in_free(struct feedback_in *f)
{
	if (f == NULL)
		return;
	log_info("feedback consumer stopped",
		 "consumed=%llu skipped=%llu recorded=%llu duplicates=%llu ignored=%llu "
		 "rejected=%llu",
		 (unsigned long long)f->st.consumed, (unsigned long long)f->st.skipped,
		 (unsigned long long)f->st.recorded, (unsigned long long)f->st.duplicates,
		 (unsigned long long)f->st.ignored, (unsigned long long)f->st.rejected);
	kin_stop(f->kin);
	kin_free(f->kin);
	f->kin = NULL;
	f->dead = 1;
	fb_release(f);
}

void feedback_in_get_stats(const struct feedback_in *f, struct feedback_in_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (f)
		*out = f->st;
}
