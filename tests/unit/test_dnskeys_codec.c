/* Unit tests for the dnskeys/ codecs: RFC 3110, ECDSA P-256, Ed25519, keyid, wire names,
 * IPSECKEY, X-IPsec-Server TXT and KEY rdata. Round trips for every encoder and one check
 * per reject path. */
#include <openssl/evp.h>

#include "dnskeys.h"
#include "oe_b64.h"
#include "t.h"

static EVP_PKEY *rsa2048, *ec256, *ed;

/* An RFC 3110 blob from parts: explen form (1 or 3 octets), exponent, modulus. */
static size_t blob(uint8_t *out, bool long_form, const uint8_t *e, size_t elen, size_t mlen,
		   uint8_t mtop)
{
	size_t o = 0, i;

	if (long_form) {
		out[o++] = 0;
		out[o++] = (uint8_t)(elen >> 8);
		out[o++] = (uint8_t)elen;
	} else {
		out[o++] = (uint8_t)elen;
	}
	memcpy(out + o, e, elen);
	o += elen;
	for (i = 0; i < mlen; i++)
		out[o + i] = (uint8_t)(i == 0 ? mtop : 0xa5 ^ i);
	if (mlen)
		out[o + mlen - 1] |= 1;
	return o + mlen;
}

static enum dk_status rsa_st(const uint8_t *b, size_t n)
{
	EVP_PKEY *pk = NULL;
	enum dk_status st = dk_rfc3110_decode(b, n, &pk);

	T_CHECK((st == DK_OK) == (pk != NULL));
	EVP_PKEY_free(pk);
	return st;
}

static void test_rfc3110_roundtrip(void)
{
	uint8_t b[DK_PUBKEY_MAX], b2[DK_PUBKEY_MAX];
	size_t n, n2;
	EVP_PKEY *pk = NULL;

	T_CHECK_INT(dk_rfc3110_encode(rsa2048, b, sizeof(b), &n), DK_OK);
	T_CHECK_INT(n, 1 + 3 + 256);
	T_CHECK(b[0] == 3 && b[1] == 1 && b[2] == 0 && b[3] == 1); /* 65537, 1-octet form */
	T_CHECK_INT(dk_rfc3110_decode(b, n, &pk), DK_OK);
	T_CHECK(pk && EVP_PKEY_eq(pk, rsa2048) == 1);
	T_CHECK_INT(dk_pkey_bits(pk), 2048);
	EVP_PKEY_free(pk);
	pk = NULL;
	/* The 3-octet form (0, then two octets of length) decodes to the same key. */
	b2[0] = 0;
	b2[1] = 0;
	memcpy(b2 + 2, b, n);
	T_CHECK_INT(dk_rfc3110_decode(b2, n + 2, &pk), DK_OK);
	T_CHECK(pk && EVP_PKEY_eq(pk, rsa2048) == 1);
	T_CHECK_INT(dk_rfc3110_encode(pk, b2, sizeof(b2), &n2), DK_OK);
	T_CHECK(n2 == n && memcmp(b, b2, n) == 0); /* re-encoded in the short form */
	T_CHECK_INT(dk_rfc3110_encode(pk, b2, n - 1, &n2), DK_ERR_TOO_BIG);
	T_CHECK_INT(dk_rfc3110_encode(ec256, b2, sizeof(b2), &n2), DK_ERR_KEY_TYPE);
	EVP_PKEY_free(pk);
}

