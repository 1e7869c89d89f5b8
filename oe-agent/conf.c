/* ipsec.conf in FreeS/WAN syntax, parsed from a buffer: `version 2`, a `config setup` section
 * and `conn NAME` sections, each header at column 0 and its key=value lines indented. Only the
 * five policy-group conns mean something yet (auto=ignore switches a group off); their other
 * keys are kept as text. Any error rejects the file; messages read "path:line: what 'tok': why".
 * Pure: no file or system access here (conf_sys.c does that). */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oe_sel.h"
#include "oe_time.h"

struct kv_seen {
	char *key;
	unsigned line;
};

struct parse {
	struct oe_conf *c;
	const char *path;
	struct oe_diag *d;
	unsigned line;
	enum { SEC_NONE, SEC_SETUP, SEC_CONN, SEC_BAD } sec;
	struct oe_conf_conn *conn; /* SEC_CONN */
	unsigned setup_line;	   /* where config setup began, 0 = not yet */
	struct kv_seen *setup_seen;
	size_t nsetup_seen;
	bool hostkey_set;
	bool nomem;
};

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

static bool is_name_char(char ch)
{
	return is_key_char(ch) || ch == '.' || ch == '%';
}

static char *dup_n(struct parse *ps, const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		ps->nomem = true;
	return p;
}

/* ---- typed config setup keys ------------------------------------------------------------- */

/* Each setter gets the value (NUL-terminated copy) and returns NULL or why it is bad. */
typedef const char *(*setter)(struct parse *ps, char *v);

static const char *set_path(struct parse *ps, char *v, char **field, size_t max)
{
	if (v[0] != '/')
		return "expected an absolute path (the agent runs in /)";
	if (strlen(v) > max)
		return "path too long";
	free(*field);
	*field = v;
	return NULL;
}

static const char *set_ipsecdir(struct parse *ps, char *v)
{
	return set_path(ps, v, &ps->c->ipsecdir, 4000);
}

static const char *set_hostkey(struct parse *ps, char *v)
{
	ps->hostkey_set = true;
	return set_path(ps, v, &ps->c->hostkey, 4000);
}

static const char *set_ctlsocket(struct parse *ps, char *v)
{
	/* sun_path holds 108 bytes including the NUL. */
	return set_path(ps, v, &ps->c->ctlsocket, 107);
}

static const char *set_pidfile(struct parse *ps, char *v)
{
	return set_path(ps, v, &ps->c->pidfile, 4000);
}

static const char *set_rootkey(struct parse *ps, char *v)
{
	/* "none": no root anchor, only dnssec-anchors (private zones; also what tests use). */
	if (strcmp(v, "none") == 0) {
		v[0] = '\0';
		free(ps->c->dnssec_rootkey_file);
		ps->c->dnssec_rootkey_file = v;
		return NULL;
	}
	return set_path(ps, v, &ps->c->dnssec_rootkey_file, 4000);
}

static const char *set_anchors(struct parse *ps, char *v)
{
	return set_path(ps, v, &ps->c->dnssec_anchors, 4000);
}

static const char *set_logfile(struct parse *ps, char *v)
{
	if (strcmp(v, "syslog") == 0) {
		free(v);
		free(ps->c->logfile);
		ps->c->logfile = NULL;
		return NULL;
	}
	if (strcmp(v, "stderr") == 0) {
		free(ps->c->logfile);
		ps->c->logfile = v;
		return NULL;
	}
	if (v[0] != '/')
		return "expected syslog, stderr or an absolute path";
	return set_path(ps, v, &ps->c->logfile, 4000);
}

static const char *set_loglevel(struct parse *ps, char *v)
{
	enum oe_log_level lv;

	if (!oe_log_level_parse(v, &lv))
		return "expected error, warning, notice, info or debug";
	ps->c->loglevel = lv;
	free(v);
	return NULL;
}

static const char *set_dnssec(struct parse *ps, char *v)
{
	if (strcmp(v, "yes") == 0)
		ps->c->dnssec_enable = true;
	else if (strcmp(v, "no") == 0)
		ps->c->dnssec_enable = false;
	else
		return "expected yes or no";
	free(v);
	return NULL;
}

