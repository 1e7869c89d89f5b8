/* Randomized test of the policy matcher against a deliberately naive reference: every rule
 * as written, scanned linearly for every key, the winner picked by the documented order
 * (longest prefix, then score, then implicit, then stricter group, then first added).
 * Rules overlap, nest, repeat across groups and carry ports; keys are biased to the edges of
 * the prefixes. pg_ranges is checked against the matcher at every range end point.
 * Seed fixed (printed; PG_SEED=n in the environment to replay another). */
#include <inttypes.h>

#include "pg_int.h" /* white-box: only to check that every table shape was exercised */
#include "policy.h"
#include "t.h"

#define ROUNDS 170
#define RULES_PER_FAMILY 300 /* per round (4x every tenth): 132,600 prefixes in all */
#define KEYS_PER_ROUND 6000  /* 170 * 6000 = 1,020,000 lookups */
#define BIG_V4 100000	     /* one big policy: the DIR-24-8 table */
#define BIG_V6 20000
#define BIG_KEYS 1000

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static bool spread; /* the big round: mostly fresh prefixes anywhere, so ranges are many */

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* --- the naive reference ------------------------------------------------------------------ */

struct nrule {
	struct oe_prefix dst;
	unsigned __int128 lo, hi; /* the addresses dst covers, as plain numbers */
	uint8_t proto;
	uint16_t sport, dport;
	enum pg_group group;
	bool implicit;
	const char *where;
	unsigned line;
};

struct world {
	struct nrule *r;
	size_t n, cap;
	unsigned line[PG_NGROUPS];
	char *text[PG_NGROUPS];
	size_t tlen[PG_NGROUPS], tcap[PG_NGROUPS];
};

static const char *const paths[PG_NGROUPS] = { "/r/clear", "/r/clear-or-private",
					       "/r/private-or-clear", "/r/private", "/r/block" };

static unsigned nscore(const struct nrule *r)
{
	return (r->proto ? 4u : 0u) + (r->dport ? 2u : 0u) + (r->sport ? 1u : 0u);
}

/* Is a better than b for the same key? (Both match.) Earlier rules win the last tie. */
static bool nbetter(const struct nrule *a, const struct nrule *b)
{
	if (a->dst.len != b->dst.len)
		return a->dst.len > b->dst.len;
	if (nscore(a) != nscore(b))
		return nscore(a) > nscore(b);
	if (a->implicit != b->implicit)
		return a->implicit;
	if (a->implicit)
		return false;
	return a->group > b->group;
}

static unsigned __int128 addr_u128(const struct oe_addr *a);

static const struct nrule *naive_lookup(const struct world *w, const struct pg_key *k)
{
	const struct nrule *best = NULL;
	unsigned __int128 a = addr_u128(&k->dst);

	for (size_t i = 0; i < w->n; i++) {
		const struct nrule *r = &w->r[i];

		if (r->dst.addr.af != k->dst.af || a < r->lo || a > r->hi)
			continue;
		if ((r->proto && r->proto != k->proto) || (r->sport && r->sport != k->sport) ||
		    (r->dport && r->dport != k->dport))
			continue;
		if (!best || nbetter(r, best))
			best = r;
	}
	return best;
}

/* --- generating rules ------------------------------------------------------------------------ */

static void addr_set_u128(struct oe_addr *a, int af, unsigned __int128 v)
{
	if (af == AF_INET)
		oe_addr_from_v4(a, (uint32_t)v);
	else
		oe_addr_from_u128(a, v);
}

static unsigned __int128 addr_u128(const struct oe_addr *a)
{
	return a->af == AF_INET ? oe_addr_v4(a) : oe_addr_u128(a);
}

static void set_bounds(struct nrule *r)
{
	unsigned bits = oe_af_bits(r->dst.addr.af);
	unsigned __int128 all = bits == 128 ? ~(unsigned __int128)0 : 0xffffffffu;

	r->lo = addr_u128(&r->dst.addr);
	r->hi = r->lo | (r->dst.len == bits ? 0 : all >> r->dst.len);
}

static unsigned __int128 rnd128(void)
{
	return (unsigned __int128)rnd() << 64 | rnd();
}

