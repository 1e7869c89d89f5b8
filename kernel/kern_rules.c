/* Installing and removing the trap path's kernel state: our nft table through libnftables
 * (in-process, no shell: addresses are formatted by us, never passed through one), and, where
 * the kernel lacks the native nft `queue` statement, the OE_TRAP / OE_TRAP6 iptables chains
 * through iptables-restore run with a fixed argv. Shunt elements are batched per loop turn
 * into one transaction. */
#include "kernel.h"
#include "kern_rules_int.h"

#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oe_log.h"

struct kern_rules {
	struct nft_ctx *nft;
	struct kern_rules_conf conf;
	bool xt_installed;
	struct kern_nl *nl;    /* shunt elements, batched until the next commit */
};

static struct nft_ctx *nft_open(void)
{
	struct nft_ctx *n = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!n)
		return NULL;
	nft_ctx_buffer_output(n);
	nft_ctx_buffer_error(n);
	nft_ctx_output_set_flags(n, NFT_CTX_OUTPUT_NUMERIC_PROTO); /* listings we parse */
	return n;
}

/* Runs nft commands; logs the kernel's or parser's complaint unless quiet. 0 or -EINVAL. */
static int nft_run(struct nft_ctx *n, const char *cmds, bool quiet)
{
	if (nft_run_cmd_from_buffer(n, cmds) == 0)
		return 0;
	if (!quiet) {
		const char *e = nft_ctx_get_error_buffer(n);
		size_t len = strcspn(e, "\n");

		oe_err(KERN, "nft: %.*s", (int)(len > 300 ? 300 : len), e);
	}
	return -EINVAL;
}

/* ---- iptables (xt backend) ------------------------------------------------------------------ */

/* Runs argv[0] (looked up in the usual sbin directories) with stdin from `in` (may be NULL),
 * output discarded. Returns the exit status, or -errno when it could not run. */
