/*
 * redact: see redact.h. Owns what counts as personal data in ticket text and
 * the placeholder map that undoes the redaction. Must never do I/O, read the
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
#include <strings.h>

#include "ticket.h"

#define IBAN_MAX 34
#define CARD_GROUPS 12
#define PHONE_GROUPS 12
#define EMAIL_LOCAL_MAX 128
#define EMAIL_DOMAIN_MAX 255
#define KEYWORD_WINDOW 40 /* bytes before a bare number searched for a phone word */

enum claim { CL_FREE, CL_VALUE, CL_SHIELD };

struct redact_counter {
	char label[REDACT_LABEL_MAX + 1];
	unsigned long last;
};

struct redact_pattern {
	char label[REDACT_LABEL_MAX + 1];
	regex_t re;
};

struct redactor {
	struct redact_pattern *pats[REDACT_MAX_PATTERNS];
	size_t n;
	enum redact_lead0 lead0; /* an unbroken 10-digit number with one leading 0 */
};

static const char *const kind_names[REDACT__COUNT] = {
	[REDACT_EMAIL] = "email", [REDACT_PHONE] = "phone",   [REDACT_CARD] = "card",
	[REDACT_IBAN] = "iban",	  [REDACT_CUSTOM] = "custom", [REDACT_LITERAL] = "literal",
};

/* Placeholder labels of the built-in kinds (custom patterns bring their own). */
static const char *const kind_labels[REDACT__COUNT] = {
	[REDACT_EMAIL] = "EMAIL", [REDACT_PHONE] = "PHONE", [REDACT_CARD] = "CARD",
	[REDACT_IBAN] = "IBAN",	  [REDACT_CUSTOM] = NULL,   [REDACT_LITERAL] = "LITERAL",
};

const char *redact_kind_name(enum redact_kind k)
{
	return (unsigned)k < REDACT__COUNT ? kind_names[k] : "unknown";
}

/* ---- character classes (ASCII only; bytes >= 0x80 are never digits or letters here) ---- */

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(int c)
{
	return is_digit(c) || is_alpha(c);
}

static int to_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* ---- placeholders ---- */

size_t redact_placeholder_len(const char *s, size_t n)
{
	size_t i = 1, last_us = 0;

	if (n < 5 || s[0] != '[' || s[1] < 'A' || s[1] > 'Z')
		return 0;
	while (i < n && i <= REDACT_LABEL_MAX + 12 &&
	       ((s[i] >= 'A' && s[i] <= 'Z') || is_digit(s[i]) || s[i] == '_')) {
		if (s[i] == '_')
			last_us = i;
		i++;
	}
	if (i >= n || s[i] != ']' || last_us < 2 || last_us + 1 == i)
		return 0;
	for (size_t k = last_us + 1; k < i; k++)
		if (!is_digit(s[k]))
			return 0;
	return i + 1;
}

/*
 * Split a placeholder made by us: label into label (NUL-terminated) and the
 * number (1.., no leading zero, at most 9 digits). Returns 0 or -1.
 */
static int placeholder_split(const char *ph, char *label, unsigned long *num)
{
	size_t n = strlen(ph), pl = redact_placeholder_len(ph, n), us, nd;
	unsigned long v = 0;

	if (pl == 0 || pl != n)
		return -1;
	us = n - 2;
	while (ph[us] != '_')
		us--;
	nd = n - 2 - us;
	if (us - 1 > REDACT_LABEL_MAX || nd > 9 || ph[us + 1] == '0')
		return -1;
	memcpy(label, ph + 1, us - 1);
	label[us - 1] = '\0';
	for (size_t k = us + 1; k < n - 1; k++)
		v = v * 10 + (unsigned long)(ph[k] - '0');
	*num = v;
	return 0;
}

/* ---- map ---- */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void redact_map_init(struct redact_map *m)
{
	memset(m, 0, sizeof(*m));
}

static void map_free_entries(struct redact_map *m, size_t from)
{
	for (size_t i = from; i < m->n; i++) {
		free(m->entries[i].placeholder);
		free(m->entries[i].value);
	}
	m->n = from;
}

void redact_map_cleanup(struct redact_map *m)
{
	if (m == NULL)
		return;
	map_free_entries(m, 0);
	free(m->entries);
	free(m->by_value);
	free(m->by_ph);
	free(m->counters);
	memset(m, 0, sizeof(*m));
}

/* Index of the entry whose value (by_ph 0) or placeholder (1) is key[0..klen), or SIZE_MAX. */
static size_t map_find(const struct redact_map *m, int by_ph, const char *key, size_t klen)
{
	const uint32_t *tab = by_ph ? m->by_ph : m->by_value;
	size_t mask = m->nslots - 1;

	if (m->nslots == 0)
		return SIZE_MAX;
	for (size_t s = hash_bytes(key, klen) & mask;; s = (s + 1) & mask) {
		const char *cand;

		if (tab[s] == 0)
			return SIZE_MAX;
		cand = by_ph ? m->entries[tab[s] - 1].placeholder : m->entries[tab[s] - 1].value;
		if (strncmp(cand, key, klen) == 0 && cand[klen] == '\0')
			return tab[s] - 1;
	}
}

static void tab_insert(uint32_t *tab, size_t nslots, const char *key, uint32_t val)
{
	size_t mask = nslots - 1, s = hash_bytes(key, strlen(key)) & mask;

	while (tab[s] != 0)
		s = (s + 1) & mask;
	tab[s] = val;
}

static struct redact_counter *map_counter(struct redact_map *m, const char *label, int create)
{
	for (size_t i = 0; i < m->ncounters; i++)
		if (strcmp(m->counters[i].label, label) == 0)
			return &m->counters[i];
	if (!create)
		return NULL;
	m->counters = xrealloc(m->counters, (m->ncounters + 1) * sizeof(*m->counters));
	strlcpy_t(m->counters[m->ncounters].label, label, sizeof(m->counters[0].label));
	m->counters[m->ncounters].last = 0;
	return &m->counters[m->ncounters++];
}

/* Rebuild both hash tables and the counters from the entries (tables sized for m->alloc). */
static void map_reindex(struct redact_map *m)
{
	size_t ns = 16;

	while (ns < 2 * m->alloc)
		ns *= 2;
	free(m->by_value);
	free(m->by_ph);
	m->by_value = xcalloc(ns, sizeof(*m->by_value));
	m->by_ph = xcalloc(ns, sizeof(*m->by_ph));
	m->nslots = ns;
	m->ncounters = 0;
	for (size_t i = 0; i < m->n; i++) {
		char label[REDACT_LABEL_MAX + 1];
		unsigned long num;
		struct redact_counter *c;

		tab_insert(m->by_value, ns, m->entries[i].value, (uint32_t)(i + 1));
		tab_insert(m->by_ph, ns, m->entries[i].placeholder, (uint32_t)(i + 1));
		if (placeholder_split(m->entries[i].placeholder, label, &num) == 0) {
			c = map_counter(m, label, 1);
			if (num > c->last)
				c->last = num;
		}
	}
}

