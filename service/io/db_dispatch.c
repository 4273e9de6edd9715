/*
 * db_dispatch: the committed rows of io/db.c's rounds handed to their items,
 * a slice of the loop at a time (#16), and the freeing of items and rounds.
 */
#include <stdlib.h>

#include <libpq-fe.h>

#include "db_int.h"
#include "loopslice.h"
#include "text.h"
#include "xmem.h"

void db_item_free(struct db *db, struct db_item *it)
{
	if (db->data_free)
		db->data_free(db->data_free_arg, it->kind, it->data);
	else
		free(it->data);
	free(it);
}

void db_batch_free(struct db_batch *b)
{
	for (int i = 0; i < b->nparts; i++) {
		if (b->parts[i].res)
			PQclear(b->parts[i].res);
		free(b->parts[i].arr);
		free(b->parts[i].rowof);
	}
	free(b->read);
	free(b);
}

/* A committed part: its items by idx, and the row that answers each (-1: none). */
void db_part_index(struct db_part *pt)
{
	size_t n = pt->nitems, i = 0;
	PGresult *res = pt->res;
	int nrows = PQntuples(res);
	struct db_item *it;

	pt->arr = xcalloc(n ? n : 1, sizeof(*pt->arr));
	pt->rowof = xcalloc(n ? n : 1, sizeof(*pt->rowof));
	for (it = pt->items; it; it = it->next) {
		pt->rowof[i] = -1;
		pt->arr[i++] = it;
	}
	pt->items = NULL;
	pt->next = 0;
	for (int r = 0; r < nrows; r++) {
		int64_t idx;
		if (PQgetisnull(res, r, 0) ||
		    parse_int64(PQgetvalue(res, r, 0), 0, (int64_t)n - 1, &idx) < 0 ||
		    pt->rowof[idx] >= 0)
			continue;
		pt->rowof[idx] = r;
	}
}

/* Hand one item its row (an item without a row fails), and free it. */
static void part_dispatch_one(struct db *db, struct db_part *pt)
{
	struct db_item *it = pt->arr[pt->next];
	int r = pt->rowof[pt->next];

	pt->arr[pt->next++] = NULL;
	if (r >= 0) {
		struct db_row row;
		int ncols = PQnfields(pt->res);
		row.ncols = ncols < DB_MAX_COLS ? ncols : DB_MAX_COLS;
		for (int c = 0; c < row.ncols; c++)
			row.cols[c] = PQgetisnull(pt->res, r, c) ? NULL : PQgetvalue(pt->res, r, c);
		it->cb(it->arg, &row, NULL);
	} else {
		it->cb(it->arg, NULL, "database returned no row for the item");
	}
	db_item_free(db, it);
}

/*
 * Hand committed rows to their items, in commit order and kind order (calls
 * before the stores that count their cost), for about slice_us; the rest
 * wait for a zero timer, after the timers and sockets that came due.
 */
void db_dispatch(struct db *db)
{
	size_t done = 0;
	struct db_batch *b;

	while ((b = db->dhead) != NULL) {
		if (done > 0 && loopslice_spent(db->base, db->slice_us)) {
			loopslice_next_pass(db->ev_dispatch);
			return;
		}
		if (b->dpart < b->nparts && b->parts[b->dpart].next < b->parts[b->dpart].nitems) {
			part_dispatch_one(db, &b->parts[b->dpart]);
			db->dispatch_items--;
			done++;
			continue;
		}
		if (b->dpart < b->nparts) {
			b->dpart++;
			continue;
		}
		db->dhead = b->next;
		if (db->dhead == NULL)
			db->dtail = NULL;
		db_batch_free(b);
	}
}

void db_dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	db_dispatch(arg);
}
