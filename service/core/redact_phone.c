/*
 * redact_phone: see redact_phone.h. Owns what counts as a phone number in
 * the normalised view (groups, separators, phone words, and the look-alikes
 * it must leave: dates, amounts, product codes). Must never do I/O, read
 * the clock or log, and never writes the map (redact.c does).
 */
#include "redact_phone.h"

#include <string.h>
#include <strings.h>

#include "xmem.h"

#define PHONE_GROUPS 12
#define KEYWORD_WINDOW 40 /* bytes before a bare number searched for a phone word */

/* ---- phone numbers ---- */

static int parse_small(const struct redact_scan *sc, const struct redact_group *g)
{
	int v = 0;

	for (size_t i = g->start; i < g->end && v < 100000; i++)
		if (redact_is_digit(sc->t[i]))
			v = v * 10 + (sc->t[i] - '0');
	return v;
}

/* g[0..3) read as a date: 2024-11-05, 05.11.2024, 11-05-2024, 05.11.24. */
static int date_at(const struct redact_scan *sc, const struct redact_group *g)
{
	int a, b, c;

	if (g[0].paren || g[1].paren || g[2].paren || g[1].sep != g[2].sep ||
	    (g[1].sep != '-' && g[1].sep != '.'))
		return 0;
	a = parse_small(sc, &g[0]);
	b = parse_small(sc, &g[1]);
	c = parse_small(sc, &g[2]);
	if (g[0].nd == 4 && g[1].nd <= 2 && g[2].nd <= 2)
		return a >= 1900 && a <= 2100 && b >= 1 && b <= 12 && c >= 1 && c <= 31;
	if (g[0].nd <= 2 && g[1].nd <= 2 && (g[2].nd == 4 || (g[2].nd == 2 && g[1].sep == '.')))
		return a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12) &&
		       (g[2].nd == 2 || (c >= 1900 && c <= 2100));
	return 0;
}

/*
 * A phone word ("call", "tel", "mobile", ...) among the words just before i:
 * the last KEYWORD_WINDOW bytes of unclaimed text, stepping over values
 * already taken (or typed placeholders), which are never words themselves.
 * So the window is the same whether a value before it is still there or
 * already a placeholder, and a "[PHONE_4]" does not make the number after
 * it a phone (redact_text runs to a fixed point: that would cascade).
 */
static int phone_word_before(const struct redact_scan *sc, size_t i)
{
	static const char *const words[] = {
	    "phone", "telephone", "tel",      "mobile", "cell",	    "cellphone", "call",
	    "text",  "sms",	  "whatsapp", "fax",	"landline", "contact",	 "reach",
	};
	size_t from = i, nfree = 0;

	while (from > 0 && nfree < KEYWORD_WINDOW)
		if (sc->claim[--from] == REDACT_CL_FREE)
			nfree++;
	for (size_t ws = from; ws < i; ws++) {
		size_t we = ws;

		if (sc->claim[ws] != REDACT_CL_FREE || !redact_is_alpha(sc->t[ws]) ||
		    (ws > 0 && sc->claim[ws - 1] == REDACT_CL_FREE &&
		     redact_is_alpha(sc->t[ws - 1])))
			continue;
		while (we < i && sc->claim[we] == REDACT_CL_FREE && redact_is_alpha(sc->t[we]))
			we++;
		for (size_t k = 0; k < ARRAY_SIZE(words); k++)
			if (strlen(words[k]) == we - ws &&
			    strncasecmp(sc->t + ws, words[k], we - ws) == 0)
				return 1;
		ws = we;
	}
	return 0;
}

/* A product code label right before i ("SKU", "P/N", "model: ", "serial #"): a code, not a phone.
 */
