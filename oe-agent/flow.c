/* The flow state machine (DESIGN.md §3): one flow per (source, destination) pair, keyed with
 * protocol and ports too where port rules make the group depend on them. A trapped packet
 * starts a decision or joins its flow's bounded hold queue; the decision (clear -> PASS,
 * block -> REJECT, private(-or-clear) -> key lookup -> negotiation or the failure rule) goes
 * through set_state(), the one place that checks, logs and counts transitions. */
#include "flow_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oe_log.h"

struct mixed_range {
	struct oe_addr lo, hi;
};

struct flow_list {
	struct oe_flow *head, *tail;
	uint32_t n;
};

struct oe_flows {
	struct oe_flow_ops ops;
	struct oe_flow_limits lim;
	const struct pg_policy *policy;
	struct oe_flow **buckets;
	size_t nbuckets, nflows;
	struct flow_list progress, decided; /* each ordered by deadline */
	struct mixed_range *mixed;	    /* sorted, disjoint: where ports decide */
	size_t nmixed;
	struct oe_flow_stats st;
	const struct oe_flow *delivering; /* the flow whose lookup answer is being handled */
	const struct oe_flow *concluding; /* the flow whose negotiation result is handled */
	const struct oe_flow_pkt *cur;	  /* the packet being handled (its bytes for ICMP) */
};

static const char *const state_names[OE_FLOW_NSTATES] = {
	[OE_FLOW_TRAPPED] = "TRAPPED",	   [OE_FLOW_HOLD_LOOKUP] = "HOLD(lookup)",
	[OE_FLOW_HOLD_NEGOTIATING] = "HOLD(negotiating)",
	[OE_FLOW_TUNNEL] = "TUNNEL",	   [OE_FLOW_PASS] = "PASS",
	[OE_FLOW_DROP] = "DROP",	   [OE_FLOW_REJECT] = "REJECT",
};

const char *oe_flow_state_name(enum oe_flow_state s)
{
	return (unsigned)s < OE_FLOW_NSTATES ? state_names[s] : "?";
}

void oe_flow_limits_default(struct oe_flow_limits *l)
{
	l->hold_packets = 32;
	l->hold_bytes = 256 * 1024;
	l->max_flows = 4096;
	l->max_lookups = 512;
	l->max_held_bytes = 16 * 1024 * 1024;
	l->max_shunts = 65536;
	l->shunt_life_s = 15 * 60;
	l->hold_timeout_ms = 30000;
}

static bool is_decided(enum oe_flow_state s)
{
	return s >= OE_FLOW_TUNNEL;
}

/* The legal transitions; anything else is a bug and is refused (logged). Decided flows only
 * ever go back to TRAPPED (expiry, reload), which frees them. */
static bool transition_ok(enum oe_flow_state from, enum oe_flow_state to)
{
	switch (from) {
	case OE_FLOW_TRAPPED:
		return to != OE_FLOW_TRAPPED && to != OE_FLOW_HOLD_NEGOTIATING;
	case OE_FLOW_HOLD_LOOKUP:
		return to != OE_FLOW_TRAPPED && to != OE_FLOW_HOLD_LOOKUP &&
		       to != OE_FLOW_TUNNEL;
	case OE_FLOW_HOLD_NEGOTIATING:
		return is_decided(to);
	default:
		return to == OE_FLOW_TRAPPED;
	}
}

/* ---- lists and the hash --------------------------------------------------------------------- */

static void list_append(struct flow_list *l, struct oe_flow *f)
{
	f->next = NULL;
	f->prev = l->tail;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
	l->n++;
}

static void list_remove(struct flow_list *l, struct oe_flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
	l->n--;
}

static uint64_t key_hash(const struct oe_addr *s, const struct oe_addr *d, uint8_t proto,
			 uint16_t sport, uint16_t dport)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a over the key */
	size_t n = s->af == AF_INET6 ? 16 : 4;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s->b[i]) * 1099511628211ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d->b[i]) * 1099511628211ull;
	h = (h ^ proto) * 1099511628211ull;
	h = (h ^ ((uint32_t)sport << 16 | dport)) * 1099511628211ull;
	return h ^ (h >> 29);
}

