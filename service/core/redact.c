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

char *redact_text(const struct redactor *r, const char *text, size_t len, struct redact_map *map,
		  struct redact_stats *stats, char *err, size_t errlen)
{
	struct redact_scan sc = {NULL, 0, NULL, NULL, NULL, 0, 0, REDACT_LEAD0_PHONE};
	char *view = NULL;
	size_t *off = NULL;
	struct redact_stats st = {0};
	unsigned *const counts[REDACT__COUNT] = {
	    [REDACT_EMAIL] = &st.email,	  [REDACT_PHONE] = &st.phone,
	    [REDACT_CARD] = &st.card,	  [REDACT_IBAN] = &st.iban,
	    [REDACT_CUSTOM] = &st.custom, [REDACT_LITERAL] = &st.literal,
	};
	struct buf out;
	size_t n_before = map->n, pos = 0;
	char *res = NULL;

	buf_init(&out, len > (SIZE_MAX - 1024) / 2 ? SIZE_MAX : len * 2 + 1024);
	if (!utf8_valid(text, len)) {
		set_err(err, errlen, "text is not valid UTF-8");
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		set_err(err, errlen, "text contains a NUL byte");
		goto out;
	}
	sc.len = redact_scan_normalise(text, len, &view, &off);
	sc.t = view;
	sc.off = off;
	sc.lead0 = r != NULL ? r->lead0 : REDACT_LEAD0_PHONE;
	sc.claim = xcalloc(sc.len + 1, 1);
	redact_detect_literal(&sc);
	redact_detect_tracking(&sc);
	redact_detect_iban(&sc);
	redact_detect_card(&sc);
	redact_detect_email(&sc);
	for (size_t i = 0; r != NULL && i < r->n; i++)
		if (redact_detect_custom(&sc, r->pats[i], REDACT__COUNT + (int)i, err, errlen) < 0)
			goto out;
	redact_detect_ipv4(&sc);
	redact_phone_detect(&sc);
	if (sc.nsp > 1)
		qsort(sc.sp, sc.nsp, sizeof(*sc.sp), span_cmp);

	for (size_t i = 0; i < sc.nsp; i++) {
		const struct redact_span *s = &sc.sp[i];
		enum redact_kind kind = label_kind(s->label);
		const char *label = kind == REDACT_CUSTOM ? r->pats[s->label - REDACT__COUNT]->label
							  : redact_map_kind_label(kind);
		size_t os = off[s->start], oe = off[s->end]; /* the span in the original */
		size_t idx = redact_map_intern(map, label, text + os, oe - os, kind);
		const char *ph;

		if (idx == SIZE_MAX) {
			set_err(err, errlen, "more than %d distinct values to redact",
				REDACT_MAP_MAX);
			goto out;
		}
		ph = map->entries[idx].placeholder;
		if (buf_append(&out, text + pos, os - pos) < 0 ||
		    buf_append(&out, ph, strlen(ph)) < 0) {
			set_err(err, errlen, "redacted text over %zu bytes", out.cap);
			goto out;
		}
		pos = oe;
		(*counts[kind])++;
	}
	if (buf_append(&out, text + pos, len - pos) < 0) {
		set_err(err, errlen, "redacted text over %zu bytes", out.cap);
		goto out;
	}
	res = buf_steal(&out);
	if (stats)
		*stats = st;
out:
	if (res == NULL && map->n != n_before) {
		redact_map_free_entries(map, n_before);
		redact_map_reindex(map);
	}
	buf_cleanup(&out);
	free(view);
	free(off);
	free(sc.claim);
	free(sc.sp);
	return res;
}
