/* Address and prefix parsing, masking, comparison and formatting (see oe_addr.h). */
#include "oe_addr.h"
#include "oe_sel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

unsigned oe_af_bits(int af)
{
	return af == AF_INET ? 32 : af == AF_INET6 ? 128 : 0;
}

bool oe_addr_parse(struct oe_addr *out, const char *s, size_t n)
{
	char tmp[OE_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(tmp) || memchr(s, '\0', n))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	/* inet_pton is locale-independent and strict: no leading zeros surprises in IPv4. */
	if (memchr(tmp, ':', n)) {
		if (inet_pton(AF_INET6, tmp, out->b) != 1)
			return false;
		out->af = AF_INET6;
	} else {
		if (inet_pton(AF_INET, tmp, out->b) != 1)
			return false;
		out->af = AF_INET;
	}
	return true;
}


int oe_prefix_parse(struct oe_prefix *out, const char *s, size_t n, bool *host_bits,
		    const char **why)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	unsigned len;
	bool changed;

	memset(out, 0, sizeof(*out));
	if (host_bits)
		*host_bits = false;
	if (!oe_addr_parse(&out->addr, s, alen)) {
		*why = alen == 0 ? "missing address" : "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	len = oe_af_bits(out->addr.af);
	if (slash &&
	    !oe_decimal_parse(slash + 1, n - alen - 1, oe_af_bits(out->addr.af), &len)) {
		*why = out->addr.af == AF_INET ? "prefix length must be 0..32"
					       : "prefix length must be 0..128";
		return -EINVAL;
	}
	out->len = (uint8_t)len;
	changed = oe_prefix_mask(out);
	if (host_bits)
		*host_bits = changed;
	return 0;
}

bool oe_prefix_mask(struct oe_prefix *p)
{
	unsigned bits = oe_af_bits(p->addr.af);
	bool changed = false;

	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned first = i * 8;
		uint8_t keep;

		if (first + 8 <= p->len)
			continue;
		keep = first >= p->len ? 0 : (uint8_t)(0xff << (8 - (p->len - first)));
		if (p->addr.b[i] & (uint8_t)~keep)
			changed = true;
		p->addr.b[i] &= keep;
	}
	return changed;
}

bool oe_prefix_contains(const struct oe_prefix *p, const struct oe_addr *a)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (p->addr.af != a->af)
		return false;
	if (memcmp(p->addr.b, a->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((p->addr.b[full] ^ a->b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool oe_addr_eq(const struct oe_addr *a, const struct oe_addr *b)
{
	return oe_addr_cmp(a, b) == 0;
}

int oe_addr_cmp(const struct oe_addr *a, const struct oe_addr *b)
{
	if (a->af != b->af)
		return a->af < b->af ? -1 : 1;
	return memcmp(a->b, b->b, oe_af_bits(a->af) / 8);
}

struct oe_prefix oe_prefix_of(const struct oe_addr *a, unsigned len)
{
	struct oe_prefix p = { .addr = *a, .len = (uint8_t)len };

	oe_prefix_mask(&p);
	return p;
}

struct oe_prefix oe_prefix_host(const struct oe_addr *a)
{
	return oe_prefix_of(a, oe_af_bits(a->af));
}

struct oe_prefix oe_prefix_any(int af)
{
	struct oe_prefix p = { .addr = { .af = (uint8_t)af }, .len = 0 };

	return p;
}

void oe_addr_from_v4(struct oe_addr *a, uint32_t v)
{
	memset(a, 0, sizeof(*a));
	a->af = AF_INET;
	a->b[0] = (uint8_t)(v >> 24);
	a->b[1] = (uint8_t)(v >> 16);
	a->b[2] = (uint8_t)(v >> 8);
	a->b[3] = (uint8_t)v;
}

uint32_t oe_addr_v4(const struct oe_addr *a)
{
	return (uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 | (uint32_t)a->b[2] << 8 |
	       a->b[3];
}

void oe_addr_from_u128(struct oe_addr *a, unsigned __int128 v)
{
	a->af = AF_INET6;
	for (int i = 15; i >= 0; i--) {
		a->b[i] = (uint8_t)v;
		v >>= 8;
	}
}

unsigned __int128 oe_addr_u128(const struct oe_addr *a)
{
	unsigned __int128 v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 8 | a->b[i];
	return v;
}

const char *oe_addr_str(const struct oe_addr *a, char buf[static OE_ADDRSTRLEN])
{
	if (a->af != AF_INET && a->af != AF_INET6) {
		snprintf(buf, OE_ADDRSTRLEN, "%s", "%none");
		return buf;
	}
	if (!inet_ntop(a->af, a->b, buf, OE_ADDRSTRLEN))
		snprintf(buf, OE_ADDRSTRLEN, "%s", "%invalid");
	return buf;
}

const char *oe_prefix_str(const struct oe_prefix *p, char buf[static OE_PREFIXSTRLEN])
{
	char a[OE_ADDRSTRLEN];

	snprintf(buf, OE_PREFIXSTRLEN, "%s/%u", oe_addr_str(&p->addr, a), p->len);
	return buf;
}
