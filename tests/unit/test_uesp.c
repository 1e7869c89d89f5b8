/* The uesp kern_ops backend without a queue (kernel/kern_uesp.c): two ends with mirrored
 * Child SAs; a packet of the pair is encrypted by one and decrypted by the other into the
 * same bytes; unknown pairs and SPIs are dropped; a replay is refused; counters through
 * query; a rekey (update) moves outbound traffic to the new SA while the old one still
 * decrypts until removed (one we answered for: once the peer is ready); the rules text
 * sends tunnel pairs and ESP to the ESP queue. The SA table against a naive list with
 * thousands of SAs in random order; the path MTU decisions (ICMP too-big, fragments, the
 * PMTU we caused) with a fake kernel PMTU and a fake sender. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel.h"
#include "oe_buf.h"
#include "t.h"

static struct oe_addr addr(const char *s)
{
	struct oe_addr a;

	if (!oe_addr_parse(&a, s, strlen(s)))
		abort();
	return a;
}

static struct kern_child_sa child(uint32_t in, uint32_t out, const char *l, const char *r)
{
	struct kern_child_sa sa;

	memset(&sa, 0, sizeof(sa));
	sa.spi_in = in;
	sa.spi_out = out;
	sa.encr = KERN_ESP_AES_GCM_16;
	sa.key_len = 16;
	for (unsigned i = 0; i < KERN_ESP_KEY_MAX; i++) {
		sa.key_in[i] = (uint8_t)(i * 7 + in);
		sa.key_out[i] = (uint8_t)(i * 7 + out);
	}
	memcpy(sa.salt_in, &in, 4);
	memcpy(sa.salt_out, &out, 4);
	sa.mode = KERN_MODE_TUNNEL;
	sa.local = addr(l);
	sa.remote = addr(r);
	sa.sel.src = oe_prefix_host(&sa.local);
	sa.sel.dst = oe_prefix_host(&sa.remote);
	return sa;
}

/* An ICMP echo request src -> dst (IPv4, with its header checksum). */
static size_t ping(const char *src, const char *dst, uint8_t *p)
{
	struct oe_addr s = addr(src), d = addr(dst);
	uint32_t sum = 0;

	memset(p, 0, 84);
	p[0] = 0x45;
	p[3] = 84;
	p[8] = 64;
	p[9] = 1;
	memcpy(p + 12, s.b, 4);
	memcpy(p + 16, d.b, 4);
	p[20] = 8;
	for (int i = 28; i < 84; i++)
		p[i] = (uint8_t)i;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	p[10] = (uint8_t)(~sum >> 8);
	p[11] = (uint8_t)~sum;
	return 84;
}

