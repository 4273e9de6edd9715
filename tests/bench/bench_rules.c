/*
 * bench_rules: the time of one rules_eval() call, which runs on the event
 * loop for every ticket: the shipped rules (deploy/rules.conf) plus one user
 * regex rule, on a long body (default 256 KiB of the real-text corpus in
 * tests/fixtures/pii_corpus.txt, repeated). Prints milliseconds per call
 * (median and worst of the runs) for the default cap on the text the
 * regexes see and for no cap, so the figure before and after the cap is one
 * command. Not part of the test run: it prints figures, it asserts nothing.
 *
 *   cmake --build build --target bench_rules
 *   build/bench_rules [-b BODY_BYTES] [-n RUNS] [-c CAP] [-r REGEX]... [-f RULES_FILE]
 *
 * -r may be given several times (one line per regex). -c sets the cap
 * (rules_input.regex_text_max) measured besides "none". Run from the
 * source directory (the default paths are relative to it).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"
#include "ticket.h"

#define DEFAULT_RULES "deploy/rules.conf"
#define DEFAULT_CORPUS "tests/fixtures/pii_corpus.txt"
#define MAX_REGEXES 16

/* Regexes a rules author could plausibly write; the first is deploy/rules.conf's chargeback. */
static const char *const default_regexes[] = {
    "\\b(charge ?backs?|disputed? (the|a|this) (charge|payment|transaction))\\b",
    "refund.*(now|today|immediately)",
    "(order|invoice) *#? *[0-9]{6,}",
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		exit(2);
	}
	s = xmalloc((size_t)n + 1);
	if (fread(s, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(2);
	}
	s[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return s;
}

/* Milliseconds per call: median and worst of runs, in med/max. */
static void measure(const struct rules *r, const struct rules_input *in, int runs, double *med,
		    double *max, struct rules_decision *d)
{
	double *t = xmalloc((size_t)runs * sizeof(*t));

	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		rules_eval(r, in, d);
		t[i] = now_ms() - t0;
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp_double);
	*med = t[runs / 2];
	*max = t[runs - 1];
	free(t);
}

int main(int argc, char **argv)
{
	const char *rules_path = DEFAULT_RULES, *regexes[MAX_REGEXES];
	size_t nre = 0, body_bytes = 256 * 1024, cap = 0, clen, flen;
	int runs = 20;
	char *corpus, *file, *body, err[512];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
			body_bytes = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cap = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc && nre < MAX_REGEXES)
			regexes[nre++] = argv[++i];
		else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			rules_path = argv[++i];
		else {
			fprintf(stderr,
				"usage: %s [-b BODY_BYTES] [-n RUNS] [-c CAP] [-r REGEX]... "
				"[-f RULES_FILE]\n",
				argv[0]);
			return 2;
		}
	}
	if (nre == 0)
		for (size_t i = 0; i < ARRAY_SIZE(default_regexes); i++)
			regexes[nre++] = default_regexes[i];

	corpus = read_file(DEFAULT_CORPUS, &clen);
	file = read_file(rules_path, &flen);
	body = xmalloc(body_bytes + 1);
	for (size_t o = 0; o < body_bytes; o += clen)
		memcpy(body + o, corpus, body_bytes - o < clen ? body_bytes - o : clen);
	body[body_bytes] = '\0';
	/* Keep the cut on a UTF-8 boundary: the corpus is ASCII, but be safe. */
	body_bytes = utf8_cut(body, body_bytes, body_bytes);
	body[body_bytes] = '\0';

	printf("rules: %s + 1 user regex rule; body %zu bytes; %d runs each\n", rules_path,
	       body_bytes, runs);
	printf("%-72s %10s %10s %10s %s\n", "user regex", "cap", "median_ms", "max_ms", "matched");
	for (size_t k = 0; k < nre + 1; k++) {
		/* k == nre: the shipped rules alone, for the baseline */
		char *text = xasprintf("%s\n[rule bench_user]\nregex = \"%s\"\nchannel = email\n"
				       "action = escalate\npriority = 10\n",
				       file, k < nre ? regexes[k] : "");
		struct rules *r;
		struct ticket t;
		struct rules_input in;
		struct rules_decision d;
		double med, max;

		if (k == nre) {
			free(text);
			text = xstrdup(file);
		}
		r = rules_parse(text, rules_path, err, sizeof(err));
		if (r == NULL) {
			printf("%-72.72s rejected: %s\n", regexes[k], err);
			free(text);
			continue;
		}
		memset(&t, 0, sizeof(t));
		t.ticket_id = "bench";
		t.subject = "Question about my account";
		t.body = body;
		t.body_len = body_bytes;
		t.channel = CH_EMAIL;
		memset(&in, 0, sizeof(in));
		in.ticket = &t;
		for (int pass = 0; pass < 2; pass++) {
			size_t c = pass == 0 ? SIZE_MAX : cap;
#ifdef RULES_REGEX_TEXT_DEFAULT
			in.regex_text_max = c;
#else
			if (pass == 1)
				break; /* before the cap existed: uncapped only */
#endif
			measure(r, &in, runs, &med, &max, &d);
			printf("%-72.72s %10s %10.4f %10.4f %s\n",
			       k < nre ? regexes[k] : "(shipped rules only)",
			       c == SIZE_MAX ? "none"
			       : c == 0	     ? "default"
					     : "set",
			       med, max, d.nmatched ? d.matched : "-");
		}
		rules_free(r);
		free(text);
	}
	free(body);
	free(file);
	free(corpus);
	return 0;
}
