/* The system-facing half of the configuration: reading ipsec.conf from disk, the resolvers of
 * /etc/resolv.conf, and the host's own addresses from getifaddrs when `listen` is not set. */
#include "agent.h"
#include "agent_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int oe_read_file(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t n = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = -EFBIG;
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, p + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break; /* shrank while reading: take what is there */
		n += (size_t)r;
	}
	p[n] = '\0';
	*out = p;
	*len = n;
	p = NULL;
out:
	free(p);
	close(fd);
	return err;
}

int oe_conf_load(struct oe_conf *c, const char *path, bool missing_ok, struct oe_diag *d)
{
	char *text = NULL;
	size_t len = 0;
	int err;

	err = oe_read_file(path, 16 << 20, &text, &len);
	if (err == -ENOENT && missing_ok)
		return oe_conf_parse(c, path, "", 0, d);
	if (err) {
		oe_diag_error(d, path, 0, "cannot read: %s", strerror(-err));
		return err;
	}
	err = oe_conf_parse(c, path, text, len, d);
	free(text);
	return err;
}

size_t oe_resolv_parse(const char *text, size_t len, struct oe_nameserver *out, size_t max)
{
	size_t pos = 0, k = 0;

	while (pos < len && k < max) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos, i = 10, j;
		const char *s = text + pos;

		pos += n + 1;
		if (n <= 11 || memcmp(s, "nameserver", 10) != 0 || (s[10] != ' ' && s[10] != '\t'))
			continue;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		j = i;
		while (j < n && s[j] != ' ' && s[j] != '\t' && s[j] != '#' && s[j] != '\r' &&
		       s[j] != '%')
			j++;
		/* resolv.conf has no ports; a scoped "fe80::1%eth0" loses its scope here. */
		if (oe_addr_parse(&out[k].addr, s + i, j - i)) {
			out[k].port = 53;
			k++;
		}
	}
	return k;
}

static bool usable(const struct sockaddr *sa, struct oe_addr *a)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		oe_addr_from_v4(a, ntohl(sin->sin_addr.s_addr));
		return a->b[0] != 127 && !(a->b[0] == 169 && a->b[1] == 254) && a->b[0] != 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		a->af = AF_INET6;
		memcpy(a->b, &sin6->sin6_addr, 16);
		return !IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) &&
		       !IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) &&
		       !IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr) &&
		       !IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
	}
	return false;
}

size_t oe_conf_our_addrs(const struct oe_conf *c, struct oe_addr *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	bool have4 = false, have6 = false;
	size_t k = 0;

	if (c->n_listen) {
		for (; k < c->n_listen && k < max; k++)
			out[k] = c->listen[k];
		return k;
	}
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i && k < max; i = i->ifa_next) {
		struct oe_addr a;

		if (!i->ifa_addr || !usable(i->ifa_addr, &a))
			continue;
		if ((a.af == AF_INET && have4) || (a.af == AF_INET6 && have6))
			continue;
		have4 |= a.af == AF_INET;
		have6 |= a.af == AF_INET6;
		out[k++] = a;
	}
	freeifaddrs(ifa);
	return k;
}
