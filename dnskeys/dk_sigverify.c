/* A faster RRSIG check for the algorithms zones use today (RSA/SHA-256 and /SHA-512,
 * ECDSA P-256, Ed25519): the signed data of RFC 4034 §3.1.8.1 is built with ldns's own
 * canonical-form helpers, and verified with an EVP_PKEY decoded once per DNSKEY by our codecs
 * and kept in a small per-resolver cache. ldns's verifier rebuilds a legacy key (and its
 * curve) on every call, which costs as much as the verification itself. Anything this path
 * does not handle, or any failure, goes to ldns, which stays the authority on rejections. */
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dk_lookup_int.h"

#define DNSKEY_ZONE 0x0100    /* RFC 4034 §2.1.1 */
#define DNSKEY_PROTOCOL 3     /* RFC 4034 §2.1.2 */

static const EVP_MD *alg_md(uint8_t alg)
{
	switch (alg) {
	case LDNS_RSASHA256:
	case LDNS_ECDSAP256SHA256:
		return EVP_sha256();
	case LDNS_RSASHA512:
		return EVP_sha512();
	default:
		return NULL; /* Ed25519: no separate digest */
	}
}

static bool alg_ours(uint8_t alg)
{
	return alg == LDNS_RSASHA256 || alg == LDNS_RSASHA512 || alg == LDNS_ECDSAP256SHA256 ||
	       alg == LDNS_ED25519;
}

void dk_pkcache_free(struct dk_resolver *r)
{
	for (size_t i = 0; i < DK_PKCACHE; i++) {
		free(r->pkc[i].rd);
		EVP_PKEY_free(r->pkc[i].pk);
	}
	memset(r->pkc, 0, sizeof(r->pkc));
}

/* The EVP_PKEY of a DNSKEY (alg + public key field), decoded once. Borrowed. */
static EVP_PKEY *key_get(struct dk_resolver *r, uint8_t alg, const ldns_rdf *kf)
{
	const uint8_t *p = ldns_rdf_data(kf);
	size_t n = ldns_rdf_size(kf), slot;
	enum dk_status st = DK_ERR_KEY_TYPE;
	EVP_PKEY *pk = NULL;
	uint8_t *copy;

	for (size_t i = 0; i < DK_PKCACHE; i++)
		if (r->pkc[i].pk && r->pkc[i].alg == alg && r->pkc[i].len == n &&
		    memcmp(r->pkc[i].rd, p, n) == 0)
			return r->pkc[i].pk;
	if (alg == LDNS_RSASHA256 || alg == LDNS_RSASHA512)
		st = dk_rfc3110_decode(p, n, &pk); /* RFC 3110 §2: the DNSKEY RSA form */
	else if (alg == LDNS_ECDSAP256SHA256)
		st = dk_ecdsa_decode(p, n, &pk);    /* RFC 6605 §4 */
	else if (alg == LDNS_ED25519)
		st = dk_ed25519_decode(p, n, &pk);  /* RFC 8080 §3 */
	copy = st == DK_OK ? malloc(n ? n : 1) : NULL;
	if (!copy) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	memcpy(copy, p, n);
	slot = r->pkc_next++ % DK_PKCACHE;
	free(r->pkc[slot].rd);
	EVP_PKEY_free(r->pkc[slot].pk);
	r->pkc[slot] = (struct dk_pkc){ alg, copy, n, pk };
	return pk;
}

/* RFC 6605 §4: ECDSA signatures are r || s, 32 octets each; OpenSSL wants DER. */
static size_t ecdsa_der(const uint8_t *sig, size_t n, uint8_t *der, size_t cap)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(sig, 32, NULL), *bs = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *o = der;
	int len = 0;

	if (n == 64 && es && br && bs && ECDSA_SIG_set0(es, br, bs) == 1) {
		br = bs = NULL; /* owned by es now */
		if (i2d_ECDSA_SIG(es, NULL) <= (int)cap)
			len = i2d_ECDSA_SIG(es, &o);
	}
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return len > 0 ? (size_t)len : 0;
}

/* RFC 4034 §3.1.8.1: RRSIG_RDATA (without the signature, signer name canonical) followed by
 * the RRset in canonical form and order, with the original TTL, and owners that came from a
 * wildcard (labels < owner labels) written as "*." + the last `labels` labels (§5.3.2). */
static ldns_buffer *signed_data(const ldns_rr_list *set, const ldns_rr *sig, uint8_t labels)
{
	ldns_rr_list *c = ldns_rr_list_clone(set);
	ldns_rr *s = ldns_rr_clone(sig);
	ldns_buffer *b = ldns_buffer_new(LDNS_MAX_PACKETLEN);
	uint32_t ttl = ldns_rdf2native_int32(ldns_rr_rrsig_origttl(sig));
	bool ok = c && s && b;

	for (size_t i = 0; ok && i < ldns_rr_list_rr_count(c); i++) {
		ldns_rr *rr = ldns_rr_list_rr(c, i);
		uint8_t nl = ldns_dname_label_count(ldns_rr_owner(rr));

		ldns_rr2canonical(rr);
		ldns_rr_set_ttl(rr, ttl);
		if (nl > labels) {
			ldns_rdf *w = ldns_dname_new_frm_str("*");
			ldns_rdf *tail = ldns_dname_clone_from(ldns_rr_owner(rr), nl - labels);

			ok = w && tail && ldns_dname_cat(w, tail) == LDNS_STATUS_OK;
			ldns_rdf_deep_free(tail);
			if (ok) {
				ldns_rdf *old = ldns_rr_owner(rr);

				ldns_rr_set_owner(rr, w); /* does not free the old owner */
				ldns_rdf_deep_free(old);
			} else {
				ldns_rdf_deep_free(w);
			}
		}
	}
	if (ok) {
		ldns_rr2canonical(s);
		ldns_rr_list_sort(c);
		ok = ldns_rrsig2buffer_wire(b, s) == LDNS_STATUS_OK &&
		     ldns_rr_list2buffer_wire(b, c) == LDNS_STATUS_OK;
	}
	ldns_rr_list_deep_free(c);
	ldns_rr_free(s);
	if (!ok) {
		ldns_buffer_free(b);
		return NULL;
	}
	return b;
}

