/* The fixed SAs of fuzz_esp_in and its seed writer (mkseeds_esp.c): 16 configurations, picked
 * by the low 4 bits of the input's first octet: bit 0 transport mode, bit 1 IPv6, bit 2 UDP
 * encapsulation, bit 3 ESN (with a 256-bit key). Side A sends, side B receives. */
#ifndef ESP_FUZZ_SA_H
#define ESP_FUZZ_SA_H

#include <netinet/in.h>
#include <string.h>

#include "kern_esp_int.h"

static inline struct kern_child_sa esp_fuzz_child(unsigned cfg, bool side_b)
{
	struct kern_child_sa sa;
	int af = cfg & 2 ? AF_INET6 : AF_INET;
	struct oe_addr a, b;

	memset(&sa, 0, sizeof(sa));
	oe_addr_parse(&a, af == AF_INET ? "192.0.2.1" : "2001:db8::1", af == AF_INET ? 9 : 11);
	oe_addr_parse(&b, af == AF_INET ? "198.51.100.2" : "2001:db8:1::2",
		      af == AF_INET ? 12 : 13);
	sa.encr = KERN_ESP_AES_GCM_16;
	sa.key_len = cfg & 8 ? 32 : 16;
	for (unsigned i = 0; i < KERN_ESP_KEY_MAX; i++) {
		sa.key_in[i] = (uint8_t)(side_b ? i + 100 : i);
		sa.key_out[i] = (uint8_t)(side_b ? i : i + 100);
	}
	memcpy(side_b ? sa.salt_out : sa.salt_in, "\x01\x02\x03\x04", 4);
	memcpy(side_b ? sa.salt_in : sa.salt_out, "\x05\x06\x07\x08", 4);
	sa.spi_in = side_b ? 0x1000 + cfg : 0x2000 + cfg;
	sa.spi_out = side_b ? 0x2000 + cfg : 0x1000 + cfg;
	sa.esn = cfg & 8;
	sa.mode = cfg & 1 ? KERN_MODE_TRANSPORT : KERN_MODE_TUNNEL;
	sa.encap = cfg & 4 ? KERN_ENCAP_UDP : KERN_ENCAP_NONE;
	sa.local = side_b ? b : a;
	sa.remote = side_b ? a : b;
	sa.sel.src = oe_prefix_host(&sa.local);
	sa.sel.dst = oe_prefix_host(&sa.remote);
	return sa;
}

/* An inner UDP packet A -> B (or of protocol proto) with payload p (n octets) at out. */
static inline size_t esp_fuzz_inner(const struct kern_child_sa *a, uint8_t proto, const uint8_t *p,
				    size_t n, uint8_t *out)
{
	size_t hl = a->local.af == AF_INET ? 20 : 40;

	memset(out, 0, hl);
	if (hl == 20) {
		out[0] = 0x45;
		esp_put16(out + 2, (uint16_t)(hl + n));
		out[8] = 64;
		out[9] = proto;
		memcpy(out + 12, a->local.b, 4);
		memcpy(out + 16, a->remote.b, 4);
		esp_put16(out + 10, esp_sum_fold(esp_sum_add(0, out, 20)));
	} else {
		out[0] = 0x60;
		esp_put16(out + 4, (uint16_t)n);
		out[6] = proto;
		out[7] = 64;
		memcpy(out + 8, a->local.b, 16);
		memcpy(out + 24, a->remote.b, 16);
	}
	memcpy(out + hl, p, n);
	return hl + n;
}

#endif
