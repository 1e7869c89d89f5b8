/* Shunt elements straight to nf_tables over netlink (libmnl): libnftables parses text with a
 * full grammar and refreshes its cache on every call, which caps decisions well below 100,000
 * per second; a set element is a key and a timeout, so we write the NFT_MSG_NEWSETELEM /
 * DELSETELEM messages ourselves, many elements per message and many messages per batch (one
 * transaction per sendmsg). Keys are the sets' concatenations, each field padded to 4 octets
 * as nf_tables registers are. The table itself is still created from text (kern_rules.c). */
#include "kernel.h"
#include "kern_rules_int.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oe_log.h"

#define NL_BUF (512 * 1024)
#define NL_ROOM 1024	  /* what one more element may need, with the closing messages */
#define NL_PER_MSG 512	  /* elements per message */
#define OE_NFPROTO_INET 1 /* NFPROTO_INET: <linux/netfilter.h> clashes with <netinet/in.h> */

struct kern_nl {
	struct mnl_socket *sock;
	uint32_t seq, portid;
	char *buf;
	size_t len;		/* bytes of the batch so far (0: no batch begun) */
	struct nlmsghdr *msg;	/* the element message being filled, or NULL */
	struct nlattr *list;	/* its NFTA_SET_ELEM_LIST_ELEMENTS nest */
	char msg_set[16];
	bool msg_del;
	unsigned msg_n;
	size_t pending;
	unsigned errors;	/* element errors reported by the kernel since the last commit */
	int first_err;
};

int kern_nl_open(struct kern_nl **out)
{
	struct kern_nl *n = calloc(1, sizeof(*n));
	int err;

	*out = NULL;
	if (!n || !(n->buf = malloc(NL_BUF))) {
		free(n);
		return -ENOMEM;
	}
	n->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!n->sock || mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		kern_nl_close(n);
		return err;
	}
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (uint32_t)time(NULL);
	*out = n;
	return 0;
}

void kern_nl_close(struct kern_nl *n)
{
	if (!n)
		return;
	if (n->sock)
		mnl_socket_close(n->sock);
	free(n->buf);
	free(n);
}

static struct nlmsghdr *put_msg(struct kern_nl *n, uint16_t type, uint16_t flags, uint8_t family,
				uint16_t res_id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(n->buf + n->len);
	struct nfgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	nlh->nlmsg_seq = n->seq++;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(res_id);
	return nlh;
}

static void msg_close(struct kern_nl *n)
{
	if (!n->msg)
		return;
	mnl_attr_nest_end(n->msg, n->list);
	n->len += NLMSG_ALIGN(n->msg->nlmsg_len);
	n->msg = NULL;
}

/* Reads what the kernel answered to the batch: only errors come back (no NLM_F_ACK), and
 * nfnetlink has queued them by the time sendmsg returned. */
static void drain(struct kern_nl *n)
{
	char rb[8192];
	ssize_t r;

	while ((r = mnl_socket_recvfrom(n->sock, rb, sizeof(rb))) > 0) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)rb;
		int len = (int)r;

		for (; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

			if (h->nlmsg_type != NLMSG_ERROR ||
			    mnl_nlmsg_get_payload_len(h) < sizeof(*e) || !e->error)
				continue;
			if (!n->errors++)
				n->first_err = e->error;
		}
	}
}

static int send_batch(struct kern_nl *n)
{
	ssize_t r;

	msg_close(n);
	if (!n->len)
		return 0;
	put_msg(n, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	n->len += NLMSG_ALIGN(sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg));
	r = mnl_socket_sendto(n->sock, n->buf, n->len);
	n->len = 0;
	if (r < 0)
		return -errno;
	drain(n);
	return 0;
}

int kern_nl_elem(struct kern_nl *n, const char *set, bool del, const uint8_t *key,
		 size_t keylen, uint64_t timeout_ms)
{
	struct nlattr *el, *k;
	int err;

	if (keylen > 64 || strlen(set) >= sizeof(n->msg_set))
		return -EINVAL;
	if (n->len && NL_BUF - n->len - (n->msg ? n->msg->nlmsg_len : 0) < NL_ROOM &&
	    (err = send_batch(n)) < 0)
		return err;
	if (!n->len) {
		put_msg(n, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
		n->len = NLMSG_ALIGN(sizeof(struct nlmsghdr) + sizeof(struct nfgenmsg));
	}
	if (n->msg && (n->msg_del != del || n->msg_n >= NL_PER_MSG || strcmp(n->msg_set, set)))
		msg_close(n);
	if (!n->msg) {
		n->msg = put_msg(n, (NFNL_SUBSYS_NFTABLES << 8) |
					    (del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM),
				 del ? 0 : NLM_F_CREATE, OE_NFPROTO_INET, 0);
		mnl_attr_put_strz(n->msg, NFTA_SET_ELEM_LIST_TABLE, KERN_TRAP_TABLE);
		mnl_attr_put_strz(n->msg, NFTA_SET_ELEM_LIST_SET, set);
		n->list = mnl_attr_nest_start(n->msg, NFTA_SET_ELEM_LIST_ELEMENTS);
		snprintf(n->msg_set, sizeof(n->msg_set), "%s", set);
		n->msg_del = del;
		n->msg_n = 0;
	}
	el = mnl_attr_nest_start(n->msg, NFTA_LIST_ELEM);
	k = mnl_attr_nest_start(n->msg, NFTA_SET_ELEM_KEY);
	mnl_attr_put(n->msg, NFTA_DATA_VALUE, keylen, key);
	mnl_attr_nest_end(n->msg, k);
	if (!del && timeout_ms)
		mnl_attr_put_u64(n->msg, NFTA_SET_ELEM_TIMEOUT, htobe64(timeout_ms));
	mnl_attr_nest_end(n->msg, el);
	n->msg_n++;
	n->pending++;
	return 0;
}

size_t kern_nl_pending(const struct kern_nl *n)
{
	return n->pending;
}

int kern_nl_commit(struct kern_nl *n, unsigned *errors)
{
	int err = send_batch(n);

	n->pending = 0;
	*errors = n->errors;
	if (!err && n->errors)
		err = n->first_err;
	n->errors = 0;
	n->first_err = 0;
	return err;
}
