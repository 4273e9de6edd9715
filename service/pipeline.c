/*
 * pipeline: see pipeline.h. Owns the jobs (one per ticket in flight), the
 * Kafka consumer and producer, the database and the model clients. Must
 * never drop a job: every job ends in DONE through a durable write (triage
 * row or dead letter), or stays uncommitted for the next owner.
 */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "backoff.h"
#include "db.h"
#include "kafka_in.h"
#include "kafka_out.h"
#include "llm.h"
#include "log.h"
#include "prompt.h"
#include "ticket.h"
#include "triage.h"

#define MAX_CALLS 4
#define ANSWER_STORE_CAP 16384
#define PAUSE_BACKPRESSURE 1
#define PAUSE_DATABASE 2

enum call_purpose { PURPOSE_TRIAGE, PURPOSE_REPAIR };

struct call_rec {
	enum call_purpose purpose;
	const char *tier;
	int attempts;
	int retries_429;
	long http_status;
	const char *outcome; /* ok, invalid_answer, http_error, transport_error */
	char error[256];
	struct llm_usage usage;
	double latency_ms;
	double started_ms, finished_ms;
	char *answer;
};

struct job {
	struct pipeline *pl;
	enum job_state state;
	struct job *prev, *next;
	struct kin_part *part;
	int64_t offset;
	struct ticket *t;
	int64_t ticket_pk;
	int revision;
	/* the model step */
	struct call_rec calls[MAX_CALLS];
	int ncalls;
	char *request; /* rendered body of the current call, kept for retries */
	struct llm_req *req;
	struct event *ev_backoff;
	struct triage tr;
	int has_triage;
	const char *status;
	char reason[512];
	double received_ms;
};

struct pipeline {
	struct event_base *base;
	const struct config *cfg;
	struct kin *kin;
	struct kout *kout;
	struct db *db;
	struct llm_client *mini;
	struct prompt *p_triage, *p_repair;
	struct taxonomy tax;
	struct ticket_limits limits;
	struct backoff_policy mini_backoff;
	uint64_t rng;
	struct job *jobs[JOB__STATES]; /* one list per state */
	struct pipeline_stats st;
	int pause_flags;
	int draining;
	struct event *ev_drain_timeout, *ev_stats;
};

static const char *const state_names[JOB__STATES] = {"claim", "mini", "backoff", "store", "dlq"};

const char *job_state_name(enum job_state s)
{
	return (unsigned)s < JOB__STATES ? state_names[s] : "unknown";
}

static double now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

/* ---- intake control ---------------------------------------------------- */

static void update_pause(struct pipeline *pl)
{
	if (pl->draining || pl->kin == NULL)
		return;
	if (pl->st.in_flight >= (uint64_t)pl->cfg->max_in_flight)
		pl->pause_flags |= PAUSE_BACKPRESSURE;
	else if (pl->st.in_flight <= (uint64_t)pl->cfg->low_water)
		pl->pause_flags &= ~PAUSE_BACKPRESSURE;
	if (pl->pause_flags && !kin_paused(pl->kin))
		kin_pause(pl->kin, (pl->pause_flags & PAUSE_DATABASE) ? "database" : "backpressure");
	else if (!pl->pause_flags && kin_paused(pl->kin))
		kin_resume(pl->kin);
}

/* ---- the one transition function --------------------------------------- */

static void list_remove(struct pipeline *pl, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		pl->jobs[j->state] = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	pl->st.state_count[j->state]--;
}

static void job_set_state(struct job *j, enum job_state s)
{
	struct pipeline *pl = j->pl;
	list_remove(pl, j);
	j->state = s;
	j->next = pl->jobs[s];
	if (j->next)
		j->next->prev = j;
	pl->jobs[s] = j;
	pl->st.state_count[s]++;
}

static struct job *job_new(struct pipeline *pl, struct kin_part *part, int64_t offset,
			   enum job_state s)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->pl = pl;
	j->part = part;
	j->offset = offset;
	j->received_ms = now_ms();
	triage_init(&j->tr);
	kin_part_ref(part);
	j->state = s;
	j->next = pl->jobs[s];
	if (j->next)
		j->next->prev = j;
	pl->jobs[s] = j;
	pl->st.state_count[s]++;
	pl->st.in_flight++;
	return j;
}