/* A fresh address in a few crowded neighbourhoods (so prefixes overlap), or anywhere. */
static void fresh_addr(int af, struct oe_addr *a)
{
	static const uint32_t v4_hoods[] = { 0x0a000000, 0xc0000200, 0xc6336400, 0xcb007100,
					     0x7f000000, 0xa9fe0000, 0xe0000000, 0xffffff00,
					     0x00000000 };
	static const uint64_t v6_hoods[] = { 0x20010db800000000ull, 0x20010db800010000ull,
					     0xfe80000000000000ull, 0xff02000000000000ull, 0,
					     0xffffffffffffffffull };
	unsigned __int128 v = rnd128();

	if (af == AF_INET) {
		uint32_t x = (uint32_t)v;

		if (below(5) && !spread)
			x = v4_hoods[below(9)] | (x & (below(2) ? 0xffff : 0xff));
		addr_set_u128(a, af, x);
	} else {
		if (below(5) && !spread)
			v = (unsigned __int128)v6_hoods[below(6)] << 64 |
			    (below(2) ? (uint64_t)v : (uint64_t)v & 0xffff);
		addr_set_u128(a, af, v);
	}
}

static void rnd_selector(struct nrule *r)
{
	static const uint8_t protos[] = { 6, 17, 1, 132, 47 };
	static const uint16_t sports[] = { 0, 0, 0, 53, 1234 };
	static const uint16_t dports[] = { 0, 22, 53, 80 };

	if (below(10) < 6)
		return;
	r->proto = protos[below(5)];
	if (r->proto == 1 || r->proto == 47)
		return;
	r->sport = sports[below(5)];
	r->dport = dports[below(4)];
}

static void text_add(struct world *w, enum pg_group g, const char *line)
{
	size_t n = strlen(line);

	if (w->tlen[g] + n + 1 > w->tcap[g]) {
		w->tcap[g] = (w->tcap[g] + n + 1) * 2;
		w->text[g] = realloc(w->text[g], w->tcap[g]);
	}
	memcpy(w->text[g] + w->tlen[g], line, n + 1);
	w->tlen[g] += n;
}

static struct nrule *rule_new(struct world *w)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 1024;
		w->r = realloc(w->r, w->cap * sizeof(*w->r));
	}
	memset(&w->r[w->n], 0, sizeof(w->r[0]));
	return &w->r[w->n++];
}

/* One rule of family af: fresh, nested inside an earlier one, or the same prefix again
 * (in another group, or the very same selector). Written into its group's file text. */
static void gen_rule(struct world *w, int af, struct nrule *out)
{
	unsigned bits = oe_af_bits(af), kind = spread && below(4) ? 19 : below(20);
	const struct nrule *base = NULL;
	char line[128], a[OE_ADDRSTRLEN];
	struct oe_addr shown;

	if (w->n) {
		base = &w->r[below((unsigned)w->n)];
		if (base->dst.addr.af != af || base->implicit)
			base = NULL;
	}
	out->group = (enum pg_group)below(PG_NGROUPS);
	if (base && kind < 3) { /* the same selector again */
		*out = *base;
		out->group = (enum pg_group)below(PG_NGROUPS);
	} else if (base && kind < 6) { /* the same prefix, another selector */
		out->dst = base->dst;
		rnd_selector(out);
	} else if (base && kind < 13) { /* nested */
		struct oe_addr x;

		addr_set_u128(&x, af, addr_u128(&base->dst.addr) |
					   (rnd128() & (bits == 128 ? ~(unsigned __int128)0
								    : 0xffffffffu)));
		out->dst = oe_prefix_of(&x, base->dst.len + below(bits - base->dst.len + 1));
		rnd_selector(out);
	} else {
		fresh_addr(af, &out->dst.addr);
		out->dst = oe_prefix_of(&out->dst.addr, below(8) ? 8 + below(bits - 7) : below(9));
		rnd_selector(out);
	}
	set_bounds(out);
	out->implicit = false;
	out->where = paths[out->group];
	out->line = ++w->line[out->group];
	/* Sometimes written with host bits set: the parser clears them (with a warning). */
	shown = out->dst.addr;
	if (out->dst.len < bits && below(8) == 0)
		shown.b[bits / 8 - 1] |= 1;
	oe_addr_str(&shown, a);
	if (out->proto)
		snprintf(line, sizeof(line), "%s/%u %u %u %u\n", a, out->dst.len, out->proto,
			 out->sport, out->dport);
	else
		snprintf(line, sizeof(line), "%s/%u\n", a, out->dst.len);
	text_add(w, out->group, line);
}

