/*
 * pipeline: see pipeline.h. Owns the jobs (one per ticket in flight), the
 * Kafka consumer and producer, the database, the model clients, the
 * escalation rules and the flagship queue. Must never drop a job: every job
 * ends in DONE through a durable write (triage row or dead letter), or stays
 * uncommitted for the next owner.
 */
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "backoff.h"
#include "breaker.h"
#include "db.h"
#include "injection.h"
#include "jsonw.h"
#include "kafka_in.h"
#include "kafka_out.h"
#include "llm.h"
#include "log.h"
#include "draft_check.h"
#include "prompt.h"
#include "redact.h"
#include "rules.h"
#include "secret.h"
#include "ticket.h"
#include "answer.h"

#define MAX_CALLS 8
#define ANSWER_STORE_CAP 16384
#define PAUSE_DATABASE 2
#define PAUSE_BUDGET 4
#define PAUSE_BREAKER 8
#define BUDGET_RETRY_MS 30000
#define REQUEST_CAP (4u << 20)
#define RESTORE_CAP (256u << 10)

enum call_purpose { PURPOSE_TRIAGE, PURPOSE_REPAIR };

struct call_rec {
	enum model_tier tier;
	enum call_purpose purpose;
	int seq;
	int reused; /* the answer came from a call persisted before a redelivery */
	int attempts;
	int retries_429;
	long http_status;
	const char *outcome; /* ok, invalid_answer, http_error, transport_error */
	char error[256];
	struct llm_usage usage;
	double latency_ms;
	double started_ms, finished_ms;
	char *answer;
	int64_t budget_id; /* 0: no budget */
	char reserved_usd[32];
};

/* What a ticket may need to say: errors, flags, why it went to a person. */
struct job_notes {
	char mini_error[256];
	char redact_err[256];
	char detector_flags[540]; /* "injection: " and two lists of up to 255 */
	char draft_flags[600];
	char reason[1200];
};

struct job {
	struct pipeline *pl;
	enum job_state state;
	struct job *prev, *next;
	size_t heap_idx; /* position in the flagship queue while FLAGSHIP_WAIT */
	struct kin_part *part;
	int64_t offset;
	struct ticket *t;
	int64_t ticket_pk;
	int revision;
	/* model calls of this revision */
	struct call_rec *calls; /* one slot, MAX_CALLS once a second call is made */
	int ncalls, acalls;
	int next_seq;
	json_object *prior; /* calls persisted before a redelivery (from the claim) */
	unsigned prior_used;
	char *request; /* rendered body of the current call, kept for retries */
	struct llm_req *req;
	struct event *ev_backoff;
	int retry_reserve; /* the backoff timer retries a budget reservation */
	/* answers */
	struct answer tr, ftr; /* mini, flagship */
	int has_tr, has_ftr;
	int mini_invalid;
	struct rules_decision *dec; /* NULL: no rule matched (most tickets) */
	int flagship_slot;
	json_object *dl_record; /* the dead letter's row, written once the topic has it */
	/* what the models see: invisible characters stripped, PII replaced */
	struct ticket pt;      /* shallow copy of *t with subject and body replaced */
	char *p_subject, *p_body;
	struct redact_map pii; /* placeholder -> value; goes to PostgreSQL only */
	int redact_failed;
	struct job_notes *nt; /* NULL until something is noted: most tickets never need it */
	/* outcome */
	const char *status;
	double received_ms;
	double state_since; /* when the job entered its state */
};

static const struct job_notes no_notes;
static const struct rules_decision no_decision; /* action none, nothing matched */

static const struct rules_decision *decision(const struct job *j)
{
	return j->dec ? j->dec : &no_decision;
}

/* The job's notes for reading (all empty when none were written). */
static const struct job_notes *rd(const struct job *j)
{
	return j->nt ? j->nt : &no_notes;
}

/* The job's notes for writing, allocated on first use. */
static struct job_notes *wr(struct job *j)
{
	if (j->nt == NULL)
		j->nt = xcalloc(1, sizeof(*j->nt));
	return j->nt;
}

struct tier_ctx {
	const char *name;
	const struct model_config *mc;
	struct llm_client *client;
	struct prompt *prompt;
	struct prompt_frame *frame; /* the request without the ticket, rendered once; NULL: in full */
	struct draft_check_prompt *pidx; /* the system text's word windows, for the draft check */
	struct backoff_policy backoff;
	struct breaker breaker;
};

struct pipeline {
	struct event_base *base;
	const struct config *cfg;
	struct kin *kin;
	struct kout *kout;
	struct db *db;
	struct tier_ctx tiers[TIER__MODELS];
	struct prompt *p_repair;
	struct rules *rules;
	struct redactor *redactor; /* NULL when redact.enabled = false */
	struct draft_policy policy;
	char **link_allow, **refund_categories;
	struct taxonomy tax;
	struct ticket_limits limits;
	uint64_t rng;
	struct job *jobs[JOB__STATES]; /* one list per state */
	/* escalations waiting for a flagship slot: a binary heap, most valuable first */
	struct job **fq;
	size_t fq_len, fq_cap;
	size_t flagship_active;
	struct pipeline_stats st;
	int pause_flags;
	int draining;
	struct event *ev_drain_timeout, *ev_stats, *ev_fpump;
};

static const char *const state_names[JOB__STATES] = {
	"claim", "reserve", "model", "backoff", "flagship_wait", "store", "event", "dlq"};
static const char *const tier_names[TIER__MODELS] = {"mini", "flagship"};

const char *job_state_name(enum job_state s)
{
	return (unsigned)s < JOB__STATES ? state_names[s] : "unknown";
}

const char *model_tier_name(enum model_tier t)
{
	return (unsigned)t < TIER__MODELS ? tier_names[t] : "unknown";
}

static double now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static void jadd_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

/* ---- intake control ---------------------------------------------------- */

static void update_pause(struct pipeline *pl)
{
	if (pl->draining || pl->kin == NULL)
		return;
	/* Backpressure holds intake at max_in_flight and lets it go on below;
	 * once the hold has become a pause, intake resumes at low_water. */
	if (pl->st.in_flight >= (uint64_t)pl->cfg->max_in_flight)
		kin_hold(pl->kin, 1);
	else if (!kin_hold_paused(pl->kin) || pl->st.in_flight <= (uint64_t)pl->cfg->low_water)
		kin_hold(pl->kin, 0);
	/* the rest are outages: pause */
	if (pl->pause_flags && !kin_paused(pl->kin))
		kin_pause(pl->kin, (pl->pause_flags & PAUSE_DATABASE)  ? "database"
				   : (pl->pause_flags & PAUSE_BREAKER) ? "breaker"
				   : (pl->pause_flags & PAUSE_BUDGET)  ? "budget"
								       : "backpressure");
	else if (!pl->pause_flags && kin_paused(pl->kin))
		kin_resume(pl->kin);
}

/* ---- the flagship queue ------------------------------------------------- */

static int urgency_rank(const struct job *j)
{
	/* an invalid first pass counts as high: someone must look soon */
	return j->has_tr ? (int)j->tr.urgency : (int)URG_HIGH;
}

/* 1 if a should get a flagship slot before b: urgency, then tier, then age. */
static int fq_before(const struct job *a, const struct job *b)
{
	int ua = urgency_rank(a), ub = urgency_rank(b);
	if (ua != ub)
		return ua > ub;
	if (a->t->tier != b->t->tier)
		return a->t->tier > b->t->tier;
	return a->received_ms < b->received_ms;
}

static void fq_swap(struct pipeline *pl, size_t a, size_t b)
{
	struct job *t = pl->fq[a];
	pl->fq[a] = pl->fq[b];
	pl->fq[b] = t;
	pl->fq[a]->heap_idx = a;
	pl->fq[b]->heap_idx = b;
}

