/* Times: strict ISO 8601 parsing to UTC milliseconds, formatting, and the programme's zone. */
#include "koers/timeutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "koers/log.h"

#define TIME_ZONEINFO_DIR "/usr/share/zoneinfo/"

int koers_time_set_zone(const char *zone, char *errstr, size_t errlen)
{
    char path[512];
    struct stat st;

    if (zone == NULL || zone[0] == '\0' || zone[0] == '/' || strstr(zone, "..") != NULL) {
        snprintf(errstr, errlen, "invalid time zone name \"%s\"", zone ? zone : "");
        return -1;
    }
    int k = snprintf(path, sizeof path, "%s%s", TIME_ZONEINFO_DIR, zone);
    if (k < 0 || (size_t)k >= sizeof path || stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(errstr, errlen, "unknown time zone \"%s\" (not in %s)", zone,
                 TIME_ZONEINFO_DIR);
        return -1;
    }
    if (setenv("TZ", zone, 1) < 0) {
        snprintf(errstr, errlen, "setting TZ: %s", strerror(errno));
        return -1;
    }
    tzset();
    return 0;
}

static int time_set_error(char *errstr, size_t errlen, const char *s, size_t len,
                          const char *fmt, ...) KOERS_PRINTF(5, 6);

/* "invalid time "<input>": <reason>", the input cut short and with control bytes replaced,
 * because it comes straight from a CSV cell. */
