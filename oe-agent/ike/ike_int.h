/* Internals of the IKEv2 engine shared by its files (split by exchange, STYLE.md 13):
 * ike_sa.c (SA table, state changes, message IDs, retransmission, timers), ike_sa_init.c,
 * ike_auth.c, child_sa.c, ike_info.c, ike_rekey.c, ike_engine.c (public entry points).
 * One state machine per SA kind: struct ike_sa and struct child_sa never share a struct. */
#ifndef IKE_INT_H
#define IKE_INT_H

#include "ike.h"
#include "ike_codec_int.h"
#include "ike_crypto_int.h"

/* ---- IKE SA ------------------------------------------------------------------------------ */
enum ike_sa_state {
	IKE_S_NEW,	   /* allocated, nothing sent */
	IKE_S_INIT_SENT,   /* I: IKE_SA_INIT request out */
	IKE_S_INIT_DONE,   /* R: IKE_SA_INIT answered, IKE_AUTH expected */
	IKE_S_AUTH_SENT,   /* I: IKE_AUTH request out */
	IKE_S_AUTH_LOOKUP, /* I/R: waiting for the peer's key before checking AUTH */
	IKE_S_ESTABLISHED,
	IKE_S_REKEYED,	   /* replaced by a rekeyed IKE SA, waiting to be deleted */
	IKE_S_DELETING,	   /* our DELETE is out */
	IKE_S_DEAD,	   /* unlinked at the end of the current entry point */
	IKE_S_COUNT
};
const char *ike_sa_state_name(enum ike_sa_state s);

/* What an outstanding request of ours is waiting to complete. */
enum ike_pending { IKE_P_NONE, IKE_P_INIT, IKE_P_AUTH, IKE_P_DELETE_IKE, IKE_P_DELETE_CHILD,
		   IKE_P_LIVENESS, IKE_P_REKEY_CHILD, IKE_P_REKEY_IKE, IKE_P_COUNT };
const char *ike_pending_name(enum ike_pending p);

#define IKE_NONCE_MAX 256 /* §3.9 */
#define IKE_COOKIE_MAX 64
#define IKE_QUEUE_MAX 8

/* ---- Child SA ---------------------------------------------------------------------------- */
enum child_sa_state {
	CHILD_S_NEW,
	CHILD_S_INSTALLED,
	CHILD_S_REKEYING, /* CREATE_CHILD_SA for its successor is out */
	CHILD_S_REKEYED,  /* successor installed; waiting for (or sending) the DELETE */
	CHILD_S_DELETING, /* our DELETE is out */
	CHILD_S_DEAD,
	CHILD_S_COUNT
};
const char *child_sa_state_name(enum child_sa_state s);

struct child_sa {
	struct child_sa *next;	 /* in the IKE SA's list */
	enum child_sa_state state;
	struct kern_child_sa k;	 /* what the kernel has (keys wiped on free) */
	bool installed;		 /* k is in the kernel */
	uint64_t rekey_at;	 /* soft lifetime deadline (0 = none) */
	uint64_t expire_at;	 /* hard lifetime */
	uint64_t installed_ms;	 /* when it went into the kernel (status: age, idle) */
	uint64_t seen_in;	 /* inbound packets at the last liveness check */
	uint64_t seen_out;	 /* outbound packets at the last NAT keepalive check */
	/* simultaneous rekey (RFC 7296 §2.8.1): the SA this one replaces, who made it and the
	 * lowest nonce of the exchange that made it */
	uint32_t rekey_of;	 /* spi_in of the old Child SA, 0 = not from a rekey */
	bool by_us;		 /* we initiated the exchange that created it */
	uint8_t min_nonce[IKE_NONCE_MAX];
	size_t min_nonce_len;
	/* PFS (§1.3.1): our DH while our rekey with a KE is out; the new shared secret from
	 * the rekey that makes this SA, used once by child_sa_install */
	struct ike_dh *pfs_dh;
	struct ike_secret pfs_g;
	bool has_pfs_g;
};


