/*
 * Unit tests for redact: each detector taking what it should and leaving
 * what it should not (tables), the placeholder map (stable numbering across
 * calls, JSON round trip, restore), custom patterns, failure paths that
 * must leave the map unchanged, and a real-text corpus
 * (tests/fixtures/pii_corpus.txt) with generated values planted in it:
 * every planted value must disappear, restore must give the text back, and
 * the unplanted corpus must come through untouched; and a corpus of the
 * forms customers paste (tests/fixtures/pii_corpus_forms.txt: wrapped
 * lines, Unicode digits, slashes, quoted locals, Unicode domains, ...) and
 * of the look-alikes that must stay, counted per form.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "redact.h"
#include "ticket.h"

#ifndef TRIAGED_SOURCE_DIR
#error "TRIAGED_SOURCE_DIR must be defined (CMake does it for unit tests)"
#endif
#define CORPUS TRIAGED_SOURCE_DIR "/tests/fixtures/pii_corpus.txt"
#define FORMS TRIAGED_SOURCE_DIR "/tests/fixtures/pii_corpus_forms.txt"
#define RESTORE_MAX (1024 * 1024)

/* Redact with built-ins only (or r), asserting success; returns the new string. */
static char *redact_ok(const struct redactor *r, const char *in, struct redact_map *m,
		       struct redact_stats *st)
{
	char err[256] = "";
	char *out = redact_text(r, in, strlen(in), m, st, err, sizeof(err));

	ck_assert_msg(out != NULL, "redact_text(\"%s\") failed: %s", in, err);
	return out;
}

static void assert_restores(const struct redact_map *m, const char *redacted, const char *orig)
{
	char err[256] = "";
	char *back = redact_restore(m, redacted, RESTORE_MAX, err, sizeof(err));

	ck_assert_msg(back != NULL, "restore failed: %s", err);
	ck_assert_str_eq(back, orig);
	free(back);
}

/* ---- detectors: found ---- */

struct rcase {
	const char *name;
	const char *in;
	const char *out;
};

