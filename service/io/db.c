/*
 * db: see db.h. Owns the libpq connection, the pending-item queues and the
 * FIFO of batches in flight. Must never block the loop: connect with
 * PQconnectPoll, send and flush with non-blocking libpq, read only when the
 * socket is readable.
 */
#include "db.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <libpq-fe.h>

#include "db_int.h"
#include "log.h"
#include "loopslice.h"
#include "pgbin.h"
#include "text.h"

static void db_on_socket(evutil_socket_t fd, short what, void *arg);
static void db_connect_start(struct db *db);
static void db_pump(struct db *db);

static double now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static void db_report(struct db *db, int up)
{
	if (db->reported_up == up)
		return;
	db->reported_up = up;
	if (db->state_cb)
		db->state_cb(db->state_arg, up);
}

/* Register interest in the socket: what is EV_READ and/or EV_WRITE. */
static void db_watch(struct db *db, short what)
{
	int fd = db->conn ? PQsocket(db->conn) : -1;
	if (db->ev_sock && (fd != db->ev_sock_fd || what != db->ev_sock_what)) {
		event_free(db->ev_sock);
		db->ev_sock = NULL;
	}
	if (fd < 0 || what == 0)
		return;
	if (db->ev_sock == NULL) {
		db->ev_sock = event_new(db->base, fd, what | EV_PERSIST, db_on_socket, db);
		db->ev_sock_fd = fd;
		db->ev_sock_what = what;
		event_add(db->ev_sock, NULL);
	}
}

static void queue_push_front(struct db *db, struct db_item *it)
{
	enum db_kind k = it->kind;
	it->next = db->qhead[k];
	db->qhead[k] = it;
	if (db->qtail[k] == NULL)
		db->qtail[k] = it;
	db->qlen[k]++;
}

static void queue_push_back(struct db *db, struct db_item *it)
{
	enum db_kind k = it->kind;
	it->next = NULL;
	if (db->qtail[k])
		db->qtail[k]->next = it;
	else
		db->qhead[k] = it;
	db->qtail[k] = it;
	db->qlen[k]++;
}

/* Fail every queued read (the connection is gone; reads are not retried). */
static void fail_queued_reads(struct db *db, const char *why)
{
	struct db_read *r;
	while ((r = db->rhead) != NULL) {
		db->rhead = r->next;
		if (db->rhead == NULL)
			db->rtail = NULL;
		if (r->cb)
			r->cb(r->arg, NULL, 0, why);
		free(r);
	}
}

/*
 * Put a batch's items back at the front of their queue, keeping their order
 * (solo: to be sent one by one). The list is taken from the caller.
 */
static void requeue_items(struct db *db, struct db_item *items, int solo)
{
	struct db_item *rev = NULL, *it, *itn;
	for (it = items; it; it = itn) {
		itn = it->next;
		it->next = rev;
		rev = it;
	}
	for (it = rev; it; it = itn) {
		itn = it->next;
		if (solo)
			it->solo = 1;
		queue_push_front(db, it);
	}
}

/* Put every in-flight item back at the front of its queue, in order. */
static void requeue_inflight(struct db *db)
{
	struct db_batch *b, *bn;
	/* Walk batches newest first so that older items end up in front. */
	struct db_batch *rev = NULL;
	for (b = db->bhead; b; b = bn) {
		bn = b->next;
		b->next = rev;
		rev = b;
	}
	for (b = rev; b; b = bn) {
		bn = b->next;
		if (b->read) {
			if (b->read->cb)
				b->read->cb(b->read->arg, NULL, 0, "database connection lost");
			b->nparts = 0; /* results of a read are not items */
			db_batch_free(b);
			continue;
		}
		for (int i = 0; i < b->nparts; i++) {
			requeue_items(db, b->parts[i].items, 0);
			b->parts[i].items = NULL;
		}
		db_batch_free(b);
	}
	db->bhead = db->btail = NULL;
	db->open = NULL;
	db->out_pending = 0;
	db->nbatches = 0;
	db->inflight_items = 0;
}

static void db_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	db_connect_start(arg);
}

static void db_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	db_pump(arg);
}

