/* The eroute table: exact-selector hash for add/del/get, and most-specific lookup by tuple
 * space search (Srinivasan, Suri, Varghese, SIGCOMM 1999) over the dst lengths present, longest
 * first: a mask of the lengths present per /16 (per /32 for IPv6) skips most of them, an index
 * of destination prefixes answers for the rest, listing the few entries of each prefix, and
 * prefixes with many entries are searched by probing each (src length, proto/port pattern)
 * shape present, most specific first. */
#include "kern_eroute_int.h"
#include "oe_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int af_index(int af)
{
	return af == AF_INET ? 0 : af == AF_INET6 ? 1 : -1;
}

/* Clears host bits and the unused tail of IPv4 addresses, so equal selectors are equal bytes. */
static bool prefix_normalize(struct oe_prefix *p)
{
	unsigned bits = oe_af_bits(p->addr.af);

	if (bits == 0 || p->len > bits)
		return false;
	memset(p->addr.b + bits / 8, 0, sizeof(p->addr.b) - bits / 8);
	oe_prefix_mask(p);
	return true;
}

static bool sel_normalize(const struct oe_sel *in, struct oe_sel *out)
{
	*out = *in;
	if (in->src.addr.af != in->dst.addr.af)
		return false;
	return prefix_normalize(&out->src) && prefix_normalize(&out->dst);
}

static unsigned sel_pattern(const struct oe_sel *s)
{
	return (s->proto ? KERN_PM_PROTO : 0) | (s->dport ? KERN_PM_DPORT : 0) |
	       (s->sport ? KERN_PM_SPORT : 0);
}

static uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 31);
}

static uint64_t fmix(uint64_t h) /* MurmurHash3's finalizer */
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static uint64_t mix_addr(uint64_t h, const uint8_t b[16])
{
	uint64_t w[2];

	memcpy(w, b, sizeof(w));
	return mix(mix(h, w[0]), w[1]);
}

static uint32_t sel_hash(const struct kern_eroute_table *t, const struct oe_sel *s)
{
	uint64_t h = t->seed;

	h = mix_addr(h, s->src.addr.b);
	h = mix_addr(h, s->dst.addr.b);
	h = mix(h, (uint64_t)s->src.addr.af << 56 | (uint64_t)s->src.len << 48 |
			   (uint64_t)s->dst.len << 40 | (uint64_t)s->proto << 32 |
			   (uint64_t)s->sport << 16 | s->dport);
	return (uint32_t)fmix(h);
}

static uint32_t dst_hash(const struct kern_eroute_table *t, const struct oe_prefix *p)
{
	uint64_t h = t->seed ^ 0x5bd1e995u;

	h = mix_addr(h, p->addr.b);
	h = mix(h, (uint64_t)p->addr.af << 8 | p->len);
	return (uint32_t)fmix(h);
}

static bool sel_eq(const struct oe_sel *a, const struct oe_sel *b)
{
	return a->src.addr.af == b->src.addr.af && a->src.len == b->src.len &&
	       a->dst.len == b->dst.len && a->proto == b->proto && a->sport == b->sport &&
	       a->dport == b->dport && memcmp(a->src.addr.b, b->src.addr.b, 16) == 0 &&
	       memcmp(a->dst.addr.b, b->dst.addr.b, 16) == 0;
}

struct kern_eroute_table *kern_eroute_table_new(void)
{
	struct kern_eroute_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->free_head = KERN_NIL;
	t->dg_free = KERN_NIL;
	/* The seed only spreads hash slots; listing and lookup results never depend on it. */
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = 0x2545f4914f6cdd1dull ^ (uint64_t)(uintptr_t)t;
	return t;
}

void kern_eroute_table_free(struct kern_eroute_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nchunks; i++)
		free(t->chunks[i]);
	free(t->chunks);
	free(t->ht);
	free(t->dg);
	free(t->dgs);
	for (int i = 0; i < 2; i++) {
		free(t->shapes[i].ref);
		free(t->shapes[i].codes);
		free(t->shapes[i].near);
	}
	free(t);
}

size_t kern_eroute_count(const struct kern_eroute_table *t)
{
	return t->count;
}

/* --- the exact-selector hash ------------------------------------------------------------- */

/* Both hashes (exact selectors, destination prefixes) are open addressing with linear probing
 * over (hash, index) pairs, at most half full: a probe for an absent key usually reads one
 * cache line of the slot array and no record at all, which matters because lookups mostly
 * probe keys that are absent. */
