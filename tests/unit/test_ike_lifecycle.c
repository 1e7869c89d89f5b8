/* IKEv2 exchanges at the edges of an SA's life, as transcripts on tests/unit/ike_world.h in
 * virtual time: late retransmits, hard lifetimes, refused selectors and narrowing, V payloads,
 * Child SA rekeys with PFS, INVALID_IKE_SPI, AES-128/SHA2-512, message-ID windows. Each
 * section cites the RFC 7296 rule it checks. */
#include "ike_world_t.h"
#include "oe_log.h"

static EVP_PKEY *k_ec, *k_ed;

/* ---- IKE_SA_INIT retransmitted late (§2.1) ------------------------------------------------ */

static void test_late_init_retransmit(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_stats st0, st1;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	keep(&w, 0); /* I's IKE_SA_INIT request */
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	T_CHECK(kept != NULL);
	if (!kept)
		goto out;
	/* the copy arrives again after IKE_AUTH: a retransmission of an exchange long done;
	 * neither answered (the answer is stale) nor the start of a second, half-open SA */
	ike_stats_get(r->e, &st0);
	w_enqueue(&w, &i->ep, &r->ep, kept, kept_len, w.now + 1, 99);
	w_run(&w, 100);
	W_EXPECT_END(&w);
	ike_stats_get(r->e, &st1);
	T_CHECK_INT(ike_sa_count(r->e), 1);
	T_CHECK_INT(st1.dropped, st0.dropped + 1);
	T_CHECK_INT(st1.sent, st0.sent);
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	/* still the one SA: it answers requests as before */
	T_CHECK_INT(ike_delete(i->e, i->sa), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	T_CHECK_INT(ike_sa_count(r->e), 0);
out:
	free(kept);
	w_free(&w);
}

/* A retransmission while the SA is half-open is answered with the cached response. */
static void test_init_retransmit_half_open(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	w.dup = 1ull << 0; /* I's IKE_SA_INIT arrives twice */
	w.drop = 1ull << 2; /* the first answer to it is lost */
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0 (twice)");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0 (dropped)");
	W_EXPECT(&w, "I>R AUTH req 1");
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT_END(&w);
	T_CHECK_INT(ike_sa_count(r->e), 1);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	w_free(&w);
}

/* ---- hard lifetime (§1.4.1, §2.8) --------------------------------------------------------- */

static void no_rekey(struct ike_engine *e, uint64_t handle)
{
	struct ike_sa *sa = ike_sa_by_handle(e, handle);

	T_CHECK(sa && sa->children);
	for (struct child_sa *c = sa ? sa->children : NULL; c; c = c->next)
		c->rekey_at = 0;
}

static void test_hard_lifetime(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si;
	struct ike_stats st;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.child_lifetime_s = 60;
	r->conf.child_lifetime_s = 600; /* I's runs out first */
	i->conf.liveness_ms = r->conf.liveness_ms = 0;
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	T_CHECK_INT(kern_mock_at(i->km, 0)->life.hard_s, 60);
	/* a rekey that never happens (as if every attempt had failed) */
	no_rekey(i->e, i->sa);
	T_CHECK(ike_sa_at(r->e, 0, &si));
	no_rekey(r->e, si.handle);
	w_run(&w, 59 * 1000);
	W_EXPECT_END(&w);
	T_CHECK_INT(kern_mock_installed(i->km), 1);
	w_run(&w, 2 * 1000);
	/* gone from I's kernel at the hard limit whatever R thinks; R is told and removes its
	 * half too, answering with the SPI of its own (§1.4.1) */
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	T_CHECK_INT(kern_mock_calls(i->km, KERN_MOCK_REMOVE), 1);
	T_CHECK_INT(kern_mock_calls(r->km, KERN_MOCK_REMOVE), 1);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN");
	/* the IKE SA stays, without Child SAs */
	T_CHECK(ike_sa_get(i->e, i->sa, &si));
	T_CHECK_INT(si.nchild, 0);
	T_CHECK_INT(ike_sa_count(r->e), 1);
	ike_stats_get(i->e, &st);
	T_CHECK_INT(st.child_removed, 1);
	w_free(&w);
}

/* ---- TS_UNACCEPTABLE (§2.9) --------------------------------------------------------------- */