static void job_free(struct job *j)
{
	struct pipeline *pl = j->pl;
	list_remove(pl, j);
	pl->st.in_flight--;
	if (j->req)
		llm_req_cancel(j->req);
	if (j->ev_backoff)
		event_free(j->ev_backoff);
	for (int i = 0; i < j->ncalls; i++)
		free(j->calls[i].answer);
	free(j->request);
	triage_cleanup(&j->tr);
	ticket_free(j->t);
	kin_part_unref(j->part);
	free(j);
	update_pause(pl);
	if (pl->draining && pl->st.in_flight == 0 && pl->kout) {
		log_info("drained", "%s", "");
		event_base_loopexit(pl->base, NULL);
	}
}

/* The ticket is durable (or dead-lettered): release its offset and the job. */
static void job_done(struct job *j)
{
	struct pipeline_stats *st = &j->pl->st;
	double e2e = now_ms() - j->received_ms, model = 0;
	for (int i = 0; i < j->ncalls; i++)
		model += j->calls[i].finished_ms - j->calls[i].started_ms;
	hist_add(&st->e2e_ms, e2e);
	if (j->ncalls) {
		hist_add(&st->model_ms, model);
		hist_add(&st->added_ms, e2e - model);
	}
	kin_done(j->pl->kin, j->part, j->offset);
	job_free(j);
}

/* ---- dead letters ------------------------------------------------------- */

static void on_dlq_delivered(void *arg)
{
	job_done(arg);
}

static void send_dead_letter(struct pipeline *pl, struct job *j, const rd_kafka_message_t *m,
			     const char *code, const char *reason)
{
	char part[16], off[32];
	struct kout_header h[5];
	snprintf(part, sizeof(part), "%d", (int)m->partition);
	snprintf(off, sizeof(off), "%lld", (long long)m->offset);
	h[0] = (struct kout_header){"triaged.error.code", code};
	h[1] = (struct kout_header){"triaged.error.reason", reason};
	h[2] = (struct kout_header){"triaged.original.topic", rd_kafka_topic_name(m->rkt)};
	h[3] = (struct kout_header){"triaged.original.partition", part};
	h[4] = (struct kout_header){"triaged.original.offset", off};
	pl->st.dlq++;
	kout_produce(pl->kout, pl->cfg->dlq_topic, m->key, m->key_len, m->payload, m->len, h,
		     ARRAY_SIZE(h), on_dlq_delivered, j);
}

/* ---- store -------------------------------------------------------------- */

static void jadd_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static json_object *call_json(const struct job *j, int i)
{
	const struct call_rec *c = &j->calls[i];
	const struct pipeline *pl = j->pl;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "seq", json_object_new_int(i + 1));
	jadd_str(o, "tier", c->tier);
	jadd_str(o, "purpose", c->purpose == PURPOSE_TRIAGE ? "triage" : "repair");
	jadd_str(o, "model", pl->cfg->mini.model);
	jadd_str(o, "prompt_version",
		 c->purpose == PURPOSE_TRIAGE ? pl->p_triage->version : pl->p_repair->version);
	jadd_str(o, "outcome", c->outcome);
	jadd_str(o, "error", c->error[0] ? c->error : NULL);
	json_object_object_add(o, "http_status",
			       c->http_status ? json_object_new_int((int)c->http_status) : NULL);
	json_object_object_add(o, "attempts", json_object_new_int(c->attempts));
	json_object_object_add(o, "retries_429", json_object_new_int(c->retries_429));
	json_object_object_add(o, "prompt_tokens", json_object_new_int64(c->usage.prompt_tokens));
	json_object_object_add(o, "completion_tokens",
			       json_object_new_int64(c->usage.completion_tokens));
	json_object_object_add(o, "cached_tokens", json_object_new_int64(c->usage.cached_tokens));
	json_object_object_add(o, "latency_ms", json_object_new_double(c->latency_ms));
	json_object_object_add(o, "total_ms",
			       json_object_new_double(c->finished_ms - c->started_ms));
	json_object_object_add(o, "started_ms", json_object_new_double(c->started_ms));
	json_object_object_add(o, "finished_ms", json_object_new_double(c->finished_ms));
	jadd_str(o, "answer", c->answer);
	return o;
}

