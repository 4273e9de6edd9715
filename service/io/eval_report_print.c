/*
 * eval_report_print: see eval_report_print.h. Owns the printed figures of
 * `triaged eval` and the report file; the arithmetic is evalstats', the HTML
 * evalreport's. Must never call a model, touch PostgreSQL or log ticket text.
 */
#include "eval_report_print.h"

#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "buf.h"
#include "evalreport.h"
#include "evalstats.h"
#include "rules.h"
#include "ticket.h"
#include "xmem.h"

static const char *conf_model(const struct eval_conf *c)
{
	return c->tier == MODEL_FLAGSHIP ? c->cfg.flagship.model : c->cfg.mini.model;
}

/* The rules' decision on one item with this mini answer (NULL answer: invalid). */
static enum rule_action rules_on(const struct rules *rs, const struct eval_item *it,
				 const struct eval_res *r, const struct taxonomy *tax,
				 char *matched, size_t mlen)
{
	struct rules_input in;
	struct rules_decision d;
	struct answer a;

	answer_init(&a);
	memset(&in, 0, sizeof(in));
	in.ticket = it->t;
	if (r->valid && r->label[0] >= 0) {
		a.category = (char *)tax->categories[r->label[0]];
		a.confidence = r->conf;
		a.sentiment = r->label[1] >= 0 ? (enum sentiment)r->label[1] : SENT_NEUTRAL;
		a.urgency = r->label[2] >= 0 ? (enum urgency)r->label[2] : URG_NORMAL;
		a.language = (char *)"en";
		in.mini = &a;
	} else {
		in.mini_invalid = 1;
	}
	rules_eval(rs, &in, &d);
	if (matched)
		snprintf(matched, mlen, "%s", d.matched);
	return d.action;
}

void eval_report_print_conf(FILE *out, struct eval_run *run, struct eval_conf *c,
			    const struct rules *rs, const char *rules_name)
{
	size_t n = run->n, ncat = run->tax.ncategories, valid = 0, repaired = 0, esc = 0;
	int *gold = xmalloc(n * sizeof(int)), *pred = xmalloc(n * sizeof(int));
	double *cost = xmalloc(n * sizeof(double)), *lat = xmalloc(n * sizeof(double));
	unsigned *cm = xcalloc(ncat * (ncat + 1), sizeof(unsigned));
	static const char *const fields[3] = {"category", "sentiment", "urgency"};
	const size_t nlab[3] = {ncat, SENT__COUNT, URG__COUNT};

	fprintf(out, "\n== %s model=%s prompt=%s: %zu tickets, %zu calls made, %zu answers reused, "
		     "%zu failed (not stored)\n",
		model_tier_name(c->tier), conf_model(c), c->prompt_version, n, c->calls, c->reused,
		c->failed);
	if (c->refused)
		fprintf(out, "REFUSED by the provider: %s; %zu calls not made. The figures below count "
			     "the tickets without an answer as wrong.\n",
			c->refused_msg, c->not_made);
	for (int f = 0; f < 3; f++) {
		size_t labelled = 0;
		for (size_t i = 0; i < n; i++) {
			gold[i] = run->items[i].gold[f];
			pred[i] = c->r[i].have && c->r[i].valid ? c->r[i].label[f] : -1;
			labelled += gold[i] >= 0;
		}
		if (labelled == 0) {
			fprintf(out, "%-9s  no gold labels\n", fields[f]);
			continue;
		}
		fprintf(out, "%-9s  accuracy %6.2f%%  macro-F1 %.4f  (%zu labelled)\n", fields[f],
			100.0 * evalstats_accuracy(gold, pred, n),
			evalstats_macro_f1(gold, pred, n, nlab[f]), labelled);
	}
	for (size_t i = 0; i < n; i++) {
		gold[i] = run->items[i].gold[0];
		pred[i] = c->r[i].have && c->r[i].valid ? c->r[i].label[0] : -1;
		valid += c->r[i].have && c->r[i].valid;
		repaired += c->r[i].have && c->r[i].repaired;
		cost[i] = c->r[i].cost;
		lat[i] = c->r[i].latency_ms;
		if (c->tier == MODEL_MINI && rs &&
		    rules_on(rs, &run->items[i], &c->r[i], &run->tax, NULL, 0) == RULE_ESCALATE)
			esc++;
	}
	fprintf(out, "schema-valid %.2f%%  repaired %.2f%%\n", 100.0 * (double)valid / (double)n,
		100.0 * (double)repaired / (double)n);
	if (c->tier == MODEL_MINI && rs)
		fprintf(out, "escalation share under %s: %.2f%%\n", rules_name,
			100.0 * (double)esc / (double)n);
	fprintf(out, "cost per 1,000 tickets: $%.4f  latency p50 %.0f ms  p95 %.0f ms\n",
		evalstats_per_1000(cost, n), evalstats_percentile(lat, n, 50),
		evalstats_percentile(lat, n, 95));
	evalstats_confusion(gold, pred, n, ncat, cm);
	fprintf(out, "category confusion (rows: gold, columns: predicted, last: invalid)\n%-22s",
		"");
	for (size_t p = 0; p < ncat; p++)
		fprintf(out, " %4zu", p);
	fprintf(out, "  inv\n");
	for (size_t g = 0; g < ncat; g++) {
		fprintf(out, "%2zu %-19.19s", g, run->tax.categories[g]);
		for (size_t p = 0; p <= ncat; p++)
			fprintf(out, " %4u", cm[g * (ncat + 1) + p]);
		fputc('\n', out);
	}
	free(gold);
	free(pred);
	free(cost);
	free(lat);
	free(cm);
}

