/* Tests of the agent's event loop: timer order and cancellation, fd callbacks on a pipe,
 * unwatching from inside a callback, and signals through the signalfd. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "agent.h"
#include "oe_time.h"
#include "t.h"

static char order[16];
static size_t norder;

static void mark(void *ctx)
{
	if (norder < sizeof(order) - 1)
		order[norder++] = *(const char *)ctx;
}

static void test_timer_order(void)
{
	struct oe_loop *l;
	oe_timer_id b;

	T_CHECK_INT(oe_loop_new(&l), 0);
	norder = 0;
	memset(order, 0, sizeof(order));
	oe_loop_timer(l, 30, mark, "c");
	b = oe_loop_timer(l, 20, mark, "b");
	oe_loop_timer(l, 10, mark, "a");
	oe_loop_timer(l, 10, mark, "A"); /* same deadline: creation order */
	oe_loop_timer(l, 0, mark, "0");
	T_CHECK(b != 0);
	T_CHECK(oe_loop_timer_cancel(l, b));
	T_CHECK(!oe_loop_timer_cancel(l, b));
	T_CHECK_INT(oe_loop_timer_count(l), 4);
	uint64_t t0 = oe_now_ms();
	while (oe_loop_timer_count(l) > 0 && oe_now_ms() - t0 < 2000)
		oe_loop_once(l, 100);
	T_CHECK_STR(order, "0aAc");
	T_CHECK(oe_now_ms() - t0 >= 29);
	oe_loop_free(l);
}

static void test_timer_many(void)
{
	struct oe_loop *l;
	oe_timer_id ids[200];
	static const char tag = 'x';

	T_CHECK_INT(oe_loop_new(&l), 0);
	for (int i = 0; i < 200; i++)
		ids[i] = oe_loop_timer(l, (uint64_t)((i * 37) % 11), mark, (void *)&tag);
	for (int i = 0; i < 200; i += 2)
		T_CHECK(oe_loop_timer_cancel(l, ids[i]));
	T_CHECK_INT(oe_loop_timer_count(l), 100);
	norder = 0;
	uint64_t t0 = oe_now_ms();
	while (oe_loop_timer_count(l) > 0 && oe_now_ms() - t0 < 2000)
		oe_loop_once(l, 50);
	T_CHECK_INT(oe_loop_timer_count(l), 0);
	oe_loop_free(l);
}

struct pipe_ctx {
	struct oe_loop *l;
	int reads;
	char got[8];
};

static void on_read(void *ctx, int fd, uint32_t ev)
{
	struct pipe_ctx *p = ctx;
	ssize_t n = read(fd, p->got, sizeof(p->got) - 1);

	if (n > 0)
		p->got[n] = '\0';
	p->reads++;
	oe_loop_unwatch(p->l, fd); /* from inside the callback */
	oe_loop_stop(p->l);
}

static void test_fd_callback(void)
{
	struct pipe_ctx p = { 0 };
	int fds[2];

	T_CHECK_INT(oe_loop_new(&p.l), 0);
	T_CHECK_INT(pipe(fds), 0);
	T_CHECK_INT(oe_loop_watch(p.l, fds[0], EPOLLIN, on_read, &p), 0);
	T_CHECK_INT(oe_loop_watch(p.l, fds[0], EPOLLIN, on_read, &p), -EEXIST);
	T_CHECK_INT(oe_loop_once(p.l, 10), 0); /* nothing to read yet */
	T_CHECK_INT(p.reads, 0);
	T_CHECK_INT(write(fds[1], "hi", 2), 2);
	T_CHECK_INT(oe_loop_run(p.l), 0);
	T_CHECK_INT(p.reads, 1);
	T_CHECK_STR(p.got, "hi");
	T_CHECK_INT(write(fds[1], "again", 5), 5);
	T_CHECK_INT(oe_loop_once(p.l, 10), 0); /* unwatched: no second callback */
	T_CHECK_INT(p.reads, 1);
	T_CHECK_INT(oe_loop_modify(p.l, fds[0], EPOLLIN), -ENOENT);
	close(fds[0]);
	close(fds[1]);
	oe_loop_free(p.l);
}

static int got_signal;

static void on_sig(void *ctx, int signo)
{
	got_signal = signo;
	oe_loop_stop(ctx);
}

static void on_timeout(void *ctx)
{
	oe_loop_stop(ctx);
}

static void test_signal(void)
{
	struct oe_loop *l;

	T_CHECK_INT(oe_loop_new(&l), 0);
	T_CHECK_INT(oe_loop_signal(l, SIGHUP, on_sig, l), 0);
	T_CHECK_INT(oe_loop_signal(l, SIGUSR1, on_sig, l), 0);
	oe_loop_timer(l, 2000, on_timeout, l);
	kill(getpid(), SIGUSR1);
	T_CHECK_INT(oe_loop_run(l), 0);
	T_CHECK_INT(got_signal, SIGUSR1);
	oe_loop_free(l); /* unblocks the signals again */
}

int main(void)
{
	T_RUN(test_timer_order);
	T_RUN(test_timer_many);
	T_RUN(test_fd_callback);
	T_RUN(test_signal);
	return t_done();
}
