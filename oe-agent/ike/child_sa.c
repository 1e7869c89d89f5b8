/* Child SAs (RFC 7296 §1.3, §2.9, §2.17): their state machine, inbound SPIs, traffic
 * selectors for a host pair (/32 or /128; narrowing of wider offers, TS_UNACCEPTABLE), KEYMAT
 * into the kern_child_sa value struct, and installation through kern_ops. Tunnel mode unless
 * USE_TRANSPORT_MODE was agreed. */
#include "ike_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "oe_log.h"

static const char *const state_names[CHILD_S_COUNT] = {
	[CHILD_S_NEW] = "NEW",
	[CHILD_S_INSTALLED] = "INSTALLED",
	[CHILD_S_REKEYING] = "REKEYING",
	[CHILD_S_REKEYED] = "REKEYED",
	[CHILD_S_DELETING] = "DELETING",
	[CHILD_S_DEAD] = "DEAD",
};

const char *child_sa_state_name(enum child_sa_state s)
{
	return (unsigned)s < CHILD_S_COUNT ? state_names[s] : "?";
}

#define B(s) (1u << (s))
static const unsigned allowed[CHILD_S_COUNT] = {
	[CHILD_S_NEW] = B(CHILD_S_INSTALLED) | B(CHILD_S_DEAD),
	[CHILD_S_INSTALLED] = B(CHILD_S_REKEYING) | B(CHILD_S_REKEYED) | B(CHILD_S_DELETING) |
			      B(CHILD_S_DEAD),
	[CHILD_S_REKEYING] = B(CHILD_S_INSTALLED) | B(CHILD_S_REKEYED) | B(CHILD_S_DELETING) |
			     B(CHILD_S_DEAD),
	[CHILD_S_REKEYED] = B(CHILD_S_DELETING) | B(CHILD_S_DEAD),
	[CHILD_S_DELETING] = B(CHILD_S_DEAD),
	[CHILD_S_DEAD] = 0,
};
#undef B

bool child_sa_set_state(struct ike_sa *sa, struct child_sa *c, enum child_sa_state to)
{
	if ((unsigned)to >= CHILD_S_COUNT || !(allowed[c->state] & (1u << to))) {
		oe_err(IKE, "Child SA %08x: refused transition %s -> %s", c->k.spi_in,
		       child_sa_state_name(c->state), child_sa_state_name(to));
		return false;
	}
	ike_sa_touch(sa);
	oe_info(IKE, "Child SA %08x/%08x of IKE SA %016" PRIx64 " %s -> %s", c->k.spi_in,
		c->k.spi_out, sa->spi_i, child_sa_state_name(c->state), child_sa_state_name(to));
	c->state = to;
	if (to != CHILD_S_INSTALLED)
		c->rekey_at = 0; /* only an installed SA rekeys itself */
	return true;
}

struct child_sa *child_sa_by_spi_in(struct ike_sa *sa, uint32_t spi)
{
	for (struct child_sa *c = sa->children; c; c = c->next)
		if (c->k.spi_in == spi)
			return c;
	return NULL;
}

struct child_sa *child_sa_by_spi_out(struct ike_sa *sa, uint32_t spi)
{
	for (struct child_sa *c = sa->children; c; c = c->next)
		if (c->k.spi_out == spi && c->k.spi_out)
			return c;
	return NULL;
}

struct child_sa *child_sa_new(struct ike_sa *sa)
{
	struct child_sa *c = calloc(1, sizeof(*c));
	uint32_t spi = 0;

	if (!c)
		return NULL;
	/* RFC 4303 §2.1: 1..255 are reserved */
	do {
		if (ike_random(sa->e, &spi, sizeof(spi)) != 0) {
			free(c);
			return NULL;
		}
	} while (spi < 256 || child_sa_by_spi_in(sa, spi));
	c->k.spi_in = spi;
	c->state = CHILD_S_NEW;
	c->next = sa->children;
	sa->children = c;
	return c;
}

