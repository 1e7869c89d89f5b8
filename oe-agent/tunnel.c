/* Opportunistic tunnels in the daemon: the trap's negotiation step runs IKEv2 (ike_sock.c),
 * Child SAs go to the uesp backend (kernel/kern_uesp.c) whose NFQUEUE encrypts and decrypts,
 * and each installed pair gets a tunnel element in the trap's rules (KERN_SHUNT_TUNNEL) so
 * its packets skip the trap, reach the ESP queue, and inbound cleartext from the peer is
 * dropped. Held packets are released only after that element is committed. */
#include "flow_int.h"
#include "ike_sock_int.h"
#include "oe_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#define TUN_MAX_PENDING 4096
/* The failure shunt after an unresponsive peer (RFC 4322: shunts of a failed negotiation are
 * kept short so the pair is tried again soon): a minute, or shuntlifetime if shorter. */
#define TUN_UNRESPONSIVE_SHUNT_S 60

/* A negotiation the trap waits for: the IKE SA we started for flow f. */
struct pending {
	uint64_t sa;
	struct oe_flow *f;
};

/* An installed Child SA, for the eroute listing and the tunnel element's life. */
struct child {
	uint64_t sa;			/* its IKE SA's handle */
	uint32_t spi_in, spi_out;
	struct oe_addr ours, peer;	/* the pair */
	struct oe_addr gw;		/* the peer's outer address */
	uint64_t up_ms;			/* installed (oe_now_ms): idle since then if never used */
	bool deleting;			/* our idle DELETE is out */
	uint64_t seq;			/* install order: a pair's newest carries its traffic */
};

/* The idle check runs every inactivity/4, within these bounds: a few seconds late on a
 * timeout of minutes, and no busy timer for a short one. */
#define TUN_IDLE_CHECK_MIN_MS 1000
#define TUN_IDLE_CHECK_MAX_MS 60000

struct oe_tunnels {
	struct oe_loop *loop;
	struct oe_trap *trap;
	struct kern_uesp *uesp;
	struct oe_dns *dns;
	struct oe_ike *ike;
	EVP_PKEY *hostkey;
	struct pending *pend;
	size_t npend, cappend;
	struct child *ch;
	size_t nch, capch;
	uint64_t tunnel_life_s;		/* the tunnel elements' timeout: past the SA's life */
	uint64_t inactivity_ms;		/* idle Child SAs are deleted after this (0 = never) */
	oe_timer_id idle_timer;		/* armed while there are Child SAs to watch */
	uint64_t unresponsive_s;	/* failure shunt life after an IKE timeout */
	uint64_t nseq;			/* Child SAs recorded so far (struct child seq) */
};

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;
	size_t nc;

	if (n < *cap)
		return true;
	nc = *cap ? *cap * 2 : 16;
	nv = realloc(*v, nc * size);
	if (!nv)
		return false;
	*v = nv;
	*cap = nc;
	return true;
}

/* ---- the tunnel elements ------------------------------------------------------------------ */

static void tunnel_elem(struct oe_tunnels *x, const struct child *c, bool add)
{
	struct kern_rules *r = oe_trap_rules(x->trap);
	struct kern_shunt_elem e = { .src = c->ours, .dst = c->peer };
	int err = add ? kern_shunt_add(r, KERN_SHUNT_TUNNEL, &e, x->tunnel_life_s) :
			kern_shunt_del(r, KERN_SHUNT_TUNNEL, &e);

	if (!err)
		err = kern_rules_commit(r);
	if (err) {
		char a[OE_ADDRSTRLEN], b[OE_ADDRSTRLEN];

		oe_err(KERN, "tunnel element %s -> %s %s: %s", oe_addr_str(&c->ours, a),
		       oe_addr_str(&c->peer, b), add ? "refused" : "not removed", strerror(-err));
	}
}

static void idle_arm(struct oe_tunnels *x);

static void child_up(struct oe_tunnels *x, const struct ike_event *ev)
{
	const struct kern_child_sa *k = ev->child;
	struct child c = { ev->sa, k->spi_in, k->spi_out, k->sel.src.addr, k->sel.dst.addr,
			   k->remote, oe_now_ms(), false, ++x->nseq };

	if (!grow((void **)&x->ch, &x->capch, x->nch, sizeof(*x->ch))) {
		oe_err(IKE, "out of memory recording Child SA %08x", k->spi_in);
		return;
	}
	x->ch[x->nch++] = c;
	tunnel_elem(x, &c, true);
	idle_arm(x);
}

