/* The transport under key lookups: one c-ares channel per resolver, driven by the owner's
 * event loop through c-ares's socket-state callback, ares_process_fd() and ares_timeout().
 * Queries are built with ldns so that we control EDNS0 and the DO/CD bits (RFC 4035 §3.2.1,
 * §3.2.2); c-ares carries them (retries, server rotation, TCP on truncation) and hands the raw
 * answer back, which ldns parses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dk_lookup_int.h"
#include "oe_log.h"
#include "oe_time.h"

/* RFC 6891 §6.2.5 / DNS flag day 2020: an EDNS buffer size that avoids IP fragmentation. */
#define DK_EDNS_BUFSIZE 1232

struct tx_query {
	struct dk_resolver *r;
	dk_raw_fn *cb;
	void *arg;
};

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dk_resolver *r = data;
	size_t i;

	for (i = 0; i < r->nfds && r->fds[i].fd != fd; i++)
		;
	if (!readable && !writable) {
		if (i < r->nfds)
			r->fds[i] = r->fds[--r->nfds];
	} else if (i < r->nfds) {
		r->fds[i].read = readable;
		r->fds[i].write = writable;
	} else if (r->nfds < DK_MAX_FDS) {
		r->fds[r->nfds++] = (struct dk_fdwatch){ fd, readable, writable };
	} else {
		oe_err(DNS, "more than %d resolver sockets; fd %d not watched", DK_MAX_FDS, fd);
	}
	if (r->watch)
		r->watch(r->watch_arg, fd, readable, writable);
}

/* Marks every socket c-ares opens so the agent's own DNS traffic bypasses the trap. */
static int sock_create_cb(ares_socket_t fd, int type, void *data)
{
	struct dk_resolver *r = data;
	uint32_t mark = r->mark;

	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		oe_err(DNS, "SO_MARK 0x%x on resolver socket: %s", mark, strerror(errno));
		return -1;
	}
	return 0;
}

/* "a b,c" -> "a,b,c" as ares_set_servers_ports_csv() wants. */
static char *servers_csv(const char *s)
{
	char *out = strdup(s);

	if (!out)
		return NULL;
	for (char *p = out; *p; p++)
		if (*p == ' ' || *p == '\t')
			*p = ',';
	return out;
}

static int channel_init(struct dk_resolver *r, const struct dk_lookup_conf *c,
			struct oe_diag *d)
{
	struct ares_options o;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
	int rc = 0, st;
	char *csv = NULL;

	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = r;
	o.timeout = c->timeout_ms ? (int)c->timeout_ms : 2000;
	o.tries = c->tries ? (int)c->tries : 2;
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	st = ares_init_options(&r->ch, &o, mask);
	if (st != ARES_SUCCESS) {
		oe_diag_error(d, "resolver", 0, "c-ares init: %s", ares_strerror(st));
		return st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	}
	r->ch_ok = true;
	ares_set_socket_callback(r->ch, sock_create_cb, r);
	if (c->nameservers && *c->nameservers) {
		csv = servers_csv(c->nameservers);
		if (!csv) {
			rc = -ENOMEM;
			goto out;
		}
		st = ares_set_servers_ports_csv(r->ch, csv);
		if (st != ARES_SUCCESS) {
			char tb[OE_TOKSTRLEN];

			oe_diag_error(d, "nameservers", 0, "bad server list '%s': %s",
				      oe_tok(c->nameservers, strlen(c->nameservers), tb),
				      ares_strerror(st));
			rc = -EINVAL;
		}
	}
out:
	free(csv);
	return rc;
}

void dk_lookup_conf_default(struct dk_lookup_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 2000;
	c->tries = 2;
	c->dnssec = true;
	c->cache_max = 4096;
	c->lookup_timeout_ms = 10000;
}