static void test_ts_unacceptable(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si;
	struct oe_sel s;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.hostkey = NULL; /* AUTH_NULL (RFC 7619) */
	start(&w);
	/* anonymous I asks for a Child SA for traffic of another host (198.51.100.7): AUTH_NULL
	 * may speak only for its own address, so R cannot accept the selectors */
	s = w_sel(i, r);
	oe_addr_parse(&s.src.addr, "198.51.100.7", 12);
	T_CHECK_INT(ike_initiate(i->e, &i->ep, &r->ep, NULL, &s, &i->sa), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	/* the IKE SA is authenticated both ways; the Child SA refused (§1.2: IKE SA kept) */
	T_CHECK_STR(i->events, "ESTABLISHED");
	T_CHECK_STR(r->events, "ESTABLISHED");
	T_CHECK(ike_sa_get(i->e, i->sa, &si));
	T_CHECK_INT(si.nchild, 0);
	T_CHECK_INT(si.last_error, IKE_ERR_TS_UNACCEPTABLE);
	T_CHECK(ike_sa_at(r->e, 0, &si));
	T_CHECK_INT(si.last_error, IKE_ERR_TS_UNACCEPTABLE);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	w_free(&w);
}

/* ---- Vendor ID payloads (§3.12) ----------------------------------------------------------- */

/* Two V payloads around the inner payloads of I's IKE_AUTH (first and last). */
static void add_vendor(struct ike_builder *b, const struct ike_payload *p, void *arg)
{
	bool *first = arg;
	struct ike_payload v;

	memset(&v, 0, sizeof(v));
	v.type = IKE_PL_VENDOR;
	v.u.raw.data = (const uint8_t *)"strongSwan-ish vendor id";
	v.u.raw.len = 24;
	if (*first || !p)
		ike_build_add(b, &v);
	*first = false;
	if (p)
		ike_build_add(b, p);
}

static void test_vendor_ignored(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	keep(&w, 2); /* I's IKE_AUTH request */
	w.drop = 1ull << 2;
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	resend_kept(&w, i, r, add_vendor, &(bool){ true });
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1 (dropped)");
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	T_CHECK_INT(kern_mock_installed(i->km), 1);
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	free(kept);
	w_free(&w);
}

/* ---- Child SA rekey with PFS (§1.3.1) ----------------------------------------------------- */

/* The group of the KE payload in the kept datagram (0: none). */
static unsigned kept_ke_group(struct w_node *i)
{
	struct ike_msg *m = open_kept(i);
	const struct ike_payload *ke = m ? ike_msg_find(m, IKE_PL_KE, NULL) : NULL;
	unsigned g = ke ? ke->u.ke.group : 0;

	ike_msg_free(m);
	free(kept);
	kept = NULL;
	return g;
}

static void test_rekey_child_pfs(void)
{
	for (int by_r = 0; by_r < 2; by_r++) {
		struct w_world w;
		struct w_node *i, *r, *x;
		uint32_t old_spi;

		setup(&w, k_ec, k_ed);
		i = &w.n[0];
		r = &w.n[1];
		x = by_r ? r : i; /* the end that rekeys, with PFS; the other accepts it */
		x->conf.child_pfs = true;
		start(&w);
		T_CHECK_INT(w_initiate(i, r), IKE_OK);
		w_run(&w, 100);
		handshake_transcript(&w);
		old_spi = kern_mock_at(i->km, 0)->spi_in;
		keep(&w, 0); /* the CREATE_CHILD_SA request */
		T_CHECK_INT(by_r ? ike_rekey_child(r->e, r_handle(r)) : ike_rekey_child(i->e, i->sa),
			    IKE_OK);
		w_run(&w, 100);
		W_EXPECT(&w, by_r ? "R>I CHILD req 0" : "I>R CHILD req 2");
		W_EXPECT(&w, by_r ? "I>R CHILD resp 0" : "R>I CHILD resp 2");
		W_EXPECT(&w, by_r ? "R>I INFO req 1" : "I>R INFO req 3");
		W_EXPECT(&w, by_r ? "I>R INFO resp 1" : "R>I INFO resp 3");
		W_EXPECT_END(&w);
		T_CHECK_INT(kept_ke_group(i), IKE_DH_CURVE25519); /* KEi of the IKE SA's group */
		T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_UP CHILD_DOWN");
		T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_UP CHILD_DOWN");
		T_CHECK(kern_mock_at(i->km, 0) && kern_mock_at(i->km, 0)->spi_in != old_spi);
		check_pair(i, r); /* both ends derived the same keys from the new g^ir */
		/* and the answer carried KEr */
		keep(&w, 1); /* the answer to a second rekey */
		T_CHECK_INT(by_r ? ike_rekey_child(r->e, r_handle(r)) : ike_rekey_child(i->e, i->sa),
			    IKE_OK);
		w_run(&w, 100);
		T_CHECK_INT(kept_ke_group(i), IKE_DH_CURVE25519);
		check_pair(i, r);
		w_free(&w);
	}
}

/* The SA payload of I's CREATE_CHILD_SA request offering only group *arg (the KE stays). */
static void offer_group(struct ike_builder *b, const struct ike_payload *p, void *arg)
{
	struct ike_payload q;
	struct ike_proposal prop;

	if (!p)
		return;
	q = *p;
	if (p->type == IKE_PL_SA) {
		prop = p->u.sa.prop[0];
		for (size_t t = 0; t < prop.n_xf; t++)
			if (prop.xf[t].type == IKE_XF_DH)
				prop.xf[t].id = *(const uint16_t *)arg;
		q.u.sa.prop = &prop;
		q.u.sa.n_prop = 1;
	}
	ike_build_add(b, &q);
}

/* R asks for P-256 (the request rewritten in flight to offer it, KE still X25519). If P-256 is
 * one of I's groups, I tries again at once with it (§1.3); if not, later as before. */
static void pfs_invalid_ke(bool i_has_p256)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa_info si;
	struct ike_sa *sa;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.child_pfs = true;
	if (!i_has_p256)
		i->conf.ndh = 1; /* X25519 only */
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	keep(&w, 0);
	w.drop = 1ull << 4; /* I's request, rewritten */
	T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
	w_run(&w, 1);
	resend_kept(&w, i, r, offer_group, &(uint16_t){ IKE_DH_ECP256 });
	keep(&w, 0); /* R's answer */
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 2 (dropped)");
	W_EXPECT(&w, "R>I CHILD resp 2");
	{
		struct ike_msg *m = open_kept(i);
		const struct ike_payload *n = m ? ike_msg_find(m, IKE_PL_NOTIFY, NULL) : NULL;

		T_CHECK(n && n->u.n.type == IKE_N_INVALID_KE_PAYLOAD && n->u.n.len == 2 &&
			n->u.n.data[0] == 0 && n->u.n.data[1] == IKE_DH_ECP256);
		ike_msg_free(m);
		free(kept);
		kept = NULL;
	}
	w.capture = NULL;
	if (!i_has_p256) {
		/* nothing changed: the old Child SA stays on both ends; I tries again later */
		W_EXPECT_END(&w);
		T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
		T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
		T_CHECK(ike_sa_get(i->e, i->sa, &si));
		T_CHECK_INT(si.nchild, 1);
		check_pair(i, r);
		w_run(&w, 11 * 1000);
	}
	W_EXPECT(&w, "I>R CHILD req 3");
	W_EXPECT(&w, "R>I CHILD resp 3");
	W_EXPECT(&w, "I>R INFO req 4");
	W_EXPECT(&w, "R>I INFO resp 4");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_UP CHILD_DOWN");
	check_pair(i, r);
	sa = ike_sa_by_handle(i->e, i->sa);
	T_CHECK(sa && sa->pfs_group == (i_has_p256 ? IKE_DH_ECP256 : 0));
	w_free(&w);
}

