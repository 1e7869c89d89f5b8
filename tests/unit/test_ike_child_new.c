/* A CREATE_CHILD_SA without REKEY_SA (RFC 7296 §1.3.1) on an established IKE SA, answered by
 * our engine: strongSwan sends one when it recreates a Child SA it closed or that expired,
 * keeping the IKE SA. OE wants one Child SA per host pair, so the responder refuses with
 * NO_ADDITIONAL_SAS while one lives, and installs the new one for the pair once none is left;
 * selectors other than the pair get TS_UNACCEPTABLE. */
#include "ike_world_t.h"
#include "oe_log.h"

static EVP_PKEY *k_i, *k_r;

static void up(struct w_world *w)
{
	start(w);
	T_CHECK_INT(w_initiate(&w->n[0], &w->n[1]), IKE_OK);
	w_run(w, 100);
	handshake_transcript(w);
}

/* I asks R for a new Child SA for sel on their IKE SA, as strongSwan does. Sent as if it were
 * a liveness check, so I drops R's answer: only R's side is looked at. */
static void ask_new_child(struct w_node *i, const struct oe_sel *sel)
{
	struct ike_sa *sa = ike_sa_by_handle(i->e, i->sa);
	struct ike_proposal prop;
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t n[32];

	T_CHECK(sa != NULL);
	if (!sa)
		return;
	memset(n, 0x5a, sizeof(n));
	ike_sa_hdr(sa, &h, IKE_EXCH_CREATE_CHILD_SA, false, sa->next_req_id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	ike_prop_esp(&sa->e->conf, &prop, 0x0c0ffee0);
	ike_add_sa(&b, &prop);
	ike_add_nonce(&b, n, sizeof(n));
	child_add_ts(&b, sel, true);
	ike_sa_send_sk(sa, &b, IKE_P_LIVENESS, 0);
}

/* I deletes its Child SA (not the IKE SA); R removes its half. */
static void drop_child(struct w_world *w, struct w_node *i, struct w_node *r)
{
	struct ike_sa *sa = ike_sa_by_handle(i->e, i->sa);
	const struct kern_child_sa *k = kern_mock_at(i->km, 0);

	T_CHECK(sa && k);
	if (!sa || !k)
		return;
	T_CHECK(ike_sa_queue(sa, IKE_P_DELETE_CHILD, k->spi_in));
	ike_sa_run_queue(sa);
	w_run(w, 100);
	W_EXPECT(w, "I>R INFO req 2");
	W_EXPECT(w, "R>I INFO resp 2");
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
}

static void test_refused_while_one_lives(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct oe_sel sel;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	up(&w);
	sel = w_sel(i, r);
	ask_new_child(i, &sel);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD resp 2");
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	T_CHECK_INT(kern_mock_calls(r->km, KERN_MOCK_INSTALL), 1);
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	w_free(&w);
}

static void test_accepted_when_none_left(void)
{
	struct w_world w;
	struct w_node *i, *r;
	const struct kern_child_sa *k;
	struct oe_sel sel;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	up(&w);
	drop_child(&w, i, r);
	sel = w_sel(i, r);
	ask_new_child(i, &sel);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 3");
	W_EXPECT(&w, "R>I CHILD resp 3");
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN CHILD_UP");
	k = kern_mock_at(r->km, 0);
	T_CHECK(k != NULL);
	if (k) { /* R's view: src = R, dst = I, our SPI as its outbound one */
		T_CHECK(oe_addr_eq(&k->sel.src.addr, &r->ep.addr));
		T_CHECK(oe_addr_eq(&k->sel.dst.addr, &i->ep.addr));
		T_CHECK_INT(k->spi_out, 0x0c0ffee0);
		T_CHECK(k->outbound_later); /* answered for; alone for the pair, it sends at once */
	}
	w_free(&w);
}

static void test_other_selectors_refused(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct oe_addr other;
	struct oe_sel sel;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	up(&w);
	drop_child(&w, i, r);
	T_CHECK(oe_addr_parse(&other, "192.0.2.99", 10));
	sel = w_sel(i, r);
	sel.src = oe_prefix_host(&other); /* I speaking for another address */
	ask_new_child(i, &sel);
	w_run(&w, 100);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN");
	w_free(&w);
}

int main(void)
{
	/* helpers of ike_world_t.h this file does not need */
	(void)r_handle;
	(void)check_pair;
	(void)keep;
	(void)resend_kept;
	if (!getenv("IKE_TEST_LOG"))
		oe_log_set_level(OE_LOG_WARN);
	dk_hostkey_generate(DK_KT_ECDSA_P256, 0, &k_i);
	dk_hostkey_generate(DK_KT_ED25519, 0, &k_r);
	T_RUN(test_refused_while_one_lives);
	T_RUN(test_accepted_when_none_left);
	T_RUN(test_other_selectors_refused);
	EVP_PKEY_free(k_i);
	EVP_PKEY_free(k_r);
	return t_done();
}
