/*
 * pipeline: the coordinator. Turns every I/O result into a cascade event,
 * asks cascade_step() what to do, and does it: the walk from Kafka message
 * to commit is fire() -> cascade_step() -> run() -> one I/O call, and back
 * through one callback per kind of result. Owns the Kafka consumer and
 * producer, the database, the flagship slots and intake control. Must never
 * decide a transition itself, and never drop a job: every job ends in DONE
 * through a durable write (triage row or dead letter), or stays uncommitted
 * for the next owner.
 */
#include "pipeline.h"
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define JLOG(l, j, msg, ...)                                                                       \
	log_ticket_at(l, (j)->t ? (j)->t->ticket_id : NULL, (int)kin_part_partition((j)->part),    \
		      (long long)(j)->offset, msg, __VA_ARGS__)

static void fire(struct job *j, enum job_event ev);

/* ---- the end of a job ----------------------------------------------------- */

/* ---- escalation parking (issue #15 part 2) ----------------------------------------
 * From the moment it joins the flagship queue until its flagship slot is released, an
 * escalation is parked: it does not count against intake.max_in_flight (intake_control.c),
 * so the mini path keeps flowing while the flagship is the bottleneck. */

static void park(struct job *j)
{
	struct pipeline *pl = j->owner;
	if (j->parked)
		return;
	j->parked = 1;
	pl->st.flagship_parked++;
}

static void unpark(struct job *j)
{
	struct pipeline *pl = j->owner;
	if (!j->parked)
		return;
	j->parked = 0;
	pl->st.flagship_parked--;
}

/* ---- end of escalation parking ---------------------------------------------------- */

static void release_flagship(struct job *j)
{
	struct pipeline *pl = j->owner;
	unpark(j);
	if (!j->flagship_slot)
		return;
	j->flagship_slot = 0;
	pl->flagship_active--;
	/* deferred: starting the next escalation here could recurse into this job's caller */
	event_active(pl->ev_fpump, EV_TIMEOUT, 0);
}

void pipeline_drop_job(struct job *j)
{
	struct pipeline *pl = j->owner;
	if (j->state == JOB_FLAGSHIP_WAIT)
		flagship_queue_remove(&pl->fq, &j->fq);
	release_flagship(j);
	job_retire(j, pipeline_now_ms());
	event_active(pl->ev_reap, EV_TIMEOUT, 0);
	pipeline_update_pause(pl);
	if (pipeline_drained(pl)) {
		log_info("drained", "%s", "");
		pipeline_exit_loop(pl);
	}
}

/* ACT_FINISH: the ticket is durable (or dead-lettered): release its offset and the job. */
static void finish(struct job *j)
{
	struct pipeline *pl = j->owner;
	double e2e = pipeline_now_ms() - j->received_ms;
	int fresh;
	double model = model_calls_wait_ms(&j->calls, &fresh);
	if (j->t != NULL) /* a skipped message is no ticket */
		hist_add(&pl->st.e2e_ms, e2e);
	if (fresh) {
		hist_add(&pl->st.model_ms, model);
		hist_add(&pl->st.added_ms, e2e - model);
	}
	kin_done(pl->kin, j->part, j->offset);
	pipeline_drop_job(j);
}

/* ---- I/O results become events ------------------------------------------------ */

static void on_delivered(void *arg)
{
	fire(arg, EV_DELIVERED);
}

#define DEAD_LETTER_ROW_ATTEMPTS 3

/* Its dead_letters row is in (or refused DEAD_LETTER_ROW_ATTEMPTS times, logged):
 * only now is the job done, so no record is on the topic without its row. */
static void on_dead_letter_row(void *arg, const struct db_row *row, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->owner;
	char q[300];
	if (row == NULL && j->dl && ++j->dl->row_attempts < DEAD_LETTER_ROW_ATTEMPTS) {
		JLOG(LOG_L_WARN, j, "dead letter row refused, retrying", "attempt=%d error=%s",
		     j->dl->row_attempts, log_quote(q, sizeof(q), err ? err : ""));
		store_dead_letter(&pl->store, j->dl->topic, j->dl->partition, j->offset,
				  j->dl->code, j->dl->reason, on_dead_letter_row, j);
		return;
	}
	if (row == NULL)
		JLOG(LOG_L_ERROR, j, "dead letter not recorded in the database", "error=%s",
		     log_quote(q, sizeof(q), err ? err : ""));
	if (j->dl)
		pl->dl_rows--;
	job_dead_letter_free(j);
	fire(j, EV_DELIVERED);
}