static const struct rcase found_cases[] = {
	/* cards: Luhn-valid, 13-19 digits, issuer digit 2-6 */
	{"card in groups", "my card is 4111 1111 1111 1111 thanks", "my card is [CARD_1] thanks"},
	{"card with dashes", "card 4111-1111-1111-1111, exp 12/25", "card [CARD_1], exp 12/25"},
	{"card unbroken, sentence end", "card 4111111111111111.", "card [CARD_1]."},
	{"amex 4-6-5", "amex 3782 822463 10005 ok", "amex [CARD_1] ok"},
	{"amex unbroken", "378282246310005", "[CARD_1]"},
	/* "1Z" and 16 letters or digits reads as a UPS number; a card after a word glued to 1Z is no part of it (fuzz) */
	{"card after 1Z and a word", "1ZCard 4111 1111 1111 1111 x", "1ZCard [CARD_1] x"},
	/* a number kept whole (card-shaped, Luhn-invalid) does not hide an address that runs over it (fuzz) */
	{"address over a card-shaped label", "x 4a@ab-2055555555555555839.com", "x [EMAIL_1]"},
	/* a bad-checksum IBAN shape across a line break shields nothing (fuzz) */
	{"card under a wrapped IBAN shape", "x ad54\n> 5555 5555 5555 4444 O055 500",
	 "x ad54\n> [CARD_1] O055 500"},
	{"address glued to a card-shaped run", "mail 4111 1111 1111 1112@example.com now",
	 "mail [PHONE_1] [EMAIL_1] now"},
	{"mastercard 2-series", "5555555555554444 and 2223003122003222", "[CARD_1] and [CARD_2]"},
	{"visa 13 digits", "old card 4222222222222", "old card [CARD_1]"},
	{"visa 19 digits in groups", "4000 0000 0000 0000 006", "[CARD_1]"},
	{"unionpay 19 digits", "6200000000000000000", "[CARD_1]"},
	{"jcb", "(3530111333300000)", "([CARD_1])"},
	{"two cards in one run", "4111 1111 1111 1111 5555 5555 5555 4444", "[CARD_1] [CARD_2]"},
	{"card after a phone word", "call me about 4111111111111111", "call me about [CARD_1]"},
	{"card after short number", "item 12 4111 1111 1111 1111", "item 12 [CARD_1]"},
	{"card no-break spaces",
	 "4111\xc2\xa0"
	 "1111\xc2\xa0"
	 "1111\xc2\xa0"
	 "1111",
	 "[CARD_1]"},
	/* IBANs: mod 97, country length */
	{"iban DE in groups", "IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN_1] please"},
	{"iban DE compact", "IBAN: DE89370400440532013000.", "IBAN: [IBAN_1]."},
	{"iban GB both forms", "GB82 WEST 1234 5698 7654 32 or GB82WEST12345698765432",
	 "[IBAN_1] or [IBAN_2]"},
	{"iban NL", "to NL91ABNA0417164300 today", "to [IBAN_1] today"},
	{"iban FR with a letter", "FR14 2004 1010 0505 0001 3M02 606", "[IBAN_1]"},
	{"iban BE then a word of four", "BE68 5390 0754 7034 then", "[IBAN_1] then"},
	{"iban CH", "CH93 0076 2011 6238 5295 7", "[IBAN_1]"},
	{"iban NO (15, shortest)", "NO9386011117947", "[IBAN_1]"},
	{"iban lower case", "de89 3704 0044 0532 0130 00", "[IBAN_1]"},
	{"iban country not in table", "XY80 1234 5678 9012 3456", "[IBAN_1]"},
	/* e-mail */
	{"email", "mail me at john.doe@example.com", "mail me at [EMAIL_1]"},
	{"email plus tag, subdomain, sentence end", "Write to j.doe+shop@mail.example.co.uk.",
	 "Write to [EMAIL_1]."},
	{"email in brackets", "<Jane_Doe99@Example.ORG>", "<[EMAIL_1]>"},
	{"email latin letters", "jürgen.müller@müller-bau.de schrieb", "[EMAIL_1] schrieb"},
	{"email punycode tld", "a@b.xn--p1ai", "[EMAIL_1]"},
	{"email after mailto", "mailto:x.y@z.io", "mailto:[EMAIL_1]"},
	{"email twice, same placeholder", "a@b.com, again a@b.com; and c@d.com",
	 "[EMAIL_1], again [EMAIL_1]; and [EMAIL_2]"},
	/* phones */
	{"phone +44", "call +44 20 7946 0958 now", "call [PHONE_1] now"},
	{"phone +1 parens", "+1 (555) 123-4567", "[PHONE_1]"},
	{"phone US parens", "(555) 123-4567", "[PHONE_1]"},
	{"phone US parens no space", "(555)123-4567", "[PHONE_1]"},
	{"phone US dashes", "555-123-4567", "[PHONE_1]"},
	{"phone US dots", "555.123.4567", "[PHONE_1]"},
	{"phone US local", "call 555-1234 after six", "call [PHONE_1] after six"},
	{"phone +49 mobile unbroken", "+4915112345678", "[PHONE_1]"},
	{"phone +33 single-digit area", "+33 6 12 34 56 78", "[PHONE_1]"},
	{"phone FR national", "06 12 34 56 78", "[PHONE_1]"},
	{"phone FR no-break spaces",
	 "06\xc2\xa0"
	 "12\xc2\xa0"
	 "34\xc2\xa0"
	 "56\xc2\xa0"
	 "78",
	 "[PHONE_1]"},
	{"phone UK national", "020 7946 0958", "[PHONE_1]"},
	{"phone UK trunk (0)", "+44 (0)20 7946 0958", "[PHONE_1]"},
	{"phone ES 3-3-3", "612 345 678", "[PHONE_1]"},
	{"phone DE 00 prefix unbroken", "004930123456789", "[PHONE_1]"},
	{"phone UK trunk unbroken", "07700900123", "[PHONE_1]"},
	{"phone bare after phone word", "my mobile is 5551234567", "my mobile is [PHONE_1]"},
	{"phone en dash",
	 "555\xe2\x80\x93"
	 "123\xe2\x80\x93"
	 "4567",
	 "[PHONE_1]"},
	{"phone +intl then a year", "+44 20 7946 0958 2024", "[PHONE_1] 2024"},
	{"phone after a date", "on 2024-11-05 555 1234", "on 2024-11-05 [PHONE_1]"},
	{"phone glued to CJK", "\xe7\x94\xb5\xe8\xaf\x9d+86 138 0013 8000\xe8\xb0\xa2",
	 "\xe7\x94\xb5\xe8\xaf\x9d[PHONE_1]\xe8\xb0\xa2"},
	/*
	 * Fuzz findings (issue #20, tests/fuzz/regress/redact): a quoted line
	 * alone over the card detector's group cap used to swallow the lines
	 * wrapped after it, so the card on the next quoted line was left (even
	 * a second pass missed it); an address whose domain runs into the next
	 * one's local part (glued by "@") was found only on a second pass.
	 */
	{"card on a quoted line after an over-long quoted line",
	 "> ref 1 2 3 4 5 6 7 8 9 10 11 12 13 14\n> 5555 5555 5555 4444 thanks",
	 "> ref 1 2 3 4 5 6 7 8 9 10 11 12 13 14\n> [CARD_1] thanks"},
	{"cards on quoted lines after a long grouped number",
	 "> 0000 1655 5555 5555 5555 4455 5555 5555 4000 0016 5555 5555 5555 4444 4555 5450\n"
	 "> 5555 5555 5555 4444 thanks\n> 4111 1111\n> 1111 1111 bye",
	 "> 0000 1655 5555 5555 5555 4455 5555 5555 4000 0016 5555 5555 5555 4444 4555 5450\n"
	 "> [CARD_1] thanks\n> [CARD_2] bye"},
	/* fuzz finding (card-split-by-wrapped-dash-run): a dashed number wrapped
	 * onto the card's line took its first group, and the card was left */
	{"card on a quoted line after a wrapped dashed number",
	 "> 5555 5555 5555 42024-11-054\n> 5555 5555 5555 4444 O6",
	 "> 5555 5555 5555 42024-11-054\n> [CARD_1] O6"},
	{"address glued by @ into the previous one's domain",
	 "sofia@\xe4\xbe\x8b\xe3\x81\x88.\xe4\xb8\xad\xe5\x9b\xbd"
	 "\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80."
	 "\xd1\x80\xd1\x84 ok",
	 "[EMAIL_1][EMAIL_2] ok"},
	/*
	 * Found only once a neighbour is taken (one pass used to leave the
	 * middle card; the fixed point of redact_text takes it).
	 */
	{"card on a quoted line between a taken card and a decimal",
	 "ref 0-5555555555554444\n> 4111 1111 1111 1111\n> 55555555555544440.0",
	 "ref 0-[CARD_1]\n> [CARD_2]\n> 55555555555544440.0"},
	/*
	 * A phone word may sit before another value ("call"), but a
	 * placeholder is no phone word: "[PHONE_4] 0412346" made the next
	 * number a phone, and so on along the text, one more each pass.
	 */
	{"phone word before another phone", "call me: +44 20 7946 0958 or 5551234567",
	 "call me: [PHONE_1] or [PHONE_2]"},
	{"a typed [PHONE_1] is no phone word", "see [PHONE_1] 5551234567",
	 "see [LITERAL_1] 5551234567"},
	/* Each taken phone is a boundary for the next at once, past the fixed point's pass cap. */
	{"six phones glued by +",
	 "tel +4915112345678+4915112345679+4915112345670+4915112345671+4915112345672"
	 "+4915112345673 ok",
	 "tel [PHONE_1][PHONE_2][PHONE_3][PHONE_4][PHONE_5][PHONE_6] ok"},
	{"card then a four-digit-year expiry", "4111 1111 1111 1111 12/2027 ok",
	 "[CARD_1] 12/2027 ok"},
	/* placeholders typed by the customer */
	{"literal placeholders", "see [EMAIL_1] and [ORDER_ID_22]",
	 "see [LITERAL_1] and [LITERAL_2]"},
	/* several kinds, numbered per label */
	{"mixed",
	 "Mail a@b.com or c@d.org, card 4111 1111 1111 1111, tel +44 20 7946 0958, IBAN "
	 "DE89370400440532013000",
	 "Mail [EMAIL_1] or [EMAIL_2], card [CARD_1], tel [PHONE_1], IBAN [IBAN_1]"},
	{"multibyte neighbours",
	 "Zahlung: \xc2\xab"
	 "4111 1111 1111 1111\xc2\xbb \xe2\x80\x93 danke",
	 "Zahlung: \xc2\xab[CARD_1]\xc2\xbb \xe2\x80\x93 danke"},
};

START_TEST(test_found)
{
	const struct rcase *c = &found_cases[_i];
	struct redact_map m;
	char *out;

	redact_map_init(&m);
	out = redact_ok(NULL, c->in, &m, NULL);
	ck_assert_msg(strcmp(out, c->out) == 0, "%s: got \"%s\", want \"%s\"", c->name, out,
		      c->out);
	ck_assert(utf8_valid(out, strlen(out)));
	assert_restores(&m, out, c->in);
	free(out);
	redact_map_cleanup(&m);
}
END_TEST

/* ---- detectors: left alone ---- */

