/* The text of our nft table (pure, so tests can check it without a kernel): range sets from
 * the policy, shunt sets with per-element timeouts and counters, and the chains that use them.
 * kern_rules.c hands this text to libnftables, which parses it as `nft -f` would. */
#include "kernel.h"
#include "kern_rules_int.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "oe_sel.h"

uint32_t kern_trap_mark(const struct kern_rules_conf *c)
{
	uint32_t low = c->mask & (~c->mask + 1); /* lowest set bit of the mask */

	return (c->mark + low) & c->mask;
}

uint32_t kern_esp_mark(const struct kern_rules_conf *c)
{
	uint32_t low = c->mask & (~c->mask + 1);

	return (c->mark + 2 * low) & c->mask;
}

uint32_t kern_trapin_mark(const struct kern_rules_conf *c)
{
	uint32_t low = c->mask & (~c->mask + 1);

	return (c->mark + 3 * low) & c->mask;
}

bool kern_shunt_ports_ok(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP;
}

const char *kern_shunt_set(enum kern_shunt k)
{
	static const char *const n[KERN_NSHUNTS] = { "pass", "drop", "reject", "tun" };

	return (unsigned)k < KERN_NSHUNTS ? n[k] : "?";
}

static const char *range_set(enum kern_range_kind k)
{
	switch (k) {
	case KERN_RANGE_CLEAR:
		return "clear";
	case KERN_RANGE_BLOCK:
		return "block";
	case KERN_RANGE_PRIVATE:
		return "priv";
	default:
		return NULL; /* trap: the chain's fall-through, no set */
	}
}

static unsigned __int128 addr_val(const struct oe_addr *a)
{
	return a->af == AF_INET ? (unsigned __int128)oe_addr_v4(a) : oe_addr_u128(a);
}

/* lo starts right after hi (and hi is not the family's last address). */
static bool adjacent(const struct oe_addr *hi, const struct oe_addr *lo)
{
	unsigned __int128 h = addr_val(hi), top = hi->af == AF_INET ? 0xffffffffu :
								     ~(unsigned __int128)0;

	return h != top && h + 1 == addr_val(lo);
}

static void put_range(struct oe_buf *out, const struct oe_addr *lo, const struct oe_addr *hi,
		      bool *first)
{
	char a[OE_ADDRSTRLEN], b[OE_ADDRSTRLEN];

	oe_buf_puts(out, *first ? " " : ", ");
	*first = false;
	if (oe_addr_eq(lo, hi))
		oe_buf_puts(out, oe_addr_str(lo, a));
	else
		oe_buf_printf(out, "%s-%s", oe_addr_str(lo, a), oe_addr_str(hi, b));
}

/* "add element inet oe_agent clear4 { lo-hi, … }" for one set: ranges of kind k and family
 * af, adjacent ones merged (nft refuses overlaps, and fewer elements are cheaper). */
static void put_elements(struct oe_buf *out, const struct kern_range *v, size_t n, int af,
			 enum kern_range_kind k)
{
	struct oe_addr lo, hi;
	bool open = false, first = true;

	for (size_t i = 0; i < n; i++) {
		if (v[i].lo.af != af || v[i].kind != k)
			continue;
		if (open && adjacent(&hi, &v[i].lo)) {
			hi = v[i].hi;
			continue;
		}
		if (open) {
			if (first)
				oe_buf_printf(out, "add element inet %s %s%c {", KERN_TRAP_TABLE,
					      range_set(k), af == AF_INET ? '4' : '6');
			put_range(out, &lo, &hi, &first);
		}
		lo = v[i].lo;
		hi = v[i].hi;
		open = true;
	}
	if (open) {
		if (first)
			oe_buf_printf(out, "add element inet %s %s%c {", KERN_TRAP_TABLE,
				      range_set(k), af == AF_INET ? '4' : '6');
		put_range(out, &lo, &hi, &first);
	}
	if (!first)
		oe_buf_puts(out, " }\n");
}

void kern_rules_render_ranges(const struct kern_range *v, size_t n, struct oe_buf *out)
{
	static const enum kern_range_kind kinds[] = { KERN_RANGE_CLEAR, KERN_RANGE_BLOCK,
						      KERN_RANGE_PRIVATE };

	for (int f = 0; f < 2; f++) {
		int af = f ? AF_INET6 : AF_INET;

		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			oe_buf_printf(out, "flush set inet %s %s%c\n", KERN_TRAP_TABLE,
				      range_set(kinds[i]), f ? '6' : '4');
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			put_elements(out, v, n, af, kinds[i]);
	}
}

