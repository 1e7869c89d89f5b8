/* The userspace ESP transform (kernel/kern_esp*.c): known answers from draft-mcgrew-gcm-test-01
 * (the ESP packets of its AES-128 ESN and AES-256 cases), round trips over mode x family x
 * encapsulation x key size x ESN, the anti-replay window (RFC 4303 §3.4.3, Appendix A), tamper,
 * padding, truncation, sequence overflow, selectors, the ICMP too-big builders and the
 * fragmenter (reassembled and compared). */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "kern_esp_int.h"
#include "t.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (s[0] && s[1] && n < cap) {
		unsigned v;

		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static struct oe_addr addr(const char *s)
{
	struct oe_addr a;

	if (!oe_addr_parse(&a, s, strlen(s)))
		abort();
	return a;
}

/* A Child SA seen from one side; mirror() gives the peer's view with the same keys. */
static struct kern_child_sa child(int af, enum kern_mode mode, enum kern_encap encap,
				  unsigned key_len, bool esn)
{
	struct kern_child_sa sa;

	memset(&sa, 0, sizeof(sa));
	sa.spi_in = 0xc0de0001;
	sa.spi_out = 0xc0de0002;
	sa.encr = KERN_ESP_AES_GCM_16;
	sa.key_len = (uint16_t)key_len;
	for (unsigned i = 0; i < KERN_ESP_KEY_MAX; i++) {
		sa.key_in[i] = (uint8_t)(i * 7 + 1);
		sa.key_out[i] = (uint8_t)(i * 13 + 5);
	}
	memcpy(sa.salt_in, "\x01\x02\x03\x04", 4);
	memcpy(sa.salt_out, "\x0a\x0b\x0c\x0d", 4);
	sa.esn = esn;
	sa.mode = mode;
	sa.encap = encap;
	sa.local = addr(af == AF_INET ? "192.0.2.1" : "2001:db8::1");
	sa.remote = addr(af == AF_INET ? "198.51.100.2" : "2001:db8:1::2");
	sa.sel.src = oe_prefix_host(&sa.local);
	sa.sel.dst = oe_prefix_host(&sa.remote);
	return sa;
}

static struct kern_child_sa mirror(const struct kern_child_sa *a)
{
	struct kern_child_sa b = *a;

	b.spi_in = a->spi_out;
	b.spi_out = a->spi_in;
	memcpy(b.key_in, a->key_out, sizeof(b.key_in));
	memcpy(b.key_out, a->key_in, sizeof(b.key_out));
	memcpy(b.salt_in, a->salt_out, 4);
	memcpy(b.salt_out, a->salt_in, 4);
	b.local = a->remote;
	b.remote = a->local;
	b.sel.src = a->sel.dst;
	b.sel.dst = a->sel.src;
	return b;
}

/* A UDP packet src -> dst with plen payload bytes and a valid IPv4 header checksum. */
static size_t inner_udp(const struct oe_addr *src, const struct oe_addr *dst, size_t plen, bool df,
			uint8_t *p)
{
	size_t hl = src->af == AF_INET ? 20 : 40, n = hl + 8 + plen;

	memset(p, 0, hl);
	if (src->af == AF_INET) {
		p[0] = 0x45;
		p[1] = 0x28; /* DSCP AF11 */
		esp_put16(p + 2, (uint16_t)n);
		esp_put16(p + 4, 0x1234);
		p[6] = df ? 0x40 : 0;
		p[8] = 63;
		p[9] = IPPROTO_UDP;
		memcpy(p + 12, src->b, 4);
		memcpy(p + 16, dst->b, 4);
		esp_put16(p + 10, esp_sum_fold(esp_sum_add(0, p, 20)));
	} else {
		p[0] = 0x60;
		esp_put16(p + 4, (uint16_t)(8 + plen));
		p[6] = IPPROTO_UDP;
		p[7] = 63;
		memcpy(p + 8, src->b, 16);
		memcpy(p + 24, dst->b, 16);
	}
	esp_put16(p + hl, 40000);
	esp_put16(p + hl + 2, 7);
	esp_put16(p + hl + 4, (uint16_t)(8 + plen));
	for (size_t i = 0; i < plen; i++)
		p[hl + 8 + i] = (uint8_t)(i * 31 + 3);
	return n;
}

/* ---- known answers ------------------------------------------------------------------------ */
struct kat {
	const char *key, *salt, *iv, *plain, *cipher;
	uint32_t spi;
	uint64_t seq;
	bool esn;
};

/* draft-mcgrew-gcm-test-01 §4 (as also carried by ell's and mlspp's test suites): the
 * plaintext ends with the ESP trailer (pad 01 02, pad length 02, next header 01); the
 * ciphertext is followed by the 16-octet ICV. The first case uses a 64-bit sequence number
 * (AAD = SPI, 0x87654321, 0x00000000), the second a 32-bit one. */
