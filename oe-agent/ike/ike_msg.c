/* IKEv2 messages (RFC 7296 §3.1-§3.2): the fixed header, the chain of generic payload
 * headers (unknown payloads: critical -> UNSUPPORTED_CRITICAL_PAYLOAD, else skipped), the
 * builder that patches next-payload and length fields, and the name tables of the wire
 * constants. Payload bodies are ike_payload.c's; SK protection is ike_sk.c's. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ike_codec_int.h"
#include "oe_cursor.h"

/* ==== names ================================================================================== */

const char *ike_codec_strerror(enum ike_codec_status st)
{
	switch (st) {
	case IKE_CODEC_OK: return "ok";
	case IKE_CODEC_NOMEM: return "out of memory";
	case IKE_CODEC_TRUNCATED: return "message shorter than the IKE header";
	case IKE_CODEC_BAD_LENGTH: return "length field disagrees with the message";
	case IKE_CODEC_BAD_VERSION: return "major version is not 2";
	case IKE_CODEC_UNSUPPORTED_CRITICAL_PAYLOAD: return "unsupported critical payload";
	case IKE_CODEC_PAYLOAD_ORDER: return "SK payload not last (or nested)";
	case IKE_CODEC_TOO_MANY: return "too many payloads, proposals or selectors";
	case IKE_CODEC_BAD_PROPOSAL: return "malformed proposal";
	case IKE_CODEC_BAD_TRANSFORM: return "malformed transform";
	case IKE_CODEC_BAD_ATTRIBUTE: return "malformed transform attribute";
	case IKE_CODEC_BAD_KE: return "malformed KE payload";
	case IKE_CODEC_BAD_NONCE: return "nonce not 16..256 octets";
	case IKE_CODEC_BAD_ID: return "malformed ID payload";
	case IKE_CODEC_BAD_AUTH: return "malformed AUTH payload";
	case IKE_CODEC_BAD_TS: return "malformed traffic selector";
	case IKE_CODEC_BAD_NOTIFY: return "malformed notify payload";
	case IKE_CODEC_BAD_DELETE: return "malformed delete payload";
	case IKE_CODEC_BAD_CP: return "malformed configuration payload";
	case IKE_CODEC_BAD_SK: return "malformed SK payload";
	case IKE_CODEC_SK_AUTH: return "SK integrity check failed";
	case IKE_CODEC_NO_SK: return "no SK payload";
	case IKE_CODEC_CRYPTO: return "libcrypto failure";
	case IKE_CODEC_BUILD: return "cannot encode payload";
	}
	return "unknown codec status";
}

const char *ike_exch_name(unsigned exch)
{
	switch (exch) {
	case IKE_EXCH_SA_INIT: return "IKE_SA_INIT";
	case IKE_EXCH_AUTH: return "IKE_AUTH";
	case IKE_EXCH_CREATE_CHILD_SA: return "CREATE_CHILD_SA";
	case IKE_EXCH_INFORMATIONAL: return "INFORMATIONAL";
	}
	return "UNKNOWN_EXCHANGE";
}

