/* Base64 (RFC 4648 §4, standard alphabet, '=' padding) for key blobs in DNS records and
 * configuration. The decoder is strict: no characters outside the alphabet, padding only at
 * the end and only as much as needed, no non-zero bits left over in the last group. */
#ifndef OE_B64_H
#define OE_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes, without the NUL. */
#define OE_B64_LEN(n) (((n) + 2) / 3 * 4)

/* Encodes n bytes into out (OE_B64_LEN(n) + 1 bytes, NUL-terminated); returns the length. */
size_t oe_b64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes slen characters into out (at most cap bytes); *outlen gets the byte count.
 * With skip_ws, spaces, tabs, CR and LF anywhere are ignored (TXT records, RFC 1035 zone
 * files split long keys). Returns false on any malformed input or if out is too small. */
bool oe_b64_decode(const char *s, size_t slen, bool skip_ws, uint8_t *out, size_t cap,
		   size_t *outlen);

#endif