static const struct kat kats[] = {
    {"4c80cdefbb5d10da906ac73c3613a634", "2e443b68", "4956ed7e3b244cfe",
     "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
     "00000000045f736970045f756470037369700963796265726369747902646b00"
     "0021000101020201",
     "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34"
     "cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce"
     "61bc17d768fd9732459018148f6cbe722fd04796562dfdb4",
     0x00004321, 0x8765432100000000ull, true},
    {"abbccddef00112233445566778899aababbccddef00112233445566778899aab", "11223344",
     "0102030405060708",
     "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
     "7002400020bf0000020405b40101040201020201",
     "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763"
     "748a637985771d347f0545659f14e99def842d8eb335f4eecfdbf831824b4c49"
     "15956c96",
     0x4a2cbfe3, 2, false},
};

static void test_kat(void)
{
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		const struct kat *k = &kats[i];
		struct kern_child_sa sa =
		    child(AF_INET, KERN_MODE_TRANSPORT, KERN_ENCAP_NONE, 16, k->esn);
		struct kern_esp_sa *e;
		uint8_t iv[8], plain[128], want[256], out[256], back[256], nh = 0;
		size_t pn, cn, n, pt_len = 0;

		sa.key_len = (uint16_t)unhex(k->key, sa.key_out, sizeof(sa.key_out));
		memcpy(sa.key_in, sa.key_out, sizeof(sa.key_in));
		unhex(k->salt, sa.salt_out, 4);
		memcpy(sa.salt_in, sa.salt_out, 4);
		sa.spi_in = sa.spi_out = k->spi;
		unhex(k->iv, iv, 8);
		pn = unhex(k->plain, plain, sizeof(plain));
		esp_put32(want, k->spi);
		esp_put32(want + 4, (uint32_t)k->seq);
		memcpy(want + 8, iv, 8);
		cn = 16 + unhex(k->cipher, want + 16, sizeof(want) - 16);
		T_CHECK_INT(kern_esp_sa_new(&sa, &e), 0);
		if (!e)
			continue;
		/* the payload without the trailer esp_seal adds itself */
		n = esp_seal(e, k->seq, iv, plain, pn - 4, plain[pn - 1], out, sizeof(out));
		T_CHECK_INT(n, cn);
		T_CHECK(memcmp(out, want, cn) == 0);
		T_CHECK_INT(esp_open(e, k->seq, want, cn, back, sizeof(back), &pt_len, &nh),
			    KERN_ESP_OK);
		T_CHECK_INT(pt_len, pn - 4);
		T_CHECK_INT(nh, 1);
		T_CHECK(memcmp(back, plain, pn - 4) == 0);
		want[cn - 1] ^= 1;
		T_CHECK_INT(esp_open(e, k->seq, want, cn, back, sizeof(back), &pt_len, &nh),
			    KERN_ESP_ICV);
		kern_esp_sa_free(e);
	}
}

/* The first vector through the whole inbound path: an outer IPv4 packet carrying it in
 * transport mode, the receiver's window just below the vector's 64-bit sequence number. */
static void test_kat_inbound(void)
{
	const struct kat *k = &kats[0];
	struct kern_child_sa sa = child(AF_INET, KERN_MODE_TRANSPORT, KERN_ENCAP_NONE, 16, true);
	struct kern_esp_sa *e;
	uint8_t pkt[256], out[256], plain[128];
	size_t n, pn, len = 0;

	unhex(k->key, sa.key_in, 16);
	unhex(k->salt, sa.salt_in, 4);
	sa.spi_in = k->spi;
	sa.sel.src = oe_prefix_any(AF_INET);
	sa.sel.dst = oe_prefix_any(AF_INET);
	if (kern_esp_sa_new(&sa, &e))
		abort();
	e->rw.top = k->seq - 1;
	memset(pkt, 0, 20);
	pkt[0] = 0x45;
	pkt[8] = 64;
	pkt[9] = IPPROTO_ESP;
	memcpy(pkt + 12, sa.remote.b, 4);
	memcpy(pkt + 16, sa.local.b, 4);
	esp_put32(pkt + 20, k->spi);
	esp_put32(pkt + 24, (uint32_t)k->seq);
	unhex(k->iv, pkt + 28, 8);
	n = 36 + unhex(k->cipher, pkt + 36, sizeof(pkt) - 36);
	esp_put16(pkt + 2, (uint16_t)n);
	T_CHECK_INT(kern_esp_decrypt(e, pkt, n, out, sizeof(out), &len), KERN_ESP_OK);
	pn = unhex(k->plain, plain, sizeof(plain));
	T_CHECK_INT(len, 20 + pn - 4);
	T_CHECK_INT(out[9], 1);
	T_CHECK(memcmp(out + 20, plain, pn - 4) == 0);
	T_CHECK_INT(esp_sum_fold(esp_sum_add(0, out, 20)), 0);
	T_CHECK_INT(kern_esp_decrypt(e, pkt, n, out, sizeof(out), &len), KERN_ESP_REPLAY);
	kern_esp_sa_free(e);
}

/* ---- round trips -------------------------------------------------------------------------- */
struct pair {
	struct kern_child_sa a, b;
	struct kern_esp_sa *ea, *eb;
};

