/* kernel/: everything that touches the kernel. For now, the eroute table: the KLIPS-style list
 * of what happens to outbound traffic of each selector (trap, hold, pass, drop, reject, or a
 * tunnel/transport SA), with packet counts, listed as /proc/net/ipsec_eroute was. */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oe_addr.h"
#include "oe_buf.h"
#include "oe_sel.h"

enum kern_said_kind { KERN_SAID_TRAP, KERN_SAID_HOLD, KERN_SAID_PASS, KERN_SAID_DROP,
		      KERN_SAID_REJECT, KERN_SAID_ESP, KERN_SAID_TUN };

/* A Security Association ID: a magic shunt, or esp0x<spi>@edst / tun0x<spi>@edst. */
struct kern_said {
	enum kern_said_kind kind;
	uint32_t spi;		/* ESP/TUN only */
	struct oe_addr edst;	/* ESP/TUN only */
};

#define KERN_SAIDSTRLEN 80
#define KERN_IDLEN 128
#define KERN_REASONLEN 64

struct kern_eroute {
	struct oe_sel sel;	   /* src/dst prefixes, proto, ports (0 = any) */
	struct kern_said said;
	uint64_t packets;	   /* outbound packets through this eroute */
	char src_id[KERN_IDLEN];   /* optional identities, "" when none */
	char dst_id[KERN_IDLEN];
	char reason[KERN_REASONLEN]; /* why this eroute exists: group name, "implicit", … */
	uint64_t expires_ms;	   /* oe_now_ms() deadline for shunts; 0 = never */
};

/* "%pass", "tun0x1002@192.0.2.45", …; returns buf. */
const char *kern_said_str(const struct kern_said *s, char buf[static KERN_SAIDSTRLEN]);
/* Parses the same forms, n characters: the magic names exactly, or esp0x / tun0x followed by
 * 1..8 hex digits (SPI 1..0xffffffff; 0 is reserved by RFC 4303 §2.1), '@' and an IPv4/IPv6
 * address. On failure *out is left unchanged. */
bool kern_said_parse(const char *s, size_t n, struct kern_said *out);
/* "trap", "hold", "pass", "drop", "reject", "esp", "tun" (the JSON said_kind). */
const char *kern_said_kind_name(enum kern_said_kind k);
/* True for the SA kinds (ESP, TUN) that carry an SPI and edst. */
bool kern_said_is_sa(const struct kern_said *s);
/* Same kind, and for SAs the same SPI and edst. */
bool kern_said_eq(const struct kern_said *a, const struct kern_said *b);

struct kern_eroute_table;

/* A new, empty table, owned by the caller (kern_eroute_table_free); NULL when out of memory. */
struct kern_eroute_table *kern_eroute_table_new(void);
void kern_eroute_table_free(struct kern_eroute_table *t);

/* The table scales to millions of entries: add/del/get are hash operations on the exact
 * selector; lookup tries the dst lengths present, longest first, skipping those that a
 * per-/16 mask rules out, and checks the few entries an index lists for the packet's
 * destination prefix of that length (or probes each src length/pattern shape present).
 * Pointers returned by get/lookup/walk are borrowed and stay valid until that entry is deleted
 * (del, remove_if, table_free); adds never move entries. */

/* Adds a copy of e, or replaces the entry with an identical selector (keeping its packet count
 * unless e->packets is non-zero). Host bits of the prefixes are cleared. Returns 0, -ENOMEM,
 * or -EINVAL when src and dst are not both IPv4 or both IPv6 or a length is out of range. */
int kern_eroute_add(struct kern_eroute_table *t, const struct kern_eroute *e);
/* Deletes the entry with exactly this selector; -ENOENT if there is none. */
int kern_eroute_del(struct kern_eroute_table *t, const struct oe_sel *sel);
/* The entry with exactly this selector, borrowed, or NULL. */
struct kern_eroute *kern_eroute_get(struct kern_eroute_table *t, const struct oe_sel *sel);
/* Most specific entry for a packet: longest dst prefix, then longest src prefix, then the
 * more exact proto/ports. Borrowed, or NULL. */
struct kern_eroute *kern_eroute_lookup(struct kern_eroute_table *t, const struct oe_addr *src,
				       const struct oe_addr *dst, uint8_t proto, uint16_t sport,
				       uint16_t dport);
