/* Diagnostics on stderr, one line each: logfmt by default, JSON on request. */
#ifndef KOERS_LOG_H
#define KOERS_LOG_H

#if defined(__GNUC__)
#define KOERS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KOERS_PRINTF(a, b)
#endif

/* The environment variable that holds the format ("logfmt" or "json"); the process
 * environment is the only place the choice lives. */
#define KOERS_LOG_FORMAT_ENV "KOERS_LOG_FORMAT"

typedef enum { KOERS_LOG_ERROR, KOERS_LOG_WARN, KOERS_LOG_INFO, KOERS_LOG_DEBUG } koers_log_level_t;

/* Valid values of the log.format setting, NULL-terminated. */
extern const char *const koers_log_formats[];

/* Makes format ("logfmt" or "json") the format of every later line, by setting
 * KOERS_LOG_FORMAT in the process environment. Call from main() before threads start.
 * Returns 0, or -1 for an unknown format (nothing changes). */
int koers_log_set_format(const char *format);

/* Lines look like (logfmt)
 *   ts=2025-03-14T10:30:00.123Z level=info prog=koers-consume msg="assigned 6 partition(s)"
 * or (json)
 *   {"ts":"2025-03-14T10:30:00.123Z","level":"info","prog":"koers-consume","msg":"..."}
 * A trailing newline of the message is dropped; other control characters are escaped, and
 * invalid UTF-8 becomes U+FFFD. errno is preserved. */
void koers_log_error(const char *fmt, ...) KOERS_PRINTF(1, 2);
void koers_log_warn(const char *fmt, ...) KOERS_PRINTF(1, 2);
void koers_log_info(const char *fmt, ...) KOERS_PRINTF(1, 2);

/* A line with extra fields after msg: kv holds nkv key/value pairs (keys as logfmt/JSON
 * keys, values any text; a NULL value is left out). */
void koers_log_kv(koers_log_level_t level, const char *const *kv, int nkv, const char *fmt, ...)
    KOERS_PRINTF(4, 5);

#endif