static void test_rekey_child_pfs_invalid_ke(void)
{
	pfs_invalid_ke(true);
	pfs_invalid_ke(false);
}

/* ---- INVALID_IKE_SPI (§1.5, §2.21.4) ------------------------------------------------------ */

static void test_invalid_ike_spi(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_stats si, sr;
	unsigned answers = 0;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	/* R restarts and forgets the SA; I's next liveness check reaches a stranger, which says
	 * so without protection; I cannot trust that alone (anyone could send it) and keeps
	 * checking, but without backoff: 5 retransmissions 0.5 s apart, each answered the same
	 * way, then I gives up after 3 s instead of 31.5 s */
	w_stop(r);
	T_CHECK_INT(w_start(r), 0);
	keep(&w, 0);
	w_run(&w, 30 * 1000 + 100);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2 N(INVALID_IKE_SPI)");
	W_EXPECT_END(&w);
	ike_stats_get(i->e, &si);
	ike_stats_get(r->e, &sr);
	T_CHECK_INT(sr.invalid_spi_sent, 1);
	T_CHECK_INT(si.dropped, 0);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	w_run(&w, 2800);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	for (int k = 0; k < 5; k++) {
		W_EXPECT(&w, "I>R INFO req 2");
		W_EXPECT(&w, "R>I INFO resp 2 N(INVALID_IKE_SPI)");
	}
	W_EXPECT_END(&w);
	w_run(&w, 300);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:liveness");
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	/* a flood of such requests in one second gets 10 answers */
	T_CHECK(kept != NULL);
	if (kept) {
		w.capture = NULL;
		w_stop(i); /* no retransmissions of I's own in the count (I shows as ?) */
		w_run(&w, 1000 - w.now % 1000); /* at the start of a second */
		w.rd = w.nlines;
		ike_stats_get(r->e, &sr);
		for (int k = 0; k < 15; k++)
			w_enqueue(&w, &i->ep, &r->ep, kept, kept_len, w.now + 1, 99);
		w_run(&w, 10);
		while (w.rd < w.nlines)
			answers += strcmp(w.lines[w.rd++], "R>? INFO resp 2 N(INVALID_IKE_SPI)") == 0;
		T_CHECK_INT(answers, 10);
		ike_stats_get(r->e, &si); /* R's again */
		T_CHECK_INT(si.invalid_spi_sent - sr.invalid_spi_sent, 10);
	}
	free(kept);
	kept = NULL;
	w_free(&w);
}

/* An unprotected INVALID_IKE_SPI answer to the request in kept, as a stranger (or a forger)
 * sends it; *len gets its length (0 on failure). */
static uint8_t *forged_invalid_spi(size_t *len)
{
	struct ike_msg *m = NULL;
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t *out = NULL;

	*len = 0;
	if (!kept || ike_msg_parse(kept, kept_len, &m) != IKE_CODEC_OK)
		return NULL;
	h = m->hdr;
	h.flags = IKE_FLAG_R;
	ike_build_init(&b, &h);
	ike_build_notify(&b, IKE_N_INVALID_IKE_SPI, NULL, 0);
	if (ike_build_finish(&b, NULL, &out, len) != IKE_CODEC_OK)
		ike_build_free(&b);
	ike_msg_free(m);
	return out;
}

/* A forged INVALID_IKE_SPI while the peer is alive (§2.21.4): it only hastens I's
 * retransmission, and R's authenticated answer to that keeps the SA. */
static void test_invalid_ike_spi_forged(void)
{
	struct w_world w;
	struct w_node *i, *r;
	uint8_t *forged;
	size_t n = 0;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	r->conf.liveness_ms = 0; /* only I checks */
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	keep(&w, 0);
	w.drop = 1ull << 5; /* R's answer to the liveness check is lost */
	w_run(&w, 30 * 1000 + 10);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2 (dropped)");
	forged = forged_invalid_spi(&n);
	T_CHECK(forged && n > 0);
	if (forged)
		w_enqueue(&w, &r->ep, &i->ep, forged, n, w.now + 1, 99);
	free(forged);
	w_run(&w, 600); /* R answers the retransmission, authenticated */
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	w_run(&w, 10 * 1000);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_INT(kern_mock_installed(i->km), 1);
	check_pair(i, r);
	free(kept);
	kept = NULL;
	w.capture = NULL;
	w_free(&w);
}

/* The DH transform of an ESP proposal: IKE_AUTH (no KE) needs NONE allowed; CREATE_CHILD_SA
 * takes one of our groups, else NONE; a group we lack alone is no proposal. */
