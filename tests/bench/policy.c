/* Benchmark of the policy matcher: parse and compile 1,000,000 random IPv4 CIDRs shaped like
 * a routing table, then lookups/s of pg_lookup_group and pg_lookup over 10 M random
 * addresses, side by side with a plain binary trie (written here) on the same prefixes, plus
 * a figure with port rules and a smaller IPv6 one. Prints labelled figures; asserts no
 * timings, only that the matcher and the trie agree. */
#include <inttypes.h>
#include <stdbool.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "policy.h"

#define N_V4 1000000
#define N_KEYS 1000000
#define PASSES 10
#define N_V6 100000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	return bench_rnd(&rng_state);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Length distribution, roughly a BGP table: 55% /24, 35% /8../23, 10% /25../32. */
static unsigned v4_len(void)
{
	unsigned r = (unsigned)(rnd() % 100);

	if (r < 55)
		return 24;
	if (r < 90)
		return 8 + (unsigned)(rnd() % 16);
	return 25 + (unsigned)(rnd() % 8);
}

/* --- the plain binary trie to compare with -------------------------------------------------- */

struct tnode {
	struct tnode *c[2];
	int val; /* group + 1, 0 = none */
};

struct trie {
	struct tnode *root;
	struct tnode **pools;
	size_t npools, used;
	size_t bytes;
};

#define TPOOL 65536

static struct tnode *tnode_new(struct trie *t)
{
	if (t->npools == 0 || t->used == TPOOL) {
		t->pools = realloc(t->pools, (t->npools + 1) * sizeof(*t->pools));
		t->pools[t->npools++] = calloc(TPOOL, sizeof(struct tnode));
		if (!t->pools || !t->pools[t->npools - 1])
			abort();
		t->used = 0;
		t->bytes += TPOOL * sizeof(struct tnode);
	}
	return &t->pools[t->npools - 1][t->used++];
}

static void trie_insert(struct trie *t, uint32_t addr, unsigned len, int group)
{
	struct tnode *n = t->root;

	for (unsigned i = 0; i < len; i++) {
		unsigned bit = addr >> (31 - i) & 1;

		if (!n->c[bit])
			n->c[bit] = tnode_new(t);
		n = n->c[bit];
	}
	if (n->val < group + 1) /* the same prefix twice: the stricter group */
		n->val = group + 1;
}

static int trie_lookup(const struct trie *t, uint32_t addr)
{
	const struct tnode *n = t->root;
	int best = n->val;

	for (unsigned i = 0; i < 32; i++) {
		n = n->c[addr >> (31 - i) & 1];
		if (!n)
			break;
		if (n->val)
			best = n->val;
	}
	return best ? best - 1 : PG_CLEAR;
}

static void trie_free(struct trie *t)
{
	for (size_t i = 0; i < t->npools; i++)
		free(t->pools[i]);
	free(t->pools);
}

/* --- IPv4 ------------------------------------------------------------------------------------ */

struct pfx4 {
	uint32_t addr;
	uint8_t len, group;
};

static const uint16_t bench_ports[] = { 22, 80, 443, 25 };

/* One group's file; with_ports: every tenth prefix gets "tcp 0 PORT" instead. */
static char *v4_text(const struct pfx4 *p, size_t n, int group, bool with_ports, size_t *len)
{
	char *text = malloc(n * 36 + 1), *o = text;

	for (size_t i = 0; i < n; i++) {
		if (p[i].group != group)
			continue;
		o += sprintf(o, "%u.%u.%u.%u/%u", p[i].addr >> 24, p[i].addr >> 16 & 255,
			     p[i].addr >> 8 & 255, p[i].addr & 255, p[i].len);
		if (with_ports && i % 10 == 0)
			o += sprintf(o, " tcp 0 %u", bench_ports[i / 10 % 4]);
		*o++ = '\n';
	}
	*len = (size_t)(o - text);
	return text;
}

static struct pg_policy *v4_build(const struct pfx4 *pf)
{
	struct oe_diag d = { 0 };
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;
	double t0, t1, t2;
	size_t h0, h1;
	long r0, r1;

	t0 = bench_now_s();
	for (int g = 0; g < PG_NGROUPS; g++) {
		size_t len;
		char *text = v4_text(pf, N_V4, g, false, &len);

		if (pg_builder_parse(b, (enum pg_group)g, pg_group_name((enum pg_group)g), text,
				     len, &d) < 0)
			abort();
		free(text);
	}
	t1 = bench_now_s();
	h0 = heap_in_use();
	r0 = bench_maxrss_kb();
	p = pg_compile(b, &d);
	t2 = bench_now_s();
	r1 = bench_maxrss_kb();
	h1 = heap_in_use();
	pg_builder_free(b);
	printf("ipv4: parse %d lines (5 group files):      %7.3f s\n", N_V4, t1 - t0);
	printf("ipv4: pg_compile:                          %7.3f s (%zu rules after duplicates, "
	       "%u duplicate warnings)\n", t2 - t1, pg_rule_count(p), d.warnings);
	printf("ipv4: compiled policy size:                %7.1f MB (pg_policy_bytes; heap part "
	       "by mallinfo2 delta %.1f MB)\n", (double)pg_policy_bytes(p) / 1e6,
	       (double)(h1 - h0) / 1e6);
	printf("ipv4: peak RSS growth during pg_compile:   %7.1f MB (ru_maxrss delta)\n",
	       (double)(r1 - r0) / 1e3);
	return p;
}

