/*
 * fm_settings: see fm_settings.h. Owns the flags (--help), their defaults
 * and bounds, the fault knobs' table and the number parsers. Must never
 * start the server or touch the event loop.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <json-c/json.h>

#include "fake_errors.h"

#include "fm_util.h"
#include "fm_settings.h"

/* ------------------------------------------------------------- settings */




const struct fm_knob_def fm_knob_defs[FM_K__COUNT] = {
	[FM_K_LATENCY] = {"latency_ms", "latency-ms", offsetof(struct fm_knobs, latency_ms), false, 3600000},
	[FM_K_JITTER] = {"jitter_ms", "jitter-ms", offsetof(struct fm_knobs, jitter_ms), false, 3600000},
	[FM_K_RATE_429] = {"rate_429", "rate-429", offsetof(struct fm_knobs, rate_429), true, 0},
	[FM_K_RATE_500] = {"rate_500", "rate-500", offsetof(struct fm_knobs, rate_500), true, 0},
	[FM_K_RATE_TIMEOUT] = {"rate_timeout", "rate-timeout", offsetof(struct fm_knobs, rate_timeout), true, 0},
	[FM_K_RATE_MALFORMED] = {"rate_malformed", "rate-malformed", offsetof(struct fm_knobs, rate_malformed), true, 0},
	[FM_K_RATE_TRUNCATED] = {"rate_truncated", "rate-truncated", offsetof(struct fm_knobs, rate_truncated), true, 0},
	[FM_K_RETRY_AFTER] = {"retry_after", "retry-after", offsetof(struct fm_knobs, retry_after), false, 86400},
	[FM_K_PAD_BYTES] = {"pad_bytes", "pad-bytes", offsetof(struct fm_knobs, pad_bytes), false, 64L * 1024 * 1024},
	[FM_K_TRICKLE] = {"trickle_ms", "trickle-ms", offsetof(struct fm_knobs, trickle_ms), false, 60000},
	[FM_K_QUOTA_SPENT] = {"quota_spent", "quota-spent", offsetof(struct fm_knobs, quota_spent), false, 1},
	[FM_K_RETRY_AFTER_MS] = {"retry_after_ms", "retry-after-ms", offsetof(struct fm_knobs, retry_after_ms), false, 86400000},
};


void fm_settings_init(struct fm_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->listen = "127.0.0.1:0";
	s->seed = 1;
	s->max_body = FM_DEFAULT_MAX_BODY;
	s->knobs.retry_after = 1;
}

/* Returns 0 and sets the knob, or -1 with err. */
int fm_knob_set(struct fm_knobs *k, const struct fm_knob_def *d, double v, char *err, size_t errlen)
{
	char *base = (char *)k;

	if (!isfinite(v)) {
		snprintf(err, errlen, "%s: not a finite number", d->key);
		return -1;
	}
	if (d->is_rate) {
		if (v < 0.0 || v > 1.0) {
			snprintf(err, errlen, "%s: must be between 0 and 1", d->key);
			return -1;
		}
		memcpy(base + d->off, &v, sizeof(v));
		return 0;
	}
	if (v < 0.0 || v > (double)d->max || v != floor(v)) {
		snprintf(err, errlen, "%s: must be an integer between 0 and %ld", d->key, d->max);
		return -1;
	}
	long l = (long)v;
	memcpy(base + d->off, &l, sizeof(l));
	return 0;
}

