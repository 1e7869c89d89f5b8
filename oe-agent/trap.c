/* The trap path in the daemon: kernel rules and the trap queue (kernel/), the key lookups on
 * the event loop (dns_loop.c), and the flow state machine (flow.c) wired together. Verdicts and
 * shunt elements of one loop turn go to the kernel together: the shunt is committed before the
 * held packets are released, so the packet after them already meets the shunt. */
#include "flow_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "oe_time.h"

#define TRAP_STATUS_MAX 100 /* flows listed by `ipsec status` */

struct oe_trap {
	struct oe_loop *loop;
	struct kern_rules *rules;
	struct kern_nfq *nfq;
	struct kern_icmp *icmp;
	struct oe_dns *dns;
	struct oe_flows *flows;
	oe_timer_id timer;
	uint64_t timer_at;
	uint64_t shunt_life_s;
	uint16_t queue;
	uint32_t mask, in_mark;	   /* queued packets with this mark are inbound (OE_TRAPIN) */
	uint64_t icmp_errors;
	oe_negotiate_fn negotiate; /* the IKE issue's; NULL: negotiations fail at once */
	void (*negotiate_cancel)(void *arg, struct oe_flow *f);
	void *negotiate_arg;
};

static void resched(struct oe_trap *t);

/* ---- ranges ---------------------------------------------------------------------------------- */

struct range_build {
	struct kern_range *v;
	size_t n, cap;
	bool failed;
};

static void add_range(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
		      enum pg_group g, bool mixed)
{
	struct range_build *rb = ctx;
	enum kern_range_kind k = KERN_RANGE_TRAP;

	if (rb->failed)
		return;
	if (rb->n == rb->cap) {
		size_t cap = rb->cap ? rb->cap * 2 : 64;
		struct kern_range *v = realloc(rb->v, cap * sizeof(*v));

		if (!v) {
			rb->failed = true;
			return;
		}
		rb->v = v;
		rb->cap = cap;
	}
	/* where port rules may answer otherwise, only the trap (i.e. the full matcher) decides */
	if (!mixed && (g == PG_CLEAR || g == PG_CLEAR_OR_PRIVATE))
		k = KERN_RANGE_CLEAR;
	else if (!mixed && g == PG_BLOCK)
		k = KERN_RANGE_BLOCK;
	else if (!mixed && g == PG_PRIVATE)
		k = KERN_RANGE_PRIVATE;
	rb->v[rb->n++] = (struct kern_range){ *lo, *hi, k };
}

int oe_trap_ranges(const struct pg_policy *p, struct kern_range **out, size_t *n)
{
	struct range_build rb = { 0 };

	pg_ranges_sel(p, AF_INET, add_range, &rb);
	pg_ranges_sel(p, AF_INET6, add_range, &rb);
	if (rb.failed) {
		free(rb.v);
		return -ENOMEM;
	}
	*out = rb.v;
	*n = rb.n;
	return 0;
}

/* ---- the flow machine's ops ------------------------------------------------------------------ */

static void op_verdict(void *ctx, uint32_t id, enum oe_flow_verdict v, const uint8_t *head,
		       size_t len)
{
	struct oe_trap *t = ctx;

	if (v == OE_FV_REJECT && head && kern_icmp_reject(t->icmp, head, len) < 0)
		t->icmp_errors++;
	kern_nfq_verdict(t->nfq, id, v == OE_FV_ACCEPT ? KERN_V_ACCEPT : KERN_V_DROP);
}

static void flush(struct oe_trap *t)
{
	kern_rules_commit(t->rules);
	kern_nfq_flush(t->nfq);
}

static void on_lookup(void *arg, const struct dk_result *res)
{
	struct oe_flow *f = arg;
	struct oe_trap *t = f->user;

	if (res->status == DK_L_CANCELLED)
		return;
	oe_flows_lookup_done(t->flows, f, res);
	flush(t);
	resched(t);
}

static int op_lookup(void *ctx, struct oe_flow *f)
{
	struct oe_trap *t = ctx;

	f->user = t;
	return oe_dns_lookup_addr(t->dns, &f->dst, on_lookup, f);
}

