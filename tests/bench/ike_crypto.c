/* Benchmark of the bare IKEv2 crypto per operation (through oe-agent/ike's own calls): AUTH
 * sign/verify for RSA-2048, RSA-3072, ECDSA P-256 and Ed25519, DH keygen/derive for X25519,
 * P-256 and MODP-2048 (with our RFC 6989 checks), and the ceiling of one handshake side
 * (1 sign + 1 verify + 1 keygen + 1 derive) in handshakes/s. Prints figures, asserts none.
 * BENCH_BATCH_S (default 0.1) sets the length of each of the 5 timed batches. */
#include <stdio.h>
#include <stdlib.h>

#include "ike_crypto_cost.h"

int main(void)
{
	static const enum icc_key keys[] = { ICC_RSA2048, ICC_RSA3072, ICC_ECDSA_P256,
					     ICC_ED25519 };
	static const unsigned groups[] = { IKE_DH_CURVE25519, IKE_DH_ECP256, IKE_DH_MODP2048 };
	static const char *const gname[] = { "X25519", "P-256", "MODP-2048" };
	const char *e = getenv("BENCH_BATCH_S");
	double batch = e ? atof(e) : 0.1;
	struct icc_result r;

	printf("IKEv2 crypto, one core, median of 5 batches of %.2f s (µs per operation)\n", batch);
	printf("%-12s %-9s %9s %9s %9s %9s %10s %12s\n", "auth key", "DH", "sign", "verify",
	       "keygen", "derive", "side µs", "side/s");
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (size_t g = 0; g < 3; g++) {
			/* every key with X25519; the other groups once, with ECDSA */
			if (g > 0 && keys[k] != ICC_ECDSA_P256)
				continue;
			if (icc_measure(keys[k], groups[g], batch, &r) != 0) {
				fprintf(stderr, "%s/%s: set-up failed\n", icc_key_name(keys[k]),
					gname[g]);
				return 1;
			}
			printf("%-12s %-9s %9.1f %9.1f %9.1f %9.1f %10.1f %12.0f\n",
			       icc_key_name(keys[k]), gname[g], r.sign_us, r.verify_us, r.keygen_us,
			       r.derive_us, r.side_us, 1e6 / r.side_us);
		}
	}
	return 0;
}
