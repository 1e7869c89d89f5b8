/* Logging backend (see oe_log.h). Defaults to stderr at level info until oe_log_open(). */
#include "oe_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *const level_names[] = { "error", "warning", "notice", "info", "debug" };
static const char *const sub_names[OE_SUB_COUNT] = { "MAIN", "CONF", "POL", "KERN", "NFQ",
						     "DNS",  "IKE",  "ESP", "CTL",  "FLOW" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

static struct {
	enum oe_log_target target;
	enum oe_log_level level;
	FILE *file;
} lg = { OE_LOG_STDERR, OE_LOG_INFO, NULL };

int oe_log_open(enum oe_log_target target, const char *path, const char *ident)
{
	oe_log_close();
	if (target == OE_LOG_FILE) {
		FILE *f = fopen(path, "ae");

		if (!f)
			return -errno;
		setvbuf(f, NULL, _IOLBF, 0);
		lg.file = f;
	} else if (target == OE_LOG_SYSLOG) {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
	lg.target = target;
	return 0;
}

void oe_log_close(void)
{
	if (lg.target == OE_LOG_FILE && lg.file)
		fclose(lg.file);
	else if (lg.target == OE_LOG_SYSLOG)
		closelog();
	lg.file = NULL;
	lg.target = OE_LOG_STDERR;
}

void oe_log_set_level(enum oe_log_level level)
{
	lg.level = level;
}

enum oe_log_level oe_log_get_level(void)
{
	return lg.level;
}

bool oe_log_enabled(enum oe_log_level level)
{
	return level <= lg.level;
}

bool oe_log_level_parse(const char *s, enum oe_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum oe_log_level)i;
			return true;
		}
	}
	if (strcmp(s, "warn") == 0 || strcmp(s, "err") == 0) {
		*out = s[0] == 'w' ? OE_LOG_WARN : OE_LOG_ERR;
		return true;
	}
	return false;
}

const char *oe_log_level_name(enum oe_log_level level)
{
	return (unsigned)level < 5 ? level_names[level] : "?";
}

const char *oe_log_sub_name(enum oe_log_sub sub)
{
	return (unsigned)sub < OE_SUB_COUNT ? sub_names[sub] : "?";
}

void oe_log(enum oe_log_sub sub, enum oe_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!oe_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lg.target == OE_LOG_SYSLOG) {
		syslog(syslog_prio[level], "%s: %s", oe_log_sub_name(sub), msg);
		return;
	}
	FILE *f = lg.target == OE_LOG_FILE && lg.file ? lg.file : stderr;
	struct timespec ts;
	struct tm tm;
	char when[32] = "";

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && localtime_r(&ts.tv_sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(f, "%s.%03ld %-4s %s%s%s\n", when, ts.tv_nsec / 1000000, oe_log_sub_name(sub),
		level <= OE_LOG_WARN ? level_names[level] : "", level <= OE_LOG_WARN ? ": " : "",
		msg);
}
