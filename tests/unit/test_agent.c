/* Tests of the agent's glue: the control request parser (every command and refusal), the
 * policy built from group files as the agent builds it, `ipsec policy` explanations, and the
 * group eroutes filled from a policy (and refilled on reload, keeping other eroutes). */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "t.h"

static int req(const char *text, struct oe_ctl_req *r, char why[static OE_CTL_WHYLEN])
{
	return oe_ctl_req_parse((const uint8_t *)text, strlen(text), r, why);
}

static void refuse(const char *text, const char *want)
{
	struct oe_ctl_req r;
	char why[OE_CTL_WHYLEN];

	T_CHECK_INT(req(text, &r, why), -EINVAL);
	T_CHECK_STR(why, want);
}

static void test_ctl_requests(void)
{
	struct oe_ctl_req r;
	char why[OE_CTL_WHYLEN], b[OE_ADDRSTRLEN];

	T_CHECK_INT(req("eroute", &r, why), 0);
	T_CHECK(r.cmd == OE_CTL_EROUTE && !r.json);
	T_CHECK_INT(req("eroute --json\n", &r, why), 0);
	T_CHECK(r.cmd == OE_CTL_EROUTE && r.json);
	T_CHECK_INT(req("  status\t", &r, why), 0);
	T_CHECK(r.cmd == OE_CTL_STATUS && !r.json);
	T_CHECK_INT(req("status --json", &r, why), 0);
	T_CHECK(r.cmd == OE_CTL_STATUS && r.json);
	T_CHECK_INT(req("reload", &r, why), 0);
	T_CHECK(r.cmd == OE_CTL_RELOAD);
	T_CHECK_INT(req("policy 192.0.2.7", &r, why), 0);
	T_CHECK(r.cmd == OE_CTL_POLICY && !r.has_proto && r.key.proto == 0);
	T_CHECK_STR(oe_addr_str(&r.key.dst, b), "192.0.2.7");
	T_CHECK_INT(req("policy 2001:db8::7 tcp 22", &r, why), 0);
	T_CHECK(r.has_proto && r.has_port && r.key.proto == 6 && r.key.dport == 22);
	T_CHECK_INT(req("policy 192.0.2.7 udp", &r, why), 0);
	T_CHECK(r.has_proto && !r.has_port && r.key.proto == 17);
}

static void test_ctl_refusals(void)
{
	struct oe_ctl_req r;
	char why[OE_CTL_WHYLEN];

	refuse("", "request: empty");
	refuse("\n", "request: empty");
	refuse("   ", "request: empty");
	refuse("eroute\r\n", "request: control character 0x0d at byte 6");
	T_CHECK_INT(oe_ctl_req_parse((const uint8_t *)"st\0tus", 6, &r, why), -EINVAL);
	T_CHECK_STR(why, "request: control character 0x00 at byte 2");
	refuse("status \xc3\x28", "request: not valid UTF-8");
	refuse("status \xe0\x80\x80", "request: not valid UTF-8");   /* overlong */
	refuse("status \xed\xa0\x80", "request: not valid UTF-8");   /* surrogate */
	refuse("status \xf4\x90\x80\x80", "request: not valid UTF-8"); /* > U+10FFFF */
	refuse("status \xf0\x9f", "request: not valid UTF-8");       /* truncated */
	refuse("h\xc3\xa9llo", "command 'h\\xc3\\xa9llo': unknown (expected eroute, status, "
			       "reload or policy)");
	refuse("eroute --xml", "eroute '--xml': expected no argument or --json");
	refuse("eroute --json x", "eroute '--json': expected no argument or --json");
	refuse("status now", "status 'now': expected no argument or --json");
	refuse("reload all", "reload 'all': takes no arguments");
	refuse("policy", "policy: missing address");
	refuse("policy host.example", "address 'host.example': not an IPv4 or IPv6 address");
	refuse("policy 192.0.2.1 tcpx", "protocol 'tcpx': expected a name (tcp, udp, icmp, ...) "
					"or 0..255");
	refuse("policy 192.0.2.1 tcp 65536", "port '65536': expected 0..65535");
	refuse("policy 192.0.2.1 tcp 22 x", "policy 'x': unexpected argument");
	refuse("policy 192.0.2.1 192.0.2.2", "policy '192.0.2.2': unexpected argument");
	refuse("a b c d e f g h i", "request: more than 8 words");
}

