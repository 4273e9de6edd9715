/*
 * eval_run: see eval_run.h. Owns the eval set in memory (loaded by
 * eval_load), the per-configuration call tasks and their concurrency,
 * eval_answers (read and write), the command line. The printed figures and
 * the report are eval_report_print's;
 * the set's structs are declared in eval_set.h.
 * Must never touch tickets, results or the review queue, nor log ticket text.
 */
#include "loopslice.h"
#include "eval_run.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "answer.h"
#include "eval_report_print.h"
#include "eval_budget.h"
#include "eval_load.h"
#include "eval_set.h"
#include "injection.h"
#include "model_call.h"
#include "redact.h"
#include "rules.h"
#include "safety.h"
#include "ticket.h"
#include "xmem.h"

#define EVAL_MAX_CONFS 8

static double now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

struct eval_task {
	struct eval_run *run;
	struct eval_conf *c;
	size_t item;
	struct model_calls calls;
	struct answer ans;
	struct event *timer;
	int repaired, done, ok, invalid;
	int reserving; /* the timer asks the budget again (busy), not the model */
	double t0, t1;
	char err[256];
};

/* ---- the calls -------------------------------------------------------------- */

static void task_handle(struct eval_task *k, enum job_event ev);

static void progress(struct eval_run *run)
{
	/* the calls stopped or not made (a refused tier, a budget) are done too */
	size_t done = run->finished + run->not_made;
	int pct = run->ntasks ? (int)(100 * done / run->ntasks) : 100;
	char bar[41];
	/* a terminal gets every percent, a log file every tenth */
	if (pct == run->progress_pct || (!isatty(2) && pct % 10 != 0 && done != run->ntasks))
		return;
	run->progress_pct = pct;
	for (int i = 0; i < 40; i++)
		bar[i] = i < pct * 40 / 100 ? '#' : '.';
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %3d%% %zu/%zu calls", bar, pct, done, run->ntasks);
	if (done == run->ntasks || !isatty(2))
		fputc('\n', stderr);
	fflush(stderr);
}

static void task_start(struct eval_task *k);

/* Answers this run stored (valid or invalid), of configuration c (NULL: of all). */
static size_t stored_answers(const struct eval_run *run, const struct eval_conf *c)
{
	size_t n = 0;
	for (size_t k = 0; k < run->ntasks; k++)
		n += (c == NULL || run->tasks[k].c == c) && run->tasks[k].done &&
		     (run->tasks[k].ok || run->tasks[k].invalid);
	return n;
}

static void start_more(struct eval_run *run)
{
	while (!run->capped && !run->stopped && run->next < run->ntasks &&
	       run->inflight < (size_t)run->concurrency) {
		struct eval_task *k = &run->tasks[run->next];
		if (k->c->refused) { /* its tier is refused: no call, counted as not made */
			run->next++;
			k->done = 1;
			k->c->not_made++;
			run->not_made++;
			progress(run);
			continue;
		}
		if (run->max_cost > 0 &&
		    run->spent + (double)run->inflight * run->dearest >= run->max_cost) {
			run->capped = 1; /* the calls in flight finish and are stored */
			break;
		}
		run->next++;
		run->inflight++;
		task_start(k);
	}
	if (run->inflight == 0 && (run->next == run->ntasks || run->capped || run->stopped))
		event_base_loopbreak(run->base);
}

/* What the task's calls cost at the configuration's prices (triaged_cost's formula). */
static double task_cost(const struct eval_task *k)
{
	double usd = 0;
	for (int i = 0; i < k->calls.n; i++) {
		const struct llm_usage *u = &k->calls.v[i].usage;
		long long fresh = u->prompt_tokens - u->cached_tokens;
		usd += ((double)(fresh > 0 ? fresh : 0) * k->c->in_mtok +
			(double)u->cached_tokens * k->c->cached_mtok +
			(double)u->completion_tokens * k->c->out_mtok) /
		       1e6;
	}
	return usd;
}