static void pair_new(struct pair *p, int af, enum kern_mode m, enum kern_encap c, unsigned kl,
		     bool esn)
{
	p->a = child(af, m, c, kl, esn);
	p->b = mirror(&p->a);
	if (kern_esp_sa_new(&p->a, &p->ea) || kern_esp_sa_new(&p->b, &p->eb))
		abort();
}

static void pair_free(struct pair *p)
{
	kern_esp_sa_free(p->ea);
	kern_esp_sa_free(p->eb);
}

/* Encrypts inner (n bytes) A -> B, checks the outer packet's shape and that B gets it back. */
static void round_trip_one(struct pair *p, const uint8_t *in, size_t n)
{
	uint8_t outer[2048], back[2048];
	size_t on = 0, bn = 0, ohl;
	uint32_t spi = 0;
	bool v4o;

	T_CHECK_INT(kern_esp_encrypt(p->ea, in, n, outer, sizeof(outer), &on), KERN_ESP_OK);
	v4o = outer[0] >> 4 == 4;
	ohl = v4o ? 20 : 40;
	T_CHECK_INT(v4o ? esp_get16(outer + 2) : esp_get16(outer + 4) + 40u, on);
	if (v4o)
		T_CHECK_INT(esp_sum_fold(esp_sum_add(0, outer, 20)), 0);
	T_CHECK_INT(v4o ? outer[9] : outer[6],
		    p->a.encap == KERN_ENCAP_UDP ? IPPROTO_UDP : IPPROTO_ESP);
	if (p->a.encap == KERN_ENCAP_UDP) {
		T_CHECK_INT(esp_get16(outer + ohl + 2), 4500);
		if (v4o)
			T_CHECK_INT(esp_get16(outer + ohl + 6), 0);
	}
	/* ESP payload length (after header and IV) is a multiple of 4 (RFC 4303 §2.4) */
	T_CHECK_INT((on - ohl - (p->a.encap ? 8 : 0) - 16 - 16) % 4, 0);
	T_CHECK_INT(kern_esp_peek_spi(outer, on, &spi), KERN_ESP_OK);
	T_CHECK_INT(spi, p->a.spi_out);
	T_CHECK_INT(kern_esp_decrypt(p->eb, outer, on, back, sizeof(back), &bn), KERN_ESP_OK);
	T_CHECK_INT(bn, n);
	T_CHECK(bn == n && memcmp(back, in, n) == 0);
}

/* Every padding length (payloads 0..39) and one large DF packet through one configuration. */
static void round_trip_combo(int af, enum kern_mode m, enum kern_encap c, unsigned kl, bool esn)
{
	struct pair p;
	struct kern_esp_stats st;
	uint8_t in[1500];

	pair_new(&p, af, m, c, kl, esn);
	for (size_t pl = 0; pl < 40; pl++)
		round_trip_one(&p, in, inner_udp(&p.a.local, &p.a.remote, pl, false, in));
	round_trip_one(&p, in, inner_udp(&p.a.local, &p.a.remote, 1300, true, in));
	kern_esp_stats_get(p.eb, &st);
	T_CHECK_INT(st.packets_in, 41);
	kern_esp_stats_get(p.ea, &st);
	T_CHECK_INT(st.packets_out, 41);
	pair_free(&p);
}

/* tunnel/transport x IPv4/IPv6 x raw/UDP x AES-128/256 x ESN off/on: 32 configurations */
static void test_round_trips(void)
{
	for (unsigned i = 0; i < 32; i++)
		round_trip_combo(i & 1 ? AF_INET6 : AF_INET,
				 i & 2 ? KERN_MODE_TRANSPORT : KERN_MODE_TUNNEL,
				 i & 4 ? KERN_ENCAP_UDP : KERN_ENCAP_NONE, i & 8 ? 32 : 16, i & 16);
}

/* Tunnel mode with IPv6 inside IPv4 and the reverse: next header 41 / 4. */
static void test_cross_family(void)
{
	for (int f = 0; f < 2; f++) {
		struct pair p;
		struct oe_addr s = addr(f ? "192.0.2.1" : "2001:db8::1");
		struct oe_addr d = addr(f ? "198.51.100.2" : "2001:db8:1::2");
		uint8_t in[256];

		pair_new(&p, f ? AF_INET6 : AF_INET, KERN_MODE_TUNNEL, KERN_ENCAP_NONE, 16, false);
		p.eb->sel.src = oe_prefix_host(&d);
		p.eb->sel.dst = oe_prefix_host(&s);
		round_trip_one(&p, in, inner_udp(&s, &d, 17, false, in));
		pair_free(&p);
	}
}

