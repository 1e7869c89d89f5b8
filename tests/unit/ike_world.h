/* A little world for IKE engine tests, the fuzzer and the benchmark: engines on virtual time,
 * a mock network that can drop, duplicate and delay datagrams (reordering = delaying one), the
 * mock kernel (kern_mock) per node, and mock DNS answers for the engines' key lookups. Every
 * datagram sent is written to a transcript ("I>R AUTH req 1") that tests read step by step
 * with W_EXPECT. Header-only (static functions) so each test program takes what it uses. */
#ifndef IKE_WORLD_H
#define IKE_WORLD_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "ike/ike.h"
#include "ike/ike_codec_int.h"

#define W_MAXPKT 64
#define W_MAXLINES 128
#define W_MAXDNS 8
#define W_MAXNODES 3
#define W_MAXLOOKUPS 8

struct w_pkt {
	struct ike_endpoint from, to;
	uint8_t *b;
	size_t len;
	uint64_t at;
	unsigned seq;
};

struct w_world;

struct w_node {
	const char *name;
	struct w_world *w;
	struct ike_engine *e;
	struct kern_mock *km;
	struct ike_endpoint ep;
	struct ike_conf conf;
	EVP_PKEY *key;
	enum pg_group policy;	  /* what this node's policy says about any peer */
	bool defer_lookups;	  /* answer lookups only when the test says so */
	uint64_t lk_req[W_MAXLOOKUPS];
	struct ike_id lk_id[W_MAXLOOKUPS];
	size_t nlk;
	unsigned lookups;	  /* lookups asked in total */
	char events[1024];	  /* "ESTABLISHED CHILD_UP FAILED:auth-failed …" */
	uint64_t sa;		  /* handle of the last SA this node initiated */
	double rx_s;		  /* wall time spent in ike_receive (benchmark) */
	const struct kern_ops *kern; /* NULL: kern_mock in km */
	uint16_t nat_port;	  /* behind a NAT: its datagrams leave with this source port
				   * (from its NAT-T port: nat_port + 1) */
	unsigned keepalives;	  /* NAT keepalives it sent (RFC 3948 §2.3) */
};

struct w_dns {
	struct ike_id id;	/* the name (by identity) */
	EVP_PKEY *key;		/* NULL: a record without key */
	struct oe_addr gw;	/* gateway address named (af 0: the address of the id itself) */
	const char *gw_name;	/* or a gateway name ("gw.example.") */
	enum dk_lookup_status status;
};

struct w_world {
	uint64_t now;
	struct w_pkt q[W_MAXPKT];
	size_t nq;
	struct w_node n[W_MAXNODES];
	size_t nnodes;
	struct w_dns dns[W_MAXDNS];
	size_t ndns;
	char *lines[W_MAXLINES];
	size_t nlines, rd;
	unsigned seq;		/* datagrams sent so far */
	uint64_t drop;		/* bit s: drop datagram number s */
	uint64_t dup;		/* bit s: deliver datagram s twice */
	uint64_t delay_seq;	/* bit s: delay datagram s by delay_ms */
	unsigned delay_ms;
	bool drop_all;
	bool quiet;		/* no transcript (benchmark) */
	void (*capture)(const uint8_t *b, size_t len, void *arg); /* every datagram sent */
	void *capture_arg;
};

/* ---- transcript ---------------------------------------------------------------------------- */

static inline void w_line(struct w_world *w, const char *s)
{
	if (w->quiet || w->nlines == W_MAXLINES)
		return;
	w->lines[w->nlines++] = strdup(s);
}

static const char *w_exch(unsigned x)
{
	switch (x) {
	case IKE_EXCH_SA_INIT: return "SA_INIT";
	case IKE_EXCH_AUTH: return "AUTH";
	case IKE_EXCH_CREATE_CHILD_SA: return "CHILD";
	case IKE_EXCH_INFORMATIONAL: return "INFO";
	default: return "?";
	}
}

static struct w_node *w_node_at(struct w_world *w, const struct ike_endpoint *ep)
{
	for (size_t i = 0; i < w->nnodes; i++)
		if (oe_addr_eq(&w->n[i].ep.addr, &ep->addr) && w->n[i].e)
			return &w->n[i];
	return NULL;
}

