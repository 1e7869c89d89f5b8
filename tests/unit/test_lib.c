/* Unit tests for lib/: addresses and prefixes, durations, protocols, buffers, token quoting. */
#include "oe_addr.h"
#include "oe_buf.h"
#include "oe_cursor.h"
#include "oe_diag.h"
#include "oe_sel.h"
#include "oe_time.h"
#include "t.h"

static struct oe_prefix pfx(const char *s, bool *hb, int *rc, const char **why)
{
	struct oe_prefix p;

	*rc = oe_prefix_parse(&p, s, strlen(s), hb, why);
	return p;
}

static void test_prefix_parse(void)
{
	char buf[OE_PREFIXSTRLEN];
	const char *why = NULL;
	bool hb;
	int rc;
	struct oe_prefix p;

	p = pfx("192.0.2.0/24", &hb, &rc, &why);
	T_CHECK_INT(rc, 0);
	T_CHECK(!hb);
	T_CHECK_STR(oe_prefix_str(&p, buf), "192.0.2.0/24");
	p = pfx("192.0.2.77/24", &hb, &rc, &why);
	T_CHECK(rc == 0 && hb);
	T_CHECK_STR(oe_prefix_str(&p, buf), "192.0.2.0/24");
	p = pfx("2001:db8::1", &hb, &rc, &why);
	T_CHECK_STR(oe_prefix_str(&p, buf), "2001:db8::1/128");
	p = pfx("2001:db8:ffff::/33", &hb, &rc, &why);
	T_CHECK(hb);
	T_CHECK_STR(oe_prefix_str(&p, buf), "2001:db8:8000::/33");
	p = pfx("0.0.0.0/0", &hb, &rc, &why);
	T_CHECK(rc == 0 && p.len == 0);
	pfx("192.0.2.0/33", &hb, &rc, &why);
	T_CHECK(rc < 0);
	T_CHECK_STR(why, "prefix length must be 0..32");
	pfx("192.0.2.0/024", &hb, &rc, &why);
	T_CHECK(rc < 0);
	pfx("192.0.2.0/", &hb, &rc, &why);
	T_CHECK(rc < 0);
	pfx("::/129", &hb, &rc, &why);
	T_CHECK(rc < 0);
	pfx("300.1.1.1", &hb, &rc, &why);
	T_CHECK(rc < 0);
	T_CHECK_STR(why, "not an IPv4 or IPv6 address");
	pfx("/8", &hb, &rc, &why);
	T_CHECK_STR(why, "missing address");
}

static void test_contains(void)
{
	struct oe_prefix p;
	struct oe_addr a;
	const char *why;

	oe_prefix_parse(&p, "10.1.0.0/15", 11, NULL, &why);
	oe_addr_parse(&a, "10.1.255.1", 10);
	T_CHECK(oe_prefix_contains(&p, &a));
	oe_addr_parse(&a, "10.2.0.0", 8);
	T_CHECK(!oe_prefix_contains(&p, &a));
	oe_addr_parse(&a, "::1", 3);
	T_CHECK(!oe_prefix_contains(&p, &a));
	oe_addr_from_v4(&a, 0x0a000001);
	T_CHECK_INT(oe_addr_v4(&a), 0x0a000001);
	oe_addr_from_u128(&a, oe_addr_u128(&(struct oe_addr){ .af = AF_INET6, .b = { 0x20, 1 } }));
	T_CHECK_INT(a.b[0], 0x20);
	T_CHECK_INT(a.b[1], 1);
}

static void test_duration(void)
{
	uint64_t s;
	const char *why;

	T_CHECK(oe_duration_parse("15m", 3, &s, &why) && s == 900);
	T_CHECK(oe_duration_parse("90", 2, &s, &why) && s == 90);
	T_CHECK(oe_duration_parse("2h", 2, &s, &why) && s == 7200);
	T_CHECK(!oe_duration_parse("m", 1, &s, &why));
	T_CHECK(!oe_duration_parse("5x", 2, &s, &why));
	T_CHECK(!oe_duration_parse("5ms", 3, &s, &why));
	T_CHECK(!oe_duration_parse("99999999999999999999", 20, &s, &why));
}

static void test_proto_port(void)
{
	uint8_t p;
	uint16_t port;

	T_CHECK(oe_proto_parse("TCP", 3, &p) && p == 6);
	T_CHECK(oe_proto_parse("17", 2, &p) && p == 17);
	T_CHECK(!oe_proto_parse("256", 3, &p));
	T_CHECK(!oe_proto_parse("tcpx", 4, &p));
	T_CHECK(oe_port_parse("65535", 5, &port) && port == 65535);
	T_CHECK(!oe_port_parse("65536", 5, &port));
	T_CHECK(!oe_port_parse("-1", 2, &port));
	T_CHECK(!oe_port_parse("022", 3, &port));
}

static void test_buf_tok_cursor(void)
{
	struct oe_buf b;
	char t[OE_TOKSTRLEN];
	uint8_t raw[] = { 1, 2, 3, 4, 5 };
	struct oe_cur c = oe_cur_make(raw, sizeof(raw));
	uint32_t v32;
	uint16_t v16;

	oe_buf_init(&b);
	oe_buf_printf(&b, "%d-%s", 7, "x");
	oe_buf_json_str(&b, "a\"b\n");
	T_CHECK_STR(b.p, "7-x\"a\\\"b\\u000a\"");
	oe_buf_free(&b);
	T_CHECK_STR(oe_tok("a\tb", 3, t), "a\\x09b");
	T_CHECK(oe_cur_u32(&c, &v32) && v32 == 0x01020304);
	T_CHECK(!oe_cur_u16(&c, &v16));
	T_CHECK(c.len == 1);
}

int main(void)
{
	T_RUN(test_prefix_parse);
	T_RUN(test_contains);
	T_RUN(test_duration);
	T_RUN(test_proto_port);
	T_RUN(test_buf_tok_cursor);
	return t_done();
}
