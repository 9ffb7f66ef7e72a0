/* Events to and from Avro single-object encoding, with schema resolution by fingerprint. */
#include "koers/codec.h"

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/schema.h"

#define CODEC_HEADER 10 /* C3 01 and the 8-byte fingerprint */

/* Envelope fields come before the catalogue fields in every reader record. */
enum { ENV_EVENT_ID, ENV_PARTICIPANT, ENV_OCCURRED_AT, ENV_RECORDED_AT, ENV_SOURCE, ENV_FIELDS };
static const char *const codec_envelope[ENV_FIELDS] = {"event_id", "participant", "occurred_at",
                                                       "recorded_at", "source"};

typedef struct {
    uint64_t fp;
    koers_event_type_t type;
    avro_schema_t schema;
    avro_value_iface_t *resolver; /* NULL when this writer schema is the reader schema */
    avro_value_t resolved;
} codec_writer_t;

typedef struct {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    uint64_t fp;
    size_t env_index[ENV_FIELDS];
    size_t field_index[KOERS_MAX_FIELDS];
} codec_reader_t;

struct koers_codec {
    codec_reader_t readers[KOERS_EVENT_TYPES];
    codec_writer_t *writers;
    size_t nwriters, capwriters;
    avro_reader_t in;
    avro_writer_t out;
};

static int codec_fail(char *errstr, size_t errlen, const char *what)
{
    snprintf(errstr, errlen, "%s: %s", what, avro_strerror());
    return -1;
}

static int codec_index_field(avro_schema_t schema, const char *name, size_t *index, char *errstr,
                             size_t errlen)
{
    int i = avro_schema_record_field_get_index(schema, name);
    if (i < 0) {
        snprintf(errstr, errlen, "schema %s has no field %s", avro_schema_name(schema), name);
        return -1;
    }
    *index = (size_t)i;
    return 0;
}

static int codec_init_reader(codec_reader_t *r, koers_event_type_t t, const char *json,
                             char *errstr, size_t errlen)
{
    if (avro_schema_from_json_length(json, strlen(json), &r->schema) != 0)
        return codec_fail(errstr, errlen, koers_types[t].name);
    if (koers_schema_fingerprint(json, &r->fp, errstr, errlen) != 0)
        return -1;
    for (int i = 0; i < ENV_FIELDS; i++)
        if (codec_index_field(r->schema, codec_envelope[i], &r->env_index[i], errstr, errlen))
            return -1;
    for (int i = 0; i < koers_types[t].nfields; i++)
        if (codec_index_field(r->schema, koers_types[t].fields[i].name, &r->field_index[i],
                              errstr, errlen))
            return -1;
    r->iface = avro_generic_class_from_schema(r->schema);
    if (!r->iface || avro_generic_value_new(r->iface, &r->value) != 0)
        return codec_fail(errstr, errlen, koers_types[t].name);
    return 0;
}

koers_codec_t *koers_codec_new(char *errstr, size_t errlen)
{
    koers_codec_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    c->in = avro_reader_memory("", 0);
    c->out = avro_writer_memory("", 0);
    if (!c->in || !c->out) {
        snprintf(errstr, errlen, "out of memory");
        koers_codec_free(c);
        return NULL;
    }
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        const koers_schema_file_t *f = koers_schema_files;
        while (f->name && strcmp(f->name, koers_types[t].name) != 0)
            f++;
        if (!f->name) {
            snprintf(errstr, errlen, "no schema for event type %s", koers_types[t].name);
            koers_codec_free(c);
            return NULL;
        }
        if (codec_init_reader(&c->readers[t], (koers_event_type_t)t, f->json, errstr, errlen) ||
            koers_codec_add_writer(c, f->json, errstr, errlen)) {
            koers_codec_free(c);
            return NULL;
        }
    }
    return c;
}

