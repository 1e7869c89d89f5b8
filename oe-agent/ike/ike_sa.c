/* The IKE SA machinery under every exchange: the SA table (hashed by our SPI), the one
 * function through which an SA changes state, message IDs with windows of one (RFC 7296 §2.3),
 * retransmission with exponential backoff and a give-up (§2.1), cached responses for
 * duplicate requests (§2.1), the queue of requests waiting for the window, and timers. */
#include "ike_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "oe_log.h"

static const char *const state_names[IKE_S_COUNT] = {
	[IKE_S_NEW] = "NEW",
	[IKE_S_INIT_SENT] = "INIT_SENT",
	[IKE_S_INIT_DONE] = "INIT_DONE",
	[IKE_S_AUTH_SENT] = "AUTH_SENT",
	[IKE_S_AUTH_LOOKUP] = "AUTH_LOOKUP",
	[IKE_S_ESTABLISHED] = "ESTABLISHED",
	[IKE_S_REKEYED] = "REKEYED",
	[IKE_S_DELETING] = "DELETING",
	[IKE_S_DEAD] = "DEAD",
};

const char *ike_sa_state_name(enum ike_sa_state s)
{
	return (unsigned)s < IKE_S_COUNT ? state_names[s] : "?";
}

static const char *const pending_names[IKE_P_COUNT] = {
	[IKE_P_NONE] = "none",
	[IKE_P_INIT] = "IKE_SA_INIT",
	[IKE_P_AUTH] = "IKE_AUTH",
	[IKE_P_DELETE_IKE] = "DELETE(IKE)",
	[IKE_P_DELETE_CHILD] = "DELETE(ESP)",
	[IKE_P_LIVENESS] = "liveness",
	[IKE_P_REKEY_CHILD] = "REKEY(ESP)",
	[IKE_P_REKEY_IKE] = "REKEY(IKE)",
};

const char *ike_pending_name(enum ike_pending p)
{
	return (unsigned)p < IKE_P_COUNT ? pending_names[p] : "?";
}

/* Allowed transitions: bit (1 << to) set in allowed[from]. */
#define B(s) (1u << (s))
static const unsigned allowed[IKE_S_COUNT] = {
	[IKE_S_NEW] = B(IKE_S_INIT_SENT) | B(IKE_S_INIT_DONE) | B(IKE_S_ESTABLISHED) |
		      B(IKE_S_DEAD),
	[IKE_S_INIT_SENT] = B(IKE_S_AUTH_SENT) | B(IKE_S_DEAD),
	[IKE_S_INIT_DONE] = B(IKE_S_AUTH_LOOKUP) | B(IKE_S_ESTABLISHED) | B(IKE_S_DEAD),
	[IKE_S_AUTH_SENT] = B(IKE_S_AUTH_LOOKUP) | B(IKE_S_ESTABLISHED) | B(IKE_S_DEAD),
	[IKE_S_AUTH_LOOKUP] = B(IKE_S_ESTABLISHED) | B(IKE_S_DEAD),
	[IKE_S_ESTABLISHED] = B(IKE_S_REKEYED) | B(IKE_S_DELETING) | B(IKE_S_DEAD),
	[IKE_S_REKEYED] = B(IKE_S_DELETING) | B(IKE_S_DEAD),
	[IKE_S_DELETING] = B(IKE_S_DEAD),
	[IKE_S_DEAD] = 0,
};
#undef B

uint64_t ike_now(const struct ike_engine *e)
{
	return e->ops.now_ms(e->ops.arg);
}

int ike_random(const struct ike_engine *e, void *buf, size_t n)
{
	return e->ops.random(e->ops.arg, buf, n);
}

uint64_t ike_sa_local_spi(const struct ike_sa *sa)
{
	return sa->initiator ? sa->spi_i : sa->spi_r;
}

static size_t bucket(const struct ike_engine *e, uint64_t spi)
{
	/* SPIs are random (ours), so their low bits hash well enough */
	return (size_t)(spi ^ spi >> 32) & (e->nbuckets - 1);
}

