/* `ipsec newhostkey` (make the host key) and `ipsec showhostkey` (print it as zone-file
 * records to publish: IPSECKEY, FreeS/WAN X-IPsec-Server TXT, legacy KEY, or as
 * leftrsasigkey=/leftpubkey= lines for ipsec.conf). The records are owned by the reverse name
 * of the host's address (RFC 1035 §3.5, RFC 3596 §2.5) unless --id names the owner. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/x509.h>

#include "agent.h"
#include "dnskeys.h"
#include "oe_b64.h"

/* Value of option name at argv[*i] ("--name VAL" or "--name=VAL"); NULL if argv[*i] is not
 * that option. A missing value sets *missing. */
static const char *opt_val(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

/* The key file: --file/--output, else the config's hostkey (its default when there is no
 * config). Returns a malloc'd path or NULL after printing why. */
static char *key_path(const char *given, const char *config)
{
	struct oe_conf c;
	char *p;

	if (given)
		return strdup(given);
	if (cli_conf_load(config, &c, true))
		return NULL;
	p = strdup(c.hostkey ? c.hostkey : DK_HOSTKEY_DEFAULT);
	oe_conf_free(&c);
	return p;
}

/* ---- newhostkey ---------------------------------------------------------------------------- */

static void print_keyid(const EVP_PKEY *pk, FILE *f)
{
	struct dk_pubkey k;
	char id[DK_KEYID_LEN + 1];

	if (dk_pubkey_encode(pk, &k) == DK_OK) {
		dk_keyid(k.b, k.len, id);
		fprintf(f, "%s\n", id);
	}
}

int cmd_newhostkey(int argc, char **argv, const char *config)
{
	enum dk_keytype type = DK_KT_RSA;
	const char *output = NULL, *v;
	unsigned long bits = 0;
	bool force = false, missing = false;
	EVP_PKEY *pk = NULL;
	char *path = NULL;
	int rc = 1, err;

	for (int i = 1; i < argc; i++) {
		if ((v = opt_val(argc, argv, &i, "--keytype", &missing))) {
			if (!dk_keytype_parse(v, &type))
				return cli_usage_error("newhostkey", "--keytype: rsa, ecdsa or ed25519");
		} else if ((v = opt_val(argc, argv, &i, "--bits", &missing))) {
			if (!parse_uint(v, 65536, &bits) || bits < DK_RSA_BITS_MIN ||
			    bits > DK_RSA_BITS_MAX)
				return cli_usage_error("newhostkey", "--bits: 2048 to 8192");
		} else if ((v = opt_val(argc, argv, &i, "--output", &missing))) {
			output = v;
		} else if (strcmp(argv[i], "--force") == 0) {
			force = true;
		} else {
			return cli_usage_error("newhostkey", missing ? "option needs a value"
								     : "unexpected argument");
		}
	}
	if (bits && type != DK_KT_RSA)
		return cli_usage_error("newhostkey", "--bits applies to RSA keys only");
	path = key_path(output, config);
	if (!path)
		return 1;
	err = dk_hostkey_generate(type, (unsigned)bits, &pk);
	if (!err)
		err = dk_hostkey_write(path, pk, force);
	if (err == -EEXIST)
		fprintf(stderr, "ipsec newhostkey: %s exists; not overwriting it without --force\n",
			path);
	else if (err)
		fprintf(stderr, "ipsec newhostkey: %s: %s\n", path, strerror(-err));
	else {
		fprintf(stderr, "ipsec newhostkey: wrote a %u-bit %s key to %s; its keyid:\n",
			dk_pkey_bits(pk), dk_keytype_name(type), path);
		print_keyid(pk, stdout);
		rc = 0;
	}
	EVP_PKEY_free(pk);
	free(path);
	return rc;
}

/* ---- showhostkey --------------------------------------------------------------------------- */

enum show_form { SHOW_NONE, SHOW_IPSECKEY, SHOW_TXT, SHOW_KEY, SHOW_LEFT, SHOW_RIGHT };

struct show_opts {
	enum show_form form;
	const char *file, *id, *gateway, *txt_gw;
	unsigned long precedence; /* 10 unless given */
};

/* The owner names: --id (an address: its reverse name; a name, with or without '@': that
 * name, made absolute), else the reverse name of each of the host's addresses. */
static size_t owners(const struct show_opts *o, const char *config, char out[][DK_NAME_MAX],
		     size_t max)
{
	struct oe_addr addrs[OE_CONF_MAX_ADDRS];
	struct oe_conf c;
	size_t n, i;

	if (o->id) {
		const char *id = o->id[0] == '@' ? o->id + 1 : o->id;
		size_t len = strlen(id);

		if (oe_addr_parse(&addrs[0], id, len)) {
			dk_reverse_name(&addrs[0], out[0]);
			return 1;
		}
		if (len == 0 || len + 2 > DK_NAME_MAX)
			return 0;
		snprintf(out[0], DK_NAME_MAX, "%s%s", id, id[len - 1] == '.' ? "" : ".");
		return 1;
	}
	if (cli_conf_load(config, &c, false))
		return 0;
	n = oe_conf_our_addrs(&c, addrs, max < OE_CONF_MAX_ADDRS ? max : OE_CONF_MAX_ADDRS);
	oe_conf_free(&c);
	for (i = 0; i < n; i++)
		dk_reverse_name(&addrs[i], out[i]);
	return n;
}

static const char *alg_name(enum dk_keytype t)
{
	return t == DK_KT_RSA ? "RSA" : t == DK_KT_ECDSA_P256 ? "ECDSA P-256" : "Ed25519";
}

/* "; RSA 3072 bits, keyid AwEAAc0xy, <file> of 2026-11-23 16:58 UTC" ('#' for ipsec.conf). */
static void print_comment(FILE *f, const char *lead, const EVP_PKEY *pk,
			  const struct dk_pubkey *k, const char *path)
{
	char id[DK_KEYID_LEN + 1], date[32] = "unknown date";
	struct stat sb;
	struct tm tm;

	dk_keyid(k->b, k->len, id);
	if (stat(path, &sb) == 0 && gmtime_r(&sb.st_mtime, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(f, "%s %s %u bits, keyid %s, %s of %s\n", lead, alg_name(dk_pkey_type(pk)),
		dk_pkey_bits(pk), id, path, date);
}

/* The IPSECKEY gateway from --gateway: none or "." (type 0), an address (1 or 2), a name. */
static bool ipseckey_gateway(const char *g, struct dk_ipseckey *r)
{
	if (!g || strcmp(g, ".") == 0 || strcmp(g, "none") == 0) {
		r->gw_type = DK_GW_NONE;
		return true;
	}
	if (oe_addr_parse(&r->gw_addr, g, strlen(g))) {
		r->gw_type = r->gw_addr.af == AF_INET ? DK_GW_IPV4 : DK_GW_IPV6;
		return true;
	}
	if (g[0] == '@')
		g++;
	if (strlen(g) >= sizeof(r->gw_name))
		return false;
	r->gw_type = DK_GW_NAME;
	strcpy(r->gw_name, g);
	return true;
}

/* One record's rdata in presentation form, for the key k, into b. */
static enum dk_status record_text(const struct show_opts *o, const struct dk_pubkey *k,
				  struct oe_buf *b, const char **type)
{
	static struct dk_ipseckey r;
	static struct dk_txt t;

	switch (o->form) {
	case SHOW_IPSECKEY:
		memset(&r, 0, sizeof(r));
		r.precedence = (uint8_t)o->precedence;
		r.key = *k;
		if (!ipseckey_gateway(o->gateway, &r))
			return DK_ERR_NAME_LONG;
		*type = "IPSECKEY";
		return dk_ipseckey_format(&r, b);
	case SHOW_TXT:
		memset(&t, 0, sizeof(t));
		t.pref = (uint16_t)o->precedence;
		if (o->txt_gw[0] == '@' && strlen(o->txt_gw) < sizeof(t.gw_name)) {
			t.gw_is_name = true;
			strcpy(t.gw_name, o->txt_gw + 1);
		} else if (!oe_addr_parse(&t.gw_addr, o->txt_gw, strlen(o->txt_gw))) {
			return DK_ERR_TXT_GW;
		}
		t.key = *k;
		*type = "TXT";
		return dk_txt_format(&t, b);
	default:
		*type = "KEY";
		return dk_keyrr_format(k, b);
	}
}

/* --left / --right: leftrsasigkey=0s<RFC 3110 blob> for RSA (FreeS/WAN's form); for ECDSA
 * and Ed25519, which have no rsasigkey form, leftpubkey=0s<base64 DER SubjectPublicKeyInfo>. */
static int print_conf_line(const struct show_opts *o, EVP_PKEY *pk, const struct dk_pubkey *k,
			   const char *path)
{
	const char *side = o->form == SHOW_LEFT ? "left" : "right";
	bool rsa = dk_pkey_type(pk) == DK_KT_RSA;
	unsigned char *der = NULL;
	const uint8_t *bytes = k->b;
	char *b64;
	int len = k->len;

	if (!rsa) {
		len = i2d_PUBKEY(pk, &der);
		bytes = der;
	}
	b64 = len > 0 ? malloc(OE_B64_LEN((size_t)len) + 1) : NULL;
	if (!b64) {
		fprintf(stderr, "ipsec showhostkey: cannot encode the public key\n");
		OPENSSL_free(der);
		return 1;
	}
	oe_b64_encode(bytes, (size_t)len, b64);
	print_comment(stdout, "\t#", pk, k, path);
	printf("\t%s%s=0s%s\n", side, rsa ? "rsasigkey" : "pubkey", b64);
	free(b64);
	OPENSSL_free(der);
	return 0;
}

/* Prints the records of o->form for every owner name. */
static int print_records(const struct show_opts *o, const char *config, EVP_PKEY *pk,
			 const struct dk_pubkey *k, const char *path)
{
	static char names[OE_CONF_MAX_ADDRS][DK_NAME_MAX];
	size_t n = owners(o, config, names, OE_CONF_MAX_ADDRS);
	const char *type = "";
	struct oe_buf b;
	enum dk_status st;

	if (n == 0) {
		fprintf(stderr, "ipsec showhostkey: %s; name the record owner with --id\n",
			o->id ? "--id is neither an address nor a domain name"
			      : "cannot find this host's address (no listen= and no global address)");
		return 1;
	}
	oe_buf_init(&b);
	st = record_text(o, k, &b, &type);
	if (st == DK_OK && oe_buf_failed(&b))
		st = DK_ERR_NOMEM;
	if (st != DK_OK) {
		fprintf(stderr, "ipsec showhostkey: cannot make the %s record: %s\n",
			o->form == SHOW_IPSECKEY ? "IPSECKEY" : o->form == SHOW_TXT ? "TXT" : "KEY",
			dk_strerror(st));
		oe_buf_free(&b);
		return 1;
	}
	print_comment(stdout, ";", pk, k, path);
	for (size_t i = 0; i < n; i++)
		printf("%s\tIN\t%s\t%s\n", names[i], type, b.p);
	oe_buf_free(&b);
	return 0;
}

/* Reads the options; returns 0, or the usage status after printing why. */
static int show_args(int argc, char **argv, struct show_opts *o)
{
	static const char *const flags[] = { "--ipseckey", "--key", "--left", "--right" };
	static const enum show_form forms[] = { SHOW_IPSECKEY, SHOW_KEY, SHOW_LEFT, SHOW_RIGHT };
	bool missing = false;
	const char *v;
	enum show_form f;

	for (int i = 1; i < argc; i++) {
		f = SHOW_NONE;
		for (size_t j = 0; j < 4; j++)
			if (strcmp(argv[i], flags[j]) == 0)
				f = forms[j];
		if (f == SHOW_NONE && (v = opt_val(argc, argv, &i, "--txt", &missing))) {
			f = SHOW_TXT;
			o->txt_gw = v;
		}
		if (f != SHOW_NONE) {
			if (o->form != SHOW_NONE)
				return cli_usage_error("showhostkey", "give one record form only");
			o->form = f;
		} else if ((v = opt_val(argc, argv, &i, "--file", &missing))) {
			o->file = v;
		} else if ((v = opt_val(argc, argv, &i, "--id", &missing))) {
			o->id = v;
		} else if ((v = opt_val(argc, argv, &i, "--gateway", &missing))) {
			o->gateway = v;
		} else if ((v = opt_val(argc, argv, &i, "--precedence", &missing))) {
			if (!parse_uint(v, 65535, &o->precedence))
				return cli_usage_error("showhostkey", "--precedence: a number");
		} else {
			return cli_usage_error("showhostkey", missing ? "option needs a value"
								      : "unexpected argument");
		}
	}
	if (o->form == SHOW_NONE)
		return cli_usage_error("showhostkey", "say which form: --ipseckey, --txt GW, "
				       "--key, --left or --right");
	if (o->form == SHOW_IPSECKEY && o->precedence > 255)
		return cli_usage_error("showhostkey", "IPSECKEY precedence is 0 to 255");
	if (o->gateway && o->form != SHOW_IPSECKEY)
		return cli_usage_error("showhostkey", "--gateway goes with --ipseckey");
	return 0;
}

int cmd_showhostkey(int argc, char **argv, const char *config)
{
	struct show_opts o = { .precedence = 10 };
	struct oe_diag d = { oe_diag_print, stderr, 0, 0 };
	struct dk_pubkey k;
	EVP_PKEY *pk = NULL;
	char *path;
	int rc = show_args(argc, argv, &o);

	if (rc)
		return rc;
	path = key_path(o.file, config);
	if (!path)
		return 1;
	rc = 1;
	if (dk_hostkey_load(path, &pk, &d) < 0)
		goto out;
	if (dk_pubkey_encode(pk, &k) != DK_OK) {
		fprintf(stderr, "ipsec showhostkey: %s: cannot encode the public key\n", path);
		goto out;
	}
	if ((o.form == SHOW_TXT || o.form == SHOW_KEY) && k.alg != DK_ALG_RSA) {
		fprintf(stderr, "ipsec showhostkey: %s records can only carry RSA keys; this is an "
			"%s key: publish it with --ipseckey\n", o.form == SHOW_TXT ? "TXT" : "KEY",
			alg_name(dk_pkey_type(pk)));
		goto out;
	}
	if (o.form == SHOW_LEFT || o.form == SHOW_RIGHT)
		rc = print_conf_line(&o, pk, &k, path);
	else
		rc = print_records(&o, config, pk, &k, path);
out:
	EVP_PKEY_free(pk);
	free(path);
	return rc;
}
