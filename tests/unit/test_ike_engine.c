/* IKEv2 exchanges between engines in one process (tests/unit/ike_world.h): each test reads as
 * the transcript of datagrams sent, with the state of both ends and of their mock kernels
 * asserted after each step. Virtual time; mock DNS answers; no sockets. */
#include "ike_world.h"
#include "t.h"

static EVP_PKEY *k_rsa, *k_rsa2, *k_ec, *k_ed;

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
	T_CHECK(oe_addr_eq(&a->sel.src.addr, &i->ep.addr) && a->sel.src.len == 32);
	T_CHECK(oe_addr_eq(&a->sel.dst.addr, &r->ep.addr) && a->sel.dst.len == 32);
	T_CHECK(oe_addr_eq(&b->sel.src.addr, &r->ep.addr));
	T_CHECK(oe_addr_eq(&b->sel.dst.addr, &i->ep.addr));
	T_CHECK(a->encr == KERN_ESP_AES_GCM_16);
	T_CHECK(a->life.hard_s == 3600 && a->life.soft_s > 0 && a->life.soft_s < 3600);
}

/* Two nodes, keys published, started; I = 192.0.2.1, R = 192.0.2.2. */
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

int main(void)
{
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
	EVP_PKEY_free(k_rsa);
	EVP_PKEY_free(k_rsa2);
	EVP_PKEY_free(k_ec);
	EVP_PKEY_free(k_ed);
	return t_done();
}
