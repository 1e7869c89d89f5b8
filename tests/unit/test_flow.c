/* The flow state machine driven with fake packets, a fake verdict sink, fake DNS results and
 * virtual time: decisions per group, one decision per pair, hold bounds, global limits,
 * expiry, reload, timeouts and port-keyed flows. */
#include "flow_int.h"
#include "t.h"

#include <errno.h>
#include <netinet/in.h>

#define MAXV 256

struct fake {
	uint64_t now;
	uint32_t vid[MAXV];
	enum oe_flow_verdict v[MAXV];
	int nv;
	struct oe_flow *lookups[64];
	int nlookups, ncancel, ndecided, nforget, nwithdraw, nneg, nnegcancel;
	int neg_result; /* what negotiate returns */
	int reject_nohead; /* REJECT verdicts without the packet's bytes */
	const struct dk_result *sync; /* delivered from inside lookup() when set */
	struct oe_flows *fs;
};

static void f_verdict(void *ctx, uint32_t id, enum oe_flow_verdict v, const uint8_t *h,
		      size_t n)
{
	struct fake *fk = ctx;

	if (v == OE_FV_REJECT && (!h || !n))
		fk->reject_nohead++;
	if (fk->nv < MAXV) {
		fk->vid[fk->nv] = id;
		fk->v[fk->nv++] = v;
	}
}

static int f_lookup(void *ctx, struct oe_flow *f)
{
	struct fake *fk = ctx;

	if (fk->sync) {
		oe_flows_lookup_done(fk->fs, f, fk->sync);
		return 0;
	}
	fk->lookups[fk->nlookups++] = f;
	return 0;
}

static void f_cancel(void *ctx, struct oe_flow *f)
{
	((struct fake *)ctx)->ncancel++;
}

static int f_negotiate(void *ctx, struct oe_flow *f, const struct dk_result *keys)
{
	struct fake *fk = ctx;

	fk->nneg++;
	return fk->neg_result;
}

static void f_neg_cancel(void *ctx, struct oe_flow *f)
{
	((struct fake *)ctx)->nnegcancel++;
}

static void f_decided(void *ctx, const struct oe_flow *f)
{
	((struct fake *)ctx)->ndecided++;
}

static void f_forget(void *ctx, const struct oe_flow *f, bool withdraw)
{
	struct fake *fk = ctx;

	fk->nforget++;
	fk->nwithdraw += withdraw;
}

static uint64_t f_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static struct pg_policy *policy(const char *poc, const char *priv, const char *block,
				const char *clear)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;

	pg_builder_parse(b, PG_PRIVATE_OR_CLEAR, "poc", poc, strlen(poc), NULL);
	pg_builder_parse(b, PG_PRIVATE, "priv", priv, strlen(priv), NULL);
	pg_builder_parse(b, PG_BLOCK, "block", block, strlen(block), NULL);
	pg_builder_parse(b, PG_CLEAR, "clear", clear, strlen(clear), NULL);
	p = pg_compile(b, NULL);
	pg_builder_free(b);
	return p;
}

static struct oe_flows *setup(struct fake *fk, const struct pg_policy *p,
			      const struct oe_flow_limits *lim)
{
	struct oe_flow_ops ops = { fk, f_verdict, f_lookup, f_cancel, f_negotiate, f_decided,
				   f_forget, f_now, f_neg_cancel };
	struct oe_flow_limits d;

	memset(fk, 0, sizeof(*fk));
	fk->now = 1000;
	fk->neg_result = -ENOSYS;
	if (!lim) {
		oe_flow_limits_default(&d);
		lim = &d;
	}
	fk->fs = oe_flows_new(&ops, lim);
	oe_flows_set_policy(fk->fs, p, false);
	return fk->fs;
}

static void pkt(struct oe_flows *fs, uint32_t id, const char *src, const char *dst,
		uint8_t proto, uint16_t dport)
{
	uint8_t head[40] = { 0x45 };
	struct oe_flow_pkt p = { .id = id, .len = 100, .head = head, .headlen = sizeof(head) };

	oe_addr_parse(&p.hdr.src, src, strlen(src));
	oe_addr_parse(&p.hdr.dst, dst, strlen(dst));
	p.hdr.proto = proto;
	p.hdr.sport = proto ? 40000 : 0;
	p.hdr.dport = dport;
	oe_flows_packet(fs, &p);
}

static struct dk_result result(enum dk_lookup_status st)
{
	struct dk_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	return r;
}