size_t kern_eroute_count(const struct kern_eroute_table *t);
/* Listing order: source (family, address, length), then destination (family, address,
 * length), then proto, sport, dport. */
int kern_eroute_cmp(const struct kern_eroute *a, const struct kern_eroute *b);
/* Calls fn for every entry in listing order; stops early if fn returns false. fn may change
 * an entry's non-selector fields but must not add or delete entries. */
void kern_eroute_walk(struct kern_eroute_table *t, bool (*fn)(void *ctx, struct kern_eroute *e),
		      void *ctx);
/* Removes every entry for which fn returns true; returns how many. fn must not change the
 * table. */
size_t kern_eroute_remove_if(struct kern_eroute_table *t,
			     bool (*fn)(void *ctx, const struct kern_eroute *e), void *ctx);

/* The listing in the KLIPS layout ("%-10d %-18s -> %-18s => %s"), one line per entry, in
 * listing order. Ports as addr/len:port ([addr/len]:port for IPv6) when non-zero, and ":proto"
 * after the SAID when the protocol is non-zero, as KLIPS printed them. */
void kern_eroute_format(struct kern_eroute_table *t, struct oe_buf *out);
/* The same as a JSON array of objects with every field; now_ms (oe_now_ms()) gives
 * expires_in_s. On allocation failure out is marked failed (oe_buf_failed). */
void kern_eroute_format_json(struct kern_eroute_table *t, uint64_t now_ms, struct oe_buf *out);

/* ==== Child SAs / kern_ops (kern_mock.c) ====================================================
 * What the IKE engine hands to the kernel layer: one plain value struct per Child SA (both
 * directions), through a small ops table chosen once at start-up (STYLE.md 2, 12). The engine
 * never touches sockets or the kernel itself; tests run it against the mock backend below,
 * which records every call. Keys are secrets: backends wipe their copies (OPENSSL_cleanse). */

enum kern_mode { KERN_MODE_TUNNEL, KERN_MODE_TRANSPORT };
enum kern_encap { KERN_ENCAP_NONE, KERN_ENCAP_UDP }; /* RFC 3948 UDP encapsulation */

#define KERN_ESP_AES_GCM_16 20 /* IKEv2 ENCR transform ID (RFC 4106 §8.1) */
#define KERN_ESP_KEY_MAX 32    /* AES-256 */
#define KERN_ESP_SALT_LEN 4    /* RFC 4106 §8.1: the salt is the last 4 octets of KEYMAT */

/* Byte and second limits; 0 = none. Soft: rekey, hard: delete. */
struct kern_lifetime {
	uint64_t soft_bytes, hard_bytes;
	uint32_t soft_s, hard_s;
};

struct kern_child_sa {
	uint32_t reqid;			/* ties both directions and the policy together */
	uint32_t spi_in, spi_out;	/* network-order values as numbers; in = chosen by us */
	uint16_t encr;			/* KERN_ESP_AES_GCM_16 */
	uint16_t key_len;		/* octets of key (16 or 32), salt not included */
	uint8_t key_in[KERN_ESP_KEY_MAX], key_out[KERN_ESP_KEY_MAX];
	uint8_t salt_in[KERN_ESP_SALT_LEN], salt_out[KERN_ESP_SALT_LEN];
	bool esn;			/* RFC 4303 §2.2.1 extended sequence numbers */
	enum kern_mode mode;
	struct oe_sel sel;		/* outbound direction: src = our side, dst = the peer's */
	struct oe_addr local, remote;	/* the SA's outer addresses */
	enum kern_encap encap;
	uint16_t encap_sport, encap_dport; /* our / the peer's UDP port when encapsulated */
	struct kern_lifetime life;
	/* an SA we answered for (a rekey, RFC 7296 §2.8, or an IKE_AUTH while another SA of the
	 * pair is up, as in strongSwan's reauthentication): when our answer leaves, the peer has
	 * not installed it yet, so it receives at once but takes the pair's outbound traffic
	 * from the SA that has it only once the peer's first packet on it arrives or that SA is
	 * removed (strongSwan's responder also waits; sending at once loses packets) */
	bool outbound_later;
};

