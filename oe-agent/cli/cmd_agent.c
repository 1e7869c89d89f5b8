/* The `ipsec` commands that talk to the running agent: eroute, status, reload, and policy
 * (which by default answers from the policy files itself, without an agent). */
#include "cli.h"

#include <errno.h>
#include <string.h>

#include "agent.h"

int cmd_eroute(int argc, char **argv, const char *config)
{
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return cli_usage_error("eroute", "unexpected argument");
	}
	return cli_request(config, json ? "eroute --json" : "eroute", stdout);
}

int cmd_status(int argc, char **argv, const char *config)
{
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return cli_usage_error("status", "unexpected argument");
	}
	return cli_request(config, json ? "status --json" : "status", stdout);
}

int cmd_reload(int argc, char **argv, const char *config)
{
	if (argc > 1)
		return cli_usage_error("reload", "takes no arguments");
	return cli_request(config, "reload", stdout);
}

/* Asks the running agent (the policy in force) about one ADDR [PROTO [PORT]] group. */
static int ask_agent(const char *config, char **tok, int n)
{
	char req[512];
	size_t off;

	off = (size_t)snprintf(req, sizeof(req), "policy");
	for (int i = 0; i < n && off < sizeof(req); i++)
		off += (size_t)snprintf(req + off, sizeof(req) - off, " %s", tok[i]);
	if (off >= sizeof(req))
		return cli_usage_error("policy", "argument too long");
	return cli_request(config, req, stdout);
}

static int answer_all(const struct pg_policy *p, const char *config, char **args, int nargs)
{
	struct oe_buf out;
	int rc = 0;

	oe_buf_init(&out);
	for (int i = 0; i < nargs;) {
		char why[OE_CTL_WHYLEN];
		struct pg_key k;
		int used = oe_policy_args_parse(args + i, nargs - i, &k, why);

		if (used == 0) {
			rc = cli_usage_error("policy", why);
			break;
		}
		if (p) {
			oe_buf_reset(&out);
			oe_policy_explain(p, &k, &out);
			fputs(out.p, stdout);
		} else if (ask_agent(config, args + i, used)) {
			rc = 1;
			break;
		}
		i += used;
	}
	oe_buf_free(&out);
	return rc;
}

int cmd_policy(int argc, char **argv, const char *config)
{
	struct oe_diag d = { oe_diag_print, stderr, 0, 0 };
	struct pg_policy *p = NULL;
	const char *dir = NULL;
	bool agent = false;
	struct oe_conf c;
	int i = 1, rc, err;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--dir") == 0)
			return cli_usage_error("policy", "--dir needs a DIR");
		else if (strcmp(argv[i], "--agent") == 0)
			agent = true;
		else
			return cli_usage_error("policy", "unknown option");
	}
	if (i == argc)
		return cli_usage_error("policy", "missing address");
	if (agent && dir)
		return cli_usage_error("policy", "--agent and --dir exclude each other");
	if (agent)
		return answer_all(NULL, config, argv + i, argc - i);
	if (cli_conf_load(config, &c, true))
		return 1;
	err = oe_policy_load(&c, dir, &d, &p);
	if (err) {
		if (d.errors == 0) /* not yet explained through d */
			fprintf(stderr, "ipsec policy: cannot load the policy from %s: %s\n",
				dir ? dir : c.policydir, strerror(-err));
		oe_conf_free(&c);
		return 1;
	}
	rc = answer_all(p, config, argv + i, argc - i);
	pg_policy_free(p);
	oe_conf_free(&c);
	return rc;
}
