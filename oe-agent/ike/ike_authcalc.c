/* AUTH payload computation (RFC 7296 §2.15): the signed octets, signatures with our host key and
 * their verification with the peer's DNS key: RFC 7427 Digital Signature (method 14:
 * RSASSA-PSS, ECDSA P-256, Ed25519 per RFC 8420), RSA method 1 (PKCS#1 v1.5 with SHA-1), and
 * NULL authentication (RFC 7619), plus the SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "ike_crypto_int.h"

/* RFC 7427 §3 / Appendix A: the DER AlgorithmIdentifier that prefixes a method-14 signature. */
static const uint8_t algid_pss_sha256[] = { /* RFC 7427 A.4.3 form, salt 32, MGF1-SHA256 */
	0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34,
	0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20,
};
static const uint8_t algid_pss_sha512[] = { /* salt 64, MGF1-SHA512 */
	0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34,
	0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
	0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
	0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x40,
};
/* The same PSS parameters with the hash AlgorithmIdentifiers' NULL parameters left out (DER
 * allows both; some encoders omit them): accepted when verifying, never sent. */
static const uint8_t algid_pss_sha256_nonull[] = {
	0x30, 0x3d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x30,
	0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0xa1, 0x1a, 0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
	0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0xa2, 0x03,
	0x02, 0x01, 0x20,
};
static const uint8_t algid_pss_sha512_nonull[] = {
	0x30, 0x3d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x30,
	0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
	0xa1, 0x1a, 0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
	0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0xa2, 0x03,
	0x02, 0x01, 0x40,
};
static const uint8_t algid_ecdsa_sha256[] = { /* A.3.1 ecdsa-with-SHA256, no parameters */
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
};
static const uint8_t algid_ed25519[] = { /* RFC 8420 §3, id-Ed25519 */
	0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
};
static const uint8_t algid_rsa_sha256[] = { /* A.1.2 sha256WithRSAEncryption */
	0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
};
static const uint8_t algid_rsa_sha512[] = { /* A.1.4 sha512WithRSAEncryption */
	0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00,
};

struct sig_desc {
	enum ike_sig_alg alg;
	const char *name;
	int key_type;          /* EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519 */
	const uint8_t *algid;  /* NULL: method 1 */
	size_t algid_len;
};

#define ALGID(a) a, sizeof(a)
static const struct sig_desc sigs[] = {
	{ IKE_SIG_RSA_PKCS1_SHA1, "rsa-pkcs1-sha1", EVP_PKEY_RSA, NULL, 0 },
	{ IKE_SIG_RSA_PSS_SHA256, "rsa-pss-sha256", EVP_PKEY_RSA, ALGID(algid_pss_sha256) },
	{ IKE_SIG_RSA_PSS_SHA512, "rsa-pss-sha512", EVP_PKEY_RSA, ALGID(algid_pss_sha512) },
	{ IKE_SIG_ECDSA_SHA256, "ecdsa-sha256", EVP_PKEY_EC, ALGID(algid_ecdsa_sha256) },
	{ IKE_SIG_ED25519, "ed25519", EVP_PKEY_ED25519, ALGID(algid_ed25519) },
	{ IKE_SIG_RSA_PKCS1_SHA256, "rsa-pkcs1-sha256", EVP_PKEY_RSA, ALGID(algid_rsa_sha256) },
	{ IKE_SIG_RSA_PKCS1_SHA512, "rsa-pkcs1-sha512", EVP_PKEY_RSA, ALGID(algid_rsa_sha512) },
	/* verify-only spellings, after the ones sig_find() picks for signing */
	{ IKE_SIG_RSA_PSS_SHA256, "rsa-pss-sha256", EVP_PKEY_RSA, ALGID(algid_pss_sha256_nonull) },
	{ IKE_SIG_RSA_PSS_SHA512, "rsa-pss-sha512", EVP_PKEY_RSA, ALGID(algid_pss_sha512_nonull) },
};
#define N_SIGS (sizeof(sigs) / sizeof(sigs[0]))

static const struct sig_desc *sig_find(enum ike_sig_alg alg)
{
	for (size_t i = 0; i < N_SIGS; i++)
		if (sigs[i].alg == alg)
			return &sigs[i];
	return NULL;
}

const char *ike_sig_alg_name(enum ike_sig_alg alg)
{
	const struct sig_desc *d = sig_find(alg);

	return d ? d->name : "none";
}

/* ==== SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4) ================================================ */

size_t ike_sighash_notify_data(uint8_t *out, size_t cap)
{
	static const uint8_t ours[] = { 0, IKE_HASH_SHA2_256, 0, IKE_HASH_SHA2_512,
					0, IKE_HASH_IDENTITY };

	if (cap < sizeof(ours))
		return 0;
	memcpy(out, ours, sizeof(ours));
	return sizeof(ours);
}

