/*
 * fake_errors: the fake model's seeded error model. See fake_errors.h.
 *
 * Owns the per-category error and confidence tables below; the figures in the
 * header comment and in README are measured by `triaged-fakemodel
 * --error-report` on the large eval set, not promised by these numbers alone.
 */
#include "fake_errors.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

const char *const fe_categories[FE_NCAT] = {
	"billing",	"technical",	"account",   "shipping", "product_question", "feature_request",
	"bug_report", "complaint", "cancellation", "security", "legal",	     "other",
};

enum { C_BILL, C_TECH, C_ACCT, C_SHIP, C_PQ, C_FR, C_BUG, C_COMPL, C_CANCEL, C_SEC, C_LEGAL, C_OTHER };

/*
 * Per true category: error rate of the mini and of the flagship, whether the
 * mini is overconfident when wrong there, and the categories a wrong answer
 * lands on (the first twice as likely as each other one). Rates weighted by
 * the large eval set's mix give about 13% (mini) and 4.5% (flagship).
 */
static const struct {
	double mini_err, flag_err;
	bool overconfident;
	int confuse[3]; /* -1 ends the list */
} fe_table[FE_NCAT] = {
	[C_BILL] = {0.08, 0.03, false, {C_COMPL, C_TECH, C_CANCEL}},
	[C_TECH] = {0.16, 0.06, false, {C_BUG, C_ACCT, C_BILL}},
	[C_ACCT] = {0.10, 0.03, false, {C_SEC, C_TECH, -1}},
	[C_SHIP] = {0.06, 0.02, false, {C_PQ, C_COMPL, -1}},
	[C_PQ] = {0.14, 0.04, false, {C_TECH, C_BILL, C_FR}},
	[C_FR] = {0.25, 0.10, false, {C_PQ, C_COMPL, -1}},
	[C_BUG] = {0.40, 0.15, true, {C_TECH, C_COMPL, -1}},
	[C_COMPL] = {0.30, 0.10, true, {C_BILL, C_OTHER, -1}},
	[C_CANCEL] = {0.08, 0.02, false, {C_ACCT, C_BILL, -1}},
	[C_SEC] = {0.10, 0.03, false, {C_ACCT, C_BILL, -1}},
	[C_LEGAL] = {0.20, 0.08, false, {C_COMPL, C_SEC, -1}},
	[C_OTHER] = {0.35, 0.15, true, {C_PQ, C_COMPL, -1}},
};

struct fe_slot {
	uint64_t key; /* 0 = empty */
	int cat;
};

struct fe_model {
	uint64_t seed;
	struct fe_slot *slots;
	size_t cap, used; /* cap a power of two */
};

static void *fe_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		abort();
	return p;
}