/* Moves the chains of table t (linked through the field at offset link, keyed by key()) into
 * the empty table h of n buckets. */
static void rechain(struct ike_sa **t, size_t old_n, struct ike_sa **h, size_t n, size_t link,
		    uint64_t (*key)(const struct ike_sa *))
{
	for (size_t i = 0; i < old_n; i++) {
		struct ike_sa *sa = t[i], *next;

		for (; sa; sa = next) {
			struct ike_sa **lk = (struct ike_sa **)((char *)sa + link);
			uint64_t k = key(sa);
			size_t b = (size_t)(k ^ k >> 32) & (n - 1);

			next = *lk;
			*lk = h[b];
			h[b] = sa;
		}
	}
}

static uint64_t peer_spi(const struct ike_sa *sa)
{
	return sa->spi_i;
}

static void rehash(struct ike_engine *e)
{
	size_t n = e->nbuckets * 2;
	struct ike_sa **h = calloc(n, sizeof(*h)), **ph = calloc(n, sizeof(*ph));

	if (!h || !ph) { /* keep the longer chains */
		free(h);
		free(ph);
		return;
	}
	rechain(e->hash, e->nbuckets, h, n, offsetof(struct ike_sa, hnext), ike_sa_local_spi);
	rechain(e->phash, e->nbuckets, ph, n, offsetof(struct ike_sa, pnext), peer_spi);
	free(e->hash);
	free(e->phash);
	e->hash = h;
	e->phash = ph;
	e->nbuckets = n;
}

void ike_sa_hash(struct ike_sa *sa)
{
	struct ike_engine *e = sa->e;
	size_t b;

	if (e->nsa > e->nbuckets)
		rehash(e);
	b = bucket(e, ike_sa_local_spi(sa));
	sa->hnext = e->hash[b];
	e->hash[b] = sa;
}

void ike_sa_hash_peer(struct ike_sa *sa)
{
	size_t b = bucket(sa->e, sa->spi_i);

	sa->pnext = sa->e->phash[b];
	sa->e->phash[b] = sa;
	sa->peer_hashed = true;
}

static void unhash(struct ike_sa *sa)
{
	struct ike_sa **pp = &sa->e->hash[bucket(sa->e, ike_sa_local_spi(sa))];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == sa) {
			*pp = sa->hnext;
			break;
		}
	if (!sa->peer_hashed)
		return;
	for (pp = &sa->e->phash[bucket(sa->e, sa->spi_i)]; *pp; pp = &(*pp)->pnext)
		if (*pp == sa) {
			*pp = sa->pnext;
			return;
		}
}

struct ike_sa *ike_sa_by_spi(struct ike_engine *e, uint64_t local_spi)
{
	struct ike_sa *sa = e->hash[bucket(e, local_spi)];

	for (; sa; sa = sa->hnext)
		if (ike_sa_local_spi(sa) == local_spi && sa->state != IKE_S_DEAD)
			return sa;
	return NULL;
}

struct ike_sa *ike_sa_by_handle(const struct ike_engine *e, uint64_t handle)
{
	for (struct ike_sa *sa = e->all; sa; sa = sa->next)
		if (sa->handle == handle && sa->state != IKE_S_DEAD)
			return sa;
	return NULL;
}

struct ike_sa *ike_sa_find_init(struct ike_engine *e, uint64_t spi_i,
				const struct ike_endpoint *remote)
{
	for (struct ike_sa *sa = e->phash[bucket(e, spi_i)]; sa; sa = sa->pnext)
		if (sa->spi_i == spi_i && sa->state != IKE_S_DEAD &&
		    oe_addr_eq(&sa->remote.addr, &remote->addr) && sa->remote.port == remote->port)
			return sa;
	return NULL;
}

