/* The compiler: sorts every rule by selector, resolves duplicates (implicit rules first, then
 * the stricter group, then the first entry), groups the rules of each unique prefix into a
 * leaf and flattens the nested prefixes of each family into disjoint ranges, each labelled
 * with the leaf of the most specific prefix covering it. pg_match.c builds the lookup tables
 * from those ranges; pg_ranges() hands them to the kernel side. */
#include "pg_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oe_sel.h"

typedef unsigned __int128 u128;

/* The sort key of one builder rule, most significant word first: family, address (two
 * words), then length, the most specific rule first, protocol and ports. The sort is stable
 * and starts from insertion order, so identical selectors end up next to each other in the
 * order they were added. */
struct skey {
	uint64_t w[4];
	uint32_t idx;
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* One stable counting pass on byte `byte` of word `word`. */
static void radix_pass(const struct skey *in, struct skey *out, size_t n, unsigned word,
		       unsigned byte)
{
	size_t count[256] = { 0 }, pos = 0;
	unsigned shift = byte * 8;

	for (size_t i = 0; i < n; i++)
		count[in[i].w[word] >> shift & 0xff]++;
	for (unsigned c = 0; c < 256; c++) {
		size_t here = count[c];

		count[c] = pos;
		pos += here;
	}
	for (size_t i = 0; i < n; i++)
		out[count[in[i].w[word] >> shift & 0xff]++] = in[i];
}

/* LSD radix sort (qsort was half of the compile time for a million rules); bytes that are
 * the same in every key are skipped, so IPv4-only policies take about five passes. */
static struct skey *radix_sort(struct skey *k, struct skey *tmp, size_t n)
{
	uint64_t all_or[4] = { 0 }, all_and[4] = { ~0ull, ~0ull, ~0ull, ~0ull };

