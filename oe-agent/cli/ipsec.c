/* `ipsec`: the administrator's front-end. Finds the command in one table (adding a command is
 * one line here and its declaration in cli.h), takes --config FILE before or after the command
 * name, and hands the rest of the arguments to the command. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "cli.h"

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, const char *config);
	const char *args;
	const char *help;
};

static const struct cli_cmd cmds[] = {
	{ "eroute", cmd_eroute, "[--json]",
	  "List the eroutes of the running agent in the KLIPS layout: packet count, source,\n"
	  "destination and SAID (%trap, %pass, %reject, %drop, %hold or tun0x...@peer).\n"
	  "--json prints every field as a JSON array." },
	{ "status", cmd_status, "[--json]",
	  "Show the running agent: pid, uptime, config file, policy rules per group and when\n"
	  "they were loaded, the number of eroutes, and the result of the last reload; the\n"
	  "flows being decided; each IKE SA (peer, IDs, auth, algorithms, age, rekey time)\n"
	  "with its Child SAs (SPIs, mode, encapsulation, algorithm, bytes and packets both\n"
	  "ways, idle time, age, rekey and expiry times); the ESP datapath's counters.\n"
	  "--json prints only the SAs and the ESP counters, as one JSON object." },
	{ "reload", cmd_reload, "",
	  "Make the running agent re-read ipsec.conf and the policy group files. If anything\n"
	  "is wrong, the errors are printed (path:line: ...), the old policy stays in force\n"
	  "and the exit status is 1." },
	{ "policy", cmd_policy, "[--dir DIR | --agent] ADDR [PROTO [PORT]]...",
	  "Say which policy group each address falls in and why: the deciding line of a\n"
	  "group file (path:line), an implicit rule, a static conn, or the default. Works\n"
	  "without a running agent: it reads the group files itself (from DIR with --dir).\n"
	  "--agent asks the running agent instead (the policy in force). A token that parses\n"
	  "as an address starts a new query; PROTO is a name or number, PORT the destination\n"
	  "port." },
	{ "newhostkey", cmd_newhostkey,
	  "[--keytype rsa|ecdsa|ed25519] [--bits N] [--output FILE] [--force]",
	  "Generate the host key (RSA 3072 bits unless told otherwise) and write it as PKCS#8\n"
	  "PEM, mode 0600, to FILE or the config's hostkey. Prints the new key's keyid." },
	{ "showhostkey", cmd_showhostkey,
	  "--ipseckey|--txt GW|--key|--left|--right [--gateway G] [--precedence N]\n"
	  "             [--file F] [--id NAME]",
	  "Print the host's public key as zone-file records (IPSECKEY, X-IPsec-Server TXT or\n"
	  "KEY) owned by the reverse name of the host's address (or --id), or as an ipsec.conf\n"
	  "leftrsasigkey=/leftpubkey= line. See ipsec_showhostkey(8)." },
	{ "lookup", cmd_lookup,
	  "[--server ADDR[:PORT]]... [--anchor FILE] [--rootkey FILE] [--insecure]\n"
	  "             [--timeout MS] ADDR|@FQDN",
	  "Look up the keys ADDR (at its reverse name) or @FQDN publishes in DNS, as the agent\n"
	  "would: IPSECKEY, then X-IPsec-Server TXT, then KEY, DNSSEC-validated. Prints each\n"
	  "record and the validation state; exit 0 if a usable key was found, 1 if not.\n"
	  "See ipsec_lookup(8)." },
	{ "verify", cmd_verify, "[ADDR|@FQDN]...",
	  "Check that this host's key records are published (at the reverse name of each of\n"
	  "its addresses, listen= or detected, and at myid=@FQDN), carry its host key and\n"
	  "validate, looking them up as peers would. One OK/WARN/FAIL line per check; exit 0\n"
	  "only if a record with our key is DNSSEC-secure (or insecure with\n"
	  "dnssec-enable=no). See ipsec_verify(8)." },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipsec [--config FILE] COMMAND [ARGS...]\n"
		   "       ipsec help [COMMAND] | --help | --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, cmds[i].args[0] ? "  %-8s %s\n" : "  %s\n", cmds[i].name, cmds[i].args);
	fprintf(f, "\n--config FILE (default %s) names the config, which says where the\n"
		   "agent's control socket and the policy files are. See ipsec(8).\n",
		OE_CONF_DEFAULT_PATH);
}

static const struct cli_cmd *find(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static int help(const char *name)
{
	const struct cli_cmd *c = name ? find(name) : NULL;

	if (!name) {
		usage(stdout);
		return 0;
	}
	if (!c) {
		fprintf(stderr, "ipsec: unknown command '%s'\n", name);
		return 2;
	}
	printf("usage: ipsec %s [--config FILE]%s%s\n\n%s\n", c->name, c->args[0] ? " " : "",
	       c->args, c->help);
	return 0;
}

/* Removes every "--config FILE" / "--config=FILE" from argv; returns the new argc, or -1 when
 * --config lacks its FILE. */
static int take_config(int argc, char **argv, const char **config)
{
	int o = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc)
				return -1;
			*config = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			*config = argv[i] + 9;
		} else {
			argv[o++] = argv[i];
		}
	}
	return o;
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	const struct cli_cmd *c;

	argc = take_config(argc - 1, argv + 1, &config);
	argv++;
	if (argc < 0) {
		fprintf(stderr, "ipsec: --config needs a FILE\n");
		return 2;
	}
	if (argc == 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)
		return help(NULL);
	if (strcmp(argv[0], "--version") == 0) {
		printf("ipsec (oe-agent) %s\n", OE_VERSION);
		return 0;
	}
	if (strcmp(argv[0], "help") == 0)
		return help(argc > 1 ? argv[1] : NULL);
	c = find(argv[0]);
	if (!c) {
		fprintf(stderr, "ipsec: unknown command '%s' (see 'ipsec --help')\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0)
			return help(c->name);
	return c->fn(argc, argv, config);
}
