/* Logging: levels and subsystems, printf-checked, to stderr, a file or syslog.
 * Never log key bytes; log numbers and identities. Log a failure once, where it is explained. */
#ifndef OE_LOG_H
#define OE_LOG_H

#include <stdbool.h>

enum oe_log_level { OE_LOG_ERR, OE_LOG_WARN, OE_LOG_NOTICE, OE_LOG_INFO, OE_LOG_DEBUG };

enum oe_log_sub { OE_SUB_MAIN, OE_SUB_CONF, OE_SUB_POL, OE_SUB_KERN, OE_SUB_NFQ, OE_SUB_DNS,
		  OE_SUB_IKE, OE_SUB_ESP, OE_SUB_CTL, OE_SUB_FLOW, OE_SUB_COUNT };

enum oe_log_target { OE_LOG_STDERR, OE_LOG_SYSLOG, OE_LOG_FILE };

/* Opens the log; path is used only for OE_LOG_FILE. Returns 0 or -errno. */
int oe_log_open(enum oe_log_target target, const char *path, const char *ident);
void oe_log_close(void);
void oe_log_set_level(enum oe_log_level level);
enum oe_log_level oe_log_get_level(void);
bool oe_log_level_parse(const char *s, enum oe_log_level *out);
const char *oe_log_level_name(enum oe_log_level level);
const char *oe_log_sub_name(enum oe_log_sub sub);
bool oe_log_enabled(enum oe_log_level level);

void oe_log(enum oe_log_sub sub, enum oe_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define oe_err(sub, ...) oe_log(OE_SUB_##sub, OE_LOG_ERR, __VA_ARGS__)
#define oe_warn(sub, ...) oe_log(OE_SUB_##sub, OE_LOG_WARN, __VA_ARGS__)
#define oe_notice(sub, ...) oe_log(OE_SUB_##sub, OE_LOG_NOTICE, __VA_ARGS__)
#define oe_info(sub, ...) oe_log(OE_SUB_##sub, OE_LOG_INFO, __VA_ARGS__)
#define oe_debug(sub, ...)                                                                 \
	do {                                                                               \
		if (oe_log_enabled(OE_LOG_DEBUG))                                          \
			oe_log(OE_SUB_##sub, OE_LOG_DEBUG, __VA_ARGS__);                   \
	} while (0)

#endif