/* msg, or "label: msg" for a labelled connection (out: its room). */
static const char *db_msg(const struct db *db, const char *msg, char *out, size_t n)
{
	if (db->label[0] == '\0')
		return msg;
	snprintf(out, n, "%s: %s", db->label, msg);
	return out;
}

void db_set_owner(struct db *db, const char *owner)
{
	free(db->owner);
	db->owner = owner ? xstrdup(owner) : NULL;
}

void db_set_label(struct db *db, const char *label)
{
	snprintf(db->label, sizeof(db->label), "%s", label ? label : "");
}

static void db_fail(struct db *db, const char *why)
{
	const char *msg = db->conn ? PQerrorMessage(db->conn) : "";
	char q[512], m[64];
	struct timeval tv;

	log_warn(db_msg(db, "database connection lost", m, sizeof(m)),
		 "reason=%s error=%s retry_ms=%d", why,
		 log_quote(q, sizeof(q), msg), db->backoff_ms);
	if (db->ev_sock) {
		event_free(db->ev_sock);
		db->ev_sock = NULL;
	}
	if (db->conn) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	requeue_inflight(db);
	fail_queued_reads(db, "database connection lost");
	db->state = DB_ST_DOWN;
	db_report(db, 0);
	tv.tv_sec = db->backoff_ms / 1000;
	tv.tv_usec = (db->backoff_ms % 1000) * 1000;
	evtimer_add(db->ev_retry, &tv);
	db->backoff_ms = db->backoff_ms * 2 > db->reconnect_max_ms ? db->reconnect_max_ms
								     : db->backoff_ms * 2;
	db->stats.reconnects++;
}

static int db_flush(struct db *db)
{
	int r = PQflush(db->conn);
	if (r < 0)
		return -1;
	db->out_pending = r == 1;
	db_watch(db, r == 1 ? (EV_READ | EV_WRITE) : EV_READ);
	return 0;
}

static void batch_append(struct db *db, struct db_batch *b)
{
	b->next = NULL;
	if (db->btail)
		db->btail->next = b;
	else
		db->bhead = b;
	db->btail = b;
	db->nbatches++;
	db->inflight_items += b->nitems;
}

static int db_send_prepare(struct db *db)
{
	struct db_batch *b;
	int lookups = 0;
	for (int k = 0; k < DB__KINDS; k++) {
		if (!PQsendPrepare(db->conn, db_kind_name(k), db_kind_sql(k), 1, NULL))
			return -1;
	}
	/* a binary array names its element type by OID: the binary kinds' row
	 * types, looked up in the same round (a schema not migrated fails it) */
	for (int k = 0; k < DB__KINDS; k++) {
		const char *type = db_kind_rowtype(k);
		if (type == NULL)
			continue;
		if (!PQsendQueryParams(db->conn, "SELECT $1::regtype::oid", 1, NULL, &type, NULL,
				       NULL, 0))
			return -1;
		lookups++;
	}
	/* the session's owner name: a setting, not a field of every claim row, so that
	 * a daemon of the version before keeps working on the migrated schema; and an
	 * advisory lock this session holds while it lives, by which the others tell a
	 * live holder of a claim from a dead one (triaged_claim, migration 064) */
	if (db->owner) {
		const char *v = db->owner;
		if (!PQsendQueryParams(db->conn,
				       "SELECT set_config('triaged.owner', $1, false), "
				       "pg_try_advisory_lock(29810, hashtext($1))",
				       1, NULL, &v, NULL, NULL, 0))
			return -1;
		lookups++;
	}
	if (!PQpipelineSync(db->conn))
		return -1;
	b = xcalloc(1, sizeof(*b));
	b->prepare = 1;
	b->nparts = DB__KINDS + lookups; /* one result per statement prepared, then the lookups */
	b->sent_ms = now_ms();
	batch_append(db, b);
	return db_flush(db);
}

static void db_connected(struct db *db)
{
	if (PQsetnonblocking(db->conn, 1) != 0 || PQenterPipelineMode(db->conn) != 1 ||
	    db_send_prepare(db) < 0) {
		db_fail(db, "setup");
		return;
	}
	db->state = DB_ST_PREPARING;
}