static void fq_up(struct pipeline *pl, size_t i)
{
	while (i > 0 && fq_before(pl->fq[i], pl->fq[(i - 1) / 2])) {
		fq_swap(pl, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void fq_down(struct pipeline *pl, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < pl->fq_len && fq_before(pl->fq[l], pl->fq[m]))
			m = l;
		if (r < pl->fq_len && fq_before(pl->fq[r], pl->fq[m]))
			m = r;
		if (m == i)
			return;
		fq_swap(pl, i, m);
		i = m;
	}
}

static void fq_push(struct pipeline *pl, struct job *j)
{
	if (pl->fq_len == pl->fq_cap) {
		pl->fq_cap = pl->fq_cap ? pl->fq_cap * 2 : 64;
		pl->fq = xrealloc(pl->fq, pl->fq_cap * sizeof(*pl->fq));
	}
	j->heap_idx = pl->fq_len;
	pl->fq[pl->fq_len++] = j;
	fq_up(pl, j->heap_idx);
}

static void fq_remove(struct pipeline *pl, struct job *j)
{
	size_t i = j->heap_idx;
	if (i >= pl->fq_len || pl->fq[i] != j)
		return;
	pl->fq_len--;
	if (i != pl->fq_len) {
		pl->fq[i] = pl->fq[pl->fq_len];
		pl->fq[i]->heap_idx = i;
		fq_down(pl, i);
		fq_up(pl, i);
	}
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
	double now = now_ms();
	hist_add(&pl->st.state_ms[j->state], now - j->state_since);
	j->state_since = now;
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
	j->state_since = j->received_ms;
	answer_init(&j->tr);
	answer_init(&j->ftr);
	redact_map_init(&j->pii);
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

static void release_flagship(struct job *j)
{
	struct pipeline *pl = j->pl;
	if (!j->flagship_slot)
		return;
	j->flagship_slot = 0;
	pl->flagship_active--;
	/* deferred: starting the next escalation here could recurse into this job's caller */
	event_active(pl->ev_fpump, EV_TIMEOUT, 0);
}

static void job_free(struct job *j)
{
	struct pipeline *pl = j->pl;
	if (j->state == JOB_FLAGSHIP_WAIT)
		fq_remove(pl, j);
	release_flagship(j);
	hist_add(&pl->st.state_ms[j->state], now_ms() - j->state_since);
	list_remove(pl, j);
	pl->st.in_flight--;
	if (j->req)
		llm_req_cancel(j->req);
	if (j->ev_backoff)
		event_free(j->ev_backoff);
	for (int i = 0; i < j->ncalls; i++)
		free(j->calls[i].answer);
	free(j->calls);
	free(j->nt);
	free(j->dec);
	json_object_put(j->prior);
	json_object_put(j->dl_record);
	free(j->p_subject);
	free(j->p_body);
	redact_map_cleanup(&j->pii);
	free(j->request);
	answer_cleanup(&j->tr);
	answer_cleanup(&j->ftr);
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
	int fresh = 0;
	for (int i = 0; i < j->ncalls; i++) {
		if (j->calls[i].reused)
			continue;
		model += j->calls[i].finished_ms - j->calls[i].started_ms;
		fresh = 1;
	}
	hist_add(&st->e2e_ms, e2e);
	if (fresh) {
		hist_add(&st->model_ms, model);
		hist_add(&st->added_ms, e2e - model);
	}
	kin_done(j->pl->kin, j->part, j->offset);
	job_free(j);
}

/* ---- dead letters ------------------------------------------------------- */

static void on_delivered(void *arg)
{
	job_done(arg);
}

static void on_dead_letter_recorded(void *arg, const struct db_row *row, const char *err)
{
	if (row == NULL)
		log_warn("dead letter not recorded in the database", "error=\"%s\"", err ? err : "");
}

/* The dead letter is in its topic: count it for supervisors, then finish the job. */
static void on_dead_letter_delivered(void *arg)
{
	struct job *j = arg;
	if (j->dl_record) {
		db_submit_obj(j->pl->db, DB_DEADLETTER, j->dl_record, on_dead_letter_recorded, NULL);
		j->dl_record = NULL;
	}
	job_done(j);
}

static void dead_letter(struct job *j, const char *topic, int32_t partition, const void *key,
			size_t keylen, const void *payload, size_t len, const char *code,
			const char *reason)
{
	struct pipeline *pl = j->pl;
	char part[16], off[32];
	struct kout_header h[5];
	snprintf(part, sizeof(part), "%d", (int)partition);
	snprintf(off, sizeof(off), "%lld", (long long)j->offset);
	h[0] = (struct kout_header){"triaged.error.code", code};
	h[1] = (struct kout_header){"triaged.error.reason", reason};
	h[2] = (struct kout_header){"triaged.original.topic", topic};
	h[3] = (struct kout_header){"triaged.original.partition", part};
	h[4] = (struct kout_header){"triaged.original.offset", off};
	pl->st.dlq++;
	job_set_state(j, JOB_DLQ);
	j->dl_record = json_object_new_object();
	jadd_str(j->dl_record, "topic", topic);
	json_object_object_add(j->dl_record, "partition", json_object_new_int(partition));
	json_object_object_add(j->dl_record, "offset", json_object_new_int64(j->offset));
	jadd_str(j->dl_record, "code", code);
	jadd_str(j->dl_record, "reason", reason);
	kout_produce(pl->kout, pl->cfg->dlq_topic, key, keylen, payload, len, h, ARRAY_SIZE(h),
		     on_dead_letter_delivered, j);
}

static char *claim_json(const struct job *j);

/* The database refuses this ticket's data: keep it as a dead letter with the reason. */
static void dead_letter_rejected(struct job *j, const char *err)
{
	char *s = claim_json(j);
	j->pl->st.db_rejected++;
	log_error("ticket rejected by database", "ticket=%s partition=%d offset=%lld",
		  j->t->ticket_id, (int)kin_part_partition(j->part), (long long)j->offset);
	dead_letter(j, kin_part_topic(j->part), kin_part_partition(j->part), j->t->ticket_id,
		    strlen(j->t->ticket_id), s, strlen(s), "db_rejected", err ? err : "unknown");
	free(s);
}

/* ---- the tickets.triaged event ------------------------------------------- */

static void send_event(struct job *j, const char *event)
{
	struct pipeline *pl = j->pl;
	if (pl->cfg->events_topic[0] == '\0' || event == NULL) {
		job_done(j);
		return;
	}
	pl->st.events_sent++;
	job_set_state(j, JOB_EVENT);
	kout_produce(pl->kout, pl->cfg->events_topic, j->t->ticket_id, strlen(j->t->ticket_id),
		     event, strlen(event), NULL, 0, on_delivered, j);
}

/* ---- store -------------------------------------------------------------- */

static const struct prompt *call_prompt(const struct pipeline *pl, const struct call_rec *c)
{
	return c->purpose == PURPOSE_TRIAGE ? pl->tiers[c->tier].prompt : pl->p_repair;
}

/* Finish a row written with jsonw: its text, or abort (the buffers have no cap). */
static char *row_text(struct jsonw *w, struct buf *b)
{
	if (jsonw_end(w) < 0)
		abort();
	return buf_steal(b);
}

static char *call_json(const struct job *j, const struct call_rec *c)
{
	const struct pipeline *pl = j->pl;
	struct buf b;
	struct jsonw w;
	buf_init(&b, SIZE_MAX);
	jsonw_begin(&w, &b);
	jsonw_int(&w, "ticket_pk", j->ticket_pk);
	jsonw_int(&w, "revision", j->revision);
	jsonw_int(&w, "seq", c->seq);
	jsonw_str(&w, "tier", tier_names[c->tier]);
	jsonw_str(&w, "purpose", c->purpose == PURPOSE_TRIAGE ? "triage" : "repair");
	jsonw_str(&w, "model", pl->tiers[c->tier].mc->model);
	jsonw_str(&w, "prompt_version", call_prompt(pl, c)->version);
	jsonw_str(&w, "outcome", c->outcome);
	jsonw_str(&w, "error", c->error[0] ? c->error : NULL);
	if (c->http_status)
		jsonw_int(&w, "http_status", c->http_status);
	else
		jsonw_null(&w, "http_status");
	jsonw_int(&w, "attempts", c->attempts);
	jsonw_int(&w, "retries_429", c->retries_429);
	jsonw_int(&w, "prompt_tokens", c->usage.prompt_tokens);
	jsonw_int(&w, "completion_tokens", c->usage.completion_tokens);
	jsonw_int(&w, "cached_tokens", c->usage.cached_tokens);
	jsonw_num(&w, "latency_ms", c->latency_ms);
	jsonw_num(&w, "total_ms", c->finished_ms - c->started_ms);
	jsonw_num(&w, "started_ms", c->started_ms);
	jsonw_num(&w, "finished_ms", c->finished_ms);
	jsonw_str(&w, "answer", c->answer);
	if (c->budget_id > 0) {
		jsonw_int(&w, "budget_id", c->budget_id);
		jsonw_str(&w, "reserved_usd", c->reserved_usd);
	}
	return row_text(&w, &b);
}

static void on_call_recorded(void *arg, const struct db_row *row, const char *err)
{
	/* nothing waits for it: the store that follows on the same connection
	 * commits after it. A refused call row is logged; the ticket goes on. */
	if (row == NULL)
		log_error("model call not recorded", "error=\"%s\"", err ? err : "");
}

/* Persist a completed call at once: a redelivered ticket will reuse it. */
static void record_call(struct job *j, const struct call_rec *c)
{
	if (c->reused)
		return;
	db_submit(j->pl->db, DB_CALL, call_json(j, c), on_call_recorded, NULL);
}

static char *store_json(const struct job *j)
{
	const struct pipeline *pl = j->pl;
	const struct answer *tr = NULL;
	enum model_tier decided = TIER_MINI_MODEL;
	struct buf b;
	struct jsonw w;

	if (j->has_ftr) {
		tr = &j->ftr;
		decided = TIER_FLAGSHIP_MODEL;
	} else if (j->has_tr) {
		tr = &j->tr;
	}
	buf_init(&b, SIZE_MAX);
	jsonw_begin(&w, &b);
	jsonw_int(&w, "ticket_pk", j->ticket_pk);
	jsonw_int(&w, "revision", j->revision);
	jsonw_str(&w, "status", j->status);
	jsonw_str(&w, "status_reason", rd(j)->reason[0] ? rd(j)->reason : NULL);
	if (tr) {
		jsonw_str(&w, "category", tr->category);
		jsonw_str(&w, "sentiment", sentiment_name(tr->sentiment));
		jsonw_str(&w, "urgency", urgency_name(tr->urgency));
		jsonw_num(&w, "confidence", tr->confidence);
		jsonw_str(&w, "language", tr->language);
		jsonw_str(&w, "summary", tr->summary);
		jsonw_str(&w, "draft_reply", tr->draft_reply);
		jsonw_str(&w, "decided_by", tier_names[decided]);
	}
	jsonw_str(&w, "model", pl->tiers[decided].mc->model);
	jsonw_str(&w, "prompt_version", pl->tiers[decided].prompt->version);
	jsonw_bool(&w, "body_truncated", j->t->body_truncated);
	jsonw_str(&w, "action", rule_action_name(decision(j)->action));
	jsonw_bool(&w, "escalated", decision(j)->action == RULE_ESCALATE);
	jsonw_str(&w, "escalation_reasons", decision(j)->nmatched ? decision(j)->reasons : NULL);
	jsonw_str(&w, "matched_rules", decision(j)->nmatched ? decision(j)->matched : NULL);
	jsonw_int(&w, "priority", decision(j)->nmatched ? decision(j)->priority : 50);
	jsonw_str(&w, "detector_flags", rd(j)->detector_flags[0] ? rd(j)->detector_flags : NULL);
	jsonw_str(&w, "draft_flags", rd(j)->draft_flags[0] ? rd(j)->draft_flags : NULL);
	return row_text(&w, &b);
}

/*
 * The tickets.triaged event of a row stored now, from what was sent: the same
 * fields and values as triaged_event_of() in schema/005_fast.sql builds for a
 * stored row (the cascade suite compares the two). PostgreSQL gives what only
 * it knows: the sequence (the row's id), triaged_at and the calls' cost.
 */
static char *event_json(const struct job *j, int64_t sequence, const char *triaged_at,
			const char *cost_usd)
{
	const struct pipeline *pl = j->pl;
	const struct answer *tr = j->has_ftr ? &j->ftr : j->has_tr ? &j->tr : NULL;
	enum model_tier decided = j->has_ftr ? TIER_FLAGSHIP_MODEL : TIER_MINI_MODEL;
	const struct rules_decision *d = decision(j);
	struct buf b;
	struct jsonw w;

	buf_init(&b, SIZE_MAX);
	jsonw_begin(&w, &b);
	jsonw_str(&w, "type", "ticket.triaged");
	jsonw_int(&w, "schema_version", 1);
	jsonw_str(&w, "source", j->t->source);
	jsonw_str(&w, "ticket_id", j->t->ticket_id);
	jsonw_int(&w, "revision", j->revision);
	jsonw_int(&w, "sequence", sequence);
	jsonw_str(&w, "status", j->status);
	jsonw_str(&w, "status_reason", rd(j)->reason[0] ? rd(j)->reason : NULL);
	jsonw_str(&w, "category", tr ? tr->category : NULL);
	jsonw_str(&w, "sentiment", tr ? sentiment_name(tr->sentiment) : NULL);
	jsonw_str(&w, "urgency", tr ? urgency_name(tr->urgency) : NULL);
	if (tr)
		jsonw_num(&w, "confidence", tr->confidence);
	else
		jsonw_null(&w, "confidence");
	jsonw_str(&w, "language", tr ? tr->language : NULL);
	jsonw_str(&w, "summary", tr ? tr->summary : NULL);
	jsonw_str(&w, "draft_reply", tr && d->action != RULE_HUMAN_ONLY ? tr->draft_reply : NULL);
	jsonw_str(&w, "action", rule_action_name(d->action));
	jsonw_bool(&w, "escalated", d->action == RULE_ESCALATE);
	jsonw_str(&w, "escalation_reasons", d->nmatched ? d->reasons : NULL);
	jsonw_str(&w, "matched_rules", d->nmatched ? d->matched : NULL);
	jsonw_int(&w, "priority", d->nmatched ? d->priority : 50);
	jsonw_str(&w, "decided_by", tr ? tier_names[decided] : NULL);
	jsonw_str(&w, "model", pl->tiers[decided].mc->model);
	jsonw_str(&w, "prompt_version", pl->tiers[decided].prompt->version);
	jsonw_numtext(&w, "cost_usd", cost_usd);
	jsonw_str(&w, "triaged_at", triaged_at);
	return row_text(&w, &b);
}

static void on_stored(void *arg, const struct db_row *row, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->pl;
	int64_t seq;
	if (row == NULL) {
		dead_letter_rejected(j, err);
		return;
	}
	if (row->ncols >= 6 && row->cols[2] && row->cols[2][0] == 't' && row->cols[1] &&
	    parse_int64(row->cols[1], 1, INT64_MAX, &seq) == 0) {
		/* stored now: the event is built here from what was stored */
		char *ev = event_json(j, seq, row->cols[3], row->cols[4]);
		if (strcmp(j->status, "pending_review") == 0)
			pl->st.stored_pending_review++;
		else
			pl->st.stored_needs_human++;
		if (j->has_ftr && strcmp(j->status, "pending_review") == 0)
			pl->st.flagship_decided++;
		log_debug("ticket stored", "ticket=%s status=%s", j->t->ticket_id, j->status);
		send_event(j, ev);
		free(ev);
		return;
	}
	if (row->ncols >= 3 && row->cols[2] && row->cols[2][0] == 'f')
		pl->st.stored_duplicate++;
	else if (strcmp(j->status, "pending_review") == 0)
		pl->st.stored_pending_review++;
	else
		pl->st.stored_needs_human++;
	if (j->has_ftr && strcmp(j->status, "pending_review") == 0)
		pl->st.flagship_decided++;
	log_debug("ticket stored", "ticket=%s status=%s", j->t->ticket_id, j->status);
	/* stored before (a redelivery): the stored row's event, from the database */
	send_event(j, row->ncols >= 6 ? row->cols[5] : NULL);
}

/* Restore one model-written text in place: placeholders back to the customer's values. */
static void restore_text(struct job *j, char **text)
{
	char err[128];
	char *r;
	if (*text == NULL || j->pii.n == 0)
		return;
	r = redact_restore(&j->pii, *text, RESTORE_CAP, err, sizeof(err));
	if (r == NULL) {
		char *df = wr(j)->draft_flags;
		size_t n = strlen(df);
		snprintf(df + n, sizeof(j->nt->draft_flags) - n, "%srestore failed: %s",
			 n ? "; " : "", err);
		return;
	}
	free(*text);
	*text = r;
}

/*
 * Before the draft reaches the queue: the customer's values restored for the
 * agent, then the deterministic policy check on that text (a placeholder
 * still there after restoring was invented by the model).
 */
static void check_and_restore(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct answer *tr = j->has_ftr ? &j->ftr : j->has_tr ? &j->tr : NULL;
	char why[sizeof(no_notes.draft_flags)];
	size_t n;
	if (tr == NULL)
		return;
	restore_text(j, &tr->draft_reply);
	restore_text(j, &tr->summary);
	if (draft_check_ix(&pl->policy, tr->draft_reply, tr->category,
				  pl->tiers[j->has_ftr ? TIER_FLAGSHIP_MODEL : TIER_MINI_MODEL].pidx, why,
				  sizeof(why)) == 0)
		return;
	pl->st.drafts_flagged++;
	n = strlen(wr(j)->draft_flags);
	snprintf(j->nt->draft_flags + n, sizeof(j->nt->draft_flags) - n, "%s%s", n ? "; " : "", why);
	log_info("draft flagged by policy", "ticket=%s", j->t->ticket_id);
}

static void store(struct job *j, const char *status)
{
	release_flagship(j);
	check_and_restore(j);
	if (rd(j)->draft_flags[0] && rd(j)->reason[0] == '\0' && strcmp(status, "pending_review") == 0)
		snprintf(wr(j)->reason, sizeof(j->nt->reason), "draft flagged: %s", j->nt->draft_flags);
	j->status = status;
	job_set_state(j, JOB_STORE);
	db_submit(j->pl->db, DB_STORE, store_json(j), on_stored, j);
}

static void needs_human(struct job *j, const char *what, const char *detail)
{
	/* detail may be one of the notes: copy through a local buffer */
	char r[sizeof(no_notes.reason)];
	snprintf(r, sizeof(r), "%s: %s", what, detail);
	memcpy(wr(j)->reason, r, sizeof(r));
	store(j, "needs_human");
}

/* ---- model calls -------------------------------------------------------- */

static void start_call(struct job *j, enum model_tier tier, enum call_purpose purpose);
static void send_attempt(struct job *j);
static void reserve(struct job *j);
static void after_mini(struct job *j);

static struct call_rec *cur_call(struct job *j)
{
	return &j->calls[j->ncalls - 1];
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	if (j->retry_reserve) {
		j->retry_reserve = 0;
		reserve(j);
	} else {
		send_attempt(j);
	}
}

static void backoff_for(struct job *j, uint32_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	if (j->ev_backoff == NULL)
		j->ev_backoff = evtimer_new(j->pl->base, on_backoff, j);
	job_set_state(j, JOB_BACKOFF);
	evtimer_add(j->ev_backoff, &tv);
}

static void schedule_retry(struct job *j, uint32_t retry_after_ms)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c = cur_call(j);
	const struct tier_ctx *tc = &pl->tiers[c->tier];
	pl->st.retries[c->tier]++;
	backoff_for(j, backoff_delay_ms(&tc->backoff, (uint32_t)c->attempts, retry_after_ms,
					(uint32_t)rng_next(&pl->rng)));
}

/* Feed the endpoint's circuit breaker; the mini one also gates intake. */
static void breaker_record(struct pipeline *pl, enum model_tier t, const struct llm_result *res)
{
	struct breaker *b = &pl->tiers[t].breaker;
	enum breaker_state before = b->state, after;
	int failed = (res->transport_error != 0 && !res->too_large) || res->http_status >= 500 ||
		     res->http_status == 408;
	if (res->http_status == 429)
		return; /* neither: Retry-After paces those */
	after = failed ? breaker_failure(b, now_ms()) : breaker_success(b, now_ms());
	if (after == BRK_OPEN && before != BRK_OPEN) {
		/* what waits for a connection must not go out now: back to waiting, unspent */
		size_t n = llm_return_waiting(pl->tiers[t].client);
		if (n)
			log_info("circuit breaker held back queued calls", "tier=%s calls=%zu",
				 tier_names[t], n);
	}
	if (after == before && !(before == BRK_HALF_OPEN))
		return;
	if (after == BRK_OPEN)
		log_warn(before == BRK_HALF_OPEN ? "circuit breaker probe failed, open again"
						 : "circuit breaker open",
			 "tier=%s failures=%u cooldown_ms=%.0f opens=%llu", tier_names[t],
			 b->failures, b->cooldown_ms, (unsigned long long)b->opens);
	else if (after == BRK_CLOSED && before != BRK_CLOSED)
		log_info("circuit breaker closed", "tier=%s", tier_names[t]);
	if (t == TIER_MINI_MODEL) {
		if (after == BRK_CLOSED)
			pl->pause_flags &= ~PAUSE_BREAKER;
		else
			pl->pause_flags |= PAUSE_BREAKER;
		update_pause(pl);
	}
}

/* The tier's final answer could not be had: a person takes over. */
static void model_failed(struct job *j, const char *why)
{
	struct call_rec *c = cur_call(j);
	if (c->tier == TIER_MINI_MODEL)
		needs_human(j, "mini model unavailable", why);
	else
		needs_human(j, "flagship model unavailable", why);
}

static void after_flagship(struct job *j)
{
	store(j, "pending_review");
}

/* An answer (fresh or reused) for the current call: validate and go on. */
static void handle_content(struct job *j, const char *content)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c = cur_call(j);
	struct answer *tr = c->tier == TIER_MINI_MODEL ? &j->tr : &j->ftr;
	char err[256];

	answer_cleanup(tr);
	answer_init(tr);
	if (answer_validate(content, &pl->tax, tr, err, sizeof(err)) == 0) {
		c->outcome = "ok";
		c->error[0] = '\0';
		record_call(j, c);
		if (c->tier == TIER_MINI_MODEL) {
			j->has_tr = 1;
			after_mini(j);
		} else {
			j->has_ftr = 1;
			after_flagship(j);
		}
		return;
	}
	pl->st.model_invalid[c->tier]++;
	c->outcome = "invalid_answer";
	snprintf(c->error, sizeof(c->error), "%s", err);
	record_call(j, c);
	if (c->purpose == PURPOSE_TRIAGE && j->ncalls < MAX_CALLS) {
		pl->st.repairs[c->tier]++;
		start_call(j, c->tier, PURPOSE_REPAIR);
		return;
	}
	if (c->tier == TIER_MINI_MODEL) {
		/* the rules decide: an invalid first pass may go to the flagship */
		j->mini_invalid = 1;
		snprintf(wr(j)->mini_error, sizeof(j->nt->mini_error), "%s", err);
		after_mini(j);
	} else {
		needs_human(j, "flagship answer invalid after repair", err);
	}
}

