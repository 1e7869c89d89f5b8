/* The IKEv2 codec (oe-agent/ike/ike_msg.c, ike_payload.c, ike_sk.c): every payload built and
 * parsed back, every validator's reject path with its status, truncated and overlong lengths,
 * unknown critical / non-critical payloads, and the SK payload's round trip and tamper checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_codec_int.h"
#include "t.h"

static const struct ike_hdr hdr0 = {
    .spi_i = {1, 2, 3, 4, 5, 6, 7, 8},
    .exch = IKE_EXCH_SA_INIT,
    .flags = IKE_FLAG_I,
    .msgid = 0,
};

/* A message of one payload with the given body (the header's Next Payload names it). */
static size_t mk1(uint8_t *out, uint8_t type, bool crit, const void *body, size_t blen)
{
	size_t len = IKE_HDR_LEN + 4 + blen;

	memset(out, 0, IKE_HDR_LEN);
	memcpy(out, hdr0.spi_i, 8);
	out[16] = type;
	out[17] = IKE_VERSION;
	out[18] = IKE_EXCH_SA_INIT;
	out[19] = IKE_FLAG_I;
	out[24] = (uint8_t)(len >> 24);
	out[25] = (uint8_t)(len >> 16);
	out[26] = (uint8_t)(len >> 8);
	out[27] = (uint8_t)len;
	out[28] = 0;
	out[29] = crit ? 0x80 : 0;
	out[30] = (uint8_t)((4 + blen) >> 8);
	out[31] = (uint8_t)(4 + blen);
	memcpy(out + 32, body, blen);
	return len;
}

static enum ike_codec_status parse1(uint8_t type, const void *body, size_t blen)
{
	uint8_t buf[2048];
	struct ike_msg *m = NULL;
	size_t n = mk1(buf, type, false, body, blen);
	enum ike_codec_status st = ike_msg_parse(buf, n, &m);

	ike_msg_free(m);
	return st;
}

/* ==== round trip of every payload ============================================================ */

static struct ike_proposal props[2];
static struct ike_ts tss[2];
static const uint8_t ke_data[32] = {0x11, 0x22};
static const uint8_t nonce[32] = {0x33};
static const uint8_t v4[4] = {192, 0, 2, 1};
static const uint8_t authd[20] = {0x44};
static const uint8_t spis[8] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1};
static const uint8_t vid[16] = {'O', 'E'};

static void fill_props(void)
{
	memset(props, 0, sizeof(props));
	props[0].num = 1;
	props[0].proto = IKE_PROTO_IKE;
	props[0].n_xf = 3;
	props[0].xf[0] = (struct ike_transform){IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 256, false};
	props[0].xf[1] = (struct ike_transform){IKE_XF_PRF, IKE_PRF_HMAC_SHA2_256, 0, false};
	props[0].xf[2] = (struct ike_transform){IKE_XF_DH, IKE_DH_CURVE25519, 0, false};
	props[1].num = 2;
	props[1].proto = IKE_PROTO_ESP;
	props[1].spi_size = 4;
	memcpy(props[1].spi, "\x01\x02\x03\x04", 4);
	props[1].n_xf = 2;
	props[1].xf[0] = (struct ike_transform){IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 128, false};
	props[1].xf[1] = (struct ike_transform){IKE_XF_ESN, IKE_ESN_NO, 0, false};
	memset(tss, 0, sizeof(tss));
	tss[0].type = IKE_TS_IPV4_ADDR_RANGE;
	tss[0].proto = 6;
	tss[0].sport = 0;
	tss[0].eport = 65535;
	oe_addr_parse(&tss[0].start, "192.0.2.1", 9);
	oe_addr_parse(&tss[0].end, "192.0.2.9", 9);
	tss[1].type = IKE_TS_IPV6_ADDR_RANGE;
	tss[1].sport = tss[1].eport = 500;
	oe_addr_parse(&tss[1].start, "2001:db8::1", 11);
	oe_addr_parse(&tss[1].end, "2001:db8::1", 11);
}

/* Adds one of each payload kind to b. */
static void add_all(struct ike_builder *b)
{
	struct ike_payload p;

	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_SA;
	p.u.sa.prop = props;
	p.u.sa.n_prop = 2;
	ike_build_add(b, &p);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_KE;
	p.u.ke = (struct ike_ke_pl){IKE_DH_CURVE25519, ke_data, sizeof(ke_data)};
	ike_build_add(b, &p);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_NONCE;
	p.u.nonce = (struct ike_bytes){nonce, sizeof(nonce)};
	ike_build_add(b, &p);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_IDI;
	p.u.id = (struct ike_id_pl){IKE_ID_IPV4_ADDR, v4, 4};
	ike_build_add(b, &p);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_AUTH;
	p.u.auth = (struct ike_auth_pl){IKE_AUTH_NULL, authd, sizeof(authd)};
	ike_build_add(b, &p);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_TSI;
	p.u.ts = (struct ike_ts_pl){tss, 2};
	ike_build_add(b, &p);
	p.type = IKE_PL_TSR;
	p.u.ts = (struct ike_ts_pl){tss + 1, 1};
	ike_build_add(b, &p);
	ike_build_notify_spi(b, IKE_PROTO_ESP, spis, 4, IKE_N_REKEY_SA, NULL, 0);
	ike_build_notify(b, IKE_N_SIGNATURE_HASH_ALGORITHMS, "\x00\x02\x00\x05", 4);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_DELETE;
	p.u.d = (struct ike_delete_pl){IKE_PROTO_ESP, 4, 2, spis};
	ike_build_add(b, &p);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_VENDOR;
	p.u.raw = (struct ike_bytes){vid, sizeof(vid)};
	ike_build_add(b, &p);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_CP;
	p.u.cp.cfg_type = IKE_CFG_REQUEST;
	p.u.cp.n_attr = 2;
	p.u.cp.attr[0] = (struct ike_cp_attr){1, NULL, 0}; /* INTERNAL_IP4_ADDRESS */
	p.u.cp.attr[1] = (struct ike_cp_attr){8, v4, 4};   /* INTERNAL_IP6_ADDRESS-ish */
	ike_build_add(b, &p);
}