bool ike_sighash_notify_parse(const uint8_t *data, size_t len, unsigned *mask)
{
	*mask = 0;
	if (len % 2)
		return false;
	for (size_t i = 0; i < len; i += 2) {
		unsigned id = (unsigned)data[i] << 8 | data[i + 1];

		if (id < 32)
			*mask |= IKE_HASH_BIT(id);
	}
	return true;
}

enum ike_sig_alg ike_sig_alg_for_key(EVP_PKEY *key, unsigned peer_hashes)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		/* §4: method 14 only to a peer that announced the hash */
		if (peer_hashes & IKE_HASH_BIT(IKE_HASH_SHA2_256))
			return IKE_SIG_RSA_PSS_SHA256;
		if (peer_hashes & IKE_HASH_BIT(IKE_HASH_SHA2_512))
			return IKE_SIG_RSA_PSS_SHA512;
		return IKE_SIG_RSA_PKCS1_SHA1;
	case EVP_PKEY_EC:
		return peer_hashes & IKE_HASH_BIT(IKE_HASH_SHA2_256) ? IKE_SIG_ECDSA_SHA256
								      : IKE_SIG_NONE;
	case EVP_PKEY_ED25519:
		return peer_hashes & IKE_HASH_BIT(IKE_HASH_IDENTITY) ? IKE_SIG_ED25519
								      : IKE_SIG_NONE;
	}
	return IKE_SIG_NONE;
}

/* ==== signed octets (§2.15) ================================================================== */

enum ike_crypto_status ike_auth_octets(unsigned prf, const uint8_t *sk_p, size_t sk_p_len,
				       const uint8_t *msg, size_t msg_len,
				       const uint8_t *nonce, size_t nonce_len,
				       const struct ike_id_pl *id, uint8_t **out, size_t *out_len)
{
	size_t hlen = ike_prf_len(prf), body_len, n;
	uint8_t *body, *o;
	enum ike_crypto_status st;

	*out = NULL;
	*out_len = 0;
	if (!hlen)
		return IKE_CRYPTO_BAD_PRF;
	if (id->len > 65535 || msg_len > SIZE_MAX / 2 || nonce_len > 256)
		return IKE_CRYPTO_BAD_LENGTH;
	body_len = 4 + id->len;
	n = msg_len + nonce_len + hlen;
	body = malloc(body_len);
	o = malloc(n);
	if (!body || !o) {
		free(body);
		free(o);
		return IKE_CRYPTO_NOMEM;
	}
	(void)ike_id_body(id, body, body_len);
	memcpy(o, msg, msg_len);
	memcpy(o + msg_len, nonce, nonce_len);
	/* MACedIDForI = prf(SK_pi, RestOfInitIDPayload) */
	st = ike_prf(prf, sk_p, sk_p_len, body, body_len, o + msg_len + nonce_len);
	free(body);
	if (st != IKE_CRYPTO_OK) {
		free(o);
		return st;
	}
	*out = o;
	*out_len = n;
	return IKE_CRYPTO_OK;
}

/* ==== signatures ============================================================================= */

static const EVP_MD *sig_md(enum ike_sig_alg alg)
{
	switch (alg) {
	case IKE_SIG_RSA_PKCS1_SHA1: return EVP_sha1();
	case IKE_SIG_RSA_PSS_SHA256:
	case IKE_SIG_ECDSA_SHA256:
	case IKE_SIG_RSA_PKCS1_SHA256: return EVP_sha256();
	case IKE_SIG_RSA_PSS_SHA512:
	case IKE_SIG_RSA_PKCS1_SHA512: return EVP_sha512();
	default: return NULL; /* Ed25519 signs the message itself */
	}
}

/* A digest-sign/verify context for alg with key; PSS: salt = hash length, MGF1 same hash. */
static EVP_MD_CTX *sig_ctx(EVP_PKEY *key, enum ike_sig_alg alg, bool sign)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *h = sig_md(alg);
	int ok;

	if (!md)
		return NULL;
	ok = sign ? EVP_DigestSignInit(md, &pctx, h, NULL, key)
		  : EVP_DigestVerifyInit(md, &pctx, h, NULL, key);
	if (ok == 1 && (alg == IKE_SIG_RSA_PSS_SHA256 || alg == IKE_SIG_RSA_PSS_SHA512))
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, h) == 1;
	if (ok != 1) {
		EVP_MD_CTX_free(md);
		return NULL;
	}
	return md;
}

