/* libFuzzer harness for the RFC 3110 RSA key decoder: whatever decodes must re-encode to a
 * blob that decodes to the same key (the encoder may pick the shorter exponent-length form). */
#include <stdlib.h>
#include <string.h>

#include "dnskeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DK_PUBKEY_MAX];
	EVP_PKEY *pk = NULL, *again = NULL;
	size_t n;

	if (dk_rfc3110_decode(data, size, &pk) != DK_OK)
		return 0;
	if (dk_rfc3110_encode(pk, out, sizeof(out), &n) != DK_OK || n > size ||
	    dk_rfc3110_decode(out, n, &again) != DK_OK || EVP_PKEY_eq(pk, again) != 1)
		abort();
	EVP_PKEY_free(pk);
	EVP_PKEY_free(again);
	return 0;
}
