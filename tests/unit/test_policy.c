/* Unit tests for policy-groups/: the group-file parser (every error message, warnings,
 * comments, CRLF, IPv6), the most-specific-wins semantics on worked examples, duplicates,
 * implicit and static rules, pg_rule_at order, pg_ranges, and loading a directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "t.h"

/* --- helpers -------------------------------------------------------------------------------- */

#define MAXMSG 32
static char msgs[MAXMSG][512];
static int nmsgs;

static void collect(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	(void)ctx;
	if (nmsgs < MAXMSG)
		snprintf(msgs[nmsgs++], sizeof(msgs[0]), "%s: %s",
			 sev == OE_DIAG_ERROR ? "error" : "warning", msg);
}

static struct oe_diag diag(void)
{
	struct oe_diag d = { .emit = collect };

	nmsgs = 0;
	return d;
}

static int parse(struct pg_builder *b, enum pg_group g, const char *path, const char *text)
{
	struct oe_diag d = diag();

	return pg_builder_parse(b, g, path, text, strlen(text), &d);
}

/* Compiles files given as (group, path, text) triples ending with a -1 group. */
static struct pg_policy *compile_files(int first_group, ...)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;
	struct oe_diag d;
	va_list ap;
	int g = first_group;

	va_start(ap, first_group);
	while (g >= 0) {
		const char *path = va_arg(ap, const char *);
		const char *text = va_arg(ap, const char *);

		T_CHECK_INT(parse(b, (enum pg_group)g, path, text), 0);
		g = va_arg(ap, int);
	}
	va_end(ap);
	d = diag();
	p = pg_compile(b, &d);
	pg_builder_free(b);
	return p;
}

static struct pg_key key(const char *addr, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct pg_key k = { .proto = proto, .sport = sport, .dport = dport };

	T_CHECK(oe_addr_parse(&k.dst, addr, strlen(addr)));
	return k;
}

/* "group path:line" of the winning rule, or "clear default". */
static const char *who(const struct pg_policy *p, const char *addr, uint8_t proto, uint16_t sport,
		       uint16_t dport)
{
	static char buf[256];
	struct pg_key k = key(addr, proto, sport, dport);
	const struct pg_rule *r = pg_lookup(p, &k);
	enum pg_group g = pg_lookup_group(p, &k);

	if (!r) {
		T_CHECK_INT(g, PG_CLEAR);
		return "clear default";
	}
	T_CHECK_INT(g, r->group);
	snprintf(buf, sizeof(buf), "%s %s:%u", pg_group_name(r->group), r->where, r->line);
	return buf;
}

/* --- parser --------------------------------------------------------------------------------- */

static void test_group_names(void)
{
	enum pg_group g;

	T_CHECK_STR(pg_group_name(PG_CLEAR), "clear");
	T_CHECK_STR(pg_group_name(PG_CLEAR_OR_PRIVATE), "clear-or-private");
	T_CHECK_STR(pg_group_name(PG_PRIVATE_OR_CLEAR), "private-or-clear");
	T_CHECK_STR(pg_group_name(PG_PRIVATE), "private");
	T_CHECK_STR(pg_group_name(PG_BLOCK), "block");
	T_CHECK(pg_group_parse("private-or-clear", &g) && g == PG_PRIVATE_OR_CLEAR);
	T_CHECK(pg_group_parse("block", &g) && g == PG_BLOCK);
	T_CHECK(!pg_group_parse("Block", &g));
	T_CHECK(!pg_group_parse("", &g));
}