struct ike_sa {
	struct ike_sa *hnext;	 /* hash chain by local SPI */
	struct ike_sa *pnext;	 /* responders from IKE_SA_INIT: chain by the peer's SPIi */
	bool peer_hashed;	 /* on that chain */
	struct ike_sa *next;	 /* list of all SAs in creation order */
	struct ike_sa *ynext;	 /* list of SAs half-open or waiting for a key lookup
				  * (lookup answers are matched there, not among all SAs) */
	bool young;		 /* on that list */
	struct ike_sa *tnext;	 /* touched during the current entry point (ike_timer.c) */
	struct ike_sa *dnext;	 /* due now (ike_timer_due) */
	bool touched;
	size_t heap_idx;	 /* place in the engine's deadline heap; SIZE_MAX = not in it */
	uint64_t heap_key;	 /* the deadline it is filed under */
	struct ike_engine *e;
	uint64_t handle;
	enum ike_sa_state state;
	bool initiator;
	uint64_t spi_i, spi_r;
	struct ike_endpoint local, remote;

	/* message IDs (RFC 7296 §2.2), windows of one */
	uint32_t next_req_id;	 /* ours to send */
	uint32_t next_peer_id;	 /* the peer's next request */
	enum ike_pending pending;
	uint32_t pending_spi;	 /* Child SA concerned by the outstanding request */
	struct { enum ike_pending what; uint32_t spi; } queue[IKE_QUEUE_MAX]; /* requests waiting
				    * for the window (one request at a time, §2.3) */
	size_t nqueue;
	uint8_t *req;		 /* our outstanding request (for retransmission) */
	size_t req_len;
	unsigned retries;
	uint64_t retransmit_at;
	bool peer_lost;		 /* INVALID_IKE_SPI answered the outstanding request: a hint
				  * (unauthenticated) that retransmits at the first interval */
	bool rekey_out;		 /* our Child SA rekey is out (counted in child_rekeys_out) */
	uint8_t *resp;		 /* our last response (duplicate request → same bytes) */
	size_t resp_len;
	uint32_t resp_id;
	bool have_resp;

	/* negotiated */
	uint16_t dh, prf, encr_bits;
	struct ike_dh *dhs;	 /* our DH private value until keys are derived */
	uint8_t ni[IKE_NONCE_MAX], nr[IKE_NONCE_MAX];
	size_t ni_len, nr_len;
	uint8_t cookie[IKE_COOKIE_MAX];
	size_t cookie_len;
	unsigned init_tries;	 /* IKE_SA_INIT restarts (COOKIE, INVALID_KE_PAYLOAD) */
	uint8_t *init_i, *init_r; /* the IKE_SA_INIT messages, signed in AUTH (§2.15) */
	size_t init_i_len, init_r_len;
	struct ike_sa_keys keys; /* SK_d, SK_e*, SK_p* (wiped on free) */
	bool have_keys;
	bool nat_local, nat_remote; /* NAT detected in front of us / the peer (RFC 7296 §2.23) */
	bool nat_fake;		 /* encapsulation=yes: we faked NAT detection, so we float and
				  * encapsulate as if there were a NAT */
	uint64_t last_tx_ms;	 /* the last IKE message or keepalive we sent to the peer */
	uint64_t keepalive_at;	 /* next NAT keepalive check (0 = none; RFC 3948 §2.3) */

	/* authentication */
	struct ike_id peer_id;
	unsigned peer_auth;	 /* method the peer used */
	unsigned peer_hashes;	 /* SIGNATURE_HASH_ALGORITHMS of the peer (IKE_HASH_BIT mask) */
	int lookup_phase;	 /* 1: the peer's key, 2: the selector address (delegation) */
	struct dk_result peer_keys; /* initiator: the answer that made us initiate */
	bool have_peer_keys;
	uint64_t lookup_req;	 /* ops->lookup in flight (0 = none) */
	uint64_t lookup_deadline;
	struct ike_auth_wait *aw; /* what an IKE_AUTH message said, kept while its key is looked
				   * up (ike_auth.c) */

	/* traffic */
	struct oe_sel ts;	 /* host-to-host pair, src = ours */
	bool transport;
	struct child_sa *children;
	struct child_sa *rekeying; /* Child SA being rekeyed by our CREATE_CHILD_SA */
	uint8_t rekey_nonce[IKE_NONCE_MAX]; /* our nonce of that Child SA rekey */
	size_t rekey_nonce_len;
	uint16_t pfs_group;	 /* our Child SA rekeys' KE group (0: the IKE SA's), as the
				  * peer's INVALID_KE_PAYLOAD asked (§1.3) */
	bool pfs_refused;	 /* the peer answered our rekey with a KE by NO_PROPOSAL_CHOSEN:
				  * later ones carry none (ike_rekey.c child_response) */
	/* IKE SA rekey (§2.8, §2.18): handles of the new SA we proposed and of the one the peer
	 * proposed (both exist after a simultaneous rekey, §2.8.2) */
	uint64_t rekey_mine, rekey_theirs;
	bool replaced;		 /* superseded by a rekeyed SA: its end is no news to the owner */