static const struct {
	const char *name;
	const char *in;
} kept_cases[] = {
	{"Luhn-invalid card in groups", "card 4111 1111 1111 1112 please"},
	/* parcel tracking numbers, kept whole (redact_detect_tracking) */
	{"UPS compact", "ups 1Z999AA10123456784 arrived"},
	{"UPS grouped", "ups 1Z 999 AA1 01 2345 6784 arrived"},
	{"UPS of card-like digits", "ups 1Z 4111 1111 1111 1111 arrived"},
	{"USPS grouped", "usps 9400 1000 0000 0000 0000 00 ok"},
	{"Luhn-invalid card unbroken", "card 4111111111111112"},
	{"Luhn-valid but issuer digit 1", "purchase 113542617735902"},
	{"card glued to letters", "ref ABC4111111111111111"},
	{"card inside a longer number", "41111111111111110000"},
	{"IBAN bad checksum DE", "DE00 3704 0044 0532 0130 00"},
	{"IBAN bad checksum DE compact", "DE88370400440532013000"},
	{"IBAN bad checksum GB", "GB83 WEST 1234 5698 7654 32"},
	{"IBAN bad checksum NL", "NL92ABNA0417164300"},
	{"IBAN glued to letters", "xDE89370400440532013000"},
	{"user@localhost", "ssh user@localhost"},
	{"no dot in domain", "me@home"},
	{"one-letter tld", "x@y.z"},
	{"numeric tld", "a@b.c1"},
	{"mention", "@support please help"},
	{"date ISO", "on 2024-11-05"},
	{"date ISO with time", "2024-11-05 14:30:59"},
	{"date dotted", "am 05.11.2024"},
	{"date dashed US", "11-05-2024"},
	{"date dotted short year", "5.11.24"},
	{"date masked (CFPB)", "on XX/XX/2019 and 12/05/2024"},
	{"time", "at 14:30"},
	{"amount with decimals", "1,234.56"},
	{"amount dollar spaced", "$1 234 567"},
	{"amount euro after", "1 234 567 \xe2\x82\xac"},
	{"amount code before", "USD 1234567"},
	{"amount range", "paying $ 1000-2000 a month"},
	{"amount european", "1.234.567,89 EUR"},
	{"amount thousands spaced", "about 1 234 567 people"},
	{"amount CFPB", "{$1500.00} and {$22000.00}"},
	{"percentage", "rate is 524.9996 %"},
	{"decimal", "pi 3.14159265"},
	{"ticket id", "ticket #1234567"},
	{"order id glued", "invoice INV-2024-000123"},
	{"order id with dash", "order ORD-12345678"},
	{"IPv4", "ip 192.168.100.200"},
	{"version", "version 10.0.19045.3570"},
	{"years", "in 2018 2019 2020"},
	{"year range", "from 2019-2020"},
	{"ZIP+4", "New York, NY 10001-1234"},
	{"sort code", "sort code 12-34-56"},
	{"bare number", "transaction 1234567890"},
	{"bare number, leading 00 0", "order 00004587345"},
	{"bare number, 00 then 0", "ref 0001234567"},
	{"long digit string", "12345678901234567890123"},
	{"single digits", "1 2 3 4 5 6 7 8"},
	{"glued letters after", "555-1234abc"},
	{"short", "call 123 456"},
	{"placeholder lower case", "[email_1]"},
	{"placeholder without number", "[EMAIL_]"},
	{"empty", ""},
};

START_TEST(test_kept)
{
	const char *in = kept_cases[_i].in;
	struct redact_map m;
	struct redact_stats st;
	char *out;

	redact_map_init(&m);
	out = redact_ok(NULL, in, &m, &st);
	ck_assert_msg(strcmp(out, in) == 0, "%s: \"%s\" became \"%s\"", kept_cases[_i].name, in,
		      out);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_uint_eq(st.email + st.phone + st.card + st.iban + st.custom + st.literal, 0);
	free(out);
	redact_map_cleanup(&m);
}
END_TEST

/* ---- the map ---- */

START_TEST(test_map_shared_numbering)
{
	struct redact_map m;
	struct redact_stats st;
	char *subj, *body;

	redact_map_init(&m);
	subj = redact_ok(NULL, "Card 4111 1111 1111 1111 blocked", &m, &st);
	ck_assert_str_eq(subj, "Card [CARD_1] blocked");
	ck_assert_uint_eq(st.card, 1);
	body = redact_ok(
		NULL,
		"My card 4111 1111 1111 1111 was blocked, the new one 5555555555554444 too. "
		"Write to a@b.com. Same card: 4111 1111 1111 1111. Other format: "
		"4111-1111-1111-1111.",
		&m, &st);
	ck_assert_str_eq(body, "My card [CARD_1] was blocked, the new one [CARD_2] too. Write to "
			       "[EMAIL_1]. Same card: [CARD_1]. Other format: [CARD_3].");
	/* Stats count occurrences in this call only. */
	ck_assert_uint_eq(st.card, 4);
	ck_assert_uint_eq(st.email, 1);
	ck_assert_uint_eq(st.phone + st.iban + st.custom + st.literal, 0);
	ck_assert_uint_eq(m.n, 4);
	ck_assert_str_eq(redact_map_lookup(&m, "[CARD_1]"), "4111 1111 1111 1111");
	ck_assert_str_eq(redact_map_lookup(&m, "[CARD_3]"), "4111-1111-1111-1111");
	ck_assert_ptr_null(redact_map_lookup(&m, "[CARD_4]"));
	ck_assert_int_eq(m.entries[2].kind, REDACT_EMAIL);
	free(subj);
	free(body);
	redact_map_cleanup(&m);
	redact_map_cleanup(&m); /* twice is harmless */
}
END_TEST

START_TEST(test_restore)
{
	struct redact_map m;
	char err[128];
	char *out, *back;

	redact_map_init(&m);
	out = redact_ok(NULL, "a@b.com [EMAIL_1] +44 20 7946 0958", &m, NULL);
	ck_assert_str_eq(out, "[EMAIL_1] [LITERAL_1] [PHONE_1]");
	/* One pass: the literal's value "[EMAIL_1]" is not expanded again. */
	back = redact_restore(&m, "[LITERAL_1][EMAIL_1][EMAIL_1] [PHONE_2] [PHONE_1 [EMAIL_9]",
			      1000, err, sizeof(err));
	ck_assert_str_eq(back, "[EMAIL_1]a@b.coma@b.com [PHONE_2] [PHONE_1 [EMAIL_9]");
	free(back);
	/* The cap is exact. */
	back = redact_restore(&m, "x [EMAIL_1]", 9, err, sizeof(err));
	ck_assert_str_eq(back, "x a@b.com");
	free(back);
	back = redact_restore(&m, "x [EMAIL_1]", 8, err, sizeof(err));
	ck_assert_ptr_null(back);
	ck_assert_str_eq(err, "restored text over 8 bytes");
	back = redact_restore(&m, "", 0, err, sizeof(err));
	ck_assert_str_eq(back, "");
	free(back);
	free(out);
	redact_map_cleanup(&m);
}
END_TEST

