/* Writes the seed corpus of fuzz_esp_in: for each of the 16 SAs of esp_fuzz_sa.h, real outer
 * packets made by kern_esp_encrypt (case 0), an IKE and a keepalive datagram on 4500, a valid
 * ESP plaintext with its trailer (case 1) and inner payloads for the round trips (cases 2, 3).
 * Run from the top directory:
 *   make build/libkern.a build/liboe.a &&
 *   cc -D_GNU_SOURCE -Ilib -Ikernel -Ipolicy-groups -Itests/fuzz -o build/mkseeds_esp \
 *      tests/fuzz/mkseeds_esp.c build/libkern.a build/liboe.a -lcrypto &&
 *   build/mkseeds_esp tests/fuzz/corpus/esp_in */
#include <stdio.h>
#include <stdlib.h>

#include "esp_fuzz_sa.h"

static void put(const char *dir, const char *name, unsigned cfg, uint8_t mode, const uint8_t *p,
		size_t n)
{
	char path[512];
	FILE *f;
	uint8_t b = (uint8_t)(mode << 4 | cfg);

	snprintf(path, sizeof(path), "%s/%s_%02u", dir, name, cfg);
	f = fopen(path, "wb");
	if (!f || fwrite(&b, 1, 1, f) != 1 || fwrite(p, 1, n, f) != n || fclose(f))
		exit(1);
}

int main(int argc, char **argv)
{
	static uint8_t in[2048], out[4096];
	static const uint8_t udp_payload[] = "\x9c\x40\x00\x07\x00\x10\x00\x00hello, peer";

	if (argc != 2)
		return 2;
	for (unsigned cfg = 0; cfg < 16; cfg++) {
		struct kern_child_sa a = esp_fuzz_child(cfg, false);
		struct kern_esp_sa *e;
		size_t n, on, hl = a.local.af == AF_INET ? 20 : 40;

		if (kern_esp_sa_new(&a, &e))
			return 1;
		n = esp_fuzz_inner(&a, IPPROTO_UDP, udp_payload, sizeof(udp_payload) - 1, in);
		if (kern_esp_encrypt(e, in, n, out, sizeof(out), &on))
			return 1;
		put(argv[1], "esp", cfg, 0, out, on);
		if (a.encap == KERN_ENCAP_UDP) {
			/* the same datagram with the non-ESP marker: IKE, not ours */
			memset(out + hl + 8, 0, 4);
			put(argv[1], "ike", cfg, 0, out, on);
		}
		/* case 1: the inner packet (tunnel) or its payload (transport), padding, trailer */
		{
			uint8_t pt[2048];
			size_t m = a.mode == KERN_MODE_TUNNEL ? n : n - hl,
			       pad = (4 - (m + 2) % 4) % 4;

			memcpy(pt, a.mode == KERN_MODE_TUNNEL ? in : in + hl, m);
			for (size_t i = 0; i < pad; i++)
				pt[m + i] = (uint8_t)(i + 1);
			pt[m + pad] = (uint8_t)pad;
			pt[m + pad + 1] =
			    a.mode == KERN_MODE_TUNNEL ? (hl == 20 ? 4 : 41) : IPPROTO_UDP;
			put(argv[1], "plain", cfg, 1, pt, m + pad + 2);
		}
		/* cases 2 and 3: protocol, payload (3: MTU 1280 first) */
		out[0] = IPPROTO_UDP;
		memcpy(out + 1, udp_payload, sizeof(udp_payload) - 1);
		put(argv[1], "trip", cfg, 2, out, sizeof(udp_payload));
		out[0] = 0x05;
		out[1] = 0x00;
		out[2] = IPPROTO_UDP;
		esp_put16(out + 7, 1400);
		memset(out + 11, 0x5a, 1392);
		put(argv[1], "mtu", cfg, 3, out, 3 + 1400);
		kern_esp_sa_free(e);
	}
	return 0;
}
