/* Internal to kernel/: names shared by the trap path's files. */
#ifndef KERN_RULES_INT_H
#define KERN_RULES_INT_H

#include "kernel.h"

/* "pass", "drop", "reject": the shunt set's name without the family digit. */
const char *kern_shunt_set(enum kern_shunt k);

/* Parses the text of `nft list set` (one shunt set) and calls fn per element with its packet
 * counter; elements that do not parse are skipped. */
void kern_shunt_parse_listing(const char *text, enum kern_shunt k,
			      void (*fn)(void *ctx, enum kern_shunt k,
					 const struct kern_shunt_elem *e),
			      void *ctx);

/* ---- shunt elements over netlink (kern_nftnl.c) ---- */
struct kern_nl;
int kern_nl_open(struct kern_nl **out);
void kern_nl_close(struct kern_nl *n); /* NULL is fine */
/* Queues adding (with timeout_ms, 0 = the set's) or deleting one element of our table's set
 * (key: the set's concatenation, fields padded to 4 octets). A full buffer is sent at once.
 * Returns 0 or -errno. */
int kern_nl_elem(struct kern_nl *n, const char *set, bool del, const uint8_t *key,
		 size_t keylen, uint64_t timeout_ms);
size_t kern_nl_pending(const struct kern_nl *n);
/* Sends what is queued. Returns 0, or the first error (-errno) the kernel reported, with
 * *errors the number of refused messages. */
int kern_nl_commit(struct kern_nl *n, unsigned *errors);

#endif