static void on_model_done(void *arg, const struct llm_result *res)
{
	struct job *j = arg;
	struct pipeline *pl = j->pl;
	struct call_rec *c = cur_call(j);
	const struct tier_ctx *tc = &pl->tiers[c->tier];
	int ok_http = res->transport_error == 0 && res->http_status >= 200 && res->http_status < 300;
	char *content = NULL;
	char err[256];

	j->req = NULL;
	free(j->request);
	j->request = res->request;
	if (res->not_sent) {
		/* never left the queue (the breaker opened): not an attempt; ask again soon */
		c->attempts--;
		pl->st.model_requests[c->tier]--;
		backoff_for(j, 50 + (uint32_t)(rng_next(&pl->rng) % 250));
		return;
	}
	c->http_status = res->http_status;
	c->latency_ms = res->latency_ms;
	c->finished_ms = now_ms();
	breaker_record(pl, c->tier, res);
	if (res->http_status == 429) {
		pl->st.http_429[c->tier]++;
		c->retries_429++;
	}
	if (!ok_http) {
		/* an answer over the cap is not a flaky endpoint: retrying pays for it again */
		int retry = !res->too_large &&
			    backoff_classify(res->transport_error, res->http_status) == RETRY_YES;
		char why[320];
		if (res->transport_error) {
			pl->st.model_transport_errors[c->tier]++;
			c->outcome = "transport_error";
			snprintf(c->error, sizeof(c->error), "%s", res->error);
		} else {
			pl->st.model_http_errors[c->tier]++;
			c->outcome = "http_error";
			snprintf(c->error, sizeof(c->error), "HTTP %ld", res->http_status);
		}
		if (retry && ((uint32_t)c->attempts < tc->backoff.max_attempts ||
			      tc->mc->on_failure == ONFAIL_WAIT)) {
			schedule_retry(j, res->has_retry_after ? res->retry_after_ms : 0);
			return;
		}
		record_call(j, c);
		if (res->too_large) {
			needs_human(j, c->tier == TIER_MINI_MODEL ? "mini answer too large"
								  : "flagship answer too large",
				    c->error);
			return;
		}
		snprintf(why, sizeof(why), "%s after %d attempts", c->error, c->attempts);
		model_failed(j, why);
		return;
	}
	pl->st.model_ok[c->tier]++;
	free(c->answer);
	if (answer_parse_completion(res->body, res->body_len, &content, &c->usage, err,
				    sizeof(err)) < 0) {
		/* a broken envelope is an invalid answer: the raw body is what we keep */
		c->answer = xstrndup(res->body,
				     res->body_len < ANSWER_STORE_CAP ? res->body_len : ANSWER_STORE_CAP);
		pl->st.model_invalid[c->tier]++;
		c->outcome = "invalid_answer";
		snprintf(c->error, sizeof(c->error), "%s", err);
		record_call(j, c);
		if (c->purpose == PURPOSE_TRIAGE) {
			pl->st.repairs[c->tier]++;
			start_call(j, c->tier, PURPOSE_REPAIR);
		} else if (c->tier == TIER_MINI_MODEL) {
			j->mini_invalid = 1;
			snprintf(wr(j)->mini_error, sizeof(j->nt->mini_error), "%s", err);
			after_mini(j);
		} else {
			needs_human(j, "flagship answer invalid after repair", err);
		}
		return;
	}
	c->answer = strlen(content) > ANSWER_STORE_CAP ? xstrndup(content, ANSWER_STORE_CAP)
						       : xstrdup(content);
	free(content);
	handle_content(j, c->answer);
}