struct kern_sa_counters {
	uint64_t bytes_in, bytes_out;
	uint64_t packets_in, packets_out;
	uint64_t last_use_ms;		/* oe_now_ms() of the last packet; 0 = never */
};

/* A backend. Every call returns 0 or -errno; sa is borrowed for the call. */
struct kern_ops {
	const char *name;
	/* Installs both directions and the outbound policy for sa->sel. */
	int (*install)(void *arg, const struct kern_child_sa *sa);
	/* Rekey (RFC 7296 §2.8): installs nsa and moves outbound traffic of old->sel to it; the
	 * old inbound SA stays until remove(old) so packets in flight are still accepted. */
	int (*update)(void *arg, const struct kern_child_sa *old, const struct kern_child_sa *nsa);
	/* Removes both directions of the SA whose spi_in is sa->spi_in (policy too, unless a
	 * newer SA of the same reqid took it over). -ENOENT if not installed. */
	int (*remove)(void *arg, const struct kern_child_sa *sa);
	/* Traffic counters of the SA whose spi_in is sa->spi_in. */
	int (*query)(void *arg, const struct kern_child_sa *sa, struct kern_sa_counters *out);
};

/* -- the mock backend: records calls, keeps the installed SAs, can be told to fail -- */
enum kern_mock_op { KERN_MOCK_INSTALL, KERN_MOCK_UPDATE, KERN_MOCK_REMOVE, KERN_MOCK_QUERY,
		    KERN_MOCK_NOPS };
struct kern_mock;
extern const struct kern_ops kern_mock_ops; /* arg: the struct kern_mock */

struct kern_mock *kern_mock_new(void);
void kern_mock_free(struct kern_mock *m); /* wipes the keys it holds; NULL is fine */
/* Calls of op made so far. */
unsigned kern_mock_calls(const struct kern_mock *m, enum kern_mock_op op);
/* SAs currently installed. */
size_t kern_mock_installed(const struct kern_mock *m);
/* The installed SA with this inbound SPI, borrowed (valid until the next call), or NULL. */
const struct kern_child_sa *kern_mock_find(const struct kern_mock *m, uint32_t spi_in);
/* The i-th installed SA (0 <= i < installed), borrowed. */
const struct kern_child_sa *kern_mock_at(const struct kern_mock *m, size_t i);
/* The next call of op fails with err (a negative errno) instead of doing anything. */
void kern_mock_fail_next(struct kern_mock *m, enum kern_mock_op op, int err);
/* Sets the counters query() reports for the SA with this inbound SPI. */
void kern_mock_set_counters(struct kern_mock *m, uint32_t spi_in, const struct kern_sa_counters *c);
/* "install", "update", "remove", "query". */
const char *kern_mock_op_name(enum kern_mock_op op);
/* ==== end of Child SAs / kern_ops ========================================================== */

/* ==== trap path (kern_pkt.c, kern_rules.c, kern_rules_fmt.c, kern_nfq.c, kern_icmp.c) ========
 * The catch-all trap of DESIGN.md §3-§4: our own nft table (`inet oe_agent`) classifies
 * locally originated packets (agent-marked ones bypass; clear / block ranges are decided in
 * the kernel; decided pairs live in sets with per-element timeouts and counters) and sends the
 * rest to an NFQUEUE that never fails open. With the native nft `queue` statement the table
 * queues itself; without it (our kernels) the table marks trapped packets and one iptables
 * chain per family (OE_TRAP, OE_TRAP6, jumped to from filter OUTPUT) queues marked packets. */

/* -- packet headers (kern_pkt.c): pure, for packets from NFQUEUE -- */
enum kern_pkt_status { KERN_PKT_OK = 0, KERN_PKT_TRUNCATED, KERN_PKT_VERSION, KERN_PKT_HDRLEN,
		       KERN_PKT_TOTLEN, KERN_PKT_EXTHDR, KERN_PKT_NSTATUS };
const char *kern_pkt_strerror(enum kern_pkt_status s);

