/* Tests of the control socket server and client in one process pair: the parent runs the
 * server on the event loop, a forked child plays the clients. Covers a normal exchange, a
 * 16 MB reply to a client that reads slowly, refused framing, the client limit, and the rules
 * for a socket file that is already there. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent_int.h"
#include "t.h"

#define BIG (16u << 20)

static char dir[32], path[64];

static void handler(void *ctx, const struct oe_ctl_req *req, struct oe_buf *out)
{
	if (req->cmd == OE_CTL_STATUS) {
		oe_buf_puts(out, "OK\nall fine\n");
	} else if (req->cmd == OE_CTL_EROUTE) {
		oe_buf_puts(out, "OK\n");
		for (size_t i = 0; i < BIG / 64; i++)
			oe_buf_printf(out, "%-63zu\n", i);
	} else {
		oe_buf_puts(out, "ERR not here\nbody of the error\n");
	}
}

static void on_child(void *ctx, int signo)
{
	oe_loop_stop(ctx);
}

static void on_timeout(void *ctx)
{
	oe_loop_stop(ctx);
}

/* Runs the server until the child exits; returns the child's exit status. */
static int serve_child(struct oe_ctl_server *s, pid_t pid, struct oe_loop *l)
{
	int st = 0;

	oe_loop_timer(l, 20000, on_timeout, l);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		oe_loop_run(l);
		if (waitpid(pid, &st, WNOHANG) != 0)
			break;
		if (oe_loop_timer_count(l) == 0) { /* timed out */
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A raw client: sends n bytes, returns the first reply line in line. */
static bool raw(const void *p, size_t n, char *line, size_t max)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t got;

	strcpy(sa.sun_path, path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return false;
	if (n && send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
		return false;
	got = recv(fd, line, max - 1, MSG_WAITALL);
	close(fd);
	if (got <= 0)
		return false;
	line[got] = '\0';
	*strchrnul(line, '\n') = '\0';
	return true;
}

static int child_clients(void)
{
	struct oe_buf msg, body;
	char line[128];
	bool ok = false;
	int fails = 0, fds[20];

	oe_buf_init(&msg);
	oe_buf_init(&body);
	fails += oe_ctl_call(path, "status", 5000, &ok, &msg, &body) != 0 || !ok ||
		 strcmp(body.p, "all fine\n") != 0;
	oe_buf_reset(&body);
	fails += oe_ctl_call(path, "reload", 5000, &ok, &msg, &body) != 0 || ok ||
		 strcmp(msg.p, "not here") != 0 || strcmp(body.p, "body of the error\n") != 0;
	oe_buf_reset(&body);
	fails += oe_ctl_call(path, "bogus", 5000, &ok, &msg, &body) != 0 || ok;
	oe_buf_reset(&body);
	fails += oe_ctl_call(path, "eroute", 15000, &ok, &msg, &body) != 0 || !ok ||
		 body.len != BIG;
	fails += !raw("\0\0\0\0", 4, line, sizeof(line)) ||
		 strcmp(line, "ERR request length 0: must be 1..65536") != 0;
	fails += !raw("\0\x10\0\0", 4, line, sizeof(line)) ||
		 strcmp(line, "ERR request length 1048576: must be 1..65536") != 0;
	fails += !raw("garbage and more garbage", 24, line, sizeof(line)) ||
		 strncmp(line, "ERR request length", 18) != 0;
	/* 16 silent clients fill the table; the 17th is refused at once. */
	for (int i = 0; i < 16; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, path);
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		fails += connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0;
	}
	usleep(200000);
	fails += !raw(NULL, 0, line, sizeof(line)) ||
		 strcmp(line, "ERR too many control clients, try again") != 0;
	for (int i = 0; i < 16; i++)
		close(fds[i]);
	usleep(200000);
	oe_buf_reset(&body);
	fails += oe_ctl_call(path, "status", 5000, &ok, &msg, &body) != 0 || !ok;
	if (fails)
		printf("#   child: %d failed exchanges\n", fails);
	return fails ? 1 : 0;
}

static void test_server(void)
{
	struct oe_ctl_server *s = NULL;
	struct oe_loop *l = NULL;
	struct stat st;
	pid_t pid;

	T_CHECK_INT(oe_loop_new(&l), 0);
	T_CHECK_INT(oe_ctl_server_new(path, &s), 0);
	if (!s || !l)
		return;
	T_CHECK_INT(stat(path, &st), 0);
	T_CHECK_INT(st.st_mode & 0777, 0600);
	T_CHECK_INT(oe_ctl_server_start(s, l, handler, NULL), 0);
	T_CHECK_INT(oe_loop_signal(l, SIGCHLD, on_child, l), 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child_clients());
	T_CHECK_INT(serve_child(s, pid, l), 0);
	/* A second server on the same live socket is refused. */
	struct oe_ctl_server *s2 = NULL;
	T_CHECK_INT(oe_ctl_server_new(path, &s2), -EADDRINUSE);
	oe_ctl_server_free(s);
	T_CHECK(access(path, F_OK) != 0); /* removed */
	oe_loop_free(l);
}

/* Child: more clients than the server has fds for, then one that must still be served. */
static int child_fd_starved(void)
{
	struct oe_buf msg, body;
	bool ok = false;
	int fds[8];

	for (int i = 0; i < 8; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, path);
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0)
			return 1;
	}
	usleep(300000);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	oe_buf_init(&msg);
	oe_buf_init(&body);
	return oe_ctl_call(path, "status", 5000, &ok, &msg, &body) != 0 || !ok;
}

