/* One CSV row of the input contract to one pseudonymised, validated event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "koers/timeutil.h"
#include "produce.h"

/* Participant pseudonyms of recent client ids. A synthetic cohort sends each participant's
 * events one after another and an export repeats each client on many rows, so the HMAC is
 * computed about once per client instead of once per row. Direct-mapped by a hash of the
 * client id; it holds client ids, so it is wiped at exit and whenever the key changes. */
#define ROW_CACHE_SLOTS 8192
#define ROW_CACHE_ID 64 /* longer client ids are not cached */

typedef struct {
    size_t len; /* 0: empty */
    char id[ROW_CACHE_ID];
    char participant[KOERS_PARTICIPANT_LEN + 1];
} row_cache_slot_t;

static struct {
    koers_key_t key;
    row_cache_slot_t *slots;
    int failed; /* no memory for it: compute every time */
} row_cache;

static void row_cache_wipe(void)
{
    if (row_cache.slots)
        OPENSSL_cleanse(row_cache.slots, ROW_CACHE_SLOTS * sizeof *row_cache.slots);
    OPENSSL_cleanse(&row_cache.key, sizeof row_cache.key);
}

static void row_participant(const koers_key_t *key, const char *client_id, size_t len,
                            char out[KOERS_PARTICIPANT_LEN + 1])
{
    if (len == 0 || len > ROW_CACHE_ID || row_cache.failed) {
        koers_pseudo_participant(key, client_id, len, out);
        return;
    }
    if (!row_cache.slots) {
        row_cache.slots = calloc(ROW_CACHE_SLOTS, sizeof *row_cache.slots);
        if (!row_cache.slots || atexit(row_cache_wipe) != 0) {
            row_cache.failed = 1;
            koers_pseudo_participant(key, client_id, len, out);
            return;
        }
    }
    if (row_cache.key.len != key->len || memcmp(row_cache.key.bytes, key->bytes, key->len) != 0) {
        row_cache_wipe();
        row_cache.key = *key;
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)client_id[i]) * 16777619u;
    row_cache_slot_t *slot = &row_cache.slots[h % ROW_CACHE_SLOTS];
    if (slot->len != len || memcmp(slot->id, client_id, len) != 0) {
        koers_pseudo_participant(key, client_id, len, slot->participant);
        memcpy(slot->id, client_id, len);
        slot->len = len;
    }
    memcpy(out, slot->participant, KOERS_PARTICIPANT_LEN + 1);
}

void produce_columns(koers_event_type_t t, produce_columns_t *cols)
{
    static const char *const common[COL_COMMON] = {"record_id", "client_id", "occurred_at",
                                                   "source"};
    int n = 0;
    for (int i = 0; i < COL_COMMON; i++) {
        if (i == COL_CLIENT_ID && !koers_types[t].has_participant)
            continue;
        cols->place[n] = i;
        cols->names[n++] = common[i];
    }
    if (t == KOERS_CORRECTION) {
        /* The target is named by its source record, never by an event id the source
         * cannot know. */
        static const char *const own[] = {"target_record_id", "target_type", "action"};
        for (int i = 0; i < 3; i++) {
            cols->place[n] = COL_COMMON + i;
            cols->names[n++] = own[i];
        }
    } else {
        for (int i = 0; i < koers_types[t].nfields; i++) {
            cols->place[n] = COL_COMMON + i;
            cols->names[n++] = koers_types[t].fields[i].name;
        }
    }
    cols->n = n;
}

const char *produce_column_name(koers_event_type_t t, int place)
{
    produce_columns_t cols;
    produce_columns(t, &cols);
    for (int k = 0; k < cols.n; k++)
        if (cols.place[k] == place)
            return cols.names[k];
    return NULL;
}

static int row_fail(int col, int *bad_col, char *errstr, size_t errlen, const char *why)
{
    *bad_col = col;
    snprintf(errstr, errlen, "%s", why);
    return -1;
}

