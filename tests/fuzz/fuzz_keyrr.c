/* libFuzzer harness for legacy KEY rdata (RFC 2535 form as FreeS/WAN used it): a record that
 * decodes must encode back to exactly the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "dnskeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DK_PUBKEY_MAX + 4];
	struct dk_keyrr k;
	struct oe_buf text;
	size_t n;

	if (dk_keyrr_decode(data, size, &k) != DK_OK)
		return 0;
	oe_buf_init(&text);
	if (dk_keyrr_encode(&k.key, out, sizeof(out), &n) != DK_OK || n != size ||
	    memcmp(out, data, n) != 0 || dk_keyrr_format(&k.key, &text) != DK_OK)
		abort();
	oe_buf_free(&text);
	dk_keyrr_clear(&k);
	return 0;
}
