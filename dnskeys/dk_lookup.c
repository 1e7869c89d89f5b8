/* Key lookup: the order of queries at a name (IPSECKEY, then FreeS/WAN TXT, then legacy KEY),
 * extraction of usable keys from an answer through the record codecs, the policy on what an
 * answer may say given its DNSSEC state (DESIGN §5: bogus or malformed -> deny; insecure ->
 * only the host itself as gateway), and the typed result handed to callers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dk_lookup_int.h"
#include "oe_log.h"
#include "oe_time.h"

/* Bogus answers are kept briefly so an attacker's junk does not cause a query storm, but
 * not so long that a fixed zone stays unreachable (RFC 4035 §4.7). */
#define DK_BOGUS_TTL 60
/* Upper bound on any cached TTL (one day), whatever the zone says. */
#define DK_MAX_TTL 86400

static const char *const status_text[DK_L_COUNT] = {
	[DK_L_FOUND] = "key found",
	[DK_L_NXDOMAIN] = "name does not exist (NXDOMAIN)",
	[DK_L_NODATA] = "no IPSECKEY, X-IPsec-Server TXT or KEY record (NODATA)",
	[DK_L_TIMEOUT] = "no answer from the name servers (timeout)",
	[DK_L_SERVFAIL] = "name server failure (SERVFAIL)",
	[DK_L_REFUSED] = "name server refused the query",
	[DK_L_NETWORK] = "cannot reach a name server",
	[DK_L_MALFORMED] = "malformed answer",
	[DK_L_BOGUS] = "DNSSEC validation failed (bogus)",
	[DK_L_GATEWAY] = "insecure answer names a gateway other than the host",
	[DK_L_BADNAME] = "not a valid name to look up",
	[DK_L_NOMEM] = "out of memory",
	[DK_L_CANCELLED] = "lookup cancelled",
};
static const char *const status_names[DK_L_COUNT] = {
	[DK_L_FOUND] = "found", [DK_L_NXDOMAIN] = "nxdomain", [DK_L_NODATA] = "nodata",
	[DK_L_TIMEOUT] = "timeout", [DK_L_SERVFAIL] = "servfail", [DK_L_REFUSED] = "refused",
	[DK_L_NETWORK] = "network", [DK_L_MALFORMED] = "malformed", [DK_L_BOGUS] = "bogus",
	[DK_L_GATEWAY] = "gateway-refused", [DK_L_BADNAME] = "badname", [DK_L_NOMEM] = "nomem",
	[DK_L_CANCELLED] = "cancelled",
};
static const char *const val_names[] = { "indeterminate", "secure", "insecure", "bogus" };

const char *dk_lookup_strerror(enum dk_lookup_status s)
{
	return (unsigned)s < DK_L_COUNT ? status_text[s] : "unknown lookup status";
}

const char *dk_lookup_status_name(enum dk_lookup_status s)
{
	return (unsigned)s < DK_L_COUNT ? status_names[s] : "unknown";
}

const char *dk_val_name(enum dk_val v)
{
	return (unsigned)v <= DK_VAL_BOGUS ? val_names[v] : "unknown";
}

const char *dk_rrtype_name(uint16_t rrtype)
{
	static __thread char buf[16];

	switch (rrtype) {
	case DK_RR_IPSECKEY:
		return "IPSECKEY";
	case DK_RR_TXT:
		return "TXT";
	case DK_RR_KEY:
		return "KEY";
	}
	snprintf(buf, sizeof(buf), "TYPE%u", rrtype);
	return buf;
}

void dk_result_clear(struct dk_result *res)
{
	for (size_t i = 0; i < res->nfound; i++)
		EVP_PKEY_free(res->found[i].pkey);
	free(res->found);
	memset(res, 0, sizeof(*res));
}

