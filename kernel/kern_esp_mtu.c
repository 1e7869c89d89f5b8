/* uesp and the path MTU: whether an inner packet still fits once encapsulated, the ICMP
 * "fragmentation needed" / ICMPv6 "packet too big" error that tells a local sender the MTU
 * left after the ESP overhead, and the fragmenter for outer packets that may be fragmented. */
#include "kern_esp_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define V4_HDR	    20
#define V6_HDR	    40
#define V6_FRAG_HDR 8
#define V6_MIN_MTU  1280 /* RFC 8200 §5 */
#define V4_MIN_MTU  68	 /* RFC 791 */

/* Bytes in front of and around the ESP payload: outer header (tunnel), UDP, ESP header, IV,
 * trailer, ICV; padding comes on top (payload + trailer rounded up to 4). */
static size_t outer_len(const struct kern_esp_sa *e, size_t ihl, size_t n)
{
	size_t hdr = e->mode == KERN_MODE_TUNNEL ? (e->local.af == AF_INET ? V4_HDR : V6_HDR) : ihl;
	size_t payload = e->mode == KERN_MODE_TUNNEL ? n : n - ihl;
	size_t udp = e->encap == KERN_ENCAP_UDP ? ESP_UDP_LEN : 0;

	return hdr + udp + ESP_HDR_LEN + ESP_IV_LEN +
	       ((payload + ESP_TRAILER_LEN + 3) & ~(size_t)3) + ESP_ICV_LEN;
}

/* RFC 1122 §3.2.2 / RFC 4443 §2.4 (e): no ICMP error is sent about an ICMP error. */
static bool icmp_error(const uint8_t *in, size_t n, bool v4, size_t ihl)
{
	if (n <= ihl)
		return false;
	if (v4)
		return in[9] == IPPROTO_ICMP && (in[ihl] == 3 || in[ihl] == 4 || in[ihl] == 5 ||
						 in[ihl] == 11 || in[ihl] == 12);
	return in[6] == IPPROTO_ICMPV6 && in[ihl] < 128;
}

enum kern_esp_mtu_action kern_esp_mtu_check(const struct kern_esp_sa *e, const uint8_t *in,
					    size_t n, unsigned pmtu, unsigned *inner_mtu)
{
	size_t ihl, fixed, avail;
	bool v4, df;

	*inner_mtu = 0;
	/* only the IP header matters here; kern_esp_encrypt rejects what has none */
	v4 = n >= V4_HDR && in[0] >> 4 == 4;
	ihl = v4 ? (size_t)(in[0] & 15) * 4 : V6_HDR;
	if ((v4 && (ihl < V4_HDR || ihl > n)) || (!v4 && (n < V6_HDR || in[0] >> 4 != 6)))
		return KERN_ESP_MTU_FRAGMENT;
	df = v4 ? (in[6] & 0x40) != 0 : true;
	/* the largest inner packet m with outer_len(m) <= pmtu: the payload plus trailer must
	 * fit the room left, rounded down to the 4-octet alignment */
	fixed = outer_len(e, ihl, e->mode == KERN_MODE_TUNNEL ? 0 : ihl) -
		((ESP_TRAILER_LEN + 3) & ~(size_t)3);
	avail = pmtu > fixed ? (pmtu - fixed) & ~(size_t)3 : 0;
	if (avail > ESP_TRAILER_LEN)
		*inner_mtu =
		    (unsigned)(avail - ESP_TRAILER_LEN + (e->mode == KERN_MODE_TUNNEL ? 0 : ihl));
	if (outer_len(e, ihl, n) <= pmtu)
		return KERN_ESP_MTU_FITS;
	/* RFC 4301 §8.2.1 / RFC 1191: a DF packet (or any IPv6 one: only the source fragments)
	 * is refused with the MTU it should use; below the protocol minimum that cannot be
	 * reported, so the outer packet is fragmented instead (so are ICMP errors) */
	if (df && !icmp_error(in, n, v4, ihl) && *inner_mtu >= (v4 ? V4_MIN_MTU : V6_MIN_MTU))
		return KERN_ESP_MTU_ICMP;
	return KERN_ESP_MTU_FRAGMENT;
}

