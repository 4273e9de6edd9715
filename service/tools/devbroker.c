/*
 * triaged-devbroker: a throwaway Kafka cluster for development, tests and the
 * demo, built on librdkafka's in-process mock cluster (rdkafka_mock.h). It
 * owns the mock cluster, its topics, the bootstrap file and an optional
 * control FIFO through which tests inject faults. It must never be used as a
 * real broker: nothing is persisted, and the mock implements only a subset
 * of the protocol.
 *
 *   triaged-devbroker [--brokers N] [--topic NAME:PARTITIONS]...
 *                     [--replication-factor N] [--bootstrap-file PATH]
 *                     [--control PATH]
 *
 * Broker ids are 1..N. Topics get replication factor min(3, N) unless
 * --replication-factor says otherwise. --bootstrap-file receives the
 * bootstrap list plus a newline, atomically (temp file + rename), once the
 * topics exist; it is removed first thing at shutdown, as is the FIFO if this
 * process made it (each only if it is still the same file).
 *
 * stdout gets one line, "bootstrap=HOST:PORT,...", once the topics exist.
 * stderr gets logfmt lines, plus one reply per control command that starts
 * with "ok" or "error" (e.g. `ok cmd="broker_down 1"`). A command has taken
 * effect in the mock when its reply is printed. SIGINT/SIGTERM stop the
 * process within about 200 ms, with exit status 0.
 *
 * Control commands, one per line, written to the FIFO (e.g. `echo ... > PATH`):
 *   broker_down ID                  close the broker's connections, refuse new ones
 *                                   (ID -1: all brokers); no leader change
 *   broker_up ID                    accept connections again
 *   leader TOPIC PARTITION BROKERID move a partition leader (-1: leaderless)
 *   request_errors APIKEY ERR COUNT the next COUNT requests of APIKEY, on any
 *                                   broker, fail with ERR
 *   clear_request_errors APIKEY     drop pending injected errors for APIKEY
 *   rtt ID MS                       add MS milliseconds to every response of broker ID
 *   topic NAME PARTITIONS           create a topic
 * APIKEY is a number or a name (Produce, Fetch, ListOffsets, Metadata,
 * OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat,
 * LeaveGroup, SyncGroup, ApiVersions, InitProducerId). ERR is a number or a
 * librdkafka error name with or without the RD_KAFKA_RESP_ERR_ prefix
 * (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, _TRANSPORT = disconnect).
 *
 * Traps of librdkafka 2.0.2's mock cluster:
 * - It keeps only about 5 MiB per partition: when a partition's log grows
 *   beyond that, the oldest messages are silently dropped (the log start
 *   offset moves up). Large runs need enough partitions (bytes / 4 MiB),
 *   created up front with --topic.
 * - Topics are still auto-created on first use, with 4 partitions, as the
 *   mock does by default: by a producer, by `kcat -L -t NAME`, and even by a
 *   consumer group subscribing to the name. Create topics that need another
 *   partition count with --topic, before any client touches them.
 * - A consumer group's first join takes about 3 s: wait for the assignment,
 *   do not sleep a fixed time.
 * - The Admin API's CreateTopics is not supported; use --topic or the
 *   "topic" control command.
 * - rd_kafka_mock_cluster_destroy() sometimes takes a full second; shutdown
 *   waits for it at most 150 ms (see teardown_bounded()).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "log.h"

#define MAX_TOPICS 64
#define CTL_LINE_MAX 1024
#define TICK_MS 50
#define TEARDOWN_MS 150

struct topic_spec {
	char *name; /* points into argv */
	int partitions;
};

struct opts {
	int brokers;
	int replication; /* 0: min(3, brokers) */
	struct topic_spec topics[MAX_TOPICS];
	int ntopics;
	const char *bootstrap_file;
	const char *control_path;
};

struct control {
	int rfd, wfd; /* wfd keeps a writer open so the FIFO never reports EOF */
	char line[CTL_LINE_MAX];
	size_t len;
	int overflow; /* discarding the rest of an overlong line */
	int created;  /* we made the FIFO, so we remove it */
	struct stat st; /* identity of the FIFO we opened */
};

/* The cluster teardown, run on a helper thread so that shutdown has a deadline. */
struct teardown {
	rd_kafka_mock_cluster_t *mc;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}


static void rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	/* The book-keeping handle has no brokers on purpose. */
	if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
		return;
	log_library("librdkafka", level, fac, buf);
}