struct kern_pkt {
	struct oe_addr src, dst;
	uint8_t proto;		/* upper-layer protocol after IPv6 extension headers */
	uint16_t sport, dport;	/* TCP/UDP/UDP-Lite/SCTP, else 0 (and in later fragments) */
	uint16_t ip_len;	/* total length from the header */
	uint16_t l4_off;	/* offset of the upper-layer header (0: a later fragment) */
};
/* Parses an IPv4 or IPv6 header and the ports of n bytes (untrusted; n may be shorter than
 * the packet when the queue copied only its head, but must hold the IP and L4 headers). */
enum kern_pkt_status kern_pkt_parse(const uint8_t *p, size_t n, struct kern_pkt *out);

/* -- ICMP (kern_icmp.c) -- */
/* Builds the ICMP "communication administratively prohibited" (RFC 1812 §5.2.7.1: type 3
 * code 13) or ICMPv6 (RFC 4443 §3.1: type 1 code 1) error a router would send about the
 * packet pkt (n bytes of its head), as a whole IP packet from pkt's destination to its source.
 * Returns the length written to out (cap >= 1280 is enough), or 0 if pkt does not parse. */
size_t kern_icmp_build(const uint8_t *pkt, size_t n, uint8_t *out, size_t cap);
/* ICMP fragmentation needed (RFC 792, RFC 1191 §4) or ICMPv6 packet too big (RFC 4443 §3.2)
 * about pkt carrying mtu, the same way (kern_esp_icmp_too_big, for uesp). 0 without an
 * IPv4/IPv6 header, or an IPv4 mtu above 65535. */
size_t kern_icmp_build_too_big(const uint8_t *pkt, size_t n, unsigned mtu, uint8_t *out,
			       size_t cap);

struct kern_icmp;
/* Opens the raw sockets (IPv4 and IPv6) that send those errors, with SO_MARK mark so they
 * bypass the trap. Returns 0 or -errno. */
int kern_icmp_open(uint32_t mark, struct kern_icmp **out);
void kern_icmp_close(struct kern_icmp *k);
/* Sends the error about pkt back to its (local) sender. Returns 0 or -errno. */
int kern_icmp_reject(struct kern_icmp *k, const uint8_t *pkt, size_t n);
/* Sends whole IP packet pkt (n bytes, its header as built) to its destination through the
 * same marked raw sockets; only the device MTU limits it (IP_PMTUDISC_PROBE), not a PMTU the
 * kernel learnt. Used by uesp for ICMP too-big errors and outer packets. 0 or -errno. */
int kern_icmp_send(struct kern_icmp *k, const uint8_t *pkt, size_t n);

/* -- rules and sets (kern_rules.c, kern_rules_fmt.c) -- */
/* What the kernel does with a destination range without asking the agent. */
enum kern_range_kind {
	KERN_RANGE_TRAP,    /* trap (private-or-clear, or port rules decide) */
	KERN_RANGE_PRIVATE, /* trap, and inbound cleartext from it is dropped and counted */
	KERN_RANGE_CLEAR,   /* accept (clear, clear-or-private) */
	KERN_RANGE_BLOCK,   /* reject with ICMP administratively prohibited */
};
struct kern_range {
	struct oe_addr lo, hi; /* inclusive, same family */
	enum kern_range_kind kind;
};

/* Decisions: the sets pass4/pass6, drop4/…, reject4/… keyed by source . destination, and
 * passp4/… keyed by source . destination . protocol . source port . destination port for
 * destinations where port rules decide (TCP, UDP, UDP-Lite, SCTP only). */
/* KERN_SHUNT_TUNNEL (per pair only, key our address . the peer's): the pair has a Child SA:
 * outbound packets skip the trap and go to the ESP queue, inbound cleartext from the peer is
 * dropped and counted. */
enum kern_shunt { KERN_SHUNT_PASS, KERN_SHUNT_DROP, KERN_SHUNT_REJECT, KERN_SHUNT_TUNNEL,
		  KERN_NSHUNTS };
struct kern_shunt_elem {
	struct oe_addr src, dst;
	uint8_t proto;	       /* 0: the per-pair sets */
	uint16_t sport, dport;
	uint64_t packets;      /* from the kernel's counter (walk only) */
};
/* True for the protocols the port-keyed sets can hold (TCP, UDP, UDP-Lite, SCTP). */
bool kern_shunt_ports_ok(uint8_t proto);