static void row(FILE *out, const char *name, const struct evalstats_point *p)
{
	fprintf(out, "| %-34s | %7.2f%% | %8.4f | %8.1f%% | %11.4f |\n", name, 100.0 * p->accuracy,
		p->macro_f1, 100.0 * p->flagship_share, p->cost_per_1000);
}

/* mini and flagship answers as cascade items; forced by the rules other than the confidence one */
static struct evalstats_item *make_items(struct eval_run *run, const struct eval_conf *m,
					 const struct eval_conf *f, const struct rules *rs,
					 int keep_confidence_rule)
{
	struct evalstats_item *v = xcalloc(run->n, sizeof(*v));
	for (size_t i = 0; i < run->n; i++) {
		const struct eval_res *a = &m->r[i], *b = &f->r[i];
		char matched[512] = "";
		v[i].gold = run->items[i].gold[0];
		v[i].mini = a->have && a->valid ? a->label[0] : -1;
		v[i].mini_conf = a->conf;
		v[i].flagship = b->have && b->valid ? b->label[0] : -1;
		v[i].mini_cost = a->cost;
		v[i].flagship_cost = b->cost;
		v[i].mini_ms = a->latency_ms;
		v[i].flagship_ms = b->latency_ms;
		if (rs && rules_on(rs, &run->items[i], a, &run->tax, matched, sizeof(matched)) ==
			      RULE_ESCALATE) {
			/* a rule list naming only low_confidence is the threshold's job */
			v[i].forced = keep_confidence_rule || strcmp(matched, "low_confidence") != 0;
		}
	}
	return v;
}

/*
 * Which escalation rules pay for themselves: every ticket the rules send to
 * the flagship, credited to the first matching rule in file order, with the
 * flagship's stored answer against the mini's.
 */
