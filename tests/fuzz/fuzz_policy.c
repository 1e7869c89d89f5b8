/* libFuzzer harness for policy group files: the bytes are parsed as a group file (the first
 * byte picks the group), compiled together with the implicit rules, and looked up at every
 * rule's edges and at the ends of every pg_ranges() range, which must agree with
 * pg_lookup_group (for pg_ranges_sel's unmixed ranges, with a protocol and ports too).
 * Everything is freed, so leaks show up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pg_policy *cur;

static void check_range(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
			enum pg_group g)
{
	struct pg_key k = { .dst = *lo };

	(void)ctx;
	if (pg_lookup_group(cur, &k) != g)
		abort();
	k.dst = *hi;
	if (pg_lookup_group(cur, &k) != g)
		abort();
	if (oe_addr_cmp(lo, hi) > 0)
		abort();
}

/* An unmixed range gives its group to keys with a protocol too. */
static void check_range_sel(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
			    enum pg_group g, bool mixed)
{
	struct pg_key k = { .dst = *lo, .proto = 6, .sport = 1, .dport = 22 };

	(void)ctx;
	(void)hi;
	if (!mixed && pg_lookup_group(cur, &k) != g)
		abort();
}

static void probe(const struct pg_policy *p, const struct pg_rule *r)
{
	static const uint8_t protos[] = { 0, 6, 17, 1 };
	struct pg_key k = { .dst = r->dst.addr, .sport = r->sport, .dport = r->dport };

	for (size_t i = 0; i < sizeof(protos); i++) {
		const struct pg_rule *got;

		k.proto = protos[i];
		got = pg_lookup(p, &k);
		if ((got ? got->group : PG_CLEAR) != pg_lookup_group(p, &k))
			abort();
		/* The rule's own selector always matches something at least as specific. */
		if (k.proto == r->proto && (!got || got->dst.len < r->dst.len))
			abort();
		k.dst.b[oe_af_bits(k.dst.af) / 8 - 1] ^= 0xff; /* the far end of a /24-ish */
		(void)pg_lookup(p, &k);
		k.dst = r->dst.addr;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oe_diag d = { 0 };
	struct pg_builder *b;
	struct pg_policy *p;
	struct oe_addr res;

	if (size < 1)
		return 0;
	b = pg_builder_new();
	if (!b)
		return 0;
	oe_addr_from_v4(&res, 0xc0000235); /* 192.0.2.53 */
	pg_builder_add_implicit(b, &res, 1);
	pg_builder_parse(b, (enum pg_group)(data[0] % PG_NGROUPS), "fuzz", (const char *)data + 1,
			 size - 1, &d);
	p = pg_compile(b, &d);
	pg_builder_free(b);
	if (!p)
		return 0;
	cur = p;
	for (size_t i = 0; i < pg_rule_count(p); i++)
		probe(p, pg_rule_at(p, i));
	pg_ranges(p, AF_INET, check_range, NULL);
	pg_ranges(p, AF_INET6, check_range, NULL);
	pg_ranges_sel(p, AF_INET, check_range_sel, NULL);
	pg_ranges_sel(p, AF_INET6, check_range_sel, NULL);
	pg_policy_free(p);
	return 0;
}
