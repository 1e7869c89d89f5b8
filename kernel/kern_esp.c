/* The userspace ESP transform (uesp) of DESIGN.md §4: RFC 4303 ESP with AES-GCM-16 (RFC
 * 4106) on whole IP packets, tunnel or transport mode, raw or UDP-encapsulated (RFC 3948).
 * One EVP context per direction keyed once at SA creation; per packet only the nonce changes
 * (the per-call setup cost dominates small packets, PERF.md). */
#include "kern_esp_int.h"
#include "oe_cursor.h"

#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[KERN_ESP_NSTATUS] = {
    [KERN_ESP_OK] = "ok",
    [KERN_ESP_TRUNCATED] = "truncated packet",
    [KERN_ESP_NOT_ESP] = "not ESP",
    [KERN_ESP_OUTER] = "unsupported outer header",
    [KERN_ESP_SPI] = "unknown SPI",
    [KERN_ESP_REPLAY] = "replayed sequence number",
    [KERN_ESP_TOO_OLD] = "sequence number outside the replay window",
    [KERN_ESP_ICV] = "integrity check failed",
    [KERN_ESP_PADDING] = "bad padding",
    [KERN_ESP_NEXT_HDR] = "next header does not fit the mode",
    [KERN_ESP_INNER] = "malformed inner packet",
    [KERN_ESP_SELECTOR] = "inner packet outside the SA's selectors",
    [KERN_ESP_SEQ_OVERFLOW] = "sequence number overflow, rekey needed",
    [KERN_ESP_NOSPACE] = "output buffer too small",
    [KERN_ESP_CRYPTO] = "libcrypto failure",
};

const char *kern_esp_strerror(enum kern_esp_status s)
{
	if ((unsigned)s >= KERN_ESP_NSTATUS)
		return "unknown ESP status";
	return status_names[s];
}

