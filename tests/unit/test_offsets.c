/*
 * Unit tests for offtrack: scripted cases as a table, then randomized runs
 * checked against a plain reference model (an array of done flags). Must
 * never depend on time or on a seed outside this file.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "offsets.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

enum op_kind { OP_END, OP_ADD, OP_DONE, OP_COMMIT, OP_PENDING };

struct op {
	enum op_kind kind;
	int64_t arg;  /* offset for OP_ADD and OP_DONE */
	int64_t want; /* return value; pending count for OP_PENDING */
};

#define ADD(o, w) {OP_ADD, (o), (w)}
#define DONE(o, w) {OP_DONE, (o), (w)}
#define COMMIT(w) {OP_COMMIT, 0, (w)}
#define PENDING(n) {OP_PENDING, 0, (n)}

struct script {
	const char *name;
	struct op ops[32];
};

static const struct script scripts[] = {
	{"in order",
	 {ADD(0, 0), ADD(1, 0), ADD(2, 0), PENDING(3), COMMIT(-1), DONE(0, 0), COMMIT(1),
	  DONE(1, 0), DONE(2, 0), PENDING(0), COMMIT(3), COMMIT(-1)}},
	{"out of order",
	 {ADD(5, 0), ADD(6, 0), ADD(7, 0), ADD(8, 0), DONE(8, 0), COMMIT(-1), DONE(6, 0),
	  COMMIT(-1), PENDING(2), DONE(5, 0), COMMIT(7), PENDING(1), DONE(7, 0), COMMIT(9),
	  PENDING(0)}},
	{"gaps: commit is last done + 1, not the next offset",
	 {ADD(10, 0), ADD(15, 0), ADD(20, 0), DONE(15, 0), COMMIT(-1), DONE(10, 0), COMMIT(16),
	  DONE(20, 0), COMMIT(21)}},
	{"done on unknown offsets",
	 {DONE(0, -1), ADD(10, 0), ADD(20, 0), DONE(15, -1), DONE(9, -1), DONE(21, -1),
	  DONE(-1, -1), PENDING(2), COMMIT(-1)}},
	{"double done",
	 {ADD(1, 0), ADD(2, 0), DONE(2, 0), DONE(2, -1), PENDING(1), DONE(1, 0), DONE(1, -1),
	  COMMIT(3), DONE(1, -1), DONE(2, -1), PENDING(0)}},
	{"add must increase",
	 {ADD(5, 0), ADD(5, -1), ADD(4, -1), ADD(6, 0), PENDING(2), DONE(5, 0), DONE(6, 0),
	  COMMIT(7), ADD(6, -1), ADD(7, 0), PENDING(1)}},
	{"add refuses negative and INT64_MAX",
	 {ADD(-1, -1), ADD(INT64_MIN, -1), ADD(INT64_MAX, -1), PENDING(0), ADD(0, 0),
	  DONE(0, 0), COMMIT(1)}},
	{"nothing new gives -1",
	 {COMMIT(-1), ADD(3, 0), COMMIT(-1), DONE(3, 0), COMMIT(4), COMMIT(-1), ADD(4, 0),
	  COMMIT(-1), DONE(4, 0), COMMIT(5), COMMIT(-1)}},
	{"largest usable offset",
	 {ADD(INT64_MAX - 2, 0), ADD(INT64_MAX - 1, 0), DONE(INT64_MAX - 1, 0), COMMIT(-1),
	  DONE(INT64_MAX - 2, 0), COMMIT(INT64_MAX)}},
};

START_TEST(test_script)
{
	const struct script *sc = &scripts[_i];
	struct offsets *t = offsets_new();

	for (size_t k = 0; k < ARRAY_SIZE(sc->ops) && sc->ops[k].kind != OP_END; k++) {
		const struct op *op = &sc->ops[k];
		int64_t got = 0;

		switch (op->kind) {
		case OP_ADD:
			got = offsets_add(t, op->arg);
			break;
		case OP_DONE:
			got = offsets_done(t, op->arg);
			break;
		case OP_COMMIT:
			got = offsets_committable(t);
			break;
		case OP_PENDING:
			got = (int64_t)offsets_pending(t);
			break;
		case OP_END:
			break;
		}
		ck_assert_msg(got == op->want, "%s: step %zu: got %lld, want %lld", sc->name, k,
			      (long long)got, (long long)op->want);
	}
	offsets_free(t);
}
END_TEST

