/* %reject for held packets: the ICMP / ICMPv6 "administratively prohibited" error a router
 * would send, built here and handed back to the local sender through raw sockets that carry
 * the agent's mark (so the error itself is never trapped). uesp sends its ICMP too-big errors
 * and some outer packets through the same sockets (kern_icmp_send). */
#include "kernel.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct kern_icmp {
	int fd4, fd6;
};

static uint32_t sum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t sum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* An ICMP error of type/code with the 32-bit field info about IPv4 packet pkt, from its
 * destination to its source. RFC 792 / RFC 1812 §4.3.2.3: the quote is the IP header plus at
 * least 8 octets; we quote up to 548 octets so the error stays within 576. */
static size_t build_v4(const uint8_t *pkt, size_t n, uint8_t type, uint8_t code, uint32_t info,
		       uint8_t *out, size_t cap)
{
	size_t q = n < 548 ? n : 548, len = 20 + 8 + q;

	if (len > cap)
		return 0;
	memset(out, 0, 28);
	out[0] = 0x45;
	put16(out + 2, (uint16_t)len);
	out[8] = 64;
	out[9] = IPPROTO_ICMP;
	memcpy(out + 12, pkt + 16, 4);
	memcpy(out + 16, pkt + 12, 4);
	put16(out + 10, sum_fold(sum_add(0, out, 20)));
	out[20] = type;
	out[21] = code;
	put32(out + 24, info);
	memcpy(out + 28, pkt, q);
	put16(out + 22, sum_fold(sum_add(0, out + 20, 8 + q)));
	return len;
}

/* The same for ICMPv6; RFC 4443 §3.1: as much of the packet as fits in the minimum MTU. */
static size_t build_v6(const uint8_t *pkt, size_t n, uint8_t type, uint8_t code, uint32_t info,
		       uint8_t *out, size_t cap)
{
	size_t q = n < 1280 - 48 ? n : 1280 - 48, plen = 8 + q, len = 40 + plen;
	uint8_t ph[8] = { 0 };
	uint32_t s;

	if (len > cap)
		return 0;
	memset(out, 0, 48);
	out[0] = 0x60;
	put16(out + 4, (uint16_t)plen);
	out[6] = IPPROTO_ICMPV6;
	out[7] = 64;
	memcpy(out + 8, pkt + 24, 16);
	memcpy(out + 24, pkt + 8, 16);
	out[40] = type;
	out[41] = code;
	put32(out + 44, info);
	memcpy(out + 48, pkt, q);
	/* RFC 8200 §8.1 pseudo-header: addresses, upper-layer length, next header */
	ph[2] = (uint8_t)(plen >> 8);
	ph[3] = (uint8_t)plen;
	ph[7] = IPPROTO_ICMPV6;
	s = sum_add(0, out + 8, 32);
	s = sum_add(s, ph, 8);
	s = sum_add(s, out + 40, plen);
	put16(out + 42, sum_fold(s));
	return len;
}

size_t kern_icmp_build_too_big(const uint8_t *pkt, size_t n, unsigned mtu, uint8_t *out,
			       size_t cap)
{
	/* only the addresses are needed: any packet uesp could encrypt gets its answer */
	if (n >= 20 && pkt[0] >> 4 == 4 && (pkt[0] & 15) >= 5)
		/* RFC 792 type 3 code 4, RFC 1191 §4: the next-hop MTU in the low 16 bits */
		return mtu > 65535 ? 0 : build_v4(pkt, n, 3, 4, mtu, out, cap);
	if (n >= 40 && pkt[0] >> 4 == 6)
		return build_v6(pkt, n, 2, 0, mtu, out, cap); /* RFC 4443 §3.2 packet too big */
	return 0;
}

size_t kern_icmp_build(const uint8_t *pkt, size_t n, uint8_t *out, size_t cap)
{
	struct kern_pkt k;

	if (kern_pkt_parse(pkt, n, &k) != KERN_PKT_OK)
		return 0;
	if (k.proto == (k.src.af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6) && k.l4_off &&
	    k.l4_off < n) {
		/* RFC 1122 §3.2.2 / RFC 4443 §2.4(e): never an error about an error. ICMPv6
		 * errors have types < 128; ICMPv4 errors are types 3, 4, 5, 11 and 12. */
		uint8_t t = pkt[k.l4_off];

		if (k.src.af == AF_INET6 ? t < 128 :
					   (t == 3 || t == 4 || t == 5 || t == 11 || t == 12))
			return 0;
	}
	/* RFC 1812 §5.2.7.1 communication administratively prohibited (type 3 code 13); RFC
	 * 4443 §3.1 communication with destination administratively prohibited (type 1 code 1) */
	if (k.src.af == AF_INET)
		return build_v4(pkt, n, 3, 13, 0, out, cap);
	return build_v6(pkt, n, 1, 1, 0, out, cap);
}

int kern_icmp_open(uint32_t mark, struct kern_icmp **out)
{
	struct kern_icmp *k = calloc(1, sizeof(*k));
	int err = 0, probe4 = IP_PMTUDISC_PROBE, probe6 = IPV6_PMTUDISC_PROBE;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	/* IPPROTO_RAW implies IP_HDRINCL (raw(7)); for IPv6 since Linux 4.5 as well. */
	k->fd4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	k->fd6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (k->fd4 < 0 || k->fd6 < 0 ||
	    setsockopt(k->fd4, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ||
	    setsockopt(k->fd6, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ||
	    /* the device MTU limits what we send, not a PMTU the kernel learnt (kern_uesp) */
	    setsockopt(k->fd4, IPPROTO_IP, IP_MTU_DISCOVER, &probe4, sizeof(probe4)) < 0 ||
	    setsockopt(k->fd6, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof(probe6)) < 0) {
		err = -errno;
		kern_icmp_close(k);
		return err;
	}
	*out = k;
	return 0;
}

void kern_icmp_close(struct kern_icmp *k)
{
	if (!k)
		return;
	if (k->fd4 >= 0)
		close(k->fd4);
	if (k->fd6 >= 0)
		close(k->fd6);
	free(k);
}

int kern_icmp_send(struct kern_icmp *k, const uint8_t *pkt, size_t n)
{
	struct sockaddr_storage ss;
	bool v4 = n >= 20 && pkt[0] >> 4 == 4;
	socklen_t sl;

	if (!v4 && (n < 40 || pkt[0] >> 4 != 6))
		return -EINVAL;
	memset(&ss, 0, sizeof(ss));
	if (v4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, pkt + 16, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, pkt + 24, 16);
		sl = sizeof(*s6);
	}
	if (sendto(v4 ? k->fd4 : k->fd6, pkt, n, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	return 0;
}

int kern_icmp_reject(struct kern_icmp *k, const uint8_t *pkt, size_t n)
{
	uint8_t buf[1280];
	size_t len = kern_icmp_build(pkt, n, buf, sizeof(buf));

	return len ? kern_icmp_send(k, buf, len) : -EINVAL;
}
