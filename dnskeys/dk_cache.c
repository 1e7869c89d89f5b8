/* The key-lookup cache: finished results by query name, bounded by their TTL (negative ones
 * by RFC 2308 §5, computed by the caller) and by an entry cap that evicts the oldest entry;
 * plus in-flight joining, so any number of concurrent lookups of one name cost one set of
 * queries. A chained hash table for finding, a doubly linked list in insertion order for
 * eviction. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dk_lookup_int.h"

struct waiter {
	dk_lookup_fn *cb;
	void *arg;
};

struct dk_centry {
	struct dk_centry *hnext;      /* hash chain */
	struct dk_centry *prev, *next; /* age list, oldest first */
	bool inflight;
	uint64_t expires_ms;
	struct dk_result res;         /* when !inflight */
	struct waiter *w;             /* when inflight */
	size_t nw, capw;
	char qname[]; /* lowercased */
};

/* Waiters being called right now (innermost first), so that a callback that cancels another
 * waiter of the same result is obeyed. */
struct delivery {
	struct waiter *w;
	size_t n;
	struct delivery *up;
};

struct dk_cache {
	struct dk_centry **tab;
	size_t mask;
	size_t max, count;
	struct dk_centry *oldest, *newest;
	struct delivery *delivering;
};

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct dk_cache *dk_cache_new(size_t max)
{
	struct dk_cache *c = calloc(1, sizeof(*c));
	size_t n = 64;

	if (!c)
		return NULL;
	while (n < max * 2 && n < ((size_t)1 << 24))
		n <<= 1;
	c->tab = calloc(n, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->max = max;
	return c;
}

static void unlink_entry(struct dk_cache *c, struct dk_centry *e)
{
	struct dk_centry **pp = &c->tab[name_hash(e->qname) & c->mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		c->oldest = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->newest = e->prev;
	c->count--;
}

static void append_entry(struct dk_cache *c, struct dk_centry *e)
{
	e->next = NULL;
	e->prev = c->newest;
	if (c->newest)
		c->newest->next = e;
	else
		c->oldest = e;
	c->newest = e;
}

static void free_entry(struct dk_centry *e)
{
	dk_result_clear(&e->res);
	free(e->w);
	free(e);
}

/* Runs the waiters of a detached entry with a cancellation. */
static void cancel_waiters(struct dk_centry *e)
{
	struct dk_result res;

	memset(&res, 0, sizeof(res));
	res.status = DK_L_CANCELLED;
	snprintf(res.qname, sizeof(res.qname), "%s", e->qname);
	snprintf(res.reason, sizeof(res.reason), "resolver shut down");
	for (size_t i = 0; i < e->nw; i++)
		e->w[i].cb(e->w[i].arg, &res);
}

void dk_cache_free(struct dk_cache *c)
{
	if (!c)
		return;
	while (c->oldest) {
		struct dk_centry *e = c->oldest;

		unlink_entry(c, e);
		if (e->inflight)
			cancel_waiters(e);
		free_entry(e);
	}
	free(c->tab);
	free(c);
}

void dk_cache_flush(struct dk_cache *c)
{
	struct dk_centry *e = c->oldest, *next;

	for (; e; e = next) {
		next = e->next;
		if (!e->inflight) {
			unlink_entry(c, e);
			free_entry(e);
		}
	}
}

size_t dk_cache_count(const struct dk_cache *c)
{
	return c->count;
}

static int add_waiter(struct dk_centry *e, dk_lookup_fn *cb, void *arg)
{
	if (e->nw == e->capw) {
		size_t n = e->capw ? e->capw * 2 : 4;
		struct waiter *w = realloc(e->w, n * sizeof(*w));

		if (!w)
			return -ENOMEM;
		e->w = w;
		e->capw = n;
	}
	e->w[e->nw++] = (struct waiter){ cb, arg };
	return 0;
}

static struct dk_centry *find(struct dk_cache *c, const char *lname)
{
	struct dk_centry *e = c->tab[name_hash(lname) & c->mask];

	while (e && strcmp(e->qname, lname) != 0)
		e = e->hnext;
	return e;
}

static void lower(char *dst, const char *src, size_t cap)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
	dst[i] = 0;
}

int dk_cache_lookup(struct dk_cache *c, const char *qname, uint64_t now_ms, dk_lookup_fn *cb,
		    void *arg, const struct dk_result **res, struct dk_centry **out)
{
	char lname[DK_NAME_MAX];
	struct dk_centry *e;
	size_t len;

	lower(lname, qname, sizeof(lname));
	e = find(c, lname);
	if (e && e->inflight) {
		if (add_waiter(e, cb, arg) < 0)
			return -ENOMEM;
		return DK_CACHE_JOINED;
	}
	if (e && e->expires_ms > now_ms) {
		*res = &e->res;
		return DK_CACHE_HIT;
	}
	if (e) {
		unlink_entry(c, e);
		free_entry(e);
	}
	len = strlen(lname);
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->qname, lname, len + 1);
	e->inflight = true;
	if (add_waiter(e, cb, arg) < 0) {
		free(e);
		return -ENOMEM;
	}
	e->hnext = c->tab[name_hash(lname) & c->mask];
	c->tab[name_hash(lname) & c->mask] = e;
	append_entry(c, e);
	c->count++;
	*out = e;
	return DK_CACHE_MISS;
}

