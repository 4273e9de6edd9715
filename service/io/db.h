/*
 * db: the PostgreSQL connection of the daemon, on the libevent loop.
 * Non-blocking libpq in pipeline mode with prepared statements. Callers
 * submit items of a kind (claim, store); items are grouped into rounds as the
 * connection allows, up to DB_MAX_INFLIGHT_BATCHES in flight: one JSON array
 * and one statement per kind with items queued, all in one transaction (one
 * commit for everything the loop queued: group commit). A lost connection re-sends
 * every unanswered item after reconnecting (the SQL functions are
 * idempotent); a round rejected for one statement's data is sent again,
 * that statement's items one by one, so that only the bad item fails. Never blocks; never exits.
 */
#ifndef TRIAGED_DB_H
#define TRIAGED_DB_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

/*
 * Sent in this order when several are queued: calls before the stores whose
 * events sum their cost, claims last (they bring new work). An item never
 * commits before one submitted ahead of it of an earlier kind (test_db's
 * `order`), except when that one's round failed and later rounds already
 * sent went through: a store's event then lacks the cost of a call retried
 * after it (the database's triaged_event has it).
 */
enum db_kind {
	DB_CALL,
	DB_STORE,
	DB_RESERVE,
	DB_DEADLETTER,
	DB_FEEDBACK,
	DB_CLAIM,
	DB_SHADOW,
	DB_RENEW,
	DB__KINDS
};

#define DB_MAX_COLS 8

struct db_row {
	int ncols;
	const char *cols[DB_MAX_COLS]; /* borrowed, valid during the callback; NULL for SQL NULL */
};

/*
 * Item completion: row is the function's result row for this item, or NULL
 * with err set when the item was rejected on its own (a data error that
 * retrying cannot fix). Called exactly once per submitted item.
 */
typedef void db_item_fn(void *arg, const struct db_row *row, const char *err);
/* Connection state change: up = 1 when ready, 0 when lost. */
typedef void db_state_fn(void *arg, int up);

struct db;

/* Returns a new db that connects in the background; free with db_free(). */
struct db *db_new(struct event_base *base, const char *conninfo, int batch_size,
		  int reconnect_max_ms, db_state_fn *state_cb, void *state_arg);
void db_free(struct db *db);
/* Name this connection in its log lines ("dashboard: database connected"). */
void db_set_label(struct db *db, const char *label);
/*
 * The daemon's name for its claims (migration 064): set as the session's
 * triaged.owner at every connect, read by triaged_claim_rows. Call right
 * after db_new, before the loop runs.
 */
void db_set_owner(struct db *db, const char *owner);
/*
 * Hand committed rows to their items for about slice_us per loop pass, the
 * rest in the next passes, in order (0, the default: a whole round at once).
 */
void db_set_slice(struct db *db, int64_t slice_us);
/* Group commit: while rounds are in flight, a round that would not fill a
 * statement of batch_size items waits up to delay_ms (from its first wait)
 * for more, or for the rounds in flight to end; an idle connection sends at
 * once. 0: never wait. */
void db_set_delay(struct db *db, int64_t delay_ms);

/*
 * How an item's data (its JSON object or binary row) is freed once its row
 * is handed back (default free()): the pipeline gives the claims a worker
 * built back to the worker (offload_discard, #16). fn frees data (never NULL)
 * however it was made.
 */
typedef void db_data_free_fn(void *arg, enum db_kind kind, char *data);
void db_set_data_free(struct db *db, db_data_free_fn *fn, void *arg);

/* Queue an item: json is one JSON object as text (malloc'd, stolen). cb is called exactly once. */
void db_submit(struct db *db, enum db_kind kind, char *json, db_item_fn *cb, void *arg);
/*
 * The same for a kind whose items are rows of a composite type
 * (db_kind_rowtype: DB_CALL's triaged_call_in2): row is one record in
 * PostgreSQL's binary format (io/pgbin.h), len bytes (malloc'd, stolen).
 * The round sends the kind's items as one binary array of that type.
 */
void db_submit_bin(struct db *db, enum db_kind kind, char *row, size_t len, db_item_fn *cb,
		   void *arg);
/* The same with a json-c object (reference stolen), for the rare kinds. */
static inline void db_submit_obj(struct db *db, enum db_kind kind, json_object *payload,
				 db_item_fn *cb, void *arg)
{
	char *s = xstrdup(json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN));
	json_object_put(payload);
	db_submit(db, kind, s, cb, arg);
}

/*
 * Read queries (the dashboard's): up to DB_READ_MAX statements without
 * parameters, sent as a round of their own, so they share the connection
 * and its backoff but never a transaction with the writes: a failing or
 * timed-out read aborts only itself. Nothing is retried.
 */
#define DB_READ_MAX 4
struct db_read_result {
	const char *value;    /* row 0, column 0 as text (borrowed); NULL: no row or SQL NULL */
	size_t len;
	const char *sqlstate; /* NULL when the statement succeeded */
	const char *error;    /* primary message, NULL when the statement succeeded */
};
/*
 * Called once per db_read: res[0..n-1] in statement order (a statement after
 * a failed one reports the pipeline as aborted), or res NULL with err when
 * the connection was lost before the answer. Everything is borrowed for the
 * duration of the call.
 */
typedef void db_read_fn(void *arg, const struct db_read_result *res, int n, const char *err);
/*
 * Queue a read of n statements (sql borrowed: static strings). Returns 0,
 * or -1 without calling cb when the database is not connected (the caller
 * answers "unavailable" at once) or n is out of range.
 */
int db_read(struct db *db, const char *const *sql, int n, db_read_fn *cb, void *arg) WUR;
/* Forget every queued or running read of arg: cb will not be called (arg is going away). */
void db_read_forget(struct db *db, void *arg);
/* Read rounds sent so far. */
unsigned long long db_reads_sent(const struct db *db);

int db_is_up(const struct db *db);
/* Items queued or in flight. */
size_t db_pending(const struct db *db);

struct db_stats {
	unsigned long long batches, items, batch_errors, reconnects;
	double last_batch_ms;
	double total_batch_ms;
	/* per kind: batches, items, and summed send-to-result time */
	unsigned long long kind_batches[DB__KINDS], kind_items[DB__KINDS];
	double kind_ms[DB__KINDS];
	/* rounds where one kind took more than one statement (large items, #16) */
	unsigned long long split_rounds;
	/* rounds held back for more items while others were in flight (batch_delay_ms) */
	unsigned long long lingered_rounds;
};
const char *db_kind_name(enum db_kind k);
/* The statement a kind's items run ($1: a JSON array of them); NULL for no kind. */
const char *db_kind_sql(enum db_kind k);
/* The composite type whose binary rows kind k takes (db_submit_bin), or NULL: JSON items. */
const char *db_kind_rowtype(enum db_kind k);
void db_get_stats(const struct db *db, struct db_stats *out);

#endif
