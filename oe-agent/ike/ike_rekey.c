/* CREATE_CHILD_SA (RFC 7296 §1.3, §2.8): rekeying Child SAs (§1.3.3) and the IKE SA (§1.3.2,
 * §2.18) in both directions. Simultaneous rekeys (§2.8.1, §2.8.2): when both ends rekey the
 * same SA at once, the new SA made with the lowest of the four nonces is redundant and is
 * deleted by whoever initiated it; the other end's initiator deletes the old SA. A rekey of an
 * SA we have already replaced is answered with TEMPORARY_FAILURE (§2.25), which keeps both ends
 * consistent when the crossing messages arrive in the other order. Child SA rekeys may carry a
 * KE (PFS, §1.3.1): accepted as responder, sent when configured (child_pfs). */
#include "ike_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "oe_log.h"

#define REKEY_RETRY_MS 10000 /* a refused rekey is tried again after this */

static int nonce_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

/* The lower of an exchange's two nonces (§2.8.1 compares them). */
static void min_nonce(const uint8_t *ni, size_t nil, const uint8_t *nr, size_t nrl,
		      uint8_t *out, size_t *len)
{
	bool i = nonce_cmp(ni, nil, nr, nrl) <= 0;

	*len = i ? nil : nrl;
	memcpy(out, i ? ni : nr, *len);
}

static enum ike_status add_ke(struct ike_builder *b, const struct ike_dh *dh)
{
	uint8_t pub[256];
	size_t len = 0;

