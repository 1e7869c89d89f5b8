/* NAT traversal in the IKE engine (RFC 7296 §2.23, RFC 3948) between two engines in one
 * process (tests/unit/ike_world.h, whose NAT rewrites the source port of I: 500 -> 1024 and
 * 4500 -> 1025): the initiator's float to the NAT-T port, the responder following the NAT's
 * mapping, UDP encapsulation of the Child SAs, encapsulation=yes (faked NAT detection) and
 * =no, and NAT keepalives (only from behind the NAT, only when nothing else was sent). */
#include "ike_world_t.h"
#include "oe_log.h"

static EVP_PKEY *k_i, *k_r;

static void sa_of(struct w_node *n, struct ike_sa_info *out)
{
	T_CHECK(ike_sa_at(n->e, 0, out));
}

/* Both Child SAs of the pair encapsulated (or not) with these ports. */
static void check_encap(struct w_node *i, struct w_node *r, bool udp, uint16_t r_dport)
{
	const struct kern_child_sa *a = kern_mock_at(i->km, 0), *b = kern_mock_at(r->km, 0);

	T_CHECK(a && b);
	if (!a || !b)
		return;
	T_CHECK_INT(a->encap, udp ? KERN_ENCAP_UDP : KERN_ENCAP_NONE);
	T_CHECK_INT(b->encap, udp ? KERN_ENCAP_UDP : KERN_ENCAP_NONE);
	if (!udp)
		return;
	T_CHECK_INT(a->encap_sport, IKE_NATT_PORT);
	T_CHECK_INT(a->encap_dport, IKE_NATT_PORT);
	T_CHECK_INT(b->encap_sport, IKE_NATT_PORT);
	T_CHECK_INT(b->encap_dport, r_dport);
}

static void up(struct w_world *w)
{
	T_CHECK_INT(w_initiate(&w->n[0], &w->n[1]), IKE_OK);
	w_run(w, 100);
	handshake_transcript(w);
	T_CHECK_STR(w->n[0].events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(w->n[1].events, "ESTABLISHED CHILD_UP");
}

/* I behind a NAT: IKE_AUTH and later go between 4500s (I's NAT maps its 4500 to 1025), R
 * answers where the NAT's mapping is, and both Child SAs carry ESP in UDP. */
static void test_float(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si, sr;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	i->nat_port = 1024;
	start(&w);
	up(&w);
	sa_of(i, &si);
	sa_of(r, &sr);
	T_CHECK_INT(si.local.port, IKE_NATT_PORT);
	T_CHECK_INT(si.remote.port, IKE_NATT_PORT);
	T_CHECK_INT(sr.local.port, IKE_NATT_PORT);
	T_CHECK_INT(sr.remote.port, 1025);
	check_encap(i, r, true, 1025);
	check_pair(i, r);
	/* later exchanges stay there: a Child SA rekey from either side */
	T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD resp 2");
	sa_of(r, &sr);
	T_CHECK_INT(sr.remote.port, 1025);
	T_CHECK_INT(kern_mock_at(r->km, 0)->encap_dport, 1025);
	w_free(&w);
}

/* The NAT gives I a new mapping (it restarted): R follows I's next message there and rekeys
 * the Child SA, whose successor sends to the new port. */
static void test_new_mapping(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info sr;
	uint32_t old_spi;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	i->nat_port = 1024;
	i->conf.liveness_ms = 1000;
	start(&w);
	up(&w);
	old_spi = kern_mock_at(r->km, 0)->spi_in;
	i->nat_port = 3000; /* from now on I's 4500 shows up as 3001 */
	w_run(&w, 1100);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT(&w, "R>I CHILD req 0");
	W_EXPECT(&w, "I>R CHILD resp 0");
	W_EXPECT(&w, "R>I INFO req 1"); /* the old Child SA's DELETE */
	W_EXPECT(&w, "I>R INFO resp 1");
	sa_of(r, &sr);
	T_CHECK_INT(sr.remote.port, 3001);
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	T_CHECK(kern_mock_at(r->km, 0) && kern_mock_at(r->km, 0)->spi_in != old_spi);
	T_CHECK(kern_mock_at(r->km, 0) && kern_mock_at(r->km, 0)->encap_dport == 3001);
	check_pair(i, r);
	w_free(&w);
}

/* An old message of I (its IKE_AUTH request, a valid ICV) replayed from another port after
 * later exchanges does not move R (RFC 7296 §2.23: only new authenticated messages count). */
static void test_replay_does_not_move(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info sr;
	struct ike_endpoint from, to;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	i->nat_port = 1024;
	i->conf.liveness_ms = 1000;
	start(&w);
	keep(&w, 2); /* I's IKE_AUTH request */
	up(&w);
	w_run(&w, 1100);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	T_CHECK(kept != NULL);
	from = (struct ike_endpoint){ i->ep.addr, 6666 };
	to = (struct ike_endpoint){ r->ep.addr, IKE_NATT_PORT };
	if (kept)
		ike_receive(r->e, kept, kept_len, &from, &to);
	sa_of(r, &sr);
	T_CHECK_INT(sr.remote.port, 1025);
	free(kept);
	kept = NULL;
	w_free(&w);
}

/* No NAT: nothing floats, raw ESP (the default stays as it was). */
static void test_no_nat_no_float(void)
{
	struct w_world w;
	struct ike_sa_info si, sr;

	setup(&w, k_i, k_r);
	start(&w);
	up(&w);
	sa_of(&w.n[0], &si);
	sa_of(&w.n[1], &sr);
	T_CHECK_INT(si.local.port, IKE_PORT);
	T_CHECK_INT(si.remote.port, IKE_PORT);
	T_CHECK_INT(sr.local.port, IKE_PORT);
	check_encap(&w.n[0], &w.n[1], false, 0);
	w_free(&w);
}

/* encapsulation=yes on one end, no NAT: its faked NAT_DETECTION_SOURCE_IP makes both ends
 * float and encapsulate, whichever end it is. */
static void encap_yes(bool on_initiator)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si, sr;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	(on_initiator ? i : r)->conf.encap = IKE_ENCAP_YES;
	start(&w);
	up(&w);
	sa_of(i, &si);
	sa_of(r, &sr);
	T_CHECK_INT(si.local.port, IKE_NATT_PORT);
	T_CHECK_INT(si.remote.port, IKE_NATT_PORT);
	T_CHECK_INT(sr.local.port, IKE_NATT_PORT);
	T_CHECK_INT(sr.remote.port, IKE_NATT_PORT);
	check_encap(i, r, true, IKE_NATT_PORT);
	/* no real NAT in front of anyone: no keepalives */
	w_run(&w, 60000);
	T_CHECK_INT(i->keepalives + r->keepalives, 0);
	w_free(&w);
}