/* The dead letter is in its topic: record it for supervisors, then finish the job. */
static void on_dead_letter_delivered(void *arg)
{
	struct job *j = arg;
	struct pipeline *pl = j->owner;
	if (j->dl) {
		pl->dl_rows++; /* the final flush waits for it (pipeline_exit_loop) */
		store_dead_letter(&pl->store, j->dl->topic, j->dl->partition, j->offset,
				  j->dl->code, j->dl->reason, on_dead_letter_row, j);
		return;
	}
	fire(j, EV_DELIVERED);
}

static void on_claimed(void *arg, struct claim_result *r, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->owner;
	if (r == NULL) {
		j->detail = err;
		fire(j, EV_DB_REJECTED);
		return;
	}
	j->ticket_pk = r->pk;
	j->revision = r->revision;
	switch (r->state) {
	case CLAIM_DONE:
		/* triaged before; its event may have been lost with a crash: send it again */
		pl->st.redelivered_done++;
		JLOG(LOG_L_DEBUG, j, "redelivered ticket already triaged", "revision=%d",
		     j->revision);
		j->event = r->event ? xstrdup(r->event) : NULL;
		fire(j, EV_CLAIMED_DONE);
		return;
	case CLAIM_NEW:
		pl->st.claimed_new++;
		break;
	case CLAIM_UPDATED:
		pl->st.claimed_updated++;
		break;
	case CLAIM_PENDING:
		pl->st.claimed_pending++;
		break;
	case CLAIM_ELSEWHERE:
		/* a rebalance moved the ticket's partition here while another daemon's
		 * job for it runs: that job stores it (then this claim finds it done), or
		 * the daemon stops saying it is alive and this one takes it over */
		pl->st.claimed_elsewhere++;
		if (j->elsewhere++ == 0)
			JLOG(LOG_L_DEBUG, j, "ticket in flight at another daemon, claiming again later",
			     "revision=%d", j->revision);
		j->retry_claim = 1;
		j->wait_ms = (uint32_t)(j->elsewhere < 5 ? 1000 * j->elsewhere : 5000) +
			     (uint32_t)(j->offset % 250);
		fire(j, EV_CLAIMED_ELSEWHERE);
		return;
	}
	model_calls_set_prior(&j->calls, r->prior);
	r->prior = NULL;
	j->detail = job_notes_rd(j)->redact_err;
	fire(j, EV_CLAIMED);
}

/* A final call is persisted at once (a redelivered ticket reuses it); a valid answer is kept. */
static void call_ended(struct job *j, enum job_event ev)
{
	struct pipeline *pl = j->owner;
	struct call_rec *c = model_calls_cur(&j->calls);
	if (ev == EV_ANSWER_OK)
		*(c->tier == MODEL_MINI ? &j->has_tr : &j->has_ftr) = 1;
	if (model_call_final(ev) && !c->reused)
		store_call(&pl->store, j->ticket_pk, j->revision, c, pl->mcl->ep[c->tier].mc->model,
			   model_call_prompt(pl->mcl, c->tier, c->purpose)->version);
}

static void on_model_done(void *arg, const struct llm_result *res)
{
	struct job *j = arg;
	struct pipeline *pl = j->owner;
	struct call_rec *c = model_calls_cur(&j->calls);
	enum job_event ev;
	pl->why[0] = '\0';
	ev = model_call_result(pl->mcl, &j->calls, res, pipeline_now_ms(),
			       c->tier == MODEL_MINI ? &j->tr : &j->ftr, &j->wait_ms, pl->why,
			       sizeof(pl->why));
	if (c->usage.completion_tokens > 0)
		hist_add(&pl->completion[c->tier], (double)c->usage.completion_tokens);
	call_ended(j, ev);
	j->detail = pl->why;
	fire(j, ev);
}

