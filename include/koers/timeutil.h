/* Times: ISO 8601 parsing and formatting, and the programme's time zone. */
#ifndef KOERS_TIMEUTIL_H
#define KOERS_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define KOERS_DEFAULT_TIME_ZONE "Europe/Amsterdam"

/* Makes zone (an IANA name) the process's local time zone for date-only values. Call
 * once from main() before threads start. Returns 0, or -1 if the zone is unknown. */
int koers_time_set_zone(const char *zone, char *errstr, size_t errlen);

/* Parses "YYYY-MM-DD" (local midnight in the programme's zone), or
 * "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z" or "+HH:MM"/"-HH:MM" (a space may stand for
 * the T). Returns 0 with ms since the epoch, or -1 with the reason. */
int koers_time_parse(const char *s, size_t len, int64_t *ms, char *errstr, size_t errlen);

/* The order of a date's parts that koers_time_parse_order accepts besides ISO 8601. */
typedef enum {
    KOERS_DATE_ISO, /* ISO 8601 only: "2025-03-14" */
    KOERS_DATE_DMY  /* also day first, as spreadsheets in a Dutch locale write it */
} koers_date_order_t;

/* Like koers_time_parse; with KOERS_DATE_DMY also "D-M-YYYY" (day and month of one or two
 * digits, '-', '/' or '.' between the parts), local midnight, or that followed by a space
 * and "H:MM" or "H:MM:SS": a local time in the programme's zone, since such exports carry
 * no offset (in the hour that occurs twice when clocks go back, mktime picks one). ISO
 * values are accepted in either order. Returns 0 with ms, or -1 with the reason. */
int koers_time_parse_order(const char *s, size_t len, koers_date_order_t order, int64_t *ms,
                           char *errstr, size_t errlen);

/* Parses a calendar date, "YYYY-MM-DD" (with KOERS_DATE_DMY also "D-M-YYYY", '-', '/' or
 * '.' between the parts), into days since 1970-01-01: a day, not an instant, so no time zone
 * enters. Returns 0, or -1 with the reason. */
int koers_time_parse_date(const char *s, size_t len, koers_date_order_t order, int32_t *days,
                          char *errstr, size_t errlen);

/* The local calendar day (in the programme's zone) of ms, as days since 1970-01-01. */
int32_t koers_time_local_day(int64_t ms);

/* Formats days since 1970-01-01 as "YYYY-MM-DD" (out holds at least 16 bytes). */
void koers_time_format_date(int32_t days, char *out, size_t outlen);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.fffZ" (out holds at least 32 bytes). */
void koers_time_format(int64_t ms, char *out, size_t outlen);

int64_t koers_time_now_ms(void);

#endif
