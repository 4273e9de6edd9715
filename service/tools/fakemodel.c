/*
 * fakemodel: a fake OpenAI-compatible chat-completions server for the
 * integration tests, the demo and the benchmark.
 *
 * Owns: its settings and fault knobs, a deterministic triage of the ticket
 * found in the prompt, fault injection (429, 500, hung requests, malformed or
 * truncated answers, latency) and the counters behind GET /_stats.
 *
 * Must never: include the daemon's service/ headers (it stands in for a remote
 * model and shares no code with the client under test), block the event loop
 * (delays are evtimers, hung requests just stay open), or keep a request's
 * memory after its client went away.
 *
 * Endpoints: POST .../chat/completions (/v1, /v1beta/openai, /openai/deployments/NAME), POST /_control,
 * GET /_stats, GET /health. Run with --help for the flags.
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

#define FM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FM_DEFAULT_MAX_BODY (4L * 1024 * 1024)
#define FM_MAX_MAX_BODY (1L << 30)
#define FM_SUMMARY_MAX 120
#define FM_STATUS_MAX 600
#define FM_TRICKLE_CHUNK 32 /* bytes per write when trickling an answer */

/* ---------------------------------------------------------------- logging */

enum fm_level { FM_L_DEBUG, FM_L_INFO, FM_L_WARN, FM_L_ERROR, FM_L_FATAL };

/* The only global: the threshold, checked before any formatting. */
static enum fm_level fm_log_min = FM_L_INFO;

static const char *const fm_level_names[] = {"debug", "info", "warn", "error", "fatal"};

__attribute__((format(printf, 2, 0))) static void fm_vlog(enum fm_level lvl, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=fakemodel ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, fm_level_names[lvl]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One write per line so lines from concurrent processes do not interleave. */
	fprintf(stderr, "%s\n", line);
}

#define FM_LOG(lvl, ...)                            \
	do {                                        \
		if ((lvl) >= fm_log_min)            \
			fm_log((lvl), __VA_ARGS__); \
	} while (0)

__attribute__((format(printf, 2, 3))) static void fm_log(enum fm_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fm_vlog(lvl, fmt, ap);
	va_end(ap);
}

/* Startup failures only. */
__attribute__((format(printf, 1, 2), noreturn)) static void fm_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fm_vlog(FM_L_FATAL, fmt, ap);
	va_end(ap);
	exit(1);
}

__attribute__((noreturn)) static void fm_oom(void)
{
	fputs("level=fatal prog=fakemodel msg=\"out of memory\"\n", stderr);
	abort();
}

/* logfmt value: quoted and escaped when needed, truncated to fit out. */
static const char *fm_quote(char *out, size_t outlen, const char *v)
{
	size_t o = 0;

	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (const char *p = v; *p && o + 3 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			out[o++] = ' ';
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------- memory, json-c */

static void *fm_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		fm_oom();
	return p;
}

static void *fm_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fm_oom();
	return p;
}

/* json-c constructors return NULL only on OOM. */
static struct json_object *jx(struct json_object *o)
{
	if (!o)
		fm_oom();
	return o;
}

/* Add under a constant key (steals val). */
static void jadd(struct json_object *obj, const char *key, struct json_object *val)
{
	if (json_object_object_add_ex(obj, key, val, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT))
		fm_oom();
}

static void fm_buf_add(struct evbuffer *b, const void *data, size_t len)
{
	if (evbuffer_add(b, data, len) != 0)
		fm_oom();
}

static struct evbuffer *fm_buf_new(void)
{
	struct evbuffer *b = evbuffer_new();

	if (!b)
		fm_oom();
	return b;
}

/* ------------------------------------------------------------- settings */

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

static const struct fm_knob_def fm_knob_defs[FM_K__COUNT] = {
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
};

static void fm_settings_init(struct fm_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->listen = "127.0.0.1:0";
	s->seed = 1;
	s->max_body = FM_DEFAULT_MAX_BODY;
	s->knobs.retry_after = 1;
}

/* Returns 0 and sets the knob, or -1 with err. */
static int fm_knob_set(struct fm_knobs *k, const struct fm_knob_def *d, double v, char *err, size_t errlen)
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

static int fm_parse_long(const char *s, long min, long max, long *out)
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

/* ------------------------------------------------------------ the server */

struct fm_server;

/* A completion whose answer is delayed (timer) or never sent (hung). */
struct fm_pending {
	struct fm_server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;   /* NULL: hung until the client goes away */
	struct event *watch;   /* EV_READ on the client's socket, to see it go */
	struct evbuffer *body; /* the answer to send, owned */
	int status;
	long retry_after; /* Retry-After header when status is 429 */
	long trickle_ms;  /* > 0: the body goes out in small chunks, one every trickle_ms */
	bool started;     /* trickling: the status line and headers are sent */
	struct fm_pending *prev, *next;
};

struct fm_server {
	struct fm_settings set;
	struct event_base *base;
	struct evhttp *http;
	struct event *ev_int;
	struct event *ev_term;
	struct json_tokener *tok; /* reused for every parse */
	FILE *reqlog;
	uint64_t rng;
	uint64_t seq; /* completion requests seen: the "n" of ids and the request log */
	uint64_t repairs;
	uint64_t refused; /* requests the strict mode (--dialect, --refuse) refused */
	char refuse_buf[64]; /* --refuse set through /_control {"refuse": "PARAM"} ("" = none) */
	int64_t rpm_window; /* --rpm: the current minute (ms since the epoch / 60000) and its count */
	long rpm_used;
	uint64_t timeouts;
	uint64_t by_status[FM_STATUS_MAX];
	struct json_object *per_ticket; /* {"ticket_id": count}, owned */
	struct fm_pending *pending;     /* list of delayed and hung requests */
	struct fe_model *errors;        /* --error-model, or NULL */
	size_t npending;
	int port;
};

/* xorshift64*: tiny, deterministic for a seed, good enough for fault rates. */
static uint64_t fm_rng_next(struct fm_server *srv)
{
	uint64_t x = srv->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	srv->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* splitmix64 of the seed: small seeds would otherwise start xorshift on a run of tiny numbers. */
static uint64_t fm_rng_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return z ? z : 0x9E3779B97F4A7C15ULL;
}

/* Uniform in [0,1). */
static double fm_rng_unit(struct fm_server *srv)
{
	return (double)(fm_rng_next(srv) >> 11) * 0x1.0p-53;
}

static int64_t fm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------- deterministic triage */

struct fm_category {
	const char *name;
	const char *about; /* "... contacting us about your <about>." */
	const char *const *kw;
};

static const char *const kw_security[] = {"hacked", "fraud", "unauthori", "stolen", "phishing", "breach", "compromised", NULL};
static const char *const kw_legal[] = {"lawyer", "attorney", "lawsuit", "legal action", "sue ", "gdpr", "court", NULL};
static const char *const kw_cancellation[] = {"cancel", "close my account", "terminate", NULL};
static const char *const kw_billing[] = {"refund", "charge", "charged", "invoice", "bill", "payment", "fee", "overdraft", "interest", NULL};
static const char *const kw_shipping[] = {"deliver", "shipping", "shipment", "package", "tracking", "arrive", NULL};
static const char *const kw_account[] = {"password", "login", "log in", "sign in", "account", "verify", "verification", "pin", "identity", NULL};
static const char *const kw_bug[] = {"error", "crash", "bug", "broken", "not working", "doesn't work", "fails", NULL};
static const char *const kw_technical[] = {"app", "website", "card", "transfer", "atm", "top up", "top-up", NULL};
static const char *const kw_feature[] = {"feature", "would be great", "please add", "suggest", NULL};
static const char *const kw_complaint[] = {"complain", "unacceptable", "terrible", "worst", "disappointed", NULL};
static const char *const kw_question[] = {"how do", "how can", "what is", "can i", "is it possible", "?", NULL};

/* First match wins, in this order. */
static const struct fm_category fm_categories[] = {
	{"security", "account security concern", kw_security},
	{"legal", "legal matter", kw_legal},
	{"cancellation", "cancellation request", kw_cancellation},
	{"billing", "billing question", kw_billing},
	{"shipping", "delivery", kw_shipping},
	{"account", "account access", kw_account},
	{"bug_report", "problem report", kw_bug},
	{"technical", "technical issue", kw_technical},
	{"feature_request", "feature suggestion", kw_feature},
	{"complaint", "complaint", kw_complaint},
	{"product_question", "product question", kw_question},
};