static void test_parse_ok(void)
{
	const char *text = "# private hosts\r\n"
			   "\r\n"
			   "  10.0.1.0/24 \t\r\n"
			   "\t192.0.2.7   # one host\n"
			   "198.51.100.0/24 tcp 0 22\r\n"
			   "198.51.100.0/24 UDP 53 0 # dns\n"
			   "203.0.113.0/24 icmp 0 0\n"
			   "203.0.113.0/24 47 0 0\n"
			   "2001:db8::/32\n"
			   "2001:db8:1::5 sctp 0 443\n"
			   "   \t  \n"
			   "#last line without newline";
	struct pg_policy *p = compile_files(PG_PRIVATE, "/p/private", text, -1);
	const char *want[] = {
		"10.0.1.0/24 0 0 0 :3",	       "192.0.2.7/32 0 0 0 :4",
		"198.51.100.0/24 6 0 22 :5",   "198.51.100.0/24 17 53 0 :6",
		"203.0.113.0/24 1 0 0 :7",     "203.0.113.0/24 47 0 0 :8",
		"2001:db8::/32 0 0 0 :9",      "2001:db8:1::5/128 132 0 443 :10",
	};
	char buf[128], pb[OE_PREFIXSTRLEN];

	T_CHECK_INT(nmsgs, 0);
	T_CHECK_INT(pg_rule_count(p), 8);
	for (size_t i = 0; i < pg_rule_count(p) && i < 8; i++) {
		const struct pg_rule *r = pg_rule_at(p, i);

		snprintf(buf, sizeof(buf), "%s %u %u %u :%u", oe_prefix_str(&r->dst, pb), r->proto,
			 r->sport, r->dport, r->line);
		T_CHECK_STR(buf, want[i]);
		T_CHECK_STR(r->where, "/p/private");
		T_CHECK_INT(r->group, PG_PRIVATE);
		T_CHECK_INT(r->origin, PG_ORIGIN_FILE);
	}
	T_CHECK(pg_rule_at(p, 8) == NULL);
	pg_policy_free(p);
}

/* One bad line: its exact message, and nothing added. */
static void check_error(const char *line, const char *want)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;
	char text[2048];
	struct oe_diag d;

	snprintf(text, sizeof(text), "10.9.9.0/24\n%s\n10.9.8.0/24\n", line);
	T_CHECK_INT(parse(b, PG_PRIVATE, "/etc/ipsec.d/policies/private", text), -EINVAL);
	T_CHECK_INT(nmsgs, 1);
	T_CHECK_STR(msgs[0], want);
	d = diag();
	p = pg_compile(b, &d);
	T_CHECK_INT(pg_rule_count(p), 0);
	pg_policy_free(p);
	pg_builder_free(b);
}

static void test_parse_errors(void)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
		{ "10.0.0.300/24", "bad address '10.0.0.300/24': not an IPv4 or IPv6 address" },
		{ "10.0.0.0/33", "bad address '10.0.0.0/33': prefix length must be 0..32" },
		{ "2001:db8::/129", "bad address '2001:db8::/129': prefix length must be 0..128" },
		{ "/24", "bad address '/24': missing address" },
		{ "host.example", "bad address 'host.example': not an IPv4 or IPv6 address" },
		{ "10.0.0.0/8 tcpx 0 22", "protocol 'tcpx': unknown protocol" },
		{ "10.0.0.0/8 256 0 0", "protocol '256': unknown protocol" },
		{ "10.0.0.0/8 tcp 0 65536",
		  "destination port '65536': not a port number 0..65535" },
		{ "10.0.0.0/8 tcp -1 22", "source port '-1': not a port number 0..65535" },
		{ "10.0.0.0/8 tcp 0 ssh", "destination port 'ssh': not a port number 0..65535" },
		{ "10.0.0.0/8 icmp 0 8",
		  "destination port '8': only tcp, udp, sctp and udplite have ports" },
		{ "10.0.0.0/8 0 22 0",
		  "source port '22': only tcp, udp, sctp and udplite have ports" },
		{ "10.0.0.0/8 tcp 0 22 extra stuff",
		  "too many fields 'extra stuff': expected ADDRESS [PROTOCOL SPORT DPORT]" },
		{ "10.0.0.0/8 tcp",
		  "incomplete selector 'tcp': expected ADDRESS [PROTOCOL SPORT DPORT]" },
		{ "10.0.0.0/8 tcp 0",
		  "incomplete selector 'tcp 0': expected ADDRESS [PROTOCOL SPORT DPORT]" },
		{ "10.0.0.0/8\v", "bad address '10.0.0.0/8\\x0b': prefix length must be 0..32" },
		{ "10.0.0.\r1", "bad address '10.0.0.\\x0d1': not an IPv4 or IPv6 address" },
		{ "10.0.0.0/8\r\r", "bad address '10.0.0.0/8\\x0d': prefix length must be 0..32" },
	};
	char want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "error: /etc/ipsec.d/policies/private:2: %s",
			 cases[i].msg);
		check_error(cases[i].line, want);
	}
}

