/* DNSSEC validation of key-lookup answers in the agent (RFC 4033-4035), with ldns doing the
 * signature arithmetic on data we fetched ourselves through the asynchronous transport. A
 * signed answer is checked against the validated key set of its signer (dk_zkey.c builds
 * the chain up to a trust anchor); an unsigned answer is secure-walked down from the closest
 * anchor with DS queries until an authenticated insecure delegation proves it insecure, and
 * is bogus otherwise (RFC 4035 §5.2, §4.3). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dk_lookup_int.h"
#include "oe_log.h"

/* ---- helpers on RR lists ---- */

ldns_rr_list *dk_v_rrset(const ldns_rr_list *l, const ldns_rdf *owner, ldns_rr_type t)
{
	ldns_rr_list *out = ldns_rr_list_new();

	for (size_t i = 0; out && i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(rr) == t && ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			ldns_rr_list_push_rr(out, rr);
	}
	return out;
}

static bool sig_covers(const ldns_rr *rr, ldns_rr_type t)
{
	const ldns_rdf *tc;

	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || ldns_rr_rd_count(rr) < 9)
		return false;
	tc = ldns_rr_rrsig_typecovered(rr);
	return !t || (tc && ldns_rdf2rr_type(tc) == t);
}

ldns_rr_list *dk_v_sigs(const ldns_rr_list *l, const ldns_rdf *owner, ldns_rr_type t)
{
	ldns_rr_list *out = ldns_rr_list_new();

	for (size_t i = 0; out && i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (sig_covers(rr, t) && ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			ldns_rr_list_push_rr(out, rr);
	}
	return out;
}

const ldns_rdf *dk_v_signer(const ldns_rr_list *l, ldns_rr_type t)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (sig_covers(rr, t))
			return ldns_rr_rrsig_signame(rr);
	}
	return NULL;
}

ldns_status dk_verify_sig(struct dk_resolver *r, ldns_rr_list *set, ldns_rr *sig,
			  const ldns_rr_list *keys)
{
	bool fast = dk_sig_fast(r, set, sig, keys);
	ldns_status st;

	if (fast && !r->verify_both)
		return LDNS_STATUS_OK;
	st = ldns_verify_rrsig_keylist(set, sig, keys, NULL);
	/* The fast path may decline (unknown algorithm, key it cannot decode) but must never
	 * accept what ldns rejects. */
	if (r->verify_both && fast && st != LDNS_STATUS_OK)
		abort();
	if (r->verify_both && !fast && st == LDNS_STATUS_OK)
		r->fast_declined++;
	return st;
}

static void name_str(const ldns_rdf *n, char *buf, size_t len)
{
	char *s = n ? ldns_rdf2str(n) : NULL;

	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
}

bool dk_v_verify(struct dk_resolver *r, const ldns_rr_list *l, const ldns_rdf *owner,
		 ldns_rr_type t, const ldns_rdf *zone, const ldns_rr_list *keys, char *why,
		 size_t whylen)
{
	ldns_rr_list *set = dk_v_rrset(l, owner, t), *sigs = dk_v_sigs(l, owner, t);
	ldns_status last = LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY;
	char on[DK_NAME_MAX];
	bool ok = false;
	size_t used = 0;

	if (!set || !sigs || !ldns_rr_list_rr_count(set))
		goto out;
	for (size_t i = 0; !ok && i < ldns_rr_list_rr_count(sigs); i++) {
		ldns_rr *sig = ldns_rr_list_rr(sigs, i);

		/* Only signatures by the zone whose keys we hold count (RFC 4035 §5.3.1). */
		if (ldns_dname_compare(ldns_rr_rrsig_signame(sig), zone) != 0)
			continue;
		used++;
		r->st.validations++;
		last = dk_verify_sig(r, set, sig, keys);
		ok = last == LDNS_STATUS_OK;
	}
out:
	if (!ok) {
		name_str(owner, on, sizeof(on));
		if (!set || !sigs)
			snprintf(why, whylen, "out of memory");
		else if (!used)
			snprintf(why, whylen, "%s type %u: no signature by the zone", on, t);
		else
			snprintf(why, whylen, "%s RRset type %u: %s", on, t,
				 ldns_get_errorstr_by_id(last));
	}
	ldns_rr_list_free(set);
	ldns_rr_list_free(sigs);
	return ok;
}

