/* dnskeys/: host keys, the DNS record codecs for published IPsec keys, and (in the lookup
 * section at the end) the asynchronous DNSSEC-validated key lookup.
 * The codecs are pure functions over bytes: RFC 3110 RSA blobs, RFC 6605 / RFC 8080 EC keys,
 * IPSECKEY (RFC 4025), FreeS/WAN X-IPsec-Server TXT and legacy KEY (RFC 2535) rdata.
 * Codecs return enum dk_status (dk_strerror() says why); system-facing calls return 0/-errno. */
#ifndef DNSKEYS_H
#define DNSKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "oe_addr.h"
#include "oe_buf.h"
#include "oe_diag.h"

/* ==== Section 1: host keys and record codecs (dk_hostkey.c, dk_codec*.c) ================= */

enum dk_status {
	DK_OK = 0,
	DK_NOT_OURS,           /* a TXT record that is not X-IPsec-Server: skip, not an error */
	DK_ERR_NOMEM,
	DK_ERR_CRYPTO,         /* libcrypto refused to build or export the key */
	DK_ERR_TRUNCATED,      /* rdata ends inside a field */
	DK_ERR_TRAILING,       /* bytes left after the last field */
	DK_ERR_TOO_BIG,        /* output does not fit / input absurdly long */
	DK_ERR_KEY_TYPE,       /* key type not supported by this record form */
	/* RFC 3110 */
	DK_ERR_RSA_EXPLEN,     /* exponent length runs past the blob */
	DK_ERR_RSA_EXP_EMPTY,
	DK_ERR_RSA_MOD_EMPTY,
	DK_ERR_RSA_EXP_ZERO,   /* leading zero octet in the exponent */
	DK_ERR_RSA_MOD_ZERO,   /* leading zero octet in the modulus */
	DK_ERR_RSA_MOD_SIZE,   /* modulus outside 1024..16384 bits */
	DK_ERR_RSA_EXP_SIZE,   /* exponent longer than 64 octets or than the modulus */
	DK_ERR_RSA_EXP_EVEN,
	DK_ERR_RSA_EXP_SMALL,  /* exponent < 3 */
	/* EC keys */
	DK_ERR_EC_LEN,         /* ECDSA key is not 64 octets (P-256 X||Y) */
	DK_ERR_EC_POINT,       /* not a point on P-256 */
	DK_ERR_ED_LEN,         /* Ed25519 key is not 32 octets */
	/* IPSECKEY */
	DK_ERR_GW_TYPE,        /* gateway type not 0..3 */
	DK_ERR_GW_ADDR,        /* gateway address unspecified (0.0.0.0 / ::) or malformed */
	DK_ERR_NAME_LABEL,     /* label longer than 63 octets (or a compression pointer) */
	DK_ERR_NAME_LONG,      /* name longer than 255 octets */
	DK_ERR_NAME_ROOT,      /* gateway name is the root */
	DK_ERR_NAME_SYNTAX,    /* presentation-form name malformed */
	DK_ERR_ALG_DSA,        /* algorithm 1 (DSA): not accepted */
	DK_ERR_ALG_UNKNOWN,
	DK_ERR_NOKEY_DATA,     /* algorithm 0 but key bytes present */
	DK_ERR_KEY_EMPTY,      /* algorithm set but no key bytes */
	/* TXT */
	DK_ERR_TXT_SYNTAX,     /* missing '(' ')' '=' */
	DK_ERR_TXT_PREF,       /* preference not decimal or > 65535 */
	DK_ERR_TXT_GW,         /* no gateway, or malformed address / @FQDN */
	DK_ERR_TXT_NUL,        /* NUL byte inside the text */
	DK_ERR_BASE64,         /* key is not valid base64 */
	/* KEY */
	DK_ERR_KEY_NOAUTH,     /* flags say the key may not be used for authentication */
	DK_ERR_KEY_FLAGS,      /* flags other than 0x4200 (host key, authentication only) */
	DK_ERR_KEY_PROTO,      /* protocol not 4 (IPsec) */
	DK_ERR_KEY_ALG,        /* algorithm not 1 (RSA/MD5 code point, as FreeS/WAN used) */
	DK_STATUS_COUNT
};

