/* Test-side helpers over ike_world.h shared by the IKE exchange tests (test_ike_engine.c,
 * test_ike_lifecycle.c): the usual two nodes, the handshake transcript, the check that both
 * Child SAs mirror each other, and capturing one datagram to read or rewrite it in flight.
 * Uses t.h's assertions, so only test programs include it (not the fuzzers or benchmarks). */
#ifndef IKE_WORLD_T_H
#define IKE_WORLD_T_H

#include "ike_world.h"
#include "ike/ike_int.h"
#include "t.h"

/* Two nodes with their keys published (ki may be NULL: AUTH_NULL); I = 192.0.2.1,
 * R = 192.0.2.2. The engines are made by start(), so a test can edit n->conf first. */
static void setup(struct w_world *w, EVP_PKEY *ki, EVP_PKEY *kr)
{
	w_init(w);
	w_add(w, "I", "192.0.2.1", ki);
	w_add(w, "R", "192.0.2.2", kr);
	if (ki)
		w_publish(w, &w->n[0].ep.addr, ki);
	w_publish(w, &w->n[1].ep.addr, kr);
}

static void start(struct w_world *w)
{
	T_CHECK_INT(w_start(&w->n[0]), 0);
	T_CHECK_INT(w_start(&w->n[1]), 0);
}

static void handshake_transcript(struct w_world *w)
{
	W_EXPECT(w, "I>R SA_INIT req 0");
	W_EXPECT(w, "R>I SA_INIT resp 0");
	W_EXPECT(w, "I>R AUTH req 1");
	W_EXPECT(w, "R>I AUTH resp 1");
	W_EXPECT_END(w);
}

/* Both Child SAs installed and mirror images of each other. */
static void check_pair(struct w_node *i, struct w_node *r)
{
	const struct kern_child_sa *a, *b;

	T_CHECK_INT(kern_mock_installed(i->km), 1);
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	a = kern_mock_at(i->km, 0);
	b = kern_mock_at(r->km, 0);
	if (!a || !b)
		return;
	T_CHECK_INT(a->spi_out, b->spi_in);
	T_CHECK_INT(a->spi_in, b->spi_out);
	T_CHECK_INT(a->key_len, b->key_len);
	T_CHECK(memcmp(a->key_out, b->key_in, a->key_len) == 0);
	T_CHECK(memcmp(a->key_in, b->key_out, a->key_len) == 0);
	T_CHECK(memcmp(a->salt_out, b->salt_in, 4) == 0);
	T_CHECK(memcmp(a->key_in, a->key_out, a->key_len) != 0);
	T_CHECK(oe_addr_eq(&a->sel.src.addr, &b->sel.dst.addr) &&
		a->sel.src.len == oe_af_bits(a->sel.src.addr.af));
	T_CHECK(oe_addr_eq(&a->sel.dst.addr, &r->ep.addr) &&
		a->sel.dst.len == oe_af_bits(a->sel.dst.addr.af));
	T_CHECK(oe_addr_eq(&b->sel.src.addr, &r->ep.addr));
	T_CHECK(a->encr == KERN_ESP_AES_GCM_16);
	T_CHECK(a->life.hard_s > 0 && a->life.soft_s > 0 && a->life.soft_s < a->life.hard_s);
}

/* The handle of R's first IKE SA. */
static uint64_t r_handle(struct w_node *r)
{
	struct ike_sa_info sr;

	return ike_sa_at(r->e, 0, &sr) ? sr.handle : 0;
}

/* ---- one datagram kept as it was sent ------------------------------------------------------ */

static uint8_t *kept; /* malloc'd; the test frees it */
static size_t kept_len;
static unsigned kept_seq, seen;

static void keep_one(const uint8_t *b, size_t len, void *arg)
{
	(void)arg;
	if (seen++ == kept_seq) {
		kept = malloc(len);
		memcpy(kept, b, len);
		kept_len = len;
	}
}

/* Keeps the datagram sent seq-th (from 0) from now on. */
static void keep(struct w_world *w, unsigned seq)
{
	kept = NULL;
	kept_len = 0;
	seen = 0;
	kept_seq = seq;
	w->capture = keep_one;
}

/* The kept datagram, decrypted with the keys of I's IKE SA (either direction); NULL after a
 * failed check. */
static struct ike_msg *open_kept(struct w_node *i)
{
	struct ike_sa *sa = ike_sa_by_handle(i->e, i->sa);
	struct ike_msg *m = NULL;

	T_CHECK(sa && kept);
	if (!sa || !kept)
		return NULL;
	T_CHECK_INT(ike_msg_parse(kept, kept_len, &m), IKE_CODEC_OK);
	if (m && ike_msg_decrypt(m, (m->hdr.flags & IKE_FLAG_I) ? &sa->keys.sk_ei
								 : &sa->keys.sk_er) != IKE_CODEC_OK) {
		T_CHECK(!"decrypt");
		ike_msg_free(m);
		m = NULL;
	}
	return m;
}

/* Rewrites I's kept SK request: edit() is called with each inner payload in order (it adds it,
 * changed or not, and whatever should come before it) and once with NULL at the end; the
 * result is encrypted again and delivered to R as if I had sent it. Frees kept. */
typedef void (*w_edit_fn)(struct ike_builder *b, const struct ike_payload *p, void *arg);

static void resend_kept(struct w_world *w, struct w_node *i, struct w_node *r, w_edit_fn edit,
			void *arg)
{
	struct ike_sa *sa = ike_sa_by_handle(i->e, i->sa);
	struct ike_msg *m = open_kept(i);
	struct ike_builder b;
	uint8_t *out = NULL;
	size_t len = 0;

	if (m && sa) {
		ike_build_init(&b, &m->hdr);
		ike_build_begin_sk(&b);
		for (size_t k = 0; k < m->n_pl; k++)
			if (m->pl[k].inner)
				edit(&b, &m->pl[k], arg);
		edit(&b, NULL, arg);
		T_CHECK_INT(ike_build_finish(&b, &sa->keys.sk_ei, &out, &len), IKE_CODEC_OK);
		w_enqueue(w, &i->ep, &r->ep, out, len, w->now + 1, 99);
	}
	free(out);
	ike_msg_free(m);
	free(kept);
	kept = NULL;
}

#endif
