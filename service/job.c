/*
 * job: see job.h. Owns the lists and what each job holds; must never decide
 * where a job goes next.
 */
#include "job.h"

#include <stdlib.h>
#include <string.h>

static const struct job_notes no_notes;
static const struct rules_decision no_decision; /* action none, nothing matched */

const struct job_notes *job_notes_rd(const struct job *j)
{
	return j->nt ? j->nt : &no_notes;
}

struct job_notes *job_notes_wr(struct job *j)
{
	if (j->nt == NULL)
		j->nt = xcalloc(1, sizeof(*j->nt));
	return j->nt;
}

const struct rules_decision *job_decision(const struct job *j)
{
	return j->dec ? j->dec : &no_decision;
}

struct answer *job_answer(struct job *j)
{
	return j->has_ftr ? &j->ftr : j->has_tr ? &j->tr : NULL;
}

static void list_leave(struct job *j, double now)
{
	struct job_set *set = j->set;
	if (j->state >= JOB__STATES)
		return;
	hist_add(&set->visits[j->state], now - j->state_since);
	if (j->prev)
		j->prev->next = j->next;
	else
		set->lists[j->state] = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	set->count[j->state]--;
}

struct job *job_new(struct job_set *set, void *owner, struct kin_part *part, int64_t offset,
		    double now)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->owner = owner;
	j->set = set;
	j->state = JOB_NEW;
	j->part = part;
	j->offset = offset;
	j->received_ms = now;
	j->state_since = now;
	answer_init(&j->tr);
	answer_init(&j->ftr);
	redact_map_init(&j->pii);
	model_calls_init(&j->calls);
	kin_part_ref(part);
	(*set->in_flight)++;
	return j;
}

void job_set_state(struct job *j, enum job_state s, double now)
{
	struct job_set *set = j->set;
	if (s >= JOB__STATES)
		return;
	/* every call is a visit, even to the same state (a second attempt);
	 * the first state's visit counts from receipt */
	if (j->state < JOB__STATES) {
		list_leave(j, now);
		j->state_since = now;
	}
	j->state = s;
	j->next = set->lists[s];
	if (j->next)
		j->next->prev = j;
	set->lists[s] = j;
	set->count[s]++;
}

void job_retire(struct job *j, double now)
{
	struct job_set *set;
	if (j == NULL || j->state == JOB_DONE)
		return;
	set = j->set;
	list_leave(j, now);
	(*set->in_flight)--;
	/* nothing may call back into a retired job */
	model_calls_cleanup(&j->calls);
	if (j->ev_backoff)
		event_free(j->ev_backoff);
	j->ev_backoff = NULL;
	j->state = JOB_DONE;
	j->next = set->retired;
	set->retired = j;
}

static void raw_discard(void *p)
{
	struct job_raw *r = p;
	free(r->key);
	free(r->payload);
	free(r);
}

static void raw_free(struct job *j)
{
	if (j->raw == NULL)
		return;
	raw_discard(j->raw);
	j->raw = NULL;
}

static void ticket_discard(void *p)
{
	ticket_free(p);
}

static void put_discard(void *off, void *block)
{
	offload_discard(off, free, block);
}

void job_keep_raw(struct job *j, const void *key, size_t keylen, const void *payload, size_t len)
{
	raw_free(j);
	j->raw = xcalloc(1, sizeof(*j->raw));
	if (key) {
		j->raw->key = xmalloc(keylen ? keylen : 1);
		memcpy(j->raw->key, key, keylen);
		j->raw->keylen = keylen;
	}
	j->raw->payload = xmalloc(len ? len : 1);
	if (len)
		memcpy(j->raw->payload, payload, len);
	j->raw->len = len;
}