/* ---- anti-replay -------------------------------------------------------------------------- */
static void test_replay_window(void)
{
	struct esp_replay w;

	memset(&w, 0, sizeof(w));
	T_CHECK_INT(esp_replay_check(&w, 0), KERN_ESP_TOO_OLD);
	T_CHECK_INT(esp_replay_check(&w, 1), KERN_ESP_OK);
	esp_replay_update(&w, 1);
	T_CHECK_INT(esp_replay_check(&w, 1), KERN_ESP_REPLAY);
	/* reordering within the window */
	esp_replay_update(&w, 10);
	for (uint64_t s = 2; s < 10; s++)
		T_CHECK_INT(esp_replay_check(&w, s), KERN_ESP_OK);
	esp_replay_update(&w, 5);
	T_CHECK_INT(esp_replay_check(&w, 5), KERN_ESP_REPLAY);
	T_CHECK_INT(esp_replay_check(&w, 6), KERN_ESP_OK);
	/* slide by less than the window: the slots of the new numbers are cleared */
	esp_replay_update(&w, 10 + KERN_ESP_REPLAY_WINDOW - 1);
	T_CHECK_INT(esp_replay_check(&w, 10), KERN_ESP_REPLAY);
	T_CHECK_INT(esp_replay_check(&w, 9), KERN_ESP_TOO_OLD);
	T_CHECK_INT(esp_replay_check(&w, 11), KERN_ESP_OK);
	T_CHECK_INT(esp_replay_check(&w, 1 + KERN_ESP_REPLAY_WINDOW), KERN_ESP_OK);
	/* slide by more than the window */
	esp_replay_update(&w, 5000);
	T_CHECK_INT(esp_replay_check(&w, 5000 - KERN_ESP_REPLAY_WINDOW), KERN_ESP_TOO_OLD);
	T_CHECK_INT(esp_replay_check(&w, 5000 - KERN_ESP_REPLAY_WINDOW + 1), KERN_ESP_OK);
	T_CHECK_INT(esp_replay_check(&w, 4000), KERN_ESP_OK);
	T_CHECK_INT(esp_replay_check(&w, 5000), KERN_ESP_REPLAY);
	T_CHECK(KERN_ESP_REPLAY_WINDOW >= 128);
}

static void test_esn_infer(void)
{
	struct esp_replay w;

	memset(&w, 0, sizeof(w));
	T_CHECK(esp_replay_infer(&w, true, 5) == 5);
	T_CHECK(esp_replay_infer(&w, true, 0xfffffff0u) == 0); /* before the first block */
	T_CHECK(esp_replay_infer(&w, false, 0xfffffff0u) == 0xfffffff0u);
	w.top = 0x1fffffff0ull; /* case A: window within block 1 */
	T_CHECK(esp_replay_infer(&w, true, 0xfffffff5u) == 0x1fffffff5ull);
	T_CHECK(esp_replay_infer(&w, true, 0xffffff00u) == 0x1ffffff00ull);
	T_CHECK(esp_replay_infer(&w, true, 3) == 0x200000003ull); /* wrapped ahead */
	w.top = 0x200000004ull; /* case B: window straddles the boundary */
	T_CHECK(esp_replay_infer(&w, true, 0xfffffffeu) == 0x1fffffffeull);
	T_CHECK(esp_replay_infer(&w, true, 2) == 0x200000002ull);
	T_CHECK(esp_replay_infer(&w, true, 100000) == 0x200000000ull + 100000);
}

/* Packets over the wrap of the low 32 bits with ESN, delivered out of order. */
static void test_esn_wrap(void)
{
	struct pair p;
	uint8_t in[128], outer[8][256], back[256];
	size_t on[8], bn, n;

	pair_new(&p, AF_INET, KERN_MODE_TUNNEL, KERN_ENCAP_NONE, 16, true);
	esp_sa_set_seq_out(p.ea, 0xfffffffcull);
	n = inner_udp(&p.a.local, &p.a.remote, 10, false, in);
	for (int i = 0; i < 8; i++)
		T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, outer[i], sizeof(outer[i]), &on[i]),
			    KERN_ESP_OK);
	/* low halves fffffffd fffffffe ffffffff 0 1 2 3 4 */
	T_CHECK_INT(esp_get16(outer[3] + 26), 0);
	p.eb->rw.top = 0xfffffff0ull;
	static const int order[8] = {0, 5, 1, 7, 2, 3, 6, 4};
	for (int i = 0; i < 8; i++)
		T_CHECK_INT(
		    kern_esp_decrypt(p.eb, outer[order[i]], on[order[i]], back, sizeof(back), &bn),
		    KERN_ESP_OK);
	T_CHECK(p.eb->rw.top == 0x100000004ull);
	for (int i = 0; i < 8; i++)
		T_CHECK_INT(kern_esp_decrypt(p.eb, outer[i], on[i], back, sizeof(back), &bn),
			    KERN_ESP_REPLAY);
	pair_free(&p);
}

static void test_seq_overflow(void)
{
	for (int esn = 0; esn < 2; esn++) {
		struct pair p;
		uint8_t in[128], out[256];
		size_t n, on;

		pair_new(&p, AF_INET, KERN_MODE_TUNNEL, KERN_ENCAP_NONE, 16, esn);
		n = inner_udp(&p.a.local, &p.a.remote, 10, false, in);
		esp_sa_set_seq_out(p.ea, esn ? UINT64_MAX - 1 : UINT32_MAX - 1);
		T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on), KERN_ESP_OK);
		T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on),
			    KERN_ESP_SEQ_OVERFLOW);
		T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on),
			    KERN_ESP_SEQ_OVERFLOW);
		struct kern_esp_stats st;
		kern_esp_stats_get(p.ea, &st);
		T_CHECK_INT(st.drops[KERN_ESP_SEQ_OVERFLOW], 2);
		pair_free(&p);
	}
}