const char *ike_pl_name(unsigned type)
{
	static const char *const names[] = {
		[IKE_PL_NONE] = "NONE", [IKE_PL_SA] = "SA", [IKE_PL_KE] = "KE",
		[IKE_PL_IDI] = "IDi", [IKE_PL_IDR] = "IDr", [IKE_PL_CERT] = "CERT",
		[IKE_PL_CERTREQ] = "CERTREQ", [IKE_PL_AUTH] = "AUTH", [IKE_PL_NONCE] = "Nonce",
		[IKE_PL_NOTIFY] = "N", [IKE_PL_DELETE] = "D", [IKE_PL_VENDOR] = "V",
		[IKE_PL_TSI] = "TSi", [IKE_PL_TSR] = "TSr", [IKE_PL_SK] = "SK", [IKE_PL_CP] = "CP",
		[IKE_PL_EAP] = "EAP", [IKE_PL_SKF] = "SKF",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "UNKNOWN_PAYLOAD";
}

const char *ike_proto_name(unsigned proto)
{
	static const char *const names[] = { "NONE", "IKE", "AH", "ESP" };

	return proto < 4 ? names[proto] : "UNKNOWN_PROTOCOL";
}

const char *ike_xf_name(unsigned type, unsigned id)
{
	switch (type << 16 | id) {
	case IKE_XF_ENCR << 16 | IKE_ENCR_AES_CBC: return "ENCR_AES_CBC";
	case IKE_XF_ENCR << 16 | IKE_ENCR_AES_GCM_16: return "ENCR_AES_GCM_16";
	case IKE_XF_ENCR << 16 | IKE_ENCR_CHACHA20_POLY1305: return "ENCR_CHACHA20_POLY1305";
	case IKE_XF_PRF << 16 | IKE_PRF_HMAC_SHA1: return "PRF_HMAC_SHA1";
	case IKE_XF_PRF << 16 | IKE_PRF_HMAC_SHA2_256: return "PRF_HMAC_SHA2_256";
	case IKE_XF_PRF << 16 | IKE_PRF_HMAC_SHA2_384: return "PRF_HMAC_SHA2_384";
	case IKE_XF_PRF << 16 | IKE_PRF_HMAC_SHA2_512: return "PRF_HMAC_SHA2_512";
	case IKE_XF_INTEG << 16 | IKE_INTEG_NONE: return "NONE";
	case IKE_XF_INTEG << 16 | IKE_INTEG_HMAC_SHA2_256_128: return "AUTH_HMAC_SHA2_256_128";
	case IKE_XF_DH << 16 | IKE_DH_NONE: return "NONE";
	case IKE_XF_DH << 16 | IKE_DH_MODP2048: return "MODP_2048";
	case IKE_XF_DH << 16 | IKE_DH_ECP256: return "ECP_256";
	case IKE_XF_DH << 16 | IKE_DH_CURVE25519: return "CURVE25519";
	case IKE_XF_ESN << 16 | IKE_ESN_NO: return "NO_ESN";
	case IKE_XF_ESN << 16 | IKE_ESN_YES: return "ESN";
	}
	return "UNKNOWN_TRANSFORM";
}

const char *ike_id_type_name(unsigned type)
{
	switch (type) {
	case IKE_ID_IPV4_ADDR: return "ID_IPV4_ADDR";
	case IKE_ID_FQDN: return "ID_FQDN";
	case IKE_ID_RFC822_ADDR: return "ID_RFC822_ADDR";
	case IKE_ID_IPV6_ADDR: return "ID_IPV6_ADDR";
	case IKE_ID_DER_ASN1_DN: return "ID_DER_ASN1_DN";
	case IKE_ID_DER_ASN1_GN: return "ID_DER_ASN1_GN";
	case IKE_ID_KEY_ID: return "ID_KEY_ID";
	case IKE_ID_NULL: return "ID_NULL";
	}
	return "UNKNOWN_ID";
}

const char *ike_auth_method_name(unsigned method)
{
	switch (method) {
	case IKE_AUTH_RSA_SIG: return "RSA_SIG";
	case IKE_AUTH_SHARED_KEY: return "SHARED_KEY_MIC";
	case IKE_AUTH_DSS: return "DSS_SIG";
	case IKE_AUTH_ECDSA_256: return "ECDSA_SHA256_P256";
	case IKE_AUTH_NULL: return "NULL";
	case IKE_AUTH_DIGITAL_SIG: return "DIGITAL_SIGNATURE";
	}
	return "UNKNOWN_AUTH";
}

const char *ike_notify_name(unsigned type)
{
	switch (type) {
	case IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD: return "UNSUPPORTED_CRITICAL_PAYLOAD";
	case IKE_N_INVALID_IKE_SPI: return "INVALID_IKE_SPI";
	case IKE_N_INVALID_MAJOR_VERSION: return "INVALID_MAJOR_VERSION";
	case IKE_N_INVALID_SYNTAX: return "INVALID_SYNTAX";
	case IKE_N_INVALID_MESSAGE_ID: return "INVALID_MESSAGE_ID";
	case IKE_N_INVALID_SPI: return "INVALID_SPI";
	case IKE_N_NO_PROPOSAL_CHOSEN: return "NO_PROPOSAL_CHOSEN";
	case IKE_N_INVALID_KE_PAYLOAD: return "INVALID_KE_PAYLOAD";
	case IKE_N_AUTHENTICATION_FAILED: return "AUTHENTICATION_FAILED";
	case IKE_N_SINGLE_PAIR_REQUIRED: return "SINGLE_PAIR_REQUIRED";
	case IKE_N_NO_ADDITIONAL_SAS: return "NO_ADDITIONAL_SAS";
	case IKE_N_INTERNAL_ADDRESS_FAILURE: return "INTERNAL_ADDRESS_FAILURE";
	case IKE_N_FAILED_CP_REQUIRED: return "FAILED_CP_REQUIRED";
	case IKE_N_TS_UNACCEPTABLE: return "TS_UNACCEPTABLE";
	case IKE_N_INVALID_SELECTORS: return "INVALID_SELECTORS";
	case IKE_N_TEMPORARY_FAILURE: return "TEMPORARY_FAILURE";
	case IKE_N_CHILD_SA_NOT_FOUND: return "CHILD_SA_NOT_FOUND";
	case IKE_N_INITIAL_CONTACT: return "INITIAL_CONTACT";
	case IKE_N_SET_WINDOW_SIZE: return "SET_WINDOW_SIZE";
	case IKE_N_ADDITIONAL_TS_POSSIBLE: return "ADDITIONAL_TS_POSSIBLE";
	case IKE_N_IPCOMP_SUPPORTED: return "IPCOMP_SUPPORTED";
	case IKE_N_NAT_DETECTION_SOURCE_IP: return "NAT_DETECTION_SOURCE_IP";
	case IKE_N_NAT_DETECTION_DESTINATION_IP: return "NAT_DETECTION_DESTINATION_IP";
	case IKE_N_COOKIE: return "COOKIE";
	case IKE_N_USE_TRANSPORT_MODE: return "USE_TRANSPORT_MODE";
	case IKE_N_HTTP_CERT_LOOKUP_SUPPORTED: return "HTTP_CERT_LOOKUP_SUPPORTED";
	case IKE_N_REKEY_SA: return "REKEY_SA";
	case IKE_N_ESP_TFC_PADDING_NOT_SUPPORTED: return "ESP_TFC_PADDING_NOT_SUPPORTED";
	case IKE_N_NON_FIRST_FRAGMENTS_ALSO: return "NON_FIRST_FRAGMENTS_ALSO";
	case IKE_N_MOBIKE_SUPPORTED: return "MOBIKE_SUPPORTED";
	case IKE_N_IKEV2_FRAGMENTATION_SUPPORTED: return "IKEV2_FRAGMENTATION_SUPPORTED";
	case IKE_N_SIGNATURE_HASH_ALGORITHMS: return "SIGNATURE_HASH_ALGORITHMS";
	}
	return type <= IKE_N_ERROR_MAX ? "UNKNOWN_ERROR_NOTIFY" : "UNKNOWN_STATUS_NOTIFY";
}

/* ==== parsing ================================================================================
 *  Header (§3.1): IKE SA Initiator's SPI(8) | Responder's SPI(8) | Next Payload | MjVer|MnVer |
 *                 Exchange Type | Flags | Message ID(4) | Length(4)
 *  Generic payload header (§3.2): Next Payload | C + RESERVED | Payload Length(2) */

enum ike_codec_status ike_hdr_parse(const uint8_t *buf, size_t len, struct ike_hdr *h)
{
	struct oe_cur c = oe_cur_make(buf, len);

	if (!oe_cur_bytes(&c, h->spi_i, 8) || !oe_cur_bytes(&c, h->spi_r, 8) ||
	    !oe_cur_u8(&c, &h->next) || !oe_cur_u8(&c, &h->version) ||
	    !oe_cur_u8(&c, &h->exch) || !oe_cur_u8(&c, &h->flags) ||
	    !oe_cur_u32(&c, &h->msgid) || !oe_cur_u32(&c, &h->length))
		return IKE_CODEC_TRUNCATED;
	/* §2.5: a higher major version is answered with INVALID_MAJOR_VERSION. */
	if ((h->version >> 4) != 2)
		return IKE_CODEC_BAD_VERSION;
	if (h->length != len)
		return IKE_CODEC_BAD_LENGTH;
	return IKE_CODEC_OK;
}

static bool known_payload(uint8_t type)
{
	return (type >= IKE_PL_SA && type <= IKE_PL_TSR) || type == IKE_PL_CP ||
	       type == IKE_PL_EAP;
}

/* Records the SK payload (RFC 7296 §3.14: IV | encrypted | ICV); it must end the message. */
static enum ike_codec_status take_sk(struct ike_msg *m, uint8_t inner_next, struct oe_cur body,
				     const struct oe_cur *rest)
{
	struct ike_payload *p;

	if (m->has_sk || rest->len != 0)
		return IKE_CODEC_PAYLOAD_ORDER;
	/* at least IV, the pad length octet and the ICV */
	if (body.len < IKE_SK_IV_LEN + 1 + IKE_SK_ICV_LEN)
		return IKE_CODEC_BAD_SK;
	if (m->n_pl == IKE_MAX_PAYLOADS)
		return IKE_CODEC_TOO_MANY;
	p = &m->pl[m->n_pl];
	memset(p, 0, sizeof(*p));
	p->type = IKE_PL_SK;
	p->u.sk.inner_next = inner_next;
	p->u.sk.iv = body.p;
	p->u.sk.ct = body.p + IKE_SK_IV_LEN;
	p->u.sk.ct_len = body.len - IKE_SK_IV_LEN - IKE_SK_ICV_LEN;
	p->u.sk.icv = body.p + body.len - IKE_SK_ICV_LEN;
	m->has_sk = true;
	m->sk_index = m->n_pl++;
	return IKE_CODEC_OK;
}

static enum ike_codec_status parse_chain(struct ike_msg *m, uint8_t next, struct oe_cur c,
					 bool inner)
{
	while (next != IKE_PL_NONE) {
		uint8_t np, flags;
		uint16_t plen;
		struct oe_cur body;
		enum ike_codec_status st;

		if (!oe_cur_u8(&c, &np) || !oe_cur_u8(&c, &flags) || !oe_cur_u16(&c, &plen))
			return IKE_CODEC_BAD_LENGTH;
		if (plen < IKE_GENERIC_HDR_LEN || !oe_cur_sub(&c, plen - 4u, &body))
			return IKE_CODEC_BAD_LENGTH;
		if (next == IKE_PL_SK) {
			if (inner)
				return IKE_CODEC_PAYLOAD_ORDER;
			return take_sk(m, np, body, &c);
		}
		if (known_payload(next)) {
			if (m->n_pl == IKE_MAX_PAYLOADS)
				return IKE_CODEC_TOO_MANY;
			struct ike_payload *p = &m->pl[m->n_pl];
			memset(p, 0, sizeof(*p));
			st = ike_payload_decode(m, next, body, p);
			if (st != IKE_CODEC_OK)
				return st;
			p->critical = flags & 0x80;
			p->inner = inner;
			m->n_pl++;
		} else if (flags & 0x80) {
			/* §2.5: unknown and critical: reject the whole message */
			m->unsupported_type = next;
			return IKE_CODEC_UNSUPPORTED_CRITICAL_PAYLOAD;
		} /* else unknown, not critical: skipped (§2.5) */
		next = np;
	}
	return c.len == 0 ? IKE_CODEC_OK : IKE_CODEC_BAD_LENGTH;
}

enum ike_codec_status ike_msg_parse(const uint8_t *buf, size_t len, struct ike_msg **out)
{
	struct ike_hdr h;
	struct ike_msg *m;
	enum ike_codec_status st;

	*out = NULL;
	st = ike_hdr_parse(buf, len, &h);
	if (st == IKE_CODEC_TRUNCATED)
		return st;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->raw = malloc(len))) {
		free(m);
		return IKE_CODEC_NOMEM;
	}
	memcpy(m->raw, buf, len);
	m->raw_len = len;
	m->hdr = h;
	*out = m;
	if (st != IKE_CODEC_OK)
		return st;
	return parse_chain(m, h.next, oe_cur_make(m->raw + IKE_HDR_LEN, len - IKE_HDR_LEN), false);
}

