/*
 * mailtext: see mailtext.h. Owns what "blank" means, which characters never
 * reach an agent's terminal or a model, and how an e-mail body is cut down
 * to what the customer wrote this time. Must never do I/O or decide what a
 * ticket is: ticket.c and intake.c call it. Outputs are bounded by a small
 * multiple of the input, which the message cap bounds.
 */
#include "mailtext.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmem.h"

/* A growable output string; inputs are capped upstream, so no cap of its own. */
struct out {
	char *s;
	size_t len, alloc;
};

static void out_put(struct out *o, const char *p, size_t n)
{
	if (o->len + n + 1 > o->alloc) {
		o->alloc = (o->len + n + 1) * 2;
		o->s = xrealloc(o->s, o->alloc);
	}
	memcpy(o->s + o->len, p, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void out_ch(struct out *o, char c)
{
	out_put(o, &c, 1);
}

static void out_cp(struct out *o, unsigned cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	out_put(o, b, n);
}

static char *out_done(struct out *o, size_t *outlen)
{
	if (o->s == NULL)
		o->s = xstrdup("");
	*outlen = o->len;
	return o->s;
}

unsigned mailtext_cp(const char *s, size_t len, size_t i, size_t *n)
{
	const unsigned char *p = (const unsigned char *)s + i;
	size_t left = len - i;

	if (p[0] < 0x80 || left < 2) {
		*n = 1;
		return p[0];
	}
	if (p[0] < 0xE0) {
		*n = 2;
		return ((unsigned)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
	}
	if (p[0] < 0xF0 && left >= 3) {
		*n = 3;
		return ((unsigned)(p[0] & 0x0F) << 12) | ((unsigned)(p[1] & 0x3F) << 6) |
		       (p[2] & 0x3F);
	}
	if (left >= 4) {
		*n = 4;
		return ((unsigned)(p[0] & 0x07) << 18) | ((unsigned)(p[1] & 0x3F) << 12) |
		       ((unsigned)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
	}
	*n = 1;
	return p[0];
}

int mailtext_is_space(unsigned c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

/* General category Cf (Unicode 15). */
static int is_format(unsigned c)
{
	static const unsigned ranges[][2] = {
		{0x00AD, 0x00AD},   {0x0600, 0x0605},	{0x061C, 0x061C},   {0x06DD, 0x06DD},
		{0x070F, 0x070F},   {0x0890, 0x0891},	{0x08E2, 0x08E2},   {0x180E, 0x180E},
		{0x200B, 0x200F},   {0x202A, 0x202E},	{0x2060, 0x2064},   {0x2066, 0x206F},
		{0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},	{0x110BD, 0x110BD}, {0x110CD, 0x110CD},
		{0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
		{0xE0020, 0xE007F},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
		if (c >= ranges[i][0] && c <= ranges[i][1])
			return 1;
	return 0;
}

int mailtext_is_invisible(unsigned c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || is_format(c);
}

int mailtext_blank(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		unsigned c = mailtext_cp(s, n, i, &k);
		if (!mailtext_is_space(c) && !mailtext_is_invisible(c))
			return 0;
		i += k;
	}
	return 1;
}

int mailtext_is_stripped_control(unsigned c)
{
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || (c >= 0x7F && c <= 0x9F);
}

int mailtext_has_controls(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (mailtext_is_stripped_control(mailtext_cp(s, n, i, &k)))
			return 1;
		i += k;
	}
	return 0;
}

char *mailtext_strip_controls(const char *s, size_t n, size_t *outlen)
{
	struct out o = {0};
	size_t i = 0, k;

	while (i < n) {
		if (!mailtext_is_stripped_control(mailtext_cp(s, n, i, &k)))
			out_put(&o, s + i, k);
		i += k;
	}
	return out_done(&o, outlen);
}

/* ---- HTML ---- */

static const char *const block_tags[] = {
	"p",  "div", "li", "tr", "h1", "h2",	     "h3",     "h4",   "h5",	"h6",
	"ul", "ol",  "table", "pre", "hr", "blockquote", "section", "article", "header", "footer",
};

static int name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

int mailtext_looks_html(const char *s, size_t n)
{
	static const char *const marks[] = {"<p>", "<p ", "<br", "<div", "<html", "<body",
					     "<span", "<table", "<blockquote", "<b>", "<a ",
					     "</p>", "</div>", "<ul", "<ol", "<strong"};
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '<')
			continue;
		for (size_t m = 0; m < ARRAY_SIZE(marks); m++) {
			size_t ml = strlen(marks[m]);
			if (n - i >= ml && strncasecmp(s + i, marks[m], ml) == 0)
				return 1;
		}
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned cp;
} entities[] = {
	{"amp", '&'},	  {"lt", '<'},	     {"gt", '>'},	{"quot", '"'},	    {"apos", '\''},
	{"nbsp", ' '},	  {"copy", 0xA9},    {"reg", 0xAE},	{"hellip", 0x2026}, {"mdash", 0x2014},
	{"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D},
	{"euro", 0x20AC}, {"pound", 0xA3},   {"eacute", 0xE9},	{"egrave", 0xE8},   {"uuml", 0xFC},
	{"ouml", 0xF6},	  {"auml", 0xE4},    {"szlig", 0xDF},	{"ccedil", 0xE7},   {"bull", 0x2022},
};

/* An entity at s[i] ('&'); returns its length (0: not one) and the code point. */
static size_t entity(const char *s, size_t n, size_t i, unsigned *cp)
{
	size_t j = i + 1;
	unsigned v = 0;

	if (j < n && s[j] == '#') {
		int hex = j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X');
		size_t start;
		j += hex ? 2 : 1;
		start = j;
		while (j < n && j - start < 7 && (hex ? isxdigit((unsigned char)s[j])
						      : isdigit((unsigned char)s[j]))) {
			char c = s[j];
			v = v * (hex ? 16u : 10u) +
			    (unsigned)(isdigit((unsigned char)c) ? c - '0' : (tolower(c) - 'a' + 10));
			j++;
		}
		if (j == start || j >= n || s[j] != ';')
			return 0;
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			v = 0xFFFD;
		*cp = v;
		return j + 1 - i;
	}
	for (size_t e = 0; e < ARRAY_SIZE(entities); e++) {
		size_t el = strlen(entities[e].name);
		if (n - j > el && memcmp(s + j, entities[e].name, el) == 0 && s[j + el] == ';') {
			*cp = entities[e].cp;
			return el + 2;
		}
	}
	return 0;
}

struct html {
	struct out o;
	int quote;	  /* blockquote depth */
	int pending_space; /* collapsed white space waiting for the next word */
	int at_line_start;
	int newlines; /* newlines at the end of o */
};

static void h_newline(struct html *h, int max)
{
	if (h->o.len == 0 || h->newlines >= max)
		return;
	out_ch(&h->o, '\n');
	h->newlines++;
	h->at_line_start = 1;
	h->pending_space = 0;
}

static void h_text(struct html *h, const char *p, size_t n)
{
	if (h->at_line_start) {
		for (int q = 0; q < h->quote; q++)
			out_put(&h->o, "> ", 2);
		h->at_line_start = 0;
	} else if (h->pending_space) {
		out_ch(&h->o, ' ');
	}
	h->pending_space = 0;
	h->newlines = 0;
	out_put(&h->o, p, n);
}

char *mailtext_html_to_text(const char *s, size_t n, size_t *outlen)
{
	struct html h = {.at_line_start = 1};
	size_t i = 0;

	while (i < n) {
		char c = s[i];
		if (c == '<') {
			char name[16];
			size_t j = i + 1, nl = 0, end;
			int closing = 0;

			if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
				const char *e = memmem(s + i + 4, n - i - 4, "-->", 3);
				i = e ? (size_t)(e - s) + 3 : n;
				continue;
			}
			if (j < n && s[j] == '/') {
				closing = 1;
				j++;
			}
			while (j < n && nl < sizeof(name) - 1 && isalnum((unsigned char)s[j]))
				name[nl++] = s[j++];
			name[nl] = '\0';
			if (nl == 0 && !(j < n && (s[j] == '!' || s[j] == '?'))) {
				h_text(&h, "<", 1); /* a lone '<' in text */
				i++;
				continue;
			}
			/* the end of the tag, quotes respected */
			end = j;
			for (char q = 0; end < n; end++) {
				if (q != 0) {
					if (s[end] == q)
						q = 0;
				} else if (s[end] == '"' || s[end] == '\'') {
					q = s[end];
				} else if (s[end] == '>') {
					break;
				}
			}
			i = end < n ? end + 1 : n;
			if (!closing && (strcasecmp(name, "script") == 0 ||
					 strcasecmp(name, "style") == 0 ||
					 strcasecmp(name, "head") == 0 || strcasecmp(name, "title") == 0)) {
				char close[24];
				int cl = snprintf(close, sizeof(close), "</%s", name);
				const char *e = NULL;
				for (size_t k = i; cl > 0 && k + (size_t)cl <= n; k++) {
					if (strncasecmp(s + k, close, (size_t)cl) == 0) {
						e = s + k;
						break;
					}
				}
				if (e == NULL) {
					i = n;
				} else {
					const char *gt = memchr(e, '>', (size_t)(s + n - e));
					i = gt ? (size_t)(gt - s) + 1 : n;
				}
				continue;
			}
			if (strcasecmp(name, "br") == 0) {
				out_ch(&h.o, '\n');
				h.newlines++;
				h.at_line_start = 1;
				h.pending_space = 0;
			} else if (name_in(name, block_tags, ARRAY_SIZE(block_tags))) {
				int para = strcasecmp(name, "p") == 0 || name[0] == 'h' ||
					   strcasecmp(name, "blockquote") == 0;
				h_newline(&h, para ? 2 : 1);
				if (para)
					h_newline(&h, 2);
				if (strcasecmp(name, "blockquote") == 0)
					h.quote += closing ? (h.quote > 0 ? -1 : 0) : 1;
			}
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
			if (!h.at_line_start)
				h.pending_space = 1;
			i++;
			continue;
		}
		if (c == '&') {
			unsigned cp;
			size_t el = entity(s, n, i, &cp);
			if (el > 0) {
				struct out tmp = {0};
				out_cp(&tmp, cp);
				h_text(&h, tmp.s, tmp.len);
				free(tmp.s);
				i += el;
				continue;
			}
		}
		{
			size_t start = i;
			while (i < n && s[i] != '<' && s[i] != '&' && s[i] != ' ' && s[i] != '\t' &&
			       s[i] != '\n' && s[i] != '\r' && s[i] != '\f')
				i++;
			if (i == start)
				i++; /* a lone '&' */
			h_text(&h, s + start, i - start);
		}
	}
	/* no trailing blank lines */
	while (h.o.len > 0 && (h.o.s[h.o.len - 1] == '\n' || h.o.s[h.o.len - 1] == ' '))
		h.o.s[--h.o.len] = '\0';
	return out_done(&h.o, outlen);
}

/* ---- quoted replies and signatures ---- */

struct line {
	const char *p;
	size_t n; /* without the line break */
};

static int starts(const struct line *l, const char *prefix)
{
	size_t pl = strlen(prefix);
	return l->n >= pl && strncasecmp(l->p, prefix, pl) == 0;
}

static int ends_with(const struct line *l, const char *suffix)
{
	size_t sl = strlen(suffix), n = l->n;
	while (n > 0 && (l->p[n - 1] == ' ' || l->p[n - 1] == '\t' || l->p[n - 1] == '\r'))
		n--;
	return n >= sl && strncasecmp(l->p + n - sl, suffix, sl) == 0;
}

/* Where the reply chain or signature begins: index of the first line to cut, or nl. */
static size_t chain_start(const struct line *ls, size_t nl)
{
	for (size_t i = 0; i < nl; i++) {
		const struct line *l = &ls[i];
		/*
		 * "On Mon, 3 Jun 2024 at 10:00, Ann <a@b> wrote:", possibly over two
		 * lines; "Am 02.02.2025 um 17:03 schrieb Ann <a@b>:"; "Le ... a écrit :"
		 */
		if (starts(l, "On ") &&
		    (ends_with(l, "wrote:") || (i + 1 < nl && ends_with(&ls[i + 1], "wrote:"))))
			return i;
		if ((starts(l, "Am ") && memmem(l->p, l->n, " schrieb ", 9) != NULL &&
		     ends_with(l, ":")) ||
		    (starts(l, "Le ") && ends_with(l, "crit :")))
			return i;
		if (starts(l, "-----Original Message-----") || starts(l, "----- Original Message") ||
		    starts(l, "-----Ursprüngliche Nachricht"))
			return i;
		if (starts(l, "From:")) {
			for (size_t k = i + 1; k < nl && k <= i + 4; k++)
				if (starts(&ls[k], "Sent:") || starts(&ls[k], "Date:"))
					return i > 0 && starts(&ls[i - 1], "____") ? i - 1 : i;
		}
		if ((l->n == 3 && memcmp(l->p, "-- ", 3) == 0) || (l->n == 2 && memcmp(l->p, "--", 2) == 0))
			return i;
		if (starts(l, "Sent from my ") || starts(l, "Get Outlook for "))
			return i;
	}
	return nl;
}

char *mailtext_cut_quoted(const char *s, size_t n, size_t *outlen)
{
	struct line *ls = NULL;
	struct out o = {0};
	size_t nl = 0, alloc = 0, i = 0, cut;

	while (i <= n) {
		const char *nlp = memchr(s + i, '\n', n - i);
		size_t e = nlp ? (size_t)(nlp - s) : n;
		if (nl == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			ls = xrealloc(ls, alloc * sizeof(*ls));
		}
		ls[nl].p = s + i;
		ls[nl].n = e > i && s[e - 1] == '\r' ? e - i - 1 : e - i;
		nl++;
		if (nlp == NULL)
			break;
		i = e + 1;
	}
	cut = chain_start(ls, nl);
	for (size_t k = 0; k < cut; k++) {
		const char *p = ls[k].p;
		size_t m = 0;
		while (m < ls[k].n && (p[m] == ' ' || p[m] == '\t'))
			m++;
		if (m < ls[k].n && p[m] == '>')
			continue; /* a quoted line */
		out_put(&o, ls[k].p, ls[k].n);
		out_ch(&o, '\n');
	}
	free(ls);
	while (o.len > 0 && (o.s[o.len - 1] == '\n' || o.s[o.len - 1] == ' ' ||
			     o.s[o.len - 1] == '\t' || o.s[o.len - 1] == '\r'))
		o.s[--o.len] = '\0';
	if (o.len == 0 || mailtext_blank(o.s, o.len)) {
		free(o.s);
		*outlen = n;
		return xstrndup(s, n);
	}
	return out_done(&o, outlen);
}

/* ---- header-safe copies ---- */

/* Length of the valid UTF-8 character at s[i], 0 if the byte there starts none. */
static size_t valid_char(const unsigned char *p, size_t left)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		lo = c == 0xE0 ? 0xA0 : 0x80;
		hi = c == 0xED ? 0x9F : 0xBF;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;
	} else {
		return 0;
	}
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if ((p[k] & 0xC0) != 0x80)
			return 0;
	return n;
}

size_t mailtext_header_safe(const char *s, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;

	if (outlen == 0)
		return 0;
	while (i < n) {
		char esc[8];
		const char *piece;
		size_t k = valid_char(p + i, n - i), pl;
		unsigned cp = k ? mailtext_cp(s, n, i, &k) : 0;

		if (k == 0) {
			snprintf(esc, sizeof(esc), "\\x%02X", p[i]);
			piece = esc;
			pl = 4;
			k = 1;
		} else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
			snprintf(esc, sizeof(esc), "\\u%04X", cp);
			piece = esc;
			pl = 6;
		} else if (cp == '\\') {
			piece = "\\\\";
			pl = 2;
		} else {
			piece = s + i;
			pl = k;
		}
		if (o + pl + 1 > outlen) {
			/* room for "..." at the end: back up to a whole character */
			while (o > 0 && o + 4 > outlen) {
				do
					o--;
				while (o > 0 && ((unsigned char)out[o] & 0xC0) == 0x80);
			}
			if (o + 4 <= outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, piece, pl);
		o += pl;
		i += k;
	}
	out[o] = '\0';
	return o;
}
