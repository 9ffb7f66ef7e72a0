/* CSV row tests: a row of crisis.csv to an event, with days, episode_ref, both or neither;
 * a row of coverage.csv (no client_id, dates, covered_to on or after covered_from), and a
 * correction of a coverage statement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/pseudo.h"
#include "produce.h"
#include "harness.h"

typedef struct {
    const char *name;
    const char *days, *episode_ref; /* the two columns' text; "" is empty */
    int bad_col;                    /* -2: valid; else the column named, or -1 for the row */
    const char *reason;             /* expected substring of the error */
} row_case_t;

static void test_crisis_columns(void)
{
    static const char *const want[] = {"record_id", "client_id", "occurred_at", "source",
                                       "kind", "days", "episode_ref"};
    produce_columns_t cols;
    produce_columns(KOERS_CRISIS, &cols);
    CU_ASSERT_EQUAL_FATAL(cols.n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < cols.n; i++)
        CU_ASSERT_STRING_EQUAL(cols.names[i], want[i]);
}

static void test_crisis_rows(void)
{
    enum { DAYS = COL_COMMON + 1, REF = COL_COMMON + 2 };
    static const row_case_t cases[] = {
        {"old form: days at discharge", "12", "", -2, NULL},
        {"old form: a one-off contact", "0", "", -2, NULL},
        {"opening a stay", "", "opn-2024-17", -2, NULL},
        {"closing a stay", "10", "opn-2024-17", -2, NULL},
        {"neither days nor episode_ref", "", "", -1,
         "days or episode_ref: neither is given; a crisis event needs at least one of them"},
        {"days out of range with an episode_ref", "367", "opn-1", DAYS,
         "'367' is not a whole number in 0..366"},
        {"days not a number", "tien", "opn-1", DAYS, "is not a whole number"},
        {"episode_ref shaped like a postcode", "", "9711AB", REF,
         "episode_ref: has the shape of a postcode"},
        {"episode_ref shaped like a citizen service number", "4", "123456782", REF,
         "episode_ref: has the shape of a citizen service number"},
        {"episode_ref with a space", "", "opname 1", REF, "character 7 is not one of"},
        {"episode_ref of 65 characters", "",
         "x2345678901234567890123456789012345678901234567890123456789012345", REF,
         "episode_ref: length 65 outside 1..64"},
    };
    koers_key_t key = {.len = 32};
    memset(key.bytes, 0x5a, key.len);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const row_case_t *c = &cases[i];
        const char *text[COL_COMMON + 3] = {"GN-1", "client-1", "2024-03-01T10:00:00Z",
                                            "ggz-noord", "crisis_admission", c->days,
                                            c->episode_ref};
        produce_row_t row;
        for (int k = 0; k < COL_COMMON + 3; k++) {
            row.v[k] = text[k];
            row.len[k] = strlen(text[k]);
        }
        koers_event_t ev;
        int bad = -3;
        char err[256] = "";
        int rc = produce_row_to_event(KOERS_CRISIS, &row, &key, 1709300000000LL, KOERS_DATE_ISO, &ev,
                                      &bad, err, sizeof err);
        int ok = c->bad_col == -2 ? rc == 0
                                  : rc == -1 && bad == c->bad_col && strstr(err, c->reason);
        if (!ok)
            fprintf(stderr, "\n%s: rc %d, column %d, error '%s'\n", c->name, rc, bad, err);
        CU_ASSERT(ok);
        if (rc != 0 || c->bad_col != -2)
            continue;
        /* What the row says is what the event holds; an empty column is absent. */
        CU_ASSERT_EQUAL(ev.v[1].present, *c->days != '\0');
        if (*c->days)
            CU_ASSERT_EQUAL(ev.v[1].i, atoi(c->days));
        CU_ASSERT_EQUAL(ev.v[2].present, *c->episode_ref != '\0');
        CU_ASSERT_STRING_EQUAL(ev.v[2].s, c->episode_ref);
    }
}

/* coverage.csv has no client_id column; its own columns come after source. */
static void test_coverage_columns(void)
{
    static const char *const want[] = {"record_id", "occurred_at", "source", "covered_type",
                                       "covered_from", "covered_to"};
    static const int place[] = {COL_RECORD_ID, COL_OCCURRED_AT, COL_SOURCE, COL_COMMON,
                                COL_COMMON + 1, COL_COMMON + 2};
    produce_columns_t cols;
    produce_columns(KOERS_COVERAGE, &cols);
    CU_ASSERT_EQUAL_FATAL(cols.n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < cols.n; i++) {
        CU_ASSERT_STRING_EQUAL(cols.names[i], want[i]);
        CU_ASSERT_EQUAL(cols.place[i], place[i]);
    }
    CU_ASSERT_PTR_NULL(produce_column_name(KOERS_COVERAGE, COL_CLIENT_ID));
    CU_ASSERT_STRING_EQUAL(produce_column_name(KOERS_COVERAGE, COL_COMMON + 2), "covered_to");
    /* The types about a participant keep client_id second. */
    produce_columns(KOERS_CORRECTION, &cols);
    CU_ASSERT_STRING_EQUAL(cols.names[COL_CLIENT_ID], "client_id");
    CU_ASSERT_EQUAL(cols.place[COL_CLIENT_ID], COL_CLIENT_ID);
}