void ike_msg_free(struct ike_msg *m)
{
	if (!m)
		return;
	if (m->plain) {
		OPENSSL_cleanse(m->plain, m->plain_len);
		free(m->plain);
	}
	free(m->raw);
	free(m);
}

/* Inner chain of a decrypted SK (§3.14): payloads | Padding | Pad Length. */
enum ike_codec_status ike_msg_decrypt(struct ike_msg *m, const struct ike_sk_key *key)
{
	const struct ike_sk_pl *sk;
	size_t aad_len;
	uint8_t pad;
	enum ike_codec_status st;

	size_t n_pl = m->n_pl, n_prop = m->n_prop, n_ts = m->n_ts;

	if (!m->has_sk || m->decrypted)
		return IKE_CODEC_NO_SK;
	sk = &m->pl[m->sk_index].u.sk;
	aad_len = (size_t)(sk->iv - m->raw); /* header + SK generic header, RFC 5282 §5.1 */
	m->plain = malloc(sk->ct_len);
	if (!m->plain)
		return IKE_CODEC_NOMEM;
	m->plain_len = sk->ct_len;
	st = ike_sk_open(key, sk->iv, m->raw, aad_len, sk->ct, sk->ct_len, sk->icv, m->plain);
	if (st == IKE_CODEC_OK) {
		pad = m->plain[sk->ct_len - 1];
		if (pad >= sk->ct_len)
			st = IKE_CODEC_BAD_SK;
	}
	if (st == IKE_CODEC_OK)
		st = parse_chain(m, sk->inner_next,
				 oe_cur_make(m->plain, sk->ct_len - 1 - pad), true);
	if (st == IKE_CODEC_OK) {
		m->decrypted = true;
		return st;
	}
	/* undone, so that another key may be tried on the same message */
	m->n_pl = n_pl;
	m->n_prop = n_prop;
	m->n_ts = n_ts;
	OPENSSL_cleanse(m->plain, m->plain_len);
	free(m->plain);
	m->plain = NULL;
	m->plain_len = 0;
	return st;
}

