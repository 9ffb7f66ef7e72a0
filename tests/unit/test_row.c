/* CSV row tests: a row of crisis.csv to an event, with days, episode_ref, both or neither. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "produce.h"

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

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("row", NULL, NULL);
    CU_add_test(s, "crisis.csv columns, episode_ref last", test_crisis_columns);
    CU_add_test(s, "crisis rows: days, episode_ref, both or neither", test_crisis_rows);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures != 0 || CU_get_error() != CUE_SUCCESS;
}