bool dk_v_verify_authority(struct dk_resolver *r, const ldns_pkt *pkt, const ldns_rdf *zone,
			   const ldns_rr_list *keys, char *why, size_t whylen)
{
	ldns_rr_list *auth = ldns_pkt_authority(pkt);
	size_t n = ldns_rr_list_rr_count(auth), checked = 0;

	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		bool seen = false;

		if (t != LDNS_RR_TYPE_SOA && t != LDNS_RR_TYPE_NSEC && t != LDNS_RR_TYPE_NSEC3)
			continue;
		for (size_t k = 0; k < i && !seen; k++) {
			ldns_rr *o = ldns_rr_list_rr(auth, k);

			seen = ldns_rr_get_type(o) == t &&
			       ldns_dname_compare(ldns_rr_owner(o), ldns_rr_owner(rr)) == 0;
		}
		if (seen)
			continue;
		if (!dk_v_verify(r, auth, ldns_rr_owner(rr), t, zone, keys, why, whylen))
			return false;
		checked++;
	}
	if (!checked)
		snprintf(why, whylen, "no SOA/NSEC/NSEC3 records to authenticate the denial");
	return checked > 0;
}

/* RFC 4035 §5.3.3: data may be kept no longer than its RRSIG's original TTL and not past the
 * signature's expiration (RFC 1982 serial arithmetic on the 32-bit time). */
uint32_t dk_v_ttl_cap(const ldns_rr_list *ans, const ldns_rdf *qname, ldns_rr_type qtype,
		      uint32_t ttl)
{
	uint32_t now = (uint32_t)time(NULL);

	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ans, i);
		const ldns_rdf *tc, *ot, *ex;
		int32_t left;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || ldns_rr_rd_count(rr) < 9 ||
		    ldns_dname_compare(ldns_rr_owner(rr), qname) != 0)
			continue;
		tc = ldns_rr_rrsig_typecovered(rr);
		ot = ldns_rr_rrsig_origttl(rr);
		ex = ldns_rr_rrsig_expiration(rr);
		if (!tc || ldns_rdf2rr_type(tc) != qtype || ldns_rdf_size(ot) != 4 ||
		    ldns_rdf_size(ex) != 4)
			continue;
		if (ldns_rdf2native_int32(ot) < ttl)
			ttl = ldns_rdf2native_int32(ot);
		left = (int32_t)(ldns_rdf2native_int32(ex) - now);
		if (left <= 0)
			ttl = 0;
		else if ((uint32_t)left < ttl)
			ttl = (uint32_t)left;
	}
	return ttl;
}

/* ---- authenticated denial of DS (RFC 4035 §5.2; RFC 5155 §8.6 for NSEC3) ---- */

/* RFC 9276 §3.2: validators may give up on NSEC3 above 150 iterations (hashing cost). */
#define DK_NSEC3_MAX_ITER 150

/* ldns's denial functions assert on records they do not expect (an NSEC3 owned by the root,
 * missing fields): check the shape ourselves first, so a hostile zone can only fail a proof.
 * NSEC: next name + type bitmap. NSEC3 (RFC 5155 §3.2): five or six fields, SHA-1, a bounded
 * iteration count, owners one label below one common zone that contains name. */
static bool nsec_sane(const ldns_rr_list *l)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_rd_count(rr) != 2 || !ldns_rr_rdf(rr, 0) || !ldns_rr_rdf(rr, 1) ||
		    ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) != LDNS_RDF_TYPE_DNAME)
			return false;
	}
	return ldns_rr_list_rr_count(l) > 0;
}

