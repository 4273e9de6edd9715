/*
 * triaged-produce: feeds ticket events into Kafka for tests, the demo and the
 * benchmark. It owns reading JSON Lines, choosing each message's key and
 * rewriting ticket ids for volume runs. It must never "fix" a message: a line
 * that is not a valid ticket is sent exactly as read (tests rely on that to
 * exercise the dead-letter path).
 *
 *   triaged-produce (-b BOOTSTRAP | --bootstrap-file PATH) -t TOPIC
 *                   [-f FILE|-] [-n COUNT] [--repeat] [--id-prefix P]
 *                   [--partition-key | --key K | --no-key] [--partition N]
 *                   [--raw] [--binary-file FILE] [--flush-timeout MS]
 *                   [--rate R] [-X key=value]...
 *
 * Keys: by default (--partition-key says so explicitly) the key is the line's
 * "ticket_id" when it is a non-empty JSON string; lines that are not JSON
 * objects or lack one go out without a key. --key K sends every message with
 * key K (key-mismatch tests), --no-key sends none, --raw sends lines as read,
 * unparsed and without a key.
 *
 * Ids: with --repeat (cycle through the input until COUNT messages are sent)
 * or --id-prefix, message number i (1-based) whose ticket_id is a non-empty
 * string gets ticket_id "<prefix><i>" (default prefix "rep-") and is
 * re-serialized; other lines are sent unchanged.
 *
 * Pace: --rate R sends message number k (0-based) no earlier than k/R seconds
 * after the first, against that absolute schedule (a late message does not
 * shift the ones after it); the benchmark's half-rate scenario feeds the
 * daemon this way. Without it, messages go as fast as librdkafka takes them.
 *
 * Output: logfmt on stderr, ending with "... produced=N failed=M ...". Exit 0
 * only if every message was delivered; 1 on any failure; 2 on usage errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "log.h"

#define LINE_MAX_BYTES (1024 * 1024)
#define BINARY_MAX_BYTES (8 * 1024 * 1024)
#define MAX_X 64
#define MAX_DR_ERRORS_LOGGED 5

enum key_mode { KEY_TICKET_ID, KEY_FIXED, KEY_NONE };

struct opts {
	const char *bootstrap;
	const char *bootstrap_file;
	const char *topic;
	const char *file;        /* "-" is stdin */
	const char *binary_file; /* NULL unless --binary-file */
	int64_t count;           /* -1: no limit */
	int repeat;
	int raw;
	const char *id_prefix; /* NULL: ids are not rewritten unless --repeat */
	enum key_mode key_mode;
	const char *fixed_key;
	int32_t partition; /* RD_KAFKA_PARTITION_UA unless --partition */
	int flush_timeout_ms;
	int64_t rate; /* messages per second; 0: unpaced */
	const char *xkeys[MAX_X];
	const char *xvals[MAX_X];
	char *xbuf[MAX_X]; /* owned copies split at '=' */
	int nx;
};

/* One input line, kept in memory only in --repeat mode. */
struct line {
	char *data; /* owned, NUL-terminated */
	size_t len;
	long lineno;
};

