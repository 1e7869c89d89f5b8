/* uesp packet layer: wraps inner IP packets into outer ESP packets (tunnel: new outer header;
 * transport: ESP after the original IP header) with optional RFC 3948 UDP encapsulation, and
 * the reverse for inbound packets, which are parsed through a checked cursor before any
 * decryption. The ESP payload itself is sealed/opened by kern_esp.c. */
#include "kern_esp_int.h"
#include "oe_cursor.h"

#include <netinet/in.h>
#include <string.h>

#define V4_HDR 20
#define V6_HDR 40

/* IPv6 extension headers we do not walk (RFC 8200 §4): transport-mode ESP would have to go
 * after them, and outer packets with them are not ours. */
static bool v6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 || nh == 135 || nh == 139 ||
	       nh == 140;
}

/* Length of the IP header of an inner packet that must be exactly n bytes, or 0. */
static size_t inner_hdr(const uint8_t *p, size_t n)
{
	if (n >= V4_HDR && p[0] >> 4 == 4) {
		size_t hl = (size_t)(p[0] & 15) * 4;

		return hl >= V4_HDR && hl <= n && esp_get16(p + 2) == n ? hl : 0;
	}
	if (n >= V6_HDR && p[0] >> 4 == 6 && esp_get16(p + 4) == n - V6_HDR)
		return V6_HDR;
	return 0;
}

static void v4_csum(uint8_t *h, size_t hl)
{
	esp_put16(h + 10, 0);
	esp_put16(h + 10, esp_sum_fold(esp_sum_add(0, h, hl)));
}

/* The outer IP header of a tunnel packet (RFC 4301 §5.1.2.1): our address to the peer's,
 * DSCP and ECN copied from the inner packet (RFC 6040 normal mode), DF from an IPv4 inner. */
static size_t tunnel_hdr(const struct kern_esp_sa *e, const uint8_t *in, uint64_t seq,
			 uint8_t proto, size_t total, uint8_t *out)
{
	uint8_t tos = in[0] >> 4 == 4 ? in[1] : (uint8_t)((in[0] & 15) << 4 | in[1] >> 4);

	if (e->local.af == AF_INET) {
		memset(out, 0, V4_HDR);
		out[0] = 0x45;
		out[1] = tos;
		esp_put16(out + 2, (uint16_t)total);
		esp_put16(out + 4, (uint16_t)seq); /* unique across 2^16 packets for reassembly */
		if (in[0] >> 4 == 4)
			out[6] = in[6] & 0x40;
		out[8] = 64;
		out[9] = proto;
		memcpy(out + 12, e->local.b, 4);
		memcpy(out + 16, e->remote.b, 4);
		v4_csum(out, V4_HDR);
		return V4_HDR;
	}
	memset(out, 0, V6_HDR);
	out[0] = (uint8_t)(0x60 | tos >> 4);
	out[1] = (uint8_t)(tos << 4);
	esp_put16(out + 4, (uint16_t)(total - V6_HDR));
	out[6] = proto;
	out[7] = 64;
	memcpy(out + 8, e->local.b, 16);
	memcpy(out + 24, e->remote.b, 16);
	return V6_HDR;
}

/* RFC 3948 §2.1: UDP header before the SPI; checksum 0 over IPv4 (§3.1.1), computed over
 * IPv6 where a zero checksum is not allowed (RFC 8200 §8.1). */
static void udp_hdr(const struct kern_esp_sa *e, uint8_t *ip, size_t hl, size_t total)
{
	uint8_t *u = ip + hl;
	size_t ulen = total - hl;

	esp_put16(u, e->sport);
	esp_put16(u + 2, e->dport);
	esp_put16(u + 4, (uint16_t)ulen);
	esp_put16(u + 6, 0);
	if (ip[0] >> 4 == 6) {
		uint32_t s = esp_sum_add(0, ip + 8, 32) + (uint32_t)ulen + IPPROTO_UDP;
		uint16_t c = esp_sum_fold(esp_sum_add(s, u, ulen));

		esp_put16(u + 6, c ? c : 0xffff);
	}
}

