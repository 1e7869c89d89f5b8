/* The IKE engine on real UDP sockets and the agent's loop (oe-agent/ike_sock.c): two engines on
 * loopback (127.0.0.1 and 127.0.0.2, ephemeral ports standing in for 500/4500) establish an
 * IKE SA and a Child SA into the mock kernel, by signature and by AUTH_NULL; IKE through the
 * 4500 socket (non-ESP marker); a lookup that fails; nothing to a closed port but timeouts. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ike_sock_int.h"
#include "oe_time.h"
#include "t.h"

struct node {
	struct oe_ike *k;
	struct kern_mock *km;
	struct oe_addr addr;
	struct oe_addr alias;	/* a second address of the same host (af 0: none) */
	EVP_PKEY *key;
	unsigned up, failed, lookups;
};

static struct node nodes[2];
static bool lookups_fail;

/* The "DNS": the published key of the node whose address the ID names. */
static int fake_lookup(void *arg, const struct ike_id *id,
		       void (*cb)(void *cbarg, const struct dk_result *res), void *cbarg)
{
	struct node *self = arg;
	struct dk_result res;
	struct dk_found f;

	self->lookups++;
	memset(&res, 0, sizeof(res));
	memset(&f, 0, sizeof(f));
	res.status = DK_L_NXDOMAIN;
	for (int i = 0; i < 2 && !lookups_fail; i++)
		if (nodes[i].key && id->type == 1 && (memcmp(id->data, nodes[i].addr.b, 4) == 0 ||
		    (nodes[i].alias.af && memcmp(id->data, nodes[i].alias.b, 4) == 0))) {
			res.status = DK_L_FOUND;
			res.val = DK_VAL_SECURE;
			res.rrtype = DK_RR_IPSECKEY;
			res.nfound = 1;
			res.found = &f;
			f.rrtype = DK_RR_IPSECKEY;
			f.precedence = 10;
			f.gw_type = DK_GW_IPV4;
			f.gw_addr = nodes[i].addr;
			f.pkey = nodes[i].key;
		}
	cb(cbarg, &res);
	return 0;
}

static void on_event(void *arg, const struct ike_event *ev)
{
	struct node *n = arg;

	if (ev->kind == IKE_EV_CHILD_UP)
		n->up++;
	if (ev->kind == IKE_EV_FAILED)
		n->failed++;
}

static void start(struct oe_loop *l, int i, const char *addr, bool with_key)
{
	struct node *n = &nodes[i];
	struct oe_ike_opts o;

	memset(n, 0, sizeof(*n));
	T_CHECK(oe_addr_parse(&n->addr, addr, strlen(addr)));
	if (with_key)
		T_CHECK_INT(dk_hostkey_generate(DK_KT_ECDSA_P256, 0, &n->key), 0);
	n->km = kern_mock_new();
	memset(&o, 0, sizeof(o));
	ike_conf_default(&o.conf);
	o.conf.hostkey = n->key;
	o.conf.retransmit_ms = 100;
	o.conf.retransmit_tries = 2;
	o.kern = &kern_mock_ops;
	o.kern_arg = n->km;
	o.lookup = (struct oe_ike_lookup){ n, fake_lookup, NULL };
	o.event = on_event;
	o.event_arg = n;
	T_CHECK_INT(oe_ike_new(l, &o, NULL, &n->k), 0);
}

static void stop(void)
{
	for (int i = 0; i < 2; i++) {
		oe_ike_free(nodes[i].k);
		kern_mock_free(nodes[i].km);
		EVP_PKEY_free(nodes[i].key);
		memset(&nodes[i], 0, sizeof(nodes[i]));
	}
}

/* Runs the loop until cond() or 3 s. */
static bool run_until(struct oe_loop *l, bool (*cond)(void))
{
	uint64_t end = oe_now_ms() + 3000;

	while (!cond() && oe_now_ms() < end)
		oe_loop_once(l, 50);
	return cond();
}

static bool both_up(void)
{
	return nodes[0].up >= 1 && nodes[1].up >= 1;
}

static bool i_failed(void)
{
	return nodes[0].failed >= 1;
}