int dk_result_copy(struct dk_result *dst, const struct dk_result *src)
{
	*dst = *src;
	dst->found = NULL;
	if (!src->nfound)
		return 0;
	dst->found = malloc(src->nfound * sizeof(*dst->found));
	if (!dst->found) {
		dst->nfound = 0;
		return -ENOMEM;
	}
	memcpy(dst->found, src->found, src->nfound * sizeof(*dst->found));
	for (size_t i = 0; i < src->nfound; i++)
		if (dst->found[i].pkey)
			EVP_PKEY_up_ref(dst->found[i].pkey);
	return 0;
}

/* ---- extraction and policy ---- */

struct extract_ctx {
	const struct oe_addr *self;  /* looked-up address, or NULL */
	const char *self_name;       /* looked-up FQDN (absolute), or NULL */
	enum dk_val val;
	unsigned malformed, refused, notours;
	enum dk_status first_err;
};

static bool names_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* DESIGN §5: unless the answer validated, it may only name the host itself as gateway. */
static bool gateway_allowed(const struct extract_ctx *x, const struct dk_found *f)
{
	if (x->val == DK_VAL_SECURE || f->gw_type == DK_GW_NONE)
		return true;
	if (f->gw_type == DK_GW_NAME)
		return x->self_name && names_equal(f->gw_name, x->self_name);
	return x->self && oe_addr_eq(&f->gw_addr, x->self);
}

/* Decodes one record's rdata into f. DK_OK, DK_NOT_OURS, or the codec's error. */
static enum dk_status decode_rdata(uint16_t type, const uint8_t *rd, size_t n,
				   struct dk_found *f)
{
	enum dk_status st;

	memset(f, 0, sizeof(*f));
	f->rrtype = type;
	if (type == DK_RR_IPSECKEY) {
		struct dk_ipseckey k;

		st = dk_ipseckey_decode(rd, n, &k);
		if (st != DK_OK)
			return st;
		f->precedence = k.precedence;
		f->gw_type = k.gw_type;
		f->gw_addr = k.gw_addr;
		memcpy(f->gw_name, k.gw_name, sizeof(f->gw_name));
		f->key = k.key;
		f->pkey = k.pkey; /* taken */
	} else if (type == DK_RR_TXT) {
		struct dk_txt t;

		st = dk_txt_decode_rdata(rd, n, &t);
		if (st != DK_OK)
			return st;
		f->precedence = t.pref;
		f->gw_type = t.gw_is_name ? DK_GW_NAME
			     : t.gw_addr.af == AF_INET6 ? DK_GW_IPV6 : DK_GW_IPV4;
		f->gw_addr = t.gw_addr;
		memcpy(f->gw_name, t.gw_name, sizeof(f->gw_name));
		f->key = t.key;
		f->pkey = t.pkey;
	} else {
		struct dk_keyrr k;

		st = dk_keyrr_decode(rd, n, &k);
		if (st != DK_OK)
			return st;
		f->gw_type = DK_GW_NONE;
		f->key = k.key;
		f->key.alg = DK_ALG_RSA;
		f->pkey = k.pkey;
	}
	if (f->key.len)
		dk_keyid(f->key.b, f->key.len, f->keyid);
	return DK_OK;
}

