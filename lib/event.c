/* The contract's rules applied to one event, whoever made it (CSV row or Kafka message). */
#include "koers/event.h"

#include <stdio.h>
#include <string.h>

#include "koers/timeutil.h"

static int event_check_participant(const char *p)
{
    size_t len = strnlen(p, KOERS_PARTICIPANT_LEN + 1);
    if (len != KOERS_PARTICIPANT_LEN)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return -1;
    return 0;
}

/* The rule of t->ordered: the message names the later field first, so that a CSV row's
 * error points at its column (producers/row.c reads the name before the colon). */
static int event_check_order(const koers_type_t *t, const koers_value_t *v, char *errstr,
                             size_t errlen)
{
    int lo = -1, hi = -1;
    for (int i = 0; i < t->nfields; i++)
        if (t->ordered & 1u << i) {
            if (lo < 0)
                lo = i;
            else
                hi = i;
        }
    if (hi < 0 || !v[lo].present || !v[hi].present || v[hi].i >= v[lo].i)
        return 0;
    if (t->fields[hi].kind == KOERS_KIND_DATE) {
        char a[16], b[16];
        koers_time_format_date(v[hi].i, a, sizeof a);
        koers_time_format_date(v[lo].i, b, sizeof b);
        snprintf(errstr, errlen, "%s: %s is before %s %s", t->fields[hi].name, a,
                 t->fields[lo].name, b);
    } else {
        snprintf(errstr, errlen, "%s: %ld is less than %s %ld", t->fields[hi].name,
                 (long)v[hi].i, t->fields[lo].name, (long)v[lo].i);
    }
    return -1;
}

int koers_event_validate(const koers_event_t *ev, char *errstr, size_t errlen)
{
    if ((int)ev->type < 0 || ev->type >= KOERS_EVENT_TYPES) {
        snprintf(errstr, errlen, "unknown event type %d", (int)ev->type);
        return -1;
    }
    if (koers_uuid_check(ev->event_id, strnlen(ev->event_id, sizeof ev->event_id)) != 0) {
        snprintf(errstr, errlen, "event_id: not a lower-case UUID");
        return -1;
    }
    const koers_type_t *t = &koers_types[ev->type];
    if (t->has_participant && event_check_participant(ev->participant) != 0) {
        snprintf(errstr, errlen, "participant: not a 64-character lower-case hex pseudonym");
        return -1;
    }
    if (!t->has_participant && ev->participant[0] != '\0') {
        snprintf(errstr, errlen, "participant: a %s event is about a source and has none",
                 t->name);
        return -1;
    }
    if (koers_field_check_string(&koers_source_field, ev->source,
                                 strnlen(ev->source, sizeof ev->source), errstr, errlen) != 0)
        return -1;
    if (ev->occurred_at < KOERS_TIME_MIN_MS) {
        snprintf(errstr, errlen, "occurred_at: before 1900-01-01");
        return -1;
    }
    if (ev->recorded_at < KOERS_TIME_MIN_MS || ev->recorded_at > KOERS_TIME_MAX_MS) {
        snprintf(errstr, errlen, "recorded_at: before 1900-01-01 or after 9999-12-31");
        return -1;
    }
    if (ev->occurred_at > ev->recorded_at + KOERS_TIME_SKEW_MS) {
        snprintf(errstr, errlen, "occurred_at: more than a day after recorded_at (in the future)");
        return -1;
    }
    uint32_t present = 0;
    for (int i = 0; i < t->nfields; i++) {
        const koers_field_t *f = &t->fields[i];
        const koers_value_t *v = &ev->v[i];
        if (!v->present) {
            if (f->optional)
                continue;
            snprintf(errstr, errlen, "%s: required but missing", f->name);
            return -1;
        }
        present |= 1u << i;
        switch (f->kind) {
        case KOERS_KIND_ENUM:
        case KOERS_KIND_INT:
        case KOERS_KIND_BOOL:
        case KOERS_KIND_DATE:
            if (v->i < f->min || v->i > f->max) {
                snprintf(errstr, errlen, "%s: %ld outside %ld..%ld", f->name, (long)v->i,
                         (long)f->min, (long)f->max);
                return -1;
            }
            break;
        case KOERS_KIND_STRING:
            if (koers_field_check_string(f, v->s, strnlen(v->s, sizeof v->s), errstr, errlen) != 0)
                return -1;
            break;
        case KOERS_KIND_UUID:
            if (koers_uuid_check(v->s, strnlen(v->s, sizeof v->s)) != 0) {
                snprintf(errstr, errlen, "%s: not a lower-case UUID", f->name);
                return -1;
            }
            break;
        }
    }
    if (koers_type_check_present(t, present, errstr, errlen) != 0)
        return -1;
    return event_check_order(t, ev->v, errstr, errlen);
}