size_t kern_esp_icmp_too_big(const uint8_t *pkt, size_t n, unsigned mtu, uint8_t *out, size_t cap)
{
	return kern_icmp_build_too_big(pkt, n, mtu, out, cap); /* kern_icmp.c builds ICMP errors */
}

/* RFC 791 §3.2: every fragment but the last carries a multiple of 8 data octets; the
 * header (options included, which our outer packets never have) is repeated. */
static int frag_v4(const uint8_t *pkt, size_t n, unsigned mtu, uint16_t id, uint8_t *f,
		   void (*emit)(void *arg, const uint8_t *frag, size_t len), void *arg)
{
	size_t hl = (size_t)(pkt[0] & 15) * 4, tot = esp_get16(pkt + 2), chunk, off = 0;
	uint16_t frag = esp_get16(pkt + 6);
	int count = 0;

	if (hl < V4_HDR || tot < hl || tot > n || (frag & 0x4000) || mtu < hl + 8)
		return -EINVAL;
	chunk = (mtu - hl) & ~(size_t)7;
	while (off < tot - hl || count == 0) {
		size_t d = tot - hl - off < chunk ? tot - hl - off : chunk;
		bool last = off + d == tot - hl;
		size_t fo = (frag & 0x1fff) + off / 8;

		if (fo > 0x1fff)
			return -EMSGSIZE;
		memcpy(f, pkt, hl);
		memcpy(f + hl, pkt + hl + off, d);
		esp_put16(f + 2, (uint16_t)(hl + d));
		esp_put16(f + 4, id);
		esp_put16(f + 6, (uint16_t)(fo | (last ? (frag & 0x2000) : 0x2000)));
		esp_put16(f + 10, 0);
		esp_put16(f + 10, esp_sum_fold(esp_sum_add(0, f, hl)));
		emit(arg, f, hl + d);
		count++;
		off += d;
	}
	return count;
}

/* RFC 8200 §4.5: the fixed header is the unfragmentable part (our outer packets carry no
 * extension headers); each fragment adds a Fragment header naming the original next header. */
static int frag_v6(const uint8_t *pkt, size_t n, unsigned mtu, uint32_t id, uint8_t *f,
		   void (*emit)(void *arg, const uint8_t *frag, size_t len), void *arg)
{
	size_t plen = esp_get16(pkt + 4), chunk, off = 0;
	int count = 0;

	if (V6_HDR + plen > n || mtu < V6_MIN_MTU || pkt[6] == 0 || pkt[6] == 43 || pkt[6] == 44)
		return -EINVAL;
	chunk = (mtu - V6_HDR - V6_FRAG_HDR) & ~(size_t)7;
	while (off < plen || count == 0) {
		size_t d = plen - off < chunk ? plen - off : chunk;
		bool last = off + d == plen;

		memcpy(f, pkt, V6_HDR);
		f[6] = 44;
		esp_put16(f + 4, (uint16_t)(V6_FRAG_HDR + d));
		f[V6_HDR] = pkt[6];
		f[V6_HDR + 1] = 0;
		esp_put16(f + V6_HDR + 2, (uint16_t)(off | (last ? 0 : 1)));
		esp_put32(f + V6_HDR + 4, id);
		memcpy(f + V6_HDR + V6_FRAG_HDR, pkt + V6_HDR + off, d);
		emit(arg, f, V6_HDR + V6_FRAG_HDR + d);
		count++;
		off += d;
	}
	return count;
}

int kern_esp_fragment(const uint8_t *pkt, size_t n, unsigned mtu, uint32_t id,
		      void (*emit)(void *arg, const uint8_t *frag, size_t len), void *arg)
{
	uint8_t *f;
	int rc = -EINVAL;

	if (mtu > 65535)
		mtu = 65535;
	f = malloc(mtu);
	if (!f)
		return -ENOMEM;
	if (n >= V4_HDR && pkt[0] >> 4 == 4)
		rc = frag_v4(pkt, n, mtu, (uint16_t)id, f, emit, arg);
	else if (n >= V6_HDR && pkt[0] >> 4 == 6)
		rc = frag_v6(pkt, n, mtu, id, f, emit, arg);
	free(f);
	return rc;
}