/* ---- malformed and hostile packets -------------------------------------------------------- */
static void test_tamper(void)
{
	struct pair p;
	uint8_t in[256], outer[512], bad[512], back[512];
	size_t n, on, bn;
	struct esp_replay before;

	pair_new(&p, AF_INET6, KERN_MODE_TUNNEL, KERN_ENCAP_UDP, 32, true);
	n = inner_udp(&p.a.local, &p.a.remote, 33, false, in);
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, outer, sizeof(outer), &on), KERN_ESP_OK);
	before = p.eb->rw;
	for (size_t i = 48; i < on; i++) { /* from the SPI to the end of the ICV */
		for (int bit = 0; bit < 8; bit += 7) {
			enum kern_esp_status st;

			memcpy(bad, outer, on);
			bad[i] ^= (uint8_t)(1 << bit);
			st = kern_esp_decrypt(p.eb, bad, on, back, sizeof(back), &bn);
			if (i >= 48 + 8)
				T_CHECK_INT(st, KERN_ESP_ICV);
			else
				T_CHECK(st != KERN_ESP_OK);
		}
	}
	T_CHECK(memcmp(&before, &p.eb->rw, sizeof(before)) == 0);
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_OK);
	pair_free(&p);
}

static void test_truncated(void)
{
	struct pair p;
	uint8_t in[256], outer[512], back[512];
	size_t n, on, bn;

	pair_new(&p, AF_INET, KERN_MODE_TRANSPORT, KERN_ENCAP_UDP, 16, false);
	n = inner_udp(&p.a.local, &p.a.remote, 20, false, in);
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, outer, sizeof(outer), &on), KERN_ESP_OK);
	for (size_t k = 0; k < on; k++)
		T_CHECK(kern_esp_decrypt(p.eb, outer, k, back, sizeof(back), &bn) ==
			KERN_ESP_TRUNCATED);
	/* shortened consistently (lengths fixed): the ESP part is too short or fails the ICV */
	for (size_t k = 28; k < on; k++) {
		uint8_t s[512];

		memcpy(s, outer, k);
		esp_put16(s + 2, (uint16_t)k);
		esp_put16(s + 24, (uint16_t)(k - 20));
		T_CHECK(kern_esp_decrypt(p.eb, s, k, back, sizeof(back), &bn) != KERN_ESP_OK);
	}
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, 10, &bn), KERN_ESP_NOSPACE);
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_OK);
	pair_free(&p);
}

/* An ESP packet sealed by hand (independent of esp_seal) with any plaintext trailer. */
static size_t raw_seal(const struct kern_child_sa *sa, uint32_t seq, const uint8_t *pt, size_t n,
		       uint8_t *out)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	uint8_t nonce[12], aad[8];
	int l;

	esp_put32(out, sa->spi_out);
	esp_put32(out + 4, seq);
	memset(out + 8, 0, 8);
	out[15] = (uint8_t)seq;
	memcpy(nonce, sa->salt_out, 4);
	memcpy(nonce + 4, out + 8, 8);
	memcpy(aad, out, 8);
	EVP_EncryptInit_ex(x, EVP_aes_128_gcm(), NULL, sa->key_out, nonce);
	EVP_EncryptUpdate(x, NULL, &l, aad, 8);
	EVP_EncryptUpdate(x, out + 16, &l, pt, (int)n);
	EVP_EncryptFinal_ex(x, out + 16 + n, &l);
	EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, out + 16 + n);
	EVP_CIPHER_CTX_free(x);
	return 16 + n + 16;
}

static size_t wrap_v4(const struct kern_child_sa *sa, const uint8_t *esp, size_t n, uint8_t *out)
{
	memset(out, 0, 20);
	out[0] = 0x45;
	esp_put16(out + 2, (uint16_t)(20 + n));
	out[8] = 64;
	out[9] = IPPROTO_ESP;
	memcpy(out + 12, sa->local.b, 4);
	memcpy(out + 16, sa->remote.b, 4);
	memcpy(out + 20, esp, n);
	return 20 + n;
}

