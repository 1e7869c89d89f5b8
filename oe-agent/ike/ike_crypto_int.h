/* IKEv2 crypto on libcrypto (internal to oe-agent/ike/): Diffie-Hellman groups 31, 19, 14 with
 * the RFC 6989 peer checks done by us, the PRFs and prf+ (RFC 7296 §2.13), SKEYSEED and the IKE
 * SA keys (§2.14, §2.18), Child SA KEYMAT (§2.17), nonces, and AUTH (ike_authcalc.c): signed
 * octets (§2.15), RFC 7427 digital signatures, RSA method 1, NULL auth (RFC 7619).
 * Functions return enum ike_crypto_status; secrets live in fixed-size structs wiped by us. */
#ifndef IKE_CRYPTO_INT_H
#define IKE_CRYPTO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ike_codec_int.h"

enum ike_crypto_status {
	IKE_CRYPTO_OK = 0,
	IKE_CRYPTO_NOMEM,
	IKE_CRYPTO_FAIL,          /* libcrypto failed (not the peer's fault) */
	IKE_CRYPTO_BAD_GROUP,     /* DH group not one of 14, 19, 31 */
	IKE_CRYPTO_BAD_PRF,       /* PRF not HMAC-SHA2-256/512 */
	IKE_CRYPTO_BAD_LENGTH,    /* peer's public value / key length / output length wrong */
	IKE_CRYPTO_BAD_PUBLIC,    /* peer's public value fails RFC 6989 (range, curve, all-zero) */
	IKE_CRYPTO_BAD_KEY,       /* key type cannot do this signature algorithm */
	IKE_CRYPTO_BAD_AUTH_DATA, /* AUTH data malformed (RFC 7427 ASN.1 prefix unknown...) */
	IKE_CRYPTO_SIG_ALG,       /* signature algorithm not acceptable for the key / policy */
	IKE_CRYPTO_AUTH_FAILED,   /* signature or MAC does not verify */
};
const char *ike_crypto_strerror(enum ike_crypto_status st);

/* ==== secrets ================================================================================ */

#define IKE_SECRET_MAX 256 /* the largest: a MODP-2048 shared secret */
#define IKE_PRF_MAX 64     /* HMAC-SHA2-512 output */

/* A secret of up to IKE_SECRET_MAX octets. Wipe with ike_secret_wipe(). */
struct ike_secret {
	uint8_t b[IKE_SECRET_MAX];
	size_t len;
};
void ike_secret_wipe(struct ike_secret *s);

/* ==== Diffie-Hellman =========================================================================
 * Public values on the wire (RFC 7296 §3.4): group 14 the 256-octet big-endian y padded with
 * zeros; group 19 x || y, 32 octets each (RFC 5903 §7, no 0x04 prefix); group 31 the 32-octet
 * RFC 7748 u-coordinate (RFC 8031). */

/* Length of a group's public value (256, 64, 32), 0 for an unsupported group. */
size_t ike_dh_pub_len(unsigned group);
bool ike_dh_supported(unsigned group);

struct ike_dh; /* our ephemeral private key and its group; opaque */

/* Generates a fresh key pair. *out: new, free with ike_dh_free(). */
enum ike_crypto_status ike_dh_new(unsigned group, struct ike_dh **out);
/* From a fixed private value (tests: RFC 7748/5903 vectors). priv is the raw scalar / exponent
 * in big-endian (MODP, P-256) or the 32-octet RFC 7748 string (X25519). */
enum ike_crypto_status ike_dh_new_private(unsigned group, const uint8_t *priv, size_t len,
					  struct ike_dh **out);
void ike_dh_free(struct ike_dh *dh); /* wipes; accepts NULL */
unsigned ike_dh_group(const struct ike_dh *dh);
/* Our public value in wire form; *len = ike_dh_pub_len(group). */
enum ike_crypto_status ike_dh_public(const struct ike_dh *dh, uint8_t *out, size_t cap,
				     size_t *len);
/* g^ir from the peer's wire public value, after RFC 6989 checks done here (MODP: 1 < y < p-1,
 * §2.1; P-256: point on the curve, §2.3; X25519: all-zero result refused, RFC 7748 §6.1).
 * libcrypto's own full validation is skipped (EVP_PKEY_derive_set_peer_ex(ctx, peer, 0)):
 * see PERF.md, it costs an extra exponentiation. Shared secret: MODP 256 octets left-padded,
 * P-256 the x coordinate (RFC 5903 §7), X25519 32 octets. */
enum ike_crypto_status ike_dh_derive(const struct ike_dh *dh, const uint8_t *peer, size_t len,
				     struct ike_secret *shared);

/* ==== PRF and prf+ ===========================================================================
 * prf is a transform ID: IKE_PRF_HMAC_SHA2_256 or IKE_PRF_HMAC_SHA2_512. */

