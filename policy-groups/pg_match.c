/* The lookup side of a compiled policy. IPv4: a multibit table (DIR-24-8 for big policies,
 * smaller first strides for small ones) filled from the disjoint ranges; a slot holds a chunk
 * index or the final answer, so an address in a range without port rules costs one or two
 * memory reads. IPv6: halving search over the sorted range starts, narrowed first (for big
 * policies) by an index on the top 16..20 bits. Port rules: walk the leaf. */
#include "pg_int.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef unsigned __int128 u128;

/* --- building ------------------------------------------------------------------------------ */

/* The tables get their own mappings, so a reload gives their memory back to the system at
 * once. (MADV_HUGEPAGE was measured here: no faster lookups, and compaction on fault made
 * the build several times slower.) */
static void *big_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void pg_big_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

struct v4fill {
	struct pg_policy *p;
	size_t r; /* the range holding the current address; only moves forward */
};

static uint32_t *slot(struct pg_policy *p, long chunk, size_t i)
{
	return chunk < 0 ? &p->v4_top[i] : &p->v4_chunks[(size_t)chunk << 8 | i];
}

/* Chunks needed: one per slot, at every level, that has a range boundary strictly inside.
 * Range starts are sorted, so equal slots are adjacent. */
static size_t v4_count_chunks(const struct pg_policy *p)
{
	size_t count = 0;

	for (unsigned sub = 32 - p->v4_top_bits; sub >= 8; sub -= 8) {
		uint32_t mask = (uint32_t)((1ull << sub) - 1), last = 0;
		bool have = false;

		for (size_t i = 1; i < p->v4_n; i++) {
			uint32_t s = p->v4_start[i];

			if (!(s & mask) || (have && s >> sub == last))
				continue;
			last = s >> sub;
			have = true;
			count++;
		}
	}
	return count;
}

/* Fills nent slots of table `chunk` (-1 = the top table), slot i covering the 2^sub_bits
 * addresses from base + (i << sub_bits). Slots inside one range get that range's value
 * (written as a run); a slot with a range boundary inside gets a chunk of 256 finer slots. */
static void v4_fill(struct v4fill *f, long chunk, size_t nent, uint32_t base, unsigned sub_bits)
{
	struct pg_policy *p = f->p;
	const uint32_t *start = p->v4_start;
	size_t n = p->v4_n;

	for (size_t i = 0; i < nent;) {
		uint32_t lo = base + (uint32_t)(i << sub_bits);
		uint64_t end; /* one past the current range */

		while (f->r + 1 < n && start[f->r + 1] <= lo)
			f->r++;
		end = f->r + 1 < n ? start[f->r + 1] : 1ull << 32;
		if (end - lo >= (1ull << sub_bits)) {
			size_t stop = (size_t)((end - base) >> sub_bits);
			uint32_t v = p->v4_val[f->r];

			if (stop > nent)
				stop = nent;
			for (uint32_t *s = slot(p, chunk, i), *e = s + (stop - i); s < e; s++)
				*s = v;
			i = stop;
		} else {
			long c = (long)p->v4_nchunks++;

			v4_fill(f, c, 256, lo, sub_bits - 8);
			*slot(p, chunk, i) = PG_V_CHUNK | (uint32_t)c;
			i++;
		}
	}
}

int pg_v4_table_build(struct pg_policy *p)
{
	struct v4fill f = { .p = p };
	size_t nchunks;

	p->v4_top_bits = p->v4_n > PG_V4_BIG_RANGES ? 24 : p->v4_n > PG_V4_SMALL_RANGES ? 16 : 8;
	nchunks = v4_count_chunks(p);
	if (nchunks >= PG_V_IDX)
		return -ENOMEM;
	p->v4_top_size = sizeof(uint32_t) << p->v4_top_bits;
	p->v4_top = big_alloc(p->v4_top_size);
	if (!p->v4_top)
		return -ENOMEM;
	p->v4_chunks_size = nchunks * 256 * sizeof(uint32_t);
	if (nchunks) {
		p->v4_chunks = big_alloc(p->v4_chunks_size);
		if (!p->v4_chunks)
			return -ENOMEM;
	}
	v4_fill(&f, -1, (size_t)1 << p->v4_top_bits, 0, 32 - p->v4_top_bits);
	return p->v4_nchunks == nchunks ? 0 : -EFAULT; /* the count and the fill disagree: a bug */
}