static bool key_eq(const struct oe_flow *f, const struct oe_addr *s, const struct oe_addr *d,
		   uint8_t proto, uint16_t sport, uint16_t dport)
{
	return f->proto == proto && f->sport == sport && f->dport == dport &&
	       oe_addr_eq(&f->src, s) && oe_addr_eq(&f->dst, d);
}

static struct oe_flow **bucket(struct oe_flows *fs, const struct oe_flow *f)
{
	return &fs->buckets[key_hash(&f->src, &f->dst, f->proto, f->sport, f->dport) &
			    (fs->nbuckets - 1)];
}

static void hash_grow(struct oe_flows *fs)
{
	size_t n = fs->nbuckets * 2;
	struct oe_flow **nb = calloc(n, sizeof(*nb)), **old = fs->buckets;
	size_t on = fs->nbuckets;

	if (!nb)
		return; /* chains just get longer */
	fs->buckets = nb;
	fs->nbuckets = n;
	for (size_t i = 0; i < on; i++) {
		struct oe_flow *f = old[i], *next;

		for (; f; f = next) {
			struct oe_flow **b = bucket(fs, f);

			next = f->hnext;
			f->hnext = *b;
			*b = f;
		}
	}
	free(old);
}

static void hash_remove(struct oe_flows *fs, struct oe_flow *f)
{
	for (struct oe_flow **pp = bucket(fs, f); *pp; pp = &(*pp)->hnext) {
		if (*pp == f) {
			*pp = f->hnext;
			fs->nflows--;
			return;
		}
	}
}

/* ---- held packets ------------------------------------------------------------------------- */

/* Held packets stay in the kernel's queue; the flow keeps only their ids and lengths. Only a
 * %reject needs a packet's bytes (the ICMP quote), and a flow becomes REJECT only on its first
 * packet (block) or after it is decided: the packet being handled then is the one to quote. */
static void held_pop(struct oe_flows *fs, struct oe_flow *f, enum oe_flow_verdict v)
{
	struct oe_held h = f->held[f->hfirst];
	bool cur = fs->cur && fs->cur->id == h.id;

	if (--f->nheld == 0)
		f->hfirst = 0;
	else
		f->hfirst++;
	f->held_bytes -= h.len;
	fs->st.held_packets--;
	fs->st.held_bytes -= h.len;
	fs->ops.verdict(fs->ops.ctx, h.id, v, cur ? fs->cur->head : NULL,
			cur ? fs->cur->headlen : 0);
}

/* Room for one more slot at the end: compacts, or grows up to the per-flow bound. */
static bool held_room(struct oe_flows *fs, struct oe_flow *f)
{
	struct oe_held *n;
	uint32_t cap;

	if (f->hfirst + f->nheld < f->hcap)
		return true;
	if (f->hfirst) {
		memmove(f->held, f->held + f->hfirst, f->nheld * sizeof(*f->held));
		f->hfirst = 0;
		return true;
	}
	cap = f->hcap * 2;
	n = f->held == f->inl ? malloc(cap * sizeof(*n)) : realloc(f->held, cap * sizeof(*n));
	if (!n)
		return false;
	if (f->held == f->inl)
		memcpy(n, f->inl, sizeof(f->inl));
	f->held = n;
	f->hcap = cap;
	return true;
}

/* Holds p on f; the per-flow bounds drop the oldest first (counted). false: not held (no
 * memory, or the global byte limit): the caller drops it. */
