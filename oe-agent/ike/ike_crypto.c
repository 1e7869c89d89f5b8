/* IKEv2 key exchange and key derivation on libcrypto: DH groups 31/19/14 with the RFC 6989
 * peer checks done here (libcrypto's full validation costs a second exponentiation, PERF.md),
 * HMAC-SHA2 PRFs and prf+ (RFC 7296 §2.13), SKEYSEED and the IKE SA keys (§2.14, §2.18), Child
 * SA KEYMAT (§2.17) and nonces. Every secret lives in a fixed-size struct wiped on exit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "ike_crypto_int.h"

const char *ike_crypto_strerror(enum ike_crypto_status st)
{
	switch (st) {
	case IKE_CRYPTO_OK: return "ok";
	case IKE_CRYPTO_NOMEM: return "out of memory";
	case IKE_CRYPTO_FAIL: return "libcrypto failure";
	case IKE_CRYPTO_BAD_GROUP: return "unsupported DH group";
	case IKE_CRYPTO_BAD_PRF: return "unsupported PRF";
	case IKE_CRYPTO_BAD_LENGTH: return "wrong length";
	case IKE_CRYPTO_BAD_PUBLIC: return "peer's public value fails the RFC 6989 check";
	case IKE_CRYPTO_BAD_KEY: return "key type cannot make this signature";
	case IKE_CRYPTO_BAD_AUTH_DATA: return "malformed AUTH data";
	case IKE_CRYPTO_SIG_ALG: return "signature algorithm not acceptable";
	case IKE_CRYPTO_AUTH_FAILED: return "authentication failed";
	}
	return "unknown crypto status";
}

void ike_secret_wipe(struct ike_secret *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

/* ==== Diffie-Hellman ========================================================================= */

struct ike_dh {
	unsigned group;
	EVP_PKEY *key;
};

/* RFC 3526 §3, the 2048-bit MODP group's prime p, minus one: the upper bound of RFC 6989 §2.1's
 * range check 1 < y < p-1. p ends in 0xff...ff, so p-1 ends in 0xfe. */
static const uint8_t modp2048_pm1[256] = {
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2,
	0x34, 0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67,
	0xCC, 0x74, 0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E,
	0x34, 0x04, 0xDD, 0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D,
	0xF2, 0x5F, 0x14, 0x37, 0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5,
	0x76, 0x62, 0x5E, 0x7E, 0xC6, 0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x37, 0xED, 0x6B, 0x0B, 0xFF,
	0x5C, 0xB6, 0xF4, 0x06, 0xB7, 0xED, 0xEE, 0x38, 0x6B, 0xFB, 0x5A, 0x89, 0x9F, 0xA5, 0xAE,
	0x9F, 0x24, 0x11, 0x7C, 0x4B, 0x1F, 0xE6, 0x49, 0x28, 0x66, 0x51, 0xEC, 0xE4, 0x5B, 0x3D,
	0xC2, 0x00, 0x7C, 0xB8, 0xA1, 0x63, 0xBF, 0x05, 0x98, 0xDA, 0x48, 0x36, 0x1C, 0x55, 0xD3,
	0x9A, 0x69, 0x16, 0x3F, 0xA8, 0xFD, 0x24, 0xCF, 0x5F, 0x83, 0x65, 0x5D, 0x23, 0xDC, 0xA3,
	0xAD, 0x96, 0x1C, 0x62, 0xF3, 0x56, 0x20, 0x85, 0x52, 0xBB, 0x9E, 0xD5, 0x29, 0x07, 0x70,
	0x96, 0x96, 0x6D, 0x67, 0x0C, 0x35, 0x4E, 0x4A, 0xBC, 0x98, 0x04, 0xF1, 0x74, 0x6C, 0x08,
	0xCA, 0x18, 0x21, 0x7C, 0x32, 0x90, 0x5E, 0x46, 0x2E, 0x36, 0xCE, 0x3B, 0xE3, 0x9E, 0x77,
	0x2C, 0x18, 0x0E, 0x86, 0x03, 0x9B, 0x27, 0x83, 0xA2, 0xEC, 0x07, 0xA2, 0x8F, 0xB5, 0xC5,
	0x5D, 0xF0, 0x6F, 0x4C, 0x52, 0xC9, 0xDE, 0x2B, 0xCB, 0xF6, 0x95, 0x58, 0x17, 0x18, 0x39,
	0x95, 0x49, 0x7C, 0xEA, 0x95, 0x6A, 0xE5, 0x15, 0xD2, 0x26, 0x18, 0x98, 0xFA, 0x05, 0x10,
	0x15, 0x72, 0x8E, 0x5A, 0x8A, 0xAC, 0xAA, 0x68, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	0xFE,
};

