/* IKEv2 exchanges between engines in one process (tests/unit/ike_world.h): each test reads as
 * the transcript of datagrams sent, with the state of both ends and of their mock kernels
 * asserted after each step. Virtual time; mock DNS answers; no sockets. */
#include "ike_world_t.h"
#include "oe_log.h"

static EVP_PKEY *k_rsa, *k_rsa2, *k_ec, *k_ed;

static void happy(EVP_PKEY *ki, EVP_PKEY *kr, uint16_t dh, bool method1, unsigned want_auth)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si, sr;

	setup(&w, ki, kr);
	i = &w.n[0];
	r = &w.n[1];
	if (dh) {
		i->conf.dh[0] = dh;
		i->conf.ndh = 1;
	}
	i->conf.rsa_method1 = r->conf.rsa_method1 = method1;
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	T_CHECK(ike_sa_get(i->e, i->sa, &si));
	T_CHECK(ike_sa_at(r->e, 0, &sr));
	T_CHECK_STR(si.state, "ESTABLISHED");
	T_CHECK_STR(sr.state, "ESTABLISHED");
	T_CHECK_INT(si.spi_i, sr.spi_i);
	T_CHECK_INT(si.spi_r, sr.spi_r);
	T_CHECK_INT(si.dh, dh ? dh : 31);
	T_CHECK_INT(sr.auth_method, want_auth); /* what the initiator used */
	T_CHECK_INT(si.nchild, 1);
	check_pair(i, r);
	T_CHECK_INT(kern_mock_at(i->km, 0)->mode, KERN_MODE_TUNNEL);
	T_CHECK(oe_addr_eq(&kern_mock_at(i->km, 0)->sel.src.addr, &i->ep.addr));
	T_CHECK_INT(kern_mock_at(i->km, 0)->life.hard_s, 3600);
	T_CHECK_INT(r->lookups, ki ? 1 : 0); /* the initiator's key came from DNS */
	T_CHECK_INT(i->lookups, 0);	     /* the responder's from the triggering answer */
	w_free(&w);
}

static void test_rsa_pss(void) { happy(k_rsa, k_rsa2, 0, false, 14); }
static void test_rsa_method1(void) { happy(k_rsa, k_rsa2, 0, true, 1); }
static void test_ecdsa_p256(void) { happy(k_ec, k_ec, 0, false, 14); }
static void test_ed25519(void) { happy(k_ed, k_rsa, 0, false, 14); }
static void test_auth_null_initiator(void) { happy(NULL, k_ed, 0, false, 13); }
static void test_dh31(void) { happy(k_ed, k_ed, 31, false, 14); }
static void test_dh19(void) { happy(k_ec, k_ed, 19, false, 14); }
static void test_dh14(void) { happy(k_ed, k_ec, 14, false, 14); }

/* ---- failures ------------------------------------------------------------------------------- */

static void test_wrong_key_at_responder(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_rsa, k_ec);
	w.dns[0].key = k_rsa2; /* DNS publishes another key for the initiator */
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1");
	W_EXPECT(&w, "R>I AUTH resp 1"); /* carrying AUTHENTICATION_FAILED */
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "FAILED:auth-failed");
	T_CHECK_STR(r->events, "FAILED:auth-failed");
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	w_free(&w);
}

static void test_wrong_key_at_initiator(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_rsa, k_ec);
	w.dns[1].key = k_ed; /* the answer that made I initiate names another key */
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1");
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT(&w, "I>R INFO req 2"); /* AUTHENTICATION_FAILED, not waited for */
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "FAILED:auth-failed");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:auth-failed");
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(ike_sa_count(i->e), 0);
	w_free(&w);
}

static void test_no_key_in_dns(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_rsa, k_ec);
	w.dns[0].status = DK_L_NXDOMAIN;
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	w_initiate(i, r);
	w_run(&w, 100);
	T_CHECK_STR(i->events, "FAILED:auth-failed");
	T_CHECK_STR(r->events, "FAILED:no-key");
	w_free(&w);
}

static void test_no_common_proposal(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ec);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.dh[0] = 14;
	i->conf.ndh = 1;
	r->conf.dh[0] = 31;
	r->conf.dh[1] = 19;
	r->conf.ndh = 2;
	start(&w);
	w_initiate(i, r);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0 N(NO_PROPOSAL_CHOSEN)");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "FAILED:no-proposal");
	T_CHECK_INT(ike_sa_count(r->e), 0); /* the answer left no state */
	w_free(&w);
}

static void test_esn_negotiation(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si;

	setup(&w, k_ec, k_ec);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.esn = true; /* I offers ESN first, then no ESN: fine; R refuses ESN-less */
	start(&w);
	w_initiate(i, r);
	w_run(&w, 100);
	handshake_transcript(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK(!kern_mock_at(i->km, 0)->esn); /* R does not want ESN */
	w_free(&w);
	(void)si;
}

static void test_invalid_ke_retry(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si;

	setup(&w, k_ec, k_ec);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.dh[0] = 31; /* guesses X25519 */
	i->conf.dh[1] = 19;
	i->conf.ndh = 2;
	r->conf.dh[0] = 19; /* R only does P-256 */
	r->conf.ndh = 1;
	start(&w);
	w_initiate(i, r);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0 N(INVALID_KE_PAYLOAD)");
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1");
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK(ike_sa_get(i->e, i->sa, &si));
	T_CHECK_INT(si.dh, 19);
	check_pair(i, r);
	w_free(&w);
}

static void test_invalid_ke_unacceptable(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ec);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.dh[0] = 31;
	i->conf.dh[1] = 14;
	i->conf.ndh = 2;
	r->conf.dh[0] = 14; /* R wants MODP-2048 */
	r->conf.dh[1] = 19;
	r->conf.ndh = 2;
	start(&w);
	w_initiate(i, r);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0 N(INVALID_KE_PAYLOAD)");
	W_EXPECT(&w, "I>R SA_INIT req 0");
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	w_free(&w);
}