/* Append an entry; takes ownership of ph and value. */
static void map_push(struct redact_map *m, char *ph, char *value, enum redact_kind kind)
{
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? m->alloc * 2 : 16;
		m->entries = xrealloc(m->entries, m->alloc * sizeof(*m->entries));
		m->entries[m->n] = (struct redact_entry){ph, value, kind};
		m->n++;
		map_reindex(m);
		return;
	}
	m->entries[m->n] = (struct redact_entry){ph, value, kind};
	m->n++;
	tab_insert(m->by_value, m->nslots, value, (uint32_t)m->n);
	tab_insert(m->by_ph, m->nslots, ph, (uint32_t)m->n);
}

/*
 * The placeholder for value[0..vlen): the existing one if the value is
 * known (whatever its kind), else a new one numbered after the label's last.
 * Returns the entry index, or SIZE_MAX when the map is full.
 */
static size_t map_intern(struct redact_map *m, const char *label, const char *value, size_t vlen,
			 enum redact_kind kind)
{
	size_t idx = map_find(m, 0, value, vlen);
	struct redact_counter *c;

	if (idx != SIZE_MAX)
		return idx;
	if (m->n >= REDACT_MAP_MAX)
		return SIZE_MAX;
	c = map_counter(m, label, 1);
	c->last++;
	map_push(m, xasprintf("[%s_%lu]", label, c->last), xstrndup(value, vlen), kind);
	return m->n - 1;
}

const char *redact_map_lookup(const struct redact_map *m, const char *placeholder)
{
	size_t idx = map_find(m, 1, placeholder, strlen(placeholder));

	return idx == SIZE_MAX ? NULL : m->entries[idx].value;
}

json_object *redact_map_to_json(const struct redact_map *m)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < m->n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "placeholder",
				       json_object_new_string(m->entries[i].placeholder));
		json_object_object_add(o, "value", json_object_new_string(m->entries[i].value));
		json_object_object_add(
			o, "kind", json_object_new_string(redact_kind_name(m->entries[i].kind)));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* A string member of o, NUL-free and non-empty; NULL otherwise. */
