/* Public-key codecs: the DNS wire forms of RSA (RFC 3110), ECDSA P-256 (RFC 6605 §4) and
 * Ed25519 (RFC 8080 §3) keys <-> libcrypto EVP_PKEYs, the keyid, and dk_strerror().
 * IANA's IPSECKEY registry points algorithm 2 at RFC 3110 §2, 3 at RFC 6605 §4 (RFC 8005)
 * and 4 at RFC 8080 §3 (RFC 9373), so one set of codecs serves IPSECKEY, TXT and KEY. */
#include "dk_int.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "oe_b64.h"
#include "oe_cursor.h"

static const char *const dk_status_str[DK_STATUS_COUNT] = {
	[DK_OK] = "ok",
	[DK_NOT_OURS] = "not an X-IPsec-Server record",
	[DK_ERR_NOMEM] = "out of memory",
	[DK_ERR_CRYPTO] = "libcrypto rejected the key",
	[DK_ERR_TRUNCATED] = "record ends inside a field",
	[DK_ERR_TRAILING] = "trailing bytes after the last field",
	[DK_ERR_TOO_BIG] = "too long",
	[DK_ERR_KEY_TYPE] = "key type not supported by this record type",
	[DK_ERR_RSA_EXPLEN] = "RSA exponent length runs past the end of the key",
	[DK_ERR_RSA_EXP_EMPTY] = "RSA exponent is empty",
	[DK_ERR_RSA_MOD_EMPTY] = "RSA modulus is empty",
	[DK_ERR_RSA_EXP_ZERO] = "RSA exponent has a leading zero octet",
	[DK_ERR_RSA_MOD_ZERO] = "RSA modulus has a leading zero octet",
	[DK_ERR_RSA_MOD_SIZE] = "RSA modulus not between 1024 and 16384 bits",
	[DK_ERR_RSA_EXP_SIZE] = "RSA exponent longer than 64 octets or than the modulus",
	[DK_ERR_RSA_EXP_EVEN] = "RSA exponent is even",
	[DK_ERR_RSA_EXP_SMALL] = "RSA exponent is less than 3",
	[DK_ERR_EC_LEN] = "ECDSA key is not 64 octets (P-256 X||Y)",
	[DK_ERR_EC_POINT] = "ECDSA key is not a point on P-256",
	[DK_ERR_ED_LEN] = "Ed25519 key is not 32 octets",
	[DK_ERR_GW_TYPE] = "unknown gateway type",
	[DK_ERR_GW_ADDR] = "gateway address is unspecified or malformed",
	[DK_ERR_NAME_LABEL] = "domain name label longer than 63 octets or compressed",
	[DK_ERR_NAME_LONG] = "domain name longer than 255 octets",
	[DK_ERR_NAME_ROOT] = "gateway name is the root",
	[DK_ERR_NAME_SYNTAX] = "malformed domain name",
	[DK_ERR_ALG_DSA] = "DSA keys (algorithm 1) are not accepted",
	[DK_ERR_ALG_UNKNOWN] = "unknown public key algorithm",
	[DK_ERR_NOKEY_DATA] = "algorithm 0 (no key) but key data present",
	[DK_ERR_KEY_EMPTY] = "public key field is empty",
	[DK_ERR_TXT_SYNTAX] = "X-IPsec-Server record lacks '(' pref ')' '='",
	[DK_ERR_TXT_PREF] = "X-IPsec-Server preference not a decimal number up to 65535",
	[DK_ERR_TXT_GW] = "X-IPsec-Server gateway missing or malformed",
	[DK_ERR_TXT_NUL] = "TXT record contains a NUL",
	[DK_ERR_BASE64] = "key is not valid base64",
	[DK_ERR_KEY_NOAUTH] = "KEY record flags forbid authentication (0x8000)",
	[DK_ERR_KEY_FLAGS] = "KEY record flags are not 0x4200 (host key, authentication)",
	[DK_ERR_KEY_PROTO] = "KEY record protocol is not 4 (IPsec)",
	[DK_ERR_KEY_ALG] = "KEY record algorithm is not 1 (RSA)",
};