static int add_found(struct dk_result *res, const struct dk_found *f)
{
	struct dk_found *n = realloc(res->found, (res->nfound + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	res->found = n;
	/* Insertion keeps equal precedences in answer order (RFC 4025 §2.3: lower first). */
	size_t i = res->nfound;
	while (i > 0 && n[i - 1].precedence > f->precedence) {
		n[i] = n[i - 1];
		i--;
	}
	n[i] = *f;
	res->nfound++;
	return 0;
}

/* Handles one record of the answer RRset. */
static void extract_rr(struct extract_ctx *x, const ldns_rr *rr, struct dk_result *res,
		       ldns_buffer *buf)
{
	struct dk_found f;
	enum dk_status st;

	ldns_buffer_clear(buf);
	if (ldns_rr_rdata2buffer_wire(buf, rr) != LDNS_STATUS_OK) {
		x->malformed++;
		return;
	}
	st = decode_rdata(ldns_rr_get_type(rr), ldns_buffer_begin(buf),
			  ldns_buffer_position(buf), &f);
	if (st == DK_NOT_OURS) {
		x->notours++;
		return;
	}
	if (st != DK_OK) {
		if (!x->malformed++)
			x->first_err = st;
		return;
	}
	if (!gateway_allowed(x, &f)) {
		x->refused++;
		EVP_PKEY_free(f.pkey);
		return;
	}
	if (add_found(res, &f) < 0)
		EVP_PKEY_free(f.pkey);
}

/* RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM); without an SOA it must
 * not be cached. */
static uint32_t negative_ttl(const ldns_pkt *pkt)
{
	ldns_rr_list *auth = ldns_pkt_authority(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		ldns_rdf *min;
		uint32_t ttl;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7)
			continue;
		min = ldns_rr_rdf(rr, 6);
		ttl = ldns_rr_ttl(rr);
		if (ldns_rdf_size(min) == 4 && ldns_rdf2native_int32(min) < ttl)
			ttl = ldns_rdf2native_int32(min);
		return ttl > DK_MAX_TTL ? DK_MAX_TTL : ttl;
	}
	return 0;
}

static enum dk_lookup_status rcode_status(ldns_pkt_rcode rc)
{
	switch (rc) {
	case LDNS_RCODE_NOERROR:
		return DK_L_FOUND;
	case LDNS_RCODE_NXDOMAIN:
		return DK_L_NXDOMAIN;
	case LDNS_RCODE_REFUSED:
	case LDNS_RCODE_NOTIMPL:
		return DK_L_REFUSED;
	default:
		return DK_L_SERVFAIL;
	}
}

/* Sets status and reason from what extraction saw. */
static void extract_verdict(const struct extract_ctx *x, uint16_t qtype, struct dk_result *res)
{
	const char *tn = dk_rrtype_name(qtype);

	if (res->nfound) {
		res->status = DK_L_FOUND;
		if (x->refused || x->malformed)
			snprintf(res->reason, sizeof(res->reason),
				 "%s: %zu usable, %u malformed, %u refused by gateway policy", tn,
				 res->nfound, x->malformed, x->refused);
	} else if (x->refused) {
		res->status = DK_L_GATEWAY;
		snprintf(res->reason, sizeof(res->reason),
			 "%s: %s answer names another gateway (%u record%s)", tn,
			 dk_val_name(x->val), x->refused, x->refused == 1 ? "" : "s");
	} else if (x->malformed) {
		res->status = DK_L_MALFORMED;
		snprintf(res->reason, sizeof(res->reason), "%s: %u malformed record%s: %s", tn,
			 x->malformed, x->malformed == 1 ? "" : "s", dk_strerror(x->first_err));
	} else {
		res->status = DK_L_NODATA;
		snprintf(res->reason, sizeof(res->reason), "no %s record%s", tn,
			 x->notours ? " (only other TXT records)" : "");
	}
}

/* The answer to qname/qtype in pkt -> res (status, keys, TTL), under validation state val. */
static void extract(const ldns_pkt *pkt, const ldns_rdf *qname, uint16_t qtype,
		    struct extract_ctx *x, struct dk_result *res)
{
	ldns_rr_list *ans = ldns_pkt_answer(pkt);
	ldns_buffer *buf = ldns_buffer_new(512);
	uint32_t ttl = UINT32_MAX;
	size_t n = 0;

	res->val = x->val;
	res->rrtype = qtype;
	res->status = rcode_status(ldns_pkt_get_rcode(pkt));
	if (!buf) {
		res->status = DK_L_NOMEM;
		return;
	}
	if (res->status != DK_L_FOUND) {
		if (res->status == DK_L_NXDOMAIN)
			res->ttl = negative_ttl(pkt);
		goto out;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);

		if (ldns_rr_get_type(rr) != qtype || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_dname_compare(ldns_rr_owner(rr), qname) != 0)
			continue;
		n++;
		if (ldns_rr_ttl(rr) < ttl)
			ttl = ldns_rr_ttl(rr);
		extract_rr(x, rr, res, buf);
	}
	extract_verdict(x, qtype, res);
	if (n)
		ttl = dk_v_ttl_cap(ans, qname, qtype, ttl > DK_MAX_TTL ? DK_MAX_TTL : ttl);
	res->ttl = n ? ttl : negative_ttl(pkt);
out:
	ldns_buffer_free(buf);
}

