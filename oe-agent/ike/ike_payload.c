/* IKEv2 payload bodies (RFC 7296 §3.3-§3.15): for each payload a pure validate_x() that walks
 * the body through a checked cursor and says what is wrong, then decode_x() that fills the
 * struct, and encode_x() for the builder. Generic headers and chains are ike_msg.c's. */
#include <string.h>

#include "ike_codec_int.h"
#include "oe_cursor.h"

/* ==== SA (§3.3) ==============================================================================
 *  Proposal:  Last(0|2) | RESERVED | Proposal Length(2) | Proposal Num | Protocol ID |
 *             SPI Size | Num Transforms | SPI (variable) | <Transforms>
 *  Transform: Last(0|3) | RESERVED | Transform Length(2) | Type | RESERVED | Transform ID(2) |
 *             Attributes
 *  Attribute: A(1 bit) + Type(15) | Length or Value(2) | [Value]   (§3.3.5) */

static enum ike_codec_status validate_attrs(struct oe_cur c)
{
	while (c.len > 0) {
		uint16_t t, lv;

		if (!oe_cur_u16(&c, &t) || !oe_cur_u16(&c, &lv))
			return IKE_CODEC_BAD_ATTRIBUTE;
		if (t & 0x8000)
			continue; /* TV: the value was the second field */
		if ((t & 0x7fff) == IKE_ATTR_KEY_LENGTH)
			return IKE_CODEC_BAD_ATTRIBUTE; /* Key Length is TV only (§3.3.5) */
		if (!oe_cur_skip(&c, lv))
			return IKE_CODEC_BAD_ATTRIBUTE;
	}
	return IKE_CODEC_OK;
}

static enum ike_codec_status validate_transforms(struct oe_cur c, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t last, rsv, type;
		uint16_t len;
		struct oe_cur t;

		if (!oe_cur_u8(&c, &last) || !oe_cur_u8(&c, &rsv) || !oe_cur_u16(&c, &len))
			return IKE_CODEC_BAD_TRANSFORM;
		if (len < 8 || !oe_cur_sub(&c, len - 4u, &t))
			return IKE_CODEC_BAD_TRANSFORM;
		if (last != (i + 1 == n ? 0 : 3))
			return IKE_CODEC_BAD_TRANSFORM;
		if (!oe_cur_u8(&t, &type) || type == 0 || !oe_cur_skip(&t, 3))
			return IKE_CODEC_BAD_TRANSFORM;
		enum ike_codec_status st = validate_attrs(t);
		if (st != IKE_CODEC_OK)
			return st;
	}
	return c.len == 0 ? IKE_CODEC_OK : IKE_CODEC_BAD_TRANSFORM;
}

static bool spi_size_ok(uint8_t proto, uint8_t size)
{
	if (proto == IKE_PROTO_IKE)
		return size == 0 || size == 8;
	return (proto == IKE_PROTO_ESP || proto == IKE_PROTO_AH) && size == 4;
}

static enum ike_codec_status validate_sa(struct oe_cur c)
{
	unsigned prev = 0;

	if (c.len == 0)
		return IKE_CODEC_BAD_PROPOSAL;
	while (c.len > 0) {
		uint8_t last, rsv, num, proto, spi_size, n_xf;
		uint16_t len;
		struct oe_cur p;

		if (!oe_cur_u8(&c, &last) || !oe_cur_u8(&c, &rsv) || !oe_cur_u16(&c, &len))
			return IKE_CODEC_BAD_PROPOSAL;
		if (len < 8 || !oe_cur_sub(&c, len - 4u, &p))
			return IKE_CODEC_BAD_PROPOSAL;
		if (last != (c.len == 0 ? 0 : 2))
			return IKE_CODEC_BAD_PROPOSAL;
		if (!oe_cur_u8(&p, &num) || !oe_cur_u8(&p, &proto) || !oe_cur_u8(&p, &spi_size) ||
		    !oe_cur_u8(&p, &n_xf))
			return IKE_CODEC_BAD_PROPOSAL;
		/* §3.3.1: numbered 1, 2, 3... in a request; an answer carries the one accepted
		 * proposal with the number it had, so only the order is checked here. */
		if (num == 0 || (prev && num != prev + 1))
			return IKE_CODEC_BAD_PROPOSAL;
		prev = num;
		if (!spi_size_ok(proto, spi_size) || !oe_cur_skip(&p, spi_size) || n_xf == 0)
			return IKE_CODEC_BAD_PROPOSAL;
		enum ike_codec_status st = validate_transforms(p, n_xf);
		if (st != IKE_CODEC_OK)
			return st;
	}
	return IKE_CODEC_OK;
}

