/* Diagnostics from text parsers (policy files, ipsec.conf, control requests): each message
 * reads "path:line: what 'token': why". The sink counts errors and warnings and hands each
 * formatted message to an optional callback, so callers decide where messages go. */
#ifndef OE_DIAG_H
#define OE_DIAG_H

#include <stddef.h>

enum oe_diag_sev { OE_DIAG_ERROR, OE_DIAG_WARNING };

struct oe_diag {
	void (*emit)(void *ctx, enum oe_diag_sev sev, const char *msg); /* may be NULL */
	void *ctx;
	unsigned errors;
	unsigned warnings;
};

/* Formats "path:line: <fmt>" (or "path: <fmt>" when line is 0) and reports it. */
void oe_diag_error(struct oe_diag *d, const char *path, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void oe_diag_warn(struct oe_diag *d, const char *path, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A ready-made emit callback that prints "error: msg" / "warning: msg" to the FILE * in ctx. */
void oe_diag_print(void *ctx, enum oe_diag_sev sev, const char *msg);


#define OE_TOKSTRLEN 80

/* A token made safe to quote in a message: non-printable bytes as \xNN, long tokens cut with
 * "..." at the end. Returns buf. */
const char *oe_tok(const char *s, size_t n, char buf[static OE_TOKSTRLEN]);

#endif
