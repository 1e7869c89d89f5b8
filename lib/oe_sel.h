/* Traffic selectors: source and destination prefixes plus protocol and ports, the value type
 * that policy-groups/ and kernel/ both speak. 0 in proto, sport or dport means "any". */
#ifndef OE_SEL_H
#define OE_SEL_H

#include "oe_addr.h"

struct oe_sel {
	struct oe_prefix src;
	struct oe_prefix dst;
	uint8_t proto;
	uint16_t sport;
	uint16_t dport;
};

/* Parses a protocol name (tcp, udp, icmp, ipv6-icmp/icmpv6, sctp, gre, esp, ah, all/any = 0)
 * or a decimal number 0..255, n characters. */
bool oe_proto_parse(const char *s, size_t n, uint8_t *proto);
/* The name for a well-known protocol, or NULL. */
const char *oe_proto_name(uint8_t proto);
/* Parses a decimal port 0..65535, n characters, no sign, no leading zeros but "0". */
bool oe_port_parse(const char *s, size_t n, uint16_t *port);

/* Parses a decimal number of n characters, at most max: digits only, no sign, no leading
 * zeros except "0" itself. The parser every text format here uses for numbers. */
bool oe_decimal_parse(const char *s, size_t n, unsigned max, unsigned *out);

#endif
