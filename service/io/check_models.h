/*
 * check_models: `triaged check-models`, the preflight of issue #11. Sends
 * one small synthetic ticket to each configured tier and prints one line
 * per tier: reachable and authenticated or not, the dialect and the
 * structured-output mode in use (a refused response_format falls back as
 * the daemon does), latency, tokens and the probe's cost (from the
 * database's prices when PostgreSQL answers). A command of its own, run
 * before any loop: it owns a short-lived event_base and may block on
 * PostgreSQL, which the daemon never does.
 */
#ifndef TRIAGED_CHECK_MODELS_H
#define TRIAGED_CHECK_MODELS_H

#include <stdio.h>

#include "config.h"

/* Probe every tier; one line each on out. Returns 0 when all answered a valid triage, else 1. */
int check_models_run(const struct config *cfg, FILE *out);

#endif
