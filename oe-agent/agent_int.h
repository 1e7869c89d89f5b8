/* Internal to oe-agent/: helpers shared by the daemon's files (not for cli/ or other
 * components). */
#ifndef AGENT_INT_H
#define AGENT_INT_H

#include <stddef.h>

#include "agent.h"

/* Reads a whole regular file of at most max bytes into a NUL-terminated heap buffer.
 * Returns 0, -EFBIG when larger, or -errno. */
int oe_read_file(const char *path, size_t max, char **out, size_t *len);

/* ---- control socket server (ctl.c) ---- */

/* Answers one parsed request: appends the whole reply to out, starting with the status line
 * "OK\n" or "ERR <message>\n". */
typedef void (*oe_ctl_handler)(void *ctx, const struct oe_ctl_req *req, struct oe_buf *out);

struct oe_ctl_server;

/* Binds and listens on path (parent directory created 0700, socket 0600; a stale socket file
 * is replaced only if nothing answers on it). Errors are logged. Returns 0 or -errno
 * (-EADDRINUSE when another process listens there). */
int oe_ctl_server_new(const char *path, struct oe_ctl_server **out);
/* Starts accepting clients on l; h answers their requests. */
int oe_ctl_server_start(struct oe_ctl_server *s, struct oe_loop *l, oe_ctl_handler h, void *ctx);
/* Closes every client and the socket and removes the socket file. Accepts NULL. */
void oe_ctl_server_free(struct oe_ctl_server *s);
size_t oe_ctl_server_clients(const struct oe_ctl_server *s);

#endif
