/* Internal to kernel/: the eroute table's layout, shared by the table (kern_eroute.c) and its
 * listing (kern_eroute_fmt.c). Entries live in fixed-size chunks so that pointers handed out
 * stay valid while the table grows; everything else refers to entries by 32-bit index. */
#ifndef KERN_EROUTE_INT_H
#define KERN_EROUTE_INT_H

#include "kernel.h"

#define KERN_NIL UINT32_MAX
#define KERN_CHUNK_SHIFT 12
#define KERN_CHUNK (1u << KERN_CHUNK_SHIFT)

/* Proto/port pattern bits of a selector; the value is also its exactness score, the same as
 * policy-groups/ uses (proto 4 + dport 2 + sport 1). */
#define KERN_PM_PROTO 4u
#define KERN_PM_DPORT 2u
#define KERN_PM_SPORT 1u
#define KERN_NPM 8u

/* The hash sits just before the selector, so that confirming a hash match touches one cache
 * line (nodes are 64-byte aligned; the selector ends at byte 58). */
struct kern_enode {
	_Alignas(64) uint32_t next; /* free list */
	uint32_t hash;
	bool live;
	struct kern_eroute e;
};

/* One destination prefix present in the table and (up to KERN_DG_MAX) the entries that have
 * it; one cache line. */
#define KERN_DG_MAX 8u
#define KERN_DG_OVER 0xffu /* more entries than node[] holds: search by shape probes */

struct kern_dgroup {
	_Alignas(64) uint32_t hash;
	uint32_t count; /* entries with this prefix; 0 = free, node[0] links the free list */
	uint8_t af;
	uint8_t len;
	uint8_t n; /* entries listed in node[], or KERN_DG_OVER */
	uint8_t addr[16];
	uint32_t node[KERN_DG_MAX];
};

/* The shapes present for one family. A shape is (dst len, src len, pattern); code =
 * src len << 3 | pattern. */
struct kern_shapes {
	unsigned bits;		/* 32 or 128; 0 until the family's first entry */
	uint32_t *ref;		/* entries per shape, [(dlen * (bits + 1) + slen) * 8 + pm] */
	uint32_t dlen_ref[129]; /* entries per dst length */
	uint8_t dlens[129];	/* dst lengths present, longest first */
	unsigned ndlens;
	uint16_t *codes;	/* per dst length, (bits + 1) * 8 slots: codes present, most */
	uint16_t ncodes[129];	/* specific first (src len, then pattern score) */
	/* Near masks: per slot of the address space (KERN_NEAR_SLOTS of them), a bit for each dst
	 * length >= near_min that may have entries in that slot (bit = length - near_min). One
	 * cache line read tells a lookup which of the longer dst lengths to try at all. */
	uint64_t *near;
	unsigned near_min;   /* 16 (IPv4) or 32 (IPv6) */
	unsigned near_words; /* 1 or 2 words per slot */
};

#define KERN_NEAR_SLOTS 65536u

struct kern_hslot {
	uint32_t hash;
	uint32_t idx; /* node index; KERN_NIL = empty */
};

struct kern_eroute_table {
	struct kern_enode **chunks;
	size_t nchunks;
	uint32_t nslots; /* slots handed out so far (live + free) */
	uint32_t free_head;
	size_t count;
	struct kern_hslot *ht; /* exact-selector hash, open addressing, at most half full */
	uint32_t nht;	       /* power of two */

	struct kern_dgroup *dg; /* destination prefix records, 64-byte aligned */
	uint32_t ndg, dg_cap, dg_free, dg_live;
	struct kern_hslot *dgs; /* their hash, open addressing, at most half full */
	uint32_t ndgs;

	struct kern_shapes shapes[2]; /* [0] IPv4, [1] IPv6 */
	size_t near_stale;	      /* deletions since the near masks were recomputed */
	bool near_pending;	      /* recompute them after the current deletion */
	uint64_t seed;		      /* hash seed, random per table (flooding resistance) */
};

static inline struct kern_enode *kern_node(const struct kern_eroute_table *t, uint32_t i)
{
	return &t->chunks[i >> KERN_CHUNK_SHIFT][i & (KERN_CHUNK - 1)];
}

/* Text writers for the listing (kern_said.c): each appends at p, returns the new end and
 * writes no NUL. Room needed: 20 for a number, OE_ADDRSTRLEN - 1 for an address,
 * KERN_SAIDSTRLEN - 1 for a SAID. */
char *kern_put_str(char *p, const char *s);
char *kern_put_u64(char *p, uint64_t v);
char *kern_put_addr(char *p, const struct oe_addr *a);
char *kern_put_said(char *p, const struct kern_said *s);

/* Every entry in listing order, in a new array (free() it); -ENOMEM. *n gets the count. */
int kern_eroute_sorted(struct kern_eroute_table *t, struct kern_eroute ***out, size_t *n);

#endif
