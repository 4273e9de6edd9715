/*
 * shadow: see shadow.h. Owns the shadow tier's caller, its queue of tasks
 * and its budget counter; asks store to persist answers.
 */
#include "shadow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "model_call.h"
#include "shadow_pick.h"
#include "xmem.h"

struct shadow_task {
	struct shadow *sh;
	struct model_calls calls;
	struct answer ans;
	struct event *timer;
	char *ticket_id;
	int64_t ticket_pk;
	int revision;
	double t0;
	struct shadow_task *prev, *next; /* in flight */
};

struct shadow {
	struct event_base *base;
	const struct config *cfg;
	struct config scfg; /* cfg with the mini tier replaced by [shadow] */
	struct model_caller *mcl;
	struct store *store;
	const struct taxonomy *tax;
	struct shadow_task *head;
	size_t inflight;  /* tasks waiting for the model */
	size_t storing;   /* answers handed to the database, not yet acknowledged */
	int draining;
	shadow_idle_fn *on_idle;
	void *idle_arg;
	int64_t hour, calls_this_hour;
	struct shadow_stats st;
};

static double now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

struct shadow *shadow_new(struct event_base *base, const struct config *cfg, struct store *store,
			  const struct taxonomy *tax, char *err, size_t errlen)
{
	struct shadow *sh = xcalloc(1, sizeof(*sh));
	sh->base = base;
	sh->cfg = cfg;
	sh->scfg = *cfg; /* shallow: the strings stay cfg's */
	sh->scfg.mini = cfg->shadow;
	sh->store = store;
	sh->tax = tax;
	sh->mcl = model_caller_new(base, &sh->scfg, tax, err, errlen);
	if (sh->mcl == NULL) {
		free(sh);
		return NULL;
	}
	return sh;
}

static void task_free(struct shadow_task *k)
{
	struct shadow *sh = k->sh;
	if (k->prev)
		k->prev->next = k->next;
	else
		sh->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	sh->inflight--;
	model_calls_cleanup(&k->calls);
	answer_cleanup(&k->ans);
	if (k->timer)
		event_free(k->timer);
	free(k->ticket_id);
	free(k);
}

static void maybe_idle(struct shadow *sh)
{
	shadow_idle_fn *fn = sh->on_idle;
	if (!sh->draining || sh->inflight + sh->storing > 0 || fn == NULL)
		return;
	sh->on_idle = NULL; /* once */
	fn(sh->idle_arg);
}

void shadow_free(struct shadow *sh)
{
	if (sh == NULL)
		return;
	sh->on_idle = NULL;
	sh->st.abandoned += sh->inflight + sh->storing;
	if (sh->inflight + sh->storing > 0)
		log_warn("shadow calls abandoned at exit", "calls=%zu stores=%zu", sh->inflight,
			 sh->storing);
	while (sh->head)
		task_free(sh->head);
	log_info("shadow tier stopped",
		 "picked=%llu started=%llu answered=%llu invalid=%llu failed=%llu "
		 "stored=%llu store_errors=%llu abandoned=%llu skipped_queue=%llu "
		 "skipped_budget=%llu skipped_draining=%llu",
		 (unsigned long long)sh->st.picked, (unsigned long long)sh->st.started,
		 (unsigned long long)sh->st.answered, (unsigned long long)sh->st.invalid,
		 (unsigned long long)sh->st.failed,
		 (unsigned long long)sh->st.stored, (unsigned long long)sh->st.store_errors,
		 (unsigned long long)sh->st.abandoned, (unsigned long long)sh->st.skipped_queue,
		 (unsigned long long)sh->st.skipped_budget,
		 (unsigned long long)sh->st.skipped_draining);
	model_caller_free(sh->mcl);
	free(sh);
}

void shadow_get_stats(const struct shadow *sh, struct shadow_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (sh) {
		*out = sh->st;
		out->in_flight = sh->inflight + sh->storing;
	}
}

int shadow_drain(struct shadow *sh, shadow_idle_fn *fn, void *arg)
{
	if (sh == NULL)
		return 1;
	sh->draining = 1;
	if (sh->inflight + sh->storing == 0)
		return 1;
	log_info("shadow drain: waiting", "calls=%zu stores=%zu", sh->inflight, sh->storing);
	sh->on_idle = fn;
	sh->idle_arg = arg;
	return 0;
}

int shadow_abandon(struct shadow *sh)
{
	size_t n;
	if (sh == NULL)
		return 1;
	n = sh->inflight;
	if (n > 0) {
		/* paid for (maybe), answer lost: counted, so none is lost silently */
		sh->st.abandoned += n;
		log_warn("drain timeout: shadow calls abandoned", "calls=%zu stores_under_way=%zu", n,
			 sh->storing);
		while (sh->head)
			task_free(sh->head);
	}
	return sh->storing == 0;
}

