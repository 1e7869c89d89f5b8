/* IKE_SA_INIT + IKE_AUTH made with nothing but the codec and crypto mechanics (no engine).
 * Without arguments: an initiator and a minimal responder written here, in one process, for each
 * signature kind and DH group. "initiator LOCAL PEER KEY PEERPUB [OPTIONS]" and "responder LOCAL
 * KEY PEERPUB": one side on the wire against a real peer (tests/netns/ike_strongswan.sh runs
 * strongSwan's charon), which checks key derivation, SK payloads, signed octets, signature
 * formats and the parser on real messages against another implementation. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ike/ike_crypto_int.h"
#include "t.h"

struct side {
	bool initiator;
	EVP_PKEY *key;	/* our private key, owned */
	EVP_PKEY *peer; /* the other side's public key, owned */
	unsigned group;
	unsigned prf, encr_bits;  /* 0: PRF_HMAC_SHA2_256, 256 */
	uint8_t ike_num, esp_num; /* responder: numbers of the proposals it accepted */
	unsigned esp_bits;	  /* responder: key size of the accepted ESP proposal */
	unsigned max_xf;	  /* responder: most transforms in one offered IKE proposal */
	struct ike_dh *dh;
	uint8_t spi_i[8], spi_r[8], ni[32], nr[32];
	uint8_t addr[4], peer_addr[4];
	unsigned peer_hashes;
	bool no_sighash;	   /* leave SIGNATURE_HASH_ALGORITHMS out: RSA then uses method 1 */
	bool null_auth;		   /* authenticate with ID_NULL and AUTH_NULL (RFC 7619) */
	enum ike_sig_alg peer_alg; /* what the peer's AUTH was made with */
	uint8_t *init_msg;	   /* our IKE_SA_INIT message as sent, owned */
	size_t init_len;
	struct ike_sa_keys keys;
	char why[200]; /* the first failure */
};

static int fail(struct side *s, const char *what, const char *detail)
{
	if (!s->why[0])
		snprintf(s->why, sizeof(s->why), "%s: %s", what, detail);
	return -1;
}

static void side_free(struct side *s)
{
	EVP_PKEY_free(s->key);
	EVP_PKEY_free(s->peer);
	ike_dh_free(s->dh);
	free(s->init_msg);
	ike_sa_keys_wipe(&s->keys);
}

static unsigned prf_of(const struct side *s)
{
	return s->prf ? s->prf : IKE_PRF_HMAC_SHA2_256;
}

static unsigned bits_of(const struct side *s)
{
	return s->encr_bits ? s->encr_bits : 256;
}

static struct ike_proposal ike_prop(const struct side *s)
{
	struct ike_proposal p = {
	    .num = s->ike_num ? s->ike_num : 1, .proto = IKE_PROTO_IKE, .n_xf = 3};

	p.xf[0] =
	    (struct ike_transform){IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, (uint16_t)bits_of(s), false};
	p.xf[1] = (struct ike_transform){IKE_XF_PRF, (uint16_t)prf_of(s), 0, false};
	p.xf[2] = (struct ike_transform){IKE_XF_DH, (uint16_t)s->group, 0, false};
	return p;
}

static void add_pl(struct ike_builder *b, uint8_t type, const void *u, size_t n)
{
	struct ike_payload p;

	memset(&p, 0, sizeof(p));
	p.type = type;
	memcpy(&p.u, u, n);
	ike_build_add(b, &p);
}