/* "I>R AUTH req 1", with a note for notifies in IKE_SA_INIT answers (readable there). */
static inline void w_describe(struct w_world *w, struct w_node *from, const struct ike_endpoint *to,
		       const uint8_t *b, size_t len, const char *note)
{
	struct ike_msg *m = NULL;
	struct w_node *dst = w_node_at(w, to);
	char line[160], extra[64] = "";

	if (w->quiet)
		return;
	if (ike_msg_parse(b, len, &m) != IKE_CODEC_OK || !m) {
		snprintf(line, sizeof(line), "%s>%s garbage%s", from->name, dst ? dst->name : "?",
			 note);
		w_line(w, line);
		ike_msg_free(m);
		return;
	}
	if (!m->has_sk)
		for (size_t i = 0; i < m->n_pl; i++)
			if (m->pl[i].type == IKE_PL_NOTIFY &&
			    (m->pl[i].u.n.type < 16384 || m->pl[i].u.n.type == IKE_N_COOKIE)) {
				snprintf(extra, sizeof(extra), " N(%s)",
					 ike_notify_name(m->pl[i].u.n.type));
				break;
			}
	snprintf(line, sizeof(line), "%s>%s %s %s %u%s%s", from->name, dst ? dst->name : "?",
		 w_exch(m->hdr.exch), (m->hdr.flags & IKE_FLAG_R) ? "resp" : "req", m->hdr.msgid,
		 extra, note);
	w_line(w, line);
	ike_msg_free(m);
}

/* The next transcript line must be want. */
#define W_EXPECT(w, want)                                                                   \
	do {                                                                                \
		const char *w_g = (w)->rd < (w)->nlines ? (w)->lines[(w)->rd++] : "(end)"; \
		T_CHECK_STR(w_g, want);                                                     \
	} while (0)
/* Nothing more was sent. */
#define W_EXPECT_END(w) T_CHECK_INT((w)->nlines - (w)->rd, 0)

/* ---- ops ----------------------------------------------------------------------------------- */

static inline uint64_t w_now(void *arg)
{
	return ((struct w_node *)arg)->w->now;
}

static inline int w_random(void *arg, void *buf, size_t n)
{
	(void)arg;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -EIO;
}

static inline void w_enqueue(struct w_world *w, const struct ike_endpoint *from,
		      const struct ike_endpoint *to, const uint8_t *b, size_t len, uint64_t at,
		      unsigned seq)
{
	struct w_pkt *p;

	if (w->nq == W_MAXPKT)
		return;
	p = &w->q[w->nq++];
	p->from = *from;
	p->to = *to;
	p->b = malloc(len);
	memcpy(p->b, b, len);
	p->len = len;
	p->at = at;
	p->seq = seq;
}

static inline int w_send(void *arg, const struct ike_endpoint *local, const struct ike_endpoint *remote,
		  const uint8_t *msg, size_t len)
{
	struct w_node *n = arg;
	struct w_world *w = n->w;
	unsigned s = w->seq++;
	uint64_t bit = s < 64 ? 1ull << s : 0;
	bool drop = w->drop_all || (w->drop & bit);
	uint64_t at = w->now + 1 + ((w->delay_seq & bit) ? w->delay_ms : 0);

	if (len == 1 && msg[0] == 0xff) { /* a NAT keepalive: noted, never delivered */
		struct w_node *dst = w_node_at(w, remote);
		char line[64];

		n->keepalives++;
		snprintf(line, sizeof(line), "%s>%s keepalive", n->name, dst ? dst->name : "?");
		w_line(w, line);
		return 0;
	}
	if (w->capture)
		w->capture(msg, len, w->capture_arg);
	w_describe(w, n, remote, msg, len,
		   drop ? " (dropped)" : (w->dup & bit) ? " (twice)" : "");
	if (drop)
		return 0;
	struct ike_endpoint src = *local;

	if (n->nat_port) /* one mapping per source port */
		src.port = (uint16_t)(n->nat_port + (local->port == n->conf.natt_port));
	w_enqueue(w, &src, remote, msg, len, at, s);
	if (w->dup & bit)
		w_enqueue(w, &src, remote, msg, len, at, s);
	return 0;
}

static inline void w_event(void *arg, const struct ike_event *ev)
{
	struct w_node *n = arg;
	static const char *const kinds[] = { "ESTABLISHED", "FAILED", "DELETED", "CHILD_UP",
					     "CHILD_DOWN" };
	char buf[64];

	if (ev->kind == IKE_EV_FAILED || ev->kind == IKE_EV_DELETED)
		snprintf(buf, sizeof(buf), "%s%s:%s", n->events[0] ? " " : "", kinds[ev->kind],
			 ike_status_name(ev->why));
	else
		snprintf(buf, sizeof(buf), "%s%s", n->events[0] ? " " : "", kinds[ev->kind]);
	if (strlen(n->events) + strlen(buf) < sizeof(n->events))
		strcat(n->events, buf);
}