int pg_v6_index_build(struct pg_policy *p)
{
	unsigned bits = 16;
	size_t r = 0, nb;

	if (p->v6_n <= PG_V6_BUCKET_RANGES)
		return 0;
	while (bits < 20 && ((size_t)1 << bits) < 4 * p->v6_n)
		bits++;
	nb = (size_t)1 << bits;
	p->v6_bucket = malloc((nb + 1) * sizeof(*p->v6_bucket));
	if (!p->v6_bucket)
		return -ENOMEM;
	p->v6_bucket_bits = bits;
	for (size_t b = 0; b <= nb; b++) {
		u128 x = b == nb ? ~(u128)0 : (u128)b << (128 - bits);

		while (r + 1 < p->v6_n && p->v6_start[r + 1] <= x)
			r++;
		p->v6_bucket[b] = (uint32_t)r;
	}
	return 0;
}

/* --- looking up ---------------------------------------------------------------------------- */

static inline uint32_t v4_lookup(const struct pg_policy *p, const uint8_t *b)
{
	uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	unsigned shift = 32 - p->v4_top_bits;
	uint32_t v = p->v4_top[a >> shift];

	while (v & PG_V_CHUNK) {
		shift -= 8;
		v = p->v4_chunks[(size_t)(v & ~PG_V_CHUNK) << 8 | ((a >> shift) & 0xff)];
	}
	return v;
}

static inline uint32_t v6_lookup(const struct pg_policy *p, const uint8_t *b)
{
	uint64_t hi, lo;
	size_t l, h;
	u128 a;

	memcpy(&hi, b, 8);
	memcpy(&lo, b + 8, 8);
	hi = be64toh(hi);
	lo = be64toh(lo);
	a = (u128)hi << 64 | lo;
	if (p->v6_bucket) {
		size_t bk = (size_t)(hi >> (64 - p->v6_bucket_bits));

		l = p->v6_bucket[bk];
		h = p->v6_bucket[bk + 1];
	} else {
		l = 0;
		h = p->v6_n - 1;
	}
	/* The answer is the last range starting at or below a; v6_start[l] <= a holds. */
	while (l < h) {
		size_t m = l + (h - l + 1) / 2;

		if (p->v6_start[m] <= a)
			l = m;
		else
			h = m - 1;
	}
	return p->v6_val[l];
}

static const struct pg_rule *leaf_walk(const struct pg_policy *p, uint32_t li,
				       const struct pg_key *k)
{
	int32_t i = (int32_t)li;

	if (k->proto == 0) {
		int32_t r = p->leaves[li].addr_rule;

		return r < 0 ? NULL : &p->rules[r];
	}
	/* Most specific rule of the longest prefix first; a leaf without a wildcard rule falls
	 * back to the enclosing prefix when none of its port rules matched. */
	for (; i >= 0; i = p->leaves[i].parent) {
		const struct pg_leaf *l = &p->leaves[i];

		for (uint32_t j = l->first; j < l->first + l->n; j++)
			if (pg_rule_matches_key(&p->rules[j], k))
				return &p->rules[j];
	}
	return NULL;
}

static inline bool key_val(const struct pg_policy *p, const struct pg_key *k, uint32_t *v)
{
	if (k->dst.af == AF_INET)
		*v = v4_lookup(p, k->dst.b);
	else if (k->dst.af == AF_INET6)
		*v = v6_lookup(p, k->dst.b);
	else
		return false;
	return true;
}

const struct pg_rule *pg_lookup(const struct pg_policy *p, const struct pg_key *k)
{
	uint32_t v;

	if (!key_val(p, k, &v))
		return NULL;
	if (v & PG_V_SLOW)
		return leaf_walk(p, v & PG_V_IDX, k);
	return v >> 3 ? &p->rules[(v >> 3) - 1] : NULL;
}

enum pg_group pg_lookup_group(const struct pg_policy *p, const struct pg_key *k)
{
	const struct pg_rule *r;
	uint32_t v;

	if (!key_val(p, k, &v))
		return PG_CLEAR;
	if (!(v & PG_V_SLOW))
		return (enum pg_group)(v & PG_V_GROUP);
	r = leaf_walk(p, v & PG_V_IDX, k);
	return r ? r->group : PG_CLEAR;
}
