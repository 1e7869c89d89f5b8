/* Key lookup tests. Without arguments: the offline parts (reverse names, answer processing
 * and gateway policy on packets built here, the cache). `gen` prints freshly generated key
 * blobs for tests/netns/dns.sh to put in zones; `server ADDR:PORT ANCHORS` runs the checks
 * against the real NSD that dns.sh starts (expected keyids in DK_T_* environment variables). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dk_lookup_int.h" /* the cache, tested alone */
#include "dnskeys.h"
#include "oe_b64.h"
#include "oe_time.h"
#include "t.h"

static struct oe_addr A(const char *s)
{
	struct oe_addr a;

	if (!oe_addr_parse(&a, s, strlen(s)))
		memset(&a, 0, sizeof(a));
	return a;
}

/* ---- offline ---- */

static char rsa_b64[4096];

static void make_rsa(void)
{
	EVP_PKEY *pk = NULL;
	struct dk_pubkey k;

	if (rsa_b64[0])
		return;
	if (dk_hostkey_generate(DK_KT_RSA, 2048, &pk) == 0 && dk_pubkey_encode(pk, &k) == DK_OK)
		oe_b64_encode(k.b, k.len, rsa_b64);
	EVP_PKEY_free(pk);
}

/* A response to qname/qtype with the given answer and authority records (text form). */
static size_t make_msg(uint8_t *out, size_t cap, ldns_pkt_rcode rcode, const char *qname,
		       ldns_rr_type qtype, const char *const *ans, const char *const *auth)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(qname), qtype,
					 LDNS_RR_CLASS_IN, LDNS_RD);
	uint8_t *wire = NULL;
	size_t len = 0;

	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, rcode);
	for (; ans && *ans; ans++) {
		ldns_rr *rr = NULL;

		if (ldns_rr_new_frm_str(&rr, *ans, 300, NULL, NULL) == LDNS_STATUS_OK)
			ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	for (; auth && *auth; auth++) {
		ldns_rr *rr = NULL;

		if (ldns_rr_new_frm_str(&rr, *auth, 300, NULL, NULL) == LDNS_STATUS_OK)
			ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr);
	}
	ldns_pkt2wire(&wire, p, &len);
	if (len > cap)
		len = 0;
	memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(p);
	return len;
}

static void test_nxdomain_nosoa(void)
{
	struct dk_result r;
	uint8_t m[512];
	struct oe_addr a4 = A("192.0.2.1");
	size_t n = make_msg(m, sizeof(m), LDNS_RCODE_NXDOMAIN, "1.2.0.192.in-addr.arpa.",
			    LDNS_RR_TYPE_IPSECKEY, NULL, NULL);

	dk_answer_process(m, n, "1.2.0.192.in-addr.arpa.", DK_RR_IPSECKEY, &a4,
			  DK_VAL_SECURE, &r);
	T_CHECK_INT(r.status, DK_L_NXDOMAIN);
	T_CHECK_INT(r.ttl, 0); /* no SOA: not cacheable (RFC 2308 §5) */
	dk_result_clear(&r);
}

static void test_policy(void)
{
	char rr1[4400], rr2[4400];
	const char *ans[] = { rr1, rr2, NULL };
	const char *q = "1.2.0.192.in-addr.arpa.";
	struct oe_addr self = A("192.0.2.1");
	struct dk_result r;
	uint8_t m[8192];
	size_t n;

	make_rsa();
	snprintf(rr1, sizeof(rr1), "%s 300 IN IPSECKEY 20 1 2 192.0.2.9 %s", q, rsa_b64);
	snprintf(rr2, sizeof(rr2), "%s 200 IN IPSECKEY 10 1 2 192.0.2.1 %s", q, rsa_b64);
	n = make_msg(m, sizeof(m), LDNS_RCODE_NOERROR, q, LDNS_RR_TYPE_IPSECKEY, ans, NULL);
	T_CHECK(n > 0);
	/* Secure: both, sorted by precedence, TTL the minimum. */
	dk_answer_process(m, n, q, DK_RR_IPSECKEY, &self, DK_VAL_SECURE, &r);
	T_CHECK_INT(r.status, DK_L_FOUND);
	T_CHECK_INT(r.nfound, 2);
	if (r.nfound == 2) {
		T_CHECK_INT(r.found[0].precedence, 10);
		T_CHECK_INT(r.found[1].precedence, 20);
		T_CHECK(r.found[0].pkey != NULL);
		T_CHECK_INT(r.found[0].key.alg, DK_ALG_RSA);
	}
	T_CHECK_INT(r.ttl, 200);
	dk_result_clear(&r);
	/* Insecure: only the record naming the host itself survives. */
	dk_answer_process(m, n, q, DK_RR_IPSECKEY, &self, DK_VAL_INSECURE, &r);
	T_CHECK_INT(r.status, DK_L_FOUND);
	T_CHECK_INT(r.nfound, 1);
	if (r.nfound == 1)
		T_CHECK_INT(r.found[0].gw_addr.b[3], 1);
	dk_result_clear(&r);
	/* Insecure and only another gateway: refused. */
	ans[1] = NULL;
	n = make_msg(m, sizeof(m), LDNS_RCODE_NOERROR, q, LDNS_RR_TYPE_IPSECKEY, ans, NULL);
	dk_answer_process(m, n, q, DK_RR_IPSECKEY, &self, DK_VAL_INSECURE, &r);
	T_CHECK_INT(r.status, DK_L_GATEWAY);
	dk_result_clear(&r);
	dk_answer_process(m, n, q, DK_RR_IPSECKEY, &self, DK_VAL_BOGUS, &r);
	T_CHECK_INT(r.status, DK_L_BOGUS);
	T_CHECK_INT(r.nfound, 0);
	dk_result_clear(&r);
}