/* Out of fds, the server pauses accepting instead of spinning, and recovers. */
static void test_fd_exhaustion(void)
{
	struct oe_ctl_server *s = NULL;
	struct oe_loop *l = NULL;
	struct rlimit old, lim;
	int probe;
	pid_t pid;

	T_CHECK_INT(oe_loop_new(&l), 0);
	T_CHECK_INT(oe_ctl_server_new(path, &s), 0);
	if (!s || !l)
		return;
	T_CHECK_INT(oe_ctl_server_start(s, l, handler, NULL), 0);
	T_CHECK_INT(oe_loop_signal(l, SIGCHLD, on_child, l), 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child_fd_starved());
	/* Room for two clients only: the lowest free fd plus one. */
	probe = dup(0);
	close(probe);
	getrlimit(RLIMIT_NOFILE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)probe + 2;
	T_CHECK_INT(setrlimit(RLIMIT_NOFILE, &lim), 0);
	T_CHECK_INT(serve_child(s, pid, l), 0);
	setrlimit(RLIMIT_NOFILE, &old);
	oe_ctl_server_free(s);
	oe_loop_free(l);
}

static void test_stale_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct oe_ctl_server *s = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	FILE *f;

	/* A socket file nobody listens on (an agent that crashed) is replaced. */
	strcpy(sa.sun_path, path);
	T_CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	T_CHECK_INT(oe_ctl_server_new(path, &s), 0);
	oe_ctl_server_free(s);
	/* A regular file is never removed. */
	f = fopen(path, "w");
	if (f)
		fclose(f);
	s = NULL;
	T_CHECK_INT(oe_ctl_server_new(path, &s), -EEXIST);
	T_CHECK_INT(access(path, F_OK), 0);
	unlink(path);
}

static void test_unreachable(void)
{
	struct oe_buf msg, body;
	bool ok;

	oe_buf_init(&msg);
	oe_buf_init(&body);
	T_CHECK_INT(oe_ctl_call(path, "status", 1000, &ok, &msg, &body), -ENOENT);
	T_CHECK_INT(oe_ctl_call(path, "", 1000, &ok, &msg, &body), -EMSGSIZE);
	oe_buf_free(&msg);
	oe_buf_free(&body);
}

int main(void)
{
	oe_log_set_level(OE_LOG_ERR);
	strcpy(dir, "/tmp/test_ctl.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/sub/ctl", dir);
	T_RUN(test_server);
	T_RUN(test_fd_exhaustion);
	T_RUN(test_stale_socket);
	T_RUN(test_unreachable);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
	return t_done();
}