static void decode_transform(struct oe_cur t, struct ike_transform *x)
{
	uint8_t rsv;

	memset(x, 0, sizeof(*x));
	(void)(oe_cur_u8(&t, &x->type) && oe_cur_u8(&t, &rsv) && oe_cur_u16(&t, &x->id));
	while (t.len >= 4) {
		uint16_t type = 0, lv = 0;

		(void)(oe_cur_u16(&t, &type) && oe_cur_u16(&t, &lv));
		if (type == (0x8000 | IKE_ATTR_KEY_LENGTH)) {
			x->key_len = lv;
			continue;
		}
		x->unknown_attr = true;
		if (!(type & 0x8000) && !oe_cur_skip(&t, lv))
			break;
	}
}

static enum ike_codec_status decode_sa(struct ike_msg *m, struct oe_cur c, struct ike_sa_pl *sa)
{
	sa->prop = &m->prop_pool[m->n_prop];
	sa->n_prop = 0;
	while (c.len > 0) {
		uint8_t hdr4[4], n_xf;
		struct oe_cur p;
		struct ike_proposal *pr;

		if (m->n_prop == IKE_MAX_PROPOSALS)
			return IKE_CODEC_TOO_MANY;
		pr = &m->prop_pool[m->n_prop];
		memset(pr, 0, sizeof(*pr));
		if (!oe_cur_bytes(&c, hdr4, 4) ||
		    !oe_cur_sub(&c, (size_t)(hdr4[2] << 8 | hdr4[3]) - 4u, &p) ||
		    !oe_cur_u8(&p, &pr->num) || !oe_cur_u8(&p, &pr->proto) ||
		    !oe_cur_u8(&p, &pr->spi_size) || !oe_cur_u8(&p, &n_xf) ||
		    !oe_cur_bytes(&p, pr->spi, pr->spi_size))
			return IKE_CODEC_BAD_PROPOSAL;
		if (n_xf > IKE_MAX_TRANSFORMS)
			return IKE_CODEC_TOO_MANY;
		for (unsigned i = 0; i < n_xf; i++) {
			uint16_t len;
			struct oe_cur t;

			if (!oe_cur_skip(&p, 2) || !oe_cur_u16(&p, &len) ||
			    !oe_cur_sub(&p, len - 4u, &t))
				return IKE_CODEC_BAD_TRANSFORM;
			decode_transform(t, &pr->xf[i]);
		}
		pr->n_xf = n_xf;
		m->n_prop++;
		sa->n_prop++;
	}
	return IKE_CODEC_OK;
}

static void encode_sa(struct ike_builder *b, const struct ike_sa_pl *sa)
{
	for (size_t i = 0; i < sa->n_prop; i++) {
		const struct ike_proposal *pr = &sa->prop[i];
		size_t plen = 8u + pr->spi_size;

		for (unsigned j = 0; j < pr->n_xf; j++)
			plen += pr->xf[j].key_len ? 12 : 8;
		if (pr->spi_size > IKE_SPI_LEN || pr->n_xf > IKE_MAX_TRANSFORMS || plen > 0xffff) {
			b->st = b->st ? b->st : IKE_CODEC_BUILD;
			return;
		}
		uint8_t h[8] = { i + 1 == sa->n_prop ? 0 : 2, 0, (uint8_t)(plen >> 8),
				 (uint8_t)plen, pr->num, pr->proto, pr->spi_size, pr->n_xf };
		ike_build_bytes(b, h, 8);
		ike_build_bytes(b, pr->spi, pr->spi_size);
		for (unsigned j = 0; j < pr->n_xf; j++) {
			const struct ike_transform *x = &pr->xf[j];
			uint8_t t[12] = { j + 1 == pr->n_xf ? 0 : 3, 0, 0, x->key_len ? 12 : 8,
					  x->type, 0, (uint8_t)(x->id >> 8), (uint8_t)x->id,
					  0x80, IKE_ATTR_KEY_LENGTH, (uint8_t)(x->key_len >> 8),
					  (uint8_t)x->key_len };
			ike_build_bytes(b, t, x->key_len ? 12 : 8);
		}
	}
}

