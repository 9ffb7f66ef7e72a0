/* One event of the catalogue in memory: the envelope and the type's own field values. */
#ifndef KOERS_EVENT_H
#define KOERS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "koers/catalog.h"

#define KOERS_PARTICIPANT_LEN 64 /* hex of an HMAC-SHA256 */
#define KOERS_UUID_LEN 36

typedef struct {
    int present;
    int32_t i;
    char s[KOERS_STR_MAX + 1];
} koers_value_t;

typedef struct {
    koers_event_type_t type;
    char event_id[KOERS_UUID_LEN + 1];
    char participant[KOERS_PARTICIPANT_LEN + 1]; /* "" for a type without participant */
    int64_t occurred_at; /* ms since the epoch, UTC */
    int64_t recorded_at;
    char source[33];
    koers_value_t v[KOERS_MAX_FIELDS]; /* indexed like koers_types[type].fields */
} koers_event_t;

/* Earliest and latest occurred_at the contract accepts: 1900-01-01, and one day after
 * recorded_at (clocks differ; a registration of the future is an error); recorded_at
 * within the same bounds. */
#define KOERS_TIME_MIN_MS (-2208988800000LL)
#define KOERS_TIME_MAX_MS (253402300799999LL) /* 9999-12-31T23:59:59.999Z */
#define KOERS_TIME_SKEW_MS (86400000LL)

/* Checks every rule of the contract on ev: envelope formats (a participant exactly when the
 * type has one), required fields present, enum indexes, ranges, string rules, time bounds,
 * the type's rules over several fields (need_any, ordered). Returns 0, or -1 with the first
 * violation ("field: reason") in errstr. */
int koers_event_validate(const koers_event_t *ev, char *errstr, size_t errlen);

#endif
