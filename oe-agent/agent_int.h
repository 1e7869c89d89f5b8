/* Internal to oe-agent/: helpers shared by the daemon's files (not for cli/ or other
 * components). */
#ifndef AGENT_INT_H
#define AGENT_INT_H

#include <stddef.h>

/* Reads a whole regular file of at most max bytes into a NUL-terminated heap buffer.
 * Returns 0, -EFBIG when larger, or -errno. */
int oe_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
