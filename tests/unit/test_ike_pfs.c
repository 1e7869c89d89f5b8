/* Child SA rekeys with PFS (RFC 7296 §1.3.1) towards a peer not set up for it: such a peer
 * answers our CREATE_CHILD_SA with a KE by NO_PROPOSAL_CHOSEN (strongSwan with its default
 * ESP proposals, which have no DH group). The engine then rekeys at once without a KE, and
 * keeps doing so on that IKE SA, instead of letting the Child SA run into its hard lifetime.
 * Here R's engine stops accepting the IKE SA's group for ESP once the SA is up. */
#include "ike_world_t.h"
#include "oe_log.h"

static EVP_PKEY *k_i, *k_r;

static uint32_t spi_in(struct w_node *n)
{
	const struct kern_child_sa *k = kern_mock_at(n->km, 0);

	return k ? k->spi_in : 0;
}

static void test_refused_pfs_rekeys_without(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa *sa;
	uint32_t old_i, old_r;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.child_pfs = true;
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	old_i = spi_in(i);
	old_r = spi_in(r);
	r->e->conf.dh[0] = 14; /* the IKE SA's group is 31: R refuses it for ESP now */
	r->e->conf.ndh = 1;
	T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD resp 2"); /* NO_PROPOSAL_CHOSEN */
	W_EXPECT(&w, "I>R CHILD req 3");  /* again, without a KE */
	W_EXPECT(&w, "R>I CHILD resp 3");
	W_EXPECT(&w, "I>R INFO req 4");   /* the old SA's DELETE */
	W_EXPECT(&w, "R>I INFO resp 4");
	W_EXPECT_END(&w);
	sa = ike_sa_by_handle(i->e, i->sa);
	T_CHECK(sa && sa->pfs_refused);
	check_pair(i, r);
	T_CHECK(spi_in(i) != old_i && spi_in(r) != old_r);
	/* the next rekey goes without a KE at once */
	T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 5");
	W_EXPECT(&w, "R>I CHILD resp 5");
	W_EXPECT(&w, "I>R INFO req 6");
	W_EXPECT(&w, "R>I INFO resp 6");
	W_EXPECT_END(&w);
	check_pair(i, r);
	w_free(&w);
}

int main(void)
{
	/* helpers of ike_world_t.h this file does not need */
	(void)r_handle;
	(void)keep;
	(void)resend_kept;
	if (!getenv("IKE_TEST_LOG"))
		oe_log_set_level(OE_LOG_WARN);
	dk_hostkey_generate(DK_KT_ECDSA_P256, 0, &k_i);
	dk_hostkey_generate(DK_KT_ED25519, 0, &k_r);
	T_RUN(test_refused_pfs_rekeys_without);
	EVP_PKEY_free(k_i);
	EVP_PKEY_free(k_r);
	return t_done();
}