/* SA, KE, Nonce, SIGNATURE_HASH_ALGORITHMS: the first message of either side. */
static int build_init(struct side *s, uint8_t **out, size_t *len)
{
	struct ike_hdr h = {.exch = IKE_EXCH_SA_INIT};
	struct ike_proposal prop = ike_prop(s);
	struct ike_sa_pl sa = {&prop, 1};
	uint8_t pub[256], sh[16];
	size_t publen, shlen = ike_sighash_notify_data(sh, sizeof(sh));
	struct ike_builder b;

	if ((!s->dh && ike_dh_new(s->group, &s->dh) != IKE_CRYPTO_OK) ||
	    ike_dh_public(s->dh, pub, sizeof(pub), &publen) != IKE_CRYPTO_OK)
		return fail(s, "init", "DH");
	memcpy(h.spi_i, s->spi_i, 8);
	memcpy(h.spi_r, s->spi_r, 8);
	h.flags = s->initiator ? IKE_FLAG_I : IKE_FLAG_R;
	struct ike_ke_pl ke = {(uint16_t)s->group, pub, publen};
	struct ike_bytes n = {s->initiator ? s->ni : s->nr, 32};
	ike_build_init(&b, &h);
	add_pl(&b, IKE_PL_SA, &sa, sizeof(sa));
	add_pl(&b, IKE_PL_KE, &ke, sizeof(ke));
	add_pl(&b, IKE_PL_NONCE, &n, sizeof(n));
	if (!s->no_sighash)
		ike_build_notify(&b, IKE_N_SIGNATURE_HASH_ALGORITHMS, sh, shlen);
	if (ike_build_finish(&b, NULL, out, len) != IKE_CODEC_OK)
		return fail(s, "init", "build");
	s->init_msg = malloc(*len);
	memcpy(s->init_msg, *out, *len);
	s->init_len = *len;
	return 0;
}

/* The key size of an AES-GCM-16 transform we take (128 or 256), else 0. */
static unsigned gcm_bits(const struct ike_transform *x)
{
	if (x->type != IKE_XF_ENCR || x->id != IKE_ENCR_AES_GCM_16 || x->unknown_attr)
		return 0;
	return x->key_len == 128 || x->key_len == 256 ? x->key_len : 0;
}

/* Responder: the first IKE proposal with AES-GCM-16, an HMAC-SHA2 PRF and the KE's group. */
static int select_ike(struct side *s, const struct ike_msg *m, unsigned ke_group)
{
	const struct ike_payload *sa = ike_msg_find(m, IKE_PL_SA, NULL);

	for (size_t i = 0; sa && i < sa->u.sa.n_prop; i++) {
		const struct ike_proposal *p = &sa->u.sa.prop[i];
		unsigned bits = 0, prf = 0;
		bool dh = false;

		for (unsigned j = 0; p->proto == IKE_PROTO_IKE && j < p->n_xf; j++) {
			const struct ike_transform *x = &p->xf[j];

			if (!bits)
				bits = gcm_bits(x);
			if (!prf && x->type == IKE_XF_PRF && ike_prf_supported(x->id))
				prf = x->id;
			dh |= x->type == IKE_XF_DH && x->id == ke_group;
		}
		if (p->n_xf > s->max_xf)
			s->max_xf = p->n_xf;
		if (bits && prf && dh && ike_dh_supported(ke_group) && !s->ike_num) {
			s->ike_num = p->num;
			s->encr_bits = bits;
			s->prf = prf;
			s->group = ke_group;
		}
	}
	if (s->ike_num)
		return 0;
	return fail(s, "IKE_SA_INIT", "no acceptable IKE proposal (or KE of another group)");
}

/* Responder: the first ESP proposal with AES-GCM-16. */
static int select_esp(struct side *s, const struct ike_msg *m)
{
	const struct ike_payload *sa = ike_msg_find(m, IKE_PL_SA, NULL);

	for (size_t i = 0; sa && i < sa->u.sa.n_prop; i++) {
		const struct ike_proposal *p = &sa->u.sa.prop[i];

		for (unsigned j = 0; p->proto == IKE_PROTO_ESP && j < p->n_xf; j++) {
			if (gcm_bits(&p->xf[j])) {
				s->esp_num = p->num;
				s->esp_bits = gcm_bits(&p->xf[j]);
				return 0;
			}
		}
	}
	return fail(s, "IKE_AUTH", "no acceptable ESP proposal");
}