static void child_down(struct oe_tunnels *x, const struct ike_event *ev)
{
	struct child c;
	bool others = false;
	size_t i;

	for (i = 0; i < x->nch && x->ch[i].spi_in != ev->child->spi_in; i++)
		;
	if (i == x->nch)
		return;
	c = x->ch[i];
	x->ch[i] = x->ch[--x->nch];
	for (i = 0; i < x->nch; i++) /* a rekeyed SA of the same pair keeps the element */
		others = others || (oe_addr_eq(&x->ch[i].ours, &c.ours) &&
				    oe_addr_eq(&x->ch[i].peer, &c.peer));
	if (others)
		return;
	tunnel_elem(x, &c, false);
	/* the pair traps again: its next packet negotiates a new tunnel */
	oe_trap_tunnel_down(x->trap, &c.ours, &c.peer,
			    c.deleting ? "tunnel deleted: idle" : "tunnel deleted");
}

/* ---- idle teardown (inactivity=) --------------------------------------------------------- */
/* The check runs while there are Child SAs or IKE SAs; child_up arms it. */

/* Milliseconds c has carried no packet either way (uesp's last use, else its install). */
static uint64_t idle_ms(struct oe_tunnels *x, const struct child *c, uint64_t now)
{
	struct kern_child_sa q = { .spi_in = c->spi_in };
	struct kern_sa_counters ct = { 0 };
	uint64_t last;

	kern_uesp_ops.query(x->uesp, &q, &ct);
	last = ct.last_use_ms > c->up_ms ? ct.last_use_ms : c->up_ms;
	return now > last ? now - last : 0;
}

/* Deletes c through the IKE engine: a DELETE of the Child SA, or of its IKE SA when it was
 * the last one; both ends drop the SA when the exchange completes (child_down). */
static void idle_delete(struct oe_tunnels *x, struct child *c, uint64_t idle)
{
	char a[OE_ADDRSTRLEN], b[OE_ADDRSTRLEN];
	bool ike_too = false;
	enum ike_status st = ike_delete_child(oe_ike_engine(x->ike), c->sa, c->spi_in, &ike_too);

	if (st == IKE_ERR_BUSY || st == IKE_ERR_STATE) /* mid-exchange: next check */
		return;
	c->deleting = true; /* also when the engine lost it: do not ask again */
	if (st != IKE_OK) {
		oe_warn(IKE, "Child SA %08x idle: cannot delete it: %s", c->spi_in,
			ike_strerror(st));
		return;
	}
	oe_notice(IKE, "Child SA %08x/%08x %s -> %s: idle for %llu s, deleting it%s", c->spi_in,
		  c->spi_out, oe_addr_str(&c->ours, a), oe_addr_str(&c->peer, b),
		  (unsigned long long)(idle / 1000), ike_too ? " and its IKE SA" : "");
}

static void on_idle_check(void *ctx)
{
	struct oe_tunnels *x = ctx;
	uint64_t now = oe_now_ms();

	x->idle_timer = 0;
	/* idle_delete only queues the DELETE: x->ch changes when the peer answers */
	for (size_t i = 0; i < x->nch; i++) {
		uint64_t idle;

		if (x->ch[i].deleting)
			continue;
		idle = idle_ms(x, &x->ch[i], now);
		if (idle >= x->inactivity_ms)
			idle_delete(x, &x->ch[i], idle);
	}
	/* IKE SAs whose Child SA went without them (hard expiry, a peer's DELETE of the Child
	 * SA alone) carry nothing either */
	ike_delete_childless(oe_ike_engine(x->ike), x->inactivity_ms);
	oe_ike_rearm(x->ike);
	idle_arm(x);
}

static void idle_arm(struct oe_tunnels *x)
{
	uint64_t every = x->inactivity_ms / 4;

	if (!x->inactivity_ms || x->idle_timer ||
	    (!x->nch && !ike_sa_count(oe_ike_engine(x->ike))))
		return;
	every = every < TUN_IDLE_CHECK_MIN_MS ? TUN_IDLE_CHECK_MIN_MS :
		every > TUN_IDLE_CHECK_MAX_MS ? TUN_IDLE_CHECK_MAX_MS : every;
	x->idle_timer = oe_loop_timer(x->loop, every, on_idle_check, x);
}

/* ---- the negotiation step ------------------------------------------------------------------ */

