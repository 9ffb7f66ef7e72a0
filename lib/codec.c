/* Events to and from Avro single-object encoding, with schema resolution by fingerprint. */
#include "koers/codec.h"

#include <avro.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/schema.h"

#define CODEC_HEADER 10 /* C3 01 and the 8-byte fingerprint */

/* Envelope fields come before the catalogue fields in every reader record. */
enum { ENV_EVENT_ID, ENV_PARTICIPANT, ENV_OCCURRED_AT, ENV_RECORDED_AT, ENV_SOURCE, ENV_FIELDS };
static const char *const codec_envelope[ENV_FIELDS] = {"event_id", "participant", "occurred_at",
                                                       "recorded_at", "source"};

/* Whether envelope field e belongs to type's records: all of them but the participant of a
 * type about a source (koers_type_t.has_participant). */
static int codec_has_envelope(koers_event_type_t type, int e)
{
    return e != ENV_PARTICIPANT || koers_types[type].has_participant;
}

/* Whether name is one of type's envelope fields. */
static int codec_is_envelope(koers_event_type_t type, const char *name)
{
    for (int e = 0; e < ENV_FIELDS; e++)
        if (codec_has_envelope(type, e) && strcmp(name, codec_envelope[e]) == 0)
            return 1;
    return 0;
}

/* A record that decoded values land in: the reader schema itself, or (for a writer schema
 * that lacks reader fields with defaults) a variant of it without those fields, since Avro C
 * refuses to resolve a reader field the writer does not have. The defaults of the catalogue
 * fields left out are applied here instead. */
typedef struct {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    size_t env_index[ENV_FIELDS];
    int field_index[KOERS_MAX_FIELDS]; /* -1: not in this record, field_default applies */
    koers_value_t field_default[KOERS_MAX_FIELDS];
} codec_target_t;

typedef struct {
    uint64_t fp;
    koers_event_type_t type;
    avro_schema_t schema;
    avro_value_iface_t *resolver; /* NULL when this writer schema is the reader schema */
    avro_value_t resolved;
    codec_target_t *variant;      /* owned; NULL when values land in the reader's record */
} codec_writer_t;

/* The direct path (codec_plan_build): when a reader schema holds exactly the envelope and
 * catalogue fields, each of the Avro type koers writes for it, its datums are written, and
 * read when the writer is that same schema, straight from and into koers_event_t, without
 * Avro C's generic values (four-fifths of the codec's time). Anything else, or any datum the
 * direct reader does not like, takes the general path, which gives the reasons. */
enum { PLAN_ENV = 0, PLAN_FIELD = ENV_FIELDS }; /* slot: envelope index, or PLAN_FIELD + i */

typedef struct {
    int n; /* fields in schema order; 0: no direct path for this type */
    unsigned char slot[ENV_FIELDS + KOERS_MAX_FIELDS];
} codec_plan_t;

typedef struct {
    json_t *json; /* the reader schema as JSON: field defaults and variants come from it */
    uint64_t fp;
    codec_target_t t;
    codec_plan_t plan;
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

static int codec_oom(char *errstr, size_t errlen)
{
    snprintf(errstr, errlen, "out of memory");
    return -1;
}

/* The field object named name in a record schema's JSON, or NULL. */
static json_t *codec_json_field(json_t *record, const char *name)
{
    json_t *fields = json_object_get(record, "fields");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0)
            return f;
    }
    return NULL;
}

/* Turns a catalogue field's JSON default into a value: null is "absent" (for optional
 * fields), an enum default names its symbol. Returns 0, or -1 when it does not fit. */
