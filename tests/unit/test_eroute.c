/* Unit tests for the eroute table of kernel/: SAID text, add/replace/del/get, most-specific
 * lookup (by hand and against a naive linear scan on random tables), the KLIPS listing and
 * its JSON form, remove_if, and a timed table of one million entries. */
#include "kernel.h"
#include "oe_time.h"
#include "t.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

/* --- helpers ----------------------------------------------------------------------------- */

static struct oe_prefix P(const char *s)
{
	struct oe_prefix p;
	const char *why;

	if (oe_prefix_parse(&p, s, strlen(s), NULL, &why) < 0) {
		printf("# bad prefix in test: %s\n", s);
		abort();
	}
	return p;
}

static struct oe_addr A(const char *s)
{
	struct oe_addr a;

	if (!oe_addr_parse(&a, s, strlen(s)))
		abort();
	return a;
}

static struct oe_sel SEL(const char *src, const char *dst, uint8_t proto, uint16_t sport,
			 uint16_t dport)
{
	struct oe_sel s = { .src = P(src), .dst = P(dst), .proto = proto, .sport = sport,
			    .dport = dport };

	return s;
}

/* A pointer to a selector made on the spot (a compound literal in the caller's block). */
#define SELP(...) (&(struct oe_sel[]){ SEL(__VA_ARGS__) }[0])

static struct kern_eroute ER(struct oe_sel sel, const char *said, uint64_t packets)
{
	struct kern_eroute e;

	memset(&e, 0, sizeof(e));
	e.sel = sel;
	e.packets = packets;
	if (!kern_said_parse(said, strlen(said), &e.said)) {
		printf("# bad said in test: %s\n", said);
		abort();
	}
	return e;
}

static const char *said_of(const struct kern_eroute *e, char buf[static KERN_SAIDSTRLEN])
{
	return e ? kern_said_str(&e->said, buf) : "(none)";
}

static const char *look(struct kern_eroute_table *t, const char *src, const char *dst,
			uint8_t proto, uint16_t sport, uint16_t dport)
{
	static char buf[KERN_SAIDSTRLEN];
	struct oe_addr s = A(src), d = A(dst);

	return said_of(kern_eroute_lookup(t, &s, &d, proto, sport, dport), buf);
}

/* --- SAIDs ------------------------------------------------------------------------------- */

static void said_round_trip(const char *in, const char *want)
{
	struct kern_said s, s2;
	char buf[KERN_SAIDSTRLEN];

	memset(&s, 0, sizeof(s));
	T_CHECK(kern_said_parse(in, strlen(in), &s));
	T_CHECK_STR(kern_said_str(&s, buf), want);
	T_CHECK(kern_said_parse(buf, strlen(buf), &s2));
	T_CHECK(kern_said_eq(&s, &s2));
}

static void test_said(void)
{
	static const char *const rejects[] = {
		"tun0x@1.2.3.4", "esp0xZZ@192.0.2.1", "%bogus", "%trapx", "%tra", "", "%",
		"tun0x100000000@1.2.3.4", "tun0x123456789@1.2.3.4", "tun0x0@1.2.3.4",
		"tun0x00000000@1.2.3.4", "tun0x1002", "tun0x1002@", "tun0x1002@1.2.3",
		"tun0x1002@1.2.3.4 ", " tun0x1002@1.2.3.4", "TUN0x1002@1.2.3.4", "tun1002@1.2.3.4",
		"tun0X1002@1.2.3.4", "ah0x1002@1.2.3.4", "tun0x-1@1.2.3.4", "tun0x1002@@1.2.3.4",
		"tun0x1002@2001:db8::1%eth0", "esp0x1002@1.2.3.4/32", "%TRAP", "tun", "esp0x",
	};
	struct kern_said s, keep = { .kind = KERN_SAID_HOLD };

	said_round_trip("%trap", "%trap");
	said_round_trip("%hold", "%hold");
	said_round_trip("%pass", "%pass");
	said_round_trip("%drop", "%drop");
	said_round_trip("%reject", "%reject");
	said_round_trip("tun0x1002@10.19.75.145", "tun0x1002@10.19.75.145");
	said_round_trip("esp0xdeadbeef@2001:db8::1", "esp0xdeadbeef@2001:db8::1");
	said_round_trip("esp0xDEADBEEF@2001:DB8:0::1", "esp0xdeadbeef@2001:db8::1");
	said_round_trip("tun0x00001002@192.0.2.45", "tun0x1002@192.0.2.45");
	said_round_trip("tun0xffffffff@198.51.100.7", "tun0xffffffff@198.51.100.7");
	said_round_trip("tun0x1@0.0.0.0", "tun0x1@0.0.0.0");
	T_CHECK(kern_said_parse("tun0x1002@192.0.2.45", 20, &s));
	T_CHECK(s.kind == KERN_SAID_TUN && s.spi == 0x1002 && s.edst.af == AF_INET);
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		s = keep;
		if (kern_said_parse(rejects[i], strlen(rejects[i]), &s))
			printf("#   accepted '%s'\n", rejects[i]);
		T_CHECK(s.kind == KERN_SAID_HOLD); /* untouched on failure */
	}
	/* Counted strings: a NUL inside, or a valid text followed by more. */
	T_CHECK(!kern_said_parse("%trap\0", 6, &s));
	T_CHECK(!kern_said_parse("tun0x1@1.2.3.4\0", 15, &s));
	T_CHECK(kern_said_parse("%trapdoor", 5, &s) && s.kind == KERN_SAID_TRAP);
	T_CHECK_STR(kern_said_kind_name(KERN_SAID_REJECT), "reject");
	T_CHECK_STR(kern_said_kind_name(KERN_SAID_TUN), "tun");
}