/* life_s: the failure shunt's lifetime (0 = shuntlifetime). */
static void conclude(struct oe_tunnels *x, uint64_t sa, bool ok, const char *why,
		     uint64_t life_s)
{
	for (size_t i = 0; i < x->npend;) {
		struct oe_flow *f = x->pend[i].f;

		if (x->pend[i].sa != sa) {
			i++;
			continue;
		}
		x->pend[i] = x->pend[--x->npend];
		f->shunt_life_s = life_s;
		oe_trap_negotiated(x->trap, f, ok, why);
	}
}

static void on_event(void *arg, const struct ike_event *ev)
{
	struct oe_tunnels *x = arg;
	char why[64];

	switch (ev->kind) {
	case IKE_EV_CHILD_UP:
		child_up(x, ev); /* the element first: released packets must meet it */
		conclude(x, ev->sa, true, "IKE", 0);
		break;
	case IKE_EV_CHILD_DOWN:
		child_down(x, ev);
		break;
	case IKE_EV_FAILED:
	case IKE_EV_DELETED:
		snprintf(why, sizeof(why), "IKE: %s", ike_status_name(ev->why));
		conclude(x, ev->sa, false, why,
			 ev->why == IKE_ERR_TIMEOUT ? x->unresponsive_s : 0);
		break;
	default:
		break;
	}
}

static int negotiate(void *arg, struct oe_flow *f, const struct dk_result *keys)
{
	struct oe_tunnels *x = arg;
	uint64_t sa = 0;
	enum ike_status st;

	if (x->npend >= TUN_MAX_PENDING ||
	    !grow((void **)&x->pend, &x->cappend, x->npend, sizeof(*x->pend)))
		return -ENOMEM;
	/* the host itself; a delegated gateway (IPSECKEY gateway field) is not used yet */
	st = oe_ike_initiate(x->ike, &f->src, &f->dst, IKE_PORT, keys, &sa);
	if (st != IKE_OK) {
		oe_info(IKE, "cannot start IKE: %s", ike_strerror(st));
		return -EIO;
	}
	x->pend[x->npend++] = (struct pending){ sa, f };
	return 0;
}

/* f leaves HOLD(negotiating) without our answer: its hold time ran out while IKE was still
 * going (an unresponsive peer: short failure shunt), or the agent stops. */
static void negotiate_cancel(void *arg, struct oe_flow *f)
{
	struct oe_tunnels *x = arg;

	f->shunt_life_s = x->unresponsive_s;

	for (size_t i = 0; i < x->npend;)
		if (x->pend[i].f == f)
			x->pend[i] = x->pend[--x->npend];
		else
			i++;
}

/* ---- the ESP queue --------------------------------------------------------------------------- */

static void on_esp(void *ctx, int fd, uint32_t events)
{
	struct oe_tunnels *x = ctx;
	int n;

	(void)fd;
	(void)events;
	for (int i = 0; i < 16; i++) { /* bounded: IKE and the trap are served in between */
		/* the peer answered our Child SA rekey before sending on the new SA, so the answer
		 * is in an IKE socket before that ESP is in the queue: handled first, the new SA
		 * is installed when the ESP is decrypted */
		if (ike_child_rekey_waiting(oe_ike_engine(x->ike)))
			oe_ike_drain(x->ike);
		n = kern_uesp_receive(x->uesp);
		if (n < 0)
			oe_err(ESP, "receiving from the ESP queue: %s", strerror(-n));
		if (n <= 0)
			break;
	}
}

/* RFC 7296 §2.8: an SA whose sequence numbers or soft byte limit run out is rekeyed. */
static void on_rekey(void *arg, uint32_t spi_in)
{
	struct oe_tunnels *x = arg;

	for (size_t i = 0; i < x->nch; i++)
		if (x->ch[i].spi_in == spi_in) {
			ike_rekey_child(oe_ike_engine(x->ike), x->ch[i].sa);
			oe_ike_rearm(x->ike);
			return;
		}
}

/* ESP for an SPI we lack: if we restarted, its sender still holds SAs with us; the engine
 * tells it (INVALID_SPI) when no IKE SA with it exists, so it need not wait for dpddelay. */
static void on_unknown_spi(void *arg, const struct oe_addr *src, const struct oe_addr *dst,
			   uint32_t spi)
{
	struct oe_tunnels *x = arg;
	struct ike_endpoint local = { *dst, IKE_PORT }, remote = { *src, IKE_PORT };

	if (x->ike)
		ike_esp_unknown_spi(oe_ike_engine(x->ike), &local, &remote, spi);
}

/* ---- life ------------------------------------------------------------------------------------ */

static void log_diag(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	(void)ctx;
	if (sev == OE_DIAG_ERROR)
		oe_err(IKE, "%s", msg);
	else
		oe_warn(IKE, "%s", msg);
}

