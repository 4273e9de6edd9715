/*
 * llm: see llm.h. Owns the curl multi handles, their socket and timer events,
 * and the requests. Must never call curl_easy_perform or curl_multi_poll:
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to time out (CURLMOPT_TIMERFUNCTION); libevent calls back into
 * curl_multi_socket_action. Errors end the request, never the process.
 */
#include "llm.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <curl/curl.h>

#include "backoff.h"
#include "log.h"
#include "pacer.h"
#include "loopslice.h"

/*
 * One curl multi handle, its connection pool and its timer. A client with many
 * slots spreads its transfers over several (LLM_SHARD_SLOTS slots each, at most
 * LLM_SHARDS): libcurl 7.88's curl_multi_remove_handle walks the whole pool of
 * its multi handle after every transfer that kept its connection, and with
 * 2,048 connections in one pool that walk was 6% of the daemon's CPU (#15).
 */
struct llm_shard {
	struct llm_client *c;
	CURLM *multi;
	struct event *ev_timer;
	size_t active; /* transfers added to this multi handle */
};

#define LLM_SHARDS 8
#define LLM_SHARD_SLOTS 256

/*
 * HTTP/2 streams per connection: libcurl's own default, set explicitly. Once an
 * answer comes back over HTTP/2 (a hosted provider over TLS, by ALPN), each shard
 * is held to the connections its slots need at LLM_H2_STREAMS_LEAST streams each,
 * half of what libcurl puts on one. Under load libcurl opens every connection the
 * bound allows (48 at 2,048 in flight, counted), about 1.6 MB over TLS: the
 * headroom keeps a server that takes 50 streams (or a connection draining after
 * a GOAWAY) from leaving calls waiting inside libcurl, where their timeout runs
 * unseen. libcurl 7.88 does not
 * bound the connections alone: with CURLOPT_PIPEWAIT, transfers started while
 * every connection is at its stream limit each open a connection of their own
 * (measured: 300 transfers, 201 connections). At 2,048 in flight over TLS that was
 * ~2,000 handshakes and 268-287 MB of RSS (deploy/BENCHMARK.md, "--model-tls").
 */
#define LLM_H2_STREAMS 100L
#define LLM_H2_STREAMS_LEAST 50L
/* HTTP/2 answers in a row that take an endpoint seen on HTTP/1.x to the HTTP/2
 * bound. One HTTP/1.x answer lifts it at once: a fleet behind one name that
 * answers both ways must not have its HTTP/1.1 calls wait for the few connections
 * the HTTP/2 bound allows (each carries one of them) */
#define LLM_H2_AFTER_H1 8
/* protocol changes logged at info; later ones (a mixed fleet) at debug */
#define LLM_PROTOCOL_LOGS 10

struct llm_client {
	struct event_base *base;
	char *name;
	char *url;
	struct llm_shard shards[LLM_SHARDS];
	int nshards;
	long shard_slots; /* each shard's share of max_concurrency */
	int http_version; /* the endpoint's: 0 not known yet, 1 (HTTP/1.x), 2 (HTTP/2) */
	int h2_in_a_row;  /* HTTP/2 answers since the last HTTP/1.x one, while http_version is 1 */
	int protocol_changes;
	int probe_first; /* https: at most LLM_H2_STREAMS transfers until an answer tells the protocol */
	uint64_t connects; /* connections opened, over all transfers */
	int next_done; /* the shard check_done starts with, in turn */
	struct curl_slist *headers;
	long timeout_ms, connect_timeout_ms;
	char *ca_file; /* NULL: the system's CA bundle */
	size_t max_response;
	size_t max_concurrency;
	size_t in_flight;
	/* requests waiting for a slot, FIFO */
	struct llm_req *wait_head, *wait_tail;
	size_t waiting;
	struct llm_req *running; /* transfers added to the multi handle */
	/* easy handles between transfers, with the fixed options set: a new
	 * handle per call cost a malloc'd download buffer and ~20 setopts */
	CURL **spare;
	size_t nspare;
	/* pacing from x-ratelimit-* headers: nothing new starts before hold_until */
	double hold_until;
	struct event *ev_hold;
	uint64_t paced;
	/* pacing (mc->pacing, #11.5): requests spread over the provider's window (core/pacer) */
	struct pacer pacer;
	/* tokens a request is counted for against x-ratelimit-*-tokens: its prompt (about
	 * four bytes a token) and the completion it may use (max_tokens) */
	int64_t max_completion;
	/* answers handed to their owner in this loop pass; past LLM_DONE_PER_PASS the rest
	 * wait in curl's queue for ev_more, a zero timer that fires in the next pass (#16) */
	int done_budget;
	/* and past slice_us of their work (intake.loop_slice_ms; 0: no time bound) */
	int64_t slice_us;
	struct event *ev_more;
	/* transfers curl refused to start (curl_multi_add_handle failed): answered in the
	 * next pass by ev_more, never from inside llm_submit, whose caller would otherwise
	 * see its callback run (and free what it was about to keep) before the call returns */
	struct llm_req *refused;
};