static void test_rfc3110_rejects(void)
{
	static const uint8_t e3[] = { 3 }, e65537[] = { 1, 0, 1 }, e0[] = { 0, 1, 1 },
			     eeven[] = { 1, 0, 0 }, e1[] = { 1 };
	uint8_t e65[65], b[3000];

	memset(e65, 0x11, sizeof(e65));
	T_CHECK_INT(rsa_st(b, blob(b, false, e65537, 3, 128, 0xc1)), DK_OK);
	T_CHECK_INT(rsa_st(b, blob(b, true, e3, 1, 2048, 0xc1)), DK_OK);
	T_CHECK_INT(rsa_st(b, 0), DK_ERR_TRUNCATED);
	T_CHECK_INT(rsa_st(b, blob(b, true, e3, 1, 0, 0) - 2), DK_ERR_TRUNCATED);
	b[0] = 0; b[1] = 0; b[2] = 0;
	T_CHECK_INT(rsa_st(b, 3 + 128), DK_ERR_RSA_EXP_EMPTY);
	b[0] = 200; /* exponent length past the end */
	T_CHECK_INT(rsa_st(b, 100), DK_ERR_RSA_EXPLEN);
	T_CHECK_INT(rsa_st(b, blob(b, false, e65537, 3, 0, 0)), DK_ERR_RSA_MOD_EMPTY);
	T_CHECK_INT(rsa_st(b, blob(b, false, e0, 3, 128, 0xc1)), DK_ERR_RSA_EXP_ZERO);
	T_CHECK_INT(rsa_st(b, blob(b, false, e65537, 3, 129, 0x00)), DK_ERR_RSA_MOD_ZERO);
	T_CHECK_INT(rsa_st(b, blob(b, false, e65537, 3, 127, 0xc1)), DK_ERR_RSA_MOD_SIZE);
	T_CHECK_INT(rsa_st(b, blob(b, false, e65537, 3, 128, 0x01)), DK_ERR_RSA_MOD_SIZE);
	T_CHECK_INT(rsa_st(b, blob(b, false, e65537, 3, 2049, 0xc1)), DK_ERR_RSA_MOD_SIZE);
	T_CHECK_INT(rsa_st(b, blob(b, false, e65, 65, 256, 0xc1)), DK_ERR_RSA_EXP_SIZE);
	T_CHECK_INT(rsa_st(b, blob(b, false, eeven, 3, 128, 0xc1)), DK_ERR_RSA_EXP_EVEN);
	T_CHECK_INT(rsa_st(b, blob(b, false, e1, 1, 128, 0xc1)), DK_ERR_RSA_EXP_SMALL);
}

static void test_ec_ed(void)
{
	struct dk_pubkey k;
	EVP_PKEY *pk = NULL;
	uint8_t bad[64] = { 0 };

	T_CHECK_INT(dk_pubkey_encode(ec256, &k), DK_OK);
	T_CHECK(k.alg == DK_ALG_ECDSA && k.len == 64);
	T_CHECK_INT(dk_pubkey_decode(k.alg, k.b, k.len, &pk), DK_OK);
	T_CHECK(pk && EVP_PKEY_eq(pk, ec256) == 1);
	T_CHECK_INT(dk_pkey_type(pk), DK_KT_ECDSA_P256);
	EVP_PKEY_free(pk);
	T_CHECK_INT(dk_ecdsa_decode(k.b, 63, &pk), DK_ERR_EC_LEN);
	T_CHECK_INT(dk_ecdsa_decode(k.b, 65, &pk), DK_ERR_EC_LEN);
	bad[31] = 1;
	bad[63] = 1; /* (1, 1) is not on P-256 */
	T_CHECK_INT(dk_ecdsa_decode(bad, 64, &pk), DK_ERR_EC_POINT);
	T_CHECK(pk == NULL);

	T_CHECK_INT(dk_pubkey_encode(ed, &k), DK_OK);
	T_CHECK(k.alg == DK_ALG_EDDSA && k.len == 32);
	T_CHECK_INT(dk_pubkey_decode(k.alg, k.b, k.len, &pk), DK_OK);
	T_CHECK(pk && EVP_PKEY_eq(pk, ed) == 1);
	T_CHECK_INT(dk_pkey_type(pk), DK_KT_ED25519);
	EVP_PKEY_free(pk);
	T_CHECK_INT(dk_ed25519_decode(k.b, 31, &pk), DK_ERR_ED_LEN);
	T_CHECK_INT(dk_pubkey_decode(DK_ALG_DSA, k.b, 32, &pk), DK_ERR_ALG_DSA);
	T_CHECK_INT(dk_pubkey_decode(7, k.b, 32, &pk), DK_ERR_ALG_UNKNOWN);
	T_CHECK(pk == NULL);
}

