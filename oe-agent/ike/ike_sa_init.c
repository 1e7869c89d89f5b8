/* IKE_SA_INIT (RFC 7296 §1.2), both roles: proposals, KE and nonces, the stateless answers of
 * a responder (COOKIE under load §2.6, INVALID_KE_PAYLOAD §1.3 / §3.4, NO_PROPOSAL_CHOSEN),
 * the initiator's retries after them, NAT_DETECTION_* (§2.23) and SIGNATURE_HASH_ALGORITHMS
 * (RFC 7427 §4), and the IKE SA keys (§2.14). */
#include "ike_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "oe_log.h"

#define MAX_INIT_TRIES 3 /* COOKIE / INVALID_KE restarts before giving up */

/* §2.23: NAT_DETECTION_SOURCE_IP / _DESTINATION_IP, hashes of our and the peer's endpoint
 * as we see them. encapsulation=yes fakes the source (our endpoint with port 0, which no
 * datagram comes from) so the peer sees a NAT in front of us and both ends float and
 * encapsulate; encapsulation=no sends neither, so the peer detects nothing either. */
static void add_natd(struct ike_builder *b, const struct ike_sa *sa, const uint8_t spi_i[8],
		     const uint8_t spi_r[8])
{
	struct ike_endpoint src = sa->local;
	uint8_t h[20];

	if (sa->e->conf.encap == IKE_ENCAP_NO)
		return;
	if (sa->e->conf.encap == IKE_ENCAP_YES)
		src.port = 0;
	ike_natd_hash(spi_i, spi_r, &src, h);
	ike_build_notify(b, IKE_N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	ike_natd_hash(spi_i, spi_r, &sa->remote, h);
	ike_build_notify(b, IKE_N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
}

static void add_sighash(struct ike_builder *b)
{
	uint8_t d[16];
	size_t n = ike_sighash_notify_data(d, sizeof(d));

	ike_build_notify(b, IKE_N_SIGNATURE_HASH_ALGORITHMS, d, n);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (d && n)
		memcpy(d, p, n);
	return d;
}

/* §2.23: a NAT is in front of whoever's address does not hash as its notifies say. */
static void check_natd(struct ike_sa *sa, const struct ike_msg *m, const uint8_t spi_i[8],
		       const uint8_t spi_r[8])
{
	uint8_t want_src[20], want_dst[20];
	bool any_src = false, src_ok = false, dst_ok = true;
	size_t at = 0;
	const struct ike_payload *p;

	if (sa->e->conf.encap == IKE_ENCAP_NO)
		return; /* raw ESP whatever is in between; we sent no NAT_DETECTION_* either */
	ike_natd_hash(spi_i, spi_r, &sa->remote, want_src);
	ike_natd_hash(spi_i, spi_r, &sa->local, want_dst);
	while ((p = ike_msg_find(m, IKE_PL_NOTIFY, &at))) {
		const struct ike_notify_pl *n = &p->u.n;

		if (n->type == IKE_N_NAT_DETECTION_SOURCE_IP) {
			any_src = true;
			src_ok |= n->len == 20 && CRYPTO_memcmp(n->data, want_src, 20) == 0;
		} else if (n->type == IKE_N_NAT_DETECTION_DESTINATION_IP) {
			dst_ok = n->len == 20 && CRYPTO_memcmp(n->data, want_dst, 20) == 0;
		}
	}
	if (sa->e->conf.encap == IKE_ENCAP_YES) {
		sa->nat_fake = true;
		oe_info(IKE, "IKE SA %016" PRIx64 ": UDP encapsulation forced (encapsulation=yes)",
			sa->spi_i);
	}
	if (!any_src)
		return; /* the peer does not do NAT detection */
	sa->nat_remote = !src_ok;
	sa->nat_local = !dst_ok;
	if (sa->nat_remote || sa->nat_local)
		oe_info(IKE, "IKE SA %016" PRIx64 ": NAT detected in front of %s", sa->spi_i,
			sa->nat_local ? (sa->nat_remote ? "both" : "us") : "the peer");
}

bool ike_sa_encap(const struct ike_sa *sa)
{
	return sa->nat_local || sa->nat_remote || sa->nat_fake;
}

/* §2.23: with a NAT (or encapsulation=yes) the initiator moves to the NAT-T port for IKE_AUTH
 * and everything after it; the owner's send op puts the non-ESP marker in front. A peer on
 * port 500 is asked on 4500; one on another port (a NAT's mapping) stays there. */
static void nat_float(struct ike_sa *sa)
{
	char r[OE_ADDRSTRLEN];

	if (!ike_sa_encap(sa) || sa->local.port == sa->e->conf.natt_port)
		return;
	sa->local.port = sa->e->conf.natt_port;
	if (sa->remote.port == IKE_PORT)
		sa->remote.port = IKE_NATT_PORT;
	oe_info(IKE, "IKE SA %016" PRIx64 ": floating to port %u, peer %s:%u", sa->spi_i,
		sa->local.port, oe_addr_str(&sa->remote.addr, r), sa->remote.port);
}

/* The NAT's mapping changed under installed Child SAs (it restarted, or timed the old one
 * out): their ESP would still go to the old address and port, so each is rekeyed; the new
 * ones take the current ports (child_sa.c fill) and replace the old without a gap. */
static void nat_rekey_children(struct ike_sa *sa)
{
	for (struct child_sa *c = sa->children; c; c = c->next)
		if (c->installed && c->state == CHILD_S_INSTALLED && c->k.encap == KERN_ENCAP_UDP &&
		    (!oe_addr_eq(&c->k.remote, &sa->remote.addr) ||
		     c->k.encap_dport != sa->remote.port || c->k.encap_sport != sa->local.port))
			ike_sa_queue(sa, IKE_P_REKEY_CHILD, c->k.spi_in);
}

void ike_nat_follow(struct ike_sa *sa, const struct ike_msg *m, const struct ike_endpoint *from,
		    const struct ike_endpoint *to)
{
	bool nat = sa->nat_remote || sa->nat_fake;
	bool floated = to->port != sa->local.port && to->port == sa->e->conf.natt_port;
	bool response = m->hdr.flags & IKE_FLAG_R;
	char a[OE_ADDRSTRLEN];

	if (oe_addr_eq(&from->addr, &sa->remote.addr) && from->port == sa->remote.port &&
	    to->port == sa->local.port)
		return;
	/* a replayed message (valid ICV, old message ID) from elsewhere must not move us */
	if (response ? sa->pending == IKE_P_NONE || m->hdr.msgid != sa->next_req_id
		     : m->hdr.msgid != sa->next_peer_id)
		return;
	/* §2.23: the end not behind the NAT answers where the peer's NAT mapping is now; the
	 * end behind it keeps its peer (a NAT in front of us may rewrite what we see), unless
	 * the peer moved to our NAT-T port (it floated, say with encapsulation forced on its
	 * side): then we talk from and to the ports it uses, as §2.11 wants for answers */
	if (!nat && !floated)
		return;
	oe_info(IKE, "IKE SA %016" PRIx64 ": peer now at %s:%u, our port %u", sa->spi_i,
		oe_addr_str(&from->addr, a), from->port, to->port);
	sa->local.port = to->port;
	if (nat)
		sa->remote = *from;
	else
		sa->remote.port = from->port;
	nat_rekey_children(sa);
}

void ike_nat_keepalive(struct ike_sa *sa, uint64_t now)
{
	static const uint8_t ka = 0xff; /* RFC 3948 §2.3: one octet, 0xff */
	struct ike_engine *e = sa->e;
	uint64_t every = (uint64_t)e->conf.keepalive_s * 1000;

	ike_sa_touch(sa);
	if (!sa->nat_local || !every) {
		sa->keepalive_at = 0;
		return;
	}
	/* ESP to the peer since the last check keeps the mapping as well as a keepalive */
	if (child_sa_sent(sa))
		sa->last_tx_ms = now;
	if (now - sa->last_tx_ms >= every) {
		e->stats.keepalives++;
		sa->last_tx_ms = now;
		if (e->ops.send(e->ops.arg, &sa->local, &sa->remote, &ka, 1) != 0)
			oe_debug(IKE, "IKE SA %016" PRIx64 ": NAT keepalive not sent", sa->spi_i);
	}
	sa->keepalive_at = sa->last_tx_ms + every;
}

static void read_sighash(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_notify_pl *n = ike_msg_notify(m, IKE_N_SIGNATURE_HASH_ALGORITHMS);
	unsigned mask = 0;

	if (n && ike_sighash_notify_parse(n->data, n->len, &mask))
		sa->peer_hashes = mask;
}

/* g^ir and the keys of §2.14; the DH private value is dropped afterwards. */
static enum ike_status derive(struct ike_sa *sa, const struct ike_ke_pl *ke)
{
	struct ike_secret g = { 0 };
	uint8_t spi_i[8], spi_r[8];
	enum ike_crypto_status cs;
	enum ike_status st = IKE_OK;

	ike_spi_put(spi_i, sa->spi_i);
	ike_spi_put(spi_r, sa->spi_r);
	cs = ike_dh_derive(sa->dhs, ke->data, ke->len, &g);
	if (cs == IKE_CRYPTO_OK)
		cs = ike_derive_sa_keys(sa->prf, sa->encr_bits, &g, sa->ni, sa->ni_len, sa->nr,
					sa->nr_len, spi_i, spi_r, &sa->keys, NULL);
	if (cs != IKE_CRYPTO_OK) {
		oe_info(IKE, "IKE SA %016" PRIx64 ": key exchange failed: %s", sa->spi_i,
			ike_crypto_strerror(cs));
		st = IKE_ERR_CRYPTO;
		goto out;
	}
	sa->have_keys = true;
	ike_dh_free(sa->dhs);
	sa->dhs = NULL;
out:
	ike_secret_wipe(&g);
	return st;
}

/* ---- initiator ------------------------------------------------------------------------------ */

enum ike_status ike_init_start(struct ike_sa *sa)
{
	struct ike_engine *e = sa->e;
	struct ike_proposal prop;
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t pub[256], *msg = NULL;
	size_t pub_len = 0, len = 0;

	if (!sa->dh)
		sa->dh = e->conf.dh[0];
	if (!sa->dhs && ike_dh_new(sa->dh, &sa->dhs) != IKE_CRYPTO_OK)
		return IKE_ERR_CRYPTO;
	if (!sa->ni_len) {
		if (ike_nonce(sa->ni, IKE_NONCE_LEN) != IKE_CRYPTO_OK)
			return IKE_ERR_CRYPTO;
		sa->ni_len = IKE_NONCE_LEN;
	}
	if (ike_dh_public(sa->dhs, pub, sizeof(pub), &pub_len) != IKE_CRYPTO_OK)
		return IKE_ERR_CRYPTO;
	ike_sa_hdr(sa, &h, IKE_EXCH_SA_INIT, false, 0);
	ike_build_init(&b, &h);
	if (sa->cookie_len) /* §2.6: the COOKIE notify comes first */
		ike_build_notify(&b, IKE_N_COOKIE, sa->cookie, sa->cookie_len);
	ike_prop_ike(&e->conf, &prop, NULL);
	ike_add_sa(&b, &prop);
	ike_add_ke(&b, sa->dh, pub, pub_len);
	ike_add_nonce(&b, sa->ni, sa->ni_len);
	add_natd(&b, sa, h.spi_i, h.spi_r);
	add_sighash(&b);
	if (ike_build_finish(&b, NULL, &msg, &len) != IKE_CODEC_OK) {
		ike_build_free(&b);
		return IKE_ERR_CRYPTO;
	}
	free(sa->init_i);
	sa->init_i = dup_bytes(msg, len);
	sa->init_i_len = len;
	if (!sa->init_i) {
		free(msg);
		return IKE_ERR_NOMEM;
	}
	if (sa->state == IKE_S_NEW)
		ike_sa_set_state(sa, IKE_S_INIT_SENT);
	ike_sa_send_request(sa, IKE_P_INIT, msg, len);
	return IKE_OK;
}

/* COOKIE or INVALID_KE_PAYLOAD: start over with what the responder asked for. */
static enum ike_status restart(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_notify_pl *ck = ike_msg_notify(m, IKE_N_COOKIE);
	const struct ike_notify_pl *ke = ike_msg_notify(m, IKE_N_INVALID_KE_PAYLOAD);

	if (++sa->init_tries > MAX_INIT_TRIES)
		return ck ? IKE_ERR_COOKIE : IKE_ERR_INVALID_KE;
	if (ck) {
		if (ck->len == 0 || ck->len > IKE_COOKIE_MAX)
			return IKE_ERR_MALFORMED;
		memcpy(sa->cookie, ck->data, ck->len);
		sa->cookie_len = ck->len;
		oe_info(IKE, "IKE SA %016" PRIx64 ": responder asks for a COOKIE; retrying",
			sa->spi_i);
	} else {
		uint16_t g;
		bool ours = false;

		if (ke->len != 2)
			return IKE_ERR_MALFORMED;
		g = (uint16_t)(ke->data[0] << 8 | ke->data[1]);
		for (size_t i = 0; i < sa->e->conf.ndh; i++)
			ours |= sa->e->conf.dh[i] == g;
		if (!ours || g == sa->dh)
			return IKE_ERR_INVALID_KE;
		oe_info(IKE, "IKE SA %016" PRIx64 ": responder wants DH group %u instead of %u",
			sa->spi_i, g, sa->dh);
		ike_dh_free(sa->dhs);
		sa->dhs = NULL;
		sa->dh = g;
	}
	ike_sa_request_done(sa);
	sa->next_req_id = 0; /* the retried IKE_SA_INIT is message 0 again */
	return ike_init_start(sa);
}

enum ike_status ike_init_response(struct ike_sa *sa, const struct ike_msg *m,
				  const uint8_t *raw, size_t len)
{
	const struct ike_payload *psa, *pke, *pn;
	uint16_t err, dh = 0, prf = 0, bits = 0;
	enum ike_status st;
	uint8_t spi_i[8];

	if (m->hdr.msgid != 0 || sa->pending != IKE_P_INIT)
		return IKE_ERR_MSGID;
	if (ike_msg_notify(m, IKE_N_COOKIE) || ike_msg_notify(m, IKE_N_INVALID_KE_PAYLOAD)) {
		st = restart(sa, m);
		goto done;
	}
	err = ike_msg_error(m);
	if (err) {
		oe_info(IKE, "IKE SA %016" PRIx64 ": IKE_SA_INIT answered with %s", sa->spi_i,
			ike_notify_name(err));
		st = ike_status_of_notify(err);
		goto done;
	}
	psa = ike_msg_find(m, IKE_PL_SA, NULL);
	pke = ike_msg_find(m, IKE_PL_KE, NULL);
	pn = ike_msg_find(m, IKE_PL_NONCE, NULL);
	if (!psa || !pke || !pn || !ike_nonce_copy(pn, sa->nr, &sa->nr_len) ||
	    ike_spi_get(m->hdr.spi_r) == 0)
		return IKE_ERR_MALFORMED; /* not from the responder we wait for: keep waiting */
	if (!ike_prop_check_ike(&sa->e->conf, &psa->u.sa, &dh, &prf, &bits) || dh != sa->dh ||
	    pke->u.ke.group != sa->dh) {
		st = IKE_ERR_NO_PROPOSAL;
		goto done;
	}
	sa->spi_r = ike_spi_get(m->hdr.spi_r);
	sa->prf = prf;
	sa->encr_bits = bits;
	st = derive(sa, &pke->u.ke);
	if (st != IKE_OK)
		goto done;
	ike_spi_put(spi_i, sa->spi_i);
	check_natd(sa, m, spi_i, m->hdr.spi_r);
	nat_float(sa);
	read_sighash(sa, m);
	sa->init_r = dup_bytes(raw, len);
	sa->init_r_len = len;
	if (!sa->init_r) {
		st = IKE_ERR_NOMEM;
		goto done;
	}
	ike_sa_request_done(sa);
	st = ike_auth_start(sa);
done:
	if (st != IKE_OK)
		ike_sa_kill(sa, st);
	return st;
}

/* ---- responder ------------------------------------------------------------------------------ */

/* An answer that creates no state: NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD or COOKIE. */
/* §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>). */
static void make_cookie(const struct ike_engine *e, const struct ike_payload *ni,
			const struct ike_endpoint *from, const uint8_t spi_i[8], uint8_t out[36])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n = 0;

	memset(out, 0, 36);
	if (!ctx)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, ni->u.nonce.data, ni->u.nonce.len) != 1 ||
	    EVP_DigestUpdate(ctx, from->addr.b, from->addr.af == AF_INET ? 4 : 16) != 1 ||
	    EVP_DigestUpdate(ctx, spi_i, 8) != 1 ||
	    EVP_DigestUpdate(ctx, e->cookie_secret, sizeof(e->cookie_secret)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out + 4, &n) != 1)
		memset(out, 0, 36);
	EVP_MD_CTX_free(ctx);
}

