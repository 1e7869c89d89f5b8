/* Benchmark of the control socket with a million eroutes: building the `ipsec eroute` reply,
 * a full request/reply exchange (tens of MB), and, the point of the non-blocking design, how
 * long `status` requests take while a slow client is still reading a full listing (the reply
 * is built in one go, blocking the loop that long; only its sending is incremental). The
 * parent runs the server on the event loop; forked children are the clients. Prints
 * labelled figures. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_int.h"
#include "bench.h"
#include "oe_time.h"

#define N_EROUTES 1000000
#define N_STATUS 200

static struct kern_eroute_table *table;
static char dir[32], path[64];
static int live_children;

static void fill(void)
{
	struct kern_eroute e;

	table = kern_eroute_table_new();
	memset(&e, 0, sizeof(e));
	oe_prefix_parse(&e.sel.src, "192.0.2.1/32", 12, NULL, &(const char *){ 0 });
	for (uint32_t i = 0; i < N_EROUTES; i++) {
		oe_addr_from_v4(&e.sel.dst.addr, 0x0a000000u + i * 7);
		e.sel.dst.len = 32;
		e.said.kind = i % 3 == 0 ? KERN_SAID_TRAP : KERN_SAID_PASS;
		snprintf(e.reason, sizeof(e.reason), "private-or-clear");
		if (kern_eroute_add(table, &e)) {
			fprintf(stderr, "ctl bench: out of memory\n");
			exit(1);
		}
	}
}

static void handler(void *ctx, const struct oe_ctl_req *req, struct oe_buf *out)
{
	oe_buf_puts(out, "OK\n");
	if (req->cmd == OE_CTL_EROUTE)
		kern_eroute_format(table, out);
}

static void on_child(void *ctx, int signo)
{
	int st;

	while (waitpid(-1, &st, WNOHANG) > 0)
		live_children--;
	if (live_children <= 0)
		oe_loop_stop(ctx);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Child: one full listing, timed. */
static int full_listing(void)
{
	struct oe_buf msg, body;
	bool ok = false;
	double t0 = bench_now_s();
	int err;

	oe_buf_init(&msg);
	oe_buf_init(&body);
	err = oe_ctl_call(path, "eroute", 120000, &ok, &msg, &body);
	if (err || !ok)
		return 1;
	printf("  full exchange of 'eroute' (%d eroutes): %.0f ms, %.1f MB, %.0f MB/s\n",
	       N_EROUTES, (bench_now_s() - t0) * 1e3, body.len / 1e6, body.len / 1e6 / (bench_now_s() - t0));
	return 0;
}

/* Child: a client that reads its listing 64 KiB every 2 ms (~30 MB/s). */
static int slow_reader(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char chunk[65536];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t total = 0;
	ssize_t n;

	strcpy(sa.sun_path, path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 1;
	if (send(fd, "\0\0\0\x06" "eroute", 10, 0) != 10)
		return 1;
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0) {
		total += (size_t)n;
		usleep(2000);
	}
	printf("  slow reader got %.1f MB\n", total / 1e6);
	return 0;
}

/* Child: status requests while the slow reader is served. */
static int status_latency(void)
{
	static double lat[N_STATUS];
	struct oe_buf msg, body;
	bool ok;

	oe_buf_init(&msg);
	oe_buf_init(&body);
	/* Start once the slow reader's reply is built (that takes the loop about as long as
	 * "building the 'eroute' reply" above; requests arriving meanwhile wait for it). */
	usleep(1500000);
	for (int i = 0; i < N_STATUS; i++) {
		double t0 = bench_now_s();

		oe_buf_reset(&body);
		if (oe_ctl_call(path, "status", 10000, &ok, &msg, &body) || !ok)
			return 1;
		lat[i] = (bench_now_s() - t0) * 1e6;
	}
	qsort(lat, N_STATUS, sizeof(lat[0]), cmp_double);
	printf("  'status' while a slow client reads a full listing: median %.0f us, p99 %.0f us, "
	       "max %.0f us (%d requests)\n",
	       lat[N_STATUS / 2], lat[N_STATUS * 99 / 100], lat[N_STATUS - 1], N_STATUS);
	return 0;
}

static void run_children(struct oe_loop *l, int (*const *fns)(void), int n)
{
	fflush(stdout);
	live_children = n;
	for (int i = 0; i < n; i++) {
		if (fork() == 0) {
			int rc = fns[i]();

			fflush(stdout);
			_exit(rc);
		}
	}
	oe_loop_run(l);
}

int main(void)
{
	static int (*const one[])(void) = { full_listing };
	static int (*const two[])(void) = { slow_reader, status_latency };
	struct oe_ctl_server *s = NULL;
	struct oe_loop *l = NULL;
	struct oe_buf b;
	double t0;

	oe_log_set_level(OE_LOG_ERR);
	strcpy(dir, "/tmp/bench_ctl.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/ctl", dir);
	t0 = bench_now_s();
	fill();
	printf("ctl: %d eroutes added in %.0f ms\n", N_EROUTES, (bench_now_s() - t0) * 1e3);
	oe_buf_init(&b);
	t0 = bench_now_s();
	kern_eroute_format(table, &b);
	printf("  building the 'eroute' reply: %.0f ms, %.1f MB\n", (bench_now_s() - t0) * 1e3,
	       b.len / 1e6);
	oe_buf_free(&b);
	if (oe_loop_new(&l) || oe_ctl_server_new(path, &s) ||
	    oe_ctl_server_start(s, l, handler, NULL) || oe_loop_signal(l, SIGCHLD, on_child, l))
		return 1;
	run_children(l, one, 1);
	run_children(l, two, 2);
	oe_ctl_server_free(s);
	oe_loop_free(l);
	kern_eroute_table_free(table);
	rmdir(dir);
	return 0;
}