static void send_attempt(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c = cur_call(j);
	double wait;
	if (!breaker_allow(&pl->tiers[c->tier].breaker, now_ms(), &wait)) {
		/* the endpoint is resting: wait without spending an attempt */
		backoff_for(j, (uint32_t)wait + (uint32_t)(rng_next(&pl->rng) % 250));
		return;
	}
	c->attempts++;
	pl->st.model_requests[c->tier]++;
	job_set_state(j, JOB_MODEL);
	/* the body goes to the client and comes back with the result (for a retry) */
	j->req = llm_submit(pl->tiers[c->tier].client, j->request, on_model_done, j);
	j->request = NULL;
}

/* ---- budgets -------------------------------------------------------------- */

static void on_reserved(void *arg, const struct db_row *row, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->pl;
	struct call_rec *c = cur_call(j);
	int granted = row && row->ncols >= 4 && row->cols[1] && row->cols[1][0] == 't';

	if (granted) {
		int64_t bid = 0;
		if (row->cols[2] && parse_int64(row->cols[2], 1, INT64_MAX, &bid) == 0) {
			c->budget_id = bid;
			snprintf(c->reserved_usd, sizeof(c->reserved_usd), "%s",
				 row->cols[3] ? row->cols[3] : "0");
		}
		if (c->tier == TIER_MINI_MODEL && (pl->pause_flags & PAUSE_BUDGET)) {
			pl->pause_flags &= ~PAUSE_BUDGET;
			update_pause(pl);
		}
		send_attempt(j);
		return;
	}
	pl->st.budget_denied[c->tier]++;
	if (row == NULL) {
		/* the budget could not be checked: do not spend blindly */
		j->ncalls--;
		needs_human(j, "budget check failed", err ? err : "no row");
		return;
	}
	if (c->tier == TIER_MINI_MODEL && pl->cfg->mini_on_exhausted == 1) {
		/* pause intake; this ticket waits and asks again */
		pl->pause_flags |= PAUSE_BUDGET;
		update_pause(pl);
		j->retry_reserve = 1;
		backoff_for(j, BUDGET_RETRY_MS);
		return;
	}
	j->ncalls--; /* the call was never made */
	needs_human(j, "budget_exhausted",
		    c->tier == TIER_MINI_MODEL ? "the mini daily budget is spent"
					       : "the flagship daily budget is spent");
}

