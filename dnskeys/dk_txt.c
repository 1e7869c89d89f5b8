/* FreeS/WAN's TXT key record: "X-IPsec-Server(pref)=gw [key]", published at the reverse
 * name of a host to name its security gateway and (optionally) that gateway's RSA key.
 * Grammar as FreeS/WAN's pluto (dns.c) parsed it:
 *   ws* "X-IPsec-Server" ws* "(" ws* pref ws* ")" ws* "=" ws* gw (ws+ base64-key)? ws*
 * attribute case-insensitive, pref decimal 0..65535, gw an IPv4/IPv6 literal or @FQDN,
 * whitespace inside the key ignored. */
#include "dk_int.h"

#include <string.h>
#include <strings.h>

#include "oe_b64.h"

#define TXT_ATTR "X-IPsec-Server"
#define TXT_MAX 8192 /* joined text; a 16384-bit key in base64 is ~2,800 characters */
#define TXT_CHUNK 255 /* RFC 1035 §3.3: a <character-string> holds at most 255 octets */

void dk_txt_clear(struct dk_txt *t)
{
	if (!t)
		return;
	EVP_PKEY_free(t->pkey);
	t->pkey = NULL;
}

static bool is_sp(char c)
{
	return c == ' ' || c == '\t';
}

static size_t skip_sp(const char *s, size_t i, size_t n)
{
	while (i < n && is_sp(s[i]))
		i++;
	return i;
}

/* '(' pref ')' '=' starting at s[*i]; decimal only, as in the records people publish. */
static enum dk_status parse_pref(const char *s, size_t n, size_t *i, uint16_t *pref)
{
	unsigned long v = 0;
	size_t j = skip_sp(s, *i, n), digits = 0;

	if (j >= n || s[j] != '(')
		return DK_ERR_TXT_SYNTAX;
	j = skip_sp(s, j + 1, n);
	while (j < n && s[j] >= '0' && s[j] <= '9') {
		v = v * 10 + (unsigned long)(s[j++] - '0');
		if (v > 0xffff)
			return DK_ERR_TXT_PREF;
		digits++;
	}
	if (digits == 0)
		return DK_ERR_TXT_PREF;
	j = skip_sp(s, j, n);
	if (j >= n || s[j] != ')')
		return DK_ERR_TXT_SYNTAX;
	j = skip_sp(s, j + 1, n);
	if (j >= n || s[j] != '=')
		return DK_ERR_TXT_SYNTAX;
	*i = skip_sp(s, j + 1, n);
	*pref = (uint16_t)v;
	return DK_OK;
}

static enum dk_status parse_gateway(const char *g, size_t len, struct dk_txt *t)
{
	static const uint8_t zero[16];
	uint8_t wire[255];
	size_t wlen;

	if (len == 0)
		return DK_ERR_TXT_GW;
	if (g[0] == '@') {
		if (len - 1 >= sizeof(t->gw_name) || len == 1)
			return DK_ERR_TXT_GW;
		memcpy(t->gw_name, g + 1, len - 1);
		t->gw_name[len - 1] = '\0';
		/* Canonical absolute form, as IPSECKEY gateway names are decoded. */
		if (dk_name_from_text(t->gw_name, wire, sizeof(wire), &wlen) != DK_OK || wlen == 1 ||
		    dk_name_to_text(wire, wlen, t->gw_name) != DK_OK)
			return DK_ERR_TXT_GW;
		t->gw_is_name = true;
		return DK_OK;
	}
	if (!oe_addr_parse(&t->gw_addr, g, len))
		return DK_ERR_TXT_GW;
	if (memcmp(t->gw_addr.b, zero, t->gw_addr.af == AF_INET ? 4 : 16) == 0)
		return DK_ERR_GW_ADDR; /* FreeS/WAN: "must not be 0.0.0.0 or 0::0" */
	return DK_OK;
}

static enum dk_status parse_text(const char *s, size_t n, struct dk_txt *t)
{
	uint8_t key[DK_PUBKEY_MAX];
	size_t i, g, klen;
	enum dk_status st;

	if (memchr(s, '\0', n))
		return DK_ERR_TXT_NUL;
	i = skip_sp(s, 0, n);
	if (n - i < sizeof(TXT_ATTR) - 1 || strncasecmp(s + i, TXT_ATTR, sizeof(TXT_ATTR) - 1))
		return DK_NOT_OURS;
	i += sizeof(TXT_ATTR) - 1;
	st = parse_pref(s, n, &i, &t->pref);
	if (st != DK_OK)
		return st;
	for (g = i; i < n && !is_sp(s[i]); i++)
		;
	st = parse_gateway(s + g, i - g, t);
	if (st != DK_OK)
		return st;
	i = skip_sp(s, i, n);
	if (i == n)
		return DK_OK; /* no key: the gateway's key is looked up separately */
	if (!oe_b64_decode(s + i, n - i, true, key, sizeof(key), &klen))
		return DK_ERR_BASE64;
	if (klen == 0)
		return DK_ERR_KEY_EMPTY;
	st = dk_rfc3110_decode(key, klen, &t->pkey);
	if (st == DK_OK)
		st = dk_pubkey_set(&t->key, DK_ALG_RSA, key, klen);
	return st;
}