static void test_negative_ttl(void)
{
	const char *auth[] = { "2.0.192.in-addr.arpa. 300 IN SOA ns. h. 1 3600 900 604800 60",
			       NULL };
	const char *q = "9.2.0.192.in-addr.arpa.";
	struct dk_result r;
	uint8_t m[1024];
	size_t n = make_msg(m, sizeof(m), LDNS_RCODE_NOERROR, q, LDNS_RR_TYPE_IPSECKEY, NULL,
			    auth);

	dk_answer_process(m, n, q, DK_RR_IPSECKEY, NULL, DK_VAL_SECURE, &r);
	T_CHECK_INT(r.status, DK_L_NODATA);
	T_CHECK_INT(r.ttl, 60); /* min(SOA TTL 300, MINIMUM 60) */
	dk_result_clear(&r);
}

static void test_malformed(void)
{
	const char *ans[] = { "x.oe.test. 300 IN TXT \"X-IPsec-Server(10)=\"",
			      "x.oe.test. 300 IN TXT \"v=spf1 -all\"", NULL };
	static const uint8_t junk[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 5 };
	struct dk_result r;
	uint8_t m[1024];
	size_t n = make_msg(m, sizeof(m), LDNS_RCODE_NOERROR, "x.oe.test.", LDNS_RR_TYPE_TXT,
			    ans, NULL);

	dk_answer_process(m, n, "x.oe.test.", DK_RR_TXT, NULL, DK_VAL_SECURE, &r);
	T_CHECK_INT(r.status, DK_L_MALFORMED);
	dk_result_clear(&r);
	dk_answer_process(junk, sizeof(junk), "x.oe.test.", DK_RR_TXT, NULL, DK_VAL_SECURE, &r);
	T_CHECK_INT(r.status, DK_L_MALFORMED);
	dk_result_clear(&r);
	ans[0] = ans[1];
	ans[1] = NULL;
	n = make_msg(m, sizeof(m), LDNS_RCODE_NOERROR, "x.oe.test.", LDNS_RR_TYPE_TXT, ans, NULL);
	dk_answer_process(m, n, "x.oe.test.", DK_RR_TXT, NULL, DK_VAL_SECURE, &r);
	T_CHECK_INT(r.status, DK_L_NODATA); /* other TXT records are not ours */
	dk_result_clear(&r);
}

static void test_strings(void)
{
	for (int s = 0; s < DK_L_COUNT; s++) {
		T_CHECK(strcmp(dk_lookup_strerror(s), "unknown lookup status") != 0);
		T_CHECK(strcmp(dk_lookup_status_name(s), "unknown") != 0);
	}
	T_CHECK_STR(dk_val_name(DK_VAL_BOGUS), "bogus");
	T_CHECK_STR(dk_rrtype_name(45), "IPSECKEY");
}

/* A resolver pointed at a port nobody answers; lookups must fail without blocking. */
struct seen {
	int n;
	enum dk_lookup_status st;
	char qname[DK_NAME_MAX];
};

static void seen_cb(void *arg, const struct dk_result *res)
{
	struct seen *s = arg;

	s->n++;
	s->st = res->status;
	snprintf(s->qname, sizeof(s->qname), "%s", res->qname);
}

static bool seen_done(void *arg)
{
	return ((struct seen *)arg)->n > 0;
}

static void test_unreachable(void)
{
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;
	struct oe_addr a = A("192.0.2.1"), a6 = A("2001:db8::1");
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sin);
	struct seen s = { 0 }, s6 = { 0 };
	char srv[64];
	uint64_t t0;

	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", ntohs(sin.sin_port));
	dk_lookup_conf_default(&c);
	c.nameservers = srv;
	c.timeout_ms = 100;
	c.tries = 1;
	c.rootkey_file = "";
	T_CHECK_INT(dk_resolver_new(&r, &c, NULL, NULL, NULL), 0);
	if (!r)
		return;
	t0 = oe_now_ms();
	T_CHECK_INT(dk_lookup_addr(r, &a, seen_cb, &s), 0);
	T_CHECK_INT(dk_poll_run(&r, 1, seen_done, &s, 3000), 0);
	T_CHECK(oe_now_ms() - t0 < 1000);
	T_CHECK_INT(s.n, 1);
	T_CHECK_INT(s.st, DK_L_TIMEOUT);
	T_CHECK_STR(s.qname, "1.2.0.192.in-addr.arpa.");
	/* Freeing with lookups in flight cancels them through their callbacks. */
	memset(&s, 0, sizeof(s));
	T_CHECK_INT(dk_lookup_addr(r, &a, seen_cb, &s), 0);
	T_CHECK_INT(dk_lookup_addr(r, &a, seen_cb, &s), 0);
	T_CHECK_INT(dk_lookup_addr(r, &a6, seen_cb, &s6), 0);
	T_CHECK_INT(dk_lookup_fqdn(r, "@bad..name", seen_cb, &s6), -EINVAL);
	dk_resolver_free(r);
	T_CHECK_INT(s.n, 2);
	T_CHECK_INT(s.st, DK_L_CANCELLED);
	T_CHECK_INT(s6.n, 1);
	T_CHECK_STR(s6.qname, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
			      "8.b.d.0.1.0.0.2.ip6.arpa.");
	close(fd);
}

