/* Diagnostics on stderr: "program: level: message", each line written with one write(). */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "koers/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static void log_emit_line(const char *level, const char *fmt, va_list ap) KOERS_PRINTF(2, 0);

static void log_emit_line(const char *level, const char *fmt, va_list ap)
{
    /* Callers log and then look at errno, and "%m" must see theirs, not ours. */
    int saved = errno;
    char buf[LOG_LINE_MAX];
    size_t cap = sizeof buf - 1; /* room kept for the newline */
    int k = snprintf(buf, cap, "%s: %s: ", program_invocation_short_name, level);
    size_t len = k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
    errno = saved;
    k = vsnprintf(buf + len, cap - len, fmt, ap);
    if (k >= 0 && (size_t)k >= cap - len) {
        len = cap - 1;
        memcpy(buf + len - 3, "...", 3);
    } else if (k > 0) {
        len += (size_t)k;
    }
    buf[len++] = '\n';

    /* One write per line: with a pipe or terminal, lines from several threads or
     * processes then stay whole. */
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    errno = saved;
}

void koers_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit_line("error", fmt, ap);
    va_end(ap);
}

void koers_log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit_line("warning", fmt, ap);
    va_end(ap);
}

void koers_log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit_line("info", fmt, ap);
    va_end(ap);
}