static void test_parse_nul_long(void)
{
	static const char nul[] = "10.0.0.0/8\n10.1.\0.0/16\n";
	struct pg_builder *b = pg_builder_new();
	struct oe_diag d = diag();
	char text[3000];
	size_t n;

	T_CHECK_INT(pg_builder_parse(b, PG_BLOCK, "f", nul, sizeof(nul) - 1, &d), -EINVAL);
	T_CHECK_INT(d.errors, 1);
	T_CHECK_STR(msgs[0], "error: f:2: line '10.1.\\x00.0/16': contains a NUL byte");

	n = (size_t)snprintf(text, sizeof(text), "# long\n%1030s\n", "10.0.0.0/8");
	d = diag();
	T_CHECK_INT(pg_builder_parse(b, PG_BLOCK, "f", text, n, &d), -EINVAL);
	T_CHECK_INT(nmsgs, 1);
	T_CHECK(strncmp(msgs[0], "error: f:2: line '       ", 24) == 0);
	T_CHECK(strstr(msgs[0], "...': longer than 1024 bytes") != NULL);

	/* Exactly 1024 bytes is fine. */
	n = (size_t)snprintf(text, sizeof(text), "%1024s\n", "10.0.0.0/8");
	T_CHECK_INT(parse(b, PG_BLOCK, "f", text), 0);
	pg_builder_free(b);
}

static void test_parse_many_errors(void)
{
	struct pg_builder *b = pg_builder_new();
	char text[4096] = "";

	for (int i = 0; i < 50; i++)
		strcat(text, "junk\n");
	T_CHECK_INT(parse(b, PG_BLOCK, "f", text), -EINVAL);
	T_CHECK_INT(nmsgs, 21);
	T_CHECK_STR(msgs[20], "error: f:20: too many errors: giving up on this file");
	pg_builder_free(b);
}

static void test_parse_host_bits(void)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;
	struct oe_diag d;
	char pb[OE_PREFIXSTRLEN];

	T_CHECK_INT(parse(b, PG_CLEAR, "/p/clear", "10.1.2.3/24\n2001:db8::1/32 tcp 1 2\n"), 0);
	T_CHECK_INT(nmsgs, 2);
	T_CHECK_STR(msgs[0], "warning: /p/clear:1: address '10.1.2.3/24' has host bits set: "
			     "using 10.1.2.0/24");
	T_CHECK_STR(msgs[1], "warning: /p/clear:2: address '2001:db8::1/32' has host bits set: "
			     "using 2001:db8::/32");
	d = diag();
	p = pg_compile(b, &d);
	T_CHECK_STR(oe_prefix_str(&pg_rule_at(p, 0)->dst, pb), "10.1.2.0/24");
	pg_policy_free(p);
	pg_builder_free(b);
}

/* A bad file adds nothing, a good one added before stays. */
static void test_parse_reject_whole(void)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;
	struct oe_diag d;

	T_CHECK_INT(parse(b, PG_CLEAR, "/p/clear", "10.0.0.0/8\n"), 0);
	T_CHECK_INT(parse(b, PG_BLOCK, "/p/block",
			  "192.0.2.0/24\n198.51.100.0/24 tcp 0\n10.1.0.0/16\n"),
		    -EINVAL);
	T_CHECK_STR(msgs[0], "error: /p/block:2: incomplete selector 'tcp 0': expected ADDRESS "
			     "[PROTOCOL SPORT DPORT]");
	T_CHECK_INT(parse(b, PG_BLOCK, "/p/block", ""), 0);
	d = diag();
	p = pg_compile(b, &d);
	T_CHECK_INT(pg_rule_count(p), 1);
	T_CHECK_STR(who(p, "10.1.2.3", 0, 0, 0), "clear /p/clear:1");
	T_CHECK_STR(who(p, "192.0.2.1", 0, 0, 0), "clear default");
	pg_policy_free(p);
	T_CHECK_INT(parse(b, 7, "x", "10.0.0.0/8\n"), -EINVAL);
	/* No diagnostic sink at all: still rejected, quietly. */
	T_CHECK_INT(pg_builder_parse(b, PG_BLOCK, "q", "bad\n10.0.0.0/8 tcp\n", 20, NULL), -EINVAL);
	T_CHECK_INT(pg_builder_parse(b, PG_BLOCK, "q", "10.0.0.0/8\n10.0.0.0/8\n", 22, NULL), 0);
	p = pg_compile(b, NULL);
	T_CHECK_INT(pg_rule_count(p), 1); /* the clear 10.0.0.0/8 lost to block */
	T_CHECK_STR(who(p, "10.1.2.3", 0, 0, 0), "block q:1");
	pg_policy_free(p);
	pg_builder_free(b);
}

/* --- semantics ------------------------------------------------------------------------------ */