/* --- add, replace, delete, get ----------------------------------------------------------- */

static void test_add_del_get(void)
{
	struct kern_eroute_table *t = kern_eroute_table_new();
	struct kern_eroute e = ER(SEL("10.2.1.0/24", "0.0.0.0/0", 0, 0, 0), "%trap", 10), *g;
	struct oe_sel s = SEL("10.2.1.77/24", "0.0.0.0/0", 0, 0, 0); /* host bits: same sel */
	char buf[KERN_SAIDSTRLEN];

	T_CHECK(t != NULL);
	T_CHECK_INT(kern_eroute_add(t, &e), 0);
	T_CHECK_INT(kern_eroute_count(t), 1);
	g = kern_eroute_get(t, &s);
	T_CHECK(g && g->packets == 10);
	/* Replace keeps the count when the new entry's is 0, takes it otherwise. */
	e = ER(s, "tun0x1002@10.19.75.145", 0);
	snprintf(e.reason, sizeof(e.reason), "private");
	T_CHECK_INT(kern_eroute_add(t, &e), 0);
	T_CHECK_INT(kern_eroute_count(t), 1);
	g = kern_eroute_get(t, &s);
	T_CHECK(g && g->packets == 10);
	T_CHECK_STR(said_of(g, buf), "tun0x1002@10.19.75.145");
	T_CHECK_STR(g ? g->reason : "", "private");
	T_CHECK_STR(g ? (oe_prefix_str(&g->sel.src, (char[OE_PREFIXSTRLEN]){ 0 })) : "",
		    "10.2.1.0/24");
	e.packets = 3;
	T_CHECK_INT(kern_eroute_add(t, &e), 0);
	T_CHECK(kern_eroute_get(t, &s)->packets == 3);
	/* Entries differing only in proto or a port are distinct. */
	e = ER(SEL("10.2.1.0/24", "0.0.0.0/0", 6, 0, 0), "%pass", 0);
	T_CHECK_INT(kern_eroute_add(t, &e), 0);
	e.sel.dport = 22;
	T_CHECK_INT(kern_eroute_add(t, &e), 0);
	T_CHECK_INT(kern_eroute_count(t), 3);
	T_CHECK(kern_eroute_get(t, SELP("10.2.1.0/24", "0.0.0.0/0", 6, 0, 22)) != NULL);
	T_CHECK(kern_eroute_get(t, SELP("10.2.1.0/24", "0.0.0.0/0", 6, 22, 0)) == NULL);
	T_CHECK(kern_eroute_get(t, SELP("10.2.1.0/25", "0.0.0.0/0", 0, 0, 0)) == NULL);
	/* Delete. */
	T_CHECK_INT(kern_eroute_del(t, SELP("10.2.1.0/24", "0.0.0.0/0", 6, 0, 0)), 0);
	T_CHECK_INT(kern_eroute_del(t, SELP("10.2.1.0/24", "0.0.0.0/0", 6, 0, 0)), -ENOENT);
	T_CHECK_INT(kern_eroute_del(t, SELP("2001:db8::/32", "::/0", 0, 0, 0)), -ENOENT);
	T_CHECK_INT(kern_eroute_count(t), 2);
	T_CHECK(kern_eroute_get(t, &s) != NULL);
	/* Mixed families and unset families are refused. */
	e = ER(SEL("10.0.0.0/8", "2001:db8::/32", 0, 0, 0), "%pass", 0);
	T_CHECK_INT(kern_eroute_add(t, &e), -EINVAL);
	memset(&e.sel, 0, sizeof(e.sel));
	T_CHECK_INT(kern_eroute_add(t, &e), -EINVAL);
	T_CHECK_INT(kern_eroute_count(t), 2);
	kern_eroute_table_free(t);
	kern_eroute_table_free(NULL);
}

/* --- lookup by hand ---------------------------------------------------------------------- */

static void add(struct kern_eroute_table *t, struct oe_sel s, const char *said)
{
	struct kern_eroute e = ER(s, said, 0);

	T_CHECK_INT(kern_eroute_add(t, &e), 0);
}

