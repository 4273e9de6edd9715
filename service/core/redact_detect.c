/*
 * redact_detect: see redact_detect.h. Owns what counts as a literal
 * placeholder, an IBAN, a payment card, an e-mail address or a custom
 * pattern's match in the normalised view, and the shields (IPv4 addresses,
 * tracking numbers) no detector may take digits from. Must never do I/O,
 * read the clock or log, and never writes the map (redact.c does).
 */
#include "redact_detect.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmem.h"

#define IBAN_MAX 34
#define CARD_GROUPS 12
#define EMAIL_LOCAL_MAX 128
#define EMAIL_DOMAIN_MAX 255

/* ---- literal placeholders ---- */

void redact_detect_literal(struct redact_scan *sc)
{
	for (size_t i = 0; i < sc->len; i++) {
		size_t n;

		if (sc->t[i] != '[')
			continue;
		n = redact_placeholder_len(sc->t + i, sc->len - i);
		if (n) {
			redact_scan_add_span(sc, i, i + n, REDACT_LITERAL);
			i += n - 1;
		}
	}
}

/* ---- IBAN ---- */

static const struct {
	char cc[3];
	unsigned char len;
} iban_lengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18},
    {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
    {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LI", 21},
    {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25},
    {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VG", 24}, {"XK", 20},
};

static unsigned iban_length(const char *cc)
{
	for (size_t i = 0; i < ARRAY_SIZE(iban_lengths); i++)
		if (cc[0] == iban_lengths[i].cc[0] && cc[1] == iban_lengths[i].cc[1])
			return iban_lengths[i].len;
	return 0;
}

/* ISO 13616 check on c[0..n) (upper case): the first four characters moved to the end. */
static int iban_mod97(const char *c, size_t n)
{
	unsigned r = 0;

	for (size_t k = 0; k < n; k++) {
		char ch = c[(k + 4) % n];

		if (redact_is_digit(ch))
			r = (r * 10 + (unsigned)(ch - '0')) % 97;
		else
			r = (r * 100 + (unsigned)(ch - 'A' + 10)) % 97;
	}
	return r == 1;
}

void redact_detect_iban(struct redact_scan *sc)
{
	const char *t = sc->t;

	for (size_t i = 0; i + 4 <= sc->len; i++) {
		char c[IBAN_MAX];
		size_t end[IBAN_MAX + 1], n = 0, j = i;
		unsigned known;

		if (!redact_is_alpha(t[i]) || !redact_is_alpha(t[i + 1]) ||
		    !redact_is_digit(t[i + 2]) || !redact_is_digit(t[i + 3]) ||
		    !redact_scan_token_start(sc, i) || sc->claim[i] != REDACT_CL_FREE)
			continue;
		/* Alphanumerics, single spaces only between groups of four, wraps anywhere. */
		while (j < sc->len && n < IBAN_MAX && sc->claim[j] == REDACT_CL_FREE) {
			if (redact_is_alnum(t[j])) {
				c[n++] = (char)redact_to_upper(t[j]);
				end[n] = ++j;
			} else if (((t[j] == ' ' && n % 4 == 0) || t[j] == '\n') &&
				   redact_is_alnum(redact_scan_at(sc, j + 1)) &&
				   sc->claim[j + 1] == REDACT_CL_FREE) {
				/* A wrapped line may break an IBAN anywhere: mod 97 decides. */
				j++;
			} else {
				break;
			}
		}
		if (n < 15)
			continue;
		known = iban_length(c);
		if (known) {
			/* Exactly the country's length, ending where a token ends. */
			if (n < known || !redact_scan_token_end(sc, end[known]))
				continue;
			if (iban_mod97(c, known)) {
				redact_scan_add_span(sc, i, end[known], REDACT_IBAN);
			} else if (memchr(t + i, '\n', end[known] - i) != NULL) {
				/* Across a line break only mod 97 makes it one: a bad checksum
				 * there is words and numbers that happen to line up ("ad54"
				 * over "> 5555 5555 5555 4444 O055" reads as Andorra's 24
				 * characters), each left to the other detectors. */
				continue;
			} else {
				/* IBAN-shaped with a bad checksum: keep its digits from the others.
				 */
				memset(sc->claim + i, REDACT_CL_SHIELD, end[known] - i);
			}
			i = end[known] - 1;
			continue;
		}
		for (size_t l = n; l >= 15; l--) {
			if (redact_scan_token_end(sc, end[l]) && iban_mod97(c, l)) {
				redact_scan_add_span(sc, i, end[l], REDACT_IBAN);
				i = end[l] - 1;
				break;
			}
		}
	}
}

static int luhn_ok(const struct redact_scan *sc, const struct redact_group *g, size_t a, size_t b)
{
	unsigned sum = 0, pos = 0;

	/* From the last digit backwards: every second digit doubled. */
	for (size_t k = b + 1; k-- > a;) {
		for (size_t i = g[k].end; i-- > g[k].start;) {
			unsigned d = (unsigned)(sc->t[i] - '0');

			if (pos++ % 2 == 1) {
				d *= 2;
				if (d > 9)
					d -= 9;
			}
			sum += d;
		}
	}
	return sum % 10 == 0;
}

/* 13-19 digits written as cards are: unbroken, 4-4-4-4(-1..4), or 4-6-4/4-6-5. */
static int card_shaped(const struct redact_group *g, size_t ng)
{
	unsigned nd = 0;
	int fours = 1;

	for (size_t k = 0; k < ng; k++) {
		nd += g[k].nd;
		if (k + 1 < ng && g[k].nd != 4)
			fours = 0;
	}
	if (nd < 13 || nd > 19)
		return 0;
	return ng == 1 || (fours && g[ng - 1].nd <= 4) ||
	       (ng == 3 && g[0].nd == 4 && g[1].nd == 6 && (g[2].nd == 4 || g[2].nd == 5));
}

/*
 * g[a..b] written as cards are: unbroken, or grouped as the networks print
 * them (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4) with spaces.
 */
static int card_canonical(const struct redact_group *g, size_t a, size_t b)
{
	size_t n = b - a + 1;

	if (n == 1)
		return 1;
	for (size_t k = a + 1; k <= b; k++)
		if (g[k].sep != ' ')
			return 0;
	if (n == 4 || n == 5) {
		for (size_t k = a; k < a + 4; k++)
			if (g[k].nd != 4)
				return 0;
		return n == 4 || g[b].nd == 3;
	}
	return n == 3 && g[a].nd == 4 && g[a + 1].nd == 6 && (g[b].nd == 4 || g[b].nd == 5);
}

/*
 * Find cards in one run of digit groups g[0..ng): a card is the whole run,
 * whole lines of it where it goes on across a wrapped line, or a stretch
 * grouped as cards are printed ("item 12 4111 1111 1111 1111"); first and
 * longest wins. A card is never cut out of a longer number: when a group
 * of four or more digits left over touches a card, the run is one number
 * (161-2211209-0420230 is an order, 9400 1000 0000 0000 0000 00 a parcel)
 * and nothing is taken from it. A run left alone that is shaped like a card
 * (a wrong check digit, a longer number) is shielded as a whole, so the
 * phone detector does not cut a number out of it either.
 */
static void card_in_run(struct redact_scan *sc, const struct redact_group *g, size_t ng)
{
	size_t a = 0, nsp = sc->nsp, before_pass;
	unsigned char taken[CARD_GROUPS] = {0};
	int undo;

	/*
	 * Passes until nothing new is found: a card taken ends the run for the
	 * groups beside it (as its placeholder will), so that redacting the
	 * output again finds nothing more.
	 */
again:
	before_pass = sc->nsp;
	a = 0;
	while (a < ng) {
		size_t found = SIZE_MAX;

		if (taken[a]) {
			a++;
			continue;
		}
		for (size_t b = ng; b-- > a;) {
			unsigned nd = 0;
			int sizes_ok = 1, whole, free_run = 1;

			for (size_t k = a; k <= b; k++)
				if (taken[k])
					free_run = 0;
			if (!free_run)
				continue;
			whole = (a == 0 || g[a].sep == 'W' || taken[a - 1]) &&
				(b + 1 == ng || g[b + 1].sep == 'W' || taken[b + 1]);
			if (!whole && !card_canonical(g, a, b))
				continue;
			for (size_t k = a; k <= b; k++) {
				nd += g[k].nd;
				if (a < b && (g[k].nd < 2 || g[k].nd > 8))
					sizes_ok = 0;
			}
			/* Issuer numbers of the payment networks start with 2-6. */
			if (sizes_ok && nd >= 13 && nd <= 19 && sc->t[g[a].start] >= '2' &&
			    sc->t[g[a].start] <= '6' && luhn_ok(sc, g, a, b)) {
				found = b;
				break;
			}
		}
		if (found == SIZE_MAX) {
			a++;
			continue;
		}
		redact_scan_add_span(sc, g[a].start, g[found].end, REDACT_CARD);
		memset(taken + a, found > a ? 2 : 1, found - a + 1);
		a = found + 1;
	}
	if (sc->nsp != before_pass)
		goto again;
	/*
	 * A leftover group of four or more digits glued to a card by a dash, or
	 * by a space to a grouped card, makes that line of the run one longer
	 * number: its cards are given back and the line shielded.
	 */
	for (size_t s0 = 0, s1; s0 < ng; s0 = s1 + 1) {
		size_t bs, be, keep = nsp;

		for (s1 = s0; s1 + 1 < ng && g[s1 + 1].sep != 'W'; s1++)
			;
		undo = 0;
		for (size_t k = s0; k <= s1; k++) {
			if (taken[k] || g[k].nd < 4)
				continue;
			if (k > s0 && taken[k - 1] &&
			    (g[k].sep != ' ' || (taken[k - 1] == 2 && g[k].nd == 4)))
				undo = 1;
			if (k < s1 && taken[k + 1] &&
			    (g[k + 1].sep != ' ' || (taken[k + 1] == 2 && g[k].nd == 4)))
				undo = 1;
		}
		if (!undo)
			continue;
		bs = g[s0].start;
		be = g[s1].end;
		for (size_t k = nsp; k < sc->nsp; k++) {
			if (sc->sp[k].start >= bs && sc->sp[k].start < be)
				memset(sc->claim + sc->sp[k].start, REDACT_CL_FREE,
				       sc->sp[k].end - sc->sp[k].start);
			else
				sc->sp[keep++] = sc->sp[k];
		}
		sc->nsp = keep;
		memset(sc->claim + bs, REDACT_CL_SHIELD, be - bs);
	}
	if (sc->nsp == nsp && card_shaped(g, ng) && sc->t[g[0].start] >= '2' &&
	    sc->t[g[0].start] <= '6')
		memset(sc->claim + g[0].start, REDACT_CL_SHIELD, g[ng - 1].end - g[0].start);
}

void redact_detect_card(struct redact_scan *sc)
{
	const char *t = sc->t;
	size_t i = 0;

	while (i < sc->len) {
		struct redact_group g[CARD_GROUPS];
		size_t ng = 0, j = i, last_w = 0, ye;
		int sepcls = 0, ok = 1, p = redact_scan_before(sc, i, 1), q, cls = 0;

		if (!redact_is_digit(t[i]) || sc->claim[i] != REDACT_CL_FREE) {
			i++;
			continue;
		}
		/*
		 * Glued to a token, or after "+" (a phone number) or inside a
		 * decimal number, or in an e-mail address (which takes it whole).
		 */
		if (redact_is_alnum(p) || p == '+' || p == '@' ||
		    ((p == '.' || p == ',') && redact_is_digit(redact_scan_before(sc, i, 2))))
			ok = 0;
		/*
		 * Right after a UPS "1Z " (a token of its own): the first group is
		 * the tracking number's, which redact_detect_tracking keeps whole.
		 * Tracking runs after this detector, so that "1ZCard 4111 1111 1111
		 * 1111" (1Z and 16 letters or digits, loosely) cannot shield a card.
		 */
		if (p == ' ' && redact_scan_before(sc, i, 3) == '1' &&
		    (redact_scan_before(sc, i, 2) == 'Z' || redact_scan_before(sc, i, 2) == 'z')) {
			int p4 = redact_scan_before(sc, i, 4);
			if (!redact_is_alnum(p4) && (p4 == -1 || !strchr("._%+-@", p4)))
				ok = 0;
		}
		for (;;) {
			size_t s = j, sl;

			while (j < sc->len && redact_is_digit(t[j]) &&
			       sc->claim[j] == REDACT_CL_FREE)
				j++;
			if (ng < CARD_GROUPS)
				g[ng] =
				    (struct redact_group){s, j, (unsigned)(j - s), 0, ng ? cls : 0};
			ng++;
			sl = j < sc->len ? redact_scan_sep_at(sc, j, &cls) : 0;
			if (sl && cls != '.' && (sepcls == 0 || cls == sepcls || cls == 'W') &&
			    redact_is_digit(redact_scan_at(sc, j + sl)) &&
			    sc->claim[j + sl] == REDACT_CL_FREE) {
				/* Too long: it ends at its last line break, the rest is read
				 * afresh. */
				if (ng == CARD_GROUPS && last_w > 0) {
					ng = last_w;
					j = g[ng - 1].end;
					break;
				}
				/*
				 * One line alone at or over the cap (no line break to end
				 * at before it): that line is one long number, but it must
				 * not swallow the lines wrapped after it, which may each
				 * hold a card ("> 5555 5555 5555 4444" under a long quoted
				 * line): the run ends at this line break, the next line is
				 * read afresh.
				 */
				if (ng >= CARD_GROUPS && cls == 'W')
					break;
				if (cls == 'W')
					last_w = ng;
				if (cls != 'W')
					sepcls = cls;
				j += sl;
				continue;
			}
			/*
			 * The run went on across a line break, and the line after it
			 * breaks the run's separators ("42024-11-054" wrapped onto
			 * "> 5555 5555 5555 4444"): the run ends at that line break and
			 * the next line is read afresh, so its card is not split.
			 */
			if (sl && cls != 'W' && cls != '.' && sepcls != 0 && cls != sepcls &&
			    last_w > 0 && last_w < ng && ng <= CARD_GROUPS &&
			    redact_is_digit(redact_scan_at(sc, j + sl))) {
				ng = last_w;
				j = g[ng - 1].end;
			}
			break;
		}
		q = redact_scan_at(sc, j);
		/*
		 * An expiry date after the number: "4111 1111 1111 1111 12/27"
		 * (or "/2027"). Only a whole one: "12/27455..." is no expiry, and
		 * once the number after the slash is taken (a card of its own) a
		 * second pass would not read it as one either.
		 */
		for (ye = j + 1; redact_is_digit(redact_scan_at(sc, ye)) && ye - j <= 5; ye++)
			;
		if (ng >= 2 && ng <= CARD_GROUPS && q == '/' && (ye - j == 3 || ye - j == 5) &&
		    !redact_is_alnum(redact_scan_at(sc, ye)) && g[ng - 1].nd <= 2 &&
		    g[ng - 1].sep == ' ') {
			ng--;
			j = g[ng - 1].end;
			q = redact_scan_at(sc, j);
		}
		if (ng <= CARD_GROUPS) {
			size_t a = 0, b = ng;

			/*
			 * Glued at one end: the group there belongs to that token
			 * ("1a@ee.com"), the groups after a space or a line break may
			 * still be a card.
			 */
			if (!ok)
				for (a = 1; a < ng && g[a].sep != 'W' && g[a].sep != ' '; a++)
					;
			/* (a placeholder look-alike right after, "[X_1]", is no glue) */
			if (redact_is_alnum(q) || q == '@' ||
			    ((q == '.' || q == ',') && redact_is_digit(redact_scan_at(sc, j + 1))))
				for (b = ng - 1; b > a && g[b].sep != 'W' && g[b].sep != ' '; b--)
					;
			if (a < b)
				card_in_run(sc, g + a, b - a);
		}
		i = j;
	}
}

/* ---- e-mail ---- */

static int local_char(int c)
{
	return redact_is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int domain_char(int c)
{
	return redact_is_alnum(c) || c == '.' || c == '-';
}

/*
 * Length of the letter (of any script; cjk 0: not Han, Kana or Hangul,
 * which are written without spaces and would swallow the words before an
 * address) ending at u[i - 1], or 0.
 */
static size_t uletter_before(const struct redact_scan *sc, size_t i, int cjk)
{
	const unsigned char *u = (const unsigned char *)sc->t;
	size_t s = i, cl;
	uint32_t cp;

	if (i == 0 || u[i - 1] < 0x80)
		return 0;
	while (s > 0 && i - s < 4 && (u[s - 1] & 0xC0) == 0x80)
		s--;
	if (s == 0 || i - s >= 4)
		return 0;
	s--;
	cp = redact_scan_utf8_cp(u + s, sc->len - s, &cl);
	if (s + cl != i || !redact_scan_uletter(cp) || (!cjk && cp >= 0x2E80))
		return 0;
	return cl;
}

/* Length of the letter (of any script) starting at u[i], or 0. */
static size_t uletter_at(const struct redact_scan *sc, size_t i)
{
	const unsigned char *u = (const unsigned char *)sc->t;
	size_t cl;

	if (i >= sc->len || u[i] < 0x80)
		return 0;
	return redact_scan_uletter(redact_scan_utf8_cp(u + i, sc->len - i, &cl)) ? cl : 0;
}

/*
 * The domain d[0..n) has two or more labels, none empty or with a dash at
 * an end, and a top-level label of two or more ASCII letters, a punycode
 * one ("xn--..."), or letters of another script only (".рф", ".中国").
 */
static int domain_ok(const char *d, size_t n)
{
	size_t ls = 0, dots = 0;

	for (size_t i = 0; i <= n; i++) {
		size_t ascii = 0;

		if (i < n && d[i] != '.')
			continue;
		if (i == ls || i - ls > 252 || d[ls] == '-' || d[i - 1] == '-')
			return 0;
		for (size_t k = ls; k < i; k++)
			ascii += (unsigned char)d[k] < 0x80;
		if (ascii == i - ls && i - ls > 63)
			return 0;
		if (i == n) {
			if (i - ls >= 5 && strncasecmp(d + ls, "xn--", 4) == 0)
				break;
			if (ascii == 0)
				break; /* a top-level label of another script */
			if (ascii != i - ls || i - ls < 2)
				return 0;
			for (size_t k = ls; k < i; k++)
				if (!redact_is_alpha(d[k]))
					return 0;
		} else {
			dots++;
		}
		ls = i + 1;
	}
	return dots > 0;
}

/*
 * Start of a quoted local part ("chloe..oneil"@web.de) whose closing quote
 * is at q (just before the "@"), or SIZE_MAX: printable text without a line
 * break or an unescaped quote, opened by a quote.
 */
static size_t quoted_local(const struct redact_scan *sc, size_t q)
{
	size_t s = q;

	while (s > 0 && q - s < EMAIL_LOCAL_MAX) {
		int c = (unsigned char)sc->t[s - 1];

		if (sc->claim[s - 1] != REDACT_CL_FREE || c == '\n' || c == '\t' || c < 0x20)
			return SIZE_MAX;
		if (c == '"') {
			size_t bs = 0;

			while (s - 1 > bs && sc->t[s - 2 - bs] == '\\')
				bs++;
			if (bs % 2 == 0)
				break;
		}
		s--;
	}
	if (s == 0 || q - s >= EMAIL_LOCAL_MAX || sc->t[s - 1] != '"' || s == q)
		return SIZE_MAX;
	/* The quotes delimit it: whatever comes before (even a digit) is not part of it. */
	return s - 1;
}

/*
 * Where the address ends whose domain was scanned as u[d..e): the longest
 * prefix that is a domain, ending at the end of a label or inside the last
 * one where the script changes or dashes start ("example.comまで",
 * "пример.рф2024", "example.com--1234"; but "example.com2024" is one
 * token). A sentence may end right after the address ("... example.com.").
 * Returns 0 when there is none.
 */
static size_t domain_end(const unsigned char *u, size_t d, size_t e)
{
	while (e > d) {
		size_t ls, a = 0;

		while (e > d && (u[e - 1] == '.' || u[e - 1] == '-'))
			e--;
		if (e == d)
			return 0;
		if (domain_ok((const char *)u + d, e - d))
			return e;
		for (ls = e; ls > d && u[ls - 1] != '.';)
			ls--;
		if (u[ls] >= 0x80) {
			while (ls + a < e && u[ls + a] >= 0x80)
				a++;
		} else {
			while (ls + a < e && redact_is_alpha(u[ls + a]))
				a++;
			if (a < 2 || (u[ls + a] < 0x80 && u[ls + a] != '-'))
				a = 0;
		}
		if (a > 0 && ls + a < e && domain_ok((const char *)u + d, ls + a - d))
			return ls + a;
		if (ls == d)
			return 0;
		e = ls - 1; /* drop the last label */
	}
	return 0;
}

/*
 * The address around the "@" at k, if any: claims it and returns its end,
 * else 0. *scan_end: how far its domain was read (the first byte it did
 * not take), whether or not an address was found.
 */
/*
 * No value taken in [s, e): an address may run over a shield (a number kept
 * whole so no phone is cut from it: "a@ab-2055555555555555839.com" holds a
 * card-shaped label), since it takes the shielded bytes whole.
 */
static int no_value(const struct redact_scan *sc, size_t s, size_t e)
{
	for (size_t i = s; i < e; i++)
		if (sc->claim[i] == REDACT_CL_VALUE)
			return 0;
	return 1;
}

static size_t email_at(struct redact_scan *sc, size_t k, size_t *scan_end)
{
	const unsigned char *u = (const unsigned char *)sc->t;
	size_t s = k, e = k + 1, dom, l;

	*scan_end = k + 1;
	if (k > 0 && u[k - 1] == '"' && sc->claim[k - 1] != REDACT_CL_VALUE &&
	    (s = quoted_local(sc, k - 1)) != SIZE_MAX) {
		/* s is the opening quote */
	} else {
		/* Local part, backwards over ASCII and whole letters of the alphabets. */
		s = k;
		while (s > 0 && k - s < EMAIL_LOCAL_MAX && sc->claim[s - 1] != REDACT_CL_VALUE) {
			if (local_char(u[s - 1]))
				s--;
			else if ((l = uletter_before(sc, s, 0)) != 0 &&
				 no_value(sc, s - l, s))
				s -= l;
			else
				break;
		}
		while (s < k && u[s] == '.')
			s++;
		if (s == k || k - s >= EMAIL_LOCAL_MAX)
			return 0;
	}
	/* Domain, forwards over ASCII and whole letters of any script. */
	while (e < sc->len && e - k <= EMAIL_DOMAIN_MAX && sc->claim[e] != REDACT_CL_VALUE) {
		if (domain_char(u[e]))
			e++;
		else if ((l = uletter_at(sc, e)) != 0 && no_value(sc, e, e + l))
			e += l;
		else
			break;
	}
	*scan_end = e;
	/* Scanned past the cap (text glued on): the address may still end within it. */
	while (e - k - 1 > EMAIL_DOMAIN_MAX) {
		e--;
		while (e > k + 1 && (u[e] & 0xC0) == 0x80)
			e--;
	}
	if ((e = domain_end(u, k + 1, e)) == 0)
		return 0;
	dom = e - k - 1;
	if (dom > EMAIL_DOMAIN_MAX || redact_scan_at(sc, e) == '@')
		return 0;
	redact_scan_add_span(sc, s, e, REDACT_EMAIL);
	return e;
}

/*
 * Left to right, first claim wins. An "@" whose domain runs into the next
 * address ("a@例え.中国рф@例え.jp": its domain is glued to the next one's
 * local part, and ends at an "@") finds nothing at first; once the next
 * address is taken, its domain ends where that one starts, as it will in
 * the output after the placeholder. So every "@" that found nothing waits
 * on a stack, and each address taken retries the waiting ones whose domain
 * read reached into it (which may free the one before, and so on): one
 * pass finds what a second pass on the output would, each "@" is retried
 * at most once.
 */
void redact_detect_email(struct redact_scan *sc)
{
	struct {
		size_t k, scan_end;
	} *wait = NULL;
	size_t nwait = 0, await = 0;

	for (size_t k = 0; k < sc->len; k++) {
		size_t e, scan_end, s0;

		if (sc->t[k] != '@' || sc->claim[k] != REDACT_CL_FREE)
			continue;
		e = email_at(sc, k, &scan_end);
		if (e == 0) {
			if (nwait == await) {
				await = await ? await * 2 : 8;
				wait = xrealloc(wait, await * sizeof(*wait));
			}
			wait[nwait].k = k;
			wait[nwait++].scan_end = scan_end;
			continue;
		}
		/* The address taken starts at s0: retry the waiting ones that read into it. */
		s0 = sc->sp[sc->nsp - 1].start;
		while (nwait > 0 && wait[nwait - 1].scan_end > s0) {
			size_t kw = wait[--nwait].k, se;

			if (sc->claim[kw] != REDACT_CL_FREE || email_at(sc, kw, &se) == 0)
				break;
			s0 = sc->sp[sc->nsp - 1].start;
		}
		k = e - 1;
	}
	free(wait);
}

/* ---- custom patterns ---- */

int redact_detect_custom(struct redact_scan *sc, const struct redact_pattern *p, int label,
			 char *err, size_t errlen)
{
	size_t pos = 0;

	while (pos < sc->len) {
		regmatch_t m[1];
		size_t s, e;

		m[0].rm_so = (regoff_t)pos;
		m[0].rm_eo = (regoff_t)sc->len;
		if (regexec(&p->re, sc->t, 1, m, REG_STARTEND) != 0)
			break;
		s = (size_t)m[0].rm_so;
		e = (size_t)m[0].rm_eo;
		if (e == s) {
			pos = s + 1;
			continue;
		}
		/* Widen to whole UTF-8 characters. */
		while (s > 0 && ((unsigned char)sc->t[s] & 0xC0) == 0x80)
			s--;
		while (e < sc->len && ((unsigned char)sc->t[e] & 0xC0) == 0x80)
			e++;
		if (sc->off[e] - sc->off[s] > REDACT_MAX_VALUE) {
			set_err(err, errlen, "pattern %s matched %zu bytes (max %d)", p->label,
				sc->off[e] - sc->off[s], REDACT_MAX_VALUE);
			return -1;
		}
		/*
		 * A custom pattern wins over a shield (the operator named this
		 * shape: "ORD-523456" glued to a longer digit run the card
		 * detector shielded as a look-alike), never over a value.
		 */
		if (no_value(sc, s, e)) {
			redact_scan_add_span(sc, s, e, label);
			pos = e;
		} else {
			pos = s + 1;
		}
	}
	return 0;
}

/* ---- shields: look-alikes no detector may take digits from ---- */

/* IPv4 addresses, with a port or a prefix length: 10.148.36.167:8080, 192.168.0.0/16. */
void redact_detect_ipv4(struct redact_scan *sc)
{
	const char *t = sc->t;

	for (size_t i = 0; i < sc->len; i++) {
		size_t j = i, e;
		int ok = 1;

		if (!redact_is_digit(t[i]) || redact_is_alnum(redact_scan_before(sc, i, 1)) ||
		    redact_scan_before(sc, i, 1) == '.')
			continue;
		for (int part = 0; part < 4 && ok; part++) {
			size_t s = j;
			int v = 0;

			if (part > 0) {
				if (redact_scan_at(sc, j) != '.' ||
				    !redact_is_digit(redact_scan_at(sc, j + 1))) {
					ok = 0;
					break;
				}
				s = ++j;
			}
			while (redact_is_digit(redact_scan_at(sc, j)) && j - s < 4)
				v = v * 10 + (t[j++] - '0');
			if (j - s > 3 || v > 255)
				ok = 0;
		}
		if (!ok || redact_is_alnum(redact_scan_at(sc, j)) ||
		    (redact_scan_at(sc, j) == '.' && redact_is_digit(redact_scan_at(sc, j + 1))))
			continue;
		e = j;
		if ((redact_scan_at(sc, j) == ':' || redact_scan_at(sc, j) == '/') &&
		    redact_is_digit(redact_scan_at(sc, j + 1))) {
			j++;
			while (redact_is_digit(redact_scan_at(sc, j)) && j - e < 7)
				j++;
			if (!redact_is_alnum(redact_scan_at(sc, j)))
				e = j;
		}
		if (redact_scan_range_free(sc, i, e))
			memset(sc->claim + i, REDACT_CL_SHIELD, e - i);
		i = e - 1;
	}
}

/*
 * Parcel tracking numbers: UPS "1Z" and 16 letters or digits (compact or
 * grouped by spaces); USPS 20-22 digits starting 91-95 or 70, compact or in
 * groups of four.
 */
void redact_detect_tracking(struct redact_scan *sc)
{
	const char *t = sc->t;

	for (size_t i = 0; i + 2 < sc->len; i++) {
		size_t j, n = 0, ng = 0, last = 0;
		int grouped_ok = 1, p = redact_scan_before(sc, i, 1);

		if (redact_is_alnum(p) || (p != -1 && strchr("._%+-@", p)))
			continue;
		if (t[i] == '1' && (t[i + 1] == 'Z' || t[i + 1] == 'z')) {
			for (j = i + 2; j < sc->len && n < 16; j++) {
				if (redact_is_alnum(t[j]))
					n++;
				else if (!(t[j] == ' ' &&
					   redact_is_alnum(redact_scan_at(sc, j + 1))))
					break;
			}
			if (n == 16 && redact_scan_token_end(sc, j) &&
			    redact_scan_range_free(sc, i, j)) {
				memset(sc->claim + i, REDACT_CL_SHIELD, j - i);
				i = j - 1;
			}
			continue;
		}
		if (!redact_is_digit(t[i]) ||
		    !((t[i] == '9' && t[i + 1] >= '1' && t[i + 1] <= '5') ||
		      (t[i] == '7' && t[i + 1] == '0')))
			continue;
		for (j = i;;) {
			size_t s = j;

			while (redact_is_digit(redact_scan_at(sc, j)))
				j++;
			n += j - s;
			ng++;
			last = j - s;
			if (redact_scan_at(sc, j) == ' ' &&
			    redact_is_digit(redact_scan_at(sc, j + 1))) {
				if (last != 4)
					grouped_ok = 0;
				j++;
				continue;
			}
			break;
		}
		if (n >= 20 && n <= 22 && (ng == 1 || (grouped_ok && last <= 4)) &&
		    redact_scan_token_end(sc, j) && redact_scan_range_free(sc, i, j)) {
			memset(sc->claim + i, REDACT_CL_SHIELD, j - i);
			i = j - 1;
		}
	}
}