static void on_reserved(void *arg, const struct reserve_result *r, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->owner;
	struct call_rec *c = model_calls_cur(&j->calls);
	if (r && r->granted) {
		if (r->budget_id > 0) {
			c->budget_id = r->budget_id;
			c->reservation_id = r->reservation_id;
			snprintf(c->reserved_usd, sizeof(c->reserved_usd), "%s", r->amount_usd);
		}
		pl->no_price[c->tier] = 0;
		if (c->tier == MODEL_MINI && (pl->pause_flags & PAUSE_BUDGET))
			pipeline_set_pause(pl, PAUSE_BUDGET, 0);
		fire(j, EV_RESERVED);
		return;
	}
	if (r && r->verdict == RESERVE_BUSY) {
		/* calls in flight hold the budget; spread the retries over one more interval */
		uint32_t base = (uint32_t)pl->cfg->budget_busy_retry_ms;
		j->wait_ms = base + (uint32_t)((uint64_t)(j->offset * 2654435761u +
							  (uint64_t)pipeline_now_ms()) %
						   base);
		fire(j, EV_BUDGET_BUSY);
		return;
	}
	if (r && r->verdict == RESERVE_NO_PRICE) {
		const char *model = pl->mcl->ep[c->tier].mc->model;
		if (!pl->no_price[c->tier])
			log_error("configuration error: the model has no price row; budget.enforce "
				  "refuses the tier until one exists (deploy/prices.sql)",
				  "tier=%s model=%s", model_tier_name(c->tier), model);
		pl->no_price[c->tier] = 1;
		snprintf(pl->why, sizeof(pl->why),
			 "no price row for model %s: budget.enforce cannot check its cost", model);
		err = pl->why;
	}
	pl->st.budget_denied[c->tier]++;
	j->detail = err;
	fire(j, r == NULL ? EV_BUDGET_FAILED : EV_BUDGET_DENIED);
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
	fire(arg, EV_TIMER);
}

static void on_stored(void *arg, struct store_result *r, const char *err)
{
	struct job *j = arg;
	struct pipeline *pl = j->owner;
	int review = j->status == STATUS_PENDING_REVIEW;
	if (r == NULL) {
		j->detail = err ? err : "unknown";
		fire(j, EV_DB_REJECTED);
		return;
	}
	if (r->outcome == STORED_DUPLICATE)
		pl->st.stored_duplicate++;
	else if (review)
		pl->st.stored_pending_review++;
	else
		pl->st.stored_needs_human++;
	if (j->has_ftr && review)
		pl->st.flagship_decided++;
	JLOG(LOG_L_DEBUG, j, "ticket stored", "status=%s", job_status_name(j->status));
	/* fire-and-forget after the row is durable: the ticket never waits for it */
	if (r->outcome == STORED_NOW && pl->shadow)
		shadow_offer(pl->shadow, j->t, &j->pt, j->ticket_pk, j->revision);
	j->event = r->event;
	r->event = NULL;
	fire(j, EV_STORED);
}

/* ---- the actions ------------------------------------------------------------------ */

/* The job's ticket as the claim and the dead letters name it. */
static struct claim_req claim_req_of(const struct job *j)
{
	struct claim_req q = {j->t, kin_part_topic(j->part), kin_part_partition(j->part), j->offset,
			      &j->pii};
	return q;
}

static enum job_event act_claim(struct job *j)
{
	struct pipeline *pl = j->owner;
	/* built while preparing: escaping a large body is not the loop's work */
	char *row = j->claim_row;
	j->claim_row = NULL;
	j->retry_claim = 0;
	if (row == NULL && j->elsewhere > 0) {
		/* claimed again (another daemon held it): built here, without the fields
		 * only stored (metadata, original: dropped once the first row was built).
		 * Nothing of them is written: the revision exists by its content hash, so
		 * the claim only reads it, or takes it over */
		struct claim_req q = claim_req_of(j);
		row = store_claim_row(&pl->store, &q, &j->claim_len);
	}
	if (store_claim(&pl->store, row, j->claim_len, on_claimed, j, pl->why, sizeof(pl->why)) ==
	    0)
		return EV_NONE;
	j->detail = pl->why;
	return EV_DB_REJECTED;
}

