/* Internal to oe-agent/: the IKEv2 engine (ike/ike.h) on the agent's event loop and on real
 * UDP sockets (ike_sock.c): ports 500 and 4500 (RFC 3948 §2.2 non-ESP marker), IPv4 and IPv6,
 * marked so the trap lets them through; the engine's timers as one oe_loop timer; key lookups
 * through oe_dns (or a hook, for tests); policy from the loaded pg_policy. */
#ifndef IKE_SOCK_INT_H
#define IKE_SOCK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "ike/ike.h"

struct oe_ike;

/* Key lookup hook: like oe_dns_lookup_addr / _fqdn for an identity; cb runs later or before
 * return. cancel withdraws (cb, cbarg). Returns 0 or -errno. */
struct oe_ike_lookup {
	void *arg;
	int (*start)(void *arg, const struct ike_id *id,
		     void (*cb)(void *cbarg, const struct dk_result *res), void *cbarg);
	void (*cancel)(void *arg, void (*cb)(void *cbarg, const struct dk_result *res),
		       void *cbarg);
};

struct oe_ike_opts {
	uint16_t port, natt_port; /* 500 / 4500; 0 = any free port (tests) */
	bool v6;		  /* also open IPv6 sockets */
	uint32_t mark;		  /* SO_MARK on the sockets (0 = none) */
	struct ike_conf conf;	  /* engine settings (ike_conf_default + our key and id) */
	const struct kern_ops *kern; /* where Child SAs go; kern_arg its argument */
	void *kern_arg;
	struct oe_ike_lookup lookup; /* start NULL: the caller must set dns */
	struct oe_dns *dns;	  /* borrowed; used when lookup.start is NULL */
	/* Engine events (IKE SA up/down, Child SA up/down), may be NULL. */
	void (*event)(void *arg, const struct ike_event *ev);
	void *event_arg;
};

/* Opens the sockets and makes the engine on loop l. The policy is borrowed until the next
 * oe_ike_set_policy (NULL: private-or-clear for every peer). Returns 0 or -errno (logged). */
int oe_ike_new(struct oe_loop *l, const struct oe_ike_opts *o, const struct pg_policy *p,
	       struct oe_ike **out);
/* Closes the sockets and frees the engine (Child SAs removed from kern, no DELETE sent).
 * NULL is fine. */
void oe_ike_free(struct oe_ike *k);
void oe_ike_set_policy(struct oe_ike *k, const struct pg_policy *p);
/* Borrowed engine, for ike_sa_get / ike_status_format / ike_delete. */
struct ike_engine *oe_ike_engine(struct oe_ike *k);
/* The local UDP port of the IKE (natt false) or NAT-T socket of family af. */
uint16_t oe_ike_port(const struct oe_ike *k, int af, bool natt);
/* ike_initiate from local (our address) to remote (port 500) for the host pair local ->
 * remote, with the DNS answer that made us initiate (may be NULL). Re-arms the timer. */
enum ike_status oe_ike_initiate(struct oe_ike *k, const struct oe_addr *local,
				const struct oe_addr *remote, uint16_t remote_port,
				const struct dk_result *keys, uint64_t *sa_out);
/* After any direct engine call (ike_delete, rekeys): re-arms the engine's timer. */
void oe_ike_rearm(struct oe_ike *k);
/* Handles the datagrams the IKE sockets hold now, without waiting (for the ESP queue: see
 * ike_child_rekey_waiting). */
void oe_ike_drain(struct oe_ike *k);

/* ---- tunnels (tunnel.c): IKE + the uesp datapath behind the trap's negotiation step ---- */

struct oe_trap;
struct oe_tunnels;
/* Opens the ESP queue (trapqueue + 1, where the trap's rules send tunnel pairs and inbound
 * ESP), the IKE sockets (marked) and the engine with our host key (conf hostkey if the file
 * exists, else AUTH_NULL as initiator only), and becomes t's negotiator. 0 or -errno. */
int oe_tunnels_start(struct oe_loop *l, const struct oe_conf *c, const struct pg_policy *p,
		     struct oe_trap *t, struct oe_tunnels **out);
/* Frees the SAs (no DELETE sent) and closes everything. NULL is fine. */
void oe_tunnels_stop(struct oe_tunnels *x);
void oe_tunnels_set_policy(struct oe_tunnels *x, const struct pg_policy *p);
/* Adds one tunnel eroute per Child SA (outbound pair => tun0x<spi>@<peer>, counts). */
void oe_tunnels_eroutes(struct oe_tunnels *x, struct kern_eroute_table *out);
/* Appends the IKE and Child SA listing and the datapath counters of `ipsec status`. */
void oe_tunnels_status(struct oe_tunnels *x, struct oe_buf *out);
/* The same SAs and counters as one JSON object {"ike_sas": [...], "esp": {...}}. */
void oe_tunnels_status_json(struct oe_tunnels *x, struct oe_buf *out);

#endif
