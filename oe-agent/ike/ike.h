/* oe-agent/ike/: the IKEv2 engine (RFC 7296) for opportunistic encryption, DESIGN.md §6.
 * The engine owns IKE and Child SA state machines and nothing else: datagrams go out through
 * ops->send, Child SAs go to the kernel layer through ops->kern (kern_ops), peer keys come from
 * an asynchronous lookup the owner answers later, time comes from ops->now_ms and timers are
 * run by the owner (ike_next_deadline / ike_run_timers), so tests run it in virtual time.
 * Protocol results are enum ike_status (ike_strerror); system-facing calls return 0/-errno. */
#ifndef IKE_H
#define IKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "dnskeys.h"
#include "kernel.h"
#include "oe_addr.h"
#include "oe_buf.h"
#include "oe_sel.h"
#include "policy.h"

#define IKE_PORT 500
#define IKE_NATT_PORT 4500

struct ike_endpoint {
	struct oe_addr addr;
	uint16_t port;
};

/* An identity: type is the RFC 7296 §3.5 ID type (1 ID_IPV4_ADDR, 2 ID_FQDN, 5 ID_IPV6_ADDR,
 * RFC 7619 §3 13 ID_NULL; 0 = none; the names are in ike_codec_int.h). */
#define IKE_ID_MAX 255
#define IKE_IDSTRLEN 300
struct ike_id {
	uint8_t type; /* ID type, see above */
	uint16_t len;
	uint8_t data[IKE_ID_MAX]; /* 4 / 16 address octets, FQDN octets (no '@'), or nothing */
};
/* "192.0.2.1", "@gw.example", "(null)". Returns buf. */
const char *ike_id_str(const struct ike_id *id, char buf[static IKE_IDSTRLEN]);
/* The ID_IPV4_ADDR / ID_IPV6_ADDR of a. */
void ike_id_from_addr(struct ike_id *id, const struct oe_addr *a);
/* ID_FQDN from "gw.example" or "@gw.example" (a final dot is dropped); false if too long/empty. */
bool ike_id_from_fqdn(struct ike_id *id, const char *fqdn);
bool ike_id_eq(const struct ike_id *a, const struct ike_id *b);

enum ike_status {
	IKE_OK = 0,
	IKE_ERR_NOMEM,
	IKE_ERR_MALFORMED,	/* message or payload failed validation */
	IKE_ERR_UNKNOWN_SA,	/* no IKE SA with these SPIs */
	IKE_ERR_STATE,		/* exchange not expected in this state */
	IKE_ERR_MSGID,		/* message ID outside the window */
	IKE_ERR_NO_PROPOSAL,	/* NO_PROPOSAL_CHOSEN (sent or received) */
	IKE_ERR_INVALID_KE,	/* INVALID_KE_PAYLOAD (sent or received) */
	IKE_ERR_AUTH_FAILED,	/* AUTHENTICATION_FAILED (sent or received) */
	IKE_ERR_TS_UNACCEPTABLE,/* TS_UNACCEPTABLE (sent or received) */
	IKE_ERR_POLICY,		/* peer's address is in the clear or block group */
	IKE_ERR_NO_KEY,		/* the key lookup for the peer's identity failed */
	IKE_ERR_DELEGATION,	/* delegated gateway not named by DNS for the selector address */
	IKE_ERR_COOKIE,		/* a COOKIE is required / was wrong */
	IKE_ERR_TIMEOUT,	/* retransmissions gave up */
	IKE_ERR_LIVENESS,	/* peer stopped answering liveness checks */
	IKE_ERR_PEER_ERROR,	/* the peer answered with another error notify */
	IKE_ERR_CRYPTO,		/* key exchange, derivation, decryption or signing failed */
	IKE_ERR_KERNEL,		/* kern_ops refused the Child SA */
	IKE_ERR_DELETED,	/* the SA was deleted (by us or the peer) */
	IKE_ERR_BUSY,		/* an exchange is already outstanding (window of one) */
	IKE_ERR_CP_UNSUPPORTED,	/* configuration payload request refused */
	IKE_STATUS_COUNT
};
const char *ike_strerror(enum ike_status st);
/* Short names for listings ("ok", "auth-failed", …). */
const char *ike_status_name(enum ike_status st);

