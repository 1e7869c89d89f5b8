/* The bare crypto cost of one IKEv2 handshake side, measured through the engine's own crypto
 * calls (oe-agent/ike/ike_crypto_int.h): AUTH sign + AUTH verify with a host key type, and DH
 * keygen + derive. Header-only so every benchmark (tests/bench/ike_crypto.c, the handshake
 * benchmark) can print its ceiling from the same run. Timings are medians of batches. */
#ifndef IKE_CRYPTO_COST_H
#define IKE_CRYPTO_COST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ike/ike_crypto_int.h"

enum icc_key { ICC_RSA2048, ICC_RSA3072, ICC_ECDSA_P256, ICC_ED25519 };

struct icc_result {
	double sign_us, verify_us, keygen_us, derive_us;
	double side_us; /* sign + verify + keygen + derive: one responder's handshake */
};

static inline const char *icc_key_name(enum icc_key k)
{
	static const char *const n[] = { "RSA-2048", "RSA-3072", "ECDSA P-256", "Ed25519" };

	return n[k];
}

/* A new host key of that kind (caller frees). */
static inline EVP_PKEY *icc_key_new(enum icc_key k)
{
	switch (k) {
	case ICC_RSA2048: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case ICC_RSA3072: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	case ICC_ECDSA_P256: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case ICC_ED25519: return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	}
	return NULL;
}

static inline double icc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int icc_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

enum icc_op { ICC_SIGN, ICC_VERIFY, ICC_KEYGEN, ICC_DERIVE };

struct icc_ctx {
	EVP_PKEY *key;
	enum ike_sig_alg alg;
	unsigned group;
	uint8_t octets[400]; /* about an IKE_SA_INIT message + nonce + prf output */
	uint8_t method, *sig, peer_pub[256];
	size_t sig_len, pub_len;
	struct ike_dh *dh;
};

/* One operation; exits on failure, a benchmark of a broken path means nothing. */
static inline void icc_once(struct icc_ctx *c, enum icc_op op)
{
	uint8_t m, *d = NULL;
	size_t n;
	struct ike_dh *dh = NULL;
	struct ike_secret s;
	enum ike_crypto_status st = IKE_CRYPTO_OK;

	switch (op) {
	case ICC_SIGN:
		st = ike_auth_sign(c->key, c->alg, c->octets, sizeof(c->octets), &m, &d, &n);
		free(d);
		break;
	case ICC_VERIFY:
		st = ike_auth_verify(c->key, c->method, c->sig, c->sig_len, c->octets,
				     sizeof(c->octets), 0, NULL);
		break;
	case ICC_KEYGEN:
		st = ike_dh_new(c->group, &dh);
		ike_dh_free(dh);
		break;
	case ICC_DERIVE:
		st = ike_dh_derive(c->dh, c->peer_pub, c->pub_len, &s);
		ike_secret_wipe(&s);
		break;
	}
	if (st != IKE_CRYPTO_OK) {
		fprintf(stderr, "ike_crypto_cost: operation %d: %s\n", op, ike_crypto_strerror(st));
		exit(1);
	}
}

/* Median over 5 batches of the µs per operation; a batch runs for about batch_s seconds. */
static inline double icc_time(struct icc_ctx *c, enum icc_op op, double batch_s)
{
	double per[5];

	for (int b = 0; b < 5; b++) {
		double t0 = icc_now(), t;
		unsigned n = 0;

		do {
			icc_once(c, op);
			n++;
		} while ((t = icc_now()) - t0 < batch_s);
		per[b] = (t - t0) * 1e6 / n;
	}
	qsort(per, 5, sizeof(per[0]), icc_cmp);
	return per[2];
}

/* Measures one handshake side's crypto with a key kind and a DH group (IKE_DH_*). */
static inline int icc_measure(enum icc_key k, unsigned group, double batch_s,
			      struct icc_result *r)
{
	struct icc_ctx c;
	struct ike_dh *peer = NULL;

	memset(&c, 0, sizeof(c));
	memset(c.octets, 0x5c, sizeof(c.octets));
	c.group = group;
	c.key = icc_key_new(k);
	c.alg = c.key ? ike_sig_alg_for_key(c.key, IKE_HASH_BIT(IKE_HASH_SHA2_256) |
							   IKE_HASH_BIT(IKE_HASH_IDENTITY))
		      : IKE_SIG_NONE;
	if (!c.key || c.alg == IKE_SIG_NONE ||
	    ike_auth_sign(c.key, c.alg, c.octets, sizeof(c.octets), &c.method, &c.sig,
			  &c.sig_len) != IKE_CRYPTO_OK ||
	    ike_dh_new(group, &c.dh) != IKE_CRYPTO_OK || ike_dh_new(group, &peer) != IKE_CRYPTO_OK ||
	    ike_dh_public(peer, c.peer_pub, sizeof(c.peer_pub), &c.pub_len) != IKE_CRYPTO_OK) {
		EVP_PKEY_free(c.key);
		free(c.sig);
		ike_dh_free(c.dh);
		ike_dh_free(peer);
		return -1;
	}
	r->sign_us = icc_time(&c, ICC_SIGN, batch_s);
	r->verify_us = icc_time(&c, ICC_VERIFY, batch_s);
	r->keygen_us = icc_time(&c, ICC_KEYGEN, batch_s);
	r->derive_us = icc_time(&c, ICC_DERIVE, batch_s);
	r->side_us = r->sign_us + r->verify_us + r->keygen_us + r->derive_us;
	EVP_PKEY_free(c.key);
	free(c.sig);
	ike_dh_free(c.dh);
	ike_dh_free(peer);
	return 0;
}

#endif