static void test_coverage_rows(void)
{
    enum { TYPE = COL_COMMON, FROM = COL_COMMON + 1, TO = COL_COMMON + 2 };
    static const struct {
        const char *name;
        const char *type, *from, *to;
        koers_date_order_t order;
        int bad_col;        /* -2: valid; else the column's place, or -1 for the row */
        const char *reason; /* expected substring of the error */
        int32_t want_from, want_to; /* days since 1970-01-01; want_to INT32_MIN: absent */
    } cases[] = {
        {"closed", "crisis", "2024-02-01", "2024-12-31", KOERS_DATE_ISO, -2, NULL, 19754, 20088},
        {"open-ended", "police_call", "2024-02-01", "", KOERS_DATE_ISO, -2, NULL, 19754,
         INT32_MIN},
        {"one day", "contact", "2024-02-01", "2024-02-01", KOERS_DATE_ISO, -2, NULL, 19754,
         19754},
        {"day first with --date-order dmy", "enrolment", "1-2-2024", "31.12.2024",
         KOERS_DATE_DMY, -2, NULL, 19754, 20088},
        {"covered_to before covered_from", "crisis", "2024-02-01", "2024-01-31",
         KOERS_DATE_ISO, TO, "covered_to: 2024-01-31 is before covered_from 2024-02-01", 0, 0},
        {"covered_from empty", "crisis", "", "2024-01-31", KOERS_DATE_ISO, FROM,
         "required but empty", 0, 0},
        {"covered_from day first without the option", "crisis", "01-02-2024", "",
         KOERS_DATE_ISO, FROM, "expected a date, YYYY-MM-DD (a day-first date: give --date-order dmy)",
         0, 0},
        {"covered_from with a time", "crisis", "2024-02-01T00:00:00Z", "", KOERS_DATE_ISO,
         FROM, "expected a date", 0, 0},
        {"covered_to not a day", "crisis", "2024-02-01", "2024-02-30", KOERS_DATE_ISO, TO,
         "day 30 out of range", 0, 0},
        {"correction is not a covered type", "correction", "2024-02-01", "", KOERS_DATE_ISO,
         TYPE, "is not one of the 8 symbols of covered_type", 0, 0},
        {"coverage is not a covered type", "coverage", "2024-02-01", "", KOERS_DATE_ISO, TYPE,
         "is not one of the 8 symbols of covered_type", 0, 0},
    };
    koers_key_t key = {.len = 32};
    memset(key.bytes, 0x5a, key.len);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *text[COL_COMMON + 3] = {"DEK-1", "", "2024-03-01T10:00:00Z", "ggz-noord",
                                            cases[i].type, cases[i].from, cases[i].to};
        produce_row_t row;
        for (int k = 0; k < COL_COMMON + 3; k++) {
            row.v[k] = text[k];
            row.len[k] = strlen(text[k]);
        }
        koers_event_t ev;
        int bad = -3;
        char err[256] = "";
        int rc = produce_row_to_event(KOERS_COVERAGE, &row, &key, 1709300000000LL,
                                      cases[i].order, &ev, &bad, err, sizeof err);
        int ok = cases[i].bad_col == -2
                     ? rc == 0
                     : rc == -1 && bad == cases[i].bad_col && strstr(err, cases[i].reason);
        if (!ok)
            fprintf(stderr, "\n%s: rc %d, column %d, error '%s'\n", cases[i].name, rc, bad, err);
        CU_ASSERT(ok);
        if (rc != 0 || cases[i].bad_col != -2)
            continue;
        char want_id[37];
        koers_pseudo_event_id(&key, "ggz-noord", "coverage", "DEK-1", 5, want_id);
        CU_ASSERT_STRING_EQUAL(ev.event_id, want_id);
        CU_ASSERT_STRING_EQUAL(ev.participant, ""); /* no client, no pseudonym */
        CU_ASSERT_STRING_EQUAL(ev.source, "ggz-noord");
        CU_ASSERT_STRING_EQUAL(koers_types[KOERS_COVERAGE].fields[0].symbols[ev.v[0].i],
                               cases[i].type);
        CU_ASSERT_EQUAL(ev.v[1].i, cases[i].want_from);
        CU_ASSERT_EQUAL(ev.v[2].present, cases[i].want_to != INT32_MIN);
        if (cases[i].want_to != INT32_MIN)
            CU_ASSERT_EQUAL(ev.v[2].i, cases[i].want_to);
    }
}

/* A correction voids a coverage statement by its record id and type, from its own source:
 * the target's event id is the statement's. */
static void test_correction_of_coverage(void)
{
    koers_key_t key = {.len = 32};
    memset(key.bytes, 0x5a, key.len);
    const char *text[COL_COMMON + 3] = {"CORR-1", "client-1", "2024-03-05", "ggz-noord",
                                        "DEK-1", "coverage", "void"};
    produce_row_t row;
    for (int k = 0; k < COL_COMMON + 3; k++) {
        row.v[k] = text[k];
        row.len[k] = strlen(text[k]);
    }
    koers_event_t ev;
    int bad = -3;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(produce_row_to_event(KOERS_CORRECTION, &row, &key, 1709900000000LL,
                                               KOERS_DATE_ISO, &ev, &bad, err, sizeof err), 0);
    char want[37];
    koers_pseudo_event_id(&key, "ggz-noord", "coverage", "DEK-1", 5, want);
    CU_ASSERT_STRING_EQUAL(ev.v[0].s, want);
}

static const unit_test_t row_tests[] = {
    {"crisis.csv columns, episode_ref last", test_crisis_columns},
    {"crisis rows: days, episode_ref, both or neither", test_crisis_rows},
    {"coverage.csv columns: no client_id", test_coverage_columns},
    {"coverage rows: dates, open-ended, covered_to before covered_from", test_coverage_rows},
    {"a correction of a coverage statement", test_correction_of_coverage},
};

int main(void)
{
    const unit_suite_t suite = {"row", NULL, NULL, UNIT_TESTS(row_tests)};
    return unit_main(&suite);
}
