/* Streaming RFC 4180 CSV reader: buffered input, strict UTF-8, record start lines. */
#include "koers/csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "koers/log.h"

#define CSV_CHUNK 65536
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

    unsigned char chunk[CSV_CHUNK];
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
    r->line = 1;
    r->u8_lo = 0x80;
    r->u8_hi = 0xBF;
    return r;
}

void koers_csv_close(koers_csv_t *r)
{
    if (r == NULL)
        return;
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

static int csv_set_error(koers_csv_t *r, long line, const char *fmt, ...) KOERS_PRINTF(3, 4);

static int csv_set_error(koers_csv_t *r, long line, const char *fmt, ...)
{
    int k = snprintf(r->err, sizeof r->err, "%s:%ld: ", r->path, line);
    if (k < 0)
        k = 0;
    if ((size_t)k < sizeof r->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + k, sizeof r->err - (size_t)k, fmt, ap);
        va_end(ap);
    }
    r->failed = 1;
    return -1;
}

/* Returns 1 with bytes available, 0 at the end of input, -1 on a read error. */
static int csv_fill_chunk(koers_csv_t *r)
{
    if (r->eof)
        return 0;
    size_t got = fread(r->chunk, 1, sizeof r->chunk, r->f);
    if (got == 0) {
        if (ferror(r->f))
            return csv_set_error(r, r->line, "read error: %s", strerror(errno));
        r->eof = 1;
        return 0;
    }
    r->pos = 0;
    r->end = got;
    if (!r->started) {
        r->started = 1;
        /* fread only returns short at the end of input, so a BOM is whole if present. */
        if (got >= 3 && r->chunk[0] == 0xEF && r->chunk[1] == 0xBB && r->chunk[2] == 0xBF)
            r->pos = 3;
        if (r->pos == r->end)
            return csv_fill_chunk(r);
    }
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
    if (r->data_len - field_off >= r->max_field)
        return csv_set_error(r, line, "field %zu longer than %zu bytes", r->n + 1, r->max_field);
    /* One spare byte so that ending the field never needs to grow the buffer. */
    if (csv_reserve_data(r, 2) < 0)
        return csv_set_error(r, line, "out of memory");
    r->data[r->data_len++] = (char)c;
    return 0;
}

static int csv_end_field(koers_csv_t *r, size_t *field_off, long line)
{
    if (r->n == CSV_MAX_FIELDS)
        return csv_set_error(r, line, "more than %d fields", CSV_MAX_FIELDS);
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        size_t *offs = realloc(r->offs, cap * sizeof *offs);
        if (offs == NULL)
            return csv_set_error(r, line, "out of memory");
        r->offs = offs;
        size_t *lens = realloc(r->lens, cap * sizeof *lens);
        if (lens == NULL)
            return csv_set_error(r, line, "out of memory");
        r->lens = lens;
        char **fields = realloc(r->fields, cap * sizeof *fields);
        if (fields == NULL)
            return csv_set_error(r, line, "out of memory");
        r->fields = fields;
        r->cap = cap;
    }
    if (csv_reserve_data(r, 1) < 0)
        return csv_set_error(r, line, "out of memory");
    r->offs[r->n] = *field_off;
    r->lens[r->n] = r->data_len - *field_off;
    r->n++;
    r->data[r->data_len++] = '\0';
    *field_off = r->data_len;
    return 0;
}

/* Reads one record into data/offs/lens. Returns 1 (with *blank set when the line was
 * empty), 0 at the end of input, or -1 with r->err set. */
static int csv_read_record(koers_csv_t *r, int *blank)
{
    enum csv_state st = CSV_FIELD_START;
    size_t field_off = 0;
    int any = 0; /* anything but the line end seen: a lone newline is a blank line */
    long quote_line = 0;

    r->n = 0;
    r->data_len = 0;
    r->rec_line = r->line;
    *blank = 0;

    for (;;) {
        if (r->pos == r->end) {
            int rc = csv_fill_chunk(r);
            if (rc < 0)
                return -1;
            if (rc == 0)
                break;
        }
        unsigned char c = r->chunk[r->pos++];
        long here = r->line;
        if (c == '\n')
            r->line++;
        if (csv_check_utf8(r, c) < 0)
            return csv_set_error(r, here, "invalid UTF-8 in field %zu", r->n + 1);
        if (c == '\0')
            return csv_set_error(r, here, "NUL byte in field %zu", r->n + 1);

        switch (st) {
        case CSV_FIELD_START:
            if (c == '"') {
                st = CSV_QUOTED;
                quote_line = here;
                any = 1;
            } else if (c == ',') {
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
            if (c == ',') {
                st = CSV_FIELD_START;
                if (csv_end_field(r, &field_off, here) < 0)
                    return -1;
            } else if (c == '\r') {
                st = CSV_CR_SEEN;
            } else if (c == '\n') {
                return csv_end_field(r, &field_off, here) < 0 ? -1 : 1;
            } else if (c == '"') {
                return csv_set_error(r, here, "quote inside unquoted field %zu", r->n + 1);
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
            } else if (c == ',') {
                st = CSV_FIELD_START;
                if (csv_end_field(r, &field_off, here) < 0)
                    return -1;
            } else if (c == '\r') {
                st = CSV_CR_SEEN;
            } else if (c == '\n') {
                return csv_end_field(r, &field_off, here) < 0 ? -1 : 1;
            } else {
                return csv_set_error(r, here, "character after closing quote in field %zu",
                                     r->n + 1);
            }
            break;
        case CSV_CR_SEEN:
            if (c != '\n')
                return csv_set_error(r, here, "carriage return not followed by line feed");
            if (csv_end_field(r, &field_off, here) < 0)
                return -1;
            *blank = !any;
            return 1;
        }
    }

    if (r->u8_need > 0)
        return csv_set_error(r, r->line, "invalid UTF-8 at end of input (truncated sequence)");
    switch (st) {
    case CSV_QUOTED:
        /* The opening quote's line is where someone has to look. */
        return csv_set_error(r, quote_line, "unterminated quoted field %zu", r->n + 1);
    case CSV_CR_SEEN:
        return csv_set_error(r, r->line, "carriage return not followed by line feed");
    case CSV_FIELD_START:
        if (!any)
            return 0;
        break;
    case CSV_UNQUOTED:
    case CSV_QUOTE_SEEN:
        break;
    }
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
    if (!r->failed) {
        if (r->blank_count > 0) {
            csv_give_blank(r, fields, lens, n);
            return 1;
        }
        if (r->held) {
            r->held = 0;
            r->rec_line = r->held_line;
            csv_give_record(r, fields, lens, n);
            return 1;
        }
        for (;;) {
            int blank;
            int rc = csv_read_record(r, &blank);
            if (rc < 0)
                break;
            if (rc == 0) {
                r->blank_count = 0;
                return 0;
            }
            if (blank) {
                if (r->blank_count == 0)
                    r->blank_line = r->rec_line;
                r->blank_count++;
                continue;
            }
            if (r->blank_count > 0) {
                r->held = 1;
                r->held_line = r->rec_line;
                csv_give_blank(r, fields, lens, n);
                return 1;
            }
            csv_give_record(r, fields, lens, n);
            return 1;
        }
    }
    if (errstr != NULL && errlen > 0)
        snprintf(errstr, errlen, "%s", r->err);
    return -1;
}
