/* Growable buffer (see oe_buf.h). */
#include "oe_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oe_buf_init(struct oe_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void oe_buf_free(struct oe_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void oe_buf_reset(struct oe_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static bool reserve(struct oe_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return false;
	if (extra > (size_t)-1 / 2 - b->len) {
		b->failed = true;
		return false;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void oe_buf_add(struct oe_buf *b, const void *data, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void oe_buf_puts(struct oe_buf *b, const char *s)
{
	oe_buf_add(b, s, strlen(s));
}

void oe_buf_printf(struct oe_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void oe_buf_json_str(struct oe_buf *b, const char *s)
{
	oe_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			oe_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			oe_buf_printf(b, "\\u%04x", c);
		else
			oe_buf_add(b, s, 1);
	}
	oe_buf_add(b, "\"", 1);
}

bool oe_buf_failed(const struct oe_buf *b)
{
	return b->failed;
}
