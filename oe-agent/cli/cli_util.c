/* Helpers every `ipsec` command shares: which config is in effect, loading it, and one
 * request/reply exchange with the running agent over its control socket. */
#include "cli.h"

#include <errno.h>
#include <string.h>

#include "agent.h"

#define CLI_TIMEOUT_MS 60000 /* listings of a million eroutes take a few seconds */

const char *cli_config_path(const char *config)
{
	return config ? config : OE_CONF_DEFAULT_PATH;
}

int cli_conf_load(const char *config, struct oe_conf *c, bool report)
{
	struct oe_diag d = { report ? oe_diag_print : NULL, stderr, 0, 0 };
	int err;

	if (oe_conf_init(c)) {
		fprintf(stderr, "ipsec: out of memory\n");
		return 1;
	}
	err = oe_conf_load(c, cli_config_path(config), config == NULL, &d);
	if (err == -EINVAL && !report)
		return 0; /* keep what parsed: the agent will tell about the errors */
	if (err && !report)
		fprintf(stderr, "ipsec: cannot read %s: %s\n", cli_config_path(config),
			strerror(-err));
	if (err) {
		oe_conf_free(c);
		return 1;
	}
	return 0;
}

int cli_request(const char *config, const char *request, FILE *out)
{
	struct oe_buf msg, body;
	struct oe_conf c;
	bool ok = false;
	int err, rc = 1;

	if (cli_conf_load(config, &c, false))
		return 1;
	oe_buf_init(&msg);
	oe_buf_init(&body);
	err = oe_ctl_call(c.ctlsocket, request, CLI_TIMEOUT_MS, &ok, &msg, &body);
	if (err == -ENOENT || err == -ECONNREFUSED) {
		fprintf(stderr, "ipsec: cannot reach oe-agent at %s: %s (is it running?)\n",
			c.ctlsocket, strerror(-err));
	} else if (err == -EPROTO) {
		fprintf(stderr, "ipsec: malformed reply from oe-agent at %s\n", c.ctlsocket);
	} else if (err) {
		fprintf(stderr, "ipsec: talking to oe-agent at %s: %s\n", c.ctlsocket,
			strerror(-err));
	} else if (!ok) {
		fprintf(stderr, "ipsec: %s\n", msg.len ? msg.p : "error");
		if (body.len)
			fwrite(body.p, 1, body.len, stderr);
	} else {
		if (body.len && fwrite(body.p, 1, body.len, out) != body.len)
			fprintf(stderr, "ipsec: writing output: %s\n", strerror(errno));
		else
			rc = 0;
	}
	oe_buf_free(&msg);
	oe_buf_free(&body);
	oe_conf_free(&c);
	return rc;
}

int cli_usage_error(const char *name, const char *msg)
{
	fprintf(stderr, "ipsec %s: %s (see 'ipsec help %s')\n", name, msg, name);
	return 2;
}
