/* The trap path's pure kernel-side pieces: the range sets rendered for random policies give
 * exactly the userspace matcher's answer (parsed back from the nft text and checked at rule
 * boundaries and random addresses, with random protocols and ports); the table text; the
 * shunt listing parser; packet header parsing; ICMP errors. */
#include "flow_int.h"
#include "kern_rules_int.h"
#include "t.h"

#include <netinet/in.h>

/* ---- the nft text parsed back -------------------------------------------------------------- */

struct iv {
	unsigned __int128 lo, hi;
};
struct kset {
	struct iv v[4096];
	size_t n;
};
enum { S_CLEAR4, S_BLOCK4, S_PRIV4, S_CLEAR6, S_BLOCK6, S_PRIV6, S_N };
static struct kset sets[S_N];

static unsigned __int128 val(const struct oe_addr *a)
{
	return a->af == AF_INET ? oe_addr_v4(a) : oe_addr_u128(a);
}

static int set_index(const char *name, size_t n)
{
	static const char *const names[S_N] = { "clear4", "block4", "priv4", "clear6", "block6",
						 "priv6" };

	for (int i = 0; i < S_N; i++)
		if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
			return i;
	return -1;
}

/* "add element inet oe_agent NAME { a-b, c, … }" lines; returns false on anything odd */
static bool parse_back(const char *text)
{
	const char *p = text;

	memset(sets, 0, sizeof(sets));
	while ((p = strstr(p, "add element inet oe_agent "))) {
		const char *name = p + 26, *q = strchr(name, ' ');
		int si = q ? set_index(name, (size_t)(q - name)) : -1;

		if (si < 0 || q[1] != '{')
			return false;
		p = q + 2;
		while (*p == ' ') {
			size_t n = strcspn(p + 1, ",} "), dash;
			struct oe_addr lo, hi;
			const char *tok = p + 1;

			dash = strcspn(tok, "-,} ");
			if (!oe_addr_parse(&lo, tok, dash))
				return false;
			hi = lo;
			if (dash < n && !oe_addr_parse(&hi, tok + dash + 1, n - dash - 1))
				return false;
			if (sets[si].n == 4096)
				return false;
			sets[si].v[sets[si].n++] = (struct iv){ val(&lo), val(&hi) };
			p = tok + n;
			if (*p == ',')
				p++;
			else if (*p == ' ' && p[1] == '}')
				break;
		}
	}
	return true;
}

static bool in_set(int si, const struct oe_addr *a)
{
	unsigned __int128 x = val(a);

	for (size_t i = 0; i < sets[si].n; i++)
		if (sets[si].v[i].lo <= x && x <= sets[si].v[i].hi)
			return true;
	return false;
}

/* ---- random policies ---------------------------------------------------------------------- */

static unsigned rnd(unsigned n)
{
	return (unsigned)random() % n;
}

static void rand_addr(struct oe_addr *a, int af)
{
	memset(a, 0, sizeof(*a));
	a->af = (uint8_t)af;
	if (af == AF_INET) { /* a crowded corner so rules overlap */
		a->b[0] = 10;
		a->b[1] = (uint8_t)rnd(4);
		a->b[2] = (uint8_t)rnd(256);
		a->b[3] = (uint8_t)rnd(256);
	} else {
		a->b[0] = 0x20;
		a->b[1] = 0x01;
		a->b[2] = 0x0d;
		a->b[3] = 0xb8;
		a->b[15] = (uint8_t)rnd(256);
		a->b[14] = (uint8_t)rnd(4);
		a->b[7] = (uint8_t)rnd(2);
	}
}