static void task_finish(struct eval_task *k, int ok, int invalid)
{
	struct eval_run *run = k->run;
	k->done = 1;
	k->ok = ok;
	k->invalid = invalid;
	k->t1 = now_ms();
	if (ok || invalid)
		k->c->calls++;
	else
		k->c->failed++;
	if (run->max_cost > 0) {
		double usd = task_cost(k);
		run->spent += usd;
		if (usd > run->dearest)
			run->dearest = usd;
	}
	run->inflight--;
	run->finished++;
	progress(run);
	start_more(run);
}

/* The budget stopped k before it had an answer: not stored, counted as not made. */
static void task_stop(struct eval_task *k)
{
	struct eval_run *run = k->run;
	eval_budget_settle(run, &k->calls); /* a first call made before a denied repair */
	k->done = 1;
	k->t1 = now_ms();
	if (run->max_cost > 0)
		run->spent += task_cost(k);
	run->inflight--;
	run->not_made++;
	k->c->not_made++;
	progress(run);
	start_more(run);
}

static void try_send(struct eval_task *k);

/* Budget first (budget.enforce): granted, send; busy, ask again later; else stop. */
static void task_reserve(struct eval_task *k)
{
	uint32_t wait = 0;
	k->reserving = 0;
	if (k->c->refused) { /* a refused tier: no new call, no wait */
		task_stop(k);
		return;
	}
	switch (eval_budget_reserve(k->run, k->c->mcl, &k->calls, (uint64_t)k->item, &wait)) {
	case EVAL_BUDGET_GRANTED:
		try_send(k);
		return;
	case EVAL_BUDGET_BUSY: {
		struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
		k->reserving = 1;
		evtimer_add(k->timer, &tv);
		return;
	}
	default:
		task_stop(k);
		return;
	}
}

/* A tier the provider refuses stops its configuration's calls
 * (eval_budget_stop_refused); its tasks waiting on a timer (a retry, a verdict,
 * a probe) stop now, not after it. */
static int stopped_by_config(struct eval_task *k)
{
	struct eval_run *run = k->run;
	int was = k->c->refused;
	if (!eval_budget_stop_refused(run, k->c))
		return 0;
	for (size_t i = 0; !was && i < run->next; i++) {
		struct eval_task *w = &run->tasks[i];
		if (w != k && w->c == k->c && !w->done && w->timer && evtimer_pending(w->timer, NULL))
			event_active(w->timer, EV_TIMEOUT, 0);
	}
	return 1;
}

static void on_llm_done(void *arg, const struct llm_result *res)
{
	struct eval_task *k = arg;
	uint32_t wait = 0;
	enum job_event ev = model_call_result(k->c->mcl, &k->calls, res, now_ms(), &k->ans, &wait,
					      k->err, sizeof(k->err));
	if ((ev == EV_MODEL_RETRY || ev == EV_NOT_SENT) && stopped_by_config(k)) {
		task_stop(k);
		return;
	}
	if (ev == EV_MODEL_RETRY || ev == EV_NOT_SENT) {
		struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
		evtimer_add(k->timer, &tv);
		return;
	}
	task_handle(k, ev);
}