static const char *const kw_very_negative[] = {"terrible", "worst", "furious", "unacceptable", "angry", "scam", "disgusted", "!!!", NULL};
static const char *const kw_negative[] = {"not happy", "disappointed", "frustrated", "annoyed", "still", "again", "never", NULL};
static const char *const kw_positive[] = {"thank", "great", "love", "appreciate", NULL};
static const char *const kw_high[] = {"urgent", "asap", "immediately", "right now", "emergency", "stolen", "locked out", NULL};

/* Magic markers in the ticket text. */
enum {
	FM_M_MALFORMED = 1 << 0,
	FM_M_BADLABEL = 1 << 1,
	FM_M_FENCE = 1 << 2,
	FM_M_500 = 1 << 3,
	FM_M_LOWCONF = 1 << 4,
	FM_M_CRITICAL = 1 << 5,
	FM_M_BADREPAIR = 1 << 6,
	FM_M_HOSTILE = 1 << 7, /* a draft with a foreign link, a refund promise, an unknown placeholder */
	FM_M_LEAK = 1 << 8,    /* a draft that repeats the start of the system prompt */
	FM_M_ECHO = 1 << 9,    /* a draft that quotes the ticket's first redaction placeholder */
};

static const struct {
	const char *text;
	unsigned flag;
} fm_markers[] = {
	{"[[fake:malformed]]", FM_M_MALFORMED}, {"[[fake:badlabel]]", FM_M_BADLABEL},
	{"[[fake:fence]]", FM_M_FENCE},         {"[[fake:500]]", FM_M_500},
	{"[[fake:lowconf]]", FM_M_LOWCONF},     {"[[fake:critical]]", FM_M_CRITICAL},
	{"[[fake:badrepair]]", FM_M_BADREPAIR}, {"[[fake:hostile_draft]]", FM_M_HOSTILE},
	{"[[fake:leak_prompt]]", FM_M_LEAK},    {"[[fake:echo_pii]]", FM_M_ECHO},
};

/* The first redaction placeholder ("[EMAIL_1]", "[ORDER_ID_2]") in text, into out; false if none. */
static bool fm_placeholder(const char *text, char *out, size_t outlen)
{
	for (const char *p = strchr(text, '['); p != NULL; p = strchr(p + 1, '[')) {
		size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"), d;
		if (n < 2 || p[n] != '_')
			continue;
		d = strspn(p + 1 + n, "0123456789");
		if (d == 0 || p[1 + n + d] != ']' || n + d + 3 > outlen)
			continue;
		memcpy(out, p, n + d + 2);
		out[n + d + 2] = '\0';
		return true;
	}
	return false;
}

static bool fm_has(const char *text, size_t len, const char *needle)
{
	return memmem(text, len, needle, strlen(needle)) != NULL;
}

/* How many distinct keywords of kw occur in text. */
static int fm_hits(const char *text, size_t len, const char *const *kw)
{
	int n = 0;

	for (; *kw; kw++)
		if (fm_has(text, len, *kw))
			n++;
	return n;
}

/* Words of 5+ ASCII letters, all upper case ("REFUND"). */
static int fm_shouted_words(const char *text, size_t len)
{
	int n = 0;
	size_t i = 0;

	while (i < len) {
		size_t start = i;
		bool upper = true;
		while (i < len && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) {
			if (text[i] >= 'a')
				upper = false;
			i++;
		}
		if (i - start >= 5 && upper)
			n++;
		if (i == start)
			i++;
	}
	return n;
}

struct fm_triage {
	const char *category;
	const char *about;
	const char *sentiment;
	const char *urgency;
	const char *confidence; /* decimal text, so it serializes exactly */
	double confidence_v;
	char summary[FM_SUMMARY_MAX + 1];
};

/*
 * First sentence of text: up to '.', '!' or '?' followed by a space (or the
 * end), or a blank line, at most FM_SUMMARY_MAX bytes cut on a UTF-8 boundary;
 * control characters become spaces. A fixed text when there is none.
 */
static void fm_summary(const char *text, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;
	bool capped = false;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (o + 1 >= outlen) {
			capped = true;
			break;
		}
		if (c == '\n' && i + 1 < len && text[i + 1] == '\n')
			break;
		out[o++] = c < 0x20 ? ' ' : (char)c;
		if ((c == '.' || c == '!' || c == '?') &&
		    (i + 1 == len || text[i + 1] == ' ' || text[i + 1] == '\n' || text[i + 1] == '\r' || text[i + 1] == '\t'))
			break;
	}
	/* Cut short by the cap inside a character: drop its partial bytes. */
	if (capped && ((unsigned char)text[i] & 0xC0) == 0x80) {
		while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
			o--;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	/* Validators want a non-empty summary even for a ticket without text. */
	if (o == 0)
		snprintf(out, outlen, "No description provided.");
}

/*
 * The triage of a ticket. orig is subject + "\n" + body (original case),
 * lower the same lower-cased, sum_src the text summarized. Pure.
 */
static void fm_triage_compute(const char *orig, const char *lower, size_t len, const char *sum_src, size_t sum_len,
			      unsigned markers, struct fm_triage *t)
{
	int hits = 0;

	t->category = "other";
	t->about = "request";
	for (size_t i = 0; i < FM_ARRAY_SIZE(fm_categories); i++) {
		hits = fm_hits(lower, len, fm_categories[i].kw);
		if (hits > 0) {
			t->category = fm_categories[i].name;
			t->about = fm_categories[i].about;
			break;
		}
	}
	if (hits >= 2) {
		t->confidence = "0.95";
		t->confidence_v = 0.95;
	} else if (hits == 1) {
		t->confidence = "0.8";
		t->confidence_v = 0.8;
	} else {
		t->confidence = "0.35";
		t->confidence_v = 0.35;
	}

	int strong = fm_hits(lower, len, kw_very_negative);
	if (strong >= 2 || fm_shouted_words(orig, len) >= 2)
		t->sentiment = "very_negative";
	else if (strong == 1 || fm_hits(lower, len, kw_negative) > 0)
		t->sentiment = "negative";
	else if (fm_hits(lower, len, kw_positive) > 0)
		t->sentiment = "positive";
	else
		t->sentiment = "neutral";

	bool sec_legal = strcmp(t->category, "security") == 0 || strcmp(t->category, "legal") == 0;
	if (sec_legal || (markers & FM_M_CRITICAL) || fm_has(lower, len, "outage") ||
	    (fm_has(lower, len, "urgent") && fm_has(lower, len, "immediately")))
		t->urgency = "critical";
	else if (fm_hits(lower, len, kw_high) > 0)
		t->urgency = "high";
	else if (strcmp(t->category, "feature_request") == 0 || strcmp(t->category, "product_question") == 0)
		t->urgency = "low";
	else
		t->urgency = "normal";

	if (markers & FM_M_BADLABEL) {
		t->category = "weather";
		t->about = "request";
	}
	if (markers & FM_M_LOWCONF) {
		t->confidence = "0.2";
		t->confidence_v = 0.2;
	}
	fm_summary(sum_src, sum_len, t->summary, sizeof(t->summary));
}

/* The triage as the JSON text the model would answer. Returns a new string; caller frees. */
static char *fm_triage_json(const struct fm_triage *t)
{
	struct json_object *o = jx(json_object_new_object());
	char reply[256];

	snprintf(reply, sizeof(reply),
		 "Hello, thank you for contacting us about your %s. We have received your message and a member of "
		 "our support team will follow up shortly. Kind regards, the Support Team",
		 t->about);
	jadd(o, "category", jx(json_object_new_string(t->category)));
	jadd(o, "sentiment", jx(json_object_new_string(t->sentiment)));
	jadd(o, "urgency", jx(json_object_new_string(t->urgency)));
	jadd(o, "confidence", jx(json_object_new_double_s(t->confidence_v, t->confidence)));
	jadd(o, "language", jx(json_object_new_string("en")));
	jadd(o, "summary", jx(json_object_new_string(t->summary)));
	jadd(o, "draft_reply", jx(json_object_new_string(reply)));
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	if (!s)
		fm_oom();
	return s;
}

/* ------------------------------------------------------ request parsing */

/* What one completion request says. Pointers borrow from root or ticket. */
struct fm_call {
	struct json_object *root;   /* the parsed request, owned */
	struct json_object *ticket; /* the parsed ticket object, owned, or NULL */
	const char *model;
	const char *seg; /* ticket text: the JSON between the markers, or a whole user message */
	size_t seglen;
	const char *ticket_id; /* from the ticket's "ticket_id", or NULL */
	size_t prompt_bytes;   /* all message contents */
	bool repair;           /* an assistant message is present */
	unsigned markers;
	const struct fe_model *errors; /* borrowed from the server, or NULL */
};

