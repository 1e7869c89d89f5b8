/* Internal interfaces of the key lookup: the c-ares transport (dk_resolver.c), the DNSSEC
 * validator (dk_validate.c), the answer cache with in-flight joining (dk_cache.c) and the
 * lookup driver (dk_lookup.c). Only files in dnskeys/ include this. */
#ifndef DK_LOOKUP_INT_H
#define DK_LOOKUP_INT_H

#include <ares.h>
#include <ldns/ldns.h>

#include "dnskeys.h"

/* ---- transport (dk_resolver.c) ---- */

/* A raw answer: pkt is parsed (NULL when st != DK_L_FOUND) and borrowed for the call.
 * st is DK_L_FOUND for any answer (whatever its rcode) or a transport failure. */
typedef void dk_raw_fn(void *arg, enum dk_lookup_status st, const ldns_pkt *pkt);

/* Sends one query (EDNS0, DO, CD, RD) for name/type; cb runs exactly once, possibly with
 * DK_L_CANCELLED from dk_resolver_free(). Returns 0 or -errno (cb then not called). */
int dk_tx_send(struct dk_resolver *r, const ldns_rdf *name, ldns_rr_type type, dk_raw_fn *cb,
	       void *arg);

/* ---- validated zone keys and anchors (dk_validate.c) ---- */

struct dk_zkey;  /* one cached, validated DNSKEY set */
struct dk_anchor;

/* Loads anchors from the configured files into r. Returns 0 or -errno, reasons to d. */
int dk_anchors_load(struct dk_resolver *r, const struct dk_lookup_conf *c, struct oe_diag *d);
void dk_validator_free(struct dk_resolver *r);
void dk_validator_flush(struct dk_resolver *r);

/* -- shared validation helpers (dk_validate.c) -- */

/* The records of type t owned by owner in l (a shallow list: ldns_rr_list_free() it). */
ldns_rr_list *dk_v_rrset(const ldns_rr_list *l, const ldns_rdf *owner, ldns_rr_type t);
/* The RRSIGs in l owned by owner that cover type t (shallow). */
ldns_rr_list *dk_v_sigs(const ldns_rr_list *l, const ldns_rdf *owner, ldns_rr_type t);
/* Verifies the owner/t RRset in l against keys of zone: true if one RRSIG by zone checks
 * out (RFC 4035 §5.3). On false, why says what failed. */
bool dk_v_verify(struct dk_resolver *r, const ldns_rr_list *l, const ldns_rdf *owner,
		 ldns_rr_type t, const ldns_rdf *zone, const ldns_rr_list *keys, char *why,
		 size_t whylen);
/* One RRSIG over set with keys: the fast path, else ldns (its status on failure). */
ldns_status dk_verify_sig(struct dk_resolver *r, ldns_rr_list *set, ldns_rr *sig,
			  const ldns_rr_list *keys);
/* Verifies every SOA / NSEC / NSEC3 RRset in the authority section of pkt. */
bool dk_v_verify_authority(struct dk_resolver *r, const ldns_pkt *pkt, const ldns_rdf *zone,
			   const ldns_rr_list *keys, char *why, size_t whylen);
/* The signer of the first RRSIG in l (covering type t, or any when t is 0), or NULL. */
const ldns_rdf *dk_v_signer(const ldns_rr_list *l, ldns_rr_type t);

/* ttl lowered to what the RRSIGs over owner/type in l allow (RFC 4035 §5.3.3). */
uint32_t dk_v_ttl_cap(const ldns_rr_list *l, const ldns_rdf *owner, ldns_rr_type t,
		      uint32_t ttl);

/* What an authenticated denial of a DS query at name says about name (RFC 4035 §5.2). */
enum dk_cut {
	DK_CUT_INSECURE,  /* a delegation without DS: everything below is insecure */
	DK_CUT_NONE,      /* the name exists (or is an empty non-terminal) and is no zone cut */
	DK_CUT_NOTEXIST,  /* the name does not exist */
	DK_CUT_NOPROOF,   /* the NSEC/NSEC3 records prove none of the above */
};
enum dk_cut dk_v_classify_ds_denial(const ldns_pkt *pkt, const ldns_rdf *name);

/* -- trust anchors and validated zone keys (dk_zkey.c) -- */

/* A zone's DNSKEY set: v is SECURE (keys valid), INSECURE (provably unsigned), BOGUS or
 * INDETERMINATE; keys and reason are borrowed for the call. */
typedef void dk_zkey_fn(void *arg, enum dk_val v, const ldns_rr_list *keys,
			const char *reason);
/* Establishes the validated key set of zone (cached; concurrent requests share queries).
 * cb may run before this returns. */
void dk_zkey_get(struct dk_resolver *r, const ldns_rdf *zone, dk_zkey_fn *cb, void *arg);
/* The same when the zone's DS RRset has already been validated (ds is copied). */
void dk_zkey_get_ds(struct dk_resolver *r, const ldns_rdf *zone, const ldns_rr_list *ds,
		    dk_zkey_fn *cb, void *arg);