static const char *set_shuntlifetime(struct parse *ps, char *v)
{
	const char *why;

	if (!oe_duration_parse(v, strlen(v), &ps->c->shuntlifetime_s, &why))
		return why;
	free(v);
	return NULL;
}

/* A duration (oe_duration_parse) of 0 (when zero_ok) or lo..hi seconds. */
static const char *set_secs(char *v, bool zero_ok, uint64_t lo, uint64_t hi, const char *range,
			    uint32_t *out)
{
	uint64_t s;
	const char *why;

	if (!oe_duration_parse(v, strlen(v), &s, &why))
		return why;
	if ((s || !zero_ok) && (s < lo || s > hi))
		return range;
	*out = (uint32_t)s;
	free(v);
	return NULL;
}

static const char *set_ikelifetime(struct parse *ps, char *v)
{
	return set_secs(v, false, 60, 86400, "expected 1m to 1d", &ps->c->ikelifetime_s);
}

static const char *set_salifetime(struct parse *ps, char *v)
{
	return set_secs(v, false, 10, 86400, "expected 10s to 1d", &ps->c->salifetime_s);
}

static const char *set_dpddelay(struct parse *ps, char *v)
{
	return set_secs(v, true, 1, 3600, "expected 0 (off) or 1s to 1h", &ps->c->dpddelay_s);
}

static const char *set_inactivity(struct parse *ps, char *v)
{
	return set_secs(v, true, 1, 86400, "expected 0 (never) or 1s to 1d",
			&ps->c->inactivity_s);
}

static const char *set_keepalive(struct parse *ps, char *v)
{
	return set_secs(v, true, 1, 3600, "expected 0 (off) or 1s to 1h", &ps->c->keepalive_s);
}

static const char *set_encapsulation(struct parse *ps, char *v)
{
	if (strcmp(v, "auto") == 0)
		ps->c->encapsulation = OE_ENCAP_AUTO;
	else if (strcmp(v, "yes") == 0)
		ps->c->encapsulation = OE_ENCAP_YES;
	else if (strcmp(v, "no") == 0)
		ps->c->encapsulation = OE_ENCAP_NO;
	else
		return "expected auto, yes or no";
	free(v);
	return NULL;
}

static const char *set_pfs(struct parse *ps, char *v)
{
	if (strcmp(v, "yes") == 0)
		ps->c->pfs = true;
	else if (strcmp(v, "no") == 0)
		ps->c->pfs = false;
	else
		return "expected yes or no";
	free(v);
	return NULL;
}

static const char *set_myid(struct parse *ps, char *v)
{
	free(ps->c->myid);
	ps->c->myid = v;
	return NULL;
}

/* A duration in milliseconds: "Nms", or what oe_duration_parse takes (bare N = seconds),
 * within lo..hi ms (else the reason range). */
static const char *set_ms(char *v, unsigned *out, unsigned lo, unsigned hi, const char *range)
{
	size_t n = strlen(v);
	uint64_t secs, ms;
	unsigned u;
	const char *why = NULL;

	if (n > 2 && strcmp(v + n - 2, "ms") == 0) {
		if (!oe_decimal_parse(v, n - 2, UINT32_MAX, &u))
			return "expected a number before 'ms'";
		ms = u;
	} else if (oe_duration_parse(v, n, &secs, &why)) {
		ms = secs * 1000;
	} else {
		return why;
	}
	if (ms < lo || ms > hi)
		return range;
	*out = (unsigned)ms;
	free(v);
	return NULL;
}

static const char *set_dns_timeout(struct parse *ps, char *v)
{
	return set_ms(v, &ps->c->dns_timeout_ms, 100, 60000, "expected 100ms to 60s");
}

static const char *set_dns_lookup_timeout(struct parse *ps, char *v)
{
	return set_ms(v, &ps->c->dns_lookup_timeout_ms, 1000, 3600000,
		      "expected 1s to 1h");
}

static const char *set_dns_retries(struct parse *ps, char *v)
{
	if (!oe_decimal_parse(v, strlen(v), 10, &ps->c->dns_retries))
		return "expected a number from 0 to 10";
	free(v);
	return NULL;
}

