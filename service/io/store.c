/*
 * store: see store.h. The one module that knows the JSON each SQL function
 * takes and the columns each returns; must never hold a ticket's state.
 */
#include "store.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonw.h"
#include "log.h"
#include "pgbin.h"

/*
 * The result columns, in the order db.c's statements select them (column 0
 * is always the item's idx). The only place that reads a row by position.
 */
enum {
	COL_CLAIM_PK = 1,
	COL_CLAIM_REVISION,
	COL_CLAIM_STATE,
	COL_CLAIM_CALLS,
	COL_CLAIM_EVENT,
	COL_CLAIM__COLS
};
enum {
	COL_STORE_ID = 1,
	COL_STORE_INSERTED,
	COL_STORE_TRIAGED_AT,
	COL_STORE_COST,
	COL_STORE_EVENT,
	COL_STORE__COLS
};
enum {
	COL_RESERVE_GRANTED = 1,
	COL_RESERVE_BUDGET_ID,
	COL_RESERVE_AMOUNT,
	COL_RESERVE_ID,
	COL_RESERVE_VERDICT,
	COL_RESERVE__COLS
};

static const char *col(const struct db_row *row, int i)
{
	return row && i < row->ncols ? row->cols[i] : NULL;
}

void store_init(struct store *s, struct db *db, size_t row_cap)
{
	s->db = db;
	s->row_cap = row_cap;
	s->reserve_seq = 0;
}

/* Finish a row written with jsonw: its text, or NULL when it passed the cap. */
static char *row_text(struct jsonw *w, struct buf *b)
{
	if (jsonw_end(w) < 0) {
		buf_cleanup(b);
		return NULL;
	}
	return buf_steal(b);
}

/* The finished binary row (its bytes in *len), or NULL over the cap: row_text's twin. */
static char *row_bytes(struct pgbin_rec *r, struct buf *b, size_t *len)
{
	if (pgbin_rec_end(r) < 0) {
		buf_cleanup(b);
		return NULL;
	}
	*len = b->len;
	return buf_steal(b);
}

static void jadd_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

/* ---- claim ----------------------------------------------------------------- */

/*
 * The claim as a triaged_claim_in row (migration 062) in PostgreSQL's binary
 * format, its fields in the type's order (issue #15: the body is not escaped
 * into JSON for the server to parse back). What the JSON claim left out is
 * NULL; tags and metadata without a value are the JSON null it wrote, so the
 * stored rows and the content hash are those of the JSON claim.
 */
char *store_claim_row(const struct store *s, const struct claim_req *q, size_t *len)
{
	const struct ticket *t = q->t;
	struct buf b;
	struct pgbin_rec w;
	json_object *fl = NULL, *pii = NULL;
	char *row;

	buf_init(&b, s->row_cap);
	pgbin_rec_begin(&w, &b);
	pgbin_text(&w, t->source);
	pgbin_text(&w, t->ticket_id);
	pgbin_text(&w, t->created_at);
	pgbin_text(&w, ticket_channel_name(t->channel));
	pgbin_text(&w, t->subject);
	pgbin_text(&w, t->body);
	pgbin_bool(&w, t->body_truncated);
	pgbin_text(&w, t->customer_id);
	pgbin_text(&w, t->customer_email);
	pgbin_text(&w, t->customer_name);
	pgbin_text(&w, t->tier == TIER_NONE ? NULL : customer_tier_name(t->tier));
	pgbin_text(&w, t->language);
	pgbin_jsonb(&w, jsonw_text(t->tags));
	/* metadata as its original text: jsonb's numeric keeps every digit */
	pgbin_jsonb(&w, t->metadata_json ? t->metadata_json : "null");
	if (t->flags != 0) {
		fl = json_object_new_array();
		for (int i = 0; i < TICKET_FLAG__COUNT; i++)
			if (t->flags & (1u << i))
				json_object_array_add(fl,
						      json_object_new_string(ticket_flag_name(i)));
	}
	pgbin_jsonb(&w, fl ? jsonw_text(fl) : NULL);
	pgbin_jsonb(&w, t->original ? jsonw_text(t->original) : NULL);
	pgbin_text(&w, q->topic);
	pgbin_int4(&w, q->partition);
	pgbin_int8(&w, q->offset);
	if (q->pii && q->pii->n > 0)
		pii = redact_map_to_json(q->pii);
	pgbin_jsonb(&w, pii ? jsonw_text(pii) : NULL);
	row = row_bytes(&w, &b, len);
	json_object_put(fl);
	json_object_put(pii);
	return row;
}

