/* oe-agent: the opportunistic-encryption daemon's entry point. Parses the command line and
 * hands over to oe_agent_run() (agent.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: oe-agent [-f] [--config FILE]\n"
		   "       oe-agent --help | --version\n"
		   "\n"
		   "  -f, --foreground   stay in the foreground and log to stderr\n"
		   "  -c, --config FILE  configuration file (default %s)\n"
		   "  -h, --help         show this help\n"
		   "  -V, --version      show the version\n"
		   "\n"
		   "Signals: SIGTERM/SIGINT stop the agent, SIGHUP reloads config and policy.\n"
		   "See oe-agent(8) and ipsec.conf(5).\n",
		OE_CONF_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct oe_agent_opts o = { .config = OE_CONF_DEFAULT_PATH };
	int c;

	while ((c = getopt_long(argc, argv, "fc:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.foreground = true;
			break;
		case 'c':
			o.config = optarg;
			o.config_explicit = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("oe-agent %s\n", OE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "oe-agent: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return oe_agent_run(&o);
}