void koers_codec_free(koers_codec_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nwriters; i++) {
        codec_writer_t *w = &c->writers[i];
        if (w->resolver) {
            avro_value_decref(&w->resolved);
            avro_value_iface_decref(w->resolver);
        }
        avro_schema_decref(w->schema);
    }
    free(c->writers);
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        codec_reader_t *r = &c->readers[t];
        if (r->iface) {
            if (r->value.self)
                avro_value_decref(&r->value);
            avro_value_iface_decref(r->iface);
        }
        if (r->schema)
            avro_schema_decref(r->schema);
    }
    if (c->in)
        avro_reader_free(c->in);
    if (c->out)
        avro_writer_free(c->out);
    free(c);
}

int koers_codec_add_writer(koers_codec_t *c, const char *json, char *errstr, size_t errlen)
{
    uint64_t fp;
    if (koers_schema_fingerprint(json, &fp, errstr, errlen) != 0)
        return -1;
    for (size_t i = 0; i < c->nwriters; i++)
        if (c->writers[i].fp == fp)
            return 0;
    if (c->nwriters == c->capwriters) {
        size_t cap = c->capwriters ? c->capwriters * 2 : 8;
        codec_writer_t *w = realloc(c->writers, cap * sizeof *w);
        if (!w) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
        c->writers = w;
        c->capwriters = cap;
    }
    codec_writer_t w = {.fp = fp};
    if (avro_schema_from_json_length(json, strlen(json), &w.schema) != 0)
        return codec_fail(errstr, errlen, "writer schema");
    const char *name = avro_schema_name(w.schema);
    int t = name ? koers_type_find(name, strlen(name)) : -1;
    if (t < 0) {
        snprintf(errstr, errlen, "writer schema %s is not an event type of the catalogue",
                 name ? name : "(unnamed)");
        avro_schema_decref(w.schema);
        return -1;
    }
    w.type = (koers_event_type_t)t;
    codec_reader_t *r = &c->readers[t];
    if (fp != r->fp) {
        w.resolver = avro_resolved_writer_new(w.schema, r->schema);
        if (!w.resolver) {
            codec_fail(errstr, errlen, "writer schema cannot be read as the current one");
            avro_schema_decref(w.schema);
            return -1;
        }
        if (avro_resolved_writer_new_value(w.resolver, &w.resolved) != 0) {
            codec_fail(errstr, errlen, "resolved value");
            avro_value_iface_decref(w.resolver);
            avro_schema_decref(w.schema);
            return -1;
        }
        avro_resolved_writer_set_dest(&w.resolved, &r->value);
    }
    c->writers[c->nwriters++] = w;
    return 0;
}

uint64_t koers_codec_fingerprint(const koers_codec_t *c, koers_event_type_t t)
{
    return c->readers[t].fp;
}

static int codec_set_string(avro_value_t *rec, size_t index, const char *s)
{
    avro_value_t f;
    if (avro_value_get_by_index(rec, index, &f, NULL) != 0)
        return -1;
    return avro_value_set_string_len(&f, s, strlen(s) + 1);
}

static int codec_set_long(avro_value_t *rec, size_t index, int64_t x)
{
    avro_value_t f;
    if (avro_value_get_by_index(rec, index, &f, NULL) != 0)
        return -1;
    return avro_value_set_long(&f, x);
}

static int codec_set_field(avro_value_t *rec, size_t index, const koers_field_t *fd,
                           const koers_value_t *v)
{
    avro_value_t f, branch;
    if (avro_value_get_by_index(rec, index, &f, NULL) != 0)
        return -1;
    if (fd->optional) {
        if (!v->present) {
            if (avro_value_set_branch(&f, 0, &branch) != 0)
                return -1;
            return avro_value_set_null(&branch);
        }
        if (avro_value_set_branch(&f, 1, &branch) != 0)
            return -1;
        f = branch;
    }
    switch (fd->kind) {
    case KOERS_KIND_ENUM:
        return avro_value_set_enum(&f, v->i);
    case KOERS_KIND_INT:
        return avro_value_set_int(&f, v->i);
    case KOERS_KIND_BOOL:
        return avro_value_set_boolean(&f, v->i);
    case KOERS_KIND_STRING:
    case KOERS_KIND_UUID:
        return avro_value_set_string_len(&f, v->s, strlen(v->s) + 1);
    }
    return -1;
}

