/*
 * redact_scan: the normalised view of a ticket text that every redaction
 * detector reads, the claim mask and the spans found, and the token helpers
 * the detectors share (see redact.c for the three steps of one call). Owns
 * the folding of Unicode digits, full-width forms, separators and wrapped
 * lines to ASCII, and the mapping of a view range back to the original
 * bytes. Must never do I/O, read the clock or log (the texts hold personal
 * data), and never decides what is personal data: that is the detectors'.
 */
#ifndef TRIAGED_REDACT_SCAN_H
#define TRIAGED_REDACT_SCAN_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "redact.h"

enum redact_claim { REDACT_CL_FREE, REDACT_CL_VALUE, REDACT_CL_SHIELD };

struct redact_pattern {
	char label[REDACT_LABEL_MAX + 1];
	regex_t re;
};

struct redact_span {
	size_t start, end;
	int label; /* an enum redact_kind, or REDACT__COUNT + custom pattern index */
};

/*
 * The detectors read a normalised view of the text, never the text itself:
 * t[0..len) is the original with the decimal digits of every script and the
 * full-width forms folded to ASCII, the usual no-break spaces, dashes and
 * ideographic full stops folded to their ASCII separators, and each line
 * break with the indentation and quote markers ("> ") after it folded to a
 * single '\n' (a "wrap", where a number may go on). off[k] is where byte k
 * of the view starts in the original (off[len] is the original's length),
 * so a span [s, e) of the view is the original's [off[s], off[e]): the
 * placeholder replaces exactly what the customer wrote.
 */
struct redact_scan {
	const char *t;
	size_t len;
	const size_t *off;
	unsigned char *claim; /* enum redact_claim per byte of the view */
	struct redact_span *sp;
	size_t nsp, asp;
	enum redact_lead0 lead0;
};

/* A run of digits and its separator, as the card and phone detectors group them. */

struct redact_group {
	size_t start, end;
	unsigned nd;
	int paren; /* phone only: "(555)" */
	int sep;   /* the separator before it: ' ', '-', '.', '/', 'W' (a wrap), 0 for none */
};

/* ---- character classes (ASCII only; bytes >= 0x80 are never digits or letters here) ---- */

static inline int redact_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline int redact_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int redact_is_alnum(int c)
{
	return redact_is_digit(c) || redact_is_alpha(c);
}

static inline int redact_to_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/*
 * Byte at i, or -1 outside the text. A byte of a value already taken reads
 * as '[', the start of the placeholder it will be: a detector sees a taken
 * neighbour as the next pass on the output will (redact_text runs to a
 * fixed point), not as the digits or letters it glued onto.
 */
static inline int redact_scan_at(const struct redact_scan *sc, size_t i)
{
	if (i >= sc->len)
		return -1;
	return sc->claim[i] == REDACT_CL_VALUE ? '[' : (unsigned char)sc->t[i];
}

/* Byte back before i, or -1 at the start; a byte of a value taken reads as ']' (see above). */
static inline int redact_scan_before(const struct redact_scan *sc, size_t i, size_t back)
{
	if (i < back)
		return -1;
	return sc->claim[i - back] == REDACT_CL_VALUE ? ']' : (unsigned char)sc->t[i - back];
}

/* Decode the (valid) UTF-8 character at s[0..n): its code point, *len its bytes. */
uint32_t redact_scan_utf8_cp(const unsigned char *s, size_t n, size_t *len);
/*
 * Build the view of text[0..len) (valid UTF-8, no NUL): *view (len + 1
 * bytes, NUL-terminated) and *off (len + 1 entries), both new (caller
 * frees); returns the view's length (<= len).
 */
size_t redact_scan_normalise(const char *text, size_t len, char **view, size_t **off);
/*
 * Is the non-ASCII code point cp a letter, mark or digit of some script
 * (as far as an address goes)? The punctuation, symbol, space, emoji and
 * private-use blocks are not; everything else is taken as a letter.
 */
int redact_scan_uletter(uint32_t cp);
/* A token ends at e: not in a longer word, number or address. */
int redact_scan_token_end(const struct redact_scan *sc, size_t e);
/* A token starts at i: not inside a longer word, number or address. */
int redact_scan_token_start(const struct redact_scan *sc, size_t i);
/* Is the view's [s, e) unclaimed? */
int redact_scan_range_free(const struct redact_scan *sc, size_t s, size_t e);
/* Claim [s, e) of the view for label and record the span. */
void redact_scan_add_span(struct redact_scan *sc, size_t s, size_t e, int label);
/*
 * A separator inside a card or phone number at i of the view (all of them
 * one byte there): returns 1 and its class in *cls, ' ', '-', '.', or 'W'
 * for a wrap (a line break, which stands for any class), else 0.
 */
size_t redact_scan_sep_at(const struct redact_scan *sc, size_t i, int *cls);

#endif
