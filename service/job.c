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

static void job_free(struct job *j)
{
	free(j->nt);
	free(j->dec);
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

size_t job_reap(struct job_set *set)
{
	size_t n = 0;
	while (set->retired) {
		struct job *j = set->retired;
		set->retired = j->next;
		job_free(j);
		n++;
	}
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