size_t ike_dh_pub_len(unsigned group)
{
	switch (group) {
	case IKE_DH_MODP2048: return 256;
	case IKE_DH_ECP256: return 64;
	case IKE_DH_CURVE25519: return 32;
	}
	return 0;
}

bool ike_dh_supported(unsigned group)
{
	return ike_dh_pub_len(group) != 0;
}

unsigned ike_dh_group(const struct ike_dh *dh)
{
	return dh->group;
}

void ike_dh_free(struct ike_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->key); /* libcrypto clears private key material on free */
	free(dh);
}

static EVP_PKEY *keygen(unsigned group)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx;

	switch (group) {
	case IKE_DH_CURVE25519:
		return EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	case IKE_DH_ECP256:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case IKE_DH_MODP2048:
		/* the named group: libcrypto picks a short private exponent (2 * 112 bits) */
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
		if (ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_group_name(ctx, "modp_2048") == 1)
			(void)EVP_PKEY_generate(ctx, &pk);
		EVP_PKEY_CTX_free(ctx);
		return pk;
	}
	return NULL;
}

enum ike_crypto_status ike_dh_new(unsigned group, struct ike_dh **out)
{
	struct ike_dh *dh;

	*out = NULL;
	if (!ike_dh_supported(group))
		return IKE_CRYPTO_BAD_GROUP;
	dh = calloc(1, sizeof(*dh));
	if (!dh)
		return IKE_CRYPTO_NOMEM;
	dh->group = group;
	dh->key = keygen(group);
	if (!dh->key) {
		free(dh);
		return IKE_CRYPTO_FAIL;
	}
	*out = dh;
	return IKE_CRYPTO_OK;
}

/* An EVP_PKEY from OSSL_PARAMs (EC and DH keys by value). */
static EVP_PKEY *from_params(const char *type, int selection, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pk = NULL;

	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
		(void)EVP_PKEY_fromdata(ctx, &pk, selection, params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

enum ike_crypto_status ike_dh_new_private(unsigned group, const uint8_t *priv, size_t len,
					  struct ike_dh **out)
{
	struct ike_dh *dh;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn = NULL;

	*out = NULL;
	if (group != IKE_DH_CURVE25519 && group != IKE_DH_ECP256)
		return IKE_CRYPTO_BAD_GROUP; /* MODP: not needed by any vector we test */
	if (len != 32)
		return IKE_CRYPTO_BAD_LENGTH;
	dh = calloc(1, sizeof(*dh));
	if (!dh)
		return IKE_CRYPTO_NOMEM;
	dh->group = group;
	if (group == IKE_DH_CURVE25519) {
		dh->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, len);
	} else if ((bld = OSSL_PARAM_BLD_new()) && (bn = BN_bin2bn(priv, (int)len, NULL)) &&
		   OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) &&
		   OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn)) {
		dh->key = from_params("EC", EVP_PKEY_KEYPAIR, bld);
	}
	BN_clear_free(bn);
	OSSL_PARAM_BLD_free(bld);
	if (!dh->key) {
		free(dh);
		return IKE_CRYPTO_FAIL;
	}
	*out = dh;
	return IKE_CRYPTO_OK;
}