static void put_sets(const struct kern_rules_conf *c, struct oe_buf *out)
{
	for (int f = 0; f < 2; f++) {
		const char *t = f ? "ipv6_addr" : "ipv4_addr";
		char fc = f ? '6' : '4';

		oe_buf_printf(out, "\tset clear%c { type %s; flags interval; }\n", fc, t);
		oe_buf_printf(out, "\tset block%c { type %s; flags interval; }\n", fc, t);
		oe_buf_printf(out, "\tset priv%c { type %s; flags interval; }\n", fc, t);
		for (int k = 0; k < KERN_NSHUNTS; k++) {
			oe_buf_printf(out, "\tset %s%c { type %s . %s; flags timeout; counter; "
				      "size %u; }\n", kern_shunt_set((enum kern_shunt)k), fc, t, t,
				      c->max_shunts ? c->max_shunts : 65536);
			oe_buf_printf(out, "\tset %sp%c { type %s . %s . inet_proto . inet_service "
				      ". inet_service; flags timeout; counter; size %u; }\n",
				      kern_shunt_set((enum kern_shunt)k), fc, t, t,
				      c->max_shunts ? c->max_shunts : 65536);
		}
	}
	oe_buf_puts(out, "\tcounter cleartext_in { }\n");
}

/* The per-family classification, in the order of DESIGN.md §3: ranges decided by the policy
 * alone, then decided pairs, then the trap. */
static void put_family_chain(const struct kern_rules_conf *c, int f, struct oe_buf *out)
{
	const char *ip = f ? "ip6" : "ip", *rej = f ? "icmpv6 type admin-prohibited" :
						      "icmp type admin-prohibited";
	char fc = f ? '6' : '4';

	oe_buf_printf(out, "\tchain out%c {\n", fc);
	if (f) /* neighbour discovery is below IPsec (RFC 4301 §4.4.1.1 ICMP): never trapped */
		oe_buf_puts(out, "\t\ticmpv6 type { nd-router-solicit, nd-router-advert, "
			    "nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } return\n");
	oe_buf_printf(out, "\t\t%s daddr @clear%c return\n", ip, fc);
	oe_buf_printf(out, "\t\t%s daddr @block%c reject with %s\n", ip, fc, rej);
	/* pairs with a Child SA: the postrouting chain sends them to the ESP queue */
	oe_buf_printf(out, "\t\t%s saddr . %s daddr @tun%c return\n", ip, ip, fc);
	oe_buf_printf(out, "\t\t%s saddr . %s daddr @pass%c return\n", ip, ip, fc);
	oe_buf_printf(out, "\t\t%s saddr . %s daddr @drop%c drop\n", ip, ip, fc);
	oe_buf_printf(out, "\t\t%s saddr . %s daddr @reject%c reject with %s\n", ip, ip, fc, rej);
	/* pairs decided per ports (port rules decide there); `th` is read only for protocols
	 * that have ports there */
	for (int k = 0; k <= KERN_SHUNT_REJECT; k++)
		oe_buf_printf(out, "\t\tmeta l4proto { tcp, udp, udplite, sctp } %s saddr . %s "
			      "daddr . meta l4proto . th sport . th dport @%sp%c %s%s\n", ip, ip,
			      kern_shunt_set((enum kern_shunt)k), fc,
			      k == KERN_SHUNT_PASS ? "return" : k == KERN_SHUNT_DROP ? "drop" :
			      "reject with ", k == KERN_SHUNT_REJECT ? rej : "");
	if (c->native_queue) /* no `bypass`: with nobody listening the kernel drops (fail closed) */
		oe_buf_printf(out, "\t\tqueue num %u\n", c->queue);
	else /* the OE_TRAP chains queue what carries this mark */
		oe_buf_printf(out, "\t\tmeta mark set meta mark and 0x%08x or 0x%08x\n", ~c->mask,
			      kern_trap_mark(c));
	oe_buf_puts(out, "\t}\n");
}