/* Takes the other side's IKE_SA_INIT: its nonce, KE and hashes; derives the IKE SA keys. */
static int take_init(struct side *s, const uint8_t *buf, size_t len)
{
	struct ike_msg *m = NULL;
	const struct ike_payload *ke, *no;
	const struct ike_notify_pl *n;
	struct ike_secret gir;
	enum ike_codec_status st = ike_msg_parse(buf, len, &m);
	int rc = -1;

	if (st != IKE_CODEC_OK) {
		fail(s, "IKE_SA_INIT parse", ike_codec_strerror(st));
		goto out;
	}
	ke = ike_msg_find(m, IKE_PL_KE, NULL);
	no = ike_msg_find(m, IKE_PL_NONCE, NULL);
	if ((n = ike_msg_notify(m, IKE_N_INVALID_KE_PAYLOAD)) || (n = ike_msg_notify(m, 14)) ||
	    !ke || !no || no->u.nonce.len != 32) {
		fail(s, "IKE_SA_INIT",
		     n ? ike_notify_name(n->type) : "KE or 32-octet nonce missing");
		goto out;
	}
	if (!s->initiator && select_ike(s, m, ke->u.ke.group) != 0)
		goto out;
	if ((n = ike_msg_notify(m, IKE_N_SIGNATURE_HASH_ALGORITHMS)))
		ike_sighash_notify_parse(n->data, n->len, &s->peer_hashes);
	memcpy(s->initiator ? s->nr : s->ni, no->u.nonce.data, 32);
	memcpy(s->spi_i, m->hdr.spi_i, 8);
	if (s->initiator)
		memcpy(s->spi_r, m->hdr.spi_r, 8);
	if (!s->dh && ike_dh_new(s->group, &s->dh) != IKE_CRYPTO_OK) {
		fail(s, "IKE_SA_INIT", "DH keygen");
		goto out;
	}
	if (ike_dh_derive(s->dh, ke->u.ke.data, ke->u.ke.len, &gir) != IKE_CRYPTO_OK) {
		fail(s, "IKE_SA_INIT", "DH derive");
		goto out;
	}
	if (ike_derive_sa_keys(prf_of(s), bits_of(s), &gir, s->ni, 32, s->nr, 32, s->spi_i,
			       s->spi_r, &s->keys, NULL) != IKE_CRYPTO_OK)
		fail(s, "IKE_SA_INIT", "key derivation");
	else
		rc = 0;
	ike_secret_wipe(&gir);
out:
	ike_msg_free(m);
	return rc;
}