static inline enum pg_group w_policy(void *arg, const struct oe_addr *peer)
{
	(void)peer;
	return ((struct w_node *)arg)->policy;
}

/* A dnskeys-like answer for an identity from the world's table. */
static inline void w_dns_answer(struct w_world *w, const struct ike_id *id, struct dk_result *res,
			 struct dk_found *f)
{
	memset(res, 0, sizeof(*res));
	memset(f, 0, sizeof(*f));
	res->status = DK_L_NXDOMAIN;
	for (size_t i = 0; i < w->ndns; i++) {
		struct w_dns *d = &w->dns[i];

		if (!ike_id_eq(&d->id, id))
			continue;
		res->status = d->status;
		if (d->status != DK_L_FOUND)
			return;
		res->val = DK_VAL_SECURE;
		res->rrtype = DK_RR_IPSECKEY;
		res->nfound = 1;
		res->found = f;
		f->rrtype = DK_RR_IPSECKEY;
		f->precedence = 10;
		f->pkey = d->key;
		if (d->gw_name) {
			f->gw_type = DK_GW_NAME;
			snprintf(f->gw_name, sizeof(f->gw_name), "%s", d->gw_name);
		} else if (d->gw.af) {
			f->gw_type = d->gw.af == AF_INET ? DK_GW_IPV4 : DK_GW_IPV6;
			f->gw_addr = d->gw;
		} else if (id->type == IKE_ID_IPV4_ADDR || id->type == IKE_ID_IPV6_ADDR) {
			f->gw_type = id->type == IKE_ID_IPV4_ADDR ? DK_GW_IPV4 : DK_GW_IPV6;
			f->gw_addr.af = id->type == IKE_ID_IPV4_ADDR ? AF_INET : AF_INET6;
			memcpy(f->gw_addr.b, id->data, id->len);
		}
		return;
	}
}

static inline void w_answer_one(struct w_node *n, uint64_t req, const struct ike_id *id)
{
	struct dk_result res;
	struct dk_found f;

	w_dns_answer(n->w, id, &res, &f);
	ike_lookup_done(n->e, req, &res);
}

static inline int w_lookup(void *arg, uint64_t req, const struct ike_id *id)
{
	struct w_node *n = arg;

	n->lookups++;
	if (!n->defer_lookups) {
		w_answer_one(n, req, id);
		return 0;
	}
	if (n->nlk == W_MAXLOOKUPS)
		return -ENOSPC;
	n->lk_req[n->nlk] = req;
	n->lk_id[n->nlk] = *id;
	n->nlk++;
	return 0;
}

static inline void w_lookup_cancel(void *arg, uint64_t req)
{
	struct w_node *n = arg;

	for (size_t i = 0; i < n->nlk; i++)
		if (n->lk_req[i] == req) {
			n->lk_req[i] = n->lk_req[n->nlk - 1];
			n->lk_id[i] = n->lk_id[n->nlk - 1];
			n->nlk--;
			return;
		}
}

/* Answers every deferred lookup of n (in the order asked). */
static inline void w_answer_lookups(struct w_node *n)
{
	while (n->nlk > 0) {
		uint64_t req = n->lk_req[0];
		struct ike_id id = n->lk_id[0];

		memmove(&n->lk_req[0], &n->lk_req[1], (n->nlk - 1) * sizeof(n->lk_req[0]));
		memmove(&n->lk_id[0], &n->lk_id[1], (n->nlk - 1) * sizeof(n->lk_id[0]));
		n->nlk--;
		w_answer_one(n, req, &id);
	}
}

/* ---- set-up -------------------------------------------------------------------------------- */

static inline void w_init(struct w_world *w)
{
	memset(w, 0, sizeof(*w));
	w->now = 1000000;
}

/* Adds a node at addr (IKE port 500) with key (borrowed, may be NULL). conf NULL = defaults.
 * The engine is created by w_start() so a test can edit n->conf first. */
static struct w_node *w_add(struct w_world *w, const char *name, const char *addr, EVP_PKEY *key)
{
	struct w_node *n = &w->n[w->nnodes++];

	memset(n, 0, sizeof(*n));
	n->name = name;
	n->w = w;
	n->key = key;
	oe_addr_parse(&n->ep.addr, addr, strlen(addr));
	n->ep.port = IKE_PORT;
	n->policy = PG_PRIVATE_OR_CLEAR;
	ike_conf_default(&n->conf);
	n->conf.rekey_delete_ms = 0; /* transcripts: the old Child SA's DELETE right away */
	n->conf.hostkey = key;
	return n;
}

