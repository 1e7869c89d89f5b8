/* Benchmark of the eroute table (kernel/kern_eroute.c): one million eroutes shaped like an
 * agent's (one per policy CIDR of lengths /8../32 from this host or from any source, some
 * limited to a protocol and port), then lookups per second for hits and misses, exact gets,
 * the KLIPS listing and deletion. Prints figures; asserts only that the work was done. */
#include "kernel.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define N 1000000
#define NLOOK 2000000

static uint64_t rng = 0x0e5eed2026ull;

static uint64_t rnd(void)
{
	return bench_rnd(&rng);
}

/* Lengths as policy files have them: mostly /24 and /32, some wider. */
static unsigned rnd_dlen(void)
{
	static const unsigned lens[] = { 8, 12, 16, 16, 20, 22, 24, 24, 24, 24, 28, 32, 32, 32,
					 32, 32 };

	return lens[rnd() % (sizeof(lens) / sizeof(lens[0]))];
}

/* Destinations below 127.0.0.0 only, so that 192.0.0.0/2 addresses always miss. */
static struct oe_sel rnd_sel(const struct oe_addr *me)
{
	struct oe_sel s;
	struct oe_addr d;

	memset(&s, 0, sizeof(s));
	oe_addr_from_v4(&d, 0x01000000u + (uint32_t)(rnd() % 0x7d000000u));
	s.dst = oe_prefix_of(&d, rnd_dlen());
	s.src = rnd() % 4 ? oe_prefix_host(me) : oe_prefix_any(AF_INET);
	if (rnd() % 16 == 0) {
		s.proto = 6;
		s.dport = rnd() % 2 ? 443 : 22;
	}
	return s;
}

static double bench_lookups(struct kern_eroute_table *t, const struct oe_addr *me,
			    const struct oe_addr *dsts, size_t n, size_t *found)
{
	double t0 = bench_now_s();

	*found = 0;
	for (size_t i = 0; i < NLOOK; i++)
		*found += kern_eroute_lookup(t, me, &dsts[i % n], 6, 40000, 443) != NULL;
	return NLOOK / (bench_now_s() - t0);
}

/* N distinct selectors (wide random prefixes collide), deduplicated in a scratch table. */
static int make_selectors(struct oe_sel *sels, const struct oe_addr *me)
{
	struct kern_eroute_table *seen = kern_eroute_table_new();
	struct kern_eroute e;
	size_t n = 0;

	memset(&e, 0, sizeof(e));
	while (seen && n < N) {
		e.sel = rnd_sel(me);
		if (kern_eroute_get(seen, &e.sel))
			continue;
		sels[n++] = e.sel;
		if (kern_eroute_add(seen, &e) < 0)
			break;
	}
	kern_eroute_table_free(seen);
	return n == N ? 0 : -1;
}

static int bench_add(struct kern_eroute_table *t, const struct oe_sel *sels)
{
	struct kern_eroute e;
	double t0 = bench_now_s(), t1;

	memset(&e, 0, sizeof(e));
	for (size_t i = 0; i < N; i++) {
		e.sel = sels[i];
		e.said.kind = i % 3 ? KERN_SAID_TRAP : KERN_SAID_TUN;
		e.said.spi = (uint32_t)i + 1;
		e.said.edst = sels[i].dst.addr;
		if (kern_eroute_add(t, &e) < 0)
			return -1;
	}
	t1 = bench_now_s();
	printf("add:     %zu distinct selectors in %.3f s, %.2f M adds/s\n", kern_eroute_count(t),
	       t1 - t0, N / (t1 - t0) / 1e6);
	return 0;
}

static void bench_all_lookups(struct kern_eroute_table *t, const struct oe_sel *sels,
			      const struct oe_addr *me, struct oe_addr *hit, struct oe_addr *miss)
{
	size_t found;
	double rate;

	/* Hits: an address inside each entry's destination prefix (host bits random); misses:
	 * addresses in 192.0.0.0/2, where no entry is. */
	for (size_t i = 0; i < N; i++) {
		uint32_t host = sels[i].dst.len == 32 ? 0 : (uint32_t)rnd() >> sels[i].dst.len;

		oe_addr_from_v4(&hit[i], oe_addr_v4(&sels[i].dst.addr) | host);
		oe_addr_from_v4(&miss[i], 0xc0000000u | ((uint32_t)rnd() >> 2));
	}
	rate = bench_lookups(t, me, hit, N, &found);
	printf("lookup:  hits   %.2f M lookups/s (%zu of %d found)\n", rate / 1e6, found, NLOOK);
	rate = bench_lookups(t, me, miss, N, &found);
	printf("lookup:  misses %.2f M lookups/s (%zu of %d found)\n", rate / 1e6, found, NLOOK);
	rate = bench_lookups(t, me, hit, 1024, &found);
	printf("lookup:  hits on 1024 hot destinations %.2f M lookups/s\n", rate / 1e6);
}

static void bench_get_list_del(struct kern_eroute_table *t, const struct oe_sel *sels)
{
	struct oe_buf b;
	double t0 = bench_now_s(), t1;
	size_t n = 0;

	for (size_t i = 0; i < N; i++)
		n += kern_eroute_get(t, &sels[i]) != NULL;
	t1 = bench_now_s();
	printf("get:     %.2f M exact gets/s (%zu found)\n", N / (t1 - t0) / 1e6, n);
	oe_buf_init(&b);
	t0 = bench_now_s();
	kern_eroute_format(t, &b);
	t1 = bench_now_s();
	printf("listing: %zu entries, %zu bytes in %.3f s\n", kern_eroute_count(t), b.len, t1 - t0);
	oe_buf_reset(&b);
	t0 = bench_now_s();
	kern_eroute_format_json(t, 0, &b);
	t1 = bench_now_s();
	printf("json:    %zu bytes in %.3f s\n", b.len, t1 - t0);
	oe_buf_free(&b);
	t0 = bench_now_s();
	n = 0;
	for (size_t i = 0; i < N; i++)
		n += kern_eroute_del(t, &sels[i]) == 0;
	t1 = bench_now_s();
	printf("del:     %zu deleted in %.3f s, %.2f M dels/s; %zu left\n", n, t1 - t0,
	       n / (t1 - t0) / 1e6, kern_eroute_count(t));
}

int main(void)
{
	struct kern_eroute_table *t = kern_eroute_table_new();
	struct oe_sel *sels = malloc(N * sizeof(*sels));
	struct oe_addr me, *hit = malloc(N * sizeof(*hit)), *miss = malloc(N * sizeof(*miss));
	int rc = 1;

	oe_addr_from_v4(&me, 0xc0000201u); /* 192.0.2.1 */
	if (!t || !sels || !hit || !miss || make_selectors(sels, &me) < 0 || bench_add(t, sels) < 0)
		goto out;
	bench_all_lookups(t, sels, &me, hit, miss);
	bench_get_list_del(t, sels);
	rc = 0;
out:
	kern_eroute_table_free(t);
	free(sels);
	free(hit);
	free(miss);
	return rc;
}