START_TEST(test_map_json_roundtrip)
{
	struct redactor *r = redactor_new();
	struct redact_map m, m2;
	json_object *j;
	char err[128];
	char *out, *out2;

	ck_assert_int_eq(redactor_add_pattern(r, "ORDER_ID", "ORD-[0-9]{6}", err, sizeof(err)), 0);
	redact_map_init(&m);
	redact_map_init(&m2);
	out = redact_ok(r,
			"a@b.com ORD-123456 4111111111111111 [X_1] +4915112345678 "
			"DE89370400440532013000 c@d.com",
			&m, NULL);
	j = redact_map_to_json(&m);
	ck_assert_str_eq(
		json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
		"[{\"placeholder\":\"[EMAIL_1]\",\"value\":\"a@b.com\",\"kind\":\"email\"},"
		"{\"placeholder\":\"[ORDER_ID_1]\",\"value\":\"ORD-123456\",\"kind\":\"custom\"},"
		"{\"placeholder\":\"[CARD_1]\",\"value\":\"4111111111111111\",\"kind\":\"card\"},"
		"{\"placeholder\":\"[LITERAL_1]\",\"value\":\"[X_1]\",\"kind\":\"literal\"},"
		"{\"placeholder\":\"[PHONE_1]\",\"value\":\"+4915112345678\",\"kind\":\"phone\"},"
		"{\"placeholder\":\"[IBAN_1]\",\"value\":\"DE89370400440532013000\","
		"\"kind\":\"iban\"},"
		"{\"placeholder\":\"[EMAIL_2]\",\"value\":\"c@d.com\",\"kind\":\"email\"}]");
	ck_assert_int_eq(redact_map_from_json(&m2, j, err, sizeof(err)), 0);
	ck_assert_uint_eq(m2.n, m.n);
	for (size_t i = 0; i < m.n; i++) {
		ck_assert_str_eq(m2.entries[i].placeholder, m.entries[i].placeholder);
		ck_assert_str_eq(m2.entries[i].value, m.entries[i].value);
		ck_assert_int_eq(m2.entries[i].kind, m.entries[i].kind);
	}
	assert_restores(&m2, out,
			"a@b.com ORD-123456 4111111111111111 [X_1] +4915112345678 "
			"DE89370400440532013000 c@d.com");
	/* Numbering goes on after a reload: known values keep theirs, new ones follow. */
	out2 = redact_ok(r, "c@d.com e@f.com ORD-654321", &m2, NULL);
	ck_assert_str_eq(out2, "[EMAIL_2] [EMAIL_3] [ORDER_ID_2]");
	/* A map that is not empty is refused. */
	ck_assert_int_eq(redact_map_from_json(&m2, j, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "map is not empty");
	json_object_put(j);
	free(out);
	free(out2);
	redact_map_cleanup(&m);
	redact_map_cleanup(&m2);
	redactor_free(r);
}
END_TEST

static const struct {
	const char *json;
	const char *err;
} bad_maps[] = {
	{"{}", "not an array"},
	{"[1]", "[0]: not an object"},
	{"[{\"placeholder\":\"[EMAIL_1]\",\"kind\":\"email\"}]",
	 "[0]: placeholder, value and kind must be non-empty strings"},
	{"[{\"placeholder\":\"[EMAIL_1]\",\"value\":\"\",\"kind\":\"email\"}]",
	 "[0]: placeholder, value and kind must be non-empty strings"},
	{"[{\"placeholder\":\"[EMAIL_1]\",\"value\":\"a\\u0000b\",\"kind\":\"email\"}]",
	 "[0]: placeholder, value and kind must be non-empty strings"},
	{"[{\"placeholder\":\"[EMAIL_1]\",\"value\":7,\"kind\":\"email\"}]",
	 "[0]: placeholder, value and kind must be non-empty strings"},
	{"[{\"placeholder\":\"[email_1]\",\"value\":\"a@b.com\",\"kind\":\"email\"}]",
	 "[0]: bad placeholder"},
	{"[{\"placeholder\":\"[EMAIL_01]\",\"value\":\"a@b.com\",\"kind\":\"email\"}]",
	 "[0]: bad placeholder"},
	{"[{\"placeholder\":\"[EMAIL_0]\",\"value\":\"a@b.com\",\"kind\":\"email\"}]",
	 "[0]: bad placeholder"},
	{"[{\"placeholder\":\"x[EMAIL_1]\",\"value\":\"a@b.com\",\"kind\":\"email\"}]",
	 "[0]: bad placeholder"},
	{"[{\"placeholder\":\"[EMAIL_1]\",\"value\":\"a@b.com\",\"kind\":\"mail\"}]",
	 "[0]: unknown kind \"mail\""},
	{"[{\"placeholder\":\"[EMAIL_1]\",\"value\":\"a@b.com\",\"kind\":\"card\"}]",
	 "[0]: kind card with label EMAIL"},
	{"[{\"placeholder\":\"[PHONE_1]\",\"value\":\"1\",\"kind\":\"custom\"}]",
	 "[0]: custom kind with label PHONE"},
	{"[{\"placeholder\":\"[EMAIL_1]\",\"value\":\"a@b.com\",\"kind\":\"email\"},"
	 "{\"placeholder\":\"[EMAIL_1]\",\"value\":\"c@d.com\",\"kind\":\"email\"}]",
	 "[1]: duplicate placeholder or value"},
	{"[{\"placeholder\":\"[EMAIL_1]\",\"value\":\"a@b.com\",\"kind\":\"email\"},"
	 "{\"placeholder\":\"[EMAIL_2]\",\"value\":\"a@b.com\",\"kind\":\"email\"}]",
	 "[1]: duplicate placeholder or value"},
};

START_TEST(test_map_from_json_bad)
{
	json_object *j = json_tokener_parse(bad_maps[_i].json);
	struct redact_map m;
	char err[128] = "";

	ck_assert_ptr_nonnull(j);
	redact_map_init(&m);
	ck_assert_int_eq(redact_map_from_json(&m, j, err, sizeof(err)), -1);
	ck_assert_str_eq(err, bad_maps[_i].err);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_ptr_null(redact_map_lookup(&m, "[EMAIL_1]"));
	json_object_put(j);
	redact_map_cleanup(&m);
}
END_TEST

/* ---- custom patterns ---- */

static const struct {
	const char *label, *pattern, *err;
} bad_patterns[] = {
	{NULL, "x", "(null): label must be [A-Z][A-Z0-9_]*, at most 32 bytes"},
	{"", "x", ": label must be [A-Z][A-Z0-9_]*, at most 32 bytes"},
	{"order", "x", "order: label must be [A-Z][A-Z0-9_]*, at most 32 bytes"},
	{"1ORDER", "x", "1ORDER: label must be [A-Z][A-Z0-9_]*, at most 32 bytes"},
	{"ORDER_", "x", "ORDER_: label must be [A-Z][A-Z0-9_]*, at most 32 bytes"},
	{"ORDER-ID", "x", "ORDER-ID: label must be [A-Z][A-Z0-9_]*"},
	{"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", "x",
	 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456: label must be [A-Z][A-Z0-9_]*, at most 32 bytes"},
	{"EMAIL", "x", "EMAIL: label is reserved for a built-in detector"},
	{"LITERAL", "x", "LITERAL: label is reserved for a built-in detector"},
	{"ORDER_ID", "", "ORDER_ID: empty pattern"},
	{"ORDER_ID", NULL, "ORDER_ID: empty pattern"},
	{"ORDER_ID", "(ORD", "ORDER_ID: bad pattern: Unmatched ( or \\("},
	{"ORDER_ID", "[0-9]*", "ORDER_ID: pattern matches the empty string"},
};

START_TEST(test_pattern_bad)
{
	struct redactor *r = redactor_new();
	char err[128] = "";

	ck_assert_int_eq(redactor_add_pattern(r, bad_patterns[_i].label, bad_patterns[_i].pattern,
					      err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, bad_patterns[_i].err);
	redactor_free(r);
}
END_TEST

START_TEST(test_pattern_limit)
{
	struct redactor *r = redactor_new();
	char err[128] = "";

	for (int i = 0; i < REDACT_MAX_PATTERNS; i++)
		ck_assert_int_eq(redactor_add_pattern(r, "ACCOUNT", "AC[0-9]{8}", err, sizeof(err)),
				 0);
	ck_assert_int_eq(redactor_add_pattern(r, "ACCOUNT", "AC[0-9]{8}", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "ACCOUNT: too many patterns (max 32)");
	redactor_free(r);
	redactor_free(NULL);
}
END_TEST

START_TEST(test_pattern_match)
{
	struct redactor *r = redactor_new();
	struct redact_map m;
	struct redact_stats st;
	char err[128];
	char *out;

	ck_assert_int_eq(redactor_add_pattern(r, "ORDER_ID", "ORD-[0-9]{6,10}", err, sizeof(err)),
			 0);
	ck_assert_int_eq(redactor_add_pattern(r, "ORDER_ID", "#[0-9]{5}\\>", err, sizeof(err)), 0);
	ck_assert_int_eq(
		redactor_add_pattern(r, "ACCOUNT", "[0-9]{3}-[0-9]{3}-[0-9]{4}", err, sizeof(err)),
		0);
	ck_assert_int_eq(redactor_add_pattern(r, "X", "[a-z]+@[a-z]+\\.com", err, sizeof(err)), 0);
	ck_assert_int_eq(redactor_add_pattern(r, "CAFE", "caf.", err, sizeof(err)), 0);
	redact_map_init(&m);
	/* Case-insensitive; two patterns share ORDER_ID's numbering, in order of appearance. */
	out = redact_ok(r,
			"ticket #12345 about ord-1234567 and ORD-9876543210; acct 555-123-4567; "
			"mail a@b.com; un caf\xc3\xa9 noir; card 4111111111111111",
			&m, &st);
	ck_assert_str_eq(out, "ticket [ORDER_ID_1] about [ORDER_ID_2] and [ORDER_ID_3]; acct "
			      "[ACCOUNT_1]; mail [EMAIL_1]; un [CAFE_1] noir; card [CARD_1]");
	ck_assert_uint_eq(st.custom, 5);
	ck_assert_uint_eq(st.email, 1);
	ck_assert_uint_eq(st.card, 1);
	ck_assert_uint_eq(st.phone, 0);
	/* The match "caf\xc3" was widened to the whole character. */
	ck_assert_str_eq(redact_map_lookup(&m, "[CAFE_1]"), "caf\xc3\xa9");
	ck_assert_int_eq(m.entries[5].kind, REDACT_CUSTOM);
	free(out);
	redact_map_cleanup(&m);
	redactor_free(r);
}
END_TEST

/*
 * A custom pattern wins over a shield, never over a value: "ORD-523456"
 * glued to more digits is inside a card-shaped run with a bad check digit,
 * which the card detector shields as a look-alike; the operator named the
 * shape, so it is taken. Before, the shield kept it in every pass while its
 * other occurrences became placeholders, so a second redaction of the
 * output still found phones and order ids (fuzz_redact's fixed-point check,
 * tests/fuzz/regress/redact/second-pass-finds-phone-after-order-id).
 */
START_TEST(test_pattern_over_shield)
{
	struct redactor *r = redactor_new();
	struct redact_map m, m2;
	struct redact_stats st;
	char err[128];
	char *out, *again;
	const char *fuzzed = "ORD-5234564111555 2ORD-5454564111555 2ORD-5234564111555 "
			     "5ORD-5234564456411 52ORD-523456";

	ck_assert_int_eq(redactor_add_pattern(r, "ORDER_ID", "ORD-[0-9]{6}", err, sizeof(err)), 0);
	redact_map_init(&m);
	out = redact_ok(r, "ORD-5234564111555 2ORD-545456", &m, &st);
	ck_assert_str_eq(out, "[ORDER_ID_1]4111555 2[ORDER_ID_2]");
	ck_assert_uint_eq(st.custom, 2);
	free(out);
	/* A valid card stays a card: the pattern cannot take its digits. */
	out = redact_ok(r, "ORD-4111111111111111", &m, &st);
	ck_assert_str_eq(out, "ORD-[CARD_1]");
	ck_assert_uint_eq(st.custom, 0);
	ck_assert_uint_eq(st.card, 1);
	free(out);
	out = redact_ok(r, fuzzed, &m, &st);
	ck_assert_uint_eq(st.custom, 5);
	redact_map_init(&m2);
	again = redact_ok(r, out, &m2, &st);
	ck_assert_uint_eq(st.custom + st.phone + st.card + st.email + st.iban, 0);
	free(out);
	free(again);
	redact_map_cleanup(&m);
	redact_map_cleanup(&m2);
	redactor_free(r);
}
END_TEST

/* ---- failures leave the map as it was ---- */

static void assert_fails(const struct redactor *r, const char *in, size_t len, struct redact_map *m,
			 const char *want_err)
{
	char err[128] = "";
	size_t n = m->n;
	struct redact_stats st = {7, 7, 7, 7, 7, 7};

	ck_assert_ptr_null(redact_text(r, in, len, m, &st, err, sizeof(err)));
	ck_assert_str_eq(err, want_err);
	ck_assert_uint_eq(m->n, n);
	ck_assert_uint_eq(st.email, 7); /* untouched on failure */
}

START_TEST(test_failures)
{
	struct redactor *r = redactor_new();
	struct redact_map m;
	char err[128];
	char *out, *big;
	size_t n;

	ck_assert_int_eq(redactor_add_pattern(r, "LONG", "A{10,}", err, sizeof(err)), 0);
	ck_assert_int_eq(
		redactor_add_pattern(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "Q", err, sizeof(err)), 0);
	redact_map_init(&m);
	out = redact_ok(r, "first a@b.com", &m, NULL);
	free(out);
	ck_assert_uint_eq(m.n, 1);

	assert_fails(r, "caf\xc3\x28 c@d.com", strlen("caf\xc3\x28 c@d.com"), &m,
		     "text is not valid UTF-8");
	assert_fails(r, "c@d.com\0x", 9, &m, "text contains a NUL byte");

	/* A custom match over REDACT_MAX_VALUE bytes, after new values were found. */
	big = xmalloc(400);
	n = (size_t)snprintf(big, 400, "e@f.com 4111111111111111 ");
	memset(big + n, 'A', 300);
	big[n + 300] = '\0';
	assert_fails(r, big, strlen(big), &m, "pattern LONG matched 300 bytes (max 256)");
	free(big);

	/* Output over len * 2 + 1 KiB: 100 "Q" become 100 placeholders of 31 bytes. */
	big = xmalloc(201);
	for (int i = 0; i < 100; i++) {
		big[2 * i] = 'q';
		big[2 * i + 1] = ' ';
	}
	big[200] = '\0';
	assert_fails(r, big, 200, &m, "redacted text over 1424 bytes");
	free(big);

	/* After the failures the map goes on as if they never happened. */
	out = redact_ok(r, "g@h.com", &m, NULL);
	ck_assert_str_eq(out, "[EMAIL_2]");
	free(out);
	redact_map_cleanup(&m);
	redactor_free(r);
}
END_TEST

START_TEST(test_map_full)
{
	struct redact_map m;
	struct buf b;
	char *out;

	redact_map_init(&m);
	buf_init(&b, SIZE_MAX);
	for (int i = 0; i < REDACT_MAP_MAX - 1; i++)
		ck_assert_int_eq(buf_appendf(&b, "u%d@example.com ", i), 0);
	out = redact_ok(NULL, b.data, &m, NULL);
	ck_assert_uint_eq(m.n, REDACT_MAP_MAX - 1);
	ck_assert_str_eq(m.entries[REDACT_MAP_MAX - 2].placeholder, "[EMAIL_9999]");
	ck_assert_str_eq(redact_map_lookup(&m, "[EMAIL_5000]"), "u4999@example.com");
	free(out);
	/* Known values still pass; two new ones do not fit. */
	out = redact_ok(NULL, "u1@example.com", &m, NULL);
	ck_assert_str_eq(out, "[EMAIL_2]");
	free(out);
	assert_fails(NULL, "x@example.com y@example.com", 27, &m,
		     "more than 10000 distinct values to redact");
	buf_cleanup(&b);
	redact_map_cleanup(&m);
}
END_TEST

/* ---- the real-text corpus ---- */

struct corpus {
	char **line;
	size_t n;
};

static void corpus_load(struct corpus *c)
{
	FILE *f = fopen(CORPUS, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	ck_assert_msg(f != NULL, "cannot open %s", CORPUS);
	c->line = NULL;
	c->n = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		c->line = xrealloc(c->line, (c->n + 1) * sizeof(*c->line));
		c->line[c->n++] = xstrdup(line);
	}
	free(line);
	fclose(f);
	ck_assert_uint_eq(c->n, 300);
}

static void corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->line[i]);
	free(c->line);
}

static unsigned digit(uint64_t *rng)
{
	return (unsigned)(rng_next(rng) % 10);
}

/* Luhn check digit for payload p[0..n) (the check digit goes at p[n]). */
static char luhn_digit(const char *p, size_t n)
{
	unsigned sum = 0;

	for (size_t k = 0; k < n; k++) {
		unsigned d = (unsigned)(p[n - 1 - k] - '0');

		if (k % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

/* A card number as customers type it; valid 0 makes the Luhn digit wrong. */
static void gen_card(uint64_t *rng, unsigned variant, int valid, char *out, size_t outlen)
{
	static const struct {
		const char *prefix;
		size_t len;
		const char *groups; /* group sizes; "" unbroken */
		char sep;
	} kinds[] = {
		{"4", 16, "4444", ' '},	  {"51", 16, "4444", '-'}, {"2221", 16, "", 0},
		{"34", 15, "465", ' '},	  {"37", 15, "", 0},	   {"6011", 16, "4444", ' '},
		{"62", 19, "44443", ' '}, {"4", 13, "", 0},	   {"55", 16, "", 0},
	};
	const size_t nk = valid ? ARRAY_SIZE(kinds) : 3; /* invalid ones: 16 digits */
	const size_t k = variant % nk, plen = strlen(kinds[k].prefix), len = kinds[k].len;
	char d[20];
	size_t o = 0, i = 0;

	memcpy(d, kinds[k].prefix, plen);
	for (size_t x = plen; x < len - 1; x++)
		d[x] = (char)('0' + digit(rng));
	d[len - 1] = luhn_digit(d, len - 1);
	if (!valid)
		d[len - 1] = (char)('0' + (d[len - 1] - '0' + 1) % 10);
	if (kinds[k].groups[0] == '\0') {
		memcpy(out, d, len);
		o = len;
	}
	for (const char *g = kinds[k].groups; *g; g++) {
		size_t gs = (size_t)(*g - '0');

		if (i > 0)
			out[o++] = kinds[k].sep;
		memcpy(out + o, d + i, gs);
		o += gs;
		i += gs;
	}
	out[o] = '\0';
	ck_assert_uint_lt(o, outlen);
}

/* An IBAN of DE, GB, FR or NL with computed check digits; valid 0 breaks them. */
static void gen_iban(uint64_t *rng, unsigned variant, int valid, char *out, size_t outlen)
{
	static const struct {
		const char *cc;
		const char *shape; /* 9: digit, A: letter, X: letter or digit */
	} kinds[] = {
		{"DE", "999999999999999999"},
		{"GB", "AAAA99999999999999"},
		{"FR", "9999999999XXXXXXXXXXX99"},
		{"NL", "AAAA9999999999"},
	};
	const char *cc = kinds[variant % 4].cc, *shape = kinds[variant % 4].shape;
	char iban[40];
	size_t n = strlen(shape), o = 0;
	unsigned r = 0;

	memcpy(iban, cc, 2);
	for (size_t i = 0; i < n; i++) {
		unsigned x = (unsigned)(rng_next(rng) % 36);
		char c = shape[i] == '9'   ? (char)('0' + x % 10)
			 : shape[i] == 'A' ? (char)('A' + x % 26)
			 : x < 10	   ? (char)('0' + x)
					   : (char)('A' + x - 10);
		iban[4 + i] = c;
	}
	/* mod 97 of BBAN + country + "00", letters as 10..35. */
	for (size_t i = 0; i < n + 4; i++) {
		char c = i < n ? iban[4 + i] : i < n + 2 ? cc[i - n] : '0';

		r = c >= '0' && c <= '9' ? (r * 10 + (unsigned)(c - '0')) % 97
					 : (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
	}
	r = 98 - r;
	iban[2] = (char)('0' + r / 10);
	iban[3] = (char)('0' + r % 10);
	if (!valid) /* one more on the last digit changes the remainder mod 97 */
		iban[n + 3] = (char)('0' + (iban[n + 3] - '0' + 1) % 10);
	for (size_t i = 0; i < n + 4; i++) {
		if (variant % 8 >= 4 && i > 0 && i % 4 == 0)
			out[o++] = ' ';
		out[o++] = iban[i];
	}
	out[o] = '\0';
	ck_assert_uint_lt(o, outlen);
}

static void gen_email(uint64_t *rng, unsigned variant, char *out, size_t outlen)
{
	static const char *const first[] = {"john", "maria", "li", "olu", "j\xc3\xbcrgen", "ana"};
	static const char *const last[] = {"smith", "garcia", "wang", "adeyemi", "m\xc3\xbcller"};
	static const char *const dom[] = {"example.com", "mail.example.co.uk", "example.org",
					  "bank-example.de", "Example.NET"};
	const char *f = first[rng_next(rng) % ARRAY_SIZE(first)];
	const char *l = last[rng_next(rng) % ARRAY_SIZE(last)];
	const char *d = dom[rng_next(rng) % ARRAY_SIZE(dom)];
	unsigned k = digit(rng) * 10 + digit(rng);

	if (variant % 4 == 0)
		snprintf(out, outlen, "%s.%s@%s", f, l, d);
	else if (variant % 4 == 1)
		snprintf(out, outlen, "%s_%s%u@%s", f, l, k, d);
	else if (variant % 4 == 2)
		snprintf(out, outlen, "%c.%s+support@%s", f[0], l, d);
	else
		snprintf(out, outlen, "%s%u@%s", l, k, d);
}

static void gen_phone(uint64_t *rng, unsigned variant, char *out, size_t outlen)
{
	static const char *const shapes[] = {
		"+44 20 #### ####", "+1 (555) ###-####", "(555) ###-####",	"555-###-####",
		"555.###.####",	    "+49 30 ########",	 "+33 6 ## ## ## ##",	"06 ## ## ## ##",
		"020 #### ####",    "+491511#######",	 "+44 (0)20 #### ####", "0049 30 #######",
		"07700 9#####",	    "612 ### ###",	 "+1-555-###-####",	"+34 612 ### ###",
	};
	const char *s = shapes[variant % ARRAY_SIZE(shapes)];
	size_t o = 0;

	for (; *s; s++)
		out[o++] = *s == '#' ? (char)('0' + digit(rng)) : *s;
	out[o] = '\0';
	ck_assert_uint_lt(o, outlen);
}

enum plant { PL_CARD, PL_IBAN, PL_EMAIL, PL_PHONE, PL__COUNT };

static const enum redact_kind plant_kind[PL__COUNT] = {REDACT_CARD, REDACT_IBAN, REDACT_EMAIL,
						       REDACT_PHONE};

static void gen_value(uint64_t *rng, enum plant p, unsigned variant, char *out, size_t outlen)
{
	if (p == PL_CARD)
		gen_card(rng, variant, 1, out, outlen);
	else if (p == PL_IBAN)
		gen_iban(rng, variant, 1, out, outlen);
	else if (p == PL_EMAIL)
		gen_email(rng, variant, out, outlen);
	else
		gen_phone(rng, variant, out, outlen);
}

/* line with a inserted at the space nearest the middle and b at the end: "line[..] a line[..] b."
 */
static char *plant(const char *line, const char *a, const char *b)
{
	size_t n = strlen(line), mid = n / 2, best = SIZE_MAX;
	struct buf o;

	for (size_t i = 0; i < n; i++)
		if (line[i] == ' ' &&
		    (best == SIZE_MAX ||
		     (i > mid ? i - mid : mid - i) < (best > mid ? best - mid : mid - best)))
			best = i;
	buf_init(&o, SIZE_MAX);
	if (best == SIZE_MAX)
		ck_assert_int_eq(buf_appendf(&o, "%s %s %s.", a, line, b), 0);
	else
		ck_assert_int_eq(
			buf_appendf(&o, "%.*s %s%s %s.", (int)best, line, a, line + best, b), 0);
	return buf_steal(&o);
}

/*
 * value went into one entry of the map, of the expected kind. The entry may
 * be longer when the real text next to it belongs to the number: "this 1
 * 555-678-0922" is the US form "1 555 678 0922".
 */
static void assert_in_map(const struct redact_map *m, const char *value, enum redact_kind kind,
			  const char *line)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strstr(m->entries[i].value, value) != NULL) {
			ck_assert_msg(m->entries[i].kind == kind, "\"%s\" redacted as %s, not %s",
				      value, redact_kind_name(m->entries[i].kind),
				      redact_kind_name(kind));
			return;
		}
	}
	ck_abort_msg("\"%s\" not redacted as one value in: %s", value, line);
}

/* No value found in the unplanted corpus: the real text comes through unchanged. */
START_TEST(test_corpus_unplanted)
{
	struct corpus c;
	unsigned found = 0;

	corpus_load(&c);
	for (size_t i = 0; i < c.n; i++) {
		struct redact_map m;
		struct redact_stats st;
		char *out;

		redact_map_init(&m);
		out = redact_ok(NULL, c.line[i], &m, &st);
		found += st.email + st.phone + st.card + st.iban + st.custom + st.literal;
		if (m.n)
			fprintf(stderr, "corpus line %zu: %s = \"%s\"\n", i + 1,
				m.entries[0].placeholder, m.entries[0].value);
		assert_restores(&m, out, c.line[i]);
		free(out);
		redact_map_cleanup(&m);
	}
	printf("pii corpus: %zu lines, %u values found without planting (false positives)\n", c.n,
	       found);
	ck_assert_uint_eq(found, 0);
	corpus_free(&c);
}
END_TEST

/* Two generated values per line, of every kind and format: none may survive. */
START_TEST(test_corpus_planted)
{
	struct corpus c;
	uint64_t rng = 20261124;
	unsigned planted = 0, left = 0, per_kind[PL__COUNT] = {0};

	corpus_load(&c);
	for (size_t i = 0; i < c.n; i++) {
		enum plant pa = (enum plant)(i % PL__COUNT), pb = (enum plant)((i + 1) % PL__COUNT);
		char a[64], b[64], *line, *out;
		struct redact_map m;
		struct redact_stats st;

		gen_value(&rng, pa, (unsigned)(i / PL__COUNT), a, sizeof(a));
		gen_value(&rng, pb, (unsigned)(i / PL__COUNT + 3), b, sizeof(b));
		line = plant(c.line[i], a, b);
		redact_map_init(&m);
		out = redact_ok(NULL, line, &m, &st);
		planted += 2;
		per_kind[pa]++;
		per_kind[pb]++;
		left += (strstr(out, a) != NULL) + (strstr(out, b) != NULL);
		ck_assert_msg(strstr(out, a) == NULL, "planted \"%s\" left in: %s", a, out);
		ck_assert_msg(strstr(out, b) == NULL, "planted \"%s\" left in: %s", b, out);
		assert_in_map(&m, a, plant_kind[pa], line);
		assert_in_map(&m, b, plant_kind[pb], line);
		/* Nothing else was taken from the real text. */
		ck_assert_msg(st.email + st.phone + st.card + st.iban == 2, "line %zu: %s", i + 1,
			      out);
		ck_assert(utf8_valid(out, strlen(out)));
		assert_restores(&m, out, line);
		free(out);
		free(line);
		redact_map_cleanup(&m);
	}
	printf("pii corpus: %u values planted (%u card, %u iban, %u email, %u phone), %u left\n",
	       planted, per_kind[PL_CARD], per_kind[PL_IBAN], per_kind[PL_EMAIL],
	       per_kind[PL_PHONE], left);
	ck_assert_uint_eq(planted, 600);
	corpus_free(&c);
}
END_TEST

/* Luhn-invalid cards and checksum-invalid IBANs planted the same way stay as written. */
START_TEST(test_corpus_invalid_kept)
{
	struct corpus c;
	uint64_t rng = 424242;

	corpus_load(&c);
	for (size_t i = 0; i < c.n; i++) {
		char a[64], b[64], *line, *out;
		struct redact_map m;

		gen_card(&rng, (unsigned)i, 0, a, sizeof(a));
		gen_iban(&rng, (unsigned)i, 0, b, sizeof(b));
		line = plant(c.line[i], a, b);
		redact_map_init(&m);
		out = redact_ok(NULL, line, &m, NULL);
		ck_assert_msg(strcmp(out, line) == 0, "changed: %s\n  into: %s", line, out);
		ck_assert_uint_eq(m.n, 0);
		free(out);
		free(line);
		redact_map_cleanup(&m);
	}
	corpus_free(&c);
}
END_TEST

/* ---- the forms corpus: leaks per form, over-redaction per look-alike ---- */

#define FORMS_MAX 128

struct form_count {
	char form[64];
	char kind[8];
	unsigned planted, missed;
};

static struct form_count *form_slot(struct form_count *fc, size_t *n, const char *form,
				    const char *kind)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(fc[i].form, form) == 0)
			return &fc[i];
	ck_assert_uint_lt(*n, FORMS_MAX);
	ck_assert_uint_lt(strlen(form), sizeof(fc[0].form));
	ck_assert_uint_lt(strlen(kind), sizeof(fc[0].kind));
	memcpy(fc[*n].form, form, strlen(form) + 1);
	memcpy(fc[*n].kind, kind, strlen(kind) + 1);
	return &fc[(*n)++];
}

/*
 * Each line "form<TAB>kind<TAB>text", the value marked in text by U+27E6
 * U+27E7 (removed before redaction), "\n" a line break. A value of a kind
 * (email, phone, card, iban) leaks unless the map holds exactly it, with
 * that kind: the whole value, no more, no less. A "keep" value is
 * over-redacted unless the output still holds it as written.
 */
START_TEST(test_corpus_forms)
{
	static struct form_count fc[FORMS_MAX];
	size_t nfc = 0, lineno = 0;
	unsigned leaks = 0, over = 0, values = 0;
	char line[2048];
	FILE *f = fopen(FORMS, "r");
	struct redactor *r = redactor_new();

	ck_assert_msg(f != NULL, "cannot open %s", FORMS);
	while (fgets(line, sizeof(line), f)) {
		char text[2048], *form = line, *kind, *src, *out, *vs, *ve;
		size_t n = 0, v0 = 0, v1 = 0;
		struct redact_map m;
		struct form_count *c;
		int found = 0;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		kind = strchr(form, '\t');
		ck_assert_msg(kind != NULL, "forms line %zu: no kind", lineno);
		*kind++ = '\0';
		src = strchr(kind, '\t');
		ck_assert_msg(src != NULL, "forms line %zu: no text", lineno);
		*src++ = '\0';
		vs = strstr(src, "\xe2\x9f\xa6");
		ve = strstr(src, "\xe2\x9f\xa7");
		ck_assert_msg(vs != NULL && ve != NULL && vs < ve, "forms line %zu: no value", lineno);
		for (const char *p = src; *p; p++) {
			if (p == vs || p == ve) {
				*(p == vs ? &v0 : &v1) = n;
				p += 2;
				continue;
			}
			if (p[0] == '\\' && p[1] == 'n') {
				text[n++] = '\n';
				p++;
				continue;
			}
			text[n++] = *p;
		}
		text[n] = '\0';
		redact_map_init(&m);
		out = redact_ok(r, text, &m, NULL);
		assert_restores(&m, out, text);
		c = form_slot(fc, &nfc, form, kind);
		c->planted++;
		values++;
		if (strcmp(kind, "keep") == 0) {
			char *v = strndup(text + v0, v1 - v0);

			if (strstr(out, v) == NULL) {
				c->missed++;
				over++;
				fprintf(stderr, "forms line %zu: over-redacted %s: \"%s\" -> \"%s\"\n",
					lineno, form, text, out);
			}
			free(v);
		} else {
			for (size_t i = 0; i < m.n; i++)
				if (strlen(m.entries[i].value) == v1 - v0 &&
				    memcmp(m.entries[i].value, text + v0, v1 - v0) == 0 &&
				    strcmp(redact_kind_name(m.entries[i].kind), kind) == 0)
					found = 1;
			if (!found) {
				c->missed++;
				leaks++;
				fprintf(stderr, "forms line %zu: leaked %s: \"%s\" -> \"%s\"\n", lineno,
					form, text, out);
			}
		}
		free(out);
		redact_map_cleanup(&m);
	}
	fclose(f);
	redactor_free(r);
	printf("pii forms corpus: %u values, %u leaked, %u over-redacted\n", values, leaks, over);
	printf("  %-34s %-6s %7s %s\n", "form", "kind", "planted", "leaked/over-redacted");
	for (size_t i = 0; i < nfc; i++)
		printf("  %-34s %-6s %7u %u\n", fc[i].form, fc[i].kind, fc[i].planted, fc[i].missed);
	ck_assert_uint_gt(values, 250);
	ck_assert_msg(leaks == 0, "%u values of claimed forms leaked (see above)", leaks);
	ck_assert_msg(over == 0, "%u look-alikes over-redacted (see above)", over);
}
END_TEST

/* The leading-0 10-digit choice: a phone by default, kept on request unless a phone word is near. */
START_TEST(test_lead0_setting)
{
	struct redactor *r = redactor_new();
	struct redact_map m;
	char *out;

	redact_map_init(&m);
	out = redact_ok(r, "ref 0412345678 ok", &m, NULL);
	ck_assert_str_eq(out, "ref [PHONE_1] ok");
	free(out);
	redactor_set_lead0(r, REDACT_LEAD0_KEEP);
	out = redact_ok(r, "ref 0412345678 ok", &m, NULL);
	ck_assert_str_eq(out, "ref 0412345678 ok");
	free(out);
	out = redact_ok(r, "call me on 0412345678", &m, NULL);
	ck_assert_str_eq(out, "call me on [PHONE_1]");
	free(out);
	out = redact_ok(r, "0412 345 678 and 04123456789", &m, NULL);
	ck_assert_str_eq(out, "[PHONE_2] and [PHONE_3]");
	free(out);
	redact_map_cleanup(&m);
	redactor_free(r);
}
END_TEST

static Suite *redact_suite(void)
{
	Suite *s = suite_create("redact");
	TCase *tc = tcase_create("detectors");

	tcase_add_loop_test(tc, test_found, 0, ARRAY_SIZE(found_cases));
	tcase_add_loop_test(tc, test_kept, 0, ARRAY_SIZE(kept_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("map");
	tcase_add_test(tc, test_map_shared_numbering);
	tcase_add_test(tc, test_restore);
	tcase_add_test(tc, test_map_json_roundtrip);
	tcase_add_loop_test(tc, test_map_from_json_bad, 0, ARRAY_SIZE(bad_maps));
	tcase_add_test(tc, test_map_full);
	suite_add_tcase(s, tc);

	tc = tcase_create("patterns");
	tcase_add_loop_test(tc, test_pattern_bad, 0, ARRAY_SIZE(bad_patterns));
	tcase_add_test(tc, test_pattern_limit);
	tcase_add_test(tc, test_pattern_match);
	tcase_add_test(tc, test_pattern_over_shield);
	tcase_add_test(tc, test_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("corpus");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_corpus_unplanted);
	tcase_add_test(tc, test_corpus_planted);
	tcase_add_test(tc, test_corpus_invalid_kept);
	tcase_add_test(tc, test_corpus_forms);
	tcase_add_test(tc, test_lead0_setting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(redact_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