static void job_free(struct job *j, struct offload *off)
{
	/* the worker's allocations: back to a worker (its arena's lock is not the loop's) */
	offload_discard(off, raw_discard, j->raw);
	j->raw = NULL;
	offload_discard(off, ticket_discard, j->t);
	j->t = NULL;
	offload_discard(off, free, j->p_subject);
	offload_discard(off, free, j->p_body);
	j->p_subject = j->p_body = NULL;
	rules_text_release(&j->rt, put_discard, off);
	free(j->nt);
	free(j->dec);
	free(j->claim_row);
	if (j->prep) {
		if (j->prep->msg) /* dropped before it was prepared */
			rd_kafka_message_destroy(j->prep->msg);
		ticket_free(j->prep->r.t); /* not yet moved to the job: dropped while preparing */
		free(j->prep);
	}
	free(j->event);
	job_dead_letter_free(j);
	free(j->p_subject);
	free(j->p_body);
	redact_map_cleanup(&j->pii);
	answer_cleanup(&j->tr);
	answer_cleanup(&j->ftr);
	ticket_free(j->t);
	kin_part_unref(j->part);
	free(j);
}

size_t job_reap(struct job_set *set, struct offload *off)
{
	size_t n = 0;
	while (set->retired) {
		struct job *j = set->retired;
		set->retired = j->next;
		job_free(j, off);
		n++;
	}
	offload_discard_flush(off);
	return n;
}

void job_dead_letter_note(struct job *j, const char *topic, int32_t partition, const char *code,
			  const char *reason)
{
	job_dead_letter_free(j);
	j->dl = xcalloc(1, sizeof(*j->dl));
	j->dl->topic = xstrdup(topic ? topic : "");
	j->dl->partition = partition;
	j->dl->code = xstrdup(code ? code : "");
	j->dl->reason = xstrdup(reason ? reason : "");
}

void job_dead_letter_free(struct job *j)
{
	if (j->dl == NULL)
		return;
	free(j->dl->topic);
	free(j->dl->code);
	free(j->dl->reason);
	free(j->dl);
	j->dl = NULL;
}

enum rule_action job_eval_rules(struct job *j, const struct rules *r, unsigned gen,
				size_t regex_text_max)
{
	struct rules_input in;
	memset(&in, 0, sizeof(in));
	in.ticket = j->t;
	in.mini = j->has_tr ? &j->tr : NULL;
	in.mini_invalid = j->mini_invalid;
	in.regex_text_max = regex_text_max; /* what the rules' regexes see of subject and body */
	if (j->rt.n > 0 && j->rt_gen == gen)
		in.text = &j->rt;
	if (job_notes_rd(j)->detector_flags[0]) {
		in.flags[0] = "injection";
		in.nflags = 1;
	}
	free(j->dec);
	j->dec = NULL;
	if (r) {
		struct rules_decision d;
		memset(&d, 0, sizeof(d));
		rules_eval(r, &in, &d);
		/* most tickets match nothing: keep a decision only when there is one */
		if (d.nmatched || d.action != RULE_NONE) {
			j->dec = xmalloc(sizeof(*j->dec));
			*j->dec = d;
		}
	}
	return job_decision(j)->action;
}

void job_facts(struct job *j, enum job_state s, const struct config *cfg, struct job_facts *f)
{
	const struct call_rec *c = model_calls_cur(&j->calls);
	memset(f, 0, sizeof(*f));
	f->state = s;
	if (c) {
		f->call_tier = c->tier;
		f->call_purpose = c->purpose;
	}
	f->ncalls = j->calls.n;
	f->has_mini = j->has_tr != 0;
	f->redact_failed = j->redact_failed != 0;
	f->budget_enforce = cfg->budget_enforce != 0;
	f->mini_waits_budget = cfg->mini_on_exhausted == 1;
	f->retry_reserve = j->retry_reserve != 0;
	f->retry_claim = j->retry_claim != 0;
	f->events_on = cfg->events_topic[0] != '\0';
	f->has_event = j->event != NULL;
	f->wait_ms = j->wait_ms;
	f->detail = j->detail;
	f->mini_error = job_notes_rd(j)->mini_error;
	f->rule_reasons = job_decision(j)->reasons;
}
