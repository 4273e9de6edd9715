/*
 * labsim: the model-mix lab without a model server (issue #13). Reads an eval
 * set, answers every ticket with the fake error model for the mini
 * (gpt-4o-mini) and the flagship (gpt-4o), applies the shipped rules.conf to
 * the mini answers, and prints the table the lab asks for (mini only,
 * flagship only, shipped rules, calibrated cascades), the suggested rules and
 * the coverage/accuracy/cost curve. A stand-in until `triaged eval` runs real
 * models through the daemon's client; the arithmetic is evalstats'.
 *
 * Costs are estimated from bytes (4 bytes per token; prompt = 2,600 bytes of
 * instructions + subject + body; 180 output tokens) at OpenAI list prices:
 * gpt-4o-mini $0.15 / $0.60, gpt-4o $2.50 / $10 per million tokens. The mini
 * answer's sentiment and urgency are not modelled (neutral, normal), so the
 * sentiment and urgency rules never fire here.
 *
 * Usage: triaged-labsim EVALSET [--seed N] [--tolerance POINTS] [--rules FILE] [--report FILE.html]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "answer.h"
#include "evalreport.h"
#include "evalstats.h"
#include "fake_errors.h"
#include "rules.h"
#include "ticket.h"

#define PROMPT_BYTES 2600.0
#define OUT_TOKENS 180.0

static double call_cost(size_t text_bytes, double in_per_m, double out_per_m)
{
	double in_tokens = (PROMPT_BYTES + (double)text_bytes) / 4.0;
	return (in_tokens * in_per_m + OUT_TOKENS * out_per_m) / 1e6;
}

static void row(const char *name, const struct evalstats_point *p)
{
	printf("| %-30s | %7.2f%% | %8.4f | %8.1f%% | %11.4f |\n", name, 100.0 * p->accuracy, p->macro_f1,
	       100.0 * p->flagship_share, p->cost_per_1000);
}

int main(int argc, char **argv)
{
	const char *path = NULL, *rules_path = TRIAGED_DEFAULT_RULES_FILE, *report = NULL;
	unsigned long long seed = 13;
	double tolerance = 1.0;
	struct fe_model *fe = NULL;
	struct rules *rules = NULL;
	struct evalstats_item *items = NULL, *shipped = NULL;
	size_t n = 0, cap = 0;
	struct ticket_limits lim;
	struct evalstats_calibration cal;
	struct evalstats_point p;
	double zero[FE_NCAT] = {0};
	char err[512], *line = NULL;
	size_t lcap = 0;
	FILE *f = NULL;
	struct buf b;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--tolerance") == 0 && i + 1 < argc)
			tolerance = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
			report = argv[++i];
		else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
			rules_path = argv[++i];
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "usage: triaged-labsim EVALSET [--seed N] [--tolerance POINTS] [--rules FILE]\n");
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: triaged-labsim EVALSET [--seed N] [--tolerance POINTS] [--rules FILE]\n");
		return 2;
	}
	rules = rules_load_file(rules_path, err, sizeof(err));
	if (!rules) {
		fprintf(stderr, "labsim: %s\n", err);
		goto out;
	}
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "labsim: %s: %s\n", path, strerror(errno));
		goto out;
	}
	fe = fe_model_new(seed);
	ticket_limits_default(&lim);
	while (getline(&line, &lcap, f) > 0) {
		json_object *root = json_tokener_parse(line), *jt, *jg, *jc;
		struct ticket *t = NULL;
		struct fe_answer ma, fa;
		struct answer mini;
		struct rules_input in;
		struct rules_decision d;
		const char *tj, *body;
		size_t blen;

		if (!root || !json_object_object_get_ex(root, "ticket", &jt) ||
		    !json_object_object_get_ex(root, "gold", &jg) || !json_object_object_get_ex(jg, "category", &jc)) {
			fprintf(stderr, "labsim: %s:%zu: not an eval line\n", path, n + 1);
			json_object_put(root);
			goto out;
		}
		tj = json_object_to_json_string_ext(jt, JSON_C_TO_STRING_PLAIN);
		if (ticket_parse(tj, strlen(tj), NULL, 0, &lim, &t, err, sizeof(err)) != TICKET_OK) {
			fprintf(stderr, "labsim: %s:%zu: %s\n", path, n + 1, err);
			json_object_put(root);
			goto out;
		}
		json_object *jb;
		json_object_object_get_ex(jt, "body", &jb);
		body = json_object_get_string(jb);
		blen = (size_t)json_object_get_string_len(jb);
		fe_model_answer(fe, "gpt-4o-mini", body, blen, json_object_get_string(jc), &ma);
		fe_model_answer(fe, "gpt-4o", body, blen, json_object_get_string(jc), &fa);

		answer_init(&mini);
		mini.category = xstrdup(ma.category);
		mini.confidence = ma.confidence;
		mini.sentiment = SENT_NEUTRAL;
		mini.urgency = URG_NORMAL;
		mini.language = xstrdup("en");
		memset(&in, 0, sizeof(in));
		in.ticket = t;
		in.mini = &mini;
		rules_eval(rules, &in, &d);

		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			items = xrealloc(items, cap * sizeof(*items));
			shipped = xrealloc(shipped, cap * sizeof(*shipped));
		}
		struct evalstats_item *it = &items[n];
		memset(it, 0, sizeof(*it));
		it->gold = fe_category_index(json_object_get_string(jc));
		it->mini = fe_category_index(ma.category);
		it->mini_conf = ma.confidence;
		it->flagship = fe_category_index(fa.category);
		it->mini_cost = call_cost(blen * 2, 0.15, 0.60); /* subject repeats the start of the body */
		it->flagship_cost = call_cost(blen * 2, 2.50, 10.0);
		shipped[n] = *it;
		shipped[n].forced = d.action == RULE_ESCALATE;
		/* For calibration, every escalating rule but low_confidence stays in force. */
		it->forced = d.action == RULE_ESCALATE && strcmp(d.matched, "low_confidence") != 0;
		n++;
		answer_cleanup(&mini);
		ticket_free(t);
		json_object_put(root);
	}
	if (evalstats_calibrate(items, n, FE_NCAT, tolerance / 100.0, &cal, err, sizeof(err)) != 0) {
		fprintf(stderr, "labsim: %s\n", err);
		goto out;
	}
	printf("%zu tickets from %s, error model seed %llu, target: flagship-only accuracy - %.2f points\n\n", n, path,
	       seed, tolerance);
	printf("| %-30s | %8s | %8s | %9s | %11s |\n", "configuration", "accuracy", "macro-F1", "flagship", "$ per 1,000");
	printf("| %-30s | %8s | %8s | %9s | %11s |\n", "---", "---", "---", "---", "---");
	row("mini only", &cal.mini_only);
	row("flagship only", &cal.flagship_only);
	evalstats_cascade(shipped, n, FE_NCAT, zero, NULL, &p);
	row("shipped rules.conf", &p);
	if (cal.global_found) {
		char name[64];
		snprintf(name, sizeof(name), "calibrated, global < %.2f", cal.global_threshold);
		row(name, &cal.global);
	}
	if (cal.per_category_found)
		row("calibrated, per category", &cal.per_category);
	if (cal.per_category_found)
		printf("\nper-category cascade: %.1f%% of flagship-only cost\n",
		       100.0 * cal.per_category.cost_per_1000 / cal.flagship_only.cost_per_1000);
	buf_init(&b, 1 << 20);
	if (evalstats_rules_conf(&cal, fe_categories, FE_NCAT, &b) == 0)
		printf("\n%s\n", b.data);
	buf_reset(&b);
	if (evalstats_curve_text(&cal, &b) == 0)
		printf("global-threshold curve (the shipped non-confidence rules in force):\n%s", b.data);
	if (report && cal.per_category_found) {
		int *gold = xmalloc(n * sizeof(int)), *pred = xmalloc(n * sizeof(int));
		unsigned *cm = xcalloc(FE_NCAT * (FE_NCAT + 1), sizeof(unsigned));
		FILE *rf;
		for (size_t i = 0; i < n; i++)
			gold[i] = items[i].gold;
		evalstats_cascade(items, n, FE_NCAT, cal.threshold, pred, &p);
		evalstats_confusion(gold, pred, n, FE_NCAT, cm);
		buf_reset(&b);
		rf = fopen(report, "w");
		if (!rf || evalreport_html(&cal, NULL, cm, fe_categories, FE_NCAT,
					   "triaged model mix: calibrated per-category cascade (fake error model)", &b) != 0 ||
		    fwrite(b.data, 1, b.len, rf) != b.len) {
			fprintf(stderr, "labsim: cannot write %s\n", report);
			rc = 1;
		}
		if (rf)
			fclose(rf);
		free(gold);
		free(pred);
		free(cm);
		if (rc == 1) {
			buf_cleanup(&b);
			goto out;
		}
	}
	buf_cleanup(&b);
	rc = 0;
out:
	if (f)
		fclose(f);
	free(line);
	free(items);
	free(shipped);
	fe_model_free(fe);
	rules_free(rules);
	return rc;
}