static void print_rule_report(FILE *out, struct eval_run *run, const struct eval_conf *m,
			      const struct eval_conf *f, const struct rules *rs, const char *name)
{
	char(*names)[RULES_MAX_NAME + 1] = xcalloc(RULES_MAX_RULES, sizeof(*names));
	struct evalstats_item *items = make_items(run, m, f, NULL, 0);
	struct evalstats_rule_row *rows = xcalloc(RULES_MAX_RULES, sizeof(*rows));
	int *rule = xmalloc(run->n * sizeof(int));
	bool *sole = xcalloc(run->n ? run->n : 1, sizeof(bool));
	size_t nr = 0, esc = 0;

	for (size_t i = 0; i < run->n; i++) {
		char matched[512] = "";
		size_t len, k;
		rule[i] = -1;
		if (rules_on(rs, &run->items[i], &m->r[i], &run->tax, matched, sizeof(matched)) !=
		    RULE_ESCALATE)
			continue;
		esc++;
		/* one matching rule: removing it would leave the ticket with the mini */
		sole[i] = strchr(matched, ',') == NULL;
		len = strcspn(matched, ",");
		if (len > RULES_MAX_NAME)
			len = RULES_MAX_NAME;
		for (k = 0; k < nr; k++)
			if (strlen(names[k]) == len && strncmp(names[k], matched, len) == 0)
				break;
		if (k == nr && nr < RULES_MAX_RULES)
			snprintf(names[nr++], RULES_MAX_NAME + 1, "%.*s", (int)len, matched);
		rule[i] = k < nr ? (int)k : -1;
	}
	evalstats_rule_report(items, rule, sole, run->n, nr, rows);
	fprintf(out, "\nescalation rules under %s: %zu of %zu tickets sent to the flagship "
		     "(each credited to its first matching rule; gain: accuracy points over the set; "
		     "$ per fix: flagship cost per net extra right answer; alone: tickets no other rule "
		     "escalates, what removing the rule gives back)\n\n",
		name, esc, run->n);
	fprintf(out, "| %-28s | %6s | %8s | %10s | %11s | %10s | %11s | %12s | %5s | %10s | %11s |\n",
		"rule", "sent", "changed", "mini right", "flag. right", "gain (pts)", "$ per 1,000",
		"$ per fix", "alone", "alone gain", "alone $/1k");
	fprintf(out, "| %-28s | %6s | %8s | %10s | %11s | %10s | %11s | %12s | %5s | %10s | %11s |\n",
		"---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---");
	for (size_t k = 0; k < nr; k++) {
		const struct evalstats_rule_row *r = &rows[k];
		char per[32];
		if (r->cost_per_gain >= 0)
			snprintf(per, sizeof(per), "%.4f", r->cost_per_gain);
		else
			snprintf(per, sizeof(per), "no gain");
		fprintf(out,
			"| %-28.28s | %6zu | %7.1f%% | %10zu | %11zu | %+10.2f | %11.4f | %12s | %5zu | "
			"%+10.2f | %11.4f |\n",
			names[k], r->sent, r->sent ? 100.0 * (double)r->changed / (double)r->sent : 0.0,
			r->mini_correct, r->flagship_correct, 100.0 * r->gain, r->cost_per_1000, per,
			r->sole_sent, 100.0 * r->sole_gain, r->sole_cost_per_1000);
	}
	free(names);
	free(items);
	free(rows);
	free(rule);
	free(sole);
}

/*
 * Thresholds fitted on the tickets kept in, scored on the held-out ones
 * (hash of source:ticket_id). Returns 0 with h filled, or -1 with err (a part
 * without a labelled ticket).
 */
static int compute_holdout(struct eval_run *run, const struct evalstats_item *items, double holdout,
			   double tolerance, struct evalstats_holdout *h, char *err, size_t errlen)
{
	bool *held = xcalloc(run->n ? run->n : 1, sizeof(bool));
	char key[512];
	int rc;

	for (size_t i = 0; i < run->n; i++) {
		snprintf(key, sizeof(key), "%s:%s", run->items[i].t->source,
			 run->items[i].t->ticket_id);
		held[i] = evalstats_heldout(key, holdout);
	}
	rc = evalstats_calibrate_holdout(items, run->n, run->tax.ncategories, tolerance / 100.0, held,
					 h, err, errlen);
	free(held);
	return rc;
}