static void test_round_trip_and_rekey(void)
{
	struct kern_uesp *a, *b;
	struct kern_child_sa sa = child(0x1001, 0x2001, "192.0.2.1", "192.0.2.2");
	struct kern_child_sa sb = child(0x2001, 0x1001, "192.0.2.2", "192.0.2.1");
	struct kern_child_sa na = child(0x1002, 0x2002, "192.0.2.1", "192.0.2.2");
	struct kern_child_sa nb = child(0x2002, 0x1002, "192.0.2.2", "192.0.2.1");
	struct kern_sa_counters ct;
	struct kern_uesp_stats st;
	uint8_t in[128], esp[256], out[256], esp2[256];
	size_t n = ping("192.0.2.1", "192.0.2.2", in), e, d, e2;
	uint32_t spi;

	T_CHECK_INT(kern_uesp_open(0, 0, &a), 0);
	T_CHECK_INT(kern_uesp_open(0, 0, &b), 0);
	T_CHECK_INT(kern_uesp_fd(a), -1);
	T_CHECK_INT(kern_uesp_process(a, in, n, esp, sizeof(esp)), 0); /* no SA yet */
	T_CHECK_INT(kern_uesp_ops.install(a, &sa), 0);
	T_CHECK_INT(kern_uesp_ops.install(b, &sb), 0);
	T_CHECK_INT(kern_uesp_ops.install(a, &sa), -EEXIST);
	e = kern_uesp_process(a, in, n, esp, sizeof(esp));
	T_CHECK(e > n);
	T_CHECK_INT(esp[9], 50); /* raw ESP */
	T_CHECK_INT(kern_esp_peek_spi(esp, e, &spi), KERN_ESP_OK);
	T_CHECK_INT(spi, 0x2001);
	d = kern_uesp_process(b, esp, e, out, sizeof(out));
	T_CHECK_INT(d, n);
	T_CHECK(memcmp(out, in, n) == 0);
	T_CHECK_INT(kern_uesp_process(b, esp, e, out, sizeof(out)), 0); /* replayed */
	memcpy(esp2, esp, e); /* the same packet as if from b: SPI 0x2001 is not a's */
	memcpy(esp2 + 12, esp + 16, 4);
	memcpy(esp2 + 16, esp + 12, 4);
	T_CHECK_INT(kern_uesp_process(a, esp2, e, out, sizeof(out)), 0);
	T_CHECK_INT(kern_uesp_ops.query(a, &sa, &ct), 0);
	T_CHECK_INT(ct.packets_out, 1);
	T_CHECK(ct.last_use_ms > 0);
	T_CHECK_INT(kern_uesp_ops.query(b, &sb, &ct), 0);
	T_CHECK_INT(ct.packets_in, 1);
	/* rekey: a sends with the new SA; b still decrypts the old one until it is removed */
	e = kern_uesp_process(a, in, n, esp, sizeof(esp)); /* old SA, in flight */
	T_CHECK_INT(kern_uesp_ops.update(a, &sa, &na), 0);
	T_CHECK_INT(kern_uesp_ops.update(b, &sb, &nb), 0);
	e2 = kern_uesp_process(a, in, n, esp2, sizeof(esp2));
	T_CHECK_INT(kern_esp_peek_spi(esp2, e2, &spi), KERN_ESP_OK);
	T_CHECK_INT(spi, 0x2002);
	T_CHECK_INT(kern_uesp_process(b, esp2, e2, out, sizeof(out)), n);
	T_CHECK_INT(kern_uesp_process(b, esp, e, out, sizeof(out)), n);
	T_CHECK_INT(kern_uesp_ops.remove(b, &sb), 0);
	T_CHECK_INT(kern_uesp_ops.remove(b, &sb), -ENOENT);
	T_CHECK_INT(kern_uesp_ops.query(b, &sb, &ct), -ENOENT);
	kern_uesp_stats_get(b, &st);
	T_CHECK_INT(st.decrypted, 3);
	T_CHECK(st.errors >= 1 && st.no_sa == 0);
	kern_uesp_stats_get(a, &st);
	T_CHECK_INT(st.encrypted, 3);
	T_CHECK_INT(st.no_sa, 2);
	kern_uesp_close(a);
	kern_uesp_close(b);
}

/* The spi_out of b's next packet of the pair (0 when b sends nothing). */
static uint32_t sends_on(struct kern_uesp *u, const uint8_t *pkt, size_t n, uint8_t *esp,
			 size_t cap, size_t *len)
{
	uint32_t spi = 0;

	*len = kern_uesp_process(u, pkt, n, esp, cap);
	if (*len && kern_esp_peek_spi(esp, *len, &spi) != KERN_ESP_OK)
		return 0;
	return spi;
}

/* A rekey b answered (outbound_later, RFC 7296 §2.8): the new SA decrypts at once, but b
 * keeps sending on the old one until a's first packet on the new one arrives (a installed
 * it on b's answer), or until the old one is removed. Sending at once loses the packets
 * that reach a before b's answer (seen with strongSwan). */
