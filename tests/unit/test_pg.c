/* Unit tests for lib/pg.c and lib/pgcopy.c without a server: binary COPY fields against
 * PostgreSQL's "Binary Format" worked by hand, and results built in memory with libpq
 * (PQmakeEmptyPGresult) rendered as CSV and JSON. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "koers/pg.h"
#include "koers/pg_oid.h"
#include "harness.h"

static void test_pg_copy_integers(void)
{
    unsigned char b[8];
    CU_ASSERT_PTR_EQUAL(koers_pg_copy_put16(b, 0x0102), b + 2);
    CU_ASSERT(b[0] == 0x01 && b[1] == 0x02);
    CU_ASSERT_PTR_EQUAL(koers_pg_copy_put32(b, 0xa1b2c3d4u), b + 4);
    CU_ASSERT(b[0] == 0xa1 && b[1] == 0xb2 && b[2] == 0xc3 && b[3] == 0xd4);
    koers_pg_copy_put64(b, 0x0102030405060708ull);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(b[i], i + 1);
    /* -1, the NULL length, is all ones. */
    koers_pg_copy_put16(b, -1);
    CU_ASSERT(b[0] == 0xff && b[1] == 0xff);
}

static void test_pg_copy_fields(void)
{
    unsigned char b[64], *p;
    static const unsigned char null_field[] = {0xff, 0xff, 0xff, 0xff};
    p = koers_pg_copy_field(b, NULL, -1);
    CU_ASSERT_EQUAL(p - b, 4);
    CU_ASSERT(memcmp(b, null_field, 4) == 0);

    static const unsigned char int4[] = {0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe}; /* -2 */
    p = koers_pg_copy_int4(b, -2);
    CU_ASSERT_EQUAL(p - b, 8);
    CU_ASSERT(memcmp(b, int4, sizeof int4) == 0);

    static const unsigned char boolean[] = {0, 0, 0, 1, 1};
    p = koers_pg_copy_bool(b, 7);
    CU_ASSERT_EQUAL(p - b, 5);
    CU_ASSERT(memcmp(b, boolean, sizeof boolean) == 0);

    static const unsigned char text[] = {0, 0, 0, 3, 'g', 'g', 'z'};
    p = koers_pg_copy_text(b, "ggz");
    CU_ASSERT_EQUAL(p - b, 7);
    CU_ASSERT(memcmp(b, text, sizeof text) == 0);
}

static void test_pg_copy_times(void)
{
    unsigned char b[16];
    /* 2024-03-01T10:00:00Z: from 2000-01-01, 24 years of which 6 leap (2000..2020) give
     * 8,766 days, January and February 2024 60 more: 8,826 days = 762,566,400 s, + 10 h =
     * 762,602,400 s = 762,602,400,000,000 us = 0x0002B59535282800. */
    static const unsigned char ts[] = {0, 0, 0, 8, 0x00, 0x02, 0xB5, 0x95,
                                       0x35, 0x28, 0x28, 0x00};
    unsigned char *p = koers_pg_copy_timestamptz(b, 1709287200000LL);
    CU_ASSERT_EQUAL(p - b, 12);
    CU_ASSERT(memcmp(b, ts, sizeof ts) == 0);
    /* The Unix epoch is 946,684,800 s before PostgreSQL's: -946,684,800,000,000 us,
     * two's complement 0xFFFCA2FEC4C82000. */
    static const unsigned char unix0[] = {0, 0, 0, 8, 0xFF, 0xFC, 0xA2, 0xFE,
                                          0xC4, 0xC8, 0x20, 0x00};
    koers_pg_copy_timestamptz(b, 0);
    CU_ASSERT(memcmp(b, unix0, sizeof unix0) == 0);
    /* 1970-01-01 as a date: 10,957 days before 2000-01-01, -10957 = 0xFFFFD533. */
    static const unsigned char d1970[] = {0, 0, 0, 4, 0xFF, 0xFF, 0xD5, 0x33};
    koers_pg_copy_date(b, 0);
    CU_ASSERT(memcmp(b, d1970, sizeof d1970) == 0);
    /* 2000-01-02 is day 10,958 since 1970 and day 1 of PostgreSQL's calendar. */
    static const unsigned char d2000[] = {0, 0, 0, 4, 0, 0, 0, 1};
    koers_pg_copy_date(b, 10958);
    CU_ASSERT(memcmp(b, d2000, sizeof d2000) == 0);
}

static void test_pg_copy_uuid(void)
{
    unsigned char b[32];
    static const unsigned char want[] = {0,    0,    0,    16,   0x12, 0x3e, 0x45, 0x67,
                                         0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66,
                                         0x14, 0x17, 0x40, 0x00};
    unsigned char *p = koers_pg_copy_uuid(b, "123e4567-e89b-12d3-a456-426614174000");
    CU_ASSERT_EQUAL(p - b, 20);
    CU_ASSERT(memcmp(b, want, sizeof want) == 0);
    /* Upper-case hex digits are the same value. */
    koers_pg_copy_uuid(b, "123E4567-E89B-12D3-A456-426614174000");
    CU_ASSERT(memcmp(b, want, sizeof want) == 0);
}