void dk_answer_process(const uint8_t *msg, size_t len, const char *qname, uint16_t qtype,
		       const struct oe_addr *self, enum dk_val val, struct dk_result *out)
{
	struct extract_ctx x = { .self = self, .self_name = self ? NULL : qname, .val = val };
	ldns_pkt *pkt = NULL;
	ldns_rdf *name = ldns_dname_new_frm_str(qname);

	memset(out, 0, sizeof(*out));
	snprintf(out->qname, sizeof(out->qname), "%s", qname);
	out->val = val;
	if (!name) {
		out->status = DK_L_BADNAME;
	} else if (ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK) {
		out->status = DK_L_MALFORMED;
		snprintf(out->reason, sizeof(out->reason), "unparsable DNS message");
	} else if (val == DK_VAL_BOGUS) {
		out->status = DK_L_BOGUS;
	} else {
		extract(pkt, name, qtype, &x, out);
	}
	ldns_pkt_free(pkt);
	ldns_rdf_deep_free(name);
}

/* ---- the lookup state machine: one per name in flight ---- */

static const uint16_t lookup_order[] = { DK_RR_IPSECKEY, DK_RR_TXT, DK_RR_KEY };
#define N_ORDER (sizeof(lookup_order) / sizeof(lookup_order[0]))

struct dk_job {
	struct dk_resolver *r;
	struct dk_centry *ce;
	ldns_rdf *qname;
	char qname_str[DK_NAME_MAX];
	struct oe_addr self;
	bool have_self;
	unsigned step;
	uint32_t neg_ttl;
	ldns_pkt *pkt;      /* the answer being validated */
	uint64_t deadline;  /* oe_now_ms() by which the waiters get an answer */
	struct dk_job *prev, *next; /* r->jobs */
};

static void job_finish(struct dk_job *j, struct dk_result *res)
{
	snprintf(res->qname, sizeof(res->qname), "%s", j->qname_str);
	if (res->status != DK_L_FOUND && j->ce)
		oe_debug(DNS, "%s: %s (%s) %s", j->qname_str, dk_lookup_status_name(res->status),
			 dk_val_name(res->val), res->reason);
	if (j->prev)
		j->prev->next = j->next;
	else
		j->r->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	/* ce is NULL once the deadline has answered the waiters. */
	if (j->ce)
		dk_cache_complete(j->r->cache, j->ce, res, oe_now_ms());
	dk_result_clear(res);
	ldns_pkt_free(j->pkt);
	ldns_rdf_deep_free(j->qname);
	free(j);
}

static void job_fail(struct dk_job *j, enum dk_lookup_status st, const char *why)
{
	struct dk_result res;

	memset(&res, 0, sizeof(res));
	res.status = st;
	res.rrtype = lookup_order[j->step];
	snprintf(res.reason, sizeof(res.reason), "%s query: %s", dk_rrtype_name(res.rrtype), why);
	job_finish(j, &res);
}

static void job_step(struct dk_job *j);

/* Adds the validator's word to a policy reason ("...; zone X is an unsigned delegation"). */
static void append_reason(struct dk_result *res, const char *why)
{
	size_t n = strlen(res->reason);

	if (n + 3 < sizeof(res->reason))
		snprintf(res->reason + n, sizeof(res->reason) - n, "; %s", why);
}