static void test_lookup_specificity(void)
{
	struct kern_eroute_table *t = kern_eroute_table_new();

	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 0, 0, 0), "(none)");
	add(t, SEL("0.0.0.0/0", "10.0.0.0/8", 0, 0, 0), "%trap");
	add(t, SEL("10.1.0.0/16", "10.0.0.0/8", 0, 0, 0), "%pass");
	add(t, SEL("0.0.0.0/0", "10.1.0.0/16", 0, 0, 0), "%drop");
	/* The longer dst wins even against a longer src. */
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 0, 0, 0), "%drop");
	T_CHECK_STR(look(t, "10.1.2.3", "10.2.0.1", 0, 0, 0), "%pass");
	T_CHECK_STR(look(t, "192.0.2.1", "10.2.0.1", 0, 0, 0), "%trap");
	T_CHECK_STR(look(t, "192.0.2.1", "11.0.0.1", 0, 0, 0), "(none)");
	/* Proto and ports: score proto 4 + dport 2 + sport 1, after both lengths. */
	add(t, SEL("0.0.0.0/0", "10.1.0.0/16", 6, 0, 22), "%reject");
	add(t, SEL("0.0.0.0/0", "10.1.0.0/16", 6, 0, 0), "%hold");
	add(t, SEL("0.0.0.0/0", "10.1.0.0/16", 6, 1000, 0), "esp0x99@192.0.2.9");
	add(t, SEL("0.0.0.0/0", "10.1.0.0/16", 6, 1000, 22), "tun0x77@192.0.2.7");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 6, 1000, 22), "tun0x77@192.0.2.7");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 6, 1001, 22), "%reject");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 6, 1000, 80), "esp0x99@192.0.2.9");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 6, 5, 80), "%hold");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 17, 1000, 22), "%drop");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 0, 0, 0), "%drop");
	/* A longer src with a wildcard pattern beats a shorter src with exact ports. */
	add(t, SEL("10.1.2.3/32", "10.1.0.0/16", 0, 0, 0), "%pass");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 6, 1000, 22), "%pass");
	/* A /32 dst beats everything. */
	add(t, SEL("0.0.0.0/0", "10.1.5.5/32", 0, 0, 0), "tun0x1@192.0.2.1");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 6, 1000, 22), "tun0x1@192.0.2.1");
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.6", 6, 1000, 22), "%pass");
	/* IPv4 and IPv6 never mix, however wide the prefixes. */
	T_CHECK_STR(look(t, "2001:db8::1", "2001:db8::2", 0, 0, 0), "(none)");
	add(t, SEL("::/0", "::/0", 0, 0, 0), "%trap");
	add(t, SEL("::/0", "2001:db8::/32", 17, 0, 53), "%pass");
	T_CHECK_STR(look(t, "2001:db8::1", "2001:db8::2", 0, 0, 0), "%trap");
	T_CHECK_STR(look(t, "2001:db8::1", "2001:db8::2", 17, 999, 53), "%pass");
	T_CHECK_STR(look(t, "2001:db8::1", "::ffff:10.1.5.5", 0, 0, 0), "%trap");
	T_CHECK_STR(look(t, "192.0.2.1", "11.0.0.1", 0, 0, 0), "(none)");
	T_CHECK_STR(look(t, "10.1.2.3", "2001:db8::2", 0, 0, 0), "(none)");
	T_CHECK_STR(look(t, "2001:db8::1", "10.1.5.5", 0, 0, 0), "(none)");
	/* After deleting the most specific entries the next ones answer again. */
	T_CHECK_INT(kern_eroute_del(t, SELP("0.0.0.0/0", "10.1.5.5/32", 0, 0, 0)), 0);
	T_CHECK_INT(kern_eroute_del(t, SELP("10.1.2.3/32", "10.1.0.0/16", 0, 0, 0)), 0);
	T_CHECK_STR(look(t, "10.1.2.3", "10.1.5.5", 6, 1000, 22), "tun0x77@192.0.2.7");
	kern_eroute_table_free(t);
}

/* Many entries with one destination prefix (more than a dst record lists), all deleted, the
 * record's slot reused by another prefix, then the first prefix again. */
static void test_crowded_dst(void)
{
	struct kern_eroute_table *t = kern_eroute_table_new();
	char src[32], want[KERN_SAIDSTRLEN];

	for (unsigned i = 1; i <= 20; i++) {
		struct kern_eroute e;

		snprintf(src, sizeof(src), "192.0.2.%u/32", i);
		snprintf(want, sizeof(want), "tun0x%x@198.51.100.1", i);
		e = ER(SEL(src, "198.51.100.0/24", 0, 0, 0), want, 0);
		T_CHECK_INT(kern_eroute_add(t, &e), 0);
	}
	add(t, SEL("0.0.0.0/0", "198.51.100.0/24", 0, 0, 0), "%trap");
	T_CHECK_STR(look(t, "192.0.2.9", "198.51.100.7", 0, 0, 0), "tun0x9@198.51.100.1");
	T_CHECK_STR(look(t, "192.0.2.20", "198.51.100.7", 0, 0, 0), "tun0x14@198.51.100.1");
	T_CHECK_STR(look(t, "192.0.2.21", "198.51.100.7", 0, 0, 0), "%trap");
	for (unsigned i = 1; i <= 20; i++) {
		snprintf(src, sizeof(src), "192.0.2.%u", i);
		T_CHECK_INT(kern_eroute_del(t, SELP(src, "198.51.100.0/24", 0, 0, 0)), 0);
		T_CHECK_STR(look(t, src, "198.51.100.7", 0, 0, 0), "%trap");
	}
	T_CHECK_INT(kern_eroute_del(t, SELP("0.0.0.0/0", "198.51.100.0/24", 0, 0, 0)), 0);
	T_CHECK_STR(look(t, "192.0.2.1", "198.51.100.7", 0, 0, 0), "(none)");
	add(t, SEL("0.0.0.0/0", "203.0.113.0/24", 0, 0, 0), "%drop");
	add(t, SEL("192.0.2.1/32", "198.51.100.0/24", 17, 0, 53), "%pass");
	T_CHECK_STR(look(t, "192.0.2.1", "198.51.100.7", 17, 9, 53), "%pass");
	T_CHECK_STR(look(t, "192.0.2.1", "198.51.100.7", 6, 9, 53), "(none)");
	T_CHECK_STR(look(t, "192.0.2.1", "203.0.113.7", 6, 9, 53), "%drop");
	T_CHECK_INT(kern_eroute_count(t), 2);
	kern_eroute_table_free(t);
}