static void test_rekey_answer_waits(void)
{
	struct kern_uesp *a, *b;
	struct kern_child_sa sa = child(0x1001, 0x2001, "192.0.2.1", "192.0.2.2");
	struct kern_child_sa sb = child(0x2001, 0x1001, "192.0.2.2", "192.0.2.1");
	struct kern_child_sa na = child(0x1002, 0x2002, "192.0.2.1", "192.0.2.2");
	struct kern_child_sa nb = child(0x2002, 0x1002, "192.0.2.2", "192.0.2.1");
	struct kern_child_sa nb2 = child(0x2003, 0x1003, "192.0.2.2", "192.0.2.1");
	uint8_t pa[128], pb[128], esp[256], out[256];
	size_t n = ping("192.0.2.1", "192.0.2.2", pa), e;

	ping("192.0.2.2", "192.0.2.1", pb);
	T_CHECK_INT(kern_uesp_open(0, 0, &a), 0);
	T_CHECK_INT(kern_uesp_open(0, 0, &b), 0);
	T_CHECK_INT(kern_uesp_ops.install(a, &sa), 0);
	T_CHECK_INT(kern_uesp_ops.install(b, &sb), 0);
	nb.outbound_later = nb2.outbound_later = true;
	T_CHECK_INT(kern_uesp_ops.update(b, &sb, &nb), 0);
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1001); /* a has no 0x1002 yet */
	T_CHECK_INT(kern_uesp_process(a, esp, e, out, sizeof(out)), n);
	T_CHECK_INT(kern_uesp_ops.update(a, &sa, &na), 0); /* b's answer arrived */
	T_CHECK_INT(sends_on(a, pa, n, esp, sizeof(esp), &e), 0x2002);
	T_CHECK_INT(kern_uesp_process(b, esp, e, out, sizeof(out)), n);
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1002); /* a is ready */
	T_CHECK_INT(kern_uesp_process(a, esp, e, out, sizeof(out)), n);
	/* the next rekey: the old SA goes before a sent anything on the new one */
	T_CHECK_INT(kern_uesp_ops.update(b, &nb, &nb2), 0);
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1002);
	T_CHECK_INT(kern_uesp_ops.remove(b, &nb), 0);
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1003);
	T_CHECK_INT(kern_uesp_ops.remove(b, &nb2), 0);
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0); /* no SA left */
	kern_uesp_close(a);
	kern_uesp_close(b);
}

/* An SA b installs for a pair that has one (its IKE_AUTH answer to a reauthentication,
 * outbound_later): the same wait as for a rekey, over install instead of update. */
static void test_reauth_answer_waits(void)
{
	struct kern_uesp *a, *b;
	struct kern_child_sa sa = child(0x1001, 0x2001, "192.0.2.1", "192.0.2.2");
	struct kern_child_sa sb = child(0x2001, 0x1001, "192.0.2.2", "192.0.2.1");
	struct kern_child_sa na = child(0x1002, 0x2002, "192.0.2.1", "192.0.2.2");
	struct kern_child_sa nb = child(0x2002, 0x1002, "192.0.2.2", "192.0.2.1");
	struct kern_child_sa nb2 = child(0x2003, 0x1003, "192.0.2.2", "192.0.2.1");
	uint8_t pa[128], pb[128], esp[256], out[256];
	size_t n = ping("192.0.2.1", "192.0.2.2", pa), e;

	ping("192.0.2.2", "192.0.2.1", pb);
	T_CHECK_INT(kern_uesp_open(0, 0, &a), 0);
	T_CHECK_INT(kern_uesp_open(0, 0, &b), 0);
	sb.outbound_later = nb.outbound_later = nb2.outbound_later = true;
	T_CHECK_INT(kern_uesp_ops.install(a, &sa), 0);
	T_CHECK_INT(kern_uesp_ops.install(b, &sb), 0); /* the pair's first: sends at once */
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1001);
	T_CHECK_INT(kern_uesp_ops.install(b, &nb), 0);
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1001);
	T_CHECK_INT(kern_uesp_process(a, esp, e, out, sizeof(out)), n);
	T_CHECK_INT(kern_uesp_ops.install(a, &na), 0); /* b's answer arrived */
	T_CHECK_INT(sends_on(a, pa, n, esp, sizeof(esp), &e), 0x2002);
	T_CHECK_INT(kern_uesp_process(b, esp, e, out, sizeof(out)), n);
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1002);
	T_CHECK_INT(kern_uesp_ops.install(b, &nb2), 0);
	T_CHECK_INT(kern_uesp_ops.remove(b, &nb), 0); /* the old IKE SA's DELETE */
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1003);
	kern_uesp_close(a);
	kern_uesp_close(b);
}

/* b's own rekey of the old SA while a reauthentication's SA waits: the waiting SA still takes
 * over once the old IKE SA's SAs go, instead of leaving the pair with no outbound SA. */
