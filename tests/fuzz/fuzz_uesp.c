/* libFuzzer harness for the uesp datapath (kernel/kern_uesp.c, kern_uesp_tab.c,
 * kern_uesp_pmtu.c): two backends A and B holding the two sides of one of the 16 SA
 * configurations of esp_fuzz_sa.h, with the kernel's path MTU and the packets uesp sends
 * itself faked. Octets 0-1: the path MTU A's kernel reports (0 = no route); octet 2: low 4
 * bits pick the configuration; bit 4: the rest is a packet from the network for B (SPI lookup,
 * decryption) rather than a payload A encrypts as an inner packet; bit 5: DF on that inner
 * IPv4 packet; bit 6: the same packet a second time after the kernel took the PMTU A told.
 * What A returns for the verdict or sends itself goes to B.
 * Property: no crash, leak or sanitizer report; apart from ICMP errors towards the local
 * sender, nothing A sends itself is larger than the path MTU. */
#include <stdlib.h>

#include "esp_fuzz_sa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t inner[70000], out[70000], bout[70000];

struct world {
	struct kern_uesp *a, *b;
	unsigned pmtu;
};

static unsigned fake_pmtu(void *arg, const struct oe_addr *remote)
{
	(void)remote;
	return ((struct world *)arg)->pmtu;
}

static int a_sends(void *arg, const uint8_t *pkt, size_t n)
{
	struct world *w = arg;
	bool v4 = pkt[0] >> 4 == 4;
	bool icmp = v4 ? pkt[9] == IPPROTO_ICMP : pkt[6] == IPPROTO_ICMPV6;

	if (!icmp && n > w->pmtu)
		abort();
	if (!icmp)
		kern_uesp_process(w->b, pkt, n, bout, sizeof(bout));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kern_child_sa sa, sb;
	struct world w = { NULL, NULL, 0 };
	unsigned cfg;
	size_t n, on;

	if (size < 3 || size - 3 > 65535 - 40 - KERN_ESP_OVERHEAD_MAX)
		return 0;
	w.pmtu = (unsigned)(data[0] << 8 | data[1]);
	cfg = data[2] & 15;
	sa = esp_fuzz_child(cfg, false);
	sb = esp_fuzz_child(cfg, true);
	if (kern_uesp_open(0, 0, &w.a) || kern_uesp_open(0, 0, &w.b) ||
	    kern_uesp_ops.install(w.a, &sa) || kern_uesp_ops.install(w.b, &sb))
		abort();
	kern_uesp_set_pmtu_fn(w.a, fake_pmtu, &w);
	kern_uesp_set_send_fn(w.a, a_sends, &w);
	kern_uesp_set_pmtu_fn(w.b, fake_pmtu, &w);
	kern_uesp_set_send_fn(w.b, a_sends, &w);
	if (data[2] & 0x10) {
		kern_uesp_process(w.b, data + 3, size - 3, bout, sizeof(bout));
	} else {
		n = esp_fuzz_inner(&sa, IPPROTO_UDP, data + 3, size - 3, inner);
		if (sa.local.af == AF_INET && (data[2] & 0x20)) {
			inner[6] |= 0x40;
			esp_put16(inner + 10, 0);
			esp_put16(inner + 10, esp_sum_fold(esp_sum_add(0, inner, 20)));
		}
		for (int i = 0; i < (data[2] & 0x40 ? 2 : 1); i++) {
			on = kern_uesp_process(w.a, inner, n, out, sizeof(out));
			if (on)
				kern_uesp_process(w.b, out, on, bout, sizeof(bout));
		}
	}
	kern_uesp_close(w.a);
	kern_uesp_close(w.b);
	return 0;
}