int koers_codec_encode(koers_codec_t *c, const koers_event_t *ev, void *buf, size_t cap,
                       size_t *len, char *errstr, size_t errlen)
{
    codec_reader_t *r = &c->readers[ev->type];
    const koers_type_t *t = &koers_types[ev->type];
    avro_value_reset(&r->value);
    if (codec_set_string(&r->value, r->env_index[ENV_EVENT_ID], ev->event_id) ||
        codec_set_string(&r->value, r->env_index[ENV_PARTICIPANT], ev->participant) ||
        codec_set_long(&r->value, r->env_index[ENV_OCCURRED_AT], ev->occurred_at) ||
        codec_set_long(&r->value, r->env_index[ENV_RECORDED_AT], ev->recorded_at) ||
        codec_set_string(&r->value, r->env_index[ENV_SOURCE], ev->source))
        return codec_fail(errstr, errlen, "encode envelope");
    for (int i = 0; i < t->nfields; i++)
        if (codec_set_field(&r->value, r->field_index[i], &t->fields[i], &ev->v[i]))
            return codec_fail(errstr, errlen, t->fields[i].name);
    if (cap < CODEC_HEADER) {
        snprintf(errstr, errlen, "buffer of %zu bytes too small", cap);
        return -1;
    }
    unsigned char *p = buf;
    p[0] = 0xC3;
    p[1] = 0x01;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (unsigned char)(r->fp >> (8 * i));
    avro_writer_memory_set_dest(c->out, (const char *)p + CODEC_HEADER,
                                (int64_t)(cap - CODEC_HEADER));
    if (avro_value_write(c->out, &r->value) != 0)
        return codec_fail(errstr, errlen, "encode");
    *len = CODEC_HEADER + (size_t)avro_writer_tell(c->out);
    return 0;
}

static codec_writer_t *codec_find_writer(koers_codec_t *c, uint64_t fp)
{
    for (size_t i = 0; i < c->nwriters; i++)
        if (c->writers[i].fp == fp)
            return &c->writers[i];
    return NULL;
}

/* Copies an Avro string into dst (capacity cap including NUL), refusing embedded NULs and
 * values that do not fit: a length check before the contract's own rules. */