static bool held_push(struct oe_flows *fs, struct oe_flow *f, const struct oe_flow_pkt *p)
{
	if (fs->st.held_bytes + p->len > fs->lim.max_held_bytes)
		return false;
	while (f->nheld && (f->nheld >= fs->lim.hold_packets ||
			    f->held_bytes + p->len > fs->lim.hold_bytes)) {
		held_pop(fs, f, OE_FV_DROP);
		fs->st.dropped_oldest++;
	}
	if (!held_room(fs, f))
		return false;
	f->held[f->hfirst + f->nheld++] = (struct oe_held){ p->id, p->len };
	f->held_bytes += p->len;
	fs->st.held_packets++;
	fs->st.held_bytes += p->len;
	return true;
}

static enum oe_flow_verdict state_verdict(enum oe_flow_state s)
{
	return s == OE_FLOW_DROP ? OE_FV_DROP : s == OE_FLOW_REJECT ? OE_FV_REJECT : OE_FV_ACCEPT;
}

/* ---- freeing ------------------------------------------------------------------------------ */

static void flow_free(struct oe_flows *fs, struct oe_flow *f)
{
	while (f->nheld)
		held_pop(fs, f, is_decided(f->state) ? state_verdict(f->state) : OE_FV_DROP);
	if (f->held != f->inl)
		free(f->held);
	if (f->state == OE_FLOW_HOLD_LOOKUP) {
		fs->st.lookups--;
		if (fs->ops.lookup_cancel)
			fs->ops.lookup_cancel(fs->ops.ctx, f);
	}
	list_remove(is_decided(f->state) ? &fs->decided : &fs->progress, f);
	hash_remove(fs, f);
	free(f);
}

/* ---- the one state change ----------------------------------------------------------------- */

static void log_transition(const struct oe_flow *f, enum oe_flow_state to, const char *why)
{
	char s[OE_ADDRSTRLEN], d[OE_ADDRSTRLEN];

	if (f->ports)
		oe_info(FLOW, "%s -> %s proto %u port %u: %s -> %s (%s)", oe_addr_str(&f->src, s),
			oe_addr_str(&f->dst, d), f->proto, f->dport, state_names[f->state],
			state_names[to], why);
	else
		oe_info(FLOW, "%s -> %s: %s -> %s (%s)", oe_addr_str(&f->src, s),
			oe_addr_str(&f->dst, d), state_names[f->state], state_names[to], why);
}

/* Changes f's state: checks the transition, logs it, moves f between the lists with its new
 * deadline, and for a decision releases the held packets in order and tells the ops. Going
 * back to TRAPPED frees f. Returns false (f untouched) for an illegal transition. */
static bool set_state(struct oe_flows *fs, struct oe_flow *f, enum oe_flow_state to,
		      const char *why)
{
	uint64_t now = fs->ops.now_ms(fs->ops.ctx);

	if (!transition_ok(f->state, to)) {
		oe_err(FLOW, "refused transition %s -> %s", state_names[f->state], state_names[to]);
		return false;
	}
	log_transition(f, to, why);
	if (f->state == OE_FLOW_HOLD_LOOKUP) {
		fs->st.lookups--;
		/* decided without its answer (timeout, limits): the answer must not find f */
		if (fs->delivering != f && fs->ops.lookup_cancel)
			fs->ops.lookup_cancel(fs->ops.ctx, f);
	}
	if (f->state == OE_FLOW_HOLD_NEGOTIATING && fs->concluding != f &&
	    fs->ops.negotiate_cancel)
		fs->ops.negotiate_cancel(fs->ops.ctx, f);
	if (to == OE_FLOW_TRAPPED) { /* expiry or re-decision: the pair traps again */
		flow_free(fs, f);
		return true;
	}
	snprintf(f->reason, sizeof(f->reason), "%s", why);
	if (to == OE_FLOW_HOLD_LOOKUP)
		fs->st.lookups++;
	if (!is_decided(to)) {
		f->state = to;
		return true;
	}
	list_remove(&fs->progress, f);
	fs->st.in_progress--;
	f->state = to;
	f->deadline_ms = now + (f->shunt_life_s ? f->shunt_life_s : fs->lim.shunt_life_s) * 1000;
	list_append(&fs->decided, f);
	fs->st.outcome[to]++;
	while (f->nheld)
		held_pop(fs, f, state_verdict(to));
	if (to != OE_FLOW_TUNNEL && fs->ops.decided)
		fs->ops.decided(fs->ops.ctx, f);
	/* bounded memory for decided pairs: forget the oldest (its kernel element stays until
	 * its own timeout; a packet after that simply traps again) */
	if (fs->decided.n > fs->lim.max_shunts && fs->decided.head != f) {
		struct oe_flow *old = fs->decided.head;

		if (fs->ops.forget)
			fs->ops.forget(fs->ops.ctx, old, false);
		flow_free(fs, old);
	}
	return true;
}