static bool nsec3_sane(const ldns_rr_list *l, const ldns_rdf *name)
{
	ldns_rdf *zone = NULL;
	bool ok = ldns_rr_list_rr_count(l) > 0;

	for (size_t i = 0; ok && i < ldns_rr_list_rr_count(l); i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);
		ldns_rdf *z;

		/* Five fields when the type bitmap is empty (an empty non-terminal). */
		ok = ldns_rr_rd_count(rr) >= 5 && ldns_dname_label_count(ldns_rr_owner(rr)) >= 2;
		for (size_t k = 0; ok && k < 5; k++)
			ok = ldns_rr_rdf(rr, k) != NULL;
		ok = ok && ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 1 &&
		     ldns_rdf2native_int8(ldns_rr_rdf(rr, 0)) == LDNS_SHA1 &&
		     ldns_rdf_size(ldns_rr_rdf(rr, 2)) == 2 &&
		     ldns_rdf2native_int16(ldns_rr_rdf(rr, 2)) <= DK_NSEC3_MAX_ITER;
		if (!ok)
			break;
		z = ldns_dname_left_chop(ldns_rr_owner(rr));
		ok = z && (!zone || ldns_dname_compare(z, zone) == 0);
		if (!zone) {
			zone = z;
			z = NULL;
		}
		ldns_rdf_deep_free(z);
	}
	ok = ok && zone && (ldns_dname_compare(zone, name) == 0 ||
			    ldns_dname_is_subdomain(name, zone));
	ldns_rdf_deep_free(zone);
	return ok;
}

/* bm NULL: an empty bitmap (an NSEC3 for an empty non-terminal, RFC 5155 §7.1). */
static enum dk_cut classify_bitmap(const ldns_rdf *bm)
{
	if (!bm)
		return DK_CUT_NONE;
	if (ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_DS))
		return DK_CUT_NOPROOF;
	if (ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_NS) &&
	    !ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_SOA))
		return DK_CUT_INSECURE;
	return DK_CUT_NONE;
}

static enum dk_cut classify_nsec(const ldns_rr_list *nsecs, const ldns_rdf *name)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(nsecs); i++) {
		ldns_rr *n = ldns_rr_list_rr(nsecs, i);

		if (ldns_dname_compare(ldns_rr_owner(n), name) == 0)
			return classify_bitmap(ldns_nsec_get_bitmap(n));
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(nsecs); i++) {
		ldns_rr *n = ldns_rr_list_rr(nsecs, i);
		ldns_rdf *next = ldns_rr_rd_count(n) ? ldns_rr_rdf(n, 0) : NULL;

		if (!next || !ldns_nsec_covers_name(n, name))
			continue;
		/* An empty non-terminal: the next owner lies below the name (RFC 4035 §5.4
		 * notes the NSEC proving it). */
		if (ldns_dname_is_subdomain(next, name))
			return DK_CUT_NONE;
		return DK_CUT_NOTEXIST;
	}
	return DK_CUT_NOPROOF;
}

/* RFC 5155 §8.6: the NSEC3 matching the hashed name says whether it is a delegation. No
 * match would need a closest-encloser proof with opt-out to mean insecure; we do not accept
 * opt-out, so that is no proof. (Our own matching: ldns's NSEC3 denial helper leaks memory on
 * some hostile inputs.) */
static enum dk_cut classify_nsec3(const ldns_rr_list *l, const ldns_rdf *name)
{
	const ldns_rr *first = ldns_rr_list_rr(l, 0);
	ldns_rdf *zone = ldns_dname_left_chop(ldns_rr_owner(first));
	ldns_rdf *h = ldns_nsec3_hash_name_frm_nsec3(first, name);
	enum dk_cut c = DK_CUT_NOPROOF;

	if (zone && h && ldns_dname_cat(h, zone) == LDNS_STATUS_OK) {
		for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(l, i);

			if (ldns_dname_compare(ldns_rr_owner(rr), h) == 0) {
				c = classify_bitmap(ldns_nsec3_bitmap(rr));
				break;
			}
		}
	}
	ldns_rdf_deep_free(zone);
	ldns_rdf_deep_free(h);
	return c;
}

enum dk_cut dk_v_classify_ds_denial(const ldns_pkt *pkt, const ldns_rdf *name)
{
	ldns_rr_list *nsec = ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_NSEC,
						      LDNS_SECTION_AUTHORITY);
	ldns_rr_list *nsec3 = ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_NSEC3,
						       LDNS_SECTION_AUTHORITY);
	enum dk_cut c = DK_CUT_NOPROOF;

	if (nsec && ldns_rr_list_rr_count(nsec)) {
		if (nsec_sane(nsec))
			c = classify_nsec(nsec, name);
	} else if (nsec3 && nsec3_sane(nsec3, name)) {
		c = classify_nsec3(nsec3, name);
	}
	ldns_rr_list_deep_free(nsec);
	ldns_rr_list_deep_free(nsec3);
	return c;
}

/* ---- validating one answer ---- */