static void print_holdout(FILE *out, const struct evalstats_holdout *h, double holdout,
			  double tolerance)
{
	char key[80];

	fprintf(out, "\nheld-out check: thresholds fitted on %zu tickets, scored on the other %zu "
		     "(%.0f%% held out by hash of source:ticket_id, --holdout)\n\n",
		h->n_fit, h->n_test, 100.0 * holdout);
	fprintf(out, "| %-34s | %8s | %9s | %8s | %9s | %9s |\n", "configuration", "fit acc",
		"fit $/1k", "held acc", "held $/1k", "held flag");
	fprintf(out, "| %-34s | %8s | %9s | %8s | %9s | %9s |\n", "---", "---", "---", "---", "---",
		"---");
#define HROW(nm, a, b)                                                                           \
	fprintf(out, "| %-34s | %7.2f%% | %9.4f | %7.2f%% | %9.4f | %8.1f%% |\n", nm,              \
		100.0 * (a)->accuracy, (a)->cost_per_1000, 100.0 * (b)->accuracy, (b)->cost_per_1000, \
		100.0 * (b)->flagship_share)
	HROW("mini only", &h->fit.mini_only, &h->test_mini_only);
	HROW("flagship only", &h->fit.flagship_only, &h->test_flagship_only);
	if (h->fit.global_found) {
		snprintf(key, sizeof(key), "calibrated, global < %.2f", h->fit.global_threshold);
		HROW(key, &h->fit.global, &h->test_global);
	}
	if (h->fit.per_category_found)
		HROW("calibrated, per category", &h->fit.per_category, &h->test_per_category);
#undef HROW
	if (h->fit.per_category_found)
		fprintf(out, "\nheld out, per category: %+.2f points against flagship-only accuracy "
			     "(target -%.2f), %.1f%% of its cost\n",
			100.0 * (h->test_per_category.accuracy - h->test_flagship_only.accuracy),
			tolerance,
			h->test_flagship_only.cost_per_1000 > 0
			    ? 100.0 * h->test_per_category.cost_per_1000 /
				  h->test_flagship_only.cost_per_1000
			    : 0.0);
}

