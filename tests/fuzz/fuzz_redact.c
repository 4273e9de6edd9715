/*
 * fuzz_redact: libFuzzer harness for PII redaction (service/core/redact.c).
 * The input is ticket text. The first byte picks the leading-0 choice (odd:
 * keep); the whole input is redacted with the built-in detectors and one
 * custom pattern, into a fresh map.
 * Invariants:
 *   - valid UTF-8 without NUL is always accepted (the only allowed failures
 *     are the caps: output size, distinct values), anything else refused;
 *   - restoring the placeholders gives back the input byte for byte;
 *   - no claimed card form (a whole run of 13-19 digits, unbroken or grouped
 *     as cards are printed, starting 2-6, Luhn-valid, not glued to a longer
 *     token) and no plain e-mail address (dot-atom@labels.tld) is left in
 *     the output, by an oracle written apart from the detectors;
 *   - redacting the output again finds nothing but our placeholders (the
 *     detectors run to a fixed point).
 * Must not leak.
 */
#include <string.h>

#include "fuzz.h"
#include "redact.h"
#include "ticket.h" /* utf8_valid */

#define ORACLE_LOCAL_MAX 100
#define ORACLE_DOMAIN_MAX 200

static int odigit(int c)
{
	return c >= '0' && c <= '9';
}

static int oalpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int oalnum(int c)
{
	return odigit(c) || oalpha(c);
}

/* Byte at i of s[0..n), or -1 outside. */
static int ob(const char *s, size_t n, size_t i)
{
	return i < n ? (unsigned char)s[i] : -1;
}

/* Next to a run: a byte that could carry it on once normalised (non-ASCII, a line break). */
static int ocontinues(int c)
{
	return c >= 0x80 || c == '\n' || c == '\r';
}

/*
 * A claimed card form starting at i, as a whole run: groups of digits
 * separated by one space or one dash (the same throughout).
 */
