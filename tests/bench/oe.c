/* Benchmark of opportunistic encryption end to end (issue 6). Run without arguments (as `make
 * bench` does) it hands over to tests/bench/oe.sh, which builds the namespaces (two agents, a
 * signed reverse zone) and calls this program back for what a shell cannot do fast or precisely:
 *   first NS_A NS_B BASE4 N           one UDP datagram to each of N fresh peers BASE4+1..N,
 *                                     one-way time from send (in A) to delivery (in B); then 5
 *                                     more to the same peer (established pair)
 *   burst NS_A NS_B BASE4 N           one datagram to each of N fresh peers at once; the
 *                                     delivery time of each
 *   blast NS_A NS_B DST4 SIZE SECS [PID...]  UDP of SIZE-octet IP packets from one sendmmsg
 *                                     thread in A; counts arrivals in B; CPU of each PID
 *   accept NS QUEUE                   a plain NFQUEUE accept loop (kern_nfq) until SIGTERM
 *   dp nfq|nfq1|tun NS_X SRC4 DST4 PEER4 SIZE SECS QUEUE|TUNDEV
 *                                     the same ESP encryption (kern_esp_encrypt) on packets
 *                                     read from an NFQUEUE (verdicts carry the ESP packet) or
 *                                     from a TUN device (ESP sent on a raw socket); nfq1:
 *                                     one packet per recv and per verdict send
 * SIZE is always the inner IPv4 packet (20 IP + 8 UDP + payload). Prints key=value figures;
 * the script makes the table. Never asserts a time: benchmarks only measure. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "kernel.h"

#define PORT 9
#define BATCH 64
#define PKT_MAX 2048
#define EST_PER_PAIR 5	  /* datagrams to an established pair after the first */
#define FIRST_WAIT_S 10.0 /* a fresh pair that delivers nothing in this time is lost */

/* ---- namespaces and sockets ----------------------------------------------------------------- */

/* Moves this thread into network namespace ns; returns a descriptor of the old one (exits on
 * failure: a benchmark in the wrong namespace measures nothing). */
static int ns_enter(const char *ns)
{
	char path[256];
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		fprintf(stderr, "oe: namespace %s: %s\n", ns, strerror(errno));
		exit(1);
	}
	close(fd);
	return self;
}

static void ns_leave(int self)
{
	if (setns(self, CLONE_NEWNET) != 0) {
		fprintf(stderr, "oe: back to our namespace: %s\n", strerror(errno));
		exit(1);
	}
	close(self);
}

/* A UDP socket in ns: bound to PORT (receiver, non-blocking, big buffer) or unbound. */
static int udp_in(const char *ns, bool rx)
{
	int self = ns_enter(ns);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (rx ? SOCK_NONBLOCK : 0), 0);
	int big = 8 << 20;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };

	if (s < 0 || setsockopt(s, SOL_SOCKET, rx ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &big,
				sizeof(big)) != 0 ||
	    (rx && bind(s, (struct sockaddr *)&a, sizeof(a)) != 0)) {
		fprintf(stderr, "oe: UDP socket in %s: %s\n", ns, strerror(errno));
		exit(1);
	}
	ns_leave(self);
	return s;
}

static struct sockaddr_in addr4(const char *s, uint32_t plus)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };

	if (inet_pton(AF_INET, s, &a.sin_addr) != 1) {
		fprintf(stderr, "oe: bad IPv4 address %s\n", s);
		exit(2);
	}
	a.sin_addr.s_addr = htonl(ntohl(a.sin_addr.s_addr) + plus);
	return a;
}

/* Datagrams waiting on rx, read in batches (non-blocking); returns how many. */
static long drain(int rx)
{
	static char buf[BATCH][PKT_MAX];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	long total = 0;
	int n;

	do {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
			m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		n = recvmmsg(rx, m, BATCH, MSG_DONTWAIT, NULL);
		if (n > 0)
			total += n;
	} while (n == BATCH);
	return total;
}