/* The group's rule when no tunnel comes of it (DESIGN.md §5): private-or-clear passes,
 * everything else that wanted privacy drops. */
static bool failure_rule(struct oe_flows *fs, struct oe_flow *f, const char *why)
{
	char r[KERN_REASONLEN];

	snprintf(r, sizeof(r), "%s: %.40s", pg_group_name(f->group), why);
	return set_state(fs, f, f->group == PG_PRIVATE_OR_CLEAR ? OE_FLOW_PASS : OE_FLOW_DROP, r);
}

/* ---- decisions ---------------------------------------------------------------------------- */

static bool key_usable(const struct dk_result *res)
{
	if (res->status != DK_L_FOUND)
		return false;
	for (size_t i = 0; i < res->nfound; i++)
		if (res->found[i].pkey)
			return true;
	return false;
}

static void lookup_result(struct oe_flows *fs, struct oe_flow *f, const struct dk_result *res);

void oe_flows_lookup_done(struct oe_flows *fs, struct oe_flow *f, const struct dk_result *res)
{
	if (f->state != OE_FLOW_HOLD_LOOKUP)
		return;
	fs->delivering = f;
	lookup_result(fs, f, res);
	fs->delivering = NULL;
}

static void lookup_result(struct oe_flows *fs, struct oe_flow *f, const struct dk_result *res)
{
	char why[KERN_REASONLEN];
	int err;

	if (res->status == DK_L_BOGUS || res->status == DK_L_MALFORMED) {
		/* RFC 4322 §7 / DESIGN.md §5: a forged or broken answer denies, in both groups */
		char d[OE_ADDRSTRLEN];

		oe_warn(FLOW, "%s: key lookup %s (%s): denied", oe_addr_str(&f->dst, d),
			dk_lookup_status_name(res->status), res->reason);
		snprintf(why, sizeof(why), "%s: dns %s", pg_group_name(f->group),
			 dk_lookup_status_name(res->status));
		set_state(fs, f, OE_FLOW_DROP, why);
		return;
	}
	if (!key_usable(res)) {
		snprintf(why, sizeof(why), "no key (%s)", dk_lookup_status_name(res->status));
		failure_rule(fs, f, why);
		return;
	}
	if (!set_state(fs, f, OE_FLOW_HOLD_NEGOTIATING, "key found"))
		return;
	err = fs->ops.negotiate ? fs->ops.negotiate(fs->ops.ctx, f, res) : -ENOSYS;
	if (err < 0 && f->state == OE_FLOW_HOLD_NEGOTIATING) {
		fs->concluding = f; /* failed at once: nothing to cancel */
		failure_rule(fs, f, err == -ENOSYS ? "negotiation not available" :
						     "negotiation failed");
		fs->concluding = NULL;
	}
}

void oe_flows_negotiated(struct oe_flows *fs, struct oe_flow *f, bool ok, const char *why)
{
	if (f->state != OE_FLOW_HOLD_NEGOTIATING)
		return;
	fs->concluding = f;
	if (ok)
		set_state(fs, f, OE_FLOW_TUNNEL, why ? why : "negotiated");
	else
		failure_rule(fs, f, why ? why : "negotiation failed");
	fs->concluding = NULL;
}

static enum pg_group group_of(const struct oe_flows *fs, const struct kern_pkt *h)
{
	struct pg_key k = { h->dst, h->proto, h->sport, h->dport };

