/*
 * pipeline_life: the coordinator's setup and teardown, the periodic and
 * final stats, and the snapshots for the admin server. See pipeline.h. Must
 * never step a job (that is pipeline.c's dispatch) nor decide intake
 * (intake_control.c).
 */
#include "pipeline_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "monotime.h" /* the final flush's bound */

/* The mini endpoint's breaker gates intake; so does either tier held as misconfigured. */
static void on_breaker(void *arg, enum model_tier t, enum breaker_state after)
{
	struct pipeline *pl = arg;
	if (t == MODEL_MINI)
		pipeline_set_pause(pl, PAUSE_BREAKER, after != BRK_CLOSED);
	pipeline_set_pause(pl, PAUSE_MISCONFIG,
			   model_caller_misconfigured(pl->mcl, MODEL_MINI, NULL) ||
			       model_caller_misconfigured(pl->mcl, MODEL_FLAGSHIP, NULL));
}

static void on_renewed(void *arg, int64_t lost_today)
{
	struct pipeline *pl = arg;
	/* the renewal is every daemon's heartbeat now: the gauge stays a budget figure */
	if (pl->cfg->budget_enforce)
		pl->budget_lost_calls = lost_today;
}

/*
 * A granted mini reservation lifts the budget pause. When every ticket that
 * waited for the budget ended otherwise (a reservation the database failed to
 * answer sends its ticket to a person), nothing asked again, and intake stayed
 * paused until a restart, past the budget's reset too (found by a review).
 * With the pause on and no ticket waiting for the budget, lift it: the next
 * ticket asks, and pauses intake again if the budget is still spent.
 */
static void budget_pause_check(struct pipeline *pl)
{
	if (!(pl->pause_flags & PAUSE_BUDGET) || pl->jobs.lists[JOB_RESERVE] != NULL)
		return;
	for (const struct job *j = pl->jobs.lists[JOB_BACKOFF]; j; j = j->next)
		if (j->retry_reserve)
			return;
	log_info("budget pause lifted: no ticket waits for the budget", "next=%s",
		 "the next ticket asks again");
	pipeline_set_pause(pl, PAUSE_BUDGET, 0);
}

/*
 * The heartbeat, with the claims of the tickets this daemon has worked on for
 * more than a lease: a claim not renewed for ten minutes (three leases if
 * longer) is taken over by the next daemon that meets the ticket
 * (triaged_claim), so one waiting that long here (for a budget, a quota,
 * on_failure = wait) was paid for twice after a rebalance. The heartbeat
 * renews their claimed_at (found by a review); the first renewal comes at most
 * a lease and a third after the claim, inside either window. Usually there is
 * none: nothing is added to the statement.
 */
static void renew(struct pipeline *pl)
{
	static const enum job_state holding[] = {JOB_RESERVE, JOB_MODEL, JOB_BACKOFF,
						 JOB_FLAGSHIP_WAIT, JOB_STORE};
	double before = pipeline_now_ms() - 1000.0 * (double)pl->cfg->budget_lease_s;
	struct store_held *held = NULL;
	size_t n = 0, cap = 0;
	for (size_t k = 0; k < ARRAY_SIZE(holding); k++)
		for (const struct job *j = pl->jobs.lists[holding[k]]; j; j = j->next) {
			/* a job asking again after "elsewhere" holds no claim */
			if (j->ticket_pk <= 0 || j->retry_claim || j->received_ms > before)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				held = xrealloc(held, cap * sizeof(*held));
			}
			held[n].ticket_pk = j->ticket_pk;
			held[n].revision = j->revision;
			n++;
		}
	store_renew(&pl->store, pl->owner, (int)pl->cfg->budget_lease_s, held, n, on_renewed, pl);
	free(held);
}

/* Budget leases: this daemon's calls still run; also sweeps the reservations of dead owners.
 * The same statement is the daemon's heartbeat: its claims of tickets in flight are not
 * taken over by another daemon while it renews (migration 064). */
static void on_renew(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *pl = arg;
	if (db_is_up(pl->db))
		renew(pl);
	budget_pause_check(pl);
}

