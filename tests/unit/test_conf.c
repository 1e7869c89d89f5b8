/* Tests of the ipsec.conf parser: defaults, every typed config setup key, the group conns and
 * auto=ignore, and every error and warning path with its exact message. */
#include <errno.h>

#include "agent.h"
#include "t.h"

static char msgs[4096];

static void collect(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	size_t n = strlen(msgs);

	snprintf(msgs + n, sizeof(msgs) - n, "%s%s: %s", n ? "\n" : "",
		 sev == OE_DIAG_ERROR ? "E" : "W", msg);
}

/* Parses text into c (initialised here); returns the parse result. */
static int parse(struct oe_conf *c, const char *text)
{
	struct oe_diag d = { collect, NULL, 0, 0 };

	msgs[0] = '\0';
	T_CHECK_INT(oe_conf_init(c), 0);
	return oe_conf_parse(c, "t.conf", text, strlen(text), &d);
}

/* Parses text expecting rejection with exactly the messages want. */
static void reject(const char *text, const char *want)
{
	struct oe_conf c;

	T_CHECK_INT(parse(&c, text), -EINVAL);
	T_CHECK_STR(msgs, want);
	oe_conf_free(&c);
}

static void test_defaults(void)
{
	struct oe_conf c;

	T_CHECK_INT(parse(&c, ""), 0);
	T_CHECK_STR(c.ipsecdir, "/etc/ipsec.d");
	T_CHECK_STR(c.policydir, "/etc/ipsec.d/policies");
	T_CHECK_STR(c.hostkey, "/etc/ipsec.d/private/hostkey.pem");
	T_CHECK_STR(c.ctlsocket, "/run/oe-agent/ctl");
	T_CHECK_STR(c.pidfile, "/run/oe-agent/pid");
	T_CHECK(c.logfile == NULL);
	T_CHECK_INT(c.loglevel, OE_LOG_INFO);
	T_CHECK_INT(c.n_nameservers, 0);
	T_CHECK(c.dnssec_enable);
	T_CHECK_STR(c.dnssec_rootkey_file, "/usr/share/dns/root.key");
	T_CHECK(c.dnssec_anchors == NULL);
	T_CHECK_INT(c.shuntlifetime_s, 900);
	T_CHECK_INT(c.ikelifetime_s, 14400);
	T_CHECK_INT(c.salifetime_s, 3600);
	T_CHECK_INT(c.dpddelay_s, 30);
	T_CHECK_INT(c.inactivity_s, 600);
	T_CHECK_INT(c.encapsulation, OE_ENCAP_AUTO);
	T_CHECK_INT(c.keepalive_s, 20);
	T_CHECK(c.pfs);
	T_CHECK(c.myid == NULL);
	T_CHECK_INT(c.n_listen, 0);
	T_CHECK_INT(oe_conf_groups(&c), 0x1f);
	T_CHECK_STR(msgs, "");
	oe_conf_free(&c);
}

static void test_full(void)
{
	struct oe_conf c;
	char b[OE_ADDRSTRLEN];

	T_CHECK_INT(parse(&c, "# example\n"
			      "version 2\n"
			      "\n"
			      "config setup\n"
			      "\tipsecdir=/tmp/x   # trailing comment\n"
			      "    ctlsocket=\"/tmp/x/ctl\"\n"
			      "\tpidfile = /tmp/x/pid\n"
			      "\tlogfile=stderr\n"
			      "\tloglevel=debug\n"
			      "\tnameservers=192.0.2.53, [2001:db8::53]:5353 198.51.100.1:54\n"
			      "\tdnssec-enable=no\n"
			      "\tdnssec-anchors=/tmp/x/anchors\n"
			      "\tshuntlifetime=90s\n"
			      "\tmyid=@host.example\n"
			      "\tlisten=192.0.2.1 2001:db8::1\n"
			      "\n"
			      "conn private\r\n"
			      "\tauto=ignore\n"
			      "\tleft=%defaultroute\n"
			      "\trightid=\"a b#c\"\n"
			      "conn block\n"
			      "\tauto=ondemand\n"),
		    0);
	T_CHECK_STR(msgs, "");
	T_CHECK_STR(c.ipsecdir, "/tmp/x");
	T_CHECK_STR(c.policydir, "/tmp/x/policies");
	T_CHECK_STR(c.hostkey, "/tmp/x/private/hostkey.pem");
	T_CHECK_STR(c.ctlsocket, "/tmp/x/ctl");
	T_CHECK_STR(c.pidfile, "/tmp/x/pid");
	T_CHECK_STR(c.logfile, "stderr");
	T_CHECK_INT(c.loglevel, OE_LOG_DEBUG);
	T_CHECK_INT(c.n_nameservers, 3);
	T_CHECK_STR(oe_addr_str(&c.nameservers[1].addr, b), "2001:db8::53");
	T_CHECK_INT(c.nameservers[0].port, 53);
	T_CHECK_INT(c.nameservers[1].port, 5353);
	T_CHECK_INT(c.nameservers[2].port, 54);
	T_CHECK(!c.dnssec_enable);
	T_CHECK_STR(c.dnssec_anchors, "/tmp/x/anchors");
	T_CHECK_INT(c.shuntlifetime_s, 90);
	T_CHECK_STR(c.myid, "@host.example");
	T_CHECK_INT(c.n_listen, 2);
	T_CHECK_STR(oe_addr_str(&c.listen[1], b), "2001:db8::1");
	T_CHECK_INT(c.nconns, 2);
	T_CHECK_INT(oe_conf_groups(&c), 0x1f & ~(1u << PG_PRIVATE));
	T_CHECK_INT(c.conns[0].nkv, 3);
	T_CHECK_STR(c.conns[0].kv[2].value, "a b#c");
	T_CHECK_INT(c.conns[0].kv[2].line, 20);
	oe_conf_free(&c);
}

