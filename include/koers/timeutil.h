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

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.fffZ" (out holds at least 32 bytes). */
void koers_time_format(int64_t ms, char *out, size_t outlen);

int64_t koers_time_now_ms(void);

#endif