enum kern_esp_status kern_esp_encrypt(struct kern_esp_sa *e, const uint8_t *in, size_t n,
				      uint8_t *out, size_t cap, size_t *out_len)
{
	size_t ihl = inner_hdr(in, n), ohl, udp = e->encap == KERN_ENCAP_UDP ? ESP_UDP_LEN : 0;
	size_t esp_len, total;
	enum kern_esp_status st = KERN_ESP_OK;
	uint8_t iv[ESP_IV_LEN], nh, proto = udp ? IPPROTO_UDP : IPPROTO_ESP;
	uint64_t seq = e->seq_out + 1;

	if (!ihl) {
		st = KERN_ESP_INNER;
		goto out;
	}
	/* RFC 4303 §3.3.3: the counter never cycles; the SA must be rekeyed first */
	if ((!e->esn && e->seq_out >= UINT32_MAX) || (e->esn && e->seq_out == UINT64_MAX)) {
		st = KERN_ESP_SEQ_OVERFLOW;
		goto out;
	}
	/* RFC 4303 §3.3.2: transport mode applies to whole datagrams only */
	if (e->mode == KERN_MODE_TRANSPORT &&
	    (in[0] >> 4 == 6 ? v6_ext(in[6]) : (esp_get16(in + 6) & 0x3fff) != 0)) {
		st = KERN_ESP_INNER;
		goto out;
	}
	ohl = e->mode == KERN_MODE_TUNNEL ? (e->local.af == AF_INET ? V4_HDR : V6_HDR) : ihl;
	if (cap < ohl + udp || n + KERN_ESP_OVERHEAD_MAX > cap ||
	    n > 65535 - KERN_ESP_OVERHEAD_MAX) {
		st = KERN_ESP_NOSPACE;
		goto out;
	}
	/* RFC 4106 §3.1: the IV must never repeat under a key; the sequence number does not */
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(seq >> (56 - 8 * i));
	if (e->mode == KERN_MODE_TUNNEL) {
		nh = in[0] >> 4 == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
		esp_len = esp_seal(e, seq, iv, in, n, nh, out + ohl + udp, cap - ohl - udp);
	} else {
		nh = in[0] >> 4 == 4 ? in[9] : in[6];
		esp_len =
		    esp_seal(e, seq, iv, in + ihl, n - ihl, nh, out + ohl + udp, cap - ohl - udp);
	}
	if (!esp_len) {
		st = KERN_ESP_CRYPTO;
		goto out;
	}
	total = ohl + udp + esp_len;
	if (e->mode == KERN_MODE_TUNNEL) {
		tunnel_hdr(e, in, seq, proto, total, out);
	} else if (in[0] >> 4 == 4) {
		memcpy(out, in, ihl);
		out[9] = proto;
		esp_put16(out + 2, (uint16_t)total);
		v4_csum(out, ihl);
	} else {
		memcpy(out, in, V6_HDR);
		out[6] = proto;
		esp_put16(out + 4, (uint16_t)(total - V6_HDR));
	}
	if (udp)
		udp_hdr(e, out, ohl, total);
	e->seq_out = seq;
	e->st.packets_out++;
	e->st.bytes_out += n;
	*out_len = total;
out:
	if (st != KERN_ESP_OK)
		e->st.drops[st]++;
	return st;
}

/* Where the ESP packet starts in an outer packet: its offset and length, the outer header
 * length, and whether it came in UDP (then *dport is the UDP destination port). */
struct outer {
	size_t hl, esp_off, esp_len;
	bool udp;
	uint16_t dport;
};

static enum kern_esp_status parse_outer(const uint8_t *pkt, size_t n, struct outer *o)
{
	struct oe_cur c = oe_cur_make(pkt, n), ip;
	uint8_t vhl, proto;
	uint16_t tot, frag;

