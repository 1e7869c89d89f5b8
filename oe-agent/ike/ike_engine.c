/* The engine's public entry points (ike.h): creation, the receive path that routes a datagram
 * to its IKE SA by SPI and message ID (RFC 7296 §2.2, §2.21) before any exchange code sees it,
 * timers, lookups answered by the owner, status listing; and small helpers all exchanges use. */
#include "ike_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "oe_log.h"

static const char *const status_text[IKE_STATUS_COUNT][2] = {
	[IKE_OK] = { "ok", "success" },
	[IKE_ERR_NOMEM] = { "nomem", "out of memory" },
	[IKE_ERR_MALFORMED] = { "malformed", "message or payload failed validation" },
	[IKE_ERR_UNKNOWN_SA] = { "unknown-sa", "no IKE SA with these SPIs" },
	[IKE_ERR_STATE] = { "state", "exchange not expected in this state" },
	[IKE_ERR_MSGID] = { "msgid", "message ID outside the window" },
	[IKE_ERR_NO_PROPOSAL] = { "no-proposal", "no proposal chosen" },
	[IKE_ERR_INVALID_KE] = { "invalid-ke", "key exchange group not accepted" },
	[IKE_ERR_AUTH_FAILED] = { "auth-failed", "authentication failed" },
	[IKE_ERR_TS_UNACCEPTABLE] = { "ts-unacceptable", "traffic selectors unacceptable" },
	[IKE_ERR_POLICY] = { "policy", "peer is in the clear or block group" },
	[IKE_ERR_NO_KEY] = { "no-key", "no usable key for the peer's identity" },
	[IKE_ERR_DELEGATION] = { "delegation",
				 "DNS does not name the peer as gateway for the selector" },
	[IKE_ERR_COOKIE] = { "cookie", "cookie required or wrong" },
	[IKE_ERR_TIMEOUT] = { "timeout", "no answer after retransmissions" },
	[IKE_ERR_LIVENESS] = { "liveness", "peer stopped answering liveness checks" },
	[IKE_ERR_PEER_ERROR] = { "peer-error", "the peer answered with an error notify" },
	[IKE_ERR_CRYPTO] = { "crypto", "key exchange, derivation or signature failed" },
	[IKE_ERR_KERNEL] = { "kernel", "the kernel refused the Child SA" },
	[IKE_ERR_DELETED] = { "deleted", "SA deleted" },
	[IKE_ERR_BUSY] = { "busy", "an exchange is already outstanding" },
	[IKE_ERR_CP_UNSUPPORTED] = { "cp-unsupported", "configuration payloads not supported" },
};

const char *ike_strerror(enum ike_status st)
{
	return (unsigned)st < IKE_STATUS_COUNT ? status_text[st][1] : "unknown status";
}

const char *ike_status_name(enum ike_status st)
{
	return (unsigned)st < IKE_STATUS_COUNT ? status_text[st][0] : "?";
}

/* ---- identities ---------------------------------------------------------------------------- */

const char *ike_id_str(const struct ike_id *id, char buf[static IKE_IDSTRLEN])
{
	struct oe_addr a = { 0 };

	switch (id->type) {
	case IKE_ID_IPV4_ADDR:
	case IKE_ID_IPV6_ADDR:
		a.af = id->type == IKE_ID_IPV4_ADDR ? AF_INET : AF_INET6;
		memcpy(a.b, id->data, id->len <= 16 ? id->len : 16);
		return oe_addr_str(&a, buf);
	case IKE_ID_FQDN: {
		size_t n = 0;

		buf[n++] = '@';
		for (size_t i = 0; i < id->len && n < IKE_IDSTRLEN - 5; i++) {
			uint8_t ch = id->data[i];

			if (ch > 0x20 && ch < 0x7f && ch != '\\')
				buf[n++] = (char)ch;
			else
				n += (size_t)snprintf(buf + n, 5, "\\%03u", ch);
		}
		buf[n] = 0;
		return buf;
	}
	case IKE_ID_NULL:
		return strcpy(buf, "(null)");
	default:
		snprintf(buf, IKE_IDSTRLEN, "(type %u)", id->type);
		return buf;
	}
}

void ike_id_from_addr(struct ike_id *id, const struct oe_addr *a)
{
	memset(id, 0, sizeof(*id));
	id->type = a->af == AF_INET ? IKE_ID_IPV4_ADDR : IKE_ID_IPV6_ADDR;
	id->len = a->af == AF_INET ? 4 : 16;
	memcpy(id->data, a->b, id->len);
}

bool ike_id_from_fqdn(struct ike_id *id, const char *fqdn)
{
	size_t n;

	if (fqdn[0] == '@')
		fqdn++;
	n = strlen(fqdn);
	if (n > 0 && fqdn[n - 1] == '.')
		n--;
	if (n == 0 || n > IKE_ID_MAX)
		return false;
	memset(id, 0, sizeof(*id));
	id->type = IKE_ID_FQDN;
	id->len = (uint16_t)n;
	memcpy(id->data, fqdn, n);
	return true;
}

bool ike_id_eq(const struct ike_id *a, const struct ike_id *b)
{
	if (a->type != b->type || a->len != b->len)
		return false;
	if (a->type == IKE_ID_FQDN)
		return strncasecmp((const char *)a->data, (const char *)b->data, a->len) == 0;
	return memcmp(a->data, b->data, a->len) == 0;
}