static void test_padding(void)
{
	struct pair p;
	uint8_t in[256], pt[256], esp[512], outer[512], back[512];
	size_t n, on, bn;

	pair_new(&p, AF_INET, KERN_MODE_TUNNEL, KERN_ENCAP_NONE, 16, false);
	n = inner_udp(&p.a.local, &p.a.remote, 3, false, in); /* 31 octets: 3 pad */
	memcpy(pt, in, n);
	/* the right trailer first, to show the hand-made packet is otherwise fine */
	memcpy(pt + n, "\x01\x02\x03\x03\x04", 5);
	on = wrap_v4(&p.a, esp, raw_seal(&p.a, 1, pt, n + 5, esp), outer);
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_OK);
	memcpy(pt + n, "\x01\x02\x04\x03\x04", 5); /* pad byte not monotonic */
	on = wrap_v4(&p.a, esp, raw_seal(&p.a, 2, pt, n + 5, esp), outer);
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_PADDING);
	pt[0] = 0xff; /* pad length larger than the payload */
	memcpy(pt + n, "\x01\x02\x03\xfe\x04", 5);
	on = wrap_v4(&p.a, esp, raw_seal(&p.a, 3, pt, n + 5, esp), outer);
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_PADDING);
	memcpy(pt, in, n);
	memcpy(pt + n, "\x01\x02\x03\x03\x06", 5); /* TCP in a tunnel SA */
	on = wrap_v4(&p.a, esp, raw_seal(&p.a, 4, pt, n + 5, esp), outer);
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_NEXT_HDR);
	memcpy(pt + n, "\x01\x02\x03\x03\x04", 5); /* inner length wrong */
	pt[3] ^= 1;
	on = wrap_v4(&p.a, esp, raw_seal(&p.a, 5, pt, n + 5, esp), outer);
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_INNER);
	struct kern_esp_stats st;
	kern_esp_stats_get(p.eb, &st);
	T_CHECK_INT(st.drops[KERN_ESP_PADDING], 2);
	T_CHECK_INT(st.drops[KERN_ESP_NEXT_HDR], 1);
	T_CHECK_INT(st.drops[KERN_ESP_INNER], 1);
	T_CHECK_INT(st.packets_in, 1);
	pair_free(&p);
}

static void test_selectors_and_demux(void)
{
	struct pair p;
	struct oe_addr other = addr("203.0.113.9");
	uint8_t in[256], outer[512], back[512], ike[64];
	size_t n, on, bn;
	uint32_t spi;

	pair_new(&p, AF_INET, KERN_MODE_TUNNEL, KERN_ENCAP_UDP, 16, false);
	n = inner_udp(&other, &p.a.remote, 5, false, in); /* spoofed inner source */
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, outer, sizeof(outer), &on), KERN_ESP_OK);
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_SELECTOR);
	/* IKE behind the non-ESP marker, a NAT keepalive, plain UDP, another SPI */
	memcpy(ike, outer, 28);
	esp_put16(ike + 2, 40);
	esp_put16(ike + 24, 20);
	memset(ike + 28, 0, 12);
	T_CHECK_INT(kern_esp_peek_spi(ike, 40, &spi), KERN_ESP_NOT_ESP);
	T_CHECK_INT(kern_esp_decrypt(p.eb, ike, 40, back, sizeof(back), &bn), KERN_ESP_NOT_ESP);
	esp_put16(ike + 2, 29);
	esp_put16(ike + 24, 9);
	ike[28] = 0xff;
	T_CHECK_INT(kern_esp_peek_spi(ike, 29, &spi), KERN_ESP_NOT_ESP);
	outer[23] ^= 1; /* destination port 4500 -> 4501 */
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_SPI);
	outer[23] ^= 1;
	outer[31] ^= 1;
	T_CHECK_INT(kern_esp_decrypt(p.eb, outer, on, back, sizeof(back), &bn), KERN_ESP_SPI);
	outer[9] = IPPROTO_TCP;
	T_CHECK_INT(kern_esp_peek_spi(outer, on, &spi), KERN_ESP_NOT_ESP);
	outer[6] = 0x20; /* a fragment */
	T_CHECK_INT(kern_esp_peek_spi(outer, on, &spi), KERN_ESP_OUTER);
	T_CHECK_STR(kern_esp_strerror(KERN_ESP_ICV), "integrity check failed");
	T_CHECK_STR(kern_esp_strerror(KERN_ESP_NSTATUS), "unknown ESP status");
	for (int s = 0; s < KERN_ESP_NSTATUS; s++)
		T_CHECK(kern_esp_strerror((enum kern_esp_status)s) != NULL);
	pair_free(&p);
}

