/* A growable byte/text buffer for building listings and replies. Always NUL-terminated.
 * Allocation failure is sticky: the buffer stops growing and oe_buf_failed() says so. */
#ifndef OE_BUF_H
#define OE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct oe_buf {
	char *p;
	size_t len;
	size_t cap;
	bool failed;
};

void oe_buf_init(struct oe_buf *b);
void oe_buf_free(struct oe_buf *b); /* accepts a zeroed buffer */
void oe_buf_reset(struct oe_buf *b);
void oe_buf_add(struct oe_buf *b, const void *data, size_t n);
void oe_buf_puts(struct oe_buf *b, const char *s);
void oe_buf_printf(struct oe_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
void oe_buf_json_str(struct oe_buf *b, const char *s);
bool oe_buf_failed(const struct oe_buf *b);

#endif