static json_object *store_json(const struct job *j)
{
	json_object *o = json_object_new_object(), *calls = json_object_new_array();
	json_object_object_add(o, "ticket_pk", json_object_new_int64(j->ticket_pk));
	json_object_object_add(o, "revision", json_object_new_int(j->revision));
	jadd_str(o, "status", j->status);
	jadd_str(o, "status_reason", j->reason[0] ? j->reason : NULL);
	if (j->has_triage) {
		jadd_str(o, "category", j->tr.category);
		jadd_str(o, "sentiment", sentiment_name(j->tr.sentiment));
		jadd_str(o, "urgency", urgency_name(j->tr.urgency));
		json_object_object_add(o, "confidence", json_object_new_double(j->tr.confidence));
		jadd_str(o, "language", j->tr.language);
		jadd_str(o, "summary", j->tr.summary);
		jadd_str(o, "draft_reply", j->tr.draft_reply);
		jadd_str(o, "decided_by", "mini");
	}
	jadd_str(o, "model", j->pl->cfg->mini.model);
	jadd_str(o, "prompt_version", j->pl->p_triage->version);
	json_object_object_add(o, "body_truncated", json_object_new_boolean(j->t->body_truncated));
	for (int i = 0; i < j->ncalls; i++)
		json_object_array_add(calls, call_json(j, i));
	json_object_object_add(o, "calls", calls);
	return o;
}

static void on_stored(void *arg, const struct db_row *row, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->pl;
	if (row == NULL) {
		/* The database refuses this ticket's data: keep it as a dead letter. */
		pl->st.db_rejected++;
		log_error("ticket rejected by database", "ticket=%s partition=%d offset=%lld",
			  j->t->ticket_id, (int)kin_part_partition(j->part), (long long)j->offset);
		/* no raw message here: dead-letter the parsed ticket's id with the reason */
		job_set_state(j, JOB_DLQ);
		{
			char part[16], off[32];
			struct kout_header h[5];
			snprintf(part, sizeof(part), "%d", (int)kin_part_partition(j->part));
			snprintf(off, sizeof(off), "%lld", (long long)j->offset);
			h[0] = (struct kout_header){"triaged.error.code", "db_rejected"};
			h[1] = (struct kout_header){"triaged.error.reason", err ? err : "unknown"};
			h[2] = (struct kout_header){"triaged.original.topic", kin_part_topic(j->part)};
			h[3] = (struct kout_header){"triaged.original.partition", part};
			h[4] = (struct kout_header){"triaged.original.offset", off};
			pl->st.dlq++;
			kout_produce(pl->kout, pl->cfg->dlq_topic, j->t->ticket_id,
				     strlen(j->t->ticket_id), j->t->body, j->t->body_len, h,
				     ARRAY_SIZE(h), on_dlq_delivered, j);
		}
		return;
	}
	if (row->ncols >= 3 && row->cols[2] && row->cols[2][0] == 'f')
		pl->st.stored_duplicate++;
	else if (strcmp(j->status, "pending_review") == 0)
		pl->st.stored_pending_review++;
	else
		pl->st.stored_needs_human++;
	log_debug("ticket stored", "ticket=%s status=%s", j->t->ticket_id, j->status);
	job_done(j);
}

static void store(struct job *j, const char *status)
{
	j->status = status;
	job_set_state(j, JOB_STORE);
	db_submit(j->pl->db, DB_STORE, store_json(j), on_stored, j);
}

static void needs_human(struct job *j, const char *what, const char *detail)
{
	snprintf(j->reason, sizeof(j->reason), "%s: %s", what, detail);
	store(j, "needs_human");
}

/* ---- the mini model step ----------------------------------------------- */

static void start_call(struct job *j, enum call_purpose purpose);
static void send_attempt(struct job *j);

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
	send_attempt(arg);
}