/* A fixed reason string for every status. */
const char *dk_strerror(enum dk_status st);

/* IPSECKEY public-key algorithm numbers (IANA "IPSECKEY Resource Record Parameters"). */
enum dk_alg {
	DK_ALG_NONE = 0,  /* RFC 4025: no key */
	DK_ALG_DSA = 1,   /* RFC 4025 / RFC 2536: rejected */
	DK_ALG_RSA = 2,   /* RFC 4025 / RFC 3110 §2 blob */
	DK_ALG_ECDSA = 3, /* RFC 8005 / RFC 6605 §4: P-256 as X||Y, 64 octets */
	DK_ALG_EDDSA = 4, /* RFC 9373 / RFC 8080 §3: Ed25519, 32 octets */
};

/* The largest public-key field we produce or accept: RFC 3110 with a 16384-bit modulus
 * (3 octets of exponent length + 64 of exponent + 2048 of modulus). */
#define DK_PUBKEY_MAX 2115
/* keyid: the first 9 base64 characters of the key blob (FreeS/WAN). */
#define DK_KEYID_LEN 9
/* A domain name in presentation form with every octet escaped as \DDD, plus the NUL. */
#define DK_NAME_MAX 1010

/* A public key in its DNS wire form: what follows the algorithm in IPSECKEY. */
struct dk_pubkey {
	uint8_t alg; /* enum dk_alg */
	uint16_t len;
	uint8_t b[DK_PUBKEY_MAX];
};

/* Host key types. */
enum dk_keytype { DK_KT_RSA = 1, DK_KT_ECDSA_P256, DK_KT_ED25519 };

/* "rsa", "ecdsa", "ed25519" <-> type; parse returns false for an unknown name. */
const char *dk_keytype_name(enum dk_keytype t);
bool dk_keytype_parse(const char *s, enum dk_keytype *out);
/* The type of pk, or 0 if it is none of ours (e.g. RSA-PSS-only, P-384). */
enum dk_keytype dk_pkey_type(const EVP_PKEY *pk);

/* -- public-key codecs (pure) -- */

/* RFC 3110 §2 blob -> new RSA EVP_PKEY in *out (caller frees). */
enum dk_status dk_rfc3110_decode(const uint8_t *p, size_t n, EVP_PKEY **out);
/* RSA EVP_PKEY -> RFC 3110 blob (1-octet exponent length when the exponent fits). */
enum dk_status dk_rfc3110_encode(const EVP_PKEY *pk, uint8_t *out, size_t cap, size_t *len);
/* RFC 6605 §4: 64 octets X||Y on P-256 -> new EVP_PKEY. */
enum dk_status dk_ecdsa_decode(const uint8_t *p, size_t n, EVP_PKEY **out);
/* RFC 8080 §3: 32 octets -> new Ed25519 EVP_PKEY. */
enum dk_status dk_ed25519_decode(const uint8_t *p, size_t n, EVP_PKEY **out);
/* Decodes a key field by IPSECKEY algorithm (2, 3 or 4) into a new EVP_PKEY. */
enum dk_status dk_pubkey_decode(uint8_t alg, const uint8_t *p, size_t n, EVP_PKEY **out);
/* Any of our key types -> its DNS wire form and IPSECKEY algorithm number. */
enum dk_status dk_pubkey_encode(const EVP_PKEY *pk, struct dk_pubkey *out);
/* keyid of a key field: its first 9 base64 characters ("AQOF8tZ2…" style). */
void dk_keyid(const uint8_t *blob, size_t n, char out[static DK_KEYID_LEN + 1]);

/* -- domain names in wire form (RFC 1035 §3.1), no compression -- */

/* Room for a reverse name: 32 nibbles "x." + "ip6.arpa." + NUL = 74. */
#define DK_REVNAME_MAX 80
/* The reverse name of a: "4.3.2.1.in-addr.arpa." (RFC 1035 §3.5) or the reversed nibbles
 * under "ip6.arpa." (RFC 3596 §2.5); absolute, lower case. */
