/* The client side of the control protocol, used by `ipsec`: connect, send one framed
 * request, read the reply to EOF within a deadline, split off the status line. */
#include "agent.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "oe_time.h"

static int send_all(int fd, const void *p, size_t n, uint64_t deadline)
{
	const char *s = p;

	while (n > 0) {
		struct pollfd pfd = { fd, POLLOUT, 0 };
		uint64_t now = oe_now_ms();
		ssize_t w;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
		w = send(fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int recv_all(int fd, struct oe_buf *all, uint64_t deadline)
{
	char chunk[65536];

	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		uint64_t now = oe_now_ms();
		ssize_t r;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
		r = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return oe_buf_failed(all) ? -ENOMEM : 0;
		oe_buf_add(all, chunk, (size_t)r);
	}
}

static int split_reply(const struct oe_buf *all, bool *ok, struct oe_buf *status_msg,
		       struct oe_buf *body)
{
	const char *nl = all->len ? memchr(all->p, '\n', all->len) : NULL;
	size_t sl;

	if (!nl)
		return -EPROTO;
	sl = (size_t)(nl - all->p);
	if (sl == 2 && memcmp(all->p, "OK", 2) == 0) {
		*ok = true;
	} else if (sl >= 4 && memcmp(all->p, "ERR ", 4) == 0) {
		*ok = false;
		oe_buf_add(status_msg, all->p + 4, sl - 4);
	} else {
		return -EPROTO;
	}
	oe_buf_add(body, nl + 1, all->len - sl - 1);
	return 0;
}

int oe_ctl_call(const char *sockpath, const char *request, int timeout_ms, bool *ok,
		struct oe_buf *status_msg, struct oe_buf *body)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = oe_now_ms() + (uint64_t)timeout_ms;
	size_t n = strlen(request);
	uint8_t hdr[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
	struct oe_buf all;
	int fd, err;

	if (strlen(sockpath) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (n == 0 || n > OE_CTL_MAX_REQUEST)
		return -EMSGSIZE;
	memcpy(sa.sun_path, sockpath, strlen(sockpath));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	oe_buf_init(&all);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	err = send_all(fd, hdr, 4, deadline);
	if (!err)
		err = send_all(fd, request, n, deadline);
	/* A refused request (bad peer, too many clients) is answered before it is read: the
	 * reply is still worth reading even if sending failed. */
	if (!err || err == -EPIPE || err == -ECONNRESET) {
		int rerr = recv_all(fd, &all, deadline);

		err = rerr ? rerr : split_reply(&all, ok, status_msg, body);
	}
out:
	oe_buf_free(&all);
	close(fd);
	return err;
}