	return fs->policy ? pg_lookup_group(fs->policy, &k) : PG_CLEAR;
}

static bool wants_lookup(enum pg_group g)
{
	return g == PG_PRIVATE_OR_CLEAR || g == PG_PRIVATE;
}

static void decide(struct oe_flows *fs, struct oe_flow *f, enum pg_group g)
{
	int err;

	f->group = g;
	switch (f->group) {
	case PG_CLEAR:
	case PG_CLEAR_OR_PRIVATE:
		set_state(fs, f, OE_FLOW_PASS, pg_group_name(f->group));
		return;
	case PG_BLOCK:
		set_state(fs, f, OE_FLOW_REJECT, pg_group_name(f->group));
		return;
	default:
		break;
	}
	if (!set_state(fs, f, OE_FLOW_HOLD_LOOKUP, "looking up the key"))
		return;
	/* the result may arrive before lookup() returns (cache): f then is decided already */
	err = fs->ops.lookup ? fs->ops.lookup(fs->ops.ctx, f) : -ENOSYS;
	if (err < 0 && f->state == OE_FLOW_HOLD_LOOKUP)
		failure_rule(fs, f, "lookup could not start");
}

/* ---- packets ------------------------------------------------------------------------------ */

static bool in_mixed(const struct oe_flows *fs, const struct oe_addr *a)
{
	size_t lo = 0, hi = fs->nmixed;

	while (lo < hi) { /* first range whose hi >= a */
		size_t m = lo + (hi - lo) / 2;

		if (oe_addr_cmp(&fs->mixed[m].hi, a) < 0)
			lo = m + 1;
		else
			hi = m;
	}
	return lo < fs->nmixed && oe_addr_cmp(&fs->mixed[lo].lo, a) <= 0;
}

static struct oe_flow *find(struct oe_flows *fs, const struct kern_pkt *h, bool ports)
{
	uint8_t proto = ports ? h->proto : 0;
	uint16_t sp = ports ? h->sport : 0, dp = ports ? h->dport : 0;
	struct oe_flow *f = fs->buckets[key_hash(&h->src, &h->dst, proto, sp, dp) &
					(fs->nbuckets - 1)];

	for (; f; f = f->hnext)
		if (key_eq(f, &h->src, &h->dst, proto, sp, dp))
			return f;
	return NULL;
}

static struct oe_flow *flow_new(struct oe_flows *fs, const struct kern_pkt *h, bool ports)
{
	struct oe_flow *f = calloc(1, sizeof(*f));
	struct oe_flow **b;

	if (!f)
		return NULL;
	f->src = h->src;
	f->dst = h->dst;
	f->ports = ports;
	if (ports) {
		f->proto = h->proto;
		f->sport = h->sport;
		f->dport = h->dport;
	}
	f->state = OE_FLOW_TRAPPED;
	f->held = f->inl;
	f->hcap = sizeof(f->inl) / sizeof(f->inl[0]);
	f->created_ms = fs->ops.now_ms(fs->ops.ctx);
	f->deadline_ms = f->created_ms + fs->lim.hold_timeout_ms;
	if (fs->nflows >= fs->nbuckets)
		hash_grow(fs);
	b = bucket(fs, f);
	f->hnext = *b;
	*b = f;
	fs->nflows++;
	list_append(&fs->progress, f);
	fs->st.in_progress++;
	fs->st.flows++;
	return f;
}

static void packet(struct oe_flows *fs, const struct oe_flow_pkt *p);

void oe_flows_packet(struct oe_flows *fs, const struct oe_flow_pkt *p)
{
	fs->cur = p;
	packet(fs, p);
	fs->cur = NULL;
}

