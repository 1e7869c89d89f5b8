/* libFuzzer harness for the IKE exchanges after IKE_SA_INIT: two engines (tests/unit/
 * ike_world.h) make real keys, then the input becomes the inner payload chain of a message
 * that the harness encrypts with those keys, so it passes the ICV and reaches the exchange
 * code. Input: byte 0 picks the case, byte 1 is the first inner payload type, the rest is the
 * chain. Cases: an IKE_AUTH request to a half-open responder; an INFORMATIONAL or
 * CREATE_CHILD_SA request to an established responder; the answer to the initiator's
 * outstanding IKE_AUTH, Child SA rekey, IKE SA rekey, delete or liveness check. Property: no
 * crash, leak or hang; afterwards both engines still run their timers and free cleanly. */
#include "ike_world.h"
#include "ike/ike_int.h"
#include "oe_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* header | SK generic header | IV | E(chain | pad length 0) | ICV (RFC 7296 §3.14) */
static void craft(struct w_world *w, struct w_node *from, struct w_node *to,
		  const struct ike_sa *sa, uint8_t exch, bool response, uint32_t msgid,
		  uint8_t first, const uint8_t *chain, size_t n)
{
	struct ike_sk_key *k = from == &w->n[0] ? (struct ike_sk_key *)&sa->keys.sk_ei
						 : (struct ike_sk_key *)&sa->keys.sk_er;
	size_t len = 28 + 4 + 8 + n + 1 + 16;
	uint8_t *b = calloc(1, len);

	ike_spi_put(b, sa->spi_i);
	ike_spi_put(b + 8, sa->spi_r);
	b[16] = IKE_PL_SK;
	b[17] = IKE_VERSION;
	b[18] = exch;
	b[19] = (uint8_t)((from == &w->n[0] ? IKE_FLAG_I : 0) | (response ? IKE_FLAG_R : 0));
	put32(b + 20, msgid);
	put32(b + 24, (uint32_t)len);
	b[28] = first;
	b[30] = (uint8_t)((len - 28) >> 8);
	b[31] = (uint8_t)(len - 28);
	put32(b + 32, (uint32_t)(k->iv_next >> 32));
	put32(b + 36, (uint32_t)k->iv_next++);
	memcpy(b + 40, chain, n);
	if (ike_sk_seal(k, b + 32, b, 32, b + 40, n + 1, b + 40 + n + 1) == IKE_CODEC_OK)
		w_enqueue(w, &from->ep, &to->ep, b, len, w->now + 1, 999);
	free(b);
}

static void run_case(struct w_world *w, unsigned sel, uint8_t first, const uint8_t *chain,
		     size_t n)
{
	struct w_node *i = &w->n[0], *r = &w->n[1];
	struct ike_sa *si, *sr;
	static const uint8_t exch[] = { IKE_EXCH_INFORMATIONAL, IKE_EXCH_CREATE_CHILD_SA };

	w_initiate(i, r);
	if (sel == 0)
		w->drop = 1ull << 2; /* I's IKE_AUTH: the input takes its place */
	w_run(w, 10);
	si = ike_sa_by_handle(i->e, i->sa);
	sr = r->e->all;
	if (!si || !sr)
		return;
	if (sel == 0) {
		craft(w, i, r, sr, IKE_EXCH_AUTH, false, 1, first, chain, n);
	} else if (sel <= 2) {
		craft(w, i, r, sr, exch[sel - 1], false, si->next_req_id, first, chain, n);
	} else {
		/* I starts something; the input is R's answer */
		w->drop_all = true;
		if (sel == 3)
			ike_rekey_child(i->e, i->sa);
		else if (sel == 4)
			ike_rekey_ike(i->e, i->sa);
		else
			ike_delete(i->e, i->sa);
		w_run(w, 10);
		w->drop_all = false;
		si = ike_sa_by_handle(i->e, i->sa);
		if (si)
			craft(w, r, i, si, sel == 5 ? IKE_EXCH_INFORMATIONAL
						  : IKE_EXCH_CREATE_CHILD_SA,
			      true, si->next_req_id, first, chain, n);
	}
	w_run(w, 100);
	w_run(w, 100000); /* timers: retransmissions, give-ups, lookups */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct w_world w;

	if (size < 2 || size > 4096)
		return 0;
	if (!key) {
		oe_log_set_level(OE_LOG_ERR);
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	}
	w_init(&w);
	w.quiet = true;
	w_add(&w, "I", "192.0.2.1", key);
	w_add(&w, "R", "192.0.2.2", key);
	w_publish(&w, &w.n[0].ep.addr, key);
	w_publish(&w, &w.n[1].ep.addr, key);
	if (w_start(&w.n[0]) == 0 && w_start(&w.n[1]) == 0)
		run_case(&w, data[0] % 6, data[1], data + 2, size - 2);
	w_free(&w);
	return 0;
}