static void test_longest_prefix(void)
{
	struct pg_policy *p = compile_files(
		PG_PRIVATE_OR_CLEAR, "poc", "0.0.0.0/0\n::/0\n",
		PG_PRIVATE, "priv", "10.0.0.0/8\n2001:db8::/32\n",
		PG_CLEAR, "clr", "10.1.0.0/16\n2001:db8:1::/48\n10.1.2.3\n",
		PG_BLOCK, "blk", "10.1.2.0/24\n", -1);

	T_CHECK_STR(who(p, "192.0.2.1", 0, 0, 0), "private-or-clear poc:1");
	T_CHECK_STR(who(p, "10.200.0.1", 6, 1, 2), "private priv:1");
	T_CHECK_STR(who(p, "10.1.3.4", 0, 0, 0), "clear clr:1");
	T_CHECK_STR(who(p, "10.1.2.4", 0, 0, 0), "block blk:1");
	T_CHECK_STR(who(p, "10.1.2.3", 0, 0, 0), "clear clr:3");
	T_CHECK_STR(who(p, "10.1.2.255", 0, 0, 0), "block blk:1");
	T_CHECK_STR(who(p, "10.1.255.255", 0, 0, 0), "clear clr:1");
	T_CHECK_STR(who(p, "10.2.0.0", 0, 0, 0), "private priv:1");
	T_CHECK_STR(who(p, "2001:db8:1::77", 0, 0, 0), "clear clr:2");
	T_CHECK_STR(who(p, "2001:db8:2::", 0, 0, 0), "private priv:2");
	T_CHECK_STR(who(p, "2001:db9::", 0, 0, 0), "private-or-clear poc:2");
	pg_policy_free(p);
}

static void test_ports(void)
{
	struct pg_policy *p = compile_files(
		PG_PRIVATE, "priv", "10.0.0.0/8\n192.0.2.0/24 tcp 0 22\n",
		PG_CLEAR, "clr", "10.0.0.0/8 tcp 0 80\n10.1.0.0/16\n10.2.0.0/16 udp 0 53\n"
				 "10.2.0.0/16 udp 5353 53\n10.2.0.0/16 udp 0 0\n",
		PG_BLOCK, "blk", "192.0.0.0/8 tcp 0 22\n192.0.0.0/8 tcp 0 0\n", -1);

	/* Ports beat the wildcard at the same prefix. */
	T_CHECK_STR(who(p, "10.9.9.9", 6, 1234, 80), "clear clr:1");
	T_CHECK_STR(who(p, "10.9.9.9", 6, 1234, 81), "private priv:1");
	T_CHECK_STR(who(p, "10.9.9.9", 17, 1234, 80), "private priv:1");
	/* A key without a protocol matches only protocol-less rules. */
	T_CHECK_STR(who(p, "10.9.9.9", 0, 0, 80), "private priv:1");
	/* A longer wildcard prefix beats a shorter port rule. */
	T_CHECK_STR(who(p, "10.1.9.9", 6, 1234, 80), "clear clr:2");
	/* Scores: sport+dport > dport > proto. */
	T_CHECK_STR(who(p, "10.2.0.1", 17, 5353, 53), "clear clr:4");
	T_CHECK_STR(who(p, "10.2.0.1", 17, 5354, 53), "clear clr:3");
	T_CHECK_STR(who(p, "10.2.0.1", 17, 5354, 54), "clear clr:5");
	/* 10.2/16 has a udp wildcard but no proto-0 rule: tcp falls back to 10/8. */
	T_CHECK_STR(who(p, "10.2.0.1", 6, 1, 80), "clear clr:1");
	T_CHECK_STR(who(p, "10.2.0.1", 6, 1, 81), "private priv:1");
	T_CHECK_STR(who(p, "10.2.0.1", 0, 0, 0), "private priv:1");
	/* A port rule falls back to the parent prefix when its ports don't match; with no
	 * parent at all, nothing matches. */
	T_CHECK_STR(who(p, "192.0.2.9", 6, 9, 22), "private priv:2");
	T_CHECK_STR(who(p, "192.0.2.9", 6, 9, 23), "block blk:2");
	T_CHECK_STR(who(p, "192.0.2.9", 17, 9, 22), "clear default");
	T_CHECK_STR(who(p, "192.1.2.9", 6, 9, 22), "block blk:1");
	T_CHECK_STR(who(p, "192.1.2.9", 0, 0, 0), "clear default");
	pg_policy_free(p);
}

