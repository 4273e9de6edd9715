/*
 * fuzz_injection: libFuzzer harness for the prompt-injection screen
 * (service/core/injection.c). The input is customer text, raw bytes, not
 * NUL-terminated (ASan sees an over-read).
 *
 * injection_strip_invisible(), on a copy: never grows the text, terminates
 * it when it shrank, is idempotent, keeps every byte that is not a whole
 * invisible sequence (checked against a reference filter here), and on valid
 * UTF-8 leaves valid UTF-8 with none of the listed code points.
 * injection_detect(): deterministic; the count is the number of names in
 * why; a small why buffer gets a NUL-terminated prefix of the full text;
 * and on valid UTF-8 it reads the text as it would read it stripped, hidden-text and
 * bidi-override aside (the rules about the invisible characters
 * themselves), and tag-hidden text aside (it can only add). Must not leak.
 */
#include <string.h>

#include "fuzz.h"
#include "injection.h"
#include "ticket.h"
#include "xmem.h"

#define WHY_LEN 4200 /* above the module's 4096-byte reason cap */

/* The code points injection.h lists as invisible. */
static int invisible(unsigned cp)
{
	return cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x180E ||
	       (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF ||
	       (cp >= 0xE0000 && cp <= 0xE007F) || (cp >= 0xE0100 && cp <= 0xE01EF);
}

/*
 * Length of the valid UTF-8 sequence at s[0..n) and its code point in *cp,
 * or 0 if none (overlong, surrogate, above U+10FFFF, cut or bad byte).
 */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len;
	unsigned c, min;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, c = s[0] & 0x1F, min = 0x80;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, c = s[0] & 0x0F, min = 0x800;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* One pass: s[0..n) without its whole, valid invisible sequences, into out; returns its length. */
static size_t ref_strip_pass(const unsigned char *s, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		unsigned cp = 0;
		size_t l = utf8_seq(s + i, n - i, &cp);

		if (l == 0) {
			out[o++] = s[i++];
			continue;
		}
		if (!invisible(cp))
			memcpy(out + o, s + i, l), o += l;
		i += l;
	}
	return o;
}

/* Does why name rule (a whole ", "-separated item)? */
/*
 * Reference: passes until nothing changes (removing a sequence may join the
 * invalid bytes around it into a new one), into out; returns its length.
 */
static size_t ref_strip(const unsigned char *s, size_t n, unsigned char *out)
{
	unsigned char *tmp = xmalloc(n + 1);
	size_t m = ref_strip_pass(s, n, out), prev;

	do {
		prev = m;
		memcpy(tmp, out, m);
		m = ref_strip_pass(tmp, prev, out);
	} while (m != prev);
	free(tmp);
	return m;
}

static int names(const char *why, const char *rule)
{
	size_t rl = strlen(rule);

	for (const char *p = why; (p = strstr(p, rule)) != NULL; p++)
		if ((p == why || (p >= why + 2 && p[-2] == ',' && p[-1] == ' ')) &&
		    (p[rl] == '\0' || p[rl] == ','))
			return 1;
	return 0;
}

/* why without the items hidden-text and bidi-override, into out (as long as why). */
static void drop_invisible_rules(const char *why, char *out)
{
	const char *p = why;
	size_t o = 0;

	out[0] = '\0';
	while (*p != '\0') {
		const char *e = strstr(p, ", ");
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (!(l == 11 && memcmp(p, "hidden-text", l) == 0) &&
		    !(l == 13 && memcmp(p, "bidi-override", l) == 0)) {
			if (o > 0)
				memcpy(out + o, ", ", 2), o += 2;
			memcpy(out + o, p, l);
			o += l;
			out[o] = '\0';
		}
		p += l + (e ? 2 : 0);
	}
}

/* Every item of sub is an item of super. */
static int subset(const char *sub, const char *super)
{
	char item[256];
	const char *p = sub;

	while (*p != '\0') {
		const char *e = strstr(p, ", ");
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l >= sizeof(item))
			return 0;
		memcpy(item, p, l);
		item[l] = '\0';
		if (!names(super, item))
			return 0;
		p += l + (e ? 2 : 0);
	}
	return 1;
}

