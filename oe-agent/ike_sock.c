/* The IKEv2 engine on the wire: UDP sockets on 500 and 4500 (IPv4, IPv6) watched by the
 * agent's loop, the engine's ops (send, timers, key lookups, policy, clock, random) done with
 * the loop, oe_dns and the loaded policy. The sockets carry the agent's mark so the trap lets
 * IKE through (DESIGN.md §3). One socket per family and port bound to the wildcard address:
 * IP_PKTINFO / IPV6_PKTINFO tell which of our addresses a request came to and make the
 * answer leave from it, so multi-homed hosts and tests on 127.0.0.0/8 work alike. */
#include "ike_sock_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "oe_time.h"

#define IKE_SOCK_MAXMSG 65535
enum { FAM4, FAM6, NFAM };

/* One outstanding key lookup of the engine (its request number). */
struct ike_lk {
	struct oe_ike *k;
	uint64_t req;
	struct ike_lk *next;
};

struct oe_ike {
	struct oe_loop *loop;
	struct ike_engine *e;
	int fd[NFAM][2];	/* [family][0: port 500, 1: port 4500]; -1 = closed */
	uint16_t port[NFAM][2];
	const struct pg_policy *policy;
	struct oe_ike_lookup lookup;
	struct oe_dns *dns;
	void (*event)(void *arg, const struct ike_event *ev);
	void *event_arg;
	oe_timer_id timer;
	struct ike_lk *lks;
	uint64_t esp_in_udp;	/* ESP-in-UDP datagrams that reached the 4500 socket (the nft
				 * `in` chain sends them to the ESP queue; these had no queue) */
	uint8_t buf[IKE_SOCK_MAXMSG + 4];
};

static void on_timer(void *ctx);

void oe_ike_rearm(struct oe_ike *k)
{
	uint64_t d = ike_next_deadline(k->e), now = oe_now_ms();

	if (k->timer)
		oe_loop_timer_cancel(k->loop, k->timer);
	k->timer = 0;
	if (d == UINT64_MAX)
		return;
	k->timer = oe_loop_timer(k->loop, d > now ? d - now : 0, on_timer, k);
	if (!k->timer)
		oe_err(IKE, "cannot arm the IKE timer: retransmissions may stall");
}

static void on_timer(void *ctx)
{
	struct oe_ike *k = ctx;

	k->timer = 0;
	ike_run_timers(k->e);
	oe_ike_rearm(k);
}

/* ---- addresses ----------------------------------------------------------------------------- */

static void to_sockaddr(const struct oe_addr *a, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->af == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->b, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->b, 16);
		*len = sizeof(*s6);
	}
}

static bool from_sockaddr(const struct sockaddr_storage *ss, struct ike_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		ep->addr.af = AF_INET;
		memcpy(ep->addr.b, &s4->sin_addr, 4);
		ep->port = ntohs(s4->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		ep->addr.af = AF_INET6;
		memcpy(ep->addr.b, &s6->sin6_addr, 16);
		ep->port = ntohs(s6->sin6_port);
		return true;
	}
	return false;
}

/* ---- sockets ------------------------------------------------------------------------------- */

static int open_sock(int af, uint16_t port, uint32_t mark, int *fdp, uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct oe_addr any = { .af = (uint8_t)af };
	int one = 1, fd, err = 0;

	fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		goto fail;
	if (af == AF_INET6 && (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
			       setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
					  sizeof(one)) < 0))
		goto fail;
	if (af == AF_INET && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		goto fail;
	to_sockaddr(&any, port, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	*bound = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
				       ((struct sockaddr_in6 *)&ss)->sin6_port);
	*fdp = fd;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* The local address a datagram came to, from its IP_PKTINFO / IPV6_PKTINFO. */
static bool local_of(struct msghdr *mh, int af, struct oe_addr *out)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (af == AF_INET && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			out->af = AF_INET;
			memcpy(out->b, &pi.ipi_addr, 4);
			return true;
		}
		if (af == AF_INET6 && c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			out->af = AF_INET6;
			memcpy(out->b, &pi.ipi6_addr, 16);
			return true;
		}
	}
	return false;
}