static void test_clear_and_block(void)
{
	struct pg_policy *p = policy("", "", "198.51.100.0/24\n", "");
	struct fake fk;
	struct oe_flows *fs = setup(&fk, p, NULL);
	struct oe_flow_stats st;

	pkt(fs, 1, "192.0.2.1", "203.0.113.5", 1, 0); /* no rule: clear */
	T_CHECK_INT(fk.nv, 1);
	T_CHECK_INT(fk.v[0], OE_FV_ACCEPT);
	T_CHECK_INT(fk.ndecided, 1);
	pkt(fs, 2, "192.0.2.1", "203.0.113.5", 1, 0); /* decided: answered at once */
	T_CHECK_INT(fk.v[1], OE_FV_ACCEPT);
	pkt(fs, 3, "192.0.2.1", "198.51.100.7", 6, 80);
	T_CHECK_INT(fk.v[2], OE_FV_REJECT);
	pkt(fs, 4, "192.0.2.1", "198.51.100.7", 6, 80);
	T_CHECK_INT(fk.v[3], OE_FV_REJECT);
	T_CHECK_INT(fk.reject_nohead, 0); /* the ICMP quote is always there */
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.flows, 2);
	T_CHECK_INT(st.after_decision, 2);
	T_CHECK_INT(st.outcome[OE_FLOW_PASS], 1);
	T_CHECK_INT(st.outcome[OE_FLOW_REJECT], 1);
	T_CHECK_INT(st.in_progress, 0);
	oe_flows_free(fs);
	pg_policy_free(p);
}

static void test_poc_burst_one_lookup(void)
{
	struct pg_policy *p = policy("192.0.2.0/24\n", "", "", "");
	struct fake fk;
	struct oe_flows *fs = setup(&fk, p, NULL);
	struct dk_result r = result(DK_L_NXDOMAIN);
	struct oe_flow_stats st;

	for (uint32_t i = 1; i <= 5; i++)
		pkt(fs, i, "192.0.2.1", "192.0.2.2", 1, 0);
	T_CHECK_INT(fk.nlookups, 1);
	T_CHECK_INT(fk.nv, 0);
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.held_packets, 5);
	T_CHECK_INT(st.lookups, 1);
	oe_flows_lookup_done(fs, fk.lookups[0], &r);
	T_CHECK_INT(fk.nv, 5);
	for (int i = 0; i < 5; i++) {
		T_CHECK_INT(fk.vid[i], i + 1); /* in order */
		T_CHECK_INT(fk.v[i], OE_FV_ACCEPT);
	}
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.held_packets, 0);
	T_CHECK_INT(st.lookups, 0);
	T_CHECK_INT(st.outcome[OE_FLOW_PASS], 1);
	oe_flows_free(fs);
	pg_policy_free(p);
}

static void test_private_and_bogus(void)
{
	struct pg_policy *p = policy("198.51.100.0/24\n", "192.0.2.0/24\n", "", "");
	struct fake fk;
	struct oe_flows *fs = setup(&fk, p, NULL);
	struct dk_result nx = result(DK_L_TIMEOUT), bogus = result(DK_L_BOGUS);

	pkt(fs, 1, "192.0.2.1", "192.0.2.2", 1, 0);
	oe_flows_lookup_done(fs, fk.lookups[0], &nx);
	T_CHECK_INT(fk.v[0], OE_FV_DROP);
	pkt(fs, 2, "192.0.2.1", "198.51.100.9", 1, 0); /* private-or-clear, bogus: drop */
	oe_flows_lookup_done(fs, fk.lookups[1], &bogus);
	T_CHECK_INT(fk.v[1], OE_FV_DROP);
	pkt(fs, 3, "192.0.2.1", "198.51.100.10", 1, 0); /* private-or-clear, timeout: pass */
	oe_flows_lookup_done(fs, fk.lookups[2], &nx);
	T_CHECK_INT(fk.v[2], OE_FV_ACCEPT);
	oe_flows_free(fs);
	pg_policy_free(p);
}