/* Outbound packets of tunnel pairs go to the ESP queue after routing: postrouting (not the
 * output chain) so the held packets the trap queue releases pass here too. Priority -160:
 * before iptables' mangle POSTROUTING, where the xt backend's OE_ESPOUT jump sits. */
static void put_esp_chains(const struct kern_rules_conf *c, struct oe_buf *out)
{
	oe_buf_printf(out, "\tchain post {\n\t\ttype filter hook postrouting priority -160; "
		      "policy accept;\n\t\tmeta mark and 0x%08x == 0x%08x return\n", c->mask,
		      c->mark & c->mask);
	for (int f = 0; f < 2; f++) {
		const char *ip = f ? "ip6" : "ip";
		/* TCP's MSS lowered by the ESP overhead on a 1500-octet path (outer header, ESP
		 * header, IV, trailer, ICV: 57 / 77 octets): the queue cannot send ICMP too-big
		 * back into our own stack, and IPv6 outer packets cannot be fragmented for a
		 * local TCP sender, so full-sized segments would never arrive */
		unsigned mss = f ? 1500 - 40 - 20 - 77 : 1500 - 20 - 20 - 57;

		oe_buf_printf(out, "\t\t%s saddr . %s daddr @tun%c tcp flags & (syn | rst) == syn "
			      "tcp option maxseg size > %u tcp option maxseg size set %u\n", ip, ip,
			      f ? '6' : '4', mss, mss);
		if (c->native_queue)
			oe_buf_printf(out, "\t\t%s saddr . %s daddr @tun%c queue num %u\n", ip, ip,
				      f ? '6' : '4', c->esp_queue);
		else
			oe_buf_printf(out, "\t\t%s saddr . %s daddr @tun%c meta mark set meta mark "
				      "and 0x%08x or 0x%08x\n", ip, ip, f ? '6' : '4', ~c->mask,
				      kern_esp_mark(c));
	}
	oe_buf_puts(out, "\t}\n");
}

/* Inbound ESP goes to the ESP queue: raw (IP protocol 50), and in UDP to port 4500 when the
 * four octets after the UDP header are not zero (RFC 3948 §2.1: an SPI is never 0; zeros are
 * the non-ESP marker of IKE, §2.2) and there is more than one octet (a 9-octet datagram is a
 * NAT keepalive, §2.3): IKE and keepalives go on to the agent's socket. Without an ESP queue
 * raw ESP passes and ESP in UDP reaches the socket, which drops it. */
static void put_esp_in(const struct kern_rules_conf *c, struct oe_buf *out)
{
	static const char *const match[2] = { "meta l4proto esp",
					      "udp dport 4500 udp length > 9 @th,64,32 != 0" };

	for (int i = 0; i < 2; i++) {
		if (!c->esp_queue) {
			if (i == 0)
				oe_buf_printf(out, "\t\t%s return\n", match[i]);
		} else if (c->native_queue) {
			oe_buf_printf(out, "\t\t%s queue num %u\n", match[i], c->esp_queue);
		} else {
			oe_buf_printf(out, "\t\t%s meta mark set meta mark and 0x%08x or 0x%08x "
				      "return\n", match[i], ~c->mask, kern_esp_mark(c));
		}
	}
}

/* Inbound cleartext from a `private` range (no tunnel with that peer: the tun lines come
 * first) is dropped and counted; a few per second also go to the trap queue, marked, so the
 * agent negotiates towards the sender if it publishes a key (DESIGN.md §5, E*): the agent
 * always drops them. The limit bounds what a spoofing sender makes the agent do. */
static void put_private_in(const struct kern_rules_conf *c, struct oe_buf *out)
{
	for (int f = 0; f < 2; f++) {
		const char *ip = f ? "ip6" : "ip";
		char fc = f ? '6' : '4';

		oe_buf_printf(out, "\t\t%s saddr @priv%c limit rate 20/second burst 20 packets "
			      "counter name \"cleartext_in\" meta mark set meta mark and 0x%08x or "
			      "0x%08x ", ip, fc, ~c->mask, kern_trapin_mark(c));
		if (c->native_queue)
			oe_buf_printf(out, "queue num %u\n", c->queue);
		else /* OE_TRAPIN queues it from filter INPUT */
			oe_buf_puts(out, "return\n");
		oe_buf_printf(out, "\t\t%s saddr @priv%c counter name \"cleartext_in\" drop\n", ip,
			      fc);
	}
}