/* The check at start: a tier whose model has no price under budget.enforce is reported now. */
static void on_price_checked(void *arg, const struct reserve_result *r, const char *err)
{
	struct pipeline *pl = ((struct pipeline **)arg)[0];
	enum model_tier t = (enum model_tier)(((struct pipeline **)arg) - pl->price_check);
	if (r && r->verdict == RESERVE_NO_PRICE && !pl->no_price[t]) {
		pl->no_price[t] = 1;
		log_error("configuration error: the model has no price row; budget.enforce "
			  "refuses the tier until one exists (deploy/prices.sql)",
			  "tier=%s model=%s", model_tier_name(t), pl->mcl->ep[t].mc->model);
	}
}

static void check_prices(struct pipeline *pl)
{
	for (int t = 0; t < MODEL__TIERS; t++) {
		const struct model_config *mc = pl->mcl->ep[t].mc;
		struct reserve_req q = {.tier = (enum model_tier)t,
					.model = mc->model,
					.owner = pl->owner,
					.lease_s = 1,
					.dry_run = 1};
		pl->price_check[t] = pl;
		store_reserve(&pl->store, &q, on_price_checked, &pl->price_check[t]);
	}
}

static void on_db_state(void *arg, int up)
{
	struct pipeline *pl = arg;
	if (up && !pl->said_bye) /* say at once that this daemon is alive: its claims follow */
		renew(pl);
	if (up && pl->cfg->budget_enforce && !pl->prices_checked) {
		pl->prices_checked = 1;
		check_prices(pl);
	}
	if (up)
		pl->pause_flags &= ~PAUSE_DATABASE;
	else
		pl->pause_flags |= PAUSE_DATABASE;
	if (pl->kin)
		pipeline_update_pause(pl);
}

/* The stats as the admin server sees them: the coordinator's and its modules' counters. */
void pipeline_get_stats(const struct pipeline *pl, struct pipeline_stats *out)
{
	const struct model_call_stats *m = &pl->mcl->st;
	*out = pl->st;
	out->redelivered_in_flight = pl->kin ? kin_adopted(pl->kin) : 0;
	for (int t = 0; t < MODEL__TIERS; t++) {
		out->model_requests[t] = m->requests[t];
		out->model_ok[t] = m->ok[t];
		out->model_http_errors[t] = m->http_errors[t];
		out->model_transport_errors[t] = m->transport_errors[t];
		out->model_invalid[t] = m->invalid[t];
		out->repairs[t] = m->repairs[t];
		out->retries[t] = m->retries[t];
		out->http_429[t] = m->http_429[t];
		out->breaker_opens[t] = pl->mcl->ep[t].breaker.opens;
		out->breaker_denied[t] = pl->mcl->ep[t].breaker.denied;
		out->breaker_state[t] = (int)pl->mcl->ep[t].breaker.state;
		out->misconfigs[t] = pl->mcl->ep[t].misconfigs;
	}
	out->calls_reused = m->calls_reused;
	memcpy(out->redactions, pl->safety.redactions, sizeof(out->redactions));
	out->injection_flagged = pl->safety.injection_flagged;
	out->drafts_flagged = pl->safety.drafts_flagged;
}

static void log_stats(struct pipeline *pl, const char *msg)
{
	const struct pipeline_stats *s = &pl->st;
	const struct model_call_stats *m = &pl->mcl->st;
	log_info(
	    msg,
	    "consumed=%llu dlq=%llu new=%llu updated=%llu redelivered_done=%llu elsewhere=%llu "
	    "pending_review=%llu needs_human=%llu escalated=%llu human_only=%llu "
	    "mini_requests=%llu flagship_requests=%llu reused_calls=%llu retries=%llu "
	    "http_429=%llu invalid=%llu repairs=%llu budget_denied=%llu events=%llu "
	    "in_flight=%llu db_up=%d %s=%d",
	    (unsigned long long)s->consumed, (unsigned long long)s->dlq,
	    (unsigned long long)s->claimed_new, (unsigned long long)s->claimed_updated,
	    (unsigned long long)s->redelivered_done, (unsigned long long)s->claimed_elsewhere,
	    (unsigned long long)s->stored_pending_review,
	    (unsigned long long)s->stored_needs_human, (unsigned long long)s->escalated,
	    (unsigned long long)s->human_only, (unsigned long long)m->requests[MODEL_MINI],
	    (unsigned long long)m->requests[MODEL_FLAGSHIP], (unsigned long long)m->calls_reused,
	    (unsigned long long)(m->retries[0] + m->retries[1]),
	    (unsigned long long)(m->http_429[0] + m->http_429[1]),
	    (unsigned long long)(m->invalid[0] + m->invalid[1]),
	    (unsigned long long)(m->repairs[0] + m->repairs[1]),
	    (unsigned long long)(s->budget_denied[0] + s->budget_denied[1]),
	    (unsigned long long)s->events_sent, (unsigned long long)s->in_flight, db_is_up(pl->db),
	    /* a clean stop pauses intake too: say so, not "paused" like an alarm */
	    pl->draining ? "stopped" : "paused", pl->draining ? 1 : kin_paused(pl->kin));
}

