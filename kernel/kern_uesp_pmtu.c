/* uesp and packets too big once encapsulated (issue 6, RFC 4301 §8): the path MTU of each
 * SA's outer remote, read from the kernel (a marked UDP socket connect()ed to it: IP_MTU /
 * IPV6_MTU include what PMTU discovery learnt) at most once a second; inner packets that will
 * not fit are refused with ICMP fragmentation needed / ICMPv6 packet too big delivered into
 * our own stack (kern_icmp's marked raw sockets), so the sender lowers its PMTU; the others
 * are encrypted and their outer packet fragmented.
 *
 * In OE the outer remote is the inner destination: the kernel keeps one PMTU per destination,
 * so the error we send lowers it for the outer packets as well. Two consequences, handled
 * here: the MTU the kernel reports afterwards is the one we told (not the path's), and an
 * outer packet larger than it, left to the verdict, would be fragmented or dropped by the
 * kernel after our queue although it fits the path. Such packets go out through the raw
 * socket instead, whose IP_PMTUDISC_PROBE makes only the device MTU count. */
#include "kern_uesp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oe_log.h"
#include "oe_time.h"

/* Clears DF on an IPv4 outer header and fixes its checksum, so that the kernel fragments it
 * after the verdict (RFC 4301 §8.1 lets the SA clear DF). */