/* Anchor files: DS and DNSKEY records are taken, other records ignored, a broken record is
 * reported as "path:line: why" and fails the resolver; a missing file too. */
static char diag_msg[512];

static void diag_keep(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	snprintf(diag_msg, sizeof(diag_msg), "%s", msg);
}

static int anchors_try(const char *text)
{
	char path[] = "/tmp/oet-anchors.XXXXXX";
	struct oe_diag d = { diag_keep, NULL, 0, 0 };
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;
	int fd = mkstemp(path), rc;

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		return -999;
	close(fd);
	dk_lookup_conf_default(&c);
	c.nameservers = "127.0.0.1:9";
	c.rootkey_file = "";
	c.anchors_file = path;
	diag_msg[0] = 0;
	rc = dk_resolver_new(&r, &c, NULL, NULL, &d);
	dk_resolver_free(r);
	unlink(path);
	return rc;
}

static void test_anchor_files(void)
{
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;
	struct oe_diag d = { diag_keep, NULL, 0, 0 };

	T_CHECK_INT(anchors_try("; comment\n"
				"oe.test. IN DS 12345 13 2 "
				"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
				"oe.test. 300 IN A 192.0.2.1\n"),
		    0);
	T_CHECK_INT(anchors_try("oe.test. IN DS 12345 13 2 0123\n"
				"oe.test. IN DS 1 bogus here\n"),
		    -EINVAL);
	T_CHECK(strstr(diag_msg, ":2: bad trust anchor record") != NULL);
	printf("# %s\n", diag_msg);
	T_CHECK_INT(anchors_try("oe.test. 300 IN A 192.0.2.1\n"), -EINVAL);
	T_CHECK(strstr(diag_msg, "no DS or DNSKEY records") != NULL);
	dk_lookup_conf_default(&c);
	c.rootkey_file = "/nonexistent/root.key";
	T_CHECK_INT(dk_resolver_new(&r, &c, NULL, NULL, &d), -ENOENT);
	T_CHECK(strstr(diag_msg, "/nonexistent/root.key: cannot read") != NULL);
	c.rootkey_file = "";
	c.nameservers = "not-an-address";
	T_CHECK_INT(dk_resolver_new(&r, &c, NULL, NULL, &d), -EINVAL);
	T_CHECK(r == NULL);
}

/* The whole-lookup deadline answers before c-ares's own retries run out (400 + 800 + 1600
 * ms here), and a resolver freed with the orphaned query still out stays clean. */
static void test_lookup_deadline(void)
{
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;
	struct oe_addr a = A("192.0.2.1");
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sin);
	struct seen s = { 0 };
	char srv[64];
	uint64_t t0, dt;

	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", ntohs(sin.sin_port));
	dk_lookup_conf_default(&c);
	c.nameservers = srv;
	c.timeout_ms = 400;
	c.tries = 3;
	c.lookup_timeout_ms = 700;
	c.rootkey_file = "";
	T_CHECK_INT(dk_resolver_new(&r, &c, NULL, NULL, NULL), 0);
	if (!r)
		return;
	t0 = oe_now_ms();
	T_CHECK_INT(dk_lookup_addr(r, &a, seen_cb, &s), 0);
	T_CHECK_INT(dk_poll_run(&r, 1, seen_done, &s, 5000), 0);
	dt = oe_now_ms() - t0;
	printf("# deadline 700 ms: answered after %llu ms\n", (unsigned long long)dt);
	T_CHECK_INT(s.st, DK_L_TIMEOUT);
	T_CHECK(dt >= 690 && dt < 1100);
	/* A new lookup of the name starts afresh (the timeout was not cached). */
	s.n = 0;
	T_CHECK_INT(dk_lookup_addr(r, &a, seen_cb, &s), 0);
	T_CHECK_INT(s.n, 0);
	dk_resolver_free(r);
	T_CHECK_INT(s.n, 1);
	close(fd);
}

/* Scripted answers through the transport hook (no network): how the validator treats a
 * server that refuses or drops the DNSKEY query of an anchored zone. */
struct script {
	int queries;
	ldns_rr_type last;
	enum dk_lookup_status dnskey_st; /* transport outcome for DNSKEY queries */
	ldns_pkt_rcode dnskey_rcode;
};