static struct pg_policy *rand_policy(struct oe_addr *bounds, size_t *nb)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;
	char line[128], as[OE_ADDRSTRLEN];
	int nrules = 1 + (int)rnd(40);

	*nb = 0;
	for (int i = 0; i < nrules; i++) {
		int af = rnd(3) ? AF_INET : AF_INET6;
		struct oe_addr a;
		unsigned len = af == AF_INET ? 8 + rnd(25) : 100 + rnd(29);
		struct oe_prefix pf;
		enum pg_group g = (enum pg_group)rnd(PG_NGROUPS);

		rand_addr(&a, af);
		pf = oe_prefix_of(&a, len);
		snprintf(line, sizeof(line), "%s/%u%s\n", oe_addr_str(&pf.addr, as), len,
			 rnd(5) == 0 ? (rnd(2) ? " tcp 0 22" : " udp 0 53") : "");
		pg_builder_parse(b, g, pg_group_name(g), line, strlen(line), NULL);
		bounds[(*nb)++] = pf.addr; /* the range's first address; its neighbours below */
	}
	pg_builder_add_implicit(b, NULL, 0);
	p = pg_compile(b, NULL);
	pg_builder_free(b);
	return p;
}

static void check_addr(const struct pg_policy *p, const struct oe_addr *a, int *bad)
{
	static const struct { uint8_t proto; uint16_t sport, dport; } keys[] = {
		{ 0, 0, 0 }, { 6, 40000, 22 }, { 17, 40000, 53 }, { 6, 1, 80 }, { 17, 22, 22 },
		{ 1, 0, 0 },
	};
	int f = a->af == AF_INET6 ? 3 : 0;
	bool clear = in_set(S_CLEAR4 + f, a), block = in_set(S_BLOCK4 + f, a),
	     priv = in_set(S_PRIV4 + f, a);

	if (clear + block + priv > 1)
		(*bad)++;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct pg_key k = { *a, keys[i].proto, keys[i].sport, keys[i].dport };
		enum pg_group g = pg_lookup_group(p, &k), g2;
		const struct pg_rule *r = pg_lookup(p, &k);

		g2 = r ? r->group : PG_CLEAR;
		if (g != g2 || (clear && g != PG_CLEAR && g != PG_CLEAR_OR_PRIVATE) ||
		    (block && g != PG_BLOCK) || (priv && g != PG_PRIVATE)) {
			char s[OE_ADDRSTRLEN];

			if (*bad < 5)
				printf("#   %s proto %u dport %u: kernel %s, matcher %s\n",
				       oe_addr_str(a, s), keys[i].proto, keys[i].dport,
				       clear ? "clear" :
				       block ? "block" : priv ? "private" : "trap",
				       pg_group_name(g));
			(*bad)++;
		}
	}
}

static void test_ranges_equal_matcher(void)
{
	int bad = 0, parsed_bad = 0;
	size_t decided = 0;

	srandom(4242);
	for (int round = 0; round < 300; round++) {
		struct oe_addr bounds[64];
		size_t nb;
		struct pg_policy *p = rand_policy(bounds, &nb);
		struct kern_range *v;
		size_t n;
		struct oe_buf text;

		T_CHECK_INT(oe_trap_ranges(p, &v, &n), 0);
		oe_buf_init(&text);
		kern_rules_render_ranges(v, n, &text);
		if (!parse_back(text.p))
			parsed_bad++;
		for (size_t i = 0; i < nb; i++) {
			struct oe_addr a = bounds[i];
			unsigned __int128 x = val(&a);

			check_addr(p, &a, &bad);
			if (x) { /* the address just below the range */
				if (a.af == AF_INET)
					oe_addr_from_v4(&a, (uint32_t)(x - 1));
				else
					oe_addr_from_u128(&a, x - 1);
				check_addr(p, &a, &bad);
			}
		}
		for (int i = 0; i < 200; i++) {
			struct oe_addr a;

			rand_addr(&a, rnd(2) ? AF_INET : AF_INET6);
			check_addr(p, &a, &bad);
			decided += in_set(a.af == AF_INET ? S_CLEAR4 : S_CLEAR6, &a) ||
				   in_set(a.af == AF_INET ? S_BLOCK4 : S_BLOCK6, &a);
		}
		oe_buf_free(&text);
		free(v);
		pg_policy_free(p);
	}
	T_CHECK_INT(parsed_bad, 0);
	T_CHECK_INT(bad, 0);
	T_CHECK(decided > 10000); /* most addresses are decided in the kernel, not trapped */
}