static void test_key_found_negotiation(void)
{
	struct pg_policy *p = policy("198.51.100.0/24\n", "192.0.2.0/24\n", "", "");
	struct fake fk;
	struct oe_flows *fs = setup(&fk, p, NULL);
	struct dk_result r = result(DK_L_FOUND);
	struct dk_found found;

	memset(&found, 0, sizeof(found));
	found.pkey = (EVP_PKEY *)&found; /* only tested for NULL here */
	r.nfound = 1;
	r.found = &found;
	pkt(fs, 1, "192.0.2.1", "192.0.2.2", 1, 0);
	oe_flows_lookup_done(fs, fk.lookups[0], &r);
	T_CHECK_INT(fk.nneg, 1);
	T_CHECK_INT(fk.v[0], OE_FV_DROP); /* stub negotiation fails: private drops */
	pkt(fs, 2, "192.0.2.1", "198.51.100.2", 1, 0);
	oe_flows_lookup_done(fs, fk.lookups[1], &r);
	T_CHECK_INT(fk.v[1], OE_FV_ACCEPT); /* private-or-clear passes */
	/* a negotiation that starts and then succeeds: TUNNEL, held packet released */
	fk.neg_result = 0;
	pkt(fs, 3, "192.0.2.1", "192.0.2.3", 1, 0);
	oe_flows_lookup_done(fs, fk.lookups[2], &r);
	T_CHECK_INT(fk.nv, 2);
	oe_flows_negotiated(fs, fk.lookups[2], true, "test");
	T_CHECK_INT(fk.nv, 3);
	T_CHECK_INT(fk.v[2], OE_FV_ACCEPT);
	T_CHECK_INT(fk.nnegcancel, 0);
	/* a negotiation still running at the hold timeout is cancelled; private drops */
	pkt(fs, 4, "192.0.2.1", "192.0.2.4", 1, 0);
	oe_flows_lookup_done(fs, fk.lookups[3], &r);
	oe_flows_expire(fs, fk.now + 3600 * 1000);
	T_CHECK_INT(fk.nnegcancel, 1);
	T_CHECK_INT(fk.v[fk.nv - 1], OE_FV_DROP);
	oe_flows_free(fs);
	pg_policy_free(p);
}

static void test_hold_bounds(void)
{
	struct pg_policy *p = policy("192.0.2.0/24\n", "", "", "");
	struct oe_flow_limits lim;
	struct fake fk;
	struct oe_flows *fs;
	struct dk_result r = result(DK_L_NODATA);
	struct oe_flow_stats st;

	oe_flow_limits_default(&lim);
	lim.hold_packets = 3;
	fs = setup(&fk, p, &lim);
	for (uint32_t i = 1; i <= 5; i++)
		pkt(fs, i, "192.0.2.1", "192.0.2.2", 1, 0);
	T_CHECK_INT(fk.nv, 2); /* the two oldest dropped */
	T_CHECK_INT(fk.vid[0], 1);
	T_CHECK_INT(fk.vid[1], 2);
	T_CHECK_INT(fk.v[0], OE_FV_DROP);
	oe_flows_lookup_done(fs, fk.lookups[0], &r);
	T_CHECK_INT(fk.nv, 5);
	T_CHECK_INT(fk.vid[2], 3);
	T_CHECK_INT(fk.vid[4], 5);
	T_CHECK_INT(fk.v[4], OE_FV_ACCEPT);
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.dropped_oldest, 2);
	oe_flows_free(fs);
	pg_policy_free(p);
}

static void test_global_limits(void)
{
	struct pg_policy *p = policy("192.0.2.0/24\n", "", "", "");
	struct oe_flow_limits lim;
	struct fake fk;
	struct oe_flows *fs;
	struct oe_flow_stats st;
	char dst[32];

	oe_flow_limits_default(&lim);
	lim.max_flows = 10;
	lim.max_lookups = 4;
	fs = setup(&fk, p, &lim);
	for (int i = 0; i < 100; i++) { /* forged destinations */
		snprintf(dst, sizeof(dst), "192.0.2.%d", 10 + i);
		pkt(fs, (uint32_t)i + 1, "192.0.2.1", dst, 1, 0);
	}
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.lookups, 4);
	T_CHECK(st.in_progress <= 10);
	T_CHECK(st.over_limit >= 90);
	T_CHECK_INT(fk.nlookups, 4);
	/* a real flow to a clear destination is still decided */
	pkt(fs, 1000, "192.0.2.1", "203.0.113.1", 1, 0);
	T_CHECK_INT(fk.vid[fk.nv - 1], 1000);
	T_CHECK_INT(fk.v[fk.nv - 1], OE_FV_ACCEPT);
	oe_flows_free(fs);
	pg_policy_free(p);
}