static uint64_t fe_mix(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* FNV-1a over lower-cased ASCII letters only. Never 0. */
static uint64_t fe_text_key(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		if (c < 'a' || c > 'z')
			continue;
		h ^= c;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static uint64_t fe_str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int fe_category_index(const char *name)
{
	for (int i = 0; i < FE_NCAT; i++)
		if (name && strcmp(name, fe_categories[i]) == 0)
			return i;
	return -1;
}

struct fe_model *fe_model_new(uint64_t seed)
{
	struct fe_model *m = fe_xcalloc(1, sizeof(*m));

	m->seed = seed;
	m->cap = 1024;
	m->slots = fe_xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

void fe_model_free(struct fe_model *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

static struct fe_slot *fe_find(struct fe_slot *slots, size_t cap, uint64_t key)
{
	size_t i = (size_t)fe_mix(key) & (cap - 1);

	while (slots[i].key != 0 && slots[i].key != key)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

int fe_model_add_gold(struct fe_model *m, const char *body, size_t blen, const char *category)
{
	int cat = fe_category_index(category);
	uint64_t key = fe_text_key(body, blen);
	struct fe_slot *s;

	if (cat < 0)
		return -1;
	if ((m->used + 1) * 2 > m->cap) {
		size_t ncap = m->cap * 2;
		struct fe_slot *ns = fe_xcalloc(ncap, sizeof(*ns));
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key)
				*fe_find(ns, ncap, m->slots[i].key) = m->slots[i];
		free(m->slots);
		m->slots = ns;
		m->cap = ncap;
	}
	s = fe_find(m->slots, m->cap, key);
	if (s->key == 0)
		m->used++;
	s->key = key;
	s->cat = cat;
	return 0;
}

const char *fe_model_gold(const struct fe_model *m, const char *body, size_t blen)
{
	const struct fe_slot *s = fe_find(m->slots, m->cap, fe_text_key(body, blen));

	return s->key ? fe_categories[s->cat] : NULL;
}

/* One eval-set line: body and gold category, borrowed from root. Returns 0 or -1 with a message. */
static int fe_parse_line(json_object *root, const char **body, size_t *blen, const char **cat, const char **msg)
{
	json_object *t, *g, *b, *c;

	if (!json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "ticket", &t) ||
	    !json_object_object_get_ex(t, "body", &b) || !json_object_is_type(b, json_type_string)) {
		*msg = "expected {\"ticket\": {\"body\": string, ...}, \"gold\": {...}}";
		return -1;
	}
	if (!json_object_object_get_ex(root, "gold", &g) || !json_object_object_get_ex(g, "category", &c) ||
	    !json_object_is_type(c, json_type_string)) {
		*msg = "missing gold.category";
		return -1;
	}
	*body = json_object_get_string(b);
	*blen = (size_t)json_object_get_string_len(b);
	*cat = json_object_get_string(c);
	return 0;
}

/* Calls fn for each line of an eval set. Returns the count, or -1 with err. */
static int fe_each_line(const char *path, char *err, size_t errlen,
			int (*fn)(void *arg, const char *body, size_t blen, const char *cat, const char **msg),
			void *arg)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int count = 0, lineno = 0, rc = -1;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		json_object *root;
		const char *body, *cat, *msg = NULL;
		size_t blen;
		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)n)
			continue;
		root = json_tokener_parse(line);
		if (!root) {
			snprintf(err, errlen, "%s:%d: not a JSON object", path, lineno);
			goto out;
		}
		if (fe_parse_line(root, &body, &blen, &cat, &msg) != 0 || fn(arg, body, blen, cat, &msg) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg ? msg : "bad line");
			json_object_put(root);
			goto out;
		}
		json_object_put(root);
		count++;
	}
	rc = count;
out:
	free(line);
	fclose(f);
	return rc;
}

static int fe_add_cb(void *arg, const char *body, size_t blen, const char *cat, const char **msg)
{
	if (fe_model_add_gold(arg, body, blen, cat) != 0) {
		*msg = "gold.category is not one of triaged's categories";
		return -1;
	}
	return 0;
}

int fe_model_load_gold(struct fe_model *m, const char *path, char *err, size_t errlen)
{
	return fe_each_line(path, err, errlen, fe_add_cb, m);
}

bool fe_is_mini(const char *model)
{
	return model && strstr(model, "mini") != NULL;
}

static double fe_unit(uint64_t *state)
{
	*state = fe_mix(*state);
	return (double)(*state >> 11) * 0x1.0p-53;
}

void fe_model_answer(const struct fe_model *m, const char *model, const char *body, size_t blen, const char *truth,
		     struct fe_answer *out)
{
	bool mini = fe_is_mini(model);
	int t = fe_category_index(truth), pick = -1;
	uint64_t st = fe_mix(m->seed ^ fe_mix(fe_str_hash(model ? model : ""))) ^ fe_text_key(body, blen);
	double u_err, u_pick, u_conf, conf;