static int codec_default_value(const koers_field_t *fd, json_t *def, koers_value_t *v)
{
    memset(v, 0, sizeof *v);
    if (json_is_null(def))
        return fd->optional ? 0 : -1;
    v->present = 1;
    switch (fd->kind) {
    case KOERS_KIND_ENUM:
        if (!json_is_string(def))
            return -1;
        v->i = koers_enum_find(fd, json_string_value(def), json_string_length(def));
        return v->i < 0 ? -1 : 0;
    case KOERS_KIND_INT:
    case KOERS_KIND_DATE:
        if (!json_is_integer(def) || json_integer_value(def) < fd->min ||
            json_integer_value(def) > fd->max)
            return -1;
        v->i = (int32_t)json_integer_value(def);
        return 0;
    case KOERS_KIND_BOOL:
        if (!json_is_boolean(def))
            return -1;
        v->i = json_is_true(def);
        return 0;
    case KOERS_KIND_STRING:
    case KOERS_KIND_UUID:
        if (!json_is_string(def) || json_string_length(def) > KOERS_STR_MAX)
            return -1;
        memcpy(v->s, json_string_value(def), json_string_length(def));
        return 0;
    }
    return -1;
}

/* Sets an Avro value from a JSON default (Avro specification, "default values"): for a
 * union, the first branch. Used for reader fields outside the catalogue when encoding.
 * Returns 0, or -1 for a default of a kind koers does not write (bytes, fixed, records,
 * arrays, maps). */
static int codec_set_json(avro_value_t *f, json_t *def)
{
    avro_value_t branch;
    switch (avro_value_get_type(f)) {
    case AVRO_NULL:
        return json_is_null(def) ? avro_value_set_null(f) : -1;
    case AVRO_BOOLEAN:
        return json_is_boolean(def) ? avro_value_set_boolean(f, json_is_true(def)) : -1;
    case AVRO_INT32:
        return json_is_integer(def) ? avro_value_set_int(f, (int32_t)json_integer_value(def)) : -1;
    case AVRO_INT64:
        return json_is_integer(def) ? avro_value_set_long(f, json_integer_value(def)) : -1;
    case AVRO_FLOAT:
        return json_is_number(def) ? avro_value_set_float(f, (float)json_number_value(def)) : -1;
    case AVRO_DOUBLE:
        return json_is_number(def) ? avro_value_set_double(f, json_number_value(def)) : -1;
    case AVRO_STRING:
        return json_is_string(def) ? avro_value_set_string_len(f, json_string_value(def),
                                                               json_string_length(def) + 1)
                                   : -1;
    case AVRO_ENUM: {
        if (!json_is_string(def))
            return -1;
        int i = avro_schema_enum_get_by_name(avro_value_get_schema(f), json_string_value(def));
        return i < 0 ? -1 : avro_value_set_enum(f, i);
    }
    case AVRO_UNION:
        if (avro_value_set_branch(f, 0, &branch) != 0)
            return -1;
        return codec_set_json(&branch, def);
    default:
        return -1;
    }
}

static void codec_target_free(codec_target_t *t)
{
    if (t->iface) {
        if (t->value.self)
            avro_value_decref(&t->value);
        avro_value_iface_decref(t->iface);
    }
    if (t->schema)
        avro_schema_decref(t->schema);
    memset(t, 0, sizeof *t);
}

/* Fills a target from schema (taking the reference): where the envelope and catalogue
 * fields are, and the defaults of catalogue fields that the record lacks (reader is the
 * JSON that has them). Returns 0, or -1 with errstr. */
static int codec_target_init(codec_target_t *t, avro_schema_t schema, koers_event_type_t type,
                             json_t *reader, char *errstr, size_t errlen)
{
    const koers_type_t *ty = &koers_types[type];
    t->schema = schema;
    for (int i = 0; i < ENV_FIELDS; i++) {
        if (!codec_has_envelope(type, i))
            continue;
        int k = avro_schema_record_field_get_index(schema, codec_envelope[i]);
        if (k < 0) {
            snprintf(errstr, errlen, "%s: no envelope field %s", ty->name, codec_envelope[i]);
            return -1;
        }
        t->env_index[i] = (size_t)k;
    }
    for (int i = 0; i < ty->nfields; i++) {
        const koers_field_t *fd = &ty->fields[i];
        t->field_index[i] = avro_schema_record_field_get_index(schema, fd->name);
        if (t->field_index[i] >= 0)
            continue;
        json_t *f = codec_json_field(reader, fd->name);
        json_t *def = f ? json_object_get(f, "default") : NULL;
        if (!def) {
            snprintf(errstr, errlen, "%s: no field %s, and no default for it", ty->name, fd->name);
            return -1;
        }
        if (codec_default_value(fd, def, &t->field_default[i]) != 0) {
            snprintf(errstr, errlen, "%s: the default of %s breaks the contract", ty->name,
                     fd->name);
            return -1;
        }
    }
    t->iface = avro_generic_class_from_schema(schema);
    if (!t->iface || avro_generic_value_new(t->iface, &t->value) != 0)
        return codec_fail(errstr, errlen, ty->name);
    return 0;
}