struct stats {
	int64_t sent; /* accepted by rd_kafka_produce */
	int64_t delivered;
	int64_t failed; /* delivery reports with an error */
	int64_t skipped;
	uint64_t bytes;
	int logged;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

/* xmalloc and xrealloc: core/xmem.c (abort with a message on OOM). */


static void rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	log_library("librdkafka", level, fac, buf);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct stats *st = opaque;
	char qe[256];

	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		st->delivered++;
		return;
	}
	st->failed++;
	if (st->logged++ < MAX_DR_ERRORS_LOGGED)
		log_emit(LOG_L_ERROR, "delivery failed", "partition=%" PRId32 " error=%s reason=%s",
		      m->partition, rd_kafka_err2name(m->err),
		      log_quote(qe, sizeof(qe), rd_kafka_err2str(m->err)));
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: triaged-produce (-b BOOTSTRAP | --bootstrap-file PATH) -t TOPIC\n"
		"         [-f FILE|-] [-n COUNT] [--repeat] [--id-prefix P]\n"
		"         [--partition-key | --key K | --no-key] [--partition N] [--raw]\n"
		"         [--binary-file FILE] [--flush-timeout MS] [--rate R] [-X key=value]...\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int64_t v;

	o->file = "-";
	o->count = -1;
	o->key_mode = KEY_TICKET_ID;
	o->partition = RD_KAFKA_PARTITION_UA;
	o->flush_timeout_ms = 60000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--repeat") == 0) {
			o->repeat = 1;
			takes = 0;
		} else if (strcmp(a, "--raw") == 0) {
			o->raw = 1;
			takes = 0;
		} else if (strcmp(a, "--partition-key") == 0) {
			o->key_mode = KEY_TICKET_ID;
			takes = 0;
		} else if (strcmp(a, "--no-key") == 0) {
			o->key_mode = KEY_NONE;
			takes = 0;
		}
		if (!takes)
			continue;
		if (!val) {
			fprintf(stderr, "triaged-produce: %s: missing value or unknown flag\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "-b") == 0 || strcmp(a, "--bootstrap") == 0) {
			o->bootstrap = val;
		} else if (strcmp(a, "--bootstrap-file") == 0) {
			o->bootstrap_file = val;
		} else if (strcmp(a, "-t") == 0 || strcmp(a, "--topic") == 0) {
			o->topic = val;
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
			o->file = val;
		} else if (strcmp(a, "--binary-file") == 0) {
			o->binary_file = val;
		} else if (strcmp(a, "-n") == 0 || strcmp(a, "--count") == 0) {
			if (parse_i64(val, 0, INT64_MAX, &o->count) < 0) {
				fprintf(stderr, "triaged-produce: -n: want a count >= 0, got '%s'\n", val);
				return -1;
			}
		} else if (strcmp(a, "--id-prefix") == 0) {
			o->id_prefix = val;
		} else if (strcmp(a, "--key") == 0) {
			o->key_mode = KEY_FIXED;
			o->fixed_key = val;
		} else if (strcmp(a, "--partition") == 0) {
			if (parse_i64(val, 0, INT32_MAX, &v) < 0) {
				fprintf(stderr, "triaged-produce: --partition: want >= 0, got '%s'\n", val);
				return -1;
			}
			o->partition = (int32_t)v;
		} else if (strcmp(a, "--flush-timeout") == 0) {
			if (parse_i64(val, 0, INT_MAX, &v) < 0) {
				fprintf(stderr, "triaged-produce: --flush-timeout: want milliseconds\n");
				return -1;
			}
			o->flush_timeout_ms = (int)v;
		} else if (strcmp(a, "--rate") == 0) {
			if (parse_i64(val, 1, 10000000, &o->rate) < 0) {
				fprintf(stderr,
					"triaged-produce: --rate: want messages/s, 1..10000000, "
					"got '%s'\n",
					val);
				return -1;
			}
		} else if (strcmp(a, "-X") == 0) {
			char *eq, *copy;

			if (o->nx >= MAX_X) {
				fprintf(stderr, "triaged-produce: at most %d -X flags\n", MAX_X);
				return -1;
			}
			copy = xmalloc(strlen(val) + 1);
			memcpy(copy, val, strlen(val) + 1);
			eq = strchr(copy, '=');
			if (!eq || eq == copy) {
				fprintf(stderr, "triaged-produce: -X: want key=value, got '%s'\n", val);
				free(copy);
				return -1;
			}
			*eq = '\0';
			o->xbuf[o->nx] = copy;
			o->xkeys[o->nx] = copy;
			o->xvals[o->nx] = eq + 1;
			o->nx++;
		} else {
			fprintf(stderr, "triaged-produce: unknown flag %s\n", a);
			return -1;
		}
	}
	if (!o->topic || (!o->bootstrap && !o->bootstrap_file)) {
		fprintf(stderr, "triaged-produce: -t and one of -b/--bootstrap-file are required\n");
		return -1;
	}
	if (o->bootstrap && o->bootstrap_file) {
		fprintf(stderr, "triaged-produce: -b and --bootstrap-file are exclusive\n");
		return -1;
	}
	if (o->repeat && o->count < 0) {
		fprintf(stderr, "triaged-produce: --repeat needs -n COUNT\n");
		return -1;
	}
	if (o->repeat && !o->id_prefix && !o->raw)
		o->id_prefix = "rep-";
	if (o->raw && o->id_prefix) {
		fprintf(stderr, "triaged-produce: --raw sends lines as read; --id-prefix needs parsing\n");
		return -1;
	}
	return 0;
}