static void try_send(struct eval_task *k)
{
	if (k->c->refused) { /* a refused tier: no new call, no wait */
		task_stop(k);
		return;
	}
	k->reserving = 0;
	uint32_t wait = 0;
	int may = model_call_may_send(k->c->mcl, &k->calls, now_ms(), &wait);
	if (may > 0) {
		model_call_submit(k->c->mcl, &k->calls, on_llm_done, k);
		return;
	}
	if (may < 0) { /* refused for this ticket alone */
		snprintf(k->err, sizeof(k->err), "%s", model_calls_cur(&k->calls)->error);
		task_handle(k, EV_MODEL_FAILED);
		return;
	}
	struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
	evtimer_add(k->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct eval_task *k = arg;
	if (k->reserving)
		task_reserve(k);
	else
		try_send(k);
}

static void task_prepare(struct eval_task *k, enum call_purpose p)
{
	struct prompt_vars v;
	memset(&v, 0, sizeof(v));
	v.ticket = &k->run->items[k->item].pt;
	v.tax = &k->run->tax;
	task_handle(k, model_call_prepare(k->c->mcl, &k->calls, k->c->tier, p, v, now_ms(),
					  &k->ans, k->err, sizeof(k->err)));
}

static void task_handle(struct eval_task *k, enum job_event ev)
{
	if (ev != EV_REQUEST_READY)
		eval_budget_settle(k->run, &k->calls); /* the current call ended (or none was made) */
	switch (ev) {
	case EV_REQUEST_READY:
		if (k->run->db)
			task_reserve(k);
		else
			try_send(k);
		return;
	case EV_MODE_FALLBACK:
		task_prepare(k, PURPOSE_TRIAGE);
		return;
	case EV_ANSWER_OK:
		task_finish(k, 1, 0);
		return;
	case EV_ANSWER_INVALID:
		if (!k->repaired) {
			/* as the daemon: one repair call with the error and the answer */
			k->repaired = 1;
			task_prepare(k, PURPOSE_REPAIR);
			return;
		}
		task_finish(k, 0, 1);
		return;
	default: /* failed, too large, prompt failed: not an answer, not stored */
		task_finish(k, 0, 0);
		return;
	}
}

static void task_start(struct eval_task *k)
{
	model_calls_init(&k->calls);
	answer_init(&k->ans);
	k->timer = evtimer_new(k->run->base, on_timer, k);
	k->t0 = now_ms();
	task_prepare(k, PURPOSE_TRIAGE);
}

/* ---- eval_answers ----------------------------------------------------------- */

static int store_task(PGconn *db, const struct eval_task *k, char *err, size_t errlen)
{
	const struct eval_item *it = &k->run->items[k->item];
	struct llm_usage u = {0};
	int attempts = 0;
	char pt[24], ct[24], cc[24], conf[32], lat[32], att[16];
	const char *answer = NULL, *error = NULL;
	const char *cat = NULL, *sent = NULL, *urg = NULL;
	PGresult *r;
	int rc = 0;

	for (int i = 0; i < k->calls.n; i++) {
		const struct call_rec *c = &k->calls.v[i];
		u.prompt_tokens += c->usage.prompt_tokens;
		u.completion_tokens += c->usage.completion_tokens;
		u.cached_tokens += c->usage.cached_tokens;
		attempts += c->attempts;
		answer = c->answer;
		error = c->error[0] ? c->error : NULL;
	}
	if (k->ok) {
		cat = k->ans.category;
		sent = sentiment_name(k->ans.sentiment);
		urg = urgency_name(k->ans.urgency);
		error = NULL;
	}
	snprintf(pt, sizeof(pt), "%lld", (long long)u.prompt_tokens);
	snprintf(ct, sizeof(ct), "%lld", (long long)u.completion_tokens);
	snprintf(cc, sizeof(cc), "%lld", (long long)u.cached_tokens);
	snprintf(conf, sizeof(conf), "%.6f", k->ans.confidence);
	snprintf(lat, sizeof(lat), "%.3f", k->t1 - k->t0);
	snprintf(att, sizeof(att), "%d", attempts);
	{
		const char *p[17] = {it->hash, k->c->tier == MODEL_FLAGSHIP ? k->c->cfg.flagship.model
									   : k->c->cfg.mini.model,
				     k->c->prompt_version, model_tier_name(k->c->tier),
				     k->ok ? "t" : "f", k->repaired ? "t" : "f", cat, sent, urg,
				     k->ok ? conf : NULL, pt, cc, ct, lat, att, error, answer};
		r = PQexecParams(
		    db,
		    "INSERT INTO eval_answers (text_hash, model, prompt_version, tier, valid, "
		    "repaired, category, sentiment, urgency, confidence, prompt_tokens, "
		    "cached_tokens, completion_tokens, cost_usd, latency_ms, attempts, error, answer) "
		    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
		    "triaged_cost(triaged_price_at($2, now()), $11::integer, $12::integer, "
		    "$13::integer), $14, $15, $16, $17) ON CONFLICT DO NOTHING",
		    17, NULL, p, NULL, NULL, 0);
	}
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "eval_answers: %s", PQresultErrorMessage(r));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

static int cmp_hash(const void *a, const void *b)
{
	const struct eval_item *const *x = a, *const *y = b;
	return strcmp((*x)->hash, (*y)->hash);
}

/* Fill c->r from eval_answers for every item whose text is stored. */
static int load_answers(PGconn *db, struct eval_run *run, struct eval_conf *c,
			struct eval_item **sorted, char *err, size_t errlen)
{
	const char *model = c->tier == MODEL_FLAGSHIP ? c->cfg.flagship.model : c->cfg.mini.model;
	const char *p[2] = {model, c->prompt_version};
	PGresult *r = PQexecParams(db,
				   "SELECT text_hash, valid, repaired, category, sentiment, urgency, "
				   "coalesce(confidence, 0), coalesce(cost_usd, 0), latency_ms "
				   "FROM eval_answers WHERE model = $1 AND prompt_version = $2",
				   2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "eval_answers: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	for (size_t i = 0; i < run->n; i++)
		c->r[i].have = 0;
	for (int row = 0; row < PQntuples(r); row++) {
		struct eval_item key, *kp = &key, **hit;
		struct eval_res res;
		size_t lo;
		snprintf(key.hash, sizeof(key.hash), "%s", PQgetvalue(r, row, 0));
		hit = bsearch(&kp, sorted, run->n, sizeof(*sorted), cmp_hash);
		if (hit == NULL)
			continue;
		memset(&res, 0, sizeof(res));
		res.have = 1;
		res.valid = PQgetvalue(r, row, 1)[0] == 't';
		res.repaired = PQgetvalue(r, row, 2)[0] == 't';
		res.label[0] = res.valid ? eval_label_index((const char *const *)run->tax.categories,
						       run->tax.ncategories, PQgetvalue(r, row, 3))
					 : -1;
		res.label[1] = res.valid ? eval_label_index(eval_sent_names, SENT__COUNT, PQgetvalue(r, row, 4)) : -1;
		res.label[2] = res.valid ? eval_label_index(eval_urg_names, URG__COUNT, PQgetvalue(r, row, 5)) : -1;
		res.conf = strtod(PQgetvalue(r, row, 6), NULL);
		res.cost = strtod(PQgetvalue(r, row, 7), NULL);
		res.latency_ms = strtod(PQgetvalue(r, row, 8), NULL);
		/* every item with this text (a set may repeat a text) */
		lo = (size_t)(hit - sorted);
		while (lo > 0 && strcmp(sorted[lo - 1]->hash, key.hash) == 0)
			lo--;
		for (; lo < run->n && strcmp(sorted[lo]->hash, key.hash) == 0; lo++)
			c->r[sorted[lo] - run->items] = res;
	}
	PQclear(r);
	return 0;
}

/* The price per million tokens in force for c's model; -1 with err when it has none. */
static int load_price(PGconn *db, struct eval_conf *c, char *err, size_t errlen)
{
	const char *model = c->tier == MODEL_FLAGSHIP ? c->cfg.flagship.model : c->cfg.mini.model;
	const char *p[1] = {model};
	PGresult *r = PQexecParams(db,
				   "SELECT (p).input_per_mtok, (p).cached_input_per_mtok, "
				   "(p).output_per_mtok FROM (SELECT triaged_price_at($1, now()) AS p) s",
				   1, NULL, p, NULL, NULL, 0);
	int rc = -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "model_prices: %s", PQresultErrorMessage(r));
		goto out;
	}
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0) || PQgetisnull(r, 0, 2)) {
		snprintf(err, errlen, "model %s has no price in model_prices: --max-cost cannot be "
				      "enforced", model);
		goto out;
	}
	c->in_mtok = strtod(PQgetvalue(r, 0, 0), NULL);
	c->cached_mtok = PQgetisnull(r, 0, 1) ? c->in_mtok : strtod(PQgetvalue(r, 0, 1), NULL);
	c->out_mtok = strtod(PQgetvalue(r, 0, 2), NULL);
	c->priced = 1;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* ---- the command ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: triaged [-c FILE] eval --set FILE.jsonl | --from-db[=N]\n"
		"         [--model TIER[=MODEL[@PROMPT]]]...\n"
		"         [--concurrency N] [--rules FILE] [--calibrate] [--tolerance POINTS]\n"
		"         [--report FILE.html] [--no-calls] [--holdout FRACTION] [--max-cost USD]\n"
		"  TIER is mini or flagship; without --model: both tiers as configured.\n"
		"  Answers are stored in eval_answers by (text, model, prompt version) and reused.\n"
		"  --rules FILE    what-if: replay stored answers under a candidate rules file\n"
		"  --no-calls      use stored answers only (missing ones count as invalid)\n"
		"  --holdout F     fit thresholds on the other tickets, score them on this share\n"
		"                  held out by hash of source:ticket_id (default 0.5; 0: off)\n"
		"  --max-cost USD  make no more calls once this run's calls cost USD (at\n"
		"                  model_prices); what was answered is stored: run again to resume.\n"
		"                  Exit code 3 when the cap stopped the run\n"
		"  --from-db[=N]   the newest N (default all) tickets agents corrected or approved\n"
		"                  as they were, with those labels as gold\n");
}