static int script_send(void *ctx, const ldns_rdf *name, ldns_rr_type type, dk_raw_fn *cb,
		       void *arg)
{
	struct script *sc = ctx;
	char *qn = ldns_rdf2str(name), rr[256];
	const char *ans[] = { rr, NULL };
	uint8_t m[1024];
	ldns_pkt *pkt = NULL;
	size_t n;

	sc->queries++;
	sc->last = type;
	if (type == LDNS_RR_TYPE_DNSKEY && sc->dnskey_st != DK_L_FOUND) {
		free(qn);
		cb(arg, sc->dnskey_st, NULL);
		return 0;
	}
	/* An unsigned key record for the name, or an empty DNSKEY answer with the rcode. */
	snprintf(rr, sizeof(rr), "%s 300 IN IPSECKEY 10 0 4 . %s", qn,
		 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	n = make_msg(m, sizeof(m), type == LDNS_RR_TYPE_DNSKEY ? sc->dnskey_rcode : 0, qn, type,
		     type == LDNS_RR_TYPE_IPSECKEY ? ans : NULL, NULL);
	free(qn);
	if (ldns_wire2pkt(&pkt, m, n) != LDNS_STATUS_OK)
		return -EINVAL;
	cb(arg, DK_L_FOUND, pkt);
	ldns_pkt_free(pkt);
	return 0;
}

static void scripted(struct script *sc, enum dk_lookup_status want, enum dk_val wval)
{
	char path[] = "/tmp/oet-anchors.XXXXXX";
	static const char ds[] =
		"oe.test. IN DS 1 13 2 "
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;
	struct seen s = { 0 };
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, ds, strlen(ds)) < 0)
		return;
	close(fd);
	dk_lookup_conf_default(&c);
	c.nameservers = "127.0.0.1:9";
	c.rootkey_file = "";
	c.anchors_file = path;
	T_CHECK_INT(dk_resolver_new(&r, &c, NULL, NULL, NULL), 0);
	unlink(path);
	if (!r)
		return;
	r->send_hook = script_send;
	r->send_ctx = sc;
	T_CHECK_INT(dk_lookup_fqdn(r, "@host.oe.test", seen_cb, &s), 0);
	T_CHECK_INT(s.n, 1); /* everything answered synchronously by the script */
	T_CHECK_INT(s.st, want);
	T_CHECK_INT(sc->queries, 2);    /* IPSECKEY, then the anchor's DNSKEY; no fallback */
	T_CHECK_INT(sc->last, LDNS_RR_TYPE_DNSKEY);
	/* Not cached when undecided: the next lookup asks again. */
	T_CHECK_INT(dk_lookup_fqdn(r, "@host.oe.test", seen_cb, &s), 0);
	T_CHECK_INT(sc->queries, wval == DK_VAL_INDETERMINATE ? 4 : 2);
	dk_resolver_free(r);
}

static void test_validator_scripted(void)
{
	struct script refused = { .dnskey_st = DK_L_FOUND, .dnskey_rcode = LDNS_RCODE_REFUSED };
	struct script timeout = { .dnskey_st = DK_L_TIMEOUT };
	struct script empty = { .dnskey_st = DK_L_FOUND, .dnskey_rcode = LDNS_RCODE_NOERROR };

	/* Undecidable: deny now, but do not remember it. */
	scripted(&refused, DK_L_SERVFAIL, DK_VAL_INDETERMINATE);
	scripted(&timeout, DK_L_SERVFAIL, DK_VAL_INDETERMINATE);
	/* An anchored zone without keys: bogus, and that is cached for a while. */
	scripted(&empty, DK_L_BOGUS, DK_VAL_BOGUS);
}

static struct {
	struct dk_cache *c;
	struct seen *victim;
} cancel_other;

static void cancel_cb(void *arg, const struct dk_result *res)
{
	seen_cb(arg, res);
	dk_cache_unwait(cancel_other.c, seen_cb, cancel_other.victim);
}

/* The cache alone (internal API): TTL expiry, the entry cap evicting the oldest entry,
 * joining an entry in flight, and no storing of TTL-0 results. */
static void test_cache(void)
{
	struct dk_cache *c = dk_cache_new(2);
	const struct dk_result *hit = NULL;
	struct dk_centry *e[4] = { NULL };
	struct dk_result res = { .status = DK_L_NODATA, .ttl = 10 };
	struct seen s = { 0 }, s6 = { 0 };
	const char *names[] = { "a.test.", "b.test.", "c.test.", "d.test." };

	if (!c)
		return;
	for (int i = 0; i < 3; i++) {
		T_CHECK_INT(dk_cache_lookup(c, names[i], 1000 + i, seen_cb, &s, &hit, &e[i]),
			    DK_CACHE_MISS);
		T_CHECK_INT(dk_cache_lookup(c, names[i], 1000 + i, seen_cb, &s, &hit, &e[3]),
			    DK_CACHE_JOINED);
		dk_cache_complete(c, e[i], &res, 1000 + i);
	}
	T_CHECK_INT(s.n, 6); /* every waiter told */
	T_CHECK_INT(dk_cache_count(c), 2);
	/* a.test. was the oldest: evicted; B. (any case) and c. are hits until they expire. */
	T_CHECK_INT(dk_cache_lookup(c, "B.TEST.", 5000, seen_cb, &s, &hit, &e[3]), DK_CACHE_HIT);
	T_CHECK(hit && hit->cached && hit->status == DK_L_NODATA);
	T_CHECK_INT(dk_cache_lookup(c, "c.test.", 5000, seen_cb, &s, &hit, &e[3]), DK_CACHE_HIT);
	T_CHECK_INT(dk_cache_lookup(c, "c.test.", 12002, seen_cb, &s, &hit, &e[3]),
		    DK_CACHE_MISS);
	res.ttl = 0; /* e.g. a timeout: delivered, not kept */
	dk_cache_complete(c, e[3], &res, 12002);
	T_CHECK_INT(dk_cache_lookup(c, "c.test.", 12003, seen_cb, &s, &hit, &e[3]),
		    DK_CACHE_MISS);
	T_CHECK_INT(dk_cache_lookup(c, "a.test.", 12003, seen_cb, &s, &hit, &e[0]),
		    DK_CACHE_MISS);
	/* A waiter that goes away first is withdrawn and never called. */
	T_CHECK_INT(dk_cache_lookup(c, "a.test.", 12003, seen_cb, &s6, &hit, &e[1]),
		    DK_CACHE_JOINED);
	T_CHECK_INT(dk_cache_unwait(c, seen_cb, &s6), 1);
	T_CHECK_INT(dk_cache_unwait(c, seen_cb, &s6), 0);
	/* A waiter that cancels another waiter of the same result while being told: obeyed. */
	{
		struct seen first = { 0 }, second = { 0 };
		struct dk_centry *ce = NULL;

		cancel_other.c = c;
		cancel_other.victim = &second;
		T_CHECK_INT(dk_cache_lookup(c, "e.test.", 12003, cancel_cb, &first, &hit, &ce),
			    DK_CACHE_MISS);
		T_CHECK_INT(dk_cache_lookup(c, "e.test.", 12003, seen_cb, &second, &hit, &e[3]),
			    DK_CACHE_JOINED);
		dk_cache_complete(c, ce, &res, 12004);
		T_CHECK_INT(first.n, 1);
		T_CHECK_INT(second.n, 0);
	}
	s.n = 0;
	dk_cache_free(c); /* the two in flight are cancelled */
	T_CHECK_INT(s.n, 2);
	T_CHECK_INT(s.st, DK_L_CANCELLED);
	T_CHECK_INT(s6.n, 0);
}

