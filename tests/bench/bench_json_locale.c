/*
 * bench_json_locale: json-c's parser on two threads at once, each thread on
 * the process's global locale (the default) or switched to glibc's static C
 * object (clocale_thread, #16). json-c 0.16 takes glibc's global locale lock
 * twice per parse on the former. Prints seconds per mode, alternating, and
 * the ratio. Not a test.
 *
 *   cmake --build build --target bench_json_locale && build/bench_json_locale [PARSES]
 *
 * With a second argument, global or c, one round of that mode alone (for
 * strace -f -c -e trace=futex: the lock's waits are futex calls).
 */

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "clocale.h"

/* about the size of a model's answer */
static const char doc[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-5-mini\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"{\\\"category\\\":\\\"billing\\\",\\\"sentiment\\\":\\\"negative\\\",\\\"urgency\\\":"
    "\\\"high\\\",\\\"confidence\\\":0.82,\\\"summary\\\":\\\"Charged twice\\\"}\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":812,\"completion_tokens\":95,"
    "\"total_tokens\":907}}";

struct arg {
	int c_locale;
	long n;
};

static void *run(void *p)
{
	const struct arg *a = p;
	if (a->c_locale)
		(void)clocale_thread();
	for (long i = 0; i < a->n; i++)
		json_object_put(json_tokener_parse(doc));
	return NULL;
}

static double two_threads(int c_locale, long n)
{
	struct arg a = {c_locale, n};
	struct timespec t0, t1;
	pthread_t t[2];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, run, &a);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	double g = 0, c = 0;
	if (argc > 2) {
		int mode_c = strcmp(argv[2], "c") == 0;
		printf("%s: %.3f s (%ld parses per thread, two threads)\n",
		       mode_c ? "C object" : "global locale", two_threads(mode_c, n), n);
		return 0;
	}
	for (int r = 0; r < 3; r++) {
		double tg = two_threads(0, n), tc = two_threads(1, n);
		printf("round %d: global locale %.3f s, C object %.3f s (%ld parses per thread)\n",
		       r + 1, tg, tc, n);
		g += tg;
		c += tc;
	}
	printf("two threads, %ld parses each: global locale %.3f s, C object %.3f s, ratio %.2fx\n",
	       n, g / 3, c / 3, c > 0 ? g / c : 0.0);
	return 0;
}