static void db_connect_poll(struct db *db)
{
	switch (PQconnectPoll(db->conn)) {
	case PGRES_POLLING_READING:
		db_watch(db, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		db_watch(db, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		db_connected(db);
		break;
	case PGRES_POLLING_FAILED:
	default:
		db_fail(db, "connect");
		break;
	}
}

static void db_connect_start(struct db *db)
{
	db->conn = PQconnectStart(db->conninfo);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
		db_fail(db, "connect");
		return;
	}
	db->state = DB_ST_CONNECTING;
	db_connect_poll(db);
}

/* Add kind k's statement to round b: up to batch_size items from its queue. */
static int db_send_part(struct db *db, struct db_batch *b, enum db_kind k)
{
	struct db_part *pt = &b->parts[b->nparts++];
	struct db_item *it, **tailp = &pt->items;
	const char *params[1];
	int limit = db->batch_size, ok;
	size_t bytes = 0;

	if (db->qhead[k] && db->qhead[k]->solo)
		limit = 1;
	while (db->qhead[k] && (int)pt->nitems < limit) {
		it = db->qhead[k];
		if (it->seq >= b->limit || (it->solo && pt->nitems > 0))
			break;
		if (pt->nitems > 0 && bytes + it->len > DB_PART_MAX_BYTES)
			break;
		bytes += it->len + 1;
		db->qhead[k] = it->next;
		if (db->qhead[k] == NULL)
			db->qtail[k] = NULL;
		db->qlen[k]--;
		it->next = NULL;
		*tailp = it;
		tailp = &it->next;
		pt->nitems++;
	}
	pt->kind = k;
	b->nitems += pt->nitems;
	db->inflight_items += pt->nitems; /* a round was appended empty */
	buf_reset(&db->sendbuf);
	if (db_kind_rowtype(k) != NULL) {
		/* typed rows: one binary array of the kind's row type (its OID from the prepare) */
		int len, fmt = 1;
		if (pgbin_array_header(&db->sendbuf, db->row_oid[k], (int32_t)pt->nitems) < 0)
			return -1;
		for (it = pt->items; it; it = it->next)
			if (pgbin_array_elem(&db->sendbuf, it->data, it->len) < 0)
				return -1;
		if (db->sendbuf.len > INT_MAX)
			return -1;
		len = (int)db->sendbuf.len;
		b->bytes += db->sendbuf.len;
		params[0] = db->sendbuf.data;
		ok = PQsendQueryPrepared(db->conn, db_kind_name(k), 1, params, &len, &fmt, 0);
		return ok ? 0 : -1;
	}
	/* the array's text, from the items' own: no object tree */
	if (buf_append(&db->sendbuf, "[", 1) < 0)
		return -1;
	for (it = pt->items; it; it = it->next)
		if ((it != pt->items && buf_append(&db->sendbuf, ",", 1) < 0) ||
		    buf_append(&db->sendbuf, it->data, it->len) < 0)
			return -1;
	if (buf_append(&db->sendbuf, "]", 1) < 0)
		return -1;
	b->bytes += db->sendbuf.len;
	params[0] = db->sendbuf.data;
	ok = PQsendQueryPrepared(db->conn, db_kind_name(k), 1, params, NULL, NULL, 0);
	return ok ? 0 : -1;
}

/*
 * Send the open round's next parts, in kind order: a statement for every
 * kind with items queued, then one Sync. Stops after a part once the loop
 * pass has spent its slice or libpq holds unsent output, leaving the round
 * open. 1: the round is still open; 0: it is closed; -1: libpq failed.
 */
static int db_send_round(struct db *db)
{
	struct db_batch *b = db->open;

	if (b == NULL) {
		b = xcalloc(1, sizeof(*b));
		b->sent_ms = now_ms();
		b->limit = db->seq + 1;
		batch_append(db, b); /* on failure too: db_fail puts its items back */
		db->open = b;
	}
	/* In kind order: finishing work and freeing memory before taking new work. */
	while (b->next_kind < DB__KINDS) {
		enum db_kind k = (enum db_kind)b->next_kind;
		struct db_item *head = db->qhead[k];
		if (head == NULL || head->seq >= b->limit ||
		    (b->nparts > 0 && b->parts[b->nparts - 1].kind == k &&
		     (b->bytes >= DB_ROUND_MAX_BYTES ||
		      b->nparts >= DB_ROUND_MAX_PARTS - (DB__KINDS - 1 - (int)k)))) {
			if (head && head->seq < b->limit)
				b->limit = head->seq; /* over a cap: what followed it waits too */
			b->next_kind++; /* nothing (more) of this kind in this round */
			continue;
		}
		if (db_send_part(db, b, k) < 0 || db_flush(db) < 0)
			return -1;
		if (db->out_pending || loopslice_spent(db->base, db->slice_us))
			return 1; /* the next pass goes on (a Sync alone if nothing more) */
	}
	db->open = NULL;
	return PQpipelineSync(db->conn) && db_flush(db) == 0 ? 0 : -1;
}

/* Send one queued read as a round of its own. */
static int db_send_read(struct db *db)
{
	struct db_read *r = db->rhead;
	struct db_batch *b = xcalloc(1, sizeof(*b));
	int rc = 0;

	db->rhead = r->next;
	if (db->rhead == NULL)
		db->rtail = NULL;
	r->next = NULL;
	b->read = r;
	b->nparts = r->n;
	b->sent_ms = now_ms();
	for (int i = 0; i < r->n && rc == 0; i++)
		if (!PQsendQueryParams(db->conn, r->sql[i], 0, NULL, NULL, NULL, NULL, 0))
			rc = -1;
	if (rc == 0 && !PQpipelineSync(db->conn))
		rc = -1;
	batch_append(db, b); /* on failure too: db_fail answers it */
	db->reads_sent++;
	return rc;
}

/*
 * 1: hold the next round back (Nagle's rule for group commit). Only while
 * rounds are in flight: the one backend runs them in turn, so a round sent now
 * would wait behind them anyway, and the items that queue meanwhile go in it
 * instead of in rounds of their own (each statement costs PostgreSQL a fixed
 * ~0.3 ms, #15). Never for a full statement, never past delay_ms from the
 * first wait; an idle connection sends at once.
 */
static int db_linger(struct db *db)
{
	int wait = db->delay_ms > 0 && db->nbatches > 0;
	for (int k = 0; k < DB__KINDS && wait; k++)
		if (db->qlen[k] >= (size_t)db->batch_size)
			wait = 0;
	if (wait && !db->held) { /* the first wait: the window opens (ev_linger pumps at its end) */
		struct timeval tv = {(time_t)(db->delay_ms / 1000),
				     (suseconds_t)(db->delay_ms % 1000) * 1000};
		db->held = 1;
		evtimer_add(db->ev_linger, &tv);
		db->stats.lingered_rounds++;
		return 1;
	}
	if (wait && evtimer_pending(db->ev_linger, NULL))
		return 1;
	if (db->held) {
		db->held = 0;
		evtimer_del(db->ev_linger);
	}
	return 0;
}

/* Send what the queues hold, as far as the in-flight limit allows. */
static void db_pump(struct db *db)
{
	int sent = 0;
	if (db->state != DB_ST_UP)
		return;
	while (!db->out_pending && db->open == NULL && db->rhead &&
	       db->nbatches < DB_MAX_INFLIGHT_BATCHES) {
		if (db_send_read(db) < 0) {
			db_fail(db, "send");
			return;
		}
		sent = 1;
	}
	while (!db->out_pending && (db->open != NULL || db->nbatches < DB_MAX_INFLIGHT_BATCHES)) {
		int k = 0, r;
		while (db->open == NULL && k < DB__KINDS && db->qlen[k] == 0)
			k++;
		if (k == DB__KINDS)
			break;
		if (db->open == NULL && db_linger(db))
			break;
		if ((r = db_send_round(db)) < 0) {
			db_fail(db, "send");
			return;
		}
		sent = 1;
		if (db->out_pending)
			break; /* on_socket goes on once the socket took it */
		if (r == 1 || loopslice_spent(db->base, db->slice_us)) {
			/* the pass's slice is spent: the rest in the next pass */
			loopslice_next_pass(db->ev_pump_next);
			break;
		}
	}
	if (sent && db_flush(db) < 0) {
		db_fail(db, "flush");
		return;
	}
	if (db->open && !db->out_pending) /* not left to the socket: the next pass */
		loopslice_next_pass(db->ev_pump_next);
}

static int is_retryable_sqlstate(const char *st)
{
	if (st == NULL)
		return 1;
	/* connection exceptions, shutdown, serialization/deadlock, resources */
	return strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0 || strcmp(st, "40001") == 0 ||
	       strcmp(st, "40P01") == 0 || strncmp(st, "53", 2) == 0;
}

static void batch_complete(struct db *db, struct db_batch *b)
{
	double ms = now_ms() - b->sent_ms;
	int failed = -1;

	db->inflight_items -= b->nitems;
	if (b->prepare) {
		int i = 0, ok = 1;
		for (; i < DB__KINDS && ok; i++)
			ok = b->parts[i].res && PQresultStatus(b->parts[i].res) == PGRES_COMMAND_OK;
		for (int k = 0; k < DB__KINDS && ok; k++) {
			PGresult *res;
			int64_t oid;
			if (db_kind_rowtype(k) == NULL)
				continue;
			res = b->parts[i++].res;
			ok = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
			     !PQgetisnull(res, 0, 0) &&
			     parse_int64(PQgetvalue(res, 0, 0), 1, UINT32_MAX, &oid) == 0;
			if (ok)
				db->row_oid[k] = (unsigned)oid;
		}
		if (ok && db->owner) {
			PGresult *res = b->parts[i++].res;
			ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
			if (ok && PQntuples(res) == 1 && PQnfields(res) == 2 &&
			    strcmp(PQgetvalue(res, 0, 1), "t") != 0)
				/* an old session of ours still holds it (a blip ago): the
				 * heartbeat takes it again once that session is gone */
				log_warn("liveness lock held by another session: this daemon's claims "
					 "look dead to the others until it is free",
					 "owner=%s", db->owner);
		}
		if (!ok) {
			db_fail(db, "prepare");
			db_batch_free(b);
			return;
		}
		char m[64];
		log_info(db_msg(db, "database connected", m, sizeof(m)), "batch_size=%d",
			 db->batch_size);
		db->state = DB_ST_UP;
		db->backoff_ms = 100;
		db_batch_free(b);
		db_report(db, 1);
		return;
	}
	if (b->read) {
		struct db_read_result rr[DB_READ_MAX];
		int aborted = 0;
		memset(rr, 0, sizeof(rr));
		for (int i = 0; i < b->nparts; i++) {
			PGresult *res = b->parts[i].res;
			ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
			if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
				if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0 &&
				    !PQgetisnull(res, 0, 0)) {
					rr[i].value = PQgetvalue(res, 0, 0);
					rr[i].len = (size_t)PQgetlength(res, 0, 0);
				}
				continue;
			}
			if (st == PGRES_PIPELINE_ABORTED || aborted) {
				rr[i].sqlstate = "";
				rr[i].error = "not run: an earlier statement failed";
				continue;
			}
			aborted = 1;
			rr[i].sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
			rr[i].error = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
			if (rr[i].sqlstate == NULL)
				rr[i].sqlstate = "";
			if (rr[i].error == NULL)
				rr[i].error = "no result";
		}
		if (b->read->cb)
			b->read->cb(b->read->arg, rr, b->nparts, NULL);
		db_batch_free(b);
		return;
	}
	db->stats.batches++;
	for (int i = 1; i < b->nparts; i++)
		if (b->parts[i].kind == b->parts[i - 1].kind) {
			db->stats.split_rounds++;
			break;
		}
	db->stats.items += b->nitems;
	db->stats.last_batch_ms = ms;
	db->stats.total_batch_ms += ms;
	for (int i = 0; i < b->nparts; i++) {
		struct db_part *pt = &b->parts[i];
		db->stats.kind_batches[pt->kind]++;
		db->stats.kind_items[pt->kind] += pt->nitems;
		db->stats.kind_ms[pt->kind] += ms;
		if (failed < 0 && (!pt->res || PQresultStatus(pt->res) != PGRES_TUPLES_OK))
			failed = i;
	}

	if (failed >= 0) {
		/* The transaction is rolled back: every part's items go back, and
		 * the failing statement's are split if the error is in the data. */
		struct db_part *fp = &b->parts[failed];
		PGresult *res = fp->res;
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		const char *msg = res ? PQresultErrorMessage(res) : "no result";
		char q[512];

		db->stats.batch_errors++;
		for (int i = 0; i < b->nparts; i++) {
			if (i != failed) {
				requeue_items(db, b->parts[i].items, 0);
				b->parts[i].items = NULL;
			}
		}
		if (is_retryable_sqlstate(sqlstate) || st == PGRES_PIPELINE_ABORTED) {
			/* transient: put the items back in front and retry */
			requeue_items(db, fp->items, 0);
			log_warn("database batch failed, retrying", "kind=%s items=%zu sqlstate=%s error=%s",
				 db_kind_name(fp->kind), fp->nitems, sqlstate ? sqlstate : "none",
				 log_quote(q, sizeof(q), msg));
		} else if (fp->nitems > 1) {
			/* a data error in one item: resend each alone to find it */
			requeue_items(db, fp->items, 1);
			log_warn("database batch rejected, splitting", "kind=%s items=%zu sqlstate=%s",
				 db_kind_name(fp->kind), fp->nitems, sqlstate ? sqlstate : "none");
		} else {
			struct db_item *it = fp->items;
			log_error("database rejected item", "kind=%s sqlstate=%s error=%s",
				  db_kind_name(fp->kind), sqlstate ? sqlstate : "none",
				  log_quote(q, sizeof(q), msg));
			it->cb(it->arg, NULL, msg);
			db_item_free(db, it);
		}
		fp->items = NULL;
		db_batch_free(b);
		return;
	}
	/* committed: handed over by db_dispatch, in kind order */
	for (int i = 0; i < b->nparts; i++) {
		db_part_index(&b->parts[i]);
		db->dispatch_items += b->parts[i].nitems;
	}
	b->dpart = 0;
	b->next = NULL;
	if (db->dtail)
		db->dtail->next = b;
	else
		db->dhead = b;
	db->dtail = b;
	loopslice_next_pass(db->ev_dispatch);
}