static void fm_call_cleanup(struct fm_call *c)
{
	json_object_put(c->root);
	json_object_put(c->ticket);
	memset(c, 0, sizeof(*c));
}

/* Parse exactly one JSON value from data (surrounding white space allowed). Returns a new reference or NULL. */
static struct json_object *fm_parse_json(struct fm_server *srv, const char *data, size_t len)
{
	struct json_object *o;

	if (len > (size_t)INT32_MAX)
		return NULL;
	json_tokener_reset(srv->tok);
	o = json_tokener_parse_ex(srv->tok, data, (int)len);
	if (!o || json_tokener_get_error(srv->tok) != json_tokener_success)
		goto fail;
	for (size_t i = json_tokener_get_parse_end(srv->tok); i < len; i++)
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n')
			goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static const char *fm_memrmem(const char *hay, size_t len, const char *needle)
{
	size_t nlen = strlen(needle);
	const char *last = NULL, *p = hay;

	while ((p = memmem(p, len - (size_t)(p - hay), needle, nlen)) != NULL) {
		last = p;
		p++;
	}
	return last;
}

/*
 * The ticket in one user message: the text between a "<ticket>" and the last
 * "</ticket>". Instructions may mention the markers before the real ticket, so
 * each "<ticket>" is tried in turn and the first that opens a JSON object wins;
 * if none does, the text after the last "<ticket>" is used raw. Returns false
 * when the message has no markers.
 */
static bool fm_find_ticket(struct fm_server *srv, const char *text, size_t len, struct fm_call *c)
{
	static const char tag[] = "<ticket>";
	const char *end = fm_memrmem(text, len, "</ticket>");
	const char *p = text, *last = NULL;

	if (!end)
		return false;
	while ((p = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1)) != NULL) {
		const char *s = p + sizeof(tag) - 1;
		struct json_object *o = fm_parse_json(srv, s, (size_t)(end - s));
		if (o && json_object_is_type(o, json_type_object)) {
			c->ticket = o;
			c->seg = s;
			c->seglen = (size_t)(end - s);
			return true;
		}
		json_object_put(o);
		last = s;
		p = s;
	}
	if (!last)
		return false;
	c->seg = last;
	c->seglen = (size_t)(end - last);
	return true;
}

/* Fill c from a request body. Returns 0, or -1 with err (a 400). */
static int fm_call_parse(struct fm_server *srv, const char *body, size_t len, struct fm_call *c, char *err, size_t errlen)
{
	struct json_object *msgs, *v;
	size_t n;
	const char *last_user = NULL;
	size_t last_user_len = 0;
	bool found = false;

	c->root = fm_parse_json(srv, body, len);
	if (!c->root || !json_object_is_type(c->root, json_type_object)) {
		snprintf(err, errlen, "request body is not a JSON object");
		return -1;
	}
	if (json_object_object_get_ex(c->root, "model", &v) && json_object_is_type(v, json_type_string))
		c->model = json_object_get_string(v);
	else
		c->model = "fake-model";
	if (!json_object_object_get_ex(c->root, "messages", &msgs) || !json_object_is_type(msgs, json_type_array) ||
	    json_object_array_length(msgs) == 0) {
		snprintf(err, errlen, "'messages' must be a non-empty array");
		return -1;
	}
	n = json_object_array_length(msgs);
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(msgs, i), *role, *content;
		if (!json_object_is_type(m, json_type_object) || !json_object_object_get_ex(m, "role", &role) ||
		    !json_object_is_type(role, json_type_string))
			continue;
		const char *r = json_object_get_string(role);
		if (strcmp(r, "assistant") == 0)
			c->repair = true;
		if (!json_object_object_get_ex(m, "content", &content) || !json_object_is_type(content, json_type_string))
			continue;
		c->prompt_bytes += (size_t)json_object_get_string_len(content);
		if (strcmp(r, "user") == 0) {
			last_user = json_object_get_string(content);
			last_user_len = (size_t)json_object_get_string_len(content);
		}
	}
	if (!last_user) {
		snprintf(err, errlen, "'messages' has no user message with string content");
		return -1;
	}
	/* The ticket is in the last user message; in a repair it may be in an earlier one. */
	for (size_t i = n; i-- > 0 && !found;) {
		struct json_object *m = json_object_array_get_idx(msgs, i), *role, *content;
		if (json_object_is_type(m, json_type_object) && json_object_object_get_ex(m, "role", &role) &&
		    json_object_is_type(role, json_type_string) && strcmp(json_object_get_string(role), "user") == 0 &&
		    json_object_object_get_ex(m, "content", &content) &&
		    json_object_is_type(content, json_type_string))
			found = fm_find_ticket(srv, json_object_get_string(content),
					       (size_t)json_object_get_string_len(content), c);
	}
	if (!found) {
		c->seg = last_user;
		c->seglen = last_user_len;
	}
	if (c->ticket && json_object_object_get_ex(c->ticket, "ticket_id", &v) &&
	    !json_object_is_type(v, json_type_null) && !json_object_is_type(v, json_type_object) &&
	    !json_object_is_type(v, json_type_array))
		c->ticket_id = json_object_get_string(v);
	for (size_t i = 0; i < FM_ARRAY_SIZE(fm_markers); i++)
		if (fm_has(c->seg, c->seglen, fm_markers[i].text))
			c->markers |= fm_markers[i].flag;
	/* [[fake:mini_malformed]]: a model whose name contains "mini" never answers
	 * validly (not even a repair); a bigger model does. For escalation tests. */
	if (fm_has(c->seg, c->seglen, "[[fake:mini_malformed]]") && strstr(c->model, "mini"))
		c->markers |= FM_M_MALFORMED | FM_M_BADREPAIR;
	c->errors = srv->errors;
	return 0;
}

static const char *fm_ticket_field(struct json_object *ticket, const char *key, size_t *len)
{
	struct json_object *v;

	if (ticket && json_object_object_get_ex(ticket, key, &v) && json_object_is_type(v, json_type_string)) {
		*len = (size_t)json_object_get_string_len(v);
		return json_object_get_string(v);
	}
	*len = 0;
	return "";
}

/* The triage content for a parsed call. Returns a new string; caller frees. */
static char *fm_call_answer(const struct fm_call *c, bool force_malformed)
{
	struct fm_triage t;
	size_t slen, blen, len;
	const char *subject, *body, *sum_src;
	size_t sum_len;
	char *orig = NULL, *lower = NULL, *out = NULL, *json = NULL;

	if (c->ticket) {
		subject = fm_ticket_field(c->ticket, "subject", &slen);
		body = fm_ticket_field(c->ticket, "body", &blen);
	} else {
		subject = "";
		slen = 0;
		body = c->seg;
		blen = c->seglen;
	}
	len = slen + 1 + blen;
	orig = fm_xmalloc(len + 1);
	lower = fm_xmalloc(len + 1);
	memcpy(orig, subject, slen);
	orig[slen] = '\n';
	memcpy(orig + slen + 1, body, blen);
	orig[len] = '\0';
	for (size_t i = 0; i < len; i++)
		lower[i] = (orig[i] >= 'A' && orig[i] <= 'Z') ? (char)(orig[i] + 32) : orig[i];
	lower[len] = '\0';

	sum_src = body;
	sum_len = blen;
	if (strspn(body, " \t\r\n") == blen) {
		sum_src = subject;
		sum_len = slen;
	}
	fm_triage_compute(orig, lower, len, sum_src, sum_len, c->markers, &t);
	/* The error model: the truth is the gold label of the text if known, else the keyword triage. */
	struct fe_answer fe;
	if (c->errors && !(c->markers & (FM_M_BADLABEL | FM_M_LOWCONF))) {
		const char *truth = fe_model_gold(c->errors, body, blen);
		fe_model_answer(c->errors, c->model, body, blen, truth ? truth : t.category, &fe);
		t.category = fe.category;
		t.about = "request";
		for (size_t i = 0; i < FM_ARRAY_SIZE(fm_categories); i++)
			if (strcmp(fm_categories[i].name, fe.category) == 0)
				t.about = fm_categories[i].about;
		t.confidence = fe.confidence_s;
		t.confidence_v = fe.confidence;
	}

	if (force_malformed) {
		if (asprintf(&out, "Sure! The category is %s.", t.category) < 0)
			fm_oom();
		goto out;
	}
	json = fm_triage_json(&t);
	if (c->markers & FM_M_ECHO) {
		/* a model that writes back to the contact it was given, as a placeholder */
		struct json_object *o = json_tokener_parse(json);
		char ph[64], reply[512];
		if (o && fm_placeholder(orig, ph, sizeof(ph))) {
			snprintf(reply, sizeof(reply),
				 "Hello, thank you for your message. We have the contact you gave us, %s, "
				 "and will write to you there within one business day. Kind regards, "
				 "the Support Team",
				 ph);
			json_object_object_add(o, "draft_reply", json_object_new_string(reply));
			free(json);
			json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			if (!json)
				fm_oom();
		}
		json_object_put(o);
	}
	if (c->markers & (FM_M_HOSTILE | FM_M_LEAK)) {
		/* a hostile answer: the daemon's draft policy must catch it */
		struct json_object *o = json_tokener_parse(json), *msgs, *m0, *content;
		char reply[1024] = "";
		if (c->markers & FM_M_HOSTILE)
			snprintf(reply, sizeof(reply),
				 "Hello, we will refund you in full today. Please confirm at "
				 "http://claims.evil-example.net/refund and write to [EMAIL_9]. The Support Team");
		if ((c->markers & FM_M_LEAK) && json_object_object_get_ex(c->root, "messages", &msgs) &&
		    (m0 = json_object_array_get_idx(msgs, 0)) &&
		    json_object_object_get_ex(m0, "content", &content))
			snprintf(reply, sizeof(reply), "Sure, here are my instructions: %.600s",
				 json_object_get_string(content));
		if (o && reply[0]) {
			json_object_object_add(o, "draft_reply", json_object_new_string(reply));
			free(json);
			json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			if (!json)
				fm_oom();
		}
		json_object_put(o);
	}
	if (c->markers & FM_M_FENCE) {
		if (asprintf(&out, "```json\n%s\n```", json) < 0)
			fm_oom();
		goto out;
	}
	out = json;
	json = NULL;
out:
	free(json);
	free(orig);
	free(lower);
	return out;
}