/* Checks m holds what add_all() put in, starting at payload index i0, inner or not. */
static void check_all(const struct ike_msg *m, size_t i0, bool inner)
{
	const struct ike_payload *p = &m->pl[i0];

	T_CHECK(m->n_pl >= i0 + 12);
	if (m->n_pl < i0 + 12)
		return;
	for (size_t i = i0; i < i0 + 12; i++)
		T_CHECK(m->pl[i].inner == inner);
	T_CHECK_INT(p[0].type, IKE_PL_SA);
	T_CHECK_INT(p[0].u.sa.n_prop, 2);
	T_CHECK(memcmp(&p[0].u.sa.prop[0].xf[0], &props[0].xf[0], sizeof(props[0].xf[0])) == 0);
	T_CHECK_INT(p[0].u.sa.prop[0].n_xf, 3);
	T_CHECK_INT(p[0].u.sa.prop[0].xf[0].key_len, 256);
	T_CHECK_INT(p[0].u.sa.prop[0].xf[2].id, IKE_DH_CURVE25519);
	T_CHECK_INT(p[0].u.sa.prop[1].num, 2);
	T_CHECK_INT(p[0].u.sa.prop[1].spi_size, 4);
	T_CHECK(memcmp(p[0].u.sa.prop[1].spi, "\x01\x02\x03\x04", 4) == 0);
	T_CHECK_INT(p[0].u.sa.prop[1].xf[1].type, IKE_XF_ESN);
	T_CHECK_INT(p[1].type, IKE_PL_KE);
	T_CHECK_INT(p[1].u.ke.group, IKE_DH_CURVE25519);
	T_CHECK(p[1].u.ke.len == 32 && memcmp(p[1].u.ke.data, ke_data, 32) == 0);
	T_CHECK(p[2].type == IKE_PL_NONCE && p[2].u.nonce.len == 32 &&
		memcmp(p[2].u.nonce.data, nonce, 32) == 0);
	T_CHECK(p[3].type == IKE_PL_IDI && p[3].u.id.type == IKE_ID_IPV4_ADDR &&
		p[3].u.id.len == 4 && memcmp(p[3].u.id.data, v4, 4) == 0);
	T_CHECK(p[4].type == IKE_PL_AUTH && p[4].u.auth.method == IKE_AUTH_NULL &&
		p[4].u.auth.len == 20);
	T_CHECK(p[5].type == IKE_PL_TSI && p[5].u.ts.n == 2);
	T_CHECK(p[5].u.ts.n == 2 && memcmp(&p[5].u.ts.ts[0], &tss[0], sizeof(tss[0])) == 0 &&
		memcmp(&p[5].u.ts.ts[1], &tss[1], sizeof(tss[1])) == 0);
	T_CHECK(p[6].type == IKE_PL_TSR && p[6].u.ts.n == 1 &&
		memcmp(&p[6].u.ts.ts[0], &tss[1], sizeof(tss[1])) == 0);
	T_CHECK(p[7].type == IKE_PL_NOTIFY && p[7].u.n.type == IKE_N_REKEY_SA &&
		p[7].u.n.proto == IKE_PROTO_ESP && p[7].u.n.spi_size == 4 &&
		memcmp(p[7].u.n.spi, spis, 4) == 0 && p[7].u.n.len == 0);
	T_CHECK(p[8].type == IKE_PL_NOTIFY && p[8].u.n.len == 4 && p[8].u.n.spi_size == 0);
	T_CHECK(p[9].type == IKE_PL_DELETE && p[9].u.d.n_spi == 2);
	T_CHECK_INT(ike_delete_spi(&p[9].u.d, 0), 0xdeadbeef);
	T_CHECK_INT(ike_delete_spi(&p[9].u.d, 1), 1);
	T_CHECK_INT(ike_delete_spi(&p[9].u.d, 2), 0);
	T_CHECK(p[10].type == IKE_PL_VENDOR && p[10].u.raw.len == 16);
	T_CHECK(p[11].type == IKE_PL_CP && p[11].u.cp.cfg_type == IKE_CFG_REQUEST &&
		p[11].u.cp.n_attr == 2 && p[11].u.cp.attr[1].type == 8 &&
		p[11].u.cp.attr[1].len == 4 && p[11].u.cp.attr[0].len == 0);
	T_CHECK(ike_msg_notify(m, IKE_N_SIGNATURE_HASH_ALGORITHMS) == &p[8].u.n);
	T_CHECK(ike_msg_notify(m, IKE_N_COOKIE) == NULL);
	size_t from = 0;
	T_CHECK(ike_msg_find(m, IKE_PL_NOTIFY, &from) == &p[7]);
	T_CHECK(ike_msg_find(m, IKE_PL_NOTIFY, &from) == &p[8]);
	T_CHECK(ike_msg_find(m, IKE_PL_NOTIFY, &from) == NULL);
}