	if (t < 0)
		t = C_OTHER;
	u_err = fe_unit(&st);
	u_pick = fe_unit(&st);
	u_conf = fe_unit(&st);
	out->wrong = u_err < (mini ? fe_table[t].mini_err : fe_table[t].flag_err);
	if (out->wrong) {
		int n = 0, weights = 0, acc = 0;
		while (n < 3 && fe_table[t].confuse[n] >= 0)
			n++;
		weights = n + 1; /* the first neighbour counts twice */
		for (int i = 0; i < n; i++) {
			acc += i == 0 ? 2 : 1;
			if (u_pick * weights < acc) {
				pick = fe_table[t].confuse[i];
				break;
			}
		}
		if (pick < 0)
			pick = fe_table[t].confuse[n - 1];
		/* Wrong: low on average, but in the hard categories the mini does not know it. */
		if (mini)
			conf = fe_table[t].overconfident ? 0.50 + 0.45 * u_conf : 0.25 + 0.55 * u_conf;
		else
			conf = 0.40 + 0.40 * u_conf;
	} else {
		pick = t;
		/* Right: skewed towards the top (u^0.4 has mean 0.71). */
		conf = mini ? 0.60 + 0.39 * pow(u_conf, 0.4) : 0.70 + 0.29 * pow(u_conf, 0.4);
	}
	conf = floor(conf * 100.0 + 0.5) / 100.0;
	if (conf > 0.99)
		conf = 0.99;
	out->category = fe_categories[pick];
	out->confidence = conf;
	snprintf(out->confidence_s, sizeof(out->confidence_s), "%.2f", conf);
}

struct fe_tally {
	const struct fe_model *m;
	const char *model[2];
	long n[2], wrong[2], gold_n[FE_NCAT], gold_wrong[2][FE_NCAT];
	double conf_right[2], conf_wrong[2];
	long mini_right_flag_wrong;
};

static int fe_tally_cb(void *arg, const char *body, size_t blen, const char *cat, const char **msg)
{
	struct fe_tally *t = arg;
	int g = fe_category_index(cat);
	bool w[2];

	if (g < 0) {
		*msg = "gold.category is not one of triaged's categories";
		return -1;
	}
	t->gold_n[g]++;
	for (int k = 0; k < 2; k++) {
		struct fe_answer a;
		fe_model_answer(t->m, t->model[k], body, blen, cat, &a);
		w[k] = a.wrong;
		t->n[k]++;
		if (a.wrong) {
			t->wrong[k]++;
			t->gold_wrong[k][g]++;
			t->conf_wrong[k] += a.confidence;
		} else {
			t->conf_right[k] += a.confidence;
		}
	}
	if (!w[0] && w[1])
		t->mini_right_flag_wrong++;
	return 0;
}

int fe_report(uint64_t seed, const char *path, const char *mini_model, const char *flagship_model, FILE *out,
	      char *err, size_t errlen)
{
	struct fe_tally t;
	int n;

	memset(&t, 0, sizeof(t));
	t.m = fe_model_new(seed);
	t.model[0] = mini_model;
	t.model[1] = flagship_model;
	n = fe_each_line(path, err, errlen, fe_tally_cb, &t);
	fe_model_free((struct fe_model *)t.m);
	if (n < 0)
		return -1;
	fprintf(out, "error model seed %llu on %s: %d tickets\n", (unsigned long long)seed, path, n);
	fprintf(out, "%-10s %-14s %8s %10s %10s\n", "tier", "model", "error", "conf_right", "conf_wrong");
	for (int k = 0; k < 2; k++) {
		long right = t.n[k] - t.wrong[k];
		fprintf(out, "%-10s %-14s %7.2f%% %10.3f %10.3f\n", k ? "flagship" : "mini", t.model[k],
			t.n[k] ? 100.0 * (double)t.wrong[k] / (double)t.n[k] : 0.0,
			right ? t.conf_right[k] / (double)right : 0.0,
			t.wrong[k] ? t.conf_wrong[k] / (double)t.wrong[k] : 0.0);
	}
	fprintf(out, "mini right where the flagship is wrong: %ld\n", t.mini_right_flag_wrong);
	fprintf(out, "%-18s %6s %8s %10s\n", "gold category", "n", "mini", "flagship");
	for (int c = 0; c < FE_NCAT; c++) {
		if (!t.gold_n[c])
			continue;
		fprintf(out, "%-18s %6ld %7.1f%% %9.1f%%\n", fe_categories[c], t.gold_n[c],
			100.0 * (double)t.gold_wrong[0][c] / (double)t.gold_n[c],
			100.0 * (double)t.gold_wrong[1][c] / (double)t.gold_n[c]);
	}
	return 0;
}
