/* The uesp SA table: chained hashes by inbound SPI and by outbound host pair (OE selectors
 * are /32 or /128 pairs), a list for the rare prefix selectors, and the per-remote path MTU
 * entries. Lookups are O(1) on the packet path; tests/unit/test_uesp.c checks the table
 * against a naive list with thousands of SAs. */
#include "kern_uesp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "oe_time.h"

#define TAB_MIN_BUCKETS 64

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x9e3779b1u;
	return h ^ (h >> 16);
}

static uint32_t addr_hash(uint32_t h, const struct oe_addr *a)
{
	unsigned words = a->af == AF_INET ? 1 : 4;

	for (unsigned i = 0; i < words; i++) {
		uint32_t w;

		memcpy(&w, a->b + 4 * i, 4);
		h = mix(h, w);
	}
	return mix(h, a->af);
}

static size_t spi_slot(const struct uesp_tab *t, uint32_t spi)
{
	return mix(t->seed, spi) & (t->nb - 1);
}

static size_t pair_slot(const struct uesp_tab *t, const struct oe_addr *src,
			const struct oe_addr *dst)
{
	return addr_hash(addr_hash(t->seed, src), dst) & (t->nb - 1);
}

static bool is_host(const struct oe_prefix *p)
{
	return p->len == oe_af_bits(p->addr.af);
}

int uesp_tab_init(struct uesp_tab *t)
{
	memset(t, 0, sizeof(*t));
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (uint32_t)oe_now_ms() * 2654435761u;
	t->nb = t->npb = TAB_MIN_BUCKETS;
	t->spi = calloc(t->nb, sizeof(*t->spi));
	t->pair = calloc(t->nb, sizeof(*t->pair));
	t->path = calloc(t->npb, sizeof(*t->path));
	if (!t->spi || !t->pair || !t->path) {
		uesp_tab_free(t);
		return -ENOMEM;
	}
	return 0;
}

