/* Protocol and port parsing for selectors (see oe_sel.h). No locale, no getprotobyname:
 * the answer must not depend on /etc/protocols of the machine. */
#include "oe_sel.h"

#include <string.h>

static const struct {
	const char *name;
	uint8_t proto;
} protos[] = {
	{ "all", 0 },	   { "any", 0 },   { "icmp", 1 }, { "tcp", 6 },	       { "udp", 17 },
	{ "gre", 47 },	   { "esp", 50 },  { "ah", 51 },  { "ipv6-icmp", 58 }, { "icmpv6", 58 },
	{ "sctp", 132 },   { "udplite", 136 },
};

static bool ascii_caseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
		char y = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] + 32) : b[i];

		if (x != y)
			return false;
	}
	return true;
}


bool oe_proto_parse(const char *s, size_t n, uint8_t *proto)
{
	unsigned v;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (strlen(protos[i].name) == n && ascii_caseeq(protos[i].name, s, n)) {
			*proto = protos[i].proto;
			return true;
		}
	}
	if (!oe_decimal_parse(s, n, 255, &v))
		return false;
	*proto = (uint8_t)v;
	return true;
}

const char *oe_proto_name(uint8_t proto)
{
	for (size_t i = 2; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return NULL;
}

bool oe_port_parse(const char *s, size_t n, uint16_t *port)
{
	unsigned v;

	if (!oe_decimal_parse(s, n, 65535, &v))
		return false;
	*port = (uint16_t)v;
	return true;
}

bool oe_decimal_parse(const char *s, size_t n, unsigned max, unsigned *out)
{
	unsigned long long v = 0;

	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (unsigned)v;
	return true;
}