static void schedule_retry(struct job *j, uint32_t retry_after_ms)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c = &j->calls[j->ncalls - 1];
	uint32_t attempt = (uint32_t)c->attempts;
	uint32_t ms = backoff_delay_ms(&pl->mini_backoff, attempt, retry_after_ms,
				       (uint32_t)rng_next(&pl->rng));
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	pl->st.retries++;
	if (j->ev_backoff == NULL)
		j->ev_backoff = evtimer_new(pl->base, on_backoff, j);
	job_set_state(j, JOB_BACKOFF);
	evtimer_add(j->ev_backoff, &tv);
}

static void on_answer(struct job *j, const char *content)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c = &j->calls[j->ncalls - 1];
	char err[256];

	if (triage_validate(content, &pl->tax, &j->tr, err, sizeof(err)) == 0) {
		c->outcome = "ok";
		j->has_triage = 1;
		store(j, "pending_review");
		return;
	}
	pl->st.model_invalid++;
	c->outcome = "invalid_answer";
	snprintf(c->error, sizeof(c->error), "%s", err);
	if (c->purpose == PURPOSE_TRIAGE && j->ncalls < MAX_CALLS) {
		pl->st.repairs++;
		start_call(j, PURPOSE_REPAIR);
		return;
	}
	needs_human(j, "invalid answer after repair", err);
}

static void on_model_done(void *arg, const struct llm_result *res)
{
	struct job *j = arg;
	struct pipeline *pl = j->pl;
	struct call_rec *c = &j->calls[j->ncalls - 1];
	int ok_http = res->transport_error == 0 && res->http_status >= 200 && res->http_status < 300;

	j->req = NULL;
	c->http_status = res->http_status;
	c->latency_ms = res->latency_ms;
	c->finished_ms = now_ms();
	if (res->http_status == 429) {
		pl->st.http_429++;
		c->retries_429++;
	}
	if (!ok_http) {
		int retry = backoff_classify(res->transport_error, res->http_status) == RETRY_YES;
		if (res->transport_error) {
			pl->st.model_transport_errors++;
			c->outcome = "transport_error";
			snprintf(c->error, sizeof(c->error), "%s", res->error);
		} else {
			pl->st.model_http_errors++;
			c->outcome = "http_error";
			snprintf(c->error, sizeof(c->error), "HTTP %ld", res->http_status);
		}
		if (retry && ((uint32_t)c->attempts < pl->mini_backoff.max_attempts ||
			      pl->cfg->mini.on_failure == ONFAIL_WAIT)) {
			schedule_retry(j, res->has_retry_after ? res->retry_after_ms : 0);
			return;
		}
		{
			char why[320];
			snprintf(why, sizeof(why), "%s after %d attempts", c->error, c->attempts);
			needs_human(j, "mini model unavailable", why);
		}
		return;
	}
	pl->st.model_ok++;
	{
		char *content = NULL;
		char err[256];
		if (triage_parse_completion(res->body, res->body_len, &content, &c->usage, err,
					    sizeof(err)) < 0) {
			/* a broken envelope is an invalid answer: repair once, then a human */
			free(c->answer);
			c->answer = xstrndup(res->body, res->body_len < ANSWER_STORE_CAP
								 ? res->body_len
								 : ANSWER_STORE_CAP);
			pl->st.model_invalid++;
			c->outcome = "invalid_answer";
			snprintf(c->error, sizeof(c->error), "%s", err);
			if (c->purpose == PURPOSE_TRIAGE) {
				pl->st.repairs++;
				start_call(j, PURPOSE_REPAIR);
			} else {
				needs_human(j, "invalid answer after repair", err);
			}
			return;
		}
		free(c->answer);
		c->answer = strlen(content) > ANSWER_STORE_CAP ? xstrndup(content, ANSWER_STORE_CAP)
							       : xstrdup(content);
		on_answer(j, content);
		free(content);
	}
}

static void send_attempt(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c = &j->calls[j->ncalls - 1];
	c->attempts++;
	pl->st.model_requests++;
	job_set_state(j, JOB_MINI);
	j->req = llm_submit(pl->mini, xstrdup(j->request), on_model_done, j);
}

