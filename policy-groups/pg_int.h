/* Internal to policy-groups/: the builder's rule list and the compiled policy's lookup
 * structures (leaves, disjoint ranges, the IPv4 multibit table, the IPv6 range array).
 * pg_parse.c fills the builder, pg_compile.c turns it into a policy, pg_match.c reads it. */
#ifndef PG_INT_H
#define PG_INT_H

#include "policy.h"

/* A rule while it is being collected: `where` is an index into the builder's string pool so
 * that a policy can copy each path once; seq is insertion order (first entry wins ties). */
struct pg_brule {
	struct pg_rule r; /* r.where is NULL here */
	uint32_t where;
	uint32_t seq;
};

struct pg_builder {
	struct pg_brule *rules;
	size_t n, cap;
	char **strs; /* owned: paths, conn names, implicit reasons */
	size_t nstrs, strcap;
	uint32_t seq;
};

/* Appends a copy of s to the builder's string pool; returns its index or -ENOMEM. */
long pg_builder_intern(struct pg_builder *b, const char *s);
/* Appends one rule (where = pool index). Returns 0 or -ENOMEM. */
int pg_builder_push(struct pg_builder *b, const struct pg_rule *r, uint32_t where);

/* The rules of one unique prefix, sorted by score (most specific first), and the leaf of the
 * nearest enclosing prefix. A leaf whose last rule is a wildcard (proto 0, so ports 0 too)
 * matches every key and never falls back to its parent. */
struct pg_leaf {
	uint32_t first, n; /* rules[first .. first + n) */
	int32_t parent;	   /* leaf index or -1 */
	int32_t addr_rule; /* what an address-only key (proto 0) gets: rule index or -1 */
};

/* One 32-bit value per IPv4 table slot and per range:
 *   PG_V_CHUNK | i      the next 8 address bits index chunk i (IPv4 table only)
 *   PG_V_SLOW | leaf    walk the leaf: its rules depend on protocol or ports
 *   (rule + 1) << 3 | g  final: group g and its rule (rule + 1 == 0: no rule, clear) */
#define PG_V_CHUNK 0x80000000u
#define PG_V_SLOW 0x40000000u
#define PG_V_IDX 0x3fffffffu
#define PG_V_GROUP 7u
#define PG_V_MAXRULES ((1u << 27) - 2)

/* IPv4 uses a DIR-24-8 table when the policy is big, DIR-16-8-8 when middling and
 * DIR-8-8-8-8 when tiny (64 MiB for a handful of rules would be silly, and a fuzzer compiles
 * thousands of tiny policies a second); the same code with a different first stride. IPv6
 * gets a bucket index on the top 16..20 bits (about 4 buckets per range) only when the
 * ranges are many enough to pay for it. */
#define PG_V4_BIG_RANGES 65536
#define PG_V4_SMALL_RANGES 512
#define PG_V6_BUCKET_RANGES 1024

struct pg_policy {
	struct pg_rule *rules;
	size_t nrules;
	char **strs;
	size_t nstrs;
	struct pg_leaf *leaves;
	size_t nleaves;

	/* IPv4: disjoint ranges (range i = [v4_start[i], v4_start[i + 1] - 1], the first starts
	 * at 0) and the table built from them. */
	uint32_t *v4_start, *v4_val;
	size_t v4_n;
	unsigned v4_top_bits; /* 8, 16 or 24 */
	uint32_t *v4_top;     /* 1 << v4_top_bits slots */
	uint32_t *v4_chunks;  /* 256 slots per chunk */
	size_t v4_nchunks;
	size_t v4_top_size, v4_chunks_size; /* bytes mapped, for pg_big_free */

	/* IPv6: the same ranges, searched by halving inside the bucket of the first 16 bits. */
	unsigned __int128 *v6_start;
	uint32_t *v6_val;
	size_t v6_n;
	uint32_t *v6_bucket; /* NULL, or 2^bits + 1: the range holding b << (128 - bits) */
	unsigned v6_bucket_bits;
};

/* Builds the IPv4 table from v4_start/v4_val. Returns 0 or -ENOMEM. */
int pg_v4_table_build(struct pg_policy *p);
/* Unmaps a table made by pg_v4_table_build (accepts NULL). */
void pg_big_free(void *p, size_t size);
/* Builds the IPv6 bucket index from v6_start. Returns 0 or -ENOMEM. */
int pg_v6_index_build(struct pg_policy *p);

/* Protocol and ports of the rule match the key's (rule 0 = any; key 0 matches only 0). */
static inline bool pg_rule_matches_key(const struct pg_rule *r, const struct pg_key *k)
{
	return (r->proto == 0 || r->proto == k->proto) && (r->sport == 0 || r->sport == k->sport) &&
	       (r->dport == 0 || r->dport == k->dport);
}

static inline unsigned pg_rule_score(const struct pg_rule *r)
{
	return (r->proto ? 4u : 0u) + (r->dport ? 2u : 0u) + (r->sport ? 1u : 0u);
}

#endif