static void db_read_socket(struct db *db)
{
	if (!PQconsumeInput(db->conn)) {
		db_fail(db, "read");
		return;
	}
	while (db->bhead && !PQisBusy(db->conn)) {
		struct db_batch *b = db->bhead;
		PGresult *res;
		/* an open round's parts so far are answered: libpq has no command
		 * queued after them, so it would return NULL for ever */
		if (b == db->open && b->cur >= b->nparts)
			break;
		res = PQgetResult(db->conn);
		if (res == NULL) {
			b->cur++; /* the end of one statement's results */
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			db->bhead = b->next;
			if (db->bhead == NULL)
				db->btail = NULL;
			db->nbatches--;
			batch_complete(db, b);
			if (db->conn == NULL)
				return; /* failed during completion */
			continue;
		}
		/* the first result of a statement is its outcome; keep no other */
		if (b->cur < b->nparts && b->parts[b->cur].res == NULL)
			b->parts[b->cur].res = res;
		else
			PQclear(res);
	}
	if (PQstatus(db->conn) == CONNECTION_BAD) {
		db_fail(db, "status");
		return;
	}
	db_dispatch(db);
	db_pump(db);
}

static void db_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;
	if (db->state == DB_ST_CONNECTING) {
		db_connect_poll(db);
		return;
	}
	if (what & EV_WRITE) {
		if (db_flush(db) < 0) {
			db_fail(db, "flush");
			return;
		}
		if (!db->out_pending && !(what & EV_READ))
			db_pump(db); /* the rest of an open round, or what queued meanwhile */
	}
	if (what & EV_READ)
		db_read_socket(db);
}

