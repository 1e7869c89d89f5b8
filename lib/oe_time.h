/* Time: a monotonic millisecond clock and parsing of durations such as "15m" or "90s". */
#ifndef OE_TIME_H
#define OE_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t oe_now_ms(void);

/* Parses "N", "Ns", "Nm", "Nh" or "Nd" (N decimal, bare N = seconds) into seconds, at most
 * 10 years. Returns false with *why set on error. */
bool oe_duration_parse(const char *s, size_t n, uint64_t *secs, const char **why);

#endif