static int row_parse_int(const char *s, size_t len, int32_t *out)
{
    if (len == 0 || len > 11)
        return -1;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
        if (len == 1)
            return -1;
    }
    long long x = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    if (neg)
        x = -x;
    if (x < INT32_MIN || x > INT32_MAX)
        return -1;
    *out = (int32_t)x;
    return 0;
}

/* Fills v from the text of one catalogue field, checking what the text alone decides. */
static int row_parse_value(const koers_field_t *f, const char *s, size_t len,
                           koers_date_order_t order, koers_value_t *v, char *errstr,
                           size_t errlen)
{
    v->present = len > 0;
    if (!v->present) {
        if (f->optional)
            return 0;
        snprintf(errstr, errlen, "required but empty");
        return -1;
    }
    switch (f->kind) {
    case KOERS_KIND_ENUM:
        v->i = koers_enum_find(f, s, len);
        if (v->i < 0) {
            snprintf(errstr, errlen, "'%.*s' is not one of the %d symbols of %s",
                     (int)(len > 40 ? 40 : len), s, f->nsymbols, f->name);
            return -1;
        }
        return 0;
    case KOERS_KIND_INT:
        if (row_parse_int(s, len, &v->i) != 0 || v->i < f->min || v->i > f->max) {
            snprintf(errstr, errlen, "'%.*s' is not a whole number in %ld..%ld",
                     (int)(len > 40 ? 40 : len), s, (long)f->min, (long)f->max);
            return -1;
        }
        return 0;
    case KOERS_KIND_BOOL:
        if (len == 4 && memcmp(s, "true", 4) == 0)
            v->i = 1;
        else if (len == 5 && memcmp(s, "false", 5) == 0)
            v->i = 0;
        else {
            snprintf(errstr, errlen, "'%.*s' is neither true nor false",
                     (int)(len > 40 ? 40 : len), s);
            return -1;
        }
        return 0;
    case KOERS_KIND_STRING:
        if (koers_field_check_string(f, s, len, errstr, errlen) != 0)
            return -1;
        memcpy(v->s, s, len);
        v->s[len] = '\0';
        return 0;
    case KOERS_KIND_DATE: {
        if (koers_time_parse_date(s, len, order, &v->i, errstr, errlen) == 0)
            return 0;
        int32_t ignored; /* as for occurred_at: never guessed, but the option is named */
        if (order != KOERS_DATE_DMY &&
            koers_time_parse_date(s, len, KOERS_DATE_DMY, &ignored, NULL, 0) == 0) {
            size_t k = strlen(errstr);
            snprintf(errstr + k, errlen - k, " (a day-first date: give --date-order dmy)");
        }
        return -1;
    }
    case KOERS_KIND_UUID:
        break;
    }
    snprintf(errstr, errlen, "cannot be given in CSV");
    return -1;
}

/* occurred_at. A day-first date is never guessed (is 03-04-2025 the 3rd of April or the
 * 4th of March?), but when the value would parse as one the reason names the option. */
static int row_parse_time(const char *s, size_t len, koers_date_order_t order, int64_t *ms,
                          char *errstr, size_t errlen)
{
    if (koers_time_parse_order(s, len, order, ms, errstr, errlen) == 0)
        return 0;
    int64_t ignored;
    if (order != KOERS_DATE_DMY &&
        koers_time_parse_order(s, len, KOERS_DATE_DMY, &ignored, NULL, 0) == 0) {
        size_t k = strlen(errstr);
        snprintf(errstr + k, errlen - k, " (a day-first date: give --date-order dmy)");
    }
    return -1;
}

/* The column a rule's reason is about: the validator names the field first ("occurred_at:
 * ...", "covered_to: ..."). -1 for a rule of the row as a whole ("days or episode_ref: ..."). */
