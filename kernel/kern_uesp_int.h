/* Internals of the uesp backend: the SA table (kern_uesp_tab.c) that kern_uesp.c's packet
 * path and kern_ops use. SAs are found by inbound SPI (a hash), by the outbound pair (a hash
 * of host pairs, and a short list for prefix selectors), and each holds the path MTU state
 * of its outer remote address, shared with the other SAs to the same remote. */
#ifndef KERN_UESP_INT_H
#define KERN_UESP_INT_H

#include "kernel.h"

/* What we know of the path to one outer remote address. In OE the outer remote is also the
 * inner destination, so the kernel's PMTU for it is lowered by our own ICMP too-big (to the
 * inner MTU we report): that value is remembered (told) and not taken for the outer path. */
struct uesp_path {
	struct oe_addr remote;
	unsigned kmtu;		/* the kernel's MTU towards remote (IP_MTU) at the last check */
	unsigned base;		/* the outer path MTU we use (0 = not known yet) */
	unsigned told;		/* inner MTU last reported to a local sender; 0 = none */
	uint64_t checked_ms;	/* oe_now_ms() of the last check; 0 = never */
	uint64_t told_ms;
	unsigned refs;		/* SAs using it; kept after the last while told is in force */
	struct uesp_path *next;
};

struct uesp_sa {
	struct kern_child_sa sa;	/* our copy (keys wiped on removal) */
	struct kern_esp_sa *esp;
	struct uesp_path *path;		/* of sa.remote; never NULL */
	bool outbound;			/* carries the pair's outbound traffic (the newest) */
	bool host;			/* host selectors: in the pair hash, else in the wide list */
	bool rekey_asked;
	bool pending_out;		/* outbound_later: waits for the peer (uesp_tab_promote) */
	uint32_t successor;		/* spi_in of its pending_out successor; 0 = none */
	uint64_t last_use_ms;
	struct uesp_sa *next_spi, *next_pair; /* hash chains (next_pair: or the wide list) */
};

struct uesp_tab {
	struct uesp_sa **spi, **pair;	/* chained hashes of nb buckets (a power of two) */
	struct uesp_path **path;
	size_t nb, n;			/* buckets, SAs */
	size_t npb, npaths;		/* path buckets, paths */
	struct uesp_sa *wide;		/* outbound SAs with prefix selectors: rare in OE */
	uint32_t seed;			/* random per table: peers pick selectors */
	unsigned adds;
};

int uesp_tab_init(struct uesp_tab *t);
/* Wipes and frees every SA and path. */
void uesp_tab_free(struct uesp_tab *t);
struct uesp_sa *uesp_tab_by_spi(const struct uesp_tab *t, uint32_t spi_in);
/* The outbound SA whose selectors cover src -> dst: an exact host pair first, then the
 * prefix selectors. Borrowed, or NULL. */
struct uesp_sa *uesp_tab_by_pair(const struct uesp_tab *t, const struct oe_addr *src,
				 const struct oe_addr *dst);
/* Adds a copy of sa as the outbound SA of its pair; the SAs that carried that pair so far
 * stop carrying it (kern_ops install). -EEXIST when spi_in is taken, -ENOMEM, or the ESP
 * core's error. */
int uesp_tab_add(struct uesp_tab *t, const struct kern_child_sa *sa, struct uesp_sa **out);
/* s no longer carries outbound traffic (its inbound side stays). */
void uesp_tab_demote(struct uesp_tab *t, struct uesp_sa *s);
/* s becomes the outbound SA of its pair again (those that carried it stop), and is no
 * longer pending_out. */
void uesp_tab_promote(struct uesp_tab *t, struct uesp_sa *s);
/* Removes, wipes and frees the SA with this inbound SPI; -ENOENT if none. */
int uesp_tab_del(struct uesp_tab *t, uint32_t spi_in, uint64_t now_ms);

/* How long a path entry outlives its last SA while the kernel may still hold the PMTU we
 * caused (Linux's net.ipv4.route.mtu_expires is 600 s). */
#define UESP_PATH_KEEP_MS 600000
#define UESP_PMTU_CHECK_MS 1000 /* how often a path's MTU is read from the kernel */
#define UESP_PKT_MAX 65535

struct kern_uesp {
	struct kern_nfq *q;		/* the ESP queue; NULL without one (tests) */
	struct uesp_tab tab;
	struct kern_uesp_stats st;
	void (*rekey_cb)(void *arg, uint32_t spi_in);
	void *rekey_arg;
	void (*unknown_cb)(void *arg, const struct oe_addr *src, const struct oe_addr *dst,
			   uint32_t spi);
	void *unknown_arg;
	uint32_t mark;			/* SO_MARK of the sockets below: never trapped or queued */
	int mtu_fd4, mtu_fd6;		/* UDP sockets connect()ed to a remote to read its MTU */
	struct kern_icmp *raw;		/* raw sockets for the packets we send ourselves */
	unsigned (*pmtu_fn)(void *arg, const struct oe_addr *remote); /* NULL: the kernel's */
	void *pmtu_arg;
	int (*send_fn)(void *arg, const uint8_t *pkt, size_t n); /* NULL: the raw sockets */
	void *send_arg;
	uint8_t *obuf;			/* the packet for the verdict */
	uint8_t *sbuf;			/* inner fragments encrypted (kern_uesp_pmtu.c) */
	uint32_t frag_id;		/* Identification of the IPv6 fragments we make */
};

/* ---- path MTU (kern_uesp_pmtu.c) ---- */
/* What to do with outbound packet pkt of SA s on its path: FITS or FRAGMENT (encrypt), or
 * ICMP: handled here (the too-big error went to the local sender, or the packet was split
 * and its fragments sent), the verdict drops it. */
enum kern_esp_mtu_action uesp_mtu_decide(struct kern_uesp *u, struct uesp_sa *s,
					 const uint8_t *pkt, size_t n, uint64_t now_ms);
/* The encrypted packet (len bytes at out, writable) after decision act: its length for the
 * verdict, or 0 when it was sent otherwise (fragments, or past the kernel's PMTU). */
size_t uesp_mtu_send(struct kern_uesp *u, struct uesp_sa *s, enum kern_esp_mtu_action act,
		     uint8_t *out, size_t len);
/* Closes the sockets of the two above. */
void uesp_mtu_close(struct kern_uesp *u);

#endif
