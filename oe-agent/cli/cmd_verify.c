/* `ipsec verify`: are this host's own key records published, do they carry its host key, and
 * do they validate? Looks each of the host's identities up exactly as a peer's agent would
 * (same lookup code, the config's servers and trust anchors, same record order and gateway
 * policy) and prints one OK / WARN / FAIL line per check. Exit 0 only when at least one
 * published record carries our key and is DNSSEC-secure (or insecure with dnssec-enable=no). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "dnskeys.h"

#define VERIFY_MAX_IDS (OE_CONF_MAX_ADDRS + 1) /* the addresses, and myid=@fqdn */

/* One identity to check and, once the lookup called back, what DNS said. */
struct verify_id {
	char text[DK_NAME_MAX];   /* "192.0.2.10" or "@host.example" */
	bool is_addr;
	struct oe_addr addr;
	bool done;
	bool not_started;         /* the lookup could not start (already reported) */
	struct dk_result res;     /* deep copy (owns its keys) */
};

struct verify {
	struct verify_id ids[VERIFY_MAX_IDS];
	size_t n, pending;
	const struct oe_conf *conf;
	struct dk_pubkey ours;
	EVP_PKEY *pk;             /* our host key */
	char our_keyid[DK_KEYID_LEN + 1];
	unsigned good;            /* records that match our key and are accepted */
	unsigned fails;
};

static void on_result(void *arg, const struct dk_result *res)
{
	struct verify_id *id = arg;

	if (dk_result_copy(&id->res, res) < 0) {
		memset(&id->res, 0, sizeof(id->res));
		id->res.status = DK_L_NOMEM;
	}
	id->done = true;
}

static bool all_done(void *arg)
{
	struct verify *v = arg;

	for (size_t i = 0; i < v->n; i++)
		if (!v->ids[i].done)
			return false;
	return true;
}

/* Prints "WORD  ID: message" and counts failures. */
static void line(struct verify *v, const char *word, const struct verify_id *id,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void line(struct verify *v, const char *word, const struct verify_id *id,
		 const char *fmt, ...)
{
	va_list ap;

	if (strcmp(word, "FAIL") == 0)
		v->fails++;
	printf("%-4s  %s: ", word, id ? id->text : "hostkey");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Same bytes, or the same key in another valid encoding (e.g. an RFC 3110 blob with the
 * 3-octet exponent length form). */
static bool is_ours(const struct verify *v, const struct dk_found *f)
{
	if (f->key.alg == v->ours.alg && f->key.len == v->ours.len &&
	    memcmp(f->key.b, v->ours.b, f->key.len) == 0)
		return true;
	return f->pkey && v->pk && EVP_PKEY_eq(f->pkey, v->pk) == 1;
}

/* Is an address one of this host's (the looked-up one, listen=, or detected)? */
static bool our_addr(const struct verify *v, const struct oe_addr *a)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->ids[i].is_addr && oe_addr_eq(&v->ids[i].addr, a))
			return true;
	return false;
}

/* RFC 4025 §1.1: the gateway is where peers send IKE. None (type 0) means the host itself. */
static void check_gateway(struct verify *v, const struct verify_id *id, const struct dk_found *f,
			  const char *what)
{
	char ab[OE_ADDRSTRLEN];

	switch (f->gw_type) {
	case DK_GW_NONE:
		line(v, "OK", id, "%s: no gateway (peers negotiate with this host)", what);
		break;
	case DK_GW_IPV4:
	case DK_GW_IPV6:
		oe_addr_str(&f->gw_addr, ab);
		if (our_addr(v, &f->gw_addr))
			line(v, "OK", id, "%s: gateway %s is this host", what, ab);
		else
			line(v, "WARN", id, "%s: gateway %s is not this host (peers will negotiate "
			     "with %s; fine only if it is this host's security gateway)", what, ab, ab);
		break;
	default:
		line(v, "WARN", id, "%s: gateway %s is a name; check that it resolves to this host "
		     "or its security gateway", what, f->gw_name);
		break;
	}
}

