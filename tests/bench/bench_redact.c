/*
 * Micro-benchmark for redact_text(): per-ticket redaction time on typical
 * bodies (each line of the real-text corpus, with a few values planted in
 * every fourth line, as tickets carry them) and on 256 KiB bodies (the
 * corpus lines concatenated with line breaks, values planted as above, up
 * to intake.max_message_bytes). Prints microseconds per call, best of five
 * rounds of about a second each. Not part of the test run and not built by
 * CMake: it prints figures, it asserts nothing. Build it by hand against a
 * Release library, e.g.
 *
 *   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-bench --target triaged_lib
 *   cc -O2 -D_GNU_SOURCE -Iservice $(pkg-config --cflags json-c) \
 *      tests/bench/bench_redact.c build-bench/libtriaged_lib.a \
 *      $(pkg-config --libs json-c) -o build-bench/bench_redact
 *   build-bench/bench_redact [corpus-file]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redact.h"

#define DEFAULT_CORPUS "tests/fixtures/pii_corpus.txt"
#define BIG (256 * 1024)

static const char *const planted[] = {
	" Card 4111 1111 1111 1111, mail maria.garcia@example.com.",
	" IBAN DE89 3704 0044 0532 0130 00 please.",
	" Call me on +44 20 7946 0958 or 030/16765473.",
	" Order 161-2211209-0420230 of EUR 1,234.56 on 2024-11-05 at 10:30.",
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Best-of-five microseconds per call over the n texts. */
static double time_texts(const struct redactor *r, char **texts, size_t n, unsigned *found)
{
	double best = 0;
	int reps = 1, sized = 0;

	for (int round = 0; round < 5; round++) {
		double t0 = now_ns(), dt;

		*found = 0;
		for (int rep = 0; rep < reps; rep++) {
			for (size_t i = 0; i < n; i++) {
				struct redact_map m;
				struct redact_stats st;
				char err[256], *out;

				redact_map_init(&m);
				out = redact_text(r, texts[i], strlen(texts[i]), &m, &st, err,
						  sizeof(err));
				if (out == NULL) {
					fprintf(stderr, "redact_text: %s\n", err);
					exit(1);
				}
				*found += st.email + st.phone + st.card + st.iban;
				free(out);
				redact_map_cleanup(&m);
			}
		}
		dt = (now_ns() - t0) / 1e3 / ((double)reps * (double)n);
		if (round == 0 || dt < best)
			best = dt;
		if (!sized) {
			double one = (now_ns() - t0) / 1e9;

			sized = 1;
			reps = one > 0 && one < 1.0 ? (int)(1.0 / one) + 1 : 1;
			round = -1; /* the first pass only sized reps */
		}
	}
	*found /= (unsigned)reps;
	return best;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : DEFAULT_CORPUS;
	char line[8192], **texts = NULL, **raw = NULL, *big[2];
	size_t n = 0, bytes = 0;
	unsigned found;
	FILE *f = fopen(path, "r");
	struct redactor *r = redactor_new();

	if (f == NULL) {
		perror(path);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t l = strcspn(line, "\n");
		const char *p = n % 4 == 0 ? planted[(n / 4) % 4] : "";

		line[l] = '\0';
		texts = realloc(texts, (n + 1) * sizeof(*texts));
		raw = realloc(raw, (n + 1) * sizeof(*raw));
		raw[n] = strdup(line);
		texts[n] = malloc(l + strlen(p) + 1);
		memcpy(texts[n], line, l);
		strcpy(texts[n] + l, p);
		bytes += strlen(texts[n]);
		n++;
	}
	fclose(f);
	printf("typical: %zu bodies, %zu bytes on average: %.2f us per body", n, bytes / n,
	       time_texts(r, texts, n, &found));
	printf(" (%u values per pass)\n", found);

	/* Two 256 KiB bodies: plain corpus text, and with values planted as above. */
	for (int b = 0; b < 2; b++) {
		size_t len = 0, i = 0;

		big[b] = malloc(BIG + 1);
		for (;;) {
			const char *p = b == 1 && i % 4 == 0 ? planted[(i / 4) % 4] : "";
			const char *s = raw[i % n];
			size_t l = strlen(s);

			if (len + l + strlen(p) + 1 > BIG)
				break;
			memcpy(big[b] + len, s, l);
			len += l;
			memcpy(big[b] + len, p, strlen(p));
			len += strlen(p);
			big[b][len++] = '\n';
			i++;
		}
		big[b][len] = '\0';
		printf("256 KiB %s: %zu bytes: %.0f us per body", b ? "with values" : "plain text",
		       len, time_texts(r, &big[b], 1, &found));
		printf(" (%u values)\n", found);
	}
	redactor_free(r);
	for (size_t i = 0; i < n; i++) {
		free(texts[i]);
		free(raw[i]);
	}
	free(raw);
	free(texts);
	free(big[0]);
	free(big[1]);
	return 0;
}