/* What the engine tells its owner (optional ops->event). */
enum ike_event_kind { IKE_EV_ESTABLISHED, IKE_EV_FAILED, IKE_EV_DELETED, IKE_EV_CHILD_UP,
		      IKE_EV_CHILD_DOWN };
struct ike_event {
	enum ike_event_kind kind;
	uint64_t sa;		/* the IKE SA's handle (ike_initiate's *sa_out) */
	enum ike_status why;	/* FAILED / DELETED */
	struct ike_endpoint remote;
	const struct kern_child_sa *child; /* CHILD_UP / CHILD_DOWN, borrowed for the call */
};

struct ike_engine;

struct ike_ops {
	void *arg;
	/* One datagram from local to remote; msg is borrowed. A failure is logged by the owner
	 * and treated as a lost message (the retransmission timer covers it). */
	int (*send)(void *arg, const struct ike_endpoint *local, const struct ike_endpoint *remote,
		    const uint8_t *msg, size_t len);
	/* Starts a key lookup for a peer identity (ID_IPV4/IPV6_ADDR: reverse name, ID_FQDN:
	 * forward name). The owner answers with ike_lookup_done(e, req, …), possibly before
	 * returning. Returns 0, or -errno when nothing was started. */
	int (*lookup)(void *arg, uint64_t req, const struct ike_id *id);
	/* The engine no longer wants the answer to req (SA deleted); may be NULL. */
	void (*lookup_cancel)(void *arg, uint64_t req);
	/* Policy group of a peer's address (responder: the initiator's); NULL = private-or-clear
	 * for everyone. clear and block peers are refused. */
	enum pg_group (*policy)(void *arg, const struct oe_addr *peer);
	uint64_t (*now_ms)(void *arg);
	/* n unpredictable bytes (SPIs, nonces, DH secrets come from libcrypto itself). */
	int (*random)(void *arg, void *buf, size_t n);
	void (*event)(void *arg, const struct ike_event *ev); /* may be NULL */
	const struct kern_ops *kern;
	void *kern_arg;
};

/* UDP encapsulation of ESP (RFC 3948) and the IKE float to the NAT-T port (RFC 7296 §2.23). */
enum ike_encap {
	IKE_ENCAP_AUTO,	/* when NAT detection finds a NAT in front of either end */
	IKE_ENCAP_YES,	/* always: our NAT_DETECTION_SOURCE_IP is faked so the peer sees a NAT
			 * too (what strongSwan and Libreswan do for encapsulation=yes) */
	IKE_ENCAP_NO,	/* never: no NAT_DETECTION_* sent or read, raw ESP, no float */
};

