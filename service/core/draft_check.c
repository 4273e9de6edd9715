/*
 * draft_check: see draft_check.h. Owns the rules a draft must pass before an agent
 * sees it unmarked. Must never do I/O, read the clock, log, or change the
 * draft: it only reports.
 */
#include "draft_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redact.h"
#include "ticket.h"

#define WHY_CAP 4096	   /* bytes of joined reasons before they are cut to whylen */
#define MAX_HOSTS 16	   /* distinct hosts named in the reasons */
#define MAX_PLACEHOLDERS 8 /* distinct placeholders named in the reasons */
#define HOST_MAX 253
#define QUOTE_MAX 80 /* bytes of prompt text quoted back */

void draft_policy_default(struct draft_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->min_len = 20;
	p->max_len = 4000;
	p->prompt_window = 8;
}

/* Append one reason; one that no longer fits in WHY_CAP is dropped whole. */
static void PRINTF_LIKE(2, 3) reason(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	size_t sep = b->len > 0 ? 2 : 0, n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	n = strlen(tmp);
	if (b->len + sep + n > b->cap)
		return;
	if (buf_append(b, "; ", sep) < 0 || buf_append(b, tmp, n) < 0)
		return;
}

static int is_alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int to_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* ---- links ---- */

/*
 * Top-level domains that make "word.tld" a link without "http" or "www.".
 * Left out on purpose: ones that also read as file extensions (md, py, sh,
 * js, so, ps), which would flag ordinary text such as "setup.sh".
 */
static const char *const tlds[] = {
	"com",	 "net", "org",	"info", "biz",	  "io",	  "co",	   "ai",   "app",   "dev",
	"me",	 "ly",	"xyz",	"site", "online", "shop", "store", "tech", "cloud", "link",
	"click", "top", "live", "pro",	"us",	  "uk",	  "ca",	   "au",   "de",    "fr",
	"nl",	 "es",	"it",	"eu",	"ru",	  "cn",	  "in",	   "br",   "jp",    "ch",
	"at",	 "be",	"se",	"no",	"dk",	  "fi",	  "pl",	   "cz",   "ie",    "nz",
	"za",	 "mx",	"ar",	"kr",	"tv",	  "gov",  "edu",   "mil",  "int",
};

struct hosts {
	char names[MAX_HOSTS][HOST_MAX + 1];
	size_t n;
};

static int host_char(int c)
{
	return is_alnum(c) || c == '-' || c >= 0x80;
}

/*
 * Read a host name at s[0..n): labels of letters, digits, '-' and non-ASCII
 * bytes joined by single dots. Returns its length (0 if none), *labels the
 * number of labels and *last the offset of the last label.
 */
static size_t read_host(const unsigned char *s, size_t n, size_t *labels, size_t *last)
{
	size_t i = 0, end = 0;

	*labels = 0;
	*last = 0;
	while (i < n) {
		size_t ls = i;

		while (i < n && host_char(s[i]))
			i++;
		if (i == ls)
			break;
		(*labels)++;
		*last = ls;
		end = i;
		if (i + 1 < n && s[i] == '.' && host_char(s[i + 1]))
			i++;
		else
			break;
	}
	return end;
}

static int tld_listed(const char *s, size_t n)
{
	int lower = 1, upper = 1;
	char low[8];

	if (n < 2 || n >= sizeof(low))
		return 0;
	for (size_t i = 0; i < n; i++) {
		lower &= s[i] >= 'a' && s[i] <= 'z';
		upper &= s[i] >= 'A' && s[i] <= 'Z';
		low[i] = (char)to_lower(s[i]);
	}
	/* "website.It will" is a sentence without a space, not Italy. */
	if (!lower && !upper)
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(tlds); k++)
		if (strlen(tlds[k]) == n && memcmp(tlds[k], low, n) == 0)
			return 1;
	return 0;
}

static int host_allowed(const struct draft_policy *p, const char *host)
{
	size_t hn = strlen(host);

	for (size_t i = 0; i < p->nlink_allow; i++) {
		const char *a = p->link_allow[i];
		size_t an;

		if (strncmp(a, "*.", 2) == 0)
			a += 2;
		else if (a[0] == '.')
			a++;
		an = strlen(a);
		if (an == 0)
			continue;
		if (hn == an && strcasecmp(host, a) == 0)
			return 1;
		if (hn > an && host[hn - an - 1] == '.' && strcasecmp(host + hn - an, a) == 0)
			return 1;
	}
	return 0;
}