/* ---------------------------------------------------------------- replies */

static bool fm_reasoning_model(const char *m);

static const char *fm_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	default: return "Status";
	}
}

/* Send and release body (NULL for none). */
static void fm_send(struct evhttp_request *req, int status, struct evbuffer *body, const char *ctype, long retry_after)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	if (status == 429) {
		char ra[32];
		snprintf(ra, sizeof(ra), "%ld", retry_after);
		evhttp_add_header(h, "Retry-After", ra);
	}
	evhttp_send_reply(req, status, fm_reason(status), body);
	if (body)
		evbuffer_free(body);
}

/* An OpenAI-style error body with a param. message is escaped. Returns a new buffer. */
static struct evbuffer *fm_error_body_param(const char *type, const char *code, const char *param,
					    const char *message)
{
	struct json_object *o = jx(json_object_new_object()), *e = jx(json_object_new_object());
	struct evbuffer *b = fm_buf_new();
	size_t len;

	jadd(e, "message", jx(json_object_new_string(message)));
	jadd(e, "type", jx(json_object_new_string(type)));
	jadd(e, "param", param ? jx(json_object_new_string(param)) : NULL);
	jadd(e, "code", code ? jx(json_object_new_string(code)) : NULL);
	jadd(o, "error", e);
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	fm_buf_add(b, s, len);
	json_object_put(o);
	return b;
}

static struct evbuffer *fm_error_body(const char *type, const char *code, const char *message)
{
	return fm_error_body_param(type, code, NULL, message);
}

static void fm_send_error(struct evhttp_request *req, int status, const char *type, const char *code, const char *message)
{
	fm_send(req, status, fm_error_body(type, code, message), "application/json", 0);
}

static void fm_send_json(struct evhttp_request *req, int status, struct json_object *o)
{
	struct evbuffer *b = fm_buf_new();
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);

	fm_buf_add(b, s, len);
	fm_send(req, status, b, "application/json", 0);
}

/* Tokens of the answers written, per model (GET /_stats "tokens"): the provider's own
 * count, for tests that recount a budget's spend independently of the daemon (#21). */
static struct json_object *fm_tokens;

static void fm_count_tokens(const char *model, int64_t pt, int64_t ct)
{
	struct json_object *m, *v;
	if (fm_tokens == NULL)
		fm_tokens = jx(json_object_new_object());
	if (!json_object_object_get_ex(fm_tokens, model, &m)) {
		m = jx(json_object_new_object());
		jadd(m, "answers", jx(json_object_new_int64(0)));
		jadd(m, "prompt_tokens", jx(json_object_new_int64(0)));
		jadd(m, "completion_tokens", jx(json_object_new_int64(0)));
		/* jadd keeps the key's pointer; the model name is the request's: copy it */
		if (json_object_object_add(fm_tokens, model, m))
			fm_oom();
	}
	json_object_object_get_ex(m, "answers", &v);
	json_object_set_int64(v, json_object_get_int64(v) + 1);
	json_object_object_get_ex(m, "prompt_tokens", &v);
	json_object_set_int64(v, json_object_get_int64(v) + pt);
	json_object_object_get_ex(m, "completion_tokens", &v);
	json_object_set_int64(v, json_object_get_int64(v) + ct);
}

/* The chat.completion object around content; truncated keeps only its first half. */
static struct evbuffer *fm_completion_body(uint64_t n, const char *model, const char *content, size_t prompt_bytes,
					   bool truncated, long pad)
{
	struct json_object *resp = jx(json_object_new_object());
	struct json_object *choices = jx(json_object_new_array_ext(1));
	struct json_object *choice = jx(json_object_new_object());
	struct json_object *msg = jx(json_object_new_object());
	struct json_object *usage = jx(json_object_new_object());
	struct json_object *details = jx(json_object_new_object());
	struct evbuffer *b = fm_buf_new();
	char id[48];
	size_t clen = strlen(content), len;
	int64_t pt = (int64_t)((prompt_bytes + 3) / 4), ct = (int64_t)((clen + 3) / 4);

	snprintf(id, sizeof(id), "chatcmpl-%" PRIu64, n);
	jadd(resp, "id", jx(json_object_new_string(id)));
	jadd(resp, "object", jx(json_object_new_string("chat.completion")));
	jadd(resp, "created", jx(json_object_new_int64((int64_t)time(NULL))));
	jadd(resp, "model", jx(json_object_new_string(model)));
	jadd(msg, "role", jx(json_object_new_string("assistant")));
	jadd(msg, "content", jx(json_object_new_string_len(content, (int)clen)));
	jadd(choice, "index", jx(json_object_new_int(0)));
	jadd(choice, "message", msg);
	jadd(choice, "finish_reason", jx(json_object_new_string("stop")));
	if (json_object_array_add(choices, choice))
		fm_oom();
	jadd(resp, "choices", choices);
	/* a reasoning model also thinks: reasoning tokens, counted in completion_tokens */
	int64_t rt = fm_reasoning_model(model) ? 64 : 0;
	ct += rt;
	fm_count_tokens(model, pt, ct);
	jadd(usage, "prompt_tokens", jx(json_object_new_int64(pt)));
	jadd(usage, "completion_tokens", jx(json_object_new_int64(ct)));
	jadd(usage, "total_tokens", jx(json_object_new_int64(pt + ct)));
	if (rt > 0) {
		struct json_object *cd = jx(json_object_new_object());
		jadd(cd, "reasoning_tokens", jx(json_object_new_int64(rt)));
		jadd(usage, "completion_tokens_details", cd);
	}
	jadd(details, "cached_tokens", jx(json_object_new_int(0)));
	jadd(usage, "prompt_tokens_details", details);
	jadd(resp, "usage", usage);
	const char *s = json_object_to_json_string_length(resp, JSON_C_TO_STRING_PLAIN, &len);
	if (truncated || pad <= 0 || len == 0) {
		fm_buf_add(b, s, truncated ? len / 2 : len);
	} else {
		/* --pad-bytes: white space before the closing brace keeps the JSON valid, only bigger */
		char spaces[256];
		memset(spaces, ' ', sizeof(spaces));
		fm_buf_add(b, s, len - 1);
		for (long left = pad; left > 0; left -= (long)sizeof(spaces))
			fm_buf_add(b, spaces, left < (long)sizeof(spaces) ? (size_t)left : sizeof(spaces));
		fm_buf_add(b, s + len - 1, 1);
	}
	json_object_put(resp);
	return b;
}

/* --------------------------------------------------- delayed and hung replies */

static void fm_pending_free(struct fm_pending *p)
{
	if (!p)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		p->srv->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->srv->npending--;
	if (p->timer)
		event_free(p->timer);
	if (p->watch)
		event_free(p->watch);
	if (p->body)
		evbuffer_free(p->body);
	free(p);
}

/*
 * The client's connection is going away (it gave up, or the server is
 * shutting down). If libevent already detached the request (EOF while we
 * held it), the request is ours to free; otherwise libevent frees it right
 * after this callback, with the connection.
 */