static void on_validated(void *arg, enum dk_val v, const char *reason)
{
	struct dk_job *j = arg;
	struct extract_ctx x = { .val = v };
	struct dk_result res;
	uint16_t qtype = lookup_order[j->step];

	if (!j->ce) {
		job_fail(j, DK_L_TIMEOUT, "past the lookup deadline");
		return;
	}
	memset(&res, 0, sizeof(res));
	x.self = j->have_self ? &j->self : NULL;
	x.self_name = j->have_self ? NULL : j->qname_str;
	if (v == DK_VAL_BOGUS || v == DK_VAL_INDETERMINATE) {
		/* Deny: never fall back to weaker record types or to insecure treatment. */
		res.status = v == DK_VAL_BOGUS ? DK_L_BOGUS : DK_L_SERVFAIL;
		res.val = v;
		res.rrtype = qtype;
		res.ttl = v == DK_VAL_BOGUS ? DK_BOGUS_TTL : 0;
		snprintf(res.reason, sizeof(res.reason), "%s: %s", dk_rrtype_name(qtype), reason);
		oe_warn(DNS, "%s %s: DNSSEC %s: %s", j->qname_str, dk_rrtype_name(qtype),
			dk_val_name(v), reason);
		job_finish(j, &res);
		return;
	}
	extract(j->pkt, j->qname, qtype, &x, &res);
	ldns_pkt_free(j->pkt);
	j->pkt = NULL;
	if (res.status == DK_L_NODATA && j->step + 1 < N_ORDER) {
		if (j->step == 0 || res.ttl < j->neg_ttl)
			j->neg_ttl = res.ttl;
		dk_result_clear(&res);
		j->step++;
		job_step(j);
		return;
	}
	if (res.status == DK_L_NODATA) {
		if (res.ttl > j->neg_ttl)
			res.ttl = j->neg_ttl;
		snprintf(res.reason, sizeof(res.reason), "no IPSECKEY, TXT or KEY record (%s)",
			 dk_val_name(v));
	}
	if (res.status == DK_L_MALFORMED)
		oe_warn(DNS, "%s: %s", j->qname_str, res.reason);
	if (!res.reason[0] && reason && *reason)
		snprintf(res.reason, sizeof(res.reason), "%s", reason);
	else if (v != DK_VAL_SECURE && reason && *reason)
		append_reason(&res, reason);
	job_finish(j, &res);
}

static void on_answer(void *arg, enum dk_lookup_status st, const ldns_pkt *pkt)
{
	struct dk_job *j = arg;
	enum dk_lookup_status rs;

	if (st != DK_L_FOUND || !j->ce) {
		job_fail(j, st != DK_L_FOUND ? st : DK_L_TIMEOUT, dk_lookup_strerror(st));
		return;
	}
	rs = rcode_status(ldns_pkt_get_rcode(pkt));
	if (rs == DK_L_SERVFAIL || rs == DK_L_REFUSED) {
		job_fail(j, rs, dk_lookup_strerror(rs));
		return;
	}
	j->pkt = ldns_pkt_clone(pkt);
	if (!j->pkt) {
		job_fail(j, DK_L_NOMEM, "cloning the answer");
		return;
	}
	if (!j->r->dnssec) {
		on_validated(j, DK_VAL_INSECURE, "validation disabled (dnssec-enable=no)");
		return;
	}
	if (dk_validate(j->r, j->pkt, j->qname, lookup_order[j->step], on_validated, j) < 0)
		job_fail(j, DK_L_NOMEM, "starting validation");
}

static void job_step(struct dk_job *j)
{
	int rc;

	if (j->r->freeing || !j->ce) {
		job_fail(j, j->ce ? DK_L_CANCELLED : DK_L_TIMEOUT, "no longer wanted");
		return;
	}
	rc = dk_tx_send(j->r, j->qname, lookup_order[j->step], on_answer, j);
	if (rc < 0)
		job_fail(j, rc == -ENOMEM ? DK_L_NOMEM : DK_L_NETWORK, strerror(-rc));
}