/* A request in flight: whom to tell, and (for a triage row) what was sent. */
struct pending {
	void *cb;
	void *arg;
	const struct store *s;
	const struct triage_rec *rec; /* triage rows only */
};

static struct pending *pending_new(const struct store *s, void *cb, void *arg,
				   const struct triage_rec *rec)
{
	struct pending *p = xmalloc(sizeof(*p));
	p->cb = cb;
	p->arg = arg;
	p->s = s;
	p->rec = rec;
	return p;
}

static void on_claim_row(void *arg, const struct db_row *row, const char *err)
{
	struct pending *p = arg;
	store_claim_fn *cb = (store_claim_fn *)p->cb;
	struct claim_result r;
	int64_t pk, rev;
	const char *state = col(row, COL_CLAIM_STATE);

	memset(&r, 0, sizeof(r));
	if (row == NULL || row->ncols < COL_CLAIM__COLS || !col(row, COL_CLAIM_PK) ||
	    !col(row, COL_CLAIM_REVISION) || !state ||
	    parse_int64(col(row, COL_CLAIM_PK), 1, INT64_MAX, &pk) < 0 ||
	    parse_int64(col(row, COL_CLAIM_REVISION), 1, INT32_MAX, &rev) < 0) {
		cb(p->arg, NULL, err ? err : "bad claim row");
		goto out;
	}
	r.pk = pk;
	r.revision = (int)rev;
	if (strcmp(state, "done") == 0)
		r.state = CLAIM_DONE;
	else if (strcmp(state, "new") == 0)
		r.state = CLAIM_NEW;
	else if (strcmp(state, "updated") == 0)
		r.state = CLAIM_UPDATED;
	else if (strcmp(state, "elsewhere") == 0)
		r.state = CLAIM_ELSEWHERE;
	else
		r.state = CLAIM_PENDING;
	if (r.state == CLAIM_DONE)
		r.event = col(row, COL_CLAIM_EVENT);
	else if (col(row, COL_CLAIM_CALLS))
		r.prior = json_tokener_parse(col(row, COL_CLAIM_CALLS));
	cb(p->arg, &r, NULL);
	json_object_put(r.prior);
out:
	free(p);
}

int store_claim(struct store *s, char *row, size_t len, store_claim_fn *cb, void *arg, char *err,
		size_t errlen)
{
	if (row == NULL) {
		set_err(err, errlen, "claim row over %zu bytes", s->row_cap);
		return -1;
	}
	db_submit_bin(s->db, DB_CLAIM, row, len, on_claim_row,
		      pending_new(s, (void *)cb, arg, NULL));
	return 0;
}

/* ---- the triage row and the ticket.triaged event ---------------------------- */

static const char *reason_or_null(const struct rules_decision *d, const char *s)
{
	return d->nmatched ? s : NULL;
}