/* --- lookup against a naive reference on random tables ----------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void) /* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* The reference: every entry as masks over two 64-bit halves of each address, kept in
 * decreasing (dst len, src len, pattern score) order, so the first match is the answer. */
struct ref {
	uint64_t dn[2], dm[2], sn[2], sm[2];
	uint32_t rank;
	uint8_t af, proto;
	uint16_t sport, dport;
	bool live;
	struct oe_sel sel;
};

static void halves(const struct oe_addr *a, uint64_t h[2])
{
	h[0] = h[1] = 0;
	for (int i = 0; i < 16; i++)
		h[i / 8] = h[i / 8] << 8 | a->b[i];
}

static void mask_halves(unsigned len, uint64_t m[2])
{
	m[0] = len == 0 ? 0 : len >= 64 ? UINT64_MAX : UINT64_MAX << (64 - len);
	m[1] = len <= 64 ? 0 : len >= 128 ? UINT64_MAX : UINT64_MAX << (128 - len);
}

static void ref_make(struct ref *r, const struct oe_sel *s)
{
	memset(r, 0, sizeof(*r));
	r->sel = *s;
	r->af = s->dst.addr.af;
	halves(&s->dst.addr, r->dn);
	halves(&s->src.addr, r->sn);
	mask_halves(s->dst.len, r->dm);
	mask_halves(s->src.len, r->sm);
	r->proto = s->proto;
	r->sport = s->sport;
	r->dport = s->dport;
	r->rank = (uint32_t)s->dst.len << 16 | (uint32_t)s->src.len << 8 |
		  (s->proto ? 4u : 0) | (s->dport ? 2u : 0) | (s->sport ? 1u : 0);
	r->live = true;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return x->rank < y->rank ? 1 : x->rank > y->rank ? -1 : 0;
}

static const struct ref *ref_lookup(const struct ref *v, size_t n, const struct oe_addr *src,
				    const struct oe_addr *dst, uint8_t proto, uint16_t sport,
				    uint16_t dport)
{
	uint64_t d[2], s[2];

	halves(dst, d);
	halves(src, s);
	for (size_t i = 0; i < n; i++) {
		const struct ref *r = &v[i];

		if (r->live && r->af == dst->af && (d[0] & r->dm[0]) == r->dn[0] &&
		    (d[1] & r->dm[1]) == r->dn[1] && (s[0] & r->sm[0]) == r->sn[0] &&
		    (s[1] & r->sm[1]) == r->sn[1] && (!r->proto || r->proto == proto) &&
		    (!r->sport || r->sport == sport) && (!r->dport || r->dport == dport))
			return r;
	}
	return NULL;
}

/* Addresses from a small universe so that prefixes overlap a lot: entries have destinations in
 * 10.0.0.0/20 and 10.2.0.0/20 (2001:db8::/116 and 2001:dba::/116) and sources in 10.1.0.0/22
 * (2001:db8:1::/118); packets go to twice as wide destination ranges, so lookups both hit and
 * miss, and the destinations fall in different slots of the table's near masks. */
static struct oe_addr rnd_addr(int af, bool dst, bool packet)
{
	struct oe_addr a;
	uint32_t low = (uint32_t)rnd() & (dst ? (packet ? 0x1fffu : 0xfffu) : 0x3ffu);
	unsigned slot = dst ? pick(2) * 2 : 0; /* two /16s (/32s for IPv6) that differ */

	if (af == AF_INET) {
		oe_addr_from_v4(&a, (dst ? 0x0a000000u : 0x0a010000u) | slot << 16 | low);
		return a;
	}
	a = A(dst ? "2001:db8::" : "2001:db8:1::");
	a.b[3] = (uint8_t)(a.b[3] + slot);
	a.b[14] = (uint8_t)(low >> 8);
	a.b[15] = (uint8_t)low;
	return a;
}

/* Lengths, with destinations wider than the universe (which match every packet) rare. */
static unsigned rnd_len(int af, bool dst)
{
	static const unsigned v4d[] = { 20, 21, 22, 24, 26, 28, 30, 31, 32, 32 };
	static const unsigned v4w[] = { 0, 8, 16, 18 };
	static const unsigned v4s[] = { 0, 0, 16, 22, 24, 28, 32, 32 };
	static const unsigned v6d[] = { 116, 118, 120, 124, 126, 127, 128, 128 };
	static const unsigned v6w[] = { 0, 32, 64, 112 };
	static const unsigned v6s[] = { 0, 0, 48, 118, 120, 128, 128 };
	bool v4 = af == AF_INET;

	if (dst && pick(50) == 0)
		return v4 ? v4w[pick(4)] : v6w[pick(4)];
	if (dst)
		return v4 ? v4d[pick(10)] : v6d[pick(8)];
	return v4 ? v4s[pick(8)] : v6s[pick(7)];
}

