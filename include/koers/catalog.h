/* The event catalogue: event types, their fields, enum symbols and value rules, as data. */
#ifndef KOERS_CATALOG_H
#define KOERS_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define KOERS_STR_MAX 64    /* longest string value in the catalogue (goal_ref, episode_ref) */
#define KOERS_MAX_FIELDS 8  /* most own fields of any event type */

typedef enum {
    KOERS_ENROLMENT,
    KOERS_CONTACT,
    KOERS_CRISIS,
    KOERS_GOAL_CHANGE,
    KOERS_POLICE_CALL,
    KOERS_ZRM_SCORE,
    KOERS_STRESSOR,
    KOERS_STATUS_CHANGE,
    KOERS_COVERAGE,
    KOERS_CORRECTION, /* last: import reads the files in this order, corrections after */
    KOERS_EVENT_TYPES
} koers_event_type_t;

typedef enum {
    KOERS_KIND_ENUM,    /* value.i is the symbol's index */
    KOERS_KIND_INT,     /* value.i within [min, max] */
    KOERS_KIND_BOOL,    /* value.i is 0 or 1 */
    KOERS_KIND_STRING,  /* value.s, length within [min, max], [a-z0-9_-] (+ A-Z if upper) */
    KOERS_KIND_UUID,    /* value.s, 36 characters, lower-case canonical UUID text */
    KOERS_KIND_DATE     /* value.i, days since 1970-01-01 (Avro's date), within [min, max] */
} koers_kind_t;

typedef struct {
    const char *name;
    koers_kind_t kind;
    int optional;
    const char *const *symbols;
    int nsymbols;
    int32_t min, max;
    int upper;
} koers_field_t;

typedef struct {
    const char *name;
    const koers_field_t *fields;
    int nfields;
    /* Optional fields of which an event must have at least one, as a bit per field index
     * (0: no such rule). A crisis has days, an episode_ref, or both; a status_change
     * names at least one of its statuses. */
    uint32_t need_any;
    /* Two fields (a bit each) whose values may not decrease: when both are present, the
     * later field's is at least the earlier's (0: no such rule). A coverage statement's
     * covered_to is on or after its covered_from. */
    uint32_t ordered;
    /* 1 when the envelope names a participant. A coverage statement is about a source, so
     * it has none: no client_id column, no participant in the schema or the table. */
    int has_participant;
} koers_type_t;

extern const koers_type_t koers_types[KOERS_EVENT_TYPES];

/* Returns the event type named name (length len), or -1. */
int koers_type_find(const char *name, size_t len);

/* Returns the index of field name in type t, or -1. */
int koers_field_find(const koers_type_t *t, const char *name, size_t len);

/* Returns the index of symbol sym in enum field f, or -1. */
int koers_enum_find(const koers_field_t *f, const char *sym, size_t len);

/* Checks the rule of t->need_any on the fields present (bit i set: fields[i] present).
 * Returns 0, or -1 with the reason ("days or episode_ref: ...") in errstr. */
int koers_type_check_present(const koers_type_t *t, uint32_t present, char *errstr,
                             size_t errlen);

/* Checks a string value against field f's rule (length and characters), and refuses a
 * value with the shape of a direct identifier (a citizen service number that passes the
 * eleven-test, a Dutch phone number, a postcode). Returns 0, or -1 with the reason in errstr (which
 * never repeats the value). Also used for the envelope's source (see koers_source_field). */
int koers_field_check_string(const koers_field_t *f, const char *s, size_t len,
                             char *errstr, size_t errlen);

/* Checks that s is a lower-case canonical UUID (8-4-4-4-12 hex). Returns 0 or -1. */
int koers_uuid_check(const char *s, size_t len);

/* The rule for the envelope's source field ([a-z0-9_-]{1,32}). */
extern const koers_field_t koers_source_field;

#endif