static void fill(struct ike_sa *sa, struct child_sa *c, const struct oe_sel *sel, bool transport,
		 uint16_t encr_bits, bool esn, uint32_t spi_out, const struct ike_child_keys *ck,
		 bool exch_initiator, struct child_sa *old)
{
	const struct ike_conf *conf = &sa->e->conf;
	const struct ike_esp_key *out = exch_initiator ? &ck->i2r : &ck->r2i;
	const struct ike_esp_key *in = exch_initiator ? &ck->r2i : &ck->i2r;
	struct kern_child_sa *k = &c->k;

	k->reqid = old ? old->k.reqid : sa->e->next_reqid++;
	k->spi_out = spi_out;
	k->encr = KERN_ESP_AES_GCM_16;
	k->key_len = (uint16_t)(encr_bits / 8);
	memcpy(k->key_out, out->key, k->key_len);
	memcpy(k->key_in, in->key, k->key_len);
	memcpy(k->salt_out, out->salt, KERN_ESP_SALT_LEN);
	memcpy(k->salt_in, in->salt, KERN_ESP_SALT_LEN);
	k->esn = esn;
	k->mode = transport ? KERN_MODE_TRANSPORT : KERN_MODE_TUNNEL;
	k->sel = *sel;
	k->local = sa->local.addr;
	k->remote = sa->remote.addr;
	if (ike_sa_encap(sa)) { /* RFC 3948 once a NAT was detected (§2.23) or faked */
		k->encap = KERN_ENCAP_UDP;
		k->encap_sport = sa->local.port;
		k->encap_dport = sa->remote.port;
	}
	k->life.hard_s = conf->child_lifetime_s;
	k->outbound_later = !exch_initiator; /* the peer installs it on our answer */
	/* the original responder rekeys later so both ends rarely start at once */
	k->life.soft_s = conf->child_lifetime_s * (sa->initiator ? 90u : 95u) / 100;
}

enum ike_status child_sa_install(struct ike_sa *sa, struct child_sa *c, const struct oe_sel *sel,
				 bool transport, uint16_t encr_bits, bool esn, uint32_t spi_out,
				 bool exch_initiator, const uint8_t *ni, size_t ni_len,
				 const uint8_t *nr, size_t nr_len, struct child_sa *old)
{
	const struct kern_ops *ko = sa->e->ops.kern;
	struct ike_child_keys ck;
	uint64_t now = ike_now(sa->e);
	enum ike_status st = IKE_OK;
	int err;

	memset(&ck, 0, sizeof(ck));
	if (ike_derive_child_keys(&sa->keys, encr_bits, c->has_pfs_g ? &c->pfs_g : NULL, ni,
				  ni_len, nr, nr_len, &ck) != IKE_CRYPTO_OK) {
		st = IKE_ERR_CRYPTO;
		goto out;
	}
	fill(sa, c, sel, transport, encr_bits, esn, spi_out, &ck, exch_initiator, old);
	err = old ? ko->update(sa->e->ops.kern_arg, &old->k, &c->k)
		  : ko->install(sa->e->ops.kern_arg, &c->k);
	if (err) {
		oe_warn(IKE, "Child SA %08x: the kernel (%s) refused it: %d", c->k.spi_in, ko->name,
			err);
		st = IKE_ERR_KERNEL;
		goto out;
	}
	c->installed = true;
	c->installed_ms = now;
	sa->e->stats.child_installed++;
	child_sa_set_state(sa, c, CHILD_S_INSTALLED);
	if (c->k.life.soft_s)
		c->rekey_at = now + (uint64_t)c->k.life.soft_s * 1000;
	if (c->k.life.hard_s)
		c->expire_at = now + (uint64_t)c->k.life.hard_s * 1000;
out:
	ike_child_keys_wipe(&ck);
	OPENSSL_cleanse(&c->pfs_g, sizeof(c->pfs_g));
	c->has_pfs_g = false;
	return st;
}