/* mode 0: pg_lookup_group; 1: pg_lookup, the rule pointer only (the call itself);
 * 2: pg_lookup and reading the rule's group (what a caller pays: one more cache miss). */
static double lookups(const struct pg_policy *p, const struct pg_key *k, size_t n, int mode,
		      uint64_t *sum)
{
	double t0 = bench_now_s();
	uint64_t s = 0;

	for (int pass = 0; pass < PASSES; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (mode == 0) {
				s += pg_lookup_group(p, &k[i]);
			} else {
				const struct pg_rule *r = pg_lookup(p, &k[i]);

				if (mode == 1)
					s += (uintptr_t)r;
				else
					s += r ? r->group : PG_CLEAR;
			}
		}
	}
	*sum = s;
	return (double)(n * PASSES) / (bench_now_s() - t0);
}

/* The same prefixes with every tenth one a "tcp 0 PORT" rule, and tcp keys to ports 22, 80,
 * 443 and 8080: the lookups that land in such ranges walk the leaf (the slow path). */
static void bench_v4_ports(const struct pfx4 *pf, const struct pg_key *keys)
{
	struct pg_key *k = malloc(N_KEYS * sizeof(*k));
	static const uint16_t dports[] = { 22, 80, 443, 8080 };
	struct pg_builder *b = pg_builder_new();
	struct oe_diag d = { 0 };
	struct pg_policy *p;
	uint64_t s1, s2;
	double t0, t1, r_group, r_rule;

	for (int g = 0; g < PG_NGROUPS; g++) {
		size_t len;
		char *text = v4_text(pf, N_V4, g, true, &len);

		if (pg_builder_parse(b, (enum pg_group)g, pg_group_name((enum pg_group)g), text,
				     len, &d) < 0)
			abort();
		free(text);
	}
	t0 = bench_now_s();
	p = pg_compile(b, &d);
	t1 = bench_now_s();
	pg_builder_free(b);
	for (size_t i = 0; i < N_KEYS; i++) {
		k[i] = keys[i];
		k[i].proto = 6;
		k[i].sport = 40000;
		k[i].dport = dports[i % 4];
	}
	r_group = lookups(p, k, N_KEYS, 0, &s1);
	r_rule = lookups(p, k, N_KEYS, 2, &s2);
	printf("ipv4 with every tenth prefix a 'tcp 0 PORT' rule: pg_compile %.3f s, %.1f MB;\n"
	       "  tcp keys: pg_lookup_group %.2f M/s, pg_lookup + rule->group %.2f M/s\n",
	       t1 - t0, (double)pg_policy_bytes(p) / 1e6, r_group / 1e6, r_rule / 1e6);
	if (s1 != s2) {
		printf("MISMATCH: port checksums %" PRIu64 " != %" PRIu64 "\n", s1, s2);
		exit(1);
	}
	pg_policy_free(p);
	free(k);
}

