/* Key lookups on the agent's event loop (oe-agent/dns_loop.c): the resolver's sockets and
 * timeouts run through oe_loop, so a lookup to a silent server ends on its deadline while the
 * loop keeps serving its other timers. With "server ADDR:PORT ANCHORS ADDR" (from
 * tests/netns/verify.sh) it also looks ADDR up on a real signed zone through the loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "dnskeys.h"
#include "oe_time.h"
#include "t.h"

struct got {
	int calls;
	enum dk_lookup_status status;
	enum dk_val val;
	size_t nfound;
	uint64_t at_ms;
};

static void on_result(void *arg, const struct dk_result *res)
{
	struct got *g = arg;

	g->calls++;
	g->status = res->status;
	g->val = res->val;
	g->nfound = res->nfound;
	g->at_ms = oe_now_ms();
}

struct ticker {
	struct oe_loop *l;
	int ticks;
};

static void tick(void *ctx)
{
	struct ticker *t = ctx;

	t->ticks++;
	oe_loop_timer(t->l, 20, tick, t);
}

/* A config for the DNS settings only (oe_conf_dns reads it). */
static void conf_for(struct oe_conf *c, const char *text)
{
	struct oe_diag d = { oe_diag_print, stderr, 0, 0 };

	T_CHECK_INT(oe_conf_init(c), 0);
	T_CHECK_INT(oe_conf_parse(c, "t.conf", text, strlen(text), &d), 0);
}

/* Runs l until all n results arrived or max_ms passed. */
static void run_until(struct oe_loop *l, struct got *g, size_t n, uint64_t max_ms)
{
	uint64_t end = oe_now_ms() + max_ms;

	for (;;) {
		size_t done = 0;

		for (size_t i = 0; i < n; i++)
			done += g[i].calls > 0;
		if (done == n || oe_now_ms() >= end)
			return;
		oe_loop_once(l, 50);
	}
}

static void test_silent_server(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	char text[256];
	struct oe_conf c;
	struct oe_loop *l = NULL;
	struct oe_dns *dns = NULL;
	struct ticker tk = { 0 };
	struct got g = { 0 };
	struct oe_addr a;
	uint64_t t0;

	/* A bound UDP socket that never answers: queries to it are lost, not refused. */
	T_CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		getsockname(s, (struct sockaddr *)&sa, &sl) == 0);
	snprintf(text, sizeof(text), "config setup\n\tnameservers=127.0.0.1:%u\n"
		 "\tdns-timeout=100ms\n\tdns-retries=1\n\tdns-lookup-timeout=1s\n"
		 "\tdnssec-rootkey-file=none\n", ntohs(sa.sin_port));
	conf_for(&c, text);
	T_CHECK_INT(oe_loop_new(&l), 0);
	T_CHECK_INT(oe_dns_new(&dns, l, &c, NULL), 0);
	tk.l = l;
	oe_loop_timer(l, 20, tick, &tk);
	T_CHECK(oe_addr_parse(&a, "192.0.2.1", 9));
	t0 = oe_now_ms();
	T_CHECK_INT(oe_dns_lookup_addr(dns, &a, on_result, &g), 0);
	T_CHECK_INT(g.calls, 0); /* nothing cached: the answer comes from the loop */
	run_until(l, &g, 1, 5000);
	T_CHECK_INT(g.calls, 1);
	T_CHECK_INT(g.status, DK_L_TIMEOUT);
	/* 100 ms + 200 ms per query with one retry; the lookup deadline is 1 s. */
	printf("# silent server: timeout after %llu ms, %d loop ticks meanwhile\n",
	       (unsigned long long)(g.at_ms - t0), tk.ticks);
	T_CHECK(g.at_ms - t0 >= 250 && g.at_ms - t0 <= 1500);
	T_CHECK(tk.ticks >= (int)((g.at_ms - t0) / 20) / 2); /* the loop was never blocked */
	/* The failure is cached briefly or not at all; either way a second lookup answers. */
	g.calls = 0;
	T_CHECK_INT(oe_dns_lookup_addr(dns, &a, on_result, &g), 0);
	run_until(l, &g, 1, 5000);
	T_CHECK_INT(g.calls, 1);
	oe_dns_free(dns);
	oe_loop_free(l);
	oe_conf_free(&c);
	close(s);
}