/* One datagram from fd (family fam, natt: the 4500 socket). RFC 3948 §2.2: on 4500, IKE
 * follows a four-zero-octet non-ESP marker; anything else there is ESP-in-UDP (§2.1), and a
 * single 0xff octet is a NAT keepalive (§2.3). ESP-in-UDP is taken to the ESP queue before
 * it reaches the socket (kern_rules_fmt.c, chain in); what still arrives here is dropped. */
static void handle_one(struct oe_ike *k, bool natt, const uint8_t *p, size_t n,
		       const struct ike_endpoint *from, const struct ike_endpoint *to)
{
	static const uint8_t marker[4];

	if (natt) {
		if (n == 1 && p[0] == 0xff)
			return;
		if (n < 4 || memcmp(p, marker, 4) != 0) {
			k->esp_in_udp++;
			return;
		}
		p += 4;
		n -= 4;
	}
	ike_receive(k->e, p, n, from, to);
}

static void on_read(void *ctx, int fd, uint32_t events)
{
	struct oe_ike *k = ctx;
	int fam = -1;
	bool natt = false;

	(void)events;
	for (int f = 0; f < NFAM; f++)
		for (int j = 0; j < 2; j++)
			if (k->fd[f][j] == fd) {
				fam = f;
				natt = j == 1;
			}
	if (fam < 0)
		return;
	for (int i = 0; i < 64; i++) { /* bounded: other watches get their turn */
		struct sockaddr_storage ss;
		union {
			struct cmsghdr align;
			uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
		} cb;
		struct iovec iov = { k->buf, sizeof(k->buf) };
		struct msghdr mh = { .msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = cb.b,
				     .msg_controllen = sizeof(cb.b) };
		struct ike_endpoint from, to;
		ssize_t r = recvmsg(fd, &mh, 0);

		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				oe_warn(IKE, "recvmsg on the IKE socket: %s", strerror(errno));
			break;
		}
		if (!from_sockaddr(&ss, &from))
			continue;
		memset(&to, 0, sizeof(to));
		if (!local_of(&mh, fam == FAM4 ? AF_INET : AF_INET6, &to.addr))
			continue;
		to.port = k->port[fam][natt];
		handle_one(k, natt, k->buf, (size_t)r, &from, &to);
	}
	oe_ike_rearm(k);
}

void oe_ike_drain(struct oe_ike *k)
{
	for (int f = 0; f < NFAM; f++)
		for (int j = 0; j < 2; j++)
			if (k->fd[f][j] >= 0)
				on_read(k, k->fd[f][j], 0);
}

/* ---- engine ops ---------------------------------------------------------------------------- */

static int op_send(void *arg, const struct ike_endpoint *local, const struct ike_endpoint *remote,
		   const uint8_t *msg, size_t len)
{
	struct oe_ike *k = arg;
	int fam = remote->addr.af == AF_INET ? FAM4 : FAM6;
	/* the engine floats to the IPv4 NAT-T port (ike_conf.natt_port); with ephemeral ports
	 * (tests) the IPv6 one may differ */
	bool natt = local->port != k->port[fam][0] &&
		    (local->port == k->port[fam][1] || local->port == k->port[FAM4][1]);
	/* RFC 3948 §2.3: a NAT keepalive is the one octet 0xff, without the non-ESP marker */
	bool marked = natt && !(len == 1 && msg[0] == 0xff);
	static const uint8_t marker[4];
	struct sockaddr_storage ss;
	socklen_t sl;
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} cb;
	struct iovec iov[2] = { { (void *)marker, 4 }, { (void *)msg, len } };
	struct msghdr mh = { .msg_iov = marked ? iov : iov + 1, .msg_iovlen = marked ? 2 : 1 };
	struct cmsghdr *c;
	int fd = k->fd[fam][natt];

	if (fd < 0 || local->addr.af != remote->addr.af)
		return -EAFNOSUPPORT;
	to_sockaddr(&remote->addr, remote->port, &ss, &sl);
	mh.msg_name = &ss;
	mh.msg_namelen = sl;
	memset(&cb, 0, sizeof(cb));
	mh.msg_control = cb.b;
	c = (struct cmsghdr *)cb.b;
	if (fam == FAM4) { /* leave from the address the engine chose (our side of the SA) */
		struct in_pktinfo pi = { 0 };

		memcpy(&pi.ipi_spec_dst, local->addr.b, 4);
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		memcpy(&pi.ipi6_addr, local->addr.b, 16);
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	if (sendmsg(fd, &mh, 0) < 0) {
		int err = -errno;
		char a[OE_ADDRSTRLEN];

		oe_debug(IKE, "send to %s:%u: %s", oe_addr_str(&remote->addr, a),
			 (unsigned)remote->port, strerror(-err));
		return err;
	}
	return 0;
}

