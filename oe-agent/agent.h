/* oe-agent/: the daemon's public header, used by main.c, the `ipsec` front-end and the tests.
 * Four parts: the event loop (one epoll, fd watches, timers, signals), ipsec.conf parsing,
 * the control protocol (request parser, client), and the policy/eroute glue shared by the
 * agent and `ipsec policy` (which must give the same answers without a running agent). */
#ifndef AGENT_H
#define AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel.h"
#include "oe_addr.h"
#include "oe_buf.h"
#include "oe_diag.h"
#include "oe_log.h"
#include "policy.h"

#define OE_VERSION "0.1.0"

/* ---- event loop (loop.c) ------------------------------------------------------------------ */

struct oe_loop;

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR) that fired on fd. */
typedef void (*oe_fd_cb)(void *ctx, int fd, uint32_t events);
typedef void (*oe_timer_cb)(void *ctx);
typedef void (*oe_signal_cb)(void *ctx, int signo);

/* A timer handle: 0 is never a valid handle. */
typedef uint64_t oe_timer_id;

/* Creates a loop, owned by the caller (oe_loop_free). Returns 0 or -errno. */
int oe_loop_new(struct oe_loop **out);
/* Frees the loop and its timers; does not close watched fds. Accepts NULL. */
void oe_loop_free(struct oe_loop *l);

/* Watches fd for events (EPOLLIN/EPOLLOUT); one watch per fd. Returns 0 or -errno. */
int oe_loop_watch(struct oe_loop *l, int fd, uint32_t events, oe_fd_cb cb, void *ctx);
int oe_loop_modify(struct oe_loop *l, int fd, uint32_t events);
/* Stops watching fd (call before closing it). Safe from inside any callback. */
int oe_loop_unwatch(struct oe_loop *l, int fd);

/* Runs cb once at oe_now_ms() + after_ms. Returns a handle (0 on allocation failure). */
oe_timer_id oe_loop_timer(struct oe_loop *l, uint64_t after_ms, oe_timer_cb cb, void *ctx);
/* Cancels a pending timer; returns false if it already fired or never existed. */
bool oe_loop_timer_cancel(struct oe_loop *l, oe_timer_id id);
size_t oe_loop_timer_count(const struct oe_loop *l);

/* Blocks signo (sigprocmask) and delivers it through a signalfd. Returns 0 or -errno. */
int oe_loop_signal(struct oe_loop *l, int signo, oe_signal_cb cb, void *ctx);

/* Runs until oe_loop_stop(). Returns 0, or -errno if epoll_wait failed. */
int oe_loop_run(struct oe_loop *l);
/* One iteration: waits at most max_wait_ms (-1 = until the next timer), dispatches. */
int oe_loop_once(struct oe_loop *l, int max_wait_ms);
void oe_loop_stop(struct oe_loop *l);

/* ---- ipsec.conf (conf.c) ------------------------------------------------------------------- */

#define OE_CONF_DEFAULT_PATH OE_SYSCONFDIR "/ipsec.conf"
#define OE_CONF_LINE_MAX 4096
#define OE_CONF_MAX_ADDRS 16

struct oe_nameserver {
	struct oe_addr addr;
	uint16_t port; /* 53 unless given */
};

/* One key=value of a conn, kept as text for later issues. */
struct oe_conf_kv {
	char *key;
	char *value;
	unsigned line;
};

struct oe_conf_conn {
	char *name;
	unsigned line;
	bool is_group;	     /* one of the five group conns */
	enum pg_group group; /* when is_group */
	bool ignore;	     /* auto=ignore */
	struct oe_conf_kv *kv;
	size_t nkv;
};

/* The parsed configuration. Strings are owned (oe_conf_free). Paths are never NULL after
 * oe_conf_parse (defaults filled in). */
