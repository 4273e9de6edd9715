/*
 * evalstats: the model-mix lab's arithmetic (issue #13), pure.
 *
 * Owns: accuracy and macro-F1 of one label field, the confusion matrix,
 * agreement between two configurations, cost per 1,000 tickets, latency
 * percentiles; the replay of stored per-ticket results under a cascade
 * (escalate to the flagship when the mini's confidence is below a threshold,
 * per mini category); calibration (the cheapest cascade meeting an accuracy
 * target, global and per category) and its output as rules.conf lines and a
 * coverage/accuracy/cost curve.
 *
 * Labels are indices into the caller's category (or urgency, sentiment) list.
 * A gold label < 0 means "not labelled": the ticket does not count for that
 * field. A predicted label < 0 means "no valid answer": always wrong.
 *
 * Must never: call a model, read files or the clock, or know about tickets,
 * PostgreSQL or HTTP. The eval command (io side) loads results and calls this.
 */
#ifndef TRIAGED_EVALSTATS_H
#define TRIAGED_EVALSTATS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define EVALSTATS_MAX_CATS 64
/* Thresholds are tried on a 0.01 grid from 0 (never escalate) to 1.00, then "always". */
#define EVALSTATS_NSTEPS 102
#define EVALSTATS_ALWAYS 1.01 /* a threshold above 1: every ticket of the category escalates */

/* One ticket's stored results, for replay. */
struct evalstats_item {
	int gold;           /* gold category, or < 0 when unlabelled (ignored by replay) */
	int mini;           /* the mini's category, or < 0 when its answer was invalid */
	double mini_conf;   /* the mini's confidence in [0, 1] */
	int flagship;       /* the flagship's category, or < 0 when invalid */
	bool forced;        /* escalated whatever the threshold (another rule matched) */
	double mini_cost;   /* cost of the mini call, any currency unit */
	double flagship_cost;
	double mini_ms;     /* latency of the mini call */
	double flagship_ms;
};

/* What one configuration achieves on a set of items. */
struct evalstats_point {
	double threshold;      /* the global threshold, for curve points; else 0 */
	size_t n;              /* labelled items counted */
	size_t correct;
	double accuracy;       /* correct / n, 0 when n = 0 */
	double macro_f1;
	double flagship_share; /* share of items sent to the flagship */
	double cost_per_1000;
	double p50_ms, p95_ms; /* latency per ticket: mini, plus flagship when escalated */
};

/* Fraction of items with gold >= 0 whose pred equals gold. 0 when none is labelled. */
double evalstats_accuracy(const int *gold, const int *pred, size_t n);

/*
 * Macro-F1 over the classes 0..ncat-1 that occur in gold or in pred (among
 * labelled items): the mean of 2tp / (2tp + fp + fn). An invalid prediction is
 * a false negative of the gold class only. 0 when no class occurs.
 */
double evalstats_macro_f1(const int *gold, const int *pred, size_t n, size_t ncat);

/*
 * The confusion matrix: m[g * (ncat + 1) + p] counts labelled items with gold g
 * and prediction p; column ncat counts invalid predictions. m has
 * ncat * (ncat + 1) entries and is overwritten.
 */
void evalstats_confusion(const int *gold, const int *pred, size_t n, size_t ncat, unsigned *m);

/* Fraction of items where a and b give the same valid label. 0 when n = 0. */
double evalstats_agreement(const int *a, const int *b, size_t n);

/* Sum of cost * 1000 / n; 0 when n = 0. */
double evalstats_per_1000(const double *cost, size_t n);

/* Nearest-rank percentile p (0 < p <= 100) of v; v is not changed. 0 when n = 0. */
double evalstats_percentile(const double *v, size_t n, double p);

/*
 * Replay items under a cascade: an item escalates when it is forced, when the
 * mini answer is invalid, or when mini_conf < threshold[mini] (threshold has
 * ncat entries; a value above 1 escalates the whole category). An escalated
 * item takes the flagship's answer and costs mini + flagship. pred, when not
 * NULL, receives the final label of each item. Unlabelled items count for
 * cost, share and latency but not for accuracy.
 */
void evalstats_cascade(const struct evalstats_item *items, size_t n, size_t ncat, const double *threshold,
		       int *pred, struct evalstats_point *out);

/* The two ends: every item answered by the mini only, or by the flagship only (no mini call). */
void evalstats_mini_only(const struct evalstats_item *items, size_t n, size_t ncat, struct evalstats_point *out);
void evalstats_flagship_only(const struct evalstats_item *items, size_t n, size_t ncat,
			     struct evalstats_point *out);

