/* SAIDs as text: the magic shunts (%trap %hold %pass %drop %reject) and the SA forms
 * esp0x<spi>@<edst> / tun0x<spi>@<edst> that FreeS/WAN's satot()/ttosa() printed and read.
 * The SPI is lower-case hex without leading zeros on output, as KLIPS printed it. */
#include "kern_eroute_int.h"

#include <string.h>

static const struct {
	const char *text;	/* as listed in /proc/net/ipsec_eroute */
	const char *kind;	/* short name for JSON */
	enum kern_said_kind k;
} said_names[] = {
	{ "%trap", "trap", KERN_SAID_TRAP },	  { "%hold", "hold", KERN_SAID_HOLD },
	{ "%pass", "pass", KERN_SAID_PASS },	  { "%drop", "drop", KERN_SAID_DROP },
	{ "%reject", "reject", KERN_SAID_REJECT }, { NULL, "esp", KERN_SAID_ESP },
	{ NULL, "tun", KERN_SAID_TUN },
};

#define NSAID_NAMES (sizeof(said_names) / sizeof(said_names[0]))

const char *kern_said_kind_name(enum kern_said_kind k)
{
	for (size_t i = 0; i < NSAID_NAMES; i++)
		if (said_names[i].k == k)
			return said_names[i].kind;
	return "invalid";
}

bool kern_said_is_sa(const struct kern_said *s)
{
	return s->kind == KERN_SAID_ESP || s->kind == KERN_SAID_TUN;
}

/* Text building without printf: the listing formats a million lines, and printf was most of
 * its cost. Each writer appends at p and returns the new end; callers size the buffer. */
char *kern_put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

char *kern_put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_hex(char *p, uint32_t v)
{
	int shift = 28;

	while (shift > 0 && !(v >> shift & 0xf))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = "0123456789abcdef"[v >> shift & 0xf];
	return p;
}

/* At most OE_ADDRSTRLEN - 1 characters. IPv4 by hand; IPv6 through inet_ntop for RFC 5952's
 * zero compression. */
char *kern_put_addr(char *p, const struct oe_addr *a)
{
	char tmp[OE_ADDRSTRLEN];

	if (a->af != AF_INET)
		return kern_put_str(p, oe_addr_str(a, tmp));
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = kern_put_u64(p, a->b[i]);
	}
	return p;
}

/* At most KERN_SAIDSTRLEN - 1 characters: "tun0x" + 8 + "@" + 45 = 59. */
char *kern_put_said(char *p, const struct kern_said *s)
{
	if (kern_said_is_sa(s)) {
		p = kern_put_str(p, kern_said_kind_name(s->kind));
		p = kern_put_str(p, "0x");
		p = put_hex(p, s->spi);
		*p++ = '@';
		return kern_put_addr(p, &s->edst);
	}
	for (size_t i = 0; i < NSAID_NAMES; i++)
		if (said_names[i].text && said_names[i].k == s->kind)
			return kern_put_str(p, said_names[i].text);
	return kern_put_str(p, "%invalid");
}

const char *kern_said_str(const struct kern_said *s, char buf[static KERN_SAIDSTRLEN])
{
	*kern_put_said(buf, s) = '\0';
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "<proto>0x<1..8 hex digits>@<address>" after the three-letter proto. At most 8 digits means
 * the value always fits the 32-bit SPI field of RFC 4303 §2.1; SPI 0 is reserved there ("MUST
 * NOT be sent on the wire") and so refused. */
static bool parse_sa(const char *s, size_t n, struct kern_said *out)
{
	size_t i = 0, digits = 0;
	uint32_t spi = 0;
	int v;

	if (n < 2 || s[0] != '0' || s[1] != 'x')
		return false;
	for (i = 2; i < n && (v = hexval(s[i])) >= 0; i++, digits++) {
		if (digits == 8)
			return false;
		spi = spi << 4 | (uint32_t)v;
	}
	if (digits == 0 || spi == 0 || i == n || s[i] != '@')
		return false;
	i++;
	if (!oe_addr_parse(&out->edst, s + i, n - i))
		return false;
	out->spi = spi;
	return true;
}

bool kern_said_parse(const char *s, size_t n, struct kern_said *out)
{
	struct kern_said r;

	memset(&r, 0, sizeof(r));
	if (n > 0 && s[0] == '%') {
		for (size_t i = 0; i < NSAID_NAMES; i++) {
			const char *t = said_names[i].text;

			if (t && strlen(t) == n && memcmp(t, s, n) == 0) {
				r.kind = said_names[i].k;
				*out = r;
				return true;
			}
		}
		return false;
	}
	if (n < 3)
		return false;
	if (memcmp(s, "esp", 3) == 0)
		r.kind = KERN_SAID_ESP;
	else if (memcmp(s, "tun", 3) == 0)
		r.kind = KERN_SAID_TUN;
	else
		return false;
	if (!parse_sa(s + 3, n - 3, &r))
		return false;
	*out = r;
	return true;
}

bool kern_said_eq(const struct kern_said *a, const struct kern_said *b)
{
	if (a->kind != b->kind)
		return false;
	if (!kern_said_is_sa(a))
		return true;
	return a->spi == b->spi && oe_addr_eq(&a->edst, &b->edst);
}
