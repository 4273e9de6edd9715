/*
 * eval_run: `triaged eval`, the model-mix lab on real endpoints (issue #13).
 * Owns: reading a labelled eval set, running its tickets through one or more
 * model configurations with the daemon's own model_call (HTTP client,
 * retries, breaker, structured-output fallback, repair) after the daemon's
 * redaction, storing every answer in eval_answers keyed by (text hash, model,
 * prompt version) and reusing stored answers (a second run makes no call),
 * then printing the figures evalstats computes from the stored rows, the
 * model-mix table, calibration and a what-if replay under a rules file.
 *
 * A command, not the daemon: it runs its own event loop for the model calls
 * and uses blocking libpq before and after that loop, never during it.
 * Must never write tickets, results or the review queue.
 */
#ifndef TRIAGED_EVAL_RUN_H
#define TRIAGED_EVAL_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"

/*
 * Run `triaged eval` with its own arguments (argv[0] is "eval"). Returns the
 * exit code: 0 ok, 1 failure, 2 usage. Figures go to out, the progress bar
 * and errors to stderr.
 */
int eval_run_main(const struct config *cfg, int argc, char **argv, FILE *out);

#endif
