/* Tests of the DNS settings of ipsec.conf: the dns-* keys (values, defaults, every error
 * message) and oe_conf_dns(), which turns a parsed config into the key lookup's settings
 * (so `ipsec lookup`, `ipsec verify` and the agent use the same servers and anchors). */
#include <errno.h>

#include "agent.h"
#include "dnskeys.h"
#include "t.h"

static char msgs[4096];

static void collect(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	size_t n = strlen(msgs);

	(void)ctx;
	snprintf(msgs + n, sizeof(msgs) - n, "%s%s: %s", n ? "\n" : "",
		 sev == OE_DIAG_ERROR ? "E" : "W", msg);
}

static int parse(struct oe_conf *c, const char *text)
{
	struct oe_diag d = { collect, NULL, 0, 0 };

	msgs[0] = '\0';
	T_CHECK_INT(oe_conf_init(c), 0);
	return oe_conf_parse(c, "t.conf", text, strlen(text), &d);
}

static void reject(const char *text, const char *want)
{
	struct oe_conf c;

	T_CHECK_INT(parse(&c, text), -EINVAL);
	T_CHECK_STR(msgs, want);
	oe_conf_free(&c);
}

static void test_defaults(void)
{
	char servers[OE_DNS_SERVERS_MAX];
	struct dk_lookup_conf lc;
	struct oe_conf c;

	T_CHECK_INT(parse(&c, ""), 0);
	T_CHECK_INT(c.dns_timeout_ms, 2000);
	T_CHECK_INT(c.dns_retries, 1);
	T_CHECK_INT(c.dns_lookup_timeout_ms, 10000);
	T_CHECK_INT(c.dns_cache_size, 4096);
	oe_conf_dns(&c, &lc, servers);
	T_CHECK(lc.nameservers == NULL); /* /etc/resolv.conf */
	T_CHECK_INT(lc.timeout_ms, 2000);
	T_CHECK_INT(lc.tries, 2);
	T_CHECK_INT(lc.lookup_timeout_ms, 10000);
	T_CHECK_INT(lc.cache_max, 4096);
	T_CHECK(lc.dnssec);
	T_CHECK(lc.rootkey_file == NULL); /* the default file, optional */
	T_CHECK(lc.anchors_file == NULL);
	oe_conf_free(&c);
}

static void test_values(void)
{
	char servers[OE_DNS_SERVERS_MAX];
	struct dk_lookup_conf lc;
	struct oe_conf c;

	T_CHECK_INT(parse(&c, "config setup\n"
			      "\tnameservers=192.0.2.53, [2001:db8::53]:5353 198.51.100.1:54\n"
			      "\tdns-timeout=500ms\n"
			      "\tdns-retries=0\n"
			      "\tdns-lookup-timeout=1m\n"
			      "\tdns-cache-size=100\n"
			      "\tdnssec-enable=no\n"
			      "\tdnssec-rootkey-file=/etc/oe/root.key\n"
			      "\tdnssec-anchors=/etc/oe/anchors\n"),
		    0);
	T_CHECK_STR(msgs, "");
	T_CHECK_INT(c.dns_timeout_ms, 500);
	T_CHECK_INT(c.dns_retries, 0);
	T_CHECK_INT(c.dns_lookup_timeout_ms, 60000);
	T_CHECK_INT(c.dns_cache_size, 100);
	oe_conf_dns(&c, &lc, servers);
	T_CHECK_STR(lc.nameservers, "192.0.2.53:53,[2001:db8::53]:5353,198.51.100.1:54");
	T_CHECK_INT(lc.timeout_ms, 500);
	T_CHECK_INT(lc.tries, 1);
	T_CHECK_INT(lc.lookup_timeout_ms, 60000);
	T_CHECK_INT(lc.cache_max, 100);
	T_CHECK(!lc.dnssec);
	T_CHECK_STR(lc.rootkey_file, "/etc/oe/root.key");
	T_CHECK_STR(lc.anchors_file, "/etc/oe/anchors");
	oe_conf_free(&c);

	/* Bare numbers are seconds, as for shuntlifetime; limits inclusive. */
	T_CHECK_INT(parse(&c, "config setup\n\tdns-timeout=3\n\tdns-retries=10\n"
			      "\tdns-lookup-timeout=1h\n\tdns-cache-size=10000000\n"),
		    0);
	T_CHECK_INT(c.dns_timeout_ms, 3000);
	T_CHECK_INT(c.dns_retries, 10);
	T_CHECK_INT(c.dns_lookup_timeout_ms, 3600000);
	T_CHECK_INT(c.dns_cache_size, 10000000);
	oe_conf_dns(&c, &lc, servers);
	T_CHECK_INT(lc.tries, 11);
	oe_conf_free(&c);
	/* dnssec-rootkey-file=none: no root anchor at all (dk's ""). */
	T_CHECK_INT(parse(&c, "config setup\n\tdnssec-rootkey-file=none\n"), 0);
	oe_conf_dns(&c, &lc, servers);
	T_CHECK_STR(lc.rootkey_file, "");
	oe_conf_free(&c);
	T_CHECK_INT(parse(&c, "config setup\n\tdns-timeout=100ms\n\tdns-lookup-timeout=1s\n"), 0);
	T_CHECK_INT(c.dns_timeout_ms, 100);
	T_CHECK_INT(c.dns_lookup_timeout_ms, 1000);
	oe_conf_free(&c);
}