	if (!oe_cur_u8(&c, &vhl))
		return KERN_ESP_TRUNCATED;
	c = oe_cur_make(pkt, n);
	if (vhl >> 4 == 4) {
		o->hl = (size_t)(vhl & 15) * 4;
		if (o->hl < V4_HDR)
			return KERN_ESP_OUTER;
		if (!oe_cur_skip(&c, 2) || !oe_cur_u16(&c, &tot) || !oe_cur_skip(&c, 2) ||
		    !oe_cur_u16(&c, &frag) || !oe_cur_skip(&c, 1) || !oe_cur_u8(&c, &proto))
			return KERN_ESP_TRUNCATED;
		if (tot < o->hl)
			return KERN_ESP_OUTER;
		if (frag & 0x3fff) /* MF or an offset: the kernel reassembles before us */
			return KERN_ESP_OUTER;
	} else if (vhl >> 4 == 6) {
		o->hl = V6_HDR;
		if (!oe_cur_skip(&c, 4) || !oe_cur_u16(&c, &tot) || !oe_cur_u8(&c, &proto))
			return KERN_ESP_TRUNCATED;
		if (tot > 65535 - V6_HDR)
			return KERN_ESP_OUTER;
		tot = (uint16_t)(tot + V6_HDR);
		if (v6_ext(proto) && proto != 51)
			return KERN_ESP_OUTER;
	} else {
		return KERN_ESP_OUTER;
	}
	/* the IP packet as its header says; what follows it in the buffer is ignored */
	c = oe_cur_make(pkt, n);
	if (!oe_cur_sub(&c, tot, &ip) || !oe_cur_skip(&ip, o->hl))
		return KERN_ESP_TRUNCATED;
	o->udp = proto == IPPROTO_UDP;
	if (proto == IPPROTO_UDP) {
		/* RFC 3948 §2.2: UDP header, then 4 zero octets (IKE) or the SPI (never 0) */
		struct oe_cur u;
		uint16_t sport, ulen;

		if (!oe_cur_u16(&ip, &sport) || !oe_cur_u16(&ip, &o->dport) ||
		    !oe_cur_u16(&ip, &ulen) || !oe_cur_skip(&ip, 2))
			return KERN_ESP_TRUNCATED;
		if (ulen < ESP_UDP_LEN || !oe_cur_sub(&ip, ulen - ESP_UDP_LEN, &u))
			return KERN_ESP_TRUNCATED;
		if (u.len == 1 && u.p[0] == 0xff) /* NAT keepalive (RFC 3948 §2.3) */
			return KERN_ESP_NOT_ESP;
		if (u.len >= 4 && !(u.p[0] | u.p[1] | u.p[2] | u.p[3]))
			return KERN_ESP_NOT_ESP; /* non-ESP marker: IKE */
		ip = u;
	} else if (proto != IPPROTO_ESP) {
		return KERN_ESP_NOT_ESP;
	}
	if (ip.len < ESP_HDR_LEN)
		return KERN_ESP_TRUNCATED;
	o->esp_off = (size_t)(ip.p - pkt);
	o->esp_len = ip.len;
	return KERN_ESP_OK;
}

enum kern_esp_status kern_esp_peek_spi(const uint8_t *pkt, size_t n, uint32_t *spi)
{
	struct outer o;
	enum kern_esp_status st = parse_outer(pkt, n, &o);
	struct oe_cur c;

	if (st != KERN_ESP_OK)
		return st;
	c = oe_cur_make(pkt + o.esp_off, o.esp_len);
	return oe_cur_u32(&c, spi) ? KERN_ESP_OK : KERN_ESP_TRUNCATED;
}

static bool port_ok(uint16_t want, uint16_t got)
{
	return !want || want == got;
}

/* RFC 4301 §5.2 step 4: the decrypted packet must match the SA's selectors, seen from the
 * other side (its source is the peer's end, sel.dst). */
static enum kern_esp_status check_inner(const struct kern_esp_sa *e, const uint8_t *p, size_t n)
{
	struct kern_pkt k;

