/* The uesp kern_ops backend without a queue (kernel/kern_uesp.c): two ends with mirrored
 * Child SAs; a packet of the pair is encrypted by one and decrypted by the other into the
 * same bytes; unknown pairs and SPIs are dropped; a replay is refused; counters through
 * query; a rekey (update) moves outbound traffic to the new SA while the old one still
 * decrypts until removed; the rules text sends tunnel pairs and ESP to the ESP queue. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	T_RUN(test_round_trip_and_rekey);
	T_RUN(test_rules_text);
	return t_done();
}