enum ike_crypto_status ike_dh_public(const struct ike_dh *dh, uint8_t *out, size_t cap,
				     size_t *len)
{
	size_t n = ike_dh_pub_len(dh->group), got = 0;
	uint8_t pt[65];
	BIGNUM *y = NULL;
	enum ike_crypto_status st = IKE_CRYPTO_FAIL;

	*len = 0;
	if (cap < n)
		return IKE_CRYPTO_BAD_LENGTH;
	switch (dh->group) {
	case IKE_DH_CURVE25519:
		got = n;
		if (EVP_PKEY_get_raw_public_key(dh->key, out, &got) == 1 && got == n)
			st = IKE_CRYPTO_OK;
		break;
	case IKE_DH_ECP256: /* RFC 5903 §7: x | y without the SEC1 0x04 octet */
		if (EVP_PKEY_get_octet_string_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, pt,
						    sizeof(pt), &got) == 1 &&
		    got == 65 && pt[0] == 0x04) {
			memcpy(out, pt + 1, 64);
			st = IKE_CRYPTO_OK;
		}
		break;
	case IKE_DH_MODP2048: /* §3.4: left-padded to the prime's length */
		if (EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &y) == 1 &&
		    BN_bn2binpad(y, out, (int)n) == (int)n)
			st = IKE_CRYPTO_OK;
		BN_free(y);
		break;
	}
	if (st == IKE_CRYPTO_OK)
		*len = n;
	return st;
}

/* The peer's public value as an EVP_PKEY of our key's group, after the RFC 6989 checks. The
 * group parameters are copied from our own key: building them from the group name again
 * costs four times as much for P-256. */
static enum ike_crypto_status peer_key(const struct ike_dh *dh, const uint8_t *p, size_t len,
				       EVP_PKEY **out)
{
	uint8_t pt[65];
	const uint8_t *enc = p;
	size_t enc_len = len;
	EVP_PKEY *pk;

	*out = NULL;
	if (len != ike_dh_pub_len(dh->group))
		return IKE_CRYPTO_BAD_LENGTH;
	switch (dh->group) {
	case IKE_DH_CURVE25519:
		*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, p, len);
		return *out ? IKE_CRYPTO_OK : IKE_CRYPTO_FAIL;
	case IKE_DH_ECP256:
		/* SEC1 uncompressed form; decoding it checks the point is on the curve (the point
		 * at infinity has no x | y form): RFC 6989 §2.3 for ECP groups. */
		pt[0] = 0x04;
		memcpy(pt + 1, p, 64);
		enc = pt;
		enc_len = sizeof(pt);
		break;
	case IKE_DH_MODP2048: {
		/* RFC 6989 §2.1: 1 < y < p-1 suffices for this safe-prime group. */
		size_t i = 0;

		while (i < 255 && p[i] == 0)
			i++;
		if ((i == 255 && p[255] <= 1) || memcmp(p, modp2048_pm1, 256) >= 0)
			return IKE_CRYPTO_BAD_PUBLIC;
		break;
	}
	}
	pk = EVP_PKEY_new();
	if (!pk || EVP_PKEY_copy_parameters(pk, dh->key) != 1) {
		EVP_PKEY_free(pk);
		return IKE_CRYPTO_FAIL;
	}
	if (EVP_PKEY_set1_encoded_public_key(pk, enc, enc_len) != 1) {
		EVP_PKEY_free(pk);
		return dh->group == IKE_DH_ECP256 ? IKE_CRYPTO_BAD_PUBLIC : IKE_CRYPTO_FAIL;
	}
	*out = pk;
	return IKE_CRYPTO_OK;
}

enum ike_crypto_status ike_dh_derive(const struct ike_dh *dh, const uint8_t *peer, size_t len,
				     struct ike_secret *shared)
{
	enum ike_crypto_status st;
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = sizeof(shared->b);
	static const uint8_t zero32[32];