/* Whether schema s is the Avro type koers writes for catalogue field fd. */
static int codec_plan_fits(avro_schema_t s, const koers_field_t *fd)
{
    if (fd->optional) {
        if (!is_avro_union(s) || avro_schema_union_size(s) != 2 ||
            !is_avro_null(avro_schema_union_branch(s, 0)))
            return 0;
        s = avro_schema_union_branch(s, 1);
    }
    switch (fd->kind) {
    case KOERS_KIND_ENUM:
        if (!is_avro_enum(s) || avro_schema_enum_number_of_symbols(s) != fd->nsymbols)
            return 0;
        for (int i = 0; i < fd->nsymbols; i++) {
            const char *sym = avro_schema_enum_get(s, i);
            if (!sym || strcmp(sym, fd->symbols[i]) != 0)
                return 0;
        }
        return 1;
    case KOERS_KIND_INT:
    case KOERS_KIND_DATE:
        return is_avro_int32(s);
    case KOERS_KIND_BOOL:
        return is_avro_boolean(s);
    case KOERS_KIND_STRING:
    case KOERS_KIND_UUID:
        return is_avro_string(s);
    }
    return 0;
}

/* Fills plan for a type's reader schema, or leaves it empty (n = 0) when the schema has a
 * field outside the envelope and catalogue or a type the direct path does not write. */
static void codec_plan_build(codec_plan_t *plan, avro_schema_t schema, koers_event_type_t type)
{
    const koers_type_t *t = &koers_types[type];
    size_t n = avro_schema_record_size(schema);
    memset(plan, 0, sizeof *plan);
    if (n != (size_t)(ENV_FIELDS - !t->has_participant + t->nfields))
        return;
    for (size_t k = 0; k < n; k++) {
        const char *name = avro_schema_record_field_name(schema, (int)k);
        avro_schema_t fs = avro_schema_record_field_get_by_index(schema, (int)k);
        int slot = -1;
        for (int e = 0; e < ENV_FIELDS; e++)
            if (codec_has_envelope(type, e) && strcmp(name, codec_envelope[e]) == 0)
                slot = PLAN_ENV + e;
        if (slot >= 0) {
            int is_time = slot == ENV_OCCURRED_AT || slot == ENV_RECORDED_AT;
            if (is_time ? !is_avro_int64(fs) : !is_avro_string(fs))
                return;
        } else {
            int i = koers_field_find(t, name, strlen(name));
            if (i < 0 || !codec_plan_fits(fs, &t->fields[i]))
                return;
            slot = PLAN_FIELD + i;
        }
        plan->slot[k] = (unsigned char)slot;
    }
    plan->n = (int)n;
}

/* Writes the zigzag varint of x at *p, within end. Returns 0, or -1 when it does not fit. */
static int codec_put_long(unsigned char **p, const unsigned char *end, int64_t x)
{
    uint64_t z = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
    unsigned char *q = *p;
    do {
        if (q >= end)
            return -1;
        unsigned char b = z & 0x7f;
        z >>= 7;
        *q++ = z ? (unsigned char)(b | 0x80) : b;
    } while (z);
    *p = q;
    return 0;
}

static int codec_put_string(unsigned char **p, const unsigned char *end, const char *s)
{
    size_t len = strlen(s);
    if (codec_put_long(p, end, (int64_t)len) != 0 || (size_t)(end - *p) < len)
        return -1;
    memcpy(*p, s, len);
    *p += len;
    return 0;
}