struct ike_sa *ike_sa_new(struct ike_engine *e, bool initiator, const struct ike_endpoint *local,
			  const struct ike_endpoint *remote)
{
	struct ike_sa *sa = calloc(1, sizeof(*sa));
	uint64_t spi = 0;

	if (!sa)
		return NULL;
	/* our SPI: random, non-zero and unique in the table (RFC 7296 §2.6) */
	do {
		if (ike_random(e, &spi, sizeof(spi)) != 0) {
			free(sa);
			return NULL;
		}
	} while (spi == 0 || ike_sa_by_spi(e, spi));
	sa->e = e;
	sa->initiator = initiator;
	if (initiator)
		sa->spi_i = spi;
	else
		sa->spi_r = spi;
	sa->local = *local;
	sa->remote = *remote;
	sa->handle = ++e->next_handle;
	sa->state = IKE_S_NEW;
	sa->heap_idx = SIZE_MAX;
	ike_sa_touch(sa);
	sa->last_rx_ms = ike_now(e);
	/* at the tail, so listings are in creation order */
	if (!e->all_tail)
		e->all_tail = &e->all;
	*e->all_tail = sa;
	e->all_tail = &sa->next;
	e->nsa++;
	ike_sa_hash(sa);
	return sa;
}

static void log_transition(const struct ike_sa *sa, enum ike_sa_state to)
{
	char l[OE_ADDRSTRLEN], r[OE_ADDRSTRLEN];

	if (!oe_log_enabled(OE_LOG_INFO))
		return; /* spare the address formatting */
	oe_info(IKE, "IKE SA %016" PRIx64 ":%016" PRIx64 " %s %s -> %s (%s:%u %s %s:%u)",
		sa->spi_i, sa->spi_r, sa->initiator ? "I" : "R", ike_sa_state_name(sa->state),
		ike_sa_state_name(to), oe_addr_str(&sa->local.addr, l), sa->local.port,
		sa->initiator ? "->" : "<-", oe_addr_str(&sa->remote.addr, r), sa->remote.port);
}

/* How long an initiator keeps retransmitting: the sum of the backoff, bounded above. */
static uint64_t give_up_ms(const struct ike_engine *e)
{
	return (uint64_t)e->conf.retransmit_ms << (e->conf.retransmit_tries + 1);
}

bool ike_sa_set_state(struct ike_sa *sa, enum ike_sa_state to)
{
	struct ike_engine *e = sa->e;
	uint64_t now = ike_now(e);

	if ((unsigned)to >= IKE_S_COUNT || !(allowed[sa->state] & (1u << to))) {
		oe_err(IKE, "IKE SA %016" PRIx64 ":%016" PRIx64 ": refused transition %s -> %s",
		       sa->spi_i, sa->spi_r, ike_sa_state_name(sa->state), ike_sa_state_name(to));
		return false;
	}
	log_transition(sa, to);
	ike_sa_touch(sa);
	if ((to == IKE_S_INIT_DONE || to == IKE_S_AUTH_LOOKUP) && !sa->young) {
		sa->young = true;
		sa->ynext = e->young;
		e->young = sa;
	} else if (sa->young && (to == IKE_S_ESTABLISHED || to == IKE_S_DEAD)) {
		struct ike_sa **pp = &e->young;

		while (*pp != sa)
			pp = &(*pp)->ynext;
		*pp = sa->ynext;
		sa->young = false;
	}
	if (to == IKE_S_DEAD)
		e->ndead++;
	if (sa->state == IKE_S_INIT_DONE && e->half_open > 0)
		e->half_open--;
	if (to == IKE_S_INIT_DONE)
		e->half_open++;
	sa->state = to;
	/* timers of the new state */
	sa->expire_at = 0;
	switch (to) {
	case IKE_S_INIT_DONE:
		/* a half-open SA lives as long as an initiator keeps retransmitting */
		sa->expire_at = now + give_up_ms(e);
		break;
	case IKE_S_AUTH_LOOKUP:
		sa->lookup_deadline = now + e->conf.lookup_timeout_ms;
		break;
	case IKE_S_ESTABLISHED:
		if (!sa->replaced)
			e->stats.established++;
		sa->established_ms = now;
		sa->liveness_at = e->conf.liveness_ms ? now + e->conf.liveness_ms : 0;
		/* RFC 3948 §2.3: keepalives hold the mapping of a NAT in front of us */
		sa->keepalive_at = sa->nat_local && e->conf.keepalive_s ?
					   now + (uint64_t)e->conf.keepalive_s * 1000 : 0;
		/* the original responder 5% later, so both ends rarely rekey at once (when they
		 * do, §2.8.2 sorts it out) */
		if (!sa->rekey_at && e->conf.ike_lifetime_s)
			sa->rekey_at = now + (uint64_t)e->conf.ike_lifetime_s *
						     (sa->initiator ? 1000 : 1050);
		break;
	case IKE_S_REKEYED:
		/* the peer deletes it, or we do after one give-up time */
		sa->liveness_at = sa->rekey_at = sa->keepalive_at = 0;
		sa->expire_at = now + give_up_ms(e);
		break;
	case IKE_S_DELETING:
	case IKE_S_DEAD:
		sa->liveness_at = sa->rekey_at = sa->keepalive_at = 0;
		break;
	default:
		break;
	}
	return true;
}

