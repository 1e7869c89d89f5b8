/* NFQUEUE through libmnl + libnetfilter_queue, for the trap queue and the ESP queue (uesp).
 * The trap binds in copy mode with only the packet head (headers and enough for an ICMP
 * quote) and NFQA_CFG_F_GSO; uesp takes whole packets without GSO and answers with verdicts
 * that carry the rewritten packet. Never NFQA_CFG_F_FAIL_OPEN: a full queue drops instead of
 * sending traffic in the clear (PERF.md). Receives with recvmmsg in batches; verdicts are
 * written in the order given and sent several per sendmsg: for uesp this halved the agent's
 * CPU per ESP packet against one recv and one verdict send a packet (tests/bench/oe part 2,
 * same bench binary and run conditions: A 5.5 -> 3.1 us at 64 octets, 6.7 -> 3.5 us at 1400;
 * ESP / plain NFQUEUE accept packets/s 71% -> 86% and 59% -> 91%). */
#include "kernel.h"

#include <errno.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* from <linux/netfilter.h>, which clashes with <netinet/in.h> */
#define OE_NF_DROP 0
#define OE_NF_ACCEPT 1

#define NFQ_BATCH 32		/* messages per recvmmsg */
#define NFQ_ATTRS 512		/* room for a packet message's header and attributes */
#define NFQ_VMAX 256		/* verdicts collected before a send */
#define NFQ_VMSG 48		/* one verdict message without a packet */
#define NFQ_VPKT_BUF (256 << 10) /* verdicts with packets: sent once this would overflow */

struct kern_nfq {
	struct mnl_socket *nl;
	uint16_t num;
	uint32_t portid;
	size_t msgbuf;		/* one received message: the copy range plus attributes */
	uint8_t *rbuf;		/* NFQ_BATCH x msgbuf */
	char *vbuf;		/* the verdict messages so far, in order */
	size_t vlen, vcap;
	uint32_t vid[NFQ_VMAX];	/* verdicts collected, in order */
	uint8_t vv[NFQ_VMAX];
	unsigned nv, npkt;	/* collected; of them with a packet */
	char bbuf[NFQ_VMSG];	/* the one NFQNL_MSG_VERDICT_BATCH */
	uint64_t received, answered; /* packets; the difference is still held in the kernel */
};

/* Sends one config message and waits for its ack. 0 or -errno. */
static int cfg_send(struct kern_nfq *q, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* the socket is non-blocking: the ack is there within microseconds; wait at most 1 s */
	for (int tries = 0; (n = mnl_socket_recvfrom(q->nl, buf, sizeof(buf))) < 0; tries++) {
		if (errno != EAGAIN || tries >= 1000)
			return -errno;
		usleep(1000);
	}
	if (mnl_cb_run(buf, (size_t)n, 0, q->portid, NULL, NULL) < 0)
		return -errno;
	return 0;
}

static int nfq_config(struct kern_nfq *q, const struct kern_nfq_conf *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int err;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	err = cfg_send(q, nlh);
	if (err)
		return err;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, c->copy);
	/* GSO: large TCP packets arrive unsegmented (without: the kernel segments first, and
	 * every packet is one IP packet with its checksums done); no FAIL_OPEN: the mask names
	 * both bits and sets at most GSO, so fail-open is explicitly off */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(c->gso ? NFQA_CFG_F_GSO : 0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	if (c->maxlen)
		nfq_nlmsg_cfg_put_qmaxlen(nlh, c->maxlen);
	return cfg_send(q, nlh);
}

int kern_nfq_open_conf(uint16_t num, const struct kern_nfq_conf *c, struct kern_nfq **out)
{
	struct kern_nfq *q = calloc(1, sizeof(*q));
	int one = 1, rcv = 8 << 20, snd = 2 * NFQ_VPKT_BUF, err = -ENOMEM;

	*out = NULL;
	if (!q || !c->copy || c->copy > 65535)
		goto fail;
	q->msgbuf = ((size_t)c->copy + NFQ_ATTRS + 15) & ~(size_t)15;
	q->vcap = c->verdict_pkts ? NFQ_VPKT_BUF : (size_t)NFQ_VMAX * NFQ_VMSG;
	if (!(q->rbuf = malloc((size_t)NFQ_BATCH * q->msgbuf)) || !(q->vbuf = malloc(q->vcap)))
		goto fail;
	q->num = num;
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!q->nl || mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto fail;
	}
	q->portid = mnl_socket_get_portid(q->nl);
	/* a burst must not make recv fail with ENOBUFS; the kernel counts what it drops */
	setsockopt(mnl_socket_get_fd(q->nl), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) <
	    0)
		setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* netlink takes one sendmsg as one skb: the verdicts with packets must fit sndbuf */
	if (c->verdict_pkts &&
	    setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	err = nfq_config(q, c);
	if (err)
		goto fail;
	*out = q;
	return 0;
fail:
	kern_nfq_close(q);
	return err;
}

void kern_nfq_close(struct kern_nfq *q)
{
	if (!q)
		return;
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->rbuf);
	free(q->vbuf);
	free(q);
}

int kern_nfq_open(uint16_t num, uint32_t maxlen, struct kern_nfq **out)
{
	struct kern_nfq_conf c = { KERN_NFQ_COPY, true, maxlen, false };

	return kern_nfq_open_conf(num, &c, out);
}