static void clear_df(uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	size_t hl;

	if (n < 20 || p[0] >> 4 != 4 || !(p[6] & 0x40))
		return;
	hl = (size_t)(p[0] & 0x0f) * 4;
	if (hl < 20 || hl > n)
		return;
	p[6] &= (uint8_t)~0x40;
	p[10] = p[11] = 0;
	for (size_t i = 0; i < hl; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	p[10] = (uint8_t)(~sum >> 8);
	p[11] = (uint8_t)~sum;
}

/* The kernel's MTU towards remote, 0 when unknown (no route). connect() on a UDP socket
 * sends nothing; it only looks the route up, with the agent's mark like our own packets.
 * One socket per family, reconnected for each remote: 1.3 us a query (connect + IP_MTU over
 * a veth route, 200k queries), at most once a second per path in use. */
static unsigned kernel_pmtu(struct kern_uesp *u, const struct oe_addr *remote)
{
	bool v4 = remote->af == AF_INET;
	int *fd = v4 ? &u->mtu_fd4 : &u->mtu_fd6, mtu = 0;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(mtu);

	if (*fd < 0) {
		*fd = socket(remote->af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (*fd < 0 || setsockopt(*fd, SOL_SOCKET, SO_MARK, &u->mark, sizeof(u->mark)) < 0) {
			oe_warn(ESP, "path MTU socket: %s", strerror(errno));
			if (*fd >= 0)
				close(*fd);
			*fd = -1;
			return 0;
		}
	}
	memset(&ss, 0, sizeof(ss));
	if (v4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		memcpy(&s4->sin_addr, remote->b, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		memcpy(&s6->sin6_addr, remote->b, 16);
	}
	if (connect(*fd, (struct sockaddr *)&ss, v4 ? sizeof(struct sockaddr_in) :
						      sizeof(struct sockaddr_in6)) < 0 ||
	    getsockopt(*fd, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_MTU : IPV6_MTU, &mtu, &sl) < 0 ||
	    mtu <= 0)
		return 0;
	return (unsigned)mtu;
}

/* Reads the kernel's MTU for p's remote (at most every UESP_PMTU_CHECK_MS). While the kernel
 * holds exactly what we told a sender, the path MTU we had stands; a lower value came from
 * the path (a router's error about our outer packets), a higher one means the kernel forgot. */
static void path_check(struct kern_uesp *u, struct uesp_path *p, uint64_t now)
{
	unsigned k;

	if (p->checked_ms && now - p->checked_ms < UESP_PMTU_CHECK_MS)
		return;
	p->checked_ms = now;
	k = u->pmtu_fn ? u->pmtu_fn(u->pmtu_arg, &p->remote) : kernel_pmtu(u, &p->remote);
	p->kmtu = k;
	if (p->told && k == p->told && p->base > k)
		return;
	if (p->base != k)
		oe_debug(ESP, "path MTU towards %s: %u", oe_addr_str(&p->remote, (char[OE_ADDRSTRLEN]){ 0 }), k);
	p->base = k;
	p->told = 0;
}

static int send_pkt(struct kern_uesp *u, const uint8_t *pkt, size_t n)
{
	int err;

	if (u->send_fn)
		return u->send_fn(u->send_arg, pkt, n);
	if (!u->raw && (err = kern_icmp_open(u->mark, &u->raw)) != 0)
		return err;
	return kern_icmp_send(u->raw, pkt, n);
}

/* RFC 4301 §8.2.1 / RFC 1191 / RFC 8201: the local sender learns the MTU left inside the SA.
 * The kernel takes it for the destination, which is our outer remote: remembered as told. */
static void too_big(struct kern_uesp *u, struct uesp_sa *s, const uint8_t *pkt, size_t n,
		    unsigned mtu, uint64_t now)
{
	uint8_t icmp[1280];
	size_t len = kern_esp_icmp_too_big(pkt, n, mtu, icmp, sizeof(icmp));
	int err = len ? send_pkt(u, icmp, len) : -EINVAL;

	u->st.too_big++;
	if (err) {
		oe_debug(ESP, "SA %08x: ICMP too-big (mtu %u): %s", s->sa.spi_out, mtu,
			 strerror(-err));
		return;
	}
	oe_debug(ESP, "SA %08x: a %zu-octet packet is too big once encrypted: ICMP too-big, mtu %u",
		 s->sa.spi_out, n, mtu);
	u->st.icmp_sent++;
	s->path->told = mtu;
	s->path->told_ms = now;
	s->path->kmtu = mtu; /* what the kernel holds once it has read our error */
}

struct split {
	struct kern_uesp *u;
	struct uesp_sa *s;
	bool failed;
};

/* One fragment of the inner packet: encrypted and sent (it fits the path). */
static void emit_inner(void *arg, const uint8_t *frag, size_t len)
{
	struct split *x = arg;
	size_t out = 0;

	if (x->failed || kern_esp_encrypt(x->s->esp, frag, len, x->u->sbuf,
					  UESP_PKT_MAX + KERN_ESP_OVERHEAD_MAX, &out) != KERN_ESP_OK ||
	    send_pkt(x->u, x->u->sbuf, out) != 0) {
		x->failed = true;
		return;
	}
	x->u->st.encrypted++;
	x->u->st.direct++;
}

/* The kernel fragments a local sender's packets after the postrouting hook, so our queue
 * sees them whole: an IPv6 packet above the PMTU the kernel holds for its destination (the
 * one we told) is split here as the kernel would have split it (RFC 8200 §5: at the
 * source), each fragment encrypted and sent. */
static void split_inner(struct kern_uesp *u, struct uesp_sa *s, const uint8_t *pkt, size_t n)
{
	struct split x = { u, s, false };

	u->st.split++;
	if (!u->sbuf && !(u->sbuf = malloc(UESP_PKT_MAX + KERN_ESP_OVERHEAD_MAX))) {
		u->st.errors++;
		return;
	}
	if (kern_esp_fragment(pkt, n, s->path->kmtu, ++u->frag_id, emit_inner, &x) < 0 ||
	    x.failed) {
		u->st.errors++;
		oe_debug(ESP, "SA %08x: splitting a %zu-octet packet for PMTU %u failed",
			 s->sa.spi_out, n, s->path->kmtu);
	}
}

enum kern_esp_mtu_action uesp_mtu_decide(struct kern_uesp *u, struct uesp_sa *s,
					 const uint8_t *pkt, size_t n, uint64_t now)
{
	enum kern_esp_mtu_action act;
	unsigned mtu;

	path_check(u, s->path, now);
	if (!s->path->base)
		return KERN_ESP_MTU_FITS; /* no route known: the kernel decides after the verdict */
	act = kern_esp_mtu_check(s->esp, pkt, n, s->path->base, &mtu);
	if (act != KERN_ESP_MTU_ICMP)
		return act;
	if (pkt[0] >> 4 == 6 && n > s->path->kmtu && s->path->kmtu <= mtu &&
	    s->path->kmtu >= 1280)
		split_inner(u, s, pkt, n);
	else
		too_big(u, s, pkt, n, mtu, now);
	return act;
}

static void emit_frag(void *arg, const uint8_t *frag, size_t len)
{
	struct kern_uesp *u = arg;

	if (send_pkt(u, frag, len) == 0)
		u->st.direct++;
}

/* IPv4 outer packets are fragmented by the kernel after the verdict (DF cleared): its
 * routing and fragment IDs stay in charge and the verdict stays one packet. IPv6 outer ones
 * cannot be: the kernel fragments only what a local socket allows (RFC 8200 §5 leaves it to
 * the source), so we fragment them (kern_esp_fragment) and send the fragments ourselves. */
size_t uesp_mtu_send(struct kern_uesp *u, struct uesp_sa *s, enum kern_esp_mtu_action act,
		     uint8_t *out, size_t len)
{
	struct uesp_path *p = s->path;

	if (act == KERN_ESP_MTU_FRAGMENT) {
		u->st.fragmented++;
		if (out[0] >> 4 == 4) {
			clear_df(out, len);
			return len;
		}
		if (kern_esp_fragment(out, len, p->base, ++u->frag_id, emit_frag, u) < 0)
			u->st.errors++;
		return 0;
	}
	if (p->kmtu && len > p->kmtu) { /* fits the path, not the PMTU we made the kernel hold */
		if (send_pkt(u, out, len) == 0)
			u->st.direct++;
		else
			u->st.errors++;
		return 0;
	}
	return len;
}

void uesp_mtu_close(struct kern_uesp *u)
{
	if (u->mtu_fd4 >= 0)
		close(u->mtu_fd4);
	if (u->mtu_fd6 >= 0)
		close(u->mtu_fd6);
	kern_icmp_close(u->raw);
}
