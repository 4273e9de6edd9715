/*
 * policy: see policy.h. Owns the rules a draft must pass before an agent
 * sees it unmarked. Must never do I/O, read the clock, log, or change the
 * draft: it only reports.
 */
#include "policy.h"

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

struct words {
	char *text; /* lower-cased copy; words point into it */
	const char **w;
	size_t *len;
	uint64_t *h;
	size_t n;
};

static uint64_t word_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int edge_punct(int c)
{
	return c < 0x80 && c > ' ' && !is_alnum(c);
}

/* Split s into whitespace-separated words, lower case, punctuation at both ends removed. */
static void words_split(struct words *ws, const char *s)
{
	size_t n = strlen(s), i = 0;

	ws->text = xmalloc(n + 1);
	for (size_t k = 0; k <= n; k++)
		ws->text[k] = (char)to_lower((unsigned char)s[k]);
	ws->w = xmalloc((n / 2 + 1) * sizeof(*ws->w));
	ws->len = xmalloc((n / 2 + 1) * sizeof(*ws->len));
	ws->h = xmalloc((n / 2 + 1) * sizeof(*ws->h));
	ws->n = 0;
	while (i < n) {
		size_t s0, e;

		while (i < n && strchr(" \t\r\n\v\f", ws->text[i]))
			i++;
		s0 = i;
		while (i < n && !strchr(" \t\r\n\v\f", ws->text[i]))
			i++;
		e = i;
		while (s0 < e && edge_punct((unsigned char)ws->text[s0]))
			s0++;
		while (e > s0 && edge_punct((unsigned char)ws->text[e - 1]))
			e--;
		if (e == s0)
			continue;
		ws->w[ws->n] = ws->text + s0;
		ws->len[ws->n] = e - s0;
		ws->h[ws->n] = word_hash(ws->text + s0, e - s0);
		ws->n++;
	}
}

static void words_free(struct words *ws)
{
	free(ws->text);
	free(ws->w);
	free(ws->len);
	free(ws->h);
}

static uint64_t window_hash(const struct words *ws, size_t s, size_t k)
{
	uint64_t h = 0;

	for (size_t i = 0; i < k; i++)
		h = h * 0x100000001B3ULL + ws->h[s + i];
	return h;
}

struct win {
	uint64_t h;
	size_t start;
};

static int win_cmp(const void *a, const void *b)
{
	const struct win *x = a, *y = b;

	return x->h < y->h ? -1 : x->h > y->h;
}

static int same_words(const struct words *a, size_t as, const struct words *b, size_t bs, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (a->len[as + i] != b->len[bs + i] ||
		    memcmp(a->w[as + i], b->w[bs + i], a->len[as + i]))
			return 0;
	return 1;
}

static void check_prompt(const char *draft, const char *prompt, size_t k, struct buf *why)
{
	struct words pw, dw;
	struct win *wins = NULL;
	size_t nw;

	if (prompt == NULL || k == 0)
		return;
	words_split(&pw, prompt);
	words_split(&dw, draft);
	if (pw.n < k || dw.n < k)
		goto out;
	nw = pw.n - k + 1;
	wins = xmalloc(nw * sizeof(*wins));
	for (size_t s = 0; s < nw; s++)
		wins[s] = (struct win){window_hash(&pw, s, k), s};
	qsort(wins, nw, sizeof(*wins), win_cmp);
	for (size_t s = 0; s + k <= dw.n; s++) {
		struct win key = {window_hash(&dw, s, k), 0};
		const struct win *hit = bsearch(&key, wins, nw, sizeof(*wins), win_cmp);
		struct buf q;

		if (hit == NULL)
			continue;
		/* bsearch lands on any of equal hashes: look at all of them. */
		while (hit > wins && hit[-1].h == key.h)
			hit--;
		for (; hit < wins + nw && hit->h == key.h; hit++)
			if (same_words(&pw, hit->start, &dw, s, k))
				break;
		if (hit == wins + nw || hit->h != key.h)
			continue;
		buf_init(&q, QUOTE_MAX);
		for (size_t i = 0; i < k; i++)
			if (buf_appendf(&q, "%s%.*s", i ? " " : "", (int)dw.len[s + i],
					dw.w[s + i]) < 0)
				break;
		reason(why, "repeats the system prompt: \"%.*s...\"",
		       (int)utf8_cut(q.data ? q.data : "", q.len, QUOTE_MAX), q.data ? q.data : "");
		buf_cleanup(&q);
		break;
	}
out:
	free(wins);
	words_free(&pw);
	words_free(&dw);
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

/* Lower case, whitespace runs to one space, typographic apostrophes to "'". */
static char *fold_text(const char *s)
{
	size_t n = strlen(s), w = 0;
	char *o = xmalloc(n + 1);
	int space = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0x98 || (unsigned char)s[i + 2] == 0x99)) {
			c = '\'';
			i += 2;
		}
		if (strchr(" \t\r\n\v\f", c) && c != '\0') {
			space = 1;
			continue;
		}
		if (space && w > 0)
			o[w++] = ' ';
		space = 0;
		o[w++] = (char)to_lower(c);
	}
	o[w] = '\0';
	return o;
}

static const char *find_promise(const char *t)
{
	for (size_t k = 0; k < ARRAY_SIZE(promises); k++) {
		char ph[64];
		size_t pn = strlcpy_t(ph, promises[k], sizeof(ph));
		int stem = ph[pn - 1] == '*';

		if (stem)
			ph[--pn] = '\0';
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

static void check_promises(const struct draft_policy *p, const char *draft, const char *category,
			   struct buf *why)
{
	char *t;
	const char *ph;

	if (category_exempt(p, category))
		return;
	t = fold_text(draft);
	ph = find_promise(t);
	if (ph)
		reason(why, "promises a refund, credit or compensation (\"%.*s\")",
		       (int)(strlen(ph) - (ph[strlen(ph) - 1] == '*')), ph);
	free(t);
}

/* ---- the check ---- */

int policy_check_draft(const struct draft_policy *p, const char *draft, const char *category,
		       const char *system_prompt, char *why, size_t whylen)
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
		check_prompt(draft, system_prompt, p->prompt_window, &b);
		check_promises(p, draft, category, &b);
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
