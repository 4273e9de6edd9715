/*
 * eval_report_print: the figures `triaged eval` prints from the answers
 * eval_run has stored and reloaded. Owns: per-configuration accuracy,
 * macro-F1, schema validity, escalation share, cost and latency, the category
 * confusion matrix, the model-mix table (calibration, the rules' and a what-if
 * rules file's cascade), the suggested rules.conf lines and the HTML report
 * file. The arithmetic is evalstats'; the HTML is evalreport's.
 * Must never call a model, touch PostgreSQL or change an answer: it reads the
 * eval set and writes text.
 */
#ifndef TRIAGED_EVAL_REPORT_PRINT_H
#define TRIAGED_EVAL_REPORT_PRINT_H

#include <stdio.h>

#include "eval_set.h"
#include "xmem.h"

struct rules;

/*
 * Print one configuration's figures to out. rs (may be NULL) is the shipped
 * rules, rules_name their file: a mini configuration reports its escalation
 * share under them.
 */
void eval_report_print_conf(FILE *out, struct eval_run *run, struct eval_conf *c,
			    const struct rules *rs, const char *rules_name);

/*
 * Print the model-mix table for mini m and flagship f to out: agreement,
 * mini only, flagship only, the shipped rules, the what-if rules (whatif may
 * be NULL), calibrated thresholds within tolerance points of flagship-only
 * accuracy; with holdout > 0, thresholds fitted on the tickets kept in and
 * scored on that share held out (by hash of source:ticket_id); for the
 * shipped and what-if rules, which rules pay for themselves (tickets sent,
 * labels changed, accuracy gain, cost); with calibrate the suggested rules.conf lines and the threshold
 * curve; with report (may be NULL) the HTML report written to that path.
 * Returns 0, or -1 after an error on stderr.
 */
int eval_report_print_mix(FILE *out, struct eval_run *run, const struct eval_conf *m,
			  const struct eval_conf *f, const struct rules *shipped,
			  const char *shipped_name, const struct rules *whatif,
			  const char *whatif_name, double tolerance, double holdout, int calibrate,
			  const char *report) WUR;

#endif