/* The datum of ev by plan, at p within end. Returns the end of what was written, or NULL
 * when it does not fit. */
static unsigned char *codec_plan_write(const codec_plan_t *plan, const koers_event_t *ev,
                                       unsigned char *p, const unsigned char *end)
{
    const koers_type_t *t = &koers_types[ev->type];
    for (int k = 0; k < plan->n; k++) {
        int slot = plan->slot[k], rc;
        if (slot < PLAN_FIELD) {
            switch (slot) {
            case ENV_EVENT_ID: rc = codec_put_string(&p, end, ev->event_id); break;
            case ENV_PARTICIPANT: rc = codec_put_string(&p, end, ev->participant); break;
            case ENV_OCCURRED_AT: rc = codec_put_long(&p, end, ev->occurred_at); break;
            case ENV_RECORDED_AT: rc = codec_put_long(&p, end, ev->recorded_at); break;
            default: rc = codec_put_string(&p, end, ev->source); break;
            }
            if (rc != 0)
                return NULL;
            continue;
        }
        const koers_field_t *fd = &t->fields[slot - PLAN_FIELD];
        const koers_value_t *v = &ev->v[slot - PLAN_FIELD];
        if (fd->optional && codec_put_long(&p, end, v->present ? 1 : 0) != 0)
            return NULL;
        if (fd->optional && !v->present)
            continue;
        switch (fd->kind) {
        case KOERS_KIND_ENUM:
        case KOERS_KIND_INT:
        case KOERS_KIND_DATE:
            rc = codec_put_long(&p, end, v->i);
            break;
        case KOERS_KIND_BOOL:
            rc = p < end ? 0 : -1;
            if (rc == 0)
                *p++ = v->i != 0;
            break;
        default:
            rc = codec_put_string(&p, end, v->s);
        }
        if (rc != 0)
            return NULL;
    }
    return p;
}

/* Reads a zigzag varint; returns 0, or -1 when truncated or longer than 10 bytes. */
static int codec_get_long(const unsigned char **p, const unsigned char *end, int64_t *out)
{
    uint64_t z = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        unsigned char b = *(*p)++;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            return 0;
        }
    }
    return -1;
}

/* Copies a string into dst (capacity cap with its NUL); -1 when it does not fit or holds a
 * NUL byte. */
static int codec_get_text(const unsigned char **p, const unsigned char *end, char *dst,
                          size_t cap)
{
    int64_t n;
    if (codec_get_long(p, end, &n) != 0 || n < 0 || n > end - *p || (uint64_t)n >= cap ||
        memchr(*p, '\0', (size_t)n))
        return -1;
    memcpy(dst, *p, (size_t)n);
    dst[n] = '\0';
    *p += n;
    return 0;
}

/* Reads a datum written with the reader schema itself by plan into ev (which the caller
 * has zeroed). Returns 0, or -1 for anything unexpected: the general path then says why. */