START_TEST(test_free_null)
{
	offsets_free(NULL);
}
END_TEST

/* state_at: pending while added and not done; done when done, released, or a gap
 * below the last committable offset; anything else unknown. */
START_TEST(test_state_at)
{
	struct offsets *t = offsets_new();

	ck_assert_int_eq(offsets_state_at(t, 0), OFFSETS_UNKNOWN);
	ck_assert_int_eq(offsets_add(t, 3), 0);
	ck_assert_int_eq(offsets_add(t, 5), 0);
	ck_assert_int_eq(offsets_add(t, 6), 0);
	ck_assert_int_eq(offsets_state_at(t, 3), OFFSETS_PENDING);
	ck_assert_int_eq(offsets_state_at(t, 2), OFFSETS_UNKNOWN); /* before the first */
	ck_assert_int_eq(offsets_state_at(t, 4), OFFSETS_UNKNOWN); /* a gap, not yet passed */
	ck_assert_int_eq(offsets_state_at(t, 7), OFFSETS_UNKNOWN);
	ck_assert_int_eq(offsets_done(t, 5), 0);
	ck_assert_int_eq(offsets_state_at(t, 5), OFFSETS_DONE);
	ck_assert_int_eq(offsets_state_at(t, 6), OFFSETS_PENDING);
	ck_assert_int_eq(offsets_done(t, 3), 0);
	ck_assert_int_eq(offsets_committable(t), 6); /* 3 and 5 released */
	ck_assert_int_eq(offsets_state_at(t, 3), OFFSETS_DONE);
	ck_assert_int_eq(offsets_state_at(t, 4), OFFSETS_DONE); /* a gap, passed */
	ck_assert_int_eq(offsets_state_at(t, 5), OFFSETS_DONE);
	ck_assert_int_eq(offsets_state_at(t, 6), OFFSETS_PENDING);
	ck_assert_int_eq(offsets_state_at(t, 2), OFFSETS_UNKNOWN);
	offsets_free(t);
}
END_TEST

/* Enough entries to grow the ring many times, then drain it and refill it. */
START_TEST(test_grow_drain_refill)
{
	struct offsets *t = offsets_new();
	int64_t base = 0;

	for (int round = 0; round < 3; round++) {
		int64_t n = 5000 + round * 1000;

		for (int64_t o = base; o < base + n; o++)
			ck_assert_int_eq(offsets_add(t, o), 0);
		ck_assert_uint_eq(offsets_pending(t), (size_t)n);
		for (int64_t o = base + n - 1; o > base; o--)
			ck_assert_int_eq(offsets_done(t, o), 0);
		ck_assert_int_eq(offsets_committable(t), -1);
		ck_assert_int_eq(offsets_done(t, base), 0);
		ck_assert_int_eq(offsets_committable(t), base + n);
		ck_assert_uint_eq(offsets_pending(t), 0);
		base += n + 7;
	}
	offsets_free(t);
}
END_TEST

/*
 * Property: add 10,000 offsets with random gaps, complete them in a random
 * order. Whenever committable() is asked, it returns (last offset of the done
 * prefix) + 1 if that moved, else -1; it never passes an offset not done and
 * never goes back. The loop index is how many completions go between asks.
 */
static const int check_every[] = {1, 7, 1000};