static void add_implicit(struct world *w, struct pg_builder *b)
{
	static const struct {
		const char *p, *why;
	} imp[] = { { "127.0.0.0/8", "loopback" },	 { "::1/128", "loopback" },
		    { "169.254.0.0/16", "link-local" }, { "fe80::/10", "link-local" },
		    { "224.0.0.0/4", "multicast" },	 { "ff00::/8", "multicast" },
		    { "255.255.255.255/32", "broadcast" }, { "192.0.2.53/32", "resolver" },
		    { "2001:db8::53/128", "resolver" } };
	struct oe_addr res[2];
	const char *why;

	for (size_t i = 0; i < sizeof(imp) / sizeof(imp[0]); i++) {
		struct nrule *r = rule_new(w);

		T_CHECK_INT(oe_prefix_parse(&r->dst, imp[i].p, strlen(imp[i].p), NULL, &why), 0);
		set_bounds(r);
		r->implicit = true;
		r->where = imp[i].why;
	}
	res[0] = w->r[w->n - 2].dst.addr;
	res[1] = w->r[w->n - 1].dst.addr;
	T_CHECK_INT(pg_builder_add_implicit(b, res, 2), 0);
}

/* --- checking ------------------------------------------------------------------------------ */

static unsigned reported;

static bool same(const struct pg_rule *r, const struct nrule *n)
{
	if (!r || !n)
		return !r && !n;
	return r->group == n->group && r->line == n->line && strcmp(r->where, n->where) == 0 &&
	       r->dst.len == n->dst.len && oe_addr_eq(&r->dst.addr, &n->dst.addr) &&
	       r->proto == n->proto && r->sport == n->sport && r->dport == n->dport &&
	       r->origin == (n->implicit ? PG_ORIGIN_IMPLICIT : PG_ORIGIN_FILE);
}

static void check_key(const struct pg_policy *p, const struct world *w, const struct pg_key *k)
{
	const struct pg_rule *got = pg_lookup(p, k);
	const struct nrule *want = naive_lookup(w, k);
	enum pg_group g = pg_lookup_group(p, k);
	char a[OE_ADDRSTRLEN];

	if (same(got, want) && g == (want ? want->group : PG_CLEAR))
		return;
	t_failed_checks++;
	if (reported++ < 10)
		printf("#   key %s proto %u %u %u: got %s:%u group %d, want %s:%u\n",
		       oe_addr_str(&k->dst, a), k->proto, k->sport, k->dport,
		       got ? got->where : "-", got ? got->line : 0, g, want ? want->where : "-",
		       want ? want->line : 0);
}

/* A key at an edge of (or inside, or just outside) a random rule, or anywhere. */
static void gen_key(const struct world *w, int af, struct pg_key *k)
{
	static const uint8_t protos[] = { 0, 0, 6, 6, 17, 1, 132, 47, 50 };
	static const uint16_t ports[] = { 22, 53, 80, 1234, 9 };
	const struct nrule *r = &w->r[below((unsigned)w->n)];
	unsigned bits = oe_af_bits(af);
	unsigned __int128 lo, span, v;

	memset(k, 0, sizeof(*k));
	if (r->dst.addr.af != af || below(10) == 0) {
		fresh_addr(af, &k->dst);
	} else {
		lo = addr_u128(&r->dst.addr);
		span = r->dst.len == 0 ? ~(unsigned __int128)0 >> (128 - bits)
				       : ((unsigned __int128)1 << (bits - r->dst.len)) - 1;
		switch (below(5)) {
		case 0: v = lo; break;
		case 1: v = lo + span; break;
		case 2: v = lo - 1; break;
		case 3: v = lo + span + 1; break;
		default: v = lo + (rnd128() & span); break;
		}
		addr_set_u128(&k->dst, af, v);
	}
	k->proto = protos[below(9)];
	if (k->proto) {
		k->sport = ports[below(5)];
		k->dport = ports[below(5)];
	}
}