static void test_cookie(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ed, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	r->conf.cookie_threshold = 0; /* "under load" from the first request */
	start(&w);
	w_initiate(i, r);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0 N(COOKIE)");
	W_EXPECT(&w, "I>R SA_INIT req 0 N(COOKIE)");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1");
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	{
		struct ike_stats sr;

		ike_stats_get(r->e, &sr);
		T_CHECK_INT(sr.cookies_sent, 1);
		T_CHECK_INT(sr.received, 3);
		T_CHECK_INT(sr.sent, 3);
		T_CHECK_INT(sr.dropped, 0);
	}
	w_free(&w);
}

static void test_cookie_lost(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ed, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	r->conf.cookie_threshold = 0;
	start(&w);
	/* the COOKIE answer is lost: I retransmits its request and is asked again */
	w_initiate(i, r);
	w.drop = 1ull << 1; /* R's first COOKIE answer is lost: I retransmits */
	w_run(&w, 2000);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0 N(COOKIE) (dropped)");
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0 N(COOKIE)");
	W_EXPECT(&w, "I>R SA_INIT req 0 N(COOKIE)");
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	w_free(&w);
}

static void test_lost_and_duplicated(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	/* datagram 0 (I's IKE_SA_INIT) and 4 (R's IKE_AUTH answer) are lost; the retransmitted
	 * IKE_AUTH (5) arrives twice */
	w.drop = 1ull << 0 | 1ull << 4;
	w.dup = 1ull << 5;
	w_initiate(i, r);
	w_run(&w, 400);
	W_EXPECT(&w, "I>R SA_INIT req 0 (dropped)");
	W_EXPECT_END(&w); /* nothing until the retransmission timer */
	w_run(&w, 200);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1");
	W_EXPECT(&w, "R>I AUTH resp 1 (dropped)");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(i->events, "");
	w_run(&w, 1000);
	W_EXPECT(&w, "I>R AUTH req 1 (twice)");
	W_EXPECT(&w, "R>I AUTH resp 1"); /* the cached answer, once per copy */
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_INT(kern_mock_calls(r->km, KERN_MOCK_INSTALL), 1); /* answered from the cache */
	T_CHECK_INT(r->lookups, 1);
	{
		struct ike_stats si, sr;

		ike_stats_get(i->e, &si);
		ike_stats_get(r->e, &sr);
		T_CHECK_INT(si.retransmits, 2);	 /* IKE_SA_INIT once, IKE_AUTH once */
		T_CHECK_INT(sr.resent_responses, 2); /* both copies of the IKE_AUTH retransmission */
		T_CHECK_INT(si.dropped, 1);	 /* the second copy of the answer */
		T_CHECK_INT(si.established, 1);
		T_CHECK_INT(sr.established, 1);
		T_CHECK_INT(sr.child_installed, 1);
	}
	check_pair(i, r);
	w_free(&w);
}

static void test_retransmit_give_up(void)
{
	struct w_world w;
	struct w_node *i, *r;
	uint64_t t0;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	w.drop_all = true;
	t0 = w.now;
	w_initiate(i, r);
	/* backoff 0.5, 1, 2, 4, 8 s, then 16 s more and give up */
	w_run(&w, 31499);
	T_CHECK_INT(w.nlines, 6);
	T_CHECK_STR(i->events, "");
	w_run(&w, 1);
	T_CHECK_STR(i->events, "FAILED:timeout");
	T_CHECK_INT(w.now - t0, 31500);
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(ike_next_deadline(i->e), UINT64_MAX);
	w_free(&w);
}

static void test_refuse_clear_and_block(void)
{
	for (int g = 0; g < 2; g++) {
		struct w_world w;
		struct w_node *i, *r;

		setup(&w, k_ec, k_ed);
		i = &w.n[0];
		r = &w.n[1];
		r->policy = g ? PG_BLOCK : PG_CLEAR;
		start(&w);
		w_initiate(i, r);
		w_run(&w, 100);
		W_EXPECT(&w, "I>R SA_INIT req 0");
		W_EXPECT(&w, "R>I SA_INIT resp 0 N(NO_PROPOSAL_CHOSEN)");
		W_EXPECT_END(&w);
		T_CHECK_STR(i->events, "FAILED:no-proposal");
		T_CHECK_INT(ike_sa_count(r->e), 0);
		T_CHECK_INT(r->lookups, 0);
		w_free(&w);
	}
}

/* The responder keeps serving others while one initiator's key is being looked up. */
static void test_async_lookup(void)
{
	struct w_world w;
	struct w_node *i, *r, *j;

	setup(&w, k_ec, k_ed);
	j = w_add(&w, "J", "192.0.2.3", k_rsa);
	w_publish(&w, &j->ep.addr, k_rsa);
	i = &w.n[0];
	r = &w.n[1];
	r->defer_lookups = true;
	start(&w);
	T_CHECK_INT(w_start(j), 0);
	w_initiate(i, r);
	w_run(&w, 100);
	T_CHECK_INT(r->nlk, 1);
	w_initiate(j, r);
	w_run(&w, 100);
	T_CHECK_INT(r->nlk, 2);
	w_answer_lookups(r); /* answers I first, then J */
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1");
	W_EXPECT(&w, "J>R SA_INIT req 0");
	W_EXPECT(&w, "R>J SA_INIT resp 0");
	W_EXPECT(&w, "J>R AUTH req 1");
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT(&w, "R>J AUTH resp 1");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(j->events, "ESTABLISHED CHILD_UP");
	T_CHECK_INT(kern_mock_installed(r->km), 2);
	w_free(&w);
}

static void test_lookup_timeout(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	r->defer_lookups = true;
	r->conf.lookup_timeout_ms = 3000;
	start(&w);
	w_initiate(i, r);
	w_run(&w, 3100);
	T_CHECK_STR(r->events, "FAILED:no-key");
	T_CHECK_INT(r->nlk, 0); /* the lookup was withdrawn */
	T_CHECK_STR(i->events, "FAILED:auth-failed");
	w_free(&w);
}

/* ---- established SAs --------------------------------------------------------------------- */

