/* A minimal unit-test harness. Each test binary prints one TAP-style line per test
 * ("ok - file: name" / "not ok - file: name") and failed checks as "#" lines; tests/run.sh
 * counts them. Checks continue after a failure so one run shows every broken assertion. */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_checks, t_pass, t_fail;

#define T_CHECK(cond)                                                                      \
	do {                                                                               \
		if (!(cond)) {                                                             \
			printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			t_failed_checks++;                                                 \
		}                                                                          \
	} while (0)

#define T_CHECK_STR(got, want)                                                             \
	do {                                                                               \
		const char *t_g = (got), *t_w = (want);                                    \
		if (!t_g || strcmp(t_g, t_w) != 0) {                                       \
			printf("#   %s:%d: got  '%s'\n#   %*s  want '%s'\n", __FILE__,        \
			       __LINE__, t_g ? t_g : "(null)", (int)strlen(__FILE__) + 6, "",  \
			       t_w);                                                       \
			t_failed_checks++;                                                 \
		}                                                                          \
	} while (0)

#define T_CHECK_INT(got, want)                                                             \
	do {                                                                               \
		long long t_g = (long long)(got), t_w = (long long)(want);                 \
		if (t_g != t_w) {                                                          \
			printf("#   %s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, #got, \
			       t_g, t_w);                                                  \
			t_failed_checks++;                                                 \
		}                                                                          \
	} while (0)

static inline void t_run(const char *file, const char *name, void (*fn)(void))
{
	int before = t_failed_checks;

	fn();
	if (t_failed_checks == before) {
		printf("ok - %s: %s\n", file, name);
		t_pass++;
	} else {
		printf("not ok - %s: %s\n", file, name);
		t_fail++;
	}
	fflush(stdout);
}

#define T_RUN(fn) t_run(__FILE__, #fn, fn)

static inline int t_done(void)
{
	return t_fail ? 1 : 0;
}

#endif