static void test_duplicates(void)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;
	struct oe_diag d;

	T_CHECK_INT(parse(b, PG_CLEAR, "/p/clear", "10.0.0.0/8\n192.0.2.0/24 tcp 0 22\n"), 0);
	T_CHECK_INT(parse(b, PG_BLOCK, "/p/block", "# x\n10.0.0.0/8\n"), 0);
	T_CHECK_INT(parse(b, PG_PRIVATE, "/p/private", "192.0.2.0/24 tcp 0 22\n10.0.0.0/8\n"
						       "192.0.2.0/24 6 0 22\n"),
		    0);
	d = diag();
	p = pg_compile(b, &d);
	T_CHECK_INT(d.warnings, 4);
	T_CHECK_INT(nmsgs, 4);
	T_CHECK_STR(msgs[0], "warning: /p/block:2: '10.0.0.0/8' in block is also in clear at "
			     "/p/clear:1: using the stricter block");
	T_CHECK_STR(msgs[1], "warning: /p/private:2: '10.0.0.0/8' in private is also in block at "
			     "/p/block:2: using the stricter block");
	T_CHECK_STR(msgs[2], "warning: /p/private:1: '192.0.2.0/24 tcp 0 22' in private is also "
			     "in clear at /p/clear:2: using the stricter private");
	T_CHECK_STR(msgs[3], "warning: /p/private:3: '192.0.2.0/24 tcp 0 22' in private: "
			     "duplicate, first at /p/private:1");
	T_CHECK_INT(pg_rule_count(p), 2);
	T_CHECK_STR(who(p, "10.0.0.1", 0, 0, 0), "block /p/block:2");
	T_CHECK_STR(who(p, "192.0.2.1", 6, 0, 22), "private /p/private:1");
	pg_policy_free(p);
	pg_builder_free(b);
}

static void test_implicit(void)
{
	struct pg_builder *b = pg_builder_new();
	struct oe_addr res[2];
	struct pg_policy *p;
	struct oe_diag d;

	T_CHECK(oe_addr_parse(&res[0], "192.0.2.53", 10));
	T_CHECK(oe_addr_parse(&res[1], "2001:db8::53", 12));
	T_CHECK_INT(pg_builder_add_implicit(b, res, 2), 0);
	T_CHECK_INT(parse(b, PG_PRIVATE, "/p/private",
			  "0.0.0.0/0\n::/0\n127.0.0.0/8\n127.0.0.2\n192.0.2.53\n"
			  "fe80::/10 tcp 0 22\n"),
		    0);
	T_CHECK_INT(parse(b, PG_BLOCK, "/p/block", "224.0.0.0/4\n"), 0);
	d = diag();
	p = pg_compile(b, &d);
	T_CHECK_INT(nmsgs, 3);
	T_CHECK_STR(msgs[0], "warning: /p/private:3: '127.0.0.0/8' is implicitly clear (loopback): "
			     "entry ignored");
	T_CHECK_STR(msgs[1], "warning: /p/private:5: '192.0.2.53/32' is implicitly clear "
			     "(resolver): entry ignored");
	T_CHECK_STR(msgs[2], "warning: /p/block:1: '224.0.0.0/4' is implicitly clear (multicast): "
			     "entry ignored");
	T_CHECK_STR(who(p, "127.0.0.1", 0, 0, 0), "clear loopback:0");
	T_CHECK_STR(who(p, "127.0.0.2", 0, 0, 0), "private /p/private:4");
	T_CHECK_STR(who(p, "::1", 6, 1, 2), "clear loopback:0");
	T_CHECK_STR(who(p, "169.254.1.1", 0, 0, 0), "clear link-local:0");
	T_CHECK_STR(who(p, "fe80::1", 6, 1, 22), "private /p/private:6");
	T_CHECK_STR(who(p, "fe80::1", 6, 1, 23), "clear link-local:0");
	T_CHECK_STR(who(p, "239.1.1.1", 0, 0, 0), "clear multicast:0");
	T_CHECK_STR(who(p, "ff02::1", 0, 0, 0), "clear multicast:0");
	T_CHECK_STR(who(p, "255.255.255.255", 0, 0, 0), "clear broadcast:0");
	T_CHECK_STR(who(p, "255.255.255.254", 0, 0, 0), "private /p/private:1");
	T_CHECK_STR(who(p, "192.0.2.53", 17, 1, 53), "clear resolver:0");
	T_CHECK_STR(who(p, "2001:db8::53", 0, 0, 0), "clear resolver:0");
	T_CHECK_STR(who(p, "2001:db8::54", 0, 0, 0), "private /p/private:2");
	T_CHECK_INT(pg_lookup(p, &(struct pg_key){ .dst = res[0] })->origin, PG_ORIGIN_IMPLICIT);
	pg_policy_free(p);
	pg_builder_free(b);

	/* Nothing at all: the default. */
	b = pg_builder_new();
	d = diag();
	p = pg_compile(b, &d);
	T_CHECK_STR(who(p, "192.0.2.1", 0, 0, 0), "clear default");
	T_CHECK_STR(who(p, "2001:db8::1", 6, 1, 1), "clear default");
	T_CHECK(pg_lookup(p, &(struct pg_key){ .dst = { .af = 0 } }) == NULL);
	pg_policy_free(p);
	pg_builder_free(b);
}