static int lookup_name(struct dk_resolver *r, const char *name, const struct oe_addr *self,
		       dk_lookup_fn *cb, void *arg)
{
	const struct dk_result *hit = NULL;
	struct dk_centry *ce = NULL;
	struct dk_job *j;
	int rc;

	r->st.lookups++;
	rc = dk_cache_lookup(r->cache, name, oe_now_ms(), cb, arg, &hit, &ce);
	if (rc < 0)
		return rc;
	if (rc == DK_CACHE_HIT) {
		r->st.cache_hits++;
		cb(arg, hit);
		return 0;
	}
	if (rc == DK_CACHE_JOINED) {
		r->st.joined++;
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (j)
		j->qname = ldns_dname_new_frm_str(name);
	if (!j || !j->qname) {
		struct dk_result res = { .status = DK_L_NOMEM };

		free(j);
		/* The entry has cb as its only waiter; completing it reports the failure. */
		snprintf(res.qname, sizeof(res.qname), "%s", name);
		dk_cache_complete(r->cache, ce, &res, oe_now_ms());
		return 0;
	}
	j->r = r;
	j->ce = ce;
	j->deadline = oe_now_ms() + r->lookup_timeout_ms;
	j->next = r->jobs;
	if (r->jobs)
		r->jobs->prev = j;
	r->jobs = j;
	snprintf(j->qname_str, sizeof(j->qname_str), "%s", name);
	if (self) {
		j->self = *self;
		j->have_self = true;
	}
	job_step(j);
	return 0;
}

/* Lookups past their deadline answer their waiters with a timeout now; the job itself ends
 * when its outstanding query returns (c-ares cannot withdraw one query alone). */
void dk_jobs_expire(struct dk_resolver *r, uint64_t now)
{
	struct dk_job *j = r->jobs;

	while (j) {
		if (j->ce && j->deadline <= now) {
			struct dk_result res = { .status = DK_L_TIMEOUT };
			struct dk_centry *ce = j->ce;

			j->ce = NULL;
			res.rrtype = lookup_order[j->step];
			snprintf(res.qname, sizeof(res.qname), "%s", j->qname_str);
			snprintf(res.reason, sizeof(res.reason), "no result within %u ms",
				 r->lookup_timeout_ms);
			dk_cache_complete(r->cache, ce, &res, now);
			j = r->jobs; /* waiters may have started or ended lookups */
			continue;
		}
		j = j->next;
	}
}

int dk_jobs_next_deadline_ms(const struct dk_resolver *r, uint64_t now)
{
	uint64_t best = UINT64_MAX;

	for (const struct dk_job *j = r->jobs; j; j = j->next)
		if (j->ce && j->deadline < best)
			best = j->deadline;
	if (best == UINT64_MAX)
		return -1;
	return best <= now ? 0 : best - now > 3600000 ? 3600000 : (int)(best - now);
}

size_t dk_lookup_cancel(struct dk_resolver *r, dk_lookup_fn *cb, void *arg)
{
	return dk_cache_unwait(r->cache, cb, arg);
}

int dk_lookup_addr(struct dk_resolver *r, const struct oe_addr *a, dk_lookup_fn *cb,
		   void *arg)
{
	char name[DK_REVNAME_MAX];

	if (a->af != AF_INET && a->af != AF_INET6)
		return -EAFNOSUPPORT;
	dk_reverse_name(a, name);
	return lookup_name(r, name, a, cb, arg);
}

int dk_lookup_fqdn(struct dk_resolver *r, const char *fqdn, dk_lookup_fn *cb, void *arg)
{
	char name[DK_NAME_MAX];
	ldns_rdf *rdf;
	size_t n;

	if (*fqdn == '@')
		fqdn++;
	n = strlen(fqdn);
	if (n == 0 || n + 2 > sizeof(name))
		return -EINVAL;
	snprintf(name, sizeof(name), "%s%s", fqdn, fqdn[n - 1] == '.' ? "" : ".");
	/* Let ldns judge the syntax (label lengths, escapes) before anything is queued. */
	rdf = ldns_dname_new_frm_str(name);
	if (!rdf || ldns_dname_label_count(rdf) == 0) {
		ldns_rdf_deep_free(rdf);
		return -EINVAL;
	}
	ldns_rdf_deep_free(rdf);
	return lookup_name(r, name, NULL, cb, arg);
}