const char *dk_strerror(enum dk_status st)
{
	if ((unsigned)st >= DK_STATUS_COUNT || !dk_status_str[st])
		return "unknown dnskeys status";
	return dk_status_str[st];
}

const char *dk_keytype_name(enum dk_keytype t)
{
	switch (t) {
	case DK_KT_RSA: return "rsa";
	case DK_KT_ECDSA_P256: return "ecdsa";
	case DK_KT_ED25519: return "ed25519";
	}
	return "unknown";
}

bool dk_keytype_parse(const char *s, enum dk_keytype *out)
{
	if (strcmp(s, "rsa") == 0)
		*out = DK_KT_RSA;
	else if (strcmp(s, "ecdsa") == 0 || strcmp(s, "ecdsa-p256") == 0)
		*out = DK_KT_ECDSA_P256;
	else if (strcmp(s, "ed25519") == 0)
		*out = DK_KT_ED25519;
	else
		return false;
	return true;
}

enum dk_keytype dk_pkey_type(const EVP_PKEY *pk)
{
	char group[64];

	if (EVP_PKEY_is_a(pk, "RSA"))
		return DK_KT_RSA;
	if (EVP_PKEY_is_a(pk, "ED25519"))
		return DK_KT_ED25519;
	if (EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   NULL) &&
	    strcmp(group, "prime256v1") == 0)
		return DK_KT_ECDSA_P256;
	return 0;
}

unsigned dk_pkey_bits(const EVP_PKEY *pk)
{
	int bits = EVP_PKEY_get_bits(pk);

	return bits > 0 ? (unsigned)bits : 0;
}

void dk_keyid(const uint8_t *blob, size_t n, char out[static DK_KEYID_LEN + 1])
{
	/* 9 characters need 7 bytes (ceil(9 * 6 / 8)); shorter blobs give a shorter id. */
	char b64[OE_B64_LEN(7) + 1];
	size_t len = oe_b64_encode(blob, n < 7 ? n : 7, b64);

	if (len > DK_KEYID_LEN)
		len = DK_KEYID_LEN;
	memcpy(out, b64, len);
	out[len] = '\0';
}

enum dk_status dk_b64_append(struct oe_buf *out, const uint8_t *p, size_t n)
{
	char b64[OE_B64_LEN(DK_PUBKEY_MAX) + 1];

	if (n > DK_PUBKEY_MAX)
		return DK_ERR_TOO_BIG;
	oe_b64_encode(p, n, b64);
	oe_buf_puts(out, b64);
	return oe_buf_failed(out) ? DK_ERR_NOMEM : DK_OK;
}

enum dk_status dk_pubkey_set(struct dk_pubkey *k, uint8_t alg, const uint8_t *p, size_t n)
{
	if (n > sizeof(k->b))
		return DK_ERR_TOO_BIG;
	k->alg = alg;
	k->len = (uint16_t)n;
	if (n)
		memcpy(k->b, p, n);
	return DK_OK;
}