#define KERN_TRAP_TABLE "oe_agent"
#define KERN_SOCKMARK_DEFAULT 0x4f450000u /* "OE": the agent's own sockets */
#define KERN_MARKMASK_DEFAULT 0xffff0000u /* the mark bits the agent owns */

struct kern_rules_conf {
	uint16_t queue;	     /* NFQUEUE number */
	uint32_t mark, mask; /* sockets with (mark & mask) == mark bypass; trapped packets get
			      * kern_trap_mark() in these bits (xt backend) */
	uint32_t max_shunts; /* size of each shunt set */
	bool native_queue;   /* render the nft `queue` statement instead of the mark */
	uint16_t esp_queue;  /* NFQUEUE of the userspace ESP datapath (kern_uesp); 0 = none */
};
/* The mark our table gives trapped packets: mark plus the lowest bit of mask. */
uint32_t kern_trap_mark(const struct kern_rules_conf *c);
/* The mark of packets for the ESP queue (xt backend): mark plus twice the lowest bit. */
uint32_t kern_esp_mark(const struct kern_rules_conf *c);
/* The mark of inbound cleartext from a `private` range that our input chain sends to the trap
 * queue (rate-limited) so the agent starts a negotiation towards its sender (DESIGN.md §5
 * E*): mark plus three times the lowest bit. */
uint32_t kern_trapin_mark(const struct kern_rules_conf *c);

/* The whole `inet oe_agent` table as nft -f input (pure): chains, the range sets filled from
 * v (n ranges, each family's ranges disjoint), empty shunt sets and counters. */
void kern_rules_render(const struct kern_rules_conf *c, const struct kern_range *v, size_t n,
		       struct oe_buf *out);
/* The element lines that replace the range sets' contents (flush + add), pure. */
void kern_rules_render_ranges(const struct kern_range *v, size_t n, struct oe_buf *out);

struct kern_rules;
/* Probes for the native nft queue statement (else the iptables NFQUEUE target), removes
 * leftovers of an earlier run (our table and chains only), installs the table with the
 * ranges and, for xt, the OE_TRAP chains. Logs which backend was chosen. 0 or -errno. */
int kern_rules_open(const struct kern_rules_conf *c, const struct kern_range *v, size_t n,
		    struct kern_rules **out);
/* Removes everything kern_rules_open installed (when remove) and frees r. NULL is fine. */
void kern_rules_close(struct kern_rules *r, bool remove);
/* Removes leftovers of a run that did not stop cleanly (table and chains). 0 or -errno. */
int kern_rules_cleanup(void);
/* True when the native nft queue statement is used. */
bool kern_rules_native(const struct kern_rules *r);
/* Replaces the range sets atomically (one transaction). 0 or -errno. */
int kern_rules_set_ranges(struct kern_rules *r, const struct kern_range *v, size_t n);
/* Queues a shunt element (timeout_s > 0) for e (per pair when e->proto is 0, else per ports:
 * -EINVAL unless kern_shunt_ports_ok); sent by kern_rules_commit(). */
int kern_shunt_add(struct kern_rules *r, enum kern_shunt k, const struct kern_shunt_elem *e,
		   uint64_t timeout_s);
/* Queues the removal of a shunt element (missing elements are fine). */
int kern_shunt_del(struct kern_rules *r, enum kern_shunt k, const struct kern_shunt_elem *e);
/* Sends the queued shunt changes in one transaction. Returns 0 or -errno (then all of them
 * were refused; they are dropped either way). */
int kern_rules_commit(struct kern_rules *r);
size_t kern_rules_pending(const struct kern_rules *r);
/* Calls fn for every shunt element the kernel holds, with its packet counter. */
int kern_shunt_walk(struct kern_rules *r,
		    void (*fn)(void *ctx, enum kern_shunt k, const struct kern_shunt_elem *e),
		    void *ctx);
/* Inbound cleartext from private ranges dropped by the kernel so far. */
int kern_rules_inbound_drops(struct kern_rules *r, uint64_t *packets);

/* -- NFQUEUE (kern_nfq.c): the trap queue, and the ESP queue under kern_uesp -- */
#define KERN_NFQ_COPY 1280 /* bytes of each packet copied to us (headers + ICMP quote) */