/* ---- quiet logs (issue #15 part 3) -------------------------------------------------
 * At info, per-ticket events are counters; the log gets one summary line per
 * log.summary_interval_s: tickets in, stored, escalated, failed, and their rates
 * over the interval, with the state of the daemon. */

static uint64_t stored_total(const struct pipeline_stats *s)
{
	return s->stored_pending_review + s->stored_needs_human + s->stored_duplicate;
}

static uint64_t failed_total(const struct pipeline_stats *s)
{
	return s->dlq + s->db_rejected;
}

static void on_stats(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *pl = arg;
	const struct pipeline_stats *s = &pl->st;
	double now = pipeline_now_ms();
	double sec = (now - pl->sum_ms) / 1000.0;
	uint64_t stored = stored_total(s), failed = failed_total(s);
	if (sec <= 0)
		sec = 1;
	log_info("summary",
		 "interval_s=%.0f in=%llu stored=%llu escalated=%llu failed=%llu in_per_s=%.1f "
		 "stored_per_s=%.1f escalated_per_s=%.1f failed_per_s=%.1f in_flight=%llu "
		 "parked=%llu flagship_waiting=%zu db_up=%d %s=%d",
		 sec, (unsigned long long)s->consumed, (unsigned long long)stored,
		 (unsigned long long)s->escalated, (unsigned long long)failed,
		 (double)(s->consumed - pl->sum_in) / sec, (double)(stored - pl->sum_stored) / sec,
		 (double)(s->escalated - pl->sum_escalated) / sec,
		 (double)(failed - pl->sum_failed) / sec, (unsigned long long)s->in_flight,
		 (unsigned long long)s->flagship_parked, flagship_queue_len(&pl->fq),
		 db_is_up(pl->db), pl->draining ? "stopped" : "paused",
		 pl->draining ? 1 : kin_paused(pl->kin));
	pl->sum_in = s->consumed;
	pl->sum_stored = stored;
	pl->sum_escalated = s->escalated;
	pl->sum_failed = failed;
	pl->sum_ms = now;
}

/* ---- end of quiet logs -------------------------------------------------------------- */