static void test_roundtrip_plain(void)
{
	struct ike_builder b;
	struct ike_msg *m = NULL;
	uint8_t *out = NULL;
	size_t len = 0;

	fill_props();
	ike_build_init(&b, &hdr0);
	add_all(&b);
	T_CHECK_INT(ike_build_finish(&b, NULL, &out, &len), IKE_CODEC_OK);
	T_CHECK_INT(ike_msg_parse(out, len, &m), IKE_CODEC_OK);
	if (!m)
		goto out;
	T_CHECK_INT(m->hdr.length, len);
	T_CHECK_INT(m->hdr.next, IKE_PL_SA);
	T_CHECK_INT(m->hdr.exch, IKE_EXCH_SA_INIT);
	T_CHECK_INT(m->hdr.flags, IKE_FLAG_I);
	T_CHECK(memcmp(m->hdr.spi_i, hdr0.spi_i, 8) == 0);
	T_CHECK_INT(m->n_pl, 12);
	check_all(m, 0, false);
	T_CHECK(!m->has_sk);
	T_CHECK_INT(ike_msg_decrypt(m, NULL), IKE_CODEC_NO_SK);
out:
	ike_msg_free(m);
	free(out);
}

static void test_roundtrip_sk(void)
{
	struct ike_builder b;
	struct ike_msg *m = NULL, *m2 = NULL;
	struct ike_hdr h = hdr0;
	struct ike_sk_key k = {.key_len = 32}, rk;
	uint8_t *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;

	memset(k.key, 0x5a, 32);
	memcpy(k.salt, "salt", 4);
	k.iv_next = 7;
	rk = k;
	fill_props();
	h.exch = IKE_EXCH_AUTH;
	h.msgid = 1;
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	add_all(&b);
	T_CHECK_INT(ike_build_finish(&b, &k, &out, &len), IKE_CODEC_OK);
	T_CHECK_INT(k.iv_next, 8);
	T_CHECK_INT(ike_msg_parse(out, len, &m), IKE_CODEC_OK);
	if (!m)
		goto out;
	T_CHECK_INT(m->n_pl, 1);
	T_CHECK(m->has_sk && m->pl[0].type == IKE_PL_SK);
	T_CHECK_INT(m->pl[0].u.sk.inner_next, IKE_PL_SA);
	T_CHECK(memcmp(m->pl[0].u.sk.iv, "\0\0\0\0\0\0\0\x07", 8) == 0);
	T_CHECK_INT(ike_msg_decrypt(m, &rk), IKE_CODEC_OK);
	T_CHECK(m->decrypted);
	check_all(m, 1, true);
	T_CHECK_INT(ike_msg_decrypt(m, &rk), IKE_CODEC_NO_SK); /* only once */
	/* the same message again: a new IV */
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	ike_build_notify(&b, IKE_N_INITIAL_CONTACT, NULL, 0);
	T_CHECK_INT(ike_build_finish(&b, &k, &out2, &len2), IKE_CODEC_OK);
	T_CHECK(out2 && memcmp(out2 + 32, "\0\0\0\0\0\0\0\x08", 8) == 0);
	/* tampering anywhere (header = AAD, IV, ciphertext, ICV) fails the ICV check */
	static const size_t where[] = {3, 19, 29, 33, 45, 0}; /* SPI, flags, C bit, IV, data, ICV */
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		size_t at = where[i] ? where[i] : len2 - 1;

		out2[at] ^= 0x01;
		T_CHECK_INT(ike_msg_parse(out2, len2, &m2), IKE_CODEC_OK);
		if (m2)
			T_CHECK_INT(ike_msg_decrypt(m2, &rk), IKE_CODEC_SK_AUTH);
		ike_msg_free(m2);
		m2 = NULL;
		out2[at] ^= 0x01;
	}
	/* wrong key, then the right one on the same parsed message */
	T_CHECK_INT(ike_msg_parse(out2, len2, &m2), IKE_CODEC_OK);
	rk.key[0] ^= 1;
	if (m2)
		T_CHECK_INT(ike_msg_decrypt(m2, &rk), IKE_CODEC_SK_AUTH);
	rk.key[0] ^= 1;
	if (m2) {
		T_CHECK_INT(ike_msg_decrypt(m2, &rk), IKE_CODEC_OK);
		T_CHECK(m2->n_pl == 2 && m2->pl[1].u.n.type == IKE_N_INITIAL_CONTACT);
	}
out:
	ike_msg_free(m);
	ike_msg_free(m2);
	free(out);
	free(out2);
}

/* An SK whose plaintext we choose: hdr | SK(inner_next) sealed over pt. */
static size_t mk_sk(uint8_t *buf, uint8_t inner_next, const uint8_t *pt, size_t ptlen,
		    const struct ike_sk_key *k)
{
	static const uint8_t iv[8] = {9};
	size_t len = IKE_HDR_LEN + 4 + 8 + ptlen + 16;

	mk1(buf, IKE_PL_SK, false, "", 0);
	buf[24] = (uint8_t)(len >> 24);
	buf[25] = (uint8_t)(len >> 16);
	buf[26] = (uint8_t)(len >> 8);
	buf[27] = (uint8_t)len;
	buf[28] = inner_next;
	buf[30] = (uint8_t)((len - IKE_HDR_LEN) >> 8);
	buf[31] = (uint8_t)(len - IKE_HDR_LEN);
	memcpy(buf + 32, iv, 8);
	memcpy(buf + 40, pt, ptlen);
	ike_sk_seal(k, iv, buf, 32, buf + 40, ptlen, buf + 40 + ptlen);
	return len;
}