static const char *set_dns_cache_size(struct parse *ps, char *v)
{
	unsigned n;

	if (!oe_decimal_parse(v, strlen(v), 10000000, &n) || n == 0)
		return "expected a number of entries from 1 to 10000000";
	ps->c->dns_cache_size = n;
	free(v);
	return NULL;
}

/* Splits a list on blanks and commas; calls fn per item. Returns NULL or why. */
static const char *split_list(char *v, const char *(*fn)(struct parse *ps, const char *s, size_t n),
			      struct parse *ps)
{
	size_t i = 0, n = strlen(v), items = 0;

	while (i < n) {
		size_t j = i;
		const char *why;

		while (j < n && !is_space(v[j]) && v[j] != ',')
			j++;
		if (j > i) {
			if (++items > OE_CONF_MAX_ADDRS)
				return "too many addresses (at most 16)";
			why = fn(ps, v + i, j - i);
			if (why)
				return why;
		}
		i = j + 1;
	}
	return items ? NULL : "expected at least one address";
}

static const char *add_nameserver(struct parse *ps, const char *s, size_t n)
{
	struct oe_conf *c = ps->c;

	if (!oe_nameserver_parse(s, n, &c->nameservers[c->n_nameservers]))
		return "not an address, addr:port or [v6addr]:port";
	c->n_nameservers++;
	return NULL;
}

static const char *set_nameservers(struct parse *ps, char *v)
{
	const char *why;

	ps->c->n_nameservers = 0;
	why = split_list(v, add_nameserver, ps);
	if (!why)
		free(v);
	return why;
}

static const char *add_listen(struct parse *ps, const char *s, size_t n)
{
	struct oe_conf *c = ps->c;

	if (!oe_addr_parse(&c->listen[c->n_listen], s, n))
		return "not an IPv4 or IPv6 address";
	c->n_listen++;
	return NULL;
}

static const char *set_listen(struct parse *ps, char *v)
{
	const char *why;

	ps->c->n_listen = 0;
	why = split_list(v, add_listen, ps);
	if (!why)
		free(v);
	return why;
}

/* ---- trap path keys ---- */

static const char *set_trap(struct parse *ps, char *v)
{
	if (strcmp(v, "yes") == 0)
		ps->c->trap = true;
	else if (strcmp(v, "no") == 0)
		ps->c->trap = false;
	else
		return "expected yes or no";
	free(v);
	return NULL;
}

/* A decimal count within lo..hi. */
static const char *set_count(char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long n;
	char *end;

	if (v[0] < '0' || v[0] > '9' || (v[0] == '0' && v[1]))
		return "expected a decimal number";
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno || n < lo || n > hi)
		return "number out of range";
	*out = n;
	free(v);
	return NULL;
}

#define COUNT_SETTER(name, field, lo, hi)                                                  \
	static const char *set_##name(struct parse *ps, char *v)                           \
	{                                                                                  \
		uint64_t n;                                                                \
		const char *why = set_count(v, lo, hi, &n);                                \
                                                                                           \
		if (!why)                                                                  \
			ps->c->field = (__typeof__(ps->c->field))n;                        \
		return why;                                                                \
	}
COUNT_SETTER(trapqueue, trapqueue, 0, 65535)
COUNT_SETTER(queuemaxlen, queuemaxlen, 16, 1u << 24)
COUNT_SETTER(holdpackets, holdpackets, 1, 65536)
COUNT_SETTER(holdbytes, holdbytes, 1500, 1u << 30)
COUNT_SETTER(maxflows, maxflows, 1, 1u << 24)
COUNT_SETTER(maxlookups, maxlookups, 1, 1u << 20)
COUNT_SETTER(maxshunts, maxshunts, 16, 1u << 24)
COUNT_SETTER(maxheldbytes, maxheldbytes, 1500, 1ull << 36)

/* "0x4f450000" or "0x4f450000/0xffff0000" (hex or decimal); the value must lie inside the
 * mask, and the mask needs two bits: one for our sockets' value, the next for trapped packets. */