static int row_column_of(koers_event_type_t t, const char *why)
{
    size_t len = strcspn(why, ":");
    if (why[len] != ':')
        return -1;
    if (len == 11 && strncmp(why, "occurred_at", 11) == 0)
        return COL_OCCURRED_AT;
    if (t == KOERS_CORRECTION) /* its own columns are not its fields */
        return -1;
    int i = koers_field_find(&koers_types[t], why, len);
    return i < 0 ? -1 : COL_COMMON + i;
}

int produce_row_to_event(koers_event_type_t t, const produce_row_t *row, const koers_key_t *key,
                         int64_t recorded_at, koers_date_order_t order, koers_event_t *ev,
                         int *bad_col, char *errstr, size_t errlen)
{
    char why[256];
    memset(ev, 0, sizeof *ev);
    ev->type = t;
    ev->recorded_at = recorded_at;
    *bad_col = -1;

    const koers_type_t *type = &koers_types[t];
    for (int c = 0; c < COL_COMMON; c++)
        if (row->len[c] == 0 && (c != COL_CLIENT_ID || type->has_participant))
            return row_fail(c, bad_col, errstr, errlen, "required but empty");
    if (row->len[COL_RECORD_ID] > 256)
        return row_fail(COL_RECORD_ID, bad_col, errstr, errlen, "longer than 256 bytes");
    if (koers_field_check_string(&koers_source_field, row->v[COL_SOURCE], row->len[COL_SOURCE],
                                 why, sizeof why) != 0)
        return row_fail(COL_SOURCE, bad_col, errstr, errlen, why);
    memcpy(ev->source, row->v[COL_SOURCE], row->len[COL_SOURCE]);
    if (row_parse_time(row->v[COL_OCCURRED_AT], row->len[COL_OCCURRED_AT], order,
                       &ev->occurred_at, why, sizeof why) != 0)
        return row_fail(COL_OCCURRED_AT, bad_col, errstr, errlen, why);

    if (t == KOERS_CORRECTION) {
        int target = koers_type_find(row->v[COL_COMMON + 1], row->len[COL_COMMON + 1]);
        if (target < 0 || target == KOERS_CORRECTION)
            return row_fail(COL_COMMON + 1, bad_col, errstr, errlen, "not an event type that can be corrected");
        if (row->len[COL_COMMON] == 0 || row->len[COL_COMMON] > 256)
            return row_fail(COL_COMMON, bad_col, errstr, errlen, "required, at most 256 bytes");
        koers_pseudo_event_id(key, ev->source, koers_types[target].name, row->v[COL_COMMON],
                              row->len[COL_COMMON], ev->v[0].s);
        ev->v[0].present = 1;
        if (row_parse_value(&type->fields[1], row->v[COL_COMMON + 2], row->len[COL_COMMON + 2],
                            order, &ev->v[1], why, sizeof why) != 0)
            return row_fail(COL_COMMON + 2, bad_col, errstr, errlen, why);
    } else {
        for (int i = 0; i < type->nfields; i++)
            if (row_parse_value(&type->fields[i], row->v[COL_COMMON + i],
                                row->len[COL_COMMON + i], order, &ev->v[i], why,
                                sizeof why) != 0)
                return row_fail(COL_COMMON + i, bad_col, errstr, errlen, why);
    }

    /* A statement about a source has no client; a client_id given anyway would be dropped,
     * and no file of such a type has the column. */
    if (type->has_participant)
        row_participant(key, row->v[COL_CLIENT_ID], row->len[COL_CLIENT_ID], ev->participant);
    koers_pseudo_event_id(key, ev->source, type->name, row->v[COL_RECORD_ID], row->len[COL_RECORD_ID],
                          ev->event_id);
    if (koers_event_validate(ev, why, sizeof why) != 0) {
        *bad_col = row_column_of(t, why);
        snprintf(errstr, errlen, "%s", why);
        return -1;
    }
    return 0;
}
