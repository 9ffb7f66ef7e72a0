/* Unit tests for the consumer's COPY rows (consumers/copy.c): an event read back field by
 * field from the bytes, against the event table's columns, and its staging row. */
#include <stdlib.h>
#include <string.h>

#include "consume.h"
#include "harness.h"

/* Reads the row at *p: its field count, then each field's length and bytes. */
typedef struct {
    int n;
    int32_t len[KOERS_MAX_FIELDS + 8];
    const unsigned char *data[KOERS_MAX_FIELDS + 8];
} copy_row_t;

static uint32_t copy_get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const unsigned char *copy_read_row(const unsigned char *p, copy_row_t *row)
{
    row->n = p[0] << 8 | p[1];
    p += 2;
    for (int i = 0; i < row->n; i++) {
        row->len[i] = (int32_t)copy_get32(p);
        row->data[i] = p + 4;
        p += 4 + (row->len[i] > 0 ? row->len[i] : 0);
    }
    return p;
}

static int copy_text_is(const copy_row_t *row, int i, const char *s)
{
    return row->len[i] == (int32_t)strlen(s) && memcmp(row->data[i], s, strlen(s)) == 0;
}

static int copy_count_columns(koers_event_type_t t)
{
    char cols[1024];
    consume_copy_columns(t, cols, sizeof cols);
    int n = 1;
    for (const char *c = cols; *c; c++)
        n += *c == ',';
    return n;
}

static void test_copy_crisis(void)
{
    koers_event_t ev = {.type = KOERS_CRISIS, .occurred_at = 1709287200000LL,
                        .recorded_at = 1709287200000LL + 1000};
    snprintf(ev.event_id, sizeof ev.event_id, "123e4567-e89b-12d3-a456-426614174000");
    memset(ev.participant, 'a', KOERS_PARTICIPANT_LEN);
    snprintf(ev.source, sizeof ev.source, "ggz-noord");
    ev.v[0] = (koers_value_t){.present = 1, .i = 1}; /* kind: crisis_admission */
    ev.v[1] = (koers_value_t){.present = 1, .i = 12}; /* days */
    /* episode_ref absent: NULL */
    koers_pg_copy_t raw = {0}, stage = {0};
    CU_ASSERT_EQUAL_FATAL(consume_copy_event(&raw, &stage, &ev, 41), 0);
    copy_row_t row;
    const unsigned char *end = copy_read_row(raw.data, &row);
    CU_ASSERT_EQUAL(end - raw.data, (long)raw.len);
    char cols[1024];
    consume_copy_columns(KOERS_CRISIS, cols, sizeof cols);
    CU_ASSERT_STRING_EQUAL(cols, "event_id, participant, occurred_at, recorded_at, source, kind, "
                                 "days, episode_ref");
    CU_ASSERT_EQUAL_FATAL(row.n, copy_count_columns(KOERS_CRISIS));
    CU_ASSERT_EQUAL(row.len[0], 16);
    CU_ASSERT(row.data[0][0] == 0x12 && row.data[0][15] == 0x00);
    CU_ASSERT_EQUAL(row.len[1], KOERS_PARTICIPANT_LEN);
    /* recorded_at is one second (1,000,000 us) after occurred_at. */
    uint64_t occ = (uint64_t)copy_get32(row.data[2]) << 32 | copy_get32(row.data[2] + 4);
    uint64_t rec = (uint64_t)copy_get32(row.data[3]) << 32 | copy_get32(row.data[3] + 4);
    CU_ASSERT_EQUAL(occ, 762602400000000ull);
    CU_ASSERT_EQUAL(rec - occ, 1000000ull);
    CU_ASSERT(copy_text_is(&row, 4, "ggz-noord"));
    CU_ASSERT(copy_text_is(&row, 5, "crisis_admission"));
    CU_ASSERT(row.len[6] == 4 && copy_get32(row.data[6]) == 12);
    CU_ASSERT_EQUAL(row.len[7], -1);
    /* The staging row: the same fields, then batch_ord. */
    copy_row_t srow;
    end = copy_read_row(stage.data, &srow);
    CU_ASSERT_EQUAL(end - stage.data, (long)stage.len);
    CU_ASSERT_EQUAL_FATAL(srow.n, row.n + 1);
    CU_ASSERT(memcmp(stage.data + 2, raw.data + 2, raw.len - 2) == 0);
    CU_ASSERT(srow.len[row.n] == 4 && copy_get32(srow.data[row.n]) == 41);
    koers_pg_copy_free(&raw);
    koers_pg_copy_free(&stage);
}

static void test_copy_coverage_rows(void)
{
    /* No participant; dates; a second row appended after the first. */
    koers_event_t ev = {.type = KOERS_COVERAGE, .occurred_at = 0, .recorded_at = 0};
    snprintf(ev.event_id, sizeof ev.event_id, "00000000-0000-4000-8000-000000000001");
    snprintf(ev.source, sizeof ev.source, "politie");
    ev.v[0] = (koers_value_t){.present = 1, .i = 4};     /* covered_type: police_call */
    ev.v[1] = (koers_value_t){.present = 1, .i = 10958}; /* covered_from: 2000-01-02 */
    koers_pg_copy_t raw = {0}, stage = {0};
    CU_ASSERT_EQUAL_FATAL(consume_copy_event(&raw, &stage, &ev, 0), 0);
    ev.v[2] = (koers_value_t){.present = 1, .i = 0}; /* covered_to: 1970-01-01 */
    CU_ASSERT_EQUAL_FATAL(consume_copy_event(&raw, &stage, &ev, 1), 0);
    copy_row_t a, b;
    const unsigned char *p = copy_read_row(raw.data, &a);
    p = copy_read_row(p, &b);
    CU_ASSERT_EQUAL(p - raw.data, (long)raw.len);
    CU_ASSERT_EQUAL_FATAL(a.n, copy_count_columns(KOERS_COVERAGE));
    CU_ASSERT(copy_text_is(&a, 3, "politie"));
    CU_ASSERT(copy_text_is(&a, 4, "police_call"));
    CU_ASSERT(a.len[5] == 4 && copy_get32(a.data[5]) == 1);
    CU_ASSERT_EQUAL(a.len[6], -1);
    CU_ASSERT(b.len[6] == 4 && (int32_t)copy_get32(b.data[6]) == -10957);
    copy_row_t s1, s2;
    p = copy_read_row(copy_read_row(stage.data, &s1), &s2);
    CU_ASSERT_EQUAL(p - stage.data, (long)stage.len);
    CU_ASSERT(copy_get32(s1.data[s1.n - 1]) == 0 && copy_get32(s2.data[s2.n - 1]) == 1);
    koers_pg_copy_free(&raw);
    koers_pg_copy_free(&stage);
}

static const unit_test_t copy_tests[] = {
    {"a crisis event as a row of koers.crisis and of its staging table", test_copy_crisis},
    {"coverage rows: no participant, dates, NULL, two rows", test_copy_coverage_rows},
};

int main(void)
{
    const unit_suite_t suite = {"copy", NULL, NULL, UNIT_TESTS(copy_tests)};
    return unit_main(&suite);
}