struct llm_req {
	struct llm_client *c;
	struct llm_shard *shard; /* while its transfer runs */
	CURL *easy;
	char *body;
	struct buf resp;
	int too_large;
	struct resp_meta meta; /* the wait asked for, the provider's id */
	struct ratelimit rl;
	llm_done_fn *cb;
	void *arg;
	int cancelled;
	double queued_at, started_at;
	char errbuf[CURL_ERROR_SIZE];
	struct llm_req *next;                 /* wait queue */
	struct llm_req *run_prev, *run_next;  /* running list */
};

/* Per-socket context that curl hands back to us. */
struct llm_sock {
	struct event *ev;
	struct llm_shard *sh;
};

static double now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static size_t header_cb(char *buffer, size_t size, size_t nitems, void *userdata);

/* Read buffer per transfer (2,048 of them at the benchmark's 2,048 in flight),
 * curl's smallest: an answer of a few KiB takes a few reads; curl's default is
 * 16 KiB. At 2 KiB the buffers were 4.3 MB of the 800 ms peak heap (heaptrack);
 * this halves them (measured with the prefetch change, deploy/BENCHMARK.md). */
#define LLM_BUFFER_SIZE 1024L
#define LLM_UPLOAD_BUFFER_SIZE 16384L /* libcurl's smallest (UPLOADBUFFER_MIN) */

/* Longest hold on an exhausted x-ratelimit window before trying again. */
#define LLM_HOLD_MAX_MS 60000u
#define LLM_DONE_PER_PASS 16 /* answers handed over per loop pass: see check_done */

static void easy_put(struct llm_client *c, CURL *e)
{
	if (c->nspare < c->max_concurrency)
		c->spare[c->nspare++] = e;
	else
		curl_easy_cleanup(e);
}

static CURL *easy_get(struct llm_client *c)
{
	CURL *e;
	if (c->nspare > 0)
		return c->spare[--c->nspare];
	e = curl_easy_init();
	if (e == NULL) {
		log_error("curl_easy_init failed", "client=%s", c->name);
		abort();
	}
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, LLM_BUFFER_SIZE);
	/* Over HTTP/2 libcurl 7.88 copies the body through an upload buffer per transfer,
	 * 64 KiB by default and kept till the transfer ends: 126 MB of the heap at 2,048
	 * in flight (heaptrack). Its smallest, 16 KiB, still holds a request in one go.
	 * HTTP/1.1 sends the body with the headers and allocates none. */
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, LLM_UPLOAD_BUFFER_SIZE);
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	return e;
}

static void req_free(struct llm_req *r)
{
	if (r == NULL)
		return;
	if (r->easy)
		easy_put(r->c, r->easy);
	free(r->body);
	buf_cleanup(&r->resp);
	free(r);
}

static void check_done(struct llm_client *c);
static void start_waiting(struct llm_client *c);

static void run_link(struct llm_client *c, struct llm_req *r)
{
	r->run_prev = NULL;
	r->run_next = c->running;
	if (c->running)
		c->running->run_prev = r;
	c->running = r;
	c->in_flight++;
}

static void run_unlink(struct llm_client *c, struct llm_req *r)
{
	if (r->run_prev)
		r->run_prev->run_next = r->run_next;
	else
		c->running = r->run_next;
	if (r->run_next)
		r->run_next->run_prev = r->run_prev;
	r->run_prev = r->run_next = NULL;
	c->in_flight--;
}

