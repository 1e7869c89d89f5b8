/* Writes the seed corpus of fuzz_ike_msg: real IKEv2 messages made with our builder (each file
 * is the harness's mode octet, then the datagram or SK plaintext). Run from the top directory:
 *   make build/libagent.a build/liboe.a &&
 *   cc -D_GNU_SOURCE -Ilib -Ioe-agent -o build/mkseeds_ike_msg tests/fuzz/mkseeds_ike_msg.c \
 *      build/libagent.a build/liboe.a -lcrypto && build/mkseeds_ike_msg tests/fuzz/corpus/ike_msg
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_codec_int.h"

static const char *dir;

static void put(const char *name, uint8_t mode, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fputc(mode, f) == EOF || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void fixed_key(struct ike_sk_key *k) /* as in fuzz_ike_msg.c */
{
	memset(k, 0, sizeof(*k));
	memset(k->key, 0x42, 16);
	memcpy(k->salt, "oe-k", 4);
	k->key_len = 16;
}

static struct ike_proposal prop[2];
static struct ike_ts ts[2];
static const uint8_t ke[32] = { 0x85, 0x20, 0xf0 }, nonce[32] = { 0x9a, 0x01 };
static const uint8_t natd[20] = { 0x5e }, addr4[4] = { 192, 0, 2, 1 };
static const uint8_t sighash[6] = { 0, 2, 0, 4, 0, 5 }, auth[32] = { 0x77 };

static void setup(void)
{
	prop[0].num = 1;
	prop[0].proto = IKE_PROTO_IKE;
	prop[0].n_xf = 4;
	prop[0].xf[0] = (struct ike_transform){ IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 256, false };
	prop[0].xf[1] = (struct ike_transform){ IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 128, false };
	prop[0].xf[2] = (struct ike_transform){ IKE_XF_PRF, IKE_PRF_HMAC_SHA2_256, 0, false };
	prop[0].xf[3] = (struct ike_transform){ IKE_XF_DH, IKE_DH_CURVE25519, 0, false };
	prop[1].num = 1;
	prop[1].proto = IKE_PROTO_ESP;
	prop[1].spi_size = 4;
	memcpy(prop[1].spi, "\xc0\x01\xd0\x0d", 4);
	prop[1].n_xf = 2;
	prop[1].xf[0] = (struct ike_transform){ IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, 128, false };
	prop[1].xf[1] = (struct ike_transform){ IKE_XF_ESN, IKE_ESN_NO, 0, false };
	ts[0].type = IKE_TS_IPV4_ADDR_RANGE;
	ts[0].eport = 65535;
	oe_addr_parse(&ts[0].start, "192.0.2.1", 9);
	ts[0].end = ts[0].start;
	ts[1].type = IKE_TS_IPV6_ADDR_RANGE;
	ts[1].eport = 65535;
	oe_addr_parse(&ts[1].start, "2001:db8::1", 11);
	ts[1].end = ts[1].start;
}

static void add(struct ike_builder *b, uint8_t type, const void *u, size_t ulen)
{
	struct ike_payload p;

	memset(&p, 0, sizeof(p));
	p.type = type;
	memcpy(&p.u, u, ulen);
	ike_build_add(b, &p);
}

/* The IKE_AUTH payloads, for the encrypted seed and the sealed-plaintext seed. */
static void auth_payloads(struct ike_builder *b)
{
	struct ike_id_pl id = { IKE_ID_IPV4_ADDR, addr4, 4 };
	struct ike_auth_pl a = { IKE_AUTH_NULL, auth, sizeof(auth) };
	struct ike_sa_pl sa = { &prop[1], 1 };
	struct ike_ts_pl t = { ts, 1 };
	struct ike_cp_pl cp = { .cfg_type = IKE_CFG_REQUEST, .n_attr = 1 };

	add(b, IKE_PL_IDI, &id, sizeof(id));
	add(b, IKE_PL_AUTH, &a, sizeof(a));
	ike_build_notify(b, IKE_N_INITIAL_CONTACT, NULL, 0);
	ike_build_notify(b, IKE_N_USE_TRANSPORT_MODE, NULL, 0);
	add(b, IKE_PL_SA, &sa, sizeof(sa));
	add(b, IKE_PL_TSI, &t, sizeof(t));
	t.ts = ts + 1;
	add(b, IKE_PL_TSR, &t, sizeof(t));
	cp.attr[0].type = 1;
	add(b, IKE_PL_CP, &cp, sizeof(cp));
}