/* ==== KE (§3.4): DH Group Num(2) | RESERVED(2) | Key Exchange Data ========================= */

static enum ike_codec_status validate_ke(struct oe_cur c)
{
	return c.len > 4 ? IKE_CODEC_OK : IKE_CODEC_BAD_KE;
}

static void decode_ke(struct oe_cur c, struct ike_ke_pl *ke)
{
	(void)(oe_cur_u16(&c, &ke->group) && oe_cur_skip(&c, 2));
	ke->data = c.p;
	ke->len = c.len;
}

/* ==== Ni/Nr (§3.9): 16..256 octets =========================================================== */

static enum ike_codec_status validate_nonce(struct oe_cur c)
{
	return c.len >= 16 && c.len <= 256 ? IKE_CODEC_OK : IKE_CODEC_BAD_NONCE;
}

/* ==== IDi/IDr (§3.5): ID Type | RESERVED(3) | Identification Data =========================== */

static enum ike_codec_status validate_id(struct oe_cur c)
{
	uint8_t type;

	if (!oe_cur_u8(&c, &type) || !oe_cur_skip(&c, 3))
		return IKE_CODEC_BAD_ID;
	switch (type) {
	case IKE_ID_IPV4_ADDR:
		return c.len == 4 ? IKE_CODEC_OK : IKE_CODEC_BAD_ID;
	case IKE_ID_IPV6_ADDR:
		return c.len == 16 ? IKE_CODEC_OK : IKE_CODEC_BAD_ID;
	case IKE_ID_NULL:
		return IKE_CODEC_OK; /* RFC 7619 §3: data ignored */
	default:
		return c.len > 0 ? IKE_CODEC_OK : IKE_CODEC_BAD_ID;
	}
}

/* ==== AUTH (§3.8): Auth Method | RESERVED(3) | Authentication Data ========================== */

static enum ike_codec_status validate_auth(struct oe_cur c)
{
	return c.len > 4 ? IKE_CODEC_OK : IKE_CODEC_BAD_AUTH;
}

/* Shared by ID and AUTH: one type octet, three reserved, data. */
static void decode_typed(struct oe_cur c, uint8_t *type, const uint8_t **data, size_t *len)
{
	(void)(oe_cur_u8(&c, type) && oe_cur_skip(&c, 3));
	*data = c.p;
	*len = c.len;
}

/* ==== N (§3.10): Protocol ID | SPI Size | Notify Type(2) | SPI | Notification Data ========== */

static enum ike_codec_status validate_notify(struct oe_cur c)
{
	uint8_t proto, spi_size;

	if (!oe_cur_u8(&c, &proto) || !oe_cur_u8(&c, &spi_size) || !oe_cur_skip(&c, 2))
		return IKE_CODEC_BAD_NOTIFY;
	if (proto > IKE_PROTO_ESP || (spi_size != 0 && spi_size != 4 && spi_size != 8))
		return IKE_CODEC_BAD_NOTIFY;
	return oe_cur_skip(&c, spi_size) ? IKE_CODEC_OK : IKE_CODEC_BAD_NOTIFY;
}

static void decode_notify(struct oe_cur c, struct ike_notify_pl *n)
{
	(void)(oe_cur_u8(&c, &n->proto) && oe_cur_u8(&c, &n->spi_size) &&
	       oe_cur_u16(&c, &n->type) && oe_cur_bytes(&c, n->spi, n->spi_size));
	n->data = c.p;
	n->len = c.len;
}

/* ==== D (§3.11): Protocol ID | SPI Size | Num of SPIs(2) | SPIs ============================== */

static enum ike_codec_status validate_delete(struct oe_cur c)
{
	uint8_t proto, spi_size;
	uint16_t n;