	if (kern_pkt_parse(p, n, &k) != KERN_PKT_OK || k.ip_len != n)
		return KERN_ESP_INNER;
	if (k.src.af != e->sel.dst.addr.af || !oe_prefix_contains(&e->sel.dst, &k.src) ||
	    !oe_prefix_contains(&e->sel.src, &k.dst))
		return KERN_ESP_SELECTOR;
	if (e->sel.proto && (e->sel.proto != k.proto || !port_ok(e->sel.dport, k.sport) ||
			     !port_ok(e->sel.sport, k.dport)))
		return KERN_ESP_SELECTOR;
	return KERN_ESP_OK;
}

/* After the ICV verified: the inner packet from the payload (tunnel), or the original packet
 * rebuilt around it (transport: the outer header with the ESP's next header and lengths). */
static enum kern_esp_status unwrap(const struct kern_esp_sa *e, const uint8_t *pkt,
				   const struct outer *o, uint8_t *out, size_t pt_len, uint8_t nh,
				   size_t *out_len)
{
	if (e->mode == KERN_MODE_TUNNEL) {
		if ((nh != IPPROTO_IPIP || pt_len < 1 || out[0] >> 4 != 4) &&
		    (nh != IPPROTO_IPV6 || pt_len < 1 || out[0] >> 4 != 6))
			return KERN_ESP_NEXT_HDR;
		*out_len = pt_len;
		return KERN_ESP_OK;
	}
	if (nh == IPPROTO_IPIP || nh == IPPROTO_IPV6 || nh == 59 /* no next header: dummy */)
		return KERN_ESP_NEXT_HDR;
	memcpy(out, pkt, o->hl);
	*out_len = o->hl + pt_len;
	if (pkt[0] >> 4 == 4) {
		out[9] = nh;
		esp_put16(out + 2, (uint16_t)*out_len);
		v4_csum(out, o->hl);
	} else {
		out[6] = nh;
		esp_put16(out + 4, (uint16_t)(pt_len));
	}
	return KERN_ESP_OK;
}

enum kern_esp_status kern_esp_decrypt(struct kern_esp_sa *e, const uint8_t *pkt, size_t n,
				      uint8_t *out, size_t cap, size_t *out_len)
{
	struct outer o;
	enum kern_esp_status st;
	const uint8_t *esp;
	uint32_t spi, seql;
	uint64_t seq;
	size_t pt_len, room;
	uint8_t nh;

	st = parse_outer(pkt, n, &o);
	if (st != KERN_ESP_OK)
		goto out;
	esp = pkt + o.esp_off;
	spi = (uint32_t)esp_get16(esp) << 16 | esp_get16(esp + 2);
	seql = (uint32_t)esp_get16(esp + 4) << 16 | esp_get16(esp + 6);
	if (spi != e->spi_in || (o.udp && (e->encap != KERN_ENCAP_UDP || o.dport != e->sport))) {
		st = KERN_ESP_SPI;
		goto out;
	}
	/* RFC 4303 §3.4.3: reject replays before spending the decryption on them */
	seq = esp_replay_infer(&e->rw, e->esn, seql);
	st = esp_replay_check(&e->rw, seq);
	if (st != KERN_ESP_OK)
		goto out;
	room = e->mode == KERN_MODE_TRANSPORT ? o.hl : 0;
	if (cap < room) {
		st = KERN_ESP_NOSPACE;
		goto out;
	}
	st = esp_open(e, seq, esp, o.esp_len, out + room, cap - room, &pt_len, &nh);
	if (st != KERN_ESP_OK)
		goto out;
	esp_replay_update(&e->rw, seq); /* authentic: the window moves even if dropped below */
	st = unwrap(e, pkt, &o, out, pt_len, nh, out_len);
	if (st == KERN_ESP_OK)
		st = check_inner(e, out, *out_len);
	if (st != KERN_ESP_OK)
		goto out;
	e->st.packets_in++;
	e->st.bytes_in += *out_len;
out:
	if (st != KERN_ESP_OK)
		e->st.drops[st]++;
	return st;
}