struct rangecheck {
	const struct pg_policy *p;
	const struct world *w;
	int af;
	bool first;
	unsigned __int128 next;
	enum pg_group last;
	size_t count;
};

static void range_fail(const char *what, const struct oe_addr *a, int got, int want)
{
	char buf[OE_ADDRSTRLEN];

	t_failed_checks++;
	if (reported++ < 10)
		printf("#   range check: %s at %s: got %d, want %d\n", what, oe_addr_str(a, buf),
		       got, want);
}

static void range_cb(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
		     enum pg_group g)
{
	struct rangecheck *rc = ctx;
	const struct oe_addr *ends[2] = { lo, hi };

	/* Contiguous from the bottom, maximal (neighbours differ), and the matcher agrees at
	 * both ends; in the small rounds the naive reference is asked too. */
	if (addr_u128(lo) != rc->next || addr_u128(lo) > addr_u128(hi))
		range_fail("not contiguous", lo, 0, 1);
	if (!rc->first && g == rc->last)
		range_fail("not maximal", lo, (int)g, -1);
	for (int i = 0; i < 2; i++) {
		struct pg_key k = { .dst = *ends[i] };
		enum pg_group got = pg_lookup_group(rc->p, &k);

		if (got != g)
			range_fail("group differs from pg_lookup_group", ends[i], (int)g, (int)got);
		if (rc->w && rc->count % 7 == 0)
			check_key(rc->p, rc->w, &k);
	}
	rc->next = addr_u128(hi) + 1;
	rc->last = g;
	rc->first = false;
	rc->count++;
}

/* A range that pg_ranges_sel calls unmixed gives its group to every key, whatever the
 * protocol and ports: probe its ends with the protocols and ports the rules use. */
static void range_sel_cb(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
			 enum pg_group g, bool mixed)
{
	static const uint8_t protos[] = { 6, 17, 1, 132, 47 };
	static const uint16_t ports[] = { 22, 53, 80, 1234 };
	const struct pg_policy *p = ctx;
	const struct oe_addr *ends[2] = { lo, hi };

	if (mixed)
		return;
	for (int e = 0; e < 2; e++) {
		for (unsigned i = 0; i < 8; i++) {
			struct pg_key k = { .dst = *ends[e], .proto = protos[below(5)],
					    .sport = ports[below(4)], .dport = ports[below(4)] };
			enum pg_group got = pg_lookup_group(p, &k);

			if (got != g)
				range_fail("unmixed range, but a key with ports differs", ends[e],
					   (int)got, (int)g);
		}
	}
}

static size_t check_ranges(const struct pg_policy *p, const struct world *w, int af)
{
	struct rangecheck rc = { .p = p, .w = w, .af = af, .first = true };

	pg_ranges_sel(p, af, range_sel_cb, (void *)p);
	pg_ranges(p, af, range_cb, &rc);
	/* The last range ends at the top of the family's space. */
	T_CHECK(af == AF_INET ? rc.next == (unsigned __int128)1 << 32 : rc.next == 0);
	return rc.count;
}

/* --- rounds -------------------------------------------------------------------------------- */

static struct pg_policy *compile_world(struct world *w, struct pg_builder *b)
{
	struct oe_diag d = { 0 };
	struct pg_policy *p;

	for (unsigned g = 0; g < PG_NGROUPS; g++) {
		const char *text = w->text[g] ? w->text[g] : "";

		int rc = pg_builder_parse(b, (enum pg_group)g, paths[g], text, w->tlen[g], &d);

		T_CHECK_INT(rc, 0);
		free(w->text[g]);
		w->text[g] = NULL;
		w->tlen[g] = w->tcap[g] = 0;
	}
	T_CHECK_INT(d.errors, 0);
	p = pg_compile(b, &d);
	T_CHECK(p != NULL);
	return p;
}

