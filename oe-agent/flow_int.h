/* Internal to oe-agent/: the flow state machine of DESIGN.md §3 (flow.c) and the trap glue
 * that feeds it from the kernel (trap.c). The machine is pure: packets, DNS results and time
 * come in through calls, verdicts, lookups, negotiation and kernel shunts go out through
 * struct oe_flow_ops, so tests drive it with fakes in virtual time. */
#ifndef FLOW_INT_H
#define FLOW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "dnskeys.h"
#include "kernel.h"
#include "policy.h"

enum oe_flow_state { OE_FLOW_TRAPPED, OE_FLOW_HOLD_LOOKUP, OE_FLOW_HOLD_NEGOTIATING,
		     OE_FLOW_TUNNEL, OE_FLOW_PASS, OE_FLOW_DROP, OE_FLOW_REJECT, OE_FLOW_NSTATES };
/* "TRAPPED", "HOLD(lookup)", "HOLD(negotiating)", "TUNNEL", "PASS", "DROP", "REJECT". */
const char *oe_flow_state_name(enum oe_flow_state s);

enum oe_flow_verdict { OE_FV_ACCEPT, OE_FV_DROP, OE_FV_REJECT };

struct oe_flow_limits {
	uint32_t hold_packets;	 /* held per flow (default 32) */
	uint32_t hold_bytes;	 /* held per flow, original packet lengths (default 256 KiB) */
	uint32_t max_flows;	 /* flows in progress (default 4096) */
	uint32_t max_lookups;	 /* lookups in flight (default 512) */
	uint64_t max_held_bytes; /* held in total (default 16 MiB) */
	uint32_t max_shunts;	 /* decided pairs remembered (default 65536) */
	uint64_t shunt_life_s;	 /* shuntlifetime */
	uint64_t hold_timeout_ms; /* a flow still undecided after this gets the failure rule */
};
void oe_flow_limits_default(struct oe_flow_limits *l);

/* One trapped packet, borrowed for the call. */
struct oe_flow_pkt {
	uint32_t id;	     /* the queue's packet id */
	uint32_t len;	     /* full length */
	const uint8_t *head; /* first bytes (for an ICMP quote) */
	size_t headlen;
	struct kern_pkt hdr; /* parsed header */
};

struct oe_flow {
	struct oe_addr src, dst;
	uint8_t proto;	       /* key: with ports only where port rules decide (mixed) */
	uint16_t sport, dport;
	bool ports;	       /* the key includes proto/ports */
	enum oe_flow_state state;
	enum pg_group group;
	char reason[KERN_REASONLEN];
	uint64_t created_ms, deadline_ms; /* hold timeout, or shunt expiry once decided */
	uint32_t nheld, hfirst, hcap;	  /* held packets: nheld slots from hfirst */
	uint64_t held_bytes;
	struct oe_held *held;		  /* hcap slots; inl while few */
	struct oe_held {
		uint32_t id, len;
	} inl[2];
	struct oe_flow *hnext;		  /* hash chain */
	struct oe_flow *prev, *next;	  /* in-progress or decided list, by deadline */
	void *user;			  /* free for the ops (e.g. an IKE SA later) */
	uint64_t shunt_life_s;		  /* 0: the limits'; a negotiation may shorten it
					   * before concluding (unresponsive peer) */
};

struct oe_flow_ops {
	void *ctx;
	/* A verdict on a trapped packet; head/len: its first bytes, for OE_FV_REJECT's ICMP. */
	void (*verdict)(void *ctx, uint32_t id, enum oe_flow_verdict v, const uint8_t *head,
			size_t len);
	/* Starts the key lookup for f->dst; its result must come through
	 * oe_flows_lookup_done() (possibly before this returns). 0 or -errno. */
	int (*lookup)(void *ctx, struct oe_flow *f);
	/* f is freed while its lookup is in flight: withdraw the delivery. */
	void (*lookup_cancel)(void *ctx, struct oe_flow *f);
	/* The negotiation step (the IKE issue fills it): 0 = started, the result comes through
	 * oe_flows_negotiated(); -errno = failed now (the group's failure rule applies). NULL
	 * behaves as -ENOSYS. keys is borrowed for the call. */
	int (*negotiate)(void *ctx, struct oe_flow *f, const struct dk_result *keys);
	/* f was decided PASS/DROP/REJECT (install its kernel shunt and eroute). */
	void (*decided)(void *ctx, const struct oe_flow *f);
	/* A decided f is forgotten: expired (withdraw false: the kernel element times out by
	 * itself) or re-decided after a reload (withdraw true: delete it now). */
	void (*forget)(void *ctx, const struct oe_flow *f, bool withdraw);
	uint64_t (*now_ms)(void *ctx);
	/* f leaves HOLD(negotiating) without oe_flows_negotiated() (timeout, shutdown): the
	 * negotiation must forget f. May be NULL. */
	void (*negotiate_cancel)(void *ctx, struct oe_flow *f);
};

struct oe_flow_stats {
	uint64_t trapped;	 /* packets from the trap queue */
	uint64_t flows;		 /* decisions started */
	uint64_t outcome[OE_FLOW_NSTATES]; /* decisions by final state */
	uint64_t after_decision; /* packets of already decided flows that still came to us */
	uint64_t dropped_oldest; /* held packets dropped for a newer one (per-flow bound) */
	uint64_t malformed;	 /* packets that did not parse: dropped */
	uint64_t over_limit;	 /* packets dropped by the global limits */
	uint64_t expired;	 /* shunts that went back to trap */
	uint64_t redecided;	 /* shunts withdrawn by a reload */
	uint64_t inbound;	 /* inbound cleartext from private peers the kernel showed us */
	uint32_t in_progress, lookups, decided;
	uint64_t held_packets, held_bytes;
};

