/* libpq helpers shared by every program: checked statements that keep the server's SQLSTATE
 * and message, query results as JSON rows or CSV, and binary COPY rows. */
#ifndef KOERS_PG_H
#define KOERS_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct json_t;

/* A failed statement: its SQLSTATE ("" when there was none, e.g. a lost connection), the
 * server's primary message, and the whole of it (with DETAIL, HINT, CONTEXT lines). */
typedef struct {
    char sqlstate[6];
    char primary[512];
    char message[1024];
} koers_pg_error_t;

/* Runs sql with n text parameters and expects status want. Returns the result (the caller
 * clears it), or NULL with err filled. err may be NULL. */
PGresult *koers_pg_exec(PGconn *conn, const char *sql, int n, const char *const *params,
                        ExecStatusType want, koers_pg_error_t *err);
/* The same with the parameters' types declared (types[i] 0: inferred), for a statement that
 * does not use every parameter. */
PGresult *koers_pg_exec_typed(PGconn *conn, const char *sql, int n, const Oid *types,
                              const char *const *params, ExecStatusType want,
                              koers_pg_error_t *err);
/* A statement that returns no rows (BEGIN, SET, INSERT ...): 0, or -1 with err. */
int koers_pg_command(PGconn *conn, const char *sql, koers_pg_error_t *err);
/* A script of several statements (a migration): 0 when every one succeeded (an empty one
 * too), or -1 with err. */
int koers_pg_script(PGconn *conn, const char *sql, koers_pg_error_t *err);
/* Writes "what: message" (or the message alone when what is NULL) to errstr; returns -1, so
 * that a caller can `return koers_pg_errstr(...)`. */
int koers_pg_errstr(const koers_pg_error_t *err, const char *what, char *errstr, size_t errlen);
/* Fills err from a result that failed (res may be NULL: the connection's message). */
void koers_pg_error(koers_pg_error_t *err, const PGresult *res, PGconn *conn);

/* The rows of res as a JSON array of objects (column name: value; integers, reals and
 * booleans typed, jsonb parsed, NULL as null). A new reference, or NULL when out of memory. */
struct json_t *koers_pg_json_rows(const PGresult *res);
/* The rows of res as RFC 4180 CSV with a header row; a text field a spreadsheet would take
 * for a formula gets a leading apostrophe. Rows whose filter_col (if >= 0) does not equal
 * filter_val are left out. Returns a malloc'd string with *len, or NULL when out of memory. */
char *koers_pg_csv(const PGresult *res, int filter_col, const char *filter_val, size_t *len);

/* Rows for COPY ... FROM STDIN (FORMAT binary), built in memory (PostgreSQL's "Binary
 * Format": per row a 16-bit field count, each field a 32-bit length, -1 for NULL, and its
 * bytes, big-endian). */
typedef struct {
    unsigned char *data;
    size_t len, cap;
} koers_pg_copy_t;

#define KOERS_PG_EPOCH_MS 946684800000LL /* 2000-01-01T00:00:00Z in ms since 1970 */
#define KOERS_PG_EPOCH_DAYS 10957        /* 2000-01-01 in days since 1970-01-01 */

/* Makes room for more bytes; 0, or -1 when out of memory. */
int koers_pg_copy_reserve(koers_pg_copy_t *b, size_t more);
void koers_pg_copy_free(koers_pg_copy_t *b);
/* Writers into reserved space; each returns the position after what it wrote. */
unsigned char *koers_pg_copy_put16(unsigned char *p, int v);
unsigned char *koers_pg_copy_put32(unsigned char *p, uint32_t v);
unsigned char *koers_pg_copy_put64(unsigned char *p, uint64_t v);
/* One field: data NULL with len -1 is SQL NULL. */
unsigned char *koers_pg_copy_field(unsigned char *p, const void *data, int32_t len);
/* Typed fields in their binary send form. */
unsigned char *koers_pg_copy_int4(unsigned char *p, int32_t v);
unsigned char *koers_pg_copy_bool(unsigned char *p, int v);
unsigned char *koers_pg_copy_text(unsigned char *p, const char *s);
/* ms since 1970 as timestamptz (microseconds since 2000-01-01 UTC). */
unsigned char *koers_pg_copy_timestamptz(unsigned char *p, int64_t ms);
/* days since 1970-01-01 as date (days since 2000-01-01). */
unsigned char *koers_pg_copy_date(unsigned char *p, int32_t days);
/* A canonical UUID text (36 characters, hex digits validated by the caller) as 16 bytes. */
unsigned char *koers_pg_copy_uuid(unsigned char *p, const char *text);

/* Sends sql (a COPY ... FROM STDIN (FORMAT binary)) with the rows of b, framed by the format's
 * header and trailer, as pg_dump does. Returns 0, or -1 with err (SQLSTATE of the failure). */
int koers_pg_copy_send(PGconn *conn, const char *sql, const koers_pg_copy_t *b,
                       koers_pg_error_t *err);

#endif