/* One record: the key, then the gateway. Returns true when it carries our key. */
static bool check_record(struct verify *v, const struct verify_id *id, const struct dk_found *f)
{
	char what[64];

	snprintf(what, sizeof(what), "%s precedence %u", dk_rrtype_name(f->rrtype),
		 f->precedence);
	if (f->key.len == 0) {
		line(v, "WARN", id, "%s: carries no key (peers must find it elsewhere)", what);
		return false;
	}
	if (!is_ours(v, f)) {
		line(v, "FAIL", id, "%s: keyid %s is not our host key (keyid %s)", what, f->keyid,
		     v->our_keyid);
		return false;
	}
	line(v, "OK", id, "%s: keyid %s matches our host key", what, f->keyid);
	check_gateway(v, id, f, what);
	return true;
}

/* The validation state of an answer that carries our key: does it count? */
static bool check_validation(struct verify *v, const struct verify_id *id)
{
	const struct dk_result *r = &id->res;

	if (r->val == DK_VAL_SECURE) {
		line(v, "OK", id, "DNSSEC secure (%s)", r->reason);
		return true;
	}
	if (r->val == DK_VAL_INSECURE && !v->conf->dnssec_enable) {
		line(v, "OK", id, "DNSSEC insecure, accepted with dnssec-enable=no (%s)", r->reason);
		return true;
	}
	line(v, "FAIL", id, "DNSSEC %s: %s (peers that validate %s)", dk_val_name(r->val),
	     r->reason[0] ? r->reason : "no reason given",
	     r->val == DK_VAL_INSECURE ? "accept it only naming this host as gateway; sign "
					 "the zone or add its anchor"
				       : "refuse it");
	return false;
}

static void report_id(struct verify *v, const struct verify_id *id)
{
	const struct dk_result *r = &id->res;
	bool matched = false;

	if (r->status != DK_L_FOUND) {
		const char *what = r->status == DK_L_NXDOMAIN || r->status == DK_L_NODATA
					   ? "not published"
				   : r->status == DK_L_BOGUS ? "DNSSEC bogus, peers refuse it,"
				   : r->status == DK_L_GATEWAY || r->status == DK_L_MALFORMED
					   ? "refused by the lookup"
					   : "lookup failed";

		line(v, "FAIL", id, "%s at %s: %s%s%s%s", what, r->qname[0] ? r->qname : "?",
		     dk_lookup_strerror(r->status), r->reason[0] ? " (" : "", r->reason,
		     r->reason[0] ? ")" : "");
		return;
	}
	line(v, "OK", id, "found %zu %s record%s at %s (ttl %u)", r->nfound,
	     dk_rrtype_name(r->rrtype), r->nfound == 1 ? "" : "s", r->qname, r->ttl);
	for (size_t i = 0; i < r->nfound; i++)
		matched |= check_record(v, id, &r->found[i]);
	if (!matched) {
		line(v, "FAIL", id, "no %s record at %s carries our host key (keyid %s)",
		     dk_rrtype_name(r->rrtype), r->qname, v->our_keyid);
		return;
	}
	if (check_validation(v, id))
		v->good++;
}

/* The identities: the arguments, else this host's addresses and myid when it is @fqdn. */
static int collect_ids(struct verify *v, int argc, char **argv)
{
	struct oe_addr addrs[OE_CONF_MAX_ADDRS];
	size_t n;

	for (int i = 1; i < argc && v->n < VERIFY_MAX_IDS; i++) {
		struct verify_id *id = &v->ids[v->n++];

		snprintf(id->text, sizeof(id->text), "%s", argv[i]);
		id->is_addr = argv[i][0] != '@';
		if (id->is_addr && !oe_addr_parse(&id->addr, argv[i], strlen(argv[i])))
			return cli_usage_error("verify", "not an address or @FQDN");
	}
	if (argc > 1)
		return argc - 1 > VERIFY_MAX_IDS ? cli_usage_error("verify", "too many identities")
						 : 0;
	n = oe_conf_our_addrs(v->conf, addrs, OE_CONF_MAX_ADDRS);
	for (size_t i = 0; i < n; i++) {
		struct verify_id *id = &v->ids[v->n++];

		id->is_addr = true;
		id->addr = addrs[i];
		oe_addr_str(&addrs[i], id->text);
	}
	if (v->conf->myid && v->conf->myid[0] == '@' && v->conf->myid[1]) {
		snprintf(v->ids[v->n].text, sizeof(v->ids[v->n].text), "%s", v->conf->myid);
		v->n++;
	}
	if (v->n == 0) {
		static const struct verify_id none = { .text = "identities" };

		line(v, "FAIL", &none, "no address to check (no listen= and no global address); "
		     "name one: ipsec verify ADDR|@FQDN");
		return 1;
	}
	return 0;
}