/* Keeps e->child_rekeys_out (ike_child_rekey_waiting) in step with our outstanding requests. */
static void rekey_out(struct ike_sa *sa, bool out)
{
	if (sa->rekey_out == out)
		return;
	sa->rekey_out = out;
	if (out)
		sa->e->child_rekeys_out++;
	else
		sa->e->child_rekeys_out--;
}

bool ike_child_rekey_waiting(const struct ike_engine *e)
{
	return e->child_rekeys_out > 0;
}

void ike_event(struct ike_sa *sa, enum ike_event_kind kind, enum ike_status why,
	       const struct kern_child_sa *child)
{
	struct ike_event ev = { .kind = kind, .sa = sa->handle, .why = why,
				.remote = sa->remote, .child = child };

	if (sa->e->ops.event)
		sa->e->ops.event(sa->e->ops.arg, &ev);
}

void ike_sa_kill(struct ike_sa *sa, enum ike_status why)
{
	bool was_up = sa->state == IKE_S_ESTABLISHED || sa->state == IKE_S_REKEYED ||
		      sa->state == IKE_S_DELETING;

	if (sa->state == IKE_S_DEAD)
		return;
	if (why != IKE_OK)
		sa->last_error = why;
	oe_info(IKE, "IKE SA %016" PRIx64 ":%016" PRIx64 ": %s", sa->spi_i, sa->spi_r,
		ike_strerror(why));
	child_sa_remove_all(sa);
	rekey_out(sa, false);
	if (sa->lookup_req && sa->e->ops.lookup_cancel)
		sa->e->ops.lookup_cancel(sa->e->ops.arg, sa->lookup_req);
	sa->lookup_req = 0;
	ike_sa_set_state(sa, IKE_S_DEAD);
	sa->retransmit_at = 0;
	if (sa->state != IKE_S_DEAD || sa->replaced)
		return;
	if (was_up)
		sa->e->stats.deleted++;
	else
		sa->e->stats.failed++;
	if (why != IKE_OK)
		ike_event(sa, was_up ? IKE_EV_DELETED : IKE_EV_FAILED, why, NULL);
}