/* utime + stime of process pid in seconds (/proc/PID/stat fields 14 and 15); -1 if gone. */
static double proc_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU time of a thread of ours (CLOCK_THREAD_CPUTIME_ID for this one). */
static double thread_cpu_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of v[0..n), sorted in place. */
static double quantile(double *v, size_t n, double q)
{
	size_t k;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_d);
	k = (size_t)(q * (double)n + 0.999999);
	return v[k ? k - 1 : 0];
}

/* ---- first packet to first encrypted delivery ------------------------------------------------ */

/* Sends one datagram to `to` and waits for its arrival on rx; returns the one-way time in µs
 * (the clock is the same on both ends: one host), or -1 after FIRST_WAIT_S. */
static double one_way_us(int tx, int rx, const struct sockaddr_in *to, uint32_t tag)
{
	uint32_t got = 0;
	double t0 = bench_now_s(), deadline = t0 + FIRST_WAIT_S;

	if (sendto(tx, &tag, sizeof(tag), 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
		fprintf(stderr, "oe: sendto %s: %s\n", inet_ntoa(to->sin_addr), strerror(errno));
	for (;;) {
		struct pollfd p = { rx, POLLIN, 0 };
		double left = deadline - bench_now_s();

		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) < 0)
			return -1;
		while (recv(rx, &got, sizeof(got), MSG_DONTWAIT) == (ssize_t)sizeof(got))
			if (got == tag)
				return (bench_now_s() - t0) * 1e6;
	}
}

static void print_dist(const char *tag, double *v, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += v[i];
	printf("%s_n=%zu %s_mean_us=%.0f %s_min_us=%.0f %s_p50_us=%.0f %s_p99_us=%.0f "
	       "%s_max_us=%.0f\n", tag, n, tag, n ? sum / (double)n : 0, tag, quantile(v, n, 0), tag,
	       quantile(v, n, 0.5), tag, quantile(v, n, 0.99), tag, quantile(v, n, 1.0));
}

static int run_first(const char *nsa, const char *nsb, const char *base, long n)
{
	int rx = udp_in(nsb, true), tx = udp_in(nsa, false);
	double *fresh = calloc((size_t)n, sizeof(double));
	double *est = calloc((size_t)n * EST_PER_PAIR, sizeof(double));
	size_t nf = 0, ne = 0;
	uint32_t tag = 1;

	if (!fresh || !est)
		return 1;
	for (long i = 1; i <= n; i++) {
		struct sockaddr_in to = addr4(base, (uint32_t)i);
		double us = one_way_us(tx, rx, &to, tag++);

		if (us < 0)
			continue;
		fresh[nf++] = us;
		for (int k = 0; k < EST_PER_PAIR; k++)
			if ((us = one_way_us(tx, rx, &to, tag++)) >= 0)
				est[ne++] = us;
	}
	printf("fresh_lost=%zu\n", (size_t)n - nf);
	print_dist("fresh", fresh, nf);
	print_dist("est", est, ne);
	free(fresh);
	free(est);
	return 0;
}

/* All n fresh pairs at once: one datagram to each of base+1..n back to back, then each one's
 * delivery time (the agent runs up to n lookups and IKE exchanges side by side). */
