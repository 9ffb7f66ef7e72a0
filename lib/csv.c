/* Streaming RFC 4180 CSV reader: buffered input, strict UTF-8 (or Windows-1252 converted),
 * comma or semicolon separators, record start lines, and bad records skipped, not fatal. */
#include "koers/csv.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "koers/log.h"

#define CSV_CHUNK 65536
/* Windows-1252 takes at most three UTF-8 bytes per byte (the euro sign, U+20AC). */
#define CSV_CONV_CHUNK (3 * CSV_CHUNK)
/* Put where the input held a byte its encoding leaves undefined: UTF-8 never holds it, so
 * the UTF-8 check refuses the record at the right line. */
#define CSV_UNDEFINED_BYTE 0xFF
/* Far above any export koers reads; it stops a line of commas from eating memory. */
#define CSV_MAX_FIELDS 4096

enum csv_state {
    CSV_FIELD_START, /* nothing of the current field read yet */
    CSV_UNQUOTED,
    CSV_QUOTED,
    CSV_QUOTE_SEEN, /* a quote inside a quoted field: an escape or the closing quote */
    CSV_CR_SEEN     /* the field ended with CR; only LF may follow */
};

struct koers_csv {
    FILE *f;
    char *path;
    size_t max_field;
    char delim;
    int detect; /* the separator is taken from the first line still to come */
    koers_csv_encoding_t enc;
    iconv_t cd;          /* to UTF-8, or (iconv_t)-1 when the input is UTF-8 already */
    unsigned char *conv; /* the chunk converted, CSV_CONV_CHUNK bytes, when cd is open */

    unsigned char chunk[CSV_CHUNK];
    const unsigned char *in; /* chunk or conv: the bytes parsed */
    size_t pos, end;
    int eof;
    int started; /* the first chunk (and a BOM in it) has been looked at */

    long line; /* physical line of the next byte */
    long rec_line;

    /* UTF-8 decoder: continuation bytes still expected and the range of the next one, which
     * is narrower than 80..BF right after some lead bytes (overlongs, surrogates, > U+10FFFF). */
    int u8_need;
    unsigned char u8_lo, u8_hi;

    /* The record's fields, NUL-separated in one buffer; offsets because it may move. */
    char *data;
    size_t data_len, data_cap;
    size_t *offs;
    size_t *lens;
    char **fields;
    size_t n, cap;

    /* Blank lines are only dropped at the end of the input, so they wait here until a
     * non-blank record (held in data) shows they were in the middle. */
    long blank_count;
    long blank_line;
    int held;
    long held_line;
    char blank_text[1];
    char *blank_field;
    size_t blank_len;

    /* A record being skipped after a refusal: only quotes and line ends count then, so
     * that it ends where a good record would. The first problem's message is in err. */
    int skipping;
    koers_csv_problem_t problem;      /* of the record being read */
    koers_csv_problem_t last_problem; /* of what koers_csv_next returned last */
    koers_csv_problem_t held_problem;

    int failed;
    char err[1024];
};

koers_csv_t *koers_csv_open(FILE *f, const char *path, size_t max_field)
{
    koers_csv_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->path = strdup(path != NULL ? path : "-");
    if (r->path == NULL) {
        free(r);
        return NULL;
    }
    r->f = f;
    r->max_field = max_field;
    r->delim = ',';
    r->enc = KOERS_CSV_UTF8;
    r->cd = (iconv_t)-1;
    r->in = r->chunk;
    r->line = 1;
    r->u8_lo = 0x80;
    r->u8_hi = 0xBF;
    return r;
}

void koers_csv_close(koers_csv_t *r)
{
    if (r == NULL)
        return;
    if (r->cd != (iconv_t)-1)
        iconv_close(r->cd);
    free(r->conv);
    free(r->data);
    free(r->offs);
    free(r->lens);
    free(r->fields);
    free(r->path);
    free(r);
}

long koers_csv_line(const koers_csv_t *r)
{
    return r->rec_line;
}

koers_csv_problem_t koers_csv_problem(const koers_csv_t *r)
{
    return r->last_problem;
}

int koers_csv_set_delimiter(koers_csv_t *r, char delimiter)
{
    if (r->started || (delimiter != ',' && delimiter != ';' && delimiter != 0))
        return -1;
    r->detect = delimiter == 0;
    r->delim = delimiter ? delimiter : ',';
    return 0;
}

