/* libFuzzer harness for the uesp inbound path (kernel/kern_esp_pkt.c) with fixed SAs
 * (esp_fuzz_sa.h). Octet 0: low 4 bits pick the SA, bits 4-5 the case:
 *   0  the rest is an outer packet from the network: kern_esp_peek_spi + kern_esp_decrypt;
 *   1  the rest is an ESP plaintext (payload, padding, trailer) the harness seals with the
 *      peer's key, so padding, next header, unwrap and selectors see arbitrary bytes;
 *   2  round trip: octet 1 is a protocol, the rest an inner payload; A -> B must give it back;
 *   3  as 2, then the MTU decision, ICMP too-big and fragmenter at an MTU from octets 1-2.
 * Property: no crash, leak or sanitizer report; round trips are exact. */
#include <stdlib.h>

#include "esp_fuzz_sa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kern_child_sa sa_a[16], sa_b[16];
static struct kern_esp_sa *ea[16], *eb[16];
static uint8_t pkt[70000], out[70000], inner[70000];

static void setup(void)
{
	if (ea[0])
		return;
	for (unsigned i = 0; i < 16; i++) {
		sa_a[i] = esp_fuzz_child(i, false);
		sa_b[i] = esp_fuzz_child(i, true);
		if (kern_esp_sa_new(&sa_a[i], &ea[i]) || kern_esp_sa_new(&sa_b[i], &eb[i]))
			abort();
	}
}

/* Seals plaintext p (trailer included) as ESP sequence number 1 from A, in an outer packet. */
static size_t seal_raw(unsigned cfg, const uint8_t *p, size_t n)
{
	const struct kern_child_sa *a = &sa_a[cfg];
	size_t hl = a->local.af == AF_INET ? 20 : 40, udp = a->encap ? 8 : 0;
	uint8_t nonce[12] = {0}, aad[12] = {0}, *esp;
	EVP_CIPHER_CTX *x;
	size_t len = hl + udp + 16 + n + 16;
	int l;

	if (len > 65535)
		return 0;
	esp_fuzz_inner(a, udp ? IPPROTO_UDP : IPPROTO_ESP, p, 0, pkt);
	if (hl == 20) {
		esp_put16(pkt + 2, (uint16_t)len);
		esp_put16(pkt + 10, 0);
		esp_put16(pkt + 10, esp_sum_fold(esp_sum_add(0, pkt, 20)));
	} else {
		esp_put16(pkt + 4, (uint16_t)(len - 40));
	}
	if (udp) {
		memset(pkt + hl, 0, 8);
		esp_put16(pkt + hl, 4500);
		esp_put16(pkt + hl + 2, 4500);
		esp_put16(pkt + hl + 4, (uint16_t)(len - hl));
	}
	esp = pkt + hl + udp;
	esp_put32(esp, a->spi_out);
	esp_put32(esp + 4, 1);
	memset(esp + 8, 0, 8);
	esp[15] = 1;
	memcpy(nonce, a->salt_out, 4);
	memcpy(nonce + 4, esp + 8, 8);
	esp_put32(aad, a->spi_out);
	esp_put32(aad + (a->esn ? 8 : 4), 1);
	x = EVP_CIPHER_CTX_new();
	if (!x)
		abort();
	EVP_EncryptInit_ex(x, a->key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), NULL,
			   a->key_out, nonce);
	EVP_EncryptUpdate(x, NULL, &l, aad, a->esn ? 12 : 8);
	EVP_EncryptUpdate(x, esp + 16, &l, p, (int)n);
	EVP_EncryptFinal_ex(x, esp + 16 + n, &l);
	EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, esp + 16 + n);
	EVP_CIPHER_CTX_free(x);
	return len;
}

static void count_frag(void *arg, const uint8_t *f, size_t len)
{
	size_t *total = arg;

	(void)f;
	*total += len;
}

static void mtu_case(unsigned cfg, const uint8_t *in, size_t n, const uint8_t *outer, size_t on,
		     unsigned pmtu)
{
	unsigned imtu = 0;
	size_t total = 0;
	int r;

	switch (kern_esp_mtu_check(ea[cfg], in, n, pmtu, &imtu)) {
	case KERN_ESP_MTU_FITS:
		if (on > pmtu)
			abort();
		break;
	case KERN_ESP_MTU_ICMP:
		if (on <= pmtu || imtu > pmtu || !kern_esp_icmp_too_big(in, n, imtu, pkt, 1280))
			abort();
		break;
	case KERN_ESP_MTU_FRAGMENT:
		r = kern_esp_fragment(outer, on, pmtu, 7, count_frag, &total);
		if (r > 0 && total < on)
			abort();
		break;
	}
}

static void round_trip(unsigned cfg, bool mtu, const uint8_t *d, size_t size)
{
	size_t n, on = 0, bn = 0;
	unsigned pmtu = 0;

	if (size < 3)
		return;
	if (mtu) {
		pmtu = (unsigned)(d[1] << 8 | d[2]);
		d += 2;
		size -= 2;
	}
	if (size - 1 > 65535 - 40 - KERN_ESP_OVERHEAD_MAX)
		return;
	n = esp_fuzz_inner(&sa_a[cfg], d[0], d + 1, size - 1, inner);
	if (kern_esp_encrypt(ea[cfg], inner, n, pkt, sizeof(pkt), &on) != KERN_ESP_OK)
		return; /* inner not acceptable (e.g. IPv6 extension header in transport mode) */
	if (mtu) {
		static uint8_t copy[70000];

		memcpy(copy, pkt, on);
		mtu_case(cfg, inner, n, copy, on, pmtu);
		memcpy(pkt, copy, on);
	}
	enum kern_esp_status st = kern_esp_decrypt(eb[cfg], pkt, on, out, sizeof(out), &bn);
	/* what the inner parser rejects (odd protocols, short headers) is dropped as INNER */
	if (st == KERN_ESP_INNER || st == KERN_ESP_NEXT_HDR)
		return;
	if (st != KERN_ESP_OK || bn != n || memcmp(out, inner, n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned cfg, mode;
	size_t n, bn;
	uint32_t spi;

	if (size < 1)
		return 0;
	setup();
	cfg = data[0] & 15;
	mode = data[0] >> 4 & 3;
	/* every input starts from fresh sequence state so runs are reproducible */
	memset(&eb[cfg]->rw, 0, sizeof(eb[cfg]->rw));
	esp_sa_set_seq_out(ea[cfg], 0);
	switch (mode) {
	case 0:
		kern_esp_peek_spi(data + 1, size - 1, &spi);
		kern_esp_decrypt(eb[cfg], data + 1, size - 1, out, sizeof(out), &bn);
		kern_esp_decrypt(eb[cfg], data + 1, size - 1, out, 40, &bn);
		break;
	case 1:
		n = seal_raw(cfg, data + 1, size - 1);
		if (n)
			kern_esp_decrypt(eb[cfg], pkt, n, out, sizeof(out), &bn);
		break;
	default:
		round_trip(cfg, mode == 3, data, size);
		break;
	}
	return 0;
}