static int run_burst(const char *nsa, const char *nsb, const char *base, long n)
{
	int rx = udp_in(nsb, true), tx = udp_in(nsa, false);
	double *sent = calloc((size_t)n, sizeof(double)), *lat = calloc((size_t)n, sizeof(double));
	bool *seen = calloc((size_t)n, sizeof(bool));
	double deadline;
	size_t got = 0;

	if (!sent || !lat || !seen)
		return 1;
	for (uint32_t i = 0; i < (uint32_t)n; i++) {
		struct sockaddr_in to = addr4(base, i + 1);

		sent[i] = bench_now_s();
		if (sendto(tx, &i, sizeof(i), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			fprintf(stderr, "oe: sendto %s: %s\n", inet_ntoa(to.sin_addr), strerror(errno));
	}
	deadline = bench_now_s() + FIRST_WAIT_S;
	while (got < (size_t)n && bench_now_s() < deadline) {
		struct pollfd p = { rx, POLLIN, 0 };
		uint32_t tag;

		if (poll(&p, 1, 100) <= 0)
			continue;
		while (recv(rx, &tag, sizeof(tag), MSG_DONTWAIT) == (ssize_t)sizeof(tag))
			if (tag < (uint32_t)n && !seen[tag]) {
				seen[tag] = true;
				lat[got++] = (bench_now_s() - sent[tag]) * 1e6;
			}
	}
	printf("burst_lost=%zu\n", (size_t)n - got);
	print_dist("burst", lat, got);
	free(sent);
	free(lat);
	free(seen);
	return 0;
}

/* ---- a fast UDP sender ----------------------------------------------------------------------- */

static atomic_bool stop;

struct blaster {
	int tx;
	struct sockaddr_in to;
	size_t payload;
	atomic_long sent;
};

static void *blast_thread(void *arg)
{
	static char data[PKT_MAX];
	struct blaster *b = arg;
	struct mmsghdr m[BATCH];
	struct iovec iov = { data, b->payload };

	memset(data, 0x5a, sizeof(data));
	for (int i = 0; i < BATCH; i++)
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &b->to, .msg_namelen = sizeof(b->to),
						      .msg_iov = &iov, .msg_iovlen = 1 } };
	while (!atomic_load(&stop)) {
		int n = sendmmsg(b->tx, m, BATCH, 0);

		if (n > 0)
			atomic_fetch_add(&b->sent, n);
		else
			sched_yield(); /* ENOBUFS: the path is full */
	}
	return NULL;
}

static void blast_start(struct blaster *b, pthread_t *t, int tx, const char *dst, long size)
{
	if (size < 28 || size > 1500) {
		fprintf(stderr, "oe: size %ld outside 28..1500\n", size);
		exit(2);
	}
	b->tx = tx;
	b->to = addr4(dst, 0);
	b->payload = (size_t)size - 28;
	atomic_store(&stop, false);
	if (pthread_create(t, NULL, blast_thread, b) != 0) {
		fprintf(stderr, "oe: pthread_create failed\n");
		exit(1);
	}
}

static void blast_stop(pthread_t t)
{
	atomic_store(&stop, true);
	pthread_join(t, NULL);
}

/* Arrivals in B during secs after 0.3 s of warm-up; the CPU of each pid over the same time. */
static int run_blast(const char *nsa, const char *nsb, const char *dst, long size, double secs,
		     char **pids, int npids)
{
	int rx = udp_in(nsb, true);
	struct blaster b = { 0 };
	double c0[8], warm = bench_now_s() + 0.3, t0, t1;
	long got = 0, sent0;
	pthread_t t;

	npids = npids > 8 ? 8 : npids;
	blast_start(&b, &t, udp_in(nsa, false), dst, size);
	while (bench_now_s() < warm)
		if (!drain(rx))
			usleep(50);
	sent0 = atomic_load(&b.sent);
	for (int i = 0; i < npids; i++)
		c0[i] = proc_cpu_s(atol(pids[i]));
	t0 = bench_now_s();
	for (t1 = t0 + secs; bench_now_s() < t1;) {
		long d = drain(rx);

		got += d;
		if (!d)
			usleep(20);
	}
	double dt = bench_now_s() - t0;
	long sent = atomic_load(&b.sent) - sent0;

	printf("sent_per_s=%.0f arrived_per_s=%.0f", (double)sent / dt, (double)got / dt);
	for (int i = 0; i < npids; i++) {
		double c = proc_cpu_s(atol(pids[i])) - c0[i];

		printf(" cpu%d_pct=%.0f cpu%d_us_per_pkt=%.2f", i, 100 * c / dt, i,
		       got ? 1e6 * c / (double)got : 0.0);
	}
	printf("\n");
	blast_stop(t);
	close(b.tx);
	close(rx);
	return 0;
}

/* ---- plain NFQUEUE accept -------------------------------------------------------------------- */

static long accepted;

