/* IKEv2 wire codec (RFC 7296 §3): message header, payload structs, a parser that validates
 * each payload (pure validate_x()) before decoding it through lib/oe_cursor.h, a builder that
 * appends payloads and fixes next-payload/length fields, and the SK payload's AEAD protection
 * (RFC 7296 §3.14 with AES-GCM-16 per RFC 5282). Internal to oe-agent/ike/. Files:
 * ike_msg.c (header, chain, builder, names), ike_payload.c (per-payload codecs), ike_sk.c. */
#ifndef IKE_CODEC_INT_H
#define IKE_CODEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oe_addr.h"

/* ==== wire constants (IANA "IKEv2 Parameters"); name tables in ike_msg.c ================== */

#define IKE_HDR_LEN 28         /* RFC 7296 §3.1 */
#define IKE_GENERIC_HDR_LEN 4  /* RFC 7296 §3.2 */
#define IKE_VERSION 0x20       /* major 2, minor 0 */
#define IKE_SPI_LEN 8

enum ike_exch {
	IKE_EXCH_SA_INIT = 34,
	IKE_EXCH_AUTH = 35,
	IKE_EXCH_CREATE_CHILD_SA = 36,
	IKE_EXCH_INFORMATIONAL = 37,
};
const char *ike_exch_name(unsigned exch);

/* Header flags, RFC 7296 §3.1. */
#define IKE_FLAG_I 0x08 /* sent by the original initiator of the IKE SA */
#define IKE_FLAG_V 0x10 /* higher version supported: never set by us, ignored */
#define IKE_FLAG_R 0x20 /* response */

enum ike_pl_type {
	IKE_PL_NONE = 0,
	IKE_PL_SA = 33,
	IKE_PL_KE = 34,
	IKE_PL_IDI = 35,
	IKE_PL_IDR = 36,
	IKE_PL_CERT = 37,
	IKE_PL_CERTREQ = 38,
	IKE_PL_AUTH = 39,
	IKE_PL_NONCE = 40, /* Ni and Nr */
	IKE_PL_NOTIFY = 41,
	IKE_PL_DELETE = 42,
	IKE_PL_VENDOR = 43,
	IKE_PL_TSI = 44,
	IKE_PL_TSR = 45,
	IKE_PL_SK = 46,
	IKE_PL_CP = 47,
	IKE_PL_EAP = 48,
	IKE_PL_SKF = 53, /* RFC 7383 fragments: not supported, treated as an unknown payload */
};
const char *ike_pl_name(unsigned type);

/* Security protocol IDs (proposals, notifies, deletes). */
enum ike_proto {
	IKE_PROTO_NONE = 0,
	IKE_PROTO_IKE = 1,
	IKE_PROTO_AH = 2,
	IKE_PROTO_ESP = 3,
};
const char *ike_proto_name(unsigned proto);

/* Transform types and the IDs we know, RFC 7296 §3.3.2. */
enum ike_xf_type {
	IKE_XF_ENCR = 1,
	IKE_XF_PRF = 2,
	IKE_XF_INTEG = 3,
	IKE_XF_DH = 4,
	IKE_XF_ESN = 5,
};
#define IKE_ENCR_AES_CBC 12
#define IKE_ENCR_AES_GCM_16 20     /* RFC 5282 / RFC 4106: the only cipher we negotiate */
#define IKE_ENCR_CHACHA20_POLY1305 28
#define IKE_PRF_HMAC_SHA1 2
#define IKE_PRF_HMAC_SHA2_256 5
#define IKE_PRF_HMAC_SHA2_384 6
#define IKE_PRF_HMAC_SHA2_512 7
#define IKE_INTEG_NONE 0
#define IKE_INTEG_HMAC_SHA2_256_128 12
#define IKE_DH_NONE 0
#define IKE_DH_MODP2048 14
#define IKE_DH_ECP256 19
#define IKE_DH_CURVE25519 31
#define IKE_ESN_NO 0
#define IKE_ESN_YES 1
#define IKE_ATTR_KEY_LENGTH 14     /* the one transform attribute (TV format), §3.3.5 */
/* "ENCR_AES_GCM_16/256", "PRF_HMAC_SHA2_256", "31", ... into a static/ caller buffer. */
const char *ike_xf_name(unsigned type, unsigned id);

enum ike_id_type {
	IKE_ID_IPV4_ADDR = 1,
	IKE_ID_FQDN = 2,
	IKE_ID_RFC822_ADDR = 3,
	IKE_ID_IPV6_ADDR = 5,
	IKE_ID_DER_ASN1_DN = 9,
	IKE_ID_DER_ASN1_GN = 10,
	IKE_ID_KEY_ID = 11,
	IKE_ID_NULL = 13, /* RFC 7619 */
};
const char *ike_id_type_name(unsigned type);

