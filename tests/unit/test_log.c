/* Unit tests for lib/oe_log.c: level names and parsing, the level filter (oe_debug does not
 * even evaluate its arguments when debug is off), the line format with subsystem and level,
 * a log file (appended, one line per message, long messages cut, not overrun), and the error
 * of a log file that cannot be opened. syslog is left to the daemon-mode test in agent.sh. */
#include "oe_log.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <unistd.h>

#include "t.h"

static char path[] = "/tmp/oet-log-XXXXXX";

/* The log file's lines, NUL-separated in one static buffer; returns how many. */
static int read_lines(char *lines[], int max)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	int count = 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	for (char *s = buf, *nl; *s && count < max; s = nl + 1) {
		nl = strchr(s, '\n');
		if (!nl)
			break;
		*nl = '\0';
		lines[count++] = s;
	}
	return count;
}

static bool line_is(const char *line, const char *tail_re)
{
	char re[256];
	regex_t rx;
	bool ok;

	snprintf(re, sizeof(re), "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} %s$",
		 tail_re);
	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB))
		return false;
	ok = regexec(&rx, line, 0, NULL, 0) == 0;
	regfree(&rx);
	if (!ok)
		printf("#   line '%s' !~ '%s'\n", line, re);
	return ok;
}

static void test_levels(void)
{
	enum oe_log_level l;

	T_CHECK(oe_log_level_parse("debug", &l) && l == OE_LOG_DEBUG);
	T_CHECK(oe_log_level_parse("notice", &l) && l == OE_LOG_NOTICE);
	T_CHECK(oe_log_level_parse("warn", &l) && l == OE_LOG_WARN);
	T_CHECK(oe_log_level_parse("err", &l) && l == OE_LOG_ERR);
	T_CHECK(!oe_log_level_parse("loud", &l));
	T_CHECK(!oe_log_level_parse("", &l));
	T_CHECK_STR(oe_log_level_name(OE_LOG_WARN), "warning");
	T_CHECK_STR(oe_log_level_name((enum oe_log_level)9), "?");
	T_CHECK_STR(oe_log_sub_name(OE_SUB_POL), "POL");
	T_CHECK_STR(oe_log_sub_name(OE_SUB_COUNT), "?");
	oe_log_set_level(OE_LOG_WARN);
	T_CHECK(oe_log_enabled(OE_LOG_ERR) && oe_log_enabled(OE_LOG_WARN));
	T_CHECK(!oe_log_enabled(OE_LOG_INFO));
	T_CHECK_INT(oe_log_get_level(), OE_LOG_WARN);
}

static int evaluated;

static int count_eval(void)
{
	return ++evaluated;
}

static void test_file(void)
{
	char *lines[16], big[2000];
	int fd = mkstemp(path);

	T_CHECK(fd >= 0);
	close(fd);
	T_CHECK_INT(oe_log_open(OE_LOG_FILE, path, "test_log"), 0);
	oe_log_set_level(OE_LOG_INFO);
	oe_err(KERN, "netlink: %s", "No buffer space");
	oe_warn(DNS, "server %s silent", "192.0.2.53");
	oe_notice(CTL, "client %d", 7);
	oe_info(POL, "policy: %zu rules", (size_t)3);
	oe_debug(IKE, "not shown %d", count_eval());
	T_CHECK_INT(evaluated, 0);
	oe_log_set_level(OE_LOG_DEBUG);
	oe_debug(IKE, "shown %d", count_eval());
	T_CHECK_INT(evaluated, 1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	oe_info(MAIN, "%s", big);
	oe_log_close();
	{
		int saved = dup(2), null = open("/dev/null", O_WRONLY);

		dup2(null, 2); /* after close: to stderr (quiet here), not the file */
		oe_info(MAIN, "after close");
		dup2(saved, 2);
		close(saved);
		close(null);
	}

	T_CHECK_INT(read_lines(lines, 16), 6);
	T_CHECK(line_is(lines[0], "KERN error: netlink: No buffer space"));
	T_CHECK(line_is(lines[1], "DNS  warning: server 192\\.0\\.2\\.53 silent"));
	T_CHECK(line_is(lines[2], "CTL  client 7"));
	T_CHECK(line_is(lines[3], "POL  policy: 3 rules"));
	T_CHECK(line_is(lines[4], "IKE  shown 1"));
	T_CHECK_INT(strlen(lines[5]), 24 + 5 + 1023); /* time, "MAIN ", the message cut */
	unlink(path);
	oe_log_set_level(OE_LOG_INFO);
}

static void test_open_error(void)
{
	T_CHECK_INT(oe_log_open(OE_LOG_FILE, "/nonexistent-oet/dir/log", "t"), -ENOENT);
	oe_log_close(); /* harmless after a failed open */
	T_CHECK_INT(oe_log_open(OE_LOG_STDERR, NULL, "t"), 0);
	oe_log_close();
}

int main(void)
{
	T_RUN(test_levels);
	T_RUN(test_file);
	T_RUN(test_open_error);
	return t_done();
}
