/* Unit tests for the CSV reader: records, line numbers and every error, table-driven. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "koers/csv.h"

/* Reads everything and renders it as "line#count:f1|f2\n" per record, then "E:message" if
 * the reader failed; '|', '\\', CR and LF inside fields are escaped so the text is exact. */
static void csv_dump_stream(FILE *f, size_t max_field, char *out, size_t outlen)
{
    koers_csv_t *r = koers_csv_open(f, "t.csv", max_field);
    size_t at = 0;
    char err[512];
    char **fields;
    size_t *lens;
    size_t n;
    int rc;

    CU_ASSERT_FATAL(r != NULL);
    out[0] = '\0';
    while ((rc = koers_csv_next(r, &fields, &lens, &n, err, sizeof err)) == 1) {
        at += (size_t)snprintf(out + at, outlen - at, "%ld#%zu:", koers_csv_line(r), n);
        for (size_t i = 0; i < n && at < outlen - 8; i++) {
            CU_ASSERT(fields[i][lens[i]] == '\0');
            if (i > 0)
                out[at++] = '|';
            for (size_t j = 0; j < lens[i] && at < outlen - 8; j++) {
                char c = fields[i][j];
                if (c == '\n' || c == '\r' || c == '|' || c == '\\') {
                    out[at++] = '\\';
                    out[at++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c;
                } else {
                    out[at++] = c;
                }
            }
        }
        at += (size_t)snprintf(out + at, outlen - at, "\n");
        CU_ASSERT_FATAL(at < outlen - 8);
    }
    if (rc < 0) {
        snprintf(out + at, outlen - at, "E:%s", err);
        /* An error is final: the same message again. */
        char again[512];
        CU_ASSERT_EQUAL(koers_csv_next(r, &fields, &lens, &n, again, sizeof again), -1);
        CU_ASSERT_STRING_EQUAL(again, err);
    } else {
        /* And so is the end of input. */
        CU_ASSERT_EQUAL(koers_csv_next(r, &fields, &lens, &n, err, sizeof err), 0);
    }
    koers_csv_close(r);
}

static void csv_dump_bytes(const char *in, size_t len, size_t max_field, char *out,
                           size_t outlen)
{
    FILE *f = tmpfile();
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(in, 1, len, f) == len);
    rewind(f);
    csv_dump_stream(f, max_field, out, outlen);
    fclose(f);
}

struct csv_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in); for inputs holding a NUL byte */
    size_t max_field;
    const char *want;
};

#define BIG 1000000