static int run_prog(const char *const argv[], const char *in)
{
	static const char *const dirs[] = { "/usr/sbin/", "/sbin/", "/usr/bin/" };
	int p[2] = { -1, -1 }, st;
	pid_t pid;

	if (in && pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		if (in) {
			close(p[0]);
			close(p[1]);
		}
		return err;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		char path[64];

		dup2(in ? p[0] : nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
			snprintf(path, sizeof(path), "%s%s", dirs[i], argv[0]);
			execv(path, (char *const *)argv);
		}
		_exit(127);
	}
	if (in) {
		size_t n = strlen(in), off = 0;

		close(p[0]);
		while (off < n) {
			ssize_t w = write(p[1], in + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(p[1]);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -EINTR;
}

/* Removes every jump from table's hook to chain (a crash between two starts can leave more
 * than one), then the chain. */
static void xt_remove_chain(const char *ipt, const char *table, const char *hook,
			    const char *chain)
{
	const char *del[] = { ipt, "-w", "-t", table, "-D", hook, "-j", chain, NULL };
	const char *flush[] = { ipt, "-w", "-t", table, "-F", chain, NULL };
	const char *rm[] = { ipt, "-w", "-t", table, "-X", chain, NULL };

	for (int i = 0; i < 16 && run_prog(del, NULL) == 0; i++)
		;
	run_prog(flush, NULL);
	run_prog(rm, NULL);
}

/* The ESP queue's jumps: inbound ESP marked by our input chain (filter INPUT), outbound
 * tunnel packets marked by our postrouting chain (mangle POSTROUTING). */
static void xt_remove_esp(bool v6)
{
	const char *ipt = v6 ? "ip6tables" : "iptables";

	xt_remove_chain(ipt, "filter", "INPUT", "OE_ESPIN");
	xt_remove_chain(ipt, "mangle", "POSTROUTING", "OE_ESPOUT");
}

static int xt_install_esp(const struct kern_rules_conf *c, bool v6)
{
	const char *argv[] = { v6 ? "ip6tables-restore" : "iptables-restore", "-w", "--noflush",
			       NULL };
	char in[768];
	int st;

	snprintf(in, sizeof(in),
		 "*filter\n:OE_ESPIN - [0:0]\n"
		 "-A OE_ESPIN -m mark --mark 0x%x/0x%x -j NFQUEUE --queue-num %u\n"
		 "-I INPUT 1 -j OE_ESPIN\nCOMMIT\n"
		 "*mangle\n:OE_ESPOUT - [0:0]\n"
		 "-A OE_ESPOUT -m mark --mark 0x%x/0x%x -j NFQUEUE --queue-num %u\n"
		 "-I POSTROUTING 1 -j OE_ESPOUT\nCOMMIT\n",
		 kern_esp_mark(c), c->mask, c->esp_queue, kern_esp_mark(c), c->mask, c->esp_queue);
	st = run_prog(argv, in);
	if (st != 0) {
		oe_err(KERN, "%s failed (%d) installing OE_ESPIN/OE_ESPOUT", argv[0], st);
		return st < 0 ? st : -EIO;
	}
	return 0;
}

static void xt_remove(bool v6)
{
	const char *ipt = v6 ? "ip6tables" : "iptables";

	xt_remove_chain(ipt, "filter", "OUTPUT", v6 ? "OE_TRAP6" : "OE_TRAP");
	xt_remove_chain(ipt, "filter", "INPUT", v6 ? "OE_TRAPIN6" : "OE_TRAPIN");
	xt_remove_esp(v6);
}

/* OE_TRAP queues what our output chain marked as trapped; OE_TRAPIN what our input chain
 * marked as inbound cleartext from a private range (the agent negotiates towards its sender). */
static int xt_install(const struct kern_rules_conf *c, bool v6)
{
	const char *argv[] = { v6 ? "ip6tables-restore" : "iptables-restore", "-w", "--noflush",
			       NULL };
	const char *chain = v6 ? "OE_TRAP6" : "OE_TRAP", *in = v6 ? "OE_TRAPIN6" : "OE_TRAPIN";
	char text[768];
	int st;

	snprintf(text, sizeof(text),
		 "*filter\n:%s - [0:0]\n:%s - [0:0]\n"
		 "-A %s -m mark --mark 0x%x/0x%x -j NFQUEUE --queue-num %u\n"
		 "-A %s -m mark --mark 0x%x/0x%x -j NFQUEUE --queue-num %u\n"
		 "-I OUTPUT 1 -j %s\n-I INPUT 1 -j %s\nCOMMIT\n",
		 chain, in, chain, kern_trap_mark(c), c->mask, c->queue, in, kern_trapin_mark(c),
		 c->mask, c->queue, chain, in);
	st = run_prog(argv, text);
	if (st != 0) {
		oe_err(KERN, "%s failed (%d) installing %s and %s", argv[0], st, chain, in);
		return st < 0 ? st : -EIO;
	}
	return 0;
}

/* ---- probing, open, close ------------------------------------------------------------------- */

/* The native queue statement exists when the kernel accepts a rule using it; the probe chain
 * is a regular chain (never run) in a table of its own, deleted at once. */
static bool probe_native_queue(struct nft_ctx *n)
{
	bool ok;

	nft_run(n, "delete table inet oe_agent_probe\n", true);
	ok = nft_run(n, "add table inet oe_agent_probe\n"
			"add chain inet oe_agent_probe c\n"
			"add rule inet oe_agent_probe c queue num 0\n", true) == 0;
	nft_run(n, "delete table inet oe_agent_probe\n", true);
	return ok;
}

int kern_rules_cleanup(void)
{
	struct nft_ctx *n = nft_open();

	if (!n)
		return -ENOMEM;
	nft_run(n, "delete table inet " KERN_TRAP_TABLE "\n", true);
	nft_run(n, "delete table inet oe_agent_probe\n", true);
	nft_ctx_free(n);
	xt_remove(false);
	xt_remove(true);
	return 0;
}

int kern_rules_open(const struct kern_rules_conf *c, const struct kern_range *v, size_t n,
		    struct kern_rules **out)
{
	struct kern_rules *r = calloc(1, sizeof(*r));
	struct oe_buf text;
	int err = -ENOMEM;

	*out = NULL;
	oe_buf_init(&text);
	if (!r || !(r->nft = nft_open()))
		goto fail;
	r->conf = *c;
	err = kern_nl_open(&r->nl);
	if (err)
		goto fail;
	kern_rules_cleanup();
	r->conf.native_queue = probe_native_queue(r->nft);
	oe_notice(KERN, "trap: %s, queue %u", r->conf.native_queue ?
		  "native nft queue statement" :
		  "nft has no queue statement here: iptables NFQUEUE target (OE_TRAP, OE_TRAP6)",
		  c->queue);
	kern_rules_render(&r->conf, v, n, &text);
	if (oe_buf_failed(&text))
		goto fail;
	err = nft_run(r->nft, text.p, false);
	if (err)
		goto fail;
	if (!r->conf.native_queue) {
		r->xt_installed = true;
		err = xt_install(&r->conf, false);
		if (!err)
			err = xt_install(&r->conf, true);
		if (!err && r->conf.esp_queue)
			err = xt_install_esp(&r->conf, false);
		if (!err && r->conf.esp_queue)
			err = xt_install_esp(&r->conf, true);
		if (err)
			goto fail;
	}
	oe_buf_free(&text);
	*out = r;
	return 0;
fail:
	oe_buf_free(&text);
	kern_rules_close(r, true);
	return err;
}

void kern_rules_close(struct kern_rules *r, bool remove)
{
	if (!r)
		return;
	if (remove && r->nft)
		nft_run(r->nft, "delete table inet " KERN_TRAP_TABLE "\n", true);
	if (remove && r->xt_installed) {
		xt_remove(false);
		xt_remove(true);
	}
	if (r->nft)
		nft_ctx_free(r->nft);
	kern_nl_close(r->nl);
	free(r);
}

bool kern_rules_native(const struct kern_rules *r)
{
	return r->conf.native_queue;
}

int kern_rules_set_ranges(struct kern_rules *r, const struct kern_range *v, size_t n)
{
	struct oe_buf text;
	int err;

	oe_buf_init(&text);
	kern_rules_render_ranges(v, n, &text);
	err = oe_buf_failed(&text) ? -ENOMEM : nft_run(r->nft, text.p, false);
	oe_buf_free(&text);
	return err;
}

/* ---- shunts ------------------------------------------------------------------------------- */

/* The set's key: source . destination [. protocol . source port . destination port], each
 * field in a 4-octet register (addresses are whole registers; the protocol octet and the
 * ports in network order lead theirs). */
static size_t elem_key(const struct kern_shunt_elem *e, uint8_t key[static 64])
{
	size_t a = e->src.af == AF_INET6 ? 16 : 4, n = 2 * a;

	memset(key, 0, 64);
	memcpy(key, e->src.b, a);
	memcpy(key + a, e->dst.b, a);
	if (!e->proto)
		return n;
	key[n] = e->proto;
	key[n + 4] = (uint8_t)(e->sport >> 8);
	key[n + 5] = (uint8_t)e->sport;
	key[n + 8] = (uint8_t)(e->dport >> 8);
	key[n + 9] = (uint8_t)e->dport;
	return n + 12;
}

static void elem_set(enum kern_shunt k, const struct kern_shunt_elem *e, char set[static 16])
{
	snprintf(set, 16, "%s%s%c", kern_shunt_set(k), e->proto ? "p" : "",
		 e->src.af == AF_INET6 ? '6' : '4');
}

static bool elem_ok(enum kern_shunt k, const struct kern_shunt_elem *e)
{
	return (unsigned)k < KERN_NSHUNTS && e->src.af == e->dst.af &&
	       (e->src.af == AF_INET || e->src.af == AF_INET6) &&
	       (!e->proto || kern_shunt_ports_ok(e->proto));
}

int kern_shunt_add(struct kern_rules *r, enum kern_shunt k, const struct kern_shunt_elem *e,
		   uint64_t timeout_s)
{
	uint8_t key[64];
	char set[16];
	size_t n;

	if (!elem_ok(k, e) || !timeout_s)
		return -EINVAL;
	n = elem_key(e, key);
	elem_set(k, e, set);
	return kern_nl_elem(r->nl, set, false, key, n, timeout_s * 1000);
}

int kern_shunt_del(struct kern_rules *r, enum kern_shunt k, const struct kern_shunt_elem *e)
{
	uint8_t key[64];
	char set[16];
	size_t n;
	int err;

	if (!elem_ok(k, e))
		return -EINVAL;
	n = elem_key(e, key);
	elem_set(k, e, set);
	/* add first (a no-op when present): deleting a missing element would fail its message,
	 * and the element may just have timed out */
	err = kern_nl_elem(r->nl, set, false, key, n, 1000);
	return err ? err : kern_nl_elem(r->nl, set, true, key, n, 0);
}

size_t kern_rules_pending(const struct kern_rules *r)
{
	return kern_nl_pending(r->nl);
}

int kern_rules_commit(struct kern_rules *r)
{
	size_t n = kern_nl_pending(r->nl);
	unsigned errors = 0;
	int err;

	if (!n)
		return 0;
	err = kern_nl_commit(r->nl, &errors);
	if (err)
		oe_err(KERN, "shunt changes: %u of the messages for %zu elements refused (%s); "
		       "those pairs stay decided in the agent", errors, n, strerror(-err));
	return err;
}

int kern_shunt_walk(struct kern_rules *r,
		    void (*fn)(void *ctx, enum kern_shunt k, const struct kern_shunt_elem *e),
		    void *ctx)
{
	char cmd[96];
	int err = 0;

	for (int i = 0; i < 4 && !err; i++) { /* pair and port sets, IPv4 and IPv6 */
		for (int k = 0; k < KERN_NSHUNTS && !err; k++) {
			snprintf(cmd, sizeof(cmd), "list set inet %s %s%s%c\n", KERN_TRAP_TABLE,
				 kern_shunt_set((enum kern_shunt)k), i & 2 ? "p" : "",
				 i & 1 ? '6' : '4');
			err = nft_run(r->nft, cmd, false);
			if (!err)
				kern_shunt_parse_listing(nft_ctx_get_output_buffer(r->nft),
							 (enum kern_shunt)k, fn, ctx);
		}
	}
	return err;
}

int kern_rules_inbound_drops(struct kern_rules *r, uint64_t *packets)
{
	const char *o, *p;

	*packets = 0;
	if (nft_run(r->nft, "list counter inet " KERN_TRAP_TABLE " cleartext_in\n", false))
		return -EINVAL;
	o = nft_ctx_get_output_buffer(r->nft);
	p = o ? strstr(o, "packets ") : NULL;
	if (!p)
		return -EPROTO;
	*packets = strtoull(p + 8, NULL, 10);
	return 0;
}