static void test_policy_args_groups(void)
{
	char *args[] = { "192.0.2.1", "tcp", "22", "192.0.2.2", "2001:db8::1", "udp" };
	char why[OE_CTL_WHYLEN];
	struct pg_key k;

	T_CHECK_INT(oe_policy_args_parse(args, 6, &k, why), 3);
	T_CHECK_INT(oe_policy_args_parse(args + 3, 3, &k, why), 1);
	T_CHECK_INT(oe_policy_args_parse(args + 4, 2, &k, why), 2);
	T_CHECK_INT(k.proto, 17);
}

/* A temp ipsecdir with group files in dir (at least 32 bytes); returns dir. */
static const char *make_dir(char *dir)
{
	char p[256];
	FILE *f;

	strcpy(dir, "/tmp/test_agent.XXXXXX");
	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(p, sizeof(p), "%s/policies", dir);
	mkdir(p, 0700);
	static const char *const files[][2] = {
		{ "private-or-clear", "# try OE\n10.0.0.0/8\n" },
		{ "private", "198.51.100.0/24\n198.51.100.7 tcp 0 22\n" },
		{ "block", "203.0.113.0/24\n" },
		{ "clear", "10.1.0.0/16\n2001:db8:c::/48\n" },
		{ "clear-or-private", "10.2.0.0/16\n" },
	};
	for (size_t i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/policies/%s", dir, files[i][0]);
		f = fopen(p, "w");
		T_CHECK(f != NULL);
		if (f) {
			fputs(files[i][1], f);
			fclose(f);
		}
	}
	return dir;
}

static void rm_dir(const char *dir)
{
	char p[256];
	static const char *const g[] = { "clear", "clear-or-private", "private-or-clear",
					 "private", "block" };

	for (size_t i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/policies/%s", dir, g[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/policies", dir);
	rmdir(p);
	rmdir(dir);
}

static struct pg_policy *build(const char *dir, const char *conftext)
{
	struct oe_diag d = { NULL, NULL, 0, 0 };
	struct pg_policy *p = NULL;
	struct oe_conf c;
	char text[512];

	snprintf(text, sizeof(text), "config setup\n\tipsecdir=%s\n%s", dir, conftext);
	T_CHECK_INT(oe_conf_init(&c), 0);
	T_CHECK_INT(oe_conf_parse(&c, "t.conf", text, strlen(text), &d), 0);
	T_CHECK_INT(oe_policy_build(&c, NULL, "nameserver 192.0.2.53\n", &d, &p), 0);
	T_CHECK_INT(d.errors, 0);
	oe_conf_free(&c);
	return p;
}

static void explain(const struct pg_policy *p, const char *addr, uint8_t proto,
		    uint16_t dport, const char *want)
{
	struct pg_key k = { .proto = proto, .dport = dport };
	struct oe_buf b;

	oe_buf_init(&b);
	T_CHECK(oe_addr_parse(&k.dst, addr, strlen(addr)));
	oe_policy_explain(p, &k, &b);
	T_CHECK_STR(b.p, want);
	oe_buf_free(&b);
}

static void test_policy_explain(void)
{
	char dirbuf[32];
	const char *dir = make_dir(dirbuf);
	struct pg_policy *p = build(dir, "");
	char w[256];

	if (!p)
		return;
	snprintf(w, sizeof(w), "10.9.9.9 private-or-clear %s/policies/private-or-clear:2\n", dir);
	explain(p, "10.9.9.9", 0, 0, w);
	snprintf(w, sizeof(w), "10.1.2.3 clear %s/policies/clear:1\n", dir);
	explain(p, "10.1.2.3", 0, 0, w);
	snprintf(w, sizeof(w), "198.51.100.7 tcp 22 private %s/policies/private:2\n", dir);
	explain(p, "198.51.100.7", 6, 22, w);
	explain(p, "192.0.2.200", 0, 0, "192.0.2.200 clear default\n");
	explain(p, "127.0.0.1", 0, 0, "127.0.0.1 clear implicit (loopback)\n");
	explain(p, "192.0.2.53", 0, 0, "192.0.2.53 clear implicit (resolver)\n");
	explain(p, "fe80::1", 0, 0, "fe80::1 clear implicit (link-local)\n");
	pg_policy_free(p);

	/* auto=ignore switches the private-or-clear group off: its file is not read. */
	p = build(dir, "conn private-or-clear\n\tauto=ignore\n");
	if (p)
		explain(p, "10.9.9.9", 0, 0, "10.9.9.9 clear default\n");
	pg_policy_free(p);
	rm_dir(dir);
}

