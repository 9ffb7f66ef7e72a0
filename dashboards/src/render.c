/* Query results as JSON rows (jansson) or RFC 4180 CSV, by column type. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dash.h"
#include "koers/pg_oid.h"

static json_t *render_value(const PGresult *res, int row, int col)
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

struct json_t *dash_render_json_rows(const PGresult *res)
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
            json_t *v = render_value(res, r, c);
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
} render_buf_t;

static void render_put(render_buf_t *b, const char *s, size_t n)
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
static void render_csv_field(render_buf_t *b, const char *v, int numeric)
{
    int quote = strpbrk(v, ",\"\r\n") != NULL;
    int guard = !numeric && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@');
    if (quote)
        render_put(b, "\"", 1);
    if (guard)
        render_put(b, "'", 1);
    for (const char *s = v; *s; s++) {
        if (*s == '"')
            render_put(b, "\"\"", 2);
        else
            render_put(b, s, 1);
    }
    if (quote)
        render_put(b, "\"", 1);
}

char *dash_render_csv(const PGresult *res, int filter_col, const char *filter_val, size_t *len)
{
    render_buf_t b = {0};
    int nf = PQnfields(res);
    for (int c = 0; c < nf; c++) {
        if (c)
            render_put(&b, ",", 1);
        render_csv_field(&b, PQfname(res, c), 0);
    }
    render_put(&b, "\r\n", 2);
    for (int r = 0; r < PQntuples(res); r++) {
        if (filter_col >= 0 && filter_val &&
            (PQgetisnull(res, r, filter_col) || strcmp(PQgetvalue(res, r, filter_col), filter_val) != 0))
            continue;
        for (int c = 0; c < nf; c++) {
            if (c)
                render_put(&b, ",", 1);
            if (!PQgetisnull(res, r, c)) {
                Oid t = PQftype(res, c);
                int numeric = t == KOERS_OID_INT2 || t == KOERS_OID_INT4 || t == KOERS_OID_INT8 || t == KOERS_OID_NUMERIC ||
                              t == KOERS_OID_FLOAT4 || t == KOERS_OID_FLOAT8;
                render_csv_field(&b, PQgetvalue(res, r, c), numeric);
            }
        }
        render_put(&b, "\r\n", 2);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
