/* Strict base64 (see oe_b64.h). Decoding works on a 4-character group at a time so padding
 * and leftover bits are checked in one place. */
#include "oe_b64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t oe_b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* 0..63 for an alphabet character, 64 for '=', -1 otherwise (no locale, no table). */
static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	if (c == '=')
		return 64;
	return -1;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Emits one complete group q[0..3]; returns false on bad padding or leftover bits. */
static bool put_group(const int q[4], bool *ended, uint8_t *out, size_t cap, size_t *o)
{
	uint32_t v;
	size_t nbytes;

	if (q[0] == 64 || q[1] == 64)
		return false;
	if (q[2] == 64 && q[3] != 64)
		return false;
	nbytes = q[2] == 64 ? 1 : q[3] == 64 ? 2 : 3;
	v = (uint32_t)q[0] << 18 | (uint32_t)q[1] << 12 | (uint32_t)(q[2] & 63) << 6 |
	    (uint32_t)(q[3] & 63);
	if ((nbytes == 1 && (v & 0xffff)) || (nbytes == 2 && (v & 0xff)))
		return false; /* non-canonical: bits after the last byte must be zero */
	if (nbytes > cap - *o)
		return false;
	out[(*o)++] = (uint8_t)(v >> 16);
	if (nbytes > 1)
		out[(*o)++] = (uint8_t)(v >> 8);
	if (nbytes > 2)
		out[(*o)++] = (uint8_t)v;
	*ended = nbytes < 3;
	return true;
}

bool oe_b64_decode(const char *s, size_t slen, bool skip_ws, uint8_t *out, size_t cap,
		   size_t *outlen)
{
	int q[4];
	size_t i, nq = 0, o = 0;
	bool ended = false;

	for (i = 0; i < slen; i++) {
		int v;

		if (skip_ws && is_ws(s[i]))
			continue;
		v = b64_val(s[i]);
		if (v < 0 || ended)
			return false; /* bad character, or data after the padding */
		q[nq++] = v;
		if (nq == 4) {
			if (!put_group(q, &ended, out, cap, &o))
				return false;
			nq = 0;
		}
	}
	if (nq != 0)
		return false; /* a partial group: padding is required */
	*outlen = o;
	return true;
}