static void reserve(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c = cur_call(j);
	const struct model_config *mc = pl->tiers[c->tier].mc;
	json_object *o = json_object_new_object();
	jadd_str(o, "tier", tier_names[c->tier]);
	jadd_str(o, "model", mc->model);
	/* about 4 bytes a token for text like this; 3 errs on the high side */
	json_object_object_add(o, "prompt_tokens",
			       json_object_new_int64((int64_t)(strlen(j->request) / 3)));
	json_object_object_add(o, "max_tokens", json_object_new_int64(mc->max_tokens));
	job_set_state(j, JOB_RESERVE);
	db_submit_obj(pl->db, DB_RESERVE, o, on_reserved, j);
}

/* ---- starting a call ------------------------------------------------------- */

/* A call persisted before a redelivery for this tier, purpose, model and prompt. */
static const char *find_prior(struct job *j, const struct call_rec *c, int *seq,
			      const char **outcome)
{
	const struct pipeline *pl = j->pl;
	size_t n = j->prior ? json_object_array_length(j->prior) : 0;
	for (size_t i = 0; i < n && i < 32; i++) {
		json_object *p = json_object_array_get_idx(j->prior, i), *v;
		const char *f[5] = {NULL, NULL, NULL, NULL, NULL};
		static const char *const keys[5] = {"tier", "purpose", "model", "prompt_version",
						    "outcome"};
		if (j->prior_used & (1u << i))
			continue;
		for (int k = 0; k < 5; k++)
			if (json_object_object_get_ex(p, keys[k], &v))
				f[k] = json_object_get_string(v);
		if (!f[0] || !f[1] || !f[2] || !f[3] || !f[4])
			continue;
		if (strcmp(f[0], tier_names[c->tier]) != 0 ||
		    strcmp(f[1], c->purpose == PURPOSE_TRIAGE ? "triage" : "repair") != 0 ||
		    strcmp(f[2], pl->tiers[c->tier].mc->model) != 0 ||
		    strcmp(f[3], call_prompt(pl, c)->version) != 0)
			continue;
		if (strcmp(f[4], "ok") != 0 && strcmp(f[4], "invalid_answer") != 0)
			continue; /* failed calls are retried, not reused */
		if (!json_object_object_get_ex(p, "answer", &v) || !json_object_is_type(v, json_type_string))
			continue;
		j->prior_used |= 1u << i;
		*seq = json_object_object_get_ex(p, "seq", &v) ? json_object_get_int(v) : 0;
		*outcome = f[4];
		return json_object_get_string(json_object_object_get(p, "answer"));
	}
	return NULL;
}

