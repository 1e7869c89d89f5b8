/* Clock and durations (see oe_time.h). */
#include "oe_time.h"

#include <time.h>

uint64_t oe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool oe_duration_parse(const char *s, size_t n, uint64_t *secs, const char **why)
{
	const uint64_t max = 10ull * 366 * 24 * 3600;
	uint64_t v = 0, unit = 1;
	size_t i = 0;

	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max) {
			*why = "longer than 10 years";
			return false;
		}
	}
	if (i == 0) {
		*why = "expected a number with an optional unit s, m, h or d";
		return false;
	}
	if (i < n) {
		switch (s[i]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: *why = "unknown unit (use s, m, h or d)"; return false;
		}
		if (i + 1 != n) {
			*why = "trailing characters after the unit";
			return false;
		}
	}
	if (v * unit > max) {
		*why = "longer than 10 years";
		return false;
	}
	*secs = v * unit;
	return true;
}