	uint64_t last_rx_ms;	 /* any authenticated message from the peer */
	uint64_t established_ms; /* when it became ESTABLISHED (status: age) */
	uint64_t child_gone_ms;	 /* when a Child SA of it last left the kernel */
	uint64_t liveness_at;	 /* next liveness check (0 = none) */
	uint64_t rekey_at;	 /* IKE SA rekey (0 = none) */
	uint64_t expire_at;	 /* half-open / give-up / deleting deadline (0 = none) */
	enum ike_status last_error;
};

/* ---- the engine --------------------------------------------------------------------------- */
struct ike_engine {
	struct ike_conf conf;
	struct ike_ops ops;
	struct ike_sa **hash;	 /* by local SPI */
	struct ike_sa **phash;	 /* responder SAs by SPIi: IKE_SA_INIT retransmits (§2.1) */
	size_t nbuckets;	 /* of both tables */
	struct ike_sa *all;	 /* creation order (listing, timers) */
	struct ike_sa **all_tail;
	size_t ndead;		 /* SAs waiting for ike_sa_reap() */
	size_t nsa;
	size_t half_open;	 /* responder SAs in IKE_S_INIT_DONE */
	struct ike_sa *young;	 /* SAs in INIT_DONE or AUTH_LOOKUP */
	uint64_t next_handle;
	uint64_t next_lookup;
	uint32_t next_reqid;
	uint8_t cookie_secret[32]; /* RFC 7296 §2.6 */
	struct ike_sa **heap;	 /* SAs by next deadline, a binary min-heap (ike_timer.c) */
	size_t nheap, heap_cap;
	struct ike_sa *touched;	 /* SAs whose deadlines may have changed */
	struct ike_stats stats;
	size_t child_rekeys_out; /* SAs whose outstanding request is a Child SA rekey */
	unsigned in_call;	 /* nesting of entry points; dead SAs are reaped at 0 */
	uint64_t ispi_second;	 /* INVALID_IKE_SPI answers: the second they were counted in */
	unsigned ispi_sent;	 /* and how many went out in it */
	uint64_t hint_second;	 /* INVALID_SPI hints received: the second they were counted in */
	unsigned hints;		 /* and how many were looked at in it */
};

/* ike_sa.c */
struct ike_sa *ike_sa_new(struct ike_engine *e, bool initiator, const struct ike_endpoint *local,
			  const struct ike_endpoint *remote);
/* The one place an IKE SA changes state: checks the transition, logs "A -> B" with SPIs and
 * addresses, arms or clears the timers of the new state. Returns false (and logs) for a
 * transition the table does not allow; the state is then unchanged. */
bool ike_sa_set_state(struct ike_sa *sa, enum ike_sa_state to);
/* Marks sa dead with why (event FAILED or DELETED to the owner), removes its Child SAs from
 * the kernel; freed when the outermost entry point returns. */
void ike_sa_kill(struct ike_sa *sa, enum ike_status why);
void ike_sa_reap(struct ike_engine *e);
struct ike_sa *ike_sa_by_spi(struct ike_engine *e, uint64_t local_spi);
struct ike_sa *ike_sa_by_handle(const struct ike_engine *e, uint64_t handle);
/* A responder's SA made by an IKE_SA_INIT with this SPIi from this address, half-open or
 * later (RFC 7296 §2.1: a retransmission must not open a second SA). */
struct ike_sa *ike_sa_find_init(struct ike_engine *e, uint64_t spi_i,
				const struct ike_endpoint *remote);