static void test_eroutes_fill(void)
{
	char dirbuf[32];
	const char *dir = make_dir(dirbuf);
	struct pg_policy *p = build(dir, "");
	struct kern_eroute_table *t = kern_eroute_table_new();
	struct oe_addr ours[2];
	struct kern_eroute tun = { 0 };
	struct oe_buf b;

	T_CHECK(t != NULL);
	if (!p || !t)
		return;
	oe_buf_init(&b);
	oe_addr_parse(&ours[0], "2001:db8::1", 11);
	oe_addr_parse(&ours[1], "192.0.2.1", 9);
	T_CHECK_INT(oe_eroutes_fill(t, p, ours, 2), 0);
	T_CHECK_INT(kern_eroute_count(t), pg_rule_count(p));
	kern_eroute_format(t, &b);
	T_CHECK(strstr(b.p, "192.0.2.1/32       -> 10.0.0.0/8         => %trap\n") != NULL);
	T_CHECK(strstr(b.p, "192.0.2.1/32       -> 203.0.113.0/24     => %reject\n") != NULL);
	T_CHECK(strstr(b.p, "192.0.2.1/32       -> 10.1.0.0/16        => %pass\n") != NULL);
	T_CHECK(strstr(b.p, "192.0.2.1/32       -> 10.2.0.0/16        => %pass\n") != NULL);
	T_CHECK(strstr(b.p, "192.0.2.1/32       -> 198.51.100.0/24    => %trap\n") != NULL);
	T_CHECK(strstr(b.p, "192.0.2.1/32       -> 127.0.0.0/8        => %pass\n") != NULL);
	T_CHECK(strstr(b.p, "192.0.2.1/32       -> 192.0.2.53/32      => %pass\n") != NULL);
	T_CHECK(strstr(b.p, "2001:db8::1/128    -> 2001:db8:c::/48    => %pass\n") != NULL);

	/* A negotiated tunnel survives a refill; the group eroutes are replaced. */
	tun.sel.src = oe_prefix_host(&ours[1]);
	oe_prefix_parse(&tun.sel.dst, "10.3.3.3/32", 11, NULL, &(const char *){ 0 });
	tun.said.kind = KERN_SAID_TUN;
	tun.said.spi = 0x1002;
	oe_addr_parse(&tun.said.edst, "10.3.3.3", 8);
	snprintf(tun.reason, sizeof(tun.reason), "oe");
	T_CHECK_INT(kern_eroute_add(t, &tun), 0);
	T_CHECK(!oe_eroute_is_group(&tun));
	pg_policy_free(p);
	p = build(dir, "conn block\n\tauto=ignore\n");
	T_CHECK_INT(oe_eroutes_fill(t, p, ours + 1, 1), 0);
	T_CHECK_INT(kern_eroute_count(t), pg_rule_count(p) + 1);
	oe_buf_reset(&b);
	kern_eroute_format(t, &b);
	T_CHECK(strstr(b.p, "=> %reject") == NULL);
	T_CHECK(strstr(b.p, "tun0x1002@10.3.3.3") != NULL);
	/* No IPv6 address of ours: IPv6 rules get ::/0 as source. */
	T_CHECK(strstr(b.p, "::/0               -> 2001:db8:c::/48    => %pass\n") != NULL);
	oe_buf_free(&b);
	kern_eroute_table_free(t);
	pg_policy_free(p);
	rm_dir(dir);
}

static void test_group_said(void)
{
	T_CHECK_INT(oe_group_said(PG_CLEAR), KERN_SAID_PASS);
	T_CHECK_INT(oe_group_said(PG_CLEAR_OR_PRIVATE), KERN_SAID_PASS);
	T_CHECK_INT(oe_group_said(PG_PRIVATE_OR_CLEAR), KERN_SAID_TRAP);
	T_CHECK_INT(oe_group_said(PG_PRIVATE), KERN_SAID_TRAP);
	T_CHECK_INT(oe_group_said(PG_BLOCK), KERN_SAID_REJECT);
}

int main(void)
{
	T_RUN(test_ctl_requests);
	T_RUN(test_ctl_refusals);
	T_RUN(test_policy_args_groups);
	T_RUN(test_policy_explain);
	T_RUN(test_eroutes_fill);
	T_RUN(test_group_said);
	return t_done();
}
