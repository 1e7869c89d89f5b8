/* The IKE engine's deadline heap (oe-agent/ike/ike_timer.c) against a naive scan, with random
 * deadlines, updates, removals and due-lists: after every step the heap's next deadline is
 * the minimum over the SAs, and ike_timer_due() hands out exactly the SAs that are due. */
#include <stdlib.h>

#include "ike/ike_int.h"
#include "t.h"

#define N 300

static uint64_t naive_min(struct ike_sa *const *sas, const bool *in)
{
	uint64_t m = UINT64_MAX;

	for (size_t i = 0; i < N; i++)
		if (in[i] && ike_sa_deadline(sas[i]) < m)
			m = ike_sa_deadline(sas[i]);
	return m;
}

static void test_heap_random(void)
{
	struct ike_engine *e = calloc(1, sizeof(*e));
	struct ike_sa *sas[N];
	bool in[N];
	unsigned seed = 12345;

	for (size_t i = 0; i < N; i++) {
		sas[i] = calloc(1, sizeof(struct ike_sa));
		sas[i]->e = e;
		sas[i]->heap_idx = SIZE_MAX;
		sas[i]->state = IKE_S_ESTABLISHED;
		sas[i]->liveness_at = 1 + (uint64_t)(rand_r(&seed) % 100000);
		in[i] = true;
		ike_sa_touch(sas[i]);
	}
	ike_timer_refile(e);
	T_CHECK_INT(e->nheap, N);
	T_CHECK_INT(ike_timer_next(e), naive_min(sas, in));
	for (int step = 0; step < 3000; step++) {
		size_t i = (size_t)rand_r(&seed) % N;
		int op = rand_r(&seed) % 4;

		if (op == 0 && in[i]) { /* gone */
			ike_timer_remove(e, sas[i]);
			in[i] = false;
		} else if (op == 1) { /* a new deadline, or back in */
			sas[i]->liveness_at = 1 + (uint64_t)(rand_r(&seed) % 100000);
			in[i] = true;
			ike_sa_touch(sas[i]);
			ike_timer_refile(e);
		} else if (op == 2) { /* due now: exactly those at or before now */
			uint64_t now = (uint64_t)(rand_r(&seed) % 2000);
			size_t want = 0, got = 0;
			bool ok = true;

			for (size_t k = 0; k < N; k++)
				want += in[k] && ike_sa_deadline(sas[k]) <= now;
			for (struct ike_sa *sa = ike_timer_due(e, now); sa; sa = sa->dnext) {
				got++;
				ok &= ike_sa_deadline(sa) <= now;
				for (size_t k = 0; k < N; k++)
					if (sas[k] == sa)
						in[k] = false;
			}
			T_CHECK_INT(got, want);
			T_CHECK(ok);
		} else if (in[i]) { /* no deadline at all: out of the heap */
			sas[i]->liveness_at = 0;
			ike_sa_touch(sas[i]);
			ike_timer_refile(e);
			in[i] = false;
		}
		if (ike_timer_next(e) != naive_min(sas, in)) {
			T_CHECK_INT(ike_timer_next(e), naive_min(sas, in));
			break;
		}
	}
	for (size_t i = 0; i < N; i++)
		free(sas[i]);
	free(e->heap);
	free(e);
}

int main(void)
{
	T_RUN(test_heap_random);
	return t_done();
}
