/*
 * redact_scan: see redact_scan.h. Owns the normalised view (Unicode digits,
 * full-width forms, separators and wrapped lines folded to ASCII, with the
 * offsets back to the original) and the token and span helpers every
 * detector uses. Must never do I/O, read the clock or log, and never decide
 * what is personal data (the detectors in redact_detect.c and
 * redact_phone.c do).
 */
#include "redact_scan.h"

#include <stdlib.h>
#include <string.h>

#include "xmem.h"

/* ---- the normalised view ---- */

/* U+xxx0 of each run of ten decimal digits (Unicode 14 category Nd), ascending. */
static const uint32_t digit_zeros[] = {
    0x660,   0x6F0,   0x7C0,   0x966,	0x9E6,	 0xA66,	  0xAE6,   0xB66,   0xBE6,   0xC66,
    0xCE6,   0xD66,   0xDE6,   0xE50,	0xED0,	 0xF20,	  0x1040,  0x1090,  0x17E0,  0x1810,
    0x1946,  0x19D0,  0x1A80,  0x1A90,	0x1B50,	 0x1BB0,  0x1C40,  0x1C50,  0xA620,  0xA8D0,
    0xA900,  0xA9D0,  0xA9F0,  0xAA50,	0xABF0,	 0xFF10,  0x104A0, 0x10D30, 0x11066, 0x110F0,
    0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950,
    0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC,
    0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
};