/* Strict decimal integer parse into [min,max]; 0 ok, -1 otherwise. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: triaged-devbroker [--brokers N] [--topic NAME:PARTITIONS]...\n"
		   "                         [--replication-factor N] [--bootstrap-file PATH]\n"
		   "                         [--control FIFO]\n");
}

static int parse_topic_arg(char *arg, struct topic_spec *t)
{
	char *colon = strrchr(arg, ':');
	long parts;

	if (!colon || colon == arg)
		return -1;
	if (parse_long(colon + 1, 1, 100000, &parts) < 0)
		return -1;
	*colon = '\0';
	t->name = arg;
	t->partitions = (int)parts;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	long v;

	o->brokers = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (!val) {
			fprintf(stderr, "triaged-devbroker: %s: missing value or unknown flag\n", a);
			return -1;
		}
		if (strcmp(a, "--brokers") == 0) {
			if (parse_long(val, 1, 64, &v) < 0) {
				fprintf(stderr, "triaged-devbroker: --brokers: want 1..64, got '%s'\n", val);
				return -1;
			}
			o->brokers = (int)v;
		} else if (strcmp(a, "--replication-factor") == 0) {
			if (parse_long(val, 1, 64, &v) < 0) {
				fprintf(stderr, "triaged-devbroker: --replication-factor: want 1..64\n");
				return -1;
			}
			o->replication = (int)v;
		} else if (strcmp(a, "--topic") == 0) {
			if (o->ntopics >= MAX_TOPICS) {
				fprintf(stderr, "triaged-devbroker: at most %d --topic flags\n", MAX_TOPICS);
				return -1;
			}
			if (parse_topic_arg(val, &o->topics[o->ntopics]) < 0) {
				fprintf(stderr, "triaged-devbroker: --topic: want NAME:PARTITIONS, got '%s'\n",
					val);
				return -1;
			}
			o->ntopics++;
		} else if (strcmp(a, "--bootstrap-file") == 0) {
			o->bootstrap_file = val;
		} else if (strcmp(a, "--control") == 0 || strcmp(a, "--control-fifo") == 0) {
			o->control_path = val;
		} else {
			fprintf(stderr, "triaged-devbroker: unknown flag %s\n", a);
			return -1;
		}
		i++;
	}
	if (o->replication > o->brokers) {
		fprintf(stderr, "triaged-devbroker: --replication-factor %d exceeds --brokers %d\n",
			o->replication, o->brokers);
		return -1;
	}
	if (o->replication == 0)
		o->replication = o->brokers < 3 ? o->brokers : 3;
	return 0;
}

/* Write "content\n" to path via a temporary file and rename(): readers never see a partial line. */
static int write_atomic(const char *path, const char *content)
{
	char tmp[PATH_MAX];
	FILE *f = NULL;
	int rc = -1, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	f = fopen(tmp, "w");
	if (!f)
		goto out;
	if (fprintf(f, "%s\n", content) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (f)
		fclose(f);
	if (rc != 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
	}
	return rc;
}

/* Remove path only if it is still the file we made: a newer instance may have replaced it. */
static void unlink_if_same(const char *path, const struct stat *ours)
{
	struct stat now;

	if (stat(path, &now) == 0 && now.st_dev == ours->st_dev && now.st_ino == ours->st_ino)
		unlink(path);
}

static void *teardown_main(void *arg)
{
	struct teardown *t = arg;

	rd_kafka_mock_cluster_destroy(t->mc);
	pthread_mutex_lock(&t->lock);
	t->done = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/*
 * Destroy the mock cluster, waiting at most ms. Returns 0 when it is gone,
 * -1 when it is still tearing down (the caller then exits without it).
 * Why: librdkafka 2.0.2's rd_kafka_mock_cluster_destroy() sometimes takes a
 * full second (seen right after a client that hit an injected Produce error
 * or was killed mid-batch disconnects), and tests expect a stop within ~200 ms.
 */
static int teardown_bounded(struct teardown *t, int ms)
{
	pthread_t th;
	struct timespec dl;
	int done;

	if (pthread_create(&th, NULL, teardown_main, t) != 0) {
		rd_kafka_mock_cluster_destroy(t->mc);
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += (long)ms * 1000000L;
	dl.tv_sec += dl.tv_nsec / 1000000000L;
	dl.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&t->lock);
	while (!t->done && pthread_cond_timedwait(&t->cond, &t->lock, &dl) == 0)
		;
	done = t->done;
	pthread_mutex_unlock(&t->lock);
	if (!done)
		return -1;
	pthread_join(th, NULL);
	return 0;
}

/* ---- control FIFO ---- */

static int control_open(struct control *c, const char *path)
{
	struct stat st;

	c->rfd = c->wfd = -1;
	if (mkfifo(path, 0600) == 0) {
		c->created = 1;
	} else if (errno != EEXIST) {
		log_emit(LOG_L_ERROR, "cannot create control fifo", "path=%s errno=%d error=\"%s\"", path, errno,
		      strerror(errno));
		return -1;
	} else if (stat(path, &st) != 0 || !S_ISFIFO(st.st_mode)) {
		log_emit(LOG_L_ERROR, "control path exists and is not a fifo", "path=%s", path);
		return -1;
	}
	c->rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (c->rfd < 0)
		goto fail;
	/* Our own writer: without it, poll() reports POLLHUP forever once a client closes. */
	c->wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (c->wfd < 0)
		goto fail;
	if (fstat(c->rfd, &c->st) != 0)
		goto fail;
	return 0;
fail:
	log_emit(LOG_L_ERROR, "cannot open control fifo", "path=%s error=\"%s\"", path, strerror(errno));
	if (c->rfd >= 0)
		close(c->rfd);
	if (c->wfd >= 0)
		close(c->wfd);
	if (c->created)
		unlink(path);
	c->rfd = c->wfd = -1;
	c->created = 0;
	return -1;
}

static void control_close(struct control *c, const char *path)
{
	if (c->rfd < 0)
		return;
	close(c->rfd);
	if (c->wfd >= 0)
		close(c->wfd);
	if (c->created && path)
		unlink_if_same(path, &c->st);
	c->rfd = c->wfd = -1;
	c->created = 0;
}

static const struct {
	const char *name;
	int16_t key;
} api_keys[] = {
	{"Produce", 0},		  {"Fetch", 1},		{"ListOffsets", 2},	  {"Metadata", 3},
	{"OffsetCommit", 8},	  {"OffsetFetch", 9},	{"FindCoordinator", 10}, {"JoinGroup", 11},
	{"Heartbeat", 12},	  {"LeaveGroup", 13},	{"SyncGroup", 14},	  {"ApiVersions", 18},
	{"InitProducerId", 22}, {"AddPartitionsToTxn", 24}, {"EndTxn", 26},
};

static int parse_api_key(const char *s, int16_t *out)
{
	long v;

	for (size_t i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++) {
		if (strcasecmp(s, api_keys[i].name) == 0) {
			*out = api_keys[i].key;
			return 0;
		}
	}
	if (parse_long(s, 0, INT16_MAX, &v) < 0)
		return -1;
	*out = (int16_t)v;
	return 0;
}

static int parse_err_code(const char *s, rd_kafka_resp_err_t *out)
{
	const struct rd_kafka_err_desc *descs;
	size_t cnt;
	long v;

	if (parse_long(s, INT32_MIN, INT32_MAX, &v) == 0) {
		*out = (rd_kafka_resp_err_t)v;
		return 0;
	}
	if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
		s += 18;
	rd_kafka_get_err_descs(&descs, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
			*out = descs[i].code;
			return 0;
		}
	}
	return -1;
}

static int broker_id_arg(const char *s, int brokers, int32_t *out)
{
	long v;

	if (parse_long(s, -1, brokers, &v) < 0 || v == 0)
		return -1;
	*out = (int32_t)v;
	return 0;
}

/*
 * Run one command line (modified in place). Returns 0 and leaves err empty on
 * success; on failure fills err. Broker ids are range-checked here so that the
 * reply names the valid range.
 */
static int control_exec(rd_kafka_mock_cluster_t *mc, const struct opts *o, char *line, char *err,
			size_t errlen)
{
	char *argv[8], *p = line;
	int argc = 0;
	rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
	int brokers = o->brokers;
	int32_t id;
	long v, cnt;

	err[0] = '\0';
	while (*p && argc < 8) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	if (*p) {
		snprintf(err, errlen, "too many arguments");
		return -1;
	}
	if (argc == 0) {
		snprintf(err, errlen, "empty command");
		return -1;
	}
	if (strcmp(argv[0], "broker_down") == 0 || strcmp(argv[0], "broker_up") == 0) {
		if (argc != 2 || broker_id_arg(argv[1], brokers, &id) < 0) {
			snprintf(err, errlen, "usage: %s ID (1..%d or -1)", argv[0], brokers);
			return -1;
		}
		kerr = strcmp(argv[0], "broker_down") == 0 ? rd_kafka_mock_broker_set_down(mc, id)
							   : rd_kafka_mock_broker_set_up(mc, id);
	} else if (strcmp(argv[0], "leader") == 0) {
		if (argc != 4 || parse_long(argv[2], 0, INT32_MAX, &v) < 0 ||
		    broker_id_arg(argv[3], brokers, &id) < 0) {
			snprintf(err, errlen, "usage: leader TOPIC PARTITION BROKERID (1..%d or -1)",
				 brokers);
			return -1;
		}
		kerr = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)v, id);
	} else if (strcmp(argv[0], "request_errors") == 0) {
		int16_t apikey;
		rd_kafka_resp_err_t code;
		rd_kafka_resp_err_t *codes;

		if (argc != 4 || parse_api_key(argv[1], &apikey) < 0 ||
		    parse_err_code(argv[2], &code) < 0 || parse_long(argv[3], 1, 100000, &cnt) < 0) {
			snprintf(err, errlen, "usage: request_errors APIKEY ERRCODE COUNT");
			return -1;
		}
		codes = calloc((size_t)cnt, sizeof(*codes));
		if (!codes) {
			fputs("level=fatal prog=devbroker msg=\"out of memory\"\n", stderr);
			abort();
		}
		for (long i = 0; i < cnt; i++)
			codes[i] = code;
		rd_kafka_mock_push_request_errors_array(mc, apikey, (size_t)cnt, codes);
		free(codes);
	} else if (strcmp(argv[0], "clear_request_errors") == 0) {
		int16_t apikey;

		if (argc != 2 || parse_api_key(argv[1], &apikey) < 0) {
			snprintf(err, errlen, "usage: clear_request_errors APIKEY");
			return -1;
		}
		rd_kafka_mock_clear_request_errors(mc, apikey);
	} else if (strcmp(argv[0], "rtt") == 0) {
		if (argc != 3 || broker_id_arg(argv[1], brokers, &id) < 0 ||
		    parse_long(argv[2], 0, 600000, &v) < 0) {
			snprintf(err, errlen, "usage: rtt ID MS");
			return -1;
		}
		kerr = rd_kafka_mock_broker_set_rtt(mc, id, (int)v);
	} else if (strcmp(argv[0], "topic") == 0) {
		if (argc != 3 || parse_long(argv[2], 1, 100000, &v) < 0) {
			snprintf(err, errlen, "usage: topic NAME PARTITIONS");
			return -1;
		}
		kerr = rd_kafka_mock_topic_create(mc, argv[1], (int)v, o->replication);
	} else {
		snprintf(err, errlen, "unknown command %s", argv[0]);
		return -1;
	}
	if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "%s", rd_kafka_err2str(kerr));
		return -1;
	}
	return 0;
}