static void bench_v4(void)
{
	struct pfx4 *pf = malloc(N_V4 * sizeof(*pf));
	struct pg_key *keys = calloc(N_KEYS, sizeof(*keys));
	uint32_t *addrs = malloc(N_KEYS * sizeof(*addrs));
	struct trie t = { 0 };
	struct pg_policy *p;
	uint64_t s_group, s_ptr, s_rule, s_trie = 0;
	double t0, t1, r_group, r_ptr, r_rule, r_trie;

	for (size_t i = 0; i < N_V4; i++) {
		pf[i].len = (uint8_t)v4_len();
		pf[i].addr = (uint32_t)rnd() & (uint32_t)(0xffffffffull << (32 - pf[i].len));
		pf[i].group = (uint8_t)(rnd() % PG_NGROUPS);
	}
	printf("ipv4: %d random prefixes, lengths 55%% /24, 35%% /8../23, 10%% /25../32 "
	       "(uniform within), groups uniform\n", N_V4);
	p = v4_build(pf);
	/* Only a DIR-24-8 first level is that big (64 MiB). */
	printf("ipv4: table: %s\n",
	       pg_policy_bytes(p) > (64u << 20) ? "DIR-24-8" : "DIR-16-8-8 or smaller");

	t0 = bench_now_s();
	t.root = tnode_new(&t);
	for (size_t i = 0; i < N_V4; i++)
		trie_insert(&t, pf[i].addr, pf[i].len, pf[i].group);
	t1 = bench_now_s();
	printf(
	    "trie: build:                               %7.3f s, %7.1f MB (%zu nodes of %zu B)\n",
	    t1 - t0, (double)t.bytes / 1e6, (t.npools - 1) * TPOOL + t.used, sizeof(struct tnode));

	for (size_t i = 0; i < N_KEYS; i++) {
		addrs[i] = (uint32_t)rnd();
		oe_addr_from_v4(&keys[i].dst, addrs[i]);
	}
	r_group = lookups(p, keys, N_KEYS, 0, &s_group);
	r_ptr = lookups(p, keys, N_KEYS, 1, &s_ptr);
	r_rule = lookups(p, keys, N_KEYS, 2, &s_rule);
	t0 = bench_now_s();
	for (int pass = 0; pass < PASSES; pass++)
		for (size_t i = 0; i < N_KEYS; i++)
			s_trie += (uint64_t)trie_lookup(&t, addrs[i]);
	r_trie = (double)N_KEYS * PASSES / (bench_now_s() - t0);
	printf("ipv4: %d random addresses x %d passes:\n", N_KEYS, PASSES);
	printf("  pg_lookup_group:                    %7.2f M lookups/s  %5.1fx trie\n",
	       r_group / 1e6, r_group / r_trie);
	printf("  pg_lookup (rule pointer):           %7.2f M lookups/s  %5.1fx trie\n",
	       r_ptr / 1e6, r_ptr / r_trie);
	printf("  pg_lookup + reading rule->group:    %7.2f M lookups/s  %5.1fx trie\n",
	       r_rule / 1e6, r_rule / r_trie);
	printf("  binary trie:                        %7.2f M lookups/s\n", r_trie / 1e6);
	if (s_group != s_trie || s_rule != s_trie) {
		printf("MISMATCH: checksums pg_lookup_group %" PRIu64 " pg_lookup %" PRIu64
		       " trie %" PRIu64 "\n", s_group, s_rule, s_trie);
		exit(1);
	}
	printf("  (checksums of the three agree: %" PRIu64 ")\n", s_trie);
	pg_policy_free(p);
	trie_free(&t);
	bench_v4_ports(pf, keys);
	free(pf);
	free(keys);
	free(addrs);
}

/* --- IPv6 ------------------------------------------------------------------------------------ */

static void rand_v6(struct oe_addr *a)
{
	uint64_t hi = rnd(), lo = rnd();

	hi = (hi & ~(7ull << 61)) | (1ull << 61); /* 2000::/3, where the unicast space is */
	a->af = AF_INET6;
	for (int i = 0; i < 8; i++) {
		a->b[i] = (uint8_t)(hi >> (56 - 8 * i));
		a->b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
}

static void bench_v6(void)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_key *keys = calloc(N_KEYS, sizeof(*keys));
	struct oe_diag d = { 0 };
	struct pg_policy *p;
	double t0, t1, r_group, r_rule;
	uint64_t s1, s2;
	size_t h0, h1;

	for (size_t i = 0; i < N_V6; i++) {
		unsigned r = (unsigned)(rnd() % 100);
		struct pg_rule rule = { .group = (enum pg_group)(rnd() % PG_NGROUPS) };
		struct oe_addr a;

		rand_v6(&a);
		rule.dst = oe_prefix_of(&a, r < 50 ? 48 : r < 90 ? 20 + (unsigned)(rnd() % 45)
							: 65 + (unsigned)(rnd() % 64));
		if (pg_builder_add_static(b, &rule, "bench") < 0)
			abort();
	}
	h0 = heap_in_use();
	t0 = bench_now_s();
	p = pg_compile(b, &d);
	t1 = bench_now_s();
	h1 = heap_in_use();
	pg_builder_free(b);
	printf("ipv6: %d random prefixes in 2000::/3, 50%% /48, 40%% /20../64, 10%% /65../128\n",
	       N_V6);
	printf("ipv6: pg_compile:                          %7.3f s, %.1f MB (pg_policy_bytes; heap "
	       "part by mallinfo2 delta %.1f MB)\n", t1 - t0, (double)pg_policy_bytes(p) / 1e6,
	       (double)(h1 - h0) / 1e6);
	for (size_t i = 0; i < N_KEYS; i++)
		rand_v6(&keys[i].dst);
	r_group = lookups(p, keys, N_KEYS, 0, &s1);
	r_rule = lookups(p, keys, N_KEYS, 2, &s2);
	printf("ipv6: %d random addresses x %d passes: pg_lookup_group %.2f M/s, pg_lookup + "
	       "rule->group %.2f M/s\n", N_KEYS, PASSES, r_group / 1e6, r_rule / 1e6);
	if (s1 != s2) {
		printf("MISMATCH: ipv6 checksums %" PRIu64 " != %" PRIu64 "\n", s1, s2);
		exit(1);
	}
	pg_policy_free(p);
	free(keys);
}

int main(void)
{
	printf("policy benchmark (xorshift64* seed 0x%016" PRIx64 ")\n", rng_state);
	bench_v4();
	bench_v6();
	return 0;
}
