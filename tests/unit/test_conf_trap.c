/* The trap path's config setup keys: defaults, values, and the refusal of bad ones with the
 * message the admin sees. */
#include <errno.h>

#include "agent.h"
#include "t.h"

static char msgs[2048];

static void collect(void *ctx, enum oe_diag_sev sev, const char *msg)
{
	size_t n = strlen(msgs);

	snprintf(msgs + n, sizeof(msgs) - n, "%s%s", n ? "\n" : "", msg);
}

static int parse(struct oe_conf *c, const char *text)
{
	struct oe_diag d = { collect, NULL, 0, 0 };

	msgs[0] = '\0';
	T_CHECK_INT(oe_conf_init(c), 0);
	return oe_conf_parse(c, "t.conf", text, strlen(text), &d);
}

static void test_defaults(void)
{
	struct oe_conf c;

	T_CHECK_INT(parse(&c, ""), 0);
	T_CHECK(c.trap);
	T_CHECK_INT(c.trapqueue, 20293);
	T_CHECK_INT(c.queuemaxlen, 65536);
	T_CHECK_INT(c.socketmark, 0x4f450000);
	T_CHECK_INT(c.socketmask, 0xffff0000);
	T_CHECK_INT(c.holdpackets, 32);
	T_CHECK_INT(c.holdbytes, 262144);
	T_CHECK_INT(c.maxflows, 4096);
	T_CHECK_INT(c.maxlookups, 512);
	T_CHECK_INT(c.maxshunts, 65536);
	T_CHECK_INT(c.maxheldbytes, 16777216);
	oe_conf_free(&c);
}

static void test_values(void)
{
	struct oe_conf c;

	T_CHECK_INT(parse(&c, "config setup\n\ttrap=no\n\ttrapqueue=7\n\tqueuemaxlen=1024\n"
			      "\tsocketmark=0x100/0xf00\n\tholdpackets=4\n\tholdbytes=9000\n"
			      "\tmaxflows=10\n\tmaxlookups=2\n\tmaxshunts=100\n"
			      "\tmaxheldbytes=100000\n"), 0);
	T_CHECK_STR(msgs, "");
	T_CHECK(!c.trap);
	T_CHECK_INT(c.trapqueue, 7);
	T_CHECK_INT(c.queuemaxlen, 1024);
	T_CHECK_INT(c.socketmark, 0x100);
	T_CHECK_INT(c.socketmask, 0xf00);
	T_CHECK_INT(c.holdpackets, 4);
	T_CHECK_INT(c.holdbytes, 9000);
	T_CHECK_INT(c.maxflows, 10);
	T_CHECK_INT(c.maxlookups, 2);
	T_CHECK_INT(c.maxshunts, 100);
	T_CHECK_INT(c.maxheldbytes, 100000);
	oe_conf_free(&c);
	T_CHECK_INT(parse(&c, "config setup\n\tsocketmark=305397760\n"), 0); /* decimal */
	T_CHECK_INT(c.socketmark, 0x12340000);
	oe_conf_free(&c);
	T_CHECK_INT(parse(&c, "config setup\n\tsocketmark=0x4f450000\n"), 0);
	T_CHECK_INT(c.socketmask, 0xffff0000);
	oe_conf_free(&c);
}

static void reject(const char *text, const char *want_part)
{
	struct oe_conf c;

	T_CHECK_INT(parse(&c, text), -EINVAL);
	if (!strstr(msgs, want_part))
		printf("#   got '%s', want '%s' in it\n", msgs, want_part);
	T_CHECK(strstr(msgs, want_part) != NULL);
	oe_conf_free(&c);
}

static void test_errors(void)
{
	reject("config setup\n\ttrap=maybe\n", "t.conf:2:");
	reject("config setup\n\ttrap=maybe\n", "expected yes or no");
	reject("config setup\n\ttrapqueue=65536\n", "number out of range");
	reject("config setup\n\ttrapqueue=-1\n", "expected a decimal number");
	reject("config setup\n\ttrapqueue=07\n", "expected a decimal number");
	reject("config setup\n\tholdpackets=0\n", "number out of range");
	reject("config setup\n\tmaxflows=1x\n", "number out of range");
	reject("config setup\n\tsocketmark=mark\n", "expected MARK or MARK/MASK");
	reject("config setup\n\tsocketmark=0x1/\n", "expected MARK or MARK/MASK");
	reject("config setup\n\tsocketmark=0x10000/0xff\n", "inside the mask");
	reject("config setup\n\tsocketmark=0x100/0x100\n", "inside the mask"); /* one bit */
	reject("config setup\n\tsocketmark=0xffff0000\n", "inside the mask"); /* no trap mark */
	reject("config setup\n\tsocketmark=0\n", "inside the mask");
}

int main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_values);
	T_RUN(test_errors);
	return t_done();
}