/* IDx, AUTH (signed octets of §2.15), SA (ESP), TSi, TSr, all in SK. */
static int build_auth(struct side *s, uint8_t **out, size_t *len)
{
	struct ike_hdr h = {.exch = IKE_EXCH_AUTH, .msgid = 1};
	struct ike_id_pl id = {IKE_ID_IPV4_ADDR, s->addr, 4};
	struct ike_proposal esp = {.num = 1, .proto = IKE_PROTO_ESP, .spi_size = 4, .n_xf = 2};
	struct ike_ts ts[2];
	uint8_t *oct = NULL, *sig = NULL, method = 0;
	const uint8_t *sk_p = s->initiator ? s->keys.sk_pi : s->keys.sk_pr;
	size_t olen, siglen;
	struct ike_builder b;
	enum ike_sig_alg alg = ike_sig_alg_for_key(s->key, s->peer_hashes);
	enum ike_crypto_status cs;

	if (s->null_auth)
		id = (struct ike_id_pl){IKE_ID_NULL, NULL, 0};
	cs = ike_auth_octets(prf_of(s), sk_p, s->keys.prf_len, s->init_msg, s->init_len,
			     s->initiator ? s->nr : s->ni, 32, &id, &oct, &olen);
	if (cs == IKE_CRYPTO_OK && s->null_auth) {
		method = IKE_AUTH_NULL;
		siglen = s->keys.prf_len;
		sig = malloc(IKE_PRF_MAX);
		cs = sig ? ike_auth_null(prf_of(s), sk_p, s->keys.prf_len, oct, olen, sig)
			 : IKE_CRYPTO_NOMEM;
	} else if (cs == IKE_CRYPTO_OK) {
		cs = ike_auth_sign(s->key, alg, oct, olen, &method, &sig, &siglen);
	}
	free(oct);
	if (cs != IKE_CRYPTO_OK)
		return fail(s, "AUTH sign", ike_crypto_strerror(cs));
	memcpy(h.spi_i, s->spi_i, 8);
	memcpy(h.spi_r, s->spi_r, 8);
	h.flags = s->initiator ? IKE_FLAG_I : IKE_FLAG_R;
	memcpy(esp.spi, "\xc1\x00\x00\x01", 4);
	if (s->esp_num)
		esp.num = s->esp_num;
	esp.xf[0] =
	    (struct ike_transform){IKE_XF_ENCR, IKE_ENCR_AES_GCM_16,
				   (uint16_t)(s->esp_bits ? s->esp_bits : bits_of(s)), false};
	esp.xf[1] = (struct ike_transform){IKE_XF_ESN, IKE_ESN_NO, 0, false};
	memset(ts, 0, sizeof(ts));
	for (int i = 0; i < 2; i++) {
		const uint8_t *a = (i == 0) == s->initiator ? s->addr : s->peer_addr;

		ts[i].type = IKE_TS_IPV4_ADDR_RANGE;
		ts[i].eport = 65535;
		ts[i].start.af = ts[i].end.af = AF_INET;
		memcpy(ts[i].start.b, a, 4);
		memcpy(ts[i].end.b, a, 4);
	}
	struct ike_auth_pl auth = {method, sig, siglen};
	struct ike_sa_pl sa = {&esp, 1};
	struct ike_ts_pl tsi = {&ts[0], 1}, tsr = {&ts[1], 1};
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	add_pl(&b, s->initiator ? IKE_PL_IDI : IKE_PL_IDR, &id, sizeof(id));
	add_pl(&b, IKE_PL_AUTH, &auth, sizeof(auth));
	add_pl(&b, IKE_PL_SA, &sa, sizeof(sa));
	add_pl(&b, IKE_PL_TSI, &tsi, sizeof(tsi));
	add_pl(&b, IKE_PL_TSR, &tsr, sizeof(tsr));
	enum ike_codec_status st =
	    ike_build_finish(&b, s->initiator ? &s->keys.sk_ei : &s->keys.sk_er, out, len);
	free(sig);
	return st == IKE_CODEC_OK ? 0 : fail(s, "IKE_AUTH build", ike_codec_strerror(st));
}

/* Decrypts the other side's IKE_AUTH and verifies its AUTH over its signed octets. */
static int take_auth(struct side *s, const uint8_t *buf, size_t len, const uint8_t *peer_init,
		     size_t peer_init_len)
{
	struct ike_msg *m = NULL;
	const struct ike_payload *id, *auth;
	const struct ike_notify_pl *n;
	uint8_t *oct = NULL;
	size_t olen;
	enum ike_crypto_status cs;
	enum ike_codec_status st = ike_msg_parse(buf, len, &m);
	int rc = -1;

	if (st == IKE_CODEC_OK)
		st = ike_msg_decrypt(m, s->initiator ? &s->keys.sk_er : &s->keys.sk_ei);
	if (st != IKE_CODEC_OK) {
		fail(s, "IKE_AUTH decrypt", ike_codec_strerror(st));
		goto out;
	}
	if ((n = ike_msg_notify(m, IKE_N_AUTHENTICATION_FAILED))) {
		fail(s, "IKE_AUTH", "the peer answered AUTHENTICATION_FAILED");
		goto out;
	}
	if (!s->initiator && select_esp(s, m) != 0)
		goto out;
	id = ike_msg_find(m, s->initiator ? IKE_PL_IDR : IKE_PL_IDI, NULL);
	auth = ike_msg_find(m, IKE_PL_AUTH, NULL);
	if (!id || !auth) {
		fail(s, "IKE_AUTH", "no ID or AUTH payload");
		goto out;
	}
	cs = ike_auth_octets(prf_of(s), s->initiator ? s->keys.sk_pr : s->keys.sk_pi,
			     s->keys.prf_len, peer_init, peer_init_len,
			     s->initiator ? s->ni : s->nr, 32, &id->u.id, &oct, &olen);
	if (cs == IKE_CRYPTO_OK && auth->u.auth.method == IKE_AUTH_NULL)
		cs = ike_auth_null_verify(prf_of(s), s->initiator ? s->keys.sk_pr : s->keys.sk_pi,
					  s->keys.prf_len, oct, olen, auth->u.auth.data,
					  auth->u.auth.len);
	else if (cs == IKE_CRYPTO_OK)
		cs = ike_auth_verify(s->peer, auth->u.auth.method, auth->u.auth.data,
				     auth->u.auth.len, oct, olen, 0, &s->peer_alg);
	free(oct);
	if (cs != IKE_CRYPTO_OK)
		fail(s, "IKE_AUTH verify", ike_crypto_strerror(cs));
	else
		rc = 0;
out:
	ike_msg_free(m);
	return rc;
}

