/* The daemon's life: load the config and the policy, fill the group eroutes, claim the pid
 * file, bind the control socket, daemonize, then serve the control socket and signals from
 * the event loop until SIGTERM/SIGINT. A reload (SIGHUP or `ipsec reload`) builds a complete
 * new config and policy first and swaps only if both are free of errors, so a broken edit
 * never disturbs the running policy. */
#include "agent.h"
#include "agent_int.h"
#include "flow_int.h"
#include "ike_sock_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oe_time.h"

struct oe_agent {
	const struct oe_agent_opts *opts;
	struct oe_loop *loop;
	struct oe_conf conf;
	struct pg_policy *policy;
	struct kern_eroute_table *eroutes;
	struct oe_ctl_server *ctl;
	struct oe_trap *trap; /* NULL with trap=no */
	struct oe_tunnels *tunnels; /* IKE + userspace ESP (tunnel.c); NULL with trap=no */
	int pidfd;
	bool pid_claimed;
	uint64_t started_ms;
	time_t policy_time;
	char last_reload[160];
};

/* ---- diagnostics: to a reply buffer and the log ------------------------------------------ */

static void diag_to_buf(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	struct oe_buf *b = ctx;

	oe_buf_printf(b, "%s: %s\n", sev == OE_DIAG_ERROR ? "error" : "warning", msg);
	if (sev == OE_DIAG_ERROR)
		oe_err(CONF, "%s", msg);
	else
		oe_warn(CONF, "%s", msg);
}

static void fmt_time(time_t t, char *buf, size_t n)
{
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, n, "%lld", (long long)t);
}

/* ---- loading and reloading ---------------------------------------------------------------- */

/* Loads config and policy into *conf / *policy; messages go to d. Returns 0 or -errno. */
static int load_all(const struct oe_agent_opts *o, struct oe_conf *conf,
		    struct pg_policy **policy, struct oe_diag *d)
{
	int err = oe_conf_init(conf);

	*policy = NULL;
	if (err)
		return err;
	err = oe_conf_load(conf, o->config, !o->config_explicit, d);
	if (!err)
		err = oe_policy_load(conf, NULL, d, policy);
	if (err)
		oe_conf_free(conf);
	return err;
}

static int install(struct oe_agent *a)
{
	struct oe_addr ours[OE_CONF_MAX_ADDRS];
	size_t n = oe_conf_our_addrs(&a->conf, ours, OE_CONF_MAX_ADDRS);
	char ab[OE_ADDRSTRLEN];
	int err;

	for (size_t i = 0; i < n; i++)
		oe_info(MAIN, "our address: %s", oe_addr_str(&ours[i], ab));
	err = oe_eroutes_fill(a->eroutes, a->policy, ours, n);
	a->policy_time = time(NULL);
	oe_log_set_level(a->conf.loglevel);
	if (err)
		oe_err(KERN, "filling the group eroutes: %s", strerror(-err));
	else
		oe_info(POL, "policy: %zu rules, %zu eroutes", pg_rule_count(a->policy),
			kern_eroute_count(a->eroutes));
	return err;
}

/* Keeps settings that only a restart can change, warning when the new file differs. */
static void keep_fixed(struct oe_conf *old, struct oe_conf *neu, struct oe_buf *msgs)
{
	struct {
		const char *key;
		char **o, **n;
	} f[] = {
		{ "ctlsocket", &old->ctlsocket, &neu->ctlsocket },
		{ "pidfile", &old->pidfile, &neu->pidfile },
		{ "logfile", &old->logfile, &neu->logfile }, /* NULL = syslog */
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *o = *f[i].o ? *f[i].o : "syslog", *n = *f[i].n ? *f[i].n : "syslog";
		char *t;

		if (strcmp(o, n) != 0) {
			oe_buf_printf(msgs, "warning: %s changed to %s: takes effect after a restart\n",
				      f[i].key, n);
			oe_warn(CONF, "%s changed to %s: takes effect after a restart", f[i].key, n);
		}
		t = *f[i].o;
		*f[i].o = *f[i].n;
		*f[i].n = t;
	}
}