/* Decode the (valid) UTF-8 character at s[0..n): its code point, *len its bytes. */
uint32_t redact_scan_utf8_cp(const unsigned char *s, size_t n, size_t *len)
{
	if (s[0] < 0x80 || n < 2) {
		*len = 1;
		return s[0];
	}
	if (s[0] < 0xE0) {
		*len = 2;
		return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (s[0] < 0xF0 || n < 4) {
		*len = n < 3 ? n : 3;
		return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
		       (n >= 3 ? (s[2] & 0x3F) : 0);
	}
	*len = 4;
	return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
	       ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* The ASCII byte a non-ASCII code point reads as for detection, or -1. prev: last byte out. */
static int fold_cp(uint32_t cp, int prev)
{
	if (cp >= 0xFF01 && cp <= 0xFF5E) /* full-width ASCII (what NFKC does to it) */
		return (int)(cp - 0xFEE0);
	switch (cp) {
	case 0x00A0: /* no-break, figure, thin, narrow no-break, ideographic spaces */
	case 0x2007:
	case 0x2009:
	case 0x202F:
	case 0x3000:
		return ' ';
	case 0x2010: /* hyphen, non-breaking hyphen, figure dash, en dash, minus, small hyphen */
	case 0x2011:
	case 0x2012:
	case 0x2013:
	case 0x2212:
	case 0xFE63:
		return '-';
	case 0x30FC: /* the katakana long vowel mark, typed as a dash between digits */
		return prev >= '0' && prev <= '9' ? '-' : -1;
	case 0x3002: /* the ideographic full stops that IDNA reads as dots */
	case 0xFF61:
		return '.';
	default:
		break;
	}
	for (size_t k = 0; k < ARRAY_SIZE(digit_zeros) && digit_zeros[k] <= cp; k++)
		if (cp <= digit_zeros[k] + 9)
			return '0' + (int)(cp - digit_zeros[k]);
	return -1;
}

/*
 * Build the view of text[0..len) (valid UTF-8, no NUL): *view (len + 1
 * bytes, NUL-terminated) and *off (len + 1 entries), both new (caller
 * frees); returns the view's length (<= len).
 */
size_t redact_scan_normalise(const char *text, size_t len, char **view, size_t **off)
{
	const unsigned char *u = (const unsigned char *)text;
	char *v = xmalloc(len + 1);
	size_t *o = xmalloc((len + 1) * sizeof(*o)), n = 0, i = 0;

	while (i < len) {
		size_t cl;
		uint32_t cp;
		int f;

		if (u[i] == '\r' || u[i] == '\n') {
			o[n] = i;
			v[n++] = '\n';
			i += u[i] == '\r' && i + 1 < len && u[i + 1] == '\n' ? 2 : 1;
			while (i < len && (u[i] == ' ' || u[i] == '\t' || u[i] == '>'))
				i++;
			continue;
		}
		if (u[i] < 0x80) {
			o[n] = i;
			v[n++] = (char)u[i++];
			continue;
		}
		cp = redact_scan_utf8_cp(u + i, len - i, &cl);
		f = fold_cp(cp, n ? (unsigned char)v[n - 1] : -1);
		if (f >= 0) {
			o[n] = i;
			v[n++] = (char)f;
		} else {
			for (size_t k = 0; k < cl; k++) {
				o[n] = i + k;
				v[n++] = (char)u[i + k];
			}
		}
		i += cl;
	}
	o[n] = len;
	v[n] = '\0';
	*view = v;
	*off = o;
	return n;
}

/*
 * Is the non-ASCII code point cp a letter, mark or digit of some script
 * (as far as an address goes)? The punctuation, symbol, space, emoji and
 * private-use blocks are not; everything else is taken as a letter.
 */
int redact_scan_uletter(uint32_t cp)
{
	static const uint32_t not_letters[][2] = {
	    {0x80, 0xBF},	{0xD7, 0xD7},	     {0xF7, 0xF7},     {0x37E, 0x37E},
	    {0x387, 0x387},	{0x55A, 0x55F},	     {0x589, 0x58A},   {0x5BE, 0x5BE},
	    {0x5C0, 0x5C0},	{0x5C3, 0x5C3},	     {0x5F3, 0x5F4},   {0x600, 0x60F},
	    {0x61B, 0x61F},	{0x66A, 0x66D},	     {0x6D4, 0x6D4},   {0x964, 0x965},
	    {0x970, 0x970},	{0xE4F, 0xE4F},	     {0xE5A, 0xE5B},   {0x10FB, 0x10FB},
	    {0x1360, 0x1368},	{0x166D, 0x166E},    {0x1680, 0x1680}, {0x2000, 0x2BFF},
	    {0x2E00, 0x2E7F},	{0x3000, 0x3004},    {0x3008, 0x3020}, {0x3030, 0x3030},
	    {0x303D, 0x303D},	{0x30FB, 0x30FB},    {0xD800, 0xF8FF}, {0xFD3E, 0xFD3F},
	    {0xFE00, 0xFE6F},	{0xFEFF, 0xFEFF},    {0xFF00, 0xFF65}, {0xFFE0, 0xFFFF},
	    {0x1F000, 0x1FBFF}, {0xE0000, 0x10FFFF},
	};

	for (size_t k = 0; k < ARRAY_SIZE(not_letters); k++)
		if (cp >= not_letters[k][0] && cp <= not_letters[k][1])
			return 0;
	return cp >= 0x80;
}

/* A token ends at e: not in a longer word, number or address. */
int redact_scan_token_end(const struct redact_scan *sc, size_t e)
{
	int q = redact_scan_at(sc, e);

	return !redact_is_alnum(q) && (q == -1 || !strchr("@_%+", q)) &&
	       !((q == '.' || q == '-') && redact_is_alnum(redact_scan_at(sc, e + 1)));
}

/* A token starts at i: not inside a longer word, number or address. */
int redact_scan_token_start(const struct redact_scan *sc, size_t i)
{
	int p = redact_scan_before(sc, i, 1);

	return !redact_is_alnum(p) && (p == -1 || !strchr("@_%+", p)) &&
	       !((p == '.' || p == '-') && redact_is_alnum(redact_scan_before(sc, i, 2)));
}

int redact_scan_range_free(const struct redact_scan *sc, size_t s, size_t e)
{
	for (size_t i = s; i < e; i++)
		if (sc->claim[i] != REDACT_CL_FREE)
			return 0;
	return 1;
}

void redact_scan_add_span(struct redact_scan *sc, size_t s, size_t e, int label)
{
	if (sc->nsp == sc->asp) {
		sc->asp = sc->asp ? sc->asp * 2 : 32;
		sc->sp = xrealloc(sc->sp, sc->asp * sizeof(*sc->sp));
	}
	sc->sp[sc->nsp++] = (struct redact_span){s, e, label};
	memset(sc->claim + s, REDACT_CL_VALUE, e - s);
}

/*
 * A separator inside a card or phone number at i of the view (all of them
 * one byte there): returns 1 and its class in *cls, ' ', '-', '.', or 'W'
 * for a wrap (a line break, which stands for any class), else 0.
 */
size_t redact_scan_sep_at(const struct redact_scan *sc, size_t i, int *cls)
{
	int c = redact_scan_at(sc, i);

	if (c == -1 || sc->claim[i] != REDACT_CL_FREE)
		return 0;
	if (c == ' ' || c == '-' || c == '.') {
		*cls = c;
		return 1;
	}
	if (c == '\n') {
		*cls = 'W';
		return 1;
	}
	return 0;
}