static void op_lookup_cancel(void *ctx, struct oe_flow *f)
{
	struct oe_trap *t = ctx;

	dk_lookup_cancel(oe_dns_resolver(t->dns), on_lookup, f);
}

static enum kern_said_kind said_of(enum oe_flow_state s)
{
	return s == OE_FLOW_DROP ? KERN_SAID_DROP :
	       s == OE_FLOW_REJECT ? KERN_SAID_REJECT : KERN_SAID_PASS;
}

static enum kern_shunt shunt_of(enum oe_flow_state s)
{
	return s == OE_FLOW_DROP ? KERN_SHUNT_DROP :
	       s == OE_FLOW_REJECT ? KERN_SHUNT_REJECT : KERN_SHUNT_PASS;
}

static void flow_sel(const struct oe_flow *f, struct oe_sel *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->src = oe_prefix_host(&f->src);
	sel->dst = oe_prefix_host(&f->dst);
	sel->proto = f->proto;
	sel->sport = f->sport;
	sel->dport = f->dport;
}

/* The kernel element for f: per pair, or per ports where port rules decide; false when the
 * kernel cannot hold it (ports wanted, protocol without ports): such packets keep trapping and
 * the flow answers them. */
static bool flow_elem(const struct oe_flow *f, struct kern_shunt_elem *e)
{
	memset(e, 0, sizeof(*e));
	e->src = f->src;
	e->dst = f->dst;
	if (f->ports) {
		e->proto = f->proto;
		e->sport = f->sport;
		e->dport = f->dport;
	}
	return !f->ports || kern_shunt_ports_ok(f->proto);
}

static void op_decided(void *ctx, const struct oe_flow *f)
{
	struct oe_trap *t = ctx;
	struct kern_shunt_elem se;

	if (flow_elem(f, &se))
		kern_shunt_add(t->rules, shunt_of(f->state), &se,
			       f->shunt_life_s ? f->shunt_life_s : t->shunt_life_s);
}

static void op_forget(void *ctx, const struct oe_flow *f, bool withdraw)
{
	struct oe_trap *t = ctx;
	struct kern_shunt_elem se;

	if (withdraw && flow_elem(f, &se))
		kern_shunt_del(t->rules, shunt_of(f->state), &se);
}

static int op_negotiate(void *ctx, struct oe_flow *f, const struct dk_result *keys)
{
	struct oe_trap *t = ctx;

	return t->negotiate ? t->negotiate(t->negotiate_arg, f, keys) : -ENOSYS;
}

static void op_negotiate_cancel(void *ctx, struct oe_flow *f)
{
	struct oe_trap *t = ctx;

	if (t->negotiate_cancel)
		t->negotiate_cancel(t->negotiate_arg, f);
}

void oe_trap_set_negotiator(struct oe_trap *t, oe_negotiate_fn fn,
			    void (*cancel)(void *arg, struct oe_flow *f), void *arg)
{
	t->negotiate = fn;
	t->negotiate_cancel = cancel;
	t->negotiate_arg = arg;
}

struct kern_rules *oe_trap_rules(struct oe_trap *t)
{
	return t->rules;
}

void oe_trap_negotiated(struct oe_trap *t, struct oe_flow *f, bool ok, const char *why)
{
	oe_flows_negotiated(t->flows, f, ok, why);
	flush(t);
	resched(t);
}

static uint64_t op_now(void *ctx)
{
	return oe_now_ms();
}

/* ---- the queue and the timer ----------------------------------------------------------------- */

