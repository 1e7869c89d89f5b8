/* A minimal poll() driver for resolvers, used by `ipsec lookup`, tests and benchmarks. The
 * agent itself plugs resolvers into its epoll loop through the same three calls:
 * dk_resolver_fds() (or the watch callback), dk_resolver_process() and
 * dk_resolver_next_timeout_ms(). */
#include <errno.h>
#include <poll.h>

#include "dk_lookup_int.h"
#include "oe_time.h"

#define POLL_MAX (DK_MAX_FDS * 8)

int dk_poll_run(struct dk_resolver *const *rs, size_t n, bool (*done)(void *arg), void *arg,
		int max_ms)
{
	uint64_t end = oe_now_ms() + (uint64_t)max_ms;
	struct pollfd pfd[POLL_MAX];
	size_t owner[POLL_MAX];

	while (!done(arg)) {
		uint64_t now = oe_now_ms();
		int wait = now >= end ? 0 : (int)(end - now), np = 0, rc;

		if (now >= end)
			return -ETIMEDOUT;
		for (size_t i = 0; i < n; i++) {
			struct dk_fdwatch w[DK_MAX_FDS];
			size_t k = dk_resolver_fds(rs[i], w, DK_MAX_FDS);
			int t = dk_resolver_next_timeout_ms(rs[i]);

			for (size_t f = 0; f < k && f < DK_MAX_FDS && np < POLL_MAX; f++) {
				pfd[np].fd = w[f].fd;
				pfd[np].events = (short)((w[f].read ? POLLIN : 0) |
							 (w[f].write ? POLLOUT : 0));
				pfd[np].revents = 0;
				owner[np++] = i;
			}
			if (t >= 0 && t < wait)
				wait = t;
		}
		rc = poll(pfd, (nfds_t)np, wait);
		if (rc < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; rc > 0 && i < np; i++) {
			short ev = pfd[i].revents;

			if (ev)
				dk_resolver_process(rs[owner[i]], pfd[i].fd,
						    ev & (POLLIN | POLLERR | POLLHUP),
						    ev & (POLLOUT | POLLERR));
		}
		/* Timers: c-ares expires its queries when called with no fd. */
		for (size_t i = 0; i < n; i++)
			if (dk_resolver_next_timeout_ms(rs[i]) == 0 || rc == 0)
				dk_resolver_process(rs[i], -1, false, false);
	}
	return 0;
}