static const char *set_socketmark(struct parse *ps, char *v)
{
	unsigned long long m, k = 0xffff0000ull;
	char *end;

	errno = 0;
	m = strtoull(v, &end, 0);
	if (end == v || errno || m > 0xffffffffull || (*end && *end != '/'))
		return "expected MARK or MARK/MASK (32-bit numbers)";
	if (*end == '/') {
		char *s = end + 1;

		k = strtoull(s, &end, 0);
		if (end == s || *end || errno || k > 0xffffffffull)
			return "expected MARK or MARK/MASK (32-bit numbers)";
	}
	if ((m & ~k) || !m || __builtin_popcountll(k) < 2 || !((m + (k & (~k + 1))) & k))
		return "the mark must be non-zero and inside the mask, and mark + the mask's lowest "
		       "bit must stay inside it (that marks trapped packets)";
	ps->c->socketmark = (uint32_t)m;
	ps->c->socketmask = (uint32_t)k;
	free(v);
	return NULL;
}

static const struct {
	const char *key;
	setter set;
} setup_keys[] = {
	{ "ipsecdir", set_ipsecdir },
	{ "hostkey", set_hostkey },
	{ "ctlsocket", set_ctlsocket },
	{ "pidfile", set_pidfile },
	{ "logfile", set_logfile },
	{ "loglevel", set_loglevel },
	{ "nameservers", set_nameservers },
	{ "dnssec-enable", set_dnssec },
	{ "dnssec-rootkey-file", set_rootkey },
	{ "dnssec-anchors", set_anchors },
	{ "dns-timeout", set_dns_timeout },
	{ "dns-retries", set_dns_retries },
	{ "dns-lookup-timeout", set_dns_lookup_timeout },
	{ "dns-cache-size", set_dns_cache_size },
	{ "shuntlifetime", set_shuntlifetime },
	{ "myid", set_myid },
	{ "ikelifetime", set_ikelifetime },
	{ "salifetime", set_salifetime },
	{ "dpddelay", set_dpddelay },
	{ "inactivity", set_inactivity },
	{ "encapsulation", set_encapsulation },
	{ "keep-alive", set_keepalive },
	{ "pfs", set_pfs },
	{ "listen", set_listen },
	{ "trap", set_trap },
	{ "trapqueue", set_trapqueue },
	{ "queuemaxlen", set_queuemaxlen },
	{ "socketmark", set_socketmark },
	{ "holdpackets", set_holdpackets },
	{ "holdbytes", set_holdbytes },
	{ "maxflows", set_maxflows },
	{ "maxlookups", set_maxlookups },
	{ "maxshunts", set_maxshunts },
	{ "maxheldbytes", set_maxheldbytes },
};

/* Keys Libreswan's conns use (its group conns among them); accepted and kept as text. */
static const char *const conn_keys[] = {
	"auto", "also", "type", "authby", "ikev2", "left", "right", "leftid", "rightid",
	"leftsubnet", "rightsubnet", "leftprotoport", "rightprotoport", "leftnexthop",
	"rightnexthop", "leftrsasigkey", "rightrsasigkey", "leftauth", "rightauth", "leftcert",
	"rightcert", "leftca", "rightca", "leftsourceip", "rightsourceip", "failureshunt",
	"negotiationshunt", "keyingtries", "ikelifetime", "salifetime", "rekey", "rekeymargin",
	"pfs", "ike", "esp", "phase2", "phase2alg", "narrowing", "encapsulation", "dpddelay",
	"dpdtimeout", "dpdaction", "retransmit-timeout", "retransmit-interval", "priority",
	"mtu", "compress", "keyexchange", "leftupdown", "rightupdown", "nat-keepalive",
	"shuntlifetime", "labeled-ipsec", "policy-label", "tfc", "sha2-truncbug", "fragmentation",
	"mobike", "ppk", "esn", "replay-window", "decap-dscp", "nopmtudisc", "tcp", "metric",
};

/* ---- sections ---------------------------------------------------------------------------- */

static void err_tok(struct parse *ps, const char *what, const char *s, size_t n, const char *why)
{
	char tb[OE_TOKSTRLEN];

	oe_diag_error(ps->d, ps->path, ps->line, "%s '%s': %s", what, oe_tok(s, n, tb), why);
}