static void test_esp_dh_choice(void)
{
	struct ike_conf c;
	struct ike_proposal p, chosen;
	struct ike_sa_pl offer = { &p, 1 };
	uint16_t bits = 0, dh = 99;
	uint32_t spi = 0;
	bool esn = false;

	ike_conf_default(&c);
	ike_prop_esp(&c, &p, 0x01020304);
	T_CHECK(ike_prop_select_esp(&c, &offer, &chosen, &bits, &esn, &spi, &dh));
	T_CHECK_INT(dh, 0); /* no DH transform: no PFS */
	ike_prop_add_dh(&p, IKE_DH_ECP256);
	T_CHECK(!ike_prop_select_esp(&c, &offer, &chosen, &bits, &esn, &spi, NULL));
	T_CHECK(ike_prop_select_esp(&c, &offer, &chosen, &bits, &esn, &spi, &dh));
	T_CHECK_INT(dh, IKE_DH_ECP256);
	T_CHECK_INT(chosen.n_xf, 3); /* ENCR, ESN, DH */
	chosen.spi[3] = 7; /* as the responder fills it in */
	T_CHECK(ike_prop_check_esp(&c, &(struct ike_sa_pl){ &chosen, 1 }, &bits, &esn, &spi, &dh));
	T_CHECK_INT(dh, IKE_DH_ECP256);
	ike_prop_add_dh(&p, IKE_DH_NONE);
	T_CHECK(ike_prop_select_esp(&c, &offer, &chosen, &bits, &esn, &spi, NULL));
	ike_prop_esp(&c, &p, 0x01020304);
	ike_prop_add_dh(&p, 2); /* MODP-1024: not ours */
	T_CHECK(!ike_prop_select_esp(&c, &offer, &chosen, &bits, &esn, &spi, &dh));
}

/* ---- AES-GCM-16/128 and PRF-HMAC-SHA2-512 (§3.3.2) ---------------------------------------- */

static void test_aes128_sha512(void)
{
	for (int side = 0; side < 2; side++) {
		struct w_world w;
		struct w_node *i, *r, *x;
		struct ike_sa_info si, sr;

		setup(&w, k_ec, k_ed);
		i = &w.n[0];
		r = &w.n[1];
		x = side ? r : i; /* the one that only takes these; the other has the defaults */
		x->conf.encr_bits[0] = 128;
		x->conf.nencr = 1;
		x->conf.prf[0] = IKE_PRF_HMAC_SHA2_512;
		x->conf.nprf = 1;
		start(&w);
		T_CHECK_INT(w_initiate(i, r), IKE_OK);
		w_run(&w, 100);
		handshake_transcript(&w);
		T_CHECK(ike_sa_get(i->e, i->sa, &si));
		T_CHECK(ike_sa_at(r->e, 0, &sr));
		T_CHECK_INT(si.encr_bits, 128);
		T_CHECK_INT(sr.encr_bits, 128);
		T_CHECK_INT(si.prf, IKE_PRF_HMAC_SHA2_512);
		T_CHECK_INT(sr.prf, IKE_PRF_HMAC_SHA2_512);
		check_pair(i, r);
		T_CHECK_INT(kern_mock_at(i->km, 0)->key_len, 16);
		/* the Child SA and then the IKE SA rekeyed with them (SK_d of 64 octets) */
		T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
		w_run(&w, 100);
		check_pair(i, r);
		T_CHECK_INT(ike_rekey_ike(i->e, i->sa), IKE_OK);
		w_run(&w, 100);
		T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
		w_run(&w, 100);
		check_pair(i, r);
		T_CHECK(ike_sa_get(i->e, i->sa, &si));
		T_CHECK_INT(si.prf, IKE_PRF_HMAC_SHA2_512);
		T_CHECK_INT(ike_sa_count(i->e), 1);
		T_CHECK_INT(ike_sa_count(r->e), 1);
		T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_UP CHILD_DOWN CHILD_UP CHILD_DOWN");
		w_free(&w);
	}
}

/* ---- message IDs and the window of one (§2.1, §2.3) --------------------------------------- */

