/* Unit tests for the CSV reader: records, line numbers and every error, table-driven. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "koers/csv.h"
#include "harness.h"

/* Reads everything and renders it as "line#count:f1|f2\n" per record, "line#R:message\n" per
 * refused record, then "E:message" if the reader failed; '|', '\\', CR and LF inside fields
 * are escaped so the text is exact. opts may hold ";" or "," (separator), "auto" (detect
 * it) and "cp1252" (the input's encoding). */
static void csv_dump_stream(FILE *f, size_t max_field, const char *opts, char *out,
                            size_t outlen)
{
    koers_csv_t *r = koers_csv_open(f, "t.csv", max_field);
    size_t at = 0;
    char err[512];
    char **fields;
    size_t *lens;
    size_t n;
    int rc;

    CU_ASSERT_FATAL(r != NULL);
    if (opts != NULL) {
        if (strstr(opts, "auto"))
            CU_ASSERT_EQUAL(koers_csv_set_delimiter(r, 0), 0);
        if (strchr(opts, ';'))
            CU_ASSERT_EQUAL(koers_csv_set_delimiter(r, ';'), 0);
        if (strstr(opts, "cp1252"))
            CU_ASSERT_EQUAL(koers_csv_set_encoding(r, KOERS_CSV_WINDOWS_1252, err, sizeof err), 0);
    }
    out[0] = '\0';
    while ((rc = koers_csv_next(r, &fields, &lens, &n, err, sizeof err)) == KOERS_CSV_RECORD ||
           rc == KOERS_CSV_REFUSED) {
        if (rc == KOERS_CSV_REFUSED) {
            CU_ASSERT(koers_csv_problem(r) != KOERS_CSV_OK);
            at += (size_t)snprintf(out + at, outlen - at, "%ld#R:%s\n", koers_csv_line(r), err);
            CU_ASSERT_FATAL(at < outlen - 8);
            continue;
        }
        CU_ASSERT(koers_csv_problem(r) == KOERS_CSV_OK);
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
    if (rc == KOERS_CSV_FAILED) {
        snprintf(out + at, outlen - at, "E:%s", err);
        /* A failure is final: the same message again. */
        char again[512];
        CU_ASSERT_EQUAL(koers_csv_next(r, &fields, &lens, &n, again, sizeof again),
                        KOERS_CSV_FAILED);
        CU_ASSERT_STRING_EQUAL(again, err);
    } else {
        /* And so is the end of input. */
        CU_ASSERT_EQUAL(rc, KOERS_CSV_END);
        CU_ASSERT_EQUAL(koers_csv_next(r, &fields, &lens, &n, err, sizeof err), KOERS_CSV_END);
    }
    koers_csv_close(r);
}

static void csv_dump_bytes(const char *in, size_t len, size_t max_field, const char *opts,
                           char *out, size_t outlen)
{
    FILE *f = tmpfile();
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(in, 1, len, f) == len);
    rewind(f);
    csv_dump_stream(f, max_field, opts, out, outlen);
    fclose(f);
}

struct csv_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in); for inputs holding a NUL byte */
    size_t max_field;
    const char *want;
    const char *opts; /* NULL: comma, UTF-8 */
};

#define BIG 1000000

