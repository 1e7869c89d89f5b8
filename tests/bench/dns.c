/* Benchmark of key lookups (dnskeys/ lookup section) against a real NSD it starts itself on a
 * free loopback port, serving a zone bench.test. of NAMES IPSECKEY records signed at start-up
 * (ldns-keygen/ldns-signzone, ECDSA P-256). Side by side in one run: a bare c-ares query loop,
 * cold lookups with and without DNSSEC validation (many in flight), a fully cold first lookup
 * (chain fetch), cached lookups, and the validation cost. `dns ADDR:PORT ANCHORS` uses a
 * server already running instead. Prints labelled figures. */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dnskeys.h"
#include "oe_b64.h"
#include "oe_log.h"

#define NAMES 4000
#define INFLIGHT 64

static char server[64], anchors[256], dir[64];
static pid_t nsd_pid;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int write_zone(const char *path)
{
	FILE *f = fopen(path, "w");
	EVP_PKEY *pk = NULL;
	struct dk_pubkey k;
	char b64[4096];

	if (!f || dk_hostkey_generate(DK_KT_RSA, 2048, &pk) < 0 || dk_pubkey_encode(pk, &k))
		return -1;
	oe_b64_encode(k.b, k.len, b64);
	EVP_PKEY_free(pk);
	fprintf(f, "$TTL 3600\n@ IN SOA ns.bench.test. h.bench.test. 1 3600 900 604800 600\n"
		   "@ IN NS ns\nns IN A 127.0.0.1\n");
	for (int i = 0; i < NAMES; i++)
		fprintf(f, "h%d IN IPSECKEY 10 0 2 . %s\n", i, b64);
	return fclose(f);
}

/* Generates, signs and serves bench.test.; fills server and anchors. */
static int start_nsd(void)
{
	char cmd[1024], conf[128];
	int port = free_port();
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/oet-dnsbench.XXXXXX");
	if (port < 0 || !mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/bench.test", dir);
	if (write_zone(cmd) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && k=$(ldns-keygen -a ECDSAP256SHA256 -k bench.test) && "
		 "ldns-signzone -i $(date -u -d '1 hour ago' +%%Y%%m%%d%%H%%M%%S) -o bench.test "
		 "-f bench.zone bench.test $k && ldns-key2ds -n -2 $k.key > anchors", dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/nsd.conf", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "server:\n ip-address: 127.0.0.1@%d\n port: %d\n zonesdir: \"%s\"\n"
		   " pidfile: \"%s/nsd.pid\"\n username: \"\"\n chroot: \"\"\n database: \"\"\n"
		   " xfrdfile: \"%s/xfrd\"\n zonelistfile: \"%s/zl\"\n logfile: \"%s/log\"\n"
		   " server-count: 1\nremote-control:\n control-enable: no\n"
		   "zone:\n name: bench.test\n zonefile: bench.zone\n",
		port, port, dir, dir, dir, dir, dir);
	fclose(f);
	nsd_pid = fork();
	if (nsd_pid == 0) {
		execlp("nsd", "nsd", "-d", "-c", conf, (char *)NULL);
		_exit(127);
	}
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	snprintf(anchors, sizeof(anchors), "%s/anchors", dir);
	return nsd_pid > 0 ? 0 : -1;
}

static void stop_nsd(void)
{
	char cmd[128];

	if (nsd_pid > 0) {
		kill(nsd_pid, SIGTERM);
		waitpid(nsd_pid, NULL, 0);
	}
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
}

/* ---- lookups through dk_resolver ---- */

struct run {
	struct dk_resolver *r;
	int next, done, ok, total, start;
};

static void on_res(void *arg, const struct dk_result *res);

static void issue(struct run *u)
{
	char name[64];

	snprintf(name, sizeof(name), "@h%d.bench.test", u->start + u->next++);
	if (dk_lookup_fqdn(u->r, name, on_res, u) < 0)
		u->done++;
}

static void on_res(void *arg, const struct dk_result *res)
{
	struct run *u = arg;

	u->done++;
	u->ok += res->status == DK_L_FOUND;
	if (u->next < u->total)
		issue(u);
}

static bool run_done(void *arg)
{
	struct run *u = arg;

	return u->done >= u->total;
}

static struct dk_resolver *mkres(bool dnssec)
{
	struct dk_lookup_conf c;
	struct dk_resolver *r = NULL;

	dk_lookup_conf_default(&c);
	c.nameservers = server;
	c.dnssec = dnssec;
	c.rootkey_file = "";
	c.anchors_file = anchors;
	c.cache_max = NAMES * 2;
	if (dk_resolver_new(&r, &c, NULL, NULL, NULL) < 0) {
		fprintf(stderr, "dk_resolver_new failed\n");
		exit(1);
	}
	return r;
}

/* n lookups of distinct names from start, INFLIGHT at a time; returns wall seconds. */
static double lookups(struct dk_resolver *r, int start, int n, int *ok, double *cpu)
{
	struct run u = { .r = r, .total = n, .start = start };
	double t0 = now_s(), c0 = cpu_s();

	while (u.next < n && u.next < INFLIGHT)
		issue(&u);
	dk_poll_run(&r, 1, run_done, &u, 120000);
	*cpu = cpu_s() - c0;
	*ok = u.ok;
	return now_s() - t0;
}

/* ---- the bare c-ares loop: same names, ares_query, same poll driving ---- */

struct bare {
	ares_channel ch;
	int next, done, ok, total;
	bool dnssec_query; /* the same query dk_resolver sends: EDNS0 1232, DO, CD */
};

static void bare_issue(struct bare *b);

static void bare_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct bare *b = arg;

	b->done++;
	b->ok += status == ARES_SUCCESS && alen > 0;
	if (b->next < b->total)
		bare_issue(b);
}

