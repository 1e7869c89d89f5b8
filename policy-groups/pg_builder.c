/* The policy builder: group names, the rule list and string pool, static and implicit rules,
 * and reading the group files of a directory (the only place in policy-groups/ that does I/O;
 * the parser itself works on buffers, see pg_parse.c). */
#include "pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const group_names[PG_NGROUPS] = {
	[PG_CLEAR] = "clear",
	[PG_CLEAR_OR_PRIVATE] = "clear-or-private",
	[PG_PRIVATE_OR_CLEAR] = "private-or-clear",
	[PG_PRIVATE] = "private",
	[PG_BLOCK] = "block",
};

const char *pg_group_name(enum pg_group g)
{
	return (unsigned)g < PG_NGROUPS ? group_names[g] : "?";
}

bool pg_group_parse(const char *s, enum pg_group *out)
{
	for (unsigned g = 0; g < PG_NGROUPS; g++) {
		if (strcmp(s, group_names[g]) == 0) {
			*out = (enum pg_group)g;
			return true;
		}
	}
	return false;
}

struct pg_builder *pg_builder_new(void)
{
	return calloc(1, sizeof(struct pg_builder));
}

void pg_builder_free(struct pg_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nstrs; i++)
		free(b->strs[i]);
	free(b->strs);
	free(b->rules);
	free(b);
}

long pg_builder_intern(struct pg_builder *b, const char *s)
{
	char *copy;

	/* Consecutive calls usually name the same file or reason: reuse the last entry. */
	if (b->nstrs && strcmp(b->strs[b->nstrs - 1], s) == 0)
		return (long)(b->nstrs - 1);
	if (b->nstrs == b->strcap) {
		size_t cap = b->strcap ? b->strcap * 2 : 16;
		char **n = realloc(b->strs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		b->strs = n;
		b->strcap = cap;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	b->strs[b->nstrs] = copy;
	return (long)b->nstrs++;
}

int pg_builder_push(struct pg_builder *b, const struct pg_rule *r, uint32_t where)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct pg_brule *n = realloc(b->rules, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		b->rules = n;
		b->cap = cap;
	}
	b->rules[b->n].r = *r;
	b->rules[b->n].r.where = NULL;
	b->rules[b->n].where = where;
	b->rules[b->n].seq = b->seq++;
	b->n++;
	return 0;
}

static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 136;
}

int pg_builder_add_static(struct pg_builder *b, const struct pg_rule *r, const char *name)
{
	struct pg_rule copy = *r;
	long w;

	if (oe_af_bits(r->dst.addr.af) == 0 || r->dst.len > oe_af_bits(r->dst.addr.af) ||
	    (unsigned)r->group >= PG_NGROUPS || ((r->sport || r->dport) && !has_ports(r->proto)))
		return -EINVAL;
	oe_prefix_mask(&copy.dst);
	copy.origin = PG_ORIGIN_STATIC;
	copy.line = 0;
	w = pg_builder_intern(b, name);
	if (w < 0)
		return (int)w;
	return pg_builder_push(b, &copy, (uint32_t)w);
}

static int add_implicit_one(struct pg_builder *b, const char *text, const char *why)
{
	struct pg_rule r = { .group = PG_CLEAR, .origin = PG_ORIGIN_IMPLICIT };
	const char *err;
	long w;

	if (oe_prefix_parse(&r.dst, text, strlen(text), NULL, &err) < 0)
		return -EINVAL;
	w = pg_builder_intern(b, why);
	if (w < 0)
		return (int)w;
	return pg_builder_push(b, &r, (uint32_t)w);
}

int pg_builder_add_implicit(struct pg_builder *b, const struct oe_addr *resolvers, size_t n)
{
	/* Traffic that must never wait for, or depend on, a negotiation: the host itself
	 * (RFC 1122 3.2.1.3, RFC 4291 2.5.3), link-local (RFC 3927, RFC 4291 2.5.6), multicast
	 * (RFC 5771, RFC 4291 2.7), limited broadcast (RFC 919), and the resolvers the agent
	 * itself needs to find keys. */
	static const struct {
		const char *prefix, *why;
	} fixed[] = {
		{ "127.0.0.0/8", "loopback" },	   { "::1/128", "loopback" },
		{ "169.254.0.0/16", "link-local" }, { "fe80::/10", "link-local" },
		{ "224.0.0.0/4", "multicast" },	   { "ff00::/8", "multicast" },
		{ "255.255.255.255/32", "broadcast" },
	};
	int rc;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		rc = add_implicit_one(b, fixed[i].prefix, fixed[i].why);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct pg_rule r = { .group = PG_CLEAR, .origin = PG_ORIGIN_IMPLICIT };
		long w;

		if (oe_af_bits(resolvers[i].af) == 0)
			return -EINVAL;
		r.dst = oe_prefix_host(&resolvers[i]);
		w = pg_builder_intern(b, "resolver");
		if (w < 0)
			return (int)w;
		rc = pg_builder_push(b, &r, (uint32_t)w);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Group files are small text; anything past this is not a policy file. */
#define PG_MAX_FILE (256u << 20)

/* Reads a whole regular file. Returns 0, -ENOENT (caller: empty group), -EISDIR, -EINVAL
 * (not a regular file: a FIFO would block the daemon, a device never end), or -errno. */
static int read_file(const char *path, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if (st.st_size > (off_t)PG_MAX_FILE) {
		rc = -EFBIG;
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t got;

		if (len == cap) { /* the file grew while we read it */
			char *n = cap >= PG_MAX_FILE ? NULL : realloc(buf, cap * 2);

			if (!n) {
				rc = cap >= PG_MAX_FILE ? -EFBIG : -ENOMEM;
				goto out;
			}
			buf = n;
			cap *= 2;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int pg_builder_load_dir(struct pg_builder *b, const char *dir, unsigned groups, struct oe_diag *d)
{
	struct oe_diag quiet = { 0 };
	struct stat st;
	int first_rc = 0;

	if (!d)
		d = &quiet;
	/* A missing file is an empty group, but a missing directory is a typo in ipsecdir= or
	 * --dir: taken as "no rules", it would silently turn every group off. */
	if (stat(dir, &st) < 0)
		first_rc = -errno;
	else if (!S_ISDIR(st.st_mode))
		first_rc = -ENOTDIR;
	if (first_rc) {
		oe_diag_error(d, dir, 0, "cannot read policy directory: %s", strerror(-first_rc));
		return first_rc;
	}
	/* Every file is read and checked even after an error, so one run reports them all. */
	for (unsigned g = 0; g < PG_NGROUPS; g++) {
		char path[4096];
		char *text = NULL;
		size_t len = 0;
		int rc;

		if (!(groups & (1u << g)))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, group_names[g]) >=
		    sizeof(path)) {
			oe_diag_error(d, dir, 0, "directory name too long");
			rc = -ENAMETOOLONG;
		} else {
			rc = read_file(path, &text, &len);
			if (rc == -ENOENT) {
				rc = 0; /* a missing file is an empty group */
			} else if (rc < 0) {
				oe_diag_error(d, path, 0, "cannot read group file: %s",
					      rc == -EINVAL  ? "not a regular file"
					      : rc == -EFBIG ? "larger than 256 MiB"
							     : strerror(-rc));
			} else {
				rc = pg_builder_parse(b, (enum pg_group)g, path, text, len, d);
				free(text);
			}
		}
		if (rc < 0 && first_rc == 0)
			first_rc = rc;
	}
	return first_rc;
}