/* An empty INFORMATIONAL from I to R on I's SA with message ID id, request or answer. */
static void send_info(struct w_world *w, struct w_node *i, struct w_node *r, uint32_t id,
		      bool response)
{
	struct ike_sa *sa = ike_sa_by_handle(i->e, i->sa);
	struct ike_builder b;
	struct ike_hdr h;
	uint8_t *out = NULL;
	size_t len = 0;

	T_CHECK(sa != NULL);
	if (!sa)
		return;
	ike_sa_hdr(sa, &h, IKE_EXCH_INFORMATIONAL, response, id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	T_CHECK_INT(ike_build_finish(&b, &sa->keys.sk_ei, &out, &len), IKE_CODEC_OK);
	w_enqueue(w, &i->ep, &r->ep, out, len, w->now + 1, 99);
	free(out);
}

static void test_msgid_window(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_stats s0, s1;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	/* window of one: a delete asked for while a rekey is out waits for its answer */
	T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
	T_CHECK_INT(ike_delete(i->e, i->sa), IKE_OK);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R CHILD req 2");
	W_EXPECT(&w, "R>I CHILD resp 2");
	W_EXPECT(&w, "I>R INFO req 3"); /* the IKE SA's delete, queued first: the old Child SA
					 * (whose delete the rekey queued after it) goes with it */
	W_EXPECT(&w, "R>I INFO resp 3");
	W_EXPECT_END(&w);
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	w_free(&w);

	/* requests ahead of the window, answers to nothing asked: dropped, unanswered */
	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	ike_stats_get(r->e, &s0);
	send_info(&w, i, r, 3, false); /* R expects 2 */
	send_info(&w, i, r, 0, false); /* long gone, and not the cached one (1) */
	send_info(&w, i, r, 0, true);	/* R asked nothing */
	w_run(&w, 100);
	W_EXPECT_END(&w);
	ike_stats_get(r->e, &s1);
	T_CHECK_INT(s1.dropped - s0.dropped, 3);
	T_CHECK_INT(s1.sent, s0.sent);
	/* the one in the window is answered, and its retransmission from the cache */
	send_info(&w, i, r, 2, false);
	w_run(&w, 100);
	send_info(&w, i, r, 2, false);
	w_run(&w, 100);
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	ike_stats_get(r->e, &s0);
	T_CHECK_INT(s0.resent_responses - s1.resent_responses, 1);
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	w_free(&w);
}

/* ---- narrowing in the exchange (§2.9) ----------------------------------------------------- */

/* I's IKE_AUTH offers wide selectors: TSi its /24 and then the trigger host, TSr anything. */
static void widen_ts(struct ike_builder *b, const struct ike_payload *p, void *arg)
{
	static struct ike_ts tsi[2], tsr[1];
	struct ike_payload q;

	(void)arg;
	if (!p)
		return;
	q = *p;
	if (p->type == IKE_PL_TSI) {
		memset(tsi, 0, sizeof(tsi));
		tsi[0].type = tsi[1].type = IKE_TS_IPV4_ADDR_RANGE;
		oe_addr_parse(&tsi[0].start, "192.0.2.0", 9);
		oe_addr_parse(&tsi[0].end, "192.0.2.255", 11);
		tsi[0].eport = 65535;
		tsi[1] = p->u.ts.ts[0];
		q.u.ts = (struct ike_ts_pl){ tsi, 2 };
	} else if (p->type == IKE_PL_TSR) {
		memset(tsr, 0, sizeof(tsr));
		tsr[0].type = IKE_TS_IPV4_ADDR_RANGE;
		oe_addr_parse(&tsr[0].start, "0.0.0.0", 7);
		oe_addr_parse(&tsr[0].end, "255.255.255.255", 15);
		tsr[0].eport = 65535;
		q.u.ts = (struct ike_ts_pl){ tsr, 1 };
	}
	ike_build_add(b, &q);
}

static void test_narrowing_exchange(void)
{
	struct w_world w;
	struct w_node *i, *r;
	char a[OE_PREFIXSTRLEN];

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	keep(&w, 2); /* I's IKE_AUTH request */
	w.drop = 1ull << 2;
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	resend_kept(&w, i, r, widen_ts, NULL);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R SA_INIT req 0");
	W_EXPECT(&w, "R>I SA_INIT resp 0");
	W_EXPECT(&w, "I>R AUTH req 1 (dropped)");
	W_EXPECT(&w, "R>I AUTH resp 1");
	W_EXPECT_END(&w);
	/* R installed only the pair of hosts (OE: /32 each), and I took that answer */
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP");
	check_pair(i, r);
	T_CHECK_STR(oe_prefix_str(&kern_mock_at(r->km, 0)->sel.src, a), "192.0.2.2/32");
	T_CHECK_STR(oe_prefix_str(&kern_mock_at(r->km, 0)->sel.dst, a), "192.0.2.1/32");
	T_CHECK_INT(kern_mock_at(r->km, 0)->sel.proto, 0);
	w_free(&w);
}

/* ---- idle teardown: ike_delete_child (RFC 7296 §1.4.1) ------------------------------------- */

static uint32_t first_spi_in(struct w_node *n)
{
	const struct kern_child_sa *k = kern_mock_at(n->km, 0);

	return k ? k->spi_in : 0;
}

/* The last Child SA of an IKE SA: one DELETE of the IKE SA closes both, on both ends. */
static void test_delete_child_last(void)
{
	struct w_world w;
	struct w_node *i, *r;
	bool ike_too = false;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	T_CHECK_INT(ike_delete_child(i->e, i->sa, 0x1234, NULL), IKE_ERR_UNKNOWN_SA);
	T_CHECK_INT(ike_delete_child(i->e, i->sa, first_spi_in(i), &ike_too), IKE_OK);
	T_CHECK(ike_too);
	/* asked again while the DELETE is out: nothing new is sent */
	T_CHECK_INT(ike_delete_child(i->e, i->sa, first_spi_in(i), NULL), IKE_ERR_STATE);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted");
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	T_CHECK_INT(ike_delete_child(i->e, i->sa, 0x1234, NULL), IKE_ERR_UNKNOWN_SA);
	/* the pair negotiates again from scratch */
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	check_pair(i, r);
	w_free(&w);
}

/* Both ends find the SA idle at once: the DELETEs cross, each answers the other's and neither
 * retransmits into the void. */
static void test_delete_child_crossed(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_stats si, sr;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	T_CHECK_INT(ike_delete_child(i->e, i->sa, first_spi_in(i), NULL), IKE_OK);
	T_CHECK_INT(ike_delete_child(r->e, r_handle(r), first_spi_in(r), NULL), IKE_OK);
	w_run(&w, 60 * 1000);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO req 0");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT(&w, "I>R INFO resp 0");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted");
	T_CHECK_INT(kern_mock_installed(i->km), 0);
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	ike_stats_get(i->e, &si);
	ike_stats_get(r->e, &sr);
	T_CHECK_INT(si.retransmits + sr.retransmits, 0);
	w_free(&w);
}

/* A Child SA that is not the IKE SA's last (the old one of a rekey the peer has not deleted
 * yet): only it goes, with a DELETE of ESP; the IKE SA and the new Child SA stay. */
static void test_delete_child_not_last(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct ike_sa *sa;
	struct child_sa *c;
	uint32_t spi;
	bool ike_too = true;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.liveness_ms = r->conf.liveness_ms = 0;
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	/* a second Child SA on I's IKE SA, as a rekey leaves one for a moment: a copy of the
	 * first under another SPI, installed in I's kernel only */
	sa = ike_sa_by_handle(i->e, i->sa);
	T_CHECK(sa && sa->children);
	if (!sa || !sa->children)
		goto out;
	spi = sa->children->k.spi_in;
	c = child_sa_new(sa);
	T_CHECK(c != NULL);
	if (!c)
		goto out;
	{
		uint32_t in = c->k.spi_in;

		c->k = sa->children->next->k;
		c->k.spi_in = in;
		c->k.spi_out = 0x7777;
	}
	T_CHECK_INT(kern_mock_ops.install(i->km, &c->k), 0);
	c->installed = true;
	child_sa_set_state(sa, c, CHILD_S_INSTALLED);
	T_CHECK_INT(ike_delete_child(i->e, i->sa, c->k.spi_in, &ike_too), IKE_OK);
	T_CHECK(!ike_too);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R INFO req 2");
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN");
	T_CHECK_INT(kern_mock_installed(i->km), 1);
	T_CHECK_INT(kern_mock_installed(r->km), 1); /* R knew no SA with that SPI */
	T_CHECK(kern_mock_find(i->km, spi) != NULL);
	T_CHECK_INT(ike_sa_count(i->e), 1);
out:
	w_free(&w);
}