static int codec_plan_read(const codec_plan_t *plan, koers_event_type_t type, const unsigned char *p,
                           const unsigned char *end, koers_event_t *ev)
{
    const koers_type_t *t = &koers_types[type];
    for (int k = 0; k < plan->n; k++) {
        int slot = plan->slot[k], rc;
        if (slot < PLAN_FIELD) {
            switch (slot) {
            case ENV_EVENT_ID: rc = codec_get_text(&p, end, ev->event_id, sizeof ev->event_id); break;
            case ENV_PARTICIPANT:
                rc = codec_get_text(&p, end, ev->participant, sizeof ev->participant);
                break;
            case ENV_OCCURRED_AT: rc = codec_get_long(&p, end, &ev->occurred_at); break;
            case ENV_RECORDED_AT: rc = codec_get_long(&p, end, &ev->recorded_at); break;
            default: rc = codec_get_text(&p, end, ev->source, sizeof ev->source); break;
            }
            if (rc != 0)
                return -1;
            continue;
        }
        const koers_field_t *fd = &t->fields[slot - PLAN_FIELD];
        koers_value_t *v = &ev->v[slot - PLAN_FIELD];
        int64_t x;
        v->present = 1;
        if (fd->optional) {
            if (codec_get_long(&p, end, &x) != 0 || (x != 0 && x != 1))
                return -1;
            if (x == 0) {
                v->present = 0;
                continue;
            }
        }
        switch (fd->kind) {
        case KOERS_KIND_ENUM:
            if (codec_get_long(&p, end, &x) != 0 || x < 0 || x >= fd->nsymbols)
                return -1;
            v->i = (int32_t)x;
            break;
        case KOERS_KIND_INT:
        case KOERS_KIND_DATE:
            if (codec_get_long(&p, end, &x) != 0 || x < INT32_MIN || x > INT32_MAX)
                return -1;
            v->i = (int32_t)x;
            break;
        case KOERS_KIND_BOOL:
            if (p >= end || *p > 1)
                return -1;
            v->i = *p++;
            break;
        default:
            if (codec_get_text(&p, end, v->s, sizeof v->s) != 0)
                return -1;
        }
    }
    return p == end ? 0 : -1;
}

static int codec_init_reader(codec_reader_t *r, koers_event_type_t t, const char *json,
                             char *errstr, size_t errlen)
{
    const char *name = koers_types[t].name;
    json_error_t jerr;
    r->json = json_loads(json, 0, &jerr);
    if (!json_is_object(r->json)) {
        snprintf(errstr, errlen, "%s: reader schema is not a JSON object", name);
        return -1;
    }
    avro_schema_t schema;
    if (avro_schema_from_json_length(json, strlen(json), &schema) != 0)
        return codec_fail(errstr, errlen, name);
    const char *sname = avro_schema_name(schema);
    if (!is_avro_record(schema) || !sname || strcmp(sname, name) != 0) {
        snprintf(errstr, errlen, "%s: reader schema is not a record named %s", name, name);
        avro_schema_decref(schema);
        return -1;
    }
    if (koers_schema_fingerprint(json, &r->fp, errstr, errlen) != 0) {
        avro_schema_decref(schema);
        return -1;
    }
    /* Every catalogue field must be in the reader itself; only the writer may lack some. */
    if (codec_target_init(&r->t, schema, t, NULL, errstr, errlen) != 0)
        return -1;
    /* Fields outside the catalogue are written with their defaults, so they need one. */
    size_t nf = avro_schema_record_size(schema);
    for (size_t i = 0; i < nf; i++) {
        const char *fname = avro_schema_record_field_name(schema, (int)i);
        json_t *f = codec_json_field(r->json, fname);
        int known = koers_field_find(&koers_types[t], fname, strlen(fname)) >= 0 ||
                    codec_is_envelope(t, fname);
        if (!known && (!f || !json_object_get(f, "default"))) {
            snprintf(errstr, errlen, "%s: field %s is not in the catalogue and has no default",
                     name, fname);
            return -1;
        }
    }
    codec_plan_build(&r->plan, schema, t);
    return 0;
}

koers_codec_t *koers_codec_new_from(const char *const reader_json[KOERS_EVENT_TYPES],
                                    char *errstr, size_t errlen)
{
    koers_codec_t *c = calloc(1, sizeof *c);
    if (!c) {
        codec_oom(errstr, errlen);
        return NULL;
    }
    c->in = avro_reader_memory("", 0);
    c->out = avro_writer_memory("", 0);
    if (!c->in || !c->out) {
        codec_oom(errstr, errlen);
        koers_codec_free(c);
        return NULL;
    }
    for (int t = 0; t < KOERS_EVENT_TYPES; t++)
        if (codec_init_reader(&c->readers[t], (koers_event_type_t)t, reader_json[t], errstr,
                              errlen) ||
            koers_codec_add_writer(c, reader_json[t], errstr, errlen)) {
            koers_codec_free(c);
            return NULL;
        }
    return c;
}

