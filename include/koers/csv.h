/* A streaming RFC 4180 CSV reader that knows the line each record started on. */
#ifndef KOERS_CSV_H
#define KOERS_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct koers_csv koers_csv_t;

/* Reads from f (not closed by the reader); path is used in messages. A field longer than
 * max_field bytes is an error. Returns NULL only when out of memory. */
koers_csv_t *koers_csv_open(FILE *f, const char *path, size_t max_field);
void koers_csv_close(koers_csv_t *r);

/* Reads the next record. Returns 1 and sets *fields / *lens / *n (valid until the next
 * call; each field is NUL-terminated), 0 at the end of input, or -1 with
 * "path:line: reason" in errstr. A UTF-8 byte-order mark at the start is skipped; CRLF
 * and LF both end a record; quoted fields may hold commas, quotes ("") and newlines;
 * invalid UTF-8, a NUL byte, an unterminated quote or a stray quote are errors. An error
 * is final: later calls return -1 again. */
int koers_csv_next(koers_csv_t *r, char ***fields, size_t **lens, size_t *n, char *errstr,
                   size_t errlen);

/* Physical line (1-based) on which the last record returned started. */
long koers_csv_line(const koers_csv_t *r);

#endif
