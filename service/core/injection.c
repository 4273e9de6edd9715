/*
 * injection: see injection.h. Owns the list of what looks like an instruction to
 * the model inside customer text. Must never do I/O, read the clock, log or
 * change the text it screens (inject_detect works on its own copy).
 *
 * Detection runs in two steps. normalize() turns the text into tokens
 * (lower-case words and single ASCII punctuation marks, with line
 * positions) and a "squeezed" string (the same characters without any
 * whitespace) while dropping invisible characters, folding look-alikes and
 * decoding text hidden in tag characters. Then three kinds of rules run:
 * word sequences over the tokens (struct phrase), substrings of the
 * squeezed string (role tags, our delimiter, answer JSON), and the count of
 * hidden tag characters.
 *
 * Phrase pattern language (space-separated slots, matched left to right):
 *   a|b|c   one word token equal to a, b or c; "ab*" is a prefix match;
 *           punctuation tokens before a word slot are skipped, so
 *           "ignore... all, previous" matches "ignore all previous"
 *   x?      the slot is optional
 *   :  "    a single-character slot matches that punctuation token exactly
 *   ~N      skip up to N word tokens
 *   ^       the next word is the first word of its line
 *   $       the previous token was the last of its line
 */
#include "injection.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

/* ---- UTF-8 ---- */

/* Decode one valid sequence at s[0..n): its length (1-4) and *cp; 0 if invalid. */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

static int is_tag(uint32_t cp)
{
	return cp >= 0xE0000 && cp <= 0xE007F;
}