static const struct csv_case csv_cases[] = {
    {"simple", "a,b,c\n1,2,3\n", 0, BIG, "1#3:a|b|c\n2#3:1|2|3\n"},
    {"no final newline", "a,b\n1,2", 0, BIG, "1#2:a|b\n2#2:1|2\n"},
    {"crlf", "a,b\r\n1,2\r\n", 0, BIG, "1#2:a|b\n2#2:1|2\n"},
    {"crlf no final newline", "a,b\r\n1,2", 0, BIG, "1#2:a|b\n2#2:1|2\n"},
    {"quoted comma and escaped quote", "\"a,b\",\"c\"\"d\",\"\"\"\"\n", 0, BIG,
     "1#3:a,b|c\"d|\"\n"},
    {"embedded LF moves the next record's line", "x,\"line1\nline2\"\ny,z\n", 0, BIG,
     "1#2:x|line1\\nline2\n3#2:y|z\n"},
    {"embedded CRLF", "\"a\r\nb\r\nc\",d\r\ne,f\r\n", 0, BIG,
     "1#2:a\\r\\nb\\r\\nc|d\n4#2:e|f\n"},
    {"quoted empty lines", "\"\n\n\n\"\nz\n", 0, BIG, "1#1:\\n\\n\\n\n5#1:z\n"},
    {"bom skipped", "\xEF\xBB\xBF" "a,b\n", 0, BIG, "1#2:a|b\n"},
    {"bom only", "\xEF\xBB\xBF", 0, BIG, ""},
    {"bom later is data", "a\n\xEF\xBB\xBF" "b\n", 0, BIG, "1#1:a\n2#1:\xEF\xBB\xBF" "b\n"},
    {"empty optional fields", "a,,c,\n,,\n", 0, BIG, "1#4:a||c|\n2#3:||\n"},
    {"empty quoted field", "\"\"\n", 0, BIG, "1#1:\n"},
    {"empty quoted field at eof", "a,\"\"", 0, BIG, "1#2:a|\n"},
    {"trailing comma at eof", "a,", 0, BIG, "1#2:a|\n"},
    {"empty file", "", 0, BIG, ""},
    {"blank line at end ignored", "a\n\n", 0, BIG, "1#1:a\n"},
    {"blank crlf lines at end ignored", "a\r\n\r\n\r\n", 0, BIG, "1#1:a\n"},
    {"only a blank line", "\n", 0, BIG, ""},
    {"blank lines in the middle are records", "a\n\n\r\nb\n", 0, BIG,
     "1#1:a\n2#1:\n3#1:\n4#1:b\n"},
    {"utf8 accepted", "\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80,\xF4\x8F\xBF\xBF,\xEF\xBF\xBF\n", 0,
     BIG, "1#5:\xC3\xA9|\xE2\x82\xAC|\xF0\x9F\x98\x80|\xF4\x8F\xBF\xBF|\xEF\xBF\xBF\n"},
    {"field at the limit", "abcde,\"a\"\"b\"\"c\"\n", 0, 5, "1#2:abcde|a\"b\"c\n"},
    {"empty fields with zero limit", ",\n", 0, 0, "1#2:|\n"},

    {"unterminated quote reports its opening line", "a,b\nc,\"de\nf\n", 0, BIG,
     "1#2:a|b\nE:t.csv:2: unterminated quoted field 2"},
    {"quote inside unquoted field", "x\nab\"c\n", 0, BIG,
     "1#1:x\nE:t.csv:2: quote inside unquoted field 1"},
    {"character after closing quote", "x\n\"a\nb\"c\n", 0, BIG,
     "1#1:x\nE:t.csv:3: character after closing quote in field 1"},
    {"space after closing quote", "1,\"a\" ,2\n", 0, BIG,
     "E:t.csv:1: character after closing quote in field 2"},
    {"NUL byte", "a,b\0c\n", 6, BIG, "E:t.csv:1: NUL byte in field 2"},
    {"NUL byte in quotes", "a\n\"\n\0\"\n", 7, BIG, "1#1:a\nE:t.csv:3: NUL byte in field 1"},
    {"bare CR", "a\rb\n", 0, BIG, "E:t.csv:1: carriage return not followed by line feed"},
    {"CR at end of input", "a\r", 0, BIG, "E:t.csv:1: carriage return not followed by line feed"},
    {"field over the limit", "abcde,abcdef\n", 0, 5, "E:t.csv:1: field 2 longer than 5 bytes"},
    {"quoted field over the limit on its 2nd line", "ok\n\"abc\ndef\"\n", 0, 5,
     "1#1:ok\nE:t.csv:3: field 1 longer than 5 bytes"},
    {"lone continuation byte", "a,\x80\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 2"},
    {"overlong 2-byte", "\xC0\xAF\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 1"},
    {"overlong C1", "\xC1\xBF\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 1"},
    {"overlong 3-byte", "x\n\xE0\x80\xAF\n", 0, BIG, "1#1:x\nE:t.csv:2: invalid UTF-8 in field 1"},
    {"overlong 4-byte", "\xF0\x8F\xBF\xBF\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 1"},
    {"surrogate", "\xED\xA0\x80\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 1"},
    {"above U+10FFFF", "\xF4\x90\x80\x80\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 1"},
    {"F5 lead byte", "\xF5\x80\x80\x80\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 1"},
    {"FF byte", "a,b,\xFF\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 3"},
    {"sequence cut by a comma", "\xC3,b\n", 0, BIG, "E:t.csv:1: invalid UTF-8 in field 1"},
    {"sequence cut by a newline in quotes", "\"\xE2\x82\n\"\n", 0, BIG,
     "E:t.csv:1: invalid UTF-8 in field 1"},
    {"truncated sequence at end", "a,\xC3", 0, BIG,
     "E:t.csv:1: invalid UTF-8 at end of input (truncated sequence)"},
    {"half a BOM", "\xEF\xBB", 0, BIG,
     "E:t.csv:1: invalid UTF-8 at end of input (truncated sequence)"},
};

static void test_csv_table(void)
{
    char out[4096];
    for (size_t i = 0; i < sizeof csv_cases / sizeof csv_cases[0]; i++) {
        const struct csv_case *c = &csv_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        csv_dump_bytes(c->in, len, c->max_field, out, sizeof out);
        if (strcmp(out, c->want) != 0)
            fprintf(stderr, "\ncase \"%s\":\n got: %s\nwant: %s\n", c->name, out, c->want);
        CU_ASSERT_STRING_EQUAL(out, c->want);
    }
}

static void test_csv_fmemopen(void)
{
    static const char in[] = "id,note\r\n1,\"two\r\nlines\"\r\n2,x";
    FILE *f = fmemopen((void *)in, sizeof in - 1, "r");
    char out[256];
    CU_ASSERT_FATAL(f != NULL);
    csv_dump_stream(f, 100, out, sizeof out);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(out, "1#2:id|note\n2#2:1|two\\r\\nlines\n4#2:2|x\n");
}

static void test_csv_too_many_fields(void)
{
    char in[4100];
    char out[8192];
    memset(in, ',', 4096); /* 4097 fields */
    in[4096] = '\n';
    csv_dump_bytes(in, 4097, BIG, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "E:t.csv:1: more than 4096 fields");

    csv_dump_bytes(in + 1, 4096, BIG, out, sizeof out); /* 4096 fields are fine */
    CU_ASSERT(strncmp(out, "1#4096:|||", 10) == 0);
}