/* Sets the local SPI (hash key) once it is known. */
void ike_sa_hash(struct ike_sa *sa);
/* Files a responder SA under the peer's SPIi (set) for ike_sa_find_init. */
void ike_sa_hash_peer(struct ike_sa *sa);
uint64_t ike_sa_local_spi(const struct ike_sa *sa);
/* Sends a request of ours (takes msg, allocated with malloc) and arms retransmission. */
void ike_sa_send_request(struct ike_sa *sa, enum ike_pending what, uint8_t *msg, size_t len);
/* Sends a response for message ID id and keeps a copy for duplicates (takes msg). */
void ike_sa_send_response(struct ike_sa *sa, uint32_t id, uint8_t *msg, size_t len);
/* Our outstanding request was answered: stops retransmission, advances the message ID. */
void ike_sa_request_done(struct ike_sa *sa);
/* §2.21.4: m, unprotected, says INVALID_IKE_SPI to our outstanding request (a peer that lost
 * its state, e.g. restarted). Anyone can send that, so it only hastens the request's give-up:
 * the retransmissions left go out at the first interval, and an authenticated answer to any
 * of them still keeps the SA. True if m was such an answer. */
bool ike_sa_lost_hint(struct ike_sa *sa, const struct ike_msg *m);
/* §2.21.4: m, unprotected and outside any exchange, says INVALID_SPI: from says it has no SA
 * for ESP we sent (ike_esp_unknown_spi at a peer that restarted). A hint only: the IKE SA of
 * that Child SA checks liveness now instead of after dpddelay of silence, and its usual
 * give-up applies (a live peer answers the check). At most 10 are looked at a second. True if
 * m was such a message. */
bool ike_sa_invalid_spi_hint(struct ike_engine *e, const struct ike_msg *m,
			     const struct ike_endpoint *from);
void ike_sa_timers(struct ike_sa *sa, uint64_t now);
uint64_t ike_sa_deadline(const struct ike_sa *sa);
void ike_event(struct ike_sa *sa, enum ike_event_kind kind, enum ike_status why,
	       const struct kern_child_sa *child);
uint64_t ike_now(const struct ike_engine *e);
int ike_random(const struct ike_engine *e, void *buf, size_t n);
void ike_sa_info_fill(const struct ike_sa *sa, struct ike_sa_info *out);
void ike_sa_free_all(struct ike_engine *e);
void ike_sa_resend_response(struct ike_sa *sa);
/* Queues a request until the window is free; false when the queue is full. */
bool ike_sa_queue(struct ike_sa *sa, enum ike_pending what, uint32_t spi);
/* Starts queued requests while the window is free. */
void ike_sa_run_queue(struct ike_sa *sa);

/* ike_timer.c: the deadline heap. Anything that may move an SA's deadline touches it; the
 * outermost entry point refiles the touched SAs before it returns. */
void ike_sa_touch(struct ike_sa *sa);
void ike_timer_refile(struct ike_engine *e);
/* Takes the SAs due at now off the heap, into a list through dnext. */
struct ike_sa *ike_timer_due(struct ike_engine *e, uint64_t now);
void ike_timer_remove(struct ike_engine *e, struct ike_sa *sa);
uint64_t ike_timer_next(const struct ike_engine *e);

/* ike_engine.c: helpers every exchange uses */
uint64_t ike_spi_get(const uint8_t b[8]);
void ike_spi_put(uint8_t b[8], uint64_t v);
/* The header of a message on sa: flags from our role, SPIs, exchange, message ID. */
void ike_sa_hdr(const struct ike_sa *sa, struct ike_hdr *h, uint8_t exch, bool response,
		uint32_t msgid);
/* Finishes an SK-protected message and sends it: a request (what != IKE_P_NONE, next message
 * ID) or a response to message id. Frees the builder's buffer on failure. */
enum ike_status ike_sa_send_sk(struct ike_sa *sa, struct ike_builder *b, enum ike_pending what,
			       uint32_t id);
/* The payloads every exchange builds: SA with one proposal, KE, Ni/Nr (copied by the builder). */
void ike_add_sa(struct ike_builder *b, const struct ike_proposal *prop);
void ike_add_ke(struct ike_builder *b, uint16_t group, const uint8_t *pub, size_t len);
void ike_add_nonce(struct ike_builder *b, const uint8_t *n, size_t len);
/* An unprotected answer to request m outside any IKE SA (§1.5, §2.6, §2.21.4): its SPIs,
 * exchange type and message ID, one notify; sent back to where m came from. */