	shared->len = 0;
	st = peer_key(dh, peer, len, &pk);
	if (st != IKE_CRYPTO_OK)
		goto out;
	st = IKE_CRYPTO_FAIL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1)
		goto out;
	/* §2.14: g^ir is as long as the prime, leading zeros kept */
	if (dh->group == IKE_DH_MODP2048 && EVP_PKEY_CTX_set_dh_pad(ctx, 1) != 1)
		goto out;
	/* validate = 0: the checks above are the ones RFC 6989 asks for (PERF.md) */
	if (EVP_PKEY_derive_set_peer_ex(ctx, pk, 0) != 1)
		goto out;
	if (EVP_PKEY_derive(ctx, shared->b, &n) != 1) {
		/* X25519: libcrypto refuses an all-zero result (RFC 7748 §6.1), a peer fault */
		st = dh->group == IKE_DH_CURVE25519 ? IKE_CRYPTO_BAD_PUBLIC : IKE_CRYPTO_FAIL;
		goto out;
	}
	if (dh->group == IKE_DH_CURVE25519 && CRYPTO_memcmp(shared->b, zero32, 32) == 0) {
		st = IKE_CRYPTO_BAD_PUBLIC;
		goto out;
	}
	shared->len = n;
	st = IKE_CRYPTO_OK;
out:
	if (st != IKE_CRYPTO_OK)
		ike_secret_wipe(shared);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return st;
}

/* ==== PRF and prf+ =========================================================================== */

static const EVP_MD *prf_md(unsigned prf)
{
	switch (prf) {
	case IKE_PRF_HMAC_SHA1: return EVP_sha1(); /* only for published SHA-1 test vectors */
	case IKE_PRF_HMAC_SHA2_256: return EVP_sha256();
	case IKE_PRF_HMAC_SHA2_512: return EVP_sha512();
	}
	return NULL;
}

bool ike_prf_supported(unsigned prf)
{
	return prf == IKE_PRF_HMAC_SHA2_256 || prf == IKE_PRF_HMAC_SHA2_512;
}

size_t ike_prf_len(unsigned prf)
{
	const EVP_MD *md = prf_md(prf);

	return md ? (size_t)EVP_MD_get_size(md) : 0;
}

enum ike_crypto_status ike_prf(unsigned prf, const uint8_t *key, size_t key_len,
			       const uint8_t *data, size_t data_len, uint8_t *out)
{
	static const uint8_t empty[1];
	const EVP_MD *md = prf_md(prf);
	unsigned n = 0;

	if (!md)
		return IKE_CRYPTO_BAD_PRF;
	if (key_len > INT32_MAX)
		return IKE_CRYPTO_BAD_LENGTH;
	if (!HMAC(md, key_len ? key : empty, (int)key_len, data_len ? data : empty, data_len, out,
		  &n))
		return IKE_CRYPTO_FAIL;
	return IKE_CRYPTO_OK;
}

enum ike_crypto_status ike_prfplus(unsigned prf, const uint8_t *key, size_t key_len,
				   const uint8_t *seed, size_t seed_len, uint8_t *out,
				   size_t out_len)
{
	size_t hlen = ike_prf_len(prf), done = 0, tlen = 0;
	uint8_t t[IKE_PRF_MAX], *buf;
	enum ike_crypto_status st = IKE_CRYPTO_OK;

	if (!hlen)
		return IKE_CRYPTO_BAD_PRF;
	if (out_len > 255 * hlen || seed_len > SIZE_MAX / 2)
		return IKE_CRYPTO_BAD_LENGTH;
	buf = malloc(hlen + seed_len + 1);
	if (!buf)
		return IKE_CRYPTO_NOMEM;
	/* T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n) */
	for (unsigned i = 1; done < out_len && st == IKE_CRYPTO_OK; i++) {
		memcpy(buf, t, tlen);
		if (seed_len)
			memcpy(buf + tlen, seed, seed_len);
		buf[tlen + seed_len] = (uint8_t)i;
		st = ike_prf(prf, key, key_len, buf, tlen + seed_len + 1, t);
		tlen = hlen;
		size_t n = out_len - done < hlen ? out_len - done : hlen;
		memcpy(out + done, t, n);
		done += n;
	}
	OPENSSL_cleanse(buf, hlen + seed_len + 1);
	OPENSSL_cleanse(t, sizeof(t));
	free(buf);
	return st;
}