/* Splits a header line into up to 3 words (before any '#'); returns the word count, 4 = more. */
static int words(const char *s, size_t n, const char *w[3], size_t wl[3])
{
	int k = 0;
	size_t i = 0;

	while (i < n) {
		while (i < n && is_space(s[i]))
			i++;
		if (i == n || s[i] == '#')
			break;
		if (k == 3)
			return 4;
		w[k] = s + i;
		while (i < n && !is_space(s[i]))
			i++;
		wl[k] = (size_t)(s + i - w[k]);
		k++;
	}
	return k;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static void begin_setup(struct parse *ps, int nw)
{
	if (nw != 2) {
		oe_diag_error(ps->d, ps->path, ps->line,
			      "section 'config setup': unexpected text after 'setup'");
		ps->sec = SEC_BAD;
	} else if (ps->setup_line) {
		oe_diag_error(ps->d, ps->path, ps->line,
			      "section 'config setup': duplicate section (first on line %u)",
			      ps->setup_line);
		ps->sec = SEC_BAD;
	} else {
		ps->setup_line = ps->line;
		ps->sec = SEC_SETUP;
	}
}

static void begin_conn(struct parse *ps, int nw, const char *name, size_t nl)
{
	struct oe_conf *c = ps->c;
	struct oe_conf_conn *cn;
	enum pg_group g;
	char *nm;

	ps->sec = SEC_BAD;
	if (nw < 2) {
		oe_diag_error(ps->d, ps->path, ps->line, "conn '': missing conn name");
		return;
	}
	if (nw > 2) {
		err_tok(ps, "conn", name, nl, "unexpected text after the conn name");
		return;
	}
	for (size_t i = 0; i < nl; i++) {
		if (!is_name_char(name[i])) {
			err_tok(ps, "conn", name, nl,
				"conn names use letters, digits, '-', '_', '.' and '%'");
			return;
		}
	}
	for (size_t i = 0; i < c->nconns; i++) {
		if (word_is(name, nl, c->conns[i].name)) {
			char why[64];

			snprintf(why, sizeof(why), "duplicate conn (first on line %u)",
				 c->conns[i].line);
			err_tok(ps, "conn", name, nl, why);
			return;
		}
	}
	nm = dup_n(ps, name, nl);
	cn = realloc(c->conns, (c->nconns + 1) * sizeof(*cn));
	if (!nm || !cn) {
		free(nm);
		if (cn)
			c->conns = cn;
		ps->nomem = true;
		return;
	}
	c->conns = cn;
	cn = &c->conns[c->nconns++];
	memset(cn, 0, sizeof(*cn));
	cn->name = nm;
	cn->line = ps->line;
	cn->is_group = pg_group_parse(nm, &g);
	cn->group = cn->is_group ? g : PG_CLEAR;
	if (!cn->is_group)
		oe_diag_warn(ps->d, ps->path, ps->line,
			     "conn '%s': only the group conns (clear, clear-or-private, "
			     "private-or-clear, private, block) are supported yet; ignored", nm);
	ps->conn = cn;
	ps->sec = SEC_CONN;
}

static void header_line(struct parse *ps, const char *s, size_t n)
{
	const char *w[3] = { 0 };
	size_t wl[3] = { 0 };
	int nw = words(s, n, w, wl);

	if (word_is(w[0], wl[0], "config") && nw >= 2 && word_is(w[1], wl[1], "setup")) {
		begin_setup(ps, nw);
	} else if (word_is(w[0], wl[0], "conn")) {
		begin_conn(ps, nw, w[1], wl[1]);
	} else if (word_is(w[0], wl[0], "version")) {
		if (nw != 2 || !(word_is(w[1], wl[1], "2") || word_is(w[1], wl[1], "2.0")))
			err_tok(ps, "version", nw >= 2 ? w[1] : "", nw >= 2 ? wl[1] : 0,
				"only 'version 2' is supported");
	} else if (word_is(w[0], wl[0], "include")) {
		err_tok(ps, "include", nw >= 2 ? w[1] : "", nw >= 2 ? wl[1] : 0,
			"include is not supported yet; put the settings in this file");
		ps->sec = SEC_BAD;
	} else {
		err_tok(ps, "section", s, n,
			"expected 'config setup', 'conn NAME' or 'version 2' at column 0 "
			"(key=value lines are indented)");
		ps->sec = SEC_BAD;
	}
}

/* ---- key=value lines --------------------------------------------------------------------- */

/* Finds the value after '=': quoted ("…", no escapes) or bare up to a '#' after a blank.
 * Returns false (error reported) on a bad quote. */
static bool split_value(struct parse *ps, const char *s, size_t n, const char **v, size_t *vl)
{
	size_t i = 0, end;

	while (i < n && is_space(s[i]))
		i++;
	if (i < n && s[i] == '"') {
		const char *q = memchr(s + i + 1, '"', n - i - 1);

		if (!q) {
			err_tok(ps, "value", s + i, n - i, "unterminated quote");
			return false;
		}
		*v = s + i + 1;
		*vl = (size_t)(q - *v);
		for (size_t j = (size_t)(q - s) + 1; j < n; j++) {
			if (s[j] == '#')
				break;
			if (!is_space(s[j])) {
				err_tok(ps, "value", s + i, n - i, "text after the closing quote");
				return false;
			}
		}
		return true;
	}
	end = i;
	while (end < n && !(s[end] == '#' && end > i && is_space(s[end - 1])) &&
	       !(s[end] == '#' && end == i))
		end++;
	while (end > i && is_space(s[end - 1]))
		end--;
	*v = s + i;
	*vl = end - i;
	return true;
}

static void setup_kv(struct parse *ps, const char *k, size_t kl, char *val)
{
	for (size_t i = 0; i < sizeof(setup_keys) / sizeof(setup_keys[0]); i++) {
		const char *why;

		if (!word_is(k, kl, setup_keys[i].key))
			continue;
		why = val[0] ? setup_keys[i].set(ps, val) : "empty value";
		if (why) {
			err_tok(ps, setup_keys[i].key, val, strlen(val), why);
			free(val);
		}
		return;
	}
	{
		char tb[OE_TOKSTRLEN];

		oe_diag_warn(ps->d, ps->path, ps->line, "key '%s': unknown in config setup; ignored",
			     oe_tok(k, kl, tb));
	}
	free(val);
}

static void conn_kv(struct parse *ps, const char *k, size_t kl, char *val)
{
	struct oe_conf_conn *cn = ps->conn;
	struct oe_conf_kv *kv;
	bool known = false;

	for (size_t i = 0; i < sizeof(conn_keys) / sizeof(conn_keys[0]) && !known; i++)
		known = word_is(k, kl, conn_keys[i]);
	if (!known) {
		char tb[OE_TOKSTRLEN];

		oe_diag_warn(ps->d, ps->path, ps->line, "key '%s': unknown in conn %s; ignored",
			     oe_tok(k, kl, tb), cn->name);
		free(val);
		return;
	}
	if (word_is(k, kl, "auto")) {
		if (strcmp(val, "ignore") == 0) {
			cn->ignore = true;
		} else if (strcmp(val, "ondemand") == 0 || strcmp(val, "route") == 0 ||
			   strcmp(val, "add") == 0 || strcmp(val, "start") == 0) {
			cn->ignore = false;
		} else {
			err_tok(ps, "auto", val, strlen(val),
				"expected ignore, add, route, ondemand or start");
			free(val);
			return;
		}
	}
	kv = realloc(cn->kv, (cn->nkv + 1) * sizeof(*kv));
	if (!kv) {
		free(val);
		ps->nomem = true;
		return;
	}
	cn->kv = kv;
	kv[cn->nkv] = (struct oe_conf_kv){ dup_n(ps, k, kl), val, ps->line };
	if (!kv[cn->nkv].key) {
		free(val);
		return;
	}
	cn->nkv++;
}

/* Reports a duplicate key in the current section; returns true if it is one. */
static bool duplicate_key(struct parse *ps, const char *k, size_t kl)
{
	struct kv_seen *seen;
	unsigned first = 0;
	char tb[OE_TOKSTRLEN];

	if (ps->sec == SEC_CONN) {
		for (size_t i = 0; i < ps->conn->nkv && !first; i++)
			if (word_is(k, kl, ps->conn->kv[i].key))
				first = ps->conn->kv[i].line;
	} else {
		for (size_t i = 0; i < ps->nsetup_seen && !first; i++)
			if (word_is(k, kl, ps->setup_seen[i].key))
				first = ps->setup_seen[i].line;
		if (!first) {
			seen = realloc(ps->setup_seen, (ps->nsetup_seen + 1) * sizeof(*seen));
			if (!seen) {
				ps->nomem = true;
				return true;
			}
			ps->setup_seen = seen;
			seen[ps->nsetup_seen].key = dup_n(ps, k, kl);
			seen[ps->nsetup_seen].line = ps->line;
			if (seen[ps->nsetup_seen].key)
				ps->nsetup_seen++;
		}
	}
	if (!first)
		return false;
	oe_diag_error(ps->d, ps->path, ps->line, "key '%s': duplicate in %s%s (first set on line %u)",
		      oe_tok(k, kl, tb), ps->sec == SEC_CONN ? "conn " : "config setup",
		      ps->sec == SEC_CONN ? ps->conn->name : "", first);
	return true;
}

static void kv_line(struct parse *ps, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n), *v;
	size_t kl, vl;
	char *val;

	if (!eq) {
		err_tok(ps, "line", s, n, "expected key=value");
		return;
	}
	kl = (size_t)(eq - s);
	while (kl > 0 && is_space(s[kl - 1]))
		kl--;
	if (kl == 0) {
		err_tok(ps, "line", s, n, "empty key before '='");
		return;
	}
	for (size_t i = 0; i < kl; i++) {
		if (!is_key_char(s[i])) {
			err_tok(ps, "key", s, kl, "keys use letters, digits, '-' and '_'");
			return;
		}
	}
	if (!split_value(ps, eq + 1, (size_t)(s + n - eq - 1), &v, &vl))
		return;
	if (ps->sec == SEC_NONE) {
		err_tok(ps, "key", s, kl,
			"outside any section (start one with 'config setup' or 'conn NAME')");
		return;
	}
	if (ps->sec == SEC_BAD || duplicate_key(ps, s, kl))
		return;
	val = dup_n(ps, v, vl);
	if (!val)
		return;
	if (ps->sec == SEC_SETUP)
		setup_kv(ps, s, kl, val);
	else
		conn_kv(ps, s, kl, val);
}