/* Report host h[0..n) (what says how it appeared) once, if not allowed. */
static void check_host(const struct draft_policy *p, struct hosts *seen, struct buf *why,
		       const char *what, const char *h, size_t n)
{
	char host[HOST_MAX + 1];

	while (n > 0 && h[n - 1] == '.')
		n--;
	if (n == 0)
		return;
	if (n > HOST_MAX)
		n = HOST_MAX;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)to_lower((unsigned char)h[i]);
	host[n] = '\0';
	if (host_allowed(p, host))
		return;
	for (size_t i = 0; i < seen->n; i++)
		if (strcmp(seen->names[i], host) == 0)
			return;
	if (seen->n < MAX_HOSTS)
		strlcpy_t(seen->names[seen->n++], host, sizeof(seen->names[0]));
	reason(why, "%s to a host not allowed: %.*s", what, (int)utf8_cut(host, n, 100), host);
}

/* The authority of a URL at s (after "//"): the host, after any "user@", before any ":port". */
static size_t url_host(const char *s, size_t n, const char **host, size_t *hlen)
{
	size_t end = 0, start = 0, hend;

	while (end < n && (host_char((unsigned char)s[end]) || strchr(".@:[]_~%", s[end])))
		end++;
	for (size_t i = 0; i < end; i++)
		if (s[i] == '@')
			start = i + 1;
	if (start < end && s[start] == '[') {
		const char *rb = memchr(s + start, ']', end - start);

		hend = rb ? (size_t)(rb - s) + 1 : end;
	} else {
		hend = start;
		while (hend < end && s[hend] != ':')
			hend++;
	}
	*host = s + start;
	*hlen = hend - start;
	return end;
}

static void check_links(const struct draft_policy *p, const char *d, size_t n, struct buf *why)
{
	const unsigned char *u = (const unsigned char *)d;
	struct hosts seen = {.n = 0};
	size_t i = 0;

	while (i < n) {
		int prev = i > 0 ? u[i - 1] : ' ';
		size_t labels, last, hl;

		if (n - i >= 3 && memcmp(d + i, "://", 3) == 0) {
			const char *host;

			i += 3 + url_host(d + i + 3, n - i - 3, &host, &hl);
			if (hl == 0)
				reason(why, "link without a host");
			else
				check_host(p, &seen, why, "link", host, hl);
			continue;
		}
		if (u[i] == '@' && i > 0 && (is_alnum(prev) || strchr("._%+-", prev))) {
			hl = read_host(u + i + 1, n - i - 1, &labels, &last);
			if (labels >= 2)
				check_host(p, &seen, why, "e-mail address", d + i + 1, hl);
			i += 1 + hl;
			continue;
		}
		if (!host_char(u[i]) || host_char(prev) || prev == '.' || prev == '_' ||
		    prev == '@') {
			i++;
			continue;
		}
		hl = read_host(u + i, n - i, &labels, &last);
		if (labels >= 2 && (tld_listed(d + i + last, hl - last) ||
				    (hl > 4 && strncasecmp(d + i, "www.", 4) == 0)))
			check_host(p, &seen, why, "link", d + i, hl);
		i += hl > 0 ? hl : 1;
	}
}

/* ---- placeholders ---- */

static void check_placeholders(const char *d, size_t n, struct buf *why)
{
	char list[MAX_PLACEHOLDERS][REDACT_LABEL_MAX + 16];
	size_t nl = 0, more = 0;
	struct buf b;

	for (size_t i = 0; i < n; i++) {
		size_t pl = d[i] == '[' ? redact_placeholder_len(d + i, n - i) : 0;
		int dup = 0;

		if (pl == 0)
			continue;
		if (pl >= sizeof(list[0]))
			pl = sizeof(list[0]) - 1;
		for (size_t k = 0; k < nl; k++)
			dup |= strncmp(list[k], d + i, pl) == 0 && list[k][pl] == '\0';
		if (!dup && nl < MAX_PLACEHOLDERS) {
			memcpy(list[nl], d + i, pl);
			list[nl++][pl] = '\0';
		} else if (!dup) {
			more++;
		}
		i += pl - 1;
	}
	if (nl == 0)
		return;
	buf_init(&b, 512);
	for (size_t k = 0; k < nl; k++)
		if (buf_appendf(&b, "%s%s", k ? ", " : "", list[k]) < 0)
			break;
	reason(why, "leftover placeholder%s %s%s", nl + more > 1 ? "s" : "", b.data ? b.data : "",
	       more ? ", ..." : "");
	buf_cleanup(&b);
}

/* ---- system prompt ---- */