/* An IKE SA left without Child SA (its last one reached the hard lifetime without a rekey)
 * carries nothing: once that has lasted the idle time it is deleted; one with a Child SA is
 * not. */
static void test_delete_childless(void)
{
	struct w_world w;
	struct w_node *i, *r;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.child_lifetime_s = 60;
	r->conf.child_lifetime_s = 600;
	i->conf.liveness_ms = r->conf.liveness_ms = 0;
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	T_CHECK_INT(ike_delete_childless(i->e, 0), 0); /* it has its Child SA */
	no_rekey(i->e, i->sa);
	no_rekey(r->e, r_handle(r));
	w_run(&w, 61 * 1000);
	W_EXPECT(&w, "I>R INFO req 2"); /* the hard lifetime's DELETE of the Child SA */
	W_EXPECT(&w, "R>I INFO resp 2");
	W_EXPECT_END(&w);
	T_CHECK_INT(ike_sa_count(i->e), 1);
	T_CHECK_INT(ike_delete_childless(i->e, 30 * 1000), 0); /* childless for 1 s only */
	w_run(&w, 30 * 1000);
	W_EXPECT_END(&w);
	T_CHECK_INT(ike_delete_childless(i->e, 30 * 1000), 1);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R INFO req 3");
	W_EXPECT(&w, "R>I INFO resp 3");
	W_EXPECT_END(&w);
	T_CHECK_STR(i->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted");
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted");
	T_CHECK_INT(ike_sa_count(i->e), 0);
	T_CHECK_INT(ike_sa_count(r->e), 0);
	w_free(&w);
}

/* `ipsec status`: algorithms, counters from the kernel, idle time, age, rekey and expiry. */
static void test_status_format(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct kern_sa_counters ct = { 1000, 2000, 10, 20, 0 };
	struct oe_buf b;
	const char *want[] = { "IKE SA ", "ESTABLISHED, initiator, 192.0.2.1[500] -> 192.0.2.2[500]",
			       "ids 192.0.2.1 -> 192.0.2.2", "CURVE25519/PRF_HMAC_SHA2_256/AES_GCM_16-256",
			       "age 10s, rekey in 14390s, 1 Child SA\n",
			       "INSTALLED, tunnel, raw ESP, AES_GCM_16-256, ",
			       "192.0.2.1/32 === 192.0.2.2/32",
			       "in 1000 bytes 10 packets, out 2000 bytes 20 packets, idle 3s\n",
			       "age 10s, rekey in 3230s, expires in 3590s\n" };

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	i->conf.liveness_ms = r->conf.liveness_ms = 0;
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	w.now += 10 * 1000;
	ct.last_use_ms = w.now - 3000;
	kern_mock_set_counters(i->km, first_spi_in(i), &ct);
	oe_buf_init(&b);
	ike_status_format(i->e, &b);
	if (getenv("IKE_TEST_LOG"))
		fputs(b.p, stderr);
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		if (!strstr(b.p, want[k])) {
			T_CHECK_STR(b.p, want[k]);
			break;
		}
	/* the JSON form carries the same */
	oe_buf_reset(&b);
	ike_status_json(i->e, &b);
	if (getenv("IKE_TEST_LOG"))
		fprintf(stderr, "%s\n", b.p);
	T_CHECK(strstr(b.p, "\"state\":\"ESTABLISHED\",\"initiator\":true,\"local\":\"192.0.2.1\""));
	T_CHECK(strstr(b.p, "\"age_s\":10,\"rekey_in_s\":14390,\"nchild\":1,\"child_sas\":["));
	T_CHECK(strstr(b.p, "\"bytes_in\":1000,\"packets_in\":10,\"bytes_out\":2000,"
			    "\"packets_out\":20,\"used\":true,\"idle_s\":3,\"age_s\":10,"
			    "\"rekey_in_s\":3230,\"expires_in_s\":3590}"));
	T_CHECK(b.p[0] == '[' && b.p[b.len - 1] == ']');
	oe_buf_free(&b);
	w_free(&w);
}

/* ---- INITIAL_CONTACT (§2.4) ---------------------------------------------------------------- */

/* I restarts; R, still holding the stale SA, and I start SAs to each other at once. I's IKE_AUTH
 * carries INITIAL_CONTACT (I holds no SA with R); R checks both new SAs' AUTH after a key
 * lookup, I's first. The INITIAL_CONTACT deletes the stale SA only: R's own SA, still
 * negotiating, was started after I's restart and must not fail (its flow would take the
 * failure shunt). */
static void test_initial_contact_spares_negotiation(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct oe_sel s;
	uint64_t r_new = 0;
	struct ike_sa_info si;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	w_stop(i);
	T_CHECK_INT(w_start(i), 0);
	r->defer_lookups = true;
	r->events[0] = 0;
	s = w_sel(r, i);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	T_CHECK_INT(ike_initiate(r->e, &r->ep, &i->ep, NULL, &s, &r_new), IKE_OK);
	w_run(&w, 100);
	T_CHECK(ike_sa_get(r->e, r_new, &si) && strcmp(si.state, "AUTH_LOOKUP") == 0);
	T_CHECK_INT(r->nlk, 2);
	T_CHECK_STR(r->events, "");
	w_answer_lookups(r);
	w_run(&w, 100);
	T_CHECK_STR(r->events, "ESTABLISHED CHILD_UP CHILD_DOWN DELETED:deleted ESTABLISHED "
			       "CHILD_UP");
	T_CHECK(ike_sa_get(r->e, r_new, &si) && strcmp(si.state, "ESTABLISHED") == 0);
	T_CHECK_INT(ike_sa_count(r->e), 2);
	w_free(&w);
}

/* ---- INVALID_SPI from a peer that restarted (§2.21.4) -------------------------------------- */

/* I restarts; R still holds the SAs and sends ESP that I cannot decrypt. I's datapath reports
 * the SPI, I tells R with an unprotected INVALID_SPI; R, hearing no ESP from I any more,
 * checks liveness at once instead of after 30 s of silence, I answers that with
 * INVALID_IKE_SPI, and R gives up within 3 s. While ESP from I still arrives the hint is
 * ignored (anyone could send it); I sends at most 10 a second. */
static void test_invalid_spi_after_restart(void)
{
	struct w_world w;
	struct w_node *i, *r;
	struct kern_sa_counters ctr = { .packets_in = 5 };
	uint32_t r_in, r_out;
	unsigned hints = 0;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	r_in = kern_mock_at(r->km, 0)->spi_in;
	r_out = kern_mock_at(r->km, 0)->spi_out;
	/* unknown ESP from a peer we hold an IKE SA with: no hint (not a lost state) */
	ike_esp_unknown_spi(i->e, &i->ep, &r->ep, 0x12345678);
	w_run(&w, 100);
	W_EXPECT_END(&w);
	w_stop(i);
	T_CHECK_INT(w_start(i), 0);
	r->events[0] = 0;
	/* ESP from I reached R since the last look: the hint changes nothing */
	kern_mock_set_counters(r->km, r_in, &ctr);
	ike_esp_unknown_spi(i->e, &i->ep, &r->ep, r_out);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R INFO resp 0 N(INVALID_SPI)");
	W_EXPECT_END(&w);
	ike_esp_unknown_spi(i->e, &i->ep, &r->ep, r_out);
	w_run(&w, 100);
	W_EXPECT(&w, "I>R INFO resp 0 N(INVALID_SPI)");
	W_EXPECT(&w, "R>I INFO req 0");
	W_EXPECT(&w, "I>R INFO resp 0 N(INVALID_IKE_SPI)");
	W_EXPECT_END(&w);
	w_run(&w, 3000);
	T_CHECK_STR(r->events, "CHILD_DOWN DELETED:liveness");
	T_CHECK_INT(kern_mock_installed(r->km), 0);
	/* a flood of unknown ESP: 10 hints a second (the budget INVALID_IKE_SPI answers share) */
	w.rd = w.nlines;
	w_run(&w, 1000 - w.now % 1000);
	w.rd = w.nlines;
	for (int k = 0; k < 30; k++)
		ike_esp_unknown_spi(i->e, &i->ep, &r->ep, r_out);
	w_run(&w, 10);
	while (w.rd < w.nlines)
		hints += strcmp(w.lines[w.rd++], "I>R INFO resp 0 N(INVALID_SPI)") == 0;
	T_CHECK_INT(hints, 10);
	w_free(&w);
}

/* ---- the datapath across rekeys (§2.8): the mock kernel and a queue-less uesp side by side -- */

struct tee {
	struct kern_mock *km; /* what the node's engine was given as kern_arg */
	struct kern_uesp *u;
};
static struct tee tees[2];

static struct kern_uesp *uesp_of(void *km)
{
	for (size_t k = 0; k < 2; k++)
		if (tees[k].km == km)
			return tees[k].u;
	abort();
}

static int tee_install(void *arg, const struct kern_child_sa *sa)
{
	int err = kern_mock_ops.install(arg, sa);

	return err ? err : kern_uesp_ops.install(uesp_of(arg), sa);
}

static int tee_update(void *arg, const struct kern_child_sa *old, const struct kern_child_sa *nsa)
{
	int err = kern_mock_ops.update(arg, old, nsa);

	return err ? err : kern_uesp_ops.update(uesp_of(arg), old, nsa);
}

static int tee_remove(void *arg, const struct kern_child_sa *sa)
{
	kern_mock_ops.remove(arg, sa);
	return kern_uesp_ops.remove(uesp_of(arg), sa);
}

static int tee_query(void *arg, const struct kern_child_sa *sa, struct kern_sa_counters *out)
{
	return kern_uesp_ops.query(uesp_of(arg), sa, out);
}

static const struct kern_ops tee_ops = { "tee", tee_install, tee_update, tee_remove, tee_query };

/* An IPv4 UDP datagram from a to b carrying the number k (header checksum done). */
static size_t datagram(const struct w_node *a, const struct w_node *b, unsigned k, uint8_t *p)
{
	uint32_t sum = 0;

	memset(p, 0, 32);
	p[0] = 0x45;
	p[3] = 32;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, a->ep.addr.b, 4);
	memcpy(p + 16, b->ep.addr.b, 4);
	p[21] = 9;
	p[23] = 9;
	p[25] = 12;
	memcpy(p + 28, &k, 4);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	p[10] = (uint8_t)(~sum >> 8);
	p[11] = (uint8_t)~sum;
	return 32;
}