	for (size_t i = 0; i < n; i++) {
		for (unsigned w = 0; w < 4; w++) {
			all_or[w] |= k[i].w[w];
			all_and[w] &= k[i].w[w];
		}
	}
	for (int w = 3; w >= 0; w--) {
		for (unsigned byte = 0; byte < 8; byte++) {
			struct skey *t;

			if (((all_or[w] ^ all_and[w]) >> (byte * 8) & 0xff) == 0)
				continue;
			radix_pass(k, tmp, n, (unsigned)w, byte);
			t = k;
			k = tmp;
			tmp = t;
		}
	}
	return k;
}

/* Returns the sorted keys in *keys (to be freed) or -ENOMEM. */
static int sort_rules(const struct pg_builder *b, struct skey **keys)
{
	struct skey *k = malloc((b->n ? b->n : 1) * sizeof(*k));
	struct skey *tmp = malloc((b->n ? b->n : 1) * sizeof(*tmp));
	struct skey *sorted;

	if (!k || !tmp) {
		free(k);
		free(tmp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct pg_rule *r = &b->rules[i].r;

		k[i].w[0] = r->dst.addr.af;
		k[i].w[1] = be64(r->dst.addr.b);
		k[i].w[2] = be64(r->dst.addr.b + 8);
		k[i].w[3] = (uint64_t)r->dst.len << 48 | (uint64_t)(7 - pg_rule_score(r)) << 40 |
			    (uint64_t)r->proto << 32 | (uint64_t)r->sport << 16 | r->dport;
		k[i].idx = (uint32_t)i;
	}
	sorted = radix_sort(k, tmp, b->n);
	free(sorted == k ? tmp : k);
	*keys = sorted;
	return 0;
}

/* "10.0.0.0/8" or "10.0.0.0/8 tcp 0 22". */
static const char *sel_str(const struct pg_rule *r, char *buf, size_t size)
{
	char pbuf[OE_PREFIXSTRLEN];
	const char *name = oe_proto_name(r->proto);

	oe_prefix_str(&r->dst, pbuf);
	if (r->proto == 0 && r->sport == 0 && r->dport == 0)
		snprintf(buf, size, "%s", pbuf);
	else if (name)
		snprintf(buf, size, "%s %s %u %u", pbuf, name, r->sport, r->dport);
	else
		snprintf(buf, size, "%s %u %u %u", pbuf, r->proto, r->sport, r->dport);
	return buf;
}

/* "path:line" for file entries, the conn name for static ones. */
static const char *loc_str(const struct pg_rule *r, char *buf, size_t size)
{
	if (r->line)
		snprintf(buf, size, "%s:%u", r->where, r->line);
	else
		snprintf(buf, size, "%s", r->where);
	return buf;
}

/* Decides between the current winner w and a later identical selector r; warns about the
 * loser. Implicit rules are never overridden; otherwise the stricter group wins, and between
 * entries of the same group the first one stays. Returns the new winner. */
static const struct pg_rule *dup_resolve(const struct pg_rule *w, const struct pg_rule *r,
					 struct oe_diag *d)
{
	char sel[OE_PREFIXSTRLEN + 32], loc[512];
	const struct pg_rule *win, *user;

	if (w->origin == PG_ORIGIN_IMPLICIT && r->origin == PG_ORIGIN_IMPLICIT)
		return w; /* e.g. a resolver listed twice: nothing for the user to fix */
	if (w->origin == PG_ORIGIN_IMPLICIT || r->origin == PG_ORIGIN_IMPLICIT)
		win = w->origin == PG_ORIGIN_IMPLICIT ? w : r;
	else
		win = r->group > w->group ? r : w;
	if (!d->emit) {
		/* Only counted: skip formatting (a generated table can hold 10^5 duplicates). */
		d->warnings++;
		return win;
	}
	if (win->origin == PG_ORIGIN_IMPLICIT) {
		user = win == w ? r : w;
		oe_diag_warn(d, user->where, user->line,
			     "'%s' is implicitly clear (%s): entry ignored",
			     sel_str(user, sel, sizeof(sel)), win->where);
	} else if (w->group == r->group) {
		oe_diag_warn(d, r->where, r->line, "'%s' in %s: duplicate, first at %s",
			     sel_str(r, sel, sizeof(sel)), pg_group_name(r->group),
			     loc_str(w, loc, sizeof(loc)));
	} else {
		oe_diag_warn(d, r->where, r->line,
			     "'%s' in %s is also in %s at %s: using the stricter %s",
			     sel_str(r, sel, sizeof(sel)), pg_group_name(r->group),
			     pg_group_name(w->group), loc_str(w, loc, sizeof(loc)),
			     pg_group_name(win->group));
	}
	return win;
}

static bool same_selector(const struct skey *a, const struct skey *b)
{
	return memcmp(a->w, b->w, sizeof(a->w)) == 0;
}

/* Fills p->rules from the sorted keys, one rule per distinct selector. */
static int dedup(struct pg_policy *p, const struct pg_builder *b, const struct skey *k,
		 struct oe_diag *d)
{
	p->rules = malloc((b->n ? b->n : 1) * sizeof(*p->rules));
	if (!p->rules)
		return -ENOMEM;
	for (size_t i = 0; i < b->n;) {
		struct pg_rule w = b->rules[k[i].idx].r;
		size_t j;

		w.where = p->strs[b->rules[k[i].idx].where];
		for (j = i + 1; j < b->n && same_selector(&k[i], &k[j]); j++) {
			struct pg_rule r = b->rules[k[j].idx].r;

			r.where = p->strs[b->rules[k[j].idx].where];
			w = *dup_resolve(&w, &r, d);
		}
		p->rules[p->nrules++] = w;
		i = j;
	}
	if (p->nrules && p->nrules < b->n) {
		struct pg_rule *shrunk = realloc(p->rules, p->nrules * sizeof(*p->rules));

		if (shrunk)
			p->rules = shrunk;
	}
	return 0;
}

static bool same_prefix(const struct pg_rule *a, const struct pg_rule *b)
{
	return a->dst.len == b->dst.len && oe_addr_eq(&a->dst.addr, &b->dst.addr);
}

static int make_leaves(struct pg_policy *p)
{
	p->leaves = malloc((p->nrules ? p->nrules : 1) * sizeof(*p->leaves));
	if (!p->leaves)
		return -ENOMEM;
	for (size_t i = 0; i < p->nrules; i++) {
		struct pg_leaf *l = &p->leaves[p->nleaves];

		if (i > 0 && same_prefix(&p->rules[i - 1], &p->rules[i])) {
			p->leaves[p->nleaves - 1].n++;
			continue;
		}
		l->first = (uint32_t)i;
		l->n = 1;
		l->parent = -1;
		l->addr_rule = -1;
		p->nleaves++;
	}
	return 0;
}

/* --- flattening nested prefixes into disjoint ranges ---------------------------------------- */

struct sweep {
	u128 *start;
	uint32_t *val;
	size_t n, cap;
};

/* Starts a range at x with value val; a range starting at the same x replaces the previous
 * one, and a range with the same value as the previous one extends it. */
static int emit(struct sweep *sw, u128 x, uint32_t val)
{
	if (sw->n && sw->start[sw->n - 1] == x)
		sw->n--;
	if (sw->n && sw->val[sw->n - 1] == val)
		return 0;
	if (sw->n == sw->cap) {
		size_t cap = sw->cap ? sw->cap * 2 : 64;
		u128 *s = realloc(sw->start, cap * sizeof(*s));
		uint32_t *v;

		if (!s)
			return -ENOMEM;
		sw->start = s;
		v = realloc(sw->val, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		sw->val = v;
		sw->cap = cap;
	}
	sw->start[sw->n] = x;
	sw->val[sw->n] = val;
	sw->n++;
	return 0;
}

static u128 leaf_addr(const struct pg_policy *p, const struct pg_leaf *l)
{
	const struct oe_addr *a = &p->rules[l->first].dst.addr;

	return a->af == AF_INET ? (u128)oe_addr_v4(a) : oe_addr_u128(a);
}

/* What a range covered by leaf li holds: the rule itself when the leaf is one wildcard rule
 * (the answer cannot depend on protocol or ports), else "walk the leaf". */
static uint32_t leaf_val(const struct pg_policy *p, int32_t li)
{
	const struct pg_leaf *l;
	const struct pg_rule *r;

	if (li < 0)
		return 0;
	l = &p->leaves[li];
	r = &p->rules[l->first];
	if (l->n == 1 && r->proto == 0)
		return (l->first + 1) << 3 | (uint32_t)r->group;
	return PG_V_SLOW | (uint32_t)li;
}

struct frame {
	u128 end;
	int32_t leaf;
};

/* Sweeps leaves [l0, l1) of one family (sorted by address, then length: every prefix comes
 * after the prefixes that contain it) with a stack of the open prefixes. */
static int sweep_family(struct pg_policy *p, size_t l0, size_t l1, unsigned bits,
			struct sweep *sw)
{
	struct frame stack[130];
	u128 max = bits == 128 ? ~(u128)0 : ((u128)1 << bits) - 1;
	size_t sp = 0;
	int rc = emit(sw, 0, 0);

	for (size_t i = l0; i < l1 && rc == 0; i++) {
		struct pg_leaf *l = &p->leaves[i];
		const struct pg_rule *last = &p->rules[l->first + l->n - 1];
		unsigned len = p->rules[l->first].dst.len;
		u128 s = leaf_addr(p, l);
		u128 e = s | (len == bits ? 0 : max >> len);

		while (sp > 0 && stack[sp - 1].end < s && rc == 0) {
			u128 x = stack[--sp].end + 1;

			rc = emit(sw, x, leaf_val(p, sp ? stack[sp - 1].leaf : -1));
		}
		l->parent = sp ? stack[sp - 1].leaf : -1;
		/* Rules are sorted by score, so a wildcard (score 0) is the leaf's last rule. */
		if (last->proto == 0)
			l->addr_rule = (int32_t)(l->first + l->n - 1);
		else
			l->addr_rule = l->parent >= 0 ? p->leaves[l->parent].addr_rule : -1;
		if (rc == 0)
			rc = emit(sw, s, leaf_val(p, (int32_t)i));
		stack[sp].end = e;
		stack[sp].leaf = (int32_t)i;
		sp++;
	}
	while (sp > 0 && rc == 0) {
		u128 end = stack[--sp].end;

		if (end != max)
			rc = emit(sw, end + 1, leaf_val(p, sp ? stack[sp - 1].leaf : -1));
	}
	return rc;
}

static int make_ranges(struct pg_policy *p)
{
	struct sweep sw = { 0 };
	size_t nv4 = 0;
	int rc;

	while (nv4 < p->nleaves && p->rules[p->leaves[nv4].first].dst.addr.af == AF_INET)
		nv4++;
	rc = sweep_family(p, 0, nv4, 32, &sw);
	if (rc < 0)
		goto out;
	p->v4_start = malloc(sw.n * sizeof(*p->v4_start));
	p->v4_val = malloc(sw.n * sizeof(*p->v4_val));
	if (!p->v4_start || !p->v4_val) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sw.n; i++) {
		p->v4_start[i] = (uint32_t)sw.start[i];
		p->v4_val[i] = sw.val[i];
	}
	p->v4_n = sw.n;
	sw.n = 0;
	rc = sweep_family(p, nv4, p->nleaves, 128, &sw);
	if (rc < 0)
		goto out;
	p->v6_start = sw.start;
	p->v6_val = sw.val;
	p->v6_n = sw.n;
	sw.start = NULL;
	sw.val = NULL;
out:
	free(sw.start);
	free(sw.val);
	return rc;
}

static int copy_strings(struct pg_policy *p, const struct pg_builder *b)
{
	p->strs = calloc(b->nstrs ? b->nstrs : 1, sizeof(*p->strs));
	if (!p->strs)
		return -ENOMEM;
	for (; p->nstrs < b->nstrs; p->nstrs++) {
		p->strs[p->nstrs] = strdup(b->strs[p->nstrs]);
		if (!p->strs[p->nstrs])
			return -ENOMEM;
	}
	return 0;
}

struct pg_policy *pg_compile(struct pg_builder *b, struct oe_diag *d)
{
	struct pg_policy *p = calloc(1, sizeof(*p));
	struct oe_diag quiet = { 0 };
	struct skey *k = NULL;
	int rc = -ENOMEM;

	if (!d)
		d = &quiet;
	if (!p || b->n > PG_V_MAXRULES)
		goto out;
	rc = copy_strings(p, b);
	if (rc < 0)
		goto out;
	rc = sort_rules(b, &k);
	if (rc < 0)
		goto out;
	rc = dedup(p, b, k, d);
	free(k); /* before the tables: keeps the peak lower */
	k = NULL;
	if (rc == 0)
		rc = make_leaves(p);
	if (rc == 0)
		rc = make_ranges(p);
	if (rc == 0)
		rc = pg_v4_table_build(p);
	if (rc == 0)
		rc = pg_v6_index_build(p);
out:
	free(k);
	if (rc < 0) {
		pg_policy_free(p);
		return NULL;
	}
	return p;
}

void pg_policy_free(struct pg_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->strs);
	free(p->rules);
	free(p->leaves);
	free(p->v4_start);
	free(p->v4_val);
	pg_big_free(p->v4_top, p->v4_top_size);
	pg_big_free(p->v4_chunks, p->v4_chunks_size);
	free(p->v6_start);
	free(p->v6_val);
	free(p->v6_bucket);
	free(p);
}

size_t pg_policy_bytes(const struct pg_policy *p)
{
	size_t n = sizeof(*p) + p->nrules * sizeof(*p->rules) + p->nleaves * sizeof(*p->leaves) +
		   p->v4_n * 2 * sizeof(uint32_t) + p->v4_top_size + p->v4_chunks_size +
		   p->v6_n * (sizeof(*p->v6_start) + sizeof(*p->v6_val)) +
		   (p->v6_bucket ? ((1u << p->v6_bucket_bits) + 1) * sizeof(uint32_t) : 0);

	for (size_t i = 0; i < p->nstrs; i++)
		n += strlen(p->strs[i]) + 1 + sizeof(char *);
	return n;
}

size_t pg_rule_count(const struct pg_policy *p)
{
	return p->nrules;
}

const struct pg_rule *pg_rule_at(const struct pg_policy *p, size_t i)
{
	return i < p->nrules ? &p->rules[i] : NULL;
}

/* The group an address-only lookup gives inside a range of value v. */
static enum pg_group val_group(const struct pg_policy *p, uint32_t v)
{
	int32_t r;

