/* The policy as the agent and `ipsec policy` both build it (group files for the groups the
 * config leaves on, plus the implicit clear rules with our resolvers), the one-line
 * explanation of a decision, and the group eroutes: one `<our addr> -> CIDR => SAID` per rule,
 * as FreeS/WAN's policy groups showed up in /proc/net/ipsec_eroute. */
#include "agent.h"
#include "agent_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oe_sel.h"

int oe_policy_build(const struct oe_conf *conf, const char *dir, const char *resolv_text,
		    struct oe_diag *d, struct pg_policy **out)
{
	struct oe_nameserver ns[OE_CONF_MAX_ADDRS];
	struct oe_addr res[OE_CONF_MAX_ADDRS];
	struct pg_builder *b = pg_builder_new();
	size_t n;
	int err;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	err = pg_builder_load_dir(b, dir ? dir : conf->policydir, oe_conf_groups(conf), d);
	if (err)
		goto out;
	if (conf->n_nameservers) {
		n = conf->n_nameservers;
		memcpy(ns, conf->nameservers, n * sizeof(ns[0]));
	} else {
		n = resolv_text ? oe_resolv_parse(resolv_text, strlen(resolv_text), ns,
						  OE_CONF_MAX_ADDRS)
				: 0;
	}
	for (size_t i = 0; i < n; i++)
		res[i] = ns[i].addr;
	err = pg_builder_add_implicit(b, res, n);
	if (err)
		goto out;
	*out = pg_compile(b, d);
	if (!*out)
		err = -ENOMEM;
out:
	pg_builder_free(b);
	return err;
}

int oe_policy_load(const struct oe_conf *conf, const char *dir, struct oe_diag *d,
		   struct pg_policy **out)
{
	char *resolv = NULL;
	size_t len;
	int err;

	/* A missing or unreadable resolv.conf just means no resolver rules. */
	if (!conf->n_nameservers && oe_read_file("/etc/resolv.conf", 1 << 20, &resolv, &len))
		resolv = NULL;
	err = oe_policy_build(conf, dir, resolv, d, out);
	free(resolv);
	return err;
}

void oe_policy_explain(const struct pg_policy *p, const struct pg_key *k, struct oe_buf *out)
{
	const struct pg_rule *r = pg_lookup(p, k);
	char ab[OE_ADDRSTRLEN];

	oe_buf_puts(out, oe_addr_str(&k->dst, ab));
	if (k->proto) {
		const char *name = oe_proto_name(k->proto);

		if (name)
			oe_buf_printf(out, " %s", name);
		else
			oe_buf_printf(out, " %u", k->proto);
		if (k->dport)
			oe_buf_printf(out, " %u", k->dport);
	}
	if (!r) {
		oe_buf_printf(out, " %s default\n", pg_group_name(PG_CLEAR));
		return;
	}
	oe_buf_printf(out, " %s ", pg_group_name(r->group));
	switch (r->origin) {
	case PG_ORIGIN_FILE:
		oe_buf_printf(out, "%s:%u\n", r->where, r->line);
		break;
	case PG_ORIGIN_IMPLICIT:
		oe_buf_printf(out, "implicit (%s)\n", r->where);
		break;
	case PG_ORIGIN_STATIC:
		oe_buf_printf(out, "static %s\n", r->where);
		break;
	default:
		oe_buf_puts(out, "default\n");
		break;
	}
}

enum kern_said_kind oe_group_said(enum pg_group g)
{
	switch (g) {
	case PG_PRIVATE_OR_CLEAR:
	case PG_PRIVATE:
		return KERN_SAID_TRAP;
	case PG_BLOCK:
		return KERN_SAID_REJECT;
	default: /* clear and clear-or-private: never trapped (DESIGN.md section 5) */
		return KERN_SAID_PASS;
	}
}

bool oe_eroute_is_group(const struct kern_eroute *e)
{
	enum pg_group g;

	return pg_group_parse(e->reason, &g) || strncmp(e->reason, "implicit: ", 10) == 0 ||
	       strncmp(e->reason, "static ", 7) == 0;
}

static bool remove_group(void *ctx, const struct kern_eroute *e)
{
	return oe_eroute_is_group(e);
}

static void rule_reason(const struct pg_rule *r, char reason[static KERN_REASONLEN])
{
	if (r->origin == PG_ORIGIN_IMPLICIT)
		snprintf(reason, KERN_REASONLEN, "implicit: %s", r->where);
	else if (r->origin == PG_ORIGIN_STATIC)
		snprintf(reason, KERN_REASONLEN, "static %s", r->where);
	else
		snprintf(reason, KERN_REASONLEN, "%s", pg_group_name(r->group));
}

int oe_eroutes_fill(struct kern_eroute_table *t, const struct pg_policy *p,
		    const struct oe_addr *ours, size_t nours)
{
	struct oe_prefix src4 = oe_prefix_any(AF_INET), src6 = oe_prefix_any(AF_INET6);
	bool have4 = false, have6 = false;
	size_t n = pg_rule_count(p);

	for (size_t i = 0; i < nours; i++) {
		if (ours[i].af == AF_INET && !have4) {
			src4 = oe_prefix_host(&ours[i]);
			have4 = true;
		} else if (ours[i].af == AF_INET6 && !have6) {
			src6 = oe_prefix_host(&ours[i]);
			have6 = true;
		}
	}
	kern_eroute_remove_if(t, remove_group, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct pg_rule *r = pg_rule_at(p, i);
		struct kern_eroute e;
		int err;

		memset(&e, 0, sizeof(e));
		e.sel.src = r->dst.addr.af == AF_INET6 ? src6 : src4;
		e.sel.dst = r->dst;
		e.sel.proto = r->proto;
		e.sel.sport = r->sport;
		e.sel.dport = r->dport;
		e.said.kind = oe_group_said(r->group);
		rule_reason(r, e.reason);
		err = kern_eroute_add(t, &e);
		if (err)
			return err;
	}
	return 0;
}
