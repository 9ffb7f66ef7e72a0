/* Checked libpq statements with the server's SQLSTATE and message, and query results as JSON
 * rows or CSV, for every program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "koers/pg.h"
#include "koers/pg_oid.h"

static void pg_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

void koers_pg_error(koers_pg_error_t *err, const PGresult *res, PGconn *conn)
{
    if (!err)
        return;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *whole = res ? PQresultErrorMessage(res) : "";
    const char *fallback = conn ? PQerrorMessage(conn) : "no connection";
    if (!*fallback)
        fallback = res ? PQresStatus(PQresultStatus(res)) : "out of memory";
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state ? state : "");
    snprintf(err->primary, sizeof err->primary, "%s", primary ? primary : fallback);
    snprintf(err->message, sizeof err->message, "%s", *whole ? whole : fallback);
    pg_trim(err->primary);
    pg_trim(err->message);
}

int koers_pg_errstr(const koers_pg_error_t *err, const char *what, char *errstr, size_t errlen)
{
    if (what)
        snprintf(errstr, errlen, "%s: %s", what, err->message);
    else
        snprintf(errstr, errlen, "%s", err->message);
    return -1;
}

PGresult *koers_pg_exec(PGconn *conn, const char *sql, int n, const char *const *params,
                        ExecStatusType want, koers_pg_error_t *err)
{
    return koers_pg_exec_typed(conn, sql, n, NULL, params, want, err);
}

PGresult *koers_pg_exec_typed(PGconn *conn, const char *sql, int n, const Oid *types,
                              const char *const *params, ExecStatusType want,
                              koers_pg_error_t *err)
{
    PGresult *res = PQexecParams(conn, sql, n, types, params, NULL, NULL, 0);
    if (PQresultStatus(res) != want) {
        koers_pg_error(err, res, conn);
        PQclear(res);
        return NULL;
    }
    return res;
}

int koers_pg_command(PGconn *conn, const char *sql, koers_pg_error_t *err)
{
    PGresult *res = koers_pg_exec(conn, sql, 0, NULL, PGRES_COMMAND_OK, err);
    PQclear(res);
    return res ? 0 : -1;
}

int koers_pg_script(PGconn *conn, const char *sql, koers_pg_error_t *err)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok)
        koers_pg_error(err, res, conn);
    PQclear(res);
    return ok ? 0 : -1;
}

static int pg_is_number(Oid t)
{
    return t == KOERS_OID_INT2 || t == KOERS_OID_INT4 || t == KOERS_OID_INT8 ||
           t == KOERS_OID_NUMERIC || t == KOERS_OID_FLOAT4 || t == KOERS_OID_FLOAT8;
}

static json_t *pg_json_value(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case KOERS_OID_BOOL:
        return json_boolean(v[0] == 't');
    case KOERS_OID_INT2:
    case KOERS_OID_INT4:
    case KOERS_OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case KOERS_OID_FLOAT4:
    case KOERS_OID_FLOAT8:
    case KOERS_OID_NUMERIC:
        return json_real(strtod(v, NULL));
    case KOERS_OID_JSONB: {
        json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
        return j ? j : json_string(v);
    }
    default:
        return json_string(v);
    }
}

json_t *koers_pg_json_rows(const PGresult *res)
{
    json_t *rows = json_array();
    if (!rows)
        return NULL;
    int nf = PQnfields(res);
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(rows, o) != 0) {
            json_decref(rows);
            return NULL;
        }
        for (int c = 0; c < nf; c++) {
            json_t *v = pg_json_value(res, r, c);
            if (!v || json_object_set_new(o, PQfname(res, c), v) != 0) {
                json_decref(rows);
                return NULL;
            }
        }
    }
    return rows;
}

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} pg_text_t;

static void pg_put(pg_text_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* One field: quoted when it holds a comma, quote or line break. A text field that a
 * spreadsheet would take for a formula (= + - @ at the start) gets a leading apostrophe. */
static void pg_csv_field(pg_text_t *b, const char *v, int numeric)
{
    int quote = strpbrk(v, ",\"\r\n") != NULL;
    int guard = !numeric && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@');
    if (quote)
        pg_put(b, "\"", 1);
    if (guard)
        pg_put(b, "'", 1);
    for (const char *s = v; *s; s++) {
        if (*s == '"')
            pg_put(b, "\"\"", 2);
        else
            pg_put(b, s, 1);
    }
    if (quote)
        pg_put(b, "\"", 1);
}

char *koers_pg_csv(const PGresult *res, int filter_col, const char *filter_val, size_t *len)
{
    pg_text_t b = {0};
    int nf = PQnfields(res);
    for (int c = 0; c < nf; c++) {
        if (c)
            pg_put(&b, ",", 1);
        pg_csv_field(&b, PQfname(res, c), 0);
    }
    pg_put(&b, "\r\n", 2);
    for (int r = 0; r < PQntuples(res); r++) {
        if (filter_col >= 0 && filter_val &&
            (PQgetisnull(res, r, filter_col) ||
             strcmp(PQgetvalue(res, r, filter_col), filter_val) != 0))
            continue;
        for (int c = 0; c < nf; c++) {
            if (c)
                pg_put(&b, ",", 1);
            if (!PQgetisnull(res, r, c))
                pg_csv_field(&b, PQgetvalue(res, r, c), pg_is_number(PQftype(res, c)));
        }
        pg_put(&b, "\r\n", 2);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