static const uint8_t protos[] = { 0, 0, 0, 6, 17, 1 };
static const uint16_t sports[] = { 0, 0, 0, 0, 1000, 2000 };
static const uint16_t dports[] = { 0, 0, 0, 22, 53, 80 };

static struct oe_sel rnd_sel(void)
{
	int af = pick(4) == 0 ? AF_INET6 : AF_INET;
	struct oe_addr s = rnd_addr(af, false, false), d = rnd_addr(af, true, false);
	unsigned dl = rnd_len(af, true), sl = rnd_len(af, false), wide = af == AF_INET ? 20 : 116;
	struct oe_sel sel;

	/* Destinations wider than the universe match every packet: pin their source to a host. */
	if (dl < wide)
		sl = af == AF_INET ? 32 : 128;
	sel = (struct oe_sel){ .src = oe_prefix_of(&s, sl), .dst = oe_prefix_of(&d, dl),
			       .proto = protos[pick(sizeof(protos))] };

	if (sel.proto == 6 || sel.proto == 17) {
		sel.sport = sports[pick(sizeof(sports) / sizeof(sports[0]))];
		sel.dport = dports[pick(sizeof(dports) / sizeof(dports[0]))];
	}
	return sel;
}

/* Compares n random lookups; returns the number of hits (for the log line). */
static unsigned compare_lookups(struct kern_eroute_table *t, const struct ref *refs, size_t nref,
				unsigned n)
{
	unsigned hits = 0, bad = 0;

	for (unsigned i = 0; i < n; i++) {
		int af = pick(4) == 0 ? AF_INET6 : AF_INET;
		struct oe_addr s = rnd_addr(af, false, true), d = rnd_addr(af, true, true);
		uint8_t proto = protos[pick(sizeof(protos))];
		uint16_t sp = pick(3) ? sports[pick(6)] : (uint16_t)(1 + pick(3000));
		uint16_t dp = pick(3) ? dports[pick(6)] : (uint16_t)(1 + pick(100));
		const struct ref *r = ref_lookup(refs, nref, &s, &d, proto, sp, dp);
		struct kern_eroute *e = kern_eroute_lookup(t, &s, &d, proto, sp, dp);
		struct kern_eroute *want = r ? kern_eroute_get(t, &r->sel) : NULL;

		hits += r != NULL;
		if (e != want && bad++ < 5) {
			char a[OE_ADDRSTRLEN], b[OE_ADDRSTRLEN], x[OE_PREFIXSTRLEN];

			printf("#   lookup %s -> %s proto %u %u/%u: got %s, want %s\n",
			       oe_addr_str(&s, a), oe_addr_str(&d, b), proto, sp, dp,
			       e ? oe_prefix_str(&e->sel.dst, x) : "none",
			       r ? oe_prefix_str(&r->sel.dst, x) : "none");
		}
	}
	T_CHECK_INT(bad, 0);
	return hits;
}

static bool spi_mod3(void *ctx, const struct kern_eroute *e)
{
	(void)ctx;
	return e->said.spi % 3 == 0;
}

static bool spi_not_mod5(void *ctx, const struct kern_eroute *e)
{
	(void)ctx;
	return e->said.spi % 5 != 0;
}

static void refs_sync(struct kern_eroute_table *t, struct ref *refs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].live && !kern_eroute_get(t, &refs[i].sel))
			refs[i].live = false;
}

static void test_lookup_random(void)
{
	enum { NENT = 10000, NLOOK = 100000, NLOOK2 = 30000, NLOOK3 = 20000 };
	struct kern_eroute_table *t = kern_eroute_table_new();
	struct ref *refs = calloc(NENT, sizeof(*refs));
	uint64_t seed = 0x0e5eed2026ull, t0 = oe_now_ms();
	const char *env = getenv("OE_TEST_SEED");
	size_t n = 0;
	unsigned hits, hits2, hits3;

	if (env)
		seed = strtoull(env, NULL, 0);
	rng_state = seed;
	while (n < NENT) {
		struct kern_eroute e;

		memset(&e, 0, sizeof(e));
		e.sel = rnd_sel();
		if (kern_eroute_get(t, &e.sel))
			continue;
		e.said.kind = KERN_SAID_TUN;
		e.said.spi = (uint32_t)n + 1;
		e.said.edst = e.sel.dst.addr;
		T_CHECK_INT(kern_eroute_add(t, &e), 0);
		ref_make(&refs[n++], &e.sel);
	}
	T_CHECK_INT(kern_eroute_count(t), NENT);
	qsort(refs, n, sizeof(*refs), ref_cmp);
	hits = compare_lookups(t, refs, n, NLOOK);
	/* Delete a third through remove_if and a few one by one; shapes and dst groups must
	 * follow. */
	T_CHECK(kern_eroute_remove_if(t, spi_mod3, NULL) > NENT / 4);
	refs_sync(t, refs, n);
	for (size_t i = 0; i < n; i += 7) {
		if (refs[i].live) {
			T_CHECK_INT(kern_eroute_del(t, &refs[i].sel), 0);
			refs[i].live = false;
		}
	}
	hits2 = compare_lookups(t, refs, n, NLOOK2);
	/* Most of the rest: enough deletions to make the table recompute its near masks. */
	kern_eroute_remove_if(t, spi_not_mod5, NULL);
	refs_sync(t, refs, n);
	hits3 = compare_lookups(t, refs, n, NLOOK3);
	printf("# random lookups: seed 0x%" PRIx64 " (OE_TEST_SEED), %d entries, %d + %d + %d "
	       "lookups, %u + %u + %u hits, %zu left, %" PRIu64 " ms\n",
	       seed, NENT, NLOOK, NLOOK2, NLOOK3, hits, hits2, hits3, kern_eroute_count(t),
	       oe_now_ms() - t0);
	T_CHECK(hits > NLOOK / 4 && hits < NLOOK - NLOOK / 20); /* both hits and misses tested */
	free(refs);
	kern_eroute_table_free(t);
}