/* Where the time went, once at exit: per ticket, per state, per database kind. */
static void log_summary(struct pipeline *pl)
{
	const struct pipeline_stats *s = &pl->st;
	struct db_stats ds;
	char buf[1024];
	size_t n = 0;
	log_info("latency summary",
		 "tickets=%llu added_p50_ms=%.3f added_p99_ms=%.3f model_p50_ms=%.3f "
		 "model_p99_ms=%.3f e2e_p50_ms=%.3f e2e_p99_ms=%.3f",
		 (unsigned long long)s->added_ms.count, hist_quantile(&s->added_ms, 0.5),
		 hist_quantile(&s->added_ms, 0.99), hist_quantile(&s->model_ms, 0.5),
		 hist_quantile(&s->model_ms, 0.99), hist_quantile(&s->e2e_ms, 0.5),
		 hist_quantile(&s->e2e_ms, 0.99));
	buf[0] = '\0';
	for (int k = 0; k < JOB__STATES && n < sizeof(buf); k++) {
		const struct hist *h = &s->state_ms[k];
		const char *sn = job_state_name((enum job_state)k);
		if (h->count == 0)
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "%s%s_n=%llu %s_p50_ms=%.3f %s_p99_ms=%.3f", n ? " " : "", sn,
				      (unsigned long long)h->count, sn, hist_quantile(h, 0.5), sn,
				      hist_quantile(h, 0.99));
	}
	log_info("state latency", "%s", buf);
	n = 0;
	buf[0] = '\0';
	db_get_stats(pl->db, &ds);
	for (int k = 0; k < DB__KINDS && n < sizeof(buf); k++) {
		const char *kn = db_kind_name((enum db_kind)k);
		if (ds.kind_batches[k] == 0)
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "%s%s_batches=%llu %s_items_per_batch=%.1f %s_batch_ms=%.2f",
				      n ? " " : "", kn, ds.kind_batches[k], kn,
				      (double)ds.kind_items[k] / (double)ds.kind_batches[k], kn,
				      ds.kind_ms[k] / (double)ds.kind_batches[k]);
	}
	log_info("database summary", "rounds=%llu split_rounds=%llu lingered_rounds=%llu %s",
		 ds.batches, ds.split_rounds, ds.lingered_rounds, buf);
	/* what the workers freed for the loop (offload_discard, #16) */
	if (pl->off)
		log_info("offload summary", "discards=%llu", offload_discarded(pl->off));
}

int pipeline_drained(const struct pipeline *pl)
{
	struct shadow_stats ss;
	if (!pl->draining || pl->st.in_flight > 0 || pl->kout == NULL)
		return 0;
	shadow_get_stats(pl->shadow, &ss);
	return ss.in_flight == 0;
}

/* The shadow tier's last call or store of the drain ended. */
static void on_shadow_idle(void *arg)
{
	struct pipeline *pl = arg;
	if (pipeline_drained(pl)) {
		log_info("drained", "%s", "");
		pipeline_exit_loop(pl);
	}
}

void pipeline_shadow_stats(const struct pipeline *pl, struct shadow_stats *out)
{
	shadow_get_stats(pl->shadow, out);
}

static void on_bye(void *arg, int64_t lost_today)
{
	struct pipeline *pl = arg;
	(void)lost_today;
	event_base_loopexit(pl->base, NULL);
}

static void on_bye_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *pl = arg;
	log_warn("exit: the last heartbeat was not answered in time", "%s", "");
	event_base_loopexit(pl->base, NULL);
}

/* The lease given up, then the loop's exit. */
static void say_bye(struct pipeline *pl)
{
	struct timeval tv = {2, 0};
	if (pl->said_bye)
		return;
	pl->said_bye = 1;
	/* nothing may say it is alive after this (one round runs its items in order) */
	if (pl->ev_renew)
		event_del(pl->ev_renew);
	if (pl->ev_drain_timeout)
		evtimer_del(pl->ev_drain_timeout);
	if (!db_is_up(pl->db)) {
		event_base_loopexit(pl->base, NULL);
		return;
	}
	/* lease 0: dead to the others now; its open reservations (calls abandoned at
	 * the drain timeout, paid, answers lost) expire with it and are swept as lost */
	store_renew(&pl->store, pl->owner, 0, NULL, 0, on_bye, pl);
	pl->ev_bye = evtimer_new(pl->base, on_bye_timeout, pl);
	evtimer_add(pl->ev_bye, &tv);
}

/*
 * The final flush's bound. It was a blocking rd_kafka_flush in pipeline_free,
 * after the loop: a dead letter acknowledged there could not write its
 * dead_letters row, its job was dropped uncommitted, and the restart
 * dead-lettered the message a second time. On the loop, the row is written and
 * the offset stored.
 */
#define FINAL_FLUSH_MS 5000
#define FINAL_FLUSH_TICK_MS 20

static int final_flush_done(const struct pipeline *pl)
{
	return kout_in_flight(pl->kout) == 0 && pl->dl_rows == 0 &&
	       (pl->also_idle == NULL || pl->also_idle(pl->also_arg));
}

