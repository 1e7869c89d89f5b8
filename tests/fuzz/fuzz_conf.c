/* libFuzzer harness for the ipsec.conf parser: any bytes must give 0, -EINVAL or -ENOMEM,
 * never a crash or a leak, and an accepted config must have all its paths set. */
#include <errno.h>
#include <stdlib.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oe_diag d = { NULL, NULL, 0, 0 };
	struct oe_conf c;
	int rc;

	if (oe_conf_init(&c))
		return 0;
	rc = oe_conf_parse(&c, "fuzz.conf", (const char *)data, size, &d);
	if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
		abort();
	if (rc == 0 && (d.errors || !c.ipsecdir || !c.policydir || !c.hostkey || !c.ctlsocket ||
			!c.pidfile || c.n_listen > OE_CONF_MAX_ADDRS ||
			c.n_nameservers > OE_CONF_MAX_ADDRS))
		abort();
	(void)oe_conf_groups(&c);
	oe_conf_free(&c);
	return 0;
}