static int load_key(struct verify *v)
{
	struct oe_diag d = { oe_diag_print, stderr, 0, 0 };
	EVP_PKEY *pk = NULL;
	int rc = 1;

	if (dk_hostkey_load(v->conf->hostkey, &pk, &d) < 0) {
		line(v, "FAIL", NULL, "cannot load %s (make one with ipsec newhostkey)",
		     v->conf->hostkey);
	} else if (dk_pubkey_encode(pk, &v->ours) != DK_OK) {
		line(v, "FAIL", NULL, "%s: cannot encode its public key", v->conf->hostkey);
	} else {
		dk_keyid(v->ours.b, v->ours.len, v->our_keyid);
		line(v, "OK", NULL, "%s: %s %u bits, keyid %s", v->conf->hostkey,
		     dk_keytype_name(dk_pkey_type(pk)), dk_pkey_bits(pk), v->our_keyid);
		rc = 0;
	}
	if (rc == 0)
		v->pk = pk;
	else
		EVP_PKEY_free(pk);
	return rc;
}

/* Looks every identity up at once and waits (bounded by the lookup deadline). */
static int lookup_all(struct verify *v)
{
	struct oe_diag d = { oe_diag_print, stderr, 0, 0 };
	char servers[OE_DNS_SERVERS_MAX];
	struct dk_lookup_conf lc;
	struct dk_resolver *r = NULL;
	int rc = 0;

	oe_conf_dns(v->conf, &lc, servers);
	if (dk_resolver_new(&r, &lc, NULL, NULL, &d) < 0)
		return 1;
	for (size_t i = 0; i < v->n && rc == 0; i++) {
		struct verify_id *id = &v->ids[i];

		rc = id->is_addr ? dk_lookup_addr(r, &id->addr, on_result, id)
				 : dk_lookup_fqdn(r, id->text, on_result, id);
		if (rc < 0) {
			line(v, "FAIL", id, "cannot look it up: %s", strerror(-rc));
			id->done = id->not_started = true;
			rc = 0;
		}
	}
	if (dk_poll_run(&r, 1, all_done, v, (int)lc.lookup_timeout_ms + 5000) < 0)
		fprintf(stderr, "ipsec verify: gave up waiting for DNS\n");
	dk_resolver_free(r); /* answers what is still in flight with DK_L_CANCELLED */
	return 0;
}

int cmd_verify(int argc, char **argv, const char *config)
{
	struct verify *v = calloc(1, sizeof(*v));
	struct oe_conf conf;
	int rc = 1;

	if (!v) {
		fprintf(stderr, "ipsec verify: out of memory\n");
		return 1;
	}
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1]) {
			free(v);
			return cli_usage_error("verify", "unknown option");
		}
	if (cli_conf_load(config, &conf, true)) {
		free(v);
		return 1;
	}
	v->conf = &conf;
	rc = collect_ids(v, argc, argv);
	if (rc == 0)
		rc = load_key(v);
	if (rc == 0)
		rc = lookup_all(v);
	for (size_t i = 0; rc == 0 && i < v->n; i++)
		if (!v->ids[i].not_started)
			report_id(v, &v->ids[i]);
	if (rc == 0) {
		printf("%s  %u record%s carr%s our key and validate%s; %u failure%s\n",
		       v->good ? "OK  " : "FAIL", v->good, v->good == 1 ? "" : "s",
		       v->good == 1 ? "ies" : "y", v->good == 1 ? "s" : "", v->fails,
		       v->fails == 1 ? "" : "s");
		rc = v->good ? 0 : 1;
	}
	for (size_t i = 0; i < v->n; i++)
		dk_result_clear(&v->ids[i].res);
	EVP_PKEY_free(v->pk);
	free(v);
	oe_conf_free(&conf);
	return rc;
}
