/* SA payload negotiation (RFC 7296 §2.7, §3.3): our proposals for the IKE SA and for ESP
 * Child SAs, the responder's choice of one transform per type in our order of preference, the
 * initiator's check that an answer is one of the things it offered, and the NAT_DETECTION
 * hashes (§2.23). Only AEAD (AES-GCM-16) is negotiated, so there is no integrity transform. */
#include "ike_int.h"

#include <string.h>

#include <openssl/evp.h>

static void add_xf(struct ike_proposal *p, uint8_t type, uint16_t id, uint16_t key_len)
{
	if (p->n_xf >= IKE_MAX_TRANSFORMS)
		return;
	p->xf[p->n_xf].type = type;
	p->xf[p->n_xf].id = id;
	p->xf[p->n_xf].key_len = key_len;
	p->xf[p->n_xf].unknown_attr = false;
	p->n_xf++;
}

void ike_prop_ike(const struct ike_conf *c, struct ike_proposal *p, const uint8_t *spi)
{
	memset(p, 0, sizeof(*p));
	p->num = 1;
	p->proto = IKE_PROTO_IKE;
	if (spi) {
		p->spi_size = IKE_SPI_LEN;
		memcpy(p->spi, spi, IKE_SPI_LEN);
	}
	for (size_t i = 0; i < c->nencr; i++)
		add_xf(p, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, c->encr_bits[i]);
	for (size_t i = 0; i < c->nprf; i++)
		add_xf(p, IKE_XF_PRF, c->prf[i], 0);
	for (size_t i = 0; i < c->ndh; i++)
		add_xf(p, IKE_XF_DH, c->dh[i], 0);
}

void ike_prop_esp(const struct ike_conf *c, struct ike_proposal *p, uint32_t spi)
{
	memset(p, 0, sizeof(*p));
	p->num = 1;
	p->proto = IKE_PROTO_ESP;
	p->spi_size = 4;
	p->spi[0] = (uint8_t)(spi >> 24);
	p->spi[1] = (uint8_t)(spi >> 16);
	p->spi[2] = (uint8_t)(spi >> 8);
	p->spi[3] = (uint8_t)spi;
	for (size_t i = 0; i < c->nencr; i++)
		add_xf(p, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, c->encr_bits[i]);
	if (c->esn)
		add_xf(p, IKE_XF_ESN, IKE_ESN_YES, 0);
	add_xf(p, IKE_XF_ESN, IKE_ESN_NO, 0);
}

void ike_prop_add_dh(struct ike_proposal *p, uint16_t group)
{
	add_xf(p, IKE_XF_DH, group, 0);
}

static bool offered(const struct ike_proposal *p, uint8_t type, uint16_t id, uint16_t key_len)
{
	for (size_t i = 0; i < p->n_xf; i++)
		if (p->xf[i].type == type && p->xf[i].id == id && !p->xf[i].unknown_attr &&
		    p->xf[i].key_len == key_len)
			return true;
	return false;
}

static bool has_type(const struct ike_proposal *p, uint8_t type)
{
	for (size_t i = 0; i < p->n_xf; i++)
		if (p->xf[i].type == type)
			return true;
	return false;
}

bool ike_prop_has_dh(const struct ike_sa_pl *offer, uint16_t g)
{
	for (size_t i = 0; i < offer->n_prop; i++)
		if (offer->prop[i].proto == IKE_PROTO_IKE && offered(&offer->prop[i], IKE_XF_DH, g, 0))
			return true;
	return false;
}

static uint32_t spi32(const struct ike_proposal *p)
{
	return (uint32_t)p->spi[0] << 24 | (uint32_t)p->spi[1] << 16 | (uint32_t)p->spi[2] << 8 |
	       p->spi[3];
}

/* One chosen transform per type, in our order of preference (§2.7: the responder picks). */
static bool choose_ike(const struct ike_conf *c, const struct ike_proposal *p, uint16_t *dh,
		       uint16_t *prf, uint16_t *encr_bits)
{
	size_t i, j, k;

	for (i = 0; i < c->nencr && !offered(p, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16,
					     c->encr_bits[i]); i++)
		;
	for (j = 0; j < c->nprf && !offered(p, IKE_XF_PRF, c->prf[j], 0); j++)
		;
	for (k = 0; k < c->ndh && !offered(p, IKE_XF_DH, c->dh[k], 0); k++)
		;
	/* RFC 5282 §8: with an AEAD cipher an integrity transform is absent or NONE */
	if (i == c->nencr || j == c->nprf || k == c->ndh ||
	    (has_type(p, IKE_XF_INTEG) && !offered(p, IKE_XF_INTEG, IKE_INTEG_NONE, 0)))
		return false;
	*encr_bits = c->encr_bits[i];
	*prf = c->prf[j];
	*dh = c->dh[k];
	return true;
}

bool ike_prop_select_ike(const struct ike_conf *c, const struct ike_sa_pl *offer,
			 struct ike_proposal *chosen, uint16_t *dh, uint16_t *prf,
			 uint16_t *encr_bits)
{
	for (size_t n = 0; n < offer->n_prop; n++) {
		const struct ike_proposal *p = &offer->prop[n];

		if (p->proto != IKE_PROTO_IKE || !choose_ike(c, p, dh, prf, encr_bits))
			continue;
		memset(chosen, 0, sizeof(*chosen));
		chosen->num = p->num;
		chosen->proto = IKE_PROTO_IKE;
		add_xf(chosen, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, *encr_bits);
		add_xf(chosen, IKE_XF_PRF, *prf, 0);
		add_xf(chosen, IKE_XF_DH, *dh, 0);
		return true;
	}
	return false;
}