struct db *db_new(struct event_base *base, const char *conninfo, int batch_size,
		  int reconnect_max_ms, db_state_fn *state_cb, void *state_arg)
{
	struct db *db = xcalloc(1, sizeof(*db));
	db->base = base;
	db->conninfo = xstrdup(conninfo);
	db->batch_size = batch_size > 0 ? batch_size : 1;
	db->reconnect_max_ms = reconnect_max_ms > 100 ? reconnect_max_ms : 100;
	db->backoff_ms = 100;
	db->state_cb = state_cb;
	db->state_arg = state_arg;
	db->ev_sock_fd = -1;
	db->reported_up = -1;
	db->ev_retry = evtimer_new(base, db_retry_cb, db);
	db->ev_pump = event_new(base, -1, 0, db_pump_cb, db);
	db->ev_pump_next = evtimer_new(base, db_pump_cb, db);
	db->ev_dispatch = evtimer_new(base, db_dispatch_cb, db);
	db->ev_linger = evtimer_new(base, db_pump_cb, db);
	buf_init(&db->sendbuf, SIZE_MAX);
	db_connect_start(db);
	return db;
}

void db_free(struct db *db)
{
	struct db_item *it, *itn;
	if (db == NULL)
		return;
	if (db->ev_sock)
		event_free(db->ev_sock);
	event_free(db->ev_retry);
	event_free(db->ev_pump);
	event_free(db->ev_pump_next);
	event_free(db->ev_dispatch);
	event_free(db->ev_linger);
	/* committed rows not handed over: shutting down, like the queued items */
	while (db->dhead) {
		struct db_batch *b = db->dhead;
		db->dhead = b->next;
		for (int i = 0; i < b->nparts; i++)
			for (size_t x = b->parts[i].next; b->parts[i].arr && x < b->parts[i].nitems; x++)
				db_item_free(db, b->parts[i].arr[x]);
		db_batch_free(b);
	}
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	requeue_inflight(db);
	fail_queued_reads(db, "shutting down");
	for (int k = 0; k < DB__KINDS; k++) {
		for (it = db->qhead[k]; it; it = itn) {
			itn = it->next;
			db_item_free(db, it);
		}
	}
	buf_cleanup(&db->sendbuf);
	free(db->conninfo);
	free(db->owner);
	free(db);
}