static enum job_event act_call(struct job *j, const struct cascade_action *a)
{
	struct pipeline *pl = j->owner;
	struct prompt_vars v = {.ticket = &j->pt,
				.tax = &pl->tax,
				.mini = j->has_tr ? &j->tr : NULL,
				.mini_error = job_notes_rd(j)->mini_error,
				.escalation_reasons = job_decision(j)->reasons};
	enum job_event ev;
	pl->why[0] = '\0';
	ev = model_call_prepare(pl->mcl, &j->calls, a->tier, a->purpose, v, pipeline_now_ms(),
				a->tier == MODEL_MINI ? &j->tr : &j->ftr, pl->why, sizeof(pl->why));
	if (ev == EV_ANSWER_OK || ev == EV_ANSWER_INVALID)
		JLOG(LOG_L_DEBUG, j, "model call reused", "tier=%s seq=%d",
		     model_tier_name(a->tier), model_calls_cur(&j->calls)->seq);
	if (ev != EV_PROMPT_FAILED)
		call_ended(j, ev);
	j->detail = pl->why;
	return ev;
}

static enum job_event act_send(struct job *j)
{
	struct pipeline *pl = j->owner;
	int may = model_call_may_send(pl->mcl, &j->calls, pipeline_now_ms(), &j->wait_ms);
	if (may < 0) {
		/* refused for this ticket alone (#11): the call ends as it is */
		struct call_rec *c = model_calls_cur(&j->calls);
		snprintf(pl->why, sizeof(pl->why), "%s after %d attempts", c->error, c->attempts);
		call_ended(j, EV_MODEL_FAILED);
		j->detail = pl->why;
		return EV_MODEL_FAILED;
	}
	if (may == 0)
		return EV_RESTING;
	job_set_state(j, JOB_MODEL, pipeline_now_ms());
	model_call_submit(pl->mcl, &j->calls, on_model_done, j);
	return EV_NONE;
}

static void act_reserve(struct job *j)
{
	struct pipeline *pl = j->owner;
	struct call_rec *c = model_calls_cur(&j->calls);
	j->retry_reserve = 0;
	store_reserve_call(&pl->store, pl->mcl, &j->calls, &pl->completion[c->tier],
			   (double)pl->cfg->budget_estimate_pct / 100.0, pl->owner,
			   (int)pl->cfg->budget_lease_s, on_reserved, j);
}

static void act_wait(struct job *j, uint32_t ms)
{
	struct pipeline *pl = j->owner;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	if (j->ev_backoff == NULL)
		j->ev_backoff = evtimer_new(pl->base, on_backoff, j);
	evtimer_add(j->ev_backoff, &tv);
}

/* The mini step has its answer (valid, or invalid after repair): the rules decide. */
static enum job_event act_decide(struct job *j, const struct cascade_action *a)
{
	struct pipeline *pl = j->owner;
	if (a->mini_invalid) {
		j->mini_invalid = 1;
		snprintf(job_notes_wr(j)->mini_error, sizeof(j->nt->mini_error), "%s", a->detail);
	}
	switch (job_eval_rules(j, pl->rules, pl->rules_gen,
			       (size_t)pl->cfg->rules_regex_text_bytes)) {
	case RULE_ESCALATE:
		pl->st.escalated++;
		return EV_RULE_ESCALATE;
	case RULE_HUMAN_ONLY:
		pl->st.human_only++;
		return EV_RULE_HUMAN_ONLY;
	default:
		return EV_RULE_NONE;
	}
}

/* Give free flagship slots to the most valuable escalations. */
static void flagship_pump(struct pipeline *pl)
{
	while (flagship_queue_len(&pl->fq) > 0 &&
	       pl->flagship_active < (size_t)pl->cfg->flagship.max_concurrency) {
		struct fq_item *it = flagship_queue_pop(&pl->fq);
		struct job *j = (struct job *)(void *)((char *)it - offsetof(struct job, fq));
		j->flagship_slot = 1;
		pl->flagship_active++;
		fire(j, EV_FLAGSHIP_SLOT);
	}
}

void pipeline_on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *pl = arg;
	job_reap(&pl->jobs, pl->off);
}

void pipeline_on_fpump(evutil_socket_t fd, short what, void *arg)
{
	flagship_pump(arg);
}