static const char *json_str(json_object *o, const char *key)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (s[0] == '\0' || strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

int redact_map_from_json(struct redact_map *m, json_object *arr, char *err, size_t errlen)
{
	size_t n;

	if (m->n != 0) {
		set_err(err, errlen, "map is not empty");
		return -1;
	}
	if (!json_object_is_type(arr, json_type_array)) {
		set_err(err, errlen, "not an array");
		return -1;
	}
	n = json_object_array_length(arr);
	if (n > REDACT_MAP_MAX) {
		set_err(err, errlen, "%zu entries (max %d)", n, REDACT_MAP_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *ph, *value, *kind;
		char label[REDACT_LABEL_MAX + 1];
		unsigned long num;
		int k;

		if (!json_object_is_type(o, json_type_object)) {
			set_err(err, errlen, "[%zu]: not an object", i);
			goto fail;
		}
		ph = json_str(o, "placeholder");
		value = json_str(o, "value");
		kind = json_str(o, "kind");
		if (ph == NULL || value == NULL || kind == NULL) {
			set_err(err, errlen,
				"[%zu]: placeholder, value and kind must be non-empty strings", i);
			goto fail;
		}
		if (placeholder_split(ph, label, &num) < 0 || num == 0) {
			set_err(err, errlen, "[%zu]: bad placeholder", i);
			goto fail;
		}
		for (k = 0; k < REDACT__COUNT; k++)
			if (strcmp(kind, kind_names[k]) == 0)
				break;
		if (k == REDACT__COUNT) {
			set_err(err, errlen, "[%zu]: unknown kind \"%.32s\"", i, kind);
			goto fail;
		}
		if (k == REDACT_CUSTOM) {
			for (int b = 0; b < REDACT__COUNT; b++) {
				if (kind_labels[b] && strcmp(label, kind_labels[b]) == 0) {
					set_err(err, errlen, "[%zu]: custom kind with label %s", i,
						label);
					goto fail;
				}
			}
		} else if (strcmp(label, kind_labels[k]) != 0) {
			set_err(err, errlen, "[%zu]: kind %s with label %s", i, kind, label);
			goto fail;
		}
		if (map_find(m, 1, ph, strlen(ph)) != SIZE_MAX ||
		    map_find(m, 0, value, strlen(value)) != SIZE_MAX) {
			set_err(err, errlen, "[%zu]: duplicate placeholder or value", i);
			goto fail;
		}
		map_push(m, xstrdup(ph), xstrdup(value), (enum redact_kind)k);
	}
	map_reindex(m); /* the counters: next numbers follow the highest in use */
	return 0;
fail:
	map_free_entries(m, 0);
	map_reindex(m);
	return -1;
}

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
		if (!((label[i] >= 'A' && label[i] <= 'Z') || is_digit(label[i]) ||
		      label[i] == '_')) {
			set_err(err, errlen, "%.40s: label must be [A-Z][A-Z0-9_]*", label);
			return -1;
		}
	}
	for (int k = 0; k < REDACT__COUNT; k++) {
		if (kind_labels[k] && strcmp(label, kind_labels[k]) == 0) {
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

/* ---- scanning ---- */

struct span {
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
struct scan {
	const char *t;
	size_t len;
	const size_t *off;
	unsigned char *claim; /* enum claim per byte of the view */
	struct span *sp;
	size_t nsp, asp;
	enum redact_lead0 lead0;
};

/* ---- the normalised view ---- */

/* U+xxx0 of each run of ten decimal digits (Unicode 14 category Nd), ascending. */
static const uint32_t digit_zeros[] = {
	0x660,	 0x6F0,	  0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,
	0xC66,	 0xCE6,	  0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,
	0x17E0,	 0x1810,  0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,
	0x1C50,	 0xA620,  0xA8D0,  0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,
	0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0,
	0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60,
	0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0,
	0x1E950, 0x1FBF0,
};

/* Decode the (valid) UTF-8 character at s[0..n): its code point, *len its bytes. */
static uint32_t utf8_cp(const unsigned char *s, size_t n, size_t *len)
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
static size_t normalise(const char *text, size_t len, char **view, size_t **off)
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
		cp = utf8_cp(u + i, len - i, &cl);
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
static int uletter(uint32_t cp)
{
	static const uint32_t not_letters[][2] = {
		{0x80, 0xBF},	   {0xD7, 0xD7},       {0xF7, 0xF7},	   {0x37E, 0x37E},
		{0x387, 0x387},	   {0x55A, 0x55F},     {0x589, 0x58A},	   {0x5BE, 0x5BE},
		{0x5C0, 0x5C0},	   {0x5C3, 0x5C3},     {0x5F3, 0x5F4},	   {0x600, 0x60F},
		{0x61B, 0x61F},	   {0x66A, 0x66D},     {0x6D4, 0x6D4},	   {0x964, 0x965},
		{0x970, 0x970},	   {0xE4F, 0xE4F},     {0xE5A, 0xE5B},	   {0x10FB, 0x10FB},
		{0x1360, 0x1368},  {0x166D, 0x166E},   {0x1680, 0x1680},   {0x2000, 0x2BFF},
		{0x2E00, 0x2E7F},  {0x3000, 0x3004},   {0x3008, 0x3020},   {0x3030, 0x3030},
		{0x303D, 0x303D},  {0x30FB, 0x30FB},   {0xD800, 0xF8FF},   {0xFD3E, 0xFD3F},
		{0xFE00, 0xFE6F},  {0xFEFF, 0xFEFF},   {0xFF00, 0xFF65},   {0xFFE0, 0xFFFF},
		{0x1F000, 0x1FBFF}, {0xE0000, 0x10FFFF},
	};

	for (size_t k = 0; k < ARRAY_SIZE(not_letters); k++)
		if (cp >= not_letters[k][0] && cp <= not_letters[k][1])
			return 0;
	return cp >= 0x80;
}

/* Byte at i, or -1 outside the text. */
static int at(const struct scan *sc, size_t i)
{
	return i < sc->len ? (unsigned char)sc->t[i] : -1;
}

/* Byte before i, or -1 at the start. */
static int before(const struct scan *sc, size_t i, size_t back)
{
	return i >= back ? (unsigned char)sc->t[i - back] : -1;
}

/* A token ends at e: not in a longer word, number or address. */
static int token_end(const struct scan *sc, size_t e)
{
	int q = at(sc, e);

	return !is_alnum(q) && (q == -1 || !strchr("@_%+", q)) &&
	       !((q == '.' || q == '-') && is_alnum(at(sc, e + 1)));
}

/* A token starts at i: not inside a longer word, number or address. */
static int token_start(const struct scan *sc, size_t i)
{
	int p = before(sc, i, 1);

	return !is_alnum(p) && (p == -1 || !strchr("@_%+", p)) &&
	       !((p == '.' || p == '-') && is_alnum(before(sc, i, 2)));
}

static int range_free(const struct scan *sc, size_t s, size_t e)
{
	for (size_t i = s; i < e; i++)
		if (sc->claim[i] != CL_FREE)
			return 0;
	return 1;
}

static void add_span(struct scan *sc, size_t s, size_t e, int label)
{
	if (sc->nsp == sc->asp) {
		sc->asp = sc->asp ? sc->asp * 2 : 32;
		sc->sp = xrealloc(sc->sp, sc->asp * sizeof(*sc->sp));
	}
	sc->sp[sc->nsp++] = (struct span){s, e, label};
	memset(sc->claim + s, CL_VALUE, e - s);
}

/*
 * A separator inside a card or phone number at i of the view (all of them
 * one byte there): returns 1 and its class in *cls, ' ', '-', '.', or 'W'
 * for a wrap (a line break, which stands for any class), else 0.
 */
static size_t sep_at(const struct scan *sc, size_t i, int *cls)
{
	int c = at(sc, i);

	if (c == -1 || sc->claim[i] != CL_FREE)
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

/* ---- literal placeholders ---- */

static void detect_literal(struct scan *sc)
{
	for (size_t i = 0; i < sc->len; i++) {
		size_t n;

		if (sc->t[i] != '[')
			continue;
		n = redact_placeholder_len(sc->t + i, sc->len - i);
		if (n) {
			add_span(sc, i, i + n, REDACT_LITERAL);
			i += n - 1;
		}
	}
}

/* ---- IBAN ---- */

static const struct {
	char cc[3];
	unsigned char len;
} iban_lengths[] = {
	{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
	{"BG", 22}, {"BH", 22}, {"BR", 29}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
	{"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
	{"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
	{"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IS", 26}, {"IT", 27},
	{"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LI", 21}, {"LT", 20}, {"LU", 20},
	{"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31},
	{"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25},
	{"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24},
	{"SM", 27}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VG", 24}, {"XK", 20},
};

static unsigned iban_length(const char *cc)
{
	for (size_t i = 0; i < ARRAY_SIZE(iban_lengths); i++)
		if (cc[0] == iban_lengths[i].cc[0] && cc[1] == iban_lengths[i].cc[1])
			return iban_lengths[i].len;
	return 0;
}

/* ISO 13616 check on c[0..n) (upper case): the first four characters moved to the end. */
static int iban_mod97(const char *c, size_t n)
{
	unsigned r = 0;

	for (size_t k = 0; k < n; k++) {
		char ch = c[(k + 4) % n];

		if (is_digit(ch))
			r = (r * 10 + (unsigned)(ch - '0')) % 97;
		else
			r = (r * 100 + (unsigned)(ch - 'A' + 10)) % 97;
	}
	return r == 1;
}

static void detect_iban(struct scan *sc)
{
	const char *t = sc->t;

	for (size_t i = 0; i + 4 <= sc->len; i++) {
		char c[IBAN_MAX];
		size_t end[IBAN_MAX + 1], n = 0, j = i;
		unsigned known;

		if (!is_alpha(t[i]) || !is_alpha(t[i + 1]) || !is_digit(t[i + 2]) ||
		    !is_digit(t[i + 3]) || !token_start(sc, i) || sc->claim[i] != CL_FREE)
			continue;
		/* Alphanumerics, single spaces only between groups of four, wraps anywhere. */
		while (j < sc->len && n < IBAN_MAX && sc->claim[j] == CL_FREE) {
			if (is_alnum(t[j])) {
				c[n++] = (char)to_upper(t[j]);
				end[n] = ++j;
			} else if (((t[j] == ' ' && n % 4 == 0) || t[j] == '\n') &&
				   is_alnum(at(sc, j + 1)) && sc->claim[j + 1] == CL_FREE) {
				/* A wrapped line may break an IBAN anywhere: mod 97 decides. */
				j++;
			} else {
				break;
			}
		}
		if (n < 15)
			continue;
		known = iban_length(c);
		if (known) {
			/* Exactly the country's length, ending where a token ends. */
			if (n < known || !token_end(sc, end[known]))
				continue;
			if (iban_mod97(c, known)) {
				add_span(sc, i, end[known], REDACT_IBAN);
			} else {
				/* IBAN-shaped with a bad checksum: keep its digits from the others.
				 */
				memset(sc->claim + i, CL_SHIELD, end[known] - i);
			}
			i = end[known] - 1;
			continue;
		}
		for (size_t l = n; l >= 15; l--) {
			if (token_end(sc, end[l]) && iban_mod97(c, l)) {
				add_span(sc, i, end[l], REDACT_IBAN);
				i = end[l] - 1;
				break;
			}
		}
	}
}

/* ---- payment cards ---- */

struct group {
	size_t start, end;
	unsigned nd;
	int paren; /* phone only: "(555)" */
	int sep;   /* the separator before it: ' ', '-', '.', '/', 'W' (a wrap), 0 for none */
};

static int luhn_ok(const struct scan *sc, const struct group *g, size_t a, size_t b)
{
	unsigned sum = 0, pos = 0;

	/* From the last digit backwards: every second digit doubled. */
	for (size_t k = b + 1; k-- > a;) {
		for (size_t i = g[k].end; i-- > g[k].start;) {
			unsigned d = (unsigned)(sc->t[i] - '0');

			if (pos++ % 2 == 1) {
				d *= 2;
				if (d > 9)
					d -= 9;
			}
			sum += d;
		}
	}
	return sum % 10 == 0;
}

/* 13-19 digits written as cards are: unbroken, 4-4-4-4(-1..4), or 4-6-4/4-6-5. */
static int card_shaped(const struct group *g, size_t ng)
{
	unsigned nd = 0;
	int fours = 1;

	for (size_t k = 0; k < ng; k++) {
		nd += g[k].nd;
		if (k + 1 < ng && g[k].nd != 4)
			fours = 0;
	}
	if (nd < 13 || nd > 19)
		return 0;
	return ng == 1 || (fours && g[ng - 1].nd <= 4) ||
	       (ng == 3 && g[0].nd == 4 && g[1].nd == 6 && (g[2].nd == 4 || g[2].nd == 5));
}

/*
 * g[a..b] written as cards are: unbroken, or grouped as the networks print
 * them (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4) with spaces.
 */
static int card_canonical(const struct group *g, size_t a, size_t b)
{
	size_t n = b - a + 1;

	if (n == 1)
		return 1;
	for (size_t k = a + 1; k <= b; k++)
		if (g[k].sep != ' ')
			return 0;
	if (n == 4 || n == 5) {
		for (size_t k = a; k < a + 4; k++)
			if (g[k].nd != 4)
				return 0;
		return n == 4 || g[b].nd == 3;
	}
	return n == 3 && g[a].nd == 4 && g[a + 1].nd == 6 && (g[b].nd == 4 || g[b].nd == 5);
}

/*
 * Find cards in one run of digit groups g[0..ng): a card is the whole run,
 * whole lines of it where it goes on across a wrapped line, or a stretch
 * grouped as cards are printed ("item 12 4111 1111 1111 1111"); first and
 * longest wins. A card is never cut out of a longer number: when a group
 * of four or more digits left over touches a card, the run is one number
 * (161-2211209-0420230 is an order, 9400 1000 0000 0000 0000 00 a parcel)
 * and nothing is taken from it. A run left alone that is shaped like a card
 * (a wrong check digit, a longer number) is shielded as a whole, so the
 * phone detector does not cut a number out of it either.
 */
static void card_in_run(struct scan *sc, const struct group *g, size_t ng)
{
	size_t a = 0, nsp = sc->nsp, before_pass;
	unsigned char taken[CARD_GROUPS] = {0};
	int undo;

	/*
	 * Passes until nothing new is found: a card taken ends the run for the
	 * groups beside it (as its placeholder will), so that redacting the
	 * output again finds nothing more.
	 */
again:
	before_pass = sc->nsp;
	a = 0;
	while (a < ng) {
		size_t found = SIZE_MAX;

		if (taken[a]) {
			a++;
			continue;
		}
		for (size_t b = ng; b-- > a;) {
			unsigned nd = 0;
			int sizes_ok = 1, whole, free_run = 1;

			for (size_t k = a; k <= b; k++)
				if (taken[k])
					free_run = 0;
			if (!free_run)
				continue;
			whole = (a == 0 || g[a].sep == 'W' || taken[a - 1]) &&
				(b + 1 == ng || g[b + 1].sep == 'W' || taken[b + 1]);
			if (!whole && !card_canonical(g, a, b))
				continue;
			for (size_t k = a; k <= b; k++) {
				nd += g[k].nd;
				if (a < b && (g[k].nd < 2 || g[k].nd > 8))
					sizes_ok = 0;
			}
			/* Issuer numbers of the payment networks start with 2-6. */
			if (sizes_ok && nd >= 13 && nd <= 19 && sc->t[g[a].start] >= '2' &&
			    sc->t[g[a].start] <= '6' && luhn_ok(sc, g, a, b)) {
				found = b;
				break;
			}
		}
		if (found == SIZE_MAX) {
			a++;
			continue;
		}
		add_span(sc, g[a].start, g[found].end, REDACT_CARD);
		memset(taken + a, found > a ? 2 : 1, found - a + 1);
		a = found + 1;
	}
	if (sc->nsp != before_pass)
		goto again;
	/*
	 * A leftover group of four or more digits glued to a card by a dash, or
	 * by a space to a grouped card, makes that line of the run one longer
	 * number: its cards are given back and the line shielded.
	 */
	for (size_t s0 = 0, s1; s0 < ng; s0 = s1 + 1) {
		size_t bs, be, keep = nsp;

		for (s1 = s0; s1 + 1 < ng && g[s1 + 1].sep != 'W'; s1++)
			;
		undo = 0;
		for (size_t k = s0; k <= s1; k++) {
			if (taken[k] || g[k].nd < 4)
				continue;
			if (k > s0 && taken[k - 1] &&
			    (g[k].sep != ' ' || (taken[k - 1] == 2 && g[k].nd == 4)))
				undo = 1;
			if (k < s1 && taken[k + 1] &&
			    (g[k + 1].sep != ' ' || (taken[k + 1] == 2 && g[k].nd == 4)))
				undo = 1;
		}
		if (!undo)
			continue;
		bs = g[s0].start;
		be = g[s1].end;
		for (size_t k = nsp; k < sc->nsp; k++) {
			if (sc->sp[k].start >= bs && sc->sp[k].start < be)
				memset(sc->claim + sc->sp[k].start, CL_FREE,
				       sc->sp[k].end - sc->sp[k].start);
			else
				sc->sp[keep++] = sc->sp[k];
		}
		sc->nsp = keep;
		memset(sc->claim + bs, CL_SHIELD, be - bs);
	}
	if (sc->nsp == nsp && card_shaped(g, ng) && sc->t[g[0].start] >= '2' &&
	    sc->t[g[0].start] <= '6')
		memset(sc->claim + g[0].start, CL_SHIELD, g[ng - 1].end - g[0].start);
}

static void detect_card(struct scan *sc)
{
	const char *t = sc->t;
	size_t i = 0;

	while (i < sc->len) {
		struct group g[CARD_GROUPS];
		size_t ng = 0, j = i, last_w = 0;
		int sepcls = 0, ok = 1, p = before(sc, i, 1), q, cls = 0;

		if (!is_digit(t[i]) || sc->claim[i] != CL_FREE) {
			i++;
			continue;
		}
		/*
		 * Glued to a token, or after "+" (a phone number) or inside a
		 * decimal number, or in an e-mail address (which takes it whole).
		 */
		if (is_alnum(p) || p == '+' || p == '@' ||
		    ((p == '.' || p == ',') && is_digit(before(sc, i, 2))))
			ok = 0;
		for (;;) {
			size_t s = j, sl;

			while (j < sc->len && is_digit(t[j]) && sc->claim[j] == CL_FREE)
				j++;
			if (ng < CARD_GROUPS)
				g[ng] = (struct group){s, j, (unsigned)(j - s), 0, ng ? cls : 0};
			ng++;
			sl = j < sc->len ? sep_at(sc, j, &cls) : 0;
			if (sl && cls != '.' && (sepcls == 0 || cls == sepcls || cls == 'W') &&
			    is_digit(at(sc, j + sl)) && sc->claim[j + sl] == CL_FREE) {
				/* Too long: it ends at its last line break, the rest is read afresh. */
				if (ng == CARD_GROUPS && last_w > 0) {
					ng = last_w;
					j = g[ng - 1].end;
					break;
				}
				if (cls == 'W')
					last_w = ng;
				if (cls != 'W')
					sepcls = cls;
				j += sl;
				continue;
			}
			break;
		}
		q = at(sc, j);
		/* An expiry date after the number: "4111 1111 1111 1111 12/27". */
		if (ng >= 2 && ng <= CARD_GROUPS && q == '/' && is_digit(at(sc, j + 1)) &&
		    g[ng - 1].nd <= 2 && g[ng - 1].sep == ' ') {
			ng--;
			j = g[ng - 1].end;
			q = at(sc, j);
		}
		if (ng <= CARD_GROUPS) {
			size_t a = 0, b = ng;

			/*
			 * Glued at one end: the group there belongs to that token
			 * ("1a@ee.com"), the groups after a space or a line break may
			 * still be a card.
			 */
			if (!ok)
				for (a = 1; a < ng && g[a].sep != 'W' && g[a].sep != ' '; a++)
					;
			/* (a placeholder look-alike right after, "[X_1]", is no glue) */
			if (is_alnum(q) || q == '@' ||
			    ((q == '.' || q == ',') && is_digit(at(sc, j + 1))))
				for (b = ng - 1; b > a && g[b].sep != 'W' && g[b].sep != ' '; b--)
					;
			if (a < b)
				card_in_run(sc, g + a, b - a);
		}
		i = j;
	}
}

/* ---- e-mail ---- */

static int local_char(int c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int domain_char(int c)
{
	return is_alnum(c) || c == '.' || c == '-';
}

/*
 * Length of the letter (of any script; cjk 0: not Han, Kana or Hangul,
 * which are written without spaces and would swallow the words before an
 * address) ending at u[i - 1], or 0.
 */
static size_t uletter_before(const struct scan *sc, size_t i, int cjk)
{
	const unsigned char *u = (const unsigned char *)sc->t;
	size_t s = i, cl;
	uint32_t cp;

	if (i == 0 || u[i - 1] < 0x80)
		return 0;
	while (s > 0 && i - s < 4 && (u[s - 1] & 0xC0) == 0x80)
		s--;
	if (s == 0 || i - s >= 4)
		return 0;
	s--;
	cp = utf8_cp(u + s, sc->len - s, &cl);
	if (s + cl != i || !uletter(cp) || (!cjk && cp >= 0x2E80))
		return 0;
	return cl;
}

/* Length of the letter (of any script) starting at u[i], or 0. */
static size_t uletter_at(const struct scan *sc, size_t i)
{
	const unsigned char *u = (const unsigned char *)sc->t;
	size_t cl;

	if (i >= sc->len || u[i] < 0x80)
		return 0;
	return uletter(utf8_cp(u + i, sc->len - i, &cl)) ? cl : 0;
}

/*
 * The domain d[0..n) has two or more labels, none empty or with a dash at
 * an end, and a top-level label of two or more ASCII letters, a punycode
 * one ("xn--..."), or letters of another script only (".рф", ".中国").
 */
static int domain_ok(const char *d, size_t n)
{
	size_t ls = 0, dots = 0;

	for (size_t i = 0; i <= n; i++) {
		size_t ascii = 0;

		if (i < n && d[i] != '.')
			continue;
		if (i == ls || i - ls > 252 || d[ls] == '-' || d[i - 1] == '-')
			return 0;
		for (size_t k = ls; k < i; k++)
			ascii += (unsigned char)d[k] < 0x80;
		if (ascii == i - ls && i - ls > 63)
			return 0;
		if (i == n) {
			if (i - ls >= 5 && strncasecmp(d + ls, "xn--", 4) == 0)
				break;
			if (ascii == 0)
				break; /* a top-level label of another script */
			if (ascii != i - ls || i - ls < 2)
				return 0;
			for (size_t k = ls; k < i; k++)
				if (!is_alpha(d[k]))
					return 0;
		} else {
			dots++;
		}
		ls = i + 1;
	}
	return dots > 0;
}

/*
 * Start of a quoted local part ("chloe..oneil"@web.de) whose closing quote
 * is at q (just before the "@"), or SIZE_MAX: printable text without a line
 * break or an unescaped quote, opened by a quote.
 */
static size_t quoted_local(const struct scan *sc, size_t q)
{
	size_t s = q;

	while (s > 0 && q - s < EMAIL_LOCAL_MAX) {
		int c = (unsigned char)sc->t[s - 1];

		if (sc->claim[s - 1] != CL_FREE || c == '\n' || c == '\t' || c < 0x20)
			return SIZE_MAX;
		if (c == '"') {
			size_t bs = 0;

			while (s - 1 > bs && sc->t[s - 2 - bs] == '\\')
				bs++;
			if (bs % 2 == 0)
				break;
		}
		s--;
	}
	if (s == 0 || q - s >= EMAIL_LOCAL_MAX || sc->t[s - 1] != '"' || s == q)
		return SIZE_MAX;
	/* The quotes delimit it: whatever comes before (even a digit) is not part of it. */
	return s - 1;
}

/*
 * Where the address ends whose domain was scanned as u[d..e): the longest
 * prefix that is a domain, ending at the end of a label or inside the last
 * one where the script changes or dashes start ("example.comまで",
 * "пример.рф2024", "example.com--1234"; but "example.com2024" is one
 * token). A sentence may end right after the address ("... example.com.").
 * Returns 0 when there is none.
 */
static size_t domain_end(const unsigned char *u, size_t d, size_t e)
{
	while (e > d) {
		size_t ls, a = 0;

		while (e > d && (u[e - 1] == '.' || u[e - 1] == '-'))
			e--;
		if (e == d)
			return 0;
		if (domain_ok((const char *)u + d, e - d))
			return e;
		for (ls = e; ls > d && u[ls - 1] != '.';)
			ls--;
		if (u[ls] >= 0x80) {
			while (ls + a < e && u[ls + a] >= 0x80)
				a++;
		} else {
			while (ls + a < e && is_alpha(u[ls + a]))
				a++;
			if (a < 2 || (u[ls + a] < 0x80 && u[ls + a] != '-'))
				a = 0;
		}
		if (a > 0 && ls + a < e && domain_ok((const char *)u + d, ls + a - d))
			return ls + a;
		if (ls == d)
			return 0;
		e = ls - 1; /* drop the last label */
	}
	return 0;
}

static void detect_email(struct scan *sc)
{
	const unsigned char *u = (const unsigned char *)sc->t;

	for (size_t k = 0; k < sc->len; k++) {
		size_t s = k, e = k + 1, dom, l;

		if (u[k] != '@' || sc->claim[k] != CL_FREE)
			continue;
		if (k > 0 && u[k - 1] == '"' && sc->claim[k - 1] == CL_FREE &&
		    (s = quoted_local(sc, k - 1)) != SIZE_MAX) {
			/* s is the opening quote */
		} else {
			/* Local part, backwards over ASCII and whole letters of the alphabets. */
			s = k;
			while (s > 0 && k - s < EMAIL_LOCAL_MAX && sc->claim[s - 1] == CL_FREE) {
				if (local_char(u[s - 1]))
					s--;
				else if ((l = uletter_before(sc, s, 0)) != 0 &&
					 range_free(sc, s - l, s))
					s -= l;
				else
					break;
			}
			while (s < k && u[s] == '.')
				s++;
			if (s == k || k - s >= EMAIL_LOCAL_MAX)
				continue;
		}
		/* Domain, forwards over ASCII and whole letters of any script. */
		while (e < sc->len && e - k <= EMAIL_DOMAIN_MAX && sc->claim[e] == CL_FREE) {
			if (domain_char(u[e]))
				e++;
			else if ((l = uletter_at(sc, e)) != 0 && range_free(sc, e, e + l))
				e += l;
			else
				break;
		}
		/* Scanned past the cap (text glued on): the address may still end within it. */
		while (e - k - 1 > EMAIL_DOMAIN_MAX) {
			e--;
			while (e > k + 1 && (u[e] & 0xC0) == 0x80)
				e--;
		}
		if ((e = domain_end(u, k + 1, e)) == 0)
			continue;
		dom = e - k - 1;
		if (dom > EMAIL_DOMAIN_MAX || at(sc, e) == '@')
			continue;
		add_span(sc, s, e, REDACT_EMAIL);
		k = e - 1;
	}
}

/* ---- custom patterns ---- */

static int custom_scan(struct scan *sc, const struct redact_pattern *p, int label, char *err,
		       size_t errlen)
{
	size_t pos = 0;

	while (pos < sc->len) {
		regmatch_t m[1];
		size_t s, e;

		m[0].rm_so = (regoff_t)pos;
		m[0].rm_eo = (regoff_t)sc->len;
		if (regexec(&p->re, sc->t, 1, m, REG_STARTEND) != 0)
			break;
		s = (size_t)m[0].rm_so;
		e = (size_t)m[0].rm_eo;
		if (e == s) {
			pos = s + 1;
			continue;
		}
		/* Widen to whole UTF-8 characters. */
		while (s > 0 && ((unsigned char)sc->t[s] & 0xC0) == 0x80)
			s--;
		while (e < sc->len && ((unsigned char)sc->t[e] & 0xC0) == 0x80)
			e++;
		if (sc->off[e] - sc->off[s] > REDACT_MAX_VALUE) {
			set_err(err, errlen, "pattern %s matched %zu bytes (max %d)", p->label,
				sc->off[e] - sc->off[s], REDACT_MAX_VALUE);
			return -1;
		}
		if (range_free(sc, s, e)) {
			add_span(sc, s, e, label);
			pos = e;
		} else {
			pos = s + 1;
		}
	}
	return 0;
}

/* ---- shields: look-alikes no detector may take digits from ---- */

/* IPv4 addresses, with a port or a prefix length: 10.148.36.167:8080, 192.168.0.0/16. */
static void detect_ipv4(struct scan *sc)
{
	const char *t = sc->t;

	for (size_t i = 0; i < sc->len; i++) {
		size_t j = i, e;
		int ok = 1;

		if (!is_digit(t[i]) || is_alnum(before(sc, i, 1)) || before(sc, i, 1) == '.')
			continue;
		for (int part = 0; part < 4 && ok; part++) {
			size_t s = j;
			int v = 0;

			if (part > 0) {
				if (at(sc, j) != '.' || !is_digit(at(sc, j + 1))) {
					ok = 0;
					break;
				}
				s = ++j;
			}
			while (is_digit(at(sc, j)) && j - s < 4)
				v = v * 10 + (t[j++] - '0');
			if (j - s > 3 || v > 255)
				ok = 0;
		}
		if (!ok || is_alnum(at(sc, j)) || (at(sc, j) == '.' && is_digit(at(sc, j + 1))))
			continue;
		e = j;
		if ((at(sc, j) == ':' || at(sc, j) == '/') && is_digit(at(sc, j + 1))) {
			j++;
			while (is_digit(at(sc, j)) && j - e < 7)
				j++;
			if (!is_alnum(at(sc, j)))
				e = j;
		}
		if (range_free(sc, i, e))
			memset(sc->claim + i, CL_SHIELD, e - i);
		i = e - 1;
	}
}

/*
 * Parcel tracking numbers: UPS "1Z" and 16 letters or digits (compact or
 * grouped by spaces); USPS 20-22 digits starting 91-95 or 70, compact or in
 * groups of four.
 */
static void detect_tracking(struct scan *sc)
{
	const char *t = sc->t;

	for (size_t i = 0; i + 2 < sc->len; i++) {
		size_t j, n = 0, ng = 0, last = 0;
		int grouped_ok = 1, p = before(sc, i, 1);

		if (is_alnum(p) || (p != -1 && strchr("._%+-@", p)))
			continue;
		if (t[i] == '1' && (t[i + 1] == 'Z' || t[i + 1] == 'z')) {
			for (j = i + 2; j < sc->len && n < 16; j++) {
				if (is_alnum(t[j]))
					n++;
				else if (!(t[j] == ' ' && is_alnum(at(sc, j + 1))))
					break;
			}
			if (n == 16 && token_end(sc, j) && range_free(sc, i, j)) {
				memset(sc->claim + i, CL_SHIELD, j - i);
				i = j - 1;
			}
			continue;
		}
		if (!is_digit(t[i]) ||
		    !((t[i] == '9' && t[i + 1] >= '1' && t[i + 1] <= '5') ||
		      (t[i] == '7' && t[i + 1] == '0')))
			continue;
		for (j = i;;) {
			size_t s = j;

			while (is_digit(at(sc, j)))
				j++;
			n += j - s;
			ng++;
			last = j - s;
			if (at(sc, j) == ' ' && is_digit(at(sc, j + 1))) {
				if (last != 4)
					grouped_ok = 0;
				j++;
				continue;
			}
			break;
		}
		if (n >= 20 && n <= 22 && (ng == 1 || (grouped_ok && last <= 4)) &&
		    token_end(sc, j) && range_free(sc, i, j)) {
			memset(sc->claim + i, CL_SHIELD, j - i);
			i = j - 1;
		}
	}
}

/* ---- phone numbers ---- */

static int parse_small(const struct scan *sc, const struct group *g)
{
	int v = 0;

	for (size_t i = g->start; i < g->end && v < 100000; i++)
		if (is_digit(sc->t[i]))
			v = v * 10 + (sc->t[i] - '0');
	return v;
}

/* g[0..3) read as a date: 2024-11-05, 05.11.2024, 11-05-2024, 05.11.24. */
static int date_at(const struct scan *sc, const struct group *g)
{
	int a, b, c;

	if (g[0].paren || g[1].paren || g[2].paren || g[1].sep != g[2].sep ||
	    (g[1].sep != '-' && g[1].sep != '.'))
		return 0;
	a = parse_small(sc, &g[0]);
	b = parse_small(sc, &g[1]);
	c = parse_small(sc, &g[2]);
	if (g[0].nd == 4 && g[1].nd <= 2 && g[2].nd <= 2)
		return a >= 1900 && a <= 2100 && b >= 1 && b <= 12 && c >= 1 && c <= 31;
	if (g[0].nd <= 2 && g[1].nd <= 2 && (g[2].nd == 4 || (g[2].nd == 2 && g[1].sep == '.')))
		return a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12) &&
		       (g[2].nd == 2 || (c >= 1900 && c <= 2100));
	return 0;
}

/* A phone word ("call", "tel", "mobile", ...) among the words just before i. */
static int phone_word_before(const struct scan *sc, size_t i)
{
	static const char *const words[] = {
		"phone", "telephone", "tel",	  "mobile", "cell",	"cellphone", "call",
		"text",	 "sms",	      "whatsapp", "fax",    "landline", "contact",   "reach",
	};
	size_t from = i > KEYWORD_WINDOW ? i - KEYWORD_WINDOW : 0;

	for (size_t ws = from; ws < i; ws++) {
		size_t we = ws;

		if (!is_alpha(sc->t[ws]) || (ws > 0 && is_alpha(sc->t[ws - 1])))
			continue;
		while (we < i && is_alpha(sc->t[we]))
			we++;
		for (size_t k = 0; k < ARRAY_SIZE(words); k++)
			if (strlen(words[k]) == we - ws &&
			    strncasecmp(sc->t + ws, words[k], we - ws) == 0)
				return 1;
		ws = we;
	}
	return 0;
}

/* A product code label right before i ("SKU", "P/N", "model: ", "serial #"): a code, not a phone. */
static int code_word_before(const struct scan *sc, size_t i)
{
	static const char *const words[] = {"sku", "p/n", "pn", "part", "model", "serial", "s/n",
					    "item", "art", "article", "ean", "upc", "isbn"};
	size_t e = i, s;

	while (e > 0 && i - e < 4 && strchr(" :#.", sc->t[e - 1]))
		e--;
	s = e;
	while (s > 0 && e - s < 8 && (is_alpha(sc->t[s - 1]) || sc->t[s - 1] == '/'))
		s--;
	if (s == e || is_alnum(before(sc, s, 1)))
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(words); k++)
		if (strlen(words[k]) == e - s && strncasecmp(sc->t + s, words[k], e - s) == 0)
			return 1;
	return 0;
}

static const char *const currency_signs[] = {"$", "\xe2\x82\xac", "\xc2\xa3", "\xc2\xa5",
					     "\xe2\x82\xb9"};
static const char *const currency_codes[] = {"usd", "eur",     "gbp",	"chf",	 "cad",
					     "aud", "dollars", "euros", "pounds"};

/* A currency sign or code right before i (one space allowed). */
static int currency_before(const struct scan *sc, size_t i)
{
	size_t b = i > 0 && sc->t[i - 1] == ' ' ? i - 1 : i;

	for (size_t k = 0; k < ARRAY_SIZE(currency_signs); k++) {
		size_t n = strlen(currency_signs[k]);

		if (b >= n && memcmp(sc->t + b - n, currency_signs[k], n) == 0)
			return 1;
	}
	for (size_t k = 0; k < ARRAY_SIZE(currency_codes); k++) {
		size_t n = strlen(currency_codes[k]);

		if (b >= n && strncasecmp(sc->t + b - n, currency_codes[k], n) == 0 &&
		    !is_alpha(before(sc, b - n, 1)))
			return 1;
	}
	return 0;
}

/* A currency sign or code right after e (one space allowed). */
static int currency_after(const struct scan *sc, size_t e)
{
	size_t a = e < sc->len && sc->t[e] == ' ' ? e + 1 : e;

	for (size_t k = 0; k < ARRAY_SIZE(currency_signs); k++) {
		size_t n = strlen(currency_signs[k]);

		if (n <= sc->len - a && memcmp(sc->t + a, currency_signs[k], n) == 0)
			return 1;
	}
	for (size_t k = 0; k < ARRAY_SIZE(currency_codes); k++) {
		size_t n = strlen(currency_codes[k]);

		if (n <= sc->len - a && strncasecmp(sc->t + a, currency_codes[k], n) == 0 &&
		    !is_alpha(at(sc, a + n)))
			return 1;
	}
	return 0;
}

/* Single amounts have spaces or dots between groups, never dashes or parentheses. */
static int amount_shaped(const struct group *g, size_t ng)
{
	for (size_t k = 0; k < ng; k++)
		if (g[k].paren || g[k].sep == '-')
			return 0;
	return 1;
}

/*
 * A French number in dotted pairs: 01.26.29.06.90, or +33 1.26.29.06.90
 * (g[0] then the country code). Read as such, not as a date.
 */
static int fr_dotted(const struct scan *sc, int plus, const struct group *g, size_t k)
{
	size_t f = plus ? 1 : 0;

	if (k != f + 5 || (plus && g[1].nd != 1) || (!plus && (g[0].nd != 2 || sc->t[g[0].start] != '0')))
		return 0;
	for (size_t x = f + 1; x < k; x++)
		if (g[x].nd != 2 || g[x].sep != '.' || g[x].paren)
			return 0;
	return 1;
}

/* Is g[0..k) (starting at i, with or without "+") a phone number? */
static int phone_ok(const struct scan *sc, size_t i, int plus, const struct group *g, size_t k)
{
	unsigned nd = 0;
	int all_years = k >= 2, thousands = k >= 2, dots_only = 1;

	if (fr_dotted(sc, plus, g, k))
		return 1;
	for (size_t x = 0; x < k; x++) {
		int v = parse_small(sc, &g[x]);

		nd += g[x].nd;
		if (g[x].nd > 8 && k > 1)
			return 0;
		/* One-digit groups: the first, "(0)", and the area code in +33 6 12 34 56 78. */
		if (x > 0 && g[x].nd < 2 && !g[x].paren && !(plus && x == 1))
			return 0;
		if (x + 2 < k && date_at(sc, g + x))
			return 0;
		if (g[x].nd != 4 || v < 1900 || v > 2100 || g[x].paren)
			all_years = 0;
		if (x > 0 && (g[x].nd != 3 || g[x].paren))
			thousands = 0;
		if (x > 0 && g[x].sep != '.')
			dots_only = 0;
	}
	if (nd < 7 || nd > 15 || all_years)
		return 0;
	if (plus)
		return nd >= 8;
	/* 1.234.567 and 1 234 567 are amounts; 612 345 678 stays a phone number. */
	if (thousands && !g[0].paren && g[0].nd <= 3 && (dots_only || g[0].nd <= 2))
		return 0;
	if (k == 2 && dots_only)
		return 0; /* a decimal: 524.9996 */
	if (k == 2 && g[0].nd == 5 && g[1].nd == 4 && g[1].sep == '-' && !g[0].paren)
		return 0; /* a US ZIP+4 code: 10001-1234 */
	if (k == 4 && dots_only && g[0].nd <= 3 && g[1].nd <= 3 && g[2].nd <= 3 && g[3].nd <= 3)
		return 0; /* IPv4 */
	if (k == 1 && !g[0].paren) {
		const char *d = sc->t + g[0].start;

		/* 00 + country code, or the trunk 0 + area code; neither code starts with 0. */
		if (d[0] == '0' && d[1] == '0' && d[2] != '0' && nd >= 10)
			return 1;
		if (d[0] == '0' && d[1] != '0' && nd >= 10 && nd <= 12 &&
		    (nd > 10 || sc->lead0 == REDACT_LEAD0_PHONE))
			return 1;
		return phone_word_before(sc, i);
	}
	return 1;
}

/* Try a phone number starting at i; returns where scanning goes on (> i). */
static size_t phone_try(struct scan *sc, size_t i)
{
	const char *t = sc->t;
	struct group g[PHONE_GROUPS];
	size_t ng = 0, j = i, run_end = i;
	int plus = t[i] == '+', ok = 1, p = before(sc, i, 1), q, sep = 0;

	if (is_alnum(p) || (p != -1 && strchr("#$%&@=_/\\~^*+", p)) ||
	    (p != -1 && strchr(".,:-", p) && is_alnum(before(sc, i, 2))))
		ok = 0;
	if (plus)
		j++;
	for (;;) {
		size_t s = j, nd = 0, sl;
		int paren = 0;

		if (at(sc, j) == '(') {
			size_t d = j + 1;

			while (is_digit(at(sc, d)) && sc->claim[d] == CL_FREE && nd < 6) {
				d++;
				nd++;
			}
			if (nd == 0 || nd > 5 || at(sc, d) != ')' || sc->claim[d] != CL_FREE)
				break;
			j = d + 1;
			paren = 1;
		} else {
			while (is_digit(at(sc, j)) && sc->claim[j] == CL_FREE && nd < 16) {
				j++;
				nd++;
			}
			if (nd == 0)
				break;
			if (nd > 15)
				ok = 0;
		}
		if (ng < PHONE_GROUPS)
			g[ng] = (struct group){s, j, (unsigned)nd, paren, sep};
		ng++;
		run_end = j;
		/* After ")" the next group may follow at once: (555)123-4567. */
		if (paren && is_digit(at(sc, j)) && sc->claim[j] == CL_FREE) {
			sep = 0;
			continue;
		}
		/* DE, AT, CH: the area code, a slash, the number ("030/16765473"). */
		if (ng == 1 && !plus && !paren && at(sc, j) == '/' && t[s] == '0' && nd >= 3 &&
		    nd <= 5 && is_digit(at(sc, j + 1)) && sc->claim[j] == CL_FREE &&
		    sc->claim[j + 1] == CL_FREE) {
			sep = '/';
			j++;
			continue;
		}
		sl = sep_at(sc, j, &sep);
		if (sl && sc->claim[j + sl] == CL_FREE &&
		    (is_digit(at(sc, j + sl)) ||
		     (at(sc, j + sl) == '(' && is_digit(at(sc, j + sl + 1))))) {
			j += sl;
			continue;
		}
		break;
	}
	if (ng == 0)
		return i + 1;
	if (ng > PHONE_GROUPS)
		return run_end;
	/* Glued to a word or an address: part of a token, not a number. */
	q = at(sc, run_end);
	if (!ok) {
		/* ... but the next line of the run starts afresh. */
		for (size_t k = 1; k < ng; k++)
			if (g[k].sep == 'W')
				return g[k].start;
		return run_end;
	}
	if (is_alnum(q) || q == '@' || q == '_' ||
	    (q == '-' && is_alnum(at(sc, run_end + 1)))) {
		size_t k = ng - 1;

		while (k > 0 && g[k].sep != 'W')
			k--;
		if (k == 0)
			return run_end;
		ng = k; /* the lines before the glued one */
		run_end = g[k - 1].end;
		q = at(sc, run_end);
	}
	/*
	 * Before a percent sign, decimals, a time or a currency the last group is
	 * an amount; but a dotted or dashed run going on into a port or decimals
	 * (10.148.36.167:8080) is one token, and no number is cut out of it.
	 */
	if (q != -1 && strchr(".,:/", q) && is_digit(at(sc, run_end + 1)) && ng >= 2 &&
	    g[ng - 1].sep != ' ' && g[ng - 1].sep != 'W')
		return run_end;
	if (q == '%' || (q != -1 && strchr(".,:/", q) && is_digit(at(sc, run_end + 1))) ||
	    (!plus && currency_after(sc, run_end) && amount_shaped(g, ng)))
		ng--;
	/* After a currency it is an amount, or a range of them ($ 1000-2000); after "SKU" a code. */
	if (ng == 0 || (!plus && (currency_before(sc, i) || code_word_before(sc, i))))
		return run_end;
	/* A date at the start is skipped on its own; what follows may still be a number. */
	if (ng >= 3 && date_at(sc, g) && !fr_dotted(sc, plus, g, ng))
		return g[2].end;
	/*
	 * An international number may be followed by more digits ("+44 20 7946
	 * 0958 2024"): take the longest run of groups that is a number. A national
	 * one must be a number as a whole, or "4111 1111 1111 1112" (a card that
	 * fails Luhn) would lose its first twelve digits as a phone number.
	 */
	for (size_t k = ng; k >= 1; k--) {
		/* A national number may also end where a line does. */
		if (k < ng && !plus && g[k].sep != 'W')
			continue;
		if (phone_ok(sc, i, plus, g, k)) {
			add_span(sc, i, g[k - 1].end, REDACT_PHONE);
			return g[k - 1].end;
		}
	}
	/* Not a number across the wrap: the next line starts a run of its own. */
	for (size_t k = 1; k < ng; k++)
		if (g[k].sep == 'W')
			return g[k].start;
	return run_end;
}

static void detect_phone(struct scan *sc)
{
	size_t i = 0;

	while (i < sc->len) {
		int c = (unsigned char)sc->t[i];

		if (sc->claim[i] == CL_FREE &&
		    (is_digit(c) || ((c == '+' || c == '(') && is_digit(at(sc, i + 1)))))
			i = phone_try(sc, i);
		else
			i++;
	}
}

/* ---- redact_text ---- */

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static enum redact_kind label_kind(int label)
{
	return label >= REDACT__COUNT ? REDACT_CUSTOM : (enum redact_kind)label;
}

char *redact_text(const struct redactor *r, const char *text, size_t len, struct redact_map *map,
		  struct redact_stats *stats, char *err, size_t errlen)
{
	struct scan sc = {NULL, 0, NULL, NULL, NULL, 0, 0, REDACT_LEAD0_PHONE};
	char *view = NULL;
	size_t *off = NULL;
	struct redact_stats st = {0};
	unsigned *const counts[REDACT__COUNT] = {
		[REDACT_EMAIL] = &st.email,   [REDACT_PHONE] = &st.phone,
		[REDACT_CARD] = &st.card,     [REDACT_IBAN] = &st.iban,
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
	sc.len = normalise(text, len, &view, &off);
	sc.t = view;
	sc.off = off;
	sc.lead0 = r != NULL ? r->lead0 : REDACT_LEAD0_PHONE;
	sc.claim = xcalloc(sc.len + 1, 1);
	detect_literal(&sc);
	detect_tracking(&sc);
	detect_iban(&sc);
	detect_card(&sc);
	detect_email(&sc);
	for (size_t i = 0; r != NULL && i < r->n; i++)
		if (custom_scan(&sc, r->pats[i], REDACT__COUNT + (int)i, err, errlen) < 0)
			goto out;
	detect_ipv4(&sc);
	detect_phone(&sc);
	if (sc.nsp > 1)
		qsort(sc.sp, sc.nsp, sizeof(*sc.sp), span_cmp);

	for (size_t i = 0; i < sc.nsp; i++) {
		const struct span *s = &sc.sp[i];
		enum redact_kind kind = label_kind(s->label);
		const char *label = kind == REDACT_CUSTOM ? r->pats[s->label - REDACT__COUNT]->label
							  : kind_labels[kind];
		size_t os = off[s->start], oe = off[s->end]; /* the span in the original */
		size_t idx = map_intern(map, label, text + os, oe - os, kind);
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
		map_free_entries(map, n_before);
		map_reindex(map);
	}
	buf_cleanup(&out);
	free(view);
	free(off);
	free(sc.claim);
	free(sc.sp);
	return res;
}

char *redact_restore(const struct redact_map *m, const char *text, size_t max_len, char *err,
		     size_t errlen)
{
	size_t n = strlen(text), run = 0, i = 0;
	struct buf b;

	buf_init(&b, max_len);
	while (i < n) {
		size_t pl, idx;

		if (text[i] != '[' || (pl = redact_placeholder_len(text + i, n - i)) == 0 ||
		    (idx = map_find(m, 1, text + i, pl)) == SIZE_MAX) {
			i++;
			continue;
		}
		if (buf_append(&b, text + run, i - run) < 0 ||
		    buf_append(&b, m->entries[idx].value, strlen(m->entries[idx].value)) < 0)
			goto over;
		i += pl;
		run = i;
	}
	if (buf_append(&b, text + run, n - run) < 0)
		goto over;
	return buf_steal(&b);
over:
	set_err(err, errlen, "restored text over %zu bytes", max_len);
	buf_cleanup(&b);
	return NULL;
}