/* ---- MTU, ICMP, fragments ----------------------------------------------------------------- */
static void test_mtu_check(void)
{
	struct pair p;
	uint8_t in[2048], out[2200];
	size_t n, on;
	unsigned mtu = 0;

	pair_new(&p, AF_INET, KERN_MODE_TUNNEL, KERN_ENCAP_NONE, 16, false);
	/* tunnel over IPv4: 20 + 8 + 8 + trailer 2 + ICV 16 + padding -> 1446 fits 1500 */
	n = inner_udp(&p.a.local, &p.a.remote, 1446 - 28, true, in);
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1500, &mtu), KERN_ESP_MTU_FITS);
	T_CHECK_INT(mtu, 1446);
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on), KERN_ESP_OK);
	T_CHECK_INT(on, 1500);
	n = inner_udp(&p.a.local, &p.a.remote, 1447 - 28, true, in);
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1500, &mtu), KERN_ESP_MTU_ICMP);
	T_CHECK_INT(mtu, 1446);
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on), KERN_ESP_OK);
	T_CHECK(on > 1500);
	n = inner_udp(&p.a.local, &p.a.remote, 1447 - 28, false, in);
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1500, &mtu), KERN_ESP_MTU_FRAGMENT);
	pair_free(&p);
	/* IPv6 in UDP-encapsulated IPv6 tunnel: 40 + 8 + 32 */
	pair_new(&p, AF_INET6, KERN_MODE_TUNNEL, KERN_ENCAP_UDP, 16, false);
	n = inner_udp(&p.a.local, &p.a.remote, 1500, false, in);
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1500, &mtu), KERN_ESP_MTU_ICMP);
	T_CHECK_INT(mtu, 1418);
	n = inner_udp(&p.a.local, &p.a.remote, 1418 - 48, false, in);
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1500, &mtu), KERN_ESP_MTU_FITS);
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on), KERN_ESP_OK);
	T_CHECK_INT(on, 1500);
	/* below the IPv6 minimum MTU the outer packet is fragmented instead */
	n = inner_udp(&p.a.local, &p.a.remote, 1300, false, in);
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1300, &mtu), KERN_ESP_MTU_FRAGMENT);
	/* never an ICMP error about an ICMPv6 error (RFC 4443 §2.4 (e)); informational is fine */
	n = inner_udp(&p.a.local, &p.a.remote, 1500, false, in);
	in[6] = IPPROTO_ICMPV6;
	in[40] = 1; /* destination unreachable */
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1500, &mtu), KERN_ESP_MTU_FRAGMENT);
	in[40] = 128; /* echo request */
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1500, &mtu), KERN_ESP_MTU_ICMP);
	pair_free(&p);
	/* transport over IPv4: the inner header is reused, 8 + 8 + 2 + 16 (+ padding) */
	pair_new(&p, AF_INET, KERN_MODE_TRANSPORT, KERN_ENCAP_NONE, 16, false);
	n = inner_udp(&p.a.local, &p.a.remote, 1466 - 28, true, in);
	T_CHECK_INT(kern_esp_mtu_check(p.ea, in, n, 1500, &mtu), KERN_ESP_MTU_FITS);
	T_CHECK_INT(mtu, 1466);
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on), KERN_ESP_OK);
	T_CHECK_INT(on, 1500);
	/* RFC 4303 §3.3.2: no transport mode for fragments; a tunnel carries them */
	in[6] = 0x20;
	esp_put16(in + 10, 0);
	esp_put16(in + 10, esp_sum_fold(esp_sum_add(0, in, 20)));
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on), KERN_ESP_INNER);
	pair_free(&p);
	pair_new(&p, AF_INET, KERN_MODE_TUNNEL, KERN_ENCAP_NONE, 16, false);
	T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, out, sizeof(out), &on), KERN_ESP_OK);
	pair_free(&p);
}

static void test_icmp_too_big(void)
{
	struct oe_addr s4 = addr("192.0.2.1"), d4 = addr("198.51.100.2");
	struct oe_addr s6 = addr("2001:db8::1"), d6 = addr("2001:db8:1::2");
	uint8_t in[2000], out[1500];
	size_t n, on;
	struct kern_pkt k;

	n = inner_udp(&s4, &d4, 1472, true, in);
	on = kern_esp_icmp_too_big(in, n, 1446, out, sizeof(out));
	T_CHECK_INT(on, 576);
	T_CHECK_INT(esp_sum_fold(esp_sum_add(0, out, 20)), 0);
	T_CHECK_INT(esp_sum_fold(esp_sum_add(0, out + 20, on - 20)), 0);
	T_CHECK_INT(out[20], 3);
	T_CHECK_INT(out[21], 4);
	T_CHECK_INT(esp_get16(out + 26), 1446);
	T_CHECK(memcmp(out + 28, in, 548) == 0);
	T_CHECK_INT(kern_pkt_parse(out, on, &k), KERN_PKT_OK);
	T_CHECK(oe_addr_eq(&k.src, &d4) && oe_addr_eq(&k.dst, &s4));
	T_CHECK_INT(kern_esp_icmp_too_big(in, n, 1446, out, 100), 0);

	n = inner_udp(&s6, &d6, 1452, false, in);
	on = kern_esp_icmp_too_big(in, n, 1418, out, sizeof(out));
	T_CHECK_INT(on, 1280);
	{
		uint32_t ps = esp_sum_add(0, out + 8, 32) + (uint32_t)(on - 40) + IPPROTO_ICMPV6;

		T_CHECK_INT(esp_sum_fold(esp_sum_add(ps, out + 40, on - 40)), 0);
	}
	T_CHECK_INT(out[40], 2);
	T_CHECK_INT(out[41], 0);
	T_CHECK_INT(esp_get16(out + 46), 1418);
	T_CHECK(memcmp(out + 48, in, 1232) == 0);
	T_CHECK_INT(kern_pkt_parse(out, on, &k), KERN_PKT_OK);
	T_CHECK(oe_addr_eq(&k.src, &d6) && oe_addr_eq(&k.dst, &s6));
	T_CHECK_INT(kern_esp_icmp_too_big(in, 10, 1418, out, sizeof(out)), 0);
}

struct frags {
	uint8_t buf[16][1600];
	size_t len[16];
	int n;
};

static void collect(void *arg, const uint8_t *f, size_t len)
{
	struct frags *fs = arg;

	if (fs->n < 16 && len <= sizeof(fs->buf[0])) {
		memcpy(fs->buf[fs->n], f, len);
		fs->len[fs->n] = len;
	}
	fs->n++;
}

