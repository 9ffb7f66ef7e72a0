/* A streaming RFC 4180 CSV reader that knows the line each record started on. */
#ifndef KOERS_CSV_H
#define KOERS_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct koers_csv koers_csv_t;

/* What koers_csv_next returns. */
enum {
    KOERS_CSV_REFUSED = -2, /* this record is bad and skipped; reading goes on */
    KOERS_CSV_FAILED = -1,  /* the input cannot be read further */
    KOERS_CSV_END = 0,
    KOERS_CSV_RECORD = 1
};

/* Why the last record was refused, or why reading failed. */
typedef enum {
    KOERS_CSV_OK,
    KOERS_CSV_BAD_ENCODING, /* not UTF-8 (or a byte Windows-1252 leaves undefined) */
    KOERS_CSV_NUL_BYTE,     /* a NUL byte anywhere in the record: binary, not text */
    KOERS_CSV_LONG_FIELD,
    KOERS_CSV_MANY_FIELDS,
    KOERS_CSV_SYNTAX, /* quotes or line ends: where records end is not known */
    KOERS_CSV_SYSTEM  /* a read error or no memory */
} koers_csv_problem_t;

typedef enum { KOERS_CSV_UTF8, KOERS_CSV_WINDOWS_1252 } koers_csv_encoding_t;

/* Reads from f (not closed by the reader); path is used in messages. A field longer than
 * max_field bytes is an error. The separator is a comma and the input UTF-8 until changed
 * below. Returns NULL only when out of memory. */
koers_csv_t *koers_csv_open(FILE *f, const char *path, size_t max_field);
void koers_csv_close(koers_csv_t *r);

/* Sets the separator: ',' or ';', or 0 to take from the first line whichever of the two
 * occurs more often outside quotes (a comma on a tie). Call before the first record.
 * Returns 0, or -1 for another character. */
int koers_csv_set_delimiter(koers_csv_t *r, char delimiter);

/* The separator in use (after the first record when it was detected). */
char koers_csv_delimiter(const koers_csv_t *r);

/* Sets the input's encoding; Windows-1252 is converted to UTF-8 with iconv(3), so fields
 * are UTF-8 whatever the input. Call before the first record. Returns 0, or -1 with the
 * reason in errstr when the conversion is not available. */
int koers_csv_set_encoding(koers_csv_t *r, koers_csv_encoding_t enc, char *errstr,
                           size_t errlen);

/* Reads the next record. Returns KOERS_CSV_RECORD and sets *fields / *lens / *n (valid
 * until the next call; each field is NUL-terminated), KOERS_CSV_END at the end of input,
 * KOERS_CSV_REFUSED with "path:line: reason" in errstr for a record that holds bytes the
 * reader does not accept (invalid UTF-8, a NUL byte, a field over the limit, too many
 * fields): it is skipped up to its end (a newline outside quotes) and the next call reads
 * the record after it; or KOERS_CSV_FAILED with "path:line: reason" for what leaves the
 * record boundaries unknown (an unterminated quote, a stray quote, a bare CR outside a
 * refused record) and for read errors; when that happens in a refused record, the record's
 * own reason comes first. A failure is final: later calls return it again. A UTF-8
 * byte-order mark at the start is skipped; CRLF and LF both end a record; quoted fields may
 * hold separators, quotes ("") and newlines. */
int koers_csv_next(koers_csv_t *r, char ***fields, size_t **lens, size_t *n, char *errstr,
                   size_t errlen);

/* Physical line (1-based) on which the last record returned or refused started. */
long koers_csv_line(const koers_csv_t *r);

/* Why the last KOERS_CSV_REFUSED or KOERS_CSV_FAILED happened (KOERS_CSV_OK after a
 * record). */
koers_csv_problem_t koers_csv_problem(const koers_csv_t *r);

#endif