static void test_sk_rejects(void)
{
	struct ike_sk_key k = {.key_len = 16};
	uint8_t buf[512], pt[64];
	struct ike_msg *m = NULL;
	size_t n;

	memset(k.key, 7, 16);
	/* pad length >= plaintext */
	memset(pt, 0, sizeof(pt));
	pt[3] = 4;
	n = mk_sk(buf, IKE_PL_NONE, pt, 4, &k);
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	T_CHECK_INT(ike_msg_decrypt(m, &k), IKE_CODEC_BAD_SK);
	ike_msg_free(m);
	/* padding accepted, any content */
	pt[3] = 3;
	pt[0] = 0xee;
	n = mk_sk(buf, IKE_PL_NONE, pt, 4, &k);
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	T_CHECK_INT(ike_msg_decrypt(m, &k), IKE_CODEC_OK);
	T_CHECK_INT(m->n_pl, 1);
	ike_msg_free(m);
	/* an SK inside SK */
	static const uint8_t inner_sk[] = {0, 0, 0, 4, 0};
	n = mk_sk(buf, IKE_PL_SK, inner_sk, sizeof(inner_sk), &k);
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	T_CHECK_INT(ike_msg_decrypt(m, &k), IKE_CODEC_PAYLOAD_ORDER);
	ike_msg_free(m);
	/* an inner payload that fails its validator: nonce of 4 octets */
	static const uint8_t inner_bad[] = {0, 0, 0, 8, 1, 2, 3, 4, 0};
	n = mk_sk(buf, IKE_PL_NONCE, inner_bad, sizeof(inner_bad), &k);
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	T_CHECK_INT(ike_msg_decrypt(m, &k), IKE_CODEC_BAD_NONCE);
	T_CHECK(m && m->n_pl == 1 && !m->decrypted && m->plain == NULL); /* undone */
	T_CHECK_INT(ike_msg_decrypt(m, &k), IKE_CODEC_BAD_NONCE);
	ike_msg_free(m);
	/* SK shorter than IV + pad length + ICV */
	n = mk1(buf, IKE_PL_SK, false, pt, 24);
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_BAD_SK);
	ike_msg_free(m);
	/* SK not last: SK followed by a nonce */
	uint8_t body[64];
	memset(body, 0, sizeof(body));
	body[0] = IKE_PL_NONE;
	n = mk1(buf, IKE_PL_SK, false, body, 25);
	buf[28] = IKE_PL_NONE;
	memcpy(buf + n, "\0\0\0\x14", 4);
	memset(buf + n + 4, 1, 16);
	n += 20;
	buf[27] = (uint8_t)n;
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_PAYLOAD_ORDER);
	ike_msg_free(m);
	/* builder: finish with a key but no SK, and SK without a key */
	struct ike_builder b;
	uint8_t *out;
	size_t len;
	ike_build_init(&b, &hdr0);
	T_CHECK_INT(ike_build_finish(&b, &k, &out, &len), IKE_CODEC_BUILD);
	ike_build_init(&b, &hdr0);
	ike_build_begin_sk(&b);
	T_CHECK_INT(ike_build_finish(&b, NULL, &out, &len), IKE_CODEC_BUILD);
	T_CHECK(out == NULL);
}

/* ==== header and chain rejects =============================================================== */

static void test_header_chain(void)
{
	uint8_t buf[512], nb[16];
	struct ike_msg *m = NULL;
	size_t n;

	memset(nb, 1, sizeof(nb));
	n = mk1(buf, IKE_PL_NONCE, false, nb, 16);
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	ike_msg_free(m);
	T_CHECK_INT(ike_msg_parse(buf, 27, &m), IKE_CODEC_TRUNCATED);
	T_CHECK(m == NULL);
	/* the datagram is longer / shorter than the header says */
	T_CHECK_INT(ike_msg_parse(buf, n - 1, &m), IKE_CODEC_BAD_LENGTH);
	T_CHECK(m != NULL); /* header available to answer */
	ike_msg_free(m);
	buf[17] = 0x30;
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_BAD_VERSION);
	T_CHECK(m && m->hdr.version == 0x30);
	ike_msg_free(m);
	buf[17] = 0x21; /* minor version ignored */
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	ike_msg_free(m);
	buf[17] = IKE_VERSION;
	/* payload length 3, overlong, and short of the data */
	buf[31] = 3;
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_BAD_LENGTH);
	ike_msg_free(m);
	buf[31] = 21;
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_BAD_LENGTH);
	ike_msg_free(m);
	n = mk1(buf, IKE_PL_NONCE, false, nb, 16);
	buf[n++] = 0; /* one octet left over after the last payload */
	buf[27] = (uint8_t)n;
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_BAD_LENGTH);
	ike_msg_free(m);
	n = mk1(buf, IKE_PL_NONCE, false, nb, 16);
	/* a next payload named but no bytes left for it */
	buf[28] = IKE_PL_NONCE;
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_BAD_LENGTH);
	ike_msg_free(m);
	/* unknown critical payload type 99 */
	n = mk1(buf, 99, true, nb, 16);
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_UNSUPPORTED_CRITICAL_PAYLOAD);
	T_CHECK(m && m->unsupported_type == 99);
	ike_msg_free(m);
	/* unknown, not critical: skipped; the chain goes on to a nonce */
	n = mk1(buf, 99, false, nb, 16);
	buf[28] = IKE_PL_NONCE;
	memcpy(buf + n, "\0\0\0\x14", 4);
	memset(buf + n + 4, 2, 16);
	n += 20;
	buf[27] = (uint8_t)n;
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	T_CHECK(m && m->n_pl == 1 && m->pl[0].type == IKE_PL_NONCE &&
		m->pl[0].u.nonce.data[0] == 2);
	ike_msg_free(m);
	/* a known payload's critical bit is kept (and ignored) */
	n = mk1(buf, IKE_PL_NONCE, true, nb, 16);
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	T_CHECK(m && m->pl[0].critical);
	ike_msg_free(m);
	/* more payloads than we hold */
	n = IKE_HDR_LEN;
	mk1(buf, IKE_PL_VENDOR, false, "", 0);
	for (int i = 0; i < IKE_MAX_PAYLOADS + 1; i++) {
		memcpy(buf + n, i == IKE_MAX_PAYLOADS ? "\0\0\0\x04" : "\x2b\0\0\x04", 4);
		n += 4;
	}
	buf[26] = (uint8_t)(n >> 8);
	buf[27] = (uint8_t)n;
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_TOO_MANY);
	ike_msg_free(m);
	struct ike_hdr h;
	T_CHECK_INT(ike_hdr_parse(buf, n, &h), IKE_CODEC_OK);
	T_CHECK_INT(h.next, IKE_PL_VENDOR);
}