/* ==== in-process: initiator and responder ==================================================== */

static EVP_PKEY *keygen(const char *kind)
{
	if (!strcmp(kind, "rsa"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!strcmp(kind, "ecdsa"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

static void exchange(const char *kind, unsigned group, unsigned prf, unsigned bits, bool tamper,
		     bool null_i)
{
	struct side i = {.initiator = true, .group = group, .prf = prf, .encr_bits = bits};
	struct side r = {.group = group, .prf = prf, .encr_bits = bits};

	i.null_auth = null_i;
	uint8_t *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
	size_t l1, l2, l3, l4;

	i.key = keygen(kind);
	r.key = keygen(kind);
	i.peer = EVP_PKEY_dup(r.key); /* the private key holds the public one */
	r.peer = EVP_PKEY_dup(i.key);
	memcpy(i.addr, "\xc0\0\2\1", 4);
	memcpy(r.peer_addr, i.addr, 4);
	memcpy(r.addr, "\xc0\0\2\2", 4);
	memcpy(i.peer_addr, r.addr, 4);
	memset(i.spi_i, 0x1a, 8);
	memset(r.spi_r, 0x2b, 8);
	ike_nonce(i.ni, 32);
	ike_nonce(r.nr, 32);
	if (!build_init(&i, &m1, &l1) && !take_init(&r, m1, l1) && !build_init(&r, &m2, &l2))
		(void)take_init(&i, m2, l2);
	T_CHECK(m1 && m2 && !i.why[0] && !r.why[0]);
	if (tamper) /* the responder signs over another nonce: must not verify */
		r.ni[0] ^= 1;
	if (m2 && !build_auth(&i, &m3, &l3) && !take_auth(&r, m3, l3, m1, l1) &&
	    !build_auth(&r, &m4, &l4))
		(void)take_auth(&i, m4, l4, m2, l2);
	if (tamper) {
		T_CHECK(r.why[0] || i.why[0]);
	} else {
		if (i.why[0] || r.why[0])
			printf("#   %s/%u: %s%s\n", kind, group, i.why, r.why);
		T_CHECK(!i.why[0] && !r.why[0]);
		T_CHECK(memcmp(i.keys.sk_d, r.keys.sk_d, 32) == 0);
		T_CHECK(m4 != NULL);
	}
	free(m1);
	free(m2);
	free(m3);
	free(m4);
	side_free(&i);
	side_free(&r);
}

static void test_in_process(void)
{
	exchange("rsa", IKE_DH_CURVE25519, 0, 0, false, false);
	exchange("ecdsa", IKE_DH_ECP256, IKE_PRF_HMAC_SHA2_512, 128, false, false);
	exchange("ed25519", IKE_DH_MODP2048, 0, 128, false, false);
	exchange("ecdsa", IKE_DH_CURVE25519, 0, 0, true, false);
	/* RFC 7619: an initiator with ID_NULL + AUTH_NULL, a responder with a key */
	exchange("ed25519", IKE_DH_CURVE25519, IKE_PRF_HMAC_SHA2_512, 256, false, true);
	exchange("ed25519", IKE_DH_CURVE25519, 0, 256, true, true);
}

/* ==== on the wire ============================================================================ */

static EVP_PKEY *read_key(const char *path, bool priv)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f)
		return NULL;
	k = priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

/* Sends buf and waits (3 s at most) for the answer with the given message ID. */
static int roundtrip(struct side *s, int fd, const uint8_t *buf, size_t len, uint32_t msgid,
		     uint8_t *ans, size_t cap, size_t *ans_len)
{
	struct pollfd p = {fd, POLLIN, 0};
	struct ike_hdr h;

	if (send(fd, buf, len, 0) != (ssize_t)len)
		return fail(s, "send", "failed");
	for (int tries = 0; tries < 10; tries++) {
		if (poll(&p, 1, 3000) != 1)
			return fail(s, "receive", "no answer in 3 s");
		ssize_t n = recv(fd, ans, cap, 0);
		if (n > 0 && ike_hdr_parse(ans, (size_t)n, &h) == IKE_CODEC_OK &&
		    h.msgid == msgid && (h.flags & IKE_FLAG_R)) {
			*ans_len = (size_t)n;
			return 0;
		}
	}
	return fail(s, "receive", "no answer with the message ID");
}

/* Options after the key files: method1 (no SIGNATURE_HASH_ALGORITHMS), null (ID_NULL and
 * AUTH_NULL for us), p256, modp2048, aes128, sha512. */
static int wire(const char *local, const char *peer, const char *key, const char *peerpub,
		char **opt, int n_opt)
{
	struct side s = {.initiator = true, .group = IKE_DH_CURVE25519};

	for (int i = 0; i < n_opt; i++) {
		if (!strcmp(opt[i], "method1"))
			s.no_sighash = true;
		else if (!strcmp(opt[i], "null"))
			s.null_auth = true;
		else if (!strcmp(opt[i], "p256"))
			s.group = IKE_DH_ECP256;
		else if (!strcmp(opt[i], "modp2048"))
			s.group = IKE_DH_MODP2048;
		else if (!strcmp(opt[i], "aes128"))
			s.encr_bits = 128;
		else if (!strcmp(opt[i], "sha512"))
			s.prf = IKE_PRF_HMAC_SHA2_512;
		else
			return fprintf(stderr, "test_ike_wire: unknown option %s\n", opt[i]), 2;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(500)};
	uint8_t *m1 = NULL, *m3 = NULL, m2[4096], m4[4096];
	size_t l1, l2, l3, l4;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = 1;

	s.key = read_key(key, true);
	s.peer = read_key(peerpub, false);
	if (!s.key || !s.peer || inet_pton(AF_INET, local, s.addr) != 1 ||
	    inet_pton(AF_INET, peer, s.peer_addr) != 1 || fd < 0) {
		fprintf(stderr, "test_ike_wire: bad arguments or keys\n");
		goto out;
	}
	memcpy(&a.sin_addr, s.addr, 4);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("bind");
		goto out;
	}
	memcpy(&a.sin_addr, s.peer_addr, 4);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("connect");
		goto out;
	}
	RAND_bytes(s.spi_i, 8);
	ike_nonce(s.ni, 32);
	if (build_init(&s, &m1, &l1) || roundtrip(&s, fd, m1, l1, 0, m2, sizeof(m2), &l2) ||
	    take_init(&s, m2, l2) || build_auth(&s, &m3, &l3) ||
	    roundtrip(&s, fd, m3, l3, 1, m4, sizeof(m4), &l4) || take_auth(&s, m4, l4, m2, l2)) {
		printf("FAIL %s\n", s.why);
		goto out;
	}
	printf("OK we signed %s, the peer %s\n",
	       ike_sig_alg_name(ike_sig_alg_for_key(s.key, s.peer_hashes)),
	       ike_sig_alg_name(s.peer_alg));
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(m1);
	free(m3);
	side_free(&s);
	return rc;
}

/* Waits (15 s at most) for a request with the message ID; a retransmitted earlier request is
 * answered again with last (RFC 7296 §2.1). The socket is connected to the sender. */
static int wait_request(struct side *s, int fd, uint32_t msgid, const uint8_t *last,
			size_t last_len, uint8_t *buf, size_t cap, size_t *len)
{
	struct pollfd p = {fd, POLLIN, 0};
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	struct ike_hdr h;

	for (int tries = 0; tries < 20; tries++) {
		if (poll(&p, 1, 15000) != 1)
			return fail(s, "receive", "no request in 15 s");
		ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &fl);
		if (n <= 0 || ike_hdr_parse(buf, (size_t)n, &h) != IKE_CODEC_OK ||
		    (h.flags & IKE_FLAG_R))
			continue;
		if (msgid == 0 && connect(fd, (struct sockaddr *)&from, fl) != 0)
			return fail(s, "connect", "failed");
		if (h.msgid == msgid) {
			*len = (size_t)n;
			return 0;
		}
		if (last && h.msgid + 1 == msgid)
			(void)send(fd, last, last_len, 0);
	}
	return fail(s, "receive", "no request with the message ID");
}

