/*
 * fm_server: see fm_server.h. Owns the fault random stream (deterministic
 * for a seed) and the clock reading the rate limits use. Must never block.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <json-c/json.h>

#include "fake_errors.h"

#include "fm_util.h"
#include "fm_server.h"

/* xorshift64*: tiny, deterministic for a seed, good enough for fault rates. */
uint64_t fm_rng_next(struct fm_server *srv)
{
	uint64_t x = srv->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	srv->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* splitmix64 of the seed: small seeds would otherwise start xorshift on a run of tiny numbers. */
uint64_t fm_rng_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return z ? z : 0x9E3779B97F4A7C15ULL;
}

/* Uniform in [0,1). */
double fm_rng_unit(struct fm_server *srv)
{
	return (double)(fm_rng_next(srv) >> 11) * 0x1.0p-53;
}

int64_t fm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