/* ==== validators, payload by payload ========================================================= */

/* proposal header: last, rsv, len(2), num, proto, spi size, n_xf */
static size_t prop(uint8_t *o, uint8_t last, uint8_t num, uint8_t proto, uint8_t spi_size,
		   uint8_t n_xf, const uint8_t *xf, size_t xf_len)
{
	size_t len = 8 + spi_size + xf_len;

	o[0] = last;
	o[1] = 0;
	o[2] = (uint8_t)(len >> 8);
	o[3] = (uint8_t)len;
	o[4] = num;
	o[5] = proto;
	o[6] = spi_size;
	o[7] = n_xf;
	memset(o + 8, 0xab, spi_size);
	memcpy(o + 8 + spi_size, xf, xf_len);
	return len;
}

/* ENCR_AES_GCM_16 with Key Length 128; then PRF + DH as two transforms */
static const uint8_t xf_ok[] = {0, 0, 0, 12, 1, 0, 0, 20, 0x80, 14, 0, 128};
static const uint8_t xf2[] = {3, 0, 0, 8, 2, 0, 0, 5, 0, 0, 0, 8, 4, 0, 0, 31};

static void test_validate_proposals(void)
{
	uint8_t b[1024];
	size_t n;

	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_OK);
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 2, xf2, sizeof(xf2));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_SA, b, 0), IKE_CODEC_BAD_PROPOSAL); /* empty */
	n = prop(b, 2, 1, IKE_PROTO_IKE, 0, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL); /* "more" on last */
	n = prop(b, 0, 2, IKE_PROTO_IKE, 0, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_OK); /* an answer: accepted proposal 2 */
	n = prop(b, 0, 0, IKE_PROTO_IKE, 0, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL); /* number 0 */
	n = prop(b, 2, 1, IKE_PROTO_IKE, 0, 1, xf_ok, sizeof(xf_ok));
	n += prop(b + n, 0, 3, IKE_PROTO_IKE, 0, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL); /* 1 then 3 */
	n = prop(b, 2, 1, IKE_PROTO_IKE, 0, 1, xf_ok, sizeof(xf_ok));
	n += prop(b + n, 0, 2, IKE_PROTO_ESP, 4, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_OK);
	n = prop(b, 0, 1, 4, 0, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL); /* protocol 4 */
	n = prop(b, 0, 1, IKE_PROTO_ESP, 8, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL); /* ESP SPI of 8 */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 4, 1, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL); /* IKE SPI of 4 */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 0, xf_ok, 0);
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL); /* no transforms */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 2, xf_ok, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_TRANSFORM); /* count > present */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, xf2, sizeof(xf2));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_TRANSFORM); /* count < present */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, xf_ok, sizeof(xf_ok));
	b[3] = 7; /* proposal len 7 */
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL);
	b[3] = (uint8_t)(n + 1); /* past the payload */
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_PROPOSAL);
	/* more proposals than the pool holds */
	n = 0;
	for (int i = 0; i < IKE_MAX_PROPOSALS + 1; i++)
		n += prop(b + n, i == IKE_MAX_PROPOSALS ? 0 : 2, (uint8_t)(i + 1), IKE_PROTO_IKE, 0,
			  1, xf_ok, sizeof(xf_ok));
	{
		uint8_t big[2048];
		struct ike_msg *m = NULL;
		size_t l = mk1(big, IKE_PL_SA, false, b, n);

		T_CHECK_INT(ike_msg_parse(big, l, &m), IKE_CODEC_TOO_MANY);
		ike_msg_free(m);
	}
}

/* IKE_MAX_TRANSFORMS transforms in one proposal parse (strongSwan's default proposal has 36);
 * one more is TOO_MANY. */