static EVP_CIPHER_CTX *ctx_new(const uint8_t *key, size_t key_len, bool enc)
{
	const EVP_CIPHER *c = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();

	if (!x)
		return NULL;
	if (EVP_CipherInit_ex(x, c, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_CipherInit_ex(x, NULL, NULL, key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(x);
		return NULL;
	}
	return x;
}

int kern_esp_sa_new(const struct kern_child_sa *sa, struct kern_esp_sa **out)
{
	struct kern_esp_sa *e;
	int rc = -ENOMEM;

	*out = NULL;
	if (sa->encr != KERN_ESP_AES_GCM_16 || (sa->key_len != 16 && sa->key_len != 32) ||
	    (sa->local.af != AF_INET && sa->local.af != AF_INET6) || sa->remote.af != sa->local.af)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->enc = ctx_new(sa->key_out, sa->key_len, true);
	e->dec = ctx_new(sa->key_in, sa->key_len, false);
	if (!e->enc || !e->dec)
		goto out;
	memcpy(e->salt_out, sa->salt_out, sizeof(e->salt_out));
	memcpy(e->salt_in, sa->salt_in, sizeof(e->salt_in));
	e->spi_in = sa->spi_in;
	e->spi_out = sa->spi_out;
	e->esn = sa->esn;
	e->mode = sa->mode;
	e->encap = sa->encap;
	e->sport = sa->encap_sport ? sa->encap_sport : ESP_NAT_T_PORT;
	e->dport = sa->encap_dport ? sa->encap_dport : ESP_NAT_T_PORT;
	e->local = sa->local;
	e->remote = sa->remote;
	e->sel = sa->sel;
	*out = e;
	e = NULL;
	rc = 0;
out:
	kern_esp_sa_free(e);
	return rc;
}

void kern_esp_sa_free(struct kern_esp_sa *e)
{
	if (!e)
		return;
	EVP_CIPHER_CTX_free(e->enc); /* clears the expanded key */
	EVP_CIPHER_CTX_free(e->dec);
	OPENSSL_cleanse(e, sizeof(*e)); /* salts */
	free(e);
}

void kern_esp_stats_get(const struct kern_esp_sa *e, struct kern_esp_stats *out)
{
	*out = e->st;
}

void esp_sa_set_seq_out(struct kern_esp_sa *e, uint64_t seq)
{
	e->seq_out = seq;
}

/* RFC 4106 §5: the AAD is SPI + 32-bit sequence number, or SPI + the 64-bit extended one
 * (high half first) with ESN; the high half is never sent (RFC 4303 §2.2.1). */
static size_t make_aad(uint8_t aad[static 12], uint32_t spi, uint64_t seq, bool esn)
{
	esp_put32(aad, spi);
	if (!esn) {
		esp_put32(aad + 4, (uint32_t)seq);
		return 8;
	}
	esp_put32(aad + 4, (uint32_t)(seq >> 32));
	esp_put32(aad + 8, (uint32_t)seq);
	return 12;
}

/*  0                   1                   2                   3
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |               Security Parameters Index (SPI)                 |
 *  |                      Sequence Number                          |
 *  |                IV (8 octets, RFC 4106 §3.1)                   |
 *  ~        Payload, Padding (0-255), Pad Length, Next Header      ~ encrypted
 *  |                      ICV (16 octets)                          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  RFC 4303 §2 */
size_t esp_seal(struct kern_esp_sa *e, uint64_t seq, const uint8_t iv[static ESP_IV_LEN],
		const uint8_t *pt, size_t n, uint8_t nh, uint8_t *out, size_t cap)
{
	size_t pad = (4 - (n + ESP_TRAILER_LEN) % 4) % 4, ct = n + pad + ESP_TRAILER_LEN;
	uint8_t nonce[12], aad[12], *body = out + ESP_HDR_LEN + ESP_IV_LEN;
	size_t aad_len;
	int l;

	if (n > cap || cap - n < ESP_HDR_LEN + ESP_IV_LEN + pad + ESP_TRAILER_LEN + ESP_ICV_LEN ||
	    ct > INT32_MAX)
		return 0;
	memmove(body, pt, n);
	for (size_t i = 0; i < pad; i++) /* RFC 4303 §2.4: 1, 2, 3, ... */
		body[n + i] = (uint8_t)(i + 1);
	body[n + pad] = (uint8_t)pad;
	body[n + pad + 1] = nh;
	esp_put32(out, e->spi_out);
	esp_put32(out + 4, (uint32_t)seq);
	memcpy(out + ESP_HDR_LEN, iv, ESP_IV_LEN);
	memcpy(nonce, e->salt_out, 4);
	memcpy(nonce + 4, iv, ESP_IV_LEN);
	aad_len = make_aad(aad, e->spi_out, seq, e->esn);
	if (EVP_EncryptInit_ex(e->enc, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(e->enc, NULL, &l, aad, (int)aad_len) != 1 ||
	    EVP_EncryptUpdate(e->enc, body, &l, body, (int)ct) != 1 ||
	    EVP_EncryptFinal_ex(e->enc, body + ct, &l) != 1 ||
	    EVP_CIPHER_CTX_ctrl(e->enc, EVP_CTRL_GCM_GET_TAG, ESP_ICV_LEN, body + ct) != 1)
		return 0;
	return ESP_HDR_LEN + ESP_IV_LEN + ct + ESP_ICV_LEN;
}

enum kern_esp_status esp_open(struct kern_esp_sa *e, uint64_t seq, const uint8_t *p, size_t n,
			      uint8_t *out, size_t cap, size_t *pt_len, uint8_t *nh)
{
	uint8_t nonce[12], aad[12], tag[ESP_ICV_LEN];
	size_t aad_len, ct, pad;
	int l;

	if (n < ESP_HDR_LEN + ESP_IV_LEN + ESP_TRAILER_LEN + ESP_ICV_LEN)
		return KERN_ESP_TRUNCATED;
	ct = n - ESP_HDR_LEN - ESP_IV_LEN - ESP_ICV_LEN;
	if (ct > cap || ct > INT32_MAX)
		return KERN_ESP_NOSPACE;
	memcpy(nonce, e->salt_in, 4);
	memcpy(nonce + 4, p + ESP_HDR_LEN, ESP_IV_LEN);
	memcpy(tag, p + n - ESP_ICV_LEN, ESP_ICV_LEN);
	aad_len = make_aad(aad, e->spi_in, seq, e->esn);
	if (EVP_DecryptInit_ex(e->dec, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(e->dec, NULL, &l, aad, (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(e->dec, out, &l, p + ESP_HDR_LEN + ESP_IV_LEN, (int)ct) != 1 ||
	    EVP_CIPHER_CTX_ctrl(e->dec, EVP_CTRL_GCM_SET_TAG, ESP_ICV_LEN, tag) != 1)
		return KERN_ESP_CRYPTO;
	if (EVP_DecryptFinal_ex(e->dec, out + ct, &l) != 1)
		return KERN_ESP_ICV;
	/* only authenticated bytes from here: RFC 4303 §2.4 padding, which we check */
	pad = out[ct - 2];
	if (pad > ct - ESP_TRAILER_LEN)
		return KERN_ESP_PADDING;
	for (size_t i = 0; i < pad; i++)
		if (out[ct - ESP_TRAILER_LEN - pad + i] != (uint8_t)(i + 1))
			return KERN_ESP_PADDING;
	*pt_len = ct - ESP_TRAILER_LEN - pad;
	*nh = out[ct - 1];
	return KERN_ESP_OK;
}
