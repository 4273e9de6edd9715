/*
 * redact: see redact.h. Owns one redaction call (the redactor and its custom
 * patterns, the order of the detectors, building the output and rolling the
 * map back on failure). The normalised view is in redact_scan.c, the
 * detectors in redact_detect.c and redact_phone.c, the placeholders, map and
 * restore in redact_map.c. Must never do I/O, read the
 * clock or log (the map and the texts hold personal data).
 *
 * One call works in three steps: every detector marks byte ranges in a claim
 * mask (first claim wins, in the order of redact.h); the ranges are sorted;
 * then each range gets its placeholder from the map and the output is built
 * in a capped buffer. The map is changed only in the last step, and rolled
 * back when that step fails, so a failed call leaves it as it was.
 *
 * Every built-in detector anchors on ASCII bytes, so a range can only start
 * and end inside a multibyte character through the e-mail detector (which
 * steps over whole Latin letters) or a custom regex (whose matches are
 * widened to character boundaries).
 */
#include "redact.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "redact_detect.h"
#include "redact_map.h"
#include "redact_phone.h"
#include "redact_scan.h"
#include "ticket.h"

struct redactor {
	struct redact_pattern *pats[REDACT_MAX_PATTERNS];
	size_t n;
	enum redact_lead0 lead0; /* an unbroken 10-digit number with one leading 0 */
};

/* ---- redactor ---- */

struct redactor *redactor_new(void)
{
	struct redactor *r = xcalloc(1, sizeof(struct redactor));

	r->lead0 = REDACT_LEAD0_PHONE;
	return r;
}

void redactor_set_lead0(struct redactor *r, enum redact_lead0 mode)
{
	r->lead0 = mode;
}

void redactor_free(struct redactor *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		regfree(&r->pats[i]->re);
		free(r->pats[i]);
	}
	free(r);
}

