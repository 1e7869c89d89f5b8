/* INFORMATIONAL exchanges (RFC 7296 §1.4, §1.5): DELETE of the IKE SA and of Child SAs in both
 * directions (including deletes that cross, §1.4.1), empty messages as liveness checks (§2.4;
 * the give-up of their retransmissions is the liveness timeout), and anything else answered
 * with an empty response. */
#include "ike_int.h"

#include <inttypes.h>
#include <string.h>

#include "oe_log.h"

static void add_delete(struct ike_builder *b, uint8_t proto, const uint32_t *spis, size_t n)
{
	struct ike_payload p;
	uint8_t buf[4 * 16];

	if (n > 16)
		n = 16;
	for (size_t i = 0; i < n; i++) {
		buf[4 * i] = (uint8_t)(spis[i] >> 24);
		buf[4 * i + 1] = (uint8_t)(spis[i] >> 16);
		buf[4 * i + 2] = (uint8_t)(spis[i] >> 8);
		buf[4 * i + 3] = (uint8_t)spis[i];
	}
	memset(&p, 0, sizeof(p));
	p.type = IKE_PL_DELETE;
	p.u.d.proto = proto;
	p.u.d.spi_size = proto == IKE_PROTO_IKE ? 0 : 4;
	p.u.d.n_spi = (uint16_t)(proto == IKE_PROTO_IKE ? 0 : n);
	p.u.d.spis = buf;
	ike_build_add(b, &p);
}

void ike_info_start(struct ike_sa *sa, enum ike_pending what, uint32_t spi)
{
	struct ike_builder b;
	struct ike_hdr h;

	if (sa->state != IKE_S_ESTABLISHED && sa->state != IKE_S_REKEYED)
		return;
	ike_sa_hdr(sa, &h, IKE_EXCH_INFORMATIONAL, false, sa->next_req_id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	if (what == IKE_P_DELETE_IKE) {
		add_delete(&b, IKE_PROTO_IKE, NULL, 0);
		ike_sa_set_state(sa, IKE_S_DELETING);
	} else if (what == IKE_P_DELETE_CHILD) {
		struct child_sa *c = child_sa_by_spi_in(sa, spi);

		if (c && c->state != CHILD_S_DELETING)
			child_sa_set_state(sa, c, CHILD_S_DELETING);
		add_delete(&b, IKE_PROTO_ESP, &spi, 1);
	}
	sa->pending_spi = spi;
	ike_sa_send_sk(sa, &b, what, 0);
}

/* Child SAs the peer deletes: it names its inbound SPIs, our outbound ones. The response
 * names our inbound SPIs of the same SAs, except those we are deleting ourselves (§1.4.1). */
static size_t delete_children(struct ike_sa *sa, const struct ike_msg *m, uint32_t *ours,
			      size_t cap)
{
	const struct ike_payload *p;
	size_t at = 0, n = 0;

	while ((p = ike_msg_find(m, IKE_PL_DELETE, &at))) {
		if (p->u.d.proto != IKE_PROTO_ESP)
			continue;
		for (size_t i = 0; i < p->u.d.n_spi; i++) {
			struct child_sa *c = child_sa_by_spi_out(sa, ike_delete_spi(&p->u.d, i));

			if (!c)
				continue;
			oe_info(IKE, "Child SA %08x/%08x of IKE SA %016" PRIx64 ": DELETE from the "
				"peer%s", c->k.spi_in, c->k.spi_out, sa->spi_i,
				c->state == CHILD_S_DELETING ? " (crossed ours, §1.4.1)" : "");
			if (c->state != CHILD_S_DELETING && n < cap)
				ours[n++] = c->k.spi_in;
			child_sa_remove(sa, c);
		}
	}
	return n;
}

static bool deletes_ike(const struct ike_msg *m)
{
	const struct ike_payload *p;
	size_t at = 0;

	while ((p = ike_msg_find(m, IKE_PL_DELETE, &at)))
		if (p->u.d.proto == IKE_PROTO_IKE)
			return true;
	return false;
}

enum ike_status ike_info_request(struct ike_sa *sa, const struct ike_msg *m)
{
	struct ike_builder b;
	struct ike_hdr h;
	uint32_t spis[16];
	size_t n = 0;
	uint32_t id = m->hdr.msgid;
	bool del_ike = deletes_ike(m);

	if (sa->state < IKE_S_INIT_DONE || sa->state == IKE_S_DEAD)
		return IKE_ERR_STATE;
	if (!del_ike)
		n = delete_children(sa, m, spis, 16);
	ike_sa_hdr(sa, &h, IKE_EXCH_INFORMATIONAL, true, id);
	ike_build_init(&b, &h);
	ike_build_begin_sk(&b);
	if (n)
		add_delete(&b, IKE_PROTO_ESP, spis, n);
	ike_sa_send_sk(sa, &b, IKE_P_NONE, id);
	if (del_ike) {
		oe_info(IKE, "IKE SA %016" PRIx64 ": DELETE from the peer%s", sa->spi_i,
			sa->state == IKE_S_DELETING ? " (crossed ours, §1.4.1)" : "");
		ike_sa_kill(sa, IKE_ERR_DELETED);
	} else if (!sa->initiator && ike_msg_notify(m, IKE_N_AUTHENTICATION_FAILED)) {
		/* §2.21.2: the initiator did not accept our AUTH */
		oe_info(IKE, "IKE SA %016" PRIx64 ": the initiator refused our authentication",
			sa->spi_i);
		ike_sa_kill(sa, IKE_ERR_AUTH_FAILED);
	}
	return IKE_OK;
}

enum ike_status ike_info_response(struct ike_sa *sa, const struct ike_msg *m)
{
	enum ike_pending what = sa->pending;
	uint32_t spi = sa->pending_spi;
	struct child_sa *c;

	ike_sa_request_done(sa);
	switch (what) {
	case IKE_P_DELETE_IKE:
		ike_sa_kill(sa, IKE_ERR_DELETED);
		break;
	case IKE_P_DELETE_CHILD:
		/* gone already when the peer's DELETE of it crossed ours (§1.4.1) */
		c = child_sa_by_spi_in(sa, spi);
		if (c)
			child_sa_remove(sa, c);
		oe_info(IKE, "Child SA %08x of IKE SA %016" PRIx64 ": the peer confirmed its DELETE",
			spi, sa->spi_i);
		break;
	default: /* liveness: the answer itself is the news (last_rx_ms) */
		break;
	}
	(void)m;
	return IKE_OK;
}