static void test_render_table(void)
{
	struct kern_rules_conf c = { 7, 0x4f450000, 0xffff0000, 100, false, 0 };
	struct kern_range v[3];
	struct oe_buf o;

	oe_addr_from_v4(&v[0].lo, 0);
	oe_addr_from_v4(&v[0].hi, 0x0a0000ff);
	v[0].kind = KERN_RANGE_CLEAR;
	oe_addr_from_v4(&v[1].lo, 0x0a000100); /* adjacent, same kind: merged */
	oe_addr_from_v4(&v[1].hi, 0x0a0001ff);
	v[1].kind = KERN_RANGE_CLEAR;
	oe_addr_from_v4(&v[2].lo, 0x0a000200);
	oe_addr_from_v4(&v[2].hi, 0xffffffff);
	v[2].kind = KERN_RANGE_BLOCK;
	T_CHECK_INT(kern_trap_mark(&c), 0x4f460000);
	oe_buf_init(&o);
	kern_rules_render(&c, v, 3, &o);
	T_CHECK(strstr(o.p, "add element inet oe_agent clear4 { 0.0.0.0-10.0.1.255 }\n") != NULL);
	T_CHECK(strstr(o.p, "add element inet oe_agent block4 { 10.0.2.0-255.255.255.255 }") !=
		NULL);
	T_CHECK(strstr(o.p, "meta mark set meta mark and 0x0000ffff or 0x4f460000") != NULL);
	T_CHECK(strstr(o.p, "meta mark and 0xffff0000 == 0x4f450000 return") != NULL);
	T_CHECK(strstr(o.p, "size 100;") != NULL);
	T_CHECK(strstr(o.p, "ip saddr . ip daddr . meta l4proto . th sport . th dport @dropp4 drop")
		!= NULL);
	T_CHECK(strstr(o.p, "queue") == NULL);
	/* inbound cleartext: tunnel peers dropped first; private senders rate-limited to the
	 * trap queue (marked for OE_TRAPIN), the rest dropped */
	T_CHECK_INT(kern_trapin_mark(&c), 0x4f480000);
	T_CHECK(strstr(o.p, "ip daddr . ip saddr @tun4 counter") <
		strstr(o.p, "ip saddr @priv4 limit rate"));
	T_CHECK(strstr(o.p, "ip saddr @priv4 limit rate 20/second burst 20 packets counter name "
			"\"cleartext_in\" meta mark set meta mark and 0x0000ffff or 0x4f480000 "
			"return\n\t\tip saddr @priv4 counter name \"cleartext_in\" drop\n") != NULL);
	T_CHECK(strstr(o.p, "ip6 saddr @priv6 limit rate") != NULL);
	oe_buf_reset(&o);
	c.native_queue = true;
	kern_rules_render(&c, v, 3, &o);
	T_CHECK(strstr(o.p, "or 0x4f480000 queue num 7\n") != NULL);
	T_CHECK(strstr(o.p, "queue num 7\n") != NULL); /* never `bypass` */
	T_CHECK(strstr(o.p, "bypass") == NULL);
	oe_buf_free(&o);
}

/* Inbound ESP for the ESP queue: raw ESP and ESP in UDP 4500 (not IKE's non-ESP marker, not a
 * one-octet keepalive), both before IKE's own `udp dport { 500, 4500 } return`. */