struct ike_conf {
	struct ike_id id;	/* our identity; type 0 = the address of the local endpoint */
	EVP_PKEY *hostkey;	/* borrowed, NULL = AUTH_NULL as initiator (no responder role) */
	bool accept_null_auth;	/* responder accepts AUTH_NULL initiators (default true) */
	bool rsa_method1;	/* authenticate with RSA method 1 instead of RFC 7427 PSS */
	uint16_t dh[4];		/* DH groups, preference order; dh[0] goes into the first KE */
	size_t ndh;
	uint16_t encr_bits[2];	/* AES-GCM-16 key sizes, IKE and ESP (128/256), preference order */
	size_t nencr;
	uint16_t prf[2];	/* PRF_HMAC_SHA2_256 (5) / _512 (7) */
	size_t nprf;
	bool transport;		/* ask for USE_TRANSPORT_MODE as initiator; accept it as responder */
	bool esn;		/* offer ESN first (no-ESN is always offered too) */
	bool child_pfs;		/* our Child SA rekeys carry a KE of the IKE SA's group (PFS,
				 * RFC 7296 §1.3.1); as responder PFS is accepted either way */
	unsigned retransmit_ms;	/* first retransmission (500); doubled each time */
	unsigned retransmit_tries; /* give up after this many retransmissions (5) */
	unsigned liveness_ms;	/* idle time before an empty INFORMATIONAL (30000; 0 = off) */
	unsigned ike_lifetime_s;  /* IKE SA rekey after (14400) */
	unsigned child_lifetime_s;/* Child SA hard lifetime (3600); soft = 90% */
	unsigned rekey_delete_ms; /* after our Child SA rekey, the old SA's DELETE waits this
				   * long (1000) so ESP still in flight on it arrives */
	unsigned cookie_threshold;/* half-open SAs from which COOKIEs are required (256) */
	unsigned lookup_timeout_ms;/* give up waiting for the key lookup (15000) */
	enum ike_encap encap;	  /* IKE_ENCAP_AUTO */
	uint16_t natt_port;	  /* our NAT-T port, where IKE floats to (IKE_NATT_PORT); the
				   * owner's send op marks datagrams from it (non-ESP marker) */
	unsigned keepalive_s;	  /* NAT keepalive (RFC 3948 §2.3) interval when a NAT is in front
				   * of us and nothing else went to the peer in that time (20;
				   * 0 = off): a one-octet 0xff datagram through ops->send */
};
/* Fills c with the defaults above (groups 31, 19, 14; AES-GCM-16 256 then 128; SHA2-256 then
 * 512). */
void ike_conf_default(struct ike_conf *c);

/* Creates an engine; c and ops are copied (c->hostkey is up-ref'd). Returns 0 or -errno
 * (-EINVAL for an unusable configuration). */
int ike_engine_new(struct ike_engine **out, const struct ike_conf *c, const struct ike_ops *ops);
/* Frees every SA without sending anything; Child SAs are removed from ops->kern. NULL ok. */
void ike_engine_free(struct ike_engine *e);

/* Starts IKE_SA_INIT towards remote for the host-to-host pair in ts (src = our address, dst =
 * the peer's; prefixes /32 or /128). peer_keys (may be NULL) is the validated DNS answer that
 * made us initiate; it is copied and used to authenticate the responder when its ID is the
 * remote address or a gateway the answer names; otherwise ops->lookup is asked. *sa_out gets
 * the new SA's handle. */
enum ike_status ike_initiate(struct ike_engine *e, const struct ike_endpoint *local,
			     const struct ike_endpoint *remote, const struct dk_result *peer_keys,
			     const struct oe_sel *ts, uint64_t *sa_out);
/* Handles one datagram (non-ESP marker already stripped for port 4500). */
enum ike_status ike_receive(struct ike_engine *e, const uint8_t *msg, size_t len,
			    const struct ike_endpoint *from, const struct ike_endpoint *to);
/* The answer to ops->lookup(req); res is borrowed (keys are up-ref'd when kept). Answers for
 * requests the engine no longer waits for are ignored. */
void ike_lookup_done(struct ike_engine *e, uint64_t req, const struct dk_result *res);
/* Absolute time (ops->now_ms scale) when ike_run_timers must next run; UINT64_MAX = none. */
uint64_t ike_next_deadline(const struct ike_engine *e);
/* Runs every timer due at ops->now_ms(): retransmissions, give-ups, liveness, rekeys. */
void ike_run_timers(struct ike_engine *e);

/* ESP arrived for an inbound SPI we do not have (the owner's datapath saw it): when no IKE SA
 * with remote exists (we restarted, it did not), tells remote with an unprotected INVALID_SPI
 * (RFC 7296 §2.21.4), so that it checks its SAs with us now; at most 10 a second. local: our
 * address, IKE port. */
void ike_esp_unknown_spi(struct ike_engine *e, const struct ike_endpoint *local,
			 const struct ike_endpoint *remote, uint32_t spi);

