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

#endif