	if (!(v & PG_V_SLOW))
		return (enum pg_group)(v & PG_V_GROUP);
	r = p->leaves[v & PG_V_IDX].addr_rule;
	return r < 0 ? PG_CLEAR : p->rules[r].group;
}

/* Could a key with a protocol get another group than g in a range of value v? Every rule a
 * lookup may reach is on the leaf's chain up to the first leaf with a wildcard rule. */
static bool val_mixed(const struct pg_policy *p, uint32_t v, enum pg_group g)
{
	if (!(v & PG_V_SLOW))
		return false;
	for (int32_t i = (int32_t)(v & PG_V_IDX); i >= 0; i = p->leaves[i].parent) {
		const struct pg_leaf *l = &p->leaves[i];

		for (uint32_t j = l->first; j < l->first + l->n; j++)
			if (p->rules[j].group != g)
				return true;
		if (p->rules[l->first + l->n - 1].proto == 0)
			break;
	}
	return false;
}

struct range_out {
	void (*fn)(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
		   enum pg_group g, bool mixed);
	void (*plain)(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
		      enum pg_group g);
	void *ctx;
};

static u128 range_start(const struct pg_policy *p, int af, size_t i)
{
	return af == AF_INET ? p->v4_start[i] : p->v6_start[i];
}

/* Walks the ranges of one family, merging neighbours with the same group (and the same
 * `mixed`, when asked for). */
static void ranges_walk(const struct pg_policy *p, int af, const struct range_out *o)
{
	size_t n = af == AF_INET ? p->v4_n : af == AF_INET6 ? p->v6_n : 0;
	const uint32_t *val = af == AF_INET ? p->v4_val : p->v6_val;
	u128 max = af == AF_INET ? 0xffffffffu : ~(u128)0;

	for (size_t i = 0; i < n;) {
		enum pg_group g = val_group(p, val[i]);
		bool mixed = o->fn && val_mixed(p, val[i], g);
		struct oe_addr lo, hi;
		size_t j = i + 1;
		u128 z;

		while (j < n && val_group(p, val[j]) == g &&
		       (!o->fn || val_mixed(p, val[j], g) == mixed))
			j++;
		z = j == n ? max : range_start(p, af, j) - 1;
		if (af == AF_INET) {
			oe_addr_from_v4(&lo, (uint32_t)range_start(p, af, i));
			oe_addr_from_v4(&hi, (uint32_t)z);
		} else {
			oe_addr_from_u128(&lo, range_start(p, af, i));
			oe_addr_from_u128(&hi, z);
		}
		if (o->fn)
			o->fn(o->ctx, &lo, &hi, g, mixed);
		else
			o->plain(o->ctx, &lo, &hi, g);
		i = j;
	}
}

void pg_ranges(const struct pg_policy *p, int af,
	       void (*fn)(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
			  enum pg_group g),
	       void *ctx)
{
	struct range_out o = { .plain = fn, .ctx = ctx };

	ranges_walk(p, af, &o);
}

void pg_ranges_sel(const struct pg_policy *p, int af,
		   void (*fn)(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
			      enum pg_group g, bool mixed),
		   void *ctx)
{
	struct range_out o = { .fn = fn, .ctx = ctx };

	ranges_walk(p, af, &o);
}