/*
 * Read one line (without its '\n') into buf, which holds LINE_MAX_BYTES + 1.
 * Returns 1 with *len set, 0 at EOF, -1 if the line is longer than
 * LINE_MAX_BYTES (the rest of it is not consumed), -2 on a read error.
 * Bytes are taken as they are, NULs included.
 */
static int read_line(FILE *f, char *buf, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc_unlocked(f)) != EOF) {
		if (c == '\n')
			goto done;
		if (n == LINE_MAX_BYTES)
			return -1;
		buf[n++] = (char)c;
	}
	if (ferror(f))
		return -2;
	if (n == 0)
		return 0;
done:
	buf[n] = '\0';
	*len = n;
	return 1;
}

static int is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/*
 * Parse a line as one JSON value followed only by whitespace. Returns a new
 * reference (caller puts it) or NULL when the line is not JSON.
 */
static json_object *parse_json(json_tokener *tok, const char *s, size_t len)
{
	json_object *obj;
	size_t end;

	if (len > INT_MAX)
		return NULL;
	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		return NULL;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (s[end] != ' ' && s[end] != '\t' && s[end] != '\r') {
			json_object_put(obj);
			return NULL;
		}
	}
	return obj;
}

/* Borrowed ticket_id string of obj when it is a non-empty string, else NULL. */
static const char *ticket_id_of(json_object *obj)
{
	json_object *v;

	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "ticket_id", &v) ||
	    !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
		return NULL;
	return json_object_get_string(v);
}

struct producer {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	const struct opts *o;
	json_tokener *tok;
	struct stats st;
	int64_t t0_ns; /* --rate: when message 0 was due (CLOCK_MONOTONIC) */
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * --rate: wait until message number p->st.sent is due, serving delivery
 * reports meanwhile. The schedule is absolute (t0 + k/R), so a message that
 * goes late does not delay the next ones; with no --rate, return at once.
 */
static void pace(struct producer *p)
{
	int64_t due, now;

	if (p->o->rate <= 0)
		return;
	if (p->t0_ns == 0)
		p->t0_ns = mono_ns();
	due = p->t0_ns + (int64_t)((double)p->st.sent * 1e9 / (double)p->o->rate);
	while (!stop_requested && (now = mono_ns()) < due) {
		int64_t left = due - now;
		if (left >= 1000000) {
			rd_kafka_poll(p->rk, (int)(left / 1000000));
		} else {
			struct timespec ts = {0, (long)left};
			nanosleep(&ts, NULL);
		}
	}
}

/* Hand one message to librdkafka, waiting while its queue is full. 0 ok, -1 failed. */
static int send_msg(struct producer *p, const char *val, size_t len, const char *key, size_t keylen)
{
	char qe[256];

	for (;;) {
		if (rd_kafka_produce(p->rkt, p->o->partition, RD_KAFKA_MSG_F_COPY, (void *)val, len,
				     key, keylen, NULL) == 0)
			break;
		if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			log_emit(LOG_L_ERROR, "produce failed", "error=%s",
			      log_quote(qe, sizeof(qe), rd_kafka_err2str(rd_kafka_last_error())));
			p->st.failed++;
			return -1;
		}
		rd_kafka_poll(p->rk, 50);
		if (stop_requested)
			return -1;
	}
	p->st.sent++;
	p->st.bytes += len;
	rd_kafka_poll(p->rk, 0);
	return 0;
}