static void test_transform_cap(void)
{
	static uint8_t xf[(IKE_MAX_TRANSFORMS + 1) * 8], b[sizeof(xf) + 16];

	for (int n = IKE_MAX_TRANSFORMS; n <= IKE_MAX_TRANSFORMS + 1; n++) {
		for (int i = 0; i < n; i++) {
			uint8_t t[8] = {i + 1 == n ? 0 : 3, 0, 0, 8, IKE_XF_DH, 0, 0, (uint8_t)i};

			memcpy(xf + 8 * i, t, 8);
		}
		size_t len = prop(b, 0, 1, IKE_PROTO_IKE, 0, (uint8_t)n, xf, 8 * (size_t)n);
		T_CHECK_INT(parse1(IKE_PL_SA, b, len),
			    n == IKE_MAX_TRANSFORMS ? IKE_CODEC_OK : IKE_CODEC_TOO_MANY);
	}
}

static void test_validate_transforms(void)
{
	uint8_t b[256], x[64];
	size_t n;

	memcpy(x, xf_ok, sizeof(xf_ok));
	x[0] = 3; /* "more" on last */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, x, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_TRANSFORM);
	memcpy(x, xf_ok, sizeof(xf_ok));
	x[3] = 7; /* transform len 7 */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, x, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_TRANSFORM);
	memcpy(x, xf_ok, sizeof(xf_ok));
	x[4] = 0; /* type 0 */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, x, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_TRANSFORM);
	memcpy(x, xf_ok, sizeof(xf_ok));
	x[8] = 0; /* Key Length as TLV */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, x, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_ATTRIBUTE);
	memcpy(x, xf_ok, sizeof(xf_ok));
	x[8] = 0;
	x[9] = 15; /* TLV past the end */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, x, sizeof(xf_ok));
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_ATTRIBUTE);
	memcpy(x, xf_ok, sizeof(xf_ok));
	x[3] = 10; /* half an attribute */
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, x, 10);
	T_CHECK_INT(parse1(IKE_PL_SA, b, n), IKE_CODEC_BAD_ATTRIBUTE);
	/* an unknown TV attribute marks the transform, it is not an error */
	memcpy(x, xf_ok, sizeof(xf_ok));
	x[9] = 99;
	n = prop(b, 0, 1, IKE_PROTO_IKE, 0, 1, x, sizeof(xf_ok));
	{
		uint8_t buf[512];
		struct ike_msg *m = NULL;
		size_t l = mk1(buf, IKE_PL_SA, false, b, n);

		T_CHECK_INT(ike_msg_parse(buf, l, &m), IKE_CODEC_OK);
		T_CHECK(m && m->pl[0].u.sa.prop[0].xf[0].unknown_attr &&
			m->pl[0].u.sa.prop[0].xf[0].key_len == 0);
		ike_msg_free(m);
	}
}

static void test_validate_small(void)
{
	uint8_t b[300];

	memset(b, 0, sizeof(b));
	/* KE: group + reserved + at least one octet */
	T_CHECK_INT(parse1(IKE_PL_KE, b, 4), IKE_CODEC_BAD_KE);
	T_CHECK_INT(parse1(IKE_PL_KE, b, 5), IKE_CODEC_OK);
	/* Nonce: 16..256 */
	T_CHECK_INT(parse1(IKE_PL_NONCE, b, 15), IKE_CODEC_BAD_NONCE);
	T_CHECK_INT(parse1(IKE_PL_NONCE, b, 16), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_NONCE, b, 256), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_NONCE, b, 257), IKE_CODEC_BAD_NONCE);
	/* ID */
	b[0] = IKE_ID_IPV4_ADDR;
	T_CHECK_INT(parse1(IKE_PL_IDI, b, 8), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_IDR, b, 7), IKE_CODEC_BAD_ID);
	T_CHECK_INT(parse1(IKE_PL_IDR, b, 9), IKE_CODEC_BAD_ID);
	b[0] = IKE_ID_IPV6_ADDR;
	T_CHECK_INT(parse1(IKE_PL_IDI, b, 20), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_IDI, b, 8), IKE_CODEC_BAD_ID);
	b[0] = IKE_ID_FQDN;
	T_CHECK_INT(parse1(IKE_PL_IDI, b, 4), IKE_CODEC_BAD_ID);
	T_CHECK_INT(parse1(IKE_PL_IDI, b, 5), IKE_CODEC_OK);
	b[0] = IKE_ID_NULL;
	T_CHECK_INT(parse1(IKE_PL_IDI, b, 4), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_IDI, b, 3), IKE_CODEC_BAD_ID);
	/* AUTH */
	b[0] = IKE_AUTH_NULL;
	T_CHECK_INT(parse1(IKE_PL_AUTH, b, 4), IKE_CODEC_BAD_AUTH);
	T_CHECK_INT(parse1(IKE_PL_AUTH, b, 36), IKE_CODEC_OK);
	/* Notify: proto, SPI size, type, SPI */
	memset(b, 0, 16);
	T_CHECK_INT(parse1(IKE_PL_NOTIFY, b, 4), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_NOTIFY, b, 3), IKE_CODEC_BAD_NOTIFY);
	b[1] = 3;
	T_CHECK_INT(parse1(IKE_PL_NOTIFY, b, 16), IKE_CODEC_BAD_NOTIFY);
	b[1] = 8;
	T_CHECK_INT(parse1(IKE_PL_NOTIFY, b, 11), IKE_CODEC_BAD_NOTIFY);
	T_CHECK_INT(parse1(IKE_PL_NOTIFY, b, 12), IKE_CODEC_OK);
	b[0] = 4;
	T_CHECK_INT(parse1(IKE_PL_NOTIFY, b, 12), IKE_CODEC_BAD_NOTIFY);
	/* Delete */
	memset(b, 0, 16);
	b[0] = IKE_PROTO_IKE;
	T_CHECK_INT(parse1(IKE_PL_DELETE, b, 4), IKE_CODEC_OK);
	b[1] = 8;
	T_CHECK_INT(parse1(IKE_PL_DELETE, b, 4), IKE_CODEC_BAD_DELETE);
	b[0] = IKE_PROTO_ESP;
	b[1] = 4;
	b[3] = 2;
	T_CHECK_INT(parse1(IKE_PL_DELETE, b, 12), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_DELETE, b, 11), IKE_CODEC_BAD_DELETE);
	T_CHECK_INT(parse1(IKE_PL_DELETE, b, 16), IKE_CODEC_BAD_DELETE);
	b[1] = 8;
	T_CHECK_INT(parse1(IKE_PL_DELETE, b, 20), IKE_CODEC_BAD_DELETE);
	b[0] = 0;
	b[1] = 4;
	T_CHECK_INT(parse1(IKE_PL_DELETE, b, 12), IKE_CODEC_BAD_DELETE);
	/* CP */
	memset(b, 0, 16);
	b[0] = IKE_CFG_REQUEST;
	b[5] = 1; /* attribute 1, length 0 */
	T_CHECK_INT(parse1(IKE_PL_CP, b, 8), IKE_CODEC_OK);
	b[7] = 4;
	T_CHECK_INT(parse1(IKE_PL_CP, b, 8), IKE_CODEC_BAD_CP);
	T_CHECK_INT(parse1(IKE_PL_CP, b, 12), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_CP, b, 6), IKE_CODEC_BAD_CP);
	b[0] = 5;
	T_CHECK_INT(parse1(IKE_PL_CP, b, 4), IKE_CODEC_BAD_CP);
	b[0] = 0;
	T_CHECK_INT(parse1(IKE_PL_CP, b, 4), IKE_CODEC_BAD_CP);
	/* opaque ones take anything */
	T_CHECK_INT(parse1(IKE_PL_VENDOR, b, 0), IKE_CODEC_OK);
	T_CHECK_INT(parse1(IKE_PL_CERTREQ, b, 3), IKE_CODEC_OK);
}