START_TEST(test_random_permutation)
{
	enum { N = 10000 };
	int64_t *off = xcalloc(N, sizeof(*off));
	size_t *order = xcalloc(N, sizeof(*order));
	char *done = xcalloc(N, 1);
	uint64_t rng = 0x9E3779B97F4A7C15ULL + (uint64_t)_i;
	struct offsets *t = offsets_new();
	int64_t last_returned = -1;
	size_t lo = 0; /* index of the oldest offset not done */

	for (size_t i = 0; i < N; i++) {
		off[i] = (i ? off[i - 1] : 0) + 1 + (int64_t)(rng_next(&rng) % 5);
		ck_assert_int_eq(offsets_add(t, off[i]), 0);
		order[i] = i;
	}
	for (size_t i = N - 1; i > 0; i--) {
		size_t j = (size_t)(rng_next(&rng) % (i + 1));
		size_t tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}

	for (size_t k = 0; k < N; k++) {
		int64_t want, got;

		ck_assert_int_eq(offsets_done(t, off[order[k]]), 0);
		done[order[k]] = 1;
		while (lo < N && done[lo])
			lo++;
		ck_assert_uint_eq(offsets_pending(t), N - k - 1);
		if ((k + 1) % (size_t)check_every[_i] != 0 && k != N - 1)
			continue;

		want = lo > 0 ? off[lo - 1] + 1 : -1;
		got = offsets_committable(t);
		if (want > last_returned) {
			ck_assert_int_eq(got, want);
			last_returned = got;
		} else {
			ck_assert_int_eq(got, -1);
		}
		/* Never past an offset that is not done. */
		if (lo < N)
			ck_assert_int_le(last_returned, off[lo]);
	}
	ck_assert_int_eq(last_returned, off[N - 1] + 1);
	ck_assert_int_eq(offsets_committable(t), -1);
	ck_assert_uint_eq(offsets_pending(t), 0);
	/* Everything released: no offset is known any more. */
	ck_assert_int_eq(offsets_done(t, off[N / 2]), -1);

	offsets_free(t);
	free(done);
	free(order);
	free(off);
}
END_TEST

/*
 * Property, streaming: adds and completions interleave as in the consumer,
 * with phases that grow the window and phases that drain it (exercising ring
 * wrap-around, growth and shrinking), against the reference model.
 */
START_TEST(test_random_stream)
{
	enum { N = 60000, STEPS = 200000 };
	int64_t *off = xcalloc(N, sizeof(*off));
	char *done = xcalloc(N, 1);
	size_t *open = xcalloc(N, sizeof(*open)); /* indexes added and not done */
	size_t nopen = 0, added = 0, lo = 0;
	uint64_t rng = 42;
	int64_t last_returned = -1;
	struct offsets *t = offsets_new();

	for (int step = 0; step < STEPS; step++) {
		uint64_t r = rng_next(&rng);
		/* Phases of 4096 steps alternate between filling (3:1) and draining (1:3). */
		int fill = (step / 4096) % 2 == 0;
		int want_add = fill ? r % 4 != 0 : r % 4 == 0;

		if (added < N && (want_add || nopen == 0)) {
			off[added] = (added ? off[added - 1] : 0) + 1 + (int64_t)((r >> 8) % 3);
			ck_assert_int_eq(offsets_add(t, off[added]), 0);
			open[nopen++] = added++;
		} else if (nopen > 0) {
			size_t j = (size_t)((r >> 8) % nopen);
			size_t idx = open[j];

			open[j] = open[--nopen];
			ck_assert_int_eq(offsets_done(t, off[idx]), 0);
			ck_assert_int_eq(offsets_done(t, off[idx]), -1);
			done[idx] = 1;
			while (lo < added && done[lo])
				lo++;
		} else {
			break;
		}
		ck_assert_uint_eq(offsets_pending(t), nopen);

		if ((r >> 40) % 5 == 0) {
			int64_t want = lo > 0 ? off[lo - 1] + 1 : -1;
			int64_t got = offsets_committable(t);

			if (want > last_returned) {
				ck_assert_int_eq(got, want);
				last_returned = got;
			} else {
				ck_assert_int_eq(got, -1);
			}
		}
	}
	ck_assert_uint_eq(added, N);

	offsets_free(t);
	free(open);
	free(done);
	free(off);
}
END_TEST

static Suite *offtrack_suite(void)
{
	Suite *s = suite_create("offtrack");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_script, 0, ARRAY_SIZE(scripts));
	tcase_add_test(tc, test_free_null);
	tcase_add_test(tc, test_state_at);
	tcase_add_test(tc, test_grow_drain_refill);
	tcase_add_loop_test(tc, test_random_permutation, 0, ARRAY_SIZE(check_every));
	tcase_add_test(tc, test_random_stream);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(offtrack_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