/*
 * The endpoint's protocol, from its answers. HTTP/2: each shard keeps the
 * connections its slots need at LLM_H2_STREAMS_LEAST streams each, and transfers
 * beyond wait in libcurl for a stream; HTTP/1.x: one connection per transfer.
 */
static void set_http_version(struct llm_client *c, int v)
{
	long conns = v == 2 ? (c->shard_slots + LLM_H2_STREAMS_LEAST - 1) / LLM_H2_STREAMS_LEAST : 0;
	enum log_level level;

	if (v == 1)
		c->h2_in_a_row = 0;
	else if (c->http_version == 1 && ++c->h2_in_a_row < LLM_H2_AFTER_H1)
		return;
	if (v == c->http_version)
		return;
	c->http_version = v;
	for (int k = 0; k < c->nshards; k++) {
		curl_multi_setopt(c->shards[k].multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
		/* idle connections beyond those close */
		curl_multi_setopt(c->shards[k].multi, CURLMOPT_MAXCONNECTS, conns > 0 ? conns : c->shard_slots);
	}
	level = ++c->protocol_changes <= LLM_PROTOCOL_LOGS ? LOG_L_INFO : LOG_L_DEBUG;
	log_at(level, "model endpoint protocol", "client=%s http=%d max_connections=%ld", c->name,
	       v, conns > 0 ? conns * c->nshards : c->shard_slots * c->nshards);
}

static void finish(struct llm_client *c, struct llm_req *r, CURLcode code)
{
	struct llm_result res;
	long status = 0;

	memset(&res, 0, sizeof(res));
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	{
		long nc = 0, ver = 0;
		if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK && nc > 0)
			c->connects += (uint64_t)nc;
		if (status > 0 && curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &ver) == CURLE_OK && ver != 0)
			set_http_version(c, ver == CURL_HTTP_VERSION_2_0 ? 2 : 1);
	}
	res.http_status = status;
	res.transport_error = (int)code;
	res.error = "";
	if (r->too_large) {
		res.too_large = 1;
		res.transport_error = CURLE_WRITE_ERROR;
		res.error = "response body exceeds max_response_bytes";
	} else if (code != CURLE_OK) {
		res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
	}
	res.body = r->resp.data ? r->resp.data : "";
	res.body_len = r->resp.len;
	res.has_retry_after = r->meta.retry_rank;
	res.request_id = r->meta.request_id;
	res.retry_after_ms = r->meta.retry_after_ms;
	res.ratelimit = r->rl;
	{
		/* the provider says the window is spent: start nothing new until it resets */
		uint32_t w = dialect_ratelimit_wait_ms(&r->rl);
		/* and a 429 that says when to come back holds the whole tier till then (Azure
		 * and Anthropic's endpoint send Retry-After alone): every request sent meanwhile
		 * would be refused too, each spending one of its ticket's attempts */
		if (status == 429 && r->meta.retry_rank && r->meta.retry_after_ms > w)
			w = r->meta.retry_after_ms;
		double until;
		/* a reset far away (a daily quota) would stall the tier: look again within a minute */
		if (w > LLM_HOLD_MAX_MS)
			w = LLM_HOLD_MAX_MS;
		until = now_ms() + (double)w;
		if (w > 0 && until > c->hold_until)
			c->hold_until = until;
	}
	/* what is left of the window, less the requests already out, over its reset, and,
	 * where tokens are limited, what the tokens left pay for (#11.5); only what the
	 * answer says moves it (core/pacer.h) */
	pacer_answer(&c->pacer, &r->rl, code == CURLE_OK ? status : 0, (uint32_t)c->in_flight,
		     (r->body ? (double)strlen(r->body) / 4.0 : 0) + (double)c->max_completion);
	res.latency_ms = now_ms() - r->started_at;
	res.queued_ms = r->started_at - r->queued_at;
	if (!r->cancelled && r->cb) {
		res.request = r->body; /* back to its owner */
		r->body = NULL;
		r->cb(r->arg, &res);
	}
	req_free(r);
}

/*
 * Hand finished transfers to their owners, at most LLM_DONE_PER_PASS per loop
 * pass: each answer runs its owner's parsing, checks and rules on the loop, and
 * up to max_concurrency of them can finish between two timer ticks. The rest
 * stay in curl's message queue (and in `running`) for the next pass, so timers,
 * intake and the admin port get their turn in between.
 */