static struct kern_hslot *slots_new(uint32_t n)
{
	struct kern_hslot *sl = malloc((size_t)n * sizeof(*sl));

	if (sl)
		memset(sl, 0xff, (size_t)n * sizeof(*sl)); /* idx = KERN_NIL: empty */
	return sl;
}

static void slots_put(struct kern_hslot *sl, uint32_t n, uint32_t h, uint32_t idx)
{
	uint32_t mask = n - 1, j = h & mask;

	while (sl[j].idx != KERN_NIL)
		j = (j + 1) & mask;
	sl[j].hash = h;
	sl[j].idx = idx;
}

/* Empties slot i and shifts later members of its probe run back (Knuth's algorithm R), so
 * that no tombstones are needed. */
static void slots_remove(struct kern_hslot *sl, uint32_t n, uint32_t i)
{
	uint32_t mask = n - 1;

	for (uint32_t j = (i + 1) & mask; sl[j].idx != KERN_NIL; j = (j + 1) & mask) {
		uint32_t home = sl[j].hash & mask;

		/* Move j back into the hole at i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			sl[i] = sl[j];
			i = j;
		}
	}
	sl[i].idx = KERN_NIL;
}

static int ht_grow(struct kern_eroute_table *t)
{
	uint32_t n = t->nht ? t->nht * 2 : 64;
	struct kern_hslot *ht;

	if (t->nht >= (1u << 31) || !(ht = slots_new(n)))
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nslots; i++)
		if (kern_node(t, i)->live)
			slots_put(ht, n, kern_node(t, i)->hash, i);
	free(t->ht);
	t->ht = ht;
	t->nht = n;
	return 0;
}

/* The index of the entry with selector s (normalized) whose hash is h, or KERN_NIL; *pos (if
 * not NULL) gets its slot. */
static uint32_t node_find(const struct kern_eroute_table *t, const struct oe_sel *s, uint32_t h,
			  uint32_t *pos)
{
	uint32_t mask = t->nht - 1;

	if (!t->nht)
		return KERN_NIL;
	for (uint32_t j = h & mask; t->ht[j].idx != KERN_NIL; j = (j + 1) & mask) {
		if (t->ht[j].hash == h && sel_eq(&kern_node(t, t->ht[j].idx)->e.sel, s)) {
			if (pos)
				*pos = j;
			return t->ht[j].idx;
		}
	}
	return KERN_NIL;
}

static int node_alloc(struct kern_eroute_table *t, uint32_t *out)
{
	if (t->free_head != KERN_NIL) {
		*out = t->free_head;
		t->free_head = kern_node(t, *out)->next;
		return 0;
	}
	if (t->nslots == KERN_NIL - 1)
		return -ENOMEM;
	if ((t->nslots & (KERN_CHUNK - 1)) == 0) {
		size_t c = t->nslots >> KERN_CHUNK_SHIFT;
		struct kern_enode **chunks = realloc(t->chunks, (c + 1) * sizeof(*chunks));

		if (!chunks)
			return -ENOMEM;
		t->chunks = chunks;
		chunks[c] = aligned_alloc(64, KERN_CHUNK * sizeof(**chunks));
		if (!chunks[c])
			return -ENOMEM;
		t->nchunks = c + 1;
	}
	*out = t->nslots++;
	return 0;
}

static void node_free(struct kern_eroute_table *t, uint32_t i)
{
	struct kern_enode *nd = kern_node(t, i);

	nd->live = false;
	nd->next = t->free_head;
	t->free_head = i;
}

/* --- the index of destination prefixes ------------------------------------------------- */

/* Every destination prefix present, with its entries listed (up to KERN_DG_MAX of them).
 * Lookup asks it for each dst length still possible: an absent prefix costs one slot read,
 * and a present one yields its few entries to check directly, instead of one hash probe per
 * (src length, pattern) shape. A prefix with more entries than fit falls back to the probes,
 * until its last entry goes. */
static uint32_t dg_find(const struct kern_eroute_table *t, const struct oe_prefix *p, uint32_t h,
			uint32_t *pos)
{
	uint32_t mask = t->ndgs - 1;

	if (!t->ndgs)
		return KERN_NIL;
	for (uint32_t j = h & mask; t->dgs[j].idx != KERN_NIL; j = (j + 1) & mask) {
		const struct kern_dgroup *g = &t->dg[t->dgs[j].idx];

		if (t->dgs[j].hash == h && g->len == p->len && g->af == p->addr.af &&
		    memcmp(g->addr, p->addr.b, 16) == 0) {
			if (pos)
				*pos = j;
			return t->dgs[j].idx;
		}
	}
	return KERN_NIL;
}

static int dg_grow_slots(struct kern_eroute_table *t)
{
	uint32_t n = t->ndgs ? t->ndgs * 2 : 64;
	struct kern_hslot *sl;

	if (t->ndgs >= (1u << 31) || !(sl = slots_new(n)))
		return -ENOMEM;
	for (uint32_t i = 0; i < t->ndg; i++)
		if (t->dg[i].count)
			slots_put(sl, n, t->dg[i].hash, i);
	free(t->dgs);
	t->dgs = sl;
	t->ndgs = n;
	return 0;
}

/* A free record; records are 64-byte aligned, so growing copies them to a new array. */
static int dg_record(struct kern_eroute_table *t, uint32_t *out)
{
	struct kern_dgroup *dg;
	uint32_t cap;

	if (t->dg_free != KERN_NIL) {
		*out = t->dg_free;
		t->dg_free = t->dg[*out].node[0];
		return 0;
	}
	if (t->ndg == t->dg_cap) {
		cap = t->dg_cap ? t->dg_cap * 2 : 64;
		if (t->dg_cap >= (1u << 30) || !(dg = aligned_alloc(64, cap * sizeof(*dg))))
			return -ENOMEM;
		if (t->ndg)
			memcpy(dg, t->dg, t->ndg * sizeof(*dg));
		free(t->dg);
		t->dg = dg;
		t->dg_cap = cap;
	}
	*out = t->ndg++;
	return 0;
}

/* Lists entry node under its destination prefix p, creating the record on first use. */
static int dg_attach(struct kern_eroute_table *t, const struct oe_prefix *p, uint32_t node)
{
	uint32_t h = dst_hash(t, p), i = dg_find(t, p, h, NULL);
	struct kern_dgroup *g;
	int rc;

	if (i == KERN_NIL) {
		if (t->dg_live >= t->ndgs / 2 && (rc = dg_grow_slots(t)) < 0)
			return rc;
		if ((rc = dg_record(t, &i)) < 0)
			return rc;
		g = &t->dg[i];
		memset(g, 0, sizeof(*g));
		g->hash = h;
		g->af = p->addr.af;
		g->len = p->len;
		memcpy(g->addr, p->addr.b, 16);
		slots_put(t->dgs, t->ndgs, h, i);
		t->dg_live++;
	}
	g = &t->dg[i];
	g->count++;
	if (g->n == KERN_DG_MAX)
		g->n = KERN_DG_OVER;
	else if (g->n != KERN_DG_OVER)
		g->node[g->n++] = node;
	return 0;
}

static void dg_detach(struct kern_eroute_table *t, const struct oe_prefix *p, uint32_t node)
{
	uint32_t pos, i = dg_find(t, p, dst_hash(t, p), &pos);
	struct kern_dgroup *g;

	if (i == KERN_NIL)
		return;
	g = &t->dg[i];
	if (--g->count == 0) {
		slots_remove(t->dgs, t->ndgs, pos);
		g->node[0] = t->dg_free;
		t->dg_free = i;
		t->dg_live--;
		return;
	}
	for (unsigned j = 0; g->n != KERN_DG_OVER && j < g->n; j++) {
		if (g->node[j] == node) {
			g->node[j] = g->node[--g->n];
			break;
		}
	}
}

/* --- shapes ------------------------------------------------------------------------------ */

static int shapes_init(struct kern_shapes *S, int af)
{
	unsigned bits = oe_af_bits(af), w = bits + 1;

	S->near_min = af == AF_INET ? 16 : 32;
	S->near_words = af == AF_INET ? 1 : 2;
	S->ref = calloc((size_t)w * w * KERN_NPM, sizeof(*S->ref));
	S->codes = calloc((size_t)w * w * KERN_NPM, sizeof(*S->codes));
	S->near = calloc((size_t)KERN_NEAR_SLOTS * S->near_words, sizeof(*S->near));
	if (!S->ref || !S->codes || !S->near) {
		free(S->ref);
		free(S->codes);
		free(S->near);
		S->ref = NULL;
		S->codes = NULL;
		S->near = NULL;
		return -ENOMEM;
	}
	S->bits = bits;
	return 0;
}

/* The near-mask words of the slot for address a: the /16 itself for IPv4, a hash of the /32
 * for IPv6 (where /32 is the usual allocation to an ISP). */
static uint64_t *near_of(const struct kern_shapes *S, const struct oe_addr *a)
{
	uint32_t top = (uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 | (uint32_t)a->b[2] << 8 |
		       a->b[3];
	uint32_t slot = S->bits == 32 ? top >> 16 : (top * 0x9e3779b1u) >> 16;

	return &S->near[(size_t)slot * S->near_words];
}

static void near_set(struct kern_shapes *S, const struct oe_prefix *dst)
{
	unsigned i = dst->len - S->near_min;

	if (dst->len >= S->near_min)
		near_of(S, &dst->addr)[i / 64] |= 1ull << (i % 64);
}

static bool near_maybe(const struct kern_shapes *S, const uint64_t *m, unsigned dlen)
{
	unsigned i = dlen - S->near_min;

	return dlen < S->near_min || (m[i / 64] >> (i % 64) & 1);
}

/* Bits are never cleared one by one (they are shared by all entries of a slot); after as many
 * deletions as half the entry slots (which never shrink) they are recomputed, a pass over
 * those slots, so deletion stays O(1) amortized. Stale bits only cost a probe. */
static void near_rebuild(struct kern_eroute_table *t)
{
	for (int f = 0; f < 2; f++) {
		struct kern_shapes *S = &t->shapes[f];

		if (S->near)
			memset(S->near, 0,
			       (size_t)KERN_NEAR_SLOTS * S->near_words * sizeof(*S->near));
	}
	for (uint32_t i = 0; i < t->nslots; i++) {
		struct kern_enode *nd = kern_node(t, i);

		if (nd->live)
			near_set(&t->shapes[af_index(nd->e.sel.dst.addr.af)], &nd->e.sel.dst);
	}
	t->near_stale = 0;
}

/* Recomputes, for dst length d, the list of shapes present in lookup order: longer src first,
 * then the higher pattern score. Runs only when a shape appears or disappears. */
static void shapes_rebuild_codes(struct kern_shapes *S, unsigned d)
{
	unsigned w = S->bits + 1, n = 0;
	uint16_t *codes = S->codes + (size_t)d * w * KERN_NPM;

	for (unsigned sl = w; sl-- > 0;)
		for (unsigned pm = KERN_NPM; pm-- > 0;)
			if (S->ref[((size_t)d * w + sl) * KERN_NPM + pm])
				codes[n++] = (uint16_t)(sl << 3 | pm);
	S->ncodes[d] = (uint16_t)n;
}

static void shapes_rebuild_dlens(struct kern_shapes *S)
{
	S->ndlens = 0;
	for (unsigned d = S->bits + 1; d-- > 0;)
		if (S->dlen_ref[d])
			S->dlens[S->ndlens++] = (uint8_t)d;
}

/* Counts an entry of selector s in (delta +1) or out (delta -1) of its shape. */
static void shapes_count(struct kern_eroute_table *t, const struct oe_sel *s, int delta)
{
	struct kern_shapes *S = &t->shapes[af_index(s->dst.addr.af)];
	unsigned w = S->bits + 1;
	uint32_t *r = &S->ref[((size_t)s->dst.len * w + s->src.len) * KERN_NPM + sel_pattern(s)];

	*r += (uint32_t)delta;
	if ((delta > 0 && *r == 1) || (delta < 0 && *r == 0))
		shapes_rebuild_codes(S, s->dst.len);
	if (delta > 0)
		near_set(S, &s->dst);
	else if (++t->near_stale > t->nslots / 2 + 1024)
		t->near_pending = true;
	S->dlen_ref[s->dst.len] += (uint32_t)delta;
	if ((delta > 0 && S->dlen_ref[s->dst.len] == 1) ||
	    (delta < 0 && S->dlen_ref[s->dst.len] == 0))
		shapes_rebuild_dlens(S);
}

/* --- the public operations --------------------------------------------------------------- */

static int insert_new(struct kern_eroute_table *t, const struct kern_eroute *e, uint32_t h)
{
	struct kern_shapes *S = &t->shapes[af_index(e->sel.dst.addr.af)];
	struct kern_enode *nd;
	uint32_t i;
	int rc;

	if (!S->bits && (rc = shapes_init(S, e->sel.dst.addr.af)) < 0)
		return rc;
	if (t->count >= t->nht / 2 && (rc = ht_grow(t)) < 0)
		return rc;
	if ((rc = node_alloc(t, &i)) < 0)
		return rc;
	if ((rc = dg_attach(t, &e->sel.dst, i)) < 0) {
		node_free(t, i);
		return rc;
	}
	nd = kern_node(t, i);
	nd->e = *e;
	nd->hash = h;
	nd->live = true;
	slots_put(t->ht, t->nht, h, i);
	shapes_count(t, &e->sel, +1);
	t->count++;
	return 0;
}

int kern_eroute_add(struct kern_eroute_table *t, const struct kern_eroute *e)
{
	struct kern_eroute n = *e;
	uint32_t h, i;

	if (!sel_normalize(&e->sel, &n.sel))
		return -EINVAL;
	/* The strings are fixed arrays filled by callers: make sure they end. */
	n.src_id[KERN_IDLEN - 1] = n.dst_id[KERN_IDLEN - 1] = n.reason[KERN_REASONLEN - 1] = '\0';
	h = sel_hash(t, &n.sel);
	i = node_find(t, &n.sel, h, NULL);
	if (i == KERN_NIL)
		return insert_new(t, &n, h);
	if (!n.packets)
		n.packets = kern_node(t, i)->e.packets;
	kern_node(t, i)->e = n;
	return 0;
}

static void node_delete(struct kern_eroute_table *t, uint32_t i, uint32_t pos)
{
	struct kern_enode *nd = kern_node(t, i);

	slots_remove(t->ht, t->nht, pos);
	shapes_count(t, &nd->e.sel, -1);
	dg_detach(t, &nd->e.sel.dst, i);
	node_free(t, i);
	t->count--;
	if (t->near_pending) {
		t->near_pending = false;
		near_rebuild(t);
	}
}

int kern_eroute_del(struct kern_eroute_table *t, const struct oe_sel *sel)
{
	struct oe_sel s;
	uint32_t i, pos;

	if (!sel_normalize(sel, &s))
		return -ENOENT;
	i = node_find(t, &s, sel_hash(t, &s), &pos);
	if (i == KERN_NIL)
		return -ENOENT;
	node_delete(t, i, pos);
	return 0;
}

struct kern_eroute *kern_eroute_get(struct kern_eroute_table *t, const struct oe_sel *sel)
{
	struct oe_sel s;
	uint32_t i;

	if (!sel_normalize(sel, &s))
		return NULL;
	i = node_find(t, &s, sel_hash(t, &s), NULL);
	return i == KERN_NIL ? NULL : &kern_node(t, i)->e;
}

/* Probes the shapes of dst length d in order; the first entry found is the most specific one
 * with that destination length. k arrives with dst masked to d and the packet's fields. */
static struct kern_eroute *probe_dlen(struct kern_eroute_table *t, const struct kern_shapes *S,
				      unsigned d, struct oe_sel *k, const struct oe_addr *src,
				      uint8_t proto, uint16_t sport, uint16_t dport)
{
	const uint16_t *codes = S->codes + (size_t)d * (S->bits + 1) * KERN_NPM;

	for (unsigned c = 0; c < S->ncodes[d]; c++) {
		unsigned sl = codes[c] >> 3, pm = codes[c] & 7u;
		uint32_t i;

		/* A packet field that is 0 can only match the wildcard. */
		if (((pm & KERN_PM_PROTO) && !proto) || ((pm & KERN_PM_DPORT) && !dport) ||
		    ((pm & KERN_PM_SPORT) && !sport))
			continue;
		k->src = oe_prefix_of(src, sl);
		k->proto = (pm & KERN_PM_PROTO) ? proto : 0;
		k->dport = (pm & KERN_PM_DPORT) ? dport : 0;
		k->sport = (pm & KERN_PM_SPORT) ? sport : 0;
		i = node_find(t, k, sel_hash(t, k), NULL);
		if (i != KERN_NIL)
			return &kern_node(t, i)->e;
	}
	return NULL;
}

/* The best entry listed in record g for the packet: longest src, then pattern score, the same
 * order as probe_dlen()'s. */
static struct kern_eroute *scan_group(struct kern_eroute_table *t, const struct kern_dgroup *g,
				      const struct oe_addr *src, uint8_t proto, uint16_t sport,
				      uint16_t dport)
{
	struct kern_eroute *best = NULL;
	int best_rank = -1;

	for (unsigned j = 0; j < g->n; j++) {
		struct kern_eroute *e = &kern_node(t, g->node[j])->e;
		const struct oe_sel *s = &e->sel;
		int rank = s->src.len << 3 | (int)sel_pattern(s);

		if (rank <= best_rank || (s->proto && s->proto != proto) ||
		    (s->sport && s->sport != sport) || (s->dport && s->dport != dport) ||
		    !oe_prefix_contains(&s->src, src))
			continue;
		best = e;
		best_rank = rank;
	}
	return best;
}

struct kern_eroute *kern_eroute_lookup(struct kern_eroute_table *t, const struct oe_addr *src,
				       const struct oe_addr *dst, uint8_t proto, uint16_t sport,
				       uint16_t dport)
{
	int ai = af_index(dst->af);
	const struct kern_shapes *S;
	struct oe_addr s = *src, d = *dst;
	const uint64_t *m;
	struct oe_sel k;

	if (ai < 0 || src->af != dst->af || !t->shapes[ai].bits)
		return NULL;
	S = &t->shapes[ai];
	/* Normalized copies: the IPv4 tail bytes take part in hashing. */
	memset(s.b + S->bits / 8, 0, 16 - S->bits / 8);
	memset(d.b + S->bits / 8, 0, 16 - S->bits / 8);
	m = near_of(S, &d);
	for (unsigned j = 0; j < S->ndlens; j++) {
		unsigned dl = S->dlens[j];
		struct kern_eroute *e;
		uint32_t g;

		if (!near_maybe(S, m, dl))
			continue;
		k.dst = oe_prefix_of(&d, dl);
		g = dg_find(t, &k.dst, dst_hash(t, &k.dst), NULL);
		if (g == KERN_NIL)
			continue;
		if (t->dg[g].n == KERN_DG_OVER)
			e = probe_dlen(t, S, dl, &k, &s, proto, sport, dport);
		else
			e = scan_group(t, &t->dg[g], &s, proto, sport, dport);
		if (e)
			return e;
	}
	return NULL;
}

/* --- listing order, walking, removal ----------------------------------------------------- */

static int prefix_cmp(const struct oe_prefix *a, const struct oe_prefix *b)
{
	int c = oe_addr_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

int kern_eroute_cmp(const struct kern_eroute *a, const struct kern_eroute *b)
{
	int c = prefix_cmp(&a->sel.src, &b->sel.src);

	if (!c)
		c = prefix_cmp(&a->sel.dst, &b->sel.dst);
	if (!c)
		c = a->sel.proto < b->sel.proto ? -1 : a->sel.proto > b->sel.proto;
	if (!c)
		c = a->sel.sport < b->sel.sport ? -1 : a->sel.sport > b->sel.sport;
	if (!c)
		c = a->sel.dport < b->sel.dport ? -1 : a->sel.dport > b->sel.dport;
	return c;
}

static int cmp_ptr(const void *a, const void *b)
{
	return kern_eroute_cmp(*(struct kern_eroute *const *)a, *(struct kern_eroute *const *)b);
}

int kern_eroute_sorted(struct kern_eroute_table *t, struct kern_eroute ***out, size_t *n)
{
	struct kern_eroute **v = malloc((t->count ? t->count : 1) * sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nslots; i++)
		if (kern_node(t, i)->live)
			v[k++] = &kern_node(t, i)->e;
	/* Selectors are unique, so the order is total and the listing deterministic. */
	qsort(v, k, sizeof(*v), cmp_ptr);
	*out = v;
	*n = k;
	return 0;
}

void kern_eroute_walk(struct kern_eroute_table *t, bool (*fn)(void *ctx, struct kern_eroute *e),
		      void *ctx)
{
	struct kern_eroute **v;
	size_t n;

	if (kern_eroute_sorted(t, &v, &n) < 0) {
		/* Out of memory for the sort: still visit everything, in storage order. */
		oe_warn(KERN, "eroute walk: no memory to sort %zu entries; unsorted", t->count);
		for (uint32_t i = 0; i < t->nslots; i++)
			if (kern_node(t, i)->live && !fn(ctx, &kern_node(t, i)->e))
				return;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!fn(ctx, v[i]))
			break;
	free(v);
}

size_t kern_eroute_remove_if(struct kern_eroute_table *t,
			     bool (*fn)(void *ctx, const struct kern_eroute *e), void *ctx)
{
	size_t removed = 0;

	for (uint32_t i = 0; i < t->nslots; i++) {
		struct kern_enode *nd = kern_node(t, i);
		uint32_t j, pos;

		if (!nd->live || !fn(ctx, &nd->e))
			continue;
		j = node_find(t, &nd->e.sel, nd->hash, &pos);
		if (j == i) {
			node_delete(t, i, pos);
			removed++;
		}
	}
	return removed;
}
