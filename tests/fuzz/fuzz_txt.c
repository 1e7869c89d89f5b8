/* libFuzzer harness for FreeS/WAN X-IPsec-Server TXT rdata (length-prefixed strings): a record
 * that decodes must re-encode (split at 255) into one that decodes to the same values. */
#include <stdlib.h>
#include <string.h>

#include "dnskeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct dk_txt *a, const struct dk_txt *b)
{
	if (a->pref != b->pref || a->gw_is_name != b->gw_is_name || a->key.len != b->key.len ||
	    memcmp(a->key.b, b->key.b, a->key.len) != 0)
		return false;
	return a->gw_is_name ? strcmp(a->gw_name, b->gw_name) == 0
			     : oe_addr_eq(&a->gw_addr, &b->gw_addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[20000];
	struct dk_txt t, again;
	struct oe_buf text;
	size_t n;

	if (dk_txt_decode_rdata(data, size, &t) != DK_OK)
		return 0;
	oe_buf_init(&text);
	if (dk_txt_encode(&t, out, sizeof(out), &n) != DK_OK ||
	    dk_txt_decode_rdata(out, n, &again) != DK_OK || !same(&t, &again) ||
	    dk_txt_format(&t, &text) != DK_OK)
		abort();
	oe_buf_free(&text);
	dk_txt_clear(&t);
	dk_txt_clear(&again);
	return 0;
}