/* The naive list must be in the order the builder saw the rules: implicit first, then
 * the files group by group. Rules are generated in random group order, so sort stably. */
static void order_like_builder(struct world *w, size_t first)
{
	size_t n = w->n - first, o = 0;
	struct nrule *tmp = malloc(n * sizeof(*tmp));

	for (int g = -1; g < PG_NGROUPS; g++)
		for (size_t i = first; i < w->n; i++)
			if (w->r[i].implicit ? g < 0 : (int)w->r[i].group == g)
				tmp[o++] = w->r[i];
	memcpy(&w->r[first], tmp, n * sizeof(*tmp));
	free(tmp);
}

static size_t last_bytes;
static unsigned shapes[25], v6_bucketed, v6_plain; /* by v4 first stride; IPv6 index or not */

static void run_round(size_t nv4, size_t nv6, size_t nkeys, bool implicit, size_t *nranges)
{
	struct world w = { 0 };
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;

	if (implicit)
		add_implicit(&w, b);
	for (size_t n4 = 0, n6 = 0; n4 < nv4 || n6 < nv6;) {
		struct nrule r = { 0 };
		bool v4 = n6 == nv6 || (n4 < nv4 && below(2));

		gen_rule(&w, v4 ? AF_INET : AF_INET6, &r);
		*rule_new(&w) = r;
		*(v4 ? &n4 : &n6) += 1;
	}
	order_like_builder(&w, 0);
	p = compile_world(&w, b);
	pg_builder_free(b);
	for (size_t i = 0; i < nkeys; i++) {
		struct pg_key k;

		gen_key(&w, i % 2 ? AF_INET6 : AF_INET, &k);
		check_key(p, &w, &k);
	}
	*nranges += check_ranges(p, nkeys > BIG_KEYS ? &w : NULL, AF_INET);
	*nranges += check_ranges(p, nkeys > BIG_KEYS ? &w : NULL, AF_INET6);
	last_bytes = pg_policy_bytes(p);
	shapes[p->v4_top_bits]++;
	*(p->v6_bucket ? &v6_bucketed : &v6_plain) += 1;
	pg_policy_free(p);
	free(w.r);
}

static void test_random_small_rounds(void)
{
	size_t ranges = 0;

	size_t prefixes = 0;

	/* Every tenth round is bigger, for the DIR-16-8-8 table and the IPv6 bucket index. */
	for (unsigned round = 0; round < ROUNDS; round++) {
		size_t n = round % 10 == 9 ? 4 * RULES_PER_FAMILY : RULES_PER_FAMILY;

		run_round(n, n, KEYS_PER_ROUND, round % 3 == 0, &ranges);
		prefixes += 2 * n;
	}
	printf("# %u rounds: %zu prefixes, %u lookups checked against the naive scan, %zu ranges; "
	       "IPv4 first strides 8/16 bits: %u/%u policies, IPv6 with/without index: %u/%u\n",
	       ROUNDS, prefixes, ROUNDS * KEYS_PER_ROUND, ranges, shapes[8], shapes[16],
	       v6_bucketed, v6_plain);
	T_CHECK(shapes[8] > 0 && shapes[16] > 0 && v6_bucketed > 0 && v6_plain > 0);
}

static void test_random_big(void)
{
	size_t ranges = 0;

	spread = true;
	run_round(BIG_V4, BIG_V6, BIG_KEYS, true, &ranges);
	spread = false;
	printf("# big policy: %u + %u prefixes, %u lookups against the naive scan, %zu ranges "
	       "checked against the matcher, %.1f MB\n", BIG_V4, BIG_V6, BIG_KEYS, ranges,
	       (double)last_bytes / 1e6);
	T_CHECK(shapes[24] == 1); /* the DIR-24-8 table */
}

int main(void)
{
	const char *seed = getenv("PG_SEED");

	rng = seed ? strtoull(seed, NULL, 0) : 0x5eed5eed12345678ull;
	if (rng == 0)
		rng = 1;
	printf("# seed 0x%016" PRIx64 " (PG_SEED=... to replay another)\n", rng);
	T_RUN(test_random_small_rounds);
	T_RUN(test_random_big);
	return t_done();
}
