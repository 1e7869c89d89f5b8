/* libFuzzer harness for the IKE engine's receive path (oe-agent/ike/): each input is one
 * datagram. A request goes to a fresh responder twice (a new half-open SA, then the
 * retransmission path) and once to a responder that demands COOKIEs; a response goes to an
 * initiator waiting for its IKE_SA_INIT answer, with the input's SPIi patched to that SA's so
 * the answer reaches the exchange code. SPIs come from a counter, so they are reproducible.
 * Property: no crash, leak or hang. Seeds (tests/fuzz/corpus/ike_responder/) are real
 * datagrams of the exchange tests: IKE_SEED_DIR=dir build/tests/test_ike_engine writes them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike.h"
#include "ike/ike_codec_int.h"
#include "oe_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *hostkey;
static uint64_t counter;

static int f_send(void *arg, const struct ike_endpoint *l, const struct ike_endpoint *r,
		  const uint8_t *msg, size_t len)
{
	(void)arg, (void)l, (void)r, (void)msg, (void)len;
	return 0;
}

static int f_lookup(void *arg, uint64_t req, const struct ike_id *id)
{
	(void)arg, (void)req, (void)id;
	return -ENOENT;
}

static uint64_t f_now(void *arg)
{
	(void)arg;
	return 1000000;
}

static int f_random(void *arg, void *buf, size_t n)
{
	uint8_t *p = buf;

	(void)arg;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(++counter * 0x9e3779b97f4a7c15ull >> 56);
	return 0;
}

static struct kern_mock *km;

static struct ike_engine *engine(unsigned cookie_threshold)
{
	struct ike_conf c;
	struct ike_ops ops = {
		.send = f_send, .lookup = f_lookup, .now_ms = f_now, .random = f_random,
		.kern = &kern_mock_ops,
	};
	struct ike_engine *e = NULL;

	ike_conf_default(&c);
	c.hostkey = hostkey;
	c.cookie_threshold = cookie_threshold;
	ops.kern_arg = km;
	if (ike_engine_new(&e, &c, &ops) != 0)
		abort();
	return e;
}

static void as_request(const uint8_t *data, size_t size, const struct ike_endpoint *from,
		       const struct ike_endpoint *to)
{
	struct ike_engine *e = engine(256);

	ike_receive(e, data, size, from, to);
	ike_receive(e, data, size, from, to);
	ike_run_timers(e);
	ike_engine_free(e);
	e = engine(0);
	ike_receive(e, data, size, from, to);
	ike_engine_free(e);
}

static void as_response(const uint8_t *data, size_t size, const struct ike_endpoint *us,
			const struct ike_endpoint *peer)
{
	struct ike_engine *e = engine(256);
	struct ike_sa_info si;
	struct oe_sel ts;
	uint8_t *copy = malloc(size);
	uint64_t h = 0;

	memset(&ts, 0, sizeof(ts));
	ts.src = oe_prefix_host(&us->addr);
	ts.dst = oe_prefix_host(&peer->addr);
	memcpy(copy, data, size);
	if (ike_initiate(e, us, peer, NULL, &ts, &h) == IKE_OK && ike_sa_get(e, h, &si))
		for (int i = 0; i < 8; i++)
			copy[i] = (uint8_t)(si.spi_i >> (56 - 8 * i));
	ike_receive(e, copy, size, peer, us);
	free(copy);
	ike_engine_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ike_endpoint a = { .port = 500 }, b = { .port = 500 };

	if (!hostkey) {
		oe_log_set_level(OE_LOG_ERR);
		hostkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		km = kern_mock_new();
	}
	oe_addr_parse(&a.addr, "192.0.2.1", 9);
	oe_addr_parse(&b.addr, "192.0.2.2", 9);
	counter = 0;
	if (size > 19 && (data[19] & IKE_FLAG_R))
		as_response(data, size, &b, &a);
	else
		as_request(data, size, &a, &b);
	return 0;
}