static void test_hostkey_explicit(void)
{
	struct oe_conf c;

	T_CHECK_INT(parse(&c, "config setup\n hostkey=/k.pem\n ipsecdir=/d\n logfile=syslog\n"),
		    0);
	T_CHECK_STR(c.hostkey, "/k.pem");
	T_CHECK_STR(c.policydir, "/d/policies");
	T_CHECK(c.logfile == NULL);
	oe_conf_free(&c);
}

static void test_warnings(void)
{
	struct oe_conf c;

	T_CHECK_INT(parse(&c, "config setup\n"
			      "\tplutodebug=all\n"
			      "conn mine\n"
			      "\tleft=192.0.2.1\n"
			      "conn clear\n"
			      "\tfrobnicate=yes\n"),
		    0);
	T_CHECK_STR(msgs,
		    "W: t.conf:2: key 'plutodebug': unknown in config setup; ignored\n"
		    "W: t.conf:3: conn 'mine': only the group conns (clear, clear-or-private, "
		    "private-or-clear, private, block) are supported yet; ignored\n"
		    "W: t.conf:6: key 'frobnicate': unknown in conn clear; ignored");
	T_CHECK_INT(oe_conf_groups(&c), 0x1f);
	oe_conf_free(&c);
}

static void test_syntax_errors(void)
{
	reject("config setup\n\tnoequals\n",
	       "E: t.conf:2: line 'noequals': expected key=value");
	reject("config setup\n\t=value\n", "E: t.conf:2: line '=value': empty key before '='");
	reject("config setup\n\tbad key=1\n",
	       "E: t.conf:2: key 'bad key': keys use letters, digits, '-' and '_'");
	reject("\tipsecdir=/x\n",
	       "E: t.conf:1: key 'ipsecdir': outside any section (start one with 'config setup' "
	       "or 'conn NAME')");
	reject("config setup\n\tloglevel=info\n\tloglevel=debug\n",
	       "E: t.conf:3: key 'loglevel': duplicate in config setup (first set on line 2)");
	reject("conn block\n\tauto=add\n\tauto=ignore\n",
	       "E: t.conf:3: key 'auto': duplicate in conn block (first set on line 2)");
	reject("config setup\n\tmyid=\"abc\n",
	       "E: t.conf:2: value '\"abc': unterminated quote");
	reject("config setup\n\tmyid=\"abc\" x\n",
	       "E: t.conf:2: value '\"abc\" x': text after the closing quote");
	reject("setup config\n",
	       "E: t.conf:1: section 'setup config': expected 'config setup', 'conn NAME' or "
	       "'version 2' at column 0 (key=value lines are indented)");
	reject("config setup now\n",
	       "E: t.conf:1: section 'config setup': unexpected text after 'setup'");
	reject("config setup\nconfig setup\n",
	       "E: t.conf:2: section 'config setup': duplicate section (first on line 1)");
	reject("conn\n", "E: t.conf:1: conn '': missing conn name");
	reject("conn a b\n", "E: t.conf:1: conn 'a': unexpected text after the conn name");
	reject("conn a/b\n",
	       "E: t.conf:1: conn 'a/b': conn names use letters, digits, '-', '_', '.' and '%'");
	reject("conn clear\nconn clear\n",
	       "E: t.conf:2: conn 'clear': duplicate conn (first on line 1)");
	reject("version 3\n", "E: t.conf:1: version '3': only 'version 2' is supported");
	reject("include /etc/ipsec.d/*.conf\n",
	       "E: t.conf:1: include '/etc/ipsec.d/*.conf': include is not supported yet; put "
	       "the settings in this file");
}