static int pass_spent(const struct llm_client *c)
{
	return c->done_budget <= 0 || loopslice_spent(c->base, c->slice_us);
}

static void check_done(struct llm_client *c)
{
	int n = 0;
	/* the shards in turn, starting with a different one each call, so none waits for
	 * the others' answers when the pass's budget runs out */
	for (int k = 0; k < c->nshards; k++) {
		struct llm_shard *sh = &c->shards[(c->next_done + k) % c->nshards];
		CURLMsg *m = NULL;
		int left;
		/* at least one per call: the pass's budget is shared, and may be spent by others */
		while ((n == 0 ? c->done_budget > 0 : !pass_spent(c)) &&
		       (m = curl_multi_info_read(sh->multi, &left))) {
			struct llm_req *r = NULL;
			CURLcode result;
			CURL *easy;
			if (m->msg != CURLMSG_DONE)
				continue;
			/* the message is not valid once its handle is removed: read it first */
			result = m->data.result;
			easy = m->easy_handle;
			curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
			curl_multi_remove_handle(sh->multi, easy);
			sh->active--;
			r->shard = NULL;
			run_unlink(c, r);
			c->done_budget--;
			n++;
			finish(c, r, result);
		}
	}
	c->next_done = (c->next_done + 1) % c->nshards;
	if (pass_spent(c))
		loopslice_next_pass(c->ev_more);
	start_waiting(c);
}