enum ike_auth_method {
	IKE_AUTH_RSA_SIG = 1,      /* RSASSA-PKCS1-v1_5 with SHA-1 (what Libreswan/strongSwan do) */
	IKE_AUTH_SHARED_KEY = 2,
	IKE_AUTH_DSS = 3,
	IKE_AUTH_ECDSA_256 = 9,    /* RFC 4754: not used by us, recognised */
	IKE_AUTH_NULL = 13,        /* RFC 7619 */
	IKE_AUTH_DIGITAL_SIG = 14, /* RFC 7427 */
};
const char *ike_auth_method_name(unsigned method);

enum ike_ts_type {
	IKE_TS_IPV4_ADDR_RANGE = 7,
	IKE_TS_IPV6_ADDR_RANGE = 8,
};

/* Notify message types, RFC 7296 §3.10.1 and later RFCs. < 16384 are errors. */
enum ike_notify_type {
	IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD = 1,
	IKE_N_INVALID_IKE_SPI = 4,
	IKE_N_INVALID_MAJOR_VERSION = 5,
	IKE_N_INVALID_SYNTAX = 7,
	IKE_N_INVALID_MESSAGE_ID = 9,
	IKE_N_INVALID_SPI = 11,
	IKE_N_NO_PROPOSAL_CHOSEN = 14,
	IKE_N_INVALID_KE_PAYLOAD = 17,
	IKE_N_AUTHENTICATION_FAILED = 24,
	IKE_N_SINGLE_PAIR_REQUIRED = 34,
	IKE_N_NO_ADDITIONAL_SAS = 35,
	IKE_N_INTERNAL_ADDRESS_FAILURE = 36,
	IKE_N_FAILED_CP_REQUIRED = 37,
	IKE_N_TS_UNACCEPTABLE = 38,
	IKE_N_INVALID_SELECTORS = 39,
	IKE_N_TEMPORARY_FAILURE = 43,
	IKE_N_CHILD_SA_NOT_FOUND = 44,
	IKE_N_ERROR_MAX = 16383,
	IKE_N_INITIAL_CONTACT = 16384,
	IKE_N_SET_WINDOW_SIZE = 16385,
	IKE_N_ADDITIONAL_TS_POSSIBLE = 16386,
	IKE_N_IPCOMP_SUPPORTED = 16387,
	IKE_N_NAT_DETECTION_SOURCE_IP = 16388,
	IKE_N_NAT_DETECTION_DESTINATION_IP = 16389,
	IKE_N_COOKIE = 16390,
	IKE_N_USE_TRANSPORT_MODE = 16391,
	IKE_N_HTTP_CERT_LOOKUP_SUPPORTED = 16392,
	IKE_N_REKEY_SA = 16393,
	IKE_N_ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
	IKE_N_NON_FIRST_FRAGMENTS_ALSO = 16395,
	IKE_N_MOBIKE_SUPPORTED = 16396,
	IKE_N_IKEV2_FRAGMENTATION_SUPPORTED = 16430, /* RFC 7383 */
	IKE_N_SIGNATURE_HASH_ALGORITHMS = 16431,     /* RFC 7427 §4 */
};
const char *ike_notify_name(unsigned type);

/* CP payload, RFC 7296 §3.15. */
enum ike_cfg_type {
	IKE_CFG_REQUEST = 1,
	IKE_CFG_REPLY = 2,
	IKE_CFG_SET = 3,
	IKE_CFG_ACK = 4,
};

/* ==== parser status ========================================================================= */