void child_sa_remove(struct ike_sa *sa, struct child_sa *c)
{
	struct child_sa **pp = &sa->children;

	if (c->installed) {
		const struct kern_ops *ko = sa->e->ops.kern;
		int err = ko->remove(sa->e->ops.kern_arg, &c->k);

		if (err)
			oe_warn(IKE, "Child SA %08x: removing it failed: %d", c->k.spi_in, err);
		c->installed = false;
		sa->child_gone_ms = ike_now(sa->e);
		sa->e->stats.child_removed++;
		ike_event(sa, IKE_EV_CHILD_DOWN, IKE_ERR_DELETED, &c->k);
	}
	if (c->state != CHILD_S_DEAD)
		child_sa_set_state(sa, c, CHILD_S_DEAD);
	for (; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (sa->rekeying == c)
		sa->rekeying = NULL;
	ike_dh_free(c->pfs_dh);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

void child_sa_remove_all(struct ike_sa *sa)
{
	while (sa->children)
		child_sa_remove(sa, sa->children);
}

void child_sa_timers(struct ike_sa *sa, uint64_t now)
{
	for (struct child_sa *c = sa->children, *next; c; c = next) {
		next = c->next;
		if (c->expire_at && now >= c->expire_at) {
			uint32_t spi = c->k.spi_in;

			c->expire_at = 0;
			/* a replaced SA (retired after our rekey) keeps its inbound half until the
			 * peer confirms the DELETE (ike_info_response): the peer may send on it
			 * until it has processed ours (strongSwan's rekey responder does) */
			if (c->state == CHILD_S_REKEYED && ike_sa_queue(sa, IKE_P_DELETE_CHILD, spi))
				continue;
			/* hard lifetime: gone whatever the peer thinks; tell it */
			child_sa_remove(sa, c);
			ike_sa_queue(sa, IKE_P_DELETE_CHILD, spi);
			continue;
		}
		if (c->rekey_at && now >= c->rekey_at && c->state == CHILD_S_INSTALLED) {
			c->rekey_at = 0;
			ike_sa_queue(sa, IKE_P_REKEY_CHILD, c->k.spi_in);
		}
	}
	ike_sa_run_queue(sa);
}

bool child_sa_traffic(struct ike_sa *sa)
{
	const struct kern_ops *ko = sa->e->ops.kern;
	bool seen = false;

	for (struct child_sa *c = sa->children; c; c = c->next) {
		struct kern_sa_counters ctr = { 0 };

		if (!c->installed || !ko->query || ko->query(sa->e->ops.kern_arg, &c->k, &ctr))
			continue;
		if (ctr.packets_in != c->seen_in)
			seen = true;
		c->seen_in = ctr.packets_in;
	}
	return seen;
}

bool child_sa_sent(struct ike_sa *sa)
{
	const struct kern_ops *ko = sa->e->ops.kern;
	bool sent = false;

	for (struct child_sa *c = sa->children; c; c = c->next) {
		struct kern_sa_counters ctr = { 0 };

		if (!c->installed || !ko->query || ko->query(sa->e->ops.kern_arg, &c->k, &ctr))
			continue;
		if (ctr.packets_out != c->seen_out)
			sent = true;
		c->seen_out = ctr.packets_out;
	}
	return sent;
}

/* ---- traffic selectors (§3.13.1) ------------------------------------------------------------ */

static void ts_host(struct ike_ts *ts, const struct oe_prefix *p, uint8_t proto, uint16_t port)
{
	memset(ts, 0, sizeof(*ts));
	ts->type = p->addr.af == AF_INET ? IKE_TS_IPV4_ADDR_RANGE : IKE_TS_IPV6_ADDR_RANGE;
	ts->proto = proto;
	ts->sport = port;
	ts->eport = port ? port : 65535;
	ts->start = p->addr;
	ts->end = p->addr;
}

void child_ts_of_sel(const struct oe_sel *sel, struct ike_ts *tsi, struct ike_ts *tsr,
		     bool initiator)
{
	/* sel is ours: src is our side; TSi always describes the original initiator's side */
	const struct oe_prefix *i = initiator ? &sel->src : &sel->dst;
	const struct oe_prefix *r = initiator ? &sel->dst : &sel->src;

	ts_host(tsi, i, sel->proto, initiator ? sel->sport : sel->dport);
	ts_host(tsr, r, sel->proto, initiator ? sel->dport : sel->sport);
}

void child_add_ts(struct ike_builder *b, const struct oe_sel *sel, bool initiator)
{
	struct ike_payload p;
	struct ike_ts tsi, tsr;

	child_ts_of_sel(sel, &tsi, &tsr, initiator);
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_TSI;
	p.u.ts.ts = &tsi;
	p.u.ts.n = 1;
	ike_build_add(b, &p);
	p.type = IKE_PL_TSR;
	p.u.ts.ts = &tsr;
	ike_build_add(b, &p);
}

static bool ts_has(const struct ike_ts *ts, const struct oe_addr *a)
{
	return ts->start.af == a->af && oe_addr_cmp(&ts->start, a) <= 0 &&
	       oe_addr_cmp(a, &ts->end) <= 0;
}

/* A port range we can express: all ports (0) or one port. */
static bool ts_port(const struct ike_ts *ts, uint16_t *port)
{
	if (ts->sport == 0 && ts->eport == 65535)
		*port = 0;
	else if (ts->sport == ts->eport)
		*port = ts->sport;
	else
		return false;
	return true;
}

bool child_ts_narrow(const struct ike_ts_pl *tsi, const struct ike_ts_pl *tsr,
		     const struct oe_addr *ours, const struct oe_addr *want_peer,
		     struct oe_sel *sel)
{
	const struct ike_ts *ti = NULL, *tr = NULL;
	uint16_t pi, pr;

	for (size_t n = 0; n < tsr->n && !tr; n++)
		if (ts_has(&tsr->ts[n], ours))
			tr = &tsr->ts[n];
	/* §2.9: the first TSi is the packet that triggered the request when it is one host */
	for (size_t n = 0; n < tsi->n && !ti; n++) {
		const struct ike_ts *t = &tsi->ts[n];

		if (want_peer ? ts_has(t, want_peer)
			      : t->start.af == ours->af && oe_addr_eq(&t->start, &t->end))
			ti = t;
	}
	if (!ti || !tr || !ts_port(ti, &pi) || !ts_port(tr, &pr))
		return false;
	if (ti->proto && tr->proto && ti->proto != tr->proto)
		return false;
	memset(sel, 0, sizeof(*sel));
	sel->src = oe_prefix_host(ours);
	sel->dst = oe_prefix_host(want_peer ? want_peer : &ti->start);
	sel->proto = ti->proto ? ti->proto : tr->proto;
	sel->sport = pr;
	sel->dport = pi;
	return true;
}

bool child_ts_check(const struct ike_ts_pl *tsi, const struct ike_ts_pl *tsr,
		    const struct oe_sel *want, struct oe_sel *got)
{
	const struct ike_ts *ti, *tr;
	uint16_t pi, pr;

	if (tsi->n != 1 || tsr->n != 1)
		return false;
	ti = &tsi->ts[0];
	tr = &tsr->ts[0];
	if (!oe_addr_eq(&ti->start, &want->src.addr) || !oe_addr_eq(&ti->end, &want->src.addr) ||
	    !oe_addr_eq(&tr->start, &want->dst.addr) || !oe_addr_eq(&tr->end, &want->dst.addr) ||
	    !ts_port(ti, &pi) || !ts_port(tr, &pr))
		return false;
	/* narrower is fine (§2.9), wider or different is not */
	if ((want->proto && ti->proto != want->proto) || (want->sport && pi != want->sport) ||
	    (want->dport && pr != want->dport) || (ti->proto != tr->proto))
		return false;
	*got = *want;
	got->proto = ti->proto;
	got->sport = pi;
	got->dport = pr;
	return true;
}