char koers_csv_delimiter(const koers_csv_t *r)
{
    return r->delim;
}

int koers_csv_set_encoding(koers_csv_t *r, koers_csv_encoding_t enc, char *errstr,
                           size_t errlen)
{
    if (r->started) {
        snprintf(errstr, errlen, "the encoding is set before reading");
        return -1;
    }
    if (r->cd != (iconv_t)-1) {
        iconv_close(r->cd);
        r->cd = (iconv_t)-1;
    }
    r->enc = enc;
    if (enc == KOERS_CSV_UTF8)
        return 0;
    if (r->conv == NULL) {
        r->conv = malloc(CSV_CONV_CHUNK);
        if (r->conv == NULL) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
    }
    r->cd = iconv_open("UTF-8", "WINDOWS-1252");
    if (r->cd == (iconv_t)-1) {
        snprintf(errstr, errlen, "iconv cannot convert Windows-1252 to UTF-8: %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void csv_format_error(koers_csv_t *r, long line, const char *fmt, va_list ap)
    KOERS_PRINTF(3, 0);

static void csv_format_error(koers_csv_t *r, long line, const char *fmt, va_list ap)
{
    int k = snprintf(r->err, sizeof r->err, "%s:%ld: ", r->path, line);
    if (k < 0)
        k = 0;
    if ((size_t)k < sizeof r->err)
        vsnprintf(r->err + k, sizeof r->err - (size_t)k, fmt, ap);
}

/* A final error: where records end is no longer known, or the input cannot be read. */
static int csv_set_error(koers_csv_t *r, long line, koers_csv_problem_t problem,
                         const char *fmt, ...) KOERS_PRINTF(4, 5);

static int csv_set_error(koers_csv_t *r, long line, koers_csv_problem_t problem,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->skipping) {
        /* The record's own problem came first and is the likely cause: keep it in front. */
        size_t k = strlen(r->err);
        int m = snprintf(r->err + k, sizeof r->err - k, "; then, on line %ld: ", line);
        if (m > 0 && (size_t)m < sizeof r->err - k)
            vsnprintf(r->err + k + (size_t)m, sizeof r->err - k - (size_t)m, fmt, ap);
    } else {
        csv_format_error(r, line, fmt, ap);
        r->problem = problem;
    }
    va_end(ap);
    r->failed = 1;
    return -1;
}

/* Refuses the record being read and skips the rest of it. The first problem is the one
 * reported. Returns 0: reading goes on. */
static int csv_refuse_record(koers_csv_t *r, long line, koers_csv_problem_t problem,
                             const char *fmt, ...) KOERS_PRINTF(4, 5);

static int csv_refuse_record(koers_csv_t *r, long line, koers_csv_problem_t problem,
                             const char *fmt, ...)
{
    if (r->skipping)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    csv_format_error(r, line, fmt, ap);
    va_end(ap);
    r->skipping = 1;
    r->problem = problem;
    r->u8_need = 0;
    return 0;
}

/* Converts the bytes read to UTF-8 in conv. */
static void csv_convert_chunk(koers_csv_t *r, size_t start, size_t got)
{
    char *in = (char *)r->chunk + start;
    size_t inleft = got - start;
    char *out = (char *)r->conv;
    size_t outleft = CSV_CONV_CHUNK;
    while (inleft > 0 && outleft > 0) {
        if (iconv(r->cd, &in, &inleft, &out, &outleft) != (size_t)-1)
            break;
        /* EILSEQ: a byte without a character (81, 8D, 8F, 90, 9D in Windows-1252). The
         * output has room, since no byte takes more than three. */
        *out++ = (char)CSV_UNDEFINED_BYTE;
        outleft--;
        in++;
        inleft--;
    }
    r->in = r->conv;
    r->pos = 0;
    r->end = (size_t)(out - (char *)r->conv);
}

/* The separator of the first line: the more frequent of ',' and ';' outside quotes. A
 * header longer than the chunk is decided on the part read. */
static void csv_detect_delimiter(koers_csv_t *r)
{
    size_t commas = 0, semicolons = 0;
    int quoted = 0;
    for (size_t i = r->pos; i < r->end; i++) {
        unsigned char c = r->in[i];
        if (c == '"')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (c == '\n')
            break;
        else if (c == ',')
            commas++;
        else if (c == ';')
            semicolons++;
    }
    r->delim = semicolons > commas ? ';' : ',';
    r->detect = 0;
}

/* Returns 1 with bytes available, 0 at the end of input, -1 on a read error. */
static int csv_fill_chunk(koers_csv_t *r)
{
    if (r->eof)
        return 0;
    size_t got = fread(r->chunk, 1, sizeof r->chunk, r->f);
    if (got == 0) {
        if (ferror(r->f))
            return csv_set_error(r, r->line, KOERS_CSV_SYSTEM, "read error: %s",
                                 strerror(errno));
        r->eof = 1;
        return 0;
    }
    size_t start = 0;
    if (!r->started) {
        r->started = 1;
        /* fread only returns short at the end of input, so a BOM is whole if present. */
        if (got >= 3 && r->chunk[0] == 0xEF && r->chunk[1] == 0xBB && r->chunk[2] == 0xBF) {
            if (r->enc != KOERS_CSV_UTF8)
                return csv_set_error(r, 1, KOERS_CSV_BAD_ENCODING,
                                     "starts with a UTF-8 byte-order mark: the file is UTF-8, "
                                     "not Windows-1252");
            start = 3;
        }
    }
    if (r->cd != (iconv_t)-1) {
        csv_convert_chunk(r, start, got);
    } else {
        r->in = r->chunk;
        r->pos = start;
        r->end = got;
    }
    if (r->pos == r->end)
        return csv_fill_chunk(r);
    if (r->detect)
        csv_detect_delimiter(r);
    return 1;
}

static int csv_check_utf8(koers_csv_t *r, unsigned char c)
{
    if (r->u8_need == 0) {
        if (c < 0x80)
            return 0;
        r->u8_lo = 0x80;
        r->u8_hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            r->u8_need = 1;
        } else if (c == 0xE0) {
            r->u8_need = 2;
            r->u8_lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            r->u8_need = 2;
        } else if (c == 0xED) {
            r->u8_need = 2;
            r->u8_hi = 0x9F;
        } else if (c == 0xF0) {
            r->u8_need = 3;
            r->u8_lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            r->u8_need = 3;
        } else if (c == 0xF4) {
            r->u8_need = 3;
            r->u8_hi = 0x8F;
        } else {
            return -1;
        }
        return 0;
    }
    if (c < r->u8_lo || c > r->u8_hi)
        return -1;
    r->u8_need--;
    r->u8_lo = 0x80;
    r->u8_hi = 0xBF;
    return 0;
}

static int csv_reserve_data(koers_csv_t *r, size_t extra)
{
    if (r->data_cap - r->data_len >= extra)
        return 0;
    size_t cap = r->data_cap ? r->data_cap : 256;
    while (cap - r->data_len < extra)
        cap *= 2;
    char *p = realloc(r->data, cap);
    if (p == NULL)
        return -1;
    r->data = p;
    r->data_cap = cap;
    return 0;
}

static int csv_push_byte(koers_csv_t *r, unsigned char c, size_t field_off, long line)
{
    if (r->skipping)
        return 0;
    if (r->data_len - field_off >= r->max_field)
        return csv_refuse_record(r, line, KOERS_CSV_LONG_FIELD, "field %zu longer than %zu bytes",
                          r->n + 1, r->max_field);
    /* One spare byte so that ending the field never needs to grow the buffer. */
    if (csv_reserve_data(r, 2) < 0)
        return csv_set_error(r, line, KOERS_CSV_SYSTEM, "out of memory");
    r->data[r->data_len++] = (char)c;
    return 0;
}

static int csv_end_field(koers_csv_t *r, size_t *field_off, long line)
{
    if (r->skipping) {
        r->n++; /* only counted, so that a later message names the right field */
        return 0;
    }
    if (r->n == CSV_MAX_FIELDS)
        return csv_refuse_record(r, line, KOERS_CSV_MANY_FIELDS, "more than %d fields",
                          CSV_MAX_FIELDS);
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        size_t *offs = realloc(r->offs, cap * sizeof *offs);
        if (offs == NULL)
            return csv_set_error(r, line, KOERS_CSV_SYSTEM, "out of memory");
        r->offs = offs;
        size_t *lens = realloc(r->lens, cap * sizeof *lens);
        if (lens == NULL)
            return csv_set_error(r, line, KOERS_CSV_SYSTEM, "out of memory");
        r->lens = lens;
        char **fields = realloc(r->fields, cap * sizeof *fields);
        if (fields == NULL)
            return csv_set_error(r, line, KOERS_CSV_SYSTEM, "out of memory");
        r->fields = fields;
        r->cap = cap;
    }
    if (csv_reserve_data(r, 1) < 0)
        return csv_set_error(r, line, KOERS_CSV_SYSTEM, "out of memory");
    r->offs[r->n] = *field_off;
    r->lens[r->n] = r->data_len - *field_off;
    r->n++;
    r->data[r->data_len++] = '\0';
    *field_off = r->data_len;
    return 0;
}