static void on_packet(void *ctx, const struct kern_nfq_pkt *p)
{
	struct oe_trap *t = ctx;
	struct oe_flow_pkt fp = { .id = p->id, .len = p->len, .head = p->data,
				  .headlen = p->caplen };
	enum kern_pkt_status st = kern_pkt_parse(p->data, p->caplen, &fp.hdr);

	if (st != KERN_PKT_OK) {
		oe_debug(NFQ, "packet %u dropped: %s", p->id, kern_pkt_strerror(st));
		kern_nfq_verdict(t->nfq, p->id, KERN_V_DROP);
		oe_flows_malformed(t->flows);
		return;
	}
	if ((p->mark & t->mask) == t->in_mark) { /* inbound cleartext from a private peer */
		kern_nfq_verdict(t->nfq, p->id, KERN_V_DROP);
		oe_flows_inbound(t->flows, &fp.hdr);
		return;
	}
	oe_flows_packet(t->flows, &fp);
}

static void on_queue(void *ctx, int fd, uint32_t events)
{
	struct oe_trap *t = ctx;
	int n;

	/* bounded per wake-up so the control socket and DNS are served during a flood */
	for (int i = 0; i < 32; i++) {
		n = kern_nfq_receive(t->nfq, on_packet, t);
		if (n < 0)
			oe_err(NFQ, "receiving from queue %u: %s", t->queue, strerror(-n));
		if (n <= 0)
			break;
		if (kern_rules_pending(t->rules) >= 256)
			kern_rules_commit(t->rules);
	}
	flush(t);
	resched(t);
}

static void on_timer(void *ctx)
{
	struct oe_trap *t = ctx;

	t->timer = 0;
	resched(t);
}

/* Applies what is due and arms the one timer for the next deadline. */
static void resched(struct oe_trap *t)
{
	uint64_t next = oe_flows_expire(t->flows, oe_now_ms()), now;

	flush(t);
	if (!next || (t->timer && t->timer_at <= next))
		return;
	if (t->timer)
		oe_loop_timer_cancel(t->loop, t->timer);
	now = oe_now_ms();
	t->timer = oe_loop_timer(t->loop, next > now ? next - now : 0, on_timer, t);
	t->timer_at = next;
}

/* ---- life ------------------------------------------------------------------------------------ */

static void limits_of(const struct oe_conf *c, struct oe_flow_limits *l)
{
	oe_flow_limits_default(l);
	l->hold_packets = c->holdpackets;
	l->hold_bytes = c->holdbytes;
	l->max_flows = c->maxflows;
	l->max_lookups = c->maxlookups;
	l->max_held_bytes = c->maxheldbytes;
	l->max_shunts = c->maxshunts;
	l->shunt_life_s = c->shuntlifetime_s ? c->shuntlifetime_s : 1;
	/* a lookup answers by its own deadline; this only catches a lookup that never does */
	l->hold_timeout_ms = (uint64_t)(c->dns_lookup_timeout_ms ? c->dns_lookup_timeout_ms :
						 10000) + 5000;
}

static void log_diag(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	if (sev == OE_DIAG_ERROR)
		oe_err(DNS, "%s", msg);
	else
		oe_warn(DNS, "%s", msg);
}

static int start_kernel(struct oe_trap *t, const struct oe_conf *c, const struct pg_policy *p)
{
	/* the ESP datapath's queue is the next number (oe_ipsec.c binds it) */
	struct kern_rules_conf rc = { c->trapqueue, c->socketmark, c->socketmask, c->maxshunts,
				      false, (uint16_t)(c->trapqueue + 1) };
	struct kern_range *v = NULL;
	size_t n = 0;
	int err = oe_trap_ranges(p, &v, &n);

	t->mask = rc.mask;
	t->in_mark = kern_trapin_mark(&rc);
	if (!err)
		err = kern_rules_open(&rc, v, n, &t->rules);
	free(v);
	if (err) {
		oe_err(KERN, "installing the trap rules: %s", strerror(-err));
		return err;
	}
	err = kern_icmp_open(c->socketmark, &t->icmp);
	if (err) {
		oe_err(KERN, "raw sockets for ICMP errors: %s", strerror(-err));
		return err;
	}
	err = kern_nfq_open(c->trapqueue, c->queuemaxlen, &t->nfq);
	if (err) {
		oe_err(NFQ, "binding NFQUEUE %u: %s", c->trapqueue, strerror(-err));
		return err;
	}
	return oe_loop_watch(t->loop, kern_nfq_fd(t->nfq), EPOLLIN, on_queue, t);
}