static void accept_one(void *ctx, const struct kern_nfq_pkt *p)
{
	kern_nfq_verdict(ctx, p->id, KERN_V_ACCEPT);
	accepted++;
}

static void on_term(int sig)
{
	atomic_store(&stop, true);
}

/* The trap queue's own code (recvmmsg batches, verdicts several per sendmsg) accepting every
 * packet: what a queue costs when it does nothing to the packet. */
static int run_accept(const char *ns, unsigned num)
{
	int self = ns_enter(ns);
	struct kern_nfq *q;
	/* the agent's default queuemaxlen: the sender meets the same back-pressure (its socket
	 * buffer fills with queued packets) instead of drops that would waste CPU */
	int err = kern_nfq_open((uint16_t)num, 65536, &q);

	ns_leave(self);
	if (err) {
		fprintf(stderr, "oe: NFQUEUE %u in %s: %s\n", num, ns, strerror(-err));
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	printf("ready\n");
	fflush(stdout);
	while (!atomic_load(&stop)) {
		struct pollfd p = { kern_nfq_fd(q), POLLIN, 0 };

		if (poll(&p, 1, 100) > 0 && kern_nfq_receive(q, accept_one, q) > 0)
			kern_nfq_flush(q);
	}
	fprintf(stderr, "oe: accept queue %u: %ld packets\n", num, accepted);
	kern_nfq_close(q);
	return 0;
}

/* ---- the ESP datapath shapes: NFQUEUE verdicts vs a TUN device ------------------------------- */

struct dp {
	struct kern_esp_sa *sa;
	int fd;		/* the netlink socket, or the TUN device */
	int raw;	/* TUN: the raw socket the ESP packets leave on */
	bool single;	/* NFQUEUE one packet per recv and per verdict send (the agent's shape) */
	struct mnl_socket *nl; /* NFQUEUE: owns fd */
	uint32_t portid;
	uint16_t queue;
	struct sockaddr_in peer;
	long done, errors;
	uint8_t in[BATCH][PKT_MAX], out[BATCH][PKT_MAX + KERN_ESP_OVERHEAD_MAX];
	size_t outlen[BATCH];
	char vbuf[BATCH * (PKT_MAX + KERN_ESP_OVERHEAD_MAX + 128)];
};

static struct kern_esp_sa *dp_sa(const char *local, const char *remote)
{
	struct kern_child_sa sa;
	struct kern_esp_sa *e;

	memset(&sa, 0, sizeof(sa));
	sa.encr = KERN_ESP_AES_GCM_16;
	sa.key_len = 16;
	memset(sa.key_out, 7, sizeof(sa.key_out));
	sa.spi_in = 0x1001;
	sa.spi_out = 0x2002;
	sa.mode = KERN_MODE_TUNNEL;
	if (!oe_addr_parse(&sa.local, local, strlen(local)) ||
	    !oe_addr_parse(&sa.remote, remote, strlen(remote)))
		exit(2);
	sa.sel.src = oe_prefix_any(AF_INET);
	sa.sel.dst = oe_prefix_any(AF_INET);
	if (kern_esp_sa_new(&sa, &e) != 0)
		exit(1);
	return e;
}

/* Encrypts p into slot i; false (counted) when the ESP core refuses it. */
static bool dp_encrypt(struct dp *d, int i, const uint8_t *p, size_t n)
{
	if (kern_esp_encrypt(d->sa, p, n, d->out[i], sizeof(d->out[i]), &d->outlen[i]) !=
	    KERN_ESP_OK) {
		d->errors++;
		return false;
	}
	d->done++;
	return true;
}

/* NFQUEUE: whole packets, one verdict message per packet carrying the ESP packet, as many
 * verdicts per sendmsg as packets came in one recvmmsg (PERF.md's best NFQUEUE rewrite shape). */
static int nfq_bind(struct dp *d, const char *ns, unsigned num)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int self = ns_enter(ns), rcv = 8 << 20, one = 1;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	struct nlmsghdr *nlh;

	ns_leave(self);
	d->nl = nl;
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	d->fd = mnl_socket_get_fd(nl);
	d->portid = mnl_socket_get_portid(nl);
	d->queue = (uint16_t)num;
	setsockopt(d->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	setsockopt(d->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, d->queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, d->queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, PKT_MAX);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 4096);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

/* One packet message: encrypt it and append its verdict to vbuf at *off. */
static void nfq_one(struct dp *d, const struct nlmsghdr *nlh, int slot, size_t *off)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;
	struct nlmsghdr *v;
	bool ok;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] || !attr[NFQA_PAYLOAD])
		return;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	ok = dp_encrypt(d, slot, mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
			mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
	v = nfq_nlmsg_put(d->vbuf + *off, NFQNL_MSG_VERDICT, d->queue);
	nfq_nlmsg_verdict_put(v, (int)ntohl(ph->packet_id), ok ? 1 /* NF_ACCEPT */ : 0);
	if (ok)
		nfq_nlmsg_verdict_put_pkt(v, d->out[slot], (uint32_t)d->outlen[slot]);
	*off += MNL_ALIGN(v->nlmsg_len);
}