static int invisible(uint32_t cp)
{
	return cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x180E ||
	       (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF ||
	       is_tag(cp) || (cp >= 0xE0100 && cp <= 0xE01EF);
}

/*
 * After a removal: do the last k (1..3) bytes kept, s[w-k..w), an incomplete
 * sequence, and the bytes at s[r..len) now form an invisible code point?
 * Returns its length (> k) and sets *k, or 0.
 */
static size_t joined_invisible(const unsigned char *s, size_t w, size_t r, size_t len, size_t *k)
{
	for (size_t i = 1; i <= 3 && i <= w; i++) {
		unsigned char tmp[4];
		size_t m = len - r < 4 - i ? len - r : 4 - i, n;
		uint32_t cp;

		if (s[w - i] < 0xC2)
			continue;
		memcpy(tmp, s + w - i, i);
		memcpy(tmp + i, s + r, m);
		n = utf8_dec(tmp, i + m, &cp);
		if (n > i && invisible(cp)) {
			*k = i;
			return n;
		}
	}
	return 0;
}

size_t injection_strip_invisible(char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t r = 0, w = 0, n, k;

	while (r < len) {
		uint32_t cp;

		n = utf8_dec(u + r, len - r, &cp);
		if (n == 0)
			n = 1; /* not UTF-8: kept as it is */
		else if (invisible(cp)) {
			r += n;
			/*
			 * Found by tests/fuzz/fuzz_injection.c: in invalid UTF-8, the
			 * bytes around a removed sequence may join into a new one
			 * ("\xe2" U+202D "\x80\xad" left U+202D). Remove those too,
			 * so the output holds none and stripping is idempotent.
			 */
			while (r < len && (n = joined_invisible(u, w, r, len, &k)) > 0) {
				w -= k;
				r += n - k;
			}
			continue;
		}
		if (w != r)
			memmove(s + w, s + r, n);
		w += n;
		r += n;
	}
	if (w < len)
		s[w] = '\0';
	return w;
}

/* ---- normalization ---- */

struct tok {
	size_t off, len;     /* the word in norm.w; punctuation tokens have len 1 */
	unsigned char punct; /* the ASCII mark, 0 for a word */
	unsigned char nl;    /* first token of its line */
	unsigned char ls;    /* no word before it on its line */
};

/*
 * All buffers are carved from one allocation sized for the worst case (see
 * normalize), so appending is a store, not a call: this runs for every byte
 * of every subject and body.
 */
struct norm {
	char *w;   /* word bytes, lower case, folded */
	char *sq;  /* the squeezed text */
	char *hid; /* text hidden in tag characters */
	struct tok *tok;
	size_t wlen, sqlen, hlen, ntok;
	size_t wcap, sqcap, hcap, tcap;
	void *mem;
	size_t wstart;	   /* start of the word being read in w, or SIZE_MAX */
	int w_letters;	   /* the word being read has an ASCII letter */
	int w_leet;	   /* ... and a digit that leetspeak reads as a letter */
	int line_new;	   /* the next token starts a line */
	int line_has_word; /* a word token is already on this line */
	int bidi;	   /* a U+202D or U+202E override was seen */
	unsigned hidden;   /* tag characters that are not part of a flag emoji */
};

/* Look-alikes of ASCII letters: Cyrillic and Greek. */
static const struct {
	uint32_t cp;
	char c;
} homoglyphs[] = {
	{0x0391, 'a'}, {0x0392, 'b'}, {0x0395, 'e'}, {0x0396, 'z'}, {0x0397, 'h'}, {0x0399, 'i'},
	{0x039A, 'k'}, {0x039C, 'm'}, {0x039D, 'n'}, {0x039F, 'o'}, {0x03A1, 'p'}, {0x03A4, 't'},
	{0x03A5, 'y'}, {0x03A7, 'x'}, {0x03B1, 'a'}, {0x03B5, 'e'}, {0x03B9, 'i'}, {0x03BA, 'k'},
	{0x03BD, 'v'}, {0x03BF, 'o'}, {0x03C1, 'p'}, {0x03C4, 't'}, {0x03C5, 'u'}, {0x03C7, 'x'},
	{0x0405, 's'}, {0x0406, 'i'}, {0x0408, 'j'}, {0x0410, 'a'}, {0x0412, 'b'}, {0x0415, 'e'},
	{0x041A, 'k'}, {0x041C, 'm'}, {0x041D, 'h'}, {0x041E, 'o'}, {0x0420, 'p'}, {0x0421, 'c'},
	{0x0422, 't'}, {0x0423, 'y'}, {0x0425, 'x'}, {0x0430, 'a'}, {0x0435, 'e'}, {0x043E, 'o'},
	{0x0440, 'p'}, {0x0441, 'c'}, {0x0443, 'y'}, {0x0445, 'x'}, {0x0455, 's'}, {0x0456, 'i'},
	{0x0458, 'j'}, {0x0501, 'd'}, {0x051B, 'q'}, {0x051D, 'w'}, {0x0261, 'g'},
};

/* Latin-1 letters U+00C0..U+00FF without their marks (0: not a letter). */
static const char latin1_base[] =
	"aaaaaaaceeeeiiiidnooooo\0ouuuuythsaaaaaaaceeeeiiiidnooooo\0ouuuuyty";

/* Fold cp to an ASCII character if it stands for one, else 0. */
static int fold(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? (int)(cp - 'A' + 'a') : (int)cp;
	if (cp >= 0xC0 && cp <= 0xFF)
		return latin1_base[cp - 0xC0];
	if (cp >= 0xFF01 && cp <= 0xFF5E) /* fullwidth forms */
		return fold(cp - 0xFEE0);
	if (cp >= 0x1D400 && cp <= 0x1D6A3) { /* mathematical bold, italic, script... letters */
		uint32_t k = (cp - 0x1D400) % 52;
		return k < 26 ? (int)('a' + k) : (int)('a' + k - 26);
	}
	if (cp >= 0x1D7CE && cp <= 0x1D7FF)
		return (int)('0' + (cp - 0x1D7CE) % 10);
	if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || cp == 0x2032)
		return '\'';
	if (cp == 0x201C || cp == 0x201D)
		return '"';
	for (size_t i = 0; i < ARRAY_SIZE(homoglyphs); i++)
		if (homoglyphs[i].cp == cp)
			return homoglyphs[i].c;
	return 0;
}

enum cclass { C_WORD, C_APOS, C_SPACE, C_NEWLINE, C_PUNCT };