static void packet(struct oe_flows *fs, const struct oe_flow_pkt *p)
{
	bool ports = in_mixed(fs, &p->hdr.dst);
	struct oe_flow *f = find(fs, &p->hdr, ports);

	fs->st.trapped++;
	if (f && is_decided(f->state)) {
		/* the kernel shunt is not in place (yet, or refused, or keyed by ports) */
		fs->st.after_decision++;
		fs->ops.verdict(fs->ops.ctx, p->id, state_verdict(f->state), p->head, p->headlen);
		return;
	}
	if (!f) {
		enum pg_group g = group_of(fs, &p->hdr);

		/* global bounds: a flood of new destinations costs a counter, not memory; the
		 * sender retries, and a flow that needs no lookup is still decided */
		if ((wants_lookup(g) && (fs->st.lookups >= fs->lim.max_lookups ||
					 fs->st.in_progress >= fs->lim.max_flows)) ||
		    fs->st.held_bytes + p->len > fs->lim.max_held_bytes ||
		    !(f = flow_new(fs, &p->hdr, ports))) {
			fs->st.over_limit++;
			fs->ops.verdict(fs->ops.ctx, p->id, OE_FV_DROP, NULL, 0);
			return;
		}
		if (!held_push(fs, f, p)) {
			fs->st.over_limit++;
			fs->ops.verdict(fs->ops.ctx, p->id, OE_FV_DROP, NULL, 0);
		}
		decide(fs, f, g);
		return;
	}
	if (!held_push(fs, f, p)) {
		fs->st.over_limit++;
		fs->ops.verdict(fs->ops.ctx, p->id, OE_FV_DROP, NULL, 0);
	}
}

void oe_flows_inbound(struct oe_flows *fs, const struct kern_pkt *h)
{
	struct kern_pkt r = { .src = h->dst, .dst = h->src, .proto = h->proto,
			      .sport = h->dport, .dport = h->sport };
	bool ports = in_mixed(fs, &r.dst);
	struct oe_flow *f = find(fs, &r, ports);

	fs->st.inbound++;
	/* only private senders: the kernel's private ranges may be stale after a reload */
	if (f || group_of(fs, &r) != PG_PRIVATE)
		return;
	if (fs->st.lookups >= fs->lim.max_lookups || fs->st.in_progress >= fs->lim.max_flows ||
	    !(f = flow_new(fs, &r, ports))) {
		fs->st.over_limit++;
		return;
	}
	decide(fs, f, PG_PRIVATE);
}

void oe_flows_malformed(struct oe_flows *fs)
{
	fs->st.trapped++;
	fs->st.malformed++;
}

uint64_t oe_flows_expire(struct oe_flows *fs, uint64_t now)
{
	struct oe_flow *f;

	/* each step takes the head off its list; a refused transition (a bug, logged) ends
	 * the walk rather than spinning on the same flow */
	while ((f = fs->progress.head) && f->deadline_ms <= now)
		if (!failure_rule(fs, f, "timed out"))
			break;
	while ((f = fs->decided.head) && f->deadline_ms <= now) {
		if (fs->ops.forget)
			fs->ops.forget(fs->ops.ctx, f, false);
		fs->st.expired++;
		if (!set_state(fs, f, OE_FLOW_TRAPPED, "shunt expired"))
			break;
	}
	if (fs->progress.head && fs->decided.head)
		return fs->progress.head->deadline_ms < fs->decided.head->deadline_ms ?
			       fs->progress.head->deadline_ms : fs->decided.head->deadline_ms;
	f = fs->progress.head ? fs->progress.head : fs->decided.head;
	return f ? f->deadline_ms : 0;
}

/* ---- policy ------------------------------------------------------------------------------- */

struct mixed_build {
	struct mixed_range *v;
	size_t n, cap;
	bool failed;
};

static void add_mixed(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
		      enum pg_group g, bool mixed)
{
	struct mixed_build *mb = ctx;

	if (!mixed || mb->failed)
		return;
	if (mb->n == mb->cap) {
		size_t cap = mb->cap ? mb->cap * 2 : 16;
		struct mixed_range *v = realloc(mb->v, cap * sizeof(*v));

		if (!v) {
			mb->failed = true;
			return;
		}
		mb->v = v;
		mb->cap = cap;
	}
	mb->v[mb->n].lo = *lo;
	mb->v[mb->n++].hi = *hi;
}