static void start_call(struct job *j, enum call_purpose purpose)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c = &j->calls[j->ncalls++];
	struct prompt_vars v = {.ticket = j->t, .tax = &pl->tax};
	char err[256];

	c->purpose = purpose;
	c->tier = "mini";
	c->started_ms = now_ms();
	if (purpose == PURPOSE_REPAIR) {
		const struct call_rec *prev = &j->calls[j->ncalls - 2];
		v.error = prev->error;
		v.previous = prev->answer ? prev->answer : "";
	}
	free(j->request);
	j->request = prompt_render_request(pl->p_triage,
					   purpose == PURPOSE_REPAIR ? pl->p_repair : NULL,
					   &pl->cfg->mini, &v, 4u << 20, err, sizeof(err));
	if (j->request == NULL) {
		j->ncalls--;
		needs_human(j, "prompt", err);
		return;
	}
	send_attempt(j);
}

/* ---- claim --------------------------------------------------------------- */

static json_object *claim_json(const struct job *j)
{
	const struct ticket *t = j->t;
	json_object *o = json_object_new_object();
	jadd_str(o, "source", t->source);
	jadd_str(o, "ticket_id", t->ticket_id);
	jadd_str(o, "created_at", t->created_at);
	jadd_str(o, "channel", ticket_channel_name(t->channel));
	jadd_str(o, "subject", t->subject);
	jadd_str(o, "body", t->body);
	json_object_object_add(o, "body_truncated", json_object_new_boolean(t->body_truncated));
	jadd_str(o, "customer_id", t->customer_id);
	jadd_str(o, "customer_email", t->customer_email);
	jadd_str(o, "customer_name", t->customer_name);
	jadd_str(o, "customer_tier", t->tier == TIER_NONE ? NULL : customer_tier_name(t->tier));
	jadd_str(o, "language", t->language);
	json_object_object_add(o, "tags", t->tags ? json_object_get(t->tags) : NULL);
	json_object_object_add(o, "metadata", t->metadata ? json_object_get(t->metadata) : NULL);
	jadd_str(o, "kafka_topic", kin_part_topic(j->part));
	json_object_object_add(o, "kafka_partition", json_object_new_int(kin_part_partition(j->part)));
	json_object_object_add(o, "kafka_offset", json_object_new_int64(j->offset));
	return o;
}

static void on_claimed(void *arg, const struct db_row *row, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->pl;
	int64_t pk, rev;
	const char *state;

	if (row == NULL || row->ncols < 4 || !row->cols[1] || !row->cols[2] || !row->cols[3] ||
	    parse_int64(row->cols[1], 1, INT64_MAX, &pk) < 0 ||
	    parse_int64(row->cols[2], 1, INT32_MAX, &rev) < 0) {
		/* the database refuses this ticket: dead-letter it with the reason */
		char part[16], off[32];
		struct kout_header h[5];
		pl->st.db_rejected++;
		snprintf(part, sizeof(part), "%d", (int)kin_part_partition(j->part));
		snprintf(off, sizeof(off), "%lld", (long long)j->offset);
		h[0] = (struct kout_header){"triaged.error.code", "db_rejected"};
		h[1] = (struct kout_header){"triaged.error.reason", err ? err : "bad claim row"};
		h[2] = (struct kout_header){"triaged.original.topic", kin_part_topic(j->part)};
		h[3] = (struct kout_header){"triaged.original.partition", part};
		h[4] = (struct kout_header){"triaged.original.offset", off};
		job_set_state(j, JOB_DLQ);
		pl->st.dlq++;
		{
			json_object *o = claim_json(j);
			const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
			kout_produce(pl->kout, pl->cfg->dlq_topic, j->t->ticket_id,
				     strlen(j->t->ticket_id), s, strlen(s), h, ARRAY_SIZE(h),
				     on_dlq_delivered, j);
			json_object_put(o);
		}
		return;
	}
	j->ticket_pk = pk;
	j->revision = (int)rev;
	state = row->cols[3];
	if (strcmp(state, "done") == 0) {
		pl->st.redelivered_done++;
		log_debug("redelivered ticket already triaged", "ticket=%s revision=%d",
			  j->t->ticket_id, j->revision);
		job_done(j);
		return;
	}
	if (strcmp(state, "new") == 0)
		pl->st.claimed_new++;
	else if (strcmp(state, "updated") == 0)
		pl->st.claimed_updated++;
	else
		pl->st.claimed_pending++;
	start_call(j, PURPOSE_TRIAGE);
}