struct oe_conf {
	char *ipsecdir;	  /* default /etc/ipsec.d */
	char *policydir;  /* ipsecdir/policies (derived) */
	char *hostkey;	  /* default ipsecdir/private/hostkey.pem */
	char *ctlsocket;  /* default /run/oe-agent/ctl */
	char *pidfile;	  /* default /run/oe-agent/pid */
	char *logfile;	  /* NULL = syslog; "stderr"; or a path */
	enum oe_log_level loglevel;
	struct oe_nameserver nameservers[OE_CONF_MAX_ADDRS];
	size_t n_nameservers; /* 0 = use /etc/resolv.conf */
	bool dnssec_enable;
	char *dnssec_rootkey_file;
	char *dnssec_anchors; /* NULL = none */
	unsigned dns_timeout_ms;        /* dns-timeout: a query's first try (2 s, doubled per round) */
	unsigned dns_retries;           /* dns-retries: rounds over the servers after the first (1) */
	unsigned dns_lookup_timeout_ms; /* dns-lookup-timeout: a whole key lookup (10 s) */
	unsigned dns_cache_size;        /* dns-cache-size: cached lookup results (4096) */
	uint64_t shuntlifetime_s;
	/* the trap path (flow.c, trap.c; ipsec.conf(5)) */
	bool trap;		  /* trap: the catch-all trap and kernel shunts (yes) */
	uint16_t trapqueue;	  /* trapqueue: the NFQUEUE number (20293, "OE") */
	uint32_t queuemaxlen;	  /* queuemaxlen: packets the kernel queues for us (65536) */
	uint32_t socketmark;	  /* socketmark: our sockets' mark (0x4f450000) ... */
	uint32_t socketmask;	  /* ... and the mark bits the agent owns (0xffff0000) */
	uint32_t holdpackets;	  /* holdpackets: held per flow (32) */
	uint32_t holdbytes;	  /* holdbytes: held per flow (262144) */
	uint32_t maxflows;	  /* maxflows: flows waiting for a decision (4096) */
	uint32_t maxlookups;	  /* maxlookups: key lookups in flight (512) */
	uint32_t maxshunts;	  /* maxshunts: decided pairs (65536) */
	uint64_t maxheldbytes;	  /* maxheldbytes: held in total (16777216) */
	char *myid; /* NULL = our address */
	/* IKE and ESP (tunnel.c, oe-agent/ike; ipsec.conf(5)) */
	uint32_t ikelifetime_s;	  /* ikelifetime: an IKE SA is rekeyed after (4 h) */
	uint32_t salifetime_s;	  /* salifetime: Child SA hard lifetime, rekeyed at 90% (1 h) */
	uint32_t dpddelay_s;	  /* dpddelay: quiet time before a liveness check (30 s; 0 = off) */
	uint32_t inactivity_s;	  /* inactivity: an idle Child SA is deleted after (10 m; 0 = off) */
	enum oe_encap { OE_ENCAP_AUTO, OE_ENCAP_YES, OE_ENCAP_NO } encapsulation;
				  /* encapsulation: ESP in UDP 4500 when a NAT is detected (auto),
				   * always (yes), never (no) */
	uint32_t keepalive_s;	  /* keep-alive: NAT keepalive interval behind a NAT (20 s; 0 = off) */
	bool pfs;		  /* pfs: Child SA rekeys carry a fresh key exchange (yes) */
	struct oe_addr listen[OE_CONF_MAX_ADDRS];
	size_t n_listen; /* 0 = detect (oe_conf_detect_listen) */
	struct oe_conf_conn *conns;
	size_t nconns;
};

/* Fills c with every default; c owns the strings afterwards. Returns 0 or -ENOMEM. */
int oe_conf_init(struct oe_conf *c);
void oe_conf_free(struct oe_conf *c);

/* Parses ipsec.conf text of len bytes (path for messages) into c, which must come from
 * oe_conf_init. Errors and warnings go to d. Returns 0, -EINVAL if there was any error (c is
 * then incomplete; free it), or -ENOMEM. Pure: touches no file. */