enum ike_crypto_status ike_auth_sign(EVP_PKEY *key, enum ike_sig_alg alg,
				     const uint8_t *octets, size_t octets_len,
				     uint8_t *method, uint8_t **data, size_t *data_len)
{
	const struct sig_desc *d = sig_find(alg);
	EVP_MD_CTX *md = NULL;
	size_t pre, siglen = 0;
	uint8_t *out = NULL;
	enum ike_crypto_status st = IKE_CRYPTO_FAIL;

	*data = NULL;
	*data_len = 0;
	if (!d || alg == IKE_SIG_RSA_PKCS1_SHA256 || alg == IKE_SIG_RSA_PKCS1_SHA512)
		return IKE_CRYPTO_SIG_ALG;
	if (EVP_PKEY_get_base_id(key) != d->key_type)
		return IKE_CRYPTO_BAD_KEY;
	pre = d->algid ? 1 + d->algid_len : 0;
	md = sig_ctx(key, alg, true);
	if (!md || EVP_DigestSign(md, NULL, &siglen, octets, octets_len) != 1)
		goto out;
	out = malloc(pre + siglen);
	if (!out) {
		st = IKE_CRYPTO_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(md, out + pre, &siglen, octets, octets_len) != 1)
		goto out;
	if (d->algid) { /* RFC 7427 §3: ASN.1 Length | AlgorithmIdentifier | Signature Value */
		out[0] = (uint8_t)d->algid_len;
		memcpy(out + 1, d->algid, d->algid_len);
	}
	*method = d->algid ? IKE_AUTH_DIGITAL_SIG : IKE_AUTH_RSA_SIG;
	*data = out;
	*data_len = pre + siglen;
	out = NULL;
	st = IKE_CRYPTO_OK;
out:
	free(out);
	EVP_MD_CTX_free(md);
	return st;
}

/* Which algorithm a received AUTH names (method 1, or method 14's AlgorithmIdentifier). */
static enum ike_crypto_status sig_parse(uint8_t method, const uint8_t *data, size_t len,
					const struct sig_desc **d, size_t *pre)
{
	if (method == IKE_AUTH_RSA_SIG) {
		*d = sig_find(IKE_SIG_RSA_PKCS1_SHA1);
		*pre = 0;
		return IKE_CRYPTO_OK;
	}
	if (method != IKE_AUTH_DIGITAL_SIG)
		return IKE_CRYPTO_SIG_ALG;
	if (len < 1 || data[0] > len - 1)
		return IKE_CRYPTO_BAD_AUTH_DATA;
	for (size_t i = 0; i < N_SIGS; i++) {
		if (sigs[i].algid && sigs[i].algid_len == data[0] &&
		    memcmp(sigs[i].algid, data + 1, data[0]) == 0) {
			*d = &sigs[i];
			*pre = 1u + data[0];
			return IKE_CRYPTO_OK;
		}
	}
	return IKE_CRYPTO_SIG_ALG;
}

enum ike_crypto_status ike_auth_verify(EVP_PKEY *peer, uint8_t method, const uint8_t *data,
				       size_t data_len, const uint8_t *octets,
				       size_t octets_len, unsigned allowed,
				       enum ike_sig_alg *alg_out)
{
	const struct sig_desc *d = NULL;
	size_t pre = 0;
	EVP_MD_CTX *md;
	enum ike_crypto_status st;
	int r;

	if (alg_out)
		*alg_out = IKE_SIG_NONE;
	st = sig_parse(method, data, data_len, &d, &pre);
	if (st != IKE_CRYPTO_OK)
		return st;
	if (allowed && !(allowed & (1u << d->alg)))
		return IKE_CRYPTO_SIG_ALG;
	if (EVP_PKEY_get_base_id(peer) != d->key_type)
		return IKE_CRYPTO_BAD_KEY;
	if (alg_out)
		*alg_out = d->alg;
	md = sig_ctx(peer, d->alg, false);
	if (!md)
		return IKE_CRYPTO_FAIL;
	r = EVP_DigestVerify(md, data + pre, data_len - pre, octets, octets_len);
	EVP_MD_CTX_free(md);
	return r == 1 ? IKE_CRYPTO_OK : IKE_CRYPTO_AUTH_FAILED;
}

/* ==== NULL authentication (RFC 7619) ========================================================= */

enum ike_crypto_status ike_auth_null(unsigned prf, const uint8_t *sk_p, size_t sk_p_len,
				     const uint8_t *octets, size_t octets_len, uint8_t *out)
{
	static const char pad[] = "Key Pad for IKEv2"; /* §2.15, 17 octets, no NUL */
	uint8_t k[IKE_PRF_MAX];
	enum ike_crypto_status st;

	/* AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) */
	st = ike_prf(prf, sk_p, sk_p_len, (const uint8_t *)pad, sizeof(pad) - 1, k);
	if (st == IKE_CRYPTO_OK)
		st = ike_prf(prf, k, ike_prf_len(prf), octets, octets_len, out);
	OPENSSL_cleanse(k, sizeof(k));
	return st;
}

enum ike_crypto_status ike_auth_null_verify(unsigned prf, const uint8_t *sk_p,
					    size_t sk_p_len, const uint8_t *octets,
					    size_t octets_len, const uint8_t *data,
					    size_t data_len)
{
	uint8_t want[IKE_PRF_MAX];
	enum ike_crypto_status st;

	st = ike_auth_null(prf, sk_p, sk_p_len, octets, octets_len, want);
	if (st == IKE_CRYPTO_OK && (data_len != ike_prf_len(prf) ||
				    CRYPTO_memcmp(want, data, data_len) != 0))
		st = IKE_CRYPTO_AUTH_FAILED;
	OPENSSL_cleanse(want, sizeof(want));
	return st;
}