static void finish(struct ike_builder *b, struct ike_sk_key *k, const char *name)
{
	uint8_t *out;
	size_t len;

	if (ike_build_finish(b, k, &out, &len) != IKE_CODEC_OK) {
		fprintf(stderr, "%s: build failed\n", name);
		exit(1);
	}
	put(name, 0, out, len);
	if (!k) { /* the same payload chain as SK plaintext: mode 1, first type, chain, pad 0 */
		uint8_t *pt = malloc(len - IKE_HDR_LEN + 2);

		pt[0] = out[16];
		memcpy(pt + 1, out + IKE_HDR_LEN, len - IKE_HDR_LEN);
		pt[len - IKE_HDR_LEN + 1] = 0;
		char n2[128];
		snprintf(n2, sizeof(n2), "sealed_%s", name);
		put(n2, 1, pt, len - IKE_HDR_LEN + 2);
		free(pt);
	}
	free(out);
}

int main(int argc, char **argv)
{
	struct ike_hdr h = { .spi_i = { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8 },
			     .exch = IKE_EXCH_SA_INIT, .flags = IKE_FLAG_I };
	struct ike_builder b;
	struct ike_sk_key k;
	struct ike_sa_pl sa = { prop, 1 };
	struct ike_ke_pl kp = { IKE_DH_CURVE25519, ke, sizeof(ke) };
	struct ike_bytes np = { nonce, sizeof(nonce) };

	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds_ike_msg DIR\n");
		return 2;
	}
	dir = argv[1];
	setup();
	/* IKE_SA_INIT request */
	ike_build_init(&b, &h);
	add(&b, IKE_PL_SA, &sa, sizeof(sa));
	add(&b, IKE_PL_KE, &kp, sizeof(kp));
	add(&b, IKE_PL_NONCE, &np, sizeof(np));
	ike_build_notify(&b, IKE_N_NAT_DETECTION_SOURCE_IP, natd, sizeof(natd));
	ike_build_notify(&b, IKE_N_NAT_DETECTION_DESTINATION_IP, natd, sizeof(natd));
	ike_build_notify(&b, IKE_N_SIGNATURE_HASH_ALGORITHMS, sighash, sizeof(sighash));
	finish(&b, NULL, "sa_init_req");
	/* responses: COOKIE, INVALID_KE_PAYLOAD, and a full one */
	memset(h.spi_r, 0xb1, 8);
	h.flags = IKE_FLAG_R;
	ike_build_init(&b, &h);
	ike_build_notify(&b, IKE_N_COOKIE, natd, sizeof(natd));
	finish(&b, NULL, "sa_init_cookie");
	ike_build_init(&b, &h);
	ike_build_notify(&b, IKE_N_INVALID_KE_PAYLOAD, "\x00\x13", 2);
	finish(&b, NULL, "sa_init_invalid_ke");
	ike_build_init(&b, &h);
	add(&b, IKE_PL_SA, &sa, sizeof(sa));
	add(&b, IKE_PL_KE, &kp, sizeof(kp));
	add(&b, IKE_PL_NONCE, &np, sizeof(np));
	add(&b, IKE_PL_CERTREQ, &np, sizeof(np));
	add(&b, IKE_PL_VENDOR, &np, sizeof(np));
	finish(&b, NULL, "sa_init_resp");
	/* IKE_AUTH request, encrypted with the fuzzer's fixed key, and its plaintext */
	h.exch = IKE_EXCH_AUTH;
	h.flags = IKE_FLAG_I;
	h.msgid = 1;
	fixed_key(&k);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	auth_payloads(&b);
	finish(&b, &k, "auth_req_sk");
	ike_build_init(&b, &h);
	auth_payloads(&b);
	finish(&b, NULL, "auth_req");
	/* INFORMATIONAL: delete of two ESP SAs; an empty liveness check; delete of the IKE SA */
	h.exch = IKE_EXCH_INFORMATIONAL;
	h.msgid = 2;
	struct ike_delete_pl d = { IKE_PROTO_ESP, 4, 2, (const uint8_t *)"\xc0\x01\xd0\x0d\0\0\0\7" };
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	add(&b, IKE_PL_DELETE, &d, sizeof(d));
	finish(&b, &k, "info_delete_sk");
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	finish(&b, &k, "info_empty_sk");
	d = (struct ike_delete_pl){ IKE_PROTO_IKE, 0, 0, NULL };
	ike_build_init(&b, &h);
	add(&b, IKE_PL_DELETE, &d, sizeof(d));
	finish(&b, NULL, "info_delete_ike");
	/* CREATE_CHILD_SA rekey of a Child SA with PFS */
	h.exch = IKE_EXCH_CREATE_CHILD_SA;
	h.msgid = 3;
	ike_build_init(&b, &h);
	ike_build_notify_spi(&b, IKE_PROTO_ESP, (const uint8_t *)"\xc0\x01\xd0\x0d", 4,
			     IKE_N_REKEY_SA, NULL, 0);
	sa.prop = &prop[1];
	add(&b, IKE_PL_SA, &sa, sizeof(sa));
	add(&b, IKE_PL_NONCE, &np, sizeof(np));
	add(&b, IKE_PL_KE, &kp, sizeof(kp));
	finish(&b, NULL, "create_child_rekey");
	return 0;
}
