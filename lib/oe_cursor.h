/* A checked cursor over untrusted bytes. Every read returns false instead of running past the
 * end; lengths are checked by subtraction (n > c->len), never by addition. Reads are
 * big-endian (network order). */
#ifndef OE_CURSOR_H
#define OE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct oe_cur {
	const uint8_t *p;
	size_t len; /* bytes left */
};

static inline struct oe_cur oe_cur_make(const void *p, size_t len)
{
	struct oe_cur c = { p, len };

	return c;
}

static inline bool oe_cur_skip(struct oe_cur *c, size_t n)
{
	if (n > c->len)
		return false;
	c->p += n;
	c->len -= n;
	return true;
}

static inline bool oe_cur_bytes(struct oe_cur *c, void *out, size_t n)
{
	if (n > c->len)
		return false;
	memcpy(out, c->p, n);
	return oe_cur_skip(c, n);
}

/* Splits off the next n bytes as a sub-cursor. */
static inline bool oe_cur_sub(struct oe_cur *c, size_t n, struct oe_cur *sub)
{
	if (n > c->len)
		return false;
	*sub = oe_cur_make(c->p, n);
	return oe_cur_skip(c, n);
}

static inline bool oe_cur_u8(struct oe_cur *c, uint8_t *v)
{
	if (c->len < 1)
		return false;
	*v = c->p[0];
	return oe_cur_skip(c, 1);
}

static inline bool oe_cur_u16(struct oe_cur *c, uint16_t *v)
{
	if (c->len < 2)
		return false;
	*v = (uint16_t)(c->p[0] << 8 | c->p[1]);
	return oe_cur_skip(c, 2);
}

static inline bool oe_cur_u32(struct oe_cur *c, uint32_t *v)
{
	if (c->len < 4)
		return false;
	*v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
	return oe_cur_skip(c, 4);
}

#endif