static int code_word_before(const struct redact_scan *sc, size_t i)
{
	static const char *const words[] = {"sku",    "p/n", "pn",   "part", "model",
					    "serial", "s/n", "item", "art",  "article",
					    "ean",    "upc", "isbn"};
	size_t e = i, s;

	while (e > 0 && i - e < 4 && strchr(" :#.", sc->t[e - 1]))
		e--;
	s = e;
	while (s > 0 && e - s < 8 && (redact_is_alpha(sc->t[s - 1]) || sc->t[s - 1] == '/'))
		s--;
	if (s == e || redact_is_alnum(redact_scan_before(sc, s, 1)))
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(words); k++)
		if (strlen(words[k]) == e - s && strncasecmp(sc->t + s, words[k], e - s) == 0)
			return 1;
	return 0;
}

static const char *const currency_signs[] = {"$", "\xe2\x82\xac", "\xc2\xa3", "\xc2\xa5",
					     "\xe2\x82\xb9"};
static const char *const currency_codes[] = {"usd", "eur",     "gbp",	"chf",	 "cad",
					     "aud", "dollars", "euros", "pounds"};

/* A currency sign or code right before i (one space allowed). */
static int currency_before(const struct redact_scan *sc, size_t i)
{
	size_t b = i > 0 && sc->t[i - 1] == ' ' ? i - 1 : i;

	for (size_t k = 0; k < ARRAY_SIZE(currency_signs); k++) {
		size_t n = strlen(currency_signs[k]);

		if (b >= n && memcmp(sc->t + b - n, currency_signs[k], n) == 0)
			return 1;
	}
	for (size_t k = 0; k < ARRAY_SIZE(currency_codes); k++) {
		size_t n = strlen(currency_codes[k]);

		if (b >= n && strncasecmp(sc->t + b - n, currency_codes[k], n) == 0 &&
		    !redact_is_alpha(redact_scan_before(sc, b - n, 1)))
			return 1;
	}
	return 0;
}

/* A currency sign or code right after e (one space allowed). */
static int currency_after(const struct redact_scan *sc, size_t e)
{
	size_t a = e < sc->len && sc->t[e] == ' ' ? e + 1 : e;

	for (size_t k = 0; k < ARRAY_SIZE(currency_signs); k++) {
		size_t n = strlen(currency_signs[k]);

		if (n <= sc->len - a && memcmp(sc->t + a, currency_signs[k], n) == 0)
			return 1;
	}
	for (size_t k = 0; k < ARRAY_SIZE(currency_codes); k++) {
		size_t n = strlen(currency_codes[k]);

		if (n <= sc->len - a && strncasecmp(sc->t + a, currency_codes[k], n) == 0 &&
		    !redact_is_alpha(redact_scan_at(sc, a + n)))
			return 1;
	}
	return 0;
}

/* Single amounts have spaces or dots between groups, never dashes or parentheses. */
static int amount_shaped(const struct redact_group *g, size_t ng)
{
	for (size_t k = 0; k < ng; k++)
		if (g[k].paren || g[k].sep == '-')
			return 0;
	return 1;
}

/*
 * A French number in dotted pairs: 01.26.29.06.90, or +33 1.26.29.06.90
 * (g[0] then the country code). Read as such, not as a date.
 */
static int fr_dotted(const struct redact_scan *sc, int plus, const struct redact_group *g, size_t k)
{
	size_t f = plus ? 1 : 0;

	if (k != f + 5 || (plus && g[1].nd != 1) ||
	    (!plus && (g[0].nd != 2 || sc->t[g[0].start] != '0')))
		return 0;
	for (size_t x = f + 1; x < k; x++)
		if (g[x].nd != 2 || g[x].sep != '.' || g[x].paren)
			return 0;
	return 1;
}