struct ike_id_pl ike_id_pl_of(const struct ike_id *id)
{
	struct ike_id_pl p = { .type = id->type, .data = id->data, .len = id->len };

	return p;
}

bool ike_id_of_pl(const struct ike_id_pl *p, struct ike_id *out)
{
	if (p->len > IKE_ID_MAX)
		return false;
	memset(out, 0, sizeof(*out));
	out->type = p->type;
	out->len = (uint16_t)p->len;
	if (p->len)
		memcpy(out->data, p->data, p->len);
	return true;
}

void ike_local_id(const struct ike_sa *sa, struct ike_id *out)
{
	const struct ike_conf *c = &sa->e->conf;

	if (!c->hostkey) {
		memset(out, 0, sizeof(*out));
		out->type = IKE_ID_NULL; /* RFC 7619 §3: ID_NULL with AUTH_NULL */
	} else if (c->id.type) {
		*out = c->id;
	} else {
		ike_id_from_addr(out, &sa->local.addr);
	}
}

/* ---- small helpers ------------------------------------------------------------------------- */

uint64_t ike_spi_get(const uint8_t b[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

void ike_spi_put(uint8_t b[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

void ike_sa_hdr(const struct ike_sa *sa, struct ike_hdr *h, uint8_t exch, bool response,
		uint32_t msgid)
{
	memset(h, 0, sizeof(*h));
	ike_spi_put(h->spi_i, sa->spi_i);
	ike_spi_put(h->spi_r, sa->spi_r);
	h->version = IKE_VERSION;
	h->exch = exch;
	h->flags = (uint8_t)((sa->initiator ? IKE_FLAG_I : 0) | (response ? IKE_FLAG_R : 0));
	h->msgid = msgid;
}

enum ike_status ike_sa_send_sk(struct ike_sa *sa, struct ike_builder *b, enum ike_pending what,
			       uint32_t id)
{
	struct ike_sk_key *k = sa->initiator ? &sa->keys.sk_ei : &sa->keys.sk_er;
	uint8_t *msg = NULL;
	size_t len = 0;
	enum ike_codec_status cs = ike_build_finish(b, k, &msg, &len);

	if (cs != IKE_CODEC_OK) {
		oe_err(IKE, "building a message failed: %s", ike_codec_strerror(cs));
		ike_build_free(b);
		return IKE_ERR_CRYPTO;
	}
	if (what != IKE_P_NONE)
		ike_sa_send_request(sa, what, msg, len);
	else
		ike_sa_send_response(sa, id, msg, len);
	return IKE_OK;
}

bool ike_nonce_copy(const struct ike_payload *p, uint8_t *buf, size_t *len)
{
	if (!p || p->u.nonce.len > IKE_NONCE_MAX || p->u.nonce.len == 0)
		return false;
	memcpy(buf, p->u.nonce.data, p->u.nonce.len);
	*len = p->u.nonce.len;
	return true;
}

uint16_t ike_msg_error(const struct ike_msg *m)
{
	for (size_t i = 0; i < m->n_pl; i++)
		if (m->pl[i].type == IKE_PL_NOTIFY && m->pl[i].u.n.type <= IKE_N_ERROR_MAX)
			return m->pl[i].u.n.type;
	return 0;
}

enum ike_status ike_status_of_notify(uint16_t type)
{
	switch (type) {
	case IKE_N_NO_PROPOSAL_CHOSEN:
		return IKE_ERR_NO_PROPOSAL;
	case IKE_N_INVALID_KE_PAYLOAD:
		return IKE_ERR_INVALID_KE;
	case IKE_N_AUTHENTICATION_FAILED:
		return IKE_ERR_AUTH_FAILED;
	case IKE_N_TS_UNACCEPTABLE:
		return IKE_ERR_TS_UNACCEPTABLE;
	default:
		return IKE_ERR_PEER_ERROR;
	}
}

void ike_add_sa(struct ike_builder *b, const struct ike_proposal *prop)
{
	struct ike_payload p;

	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_SA;
	p.u.sa.prop = prop;
	p.u.sa.n_prop = 1;
	ike_build_add(b, &p);
}

void ike_add_ke(struct ike_builder *b, uint16_t group, const uint8_t *pub, size_t len)
{
	struct ike_payload p;

	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_KE;
	p.u.ke.group = group;
	p.u.ke.data = pub;
	p.u.ke.len = len;
	ike_build_add(b, &p);
}

void ike_add_nonce(struct ike_builder *b, const uint8_t *n, size_t len)
{
	struct ike_payload p;

	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_NONCE;
	p.u.nonce.data = n;
	p.u.nonce.len = len;
	ike_build_add(b, &p);
}

void ike_answer_plain(struct ike_engine *e, const struct ike_msg *m,
		      const struct ike_endpoint *from, const struct ike_endpoint *to,
		      uint16_t type, const void *data, size_t len)
{
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t *msg = NULL;
	size_t n = 0;

	memset(&h, 0, sizeof(h));
	memcpy(h.spi_i, m->hdr.spi_i, 8);
	memcpy(h.spi_r, m->hdr.spi_r, 8); /* zero in an IKE_SA_INIT request */
	h.version = IKE_VERSION;
	h.exch = m->hdr.exch;
	h.flags = IKE_FLAG_R | ((m->hdr.flags & IKE_FLAG_I) ? 0 : IKE_FLAG_I);
	h.msgid = m->hdr.msgid;
	ike_build_init(&b, &h);
	ike_build_notify(&b, type, data, len);
	if (ike_build_finish(&b, NULL, &msg, &n) != IKE_CODEC_OK) {
		ike_build_free(&b);
		return;
	}
	e->stats.sent++;
	e->stats.cookies_sent += type == IKE_N_COOKIE;
	e->stats.invalid_ke_sent += type == IKE_N_INVALID_KE_PAYLOAD;
	e->stats.invalid_spi_sent += type == IKE_N_INVALID_IKE_SPI;
	e->ops.send(e->ops.arg, to, from, msg, n);
	free(msg);
}

/* A request for an IKE SA we do not know (§2.21.4: we MAY say so, unprotected). It tells a
 * peer whose SA we lost (a restart) sooner than its liveness checks would, but anyone can
 * provoke an unauthenticated answer, so at most IKE_INVALID_SPI_PER_S go out per second;
 * responses are never answered. */
#define IKE_INVALID_SPI_PER_S 10
/* One more unprotected notification this second (INVALID_IKE_SPI answers and INVALID_SPI
 * hints share the budget)? */
static bool unprotected_budget(struct ike_engine *e)
{
	uint64_t second = ike_now(e) / 1000;

	if (second != e->ispi_second) {
		e->ispi_second = second;
		e->ispi_sent = 0;
	}
	if (e->ispi_sent >= IKE_INVALID_SPI_PER_S)
		return false;
	e->ispi_sent++;
	return true;
}

static void answer_unknown_spi(struct ike_engine *e, const struct ike_msg *m,
			       const struct ike_endpoint *from, const struct ike_endpoint *to)
{
	if (m->hdr.flags & IKE_FLAG_R)
		return;
	if (unprotected_budget(e))
		ike_answer_plain(e, m, from, to, IKE_N_INVALID_IKE_SPI, NULL, 0);
}

/* §2.21.4: ESP for an SA we lack, from a peer with which we hold no IKE SA (we restarted and
 * it still sends on its SA): an INFORMATIONAL outside any exchange, unprotected, with
 * INVALID_SPI and the SPI. Flagged as a response so that nobody answers it (no loops); the
 * IKE SPIs mean nothing to the peer (random SPIi, zero SPIr). */
void ike_esp_unknown_spi(struct ike_engine *e, const struct ike_endpoint *local,
			 const struct ike_endpoint *remote, uint32_t spi)
{
	uint8_t data[4] = { (uint8_t)(spi >> 24), (uint8_t)(spi >> 16), (uint8_t)(spi >> 8),
			    (uint8_t)spi };
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t *msg = NULL;
	size_t n = 0;

	for (const struct ike_sa *sa = e->all; sa; sa = sa->next)
		if (sa->state != IKE_S_DEAD && oe_addr_eq(&sa->remote.addr, &remote->addr))
			return; /* an SA of ours it does not use: not a lost state */
	if (!unprotected_budget(e))
		return;
	memset(&h, 0, sizeof(h));
	if (ike_random(e, h.spi_i, sizeof(h.spi_i)) != 0)
		return;
	h.version = IKE_VERSION;
	h.exch = IKE_EXCH_INFORMATIONAL;
	h.flags = IKE_FLAG_R;
	ike_build_init(&b, &h);
	ike_build_notify(&b, IKE_N_INVALID_SPI, data, sizeof(data));
	if (ike_build_finish(&b, NULL, &msg, &n) != IKE_CODEC_OK) {
		ike_build_free(&b);
		return;
	}
	e->stats.sent++;
	e->ops.send(e->ops.arg, local, remote, msg, n);
	free(msg);
}

void ike_sa_start(struct ike_sa *sa, enum ike_pending what, uint32_t spi)
{
	switch (what) {
	case IKE_P_DELETE_IKE:
	case IKE_P_DELETE_CHILD:
	case IKE_P_LIVENESS:
		ike_info_start(sa, what, spi);
		break;
	case IKE_P_REKEY_CHILD:
	case IKE_P_REKEY_IKE:
		ike_rekey_start(sa, what, spi);
		break;
	default:
		break;
	}
}

/* ---- engine -------------------------------------------------------------------------------- */

void ike_conf_default(struct ike_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->accept_null_auth = true;
	c->dh[0] = IKE_DH_CURVE25519;
	c->dh[1] = IKE_DH_ECP256;
	c->dh[2] = IKE_DH_MODP2048;
	c->ndh = 3;
	c->encr_bits[0] = 256;
	c->encr_bits[1] = 128;
	c->nencr = 2;
	c->prf[0] = IKE_PRF_HMAC_SHA2_256;
	c->prf[1] = IKE_PRF_HMAC_SHA2_512;
	c->nprf = 2;
	c->retransmit_ms = 500;
	c->retransmit_tries = 5;
	c->liveness_ms = 30000;
	c->ike_lifetime_s = 14400;
	c->child_lifetime_s = 3600;
	c->rekey_delete_ms = 1000;
	c->cookie_threshold = 256;
	c->lookup_timeout_ms = 15000;
	c->natt_port = IKE_NATT_PORT;
	c->keepalive_s = 20;
}

static bool conf_ok(const struct ike_conf *c)
{
	if (c->ndh == 0 || c->ndh > 4 || c->nencr == 0 || c->nencr > 2 || c->nprf == 0 ||
	    c->nprf > 2 || c->retransmit_ms == 0)
		return false;
	for (size_t i = 0; i < c->ndh; i++)
		if (!ike_dh_supported(c->dh[i]))
			return false;
	for (size_t i = 0; i < c->nprf; i++)
		if (!ike_prf_supported(c->prf[i]))
			return false;
	for (size_t i = 0; i < c->nencr; i++)
		if (c->encr_bits[i] != 128 && c->encr_bits[i] != 256)
			return false;
	return true;
}

int ike_engine_new(struct ike_engine **out, const struct ike_conf *c, const struct ike_ops *ops)
{
	struct ike_engine *e;

	*out = NULL;
	if (!conf_ok(c) || !ops->send || !ops->now_ms || !ops->random || !ops->kern ||
	    !ops->lookup)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->nbuckets = 64;
	e->hash = calloc(e->nbuckets, sizeof(*e->hash));
	e->phash = calloc(e->nbuckets, sizeof(*e->phash));
	if (!e->hash || !e->phash ||
	    RAND_bytes(e->cookie_secret, sizeof(e->cookie_secret)) != 1) {
		free(e->hash);
		free(e->phash);
		free(e);
		return -ENOMEM;
	}
	e->conf = *c;
	e->ops = *ops;
	e->next_reqid = 1;
	if (c->hostkey)
		EVP_PKEY_up_ref(c->hostkey);
	*out = e;
	return 0;
}

void ike_engine_free(struct ike_engine *e)
{
	if (!e)
		return;
	ike_sa_free_all(e);
	EVP_PKEY_free(e->conf.hostkey);
	OPENSSL_cleanse(e->cookie_secret, sizeof(e->cookie_secret));
	free(e->heap);
	free(e->hash);
	free(e->phash);
	free(e);
}

/* Entry points may nest (a lookup answered from inside ops->lookup); dead SAs are freed when
 * the outermost one returns. */
static void enter(struct ike_engine *e)
{
	e->in_call++;
}

static void leave(struct ike_engine *e)
{
	if (--e->in_call == 0) {
		ike_timer_refile(e);
		ike_sa_reap(e);
	}
}

enum ike_status ike_initiate(struct ike_engine *e, const struct ike_endpoint *local,
			     const struct ike_endpoint *remote, const struct dk_result *peer_keys,
			     const struct oe_sel *ts, uint64_t *sa_out)
{
	struct ike_sa *sa;
	enum ike_status st;

	enter(e);
	sa = ike_sa_new(e, true, local, remote);
	if (!sa) {
		st = IKE_ERR_NOMEM;
		goto out;
	}
	sa->ts = *ts;
	sa->transport = e->conf.transport;
	if (peer_keys) {
		if (dk_result_copy(&sa->peer_keys, peer_keys) != 0) {
			ike_sa_kill(sa, IKE_ERR_NOMEM);
			st = IKE_ERR_NOMEM;
			goto out;
		}
		sa->have_peer_keys = true;
	}
	if (sa_out)
		*sa_out = sa->handle;
	st = ike_init_start(sa);
	if (st != IKE_OK)
		ike_sa_kill(sa, st);
out:
	leave(e);
	return st;
}

/* Routes a request on an existing SA by message ID: a retransmitted request gets the cached
 * response (§2.1), anything else outside the window is dropped. */
static enum ike_status route_request(struct ike_sa *sa, const struct ike_msg *m)
{
	uint32_t id = m->hdr.msgid;

	if (sa->have_resp && id == sa->resp_id) {
		ike_sa_resend_response(sa);
		return IKE_OK;
	}
	if (id != sa->next_peer_id)
		return IKE_ERR_MSGID;
	switch (m->hdr.exch) {
	case IKE_EXCH_AUTH:
		return ike_auth_request(sa, m);
	case IKE_EXCH_INFORMATIONAL:
		return ike_info_request(sa, m);
	case IKE_EXCH_CREATE_CHILD_SA:
		return ike_rekey_request(sa, m);
	default:
		return IKE_ERR_STATE;
	}
}

static enum ike_status route_response(struct ike_sa *sa, const struct ike_msg *m)
{
	if (sa->pending == IKE_P_NONE || m->hdr.msgid != sa->next_req_id)
		return IKE_ERR_MSGID;
	switch (sa->pending) {
	case IKE_P_AUTH:
		return m->hdr.exch == IKE_EXCH_AUTH ? ike_auth_response(sa, m) : IKE_ERR_STATE;
	case IKE_P_DELETE_IKE:
	case IKE_P_DELETE_CHILD:
	case IKE_P_LIVENESS:
		return m->hdr.exch == IKE_EXCH_INFORMATIONAL ? ike_info_response(sa, m)
							      : IKE_ERR_STATE;
	case IKE_P_REKEY_CHILD:
	case IKE_P_REKEY_IKE:
		return m->hdr.exch == IKE_EXCH_CREATE_CHILD_SA ? ike_rekey_response(sa, m)
								: IKE_ERR_STATE;
	default:
		return IKE_ERR_STATE;
	}
}

/* Everything after IKE_SA_INIT is SK-protected (§3.14): decrypt with the peer's key, then
 * route. A failed ICV is dropped silently (§2.21.2) and does not count as peer activity. */
static enum ike_status receive_on_sa(struct ike_sa *sa, struct ike_msg *m, const uint8_t *raw,
				     size_t len, const struct ike_endpoint *from,
				     const struct ike_endpoint *to)
{
	bool response = m->hdr.flags & IKE_FLAG_R;
	const struct ike_sk_key *k = sa->initiator ? &sa->keys.sk_er : &sa->keys.sk_ei;
	enum ike_codec_status cs;
	enum ike_status st;

	ike_sa_touch(sa);
	if (m->hdr.exch == IKE_EXCH_SA_INIT)
		return response && sa->initiator && sa->state == IKE_S_INIT_SENT
			       ? ike_init_response(sa, m, raw, len)
			       : IKE_ERR_STATE;
	if (!sa->have_keys)
		return IKE_ERR_STATE;
	/* a retransmitted request is answered before the costlier decryption */
	if (!response && sa->have_resp && m->hdr.msgid == sa->resp_id) {
		ike_sa_resend_response(sa);
		return IKE_OK;
	}
	if (response && ike_sa_lost_hint(sa, m))
		return IKE_OK;
	cs = ike_msg_decrypt(m, k);
	if (cs != IKE_CODEC_OK) {
		oe_debug(IKE, "IKE SA %016" PRIx64 ": dropped %s: %s", sa->spi_i,
			 ike_exch_name(m->hdr.exch), ike_codec_strerror(cs));
		return IKE_ERR_MALFORMED;
	}
	sa->last_rx_ms = ike_now(sa->e);
	ike_nat_follow(sa, m, from, to);
	st = response ? route_response(sa, m) : route_request(sa, m);
	if (sa->state != IKE_S_DEAD)
		ike_sa_run_queue(sa);
	return st;
}

enum ike_status ike_receive(struct ike_engine *e, const uint8_t *msg, size_t len,
			    const struct ike_endpoint *from, const struct ike_endpoint *to)
{
	struct ike_msg *m = NULL;
	struct ike_sa *sa;
	enum ike_codec_status cs;
	enum ike_status st;
	bool from_initiator;

	enter(e);
	e->stats.received++;
	cs = ike_msg_parse(msg, len, &m);
	if (cs != IKE_CODEC_OK) {
		oe_debug(IKE, "dropped a datagram of %zu octets: %s", len, ike_codec_strerror(cs));
		st = IKE_ERR_MALFORMED;
		goto out;
	}
	from_initiator = m->hdr.flags & IKE_FLAG_I;
	if (m->hdr.exch == IKE_EXCH_SA_INIT && !(m->hdr.flags & IKE_FLAG_R)) {
		st = from_initiator ? ike_init_request(e, m, msg, len, from, to) : IKE_ERR_MALFORMED;
		goto out;
	}
	if (ike_sa_invalid_spi_hint(e, m, from)) {
		st = IKE_OK;
		goto out;
	}
	sa = ike_sa_by_spi(e, ike_spi_get(from_initiator ? m->hdr.spi_r : m->hdr.spi_i));
	/* the peer's SPI must match too, except in the IKE_SA_INIT answer that tells it */
	if (!sa || sa->initiator == from_initiator ||
	    (ike_spi_get(from_initiator ? m->hdr.spi_i : m->hdr.spi_r) !=
		     (from_initiator ? sa->spi_i : sa->spi_r) &&
	     m->hdr.exch != IKE_EXCH_SA_INIT)) {
		st = IKE_ERR_UNKNOWN_SA;
		answer_unknown_spi(e, m, from, to);
		goto out;
	}
	st = receive_on_sa(sa, m, msg, len, from, to);
out:
	/* what changed nothing: a refused IKE_SA_INIT still got its answer */
	if (st != IKE_OK && st != IKE_ERR_POLICY && st != IKE_ERR_COOKIE &&
	    st != IKE_ERR_NO_PROPOSAL && st != IKE_ERR_INVALID_KE)
		e->stats.dropped++;
	ike_msg_free(m);
	leave(e);
	return st;
}

void ike_lookup_done(struct ike_engine *e, uint64_t req, const struct dk_result *res)
{
	enter(e);
	for (struct ike_sa *sa = e->young; sa; sa = sa->ynext)
		if (sa->lookup_req == req && sa->state == IKE_S_AUTH_LOOKUP) {
			ike_sa_touch(sa);
			sa->lookup_req = 0;
			ike_auth_lookup_done(sa, res);
			if (sa->state != IKE_S_DEAD)
				ike_sa_run_queue(sa);
			break;
		}
	leave(e);
}

uint64_t ike_next_deadline(const struct ike_engine *e)
{
	return ike_timer_next(e);
}

void ike_run_timers(struct ike_engine *e)
{
	uint64_t now = ike_now(e);
	struct ike_sa *sa, *next;

	enter(e);
	for (sa = ike_timer_due(e, now); sa; sa = next) {
		next = sa->dnext;
		sa->dnext = NULL;
		ike_sa_timers(sa, now);
	}
	leave(e);
}

/* Queues our DELETE of the IKE SA (which closes its Child SAs, RFC 7296 §1.4.1); an SA we never
 * finished is just dropped. Inside an entry point. */
static enum ike_status delete_ike(struct ike_sa *sa)
{
	ike_sa_touch(sa);
	if (sa->state != IKE_S_ESTABLISHED && sa->state != IKE_S_REKEYED) {
		ike_sa_kill(sa, IKE_ERR_DELETED); /* nothing to tell a peer we never finished */
		return IKE_OK;
	}
	if (!ike_sa_queue(sa, IKE_P_DELETE_IKE, 0))
		return IKE_ERR_BUSY;
	ike_sa_run_queue(sa);
	return IKE_OK;
}

enum ike_status ike_delete(struct ike_engine *e, uint64_t handle)
{
	struct ike_sa *sa = ike_sa_by_handle(e, handle);
	enum ike_status st;

	if (!sa)
		return IKE_ERR_UNKNOWN_SA;
	enter(e);
	st = delete_ike(sa);
	leave(e);
	return st;
}

/* Child SAs of sa in the kernel. */
static size_t nchildren(const struct ike_sa *sa)
{
	size_t n = 0;

	for (const struct child_sa *c = sa->children; c; c = c->next)
		n += c->installed;
	return n;
}

/* A Child SA that still carries the pair: not on its way out after a rekey or a DELETE. */
static bool child_live(const struct child_sa *c)
{
	return c->installed && (c->state == CHILD_S_INSTALLED || c->state == CHILD_S_REKEYING);
}

enum ike_status ike_delete_child(struct ike_engine *e, uint64_t handle, uint32_t spi_in,
				 bool *ike_too)
{
	struct ike_sa *sa = ike_sa_by_handle(e, handle);
	struct child_sa *c = sa ? child_sa_by_spi_in(sa, spi_in) : NULL;
	bool others = false;
	enum ike_status st = IKE_OK;

	if (ike_too)
		*ike_too = false;
	if (!c || !c->installed)
		return IKE_ERR_UNKNOWN_SA;
	if (c->state == CHILD_S_DELETING || sa->state != IKE_S_ESTABLISHED)
		return IKE_ERR_STATE;
	for (const struct child_sa *o = sa->children; o; o = o->next)
		others = others || (o != c && child_live(o));
	enter(e);
	ike_sa_touch(sa);
	if (!others) {
		/* the last one: the IKE SA goes too, and its DELETE covers the Child SA */
		if (ike_too)
			*ike_too = true;
		st = delete_ike(sa);
	} else if (!ike_sa_queue(sa, IKE_P_DELETE_CHILD, spi_in)) {
		st = IKE_ERR_BUSY;
	} else {
		ike_sa_run_queue(sa);
	}
	leave(e);
	return st;
}

size_t ike_delete_childless(struct ike_engine *e, uint64_t idle_ms)
{
	uint64_t now = ike_now(e);
	size_t n = 0;

	enter(e);
	for (struct ike_sa *sa = e->all; sa; sa = sa->next) {
		uint64_t since = sa->child_gone_ms > sa->established_ms ? sa->child_gone_ms
									: sa->established_ms;

		/* an exchange in flight (a liveness check, a rekey) is left to finish first */
		if (sa->state != IKE_S_ESTABLISHED || sa->pending != IKE_P_NONE || nchildren(sa) ||
		    now - since < idle_ms)
			continue;
		oe_info(IKE, "IKE SA %016" PRIx64 ":%016" PRIx64 ": no Child SA for %" PRIu64
			" s, deleting it", sa->spi_i, sa->spi_r, (now - since) / 1000);
		if (delete_ike(sa) == IKE_OK)
			n++;
	}
	leave(e);
	return n;
}

static enum ike_status rekey(struct ike_engine *e, uint64_t handle, enum ike_pending what)
{
	struct ike_sa *sa = ike_sa_by_handle(e, handle);
	enum ike_status st = IKE_OK;
	uint32_t spi = 0;

	if (!sa)
		return IKE_ERR_UNKNOWN_SA;
	if (sa->state != IKE_S_ESTABLISHED)
		return IKE_ERR_STATE;
	if (what == IKE_P_REKEY_CHILD) {
		for (struct child_sa *c = sa->children; c; c = c->next)
			if (c->state == CHILD_S_INSTALLED)
				spi = c->k.spi_in;
		if (!spi)
			return IKE_ERR_STATE;
	}
	enter(e);
	ike_sa_touch(sa);
	if (!ike_sa_queue(sa, what, spi))
		st = IKE_ERR_BUSY;
	else
		ike_sa_run_queue(sa);
	leave(e);
	return st;
}

enum ike_status ike_rekey_child(struct ike_engine *e, uint64_t handle)
{
	return rekey(e, handle, IKE_P_REKEY_CHILD);
}

enum ike_status ike_rekey_ike(struct ike_engine *e, uint64_t handle)
{
	return rekey(e, handle, IKE_P_REKEY_IKE);
}

void ike_stats_get(const struct ike_engine *e, struct ike_stats *out)
{
	*out = e->stats;
}

size_t ike_sa_count(const struct ike_engine *e)
{
	size_t n = 0;

	for (const struct ike_sa *sa = e->all; sa; sa = sa->next)
		n += sa->state != IKE_S_DEAD;
	return n;
}

bool ike_sa_get(const struct ike_engine *e, uint64_t handle, struct ike_sa_info *out)
{
	const struct ike_sa *sa = ike_sa_by_handle(e, handle);

	if (!sa)
		return false;
	ike_sa_info_fill(sa, out);
	return true;
}

bool ike_sa_at(const struct ike_engine *e, size_t i, struct ike_sa_info *out)
{
	for (const struct ike_sa *sa = e->all; sa; sa = sa->next) {
		if (sa->state == IKE_S_DEAD)
			continue;
		if (i-- == 0) {
			ike_sa_info_fill(sa, out);
			return true;
		}
	}
	return false;
}

/* ---- `ipsec status` ------------------------------------------------------------------------ */

/* What the listing shows of a Child SA, gathered once for the text and the JSON forms. */
struct child_view {
	const struct kern_child_sa *k;
	const char *state;
	bool installed;
	struct kern_sa_counters ct;
	uint64_t idle_s, age_s;
	uint64_t rekey_in_ms, expires_in_ms; /* UINT64_MAX: never */
};

/* Milliseconds until at (0: no deadline -> UINT64_MAX; due already -> 0). */
static uint64_t left_ms(uint64_t at, uint64_t now)
{
	return !at ? UINT64_MAX : at > now ? at - now : 0;
}

static uint64_t secs_since(uint64_t t, uint64_t now)
{
	return t && t < now ? (now - t) / 1000 : 0;
}

static void child_view(const struct ike_engine *e, const struct child_sa *c, uint64_t now,
		       struct child_view *v)
{
	memset(v, 0, sizeof(*v));
	v->k = &c->k;
	v->state = child_sa_state_name(c->state);
	v->installed = c->installed;
	if (c->installed && e->ops.kern->query)
		e->ops.kern->query(e->ops.kern_arg, &c->k, &v->ct);
	/* idle since the last packet either way, or since it was installed */
	v->idle_s = secs_since(v->ct.last_use_ms ? v->ct.last_use_ms : c->installed_ms, now);
	v->age_s = secs_since(c->installed_ms, now);
	v->rekey_in_ms = left_ms(c->rekey_at, now);
	v->expires_in_ms = left_ms(c->expire_at, now);
}

/* "in 42s" for a deadline ms away, "never" without one, "now" when it is due. */
static const char *until(uint64_t ms, char buf[static 32])
{
	if (ms == UINT64_MAX)
		return "never";
	if (ms == 0)
		return "now";
	snprintf(buf, 32, "in %" PRIu64 "s", (ms + 999) / 1000);
	return buf;
}

static void format_ike_sa(const struct ike_sa *sa, uint64_t now, struct oe_buf *out)
{
	char l[OE_ADDRSTRLEN], r[OE_ADDRSTRLEN], lid[IKE_IDSTRLEN], rid[IKE_IDSTRLEN], t[32];
	size_t n = nchildren(sa);
	struct ike_id me;

	ike_local_id(sa, &me);
	oe_buf_printf(out, "IKE SA %016" PRIx64 "_i %016" PRIx64 "_r %s, %s, %s[%u] %s %s[%u]\n",
		      sa->spi_i, sa->spi_r, ike_sa_state_name(sa->state),
		      sa->initiator ? "initiator" : "responder", oe_addr_str(&sa->local.addr, l),
		      sa->local.port, sa->initiator ? "->" : "<-",
		      oe_addr_str(&sa->remote.addr, r), sa->remote.port);
	if (!sa->established_ms) {
		oe_buf_printf(out, "    not established yet\n");
		return;
	}
	oe_buf_printf(out, "    ids %s -> %s, peer auth %s, %s/%s/AES_GCM_16-%u\n",
		      ike_id_str(&me, lid), ike_id_str(&sa->peer_id, rid),
		      ike_auth_method_name(sa->peer_auth), ike_xf_name(IKE_XF_DH, sa->dh),
		      ike_xf_name(IKE_XF_PRF, sa->prf), sa->encr_bits);
	oe_buf_printf(out, "    age %" PRIu64 "s, rekey %s, %zu Child SA%s\n",
		      secs_since(sa->established_ms, now), until(left_ms(sa->rekey_at, now), t), n,
		      n == 1 ? "" : "s");
}

static void format_child_sa(const struct child_view *v, struct oe_buf *out)
{
	const struct kern_child_sa *k = v->k;
	char s[OE_PREFIXSTRLEN], d[OE_PREFIXSTRLEN], encap[32], t1[32], t2[32];

	if (k->encap == KERN_ENCAP_UDP)
		snprintf(encap, sizeof(encap), "ESP in UDP %u", k->encap_dport);
	else
		snprintf(encap, sizeof(encap), "raw ESP");
	oe_buf_printf(out, "  Child SA %08x_in %08x_out %s, %s, %s, AES_GCM_16-%u, %s, reqid %u\n",
		      k->spi_in, k->spi_out, v->state,
		      k->mode == KERN_MODE_TUNNEL ? "tunnel" : "transport", encap,
		      (unsigned)k->key_len * 8, k->esn ? "ESN" : "no ESN", k->reqid);
	oe_buf_printf(out, "    %s === %s\n", oe_prefix_str(&k->sel.src, s),
		      oe_prefix_str(&k->sel.dst, d));
	if (!v->installed)
		return;
	oe_buf_printf(out, "    in %" PRIu64 " bytes %" PRIu64 " packets, out %" PRIu64 " bytes %"
		      PRIu64 " packets, idle %" PRIu64 "s%s\n", v->ct.bytes_in, v->ct.packets_in,
		      v->ct.bytes_out, v->ct.packets_out, v->idle_s,
		      v->ct.last_use_ms ? "" : " (never used)");
	oe_buf_printf(out, "    age %" PRIu64 "s, rekey %s, expires %s\n", v->age_s,
		      until(v->rekey_in_ms, t1), until(v->expires_in_ms, t2));
}

void ike_status_format(const struct ike_engine *e, struct oe_buf *out)
{
	uint64_t now = ike_now(e);
	struct child_view v;

	for (const struct ike_sa *sa = e->all; sa; sa = sa->next) {
		if (sa->state == IKE_S_DEAD)
			continue;
		format_ike_sa(sa, now, out);
		for (const struct child_sa *c = sa->children; c; c = c->next) {
			child_view(e, c, now, &v);
			format_child_sa(&v, out);
		}
	}
}

/* ---- the same as JSON ---------------------------------------------------------------------- */

/* ,"name":"s" */
static void json_kv_str(struct oe_buf *out, const char *name, const char *s)
{
	oe_buf_printf(out, ",\"%s\":", name);
	oe_buf_json_str(out, s);
}

/* ,"name":N in seconds (rounded up), or null without a deadline */
static void json_kv_left(struct oe_buf *out, const char *name, uint64_t ms)
{
	if (ms == UINT64_MAX)
		oe_buf_printf(out, ",\"%s\":null", name);
	else
		oe_buf_printf(out, ",\"%s\":%" PRIu64, name, (ms + 999) / 1000);
}

static void json_child_sa(const struct child_view *v, struct oe_buf *out)
{
	const struct kern_child_sa *k = v->k;
	char s[OE_PREFIXSTRLEN], d[OE_PREFIXSTRLEN];

	oe_buf_printf(out, "{\"spi_in\":\"%08x\",\"spi_out\":\"%08x\"", k->spi_in, k->spi_out);
	json_kv_str(out, "state", v->state);
	json_kv_str(out, "mode", k->mode == KERN_MODE_TUNNEL ? "tunnel" : "transport");
	json_kv_str(out, "encap", k->encap == KERN_ENCAP_UDP ? "udp" : "none");
	oe_buf_printf(out, ",\"encap_port\":%u", k->encap == KERN_ENCAP_UDP ? k->encap_dport : 0);
	oe_buf_printf(out, ",\"encr\":\"AES_GCM_16\",\"encr_bits\":%u,\"esn\":%s,\"reqid\":%u",
		      (unsigned)k->key_len * 8, k->esn ? "true" : "false", k->reqid);
	json_kv_str(out, "src", oe_prefix_str(&k->sel.src, s));
	json_kv_str(out, "dst", oe_prefix_str(&k->sel.dst, d));
	oe_buf_printf(out, ",\"installed\":%s,\"bytes_in\":%" PRIu64 ",\"packets_in\":%" PRIu64
		      ",\"bytes_out\":%" PRIu64 ",\"packets_out\":%" PRIu64 ",\"used\":%s"
		      ",\"idle_s\":%" PRIu64 ",\"age_s\":%" PRIu64, v->installed ? "true" : "false",
		      v->ct.bytes_in, v->ct.packets_in, v->ct.bytes_out, v->ct.packets_out,
		      v->ct.last_use_ms ? "true" : "false", v->idle_s, v->age_s);
	json_kv_left(out, "rekey_in_s", v->rekey_in_ms);
	json_kv_left(out, "expires_in_s", v->expires_in_ms);
	oe_buf_puts(out, "}");
}

static void json_ike_sa(const struct ike_engine *e, const struct ike_sa *sa, uint64_t now,
			struct oe_buf *out)
{
	char a[OE_ADDRSTRLEN], id[IKE_IDSTRLEN];
	struct child_view v;
	struct ike_id me;
	const char *sep = "";

	ike_local_id(sa, &me);
	oe_buf_printf(out, "{\"spi_i\":\"%016" PRIx64 "\",\"spi_r\":\"%016" PRIx64 "\"", sa->spi_i,
		      sa->spi_r);
	json_kv_str(out, "state", ike_sa_state_name(sa->state));
	oe_buf_printf(out, ",\"initiator\":%s", sa->initiator ? "true" : "false");
	json_kv_str(out, "local", oe_addr_str(&sa->local.addr, a));
	oe_buf_printf(out, ",\"local_port\":%u", sa->local.port);
	json_kv_str(out, "remote", oe_addr_str(&sa->remote.addr, a));
	oe_buf_printf(out, ",\"remote_port\":%u", sa->remote.port);
	json_kv_str(out, "local_id", ike_id_str(&me, id));
	json_kv_str(out, "remote_id", ike_id_str(&sa->peer_id, id));
	json_kv_str(out, "peer_auth", ike_auth_method_name(sa->peer_auth));
	json_kv_str(out, "dh", ike_xf_name(IKE_XF_DH, sa->dh));
	json_kv_str(out, "prf", ike_xf_name(IKE_XF_PRF, sa->prf));
	oe_buf_printf(out, ",\"encr\":\"AES_GCM_16\",\"encr_bits\":%u", sa->encr_bits);
	if (sa->established_ms)
		oe_buf_printf(out, ",\"age_s\":%" PRIu64, secs_since(sa->established_ms, now));
	else
		oe_buf_puts(out, ",\"age_s\":null");
	json_kv_left(out, "rekey_in_s", left_ms(sa->rekey_at, now));
	oe_buf_printf(out, ",\"nchild\":%zu,\"child_sas\":[", nchildren(sa));
	for (const struct child_sa *c = sa->children; c; c = c->next, sep = ",\n  ") {
		oe_buf_puts(out, *sep ? sep : "\n  ");
		child_view(e, c, now, &v);
		json_child_sa(&v, out);
	}
	oe_buf_puts(out, sa->children ? "\n ]}" : "]}");
}

void ike_status_json(const struct ike_engine *e, struct oe_buf *out)
{
	uint64_t now = ike_now(e);
	bool any = false;

	oe_buf_puts(out, "[");
	for (const struct ike_sa *sa = e->all; sa; sa = sa->next) {
		if (sa->state == IKE_S_DEAD)
			continue;
		oe_buf_puts(out, any ? ",\n " : "\n ");
		json_ike_sa(e, sa, now, out);
		any = true;
	}
	oe_buf_puts(out, any ? "\n]" : "]");
}
