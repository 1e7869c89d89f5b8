/* libFuzzer harness for the IKEv2 message parser (oe-agent/ike/ike_msg.c, ike_payload.c,
 * ike_sk.c). Input byte 0 picks the mode: even = the rest is a datagram (parsed, then its SK
 * decrypted with the fixed key the seed generator used); odd = byte 1 names the first inner
 * payload and the rest is SK plaintext, sealed here so the inner chain's validators are reached.
 * Property: whatever parses is rebuilt by the builder and parses again to the same payloads. */
#include <stdlib.h>
#include <string.h>

#include "ike/ike_codec_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key of tests/fuzz/mkseeds_ike_msg.c's encrypted seeds. */
static void fixed_key(struct ike_sk_key *k)
{
	memset(k, 0, sizeof(*k));
	memset(k->key, 0x42, 16);
	memcpy(k->salt, "oe-k", 4);
	k->key_len = 16;
}

/* Rebuilds m's payloads (outer and inner, SK excluded) as a plain message and parses it. */
static void rebuild(const struct ike_msg *m)
{
	struct ike_builder b;
	struct ike_msg *m2 = NULL;
	uint8_t *out = NULL;
	size_t len = 0, j = 0;

	ike_build_init(&b, &m->hdr);
	for (size_t i = 0; i < m->n_pl; i++)
		if (m->pl[i].type != IKE_PL_SK)
			ike_build_add(&b, &m->pl[i]);
	if (ike_build_finish(&b, NULL, &out, &len) != IKE_CODEC_OK)
		return; /* e.g. inner payloads that together pass 64 KiB */
	if (ike_msg_parse(out, len, &m2) != IKE_CODEC_OK)
		abort();
	for (size_t i = 0; i < m->n_pl; i++) {
		if (m->pl[i].type == IKE_PL_SK)
			continue;
		if (j >= m2->n_pl || m2->pl[j].type != m->pl[i].type ||
		    m2->pl[j].critical != m->pl[i].critical)
			abort();
		j++;
	}
	if (j != m2->n_pl)
		abort();
	ike_msg_free(m2);
	free(out);
}

static void parse_datagram(const uint8_t *data, size_t size)
{
	struct ike_msg *m = NULL;
	struct ike_sk_key k;
	enum ike_codec_status st = ike_msg_parse(data, size, &m);

	if (st == IKE_CODEC_OK && m->has_sk) {
		fixed_key(&k);
		st = ike_msg_decrypt(m, &k);
	}
	if (st == IKE_CODEC_OK)
		rebuild(m);
	ike_msg_free(m);
}

/* header (28) | SK generic header (4) | IV (8) | plaintext | ICV (16) */
static void parse_sealed(uint8_t inner_next, const uint8_t *pt, size_t n)
{
	static const uint8_t iv[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	struct ike_sk_key k;
	size_t len = IKE_HDR_LEN + 4 + 8 + n + 16;
	uint8_t *buf;

	if (n == 0 || len > 65535)
		return;
	buf = calloc(1, len);
	if (!buf)
		return;
	memset(buf, 0x11, 16); /* SPIs */
	buf[16] = IKE_PL_SK;
	buf[17] = IKE_VERSION;
	buf[18] = IKE_EXCH_AUTH;
	buf[19] = IKE_FLAG_I;
	buf[23] = 1;
	buf[24] = (uint8_t)(len >> 24);
	buf[25] = (uint8_t)(len >> 16);
	buf[26] = (uint8_t)(len >> 8);
	buf[27] = (uint8_t)len;
	buf[28] = inner_next;
	buf[30] = (uint8_t)((len - IKE_HDR_LEN) >> 8);
	buf[31] = (uint8_t)(len - IKE_HDR_LEN);
	memcpy(buf + 32, iv, 8);
	memcpy(buf + 40, pt, n);
	fixed_key(&k);
	if (ike_sk_seal(&k, iv, buf, 32, buf + 40, n, buf + 40 + n) == IKE_CODEC_OK)
		parse_datagram(buf, len);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (size >= 2)
			parse_sealed(data[1], data + 2, size - 2);
	} else {
		parse_datagram(data + 1, size - 1);
	}
	return 0;
}