/* --- listing ----------------------------------------------------------------------------- */

static struct kern_eroute_table *small_table(void)
{
	struct kern_eroute_table *t = kern_eroute_table_new();
	struct kern_eroute e;

	/* Added out of order on purpose: the listing sorts. */
	e = ER(SEL("2001:db8::1", "2001:db8:2::/48", 17, 0, 53), "%drop", 7);
	kern_eroute_add(t, &e);
	e = ER(SEL("10.44.73.97/32", "10.114.121.41/32", 0, 0, 0), "%pass", 4119);
	snprintf(e.reason, sizeof(e.reason), "clear-or-private");
	e.expires_ms = 1000000 + 899500;
	kern_eroute_add(t, &e);
	e = ER(SEL("10.2.1.115/32", "10.19.75.161/32", 0, 0, 0), "tun0x1002@10.19.75.145", 259);
	snprintf(e.src_id, sizeof(e.src_id), "@east.example");
	snprintf(e.dst_id, sizeof(e.dst_id), "10.19.75.161 \"quoted\"\\\n");
	snprintf(e.reason, sizeof(e.reason), "private");
	kern_eroute_add(t, &e);
	e = ER(SEL("10.2.1.0/24", "0.0.0.0/0", 0, 0, 0), "%trap", 10);
	kern_eroute_add(t, &e);
	e = ER(SEL("192.0.2.1/32", "198.51.100.0/24", 6, 1234, 443), "esp0xabcdef@198.51.100.1", 0);
	kern_eroute_add(t, &e);
	e = ER(SEL("192.0.2.1/32", "198.51.100.0/24", 6, 0, 0), "%reject", 1);
	kern_eroute_add(t, &e);
	e = ER(SEL("2001:db8::1", "2001:db8:1::/48", 0, 0, 0), "%hold", 2);
	kern_eroute_add(t, &e);
	e = ER(SEL("2001:db8::1", "2001:db8:2::/48", 6, 4500, 0), "tun0x1@2001:db8:2::1", 3);
	kern_eroute_add(t, &e);
	return t;
}

static void test_listing(void)
{
	struct kern_eroute_table *t = small_table();
	struct oe_buf b;

	oe_buf_init(&b);
	kern_eroute_format(t, &b);
	T_CHECK(!oe_buf_failed(&b));
	T_CHECK_STR(b.p,
		    "10         10.2.1.0/24        -> 0.0.0.0/0          => %trap\n"
		    "259        10.2.1.115/32      -> 10.19.75.161/32    => tun0x1002@10.19.75.145\n"
		    "4119       10.44.73.97/32     -> 10.114.121.41/32   => %pass\n"
		    "1          192.0.2.1/32       -> 198.51.100.0/24    => %reject:6\n"
		    "0          192.0.2.1/32:1234  -> 198.51.100.0/24:443 => esp0xabcdef@198.51.100.1:6\n"
		    "2          2001:db8::1/128    -> 2001:db8:1::/48    => %hold\n"
		    "3          [2001:db8::1/128]:4500 -> 2001:db8:2::/48    => tun0x1@2001:db8:2::1:6\n"
		    "7          2001:db8::1/128    -> [2001:db8:2::/48]:53 => %drop:17\n");
	oe_buf_free(&b);
	/* An empty table lists nothing. */
	kern_eroute_table_free(t);
	t = kern_eroute_table_new();
	oe_buf_init(&b);
	kern_eroute_format(t, &b);
	T_CHECK_INT(b.len, 0);
	kern_eroute_format_json(t, 0, &b);
	T_CHECK_STR(b.p, "[]\n");
	oe_buf_free(&b);
	kern_eroute_table_free(t);
}

/* --- a small JSON checker: RFC 8259 grammar, enough to prove the output parses ----------- */

static bool j_value(const char **p, int depth);

static void j_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static bool j_lit(const char **p, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(*p, w, n) != 0)
		return false;
	*p += n;
	return true;
}

static bool j_string(const char **p)
{
	if (**p != '"')
		return false;
	for ((*p)++; **p != '"'; (*p)++) {
		unsigned char c = (unsigned char)**p;

		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		(*p)++;
		if (**p == 'u') {
			for (int i = 1; i <= 4; i++)
				if (!strchr("0123456789abcdefABCDEF", (*p)[i]) || !(*p)[i])
					return false;
			*p += 4;
		} else if (!**p || !strchr("\"\\/bfnrt", **p)) {
			return false;
		}
	}
	(*p)++;
	return true;
}