/* Produce one input line as message number seq (1-based). 0 ok, -1 failed. */
static int produce_line(struct producer *p, const char *s, size_t len, int64_t seq)
{
	const struct opts *o = p->o;
	json_object *obj = NULL;
	const char *key = NULL, *id, *val = s;
	size_t vlen = len;
	char newid[512];
	int rc = -1;

	if (o->key_mode == KEY_FIXED)
		key = o->fixed_key;
	if (!o->raw && (o->key_mode == KEY_TICKET_ID || o->id_prefix)) {
		obj = parse_json(p->tok, s, len);
		id = ticket_id_of(obj);
		if (id && o->id_prefix) {
			snprintf(newid, sizeof(newid), "%s%" PRId64, o->id_prefix, seq);
			/* object_add steals the new string and drops the old one */
			json_object_object_add(obj, "ticket_id", json_object_new_string(newid));
			id = newid;
			val = json_object_to_json_string_length(
				obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &vlen);
		}
		if (o->key_mode == KEY_TICKET_ID)
			key = id;
	}
	if (send_msg(p, val, vlen, key, key ? strlen(key) : 0) < 0)
		goto out;
	rc = 0;
out:
	json_object_put(obj);
	return rc;
}

/* Read a whole file (at most BINARY_MAX_BYTES) and send it as one message. */
static int produce_binary(struct producer *p, const char *path)
{
	FILE *f = NULL;
	char *data = NULL, qp[PATH_MAX + 8];
	size_t len = 0, n;
	int rc = -1;

	f = fopen(path, "rb");
	if (!f) {
		log_emit(LOG_L_ERROR, "cannot open file", "path=%s error=%s", log_quote(qp, sizeof(qp), path),
		      strerror(errno));
		goto out;
	}
	data = xmalloc(BINARY_MAX_BYTES + 1);
	while ((n = fread(data + len, 1, BINARY_MAX_BYTES + 1 - len, f)) > 0) {
		len += n;
		if (len > BINARY_MAX_BYTES) {
			log_emit(LOG_L_ERROR, "binary file too large", "path=%s max_bytes=%d",
			      log_quote(qp, sizeof(qp), path), BINARY_MAX_BYTES);
			goto out;
		}
	}
	if (ferror(f)) {
		log_emit(LOG_L_ERROR, "read failed", "path=%s", log_quote(qp, sizeof(qp), path));
		goto out;
	}
	rc = send_msg(p, data, len,
		      p->o->key_mode == KEY_FIXED ? p->o->fixed_key : NULL,
		      p->o->key_mode == KEY_FIXED ? strlen(p->o->fixed_key) : 0);
out:
	free(data);
	if (f)
		fclose(f);
	return rc;
}

/* Line reading shared by both modes: returns 1 line, 0 EOF, -1 error (logged). */
static int next_line(FILE *f, char *buf, size_t *len, long *lineno, const struct opts *o)
{
	int r;

	for (;;) {
		r = read_line(f, buf, len);
		if (r == 0)
			return 0;
		++*lineno;
		if (r == -1) {
			log_emit(LOG_L_ERROR, "line too long", "line=%ld max_bytes=%d", *lineno, LINE_MAX_BYTES);
			return -1;
		}
		if (r == -2) {
			log_emit(LOG_L_ERROR, "read failed", "line=%ld error=%s", *lineno, strerror(errno));
			return -1;
		}
		if (!o->raw) {
			if (*len && buf[*len - 1] == '\r')
				buf[--*len] = '\0';
			if (is_blank(buf, *len))
				continue; /* JSON Lines: blank lines are not records */
		}
		return 1;
	}
}

