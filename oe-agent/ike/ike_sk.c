/* SK payload protection with ENCR_AES_GCM_16 (RFC 5282 in IKEv2 per RFC 7296 §3.14): nonce =
 * 4-octet salt from the key material | 8-octet explicit IV, AAD = IKE header + SK generic
 * header, 16-octet ICV. ike_msg.c lays the bytes out; this file only runs the cipher. */
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ike_codec_int.h"

void ike_sk_key_wipe(struct ike_sk_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static const EVP_CIPHER *gcm(const struct ike_sk_key *k)
{
	if (k->key_len == 16)
		return EVP_aes_128_gcm();
	if (k->key_len == 32)
		return EVP_aes_256_gcm();
	return NULL;
}

/* RFC 5282 §4: the 12-octet GCM nonce is salt | IV. */
static EVP_CIPHER_CTX *gcm_ctx(const struct ike_sk_key *k, const uint8_t iv[8], int enc)
{
	const EVP_CIPHER *cipher = gcm(k);
	EVP_CIPHER_CTX *ctx;
	uint8_t nonce[12];

	if (!cipher || !(ctx = EVP_CIPHER_CTX_new()))
		return NULL;
	memcpy(nonce, k->salt, 4);
	memcpy(nonce + 4, iv, 8);
	if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, k->key, nonce, enc) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

enum ike_codec_status ike_sk_seal(const struct ike_sk_key *k, const uint8_t iv[8],
				  const uint8_t *aad, size_t aad_len, uint8_t *buf, size_t len,
				  uint8_t icv[16])
{
	enum ike_codec_status st = IKE_CODEC_CRYPTO;
	EVP_CIPHER_CTX *ctx = gcm_ctx(k, iv, 1);
	int n;

	if (!ctx || len > INT32_MAX || aad_len > INT32_MAX)
		goto out;
	if (EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_EncryptUpdate(ctx, buf, &n, buf, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, buf + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, IKE_SK_ICV_LEN, icv) != 1)
		goto out;
	st = IKE_CODEC_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return st;
}

enum ike_codec_status ike_sk_open(const struct ike_sk_key *k, const uint8_t iv[8],
				  const uint8_t *aad, size_t aad_len, const uint8_t *ct,
				  size_t len, const uint8_t icv[16], uint8_t *out)
{
	enum ike_codec_status st = IKE_CODEC_CRYPTO;
	EVP_CIPHER_CTX *ctx = gcm_ctx(k, iv, 0);
	uint8_t tag[IKE_SK_ICV_LEN];
	int n;

	if (!ctx || len > INT32_MAX || aad_len > INT32_MAX)
		goto out;
	memcpy(tag, icv, sizeof(tag));
	if (EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, ct, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, IKE_SK_ICV_LEN, tag) != 1)
		goto out;
	/* The tag is checked here; on failure the plaintext must not be used. */
	st = EVP_DecryptFinal_ex(ctx, out + n, &n) == 1 ? IKE_CODEC_OK : IKE_CODEC_SK_AUTH;
	if (st != IKE_CODEC_OK)
		OPENSSL_cleanse(out, len);
out:
	EVP_CIPHER_CTX_free(ctx);
	return st;
}