/* The responder on the wire: answers one IKE_SA_INIT and one IKE_AUTH from a real initiator. */
static int wire_responder(const char *local, const char *key, const char *peerpub)
{
	struct side s = {.initiator = false, .group = IKE_DH_CURVE25519};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(500)};
	uint8_t *m2 = NULL, *m4 = NULL, m1[8192], m3[8192];
	size_t l1, l2, l3, l4;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = 1;

	s.key = read_key(key, true);
	s.peer = read_key(peerpub, false);
	if (!s.key || !s.peer || inet_pton(AF_INET, local, s.addr) != 1 || fd < 0) {
		fprintf(stderr, "test_ike_wire: bad arguments or keys\n");
		goto out;
	}
	memcpy(&a.sin_addr, s.addr, 4);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("bind");
		goto out;
	}
	RAND_bytes(s.spi_r, 8);
	ike_nonce(s.nr, 32);
	if (wait_request(&s, fd, 0, NULL, 0, m1, sizeof(m1), &l1) || take_init(&s, m1, l1) ||
	    build_init(&s, &m2, &l2) || send(fd, m2, l2, 0) != (ssize_t)l2 ||
	    wait_request(&s, fd, 1, m2, l2, m3, sizeof(m3), &l3)) {
		printf("FAIL %s\n", s.why);
		goto out;
	}
	{
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);

		if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
			memcpy(s.peer_addr, &peer.sin_addr, 4);
	}
	if (take_auth(&s, m3, l3, m1, l1) || build_auth(&s, &m4, &l4) ||
	    send(fd, m4, l4, 0) != (ssize_t)l4) {
		printf("FAIL %s\n", s.why);
		goto out;
	}
	printf("OK chose %s/%u PRF %s DH %u (of up to %u transforms), ESP proposal %u; we signed "
	       "%s, the peer %s\n",
	       ike_xf_name(IKE_XF_ENCR, IKE_ENCR_AES_GCM_16), bits_of(&s),
	       ike_xf_name(IKE_XF_PRF, prf_of(&s)), s.group, s.max_xf, s.esp_num,
	       ike_sig_alg_name(ike_sig_alg_for_key(s.key, s.peer_hashes)),
	       ike_sig_alg_name(s.peer_alg));
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(m2);
	free(m4);
	side_free(&s);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "responder"))
		return wire_responder(argv[2], argv[3], argv[4]);
	if (argc >= 6 && !strcmp(argv[1], "initiator"))
		return wire(argv[2], argv[3], argv[4], argv[5], argv + 6, argc - 6);
	T_RUN(test_in_process);
	return t_done();
}