bool ike_prf_supported(unsigned prf);
/* Output (and preferred key) length: 32 or 64; 0 if unsupported. */
size_t ike_prf_len(unsigned prf);
/* out (ike_prf_len() octets) = HMAC(key, data). */
enum ike_crypto_status ike_prf(unsigned prf, const uint8_t *key, size_t key_len,
			       const uint8_t *data, size_t data_len, uint8_t *out);
/* prf+ (§2.13): T1 | T2 | ... with Tn = prf(K, Tn-1 | S | n); out_len <= 255 * prf length. */
enum ike_crypto_status ike_prfplus(unsigned prf, const uint8_t *key, size_t key_len,
				   const uint8_t *seed, size_t seed_len, uint8_t *out,
				   size_t out_len);

/* ==== IKE SA keys (§2.14) ==================================================================== */

/* Everything an IKE SA keeps. With the AEAD cipher (AES-GCM-16) SK_ai/SK_ar are empty (RFC
 * 5282 §7.1), so they are not stored. prf is the negotiated PRF; SK_d/pi/pr are prf-length. */
struct ike_sa_keys {
	unsigned prf;
	size_t prf_len;
	uint8_t sk_d[IKE_PRF_MAX];
	uint8_t sk_pi[IKE_PRF_MAX];
	uint8_t sk_pr[IKE_PRF_MAX];
	struct ike_sk_key sk_ei; /* protects initiator -> responder */
	struct ike_sk_key sk_er; /* protects responder -> initiator */
};
void ike_sa_keys_wipe(struct ike_sa_keys *k);

/* SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
 * prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). encr_key_bits: 128 or 256 (AES-GCM-16; each SK_e is
 * key + 4 octets of salt). For HMAC PRFs the nonce concatenation is used whole as the key
 * (§2.14: the PRFs we support take variable-length keys). skeyseed_out may be NULL (tests). */
enum ike_crypto_status ike_derive_sa_keys(unsigned prf, unsigned encr_key_bits,
					  const struct ike_secret *g_ir,
					  const uint8_t *ni, size_t ni_len,
					  const uint8_t *nr, size_t nr_len,
					  const uint8_t spi_i[8], const uint8_t spi_r[8],
					  struct ike_sa_keys *out, struct ike_secret *skeyseed_out);

/* Rekeyed IKE SA (§2.18): SKEYSEED = prf_old(SK_d (old), g^ir (new) | Ni | Nr), then the keys
 * as in §2.14 with the new SA's PRF, new nonces and new SPIs. */
enum ike_crypto_status ike_derive_rekey_sa_keys(const struct ike_sa_keys *old,
						unsigned new_prf, unsigned encr_key_bits,
						const struct ike_secret *g_ir,
						const uint8_t *ni, size_t ni_len,
						const uint8_t *nr, size_t nr_len,
						const uint8_t spi_i[8], const uint8_t spi_r[8],
						struct ike_sa_keys *out,
						struct ike_secret *skeyseed_out);

/* ==== Child SA keys (§2.17) ================================================================== */

/* One direction of an ESP SA with AES-GCM-16: key + 4-octet salt (RFC 4106 §8.1). */
struct ike_esp_key {
	uint8_t key[32];
	uint8_t salt[4];
	uint8_t key_len; /* 16 or 32 */
};

struct ike_child_keys {
	struct ike_esp_key i2r; /* initiator -> responder: taken first from KEYMAT */
	struct ike_esp_key r2i;
};
void ike_child_keys_wipe(struct ike_child_keys *k);

/* KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr); g_ir NULL without PFS. "Initiator" and "Nonces"
 * are those of the CREATE_CHILD_SA / IKE_AUTH exchange that made the Child SA. */
enum ike_crypto_status ike_derive_child_keys(const struct ike_sa_keys *ike, unsigned key_bits,
					     const struct ike_secret *g_ir,
					     const uint8_t *ni, size_t ni_len,
					     const uint8_t *nr, size_t nr_len,
					     struct ike_child_keys *out);

/* ==== nonces ================================================================================= */

#define IKE_NONCE_LEN 32 /* §2.10: at least half the PRF key size, >= 16; 32 for SHA2-256 */
/* RAND_bytes; len 16..256. */
enum ike_crypto_status ike_nonce(uint8_t *out, size_t len);

/* ==== AUTH (ike_authcalc.c) ================================================================== */