struct vjob {
	struct dk_resolver *r;
	ldns_pkt *pkt;
	ldns_rdf *qname;
	ldns_rr_type qtype;
	dk_val_fn *cb;
	void *arg;
	/* the secure walk of an unsigned answer */
	ldns_rdf *zone;          /* deepest zone proven secure so far */
	ldns_rr_list *keys;      /* its keys (deep copy) */
	ldns_rdf *probe;         /* the name whose DS is being asked */
};

static void vjob_done(struct vjob *v, enum dk_val val, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void vjob_done(struct vjob *v, enum dk_val val, const char *fmt, ...)
{
	char reason[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	v->cb(v->arg, val, reason);
	ldns_pkt_free(v->pkt);
	ldns_rdf_deep_free(v->qname);
	ldns_rdf_deep_free(v->zone);
	ldns_rdf_deep_free(v->probe);
	ldns_rr_list_deep_free(v->keys);
	free(v);
}

static bool positive(const struct vjob *v)
{
	ldns_rr_list *set = dk_v_rrset(ldns_pkt_answer(v->pkt), v->qname, v->qtype);
	bool pos = set && ldns_rr_list_rr_count(set) > 0;

	ldns_rr_list_free(set);
	return pos;
}

/* RFC 4035 §5.3.4: an RRSIG whose label count is below the owner's means the answer was
 * synthesised from a wildcard; a verified NSEC must then show that no closer name exists. */
static bool wildcard_ok(struct vjob *v, const ldns_rdf *zone, const ldns_rr_list *keys,
			char *why, size_t whylen)
{
	ldns_rr_list *sigs = dk_v_sigs(ldns_pkt_answer(v->pkt), v->qname, v->qtype);
	ldns_rr_list *nsec;
	bool wild = false, ok = false;

	for (size_t i = 0; sigs && i < ldns_rr_list_rr_count(sigs); i++) {
		const ldns_rdf *lab = ldns_rr_rrsig_labels(ldns_rr_list_rr(sigs, i));

		wild |= lab && ldns_rdf2native_int8(lab) < ldns_dname_label_count(v->qname);
	}
	ldns_rr_list_free(sigs);
	if (!wild)
		return true;
	nsec = ldns_pkt_rr_list_by_type(v->pkt, LDNS_RR_TYPE_NSEC, LDNS_SECTION_AUTHORITY);
	for (size_t i = 0; nsec && !ok && i < ldns_rr_list_rr_count(nsec); i++) {
		ldns_rr *n = ldns_rr_list_rr(nsec, i);

		ok = ldns_nsec_covers_name(n, v->qname) &&
		     dk_v_verify(v->r, ldns_pkt_authority(v->pkt), ldns_rr_owner(n),
				 LDNS_RR_TYPE_NSEC, zone, keys, why, whylen);
	}
	ldns_rr_list_deep_free(nsec);
	if (!ok && !why[0])
		snprintf(why, whylen, "wildcard answer without proof that the name is absent");
	return ok;
}

/* The signer's keys are known: check the answer (or its denial) against them. */
static void on_signer_keys(void *arg, enum dk_val zv, const ldns_rr_list *keys,
			   const char *reason)
{
	struct vjob *v = arg;
	const ldns_rdf *signer;
	char why[160] = "", zn[DK_NAME_MAX];
	bool ok;

	if (zv != DK_VAL_SECURE) {
		vjob_done(v, zv, "%s", reason);
		return;
	}
	if (positive(v)) {
		signer = dk_v_signer(ldns_pkt_answer(v->pkt), v->qtype);
		ok = dk_v_verify(v->r, ldns_pkt_answer(v->pkt), v->qname, v->qtype, signer, keys,
				 why, sizeof(why)) &&
		     wildcard_ok(v, signer, keys, why, sizeof(why));
	} else {
		ldns_rr *q = ldns_rr_new();
		ldns_rr_list *nsec = ldns_pkt_rr_list_by_type(v->pkt, LDNS_RR_TYPE_NSEC,
							      LDNS_SECTION_AUTHORITY);
		ldns_rr_list *n3 = ldns_pkt_rr_list_by_type(v->pkt, LDNS_RR_TYPE_NSEC3,
							    LDNS_SECTION_AUTHORITY);
		ldns_rr_list *sigs = ldns_pkt_rr_list_by_type(v->pkt, LDNS_RR_TYPE_RRSIG,
							      LDNS_SECTION_AUTHORITY);
		ldns_status st = LDNS_STATUS_DNSSEC_NSEC_RR_NOT_COVERED;

		signer = dk_v_signer(ldns_pkt_authority(v->pkt), 0);
		ok = dk_v_verify_authority(v->r, v->pkt, signer, keys, why, sizeof(why));
		if (ok && q) {
			ldns_rr_set_owner(q, ldns_rdf_clone(v->qname));
			ldns_rr_set_type(q, v->qtype);
			bool has_nsec = nsec && ldns_rr_list_rr_count(nsec);

			if (has_nsec && nsec_sane(nsec))
				st = ldns_dnssec_verify_denial(q, nsec, sigs);
			else if (!has_nsec && n3 && nsec3_sane(n3, v->qname))
				st = ldns_dnssec_verify_denial_nsec3(
					q, n3, sigs, ldns_pkt_get_rcode(v->pkt), v->qtype, true);
			ok = st == LDNS_STATUS_OK;
			if (!ok)
				snprintf(why, sizeof(why), "denial of existence: %s",
					 ldns_get_errorstr_by_id(st));
		}
		ldns_rr_free(q);
		ldns_rr_list_deep_free(nsec);
		ldns_rr_list_deep_free(n3);
		ldns_rr_list_deep_free(sigs);
	}
	name_str(signer, zn, sizeof(zn));
	if (ok)
		vjob_done(v, DK_VAL_SECURE, "signed by %s, chain to a trust anchor", zn);
	else
		vjob_done(v, DK_VAL_BOGUS, "%s", why);
}

static void walk_next(struct vjob *v);
static void on_walk_keys(void *arg, enum dk_val zv, const ldns_rr_list *keys,
			 const char *reason);

/* The answer to a DS query at v->probe during the secure walk. */
static void on_walk_ds(void *arg, enum dk_lookup_status st, const ldns_pkt *pkt)
{
	struct vjob *v = arg;
	ldns_rr_list *ds;
	char why[160] = "", pn[DK_NAME_MAX], zn[DK_NAME_MAX];
	enum dk_cut cut;

	name_str(v->probe, pn, sizeof(pn));
	name_str(v->zone, zn, sizeof(zn));
	if (st != DK_L_FOUND || (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR &&
				 ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NXDOMAIN)) {
		vjob_done(v, DK_VAL_INDETERMINATE, "DS query for %s: %s", pn,
			  st != DK_L_FOUND ? dk_lookup_strerror(st) : "server error");
		return;
	}
	ds = dk_v_rrset(ldns_pkt_answer(pkt), v->probe, LDNS_RR_TYPE_DS);
	if (ds && ldns_rr_list_rr_count(ds)) {
		if (!dk_v_verify(v->r, ldns_pkt_answer(pkt), v->probe, LDNS_RR_TYPE_DS, v->zone,
				 v->keys, why, sizeof(why))) {
			ldns_rr_list_free(ds);
			vjob_done(v, DK_VAL_BOGUS, "DS of %s: %s", pn, why);
			return;
		}
		/* A secure delegation: continue below with the child's keys. */
		dk_zkey_get_ds(v->r, v->probe, ds, on_walk_keys, v);
		ldns_rr_list_free(ds);
		return;
	}
	ldns_rr_list_free(ds);
	if (!dk_v_verify_authority(v->r, pkt, v->zone, v->keys, why, sizeof(why))) {
		vjob_done(v, DK_VAL_BOGUS, "unsigned answer; no DS for %s and %s", pn, why);
		return;
	}
	cut = dk_v_classify_ds_denial(pkt, v->probe);
	if (cut == DK_CUT_INSECURE) {
		vjob_done(v, DK_VAL_INSECURE, "%s is an unsigned delegation from %s", pn, zn);
	} else if (cut == DK_CUT_NONE && ldns_dname_compare(v->probe, v->qname) != 0) {
		walk_next(v);
	} else if (cut == DK_CUT_NONE) {
		vjob_done(v, DK_VAL_BOGUS, "unsigned answer from signed zone %s", zn);
	} else {
		vjob_done(v, DK_VAL_BOGUS, "unsigned answer; %s %s", pn,
			  cut == DK_CUT_NOTEXIST ? "proven not to exist" : "has no DS proof");
	}
}

/* Asks for the DS of the next name below v->zone on the way to qname. */
static void walk_next(struct vjob *v)
{
	uint8_t zl = v->zone ? ldns_dname_label_count(v->zone) : 0;
	uint8_t ql = ldns_dname_label_count(v->qname);
	uint8_t pl = v->probe ? ldns_dname_label_count(v->probe) : zl;
	ldns_rdf *p;

	if (pl >= ql) {
		vjob_done(v, DK_VAL_BOGUS, "unsigned answer from a signed zone");
		return;
	}
	p = ldns_dname_clone_from(v->qname, (uint16_t)(ql - pl - 1));
	if (!p) {
		vjob_done(v, DK_VAL_INDETERMINATE, "out of memory");
		return;
	}
	ldns_rdf_deep_free(v->probe);
	v->probe = p;
	if (dk_tx_send(v->r, p, LDNS_RR_TYPE_DS, on_walk_ds, v) < 0)
		vjob_done(v, DK_VAL_INDETERMINATE, "cannot send DS query");
}

/* Keys of the zone the walk stands in (the anchor first, then each secure child). */
static void on_walk_keys(void *arg, enum dk_val zv, const ldns_rr_list *keys,
			 const char *reason)
{
	struct vjob *v = arg;

	if (zv != DK_VAL_SECURE) {
		vjob_done(v, zv, "%s", reason);
		return;
	}
	ldns_rr_list_deep_free(v->keys);
	v->keys = ldns_rr_list_clone(keys);
	if (!v->keys) {
		vjob_done(v, DK_VAL_INDETERMINATE, "out of memory");
		return;
	}
	if (v->probe) {
		/* The probe was a secure delegation: it becomes the zone we stand in. */
		ldns_rdf_deep_free(v->zone);
		v->zone = v->probe;
		v->probe = NULL;
	}
	walk_next(v);
}

static void start_walk(struct vjob *v)
{
	const ldns_rdf *a = dk_anchor_closest(v->r, v->qname);
	char qn[DK_NAME_MAX];

	if (!a) {
		name_str(v->qname, qn, sizeof(qn));
		vjob_done(v, DK_VAL_INSECURE, "no trust anchor covers %s", qn);
		return;
	}
	v->zone = ldns_rdf_clone(a);
	if (!v->zone) {
		vjob_done(v, DK_VAL_INDETERMINATE, "out of memory");
		return;
	}
	dk_zkey_get(v->r, v->zone, on_walk_keys, v);
}

int dk_validate(struct dk_resolver *r, const ldns_pkt *pkt, const ldns_rdf *qname,
		ldns_rr_type qtype, dk_val_fn *cb, void *arg)
{
	struct vjob *v = calloc(1, sizeof(*v));
	const ldns_rdf *signer;

	if (!v)
		return -ENOMEM;
	*v = (struct vjob){ .r = r, .qtype = qtype, .cb = cb, .arg = arg };
	v->pkt = ldns_pkt_clone(pkt);
	v->qname = ldns_rdf_clone(qname);
	if (!v->pkt || !v->qname) {
		ldns_pkt_free(v->pkt);
		ldns_rdf_deep_free(v->qname);
		free(v);
		return -ENOMEM;
	}
	/* Keys must be published at the name itself: a CNAME there is not followed, but it is
	 * validated as the answer, so that "no key here" can still be secure. */
	if (!positive(v)) {
		v->qtype = LDNS_RR_TYPE_CNAME;
		if (!positive(v))
			v->qtype = qtype;
	}
	if (positive(v))
		signer = dk_v_signer(ldns_pkt_answer(pkt), v->qtype);
	else
		signer = dk_v_signer(ldns_pkt_authority(pkt), 0);
	if (!signer) {
		start_walk(v);
		return 0;
	}
	/* The signer must be the owner or one of its ancestors (RFC 4035 §5.3.1). */
	if (ldns_dname_compare(signer, qname) != 0 && !ldns_dname_is_subdomain(qname, signer)) {
		vjob_done(v, DK_VAL_BOGUS, "signer is not an ancestor of the name");
		return 0;
	}
	dk_zkey_get(r, signer, on_signer_keys, v);
	return 0;
}
