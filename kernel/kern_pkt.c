/* Packet headers of trapped packets: IPv4 / IPv6 (with extension headers) and the ports of
 * TCP, UDP, UDP-Lite and SCTP, read through the checked cursor. The bytes come from NFQUEUE,
 * i.e. from any local process: every field is untrusted. Pure, fuzzed by fuzz_pkt. */
#include "kernel.h"

#include <netinet/in.h>

#include "oe_cursor.h"

static const char *const pkt_err[KERN_PKT_NSTATUS] = {
	[KERN_PKT_OK] = "ok",
	[KERN_PKT_TRUNCATED] = "truncated header",
	[KERN_PKT_VERSION] = "not IPv4 or IPv6",
	[KERN_PKT_HDRLEN] = "bad IPv4 header length",
	[KERN_PKT_TOTLEN] = "total length shorter than the header",
	[KERN_PKT_EXTHDR] = "malformed IPv6 extension header",
};

const char *kern_pkt_strerror(enum kern_pkt_status s)
{
	return (unsigned)s < KERN_PKT_NSTATUS ? pkt_err[s] : "?";
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP;
}

/* All four carry source and destination port in their first 4 octets (RFC 9293 §3.1,
 * RFC 768, RFC 3828 §3, RFC 9260 §3.1). */
static enum kern_pkt_status parse_ports(struct oe_cur *c, struct kern_pkt *out,
				       const uint8_t *start)
{
	out->l4_off = (uint16_t)(c->p - start);
	if (!has_ports(out->proto))
		return KERN_PKT_OK;
	if (!oe_cur_u16(c, &out->sport) || !oe_cur_u16(c, &out->dport))
		return KERN_PKT_TRUNCATED;
	return KERN_PKT_OK;
}

/*  RFC 791 §3.1:
 *   0                   1                   2                   3
 *  |Version|  IHL  |Type of Service|          Total Length         |
 *  |         Identification        |Flags|      Fragment Offset    |
 *  |  Time to Live |    Protocol   |         Header Checksum       |
 *  |                       Source Address                          |
 *  |                    Destination Address                        |
 *  |                    Options (IHL > 5)                          | */
static enum kern_pkt_status parse_v4(struct oe_cur *c, struct kern_pkt *out,
				    const uint8_t *start)
{
	uint8_t vihl, tos, ttl;
	uint16_t id, frag, sum;
	size_t hl;

	if (!oe_cur_u8(c, &vihl) || !oe_cur_u8(c, &tos) || !oe_cur_u16(c, &out->ip_len) ||
	    !oe_cur_u16(c, &id) || !oe_cur_u16(c, &frag) || !oe_cur_u8(c, &ttl) ||
	    !oe_cur_u8(c, &out->proto) || !oe_cur_u16(c, &sum))
		return KERN_PKT_TRUNCATED;
	hl = (size_t)(vihl & 0x0f) * 4;
	if (hl < 20)
		return KERN_PKT_HDRLEN;
	if (out->ip_len < hl)
		return KERN_PKT_TOTLEN;
	out->src.af = out->dst.af = AF_INET;
	if (!oe_cur_bytes(c, out->src.b, 4) || !oe_cur_bytes(c, out->dst.b, 4) ||
	    !oe_cur_skip(c, hl - 20))
		return KERN_PKT_TRUNCATED;
	if (frag & 0x1fff) /* a later fragment: no transport header */
		return KERN_PKT_OK;
	return parse_ports(c, out, start);
}

/* RFC 8200 §4: extension headers before the upper layer. Hop-by-hop (0), routing (43) and
 * destination options (60) carry a length in 8-octet units after the first 8; fragment (44)
 * is 8 octets and only the first fragment holds the ports. */
static enum kern_pkt_status parse_v6(struct oe_cur *c, struct kern_pkt *out,
				    const uint8_t *start)
{
	uint32_t vtcfl;
	uint8_t nh, hlim, hlen;
	uint16_t plen, off;

	if (!oe_cur_u32(c, &vtcfl) || !oe_cur_u16(c, &plen) || !oe_cur_u8(c, &nh) ||
	    !oe_cur_u8(c, &hlim))
		return KERN_PKT_TRUNCATED;
	out->src.af = out->dst.af = AF_INET6;
	if (!oe_cur_bytes(c, out->src.b, 16) || !oe_cur_bytes(c, out->dst.b, 16))
		return KERN_PKT_TRUNCATED;
	out->ip_len = plen > 0xffff - 40 ? 0xffff : (uint16_t)(plen + 40);
	for (int i = 0; i < 8; i++) { /* a bounded chain: more is an attack, not a packet */
		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (!oe_cur_u8(c, &nh) || !oe_cur_u8(c, &hlen) ||
			    !oe_cur_skip(c, (size_t)hlen * 8 + 6))
				return KERN_PKT_TRUNCATED;
			continue;
		case IPPROTO_FRAGMENT:
			if (!oe_cur_u8(c, &nh) || !oe_cur_u8(c, &hlen) || !oe_cur_u16(c, &off) ||
			    !oe_cur_skip(c, 4))
				return KERN_PKT_TRUNCATED;
			if (off & 0xfff8) {
				out->proto = nh;
				return KERN_PKT_OK;
			}
			continue;
		default:
			out->proto = nh;
			return parse_ports(c, out, start);
		}
	}
	return KERN_PKT_EXTHDR;
}

enum kern_pkt_status kern_pkt_parse(const uint8_t *p, size_t n, struct kern_pkt *out)
{
	struct oe_cur c = oe_cur_make(p, n);

	memset(out, 0, sizeof(*out));
	if (n < 1)
		return KERN_PKT_TRUNCATED;
	switch (p[0] >> 4) {
	case 4:
		return parse_v4(&c, out, p);
	case 6:
		return parse_v6(&c, out, p);
	default:
		return KERN_PKT_VERSION;
	}
}
