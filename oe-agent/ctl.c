/* The control socket: a unix stream socket where `ipsec` sends one request (4-byte big-endian
 * length + UTF-8 text, at most 64 KiB) and reads one reply ("OK\n" or "ERR msg\n", then the
 * body) before the agent closes. Everything is non-blocking: replies of tens of MB go out as
 * the client reads them, each client has a deadline, and their number is capped, so a slow,
 * silent or hostile client never stalls the agent. Peers must be root or the agent's uid. */
#include "agent.h"
#include "agent_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX_CLIENTS 16
#define CTL_READ_DEADLINE_MS 5000
#define CTL_WRITE_IDLE_MS 30000 /* a client that stops reading its reply for this long */
#define CTL_LINGER_MS 2000	/* after the reply: waiting for the client's EOF */

struct ctl_client {
	struct oe_ctl_server *s;
	int fd;
	enum { CL_READING, CL_WRITING, CL_LINGER } state;
	uint8_t hdr[4];
	size_t hdr_got;
	uint8_t *req;
	size_t req_len, req_got;
	struct oe_buf out;
	size_t out_off;
	oe_timer_id deadline;
	struct ctl_client *next;
};

struct oe_ctl_server {
	char *path;
	int fd;
	struct oe_loop *loop;
	oe_ctl_handler handler;
	void *ctx;
	struct ctl_client *clients;
	size_t nclients;
	oe_timer_id resume; /* pending accept_resume, 0 = none */
};

static void client_close(struct ctl_client *c)
{
	struct oe_ctl_server *s = c->s;

	for (struct ctl_client **pp = &s->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->nclients--;
	if (c->deadline)
		oe_loop_timer_cancel(s->loop, c->deadline);
	oe_loop_unwatch(s->loop, c->fd);
	close(c->fd);
	oe_buf_free(&c->out);
	free(c->req);
	free(c);
}

static void on_deadline(void *ctx)
{
	struct ctl_client *c = ctx;

	c->deadline = 0;
	oe_debug(CTL, "client fd %d: deadline passed, closing", c->fd);
	client_close(c);
}

static void arm(struct ctl_client *c, uint64_t ms)
{
	if (c->deadline)
		oe_loop_timer_cancel(c->s->loop, c->deadline);
	c->deadline = oe_loop_timer(c->s->loop, ms, on_deadline, c);
}

/* The reply is out: half-close and discard whatever the client still sends until its EOF.
 * Closing with unread input would make the kernel reset the connection, and the client could
 * lose the reply (an ERR for a refused request arrives before the request was read). */
static void client_linger(struct ctl_client *c)
{
	c->state = CL_LINGER;
	shutdown(c->fd, SHUT_WR);
	oe_loop_modify(c->s->loop, c->fd, EPOLLIN);
	arm(c, CTL_LINGER_MS);
}

static void client_discard(struct ctl_client *c)
{
	char junk[4096];

	for (int i = 0; i < 64; i++) { /* bounded per event; the deadline bounds the total */
		ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
	}
}

/* Sends as much of the reply as the socket takes; lingers when done, closes on error. */
static void client_flush(struct ctl_client *c)
{
	size_t before = c->out_off;

	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		client_linger(c);
		return;
	}
	if (c->out_off != before)
		arm(c, CTL_WRITE_IDLE_MS);
}

/* Switches to writing: the reply is complete in c->out. Input is no longer read. */
static void client_reply(struct ctl_client *c)
{
	c->state = CL_WRITING;
	if (oe_buf_failed(&c->out)) {
		oe_buf_reset(&c->out);
		c->out.failed = false;
		oe_buf_puts(&c->out, "ERR out of memory building the reply\n");
	}
	oe_loop_modify(c->s->loop, c->fd, EPOLLOUT);
	arm(c, CTL_WRITE_IDLE_MS);
	client_flush(c);
}

static void client_error(struct ctl_client *c, const char *msg)
{
	oe_debug(CTL, "client fd %d: %s", c->fd, msg);
	oe_buf_reset(&c->out);
	oe_buf_printf(&c->out, "ERR %s\n", msg);
	client_reply(c);
}

static void client_request(struct ctl_client *c)
{
	struct oe_ctl_req req;
	char why[OE_CTL_WHYLEN];

	if (oe_ctl_req_parse(c->req, c->req_len, &req, why) < 0) {
		client_error(c, why);
		return;
	}
	c->s->handler(c->s->ctx, &req, &c->out);
	client_reply(c);
}

/* Reads the length header, then the request text. Returns false if c was closed or
 * answered. */
