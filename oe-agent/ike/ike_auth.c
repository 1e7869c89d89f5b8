/* IKE_AUTH (RFC 7296 §1.2, §2.15) with the first Child SA, both roles: identities
 * (ID_IPV4_ADDR / ID_IPV6_ADDR / ID_FQDN / ID_NULL), AUTH by RFC 7427 signatures, RSA method 1
 * or AUTH_NULL (RFC 7619), the asynchronous key lookup by the peer's identity (the responder
 * keeps serving other SAs meanwhile), AUTHENTICATION_FAILED, INITIAL_CONTACT, CP refused, and
 * the delegated-gateway rule: a peer whose identity differs from its selector address is
 * accepted only when DNS for that address names it as gateway (DESIGN §6, issue 5). */
#include "ike_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "oe_log.h"

/* What the peer's IKE_AUTH message said, copied out of it so the message can go while the
 * peer's key is looked up. */
struct ike_auth_wait {
	uint8_t method;
	uint8_t *auth;
	size_t auth_len;
	enum ike_status child_err; /* IKE_OK: the Child SA below is acceptable */
	struct oe_sel sel;	   /* narrowed pair, src = ours */
	bool transport;
	bool esn;
	uint16_t encr_bits;
	uint32_t peer_spi;
	struct ike_proposal chosen; /* responder: the ESP proposal to answer with */
	bool initial_contact;
};

void ike_auth_wait_free(struct ike_auth_wait *aw)
{
	if (!aw)
		return;
	free(aw->auth);
	OPENSSL_cleanse(aw, sizeof(*aw));
	free(aw);
}

/* ---- AUTH payloads ------------------------------------------------------------------------- */

/* §2.15: the initiator signs its IKE_SA_INIT, Nr and prf(SK_pi, IDi'); the responder its
 * IKE_SA_INIT, Ni and prf(SK_pr, IDr'). by_initiator says whose AUTH this is. */
static enum ike_crypto_status octets(const struct ike_sa *sa, bool by_initiator,
				     const struct ike_id *id, uint8_t **out, size_t *len)
{
	struct ike_id_pl idp = ike_id_pl_of(id);
	const struct ike_sa_keys *k = &sa->keys;

	if (by_initiator)
		return ike_auth_octets(sa->prf, k->sk_pi, k->prf_len, sa->init_i, sa->init_i_len,
				       sa->nr, sa->nr_len, &idp, out, len);
	return ike_auth_octets(sa->prf, k->sk_pr, k->prf_len, sa->init_r, sa->init_r_len, sa->ni,
			       sa->ni_len, &idp, out, len);
}

/* Our AUTH payload: a signature with the host key, or AUTH_NULL without one. *data is new. */
static enum ike_status our_auth(struct ike_sa *sa, const struct ike_id *id, uint8_t *method,
				uint8_t **data, size_t *len)
{
	EVP_PKEY *key = sa->e->conf.hostkey;
	uint8_t *oct = NULL;
	size_t olen = 0;
	enum ike_crypto_status cs = octets(sa, sa->initiator, id, &oct, &olen);
	const uint8_t *skp = sa->initiator ? sa->keys.sk_pi : sa->keys.sk_pr;

	if (cs != IKE_CRYPTO_OK)
		goto out;
	if (!key) {
		*method = IKE_AUTH_NULL;
		*len = sa->keys.prf_len;
		*data = malloc(*len);
		cs = *data ? ike_auth_null(sa->prf, skp, sa->keys.prf_len, oct, olen, *data)
			   : IKE_CRYPTO_NOMEM;
	} else {
		enum ike_sig_alg alg = ike_sig_alg_for_key(key, sa->peer_hashes);

		if (sa->e->conf.rsa_method1 && dk_pkey_type(key) == DK_KT_RSA)
			alg = IKE_SIG_RSA_PKCS1_SHA1;
		cs = alg == IKE_SIG_NONE ? IKE_CRYPTO_SIG_ALG
					 : ike_auth_sign(key, alg, oct, olen, method, data, len);
	}
out:
	free(oct);
	if (cs != IKE_CRYPTO_OK) {
		oe_err(IKE, "IKE SA %016" PRIx64 ": cannot make our AUTH: %s", sa->spi_i,
		       ike_crypto_strerror(cs));
		return IKE_ERR_CRYPTO;
	}
	return IKE_OK;
}