static const struct csv_case csv_cases[] = {
    {"simple", "a,b,c\n1,2,3\n", 0, BIG, "1#3:a|b|c\n2#3:1|2|3\n", NULL},
    {"no final newline", "a,b\n1,2", 0, BIG, "1#2:a|b\n2#2:1|2\n", NULL},
    {"crlf", "a,b\r\n1,2\r\n", 0, BIG, "1#2:a|b\n2#2:1|2\n", NULL},
    {"crlf no final newline", "a,b\r\n1,2", 0, BIG, "1#2:a|b\n2#2:1|2\n", NULL},
    {"quoted comma and escaped quote", "\"a,b\",\"c\"\"d\",\"\"\"\"\n", 0, BIG,
     "1#3:a,b|c\"d|\"\n", NULL},
    {"embedded LF moves the next record's line", "x,\"line1\nline2\"\ny,z\n", 0, BIG,
     "1#2:x|line1\\nline2\n3#2:y|z\n", NULL},
    {"embedded CRLF", "\"a\r\nb\r\nc\",d\r\ne,f\r\n", 0, BIG,
     "1#2:a\\r\\nb\\r\\nc|d\n4#2:e|f\n", NULL},
    {"quoted empty lines", "\"\n\n\n\"\nz\n", 0, BIG, "1#1:\\n\\n\\n\n5#1:z\n", NULL},
    {"bom skipped", "\xEF\xBB\xBF" "a,b\n", 0, BIG, "1#2:a|b\n", NULL},
    {"bom only", "\xEF\xBB\xBF", 0, BIG, "", NULL},
    {"bom later is data", "a\n\xEF\xBB\xBF" "b\n", 0, BIG, "1#1:a\n2#1:\xEF\xBB\xBF" "b\n", NULL},
    {"empty optional fields", "a,,c,\n,,\n", 0, BIG, "1#4:a||c|\n2#3:||\n", NULL},
    {"empty quoted field", "\"\"\n", 0, BIG, "1#1:\n", NULL},
    {"empty quoted field at eof", "a,\"\"", 0, BIG, "1#2:a|\n", NULL},
    {"trailing comma at eof", "a,", 0, BIG, "1#2:a|\n", NULL},
    {"empty file", "", 0, BIG, "", NULL},
    {"blank line at end ignored", "a\n\n", 0, BIG, "1#1:a\n", NULL},
    {"blank crlf lines at end ignored", "a\r\n\r\n\r\n", 0, BIG, "1#1:a\n", NULL},
    {"only a blank line", "\n", 0, BIG, "", NULL},
    {"blank lines in the middle are records", "a\n\n\r\nb\n", 0, BIG,
     "1#1:a\n2#1:\n3#1:\n4#1:b\n", NULL},
    {"utf8 accepted", "\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80,\xF4\x8F\xBF\xBF,\xEF\xBF\xBF\n", 0,
     BIG, "1#5:\xC3\xA9|\xE2\x82\xAC|\xF0\x9F\x98\x80|\xF4\x8F\xBF\xBF|\xEF\xBF\xBF\n", NULL},
    {"field at the limit", "abcde,\"a\"\"b\"\"c\"\n", 0, 5, "1#2:abcde|a\"b\"c\n", NULL},
    {"empty fields with zero limit", ",\n", 0, 0, "1#2:|\n", NULL},

    {"unterminated quote reports its opening line", "a,b\nc,\"de\nf\n", 0, BIG,
     "1#2:a|b\nE:t.csv:2: unterminated quoted field 2", NULL},
    {"quote inside unquoted field", "x\nab\"c\n", 0, BIG,
     "1#1:x\nE:t.csv:2: quote inside unquoted field 1", NULL},
    {"character after closing quote", "x\n\"a\nb\"c\n", 0, BIG,
     "1#1:x\nE:t.csv:3: character after closing quote in field 1", NULL},
    {"space after closing quote", "1,\"a\" ,2\n", 0, BIG,
     "E:t.csv:1: character after closing quote in field 2", NULL},
    {"NUL byte", "a,b\0c\n", 6, BIG, "1#R:t.csv:1: NUL byte in field 2\n", NULL},
    {"NUL byte in quotes", "a\n\"\n\0\"\n", 7, BIG,
     "1#1:a\n2#R:t.csv:3: NUL byte in field 1\n", NULL},
    {"bare CR", "a\rb\n", 0, BIG, "E:t.csv:1: carriage return not followed by line feed", NULL},
    {"CR at end of input", "a\r", 0, BIG,
     "E:t.csv:1: carriage return not followed by line feed", NULL},
    {"field over the limit", "abcde,abcdef\n", 0, 5,
     "1#R:t.csv:1: field 2 longer than 5 bytes\n", NULL},
    {"quoted field over the limit on its 2nd line", "ok\n\"abc\ndef\"\n", 0, 5,
     "1#1:ok\n2#R:t.csv:3: field 1 longer than 5 bytes\n", NULL},
    {"lone continuation byte", "a,\x80\n", 0, BIG, "1#R:t.csv:1: invalid UTF-8 in field 2\n", NULL},
    {"overlong 2-byte", "\xC0\xAF\n", 0, BIG, "1#R:t.csv:1: invalid UTF-8 in field 1\n", NULL},
    {"overlong C1", "\xC1\xBF\n", 0, BIG, "1#R:t.csv:1: invalid UTF-8 in field 1\n", NULL},
    {"overlong 3-byte", "x\n\xE0\x80\xAF\n", 0, BIG,
     "1#1:x\n2#R:t.csv:2: invalid UTF-8 in field 1\n", NULL},
    {"overlong 4-byte", "\xF0\x8F\xBF\xBF\n", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n", NULL},
    {"surrogate", "\xED\xA0\x80\n", 0, BIG, "1#R:t.csv:1: invalid UTF-8 in field 1\n", NULL},
    {"above U+10FFFF", "\xF4\x90\x80\x80\n", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n", NULL},
    {"F5 lead byte", "\xF5\x80\x80\x80\n", 0, BIG, "1#R:t.csv:1: invalid UTF-8 in field 1\n", NULL},
    {"FF byte", "a,b,\xFF\n", 0, BIG, "1#R:t.csv:1: invalid UTF-8 in field 3\n", NULL},
    {"sequence cut by a comma", "\xC3,b\n", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n", NULL},
    {"sequence cut by a newline in quotes", "\"\xE2\x82\n\"\n", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n", NULL},
    {"truncated sequence at end", "a,\xC3", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 at end of input (truncated sequence)\n", NULL},
    {"half a BOM", "\xEF\xBB", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 at end of input (truncated sequence)\n", NULL},

    /* A refused record is skipped to its end, a newline outside quotes, and reading goes on. */
    {"invalid UTF-8, then the next record", "a,b\nc,\xFF\nd,e\n", 0, BIG,
     "1#2:a|b\n2#R:t.csv:2: invalid UTF-8 in field 2\n3#2:d|e\n", NULL},
    {"a newline in quotes after the bad byte is not a record end",
     "h\n\"x\xC3\n,y\n\",w\nok\n", 0, BIG,
     "1#1:h\n2#R:t.csv:2: invalid UTF-8 in field 1\n5#1:ok\n", NULL},
    {"a quoted separator after the bad byte does not count", "\xE9,\"a,\"\"b\"\nok,1\n", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n2#2:ok|1\n", NULL},
    {"NUL byte, then the next record", "a\n\0\nb\n", 6, BIG,
     "1#1:a\n2#R:t.csv:2: NUL byte in field 1\n3#1:b\n", NULL},
    {"field over the limit, then the next record", "abcdef,\"x\nyyyyyyy\"\nok\n", 0, 5,
     "1#R:t.csv:1: field 1 longer than 5 bytes\n3#1:ok\n", NULL},
    {"the first problem of a record is the one reported", "abcdef,\xFF\0\nok\n", 13, 5,
     "1#R:t.csv:1: field 1 longer than 5 bytes\n2#1:ok\n", NULL},
    {"refused records one after another", "\xFF\n\xFE\r\n\xC0\nok\n", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n2#R:t.csv:2: invalid UTF-8 in field 1\n"
     "3#R:t.csv:3: invalid UTF-8 in field 1\n4#1:ok\n", NULL},
    {"a refused record after blank lines keeps its place", "a\n\n\xFF\nb\n", 0, BIG,
     "1#1:a\n2#1:\n3#R:t.csv:3: invalid UTF-8 in field 1\n4#1:b\n", NULL},
    {"a refused last record without a newline", "a\nb,\xFF", 0, BIG,
     "1#1:a\n2#R:t.csv:2: invalid UTF-8 in field 2\n", NULL},
    {"a stray quote in a refused record is still final", "\xFF,a\"b\nc\n", 0, BIG,
     "E:t.csv:1: invalid UTF-8 in field 1; then, on line 1: quote inside unquoted field 2",
     NULL},
    {"an unterminated quote in a refused record is still final", "ok\n\xFF,\"ab\nc\n", 0, BIG,
     "1#1:ok\nE:t.csv:2: invalid UTF-8 in field 1; then, on line 2: unterminated quoted "
     "field 2",
     NULL},
    {"a lone CR in a refused record is one more bad byte", "\xFF\r,\r\rx\r\nok\n", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n2#1:ok\n", NULL},
    {"UTF-16: the header is refused, the rest read", "\xFF\xFE" "a\0,\0b\0\r\0\n\0", 12, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n2#R:t.csv:2: NUL byte in field 1\n", NULL},

    /* Separators. */
    {"semicolon separator", "a;b,c;\"d;e\"\n1;2\n", 0, BIG, "1#3:a|b,c|d;e\n2#2:1|2\n", ";"},
    {"detected: semicolons", "a;b;c,d\n1;2;3\n", 0, BIG, "1#3:a|b|c,d\n2#3:1|2|3\n", "auto"},
    {"detected: commas", "a,b,c;d\n1,2,3\n", 0, BIG, "1#3:a|b|c;d\n2#3:1|2|3\n", "auto"},
    {"detected: neither is a comma", "a\n1;2\n", 0, BIG, "1#1:a\n2#1:1;2\n", "auto"},
    {"detected: quoted separators do not count", "\"a;b;c\",d\n", 0, BIG, "1#2:a;b;c|d\n",
     "auto"},
    {"detected: only the first line counts", "a;b\n1,2,3,4\n", 0, BIG, "1#2:a|b\n2#1:1,2,3,4\n",
     "auto"},
    {"detected after a BOM and CRLF", "\xEF\xBB\xBF" "a;b\r\n1;2\r\n", 0, BIG,
     "1#2:a|b\n2#2:1|2\n", "auto"},

    /* Windows-1252, converted to UTF-8. */
    {"windows-1252 converted", "caf\xE9;\x80 5;\x93q\x94\n\xFF\n", 0, BIG,
     "1#3:caf\xC3\xA9|\xE2\x82\xAC 5|\xE2\x80\x9Cq\xE2\x80\x9D\n2#1:\xC3\xBF\n", "auto,cp1252"},
    {"windows-1252: the limit counts UTF-8 bytes", "\xE9\xE9\xE9,ok\n", 0, 5,
     "1#R:t.csv:1: field 1 longer than 5 bytes\n", "cp1252"},
    {"windows-1252: an undefined byte refuses its record", "a\n\x81\nb\x9D\n\x90\x8D\x8F\nc\n", 0,
     BIG,
     "1#1:a\n2#R:t.csv:2: a byte Windows-1252 does not define in field 1\n"
     "3#R:t.csv:3: a byte Windows-1252 does not define in field 1\n"
     "4#R:t.csv:4: a byte Windows-1252 does not define in field 1\n5#1:c\n",
     "cp1252"},
    {"windows-1252 given for a UTF-8 file with a BOM", "\xEF\xBB\xBF" "a\n", 0, BIG,
     "E:t.csv:1: starts with a UTF-8 byte-order mark: the file is UTF-8, not Windows-1252",
     "cp1252"},
    {"windows-1252 bytes read as UTF-8", "Jos\xE9,1\nok,2\n", 0, BIG,
     "1#R:t.csv:1: invalid UTF-8 in field 1\n2#2:ok|2\n", NULL},
};

static void test_csv_table(void)
{
    char out[4096];
    for (size_t i = 0; i < sizeof csv_cases / sizeof csv_cases[0]; i++) {
        const struct csv_case *c = &csv_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        csv_dump_bytes(c->in, len, c->max_field, c->opts, out, sizeof out);
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
    csv_dump_stream(f, 100, NULL, out, sizeof out);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(out, "1#2:id|note\n2#2:1|two\\r\\nlines\n4#2:2|x\n");
}

static void test_csv_too_many_fields(void)
{
    char in[4100];
    char out[8192];
    memset(in, ',', 4096); /* 4097 fields */
    in[4096] = '\n';
    csv_dump_bytes(in, 4097, BIG, NULL, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "1#R:t.csv:1: more than 4096 fields\n");

    csv_dump_bytes(in + 1, 4096, BIG, NULL, out, sizeof out); /* 4096 fields are fine */
    CU_ASSERT(strncmp(out, "1#4096:|||", 10) == 0);
}

static void test_csv_read_error(void)
{
    FILE *f = fopen("/", "r"); /* glibc opens a directory; reading it fails with EISDIR */
    char out[256];
    if (f == NULL)
        return;
    csv_dump_stream(f, BIG, NULL, out, sizeof out);
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

/* Why each record was refused: what the import counts to tell a Windows-1252 file from a
 * binary one. */
static void test_csv_problems(void)
{
    static const char in[] = "ok\n\xE9\n\0\n\xE9\0\nabcdefghijk\nok\nx\"y\n";
    static const struct {
        int rc;
        koers_csv_problem_t problem;
        long line;
    } want[] = {
        {KOERS_CSV_RECORD, KOERS_CSV_OK, 1},
        {KOERS_CSV_REFUSED, KOERS_CSV_BAD_ENCODING, 2},
        {KOERS_CSV_REFUSED, KOERS_CSV_NUL_BYTE, 3},
        {KOERS_CSV_REFUSED, KOERS_CSV_NUL_BYTE, 4}, /* not UTF-8, and binary */
        {KOERS_CSV_REFUSED, KOERS_CSV_LONG_FIELD, 5},
        {KOERS_CSV_RECORD, KOERS_CSV_OK, 6},
        {KOERS_CSV_FAILED, KOERS_CSV_SYNTAX, 7},
        {KOERS_CSV_FAILED, KOERS_CSV_SYNTAX, 7},
    };
    FILE *f = fmemopen((void *)in, sizeof in - 1, "r");
    CU_ASSERT_FATAL(f != NULL);
    koers_csv_t *r = koers_csv_open(f, "p.csv", 10);
    CU_ASSERT_FATAL(r != NULL);
    char **fields, err[256];
    size_t *lens, n;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int rc = koers_csv_next(r, &fields, &lens, &n, err, sizeof err);
        CU_ASSERT_EQUAL(rc, want[i].rc);
        CU_ASSERT_EQUAL(koers_csv_problem(r), want[i].problem);
        if (rc != KOERS_CSV_FAILED)
            CU_ASSERT_EQUAL(koers_csv_line(r), want[i].line);
        if (rc != want[i].rc || koers_csv_problem(r) != want[i].problem)
            fprintf(stderr, "\nrecord %zu: rc %d problem %d (%s)\n", i, rc,
                    (int)koers_csv_problem(r), rc < 0 ? err : "");
    }
    koers_csv_close(r);
    fclose(f);
}

/* The separator and encoding are fixed before reading starts; only ',' and ';' exist. */
static void test_csv_settings(void)
{
    static const char in[] = "a;b\n";
    FILE *f = fmemopen((void *)in, sizeof in - 1, "r");
    CU_ASSERT_FATAL(f != NULL);
    koers_csv_t *r = koers_csv_open(f, "s.csv", 10);
    char **fields, err[256];
    size_t *lens, n;
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL(koers_csv_delimiter(r), ',');
    CU_ASSERT_EQUAL(koers_csv_set_delimiter(r, '\t'), -1);
    CU_ASSERT_EQUAL(koers_csv_set_delimiter(r, 0), 0);
    CU_ASSERT_EQUAL(koers_csv_next(r, &fields, &lens, &n, err, sizeof err), KOERS_CSV_RECORD);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(koers_csv_delimiter(r), ';');
    CU_ASSERT_EQUAL(koers_csv_set_delimiter(r, ','), -1);
    CU_ASSERT_EQUAL(koers_csv_set_encoding(r, KOERS_CSV_WINDOWS_1252, err, sizeof err), -1);
    koers_csv_close(r);
    fclose(f);
}

/* Windows-1252 over several chunks: every byte 80..FF that has a character, each of which
 * becomes two or three UTF-8 bytes, so that the converted text is larger than the chunk
 * read; lines are counted on the way. */
static void test_csv_cp1252_stream(void)
{
    enum { RECORDS = 3000 };
    static const unsigned char undefined[] = {0x81, 0x8D, 0x8F, 0x90, 0x9D};
    FILE *f = tmpfile();
    CU_ASSERT_FATAL(f != NULL);
    unsigned char row[200];
    size_t rowlen = 0;
    for (int b = 0x80; b <= 0xFF; b++) {
        if (memchr(undefined, b, sizeof undefined) == NULL)
            row[rowlen++] = (unsigned char)b;
    }
    for (int i = 0; i < RECORDS; i++) {
        CU_ASSERT_FATAL(fprintf(f, "%d;", i) > 0);
        CU_ASSERT_FATAL(fwrite(row, 1, rowlen, f) == rowlen);
        CU_ASSERT_FATAL(fputs("\r\n", f) >= 0);
    }
    rewind(f);
    koers_csv_t *r = koers_csv_open(f, "w.csv", 1000);
    char **fields, err[256];
    size_t *lens, n;
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL_FATAL(koers_csv_set_delimiter(r, ';'), 0);
    CU_ASSERT_EQUAL_FATAL(koers_csv_set_encoding(r, KOERS_CSV_WINDOWS_1252, err, sizeof err), 0);
    /* What the 123 characters take in UTF-8: the 27 defined in 80..9F and all 96 of A0..FF.
     * 80..9F: 3 bytes each except 83 (U+0192), 88 (U+02C6), 8A, 8C, 8E, 98, 9A, 9C, 9E, 9F
     * (two bytes); A0..FF: two bytes each. */
    size_t want_len = 17 * 3 + 10 * 2 + 96 * 2;
    int ok = 1;
    for (int i = 0; i < RECORDS && ok; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        ok = koers_csv_next(r, &fields, &lens, &n, err, sizeof err) == KOERS_CSV_RECORD &&
             n == 2 && strcmp(fields[0], id) == 0 && lens[1] == want_len &&
             koers_csv_line(r) == i + 1 && memcmp(fields[1], "\xE2\x82\xAC", 3) == 0 &&
             memcmp(fields[1] + want_len - 2, "\xC3\xBF", 2) == 0;
        if (!ok)
            fprintf(stderr, "\nrecord %d wrong (line %ld, %zu bytes)\n", i, koers_csv_line(r),
                    n == 2 ? lens[1] : 0);
    }
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(koers_csv_next(r, &fields, &lens, &n, err, sizeof err), KOERS_CSV_END);
    koers_csv_close(r);
    fclose(f);
}

static const unit_test_t csv_tests[] = {
    {"table of inputs", test_csv_table},
    {"fmemopen stream", test_csv_fmemopen},
    {"field count limit", test_csv_too_many_fields},
    {"read error", test_csv_read_error},
    {"stream larger than the buffer", test_csv_large_stream},
    {"why records are refused", test_csv_problems},
    {"separator and encoding settings", test_csv_settings},
    {"windows-1252 stream over several chunks", test_csv_cp1252_stream},
};

int main(void)
{
    const unit_suite_t suite = {"csv", NULL, NULL, UNIT_TESTS(csv_tests)};
    return unit_main(&suite);
}