/*
 * A word is a run of non-whitespace with ASCII punctuation at both ends
 * removed, compared lower-cased (ASCII only). A window is k words in a row;
 * its hash is sum(word_hash(w[s+i]) * WIN_MULT^(k-1-i)) mod 2^64, computed
 * rolling. The hash only finds candidates: every hit is confirmed word by
 * word, so results never depend on collisions.
 */
#define WIN_MULT 0x100000001B3ULL
#define RING_STACK 32 /* windows up to this many words scan a draft without allocating */

struct pword {
	size_t off, len; /* in the text the word was read from */
	uint64_t h;
};

struct pslot {
	uint64_t h;
	size_t start; /* first word of the window + 1; 0: empty slot */
};

struct draft_check_prompt {
	size_t window;
	char *text; /* lower-cased copy of the prompt; words point into it */
	struct pword *w;
	size_t nw;
	/* Distinct windows, open addressing with linear probing. NULL: never matches. */
	struct pslot *slot;
	size_t mask;
	uint64_t mult_k; /* WIN_MULT^window: takes the oldest word out of a rolling hash */
};

/* The bytes strchr(" \t\r\n\v\f", c) finds, without the call. */
static int is_space(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int edge_punct(int c)
{
	return c < 0x80 && c > ' ' && !is_alnum(c);
}

/* FNV-1a of the lower-cased bytes. */
static uint64_t word_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)to_lower((unsigned char)s[i]);
		h *= 1099511628211ULL;
	}
	return h;
}

/* The next word of s[*pos..n): 1 with its bounds in *w (hash included), 0 at the end. */
static int next_word(const char *s, size_t n, size_t *pos, struct pword *w)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = *pos;

	while (i < n) {
		size_t s0, e;

		while (i < n && is_space(u[i]))
			i++;
		s0 = i;
		while (i < n && !is_space(u[i]))
			i++;
		e = i;
		while (s0 < e && edge_punct(u[s0]))
			s0++;
		while (e > s0 && edge_punct(u[e - 1]))
			e--;
		if (e == s0)
			continue;
		*pos = i;
		w->off = s0;
		w->len = e - s0;
		w->h = word_hash(s + s0, e - s0);
		return 1;
	}
	*pos = i;
	return 0;
}

static size_t slot_of(uint64_t h, size_t mask)
{
	uint64_t m = h * 0x9E3779B97F4A7C15ULL;

	return (size_t)(m ^ (m >> 32)) & mask;
}

/*
 * Whether the prompt's window at word ps has the same words as t's window
 * whose words are ring[first], ring[first + 1], ... (ring of size rn, so a
 * plain array when first + window <= rn).
 */
static int window_eq(const struct draft_check_prompt *pp, size_t ps, const char *t,
		     const struct pword *ring, size_t rn, size_t first)
{
	for (size_t i = 0, r = first; i < pp->window; i++, r = r + 1 == rn ? 0 : r + 1) {
		const struct pword *a = &pp->w[ps + i], *b = &ring[r];

		if (a->len != b->len || a->h != b->h)
			return 0;
		for (size_t j = 0; j < a->len; j++)
			if (pp->text[a->off + j] != to_lower((unsigned char)t[b->off + j]))
				return 0;
	}
	return 1;
}

/* Add the prompt's window at word s (hash h) unless the same words are indexed already. */
static void slot_add(struct draft_check_prompt *pp, uint64_t h, size_t s)
{
	size_t i;

	for (i = slot_of(h, pp->mask); pp->slot[i].start; i = (i + 1) & pp->mask)
		if (pp->slot[i].h == h &&
		    window_eq(pp, pp->slot[i].start - 1, pp->text, pp->w, pp->nw, s))
			return;
	pp->slot[i] = (struct pslot){h, s + 1};
}

struct draft_check_prompt *draft_check_prompt_new(const char *system_prompt, size_t window)
{
	struct draft_check_prompt *pp = xcalloc(1, sizeof(*pp));
	size_t n, pos = 0, nwin, nslot = 16;
	uint64_t h = 0;