/* ---- intake --------------------------------------------------------------- */

static void on_message(void *arg, struct kin_part *part, const rd_kafka_message_t *m)
{
	struct pipeline *pl = arg;
	struct ticket *t = NULL;
	char err[512];
	enum ticket_err te;

	pl->st.consumed++;
	te = ticket_parse(m->payload, m->len, m->key, m->key_len, &pl->limits, &t, err, sizeof(err));
	if (te != TICKET_OK) {
		struct job *j = job_new(pl, part, m->offset, JOB_DLQ);
		log_warn("invalid ticket, dead-lettered", "partition=%d offset=%lld code=%s",
			 (int)m->partition, (long long)m->offset, ticket_err_code(te));
		send_dead_letter(pl, j, m, ticket_err_code(te), err);
	} else {
		struct job *j = job_new(pl, part, m->offset, JOB_CLAIM);
		j->t = t;
		db_submit(pl->db, DB_CLAIM, claim_json(j), on_claimed, j);
	}
	update_pause(pl);
}

static void on_db_state(void *arg, int up)
{
	struct pipeline *pl = arg;
	if (up)
		pl->pause_flags &= ~PAUSE_DATABASE;
	else
		pl->pause_flags |= PAUSE_DATABASE;
	if (pl->kin)
		update_pause(pl);
}

static void log_stats(struct pipeline *pl, const char *msg)
{
	const struct pipeline_stats *s = &pl->st;
	log_info(msg,
		 "consumed=%llu dlq=%llu new=%llu updated=%llu redelivered_done=%llu "
		 "pending_review=%llu needs_human=%llu model_requests=%llu retries=%llu "
		 "http_429=%llu invalid=%llu repairs=%llu in_flight=%llu db_up=%d paused=%d",
		 (unsigned long long)s->consumed, (unsigned long long)s->dlq,
		 (unsigned long long)s->claimed_new, (unsigned long long)s->claimed_updated,
		 (unsigned long long)s->redelivered_done,
		 (unsigned long long)s->stored_pending_review,
		 (unsigned long long)s->stored_needs_human, (unsigned long long)s->model_requests,
		 (unsigned long long)s->retries, (unsigned long long)s->http_429,
		 (unsigned long long)s->model_invalid, (unsigned long long)s->repairs,
		 (unsigned long long)s->in_flight, db_is_up(pl->db), kin_paused(pl->kin));
}

static void on_stats(evutil_socket_t fd, short what, void *arg)
{
	log_stats(arg, "stats");
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *pl = arg;
	log_warn("drain timeout: leaving tickets uncommitted for redelivery", "in_flight=%llu",
		 (unsigned long long)pl->st.in_flight);
	event_base_loopexit(pl->base, NULL);
}

struct pipeline *pipeline_new(struct event_base *base, const struct config *cfg, char *err,
			      size_t errlen)
{
	struct pipeline *pl = xcalloc(1, sizeof(*pl));
	const char *key = NULL;
	struct timeval ten = {10, 0};

	pl->base = base;
	pl->cfg = cfg;
	hist_init(&pl->st.e2e_ms);
	hist_init(&pl->st.model_ms);
	hist_init(&pl->st.added_ms);
	pl->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)now_ms() ^ 0x9E3779B97F4A7C15ULL;
	pl->tax.categories = (const char *const *)cfg->categories;
	pl->tax.ncategories = cfg->ncategories;
	ticket_limits_default(&pl->limits);
	pl->limits.max_message_bytes = (size_t)cfg->max_message_bytes;
	pl->limits.max_body_prompt_len = (size_t)cfg->max_body_prompt_bytes;
	pl->mini_backoff.base_ms = (uint32_t)cfg->mini.backoff_base_ms;
	pl->mini_backoff.max_ms = (uint32_t)cfg->mini.backoff_max_ms;
	pl->mini_backoff.max_attempts = (uint32_t)cfg->mini.max_attempts;

	pl->p_triage = prompt_load(cfg->prompts_dir, cfg->mini.prompt, err, errlen);
	if (pl->p_triage == NULL)
		goto fail;
	pl->p_repair = prompt_load(cfg->prompts_dir, "repair-v1", err, errlen);
	if (pl->p_repair == NULL)
		goto fail;
	if (cfg->mini.api_key_env && *cfg->mini.api_key_env)
		key = getenv(cfg->mini.api_key_env);
	pl->mini = llm_client_new(base, "mini", &cfg->mini, key);
	pl->db = db_new(base, cfg->pg_conninfo, (int)cfg->pg_batch_size,
			(int)cfg->pg_reconnect_max_ms, on_db_state, pl);
	pl->kout = kout_new(base, cfg, err, errlen);
	if (pl->kout == NULL)
		goto fail;
	pl->kin = kin_new(base, cfg, on_message, pl, err, errlen);
	if (pl->kin == NULL)
		goto fail;
	if (!db_is_up(pl->db)) {
		pl->pause_flags |= PAUSE_DATABASE;
		update_pause(pl);
	}
	pl->ev_stats = event_new(base, -1, EV_PERSIST, on_stats, pl);
	event_add(pl->ev_stats, &ten);
	return pl;