void dk_reverse_name(const struct oe_addr *a, char out[static DK_REVNAME_MAX]);
/* Checks an uncompressed wire name at the start of p and returns its length in *wlen. */
enum dk_status dk_name_check(const uint8_t *p, size_t n, size_t *wlen);
/* Wire name -> absolute presentation form ("gw.example."), special octets escaped. */
enum dk_status dk_name_to_text(const uint8_t *p, size_t n, char out[static DK_NAME_MAX]);
/* Presentation form (trailing dot optional, \X and \DDD escapes) -> wire name. */
enum dk_status dk_name_from_text(const char *s, uint8_t *out, size_t cap, size_t *len);

/* -- IPSECKEY rdata (RFC 4025 §2) -- */

enum dk_gw_type { DK_GW_NONE = 0, DK_GW_IPV4 = 1, DK_GW_IPV6 = 2, DK_GW_NAME = 3 };

struct dk_ipseckey {
	uint8_t precedence;
	uint8_t gw_type;             /* enum dk_gw_type */
	struct oe_addr gw_addr;      /* DK_GW_IPV4 / DK_GW_IPV6 */
	char gw_name[DK_NAME_MAX];   /* DK_GW_NAME: absolute presentation form */
	struct dk_pubkey key;        /* key.alg is the record's algorithm; len 0 for DK_ALG_NONE */
	EVP_PKEY *pkey;              /* owned: the decoded key, NULL for DK_ALG_NONE */
};

/* Decodes and validates rdata into *out (zeroed first; on error nothing needs freeing). */
enum dk_status dk_ipseckey_decode(const uint8_t *rdata, size_t n, struct dk_ipseckey *out);
/* Encodes r (pkey is not used, key.b is) into out. */
enum dk_status dk_ipseckey_encode(const struct dk_ipseckey *r, uint8_t *out, size_t cap,
				  size_t *len);
/* Appends the presentation form "10 0 2 . AQ…" (RFC 4025 §3). */
enum dk_status dk_ipseckey_format(const struct dk_ipseckey *r, struct oe_buf *out);
/* Frees r->pkey; r may be NULL. */
void dk_ipseckey_clear(struct dk_ipseckey *r);

/* -- FreeS/WAN TXT: "X-IPsec-Server(pref)=gw [key]" -- */

/* One character-string of a TXT record (RFC 1035 §3.3.14). */
struct dk_str {
	const char *p;
	size_t len;
};

struct dk_txt {
	uint16_t pref;
	bool gw_is_name;
	struct oe_addr gw_addr;      /* when !gw_is_name */
	char gw_name[DK_NAME_MAX];   /* when gw_is_name: the FQDN without '@', decoded to the
				      * absolute presentation form ("gw.example.") */
	struct dk_pubkey key;        /* RFC 3110 blob (alg DK_ALG_RSA); len 0 when absent */
	EVP_PKEY *pkey;              /* owned: decoded key or NULL when absent */
};

/* Parses the character-strings of one TXT record. Strings are rejoined as FreeS/WAN did:
 * a string shorter than 255 characters that is not the last is followed by a space.
 * DK_NOT_OURS for other TXT records. */
enum dk_status dk_txt_decode(const struct dk_str *strs, size_t nstrs, struct dk_txt *out);
/* The same from TXT rdata in wire form (length-prefixed strings). */
enum dk_status dk_txt_decode_rdata(const uint8_t *rdata, size_t n, struct dk_txt *out);
/* The record text "X-IPsec-Server(10)=gw key" as one string (appended to out). */
enum dk_status dk_txt_text(const struct dk_txt *t, struct oe_buf *out);
/* TXT rdata in wire form: the text split into character-strings of at most 255 octets. */
enum dk_status dk_txt_encode(const struct dk_txt *t, uint8_t *out, size_t cap, size_t *len);
/* Presentation form: quoted strings of at most 255 characters separated by spaces. */
enum dk_status dk_txt_format(const struct dk_txt *t, struct oe_buf *out);
void dk_txt_clear(struct dk_txt *t);