static bool client_read_some(struct ctl_client *c)
{
	ssize_t n;

	if (c->hdr_got < 4) {
		n = recv(c->fd, c->hdr + c->hdr_got, 4 - c->hdr_got, MSG_DONTWAIT);
	} else {
		n = recv(c->fd, c->req + c->req_got, c->req_len - c->req_got, MSG_DONTWAIT);
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	if (n <= 0) {
		client_close(c); /* gone before finishing its request */
		return false;
	}
	if (c->hdr_got < 4) {
		c->hdr_got += (size_t)n;
		if (c->hdr_got < 4)
			return true;
		c->req_len = (size_t)c->hdr[0] << 24 | (size_t)c->hdr[1] << 16 |
			     (size_t)c->hdr[2] << 8 | c->hdr[3];
		if (c->req_len == 0 || c->req_len > OE_CTL_MAX_REQUEST) {
			char msg[80];

			snprintf(msg, sizeof(msg), "request length %zu: must be 1..%d", c->req_len,
				 OE_CTL_MAX_REQUEST);
			client_error(c, msg);
			return false;
		}
		c->req = malloc(c->req_len);
		if (!c->req) {
			client_error(c, "out of memory");
			return false;
		}
		return true;
	}
	c->req_got += (size_t)n;
	if (c->req_got == c->req_len) {
		client_request(c);
		return false;
	}
	return true;
}

static void on_client(void *ctx, int fd, uint32_t events)
{
	struct ctl_client *c = ctx;

	if (c->state == CL_LINGER) {
		client_discard(c);
		return;
	}
	if (c->state == CL_WRITING) {
		if (events & (EPOLLERR | EPOLLHUP))
			client_close(c);
		else
			client_flush(c);
		return;
	}
	/* Bounded: at most 64 KiB + 4 arrive per request. */
	while (client_read_some(c))
		;
}

static bool peer_allowed(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	*uid = cr.uid;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void accept_resume(void *ctx)
{
	struct oe_ctl_server *s = ctx;

	s->resume = 0;
	oe_loop_modify(s->loop, s->fd, EPOLLIN);
}

/* Out of fds or memory: the pending connection stays queued and epoll would report it again
 * at once, spinning the loop; stop listening for a moment instead. */
static void accept_pause(struct oe_ctl_server *s)
{
	oe_warn(CTL, "cannot accept control clients (%s); pausing 100 ms", strerror(errno));
	oe_loop_modify(s->loop, s->fd, 0);
	if (!s->resume)
		s->resume = oe_loop_timer(s->loop, 100, accept_resume, s);
}

static void on_accept(void *ctx, int lfd, uint32_t events)
{
	struct oe_ctl_server *s = ctx;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c;
		uid_t uid = (uid_t)-1;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_pause(s);
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c || oe_loop_watch(s->loop, fd, EPOLLIN, on_client, c) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		c->next = s->clients;
		s->clients = c;
		s->nclients++;
		arm(c, CTL_READ_DEADLINE_MS);
		if (s->nclients > CTL_MAX_CLIENTS) {
			oe_warn(CTL, "more than %d control clients; refusing one", CTL_MAX_CLIENTS);
			client_error(c, "too many control clients, try again");
		} else if (!peer_allowed(fd, &uid)) {
			char msg[96];

			oe_warn(CTL, "refused a control client with uid %d", (int)uid);
			snprintf(msg, sizeof(msg), "permission denied: uid %d is neither root nor "
				 "the agent's uid", (int)uid);
			client_error(c, msg);
		}
	}
}

/* Replaces a socket file nobody listens on; refuses if an agent answers there. */
static int clear_stale(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		oe_err(CTL, "%s exists and is not a socket; not replacing it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path));
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		oe_err(CTL, "%s: another process listens there", path);
		return -EADDRINUSE;
	}
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, err = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177); /* the socket is created 0600: no window with wider access */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err = -errno;
	umask(old);
	if (!err && listen(fd, 64) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int oe_ctl_server_new(const char *path, struct oe_ctl_server **out)
{
	struct oe_ctl_server *s;
	int err, fd;

	err = make_parent(path);
	if (err) {
		oe_err(CTL, "cannot create the directory of %s: %s", path, strerror(-err));
		return err;
	}
	err = clear_stale(path);
	if (err)
		return err;
	fd = listen_on(path);
	if (fd < 0) {
		oe_err(CTL, "cannot listen on %s: %s", path, strerror(-fd));
		return fd;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	s->fd = fd;
	*out = s;
	return 0;
}

int oe_ctl_server_start(struct oe_ctl_server *s, struct oe_loop *l, oe_ctl_handler h, void *ctx)
{
	s->loop = l;
	s->handler = h;
	s->ctx = ctx;
	return oe_loop_watch(l, s->fd, EPOLLIN, on_accept, s);
}

void oe_ctl_server_free(struct oe_ctl_server *s)
{
	if (!s)
		return;
	while (s->clients)
		client_close(s->clients);
	if (s->resume)
		oe_loop_timer_cancel(s->loop, s->resume);
	if (s->loop)
		oe_loop_unwatch(s->loop, s->fd);
	close(s->fd);
	unlink(s->path);
	free(s->path);
	free(s);
}

size_t oe_ctl_server_clients(const struct oe_ctl_server *s)
{
	return s->nclients;
}