static void ike_sa_free(struct ike_sa *sa)
{
	ike_dh_free(sa->dhs);
	free(sa->req);
	free(sa->resp);
	free(sa->init_i);
	free(sa->init_r);
	ike_auth_wait_free(sa->aw);
	if (sa->have_peer_keys)
		dk_result_clear(&sa->peer_keys);
	ike_sa_keys_wipe(&sa->keys);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

void ike_sa_reap(struct ike_engine *e)
{
	struct ike_sa **pp = &e->all;

	if (!e->ndead)
		return;
	e->ndead = 0;
	while (*pp) {
		struct ike_sa *sa = *pp;

		if (sa->state != IKE_S_DEAD) {
			pp = &sa->next;
			continue;
		}
		*pp = sa->next;
		unhash(sa);
		ike_timer_remove(e, sa);
		e->nsa--;
		ike_sa_free(sa);
	}
	e->all_tail = pp;
}

void ike_sa_free_all(struct ike_engine *e)
{
	while (e->all) {
		struct ike_sa *sa = e->all;

		e->all = sa->next;
		child_sa_remove_all(sa);
		unhash(sa);
		e->nsa--;
		ike_sa_free(sa);
	}
	e->young = NULL;
	e->all_tail = &e->all;
	e->ndead = 0;
	e->touched = NULL;
	e->nheap = 0;
}

static void transmit(struct ike_sa *sa, const uint8_t *msg, size_t len)
{
	int err;

	sa->e->stats.sent++;
	sa->last_tx_ms = ike_now(sa->e);
	err = sa->e->ops.send(sa->e->ops.arg, &sa->local, &sa->remote, msg, len);
	if (err)
		oe_debug(IKE, "send of %zu octets failed: %d (the retransmission covers it)", len,
			 err);
}

void ike_sa_send_request(struct ike_sa *sa, enum ike_pending what, uint8_t *msg, size_t len)
{
	free(sa->req);
	sa->req = msg;
	sa->req_len = len;
	sa->pending = what;
	sa->retries = 0;
	sa->peer_lost = false;
	rekey_out(sa, what == IKE_P_REKEY_CHILD);
	ike_sa_touch(sa);
	sa->retransmit_at = ike_now(sa->e) + sa->e->conf.retransmit_ms;
	transmit(sa, msg, len);
}

void ike_sa_send_response(struct ike_sa *sa, uint32_t id, uint8_t *msg, size_t len)
{
	free(sa->resp);
	sa->resp = msg;
	sa->resp_len = len;
	sa->resp_id = id;
	sa->have_resp = true;
	sa->next_peer_id = id + 1;
	transmit(sa, msg, len);
}

void ike_sa_resend_response(struct ike_sa *sa)
{
	if (!sa->have_resp)
		return;
	sa->e->stats.resent_responses++;
	transmit(sa, sa->resp, sa->resp_len);
}

void ike_sa_request_done(struct ike_sa *sa)
{
	free(sa->req);
	sa->req = NULL;
	sa->req_len = 0;
	sa->pending = IKE_P_NONE;
	sa->pending_spi = 0;
	sa->retransmit_at = 0;
	sa->peer_lost = false;
	rekey_out(sa, false);
	sa->next_req_id++;
	ike_sa_touch(sa);
}

bool ike_sa_queue(struct ike_sa *sa, enum ike_pending what, uint32_t spi)
{
	for (size_t i = 0; i < sa->nqueue; i++)
		if (sa->queue[i].what == what && sa->queue[i].spi == spi)
			return true;
	if (sa->nqueue == IKE_QUEUE_MAX)
		return false;
	sa->queue[sa->nqueue].what = what;
	sa->queue[sa->nqueue].spi = spi;
	sa->nqueue++;
	return true;
}

void ike_sa_run_queue(struct ike_sa *sa)
{
	ike_sa_touch(sa);
	while (sa->pending == IKE_P_NONE && sa->nqueue > 0 && sa->state != IKE_S_DEAD) {
		enum ike_pending what = sa->queue[0].what;
		uint32_t spi = sa->queue[0].spi;

		memmove(&sa->queue[0], &sa->queue[1], --sa->nqueue * sizeof(sa->queue[0]));
		ike_sa_start(sa, what, spi);
	}
}

bool ike_sa_lost_hint(struct ike_sa *sa, const struct ike_msg *m)
{
	uint64_t soon;

	if (m->has_sk || !(m->hdr.flags & IKE_FLAG_R) || sa->pending == IKE_P_NONE ||
	    !sa->req || m->hdr.msgid != sa->next_req_id ||
	    !ike_msg_notify(m, IKE_N_INVALID_IKE_SPI))
		return false;
	if (!sa->peer_lost)
		oe_info(IKE, "IKE SA %016" PRIx64 ":%016" PRIx64 ": INVALID_IKE_SPI to %s "
			"(unauthenticated): retransmitting without backoff", sa->spi_i, sa->spi_r,
			ike_pending_name(sa->pending));
	sa->peer_lost = true;
	soon = ike_now(sa->e) + sa->e->conf.retransmit_ms;
	if (sa->retransmit_at > soon)
		sa->retransmit_at = soon;
	ike_sa_touch(sa);
	return true;
}

static bool hint_budget(struct ike_engine *e)
{
	uint64_t second = ike_now(e) / 1000;

	if (second != e->hint_second) {
		e->hint_second = second;
		e->hints = 0;
	}
	return e->hints++ < 10;
}

/* The established IKE SA with from whose Child SA sends with SPI spi. */
static struct ike_sa *sa_of_spi_out(struct ike_engine *e, const struct oe_addr *from,
				    uint32_t spi)
{
	for (struct ike_sa *sa = e->all; sa; sa = sa->next)
		if (sa->state == IKE_S_ESTABLISHED && oe_addr_eq(&sa->remote.addr, from) &&
		    child_sa_by_spi_out(sa, spi))
			return sa;
	return NULL;
}

bool ike_sa_invalid_spi_hint(struct ike_engine *e, const struct ike_msg *m,
			     const struct ike_endpoint *from)
{
	const struct ike_notify_pl *n;
	struct ike_sa *sa;
	uint32_t spi;

	if (m->has_sk || m->hdr.exch != IKE_EXCH_INFORMATIONAL || !(m->hdr.flags & IKE_FLAG_R) ||
	    !(n = ike_msg_notify(m, IKE_N_INVALID_SPI)) || n->len != 4)
		return false;
	spi = (uint32_t)n->data[0] << 24 | (uint32_t)n->data[1] << 16 |
	      (uint32_t)n->data[2] << 8 | n->data[3];
	if (!hint_budget(e) || !(sa = sa_of_spi_out(e, &from->addr, spi)))
		return true;
	/* ESP from the peer since the last look: it is alive, whoever sent this */
	if (child_sa_traffic(sa)) {
		sa->last_rx_ms = ike_now(e);
		return true;
	}
	if (sa->pending != IKE_P_NONE || !e->conf.liveness_ms)
		return true;
	oe_info(IKE, "IKE SA %016" PRIx64 ":%016" PRIx64 ": the peer has no SA %08x "
		"(INVALID_SPI, unauthenticated): liveness check now", sa->spi_i, sa->spi_r, spi);
	ike_sa_start(sa, IKE_P_LIVENESS, 0);
	sa->liveness_at = ike_now(e) + e->conf.liveness_ms;
	ike_sa_touch(sa);
	return true;
}

static void retransmit(struct ike_sa *sa, uint64_t now)
{
	struct ike_engine *e = sa->e;

	if (sa->retries >= e->conf.retransmit_tries) {
		oe_info(IKE, "IKE SA %016" PRIx64 ":%016" PRIx64 ": no answer to %s after %u "
			"retransmissions", sa->spi_i, sa->spi_r, ike_pending_name(sa->pending),
			sa->retries);
		ike_sa_kill(sa, sa->pending == IKE_P_LIVENESS ? IKE_ERR_LIVENESS
							       : IKE_ERR_TIMEOUT);
		return;
	}
	sa->retries++;
	e->stats.retransmits++;
	/* §2.1: exponential backoff; the last wait is as long as the one before doubled. After
	 * an INVALID_IKE_SPI hint, no backoff: a peer without our SA gives up sooner */
	sa->retransmit_at = now + ((uint64_t)e->conf.retransmit_ms << (sa->peer_lost ? 0 :
									 sa->retries));
	oe_debug(IKE, "IKE SA %016" PRIx64 ": retransmission %u of %s", sa->spi_i, sa->retries,
		 ike_pending_name(sa->pending));
	transmit(sa, sa->req, sa->req_len);
}

void ike_sa_timers(struct ike_sa *sa, uint64_t now)
{
	ike_sa_touch(sa);
	if (sa->state == IKE_S_DEAD)
		return;
	if (sa->retransmit_at && now >= sa->retransmit_at && sa->req)
		retransmit(sa, now);
	if (sa->state == IKE_S_DEAD)
		return;
	if (sa->expire_at && now >= sa->expire_at) {
		ike_sa_kill(sa, sa->state == IKE_S_REKEYED ? IKE_ERR_DELETED : IKE_ERR_TIMEOUT);
		return;
	}
	if (sa->state == IKE_S_AUTH_LOOKUP && now >= sa->lookup_deadline) {
		ike_auth_lookup_timeout(sa);
		return;
	}
	if (sa->state != IKE_S_ESTABLISHED)
		return;
	child_sa_timers(sa, now);
	if (sa->state != IKE_S_ESTABLISHED)
		return;
	if (sa->rekey_at && now >= sa->rekey_at) {
		sa->rekey_at = 0;
		ike_sa_queue(sa, IKE_P_REKEY_IKE, 0);
		ike_sa_run_queue(sa);
	}
	if (sa->liveness_at && now >= sa->liveness_at) {
		/* §1.4 / §2.4: an empty INFORMATIONAL when the peer has been quiet; ESP packets
		 * from it count as a sign of life (§2.4: checks only when nothing arrives) */
		uint64_t quiet;

		if (child_sa_traffic(sa))
			sa->last_rx_ms = now;
		quiet = now - sa->last_rx_ms;

		if (quiet >= sa->e->conf.liveness_ms && sa->pending == IKE_P_NONE) {
			ike_sa_start(sa, IKE_P_LIVENESS, 0);
			sa->liveness_at = now + sa->e->conf.liveness_ms;
		} else {
			/* heard from recently (or busy): check once it has been quiet that long */
			sa->liveness_at = (quiet >= sa->e->conf.liveness_ms ? now : sa->last_rx_ms) +
					  sa->e->conf.liveness_ms;
		}
	}
	if (sa->keepalive_at && now >= sa->keepalive_at)
		ike_nat_keepalive(sa, now);
}

static uint64_t min_nz(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

uint64_t ike_sa_deadline(const struct ike_sa *sa)
{
	uint64_t d = 0;

	if (sa->state == IKE_S_DEAD)
		return UINT64_MAX;
	d = min_nz(d, sa->req ? sa->retransmit_at : 0);
	d = min_nz(d, sa->expire_at);
	if (sa->state == IKE_S_AUTH_LOOKUP)
		d = min_nz(d, sa->lookup_deadline);
	if (sa->state == IKE_S_ESTABLISHED) {
		d = min_nz(d, sa->rekey_at);
		d = min_nz(d, sa->liveness_at);
		d = min_nz(d, sa->keepalive_at);
		for (const struct child_sa *c = sa->children; c; c = c->next) {
			d = min_nz(d, c->rekey_at);
			d = min_nz(d, c->expire_at);
		}
	}
	return d ? d : UINT64_MAX;
}

void ike_sa_info_fill(const struct ike_sa *sa, struct ike_sa_info *out)
{
	memset(out, 0, sizeof(*out));
	out->handle = sa->handle;
	out->state = ike_sa_state_name(sa->state);
	out->initiator = sa->initiator;
	out->spi_i = sa->spi_i;
	out->spi_r = sa->spi_r;
	out->local = sa->local;
	out->remote = sa->remote;
	out->peer_id = sa->peer_id;
	out->dh = sa->dh;
	out->prf = sa->prf;
	out->encr_bits = sa->encr_bits;
	out->auth_method = sa->peer_auth;
	out->last_error = sa->last_error;
	for (const struct child_sa *c = sa->children; c; c = c->next) {
		if (!c->installed)
			continue;
		out->nchild++;
		out->child_spi_in = c->k.spi_in;
		out->child_spi_out = c->k.spi_out;
	}
}
