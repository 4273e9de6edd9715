/*
 * fake_errors: the fake model's seeded error model (issue #13).
 *
 * Owns: a table of gold categories keyed by ticket text, and the decision of
 * which category and confidence a fake model answers for a ticket, given the
 * true category. A model whose name contains "mini" is wrong on about 13% of
 * a BANKING77/Bitext-shaped mix, with lower confidence on average when wrong;
 * any other model (the flagship) on about 4-5%. Both have per-category
 * weaknesses (bug_report, complaint, other are hard; shipping and billing
 * easy) and confuse categories with realistic neighbours (bug_report ->
 * technical, account -> security, ...). In a few hard categories the mini is
 * overconfident when wrong, so one global threshold is not the best cascade.
 *
 * Every answer is a pure function of (seed, model name, ticket text): the
 * same request always gets the same answer, whatever the order of requests.
 *
 * Must never: read the clock, keep global state, or include event2/ (it is
 * linked into a Check suite as well as into triaged-fakemodel).
 */
#ifndef TRIAGED_FAKE_ERRORS_H
#define TRIAGED_FAKE_ERRORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FE_NCAT 12

struct fe_model;

/* The error model's view of one answer. category points to a static string. */
struct fe_answer {
	const char *category;
	double confidence;     /* two decimals */
	char confidence_s[8];  /* the same as text ("0.83"), so it serializes exactly */
	bool wrong;            /* category differs from the truth given */
};

/* The twelve category names, in triage.categories' default order. */
extern const char *const fe_categories[FE_NCAT];

/* Index of a category name, or -1. */
int fe_category_index(const char *name);

/* A new error model for seed. Caller frees with fe_model_free(). Aborts on OOM. */
struct fe_model *fe_model_new(uint64_t seed);
void fe_model_free(struct fe_model *m);

/* Record the gold category of a ticket text (body; subject is not part of the key).
 * Returns 0, or -1 when category is not one of fe_categories. A later add of the
 * same text wins. */
int fe_model_add_gold(struct fe_model *m, const char *body, size_t blen, const char *category);

/* Load an eval set (deploy/eval JSONL: {"ticket": {"body"...}, "gold": {"category"...}}).
 * Returns the number of tickets loaded, or -1 with err ("FILE:LINE: message"). */
int fe_model_load_gold(struct fe_model *m, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The gold category recorded for body, or NULL. The key ignores case and
 * everything but letters, so white space or digit redaction does not lose it. */
const char *fe_model_gold(const struct fe_model *m, const char *body, size_t blen);

/* Whether a model name selects the mini behaviour (its name contains "mini"). */
bool fe_is_mini(const char *model);

/*
 * The answer of model to the ticket whose text is body, when its true category
 * is truth (a category name; an unknown name counts as "other"). Pure.
 */
void fe_model_answer(const struct fe_model *m, const char *model, const char *body, size_t blen, const char *truth,
		     struct fe_answer *out);

/*
 * Print the error model's measured behaviour on an eval set: per tier (models
 * mini_model and flagship_model), error rate, mean confidence right and wrong,
 * and error rate per gold category. Returns 0, or -1 with err.
 */
int fe_report(uint64_t seed, const char *path, const char *mini_model, const char *flagship_model, FILE *out,
	      char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