static int load_hostkey(struct oe_tunnels *x, const struct oe_conf *c)
{
	struct oe_diag d = { log_diag, NULL, 0, 0 };
	struct stat sb;
	int err;

	if (!c->hostkey || stat(c->hostkey, &sb) < 0) {
		oe_notice(IKE, "no host key at %s: AUTH_NULL as initiator, no responder role",
			  c->hostkey ? c->hostkey : "(none)");
		return 0;
	}
	err = dk_hostkey_load(c->hostkey, &x->hostkey, &d);
	if (err)
		oe_err(IKE, "host key %s: %s", c->hostkey, strerror(-err));
	return err;
}

static int start_ike(struct oe_tunnels *x, const struct oe_conf *c, const struct pg_policy *p)
{
	struct oe_ike_opts o;

	memset(&o, 0, sizeof(o));
	o.port = IKE_PORT;
	o.natt_port = IKE_NATT_PORT;
	o.v6 = true;
	o.mark = c->socketmark;
	ike_conf_default(&o.conf);
	o.conf.hostkey = x->hostkey;
	o.conf.ike_lifetime_s = c->ikelifetime_s;
	o.conf.child_lifetime_s = c->salifetime_s;
	o.conf.liveness_ms = c->dpddelay_s * 1000;
	o.conf.child_pfs = c->pfs;
	o.conf.encap = c->encapsulation == OE_ENCAP_YES ? IKE_ENCAP_YES :
		       c->encapsulation == OE_ENCAP_NO ? IKE_ENCAP_NO : IKE_ENCAP_AUTO;
	o.conf.keepalive_s = c->keepalive_s;
	if (c->myid && c->myid[0] == '@' && !ike_id_from_fqdn(&o.conf.id, c->myid)) {
		oe_err(IKE, "myid '%s': not a usable identity", c->myid);
		return -EINVAL;
	}
	x->tunnel_life_s = (uint64_t)o.conf.child_lifetime_s + 60;
	x->inactivity_ms = (uint64_t)c->inactivity_s * 1000;
	o.kern = &kern_uesp_ops;
	o.kern_arg = x->uesp;
	o.dns = x->dns;
	o.event = on_event;
	o.event_arg = x;
	return oe_ike_new(x->loop, &o, p, &x->ike);
}

int oe_tunnels_start(struct oe_loop *l, const struct oe_conf *c, const struct pg_policy *p,
		     struct oe_trap *t, struct oe_tunnels **out)
{
	struct oe_diag d = { log_diag, NULL, 0, 0 };
	struct oe_tunnels *x = calloc(1, sizeof(*x));
	uint16_t q = (uint16_t)(c->trapqueue + 1);
	int err;

	*out = NULL;
	if (!x)
		return -ENOMEM;
	x->loop = l;
	x->trap = t;
	x->unresponsive_s = c->shuntlifetime_s && c->shuntlifetime_s < TUN_UNRESPONSIVE_SHUNT_S ?
				    c->shuntlifetime_s : TUN_UNRESPONSIVE_SHUNT_S;
	err = kern_uesp_open(q, c->queuemaxlen, &x->uesp);
	if (err) {
		oe_err(ESP, "binding the ESP queue %u: %s", q, strerror(-err));
		goto fail;
	}
	kern_uesp_set_rekey_cb(x->uesp, on_rekey, x);
	kern_uesp_set_unknown_cb(x->uesp, on_unknown_spi, x);
	kern_uesp_set_sockmark(x->uesp, c->socketmark);
	err = oe_loop_watch(l, kern_uesp_fd(x->uesp), EPOLLIN, on_esp, x);
	if (!err)
		err = oe_dns_new(&x->dns, l, c, &d);
	if (!err)
		err = load_hostkey(x, c);
	if (!err)
		err = start_ike(x, c, p);
	if (err)
		goto fail;
	oe_trap_set_negotiator(t, negotiate, negotiate_cancel, x);
	oe_notice(IKE, "IKEv2 on UDP %u/%u, userspace ESP on queue %u, %s", IKE_PORT,
		  IKE_NATT_PORT, q, x->hostkey ? "host key loaded" : "no host key (AUTH_NULL)");
	*out = x;
	return 0;
fail:
	oe_tunnels_stop(x);
	return err;
}