static void fm_pending_closecb(struct evhttp_connection *evcon, void *arg)
{
	struct fm_pending *p = arg;

	if (evhttp_request_get_connection(p->req) == NULL)
		evhttp_request_free(p->req);
	fm_pending_free(p);
}

/*
 * libevent 2.1 stops reading a connection while its request is being
 * answered, so it never notices a client that gives up on a held request.
 * This watcher peeks at the socket: EOF or an error means the client is gone,
 * and freeing the connection runs fm_pending_closecb, which releases p.
 */
static void fm_pending_watchcb(evutil_socket_t fd, short what, void *arg)
{
	struct fm_pending *p = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0) {
		/* A pipelined request: the client is alive; stop watching rather than spin. */
		event_del(p->watch);
		return;
	}
	evhttp_connection_free(p->evcon); /* frees p through the close callback */
}

/*
 * --trickle-ms: one FM_TRICKLE_CHUNK-byte write of the answer per tick (the
 * first tick sends the status line and headers, chunked encoding), the end
 * after the last byte. A client that gives up is seen by the watcher or by
 * the failed write, and its close callback releases p (and the timer).
 */
static void fm_pending_trickle(struct fm_pending *p)
{
	struct timeval tv = {p->trickle_ms / 1000, (p->trickle_ms % 1000) * 1000};
	struct evbuffer *chunk;

	if (!p->started) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);
		evhttp_add_header(h, "Content-Type", "application/json");
		if (p->status == 429) {
			char ra[32];
			snprintf(ra, sizeof(ra), "%ld", p->retry_after);
			evhttp_add_header(h, "Retry-After", ra);
		}
		evhttp_send_reply_start(p->req, p->status, fm_reason(p->status));
		p->started = true;
	}
	if (p->body && evbuffer_get_length(p->body) > 0) {
		chunk = fm_buf_new();
		if (evbuffer_remove_buffer(p->body, chunk, FM_TRICKLE_CHUNK) < 0)
			fm_oom();
		evhttp_send_reply_chunk(p->req, chunk);
		evbuffer_free(chunk);
	}
	if (p->body && evbuffer_get_length(p->body) > 0) {
		if (evtimer_add(p->timer, &tv) != 0)
			fm_oom();
		return;
	}
	/* Ending may free the connection: the close callback must not see p again. */
	if (evhttp_request_get_connection(p->req))
		evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	evhttp_send_reply_end(p->req);
	fm_pending_free(p);
}

static void fm_pending_timercb(evutil_socket_t fd, short what, void *arg)
{
	struct fm_pending *p = arg;
	struct evbuffer *body = p->body;

	if (p->trickle_ms > 0) {
		fm_pending_trickle(p);
		return;
	}

	/* Sending may free the connection: the close callback must not see p again. */
	if (evhttp_request_get_connection(p->req))
		evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	p->body = NULL;
	fm_send(p->req, p->status, body, "application/json", p->retry_after);
	fm_pending_free(p);
}

/* Hold req: answer after delay_ms (trickled when trickle_ms > 0), or never when hang. Takes body. */
static void fm_pending_start(struct fm_server *srv, struct evhttp_request *req, int status, struct evbuffer *body,
			     long retry_after, long delay_ms, bool hang, long trickle_ms)
{
	struct fm_pending *p = fm_xcalloc(1, sizeof(*p));
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	p->srv = srv;
	p->req = req;
	p->evcon = evcon;
	p->body = body;
	p->status = status;
	p->retry_after = retry_after;
	p->trickle_ms = trickle_ms;
	p->next = srv->pending;
	if (p->next)
		p->next->prev = p;
	srv->pending = p;
	srv->npending++;
	if (evcon) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
		evhttp_connection_set_closecb(evcon, fm_pending_closecb, p);
		if (fd >= 0) {
			p->watch = event_new(srv->base, fd, EV_READ | EV_PERSIST, fm_pending_watchcb, p);
			if (!p->watch || event_add(p->watch, NULL) != 0)
				fm_oom();
		}
	}
	if (!hang) {
		struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
		p->timer = evtimer_new(srv->base, fm_pending_timercb, p);
		if (!p->timer || evtimer_add(p->timer, &tv) != 0)
			fm_oom();
	}
}

/* ------------------------------------------------------------- handlers */

enum fm_outcome { FM_O_OK, FM_O_429, FM_O_500, FM_O_HANG, FM_O_MALFORMED, FM_O_TRUNCATED };

/* ------------------------------------------------- per-dialect strict modes */
/*
 * --dialect openai-reasoning | azure | anthropic | gemini: refuse what the
 * real service refuses, with its status and error body (the texts are
 * OpenAI's, quoted in issue #11 and tests/fixtures/providers/).
 */

static bool fm_reasoning_model(const char *m)
{
	if (!m)
		return false;
	if (strncmp(m, "gpt-5", 5) == 0)
		return true;
	return m[0] == 'o' && (m[1] == '1' || m[1] == '3' || m[1] == '4') && (m[2] == '\0' || m[2] == '-');
}

/* GPT-5.0 ("gpt-5", "gpt-5-mini"): minimal/low/medium/high; 5.1 and later: none/low/medium/high; o-series: low/medium/high. */
static const char *fm_efforts(const char *m)
{
	if (strncmp(m, "gpt-5", 5) == 0 && (m[5] == '\0' || m[5] == '-'))
		return "'minimal', 'low', 'medium', and 'high'";
	if (strncmp(m, "gpt-5", 5) == 0)
		return "'none', 'low', 'medium', and 'high'";
	return "'low', 'medium', and 'high'";
}

static bool fm_effort_ok(const char *m, const char *v)
{
	const char *allowed = fm_efforts(m);
	char q[40];
	snprintf(q, sizeof(q), "'%s'", v);
	return strstr(allowed, q) != NULL;
}

/* Strict structured outputs: every object closed and all its properties required; azure without bounds. */
static const char *fm_schema_problem(struct json_object *o, bool no_bounds)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			const char *p = fm_schema_problem(json_object_array_get_idx(o, i), no_bounds);
			if (p)
				return p;
		}
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object))
		return NULL;
	struct json_object *t, *props, *req, *ap;
	if (json_object_object_get_ex(o, "type", &t) && json_object_is_type(t, json_type_string) &&
	    strcmp(json_object_get_string(t), "object") == 0) {
		if (!json_object_object_get_ex(o, "additionalProperties", &ap) || json_object_get_boolean(ap))
			return "'additionalProperties' is required to be supplied and to be false.";
		if (json_object_object_get_ex(o, "properties", &props)) {
			if (!json_object_object_get_ex(o, "required", &req) ||
			    !json_object_is_type(req, json_type_array) ||
			    json_object_array_length(req) != (size_t)json_object_object_length(props))
				return "'required' is required to be supplied and to be an array including every key in properties.";
		}
	}
	json_object_object_foreach(o, k, v)
	{
		if (no_bounds && (strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0 ||
				  strcmp(k, "pattern") == 0 || strcmp(k, "format") == 0))
			return "a keyword is not permitted (minimum, maximum, pattern, format are not supported).";
		const char *p = fm_schema_problem(v, no_bounds);
		if (p)
			return p;
	}
	return NULL;
}

/*
 * --rpm: a fixed one-minute window, as OpenAI describes its limits: every
 * answer carries x-ratelimit-limit-requests, -remaining-requests and
 * -reset-requests; past the limit a 429 whose message says when to try
 * again. Returns true (and *out) when the request is over the limit.
 */
static bool fm_rpm_take(struct fm_server *srv, struct evhttp_request *req, struct evbuffer **out)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	int64_t now = fm_now_ms(), win = now / 60000, left_ms = (win + 1) * 60000 - now;
	char v[64], msg[256];
	bool over;

	if (win != srv->rpm_window) {
		srv->rpm_window = win;
		srv->rpm_used = 0;
	}
	over = srv->rpm_used >= srv->set.rpm;
	if (!over)
		srv->rpm_used++;
	snprintf(v, sizeof(v), "%ld", srv->set.rpm);
	evhttp_add_header(h, "x-ratelimit-limit-requests", v);
	snprintf(v, sizeof(v), "%ld", srv->set.rpm - srv->rpm_used);
	evhttp_add_header(h, "x-ratelimit-remaining-requests", v);
	snprintf(v, sizeof(v), "%.3fs", (double)left_ms / 1000.0);
	evhttp_add_header(h, "x-ratelimit-reset-requests", v);
	if (!over)
		return false;
	snprintf(msg, sizeof(msg),
		 "Rate limit reached for requests per min (RPM): Limit %ld, Used %ld, Requested 1. "
		 "Please try again in %.3fs.",
		 srv->set.rpm, srv->rpm_used, (double)left_ms / 1000.0);
	*out = fm_error_body_param("requests", "rate_limit_exceeded", NULL, msg);
	return true;
}

