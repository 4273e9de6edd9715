/*
 * redact_map: see redact_map.h and redact.h. Owns the placeholders
 * ("[EMAIL_1]"), the map from each redacted value to its placeholder (two
 * hash tables and a counter per label), its JSON form, and the restore step
 * that puts the originals back into a model's reply. Must never do I/O,
 * read the clock or log (the map holds personal data), and never decides
 * what is redacted (redact.c and the detectors do).
 */
#include "redact_map.h"

#include <stdlib.h>
#include <string.h>

#include "redact_scan.h"
#include "ticket.h"

struct redact_counter {
	char label[REDACT_LABEL_MAX + 1];
	unsigned long last;
};

static const char *const kind_names[REDACT__COUNT] = {
    [REDACT_EMAIL] = "email", [REDACT_PHONE] = "phone",	  [REDACT_CARD] = "card",
    [REDACT_IBAN] = "iban",   [REDACT_CUSTOM] = "custom", [REDACT_LITERAL] = "literal",
};

/* Placeholder labels of the built-in kinds (custom patterns bring their own). */
static const char *const kind_labels[REDACT__COUNT] = {
    [REDACT_EMAIL] = "EMAIL", [REDACT_PHONE] = "PHONE", [REDACT_CARD] = "CARD",
    [REDACT_IBAN] = "IBAN",   [REDACT_CUSTOM] = NULL,	[REDACT_LITERAL] = "LITERAL",
};

const char *redact_kind_name(enum redact_kind k)
{
	return (unsigned)k < REDACT__COUNT ? kind_names[k] : "unknown";
}

const char *redact_map_kind_label(enum redact_kind k)
{
	return (unsigned)k < REDACT__COUNT ? kind_labels[k] : NULL;
}

/* ---- placeholders ---- */

size_t redact_placeholder_len(const char *s, size_t n)
{
	size_t i = 1, last_us = 0;

	if (n < 5 || s[0] != '[' || s[1] < 'A' || s[1] > 'Z')
		return 0;
	while (i < n && i <= REDACT_LABEL_MAX + 12 &&
	       ((s[i] >= 'A' && s[i] <= 'Z') || redact_is_digit(s[i]) || s[i] == '_')) {
		if (s[i] == '_')
			last_us = i;
		i++;
	}
	if (i >= n || s[i] != ']' || last_us < 2 || last_us + 1 == i)
		return 0;
	for (size_t k = last_us + 1; k < i; k++)
		if (!redact_is_digit(s[k]))
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

void redact_map_free_entries(struct redact_map *m, size_t from)
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
	redact_map_free_entries(m, 0);
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
void redact_map_reindex(struct redact_map *m)
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
		redact_map_reindex(m);
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
size_t redact_map_intern(struct redact_map *m, const char *label, const char *value, size_t vlen,
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
	redact_map_reindex(m); /* the counters: next numbers follow the highest in use */
	return 0;
fail:
	redact_map_free_entries(m, 0);
	redact_map_reindex(m);
	return -1;
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