/* Does s[0..n) hold a tag character (U+E0000..U+E007F: F3 A0 80..81 xx)? */
static int has_tag(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (s[i] == 0xF3 && s[i + 1] == 0xA0 && (s[i + 2] == 0x80 || s[i + 2] == 0x81))
			return 1;
	return 0;
}

static size_t count_items(const char *why)
{
	size_t n = why[0] != '\0';

	for (const char *p = why; (p = strstr(p, ", ")) != NULL; p += 2)
		n++;
	return n;
}

int fuzz_injection_one(const uint8_t *data, size_t size)
{
	unsigned char *s = xmalloc(size + 1), *ref = xmalloc(size + 1);
	char *why = xmalloc(WHY_LEN), *why2 = xmalloc(WHY_LEN), *a = xmalloc(WHY_LEN),
	     *b = xmalloc(WHY_LEN);
	char small[16];
	size_t n, n2, rn;
	int count, count2, valid = utf8_valid((const char *)data, size);

	/* ---- strip ---- */
	memcpy(s, data, size);
	s[size] = 0x7f; /* not written unless the text shrank */
	n = injection_strip_invisible((char *)s, size);
	FUZZ_CHECK(n <= size);
	if (n < size)
		FUZZ_CHECK(s[n] == '\0');
	else
		FUZZ_CHECK(s[size] == 0x7f);
	rn = ref_strip(data, size, ref);
	FUZZ_CHECK(rn == n && memcmp(ref, s, n) == 0);
	if (valid) {
		size_t i = 0;

		FUZZ_CHECK(utf8_valid((const char *)s, n));
		while (i < n) {
			unsigned cp = 0;
			size_t l = utf8_seq(s + i, n - i, &cp);

			FUZZ_CHECK(l > 0 && !invisible(cp));
			i += l;
		}
	}
	n2 = injection_strip_invisible((char *)s, n);
	FUZZ_CHECK(n2 == n);

	/* ---- detect ---- */
	count = injection_detect((const char *)data, size, why, WHY_LEN);
	FUZZ_CHECK(count >= 0);
	FUZZ_CHECK(memchr(why, '\0', WHY_LEN) != NULL);
	FUZZ_CHECK((count == 0) == (why[0] == '\0'));
	FUZZ_CHECK((size_t)count == count_items(why));
	count2 = injection_detect((const char *)data, size, why2, WHY_LEN);
	FUZZ_CHECK(count2 == count && strcmp(why, why2) == 0);
	/*
	 * NULL why, and a small why: a NUL-terminated prefix of the full reasons
	 * (on a quarter of the inputs, picked by size: each call costs a pass).
	 */
	if (size % 4 == 0) {
		FUZZ_CHECK(injection_detect((const char *)data, size, NULL, 0) == count);
		memset(small, 0x5a, sizeof(small));
		FUZZ_CHECK(injection_detect((const char *)data, size, small, 7) == count);
		FUZZ_CHECK(memchr(small, '\0', 7) != NULL && small[7] == 0x5a);
		FUZZ_CHECK(strncmp(small, why, strlen(small)) == 0);
		FUZZ_CHECK(strlen(small) == (strlen(why) < 6 ? strlen(why) : 6));
	}

	/*
	 * The detector removes the invisible characters on a copy itself, so the
	 * stripped text reads the same, but for the rules about them and for text
	 * hidden in tag characters (read as an extra line: it can only add).
	 * Valid UTF-8 only (tickets are): the detector reads a stray byte as
	 * U+FFFD, which breaks a word, while stripping around it may join the
	 * bytes into a new invisible code point and remove it (regress/injection/
	 * detect-invalid-utf8-junction).
	 */
	if (n < size)
		(void)injection_detect((const char *)s, n, why2, WHY_LEN);
	FUZZ_CHECK(!names(why2, "hidden-text") && !names(why2, "bidi-override"));
	drop_invisible_rules(why, a);
	drop_invisible_rules(why2, b);
	if (valid && (has_tag(data, size) ? !subset(b, a) : strcmp(a, b) != 0)) {
		fprintf(stderr, "original: %s\nstripped: %s\n", why, why2);
		FUZZ_CHECK(!"stripping changed what the detector reads");
	}

	free(s);
	free(ref);
	free(why);
	free(why2);
	free(a);
	free(b);
	return 0;
}

#ifndef TRIAGED_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_injection_one(data, size);
}
#endif
