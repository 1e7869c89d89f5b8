/* libFuzzer harness for the key-lookup answer path without the network: arbitrary bytes as a
 * DNS response are parsed (ldns), the records of the asked type extracted through the codecs
 * and the gateway policy applied (dk_answer_process), and the authority section classified
 * as a DS denial (dk_v_classify_ds_denial). The first byte picks the query type, the name and
 * the validation state; the rest is the message. Results must be self-consistent. */
#include <stdlib.h>

#include "dk_lookup_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t types[] = { DK_RR_IPSECKEY, DK_RR_TXT, DK_RR_KEY, DK_RR_IPSECKEY };

static void check(const struct dk_result *r, enum dk_val val, const struct oe_addr *self)
{
	if ((unsigned)r->status >= DK_L_COUNT)
		abort();
	if (r->nfound && r->status != DK_L_FOUND)
		abort();
	if (r->status == DK_L_FOUND && !r->nfound)
		abort();
	if (val == DK_VAL_BOGUS && r->nfound)
		abort();
	for (size_t i = 0; i < r->nfound; i++) {
		const struct dk_found *f = &r->found[i];

		if (i && f->precedence < r->found[i - 1].precedence)
			abort(); /* sorted, lowest first */
		if (f->key.len > DK_PUBKEY_MAX || (f->key.len && !f->pkey))
			abort();
		/* Not validated: only the host itself may be the gateway. */
		if (val != DK_VAL_SECURE &&
		    (f->gw_type == DK_GW_IPV4 || f->gw_type == DK_GW_IPV6) &&
		    (!self || !oe_addr_eq(&f->gw_addr, self)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "1.2.0.192.in-addr.arpa.", "host.oe.test." };
	struct oe_addr self = { .af = AF_INET, .b = { 192, 0, 2, 1 } };
	struct dk_result r;
	enum dk_val val;
	ldns_pkt *pkt = NULL;
	bool fqdn;

	if (size < 1)
		return 0;
	val = (enum dk_val)(data[0] >> 2 & 3);
	fqdn = data[0] >> 4 & 1;
	dk_answer_process(data + 1, size - 1, names[fqdn], types[data[0] & 3],
			  fqdn ? NULL : &self, val, &r);
	check(&r, val, fqdn ? NULL : &self);
	dk_result_clear(&r);
	if (ldns_wire2pkt(&pkt, data + 1, size - 1) == LDNS_STATUS_OK) {
		ldns_rdf *n = ldns_dname_new_frm_str(names[fqdn]);

		if ((unsigned)dk_v_classify_ds_denial(pkt, n) > DK_CUT_NOPROOF)
			abort();
		ldns_rdf_deep_free(n);
	}
	ldns_pkt_free(pkt);
	return 0;
}