static void up(struct w_world *w)
{
	T_CHECK_INT(w_initiate(&w->n[0], &w->n[1]), IKE_OK);
	w_run(w, 100);
	handshake_transcript(w);
	T_CHECK_STR(w->n[0].events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(w->n[1].events, "ESTABLISHED CHILD_UP");
}

/* Like up() without reading the transcript. */
static void up_any(struct w_world *w)
{
	T_CHECK_INT(w_initiate(&w->n[0], &w->n[1]), IKE_OK);
	w_run(w, 100);
}

static void test_delete_ike(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	up(&w);
	T_CHECK_INT(ike_delete(i->e, i->sa), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted");
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	T_CHECK_INT(ike_delete(i->e, i->sa), IKE_ERR_UNKNOWN_SA);
	w_free(&w);
}

static void test_delete_by_responder(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info sr;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	up(&w);
	T_CHECK(ike_sa_at(r->e, 0, &sr));
	T_CHECK_INT(ike_delete(r->e, sr.handle), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "R>I INFO req 0"); /* the responder's own message IDs start at 0 */
	W_EXPECT(&w, "I>R INFO resp 0");
	W_EXPECT_END(&w);
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	w_free(&w);
}

static void test_liveness(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.liveness_ms = 10000;
	r->conf.liveness_ms = 0;
	start(&w);
	up(&w);
	w_run(&w, 10000);
	W_EXPECT(&w, "I>R INFO req 2"); /* empty: are you there? */
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	/* ESP packets from the peer count as signs of life: no check while they arrive */
	for (int k = 1; k <= 3; k++) {
		struct kern_sa_counters ctr = { .packets_in = (uint64_t)k };

		kern_mock_set_counters(i->km, kern_mock_at(i->km, 0)->spi_in, &ctr);
		w_run(&w, 10000);
		W_EXPECT_END(&w);
	}
	/* the peer vanishes: the next check is retransmitted, then the SA is given up */
	w.drop_all = true;
	w_run(&w, 10000 + 31500);
	W_EXPECT(&w, "I>R INFO req 3 (dropped)");
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:liveness");
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	w_free(&w);
}

static void test_initial_contact(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info sr;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	up(&w);
	/* I crashes and comes back: R still holds the old IKE and Child SA */
	w_stop(i);
	i->events[0] = 0;
	T_CHECK_INT(w_start(i), 0);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	/* the new Child SA up before the stale one goes: the pair's tunnel never lapses */
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP ESTABLISHED CHILD_UP CHILD_DOWN "
			       "DELETED:deleted");
	T_CHECK_INT(ike_sa_count(r->e), 1);
	T_CHECK(ike_sa_at(r->e, 0, &sr));
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	T_CHECK_INT(kern_mock_at(r->km, 0)->spi_in, sr.child_spi_in);
	check_pair(i, r);
	w_free(&w);
}

static void test_transport_mode(void)
{
	for (int both = 0; both < 2; both++) {
		struct w_world w;
		struct w_node *i, *r;

		setup(&w, k_ec, k_ed);
		i = &w.n[0];
		r = &w.n[1];
		i->conf.transport = true;
		r->conf.transport = both;
		start(&w);
		up(&w);
		T_CHECK_INT(kern_mock_at(i->km, 0)->mode,
			    both ? KERN_MODE_TRANSPORT : KERN_MODE_TUNNEL);
		T_CHECK_INT(kern_mock_at(r->km, 0)->mode,
			    both ? KERN_MODE_TRANSPORT : KERN_MODE_TUNNEL);
		w_free(&w);
	}
}

/* I is a gateway (192.0.2.1) for the host 198.51.100.7: R accepts it only when DNS for the
 * host names the gateway. */
static void delegated(bool named, EVP_PKEY *ki, const char *want_i, const char *want_r)
{
	struct w_world w;
	struct w_node *i, *r;
	struct oe_sel s;
	struct w_dns *d;
	const char *gw = named ? "192.0.2.1" : "192.0.2.99";

	setup(&w, ki, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	d = &w.dns[w.ndns++];
	memset(d, 0, sizeof(*d));
	oe_addr_parse(&d->gw, gw, strlen(gw));
	d->id.type = IKE_ID_IPV4_ADDR;
	d->id.len = 4;
	memcpy(d->id.data, "\xc6\x33\x64\x07", 4); /* 198.51.100.7 */
	d->key = k_rsa;
	d->status = DK_L_FOUND;
	start(&w);
	s = w_sel(i, r);
	oe_addr_parse(&s.src.addr, "198.51.100.7", 12);
	T_CHECK_INT(ike_initiate(i->e, &i->ep, &r->ep, NULL, &s, &i->sa), IKE_OK);
	w_run(&w, 100);
	T_CHECK_STR(i->events, want_i);
	T_CHECK_STR(r->events, want_r);
	if (strcmp(want_i, "ESTABLISHED CHILD_UP") == 0) {
		char b[OE_PREFIXSTRLEN];

		T_CHECK_INT(r->lookups, 2);
		T_CHECK_STR(oe_prefix_str(&kern_mock_at(r->km, 0)->sel.dst, b), "198.51.100.7/32");
		check_pair(i, r);
	}
	w_free(&w);
}

static void test_delegated_gateway(void)
{
	delegated(true, k_ec, "ESTABLISHED CHILD_UP", "ESTABLISHED CHILD_UP");
}

static void test_delegated_gateway_not_named(void)
{
	delegated(false, k_ec, "FAILED:auth-failed", "FAILED:delegation");
}

static void test_delegation_anonymous(void)
{
	/* AUTH_NULL may not speak for another host: the IKE SA comes up, the Child SA not */
	delegated(true, NULL, "ESTABLISHED", "ESTABLISHED");
}

static void test_ts_narrowing(void)
{
	struct ike_ts tsi[2], tsr[1];
	struct ike_ts_pl pi = { tsi, 2 }, pr = { tsr, 1 };
	struct oe_addr us, peer;
	struct oe_sel sel;
	char b[OE_PREFIXSTRLEN];

	memset(tsi, 0, sizeof(tsi));
	memset(tsr, 0, sizeof(tsr));
	oe_addr_parse(&us, "192.0.2.2", 9);
	oe_addr_parse(&peer, "192.0.2.1", 9);
	/* TSi: the trigger packet (one host, tcp/443), then the initiator's /24; TSr: 0/0 */
	tsi[0].type = tsi[1].type = tsr[0].type = IKE_TS_IPV4_ADDR_RANGE;
	oe_addr_parse(&tsi[0].start, "192.0.2.9", 9);
	tsi[0].end = tsi[0].start;
	tsi[0].proto = 6;
	tsi[0].sport = tsi[0].eport = 443;
	oe_addr_parse(&tsi[1].start, "192.0.2.0", 9);
	oe_addr_parse(&tsi[1].end, "192.0.2.255", 11);
	tsi[1].eport = 65535;
	oe_addr_parse(&tsr[0].start, "0.0.0.0", 7);
	oe_addr_parse(&tsr[0].end, "255.255.255.255", 15);
	tsr[0].eport = 65535;
	T_CHECK(child_ts_narrow(&pi, &pr, &us, &peer, &sel));
	T_CHECK_STR(oe_prefix_str(&sel.src, b), "192.0.2.2/32");
	T_CHECK_STR(oe_prefix_str(&sel.dst, b), "192.0.2.1/32");
	T_CHECK_INT(sel.proto, 0);
	T_CHECK(child_ts_narrow(&pi, &pr, &us, NULL, &sel)); /* any one host: the trigger */
	T_CHECK_STR(oe_prefix_str(&sel.dst, b), "192.0.2.9/32");
	T_CHECK_INT(sel.proto, 6);
	T_CHECK_INT(sel.dport, 443);
	oe_addr_parse(&peer, "203.0.113.1", 11); /* not in TSi */
	T_CHECK(!child_ts_narrow(&pi, &pr, &us, &peer, &sel));
	oe_addr_parse(&tsr[0].start, "198.51.100.0", 12); /* TSr without us */
	oe_addr_parse(&tsr[0].end, "198.51.100.255", 14);
	T_CHECK(!child_ts_narrow(&pi, &pr, &us, NULL, &sel));
	tsr[0].start = tsr[0].end = us;
	tsr[0].sport = 1000; /* a port range we cannot install */
	tsr[0].eport = 2000;
	T_CHECK(!child_ts_narrow(&pi, &pr, &us, NULL, &sel));
}

/* ---- rekeying (CREATE_CHILD_SA) --------------------------------------------------------------- */

static void test_rekey_child(void)
{
	for (int by_r = 0; by_r < 2; by_r++) {
		struct w_world w;
		struct w_node *i, *r;
		uint32_t old_spi;

		setup(&w, k_ec, k_ed);
		i = &w.n[0];
		r = &w.n[1];
		start(&w);
		up(&w);
		old_spi = kern_mock_at(i->km, 0)->spi_in;
		if (by_r) {
			T_CHECK_INT(ike_rekey_child(r->e, r_handle(r)), IKE_OK);
			w_run(&w, 100);
			W_EXPECT(&w, "R>I CHILD req 0");
			W_EXPECT(&w, "I>R CHILD resp 0");
			W_EXPECT(&w, "R>I INFO req 1"); /* the rekey's initiator deletes the old SA */
			W_EXPECT(&w, "I>R INFO resp 1");
		} else {
			T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
			w_run(&w, 100);
			W_EXPECT(&w, "I>R CHILD req 2");
			W_EXPECT(&w, "R>I CHILD resp 2");
			W_EXPECT(&w, "I>R INFO req 3");
			W_EXPECT(&w, "R>I INFO resp 3");
		}
		W_EXPECT_END(&w);
		T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_UP CHILD_DOWN");
		T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_UP CHILD_DOWN");
		T_CHECK_INT(kern_mock_calls(i->km, KERN_MOCK_UPDATE), 1);
		T_CHECK_INT(kern_mock_calls(r->km, KERN_MOCK_UPDATE), 1);
		T_CHECK(kern_mock_at(i->km, 0) && kern_mock_at(i->km, 0)->spi_in != old_spi);
		T_CHECK_INT(kern_mock_at(i->km, 0)->reqid, 1); /* the same policy */
		check_pair(i, r);
		w_free(&w);
	}
}

static void test_rekey_child_by_lifetime(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.child_lifetime_s = r->conf.child_lifetime_s = 100;
	i->conf.liveness_ms = r->conf.liveness_ms = 0;
	start(&w);
	up(&w);
	w_run(&w, 89000);
	W_EXPECT_END(&w);
	w_run(&w, 1100); /* the initiator's soft lifetime: 90 s */
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD resp 2");
	W_EXPECT(&w, "I>R INFO req 3");
	W_EXPECT(&w, "R>I INFO resp 3");
	W_EXPECT_END(&w);
	check_pair(i, r);
	w_free(&w);
}

static void test_rekey_child_simultaneous(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	up(&w);
	/* both ends start before either hears of the other (§2.8.1) */
	T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
	T_CHECK_INT(ike_rekey_child(r->e, r_handle(r)), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD req 0");
	W_EXPECT(&w, "R>I CHILD resp 2");
	W_EXPECT(&w, "I>R CHILD resp 0");
	/* then: one end deletes its redundant new SA, the other deletes the old one; each
	 * answers the other's delete */
	W_EXPECT(&w, "I>R INFO req 3");
	W_EXPECT(&w, "R>I INFO req 1");
	W_EXPECT(&w, "R>I INFO resp 3");
	W_EXPECT(&w, "I>R INFO resp 1");
	W_EXPECT_END(&w);
	T_CHECK_INT(kern_mock_installed(i->km), 1);
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	check_pair(i, r);
	/* each end installed the other's SA when it answered; the winner's maker installed its
	 * own too, the loser's never did (and removed only the old one) */
	T_CHECK_INT(kern_mock_calls(i->km, KERN_MOCK_UPDATE) +
			    kern_mock_calls(r->km, KERN_MOCK_UPDATE), 3);
	T_CHECK_INT(kern_mock_calls(i->km, KERN_MOCK_REMOVE) +
			    kern_mock_calls(r->km, KERN_MOCK_REMOVE), 3);
	w_free(&w);
}

static void test_rekey_child_crossing_late(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	up(&w);
	/* R's rekey request (datagram 5) is delayed: I's rekey completes first, and R's request
	 * then finds the SA already replaced (TEMPORARY_FAILURE, §2.25) */
	w.delay_seq = 1ull << 5;
	w.delay_ms = 50;
	T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
	T_CHECK_INT(ike_rekey_child(r->e, r_handle(r)), IKE_OK);
	w_run(&w, 200);
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD req 0");
	W_EXPECT(&w, "R>I CHILD resp 2");
	T_CHECK_INT(kern_mock_installed(i->km), 1);
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	check_pair(i, r);
	w_free(&w);
}

static void test_rekey_ike(void)
{
	for (int by_r = 0; by_r < 2; by_r++) {
		struct w_world w;
		struct w_node *i, *r;
		struct ike_sa_info a, b;
		uint64_t old_spi_i;

		setup(&w, k_ec, k_ed);
		i = &w.n[0];
		r = &w.n[1];
		start(&w);
		up(&w);
		T_CHECK(ike_sa_get(i->e, i->sa, &a));
		old_spi_i = a.spi_i;
		if (by_r) {
			T_CHECK_INT(ike_rekey_ike(r->e, r_handle(r)), IKE_OK);
			w_run(&w, 100);
			W_EXPECT(&w, "R>I CHILD req 0");
			W_EXPECT(&w, "I>R CHILD resp 0");
			W_EXPECT(&w, "R>I INFO req 1"); /* on the old SA */
			W_EXPECT(&w, "I>R INFO resp 1");
		} else {
			T_CHECK_INT(ike_rekey_ike(i->e, i->sa), IKE_OK);
			w_run(&w, 100);
			W_EXPECT(&w, "I>R CHILD req 2");
			W_EXPECT(&w, "R>I CHILD resp 2");
			W_EXPECT(&w, "I>R INFO req 3");
			W_EXPECT(&w, "R>I INFO resp 3");
		}
		W_EXPECT_END(&w);
		T_CHECK_INT(ike_sa_count(i->e), 1);
		T_CHECK_INT(ike_sa_count(r->e), 1);
		T_CHECK(ike_sa_get(i->e, i->sa, &a)); /* the handle follows the rekey */
		T_CHECK(ike_sa_at(r->e, 0, &b));
		T_CHECK(a.spi_i != old_spi_i);
		T_CHECK_INT(a.spi_i, b.spi_i);
		T_CHECK_INT(a.spi_r, b.spi_r);
		T_CHECK_INT(a.initiator, !by_r);
		T_CHECK_INT(a.nchild, 1);
		T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP"); /* nothing the owner must act on */
		T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
		check_pair(i, r);
		/* the new SA carries on: a Child SA rekey and a delete through it */
		T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
		w_run(&w, 100);
		W_EXPECT(&w, by_r ? "I>R CHILD req 0" : "I>R CHILD req 0");
		W_EXPECT(&w, "R>I CHILD resp 0");
		check_pair(i, r);
		T_CHECK_INT(ike_delete(i->e, i->sa), IKE_OK);
		w_run(&w, 100);
		T_CHECK_INT(ike_sa_count(i->e), 0);
		T_CHECK_INT(ike_sa_count(r->e), 0);
		T_CHECK_INT(kern_mock_installed(r->km), 0);
		w_free(&w);
	}
}

static void test_rekey_ike_by_lifetime(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info a;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.ike_lifetime_s = r->conf.ike_lifetime_s = 600;
	i->conf.liveness_ms = r->conf.liveness_ms = 0;
	start(&w);
	up(&w);
	T_CHECK(ike_sa_get(i->e, i->sa, &a));
	w_run(&w, 600000); /* the initiator's lifetime; the responder's is 5% longer */
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD resp 2");
	W_EXPECT(&w, "I>R INFO req 3");
	W_EXPECT(&w, "R>I INFO resp 3");
	W_EXPECT_END(&w);
	T_CHECK(ike_sa_get(i->e, i->sa, &a) && a.nchild == 1);
	T_CHECK_INT(ike_sa_count(r->e), 1);
	w_run(&w, 599000); /* the new SA's clock started over */
	W_EXPECT_END(&w);
	w_run(&w, 1000);
	W_EXPECT(&w, "I>R CHILD req 0");
	w_free(&w);
}

static void test_rekey_ike_simultaneous(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info a, b;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	up(&w);
	T_CHECK_INT(ike_rekey_ike(i->e, i->sa), IKE_OK);
	T_CHECK_INT(ike_rekey_ike(r->e, r_handle(r)), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD req 0");
	W_EXPECT(&w, "R>I CHILD resp 2");
	W_EXPECT(&w, "I>R CHILD resp 0");
	/* the redundant new SA and the old one are deleted (§2.8.2) */
	T_CHECK_INT(ike_sa_count(i->e), 1);
	T_CHECK_INT(ike_sa_count(r->e), 1);
	T_CHECK(ike_sa_get(i->e, i->sa, &a));
	T_CHECK(ike_sa_at(r->e, 0, &b));
	T_CHECK_INT(a.spi_i, b.spi_i);
	T_CHECK_INT(a.spi_r, b.spi_r);
	T_CHECK_INT(a.nchild, 1);
	T_CHECK_INT(b.nchild, 1);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	check_pair(i, r);
	T_CHECK_INT(ike_delete(i->e, i->sa), IKE_OK);
	w_run(&w, 100);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	w_free(&w);
}

/* ---- a request rewritten in flight: CP refused ------------------------------------------------- */

/* Adds a CP(CFG_REQUEST) asking for an address (RFC 7296 §3.15) at the end of I's IKE_AUTH. */
static void add_cp(struct ike_builder *b, const struct ike_payload *p, void *arg)
{
	struct ike_payload cp;

	(void)arg;
	if (p) {
		ike_build_add(b, p);
		return;
	}
	memset(&cp, 0, sizeof(cp));
	cp.type = IKE_PL_CP;
	cp.u.cp.cfg_type = IKE_CFG_REQUEST;
	cp.u.cp.n_attr = 1;
	cp.u.cp.attr[0].type = 1; /* INTERNAL_IP4_ADDRESS, empty: "give me one" */
	ike_build_add(b, &cp);
}

static void test_cp_request_refused(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	keep(&w, 2); /* I's IKE_AUTH request */
	w.drop = 1ull << 2;
	w_initiate(i, r);
	w_run(&w, 100);
	resend_kept(&w, i, r, add_cp, NULL);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1 (dropped)");
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT_END(&w);
	/* authenticated both ways; no address pool, so no Child SA (§3.15.4) */
	T_CHECK_STR(i->events, "ESTABLISHED");
	T_CHECK_STR(r->events, "ESTABLISHED");
	T_CHECK(ike_sa_get(i->e, i->sa, &si));
	T_CHECK_INT(si.nchild, 0);
	T_CHECK_INT(si.last_error, IKE_ERR_PEER_ERROR);
	T_CHECK(ike_sa_at(r->e, 0, &si));
	T_CHECK_INT(si.last_error, IKE_ERR_CP_UNSUPPORTED);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	free(kept);
	w_free(&w);
}

static void test_status_listing(void)
{
	struct w_world w;
	struct oe_buf out;

	setup(&w, k_ec, k_ed);
	start(&w);
	up(&w);
	oe_buf_init(&out);
	ike_status_format(w.n[0].e, &out);
	T_CHECK(strstr(out.p, "_r ESTABLISHED, initiator, 192.0.2.1[500] -> 192.0.2.2[500]\n"
			      "    ids 192.0.2.1 -> 192.0.2.2, peer auth DIGITAL_SIGNATURE, "
			      "CURVE25519/PRF_HMAC_SHA2_256/AES_GCM_16-256\n") != NULL);
	T_CHECK(strstr(out.p, "  Child SA ") && strstr(out.p, "_out INSTALLED, tunnel, raw ESP, "
						       "AES_GCM_16-256, no ESN, reqid 1\n"
						       "    192.0.2.1/32 === 192.0.2.2/32\n"));
	oe_buf_free(&out);
	w_free(&w);
}

static void test_rekey_unanswered(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.child_lifetime_s = r->conf.child_lifetime_s = 100;
	i->conf.liveness_ms = r->conf.liveness_ms = 0;
	start(&w);
	up(&w);
	/* the peer goes silent before the Child SA rekeys */
	w.drop_all = true;
	w_run(&w, 200000);
	/* the rekey at 90 s gives up after 31.5 s and takes the IKE SA with it */
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:timeout");
	/* R's own rekey at 95 s fails the same way */
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:timeout");
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	w_free(&w);
}

/* ---- addresses and identities -------------------------------------------------------------- */

static void test_ipv6(void)
{
	struct w_world w;
	struct w_node *i, *r;
	char b[OE_PREFIXSTRLEN];

	w_init(&w);
	i = w_add(&w, "I", "2001:db8::1", k_ec);
	r = w_add(&w, "R", "2001:db8::2", k_ed);
	w_publish(&w, &i->ep.addr, k_ec);
	w_publish(&w, &r->ep.addr, k_ed);
	start(&w);
	up(&w);
	check_pair(i, r);
	T_CHECK_STR(oe_prefix_str(&kern_mock_at(i->km, 0)->sel.dst, b), "2001:db8::2/128");
	w_free(&w);
}

static void test_nat_detected(void)
{
	struct w_world w;
	struct w_node *i, *r;
	const struct kern_child_sa *a, *c;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->nat_port = 1024; /* I sits behind a NAT that rewrites its source port */
	start(&w);
	up(&w);
	a = kern_mock_at(i->km, 0);
	c = kern_mock_at(r->km, 0);
	T_CHECK(a && c);
	if (a && c) {
		/* §2.23: both ends see it and encapsulate (RFC 3948) */
		T_CHECK_INT(a->encap, KERN_ENCAP_UDP);
		T_CHECK_INT(c->encap, KERN_ENCAP_UDP);
		T_CHECK_INT(c->encap_dport, 1025); /* I's NAT-T port as its NAT maps it */
	}
	check_pair(i, r);
	w_free(&w);
}

static void test_no_nat(void)
{
	struct w_world w;

	setup(&w, k_ec, k_ed);
	start(&w);
	up(&w);
	T_CHECK_INT(kern_mock_at(w.n[0].km, 0)->encap, KERN_ENCAP_NONE);
	T_CHECK_INT(kern_mock_at(w.n[1].km, 0)->encap, KERN_ENCAP_NONE);
	w_free(&w);
}

/* IDs by name: R calls itself @r.example (DNS for its address names that gateway with its
 * key); I calls itself @i.example (key at the name; its address names it as gateway). */
static void test_fqdn_ids(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si, sr;
	char id[IKE_IDSTRLEN];

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	ike_id_from_fqdn(&i->conf.id, "@i.example");
	ike_id_from_fqdn(&r->conf.id, "r.example.");
	w.dns[0].gw_name = "i.example."; /* I's address: gateway i.example */
	w.dns[1].gw_name = "r.example."; /* R's address: gateway r.example, with its key */
	w.dns[2].id = i->conf.id;	 /* the key of i.example */
	w.dns[2].key = k_ec;
	w.dns[2].status = DK_L_FOUND;
	w.ndns = 3;
	start(&w);
	up(&w);
	T_CHECK(ike_sa_get(i->e, i->sa, &si));
	T_CHECK(ike_sa_at(r->e, 0, &sr));
	T_CHECK_STR(ike_id_str(&si.peer_id, id), "@r.example");
	T_CHECK_STR(ike_id_str(&sr.peer_id, id), "@i.example");
	T_CHECK_INT(r->lookups, 2); /* i.example's key, then I's address for the delegation */
	T_CHECK_INT(i->lookups, 0);
	check_pair(i, r);
	w_free(&w);
}

static void test_fqdn_not_named(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	ike_id_from_fqdn(&r->conf.id, "r.example"); /* but DNS for R's address names no one */
	start(&w);
	w_initiate(i, r);
	w_run(&w, 100);
	T_CHECK_STR(i->events, "FAILED:delegation");
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	w_free(&w);
}

static void test_kernel_refuses(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	kern_mock_fail_next(r->km, KERN_MOCK_INSTALL, -ENOBUFS);
	up_any(&w);
	handshake_transcript(&w);
	/* the IKE SA stands; the Child SA is refused with TEMPORARY_FAILURE */
	T_CHECK_STR(i->events, "ESTABLISHED");
	T_CHECK_STR(r->events, "ESTABLISHED");
	T_CHECK(ike_sa_at(r->e, 0, &si));
	T_CHECK_INT(si.last_error, IKE_ERR_KERNEL);
	T_CHECK(ike_sa_get(i->e, i->sa, &si));
	T_CHECK_INT(si.last_error, IKE_ERR_PEER_ERROR);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_calls(r->km, KERN_MOCK_INSTALL), 1);
	w_free(&w);
}

/* ---- fuzz seeds ------------------------------------------------------------------------------ */

static void save_seed(const uint8_t *b, size_t len, void *arg)
{
	const char *dir = arg;
	char path[512];
	FILE *f;
	static unsigned n;

	snprintf(path, sizeof(path), "%s/seed-%03u", dir, n++);
	f = fopen(path, "wb");
	if (f) {
		fwrite(b, 1, len, f);
		fclose(f);
	}
}

/* With IKE_SEED_DIR set, the datagrams of handshakes with each DH group, a COOKIE and an
 * INVALID_KE retry are written there (the seeds of fuzz_ike_responder). */
static void test_fuzz_seeds(void)
{
	static const uint16_t groups[] = { 31, 19, 14 };
	const char *dir = getenv("IKE_SEED_DIR");

	for (size_t g = 0; g < 4; g++) {
		struct w_world w;

		setup(&w, k_ec, k_ed);
		w.capture = dir ? save_seed : NULL;
		w.capture_arg = (void *)dir;
		if (g < 3) {
			w.n[0].conf.dh[0] = groups[g];
			w.n[0].conf.ndh = 1;
		} else {
			w.n[1].conf.cookie_threshold = 0;
			w.n[1].conf.dh[0] = 19;
			w.n[1].conf.ndh = 1;
		}
		start(&w);
		up_any(&w);
		T_CHECK_STR(w.n[0].events, "ESTABLISHED CHILD_UP");
		T_CHECK_INT(ike_delete(w.n[0].e, w.n[0].sa), IKE_OK);
		w_run(&w, 100);
		w_free(&w);
	}
}

/* One seed of fuzz_ike_sa: case byte, first payload type, payload chain (the chain is built as
 * outer payloads of a message without SK; its header is dropped). */
static void sa_seed(const char *dir, unsigned n, uint8_t sel, const struct ike_payload *pl,
		    size_t npl)
{
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t *out = NULL;
	size_t len = 0;
	char path[512];
	FILE *f;

	memset(&h, 0, sizeof(h));
	h.version = IKE_VERSION;
	ike_build_init(&b, &h);
	for (size_t k = 0; k < npl; k++)
		ike_build_add(&b, &pl[k]);
	if (ike_build_finish(&b, NULL, &out, &len) != IKE_CODEC_OK)
		return;
	snprintf(path, sizeof(path), "%s/seed-%02u", dir, n);
	f = fopen(path, "wb");
	if (f) {
		fputc(sel, f);
		fputc(out[16], f);
		fwrite(out + 28, 1, len - 28, f);
		fclose(f);
	}
	free(out);
}

/* With IKE_SA_SEED_DIR set, writes the seeds of fuzz_ike_sa: the payload chains of real
 * IKE_AUTH, INFORMATIONAL and CREATE_CHILD_SA messages and of their answers. */
static void test_fuzz_sa_seeds(void)
{
	const char *dir = getenv("IKE_SA_SEED_DIR");
	struct ike_conf c;
	struct ike_proposal esp, ike;
	struct ike_ts ti, tr;
	struct oe_sel sel;
	struct ike_payload p[8];
	uint8_t nonce[32], ke[32], auth[64], spi4[4] = { 1, 2, 3, 4 }, id[4] = { 192, 0, 2, 1 };
	uint8_t spi8[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };

	if (!dir)
		return;
	ike_conf_default(&c);
	ike_prop_esp(&c, &esp, 0x01020304);
	ike_prop_ike(&c, &ike, spi8);
	memset(&sel, 0, sizeof(sel));
	oe_addr_parse(&sel.src.addr, "192.0.2.1", 9);
	oe_addr_parse(&sel.dst.addr, "192.0.2.2", 9);
	sel.src.len = sel.dst.len = 32;
	child_ts_of_sel(&sel, &ti, &tr, true);
	memset(nonce, 7, sizeof(nonce));
	memset(ke, 5, sizeof(ke));
	memset(auth, 3, sizeof(auth));
	memset(p, 0, sizeof(p));
	p[0].type = IKE_PL_IDI;
	p[0].u.id = (struct ike_id_pl){ IKE_ID_IPV4_ADDR, id, 4 };
	p[1].type = IKE_PL_AUTH;
	p[1].u.auth = (struct ike_auth_pl){ IKE_AUTH_DIGITAL_SIG, auth, sizeof(auth) };
	p[2].type = IKE_PL_SA;
	p[2].u.sa = (struct ike_sa_pl){ &esp, 1 };
	p[3].type = IKE_PL_TSI;
	p[3].u.ts = (struct ike_ts_pl){ &ti, 1 };
	p[4].type = IKE_PL_TSR;
	p[4].u.ts = (struct ike_ts_pl){ &tr, 1 };
	sa_seed(dir, 0, 0, p, 5); /* IKE_AUTH request */
	p[1].u.auth.method = IKE_AUTH_NULL;
	sa_seed(dir, 1, 0, p, 5);
	p[0].type = IKE_PL_IDR;
	sa_seed(dir, 2, 3, p + 2, 3); /* Child SA rekey answer without nonce */
	p[5].type = IKE_PL_NONCE;
	p[5].u.nonce = (struct ike_bytes){ nonce, sizeof(nonce) };
	p[6] = p[2];
	p[7] = p[3];
	{
		struct ike_payload q[5] = { p[5], p[2], p[3], p[4] };

		q[4].type = IKE_PL_NOTIFY;
		q[4].u.n = (struct ike_notify_pl){ IKE_PROTO_ESP, 4, { 1, 2, 3, 4 },
						   IKE_N_REKEY_SA, NULL, 0 };
		sa_seed(dir, 3, 2, q, 5); /* Child SA rekey request */
		sa_seed(dir, 4, 3, q, 4); /* its answer */
		q[1].u.sa = (struct ike_sa_pl){ &ike, 1 };
		q[2].type = IKE_PL_KE;
		q[2].u.ke = (struct ike_ke_pl){ IKE_DH_CURVE25519, ke, sizeof(ke) };
		sa_seed(dir, 5, 2, q, 3); /* IKE SA rekey request */
		sa_seed(dir, 6, 4, q, 3); /* its answer */
		q[0].type = IKE_PL_DELETE;
		q[0].u.d = (struct ike_delete_pl){ IKE_PROTO_ESP, 4, 1, spi4 };
		sa_seed(dir, 7, 1, q, 1); /* delete of a Child SA */
		q[0].u.d = (struct ike_delete_pl){ IKE_PROTO_IKE, 0, 0, NULL };
		sa_seed(dir, 8, 1, q, 1); /* delete of the IKE SA */
		sa_seed(dir, 9, 5, q, 1);
		q[0].type = IKE_PL_NOTIFY;
		q[0].u.n = (struct ike_notify_pl){ 0, 0, { 0 }, IKE_N_AUTHENTICATION_FAILED, NULL,
						   0 };
		sa_seed(dir, 10, 1, q, 1);
	}
	{
		/* a Child SA rekey with PFS (§1.3.1): X25519 offered, KE carried */
		struct ike_payload q[6] = { p[5], p[2], p[5], p[3], p[4] };
		struct ike_proposal pfs = esp;

		ike_prop_add_dh(&pfs, IKE_DH_CURVE25519);
		q[1].u.sa = (struct ike_sa_pl){ &pfs, 1 };
		q[2].type = IKE_PL_KE;
		q[2].u.ke = (struct ike_ke_pl){ IKE_DH_CURVE25519, ke, sizeof(ke) };
		q[5].type = IKE_PL_NOTIFY;
		q[5].u.n = (struct ike_notify_pl){ IKE_PROTO_ESP, 4, { 1, 2, 3, 4 },
						   IKE_N_REKEY_SA, NULL, 0 };
		sa_seed(dir, 11, 2, q, 6); /* request */
		sa_seed(dir, 12, 3, q, 5); /* its answer */
	}
}

int main(void)
{
	if (!getenv("IKE_TEST_LOG"))
		oe_log_set_level(OE_LOG_WARN);
	dk_hostkey_generate(DK_KT_RSA, 2048, &k_rsa);
	dk_hostkey_generate(DK_KT_RSA, 2048, &k_rsa2);
	dk_hostkey_generate(DK_KT_ECDSA_P256, 0, &k_ec);
	dk_hostkey_generate(DK_KT_ED25519, 0, &k_ed);
	T_RUN(test_rsa_pss);
	T_RUN(test_rsa_method1);
	T_RUN(test_ecdsa_p256);
	T_RUN(test_ed25519);
	T_RUN(test_auth_null_initiator);
	T_RUN(test_dh31);
	T_RUN(test_dh19);
	T_RUN(test_dh14);
	T_RUN(test_wrong_key_at_responder);
	T_RUN(test_wrong_key_at_initiator);
	T_RUN(test_no_key_in_dns);
	T_RUN(test_no_common_proposal);
	T_RUN(test_esn_negotiation);
	T_RUN(test_invalid_ke_retry);
	T_RUN(test_invalid_ke_unacceptable);
	T_RUN(test_cookie);
	T_RUN(test_cookie_lost);
	T_RUN(test_lost_and_duplicated);
	T_RUN(test_retransmit_give_up);
	T_RUN(test_refuse_clear_and_block);
	T_RUN(test_async_lookup);
	T_RUN(test_lookup_timeout);
	T_RUN(test_delete_ike);
	T_RUN(test_delete_by_responder);
	T_RUN(test_liveness);
	T_RUN(test_initial_contact);
	T_RUN(test_transport_mode);
	T_RUN(test_delegated_gateway);
	T_RUN(test_delegated_gateway_not_named);
	T_RUN(test_delegation_anonymous);
	T_RUN(test_ts_narrowing);
	T_RUN(test_rekey_child);
	T_RUN(test_rekey_child_by_lifetime);
	T_RUN(test_rekey_child_simultaneous);
	T_RUN(test_rekey_child_crossing_late);
	T_RUN(test_rekey_ike);
	T_RUN(test_rekey_ike_simultaneous);
	T_RUN(test_rekey_ike_by_lifetime);
	T_RUN(test_cp_request_refused);
	T_RUN(test_status_listing);
	T_RUN(test_rekey_unanswered);
	T_RUN(test_ipv6);
	T_RUN(test_nat_detected);
	T_RUN(test_no_nat);
	T_RUN(test_fqdn_ids);
	T_RUN(test_fqdn_not_named);
	T_RUN(test_kernel_refuses);
	T_RUN(test_fuzz_seeds);
	T_RUN(test_fuzz_sa_seeds);
	EVP_PKEY_free(k_rsa);
	EVP_PKEY_free(k_rsa2);
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_ed);
	return t_done();
}