koers_codec_t *koers_codec_new(char *errstr, size_t errlen)
{
    const char *json[KOERS_EVENT_TYPES];
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        const koers_schema_file_t *f = koers_schema_files;
        while (f->name && strcmp(f->name, koers_types[t].name) != 0)
            f++;
        if (!f->name) {
            snprintf(errstr, errlen, "no schema for event type %s", koers_types[t].name);
            return NULL;
        }
        json[t] = f->json;
    }
    koers_codec_t *c = koers_codec_new_from(json, errstr, errlen);
    /* Messages written before a schema changed stay readable without any option. */
    for (const koers_schema_file_t *h = koers_schema_history_files; c && h->name; h++) {
        char why[256];
        if (koers_codec_add_writer(c, h->json, why, sizeof why) != 0) {
            snprintf(errstr, errlen, "schemas/history/%s.avsc: %s", h->name, why);
            koers_codec_free(c);
            c = NULL;
        }
    }
    return c;
}

static void codec_writer_free(codec_writer_t *w)
{
    if (w->resolver) {
        avro_value_decref(&w->resolved);
        avro_value_iface_decref(w->resolver);
    }
    if (w->variant) {
        codec_target_free(w->variant);
        free(w->variant);
    }
    if (w->schema)
        avro_schema_decref(w->schema);
}

void koers_codec_free(koers_codec_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nwriters; i++)
        codec_writer_free(&c->writers[i]);
    free(c->writers);
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        codec_target_free(&c->readers[t].t);
        if (c->readers[t].json)
            json_decref(c->readers[t].json);
    }
    if (c->in)
        avro_reader_free(c->in);
    if (c->out)
        avro_writer_free(c->out);
    free(c);
}

/* For a writer schema that lacks some of the reader's fields, builds the reader variant
 * without them when each has a default; *out stays NULL when the writer lacks none. */
static int codec_make_variant(codec_reader_t *r, koers_event_type_t t, avro_schema_t writer,
                              codec_target_t **out, char *errstr, size_t errlen)
{
    *out = NULL;
    json_t *fields = json_object_get(r->json, "fields");
    size_t i;
    json_t *f;
    int missing = 0;
    json_array_foreach(fields, i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (!n || avro_schema_record_field_get_index(writer, n) >= 0)
            continue;
        if (codec_is_envelope(t, n)) {
            snprintf(errstr, errlen, "writer schema of %s lacks envelope field %s",
                     koers_types[t].name, n);
            return -1;
        }
        if (!json_object_get(f, "default")) {
            snprintf(errstr, errlen,
                     "writer schema of %s lacks field %s, which has no default in the reader",
                     koers_types[t].name, n);
            return -1;
        }
        missing++;
    }
    if (!missing)
        return 0;
    json_t *copy = json_deep_copy(r->json);
    json_t *kept = json_array();
    char *text = NULL;
    avro_schema_t schema = NULL;
    codec_target_t *v = calloc(1, sizeof *v);
    int rc = -1;
    if (!copy || !kept || !v) {
        codec_oom(errstr, errlen);
        goto out;
    }
    json_array_foreach(json_object_get(copy, "fields"), i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && avro_schema_record_field_get_index(writer, n) >= 0 &&
            json_array_append(kept, f) != 0) {
            codec_oom(errstr, errlen);
            goto out;
        }
    }
    if (json_object_set(copy, "fields", kept) != 0 || !(text = json_dumps(copy, JSON_COMPACT))) {
        codec_oom(errstr, errlen);
        goto out;
    }
    if (avro_schema_from_json_length(text, strlen(text), &schema) != 0) {
        codec_fail(errstr, errlen, "reader schema without the writer's missing fields");
        goto out;
    }
    rc = codec_target_init(v, schema, t, r->json, errstr, errlen);
    schema = NULL; /* the target holds it now, even when init failed */
    if (rc == 0) {
        *out = v;
        v = NULL;
    }