/* FreeS/WAN's unpack_txt_rdata rule: a string shorter than 255 that is not the last one is
 * followed by a space, so "...=192.0.2.2" "AQ..." still parses while strings cut at exactly
 * 255 characters (our encoder's split) join seamlessly. */
static bool join_add(char *buf, size_t *o, const char *p, size_t len, bool last)
{
	bool sp = len < TXT_CHUNK && !last;

	if (len > TXT_MAX - *o || (sp && *o + len == TXT_MAX))
		return false;
	memcpy(buf + *o, p, len);
	*o += len;
	if (sp)
		buf[(*o)++] = ' ';
	return true;
}

static enum dk_status decode_joined(char *buf, size_t n, struct dk_txt *out)
{
	enum dk_status st = parse_text(buf, n, out);

	if (st != DK_OK)
		dk_txt_clear(out);
	return st;
}

enum dk_status dk_txt_decode(const struct dk_str *strs, size_t nstrs, struct dk_txt *out)
{
	char buf[TXT_MAX];
	size_t i, o = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < nstrs; i++)
		if (!join_add(buf, &o, strs[i].p, strs[i].len, i + 1 == nstrs))
			return DK_ERR_TOO_BIG;
	return decode_joined(buf, o, out);
}

/* TXT rdata (RFC 1035 §3.3.14): one or more <character-string>s, each a length octet
 * followed by that many octets:
 *   +--------+-----------------+--------+-----------------+--
 *   | len1   | len1 octets     | len2   | len2 octets     | ...
 *   +--------+-----------------+--------+-----------------+--  */
enum dk_status dk_txt_decode_rdata(const uint8_t *rdata, size_t n, struct dk_txt *out)
{
	char buf[TXT_MAX];
	size_t i = 0, o = 0;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return DK_ERR_TRUNCATED;
	while (i < n) {
		size_t len = rdata[i++];

		if (len > n - i)
			return DK_ERR_TRUNCATED;
		if (!join_add(buf, &o, (const char *)rdata + i, len, i + len == n))
			return DK_ERR_TOO_BIG;
		i += len;
	}
	return decode_joined(buf, o, out);
}

/* The length of name without a final unescaped '.': FreeS/WAN wrote "@gw.example". */
static size_t fqdn_len(const char *name)
{
	size_t n = strlen(name), bs = 0;

	if (n < 2 || name[n - 1] != '.')
		return n;
	while (bs < n - 1 && name[n - 2 - bs] == '\\')
		bs++;
	return bs % 2 ? n : n - 1;
}

enum dk_status dk_txt_text(const struct dk_txt *t, struct oe_buf *out)
{
	char addr[OE_ADDRSTRLEN];

	oe_buf_printf(out, TXT_ATTR "(%u)=", t->pref);
	if (t->gw_is_name)
		oe_buf_printf(out, "@%.*s", (int)fqdn_len(t->gw_name), t->gw_name);
	else
		oe_buf_puts(out, oe_addr_str(&t->gw_addr, addr));
	if (t->key.len) {
		if (t->key.alg != DK_ALG_RSA)
			return DK_ERR_KEY_TYPE; /* the TXT form carries RFC 3110 blobs only */
		oe_buf_puts(out, " ");
		return dk_b64_append(out, t->key.b, t->key.len);
	}
	return oe_buf_failed(out) ? DK_ERR_NOMEM : DK_OK;
}

enum dk_status dk_txt_encode(const struct dk_txt *t, uint8_t *out, size_t cap, size_t *len)
{
	struct oe_buf text;
	size_t i, o = 0;
	enum dk_status st;

	oe_buf_init(&text);
	st = dk_txt_text(t, &text);
	for (i = 0; st == DK_OK && i < text.len; i += TXT_CHUNK) {
		size_t chunk = text.len - i < TXT_CHUNK ? text.len - i : TXT_CHUNK;

		if (chunk + 1 > cap - o) {
			st = DK_ERR_TOO_BIG;
			break;
		}
		out[o++] = (uint8_t)chunk;
		memcpy(out + o, text.p + i, chunk);
		o += chunk;
	}
	if (st == DK_OK)
		*len = o;
	oe_buf_free(&text);
	return st;
}

enum dk_status dk_txt_format(const struct dk_txt *t, struct oe_buf *out)
{
	struct oe_buf text;
	size_t i;
	enum dk_status st;

	oe_buf_init(&text);
	st = dk_txt_text(t, &text);
	for (i = 0; st == DK_OK && i < text.len; i++) {
		if (i % TXT_CHUNK == 0)
			oe_buf_puts(out, i ? "\" \"" : "\"");
		/* Inside quotes only '"' and '\' need escaping (RFC 1035 §5.1). */
		if (text.p[i] == '"' || text.p[i] == '\\')
			oe_buf_add(out, "\\", 1);
		oe_buf_add(out, &text.p[i], 1);
	}
	if (st == DK_OK)
		oe_buf_puts(out, "\"");
	oe_buf_free(&text);
	return st == DK_OK && oe_buf_failed(out) ? DK_ERR_NOMEM : st;
}