/* Stream the input once, stopping after o->count messages. 0 ok, -1 error. */
static int produce_stream(struct producer *p, FILE *f)
{
	char *buf = xmalloc(LINE_MAX_BYTES + 1);
	size_t len;
	long lineno = 0;
	int rc = -1, r;

	while (!stop_requested && (p->o->count < 0 || p->st.sent < p->o->count)) {
		r = next_line(f, buf, &len, &lineno, p->o);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		pace(p);
		if (produce_line(p, buf, len, p->st.sent + 1) < 0 && !stop_requested)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Load every line, then cycle through them until o->count messages are sent. */
static int produce_repeat(struct producer *p, FILE *f)
{
	char *buf = xmalloc(LINE_MAX_BYTES + 1);
	struct line *lines = NULL;
	size_t nlines = 0, alloc = 0, len, i = 0;
	long lineno = 0;
	int rc = -1, r;

	while ((r = next_line(f, buf, &len, &lineno, p->o)) == 1) {
		if (nlines == alloc) {
			alloc = alloc ? alloc * 2 : 256;
			lines = xrealloc(lines, alloc * sizeof(*lines));
		}
		lines[nlines].data = xmalloc(len + 1);
		memcpy(lines[nlines].data, buf, len + 1);
		lines[nlines].len = len;
		lines[nlines].lineno = lineno;
		nlines++;
	}
	if (r < 0)
		goto out;
	if (nlines == 0) {
		if (p->o->count > 0) {
			log_emit(LOG_L_ERROR, "no input lines to repeat", NULL);
			goto out;
		}
		rc = 0;
		goto out;
	}
	while (!stop_requested && p->st.sent < p->o->count) {
		pace(p);
		if (produce_line(p, lines[i].data, lines[i].len, p->st.sent + 1) < 0 && !stop_requested)
			goto out;
		i = (i + 1) % nlines;
	}
	rc = 0;
out:
	for (size_t k = 0; k < nlines; k++)
		free(lines[k].data);
	free(lines);
	free(buf);
	return rc;
}

/* First line of path, whitespace-trimmed, into out. 0 ok, -1 error (logged). */
static int read_bootstrap_file(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	char qp[PATH_MAX + 8];
	size_t n;

	if (!f || !fgets(out, (int)outlen, f)) {
		log_emit(LOG_L_ERROR, "cannot read bootstrap file", "path=%s error=%s", log_quote(qp, sizeof(qp), path),
		      f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	n = strcspn(out, " \t\r\n");
	out[n] = '\0';
	if (n == 0) {
		log_emit(LOG_L_ERROR, "bootstrap file is empty", "path=%s", log_quote(qp, sizeof(qp), path));
		return -1;
	}
	return 0;
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char errstr[512], qe[600];

	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		log_emit(LOG_L_ERROR, "bad producer setting", "key=%s error=%s", k, log_quote(qe, sizeof(qe), errstr));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	log_prog = "triaged-produce";
	struct opts o = {0};
	struct producer p = {0};
	struct sigaction sa;
	rd_kafka_conf_t *conf = NULL;
	FILE *in = NULL;
	char boot[4096], errstr[512], qe[600], qt[512];
	struct timespec t0, t1;
	double secs;
	int64_t undelivered;
	int rc = 1, input_rc = -1;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (o.bootstrap_file) {
		if (read_bootstrap_file(o.bootstrap_file, boot, sizeof(boot)) < 0)
			goto out;
	} else {
		snprintf(boot, sizeof(boot), "%s", o.bootstrap);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, rk_log_cb);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	rd_kafka_conf_set_opaque(conf, &p.st);
	/* Throughput for 20k+ msgs/s with ordering and no duplicates; -X overrides. */
	if (conf_set(conf, "bootstrap.servers", boot) < 0 || conf_set(conf, "acks", "all") < 0 ||
	    conf_set(conf, "enable.idempotence", "true") < 0 || conf_set(conf, "linger.ms", "5") < 0 ||
	    conf_set(conf, "batch.num.messages", "10000") < 0 ||
	    conf_set(conf, "batch.size", "1000000") < 0 ||
	    conf_set(conf, "queue.buffering.max.messages", "500000") < 0 ||
	    conf_set(conf, "queue.buffering.max.kbytes", "1048576") < 0 ||
	    /* room for 1 MiB lines and --binary-file up to 8 MiB (oversize tests) */
	    conf_set(conf, "message.max.bytes", "9000000") < 0 ||
	    conf_set(conf, "client.id", "triaged-produce") < 0)
		goto out;
	for (int i = 0; i < o.nx; i++)
		if (conf_set(conf, o.xkeys[i], o.xvals[i]) < 0)
			goto out;

	p.o = &o;
	p.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!p.rk) {
		log_emit(LOG_L_ERROR, "rd_kafka_new failed", "error=%s", log_quote(qe, sizeof(qe), errstr));
		goto out;
	}
	conf = NULL; /* owned by rk now */
	p.rkt = rd_kafka_topic_new(p.rk, o.topic, NULL);
	if (!p.rkt) {
		log_emit(LOG_L_ERROR, "rd_kafka_topic_new failed", "topic=%s", log_quote(qt, sizeof(qt), o.topic));
		goto out;
	}
	p.tok = json_tokener_new();
	if (!p.tok)
		fatalx("out of memory", "what=json_tokener");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (o.binary_file) {
		input_rc = produce_binary(&p, o.binary_file);
	} else {
		if (strcmp(o.file, "-") == 0) {
			in = stdin;
		} else if (!(in = fopen(o.file, "r"))) {
			log_emit(LOG_L_ERROR, "cannot open input", "path=%s error=%s", log_quote(qt, sizeof(qt), o.file),
			      strerror(errno));
			goto out;
		}
		input_rc = o.repeat ? produce_repeat(&p, in) : produce_stream(&p, in);
	}

	/* Deliver what was accepted even after an input error: tests expect the prefix sent. */
	rd_kafka_flush(p.rk, o.flush_timeout_ms);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	undelivered = p.st.sent - p.st.delivered - p.st.failed;
	if (undelivered > 0)
		log_emit(LOG_L_ERROR, "messages not delivered before flush timeout",
		      "undelivered=%" PRId64 " flush_timeout_ms=%d", undelivered, o.flush_timeout_ms);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	log_emit(p.st.failed + undelivered > 0 || input_rc < 0 ? LOG_L_ERROR : LOG_L_INFO, "done",
	      "produced=%" PRId64 " failed=%" PRId64 " topic=%s bytes=%" PRIu64
	      " elapsed_ms=%.0f msgs_per_s=%.0f mib_per_s=%.1f%s",
	      p.st.delivered, p.st.failed + undelivered, log_quote(qt, sizeof(qt), o.topic), p.st.bytes,
	      secs * 1000.0, secs > 0 ? (double)p.st.delivered / secs : 0.0,
	      secs > 0 ? (double)p.st.bytes / secs / 1048576.0 : 0.0,
	      stop_requested ? " interrupted=true" : "");
	if (input_rc == 0 && p.st.failed == 0 && undelivered == 0 && !stop_requested)
		rc = 0;
out:
	if (in && in != stdin)
		fclose(in);
	if (p.tok)
		json_tokener_free(p.tok);
	if (p.rkt)
		rd_kafka_topic_destroy(p.rkt);
	if (p.rk)
		rd_kafka_destroy(p.rk);
	if (conf)
		rd_kafka_conf_destroy(conf);
	for (int i = 0; i < o.nx; i++)
		free(o.xbuf[i]);
	return rc;
}