out:
    if (v) {
        codec_target_free(v);
        free(v);
    }
    if (schema)
        avro_schema_decref(schema);
    free(text);
    json_decref(kept);
    json_decref(copy);
    return rc;
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
        if (!w)
            return codec_oom(errstr, errlen);
        c->writers = w;
        c->capwriters = cap;
    }
    codec_writer_t w = {.fp = fp};
    if (avro_schema_from_json_length(json, strlen(json), &w.schema) != 0)
        return codec_fail(errstr, errlen, "writer schema");
    const char *name = avro_schema_name(w.schema);
    int t = is_avro_record(w.schema) && name ? koers_type_find(name, strlen(name)) : -1;
    if (t < 0) {
        snprintf(errstr, errlen, "writer schema %s is not an event type of the catalogue",
                 name ? name : "(unnamed)");
        avro_schema_decref(w.schema);
        return -1;
    }
    w.type = (koers_event_type_t)t;
    codec_reader_t *r = &c->readers[t];
    if (fp != r->fp) {
        if (codec_make_variant(r, w.type, w.schema, &w.variant, errstr, errlen) != 0) {
            codec_writer_free(&w);
            return -1;
        }
        codec_target_t *dest = w.variant ? w.variant : &r->t;
        w.resolver = avro_resolved_writer_new(w.schema, dest->schema);
        if (!w.resolver) {
            codec_fail(errstr, errlen, "writer schema cannot be read as the current one");
            codec_writer_free(&w);
            return -1;
        }
        if (avro_resolved_writer_new_value(w.resolver, &w.resolved) != 0) {
            codec_fail(errstr, errlen, "resolved value");
            avro_value_iface_decref(w.resolver);
            w.resolver = NULL;
            codec_writer_free(&w);
            return -1;
        }
        avro_resolved_writer_set_dest(&w.resolved, &dest->value);
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
    case KOERS_KIND_DATE:
        return avro_value_set_int(&f, v->i);
    case KOERS_KIND_BOOL:
        return avro_value_set_boolean(&f, v->i);
    case KOERS_KIND_STRING:
    case KOERS_KIND_UUID:
        return avro_value_set_string_len(&f, v->s, strlen(v->s) + 1);
    }
    return -1;
}

/* Reader fields outside the envelope and the catalogue (a newer schema's additions) are
 * written with their defaults. */
static int codec_set_defaults(codec_reader_t *r, koers_event_type_t t, char *errstr,
                              size_t errlen)
{
    size_t nf = avro_schema_record_size(r->t.schema);
    for (size_t i = 0; i < nf; i++) {
        const char *fname = avro_schema_record_field_name(r->t.schema, (int)i);
        if (koers_field_find(&koers_types[t], fname, strlen(fname)) >= 0)
            continue;
        if (codec_is_envelope(t, fname))
            continue;
        json_t *f = codec_json_field(r->json, fname);
        avro_value_t v;
        if (avro_value_get_by_index(&r->t.value, i, &v, NULL) != 0 || !f ||
            codec_set_json(&v, json_object_get(f, "default")) != 0) {
            snprintf(errstr, errlen, "%s: cannot write the default of field %s",
                     koers_types[t].name, fname);
            return -1;
        }
    }
    return 0;
}