/* Deletes an IKE SA (and its Child SAs) with an INFORMATIONAL DELETE. */
enum ike_status ike_delete(struct ike_engine *e, uint64_t sa);
/* Deletes the installed Child SA spi_in of IKE SA sa with an INFORMATIONAL DELETE; when no
 * other Child SA carries traffic on sa (none INSTALLED or REKEYING), the IKE SA is deleted
 * instead, which closes the Child SA too (RFC 7296 §1.4.1), and *ike_too (may be NULL) is set.
 * The Child SA leaves the kernel (IKE_EV_CHILD_DOWN) when the peer answers. IKE_ERR_UNKNOWN_SA:
 * no such SA; IKE_ERR_STATE: already being deleted, or sa is not ESTABLISHED. */
enum ike_status ike_delete_child(struct ike_engine *e, uint64_t sa, uint32_t spi_in,
				 bool *ike_too);
/* Deletes (INFORMATIONAL DELETE) every ESTABLISHED IKE SA that has had no Child SA in the
 * kernel for idle_ms: its last one expired without a rekey or the peer deleted it alone, and
 * an opportunistic IKE SA exists only for its pair's Child SA. Returns how many. */
size_t ike_delete_childless(struct ike_engine *e, uint64_t idle_ms);
/* Rekeys the first Child SA / the IKE SA now (CREATE_CHILD_SA, RFC 7296 §2.8). */
enum ike_status ike_rekey_child(struct ike_engine *e, uint64_t sa);
enum ike_status ike_rekey_ike(struct ike_engine *e, uint64_t sa);
/* Whether a Child SA rekey of ours waits for its answer. The peer sends on the new SA as soon
 * as it has answered, so ESP on it can overtake that answer in our queues: while this is
 * true the owner reads its IKE sockets before each batch of ESP. */
bool ike_child_rekey_waiting(const struct ike_engine *e);

/* A snapshot of one IKE SA for listings and tests. */
struct ike_sa_info {
	uint64_t handle;	/* changes when an IKE rekey replaces the SA */
	const char *state;	/* state name */
	bool initiator;
	uint64_t spi_i, spi_r;
	struct ike_endpoint local, remote;
	struct ike_id peer_id;
	uint16_t dh, prf, encr_bits;
	unsigned auth_method;	/* peer's AUTH method (RFC 7296 §3.8, RFC 7427, RFC 7619) */
	size_t nchild;		/* Child SAs installed */
	uint32_t child_spi_in, child_spi_out; /* the newest installed Child SA */
	enum ike_status last_error;
};
size_t ike_sa_count(const struct ike_engine *e);
/* The SA with this handle, or the one whose handle replaced it after an IKE rekey. */
bool ike_sa_get(const struct ike_engine *e, uint64_t sa, struct ike_sa_info *out);
/* The i-th SA in table order. */
bool ike_sa_at(const struct ike_engine *e, size_t i, struct ike_sa_info *out);
/* Counters since the engine was made. */
struct ike_stats {
	uint64_t received, sent;	/* datagrams */
	uint64_t retransmits;		/* our requests sent again */
	uint64_t resent_responses;	/* cached answers to retransmitted requests */
	uint64_t dropped;		/* datagrams that changed nothing (malformed, unknown SA,
					 * out of window, failed ICV, …) */
	uint64_t established, failed, deleted; /* IKE SAs */
	uint64_t cookies_sent, invalid_ke_sent, invalid_spi_sent;
	uint64_t child_installed, child_removed;
	uint64_t keepalives;		/* NAT keepalives sent (not counted in sent) */
};
void ike_stats_get(const struct ike_engine *e, struct ike_stats *out);

/* `ipsec status`: per IKE SA a line with SPIs, state, role and endpoints, then its IDs, peer
 * auth method, algorithms, age, rekey time and Child SA count; per Child SA its SPIs, state,
 * mode, encapsulation, algorithm, ESN and reqid, the selectors, bytes and packets both ways
 * with the idle time (ops->kern query), and age, rekey and expiry times (man ipsec(8)). */
void ike_status_format(const struct ike_engine *e, struct oe_buf *out);
/* The same as a JSON array of IKE SA objects, each with its "child_sas" array (no newline at
 * the end); times in seconds, null where there is no deadline. */
void ike_status_json(const struct ike_engine *e, struct oe_buf *out);

#endif