/* Builds a public EVP_PKEY of type name from the parameters in bld. */
static enum dk_status pkey_fromdata(const char *name, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	enum dk_status st = DK_ERR_CRYPTO;

	*out = NULL;
	if (!params || !ctx) {
		st = DK_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	st = DK_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return st;
}

/* RFC 3110 §2 (RSA/SHA-1 SIGs and RSA KEYs in DNS), the blob layout:
 *
 *   +----------+-----------------+----------------------+----------------------+
 *   | explen   | [explen, 2 oct] | exponent (explen)    | modulus (the rest)   |
 *   | 1 octet  | only if 0       |                      |                      |
 *   +----------+-----------------+----------------------+----------------------+
 *
 * "If the exponent length is 1..255 octets it is one octet; otherwise a zero octet followed
 * by two octets of length" (FreeS/WAN called that the "3-octet" form). Both numbers are
 * unsigned big-endian "with leading zero octets prohibited". */
static enum dk_status rfc3110_split(const uint8_t *p, size_t n, struct oe_cur *e,
				    struct oe_cur *m)
{
	struct oe_cur c = oe_cur_make(p, n);
	uint16_t elen;
	uint8_t l1;

	if (!oe_cur_u8(&c, &l1))
		return DK_ERR_TRUNCATED;
	elen = l1;
	if (l1 == 0 && !oe_cur_u16(&c, &elen))
		return DK_ERR_TRUNCATED;
	if (elen == 0)
		return DK_ERR_RSA_EXP_EMPTY;
	if (!oe_cur_sub(&c, elen, e))
		return DK_ERR_RSA_EXPLEN;
	*m = c;
	if (m->len == 0)
		return DK_ERR_RSA_MOD_EMPTY;
	if (e->p[0] == 0)
		return DK_ERR_RSA_EXP_ZERO;
	if (m->p[0] == 0)
		return DK_ERR_RSA_MOD_ZERO;
	/* Sizes: below 1024 bits is breakable, above 16384 nobody publishes and it costs the
	 * verifier; an exponent longer than 64 octets (or than the modulus) is no real key. */
	if (m->len < 128 || m->len > 2048)
		return DK_ERR_RSA_MOD_SIZE;
	if (e->len > 64 || e->len > m->len)
		return DK_ERR_RSA_EXP_SIZE;
	if ((e->p[e->len - 1] & 1) == 0)
		return DK_ERR_RSA_EXP_EVEN;
	if (e->len == 1 && e->p[0] < 3)
		return DK_ERR_RSA_EXP_SMALL;
	return DK_OK;
}

enum dk_status dk_rfc3110_decode(const uint8_t *p, size_t n, EVP_PKEY **out)
{
	struct oe_cur e, m;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn_e = NULL, *bn_n = NULL;
	enum dk_status st;

	*out = NULL;
	st = rfc3110_split(p, n, &e, &m);
	if (st != DK_OK)
		return st;
	st = DK_ERR_NOMEM;
	bld = OSSL_PARAM_BLD_new();
	bn_e = BN_bin2bn(e.p, (int)e.len, NULL);
	bn_n = BN_bin2bn(m.p, (int)m.len, NULL);
	if (!bld || !bn_e || !bn_n)
		goto out;
	/* The top octet is non-zero, but 0x01..0x7f still give fewer than 8 bits in it. */
	if (BN_num_bits(bn_n) < 1024) {
		st = DK_ERR_RSA_MOD_SIZE;
		goto out;
	}
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto out;
	st = pkey_fromdata("RSA", bld, out);
out:
	BN_free(bn_e);
	BN_free(bn_n);
	OSSL_PARAM_BLD_free(bld);
	return st;
}

enum dk_status dk_rfc3110_encode(const EVP_PKEY *pk, uint8_t *out, size_t cap, size_t *len)
{
	BIGNUM *bn_e = NULL, *bn_n = NULL;
	size_t elen, nlen, hdr, o = 0;
	enum dk_status st = DK_ERR_KEY_TYPE;

	if (!EVP_PKEY_is_a(pk, "RSA"))
		return st;
	st = DK_ERR_CRYPTO;
	if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &bn_e) ||
	    !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &bn_n))
		goto out;
	elen = (size_t)BN_num_bytes(bn_e);
	nlen = (size_t)BN_num_bytes(bn_n);
	if (elen == 0 || elen > 0xffff || nlen == 0)
		goto out;
	hdr = elen <= 255 ? 1 : 3;
	st = DK_ERR_TOO_BIG;
	if (cap < hdr || elen > cap - hdr || nlen > cap - hdr - elen)
		goto out;
	if (hdr == 1) {
		out[o++] = (uint8_t)elen;
	} else {
		out[o++] = 0;
		out[o++] = (uint8_t)(elen >> 8);
		out[o++] = (uint8_t)elen;
	}
	BN_bn2bin(bn_e, out + o); /* BN_bn2bin writes no leading zeros: RFC 3110's rule */
	o += elen;
	BN_bn2bin(bn_n, out + o);
	*len = o + nlen;
	st = DK_OK;