int dk_resolver_new(struct dk_resolver **out, const struct dk_lookup_conf *c,
		    dk_watch_fn *watch, void *watch_arg, struct oe_diag *d)
{
	static bool lib_ok;
	struct dk_resolver *r;
	int rc;

	*out = NULL;
	if (!lib_ok) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
			return -ENOMEM;
		lib_ok = true;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->watch = watch;
	r->watch_arg = watch_arg;
	r->mark = c->sock_mark;
	r->lookup_timeout_ms = c->lookup_timeout_ms ? c->lookup_timeout_ms : 10000;
	r->dnssec = c->dnssec;
	r->cache = dk_cache_new(c->cache_max ? c->cache_max : 4096);
	rc = r->cache ? channel_init(r, c, d) : -ENOMEM;
	if (rc == 0 && r->dnssec)
		rc = dk_anchors_load(r, c, d);
	if (rc < 0) {
		dk_resolver_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void dk_resolver_free(struct dk_resolver *r)
{
	if (!r)
		return;
	r->freeing = true;
	/* ares_destroy() runs every pending query callback with ARES_EDESTRUCTION; those
	 * unwind validations and lookups, whose waiters the cache then cancels. */
	if (r->ch_ok)
		ares_destroy(r->ch);
	dk_cache_free(r->cache);
	dk_validator_free(r);
	dk_pkcache_free(r);
	free(r);
}

size_t dk_resolver_fds(const struct dk_resolver *r, struct dk_fdwatch *out, size_t max)
{
	for (size_t i = 0; i < r->nfds && i < max; i++)
		out[i] = r->fds[i];
	return r->nfds;
}

void dk_resolver_process(struct dk_resolver *r, int fd, bool readable, bool writable)
{
	ares_process_fd(r->ch, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
	dk_jobs_expire(r, oe_now_ms());
}

int dk_resolver_next_timeout_ms(const struct dk_resolver *r)
{
	struct timeval tv, *t = ares_timeout(r->ch, NULL, &tv);
	int dl = dk_jobs_next_deadline_ms(r, oe_now_ms());
	long long ms;

	if (!t)
		return dl;
	/* Round up so the owner does not wake a millisecond early and spin. */
	ms = (long long)t->tv_sec * 1000 + (t->tv_usec + 999) / 1000;
	if (ms > 3600000)
		ms = 3600000;
	return dl >= 0 && dl < ms ? dl : (int)ms;
}

void dk_resolver_stats(const struct dk_resolver *r, struct dk_stats *out)
{
	*out = r->st;
	out->cache_entries = dk_cache_count(r->cache);
}

void dk_resolver_flush(struct dk_resolver *r)
{
	dk_cache_flush(r->cache);
	dk_validator_flush(r);
	dk_pkcache_free(r);
}

static enum dk_lookup_status map_ares(int st)
{
	switch (st) {
	case ARES_ETIMEOUT:
		return DK_L_TIMEOUT;
	case ARES_ESERVFAIL:
		return DK_L_SERVFAIL;
	case ARES_EREFUSED:
	case ARES_ENOTIMP:
		return DK_L_REFUSED;
	case ARES_EBADRESP:
	case ARES_EFORMERR:
		return DK_L_MALFORMED;
	case ARES_ENOMEM:
		return DK_L_NOMEM;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return DK_L_CANCELLED;
	default:
		return DK_L_NETWORK;
	}
}

static void tx_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct tx_query *q = arg;
	struct dk_resolver *r = q->r;
	ldns_pkt *pkt = NULL;
	enum dk_lookup_status st = DK_L_FOUND;

	if (status != ARES_SUCCESS) {
		st = map_ares(status);
		oe_debug(DNS, "query failed: %s (%d timeouts)", ares_strerror(status), timeouts);
	} else {
		r->st.answers++;
		if (alen <= 0 || ldns_wire2pkt(&pkt, abuf, (size_t)alen) != LDNS_STATUS_OK) {
			oe_debug(DNS, "unparsable answer of %d bytes", alen);
			st = DK_L_MALFORMED;
			pkt = NULL;
		}
	}
	q->cb(q->arg, st, pkt);
	ldns_pkt_free(pkt);
	free(q);
}

int dk_tx_send(struct dk_resolver *r, const ldns_rdf *name, ldns_rr_type type, dk_raw_fn *cb,
	       void *arg)
{
	struct tx_query *q = NULL;
	ldns_pkt *p;
	uint8_t *wire = NULL;
	size_t len = 0;
	int rc = -ENOMEM;

	/* Callbacks run by ares_destroy() must not queue more work on the dying channel. */
	if (r->freeing)
		return -ECANCELED;
	if (r->send_hook) {
		r->st.queries++;
		return r->send_hook(r->send_ctx, name, type, cb, arg);
	}
	p = ldns_pkt_query_new(ldns_rdf_clone(name), type, LDNS_RR_CLASS_IN, LDNS_RD);
	if (!p)
		return -ENOMEM;
	/* DO: send RRSIGs/NSECs (RFC 3225). CD: a validating recursive resolver must hand us
	 * bogus data too, so we can say why it is bogus instead of seeing SERVFAIL. */
	ldns_pkt_set_edns_udp_size(p, DK_EDNS_BUFSIZE);
	ldns_pkt_set_edns_do(p, true);
	ldns_pkt_set_cd(p, true);
	if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK || len > 512)
		goto out;
	q = malloc(sizeof(*q));
	if (!q)
		goto out;
	*q = (struct tx_query){ r, cb, arg };
	r->st.queries++;
	/* ares_send() assigns its own query id and may call back at once (e.g. no servers). */
	ares_send(r->ch, wire, (int)len, tx_answer, q);
	rc = 0;
out:
	free(wire);
	ldns_pkt_free(p);
	return rc;
}