static bool evp_check(EVP_PKEY *pk, uint8_t alg, const uint8_t *sig, size_t slen,
		      const ldns_buffer *data)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t der[80];
	bool ok = false;

	if (alg == LDNS_ECDSAP256SHA256) {
		slen = ecdsa_der(sig, slen, der, sizeof(der));
		sig = der;
	}
	if (ctx && slen && EVP_DigestVerifyInit(ctx, NULL, alg_md(alg), NULL, pk) == 1)
		ok = EVP_DigestVerify(ctx, sig, slen, ldns_buffer_begin(data),
				      ldns_buffer_position(data)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* The RRSIG's validity period holds now (RFC 4034 §3.1.5, serial arithmetic RFC 1982). */
static bool sig_current(const ldns_rr *sig)
{
	uint32_t now = (uint32_t)time(NULL);
	uint32_t exp = ldns_rdf2native_int32(ldns_rr_rrsig_expiration(sig));
	uint32_t inc = ldns_rdf2native_int32(ldns_rr_rrsig_inception(sig));

	return (int32_t)(now - inc) >= 0 && (int32_t)(exp - now) >= 0;
}

/* RFC 4035 §5.3.1: a zone key (Zone flag, protocol 3) of the signer with the RRSIG's
 * algorithm and key tag. */
static bool key_matches(const ldns_rr *k, uint8_t alg, uint16_t tag, const ldns_rdf *signer)
{
	if (ldns_rr_get_type(k) != LDNS_RR_TYPE_DNSKEY || ldns_rr_rd_count(k) != 4)
		return false;
	for (size_t i = 0; i < 3; i++)
		if (ldns_rdf_size(ldns_rr_rdf(k, i)) != (i == 0 ? 2u : 1u))
			return false;
	return (ldns_rdf2native_int16(ldns_rr_rdf(k, 0)) & DNSKEY_ZONE) &&
	       ldns_rdf2native_int8(ldns_rr_rdf(k, 1)) == DNSKEY_PROTOCOL &&
	       ldns_rdf2native_int8(ldns_rr_rdf(k, 2)) == alg && ldns_calc_keytag(k) == tag &&
	       ldns_dname_compare(ldns_rr_owner(k), signer) == 0;
}

bool dk_sig_fast(struct dk_resolver *r, const ldns_rr_list *set, const ldns_rr *sig,
		 const ldns_rr_list *keys)
{
	uint8_t alg, labels;
	uint16_t tag;
	ldns_buffer *data = NULL;
	bool ok = false;

	if (ldns_rr_rd_count(sig) != 9 || !ldns_rr_list_rr_count(set) ||
	    ldns_rdf_size(ldns_rr_rdf(sig, 1)) != 1 || ldns_rdf_size(ldns_rr_rdf(sig, 2)) != 1 ||
	    ldns_rdf_size(ldns_rr_rdf(sig, 3)) != 4 || ldns_rdf_size(ldns_rr_rdf(sig, 4)) != 4 ||
	    ldns_rdf_size(ldns_rr_rdf(sig, 5)) != 4 || ldns_rdf_size(ldns_rr_rdf(sig, 6)) != 2)
		return false;
	alg = ldns_rdf2native_int8(ldns_rr_rdf(sig, 1));
	labels = ldns_rdf2native_int8(ldns_rr_rdf(sig, 2));
	tag = ldns_rdf2native_int16(ldns_rr_rdf(sig, 6));
	/* RFC 4035 §5.3.1: the RRSIG covers this RRset's owner and type, and is current. */
	if (!alg_ours(alg) || !sig_current(sig) ||
	    ldns_rdf2rr_type(ldns_rr_rdf(sig, 0)) != ldns_rr_get_type(ldns_rr_list_rr(set, 0)) ||
	    ldns_dname_compare(ldns_rr_owner(sig), ldns_rr_owner(ldns_rr_list_rr(set, 0))) != 0 ||
	    labels > ldns_dname_label_count(ldns_rr_owner(ldns_rr_list_rr(set, 0))))
		return false;
	for (size_t i = 0; !ok && i < ldns_rr_list_rr_count(keys); i++) {
		const ldns_rr *k = ldns_rr_list_rr(keys, i);
		EVP_PKEY *pk;

		if (!key_matches(k, alg, tag, ldns_rr_rdf(sig, 7)))
			continue;
		pk = key_get(r, alg, ldns_rr_rdf(k, 3));
		if (!pk)
			continue;
		if (!data)
			data = signed_data(set, sig, labels);
		if (!data)
			break;
		ok = evp_check(pk, alg, ldns_rdf_data(ldns_rr_rdf(sig, 8)),
			       ldns_rdf_size(ldns_rr_rdf(sig, 8)), data);
	}
	ldns_buffer_free(data);
	return ok;
}