	pp->window = window;
	if (system_prompt == NULL || window == 0)
		return pp;
	n = strlen(system_prompt);
	pp->text = xmalloc(n + 1);
	for (size_t i = 0; i <= n; i++)
		pp->text[i] = (char)to_lower((unsigned char)system_prompt[i]);
	/* A word and the space after it take two bytes at least. */
	pp->w = xmalloc((n / 2 + 1) * sizeof(*pp->w));
	while (next_word(pp->text, n, &pos, &pp->w[pp->nw]))
		pp->nw++;
	if (pp->nw < window)
		return pp;
	nwin = pp->nw - window + 1;
	while (nslot < 2 * nwin)
		nslot *= 2;
	pp->slot = xcalloc(nslot, sizeof(*pp->slot));
	pp->mask = nslot - 1;
	pp->mult_k = 1;
	for (size_t i = 0; i < window; i++)
		pp->mult_k *= WIN_MULT;
	for (size_t j = 0; j < pp->nw; j++) {
		h = h * WIN_MULT + pp->w[j].h;
		if (j >= window)
			h -= pp->w[j - window].h * pp->mult_k;
		if (j + 1 >= window)
			slot_add(pp, h, j + 1 - window);
	}
	return pp;
}

void draft_check_prompt_free(struct draft_check_prompt *pp)
{
	if (pp == NULL)
		return;
	free(pp->text);
	free(pp->w);
	free(pp->slot);
	free(pp);
}

/* Whether the window with hash h, words ring[first..] of draft d, is in the prompt. */
static int window_indexed(const struct draft_check_prompt *pp, uint64_t h, const char *d,
			  const struct pword *ring, size_t first)
{
	for (size_t i = slot_of(h, pp->mask); pp->slot[i].start; i = (i + 1) & pp->mask)
		if (pp->slot[i].h == h &&
		    window_eq(pp, pp->slot[i].start - 1, d, ring, pp->window, first))
			return 1;
	return 0;
}

/* Quote the window (lower case, words joined by one space) as far as whole words fit. */
static void report_window(const char *d, const struct pword *ring, size_t k, size_t first,
			  struct buf *why)
{
	char q[QUOTE_MAX + 1];
	size_t ql = 0;

	for (size_t i = 0, r = first; i < k; i++, r = r + 1 == k ? 0 : r + 1) {
		size_t sep = i > 0;

		if (ql + sep + ring[r].len > QUOTE_MAX)
			break;
		if (sep)
			q[ql++] = ' ';
		for (size_t j = 0; j < ring[r].len; j++)
			q[ql++] = (char)to_lower((unsigned char)d[ring[r].off + j]);
	}
	q[ql] = '\0';
	reason(why, "repeats the system prompt: \"%s...\"", q);
}

/*
 * Report the first window of d (n bytes) that is also a window of the
 * prompt. The draft's last k words are kept in a ring, so a draft costs one
 * pass and no copy.
 */
static void check_prompt(const struct draft_check_prompt *pp, const char *d, size_t n, struct buf *why)
{
	struct pword stack[RING_STACK], *ring = stack, w;
	size_t k, pos = 0, nw = 0, r = 0;
	uint64_t h = 0;

	if (pp == NULL || pp->slot == NULL)
		return;
	k = pp->window;
	if (k > RING_STACK)
		ring = xmalloc(k * sizeof(*ring));
	while (next_word(d, n, &pos, &w)) {
		h = h * WIN_MULT + w.h;
		if (nw >= k)
			h -= ring[r].h * pp->mult_k;
		ring[r] = w;
		r = r + 1 == k ? 0 : r + 1; /* now the oldest word of the window */
		if (++nw >= k && window_indexed(pp, h, d, ring, r)) {
			report_window(d, ring, k, r, why);
			break;
		}
	}
	if (ring != stack)
		free(ring);
}

/* ---- refunds and compensation ---- */

/* Matched in the lower-cased, whitespace-collapsed draft at word boundaries; '*': any ending. */
static const char *const promises[] = {
	"we will refund",
	"we'll refund",
	"we will issue a refund",
	"we'll issue a refund",
	"we will process a refund",
	"we will process your refund",
	"i will refund",
	"i'll refund",
	"i will issue a refund",
	"i'll issue a refund",
	"issue you a refund",
	"you will receive a refund",
	"you'll receive a refund",
	"you will get a refund",
	"you'll get a refund",
	"you will be refunded",
	"you'll be refunded",
	"will be refunded",
	"we have refunded",
	"we've refunded",
	"i have refunded",
	"i've refunded",
	"has been refunded",
	"have been refunded",
	"issued a refund",
	"issued your refund",
	"refund has been issued",
	"refund has been processed",
	"refund has been approved",
	"full refund",
	"refunded to your",
	"we have credited",
	"we've credited",
	"i have credited",
	"i've credited",
	"will be credited",
	"has been credited",
	"credited to your",
	"credited your account",
	"we will credit",
	"we'll credit",
	"i will credit",
	"i'll credit",
	"credit your account",
	"a credit of",
	"store credit",
	"goodwill credit",
	"gesture of goodwill",
	"goodwill gesture",
	"compensat*",
	"reimburs*",
	"free month*",
	"month free",
	"months free",
	"free of charge",
	"waive*",
	"money back",
	"voucher*",
	"discount*",
};

