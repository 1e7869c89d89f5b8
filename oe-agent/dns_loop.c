/* Key lookups on the agent's event loop: a dk_resolver whose sockets are oe_loop fd watches
 * (c-ares tells which through dk's watch callback) and whose next timeout is one oe_loop
 * timer, re-armed after every step. The lookup code itself never sees epoll (STYLE.md 8). */
#include "agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "dnskeys.h"

struct oe_dns {
	struct oe_loop *loop;
	struct dk_resolver *r;
	oe_timer_id timer; /* 0 = none armed */
	char servers[OE_DNS_SERVERS_MAX];
};

static void on_timer(void *ctx);

/* Arms the one timer for the resolver's next deadline (retransmission, lookup deadline). */
static void rearm(struct oe_dns *dns)
{
	int t = dns->r ? dk_resolver_next_timeout_ms(dns->r) : -1;

	if (dns->timer)
		oe_loop_timer_cancel(dns->loop, dns->timer);
	dns->timer = 0;
	if (t >= 0) {
		dns->timer = oe_loop_timer(dns->loop, (uint64_t)t, on_timer, dns);
		if (!dns->timer)
			oe_err(DNS, "cannot arm the resolver's timer: lookups may stall");
	}
}

static void on_timer(void *ctx)
{
	struct oe_dns *dns = ctx;

	dns->timer = 0;
	dk_resolver_process(dns->r, -1, false, false);
	rearm(dns);
}

static void on_fd(void *ctx, int fd, uint32_t events)
{
	struct oe_dns *dns = ctx;
	bool rd = events & (EPOLLIN | EPOLLHUP | EPOLLERR), wr = events & EPOLLOUT;

	dk_resolver_process(dns->r, fd, rd, wr);
	rearm(dns);
}

/* dk_watch_fn: c-ares opened, changed or is about to close one of its sockets. */
static void on_watch(void *arg, int fd, bool want_read, bool want_write)
{
	struct oe_dns *dns = arg;
	uint32_t ev = (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0);
	int err;

	if (!ev) {
		oe_loop_unwatch(dns->loop, fd);
		return;
	}
	err = oe_loop_modify(dns->loop, fd, ev);
	if (err == -ENOENT)
		err = oe_loop_watch(dns->loop, fd, ev, on_fd, dns);
	if (err)
		oe_err(DNS, "cannot watch resolver socket %d: %s", fd, strerror(-err));
}

int oe_dns_new(struct oe_dns **out, struct oe_loop *l, const struct oe_conf *c,
	       struct oe_diag *d)
{
	struct oe_dns *dns = calloc(1, sizeof(*dns));
	struct dk_lookup_conf lc;
	int rc;

	*out = NULL;
	if (!dns)
		return -ENOMEM;
	dns->loop = l;
	oe_conf_dns(c, &lc, dns->servers);
	if (c->trap) /* our queries bypass the trap (trap.c) */
		lc.sock_mark = c->socketmark;
	rc = dk_resolver_new(&dns->r, &lc, on_watch, dns, d);
	if (rc < 0) {
		free(dns);
		return rc;
	}
	*out = dns;
	return 0;
}

void oe_dns_free(struct oe_dns *dns)
{
	if (!dns)
		return;
	dk_resolver_free(dns->r); /* closes its sockets: on_watch unwatches them */
	dns->r = NULL;
	if (dns->timer)
		oe_loop_timer_cancel(dns->loop, dns->timer);
	free(dns);
}

struct dk_resolver *oe_dns_resolver(struct oe_dns *dns)
{
	return dns->r;
}

int oe_dns_lookup_addr(struct oe_dns *dns, const struct oe_addr *a,
		       void (*cb)(void *arg, const struct dk_result *res), void *arg)
{
	int rc = dk_lookup_addr(dns->r, a, cb, arg);

	rearm(dns); /* a new lookup brings its own deadline */
	return rc;
}

int oe_dns_lookup_fqdn(struct oe_dns *dns, const char *fqdn,
		       void (*cb)(void *arg, const struct dk_result *res), void *arg)
{
	int rc = dk_lookup_fqdn(dns->r, fqdn, cb, arg);

	rearm(dns);
	return rc;
}