/* A token count or status as the int4 column it goes to (larger: clamped). */
static int32_t int4_of(int64_t v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

static void float8_or_null(struct pgbin_rec *r, double v)
{
	if (isfinite(v))
		pgbin_float8(r, v);
	else
		pgbin_null(r, PGBIN_FLOAT8);
}

/* An id column: NULL when 0 (none). */
static void id_or_null(struct pgbin_rec *r, int64_t v)
{
	if (v > 0)
		pgbin_int8(r, v);
	else
		pgbin_null(r, PGBIN_INT8);
}

/*
 * A triage outcome as a triaged_store_in row (migration 061) in PostgreSQL's
 * binary format, its fields in the type's order (issue #15: no JSON for the
 * server to parse). Without an answer its fields are NULL. *len: its bytes.
 */
static char *triage_row(const struct store *s, const struct triage_rec *r, size_t *len)
{
	const struct answer *tr = r->answer;
	struct buf b;
	struct pgbin_rec w;

	buf_init(&b, s->row_cap);
	pgbin_rec_begin(&w, &b);
	pgbin_int8(&w, r->ticket_pk);
	pgbin_int4(&w, r->revision);
	pgbin_text(&w, job_status_name(r->status));
	pgbin_text(&w, r->status_reason);
	pgbin_text(&w, tr ? tr->category : NULL);
	pgbin_text(&w, tr ? sentiment_name(tr->sentiment) : NULL);
	pgbin_text(&w, tr ? urgency_name(tr->urgency) : NULL);
	if (tr)
		float8_or_null(&w, tr->confidence);
	else
		pgbin_null(&w, PGBIN_FLOAT8);
	pgbin_text(&w, tr ? tr->language : NULL);
	pgbin_text(&w, tr ? tr->summary : NULL);
	pgbin_text(&w, tr ? tr->draft_reply : NULL);
	pgbin_text(&w, tr ? model_tier_name(r->decided) : NULL);
	pgbin_text(&w, r->model);
	pgbin_text(&w, r->prompt_version);
	pgbin_bool(&w, r->t->body_truncated);
	pgbin_text(&w, rule_action_name(r->dec->action));
	pgbin_bool(&w, r->dec->action == RULE_ESCALATE);
	pgbin_text(&w, reason_or_null(r->dec, r->dec->reasons));
	pgbin_text(&w, reason_or_null(r->dec, r->dec->matched));
	pgbin_int4(&w, r->dec->nmatched ? r->dec->priority : 50);
	pgbin_text(&w, r->detector_flags);
	pgbin_text(&w, r->draft_flags);
	return row_bytes(&w, &b, len);
}

/*
 * The tickets.triaged event of a row stored now, from what was sent: the same
 * fields and values as the SQL event function builds for a stored row (the
 * cascade integration suite compares the two). PostgreSQL gives what only it
 * knows: the sequence (the row's id), triaged_at and the calls' cost.
 */
static char *event_json(const struct store *s, const struct triage_rec *r, int64_t sequence,
			const char *triaged_at, const char *cost_usd)
{
	const struct answer *tr = r->answer;
	const struct rules_decision *d = r->dec;
	struct buf b;
	struct jsonw w;

	buf_init(&b, s->row_cap);
	jsonw_begin(&w, &b);
	jsonw_str(&w, "type", "ticket.triaged");
	jsonw_int(&w, "schema_version", 1);
	jsonw_str(&w, "source", r->t->source);
	jsonw_str(&w, "ticket_id", r->t->ticket_id);
	jsonw_int(&w, "revision", r->revision);
	jsonw_int(&w, "sequence", sequence);
	jsonw_str(&w, "status", job_status_name(r->status));
	jsonw_str(&w, "status_reason", r->status_reason);
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
	jsonw_str(&w, "escalation_reasons", reason_or_null(d, d->reasons));
	jsonw_str(&w, "matched_rules", reason_or_null(d, d->matched));
	jsonw_int(&w, "priority", d->nmatched ? d->priority : 50);
	jsonw_str(&w, "decided_by", tr ? model_tier_name(r->decided) : NULL);
	jsonw_str(&w, "model", r->model);
	jsonw_str(&w, "prompt_version", r->prompt_version);
	jsonw_numtext(&w, "cost_usd", cost_usd);
	jsonw_str(&w, "triaged_at", triaged_at);
	return row_text(&w, &b);
}

static void on_triage_row(void *arg, const struct db_row *row, const char *err)
{
	struct pending *p = arg;
	store_triage_fn *cb = (store_triage_fn *)p->cb;
	const char *inserted = col(row, COL_STORE_INSERTED);
	struct store_result r;
	int64_t seq;

	memset(&r, 0, sizeof(r));
	if (row == NULL) {
		cb(p->arg, NULL, err);
		goto out;
	}
	if (row->ncols >= COL_STORE__COLS && inserted && inserted[0] == 't' &&
	    col(row, COL_STORE_ID) &&
	    parse_int64(col(row, COL_STORE_ID), 1, INT64_MAX, &seq) == 0) {
		/* stored now: the event is built here from what was stored */
		r.outcome = STORED_NOW;
		r.event = event_json(p->s, p->rec, seq, col(row, COL_STORE_TRIAGED_AT),
				     col(row, COL_STORE_COST));
	} else {
		/* stored before (a redelivery): the stored row's event, from the database */
		r.outcome = inserted && inserted[0] == 'f' ? STORED_DUPLICATE : STORED_UNKNOWN;
		r.event = col(row, COL_STORE_EVENT) ? xstrdup(col(row, COL_STORE_EVENT)) : NULL;
	}
	cb(p->arg, &r, NULL);
	free(r.event);
out:
	free(p);
}

int store_triage(struct store *s, const struct triage_rec *rec, store_triage_fn *cb, void *arg,
		 char *err, size_t errlen)
{
	size_t len = 0;
	char *row = triage_row(s, rec, &len);
	if (row == NULL) {
		set_err(err, errlen, "triage row over %zu bytes", s->row_cap);
		return -1;
	}
	db_submit_bin(s->db, DB_STORE, row, len, on_triage_row,
		      pending_new(s, (void *)cb, arg, rec));
	return 0;
}

/* ---- model calls, budgets, dead letters ---------------------------------------- */

/*
 * A model call as a triaged_call_in2 row (migrations 061, 066) in PostgreSQL's
 * binary format, its fields in the type's order: the server takes each
 * value as it is, with no JSON to parse (issue #15). What the JSON form
 * left out is NULL here. *len: its bytes.
 */
static char *call_row(const struct store *s, int64_t pk, int revision, const struct call_rec *c,
		      const char *model, const char *prompt_version, size_t *len)
{
	struct buf b;
	struct pgbin_rec r;
	const struct provider_error *pe = c->perr;

	buf_init(&b, s->row_cap);
	pgbin_rec_begin(&r, &b);
	pgbin_int8(&r, pk);
	pgbin_int4(&r, revision);
	pgbin_int4(&r, c->seq);
	pgbin_text(&r, model_tier_name(c->tier));
	pgbin_text(&r, call_purpose_name(c->purpose));
	pgbin_text(&r, model);
	pgbin_text(&r, prompt_version);
	pgbin_text(&r, call_outcome_name(c->outcome));
	pgbin_text(&r, c->error[0] ? c->error : NULL);
	if (c->http_status)
		pgbin_int4(&r, int4_of(c->http_status));
	else
		pgbin_null(&r, PGBIN_INT4);
	pgbin_int4(&r, c->attempts);
	pgbin_int4(&r, c->retries_429);
	pgbin_int4(&r, int4_of(c->usage.prompt_tokens));
	pgbin_int4(&r, int4_of(c->usage.completion_tokens));
	pgbin_int4(&r, int4_of(c->usage.cached_tokens));
	float8_or_null(&r, c->latency_ms);
	float8_or_null(&r, c->finished_ms - c->started_ms);
	float8_or_null(&r, c->started_ms);
	float8_or_null(&r, c->finished_ms);
	pgbin_text(&r, c->answer);
	pgbin_text(&r, c->budget_id > 0 ? c->reserved_usd : NULL);
	id_or_null(&r, c->budget_id);
	pgbin_int4(&r, int4_of(c->usage.reasoning_tokens));
	pgbin_text(&r, dialect_name(c->dialect));
	pgbin_text(&r, dialect_mode_name(c->mode));
	pgbin_text(&r, pe && pe->type[0] ? pe->type : NULL);
	pgbin_text(&r, pe && pe->code[0] ? pe->code : NULL);
	pgbin_text(&r, pe && pe->param[0] ? pe->param : NULL);
	id_or_null(&r, c->budget_id > 0 ? c->reservation_id : 0);
	pgbin_text(&r, c->request_id[0] ? c->request_id : NULL);
	return row_bytes(&r, &b, len);
}

static void on_call_row(void *arg, const struct db_row *row, const char *err)
{
	/* nothing waits for it: the store that follows on the same connection
	 * commits after it. A refused call row is logged; the ticket goes on. */
	if (row == NULL) {
		char q[300];
		log_error("model call not recorded", "error=%s",
			  log_quote(q, sizeof(q), err ? err : ""));
	}
}

void store_call(struct store *s, int64_t ticket_pk, int revision, const struct call_rec *c,
		const char *model, const char *prompt_version)
{
	size_t len = 0;
	char *row = call_row(s, ticket_pk, revision, c, model, prompt_version, &len);
	if (row == NULL) {
		log_error("model call not recorded", "error=\"row over the cap\"");
		return;
	}
	db_submit_bin(s->db, DB_CALL, row, len, on_call_row, NULL);
}

static void on_reserve_row(void *arg, const struct db_row *row, const char *err)
{
	struct pending *p = arg;
	store_reserve_fn *cb = (store_reserve_fn *)p->cb;
	struct reserve_result r = {0, 0, "0", 0, RESERVE_DENIED};
	int64_t bid = 0, rid = 0;
	const char *v;
	if (row == NULL) {
		cb(p->arg, NULL, err ? err : "no row");
		goto out;
	}
	r.granted = row->ncols >= COL_RESERVE__COLS && col(row, COL_RESERVE_GRANTED) &&
		    col(row, COL_RESERVE_GRANTED)[0] == 't';
	if (r.granted && col(row, COL_RESERVE_BUDGET_ID) &&
	    parse_int64(col(row, COL_RESERVE_BUDGET_ID), 1, INT64_MAX, &bid) == 0) {
		r.budget_id = bid;
		r.amount_usd = col(row, COL_RESERVE_AMOUNT) ? col(row, COL_RESERVE_AMOUNT) : "0";
		if (col(row, COL_RESERVE_ID) &&
		    parse_int64(col(row, COL_RESERVE_ID), 1, INT64_MAX, &rid) == 0)
			r.reservation_id = rid;
	}
	v = row->ncols >= COL_RESERVE__COLS ? col(row, COL_RESERVE_VERDICT) : NULL;
	if (r.granted)
		r.verdict = RESERVE_GRANTED;
	else if (v && strcmp(v, "busy") == 0)
		r.verdict = RESERVE_BUSY;
	else if (v && strcmp(v, "no_price") == 0)
		r.verdict = RESERVE_NO_PRICE;
	else if (v && strcmp(v, "priced") == 0)
		r.verdict = RESERVE_PRICED;
	cb(p->arg, &r, NULL);
out:
	free(p);
}

json_object *store_reserve_obj(const struct reserve_req *q)
{
	json_object *o = json_object_new_object();
	jadd_str(o, "tier", model_tier_name(q->tier));
	jadd_str(o, "model", q->model);
	jadd_str(o, "prompt_version", q->prompt_version);
	json_object_object_add(o, "prompt_tokens", json_object_new_int64(q->prompt_tokens));
	json_object_object_add(o, "max_tokens", json_object_new_int64(q->max_tokens));
	json_object_object_add(o, "completion_estimate",
			       json_object_new_int64(q->completion_estimate));
	jadd_str(o, "owner", q->owner);
	json_object_object_add(o, "lease_s", json_object_new_int(q->lease_s));
	if (q->dry_run)
		json_object_object_add(o, "dry_run", json_object_new_boolean(1));
	return o;
}

void store_reserve(struct store *s, const struct reserve_req *q, store_reserve_fn *cb, void *arg)
{
	json_object *o = store_reserve_obj(q);
	char key[24];
	if (!q->dry_run) {
		snprintf(key, sizeof(key), "%lld", (long long)++s->reserve_seq);
		jadd_str(o, "request_key", key);
	}
	db_submit_obj(s->db, DB_RESERVE, o, on_reserve_row, pending_new(s, (void *)cb, arg, NULL));
}

static void on_renew_row(void *arg, const struct db_row *row, const char *err)
{
	struct pending *p = arg;
	int64_t lost = -1;
	if (row == NULL) {
		char q[300];
		log_warn("budget leases not renewed", "error=%s",
			 log_quote(q, sizeof(q), err ? err : ""));
	} else if (row->ncols >= 3 && col(row, 2)) {
		if (parse_int64(col(row, 2), 0, INT64_MAX, &lost) < 0)
			lost = -1;
	}
	if (lost >= 0)
		((store_renew_fn *)p->cb)(p->arg, lost);
	free(p);
}

void store_renew(struct store *s, const char *owner, int lease_s, const struct store_held *held,
		 size_t n, store_renew_fn *cb, void *arg)
{
	json_object *o = json_object_new_object();
	jadd_str(o, "owner", owner);
	json_object_object_add(o, "lease_s", json_object_new_int(lease_s));
	if (n > 0) {
		json_object *a = json_object_new_array_ext((int)n);
		for (size_t i = 0; i < n; i++) {
			json_object *h = json_object_new_object();
			json_object_object_add(h, "p", json_object_new_int64(held[i].ticket_pk));
			json_object_object_add(h, "r", json_object_new_int(held[i].revision));
			json_object_array_add(a, h);
		}
		json_object_object_add(o, "held", a);
	}
	db_submit_obj(s->db, DB_RENEW, o, on_renew_row, pending_new(s, (void *)cb, arg, NULL));
}

void store_dead_letter(struct store *s, const char *topic, int32_t partition, int64_t offset,
		       const char *code, const char *reason, db_item_fn *cb, void *arg)
{
	json_object *o = json_object_new_object();
	jadd_str(o, "topic", topic);
	json_object_object_add(o, "partition", json_object_new_int(partition));
	json_object_object_add(o, "offset", json_object_new_int64(offset));
	jadd_str(o, "code", code);
	jadd_str(o, "reason", reason);
	db_submit_obj(s->db, DB_DEADLETTER, o, cb, arg);
}

/* ---- shadow answers ------------------------------------------------------------ */

static void on_shadow_row(void *arg, const struct db_row *row, const char *err)
{
	if (row == NULL) {
		char q[300];
		log_warn("shadow answer not recorded", "error=%s",
			 log_quote(q, sizeof(q), err ? err : ""));
	}
}

void store_shadow(struct store *s, const struct shadow_rec *r, db_item_fn *cb, void *arg)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ticket_pk", json_object_new_int64(r->ticket_pk));
	json_object_object_add(o, "revision", json_object_new_int(r->revision));
	jadd_str(o, "ticket_id", r->ticket_id);
	jadd_str(o, "model", r->model);
	jadd_str(o, "prompt_version", r->prompt_version);
	jadd_str(o, "outcome", r->outcome ? r->outcome : "http_error");
	if (r->answer) {
		jadd_str(o, "category", r->answer->category);
		jadd_str(o, "sentiment", sentiment_name(r->answer->sentiment));
		jadd_str(o, "urgency", urgency_name(r->answer->urgency));
		json_object_object_add(o, "confidence",
				       json_object_new_double(r->answer->confidence));
	}
	json_object_object_add(o, "prompt_tokens", json_object_new_int64(r->usage.prompt_tokens));
	json_object_object_add(o, "cached_tokens", json_object_new_int64(r->usage.cached_tokens));
	json_object_object_add(o, "completion_tokens",
			       json_object_new_int64(r->usage.completion_tokens));
	json_object_object_add(o, "latency_ms", json_object_new_double(r->latency_ms));
	db_submit_obj(s->db, DB_SHADOW, o, cb ? cb : on_shadow_row, cb ? arg : NULL);
}