int kern_nfq_fd(const struct kern_nfq *q)
{
	return mnl_socket_get_fd(q->nl);
}

/* One NFQNL_MSG_PACKET: id and hw protocol from the packet header, mark, payload, and the
 * original length when the copy was cut (NFQA_CAP_LEN). */
static bool packet_parse(const struct nlmsghdr *nlh, struct kern_nfq_pkt *p)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph))
		return false;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	memset(p, 0, sizeof(*p));
	p->id = ntohl(ph->packet_id);
	p->hw_proto = ntohs(ph->hw_protocol);
	if (attr[NFQA_MARK])
		p->mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
	if (attr[NFQA_PAYLOAD]) {
		p->data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		p->caplen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	p->len = p->caplen;
	if (attr[NFQA_CAP_LEN])
		p->len = ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
	return true;
}

int kern_nfq_receive(struct kern_nfq *q, void (*fn)(void *ctx, const struct kern_nfq_pkt *p),
		     void *ctx)
{
	struct mmsghdr mm[NFQ_BATCH];
	struct iovec iov[NFQ_BATCH];
	int n, count = 0;

	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < NFQ_BATCH; i++) {
		iov[i].iov_base = q->rbuf + (size_t)i * q->msgbuf;
		iov[i].iov_len = q->msgbuf;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(mnl_socket_get_fd(q->nl), mm, NFQ_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		const struct nlmsghdr *nlh = iov[i].iov_base;
		int len = (int)mm[i].msg_len;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			struct kern_nfq_pkt p;

			if ((nlh->nlmsg_type & 0xff) != NFQNL_MSG_PACKET ||
			    (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_QUEUE || !packet_parse(nlh, &p))
				continue;
			q->received++;
			fn(ctx, &p);
			count++;
		}
	}
	return count;
}

/* Sends the collected verdict messages in one sendmsg. When none carries a packet, they all
 * say the same and no other packet is still waiting in the queue (nothing held), one
 * NFQNL_MSG_VERDICT_BATCH covers every id up to the last instead (the clear path under
 * load). */
int kern_nfq_flush(struct kern_nfq *q)
{
	bool same = !q->npkt;
	const char *buf = q->vbuf;
	struct nlmsghdr *nlh;
	uint32_t max = 0;
	size_t len = q->vlen;
	ssize_t r;

	if (!q->nv)
		return 0;
	for (unsigned i = 0; same && i < q->nv; i++) {
		same = q->vv[i] == q->vv[0];
		/* ids wrap at 2^32: the latest is the furthest after the first, mod 2^32 */
		if (i == 0 || (int32_t)(q->vid[i] - max) > 0)
			max = q->vid[i];
	}
	q->answered += q->nv;
	if (same && q->nv > 1 && q->answered == q->received) {
		nlh = nfq_nlmsg_put(q->bbuf, NFQNL_MSG_VERDICT_BATCH, q->num);
		nfq_nlmsg_verdict_put(nlh, (int)max, q->vv[0]);
		buf = q->bbuf;
		len = nlh->nlmsg_len;
	}
	q->nv = q->npkt = 0;
	q->vlen = 0;
	r = mnl_socket_sendto(q->nl, buf, len);
	return r < 0 ? -errno : 0;
}

/* Appends one verdict message (with the packet pkt when len > 0), sending what was collected
 * first when it would not fit. */
static int verdict_add(struct kern_nfq *q, uint32_t id, uint8_t v, const uint8_t *pkt,
		       size_t len)
{
	size_t need = NFQ_VMSG + NLMSG_ALIGN(len);
	struct nlmsghdr *nlh;
	int err = 0;

	if (need > q->vcap)
		return -EMSGSIZE;
	if (q->nv == NFQ_VMAX || q->vlen + need > q->vcap)
		err = kern_nfq_flush(q);
	nlh = nfq_nlmsg_put(q->vbuf + q->vlen, NFQNL_MSG_VERDICT, q->num);
	nfq_nlmsg_verdict_put(nlh, (int)id, v);
	if (len) {
		nfq_nlmsg_verdict_put_pkt(nlh, pkt, (uint32_t)len);
		q->npkt++;
	}
	q->vlen += NLMSG_ALIGN(nlh->nlmsg_len);
	q->vid[q->nv] = id;
	q->vv[q->nv++] = v;
	return err;
}

int kern_nfq_verdict(struct kern_nfq *q, uint32_t id, enum kern_verdict v)
{
	return verdict_add(q, id, v == KERN_V_ACCEPT ? OE_NF_ACCEPT : OE_NF_DROP, NULL, 0);
}

int kern_nfq_verdict_pkt(struct kern_nfq *q, uint32_t id, const uint8_t *pkt, size_t len)
{
	if (!len)
		return verdict_add(q, id, OE_NF_DROP, NULL, 0);
	return verdict_add(q, id, OE_NF_ACCEPT, pkt, len);
}

uint64_t kern_nfq_kernel_drops(const struct kern_nfq *q)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	unsigned long long num, portid, total, mode, range, dropped, udropped;
	uint64_t out = 0;
	char line[256];

	if (!f)
		return 0;
	/* "queue portid waiting copy_mode copy_range queue_dropped user_dropped id 1" */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llu %llu %llu %llu %llu %llu %llu", &num, &portid, &total, &mode,
			   &range, &dropped, &udropped) == 7 && num == q->num)
			out = dropped + udropped;
	fclose(f);
	return out;
}