static int codec_get_string(avro_value_t *f, const char *name, char *dst, size_t cap,
                            char *errstr, size_t errlen)
{
    const char *s;
    size_t size;
    if (avro_value_get_string(f, &s, &size) != 0)
        return codec_fail(errstr, errlen, name);
    size_t len = size ? size - 1 : 0;
    if (len >= cap) {
        snprintf(errstr, errlen, "%s: %zu bytes, longer than %zu", name, len, cap - 1);
        return -1;
    }
    if (memchr(s, '\0', len)) {
        snprintf(errstr, errlen, "%s: contains a NUL byte", name);
        return -1;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

static int codec_get_envelope(codec_reader_t *r, koers_event_t *ev, char *errstr, size_t errlen)
{
    avro_value_t f;
    char *dst[ENV_FIELDS] = {ev->event_id, ev->participant, NULL, NULL, ev->source};
    size_t cap[ENV_FIELDS] = {sizeof ev->event_id, sizeof ev->participant, 0, 0,
                              sizeof ev->source};
    for (int i = 0; i < ENV_FIELDS; i++) {
        if (avro_value_get_by_index(&r->value, r->env_index[i], &f, NULL) != 0)
            return codec_fail(errstr, errlen, codec_envelope[i]);
        if (dst[i]) {
            if (codec_get_string(&f, codec_envelope[i], dst[i], cap[i], errstr, errlen))
                return -1;
        } else if (avro_value_get_long(&f, i == ENV_OCCURRED_AT ? &ev->occurred_at
                                                                : &ev->recorded_at) != 0) {
            return codec_fail(errstr, errlen, codec_envelope[i]);
        }
    }
    return 0;
}

static int codec_get_field(avro_value_t *rec, size_t index, const koers_field_t *fd,
                           koers_value_t *v, char *errstr, size_t errlen)
{
    avro_value_t f, branch;
    int disc;
    if (avro_value_get_by_index(rec, index, &f, NULL) != 0)
        return codec_fail(errstr, errlen, fd->name);
    v->present = 1;
    if (fd->optional) {
        if (avro_value_get_discriminant(&f, &disc) != 0)
            return codec_fail(errstr, errlen, fd->name);
        if (disc == 0) { /* branch 0 of ["null", T] */
            v->present = 0;
            return 0;
        }
        if (avro_value_get_current_branch(&f, &branch) != 0)
            return codec_fail(errstr, errlen, fd->name);
        f = branch;
    }
    int ok;
    switch (fd->kind) {
    case KOERS_KIND_ENUM:
        ok = avro_value_get_enum(&f, &v->i);
        break;
    case KOERS_KIND_INT:
        ok = avro_value_get_int(&f, &v->i);
        break;
    case KOERS_KIND_BOOL: {
        int b;
        ok = avro_value_get_boolean(&f, &b);
        v->i = b != 0;
        break;
    }
    case KOERS_KIND_STRING:
    case KOERS_KIND_UUID:
        return codec_get_string(&f, fd->name, v->s, sizeof v->s, errstr, errlen);
    default:
        ok = -1;
    }
    return ok == 0 ? 0 : codec_fail(errstr, errlen, fd->name);
}


/* A bounds-checked walk over a datum with its writer schema, before Avro C reads it: Avro C
 * 1.11 allocates a string before it knows the bytes are there (and leaks it when they are
 * not), so lengths, varints and union indexes are checked here first, with a reason that
 * names the position. */
typedef struct {
    const unsigned char *p;
    size_t len, pos;
    char *errstr;
    size_t errlen;
} codec_walk_t;

static int codec_walk_fail(codec_walk_t *w, const char *what)
{
    snprintf(w->errstr, w->errlen, "datum: %s at byte %zu of %zu", what, w->pos + 10, w->len + 10);
    return -1;
}

static int codec_walk_long(codec_walk_t *w, int64_t *out)
{
    uint64_t z = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (w->pos >= w->len)
            return codec_walk_fail(w, "truncated number");
        unsigned char b = w->p[w->pos++];
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return 0;
        }
    }
    return codec_walk_fail(w, "number longer than 10 bytes");
}

static int codec_walk_skip(codec_walk_t *w, int64_t n, const char *what)
{
    if (n < 0 || (uint64_t)n > w->len - w->pos)
        return codec_walk_fail(w, what);
    w->pos += (size_t)n;
    return 0;
}