static void test_rekey_while_reauth_waits(void)
{
	struct kern_uesp *b;
	struct kern_child_sa sb = child(0x2001, 0x1001, "192.0.2.2", "192.0.2.1");
	struct kern_child_sa rb = child(0x2004, 0x1004, "192.0.2.2", "192.0.2.1");
	struct kern_child_sa nb = child(0x2002, 0x1002, "192.0.2.2", "192.0.2.1");
	uint8_t pb[128], esp[256];
	size_t n = ping("192.0.2.2", "192.0.2.1", pb), e;

	T_CHECK_INT(kern_uesp_open(0, 0, &b), 0);
	nb.outbound_later = true;
	T_CHECK_INT(kern_uesp_ops.install(b, &sb), 0);
	T_CHECK_INT(kern_uesp_ops.install(b, &nb), 0); /* the reauthentication's, waiting */
	T_CHECK_INT(kern_uesp_ops.update(b, &sb, &rb), 0); /* b rekeys the old one itself */
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1004);
	T_CHECK_INT(kern_uesp_ops.remove(b, &sb), 0);
	T_CHECK_INT(kern_uesp_ops.remove(b, &rb), 0); /* the old IKE SA is gone */
	T_CHECK_INT(sends_on(b, pb, n, esp, sizeof(esp), &e), 0x1002);
	kern_uesp_close(b);
}

static void test_rules_text(void)
{
	struct kern_rules_conf c = { 7, 0x4f450000, 0xffff0000, 100, false, 8 };
	struct oe_buf o;

	T_CHECK_INT(kern_esp_mark(&c), 0x4f470000);
	oe_buf_init(&o);
	kern_rules_render(&c, NULL, 0, &o);
	T_CHECK(strstr(o.p, "ip saddr . ip daddr @tun4 return\n") != NULL);
	T_CHECK(strstr(o.p, "type filter hook postrouting priority -160;") != NULL);
	T_CHECK(strstr(o.p, "ip6 saddr . ip6 daddr @tun6 meta mark set meta mark and 0x0000ffff "
			    "or 0x4f470000\n") != NULL);
	T_CHECK(strstr(o.p, "meta l4proto esp meta mark set") != NULL);
	T_CHECK(strstr(o.p, "ip daddr . ip saddr @tun4 counter name \"cleartext_in\" drop") != NULL);
	oe_buf_reset(&o);
	c.native_queue = true;
	kern_rules_render(&c, NULL, 0, &o);
	T_CHECK(strstr(o.p, "@tun4 queue num 8\n") != NULL);
	T_CHECK(strstr(o.p, "meta l4proto esp queue num 8\n") != NULL);
	oe_buf_reset(&o);
	c.esp_queue = 0; /* without the ESP datapath: ESP passes as before, no postrouting chain */
	kern_rules_render(&c, NULL, 0, &o);
	T_CHECK(strstr(o.p, "meta l4proto esp return") != NULL);
	T_CHECK(strstr(o.p, "postrouting") == NULL);
	oe_buf_free(&o);
}

/* ---- the SA table against a naive list -------------------------------------------------- */

struct naive {
	uint32_t spi_in, spi_out;
	struct oe_sel sel;
	bool outbound;
};

struct model {
	struct naive *v;
	size_t n;
};

static uint32_t rnd(void)
{
	return (uint32_t)random();
}

static bool naive_covers(const struct naive *e, const struct oe_addr *s, const struct oe_addr *d)
{
	return oe_prefix_contains(&e->sel.src, s) && oe_prefix_contains(&e->sel.dst, d);
}

/* The expected outbound SPI for src -> dst (0 = none): an exact host pair first, then the
 * prefix selectors (the test keeps those disjoint). */
static uint32_t naive_lookup(const struct model *m, const struct oe_addr *s, const struct oe_addr *d)
{
	uint32_t wide = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct naive *e = &m->v[i];

		if (!e->outbound || !naive_covers(e, s, d))
			continue;
		if (e->sel.dst.len == oe_af_bits(d->af))
			return e->spi_out;
		wide = e->spi_out;
	}
	return wide;
}

static void naive_add(struct model *m, const struct kern_child_sa *sa)
{
	for (size_t i = 0; i < m->n; i++)
		if (naive_covers(&m->v[i], &sa->sel.src.addr, &sa->sel.dst.addr))
			m->v[i].outbound = false;
	m->v = realloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->v[m->n++] = (struct naive){ sa->spi_in, sa->spi_out, sa->sel, true };
}