/* Freeing with lookups in flight answers them with DK_L_CANCELLED. */
static void test_free_cancels(void)
{
	struct oe_conf c;
	struct oe_loop *l = NULL;
	struct oe_dns *dns = NULL;
	struct got g = { 0 };

	conf_for(&c, "config setup\n\tnameservers=127.0.0.1:9\n\tdnssec-rootkey-file=none\n");
	T_CHECK_INT(oe_loop_new(&l), 0);
	T_CHECK_INT(oe_dns_new(&dns, l, &c, NULL), 0);
	T_CHECK_INT(oe_dns_lookup_fqdn(dns, "@host.example", on_result, &g), 0);
	T_CHECK(oe_dns_resolver(dns) != NULL);
	oe_dns_free(dns);
	T_CHECK_INT(g.calls, 1);
	T_CHECK_INT(g.status, DK_L_CANCELLED);
	T_CHECK_INT(oe_loop_timer_count(l), 0);
	oe_dns_free(NULL);
	oe_loop_free(l);
	oe_conf_free(&c);
}

/* A bad config is refused with the reason. */
static void test_bad_anchor(void)
{
	struct oe_conf c;
	struct oe_loop *l = NULL;
	struct oe_dns *dns = (struct oe_dns *)1;
	struct oe_diag d = { NULL, NULL, 0, 0 };

	conf_for(&c, "config setup\n\tdnssec-anchors=/nonexistent/anchors\n");
	T_CHECK_INT(oe_loop_new(&l), 0);
	T_CHECK_INT(oe_dns_new(&dns, l, &c, &d), -ENOENT);
	T_CHECK_INT(d.errors, 1);
	T_CHECK(dns == NULL);
	oe_loop_free(l);
	oe_conf_free(&c);
}

static const char *server, *anchors, *addr;

/* A real signed zone: one lookup found and secure, then 200 concurrent lookups of the same
 * name answered from the cache without new queries. */
static void test_real_server(void)
{
	static struct got gs[200];
	struct oe_conf c;
	struct oe_loop *l = NULL;
	struct oe_dns *dns = NULL;
	struct dk_stats st;
	struct got g = { 0 };
	struct oe_addr a;
	char text[512];

	snprintf(text, sizeof(text), "config setup\n\tnameservers=%s\n\tdnssec-anchors=%s\n"
		 "\tdnssec-rootkey-file=none\n", server, anchors);
	conf_for(&c, text);
	T_CHECK_INT(oe_loop_new(&l), 0);
	T_CHECK_INT(oe_dns_new(&dns, l, &c, NULL), 0);
	T_CHECK(oe_addr_parse(&a, addr, strlen(addr)));
	T_CHECK_INT(oe_dns_lookup_addr(dns, &a, on_result, &g), 0);
	run_until(l, &g, 1, 5000);
	T_CHECK_INT(g.status, DK_L_FOUND);
	T_CHECK_INT(g.val, DK_VAL_SECURE);
	T_CHECK(g.nfound >= 1);
	dk_resolver_stats(oe_dns_resolver(dns), &st);
	for (size_t i = 0; i < 200; i++)
		T_CHECK_INT(oe_dns_lookup_addr(dns, &a, on_result, &gs[i]), 0);
	run_until(l, gs, 200, 5000);
	for (size_t i = 0; i < 200; i++)
		T_CHECK(gs[i].calls == 1 && gs[i].status == DK_L_FOUND);
	{
		struct dk_stats st2;

		dk_resolver_stats(oe_dns_resolver(dns), &st2);
		T_CHECK_INT(st2.queries, st.queries);
		T_CHECK_INT(st2.cache_hits - st.cache_hits, 200);
	}
	oe_dns_free(dns);
	oe_loop_free(l);
	oe_conf_free(&c);
}

int main(int argc, char **argv)
{
	if (argc > 4 && strcmp(argv[1], "server") == 0) {
		server = argv[2];
		anchors = argv[3];
		addr = argv[4];
		T_RUN(test_real_server);
		return t_done();
	}
	T_RUN(test_silent_server);
	T_RUN(test_free_cancels);
	T_RUN(test_bad_anchor);
	return t_done();
}