/* A CP request longer than the attributes we keep still parses (we refuse CP anyway, RFC 7296
 * §3.15.4): the first IKE_MAX_CP_ATTRS kept, the rest checked; a bad one past them is BAD_CP. */
static void test_cp_many_attrs(void)
{
	uint8_t b[4 + 4 * 40], buf[2048];
	struct ike_msg *m = NULL;
	size_t n;

	memset(b, 0, sizeof(b));
	b[0] = IKE_CFG_REQUEST;
	for (unsigned i = 0; i < 40; i++)
		b[4 + 4 * i + 1] = (uint8_t)(1 + i % 20); /* attribute type, length 0 */
	n = mk1(buf, IKE_PL_CP, false, b, sizeof(b));
	T_CHECK_INT(ike_msg_parse(buf, n, &m), IKE_CODEC_OK);
	T_CHECK(m && m->n_pl == 1 && m->pl[0].u.cp.n_attr == IKE_MAX_CP_ATTRS && m->pl[0].u.cp.more);
	ike_msg_free(m);
	b[4 + 4 * 39 + 3] = 8; /* the last one claims 8 octets it does not have */
	T_CHECK_INT(parse1(IKE_PL_CP, b, sizeof(b)), IKE_CODEC_BAD_CP);
}

/* TS: count | rsv(3) | type | proto | len(2) | sport | eport | start | end */
static size_t ts4(uint8_t *o, uint8_t count, uint8_t type, uint16_t len, const char *a,
		  const char *z)
{
	o[0] = count;
	o[1] = o[2] = o[3] = 0;
	o[4] = type;
	o[5] = 0;
	o[6] = (uint8_t)(len >> 8);
	o[7] = (uint8_t)len;
	o[8] = 0xff, o[9] = 0xff, o[10] = 0, o[11] = 0; /* OPAQUE ports: legal */
	memcpy(o + 12, a, 4);
	memcpy(o + 16, z, 4);
	return 20;
}