/* Reads one record into data/offs/lens. Returns 1 (with *blank set when the line was
 * empty; with r->skipping set when the record was refused), 0 at the end of input, or -1
 * with r->err set. */
static int csv_read_record(koers_csv_t *r, int *blank)
{
    enum csv_state st = CSV_FIELD_START;
    size_t field_off = 0;
    int any = 0; /* anything but the line end seen: a lone newline is a blank line */
    long quote_line = 0;
    char delim = r->delim; /* detected when the first chunk is read */

    r->n = 0;
    r->data_len = 0;
    r->rec_line = r->line;
    r->skipping = 0;
    r->problem = KOERS_CSV_OK;
    *blank = 0;

    for (;;) {
        if (r->pos == r->end) {
            int rc = csv_fill_chunk(r);
            if (rc < 0)
                return -1;
            if (rc == 0)
                break;
            delim = r->delim;
        }
        unsigned char c = r->in[r->pos++];
        long here = r->line;
        if (c == '\n')
            r->line++;
        if (!r->skipping) {
            if (csv_check_utf8(r, c) < 0)
                csv_refuse_record(r, here, KOERS_CSV_BAD_ENCODING,
                           r->enc == KOERS_CSV_UTF8 ? "invalid UTF-8 in field %zu"
                                                    : "a byte Windows-1252 does not define "
                                                      "in field %zu",
                           r->n + 1);
            else if (c == '\0')
                csv_refuse_record(r, here, KOERS_CSV_NUL_BYTE, "NUL byte in field %zu", r->n + 1);
        }
        /* A NUL byte says binary data, whatever else is wrong with the record: no
         * text encoding would make it readable. */
        if (c == '\0' && r->problem == KOERS_CSV_BAD_ENCODING)
            r->problem = KOERS_CSV_NUL_BYTE;

        /* The byte that was refused still counts for where the record ends. */
    again:
        switch (st) {
        case CSV_FIELD_START:
            if (c == '"') {
                st = CSV_QUOTED;
                quote_line = here;
                any = 1;
            } else if (c == delim) {
                any = 1;
                if (csv_end_field(r, &field_off, here) < 0)
                    return -1;
            } else if (c == '\r') {
                st = CSV_CR_SEEN;
            } else if (c == '\n') {
                if (csv_end_field(r, &field_off, here) < 0)
                    return -1;
                *blank = !any;
                return 1;
            } else {
                st = CSV_UNQUOTED;
                any = 1;
                if (csv_push_byte(r, c, field_off, here) < 0)
                    return -1;
            }
            break;
        case CSV_UNQUOTED:
            if (c == delim) {
                st = CSV_FIELD_START;
                if (csv_end_field(r, &field_off, here) < 0)
                    return -1;
            } else if (c == '\r') {
                st = CSV_CR_SEEN;
            } else if (c == '\n') {
                return csv_end_field(r, &field_off, here) < 0 ? -1 : 1;
            } else if (c == '"') {
                return csv_set_error(r, here, KOERS_CSV_SYNTAX,
                                     "quote inside unquoted field %zu", r->n + 1);
            } else if (csv_push_byte(r, c, field_off, here) < 0) {
                return -1;
            }
            break;
        case CSV_QUOTED:
            if (c == '"')
                st = CSV_QUOTE_SEEN;
            else if (csv_push_byte(r, c, field_off, here) < 0)
                return -1;
            break;
        case CSV_QUOTE_SEEN:
            if (c == '"') {
                st = CSV_QUOTED;
                if (csv_push_byte(r, c, field_off, here) < 0)
                    return -1;
            } else if (c == delim) {
                st = CSV_FIELD_START;
                if (csv_end_field(r, &field_off, here) < 0)
                    return -1;
            } else if (c == '\r') {
                st = CSV_CR_SEEN;
            } else if (c == '\n') {
                return csv_end_field(r, &field_off, here) < 0 ? -1 : 1;
            } else {
                return csv_set_error(r, here, KOERS_CSV_SYNTAX,
                                     "character after closing quote in field %zu", r->n + 1);
            }
            break;
        case CSV_CR_SEEN:
            if (c != '\n' && r->skipping) {
                /* In a refused record (UTF-16, say) a lone CR is one more bad byte; only a
                 * line feed outside quotes ends it. */
                st = CSV_UNQUOTED;
                goto again;
            }
            if (c != '\n')
                return csv_set_error(r, here, KOERS_CSV_SYNTAX,
                                     "carriage return not followed by line feed");
            if (csv_end_field(r, &field_off, here) < 0)
                return -1;
            *blank = !any;
            return 1;
        }
    }

    switch (st) {
    case CSV_QUOTED:
        /* The opening quote's line is where someone has to look. */
        return csv_set_error(r, quote_line, KOERS_CSV_SYNTAX, "unterminated quoted field %zu",
                             r->n + 1);
    case CSV_CR_SEEN:
        return csv_set_error(r, r->line, KOERS_CSV_SYNTAX,
                             "carriage return not followed by line feed");
    case CSV_FIELD_START:
        if (!any)
            return 0;
        break;
    case CSV_UNQUOTED:
    case CSV_QUOTE_SEEN:
        break;
    }
    if (r->u8_need > 0)
        csv_refuse_record(r, r->line, KOERS_CSV_BAD_ENCODING,
                   "invalid UTF-8 at end of input (truncated sequence)");
    return csv_end_field(r, &field_off, r->line) < 0 ? -1 : 1;
}