static void act_queue_flagship(struct job *j)
{
	struct pipeline *pl = j->owner;
	/* an invalid first pass counts as high: someone must look soon */
	j->fq.urgency = j->has_tr ? (int)j->tr.urgency : (int)URG_HIGH;
	j->fq.tier = (int)j->t->tier;
	j->fq.received_ms = j->received_ms;
	park(j);
	flagship_queue_push(&pl->fq, &j->fq);
	flagship_pump(pl);
	/* parked: intake may take another ticket, unless the queue is full */
	pipeline_update_pause(pl);
}

static enum job_event act_store(struct job *j, const struct cascade_action *a)
{
	struct pipeline *pl = j->owner;
	const struct job_notes *n;
	struct answer *tr;
	release_flagship(j);
	if (a->drop_call)
		model_calls_drop(&j->calls);
	if (a->status == STATUS_NEEDS_HUMAN) {
		/* the detail may be one of the notes: copy through a local buffer */
		char r[sizeof(j->nt->reason)];
		snprintf(r, sizeof(r), "%s: %s", a->what, a->detail);
		memcpy(job_notes_wr(j)->reason, r, sizeof(r));
	}
	safety_check_draft(&pl->safety, j);
	n = job_notes_rd(j);
	if (n->draft_flags[0] && n->reason[0] == '\0' && a->status == STATUS_PENDING_REVIEW)
		snprintf(job_notes_wr(j)->reason, sizeof(j->nt->reason), "draft flagged: %s",
			 j->nt->draft_flags);
	j->status = a->status;
	n = job_notes_rd(j);
	tr = job_answer(j);
	j->rec = (struct triage_rec){
	    .t = j->t,
	    .ticket_pk = j->ticket_pk,
	    .revision = j->revision,
	    .status = j->status,
	    .status_reason = n->reason[0] ? n->reason : NULL,
	    .answer = tr,
	    .decided = j->has_ftr ? MODEL_FLAGSHIP : MODEL_MINI,
	    .dec = job_decision(j),
	    .detector_flags = n->detector_flags[0] ? n->detector_flags : NULL,
	    .draft_flags = n->draft_flags[0] ? n->draft_flags : NULL,
	};
	j->rec.model = pl->mcl->ep[j->rec.decided].mc->model;
	j->rec.prompt_version = pl->mcl->ep[j->rec.decided].prompt->version;
	if (store_triage(&pl->store, &j->rec, on_stored, j, pl->why, sizeof(pl->why)) == 0)
		return EV_NONE;
	j->detail = pl->why;
	return EV_DB_REJECTED;
}

static void dead_letter(struct job *j, const char *topic, int32_t partition, const void *key,
			size_t keylen, const void *payload, size_t len, const char *code,
			const char *reason)
{
	struct pipeline *pl = j->owner;
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
	job_dead_letter_note(j, topic, partition, code, reason);
	kout_produce(pl->kout, pl->cfg->dlq_topic, key, keylen, payload, len, h, ARRAY_SIZE(h),
		     on_dead_letter_delivered, j);
}

/* The database refuses this ticket's data: keep it as a dead letter with the reason. */
static void act_reject(struct job *j, const char *err)
{
	struct pipeline *pl = j->owner;
	struct claim_req q = claim_req_of(j);
	char *e = xstrdup(err ? err : "unknown"); /* err may be the scratch text */
	char reason[512], eq[600];
	pl->st.db_rejected++;
	/* the reason in the contract's words; the SQL in err stays in the log */
	JLOG(LOG_L_ERROR, j, "ticket rejected by database", "error=%s",
	     log_quote(eq, sizeof(eq), e));
	/* the message as it came, key and bytes (#18.2), not the claim row */
	if (j->raw)
		dead_letter(j, q.topic, q.partition, j->raw->key, j->raw->keylen, j->raw->payload,
			    j->raw->len, "db_rejected",
			    ticket_db_reason(e, reason, sizeof(reason)));
	else
		dead_letter(j, q.topic, q.partition, j->t->ticket_id, strlen(j->t->ticket_id), "",
			    0, "db_rejected", ticket_db_reason(e, reason, sizeof(reason)));
	free(e);
}

static enum job_event act_prepare(struct job *j);