int redactor_add_pattern(struct redactor *r, const char *label, const char *posix_ere, char *err,
			 size_t errlen)
{
	struct redact_pattern *p = NULL;
	size_t n = label ? strlen(label) : 0;
	int rc;

	if (n == 0 || n > REDACT_LABEL_MAX || label[0] < 'A' || label[0] > 'Z' ||
	    label[n - 1] == '_') {
		set_err(err, errlen, "%.40s: label must be [A-Z][A-Z0-9_]*, at most %d bytes",
			label ? label : "(null)", REDACT_LABEL_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!((label[i] >= 'A' && label[i] <= 'Z') || redact_is_digit(label[i]) ||
		      label[i] == '_')) {
			set_err(err, errlen, "%.40s: label must be [A-Z][A-Z0-9_]*", label);
			return -1;
		}
	}
	for (int k = 0; k < REDACT__COUNT; k++) {
		if (redact_map_kind_label(k) && strcmp(label, redact_map_kind_label(k)) == 0) {
			set_err(err, errlen, "%s: label is reserved for a built-in detector",
				label);
			return -1;
		}
	}
	if (r->n == REDACT_MAX_PATTERNS) {
		set_err(err, errlen, "%s: too many patterns (max %d)", label, REDACT_MAX_PATTERNS);
		return -1;
	}
	if (posix_ere == NULL || posix_ere[0] == '\0') {
		set_err(err, errlen, "%s: empty pattern", label);
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	strlcpy_t(p->label, label, sizeof(p->label));
	rc = regcomp(&p->re, posix_ere, REG_EXTENDED | REG_ICASE | REG_NEWLINE);
	if (rc != 0) {
		char msg[128];

		regerror(rc, &p->re, msg, sizeof(msg));
		set_err(err, errlen, "%s: bad pattern: %s", label, msg);
		free(p);
		return -1;
	}
	if (regexec(&p->re, "", 0, NULL, 0) == 0) {
		set_err(err, errlen, "%s: pattern matches the empty string", label);
		regfree(&p->re);
		free(p);
		return -1;
	}
	r->pats[r->n++] = p;
	return 0;
}

/* ---- redact_text ---- */

static int span_cmp(const void *a, const void *b)
{
	const struct redact_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static enum redact_kind label_kind(int label)
{
	return label >= REDACT__COUNT ? REDACT_CUSTOM : (enum redact_kind)label;
}

/*
 * Run every detector over text[0..len) (valid UTF-8, no NUL): appends the
 * spans found, in the text's own byte offsets, to *sp (*nsp of *asp, grown
 * with xrealloc), unsorted. Returns 0, or -1 with err (a custom pattern).
 */
static int detect(const struct redactor *r, const char *text, size_t len, struct redact_span **sp,
		  size_t *nsp, size_t *asp, char *err, size_t errlen)
{
	struct redact_scan sc = {NULL, 0, NULL, NULL, NULL, 0, 0, REDACT_LEAD0_PHONE};
	char *view = NULL;
	size_t *off = NULL;
	int rc = -1;

	sc.len = redact_scan_normalise(text, len, &view, &off);
	sc.t = view;
	sc.off = off;
	sc.lead0 = r != NULL ? r->lead0 : REDACT_LEAD0_PHONE;
	sc.claim = xcalloc(sc.len + 1, 1);
	redact_detect_literal(&sc);
	redact_detect_iban(&sc);
	redact_detect_card(&sc);
	redact_detect_tracking(&sc);
	redact_detect_email(&sc);
	for (size_t i = 0; r != NULL && i < r->n; i++)
		if (redact_detect_custom(&sc, r->pats[i], REDACT__COUNT + (int)i, err, errlen) < 0)
			goto out;
	redact_detect_ipv4(&sc);
	redact_phone_detect(&sc);
	if (*nsp + sc.nsp > *asp) {
		*asp = *nsp + sc.nsp + 16;
		*sp = xrealloc(*sp, *asp * sizeof(**sp));
	}
	for (size_t i = 0; i < sc.nsp; i++)
		(*sp)[(*nsp)++] =
		    (struct redact_span){off[sc.sp[i].start], off[sc.sp[i].end], sc.sp[i].label};
	rc = 0;
out:
	free(view);
	free(off);
	free(sc.claim);
	free(sc.sp);
	return rc;
}

/*
 * Build the output of text[0..len) with the spans sp[0..nsp) (sorted,
 * original offsets) replaced by their placeholders, interned in map;
 * ph[0..nsp) gets where each placeholder is in the output. Returns the new
 * string, or NULL with err.
 */
static char *build(const struct redactor *r, const char *text, size_t len,
		   const struct redact_span *sp, size_t nsp, struct redact_span *ph,
		   struct redact_map *map, struct redact_stats *st, char *err, size_t errlen)
{
	unsigned *const counts[REDACT__COUNT] = {
	    [REDACT_EMAIL] = &st->email,   [REDACT_PHONE] = &st->phone,
	    [REDACT_CARD] = &st->card,	   [REDACT_IBAN] = &st->iban,
	    [REDACT_CUSTOM] = &st->custom, [REDACT_LITERAL] = &st->literal,
	};
	struct buf out;
	size_t pos = 0;
	char *res = NULL;

	*st = (struct redact_stats){0};
	buf_init(&out, len > (SIZE_MAX - 1024) / 2 ? SIZE_MAX : len * 2 + 1024);
	for (size_t i = 0; i < nsp; i++) {
		const struct redact_span *s = &sp[i];
		enum redact_kind kind = label_kind(s->label);
		const char *label = kind == REDACT_CUSTOM ? r->pats[s->label - REDACT__COUNT]->label
							  : redact_map_kind_label(kind);
		size_t idx =
		    redact_map_intern(map, label, text + s->start, s->end - s->start, kind);
		const char *placeholder;

		if (idx == SIZE_MAX) {
			set_err(err, errlen, "more than %d distinct values to redact",
				REDACT_MAP_MAX);
			goto out;
		}
		placeholder = map->entries[idx].placeholder;
		if (buf_append(&out, text + pos, s->start - pos) < 0 ||
		    buf_append(&out, placeholder, strlen(placeholder)) < 0) {
			set_err(err, errlen, "redacted text over %zu bytes", out.cap);
			goto out;
		}
		ph[i].end = out.len;
		ph[i].start = out.len - strlen(placeholder);
		pos = s->end;
		(*counts[kind])++;
	}
	if (buf_append(&out, text + pos, len - pos) < 0) {
		set_err(err, errlen, "redacted text over %zu bytes", out.cap);
		goto out;
	}
	res = buf_steal(&out);
out:
	buf_cleanup(&out);
	return res;
}

/*
 * The detectors run to a fixed point: a value taken changes what is next to
 * it (its placeholder is a boundary), and a value beside it may only show
 * once it is taken ("12/27455..." is no expiry once the card after the slash
 * is gone). So the output is searched again, and what is found there (never
 * inside a placeholder: they are literals to the detectors) is mapped back
 * to the original and added, until a pass finds nothing. A text with nothing
 * to redact costs one pass, one with values usually two.
 */
#define REDACT_PASSES 4

char *redact_text(const struct redactor *r, const char *text, size_t len, struct redact_map *map,
		  struct redact_stats *stats, char *err, size_t errlen)
{
	struct redact_stats st = {0};
	struct redact_span *sp = NULL;
	size_t n_before = map->n, nsp = 0, asp = 0;
	struct redact_span *ph = NULL; /* where each placeholder is in the output */
	char *res = NULL;

	if (!utf8_valid(text, len)) {
		set_err(err, errlen, "text is not valid UTF-8");
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		set_err(err, errlen, "text contains a NUL byte");
		goto out;
	}
	if (detect(r, text, len, &sp, &nsp, &asp, err, errlen) < 0)
		goto out;
	for (int pass = 1;; pass++) {
		size_t n1 = nsp, k = 0;

		if (nsp > 1)
			qsort(sp, nsp, sizeof(*sp), span_cmp);
		ph = xrealloc(ph, (nsp + 1) * sizeof(*ph));
		free(res);
		if (map->n != n_before) {
			redact_map_free_entries(map, n_before);
			redact_map_reindex(map);
		}
		res = build(r, text, len, sp, nsp, ph, map, &st, err, errlen);
		if (res == NULL || nsp == 0 || pass == REDACT_PASSES)
			break;
		/*
		 * A custom pattern failing only on the output (a match running over
		 * placeholders) does not fail the call: the last output stands.
		 */
		if (detect(r, res, strlen(res), &sp, &nsp, &asp, err, errlen) < 0) {
			if (errlen > 0)
				err[0] = '\0';
			break;
		}
		/*
		 * Map the new spans back to the original: drop those on a
		 * placeholder (ours, found as literals), shift the others by the
		 * placeholders before them.
		 */
		for (size_t i = n1; i < nsp; i++) {
			struct redact_span s = sp[i];
			size_t lo = 0, hi = n1;

			/* lo: the placeholders ending at or before s.start */
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (ph[mid].end <= s.start)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < n1 && s.end > ph[lo].start)
				continue;
			if (lo > 0) {
				s.start = s.start - ph[lo - 1].end + sp[lo - 1].end;
				s.end = s.end - ph[lo - 1].end + sp[lo - 1].end;
			}
			sp[k++ + n1] = s;
		}
		nsp = n1 + k;
		if (k == 0)
			break;
	}
	if (res != NULL && stats)
		*stats = st;
out:
	if (res == NULL && map->n != n_before) {
		redact_map_free_entries(map, n_before);
		redact_map_reindex(map);
	}
	free(sp);
	free(ph);
	return res;
}
