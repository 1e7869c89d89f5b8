/* libFuzzer harness for DNSSEC validation and the lookup state machine with scripted answers
 * instead of the network (the resolver's send hook): after one selector byte the input is a
 * sequence of [2-byte length][DNS message] chunks, and each query the lookup sends (IPSECKEY,
 * TXT, KEY, DNSKEY, DS, in its own order) gets the next chunk as its answer; a chunk that
 * does not parse is a malformed answer, running out of input is a timeout. The trust anchor
 * is the DS of the key that signed the seeds (tests/fuzz/mkseeds_dnsvalidate.sh). Every
 * lookup must end exactly once, deny bogus answers and leave nothing in flight; every
 * signature is checked by both the fast path and ldns, which must agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dk_lookup_int.h"
#include "oe_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DK_FUZZ_ANCHOR                                                                     \
	"oe.test. 3600 IN DS 55903 13 2 "                                                  \
	"9e69050b75f7c6415797da3fe506862ffb73f51976675ecff1366f3c4f364c8e\n"
#define MAXQ 64
#define MAXSTEPS 256

struct pending {
	dk_raw_fn *cb;
	void *arg;
};

static struct pending q[MAXQ];
static size_t nq;
static struct dk_resolver *res_on, *res_off;

static int hook(void *ctx, const ldns_rdf *name, ldns_rr_type type, dk_raw_fn *cb, void *arg)
{
	if (nq == MAXQ)
		return -ENOBUFS;
	q[nq++] = (struct pending){ cb, arg };
	return 0;
}

static struct dk_resolver *make(bool dnssec, const char *anchors)
{
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;

	dk_lookup_conf_default(&c);
	c.nameservers = "127.0.0.1:9";
	c.rootkey_file = "";
	c.anchors_file = anchors;
	c.dnssec = dnssec;
	if (dk_resolver_new(&r, &c, NULL, NULL, NULL) < 0)
		abort();
	r->send_hook = hook;
	r->verify_both = true; /* the fast RRSIG path must never accept what ldns rejects */
	return r;
}

static void init(void)
{
	char path[] = "/tmp/oet-fuzz-anchor.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, DK_FUZZ_ANCHOR, strlen(DK_FUZZ_ANCHOR)) < 0)
		abort();
	close(fd);
	oe_log_set_level(getenv("DK_FUZZ_VERBOSE") ? OE_LOG_DEBUG : OE_LOG_ERR);
	res_on = make(true, path);
	res_off = make(false, path);
	unlink(path);
}

struct outcome {
	int calls;
};

static void on_result(void *arg, const struct dk_result *r)
{
	struct outcome *o = arg;

	o->calls++;
	if ((r->status == DK_L_BOGUS || r->val == DK_VAL_BOGUS) && r->nfound)
		abort();
	if ((r->status == DK_L_FOUND) != (r->nfound > 0))
		abort();
	if (getenv("DK_FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %s (%s): %s\n", r->qname, dk_lookup_status_name(r->status),
			dk_val_name(r->val), r->reason);
}

/* Answers the oldest query with the next chunk of input (or a timeout). */
static void answer_one(const uint8_t **p, size_t *left)
{
	struct pending a = q[0];
	ldns_pkt *pkt = NULL;
	size_t n;

	memmove(q, q + 1, --nq * sizeof(q[0]));
	if (*left < 2) {
		a.cb(a.arg, DK_L_TIMEOUT, NULL);
		return;
	}
	n = (size_t)((*p)[0] << 8 | (*p)[1]);
	if (n > *left - 2)
		n = *left - 2;
	if (ldns_wire2pkt(&pkt, *p + 2, n) == LDNS_STATUS_OK)
		a.cb(a.arg, DK_L_FOUND, pkt);
	else
		a.cb(a.arg, DK_L_MALFORMED, NULL);
	ldns_pkt_free(pkt);
	*p += 2 + n;
	*left -= 2 + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ids[] = { "@host.oe.test", "@gw.oe.test", "@txt.oe.test",
					   "@nx.oe.test", "@self.unsigned.oe.test" };
	struct outcome o = { 0 };
	struct dk_resolver *r;
	const uint8_t *p = data + 1;
	size_t left = size ? size - 1 : 0;
	int steps = 0;

	if (!res_on)
		init();
	if (size < 1)
		return 0;
	r = data[0] & 0x80 ? res_off : res_on;
	dk_resolver_flush(r);
	if (dk_lookup_fqdn(r, ids[(data[0] & 0x7f) % 5], on_result, &o) < 0)
		abort();
	while (nq && steps++ < MAXSTEPS)
		answer_one(&p, &left);
	while (nq) /* past the step bound: everything else times out */
		answer_one(&p, &(size_t){ 0 });
	if (o.calls != 1)
		abort();
	return 0;
}