static uint32_t fresh_spi(const struct model *m)
{
	for (;;) {
		uint32_t spi = rnd() | 1;
		size_t i;

		for (i = 0; i < m->n && m->v[i].spi_in != spi; i++)
			;
		if (i == m->n)
			return spi;
	}
}

/* A destination: one of 1024 IPv4 or 1024 IPv6 hosts, or a host in one of 8 disjoint /28s
 * of 203.0.113.0/24 that prefix selectors cover. */
static struct oe_addr rnd_dst(void)
{
	char buf[64];
	uint32_t r = rnd();

	if (r % 8 == 0)
		snprintf(buf, sizeof(buf), "203.0.113.%u", (r >> 8) % 128);
	else if (r % 2)
		snprintf(buf, sizeof(buf), "198.51.%u.%u", 100 + (r >> 8) % 4, (r >> 16) % 256);
	else
		snprintf(buf, sizeof(buf), "2001:db8:1::%x", (r >> 8) % 1024);
	return addr(buf);
}

static struct kern_child_sa rnd_child(const struct model *m, const struct oe_addr *dst, bool wide)
{
	struct kern_child_sa sa;
	uint32_t in = fresh_spi(m);
	char d[OE_ADDRSTRLEN];

	sa = child(in, in ^ 0x5a5a5a5a, dst->af == AF_INET ? "192.0.2.1" : "2001:db8::1",
		   oe_addr_str(dst, d));
	if (wide)
		sa.sel.dst = oe_prefix_of(dst, 28);
	return sa;
}

static unsigned no_pmtu(void *arg, const struct oe_addr *remote)
{
	(void)arg;
	(void)remote;
	return 0;
}

/* src -> dst through u: the outbound SPI it was encrypted with, or 0 when dropped. */
static uint32_t out_spi(struct kern_uesp *u, const struct oe_addr *dst)
{
	uint8_t in[128], esp[256];
	char d[OE_ADDRSTRLEN];
	size_t n, e;
	uint32_t spi = 0;

	if (dst->af == AF_INET) {
		n = ping("192.0.2.1", oe_addr_str(dst, d), in);
	} else {
		memset(in, 0, 60);
		in[0] = 0x60;
		in[5] = 20;
		in[6] = 59; /* no next header */
		in[7] = 64;
		struct oe_addr s = addr("2001:db8::1");

		memcpy(in + 8, s.b, 16);
		memcpy(in + 24, dst->b, 16);
		n = 60;
	}
	e = kern_uesp_process(u, in, n, esp, sizeof(esp));
	if (e && kern_esp_peek_spi(esp, e, &spi) != KERN_ESP_OK)
		return 0xffffffff;
	return e ? spi : 0;
}

static void check_lookups(struct kern_uesp *u, const struct model *m, unsigned *bad)
{
	struct kern_sa_counters ct;

	for (int i = 0; i < 16; i++) {
		struct oe_addr d = rnd_dst();
		struct oe_addr s = addr(d.af == AF_INET ? "192.0.2.1" : "2001:db8::1");

		if (out_spi(u, &d) != naive_lookup(m, &s, &d))
			(*bad)++;
	}
	for (size_t i = 0; i < m->n && i < 8; i++) {
		const struct naive *e = &m->v[rnd() % m->n];
		struct kern_child_sa q = { .spi_in = e->spi_in };

		if (kern_uesp_ops.query(u, &q, &ct) != 0)
			(*bad)++;
		if (e->outbound && out_spi(u, &e->sel.dst.addr) != e->spi_out)
			(*bad)++;
	}
}

static void remove_at(struct kern_uesp *u, struct model *m, size_t i, unsigned *bad)
{
	struct kern_child_sa q = { .spi_in = m->v[i].spi_in };

	if (kern_uesp_ops.remove(u, &q) != 0)
		(*bad)++;
	if (kern_uesp_ops.remove(u, &q) != -ENOENT)
		(*bad)++;
	m->v[i] = m->v[--m->n];
}

/* Installs, rekeys and removes thousands of SAs in random order, comparing every lookup (by
 * packet and by SPI) with the naive list. */