static inline int w_start(struct w_node *n)
{
	struct ike_ops ops = {
		.arg = n,
		.send = w_send,
		.lookup = w_lookup,
		.lookup_cancel = w_lookup_cancel,
		.policy = w_policy,
		.now_ms = w_now,
		.random = w_random,
		.event = w_event,
		.kern = &kern_mock_ops,
	};

	if (n->kern) { /* the node's own backend (benchmark) */
		ops.kern = n->kern;
	} else if (!n->km) {
		n->km = kern_mock_new();
	}
	ops.kern_arg = n->km;
	return ike_engine_new(&n->e, &n->conf, &ops);
}

/* Publishes key for the address of node n (an IPSECKEY at its reverse name). */
static inline void w_publish(struct w_world *w, const struct oe_addr *a, EVP_PKEY *key)
{
	struct w_dns *d = &w->dns[w->ndns++];

	memset(d, 0, sizeof(*d));
	ike_id_from_addr(&d->id, a);
	d->key = key;
	d->status = DK_L_FOUND;
}

/* Frees the engines (a node's engine may be freed earlier to simulate a crash). */
static inline void w_stop(struct w_node *n)
{
	ike_engine_free(n->e);
	n->e = NULL;
}

static inline void w_free(struct w_world *w)
{
	for (size_t i = 0; i < w->nnodes; i++) {
		w_stop(&w->n[i]);
		kern_mock_free(w->n[i].km);
	}
	for (size_t i = 0; i < w->nq; i++)
		free(w->q[i].b);
	for (size_t i = 0; i < w->nlines; i++)
		free(w->lines[i]);
	memset(w, 0, sizeof(*w));
}

/* ---- running ------------------------------------------------------------------------------- */

/* Delivers the earliest due datagram; false if none is due. */
static inline bool w_deliver_one(struct w_world *w)
{
	size_t best = w->nq;
	struct w_pkt p;
	struct w_node *dst;

	for (size_t i = 0; i < w->nq; i++)
		if (w->q[i].at <= w->now && (best == w->nq || w->q[i].at < w->q[best].at))
			best = i;
	if (best == w->nq)
		return false;
	p = w->q[best];
	memmove(&w->q[best], &w->q[best + 1], (w->nq - best - 1) * sizeof(w->q[0]));
	w->nq--;
	dst = w_node_at(w, &p.to);
	if (dst && dst->nat_port && p.to.port == dst->nat_port)
		p.to.port = dst->ep.port; /* the NAT maps the answer back */
	else if (dst && dst->nat_port && p.to.port == dst->nat_port + 1)
		p.to.port = dst->conf.natt_port;
	if (dst) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ike_receive(dst->e, p.b, p.len, &p.from, &p.to);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		dst->rx_s += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	free(p.b);
	return true;
}

/* Runs the world for up to max_ms of virtual time: datagrams in order of arrival, timers when
 * due. Returns when nothing more is scheduled within the time. */
static inline void w_run(struct w_world *w, uint64_t max_ms)
{
	uint64_t end = w->now + max_ms;

	for (;;) {
		uint64_t t = UINT64_MAX;

		while (w_deliver_one(w))
			;
		for (size_t i = 0; i < w->nq; i++)
			if (w->q[i].at < t)
				t = w->q[i].at;
		for (size_t i = 0; i < w->nnodes; i++) {
			if (!w->n[i].e)
				continue;
			uint64_t d = ike_next_deadline(w->n[i].e);

			if (d <= w->now) {
				ike_run_timers(w->n[i].e);
				t = w->now;
			} else if (d < t) {
				t = d;
			}
		}
		if (t == w->now)
			continue;
		if (t > end) {
			w->now = end;
			return;
		}
		w->now = t;
	}
}

/* The host-to-host selector from a to b. */
static inline struct oe_sel w_sel(const struct w_node *a, const struct w_node *b)
{
	struct oe_sel s;

	memset(&s, 0, sizeof(s));
	s.src = oe_prefix_host(&a->ep.addr);
	s.dst = oe_prefix_host(&b->ep.addr);
	return s;
}

/* a initiates to b with b's published key as the DNS answer that triggered it. */
static inline enum ike_status w_initiate(struct w_node *a, struct w_node *b)
{
	struct ike_id id;
	struct dk_result res;
	struct dk_found f;
	struct oe_sel s = w_sel(a, b);

	ike_id_from_addr(&id, &b->ep.addr);
	w_dns_answer(a->w, &id, &res, &f);
	return ike_initiate(a->e, &a->ep, &b->ep, res.status == DK_L_FOUND ? &res : NULL, &s,
			    &a->sa);
}

#endif