static void test_static(void)
{
	struct pg_builder *b = pg_builder_new();
	struct pg_rule r = { .group = PG_CLEAR };
	struct pg_policy *p;
	struct oe_diag d;
	const char *why;

	T_CHECK_INT(oe_prefix_parse(&r.dst, "10.1.2.3/16", 11, NULL, &why), 0);
	T_CHECK_INT(parse(b, PG_PRIVATE, "/p/private", "10.0.0.0/8\n10.1.0.0/16\n"), 0);
	T_CHECK_INT(pg_builder_add_static(b, &r, "mylan"), 0);
	r.proto = 1;
	r.dport = 5;
	T_CHECK_INT(pg_builder_add_static(b, &r, "bad"), -EINVAL);
	d = diag();
	p = pg_compile(b, &d);
	T_CHECK_INT(nmsgs, 1);
	T_CHECK_STR(msgs[0], "warning: mylan: '10.1.0.0/16' in clear is also in private at "
			     "/p/private:2: using the stricter private");
	T_CHECK_STR(who(p, "10.1.0.1", 0, 0, 0), "private /p/private:2");
	pg_policy_free(p);
	pg_builder_free(b);
}

static void test_rule_order(void)
{
	struct pg_policy *p = compile_files(
		PG_CLEAR, "c", "2001:db8::/32\n10.0.0.0/8 tcp 0 22\n10.0.0.0/8\n9.0.0.0/8\n"
			       "10.0.0.0/8 tcp 1 22\n10.0.0.0/16\n10.0.0.0/8 udp 0 0\n",
		-1);
	static const unsigned lines[] = { 4, 5, 2, 7, 3, 6, 1 };

	T_CHECK_INT(pg_rule_count(p), 7);
	for (size_t i = 0; i < 7; i++)
		T_CHECK_INT(pg_rule_at(p, i)->line, lines[i]);
	pg_policy_free(p);
}

static char ranges_out[2048];

static void range_cb(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
		     enum pg_group g)
{
	char a[OE_ADDRSTRLEN], z[OE_ADDRSTRLEN];
	size_t n = strlen(ranges_out);

	(void)ctx;
	snprintf(ranges_out + n, sizeof(ranges_out) - n, "%s-%s %s\n", oe_addr_str(lo, a),
		 oe_addr_str(hi, z), pg_group_name(g));
}

static void range_sel_cb(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
			 enum pg_group g, bool mixed)
{
	size_t n;

	range_cb(ctx, lo, hi, g);
	n = strlen(ranges_out);
	if (mixed && n)
		snprintf(ranges_out + n - 1, sizeof(ranges_out) - n + 1, " mixed\n");
}

