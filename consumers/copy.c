/* An event as a binary COPY row of its table (koers.<type>) and of the batch's staging table. */
#include <stdio.h>
#include <string.h>

#include "consume.h"

/* The event table's columns, in the order consume_copy_event writes them. */
void consume_copy_columns(koers_event_type_t t, char *out, size_t outlen)
{
    snprintf(out, outlen, "event_id%s, occurred_at, recorded_at, source",
             koers_types[t].has_participant ? ", participant" : "");
    for (int i = 0; i < koers_types[t].nfields; i++) {
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, ", %s", koers_types[t].fields[i].name);
    }
}

/* The codec has validated the event, so the UUIDs are canonical and every string fits its
 * field: the space reserved up front is enough. */
int consume_copy_event(koers_pg_copy_t *raw, koers_pg_copy_t *stage, const koers_event_t *ev,
                       int ord)
{
    const koers_type_t *t = &koers_types[ev->type];
    size_t most = 2 + 5 * 4 + 16 + 8 + 8 + KOERS_PARTICIPANT_LEN + sizeof ev->source +
                  (size_t)t->nfields * (4 + KOERS_STR_MAX + 64);
    if (koers_pg_copy_reserve(raw, most) != 0 || koers_pg_copy_reserve(stage, most + 8) != 0)
        return -1;
    unsigned char *start = raw->data + raw->len;
    int ncols = 4 + t->has_participant + t->nfields;
    unsigned char *p = koers_pg_copy_put16(start, ncols);
    p = koers_pg_copy_uuid(p, ev->event_id);
    if (t->has_participant)
        p = koers_pg_copy_text(p, ev->participant);
    p = koers_pg_copy_timestamptz(p, ev->occurred_at);
    p = koers_pg_copy_timestamptz(p, ev->recorded_at);
    p = koers_pg_copy_text(p, ev->source);
    for (int i = 0; i < t->nfields; i++) {
        const koers_field_t *f = &t->fields[i];
        const koers_value_t *v = &ev->v[i];
        if (!v->present)
            p = koers_pg_copy_field(p, NULL, -1);
        else if (f->kind == KOERS_KIND_ENUM)
            p = koers_pg_copy_text(p, f->symbols[v->i]);
        else if (f->kind == KOERS_KIND_BOOL)
            p = koers_pg_copy_bool(p, v->i != 0);
        else if (f->kind == KOERS_KIND_INT)
            p = koers_pg_copy_int4(p, (int32_t)v->i);
        else if (f->kind == KOERS_KIND_DATE)
            p = koers_pg_copy_date(p, (int32_t)v->i);
        else if (f->kind == KOERS_KIND_UUID)
            p = koers_pg_copy_uuid(p, v->s);
        else
            p = koers_pg_copy_text(p, v->s);
    }
    size_t len = (size_t)(p - start);
    raw->len += len;
    /* The staging row: the same fields, then batch_ord (the message's place in the batch). */
    unsigned char *q = stage->data + stage->len;
    memcpy(q, start, len);
    koers_pg_copy_put16(q, ncols + 1);
    q = koers_pg_copy_int4(q + len, ord);
    stage->len = (size_t)(q - stage->data);
    return 0;
}