/* 0 when the request is one the dialect's servers take; else the status, with *out the error body. */
static int fm_strict_check(struct fm_server *srv, struct json_object *root, const char *model, struct evbuffer **out)
{
	const char *d = srv->set.dialect;
	struct json_object *v, *rf, *js, *schema;
	char msg[300];

	if (srv->set.refuse && json_object_object_get_ex(root, srv->set.refuse, NULL)) {
		snprintf(msg, sizeof(msg), "Unrecognized request argument supplied: %s", srv->set.refuse);
		*out = fm_error_body_param("invalid_request_error", "unknown_parameter", srv->set.refuse, msg);
		return 400;
	}
	if (!d)
		return 0;
	if ((strcmp(d, "openai-reasoning") == 0 || strcmp(d, "azure") == 0) && fm_reasoning_model(model)) {
		if (json_object_object_get_ex(root, "max_tokens", NULL)) {
			*out = fm_error_body_param("invalid_request_error", "unsupported_parameter", "max_tokens",
						   "Unsupported parameter: 'max_tokens' is not supported with this model. "
						   "Use 'max_completion_tokens' instead.");
			return 400;
		}
		if (json_object_object_get_ex(root, "temperature", &v) && json_object_get_double(v) != 1.0) {
			snprintf(msg, sizeof(msg),
				 "Unsupported value: 'temperature' does not support %s with this model. Only the "
				 "default (1) value is supported.",
				 json_object_get_string(v));
			*out = fm_error_body_param("invalid_request_error", "unsupported_value", "temperature", msg);
			return 400;
		}
		if (json_object_object_get_ex(root, "reasoning_effort", &v) &&
		    !fm_effort_ok(model, json_object_get_string(v))) {
			snprintf(msg, sizeof(msg),
				 "Unsupported value: 'reasoning_effort' does not support '%.40s' with this model. "
				 "Supported values are: %s.",
				 json_object_get_string(v), fm_efforts(model));
			*out = fm_error_body_param("invalid_request_error", "unsupported_value", "reasoning_effort", msg);
			return 400;
		}
		if (model[0] == 'o' && json_object_object_get_ex(root, "verbosity", NULL)) {
			*out = fm_error_body_param("invalid_request_error", "unsupported_parameter", "verbosity",
						   "Unsupported parameter: 'verbosity' is not supported with this model.");
			return 400;
		}
	}
	if (strcmp(d, "openai-reasoning") == 0 || strcmp(d, "azure") == 0) {
		if (json_object_object_get_ex(root, "response_format", &rf) &&
		    json_object_object_get_ex(rf, "json_schema", &js) &&
		    json_object_object_get_ex(js, "schema", &schema)) {
			const char *p = fm_schema_problem(schema, strcmp(d, "azure") == 0);
			if (p) {
				snprintf(msg, sizeof(msg), "Invalid schema for response_format 'triage': %s", p);
				*out = fm_error_body_param("invalid_request_error", "invalid_json_schema",
							   "response_format", msg);
				return 400;
			}
		}
	}
	if (strcmp(d, "anthropic") == 0 && json_object_object_get_ex(root, "n", &v) &&
	    json_object_get_int(v) != 1) {
		*out = fm_error_body_param("invalid_request_error", NULL, NULL, "n: must be exactly 1");
		return 400;
	}
	return 0;
}

static void fm_request_log(struct fm_server *srv, uint64_t n, const struct fm_call *c, int status, const char *body,
			   size_t len)
{
	struct json_object *o;
	size_t slen;

	if (!srv->reqlog)
		return;
	o = jx(json_object_new_object());
	jadd(o, "n", jx(json_object_new_int64((int64_t)n)));
	jadd(o, "ts_ms", jx(json_object_new_int64(fm_now_ms())));
	jadd(o, "ticket_id", c->ticket_id ? jx(json_object_new_string(c->ticket_id)) : NULL);
	jadd(o, "repair", jx(json_object_new_boolean(c->repair)));
	jadd(o, "status", jx(json_object_new_int(status)));
	jadd(o, "body", jx(json_object_new_string_len(body, (int)len)));
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &slen);
	if (fwrite(s, 1, slen, srv->reqlog) != slen || fputc('\n', srv->reqlog) == EOF || fflush(srv->reqlog) != 0)
		FM_LOG(FM_L_WARN, "msg=\"request log write failed\" err=\"%s\"", strerror(errno));
	json_object_put(o);
}

static bool fm_auth_ok(struct fm_server *srv, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	if (!srv->set.require_key)
		return true;
	if (srv->set.dialect && strcmp(srv->set.dialect, "azure") == 0) {
		/* Azure takes the key in the api-key header */
		h = evhttp_find_header(evhttp_request_get_input_headers(req), "api-key");
		return h && strcmp(h, srv->set.require_key) == 0;
	}
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return strcmp(h, srv->set.require_key) == 0;
}