static enum job_event run(struct job *j, const struct cascade_action *a)
{
	struct pipeline *pl = j->owner;
	const struct job_intake *in = j->intake;
	if (pl->abandoning && (a->act == ACT_CALL || a->act == ACT_RESERVE || a->act == ACT_SEND ||
			       a->act == ACT_WAIT || a->act == ACT_WAIT_BUDGET ||
			       a->act == ACT_WAIT_CLAIM ||
			       a->act == ACT_QUEUE_FLAGSHIP)) {
		/* past the drain timeout nothing new is paid for: the ticket stays
		 * uncommitted and its next owner triages it */
		pipeline_drop_job(j);
		return EV_NONE;
	}
	switch (a->act) {
	case ACT_PREPARE:
		return act_prepare(j);
	case ACT_CLAIM:
		return act_claim(j);
	case ACT_CALL:
		return act_call(j, a);
	case ACT_RESERVE:
		act_reserve(j);
		return EV_NONE;
	case ACT_SEND:
		return act_send(j);
	case ACT_WAIT_BUDGET:
		/* pause intake; this ticket waits and asks again */
		pipeline_set_pause(pl, PAUSE_BUDGET, 1);
		/* fall through */
	case ACT_WAIT_RESERVE:
		j->retry_reserve = 1;
		act_wait(j, a->wait_ms);
		return EV_NONE;
	case ACT_WAIT_CLAIM:
		j->retry_claim = 1;
		act_wait(j, a->wait_ms);
		return EV_NONE;
	case ACT_WAIT:
		act_wait(j, a->wait_ms);
		return EV_NONE;
	case ACT_DECIDE:
		return act_decide(j, a);
	case ACT_QUEUE_FLAGSHIP:
		act_queue_flagship(j);
		return EV_NONE;
	case ACT_STORE:
		return act_store(j, a);
	case ACT_PUBLISH:
		pl->st.events_sent++;
		kout_produce(pl->kout, pl->cfg->events_topic, j->t->ticket_id,
			     strlen(j->t->ticket_id), j->event, strlen(j->event), NULL, 0,
			     on_delivered, j);
		return EV_NONE;
	case ACT_DEAD_LETTER:
		dead_letter(j, in->topic, in->partition, in->key, in->keylen, in->payload, in->len,
			    in->code, in->reason);
		return EV_NONE;
	case ACT_REJECT:
		act_reject(j, j->detail);
		return EV_NONE;
	case ACT_FINISH:
		finish(j);
		return EV_NONE;
	case ACT_ERROR:
	case ACT__COUNT:
		break;
	}
	return EV_NONE;
}

/* ---- the machine ---------------------------------------------------------------- */

/*
 * Step the job's machine from ev until it waits for I/O: decide, move the
 * job to the state it now waits in, act. The action may answer at once with
 * the next event (a reused answer, the rules' verdict); the job must not be
 * touched after an action that may have freed it (ACT_FINISH).
 */
static void fire(struct job *j, enum job_event ev)
{
	const struct pipeline *pl = j->owner;
	enum job_state cur = j->state;
	while (ev != EV_NONE) {
		struct job_facts f;
		struct cascade_action a;
		enum job_state next;
		job_facts(j, cur, pl->cfg, &f);
		next = cascade_step(&f, ev, &a);
		if (a.act == ACT_ERROR) {
			JLOG(LOG_L_ERROR, j, "cascade: impossible event, the job stays",
			     "state=%s event=%s", job_state_name(cur), job_event_name(ev));
			return;
		}
		if (cascade_act_waits(a.act))
			job_set_state(j, next, pipeline_now_ms());
		cur = next;
		ev = run(j, &a);
	}
}

/* ---- intake --------------------------------------------------------------------- */

/*
 * ACT_PREPARE's work: parse, flag injections, redact, match the rules' text.
 * Runs on an offload worker (or inline with intake.prepare_threads = 0):
 * it touches only its job and what no one changes while the daemon runs
 * (the intake mapping, the redactor, the rule set it was given).
 */
