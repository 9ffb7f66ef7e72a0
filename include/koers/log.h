/* Diagnostics on stderr, one line each, prefixed with the program's name and a level. */
#ifndef KOERS_LOG_H
#define KOERS_LOG_H

#if defined(__GNUC__)
#define KOERS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KOERS_PRINTF(a, b)
#endif

void koers_log_error(const char *fmt, ...) KOERS_PRINTF(1, 2);
void koers_log_warn(const char *fmt, ...) KOERS_PRINTF(1, 2);
void koers_log_info(const char *fmt, ...) KOERS_PRINTF(1, 2);

#endif
