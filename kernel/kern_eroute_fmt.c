/* The eroute listing: the KLIPS /proc/net/ipsec_eroute text and its JSON form.
 * KLIPS's ipsec_rj_walker_procprint() (FreeS/WAN / Openswan klips/net/ipsec/ipsec_radij.c)
 * printed "%-10d %-18s -> %-18s => %s%s": the source subnet with ":<sport>" appended when the
 * source port was non-zero, the destination likewise with ":<dport>", and ":<proto>" after the
 * SAID when the protocol was non-zero. KLIPS eroutes were IPv4 only; for IPv6 we bracket the
 * prefix before the port ("[2001:db8::/32]:443") so the port cannot be read as address. */
#include "kern_eroute_int.h"

#include <stdlib.h>

/* "addr/len", "addr/len:port" or "[addr/len]:port": at most 1 + 45 + 4 + 7 characters. */
static char *put_end(char *p, const struct oe_prefix *pf, uint16_t port)
{
	bool brackets = port && pf->addr.af == AF_INET6;

	if (brackets)
		*p++ = '[';
	p = kern_put_addr(p, &pf->addr);
	*p++ = '/';
	p = kern_put_u64(p, pf->len);
	if (brackets)
		*p++ = ']';
	if (port) {
		*p++ = ':';
		p = kern_put_u64(p, port);
	}
	return p;
}

/* Left-justifies the field that starts at start and ends at p to width columns, as "%-Ns". */
static char *pad(char *start, char *p, size_t width)
{
	while ((size_t)(p - start) < width)
		*p++ = ' ';
	return p;
}

/* One line, "%-10llu %-18s -> %-18s => %s%s\n" without printf. 256 bytes hold the longest
 * line: 20 + 1 + 57 + 4 + 57 + 4 + 79 + 4 + 1. */
static void format_line(struct oe_buf *out, const struct kern_eroute *e)
{
	char line[256], *p = line, *f;

	p = pad(line, kern_put_u64(p, e->packets), 10);
	*p++ = ' ';
	f = p;
	p = pad(f, put_end(p, &e->sel.src, e->sel.sport), 18);
	p = kern_put_str(p, " -> ");
	f = p;
	p = pad(f, put_end(p, &e->sel.dst, e->sel.dport), 18);
	p = kern_put_str(p, " => ");
	p = kern_put_said(p, &e->said);
	if (e->sel.proto) {
		*p++ = ':';
		p = kern_put_u64(p, e->sel.proto);
	}
	*p++ = '\n';
	oe_buf_add(out, line, (size_t)(p - line));
}

void kern_eroute_format(struct kern_eroute_table *t, struct oe_buf *out)
{
	struct kern_eroute **v;
	size_t n;

	if (kern_eroute_sorted(t, &v, &n) < 0) {
		out->failed = true;
		return;
	}
	for (size_t i = 0; i < n && !oe_buf_failed(out); i++)
		format_line(out, v[i]);
	free(v);
}

static void json_str_or_null(struct oe_buf *out, const char *key, const char *s)
{
	oe_buf_puts(out, key);
	if (*s)
		oe_buf_json_str(out, s);
	else
		oe_buf_puts(out, "null");
}

/* A JSON string made by us from addresses, numbers and SAID names: its characters are
 * [0-9a-z.:/%@] only, so there is nothing to escape. Text that callers or peers supply (the
 * identities and the reason) goes through oe_buf_json_str() instead. */
static char *put_qprefix(char *p, const struct oe_prefix *pf)
{
	*p++ = '"';
	p = put_end(p, pf, 0);
	*p++ = '"';
	return p;
}

/* One object. Keys in a fixed order; src_id/dst_id are null when unset, spi and edst appear
 * only for SAs, expires_in_s is the whole seconds left (rounded up), null for no expiry.
 * 512 bytes hold the fixed part: 2 * 57 + 79 + 45 + numbers + keys < 400. */
static void format_json_one(struct oe_buf *out, const struct kern_eroute *e, uint64_t now_ms)
{
	char obj[512], *p = obj;

	p = kern_put_u64(kern_put_str(p, "{\"count\":"), e->packets);
	p = put_qprefix(kern_put_str(p, ",\"src\":"), &e->sel.src);
	p = put_qprefix(kern_put_str(p, ",\"dst\":"), &e->sel.dst);
	p = kern_put_u64(kern_put_str(p, ",\"proto\":"), e->sel.proto);
	p = kern_put_u64(kern_put_str(p, ",\"sport\":"), e->sel.sport);
	p = kern_put_u64(kern_put_str(p, ",\"dport\":"), e->sel.dport);
	p = kern_put_said(kern_put_str(p, ",\"said\":\""), &e->said);
	p = kern_put_str(kern_put_str(p, "\",\"said_kind\":\""), kern_said_kind_name(e->said.kind));
	*p++ = '"';
	if (kern_said_is_sa(&e->said)) {
		p = kern_put_u64(kern_put_str(p, ",\"spi\":"), e->said.spi);
		p = kern_put_addr(kern_put_str(p, ",\"edst\":\""), &e->said.edst);
		*p++ = '"';
	}
	oe_buf_add(out, obj, (size_t)(p - obj));
	json_str_or_null(out, ",\"src_id\":", e->src_id);
	json_str_or_null(out, ",\"dst_id\":", e->dst_id);
	oe_buf_puts(out, ",\"reason\":");
	oe_buf_json_str(out, e->reason);
	p = kern_put_str(obj, ",\"expires_in_s\":");
	if (!e->expires_ms)
		p = kern_put_str(p, "null");
	else if (e->expires_ms <= now_ms)
		p = kern_put_str(p, "0");
	else /* rounded up */
		p = kern_put_u64(p, (e->expires_ms - now_ms + 999) / 1000);
	*p++ = '}';
	oe_buf_add(out, obj, (size_t)(p - obj));
}

void kern_eroute_format_json(struct kern_eroute_table *t, uint64_t now_ms, struct oe_buf *out)
{
	struct kern_eroute **v;
	size_t n;

	if (kern_eroute_sorted(t, &v, &n) < 0) {
		out->failed = true;
		return;
	}
	oe_buf_puts(out, "[");
	for (size_t i = 0; i < n && !oe_buf_failed(out); i++) {
		oe_buf_puts(out, i ? ",\n " : "\n ");
		format_json_one(out, v[i], now_ms);
	}
	oe_buf_puts(out, n ? "\n]\n" : "]\n");
	free(v);
}