void pipeline_prepare_work(struct offload_item *it, void *arg)
{
	struct pipeline *pl = arg;
	struct job_prep *p = (struct job_prep *)(void *)it;
	struct job *j = p->job;

	if (p->msg != NULL) {
		rd_kafka_message_t *m = p->msg;
		job_keep_raw(j, m->key, m->key_len, m->payload, m->len);
		rd_kafka_message_destroy(m);
		p->msg = NULL;
	}
	intake_parse_counted(pl->intake, p->tombstone ? NULL : j->raw->payload, j->raw->len,
			     j->raw->key, j->raw->keylen, p->kafka_ts_ms, &p->r, &p->st);
	if (p->r.outcome != INTAKE_TICKET)
		return;
	j->t = p->r.t;
	p->r.t = NULL;
	safety_prepare(&pl->safety, j, &p->safety);
	if (p->rules != NULL) {
		struct rules_input in;
		memset(&in, 0, sizeof(in));
		in.ticket = j->t;
		in.regex_text_max = p->regex_text_max;
		rules_prepare_text(p->rules, &in, &j->rt);
	}
	{
		/* the claim's row holds the whole body: build it here too */
		struct claim_req q = claim_req_of(j);
		j->claim_row = store_claim_row(&pl->store, &q, &j->claim_len);
		ticket_drop_stored_only(j->t);
	}
}

/* The loop's half of a prepared job: count, log, and the event it goes on with. */
static enum job_event prepared(struct pipeline *pl, struct job *j)
{
	struct job_prep *p = j->prep;
	char q[300];

	intake_stats_add(pl->intake, &p->st);
	pipeline_rules_release(pl, p->rules_gen);
	switch (p->r.outcome) {
	case INTAKE_SKIP:
		/* nothing to triage (a tombstone, an agent's event): not a dead
		 * letter, counted by intake; the offset advances at once */
		log_debug("message skipped", "partition=%d offset=%lld reason=%s",
			  (int)kin_part_partition(j->part), (long long)j->offset,
			  log_quote(q, sizeof(q), p->r.reason));
		return EV_SKIPPED;
	case INTAKE_DEAD:
		p->in = (struct job_intake){kin_part_topic(j->part),
					    kin_part_partition(j->part),
					    j->raw->key,
					    p->tombstone ? NULL : j->raw->payload,
					    j->raw->keylen,
					    j->raw->len,
					    ticket_err_code(p->r.code),
					    p->r.reason};
		log_warn("invalid ticket, dead-lettered", "partition=%d offset=%lld code=%s",
			 (int)kin_part_partition(j->part), (long long)j->offset,
			 ticket_err_code(p->r.code));
		j->intake = &p->in; /* prep lives until the job is freed */
		return EV_PARSE_FAILED;
	default:
		safety_account(&pl->safety, j, &p->safety);
		j->rt_gen = p->rules_gen;
		free(j->prep);
		j->prep = NULL;
		return EV_PARSED;
	}
}

static enum job_event act_prepare(struct job *j)
{
	struct pipeline *pl = j->owner;
	struct job_prep *p = j->prep;

	p->rules = pl->rules;
	p->rules_gen = pl->rules_gen;
	p->regex_text_max = (size_t)pl->cfg->rules_regex_text_bytes;
	pl->rules_users++;
	if (pl->off != NULL) {
		offload_submit(pl->off, &p->item);
		return EV_NONE;
	}
	pipeline_prepare_work(&p->item, pl);
	return prepared(pl, j);
}

void pipeline_on_prepared(struct offload_item *it, void *arg)
{
	struct pipeline *pl = arg;
	struct job *j = ((struct job_prep *)(void *)it)->job;

	fire(j, prepared(pl, j));
	pipeline_update_pause(pl);
}

void pipeline_on_message(void *arg, struct kin_part *part, rd_kafka_message_t *m)
{
	struct pipeline *pl = arg;
	struct job *j;

	pl->st.consumed++;
	j = job_new(&pl->jobs, pl, part, m->offset, pipeline_now_ms());
	/* the message as it came: the worker copies it into the job's raw (a dead
	 * letter carries those bytes) and parses it; not copied here (#16: the copy of
	 * a 256 KiB message was most of the loop's long passes) */
	j->prep = xcalloc(1, sizeof(*j->prep));
	j->prep->job = j;
	j->prep->msg = m;
	j->prep->tombstone = m->payload == NULL;
	j->prep->kafka_ts_ms = rd_kafka_message_timestamp(m, NULL);
	fire(j, EV_RECEIVED);
	pipeline_update_pause(pl);
}