static void on_more(evutil_socket_t fd, short what, void *arg)
{
	struct llm_client *c = arg;
	struct llm_req *r;
	c->done_budget = LLM_DONE_PER_PASS;
	while ((r = c->refused) != NULL) {
		c->refused = r->next;
		r->next = NULL;
		finish(c, r, CURLE_FAILED_INIT);
	}
	check_done(c);
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct llm_shard *sh = arg;
	int running, action = 0;
	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(sh->multi, fd, action, &running);
	check_done(sh->c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct llm_shard *sh = arg;
	int running;
	curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(sh->c);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct llm_shard *sh = userp;
	if (timeout_ms < 0) {
		evtimer_del(sh->ev_timer);
	} else {
		struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
		evtimer_add(sh->ev_timer, &tv);
	}
	return 0;
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct llm_shard *sh = userp;
	struct llm_sock *ks = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (ks) {
			event_free(ks->ev);
			free(ks);
			curl_multi_assign(sh->multi, s, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
		     ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (ks == NULL) {
		ks = xcalloc(1, sizeof(*ks));
		ks->sh = sh;
		curl_multi_assign(sh->multi, s, ks);
	} else {
		event_free(ks->ev);
	}
	ks->ev = event_new(sh->c->base, s, kind, on_socket_event, sh);
	event_add(ks->ev, NULL);
	return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct llm_req *r = userdata;
	size_t n = size * nmemb;
	if (buf_append(&r->resp, ptr, n) < 0) {
		r->too_large = 1;
		return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

static size_t header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	struct llm_req *r = userdata;
	size_t n = size * nitems;
	if (n < 512 && dialect_ratelimit_header(&r->rl, buffer, n))
		return n;
	/* the wait asked for and the provider's id (core/resp_meta); a status line
	 * starts a new response (a 1xx before the final one): its own headers */
	if (resp_meta_header(&r->meta, buffer, n, time(NULL)) == RESP_STATUS)
		memset(&r->rl, 0, sizeof(r->rl));
	return n;
}

static void start_one(struct llm_client *c, struct llm_req *r)
{
	CURL *e = easy_get(c);
	struct llm_shard *sh = &c->shards[0];
	/* the least busy shard: below its share of the slots while in_flight < max_concurrency */
	for (int k = 1; k < c->nshards; k++)
		if (c->shards[k].active < sh->active)
			sh = &c->shards[k];
	r->easy = e;
	r->errbuf[0] = '\0';
	/* over HTTP/2 (or https not known yet), wait for a connection that may multiplex
	 * before opening another; never over HTTP/1.x: libcurl 7.88 forgets a host's
	 * status when its last connection closes, and a server closing after each answer
	 * would then get one call at a time */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT,
			 c->http_version == 2 || (c->probe_first && c->http_version == 0) ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	r->started_at = now_ms();
	run_link(c, r);
	r->shard = sh;
	sh->active++;
	if (curl_multi_add_handle(sh->multi, e) != CURLM_OK) {
		sh->active--;
		r->shard = NULL;
		run_unlink(c, r);
		r->next = c->refused;
		c->refused = r;
		loopslice_next_pass(c->ev_more);
	}
}

static void on_hold_end(evutil_socket_t fd, short what, void *arg)
{
	start_waiting(arg);
}

/*
 * Look again in ms: a pending look is moved (evtimer_add replaces its time), so
 * a pace that shrank or a hold that grew is followed at once.
 */
static void look_again(struct llm_client *c, double ms)
{
	long w = (long)ms + 1;
	struct timeval tv = {w / 1000, (w % 1000) * 1000};
	if (!evtimer_pending(c->ev_hold, NULL))
		c->paced++;
	evtimer_add(c->ev_hold, &tv);
}

static void start_waiting(struct llm_client *c)
{
	if (c->wait_head && c->hold_until > 0) {
		double left = c->hold_until - now_ms();
		if (left > 0) {
			look_again(c, left);
			return;
		}
		c->hold_until = 0;
	}
	while (c->wait_head && c->in_flight < c->max_concurrency) {
		struct llm_req *r = c->wait_head;
		double wait;
		/* over https, ALPN may give HTTP/2: a burst sent before an answer says so
		 * would open a connection per transfer past the first's streams (see
		 * LLM_H2_STREAMS), so until then at most one connection's worth goes
		 * (one connection per shard, the others waiting for its ALPN: PIPEWAIT).
		 * Not one call alone: an endpoint that never answers (down, hanging) would
		 * get its calls one at a time, and its breaker open minutes late */
		if (c->probe_first && c->http_version == 0 && c->in_flight >= (size_t)LLM_H2_STREAMS)
			break;
		/* a cancelled request takes no turn of the pace (it used to) */
		if (!r->cancelled &&
		    !pacer_may_start(&c->pacer, now_ms(), (uint32_t)c->in_flight, &wait)) {
			if (wait > 0)
				look_again(c, wait);
			break; /* wait == 0: the first answer tells the window */
		}
		c->wait_head = r->next;
		if (c->wait_head == NULL)
			c->wait_tail = NULL;
		c->waiting--;
		r->next = NULL;
		if (r->cancelled) {
			req_free(r);
			continue;
		}
		start_one(c, r);
	}
}

void llm_client_set_slice(struct llm_client *c, int64_t slice_us)
{
	c->slice_us = slice_us > 0 ? slice_us : 0;
}

struct llm_client *llm_client_new(struct event_base *base, const char *name,
				  const struct model_config *mc, const char *api_key)
{
	struct llm_client *c = xcalloc(1, sizeof(*c));
	int azure;

	c->base = base;
	c->name = xstrdup(name);
	azure = dialect_resolve(mc->dialect, mc->model, mc->base_url) == DIALECT_AZURE;
	c->url = dialect_request_url(mc);
	c->probe_first = strncasecmp(c->url, "https:", 6) == 0;
	c->ev_hold = evtimer_new(base, on_hold_end, c);
	c->ev_more = evtimer_new(base, on_more, c);
	c->done_budget = LLM_DONE_PER_PASS;
	c->slice_us = 0;
	c->timeout_ms = (long)mc->timeout_ms;
	c->connect_timeout_ms = (long)mc->connect_timeout_ms;
	c->max_response = (size_t)mc->max_response_bytes;
	c->max_concurrency = mc->max_concurrency > 0 ? (size_t)mc->max_concurrency : 1;
	pacer_init(&c->pacer, mc->pacing, (double)LLM_HOLD_MAX_MS);
	{
		struct dialect_params dp;
		dialect_params_for(mc, &dp);
		c->max_completion = dp.max_tokens;
	}
	c->ca_file = mc->ca_file && *mc->ca_file ? xstrdup(mc->ca_file) : NULL;
	c->spare = xcalloc(c->max_concurrency, sizeof(*c->spare));
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, "Accept: application/json");
	/* libcurl 7.88 would wait for 100-continue on bodies over 1 KiB: a round trip per call. */
	c->headers = curl_slist_append(c->headers, "Expect:");
	if (api_key && *api_key) {
		char *h = azure ? xasprintf("api-key: %s", api_key)
				: xasprintf("Authorization: Bearer %s", api_key);
		c->headers = curl_slist_append(c->headers, h);
		explicit_bzero(h, strlen(h));
		free(h);
	}
	c->nshards = (int)((c->max_concurrency + LLM_SHARD_SLOTS - 1) / LLM_SHARD_SLOTS);
	if (c->nshards > LLM_SHARDS)
		c->nshards = LLM_SHARDS;
	for (int k = 0; k < c->nshards; k++) {
		struct llm_shard *sh = &c->shards[k];
		/* each shard's share, rounded up: the least busy one always has room */
		long slots =
		    (long)((c->max_concurrency + (size_t)c->nshards - 1) / (size_t)c->nshards);
		c->shard_slots = slots;
		sh->c = c;
		sh->multi = curl_multi_init();
		if (sh->multi == NULL) {
			log_error("curl_multi_init failed", "client=%s", c->name);
			abort();
		}
		sh->ev_timer = evtimer_new(base, on_timer, sh);
		curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
		curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
		curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
		curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
		curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, slots);
		curl_multi_setopt(sh->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, slots);
		curl_multi_setopt(sh->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, LLM_H2_STREAMS);
	}
	return c;
}

void llm_client_free(struct llm_client *c)
{
	struct llm_req *r, *rn;
	if (c == NULL)
		return;
	for (r = c->wait_head; r; r = rn) {
		rn = r->next;
		req_free(r);
	}
	while ((r = c->refused)) {
		c->refused = r->next;
		req_free(r);
	}
	/* abandon running transfers */
	while ((r = c->running)) {
		if (r->shard) {
			curl_multi_remove_handle(r->shard->multi, r->easy);
			r->shard->active--;
		}
		run_unlink(c, r);
		req_free(r);
	}
	while (c->nspare > 0)
		curl_easy_cleanup(c->spare[--c->nspare]);
	free(c->spare);
	for (int k = 0; k < c->nshards; k++) {
		curl_multi_cleanup(c->shards[k].multi);
		event_free(c->shards[k].ev_timer);
	}
	event_free(c->ev_hold);
	event_free(c->ev_more);
	curl_slist_free_all(c->headers);
	free(c->url);
	free(c->name);
	free(c->ca_file);
	free(c);
}

struct llm_req *llm_submit(struct llm_client *c, char *body, llm_done_fn *cb, void *arg)
{
	struct llm_req *r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->body = body;
	r->cb = cb;
	r->arg = arg;
	r->queued_at = now_ms();
	buf_init(&r->resp, c->max_response);
	if (c->wait_tail)
		c->wait_tail->next = r;
	else
		c->wait_head = r;
	c->wait_tail = r;
	c->waiting++;
	start_waiting(c);
	return r;
}

void llm_req_cancel(struct llm_req *r)
{
	if (r)
		r->cancelled = 1;
}

size_t llm_return_waiting(struct llm_client *c)
{
	struct llm_req *r;
	size_t n = 0;
	while ((r = c->wait_head) != NULL) {
		c->wait_head = r->next;
		if (c->wait_head == NULL)
			c->wait_tail = NULL;
		c->waiting--;
		r->next = NULL;
		if (!r->cancelled && r->cb) {
			struct llm_result res;
			memset(&res, 0, sizeof(res));
			res.not_sent = 1;
			res.error = "not sent";
			res.body = "";
			res.request = r->body;
			r->body = NULL;
			r->cb(r->arg, &res);
		}
		req_free(r);
		n++;
	}
	return n;
}

const char *llm_url(const struct llm_client *c)
{
	return c->url;
}

uint64_t llm_paced(const struct llm_client *c)
{
	return c->paced;
}

uint64_t llm_connects(const struct llm_client *c)
{
	return c->connects;
}

int llm_http_version(const struct llm_client *c)
{
	return c->http_version;
}

size_t llm_in_flight(const struct llm_client *c)
{
	return c->in_flight;
}

size_t llm_waiting(const struct llm_client *c)
{
	return c->waiting;
}