/* The deepest trust-anchor zone at or above name, or NULL. */
const ldns_rdf *dk_anchor_closest(const struct dk_resolver *r, const ldns_rdf *name);

/* The verdict on one answer. reason is borrowed for the call. */
typedef void dk_val_fn(void *arg, enum dk_val v, const char *reason);
/* Validates the answer to qname/qtype (pkt is copied). cb may run before this returns.
 * Returns 0 or -ENOMEM (cb then not called). */
int dk_validate(struct dk_resolver *r, const ldns_pkt *pkt, const ldns_rdf *qname,
		ldns_rr_type qtype, dk_val_fn *cb, void *arg);

/* ---- cache (dk_cache.c) ---- */

struct dk_centry;
struct dk_cache;

struct dk_cache *dk_cache_new(size_t max);
/* Calls every waiter of every in-flight entry with DK_L_CANCELLED, then frees. */
void dk_cache_free(struct dk_cache *c);
void dk_cache_flush(struct dk_cache *c);
size_t dk_cache_count(const struct dk_cache *c);

enum dk_cache_hit { DK_CACHE_MISS, DK_CACHE_HIT, DK_CACHE_JOINED };
/* Looks qname up. HIT: *res points at the cached result (valid until the next cache call).
 * JOINED: cb was added to the entry in flight. MISS: a new in-flight entry was created and
 * returned in *e with cb as its first waiter; the caller must start the lookup and later
 * call dk_cache_complete(). Returns -ENOMEM on allocation failure. */
int dk_cache_lookup(struct dk_cache *c, const char *qname, uint64_t now_ms, dk_lookup_fn *cb,
		    void *arg, const struct dk_result **res, struct dk_centry **e);
/* Removes the waiter (cb, arg) from every entry in flight; returns how many. */
size_t dk_cache_unwait(struct dk_cache *c, dk_lookup_fn *cb, void *arg);
/* Finishes an in-flight entry: delivers res to every waiter and stores a copy when
 * cacheable (ttl > 0). res stays the caller's. */
void dk_cache_complete(struct dk_cache *c, struct dk_centry *e, const struct dk_result *res,
		       uint64_t now_ms);

/* A replacement for the c-ares transport (fuzzing the validator with scripted answers): it
 * must call cb exactly once per accepted query, like dk_tx_send(). */
typedef int dk_send_fn(void *ctx, const ldns_rdf *name, ldns_rr_type type, dk_raw_fn *cb,
		       void *arg);

/* -- fast RRSIG checks (dk_sigverify.c) -- */

/* True if sig over set verifies with one of keys (zone-flagged DNSKEYs named by the signer
 * and key tag) for RSA/SHA-256, RSA/SHA-512, ECDSA P-256 or Ed25519. False means "not shown
 * here": the caller asks ldns. */
bool dk_sig_fast(struct dk_resolver *r, const ldns_rr_list *set, const ldns_rr *sig,
		 const ldns_rr_list *keys);
void dk_pkcache_free(struct dk_resolver *r);

#define DK_PKCACHE 32

struct dk_pkc {
	uint8_t alg;
	uint8_t *rd; /* the DNSKEY's public key field */
	size_t len;
	EVP_PKEY *pk;
};

/* -- lookup deadlines (dk_lookup.c) -- */

struct dk_job;
/* Answers the waiters of lookups past their deadline with DK_L_TIMEOUT. */
void dk_jobs_expire(struct dk_resolver *r, uint64_t now);
/* Milliseconds to the earliest deadline, or -1. */
int dk_jobs_next_deadline_ms(const struct dk_resolver *r, uint64_t now);

/* ---- the resolver object ---- */

#define DK_MAX_FDS 40 /* a UDP and a TCP socket per server, 16 servers, and spare */

struct dk_resolver {
	ares_channel ch;
	bool ch_ok;
	bool dnssec;
	uint32_t mark;
	dk_watch_fn *watch;
	void *watch_arg;
	struct dk_fdwatch fds[DK_MAX_FDS];
	size_t nfds;
	struct dk_cache *cache;
	struct dk_job *jobs;              /* lookups in flight */
	unsigned lookup_timeout_ms;
	/* validator state (dk_validate.c) */
	struct dk_anchor *anchors;
	struct dk_zkey *zkeys;
	size_t nzkeys;
	struct dk_stats st;
	bool freeing;
	dk_send_fn *send_hook; /* NULL: c-ares */
	void *send_ctx;
	struct dk_pkc pkc[DK_PKCACHE]; /* decoded DNSKEYs, replaced round-robin */
	size_t pkc_next;
	bool verify_both;      /* tests: check every signature both ways, abort on mismatch */
	size_t fast_declined;  /* with verify_both: good signatures the fast path missed */
};

#endif
