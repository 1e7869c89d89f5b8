/* The `ipsec` front-end: one function per subcommand, found through the dispatch table in
 * ipsec.c. Each command gets its own arguments (argv[0] is the command name, options such as
 * --config already removed) and the config path to use (NULL = the default /etc/ipsec.conf).
 * It returns the process exit status: 0 success, 1 failure, 2 usage error. Adding a command
 * is one line in the table in ipsec.c plus its declaration here. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>

int cmd_eroute(int argc, char **argv, const char *config);
int cmd_status(int argc, char **argv, const char *config);
int cmd_reload(int argc, char **argv, const char *config);
int cmd_policy(int argc, char **argv, const char *config);
/* Implemented in their own files cmd_*.c by the host-key/DNS work. */
int cmd_newhostkey(int argc, char **argv, const char *config);
int cmd_showhostkey(int argc, char **argv, const char *config);
int cmd_lookup(int argc, char **argv, const char *config);
int cmd_verify(int argc, char **argv, const char *config);

/* Shared helpers for commands (cli_util.c). */

/* The config path in effect: config, or the default. */
const char *cli_config_path(const char *config);

/* Sends one request line to the running agent named by the config's ctlsocket and copies the
 * reply body to out (errors to stderr). Returns the exit status: 0 OK, 1 ERR or unreachable. */
int cli_request(const char *config, const char *request, FILE *out);

struct oe_conf;
/* Loads the config in effect into c (oe_conf_init done here; free with oe_conf_free). A
 * missing default file means all defaults; a missing --config file is an error. With report,
 * errors and warnings are printed to stderr and errors fail (returns 1); without, parse errors
 * are ignored and c keeps what could be read (enough to find the control socket). Returns 0
 * or 1. */
int cli_conf_load(const char *config, struct oe_conf *c, bool report);

/* Prints "ipsec NAME: msg" to stderr; returns 2 (usage) for convenience. */
int cli_usage_error(const char *name, const char *msg);

#endif