static void test_expiry_and_timeout(void)
{
	struct pg_policy *p = policy("192.0.2.0/24\n", "", "", "");
	struct oe_flow_limits lim;
	struct fake fk;
	struct oe_flows *fs;
	struct oe_flow_stats st;

	oe_flow_limits_default(&lim);
	lim.shunt_life_s = 60;
	lim.hold_timeout_ms = 5000;
	fs = setup(&fk, p, &lim);
	pkt(fs, 1, "192.0.2.1", "203.0.113.1", 1, 0); /* clear: PASS at t=1000 */
	pkt(fs, 2, "192.0.2.1", "192.0.2.2", 1, 0);   /* lookup pending */
	T_CHECK_INT(oe_flows_expire(fs, 2000), 6000);
	T_CHECK_INT(fk.nv, 1);
	fk.now = 6000;
	oe_flows_expire(fs, 6000); /* hold timeout: the failure rule, lookup withdrawn */
	T_CHECK_INT(fk.nv, 2);
	T_CHECK_INT(fk.v[1], OE_FV_ACCEPT);
	T_CHECK_INT(fk.ncancel, 1);
	fk.now = 61000;
	oe_flows_expire(fs, 61000); /* the first shunt expires */
	T_CHECK_INT(fk.nforget, 1);
	T_CHECK_INT(fk.nwithdraw, 0);
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.decided, 1);
	T_CHECK_INT(st.expired, 1);
	pkt(fs, 3, "192.0.2.1", "203.0.113.1", 1, 0); /* traps again: a new decision */
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.flows, 3);
	T_CHECK_INT(fk.ndecided, 3);
	oe_flows_free(fs);
	pg_policy_free(p);
}

static void test_reload_redecides(void)
{
	struct pg_policy *p = policy("", "", "", ""), *p2 = policy("", "", "203.0.113.0/24\n", "");
	struct fake fk;
	struct oe_flows *fs = setup(&fk, p, NULL);

	pkt(fs, 1, "192.0.2.1", "203.0.113.1", 1, 0);
	pkt(fs, 2, "192.0.2.1", "198.51.100.1", 1, 0);
	T_CHECK_INT(oe_flows_set_policy(fs, p2, true), 1);
	T_CHECK_INT(fk.nwithdraw, 1);
	pkt(fs, 3, "192.0.2.1", "203.0.113.1", 1, 0);
	T_CHECK_INT(fk.v[2], OE_FV_REJECT);
	pkt(fs, 4, "192.0.2.1", "198.51.100.1", 1, 0);
	T_CHECK_INT(fk.v[3], OE_FV_ACCEPT);
	oe_flows_free(fs);
	pg_policy_free(p);
	pg_policy_free(p2);
}

static void test_sync_lookup_and_ports(void)
{
	struct pg_policy *p = policy("", "", "198.51.100.0/24 tcp 0 22\n", "");
	struct fake fk;
	struct oe_flows *fs = setup(&fk, p, NULL);
	struct dk_result nx = result(DK_L_NXDOMAIN);
	struct pg_policy *p2 = policy("192.0.2.0/24\n", "", "", "");
	struct oe_flow_stats st;

	/* ports decide inside 198.51.100.0/24: flows per (proto, ports) */
	pkt(fs, 1, "192.0.2.1", "198.51.100.5", 6, 22);
	pkt(fs, 2, "192.0.2.1", "198.51.100.5", 6, 80);
	pkt(fs, 3, "192.0.2.1", "198.51.100.5", 6, 22);
	T_CHECK_INT(fk.v[0], OE_FV_REJECT);
	T_CHECK_INT(fk.v[1], OE_FV_ACCEPT);
	T_CHECK_INT(fk.v[2], OE_FV_REJECT);
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.flows, 2);
	oe_flows_free(fs);
	/* an answer from the cache arrives inside lookup() */
	fs = setup(&fk, p2, NULL);
	fk.sync = &nx;
	pkt(fs, 1, "192.0.2.1", "192.0.2.2", 1, 0);
	T_CHECK_INT(fk.nv, 1);
	T_CHECK_INT(fk.v[0], OE_FV_ACCEPT);
	oe_flows_free(fs);
	pg_policy_free(p);
	pg_policy_free(p2);
}

/* The pair's tunnel went away (idle teardown, DELETE, liveness): its TUNNEL flow is forgotten,
 * so the next packet traps and negotiates again instead of being accepted as a decided pair. */
