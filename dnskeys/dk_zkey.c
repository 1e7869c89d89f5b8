/* Trust anchors and validated zone keys: loads DS/DNSKEY anchors from files, and establishes
 * a zone's DNSKEY set by following the chain of trust up to an anchor (RFC 4035 §5: DS in the
 * parent signed by the parent's keys, DNSKEY RRset signed by a key that a DS names),
 * fetching DS and DNSKEY records asynchronously. Validated (and provably insecure) zones are
 * cached by TTL; concurrent requests for one zone wait on the same fetch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dk_lookup_int.h"
#include "oe_log.h"
#include "oe_time.h"

#define DK_ROOTKEY_DEFAULT "/usr/share/dns/root.key"
#define ZKEY_MAX_TTL 86400
#define ZKEY_MAX 1024

struct dk_anchor {
	struct dk_anchor *next;
	ldns_rdf *zone;
	ldns_rr_list *rrs; /* DS and/or DNSKEY records */
};

struct zwait {
	dk_zkey_fn *cb;
	void *arg;
};

struct dk_zkey {
	struct dk_zkey *next;
	struct dk_resolver *r;
	ldns_rdf *zone;
	bool pending;
	enum dk_val v;
	ldns_rr_list *keys;
	char reason[192];
	uint64_t expires_ms;
	struct zwait *w;
	size_t nw, capw;
	/* while pending */
	ldns_rr_list *trusted;  /* DS records or anchor records the key set must match */
	ldns_pkt *ds_pkt;       /* the DS answer, until the parent's keys are known */
};

/* ---- anchors ---- */

static int anchor_add(struct dk_resolver *r, ldns_rr *rr)
{
	struct dk_anchor *a;

	for (a = r->anchors; a; a = a->next)
		if (ldns_dname_compare(a->zone, ldns_rr_owner(rr)) == 0)
			break;
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			return -ENOMEM;
		a->zone = ldns_rdf_clone(ldns_rr_owner(rr));
		a->rrs = ldns_rr_list_new();
		a->next = r->anchors;
		r->anchors = a;
		if (!a->zone || !a->rrs)
			return -ENOMEM;
	}
	return ldns_rr_list_push_rr(a->rrs, rr) ? 0 : -ENOMEM;
}

/* Reads DS / DNSKEY records in zone-file syntax; other types are ignored. */
static int anchors_read(struct dk_resolver *r, const char *path, bool optional,
			struct oe_diag *d)
{
	FILE *f = fopen(path, "r");
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 3600;
	int line = 1, rc = 0, n = 0;

	if (!f) {
		rc = -errno;
		if (optional && rc == -ENOENT) {
			oe_warn(DNS, "%s: no root trust anchor: %s", path, strerror(-rc));
			return 0;
		}
		oe_diag_error(d, path, 0, "cannot read trust anchors: %s", strerror(-rc));
		return rc;
	}
	while (rc == 0 && !feof(f)) {
		ldns_rr *rr = NULL;
		int start = line; /* ldns counts the newline it ended on */
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);

		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN || st == LDNS_STATUS_SYNTAX_INCLUDE)
			continue;
		if (st != LDNS_STATUS_OK) {
			if (feof(f) && st == LDNS_STATUS_SYNTAX_ERR)
				break;
			oe_diag_error(d, path, (unsigned)start, "bad trust anchor record: %s",
				      ldns_get_errorstr_by_id(st));
			rc = -EINVAL;
			break;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS ||
		    ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY) {
			rc = anchor_add(r, rr);
			n++;
		} else {
			ldns_rr_free(rr);
		}
	}
	fclose(f);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (rc == 0 && n == 0 && !optional) {
		oe_diag_error(d, path, 0, "no DS or DNSKEY records");
		rc = -EINVAL;
	}
	return rc;
}

int dk_anchors_load(struct dk_resolver *r, const struct dk_lookup_conf *c, struct oe_diag *d)
{
	const char *root = c->rootkey_file ? c->rootkey_file : DK_ROOTKEY_DEFAULT;
	int rc = 0;

	if (*root)
		rc = anchors_read(r, root, c->rootkey_file == NULL, d);
	if (rc == 0 && c->anchors_file && *c->anchors_file)
		rc = anchors_read(r, c->anchors_file, false, d);
	return rc;
}

const ldns_rdf *dk_anchor_closest(const struct dk_resolver *r, const ldns_rdf *name)
{
	const struct dk_anchor *best = NULL;

	for (const struct dk_anchor *a = r->anchors; a; a = a->next) {
		if (ldns_dname_compare(a->zone, name) != 0 &&
		    !ldns_dname_is_subdomain(name, a->zone))
			continue;
		if (!best || ldns_dname_label_count(a->zone) > ldns_dname_label_count(best->zone))
			best = a;
	}
	return best ? best->zone : NULL;
}