enum ike_codec_status {
	IKE_CODEC_OK = 0,
	IKE_CODEC_NOMEM,
	IKE_CODEC_TRUNCATED,         /* datagram shorter than a header / fixed part */
	IKE_CODEC_BAD_LENGTH,        /* a length field disagrees with the bytes (short/overlong) */
	IKE_CODEC_BAD_VERSION,       /* major version != 2: answer INVALID_MAJOR_VERSION */
	IKE_CODEC_UNSUPPORTED_CRITICAL_PAYLOAD, /* see ike_msg.unsupported_type */
	IKE_CODEC_PAYLOAD_ORDER,     /* SK not last, nested SK, SK inside SK */
	IKE_CODEC_TOO_MANY,          /* more payloads/proposals/transforms/selectors than we hold */
	IKE_CODEC_BAD_PROPOSAL,      /* numbering, last-flag, protocol, SPI size */
	IKE_CODEC_BAD_TRANSFORM,     /* last-flag, length, type 0 */
	IKE_CODEC_BAD_ATTRIBUTE,     /* attribute runs past its transform, TLV key length */
	IKE_CODEC_BAD_KE,            /* empty key exchange data */
	IKE_CODEC_BAD_NONCE,         /* nonce outside 16..256 octets (§3.9) */
	IKE_CODEC_BAD_ID,            /* address ID of the wrong length, empty ID data */
	IKE_CODEC_BAD_AUTH,          /* empty authentication data */
	IKE_CODEC_BAD_TS,            /* unknown TS type, selector length, start > end */
	IKE_CODEC_BAD_NOTIFY,        /* SPI size, protocol */
	IKE_CODEC_BAD_DELETE,        /* SPI size vs protocol, SPI count vs length */
	IKE_CODEC_BAD_CP,            /* CFG type, attribute lengths */
	IKE_CODEC_BAD_SK,            /* SK shorter than IV + ICV, padding length */
	IKE_CODEC_SK_AUTH,           /* ICV check failed: drop silently (§2.21.2) */
	IKE_CODEC_NO_SK,             /* ike_msg_decrypt() on a message without SK */
	IKE_CODEC_CRYPTO,            /* libcrypto failed (not the peer's fault) */
	IKE_CODEC_BUILD,             /* the builder was given something it cannot encode */
};
const char *ike_codec_strerror(enum ike_codec_status st);

/* ==== header and payload structs =============================================================
 * Parsed payloads point into buffers owned by their struct ike_msg (the copied datagram or the
 * decrypted SK plaintext): borrowed, valid until ike_msg_free(). For building, the pointers are
 * borrowed from the caller until ike_build_add() returns (the bytes are copied then). */

struct ike_hdr {
	uint8_t spi_i[IKE_SPI_LEN];
	uint8_t spi_r[IKE_SPI_LEN];
	uint8_t next;      /* first payload type (parser: as received; builder: computed) */
	uint8_t version;   /* IKE_VERSION */
	uint8_t exch;      /* enum ike_exch */
	uint8_t flags;     /* IKE_FLAG_* */
	uint32_t msgid;
	uint32_t length;   /* parser: as received (== datagram length); builder: computed */
};

/* per proposal: strongSwan 5.9.8's default IKE proposal has 36 (tests/netns/ike_strongswan.sh) */
#define IKE_MAX_TRANSFORMS 64
#define IKE_MAX_PROPOSALS 16  /* per message, summed over SA payloads */
#define IKE_MAX_TS 16         /* per message, summed over TSi and TSr */
#define IKE_MAX_CP_ATTRS 16
#define IKE_MAX_PAYLOADS 32   /* outer + inner */

struct ike_transform {
	uint8_t type;      /* enum ike_xf_type */
	uint16_t id;
	uint16_t key_len;  /* bits from the Key Length attribute; 0 = no attribute */
	bool unknown_attr; /* carried an attribute we do not know: skip this transform (§3.3.6) */
};

struct ike_proposal {
	uint8_t num;       /* proposal number, §3.3.1: 1, 2, ... in requests; an answer keeps
			    * the number of the proposal it accepted */
	uint8_t proto;     /* enum ike_proto */
	uint8_t spi_size;  /* 0 (IKE_SA_INIT), 8 (IKE rekey), 4 (ESP/AH) */
	uint8_t spi[IKE_SPI_LEN];
	uint8_t n_xf;
	struct ike_transform xf[IKE_MAX_TRANSFORMS];
};

struct ike_sa_pl {
	const struct ike_proposal *prop; /* borrowed: msg pool (parser) or caller (builder) */
	size_t n_prop;
};

struct ike_ke_pl {
	uint16_t group;    /* DH transform ID */
	const uint8_t *data;
	size_t len;
};

struct ike_bytes {   /* Ni/Nr, V, CERT, CERTREQ, EAP: opaque body */
	const uint8_t *data;
	size_t len;
};

struct ike_id_pl {
	uint8_t type;      /* enum ike_id_type */
	const uint8_t *data; /* 4 or 16 octets for address IDs; FQDN not NUL-terminated */
	size_t len;
};

struct ike_auth_pl {
	uint8_t method;    /* enum ike_auth_method */
	const uint8_t *data;
	size_t len;
};

struct ike_ts {
	uint8_t type;      /* enum ike_ts_type */
	uint8_t proto;     /* IP protocol, 0 = any */
	uint16_t sport, eport;     /* port range, inclusive; 0..65535 = any */
	struct oe_addr start, end; /* inclusive; family from type */
};