static void test_tunnel_down(void)
{
	struct pg_policy *p = policy("192.0.2.0/24\n", "", "", "");
	struct fake fk;
	struct oe_flows *fs = setup(&fk, p, NULL);
	struct dk_result r = result(DK_L_FOUND);
	struct dk_found found;
	struct oe_addr a, b, c;
	struct oe_flow_stats st;

	memset(&found, 0, sizeof(found));
	found.pkey = (EVP_PKEY *)&found; /* only tested for NULL here */
	r.nfound = 1;
	r.found = &found;
	fk.neg_result = 0;
	pkt(fs, 1, "192.0.2.1", "192.0.2.2", 1, 0);
	oe_flows_lookup_done(fs, fk.lookups[0], &r);
	oe_flows_negotiated(fs, fk.lookups[0], true, "test");
	T_CHECK_INT(fk.nv, 1);
	T_CHECK_INT(fk.v[0], OE_FV_ACCEPT);
	oe_addr_parse(&a, "192.0.2.1", 9);
	oe_addr_parse(&b, "192.0.2.2", 9);
	oe_addr_parse(&c, "192.0.2.3", 9);
	T_CHECK_INT(oe_flows_tunnel_down(fs, &a, &c, "another pair"), 0);
	T_CHECK_INT(oe_flows_tunnel_down(fs, &b, &a, "the reverse pair"), 0);
	T_CHECK_INT(oe_flows_tunnel_down(fs, &a, &b, "tunnel deleted"), 1);
	T_CHECK_INT(fk.nforget, 0); /* the caller removed the tunnel element itself */
	/* the next packet is held for a new decision, not accepted in the clear */
	pkt(fs, 2, "192.0.2.1", "192.0.2.2", 1, 0);
	T_CHECK_INT(fk.nv, 1);
	T_CHECK_INT(fk.nlookups, 2);
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.in_progress, 1);
	T_CHECK_INT(st.held_packets, 1);
	oe_flows_free(fs);
	pg_policy_free(p);
}

/* inbound cleartext from a private peer (DESIGN.md §5 E*): the reverse pair's flow starts
 * with nothing held, once; other senders and decided pairs start nothing */
static void test_inbound_private(void)
{
	struct pg_policy *p = policy("198.51.100.0/24\n", "192.0.2.0/24\n", "", "");
	struct fake fk;
	struct oe_flows *fs = setup(&fk, p, NULL);
	struct dk_result nx = result(DK_L_NXDOMAIN);
	struct kern_pkt in;
	struct oe_flow_stats st;

	memset(&in, 0, sizeof(in));
	oe_addr_parse(&in.src, "192.0.2.9", 9); /* the private peer */
	oe_addr_parse(&in.dst, "203.0.113.1", 11); /* us */
	in.proto = 1;
	oe_flows_inbound(fs, &in);
	T_CHECK_INT(fk.nlookups, 1);
	T_CHECK(oe_addr_eq(&fk.lookups[0]->src, &in.dst));
	T_CHECK(oe_addr_eq(&fk.lookups[0]->dst, &in.src));
	T_CHECK_INT(fk.lookups[0]->nheld, 0);
	oe_flows_inbound(fs, &in); /* deciding already: no second lookup */
	T_CHECK_INT(fk.nlookups, 1);
	oe_flows_lookup_done(fs, fk.lookups[0], &nx);
	T_CHECK_INT(fk.nv, 0); /* nothing was held, nothing released */
	oe_flows_inbound(fs, &in); /* decided (%drop): nothing */
	T_CHECK_INT(fk.nlookups, 1);
	oe_addr_parse(&in.src, "198.51.100.9", 12); /* private-or-clear sender: nothing */
	oe_flows_inbound(fs, &in);
	T_CHECK_INT(fk.nlookups, 1);
	oe_flows_stats(fs, &st);
	T_CHECK_INT(st.inbound, 4);
	T_CHECK_INT(st.outcome[OE_FLOW_DROP], 1);
	oe_flows_free(fs);
	pg_policy_free(p);
}

int main(void)
{
	T_RUN(test_clear_and_block);
	T_RUN(test_poc_burst_one_lookup);
	T_RUN(test_private_and_bogus);
	T_RUN(test_key_found_negotiation);
	T_RUN(test_hold_bounds);
	T_RUN(test_global_limits);
	T_RUN(test_expiry_and_timeout);
	T_RUN(test_reload_redecides);
	T_RUN(test_sync_lookup_and_ports);
	T_RUN(test_tunnel_down);
	T_RUN(test_inbound_private);
	return t_done();
}