void pipeline_flush_also(struct pipeline *pl, pipeline_flush_fn *quiesce, pipeline_idle_fn *idle,
			 void *arg)
{
	assert(pl->also_idle == NULL); /* one at most */
	pl->also_quiesce = quiesce;
	pl->also_idle = idle;
	pl->also_arg = arg;
}

/* Its first run starts the flush (from the loop, not inside a delivery report, which
 * is where the last job of a drain ends); then every FINAL_FLUSH_TICK_MS. */
static void on_flush_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *pl = arg;
	struct timeval tick = {0, FINAL_FLUSH_TICK_MS * 1000};
	double waited;
	int done;
	if (pl->flush_started_ms == 0) {
		kout_quiesce(pl->kout);
		if (pl->also_quiesce)
			pl->also_quiesce(pl->also_arg);
		if (final_flush_done(pl)) {
			say_bye(pl);
			return;
		}
		log_info("final flush: waiting for the broker",
			 "sent_not_acknowledged=%zu dead_letter_rows=%d not_sent=%llu others_idle=%d",
			 kout_in_flight(pl->kout), pl->dl_rows,
			 (unsigned long long)kout_unsent(pl->kout),
			 pl->also_idle == NULL || pl->also_idle(pl->also_arg));
		pl->flush_started_ms = mono_ms();
		event_add(pl->ev_flush, &tick);
		return;
	}
	waited = mono_ms() - pl->flush_started_ms;
	done = final_flush_done(pl);
	if (!done && waited < FINAL_FLUSH_MS)
		return;
	event_del(pl->ev_flush);
	if (done)
		log_info("final flush done", "waited_ms=%.0f not_sent=%llu", waited,
			 (unsigned long long)kout_unsent(pl->kout));
	else
		log_warn("final flush: not acknowledged in time",
			 "waited_ms=%.0f sent_not_acknowledged=%zu dead_letter_rows=%d not_sent=%llu "
			 "others_idle=%d",
			 waited, kout_in_flight(pl->kout), pl->dl_rows,
			 (unsigned long long)kout_unsent(pl->kout),
			 pl->also_idle == NULL || pl->also_idle(pl->also_arg));
	say_bye(pl);
}

/*
 * The drain is over (drained, or its grace ran out): nothing more goes to the
 * broker (kout_quiesce), what is not sent stays uncommitted for the next owner,
 * and what was sent is waited for on the loop, up to FINAL_FLUSH_MS, so that an
 * acknowledged dead letter gets its row and an acknowledged event its offset.
 */
void pipeline_exit_loop(struct pipeline *pl)
{
	if (pl->flushing || pl->said_bye)
		return;
	pl->flushing = 1;
	if (pl->ev_drain_timeout)
		evtimer_del(pl->ev_drain_timeout);
	if (pl->kout == NULL) { /* (a pipeline that failed to start) */
		say_bye(pl);
		return;
	}
	pl->ev_flush = event_new(pl->base, -1, EV_PERSIST, on_flush_tick, pl);
	event_active(pl->ev_flush, EV_TIMEOUT, 0);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *pl = arg;
	struct pipeline_health h;
	static const enum job_state waiting[] = {JOB_MODEL, JOB_BACKOFF, JOB_FLAGSHIP_WAIT};
	struct timeval grace = {pl->cfg->drain_grace_ms / 1000,
				(pl->cfg->drain_grace_ms % 1000) * 1000};

	if (pl->abandoning) {
		/* the stores and events in flight had their grace: stop here */
		log_warn("drain grace over: exiting", "in_flight=%llu",
			 (unsigned long long)pl->st.in_flight);
		pipeline_exit_loop(pl);
		return;
	}
	/* Calls still out are paid for by the provider but their answers are lost:
	 * say how many, so an operator can size shutdown.drain_timeout_ms. */
	pipeline_get_health(pl, &h);
	log_warn("drain timeout: leaving tickets uncommitted for redelivery",
		 "in_flight=%llu abandoned_calls=%zu timeout_ms=%lld",
		 (unsigned long long)pl->st.in_flight, h.mini_in_flight + h.flagship_in_flight,
		 (long long)pl->cfg->drain_timeout_ms);
	/* Abandon what waits for a model; what waits for the database or the
	 * broker (an answer already paid for, being stored) finishes, up to a
	 * grace period, so that every answer that arrived is kept. */
	pl->abandoning = 1;
	/* shadow calls still out are cancelled and counted; their stores under way finish */
	(void)shadow_abandon(pl->shadow);
	for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++) {
		struct job *j = pl->jobs.lists[waiting[i]], *next;
		for (; j; j = next) {
			next = j->next;
			pipeline_drop_job(j);
		}
	}
	if (pipeline_drained(pl))
		pipeline_exit_loop(pl);
	else
		evtimer_add(pl->ev_drain_timeout, &grace);
}

