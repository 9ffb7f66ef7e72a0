/* Diagnostics on stderr in logfmt (default) or JSON, each line written with one write(). */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "koers/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Room for a message escaped at worst (6 bytes per byte) and the extra fields. */
#define LOG_LINE_MAX 32768
#define LOG_MSG_MAX 4096

const char *const koers_log_formats[] = {"logfmt", "json", NULL};

static const char *const log_level_names[] = {"error", "warn", "info", "debug"};

int koers_log_set_format(const char *format)
{
    for (const char *const *f = koers_log_formats; *f; f++)
        if (strcmp(*f, format) == 0)
            return setenv(KOERS_LOG_FORMAT_ENV, format, 1) == 0 ? 0 : -1;
    return -1;
}

typedef struct {
    char *p;
    size_t len, cap; /* cap excludes room kept for the final newline */
    int truncated;
} log_buf_t;

static void log_put(log_buf_t *b, const char *s, size_t n)
{
    if (b->truncated || b->len + n > b->cap) {
        b->truncated = 1; /* whole units only: never half an escape or character */
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void log_puts(log_buf_t *b, const char *s)
{
    log_put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not one. */
static size_t log_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Writes s escaped for a JSON string or a quoted logfmt value (both take \" \\ \n \t and
 * \uXXXX for the other control characters). */
static void log_escaped(log_buf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        unsigned char c = *p;
        size_t k = log_utf8_len(p, n);
        if (k == 0) {
            log_puts(b, "\xEF\xBF\xBD"); /* U+FFFD */
            k = 1;
        } else if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            log_put(b, e, 2);
        } else if (c == '\n') {
            log_puts(b, "\\n");
        } else if (c == '\t') {
            log_puts(b, "\\t");
        } else if (c == '\r') {
            log_puts(b, "\\r");
        } else if (c < 0x20 || c == 0x7F) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            log_puts(b, e);
        } else {
            log_put(b, (const char *)p, k);
        }
        p += k;
        n -= k;
    }
}

/* A logfmt value: bare when it is a plain word, else quoted and escaped. */
static void log_logfmt_value(log_buf_t *b, const char *s)
{
    int bare = *s != '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p && bare; p++)
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p >= 0x7F)
            bare = 0;
    if (bare) {
        log_puts(b, s);
        return;
    }
    log_puts(b, "\"");
    log_escaped(b, s);
    log_puts(b, "\"");
}

static void log_field(log_buf_t *b, int json, int first, const char *key, const char *value)
{
    if (json) {
        log_puts(b, first ? "{\"" : ",\"");
        log_escaped(b, key);
        log_puts(b, "\":\"");
        log_escaped(b, value);
        log_puts(b, "\"");
    } else {
        if (!first)
            log_puts(b, " ");
        log_puts(b, key);
        log_puts(b, "=");
        log_logfmt_value(b, value);
    }
}

static void log_write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        len -= (size_t)w;
    }
}

static void log_emit(koers_log_level_t level, const char *const *kv, int nkv, const char *fmt,
                     va_list ap) KOERS_PRINTF(4, 0);

static void log_emit(koers_log_level_t level, const char *const *kv, int nkv, const char *fmt,
                     va_list ap)
{
    /* Callers log and then look at errno, and "%m" must see theirs, not ours. */
    int saved = errno;
    char msg[LOG_MSG_MAX];
    int k = vsnprintf(msg, sizeof msg, fmt, ap);
    if (k < 0)
        snprintf(msg, sizeof msg, "(unformattable message)");
    else if ((size_t)k >= sizeof msg)
        memcpy(msg + sizeof msg - 4, "...", 4);
    size_t mlen = strlen(msg);
    while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == '\r' || msg[mlen - 1] == ' '))
        msg[--mlen] = '\0';

    struct timespec now;
    struct tm tm;
    char ts[80] = "";
    clock_gettime(CLOCK_REALTIME, &now);
    if (gmtime_r(&now.tv_sec, &tm))
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long)(now.tv_nsec / 1000000) % 1000);

    const char *format = getenv(KOERS_LOG_FORMAT_ENV);
    int json = format && strcmp(format, "json") == 0;
    char line[LOG_LINE_MAX];
    log_buf_t b = {line, 0, sizeof line - 2, 0}; /* room for '}' and the newline */
    for (int attempt = 0; attempt < 2; attempt++) {
        b.len = 0;
        b.truncated = 0;
        log_field(&b, json, 1, "ts", ts);
        log_field(&b, json, 0, "level", log_level_names[level]);
        log_field(&b, json, 0, "prog", program_invocation_short_name);
        if (attempt == 0) {
            log_field(&b, json, 0, "msg", msg);
            for (int i = 0; i + 1 < 2 * nkv; i += 2)
                if (kv[i] && kv[i + 1])
                    log_field(&b, json, 0, kv[i], kv[i + 1]);
        } else {
            /* Extra fields too long for one line: keep the message, drop them. */
            msg[LOG_MSG_MAX / 2] = '\0';
            log_field(&b, json, 0, "msg", msg);
            log_field(&b, json, 0, "truncated", "true");
        }
        if (!b.truncated)
            break;
    }
    if (json)
        line[b.len++] = '}';
    line[b.len++] = '\n';
    /* One write per line: with a pipe or terminal, lines from several threads or processes
     * then stay whole. */
    log_write_all(line, b.len);
    errno = saved;
}

void koers_log_kv(koers_log_level_t level, const char *const *kv, int nkv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, kv, nkv, fmt, ap);
    va_end(ap);
}

void koers_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit(KOERS_LOG_ERROR, NULL, 0, fmt, ap);
    va_end(ap);
}

void koers_log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit(KOERS_LOG_WARN, NULL, 0, fmt, ap);
    va_end(ap);
}

void koers_log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit(KOERS_LOG_INFO, NULL, 0, fmt, ap);
    va_end(ap);
}