static void test_keyid_strerror(void)
{
	static const uint8_t b[] = { 0x01, 0x03, 0x85, 0xf2, 0xd6, 0x76, 0x11, 0x22 };
	char id[DK_KEYID_LEN + 1];
	int i;

	dk_keyid(b, sizeof(b), id);
	T_CHECK_STR(id, "AQOF8tZ2E");
	dk_keyid(b, 2, id);
	T_CHECK_STR(id, "AQM=");
	for (i = 0; i < DK_STATUS_COUNT; i++)
		T_CHECK(strcmp(dk_strerror(i), "unknown dnskeys status") != 0);
	T_CHECK_STR(dk_strerror(DK_STATUS_COUNT), "unknown dnskeys status");
}

static void test_names(void)
{
	static const uint8_t w[] = { 2, 'g', 'w', 4, 'a', '.', 'b', 0x01, 0 };
	static const uint8_t ptr[] = { 2, 'g', 'w', 0xc0, 0x0c };
	uint8_t big[300], out[255];
	char txt[DK_NAME_MAX];
	size_t n, i;

	T_CHECK_INT(dk_name_to_text(w, sizeof(w), txt), DK_OK);
	T_CHECK_STR(txt, "gw.a\\.b\\001.");
	T_CHECK_INT(dk_name_from_text(txt, out, sizeof(out), &n), DK_OK);
	T_CHECK(n == sizeof(w) && memcmp(out, w, n) == 0);
	T_CHECK_INT(dk_name_from_text("gw.example", out, sizeof(out), &n), DK_OK);
	T_CHECK_INT(n, 12);
	T_CHECK_INT(dk_name_from_text(".", out, sizeof(out), &n), DK_OK);
	T_CHECK_INT(n, 1);
	T_CHECK_INT(dk_name_from_text("a..b", out, sizeof(out), &n), DK_ERR_NAME_SYNTAX);
	T_CHECK_INT(dk_name_from_text("a b", out, sizeof(out), &n), DK_ERR_NAME_SYNTAX);
	T_CHECK_INT(dk_name_from_text("a\\9", out, sizeof(out), &n), DK_ERR_NAME_SYNTAX);
	T_CHECK_INT(dk_name_from_text("a\\999", out, sizeof(out), &n), DK_ERR_NAME_SYNTAX);
	memset(txt, 'a', 64);
	txt[64] = '\0';
	T_CHECK_INT(dk_name_from_text(txt, out, sizeof(out), &n), DK_ERR_NAME_LABEL);
	for (i = 0; i < 300; i++)
		txt[i] = i % 10 == 9 ? '.' : 'a';
	txt[300] = '\0';
	T_CHECK_INT(dk_name_from_text(txt, out, sizeof(out), &n), DK_ERR_NAME_LONG);
	T_CHECK_INT(dk_name_check(ptr, sizeof(ptr), &n), DK_ERR_NAME_LABEL);
	T_CHECK_INT(dk_name_check(w, sizeof(w) - 1, &n), DK_ERR_TRUNCATED);
	for (i = 0; i + 10 < sizeof(big); i += 10)
		big[i] = 9; /* labels of 9 octets, never terminated within 255 */
	T_CHECK_INT(dk_name_check(big, sizeof(big), &n), DK_ERR_NAME_LONG);
}