int eval_report_print_mix(FILE *out, struct eval_run *run, const struct eval_conf *m,
			  const struct eval_conf *f, const struct rules *shipped,
			  const char *shipped_name, const struct rules *whatif,
			  const char *whatif_name, double tolerance, double holdout, int calibrate,
			  const char *report)
{
	size_t ncat = run->tax.ncategories;
	struct evalstats_item *items = make_items(run, m, f, shipped, 0), *v = NULL;
	struct evalstats_calibration *cal = xcalloc(1, sizeof(*cal));
	struct evalstats_holdout *hold = NULL;
	double *zero = xcalloc(ncat, sizeof(double));
	struct evalstats_point p;
	char err[256], name[80];
	struct buf b;
	int rc = -1;

	buf_init(&b, 1u << 22);
	if (evalstats_calibrate(items, run->n, ncat, tolerance / 100.0, cal, err, sizeof(err)) != 0) {
		fprintf(stderr, "triaged eval: calibrate: %s\n", err);
		goto out;
	}
	fprintf(out, "\nmini-flagship agreement (category): %.2f%%\n",
		100.0 * ({
			int *x = xmalloc(run->n * sizeof(int)), *y = xmalloc(run->n * sizeof(int));
			for (size_t i = 0; i < run->n; i++) {
				x[i] = items[i].mini;
				y[i] = items[i].flagship;
			}
			double ag = evalstats_agreement(x, y, run->n);
			free(x);
			free(y);
			ag;
		}));
	fprintf(out, "\nmodel mix: %s + %s, %zu tickets, target flagship-only accuracy - %.2f points\n\n",
		conf_model(m), conf_model(f), run->n, tolerance);
	fprintf(out, "| %-34s | %8s | %8s | %9s | %11s |\n", "configuration", "accuracy", "macro-F1",
		"flagship", "$ per 1,000");
	fprintf(out, "| %-34s | %8s | %8s | %9s | %11s |\n", "---", "---", "---", "---", "---");
	row(out, "mini only", &cal->mini_only);
	row(out, "flagship only", &cal->flagship_only);
	v = make_items(run, m, f, shipped, 1);
	evalstats_cascade(v, run->n, ncat, zero, NULL, &p);
	snprintf(name, sizeof(name), "rules: %s", shipped_name);
	row(out, name, &p);
	if (whatif) {
		free(v);
		v = make_items(run, m, f, whatif, 1);
		evalstats_cascade(v, run->n, ncat, zero, NULL, &p);
		snprintf(name, sizeof(name), "what-if: %s", whatif_name);
		row(out, name, &p);
	}
	if (cal->global_found) {
		snprintf(name, sizeof(name), "calibrated, global < %.2f", cal->global_threshold);
		row(out, name, &cal->global);
	}
	if (cal->per_category_found) {
		row(out, "calibrated, per category", &cal->per_category);
		if (cal->flagship_only.cost_per_1000 > 0)
			fprintf(out, "\ncalibrated per-category cascade: %.1f%% of flagship-only cost\n",
				100.0 * cal->per_category.cost_per_1000 /
				    cal->flagship_only.cost_per_1000);
	} else {
		fprintf(out, "\nno per-category cascade reaches the target\n");
	}
	if (holdout > 0) {
		hold = xcalloc(1, sizeof(*hold));
		if (compute_holdout(run, items, holdout, tolerance, hold, err, sizeof(err)) == 0) {
			print_holdout(out, hold, holdout, tolerance);
		} else {
			fprintf(out, "\nheld-out check skipped (--holdout %.2f): %s\n", holdout, err);
			free(hold);
			hold = NULL;
		}
	}
	if (shipped)
		print_rule_report(out, run, m, f, shipped, shipped_name);
	if (whatif)
		print_rule_report(out, run, m, f, whatif, whatif_name);
	if (calibrate) {
		if (evalstats_rules_conf(cal, run->tax.categories, ncat, &b) == 0)
			fprintf(out, "\nsuggested rules.conf lines:\n%s\n", b.data ? b.data : "");
		buf_reset(&b);
		if (evalstats_curve_text(cal, &b) == 0)
			fprintf(out, "global-threshold curve (the other rules in force):\n%s",
				b.data ? b.data : "");
	}
	if (report) {
		int *gold = xmalloc(run->n * sizeof(int)), *pred = xmalloc(run->n * sizeof(int));
		unsigned *cm = xcalloc(ncat * (ncat + 1), sizeof(unsigned));
		FILE *rf = NULL;
		int bad;
		for (size_t i = 0; i < run->n; i++)
			gold[i] = items[i].gold;
		evalstats_cascade(items, run->n, ncat, cal->per_category_found ? cal->threshold : zero,
				  pred, &p);
		evalstats_confusion(gold, pred, run->n, ncat, cm);
		buf_reset(&b);
		snprintf(name, sizeof(name), "triaged model mix: %s + %s", conf_model(m), conf_model(f));
		bad = evalreport_html(cal, hold, cm, run->tax.categories, ncat, name, &b) != 0 ||
		      (rf = fopen(report, "w")) == NULL || fwrite(b.data, 1, b.len, rf) != b.len;
		if (rf && fclose(rf) != 0)
			bad = 1;
		free(gold);
		free(pred);
		free(cm);
		if (bad) {
			fprintf(stderr, "triaged eval: cannot write %s\n", report);
			goto out;
		}
		fprintf(out, "\nreport written to %s\n", report);
	}
	rc = 0;
out:
	buf_cleanup(&b);
	free(items);
	free(v);
	free(cal);
	free(hold);
	free(zero);
	return rc;
}