static void test_ranges(void)
{
	struct pg_policy *p = compile_files(
		PG_PRIVATE, "priv", "10.0.0.0/8\n10.2.0.0/16\n192.0.2.0/24 tcp 0 22\n"
				    "2001:db8::/32\n",
		PG_CLEAR, "clr", "10.1.0.0/16\n10.1.2.0/24 tcp 0 80\n10.3.0.0/16 udp 0 0\n",
		PG_BLOCK, "blk", "10.1.2.128/25\n10.255.255.255\n::/0\n", -1);

	ranges_out[0] = '\0';
	pg_ranges(p, AF_INET, range_cb, NULL);
	T_CHECK_STR(ranges_out, "0.0.0.0-9.255.255.255 clear\n"
				"10.0.0.0-10.0.255.255 private\n"
				"10.1.0.0-10.1.2.127 clear\n"
				"10.1.2.128-10.1.2.255 block\n"
				"10.1.3.0-10.1.255.255 clear\n"
				"10.2.0.0-10.255.255.254 private\n"
				"10.255.255.255-10.255.255.255 block\n"
				"11.0.0.0-255.255.255.255 clear\n");
	ranges_out[0] = '\0';
	pg_ranges(p, AF_INET6, range_cb, NULL);
	T_CHECK_STR(ranges_out, "::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff block\n"
				"2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff private\n"
				"2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff block\n");
	/* With selectors: where a port rule may give another group, the range says so. */
	ranges_out[0] = '\0';
	pg_ranges_sel(p, AF_INET, range_sel_cb, NULL);
	T_CHECK_STR(ranges_out, "0.0.0.0-9.255.255.255 clear\n"
				"10.0.0.0-10.0.255.255 private\n"
				"10.1.0.0-10.1.2.127 clear\n"
				"10.1.2.128-10.1.2.255 block\n"
				"10.1.3.0-10.1.255.255 clear\n"
				"10.2.0.0-10.2.255.255 private\n"
				"10.3.0.0-10.3.255.255 private mixed\n"
				"10.4.0.0-10.255.255.254 private\n"
				"10.255.255.255-10.255.255.255 block\n"
				"11.0.0.0-192.0.1.255 clear\n"
				"192.0.2.0-192.0.2.255 clear mixed\n"
				"192.0.3.0-255.255.255.255 clear\n");
	pg_policy_free(p);

	p = compile_files(PG_BLOCK, "b", "0.0.0.0/0\n", -1);
	ranges_out[0] = '\0';
	pg_ranges(p, AF_INET, range_cb, NULL);
	T_CHECK_STR(ranges_out, "0.0.0.0-255.255.255.255 block\n");
	ranges_out[0] = '\0';
	pg_ranges(p, AF_INET6, range_cb, NULL);
	T_CHECK_STR(ranges_out, "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff clear\n");
	pg_policy_free(p);
}

/* The worked example of man/ipsec_policies.5, so the page cannot drift from the code. */
static void test_man_example(void)
{
	struct pg_policy *p = compile_files(
		PG_PRIVATE, "private", "10.0.0.0/8\n10.1.0.0/16 tcp 0 22\n",
		PG_CLEAR, "clear", "10.1.0.0/16\n10.1.2.0/24 tcp 0 80\n",
		PG_BLOCK, "block", "10.1.2.128/25\n",
		PG_PRIVATE_OR_CLEAR, "private-or-clear", "0.0.0.0/0\n", -1);

	T_CHECK_STR(who(p, "192.0.2.1", 6, 1, 1), "private-or-clear private-or-clear:1");
	T_CHECK_STR(who(p, "10.9.0.1", 17, 1, 1), "private private:1");
	T_CHECK_STR(who(p, "10.1.5.5", 6, 40000, 22), "private private:2");
	T_CHECK_STR(who(p, "10.1.5.5", 6, 40000, 443), "clear clear:1");
	T_CHECK_STR(who(p, "10.1.2.7", 6, 40000, 80), "clear clear:2");
	T_CHECK_STR(who(p, "10.1.2.7", 17, 40000, 80), "clear clear:1");
	T_CHECK_STR(who(p, "10.1.2.200", 6, 40000, 22), "block block:1");
	pg_policy_free(p);
}