int koers_codec_encode(koers_codec_t *c, const koers_event_t *ev, void *buf, size_t cap,
                       size_t *len, char *errstr, size_t errlen)
{
    codec_reader_t *r = &c->readers[ev->type];
    const koers_type_t *t = &koers_types[ev->type];
    if (r->plan.n && cap >= CODEC_HEADER) {
        unsigned char *p = buf;
        p[0] = 0xC3;
        p[1] = 0x01;
        for (int i = 0; i < 8; i++)
            p[2 + i] = (unsigned char)(r->fp >> (8 * i));
        unsigned char *e = codec_plan_write(&r->plan, ev, p + CODEC_HEADER, p + cap);
        if (e) {
            *len = (size_t)(e - p);
            return 0;
        }
        snprintf(errstr, errlen, "buffer of %zu bytes too small", cap);
        return -1;
    }
    avro_value_t *rec = &r->t.value;
    avro_value_reset(rec);
    if (codec_set_string(rec, r->t.env_index[ENV_EVENT_ID], ev->event_id) ||
        (t->has_participant &&
         codec_set_string(rec, r->t.env_index[ENV_PARTICIPANT], ev->participant)) ||
        codec_set_long(rec, r->t.env_index[ENV_OCCURRED_AT], ev->occurred_at) ||
        codec_set_long(rec, r->t.env_index[ENV_RECORDED_AT], ev->recorded_at) ||
        codec_set_string(rec, r->t.env_index[ENV_SOURCE], ev->source))
        return codec_fail(errstr, errlen, "encode envelope");
    for (int i = 0; i < t->nfields; i++)
        if (codec_set_field(rec, (size_t)r->t.field_index[i], &t->fields[i], &ev->v[i]))
            return codec_fail(errstr, errlen, t->fields[i].name);
    if (codec_set_defaults(r, ev->type, errstr, errlen) != 0)
        return -1;
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
    if (avro_value_write(c->out, rec) != 0)
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

static int codec_get_envelope(codec_target_t *tg, koers_event_t *ev, char *errstr, size_t errlen)
{
    avro_value_t f;
    char *dst[ENV_FIELDS] = {ev->event_id, ev->participant, NULL, NULL, ev->source};
    size_t cap[ENV_FIELDS] = {sizeof ev->event_id, sizeof ev->participant, 0, 0,
                              sizeof ev->source};
    for (int i = 0; i < ENV_FIELDS; i++) {
        if (!codec_has_envelope(ev->type, i))
            continue;
        if (avro_value_get_by_index(&tg->value, tg->env_index[i], &f, NULL) != 0)
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

static int codec_get_field(codec_target_t *tg, int i, const koers_field_t *fd, koers_value_t *v,
                           char *errstr, size_t errlen)
{
    avro_value_t f, branch;
    int disc;
    if (tg->field_index[i] < 0) { /* not in the writer schema: the reader's default */
        *v = tg->field_default[i];
        return 0;
    }
    if (avro_value_get_by_index(&tg->value, (size_t)tg->field_index[i], &f, NULL) != 0)
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
    case KOERS_KIND_DATE:
        ok = avro_value_get_int(&f, &v->i);
        break;
    case KOERS_KIND_BOOL: {
        int b = 0;
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
    const codec_plan_t *plan = &c->readers[w->type].plan;
    if (plan->n && !w->resolver && !w->variant) {
        memset(ev, 0, sizeof *ev);
        ev->type = w->type;
        if (codec_plan_read(plan, w->type, p + CODEC_HEADER, p + len, ev) == 0)
            return koers_event_validate(ev, errstr, errlen);
    }
    codec_walk_t walk = {p + CODEC_HEADER, len - CODEC_HEADER, 0, errstr, errlen};
    if (codec_walk(&walk, w->schema, 0) != 0)
        return -1;
    if (walk.pos != walk.len) {
        snprintf(errstr, errlen, "%zu byte(s) left over after the datum", walk.len - walk.pos);
        return -1;
    }
    codec_target_t *tg = w->variant ? w->variant : &c->readers[w->type].t;
    avro_value_reset(&tg->value);
    avro_reader_memory_set_source(c->in, (const char *)p + CODEC_HEADER,
                                  (int64_t)(len - CODEC_HEADER));
    avro_value_t *dest = w->resolver ? &w->resolved : &tg->value;
    /* Avro C prepends each new error to the last one: start from a clean message. */
    avro_set_error("%s", "");
    if (avro_value_read(c->in, dest) != 0)
        return codec_fail(errstr, errlen, "datum does not match its writer schema");
    memset(ev, 0, sizeof *ev);
    ev->type = w->type;
    if (codec_get_envelope(tg, ev, errstr, errlen))
        return -1;
    const koers_type_t *t = &koers_types[w->type];
    for (int i = 0; i < t->nfields; i++)
        if (codec_get_field(tg, i, &t->fields[i], &ev->v[i], errstr, errlen))
            return -1;
    return koers_event_validate(ev, errstr, errlen);
}