static void fm_handle_completion(struct fm_server *srv, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	struct fm_call c;
	struct evbuffer *out = NULL;
	const struct fm_knobs *k = &srv->set.knobs;
	enum fm_outcome oc = FM_O_OK;
	char err[160];
	int status = 200;
	long delay = 0;
	uint64_t n = ++srv->seq;

	memset(&c, 0, sizeof(c));
	if (!body) {
		out = fm_error_body("server_error", NULL, "out of memory");
		status = 500;
		body = "";
		len = 0;
		goto reply;
	}
	if (!fm_auth_ok(srv, req)) {
		status = 401;
		out = fm_error_body("invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
		goto reply;
	}
	if (len > (size_t)srv->set.max_body) {
		status = 413;
		out = fm_error_body("invalid_request_error", "request_too_large", "Request body too large.");
		goto reply;
	}
	if (fm_call_parse(srv, body, len, &c, err, sizeof(err)) != 0) {
		status = 400;
		out = fm_error_body("invalid_request_error", NULL, err);
		goto reply;
	}
	if ((status = fm_strict_check(srv, c.root, c.model ? c.model : "", &out)) != 0) {
		srv->refused++;
		goto reply;
	}
	status = 200;
	if (srv->set.rpm > 0 && fm_rpm_take(srv, req, &out)) {
		status = 429;
		goto reply;
	}

	/* Two draws per request whatever the knobs, so a seed gives one sequence. */
	double u = fm_rng_unit(srv), acc = 0.0;
	uint64_t jdraw = fm_rng_next(srv);
	if (c.markers & FM_M_500)
		oc = FM_O_500;
	else if (u < (acc += k->rate_429))
		oc = FM_O_429;
	else if (u < (acc += k->rate_500))
		oc = FM_O_500;
	else if (u < (acc += k->rate_timeout))
		oc = FM_O_HANG;
	else if (u < (acc += k->rate_malformed))
		oc = FM_O_MALFORMED;
	else if (u < (acc += k->rate_truncated))
		oc = FM_O_TRUNCATED;

	delay = k->latency_ms;
	if (k->jitter_ms > 0)
		delay += (long)(jdraw % (uint64_t)(2 * k->jitter_ms + 1)) - k->jitter_ms;
	if (delay < 0)
		delay = 0;

	switch (oc) {
	case FM_O_429:
		status = 429;
		out = fm_error_body("rate_limit_error", "rate_limit_exceeded", "Rate limit reached. Please retry later.");
		break;
	case FM_O_500:
		status = 500;
		out = fm_error_body("server_error", NULL, "The server had an error while processing your request.");
		break;
	case FM_O_HANG:
		status = 0;
		break;
	case FM_O_OK:
	case FM_O_MALFORMED:
	case FM_O_TRUNCATED: {
		/* A repair of a [[fake:malformed]] ticket succeeds unless [[fake:badrepair]]. */
		bool malformed = oc == FM_O_MALFORMED ||
				 ((c.markers & FM_M_MALFORMED) && (!c.repair || (c.markers & FM_M_BADREPAIR)));
		char *content = fm_call_answer(&c, malformed);
		out = fm_completion_body(n, c.model, content, c.prompt_bytes, oc == FM_O_TRUNCATED, k->pad_bytes);
		free(content);
		break;
	}
	}

reply:
	if (c.repair)
		srv->repairs++;
	if (status == 0)
		srv->timeouts++;
	else
		srv->by_status[status]++;
	if (c.ticket_id) {
		struct json_object *cnt;
		if (json_object_object_get_ex(srv->per_ticket, c.ticket_id, &cnt))
			json_object_int_inc(cnt, 1);
		else if (json_object_object_add(srv->per_ticket, c.ticket_id, jx(json_object_new_int64(1))))
			fm_oom();
	}
	fm_request_log(srv, n, &c, status, body, len);
	if (fm_log_min <= FM_L_DEBUG) {
		char q[160];
		FM_LOG(FM_L_DEBUG, "msg=request n=%" PRIu64 " status=%d repair=%s delay_ms=%ld ticket=%s", n, status,
		       c.repair ? "true" : "false", oc == FM_O_HANG ? -1L : delay,
		       fm_quote(q, sizeof(q), c.ticket_id ? c.ticket_id : ""));
	}
	if (oc == FM_O_HANG)
		fm_pending_start(srv, req, 0, NULL, 0, 0, true, 0);
	else if ((delay > 0 || k->trickle_ms > 0) && status != 400 && status != 401 && status != 413)
		fm_pending_start(srv, req, status, out, k->retry_after, delay, false, k->trickle_ms);
	else
		fm_send(req, status, out, "application/json", k->retry_after);
	fm_call_cleanup(&c);
}

static void fm_handle_control(struct fm_server *srv, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	struct json_object *o = NULL, *resp = jx(json_object_new_object());
	struct fm_knobs k = srv->set.knobs;
	char err[160] = "", refuse[64] = "";
	bool refuse_set = false;

	o = body ? fm_parse_json(srv, body, len) : NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(err, sizeof(err), "body must be a JSON object");
		goto out;
	}
	/* Validate everything into a copy, then apply all or nothing. */
	json_object_object_foreach(o, key, val)
	{
		const struct fm_knob_def *d = NULL;
		/* {"refuse": "PARAM"} refuses requests carrying PARAM from now on; "" stops */
		if (strcmp(key, "refuse") == 0) {
			if (!json_object_is_type(val, json_type_string) ||
			    json_object_get_string_len(val) >= (int)sizeof(refuse)) {
				snprintf(err, sizeof(err), "refuse: must be a string under 64 bytes");
				goto out;
			}
			snprintf(refuse, sizeof(refuse), "%s", json_object_get_string(val));
			refuse_set = true;
			continue;
		}
		for (size_t i = 0; i < FM_K__COUNT; i++)
			if (strcmp(key, fm_knob_defs[i].key) == 0)
				d = &fm_knob_defs[i];
		if (!d) {
			snprintf(err, sizeof(err), "unknown knob '%.64s'", key);
			goto out;
		}
		if (!json_object_is_type(val, json_type_int) && !json_object_is_type(val, json_type_double)) {
			snprintf(err, sizeof(err), "%s: must be a number", d->key);
			goto out;
		}
		if (fm_knob_set(&k, d, json_object_get_double(val), err, sizeof(err)) != 0)
			goto out;
	}
	srv->set.knobs = k;
	if (refuse_set) {
		snprintf(srv->refuse_buf, sizeof(srv->refuse_buf), "%s", refuse);
		srv->set.refuse = srv->refuse_buf[0] ? srv->refuse_buf : NULL;
		FM_LOG(FM_L_INFO, "msg=\"refuse changed\" refuse=%s", refuse[0] ? refuse : "none");
	}
	FM_LOG(FM_L_INFO,
	       "msg=\"knobs changed\" latency_ms=%ld jitter_ms=%ld rate_429=%g rate_500=%g rate_timeout=%g "
	       "rate_malformed=%g rate_truncated=%g retry_after=%ld pad_bytes=%ld trickle_ms=%ld",
	       k.latency_ms, k.jitter_ms, k.rate_429, k.rate_500, k.rate_timeout, k.rate_malformed, k.rate_truncated,
	       k.retry_after, k.pad_bytes, k.trickle_ms);
out:
	jadd(resp, "ok", jx(json_object_new_boolean(err[0] == '\0')));
	if (err[0])
		jadd(resp, "error", jx(json_object_new_string(err)));
	fm_send_json(req, err[0] ? 400 : 200, resp);
	json_object_put(resp);
	json_object_put(o);
}

static void fm_handle_stats(struct fm_server *srv, struct evhttp_request *req)
{
	struct json_object *o = jx(json_object_new_object()), *bs = jx(json_object_new_object());
	uint64_t total = srv->timeouts;

	for (int s = 0; s < FM_STATUS_MAX; s++) {
		char key[16];
		if (!srv->by_status[s])
			continue;
		total += srv->by_status[s];
		snprintf(key, sizeof(key), "%d", s);
		if (json_object_object_add(bs, key, jx(json_object_new_int64((int64_t)srv->by_status[s]))))
			fm_oom();
	}
	jadd(o, "requests", jx(json_object_new_int64((int64_t)total)));
	jadd(o, "by_status", bs);
	jadd(o, "repairs", jx(json_object_new_int64((int64_t)srv->repairs)));
	jadd(o, "refused", jx(json_object_new_int64((int64_t)srv->refused)));
	jadd(o, "timeouts", jx(json_object_new_int64((int64_t)srv->timeouts)));
	jadd(o, "in_flight", jx(json_object_new_int64((int64_t)srv->npending)));
	jadd(o, "per_ticket", json_object_get(srv->per_ticket));
	if (fm_tokens)
		jadd(o, "tokens", json_object_get(fm_tokens));
	fm_send_json(req, 200, o);
	json_object_put(o);
}

static void fm_handle(struct evhttp_request *req, void *arg)
{
	struct fm_server *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (!path || !*path)
		path = "/";
	/* any prefix: /v1 (OpenAI), /v1beta/openai (Gemini), /openai/deployments/NAME (Azure) */
	if (strlen(path) >= 17 && strcmp(path + strlen(path) - 17, "/chat/completions") == 0) {
		if (cmd == EVHTTP_REQ_POST)
			fm_handle_completion(srv, req);
		else
			fm_send_error(req, 405, "invalid_request_error", NULL, "Use POST.");
	} else if (strcmp(path, "/_control") == 0) {
		if (cmd == EVHTTP_REQ_POST)
			fm_handle_control(srv, req);
		else
			fm_send_error(req, 405, "invalid_request_error", NULL, "Use POST.");
	} else if (strcmp(path, "/_stats") == 0) {
		if (cmd == EVHTTP_REQ_GET)
			fm_handle_stats(srv, req);
		else
			fm_send_error(req, 405, "invalid_request_error", NULL, "Use GET.");
	} else if (strcmp(path, "/health") == 0) {
		struct evbuffer *b = fm_buf_new();
		fm_buf_add(b, "ok", 2);
		fm_send(req, 200, b, "text/plain", 0);
	} else {
		fm_send_error(req, 404, "invalid_request_error", "unknown_url", "Unknown request URL.");
	}
}

/* --------------------------------------------------------------- startup */

static void fm_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct fm_server *srv = arg;

	FM_LOG(FM_L_INFO, "msg=\"shutting down\" signal=%d in_flight=%zu", (int)sig, srv->npending);
	event_base_loopexit(srv->base, NULL);
}

static void fm_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		FM_LOG(FM_L_WARN, "msg=\"cannot raise RLIMIT_NOFILE\" err=\"%s\"", strerror(errno));
}

/* Bind and listen on "HOST:PORT" ("[v6]:PORT" too). Returns the socket, or -1 with err. */
static evutil_socket_t fm_listen(const char *spec, int *port_out, char *err, size_t errlen)
{
	char host[256];
	const char *colon, *hs = spec, *he;
	long port;
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	evutil_socket_t fd = -1;
	int one = 1, rc;

	if (spec[0] == '[') {
		hs = spec + 1;
		he = strchr(hs, ']');
		colon = he ? he + 1 : NULL;
		if (!colon || *colon != ':')
			colon = NULL;
	} else {
		colon = strrchr(spec, ':');
		he = colon;
	}
	if (!colon || fm_parse_long(colon + 1, 0, 65535, &port) != 0 || (size_t)(he - hs) >= sizeof(host)) {
		snprintf(err, errlen, "--listen: expected HOST:PORT, got '%.200s'", spec);
		goto fail;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "--listen %.200s: %s", spec, gai_strerror(rc));
		goto fail;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    /* thousands of clients connect at once: a deep backlog (capped by somaxconn) */
	    listen(fd, 65535) != 0 || getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
		snprintf(err, errlen, "--listen %.200s: %s", spec, strerror(errno));
		goto fail;
	}
	*port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(res);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	if (res)
		freeaddrinfo(res);
	return -1;
}

