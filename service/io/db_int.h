/*
 * db_int: the insides of io/db.c that io/db_dispatch.c shares (the
 * connection's queues, rounds and items). Not for any other module: db.h is
 * the interface.
 */
#ifndef TRIAGED_DB_INT_H
#define TRIAGED_DB_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "buf.h"
#include "db.h"

#define DB_MAX_INFLIGHT_BATCHES 4
/*
 * A statement's items stop at this many bytes (one item always
 * goes): the loop copies each statement into the parameter, into libpq's
 * buffer and into the socket in one callback (#16). Ordinary tickets reach
 * it only with a couple of hundred queued; the rest takes a further
 * statement of the same round.
 */
#define DB_PART_MAX_BYTES (1u << 18)
/*
 * A kind with more queued than one statement takes further statements in
 * the same round, one per loop pass, up to this many bytes in the round
 * (and DB_ROUND_MAX_PARTS statements, a slot kept for each later kind):
 * four claims of 256 KiB tickets still share a commit.
 */
#define DB_ROUND_MAX_BYTES (1u << 20)
#define DB_ROUND_MAX_PARTS (DB__KINDS + 8)

struct db_item {
	enum db_kind kind;
	char *data; /* one JSON object; a binary record for a kind with a row type (db_submit_bin) */
	size_t len;
	db_item_fn *cb;
	void *arg;
	int solo; /* send alone: its batch failed for data */
	unsigned long long seq; /* the order it was submitted in (db->seq) */
	struct db_item *next;
};

/* One kind's statement in a round: its items and its result. */
struct db_part {
	enum db_kind kind;
	struct db_item *items;
	size_t nitems;
	PGresult *res;
	/* committed, being handed over: items by idx, the row of each (-1: none), the next */
	struct db_item **arr;
	int *rowof;
	size_t next;
};

/*
 * A round: one statement per kind that had items queued, then one Sync. In
 * pipeline mode the statements between two Syncs are one implicit
 * transaction: one commit (one WAL flush) for everything the loop queued,
 * all of it or none of it.
 */
/* A read: statements of one round, answered together. */
struct db_read {
	const char *const *sql;
	int n;
	db_read_fn *cb; /* NULL: forgotten */
	void *arg;
	struct db_read *next;
};

struct db_batch {
	int prepare; /* the round of PQsendPrepare at connect */
	struct db_read *read; /* a read round: parts[] hold its results only */
	struct db_part parts[DB_ROUND_MAX_PARTS];
	size_t bytes; /* the round's statements' parameters so far */
	int nparts;
	int cur; /* the part whose results are being read */
	size_t nitems;
	double sent_ms;
	int dpart; /* committed: the part being handed over */
	int next_kind; /* open (db->open): the next kind whose part may join it */
	/* open: only items with seq < limit join (set at open, lowered to the first
	 * item a kind leaves to the next round): none commits before one of an
	 * earlier kind submitted ahead of it (test_db's `order`) */
	unsigned long long limit;
	struct db_batch *next;
};

enum db_state { DB_ST_DOWN, DB_ST_CONNECTING, DB_ST_PREPARING, DB_ST_UP };

struct db {
	struct event_base *base;
	char *conninfo;
	char label[24]; /* "" for the pipeline's connection; else a prefix of its log lines */
	char *owner;	/* set as the session's triaged.owner at each connect (NULL: not set) */
	int batch_size;
	int reconnect_max_ms;
	int backoff_ms;
	db_state_fn *state_cb;
	void *state_arg;
	db_data_free_fn *data_free; /* NULL: free() */
	void *data_free_arg;

	PGconn *conn;
	enum db_state state;
	struct event *ev_sock;
	int ev_sock_fd;
	short ev_sock_what;
	struct event *ev_retry;
	struct event *ev_pump; /* deferred: everything submitted in one loop pass shares a batch */
	/*
	 * A round sent a statement per loop pass (#16): megabytes of 256 KiB
	 * tickets built and copied in one pass held the loop 5-8 ms. Open (no
	 * Sync yet) until its last part. No part is added while libpq holds
	 * unsent output (out_pending): each partial send moves the rest of its
	 * buffer to the front, so a large buffer is copied again at every send.
	 */
	struct db_batch *open;
	struct event *ev_pump_next;
	int out_pending;
	/* group commit (postgres.batch_delay_ms): while a round is in flight, a
	 * round that would not be full waits up to delay_ms for more items (or
	 * for the rounds in flight to end), from its first wait */
	int64_t delay_ms;
	int held;		  /* a round is held back: ev_linger times its window */
	struct event *ev_linger; /* pumps when the window ends */

	/* pending items per kind, FIFO (by seq) */
	struct db_item *qhead[DB__KINDS], *qtail[DB__KINDS];
	unsigned long long seq; /* items submitted so far */
	size_t qlen[DB__KINDS];
	/* batches in flight, FIFO */
	struct db_batch *bhead, *btail;
	int nbatches;
	size_t inflight_items;
	/*
	 * Committed batches whose rows are handed to their items a slice at a
	 * time (#16): each item's callback moves a ticket on (a model call, an
	 * event), and a round of hundreds at once held the loop for tens of ms.
	 */
	struct db_batch *dhead, *dtail;
	size_t dispatch_items;
	int64_t slice_us; /* 0: the whole batch at once */
	struct event *ev_dispatch;

	/* reads waiting for a slot, FIFO */
	struct db_read *rhead, *rtail;
	unsigned long long reads_sent;

	/* the element type of each binary kind's array (db_kind_rowtype), looked
	 * up by name in the round that prepares the statements; 0: a JSON kind */
	unsigned row_oid[DB__KINDS];

	struct db_stats stats;
	int reported_up;
	struct buf sendbuf; /* a statement's parameter, reused (libpq copies it) */
};

/* db_dispatch.c: committed rows handed to their items, and freeing */
void db_item_free(struct db *db, struct db_item *it);
void db_batch_free(struct db_batch *b);
void db_part_index(struct db_part *pt);
void db_dispatch(struct db *db);
void db_dispatch_cb(evutil_socket_t fd, short what, void *arg);

#endif
