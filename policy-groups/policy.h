/* Policy groups: the five group files, compiled into one most-specific-wins matcher.
 *
 * Groups, strictest first: block > private > private-or-clear > clear-or-private > clear.
 * Matching: among the rules whose prefix contains the remote address and whose protocol and
 * ports match (0 = any), the longest prefix wins; then the more exact protocol/ports
 * (score: proto 4 + dport 2 + sport 1); identical selectors in two groups: the stricter group
 * wins and a warning names both path:line. Implicit rules (loopback, link-local, multicast,
 * broadcast, the DNS resolvers) are `clear` and are not overridden by an identical selector in
 * a file (a warning says so). No rule matching at all means `clear`, origin "default". */
#ifndef POLICY_H
#define POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oe_addr.h"
#include "oe_diag.h"

enum pg_group { PG_CLEAR, PG_CLEAR_OR_PRIVATE, PG_PRIVATE_OR_CLEAR, PG_PRIVATE, PG_BLOCK,
		PG_NGROUPS };

/* "clear", "clear-or-private", … (the file names). */
const char *pg_group_name(enum pg_group g);
bool pg_group_parse(const char *s, enum pg_group *out);

enum pg_origin { PG_ORIGIN_FILE, PG_ORIGIN_IMPLICIT, PG_ORIGIN_STATIC, PG_ORIGIN_DEFAULT };

/* One rule of the compiled policy. Strings are owned by the policy. */
struct pg_rule {
	struct oe_prefix dst;
	uint8_t proto;	/* 0 = any */
	uint16_t sport; /* 0 = any */
	uint16_t dport; /* 0 = any */
	enum pg_group group;
	enum pg_origin origin;
	const char *where; /* file path, static conn name, or implicit reason ("loopback", …) */
	unsigned line;	   /* line in `where` for files, else 0 */
};

/* The builder collects rules from files and callers; the policy is its compiled, immutable
 * form, safe to keep using while a new one is built. A NULL diagnostic sink (d) is allowed:
 * messages are then dropped. */
struct pg_builder;
struct pg_policy;

/* A new, empty builder, owned by the caller (pg_builder_free); NULL when out of memory. */
struct pg_builder *pg_builder_new(void);
void pg_builder_free(struct pg_builder *b);

/* Parses one group file's text. path is used in messages and copied. Errors and warnings go to
 * d; returns 0, or -EINVAL if the text had errors (its rules are then not added at all). */
int pg_builder_parse(struct pg_builder *b, enum pg_group g, const char *path, const char *text,
		     size_t len, struct oe_diag *d);

/* Reads dir/<group> for every group whose bit is set in `groups` (1u << PG_x); a missing file
 * is an empty group, a missing directory an error. Returns 0, or -errno / -EINVAL (errors
 * reported through d). */
int pg_builder_load_dir(struct pg_builder *b, const char *dir, unsigned groups, struct oe_diag *d);

/* Adds a static rule (a conn); name is copied. */
int pg_builder_add_static(struct pg_builder *b, const struct pg_rule *r, const char *name);

/* Adds the implicit clear rules: loopback, link-local, multicast, broadcast, and one host rule
 * per resolver address given. */
int pg_builder_add_implicit(struct pg_builder *b, const struct oe_addr *resolvers, size_t n);

/* Compiles everything added so far. Warnings (duplicates, overrides) go to d. Returns NULL on
 * allocation failure only. The policy is the caller's (pg_policy_free) and borrows nothing
 * from the builder, which may be freed afterwards. */
struct pg_policy *pg_compile(struct pg_builder *b, struct oe_diag *d);
void pg_policy_free(struct pg_policy *p);

/* Bytes the compiled policy holds (rules, names, lookup tables), for status and benchmarks. */
size_t pg_policy_bytes(const struct pg_policy *p);

struct pg_key {
	struct oe_addr dst;
	uint8_t proto; /* 0 = no protocol known: only rules with proto 0 match */
	uint16_t sport;
	uint16_t dport;
};

/* The winning rule, or NULL when nothing matched (then the group is PG_CLEAR, origin
 * default). The rule is borrowed from p. */
const struct pg_rule *pg_lookup(const struct pg_policy *p, const struct pg_key *k);

/* Just the group; the fast path (one table read for IPv4 when no port rules are involved). */
enum pg_group pg_lookup_group(const struct pg_policy *p, const struct pg_key *k);

/* Every rule, in a stable order (by family, address, length, then specificity), for listing
 * the group eroutes. */
size_t pg_rule_count(const struct pg_policy *p);
const struct pg_rule *pg_rule_at(const struct pg_policy *p, size_t i);

/* Disjoint address ranges for one family in ascending order, each with the group that
 * address-only lookups give there (for kernel sets). Calls fn once per maximal range; the
 * ranges cover the whole family, places no rule covers included (as PG_CLEAR). */
void pg_ranges(const struct pg_policy *p, int af,
	       void (*fn)(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
			  enum pg_group g),
	       void *ctx);

/* Like pg_ranges, but also says whether a protocol/port rule may give some packets inside the
 * range another group than g (then an address-only kernel set must not decide there alone:
 * trap instead). `mixed` errs on the safe side: false means every key in the range gets g.
 * Ranges are maximal for the pair (g, mixed). */
void pg_ranges_sel(const struct pg_policy *p, int af,
		   void (*fn)(void *ctx, const struct oe_addr *lo, const struct oe_addr *hi,
			      enum pg_group g, bool mixed),
		   void *ctx);

#endif