static void one_line(struct parse *ps, const char *s, size_t n)
{
	size_t i = 0;

	if (memchr(s, '\0', n)) {
		oe_diag_error(ps->d, ps->path, ps->line, "line: contains a NUL byte");
		return;
	}
	if (n > OE_CONF_LINE_MAX) {
		err_tok(ps, "line", s, n, "longer than 4096 bytes");
		return;
	}
	if (n > 0 && s[n - 1] == '\r')
		n--;
	while (i < n && is_space(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return;
	if (i == 0)
		header_line(ps, s, n);
	else
		kv_line(ps, s + i, n - i);
}

/* ---- entry points ------------------------------------------------------------------------ */

static int join_path(char **out, const char *dir, const char *rel)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, rel) < 0)
		return -ENOMEM;
	free(*out);
	*out = p;
	return 0;
}

int oe_conf_init(struct oe_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->ipsecdir = strdup(OE_SYSCONFDIR "/ipsec.d");
	c->ctlsocket = strdup("/run/oe-agent/ctl");
	c->pidfile = strdup("/run/oe-agent/pid");
	c->dnssec_rootkey_file = strdup("/usr/share/dns/root.key");
	c->loglevel = OE_LOG_INFO;
	c->dnssec_enable = true;
	c->dns_timeout_ms = 2000;
	c->dns_retries = 1;
	c->dns_lookup_timeout_ms = 10000;
	c->dns_cache_size = 4096;
	c->shuntlifetime_s = 15 * 60;
	c->trap = true;
	c->trapqueue = 20293; /* 0x4f45, "OE": out of the way of queue 0 that IDSs default to */
	c->queuemaxlen = 65536;
	c->socketmark = 0x4f450000;
	c->socketmask = 0xffff0000;
	c->holdpackets = 32;
	c->holdbytes = 256 * 1024;
	c->maxflows = 4096;
	c->maxlookups = 512;
	c->maxshunts = 65536;
	c->maxheldbytes = 16 * 1024 * 1024;
	c->ikelifetime_s = 4 * 3600;
	c->salifetime_s = 3600;
	c->dpddelay_s = 30;
	c->inactivity_s = 600;
	c->encapsulation = OE_ENCAP_AUTO;
	c->keepalive_s = 20;
	c->pfs = true;
	if (!c->ipsecdir || !c->ctlsocket || !c->pidfile || !c->dnssec_rootkey_file ||
	    join_path(&c->policydir, c->ipsecdir, "policies") ||
	    join_path(&c->hostkey, c->ipsecdir, "private/hostkey.pem")) {
		oe_conf_free(c);
		return -ENOMEM;
	}
	return 0;
}

