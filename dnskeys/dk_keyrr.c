/* The legacy KEY record (RFC 2535 §3.1) as FreeS/WAN published host keys in it:
 * flags 0x4200 (authentication only, host/entity key), protocol 4 (IPsec), algorithm 1
 * (RSA/MD5 code point; FreeS/WAN used it for any RSA key) and an RFC 3110 blob. */
#include "dk_int.h"

#include <string.h>

#include "oe_cursor.h"

void dk_keyrr_clear(struct dk_keyrr *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

/* RFC 2535 §3.1:
 *                       1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 2 3 3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |             flags             |    protocol   |   algorithm   |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                                                               /
 *  /                          public key                           /
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Flag bits 0-1 (0x8000 "no authentication", 0x4000 "no confidentiality"; both = no key),
 * bits 6-7 the name type (0x0200 = host/end entity). */
enum dk_status dk_keyrr_decode(const uint8_t *rdata, size_t n, struct dk_keyrr *out)
{
	struct oe_cur c = oe_cur_make(rdata, n);
	enum dk_status st;

	memset(out, 0, sizeof(*out));
	if (!oe_cur_u16(&c, &out->flags) || !oe_cur_u8(&c, &out->protocol) ||
	    !oe_cur_u8(&c, &out->alg))
		return DK_ERR_TRUNCATED;
	if (out->flags & 0x8000)
		return DK_ERR_KEY_NOAUTH;
	if (out->flags != DK_KEYRR_FLAGS)
		return DK_ERR_KEY_FLAGS;
	if (out->protocol != DK_KEYRR_PROTO_IPSEC)
		return DK_ERR_KEY_PROTO;
	if (out->alg != DK_KEYRR_ALG_RSA)
		return DK_ERR_KEY_ALG;
	if (c.len == 0)
		return DK_ERR_KEY_EMPTY;
	st = dk_rfc3110_decode(c.p, c.len, &out->pkey);
	if (st == DK_OK)
		st = dk_pubkey_set(&out->key, DK_ALG_RSA, c.p, c.len);
	if (st != DK_OK)
		dk_keyrr_clear(out);
	return st;
}

enum dk_status dk_keyrr_encode(const struct dk_pubkey *key, uint8_t *out, size_t cap,
			       size_t *len)
{
	if (key->alg != DK_ALG_RSA)
		return DK_ERR_KEY_TYPE; /* KEY algorithm 1 can only carry RSA */
	if (key->len == 0)
		return DK_ERR_KEY_EMPTY;
	if (cap < 4 || key->len > cap - 4)
		return DK_ERR_TOO_BIG;
	out[0] = DK_KEYRR_FLAGS >> 8;
	out[1] = DK_KEYRR_FLAGS & 0xff;
	out[2] = DK_KEYRR_PROTO_IPSEC;
	out[3] = DK_KEYRR_ALG_RSA;
	memcpy(out + 4, key->b, key->len);
	*len = 4 + (size_t)key->len;
	return DK_OK;
}

enum dk_status dk_keyrr_format(const struct dk_pubkey *key, struct oe_buf *out)
{
	if (key->alg != DK_ALG_RSA)
		return DK_ERR_KEY_TYPE;
	if (key->len == 0)
		return DK_ERR_KEY_EMPTY;
	/* Flags in decimal: 16896 = 0x4200, the form NSD and BIND print. */
	oe_buf_printf(out, "%u %u %u ", DK_KEYRR_FLAGS, DK_KEYRR_PROTO_IPSEC, DK_KEYRR_ALG_RSA);
	return dk_b64_append(out, key->b, key->len);
}