/* Returns 0 when the new config and policy are in force; otherwise the old ones stay. */
static int agent_reload(struct oe_agent *a, struct oe_buf *msgs)
{
	struct oe_diag d = { diag_to_buf, msgs, 0, 0 };
	struct pg_policy *policy;
	struct oe_conf conf;
	char when[32];
	int err;

	oe_info(MAIN, "reloading %s", a->opts->config);
	fmt_time(time(NULL), when, sizeof(when));
	err = load_all(a->opts, &conf, &policy, &d);
	if (err) {
		snprintf(a->last_reload, sizeof(a->last_reload),
			 "failed at %s: %u error%s; the old policy stays", when, d.errors,
			 d.errors == 1 ? "" : "s");
		oe_err(MAIN, "reload rejected (%u errors); the old policy stays", d.errors);
		return err ? err : -EINVAL;
	}
	keep_fixed(&a->conf, &conf, msgs);
	if (conf.trap != a->conf.trap || conf.trapqueue != a->conf.trapqueue ||
	    conf.socketmark != a->conf.socketmark || conf.socketmask != a->conf.socketmask ||
	    conf.queuemaxlen != a->conf.queuemaxlen) {
		oe_buf_puts(msgs, "warning: trap, trapqueue, queuemaxlen and socketmark take effect "
			    "after a restart\n");
		oe_warn(CONF, "trap, trapqueue, queuemaxlen and socketmark take effect after a "
			"restart");
	}
	oe_conf_free(&a->conf);
	a->conf = conf;
	pg_policy_free(a->policy);
	a->policy = policy;
	err = install(a);
	if (a->trap)
		oe_trap_reload(a->trap, &a->conf, a->policy); /* failures are logged there */
	if (a->tunnels)
		oe_tunnels_set_policy(a->tunnels, a->policy);
	snprintf(a->last_reload, sizeof(a->last_reload), "%s at %s%s", err ? "failed" : "ok",
		 when, err ? ": out of memory filling the eroutes" : "");
	return err;
}

/* ---- control requests --------------------------------------------------------------------- */

static void put_duration(struct oe_buf *b, uint64_t s)
{
	if (s >= 86400)
		oe_buf_printf(b, "%llud", (unsigned long long)(s / 86400));
	if (s >= 3600)
		oe_buf_printf(b, "%lluh", (unsigned long long)(s / 3600 % 24));
	if (s >= 60)
		oe_buf_printf(b, "%llum", (unsigned long long)(s / 60 % 60));
	oe_buf_printf(b, "%llus", (unsigned long long)(s % 60));
}

static void status_reply(struct oe_agent *a, struct oe_buf *out)
{
	size_t per[PG_NGROUPS] = { 0 }, implicit = 0, stat = 0, n = pg_rule_count(a->policy);
	unsigned on = oe_conf_groups(&a->conf);
	char when[32];

	for (size_t i = 0; i < n; i++) {
		const struct pg_rule *r = pg_rule_at(a->policy, i);

		if (r->origin == PG_ORIGIN_IMPLICIT)
			implicit++;
		else if (r->origin == PG_ORIGIN_STATIC)
			stat++;
		else
			per[r->group]++;
	}
	fmt_time(a->policy_time, when, sizeof(when));
	oe_buf_printf(out, "OK\noe-agent %s, pid %d, up ", OE_VERSION, (int)getpid());
	put_duration(out, (oe_now_ms() - a->started_ms) / 1000);
	oe_buf_printf(out, "\nconfig: %s\npolicy: %s, loaded %s, %zu rules\n", a->opts->config,
		      a->conf.policydir, when, n);
	for (int g = 0; g < PG_NGROUPS; g++)
		oe_buf_printf(out, "  %-17s %zu%s\n", pg_group_name((enum pg_group)g), per[g],
			      on & (1u << g) ? "" : " (off: auto=ignore)");
	oe_buf_printf(out, "  %-17s %zu\n", "implicit", implicit);
	if (stat)
		oe_buf_printf(out, "  %-17s %zu\n", "static", stat);
	oe_buf_printf(out, "eroutes: %zu\nlast reload: %s\n", kern_eroute_count(a->eroutes),
		      a->last_reload);
	if (a->trap)
		oe_trap_status(a->trap, out);
	if (a->tunnels)
		oe_tunnels_status(a->tunnels, out);
}

/* status --json: the IKE and Child SAs and the ESP counters (empty without the tunnels). */
static void status_json_reply(struct oe_agent *a, struct oe_buf *out)
{
	oe_buf_puts(out, "OK\n");
	if (a->tunnels)
		oe_tunnels_status_json(a->tunnels, out);
	else
		oe_buf_puts(out, "{\"ike_sas\":[],\"esp\":null}\n");
}

static bool copy_eroute(void *ctx, struct kern_eroute *e)
{
	return kern_eroute_add(ctx, e) == 0;
}