/* --- loading a directory -------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	T_CHECK(fd >= 0);
	T_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void test_load_dir(void)
{
	char dir[] = "/tmp/oet-policy-XXXXXX", path[256];
	struct pg_builder *b = pg_builder_new();
	struct pg_policy *p;
	struct oe_diag d;

	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/private", dir);
	write_file(path, "10.0.0.0/8\n");
	snprintf(path, sizeof(path), "%s/block", dir);
	write_file(path, "10.1.0.0/16\n");
	snprintf(path, sizeof(path), "%s/clear", dir);
	write_file(path, "10.2.0.0/16\n");
	d = diag();
	/* clear is not asked for; the missing files are empty groups. */
	T_CHECK_INT(pg_builder_load_dir(b, dir, 1u << PG_PRIVATE | 1u << PG_BLOCK |
							 1u << PG_PRIVATE_OR_CLEAR, &d),
		    0);
	T_CHECK_INT(nmsgs, 0);
	p = pg_compile(b, &d);
	snprintf(path, sizeof(path), "private %s/private:1", dir);
	T_CHECK_STR(who(p, "10.2.0.1", 0, 0, 0), path);
	snprintf(path, sizeof(path), "block %s/block:1", dir);
	T_CHECK_STR(who(p, "10.1.0.1", 0, 0, 0), path);
	pg_policy_free(p);
	pg_builder_free(b);

	/* An unreadable group file (a directory here: root reads any mode) is an error naming
	 * it, and a file with errors is reported; both make the load fail. */
	b = pg_builder_new();
	snprintf(path, sizeof(path), "%s/private-or-clear", dir);
	T_CHECK_INT(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/clear", dir);
	write_file(path, "10.2.0.0/16 tcp\n");
	d = diag();
	T_CHECK(pg_builder_load_dir(b, dir, 0x1f, &d) < 0);
	T_CHECK_INT(nmsgs, 2);
	snprintf(path, sizeof(path), "error: %s/clear:1: incomplete selector", dir);
	T_CHECK(strncmp(msgs[0], path, strlen(path)) == 0);
	snprintf(path, sizeof(path), "error: %s/private-or-clear: cannot read group file: Is a "
				     "directory", dir);
	T_CHECK_STR(msgs[1], path);
	pg_builder_free(b);

	/* A FIFO must neither block the load nor pass as a file. */
	b = pg_builder_new();
	snprintf(path, sizeof(path), "%s/block", dir);
	unlink(path);
	T_CHECK_INT(mkfifo(path, 0600), 0);
	d = diag();
	T_CHECK_INT(pg_builder_load_dir(b, dir, 1u << PG_BLOCK, &d), -EINVAL);
	snprintf(path, sizeof(path), "error: %s/block: cannot read group file: not a regular file",
		 dir);
	T_CHECK_STR(msgs[0], path);
	pg_builder_free(b);

	snprintf(path, sizeof(path), "%s/private-or-clear", dir);
	rmdir(path);
	for (unsigned g = 0; g < PG_NGROUPS; g++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pg_group_name((enum pg_group)g));
		unlink(path);
	}
	T_CHECK_INT(rmdir(dir), 0);
}

/* A missing directory (a typo in ipsecdir= or --dir) is an error, not "no rules"; so is a
 * file where the directory should be. */
static void test_load_dir_missing(void)
{
	char dir[] = "/tmp/oet-policy-XXXXXX", path[256];
	struct pg_builder *b = pg_builder_new();
	struct oe_diag d;

	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	d = diag();
	T_CHECK_INT(pg_builder_load_dir(b, path, 0x1f, &d), -ENOENT);
	T_CHECK_INT(d.errors, 1);
	snprintf(path, sizeof(path), "error: %s/nonexistent: cannot read policy directory: No such "
				     "file or directory", dir);
	T_CHECK_STR(msgs[0], path);
	snprintf(path, sizeof(path), "%s/clear", dir);
	write_file(path, "10.0.0.0/8\n");
	d = diag();
	T_CHECK_INT(pg_builder_load_dir(b, path, 0x1f, &d), -ENOTDIR);
	T_CHECK_INT(nmsgs, 1);
	pg_builder_free(b);
	unlink(path);
	T_CHECK_INT(rmdir(dir), 0);
}

/* The files `make install` ships: they load without a message, and only private-or-clear
 * has entries (everything). Run from the top of the tree, as tests/run.sh does. */
static void test_default_files(void)
{
	struct pg_builder *b = pg_builder_new();
	struct oe_diag d = diag();
	struct pg_policy *p;

	T_CHECK_INT(pg_builder_load_dir(b, "ipsec.d/policies", 0x1f, &d), 0);
	p = pg_compile(b, &d);
	T_CHECK_INT(nmsgs, 0);
	T_CHECK_INT(pg_rule_count(p), 2);
	T_CHECK_STR(who(p, "192.0.2.1", 0, 0, 0),
		    "private-or-clear ipsec.d/policies/private-or-clear:11");
	T_CHECK_STR(who(p, "2001:db8::1", 6, 1, 2),
		    "private-or-clear ipsec.d/policies/private-or-clear:12");
	pg_policy_free(p);
	pg_builder_free(b);
}

int main(void)
{
	T_RUN(test_group_names);
	T_RUN(test_parse_ok);
	T_RUN(test_parse_errors);
	T_RUN(test_parse_nul_long);
	T_RUN(test_parse_many_errors);
	T_RUN(test_parse_host_bits);
	T_RUN(test_parse_reject_whole);
	T_RUN(test_longest_prefix);
	T_RUN(test_ports);
	T_RUN(test_duplicates);
	T_RUN(test_implicit);
	T_RUN(test_static);
	T_RUN(test_rule_order);
	T_RUN(test_ranges);
	T_RUN(test_man_example);
	T_RUN(test_load_dir);
	T_RUN(test_load_dir_missing);
	T_RUN(test_default_files);
	return t_done();
}
