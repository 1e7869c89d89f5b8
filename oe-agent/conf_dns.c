/* The bridge from ipsec.conf's DNS settings (struct oe_conf) to the key lookup's settings
 * (struct dk_lookup_conf), so that the agent, `ipsec lookup` and `ipsec verify` ask the same
 * servers with the same timeouts and trust the same anchors. */
#include "agent.h"

#include <stdio.h>
#include <string.h>

#include "dnskeys.h"

#define ROOTKEY_DEFAULT "/usr/share/dns/root.key"

/* "addr:port" / "[v6addr]:port", comma-separated, as dk_resolver_new takes them. */
static void servers_text(const struct oe_conf *c, char out[static OE_DNS_SERVERS_MAX])
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < c->n_nameservers; i++) {
		const struct oe_nameserver *ns = &c->nameservers[i];
		char ab[OE_ADDRSTRLEN];
		int n;

		oe_addr_str(&ns->addr, ab);
		n = snprintf(out + o, OE_DNS_SERVERS_MAX - o,
			     ns->addr.af == AF_INET6 ? "%s[%s]:%u" : "%s%s:%u", o ? "," : "", ab,
			     ns->port ? ns->port : 53);
		if (n < 0 || (size_t)n >= OE_DNS_SERVERS_MAX - o)
			break; /* cannot happen with OE_CONF_MAX_ADDRS servers; keep what fits */
		o += (size_t)n;
	}
}

void oe_conf_dns(const struct oe_conf *c, struct dk_lookup_conf *lc,
		 char servers[static OE_DNS_SERVERS_MAX])
{
	dk_lookup_conf_default(lc);
	servers_text(c, servers);
	lc->nameservers = servers[0] ? servers : NULL;
	lc->timeout_ms = c->dns_timeout_ms;
	lc->tries = c->dns_retries + 1;
	lc->lookup_timeout_ms = c->dns_lookup_timeout_ms;
	lc->cache_max = c->dns_cache_size;
	lc->dnssec = c->dnssec_enable;
	/* The default root key file is optional (a host without dns-root-data still validates
	 * private zones through dnssec-anchors); a file the admin named must be there. dk's
	 * NULL means exactly that default. */
	lc->rootkey_file = c->dnssec_rootkey_file && strcmp(c->dnssec_rootkey_file,
							    ROOTKEY_DEFAULT) != 0
				   ? c->dnssec_rootkey_file
				   : NULL;
	lc->anchors_file = c->dnssec_anchors;
}