/* ESP in flight: encrypted by one end's uesp, decrypted by the other's later. */
struct wire {
	uint8_t b[128];
	size_t len;
};

static void send_esp(const struct w_node *a, const struct w_node *b, unsigned k, struct wire *w)
{
	uint8_t p[64];
	size_t n = datagram(a, b, k, p);

	w->len = kern_uesp_process(uesp_of(a->km), p, n, w->b, sizeof(w->b));
}

/* True if the packet arrives as sent (counted in *lost otherwise). */
static bool recv_esp(const struct w_node *a, const struct w_node *b, unsigned k,
		     const struct wire *w, unsigned *lost)
{
	uint8_t p[64], out[192];
	size_t n = datagram(a, b, k, p);
	bool ok = w->len && kern_uesp_process(uesp_of(b->km), w->b, w->len, out,
					      sizeof(out)) == n && memcmp(out, p, n) == 0;

	*lost += !ok;
	return ok;
}

enum rekeyer { BY_I, BY_R, BY_BOTH };

/* Rekeys of the Child SA (by I, by R, by both at once: §2.8.1) with a packet each way every
 * millisecond, each one decrypted lag milliseconds after it was encrypted (ESP slower than
 * IKE by that much, the network's 1 ms included): none may be lost, whichever end switches
 * first, and traffic still flows once the redundant and old SAs are gone. After a
 * simultaneous rekey that takes both: the loser is never installed by its maker, and its
 * peer, which installed it when it answered, does not send on it (uesp moves the outbound
 * traffic to an SA we answered for only at the peer's first packet on it). */