void oe_tunnels_stop(struct oe_tunnels *x)
{
	if (!x)
		return;
	if (x->trap)
		oe_trap_set_negotiator(x->trap, NULL, NULL, NULL);
	if (x->idle_timer)
		oe_loop_timer_cancel(x->loop, x->idle_timer);
	x->idle_timer = 0;
	x->inactivity_ms = 0; /* child_down during the free below must not re-arm it */
	oe_ike_free(x->ike); /* Child SAs leave the uesp backend */
	oe_dns_free(x->dns);
	if (x->uesp && kern_uesp_fd(x->uesp) >= 0)
		oe_loop_unwatch(x->loop, kern_uesp_fd(x->uesp));
	kern_uesp_close(x->uesp);
	EVP_PKEY_free(x->hostkey);
	free(x->pend);
	free(x->ch);
	free(x);
}

void oe_tunnels_set_policy(struct oe_tunnels *x, const struct pg_policy *p)
{
	oe_ike_set_policy(x->ike, p);
}

/* ---- listings -------------------------------------------------------------------------------- */

/* A newer Child SA of the same pair carries its traffic (c is a rekey's old SA until its
 * DELETE): the pair keeps one eroute, the newest. */
static bool superseded(const struct oe_tunnels *x, const struct child *c)
{
	for (size_t i = 0; i < x->nch; i++)
		if (x->ch[i].seq > c->seq && oe_addr_eq(&x->ch[i].ours, &c->ours) &&
		    oe_addr_eq(&x->ch[i].peer, &c->peer))
			return true;
	return false;
}

void oe_tunnels_eroutes(struct oe_tunnels *x, struct kern_eroute_table *out)
{
	for (size_t i = 0; i < x->nch; i++) {
		const struct child *c = &x->ch[i];
		struct kern_child_sa q = { .spi_in = c->spi_in };
		struct kern_sa_counters ct = { 0 };
		struct kern_eroute e;

		if (superseded(x, c))
			continue;
		memset(&e, 0, sizeof(e));
		e.sel.src = oe_prefix_host(&c->ours);
		e.sel.dst = oe_prefix_host(&c->peer);
		e.said = (struct kern_said){ KERN_SAID_TUN, c->spi_out, c->gw };
		kern_uesp_ops.query(x->uesp, &q, &ct);
		e.packets = ct.packets_out;
		snprintf(e.reason, sizeof(e.reason), "oe");
		kern_eroute_add(out, &e);
	}
}

void oe_tunnels_status_json(struct oe_tunnels *x, struct oe_buf *out)
{
	struct kern_uesp_stats s;

	kern_uesp_stats_get(x->uesp, &s);
	oe_buf_puts(out, "{\"ike_sas\":");
	ike_status_json(oe_ike_engine(x->ike), out);
	oe_buf_printf(out, ",\n\"esp\":{\"encrypted\":%llu,\"decrypted\":%llu,\"no_sa\":%llu,"
		      "\"errors\":%llu,\"rekeys_asked\":%llu,\"too_big\":%llu,\"icmp_sent\":%llu,"
		      "\"fragmented\":%llu,\"direct\":%llu,\"split\":%llu}}\n",
		      (unsigned long long)s.encrypted, (unsigned long long)s.decrypted,
		      (unsigned long long)s.no_sa, (unsigned long long)s.errors,
		      (unsigned long long)s.soft_expired, (unsigned long long)s.too_big,
		      (unsigned long long)s.icmp_sent, (unsigned long long)s.fragmented,
		      (unsigned long long)s.direct, (unsigned long long)s.split);
}

void oe_tunnels_status(struct oe_tunnels *x, struct oe_buf *out)
{
	struct kern_uesp_stats s;

	kern_uesp_stats_get(x->uesp, &s);
	oe_buf_printf(out, "IKE and Child SAs: %zu IKE SA%s, %zu Child SA%s\n",
		      ike_sa_count(oe_ike_engine(x->ike)),
		      ike_sa_count(oe_ike_engine(x->ike)) == 1 ? "" : "s", x->nch,
		      x->nch == 1 ? "" : "s");
	ike_status_format(oe_ike_engine(x->ike), out);
	oe_buf_printf(out, "esp: encrypted %llu, decrypted %llu, no-sa %llu, errors %llu, "
		      "rekeys-asked %llu, too-big %llu, icmp-sent %llu, fragmented %llu, "
		      "direct %llu, split %llu\n", (unsigned long long)s.encrypted,
		      (unsigned long long)s.decrypted, (unsigned long long)s.no_sa,
		      (unsigned long long)s.errors, (unsigned long long)s.soft_expired,
		      (unsigned long long)s.too_big, (unsigned long long)s.icmp_sent,
		      (unsigned long long)s.fragmented, (unsigned long long)s.direct,
		      (unsigned long long)s.split);
}