static void handshake(bool i_key, bool natt)
{
	struct oe_loop *l;
	uint64_t sa = 0;
	struct ike_sa_info info;
	struct ike_endpoint lo, re;
	struct oe_sel ts;

	T_CHECK_INT(oe_loop_new(&l), 0);
	start(l, 0, "127.0.0.1", i_key);
	start(l, 1, "127.0.0.2", true);
	if (!nodes[0].k || !nodes[1].k)
		goto out;
	if (natt) { /* both ends on their 4500 sockets: every datagram behind the marker */
		lo = (struct ike_endpoint){ nodes[0].addr, oe_ike_port(nodes[0].k, AF_INET, true) };
		re = (struct ike_endpoint){ nodes[1].addr, oe_ike_port(nodes[1].k, AF_INET, true) };
		memset(&ts, 0, sizeof(ts));
		ts.src = oe_prefix_host(&lo.addr);
		ts.dst = oe_prefix_host(&re.addr);
		T_CHECK_INT(ike_initiate(oe_ike_engine(nodes[0].k), &lo, &re, NULL, &ts, &sa),
			    IKE_OK);
		oe_ike_rearm(nodes[0].k);
	} else {
		T_CHECK_INT(oe_ike_initiate(nodes[0].k, &nodes[0].addr, &nodes[1].addr,
					    oe_ike_port(nodes[1].k, AF_INET, false), NULL, &sa),
			    IKE_OK);
	}
	T_CHECK(run_until(l, both_up));
	T_CHECK_INT(kern_mock_installed(nodes[0].km), 1);
	T_CHECK_INT(kern_mock_installed(nodes[1].km), 1);
	T_CHECK(ike_sa_get(oe_ike_engine(nodes[0].k), sa, &info));
	T_CHECK_STR(info.state, "ESTABLISHED");
	T_CHECK(info.child_spi_in != 0 && info.child_spi_out != 0);
	T_CHECK(nodes[0].lookups >= 1); /* the responder's key came through the hook */
	if (natt)
		T_CHECK_INT(info.remote.port, oe_ike_port(nodes[1].k, AF_INET, true));
out:
	stop();
	oe_loop_free(l);
}

static void test_signatures(void)
{
	handshake(true, false);
}

static void test_auth_null_initiator(void)
{
	handshake(false, false);
}

static void test_natt_port_marker(void)
{
	handshake(true, true);
}

/* No key for the responder: the initiator's SA fails, nothing is installed. */
static void test_lookup_fails(void)
{
	struct oe_loop *l;
	uint64_t sa = 0;

	T_CHECK_INT(oe_loop_new(&l), 0);
	start(l, 0, "127.0.0.1", true);
	start(l, 1, "127.0.0.2", true);
	lookups_fail = true;
	if (nodes[0].k && nodes[1].k) {
		oe_ike_initiate(nodes[0].k, &nodes[0].addr, &nodes[1].addr,
				oe_ike_port(nodes[1].k, AF_INET, false), NULL, &sa);
		T_CHECK(run_until(l, i_failed));
		T_CHECK_INT(kern_mock_installed(nodes[0].km), 0);
	}
	lookups_fail = false;
	stop();
	oe_loop_free(l);
}

static bool two_up(void)
{
	return nodes[0].up >= 2 && nodes[1].up >= 2;
}

/* One host, two addresses (each its own identity, key published at both): the SA to the
 * second address carries INITIAL_CONTACT (RFC 7296 §2.4) and must not replace the one to the
 * first, on either end: a multi-address OE host keeps an IKE SA per address pair. */
static void test_two_addresses_one_peer(void)
{
	struct oe_loop *l;
	uint64_t sa1 = 0, sa2 = 0;
	struct ike_sa_info info;
	uint16_t port;

	T_CHECK_INT(oe_loop_new(&l), 0);
	start(l, 0, "127.0.0.1", true);
	start(l, 1, "127.0.0.2", true);
	T_CHECK(oe_addr_parse(&nodes[1].alias, "127.0.0.3", 9));
	if (!nodes[0].k || !nodes[1].k)
		goto out;
	port = oe_ike_port(nodes[1].k, AF_INET, false);
	T_CHECK_INT(oe_ike_initiate(nodes[0].k, &nodes[0].addr, &nodes[1].addr, port, NULL, &sa1),
		    IKE_OK);
	T_CHECK(run_until(l, both_up));
	T_CHECK_INT(oe_ike_initiate(nodes[0].k, &nodes[0].addr, &nodes[1].alias, port, NULL,
				    &sa2), IKE_OK);
	T_CHECK(run_until(l, two_up));
	T_CHECK(ike_sa_get(oe_ike_engine(nodes[0].k), sa1, &info));
	T_CHECK_STR(info.state, "ESTABLISHED");
	T_CHECK(ike_sa_get(oe_ike_engine(nodes[0].k), sa2, &info));
	T_CHECK_STR(info.state, "ESTABLISHED");
	T_CHECK_INT(ike_sa_count(oe_ike_engine(nodes[1].k)), 2);
	T_CHECK_INT(kern_mock_installed(nodes[1].km), 2);
out:
	stop();
	oe_loop_free(l);
}

int main(void)
{
	T_RUN(test_signatures);
	T_RUN(test_auth_null_initiator);
	T_RUN(test_natt_port_marker);
	T_RUN(test_lookup_fails);
	T_RUN(test_two_addresses_one_peer);
	return t_done();
}