static void rekey_under_traffic(enum rekeyer who, unsigned lag)
{
	static const char *const names[] = { "I", "R", "both" };
	struct w_world w;
	struct w_node *i, *r;
	struct wire ir[64], ri[64];
	unsigned lost = 0, lost_after = 0, k;

	setup(&w, k_ec, k_ed);
	i = &w.n[0];
	r = &w.n[1];
	for (size_t n = 0; n < 2; n++) {
		tees[n].km = w.n[n].km = kern_mock_new();
		T_CHECK_INT(kern_uesp_open(0, 0, &tees[n].u), 0);
		w.n[n].kern = &tee_ops;
	}
	i->conf.child_pfs = r->conf.child_pfs = true;
	i->conf.rekey_delete_ms = r->conf.rekey_delete_ms = 1000; /* the agent's default */
	start(&w);
	T_CHECK_INT(w_initiate(i, r), IKE_OK);
	w_run(&w, 100);
	handshake_transcript(&w);
	if (who != BY_R)
		T_CHECK_INT(ike_rekey_child(i->e, i->sa), IKE_OK);
	if (who != BY_I)
		T_CHECK_INT(ike_rekey_child(r->e, r_handle(r)), IKE_OK);
	/* until the answer: the agent reads IKE before ESP (ESP on the new SA may overtake it) */
	T_CHECK(ike_child_rekey_waiting(i->e) == (who != BY_R));
	T_CHECK(ike_child_rekey_waiting(r->e) == (who != BY_I));
	for (k = 0; k < 40; k++) {
		send_esp(i, r, k, &ir[k]);
		send_esp(r, i, k, &ri[k]);
		w_run(&w, 1);
		if (k < lag)
			continue;
		if (!recv_esp(i, r, k - lag, &ir[k - lag], &lost) ||
		    !recv_esp(r, i, k - lag, &ri[k - lag], &lost))
			fprintf(stderr, "# rekey by %s, ESP %u ms late: packet %u lost\n",
				names[who], lag, k - lag);
	}
	T_CHECK(!ike_child_rekey_waiting(i->e) && !ike_child_rekey_waiting(r->e));
	T_CHECK_INT(lost, 0);
	w_run(&w, 1000); /* the old SA's DELETE */
	for (k = 0; k < 3; k++) {
		send_esp(i, r, 100 + k, &ir[k]);
		send_esp(r, i, 100 + k, &ri[k]);
		if (!recv_esp(i, r, 100 + k, &ir[k], &lost_after) ||
		    !recv_esp(r, i, 100 + k, &ri[k], &lost_after))
			fprintf(stderr, "# rekey by %s: packet %u after the deletes lost\n",
				names[who], 100 + k);
	}
	T_CHECK_INT(lost_after, 0);
	T_CHECK_INT(kern_mock_installed(i->km), 1);
	T_CHECK_INT(kern_mock_installed(r->km), 1);
	check_pair(i, r);
	w_free(&w);
	for (size_t n = 0; n < 2; n++)
		kern_uesp_close(tees[n].u);
}

static void test_rekey_under_traffic(void)
{
	for (unsigned lag = 0; lag < 8; lag++) {
		rekey_under_traffic(BY_I, lag);
		rekey_under_traffic(BY_R, lag);
		rekey_under_traffic(BY_BOTH, lag);
	}
}

int main(void)
{
	if (!getenv("IKE_TEST_LOG"))
		oe_log_set_level(OE_LOG_WARN);
	dk_hostkey_generate(DK_KT_ECDSA_P256, 0, &k_ec);
	dk_hostkey_generate(DK_KT_ED25519, 0, &k_ed);
	T_RUN(test_late_init_retransmit);
	T_RUN(test_init_retransmit_half_open);
	T_RUN(test_hard_lifetime);
	T_RUN(test_ts_unacceptable);
	T_RUN(test_vendor_ignored);
	T_RUN(test_rekey_child_pfs);
	T_RUN(test_rekey_child_pfs_invalid_ke);
	T_RUN(test_invalid_ike_spi);
	T_RUN(test_invalid_ike_spi_forged);
	T_RUN(test_rekey_under_traffic);
	T_RUN(test_initial_contact_spares_negotiation);
	T_RUN(test_invalid_spi_after_restart);
	T_RUN(test_esp_dh_choice);
	T_RUN(test_aes128_sha512);
	T_RUN(test_msgid_window);
	T_RUN(test_narrowing_exchange);
	T_RUN(test_delete_child_last);
	T_RUN(test_delete_child_crossed);
	T_RUN(test_delete_child_not_last);
	T_RUN(test_delete_childless);
	T_RUN(test_status_format);
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_ed);
	return t_done();
}