static bool cookie_ok(const struct ike_engine *e, const struct ike_msg *m,
		      const struct ike_payload *ni, const struct ike_endpoint *from,
		      uint8_t want[36])
{
	const struct ike_notify_pl *n = ike_msg_notify(m, IKE_N_COOKIE);

	make_cookie(e, ni, from, m->hdr.spi_i, want);
	return n && n->len == 36 && CRYPTO_memcmp(n->data, want, 36) == 0;
}

/* Chooses the proposal and group, or answers statelessly and says why not. */
static enum ike_status negotiate(struct ike_engine *e, const struct ike_msg *m,
				 const struct ike_endpoint *from, const struct ike_endpoint *to,
				 struct ike_proposal *chosen, uint16_t *dh, uint16_t *prf,
				 uint16_t *bits)
{
	const struct ike_payload *psa = ike_msg_find(m, IKE_PL_SA, NULL);
	const struct ike_payload *pke = ike_msg_find(m, IKE_PL_KE, NULL);
	uint16_t g = pke->u.ke.group;
	uint8_t want[2];

	if (!ike_prop_select_ike(&e->conf, &psa->u.sa, chosen, dh, prf, bits)) {
		ike_answer_plain(e, m, from, to, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return IKE_ERR_NO_PROPOSAL;
	}
	if (g == *dh)
		return IKE_OK;
	/* the initiator's guess is fine if we accept it too: saves a round trip */
	for (size_t i = 0; i < e->conf.ndh; i++)
		if (e->conf.dh[i] == g && ike_prop_has_dh(&psa->u.sa, g)) {
			*dh = g;
			for (size_t x = 0; x < chosen->n_xf; x++)
				if (chosen->xf[x].type == IKE_XF_DH)
					chosen->xf[x].id = g;
			return IKE_OK;
		}
	want[0] = (uint8_t)(*dh >> 8);
	want[1] = (uint8_t)*dh;
	ike_answer_plain(e, m, from, to, IKE_N_INVALID_KE_PAYLOAD, want, 2);
	return IKE_ERR_INVALID_KE;
}

static enum ike_status respond(struct ike_sa *sa, const struct ike_proposal *chosen,
			       const uint8_t *pub, size_t pub_len)
{
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t *msg = NULL;
	size_t len = 0;

	ike_sa_hdr(sa, &h, IKE_EXCH_SA_INIT, true, 0);
	ike_build_init(&b, &h);
	ike_add_sa(&b, chosen);
	ike_add_ke(&b, sa->dh, pub, pub_len);
	ike_add_nonce(&b, sa->nr, sa->nr_len);
	add_natd(&b, sa, h.spi_i, h.spi_r);
	add_sighash(&b);
	if (ike_build_finish(&b, NULL, &msg, &len) != IKE_CODEC_OK) {
		ike_build_free(&b);
		return IKE_ERR_CRYPTO;
	}
	sa->init_r = dup_bytes(msg, len);
	sa->init_r_len = len;
	if (!sa->init_r) {
		free(msg);
		return IKE_ERR_NOMEM;
	}
	ike_sa_send_response(sa, 0, msg, len);
	return IKE_OK;
}

static enum ike_status admit(struct ike_engine *e, const struct ike_msg *m,
			     const struct ike_endpoint *from, const struct ike_endpoint *to)
{
	const struct ike_payload *ni = ike_msg_find(m, IKE_PL_NONCE, NULL);
	enum pg_group g = e->ops.policy ? e->ops.policy(e->ops.arg, &from->addr)
					: PG_PRIVATE_OR_CLEAR;
	char a[OE_ADDRSTRLEN];
	uint8_t ck[36];

	/* OE policy (DESIGN §6): clear and block peers get no SA; nor does anyone when we have
	 * no key to authenticate ourselves with */
	if (g == PG_CLEAR || g == PG_BLOCK || !e->conf.hostkey) {
		oe_info(IKE, "IKE_SA_INIT from %s refused: %s", oe_addr_str(&from->addr, a),
			e->conf.hostkey ? pg_group_name(g) : "no host key");
		ike_answer_plain(e, m, from, to, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return IKE_ERR_POLICY;
	}
	if (e->half_open >= e->conf.cookie_threshold && !cookie_ok(e, m, ni, from, ck)) {
		oe_debug(IKE, "IKE_SA_INIT from %s: %zu half-open SAs, asking for a COOKIE",
			 oe_addr_str(&from->addr, a), e->half_open);
		ike_answer_plain(e, m, from, to, IKE_N_COOKIE, ck, sizeof(ck));
		return IKE_ERR_COOKIE;
	}
	return IKE_OK;
}

enum ike_status ike_init_request(struct ike_engine *e, const struct ike_msg *m,
				 const uint8_t *raw, size_t len, const struct ike_endpoint *from,
				 const struct ike_endpoint *to)
{
	const struct ike_payload *pke, *pn;
	struct ike_proposal chosen;
	struct ike_sa *sa;
	uint16_t dh = 0, prf = 0, bits = 0;
	enum ike_status st;
	uint8_t pub[256];
	size_t pub_len = 0;

	sa = ike_sa_find_init(e, ike_spi_get(m->hdr.spi_i), from);
	if (sa) { /* §2.1: a retransmission; answer again only while nothing newer happened
		   * (after IKE_AUTH the answer is stale: ignored, no second SA) */
		if (sa->have_resp && sa->resp_id == 0) {
			ike_sa_resend_response(sa);
		} else {
			oe_debug(IKE, "IKE SA %016" PRIx64 ": late IKE_SA_INIT retransmit ignored",
				 sa->spi_i);
			e->stats.dropped++;
		}
		return IKE_OK;
	}
	pke = ike_msg_find(m, IKE_PL_KE, NULL);
	pn = ike_msg_find(m, IKE_PL_NONCE, NULL);
	if (m->hdr.msgid != 0 || ike_spi_get(m->hdr.spi_r) != 0 || !pke || !pn ||
	    !ike_msg_find(m, IKE_PL_SA, NULL) || m->has_sk)
		return IKE_ERR_MALFORMED;
	st = admit(e, m, from, to);
	if (st == IKE_OK)
		st = negotiate(e, m, from, to, &chosen, &dh, &prf, &bits);
	if (st != IKE_OK)
		return st;
	sa = ike_sa_new(e, false, to, from);
	if (!sa)
		return IKE_ERR_NOMEM;
	sa->spi_i = ike_spi_get(m->hdr.spi_i);
	ike_sa_hash_peer(sa);
	sa->dh = dh;
	sa->prf = prf;
	sa->encr_bits = bits;
	sa->next_peer_id = 1;
	sa->transport = false;
	if (!ike_nonce_copy(pn, sa->ni, &sa->ni_len) ||
	    ike_nonce(sa->nr, IKE_NONCE_LEN) != IKE_CRYPTO_OK ||
	    ike_dh_new(dh, &sa->dhs) != IKE_CRYPTO_OK ||
	    ike_dh_public(sa->dhs, pub, sizeof(pub), &pub_len) != IKE_CRYPTO_OK) {
		st = IKE_ERR_CRYPTO;
		goto fail;
	}
	sa->nr_len = IKE_NONCE_LEN;
	st = derive(sa, &pke->u.ke); /* needs the SPIs: spi_r is ours already */
	if (st == IKE_OK)
		st = respond(sa, &chosen, pub, pub_len);
	if (st != IKE_OK)
		goto fail;
	check_natd(sa, m, m->hdr.spi_i, m->hdr.spi_r);
	read_sighash(sa, m);
	sa->init_i = dup_bytes(raw, len);
	sa->init_i_len = len;
	if (!sa->init_i) {
		st = IKE_ERR_NOMEM;
		goto fail;
	}
	ike_sa_set_state(sa, IKE_S_INIT_DONE);
	return IKE_OK;
fail:
	ike_sa_kill(sa, st);
	return st;
}