/* Is g[0..k) (starting at i, with or without "+") a phone number? */
static int phone_ok(const struct redact_scan *sc, size_t i, int plus, const struct redact_group *g,
		    size_t k)
{
	unsigned nd = 0;
	int all_years = k >= 2, thousands = k >= 2, dots_only = 1;

	if (fr_dotted(sc, plus, g, k))
		return 1;
	for (size_t x = 0; x < k; x++) {
		int v = parse_small(sc, &g[x]);

		nd += g[x].nd;
		if (g[x].nd > 8 && k > 1)
			return 0;
		/* One-digit groups: the first, "(0)", and the area code in +33 6 12 34 56 78. */
		if (x > 0 && g[x].nd < 2 && !g[x].paren && !(plus && x == 1))
			return 0;
		if (x + 2 < k && date_at(sc, g + x))
			return 0;
		if (g[x].nd != 4 || v < 1900 || v > 2100 || g[x].paren)
			all_years = 0;
		if (x > 0 && (g[x].nd != 3 || g[x].paren))
			thousands = 0;
		if (x > 0 && g[x].sep != '.')
			dots_only = 0;
	}
	if (nd < 7 || nd > 15 || all_years)
		return 0;
	if (plus)
		return nd >= 8;
	/* 1.234.567 and 1 234 567 are amounts; 612 345 678 stays a phone number. */
	if (thousands && !g[0].paren && g[0].nd <= 3 && (dots_only || g[0].nd <= 2))
		return 0;
	if (k == 2 && dots_only)
		return 0; /* a decimal: 524.9996 */
	if (k == 2 && g[0].nd == 5 && g[1].nd == 4 && g[1].sep == '-' && !g[0].paren)
		return 0; /* a US ZIP+4 code: 10001-1234 */
	if (k == 4 && dots_only && g[0].nd <= 3 && g[1].nd <= 3 && g[2].nd <= 3 && g[3].nd <= 3)
		return 0; /* IPv4 */
	if (k == 1 && !g[0].paren) {
		const char *d = sc->t + g[0].start;

		/* 00 + country code, or the trunk 0 + area code; neither code starts with 0. */
		if (d[0] == '0' && d[1] == '0' && d[2] != '0' && nd >= 10)
			return 1;
		if (d[0] == '0' && d[1] != '0' && nd >= 10 && nd <= 12 &&
		    (nd > 10 || sc->lead0 == REDACT_LEAD0_PHONE))
			return 1;
		return phone_word_before(sc, i);
	}
	return 1;
}

