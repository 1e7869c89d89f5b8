/* libFuzzer harness for the trapped-packet parser (kern_pkt_parse) and the ICMP error built
 * from it: any bytes a local process can put in a packet. What parses must build an error
 * that parses again, from the destination back to the source. */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[1280];
	struct kern_pkt k, e;
	size_t n;

	if (kern_pkt_parse(data, size, &k) != KERN_PKT_OK)
		return 0;
	if (k.src.af != k.dst.af || (k.src.af != AF_INET && k.src.af != AF_INET6))
		abort();
	n = kern_icmp_build(data, size, out, sizeof(out));
	if (!n)
		return 0;
	if (kern_pkt_parse(out, n, &e) != KERN_PKT_OK || !oe_addr_eq(&e.src, &k.dst) ||
	    !oe_addr_eq(&e.dst, &k.src) || e.ip_len != n)
		abort();
	return 0;
}