fail:
	pipeline_free(pl);
	return NULL;
}

void pipeline_drain(struct pipeline *pl)
{
	struct timeval tv;
	if (pl->draining)
		return;
	pl->draining = 1;
	kin_stop(pl->kin);
	log_info("draining", "in_flight=%llu timeout_ms=%lld", (unsigned long long)pl->st.in_flight,
		 (long long)pl->cfg->drain_timeout_ms);
	if (pl->st.in_flight == 0) {
		event_base_loopexit(pl->base, NULL);
		return;
	}
	tv.tv_sec = pl->cfg->drain_timeout_ms / 1000;
	tv.tv_usec = (pl->cfg->drain_timeout_ms % 1000) * 1000;
	pl->ev_drain_timeout = evtimer_new(pl->base, on_drain_timeout, pl);
	evtimer_add(pl->ev_drain_timeout, &tv);
}

void pipeline_free(struct pipeline *pl)
{
	if (pl == NULL)
		return;
	if (pl->kin) {
		const struct pipeline_stats *s = &pl->st;
		log_stats(pl, "final stats");
		log_info("latency summary",
			 "tickets=%llu added_p50_ms=%.3f added_p99_ms=%.3f model_p50_ms=%.3f "
			 "model_p99_ms=%.3f e2e_p50_ms=%.3f e2e_p99_ms=%.3f",
			 (unsigned long long)s->added_ms.count, hist_quantile(&s->added_ms, 0.5),
			 hist_quantile(&s->added_ms, 0.99), hist_quantile(&s->model_ms, 0.5),
			 hist_quantile(&s->model_ms, 0.99), hist_quantile(&s->e2e_ms, 0.5),
			 hist_quantile(&s->e2e_ms, 0.99));
	}
	/* dead letters still in flight complete their jobs while the producer flushes */
	kout_free(pl->kout, 5000);
	pl->kout = NULL;
	/* unfinished jobs are simply dropped: their offsets were never stored */
	pl->draining = 1;
	for (int s = 0; s < JOB__STATES; s++)
		while (pl->jobs[s])
			job_free(pl->jobs[s]);
	if (pl->ev_drain_timeout)
		event_free(pl->ev_drain_timeout);
	if (pl->ev_stats)
		event_free(pl->ev_stats);
	kin_free(pl->kin); /* commits stored offsets */
	db_free(pl->db);
	llm_client_free(pl->mini);
	prompt_free(pl->p_triage);
	prompt_free(pl->p_repair);
	free(pl);
}

void pipeline_get_stats(const struct pipeline *pl, struct pipeline_stats *out)
{
	*out = pl->st;
}

void pipeline_get_health(const struct pipeline *pl, struct pipeline_health *out)
{
	memset(out, 0, sizeof(*out));
	out->db_up = db_is_up(pl->db);
	out->partitions = kin_assigned(pl->kin);
	out->draining = pl->draining;
	out->paused = kin_paused(pl->kin);
	out->consumer_lag = kin_lag(pl->kin);
	out->mini_in_flight = llm_in_flight(pl->mini);
	out->mini_waiting = llm_waiting(pl->mini);
	out->db_pending = db_pending(pl->db);
	out->dlq_pending = kout_pending(pl->kout);
}
