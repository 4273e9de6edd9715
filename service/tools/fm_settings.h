/*
 * fm_settings: the fake model's settings, fault knobs and command line.
 * Must never touch the event loop: the server reads the settings, and
 * POST /_control changes the knobs through fm_knob_set().
 */
#ifndef TRIAGED_FM_SETTINGS_H
#define TRIAGED_FM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <json-c/json.h>

#include "fm_util.h"

/* Knobs that can change at runtime through POST /_control. */
struct fm_knobs {
	long latency_ms;
	long jitter_ms;
	double rate_429;
	double rate_500;
	double rate_timeout;
	double rate_malformed;
	double rate_truncated;
	long retry_after;
	long pad_bytes;  /* white space added inside a completion's JSON envelope */
	long trickle_ms; /* send answers FM_TRICKLE_CHUNK bytes at a time, one write every N ms */
	long quota_spent; /* 1: every request answered 429 insufficient_quota (OpenAI's billing refusal) */
	long retry_after_ms; /* > 0: a retry-after-ms header on 429s too (Azure's), 0: none */
};

enum fm_knob_id {
	FM_K_LATENCY,
	FM_K_JITTER,
	FM_K_RATE_429,
	FM_K_RATE_500,
	FM_K_RATE_TIMEOUT,
	FM_K_RATE_MALFORMED,
	FM_K_RATE_TRUNCATED,
	FM_K_RETRY_AFTER,
	FM_K_PAD_BYTES,
	FM_K_TRICKLE,
	FM_K_QUOTA_SPENT,
	FM_K_RETRY_AFTER_MS,
	FM_K__COUNT
};

/* One table for the flags and for /_control, so both accept the same things. */
struct fm_knob_def {
	const char *key;  /* /_control key */
	const char *flag; /* command-line flag, without "--" */
	size_t off;       /* in struct fm_knobs */
	bool is_rate;     /* double in [0,1]; else an integer in [0,max] */
	long max;
};

struct fm_settings {
	const char *listen;      /* "HOST:PORT", borrowed from argv */
	const char *port_file;   /* borrowed from argv, or NULL */
	const char *request_log; /* borrowed from argv, or NULL */
	const char *require_key; /* borrowed from argv, or NULL */
	/* --dialect: refuse what that provider refuses (NULL: accept any request) */
	const char *dialect;
	const char *refuse; /* --refuse PARAM: refuse requests carrying it (a wrong setting) */
	long rpm;           /* --rpm N: requests per minute, OpenAI-style headers and 429s; 0 = no limit */
	long tpm;           /* --tpm N: tokens per minute (prompt bytes / 4 + the completion asked for) */
	uint64_t seed;
	long max_body;
	bool quiet;
	bool verbose;
	struct fm_knobs knobs;
	/* the error model (#13): --error-model SEED [--gold FILE] [--error-report] */
	bool error_model;
	uint64_t error_seed;
	const char *gold_file;
	bool error_report;
	/* --answer-file PATH: every triage answer is this JSON object (a fixed-response server) */
	const char *answer_file;
};

/* The defaults, before the flags. */
void fm_settings_init(struct fm_settings *s);
/* Returns 0 and sets the knob, or -1 with err. */
int fm_knob_set(struct fm_knobs *k, const struct fm_knob_def *d, double v, char *err, size_t errlen);
/* A whole decimal number in [min, max]: 0 and *out, else -1. */
int fm_parse_long(const char *s, long min, long max, long *out);
/* Fills s from argv; exits on a bad flag (startup). */
void fm_parse_args(int argc, char **argv, struct fm_settings *s);
/* The knobs POST /_control may change, one row each. */
extern const struct fm_knob_def fm_knob_defs[FM_K__COUNT];

#endif
