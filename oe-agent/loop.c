/* The agent's one event loop: a thin wrapper over epoll with fd watches, timers kept in a
 * binary min-heap ordered by (deadline, creation order), and signals read from a signalfd.
 * Single-threaded; callbacks may add or remove watches and timers, and stop the loop.
 * Protocol code uses this API only and never calls epoll itself. */
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "oe_time.h"

struct watch {
	oe_fd_cb cb; /* NULL = free slot */
	void *ctx;
	uint32_t gen; /* guards against events for an fd unwatched earlier in the same batch */
};

struct timer {
	uint64_t deadline;
	oe_timer_id id; /* increasing: ties fire in creation order */
	oe_timer_cb cb;
	void *ctx;
};

struct sighandler {
	oe_signal_cb cb;
	void *ctx;
};

struct oe_loop {
	int epfd;
	int sigfd;
	bool stop;
	struct watch *w;
	size_t nw; /* slots, indexed by fd */
	uint32_t gen;
	struct timer *heap;
	size_t nt, capt;
	oe_timer_id next_id;
	sigset_t sigmask;
	struct sighandler sig[_NSIG];
};

int oe_loop_new(struct oe_loop **out)
{
	struct oe_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	l->sigfd = -1;
	l->next_id = 1;
	sigemptyset(&l->sigmask);
	*out = l;
	return 0;
}

void oe_loop_free(struct oe_loop *l)
{
	if (!l)
		return;
	if (l->sigfd >= 0) {
		sigprocmask(SIG_UNBLOCK, &l->sigmask, NULL);
		close(l->sigfd);
	}
	close(l->epfd);
	free(l->w);
	free(l->heap);
	free(l);
}

static int grow_watches(struct oe_loop *l, int fd)
{
	size_t n = l->nw ? l->nw : 64;
	struct watch *w;

	while (n <= (size_t)fd)
		n *= 2;
	if (n == l->nw)
		return 0;
	w = realloc(l->w, n * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w + l->nw, 0, (n - l->nw) * sizeof(*w));
	l->w = w;
	l->nw = n;
	return 0;
}

static uint64_t watch_key(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

int oe_loop_watch(struct oe_loop *l, int fd, uint32_t events, oe_fd_cb cb, void *ctx)
{
	struct epoll_event ev = { .events = events };
	int err;

	if (fd < 0 || !cb)
		return -EINVAL;
	err = grow_watches(l, fd);
	if (err)
		return err;
	if (l->w[fd].cb)
		return -EEXIST;
	l->gen++;
	ev.data.u64 = watch_key(fd, l->gen);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->w[fd] = (struct watch){ cb, ctx, l->gen };
	return 0;
}

int oe_loop_modify(struct oe_loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };

	if (fd < 0 || (size_t)fd >= l->nw || !l->w[fd].cb)
		return -ENOENT;
	ev.data.u64 = watch_key(fd, l->w[fd].gen);
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int oe_loop_unwatch(struct oe_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nw || !l->w[fd].cb)
		return -ENOENT;
	l->w[fd].cb = NULL;
	l->w[fd].ctx = NULL;
	return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

/* ---- timers: a binary min-heap ---------------------------------------------------------- */

static bool timer_before(const struct timer *a, const struct timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->id < b->id);
}

static void heap_swap(struct timer *h, size_t i, size_t j)
{
	struct timer t = h[i];

	h[i] = h[j];
	h[j] = t;
}