static void control_reply(rd_kafka_mock_cluster_t *mc, const struct opts *o, const char *line)
{
	char copy[CTL_LINE_MAX], err[256], qc[CTL_LINE_MAX + 8], qe[300];

	snprintf(copy, sizeof(copy), "%s", line);
	if (control_exec(mc, o, copy, err, sizeof(err)) == 0)
		fprintf(stderr, "ok cmd=%s\n", log_quote(qc, sizeof(qc), line));
	else
		fprintf(stderr, "error cmd=%s reason=%s\n", log_quote(qc, sizeof(qc), line),
			log_quote(qe, sizeof(qe), err));
}

/* Read what is available and run every complete line. */
static void control_read(struct control *c, rd_kafka_mock_cluster_t *mc, const struct opts *o)
{
	char chunk[512];
	ssize_t n;

	for (;;) {
		n = read(c->rfd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* EAGAIN: drained; 0 cannot happen while we hold wfd */
		for (ssize_t i = 0; i < n; i++) {
			char ch = chunk[i];

			if (ch == '\n') {
				if (c->overflow) {
					fprintf(stderr, "error cmd=\"\" reason=\"line longer than %d bytes\"\n",
						CTL_LINE_MAX - 1);
				} else {
					while (c->len && (c->line[c->len - 1] == '\r' ||
							  c->line[c->len - 1] == ' '))
						c->len--;
					c->line[c->len] = '\0';
					if (c->len && c->line[0] != '#')
						control_reply(mc, o, c->line);
				}
				c->len = 0;
				c->overflow = 0;
			} else if (c->len + 1 < sizeof(c->line)) {
				c->line[c->len++] = ch;
			} else {
				c->overflow = 1;
			}
		}
	}
}

int main(int argc, char **argv)
{
	log_prog = "triaged-devbroker";
	struct opts o = {0};
	struct control ctl = {.rfd = -1, .wfd = -1};
	struct teardown td = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct stat boot_st;
	struct sigaction sa;
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_mock_cluster_t *mc = NULL;
	const char *boot;
	char errstr[512], qb[1024];
	int rc = 1, wrote_boot = 0;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.bootstrap_file)
		unlink(o.bootstrap_file); /* a stale file from an earlier run must not be read */

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, rk_log_cb);
	/* The handle only does the mock's book keeping; it never connects anywhere. */
	if (rd_kafka_conf_set(conf, "client.id", "triaged-devbroker", errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		log_emit(LOG_L_ERROR, "conf", "error=%s", log_quote(qb, sizeof(qb), errstr));
		goto out;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		log_emit(LOG_L_ERROR, "rd_kafka_new failed", "error=%s", log_quote(qb, sizeof(qb), errstr));
		goto out;
	}
	conf = NULL; /* owned by rk now */

	mc = rd_kafka_mock_cluster_new(rk, o.brokers);
	if (!mc) {
		log_emit(LOG_L_ERROR, "rd_kafka_mock_cluster_new failed", "brokers=%d", o.brokers);
		goto out;
	}
	for (int i = 0; i < o.ntopics; i++) {
		rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, o.topics[i].name,
								   o.topics[i].partitions, o.replication);
		if (e) {
			log_emit(LOG_L_ERROR, "topic create failed", "topic=%s partitions=%d error=%s",
			      log_quote(qb, sizeof(qb), o.topics[i].name), o.topics[i].partitions,
			      rd_kafka_err2name(e));
			goto out;
		}
		log_emit(LOG_L_INFO, "topic created", "topic=%s partitions=%d replication_factor=%d",
		      log_quote(qb, sizeof(qb), o.topics[i].name), o.topics[i].partitions, o.replication);
	}
	if (o.control_path && control_open(&ctl, o.control_path) < 0)
		goto out;

	boot = rd_kafka_mock_cluster_bootstraps(mc);
	if (o.bootstrap_file && write_atomic(o.bootstrap_file, boot) < 0) {
		log_emit(LOG_L_ERROR, "cannot write bootstrap file", "path=%s error=%s",
		      log_quote(qb, sizeof(qb), o.bootstrap_file), log_quote(errstr, sizeof(errstr), strerror(errno)));
		goto out;
	}
	wrote_boot = o.bootstrap_file && stat(o.bootstrap_file, &boot_st) == 0;
	printf("bootstrap=%s\n", boot);
	fflush(stdout);
	log_emit(LOG_L_INFO, "mock cluster ready", "bootstrap=%s brokers=%d topics=%d control=%s", boot,
	      o.brokers, o.ntopics, o.control_path ? o.control_path : "none");

	while (!stop_requested) {
		struct pollfd pfd = {.fd = ctl.rfd, .events = POLLIN};
		int n = poll(&pfd, ctl.rfd >= 0 ? 1 : 0, TICK_MS);

		if (n < 0 && errno != EINTR) {
			log_emit(LOG_L_ERROR, "poll failed", "error=%s", log_quote(qb, sizeof(qb), strerror(errno)));
			goto out;
		}
		if (n > 0 && (pfd.revents & POLLIN))
			control_read(&ctl, mc, &o);
	}
	log_emit(LOG_L_INFO, "stopping", "signal=%d", (int)stop_requested);
	rc = 0;
out:
	/* The address goes first, so nobody reads it while the cluster goes away. */
	if (wrote_boot)
		unlink_if_same(o.bootstrap_file, &boot_st);
	control_close(&ctl, o.control_path);
	if (mc) {
		td.mc = mc;
		if (teardown_bounded(&td, TEARDOWN_MS) < 0) {
			log_emit(LOG_L_WARN, "mock cluster teardown slow, exiting without waiting",
			      "deadline_ms=%d", TEARDOWN_MS);
			fflush(stderr);
			_exit(rc); /* the teardown thread still owns mc and rk */
		}
	}
	if (rk)
		rd_kafka_destroy(rk);
	if (conf)
		rd_kafka_conf_destroy(conf);
	return rc;
}