static int fm_parse_double(const char *s, double *out)
{
	char *end = NULL;

	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int fm_parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int fm_parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;

	if (*s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static void fm_usage(FILE *f)
{
	fputs("usage: triaged-fakemodel [options]\n"
	      "  --listen HOST:PORT      listen address (default 127.0.0.1:0, port 0 = ephemeral)\n"
	      "  --port-file PATH        write the bound port there once listening (atomic rename)\n"
	      "  --latency-ms N          delay each answer N ms (default 0)\n"
	      "  --jitter-ms N           ... plus or minus up to N ms, uniformly\n"
	      "  --rate-429 P            probability of 429 with Retry-After\n"
	      "  --retry-after S         Retry-After seconds on 429 (default 1)\n"
	      "  --retry-after-ms MS     also a retry-after-ms header on 429, as Azure OpenAI sends\n"
	      "                          (and OpenAI's SDKs read first; default 0: none)\n"
	      "  --pad-bytes N           add N bytes of white space inside each answer's JSON envelope\n"
	      "  --trickle-ms N          send each answer 32 bytes at a time, one write every N ms\n"
	      "  --quota-spent 0|1       answer every request 429 insufficient_quota (OpenAI's billing refusal)\n"
	      "  --rate-500 P            probability of 500\n"
	      "  --rate-timeout P        probability of never answering\n"
	      "  --rate-malformed P      probability of a 200 whose content is not JSON\n"
	      "  --rate-truncated P      probability of a 200 whose body is cut mid-JSON\n"
	      "  --seed N                PRNG seed (default 1)\n"
	      "  --max-body BYTES        request body cap, 413 above (default 4194304)\n"
	      "  --request-log PATH      append one JSON line per completion request\n"
	      "  --require-key KEY       401 unless 'Authorization: Bearer KEY' (azure: 'api-key: KEY')\n"
	      "  --dialect NAME          strict mode: refuse what that provider refuses, with its status and\n"
	      "                          error body and path (openai-reasoning, azure, gemini, anthropic, openai, local)\n"
	      "  --refuse PARAM          refuse every request carrying PARAM (400 unknown_parameter)\n"
	      "  --rpm N                 N requests per minute (fixed window): x-ratelimit-* headers, 429 past it\n"
	      "  --tpm N                 N tokens per minute, a request counted as its prompt bytes / 4 plus the\n"
	      "                          max_tokens or max_completion_tokens it asks for: -tokens headers, 429 past it\n"
	      "  --quiet                 warnings and errors only\n"
	      "  --verbose               one log line per request\n"
	      "  --error-model SEED      seeded error model: models named *mini* mislabel ~13%% of tickets, with\n"
	      "                          lower confidence when wrong; others (the flagship) ~4.5%%\n"
	      "  --gold FILE             eval set (deploy/eval JSONL) giving the true category of each text;\n"
	      "                          without it the keyword triage is taken as the truth\n"
	      "  --error-report          with --error-model and --gold: print the error model's rates on FILE\n"
	      "                          for gpt-4o-mini and gpt-4o, and exit\n"
	      "  --answer-file PATH      a fixed-response server: every answer is the JSON object in PATH\n"
	      "                          (markers that change the answer, and --error-model, do not apply;\n"
	      "                          faults, latency and the dialects do)\n"
	      "Endpoints: POST /v1/chat/completions, POST /chat/completions, POST /_control,\n"
	      "GET /_stats, GET /health. Ticket markers: [[fake:malformed]] [[fake:badlabel]]\n"
	      "[[fake:fence]] [[fake:500]] [[fake:lowconf]] [[fake:critical]] [[fake:badrepair]]\n"
	      "[[fake:mini_malformed]] (only for models named *mini*) [[fake:hostile_draft]]\n"
	      "[[fake:leak_prompt]] [[fake:400]] (a 400 context_length_exceeded).\n",
	      f);
}

enum {
	OPT_LISTEN = 256,
	OPT_PORT_FILE,
	OPT_SEED,
	OPT_MAX_BODY,
	OPT_REQUEST_LOG,
	OPT_REQUIRE_KEY,
	OPT_DIALECT,
	OPT_REFUSE,
	OPT_RPM,
	OPT_TPM,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_ERROR_MODEL,
	OPT_GOLD,
	OPT_ERROR_REPORT,
	OPT_ANSWER_FILE,
	OPT_KNOB = 512, /* + enum fm_knob_id */
};

static const struct option fm_options[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"port-file", required_argument, NULL, OPT_PORT_FILE},
	{"seed", required_argument, NULL, OPT_SEED},
	{"max-body", required_argument, NULL, OPT_MAX_BODY},
	{"request-log", required_argument, NULL, OPT_REQUEST_LOG},
	{"require-key", required_argument, NULL, OPT_REQUIRE_KEY},
	{"dialect", required_argument, NULL, OPT_DIALECT},
	{"refuse", required_argument, NULL, OPT_REFUSE},
	{"rpm", required_argument, NULL, OPT_RPM},
	{"tpm", required_argument, NULL, OPT_TPM},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"help", no_argument, NULL, OPT_HELP},
	{"error-model", required_argument, NULL, OPT_ERROR_MODEL},
	{"gold", required_argument, NULL, OPT_GOLD},
	{"error-report", no_argument, NULL, OPT_ERROR_REPORT},
	{"answer-file", required_argument, NULL, OPT_ANSWER_FILE},
	{"latency-ms", required_argument, NULL, OPT_KNOB + FM_K_LATENCY},
	{"jitter-ms", required_argument, NULL, OPT_KNOB + FM_K_JITTER},
	{"rate-429", required_argument, NULL, OPT_KNOB + FM_K_RATE_429},
	{"rate-500", required_argument, NULL, OPT_KNOB + FM_K_RATE_500},
	{"rate-timeout", required_argument, NULL, OPT_KNOB + FM_K_RATE_TIMEOUT},
	{"rate-malformed", required_argument, NULL, OPT_KNOB + FM_K_RATE_MALFORMED},
	{"rate-truncated", required_argument, NULL, OPT_KNOB + FM_K_RATE_TRUNCATED},
	{"retry-after", required_argument, NULL, OPT_KNOB + FM_K_RETRY_AFTER},
	{"pad-bytes", required_argument, NULL, OPT_KNOB + FM_K_PAD_BYTES},
	{"trickle-ms", required_argument, NULL, OPT_KNOB + FM_K_TRICKLE},
	{"quota-spent", required_argument, NULL, OPT_KNOB + FM_K_QUOTA_SPENT},
	{"retry-after-ms", required_argument, NULL, OPT_KNOB + FM_K_RETRY_AFTER_MS},
	{NULL, 0, NULL, 0},
};