int oe_conf_parse(struct oe_conf *c, const char *path, const char *text, size_t len,
		  struct oe_diag *d);

/* Reads and parses path. A missing file is an error unless missing_ok (then: all defaults).
 * Read errors are reported through d. Returns 0 or -errno / -EINVAL. */
int oe_conf_load(struct oe_conf *c, const char *path, bool missing_ok, struct oe_diag *d);

/* Bitmask (1u << PG_x) of the groups whose conn is not auto=ignore. */
unsigned oe_conf_groups(const struct oe_conf *c);

/* Parses "addr", "v4addr:port" or "[v6addr]:port". */
bool oe_nameserver_parse(const char *s, size_t n, struct oe_nameserver *out);

/* The nameserver lines of resolv.conf text (pure). Returns how many were stored (at most max). */
size_t oe_resolv_parse(const char *text, size_t len, struct oe_nameserver *out, size_t max);

/* The addresses this host uses as its own: conf listen, else the first global address per
 * family from getifaddrs (no loopback, no link-local). Returns how many (at most max). */
size_t oe_conf_our_addrs(const struct oe_conf *c, struct oe_addr *out, size_t max);

/* ---- DNS settings for key lookups (conf_dns.c) --------------------------------------------- */

struct dk_lookup_conf;
/* "[v6]:port," per nameserver at most 50 characters, OE_CONF_MAX_ADDRS of them. */
#define OE_DNS_SERVERS_MAX 1024
/* Fills lc (dnskeys.h) from the DNS settings of c: nameservers (none: /etc/resolv.conf),
 * dns-timeout, dns-retries, dns-lookup-timeout, dns-cache-size, dnssec-enable,
 * dnssec-rootkey-file (the default path may be missing), dnssec-anchors. lc borrows: its
 * strings point into c and into servers, which must outlive it. Used by the agent,
 * `ipsec lookup` and `ipsec verify`, so they all look keys up alike. */
void oe_conf_dns(const struct oe_conf *c, struct dk_lookup_conf *lc,
		 char servers[static OE_DNS_SERVERS_MAX]);

/* ---- key lookups on the event loop (dns_loop.c) -------------------------------------------- */

struct oe_dns;
struct dk_resolver;
struct dk_result;

/* A dk_resolver with the config's DNS settings (oe_conf_dns) driven by loop l: its sockets
 * are watched and its timeouts armed on l, so a lookup never blocks the agent. Problems with
 * servers or anchors go to d. Returns 0 or -errno. */
int oe_dns_new(struct oe_dns **out, struct oe_loop *l, const struct oe_conf *c,
	       struct oe_diag *d);
/* Cancels the lookups in flight (their callbacks run with DK_L_CANCELLED) and stops watching;
 * NULL is fine. Not from inside a lookup callback. */
void oe_dns_free(struct oe_dns *dns);
/* Borrowed, for dk_lookup_cancel(), dk_resolver_stats(), dk_resolver_flush(). */
struct dk_resolver *oe_dns_resolver(struct oe_dns *dns);
/* dk_lookup_addr() / dk_lookup_fqdn() on the loop: cb (a dk_lookup_fn) runs from the loop, or
 * before this returns for a cached result. Returns 0 or -errno (then cb is not called). */
int oe_dns_lookup_addr(struct oe_dns *dns, const struct oe_addr *a,
		       void (*cb)(void *arg, const struct dk_result *res), void *arg);
int oe_dns_lookup_fqdn(struct oe_dns *dns, const char *fqdn,
		       void (*cb)(void *arg, const struct dk_result *res), void *arg);

/* ---- control protocol (ctl_proto.c, ctl_client.c) ------------------------------------------ */

#define OE_CTL_MAX_REQUEST 65536

enum oe_ctl_cmd { OE_CTL_EROUTE, OE_CTL_STATUS, OE_CTL_RELOAD, OE_CTL_POLICY };