static void lk_unlink(struct oe_ike *k, struct ike_lk *lk)
{
	for (struct ike_lk **pp = &k->lks; *pp; pp = &(*pp)->next)
		if (*pp == lk) {
			*pp = lk->next;
			return;
		}
}

static void lk_done(void *arg, const struct dk_result *res)
{
	struct ike_lk *lk = arg;
	struct oe_ike *k = lk->k;
	uint64_t req = lk->req;

	lk_unlink(k, lk);
	free(lk);
	ike_lookup_done(k->e, req, res);
	oe_ike_rearm(k);
}

/* The default lookup: oe_dns by address (reverse name) or FQDN (forward name). */
static int dns_start(void *arg, const struct ike_id *id,
		     void (*cb)(void *cbarg, const struct dk_result *res), void *cbarg)
{
	struct oe_dns *dns = arg;
	char name[IKE_IDSTRLEN];
	struct oe_addr a = { 0 };

	if (!dns)
		return -ENOSYS;
	if (id->type == 1 || id->type == 5) { /* ID_IPV4_ADDR, ID_IPV6_ADDR */
		a.af = id->type == 1 ? AF_INET : AF_INET6;
		if (id->len != (id->type == 1 ? 4 : 16))
			return -EINVAL;
		memcpy(a.b, id->data, id->len);
		return oe_dns_lookup_addr(dns, &a, cb, cbarg);
	}
	if (id->type == 2) /* ID_FQDN */
		return oe_dns_lookup_fqdn(dns, ike_id_str(id, name), cb, cbarg);
	return -EINVAL;
}

static void dns_cancel(void *arg, void (*cb)(void *cbarg, const struct dk_result *res),
		       void *cbarg)
{
	if (arg)
		dk_lookup_cancel(oe_dns_resolver(arg), cb, cbarg);
}

static int op_lookup(void *arg, uint64_t req, const struct ike_id *id)
{
	struct oe_ike *k = arg;
	struct ike_lk *lk = calloc(1, sizeof(*lk));
	int err;

	if (!lk)
		return -ENOMEM;
	lk->k = k;
	lk->req = req;
	lk->next = k->lks;
	k->lks = lk;
	err = k->lookup.start(k->lookup.arg, id, lk_done, lk);
	if (err < 0) {
		lk_unlink(k, lk);
		free(lk);
	}
	return err;
}

static void op_lookup_cancel(void *arg, uint64_t req)
{
	struct oe_ike *k = arg;

	for (struct ike_lk *lk = k->lks; lk; lk = lk->next)
		if (lk->req == req) {
			if (k->lookup.cancel)
				k->lookup.cancel(k->lookup.arg, lk_done, lk);
			lk_unlink(k, lk);
			free(lk);
			return;
		}
}

static enum pg_group op_policy(void *arg, const struct oe_addr *peer)
{
	struct oe_ike *k = arg;
	struct pg_key key = { .dst = *peer };

	return k->policy ? pg_lookup_group(k->policy, &key) : PG_PRIVATE_OR_CLEAR;
}

static uint64_t op_now(void *arg)
{
	(void)arg;
	return oe_now_ms();
}

static int op_random(void *arg, void *buf, size_t n)
{
	(void)arg;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -EIO;
}