static void test_pg_copy_buffer(void)
{
    koers_pg_copy_t c = {0};
    CU_ASSERT_EQUAL_FATAL(koers_pg_copy_reserve(&c, 10), 0);
    CU_ASSERT(c.cap >= 10);
    size_t before = c.cap;
    c.len = c.cap - 1;
    CU_ASSERT_EQUAL_FATAL(koers_pg_copy_reserve(&c, 100000), 0);
    CU_ASSERT(c.cap >= before - 1 + 100000);
    koers_pg_copy_free(&c);
    CU_ASSERT_PTR_NULL(c.data);
    CU_ASSERT_EQUAL(c.cap, 0);
}

/* A result as a server would send it: columns name (text), n (int4), share (numeric),
 * ok (bool), extra (jsonb); the rows' cells as text, NULL where v is NULL. */
static PGresult *pg_result(int rows, const char *const cells[][5])
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    PGresAttDesc att[5] = {
        {.name = "name", .typid = KOERS_OID_TEXT, .typlen = -1, .atttypmod = -1},
        {.name = "n", .typid = KOERS_OID_INT4, .typlen = 4, .atttypmod = -1},
        {.name = "share", .typid = KOERS_OID_NUMERIC, .typlen = -1, .atttypmod = -1},
        {.name = "ok", .typid = KOERS_OID_BOOL, .typlen = 1, .atttypmod = -1},
        {.name = "extra", .typid = KOERS_OID_JSONB, .typlen = -1, .atttypmod = -1},
    };
    CU_ASSERT_FATAL(PQsetResultAttrs(res, 5, att));
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < 5; c++)
            CU_ASSERT_FATAL(PQsetvalue(res, r, c, (char *)cells[r][c],
                                       cells[r][c] ? (int)strlen(cells[r][c]) : -1));
    return res;
}

static const char *const pg_rows[][5] = {
    {"plain", "3", "0.25", "t", "{\"a\": [1, 2]}"},
    {"a, \"quoted\"\nline", "-4", "-1.5", "f", NULL},
    {"=cmd()", NULL, NULL, NULL, "not json"},
    {"-minus", "0", "2", "t", "\"s\""},
};

static void test_pg_csv(void)
{
    PGresult *res = pg_result(4, pg_rows);
    size_t len;
    char *csv = koers_pg_csv(res, -1, NULL, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    const char *want = "name,n,share,ok,extra\r\n"
                       "plain,3,0.25,t,\"{\"\"a\"\": [1, 2]}\"\r\n"
                       "\"a, \"\"quoted\"\"\nline\",-4,-1.5,f,\r\n"
                       "'=cmd(),,,,not json\r\n"
                       "'-minus,0,2,t,\"\"\"s\"\"\"\r\n";
    CU_ASSERT_STRING_EQUAL(csv, want);
    CU_ASSERT_EQUAL(len, strlen(want));
    free(csv);
    /* Only the rows whose column 3 (ok) is "t". */
    csv = koers_pg_csv(res, 3, "t", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    CU_ASSERT_STRING_EQUAL(csv, "name,n,share,ok,extra\r\n"
                                "plain,3,0.25,t,\"{\"\"a\"\": [1, 2]}\"\r\n"
                                "'-minus,0,2,t,\"\"\"s\"\"\"\r\n");
    free(csv);
    PQclear(res);
}

static void test_pg_json(void)
{
    PGresult *res = pg_result(4, pg_rows);
    json_t *rows = koers_pg_json_rows(res);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
    char *text = json_dumps(rows, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(
        text, "[{\"name\":\"plain\",\"n\":3,\"share\":0.25,\"ok\":true,\"extra\":{\"a\":[1,2]}},"
              "{\"name\":\"a, \\\"quoted\\\"\\nline\",\"n\":-4,\"share\":-1.5,\"ok\":false,"
              "\"extra\":null},"
              "{\"name\":\"=cmd()\",\"n\":null,\"share\":null,\"ok\":null,\"extra\":\"not json\"},"
              "{\"name\":\"-minus\",\"n\":0,\"share\":2.0,\"ok\":true,\"extra\":\"s\"}]");
    free(text);
    json_decref(rows);
    PQclear(res);
}

static void test_pg_errors(void)
{
    koers_pg_error_t err;
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    /* A result with no server fields: the status stands in for the message. */
    koers_pg_error(&err, res, NULL);
    CU_ASSERT_STRING_EQUAL(err.sqlstate, "");
    CU_ASSERT_STRING_EQUAL(err.primary, "no connection");
    PQclear(res);
    char buf[64];
    snprintf(err.message, sizeof err.message, "ERROR:  boom");
    CU_ASSERT_EQUAL(koers_pg_errstr(&err, "doing x", buf, sizeof buf), -1);
    CU_ASSERT_STRING_EQUAL(buf, "doing x: ERROR:  boom");
    koers_pg_errstr(&err, NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "ERROR:  boom");
}

static const unit_test_t pg_tests[] = {
    {"COPY integers are big-endian", test_pg_copy_integers},
    {"COPY fields: NULL, int4, bool, text", test_pg_copy_fields},
    {"COPY timestamptz and date from PostgreSQL's epoch", test_pg_copy_times},
    {"COPY uuid as 16 bytes", test_pg_copy_uuid},
    {"COPY buffer grows", test_pg_copy_buffer},
    {"results as CSV: quoting, NULL, formula guard, filter", test_pg_csv},
    {"results as JSON: typed values, jsonb parsed", test_pg_json},
    {"error text", test_pg_errors},
};

int main(void)
{
    const unit_suite_t suite = {"pg", NULL, NULL, UNIT_TESTS(pg_tests)};
    return unit_main(&suite);
}