struct oe_ctl_req {
	enum oe_ctl_cmd cmd;
	bool json;	     /* eroute --json, status --json */
	struct pg_key key;   /* policy */
	bool has_proto;	     /* policy: PROTO given */
	bool has_port;	     /* policy: PORT given */
};

#define OE_CTL_WHYLEN 160

/* Parses one request's text (n bytes, untrusted). On failure returns -EINVAL and writes a
 * one-line reason to why. Pure. */
int oe_ctl_req_parse(const uint8_t *text, size_t n, struct oe_ctl_req *out,
		     char why[static OE_CTL_WHYLEN]);

/* Parses "ADDR [PROTO [PORT]]" tokens of the policy command into k (PORT = destination port).
 * Returns how many tokens were used (1..3), or 0 with why set. */
int oe_policy_args_parse(char *const *tok, int ntok, struct pg_key *k,
			 char why[static OE_CTL_WHYLEN]);

/* Connects to the agent at sockpath, sends request, and reads the whole reply. On success
 * *ok tells whether the status line said OK; status_msg gets the text after "ERR " (or "");
 * body gets the rest. Returns 0, or -errno if the agent could not be reached or the reply was
 * malformed (-EPROTO). timeout_ms bounds the whole exchange. */
int oe_ctl_call(const char *sockpath, const char *request, int timeout_ms, bool *ok,
		struct oe_buf *status_msg, struct oe_buf *body);

/* ---- policy and group eroutes (policy_load.c) ---------------------------------------------- */

/* Builds the policy as the agent does: the group files in dir (conf->policydir when NULL) for
 * the groups the conf leaves on, plus the implicit rules with the resolvers (conf nameservers,
 * else resolv_text, the contents of /etc/resolv.conf, may be NULL). Errors and warnings go to
 * d. Returns 0 with *out set (the caller's: pg_policy_free), or -EINVAL / -errno / -ENOMEM. */
int oe_policy_build(const struct oe_conf *conf, const char *dir, const char *resolv_text,
		    struct oe_diag *d, struct pg_policy **out);

/* Like oe_policy_build, reading /etc/resolv.conf itself when the conf names no resolvers. */
int oe_policy_load(const struct oe_conf *conf, const char *dir, struct oe_diag *d,
		   struct pg_policy **out);

/* Appends "ADDR GROUP ORIGIN\n" for k, e.g. "192.0.2.7 private /etc/ipsec.d/policies/private:3"
 * (origin: path:line, "implicit (loopback)", "static NAME" or "default"). */
void oe_policy_explain(const struct pg_policy *p, const struct pg_key *k, struct oe_buf *out);

/* The SAID a group's rules get: clear, clear-or-private → %pass; private-or-clear, private →
 * %trap; block → %reject. */
enum kern_said_kind oe_group_said(enum pg_group g);

/* True for eroutes that oe_eroutes_fill made (so a reload can replace exactly those). */
bool oe_eroute_is_group(const struct kern_eroute *e);

/* Replaces the group eroutes in t by those of p: one per rule, "<our addr>/32 -> rule dst",
 * ours[] being this host's addresses (the first of each family is used; /0 of the family when
 * there is none). Other eroutes stay. Returns 0 or -ENOMEM. */
int oe_eroutes_fill(struct kern_eroute_table *t, const struct pg_policy *p,
		    const struct oe_addr *ours, size_t nours);

/* ---- the daemon (agent.c) ------------------------------------------------------------------ */

struct oe_agent_opts {
	const char *config;   /* ipsec.conf path */
	bool config_explicit; /* given with --config: a missing file is an error */
	bool foreground;      /* -f: no fork, log to stderr */
};

/* Starts the agent (config, policy, eroutes, pid file, control socket, daemonizing) and runs
 * it until SIGTERM or SIGINT. Start-up errors go to stderr. Returns the exit status. */
int oe_agent_run(const struct oe_agent_opts *o);

#endif