static void op_event(void *arg, const struct ike_event *ev)
{
	struct oe_ike *k = arg;
	char a[OE_ADDRSTRLEN];

	oe_debug(IKE, "event %d for SA %llu with %s (%s)", (int)ev->kind,
		 (unsigned long long)ev->sa, oe_addr_str(&ev->remote.addr, a),
		 ike_status_name(ev->why));
	if (k->event)
		k->event(k->event_arg, ev);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static int open_all(struct oe_ike *k, const struct oe_ike_opts *o)
{
	for (int f = 0; f < NFAM; f++) {
		int af = f == FAM4 ? AF_INET : AF_INET6;

		if (f == FAM6 && !o->v6)
			continue;
		for (int j = 0; j < 2; j++) {
			uint16_t want = j ? o->natt_port : o->port;
			int err = open_sock(af, want, o->mark, &k->fd[f][j], &k->port[f][j]);

			if (err < 0) {
				oe_err(IKE, "cannot open the IKE socket on %s port %u: %s",
				       af == AF_INET ? "IPv4" : "IPv6", (unsigned)want,
				       strerror(-err));
				return err;
			}
			err = oe_loop_watch(k->loop, k->fd[f][j], EPOLLIN, on_read, k);
			if (err < 0) {
				close(k->fd[f][j]);
				k->fd[f][j] = -1;
				return err;
			}
		}
	}
	return 0;
}

int oe_ike_new(struct oe_loop *l, const struct oe_ike_opts *o, const struct pg_policy *p,
	       struct oe_ike **out)
{
	struct oe_ike *k = calloc(1, sizeof(*k));
	struct ike_ops ops = { 0 };
	struct ike_conf conf;
	int err;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	k->loop = l;
	k->policy = p;
	k->lookup = o->lookup;
	if (!k->lookup.start) {
		k->lookup = (struct oe_ike_lookup){ o->dns, dns_start, dns_cancel };
		k->dns = o->dns;
	}
	k->event = o->event;
	k->event_arg = o->event_arg;
	for (int f = 0; f < NFAM; f++)
		k->fd[f][0] = k->fd[f][1] = -1;
	ops = (struct ike_ops){ k,	  op_send,   op_lookup, op_lookup_cancel, op_policy,
				op_now, op_random, op_event,  o->kern,	  o->kern_arg };
	/* the sockets first: the engine floats to the NAT-T port they are bound to (RFC 7296
	 * §2.23); nothing is read from them before the loop runs */
	err = open_all(k, o);
	if (err < 0)
		goto fail;
	conf = o->conf;
	conf.natt_port = k->port[FAM4][1];
	err = ike_engine_new(&k->e, &conf, &ops);
	if (err < 0) {
		oe_err(IKE, "cannot make the IKE engine: %s", strerror(-err));
		goto fail;
	}
	*out = k;
	return 0;
fail:
	oe_ike_free(k);
	return err;
}

void oe_ike_free(struct oe_ike *k)
{
	if (!k)
		return;
	ike_engine_free(k->e); /* cancels its lookups through op_lookup_cancel */
	while (k->lks) {
		struct ike_lk *lk = k->lks;

		if (k->lookup.cancel)
			k->lookup.cancel(k->lookup.arg, lk_done, lk);
		k->lks = lk->next;
		free(lk);
	}
	if (k->timer)
		oe_loop_timer_cancel(k->loop, k->timer);
	for (int f = 0; f < NFAM; f++)
		for (int j = 0; j < 2; j++)
			if (k->fd[f][j] >= 0) {
				oe_loop_unwatch(k->loop, k->fd[f][j]);
				close(k->fd[f][j]);
			}
	free(k);
}

void oe_ike_set_policy(struct oe_ike *k, const struct pg_policy *p)
{
	k->policy = p;
}

struct ike_engine *oe_ike_engine(struct oe_ike *k)
{
	return k->e;
}

uint16_t oe_ike_port(const struct oe_ike *k, int af, bool natt)
{
	return k->port[af == AF_INET ? FAM4 : FAM6][natt];
}

enum ike_status oe_ike_initiate(struct oe_ike *k, const struct oe_addr *local,
				const struct oe_addr *remote, uint16_t remote_port,
				const struct dk_result *keys, uint64_t *sa_out)
{
	int fam = local->af == AF_INET ? FAM4 : FAM6;
	struct ike_endpoint l = { *local, k->port[fam][0] }, r = { *remote, remote_port };
	struct oe_sel ts;
	enum ike_status st;

	memset(&ts, 0, sizeof(ts));
	ts.src = oe_prefix_host(local);
	ts.dst = oe_prefix_host(remote);
	st = ike_initiate(k->e, &l, &r, keys, &ts, sa_out);
	oe_ike_rearm(k);
	return st;
}