void oe_conf_free(struct oe_conf *c)
{
	for (size_t i = 0; i < c->nconns; i++) {
		for (size_t j = 0; j < c->conns[i].nkv; j++) {
			free(c->conns[i].kv[j].key);
			free(c->conns[i].kv[j].value);
		}
		free(c->conns[i].kv);
		free(c->conns[i].name);
	}
	free(c->conns);
	free(c->ipsecdir);
	free(c->policydir);
	free(c->hostkey);
	free(c->ctlsocket);
	free(c->pidfile);
	free(c->logfile);
	free(c->dnssec_rootkey_file);
	free(c->dnssec_anchors);
	free(c->myid);
	memset(c, 0, sizeof(*c));
}

int oe_conf_parse(struct oe_conf *c, const char *path, const char *text, size_t len,
		  struct oe_diag *d)
{
	struct parse ps = { .c = c, .path = path, .d = d };
	unsigned errors = d->errors;
	size_t pos = 0;
	int err = 0;

	while (pos < len && !ps.nomem) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		ps.line++;
		one_line(&ps, text + pos, n);
		pos += n + (nl ? 1 : 0);
	}
	if (!ps.nomem && join_path(&c->policydir, c->ipsecdir, "policies"))
		ps.nomem = true;
	if (!ps.nomem && !ps.hostkey_set &&
	    join_path(&c->hostkey, c->ipsecdir, "private/hostkey.pem"))
		ps.nomem = true;
	for (size_t i = 0; i < ps.nsetup_seen; i++)
		free(ps.setup_seen[i].key);
	free(ps.setup_seen);
	if (ps.nomem)
		err = -ENOMEM;
	else if (d->errors != errors)
		err = -EINVAL;
	return err;
}