static void start_call(struct job *j, enum model_tier tier, enum call_purpose purpose)
{
	struct pipeline *pl = j->pl;
	struct call_rec *c;
	struct prompt_vars v = {.ticket = &j->pt, .tax = &pl->tax};
	const struct call_rec *prev;
	const char *answer, *outcome;
	char err[256];
	int seq = 0;

	if (j->ncalls == MAX_CALLS) {
		needs_human(j, "too many model calls", "limit reached");
		return;
	}
	if (j->ncalls == j->acalls) {
		/* most tickets make one call: room for more only when a second comes */
		int n = j->acalls ? MAX_CALLS : 1;
		j->calls = xrealloc(j->calls, (size_t)n * sizeof(*j->calls));
		memset(j->calls + j->acalls, 0, (size_t)(n - j->acalls) * sizeof(*j->calls));
		j->acalls = n;
	}
	prev = j->ncalls ? cur_call(j) : NULL;
	c = &j->calls[j->ncalls++];
	c->tier = tier;
	c->purpose = purpose;
	c->started_ms = now_ms();
	answer = find_prior(j, c, &seq, &outcome);
	if (answer) {
		/* paid for before a crash or a rebalance: reuse, do not call again */
		pl->st.calls_reused++;
		c->reused = 1;
		c->seq = seq;
		c->answer = xstrdup(answer);
		c->finished_ms = c->started_ms;
		log_debug("model call reused", "ticket=%s tier=%s seq=%d", j->t->ticket_id,
			  tier_names[tier], seq);
		handle_content(j, c->answer);
		return;
	}
	c->seq = ++j->next_seq;
	if (purpose == PURPOSE_REPAIR && prev) {
		v.error = prev->error;
		v.previous = prev->answer ? prev->answer : "";
	}
	if (tier == TIER_FLAGSHIP_MODEL) {
		v.mini = j->has_tr ? &j->tr : NULL;
		v.mini_error = rd(j)->mini_error;
		v.escalation_reasons = decision(j)->reasons;
	}
	free(j->request);
	if (purpose == PURPOSE_TRIAGE && pl->tiers[tier].frame)
		j->request = prompt_frame_render(pl->tiers[tier].frame, pl->tiers[tier].prompt, &v,
						 REQUEST_CAP, err, sizeof(err));
	else
		j->request = prompt_render_request(pl->tiers[tier].prompt,
						   purpose == PURPOSE_REPAIR ? pl->p_repair : NULL,
						   pl->tiers[tier].mc, &v, REQUEST_CAP, err, sizeof(err));
	if (j->request == NULL) {
		j->ncalls--;
		needs_human(j, "prompt", err);
		return;
	}
	if (pl->cfg->budget_enforce)
		reserve(j);
	else
		send_attempt(j);
}

/* ---- escalation ------------------------------------------------------------ */

static void flagship_pump(struct pipeline *pl)
{
	while (pl->fq_len > 0 && pl->flagship_active < (size_t)pl->cfg->flagship.max_concurrency) {
		struct job *j = pl->fq[0];
		fq_remove(pl, j);
		j->flagship_slot = 1;
		pl->flagship_active++;
		start_call(j, TIER_FLAGSHIP_MODEL, PURPOSE_TRIAGE);
	}
}

static void on_fpump(evutil_socket_t fd, short what, void *arg)
{
	flagship_pump(arg);
}

/* The mini step has its answer (valid, or invalid after repair): the rules decide. */
static void after_mini(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct rules_input in;

	memset(&in, 0, sizeof(in));
	in.ticket = j->t;
	in.mini = j->has_tr ? &j->tr : NULL;
	in.mini_invalid = j->mini_invalid;
	in.regex_text_max = (size_t)pl->cfg->rules_regex_text_bytes;
	if (rd(j)->detector_flags[0]) {
		in.flags[0] = "injection";
		in.nflags = 1;
	}
	free(j->dec);
	j->dec = NULL;
	if (pl->rules) {
		struct rules_decision d;
		memset(&d, 0, sizeof(d));
		rules_eval(pl->rules, &in, &d);
		if (d.nmatched || d.action != RULE_NONE) {
			j->dec = xmalloc(sizeof(*j->dec));
			*j->dec = d;
		}
	}
	switch (decision(j)->action) {
	case RULE_ESCALATE:
		pl->st.escalated++;
		job_set_state(j, JOB_FLAGSHIP_WAIT);
		fq_push(pl, j);
		flagship_pump(pl);
		return;
	case RULE_HUMAN_ONLY:
		pl->st.human_only++;
		needs_human(j, "human_only", decision(j)->reasons);
		return;
	case RULE_NONE:
	default:
		if (j->has_tr)
			store(j, "pending_review");
		else
			needs_human(j, "invalid answer after repair", rd(j)->mini_error);
		return;
	}
}

/* ---- claim --------------------------------------------------------------- */

static char *claim_json(const struct job *j)
{
	const struct ticket *t = j->t;
	struct buf b;
	struct jsonw w;
	buf_init(&b, SIZE_MAX);
	jsonw_begin(&w, &b);
	jsonw_str(&w, "source", t->source);
	jsonw_str(&w, "ticket_id", t->ticket_id);
	jsonw_str(&w, "created_at", t->created_at);
	jsonw_str(&w, "channel", ticket_channel_name(t->channel));
	jsonw_str(&w, "subject", t->subject);
	jsonw_str(&w, "body", t->body);
	jsonw_bool(&w, "body_truncated", t->body_truncated);
	jsonw_str(&w, "customer_id", t->customer_id);
	jsonw_str(&w, "customer_email", t->customer_email);
	jsonw_str(&w, "customer_name", t->customer_name);
	jsonw_str(&w, "customer_tier", t->tier == TIER_NONE ? NULL : customer_tier_name(t->tier));
	jsonw_str(&w, "language", t->language);
	jsonw_obj(&w, "tags", t->tags);
	jsonw_obj(&w, "metadata", t->metadata);
	jsonw_str(&w, "kafka_topic", kin_part_topic(j->part));
	jsonw_int(&w, "kafka_partition", kin_part_partition(j->part));
	jsonw_int(&w, "kafka_offset", j->offset);
	if (j->pii.n > 0) {
		json_object *pii = redact_map_to_json(&j->pii);
		jsonw_obj(&w, "pii", pii);
		json_object_put(pii);
	}
	return row_text(&w, &b);
}

static void on_claimed(void *arg, const struct db_row *row, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->pl;
	int64_t pk, rev;
	const char *state;

	if (row == NULL || row->ncols < 6 || !row->cols[1] || !row->cols[2] || !row->cols[3] ||
	    parse_int64(row->cols[1], 1, INT64_MAX, &pk) < 0 ||
	    parse_int64(row->cols[2], 1, INT32_MAX, &rev) < 0) {
		dead_letter_rejected(j, err ? err : "bad claim row");
		return;
	}
	j->ticket_pk = pk;
	j->revision = (int)rev;
	state = row->cols[3];
	if (strcmp(state, "done") == 0) {
		/* triaged before; its event may have been lost with a crash: send it again */
		pl->st.redelivered_done++;
		log_debug("redelivered ticket already triaged", "ticket=%s revision=%d",
			  j->t->ticket_id, j->revision);
		send_event(j, row->cols[5]);
		return;
	}
	if (strcmp(state, "new") == 0)
		pl->st.claimed_new++;
	else if (strcmp(state, "updated") == 0)
		pl->st.claimed_updated++;
	else
		pl->st.claimed_pending++;
	if (j->redact_failed) {
		/* the text could not be made safe: it must not reach a model */
		needs_human(j, "redaction failed", rd(j)->redact_err);
		return;
	}
	if (row->cols[4]) {
		j->prior = json_tokener_parse(row->cols[4]);
		for (size_t i = 0; j->prior && i < json_object_array_length(j->prior); i++) {
			json_object *v;
			if (json_object_object_get_ex(json_object_array_get_idx(j->prior, i), "seq",
						      &v) &&
			    json_object_get_int(v) > j->next_seq)
				j->next_seq = json_object_get_int(v);
		}
	}
	start_call(j, TIER_MINI_MODEL, PURPOSE_TRIAGE);
}