static void nfq_turn(struct dp *d)
{
	static char rb[BATCH][PKT_MAX + 256];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	unsigned vlen = d->single ? 1 : BATCH;

	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ rb[i], sizeof(rb[i]) };
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	for (int turn = 0; turn < BATCH / (int)vlen; turn++) {
		int n = recvmmsg(d->fd, m, vlen, MSG_DONTWAIT, NULL), slot = 0;
		size_t off = 0;

		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)rb[i];
			int len = (int)m[i].msg_len;

			for (; mnl_nlmsg_ok(nlh, len) && slot < BATCH; nlh = mnl_nlmsg_next(nlh, &len))
				if ((nlh->nlmsg_type & 0xff) == NFQNL_MSG_PACKET)
					nfq_one(d, nlh, slot++, &off);
		}
		if (off && send(d->fd, d->vbuf, off, 0) < 0)
			d->errors++;
	}
}

/* TUN: read until the device is empty (or a batch is full), then one sendmmsg of the ESP
 * packets on a raw socket (IP_HDRINCL: the ESP core built the outer header). */
static int tun_open(struct dp *d, const char *ns, const char *dev)
{
	int self = ns_enter(ns);
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	d->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	d->raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	ns_leave(self);
	if (d->fd < 0 || d->raw < 0 || ioctl(d->fd, TUNSETIFF, &ifr) != 0)
		return -errno;
	return 0;
}

static void tun_turn(struct dp *d)
{
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	int n = 0;

	for (int i = 0; i < BATCH; i++) {
		ssize_t r = read(d->fd, d->in[i], sizeof(d->in[i]));

		if (r <= 0)
			break;
		if (!dp_encrypt(d, n, d->in[i], (size_t)r))
			continue;
		iov[n] = (struct iovec){ d->out[n], d->outlen[n] };
		m[n] = (struct mmsghdr){ .msg_hdr = { .msg_name = &d->peer,
						      .msg_namelen = sizeof(d->peer),
						      .msg_iov = &iov[n], .msg_iovlen = 1 } };
		n++;
	}
	if (n && sendmmsg(d->raw, m, (unsigned)n, 0) < n)
		d->errors++;
}

/* The datapath in this thread, a sender in another, both in ns; after 0.3 s of warm-up, secs
 * of packets/s and this thread's CPU per packet. */