static int oracle_card_at(const char *s, size_t n, size_t i, size_t *end)
{
	size_t nd[12], ng = 0, j = i, digits = 0;
	int sep = 0, p = i > 0 ? (unsigned char)s[i - 1] : -1, q;
	unsigned sum = 0, pos = 0;

	for (;;) {
		size_t st = j;

		while (odigit(ob(s, n, j)))
			j++;
		if (ng == 12)
			return 0;
		nd[ng++] = j - st;
		digits += j - st;
		q = ob(s, n, j);
		if ((q == ' ' || q == '-') && (sep == 0 || q == sep) && odigit(ob(s, n, j + 1))) {
			sep = q;
			j++;
			continue;
		}
		break;
	}
	*end = j;
	/*
	 * Bounded: not glued to a token, no separator going on, no decimals; not
	 * next to a placeholder (a custom pattern may end inside a token).
	 */
	if (oalnum(p) || (p != -1 && strchr("+-.,/_'\"[]@", p)) || ocontinues(p))
		return 0;
	if (p == ' ' && i >= 2 && (odigit(ob(s, n, i - 2)) || ocontinues(ob(s, n, i - 2))))
		return 0;
	/* A UPS tracking number "1Z" + 16 characters, grouped: kept as a whole by design. */
	if (p == ' ' && i >= 3 && s[i - 3] == '1' && (s[i - 2] == 'Z' || s[i - 2] == 'z'))
		return 0;
	q = ob(s, n, j);
	if (oalnum(q) || ocontinues(q) || (q != -1 && strchr("@_-/.,:%\"[]", q)))
		return 0;
	if (q == ' ' && (odigit(ob(s, n, j + 1)) || ocontinues(ob(s, n, j + 1))))
		return 0;
	if (digits < 13 || digits > 19 || s[i] < '2' || s[i] > '6')
		return 0;
	if (ng > 1) {
		int fours = (ng == 4 || ng == 5) && sep == ' ';

		for (size_t k = 0; k < 4 && k < ng; k++)
			if (nd[k] != 4)
				fours = 0;
		if (ng == 5 && nd[4] != 3)
			fours = 0;
		if (!fours && !(ng == 3 && sep == ' ' && nd[0] == 4 && nd[1] == 6 &&
				(nd[2] == 4 || nd[2] == 5)))
			return 0;
	}
	for (size_t k = j; k-- > i;) {
		unsigned d;

		if (!odigit(s[k]))
			continue;
		d = (unsigned)(s[k] - '0');
		if (pos++ % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

static int olocal(int c)
{
	return oalnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* A plain ASCII address around the "@" at k. */
static int oracle_email_at(const char *s, size_t n, size_t k)
{
	size_t a = k, e = k + 1, ls, dots = 0;

	while (a > 0 && olocal((unsigned char)s[a - 1]) && k - a <= ORACLE_LOCAL_MAX)
		a--;
	if (k - a > ORACLE_LOCAL_MAX || (a > 0 && ocontinues((unsigned char)s[a - 1])) ||
	    (a > 0 && strchr("\"[", s[a - 1])))
		return 0;
	while (a < k && s[a] == '.')
		a++;
	if (a == k)
		return 0;
	while (e < n && (oalnum(s[e]) || s[e] == '.' || s[e] == '-') && e - k <= ORACLE_DOMAIN_MAX)
		e++;
	if (e - k > ORACLE_DOMAIN_MAX || ocontinues(ob(s, n, e)) || ob(s, n, e) == '@' ||
	    ob(s, n, e) == '_' || ob(s, n, e) == '[')
		return 0;
	while (e > k + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
		e--;
	/* Labels: non-empty, <= 63, no dash at an end; the last one >= 2 letters. */
	ls = k + 1;
	for (size_t i = k + 1; i <= e; i++) {
		if (i < e && s[i] != '.')
			continue;
		if (i == ls || i - ls > 63 || s[ls] == '-' || s[i - 1] == '-')
			return 0;
		if (i == e) {
			if (i - ls < 2)
				return 0;
			for (size_t x = ls; x < i; x++)
				if (!oalpha(s[x]))
					return 0;
		} else {
			dots++;
		}
		ls = i + 1;
	}
	return dots > 0;
}

static void check_output(const char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t end;

		if (out[i] == '@')
			FUZZ_CHECK(!oracle_email_at(out, n, i));
		if (odigit(out[i]) && (i == 0 || !odigit(out[i - 1]))) {
			FUZZ_CHECK(!oracle_card_at(out, n, i, &end));
		}
	}
}

int fuzz_redact_one(const uint8_t *data, size_t size)
{
	static struct redactor *r[2];
	struct redact_map m, m2;
	struct redact_stats st;
	char err[256] = "", *out = NULL, *back = NULL, *again = NULL;
	const char *text = (const char *)data;
	int keep = size > 0 && (data[0] & 1);

	if (r[0] == NULL) {
		for (int k = 0; k < 2; k++) {
			r[k] = redactor_new();
			redactor_set_lead0(r[k], k ? REDACT_LEAD0_KEEP : REDACT_LEAD0_PHONE);
			FUZZ_CHECK(redactor_add_pattern(r[k], "ORDER_ID", "ORD-[0-9]{6}", err,
							sizeof(err)) == 0);
		}
	}
	redact_map_init(&m);
	redact_map_init(&m2);
	out = redact_text(r[keep], text, size, &m, &st, err, sizeof(err));
	if (out == NULL) {
		FUZZ_CHECK(!utf8_valid(text, size) || memchr(text, '\0', size) != NULL ||
			   strstr(err, "over") != NULL || strstr(err, "more than") != NULL);
		FUZZ_CHECK(m.n == 0);
		goto out;
	}
	FUZZ_CHECK(utf8_valid(text, size) && memchr(text, '\0', size) == NULL);
	back = redact_restore(&m, out, size + 1, err, sizeof(err));
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(strlen(back) == size && memcmp(back, text, size) == 0);
	check_output(out, strlen(out));
	/*
	 * redact_text runs its detectors to a fixed point (a value taken is a
	 * new boundary for its neighbours, "ORD-1234504111111111111111"), so
	 * the output holds nothing more to take, of any kind: only our own
	 * placeholders, read as literals.
	 */
	again = redact_text(r[keep], out, strlen(out), &m2, &st, err, sizeof(err));
	if (again != NULL)
		FUZZ_CHECK(st.card == 0 && st.email == 0 && st.phone == 0 && st.iban == 0 &&
			   st.custom == 0);
out:
	free(out);
	free(back);
	free(again);
	redact_map_cleanup(&m);
	redact_map_cleanup(&m2);
	return 0;
}

#ifndef TRIAGED_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_redact_one(data, size);
}
#endif