/* The owner's event loop is told which fds to watch through the callback, and can drive the
 * resolver from that alone; the sockets carry the configured SO_MARK. */
struct watched {
	int fd;
	bool r, w;
	int calls;
	uint32_t mark;
};

static void watch_cb(void *arg, int fd, bool want_read, bool want_write)
{
	struct watched *w = arg;
	uint32_t mark = 0;
	socklen_t ml = sizeof(mark);

	w->calls++;
	w->fd = fd;
	w->r = want_read;
	w->w = want_write;
	if ((want_read || want_write) && getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &ml) == 0)
		w->mark = mark;
}

static void test_watch_and_mark(void)
{
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;
	struct oe_addr a = A("192.0.2.1");
	struct watched w = { .fd = -1 };
	struct seen s = { 0 };
	uint64_t end;

	dk_lookup_conf_default(&c);
	c.nameservers = "127.0.0.1:9"; /* discard port: the ICMP error ends the query */
	c.timeout_ms = 200;
	c.tries = 1;
	c.rootkey_file = "";
	c.sock_mark = 0x4f45;
	T_CHECK_INT(dk_resolver_new(&r, &c, watch_cb, &w, NULL), 0);
	if (!r)
		return;
	T_CHECK_INT(dk_lookup_addr(r, &a, seen_cb, &s), 0);
	end = oe_now_ms() + 2000;
	while (!s.n && oe_now_ms() < end) {
		struct pollfd p = { w.fd, (short)((w.r ? POLLIN : 0) | (w.w ? POLLOUT : 0)), 0 };
		int t = dk_resolver_next_timeout_ms(r);

		if (poll(&p, w.fd >= 0 && (w.r || w.w) ? 1 : 0, t < 0 ? 100 : t) > 0)
			dk_resolver_process(r, w.fd, p.revents & (POLLIN | POLLERR),
					    p.revents & POLLOUT);
		else
			dk_resolver_process(r, -1, false, false);
	}
	T_CHECK_INT(s.n, 1);
	T_CHECK(w.calls >= 1);
	printf("# port 9: %s, mark 0x%x\n", dk_lookup_status_name(s.st), w.mark);
	if (geteuid() == 0) {
		T_CHECK_INT(w.mark, 0x4f45);
		T_CHECK(s.st == DK_L_REFUSED || s.st == DK_L_NETWORK || s.st == DK_L_TIMEOUT);
	} else {
		T_CHECK_INT(s.st, DK_L_NETWORK); /* SO_MARK needs CAP_NET_ADMIN */
	}
	dk_resolver_free(r);
	T_CHECK(!w.r && !w.w); /* told to stop watching */
}

/* ---- against the real server (dns.sh) ---- */

static const char *server, *anchors;

struct got {
	int n;
	struct dk_result res;
	uint64_t at_ms;
};

static void on_res(void *arg, const struct dk_result *r)
{
	struct got *g = arg;

	if (g->n++ == 0)
		dk_result_copy(&g->res, r);
	g->at_ms = oe_now_ms();
}

static bool got_done(void *arg)
{
	return ((struct got *)arg)->n > 0;
}

static struct dk_resolver *mkres(bool dnssec, const char *srv, unsigned timeout_ms)
{
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;

	dk_lookup_conf_default(&c);
	c.nameservers = srv;
	c.dnssec = dnssec;
	c.rootkey_file = "";
	c.anchors_file = anchors;
	c.timeout_ms = timeout_ms;
	c.tries = 1;
	if (dk_resolver_new(&r, &c, NULL, NULL, NULL) < 0)
		printf("# dk_resolver_new failed\n");
	return r;
}

static struct dk_resolver *R; /* the shared validating resolver */

/* Looks id up ("addr" or "@fqdn") on r and waits for the result. */
static struct got look(struct dk_resolver *r, const char *id)
{
	struct got g = { 0 };
	int rc;

	if (id[0] == '@') {
		rc = dk_lookup_fqdn(r, id, on_res, &g);
	} else {
		struct oe_addr a = A(id);

		rc = dk_lookup_addr(r, &a, on_res, &g);
	}
	if (rc == 0)
		rc = dk_poll_run(&r, 1, got_done, &g, 8000);
	if (rc < 0)
		printf("# %s: %s\n", id, strerror(-rc));
	if (g.n)
		printf("# %s: %s (%s): %s\n", id, dk_lookup_status_name(g.res.status),
		       dk_val_name(g.res.val), g.res.reason);
	return g;
}

static const char *env(const char *n)
{
	const char *v = getenv(n);

	return v ? v : "(unset)";
}