struct ike_ts_pl {
	const struct ike_ts *ts; /* borrowed: msg pool (parser) or caller (builder) */
	size_t n;
};

struct ike_notify_pl {
	uint8_t proto;     /* enum ike_proto, 0 when the notify is about the IKE SA */
	uint8_t spi_size;  /* 0, 4 or 8 */
	uint8_t spi[IKE_SPI_LEN];
	uint16_t type;     /* enum ike_notify_type */
	const uint8_t *data;
	size_t len;
};

struct ike_delete_pl {
	uint8_t proto;     /* IKE (no SPIs: the SA the message travels in), AH or ESP */
	uint8_t spi_size;  /* 0 for IKE, 4 for AH/ESP */
	uint16_t n_spi;
	const uint8_t *spis; /* n_spi * spi_size octets; ike_delete_spi() reads one */
};

struct ike_cp_attr {
	uint16_t type;     /* 15-bit attribute type (the high bit is reserved) */
	const uint8_t *data;
	uint16_t len;
};

struct ike_cp_pl {
	uint8_t cfg_type;  /* enum ike_cfg_type */
	uint8_t n_attr;    /* kept: the first IKE_MAX_CP_ATTRS */
	bool more;         /* parser: further attributes were checked but not kept */
	struct ike_cp_attr attr[IKE_MAX_CP_ATTRS];
};

/* The SK payload as received: §3.14 layout IV(8) | ciphertext | ICV(16). */
struct ike_sk_pl {
	uint8_t inner_next; /* first payload type inside */
	const uint8_t *iv;
	const uint8_t *ct;
	size_t ct_len;
	const uint8_t *icv;
};

struct ike_payload {
	uint8_t type;      /* enum ike_pl_type */
	bool critical;     /* the C bit as received / to send */
	bool inner;        /* parser: came from inside SK; builder: ignored */
	union {
		struct ike_sa_pl sa;
		struct ike_ke_pl ke;
		struct ike_bytes nonce;
		struct ike_id_pl id;       /* IDi, IDr */
		struct ike_auth_pl auth;
		struct ike_ts_pl ts;       /* TSi, TSr */
		struct ike_notify_pl n;
		struct ike_delete_pl d;
		struct ike_cp_pl cp;
		struct ike_bytes raw;      /* V, CERT, CERTREQ, EAP: kept, never interpreted */
		struct ike_sk_pl sk;
	} u;
};

/* A parsed message: header + payloads in wire order (inner ones appended after decryption).
 * Owns its buffers; from ike_msg_parse(), freed with ike_msg_free(). */
struct ike_msg {
	struct ike_hdr hdr;
	size_t n_pl;
	struct ike_payload pl[IKE_MAX_PAYLOADS];
	uint8_t unsupported_type; /* with IKE_CODEC_UNSUPPORTED_CRITICAL_PAYLOAD: the type to
				   * name in the notify's data (§3.10.1) */
	bool has_sk;       /* an SK payload was seen (it is pl[sk_index]) */
	bool decrypted;    /* ike_msg_decrypt() succeeded; inner payloads follow */
	size_t sk_index;
	/* private */
	uint8_t *raw;      /* owned copy of the datagram */
	size_t raw_len;
	uint8_t *plain;    /* owned decrypted SK body (wiped and freed by ike_msg_free) */
	size_t plain_len;
	size_t n_prop, n_ts;
	struct ike_proposal prop_pool[IKE_MAX_PROPOSALS];
	struct ike_ts ts_pool[IKE_MAX_TS];
};

/* ==== keys for the SK payload ================================================================
 * One direction's AES-GCM-16 key (SK_ei or SK_er): RFC 5282 §7.1 takes the 4-octet salt from the
 * end of that direction's key material. Secret: wipe with ike_sk_key_wipe(). */
struct ike_sk_key {
	uint8_t key[32];
	uint8_t salt[4];
	uint8_t key_len;   /* 16 or 32 octets */
	uint64_t iv_next;  /* sender's IV counter: RFC 5282 §3.1 forbids repeating an IV under a
			    * key; a counter guarantees it (ike_build_finish() advances it) */
};
void ike_sk_key_wipe(struct ike_sk_key *k);

#define IKE_SK_IV_LEN 8
#define IKE_SK_ICV_LEN 16

/* ==== parsing ================================================================================ */

/* Parses one datagram: header, then every outer payload (each validated before it is decoded).
 * An SK payload must be last; its contents wait for ike_msg_decrypt(). *out (new, caller frees
 * with ike_msg_free()) is set whenever the header parsed, even on a payload error, so the
 * caller can answer by SPIs/msgid; otherwise NULL. */