/* Try a phone number starting at i; returns where scanning goes on (> i). */
static size_t phone_try(struct redact_scan *sc, size_t i)
{
	const char *t = sc->t;
	struct redact_group g[PHONE_GROUPS];
	size_t ng = 0, j = i, run_end = i;
	int plus = t[i] == '+', ok = 1, p = redact_scan_before(sc, i, 1), q, sep = 0;

	if (redact_is_alnum(p) || (p != -1 && strchr("#$%&@=_/\\~^*+", p)) ||
	    (p != -1 && strchr(".,:-", p) && redact_is_alnum(redact_scan_before(sc, i, 2))))
		ok = 0;
	if (plus)
		j++;
	for (;;) {
		size_t s = j, nd = 0, sl;
		int paren = 0;

		if (redact_scan_at(sc, j) == '(') {
			size_t d = j + 1;

			while (redact_is_digit(redact_scan_at(sc, d)) &&
			       sc->claim[d] == REDACT_CL_FREE && nd < 6) {
				d++;
				nd++;
			}
			if (nd == 0 || nd > 5 || redact_scan_at(sc, d) != ')' ||
			    sc->claim[d] != REDACT_CL_FREE)
				break;
			j = d + 1;
			paren = 1;
		} else {
			while (redact_is_digit(redact_scan_at(sc, j)) &&
			       sc->claim[j] == REDACT_CL_FREE && nd < 16) {
				j++;
				nd++;
			}
			if (nd == 0)
				break;
			if (nd > 15)
				ok = 0;
		}
		if (ng < PHONE_GROUPS)
			g[ng] = (struct redact_group){s, j, (unsigned)nd, paren, sep};
		ng++;
		run_end = j;
		/* After ")" the next group may follow at once: (555)123-4567. */
		if (paren && redact_is_digit(redact_scan_at(sc, j)) &&
		    sc->claim[j] == REDACT_CL_FREE) {
			sep = 0;
			continue;
		}
		/* DE, AT, CH: the area code, a slash, the number ("030/16765473"). */
		if (ng == 1 && !plus && !paren && redact_scan_at(sc, j) == '/' && t[s] == '0' &&
		    nd >= 3 && nd <= 5 && redact_is_digit(redact_scan_at(sc, j + 1)) &&
		    sc->claim[j] == REDACT_CL_FREE && sc->claim[j + 1] == REDACT_CL_FREE) {
			sep = '/';
			j++;
			continue;
		}
		sl = redact_scan_sep_at(sc, j, &sep);
		if (sl && sc->claim[j + sl] == REDACT_CL_FREE &&
		    (redact_is_digit(redact_scan_at(sc, j + sl)) ||
		     (redact_scan_at(sc, j + sl) == '(' &&
		      redact_is_digit(redact_scan_at(sc, j + sl + 1))))) {
			j += sl;
			continue;
		}
		break;
	}
	if (ng == 0)
		return i + 1;
	if (ng > PHONE_GROUPS)
		return run_end;
	/* Glued to a word or an address: part of a token, not a number. */
	q = redact_scan_at(sc, run_end);
	if (!ok) {
		/* ... but the next line of the run starts afresh. */
		for (size_t k = 1; k < ng; k++)
			if (g[k].sep == 'W')
				return g[k].start;
		return run_end;
	}
	if (redact_is_alnum(q) || q == '@' || q == '_' ||
	    (q == '-' && redact_is_alnum(redact_scan_at(sc, run_end + 1)))) {
		size_t k = ng - 1;

		while (k > 0 && g[k].sep != 'W')
			k--;
		if (k == 0)
			return run_end;
		ng = k; /* the lines before the glued one */
		run_end = g[k - 1].end;
		q = redact_scan_at(sc, run_end);
	}
	/*
	 * Before a percent sign, decimals, a time or a currency the last group is
	 * an amount; but a dotted or dashed run going on into a port or decimals
	 * (10.148.36.167:8080) is one token, and no number is cut out of it.
	 */
	if (q != -1 && strchr(".,:/", q) && redact_is_digit(redact_scan_at(sc, run_end + 1)) &&
	    ng >= 2 && g[ng - 1].sep != ' ' && g[ng - 1].sep != 'W')
		return run_end;
	if (q == '%' ||
	    (q != -1 && strchr(".,:/", q) && redact_is_digit(redact_scan_at(sc, run_end + 1))) ||
	    (!plus && currency_after(sc, run_end) && amount_shaped(g, ng)))
		ng--;
	/* After a currency it is an amount, or a range of them ($ 1000-2000); after "SKU" a code.
	 */
	if (ng == 0 || (!plus && (currency_before(sc, i) || code_word_before(sc, i))))
		return run_end;
	/* A date at the start is skipped on its own; what follows may still be a number. */
	if (ng >= 3 && date_at(sc, g) && !fr_dotted(sc, plus, g, ng))
		return g[2].end;
	/*
	 * An international number may be followed by more digits ("+44 20 7946
	 * 0958 2024"): take the longest run of groups that is a number. A national
	 * one must be a number as a whole, or "4111 1111 1111 1112" (a card that
	 * fails Luhn) would lose its first twelve digits as a phone number.
	 */
	for (size_t k = ng; k >= 1; k--) {
		/* A national number may also end where a line does. */
		if (k < ng && !plus && g[k].sep != 'W')
			continue;
		if (phone_ok(sc, i, plus, g, k)) {
			redact_scan_add_span(sc, i, g[k - 1].end, REDACT_PHONE);
			return g[k - 1].end;
		}
	}
	/* Not a number across the wrap: the next line starts a run of its own. */
	for (size_t k = 1; k < ng; k++)
		if (g[k].sep == 'W')
			return g[k].start;
	return run_end;
}

void redact_phone_detect(struct redact_scan *sc)
{
	size_t i = 0;

	while (i < sc->len) {
		int c = (unsigned char)sc->t[i];

		if (sc->claim[i] == REDACT_CL_FREE &&
		    (redact_is_digit(c) ||
		     ((c == '+' || c == '(') && redact_is_digit(redact_scan_at(sc, i + 1)))))
			i = phone_try(sc, i);
		else
			i++;
	}
}