static const struct dk_anchor *anchor_exact(const struct dk_resolver *r, const ldns_rdf *z)
{
	for (const struct dk_anchor *a = r->anchors; a; a = a->next)
		if (ldns_dname_compare(a->zone, z) == 0)
			return a;
	return NULL;
}

/* ---- the zone-key cache ---- */

static void zkey_free(struct dk_zkey *z)
{
	ldns_rdf_deep_free(z->zone);
	ldns_rr_list_deep_free(z->keys);
	ldns_rr_list_deep_free(z->trusted);
	ldns_pkt_free(z->ds_pkt);
	free(z->w);
	free(z);
}

/* Drops finished entries (all, or only expired ones). */
static void zkeys_prune(struct dk_resolver *r, bool all)
{
	struct dk_zkey **pp = &r->zkeys;
	uint64_t now = oe_now_ms();

	while (*pp) {
		struct dk_zkey *z = *pp;

		if (!z->pending && (all || z->expires_ms <= now)) {
			*pp = z->next;
			zkey_free(z);
			r->nzkeys--;
		} else {
			pp = &z->next;
		}
	}
}

void dk_validator_flush(struct dk_resolver *r)
{
	zkeys_prune(r, true);
}

void dk_validator_free(struct dk_resolver *r)
{
	while (r->zkeys) {
		struct dk_zkey *z = r->zkeys;

		r->zkeys = z->next;
		zkey_free(z);
	}
	while (r->anchors) {
		struct dk_anchor *a = r->anchors;

		r->anchors = a->next;
		ldns_rdf_deep_free(a->zone);
		ldns_rr_list_deep_free(a->rrs);
		free(a);
	}
}