static void test_table_vs_naive(void)
{
	struct model m = { NULL, 0 };
	struct kern_uesp *u;
	unsigned bad = 0, ops = 0;

	srandom(4303);
	T_CHECK_INT(kern_uesp_open(0, 0, &u), 0);
	kern_uesp_set_pmtu_fn(u, no_pmtu, NULL);
	while (ops < 6000) {
		uint32_t r = rnd() % 100;

		ops++;
		if (r < 60 || m.n == 0) {
			struct oe_addr d = rnd_dst();
			struct kern_child_sa sa = rnd_child(&m, &d, d.b[2] == 113 && rnd() % 2);

			if (kern_uesp_ops.install(u, &sa) != 0)
				bad++;
			naive_add(&m, &sa);
		} else if (r < 75) {
			struct naive old = m.v[rnd() % m.n];
			struct kern_child_sa o = { .spi_in = old.spi_in }, nsa;

			nsa = rnd_child(&m, &old.sel.dst.addr, false);
			nsa.sel = old.sel;
			if (kern_uesp_ops.update(u, &o, &nsa) != 0)
				bad++;
			naive_add(&m, &nsa);
			for (size_t i = 0; i < m.n; i++)
				if (m.v[i].spi_in == old.spi_in)
					m.v[i].outbound = false;
		} else {
			remove_at(u, &m, rnd() % m.n, &bad);
		}
		if (ops % 50 == 0)
			check_lookups(u, &m, &bad);
	}
	T_CHECK(m.n > 1000);
	while (m.n) {
		remove_at(u, &m, rnd() % m.n, &bad);
		if (m.n % 50 == 0)
			check_lookups(u, &m, &bad);
	}
	T_CHECK_INT(bad, 0);
	{
		struct oe_addr d = addr("198.51.100.7");

		T_CHECK_INT(out_spi(u, &d), 0);
	}
	kern_uesp_close(u);
	free(m.v);
}

/* ---- path MTU --------------------------------------------------------------------------- */

struct sent {
	uint8_t pkt[8][1600];
	size_t len[8];
	unsigned n;
};

static int fake_send(void *arg, const uint8_t *pkt, size_t n)
{
	struct sent *s = arg;

	if (s->n < 8 && n <= sizeof(s->pkt[0])) {
		memcpy(s->pkt[s->n], pkt, n);
		s->len[s->n] = n;
	}
	s->n++;
	return 0;
}

static unsigned fake_pmtu(void *arg, const struct oe_addr *remote)
{
	(void)remote;
	return *(unsigned *)arg;
}

/* An IPv4 UDP packet of n octets src -> dst with DF as given (checksums need not hold). */
static size_t udp4(const char *src, const char *dst, size_t n, bool df, uint8_t *p)
{
	uint32_t sum = 0;

	memset(p, 0, n);
	p[0] = 0x45;
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	p[6] = df ? 0x40 : 0;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, addr(src).b, 4);
	memcpy(p + 16, addr(dst).b, 4);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	p[10] = (uint8_t)(~sum >> 8);
	p[11] = (uint8_t)~sum;
	return n;
}

static size_t udp6(const char *src, const char *dst, size_t n, uint8_t *p)
{
	memset(p, 0, n);
	p[0] = 0x60;
	p[4] = (uint8_t)((n - 40) >> 8);
	p[5] = (uint8_t)(n - 40);
	p[6] = 17;
	p[7] = 64;
	memcpy(p + 8, addr(src).b, 16);
	memcpy(p + 24, addr(dst).b, 16);
	return n;
}

/* IPv4 over a 1400-octet path: a DF packet too big once encrypted is refused with ICMP
 * fragmentation needed carrying 1346 (1400 - 20 outer - 8 ESP - 8 IV - 2 trailer - 16 ICV);
 * afterwards the kernel holds 1346 for the peer, and outer packets above it but within the
 * path go out directly; that 1346 is not taken for the path; a lower value is (a router); a
 * packet without DF is encrypted with DF cleared on the outer header (the kernel fragments). */