static void csv_give_record(koers_csv_t *r, char ***fields, size_t **lens, size_t *n)
{
    for (size_t i = 0; i < r->n; i++)
        r->fields[i] = r->data + r->offs[i];
    *fields = r->fields;
    *lens = r->lens;
    *n = r->n;
}

static void csv_give_blank(koers_csv_t *r, char ***fields, size_t **lens, size_t *n)
{
    r->rec_line = r->blank_line++;
    r->blank_count--;
    r->blank_text[0] = '\0';
    r->blank_field = r->blank_text;
    r->blank_len = 0;
    *fields = &r->blank_field;
    *lens = &r->blank_len;
    *n = 1;
}

int koers_csv_next(koers_csv_t *r, char ***fields, size_t **lens, size_t *n, char *errstr,
                   size_t errlen)
{
    *fields = NULL;
    *lens = NULL;
    *n = 0;
    r->last_problem = KOERS_CSV_OK;
    if (r->failed)
        goto failed;
    if (r->blank_count > 0) {
        csv_give_blank(r, fields, lens, n);
        return KOERS_CSV_RECORD;
    }
    if (r->held) {
        r->held = 0;
        r->rec_line = r->held_line;
        if (r->held_problem != KOERS_CSV_OK) {
            r->last_problem = r->held_problem;
            goto refused;
        }
        csv_give_record(r, fields, lens, n);
        return KOERS_CSV_RECORD;
    }
    for (;;) {
        int blank;
        int rc = csv_read_record(r, &blank);
        if (rc < 0)
            goto failed;
        if (rc == 0) {
            r->blank_count = 0;
            return KOERS_CSV_END;
        }
        if (blank) {
            if (r->blank_count == 0)
                r->blank_line = r->rec_line;
            r->blank_count++;
            continue;
        }
        if (r->blank_count > 0) {
            /* The record (or its refusal, whose message stays in err) waits its turn. */
            r->held = 1;
            r->held_line = r->rec_line;
            r->held_problem = r->skipping ? r->problem : KOERS_CSV_OK;
            csv_give_blank(r, fields, lens, n);
            return KOERS_CSV_RECORD;
        }
        if (r->skipping) {
            r->last_problem = r->problem;
            goto refused;
        }
        csv_give_record(r, fields, lens, n);
        return KOERS_CSV_RECORD;
    }
refused:
    if (errstr != NULL && errlen > 0)
        snprintf(errstr, errlen, "%s", r->err);
    return KOERS_CSV_REFUSED;
failed:
    r->last_problem = r->problem;
    if (errstr != NULL && errlen > 0)
        snprintf(errstr, errlen, "%s", r->err);
    return KOERS_CSV_FAILED;
}