static void zkey_done(struct dk_zkey *z, enum dk_val v, ldns_rr_list *keys, uint32_t ttl,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Finishes a fetch: records the verdict (keys taken) and tells every waiter. */
static void zkey_done(struct dk_zkey *z, enum dk_val v, ldns_rr_list *keys, uint32_t ttl,
		      const char *fmt, ...)
{
	struct zwait *w = z->w;
	size_t nw = z->nw;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(z->reason, sizeof(z->reason), fmt, ap);
	va_end(ap);
	z->v = v;
	ldns_rr_list_deep_free(z->keys);
	z->keys = keys;
	z->expires_ms = oe_now_ms() + (uint64_t)(ttl > ZKEY_MAX_TTL ? ZKEY_MAX_TTL : ttl) * 1000;
	z->pending = false;
	ldns_rr_list_deep_free(z->trusted);
	z->trusted = NULL;
	ldns_pkt_free(z->ds_pkt);
	z->ds_pkt = NULL;
	z->w = NULL;
	z->nw = z->capw = 0;
	if (v != DK_VAL_SECURE)
		oe_debug(DNS, "zone keys: %s: %s", dk_val_name(v), z->reason);
	for (size_t i = 0; i < nw; i++)
		w[i].cb(w[i].arg, v, z->keys, z->reason);
	free(w);
}

static void zname(const ldns_rdf *n, char buf[static DK_NAME_MAX])
{
	char *s = n ? ldns_rdf2str(n) : NULL;

	snprintf(buf, DK_NAME_MAX, "%s", s ? s : "?");
	free(s);
}

static uint32_t min_ttl(const ldns_rr_list *l)
{
	uint32_t t = ZKEY_MAX_TTL;

	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		if (ldns_rr_ttl(ldns_rr_list_rr(l, i)) < t)
			t = ldns_rr_ttl(ldns_rr_list_rr(l, i));
	return t;
}

/* The DNSKEY answer: RFC 4035 §5.2, a key named by a DS (or equal to an anchor) must sign
 * the whole DNSKEY RRset. */
static void on_dnskey(void *arg, enum dk_lookup_status st, const ldns_pkt *pkt)
{
	struct dk_zkey *z = arg;
	ldns_rr_list *keys = NULL, *match = NULL, *sigs = NULL;
	ldns_status vs = LDNS_STATUS_CRYPTO_NO_RRSIG;
	char zn[DK_NAME_MAX];

	zname(z->zone, zn);
	if (st != DK_L_FOUND || ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR) {
		zkey_done(z, DK_VAL_INDETERMINATE, NULL, 0, "DNSKEY query for %s: %s", zn,
			  st != DK_L_FOUND ? dk_lookup_strerror(st) : "server error");
		return;
	}
	keys = dk_v_rrset(ldns_pkt_answer(pkt), z->zone, LDNS_RR_TYPE_DNSKEY);
	sigs = dk_v_sigs(ldns_pkt_answer(pkt), z->zone, LDNS_RR_TYPE_DNSKEY);
	match = ldns_rr_list_new();
	for (size_t i = 0; keys && match && i < ldns_rr_list_rr_count(keys); i++)
		for (size_t k = 0; k < ldns_rr_list_rr_count(z->trusted); k++)
			if (ldns_rr_compare_ds(ldns_rr_list_rr(keys, i),
					       ldns_rr_list_rr(z->trusted, k))) {
				ldns_rr_list_push_rr(match, ldns_rr_list_rr(keys, i));
				break;
			}
	for (size_t i = 0; match && ldns_rr_list_rr_count(match) && sigs &&
			   vs != LDNS_STATUS_OK && i < ldns_rr_list_rr_count(sigs); i++) {
		z->r->st.validations++;
		vs = dk_verify_sig(z->r, keys, ldns_rr_list_rr(sigs, i), match);
	}
	if (!keys || !ldns_rr_list_rr_count(keys))
		zkey_done(z, DK_VAL_BOGUS, NULL, 60, "%s: no DNSKEY records", zn);
	else if (!ldns_rr_list_rr_count(match))
		zkey_done(z, DK_VAL_BOGUS, NULL, 60, "%s: no DNSKEY matches the DS/trust anchor",
			  zn);
	else if (vs != LDNS_STATUS_OK)
		zkey_done(z, DK_VAL_BOGUS, NULL, 60, "%s DNSKEY RRset: %s", zn,
			  ldns_get_errorstr_by_id(vs));
	else
		zkey_done(z, DK_VAL_SECURE, ldns_rr_list_clone(keys),
			  dk_v_ttl_cap(ldns_pkt_answer(pkt), z->zone, LDNS_RR_TYPE_DNSKEY,
				       min_ttl(keys)),
			  "%s keys validated", zn);
	ldns_rr_list_free(keys);
	ldns_rr_list_free(match);
	ldns_rr_list_free(sigs);
}

static void fetch_dnskey(struct dk_zkey *z)
{
	if (dk_tx_send(z->r, z->zone, LDNS_RR_TYPE_DNSKEY, on_dnskey, z) < 0)
		zkey_done(z, DK_VAL_INDETERMINATE, NULL, 0, "cannot send DNSKEY query");
}

/* The parent's keys are known: authenticate the DS RRset (or its absence) with them. */
static void on_parent_keys(void *arg, enum dk_val pv, const ldns_rr_list *keys,
			   const char *reason)
{
	struct dk_zkey *z = arg;
	const ldns_pkt *pkt = z->ds_pkt;
	const ldns_rdf *parent;
	ldns_rr_list *ds;
	char why[160] = "", zn[DK_NAME_MAX];

	zname(z->zone, zn);
	if (pv != DK_VAL_SECURE) {
		zkey_done(z, pv, NULL, pv == DK_VAL_INSECURE ? 300 : 0, "%s", reason);
		return;
	}
	ds = dk_v_rrset(ldns_pkt_answer(pkt), z->zone, LDNS_RR_TYPE_DS);
	if (ds && ldns_rr_list_rr_count(ds)) {
		parent = dk_v_signer(ldns_pkt_answer(pkt), LDNS_RR_TYPE_DS);
		if (!dk_v_verify(z->r, ldns_pkt_answer(pkt), z->zone, LDNS_RR_TYPE_DS, parent,
				 keys, why, sizeof(why))) {
			zkey_done(z, DK_VAL_BOGUS, NULL, 60, "DS of %s: %s", zn, why);
		} else {
			z->trusted = ldns_rr_list_clone(ds);
			fetch_dnskey(z);
		}
		ldns_rr_list_free(ds);
		return;
	}
	ldns_rr_list_free(ds);
	parent = dk_v_signer(ldns_pkt_authority(pkt), 0);
	if (!dk_v_verify_authority(z->r, pkt, parent, keys, why, sizeof(why)))
		zkey_done(z, DK_VAL_BOGUS, NULL, 60, "no DS for %s: %s", zn, why);
	else if (dk_v_classify_ds_denial(pkt, z->zone) == DK_CUT_INSECURE)
		zkey_done(z, DK_VAL_INSECURE, NULL, 300, "%s is an unsigned delegation", zn);
	else
		zkey_done(z, DK_VAL_BOGUS, NULL, 60, "%s signs data but has no DS", zn);
}

static void on_ds(void *arg, enum dk_lookup_status st, const ldns_pkt *pkt)
{
	struct dk_zkey *z = arg;
	const ldns_rdf *signer;
	ldns_rr_list *ds;
	char zn[DK_NAME_MAX];
	bool have;

	zname(z->zone, zn);
	if (st != DK_L_FOUND || (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR &&
				 ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NXDOMAIN)) {
		zkey_done(z, DK_VAL_INDETERMINATE, NULL, 0, "DS query for %s: %s", zn,
			  st != DK_L_FOUND ? dk_lookup_strerror(st) : "server error");
		return;
	}
	ds = dk_v_rrset(ldns_pkt_answer(pkt), z->zone, LDNS_RR_TYPE_DS);
	have = ds && ldns_rr_list_rr_count(ds);
	ldns_rr_list_free(ds);
	signer = have ? dk_v_signer(ldns_pkt_answer(pkt), LDNS_RR_TYPE_DS)
		      : dk_v_signer(ldns_pkt_authority(pkt), 0);
	if (!signer) {
		zkey_done(z, DK_VAL_BOGUS, NULL, 60, "%s for %s is unsigned",
			  have ? "DS RRset" : "denial of DS", zn);
		return;
	}
	/* The DS lives in the parent: its signer must be a proper ancestor. */
	if (!ldns_dname_is_subdomain(z->zone, signer) ||
	    ldns_dname_compare(z->zone, signer) == 0) {
		zkey_done(z, DK_VAL_BOGUS, NULL, 60, "DS for %s signed by a non-ancestor", zn);
		return;
	}
	z->ds_pkt = ldns_pkt_clone(pkt);
	if (!z->ds_pkt) {
		zkey_done(z, DK_VAL_INDETERMINATE, NULL, 0, "out of memory");
		return;
	}
	dk_zkey_get(z->r, signer, on_parent_keys, z);
}

static int add_wait(struct dk_zkey *z, dk_zkey_fn *cb, void *arg)
{
	if (z->nw == z->capw) {
		size_t n = z->capw ? z->capw * 2 : 4;
		struct zwait *w = realloc(z->w, n * sizeof(*w));

		if (!w)
			return -ENOMEM;
		z->w = w;
		z->capw = n;
	}
	z->w[z->nw++] = (struct zwait){ cb, arg };
	return 0;
}

/* Finds zone's entry; on a usable hit calls cb and returns NULL; joins a pending fetch and
 * returns NULL; otherwise returns a fresh pending entry with cb waiting on it. */
static struct dk_zkey *zkey_begin(struct dk_resolver *r, const ldns_rdf *zone, dk_zkey_fn *cb,
				  void *arg)
{
	struct dk_zkey *z;

	for (z = r->zkeys; z; z = z->next)
		if (ldns_dname_compare(z->zone, zone) == 0)
			break;
	if (z && !z->pending && z->expires_ms > oe_now_ms()) {
		cb(arg, z->v, z->keys, z->reason);
		return NULL;
	}
	if (!z) {
		if (r->nzkeys >= ZKEY_MAX)
			zkeys_prune(r, false);
		z = calloc(1, sizeof(*z));
		if (z)
			z->zone = ldns_rdf_clone(zone);
		if (!z || !z->zone) {
			free(z);
			cb(arg, DK_VAL_INDETERMINATE, NULL, "out of memory");
			return NULL;
		}
		z->r = r;
		z->next = r->zkeys;
		r->zkeys = z;
		r->nzkeys++;
	}
	if (add_wait(z, cb, arg) < 0) {
		cb(arg, DK_VAL_INDETERMINATE, NULL, "out of memory");
		return NULL;
	}
	if (z->pending)
		return NULL;
	z->pending = true;
	return z;
}

void dk_zkey_get(struct dk_resolver *r, const ldns_rdf *zone, dk_zkey_fn *cb, void *arg)
{
	struct dk_zkey *z = zkey_begin(r, zone, cb, arg);
	const struct dk_anchor *a;
	char zn[DK_NAME_MAX];

	if (!z)
		return;
	a = anchor_exact(r, zone);
	if (a) {
		z->trusted = ldns_rr_list_clone(a->rrs);
		fetch_dnskey(z);
	} else if (!dk_anchor_closest(r, zone)) {
		zname(zone, zn);
		zkey_done(z, DK_VAL_INSECURE, NULL, 300, "no trust anchor covers %s", zn);
	} else if (dk_tx_send(r, zone, LDNS_RR_TYPE_DS, on_ds, z) < 0) {
		zkey_done(z, DK_VAL_INDETERMINATE, NULL, 0, "cannot send DS query");
	}
}

void dk_zkey_get_ds(struct dk_resolver *r, const ldns_rdf *zone, const ldns_rr_list *ds,
		    dk_zkey_fn *cb, void *arg)
{
	struct dk_zkey *z = zkey_begin(r, zone, cb, arg);

	if (!z)
		return;
	z->trusted = ldns_rr_list_clone(ds);
	fetch_dnskey(z);
}