	if (ike_dh_public(dh, pub, sizeof(pub), &len) != IKE_CRYPTO_OK)
		return IKE_ERR_CRYPTO;
	ike_add_ke(b, (uint16_t)ike_dh_group(dh), pub, len);
	return IKE_OK;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void answer_notify(struct ike_sa *sa, uint32_t id, uint16_t type, const uint8_t *data,
			  size_t len)
{
	struct ike_builder b;
	struct ike_hdr h;

	ike_sa_hdr(sa, &h, IKE_EXCH_CREATE_CHILD_SA, true, id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	ike_build_notify(&b, type, data, len);
	ike_sa_send_sk(sa, &b, IKE_P_NONE, id);
}

static void answer_error(struct ike_sa *sa, uint32_t id, uint16_t type)
{
	answer_notify(sa, id, type, NULL, 0);
}

/* §1.3: the KE was not of the group we chose; the notify names the one we want. */
static void answer_invalid_ke(struct ike_sa *sa, uint32_t id, uint16_t group)
{
	uint8_t want[2] = { (uint8_t)(group >> 8), (uint8_t)group };

	answer_notify(sa, id, IKE_N_INVALID_KE_PAYLOAD, want, 2);
}

/* ==== Child SAs =============================================================================== */

/* PFS (§1.3.1): the new shared secret for nc from the peer's KE and our nc->pfs_dh. */
static enum ike_status pfs_derive(struct child_sa *nc, const struct ike_msg *m)
{
	const struct ike_payload *pke = ike_msg_find(m, IKE_PL_KE, NULL);

	if (!pke || pke->u.ke.group != ike_dh_group(nc->pfs_dh))
		return IKE_ERR_INVALID_KE;
	/* the peer's value is range-checked there (RFC 6989) */
	if (ike_dh_derive(nc->pfs_dh, pke->u.ke.data, pke->u.ke.len, &nc->pfs_g) !=
	    IKE_CRYPTO_OK)
		return IKE_ERR_CRYPTO;
	nc->has_pfs_g = true;
	return IKE_OK;
}

static struct child_sa *successor(struct ike_sa *sa, uint32_t old_spi, bool by_us)
{
	for (struct child_sa *c = sa->children; c; c = c->next)
		if (c->rekey_of == old_spi && c->by_us == by_us && c->state != CHILD_S_DEAD)
			return c;
	return NULL;
}

static void start_child(struct ike_sa *sa, uint32_t spi)
{
	struct child_sa *old = child_sa_by_spi_in(sa, spi), *nc;
	struct ike_proposal prop;
	struct ike_builder b;
	struct ike_hdr h;

	if (!old || old->state != CHILD_S_INSTALLED)
		return;
	nc = child_sa_new(sa);
	/* with PFS, a KE of the IKE SA's group: one the peer accepted already */
	if (!nc || ike_nonce(sa->rekey_nonce, IKE_NONCE_LEN) != IKE_CRYPTO_OK ||
	    (sa->e->conf.child_pfs && !sa->pfs_refused &&
	     ike_dh_new(sa->pfs_group ? sa->pfs_group : sa->dh, &nc->pfs_dh) != IKE_CRYPTO_OK)) {
		if (nc)
			child_sa_remove(sa, nc);
		old->rekey_at = ike_now(sa->e) + REKEY_RETRY_MS;
		return;
	}
	sa->rekey_nonce_len = IKE_NONCE_LEN;
	nc->rekey_of = spi;
	nc->by_us = true;
	ike_sa_hdr(sa, &h, IKE_EXCH_CREATE_CHILD_SA, false, sa->next_req_id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	{
		uint8_t s[4];

		put32(s, spi);
		ike_build_notify_spi(&b, IKE_PROTO_ESP, s, 4, IKE_N_REKEY_SA, NULL, 0);
	}
	if (old->k.mode == KERN_MODE_TRANSPORT)
		ike_build_notify(&b, IKE_N_USE_TRANSPORT_MODE, NULL, 0);
	ike_prop_esp(&sa->e->conf, &prop, nc->k.spi_in);
	if (nc->pfs_dh)
		ike_prop_add_dh(&prop, (uint16_t)ike_dh_group(nc->pfs_dh));
	ike_add_sa(&b, &prop);
	ike_add_nonce(&b, sa->rekey_nonce, sa->rekey_nonce_len);
	if (nc->pfs_dh)
		add_ke(&b, nc->pfs_dh); /* a failure shows as the peer's refusal */
	child_add_ts(&b, &old->k.sel, true);
	child_sa_set_state(sa, old, CHILD_S_REKEYING);
	sa->rekeying = old;
	sa->pending_spi = spi;
	ike_sa_send_sk(sa, &b, IKE_P_REKEY_CHILD, 0);
}

/* Both ends made a successor of old (§2.8.1): the one with the lowest nonce goes, deleted
 * by its maker. Decided when the answer to our rekey arrives, before ours is installed (the
 * peer's is already: its request came while ours was out). True if ours lost. */
static bool child_race_lost(struct ike_sa *sa, uint32_t old_spi, const struct child_sa *mine)
{
	struct child_sa *theirs = successor(sa, old_spi, false);
	bool lost;

	if (!theirs || !theirs->installed)
		return false;
	lost = nonce_cmp(mine->min_nonce, mine->min_nonce_len, theirs->min_nonce,
			 theirs->min_nonce_len) < 0;
	oe_info(IKE, "Child SA %08x rekeyed by both ends: %08x (%s) is redundant", old_spi,
		lost ? mine->k.spi_in : theirs->k.spi_in, lost ? "ours" : "the peer's");
	return lost;
}

/* Our redundant successor of old is never installed: once the kernel had it, it would carry
 * the pair's outbound traffic (the newest SA does) and removing it would leave none in a
 * backend without fallback (uesp); the peer, which installed it when it answered, removes it
 * on our DELETE, and deletes old itself. */
static void child_race_drop(struct ike_sa *sa, struct child_sa *old, struct child_sa *mine)
{
	uint32_t spi = mine->k.spi_in;

	child_sa_remove(sa, mine);
	if (old->state == CHILD_S_REKEYING)
		child_sa_set_state(sa, old, CHILD_S_REKEYED);
	ike_sa_queue(sa, IKE_P_DELETE_CHILD, spi);
}

/* After our rekey both ends send on the new SA, but ESP sent on the old one just before may
 * still be queued behind the IKE messages (NFQUEUE backlogs, a busy agent): the old SA goes,
 * with a DELETE to the peer, conf.rekey_delete_ms after the switch instead of at once (its
 * hard-lifetime deadline brought forward, child_sa_timers); the peer removes its half when
 * that DELETE arrives. strongSwan keeps the old inbound SA a while for the same reason. */
static void retire_later(struct ike_sa *sa, struct child_sa *old)
{
	uint64_t at = ike_now(sa->e) + sa->e->conf.rekey_delete_ms;

	if (!sa->e->conf.rekey_delete_ms) {
		ike_sa_queue(sa, IKE_P_DELETE_CHILD, old->k.spi_in);
		return;
	}
	if (!old->expire_at || old->expire_at > at)
		old->expire_at = at;
	ike_sa_touch(sa);
}

static void child_failed(struct ike_sa *sa, struct child_sa *old, struct child_sa *nc,
			 enum ike_status why)
{
	oe_info(IKE, "IKE SA %016" PRIx64 ": rekey of Child SA %08x failed: %s", sa->spi_i,
		old ? old->k.spi_in : 0, ike_strerror(why));
	if (nc)
		child_sa_remove(sa, nc);
	if (!old || old->state != CHILD_S_REKEYING)
		return;
	if (successor(sa, old->k.spi_in, false)) { /* the peer's rekey won the race */
		child_sa_set_state(sa, old, CHILD_S_REKEYED);
		return;
	}
	child_sa_set_state(sa, old, CHILD_S_INSTALLED);
	old->rekey_at = ike_now(sa->e) + REKEY_RETRY_MS;
}

/* §1.3: the peer wants our Child SA rekeys' KE in another group. True if it is one of ours
 * we did not use: the next try takes it. */
static bool pfs_regroup(struct ike_sa *sa, const struct child_sa *nc, const struct ike_msg *m)
{
	const struct ike_notify_pl *n = ike_msg_notify(m, IKE_N_INVALID_KE_PAYLOAD);
	uint16_t g = n && n->len == 2 ? (uint16_t)(n->data[0] << 8 | n->data[1]) : 0;
	const struct ike_conf *c = &sa->e->conf;

	if (!nc->pfs_dh || g == ike_dh_group(nc->pfs_dh))
		return false;
	for (size_t k = 0; k < c->ndh; k++)
		if (c->dh[k] == g) {
			sa->pfs_group = g;
			return true;
		}
	return false;
}

static enum ike_status child_response(struct ike_sa *sa, const struct ike_msg *m, uint32_t spi)
{
	struct child_sa *old = child_sa_by_spi_in(sa, spi), *nc = successor(sa, spi, true);
	const struct ike_payload *psa = ike_msg_find(m, IKE_PL_SA, NULL);
	const struct ike_payload *pn = ike_msg_find(m, IKE_PL_NONCE, NULL);
	const struct ike_payload *ti = ike_msg_find(m, IKE_PL_TSI, NULL);
	const struct ike_payload *tr = ike_msg_find(m, IKE_PL_TSR, NULL);
	uint8_t nr[IKE_NONCE_MAX];
	size_t nr_len = 0;
	uint16_t bits = 0, dh = 0, err = ike_msg_error(m);
	uint32_t peer_spi = 0;
	bool esn = false, again = false;
	struct oe_sel sel;
	enum ike_status st;

	sa->rekeying = NULL;
	if (!old || !nc) {
		st = IKE_ERR_STATE;
		goto fail;
	}
	if (err) {
		st = ike_status_of_notify(err);
		again = err == IKE_N_INVALID_KE_PAYLOAD && pfs_regroup(sa, nc, m);
		/* a peer not set up for PFS refuses the KE (strongSwan's default ESP proposals
		 * have no DH group): rekeyed without one at once, rather than left to run into
		 * its hard lifetime, since OE has no per-peer setting to change */
		if (err == IKE_N_NO_PROPOSAL_CHOSEN && nc->pfs_dh && !sa->pfs_refused) {
			oe_notice(IKE, "IKE SA %016" PRIx64 ": the peer refuses PFS in Child SA "
				  "rekeys; rekeying without", sa->spi_i);
			sa->pfs_refused = again = true;
		}
		goto fail;
	}
	if (!psa || !ti || !tr || !ike_nonce_copy(pn, nr, &nr_len) ||
	    !ike_prop_check_esp(&sa->e->conf, &psa->u.sa, &bits, &esn, &peer_spi, &dh) ||
	    dh != (nc->pfs_dh ? ike_dh_group(nc->pfs_dh) : 0) ||
	    !child_ts_check(&ti->u.ts, &tr->u.ts, &old->k.sel, &sel)) {
		st = IKE_ERR_NO_PROPOSAL;
		goto fail;
	}
	min_nonce(sa->rekey_nonce, sa->rekey_nonce_len, nr, nr_len, nc->min_nonce,
		  &nc->min_nonce_len);
	if (child_race_lost(sa, spi, nc)) {
		child_race_drop(sa, old, nc);
		return IKE_OK;
	}
	if (dh && (st = pfs_derive(nc, m)) != IKE_OK)
		goto fail;
	ike_dh_free(nc->pfs_dh);
	nc->pfs_dh = NULL;
	st = child_sa_install(sa, nc, &sel, old->k.mode == KERN_MODE_TRANSPORT, bits, esn,
			      peer_spi, true, sa->rekey_nonce, sa->rekey_nonce_len, nr, nr_len,
			      old);
	if (st != IKE_OK)
		goto fail;
	ike_event(sa, IKE_EV_CHILD_UP, IKE_OK, &nc->k);
	if (old->state == CHILD_S_REKEYING)
		child_sa_set_state(sa, old, CHILD_S_REKEYED);
	retire_later(sa, old); /* we won (or raced nobody): the old SA is ours to delete */
	return IKE_OK;
fail:
	child_failed(sa, old, nc, st);
	if (again && old->state == CHILD_S_INSTALLED)
		old->rekey_at = ike_now(sa->e); /* at once, in the group asked for */
	return st;
}

/* Responder: the answer for the new Child SA nc (installed) replacing old. */
static void child_accept(struct ike_sa *sa, uint32_t id, struct child_sa *nc,
			 struct ike_proposal *chosen, const uint8_t *nr, const struct oe_sel *sel,
			 bool transport)
{
	struct ike_builder b;
	struct ike_hdr h;
	/* TSi/TSr as the peer (the initiator of this exchange) sees them */
	struct oe_sel theirs = *sel;

	theirs.src = sel->dst;
	theirs.dst = sel->src;
	theirs.sport = sel->dport;
	theirs.dport = sel->sport;
	ike_sa_hdr(sa, &h, IKE_EXCH_CREATE_CHILD_SA, true, id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	if (transport)
		ike_build_notify(&b, IKE_N_USE_TRANSPORT_MODE, NULL, 0);
	put32(chosen->spi, nc->k.spi_in);
	ike_add_sa(&b, chosen);
	ike_add_nonce(&b, nr, IKE_NONCE_LEN);
	if (nc->pfs_dh) /* §1.3.1: KEr in the group of the chosen proposal */
		add_ke(&b, nc->pfs_dh);
	child_add_ts(&b, &theirs, true);
	ike_sa_send_sk(sa, &b, IKE_P_NONE, id);
	ike_dh_free(nc->pfs_dh);
	nc->pfs_dh = NULL;
}

/* The Child SA a REKEY_SA notify names, if it can be rekeyed; else answers the error. */
static struct child_sa *rekey_target(struct ike_sa *sa, uint32_t id,
				    const struct ike_notify_pl *rk)
{
	struct child_sa *old = rk->spi_size == 4
				       ? child_sa_by_spi_out(sa, (uint32_t)rk->spi[0] << 24 |
								     (uint32_t)rk->spi[1] << 16 |
								     (uint32_t)rk->spi[2] << 8 |
								     rk->spi[3])
				       : NULL;

	if (!old || old->state == CHILD_S_DELETING) {
		answer_error(sa, id, IKE_N_CHILD_SA_NOT_FOUND);
		return NULL;
	}
	if (old->state == CHILD_S_REKEYED) { /* §2.25: we replaced it already */
		answer_error(sa, id, IKE_N_TEMPORARY_FAILURE);
		return NULL;
	}
	return old;
}

/* True if a Child SA of sa carries or is about to carry traffic (not one being deleted). */
static bool child_sa_live(const struct ike_sa *sa)
{
	for (const struct child_sa *c = sa->children; c; c = c->next)
		if (c->state == CHILD_S_INSTALLED || c->state == CHILD_S_REKEYING ||
		    c->state == CHILD_S_REKEYED)
			return true;
	return false;
}

/* Responder: a Child SA replacing old, or a new one for the IKE SA's pair when old is NULL. */
static enum ike_status child_request(struct ike_sa *sa, const struct ike_msg *m,
				     struct child_sa *old)
{
	uint32_t id = m->hdr.msgid, peer_spi = 0;
	struct child_sa *nc;
	const struct ike_payload *psa = ike_msg_find(m, IKE_PL_SA, NULL);
	const struct ike_payload *pn = ike_msg_find(m, IKE_PL_NONCE, NULL);
	const struct ike_payload *pke = ike_msg_find(m, IKE_PL_KE, NULL);
	const struct ike_payload *ti = ike_msg_find(m, IKE_PL_TSI, NULL);
	const struct ike_payload *tr = ike_msg_find(m, IKE_PL_TSR, NULL);
	struct ike_proposal chosen;
	uint8_t ni[IKE_NONCE_MAX], nr[IKE_NONCE_MAX];
	size_t ni_len = 0;
	uint16_t bits = 0, dh = 0;
	bool esn = false, transport;
	struct oe_sel sel;

	transport = old ? old->k.mode == KERN_MODE_TRANSPORT : sa->transport;
	if (!psa || !ti || !tr || !ike_nonce_copy(pn, ni, &ni_len) ||
	    !ike_prop_select_esp(&sa->e->conf, &psa->u.sa, &chosen, &bits, &esn, &peer_spi,
				 &dh)) {
		answer_error(sa, id, IKE_N_NO_PROPOSAL_CHOSEN);
		return IKE_OK;
	}
	/* no KE but NONE allowed too: without PFS (the choice as if the exchange had no KE) */
	if (dh && !pke && ike_prop_select_esp(&sa->e->conf, &psa->u.sa, &chosen, &bits, &esn,
					      &peer_spi, NULL))
		dh = 0;
	if (dh && (!pke || pke->u.ke.group != dh)) { /* §1.3: name the group we chose */
		answer_invalid_ke(sa, id, dh);
		return IKE_OK;
	}
	if (!child_ts_narrow(&ti->u.ts, &tr->u.ts, old ? &old->k.sel.src.addr : &sa->local.addr,
			     old ? &old->k.sel.dst.addr : &sa->remote.addr, &sel)) {
		answer_error(sa, id, IKE_N_TS_UNACCEPTABLE);
		return IKE_OK;
	}
	nc = child_sa_new(sa);
	if (!nc || ike_nonce(nr, IKE_NONCE_LEN) != IKE_CRYPTO_OK ||
	    (dh && (ike_dh_new(dh, &nc->pfs_dh) != IKE_CRYPTO_OK || pfs_derive(nc, m) != IKE_OK)) ||
	    child_sa_install(sa, nc, &sel, transport, bits, esn, peer_spi, false, ni, ni_len, nr,
			     IKE_NONCE_LEN, old) != IKE_OK) {
		if (nc)
			child_sa_remove(sa, nc);
		answer_error(sa, id, IKE_N_TEMPORARY_FAILURE);
		return IKE_OK;
	}
	nc->rekey_of = old ? old->k.spi_in : 0;
	min_nonce(ni, ni_len, nr, IKE_NONCE_LEN, nc->min_nonce, &nc->min_nonce_len);
	child_accept(sa, id, nc, &chosen, nr, &sel, transport);
	ike_event(sa, IKE_EV_CHILD_UP, IKE_OK, &nc->k);
	/* the peer deletes the old SA; while our own rekey of it is out, that one decides */
	if (old && old->state == CHILD_S_INSTALLED)
		child_sa_set_state(sa, old, CHILD_S_REKEYED);
	return IKE_OK;
}

/* ==== the IKE SA (§1.3.2, §2.18) ============================================================== */

/* Copies what the new IKE SA inherits from the old one and moves the Child SAs. */
static void inherit(struct ike_sa *ns, struct ike_sa *old)
{
	ns->peer_id = old->peer_id;
	ns->peer_auth = old->peer_auth;
	ns->peer_hashes = old->peer_hashes;
	ns->ts = old->ts;
	ns->transport = old->transport;
	ns->nat_local = old->nat_local;
	ns->nat_remote = old->nat_remote;
	ns->nat_fake = old->nat_fake;
	ns->last_rx_ms = old->last_rx_ms;
}

static void move_children(struct ike_sa *to, struct ike_sa *from)
{
	while (from->children) {
		struct child_sa *c = from->children;

		from->children = c->next;
		c->next = to->children;
		to->children = c;
	}
}

/* The survivor takes the owner's handle (ike_sa_get follows an IKE rekey). */
static void take_over(struct ike_sa *ns, struct ike_sa *old)
{
	uint64_t h = old->handle;

	old->handle = ns->handle;
	ns->handle = h;
	ns->replaced = false;
	old->replaced = true;
	move_children(ns, old);
	ns->rekey_at = 0;
	ike_sa_set_state(ns, IKE_S_ESTABLISHED);
}

static enum ike_status derive_new(struct ike_sa *old, struct ike_sa *ns, const struct ike_dh *dh,
				  const struct ike_ke_pl *ke)
{
	struct ike_secret g = { 0 };
	uint8_t spi_i[8], spi_r[8];
	enum ike_crypto_status cs;

	ike_spi_put(spi_i, ns->spi_i);
	ike_spi_put(spi_r, ns->spi_r);
	cs = ike_dh_derive(dh, ke->data, ke->len, &g);
	if (cs == IKE_CRYPTO_OK)
		cs = ike_derive_rekey_sa_keys(&old->keys, ns->prf, ns->encr_bits, &g, ns->ni,
					      ns->ni_len, ns->nr, ns->nr_len, spi_i, spi_r,
					      &ns->keys, NULL);
	ike_secret_wipe(&g);
	if (cs != IKE_CRYPTO_OK)
		return IKE_ERR_CRYPTO;
	ns->have_keys = true;
	return IKE_OK;
}

static void start_ike(struct ike_sa *sa)
{
	struct ike_sa *ns = ike_sa_new(sa->e, true, &sa->local, &sa->remote);
	struct ike_proposal prop;
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t spi[8];

	if (!ns)
		return;
	ns->replaced = true; /* not the owner's SA until it takes over */
	ns->dh = sa->dh;
	if (ike_dh_new(ns->dh, &ns->dhs) != IKE_CRYPTO_OK ||
	    ike_nonce(ns->ni, IKE_NONCE_LEN) != IKE_CRYPTO_OK) {
		ike_sa_kill(ns, IKE_ERR_CRYPTO);
		sa->rekey_at = ike_now(sa->e) + REKEY_RETRY_MS;
		return;
	}
	ns->ni_len = IKE_NONCE_LEN;
	ike_spi_put(spi, ns->spi_i);
	ike_sa_hdr(sa, &h, IKE_EXCH_CREATE_CHILD_SA, false, sa->next_req_id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	ike_prop_ike(&sa->e->conf, &prop, spi);
	ike_add_sa(&b, &prop);
	ike_add_nonce(&b, ns->ni, ns->ni_len);
	if (add_ke(&b, ns->dhs) != IKE_OK) {
		ike_build_free(&b);
		ike_sa_kill(ns, IKE_ERR_CRYPTO);
		return;
	}
	sa->rekey_mine = ns->handle;
	ike_sa_send_sk(sa, &b, IKE_P_REKEY_IKE, 0);
}

/* After both ends rekeyed the IKE SA (§2.8.2): the new SA with the lowest nonce goes. */
static void ike_race(struct ike_sa *old, struct ike_sa *mine, struct ike_sa *theirs)
{
	uint8_t a[IKE_NONCE_MAX], b[IKE_NONCE_MAX];
	size_t al = 0, bl = 0;
	bool mine_loses;

	min_nonce(mine->ni, mine->ni_len, mine->nr, mine->nr_len, a, &al);
	min_nonce(theirs->ni, theirs->ni_len, theirs->nr, theirs->nr_len, b, &bl);
	mine_loses = nonce_cmp(a, al, b, bl) < 0;
	oe_info(IKE, "IKE SA %016" PRIx64 " rekeyed by both ends: %s new SA is redundant",
		old->spi_i, mine_loses ? "our" : "the peer's");
	take_over(mine_loses ? theirs : mine, old);
	ike_sa_set_state(old, IKE_S_REKEYED);
	if (mine_loses) {
		ike_sa_set_state(mine, IKE_S_ESTABLISHED);
		ike_sa_queue(mine, IKE_P_DELETE_IKE, 0);
		ike_sa_run_queue(mine);
	} else {
		ike_sa_set_state(theirs, IKE_S_ESTABLISHED); /* the peer deletes it */
		ike_sa_queue(old, IKE_P_DELETE_IKE, 0);
	}
}

static enum ike_status ike_response(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_sa *ns = ike_sa_by_handle(sa->e, sa->rekey_mine);
	struct ike_sa *theirs = ike_sa_by_handle(sa->e, sa->rekey_theirs);
	const struct ike_payload *psa = ike_msg_find(m, IKE_PL_SA, NULL);
	const struct ike_payload *pn = ike_msg_find(m, IKE_PL_NONCE, NULL);
	const struct ike_payload *pke = ike_msg_find(m, IKE_PL_KE, NULL);
	uint16_t dh = 0, prf = 0, bits = 0;
	enum ike_status st = IKE_ERR_NO_PROPOSAL;

	sa->rekey_mine = 0;
	if (!ns)
		return IKE_ERR_STATE;
	if (ike_msg_error(m)) {
		st = ike_status_of_notify(ike_msg_error(m));
	} else if (psa && pke && ike_nonce_copy(pn, ns->nr, &ns->nr_len) &&
		   ike_prop_check_ike(&sa->e->conf, &psa->u.sa, &dh, &prf, &bits) &&
		   dh == ns->dh && pke->u.ke.group == dh && psa->u.sa.prop[0].spi_size == 8) {
		ns->spi_r = ike_spi_get(psa->u.sa.prop[0].spi);
		ns->prf = prf;
		ns->encr_bits = bits;
		st = derive_new(sa, ns, ns->dhs, &pke->u.ke);
	}
	if (st != IKE_OK) {
		ike_sa_kill(ns, st);
		if (theirs) { /* the peer's rekey stands */
			take_over(theirs, sa);
			ike_sa_set_state(sa, IKE_S_REKEYED);
		} else {
			sa->rekey_at = ike_now(sa->e) + REKEY_RETRY_MS;
		}
		return st;
	}
	ike_dh_free(ns->dhs);
	ns->dhs = NULL;
	inherit(ns, sa);
	if (theirs) {
		ike_race(sa, ns, theirs);
		return IKE_OK;
	}
	take_over(ns, sa);
	ike_sa_set_state(sa, IKE_S_REKEYED);
	ike_sa_queue(sa, IKE_P_DELETE_IKE, 0); /* §1.3.2: the rekey initiator deletes the old */
	return IKE_OK;
}

static enum ike_status ike_request(struct ike_sa *sa, const struct ike_msg *m)
{
	uint32_t id = m->hdr.msgid;
	const struct ike_payload *psa = ike_msg_find(m, IKE_PL_SA, NULL);
	const struct ike_payload *pn = ike_msg_find(m, IKE_PL_NONCE, NULL);
	const struct ike_payload *pke = ike_msg_find(m, IKE_PL_KE, NULL);
	struct ike_proposal chosen;
	struct ike_dh *dh = NULL;
	struct ike_sa *ns;
	uint16_t g = 0, prf = 0, bits = 0;
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t spi[8];
	const struct ike_proposal *offer;

	if (sa->state != IKE_S_ESTABLISHED) {
		answer_error(sa, id, IKE_N_TEMPORARY_FAILURE);
		return IKE_OK;
	}
	if (!pke || !ike_prop_select_ike(&sa->e->conf, &psa->u.sa, &chosen, &g, &prf, &bits)) {
		answer_error(sa, id, IKE_N_NO_PROPOSAL_CHOSEN);
		return IKE_OK;
	}
	/* the chosen proposal's number names one of the offered IKE proposals */
	for (offer = psa->u.sa.prop;
	     offer->num != chosen.num || offer->proto != IKE_PROTO_IKE; offer++)
		;
	if (pke->u.ke.group != g || offer->spi_size != 8) {
		answer_invalid_ke(sa, id, g);
		return IKE_OK;
	}
	ns = ike_sa_new(sa->e, false, &sa->local, &sa->remote);
	if (!ns) {
		answer_error(sa, id, IKE_N_TEMPORARY_FAILURE);
		return IKE_OK;
	}
	ns->replaced = true;
	ns->spi_i = ike_spi_get(offer->spi);
	ns->dh = g;
	ns->prf = prf;
	ns->encr_bits = bits;
	if (!ike_nonce_copy(pn, ns->ni, &ns->ni_len) ||
	    ike_nonce(ns->nr, IKE_NONCE_LEN) != IKE_CRYPTO_OK || ike_dh_new(g, &dh) != IKE_CRYPTO_OK ||
	    (ns->nr_len = IKE_NONCE_LEN, derive_new(sa, ns, dh, &pke->u.ke)) != IKE_OK) {
		ike_dh_free(dh);
		ike_sa_kill(ns, IKE_ERR_CRYPTO);
		answer_error(sa, id, IKE_N_NO_PROPOSAL_CHOSEN);
		return IKE_OK;
	}
	ike_sa_hdr(sa, &h, IKE_EXCH_CREATE_CHILD_SA, true, id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	chosen.spi_size = 8;
	ike_spi_put(spi, ns->spi_r);
	memcpy(chosen.spi, spi, 8);
	ike_add_sa(&b, &chosen);
	ike_add_nonce(&b, ns->nr, ns->nr_len);
	add_ke(&b, dh);
	ike_dh_free(dh);
	ike_sa_send_sk(sa, &b, IKE_P_NONE, id);
	inherit(ns, sa);
	if (sa->rekey_mine) { /* ours is out too: decided when its answer comes (§2.8.2) */
		sa->rekey_theirs = ns->handle;
		return IKE_OK;
	}
	take_over(ns, sa);
	ike_sa_set_state(sa, IKE_S_REKEYED); /* the peer deletes it */
	return IKE_OK;
}

/* ==== dispatch ================================================================================ */

void ike_rekey_start(struct ike_sa *sa, enum ike_pending what, uint32_t spi)
{
	if (sa->state != IKE_S_ESTABLISHED)
		return;
	if (what == IKE_P_REKEY_CHILD)
		start_child(sa, spi);
	else
		start_ike(sa);
}

enum ike_status ike_rekey_request(struct ike_sa *sa, const struct ike_msg *m)
{
	const struct ike_notify_pl *rk = ike_msg_notify(m, IKE_N_REKEY_SA);
	const struct ike_payload *psa = ike_msg_find(m, IKE_PL_SA, NULL);
	struct child_sa *old;

	if (sa->state != IKE_S_ESTABLISHED && sa->state != IKE_S_REKEYED)
		return IKE_ERR_STATE;
	if (rk && rk->proto == IKE_PROTO_ESP) {
		old = rekey_target(sa, m->hdr.msgid, rk);
		return old ? child_request(sa, m, old) : IKE_OK;
	}
	if (psa && psa->u.sa.n_prop > 0 && psa->u.sa.prop[0].proto == IKE_PROTO_IKE)
		return ike_request(sa, m);
	/* a new Child SA that rekeys nothing (§1.3.1): OE wants one per host pair, so only when
	 * the IKE SA has none left (strongSwan asks this way for one it closed or that expired,
	 * keeping the IKE SA) */
	if (sa->state == IKE_S_ESTABLISHED && !child_sa_live(sa))
		return child_request(sa, m, NULL);
	answer_error(sa, m->hdr.msgid, IKE_N_NO_ADDITIONAL_SAS);
	return IKE_OK;
}

enum ike_status ike_rekey_response(struct ike_sa *sa, const struct ike_msg *m)
{
	enum ike_pending what = sa->pending;
	uint32_t spi = sa->pending_spi;

	ike_sa_request_done(sa);
	if (what == IKE_P_REKEY_CHILD)
		return child_response(sa, m, spi);
	return ike_response(sa, m);
}
