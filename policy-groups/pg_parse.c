/* The group-file parser: one entry per line, `ADDRESS[/LEN] [PROTOCOL SPORT DPORT]`
 * (Libreswan's policy-group form), `#` comments, blank lines. It works on a buffer, never a
 * FILE, so tests and the fuzzer call it directly. A file with any error adds nothing: the
 * caller keeps its previous policy rather than running with half a file. */
#include "pg_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oe_sel.h"

#define PG_MAX_LINE 1024 /* bytes, without the newline */
#define PG_MAX_ERRORS 20 /* per file: a binary file should not flood the log */
#define PG_MAX_FIELDS 4

struct pstate {
	struct pg_builder *b;
	enum pg_group group;
	const char *path;
	struct oe_diag *d;
	uint32_t where;
	unsigned line;
	unsigned errors;
};

struct field {
	const char *s;
	size_t n;
};

static void perr(struct pstate *ps, const char *what, const char *tok, size_t n, const char *why)
{
	char t[OE_TOKSTRLEN];

	oe_diag_error(ps->d, ps->path, ps->line, "%s '%s': %s", what, oe_tok(tok, n, t), why);
	ps->errors++;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits s into whitespace-separated fields; fills at most `max` of them and returns the
 * total count. */
static size_t split(const char *s, size_t n, struct field *f, size_t max)
{
	size_t count = 0, i = 0;

	while (i < n) {
		size_t start;

		while (i < n && is_space(s[i]))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && !is_space(s[i]))
			i++;
		if (count < max) {
			f[count].s = s + start;
			f[count].n = i - start;
		}
		count++;
	}
	return count;
}

static bool proto_has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 136; /* tcp udp sctp udplite */
}

/* PROTOCOL SPORT DPORT, Libreswan's order. Returns false after reporting the error. */
static bool parse_selector(struct pstate *ps, const struct field *f, struct pg_rule *r)
{
	const char *err;

	if (!oe_proto_parse(f[1].s, f[1].n, &r->proto)) {
		perr(ps, "protocol", f[1].s, f[1].n, "unknown protocol");
		return false;
	}
	if (!oe_port_parse(f[2].s, f[2].n, &r->sport)) {
		perr(ps, "source port", f[2].s, f[2].n, "not a port number 0..65535");
		return false;
	}
	if (!oe_port_parse(f[3].s, f[3].n, &r->dport)) {
		perr(ps, "destination port", f[3].s, f[3].n, "not a port number 0..65535");
		return false;
	}
	if (proto_has_ports(r->proto) || (r->sport == 0 && r->dport == 0))
		return true;
	err = "only tcp, udp, sctp and udplite have ports";
	if (r->sport)
		perr(ps, "source port", f[2].s, f[2].n, err);
	else
		perr(ps, "destination port", f[3].s, f[3].n, err);
	return false;
}

static void parse_entry(struct pstate *ps, const char *s, size_t n)
{
	struct field f[PG_MAX_FIELDS];
	struct pg_rule r = { .group = ps->group, .origin = PG_ORIGIN_FILE, .line = ps->line };
	size_t count = split(s, n, f, PG_MAX_FIELDS);
	const char *why;
	bool host_bits;

	if (count == 0)
		return;
	if (count > PG_MAX_FIELDS) {
		const char *rest = f[PG_MAX_FIELDS - 1].s + f[PG_MAX_FIELDS - 1].n;
		struct field extra;

		split(rest, (size_t)(s + n - rest), &extra, 1);
		perr(ps, "too many fields", extra.s, (size_t)(s + n - extra.s),
		     "expected ADDRESS [PROTOCOL SPORT DPORT]");
		return;
	}
	if (count == 2 || count == 3) {
		perr(ps, "incomplete selector", f[1].s,
		     (size_t)(f[count - 1].s + f[count - 1].n - f[1].s),
		     "expected ADDRESS [PROTOCOL SPORT DPORT]");
		return;
	}
	if (oe_prefix_parse(&r.dst, f[0].s, f[0].n, &host_bits, &why) < 0) {
		perr(ps, "bad address", f[0].s, f[0].n, why);
		return;
	}
	if (count == 4 && !parse_selector(ps, f, &r))
		return;
	if (host_bits) {
		char t[OE_TOKSTRLEN], pbuf[OE_PREFIXSTRLEN];

		oe_diag_warn(ps->d, ps->path, ps->line, "address '%s' has host bits set: using %s",
			     oe_tok(f[0].s, f[0].n, t), oe_prefix_str(&r.dst, pbuf));
	}
	if (pg_builder_push(ps->b, &r, ps->where) < 0)
		perr(ps, "entry", f[0].s, f[0].n, "out of memory");
}

static void parse_line(struct pstate *ps, const char *s, size_t n)
{
	const char *hash;

	if (memchr(s, '\0', n)) {
		perr(ps, "line", s, n, "contains a NUL byte");
		return;
	}
	if (n > PG_MAX_LINE) {
		perr(ps, "line", s, n, "longer than 1024 bytes");
		return;
	}
	if (n && s[n - 1] == '\r') /* CRLF files */
		n--;
	hash = memchr(s, '#', n);
	if (hash)
		n = (size_t)(hash - s);
	parse_entry(ps, s, n);
}

int pg_builder_parse(struct pg_builder *b, enum pg_group g, const char *path, const char *text,
		     size_t len, struct oe_diag *d)
{
	struct oe_diag quiet = { 0 };
	struct pstate ps = { .b = b, .group = g, .path = path, .d = d ? d : &quiet };
	size_t n0 = b->n, strs0 = b->nstrs, off = 0;
	long w;

	if ((unsigned)g >= PG_NGROUPS)
		return -EINVAL;
	w = pg_builder_intern(b, path);
	if (w < 0)
		return (int)w;
	ps.where = (uint32_t)w;
	while (off < len) {
		const char *s = text + off, *nl = memchr(s, '\n', len - off);
		size_t n = nl ? (size_t)(nl - s) : len - off;

		ps.line++;
		parse_line(&ps, s, n);
		off += n + (nl ? 1 : 0);
		if (ps.errors >= PG_MAX_ERRORS && off < len) {
			oe_diag_error(ps.d, path, ps.line,
				      "too many errors: giving up on this file");
			break;
		}
	}
	if (ps.errors == 0)
		return 0;
	/* Rejected whole: drop what this file added. */
	b->n = n0;
	while (b->nstrs > strs0)
		free(b->strs[--b->nstrs]);
	return -EINVAL;
}