static bool j_number(const char **p)
{
	const char *s = *p;

	if (**p == '-')
		(*p)++;
	if (**p == '0')
		(*p)++;
	else
		while (**p >= '0' && **p <= '9')
			(*p)++;
	return *p > s && (*p)[-1] != '-';
}

static bool j_seq(const char **p, char close, bool obj, int depth)
{
	(*p)++;
	j_ws(p);
	if (**p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		if (obj) {
			if (!j_string(p))
				return false;
			j_ws(p);
			if (*(*p)++ != ':')
				return false;
		}
		if (!j_value(p, depth + 1))
			return false;
		j_ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (*(*p)++ != ',')
			return false;
	}
}

static bool j_value(const char **p, int depth)
{
	bool ok;

	if (depth > 32)
		return false;
	j_ws(p);
	switch (**p) {
	case '{': ok = j_seq(p, '}', true, depth); break;
	case '[': ok = j_seq(p, ']', false, depth); break;
	case '"': ok = j_string(p); break;
	case 't': ok = j_lit(p, "true"); break;
	case 'f': ok = j_lit(p, "false"); break;
	case 'n': ok = j_lit(p, "null"); break;
	default: ok = j_number(p); break;
	}
	j_ws(p);
	return ok;
}

static bool json_valid(const char *s)
{
	return j_value(&s, 0) && *s == '\0';
}

static void test_json(void)
{
	struct kern_eroute_table *t = small_table();
	struct oe_buf b;

	T_CHECK(json_valid("[{\"a\":[1,-2,null,true,\"x\\u0001\\n\"]}]"));
	T_CHECK(!json_valid("[{\"a\":1,}]"));
	T_CHECK(!json_valid("[\"a\nb\"]"));
	oe_buf_init(&b);
	kern_eroute_format_json(t, 1000000, &b);
	T_CHECK(!oe_buf_failed(&b));
	T_CHECK(json_valid(b.p));
	if (!json_valid(b.p))
		printf("# %s", b.p);
	T_CHECK(strstr(b.p, "{\"count\":259,\"src\":\"10.2.1.115/32\","
			    "\"dst\":\"10.19.75.161/32\",\"proto\":0,\"sport\":0,\"dport\":0,"
			    "\"said\":\"tun0x1002@10.19.75.145\",\"said_kind\":\"tun\","
			    "\"spi\":4098,\"edst\":\"10.19.75.145\",\"src_id\":\"@east.example\","
			    "\"dst_id\":\"10.19.75.161 \\\"quoted\\\"\\\\\\u000a\","
			    "\"reason\":\"private\",\"expires_in_s\":null}") != NULL);
	T_CHECK(strstr(b.p, "{\"count\":4119,\"src\":\"10.44.73.97/32\","
			    "\"dst\":\"10.114.121.41/32\",\"proto\":0,\"sport\":0,\"dport\":0,"
			    "\"said\":\"%pass\",\"said_kind\":\"pass\",\"src_id\":null,"
			    "\"dst_id\":null,\"reason\":\"clear-or-private\","
			    "\"expires_in_s\":900}") != NULL);
	T_CHECK(strstr(b.p, "\"src\":\"192.0.2.1/32\",\"dst\":\"198.51.100.0/24\",\"proto\":6,"
			    "\"sport\":1234,\"dport\":443,\"said\":\"esp0xabcdef@198.51.100.1\","
			    "\"said_kind\":\"esp\",\"spi\":11259375,"
			    "\"edst\":\"198.51.100.1\"") != NULL);
	T_CHECK(strstr(b.p, "{\"count\":3,\"src\":\"2001:db8::1/128\",\"dst\":\"2001:db8:2::/48\","
			    "\"proto\":6,\"sport\":4500,\"dport\":0,"
			    "\"said\":\"tun0x1@2001:db8:2::1\",\"said_kind\":\"tun\",\"spi\":1,"
			    "\"edst\":\"2001:db8:2::1\",\"src_id\":null,\"dst_id\":null,"
			    "\"reason\":\"\",\"expires_in_s\":null}") != NULL);
	T_CHECK(strstr(b.p, "\"said\":\"%hold\",\"said_kind\":\"hold\"") != NULL);
	T_CHECK(strstr(b.p, "\"said\":\"%drop\",\"said_kind\":\"drop\"") != NULL);
	T_CHECK(strstr(b.p, "\"said\":\"%reject\",\"said_kind\":\"reject\"") != NULL);
	T_CHECK(strstr(b.p, "\"said\":\"%trap\",\"said_kind\":\"trap\"") != NULL);
	/* Expired shunts say 0, never a negative or huge number. */
	oe_buf_reset(&b);
	kern_eroute_format_json(t, 5000000, &b);
	T_CHECK(strstr(b.p, "\"reason\":\"clear-or-private\",\"expires_in_s\":0}") != NULL);
	oe_buf_free(&b);
	kern_eroute_table_free(t);
}

/* --- remove_if and walk ------------------------------------------------------------------ */