/* What signs/verifies. Method 14 carries the algorithm in its ASN.1 prefix (RFC 7427 §3). */
enum ike_sig_alg {
	IKE_SIG_NONE = 0,
	IKE_SIG_RSA_PKCS1_SHA1,   /* method 1: RSASSA-PKCS1-v1_5 with SHA-1 (RFC 7296 §3.8 as
				   * implemented by Libreswan and strongSwan) */
	IKE_SIG_RSA_PSS_SHA256,   /* method 14, salt = hash length, MGF1 with the same hash */
	IKE_SIG_RSA_PSS_SHA512,
	IKE_SIG_ECDSA_SHA256,     /* method 14, ecdsa-with-SHA256 on P-256 (DER signature) */
	IKE_SIG_ED25519,          /* method 14, RFC 8420 (hash "Identity") */
	IKE_SIG_RSA_PKCS1_SHA256, /* method 14, sha256WithRSAEncryption: verified (strongSwan's
				   * default without rsa_pss), never made by us */
	IKE_SIG_RSA_PKCS1_SHA512, /* method 14, sha512WithRSAEncryption: verified only */
};
const char *ike_sig_alg_name(enum ike_sig_alg alg);

/* SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4, RFC 8420 for Identity): a bit set of these IDs. */
#define IKE_HASH_SHA1 1
#define IKE_HASH_SHA2_256 2
#define IKE_HASH_SHA2_384 3
#define IKE_HASH_SHA2_512 4
#define IKE_HASH_IDENTITY 5
#define IKE_HASH_BIT(id) (1u << (id))
/* Our notify data: SHA2-256, SHA2-512, Identity (2 octets each); returns its length. */
size_t ike_sighash_notify_data(uint8_t *out, size_t cap);
/* The set named by a peer's notify data; unknown IDs ignored. False if the length is odd. */
bool ike_sighash_notify_parse(const uint8_t *data, size_t len, unsigned *mask);

/* The algorithm we sign with for our key: RSA -> PSS-SHA256 when the peer announced SHA2-256
 * (peer_hashes from its notify; 0 = none received), else PSS-SHA512 when it announced that,
 * else method 1; P-256 -> ECDSA-SHA256;
 * Ed25519 -> Ed25519 (needs Identity from the peer, RFC 8420 §2). IKE_SIG_NONE: no match. */
enum ike_sig_alg ike_sig_alg_for_key(EVP_PKEY *key, unsigned peer_hashes);

/* The octets an AUTH covers (§2.15): for the initiator InitiatorSignedOctets = RealMessage1 |
 * NonceRData | prf(SK_pi, IDi'), for the responder RealMessage2 | NonceIData | prf(SK_pr, IDr').
 * msg: our whole IKE_SA_INIT message as sent; nonce: the OTHER side's nonce data; sk_p: SK_pi
 * for the initiator's AUTH, SK_pr for the responder's; id: that side's ID payload. *out is new
 * (malloc), caller frees; its length is msg_len + nonce_len + prf_len. */
enum ike_crypto_status ike_auth_octets(unsigned prf, const uint8_t *sk_p, size_t sk_p_len,
				       const uint8_t *msg, size_t msg_len,
				       const uint8_t *nonce, size_t nonce_len,
				       const struct ike_id_pl *id, uint8_t **out, size_t *out_len);

/* AUTH payload data for our signature over octets: method 1 = the bare PKCS#1 signature;
 * method 14 = ASN.1 length octet | AlgorithmIdentifier | signature (RFC 7427 §3). key is
 * borrowed (our host key). *method is set; *data is new (malloc), caller frees. */
enum ike_crypto_status ike_auth_sign(EVP_PKEY *key, enum ike_sig_alg alg,
				     const uint8_t *octets, size_t octets_len,
				     uint8_t *method, uint8_t **data, size_t *data_len);

/* Verifies a peer's AUTH (method 1 or 14) with its public key (borrowed, from dnskeys).
 * allowed: mask of (1u << enum ike_sig_alg) we accept, 0 = all ours; *alg_out (may be NULL) is
 * the algorithm found. IKE_CRYPTO_AUTH_FAILED: send AUTHENTICATION_FAILED. */
enum ike_crypto_status ike_auth_verify(EVP_PKEY *peer, uint8_t method, const uint8_t *data,
				       size_t data_len, const uint8_t *octets,
				       size_t octets_len, unsigned allowed,
				       enum ike_sig_alg *alg_out);

/* Shared-key MIC (§2.15): AUTH = prf(prf(key, "Key Pad for IKEv2"), octets). NULL auth (RFC
 * 7619 §3, as Libreswan implements it) uses it with SK_pi (initiator) / SK_pr (responder) as
 * the key: pass that side's sk_p. out: ike_prf_len(prf) octets. */
enum ike_crypto_status ike_auth_null(unsigned prf, const uint8_t *sk_p, size_t sk_p_len,
				     const uint8_t *octets, size_t octets_len, uint8_t *out);
/* Checks received NULL-auth data in constant time. */
enum ike_crypto_status ike_auth_null_verify(unsigned prf, const uint8_t *sk_p,
					    size_t sk_p_len, const uint8_t *octets,
					    size_t octets_len, const uint8_t *data,
					    size_t data_len);

#endif