static void test_render_esp_in(void)
{
	struct kern_rules_conf c = { 7, 0x4f450000, 0xffff0000, 100, false, 8 };
	const char *udp = "udp dport 4500 udp length > 9 @th,64,32 != 0 ";
	struct oe_buf o;
	const char *raw, *encap, *ike;

	oe_buf_init(&o);
	kern_rules_render(&c, NULL, 0, &o);
	raw = strstr(o.p, "meta l4proto esp meta mark set meta mark and 0x0000ffff or 0x4f470000 "
			  "return\n");
	encap = strstr(o.p, "udp dport 4500 udp length > 9 @th,64,32 != 0 meta mark set meta mark "
			    "and 0x0000ffff or 0x4f470000 return\n");
	ike = strstr(o.p, "udp dport { 500, 4500 } return\n");
	T_CHECK(raw && encap && ike && raw < encap && encap < ike);
	oe_buf_reset(&o);
	c.native_queue = true;
	kern_rules_render(&c, NULL, 0, &o);
	encap = strstr(o.p, "udp dport 4500 udp length > 9 @th,64,32 != 0 queue num 8\n");
	T_CHECK(encap && encap < strstr(o.p, "udp dport { 500, 4500 } return\n"));
	T_CHECK(strstr(o.p, "meta l4proto esp queue num 8\n") != NULL);
	oe_buf_reset(&o);
	c.esp_queue = 0; /* no ESP datapath: raw ESP passes, nothing marks ESP in UDP */
	kern_rules_render(&c, NULL, 0, &o);
	T_CHECK(strstr(o.p, "meta l4proto esp return\n") != NULL);
	T_CHECK(strstr(o.p, udp) == NULL);
	oe_buf_free(&o);
}

static int nseen;
static uint64_t seen_packets[4];
static char seen[4][100];

static void seen_cb(void *ctx, enum kern_shunt k, const struct kern_shunt_elem *e)
{
	char a[OE_ADDRSTRLEN], b[OE_ADDRSTRLEN];

	if (nseen < 4) {
		if (e->proto)
			snprintf(seen[nseen], sizeof(seen[0]), "%s . %s . %u . %u . %u",
				 oe_addr_str(&e->src, a), oe_addr_str(&e->dst, b), e->proto,
				 e->sport, e->dport);
		else
			snprintf(seen[nseen], sizeof(seen[0]), "%s . %s", oe_addr_str(&e->src, a),
				 oe_addr_str(&e->dst, b));
		seen_packets[nseen++] = e->packets;
	}
}