/* The group eroutes plus, with the trap on, the per-pair shunts with their kernel counts (a
 * shunt replaces a group eroute of the very same selector: it is what happens there now). */
static void eroute_reply(struct oe_agent *a, bool json, struct oe_buf *out)
{
	struct kern_eroute_table *t = a->eroutes, *all = NULL;

	if (a->trap && (all = kern_eroute_table_new()) != NULL) {
		kern_eroute_walk(a->eroutes, copy_eroute, all);
		oe_trap_eroutes(a->trap, all);
		if (a->tunnels)
			oe_tunnels_eroutes(a->tunnels, all);
		t = all;
	}
	oe_buf_puts(out, "OK\n");
	if (json)
		kern_eroute_format_json(t, oe_now_ms(), out);
	else
		kern_eroute_format(t, out);
	kern_eroute_table_free(all);
}

static void on_request(void *ctx, const struct oe_ctl_req *req, struct oe_buf *out)
{
	struct oe_agent *a = ctx;
	struct oe_buf msgs;

	switch (req->cmd) {
	case OE_CTL_EROUTE:
		eroute_reply(a, req->json, out);
		break;
	case OE_CTL_STATUS:
		if (req->json)
			status_json_reply(a, out);
		else
			status_reply(a, out);
		break;
	case OE_CTL_POLICY:
		oe_buf_puts(out, "OK\n");
		oe_policy_explain(a->policy, &req->key, out);
		break;
	case OE_CTL_RELOAD:
		oe_buf_init(&msgs);
		if (agent_reload(a, &msgs) == 0)
			oe_buf_printf(out, "OK\n%sreloaded: %zu rules, %zu eroutes\n",
				      msgs.len ? msgs.p : "", pg_rule_count(a->policy),
				      kern_eroute_count(a->eroutes));
		else
			oe_buf_printf(out, "ERR reload rejected; the old policy stays in force\n%s",
				      msgs.len ? msgs.p : "");
		oe_buf_free(&msgs);
		break;
	}
}

static void on_signal(void *ctx, int signo)
{
	struct oe_agent *a = ctx;
	struct oe_buf msgs;

	if (signo == SIGHUP) {
		oe_buf_init(&msgs);
		agent_reload(a, &msgs);
		oe_buf_free(&msgs);
		return;
	}
	oe_notice(MAIN, "signal %d: shutting down", signo);
	oe_loop_stop(a->loop);
}

/* ---- pid file and daemon ------------------------------------------------------------------ */

static void pidfile_write(struct oe_agent *a)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(a->pidfd, 0) < 0 || pwrite(a->pidfd, buf, (size_t)n, 0) != n)
		oe_warn(MAIN, "writing pid file %s: %s", a->conf.pidfile, strerror(errno));
}

/* Creates the pid file exclusively; replaces it when the pid in it is not alive. */
static int pidfile_claim(struct oe_agent *a)
{
	const char *path = a->conf.pidfile;

	for (int tries = 0; tries < 3; tries++) {
		char buf[32] = "";
		long pid;
		ssize_t n;
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		if (fd >= 0) {
			a->pidfd = fd;
			a->pid_claimed = true;
			pidfile_write(a); /* never leave it empty: see daemonize() */
			return 0;
		}
		if (errno == ENOENT) {
			char dir[4096], *slash;

			snprintf(dir, sizeof(dir), "%s", path);
			slash = strrchr(dir, '/');
			if (slash && slash != dir) {
				*slash = '\0';
				if (mkdir(dir, 0700) < 0 && errno != EEXIST)
					break;
			}
			continue;
		}
		if (errno != EEXIST)
			break;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n == 0 && tries == 0) {
			usleep(100000); /* created an instant ago, its pid not written yet */
			continue;
		}
		pid = n > 0 ? strtol(buf, NULL, 10) : 0;
		if (pid > 0 && pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
			fprintf(stderr, "oe-agent: already running, pid %ld (%s)\n", pid, path);
			return -EEXIST;
		}
		oe_notice(MAIN, "replacing stale pid file %s", path);
		unlink(path);
	}
	fprintf(stderr, "oe-agent: cannot create pid file %s: %s\n", path, strerror(errno));
	return -errno;
}

/* Forks; the parent waits until the child has written the pid file and says it is ready
 * (one byte on a pipe), so whoever started the agent, or a second agent, never sees a pid
 * file without a live pid in it. The parent exits 0 then, 1 if the child died first. */