static void test_pmtu_v4(void)
{
	struct kern_child_sa sa = child(0x3001, 0x4001, "192.0.2.1", "192.0.2.2");
	struct kern_uesp *u;
	struct kern_uesp_stats st;
	struct sent sent = { .n = 0 };
	unsigned pmtu = 1400;
	uint8_t in[1600], out[1700];
	size_t n;

	T_CHECK_INT(kern_uesp_open(0, 0, &u), 0);
	kern_uesp_set_pmtu_fn(u, fake_pmtu, &pmtu);
	kern_uesp_set_send_fn(u, fake_send, &sent);
	T_CHECK_INT(kern_uesp_ops.install(u, &sa), 0);
	n = udp4("192.0.2.1", "192.0.2.2", 1346, true, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 1400);
	T_CHECK_INT(sent.n, 0);
	n = udp4("192.0.2.1", "192.0.2.2", 1347, true, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 1);
	T_CHECK_INT(sent.pkt[0][9], 1);	  /* ICMP */
	T_CHECK_INT(sent.pkt[0][20], 3);  /* destination unreachable */
	T_CHECK_INT(sent.pkt[0][21], 4);  /* fragmentation needed */
	T_CHECK_INT(sent.pkt[0][26] << 8 | sent.pkt[0][27], 1346);
	T_CHECK(memcmp(sent.pkt[0] + 16, addr("192.0.2.1").b, 4) == 0);
	T_CHECK(memcmp(sent.pkt[0] + 12, addr("192.0.2.2").b, 4) == 0);
	/* the kernel now holds 1346 for 192.0.2.2: a full outer packet goes out directly */
	pmtu = 1346;
	n = udp4("192.0.2.1", "192.0.2.2", 1346, true, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 2);
	T_CHECK_INT(sent.len[1], 1400);
	T_CHECK_INT(sent.pkt[1][9], 50);
	n = udp4("192.0.2.1", "192.0.2.2", 1200, true, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 1256); /* the verdict */
	/* without DF: encrypted, DF cleared on the outer header, left to the kernel */
	n = udp4("192.0.2.1", "192.0.2.2", 1400, false, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 1456);
	T_CHECK_INT(out[6] & 0x40, 0);
	/* a second later the kernel says 1346: what we told, the path stays 1400 */
	usleep(1100 * 1000);
	n = udp4("192.0.2.1", "192.0.2.2", 1346, true, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 3);
	T_CHECK_INT(sent.pkt[2][9], 50);
	/* a router reported 1300 for our outer packets: the inner MTU follows */
	pmtu = 1300;
	usleep(1100 * 1000);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 4);
	T_CHECK_INT(sent.pkt[3][9], 1);
	T_CHECK_INT(sent.pkt[3][26] << 8 | sent.pkt[3][27], 1246);
	kern_uesp_stats_get(u, &st);
	T_CHECK_INT(st.too_big, 2);
	T_CHECK_INT(st.icmp_sent, 2);
	T_CHECK_INT(st.direct, 2);
	T_CHECK_INT(st.fragmented, 1);
	T_CHECK_INT(st.encrypted, 5);
	kern_uesp_close(u);
}

/* IPv6 over a 1400-octet path: packet too big with 1326 (1400 - 40 - 8 - 8 - 2 - 16); an
 * ICMPv6 error that does not fit is encrypted and its outer packet fragmented by us (the
 * kernel would not fragment it for a local sender), each fragment within the path; once the
 * kernel holds 1326, larger packets (which it would fragment after our queue) are split. */
