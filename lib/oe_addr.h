/* Addresses and prefixes for IPv4 and IPv6: the value types every component passes around.
 * An address is a family plus 16 bytes (IPv4 in the first 4, network order); a prefix adds a
 * length. Parsing is locale-free and takes counted strings so text parsers can hand in tokens. */
#ifndef OE_ADDR_H
#define OE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define OE_ADDRSTRLEN 46   /* INET6_ADDRSTRLEN */
#define OE_PREFIXSTRLEN 64 /* "[addr/len]:port" with room to spare */

struct oe_addr {
	uint8_t af; /* AF_INET or AF_INET6; 0 = unset */
	uint8_t b[16];
};

struct oe_prefix {
	struct oe_addr addr;
	uint8_t len; /* 0..32 or 0..128 */
};

/* 32 for AF_INET, 128 for AF_INET6, 0 otherwise. */
unsigned oe_af_bits(int af);

/* Parses a literal IPv4 or IPv6 address of n characters. */
bool oe_addr_parse(struct oe_addr *out, const char *s, size_t n);

/* Parses "addr" (a host prefix) or "addr/len". On failure returns -EINVAL and sets *why to a
 * static reason. A non-zero host part is cleared and *host_bits (if not NULL) set true. */
int oe_prefix_parse(struct oe_prefix *out, const char *s, size_t n, bool *host_bits,
		    const char **why);

/* Clears the host bits of p; returns true if any were set. */
bool oe_prefix_mask(struct oe_prefix *p);

bool oe_prefix_contains(const struct oe_prefix *p, const struct oe_addr *a);
bool oe_addr_eq(const struct oe_addr *a, const struct oe_addr *b);
/* Orders by family, then address bytes. */
int oe_addr_cmp(const struct oe_addr *a, const struct oe_addr *b);

/* The prefix of length len containing a. */
struct oe_prefix oe_prefix_of(const struct oe_addr *a, unsigned len);
/* The host prefix (/32 or /128) of a. */
struct oe_prefix oe_prefix_host(const struct oe_addr *a);
/* The all-zeros /0 of a family. */
struct oe_prefix oe_prefix_any(int af);

void oe_addr_from_v4(struct oe_addr *a, uint32_t host_order);
uint32_t oe_addr_v4(const struct oe_addr *a); /* host order */
void oe_addr_from_u128(struct oe_addr *a, unsigned __int128 v);
unsigned __int128 oe_addr_u128(const struct oe_addr *a);

/* Formatting into caller buffers; each returns buf. */
const char *oe_addr_str(const struct oe_addr *a, char buf[static OE_ADDRSTRLEN]);
const char *oe_prefix_str(const struct oe_prefix *p, char buf[static OE_PREFIXSTRLEN]);

#endif