/* Encodes r, decodes it again and compares the presentation forms. */
static void ipseckey_roundtrip(struct dk_ipseckey *r, const char *want_prefix)
{
	uint8_t wire[3000];
	size_t n;
	struct dk_ipseckey d;
	struct oe_buf a, b;

	oe_buf_init(&a);
	oe_buf_init(&b);
	T_CHECK_INT(dk_ipseckey_encode(r, wire, sizeof(wire), &n), DK_OK);
	T_CHECK_INT(dk_ipseckey_decode(wire, n, &d), DK_OK);
	T_CHECK(r->key.alg == DK_ALG_NONE ? d.pkey == NULL : d.pkey != NULL);
	T_CHECK_INT(dk_ipseckey_format(r, &a), DK_OK);
	T_CHECK_INT(dk_ipseckey_format(&d, &b), DK_OK);
	T_CHECK_STR(b.p, a.p);
	if (strncmp(a.p, want_prefix, strlen(want_prefix)) != 0)
		T_CHECK_STR(a.p, want_prefix);
	T_CHECK_INT(dk_ipseckey_encode(r, wire, n - 1, &n), DK_ERR_TOO_BIG);
	dk_ipseckey_clear(&d);
	oe_buf_free(&a);
	oe_buf_free(&b);
}

/* RFC 1035 §3.5 / RFC 3596 §2.5 reverse names, as both the lookup and showhostkey use them. */
static void test_reverse_name(void)
{
	char n[DK_REVNAME_MAX];
	struct oe_addr a;

	T_CHECK(oe_addr_parse(&a, "192.0.2.38", 10));
	dk_reverse_name(&a, n);
	T_CHECK_STR(n, "38.2.0.192.in-addr.arpa.");
	T_CHECK(oe_addr_parse(&a, "2001:db8::1", 11));
	dk_reverse_name(&a, n);
	T_CHECK_STR(n, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
	T_CHECK(oe_addr_parse(&a, "2001:db8:ffff:ffff:ffff:ffff:ffff:abcd", 38));
	dk_reverse_name(&a, n);
	T_CHECK_INT(strlen(n), 73);
	T_CHECK_STR(n + 64, "ip6.arpa.");
	T_CHECK(strncmp(n, "d.c.b.a.f.f.f.f.", 16) == 0);
}

static void test_ipseckey_roundtrip(void)
{
	struct dk_ipseckey r;

	memset(&r, 0, sizeof(r));
	r.precedence = 10;
	T_CHECK_INT(dk_pubkey_encode(rsa2048, &r.key), DK_OK);
	ipseckey_roundtrip(&r, "10 0 2 . AwEAA");
	r.gw_type = DK_GW_IPV4;
	oe_addr_parse(&r.gw_addr, "192.0.2.38", 10);
	T_CHECK_INT(dk_pubkey_encode(ec256, &r.key), DK_OK);
	ipseckey_roundtrip(&r, "10 1 3 192.0.2.38 ");
	r.gw_type = DK_GW_IPV6;
	oe_addr_parse(&r.gw_addr, "2001:db8::1", 11);
	T_CHECK_INT(dk_pubkey_encode(ed, &r.key), DK_OK);
	ipseckey_roundtrip(&r, "10 2 4 2001:db8::1 ");
	r.gw_type = DK_GW_NAME;
	r.precedence = 255;
	strcpy(r.gw_name, "gw.example");
	ipseckey_roundtrip(&r, "255 3 4 gw.example. ");
	memset(&r.key, 0, sizeof(r.key));
	ipseckey_roundtrip(&r, "255 3 0 gw.example.");
}

static enum dk_status ik_st(const uint8_t *w, size_t n)
{
	struct dk_ipseckey d;
	enum dk_status st = dk_ipseckey_decode(w, n, &d);

	T_CHECK(st == DK_OK || d.pkey == NULL);
	dk_ipseckey_clear(&d);
	return st;
}

static void test_ipseckey_rejects(void)
{
	uint8_t w[400];
	struct dk_pubkey k;
	struct dk_ipseckey r;
	size_t n;

	dk_pubkey_encode(ed, &k);
	memcpy(w, (uint8_t[]){ 10, 0, 4 }, 3);
	memcpy(w + 3, k.b, 32);
	T_CHECK_INT(ik_st(w, 35), DK_OK);
	T_CHECK_INT(ik_st(w, 2), DK_ERR_TRUNCATED);
	T_CHECK_INT(ik_st(w, 34), DK_ERR_ED_LEN);
	T_CHECK_INT(ik_st(w, 3), DK_ERR_KEY_EMPTY);
	w[1] = 4;
	T_CHECK_INT(ik_st(w, 35), DK_ERR_GW_TYPE);
	w[1] = 1;
	T_CHECK_INT(ik_st(w, 6), DK_ERR_TRUNCATED);
	memset(w + 3, 0, 4);
	T_CHECK_INT(ik_st(w, 7), DK_ERR_GW_ADDR);
	w[1] = 2;
	T_CHECK_INT(ik_st(w, 18), DK_ERR_TRUNCATED);
	memset(w + 3, 0, 16);
	T_CHECK_INT(ik_st(w, 19), DK_ERR_GW_ADDR);
	w[1] = 3;
	memcpy(w + 3, (uint8_t[]){ 2, 'g', 'w', 0xc0, 0x0c }, 5);
	T_CHECK_INT(ik_st(w, 8), DK_ERR_NAME_LABEL);
	memcpy(w + 3, (uint8_t[]){ 64 }, 1);
	T_CHECK_INT(ik_st(w, 100), DK_ERR_NAME_LABEL);
	memcpy(w + 3, (uint8_t[]){ 2, 'g', 'w' }, 3);
	T_CHECK_INT(ik_st(w, 6), DK_ERR_TRUNCATED);
	w[3] = 0;
	T_CHECK_INT(ik_st(w, 4), DK_ERR_NAME_ROOT);
	memset(w + 3, 63, 300); /* 63-octet labels beyond 255 octets */
	T_CHECK_INT(ik_st(w, 303), DK_ERR_NAME_LONG);
	memcpy(w, (uint8_t[]){ 10, 0, 1, 1, 2, 3 }, 6);
	T_CHECK_INT(ik_st(w, 6), DK_ERR_ALG_DSA);
	w[2] = 9;
	T_CHECK_INT(ik_st(w, 6), DK_ERR_ALG_UNKNOWN);
	w[2] = 0;
	T_CHECK_INT(ik_st(w, 3), DK_OK);
	T_CHECK_INT(ik_st(w, 6), DK_ERR_NOKEY_DATA);
	w[2] = 2;
	T_CHECK_INT(ik_st(w, 6), DK_ERR_RSA_MOD_SIZE);
	w[3] = 5;
	T_CHECK_INT(ik_st(w, 6), DK_ERR_RSA_EXPLEN);
	/* Encoder rejects. */
	memset(&r, 0, sizeof(r));
	r.gw_type = 7;
	T_CHECK_INT(dk_ipseckey_encode(&r, w, sizeof(w), &n), DK_ERR_GW_TYPE);
	r.gw_type = DK_GW_IPV4;
	T_CHECK_INT(dk_ipseckey_encode(&r, w, sizeof(w), &n), DK_ERR_GW_ADDR);
	r.gw_type = DK_GW_NAME;
	strcpy(r.gw_name, ".");
	T_CHECK_INT(dk_ipseckey_encode(&r, w, sizeof(w), &n), DK_ERR_NAME_ROOT);
	r.gw_type = DK_GW_NONE;
	r.key.alg = DK_ALG_RSA;
	T_CHECK_INT(dk_ipseckey_encode(&r, w, sizeof(w), &n), DK_ERR_KEY_EMPTY);
	r.key.alg = DK_ALG_NONE;
	r.key.len = 3;
	T_CHECK_INT(dk_ipseckey_encode(&r, w, sizeof(w), &n), DK_ERR_NOKEY_DATA);
}

static enum dk_status txt1(const char *s, struct dk_txt *t)
{
	struct dk_str str = { s, strlen(s) };

	return dk_txt_decode(&str, 1, t);
}

static void test_txt_parse(void)
{
	struct dk_pubkey k;
	struct dk_txt t;
	struct oe_buf b;
	char addr[OE_ADDRSTRLEN], rec[3000];
	struct dk_str parts[3];

	oe_buf_init(&b);
	dk_pubkey_encode(rsa2048, &k);
	{
		char b64[OE_B64_LEN(DK_PUBKEY_MAX) + 1];

		oe_b64_encode(k.b, k.len, b64);
		/* whitespace inside the key and around the tokens */
		snprintf(rec, sizeof(rec), "  x-ipsec-SERVER ( 10 ) = 192.0.2.11   %.40s %s ",
			 b64, b64 + 40);
	}
	T_CHECK_INT(txt1(rec, &t), DK_OK);
	T_CHECK_INT(t.pref, 10);
	T_CHECK(!t.gw_is_name);
	T_CHECK_STR(oe_addr_str(&t.gw_addr, addr), "192.0.2.11");
	T_CHECK(t.pkey && EVP_PKEY_eq(t.pkey, rsa2048) == 1);
	T_CHECK(t.key.len == k.len && memcmp(t.key.b, k.b, k.len) == 0);
	dk_txt_clear(&t);
	T_CHECK_INT(txt1("X-IPsec-Server(65535)=2001:db8::2", &t), DK_OK);
	T_CHECK(t.pref == 65535 && t.gw_addr.af == AF_INET6 && t.pkey == NULL && t.key.len == 0);
	T_CHECK_INT(txt1("X-IPsec-Server(0)=@gw.example.", &t), DK_OK);
	T_CHECK(t.gw_is_name);
	T_CHECK_STR(t.gw_name, "gw.example.");
	T_CHECK_INT(txt1("X-IPsec-Server(0)=@GW.ex\\065mple", &t), DK_OK);
	T_CHECK_STR(t.gw_name, "GW.exAmple.");
	/* Strings shorter than 255 are rejoined with a space (FreeS/WAN). */
	parts[0] = (struct dk_str){ "X-IPsec-Server(10)=192.0.2.2", 28 };
	parts[1] = (struct dk_str){ rec + 39, strlen(rec + 39) };
	T_CHECK_INT(dk_txt_decode(parts, 2, &t), DK_OK);
	T_CHECK(t.pkey != NULL);
	dk_txt_clear(&t);
	T_CHECK_INT(txt1("v=spf1 -all", &t), DK_NOT_OURS);
	T_CHECK_INT(txt1("X-IPsec-Serve", &t), DK_NOT_OURS);
	T_CHECK_INT(txt1("", &t), DK_NOT_OURS);
	oe_buf_free(&b);
}

static void test_txt_rejects(void)
{
	static const struct {
		const char *s;
		enum dk_status st;
	} bad[] = {
		{ "X-IPsec-Server 10)=192.0.2.1", DK_ERR_TXT_SYNTAX },
		{ "X-IPsec-Server(10=192.0.2.1", DK_ERR_TXT_SYNTAX },
		{ "X-IPsec-Server(10)192.0.2.1", DK_ERR_TXT_SYNTAX },
		{ "X-IPsec-Server(10)", DK_ERR_TXT_SYNTAX },
		{ "X-IPsec-Server()=192.0.2.1", DK_ERR_TXT_PREF },
		{ "X-IPsec-Server(65536)=192.0.2.1", DK_ERR_TXT_PREF },
		{ "X-IPsec-Server(99999999999999999999)=192.0.2.1", DK_ERR_TXT_PREF },
		{ "X-IPsec-Server(0x10)=192.0.2.1", DK_ERR_TXT_SYNTAX },
		{ "X-IPsec-Server(-1)=192.0.2.1", DK_ERR_TXT_PREF },
		{ "X-IPsec-Server(10)=", DK_ERR_TXT_GW },
		{ "X-IPsec-Server(10)=192.0.2", DK_ERR_TXT_GW },
		{ "X-IPsec-Server(10)=@", DK_ERR_TXT_GW },
		{ "X-IPsec-Server(10)=@a..b", DK_ERR_TXT_GW },
		{ "X-IPsec-Server(10)=0.0.0.0", DK_ERR_GW_ADDR },
		{ "X-IPsec-Server(10)=::", DK_ERR_GW_ADDR },
		{ "X-IPsec-Server(10)=192.0.2.1 AQ!=", DK_ERR_BASE64 },
		{ "X-IPsec-Server(10)=192.0.2.1 AQM", DK_ERR_BASE64 },
		{ "X-IPsec-Server(10)=192.0.2.1 AQM=", DK_ERR_RSA_MOD_EMPTY },
	};
	struct dk_txt t;
	struct dk_str s = { "X-IPsec-Server(1)=192.0.2.1\0AQ", 30 };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum dk_status st = txt1(bad[i].s, &t);

		if (st != bad[i].st)
			printf("#   '%s': %s\n", bad[i].s, dk_strerror(st));
		T_CHECK_INT(st, bad[i].st);
		T_CHECK(t.pkey == NULL);
	}
	T_CHECK_INT(dk_txt_decode(&s, 1, &t), DK_ERR_TXT_NUL);
	T_CHECK_INT(dk_txt_decode_rdata((const uint8_t *)"\x05" "abc", 4, &t), DK_ERR_TRUNCATED);
	T_CHECK_INT(dk_txt_decode_rdata(NULL, 0, &t), DK_ERR_TRUNCATED);
}