static void check_one(struct got *g, uint16_t type, uint8_t gwt, uint8_t alg, const char *kid)
{
	T_CHECK_INT(g->res.status, DK_L_FOUND);
	T_CHECK_INT(g->res.val, DK_VAL_SECURE);
	T_CHECK_INT(g->res.nfound, 1);
	if (g->res.nfound < 1)
		return;
	T_CHECK_INT(g->res.found[0].rrtype, type);
	T_CHECK_INT(g->res.found[0].gw_type, gwt);
	T_CHECK_INT(g->res.found[0].key.alg, alg);
	if (kid) {
		T_CHECK_STR(g->res.found[0].keyid, kid);
		T_CHECK(g->res.found[0].pkey != NULL);
	}
}

static void test_ipseckey_rsa_nogw(void)
{
	struct got g = look(R, "192.0.2.1");

	check_one(&g, DK_RR_IPSECKEY, DK_GW_NONE, DK_ALG_RSA, env("DK_T_RSA"));
	T_CHECK(g.res.ttl > 0 && g.res.ttl <= 300);
	dk_result_clear(&g.res);
}

static void test_ipseckey_ecdsa_v4gw(void)
{
	struct got g = look(R, "192.0.2.2");
	struct oe_addr gw = A("192.0.2.2");

	check_one(&g, DK_RR_IPSECKEY, DK_GW_IPV4, DK_ALG_ECDSA, env("DK_T_EC"));
	T_CHECK(g.res.nfound && oe_addr_eq(&g.res.found[0].gw_addr, &gw));
	dk_result_clear(&g.res);
}

static void test_ipseckey_eddsa_v6gw(void)
{
	struct got g = look(R, "2001:db8::1");
	struct oe_addr gw = A("2001:db8::1");

	check_one(&g, DK_RR_IPSECKEY, DK_GW_IPV6, DK_ALG_EDDSA, env("DK_T_ED"));
	T_CHECK(g.res.nfound && oe_addr_eq(&g.res.found[0].gw_addr, &gw));
	dk_result_clear(&g.res);
}

static void test_ipseckey_namegw_fqdn(void)
{
	struct got g = look(R, "@host.oe.test");

	check_one(&g, DK_RR_IPSECKEY, DK_GW_NAME, DK_ALG_RSA, env("DK_T_RSA"));
	if (g.res.nfound)
		T_CHECK_STR(g.res.found[0].gw_name, "gw.oe.test.");
	dk_result_clear(&g.res);
}

/* An answer synthesised from *.wild.oe.test. (RFC 4035 §5.3.4: signature over the wildcard
 * owner, plus an NSEC proving the name itself absent). */
static void test_wildcard(void)
{
	struct got g = look(R, "@x.wild.oe.test");

	check_one(&g, DK_RR_IPSECKEY, DK_GW_NONE, DK_ALG_EDDSA, env("DK_T_ED"));
	dk_result_clear(&g.res);
}

/* Keys are not looked for behind a CNAME; the CNAME itself validates, so "none" is secure. */
static void test_cname_not_followed(void)
{
	struct got g = look(R, "@alias.oe.test");

	T_CHECK_INT(g.res.status, DK_L_NODATA);
	T_CHECK_INT(g.res.val, DK_VAL_SECURE);
	dk_result_clear(&g.res);
}

static void test_precedence_order(void)
{
	struct got g = look(R, "192.0.2.5");

	T_CHECK_INT(g.res.status, DK_L_FOUND);
	T_CHECK_INT(g.res.nfound, 3);
	for (size_t i = 0; i < g.res.nfound && i < 3; i++)
		T_CHECK_INT(g.res.found[i].precedence, 10 * (i + 1));
	dk_result_clear(&g.res);
}

static void test_txt_single(void)
{
	struct got g = look(R, "192.0.2.6");

	check_one(&g, DK_RR_TXT, DK_GW_IPV4, 0, NULL);
	if (g.res.nfound) {
		T_CHECK_INT(g.res.found[0].key.len, 0);
		T_CHECK_INT(g.res.found[0].precedence, 10);
	}
	dk_result_clear(&g.res);
}

static void test_txt_split(void)
{
	struct got g = look(R, "192.0.2.7");

	check_one(&g, DK_RR_TXT, DK_GW_IPV4, DK_ALG_RSA, env("DK_T_RSA"));
	dk_result_clear(&g.res);
}

static void test_key_rr(void)
{
	struct got g = look(R, "192.0.2.8");

	check_one(&g, DK_RR_KEY, DK_GW_NONE, DK_ALG_RSA, env("DK_T_RSA"));
	dk_result_clear(&g.res);
}

/* Negative answers: validated, cached for the SOA minimum, a second lookup sends nothing. */
static void check_negative(const char *id, enum dk_lookup_status want)
{
	struct dk_stats s1, s2;
	struct got g = look(R, id), g2;

	T_CHECK_INT(g.res.status, want);
	T_CHECK_INT(g.res.val, DK_VAL_SECURE);
	T_CHECK(g.res.ttl > 0 && g.res.ttl <= 60);
	T_CHECK(!g.res.cached);
	dk_resolver_stats(R, &s1);
	g2 = look(R, id);
	dk_resolver_stats(R, &s2);
	T_CHECK_INT(g2.res.status, want);
	T_CHECK(g2.res.cached);
	T_CHECK_INT(s2.queries - s1.queries, 0);
	dk_result_clear(&g.res);
	dk_result_clear(&g2.res);
}

static void test_nxdomain_cached(void)
{
	check_negative("192.0.2.99", DK_L_NXDOMAIN);
}

static void test_nodata_cached(void)
{
	check_negative("192.0.2.9", DK_L_NODATA);
}