static int daemonize(struct oe_agent *a)
{
	int p[2], fd;
	pid_t pid;
	char ok;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		ssize_t r;

		close(p[1]);
		do
			r = read(p[0], &ok, 1);
		while (r < 0 && errno == EINTR);
		_exit(r == 1 && ok == 'r' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0 || chdir("/") < 0)
		return -errno;
	pidfile_write(a);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	ok = 'r';
	if (write(p[1], &ok, 1) != 1)
		oe_warn(MAIN, "telling the parent we are ready: %s", strerror(errno));
	close(p[1]);
	return 0;
}

static int open_log(const struct oe_agent *a)
{
	const char *f = a->conf.logfile;
	int err = 0;

	if (a->opts->foreground || (f && strcmp(f, "stderr") == 0))
		err = oe_log_open(OE_LOG_STDERR, NULL, "oe-agent");
	else if (f)
		err = oe_log_open(OE_LOG_FILE, f, "oe-agent");
	else
		err = oe_log_open(OE_LOG_SYSLOG, NULL, "oe-agent");
	if (err)
		fprintf(stderr, "oe-agent: cannot open log file %s: %s\n", f, strerror(-err));
	oe_log_set_level(a->conf.loglevel);
	return err;
}

/* Everything up to a bound socket, with errors on stderr. */
static int agent_start(struct oe_agent *a)
{
	struct oe_diag d = { oe_diag_print, stderr, 0, 0 };
	int err;

	err = load_all(a->opts, &a->conf, &a->policy, &d);
	if (err)
		return err;
	err = open_log(a);
	if (err)
		return err;
	a->eroutes = kern_eroute_table_new();
	if (!a->eroutes)
		return -ENOMEM;
	err = install(a);
	if (err)
		return err;
	snprintf(a->last_reload, sizeof(a->last_reload), "none since start");
	err = pidfile_claim(a);
	if (err)
		return err;
	err = oe_ctl_server_new(a->conf.ctlsocket, &a->ctl);
	if (err)
		fprintf(stderr, "oe-agent: cannot listen on %s: %s\n", a->conf.ctlsocket,
			strerror(-err));
	return err;
}

static int agent_serve(struct oe_agent *a)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	int err;

	if (a->opts->foreground)
		pidfile_write(a);
	else if ((err = daemonize(a)) != 0)
		return err;
	a->started_ms = oe_now_ms();
	err = oe_loop_new(&a->loop);
	for (size_t i = 0; !err && i < sizeof(sigs) / sizeof(sigs[0]); i++)
		err = oe_loop_signal(a->loop, sigs[i], on_signal, a);
	if (!err)
		err = oe_ctl_server_start(a->ctl, a->loop, on_request, a);
	if (err) {
		oe_err(MAIN, "cannot start the event loop: %s", strerror(-err));
		return err;
	}
	if (a->conf.trap && (err = oe_trap_start(a->loop, &a->conf, a->policy, &a->trap)) != 0) {
		oe_err(MAIN, "cannot start the trap path: %s", strerror(-err));
		return err;
	}
	if (a->trap &&
	    (err = oe_tunnels_start(a->loop, &a->conf, a->policy, a->trap, &a->tunnels)) != 0) {
		oe_err(MAIN, "cannot start IKE and the ESP datapath: %s", strerror(-err));
		return err;
	}
	oe_notice(MAIN, "oe-agent %s started, pid %d, control socket %s", OE_VERSION,
		  (int)getpid(), a->conf.ctlsocket);
	err = oe_loop_run(a->loop);
	if (err)
		oe_err(MAIN, "event loop: %s", strerror(-err));
	return err;
}

int oe_agent_run(const struct oe_agent_opts *o)
{
	struct oe_agent a = { .opts = o, .pidfd = -1 };
	int err;

	signal(SIGPIPE, SIG_IGN);
	err = agent_start(&a);
	if (!err)
		err = agent_serve(&a);
	oe_ctl_server_free(a.ctl);
	if (a.pid_claimed)
		unlink(a.conf.pidfile);
	if (a.pidfd >= 0)
		close(a.pidfd);
	oe_tunnels_stop(a.tunnels); /* before the trap, whose negotiator and rules it uses */
	oe_trap_stop(a.trap); /* removes our rules: after it, nothing of ours is left */
	oe_loop_free(a.loop);
	kern_eroute_table_free(a.eroutes);
	pg_policy_free(a.policy);
	if (a.conf.ipsecdir)
		oe_conf_free(&a.conf);
	if (!err)
		oe_notice(MAIN, "stopped");
	oe_log_close();
	return err ? 1 : 0;
}