/* Checks the peer's AUTH with key (NULL for AUTH_NULL). */
static bool peer_auth_ok(const struct ike_sa *sa, EVP_PKEY *key)
{
	const struct ike_auth_wait *aw = sa->aw;
	const uint8_t *skp = sa->initiator ? sa->keys.sk_pr : sa->keys.sk_pi;
	uint8_t *oct = NULL;
	size_t olen = 0;
	enum ike_crypto_status cs = octets(sa, !sa->initiator, &sa->peer_id, &oct, &olen);

	if (cs == IKE_CRYPTO_OK) {
		if (aw->method == IKE_AUTH_NULL)
			cs = key ? IKE_CRYPTO_AUTH_FAILED
				 : ike_auth_null_verify(sa->prf, skp, sa->keys.prf_len, oct, olen,
							aw->auth, aw->auth_len);
		else
			cs = key ? ike_auth_verify(key, aw->method, aw->auth, aw->auth_len, oct,
						   olen, 0, NULL)
				 : IKE_CRYPTO_AUTH_FAILED;
	}
	free(oct);
	return cs == IKE_CRYPTO_OK;
}

static void add_id(struct ike_builder *b, uint8_t type, const struct ike_id *id)
{
	struct ike_payload p;

	memset(&p, 0, sizeof(p));
	p.type = type;
	p.u.id = ike_id_pl_of(id);
	ike_build_add(b, &p);
}

static void add_auth(struct ike_builder *b, uint8_t method, const uint8_t *data, size_t len)
{
	struct ike_payload p;

	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_AUTH;
	p.u.auth.method = method;
	p.u.auth.data = data;
	p.u.auth.len = len;
	ike_build_add(b, &p);
}

/* SA(ESP), TSi, TSr of a Child SA proposal or answer. */
static void add_child(struct ike_builder *b, const struct ike_proposal *prop,
		      const struct oe_sel *sel, bool initiator)
{
	ike_add_sa(b, prop);
	child_add_ts(b, sel, initiator);
}

/* ---- initiator ------------------------------------------------------------------------------ */

/* The same two hosts' identities: a host with several addresses is a different identity on
 * each (IDs are the addresses), so its SAs from one address never replace another's. */
static bool same_pair(const struct ike_sa *a, const struct ike_sa *b)
{
	return oe_addr_eq(&a->remote.addr, &b->remote.addr) &&
	       oe_addr_eq(&a->local.addr, &b->local.addr);
}

/* §2.4: INITIAL_CONTACT when we hold no other SA with this peer. */
static bool first_contact(const struct ike_sa *sa)
{
	for (const struct ike_sa *o = sa->e->all; o; o = o->next)
		if (o != sa && o->state == IKE_S_ESTABLISHED && same_pair(o, sa))
			return false;
	return true;
}

enum ike_status ike_auth_start(struct ike_sa *sa)
{
	struct ike_builder b;
	struct ike_hdr h;
	struct ike_proposal prop;
	struct ike_id id;
	struct child_sa *c = child_sa_new(sa);
	uint8_t method = 0, *auth = NULL;
	size_t auth_len = 0;
	enum ike_status st;

	if (!c)
		return IKE_ERR_NOMEM;
	ike_local_id(sa, &id);
	st = our_auth(sa, &id, &method, &auth, &auth_len);
	if (st != IKE_OK)
		return st;
	ike_sa_hdr(sa, &h, IKE_EXCH_AUTH, false, sa->next_req_id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	add_id(&b, IKE_PL_IDI, &id);
	if (first_contact(sa))
		ike_build_notify(&b, IKE_N_INITIAL_CONTACT, NULL, 0);
	add_auth(&b, method, auth, auth_len);
	free(auth);
	if (sa->transport)
		ike_build_notify(&b, IKE_N_USE_TRANSPORT_MODE, NULL, 0);
	ike_prop_esp(&sa->e->conf, &prop, c->k.spi_in);
	add_child(&b, &prop, &sa->ts, true);
	ike_sa_set_state(sa, IKE_S_AUTH_SENT);
	return ike_sa_send_sk(sa, &b, IKE_P_AUTH, 0);
}

/* ---- shared: reading the peer's message ----------------------------------------------------- */

struct auth_parts { /* validate_auth(): what a well-formed IKE_AUTH message carries */
	const struct ike_payload *id, *auth, *sa, *tsi, *tsr;
	uint16_t error;
	bool cp_request;
};

/* Pure: every payload IKE_AUTH needs is there, inside SK. */
static enum ike_status validate_auth(const struct ike_msg *m, bool initiator_msg,
				     struct auth_parts *p)
{
	const struct ike_payload *cp = ike_msg_find(m, IKE_PL_CP, NULL);