static void test_nul_reported_once(void)
{
	/* The text is given with its length, so a NUL byte does not end it. */
	struct oe_conf c;
	struct oe_diag d = { collect, NULL, 0, 0 };
	static const char text[] = "config setup\n\tmyid=a\0b\n\tloglevel=debug\n";

	msgs[0] = '\0';
	T_CHECK_INT(oe_conf_init(&c), 0);
	T_CHECK_INT(oe_conf_parse(&c, "t.conf", text, sizeof(text) - 1, &d), -EINVAL);
	T_CHECK_STR(msgs, "E: t.conf:2: line: contains a NUL byte");
	T_CHECK_INT(c.loglevel, OE_LOG_DEBUG); /* parsing went on to find every error */
	oe_conf_free(&c);
}

static void test_long_line(void)
{
	struct oe_conf c;
	char text[5000];

	memcpy(text, "config setup\n\tmyid=", 19);
	memset(text + 19, 'a', 4200);
	text[4219] = '\n';
	text[4220] = '\0';
	T_CHECK_INT(parse(&c, text), -EINVAL);
	T_CHECK_STR(msgs, "E: t.conf:2: line '\\x09myid=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			  "aaaaaaaaaaaaa...': longer than 4096 bytes");
	oe_conf_free(&c);
}

static void test_value_errors(void)
{
	reject("config setup\n\tipsecdir=etc/ipsec.d\n",
	       "E: t.conf:2: ipsecdir 'etc/ipsec.d': expected an absolute path (the agent runs in "
	       "/)");
	reject("config setup\n\thostkey=k.pem\n",
	       "E: t.conf:2: hostkey 'k.pem': expected an absolute path (the agent runs in /)");
	reject("config setup\n\tctlsocket=/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	       "E: t.conf:2: ctlsocket '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "...': path too long");
	reject("config setup\n\tpidfile=\n", "E: t.conf:2: pidfile '': empty value");
	reject("config setup\n\tlogfile=file.log\n",
	       "E: t.conf:2: logfile 'file.log': expected syslog, stderr or an absolute path");
	reject("config setup\n\tloglevel=loud\n",
	       "E: t.conf:2: loglevel 'loud': expected error, warning, notice, info or debug");
	reject("config setup\n\tdnssec-enable=maybe\n",
	       "E: t.conf:2: dnssec-enable 'maybe': expected yes or no");
	reject("config setup\n\tdnssec-rootkey-file=root.key\n",
	       "E: t.conf:2: dnssec-rootkey-file 'root.key': expected an absolute path (the agent "
	       "runs in /)");
	reject("config setup\n\tdnssec-anchors=a\n",
	       "E: t.conf:2: dnssec-anchors 'a': expected an absolute path (the agent runs in /)");
	reject("config setup\n\tshuntlifetime=15x\n",
	       "E: t.conf:2: shuntlifetime '15x': unknown unit (use s, m, h or d)");
	reject("config setup\n\tsalifetime=5s\n",
	       "E: t.conf:2: salifetime '5s': expected 10s to 1d");
	reject("config setup\n\tikelifetime=0\n",
	       "E: t.conf:2: ikelifetime '0': expected 1m to 1d");
	reject("config setup\n\tdpddelay=2h\n",
	       "E: t.conf:2: dpddelay '2h': expected 0 (off) or 1s to 1h");
	reject("config setup\n\tinactivity=soon\n",
	       "E: t.conf:2: inactivity 'soon': expected a number with an optional unit s, m, h or d");
	reject("config setup\n\tencapsulation=always\n",
	       "E: t.conf:2: encapsulation 'always': expected auto, yes or no");
	reject("config setup\n\tpfs=maybe\n", "E: t.conf:2: pfs 'maybe': expected yes or no");
	{
		struct oe_conf c;

		T_CHECK_INT(parse(&c, "config setup\n\tikelifetime=1h\n\tsalifetime=20s\n"
				     "\tdpddelay=0\n\tinactivity=5s\n\tencapsulation=yes\n"
				     "\tkeep-alive=0\n\tpfs=no\n"), 0);
		T_CHECK_INT(c.ikelifetime_s, 3600);
		T_CHECK_INT(c.salifetime_s, 20);
		T_CHECK_INT(c.dpddelay_s, 0);
		T_CHECK_INT(c.inactivity_s, 5);
		T_CHECK_INT(c.encapsulation, OE_ENCAP_YES);
		T_CHECK_INT(c.keepalive_s, 0);
		T_CHECK(!c.pfs);
		T_CHECK_STR(msgs, "");
		oe_conf_free(&c);
	}
	reject("config setup\n\tnameservers=192.0.2.1 dns.example\n",
	       "E: t.conf:2: nameservers '192.0.2.1 dns.example': not an address, addr:port or "
	       "[v6addr]:port");
	reject("config setup\n\tnameservers=192.0.2.1:0\n",
	       "E: t.conf:2: nameservers '192.0.2.1:0': not an address, addr:port or "
	       "[v6addr]:port");
	reject("config setup\n\tnameservers=, ,\n",
	       "E: t.conf:2: nameservers ', ,': expected at least one address");
	reject("config setup\n\tlisten=192.0.2.300\n",
	       "E: t.conf:2: listen '192.0.2.300': not an IPv4 or IPv6 address");
	reject("config setup\n\tlisten=1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 7.7.7.7 "
	       "8.8.8.8 9.9.9.9 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9\n",
	       "E: t.conf:2: listen '1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 7.7.7.7 "
	       "8.8.8.8 9.9.9.9 ...': too many addresses (at most 16)");
	reject("conn private\n\tauto=maybe\n",
	       "E: t.conf:2: auto 'maybe': expected ignore, add, route, ondemand or start");
}

static void test_errors_accumulate(void)
{
	reject("bogus\nconfig setup\n\tloglevel=x\n\tnoeq\n",
	       "E: t.conf:1: section 'bogus': expected 'config setup', 'conn NAME' or 'version 2' "
	       "at column 0 (key=value lines are indented)\n"
	       "E: t.conf:3: loglevel 'x': expected error, warning, notice, info or debug\n"
	       "E: t.conf:4: line 'noeq': expected key=value");
}

static void test_nameserver_parse(void)
{
	struct oe_nameserver ns;
	char b[OE_ADDRSTRLEN];

	T_CHECK(oe_nameserver_parse("2001:db8::1", 11, &ns) && ns.port == 53);
	T_CHECK_STR(oe_addr_str(&ns.addr, b), "2001:db8::1");
	T_CHECK(oe_nameserver_parse("[2001:db8::1]:53", 16, &ns));
	T_CHECK(!oe_nameserver_parse("[2001:db8::1]", 13, &ns));
	T_CHECK(!oe_nameserver_parse("192.0.2.1:", 10, &ns));
	T_CHECK(!oe_nameserver_parse("192.0.2.1:65536", 15, &ns));
	T_CHECK(oe_nameserver_parse("192.0.2.1:65535", 15, &ns) && ns.port == 65535);
}

static void test_resolv(void)
{
	static const char text[] = "# generated\nsearch example\nnameserver 192.0.2.53\n"
				   "nameserver\t2001:db8::53 # v6\nnameserver fe80::1%eth0\n"
				   "nameserver bogus\noptions edns0\n";
	struct oe_nameserver ns[4];
	char b[OE_ADDRSTRLEN];

	T_CHECK_INT(oe_resolv_parse(text, sizeof(text) - 1, ns, 4), 3);
	T_CHECK_STR(oe_addr_str(&ns[0].addr, b), "192.0.2.53");
	T_CHECK_STR(oe_addr_str(&ns[1].addr, b), "2001:db8::53");
	T_CHECK_STR(oe_addr_str(&ns[2].addr, b), "fe80::1");
	T_CHECK_INT(oe_resolv_parse(text, sizeof(text) - 1, ns, 1), 1);
}

int main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_full);
	T_RUN(test_hostkey_explicit);
	T_RUN(test_warnings);
	T_RUN(test_syntax_errors);
	T_RUN(test_nul_reported_once);
	T_RUN(test_long_line);
	T_RUN(test_value_errors);
	T_RUN(test_errors_accumulate);
	T_RUN(test_nameserver_parse);
	T_RUN(test_resolv);
	return t_done();
}