static void sa_free(struct uesp_sa *s)
{
	kern_esp_sa_free(s->esp);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void uesp_tab_free(struct uesp_tab *t)
{
	for (size_t i = 0; t->spi && i < t->nb; i++)
		for (struct uesp_sa *s = t->spi[i], *nx; s; s = nx) {
			nx = s->next_spi;
			sa_free(s);
		}
	for (size_t i = 0; t->path && i < t->npb; i++)
		for (struct uesp_path *p = t->path[i], *nx; p; p = nx) {
			nx = p->next;
			free(p);
		}
	free(t->spi);
	free(t->pair);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

struct uesp_sa *uesp_tab_by_spi(const struct uesp_tab *t, uint32_t spi_in)
{
	for (struct uesp_sa *s = t->spi[spi_slot(t, spi_in)]; s; s = s->next_spi)
		if (s->sa.spi_in == spi_in)
			return s;
	return NULL;
}

struct uesp_sa *uesp_tab_by_pair(const struct uesp_tab *t, const struct oe_addr *src,
				 const struct oe_addr *dst)
{
	for (struct uesp_sa *s = t->pair[pair_slot(t, src, dst)]; s; s = s->next_pair)
		if (oe_addr_eq(&s->sa.sel.src.addr, src) && oe_addr_eq(&s->sa.sel.dst.addr, dst))
			return s;
	for (struct uesp_sa *s = t->wide; s; s = s->next_pair)
		if (oe_prefix_contains(&s->sa.sel.src, src) && oe_prefix_contains(&s->sa.sel.dst, dst))
			return s;
	return NULL;
}

/* ---- growing ------------------------------------------------------------------------------ */

/* Doubles the SPI and pair hashes once they hold more SAs than buckets. */
static int grow(struct uesp_tab *t)
{
	size_t nb = t->nb * 2;
	struct uesp_sa **spi = calloc(nb, sizeof(*spi)), **pair = calloc(nb, sizeof(*pair));
	struct uesp_tab o = *t;

	if (!spi || !pair) {
		free(spi);
		free(pair);
		return -ENOMEM;
	}
	t->spi = spi;
	t->pair = pair;
	t->nb = nb;
	for (size_t i = 0; i < o.nb; i++) {
		for (struct uesp_sa *s = o.spi[i], *nx; s; s = nx) {
			size_t k = spi_slot(t, s->sa.spi_in);

			nx = s->next_spi;
			s->next_spi = spi[k];
			spi[k] = s;
		}
		/* reversed chains: only one SA per pair is outbound, so order does not matter */
		for (struct uesp_sa *s = o.pair[i], *nx; s; s = nx) {
			size_t k = pair_slot(t, &s->sa.sel.src.addr, &s->sa.sel.dst.addr);

			nx = s->next_pair;
			s->next_pair = pair[k];
			pair[k] = s;
		}
	}
	free(o.spi);
	free(o.pair);
	return 0;
}

static int grow_paths(struct uesp_tab *t)
{
	size_t nb = t->npb * 2;
	struct uesp_path **v = calloc(nb, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->npb; i++)
		for (struct uesp_path *p = t->path[i], *nx; p; p = nx) {
			size_t k = addr_hash(t->seed, &p->remote) & (nb - 1);

			nx = p->next;
			p->next = v[k];
			v[k] = p;
		}
	free(t->path);
	t->path = v;
	t->npb = nb;
	return 0;
}

/* ---- paths -------------------------------------------------------------------------------- */

/* Frees unused paths whose PMTU the kernel has forgotten by now (or that never told). */
static void sweep_paths(struct uesp_tab *t, uint64_t now_ms)
{
	for (size_t i = 0; i < t->npb; i++)
		for (struct uesp_path **pp = &t->path[i], *p; (p = *pp) != NULL;) {
			if (!p->refs && (!p->told || now_ms - p->told_ms >= UESP_PATH_KEEP_MS)) {
				*pp = p->next;
				free(p);
				t->npaths--;
			} else {
				pp = &p->next;
			}
		}
}

/* The path of remote, new (refs 0) if there is none yet. NULL when out of memory. */
static struct uesp_path *path_get(struct uesp_tab *t, const struct oe_addr *remote)
{
	size_t k = addr_hash(t->seed, remote) & (t->npb - 1);
	struct uesp_path *p;

	for (p = t->path[k]; p; p = p->next)
		if (oe_addr_eq(&p->remote, remote))
			return p;
	if (t->npaths >= t->npb && grow_paths(t) == 0)
		k = addr_hash(t->seed, remote) & (t->npb - 1);
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->remote = *remote;
	p->next = t->path[k];
	t->path[k] = p;
	t->npaths++;
	return p;
}

/* Drops an SA's reference; a path nobody uses and that told nothing goes at once. */
static void path_put(struct uesp_tab *t, struct uesp_path *p, uint64_t now_ms)
{
	struct uesp_path **pp = &t->path[addr_hash(t->seed, &p->remote) & (t->npb - 1)];

	if (--p->refs || (p->told && now_ms - p->told_ms < UESP_PATH_KEEP_MS))
		return;
	for (; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			free(p);
			t->npaths--;
			return;
		}
}

/* ---- SAs ---------------------------------------------------------------------------------- */

static void pair_unlink(struct uesp_tab *t, struct uesp_sa *s)
{
	struct uesp_sa **pp = s->host ? &t->pair[pair_slot(t, &s->sa.sel.src.addr,
							    &s->sa.sel.dst.addr)] :
					&t->wide;

	for (; *pp; pp = &(*pp)->next_pair)
		if (*pp == s) {
			*pp = s->next_pair;
			break;
		}
	s->next_pair = NULL;
}

void uesp_tab_demote(struct uesp_tab *t, struct uesp_sa *s)
{
	if (!s->outbound)
		return;
	pair_unlink(t, s);
	s->outbound = false;
}

/* "A second SA for the same pair takes the outbound side": every outbound SA whose
 * selectors cover the new SA's selector addresses stops carrying it. */
static void demote_covering(struct uesp_tab *t, const struct oe_sel *sel)
{
	struct uesp_sa *s;

	while ((s = uesp_tab_by_pair(t, &sel->src.addr, &sel->dst.addr)) != NULL)
		uesp_tab_demote(t, s);
}

void uesp_tab_promote(struct uesp_tab *t, struct uesp_sa *s)
{
	size_t k;

	s->pending_out = false;
	if (s->outbound)
		return;
	demote_covering(t, &s->sa.sel);
	s->outbound = true;
	if (s->host) {
		k = pair_slot(t, &s->sa.sel.src.addr, &s->sa.sel.dst.addr);
		s->next_pair = t->pair[k];
		t->pair[k] = s;
	} else {
		s->next_pair = t->wide;
		t->wide = s;
	}
}

int uesp_tab_add(struct uesp_tab *t, const struct kern_child_sa *sa, struct uesp_sa **out)
{
	struct uesp_sa *s;
	size_t k;
	int err;

	if (uesp_tab_by_spi(t, sa->spi_in))
		return -EEXIST;
	if (t->n >= t->nb && (err = grow(t)) != 0)
		return err;
	if ((++t->adds & 63) == 0)
		sweep_paths(t, oe_now_ms());
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->path = path_get(t, &sa->remote);
	err = s->path ? kern_esp_sa_new(sa, &s->esp) : -ENOMEM;
	if (err) {
		free(s);
		return err;
	}
	s->path->refs++;
	s->sa = *sa;
	s->host = is_host(&sa->sel.src) && is_host(&sa->sel.dst);
	k = spi_slot(t, sa->spi_in);
	s->next_spi = t->spi[k];
	t->spi[k] = s;
	uesp_tab_promote(t, s);
	t->n++;
	*out = s;
	return 0;
}

int uesp_tab_del(struct uesp_tab *t, uint32_t spi_in, uint64_t now_ms)
{
	struct uesp_sa **pp = &t->spi[spi_slot(t, spi_in)], *s;

	for (; (s = *pp) != NULL; pp = &s->next_spi)
		if (s->sa.spi_in == spi_in)
			break;
	if (!s)
		return -ENOENT;
	*pp = s->next_spi;
	uesp_tab_demote(t, s);
	path_put(t, s->path, now_ms);
	sa_free(s);
	t->n--;
	return 0;
}