/* ---- making the text safe to send ------------------------------------------- */

static char *safe_copy(struct pipeline *pl, struct job *j, const char *text, size_t len,
		       struct redact_stats *st)
{
	char *c = xstrndup(text, len), *r;
	size_t n = injection_strip_invisible(c, len);
	c[n] = '\0';
	if (pl->redactor == NULL || j->redact_failed)
		return c;
	char err[sizeof(no_notes.redact_err)];
	r = redact_text(pl->redactor, c, n, &j->pii, st, err, sizeof(err));
	free(c);
	if (r == NULL) {
		j->redact_failed = 1;
		memcpy(wr(j)->redact_err, err, sizeof(err));
		return xstrdup("");
	}
	/* kept while the ticket is in flight: an exact copy, not the grown buffer */
	c = xstrdup(r);
	free(r);
	return c;
}

/*
 * Look for injection attempts in the raw text, then build what the models
 * will see: invisible and bidi-control characters stripped, e-mail
 * addresses, phone numbers, cards, IBANs and configured patterns replaced
 * by placeholders. Never logs the text.
 */
static void prepare_text(struct pipeline *pl, struct job *j)
{
	const struct ticket *t = j->t;
	struct redact_stats a = {0}, b = {0};
	char why[256] = "", why2[256] = "";
	int hits = injection_detect(t->subject, strlen(t->subject), why, sizeof(why)) +
		   injection_detect(t->body, t->body_len, why2, sizeof(why2));

	if (hits > 0) {
		snprintf(wr(j)->detector_flags, sizeof(j->nt->detector_flags), "injection: %s%s%s", why,
			 why[0] && why2[0] ? ", " : "", why2);
		pl->st.injection_flagged++;
		log_warn("prompt injection suspected", "ticket=%s patterns=\"%s%s%s\"", t->ticket_id,
			 why, why[0] && why2[0] ? ", " : "", why2);
	}
	j->p_subject = safe_copy(pl, j, t->subject, strlen(t->subject), &a);
	j->p_body = safe_copy(pl, j, t->body, t->body_len, &b);
	pl->st.redactions[0] += a.email + b.email;
	pl->st.redactions[1] += a.phone + b.phone;
	pl->st.redactions[2] += a.card + b.card;
	pl->st.redactions[3] += a.iban + b.iban;
	pl->st.redactions[4] += a.custom + b.custom;
	j->pt = *t;
	j->pt.subject = j->p_subject;
	j->pt.body = j->p_body;
	j->pt.body_len = strlen(j->p_body);
	j->pt.body_prompt_len = utf8_cut(j->p_body, j->pt.body_len, pl->limits.max_body_prompt_len);
	j->pt.body_truncated = j->pt.body_prompt_len < j->pt.body_len;
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
		dead_letter(j, rd_kafka_topic_name(m->rkt), m->partition, m->key, m->key_len,
			    m->payload, m->len, ticket_err_code(te), err);
	} else {
		struct job *j = job_new(pl, part, m->offset, JOB_CLAIM);
		j->t = t;
		prepare_text(pl, j);
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
		 "pending_review=%llu needs_human=%llu escalated=%llu human_only=%llu "
		 "mini_requests=%llu flagship_requests=%llu reused_calls=%llu retries=%llu "
		 "http_429=%llu invalid=%llu repairs=%llu budget_denied=%llu events=%llu "
		 "in_flight=%llu db_up=%d paused=%d",
		 (unsigned long long)s->consumed, (unsigned long long)s->dlq,
		 (unsigned long long)s->claimed_new, (unsigned long long)s->claimed_updated,
		 (unsigned long long)s->redelivered_done,
		 (unsigned long long)s->stored_pending_review,
		 (unsigned long long)s->stored_needs_human, (unsigned long long)s->escalated,
		 (unsigned long long)s->human_only,
		 (unsigned long long)s->model_requests[TIER_MINI_MODEL],
		 (unsigned long long)s->model_requests[TIER_FLAGSHIP_MODEL],
		 (unsigned long long)s->calls_reused,
		 (unsigned long long)(s->retries[0] + s->retries[1]),
		 (unsigned long long)(s->http_429[0] + s->http_429[1]),
		 (unsigned long long)(s->model_invalid[0] + s->model_invalid[1]),
		 (unsigned long long)(s->repairs[0] + s->repairs[1]),
		 (unsigned long long)(s->budget_denied[0] + s->budget_denied[1]),
		 (unsigned long long)s->events_sent, (unsigned long long)s->in_flight,
		 db_is_up(pl->db), kin_paused(pl->kin));
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

int pipeline_reload_rules(struct pipeline *pl)
{
	char err[512];
	struct rules *r;
	if (pl->cfg->rules_file[0] == '\0')
		return 0;
	r = rules_load_file(pl->cfg->rules_file, err, sizeof(err));
	if (r == NULL) {
		pl->st.rules_reload_errors++;
		log_error("rules not reloaded; the previous rules stay in force", "error=\"%s\"",
			  err);
		return -1;
	}
	/* evaluation keeps no state between tickets: swapping here is safe */
	rules_free(pl->rules);
	pl->rules = r;
	pl->st.rules_reloads++;
	log_info("rules loaded", "file=%s rules=%zu", pl->cfg->rules_file, rules_count(r));
	return 0;
}

static int init_tier(struct pipeline *pl, enum model_tier t, const struct model_config *mc,
		     char *err, size_t errlen)
{
	struct tier_ctx *tc = &pl->tiers[t];
	const char *key = NULL;
	tc->name = tier_names[t];
	tc->mc = mc;
	tc->backoff.base_ms = (uint32_t)mc->backoff_base_ms;
	tc->backoff.max_ms = (uint32_t)mc->backoff_max_ms;
	tc->backoff.max_attempts = (uint32_t)mc->max_attempts;
	breaker_init(&tc->breaker, (uint32_t)mc->breaker_failures, (double)mc->breaker_cooldown_ms);
	tc->prompt = prompt_load(pl->cfg->prompts_dir, mc->prompt, err, errlen);
	if (tc->prompt == NULL)
		return -1;
	{
		char e[256];
		tc->frame = prompt_frame_new(tc->prompt, mc, &pl->tax, e, sizeof(e));
		if (tc->frame == NULL)
			log_info("requests rendered in full", "tier=%s reason=\"%s\"", tier_names[t], e);
	}
	if (mc->api_key_file && *mc->api_key_file) {
		char buf[1024], e[512];
		if (secret_read_file(mc->api_key_file, buf, sizeof(buf), e, sizeof(e)) < 0) {
			set_err(err, errlen, "%s.api_key_file: %s", tier_names[t], e);
			return -1;
		}
		tc->client = llm_client_new(pl->base, tier_names[t], mc, buf);
		explicit_bzero(buf, sizeof(buf));
		return 0;
	}
	if (mc->api_key_env && *mc->api_key_env)
		key = getenv(mc->api_key_env);
	tc->client = llm_client_new(pl->base, tier_names[t], mc, key);
	return 0;
}

