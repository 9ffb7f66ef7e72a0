/* libFuzzer target: the CSV reader (koers_csv) and the row-to-event conversion behind it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/csv.h"
#include "koers/timeutil.h"
#include "produce.h"

#define FUZZ_MAX_FIELD 300 /* small, so that the field limit is reached often */

static const koers_key_t *fuzz_key(void)
{
    static koers_key_t key;
    if (!key.len) {
        char err[256];
        if (koers_time_set_zone(KOERS_DEFAULT_TIME_ZONE, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_csv: %s\n", err);
            abort();
        }
        memset(key.bytes, 0x5a, KOERS_KEY_MIN);
        key.len = KOERS_KEY_MIN;
    }
    return &key;
}

/* Sets the time zone and the key before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_key();
    return 0;
}

/* The first byte picks the event type; the rest is a CSV file whose records are read like
 * an import reads them: fields in the type's column order. The reader must return records
 * whose fields are NUL-terminated and within the limit, refused records with a
 * "path:line: reason", or a final "path:line: reason" error; a row is either a valid event
 * or refused with a column and a reason. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const koers_key_t *key = fuzz_key();
    if (size == 0)
        return 0;
    koers_event_type_t t = (koers_event_type_t)(data[0] % KOERS_EVENT_TYPES);
    data++;
    size--;
    /* fmemopen refuses an empty buffer: give it one byte it will not read. */
    static const char empty[1];
    FILE *f = fmemopen(size ? (void *)data : (void *)empty, size ? size : 1, "rb");
    if (!f)
        abort();
    if (!size)
        fgetc(f); /* at the end now */
    koers_csv_t *r = koers_csv_open(f, "fuzz.csv", FUZZ_MAX_FIELD);
    if (!r)
        abort();
    produce_columns_t cols;
    produce_columns(t, &cols);
    char **fields, err[512];
    size_t *lens, n;
    int rc, records = 0;
    while ((rc = koers_csv_next(r, &fields, &lens, &n, err, sizeof err)) == KOERS_CSV_RECORD ||
           rc == KOERS_CSV_REFUSED) {
        /* A refused record names its file and line and leaves the reader going. */
        if (rc == KOERS_CSV_REFUSED) {
            if (strncmp(err, "fuzz.csv:", 9) != 0 || koers_csv_problem(r) == KOERS_CSV_OK ||
                koers_csv_line(r) < 1)
                abort();
            continue;
        }
        if (n == 0 || koers_csv_line(r) < 1)
            abort();
        for (size_t i = 0; i < n; i++)
            if (lens[i] > FUZZ_MAX_FIELD || fields[i][lens[i]] != '\0')
                abort();
        records++;
        produce_row_t row;
        for (int c = 0; c < PRODUCE_MAX_COLS; c++) {
            row.v[c] = "";
            row.len[c] = 0;
        }
        for (int c = 0; c < cols.n && c < (int)n; c++) {
            row.v[cols.place[c]] = fields[c];
            row.len[cols.place[c]] = lens[c];
        }
        koers_event_t ev;
        int bad;
        err[0] = '\0';
        if (produce_row_to_event(t, &row, key, 1735689600000LL, KOERS_DATE_ISO, &ev, &bad, err,
                                 sizeof err) != 0) {
            if (!err[0] || bad >= PRODUCE_MAX_COLS)
                abort();
        } else if (koers_event_validate(&ev, err, sizeof err) != 0) {
            abort();
        }
    }
    if (rc == KOERS_CSV_FAILED && strncmp(err, "fuzz.csv:", 9) != 0)
        abort();
    /* A failure is final. */
    if (rc == KOERS_CSV_FAILED &&
        koers_csv_next(r, &fields, &lens, &n, err, sizeof err) != KOERS_CSV_FAILED)
        abort();
    (void)records;
    koers_csv_close(r);
    fclose(f);
    return 0;
}