void db_submit(struct db *db, enum db_kind kind, char *json, db_item_fn *cb, void *arg)
{
	if (db_kind_rowtype(kind) != NULL) {
		/* a programming error: the statement takes binary rows, not JSON */
		log_error("database item of the wrong form", "kind=%s", db_kind_name(kind));
		abort();
	}
	db_submit_bin(db, kind, json, strlen(json), cb, arg);
}

void db_submit_bin(struct db *db, enum db_kind kind, char *row, size_t len, db_item_fn *cb,
		   void *arg)
{
	struct db_item *it = xcalloc(1, sizeof(*it));
	it->kind = kind;
	it->data = row;
	it->len = len;
	it->cb = cb;
	it->arg = arg;
	it->seq = ++db->seq;
	queue_push_back(db, it);
	if (!event_pending(db->ev_pump, EV_TIMEOUT, NULL))
		event_active(db->ev_pump, EV_TIMEOUT, 0);
}

int db_read(struct db *db, const char *const *sql, int n, db_read_fn *cb, void *arg)
{
	struct db_read *r;
	if (db == NULL || db->state != DB_ST_UP || n < 1 || n > DB_READ_MAX)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->sql = sql;
	r->n = n;
	r->cb = cb;
	r->arg = arg;
	if (db->rtail)
		db->rtail->next = r;
	else
		db->rhead = r;
	db->rtail = r;
	if (!event_pending(db->ev_pump, EV_TIMEOUT, NULL))
		event_active(db->ev_pump, EV_TIMEOUT, 0);
	return 0;
}