/* Fills s from argv; exits on a bad flag (startup). */
void fm_parse_args(int argc, char **argv, struct fm_settings *s)
{
	char err[160];
	int ch;

	while ((ch = getopt_long(argc, argv, "", fm_options, NULL)) != -1) {
		switch (ch) {
		case OPT_LISTEN: s->listen = optarg; break;
		case OPT_PORT_FILE: s->port_file = optarg; break;
		case OPT_REQUEST_LOG: s->request_log = optarg; break;
		case OPT_REQUIRE_KEY: s->require_key = optarg; break;
		case OPT_DIALECT:
			if (strcmp(optarg, "openai-reasoning") != 0 && strcmp(optarg, "azure") != 0 &&
			    strcmp(optarg, "anthropic") != 0 && strcmp(optarg, "gemini") != 0 &&
			    strcmp(optarg, "openai") != 0 && strcmp(optarg, "local") != 0)
				fm_fatal("msg=\"bad flag\" flag=--dialect err=\"expected openai, openai-reasoning, azure, gemini, anthropic or local\"");
			s->dialect = optarg;
			break;
		case OPT_REFUSE: s->refuse = optarg; break;
		case OPT_RPM:
			if (fm_parse_long(optarg, 0, 100000000, &s->rpm) != 0)
				fm_fatal("msg=\"bad flag\" flag=--rpm err=\"expected 0..100000000\"");
			break;
		case OPT_TPM:
			if (fm_parse_long(optarg, 0, 1000000000, &s->tpm) != 0)
				fm_fatal("msg=\"bad flag\" flag=--tpm err=\"expected 0..1000000000\"");
			break;
		case OPT_QUIET: s->quiet = true; break;
		case OPT_VERBOSE: s->verbose = true; break;
		case OPT_HELP: fm_usage(stdout); exit(0);
		case OPT_SEED:
			if (fm_parse_u64(optarg, &s->seed) != 0)
				fm_fatal("msg=\"bad flag\" flag=--seed err=\"expected an unsigned integer\"");
			break;
		case OPT_ERROR_MODEL:
			if (fm_parse_u64(optarg, &s->error_seed) != 0)
				fm_fatal("msg=\"bad flag\" flag=--error-model err=\"expected an unsigned integer\"");
			s->error_model = true;
			break;
		case OPT_GOLD: s->gold_file = optarg; break;
		case OPT_ERROR_REPORT: s->error_report = true; break;
		case OPT_ANSWER_FILE: s->answer_file = optarg; break;
		case OPT_MAX_BODY:
			if (fm_parse_long(optarg, 1, FM_MAX_MAX_BODY, &s->max_body) != 0)
				fm_fatal("msg=\"bad flag\" flag=--max-body err=\"expected 1..%ld\"", FM_MAX_MAX_BODY);
			break;
		default:
			if (ch >= OPT_KNOB && ch < OPT_KNOB + FM_K__COUNT) {
				const struct fm_knob_def *d = &fm_knob_defs[ch - OPT_KNOB];
				double v;
				if (fm_parse_double(optarg, &v) != 0)
					fm_fatal("msg=\"bad flag\" flag=--%s err=\"not a number\"", d->flag);
				if (fm_knob_set(&s->knobs, d, v, err, sizeof(err)) != 0)
					fm_fatal("msg=\"bad flag\" flag=--%s err=\"%s\"", d->flag, err);
				break;
			}
			fm_usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		fm_fatal("msg=\"unexpected argument\" arg=\"%s\"", argv[optind]);
}