int oe_trap_start(struct oe_loop *l, const struct oe_conf *c, const struct pg_policy *p,
		  struct oe_trap **out)
{
	struct oe_flow_ops ops = { NULL, op_verdict, op_lookup, op_lookup_cancel, op_negotiate,
				   op_decided, op_forget, op_now, op_negotiate_cancel };
	struct oe_diag d = { log_diag, NULL, 0, 0 };
	struct oe_flow_limits lim;
	struct oe_trap *t = calloc(1, sizeof(*t));
	int err = -ENOMEM;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->loop = l;
	t->queue = c->trapqueue;
	t->shunt_life_s = c->shuntlifetime_s ? c->shuntlifetime_s : 1;
	ops.ctx = t;
	limits_of(c, &lim);
	t->flows = oe_flows_new(&ops, &lim);
	if (!t->flows)
		goto fail;
	oe_flows_set_policy(t->flows, p, false);
	err = oe_dns_new(&t->dns, l, c, &d);
	if (err) {
		oe_err(DNS, "key lookups: %s", strerror(-err));
		goto fail;
	}
	err = start_kernel(t, c, p);
	if (err)
		goto fail;
	oe_notice(NFQ, "trap path up: queue %u, socket mark 0x%08x/0x%08x, shunts for %llus",
		  c->trapqueue, c->socketmark, c->socketmask, (unsigned long long)t->shunt_life_s);
	*out = t;
	return 0;
fail:
	oe_trap_stop(t);
	return err;
}

void oe_trap_stop(struct oe_trap *t)
{
	if (!t)
		return;
	if (t->timer)
		oe_loop_timer_cancel(t->loop, t->timer);
	if (t->nfq)
		oe_loop_unwatch(t->loop, kern_nfq_fd(t->nfq));
	oe_flows_free(t->flows); /* held packets: dropped */
	if (t->nfq)
		kern_nfq_flush(t->nfq);
	kern_nfq_close(t->nfq);
	oe_dns_free(t->dns);
	kern_icmp_close(t->icmp);
	kern_rules_close(t->rules, true);
	free(t);
}

int oe_trap_reload(struct oe_trap *t, const struct oe_conf *c, const struct pg_policy *p)
{
	struct oe_flow_limits lim;
	struct kern_range *v = NULL;
	size_t n = 0, changed;
	int err = oe_trap_ranges(p, &v, &n);

	if (!err)
		err = kern_rules_set_ranges(t->rules, v, n);
	free(v);
	if (err)
		oe_err(KERN, "reloading the range sets: %s", strerror(-err));
	limits_of(c, &lim);
	oe_flows_set_limits(t->flows, &lim);
	t->shunt_life_s = lim.shunt_life_s;
	changed = oe_flows_set_policy(t->flows, p, true);
	oe_info(FLOW, "reload: %zu shunt%s re-decided", changed, changed == 1 ? "" : "s");
	flush(t);
	resched(t);
	return err;
}

/* ---- listings -------------------------------------------------------------------------------- */

static void count_cb(void *ctx, enum kern_shunt k, const struct kern_shunt_elem *se)
{
	struct oe_sel sel;
	struct kern_eroute *e;

	memset(&sel, 0, sizeof(sel));
	sel.src = oe_prefix_host(&se->src);
	sel.dst = oe_prefix_host(&se->dst);
	sel.proto = se->proto;
	sel.sport = se->sport;
	sel.dport = se->dport;
	e = kern_eroute_get(ctx, &sel);
	if (e)
		e->packets = se->packets;
}

/* One eroute per flow: decided ones with their shunt, those still deciding as %hold. */
static void eroute_cb(void *ctx, const struct oe_flow *f)
{
	struct kern_eroute e;

	if (f->state == OE_FLOW_TUNNEL) /* the IKE issue lists its SAs */
		return;
	memset(&e, 0, sizeof(e));
	flow_sel(f, &e.sel);
	e.said.kind = f->state < OE_FLOW_TUNNEL ? KERN_SAID_HOLD : said_of(f->state);
	snprintf(e.reason, sizeof(e.reason), "%s", f->reason);
	e.expires_ms = f->state < OE_FLOW_TUNNEL ? 0 : f->deadline_ms;
	kern_eroute_add(ctx, &e);
}