/* -- legacy KEY rdata (RFC 2535 §3.1): flags 0x4200, protocol 4, algorithm 1 -- */

#define DK_KEYRR_FLAGS 0x4200
#define DK_KEYRR_PROTO_IPSEC 4
#define DK_KEYRR_ALG_RSA 1

struct dk_keyrr {
	uint16_t flags;
	uint8_t protocol;
	uint8_t alg;
	struct dk_pubkey key;        /* RFC 3110 blob, key.alg = DK_ALG_RSA */
	EVP_PKEY *pkey;              /* owned */
};

enum dk_status dk_keyrr_decode(const uint8_t *rdata, size_t n, struct dk_keyrr *out);
/* Encodes an RSA key blob (key->alg must be DK_ALG_RSA) as KEY rdata. */
enum dk_status dk_keyrr_encode(const struct dk_pubkey *key, uint8_t *out, size_t cap,
			       size_t *len);
/* Presentation form "16896 4 1 AQ…". */
enum dk_status dk_keyrr_format(const struct dk_pubkey *key, struct oe_buf *out);
void dk_keyrr_clear(struct dk_keyrr *k);

/* -- host keys (dk_hostkey.c): system-facing, 0 / -errno -- */

#define DK_RSA_BITS_DEFAULT 3072
#define DK_RSA_BITS_MIN 2048
#define DK_RSA_BITS_MAX 8192
#define DK_HOSTKEY_DEFAULT OE_SYSCONFDIR "/ipsec.d/private/hostkey.pem"

/* Generates a key into *out (caller frees). bits only for RSA (0 = default); -EINVAL when
 * outside DK_RSA_BITS_MIN..MAX. */
int dk_hostkey_generate(enum dk_keytype type, unsigned bits, EVP_PKEY **out);
/* Writes pk as unencrypted PKCS#8 PEM, mode 0600, atomically (temp file, fsync, rename),
 * creating the directory 0700 if missing. -EEXIST if path exists and !force. */
int dk_hostkey_write(const char *path, EVP_PKEY *pk, bool force);
/* Loads a private key from a PEM file into *out. Errors and a permissions warning go to d
 * (may be NULL) as "path: why". -ENOENT, -EACCES, -EINVAL (not a private key / not ours). */
int dk_hostkey_load(const char *path, EVP_PKEY **out, struct oe_diag *d);
/* Size of the key in bits (modulus for RSA, 256 for P-256 and Ed25519). */
unsigned dk_pkey_bits(const EVP_PKEY *pk);

/* ==== end of section 1 ==================================================================== */

/* ==== Section 2: key lookup (dk_resolver.c, dk_lookup.c, dk_cache.c, dk_validate.c,
 * dk_zkey.c, dk_sigverify.c, dk_poll.c; internals in dk_lookup_int.h) ======================
 * Asynchronous and non-blocking: a struct dk_resolver owns a c-ares channel and plugs into
 * the caller's event loop (watch callback or dk_resolver_fds(), dk_resolver_process(),
 * dk_resolver_next_timeout_ms()). Queries go out with EDNS0 + DO (RFC 4035 §3.2.1); DNSSEC
 * chains are validated here with ldns from configured trust anchors, never by a resolver's
 * AD bit. Results are cached by TTL (negative ones by RFC 2308 §5) and concurrent lookups of
 * one name share one set of queries. Lookup order at a name: IPSECKEY, TXT, KEY. */