size_t oe_flows_set_policy(struct oe_flows *fs, const struct pg_policy *p, bool redecide)
{
	struct mixed_build mb = { 0 };
	struct oe_flow *f, *next;
	size_t n = 0;

	fs->policy = p;
	if (p) {
		pg_ranges_sel(p, AF_INET, add_mixed, &mb);
		pg_ranges_sel(p, AF_INET6, add_mixed, &mb);
	}
	if (mb.failed) { /* without the table every key is per pair: safe only when... */
		oe_err(FLOW, "out of memory: port-rule ranges unknown, decisions per pair");
		free(mb.v);
		mb.v = NULL;
		mb.n = 0;
	}
	free(fs->mixed);
	fs->mixed = mb.v;
	fs->nmixed = mb.n;
	if (!redecide || !p)
		return 0;
	for (f = fs->decided.head; f; f = next) {
		struct pg_key k = { f->dst, f->proto, f->sport, f->dport };
		enum pg_group g = pg_lookup_group(p, &k);
		char why[KERN_REASONLEN];

		next = f->next;
		if (f->state == OE_FLOW_TUNNEL || (g == f->group && in_mixed(fs, &f->dst) ==
							     f->ports))
			continue;
		snprintf(why, sizeof(why), "policy changed: %s -> %s", pg_group_name(f->group),
			 pg_group_name(g));
		if (fs->ops.forget)
			fs->ops.forget(fs->ops.ctx, f, true);
		fs->st.redecided++;
		set_state(fs, f, OE_FLOW_TRAPPED, why);
		n++;
	}
	return n;
}

void oe_flows_set_limits(struct oe_flows *fs, const struct oe_flow_limits *lim)
{
	fs->lim = *lim;
}

/* ---- life --------------------------------------------------------------------------------- */

struct oe_flows *oe_flows_new(const struct oe_flow_ops *ops, const struct oe_flow_limits *lim)
{
	struct oe_flows *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->ops = *ops;
	fs->lim = *lim;
	fs->nbuckets = 1024;
	fs->buckets = calloc(fs->nbuckets, sizeof(*fs->buckets));
	if (!fs->buckets) {
		free(fs);
		return NULL;
	}
	return fs;
}

void oe_flows_free(struct oe_flows *fs)
{
	if (!fs)
		return;
	while (fs->progress.head)
		flow_free(fs, fs->progress.head);
	while (fs->decided.head)
		flow_free(fs, fs->decided.head);
	free(fs->buckets);
	free(fs->mixed);
	free(fs);
}

void oe_flows_stats(const struct oe_flows *fs, struct oe_flow_stats *out)
{
	*out = fs->st;
	out->decided = fs->decided.n;
}

void oe_flows_walk(struct oe_flows *fs, void (*fn)(void *ctx, const struct oe_flow *f),
		   void *ctx)
{
	for (struct oe_flow *f = fs->progress.head; f; f = f->next)
		fn(ctx, f);
	for (struct oe_flow *f = fs->decided.head; f; f = f->next)
		fn(ctx, f);
}

/* The pair's tunnel is gone (idle teardown, DELETE from the peer, liveness, expiry): its
 * TUNNEL flows go back to the trap, or a trapped packet would meet a decided flow and be
 * accepted in the clear instead of negotiating again. */
size_t oe_flows_tunnel_down(struct oe_flows *fs, const struct oe_addr *src,
			    const struct oe_addr *dst, const char *why)
{
	struct oe_flow *f, *next;
	size_t n = 0;

	for (f = fs->decided.head; f; f = next) {
		next = f->next;
		if (f->state != OE_FLOW_TUNNEL || !oe_addr_eq(&f->src, src) ||
		    !oe_addr_eq(&f->dst, dst))
			continue;
		if (set_state(fs, f, OE_FLOW_TRAPPED, why))
			n++;
	}
	return n;
}