static void bare_issue(struct bare *b)
{
	char name[64];

	snprintf(name, sizeof(name), "h%d.bench.test", b->next++);
	if (b->dnssec_query) {
		ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), 45,
						 LDNS_RR_CLASS_IN, LDNS_RD);
		uint8_t *wire = NULL;
		size_t len = 0;

		ldns_pkt_set_edns_udp_size(p, 1232);
		ldns_pkt_set_edns_do(p, true);
		ldns_pkt_set_cd(p, true);
		ldns_pkt2wire(&wire, p, &len);
		ares_send(b->ch, wire, (int)len, bare_cb, b);
		free(wire);
		ldns_pkt_free(p);
		return;
	}
	ares_query(b->ch, name, 1 /* IN */, 45 /* IPSECKEY */, bare_cb, b);
}

static double bare_loop(int n, bool dnssec_query, int *ok, double *cpu)
{
	struct bare b = { .total = n, .dnssec_query = dnssec_query };
	struct ares_options o = { .flags = ARES_FLAG_NOSEARCH };
	double t0, c0;

	if (ares_init_options(&b.ch, &o, ARES_OPT_FLAGS) != ARES_SUCCESS ||
	    ares_set_servers_ports_csv(b.ch, server) != ARES_SUCCESS)
		return -1;
	t0 = now_s();
	c0 = cpu_s();
	while (b.next < n && b.next < INFLIGHT)
		bare_issue(&b);
	while (b.done < n) {
		fd_set r, w;
		struct timeval tv, *tp;
		int nfds;

		FD_ZERO(&r);
		FD_ZERO(&w);
		nfds = ares_fds(b.ch, &r, &w);
		tp = ares_timeout(b.ch, NULL, &tv);
		select(nfds, &r, &w, NULL, tp);
		ares_process(b.ch, &r, &w);
	}
	*cpu = cpu_s() - c0;
	*ok = b.ok;
	ares_destroy(b.ch);
	return now_s() - t0;
}

static void report(const char *what, int n, int ok, double wall, double cpu)
{
	printf("%-46s %6d ok/%-5d %9.0f lookups/s  %7.1f us CPU each\n", what, ok, n, n / wall,
	       cpu * 1e6 / n);
}

int main(int argc, char **argv)
{
	struct dk_resolver *rv, *rn;
	struct dk_stats st;
	double wall, cpu, w1, c1, w2, c2;
	int ok, half = NAMES / 2;

	oe_log_set_level(OE_LOG_ERR);
	if (argc > 2) {
		snprintf(server, sizeof(server), "%s", argv[1]);
		snprintf(anchors, sizeof(anchors), "%s", argv[2]);
	} else if (start_nsd() < 0) {
		fprintf(stderr, "cannot start NSD (nsd, ldnsutils installed?)\n");
		stop_nsd();
		return 1;
	}
	usleep(300000);
	printf("server %s, zone bench.test. (%d signed IPSECKEY records, ECDSA P-256), %d in "
	       "flight\n", server, NAMES, INFLIGHT);
	wall = bare_loop(NAMES, false, &ok, &cpu); /* also warms NSD */
	wall = bare_loop(NAMES, false, &ok, &cpu);
	report("bare c-ares ares_query loop (plain query)", NAMES, ok, wall, cpu);
	wall = bare_loop(NAMES, true, &ok, &cpu);
	report("bare c-ares ares_send loop (EDNS DO+CD query)", NAMES, ok, wall, cpu);

	rv = mkres(true);
	w1 = lookups(rv, 0, 1, &ok, &c1);
	dk_resolver_stats(rv, &st);
	printf("%-46s %6.2f ms, %llu queries, %llu RRSIG checks\n",
	       "first validated lookup (DNSKEY chain fetched)", w1 * 1e3,
	       (unsigned long long)st.queries, (unsigned long long)st.validations);
	w1 = lookups(rv, 1, half - 1, &ok, &c1);
	report("cold lookups, DNSSEC validated", half - 1, ok, w1, c1);
	rn = mkres(false);
	w2 = lookups(rn, 1, half - 1, &ok, &c2);
	report("cold lookups, dnssec-enable=no", half - 1, ok, w2, c2);
	printf("%-46s %7.1f us CPU per lookup (1 RRSIG verify, ECDSA P-256)\n",
	       "validation cost", (c1 - c2) * 1e6 / (half - 1));
	w1 = lookups(rv, 0, half, &ok, &c1);
	report("cached lookups (validated answers)", half, ok, w1, c1);
	dk_resolver_stats(rv, &st);
	printf("%-46s %llu lookups, %llu cache hits, %llu queries\n", "validating resolver total",
	       (unsigned long long)st.lookups, (unsigned long long)st.cache_hits,
	       (unsigned long long)st.queries);
	dk_resolver_free(rv);
	dk_resolver_free(rn);
	stop_nsd();
	return 0;
}
