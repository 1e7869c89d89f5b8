/* libFuzzer harness for the control request parser (what any local client can send): the
 * parser must accept or refuse with a NUL-terminated one-line reason, never crash. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[OE_CTL_WHYLEN];
	struct oe_ctl_req r;
	int rc;

	if (size > OE_CTL_MAX_REQUEST)
		return 0;
	rc = oe_ctl_req_parse(data, size, &r, why);
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == -EINVAL && (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0' ||
			      strchr(why, '\n')))
		abort();
	if (rc == 0 && r.cmd > OE_CTL_POLICY)
		abort();
	return 0;
}