/* A resolver accepts what oe_conf_dns makes of a config with every server form. */
static void test_resolver_accepts(void)
{
	char servers[OE_DNS_SERVERS_MAX];
	struct dk_lookup_conf lc;
	struct dk_resolver *r = NULL;
	struct oe_diag d = { collect, NULL, 0, 0 };
	struct oe_conf c;

	T_CHECK_INT(parse(&c, "config setup\n"
			      "\tnameservers=127.0.0.1:9 [::1]:9 127.0.0.2\n"
			      "\tdnssec-rootkey-file=/nonexistent/root.key\n"),
		    0);
	oe_conf_dns(&c, &lc, servers);
	lc.rootkey_file = ""; /* no root anchor for this check */
	T_CHECK_INT(dk_resolver_new(&r, &lc, NULL, NULL, &d), 0);
	T_CHECK_STR(msgs, "");
	dk_resolver_free(r);
	/* A root key file the admin named must exist. */
	oe_conf_dns(&c, &lc, servers);
	r = NULL;
	T_CHECK_INT(dk_resolver_new(&r, &lc, NULL, NULL, &d), -ENOENT);
	T_CHECK(strstr(msgs, "/nonexistent/root.key") != NULL);
	dk_resolver_free(r);
	oe_conf_free(&c);
}

static void test_errors(void)
{
	reject("config setup\n\tdns-timeout=50ms\n",
	       "E: t.conf:2: dns-timeout '50ms': expected 100ms to 60s");
	reject("config setup\n\tdns-timeout=61\n",
	       "E: t.conf:2: dns-timeout '61': expected 100ms to 60s");
	reject("config setup\n\tdns-timeout=2x\n",
	       "E: t.conf:2: dns-timeout '2x': unknown unit (use s, m, h or d)");
	reject("config setup\n\tdns-timeout=ms\n",
	       "E: t.conf:2: dns-timeout 'ms': expected a number with an optional unit s, m, h "
	       "or d");
	reject("config setup\n\tdns-timeout=1.5sms\n",
	       "E: t.conf:2: dns-timeout '1.5sms': expected a number before 'ms'");
	reject("config setup\n\tdns-lookup-timeout=999ms\n",
	       "E: t.conf:2: dns-lookup-timeout '999ms': expected 1s to 1h");
	reject("config setup\n\tdns-lookup-timeout=2h\n",
	       "E: t.conf:2: dns-lookup-timeout '2h': expected 1s to 1h");
	reject("config setup\n\tdns-retries=11\n",
	       "E: t.conf:2: dns-retries '11': expected a number from 0 to 10");
	reject("config setup\n\tdns-retries=-1\n",
	       "E: t.conf:2: dns-retries '-1': expected a number from 0 to 10");
	reject("config setup\n\tdns-cache-size=0\n",
	       "E: t.conf:2: dns-cache-size '0': expected a number of entries from 1 to 10000000");
	reject("config setup\n\tdns-cache-size=10000001\n",
	       "E: t.conf:2: dns-cache-size '10000001': expected a number of entries from 1 to "
	       "10000000");
	reject("config setup\n\tdns-cache-size=\n", "E: t.conf:2: dns-cache-size '': empty value");
	reject("config setup\n\tdns-retries=1\n\tdns-retries=2\n",
	       "E: t.conf:3: key 'dns-retries': duplicate in config setup (first set on line 2)");
}

int main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_values);
	T_RUN(test_resolver_accepts);
	T_RUN(test_errors);
	return t_done();
}