/* Reassembles fs (RFC 791 / RFC 8200 §4.5) into out; returns its length or 0. */
static size_t reassemble(const struct frags *fs, unsigned mtu, uint8_t *out)
{
	bool v4 = fs->buf[0][0] >> 4 == 4;
	size_t hl = v4 ? 20 : 48, end = 0;

	for (int i = 0; i < fs->n; i++) {
		const uint8_t *f = fs->buf[i];
		uint16_t fo = v4 ? esp_get16(f + 6) : esp_get16(f + 42);
		size_t off = v4 ? (size_t)(fo & 0x1fff) * 8 : (size_t)(fo & 0xfff8);
		bool more = v4 ? (fo & 0x2000) != 0 : (fo & 1) != 0;

		if (fs->len[i] > mtu || more != (i + 1 < fs->n) || off != end)
			return 0;
		if (v4 && (esp_sum_fold(esp_sum_add(0, f, 20)) != 0 || esp_get16(f + 4) != 0x4321 ||
			   esp_get16(f + 2) != fs->len[i]))
			return 0;
		if (!v4 && (f[6] != 44 || esp_get16(f + 44) != 0 || esp_get16(f + 46) != 0x4321 ||
			    esp_get16(f + 4) + 40u != fs->len[i]))
			return 0;
		if (more && (fs->len[i] - hl) % 8)
			return 0;
		memcpy(out + (v4 ? 20 : 40) + off, f + hl, fs->len[i] - hl);
		end += fs->len[i] - hl;
	}
	memcpy(out, fs->buf[0], v4 ? 20 : 40);
	if (v4) {
		esp_put16(out + 2, (uint16_t)(20 + end));
		out[6] = 0;
		esp_put16(out + 4, esp_get16(out + 4)); /* id kept */
		esp_put16(out + 10, 0);
		esp_put16(out + 10, esp_sum_fold(esp_sum_add(0, out, 20)));
		return 20 + end;
	}
	out[6] = fs->buf[0][40];
	esp_put16(out + 4, (uint16_t)end);
	return 40 + end;
}

static void test_fragment(void)
{
	static const int afs[] = {AF_INET, AF_INET6};

	for (int f = 0; f < 2; f++) {
		static struct frags fs;
		struct pair p;
		uint8_t in[4000], outer[4200], re[4200], back[4200];
		size_t n, on, rn, bn;

		pair_new(&p, afs[f], KERN_MODE_TUNNEL, KERN_ENCAP_UDP, 16, false);
		n = inner_udp(&p.a.local, &p.a.remote, 3000, false, in);
		T_CHECK_INT(kern_esp_encrypt(p.ea, in, n, outer, sizeof(outer), &on), KERN_ESP_OK);
		memset(&fs, 0, sizeof(fs));
		T_CHECK_INT(kern_esp_fragment(outer, on, 1500, 0x4321, collect, &fs), 3);
		T_CHECK_INT(fs.n, 3);
		rn = reassemble(&fs, 1500, re);
		if (afs[f] == AF_INET) {
			esp_put16(outer + 4, 0x4321); /* the fragments carry the given id */
			esp_put16(outer + 10, 0);
			esp_put16(outer + 10, esp_sum_fold(esp_sum_add(0, outer, 20)));
		}
		T_CHECK_INT(rn, on);
		T_CHECK(rn == on && memcmp(re, outer, on) == 0);
		T_CHECK_INT(kern_esp_decrypt(p.eb, re, rn, back, sizeof(back), &bn), KERN_ESP_OK);
		T_CHECK(bn == n && memcmp(back, in, n) == 0);
		/* a packet that already fits comes out as one piece */
		memset(&fs, 0, sizeof(fs));
		T_CHECK_INT(kern_esp_fragment(outer, on, 65535, 1, collect, &fs), 1);
		pair_free(&p);
	}
	{
		uint8_t pkt[100];
		struct oe_addr s = addr("192.0.2.1"), d = addr("192.0.2.2");
		static struct frags fs;
		size_t n = inner_udp(&s, &d, 60, true, pkt);

		T_CHECK_INT(kern_esp_fragment(pkt, n, 60, 1, collect, &fs), -EINVAL); /* DF */
		pkt[6] = 0;
		T_CHECK_INT(kern_esp_fragment(pkt, n, 27, 1, collect, &fs), -EINVAL); /* < 8 data */
		T_CHECK_INT(kern_esp_fragment(pkt, 10, 60, 1, collect, &fs), -EINVAL);
	}
}

int main(void)
{
	T_RUN(test_kat);
	T_RUN(test_kat_inbound);
	T_RUN(test_round_trips);
	T_RUN(test_cross_family);
	T_RUN(test_replay_window);
	T_RUN(test_esn_infer);
	T_RUN(test_esn_wrap);
	T_RUN(test_seq_overflow);
	T_RUN(test_tamper);
	T_RUN(test_truncated);
	T_RUN(test_padding);
	T_RUN(test_selectors_and_demux);
	T_RUN(test_mtu_check);
	T_RUN(test_icmp_too_big);
	T_RUN(test_fragment);
	return t_done();
}