struct evalstats_calibration {
	double tolerance;                      /* accuracy points (as a fraction) below flagship-only */
	double target;                         /* flagship_only.accuracy - tolerance */
	struct evalstats_point mini_only, flagship_only;
	struct evalstats_point curve[EVALSTATS_NSTEPS]; /* one global threshold per grid step */
	bool global_found;
	double global_threshold;
	struct evalstats_point global;         /* the cheapest global threshold meeting target */
	bool per_category_found;
	double threshold[EVALSTATS_MAX_CATS];  /* per mini category */
	struct evalstats_point per_category;   /* the cheapest per-category cascade meeting target */
};

/*
 * Find the cheapest cascades reaching target accuracy = flagship-only accuracy
 * - tolerance: the best single threshold, and the best threshold per mini
 * category (exact, by dynamic programming over the number of correct answers;
 * among equal costs the more accurate, then the lower thresholds). Fills the
 * curve for every grid step. Returns 0, or -1 with err when ncat is out of
 * range or no item is labelled. Thresholds are fitted to these items: check
 * them on a held-out set before trusting small categories.
 */
int evalstats_calibrate(const struct evalstats_item *items, size_t n, size_t ncat, double tolerance,
			struct evalstats_calibration *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * The per-category result as rules.conf lines (deploy/RULES.md syntax): one
 * [rule calibrated_NAME] per category with a threshold above 0, with
 * confidence_below (or no confidence condition when the whole category
 * escalates), action escalate, priority 40. names has ncat entries.
 * Returns 0, or -1 when out's cap is reached.
 */
int evalstats_rules_conf(const struct evalstats_calibration *c, const char *const *names, size_t ncat,
			 struct buf *out) __attribute__((warn_unused_result));

/* The curve as a text table: threshold, coverage (share kept by the mini), accuracy, macro-F1, cost per 1,000. */
int evalstats_curve_text(const struct evalstats_calibration *c, struct buf *out) __attribute__((warn_unused_result));

/* ---- held-out calibration (issue #13, item 1) ---- */

/*
 * Whether the ticket with this key (its source and id, or any stable text)
 * is held out: FNV-1a 64 of "evalsplit", a NUL and key, through a
 * splitmix64-style finaliser, mapped to [0, 1), below fraction (so a ticket
 * held out at 0.2 is held out at 0.5 too). Deterministic, independent of shadow_pick's choice; 0
 * holds nothing out, 1 everything.
 */
bool evalstats_heldout(const char *key, double fraction);

/* Calibration fitted on one part of the items and scored on the other. */
struct evalstats_holdout {
	size_t n_fit, n_test;                 /* items in each part, labelled or not */
	struct evalstats_calibration fit;     /* calibrated on the fit part only (its figures are in-sample) */
	/* on the held-out part only: */
	struct evalstats_point test_mini_only, test_flagship_only;
	struct evalstats_point test_global;   /* the fit part's global threshold; valid when fit.global_found */
	struct evalstats_point test_per_category; /* its per-category thresholds; when fit.per_category_found */
};

/*
 * Split items by heldout[i] (true: held out), calibrate on the others with
 * tolerance, replay the thresholds found on the held-out items. Returns 0,
 * or -1 with err when either part has no labelled item or ncat is out of range.
 */
int evalstats_calibrate_holdout(const struct evalstats_item *items, size_t n, size_t ncat, double tolerance,
				const bool *heldout, struct evalstats_holdout *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* ---- which escalation rules pay for themselves (issue #13, item 4) ---- */

/* One rule's account over a replay: the tickets it escalated. */
struct evalstats_rule_row {
	size_t sent;             /* items it sent to the flagship */
	size_t changed;          /* of those, the flagship's label differs from the mini's */
	size_t labelled;         /* of those, with a gold label */
	size_t mini_correct;     /* labelled ones the mini had right */
	size_t flagship_correct; /* labelled ones the flagship has right */
	double gain;             /* (flagship_correct - mini_correct) / labelled items of the whole set */
	double cost_per_1000;    /* flagship cost of its items, per 1,000 tickets of the whole set */
	double cost_per_gain;    /* flagship cost per net extra correct answer; < 0 when none gained */
	/* the margin: items no other rule escalates (what removing the rule changes) */
	size_t sole_sent;
	double sole_gain;          /* net correct answers of those, / labelled items of the set */
	double sole_cost_per_1000; /* their flagship cost per 1,000 tickets of the set */
};

/*
 * Account each escalation to the rule that caused it: rule[i] is the index
 * (0..nrules-1) of the rule credited with item i's escalation, or < 0 when
 * the item was not escalated; sole[i] (sole may be NULL: none) says no other
 * rule escalated it, so that removing the rule sends it back to the mini.
 * out has nrules rows and is overwritten. An invalid answer counts as wrong,
 * a label change includes invalid to valid.
 */
void evalstats_rule_report(const struct evalstats_item *items, const int *rule, const bool *sole, size_t n,
			   size_t nrules, struct evalstats_rule_row *out);

#endif