/* A 4096-bit-sized key needs several 255-octet strings. */
static void test_txt_roundtrip(void)
{
	static const uint8_t e[] = { 1, 0, 1 };
	uint8_t b[1000], wire[2000];
	size_t n, i, strs = 0;
	struct dk_txt t, d;
	struct oe_buf f;
	EVP_PKEY *pk = NULL;

	memset(&t, 0, sizeof(t));
	t.pref = 10;
	oe_addr_parse(&t.gw_addr, "198.51.100.7", 12);
	n = blob(b, false, e, 3, 512, 0xc3);
	T_CHECK_INT(dk_rfc3110_decode(b, n, &pk), DK_OK);
	EVP_PKEY_free(pk);
	t.key.alg = DK_ALG_RSA;
	t.key.len = (uint16_t)n;
	memcpy(t.key.b, b, n);
	T_CHECK_INT(dk_txt_encode(&t, wire, sizeof(wire), &n), DK_OK);
	for (i = 0; i < n; i += 1 + wire[i], strs++)
		T_CHECK(i + 1 + wire[i] == n || wire[i] == 255);
	T_CHECK_INT(strs, 3);
	T_CHECK_INT(dk_txt_decode_rdata(wire, n, &d), DK_OK);
	T_CHECK(d.pref == 10 && oe_addr_eq(&d.gw_addr, &t.gw_addr) && d.pkey != NULL);
	T_CHECK(d.key.len == t.key.len && memcmp(d.key.b, t.key.b, d.key.len) == 0);
	dk_txt_clear(&d);
	T_CHECK_INT(dk_txt_encode(&t, wire, 100, &n), DK_ERR_TOO_BIG);
	oe_buf_init(&f);
	T_CHECK_INT(dk_txt_format(&t, &f), DK_OK);
	T_CHECK(strncmp(f.p, "\"X-IPsec-Server(10)=198.51.100.7 AwEAAcO", 40) == 0);
	T_CHECK(f.p[256] == '"' && f.p[257] == ' ' && f.p[258] == '"');
	oe_buf_reset(&f);
	t.gw_is_name = true;
	strcpy(t.gw_name, "gw.example.");
	t.key.len = 0;
	T_CHECK_INT(dk_txt_format(&t, &f), DK_OK);
	T_CHECK_STR(f.p, "\"X-IPsec-Server(10)=@gw.example\"");
	oe_buf_reset(&f);
	strcpy(t.gw_name, "a\\.\\\\.");
	T_CHECK_INT(dk_txt_format(&t, &f), DK_OK);
	T_CHECK_STR(f.p, "\"X-IPsec-Server(10)=@a\\\\.\\\\\\\\\"");
	oe_buf_reset(&f);
	strcpy(t.gw_name, "a\\.");
	T_CHECK_INT(dk_txt_format(&t, &f), DK_OK);
	T_CHECK_STR(f.p, "\"X-IPsec-Server(10)=@a\\\\.\"");
	dk_pubkey_encode(ed, &t.key);
	T_CHECK_INT(dk_txt_format(&t, &f), DK_ERR_KEY_TYPE);
	oe_buf_free(&f);
}