static void test_encap_yes_initiator(void)
{
	encap_yes(true);
}

static void test_encap_yes_responder(void)
{
	encap_yes(false);
}

/* encapsulation=no behind a NAT: no NAT detection, no float, raw ESP (which this NAT would
 * not pass; the admin asked for it). */
static void test_encap_no(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	i->nat_port = 1024;
	i->conf.encap = IKE_ENCAP_NO;
	start(&w);
	up(&w);
	sa_of(i, &si);
	T_CHECK_INT(si.local.port, IKE_PORT);
	T_CHECK_INT(si.remote.port, IKE_PORT);
	check_encap(i, r, false, 0);
	w_run(&w, 60000);
	T_CHECK_INT(i->keepalives, 0);
	w_free(&w);
}

/* I forces encapsulation, R (encapsulation=no) reads no NAT detection: I floats anyway and R
 * answers from the port the request came to, to the port it came from (§2.11, §2.23). The
 * Child SAs then disagree (UDP on I, raw ESP on R): what the two configurations ask for. */
static void test_peer_floats_alone(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info sr;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.encap = IKE_ENCAP_YES;
	r->conf.encap = IKE_ENCAP_NO;
	start(&w);
	up(&w);
	sa_of(r, &sr);
	T_CHECK_INT(sr.local.port, IKE_NATT_PORT);
	T_CHECK_INT(sr.remote.port, IKE_NATT_PORT);
	T_CHECK_INT(kern_mock_at(i->km, 0)->encap, KERN_ENCAP_UDP);
	T_CHECK_INT(kern_mock_at(r->km, 0)->encap, KERN_ENCAP_NONE);
	w_free(&w);
}

/* Behind the NAT, I sends a keepalive every keep-alive seconds of silence towards R; ESP it
 * sends counts as traffic (no keepalive then); R, not behind a NAT, never sends one. */
static void test_keepalive(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct kern_sa_counters ctr = { 0 };
	uint32_t spi;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	r = &w.n[1];
	i->nat_port = 1024;
	i->conf.keepalive_s = r->conf.keepalive_s = 5;
	i->conf.liveness_ms = r->conf.liveness_ms = 0;
	start(&w);
	up(&w);
	w_run(&w, 4900);
	W_EXPECT_END(&w);
	w_run(&w, 200); /* 5 s after IKE_AUTH */
	W_EXPECT(&w, "I>R keepalive");
	W_EXPECT_END(&w);
	w_run(&w, 5000);
	W_EXPECT(&w, "I>R keepalive");
	/* outbound ESP in the next intervals: the NAT mapping is kept by it, no keepalive */
	spi = kern_mock_at(i->km, 0)->spi_in;
	for (int k = 1; k <= 3; k++) {
		ctr.packets_out = (uint64_t)k;
		kern_mock_set_counters(i->km, spi, &ctr);
		w_run(&w, 5000);
	}
	W_EXPECT_END(&w);
	/* silence again: keepalives resume within two intervals */
	w_run(&w, 10000);
	W_EXPECT(&w, "I>R keepalive");
	T_CHECK_INT(r->keepalives, 0);
	T_CHECK(i->keepalives >= 3);
	{
		struct ike_stats st;

		ike_stats_get(i->e, &st);
		T_CHECK_INT(st.keepalives, i->keepalives);
	}
	w_free(&w);
}

/* keep-alive=0: none at all. */
static void test_keepalive_off(void)
{
	struct w_world w;
	struct w_node *i;

	setup(&w, k_i, k_r);
	i = &w.n[0];
	i->nat_port = 1024;
	i->conf.keepalive_s = 0;
	start(&w);
	up(&w);
	w_run(&w, 120000);
	T_CHECK_INT(i->keepalives, 0);
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
	T_RUN(test_float);
	T_RUN(test_new_mapping);
	T_RUN(test_replay_does_not_move);
	T_RUN(test_no_nat_no_float);
	T_RUN(test_encap_yes_initiator);
	T_RUN(test_encap_yes_responder);
	T_RUN(test_encap_no);
	T_RUN(test_peer_floats_alone);
	T_RUN(test_keepalive);
	T_RUN(test_keepalive_off);
	EVP_PKEY_free(k_i);
	EVP_PKEY_free(k_r);
	return t_done();
}