	memset(p, 0, sizeof(p[0]));
	p->id = ike_msg_find(m, initiator_msg ? IKE_PL_IDI : IKE_PL_IDR, NULL);
	p->auth = ike_msg_find(m, IKE_PL_AUTH, NULL);
	p->sa = ike_msg_find(m, IKE_PL_SA, NULL);
	p->tsi = ike_msg_find(m, IKE_PL_TSI, NULL);
	p->tsr = ike_msg_find(m, IKE_PL_TSR, NULL);
	p->error = ike_msg_error(m);
	p->cp_request = cp && cp->u.cp.cfg_type == IKE_CFG_REQUEST;
	if (!m->decrypted || !p->id || !p->auth || p->auth->u.auth.len == 0)
		return p->error ? ike_status_of_notify(p->error) : IKE_ERR_MALFORMED;
	if (p->id->u.id.len > IKE_ID_MAX)
		return IKE_ERR_MALFORMED;
	return IKE_OK;
}

static struct ike_auth_wait *wait_new(const struct auth_parts *p, const struct ike_msg *m)
{
	struct ike_auth_wait *aw = calloc(1, sizeof(*aw));

	if (!aw)
		return NULL;
	aw->method = p->auth->u.auth.method;
	aw->auth_len = p->auth->u.auth.len;
	aw->auth = malloc(aw->auth_len);
	if (!aw->auth) {
		free(aw);
		return NULL;
	}
	memcpy(aw->auth, p->auth->u.auth.data, aw->auth_len);
	aw->transport = ike_msg_notify(m, IKE_N_USE_TRANSPORT_MODE) != NULL;
	aw->initial_contact = ike_msg_notify(m, IKE_N_INITIAL_CONTACT) != NULL;
	return aw;
}

/* Responder: negotiates the Child SA the initiator proposed (before the key lookup, so the
 * message need not be kept). */
static void child_offer(struct ike_sa *sa, const struct auth_parts *p)
{
	struct ike_auth_wait *aw = sa->aw;

	if (p->cp_request) {
		aw->child_err = IKE_ERR_CP_UNSUPPORTED;
		return;
	}
	if (!p->sa || !p->tsi || !p->tsr) {
		aw->child_err = IKE_ERR_MALFORMED;
		return;
	}
	if (!ike_prop_select_esp(&sa->e->conf, &p->sa->u.sa, &aw->chosen, &aw->encr_bits,
				 &aw->esn, &aw->peer_spi, NULL)) {
		aw->child_err = IKE_ERR_NO_PROPOSAL;
		return;
	}
	/* the initiator's own address first; any single host otherwise (a delegated gateway,
	 * checked against DNS once it is authenticated) */
	if (!child_ts_narrow(&p->tsi->u.ts, &p->tsr->u.ts, &sa->local.addr, &sa->remote.addr,
			     &aw->sel) &&
	    !child_ts_narrow(&p->tsi->u.ts, &p->tsr->u.ts, &sa->local.addr, NULL, &aw->sel))
		aw->child_err = IKE_ERR_TS_UNACCEPTABLE;
	/* §1.3.1: answering without the notify means tunnel mode; so does a selector that is
	 * not the peer itself (transport mode protects only the endpoints' own traffic) */
	if (aw->transport && (!sa->e->conf.transport ||
			      !oe_addr_eq(&aw->sel.dst.addr, &sa->remote.addr)))
		aw->transport = false;
}

/* Initiator: the responder's answer for the Child SA. */
static void child_answer(struct ike_sa *sa, const struct auth_parts *p)
{
	struct ike_auth_wait *aw = sa->aw;

	if (p->error) {
		aw->child_err = ike_status_of_notify(p->error);
		return;
	}
	if (!p->sa || !p->tsi || !p->tsr ||
	    !ike_prop_check_esp(&sa->e->conf, &p->sa->u.sa, &aw->encr_bits, &aw->esn,
				&aw->peer_spi, NULL)) {
		aw->child_err = IKE_ERR_NO_PROPOSAL;
		return;
	}
	if (!child_ts_check(&p->tsi->u.ts, &p->tsr->u.ts, &sa->ts, &aw->sel))
		aw->child_err = IKE_ERR_TS_UNACCEPTABLE;
	if (aw->transport && !sa->transport)
		aw->child_err = IKE_ERR_MALFORMED; /* transport only when we asked for it */
}

/* ---- the key and the decision ------------------------------------------------------------- */

static void send_auth_failed(struct ike_sa *sa, uint32_t id)
{
	struct ike_builder b;
	struct ike_hdr h;

	ike_sa_hdr(sa, &h, IKE_EXCH_AUTH, true, id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	ike_build_notify(&b, IKE_N_AUTHENTICATION_FAILED, NULL, 0);
	ike_sa_send_sk(sa, &b, IKE_P_NONE, id);
}

/* §2.21.2: the initiator tells the responder (whose SA is up by now) in an INFORMATIONAL
 * that is sent once and not waited for. */
static void tell_responder(struct ike_sa *sa)
{
	struct ike_builder b;
	struct ike_hdr h;

	ike_sa_hdr(sa, &h, IKE_EXCH_INFORMATIONAL, false, sa->next_req_id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	ike_build_notify(&b, IKE_N_AUTHENTICATION_FAILED, NULL, 0);
	ike_sa_send_sk(sa, &b, IKE_P_LIVENESS, 0);
}

/* §2.21.2: a responder answers with AUTHENTICATION_FAILED; an initiator says so in an
 * INFORMATIONAL when the responder has answered IKE_AUTH. */
static void fail(struct ike_sa *sa, enum ike_status why)
{
	char id[IKE_IDSTRLEN];

	oe_info(IKE, "IKE SA %016" PRIx64 ": peer %s not authenticated: %s", sa->spi_i,
		ike_id_str(&sa->peer_id, id), ike_strerror(why));
	if (!sa->initiator)
		send_auth_failed(sa, sa->next_peer_id);
	else if (sa->aw && sa->pending == IKE_P_NONE)
		tell_responder(sa);
	ike_sa_kill(sa, why);
}

static enum ike_status start_lookup(struct ike_sa *sa, const struct ike_id *id, int phase)
{
	struct ike_engine *e = sa->e;
	uint64_t req = ++e->next_lookup;

	sa->lookup_req = req;
	sa->lookup_phase = phase;
	if (sa->state != IKE_S_AUTH_LOOKUP)
		ike_sa_set_state(sa, IKE_S_AUTH_LOOKUP);
	/* the answer may come before this returns: nothing may touch sa after a success */
	if (e->ops.lookup(e->ops.arg, req, id) != 0) {
		sa->lookup_req = 0;
		return IKE_ERR_NO_KEY;
	}
	return IKE_OK;
}

static bool found_names_gateway(const struct dk_found *f, const struct ike_id *gw)
{
	char name[DK_NAME_MAX];
	size_t n;

	if (gw->type == IKE_ID_IPV4_ADDR || gw->type == IKE_ID_IPV6_ADDR) {
		struct oe_addr a = { .af = gw->type == IKE_ID_IPV4_ADDR ? AF_INET : AF_INET6 };

		memcpy(a.b, gw->data, gw->len);
		return (f->gw_type == DK_GW_IPV4 || f->gw_type == DK_GW_IPV6) &&
		       oe_addr_eq(&f->gw_addr, &a);
	}
	if (gw->type != IKE_ID_FQDN || f->gw_type != DK_GW_NAME)
		return false;
	n = strlen(f->gw_name);
	memcpy(name, f->gw_name, n + 1);
	if (n && name[n - 1] == '.')
		name[--n] = 0;
	return n == gw->len && strncasecmp(name, (const char *)gw->data, n) == 0;
}

/* Whether the peer's ID is the host of the selector itself (no delegation). */
static bool id_is_host(const struct ike_id *id, const struct oe_addr *host)
{
	struct ike_id h;

	ike_id_from_addr(&h, host);
	return ike_id_eq(id, &h);
}

static struct oe_addr peer_host(const struct ike_sa *sa)
{
	return sa->aw->sel.dst.addr;
}

static void finish(struct ike_sa *sa);

/* Phase 2 (responder): DNS for the selector address must name the authenticated gateway. */
static void delegation_done(struct ike_sa *sa, const struct dk_result *res)
{
	bool ok = false;

	for (size_t i = 0; res->status == DK_L_FOUND && i < res->nfound && !ok; i++)
		ok = found_names_gateway(&res->found[i], &sa->peer_id);
	if (!ok) {
		fail(sa, IKE_ERR_DELEGATION);
		return;
	}
	finish(sa);
}

static void keys_done(struct ike_sa *sa, const struct dk_result *res)
{
	bool ok = false;

	if (!res || res->status != DK_L_FOUND) {
		fail(sa, IKE_ERR_NO_KEY);
		return;
	}
	for (size_t i = 0; i < res->nfound && !ok; i++)
		if (res->found[i].pkey)
			ok = peer_auth_ok(sa, res->found[i].pkey);
	if (!ok) {
		fail(sa, IKE_ERR_AUTH_FAILED);
		return;
	}
	if (!sa->initiator && sa->aw->child_err == IKE_OK &&
	    !id_is_host(&sa->peer_id, &sa->aw->sel.dst.addr)) {
		struct ike_id host;
		struct oe_addr a = peer_host(sa);

		ike_id_from_addr(&host, &a);
		if (start_lookup(sa, &host, 2) != IKE_OK)
			fail(sa, IKE_ERR_DELEGATION);
		return;
	}
	finish(sa);
}

void ike_auth_lookup_done(struct ike_sa *sa, const struct dk_result *res)
{
	if (sa->lookup_phase == 2)
		delegation_done(sa, res);
	else
		keys_done(sa, res);
}

void ike_auth_lookup_timeout(struct ike_sa *sa)
{
	if (sa->lookup_req && sa->e->ops.lookup_cancel)
		sa->e->ops.lookup_cancel(sa->e->ops.arg, sa->lookup_req);
	sa->lookup_req = 0;
	fail(sa, sa->lookup_phase == 2 ? IKE_ERR_DELEGATION : IKE_ERR_NO_KEY);
}

/* Initiator: the key of the responder from the answer that made us initiate, when the
 * responder is the host itself or a gateway that answer names with its key. */
static const struct dk_found *known_key(const struct ike_sa *sa)
{
	const struct dk_result *r = &sa->peer_keys;
	bool host = id_is_host(&sa->peer_id, &sa->ts.dst.addr);

	if (!sa->have_peer_keys || r->status != DK_L_FOUND)
		return NULL;
	for (size_t i = 0; i < r->nfound; i++)
		if (r->found[i].pkey && (host || found_names_gateway(&r->found[i], &sa->peer_id)))
			return &r->found[i];
	return NULL;
}

static void authenticate(struct ike_sa *sa)
{
	const struct dk_found *f;

	if (sa->aw->method == IKE_AUTH_NULL) {
		/* DESIGN §6: the responder is always authenticated by its DNS key */
		if (sa->initiator || !sa->e->conf.accept_null_auth || !peer_auth_ok(sa, NULL)) {
			fail(sa, IKE_ERR_AUTH_FAILED);
			return;
		}
		/* anonymous: no delegation, the selector must be its own address */
		if (sa->aw->child_err == IKE_OK && !oe_addr_eq(&sa->aw->sel.dst.addr,
							       &sa->remote.addr))
			sa->aw->child_err = IKE_ERR_TS_UNACCEPTABLE;
		finish(sa);
		return;
	}
	if (sa->peer_id.type != IKE_ID_IPV4_ADDR && sa->peer_id.type != IKE_ID_IPV6_ADDR &&
	    sa->peer_id.type != IKE_ID_FQDN) {
		fail(sa, IKE_ERR_AUTH_FAILED);
		return;
	}
	if (sa->initiator) {
		f = known_key(sa);
		if (f) {
			if (peer_auth_ok(sa, f->pkey))
				finish(sa);
			else
				fail(sa, IKE_ERR_AUTH_FAILED);
			return;
		}
		if (!id_is_host(&sa->peer_id, &sa->ts.dst.addr)) {
			fail(sa, IKE_ERR_DELEGATION); /* no DNS answer names it for the host */
			return;
		}
	}
	if (start_lookup(sa, &sa->peer_id, 1) != IKE_OK)
		fail(sa, IKE_ERR_NO_KEY);
}

/* ---- the end of IKE_AUTH -------------------------------------------------------------------- */

static bool established(const struct ike_sa *o)
{
	return o->state == IKE_S_ESTABLISHED || o->state == IKE_S_REKEYED ||
	       o->state == IKE_S_DELETING;
}

/* §2.4: INITIAL_CONTACT: the peer lost its state, so ours from before is gone too. */
static void initial_contact(struct ike_sa *sa)
{
	/* only SAs from before: one still negotiating with that peer was started after its
	 * restart (ours, racing this one), and failing it would fail the flow waiting on it */
	for (struct ike_sa *o = sa->e->all; o; o = o->next)
		if (o != sa && established(o) && ike_id_eq(&o->peer_id, &sa->peer_id) &&
		    same_pair(o, sa)) {
			oe_info(IKE, "IKE SA %016" PRIx64 ": replaced after INITIAL_CONTACT",
				o->spi_i);
			ike_sa_kill(o, IKE_ERR_DELETED);
		}
}

static struct child_sa *first_new_child(struct ike_sa *sa)
{
	for (struct child_sa *c = sa->children; c; c = c->next)
		if (c->state == CHILD_S_NEW)
			return c;
	return NULL;
}

static enum ike_status install_first(struct ike_sa *sa, struct child_sa *c)
{
	struct ike_auth_wait *aw = sa->aw;

	return child_sa_install(sa, c, &aw->sel, aw->transport, aw->encr_bits, aw->esn,
				aw->peer_spi, sa->initiator, sa->ni, sa->ni_len, sa->nr, sa->nr_len,
				NULL);
}

static void respond(struct ike_sa *sa, struct child_sa *c)
{
	struct ike_auth_wait *aw = sa->aw;
	struct ike_builder b;
	struct ike_hdr h;
	struct ike_id id;
	uint8_t method = 0, *auth = NULL;
	size_t auth_len = 0;
	uint32_t msgid = sa->next_peer_id;
	static const uint16_t notify_of[IKE_STATUS_COUNT] = {
		[IKE_ERR_NO_PROPOSAL] = IKE_N_NO_PROPOSAL_CHOSEN,
		[IKE_ERR_TS_UNACCEPTABLE] = IKE_N_TS_UNACCEPTABLE,
		[IKE_ERR_CP_UNSUPPORTED] = IKE_N_INTERNAL_ADDRESS_FAILURE, /* §3.15.4 */
		[IKE_ERR_KERNEL] = IKE_N_TEMPORARY_FAILURE,
		[IKE_ERR_MALFORMED] = IKE_N_INVALID_SYNTAX,
	};

	ike_local_id(sa, &id);
	if (our_auth(sa, &id, &method, &auth, &auth_len) != IKE_OK) {
		ike_sa_kill(sa, IKE_ERR_CRYPTO);
		return;
	}
	ike_sa_hdr(sa, &h, IKE_EXCH_AUTH, true, msgid);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	add_id(&b, IKE_PL_IDR, &id);
	add_auth(&b, method, auth, auth_len);
	free(auth);
	if (aw->child_err != IKE_OK) {
		uint16_t n = notify_of[aw->child_err];

		ike_build_notify(&b, n ? n : IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
	} else {
		if (aw->transport)
			ike_build_notify(&b, IKE_N_USE_TRANSPORT_MODE, NULL, 0);
		aw->chosen.spi[0] = (uint8_t)(c->k.spi_in >> 24);
		aw->chosen.spi[1] = (uint8_t)(c->k.spi_in >> 16);
		aw->chosen.spi[2] = (uint8_t)(c->k.spi_in >> 8);
		aw->chosen.spi[3] = (uint8_t)c->k.spi_in;
		add_child(&b, &aw->chosen, &aw->sel, false);
	}
	ike_sa_send_sk(sa, &b, IKE_P_NONE, msgid);
}

/* Authenticated: install the Child SA, answer (responder), become ESTABLISHED. */
static void finish(struct ike_sa *sa)
{
	struct ike_auth_wait *aw = sa->aw;
	struct child_sa *c = first_new_child(sa);

	if (!sa->initiator) {
		if (aw->child_err == IKE_OK) {
			c = child_sa_new(sa);
			if (!c)
				aw->child_err = IKE_ERR_NOMEM;
		}
	}
	if (aw->child_err == IKE_OK && c)
		aw->child_err = install_first(sa, c);
	if (!sa->initiator)
		respond(sa, c);
	if (sa->state == IKE_S_DEAD)
		return;
	if (aw->child_err != IKE_OK) {
		sa->last_error = aw->child_err;
		oe_info(IKE, "IKE SA %016" PRIx64 ": no Child SA: %s", sa->spi_i,
			ike_strerror(aw->child_err));
		if (c)
			child_sa_remove(sa, c);
	}
	ike_sa_set_state(sa, IKE_S_ESTABLISHED);
	ike_event(sa, IKE_EV_ESTABLISHED, IKE_OK, NULL);
	if (aw->child_err == IKE_OK)
		for (c = sa->children; c; c = c->next)
			if (c->installed)
				ike_event(sa, IKE_EV_CHILD_UP, IKE_OK, &c->k);
	/* the stale SAs go once the new Child SA is up: going first, they would take the pair's
	 * tunnel away for a moment (its packets trapped, a needless second negotiation) */
	if (!sa->initiator && aw->initial_contact)
		initial_contact(sa);
	ike_auth_wait_free(sa->aw);
	sa->aw = NULL;
	/* signed in AUTH only (§2.15): not needed any more */
	free(sa->init_i);
	free(sa->init_r);
	sa->init_i = sa->init_r = NULL;
	sa->init_i_len = sa->init_r_len = 0;
}

/* Reads the peer's message into sa->aw and the peer's identity. */
static enum ike_status take(struct ike_sa *sa, const struct ike_msg *m, struct auth_parts *p)
{
	enum ike_status st = validate_auth(m, !sa->initiator, p);

	if (st != IKE_OK)
		return st;
	if (!ike_id_of_pl(&p->id->u.id, &sa->peer_id))
		return IKE_ERR_MALFORMED;
	sa->peer_auth = p->auth->u.auth.method;
	ike_auth_wait_free(sa->aw);
	sa->aw = wait_new(p, m);
	return sa->aw ? IKE_OK : IKE_ERR_NOMEM;
}

enum ike_status ike_auth_request(struct ike_sa *sa, const struct ike_msg *m)
{
	struct auth_parts p;
	enum ike_status st;

	if (sa->initiator || sa->state != IKE_S_INIT_DONE)
		return sa->state == IKE_S_AUTH_LOOKUP ? IKE_OK : IKE_ERR_STATE; /* still looking */
	st = take(sa, m, &p);
	if (st != IKE_OK) {
		fail(sa, st == IKE_ERR_NOMEM ? st : IKE_ERR_MALFORMED);
		return st;
	}
	child_offer(sa, &p);
	authenticate(sa);
	return IKE_OK;
}

enum ike_status ike_auth_response(struct ike_sa *sa, const struct ike_msg *m)
{
	struct auth_parts p;
	enum ike_status st;

	if (!sa->initiator || sa->state != IKE_S_AUTH_SENT)
		return IKE_ERR_STATE;
	ike_sa_request_done(sa);
	st = take(sa, m, &p);
	if (st != IKE_OK) {
		ike_sa_kill(sa, st);
		return st;
	}
	child_answer(sa, &p);
	authenticate(sa);
	return IKE_OK;
}