static enum cclass classify(uint32_t cp, int folded)
{
	if (folded) {
		if ((folded >= 'a' && folded <= 'z') || (folded >= '0' && folded <= '9') ||
		    folded == '_')
			return C_WORD;
		if (folded == '\'')
			return C_APOS;
		if (folded == '\n' || folded == '\v' || folded == '\f')
			return C_NEWLINE;
		if (folded == ' ' || folded == '\t' || folded == '\r' || folded < 0x20 ||
		    folded == 0x7F)
			return C_SPACE;
		return C_PUNCT;
	}
	if (cp < 0x80)
		return C_SPACE; /* NUL */
	if (cp == 0x85 || cp == 0x2028 || cp == 0x2029)
		return C_NEWLINE;
	/* Non-ASCII spaces, punctuation and symbols separate words; other letters are words. */
	if ((cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
	    (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE10 && cp <= 0xFE6F) ||
	    (cp >= 0xFF00 && cp <= 0xFF65) || (cp >= 0x1F000 && cp <= 0x1FAFF) || cp == 0xFFFD)
		return C_SPACE;
	return C_WORD;
}

/*
 * fold() and classify() of every ASCII byte, filled once from those two
 * functions (see index_build) so that the fast path cannot drift from them.
 */
static unsigned char ascii_fold[128], ascii_class[128];

/* The sizes in normalize are upper bounds: running past one is a bug, not bad input. */
static void put(char *b, size_t *len, size_t cap, char c)
{
	if (*len >= cap)
		abort();
	b[(*len)++] = c;
}

static void push_tok(struct norm *nm, size_t off, size_t len, unsigned char punct)
{
	if (nm->ntok >= nm->tcap)
		abort();
	nm->tok[nm->ntok++] = (struct tok){off, len, punct, (unsigned char)nm->line_new,
					   (unsigned char)!nm->line_has_word};
	nm->line_new = 0;
	if (!punct)
		nm->line_has_word = 1;
}

/* Close the word being read; digits in a word with letters are read as leetspeak. */
static void end_word(struct norm *nm)
{
	char *p;
	size_t n;

	if (nm->wstart == SIZE_MAX)
		return;
	p = nm->w + nm->wstart;
	n = nm->wlen - nm->wstart;
	/* feed() noted whether there is anything to rewrite, sparing a scan of every word. */
	for (size_t i = 0; nm->w_letters && nm->w_leet && i < n; i++) {
		switch (p[i]) {
		case '0':
			p[i] = 'o';
			break;
		case '1':
			p[i] = 'i';
			break;
		case '3':
			p[i] = 'e';
			break;
		case '4':
			p[i] = 'a';
			break;
		case '5':
			p[i] = 's';
			break;
		case '7':
			p[i] = 't';
			break;
		}
	}
	push_tok(nm, nm->wstart, n, 0);
	put(nm->w, &nm->wlen, nm->wcap, ' ');
	nm->wstart = SIZE_MAX;
}

/*
 * Feed one visible code point, already folded (f, 0 if it has no ASCII
 * reading) and classified; its bytes are raw[0..rn).
 */
static void feed_class(struct norm *nm, enum cclass cl, int f, const char *raw, size_t rn)
{
	char c = (char)f;

	switch (cl) {
	case C_WORD:
		if (nm->wstart == SIZE_MAX) {
			nm->wstart = nm->wlen;
			nm->w_letters = nm->w_leet = 0;
		}
		if (f) {
			put(nm->w, &nm->wlen, nm->wcap, c);
			put(nm->sq, &nm->sqlen, nm->sqcap, c);
			nm->w_letters |= c >= 'a' && c <= 'z';
			nm->w_leet |=
			    c == '0' || c == '1' || c == '3' || c == '4' || c == '5' || c == '7';
		} else {
			for (size_t k = 0; k < rn; k++) {
				put(nm->w, &nm->wlen, nm->wcap, raw[k]);
				put(nm->sq, &nm->sqlen, nm->sqcap, raw[k]);
			}
		}
		break;
	case C_APOS:
		/* Inside a word it vanishes: "don't" is read as "dont". */
		put(nm->sq, &nm->sqlen, nm->sqcap, c);
		break;
	case C_SPACE:
		end_word(nm);
		break;
	case C_NEWLINE:
		end_word(nm);
		nm->line_new = 1;
		nm->line_has_word = 0;
		break;
	case C_PUNCT:
		end_word(nm);
		push_tok(nm, nm->wlen, 1, (unsigned char)c);
		put(nm->w, &nm->wlen, nm->wcap, c);
		put(nm->w, &nm->wlen, nm->wcap, ' ');
		put(nm->sq, &nm->sqlen, nm->sqcap, c);
		break;
	}
}

static void feed_ascii(struct norm *nm, unsigned char c)
{
	feed_class(nm, (enum cclass)ascii_class[c], ascii_fold[c], (const char *)&c, 1);
}

static void feed(struct norm *nm, uint32_t cp, const char *raw, size_t rn)
{
	int f = fold(cp);

	feed_class(nm, classify(cp, f), f, raw, rn);
}

/*
 * Feed the run of ASCII word characters at u[i..) (u[i] is one), which is
 * most of the text, in a tight loop: the same as feed_ascii() on each.
 * Returns the index after the run.
 */
static size_t word_run(struct norm *nm, const unsigned char *u, size_t i, size_t len)
{
	char *w = nm->w + nm->wlen, *sq = nm->sq + nm->sqlen;
	size_t start = i;
	int letters = 0, leet = 0;

	/* Here wlen <= 2 * i and sqlen <= i (see normalize): the run, at most len - i, fits. */
	if (nm->wcap - nm->wlen < len - i || nm->sqcap - nm->sqlen < len - i)
		abort();
	if (nm->wstart == SIZE_MAX) {
		nm->wstart = nm->wlen;
		nm->w_letters = nm->w_leet = 0;
	}
	do {
		char c = (char)ascii_fold[u[i]];

		w[i - start] = c;
		sq[i - start] = c;
		letters |= c >= 'a' && c <= 'z';
		/* 0, 1, 3, 4, 5 and 7: the digits end_word reads as letters */
		leet |= c >= '0' && c <= '7' && ((0xBB >> (c - '0')) & 1);
		i++;
	} while (i < len && u[i] < 0x80 && ascii_class[u[i]] == C_WORD);
	nm->wlen += i - start;
	nm->sqlen += i - start;
	nm->w_letters |= letters;
	nm->w_leet |= leet;
	return i;
}

static void normalize(struct norm *nm, const char *text, size_t len)
{
	const unsigned char *u = (const unsigned char *)text;
	size_t i = 0;
	int in_flag = 0;

	memset(nm, 0, sizeof(*nm));
	/*
	 * Worst cases: every input byte yields at most two bytes of w (a word
	 * byte and its closing space, or a mark and its space) and one of sq;
	 * a tag character is four bytes and yields one hidden byte; every
	 * token takes at least two bytes of w. The slack covers the final
	 * line break and the NULs.
	 */
	if (len > (SIZE_MAX - 1024) / (sizeof(struct tok) + 5))
		abort(); /* cannot be in memory anyway */
	nm->tcap = len + 16;
	nm->wcap = 2 * len + 16;
	nm->sqcap = len + 16;
	nm->hcap = len / 4 + 16;
	nm->mem = xmalloc(nm->tcap * sizeof(struct tok) + nm->wcap + nm->sqcap + nm->hcap + 3);
	nm->tok = nm->mem;
	nm->w = (char *)(nm->tok + nm->tcap);
	nm->sq = nm->w + nm->wcap + 1;
	nm->hid = nm->sq + nm->sqcap + 1;
	nm->wstart = SIZE_MAX;
	nm->line_new = 1;
	while (i < len) {
		uint32_t cp;
		size_t n;

		/* Support text is nearly all ASCII: skip the decoder for it. */
		if (u[i] < 0x80) {
			in_flag = 0;
			if (ascii_class[u[i]] == C_WORD) {
				i = word_run(nm, u, i, len);
			} else {
				feed_ascii(nm, u[i]);
				i++;
			}
			continue;
		}
		n = utf8_dec(u + i, len - i, &cp);
		if (n == 0) {
			cp = 0xFFFD;
			n = 1;
		}
		if (is_tag(cp)) {
			/* A flag emoji is U+1F3F4 and tags; anything else is hidden text. */
			if (!in_flag && cp >= 0xE0020 && cp <= 0xE007E) {
				put(nm->hid, &nm->hlen, nm->hcap, (char)(cp - 0xE0000));
				nm->hidden++;
			}
			if (cp == 0xE007F)
				in_flag = 0;
		} else if (!invisible(cp)) {
			in_flag = cp == 0x1F3F4;
			feed(nm, cp, text + i, n);
		} else if (cp == 0x202D || cp == 0x202E) {
			/*
			 * Every E2 byte starts a sequence here (it is no continuation
			 * byte), so this sees exactly the overrides a byte search of
			 * the text would find.
			 */
			nm->bidi = 1;
		}
		i += n;
	}
	/* The hidden text is read as a line of its own. */
	feed_ascii(nm, '\n');
	for (size_t k = 0; k < nm->hlen; k++)
		feed_ascii(nm, (unsigned char)nm->hid[k]);
	end_word(nm);
	nm->w[nm->wlen] = '\0';
	nm->sq[nm->sqlen] = '\0';
}

static void norm_cleanup(struct norm *nm)
{
	free(nm->mem);
}

/* ---- phrase matching ---- */

/* Index of the first word token at or after ti (ntok if none). */
static size_t next_word(const struct norm *nm, size_t ti)
{
	while (ti < nm->ntok && nm->tok[ti].punct)
		ti++;
	return ti;
}

static int is_mark(const char *a, size_t an)
{
	return an == 1 && !((a[0] >= 'a' && a[0] <= 'z') || (a[0] >= '0' && a[0] <= '9'));
}

/* Does the word alternative a[0..an) ("word" or "prefix*") match word token ti? */
static int word_match(const struct norm *nm, size_t ti, const char *a, size_t an)
{
	const struct tok *t = &nm->tok[ti];
	const char *w = nm->w + t->off;

	if (a[an - 1] == '*')
		return t->len >= an - 1 && memcmp(w, a, an - 1) == 0;
	return t->len == an && memcmp(w, a, an) == 0;
}

/* Match pattern pat from token ti on (see the pattern language at the top). */
static int phrase_match(const struct norm *nm, const char *pat, size_t ti)
{
	const char *slot, *next;
	size_t sn;
	int optional;

	while (*pat == ' ')
		pat++;
	if (*pat == '\0')
		return 1;
	slot = pat;
	next = strchr(pat, ' ');
	if (next == NULL)
		next = pat + strlen(pat);
	sn = (size_t)(next - slot);
	optional = sn > 1 && slot[sn - 1] == '?';
	if (optional) {
		sn--;
		if (phrase_match(nm, next, ti))
			return 1;
	}
	if (sn == 1 && slot[0] == '^') {
		size_t w = next_word(nm, ti);
		return w < nm->ntok && nm->tok[w].ls && phrase_match(nm, next, ti);
	}
	if (sn == 1 && slot[0] == '$')
		return (ti == nm->ntok || nm->tok[ti].nl) && phrase_match(nm, next, ti);
	if (sn == 2 && slot[0] == '~') {
		for (int k = 0; k <= slot[1] - '0'; k++) {
			if (phrase_match(nm, next, ti))
				return 1;
			ti = next_word(nm, ti);
			if (ti == nm->ntok)
				return 0;
			ti++;
		}
		return 0;
	}
	/* A word alternative skips punctuation first; a punctuation mark does not. */
	for (const char *a = slot; a < slot + sn;) {
		const char *bar = memchr(a, '|', (size_t)(slot + sn - a));
		size_t an = bar ? (size_t)(bar - a) : (size_t)(slot + sn - a), w;

		if (an > 0 && is_mark(a, an)) {
			if (ti < nm->ntok && nm->tok[ti].punct == (unsigned char)a[0] &&
			    phrase_match(nm, next, ti + 1))
				return 1;
		} else if (an > 0) {
			w = next_word(nm, ti);
			if (w < nm->ntok && word_match(nm, w, a, an) &&
			    phrase_match(nm, next, w + 1))
				return 1;
		}
		a += an + 1;
	}
	return 0;
}

/* ---- rules ---- */

/* the tables (phrases[], needles[]): data, kept apart so this file reads as code */
#include "injection_rules.inc"

/*
 * The alternatives of a pattern's first slot, when it is a plain word or
 * mark slot: tokens that match none of them are skipped without calling
 * phrase_match (most tokens). Returns their number, 0 if the slot is
 * optional, anchored or skipping (then every token is tried).
 */
#define FIRST_MAX 48

struct first {
	const char *a;
	size_t n;
};

static size_t first_slot(const char *pat, struct first *f)
{
	size_t sn = strcspn(pat, " "), nf = 0;

	if (sn == 0 || pat[sn - 1] == '?' || pat[0] == '^' || pat[0] == '$' || pat[0] == '~')
		return 0;
	for (size_t i = 0; i < sn;) {
		size_t an = strcspn(pat + i, "| ");

		if (nf == FIRST_MAX)
			return 0;
		f[nf++] = (struct first){pat + i, an};
		i += an + 1;
	}
	return nf;
}

/*
 * What the detector derives from the tables above, built once per process
 * (index_build, under pthread_once) and read-only afterwards: a const table
 * in all but the way it is written. The point is one pass over the tokens:
 * a token is compared only with the first-slot alternatives that start with
 * its first byte and have its length (or are prefixes), each distinct
 * alternative once, and only the phrases it can start are tried, instead of
 * every phrase scanning every token. Sets of phrases or needles are bit
 * masks, bit r for phrases[r].
 */
_Static_assert(ARRAY_SIZE(phrases) <= 64, "sets of phrases are uint64_t masks");
_Static_assert(ARRAY_SIZE(needles) <= 64, "sets of needles are uint64_t masks");

/*
 * A word alternative of some first slots and the phrases it starts: "word"
 * (n is its length) or "prefix*" (n is the prefix's length).
 */
struct word_alt {
	const char *a;
	size_t n;
	int prefix;
	uint64_t phrases;
};

/*
 * Word alternatives are filed by first byte and, for whole words, by length
 * (lengths from LEN_CLASSES - 1 on share a class), so that a token meets
 * only the few it could equal. word_key() gives the order of ix.word.
 */
#define LEN_CLASSES 16
#define PREFIX_KEYS (256 * LEN_CLASSES)

static size_t word_key(unsigned char c, size_t n, int prefix)
{
	if (prefix)
		return PREFIX_KEYS + c;
	return c * LEN_CLASSES + (n < LEN_CLASSES - 1 ? n : LEN_CLASSES - 1);
}

static struct {
	/* The word alternatives with key k are word[at[k] .. at[k + 1]). */
	struct word_alt word[ARRAY_SIZE(phrases) * FIRST_MAX];
	uint16_t at[PREFIX_KEYS + 256 + 1];
	/* Phrases whose first slot has that punctuation mark. */
	uint64_t mark[256];
	/* Phrases tried at every token (first_slot found no plain slot). */
	uint64_t every;
	/* Each phrase's run of neighbours with the same name (itself included). */
	uint64_t run[ARRAY_SIZE(phrases)];
	/* Needles by their first byte, the distinct first bytes, the lengths. */
	uint64_t needle_by_byte[256];
	unsigned char needle_first[ARRAY_SIZE(needles)];
	size_t nneedle_first;
	uint64_t needle_empty;
	size_t needle_len[ARRAY_SIZE(needles)];
} ix;

_Static_assert(ARRAY_SIZE(phrases) * FIRST_MAX < UINT16_MAX, "ix.at holds indexes of ix.word");

static pthread_once_t ix_once = PTHREAD_ONCE_INIT;

/* A word alternative that matches a word token only if the token starts with its first byte. */
static int plain_word(const struct first *f)
{
	return f->n > 0 && !is_mark(f->a, f->n) && f->a[0] != '*';
}

/* Note that alternative f starts phrase r. */
static void index_alt(size_t *nword, const struct first *f, size_t r)
{
	uint64_t bit = (uint64_t)1 << r;
	int prefix = f->n > 0 && f->a[f->n - 1] == '*';
	size_t n = f->n - (size_t)prefix, k;

	if (f->n == 0)
		return; /* matches nothing: no word or mark starts with '|' */
	if (is_mark(f->a, f->n)) {
		ix.mark[(unsigned char)f->a[0]] |= bit;
		return;
	}
	for (k = 0; k < *nword; k++)
		if (ix.word[k].prefix == prefix && ix.word[k].n == n &&
		    memcmp(ix.word[k].a, f->a, n) == 0)
			break;
	if (k == *nword)
		ix.word[(*nword)++] = (struct word_alt){f->a, n, prefix, 0};
	ix.word[k].phrases |= bit;
}

static size_t alt_key(const struct word_alt *x)
{
	return word_key((unsigned char)x->a[0], x->n, x->prefix);
}

static void index_build(void)
{
	size_t nword = 0;

	for (unsigned c = 0; c < 128; c++) {
		ascii_fold[c] = (unsigned char)fold(c);
		ascii_class[c] = (unsigned char)classify(c, ascii_fold[c]);
	}
	for (size_t r = 0; r < ARRAY_SIZE(phrases); r++) {
		const char *pat = phrases[r].pat;
		struct first f[FIRST_MAX];
		size_t nf = first_slot(pat, f), k;

		/*
		 * "^ w1|w2 ...": the anchor looks at the next word, and so does the
		 * word slot after it, so a match at any token is a match at that
		 * word. Trying only words that can match the word slot finds the
		 * same matches as trying every token.
		 */
		if (nf == 0 && pat[0] == '^' && pat[1] == ' ') {
			nf = first_slot(pat + 2, f);
			for (k = 0; k < nf && plain_word(&f[k]); k++)
				;
			if (k < nf)
				nf = 0;
		}
		if (nf == 0)
			ix.every |= (uint64_t)1 << r;
		for (k = 0; k < nf; k++)
			index_alt(&nword, &f[k], r);
		for (size_t s = r;
		     s < ARRAY_SIZE(phrases) && strcmp(phrases[s].name, phrases[r].name) == 0; s++)
			ix.run[r] |= (uint64_t)1 << s;
		for (size_t s = r; s-- > 0 && strcmp(phrases[s].name, phrases[r].name) == 0;)
			ix.run[r] |= (uint64_t)1 << s;
	}
	/* Insertion sort by key: a few hundred entries, once. */
	for (size_t i = 1; i < nword; i++) {
		struct word_alt x = ix.word[i];
		size_t j = i;

		for (; j > 0 && alt_key(&ix.word[j - 1]) > alt_key(&x); j--)
			ix.word[j] = ix.word[j - 1];
		ix.word[j] = x;
	}
	for (size_t key = 0, i = 0; key < ARRAY_SIZE(ix.at); key++) {
		while (i < nword && alt_key(&ix.word[i]) < key)
			i++;
		ix.at[key] = (uint16_t)i;
	}
	for (size_t k = 0; k < ARRAY_SIZE(needles); k++) {
		unsigned char c = (unsigned char)needles[k].text[0];

		ix.needle_len[k] = strlen(needles[k].text);
		if (ix.needle_len[k] == 0) {
			ix.needle_empty |= (uint64_t)1 << k;
			continue;
		}
		if (ix.needle_by_byte[c] == 0)
			ix.needle_first[ix.nneedle_first++] = c;
		ix.needle_by_byte[c] |= (uint64_t)1 << k;
	}
}

/* memcmp(a, b, n) == 0 for the few bytes of a word, without the call. */
static int same(const char *a, const char *b, size_t n)
{
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i == n;
}

/*
 * The phrases whose first slot matches token ti: for each phrase, what the
 * test of a token against the alternatives of first_slot() would say.
 */
static uint64_t first_phrases(const struct norm *nm, size_t ti)
{
	const struct tok *t = &nm->tok[ti];
	const char *w = nm->w + t->off;
	unsigned char c = (unsigned char)w[0];
	size_t key = word_key(c, t->len, 0);
	uint64_t m = 0;

	if (t->punct)
		return ix.mark[t->punct];
	for (size_t k = ix.at[key]; k < ix.at[key + 1]; k++) {
		const struct word_alt *x = &ix.word[k];

		if (t->len == x->n && same(w, x->a, x->n))
			m |= x->phrases;
	}
	key = word_key(c, 0, 1);
	for (size_t k = ix.at[key]; k < ix.at[key + 1]; k++) {
		const struct word_alt *x = &ix.word[k];

		if (t->len >= x->n && same(w, x->a, x->n))
			m |= x->phrases;
	}
	return m;
}

/*
 * The phrases that match somewhere in nm: the same as trying every token
 * that passes first_match() with phrase_match(), phrase by phrase. Once a
 * phrase matches, its same-name neighbours are no longer tried: they could
 * only add a name already there, at the same place in the list.
 */
static uint64_t match_phrases(const struct norm *nm)
{
	uint64_t active =
	    ARRAY_SIZE(phrases) == 64 ? ~(uint64_t)0 : ((uint64_t)1 << ARRAY_SIZE(phrases)) - 1;
	uint64_t found = 0;

	for (size_t ti = 0; ti < nm->ntok && active; ti++) {
		uint64_t cand = (first_phrases(nm, ti) | ix.every) & active;

		while (cand) {
			size_t r = (size_t)__builtin_ctzll(cand);

			cand &= cand - 1;
			if (phrase_match(nm, phrases[r].pat, ti)) {
				found |= (uint64_t)1 << r;
				active &= ~ix.run[r];
				cand &= active;
			}
		}
	}
	return found;
}

/*
 * The needles found in the squeezed text: one memchr walk per distinct first
 * byte ('<', '[', '"'), which are rare in support text, instead of a memmem
 * per needle.
 */
static uint64_t match_needles(const struct norm *nm)
{
	const char *end = nm->sq + nm->sqlen;
	uint64_t found = nm->sqlen ? ix.needle_empty : 0;

	for (size_t i = 0; i < ix.nneedle_first; i++) {
		unsigned char c = ix.needle_first[i];
		const char *p = nm->sq;

		while (p < end && (ix.needle_by_byte[c] & ~found) &&
		       (p = memchr(p, c, (size_t)(end - p))) != NULL) {
			uint64_t cand = ix.needle_by_byte[c] & ~found;

			while (cand) {
				size_t k = (size_t)__builtin_ctzll(cand);

				cand &= cand - 1;
				if ((size_t)(end - p) >= ix.needle_len[k] &&
				    memcmp(p, needles[k].text, ix.needle_len[k]) == 0)
					found |= (uint64_t)1 << k;
			}
			p++;
		}
	}
	return found;
}

/* Add name to the list of matched rules unless it is there; returns 1 if added. */
static int note_rule(const char **seen, size_t *nseen, size_t max, const char *name)
{
	for (size_t i = 0; i < *nseen; i++)
		if (strcmp(seen[i], name) == 0)
			return 0;
	if (*nseen < max)
		seen[(*nseen)++] = name;
	return 1;
}

/*
 * The list of names as inject_detect has always written it: joined by ", "
 * into a buffer capped at REASON_CAP (a name that would not fit ends the
 * list), then cut to whylen - 1 bytes like strlcpy_t. Written straight into
 * why, without the intermediate buffer.
 */
#define REASON_CAP 4096

static void write_reason(char *why, size_t whylen, const char *const *seen, size_t nseen)
{
	size_t total = 0, w = 0;

	for (size_t i = 0; i < nseen; i++) {
		const char *part[2] = {i ? ", " : "", seen[i]};
		size_t plen[2] = {i ? 2 : 0, strlen(seen[i])};

		if (plen[0] + plen[1] > REASON_CAP - total)
			break;
		total += plen[0] + plen[1];
		for (size_t j = 0; j < 2; j++) {
			size_t c = plen[j] < whylen - 1 - w ? plen[j] : whylen - 1 - w;

			memcpy(why + w, part[j], c);
			w += c;
		}
	}
	why[w] = '\0';
}

int injection_detect(const char *text, size_t len, char *why, size_t whylen)
{
	const char *seen[ARRAY_SIZE(phrases) + ARRAY_SIZE(needles) + 1];
	size_t nseen = 0;
	struct norm nm;
	uint64_t ph, nd;

	if (pthread_once(&ix_once, index_build) != 0)
		abort();
	normalize(&nm, text, len);
	ph = match_phrases(&nm);
	nd = match_needles(&nm);
	/* Names go out in table order (phrases, needles, then the rest), whatever found them first.
	 */
	for (size_t r = 0; r < ARRAY_SIZE(phrases); r++)
		if (ph & ((uint64_t)1 << r))
			note_rule(seen, &nseen, ARRAY_SIZE(seen), phrases[r].name);
	for (size_t k = 0; k < ARRAY_SIZE(needles); k++)
		if (nd & ((uint64_t)1 << k))
			note_rule(seen, &nseen, ARRAY_SIZE(seen), needles[k].name);
	if (nm.hidden > 0)
		note_rule(seen, &nseen, ARRAY_SIZE(seen), "hidden-text");
	/*
	 * A right-to-left or left-to-right override (U+202E, U+202D) makes text
	 * read differently from how it is stored: support tickets have no use
	 * for it (right-to-left languages need only marks and embeddings).
	 * normalize() notes them while it decodes the text.
	 */
	if (nm.bidi)
		note_rule(seen, &nseen, ARRAY_SIZE(seen), "bidi-override");
	norm_cleanup(&nm);

	if (why != NULL && whylen > 0)
		write_reason(why, whylen, seen, nseen);
	return (int)nseen;
}