/* The IPv6 reverse zone is signed with NSEC3 (RFC 5155). */
static void test_nsec3_nxdomain(void)
{
	check_negative("2001:db8::99", DK_L_NXDOMAIN);
}

/* A server that never answers: that lookup times out on time, and a lookup on a working
 * resolver in the same loop is not held up by it. */
static bool both_done(void *arg)
{
	struct got *g = arg;

	return g[0].n && g[1].n;
}

static void test_dead_server(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sin);
	struct dk_resolver *rs[2];
	struct got g[2];
	struct oe_addr a = A("192.0.2.2");
	char srv[64];
	uint64_t t0;

	memset(g, 0, sizeof(g));
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", ntohs(sin.sin_port));
	rs[0] = mkres(true, srv, 700);
	rs[1] = mkres(true, server, 700);
	if (!rs[0] || !rs[1])
		goto out;
	t0 = oe_now_ms();
	dk_lookup_addr(rs[0], &a, on_res, &g[0]);
	dk_lookup_addr(rs[1], &a, on_res, &g[1]);
	T_CHECK_INT(dk_poll_run(rs, 2, both_done, g, 5000), 0);
	T_CHECK_INT(g[0].res.status, DK_L_TIMEOUT);
	T_CHECK_INT(g[1].res.status, DK_L_FOUND);
	printf("# dead server gave up after %llu ms; working server answered after %llu ms\n",
	       (unsigned long long)(g[0].at_ms - t0), (unsigned long long)(g[1].at_ms - t0));
	T_CHECK(g[0].at_ms - t0 >= 650 && g[0].at_ms - t0 < 1500);
	T_CHECK(g[1].at_ms - t0 < 400);
	dk_result_clear(&g[0].res);
	dk_result_clear(&g[1].res);
out:
	dk_resolver_free(rs[0]);
	dk_resolver_free(rs[1]);
	close(fd);
}

static void test_bogus_denied(void)
{
	struct got g = look(R, "@host.bad.test");

	T_CHECK_INT(g.res.status, DK_L_BOGUS);
	T_CHECK_INT(g.res.val, DK_VAL_BOGUS);
	T_CHECK_INT(g.res.nfound, 0);
	dk_result_clear(&g.res);
}

/* A zone with a trust anchor whose signatures an attacker stripped is not "insecure". */
static void test_stripped_denied(void)
{
	struct got g = look(R, "@host.stripped.test");

	T_CHECK_INT(g.res.status, DK_L_BOGUS);
	T_CHECK_INT(g.res.val, DK_VAL_BOGUS);
	dk_result_clear(&g.res);
}

static void test_insecure_delegation(void)
{
	struct got g = look(R, "@self.unsigned.oe.test"), h = look(R, "@other.unsigned.oe.test");
	struct got k = look(R, "@none.unsigned.oe.test");

	T_CHECK_INT(g.res.status, DK_L_FOUND);
	T_CHECK_INT(g.res.val, DK_VAL_INSECURE);
	T_CHECK_INT(h.res.status, DK_L_GATEWAY);
	T_CHECK_INT(h.res.val, DK_VAL_INSECURE);
	T_CHECK_INT(h.res.nfound, 0);
	T_CHECK_INT(k.res.status, DK_L_FOUND);
	dk_result_clear(&g.res);
	dk_result_clear(&h.res);
	dk_result_clear(&k.res);
}

/* The secure walk through an empty non-terminal (NSEC) and through NSEC3 hashed names. */
static void test_insecure_below_ent(void)
{
	struct got g = look(R, "@self.sub.ent.oe.test"), h = look(R, "2001:db8:0:2::10");
	struct got k = look(R, "2001:db8:0:2::11");

	T_CHECK_INT(g.res.status, DK_L_FOUND);
	T_CHECK_INT(g.res.val, DK_VAL_INSECURE);
	T_CHECK_INT(h.res.status, DK_L_FOUND);
	T_CHECK_INT(h.res.val, DK_VAL_INSECURE);
	T_CHECK_INT(k.res.status, DK_L_GATEWAY);
	dk_result_clear(&g.res);
	dk_result_clear(&h.res);
	dk_result_clear(&k.res);
}

static void test_no_anchor_reverse(void)
{
	struct got g = look(R, "198.51.100.10"), h = look(R, "198.51.100.11");

	T_CHECK_INT(g.res.status, DK_L_FOUND);
	T_CHECK_INT(g.res.val, DK_VAL_INSECURE);
	T_CHECK_INT(h.res.status, DK_L_GATEWAY);
	dk_result_clear(&g.res);
	dk_result_clear(&h.res);
}

static void test_dnssec_off(void)
{
	struct dk_resolver *r = mkres(false, server, 2000);
	struct got g, h;

	if (!r)
		return;
	g = look(r, "@self.unsigned.oe.test");
	h = look(r, "@other.unsigned.oe.test");
	T_CHECK_INT(g.res.status, DK_L_FOUND);
	T_CHECK_INT(g.res.val, DK_VAL_INSECURE);
	T_CHECK_INT(h.res.status, DK_L_GATEWAY);
	dk_result_clear(&g.res);
	dk_result_clear(&h.res);
	dk_resolver_free(r);
}

static void test_tcp_fallback(void)
{
	struct got g = look(R, "192.0.2.20");

	T_CHECK_INT(g.res.status, DK_L_FOUND);
	T_CHECK_INT(g.res.val, DK_VAL_SECURE);
	T_CHECK_INT(g.res.nfound, 40);
	dk_result_clear(&g.res);
}

static bool count_done(void *arg)
{
	return ((struct got *)arg)->n >= 1000;
}