/* The DH transform of an ESP proposal: in IKE_AUTH (no KE: dh NULL) only NONE (§1.2); in
 * CREATE_CHILD_SA one of our groups (PFS, §1.3.1) in our order, else NONE or none at all. */
static bool choose_esp_dh(const struct ike_conf *c, const struct ike_proposal *p, uint16_t *dh)
{
	if (!has_type(p, IKE_XF_DH)) {
		if (dh)
			*dh = 0;
		return true;
	}
	for (size_t k = 0; dh && k < c->ndh; k++)
		if (offered(p, IKE_XF_DH, c->dh[k], 0)) {
			*dh = c->dh[k];
			return true;
		}
	if (dh)
		*dh = 0;
	return offered(p, IKE_XF_DH, IKE_DH_NONE, 0);
}

static bool choose_esp(const struct ike_conf *c, const struct ike_proposal *p,
		       uint16_t *encr_bits, bool *esn, uint16_t *dh)
{
	size_t i;

	for (i = 0; i < c->nencr && !offered(p, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16,
					     c->encr_bits[i]); i++)
		;
	if (i == c->nencr || p->spi_size != 4 || spi32(p) == 0)
		return false;
	if (has_type(p, IKE_XF_INTEG) && !offered(p, IKE_XF_INTEG, IKE_INTEG_NONE, 0))
		return false;
	if (!choose_esp_dh(c, p, dh))
		return false;
	if (c->esn && offered(p, IKE_XF_ESN, IKE_ESN_YES, 0))
		*esn = true;
	else if (!has_type(p, IKE_XF_ESN) || offered(p, IKE_XF_ESN, IKE_ESN_NO, 0))
		*esn = false;
	else
		return false;
	*encr_bits = c->encr_bits[i];
	return true;
}

bool ike_prop_select_esp(const struct ike_conf *c, const struct ike_sa_pl *offer,
			 struct ike_proposal *chosen, uint16_t *encr_bits, bool *esn,
			 uint32_t *peer_spi, uint16_t *dh)
{
	for (size_t n = 0; n < offer->n_prop; n++) {
		const struct ike_proposal *p = &offer->prop[n];

		if (p->proto != IKE_PROTO_ESP || !choose_esp(c, p, encr_bits, esn, dh))
			continue;
		*peer_spi = spi32(p);
		memset(chosen, 0, sizeof(*chosen));
		chosen->num = p->num;
		chosen->proto = IKE_PROTO_ESP;
		chosen->spi_size = 4;
		add_xf(chosen, IKE_XF_ENCR, IKE_ENCR_AES_GCM_16, *encr_bits);
		add_xf(chosen, IKE_XF_ESN, *esn ? IKE_ESN_YES : IKE_ESN_NO, 0);
		if (dh && *dh)
			add_xf(chosen, IKE_XF_DH, *dh, 0);
		return true;
	}
	return false;
}

/* An answer has exactly one proposal with one transform per type it needs. */
static bool single(const struct ike_sa_pl *answer, uint8_t proto)
{
	const struct ike_proposal *p = &answer->prop[0];
	unsigned seen = 0;

	if (answer->n_prop != 1 || p->proto != proto)
		return false;
	for (size_t i = 0; i < p->n_xf; i++) {
		unsigned bit = 1u << (p->xf[i].type & 31);

		if (seen & bit)
			return false;
		seen |= bit;
	}
	return true;
}

bool ike_prop_check_ike(const struct ike_conf *c, const struct ike_sa_pl *answer, uint16_t *dh,
			uint16_t *prf, uint16_t *encr_bits)
{
	return single(answer, IKE_PROTO_IKE) && choose_ike(c, &answer->prop[0], dh, prf, encr_bits);
}

bool ike_prop_check_esp(const struct ike_conf *c, const struct ike_sa_pl *answer,
			uint16_t *encr_bits, bool *esn, uint32_t *peer_spi, uint16_t *dh)
{
	if (!single(answer, IKE_PROTO_ESP) ||
	    !choose_esp(c, &answer->prop[0], encr_bits, esn, dh))
		return false;
	*peer_spi = spi32(&answer->prop[0]);
	return true;
}

void ike_natd_hash(const uint8_t spi_i[8], const uint8_t spi_r[8], const struct ike_endpoint *ep,
		   uint8_t out[20])
{
	uint8_t buf[8 + 8 + 16 + 2];
	size_t alen = ep->addr.af == AF_INET ? 4 : 16, n = 0;
	unsigned olen = 0;

	memcpy(buf, spi_i, 8);
	memcpy(buf + 8, spi_r, 8);
	memcpy(buf + 16, ep->addr.b, alen);
	n = 16 + alen;
	buf[n++] = (uint8_t)(ep->port >> 8);
	buf[n++] = (uint8_t)ep->port;
	if (EVP_Digest(buf, n, out, &olen, EVP_sha1(), NULL) != 1)
		memset(out, 0, 20);
}
