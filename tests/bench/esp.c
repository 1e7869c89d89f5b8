/* Benchmark of the userspace ESP transform (kernel/kern_esp*.c) on one core: kern_esp_encrypt
 * and kern_esp_decrypt (tunnel mode, IPv4, raw ESP, AES-128-GCM and AES-256-GCM) at 64- and
 * 1400-octet inner packets, next to a bare EVP AES-GCM loop doing the same per-packet work
 * (nonce, 8-octet AAD, payload with trailer, 16-octet tag) in the same run; prints packets/s,
 * Gbit/s of inner packets and the ratio to the bare loop. Median of 5 batches of BENCH_BATCH_S
 * (default 0.2) seconds. The receiver's replay window is reset between batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netinet/in.h>
#include <openssl/evp.h>

#include "kern_esp_int.h"

#define NPKT 1024

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct ctx {
	struct kern_esp_sa *a, *b;
	EVP_CIPHER_CTX *enc, *dec;
	uint8_t in[1500], out[NPKT][1600], back[1600], tag[16];
	size_t n, on[NPKT];
	int op; /* 0 uesp encrypt, 1 uesp decrypt, 2 bare encrypt, 3 bare decrypt */
};

/* One pass over NPKT packets; returns false on any failure. */
static bool pass(struct ctx *c)
{
	uint8_t nonce[12] = {1, 2, 3, 4}, aad[8] = {0xc0, 0xde};
	size_t pl = (c->n + 2 + 3) & ~(size_t)3, bn;
	int l;

	switch (c->op) {
	case 0:
		esp_sa_set_seq_out(c->a, 0);
		for (int i = 0; i < NPKT; i++)
			if (kern_esp_encrypt(c->a, c->in, c->n, c->out[i], sizeof(c->out[i]),
					     &c->on[i]))
				return false;
		return true;
	case 1:
		memset(&c->b->rw, 0, sizeof(c->b->rw));
		for (int i = 0; i < NPKT; i++)
			if (kern_esp_decrypt(c->b, c->out[i], c->on[i], c->back, sizeof(c->back),
					     &bn))
				return false;
		return true;
	case 2:
		for (int i = 0; i < NPKT; i++) {
			nonce[11] = (uint8_t)i;
			aad[7] = (uint8_t)i;
			if (EVP_EncryptInit_ex(c->enc, NULL, NULL, NULL, nonce) != 1 ||
			    EVP_EncryptUpdate(c->enc, NULL, &l, aad, 8) != 1 ||
			    EVP_EncryptUpdate(c->enc, c->back, &l, c->in, (int)pl) != 1 ||
			    EVP_EncryptFinal_ex(c->enc, c->back + pl, &l) != 1 ||
			    EVP_CIPHER_CTX_ctrl(c->enc, EVP_CTRL_GCM_GET_TAG, 16, c->tag) != 1)
				return false;
		}
		return true;
	default:
		for (int i = 0; i < NPKT; i++) {
			nonce[11] = (uint8_t)i;
			aad[7] = (uint8_t)i;
			/* the tag will not match: the work is the same, the result ignored */
			if (EVP_DecryptInit_ex(c->dec, NULL, NULL, NULL, nonce) != 1 ||
			    EVP_DecryptUpdate(c->dec, NULL, &l, aad, 8) != 1 ||
			    EVP_DecryptUpdate(c->dec, c->back, &l, c->in, (int)pl) != 1 ||
			    EVP_CIPHER_CTX_ctrl(c->dec, EVP_CTRL_GCM_SET_TAG, 16, c->tag) != 1)
				return false;
			EVP_DecryptFinal_ex(c->dec, c->back + pl, &l);
		}
		return true;
	}
}

/* Median packets/s over 5 batches of about batch seconds. */
static double measure(struct ctx *c, double batch)
{
	double r[5];

	for (int k = 0; k < 5; k++) {
		double t0 = now_s(), t;
		unsigned long pk = 0;

		do {
			if (!pass(c)) {
				fprintf(stderr, "op %d failed\n", c->op);
				exit(1);
			}
			pk += NPKT;
			t = now_s() - t0;
		} while (t < batch);
		r[k] = (double)pk / t;
	}
	qsort(r, 5, sizeof(r[0]), cmp_d);
	return r[2];
}