static int codec_walk(codec_walk_t *w, avro_schema_t schema, int depth)
{
    int64_t n;
    if (depth > 32)
        return codec_walk_fail(w, "schema nested too deeply");
    switch (avro_typeof(schema)) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        if (w->pos >= w->len)
            return codec_walk_fail(w, "truncated boolean");
        if (w->p[w->pos] > 1)
            return codec_walk_fail(w, "boolean neither 0 nor 1");
        w->pos++;
        return 0;
    case AVRO_INT32:
        if (codec_walk_long(w, &n))
            return -1;
        return n < INT32_MIN || n > INT32_MAX ? codec_walk_fail(w, "int out of 32-bit range") : 0;
    case AVRO_INT64:
        return codec_walk_long(w, &n);
    case AVRO_FLOAT:
        return codec_walk_skip(w, 4, "truncated float");
    case AVRO_DOUBLE:
        return codec_walk_skip(w, 8, "truncated double");
    case AVRO_STRING:
    case AVRO_BYTES:
        if (codec_walk_long(w, &n))
            return -1;
        return codec_walk_skip(w, n, "string length beyond the message");
    case AVRO_FIXED:
        return codec_walk_skip(w, avro_schema_fixed_size(schema), "truncated fixed");
    case AVRO_ENUM:
        if (codec_walk_long(w, &n))
            return -1;
        if (n < 0 || n >= avro_schema_enum_number_of_symbols(schema))
            return codec_walk_fail(w, "enum index out of range");
        return 0;
    case AVRO_UNION:
        if (codec_walk_long(w, &n))
            return -1;
        if (n < 0 || (uint64_t)n >= avro_schema_union_size(schema))
            return codec_walk_fail(w, "union branch out of range");
        return codec_walk(w, avro_schema_union_branch(schema, (int)n), depth + 1);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(schema); i++)
            if (codec_walk(w, avro_schema_record_field_get_by_index(schema, (int)i), depth + 1))
                return -1;
        return 0;
    case AVRO_ARRAY:
    case AVRO_MAP:
        for (;;) {
            if (codec_walk_long(w, &n))
                return -1;
            if (n == 0)
                return 0;
            if (n < 0) { /* a negative count is followed by the block's size in bytes */
                int64_t size;
                if (n == INT64_MIN || codec_walk_long(w, &size))
                    return codec_walk_fail(w, "bad block");
                n = -n;
            }
            if ((uint64_t)n > w->len - w->pos)
                return codec_walk_fail(w, "block count beyond the message");
            avro_schema_t item = avro_typeof(schema) == AVRO_ARRAY
                                     ? avro_schema_array_items(schema)
                                     : avro_schema_map_values(schema);
            for (int64_t i = 0; i < n; i++) {
                int64_t key_len;
                if (avro_typeof(schema) == AVRO_MAP &&
                    (codec_walk_long(w, &key_len) ||
                     codec_walk_skip(w, key_len, "map key length beyond the message")))
                    return -1;
                if (codec_walk(w, item, depth + 1))
                    return -1;
            }
        }
    case AVRO_LINK:
        return codec_walk(w, avro_schema_link_target(schema), depth + 1);
    default:
        return codec_walk_fail(w, "unsupported schema type");
    }
}

int koers_codec_decode(koers_codec_t *c, const void *buf, size_t len, koers_event_t *ev,
                       char *errstr, size_t errlen)
{
    const unsigned char *p = buf;
    if (len < CODEC_HEADER) {
        snprintf(errstr, errlen, "message of %zu bytes is shorter than the 10-byte header", len);
        return -1;
    }
    if (p[0] != 0xC3 || p[1] != 0x01) {
        snprintf(errstr, errlen, "no single-object marker (C3 01): starts with %02X %02X", p[0],
                 p[1]);
        return -1;
    }
    uint64_t fp = 0;
    for (int i = 0; i < 8; i++)
        fp |= (uint64_t)p[2 + i] << (8 * i);
    codec_writer_t *w = codec_find_writer(c, fp);
    if (!w) {
        snprintf(errstr, errlen, "unknown writer schema fingerprint %016llx",
                 (unsigned long long)fp);
        return -1;
    }
    codec_walk_t walk = {p + CODEC_HEADER, len - CODEC_HEADER, 0, errstr, errlen};
    if (codec_walk(&walk, w->schema, 0) != 0)
        return -1;
    if (walk.pos != walk.len) {
        snprintf(errstr, errlen, "%zu byte(s) left over after the datum", walk.len - walk.pos);
        return -1;
    }
    codec_reader_t *r = &c->readers[w->type];
    avro_value_reset(&r->value);
    avro_reader_memory_set_source(c->in, (const char *)p + CODEC_HEADER,
                                  (int64_t)(len - CODEC_HEADER));
    avro_value_t *dest = w->resolver ? &w->resolved : &r->value;
    /* Avro C prepends each new error to the last one: start from a clean message. */
    avro_set_error("%s", "");
    if (avro_value_read(c->in, dest) != 0)
        return codec_fail(errstr, errlen, "datum does not match its writer schema");
    memset(ev, 0, sizeof *ev);
    ev->type = w->type;
    if (codec_get_envelope(r, ev, errstr, errlen))
        return -1;
    const koers_type_t *t = &koers_types[w->type];
    for (int i = 0; i < t->nfields; i++)
        if (codec_get_field(&r->value, r->field_index[i], &t->fields[i], &ev->v[i], errstr,
                            errlen))
            return -1;
    return koers_event_validate(ev, errstr, errlen);
}
