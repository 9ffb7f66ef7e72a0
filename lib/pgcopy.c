/* Rows for PostgreSQL's binary COPY, built in memory, and sending them (the consumer's path
 * into the event tables). Values go in their binary send form, so nothing is parsed or
 * escaped on either side. */
#include <stdlib.h>
#include <string.h>

#include "koers/pg.h"

int koers_pg_copy_reserve(koers_pg_copy_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

void koers_pg_copy_free(koers_pg_copy_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

unsigned char *koers_pg_copy_put16(unsigned char *p, int v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    return p + 2;
}

unsigned char *koers_pg_copy_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

unsigned char *koers_pg_copy_put64(unsigned char *p, uint64_t v)
{
    koers_pg_copy_put32(p, (uint32_t)(v >> 32));
    return koers_pg_copy_put32(p + 4, (uint32_t)v);
}

unsigned char *koers_pg_copy_field(unsigned char *p, const void *data, int32_t len)
{
    p = koers_pg_copy_put32(p, (uint32_t)len);
    if (len > 0)
        memcpy(p, data, (size_t)len);
    return p + (len > 0 ? len : 0);
}

unsigned char *koers_pg_copy_int4(unsigned char *p, int32_t v)
{
    p = koers_pg_copy_put32(p, 4);
    return koers_pg_copy_put32(p, (uint32_t)v);
}

unsigned char *koers_pg_copy_bool(unsigned char *p, int v)
{
    p = koers_pg_copy_put32(p, 1);
    *p = v != 0;
    return p + 1;
}

unsigned char *koers_pg_copy_text(unsigned char *p, const char *s)
{
    return koers_pg_copy_field(p, s, (int32_t)strlen(s));
}

unsigned char *koers_pg_copy_timestamptz(unsigned char *p, int64_t ms)
{
    p = koers_pg_copy_put32(p, 8);
    return koers_pg_copy_put64(p, (uint64_t)((ms - KOERS_PG_EPOCH_MS) * 1000));
}

unsigned char *koers_pg_copy_date(unsigned char *p, int32_t days)
{
    return koers_pg_copy_int4(p, days - KOERS_PG_EPOCH_DAYS);
}

static int pgcopy_hex(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

unsigned char *koers_pg_copy_uuid(unsigned char *p, const char *text)
{
    p = koers_pg_copy_put32(p, 16);
    for (int i = 0, k = 0; i < 16; i++, k += 2) {
        if (text[k] == '-')
            k++;
        p[i] = (unsigned char)(pgcopy_hex(text[k]) << 4 | pgcopy_hex(text[k + 1]));
    }
    return p + 16;
}

int koers_pg_copy_send(PGconn *conn, const char *sql, const koers_pg_copy_t *b,
                       koers_pg_error_t *err)
{
    static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    static const char trailer[2] = {'\377', '\377'};
    PGresult *res = koers_pg_exec(conn, sql, 0, NULL, PGRES_COPY_IN, err);
    if (!res)
        return -1;
    PQclear(res);
    int ok = PQputCopyData(conn, header, sizeof header) == 1 &&
             PQputCopyData(conn, (const char *)b->data, (int)b->len) == 1 &&
             PQputCopyData(conn, trailer, sizeof trailer) == 1;
    int failed = 0;
    if (PQputCopyEnd(conn, ok ? NULL : "sending rows failed") != 1)
        ok = 0;
    while ((res = PQgetResult(conn))) {
        if (!failed && PQresultStatus(res) != PGRES_COMMAND_OK) {
            koers_pg_error(err, res, conn);
            failed = 1;
        }
        PQclear(res);
    }
    if (!ok && !failed)
        koers_pg_error(err, NULL, conn);
    return ok && !failed ? 0 : -1;
}