enum dk_lookup_status {
	DK_L_FOUND = 0,    /* at least one record passed parsing and policy */
	DK_L_NXDOMAIN,     /* the name does not exist */
	DK_L_NODATA,       /* no IPSECKEY, X-IPsec-Server TXT or KEY record at the name */
	DK_L_TIMEOUT,      /* no answer within timeout x tries */
	DK_L_SERVFAIL,     /* the server failed */
	DK_L_REFUSED,      /* the server refused or does not implement the query */
	DK_L_NETWORK,      /* sockets failed / no usable server */
	DK_L_MALFORMED,    /* unparsable answer or every record in it malformed: deny */
	DK_L_BOGUS,        /* DNSSEC validation failed: deny (DESIGN §5) */
	DK_L_GATEWAY,      /* insecure answer names a gateway other than the host: refused */
	DK_L_BADNAME,      /* the identity cannot be turned into a query name */
	DK_L_NOMEM,
	DK_L_CANCELLED,    /* the resolver was freed while the lookup was in flight */
	DK_L_COUNT
};
const char *dk_lookup_strerror(enum dk_lookup_status s);
/* Short name for listings ("found", "nxdomain", ...). */
const char *dk_lookup_status_name(enum dk_lookup_status s);

/* RFC 4033 §5 / RFC 4035 §4.3 validation states. */
enum dk_val { DK_VAL_INDETERMINATE = 0, DK_VAL_SECURE, DK_VAL_INSECURE, DK_VAL_BOGUS };
const char *dk_val_name(enum dk_val v);

#define DK_RR_TXT 16
#define DK_RR_KEY 25
#define DK_RR_IPSECKEY 45
/* "IPSECKEY", "TXT", "KEY" (or "TYPEn"). */
const char *dk_rrtype_name(uint16_t rrtype);

/* One usable record, normalised over the three record forms. */
struct dk_found {
	uint16_t rrtype;            /* DK_RR_IPSECKEY, DK_RR_TXT or DK_RR_KEY */
	uint16_t precedence;        /* IPSECKEY precedence, TXT (pref); 0 for KEY */
	uint8_t gw_type;            /* enum dk_gw_type (TXT: IPV4/IPV6/NAME; KEY: NONE) */
	struct oe_addr gw_addr;
	char gw_name[DK_NAME_MAX];  /* DK_GW_NAME: absolute presentation form */
	struct dk_pubkey key;       /* key.alg in IPSECKEY numbering (KEY alg 1 -> DK_ALG_RSA) */
	char keyid[DK_KEYID_LEN + 1];
	EVP_PKEY *pkey;             /* owned by the result; NULL when the record has no key */
};

struct dk_result {
	enum dk_lookup_status status;
	enum dk_val val;
	char reason[192];           /* why (validation detail, policy, server error) */
	char qname[DK_NAME_MAX];    /* the name looked up, absolute */
	uint16_t rrtype;            /* type that answered (0 when none did) */
	uint32_t ttl;               /* seconds the answer (or the negative answer) may be kept */
	bool cached;                /* delivered from the cache */
	size_t nfound;
	struct dk_found *found;     /* sorted by precedence, lowest first */
};

struct dk_lookup_conf {
	const char *nameservers;    /* "addr[:port]" list (',' or ' '), "[v6]:port"; NULL or ""
				     * = /etc/resolv.conf */
	unsigned timeout_ms;        /* first try (0 = 2000); c-ares doubles it each round, so a
				     * query to one silent server gives up after
				     * timeout_ms x (2^tries - 1); a lookup makes up to three
				     * queries in sequence plus DS/DNSKEY fetches */
	unsigned tries;             /* rounds over the servers (0 = 2) */
	unsigned lookup_timeout_ms; /* a whole lookup answers DK_L_TIMEOUT by then (0 = 10000) */
	bool dnssec;                /* dnssec-enable: validate (default true) */
	const char *rootkey_file;   /* NULL = /usr/share/dns/root.key, "" = no root anchor */
	const char *anchors_file;   /* DS / DNSKEY records of private zones; NULL = none */
	size_t cache_max;           /* entries (0 = 4096) */
	uint32_t sock_mark;         /* SO_MARK on the resolver's sockets (0 = none) */
};

/* Fills c with the defaults above. */
void dk_lookup_conf_default(struct dk_lookup_conf *c);

struct dk_resolver;

