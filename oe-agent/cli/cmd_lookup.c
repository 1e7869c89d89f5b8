/* `ipsec lookup ADDR|@FQDN`: asks DNS for the keys a peer publishes, exactly as the agent
 * would (IPSECKEY, then X-IPsec-Server TXT, then KEY; DNSSEC-validated from the configured
 * trust anchors; same gateway policy), and prints what was found and whether it validated.
 * Runs on its own (no agent needed): a dk_resolver driven by the small poll loop. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "dnskeys.h"
#include "oe_buf.h"

struct lookup_opts {
	struct oe_buf servers;  /* "a,b" from --server and the config */
	const char *anchors;
	const char *rootkey;
	bool insecure;
	unsigned timeout_ms;
	const char *id;
};

struct lookup_wait {
	bool done;
	int exit;
};

static const char *gw_text(const struct dk_found *f, char buf[static OE_ADDRSTRLEN])
{
	switch (f->gw_type) {
	case DK_GW_IPV4:
	case DK_GW_IPV6:
		return oe_addr_str(&f->gw_addr, buf);
	case DK_GW_NAME:
		return f->gw_name;
	default:
		return "none";
	}
}

static const char *alg_text(uint8_t alg)
{
	switch (alg) {
	case DK_ALG_RSA:
		return "RSA";
	case DK_ALG_ECDSA:
		return "ECDSA-P256";
	case DK_ALG_EDDSA:
		return "Ed25519";
	case DK_ALG_NONE:
		return "none";
	default:
		return "?";
	}
}

static void print_result(void *arg, const struct dk_result *r)
{
	struct lookup_wait *w = arg;
	bool usable = false;

	printf("name:     %s\n", r->qname);
	printf("status:   %s (%s)\n", dk_lookup_status_name(r->status),
	       dk_lookup_strerror(r->status));
	printf("dnssec:   %s%s%s%s\n", dk_val_name(r->val), r->reason[0] ? " (" : "", r->reason,
	       r->reason[0] ? ")" : "");
	printf("ttl:      %u\n", r->ttl);
	if (r->nfound)
		printf("%-9s %4s  %-28s %-13s %s\n", "type", "prec", "gateway", "algorithm",
		       "keyid");
	for (size_t i = 0; i < r->nfound; i++) {
		const struct dk_found *f = &r->found[i];
		char gb[OE_ADDRSTRLEN];

		char ab[24];

		snprintf(ab, sizeof(ab), "%u %s", f->key.alg, alg_text(f->key.alg));
		printf("%-9s %4u  %-28s %-13s %-9s\n", dk_rrtype_name(f->rrtype), f->precedence,
		       gw_text(f, gb), ab, f->key.len ? f->keyid : "-");
		usable |= f->key.len > 0 && f->pkey;
	}
	w->exit = r->status == DK_L_FOUND && usable ? 0 : 1;
	w->done = true;
}

static bool waited(void *arg)
{
	return ((struct lookup_wait *)arg)->done;
}

static void add_server(struct oe_buf *b, const char *s)
{
	oe_buf_printf(b, "%s%s", b->len ? "," : "", s);
}

static int parse_args(int argc, char **argv, struct lookup_opts *o)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "anchor", required_argument, NULL, 'a' },
		{ "rootkey", required_argument, NULL, 'r' },
		{ "insecure", no_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end;

		switch (ch) {
		case 's':
			add_server(&o->servers, optarg);
			break;
		case 'a':
			o->anchors = optarg;
			break;
		case 'r':
			o->rootkey = optarg;
			break;
		case 'i':
			o->insecure = true;
			break;
		case 't':
			o->timeout_ms = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !o->timeout_ms || o->timeout_ms > 60000)
				return cli_usage_error("lookup", "--timeout wants 1..60000 ms");
			break;
		default:
			return cli_usage_error("lookup", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("lookup", "give one ADDR or @FQDN");
	o->id = argv[optind];
	return 0;
}

/* The lookup settings: the config's (oe_conf_dns, as the agent uses them), then the options. */
static void lookup_conf(const struct lookup_opts *o, const struct oe_conf *conf,
			struct dk_lookup_conf *c, char servers[static OE_DNS_SERVERS_MAX])
{
	oe_conf_dns(conf, c, servers);
	if (o->servers.len)
		c->nameservers = o->servers.p;
	if (o->insecure)
		c->dnssec = false;
	if (o->rootkey)
		c->rootkey_file = o->rootkey;
	if (o->anchors)
		c->anchors_file = o->anchors;
	if (o->timeout_ms)
		c->timeout_ms = o->timeout_ms;
}

static int run_lookup(const struct lookup_opts *o, const struct oe_conf *conf)
{
	struct oe_diag d = { oe_diag_print, stderr, 0, 0 };
	struct lookup_wait w = { false, 1 };
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;
	char servers[OE_DNS_SERVERS_MAX];
	struct oe_addr a;
	int rc;

	lookup_conf(o, conf, &c, servers);
	if (dk_resolver_new(&r, &c, NULL, NULL, &d) < 0)
		return 1;
	if (o->id[0] == '@')
		rc = dk_lookup_fqdn(r, o->id, print_result, &w);
	else if (oe_addr_parse(&a, o->id, strlen(o->id)))
		rc = dk_lookup_addr(r, &a, print_result, &w);
	else
		rc = -EINVAL;
	if (rc == -EINVAL) {
		dk_resolver_free(r);
		return cli_usage_error("lookup", "not an address or @FQDN");
	}
	/* Bounded: the lookup's own deadline (dns-lookup-timeout) ends it first; this only
	 * guards against a bug. */
	if (rc == 0 && dk_poll_run(&r, 1, waited, &w, (int)c.lookup_timeout_ms + 5000) < 0)
		fprintf(stderr, "ipsec lookup: gave up waiting\n");
	dk_resolver_free(r);
	return w.exit;
}

int cmd_lookup(int argc, char **argv, const char *config)
{
	struct lookup_opts o = { 0 };
	struct oe_conf conf;
	int rc;

	oe_buf_init(&o.servers);
	rc = parse_args(argc, argv, &o);
	if (rc == 0 && cli_conf_load(config, &conf, true) == 0) {
		rc = run_lookup(&o, &conf);
		oe_conf_free(&conf);
	} else if (rc == 0) {
		rc = 1;
	}
	oe_buf_free(&o.servers);
	return rc;
}
