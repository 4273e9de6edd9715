/*
 * Micro-benchmark for injection_detect(): prints nanoseconds per call over the
 * lines of a text file (default: the real-text corpus in
 * tests/fixtures/pii_corpus.txt), repeated until about a second has passed,
 * best of five rounds. Not part of the test run and not built by CMake: it
 * prints figures, it asserts nothing. Build it by hand against a Release
 * library, e.g.
 *
 *   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-bench --target triaged_lib
 *   cc -O2 -D_GNU_SOURCE -Iservice tests/bench/bench_inject.c \
 *      build-bench/libtriaged_lib.a -o build-bench/bench_inject
 *   build-bench/bench_inject [file]
 *
 * With a file of NUL-separated records (for example CFPB narratives, which
 * span lines), pass -0 before the file name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "injection.h"

#define DEFAULT_CORPUS "tests/fixtures/pii_corpus.txt"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CORPUS;
	char sep = '\n', *data = NULL, **rec = NULL, why[256];
	size_t *len = NULL, n = 0, size = 0, bytes = 0;
	double best = 0;
	long flagged = 0, fsize;
	FILE *f = NULL;
	int rc = EXIT_FAILURE, reps = 1;

	if (argc > 1 && strcmp(argv[1], "-0") == 0) {
		sep = '\0';
		argc--;
		argv++;
	}
	if (argc > 1)
		path = argv[1];
	f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		goto out;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (fsize = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		goto out;
	}
	size = (size_t)fsize;
	data = malloc(size + 1);
	rec = malloc((size + 1) * sizeof(*rec));
	len = malloc((size + 1) * sizeof(*len));
	if (data == NULL || rec == NULL || len == NULL || fread(data, 1, size, f) != size) {
		fprintf(stderr, "%s: cannot read\n", path);
		goto out;
	}
	for (char *s = data, *end = data + size; s < end;) {
		char *e = memchr(s, sep, (size_t)(end - s));

		if (e == NULL)
			e = end;
		rec[n] = s;
		len[n++] = (size_t)(e - s);
		bytes += (size_t)(e - s);
		s = e + 1;
	}
	if (n == 0) {
		fprintf(stderr, "%s: empty\n", path);
		goto out;
	}
	/* Calibrate: enough passes over the records to take about a second. */
	for (;;) {
		double t0 = now_ns();

		for (int r = 0; r < reps; r++)
			for (size_t i = 0; i < n; i++)
				injection_detect(rec[i], len[i], why, sizeof(why));
		if (now_ns() - t0 > 2e8 || reps > 1 << 20)
			break;
		reps *= 2;
	}
	reps *= 5;
	for (int round = 0; round < 5; round++) {
		double t0 = now_ns(), per;

		flagged = 0;
		for (int r = 0; r < reps; r++)
			for (size_t i = 0; i < n; i++)
				flagged += injection_detect(rec[i], len[i], why, sizeof(why)) > 0;
		per = (now_ns() - t0) / ((double)reps * (double)n);
		if (round == 0 || per < best)
			best = per;
	}
	printf("inject_detect: %zu records, %zu bytes on average, %ld flagged: %.0f ns/call, "
	       "%.2f ns/byte\n",
	       n, bytes / n, flagged / reps, best, best * (double)n / (double)(bytes ? bytes : 1));
	rc = EXIT_SUCCESS;
out:
	if (f != NULL)
		fclose(f);
	free(data);
	free(rec);
	free(len);
	return rc;
}