static void test_listing_parse(void)
{
	const char *one = "table inet oe_agent {\n\tset pass4 {\n\t\ttype ipv4_addr . ipv4_addr\n"
			  "\t\tflags timeout\n\t\tcounter\n\t\telements = { 192.0.2.1 . 192.0.2.30 "
			  "counter packets 3 bytes 252 timeout 15m expires 14m59s996ms,\n\t\t\t"
			  "     192.0.2.1 . 192.0.2.31 counter packets 0 bytes 0 timeout 4s "
			  "expires 3s }\n\t}\n}\n";
	const char *six = "elements = { 2001:db8::1 . 2001:db8::10 counter packets 12 bytes 1 "
			  "timeout 1s expires 1s }";

	nseen = 0;
	kern_shunt_parse_listing(one, KERN_SHUNT_PASS, seen_cb, NULL);
	T_CHECK_INT(nseen, 2);
	T_CHECK_STR(seen[0], "192.0.2.1 . 192.0.2.30");
	T_CHECK_INT(seen_packets[0], 3);
	T_CHECK_STR(seen[1], "192.0.2.1 . 192.0.2.31");
	T_CHECK_INT(seen_packets[1], 0);
	nseen = 0;
	kern_shunt_parse_listing(six, KERN_SHUNT_DROP, seen_cb, NULL);
	T_CHECK_INT(nseen, 1);
	T_CHECK_INT(seen_packets[0], 12);
	nseen = 0;
	kern_shunt_parse_listing("\t\telements = { 192.0.2.1 . 198.51.100.5 . udp . 40000 . "
				 "53 counter packets 7 bytes 1 timeout 10s expires 9s996ms, "
				 "192.0.2.1 . 198.51.100.5 . 6 . 1 . 22 counter packets 1 bytes 60 "
				 "}",
				 0, seen_cb, NULL);
	T_CHECK_INT(nseen, 2);
	T_CHECK_STR(seen[0], "192.0.2.1 . 198.51.100.5 . 17 . 40000 . 53");
	T_CHECK_INT(seen_packets[0], 7);
	T_CHECK_STR(seen[1], "192.0.2.1 . 198.51.100.5 . 6 . 1 . 22");
	nseen = 0;
	kern_shunt_parse_listing("elements = { garbage . 1.2.3.4 counter packets 1 }", 0, seen_cb,
				 NULL);
	kern_shunt_parse_listing("set pass4 { }", 0, seen_cb, NULL);
	T_CHECK_INT(nseen, 0);
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void test_packets_and_icmp(void)
{
	/* IPv4 UDP 192.0.2.1:40000 -> 192.0.2.2:53 */
	uint8_t u4[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
			   0x9c, 0x40, 0, 53, 0, 8, 0, 0 };
	/* IPv6 hop-by-hop then TCP 2001:db8::1 -> 2001:db8::2 port 22 */
	uint8_t t6[40 + 8 + 20] = { 0x60, 0, 0, 0, 0, 28, 0, 64 };
	uint8_t out[1280], ph[8] = { 0 };
	struct kern_pkt k;
	size_t n;
	uint32_t s;

	T_CHECK_INT(kern_pkt_parse(u4, sizeof(u4), &k), KERN_PKT_OK);
	T_CHECK_INT(k.proto, 17);
	T_CHECK_INT(k.sport, 40000);
	T_CHECK_INT(k.dport, 53);
	T_CHECK_INT(kern_pkt_parse(u4, 21, &k), KERN_PKT_TRUNCATED);
	u4[0] = 0x44;
	T_CHECK_INT(kern_pkt_parse(u4, sizeof(u4), &k), KERN_PKT_HDRLEN);
	u4[0] = 0x45;
	u4[6] = 0x00;
	u4[7] = 0x10; /* a later fragment: no ports */
	T_CHECK_INT(kern_pkt_parse(u4, 20, &k), KERN_PKT_OK);
	T_CHECK_INT(k.dport, 0);
	u4[7] = 0;
	T_CHECK_INT(kern_pkt_parse((const uint8_t *)"\x50", 1, &k), KERN_PKT_VERSION);

	t6[8 + 0] = 0x20, t6[8 + 1] = 0x01, t6[8 + 2] = 0x0d, t6[8 + 3] = 0xb8, t6[8 + 15] = 1;
	memcpy(t6 + 24, t6 + 8, 16);
	t6[24 + 15] = 2;
	t6[40] = 6; /* hop-by-hop: next header TCP, length 0 (8 octets) */
	t6[48 + 2] = 0, t6[48 + 3] = 22;
	T_CHECK_INT(kern_pkt_parse(t6, sizeof(t6), &k), KERN_PKT_OK);
	T_CHECK_INT(k.proto, 6);
	T_CHECK_INT(k.dport, 22);
	T_CHECK_INT(kern_pkt_parse(t6, 45, &k), KERN_PKT_TRUNCATED);

	n = kern_icmp_build(u4, sizeof(u4), out, sizeof(out));
	T_CHECK_INT(n, 20 + 8 + 28);
	T_CHECK_INT(out[20], 3);
	T_CHECK_INT(out[21], 13);
	T_CHECK(memcmp(out + 12, u4 + 16, 4) == 0); /* from the destination, to the sender */
	T_CHECK_INT(csum(out, 20, 0), 0xffff);
	T_CHECK_INT(csum(out + 20, n - 20, 0), 0xffff);

	n = kern_icmp_build(t6, sizeof(t6), out, sizeof(out));
	T_CHECK_INT(n, 40 + 8 + sizeof(t6));
	T_CHECK_INT(out[40], 1);
	T_CHECK_INT(out[41], 1);
	ph[2] = (uint8_t)((n - 40) >> 8);
	ph[3] = (uint8_t)(n - 40);
	ph[7] = 58;
	s = csum(out + 8, 32, 0);
	s = csum(ph, 8, s);
	T_CHECK_INT(csum(out + 40, n - 40, s), 0xffff);
	/* no error about an ICMP error */
	T_CHECK_INT(kern_icmp_build(out, n, out + 0, 0), 0);
}

int main(void)
{
	T_RUN(test_ranges_equal_matcher);
	T_RUN(test_render_table);
	T_RUN(test_render_esp_in);
	T_RUN(test_listing_parse);
	T_RUN(test_packets_and_icmp);
	return t_done();
}