/* The database has the shadow answer (row) or refused it. */
static void on_stored(void *arg, const struct db_row *row, const char *err)
{
	struct shadow *sh = arg;
	sh->storing--;
	if (row) {
		sh->st.stored++;
	} else {
		char q[300];
		sh->st.store_errors++;
		log_warn("shadow answer not recorded", "error=%s",
			 log_quote(q, sizeof(q), err ? err : ""));
	}
	maybe_idle(sh);
}

/* The call ended (answer, invalid answer or failure): persist it, forget the task. */
static void task_done(struct shadow_task *k, int ok)
{
	struct shadow *sh = k->sh;
	struct call_rec *c = model_calls_cur(&k->calls);
	struct shadow_rec r;

	memset(&r, 0, sizeof(r));
	r.ticket_pk = k->ticket_pk;
	r.revision = k->revision;
	r.ticket_id = k->ticket_id;
	r.model = sh->cfg->shadow.model;
	r.prompt_version = model_call_prompt(sh->mcl, MODEL_MINI, PURPOSE_TRIAGE)->version;
	r.outcome = c ? call_outcome_name(c->outcome) : NULL;
	r.answer = ok ? &k->ans : NULL;
	if (c)
		r.usage = c->usage;
	r.latency_ms = now_ms() - k->t0;
	if (ok)
		sh->st.answered++;
	else if (c && c->outcome == CALL_INVALID_ANSWER)
		sh->st.invalid++;
	else
		sh->st.failed++;
	sh->storing++;
	store_shadow(sh->store, &r, on_stored, sh);
	task_free(k);
	maybe_idle(sh);
}

static void on_llm(void *arg, const struct llm_result *res);

static void try_send(struct shadow_task *k)
{
	uint32_t wait = 0;
	int may = model_call_may_send(k->sh->mcl, &k->calls, now_ms(), &wait);
	if (may > 0) {
		model_call_submit(k->sh->mcl, &k->calls, on_llm, k);
		return;
	}
	if (may < 0) { /* refused for this ticket alone */
		task_done(k, 0);
		return;
	}
	/* its own breaker is open: wait, the ticket itself is long done */
	struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
	evtimer_add(k->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	try_send(arg);
}

static void on_llm(void *arg, const struct llm_result *res)
{
	struct shadow_task *k = arg;
	uint32_t wait = 0;
	char err[256];
	enum job_event ev = model_call_result(k->sh->mcl, &k->calls, res, now_ms(), &k->ans, &wait,
					      err, sizeof(err));
	switch (ev) {
	case EV_MODEL_RETRY:
	case EV_NOT_SENT: {
		struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
		evtimer_add(k->timer, &tv);
		return;
	}
	case EV_ANSWER_OK:
		task_done(k, 1);
		return;
	default:
		/* invalid answers are stored and counted, not repaired: production's
		 * repair is a second call that re-renders the ticket, which the
		 * shadow does not keep (rendered once, at the offer) */
		task_done(k, 0);
		return;
	}
}

void shadow_offer(struct shadow *sh, const struct ticket *t, const struct ticket *pt,
		  int64_t ticket_pk, int revision)
{
	struct shadow_task *k;
	struct prompt_vars v;
	char err[256];
	int64_t hour;
	enum job_event ev;

	if (sh == NULL || pt->body == NULL ||
	    !shadow_pick(t->source, t->ticket_id, sh->cfg->shadow_fraction))
		return;
	sh->st.picked++;
	if (sh->draining) {
		sh->st.skipped_draining++;
		return;
	}
	if (sh->inflight >= (size_t)sh->cfg->shadow_max_queue) {
		sh->st.skipped_queue++;
		return;
	}
	hour = (int64_t)time(NULL) / 3600;
	if (hour != sh->hour) {
		sh->hour = hour;
		sh->calls_this_hour = 0;
	}
	if (sh->calls_this_hour >= sh->cfg->shadow_max_calls_per_hour) {
		sh->st.skipped_budget++;
		return;
	}
	k = xcalloc(1, sizeof(*k));
	k->sh = sh;
	model_calls_init(&k->calls);
	answer_init(&k->ans);
	k->ticket_id = xstrdup(t->ticket_id);
	k->ticket_pk = ticket_pk;
	k->revision = revision;
	k->t0 = now_ms();
	k->next = sh->head;
	if (sh->head)
		sh->head->prev = k;
	sh->head = k;
	sh->inflight++;
	memset(&v, 0, sizeof(v));
	v.ticket = pt;
	v.tax = sh->tax;
	/* rendered now: nothing of the ticket is kept after this returns */
	ev = model_call_prepare(sh->mcl, &k->calls, MODEL_MINI, PURPOSE_TRIAGE, v, k->t0, &k->ans,
				err, sizeof(err));
	if (ev != EV_REQUEST_READY) {
		log_warn("shadow request not rendered", "ticket=%s", k->ticket_id);
		sh->st.failed++;
		task_free(k);
		return;
	}
	sh->calls_this_hour++;
	sh->st.started++;
	k->timer = evtimer_new(sh->base, on_timer, k);
	try_send(k);
}