const struct ike_payload *ike_msg_find(const struct ike_msg *m, unsigned type, size_t *from)
{
	for (size_t i = from ? *from : 0; i < m->n_pl; i++) {
		if (m->pl[i].type == type) {
			if (from)
				*from = i + 1;
			return &m->pl[i];
		}
	}
	return NULL;
}

const struct ike_notify_pl *ike_msg_notify(const struct ike_msg *m, unsigned ntype)
{
	for (size_t i = 0; i < m->n_pl; i++)
		if (m->pl[i].type == IKE_PL_NOTIFY && m->pl[i].u.n.type == ntype)
			return &m->pl[i].u.n;
	return NULL;
}

/* ==== building =============================================================================== */

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

void ike_build_bytes(struct ike_builder *b, const void *p, size_t n)
{
	if (b->st != IKE_CODEC_OK || n == 0)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 512;
		uint8_t *nb;

		while (cap - b->len < n && cap < (1u << 20))
			cap *= 2;
		if (cap - b->len < n || !(nb = realloc(b->buf, cap))) {
			b->st = IKE_CODEC_NOMEM;
			return;
		}
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void ike_build_init(struct ike_builder *b, const struct ike_hdr *h)
{
	uint8_t hb[IKE_HDR_LEN];

	memset(b, 0, sizeof(*b));
	memcpy(hb, h->spi_i, 8);
	memcpy(hb + 8, h->spi_r, 8);
	hb[16] = IKE_PL_NONE;
	hb[17] = h->version ? h->version : IKE_VERSION;
	hb[18] = h->exch;
	hb[19] = h->flags;
	put32(hb + 20, h->msgid);
	put32(hb + 24, 0); /* length: ike_build_finish() */
	ike_build_bytes(b, hb, sizeof(hb));
	b->np_off = 16;
}

/* Starts a payload: chains it from the previous one, returns its header offset. */
static size_t begin_payload(struct ike_builder *b, uint8_t type, bool critical)
{
	uint8_t gh[4] = { IKE_PL_NONE, critical ? 0x80 : 0, 0, 0 };
	size_t off = b->len;

	ike_build_bytes(b, gh, 4);
	if (b->st != IKE_CODEC_OK)
		return 0;
	b->buf[b->np_off] = type;
	b->np_off = off;
	return off;
}

void ike_build_add(struct ike_builder *b, const struct ike_payload *p)
{
	size_t off = begin_payload(b, p->type, p->critical);

	if (b->st != IKE_CODEC_OK)
		return;
	ike_payload_encode(b, p);
	if (b->st == IKE_CODEC_OK && b->len - off > 0xffff)
		b->st = IKE_CODEC_BUILD;
	if (b->st == IKE_CODEC_OK)
		put16(b->buf + off + 2, b->len - off);
}

void ike_build_notify_spi(struct ike_builder *b, uint8_t proto, const uint8_t *spi,
			  uint8_t spi_size, uint16_t type, const void *data, size_t len)
{
	struct ike_payload p = { .type = IKE_PL_NOTIFY };

	p.u.n.proto = proto;
	p.u.n.spi_size = spi_size;
	if (spi_size <= IKE_SPI_LEN && spi)
		memcpy(p.u.n.spi, spi, spi_size);
	p.u.n.type = type;
	p.u.n.data = data;
	p.u.n.len = len;
	ike_build_add(b, &p);
}

void ike_build_notify(struct ike_builder *b, uint16_t type, const void *data, size_t len)
{
	ike_build_notify_spi(b, IKE_PROTO_NONE, NULL, 0, type, data, len);
}

void ike_build_begin_sk(struct ike_builder *b)
{
	static const uint8_t iv0[IKE_SK_IV_LEN];

	if (b->sk_off) {
		b->st = b->st ? b->st : IKE_CODEC_BUILD;
		return;
	}
	b->sk_off = begin_payload(b, IKE_PL_SK, false);
	ike_build_bytes(b, iv0, sizeof(iv0)); /* the IV is written at finish */
}

/* Pads, seals in place and fills in the IV and ICV (§3.14, RFC 5282 §3, §5.1). */
static enum ike_codec_status seal_sk(struct ike_builder *b, struct ike_sk_key *key)
{
	static const uint8_t pad_len; /* GCM needs no block alignment: Pad Length 0 */
	uint8_t icv[IKE_SK_ICV_LEN] = { 0 }, iv[IKE_SK_IV_LEN];
	size_t pt_off = b->sk_off + IKE_GENERIC_HDR_LEN + IKE_SK_IV_LEN, pt_len;

	if (!key || (key->key_len != 16 && key->key_len != 32))
		return IKE_CODEC_BUILD;
	ike_build_bytes(b, &pad_len, 1);
	pt_len = b->len - pt_off;
	ike_build_bytes(b, icv, sizeof(icv));
	if (b->st != IKE_CODEC_OK)
		return b->st;
	if (b->len - b->sk_off > 0xffff)
		return IKE_CODEC_BUILD;
	put16(b->buf + b->sk_off + 2, b->len - b->sk_off);
	put32(b->buf + 24, (uint32_t)b->len);
	put32(iv, (uint32_t)(key->iv_next >> 32));
	put32(iv + 4, (uint32_t)key->iv_next);
	key->iv_next++;
	memcpy(b->buf + b->sk_off + IKE_GENERIC_HDR_LEN, iv, sizeof(iv));
	return ike_sk_seal(key, iv, b->buf, b->sk_off + IKE_GENERIC_HDR_LEN, b->buf + pt_off,
			   pt_len, b->buf + pt_off + pt_len);
}

enum ike_codec_status ike_build_finish(struct ike_builder *b, struct ike_sk_key *key,
				       uint8_t **out, size_t *len)
{
	enum ike_codec_status st = b->st;

	*out = NULL;
	*len = 0;
	if (st == IKE_CODEC_OK && !b->sk_off && key)
		st = IKE_CODEC_BUILD;
	if (st == IKE_CODEC_OK && b->sk_off)
		st = seal_sk(b, key);
	else if (st == IKE_CODEC_OK)
		put32(b->buf + 24, (uint32_t)b->len);
	if (st != IKE_CODEC_OK) {
		ike_build_free(b);
		return st;
	}
	*out = b->buf;
	*len = b->len;
	b->buf = NULL;
	ike_build_free(b);
	return IKE_CODEC_OK;
}

void ike_build_free(struct ike_builder *b)
{
	if (b->buf) {
		OPENSSL_cleanse(b->buf, b->len); /* may hold plaintext of an SK part */
		free(b->buf);
	}
	memset(b, 0, sizeof(*b));
}
