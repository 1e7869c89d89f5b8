/* Benchmark of the trap path (issue 4), end to end in namespaces. Run without arguments (as
 * `make bench` does) it hands over to tests/bench/trap.sh, which builds the namespaces, starts
 * the agent and calls this program back for the traffic it cannot make fast enough in a shell:
 *   decide NS_A NS_B PREFIX6 N WINDOW TAG  one UDP datagram to each of N destinations
 *   blast NS_A NS_B DST6 SECONDS        UDP datagrams to one destination as fast as possible
 * The receiver sits in NS_B (which answers for PREFIX6 as local, "AnyIP"); only what arrives
 * there counts. The sender always uses source port 40009, so a second run is the same flow.
 * Prints figures as key=value. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PORT 9
#define SPORT 40009 /* the sender's fixed port: flows may be keyed by ports (port rules) */
#define BATCH 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A UDP socket created inside network namespace ns (the socket stays there afterwards). */
static int socket_in(const char *ns, bool rx)
{
	char path[256];
	int self, fd, s = -1;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		fprintf(stderr, "trap: namespace %s: %s\n", ns, strerror(errno));
		exit(1);
	}
	s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | (rx ? SOCK_NONBLOCK : 0), 0);
	if (s >= 0) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6,
					  .sin6_port = htons(rx ? PORT : SPORT) };
		int big = 8 << 20, one = 1;

		setsockopt(s, SOL_SOCKET, rx ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &big, sizeof(big));
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
			fprintf(stderr, "trap: bind [::]:%d in %s: %s\n", rx ? PORT : SPORT, ns,
				strerror(errno));
			exit(1);
		}
	}
	if (s < 0 || setns(self, CLONE_NEWNET) != 0) {
		fprintf(stderr, "trap: socket in %s: %s\n", ns, strerror(errno));
		exit(1);
	}
	close(fd);
	close(self);
	return s;
}

/* Everything waiting on the receiver, in batches; returns the number of datagrams. */
static long drain(int rx)
{
	static char buf[BATCH][64];
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

static void addr_plus(struct in6_addr *a, const struct in6_addr *base, uint32_t i)
{
	*a = *base;
	for (int b = 15; b >= 0 && i; b--) {
		uint32_t v = a->s6_addr[b] + (i & 0xff);

		a->s6_addr[b] = (uint8_t)v;
		i = (i >> 8) + (v >> 8);
	}
}

/* One pass over N destinations with at most `window` datagrams not yet arrived at B. A pass
 * that makes no progress for 2 s counts the missing ones as lost and goes on. */
static void pass(int tx, int rx, const struct in6_addr *base, long n, long window, const char *tag)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(PORT) };
	long sent = 0, got = 0, lost = 0;
	double t0 = now_s(), last = t0;

	while (got + lost < n) {
		while (sent < n && sent - got - lost < window) {
			addr_plus(&to.sin6_addr, base, (uint32_t)sent + 1);
			if (sendto(tx, "oe-bench", 8, 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
			    errno != EPERM && errno != ENOBUFS && errno != EAGAIN) {
				fprintf(stderr, "trap: sendto: %s\n", strerror(errno));
				exit(1);
			}
			sent++;
		}
		long d = drain(rx);

		if (d) {
			got += d;
			last = now_s();
		} else if (now_s() - last > 2.0) {
			lost += sent - got - lost;
			last = now_s();
		} else {
			sched_yield();
		}
	}
	double dt = (last > t0 ? last : now_s()) - t0;

	printf("%s_n=%ld %s_arrived=%ld %s_lost=%ld %s_seconds=%.3f %s_per_s=%.0f\n", tag, n, tag, got,
	       tag, lost, tag, dt, tag, dt > 0 ? (double)got / dt : 0.0);
}

static atomic_bool stop;

struct blaster {
	int tx;
	struct sockaddr_in6 to;
	long sent;
};

static void *blast_thread(void *arg)
{
	struct blaster *b = arg;
	struct mmsghdr m[BATCH];
	struct iovec iov = { "oe-bench-payload", 16 };

	for (int i = 0; i < BATCH; i++)
		m[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &b->to, .msg_namelen = sizeof(b->to),
						      .msg_iov = &iov, .msg_iovlen = 1 } };
	while (!atomic_load(&stop)) {
		int n = sendmmsg(b->tx, m, BATCH, 0);

		if (n > 0)
			b->sent += n;
	}
	return NULL;
}

/* UDP from NS_A to dst as fast as one sending thread can; the receiver counts what arrives in
 * NS_B during `secs`, after 0.3 s of warm-up. */
static int blast_measured(const char *nsa, const char *nsb, const char *dst, double secs)
{
	struct blaster b = { .to = { .sin6_family = AF_INET6, .sin6_port = htons(PORT) } };
	pthread_t t;
	long got = 0;

	if (inet_pton(AF_INET6, dst, &b.to.sin6_addr) != 1)
		return fprintf(stderr, "trap: bad address %s\n", dst), 2;
	int rx = socket_in(nsb, true);

	b.tx = socket_in(nsa, false);
	if (pthread_create(&t, NULL, blast_thread, &b) != 0)
		return fprintf(stderr, "trap: pthread_create failed\n"), 1;
	double warm = now_s() + 0.3;

	while (now_s() < warm)
		if (!drain(rx))
			usleep(50);
	long sent0 = b.sent;
	double t0 = now_s(), t1 = t0 + secs;

	while (now_s() < t1) {
		long d = drain(rx);

		got += d;
		if (!d)
			usleep(20);
	}
	double dt = now_s() - t0;
	long sent = b.sent - sent0;

	atomic_store(&stop, true);
	pthread_join(t, NULL);
	printf("blast_sent_per_s=%.0f blast_arrived_per_s=%.0f\n", (double)sent / dt,
	       (double)got / dt);
	close(rx);
	close(b.tx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 1) { /* `make bench`: the driver script sets up and calls us back */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			return perror("trap: /proc/self/exe"), 1;
		self[n] = 0;
		setenv("TRAP_TOOL", self, 1);
		execlp("bash", "bash", "tests/bench/trap.sh", (char *)NULL);
		perror("trap: bash tests/bench/trap.sh");
		return 1;
	}
	if (argc == 8 && strcmp(argv[1], "decide") == 0) {
		struct in6_addr base;

		if (inet_pton(AF_INET6, argv[4], &base) != 1)
			return fprintf(stderr, "trap: bad prefix %s\n", argv[4]), 2;
		int rx = socket_in(argv[3], true), tx = socket_in(argv[2], false);

		pass(tx, rx, &base, atol(argv[5]), atol(argv[6]), argv[7]);
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "blast") == 0)
		return blast_measured(argv[2], argv[3], argv[4], atof(argv[5]));
	fprintf(stderr, "usage: trap [decide NS_A NS_B PREFIX6 N WINDOW TAG | "
			"blast NS_A NS_B DST6 SECONDS]\n");
	return 2;
}
