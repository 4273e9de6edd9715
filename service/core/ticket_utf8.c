/*
 * ticket_utf8: see ticket_utf8.h. Owns what valid UTF-8 is for the whole
 * daemon (Unicode table 3-7: no overlongs, no surrogates, nothing past
 * U+10FFFF) and where a text may be cut. Must never allocate, do I/O, read
 * the clock or log.
 */
#include "ticket_utf8.h"

/* Length of the longest valid prefix of s[0..len), per Unicode table 3-7: len when all is valid. */
size_t ticket_utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i], lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			else if (c == 0xED)
				hi = 0x9F; /* UTF-16 surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			if (c == 0xF0)
				lo = 0x90; /* overlong */
			else if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return i; /* continuation byte, C0/C1 overlong lead, F5..FF */
		}
		if (len - i < n || p[i + 1] < lo || p[i + 1] > hi)
			return i;
		for (size_t k = 2; k < n; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return i;
		i += n;
	}
	return i;
}

int utf8_valid(const char *s, size_t len)
{
	return ticket_utf8_valid_prefix(s, len) == len;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n;

	if (len <= max)
		return len;
	/* s[n] is the first byte left out: back up while it continues a character (at most 3). */
	n = max;
	for (int k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; k++)
		n--;
	return n;
}
