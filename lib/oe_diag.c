/* Diagnostic sink for text parsers (see oe_diag.h). */
#include "oe_diag.h"

#include <stdarg.h>
#include <stdio.h>

static void report(struct oe_diag *d, enum oe_diag_sev sev, const char *path, unsigned line,
		   const char *fmt, va_list ap)
{
	char body[768], msg[1024];

	if (sev == OE_DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
	if (!d->emit)
		return;
	vsnprintf(body, sizeof(body), fmt, ap);
	if (line)
		snprintf(msg, sizeof(msg), "%s:%u: %s", path, line, body);
	else
		snprintf(msg, sizeof(msg), "%s: %s", path, body);
	d->emit(d->ctx, sev, msg);
}

void oe_diag_error(struct oe_diag *d, const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(d, OE_DIAG_ERROR, path, line, fmt, ap);
	va_end(ap);
}

void oe_diag_warn(struct oe_diag *d, const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(d, OE_DIAG_WARNING, path, line, fmt, ap);
	va_end(ap);
}

void oe_diag_print(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	fprintf(ctx, "%s: %s\n", sev == OE_DIAG_ERROR ? "error" : "warning", msg);
}

const char *oe_tok(const char *s, size_t n, char buf[static OE_TOKSTRLEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 8 >= OE_TOKSTRLEN) {
			buf[o++] = '.';
			buf[o++] = '.';
			buf[o++] = '.';
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}