void db_read_forget(struct db *db, void *arg)
{
	if (db == NULL)
		return;
	for (struct db_read *r = db->rhead; r; r = r->next)
		if (r->arg == arg)
			r->cb = NULL;
	for (struct db_batch *b = db->bhead; b; b = b->next)
		if (b->read && b->read->arg == arg)
			b->read->cb = NULL;
}

unsigned long long db_reads_sent(const struct db *db)
{
	return db ? db->reads_sent : 0;
}

int db_is_up(const struct db *db)
{
	return db->state == DB_ST_UP;
}

void db_set_data_free(struct db *db, db_data_free_fn *fn, void *arg)
{
	db->data_free = fn;
	db->data_free_arg = arg;
}

void db_set_delay(struct db *db, int64_t delay_ms)
{
	db->delay_ms = delay_ms > 0 ? delay_ms : 0;
}

void db_set_slice(struct db *db, int64_t slice_us)
{
	db->slice_us = slice_us > 0 ? slice_us : 0;
}

size_t db_pending(const struct db *db)
{
	size_t n = db->inflight_items + db->dispatch_items;
	for (int k = 0; k < DB__KINDS; k++)
		n += db->qlen[k];
	return n;
}

void db_get_stats(const struct db *db, struct db_stats *out)
{
	*out = db->stats;
}
