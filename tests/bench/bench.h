/* Helpers the benchmarks share: a fixed-seed xorshift64* generator (same sequence on every
 * run, so figures compare across runs), a monotonic clock in seconds, and peak memory. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

/* xorshift64*: fast; the state must not be 0. */
static inline uint64_t bench_rnd(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dull;
}

static inline double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident set of this process so far, in KiB. */
static inline long bench_maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

#endif
