/* IPSECKEY rdata (RFC 4025): decode with validation, encode, and the presentation form.
 * Gateway types 0-3 (RFC 4025 §2.3), key algorithms 0 and 2-4 (IANA registry; 1 = DSA is
 * refused: RFC 2536 DSA is limited to 1024 bits and nobody should use it). */
#include "dk_int.h"

#include <string.h>

#include "oe_cursor.h"

void dk_ipseckey_clear(struct dk_ipseckey *r)
{
	if (!r)
		return;
	EVP_PKEY_free(r->pkey);
	r->pkey = NULL;
}

/* RFC 4025 §2.1, the rdata layout:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  precedence   | gateway type  |  algorithm  |     gateway     |
 *  +---------------+---------------+-------------+                 +
 *  ~                            gateway                            ~
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                                                               /
 *  /                          public key                           /
 *  /                                                               /
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-|
 *
 * The gateway is absent (type 0), 4 octets (1), 16 octets (2) or an uncompressed wire name
 * (3); the public key takes the rest of the rdata (§2.6). */
static enum dk_status gateway_decode(struct oe_cur *c, struct dk_ipseckey *r)
{
	static const uint8_t zero[16];
	size_t wlen;
	enum dk_status st;

	switch (r->gw_type) {
	case DK_GW_NONE:
		return DK_OK;
	case DK_GW_IPV4:
	case DK_GW_IPV6:
		r->gw_addr.af = r->gw_type == DK_GW_IPV4 ? AF_INET : AF_INET6;
		wlen = r->gw_type == DK_GW_IPV4 ? 4 : 16;
		if (!oe_cur_bytes(c, r->gw_addr.b, wlen))
			return DK_ERR_TRUNCATED;
		/* An unspecified address names no gateway (FreeS/WAN refused it in TXT too). */
		return memcmp(r->gw_addr.b, zero, wlen) == 0 ? DK_ERR_GW_ADDR : DK_OK;
	case DK_GW_NAME:
		st = dk_name_to_text(c->p, c->len, r->gw_name);
		if (st != DK_OK)
			return st;
		if (strcmp(r->gw_name, ".") == 0)
			return DK_ERR_NAME_ROOT;
		if (dk_name_check(c->p, c->len, &wlen) != DK_OK || !oe_cur_skip(c, wlen))
			return DK_ERR_TRUNCATED;
		return DK_OK;
	}
	return DK_ERR_GW_TYPE;
}

enum dk_status dk_ipseckey_decode(const uint8_t *rdata, size_t n, struct dk_ipseckey *out)
{
	struct oe_cur c = oe_cur_make(rdata, n);
	uint8_t alg;
	enum dk_status st;

	memset(out, 0, sizeof(*out));
	if (!oe_cur_u8(&c, &out->precedence) || !oe_cur_u8(&c, &out->gw_type) ||
	    !oe_cur_u8(&c, &alg))
		return DK_ERR_TRUNCATED;
	st = gateway_decode(&c, out);
	if (st != DK_OK)
		return st;
	if (alg == DK_ALG_NONE)
		return c.len ? DK_ERR_NOKEY_DATA : DK_OK;
	if (c.len == 0)
		return alg == DK_ALG_DSA ? DK_ERR_ALG_DSA : DK_ERR_KEY_EMPTY;
	st = dk_pubkey_decode(alg, c.p, c.len, &out->pkey);
	if (st == DK_OK)
		st = dk_pubkey_set(&out->key, alg, c.p, c.len);
	if (st != DK_OK)
		dk_ipseckey_clear(out);
	return st;
}

enum dk_status dk_ipseckey_encode(const struct dk_ipseckey *r, uint8_t *out, size_t cap,
				  size_t *len)
{
	uint8_t gw[255];
	size_t gwlen = 0;
	enum dk_status st;

	switch (r->gw_type) {
	case DK_GW_NONE:
		break;
	case DK_GW_IPV4:
	case DK_GW_IPV6:
		gwlen = r->gw_type == DK_GW_IPV4 ? 4 : 16;
		if (r->gw_addr.af != (r->gw_type == DK_GW_IPV4 ? AF_INET : AF_INET6))
			return DK_ERR_GW_ADDR;
		memcpy(gw, r->gw_addr.b, gwlen);
		break;
	case DK_GW_NAME:
		st = dk_name_from_text(r->gw_name, gw, sizeof(gw), &gwlen);
		if (st != DK_OK)
			return st;
		if (gwlen == 1)
			return DK_ERR_NAME_ROOT;
		break;
	default:
		return DK_ERR_GW_TYPE;
	}
	if (r->key.alg == DK_ALG_NONE ? r->key.len != 0 : r->key.len == 0)
		return r->key.len ? DK_ERR_NOKEY_DATA : DK_ERR_KEY_EMPTY;
	if (cap < 3 || gwlen > cap - 3 || r->key.len > cap - 3 - gwlen)
		return DK_ERR_TOO_BIG;
	out[0] = r->precedence;
	out[1] = r->gw_type;
	out[2] = r->key.alg;
	memcpy(out + 3, gw, gwlen);
	memcpy(out + 3 + gwlen, r->key.b, r->key.len);
	*len = 3 + gwlen + r->key.len;
	return DK_OK;
}

/* RFC 4025 §3: "IN IPSECKEY ( precedence gateway-type algorithm gateway base64-key )",
 * with "." as the gateway of type 0. */
enum dk_status dk_ipseckey_format(const struct dk_ipseckey *r, struct oe_buf *out)
{
	char addr[OE_ADDRSTRLEN], name[DK_NAME_MAX];
	uint8_t wire[255];
	size_t wlen;
	enum dk_status st;

	oe_buf_printf(out, "%u %u %u ", r->precedence, r->gw_type, r->key.alg);
	switch (r->gw_type) {
	case DK_GW_NONE:
		oe_buf_puts(out, ".");
		break;
	case DK_GW_IPV4:
	case DK_GW_IPV6:
		oe_buf_puts(out, oe_addr_str(&r->gw_addr, addr));
		break;
	case DK_GW_NAME:
		/* Through wire form and back, so the name is absolute and canonically escaped:
		 * a relative name in a zone file would silently get the origin appended. */
		st = dk_name_from_text(r->gw_name, wire, sizeof(wire), &wlen);
		if (st == DK_OK)
			st = dk_name_to_text(wire, wlen, name);
		if (st != DK_OK)
			return st;
		oe_buf_puts(out, name);
		break;
	default:
		return DK_ERR_GW_TYPE;
	}
	if (r->key.len) {
		oe_buf_puts(out, " ");
		return dk_b64_append(out, r->key.b, r->key.len);
	}
	return oe_buf_failed(out) ? DK_ERR_NOMEM : DK_OK;
}