static enum dk_status kr_st(const uint8_t *w, size_t n)
{
	struct dk_keyrr k;
	enum dk_status st = dk_keyrr_decode(w, n, &k);

	T_CHECK(st == DK_OK || k.pkey == NULL);
	dk_keyrr_clear(&k);
	return st;
}

static void test_keyrr(void)
{
	uint8_t w[DK_PUBKEY_MAX + 4];
	size_t n;
	struct dk_pubkey k;
	struct dk_keyrr d;
	struct oe_buf f;

	oe_buf_init(&f);
	dk_pubkey_encode(rsa2048, &k);
	T_CHECK_INT(dk_keyrr_encode(&k, w, sizeof(w), &n), DK_OK);
	T_CHECK(n == 4 + (size_t)k.len && w[0] == 0x42 && w[1] == 0 && w[2] == 4 && w[3] == 1);
	T_CHECK_INT(dk_keyrr_decode(w, n, &d), DK_OK);
	T_CHECK(d.pkey && EVP_PKEY_eq(d.pkey, rsa2048) == 1);
	dk_keyrr_clear(&d);
	T_CHECK_INT(dk_keyrr_format(&k, &f), DK_OK);
	T_CHECK(strncmp(f.p, "16896 4 1 AwEAA", 15) == 0);
	T_CHECK_INT(kr_st(w, 3), DK_ERR_TRUNCATED);
	T_CHECK_INT(kr_st(w, 4), DK_ERR_KEY_EMPTY);
	w[0] = 0xc2;
	T_CHECK_INT(kr_st(w, n), DK_ERR_KEY_NOAUTH);
	w[0] = 0x41;
	T_CHECK_INT(kr_st(w, n), DK_ERR_KEY_FLAGS);
	w[0] = 0x42;
	w[1] = 0x01;
	T_CHECK_INT(kr_st(w, n), DK_ERR_KEY_FLAGS);
	w[1] = 0;
	w[2] = 3;
	T_CHECK_INT(kr_st(w, n), DK_ERR_KEY_PROTO);
	w[2] = 4;
	w[3] = 5;
	T_CHECK_INT(kr_st(w, n), DK_ERR_KEY_ALG);
	w[3] = 1;
	T_CHECK_INT(kr_st(w, n - 200), DK_ERR_RSA_MOD_SIZE);
	T_CHECK_INT(dk_keyrr_encode(&k, w, n - 1, &n), DK_ERR_TOO_BIG);
	dk_pubkey_encode(ec256, &k);
	T_CHECK_INT(dk_keyrr_encode(&k, w, sizeof(w), &n), DK_ERR_KEY_TYPE);
	T_CHECK_INT(dk_keyrr_format(&k, &f), DK_ERR_KEY_TYPE);
	oe_buf_free(&f);
}

int main(void)
{
	rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!rsa2048 || !ec256 || !ed)
		return 2;
	T_RUN(test_rfc3110_roundtrip);
	T_RUN(test_rfc3110_rejects);
	T_RUN(test_ec_ed);
	T_RUN(test_keyid_strerror);
	T_RUN(test_names);
	T_RUN(test_reverse_name);
	T_RUN(test_ipseckey_roundtrip);
	T_RUN(test_ipseckey_rejects);
	T_RUN(test_txt_parse);
	T_RUN(test_txt_rejects);
	T_RUN(test_txt_roundtrip);
	T_RUN(test_keyrr);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(ec256);
	EVP_PKEY_free(ed);
	return t_done();
}