void oe_trap_eroutes(struct oe_trap *t, struct kern_eroute_table *out)
{
	oe_flows_walk(t->flows, eroute_cb, out);
	kern_shunt_walk(t->rules, count_cb, out);
}

struct status_walk {
	struct oe_buf *out;
	uint64_t now;
	size_t n;
};

static void status_flow(void *ctx, const struct oe_flow *f)
{
	struct status_walk *w = ctx;
	char s[OE_ADDRSTRLEN], d[OE_ADDRSTRLEN];
	uint64_t age = w->now > f->created_ms ? w->now - f->created_ms : 0;

	if (f->state >= OE_FLOW_TUNNEL || w->n++ >= TRAP_STATUS_MAX)
		return;
	oe_buf_printf(w->out, "  %s -> %s  %s  %s  age %llu.%01llus  held %u\n",
		      oe_addr_str(&f->src, s), oe_addr_str(&f->dst, d),
		      oe_flow_state_name(f->state), pg_group_name(f->group),
		      (unsigned long long)(age / 1000), (unsigned long long)(age % 1000 / 100),
		      f->nheld);
}

void oe_trap_status(struct oe_trap *t, struct oe_buf *out)
{
	struct oe_flow_stats st;
	struct status_walk w = { out, oe_now_ms(), 0 };
	uint64_t in_drops = 0;

	oe_flows_stats(t->flows, &st);
	kern_rules_inbound_drops(t->rules, &in_drops);
	oe_buf_printf(out, "trap: queue %u (%s), shunts for %llus\n", t->queue,
		      kern_rules_native(t->rules) ? "nft queue" : "iptables NFQUEUE target",
		      (unsigned long long)t->shunt_life_s);
	oe_buf_printf(out, "flows in progress: %u (lookups %u, held %llu packets, %llu bytes)\n",
		      st.in_progress, st.lookups, (unsigned long long)st.held_packets,
		      (unsigned long long)st.held_bytes);
	oe_flows_walk(t->flows, status_flow, &w);
	if (w.n > TRAP_STATUS_MAX)
		oe_buf_printf(out, "  ... %zu more\n", w.n - TRAP_STATUS_MAX);
	oe_buf_printf(out, "decided pairs: %u\n", st.decided);
	oe_buf_printf(out, "counters: trapped %llu, decisions %llu (pass %llu, drop %llu, "
		      "reject %llu, tunnel %llu)\n  after-decision %llu, dropped-oldest %llu, "
		      "malformed %llu, over-limit %llu, expired %llu, re-decided %llu\n"
		      "  queue-full %llu, icmp-errors %llu, inbound-cleartext-dropped %llu "
		      "(shown to the agent %llu)\n",
		      (unsigned long long)st.trapped, (unsigned long long)st.flows,
		      (unsigned long long)st.outcome[OE_FLOW_PASS],
		      (unsigned long long)st.outcome[OE_FLOW_DROP],
		      (unsigned long long)st.outcome[OE_FLOW_REJECT],
		      (unsigned long long)st.outcome[OE_FLOW_TUNNEL],
		      (unsigned long long)st.after_decision, (unsigned long long)st.dropped_oldest,
		      (unsigned long long)st.malformed, (unsigned long long)st.over_limit,
		      (unsigned long long)st.expired, (unsigned long long)st.redecided,
		      (unsigned long long)kern_nfq_kernel_drops(t->nfq),
		      (unsigned long long)t->icmp_errors, (unsigned long long)in_drops,
		      (unsigned long long)st.inbound);
}

void oe_trap_tunnel_down(struct oe_trap *t, const struct oe_addr *ours,
			 const struct oe_addr *peer, const char *why)
{
	oe_flows_tunnel_down(t->flows, ours, peer, why);
	resched(t);
}