static void test_csv_read_error(void)
{
    FILE *f = fopen("/", "r"); /* glibc opens a directory; reading it fails with EISDIR */
    char out[256];
    if (f == NULL)
        return;
    csv_dump_stream(f, BIG, out, sizeof out);
    fclose(f);
    CU_ASSERT(strncmp(out, "E:t.csv:1: read error: ", 23) == 0);
}

/* Input several times the reader's 64 KiB chunk: a huge quoted field with quotes and
 * newlines in it, a CRLF split across a chunk boundary, a multi-byte character split across
 * one, and many small records whose lines are checked one by one. */
static void test_csv_large_stream(void)
{
    enum { HUGE = 200000, SMALL = 30000, CHUNK = 65536 };
    FILE *f = tmpfile();
    CU_ASSERT_FATAL(f != NULL);

    /* Record 1 (line 1): after the BOM, CHUNK - 4 bytes of 'a' put the CR at the last byte
     * of the first chunk and the LF at the first byte of the second. */
    fputs("\xEF\xBB\xBF", f);
    for (long i = 3; i < CHUNK - 1; i++)
        fputc('a', f);
    fputs("\r\n", f);
    CU_ASSERT_EQUAL(ftell(f), CHUNK + 1);

    /* Record 2 (line 2..): a quoted field of HUGE bytes with "" escapes and a newline every
     * 1000 bytes, and a euro sign placed across the second boundary. */
    fputc('"', f);
    long written = 0;
    long newlines = 0;
    int euro = 0;
    while (written < HUGE) {
        long off = ftell(f);
        if (off == 2L * CHUNK - 1) {
            fputs("\xE2\x82\xAC", f); /* starts on the last byte of the second chunk */
            euro = 1;
            written += 3;
        } else if (off == 2L * CHUNK - 2) {
            fputc('b', f); /* so that the escape below cannot step over that byte */
            written++;
        } else if (written % 1000 == 999) {
            fputc('\n', f);
            newlines++;
            written++;
        } else if (written % 777 == 0) {
            fputs("\"\"", f);
            written++;
        } else {
            fputc('b', f);
            written++;
        }
    }
    CU_ASSERT(euro);
    fputs("\",tail\n", f);

    /* Records after it: short CRLF lines numbered by their content. */
    for (int i = 0; i < SMALL; i++)
        fprintf(f, "%d,\"q\"\"%d\"\r\n", i, i);
    rewind(f);

    koers_csv_t *r = koers_csv_open(f, "big.csv", 300000);
    CU_ASSERT_FATAL(r != NULL);
    char **fields;
    size_t *lens;
    size_t n;
    char err[256];

    CU_ASSERT_EQUAL_FATAL(koers_csv_next(r, &fields, &lens, &n, err, sizeof err), 1);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(lens[0], (size_t)CHUNK - 4);
    CU_ASSERT_EQUAL(koers_csv_line(r), 1);

    CU_ASSERT_EQUAL_FATAL(koers_csv_next(r, &fields, &lens, &n, err, sizeof err), 1);
    CU_ASSERT_EQUAL(koers_csv_line(r), 2);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(lens[0], (size_t)written);
    CU_ASSERT(strstr(fields[0], "\xE2\x82\xAC") != NULL);
    CU_ASSERT(strstr(fields[0], "\"\"") == NULL);
    CU_ASSERT(strchr(fields[0], '"') != NULL);
    CU_ASSERT_STRING_EQUAL(fields[1], "tail");

    long line = 2 + newlines + 1;
    int ok = 1;
    for (int i = 0; i < SMALL && ok; i++) {
        char want0[16], want1[16];
        snprintf(want0, sizeof want0, "%d", i);
        snprintf(want1, sizeof want1, "q\"%d", i);
        ok = koers_csv_next(r, &fields, &lens, &n, err, sizeof err) == 1 && n == 2 &&
             strcmp(fields[0], want0) == 0 && strcmp(fields[1], want1) == 0 &&
             lens[1] == strlen(want1) && koers_csv_line(r) == line + i;
        if (!ok)
            fprintf(stderr, "\nsmall record %d wrong (line %ld)\n", i, koers_csv_line(r));
    }
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(koers_csv_next(r, &fields, &lens, &n, err, sizeof err), 0);
    koers_csv_close(r);
    fclose(f);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("csv", NULL, NULL);
    if (s == NULL || CU_add_test(s, "table of inputs", test_csv_table) == NULL ||
        CU_add_test(s, "fmemopen stream", test_csv_fmemopen) == NULL ||
        CU_add_test(s, "field count limit", test_csv_too_many_fields) == NULL ||
        CU_add_test(s, "read error", test_csv_read_error) == NULL ||
        CU_add_test(s, "stream larger than the buffer", test_csv_large_stream) == NULL) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = CU_get_number_of_failures() != 0 || CU_get_error();
    CU_cleanup_registry();
    return failed;
}