/* Split "a, b,c" into a NULL-terminated array of trimmed, non-empty strings. */
static char **split_list(const char *s, size_t *n)
{
	char **v = xcalloc(1, sizeof(*v));
	char *copy = xstrdup(s), *p = copy, *comma;
	*n = 0;
	for (;;) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		str_trim(p);
		if (*p) {
			v = xrealloc(v, (*n + 2) * sizeof(*v));
			v[(*n)++] = xstrdup(p);
			v[*n] = NULL;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	free(copy);
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Custom redaction patterns: one "LABEL regex" per line; '#' comments. */
static int load_patterns(struct redactor *r, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096], e[256];
	int lineno = 0, rc = 0;
	if (f == NULL) {
		set_err(err, errlen, "%s: cannot open", path);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *sp;
		lineno++;
		str_trim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		sp = strpbrk(line, " \t");
		if (sp == NULL) {
			set_err(err, errlen, "%s:%d: expected \"LABEL regex\"", path, lineno);
			rc = -1;
			break;
		}
		*sp = '\0';
		str_trim(sp + 1);
		if (redactor_add_pattern(r, line, sp + 1, e, sizeof(e)) < 0) {
			set_err(err, errlen, "%s:%d: %s", path, lineno, e);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

static int init_safety(struct pipeline *pl, char *err, size_t errlen)
{
	const struct config *cfg = pl->cfg;
	draft_policy_default(&pl->policy);
	pl->link_allow = split_list(cfg->policy_link_allow, &pl->policy.nlink_allow);
	pl->policy.link_allow = (const char *const *)pl->link_allow;
	pl->refund_categories = split_list(cfg->policy_refund_categories,
					   &pl->policy.nrefund_categories);
	pl->policy.refund_categories = (const char *const *)pl->refund_categories;
	pl->policy.min_len = (size_t)cfg->policy_min_len;
	pl->policy.max_len = (size_t)cfg->policy_max_len;
	/* the prompts are fixed for the daemon's life: index their words once */
	for (int t = 0; t < TIER__MODELS; t++)
		pl->tiers[t].pidx = draft_check_prompt_new(pl->tiers[t].prompt->system,
						      pl->policy.prompt_window);
	if (!cfg->redact_enabled) {
		log_warn("PII redaction is off: ticket text goes to the models as written", "%s", "");
		return 0;
	}
	pl->redactor = redactor_new();
	if (cfg->redact_patterns_file[0] &&
	    load_patterns(pl->redactor, cfg->redact_patterns_file, err, errlen) < 0)
		return -1;
	return 0;
}

struct pipeline *pipeline_new(struct event_base *base, const struct config *cfg, char *err,
			      size_t errlen)
{
	struct pipeline *pl = xcalloc(1, sizeof(*pl));
	struct timeval ten = {10, 0};

	pl->base = base;
	pl->cfg = cfg;
	hist_init(&pl->st.e2e_ms);
	hist_init(&pl->st.model_ms);
	hist_init(&pl->st.added_ms);
	for (int s = 0; s < JOB__STATES; s++)
		hist_init(&pl->st.state_ms[s]);
	pl->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)now_ms() ^ 0x9E3779B97F4A7C15ULL;
	pl->tax.categories = (const char *const *)cfg->categories;
	pl->tax.ncategories = cfg->ncategories;
	ticket_limits_default(&pl->limits);
	pl->limits.max_message_bytes = (size_t)cfg->max_message_bytes;
	pl->limits.max_body_prompt_len = (size_t)cfg->max_body_prompt_bytes;
	pl->ev_fpump = event_new(base, -1, 0, on_fpump, pl);

	if (init_tier(pl, TIER_MINI_MODEL, &cfg->mini, err, errlen) < 0 ||
	    init_tier(pl, TIER_FLAGSHIP_MODEL, &cfg->flagship, err, errlen) < 0)
		goto fail;
	pl->p_repair = prompt_load(cfg->prompts_dir, cfg->repair_prompt, err, errlen);
	if (pl->p_repair == NULL)
		goto fail;
	if (cfg->rules_file[0]) {
		pl->rules = rules_load_file(cfg->rules_file, err, errlen);
		if (pl->rules == NULL)
			goto fail;
		log_info("rules loaded", "file=%s rules=%zu", cfg->rules_file,
			 rules_count(pl->rules));
	}
	if (init_safety(pl, err, errlen) < 0)
		goto fail;
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
		{
			/* where the time goes: per state, visits and p50/p99 */
			char buf[1024];
			size_t n = 0;
			buf[0] = '\0';
			for (int k = 0; k < JOB__STATES && n < sizeof(buf); k++) {
				const struct hist *h = &s->state_ms[k];
				if (h->count == 0)
					continue;
				n += (size_t)snprintf(buf + n, sizeof(buf) - n,
						      "%s%s_n=%llu %s_p50_ms=%.3f %s_p99_ms=%.3f",
						      n ? " " : "", state_names[k],
						      (unsigned long long)h->count, state_names[k],
						      hist_quantile(h, 0.5), state_names[k],
						      hist_quantile(h, 0.99));
			}
			log_info("state latency", "%s", buf);
		}
		{
			/* the database: per kind, batches, mean items per batch, mean batch time */
			struct db_stats ds;
			char buf[1024];
			size_t n = 0;
			buf[0] = '\0';
			db_get_stats(pl->db, &ds);
			for (int k = 0; k < DB__KINDS && n < sizeof(buf); k++) {
				if (ds.kind_batches[k] == 0)
					continue;
				n += (size_t)snprintf(
					buf + n, sizeof(buf) - n,
					"%s%s_batches=%llu %s_items_per_batch=%.1f %s_batch_ms=%.2f",
					n ? " " : "", db_kind_name((enum db_kind)k), ds.kind_batches[k],
					db_kind_name((enum db_kind)k),
					(double)ds.kind_items[k] / (double)ds.kind_batches[k],
					db_kind_name((enum db_kind)k),
					ds.kind_ms[k] / (double)ds.kind_batches[k]);
			}
			log_info("database summary", "%s", buf);
		}
	}
	/* dead letters and events in flight complete their jobs while the producer flushes */
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
	if (pl->ev_fpump)
		event_free(pl->ev_fpump);
	kin_free(pl->kin); /* commits stored offsets */
	db_free(pl->db);
	for (int t = 0; t < TIER__MODELS; t++) {
		llm_client_free(pl->tiers[t].client);
		prompt_free(pl->tiers[t].prompt);
		prompt_frame_free(pl->tiers[t].frame);
		draft_check_prompt_free(pl->tiers[t].pidx);
	}
	prompt_free(pl->p_repair);
	rules_free(pl->rules);
	redactor_free(pl->redactor);
	free_list(pl->link_allow);
	free_list(pl->refund_categories);
	free(pl->fq);
	free(pl);
}

void pipeline_get_stats(const struct pipeline *pl, struct pipeline_stats *out)
{
	*out = pl->st;
	for (int t = 0; t < TIER__MODELS; t++) {
		out->breaker_opens[t] = pl->tiers[t].breaker.opens;
		out->breaker_denied[t] = pl->tiers[t].breaker.denied;
		out->breaker_state[t] = (int)pl->tiers[t].breaker.state;
	}
}

void pipeline_get_health(const struct pipeline *pl, struct pipeline_health *out)
{
	memset(out, 0, sizeof(*out));
	out->db_up = db_is_up(pl->db);
	out->partitions = kin_assigned(pl->kin);
	out->draining = pl->draining;
	out->paused = kin_paused(pl->kin);
	out->consumer_lag = kin_lag(pl->kin);
	out->mini_in_flight = llm_in_flight(pl->tiers[TIER_MINI_MODEL].client);
	out->mini_waiting = llm_waiting(pl->tiers[TIER_MINI_MODEL].client);
	out->flagship_in_flight = llm_in_flight(pl->tiers[TIER_FLAGSHIP_MODEL].client);
	out->flagship_waiting = pl->fq_len;
	out->db_pending = db_pending(pl->db);
	out->dlq_pending = kout_pending(pl->kout);
}
