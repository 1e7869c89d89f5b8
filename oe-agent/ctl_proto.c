/* The control protocol's request parser, pure so the fuzzer reaches it without a daemon.
 * A request is one line of UTF-8 text (the 4-byte length framing is handled by ctl.c and
 * ctl_client.c): `eroute [--json]`, `status`, `reload` or `policy ADDR [PROTO [PORT]]`.
 * Anything else is refused with a one-line reason that goes back to the client. */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oe_sel.h"

#define MAX_TOKENS 8

struct tok {
	const char *s;
	size_t n;
};

/* Strict UTF-8 (RFC 3629 section 4): no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t need;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (need > n - i - 1)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += need + 1;
	}
	return true;
}

static bool tok_is(const struct tok *t, const char *lit)
{
	return strlen(lit) == t->n && memcmp(t->s, lit, t->n) == 0;
}

static int policy_args(const struct tok *t, int nt, struct pg_key *k, bool *has_proto,
		       bool *has_port, char why[static OE_CTL_WHYLEN])
{
	char tb[OE_TOKSTRLEN];
	struct oe_addr dummy;
	int used = 1;

	memset(k, 0, sizeof(*k));
	*has_proto = *has_port = false;
	if (nt < 1) {
		snprintf(why, OE_CTL_WHYLEN, "policy: missing address");
		return 0;
	}
	if (!oe_addr_parse(&k->dst, t[0].s, t[0].n)) {
		snprintf(why, OE_CTL_WHYLEN, "address '%s': not an IPv4 or IPv6 address",
			 oe_tok(t[0].s, t[0].n, tb));
		return 0;
	}
	if (nt > 1 && !oe_addr_parse(&dummy, t[1].s, t[1].n)) {
		if (!oe_proto_parse(t[1].s, t[1].n, &k->proto)) {
			snprintf(why, OE_CTL_WHYLEN,
				 "protocol '%s': expected a name (tcp, udp, icmp, ...) or 0..255",
				 oe_tok(t[1].s, t[1].n, tb));
			return 0;
		}
		*has_proto = true;
		used = 2;
		if (nt > 2 && !oe_addr_parse(&dummy, t[2].s, t[2].n)) {
			if (!oe_port_parse(t[2].s, t[2].n, &k->dport)) {
				snprintf(why, OE_CTL_WHYLEN, "port '%s': expected 0..65535",
					 oe_tok(t[2].s, t[2].n, tb));
				return 0;
			}
			*has_port = true;
			used = 3;
		}
	}
	return used;
}

int oe_policy_args_parse(char *const *argv, int ntok, struct pg_key *k,
			 char why[static OE_CTL_WHYLEN])
{
	struct tok t[3];
	bool hp, hport;
	int n = ntok < 3 ? ntok : 3;

	for (int i = 0; i < n; i++)
		t[i] = (struct tok){ argv[i], strlen(argv[i]) };
	return policy_args(t, n, k, &hp, &hport, why);
}

static int tokenize(const uint8_t *p, size_t n, struct tok *t, char why[static OE_CTL_WHYLEN])
{
	const char *s = (const char *)p;
	size_t i = 0;
	int nt = 0;

	while (i < n) {
		size_t j;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			break;
		if (nt == MAX_TOKENS) {
			snprintf(why, OE_CTL_WHYLEN, "request: more than %d words", MAX_TOKENS);
			return -EINVAL;
		}
		j = i;
		while (j < n && s[j] != ' ' && s[j] != '\t')
			j++;
		t[nt++] = (struct tok){ s + i, j - i };
		i = j;
	}
	return nt;
}

static int check_text(const uint8_t *p, size_t *n, char why[static OE_CTL_WHYLEN])
{
	if (*n > 0 && p[*n - 1] == '\n')
		(*n)--; /* one trailing newline is fine */
	if (*n == 0) {
		snprintf(why, OE_CTL_WHYLEN, "request: empty");
		return -EINVAL;
	}
	for (size_t i = 0; i < *n; i++) {
		if (p[i] < 0x20 && p[i] != '\t') {
			snprintf(why, OE_CTL_WHYLEN, "request: control character 0x%02x at byte %zu",
				 p[i], i);
			return -EINVAL;
		}
	}
	if (!utf8_valid(p, *n)) {
		snprintf(why, OE_CTL_WHYLEN, "request: not valid UTF-8");
		return -EINVAL;
	}
	return 0;
}

int oe_ctl_req_parse(const uint8_t *text, size_t n, struct oe_ctl_req *out,
		     char why[static OE_CTL_WHYLEN])
{
	struct tok t[MAX_TOKENS];
	char tb[OE_TOKSTRLEN];
	int nt;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if (check_text(text, &n, why))
		return -EINVAL;
	nt = tokenize(text, n, t, why);
	if (nt < 0)
		return -EINVAL;
	if (nt == 0) {
		snprintf(why, OE_CTL_WHYLEN, "request: empty");
		return -EINVAL;
	}
	if (tok_is(&t[0], "eroute") || tok_is(&t[0], "status")) {
		out->cmd = tok_is(&t[0], "eroute") ? OE_CTL_EROUTE : OE_CTL_STATUS;
		if (nt == 2 && tok_is(&t[1], "--json")) {
			out->json = true;
			return 0;
		}
		if (nt == 1)
			return 0;
		snprintf(why, OE_CTL_WHYLEN, "%s '%s': expected no argument or --json",
			 out->cmd == OE_CTL_EROUTE ? "eroute" : "status", oe_tok(t[1].s, t[1].n, tb));
		return -EINVAL;
	}
	if (tok_is(&t[0], "reload")) {
		out->cmd = OE_CTL_RELOAD;
		if (nt == 1)
			return 0;
		snprintf(why, OE_CTL_WHYLEN, "reload '%s': takes no arguments",
			 oe_tok(t[1].s, t[1].n, tb));
		return -EINVAL;
	}
	if (tok_is(&t[0], "policy")) {
		int used;

		out->cmd = OE_CTL_POLICY;
		used = policy_args(t + 1, nt - 1, &out->key, &out->has_proto, &out->has_port, why);
		if (used == 0)
			return -EINVAL;
		if (used != nt - 1) {
			snprintf(why, OE_CTL_WHYLEN, "policy '%s': unexpected argument",
				 oe_tok(t[used + 1].s, t[used + 1].n, tb));
			return -EINVAL;
		}
		return 0;
	}
	snprintf(why, OE_CTL_WHYLEN,
		 "command '%s': unknown (expected eroute, status, reload or policy)",
		 oe_tok(t[0].s, t[0].n, tb));
	return -EINVAL;
}