enum ike_codec_status ike_msg_parse(const uint8_t *buf, size_t len, struct ike_msg **out);
void ike_msg_free(struct ike_msg *m);

/* Parses only the fixed header (for demultiplexing by SPI before any allocation). */
enum ike_codec_status ike_hdr_parse(const uint8_t *buf, size_t len, struct ike_hdr *h);

/* Checks the ICV and decrypts the SK payload with the peer's key (SK_ei for a responder,
 * SK_er for an initiator), then parses the inner chain with the same validators and appends
 * those payloads (inner = true). IKE_CODEC_SK_AUTH: drop the message. On any failure m is as
 * before the call (another key may be tried); after success a second call gives NO_SK. */
enum ike_codec_status ike_msg_decrypt(struct ike_msg *m, const struct ike_sk_key *key);

/* First payload of a type at or after index *from (NULL = from 0); NULL if none. On success
 * *from (if given) is set past it, so a loop visits them all. Borrowed from m. */
const struct ike_payload *ike_msg_find(const struct ike_msg *m, unsigned type, size_t *from);
/* First notify of a type, or NULL. Borrowed from m. */
const struct ike_notify_pl *ike_msg_notify(const struct ike_msg *m, unsigned ntype);

/* The i-th SPI of a delete payload (4-octet SPIs in host order; 0 when out of range). */
uint32_t ike_delete_spi(const struct ike_delete_pl *d, size_t i);

/* ==== building ===============================================================================
 * ike_build_init(); ike_build_add() per payload (copies it); ike_build_begin_sk() before the
 * first payload to protect; ike_build_finish(). Errors are sticky and reported by finish. */
struct ike_builder {
	uint8_t *buf;      /* owned until ike_build_finish() hands it over */
	size_t len, cap;
	size_t np_off;     /* offset of the next-payload octet to patch for the next payload */
	size_t sk_off;     /* offset of the SK generic header; 0 = not begun */
	enum ike_codec_status st;
};

void ike_build_init(struct ike_builder *b, const struct ike_hdr *h);
void ike_build_add(struct ike_builder *b, const struct ike_payload *p);
/* Shorthands: a notify (proto 0, no SPI) and a notify with an SPI. */
void ike_build_notify(struct ike_builder *b, uint16_t type, const void *data, size_t len);
void ike_build_notify_spi(struct ike_builder *b, uint8_t proto, const uint8_t *spi,
			  uint8_t spi_size, uint16_t type, const void *data, size_t len);
/* Payloads added after this go inside the SK payload. */
void ike_build_begin_sk(struct ike_builder *b);
/* Fixes the length fields, encrypts the SK part with key (our direction: SK_ei as initiator,
 * SK_er as responder; its iv_next advances; NULL iff no SK was begun), and hands over the
 * message: *out is malloc'd, caller frees. The builder is empty afterwards. */
enum ike_codec_status ike_build_finish(struct ike_builder *b, struct ike_sk_key *key,
				       uint8_t **out, size_t *len);
/* Frees a builder that will not be finished (accepts a finished one). */
void ike_build_free(struct ike_builder *b);

/* The body of an ID payload as it enters the AUTH computation (§2.15: type | 3 reserved | data,
 * without the generic header). Returns the length, or 0 when cap is too small. */
size_t ike_id_body(const struct ike_id_pl *id, uint8_t *out, size_t cap);

/* ==== internal to the codec files (ike_msg.c <-> ike_payload.c <-> ike_sk.c) ================ */

struct oe_cur;
/* Validates (pure) then decodes one payload body of the given type into p. Unknown types are
 * the caller's business. */
enum ike_codec_status ike_payload_decode(struct ike_msg *m, uint8_t type, struct oe_cur body,
					 struct ike_payload *p);
/* Appends the body of p (without generic header) to b. */
void ike_payload_encode(struct ike_builder *b, const struct ike_payload *p);
void ike_build_bytes(struct ike_builder *b, const void *p, size_t n);
/* AES-GCM primitives of ike_sk.c: nonce = salt | iv. */
enum ike_codec_status ike_sk_seal(const struct ike_sk_key *k, const uint8_t iv[8],
				  const uint8_t *aad, size_t aad_len, uint8_t *buf, size_t len,
				  uint8_t icv[16]);
enum ike_codec_status ike_sk_open(const struct ike_sk_key *k, const uint8_t iv[8],
				  const uint8_t *aad, size_t aad_len, const uint8_t *ct,
				  size_t len, const uint8_t icv[16], uint8_t *out);

#endif