void kern_rules_render(const struct kern_rules_conf *c, const struct kern_range *v, size_t n,
		       struct oe_buf *out)
{
	oe_buf_printf(out, "table inet %s {\n", KERN_TRAP_TABLE);
	put_sets(c, out);
	/* mangle priority: before iptables' filter OUTPUT, where the OE_TRAP jump sits */
	oe_buf_printf(out, "\tchain out {\n\t\ttype filter hook output priority -150; "
		      "policy accept;\n"
		      "\t\tmeta mark and 0x%08x == 0x%08x return\n"
		      "\t\toifname \"lo\" return\n"
		      "\t\tmeta nfproto ipv4 jump out4\n"
		      "\t\tmeta nfproto ipv6 jump out6\n\t}\n", c->mask, c->mark & c->mask);
	put_family_chain(c, 0, out);
	put_family_chain(c, 1, out);
	if (c->esp_queue)
		put_esp_chains(c, out);
	/* Inbound cleartext from private ranges and from peers we have a Child SA with (DESIGN.md
	 * §3); IKE and ESP may come in (ESP goes to the ESP queue when there is one), and so may
	 * what we send ourselves over loopback (our ICMP errors among it). */
	oe_buf_puts(out, "\tchain in {\n\t\ttype filter hook input priority -150; policy accept;\n"
		    "\t\tiifname \"lo\" return\n");
	put_esp_in(c, out);
	oe_buf_puts(out, "\t\ticmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, "
		    "nd-neighbor-advert, nd-redirect } return\n"
		    "\t\tudp dport { 500, 4500 } return\n"
		    "\t\tip daddr . ip saddr @tun4 counter name \"cleartext_in\" drop\n"
		    "\t\tip6 daddr . ip6 saddr @tun6 counter name \"cleartext_in\" drop\n");
	put_private_in(c, out);
	oe_buf_puts(out, "\t}\n}\n");
	kern_rules_render_ranges(v, n, out);
}

/* `list set` prints "elements = { A . B [. P . S . D] counter packets N bytes M timeout T
 * expires E, … }" (nft's own output, still parsed defensively: a key part that does not parse
 * skips the element). The protocol may be a name or a number. */
static bool key_part(struct kern_shunt_elem *e, int i, const char *p, size_t n)
{
	unsigned v;

	switch (i) {
	case 0:
		return oe_addr_parse(&e->src, p, n);
	case 1:
		return oe_addr_parse(&e->dst, p, n);
	case 2:
		return oe_proto_parse(p, n, &e->proto) ||
		       (oe_decimal_parse(p, n, 255, &v) && (e->proto = (uint8_t)v, true));
	case 3:
		return oe_port_parse(p, n, &e->sport);
	case 4:
		return oe_port_parse(p, n, &e->dport);
	default:
		return false;
	}
}

void kern_shunt_parse_listing(const char *text, enum kern_shunt k,
			      void (*fn)(void *ctx, enum kern_shunt k,
					 const struct kern_shunt_elem *e),
			      void *ctx)
{
	const char *p = text ? strstr(text, "elements = {") : NULL;
	struct kern_shunt_elem e;
	int part = 0;	       /* key parts read */
	bool dot = false;      /* the last token was '.': another key part follows */
	bool bad = false, want_count = false;

	if (!p)
		return;
	p += 12;
	memset(&e, 0, sizeof(e));
	for (;;) {
		size_t n;
		bool end, last;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		n = strcspn(p, " \t\n,}");
		end = p[n] == ',' || p[n] == '}';
		last = p[n] == '}' || !p[n];
		if (n == 1 && *p == '.')
			dot = true;
		else if (n && (part == 0 || dot)) {
			bad = bad || !key_part(&e, part, p, n);
			part++;
			dot = false;
		} else if (n && want_count) {
			e.packets = strtoull(p, NULL, 10);
			want_count = false;
		} else if (n) {
			want_count = n == 7 && memcmp(p, "packets", 7) == 0;
		}
		if (end || last) {
			if (part >= 2 && part != 3 && part != 4 && !bad)
				fn(ctx, k, &e);
			memset(&e, 0, sizeof(e));
			part = 0;
			dot = bad = want_count = false;
		}
		if (last)
			return;
		p += n + (end ? 1 : 0);
	}
}