unsigned oe_conf_groups(const struct oe_conf *c)
{
	unsigned on = (1u << PG_NGROUPS) - 1;

	for (size_t i = 0; i < c->nconns; i++)
		if (c->conns[i].is_group && c->conns[i].ignore)
			on &= ~(1u << c->conns[i].group);
	return on;
}

bool oe_nameserver_parse(const char *s, size_t n, struct oe_nameserver *out)
{
	const char *colon = memchr(s, ':', n), *addr = s;
	size_t al = n, i;
	unsigned port = 53;

	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb || (size_t)(rb - s) + 1 == n || rb[1] != ':')
			return false;
		addr = s + 1;
		al = (size_t)(rb - addr);
		colon = rb + 1;
	} else if (colon && memchr(colon + 1, ':', (size_t)(s + n - colon - 1))) {
		colon = NULL; /* a bare IPv6 address */
	}
	if (colon) {
		if (addr == s)
			al = (size_t)(colon - s);
		port = 0;
		for (i = (size_t)(colon - s) + 1; i < n; i++) {
			if (s[i] < '0' || s[i] > '9' || port > 6553)
				return false;
			port = port * 10 + (unsigned)(s[i] - '0');
		}
		if (i == (size_t)(colon - s) + 1 || port == 0 || port > 65535)
			return false;
	}
	if (!oe_addr_parse(&out->addr, addr, al))
		return false;
	out->port = (uint16_t)port;
	return true;
}