	if (!oe_cur_u8(&c, &proto) || !oe_cur_u8(&c, &spi_size) || !oe_cur_u16(&c, &n))
		return IKE_CODEC_BAD_DELETE;
	if (proto == IKE_PROTO_IKE)
		return spi_size == 0 && n == 0 && c.len == 0 ? IKE_CODEC_OK : IKE_CODEC_BAD_DELETE;
	if ((proto != IKE_PROTO_ESP && proto != IKE_PROTO_AH) || spi_size != 4)
		return IKE_CODEC_BAD_DELETE;
	return c.len == (size_t)n * 4u ? IKE_CODEC_OK : IKE_CODEC_BAD_DELETE;
}

static void decode_delete(struct oe_cur c, struct ike_delete_pl *d)
{
	(void)(oe_cur_u8(&c, &d->proto) && oe_cur_u8(&c, &d->spi_size) &&
	       oe_cur_u16(&c, &d->n_spi));
	d->spis = c.p;
}

uint32_t ike_delete_spi(const struct ike_delete_pl *d, size_t i)
{
	const uint8_t *p;

	if (d->spi_size != 4 || i >= d->n_spi)
		return 0;
	p = d->spis + 4 * i;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ==== TSi/TSr (§3.13): Number of TSs | RESERVED(3) | selectors ===============================
 *  Selector: TS Type | IP Protocol ID | Selector Length(2) | Start Port(2) | End Port(2) |
 *            Starting Address | Ending Address   (16 octets for type 7, 40 for type 8) */

static enum ike_codec_status validate_ts(struct oe_cur c)
{
	uint8_t n = 0;

	if (!oe_cur_u8(&c, &n) || !oe_cur_skip(&c, 3) || n == 0)
		return IKE_CODEC_BAD_TS;
	for (unsigned i = 0; i < n; i++) {
		uint8_t type, proto;
		uint16_t len;
		struct oe_cur s;

		if (!oe_cur_u8(&c, &type) || !oe_cur_u8(&c, &proto) || !oe_cur_u16(&c, &len))
			return IKE_CODEC_BAD_TS;
		if (type != IKE_TS_IPV4_ADDR_RANGE && type != IKE_TS_IPV6_ADDR_RANGE)
			return IKE_CODEC_BAD_TS;
		size_t alen = type == IKE_TS_IPV4_ADDR_RANGE ? 4 : 16;
		if (len != 8 + 2 * alen || !oe_cur_sub(&c, len - 4u, &s))
			return IKE_CODEC_BAD_TS;
		/* Start port > end port is legal ("OPAQUE", §3.13.1); start address > end not. */
		if (memcmp(s.p + 4, s.p + 4 + alen, alen) > 0)
			return IKE_CODEC_BAD_TS;
	}
	return c.len == 0 ? IKE_CODEC_OK : IKE_CODEC_BAD_TS;
}

static enum ike_codec_status decode_ts(struct ike_msg *m, struct oe_cur c, struct ike_ts_pl *tp)
{
	uint8_t n = 0;

	(void)(oe_cur_u8(&c, &n) && oe_cur_skip(&c, 3));
	tp->ts = &m->ts_pool[m->n_ts];
	tp->n = 0;
	for (unsigned i = 0; i < n; i++) {
		struct ike_ts *t;
		uint16_t len;

		if (m->n_ts == IKE_MAX_TS)
			return IKE_CODEC_TOO_MANY;
		t = &m->ts_pool[m->n_ts];
		memset(t, 0, sizeof(*t));
		if (!oe_cur_u8(&c, &t->type) || !oe_cur_u8(&c, &t->proto) ||
		    !oe_cur_u16(&c, &len) || !oe_cur_u16(&c, &t->sport) ||
		    !oe_cur_u16(&c, &t->eport))
			return IKE_CODEC_BAD_TS;
		size_t alen = t->type == IKE_TS_IPV4_ADDR_RANGE ? 4 : 16;
		t->start.af = t->end.af = alen == 4 ? AF_INET : AF_INET6;
		if (!oe_cur_bytes(&c, t->start.b, alen) || !oe_cur_bytes(&c, t->end.b, alen))
			return IKE_CODEC_BAD_TS;
		m->n_ts++;
		tp->n++;
	}
	return IKE_CODEC_OK;
}

static void encode_ts(struct ike_builder *b, const struct ike_ts_pl *tp)
{
	uint8_t h[4] = { (uint8_t)tp->n, 0, 0, 0 };

	if (tp->n == 0 || tp->n > 255) {
		b->st = b->st ? b->st : IKE_CODEC_BUILD;
		return;
	}
	ike_build_bytes(b, h, 4);
	for (size_t i = 0; i < tp->n; i++) {
		const struct ike_ts *t = &tp->ts[i];
		size_t alen = t->type == IKE_TS_IPV4_ADDR_RANGE ? 4 : 16;
		uint8_t s[8] = { t->type, t->proto, 0, (uint8_t)(8 + 2 * alen),
				 (uint8_t)(t->sport >> 8), (uint8_t)t->sport,
				 (uint8_t)(t->eport >> 8), (uint8_t)t->eport };

		ike_build_bytes(b, s, 8);
		ike_build_bytes(b, t->start.b, alen);
		ike_build_bytes(b, t->end.b, alen);
	}
}

/* ==== CP (§3.15): CFG Type | RESERVED(3) | attributes: R + Type(15) | Length(2) | Value ====== */

static enum ike_codec_status validate_cp(struct oe_cur c)
{
	uint8_t type;

	if (!oe_cur_u8(&c, &type) || !oe_cur_skip(&c, 3))
		return IKE_CODEC_BAD_CP;
	if (type < IKE_CFG_REQUEST || type > IKE_CFG_ACK)
		return IKE_CODEC_BAD_CP;
	while (c.len > 0) {
		uint16_t t, len;

		if (!oe_cur_u16(&c, &t) || !oe_cur_u16(&c, &len) || !oe_cur_skip(&c, len))
			return IKE_CODEC_BAD_CP;
	}
	return IKE_CODEC_OK;
}

static enum ike_codec_status decode_cp(struct oe_cur c, struct ike_cp_pl *cp)
{
	(void)(oe_cur_u8(&c, &cp->cfg_type) && oe_cur_skip(&c, 3));
	cp->n_attr = 0;
	while (c.len > 0) {
		struct ike_cp_attr *a, spare;

		/* a long request is still a CP request: we refuse every one (§3.15.4) and need
		 * none of its attributes, so the message is not dropped for them */
		if (cp->n_attr == IKE_MAX_CP_ATTRS) {
			a = &spare;
			cp->more = true;
		} else {
			a = &cp->attr[cp->n_attr++];
		}
		if (!oe_cur_u16(&c, &a->type) || !oe_cur_u16(&c, &a->len))
			return IKE_CODEC_BAD_CP;
		a->type &= 0x7fff;
		a->data = c.p;
		if (!oe_cur_skip(&c, a->len))
			return IKE_CODEC_BAD_CP;
	}
	return IKE_CODEC_OK;
}

static void encode_cp(struct ike_builder *b, const struct ike_cp_pl *cp)
{
	uint8_t h[4] = { cp->cfg_type, 0, 0, 0 };

	ike_build_bytes(b, h, 4);
	for (unsigned i = 0; i < cp->n_attr && i < IKE_MAX_CP_ATTRS; i++) {
		const struct ike_cp_attr *a = &cp->attr[i];
		uint8_t ah[4] = { (uint8_t)(a->type >> 8 & 0x7f), (uint8_t)a->type,
				  (uint8_t)(a->len >> 8), (uint8_t)a->len };

		ike_build_bytes(b, ah, 4);
		ike_build_bytes(b, a->data, a->len);
	}
}

/* ==== dispatch =============================================================================== */

static enum ike_codec_status validate_payload(uint8_t type, struct oe_cur body)
{
	switch (type) {
	case IKE_PL_SA:
		return validate_sa(body);
	case IKE_PL_KE:
		return validate_ke(body);
	case IKE_PL_NONCE:
		return validate_nonce(body);
	case IKE_PL_IDI:
	case IKE_PL_IDR:
		return validate_id(body);
	case IKE_PL_AUTH:
		return validate_auth(body);
	case IKE_PL_NOTIFY:
		return validate_notify(body);
	case IKE_PL_DELETE:
		return validate_delete(body);
	case IKE_PL_TSI:
	case IKE_PL_TSR:
		return validate_ts(body);
	case IKE_PL_CP:
		return validate_cp(body);
	default: /* V, CERT, CERTREQ, EAP: opaque */
		return IKE_CODEC_OK;
	}
}

enum ike_codec_status ike_payload_decode(struct ike_msg *m, uint8_t type, struct oe_cur body,
					 struct ike_payload *p)
{
	enum ike_codec_status st = validate_payload(type, body);

	if (st != IKE_CODEC_OK)
		return st;
	p->type = type;
	switch (type) {
	case IKE_PL_SA:
		return decode_sa(m, body, &p->u.sa);
	case IKE_PL_KE:
		decode_ke(body, &p->u.ke);
		return IKE_CODEC_OK;
	case IKE_PL_IDI:
	case IKE_PL_IDR:
		decode_typed(body, &p->u.id.type, &p->u.id.data, &p->u.id.len);
		return IKE_CODEC_OK;
	case IKE_PL_AUTH:
		decode_typed(body, &p->u.auth.method, &p->u.auth.data, &p->u.auth.len);
		return IKE_CODEC_OK;
	case IKE_PL_NOTIFY:
		decode_notify(body, &p->u.n);
		return IKE_CODEC_OK;
	case IKE_PL_DELETE:
		decode_delete(body, &p->u.d);
		return IKE_CODEC_OK;
	case IKE_PL_TSI:
	case IKE_PL_TSR:
		return decode_ts(m, body, &p->u.ts);
	case IKE_PL_CP:
		return decode_cp(body, &p->u.cp);
	default: /* Ni/Nr and the opaque ones */
		p->u.raw.data = body.p;
		p->u.raw.len = body.len;
		return IKE_CODEC_OK;
	}
}

static void encode_typed(struct ike_builder *b, uint8_t type, const uint8_t *data, size_t len)
{
	uint8_t h[4] = { type, 0, 0, 0 };

	ike_build_bytes(b, h, 4);
	ike_build_bytes(b, data, len);
}

void ike_payload_encode(struct ike_builder *b, const struct ike_payload *p)
{
	switch (p->type) {
	case IKE_PL_SA:
		encode_sa(b, &p->u.sa);
		break;
	case IKE_PL_KE: {
		uint8_t h[4] = { (uint8_t)(p->u.ke.group >> 8), (uint8_t)p->u.ke.group, 0, 0 };

		ike_build_bytes(b, h, 4);
		ike_build_bytes(b, p->u.ke.data, p->u.ke.len);
		break;
	}
	case IKE_PL_IDI:
	case IKE_PL_IDR:
		encode_typed(b, p->u.id.type, p->u.id.data, p->u.id.len);
		break;
	case IKE_PL_AUTH:
		encode_typed(b, p->u.auth.method, p->u.auth.data, p->u.auth.len);
		break;
	case IKE_PL_NOTIFY: {
		const struct ike_notify_pl *n = &p->u.n;
		uint8_t h[4] = { n->proto, n->spi_size, (uint8_t)(n->type >> 8), (uint8_t)n->type };

		if (n->spi_size > IKE_SPI_LEN) {
			b->st = b->st ? b->st : IKE_CODEC_BUILD;
			break;
		}
		ike_build_bytes(b, h, 4);
		ike_build_bytes(b, n->spi, n->spi_size);
		ike_build_bytes(b, n->data, n->len);
		break;
	}
	case IKE_PL_DELETE: {
		const struct ike_delete_pl *d = &p->u.d;
		uint8_t h[4] = { d->proto, d->spi_size, (uint8_t)(d->n_spi >> 8),
				 (uint8_t)d->n_spi };

		ike_build_bytes(b, h, 4);
		ike_build_bytes(b, d->spis, (size_t)d->n_spi * d->spi_size);
		break;
	}
	case IKE_PL_TSI:
	case IKE_PL_TSR:
		encode_ts(b, &p->u.ts);
		break;
	case IKE_PL_CP:
		encode_cp(b, &p->u.cp);
		break;
	case IKE_PL_SK:
		b->st = b->st ? b->st : IKE_CODEC_BUILD; /* use ike_build_begin_sk() */
		break;
	default:
		ike_build_bytes(b, p->u.raw.data, p->u.raw.len);
		break;
	}
}

size_t ike_id_body(const struct ike_id_pl *id, uint8_t *out, size_t cap)
{
	if (cap < 4 || id->len > cap - 4)
		return 0;
	out[0] = id->type;
	out[1] = out[2] = out[3] = 0;
	if (id->len)
		memcpy(out + 4, id->data, id->len);
	return 4 + id->len;
}