void ike_answer_plain(struct ike_engine *e, const struct ike_msg *m,
		      const struct ike_endpoint *from, const struct ike_endpoint *to,
		      uint16_t type, const void *data, size_t len);
/* Starts a request of ours now (the window must be free). */
void ike_sa_start(struct ike_sa *sa, enum ike_pending what, uint32_t spi);
/* Our identity on sa (configured, our address, or ID_NULL without a host key). */
void ike_local_id(const struct ike_sa *sa, struct ike_id *out);
struct ike_id_pl ike_id_pl_of(const struct ike_id *id);
/* A peer's ID payload as a struct ike_id; false when it does not fit. */
bool ike_id_of_pl(const struct ike_id_pl *p, struct ike_id *out);
/* Copies a nonce payload into buf (cap IKE_NONCE_MAX). */
bool ike_nonce_copy(const struct ike_payload *p, uint8_t *buf, size_t *len);
/* The first error notify (type < 16384) in m, or 0. */
uint16_t ike_msg_error(const struct ike_msg *m);
enum ike_status ike_status_of_notify(uint16_t type);

/* ike_proposal.c: SA payload negotiation (RFC 7296 §2.7, §3.3) */
/* Our IKE proposal (spi_size 0 for IKE_SA_INIT, 8 with spi for an IKE rekey). */
void ike_prop_ike(const struct ike_conf *c, struct ike_proposal *p, const uint8_t *spi);
/* Our ESP proposal with our inbound SPI. */
void ike_prop_esp(const struct ike_conf *c, struct ike_proposal *p, uint32_t spi);
/* The responder's choice from an offered IKE SA payload: one transform of each type. Fills
 * *chosen (same proposal number) and the algorithms; false = NO_PROPOSAL_CHOSEN. */
bool ike_prop_select_ike(const struct ike_conf *c, const struct ike_sa_pl *offer,
			 struct ike_proposal *chosen, uint16_t *dh, uint16_t *prf,
			 uint16_t *encr_bits);
/* dh: NULL where the exchange has no KE (IKE_AUTH: a DH transform must allow NONE); else the
 * group chosen for PFS (0 = none). */
bool ike_prop_select_esp(const struct ike_conf *c, const struct ike_sa_pl *offer,
			 struct ike_proposal *chosen, uint16_t *encr_bits, bool *esn,
			 uint32_t *peer_spi, uint16_t *dh);
/* Checks a responder's answer: exactly one proposal whose transforms are among what we
 * offered. */
bool ike_prop_check_ike(const struct ike_conf *c, const struct ike_sa_pl *answer, uint16_t *dh,
			uint16_t *prf, uint16_t *encr_bits);
bool ike_prop_check_esp(const struct ike_conf *c, const struct ike_sa_pl *answer,
			uint16_t *encr_bits, bool *esn, uint32_t *peer_spi, uint16_t *dh);
/* Adds a DH transform (a Child SA rekey with PFS, §1.3.1) to a proposal of ours. */
void ike_prop_add_dh(struct ike_proposal *p, uint16_t group);
/* Whether the offer lists DH group g for the IKE proposal it would be chosen from. */
bool ike_prop_has_dh(const struct ike_sa_pl *offer, uint16_t g);
/* NAT_DETECTION_*_IP data (§2.23): SHA-1(SPIi | SPIr | IP | port). */
void ike_natd_hash(const uint8_t spi_i[8], const uint8_t spi_r[8], const struct ike_endpoint *ep,
		   uint8_t out[20]);

/* ike_sa_init.c */
enum ike_status ike_init_start(struct ike_sa *sa);
/* raw/len: the datagram as received (it is signed in AUTH, §2.15). */
enum ike_status ike_init_request(struct ike_engine *e, const struct ike_msg *m,
				 const uint8_t *raw, size_t len, const struct ike_endpoint *from,
				 const struct ike_endpoint *to);
enum ike_status ike_init_response(struct ike_sa *sa, const struct ike_msg *m,
				  const uint8_t *raw, size_t len);
/* NAT traversal (§2.23, RFC 3948), also in ike_sa_init.c: */
/* Whether sa's Child SAs are UDP-encapsulated: a NAT was detected or faked. */
bool ike_sa_encap(const struct ike_sa *sa);
/* An authenticated message m of the peer came from `from` to `to`: with a NAT in play, the
 * peer's address and port (its NAT's mapping) and our port follow it, unless m is a replay
 * (not the next request nor the answer we wait for). */