struct oe_flows;

/* ops is copied; the policy is borrowed until replaced. Returns NULL on allocation failure. */
struct oe_flows *oe_flows_new(const struct oe_flow_ops *ops, const struct oe_flow_limits *lim);
/* Drops every held packet (verdict drop), cancels lookups; forget() is not called. */
void oe_flows_free(struct oe_flows *fs);

/* Sets the policy used for new decisions (borrowed until the next call). With redecide,
 * decided flows whose group (or whose need for ports) changed are forgotten (withdraw) so
 * their pairs trap again. Returns how many were withdrawn. */
size_t oe_flows_set_policy(struct oe_flows *fs, const struct pg_policy *p, bool redecide);
void oe_flows_set_limits(struct oe_flows *fs, const struct oe_flow_limits *lim);

/* A trapped packet. */
void oe_flows_packet(struct oe_flows *fs, const struct oe_flow_pkt *p);
/* Inbound cleartext h from a `private` peer (already dropped by the caller, DESIGN.md §5
 * E*): unless the reverse pair (our address -> the sender) is decided or deciding, its flow
 * starts as if our own packet to the sender had been trapped, with nothing held. */
void oe_flows_inbound(struct oe_flows *fs, const struct kern_pkt *h);
/* A packet that did not parse (already dropped by the caller): counted. */
void oe_flows_malformed(struct oe_flows *fs);
/* The key lookup of f finished (res borrowed). */
void oe_flows_lookup_done(struct oe_flows *fs, struct oe_flow *f, const struct dk_result *res);
/* The negotiation of f finished. */
void oe_flows_negotiated(struct oe_flows *fs, struct oe_flow *f, bool ok, const char *why);
/* The tunnel of the pair src -> dst is gone: its TUNNEL flows go back to TRAPPED (freed) so the
 * next packet negotiates again. Returns how many. */
size_t oe_flows_tunnel_down(struct oe_flows *fs, const struct oe_addr *src,
			    const struct oe_addr *dst, const char *why);
/* Applies hold timeouts and shunt expiry up to now; returns the next deadline (0 = none). */
uint64_t oe_flows_expire(struct oe_flows *fs, uint64_t now_ms);

void oe_flows_stats(const struct oe_flows *fs, struct oe_flow_stats *out);
/* Calls fn for every flow: in progress (oldest first), then decided. */
void oe_flows_walk(struct oe_flows *fs, void (*fn)(void *ctx, const struct oe_flow *f),
		   void *ctx);

/* ---- trap glue (trap.c) ---- */

struct oe_trap;

/* Starts the trap path for the agent: kernel rules from policy p, the queue, the resolver in
 * loop l. Returns 0 or -errno (logged). */
int oe_trap_start(struct oe_loop *l, const struct oe_conf *c, const struct pg_policy *p,
		  struct oe_trap **out);
/* Removes the kernel state and frees everything. NULL is fine. */
void oe_trap_stop(struct oe_trap *t);
/* A new config and policy: new range sets, changed shunts re-decided. 0 or -errno. */
int oe_trap_reload(struct oe_trap *t, const struct oe_conf *c, const struct pg_policy *p);
/* The negotiation step, for the IKE issue to fill: called for a flow entering
 * HOLD(negotiating) with the keys found (borrowed for the call). Returns 0 when started (then
 * report the outcome with oe_trap_negotiated(), unless cancel(arg, f) came first: f is then
 * decided otherwise and must be forgotten) or -errno when it failed at once (the group's
 * failure rule applies). Without a negotiator every negotiation fails at once. */
typedef int (*oe_negotiate_fn)(void *arg, struct oe_flow *f, const struct dk_result *keys);
void oe_trap_set_negotiator(struct oe_trap *t, oe_negotiate_fn fn,
			    void (*cancel)(void *arg, struct oe_flow *f), void *arg);
/* A negotiation's outcome: ok -> TUNNEL (held packets released), else the failure rule. */
void oe_trap_negotiated(struct oe_trap *t, struct oe_flow *f, bool ok, const char *why);
/* The last Child SA of the pair ours -> peer is gone (its tunnel element removed by the
 * caller): the pair's flows return to the trap. */
void oe_trap_tunnel_down(struct oe_trap *t, const struct oe_addr *ours,
			 const struct oe_addr *peer, const char *why);
/* The trap's kernel rules (borrowed), for the tunnel shunts of tunnel.c. */
struct kern_rules *oe_trap_rules(struct oe_trap *t);
/* Adds the per-pair shunts, with live kernel counts, to the listing table t. */
void oe_trap_eroutes(struct oe_trap *t, struct kern_eroute_table *out);
/* Appends the trap section of `ipsec status`. */
void oe_trap_status(struct oe_trap *t, struct oe_buf *out);

/* The policy's disjoint ranges in kernel form (pg_ranges_sel: where port rules may give
 * another group the range traps). *out is malloc'd. Returns 0 or -ENOMEM. */
int oe_trap_ranges(const struct pg_policy *p, struct kern_range **out, size_t *n);

#endif