/* Told when fd must be watched for read and/or write; both false = stop watching it. */
typedef void dk_watch_fn(void *arg, int fd, bool want_read, bool want_write);
/* A lookup's result; res and everything in it is borrowed for the duration of the call
 * (EVP_PKEY_up_ref() a key to keep it). */
typedef void dk_lookup_fn(void *arg, const struct dk_result *res);

/* Creates a resolver. watch may be NULL (use dk_resolver_fds() instead). Problems with the
 * anchors or servers are reported through d ("path:line: why"). Returns 0 or -errno
 * (-EINVAL for bad configuration). */
int dk_resolver_new(struct dk_resolver **out, const struct dk_lookup_conf *c,
		    dk_watch_fn *watch, void *watch_arg, struct oe_diag *d);
/* Cancels every lookup in flight (their callbacks run with DK_L_CANCELLED); NULL is fine.
 * Not from inside one of r's callbacks. */
void dk_resolver_free(struct dk_resolver *r);

struct dk_fdwatch {
	int fd;
	bool read, write;
};
/* Copies up to max watched fds into out; returns how many there are in total. */
size_t dk_resolver_fds(const struct dk_resolver *r, struct dk_fdwatch *out, size_t max);
/* Handles readiness of fd (-1: only expire timers). Callbacks run from here. */
void dk_resolver_process(struct dk_resolver *r, int fd, bool readable, bool writable);
/* Milliseconds until dk_resolver_process(r, -1, …) must run, or -1 when nothing is pending. */
int dk_resolver_next_timeout_ms(const struct dk_resolver *r);

/* Looks up the keys of address a (reverse name, RFC 1035 §3.5 / RFC 3596 §2.5). A cached
 * result is delivered before this returns. Returns 0, or -errno when nothing was started
 * (then cb is not called). */
int dk_lookup_addr(struct dk_resolver *r, const struct oe_addr *a, dk_lookup_fn *cb,
		   void *arg);
/* The same for an @FQDN identity (leading '@' optional). */
int dk_lookup_fqdn(struct dk_resolver *r, const char *fqdn, dk_lookup_fn *cb, void *arg);

/* Withdraws every pending delivery to (cb, arg), e.g. when the flow waiting for it is freed
 * first; the lookups themselves go on and fill the cache. Returns how many were withdrawn. */
size_t dk_lookup_cancel(struct dk_resolver *r, dk_lookup_fn *cb, void *arg);

struct dk_stats {
	uint64_t queries;           /* DNS queries handed to c-ares (all types) */
	uint64_t answers;           /* raw answers received */
	uint64_t lookups;           /* dk_lookup_* calls */
	uint64_t cache_hits;
	uint64_t joined;            /* lookups that joined one already in flight */
	uint64_t validations;       /* RRSIG checks performed */
	size_t cache_entries;
};
void dk_resolver_stats(const struct dk_resolver *r, struct dk_stats *out);
/* Drops every cached answer and validated key set (e.g. on reload). */
void dk_resolver_flush(struct dk_resolver *r);

/* A minimal poll() loop over several resolvers, for tools and tests: runs until done(arg)
 * returns true or max_ms passes. Returns 0, -ETIMEDOUT or -errno. */
int dk_poll_run(struct dk_resolver *const *rs, size_t n, bool (*done)(void *arg), void *arg,
		int max_ms);

/* The answer-processing path without the network (fuzzing, tests): parses a DNS message,
 * extracts the records of qtype at qname, applies the gateway policy for validation state
 * val (self: the looked-up address, may be NULL for @FQDN) and fills *out (free with
 * dk_result_clear()). */
void dk_answer_process(const uint8_t *msg, size_t len, const char *qname, uint16_t qtype,
		       const struct oe_addr *self, enum dk_val val, struct dk_result *out);
/* Frees what a result owns (keys) and zeroes it. */
void dk_result_clear(struct dk_result *res);
/* Deep copy (keys up-ref'd). Returns 0 or -ENOMEM. */
int dk_result_copy(struct dk_result *dst, const struct dk_result *src);

/* ==== end of section 2 ==================================================================== */

#endif