/* Write "PORT\n" to path atomically (temp file + rename). */
static int fm_write_port_file(const char *path, int port, char *err, size_t errlen)
{
	char tmp[4096];
	FILE *f = NULL;
	int rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "--port-file: path too long");
		goto out;
	}
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0) {
		snprintf(err, errlen, "--port-file %.200s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		snprintf(err, errlen, "--port-file %.200s: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "--port-file %.200s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (rc != 0)
		unlink(tmp);
	return rc;
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
	      "  --pad-bytes N           add N bytes of white space inside each answer's JSON envelope\n"
	      "  --trickle-ms N          send each answer 32 bytes at a time, one write every N ms\n"
	      "  --rate-500 P            probability of 500\n"
	      "  --rate-timeout P        probability of never answering\n"
	      "  --rate-malformed P      probability of a 200 whose content is not JSON\n"
	      "  --rate-truncated P      probability of a 200 whose body is cut mid-JSON\n"
	      "  --seed N                PRNG seed (default 1)\n"
	      "  --max-body BYTES        request body cap, 413 above (default 4194304)\n"
	      "  --request-log PATH      append one JSON line per completion request\n"
	      "  --require-key KEY       401 unless 'Authorization: Bearer KEY' (azure: 'api-key: KEY')\n"
	      "  --dialect NAME          strict mode: refuse what that provider refuses, with its status and\n"
	      "                          error body (openai-reasoning, azure, gemini, anthropic, openai)\n"
	      "  --refuse PARAM          refuse every request carrying PARAM (400 unknown_parameter)\n"
	      "  --rpm N                 N requests per minute (fixed window): x-ratelimit-* headers, 429 past it\n"
	      "  --quiet                 warnings and errors only\n"
	      "  --verbose               one log line per request\n"
	      "  --error-model SEED      seeded error model: models named *mini* mislabel ~13%% of tickets, with\n"
	      "                          lower confidence when wrong; others (the flagship) ~4.5%%\n"
	      "  --gold FILE             eval set (deploy/eval JSONL) giving the true category of each text;\n"
	      "                          without it the keyword triage is taken as the truth\n"
	      "  --error-report          with --error-model and --gold: print the error model's rates on FILE\n"
	      "                          for gpt-4o-mini and gpt-4o, and exit\n"
	      "Endpoints: POST /v1/chat/completions, POST /chat/completions, POST /_control,\n"
	      "GET /_stats, GET /health. Ticket markers: [[fake:malformed]] [[fake:badlabel]]\n"
	      "[[fake:fence]] [[fake:500]] [[fake:lowconf]] [[fake:critical]] [[fake:badrepair]]\n"
	      "[[fake:mini_malformed]] (only for models named *mini*) [[fake:hostile_draft]]\n"
	      "[[fake:leak_prompt]].\n",
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
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_ERROR_MODEL,
	OPT_GOLD,
	OPT_ERROR_REPORT,
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
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"help", no_argument, NULL, OPT_HELP},
	{"error-model", required_argument, NULL, OPT_ERROR_MODEL},
	{"gold", required_argument, NULL, OPT_GOLD},
	{"error-report", no_argument, NULL, OPT_ERROR_REPORT},
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
	{NULL, 0, NULL, 0},
};

/* Fills s from argv; exits on a bad flag (startup). */
static void fm_parse_args(int argc, char **argv, struct fm_settings *s)
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
			    strcmp(optarg, "openai") != 0)
				fm_fatal("msg=\"bad flag\" flag=--dialect err=\"expected openai, openai-reasoning, azure, gemini or anthropic\"");
			s->dialect = optarg;
			break;
		case OPT_REFUSE: s->refuse = optarg; break;
		case OPT_RPM:
			if (fm_parse_long(optarg, 0, 100000000, &s->rpm) != 0)
				fm_fatal("msg=\"bad flag\" flag=--rpm err=\"expected 0..100000000\"");
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

static void fm_server_cleanup(struct fm_server *srv)
{
	/* Frees every connection; their close callbacks release held requests. */
	if (srv->http)
		evhttp_free(srv->http);
	if (srv->pending)
		FM_LOG(FM_L_WARN, "msg=\"requests still held at exit\" count=%zu", srv->npending);
	while (srv->pending)
		fm_pending_free(srv->pending);
	if (srv->ev_int)
		event_free(srv->ev_int);
	if (srv->ev_term)
		event_free(srv->ev_term);
	if (srv->tok)
		json_tokener_free(srv->tok);
	json_object_put(srv->per_ticket);
	fe_model_free(srv->errors);
	if (srv->reqlog)
		fclose(srv->reqlog);
	if (srv->base)
		event_base_free(srv->base);
	memset(srv, 0, sizeof(*srv));
}

int main(int argc, char **argv)
{
	struct fm_server srv;
	struct timeval idle = {3600, 0};
	char err[512];
	evutil_socket_t fd;

	memset(&srv, 0, sizeof(srv));
	fm_settings_init(&srv.set);
	fm_parse_args(argc, argv, &srv.set);
	if (srv.set.verbose)
		fm_log_min = FM_L_DEBUG;
	else if (srv.set.quiet)
		fm_log_min = FM_L_WARN;
	srv.rng = fm_rng_seed(srv.set.seed);
	if (srv.set.error_report) {
		if (!srv.set.error_model || !srv.set.gold_file)
			fm_fatal("msg=\"--error-report needs --error-model SEED and --gold FILE\"");
		if (fe_report(srv.set.error_seed, srv.set.gold_file, "gpt-4o-mini", "gpt-4o", stdout, err,
			      sizeof(err)) != 0)
			fm_fatal("msg=\"error report failed\" err=\"%s\"", err);
		return 0;
	}
	if (srv.set.error_model) {
		srv.errors = fe_model_new(srv.set.error_seed);
		if (srv.set.gold_file) {
			int n = fe_model_load_gold(srv.errors, srv.set.gold_file, err, sizeof(err));
			if (n < 0)
				fm_fatal("msg=\"cannot load gold labels\" err=\"%s\"", err);
			FM_LOG(FM_L_INFO, "msg=\"error model on\" seed=%llu gold=%d", (unsigned long long)srv.set.error_seed, n);
		}
	}

	signal(SIGPIPE, SIG_IGN);
	fm_raise_nofile();

	srv.base = event_base_new();
	srv.tok = json_tokener_new();
	srv.per_ticket = json_object_new_object();
	if (!srv.base || !srv.tok || !srv.per_ticket)
		fm_fatal("msg=\"startup allocation failed\"");
	if (srv.set.request_log) {
		srv.reqlog = fopen(srv.set.request_log, "a");
		if (!srv.reqlog)
			fm_fatal("msg=\"cannot open request log\" path=\"%s\" err=\"%s\"", srv.set.request_log,
				 strerror(errno));
	}
	srv.http = evhttp_new(srv.base);
	if (!srv.http)
		fm_fatal("msg=\"evhttp_new failed\"");
	evhttp_set_max_body_size(srv.http, srv.set.max_body);
	/* On 413, read (and drop) the rest of the body first, so the client sees the answer, not EPIPE. */
	if (evhttp_set_flags(srv.http, EVHTTP_SERVER_LINGERING_CLOSE) != 0)
		fm_fatal("msg=\"evhttp_set_flags failed\"");
	/* Held (hung) requests last until the client gives up, so no short server timeout. */
	evhttp_set_timeout_tv(srv.http, &idle);
	evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						     EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(srv.http, fm_handle, &srv);

	fd = fm_listen(srv.set.listen, &srv.port, err, sizeof(err));
	if (fd < 0)
		fm_fatal("msg=\"cannot listen\" err=\"%s\"", err);
	if (!evhttp_accept_socket_with_handle(srv.http, fd)) {
		close(fd);
		fm_fatal("msg=\"cannot accept on socket\" listen=%s", srv.set.listen);
	}

	srv.ev_int = evsignal_new(srv.base, SIGINT, fm_signal_cb, &srv);
	srv.ev_term = evsignal_new(srv.base, SIGTERM, fm_signal_cb, &srv);
	if (!srv.ev_int || !srv.ev_term || evsignal_add(srv.ev_int, NULL) != 0 || evsignal_add(srv.ev_term, NULL) != 0)
		fm_fatal("msg=\"cannot install signal events\"");

	if (srv.set.port_file && fm_write_port_file(srv.set.port_file, srv.port, err, sizeof(err)) != 0)
		fm_fatal("msg=\"cannot write port file\" err=\"%s\"", err);
	FM_LOG(FM_L_INFO, "msg=\"fake model listening\" port=%d", srv.port);

	if (event_base_dispatch(srv.base) < 0)
		FM_LOG(FM_L_ERROR, "msg=\"event loop failed\"");

	fm_server_cleanup(&srv);
	libevent_global_shutdown();
	return 0;
}