void ike_nat_follow(struct ike_sa *sa, const struct ike_msg *m, const struct ike_endpoint *from,
		    const struct ike_endpoint *to);
/* Established SA: sends a NAT keepalive when due (a NAT in front of us and nothing else went
 * to the peer for keepalive_s) and arms the next check. */
void ike_nat_keepalive(struct ike_sa *sa, uint64_t now);

/* ike_auth.c */
enum ike_status ike_auth_start(struct ike_sa *sa);
enum ike_status ike_auth_request(struct ike_sa *sa, const struct ike_msg *m);
enum ike_status ike_auth_response(struct ike_sa *sa, const struct ike_msg *m);
void ike_auth_lookup_done(struct ike_sa *sa, const struct dk_result *res);
void ike_auth_lookup_timeout(struct ike_sa *sa);
void ike_auth_wait_free(struct ike_auth_wait *aw); /* NULL ok */

/* child_sa.c */
const char *child_sa_state_name(enum child_sa_state s);
/* A Child SA in state NEW with a fresh inbound SPI; linked into sa. */
struct child_sa *child_sa_new(struct ike_sa *sa);
bool child_sa_set_state(struct ike_sa *sa, struct child_sa *c, enum child_sa_state to);
/* Fills c->k from the negotiation and KEYMAT (§2.17) and installs it through kern_ops; old
 * (may be NULL) is the SA it replaces (kern update). */
enum ike_status child_sa_install(struct ike_sa *sa, struct child_sa *c, const struct oe_sel *sel,
				 bool transport, uint16_t encr_bits, bool esn, uint32_t spi_out,
				 bool exch_initiator, const uint8_t *ni, size_t ni_len,
				 const uint8_t *nr, size_t nr_len, struct child_sa *old);
/* Removes c from the kernel (if installed) and frees it. */
void child_sa_remove(struct ike_sa *sa, struct child_sa *c);
void child_sa_remove_all(struct ike_sa *sa);
struct child_sa *child_sa_by_spi_in(struct ike_sa *sa, uint32_t spi);
struct child_sa *child_sa_by_spi_out(struct ike_sa *sa, uint32_t spi);
void child_sa_timers(struct ike_sa *sa, uint64_t now);
/* Whether any Child SA of sa received packets since the last call (kern_ops query). */
bool child_sa_traffic(struct ike_sa *sa);
/* Whether any Child SA of sa sent packets since the last call (NAT keepalives). */
bool child_sa_sent(struct ike_sa *sa);
/* TS payload contents for a host pair (one selector each). */
void child_ts_of_sel(const struct oe_sel *sel, struct ike_ts *tsi, struct ike_ts *tsr,
		     bool initiator);
/* TSi and TSr for sel, as the initiator (or responder) of the exchange states them. */
void child_add_ts(struct ike_builder *b, const struct oe_sel *sel, bool initiator);
/* Responder: narrows the offered TSi/TSr to the host pair (RFC 7296 §2.9): our address in
 * TSr, the initiator's host (want_peer, or any single host when want_peer is NULL) in TSi.
 * Fills sel (src = ours). False = TS_UNACCEPTABLE. */
bool child_ts_narrow(const struct ike_ts_pl *tsi, const struct ike_ts_pl *tsr,
		     const struct oe_addr *ours, const struct oe_addr *want_peer,
		     struct oe_sel *sel);
/* Initiator: the responder's TS must be our pair (or narrower in proto/ports). */
bool child_ts_check(const struct ike_ts_pl *tsi, const struct ike_ts_pl *tsr,
		    const struct oe_sel *want, struct oe_sel *got);

/* ike_info.c */
void ike_info_start(struct ike_sa *sa, enum ike_pending what, uint32_t spi);
enum ike_status ike_info_request(struct ike_sa *sa, const struct ike_msg *m);
enum ike_status ike_info_response(struct ike_sa *sa, const struct ike_msg *m);

/* ike_rekey.c */
void ike_rekey_start(struct ike_sa *sa, enum ike_pending what, uint32_t spi);
enum ike_status ike_rekey_request(struct ike_sa *sa, const struct ike_msg *m);
enum ike_status ike_rekey_response(struct ike_sa *sa, const struct ike_msg *m);

#endif