void pipeline_rules_release(struct pipeline *pl, unsigned gen)
{
	struct rules_hold **pp;

	if (gen == pl->rules_gen) {
		pl->rules_users--;
		return;
	}
	for (pp = &pl->rules_retired; *pp; pp = &(*pp)->next) {
		struct rules_hold *h = *pp;
		if (h->gen != gen)
			continue;
		if (--h->users == 0) {
			*pp = h->next;
			rules_free(h->r);
			free(h);
		}
		return;
	}
}

int pipeline_reload_rules(struct pipeline *pl)
{
	char err[512], q[600];
	struct rules *r;
	if (pl->cfg->rules_file[0] == '\0')
		return 0;
	r = rules_load_file(pl->cfg->rules_file, err, sizeof(err));
	if (r == NULL) {
		pl->st.rules_reload_errors++;
		log_error("rules not reloaded; the previous rules stay in force", "error=%s",
			  log_quote(q, sizeof(q), err));
		return -1;
	}
	/* evaluation keeps no state between tickets: swapping here is safe, but
	 * tickets being prepared may be reading the old set (offload.h) */
	if (pl->rules_users == 0) {
		rules_free(pl->rules);
	} else {
		struct rules_hold *h = xcalloc(1, sizeof(*h));
		*h = (struct rules_hold){pl->rules, pl->rules_gen, pl->rules_users,
					 pl->rules_retired};
		pl->rules_retired = h;
	}
	pl->rules = r;
	pl->rules_gen++;
	pl->rules_users = 0;
	pl->st.rules_reloads++;
	log_info("rules loaded", "file=%s rules=%zu", pl->cfg->rules_file, rules_count(r));
	return 0;
}

/* A claim's row was built by an offload worker: freed by one (#16). The other kinds are the loop's. */
static void discard_data(void *arg, enum db_kind kind, char *data)
{
	struct pipeline *pl = arg;
	if (kind == DB_CLAIM)
		offload_discard(pl->off, free, data);
	else
		free(data);
}