void store_reserve_req_for(const struct model_caller *mcl, const struct model_calls *cs,
			   const struct hist *completion, double pct, const char *owner,
			   int lease_s, struct reserve_req *out)
{
	const struct call_rec *c = &cs->v[cs->n - 1];
	const struct model_config *mc = mcl->ep[c->tier].mc;
	struct reserve_req q = {0};
	struct dialect_params dp;
	/* the worst case the dialect allows: reasoning headroom included */
	dialect_params_for(mc, &dp);
	q.tier = c->tier;
	q.model = mc->model;
	q.prompt_version = model_call_prompt(mcl, c->tier, c->purpose)->version;
	/* about 4 bytes a token for text like this; 3 errs on the high side */
	q.prompt_tokens = (int64_t)(strlen(cs->request) / 3);
	q.max_tokens = dp.max_tokens;
	/* the estimate: a high percentile of this daemon's answers (capped by the SQL at
	 * max_tokens); until 20 answers, the worst case */
	q.completion_estimate = completion->count >= 20
				    ? (int64_t)(hist_quantile(completion, pct) + 1)
				    : (int64_t)dp.max_tokens;
	q.owner = owner;
	q.lease_s = lease_s;
	*out = q;
}

void store_reserve_call(struct store *s, const struct model_caller *mcl,
			const struct model_calls *cs, const struct hist *completion, double pct,
			const char *owner, int lease_s, store_reserve_fn *cb, void *arg)
{
	struct reserve_req q;
	store_reserve_req_for(mcl, cs, completion, pct, owner, lease_s, &q);
	store_reserve(s, &q, cb, arg);
}
