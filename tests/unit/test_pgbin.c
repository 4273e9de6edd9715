/*
 * Unit tests for pgbin: records and arrays in PostgreSQL's binary wire
 * format, byte for byte as record_send and array_send write them (the
 * formats in PostgreSQL's src/backend/utils/adt/rowtypes.c and arrayfuncs.c:
 * big-endian integers, an OID and a length before each value, -1 for NULL),
 * and the buffer's cap. That PostgreSQL takes them is test_db's and
 * test_spine's part (the model calls reach triaged_record_calls_rows so).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"

/* Compare b's bytes with want (n bytes), printing the first difference. */
static void ck_bytes(const struct buf *b, const unsigned char *want, size_t n)
{
	ck_assert_uint_eq(b->len, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg((unsigned char)b->data[i] == want[i], "byte %zu: 0x%02x, want 0x%02x", i,
			      (unsigned char)b->data[i], want[i]);
}

START_TEST(test_record_each_type)
{
	static const unsigned char want[] = {
	    0, 0, 0, 7,					  /* columns */
	    0, 0, 0, 23, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe, /* int4 -2 */
	    0, 0, 0, 20, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 2, /* int8 2^32 + 2 */
	    0, 0, 2, 0xbd, 0, 0, 0, 8, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, /* float8 1.5 */
	    0, 0, 0, 16, 0, 0, 0, 1, 1,			  /* bool true */
	    0, 0, 0, 25, 0, 0, 0, 3, 'a', 0xc3, 0xa9,	  /* text "aé", bytes as given */
	    0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff,	  /* text NULL */
	    0, 0, 0, 20, 0xff, 0xff, 0xff, 0xff,	  /* int8 NULL */
	};
	struct buf b;
	struct pgbin_rec r;

	buf_init(&b, SIZE_MAX);
	pgbin_rec_begin(&r, &b);
	pgbin_int4(&r, -2);
	pgbin_int8(&r, ((int64_t)1 << 32) + 2);
	pgbin_float8(&r, 1.5);
	pgbin_bool(&r, 7);
	pgbin_text(&r, "a\xc3\xa9");
	pgbin_text(&r, NULL);
	pgbin_null(&r, PGBIN_INT8);
	ck_assert_int_eq(pgbin_rec_end(&r), 0);
	ck_bytes(&b, want, sizeof(want));
	buf_cleanup(&b);
}
END_TEST

START_TEST(test_record_empty_text_and_extremes)
{
	static const unsigned char want[] = {
	    0, 0, 0, 3,
	    0, 0, 0, 25, 0, 0, 0, 0,				     /* text "": length 0, no bytes */
	    0, 0, 0, 20, 0, 0, 0, 8, 0x80, 0, 0, 0, 0, 0, 0, 0, /* int8 minimum */
	    0, 0, 0, 23, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff,	     /* int4 maximum */
	};
	struct buf b;
	struct pgbin_rec r;

	buf_init(&b, SIZE_MAX);
	pgbin_rec_begin(&r, &b);
	pgbin_text(&r, "");
	pgbin_int8(&r, INT64_MIN);
	pgbin_int4(&r, INT32_MAX);
	ck_assert_int_eq(pgbin_rec_end(&r), 0);
	ck_bytes(&b, want, sizeof(want));
	ck_assert_uint_eq(pgbin_get32(b.data + 4), PGBIN_TEXT);
	buf_cleanup(&b);
}
END_TEST

/* jsonb: OID 3802, the length with the version byte, 1, then the text (jsonb_recv). */
START_TEST(test_record_jsonb)
{
	static const unsigned char want[] = {
	    0, 0, 0, 3,
	    0, 0, 0x0e, 0xda, 0, 0, 0, 6, 1, '[', '"', 'a', '"', ']', /* jsonb ["a"] */
	    0, 0, 0x0e, 0xda, 0, 0, 0, 5, 1, 'n', 'u', 'l', 'l', /* the JSON null */
	    0, 0, 0x0e, 0xda, 0xff, 0xff, 0xff, 0xff,	      /* an SQL NULL */
	};
	struct buf b;
	struct pgbin_rec r;

	buf_init(&b, SIZE_MAX);
	pgbin_rec_begin(&r, &b);
	pgbin_jsonb(&r, "[\"a\"]");
	pgbin_jsonb(&r, "null");
	pgbin_jsonb(&r, NULL);
	ck_assert_int_eq(pgbin_rec_end(&r), 0);
	ck_bytes(&b, want, sizeof(want));
	buf_cleanup(&b);

	/* over the cap: refused, as text is */
	buf_init(&b, 12);
	pgbin_rec_begin(&r, &b);
	pgbin_jsonb(&r, "[1, 2, 3]");
	ck_assert_int_eq(pgbin_rec_end(&r), -1);
	buf_cleanup(&b);
}
END_TEST

/* Two records after an array header: the layout array_recv reads. */
START_TEST(test_array)
{
	static const unsigned char want[] = {
	    0, 0, 0, 1,	      /* dimensions */
	    0, 0, 0, 0,	      /* has NULLs */
	    0, 1, 0x86, 0xa1, /* element type 100001 */
	    0, 0, 0, 2,	      /* elements */
	    0, 0, 0, 1,	      /* lower bound */
	    0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0, 5, /* (5) */
	    0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 23, 0xff, 0xff, 0xff, 0xff, /* (NULL) */
	};
	struct buf b, row;
	struct pgbin_rec r;

	buf_init(&b, SIZE_MAX);
	buf_init(&row, SIZE_MAX);
	ck_assert_int_eq(pgbin_array_header(&b, 100001, 2), 0);
	pgbin_rec_begin(&r, &row);
	pgbin_int4(&r, 5);
	ck_assert_int_eq(pgbin_rec_end(&r), 0);
	ck_assert_int_eq(pgbin_array_elem(&b, row.data, row.len), 0);
	buf_reset(&row);
	pgbin_rec_begin(&r, &row);
	pgbin_null(&r, PGBIN_INT4);
	ck_assert_int_eq(pgbin_rec_end(&r), 0);
	ck_assert_int_eq(pgbin_array_elem(&b, row.data, row.len), 0);
	ck_bytes(&b, want, sizeof(want));
	buf_cleanup(&b);
	buf_cleanup(&row);
}
END_TEST

/* A row over the buffer's cap is refused whole, and the record says so. */
START_TEST(test_cap)
{
	struct buf b;
	struct pgbin_rec r;

	buf_init(&b, 24);
	pgbin_rec_begin(&r, &b);
	pgbin_int4(&r, 1);			/* 16 bytes so far */
	pgbin_text(&r, "this does not fit");	/* would pass 24 */
	pgbin_int4(&r, 2);			/* not written after an error */
	ck_assert_int_eq(pgbin_rec_end(&r), -1);
	ck_assert_int_eq(r.ncols, 1);
	buf_cleanup(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pgbin");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_record_each_type);
	tcase_add_test(tc, test_record_empty_text_and_extremes);
	tcase_add_test(tc, test_record_jsonb);
	tcase_add_test(tc, test_array);
	tcase_add_test(tc, test_cap);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