struct pipeline *pipeline_new(struct event_base *base, const struct config *cfg, char *err,
			      size_t errlen)
{
	struct pipeline *pl = xcalloc(1, sizeof(*pl));
	struct timeval ten = {(time_t)cfg->log_summary_interval_s, 0};
	const struct prompt *prompts[MODEL__TIERS];

	pl->base = base;
	pl->cfg = cfg;
	hist_init(&pl->st.e2e_ms);
	hist_init(&pl->st.model_ms);
	hist_init(&pl->st.added_ms);
	for (int s = 0; s < JOB__STATES; s++)
		hist_init(&pl->st.state_ms[s]);
	pl->jobs.count = pl->st.state_count;
	pl->jobs.visits = pl->st.state_ms;
	pl->jobs.in_flight = &pl->st.in_flight;
	flagship_queue_init(&pl->fq);
	pl->tax.categories = (const char *const *)cfg->categories;
	pl->tax.ncategories = cfg->ncategories;
	ticket_limits_default(&pl->limits);
	pl->limits.max_message_bytes = (size_t)cfg->max_message_bytes;
	pl->limits.max_body_prompt_len = (size_t)cfg->max_body_prompt_bytes;
	pl->intake = intake_new((enum intake_format)cfg->intake_format, cfg->mapping_file,
				cfg->tier_map, &pl->limits, err, errlen);
	if (pl->intake == NULL)
		goto fail;
	pl->ev_fpump = event_new(base, -1, 0, pipeline_on_fpump, pl);
	pl->ev_reap = event_new(base, -1, 0, pipeline_on_reap, pl);
	/* budget leases (issue #16): this instance owns its reservations and renews them */
	{
		char host[64] = "host";
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		snprintf(pl->owner, sizeof(pl->owner), "%s:%ld:%.0f", host, (long)getpid(),
			 pipeline_now_ms());
		for (int t = 0; t < MODEL__TIERS; t++)
			hist_init(&pl->completion[t]);
	}

	pl->mcl = model_caller_new(base, cfg, &pl->tax, err, errlen);
	if (pl->mcl == NULL)
		goto fail;
	pl->mcl->on_breaker = on_breaker;
	pl->mcl->breaker_arg = pl;
	if (cfg->rules_file[0]) {
		pl->rules = rules_load_file(cfg->rules_file, err, errlen);
		if (pl->rules == NULL)
			goto fail;
		log_info("rules loaded", "file=%s rules=%zu", cfg->rules_file,
			 rules_count(pl->rules));
	}
	for (int t = 0; t < MODEL__TIERS; t++)
		prompts[t] = pl->mcl->ep[t].prompt;
	if (safety_init(&pl->safety, cfg, prompts, err, errlen) < 0)
		goto fail;
	pl->db = db_new(base, cfg->pg_conninfo, (int)cfg->pg_batch_size,
			(int)cfg->pg_reconnect_max_ms, on_db_state, pl);
	db_set_slice(pl->db, cfg->loop_slice_ms * 1000);
	db_set_owner(pl->db, pl->owner); /* its claims are this daemon's (migration 064) */
	db_set_delay(pl->db, cfg->pg_batch_delay_ms);
	db_set_data_free(pl->db, discard_data, pl);
	/* a claim carries the message's text a few times over (body, PII values) */
	store_init(&pl->store, pl->db, (size_t)cfg->max_message_bytes * 4 + (1u << 20));
	if (cfg->shadow_enabled) {
		pl->shadow = shadow_new(base, cfg, &pl->store, &pl->tax, err, errlen);
		if (pl->shadow == NULL)
			goto fail;
		log_info("shadow tier", "model=%s fraction=%.4f max_calls_per_hour=%lld",
			 cfg->shadow.model, cfg->shadow_fraction,
			 (long long)cfg->shadow_max_calls_per_hour);
	}
	{
		/* renew every third of the lease: two renewals may fail before it runs out.
		 * Always: it is also the heartbeat that keeps this daemon's claims its own */
		int ms = (int)(cfg->budget_lease_s * 1000 / 3);
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		pl->ev_renew = event_new(base, -1, EV_PERSIST, on_renew, pl);
		event_add(pl->ev_renew, &tv);
		log_info("leases", "owner=%s lease_s=%d budget=%s", pl->owner,
			 (int)cfg->budget_lease_s, cfg->budget_enforce ? "enforced" : "off");
	}
	pl->kout = kout_new(base, cfg, err, errlen);
	if (pl->kout == NULL)
		goto fail;
	if (cfg->prepare_threads > 0) {
		/* intake's CPU work off the loop (#16): it grows with the text */
		pl->off = offload_new(base, (int)cfg->prepare_threads, (int)cfg->loop_slice_ms,
				      pipeline_prepare_work, pipeline_on_prepared, pl, err,
				      errlen);
		if (pl->off == NULL)
			goto fail;
	}
	pl->kin = kin_new(base, cfg, pipeline_on_message, pl, err, errlen);
	if (pl->kin == NULL)
		goto fail;
	if (!db_is_up(pl->db))
		pipeline_set_pause(pl, PAUSE_DATABASE, 1);
	pl->sum_ms = pipeline_now_ms();
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
	/* shadow calls in flight are waited for too, up to the same timeout */
	(void)shadow_drain(pl->shadow, on_shadow_idle, pl);
	if (pipeline_drained(pl)) {
		pipeline_exit_loop(pl);
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
		log_stats(pl, "final stats");
		log_summary(pl);
	}
	/* the workers stop first: the jobs they hold are then the loop's to drop */
	offload_free(pl->off, NULL);
	pl->off = NULL;
	/* after the final flush on the loop (pipeline_exit_loop) nothing is flushed here; a
	 * loop that exits without it (none does) would flush events for up to 5 s */
	kout_free(pl->kout, pl->flushing ? 0 : 5000);
	pl->kout = NULL;
	/* unfinished jobs are simply dropped: their offsets were never stored */
	pl->draining = 1;
	for (int s = 0; s < JOB__STATES; s++)
		while (pl->jobs.lists[s])
			pipeline_drop_job(pl->jobs.lists[s]);
	if (pl->ev_drain_timeout)
		event_free(pl->ev_drain_timeout);
	if (pl->ev_stats)
		event_free(pl->ev_stats);
	if (pl->ev_fpump)
		event_free(pl->ev_fpump);
	job_reap(&pl->jobs, pl->off); /* NULL by now: freed here */
	if (pl->ev_reap)
		event_free(pl->ev_reap);
	if (pl->ev_renew)
		event_free(pl->ev_renew);
	if (pl->ev_bye)
		event_free(pl->ev_bye);
	if (pl->ev_flush)
		event_free(pl->ev_flush);
	kin_free(pl->kin); /* commits stored offsets */
	shadow_free(pl->shadow); /* before the database: what is still out is counted abandoned */
	db_free(pl->db);
	model_caller_free(pl->mcl);
	safety_cleanup(&pl->safety);
	intake_free(pl->intake);
	rules_free(pl->rules);
	while (pl->rules_retired) {
		struct rules_hold *h = pl->rules_retired;
		pl->rules_retired = h->next;
		rules_free(h->r);
		free(h);
	}
	flagship_queue_cleanup(&pl->fq);
	free(pl);
}