#define FOLD_STACK 4096 /* drafts up to this many bytes fold without allocating */

/*
 * Fold s[0..n) into o (n + 1 bytes): lower case, whitespace runs to one
 * space, typographic apostrophes to "'".
 */
static void fold_text(const char *s, size_t n, char *o)
{
	size_t w = 0;
	int space = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0x98 || (unsigned char)s[i + 2] == 0x99)) {
			c = '\'';
			i += 2;
		}
		if (is_space(c)) {
			space = 1;
			continue;
		}
		if (space && w > 0)
			o[w++] = ' ';
		space = 0;
		o[w++] = (char)to_lower(c);
	}
	o[w] = '\0';
}

/* The first entry of promises[] found in t at word boundaries, or NULL. */
static const char *find_promise(const char *t)
{
	for (size_t k = 0; k < ARRAY_SIZE(promises); k++) {
		const char *ph = promises[k];
		size_t pn = strlen(ph);
		int stem = ph[pn - 1] == '*';
		char cut[64];

		/* Cut stems in a copy to keep strstr: glibc's memmem is far slower here. */
		if (stem) {
			pn = strlcpy_t(cut, ph, sizeof(cut)) - 1;
			cut[pn] = '\0';
			ph = cut;
		}
		for (const char *h = strstr(t, ph); h; h = strstr(h + 1, ph)) {
			if (h > t && is_alnum((unsigned char)h[-1]))
				continue;
			if (!stem && is_alnum((unsigned char)h[pn]))
				continue;
			return promises[k];
		}
	}
	return NULL;
}

static int category_exempt(const struct draft_policy *p, const char *category)
{
	if (category == NULL)
		return 0;
	for (size_t i = 0; i < p->nrefund_categories; i++)
		if (strcasecmp(p->refund_categories[i], category) == 0)
			return 1;
	return 0;
}

static void check_promises(const struct draft_policy *p, const char *draft, size_t n,
			   const char *category, struct buf *why)
{
	char small[FOLD_STACK + 1], *t = small;
	const char *ph;
	size_t pn;

	if (category_exempt(p, category))
		return;
	if (n > FOLD_STACK)
		t = xmalloc(n + 1);
	fold_text(draft, n, t);
	ph = find_promise(t);
	if (ph) {
		pn = strlen(ph);
		reason(why, "promises a refund, credit or compensation (\"%.*s\")",
		       (int)(pn - (ph[pn - 1] == '*')), ph);
	}
	if (t != small)
		free(t);
}

/* ---- the check ---- */

int draft_check_ix(const struct draft_policy *p, const char *draft, const char *category,
			  const struct draft_check_prompt *pp, char *why, size_t whylen)
{
	struct buf b;
	size_t n = draft ? strlen(draft) : 0;
	int flagged;

	buf_init(&b, WHY_CAP);
	if (draft == NULL || str_blank(draft)) {
		reason(&b, "blank draft");
	} else {
		if (!utf8_valid(draft, n))
			reason(&b, "not valid UTF-8");
		if (n < p->min_len)
			reason(&b, "too short: %zu bytes (min %zu)", n, p->min_len);
		if (p->max_len > 0 && n > p->max_len)
			reason(&b, "too long: %zu bytes (max %zu)", n, p->max_len);
		check_links(p, draft, n, &b);
		check_placeholders(draft, n, &b);
		check_prompt(pp, draft, n, &b);
		check_promises(p, draft, n, category, &b);
	}
	flagged = b.len > 0;
	if (why != NULL && whylen > 0) {
		size_t c = flagged ? utf8_cut(b.data, b.len, whylen - 1) : 0;

		if (c)
			memcpy(why, b.data, c);
		why[c] = '\0';
	}
	buf_cleanup(&b);
	return flagged;
}

int draft_check(const struct draft_policy *p, const char *draft, const char *category,
		       const char *system_prompt, char *why, size_t whylen)
{
	struct draft_check_prompt *pp = NULL;
	int flagged;

	/* No index when nothing would be checked: NULL skips the window check. */
	if (system_prompt != NULL && p->prompt_window > 0)
		pp = draft_check_prompt_new(system_prompt, p->prompt_window);
	flagged = draft_check_ix(p, draft, category, pp, why, whylen);
	draft_check_prompt_free(pp);
	return flagged;
}