static int time_set_error(char *errstr, size_t errlen, const char *s, size_t len,
                          const char *fmt, ...)
{
    char shown[48];
    size_t n = len < sizeof shown - 4 ? len : sizeof shown - 4;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        shown[i] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    if (n < len) {
        memcpy(shown + n, "...", 3);
        n += 3;
    }
    shown[n] = '\0';

    if (errstr == NULL || errlen == 0)
        return -1;
    int k = snprintf(errstr, errlen, "invalid time \"%s\": ", shown);
    if (k >= 0 && (size_t)k < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr + k, errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Reads exactly ndigits decimal digits at s[*at]; returns -1 if fewer are there. */
static int time_read_digits(const char *s, size_t len, size_t *at, int ndigits, int *value)
{
    int v = 0;
    if (len - *at < (size_t)ndigits)
        return -1;
    for (int i = 0; i < ndigits; i++) {
        char c = s[*at + (size_t)i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *at += (size_t)ndigits;
    *value = v;
    return 0;
}

static int time_expect_char(const char *s, size_t len, size_t *at, char c)
{
    if (*at >= len || s[*at] != c)
        return -1;
    (*at)++;
    return 0;
}

static int time_get_month_days(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        return 29;
    return days[month - 1];
}

/* Reads one or two decimal digits at s[*at]; returns -1 if there is none. */
static int time_read_1or2_digits(const char *s, size_t len, size_t *at, int *value)
{
    if (time_read_digits(s, len, at, 2, value) == 0 ||
        time_read_digits(s, len, at, 1, value) == 0)
        return 0;
    return -1;
}

/* Checks a date's year, month and day; returns 0, or -1 with the reason. */
static int time_check_date(const char *s, size_t len, int year, int month, int day,
                           char *errstr, size_t errlen)
{
    if (year < 1)
        return time_set_error(errstr, errlen, s, len, "year 0000 is out of range");
    if (month < 1 || month > 12)
        return time_set_error(errstr, errlen, s, len, "month %02d out of range", month);
    if (day < 1 || day > time_get_month_days(year, month))
        return time_set_error(errstr, errlen, s, len, "day %02d out of range for %04d-%02d", day,
                              year, month);
    return 0;
}

/* A wall-clock time in the programme's zone. In a DST gap mktime picks a neighbouring
 * time; no zone koers is meant for moves its clocks at midnight. */
static int time_make_local_ms(const char *s, size_t len, int year, int month, int day, int hour,
                         int minute, int second, int64_t *ms, char *errstr, size_t errlen)
{
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    tm.tm_isdst = -1;
    errno = 0;
    time_t t = mktime(&tm);
    if (t == (time_t)-1 && errno != 0)
        return time_set_error(errstr, errlen, s, len, "not representable in the local zone");
    *ms = (int64_t)t * 1000;
    return 0;
}

/* "D-M-YYYY[ H:MM[:SS]]", local time. */
static int time_parse_dmy(const char *s, size_t len, int64_t *ms, char *errstr, size_t errlen)
{
    static const char expected[] = "expected YYYY-MM-DD or D-M-YYYY, with H:MM[:SS] after a "
                                   "space";
    size_t at = 0;
    int year, month, day, hour = 0, minute = 0, second = 0;
    if (time_read_1or2_digits(s, len, &at, &day) < 0 || at >= len ||
        (s[at] != '-' && s[at] != '/' && s[at] != '.'))
        return time_set_error(errstr, errlen, s, len, "%s", expected);
    char sep = s[at++];
    if (time_read_1or2_digits(s, len, &at, &month) < 0 ||
        time_expect_char(s, len, &at, sep) < 0 || time_read_digits(s, len, &at, 4, &year) < 0)
        return time_set_error(errstr, errlen, s, len, "%s", expected);
    if (time_check_date(s, len, year, month, day, errstr, errlen) < 0)
        return -1;
    if (at < len) {
        if (time_expect_char(s, len, &at, ' ') < 0 ||
            time_read_1or2_digits(s, len, &at, &hour) < 0 ||
            time_expect_char(s, len, &at, ':') < 0 ||
            time_read_digits(s, len, &at, 2, &minute) < 0)
            return time_set_error(errstr, errlen, s, len, "%s", expected);
        if (time_expect_char(s, len, &at, ':') == 0 &&
            time_read_digits(s, len, &at, 2, &second) < 0)
            return time_set_error(errstr, errlen, s, len, "%s", expected);
        if (at != len)
            return time_set_error(errstr, errlen, s, len,
                                  "unexpected characters after the time (a day-first time is "
                                  "local, without an offset)");
        if (hour > 23)
            return time_set_error(errstr, errlen, s, len, "hour %02d out of range", hour);
        if (minute > 59)
            return time_set_error(errstr, errlen, s, len, "minute %02d out of range", minute);
        if (second > 59)
            return time_set_error(errstr, errlen, s, len, "second %02d out of range", second);
    }
    return time_make_local_ms(s, len, year, month, day, hour, minute, second, ms, errstr, errlen);
}

int koers_time_parse_order(const char *s, size_t len, koers_date_order_t order, int64_t *ms,
                           char *errstr, size_t errlen)
{
    /* Four digits and a dash can only start an ISO date. */
    int iso = len >= 5 && s[4] == '-';
    for (size_t i = 0; iso && i < 4; i++)
        iso = s[i] >= '0' && s[i] <= '9';
    if (order == KOERS_DATE_DMY && !iso && len > 0)
        return time_parse_dmy(s, len, ms, errstr, errlen);
    return koers_time_parse(s, len, ms, errstr, errlen);
}

/* Days from 1970-01-01 to a valid proleptic Gregorian date (Hinnant's days_from_civil): the
 * arithmetic of timegm without its normalisation, at a twentieth of the cost. */
static int64_t time_civil_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int koers_time_parse_date(const char *s, size_t len, koers_date_order_t order, int32_t *days,
                          char *errstr, size_t errlen)
{
    size_t at = 0;
    int year, month, day;
    int iso = time_read_digits(s, len, &at, 4, &year) == 0 &&
              time_expect_char(s, len, &at, '-') == 0 &&
              time_read_digits(s, len, &at, 2, &month) == 0 &&
              time_expect_char(s, len, &at, '-') == 0 &&
              time_read_digits(s, len, &at, 2, &day) == 0 && at == len;
    if (!iso && order == KOERS_DATE_DMY) {
        at = 0;
        char sep = 0;
        int dmy = time_read_1or2_digits(s, len, &at, &day) == 0 && at < len &&
                  (s[at] == '-' || s[at] == '/' || s[at] == '.');
        if (dmy) {
            sep = s[at++];
            dmy = time_read_1or2_digits(s, len, &at, &month) == 0 &&
                  time_expect_char(s, len, &at, sep) == 0 &&
                  time_read_digits(s, len, &at, 4, &year) == 0 && at == len;
        }
        if (!dmy)
            return time_set_error(errstr, errlen, s, len, "expected a date, YYYY-MM-DD or "
                                  "D-M-YYYY");
    } else if (!iso) {
        return time_set_error(errstr, errlen, s, len, "expected a date, YYYY-MM-DD");
    }
    if (time_check_date(s, len, year, month, day, errstr, errlen) < 0)
        return -1;
    *days = (int32_t)time_civil_days(year, month, day);
    return 0;
}

int koers_time_parse(const char *s, size_t len, int64_t *ms, char *errstr, size_t errlen)
{
    size_t at = 0;
    int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;

    if (len == 0)
        return time_set_error(errstr, errlen, s, len, "empty");
    if (time_read_digits(s, len, &at, 4, &year) < 0 || time_expect_char(s, len, &at, '-') < 0 ||
        time_read_digits(s, len, &at, 2, &month) < 0 ||
        time_expect_char(s, len, &at, '-') < 0 || time_read_digits(s, len, &at, 2, &day) < 0)
        return time_set_error(errstr, errlen, s, len, "expected YYYY-MM-DD");
    if (time_check_date(s, len, year, month, day, errstr, errlen) < 0)
        return -1;
    if (at == len) /* local midnight */
        return time_make_local_ms(s, len, year, month, day, 0, 0, 0, ms, errstr, errlen);

    if (s[at] != 'T' && s[at] != ' ')
        return time_set_error(errstr, errlen, s, len, "expected 'T' or end after the date");
    at++;
    if (time_read_digits(s, len, &at, 2, &hour) < 0 || time_expect_char(s, len, &at, ':') < 0 ||
        time_read_digits(s, len, &at, 2, &minute) < 0)
        return time_set_error(errstr, errlen, s, len, "expected HH:MM after the date");
    if (hour > 23)
        return time_set_error(errstr, errlen, s, len, "hour %02d out of range", hour);
    if (minute > 59)
        return time_set_error(errstr, errlen, s, len, "minute %02d out of range", minute);
    if (at < len && s[at] == ':') {
        at++;
        if (time_read_digits(s, len, &at, 2, &second) < 0)
            return time_set_error(errstr, errlen, s, len, "expected two digits of seconds");
        if (second > 59)
            return time_set_error(errstr, errlen, s, len, "second %02d out of range", second);
        if (at < len && s[at] == '.') {
            at++;
            int ndigits = 0;
            while (at < len && s[at] >= '0' && s[at] <= '9') {
                if (ndigits < 3)
                    millis = millis * 10 + (s[at] - '0');
                ndigits++;
                at++;
            }
            if (ndigits < 1 || ndigits > 9)
                return time_set_error(errstr, errlen, s, len, "fraction needs 1 to 9 digits");
            for (int i = ndigits; i < 3; i++)
                millis *= 10;
        }
    }

    int offset_min;
    if (at == len)
        return time_set_error(errstr, errlen, s, len, "missing Z or UTC offset");
    if (s[at] == 'Z') {
        at++;
        offset_min = 0;
    } else if (s[at] == '+' || s[at] == '-') {
        int sign = s[at] == '-' ? -1 : 1;
        int oh, om = 0;
        static const char bad_offset[] = "UTC offset must be +HH:MM, +HHMM or +HH";
        at++;
        if (time_read_digits(s, len, &at, 2, &oh) < 0)
            return time_set_error(errstr, errlen, s, len, "%s", bad_offset);
        if (at < len && s[at] == ':') {
            at++;
            if (time_read_digits(s, len, &at, 2, &om) < 0)
                return time_set_error(errstr, errlen, s, len, "%s", bad_offset);
        } else if (at < len && s[at] >= '0' && s[at] <= '9') {
            if (time_read_digits(s, len, &at, 2, &om) < 0)
                return time_set_error(errstr, errlen, s, len, "%s", bad_offset);
        }
        if (oh > 23 || om > 59)
            return time_set_error(errstr, errlen, s, len, "UTC offset out of range");
        offset_min = sign * (oh * 60 + om);
    } else {
        return time_set_error(errstr, errlen, s, len, "missing Z or UTC offset");
    }
    if (at != len)
        return time_set_error(errstr, errlen, s, len, "unexpected characters after the time");

    int64_t t = time_civil_days(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    *ms = (t - (int64_t)offset_min * 60) * 1000 + millis;
    return 0;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (Hinnant's civil_from_days): no
 * gmtime, so every int64 of milliseconds formats. */
static void time_split_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void koers_time_format(int64_t ms, char *out, size_t outlen)
{
    /* Floor division: -1 ms is 23:59:59.999 the day before, not 00:00:00.-01. */
    int64_t secs = ms / 1000;
    int64_t frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs--;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    time_split_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || outlen < 25) {
        snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
        return;
    }
    /* The same text without snprintf, which costs more than all the rest of a row. */
    int parts[7] = {(int)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
                    (int)frac};
    static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
    static const char after[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
    char *p = out;
    for (int i = 0; i < 7; i++) {
        for (int k = width[i] - 1, x = parts[i]; k >= 0; k--, x /= 10)
            p[k] = (char)('0' + x % 10);
        p += width[i];
        *p++ = after[i];
    }
    *p = '\0';
}

int32_t koers_time_local_day(int64_t ms)
{
    /* Floor division, as in koers_time_format: an instant before 1970 is in an earlier
     * second, not a later one. */
    time_t secs = (time_t)(ms / 1000 - (ms % 1000 < 0));
    struct tm tm;
    if (!localtime_r(&secs, &tm))
        return (int32_t)(secs / 86400);
    return (int32_t)time_civil_days((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

void koers_time_format_date(int32_t days, char *out, size_t outlen)
{
    int64_t y;
    int m, d;
    time_split_days(days, &y, &m, &d);
    snprintf(out, outlen, "%04lld-%02d-%02d", (long long)y, m, d);
}

int64_t koers_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