static void setup(struct ctx *c, unsigned key_len, size_t n)
{
	struct kern_child_sa sa;
	uint8_t key[32] = {7};

	memset(&sa, 0, sizeof(sa));
	sa.encr = KERN_ESP_AES_GCM_16;
	sa.key_len = (uint16_t)key_len;
	sa.spi_in = sa.spi_out = 0x1234;
	sa.mode = KERN_MODE_TUNNEL;
	oe_addr_parse(&sa.local, "192.0.2.1", 9);
	oe_addr_parse(&sa.remote, "192.0.2.2", 9);
	sa.sel.src = oe_prefix_any(AF_INET);
	sa.sel.dst = oe_prefix_any(AF_INET);
	if (kern_esp_sa_new(&sa, &c->a) || kern_esp_sa_new(&sa, &c->b))
		exit(1);
	c->enc = EVP_CIPHER_CTX_new();
	c->dec = EVP_CIPHER_CTX_new();
	EVP_EncryptInit_ex(c->enc, key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), NULL, key,
			   NULL);
	EVP_DecryptInit_ex(c->dec, key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), NULL, key,
			   NULL);
	/* an inner UDP packet 192.0.2.1 -> 192.0.2.2 of n octets */
	c->n = n;
	memset(c->in, 0x5a, n);
	c->in[0] = 0x45;
	esp_put16(c->in + 2, (uint16_t)n);
	memset(c->in + 4, 0, 6);
	c->in[8] = 64;
	c->in[9] = IPPROTO_UDP;
	memcpy(c->in + 12, sa.local.b, 4);
	memcpy(c->in + 16, sa.remote.b, 4);
	esp_put16(c->in + 10, 0);
	esp_put16(c->in + 10, esp_sum_fold(esp_sum_add(0, c->in, 20)));
	esp_put16(c->in + 24, (uint16_t)(n - 20));
	c->op = 0;
	if (!pass(c)) /* packets for the decrypt runs */
		exit(1);
}

static void teardown(struct ctx *c)
{
	kern_esp_sa_free(c->a);
	kern_esp_sa_free(c->b);
	EVP_CIPHER_CTX_free(c->enc);
	EVP_CIPHER_CTX_free(c->dec);
}

int main(void)
{
	static const size_t sizes[] = {64, 1400};
	static struct ctx c;
	const char *e = getenv("BENCH_BATCH_S");
	double batch = e ? atof(e) : 0.2;

	printf("uesp ESP transform, one core, median of 5 batches of %.2f s; Gbit/s of inner "
	       "packets;\nbare = EVP AES-GCM per packet with the same nonce/AAD/payload/tag work\n",
	       batch);
	printf("%-8s %6s %-8s %12s %8s %12s %8s %7s\n", "cipher", "bytes", "dir", "uesp pkt/s",
	       "Gbit/s", "bare pkt/s", "Gbit/s", "ratio");
	for (unsigned kl = 16; kl <= 32; kl += 16) {
		for (size_t s = 0; s < 2; s++) {
			setup(&c, kl, sizes[s]);
			for (int dir = 0; dir < 2; dir++) {
				double u, b;

				c.op = dir;
				u = measure(&c, batch);
				c.op = 2 + dir;
				b = measure(&c, batch);
				printf("%-8s %6zu %-8s %12.0f %8.2f %12.0f %8.2f %6.0f%%\n",
				       kl == 16 ? "AES-128" : "AES-256", sizes[s],
				       dir ? "decrypt" : "encrypt", u,
				       u * (double)sizes[s] * 8 / 1e9, b,
				       b * (double)sizes[s] * 8 / 1e9, 100 * u / b);
			}
			teardown(&c);
		}
	}
	return 0;
}