static int run_dp(const char *mode, const char *ns, const char *local, const char *dst, const char *peer,
		  long size, double secs, const char *what)
{
	static struct dp d;
	struct blaster b = { 0 };
	double c0 = 0, s0 = 0, t0 = 0, warm;
	long n0 = 0, sent0 = 0;
	clockid_t sclk;
	bool tun = strcmp(mode, "tun") == 0;
	pthread_t t;
	int err;

	d.single = strcmp(mode, "nfq1") == 0;
	d.peer = addr4(peer, 0);
	d.peer.sin_port = 0;
	err = tun ? tun_open(&d, ns, what) : nfq_bind(&d, ns, (unsigned)atoi(what));
	if (err) {
		fprintf(stderr, "oe: %s %s in %s: %s\n", tun ? "TUN" : "NFQUEUE", what, ns,
			strerror(-err));
		return 1;
	}
	d.sa = dp_sa(local, peer);
	blast_start(&b, &t, udp_in(ns, false), dst, size);
	if (pthread_getcpuclockid(t, &sclk) != 0)
		return fprintf(stderr, "oe: the sender's CPU clock\n"), 1;
	warm = bench_now_s() + 0.3;
	for (bool measuring = false;;) {
		struct pollfd p = { d.fd, POLLIN, 0 };
		double now = bench_now_s();

		if (!measuring && now >= warm) {
			measuring = true;
			t0 = now;
			c0 = thread_cpu_s(CLOCK_THREAD_CPUTIME_ID);
			s0 = thread_cpu_s(sclk);
			n0 = d.done;
			sent0 = atomic_load(&b.sent);
		}
		if (measuring && now - t0 >= secs)
			break;
		if (poll(&p, 1, 10) > 0)
			tun ? tun_turn(&d) : nfq_turn(&d);
	}
	double dt = bench_now_s() - t0, c = thread_cpu_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	double sc = thread_cpu_s(sclk) - s0;
	long n = d.done - n0, sent = atomic_load(&b.sent) - sent0;

	blast_stop(t);
	/* the sender's syscalls do the kernel's half of each path (NFQUEUE: the packet copied
	 * into a netlink message; TUN: the packet queued on the device): per packet sent */
	printf("pkts_per_s=%.0f cpu_pct=%.0f cpu_us_per_pkt=%.2f sent_per_s=%.0f "
	       "sender_us_per_pkt=%.2f errors=%ld total=%ld\n",
	       (double)n / dt, 100 * c / dt, n ? 1e6 * c / (double)n : 0.0, (double)sent / dt,
	       sent ? 1e6 * sc / (double)sent : 0.0, d.errors, d.done);
	kern_esp_sa_free(d.sa);
	if (d.nl)
		mnl_socket_close(d.nl);
	else
		close(d.fd);
	if (d.raw > 0)
		close(d.raw);
	close(b.tx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 1) { /* `make bench`: the driver script sets up and calls us back */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			return perror("oe: /proc/self/exe"), 1;
		self[n] = 0;
		setenv("OE_TOOL", self, 1);
		execlp("bash", "bash", "tests/bench/oe.sh", (char *)NULL);
		perror("oe: bash tests/bench/oe.sh");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && strcmp(argv[1], "first") == 0)
		return run_first(argv[2], argv[3], argv[4], atol(argv[5]));
	if (argc == 6 && strcmp(argv[1], "burst") == 0)
		return run_burst(argv[2], argv[3], argv[4], atol(argv[5]));
	if (argc >= 7 && strcmp(argv[1], "blast") == 0)
		return run_blast(argv[2], argv[3], argv[4], atol(argv[5]), atof(argv[6]), argv + 7,
				 argc - 7);
	if (argc == 4 && strcmp(argv[1], "accept") == 0)
		return run_accept(argv[2], (unsigned)atoi(argv[3]));
	if (argc == 10 && strcmp(argv[1], "dp") == 0 &&
	    (strcmp(argv[2], "nfq") == 0 || strcmp(argv[2], "nfq1") == 0 ||
	     strcmp(argv[2], "tun") == 0))
		return run_dp(argv[2], argv[3], argv[4], argv[5], argv[6], atol(argv[7]),
			      atof(argv[8]), argv[9]);
	fprintf(stderr, "usage: oe [first|burst NS_A NS_B BASE4 N | blast NS_A NS_B DST4 SIZE SECS "
			"[PID...] | accept NS QUEUE | dp nfq|nfq1|tun NS_X SRC4 DST4 PEER4 SIZE SECS "
			"QUEUE|TUNDEV]\n");
	return 2;
}
