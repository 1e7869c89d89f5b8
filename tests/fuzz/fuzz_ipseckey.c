/* libFuzzer harness for IPSECKEY rdata (RFC 4025): a record that decodes must encode back to
 * exactly the same bytes and print without error. */
#include <stdlib.h>
#include <string.h>

#include "dnskeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	struct dk_ipseckey r;
	struct oe_buf text;
	size_t n;

	if (dk_ipseckey_decode(data, size, &r) != DK_OK)
		return 0;
	oe_buf_init(&text);
	if (dk_ipseckey_encode(&r, out, sizeof(out), &n) != DK_OK || n != size ||
	    memcmp(out, data, n) != 0 || dk_ipseckey_format(&r, &text) != DK_OK)
		abort();
	oe_buf_free(&text);
	dk_ipseckey_clear(&r);
	return 0;
}