static bool is_shunt(void *ctx, const struct kern_eroute *e)
{
	(*(int *)ctx)++;
	return e->said.kind == KERN_SAID_PASS || e->said.kind == KERN_SAID_DROP ||
	       e->said.kind == KERN_SAID_REJECT;
}

static bool collect(void *ctx, struct kern_eroute *e)
{
	struct oe_buf *b = ctx;
	char s[KERN_SAIDSTRLEN];

	e->packets++; /* walkers may update counters */
	oe_buf_printf(b, "%s ", kern_said_str(&e->said, s));
	return b->len < 40; /* stop early after a few */
}

static void test_remove_if_walk(void)
{
	struct kern_eroute_table *t = small_table();
	struct oe_buf b;
	int calls = 0;

	oe_buf_init(&b);
	kern_eroute_walk(t, collect, &b);
	T_CHECK_STR(b.p, "%trap tun0x1002@10.19.75.145 %pass %reject ");
	T_CHECK_INT(kern_eroute_get(t, SELP("10.2.1.0/24", "0.0.0.0/0", 0, 0, 0))->packets, 11);
	T_CHECK_INT(kern_eroute_remove_if(t, is_shunt, &calls), 3);
	T_CHECK_INT(calls, 8);
	T_CHECK_INT(kern_eroute_count(t), 5);
	T_CHECK(kern_eroute_get(t, SELP("10.44.73.97/32", "10.114.121.41/32", 0, 0, 0)) == NULL);
	T_CHECK_STR(look(t, "10.44.73.97", "10.114.121.41", 0, 0, 0), "(none)");
	T_CHECK_STR(look(t, "192.0.2.1", "198.51.100.9", 6, 1234, 443), "esp0xabcdef@198.51.100.1");
	T_CHECK_STR(look(t, "192.0.2.1", "198.51.100.9", 6, 1234, 444), "(none)");
	oe_buf_reset(&b);
	kern_eroute_format(t, &b);
	T_CHECK(strstr(b.p, "%pass") == NULL && strstr(b.p, "%drop") == NULL);
	T_CHECK_INT(kern_eroute_remove_if(t, is_shunt, &calls), 0);
	oe_buf_free(&b);
	kern_eroute_table_free(t);
}

/* --- one million entries ----------------------------------------------------------------- */

static void test_million(void)
{
	enum { N = 1000000 };
	struct kern_eroute_table *t = kern_eroute_table_new();
	struct kern_eroute e;
	struct oe_buf b;
	uint64_t t0 = oe_now_ms(), t1, t2, t3;
	size_t lines = 0, hits = 0;

	memset(&e, 0, sizeof(e));
	for (uint32_t i = 0; i < N; i++) {
		struct oe_addr s, d;

		/* Three quarters host /32s in 10/8, a quarter /28s in 11/8; half from one host. */
		oe_addr_from_v4(&s, i & 1 ? 0xc0000201u : 0);
		oe_addr_from_v4(&d, i % 4 ? 0x0a000000u + i : 0x0b000000u + (i << 4));
		e.sel.src = oe_prefix_of(&s, i & 1 ? 32 : 0);
		e.sel.dst = oe_prefix_of(&d, i % 4 ? 32 : 28);
		e.said.kind = i % 3 ? KERN_SAID_TUN : KERN_SAID_PASS;
		e.said.spi = i % 3 ? 0x1000 + i : 0;
		e.said.edst = d;
		e.packets = i;
		if (kern_eroute_add(t, &e) < 0)
			break;
	}
	t1 = oe_now_ms();
	T_CHECK_INT(kern_eroute_count(t), N);
	for (uint32_t i = 0; i < N; i += 7) {
		struct oe_addr s, d;

		oe_addr_from_v4(&s, 0xc0000201u);
		oe_addr_from_v4(&d, i % 4 ? 0x0a000000u + i : 0x0b000000u + (i << 4) + 5);
		hits += kern_eroute_lookup(t, &s, &d, 6, 1000, 80) != NULL;
	}
	t2 = oe_now_ms();
	T_CHECK_INT(hits, (N + 6) / 7);
	oe_buf_init(&b);
	kern_eroute_format(t, &b);
	t3 = oe_now_ms();
	T_CHECK(!oe_buf_failed(&b));
	for (size_t i = 0; i < b.len; i++)
		lines += b.p[i] == '\n';
	T_CHECK_INT(lines, N);
	T_CHECK(b.len > 0 && strncmp(b.p, "2          0.0.0.0/0          -> 10.0.0.2/32", 44) == 0);
	printf("# %d entries: add %" PRIu64 " ms, %zu lookups %" PRIu64 " ms, listing %" PRIu64
	       " ms (%zu bytes)\n",
	       N, t1 - t0, (size_t)(N + 6) / 7, t2 - t1, t3 - t2, b.len);
	oe_buf_free(&b);
	kern_eroute_table_free(t);
}

int main(void)
{
	T_RUN(test_said);
	T_RUN(test_add_del_get);
	T_RUN(test_lookup_specificity);
	T_RUN(test_crowded_dst);
	T_RUN(test_lookup_random);
	T_RUN(test_listing);
	T_RUN(test_json);
	T_RUN(test_remove_if_walk);
	T_RUN(test_million);
	return t_done();
}