size_t dk_cache_unwait(struct dk_cache *c, dk_lookup_fn *cb, void *arg)
{
	size_t n = 0;

	for (struct dk_centry *e = c->oldest; e; e = e->next) {
		size_t o = 0;

		if (!e->inflight)
			continue;
		for (size_t i = 0; i < e->nw; i++)
			if (e->w[i].cb != cb || e->w[i].arg != arg)
				e->w[o++] = e->w[i];
		n += e->nw - o;
		e->nw = o;
	}
	for (struct delivery *d = c->delivering; d; d = d->up)
		for (size_t i = 0; i < d->n; i++)
			if (d->w[i].cb == cb && d->w[i].arg == arg) {
				d->w[i].cb = NULL;
				n++;
			}
	return n;
}

/* Drops the oldest finished entries until the cap holds (entries in flight are not counted
 * against it for eviction: they cannot be dropped without losing waiters). */
static void enforce_cap(struct dk_cache *c)
{
	struct dk_centry *e = c->oldest, *next;

	for (; e && c->count > c->max; e = next) {
		next = e->next;
		if (!e->inflight) {
			unlink_entry(c, e);
			free_entry(e);
		}
	}
}

void dk_cache_complete(struct dk_cache *c, struct dk_centry *e, const struct dk_result *res,
		       uint64_t now_ms)
{
	struct waiter *w = e->w;
	size_t nw = e->nw;
	bool keep = res->ttl > 0 && res->status != DK_L_CANCELLED;

	e->w = NULL;
	e->nw = e->capw = 0;
	e->inflight = false;
	if (keep && dk_result_copy(&e->res, res) == 0) {
		e->res.cached = true;
		e->expires_ms = now_ms + (uint64_t)res->ttl * 1000;
		/* Finished entries age from their completion. */
		if (c->newest != e) {
			if (e->prev)
				e->prev->next = e->next;
			else
				c->oldest = e->next;
			e->next->prev = e->prev;
			append_entry(c, e);
		}
		enforce_cap(c);
	} else {
		unlink_entry(c, e);
		free_entry(e);
	}
	/* Waiters run last: they may start new lookups, which may evict anything above. */
	struct delivery d = { w, nw, c->delivering };

	c->delivering = &d;
	for (size_t i = 0; i < nw; i++)
		if (w[i].cb)
			w[i].cb(w[i].arg, res);
	c->delivering = d.up;
	free(w);
}