void pipeline_get_health(const struct pipeline *pl, struct pipeline_health *out)
{
	memset(out, 0, sizeof(*out));
	out->db_up = db_is_up(pl->db);
	out->partitions = kin_assigned(pl->kin);
	out->draining = pl->draining;
	out->paused = kin_paused(pl->kin);
	out->consumer_lag = kin_lag(pl->kin);
	out->mini_in_flight = llm_in_flight(pl->mcl->ep[MODEL_MINI].client);
	out->mini_waiting = llm_waiting(pl->mcl->ep[MODEL_MINI].client);
	out->flagship_in_flight = llm_in_flight(pl->mcl->ep[MODEL_FLAGSHIP].client);
	out->mini_connects = llm_connects(pl->mcl->ep[MODEL_MINI].client);
	out->flagship_connects = llm_connects(pl->mcl->ep[MODEL_FLAGSHIP].client);
	out->mini_http = llm_http_version(pl->mcl->ep[MODEL_MINI].client);
	out->flagship_http = llm_http_version(pl->mcl->ep[MODEL_FLAGSHIP].client);
	out->flagship_waiting = flagship_queue_len(&pl->fq);
	out->flagship_max_queue = pl->cfg->flagship_max_queue;
	out->db_pending = db_pending(pl->db);
	{
		struct db_stats ds;
		db_get_stats(pl->db, &ds);
		out->db_rounds = ds.batches;
		out->db_round_items = ds.items;
		out->db_rounds_held = ds.lingered_rounds;
	}
	out->dlq_pending = kout_pending(pl->kout);
	kout_health_add(pl->kout, &out->produce_failing, &out->produce_oldest_s, out->produce_stuck,
			sizeof(out->produce_stuck));
	out->budget_lost_calls = pl->budget_lost_calls;
	for (int t = 0; t < MODEL__TIERS; t++)
		if (pl->no_price[t])
			out->budget_no_price = model_tier_name((enum model_tier)t);
	for (int t = 0; t < MODEL__TIERS; t++) {
		const char *cause;
		if (model_caller_misconfigured(pl->mcl, (enum model_tier)t, &cause))
			snprintf(out->misconfigured[t], sizeof(out->misconfigured[t]), "%s", cause);
	}
}

const struct intake_stats *pipeline_intake_stats(const struct pipeline *pl)
{
	return intake_stats(pl->intake);
}

struct db *pipeline_db(struct pipeline *pl)
{
	return pl ? pl->db : NULL;
}
