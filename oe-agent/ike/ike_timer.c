/* The engine's timers: one binary min-heap of IKE SAs keyed by each SA's next deadline
 * (ike_sa_deadline(): retransmission, give-up, lookup, liveness, rekeys, lifetimes), so the
 * owner's loop asks for the next deadline in O(1) and due SAs come off in O(log n) however many
 * SAs exist. SAs whose deadlines may have moved are "touched" and refiled at the end of the
 * outermost entry point. */
#include "ike_int.h"

#include <stdint.h>
#include <stdlib.h>

static void place(struct ike_engine *e, size_t i, struct ike_sa *sa)
{
	e->heap[i] = sa;
	sa->heap_idx = i;
}

static void sift_up(struct ike_engine *e, size_t i)
{
	struct ike_sa *sa = e->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (e->heap[p]->heap_key <= sa->heap_key)
			break;
		place(e, i, e->heap[p]);
		i = p;
	}
	place(e, i, sa);
}

static void sift_down(struct ike_engine *e, size_t i)
{
	struct ike_sa *sa = e->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= e->nheap)
			break;
		if (c + 1 < e->nheap && e->heap[c + 1]->heap_key < e->heap[c]->heap_key)
			c++;
		if (sa->heap_key <= e->heap[c]->heap_key)
			break;
		place(e, i, e->heap[c]);
		i = c;
	}
	place(e, i, sa);
}

void ike_timer_remove(struct ike_engine *e, struct ike_sa *sa)
{
	size_t i = sa->heap_idx;
	struct ike_sa *last;

	if (i == SIZE_MAX || i >= e->nheap || e->heap[i] != sa)
		return;
	sa->heap_idx = SIZE_MAX;
	last = e->heap[--e->nheap];
	if (last == sa)
		return;
	place(e, i, last);
	sift_down(e, i);
	sift_up(e, last->heap_idx);
}

/* Files sa under its current deadline (or takes it out when it has none). */
static void refile(struct ike_engine *e, struct ike_sa *sa)
{
	uint64_t d = sa->state == IKE_S_DEAD ? UINT64_MAX : ike_sa_deadline(sa);

	if (d == UINT64_MAX) {
		ike_timer_remove(e, sa);
		return;
	}
	if (sa->heap_idx != SIZE_MAX) {
		sa->heap_key = d;
		sift_down(e, sa->heap_idx);
		sift_up(e, sa->heap_idx);
		return;
	}
	if (e->nheap == e->heap_cap) {
		size_t cap = e->heap_cap ? e->heap_cap * 2 : 64;
		struct ike_sa **h = realloc(e->heap, cap * sizeof(*h));

		if (!h)
			return; /* the SA's timers are late until the next refile; nothing worse */
		e->heap = h;
		e->heap_cap = cap;
	}
	sa->heap_key = d;
	place(e, e->nheap++, sa);
	sift_up(e, sa->heap_idx);
}

void ike_sa_touch(struct ike_sa *sa)
{
	if (sa->touched)
		return;
	sa->touched = true;
	sa->tnext = sa->e->touched;
	sa->e->touched = sa;
}

void ike_timer_refile(struct ike_engine *e)
{
	while (e->touched) {
		struct ike_sa *sa = e->touched;

		e->touched = sa->tnext;
		sa->tnext = NULL;
		sa->touched = false;
		refile(e, sa);
	}
}

struct ike_sa *ike_timer_due(struct ike_engine *e, uint64_t now)
{
	struct ike_sa *list = NULL, **tail = &list;

	while (e->nheap > 0 && e->heap[0]->heap_key <= now) {
		struct ike_sa *sa = e->heap[0];

		ike_timer_remove(e, sa);
		sa->dnext = NULL;
		*tail = sa;
		tail = &sa->dnext;
	}
	return list;
}

uint64_t ike_timer_next(const struct ike_engine *e)
{
	return e->nheap ? e->heap[0]->heap_key : UINT64_MAX;
}