static void test_validate_ts(void)
{
	uint8_t b[128];
	size_t n;

	n = ts4(b, 1, IKE_TS_IPV4_ADDR_RANGE, 16, "\xc0\0\2\1", "\xc0\0\2\1");
	T_CHECK_INT(parse1(IKE_PL_TSI, b, n), IKE_CODEC_OK);
	n = ts4(b, 0, IKE_TS_IPV4_ADDR_RANGE, 16, "\xc0\0\2\1", "\xc0\0\2\1");
	T_CHECK_INT(parse1(IKE_PL_TSI, b, n), IKE_CODEC_BAD_TS); /* no selectors */
	n = ts4(b, 2, IKE_TS_IPV4_ADDR_RANGE, 16, "\xc0\0\2\1", "\xc0\0\2\1");
	T_CHECK_INT(parse1(IKE_PL_TSI, b, n), IKE_CODEC_BAD_TS); /* count > present */
	n = ts4(b, 1, 9, 16, "\xc0\0\2\1", "\xc0\0\2\1");
	T_CHECK_INT(parse1(IKE_PL_TSR, b, n), IKE_CODEC_BAD_TS); /* type 9 */
	n = ts4(b, 1, IKE_TS_IPV4_ADDR_RANGE, 40, "\xc0\0\2\1", "\xc0\0\2\1");
	T_CHECK_INT(parse1(IKE_PL_TSR, b, n), IKE_CODEC_BAD_TS); /* length of type 8 */
	n = ts4(b, 1, IKE_TS_IPV6_ADDR_RANGE, 16, "\xc0\0\2\1", "\xc0\0\2\1");
	T_CHECK_INT(parse1(IKE_PL_TSR, b, n), IKE_CODEC_BAD_TS); /* type 8, v4 length */
	n = ts4(b, 1, IKE_TS_IPV4_ADDR_RANGE, 16, "\xc0\0\2\2", "\xc0\0\2\1");
	T_CHECK_INT(parse1(IKE_PL_TSR, b, n), IKE_CODEC_BAD_TS); /* start > end */
	n = ts4(b, 1, IKE_TS_IPV4_ADDR_RANGE, 16, "\xc0\0\2\1", "\xc0\0\2\1");
	T_CHECK_INT(parse1(IKE_PL_TSR, b, n + 1), IKE_CODEC_BAD_TS); /* trailing octet */
	T_CHECK_INT(parse1(IKE_PL_TSR, b, n - 1), IKE_CODEC_BAD_TS); /* cut short */
	/* more selectors than the pool: 17 of them */
	uint8_t big[4 + 17 * 16];
	big[0] = 17;
	big[1] = big[2] = big[3] = 0;
	for (int i = 0; i < 17; i++) {
		uint8_t *s = big + 4 + 16 * i;

		memcpy(s, "\x07\x00\x00\x10\x00\x00\xff\xff\x01\x01\x01\x01\x01\x01\x01\x01", 16);
	}
	T_CHECK_INT(parse1(IKE_PL_TSI, big, sizeof(big)), IKE_CODEC_TOO_MANY);
}

static void test_builder_and_names(void)
{
	struct ike_builder b;
	struct ike_payload p;
	uint8_t *out = NULL, idb[64];
	size_t len;

	/* a payload over 64 KiB cannot be encoded */
	static uint8_t huge[70000];
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_VENDOR;
	p.u.raw = (struct ike_bytes){huge, sizeof(huge)};
	ike_build_init(&b, &hdr0);
	ike_build_add(&b, &p);
	T_CHECK_INT(ike_build_finish(&b, NULL, &out, &len), IKE_CODEC_BUILD);
	T_CHECK(out == NULL && b.buf == NULL);
	/* SK is only made by begin_sk */
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_SK;
	ike_build_init(&b, &hdr0);
	ike_build_add(&b, &p);
	T_CHECK_INT(ike_build_finish(&b, NULL, &out, &len), IKE_CODEC_BUILD);
	ike_build_free(&b); /* twice is harmless */
	/* the ID body of §2.15 */
	struct ike_id_pl id = {IKE_ID_FQDN, (const uint8_t *)"a.example", 9};
	T_CHECK_INT(ike_id_body(&id, idb, sizeof(idb)), 13);
	T_CHECK(memcmp(idb, "\x02\0\0\0a.example", 13) == 0);
	T_CHECK_INT(ike_id_body(&id, idb, 12), 0);
	T_CHECK_STR(ike_pl_name(IKE_PL_TSI), "TSi");
	T_CHECK_STR(ike_pl_name(200), "UNKNOWN_PAYLOAD");
	T_CHECK_STR(ike_exch_name(IKE_EXCH_CREATE_CHILD_SA), "CREATE_CHILD_SA");
	T_CHECK_STR(ike_notify_name(IKE_N_INVALID_KE_PAYLOAD), "INVALID_KE_PAYLOAD");
	T_CHECK_STR(ike_notify_name(IKE_N_NAT_DETECTION_DESTINATION_IP),
		    "NAT_DETECTION_DESTINATION_IP");
	T_CHECK_STR(ike_notify_name(1000), "UNKNOWN_ERROR_NOTIFY");
	T_CHECK_STR(ike_xf_name(IKE_XF_DH, IKE_DH_CURVE25519), "CURVE25519");
	T_CHECK_STR(ike_xf_name(IKE_XF_ENCR, IKE_ENCR_AES_GCM_16), "ENCR_AES_GCM_16");
	T_CHECK_STR(ike_id_type_name(IKE_ID_NULL), "ID_NULL");
	T_CHECK_STR(ike_auth_method_name(IKE_AUTH_DIGITAL_SIG), "DIGITAL_SIGNATURE");
	T_CHECK_STR(ike_proto_name(IKE_PROTO_ESP), "ESP");
	T_CHECK_STR(ike_codec_strerror(IKE_CODEC_UNSUPPORTED_CRITICAL_PAYLOAD),
		    "unsupported critical payload");
}

int main(void)
{
	T_RUN(test_roundtrip_plain);
	T_RUN(test_roundtrip_sk);
	T_RUN(test_sk_rejects);
	T_RUN(test_header_chain);
	T_RUN(test_validate_proposals);
	T_RUN(test_validate_transforms);
	T_RUN(test_transform_cap);
	T_RUN(test_validate_small);
	T_RUN(test_cp_many_attrs);
	T_RUN(test_validate_ts);
	T_RUN(test_builder_and_names);
	return t_done();
}