static void heap_up(struct timer *h, size_t i)
{
	while (i > 0 && timer_before(&h[i], &h[(i - 1) / 2])) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct timer *h, size_t n, size_t i)
{
	for (;;) {
		size_t m = i, a = 2 * i + 1, b = 2 * i + 2;

		if (a < n && timer_before(&h[a], &h[m]))
			m = a;
		if (b < n && timer_before(&h[b], &h[m]))
			m = b;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

static void heap_remove(struct oe_loop *l, size_t i)
{
	l->nt--;
	if (i == l->nt)
		return;
	l->heap[i] = l->heap[l->nt];
	heap_down(l->heap, l->nt, i);
	heap_up(l->heap, i);
}

oe_timer_id oe_loop_timer(struct oe_loop *l, uint64_t after_ms, oe_timer_cb cb, void *ctx)
{
	if (l->nt == l->capt) {
		size_t cap = l->capt ? l->capt * 2 : 16;
		struct timer *h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			return 0;
		l->heap = h;
		l->capt = cap;
	}
	l->heap[l->nt] = (struct timer){ oe_now_ms() + after_ms, l->next_id++, cb, ctx };
	heap_up(l->heap, l->nt);
	l->nt++;
	return l->next_id - 1;
}

/* Linear search: cancels are rare next to the number of pending timers for now; index the
 * heap positions if flows ever cancel at scale. */
bool oe_loop_timer_cancel(struct oe_loop *l, oe_timer_id id)
{
	for (size_t i = 0; i < l->nt; i++) {
		if (l->heap[i].id == id) {
			heap_remove(l, i);
			return true;
		}
	}
	return false;
}

size_t oe_loop_timer_count(const struct oe_loop *l)
{
	return l->nt;
}

/* Fires every timer that is due; a timer added by a callback with after_ms 0 waits for the
 * next iteration so a self-rearming timer cannot starve the fds. */
static void run_timers(struct oe_loop *l)
{
	uint64_t now = oe_now_ms();
	oe_timer_id limit = l->next_id;

	while (l->nt > 0 && l->heap[0].deadline <= now && l->heap[0].id < limit && !l->stop) {
		struct timer t = l->heap[0];

		heap_remove(l, 0);
		t.cb(t.ctx);
	}
}

static int next_timeout(const struct oe_loop *l, int max_wait_ms)
{
	uint64_t now, d;

	if (l->nt == 0)
		return max_wait_ms;
	now = oe_now_ms();
	d = l->heap[0].deadline > now ? l->heap[0].deadline - now : 0;
	if (d > INT32_MAX)
		d = INT32_MAX;
	if (max_wait_ms >= 0 && (uint64_t)max_wait_ms < d)
		return max_wait_ms;
	return (int)d;
}

/* ---- signals ---------------------------------------------------------------------------- */

static void on_signalfd(void *ctx, int fd, uint32_t events)
{
	struct oe_loop *l = ctx;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo < _NSIG && l->sig[si.ssi_signo].cb)
			l->sig[si.ssi_signo].cb(l->sig[si.ssi_signo].ctx, (int)si.ssi_signo);
	}
}

int oe_loop_signal(struct oe_loop *l, int signo, oe_signal_cb cb, void *ctx)
{
	int fd, err;

	if (signo <= 0 || signo >= _NSIG)
		return -EINVAL;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		err = oe_loop_watch(l, fd, EPOLLIN, on_signalfd, l);
		if (err) {
			close(fd);
			return err;
		}
		l->sigfd = fd;
	}
	l->sig[signo] = (struct sighandler){ cb, ctx };
	return 0;
}

/* ---- running ---------------------------------------------------------------------------- */

int oe_loop_once(struct oe_loop *l, int max_wait_ms)
{
	struct epoll_event ev[64];
	int n;

	n = epoll_wait(l->epfd, ev, 64, next_timeout(l, max_wait_ms));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !l->stop; i++) {
		int fd = (int)(uint32_t)ev[i].data.u64;
		uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);

		if ((size_t)fd >= l->nw || !l->w[fd].cb || l->w[fd].gen != gen)
			continue; /* unwatched by an earlier callback of this batch */
		l->w[fd].cb(l->w[fd].ctx, fd, ev[i].events);
	}
	if (!l->stop)
		run_timers(l);
	return 0;
}

int oe_loop_run(struct oe_loop *l)
{
	int err = 0;

	l->stop = false;
	while (!l->stop && !err)
		err = oe_loop_once(l, -1);
	return err;
}

void oe_loop_stop(struct oe_loop *l)
{
	l->stop = true;
}
