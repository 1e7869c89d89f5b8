/* Internals of the userspace ESP transform (uesp): the SA context, the anti-replay window and
 * the AEAD seal/open of one ESP payload. Shared by kern_esp*.c and the unit tests, which need
 * the explicit-IV seal for the published known-answer vectors. */
#ifndef KERN_ESP_INT_H
#define KERN_ESP_INT_H

#include "kernel.h"

#include <openssl/evp.h>

#define ESP_HDR_LEN	8  /* SPI + sequence number (RFC 4303 §2) */
#define ESP_IV_LEN	8  /* RFC 4106 §3.1 */
#define ESP_ICV_LEN	16 /* AES-GCM-16 */
#define ESP_TRAILER_LEN 2  /* pad length + next header */
#define ESP_UDP_LEN	8  /* RFC 3948 §2.1 */
#define ESP_NAT_T_PORT	4500

/* RFC 4303 §3.4.3 and Appendix A: a bitmap of the last ESP_REPLAY_BITS sequence numbers
 * below and including the highest one seen (top). Bit (seq % ESP_REPLAY_BITS) is seq. */
#define ESP_REPLAY_BITS KERN_ESP_REPLAY_WINDOW
struct esp_replay {
	uint64_t top; /* highest authenticated sequence number; 0 = none yet */
	uint64_t bits[ESP_REPLAY_BITS / 64];
};

struct kern_esp_sa {
	EVP_CIPHER_CTX *enc, *dec; /* key set once; only the IV per packet */
	uint8_t salt_out[KERN_ESP_SALT_LEN], salt_in[KERN_ESP_SALT_LEN];
	uint32_t spi_in, spi_out;
	uint64_t seq_out; /* last sequence number sent; 0 = none */
	bool esn;
	enum kern_mode mode;
	enum kern_encap encap;
	uint16_t sport, dport;
	struct oe_addr local, remote;
	struct oe_sel sel;
	struct esp_replay rw;
	struct kern_esp_stats st;
};

/* Sequence number of a received low half seql (RFC 4303 Appendix A2.2 for ESN; the value
 * itself without ESN). */
uint64_t esp_replay_infer(const struct esp_replay *w, bool esn, uint32_t seql);
/* Pure check: OK, REPLAY (seen) or TOO_OLD (left of the window). 0 is never valid. */
enum kern_esp_status esp_replay_check(const struct esp_replay *w, uint64_t seq);
/* Records seq as received; call only after its ICV verified (RFC 4303 §3.4.3). */
void esp_replay_update(struct esp_replay *w, uint64_t seq);

/* Seals an ESP packet at out: header, the given IV, payload pt (n bytes) padded with the
 * RFC 4303 §2.4 monotonic bytes to 4 octets, trailer with next header nh, ICV. Returns the
 * length, or 0 if cap is too small or the cipher failed. */
size_t esp_seal(struct kern_esp_sa *e, uint64_t seq, const uint8_t iv[static ESP_IV_LEN],
		const uint8_t *pt, size_t n, uint8_t nh, uint8_t *out, size_t cap);
/* Opens the ESP packet p (n bytes, from the SPI to the ICV) whose full sequence number is
 * seq: decrypts into out (cap >= n) and checks the ICV and padding; *pt_len and *nh get
 * the payload length and next header. Does not touch the replay window. */
enum kern_esp_status esp_open(struct kern_esp_sa *e, uint64_t seq, const uint8_t *p, size_t n,
			      uint8_t *out, size_t cap, size_t *pt_len, uint8_t *nh);

/* Test seam: the last sequence number sent, so overflow can be reached. */
void esp_sa_set_seq_out(struct kern_esp_sa *e, uint64_t seq);

/* Internet checksum helpers (RFC 1071). */
static inline uint32_t esp_sum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static inline uint16_t esp_sum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline void esp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void esp_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t esp_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