static void test_pmtu_v6(void)
{
	struct kern_child_sa sa = child(0x5001, 0x6001, "2001:db8::1", "2001:db8::2");
	struct kern_uesp *u;
	struct kern_uesp_stats st;
	struct sent sent = { .n = 0 };
	unsigned pmtu = 1400;
	uint8_t in[1600], out[1700];
	size_t n;

	T_CHECK_INT(kern_uesp_open(0, 0, &u), 0);
	kern_uesp_set_pmtu_fn(u, fake_pmtu, &pmtu);
	kern_uesp_set_send_fn(u, fake_send, &sent);
	T_CHECK_INT(kern_uesp_ops.install(u, &sa), 0);
	n = udp6("2001:db8::1", "2001:db8::2", 1326, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 1400);
	n = udp6("2001:db8::1", "2001:db8::2", 1400, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 1);
	T_CHECK_INT(sent.pkt[0][6], 58);  /* ICMPv6 */
	T_CHECK_INT(sent.pkt[0][40], 2);  /* packet too big */
	T_CHECK_INT(sent.pkt[0][46] << 8 | sent.pkt[0][47], 1326);
	T_CHECK(memcmp(sent.pkt[0] + 24, addr("2001:db8::1").b, 16) == 0);
	in[6] = 58;
	in[40] = 1; /* an ICMPv6 error: no error about it, fragments instead */
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 3);
	T_CHECK_INT(sent.pkt[1][6], 44); /* fragment header */
	T_CHECK_INT(sent.pkt[2][6], 44);
	T_CHECK(sent.len[1] <= 1400 && sent.len[2] <= 1400);
	T_CHECK_INT(sent.len[1] + sent.len[2], 1476 + 2 * 48 - 40);
	/* the kernel holds 1326 now and would fragment a larger packet after the queue: it is
	 * split into inner fragments of at most 1326, each encrypted and sent */
	pmtu = 1326;
	n = udp6("2001:db8::1", "2001:db8::2", 1400, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 5);
	T_CHECK_INT(sent.pkt[3][6], 50);
	T_CHECK_INT(sent.pkt[4][6], 50);
	T_CHECK(sent.len[3] <= 1400 && sent.len[4] <= 1400);
	kern_uesp_stats_get(u, &st);
	T_CHECK_INT(st.too_big, 1);
	T_CHECK_INT(st.fragmented, 1);
	T_CHECK_INT(st.split, 1);
	T_CHECK_INT(st.direct, 4);
	kern_uesp_close(u);
}

/* The PMTU an ICMP error made the kernel hold belongs to the remote, not to one SA: after a
 * rekey, and after the last SA went and a new one came, the kernel's 1346 is still known as
 * ours, so a 1346-octet inner packet is sent (past the kernel's PMTU) instead of refused
 * with an ever lower MTU. */
static void test_pmtu_outlives_sa(void)
{
	struct kern_child_sa sa = child(0x7001, 0x8001, "192.0.2.1", "192.0.2.2");
	struct kern_child_sa na = child(0x7002, 0x8002, "192.0.2.1", "192.0.2.2");
	struct kern_uesp *u;
	struct sent sent = { .n = 0 };
	unsigned pmtu = 1400;
	uint8_t in[1600], out[1700];
	size_t n;

	T_CHECK_INT(kern_uesp_open(0, 0, &u), 0);
	kern_uesp_set_pmtu_fn(u, fake_pmtu, &pmtu);
	kern_uesp_set_send_fn(u, fake_send, &sent);
	T_CHECK_INT(kern_uesp_ops.install(u, &sa), 0);
	n = udp4("192.0.2.1", "192.0.2.2", 1347, true, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 1);
	T_CHECK_INT(sent.pkt[0][9], 1);
	pmtu = 1346; /* the kernel took it */
	T_CHECK_INT(kern_uesp_ops.update(u, &sa, &na), 0);
	T_CHECK_INT(kern_uesp_ops.remove(u, &sa), 0);
	usleep(1100 * 1000); /* the next packet reads the kernel's PMTU again */
	n = udp4("192.0.2.1", "192.0.2.2", 1346, true, in);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 2);
	T_CHECK_INT(sent.pkt[1][9], 50);
	T_CHECK_INT(kern_uesp_ops.remove(u, &na), 0);
	sa.spi_in = 0x7003;
	T_CHECK_INT(kern_uesp_ops.install(u, &sa), 0);
	T_CHECK_INT(kern_uesp_process(u, in, n, out, sizeof(out)), 0);
	T_CHECK_INT(sent.n, 3);
	T_CHECK_INT(sent.pkt[2][9], 50);
	kern_uesp_close(u);
}

int main(void)
{
	T_RUN(test_round_trip_and_rekey);
	T_RUN(test_rekey_answer_waits);
	T_RUN(test_reauth_answer_waits);
	T_RUN(test_rekey_while_reauth_waits);
	T_RUN(test_rules_text);
	T_RUN(test_table_vs_naive);
	T_RUN(test_pmtu_v4);
	T_RUN(test_pmtu_v6);
	T_RUN(test_pmtu_outlives_sa);
	return t_done();
}