static void count_res(void *arg, const struct dk_result *r)
{
	struct got *g = arg;

	if (r->status == DK_L_FOUND)
		g->n++;
}

static void test_inflight_dedup(void)
{
	struct dk_resolver *r1 = mkres(true, server, 2000), *r2 = mkres(true, server, 2000);
	struct oe_addr a = A("192.0.2.1");
	struct dk_stats s1, s2;
	struct got g = { 0 };

	if (!r1 || !r2)
		goto out;
	g = look(r1, "192.0.2.1");
	dk_result_clear(&g.res);
	dk_resolver_stats(r1, &s1);
	memset(&g, 0, sizeof(g));
	for (int i = 0; i < 1000; i++)
		dk_lookup_addr(r2, &a, count_res, &g);
	T_CHECK_INT(dk_poll_run(&r2, 1, count_done, &g, 8000), 0);
	dk_resolver_stats(r2, &s2);
	printf("# one lookup: %llu queries; 1000 concurrent: %llu queries, %llu joined\n",
	       (unsigned long long)s1.queries, (unsigned long long)s2.queries,
	       (unsigned long long)s2.joined);
	T_CHECK_INT(g.n, 1000);
	T_CHECK_INT(s2.queries, s1.queries);
	T_CHECK_INT(s2.joined, 999);
out:
	dk_resolver_free(r1);
	dk_resolver_free(r2);
}

/* A caller that goes away withdraws its callback; the lookup still completes for others. */
static void test_cancel(void)
{
	struct dk_resolver *r = mkres(true, server, 2000);
	struct oe_addr a = A("192.0.2.2");
	struct got g1 = { 0 }, g2 = { 0 };

	if (!r)
		return;
	T_CHECK_INT(dk_lookup_addr(r, &a, on_res, &g1), 0);
	T_CHECK_INT(dk_lookup_addr(r, &a, on_res, &g2), 0);
	T_CHECK_INT(dk_lookup_cancel(r, on_res, &g1), 1);
	T_CHECK_INT(dk_poll_run(&r, 1, got_done, &g2, 8000), 0);
	T_CHECK_INT(g1.n, 0);
	T_CHECK_INT(g2.res.status, DK_L_FOUND);
	dk_result_clear(&g2.res);
	dk_resolver_free(r);
}

/* Every signature the shared resolver checked was also checked by ldns (a disagreement
 * aborts): the fast path must also have accepted every good one (ECDSA P-256 zones here). */
static void test_fast_verify_agrees(void)
{
	struct dk_stats st;

	dk_resolver_stats(R, &st);
	printf("# %llu signature checks, fast path declined %zu good ones\n",
	       (unsigned long long)st.validations, R->fast_declined);
	T_CHECK(st.validations > 20);
	T_CHECK_INT(R->fast_declined, 0);
}

static int gen(void)
{
	static const enum dk_keytype kt[] = { DK_KT_RSA, DK_KT_ECDSA_P256, DK_KT_ED25519 };
	static const char *const nm[] = { "RSA", "EC", "ED" };

	for (int i = 0; i < 3; i++) {
		EVP_PKEY *pk = NULL;
		struct dk_pubkey k;
		char b64[4096], kid[DK_KEYID_LEN + 1];

		if (dk_hostkey_generate(kt[i], 2048, &pk) < 0 || dk_pubkey_encode(pk, &k) != DK_OK)
			return 1;
		oe_b64_encode(k.b, k.len, b64);
		dk_keyid(k.b, k.len, kid);
		printf("%s_B64=%s\n%s_KEYID=%s\n", nm[i], b64, nm[i], kid);
		EVP_PKEY_free(pk);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "gen") == 0)
		return gen();
	if (argc > 3 && strcmp(argv[1], "server") == 0) {
		server = argv[2];
		anchors = argv[3];
		R = mkres(true, server, 2000);
		if (!R)
			return 1;
		R->verify_both = true; /* every signature also checked by ldns */
		T_RUN(test_ipseckey_rsa_nogw);
		T_RUN(test_ipseckey_ecdsa_v4gw);
		T_RUN(test_ipseckey_eddsa_v6gw);
		T_RUN(test_ipseckey_namegw_fqdn);
		T_RUN(test_wildcard);
		T_RUN(test_cname_not_followed);
		T_RUN(test_precedence_order);
		T_RUN(test_txt_single);
		T_RUN(test_txt_split);
		T_RUN(test_key_rr);
		T_RUN(test_nxdomain_cached);
		T_RUN(test_nodata_cached);
		T_RUN(test_nsec3_nxdomain);
		T_RUN(test_dead_server);
		T_RUN(test_bogus_denied);
		T_RUN(test_stripped_denied);
		T_RUN(test_insecure_delegation);
		T_RUN(test_insecure_below_ent);
		T_RUN(test_no_anchor_reverse);
		T_RUN(test_dnssec_off);
		T_RUN(test_tcp_fallback);
		T_RUN(test_inflight_dedup);
		T_RUN(test_cancel);
		T_RUN(test_fast_verify_agrees);
		dk_resolver_free(R);
		return t_done();
	}
	T_RUN(test_nxdomain_nosoa);
	T_RUN(test_policy);
	T_RUN(test_negative_ttl);
	T_RUN(test_malformed);
	T_RUN(test_strings);
	T_RUN(test_unreachable);
	T_RUN(test_watch_and_mark);
	T_RUN(test_cache);
	T_RUN(test_anchor_files);
	T_RUN(test_lookup_deadline);
	T_RUN(test_validator_scripted);
	return t_done();
}