struct kern_nfq_pkt {
	uint32_t id;
	uint32_t mark;
	uint16_t hw_proto;     /* ETH_P_IP / ETH_P_IPV6 (host order) */
	uint32_t len;	       /* the packet's full length */
	const uint8_t *data;   /* its first caplen bytes, borrowed for the callback */
	uint32_t caplen;
};
enum kern_verdict { KERN_V_ACCEPT, KERN_V_DROP };

struct kern_nfq;
/* Binds queue num (copy mode, KERN_NFQ_COPY bytes, GSO flag, never fail-open; maxlen
 * packets queued in the kernel at most). Returns 0 or -errno. */
int kern_nfq_open(uint16_t num, uint32_t maxlen, struct kern_nfq **out);
struct kern_nfq_conf {
	uint32_t copy;	   /* bytes of each packet copied to us, 1..65535 */
	bool gso;	   /* large GSO packets whole (else the kernel segments first) */
	uint32_t maxlen;   /* packets queued in the kernel at most; 0 = the kernel's */
	bool verdict_pkts; /* verdicts will carry packets: room for them (kern_nfq_verdict_pkt) */
};
/* Binds queue num as c says (never fail-open). kern_nfq_open is this with KERN_NFQ_COPY, GSO
 * and no packet verdicts. Returns 0 or -errno. */
int kern_nfq_open_conf(uint16_t num, const struct kern_nfq_conf *c, struct kern_nfq **out);
void kern_nfq_close(struct kern_nfq *q);
int kern_nfq_fd(const struct kern_nfq *q);
/* Receives what is waiting (up to a batch of messages per call, non-blocking) and calls fn
 * per packet. Returns the number of packets, or -errno. */
int kern_nfq_receive(struct kern_nfq *q, void (*fn)(void *ctx, const struct kern_nfq_pkt *p),
		     void *ctx);
/* Queues a verdict; sent with the others in one sendmsg by kern_nfq_flush (or when the batch
 * fills). Returns 0 or -errno. */
int kern_nfq_verdict(struct kern_nfq *q, uint32_t id, enum kern_verdict v);
/* Queues an accept verdict that replaces the packet by pkt (len bytes, copied), or a drop
 * when len is 0; sent like the others, in order. -EMSGSIZE when it can never fit. */
int kern_nfq_verdict_pkt(struct kern_nfq *q, uint32_t id, const uint8_t *pkt, size_t len);
int kern_nfq_flush(struct kern_nfq *q);
/* Packets the kernel dropped because the queue was full, as of the last message. */
uint64_t kern_nfq_kernel_drops(const struct kern_nfq *q);
/* ==== end of trap path ======================================================================= */

/* ==== uesp: userspace ESP (kern_esp.c, kern_esp_pkt.c, kern_esp_replay.c, kern_esp_mtu.c) ====
 * RFC 4303 ESP with AES-GCM-16 (RFC 4106), tunnel and transport mode, raw (IP protocol 50)
 * or UDP-encapsulated (RFC 3948). Pure packet-in, packet-out code: the datapath (NFQUEUE or
 * TUN) looks the SA up by SPI and calls these. Not thread-safe per SA. */
#define KERN_ESP_REPLAY_WINDOW 1024 /* anti-replay window, packets (RFC 4303 §3.4.3: >= 32) */
/* Most bytes encryption adds: outer IPv6 header, UDP, ESP header, IV, 3 pad, trailer, ICV. */
#define KERN_ESP_OVERHEAD_MAX (40 + 8 + 8 + 8 + 3 + 2 + 16)

enum kern_esp_status {
	KERN_ESP_OK = 0,
	KERN_ESP_TRUNCATED,	/* shorter than its headers say */
	KERN_ESP_NOT_ESP,	/* not ESP: another protocol, or IKE behind the non-ESP marker */
	KERN_ESP_OUTER,		/* malformed or unsupported outer header (fragment, ext. header) */
	KERN_ESP_SPI,		/* SPI is not this SA's */
	KERN_ESP_REPLAY,	/* sequence number already received */
	KERN_ESP_TOO_OLD,	/* sequence number left of the replay window */
	KERN_ESP_ICV,		/* integrity check failed */
	KERN_ESP_PADDING,	/* pad length or pad bytes wrong (RFC 4303 §2.4) */
	KERN_ESP_NEXT_HDR,	/* next header does not fit the SA's mode */
	KERN_ESP_INNER,		/* decrypted inner packet malformed */
	KERN_ESP_SELECTOR,	/* inner addresses outside the SA's selectors */
	KERN_ESP_SEQ_OVERFLOW,	/* outbound sequence numbers exhausted: rekey (§3.3.3) */
	KERN_ESP_NOSPACE,	/* output buffer too small */
	KERN_ESP_CRYPTO,	/* libcrypto failed */
	KERN_ESP_NSTATUS
};
const char *kern_esp_strerror(enum kern_esp_status s);

