/* Domain names in uncompressed wire form (RFC 1035 §3.1), as IPSECKEY gateway type 3 carries
 * them (RFC 4025 §2.5: "a normal wire-encoded domain name ... MUST NOT be compressed"):
 * checking, and conversion to and from the zone-file presentation form (RFC 1035 §5.1). */
#include "dk_int.h"

#include <stdio.h>
#include <string.h>

#define NAME_WIRE_MAX 255 /* RFC 1035 §3.1, including the length octets and the root */
#define LABEL_MAX 63

enum dk_status dk_name_check(const uint8_t *p, size_t n, size_t *wlen)
{
	size_t o = 0;

	for (;;) {
		uint8_t l;

		if (o >= n)
			return DK_ERR_TRUNCATED;
		l = p[o];
		/* 0xC0 is a compression pointer, 0x40/0x80 the obsolete extended label types. */
		if (l > LABEL_MAX)
			return DK_ERR_NAME_LABEL;
		if (l > n - o - 1)
			return DK_ERR_TRUNCATED;
		o += 1 + (size_t)l;
		if (o > NAME_WIRE_MAX)
			return DK_ERR_NAME_LONG;
		if (l == 0)
			break;
	}
	*wlen = o;
	return DK_OK;
}

/* Octets that the presentation form must escape: the delimiters of RFC 1035 §5.1. */
static bool needs_backslash(uint8_t c)
{
	return c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' ||
	       c == '@' || c == '$';
}

enum dk_status dk_name_to_text(const uint8_t *p, size_t n, char out[static DK_NAME_MAX])
{
	size_t wlen, i = 0, o = 0;
	enum dk_status st = dk_name_check(p, n, &wlen);

	if (st != DK_OK)
		return st;
	if (p[0] == 0) {
		strcpy(out, ".");
		return DK_OK;
	}
	while (p[i] != 0) {
		size_t l = p[i++], j;

		for (j = 0; j < l; j++, i++) {
			uint8_t c = p[i];

			if (c <= 0x20 || c >= 0x7f) {
				snprintf(out + o, 5, "\\%03u", c);
				o += 4;
			} else {
				if (needs_backslash(c))
					out[o++] = '\\';
				out[o++] = (char)c;
			}
		}
		out[o++] = '.';
	}
	out[o] = '\0';
	return DK_OK;
}

/* Reads one (possibly escaped) character of a label at s[*i]; returns -1 on a bad escape. */
static int name_char(const char *s, size_t *i)
{
	unsigned v;

	if (s[*i] != '\\')
		return (uint8_t)s[(*i)++];
	(*i)++;
	if (s[*i] >= '0' && s[*i] <= '9') {
		if (!(s[*i + 1] >= '0' && s[*i + 1] <= '9' && s[*i + 2] >= '0' && s[*i + 2] <= '9'))
			return -1;
		v = (unsigned)(s[*i] - '0') * 100 + (unsigned)(s[*i + 1] - '0') * 10 +
		    (unsigned)(s[*i + 2] - '0');
		*i += 3;
		return v > 255 ? -1 : (int)v;
	}
	if (s[*i] == '\0')
		return -1;
	return (uint8_t)s[(*i)++];
}

enum dk_status dk_name_from_text(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t wire[NAME_WIRE_MAX];
	size_t i = 0, o = 0;

	if (strcmp(s, ".") == 0)
		s = ""; /* the root: just the terminating zero octet */
	while (s[i] != '\0') {
		size_t lpos = o++, l = 0;

		if (s[i] == '.')
			return DK_ERR_NAME_SYNTAX; /* an empty label */
		while (s[i] != '\0' && s[i] != '.') {
			int c;

			if ((uint8_t)s[i] <= 0x20 || (uint8_t)s[i] >= 0x7f)
				return DK_ERR_NAME_SYNTAX; /* unescaped space or control */
			c = name_char(s, &i);
			if (c < 0)
				return DK_ERR_NAME_SYNTAX;
			if (++l > LABEL_MAX)
				return DK_ERR_NAME_LABEL;
			if (o >= NAME_WIRE_MAX - 1)
				return DK_ERR_NAME_LONG;
			wire[o++] = (uint8_t)c;
		}
		wire[lpos] = (uint8_t)l;
		if (s[i] == '.')
			i++;
	}
	wire[o++] = 0;
	if (o > cap)
		return DK_ERR_TOO_BIG;
	memcpy(out, wire, o);
	*len = o;
	return DK_OK;
}

/* RFC 1035 §3.5: the octets in reverse order under in-addr.arpa.; RFC 3596 §2.5: the 32
 * nibbles in reverse order under ip6.arpa. */
void dk_reverse_name(const struct oe_addr *a, char out[static DK_REVNAME_MAX])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	if (a->af == AF_INET) {
		snprintf(out, DK_REVNAME_MAX, "%u.%u.%u.%u.in-addr.arpa.", a->b[3], a->b[2], a->b[1],
			 a->b[0]);
		return;
	}
	for (int i = 15; i >= 0; i--) {
		*p++ = hex[a->b[i] & 15];
		*p++ = '.';
		*p++ = hex[a->b[i] >> 4];
		*p++ = '.';
	}
	strcpy(p, "ip6.arpa.");
}