out:
	BN_free(bn_e);
	BN_free(bn_n);
	return st;
}

/* RFC 6605 §4: "the public key consists of the uncompressed point Q as x | y, each 32
 * octets for P-256" (no 0x04 prefix). P-384 (96 octets) is not a key type we use. */
enum dk_status dk_ecdsa_decode(const uint8_t *p, size_t n, EVP_PKEY **out)
{
	uint8_t point[65];
	OSSL_PARAM_BLD *bld;
	EVP_PKEY_CTX *ctx = NULL;
	enum dk_status st = DK_ERR_NOMEM;

	*out = NULL;
	if (n != 64)
		return DK_ERR_EC_LEN;
	point[0] = 0x04; /* SEC 1 uncompressed point */
	memcpy(point + 1, p, 64);
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						     "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
		goto out;
	if (pkey_fromdata("EC", bld, out) != DK_OK) {
		st = DK_ERR_EC_POINT;
		goto out;
	}
	/* fromdata already refuses points off the curve; check explicitly all the same. */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
	st = !ctx ? DK_ERR_NOMEM : EVP_PKEY_public_check(ctx) == 1 ? DK_OK : DK_ERR_EC_POINT;
out:
	if (st != DK_OK) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_BLD_free(bld);
	return st;
}

/* RFC 8080 §3: "An Ed25519 public key consists of a 32-octet value" (RFC 8032 encoding). */
enum dk_status dk_ed25519_decode(const uint8_t *p, size_t n, EVP_PKEY **out)
{
	*out = NULL;
	if (n != 32)
		return DK_ERR_ED_LEN;
	*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, p, n);
	return *out ? DK_OK : DK_ERR_CRYPTO;
}

enum dk_status dk_pubkey_decode(uint8_t alg, const uint8_t *p, size_t n, EVP_PKEY **out)
{
	*out = NULL;
	switch (alg) {
	case DK_ALG_RSA:
		return dk_rfc3110_decode(p, n, out);
	case DK_ALG_ECDSA:
		return dk_ecdsa_decode(p, n, out);
	case DK_ALG_EDDSA:
		return dk_ed25519_decode(p, n, out);
	case DK_ALG_DSA:
		return DK_ERR_ALG_DSA;
	}
	return DK_ERR_ALG_UNKNOWN;
}

static enum dk_status ecdsa_encode(const EVP_PKEY *pk, struct dk_pubkey *out)
{
	BIGNUM *x = NULL, *y = NULL;
	enum dk_status st = DK_ERR_CRYPTO;

	if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) ||
	    BN_bn2binpad(x, out->b, 32) != 32 || BN_bn2binpad(y, out->b + 32, 32) != 32)
		goto out;
	out->alg = DK_ALG_ECDSA;
	out->len = 64;
	st = DK_OK;
out:
	BN_free(x);
	BN_free(y);
	return st;
}

enum dk_status dk_pubkey_encode(const EVP_PKEY *pk, struct dk_pubkey *out)
{
	size_t len = sizeof(out->b);
	enum dk_status st;

	memset(out, 0, sizeof(*out));
	switch (dk_pkey_type(pk)) {
	case DK_KT_RSA:
		st = dk_rfc3110_encode(pk, out->b, sizeof(out->b), &len);
		if (st == DK_OK) {
			out->alg = DK_ALG_RSA;
			out->len = (uint16_t)len;
		}
		return st;
	case DK_KT_ECDSA_P256:
		return ecdsa_encode(pk, out);
	case DK_KT_ED25519:
		if (EVP_PKEY_get_raw_public_key(pk, out->b, &len) != 1 || len != 32)
			return DK_ERR_CRYPTO;
		out->alg = DK_ALG_EDDSA;
		out->len = 32;
		return DK_OK;
	}
	return DK_ERR_KEY_TYPE;
}