struct kern_esp_stats {
	uint64_t packets_in, bytes_in;	 /* accepted, inner bytes */
	uint64_t packets_out, bytes_out; /* sent, inner bytes */
	uint64_t drops[KERN_ESP_NSTATUS]; /* per reason; [KERN_ESP_OK] unused */
};

struct kern_esp_sa;
/* Builds the context of both directions of sa (AES-GCM-16 only, key_len 16 or 32). The key
 * material is copied into libcrypto's contexts; sa is borrowed. Returns 0 or -EINVAL/-ENOMEM. */
int kern_esp_sa_new(const struct kern_child_sa *sa, struct kern_esp_sa **out);
void kern_esp_sa_free(struct kern_esp_sa *e); /* wipes the keys; NULL is fine */
void kern_esp_stats_get(const struct kern_esp_sa *e, struct kern_esp_stats *out);

/* Outbound: the outer packet for inner IP packet in (n bytes) into out. Tunnel mode wraps
 * in (local -> remote, next header 4 or 41); transport mode inserts ESP after the IP header
 * (IPv4 options kept, IPv6 extension headers not supported). Needs cap >= n +
 * KERN_ESP_OVERHEAD_MAX. */
enum kern_esp_status kern_esp_encrypt(struct kern_esp_sa *e, const uint8_t *in, size_t n,
				      uint8_t *out, size_t cap, size_t *out_len);
/* The SPI of an outer packet (raw ESP, or UDP to port 4500 without the non-ESP marker), for
 * the caller's SA lookup. KERN_ESP_NOT_ESP for anything else, IKE on 4500 included. */
enum kern_esp_status kern_esp_peek_spi(const uint8_t *pkt, size_t n, uint32_t *spi);
/* Inbound: checks and decrypts outer packet pkt into the original inner packet at out
 * (cap >= n). The replay window moves only once the ICV verified. Counts drops by reason. */
enum kern_esp_status kern_esp_decrypt(struct kern_esp_sa *e, const uint8_t *pkt, size_t n,
				      uint8_t *out, size_t cap, size_t *out_len);

/* -- packets too big once encapsulated (kern_esp_mtu.c) -- */
enum kern_esp_mtu_action {
	KERN_ESP_MTU_FITS,	/* the outer packet fits pmtu */
	KERN_ESP_MTU_ICMP,	/* DF set or IPv6: drop and tell the sender *inner_mtu */
	KERN_ESP_MTU_FRAGMENT,	/* encrypt, then fragment the outer packet */
};
/* What to do with inner packet in (n bytes) on a path of MTU pmtu; *inner_mtu is the largest
 * inner packet that fits (for the ICMP error). Without an IP header: FRAGMENT, *inner_mtu 0. */
enum kern_esp_mtu_action kern_esp_mtu_check(const struct kern_esp_sa *e, const uint8_t *in,
					    size_t n, unsigned pmtu, unsigned *inner_mtu);
/* Builds ICMP fragmentation needed (RFC 792, RFC 1191 §4) or ICMPv6 packet too big (RFC 4443
 * §3.2) about pkt, from pkt's destination back to its source, carrying mtu. Returns the
 * length written to out (cap >= 1280 is enough), or 0 without an IPv4/IPv6 header. */
size_t kern_esp_icmp_too_big(const uint8_t *pkt, size_t n, unsigned mtu, uint8_t *out,
			     size_t cap);
/* Splits IP packet pkt into fragments of at most mtu bytes (IPv4: RFC 791; IPv6: the fragment
 * header of RFC 8200 §4.5 after the fixed header) with identification id, calling emit for
 * each in order. Returns the number of fragments, or -EINVAL (unparsable, IPv4 DF, mtu too
 * small) / -EMSGSIZE. */