/* ==== IKE SA keys ============================================================================ */

void ike_sa_keys_wipe(struct ike_sa_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

/* Splits prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) into the keys (§2.14). */
static enum ike_crypto_status split_sa_keys(unsigned prf, unsigned encr_key_bits,
					    const struct ike_secret *skeyseed,
					    const uint8_t *ni, size_t ni_len,
					    const uint8_t *nr, size_t nr_len,
					    const uint8_t spi_i[8], const uint8_t spi_r[8],
					    struct ike_sa_keys *out)
{
	size_t hlen = ike_prf_len(prf), klen = encr_key_bits / 8, seed_len = ni_len + nr_len + 16;
	uint8_t km[3 * IKE_PRF_MAX + 2 * 36], *seed, *p = km;
	enum ike_crypto_status st;

	if (!ike_prf_supported(prf) && prf != IKE_PRF_HMAC_SHA1)
		return IKE_CRYPTO_BAD_PRF;
	if (klen != 16 && klen != 32)
		return IKE_CRYPTO_BAD_LENGTH;
	seed = malloc(seed_len);
	if (!seed)
		return IKE_CRYPTO_NOMEM;
	memcpy(seed, ni, ni_len);
	memcpy(seed + ni_len, nr, nr_len);
	memcpy(seed + ni_len + nr_len, spi_i, 8);
	memcpy(seed + ni_len + nr_len + 8, spi_r, 8);
	st = ike_prfplus(prf, skeyseed->b, skeyseed->len, seed, seed_len, km,
			 3 * hlen + 2 * (klen + 4));
	free(seed);
	if (st == IKE_CRYPTO_OK) {
		memset(out, 0, sizeof(*out));
		out->prf = prf;
		out->prf_len = hlen;
		memcpy(out->sk_d, p, hlen), p += hlen;
		/* SK_ai, SK_ar: empty with an AEAD cipher (RFC 5282 §7.1) */
		memcpy(out->sk_ei.key, p, klen), p += klen;
		memcpy(out->sk_ei.salt, p, 4), p += 4;
		memcpy(out->sk_er.key, p, klen), p += klen;
		memcpy(out->sk_er.salt, p, 4), p += 4;
		out->sk_ei.key_len = out->sk_er.key_len = (uint8_t)klen;
		memcpy(out->sk_pi, p, hlen), p += hlen;
		memcpy(out->sk_pr, p, hlen);
	}
	OPENSSL_cleanse(km, sizeof(km));
	return st;
}

enum ike_crypto_status ike_derive_sa_keys(unsigned prf, unsigned encr_key_bits,
					  const struct ike_secret *g_ir,
					  const uint8_t *ni, size_t ni_len,
					  const uint8_t *nr, size_t nr_len,
					  const uint8_t spi_i[8], const uint8_t spi_r[8],
					  struct ike_sa_keys *out, struct ike_secret *skeyseed_out)
{
	struct ike_secret skeyseed = { .len = 0 };
	uint8_t nonces[512];
	enum ike_crypto_status st;

	if (ni_len > 256 || nr_len > 256)
		return IKE_CRYPTO_BAD_LENGTH;
	memcpy(nonces, ni, ni_len);
	memcpy(nonces + ni_len, nr, nr_len);
	/* SKEYSEED = prf(Ni | Nr, g^ir) */
	st = ike_prf(prf, nonces, ni_len + nr_len, g_ir->b, g_ir->len, skeyseed.b);
	skeyseed.len = ike_prf_len(prf);
	if (st == IKE_CRYPTO_OK)
		st = split_sa_keys(prf, encr_key_bits, &skeyseed, ni, ni_len, nr, nr_len, spi_i,
				   spi_r, out);
	if (st == IKE_CRYPTO_OK && skeyseed_out)
		*skeyseed_out = skeyseed;
	ike_secret_wipe(&skeyseed);
	return st;
}

enum ike_crypto_status ike_derive_rekey_sa_keys(const struct ike_sa_keys *old,
						unsigned new_prf, unsigned encr_key_bits,
						const struct ike_secret *g_ir,
						const uint8_t *ni, size_t ni_len,
						const uint8_t *nr, size_t nr_len,
						const uint8_t spi_i[8], const uint8_t spi_r[8],
						struct ike_sa_keys *out,
						struct ike_secret *skeyseed_out)
{
	struct ike_secret skeyseed = { .len = 0 };
	size_t data_len = g_ir->len + ni_len + nr_len;
	uint8_t *data;
	enum ike_crypto_status st;

	if (ni_len > 256 || nr_len > 256 || g_ir->len > IKE_SECRET_MAX)
		return IKE_CRYPTO_BAD_LENGTH;
	data = malloc(data_len);
	if (!data)
		return IKE_CRYPTO_NOMEM;
	memcpy(data, g_ir->b, g_ir->len);
	memcpy(data + g_ir->len, ni, ni_len);
	memcpy(data + g_ir->len + ni_len, nr, nr_len);
	/* §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old SA's PRF */
	st = ike_prf(old->prf, old->sk_d, old->prf_len, data, data_len, skeyseed.b);
	skeyseed.len = ike_prf_len(old->prf);
	OPENSSL_cleanse(data, data_len);
	free(data);
	if (st == IKE_CRYPTO_OK)
		st = split_sa_keys(new_prf, encr_key_bits, &skeyseed, ni, ni_len, nr, nr_len,
				   spi_i, spi_r, out);
	if (st == IKE_CRYPTO_OK && skeyseed_out)
		*skeyseed_out = skeyseed;
	ike_secret_wipe(&skeyseed);
	return st;
}

/* ==== Child SA keys ========================================================================== */

void ike_child_keys_wipe(struct ike_child_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

enum ike_crypto_status ike_derive_child_keys(const struct ike_sa_keys *ike, unsigned key_bits,
					     const struct ike_secret *g_ir,
					     const uint8_t *ni, size_t ni_len,
					     const uint8_t *nr, size_t nr_len,
					     struct ike_child_keys *out)
{
	size_t klen = key_bits / 8, glen = g_ir ? g_ir->len : 0, seed_len;
	uint8_t seed[IKE_SECRET_MAX + 512], km[2 * 36];
	enum ike_crypto_status st;

	if ((klen != 16 && klen != 32) || ni_len > 256 || nr_len > 256 || glen > IKE_SECRET_MAX)
		return IKE_CRYPTO_BAD_LENGTH;
	/* KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr); i->r keys first (§2.17) */
	if (glen)
		memcpy(seed, g_ir->b, glen);
	memcpy(seed + glen, ni, ni_len);
	memcpy(seed + glen + ni_len, nr, nr_len);
	seed_len = glen + ni_len + nr_len;
	st = ike_prfplus(ike->prf, ike->sk_d, ike->prf_len, seed, seed_len, km, 2 * (klen + 4));
	if (st == IKE_CRYPTO_OK) {
		memset(out, 0, sizeof(*out));
		/* RFC 4106 §8.1: each direction's material is key | 4-octet salt */
		memcpy(out->i2r.key, km, klen);
		memcpy(out->i2r.salt, km + klen, 4);
		memcpy(out->r2i.key, km + klen + 4, klen);
		memcpy(out->r2i.salt, km + 2 * klen + 4, 4);
		out->i2r.key_len = out->r2i.key_len = (uint8_t)klen;
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(km, sizeof(km));
	return st;
}

enum ike_crypto_status ike_nonce(uint8_t *out, size_t len)
{
	if (len < 16 || len > 256)
		return IKE_CRYPTO_BAD_LENGTH;
	return RAND_bytes(out, (int)len) == 1 ? IKE_CRYPTO_OK : IKE_CRYPTO_FAIL;
}