static int parse_model(const struct config *base, const char *arg, struct eval_conf *c)
{
	char *s = xstrdup(arg), *eq = strchr(s, '='), *at;
	struct model_config *mc;
	c->spec = s;
	c->cfg = *base;
	if (eq)
		*eq = '\0';
	if (strcmp(s, "mini") == 0)
		c->tier = MODEL_MINI;
	else if (strcmp(s, "flagship") == 0)
		c->tier = MODEL_FLAGSHIP;
	else
		return -1;
	mc = c->tier == MODEL_MINI ? &c->cfg.mini : &c->cfg.flagship;
	if (eq) {
		at = strchr(eq + 1, '@');
		if (at) {
			*at = '\0';
			if (at[1])
				mc->prompt = at + 1;
		}
		if (eq[1])
			mc->model = eq + 1;
	}
	return 0;
}

int eval_run_main(const struct config *cfg, int argc, char **argv, FILE *out)
{
	static const struct option opts[] = {
	    {"set", required_argument, NULL, 's'},
	    {"model", required_argument, NULL, 'm'},
	    {"concurrency", required_argument, NULL, 'n'},
	    {"rules", required_argument, NULL, 'r'},
	    {"calibrate", no_argument, NULL, 'C'},
	    {"tolerance", required_argument, NULL, 't'},
	    {"report", required_argument, NULL, 'R'},
	    {"no-calls", no_argument, NULL, 'N'},
	    {"from-db", optional_argument, NULL, 'D'},
	    {"holdout", required_argument, NULL, 'H'},
	    {"max-cost", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct eval_conf confs[EVAL_MAX_CONFS];
	struct eval_run run;
	struct eval_item **sorted = NULL;
	struct safety saf;
	struct rules *shipped = NULL, *whatif = NULL;
	const char *set = NULL, *whatif_path = NULL, *report = NULL;
	double tolerance = 1.0, holdout = 0.5;
	int nconf = 0, calibrate = 0, no_calls = 0, rc = 1, o, saf_ok = 0;
	long from_db = 0;
	PGconn *db = NULL;
	char err[1024];

	memset(confs, 0, sizeof(confs));
	memset(&run, 0, sizeof(run));
	memset(&saf, 0, sizeof(saf));
	run.concurrency = 16;
	run.progress_pct = -1;
	run.tax.categories = (const char *const *)cfg->categories;
	run.tax.ncategories = cfg->ncategories;
	optind = 0; /* GNU: start over (main parsed its own options) */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			set = optarg;
			break;
		case 'm':
			if (nconf == EVAL_MAX_CONFS || parse_model(cfg, optarg, &confs[nconf++]) < 0) {
				fprintf(stderr, "triaged eval: bad --model '%s'\n", optarg);
				rc = 2;
				goto out;
			}
			break;
		case 'n':
			run.concurrency = strtol(optarg, NULL, 10);
			if (run.concurrency < 1 || run.concurrency > 4096) {
				fprintf(stderr, "triaged eval: --concurrency 1..4096\n");
				rc = 2;
				goto out;
			}
			break;
		case 'r':
			whatif_path = optarg;
			break;
		case 'C':
			calibrate = 1;
			break;
		case 't':
			tolerance = strtod(optarg, NULL);
			break;
		case 'R':
			report = optarg;
			break;
		case 'N':
			no_calls = 1;
			break;
		case 'D':
			from_db = optarg ? strtol(optarg, NULL, 10) : 100000;
			if (from_db < 1) {
				fprintf(stderr, "triaged eval: --from-db[=N]: N >= 1\n");
				rc = 2;
				goto out;
			}
			break;
		case 'H':
			holdout = strtod(optarg, NULL);
			if (!(holdout >= 0 && holdout < 1)) {
				fprintf(stderr, "triaged eval: --holdout 0 <= F < 1\n");
				rc = 2;
				goto out;
			}
			break;
		case 'X':
			run.max_cost = strtod(optarg, NULL);
			if (!(run.max_cost > 0)) {
				fprintf(stderr, "triaged eval: --max-cost USD > 0\n");
				rc = 2;
				goto out;
			}
			break;
		case 'h':
			usage(out);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if ((set == NULL) == (from_db == 0) || optind < argc) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (nconf == 0) {
		(void)parse_model(cfg, "mini", &confs[nconf++]);
		(void)parse_model(cfg, "flagship", &confs[nconf++]);
	}
	if (cfg->rules_file[0]) {
		shipped = rules_load_file(cfg->rules_file, err, sizeof(err));
		if (shipped == NULL) {
			fprintf(stderr, "triaged eval: %s\n", err);
			goto out;
		}
	}
	if (whatif_path) {
		whatif = rules_load_file(whatif_path, err, sizeof(err));
		if (whatif == NULL) {
			fprintf(stderr, "triaged eval: %s\n", err);
			goto out;
		}
	}
	run.base = loopslice_base_new();
	if (run.base == NULL) {
		fprintf(stderr, "triaged eval: event_base_new failed\n");
		goto out;
	}
	for (int i = 0; i < nconf; i++) {
		confs[i].mcl = model_caller_new(run.base, &confs[i].cfg, &run.tax, err, sizeof(err));
		if (confs[i].mcl == NULL) {
			fprintf(stderr, "triaged eval: %s: %s\n", confs[i].spec, err);
			goto out;
		}
		confs[i].prompt_version =
		    model_call_prompt(confs[i].mcl, confs[i].tier, PURPOSE_TRIAGE)->version;
	}
	{
		const struct prompt *pp[MODEL__TIERS] = {
		    model_call_prompt(confs[0].mcl, MODEL_MINI, PURPOSE_TRIAGE),
		    model_call_prompt(confs[0].mcl, MODEL_FLAGSHIP, PURPOSE_TRIAGE)};
		if (safety_init(&saf, cfg, pp, err, sizeof(err)) < 0) {
			fprintf(stderr, "triaged eval: %s\n", err);
			goto out;
		}
		saf_ok = 1;
	}
	db = PQconnectdb(cfg->pg_conninfo);
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "triaged eval: postgres: %s", PQerrorMessage(db));
		goto out;
	}
	if ((set ? eval_load_set(&run, cfg, saf.redactor, set, err, sizeof(err))
		 : eval_load_db(&run, cfg, saf.redactor, db, from_db, err, sizeof(err))) < 0) {
		fprintf(stderr, "triaged eval: %s\n", err);
		goto out;
	}
	for (int i = 0; run.max_cost > 0 && !no_calls && i < nconf; i++)
		if (load_price(db, &confs[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "triaged eval: %s\n", err);
			goto out;
		}
	sorted = xmalloc(run.n * sizeof(*sorted));
	for (size_t i = 0; i < run.n; i++)
		sorted[i] = &run.items[i];
	qsort(sorted, run.n, sizeof(*sorted), cmp_hash);

	/* what is stored already; one task per missing distinct text and configuration */
	run.tasks = xcalloc(run.n * (size_t)nconf, sizeof(*run.tasks));
	for (int i = 0; i < nconf; i++) {
		confs[i].r = xcalloc(run.n, sizeof(struct eval_res));
		if (load_answers(db, &run, &confs[i], sorted, err, sizeof(err)) < 0) {
			fprintf(stderr, "triaged eval: %s\n", err);
			goto out;
		}
		for (size_t j = 0; j < run.n; j++) {
			const struct eval_item *it = sorted[j];
			size_t idx = (size_t)(it - run.items);
			if (confs[i].r[idx].have) {
				confs[i].reused++;
				continue;
			}
			if (no_calls || (j > 0 && strcmp(sorted[j - 1]->hash, it->hash) == 0))
				continue;
			run.tasks[run.ntasks].run = &run;
			run.tasks[run.ntasks].c = &confs[i];
			run.tasks[run.ntasks].item = idx;
			run.ntasks++;
		}
	}
	if (run.ntasks > 0 && cfg->budget_enforce)
		eval_budget_start(&run, cfg, db); /* the daemon's budget guard (issue #13) */
	if (run.ntasks > 0) {
		fprintf(stderr, "triaged eval: %zu model calls to make, concurrency %ld%s\n",
			run.ntasks, run.concurrency,
			run.db ? ", under the daily budgets (budget.enforce)" : "");
		run.confs_left = nconf;
		start_more(&run);
		if (run.inflight > 0)
			event_base_dispatch(run.base);
		/* stored after the loop: this is a command, blocking libpq is fine here */
		PQclear(PQexec(db, "BEGIN"));
		for (size_t k = 0; k < run.ntasks; k++) {
			struct eval_task *t = &run.tasks[k];
			if (!t->done || !(t->ok || t->invalid))
				continue;
			if (store_task(db, t, err, sizeof(err)) < 0) {
				fprintf(stderr, "triaged eval: %s\n", err);
				PQclear(PQexec(db, "ROLLBACK"));
				goto out;
			}
		}
		PQclear(PQexec(db, "COMMIT"));
		if (run.stopped) {
			size_t stored = stored_answers(&run, NULL);
			if (run.progress_pct >= 0 && isatty(2))
				fputc('\n', stderr);
			for (int i = 0; i < nconf; i++) /* refused before the last one (its message is the stop's) */
				if (confs[i].refused && strcmp(confs[i].refused_msg, run.stop_msg) != 0)
					fprintf(stderr, "triaged eval: %s.\n", confs[i].refused_msg);
			eval_budget_print_stop(&run, stored, stderr);
			rc = run.stop_rc;
			goto out;
		}
		if (run.capped) {
			size_t stored = stored_answers(&run, NULL);
			if (run.progress_pct >= 0 && isatty(2))
				fputc('\n', stderr);
			for (int i = 0; i < nconf; i++)
				if (confs[i].refused)
					fprintf(stderr, "triaged eval: %s; %zu of its calls not made.\n",
						confs[i].refused_msg, confs[i].not_made);
			fprintf(stderr,
				"triaged eval: cost cap reached: $%.6f spent of --max-cost $%.6f; "
				"%zu of %zu calls made, %zu answers stored, %zu calls not made. "
				"Run again (with a higher --max-cost) to resume: stored answers are "
				"reused.\n",
				run.spent, run.max_cost, run.finished, run.ntasks, stored,
				run.ntasks - run.finished);
			rc = 3;
			goto out;
		}
		for (int i = 0; i < nconf; i++)
			if (load_answers(db, &run, &confs[i], sorted, err, sizeof(err)) < 0) {
				fprintf(stderr, "triaged eval: %s\n", err);
				goto out;
			}
	}
	fprintf(out, "eval set %s: %zu tickets; %zu model calls made\n",
		set ? set : "(gold-labelled tickets in PostgreSQL)", run.n, run.finished);
	for (int i = 0; i < nconf; i++)
		eval_report_print_conf(out, &run, &confs[i], shipped, cfg->rules_file);
	{
		const struct eval_conf *m = NULL, *f = NULL;
		for (int i = 0; i < nconf; i++) {
			if (confs[i].tier == MODEL_MINI && !m)
				m = &confs[i];
			if (confs[i].tier == MODEL_FLAGSHIP && !f)
				f = &confs[i];
		}
		if (m && f && (m->refused || f->refused))
			fprintf(stderr, "triaged eval: the mini and flagship mix is not computed: %s "
					"is refused by the provider\n",
				m->refused ? "the mini" : "the flagship");
		else if (m && f &&
		    eval_report_print_mix(out, &run, m, f, shipped,
					  cfg->rules_file[0] ? cfg->rules_file : "none", whatif,
					  whatif_path, tolerance, holdout, calibrate, report) < 0)
			goto out;
		if ((!m || !f) && (report || calibrate || whatif))
			fprintf(stderr, "triaged eval: --report, --calibrate and --rules need a mini "
					"and a flagship configuration\n");
	}
	rc = 0;
	for (int i = 0; i < nconf; i++)
		if (confs[i].failed)
			rc = 1; /* figures printed, but some tickets have no answer */
	for (int i = 0; i < nconf; i++) {
		if (!confs[i].refused)
			continue;
		fprintf(stderr,
			"triaged eval: %s. %zu answers stored for it, %zu calls not made; the other "
			"configurations ran. Fix the tier's configuration or the account and run "
			"again to resume: stored answers are reused.\n",
			confs[i].refused_msg, stored_answers(&run, &confs[i]), confs[i].not_made);
		rc = 1;
	}
out:
	for (size_t k = 0; k < run.ntasks; k++) {
		model_calls_cleanup(&run.tasks[k].calls);
		answer_cleanup(&run.tasks[k].ans);
		if (run.tasks[k].timer)
			event_free(run.tasks[k].timer);
	}
	free(run.tasks);
	eval_budget_cleanup(&run);
	for (int i = 0; i < nconf; i++) {
		model_caller_free(confs[i].mcl);
		free(confs[i].spec);
		free(confs[i].r);
	}
	for (size_t i = 0; i < run.n; i++) {
		ticket_free(run.items[i].t);
		free(run.items[i].p_subject);
		free(run.items[i].p_body);
	}
	free(run.items);
	free(sorted);
	if (saf_ok)
		safety_cleanup(&saf);
	rules_free(shipped);
	rules_free(whatif);
	PQfinish(db);
	if (run.base)
		event_base_free(run.base);
	return rc;
}