int kern_esp_fragment(const uint8_t *pkt, size_t n, unsigned mtu, uint32_t id,
		      void (*emit)(void *arg, const uint8_t *frag, size_t len), void *arg);

/* -- the uesp backend (kern_uesp.c): kern_ops over the ESP core on packets from an NFQUEUE --
 * The kernel rules (esp_queue in kern_rules_conf) queue outbound packets of tunnel pairs after
 * routing and inbound ESP; the verdict carries the packet rewritten (encrypted / decrypted). */
struct kern_uesp;
extern const struct kern_ops kern_uesp_ops; /* arg: the struct kern_uesp */
struct kern_uesp_stats {
	uint64_t encrypted, decrypted;
	uint64_t no_sa;		/* queued packets without an SA for them: dropped */
	uint64_t errors;	/* encryption / decryption refused (kern_esp_status): dropped */
	uint64_t soft_expired;	/* SAs past a soft byte limit or out of sequence numbers */
	uint64_t too_big;	/* inner packets refused as too big once encapsulated */
	uint64_t icmp_sent;	/* ICMP too-big errors delivered to their local sender */
	uint64_t fragmented;	/* outer packets fragmented (no DF on the inner packet) */
	uint64_t direct;	/* outer packets (or fragments) sent through our raw socket */
	uint64_t split;		/* IPv6 packets above the kernel's PMTU fragmented as their
				 * local source would have after the queue */
};
/* Binds NFQUEUE num (whole packets, no GSO, never fail-open) unless num is 0 (then only the
 * ops work: tests). Returns 0 or -errno. */
int kern_uesp_open(uint16_t num, uint32_t maxlen, struct kern_uesp **out);
void kern_uesp_close(struct kern_uesp *u); /* wipes every SA; NULL is fine */
int kern_uesp_fd(const struct kern_uesp *u); /* -1 without a queue */
/* Handles what is queued (non-blocking, bounded batch). Returns packets handled or -errno. */
int kern_uesp_receive(struct kern_uesp *u);
/* The packet path without the queue: rewrites pkt (n bytes) into out (cap >= n +
 * KERN_ESP_OVERHEAD_MAX). Outbound when an installed SA's selector covers its addresses,
 * inbound when it is ESP for one of our SPIs. Returns the length, or 0 = drop. */
size_t kern_uesp_process(struct kern_uesp *u, const uint8_t *pkt, size_t n, uint8_t *out,
			 size_t cap);
void kern_uesp_stats_get(const struct kern_uesp *u, struct kern_uesp_stats *out);
/* The mark of the sockets uesp opens (path MTU lookups, raw sends); default
 * KERN_SOCKMARK_DEFAULT. Call before the first packet. */
void kern_uesp_set_sockmark(struct kern_uesp *u, uint32_t mark);
/* Test seams. pmtu: the MTU towards an outer remote (0 = unknown) instead of the kernel's;
 * send: receives the packets uesp sends itself (ICMP too-big to local senders, outer packets
 * past the kernel's lowered PMTU, IPv6 outer fragments) instead of the raw sockets; returns
 * 0 or -errno. Both borrowed; NULL restores the default. */
void kern_uesp_set_pmtu_fn(struct kern_uesp *u,
			   unsigned (*fn)(void *arg, const struct oe_addr *remote), void *arg);
void kern_uesp_set_send_fn(struct kern_uesp *u,
			   int (*fn)(void *arg, const uint8_t *pkt, size_t n), void *arg);
/* Called (may be NULL) when an SA wants a rekey (soft bytes, sequence numbers near the end). */
void kern_uesp_set_rekey_cb(struct kern_uesp *u, void (*cb)(void *arg, uint32_t spi_in),
			    void *arg);
/* Called (may be NULL) for inbound ESP whose SPI has no SA (dropped; src sent it to dst). */
void kern_uesp_set_unknown_cb(struct kern_uesp *u,
			      void (*cb)(void *arg, const struct oe_addr *src,
					 const struct oe_addr *dst, uint32_t spi),
			      void *arg);
/* ==== end of uesp =========================================================================== */

#endif
