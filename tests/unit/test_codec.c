/* Codec tests: round trips for every event type, bytes checked against the Avro spec by hand. */
#include <avro.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "koers/codec.h"
#include "koers/schema.h"
#include "harness.h"

static koers_codec_t *codec;

/* A complete, valid event of type t with every field present; values differ per field. */
static void make_event(koers_event_type_t t, koers_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = t;
    snprintf(ev->event_id, sizeof ev->event_id, "0123abcd-0000-8000-8000-00000000000%d", (int)t);
    if (koers_types[t].has_participant) /* a coverage statement is about a source: none */
        memset(ev->participant, 'a' + (int)t % 6, KOERS_PARTICIPANT_LEN);
    ev->occurred_at = 1704099600000LL + t; /* 2024-01-01T09:00:00Z */
    ev->recorded_at = 1704186000123LL;
    snprintf(ev->source, sizeof ev->source, "src-%d", (int)t);
    const koers_type_t *ty = &koers_types[t];
    for (int i = 0; i < ty->nfields; i++) {
        const koers_field_t *f = &ty->fields[i];
        koers_value_t *v = &ev->v[i];
        v->present = 1;
        switch (f->kind) {
        case KOERS_KIND_ENUM: v->i = f->nsymbols - 1; break;
        case KOERS_KIND_INT: v->i = f->max; break;
        case KOERS_KIND_DATE: v->i = 19800 + i; break; /* 2024-03-18, 19, ...: in order */
        case KOERS_KIND_BOOL: v->i = 1; break;
        case KOERS_KIND_STRING: snprintf(v->s, sizeof v->s, "Ref_%d-x", i); break;
        case KOERS_KIND_UUID:
            snprintf(v->s, sizeof v->s, "fedcba98-7654-8321-8fed-cba987654321");
            break;
        }
        if (f->kind == KOERS_KIND_STRING && !f->upper)
            snprintf(v->s, sizeof v->s, "ref_%d-x", i);
    }
}

static void assert_same(const koers_event_t *a, const koers_event_t *b)
{
    CU_ASSERT_EQUAL(a->type, b->type);
    CU_ASSERT_STRING_EQUAL(a->event_id, b->event_id);
    CU_ASSERT_STRING_EQUAL(a->participant, b->participant);
    CU_ASSERT_EQUAL(a->occurred_at, b->occurred_at);
    CU_ASSERT_EQUAL(a->recorded_at, b->recorded_at);
    CU_ASSERT_STRING_EQUAL(a->source, b->source);
    for (int i = 0; i < koers_types[a->type].nfields; i++) {
        CU_ASSERT_EQUAL(a->v[i].present, b->v[i].present);
        if (!a->v[i].present)
            continue;
        koers_kind_t kind = koers_types[a->type].fields[i].kind;
        if (kind == KOERS_KIND_STRING || kind == KOERS_KIND_UUID) {
            CU_ASSERT_STRING_EQUAL(a->v[i].s, b->v[i].s);
        } else {
            CU_ASSERT_EQUAL(a->v[i].i, b->v[i].i);
        }
    }
}

static void test_round_trip_every_type(void)
{
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        koers_event_t in, out;
        make_event((koers_event_type_t)t, &in);
        char err[256];
        CU_ASSERT_EQUAL_FATAL(koers_event_validate(&in, err, sizeof err), 0);
        unsigned char buf[1024];
        size_t len = 0;
        CU_ASSERT_EQUAL_FATAL(koers_codec_encode(codec, &in, buf, sizeof buf, &len, err, sizeof err), 0);
        int rc = koers_codec_decode(codec, buf, len, &out, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "\n%s: %s\n", koers_types[t].name, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        assert_same(&in, &out);
    }
}

static void test_optional_absent(void)
{
    koers_event_t in, out;
    make_event(KOERS_GOAL_CHANGE, &in);
    in.v[4].present = 0; /* gas */
    in.v[5].present = 1;
    in.v[5].i = 3;       /* weight */
    unsigned char buf[1024];
    size_t len;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(koers_codec_encode(codec, &in, buf, sizeof buf, &len, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(koers_codec_decode(codec, buf, len, &out, err, sizeof err), 0);
    CU_ASSERT_EQUAL(out.v[4].present, 0);
    CU_ASSERT_EQUAL(out.v[5].present, 1);
    CU_ASSERT_EQUAL(out.v[5].i, 3);
}

/* An independent writer of Avro binary (zig-zag varints, length-prefixed strings), used to
 * check the codec's bytes and to make messages the codec did not write. */
static size_t put_long(unsigned char *p, int64_t x)
{
    uint64_t z = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
    size_t n = 0;
    while (z & ~0x7fULL) {
        p[n++] = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    p[n++] = (unsigned char)z;
    return n;
}

static size_t put_string(unsigned char *p, const char *s)
{
    size_t n = put_long(p, (int64_t)strlen(s));
    memcpy(p + n, s, strlen(s));
    return n + strlen(s);
}

/* The header the spec prescribes: C3 01 and the fingerprint, little-endian. */
static size_t put_header(unsigned char *p, uint64_t fp)
{
    p[0] = 0xC3;
    p[1] = 0x01;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (unsigned char)(fp >> (8 * i));
    return 10;
}

#define NO_DAYS INT32_MIN /* crisis_bytes: days absent (the null branch) */

/* crisis bytes of the current schema's layout (days and episode_ref as ["null", T]), or,
 * with v1, of schemas/history/crisis-v1.avsc (days a plain int, no episode_ref). */
static size_t crisis_bytes(unsigned char *p, uint64_t fp, int kind, int days,
                           const char *episode_ref, int v1)
{
    size_t n = put_header(p, fp);
    n += put_string(p + n, "0123abcd-0000-8000-8000-000000000002");
    char part[65];
    memset(part, 'c', 64);
    part[64] = '\0';
    n += put_string(p + n, part);
    n += put_long(p + n, 1704099600002LL);
    n += put_long(p + n, 1704186000123LL);
    n += put_string(p + n, "src-2");
    n += put_long(p + n, kind);
    if (v1) {
        n += put_long(p + n, days);
        return n;
    }
    n += put_long(p + n, days == NO_DAYS ? 0 : 1);
    if (days != NO_DAYS)
        n += put_long(p + n, days);
    n += put_long(p + n, episode_ref ? 1 : 0);
    if (episode_ref)
        n += put_string(p + n, episode_ref);
    return n;
}

static void test_bytes_match_spec(void)
{
    koers_event_t in;
    make_event(KOERS_CRISIS, &in);
    unsigned char got[1024], want[1024];
    size_t len;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(koers_codec_encode(codec, &in, got, sizeof got, &len, err, sizeof err), 0);
    uint64_t fp;
    const koers_schema_file_t *f = koers_schema_files;
    while (strcmp(f->name, "crisis") != 0)
        f++;
    CU_ASSERT_EQUAL_FATAL(koers_schema_fingerprint(f->json, &fp, err, sizeof err), 0);
    CU_ASSERT_EQUAL(fp, koers_codec_fingerprint(codec, KOERS_CRISIS));
    size_t wlen = crisis_bytes(want, fp, 5, 366, "Ref_2-x", 0);
    CU_ASSERT_EQUAL(len, wlen);
    CU_ASSERT(memcmp(got, want, wlen) == 0);
}

/* The datum of ev written by Avro C's generic values from the type's reader schema (the
 * codec's general path, and an implementation independent of its direct writer). */
static size_t avro_c_datum(const koers_event_t *ev, unsigned char *out, size_t cap)
{
    const koers_schema_file_t *f = koers_schema_files;
    while (strcmp(f->name, koers_types[ev->type].name) != 0)
        f++;
    avro_schema_t schema;
    CU_ASSERT_EQUAL_FATAL(avro_schema_from_json_length(f->json, strlen(f->json), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec, fv, branch;
    CU_ASSERT_EQUAL_FATAL(avro_generic_value_new(iface, &rec), 0);
    const char *strings[] = {ev->event_id, ev->participant, NULL, NULL, ev->source};
    const char *env[] = {"event_id", "participant", "occurred_at", "recorded_at", "source"};
    for (int i = 0; i < 5; i++) {
        if (i == 1 && !koers_types[ev->type].has_participant) {
            CU_ASSERT_NOT_EQUAL(avro_value_get_by_name(&rec, env[i], &fv, NULL), 0);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(avro_value_get_by_name(&rec, env[i], &fv, NULL), 0);
        if (strings[i])
            avro_value_set_string(&fv, strings[i]);
        else
            avro_value_set_long(&fv, i == 2 ? ev->occurred_at : ev->recorded_at);
    }
    const koers_type_t *t = &koers_types[ev->type];
    for (int i = 0; i < t->nfields; i++) {
        const koers_field_t *fd = &t->fields[i];
        CU_ASSERT_EQUAL_FATAL(avro_value_get_by_name(&rec, fd->name, &fv, NULL), 0);
        if (fd->optional) {
            avro_value_set_branch(&fv, ev->v[i].present ? 1 : 0, &branch);
            if (!ev->v[i].present) {
                avro_value_set_null(&branch);
                continue;
            }
            fv = branch;
        }
        switch (fd->kind) {
        case KOERS_KIND_ENUM: avro_value_set_enum(&fv, ev->v[i].i); break;
        case KOERS_KIND_INT:
        case KOERS_KIND_DATE: avro_value_set_int(&fv, ev->v[i].i); break;
        case KOERS_KIND_BOOL: avro_value_set_boolean(&fv, ev->v[i].i); break;
        default: avro_value_set_string(&fv, ev->v[i].s);
        }
    }
    avro_writer_t w = avro_writer_memory((char *)out, (int64_t)cap);
    CU_ASSERT_EQUAL_FATAL(avro_value_write(w, &rec), 0);
    size_t n = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return n;
}

/* The codec's direct path (no generic values) writes the bytes Avro C writes, and reads
 * them back, for every type, with optional fields present and absent. */
static void test_direct_path_matches_avro_c(void)
{
    for (int t = 0; t < KOERS_EVENT_TYPES; t++)
        for (int absent = 0; absent < 2; absent++) {
            koers_event_t in, out;
            make_event((koers_event_type_t)t, &in);
            /* Every optional field absent, but for the last of a type's need_any fields
             * (a crisis opening a stay: episode_ref without days). */
            const koers_type_t *ty = &koers_types[t];
            for (int i = 0; i < ty->nfields; i++)
                if (absent && ty->fields[i].optional && ty->need_any >> i != 1)
                    in.v[i].present = 0;
            unsigned char got[1024], want[1024];
            size_t len;
            char err[256];
            CU_ASSERT_EQUAL_FATAL(koers_codec_encode(codec, &in, got, sizeof got, &len, err,
                                                     sizeof err), 0);
            size_t n = avro_c_datum(&in, want + 10, sizeof want - 10);
            CU_ASSERT_EQUAL(len, n + 10);
            CU_ASSERT(len == n + 10 && memcmp(got + 10, want + 10, n) == 0);
            memcpy(want, got, 10); /* the same header */
            CU_ASSERT_EQUAL_FATAL(koers_codec_decode(codec, want, n + 10, &out, err, sizeof err), 0);
            assert_same(&in, &out);
        }
}

typedef struct {
    const char *name;
    int kind, days;
    size_t cut;       /* bytes removed from the end */
    int extra;        /* bytes added at the end */
    int bad_marker;
    int bad_fp;
    const char *reason; /* expected substring of the error */
} bad_case_t;

static void test_bad_messages(void)
{
    static const bad_case_t cases[] = {
        {"enum out of range", 6, 1, 0, 0, 0, 0, "enum index out of range"},
        {"negative days", 1, -1, 0, 0, 0, 0, "days: -1 outside 0..366"},
        {"days too large", 1, 367, 0, 0, 0, 0, "days: 367 outside 0..366"},
        {"truncated", 1, 3, 1, 0, 0, 0, "datum: truncated number"},
        {"trailing bytes", 1, 3, 0, 2, 0, 0, "left over after the datum"},
        {"wrong marker", 1, 3, 0, 0, 1, 0, "no single-object marker"},
        {"unknown fingerprint", 1, 3, 0, 0, 0, 1, "unknown writer schema fingerprint"},
        {"neither days nor episode_ref", 1, NO_DAYS, 0, 0, 0, 0,
         "days or episode_ref: neither is given"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case_t *c = &cases[i];
        unsigned char buf[1024];
        uint64_t fp = koers_codec_fingerprint(codec, KOERS_CRISIS);
        size_t n = crisis_bytes(buf, c->bad_fp ? fp ^ 1 : fp, c->kind, c->days, NULL, 0);
        n -= c->cut;
        for (int k = 0; k < c->extra; k++)
            buf[n++] = 0;
        if (c->bad_marker)
            buf[1] = 0x02;
        koers_event_t out;
        char err[256] = "";
        int rc = koers_codec_decode(codec, buf, n, &out, err, sizeof err);
        if (rc != -1 || !strstr(err, c->reason))
            fprintf(stderr, "\ncase %s: rc %d, error '%s'\n", c->name, rc, err);
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, c->reason));
    }
    koers_event_t out;
    char err[256];
    CU_ASSERT_EQUAL(koers_codec_decode(codec, "", 0, &out, err, sizeof err), -1);
    CU_ASSERT_EQUAL(koers_codec_decode(codec, "\xC3\x01", 2, &out, err, sizeof err), -1);
}

/* A message written with an older writer schema (no weight field) is read through schema
 * resolution into the current reader schema. */
static void test_old_writer_schema(void)
{
    static const char *old =
        "{\"type\":\"record\",\"name\":\"crisis\",\"namespace\":\"nl.koers.event\",\"fields\":["
        "{\"name\":\"event_id\",\"type\":\"string\"},{\"name\":\"participant\",\"type\":\"string\"},"
        "{\"name\":\"occurred_at\",\"type\":\"long\"},{\"name\":\"recorded_at\",\"type\":\"long\"},"
        "{\"name\":\"source\",\"type\":\"string\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"crisis_kind\",\"symbols\":["
        "\"crisis_contact\",\"crisis_admission\",\"emergency_department\",\"compulsory_care\","
        "\"respite_stay\",\"shelter_night\"]}},"
        "{\"name\":\"days\",\"type\":\"int\"},{\"name\":\"note_code\",\"type\":\"int\"}]}";
    char err[256];
    CU_ASSERT_EQUAL_FATAL(koers_codec_add_writer(codec, old, err, sizeof err), 0);
    uint64_t fp;
    CU_ASSERT_EQUAL_FATAL(koers_schema_fingerprint(old, &fp, err, sizeof err), 0);
    unsigned char buf[1024];
    size_t n = crisis_bytes(buf, fp, 1, 12, NULL, 1);
    n += put_long(buf + n, 77); /* note_code: a field the reader does not know, skipped */
    koers_event_t out;
    CU_ASSERT_EQUAL(koers_codec_decode(codec, buf, n, &out, err, sizeof err), 0);
    CU_ASSERT_EQUAL(out.type, KOERS_CRISIS);
    CU_ASSERT_EQUAL(out.v[0].i, 1);
    CU_ASSERT_EQUAL(out.v[1].i, 12);
}

/* The previous crisis schema ships in schemas/history: a codec made from the embedded
 * schemas reads its messages without being taught it (days, no episode_ref), and they are
 * not what the current schema writes (another fingerprint). */
static void test_history_crisis_v1(void)
{
    const koers_schema_file_t *h = koers_schema_history_files;
    while (h->name && strcmp(h->name, "crisis-v1") != 0)
        h++;
    CU_ASSERT_PTR_NOT_NULL_FATAL(h->name);
    char err[256] = "";
    uint64_t fp1;
    CU_ASSERT_EQUAL_FATAL(koers_schema_fingerprint(h->json, &fp1, err, sizeof err), 0);
    CU_ASSERT_NOT_EQUAL(fp1, koers_codec_fingerprint(codec, KOERS_CRISIS));
    koers_codec_t *c = koers_codec_new(err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    unsigned char buf[1024];
    size_t n = crisis_bytes(buf, fp1, 3, 21, NULL, 1);
    koers_event_t out;
    int rc = koers_codec_decode(c, buf, n, &out, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "\ndecode crisis-v1: %s\n", err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(out.type, KOERS_CRISIS);
    CU_ASSERT_EQUAL(out.v[0].i, 3);
    CU_ASSERT_EQUAL(out.v[1].present, 1);
    CU_ASSERT_EQUAL(out.v[1].i, 21);
    CU_ASSERT_EQUAL(out.v[2].present, 0);
    /* The old layout under the current fingerprint is not a valid datum. */
    n = crisis_bytes(buf, koers_codec_fingerprint(c, KOERS_CRISIS), 3, 21, NULL, 1);
    CU_ASSERT_EQUAL(koers_codec_decode(c, buf, n, &out, err, sizeof err), -1);
    koers_codec_free(c);
}

/* The two forms of a stay in the current layout: an opening record (episode_ref, no days)
 * and a closing one (both), read back as written. */
static void test_crisis_episode_forms(void)
{
    uint64_t fp = koers_codec_fingerprint(codec, KOERS_CRISIS);
    unsigned char buf[1024];
    char err[256] = "";
    koers_event_t out;
    size_t n = crisis_bytes(buf, fp, 1, NO_DAYS, "adm-2024_17", 0);
    CU_ASSERT_EQUAL_FATAL(koers_codec_decode(codec, buf, n, &out, err, sizeof err), 0);
    CU_ASSERT_EQUAL(out.v[1].present, 0);
    CU_ASSERT_EQUAL(out.v[2].present, 1);
    CU_ASSERT_STRING_EQUAL(out.v[2].s, "adm-2024_17");
    n = crisis_bytes(buf, fp, 1, 9, "adm-2024_17", 0);
    CU_ASSERT_EQUAL_FATAL(koers_codec_decode(codec, buf, n, &out, err, sizeof err), 0);
    CU_ASSERT_EQUAL(out.v[1].present, 1);
    CU_ASSERT_EQUAL(out.v[1].i, 9);
    CU_ASSERT_STRING_EQUAL(out.v[2].s, "adm-2024_17");
    /* The key-privacy rule of goal_ref holds for episode_ref too, on the consumer's side. */
    n = crisis_bytes(buf, fp, 1, NO_DAYS, "9400AB", 0);
    CU_ASSERT_EQUAL(koers_codec_decode(codec, buf, n, &out, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "episode_ref: has the shape of a postcode"));
}

/* ---------------------------------------------------------------- schema evolution */

/* Reads a whole file (tests/data/...) into a NUL-terminated buffer the caller frees. */
static char *read_data_file(const char *rel)
{
    const char *dir = getenv("KOERS_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/data", rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "\n%s: cannot open\n", path);
        return NULL;
    }
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static const char *embedded_json(const char *type)
{
    const koers_schema_file_t *f = koers_schema_files;
    while (f->name && strcmp(f->name, type) != 0)
        f++;
    return f->json;
}

/* The embedded reader schemas with goal_change replaced by text. */
static koers_codec_t *codec_with_goal_change(const char *text, char *err, size_t errlen)
{
    const char *json[KOERS_EVENT_TYPES];
    for (int t = 0; t < KOERS_EVENT_TYPES; t++)
        json[t] = t == KOERS_GOAL_CHANGE ? text : embedded_json(koers_types[t].name);
    return koers_codec_new_from(json, err, errlen);
}

/* goal_change bytes of the current schema's layout: weight 7 (weight 1), null (0) or no
 * such field (-1, version 0); then one more optional int when extra >= -2 (version 2's
 * horizon_days; -2 writes its null branch). */
static size_t goal_bytes(unsigned char *p, uint64_t fp, int gas, int weight, int extra)
{
    size_t n = put_header(p, fp);
    n += put_string(p + n, "0123abcd-0000-8000-8000-000000000003");
    char part[65];
    memset(part, 'd', 64);
    part[64] = '\0';
    n += put_string(p + n, part);
    n += put_long(p + n, 1704099600003LL);
    n += put_long(p + n, 1704186000123LL);
    n += put_string(p + n, "src-3");
    n += put_string(p + n, "Woning-1");
    n += put_long(p + n, 0); /* domain housing */
    n += put_long(p + n, 3); /* change achieved */
    n += put_long(p + n, 1); /* set_by participant_with_network */
    n += put_long(p + n, 1); /* gas: branch int */
    n += put_long(p + n, gas);
    if (weight == 1) {
        n += put_long(p + n, 1);
        n += put_long(p + n, 7);
    } else if (weight == 0) {
        n += put_long(p + n, 0);
    }
    if (extra >= 0) {
        n += put_long(p + n, 1);
        n += put_long(p + n, extra);
    } else if (extra == -2) {
        n += put_long(p + n, 0);
    }
    return n;
}

/* A newer reader (goal_change version 2, one optional field more) reads messages of the
 * current writer schema: Avro C alone refuses ("Reader field horizon_days doesn't appear
 * in writer"); the codec resolves into the reader without that field and applies the
 * default itself. And it reads its own version-2 messages. */
static void test_newer_reader_reads_older_writer(void)
{
    char err[256] = "";
    char *v2 = read_data_file("schemas/evolution/goal_change-v2.avsc");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v2);
    koers_codec_t *c2 = codec_with_goal_change(v2, err, sizeof err);
    if (!c2)
        fprintf(stderr, "\ncodec v2: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
    uint64_t fp1 = koers_codec_fingerprint(codec, KOERS_GOAL_CHANGE);
    uint64_t fp2 = koers_codec_fingerprint(c2, KOERS_GOAL_CHANGE);
    CU_ASSERT_NOT_EQUAL(fp1, fp2);

    unsigned char buf[1024];
    size_t n = goal_bytes(buf, fp1, -2, 1, -1);
    koers_event_t out;
    CU_ASSERT_EQUAL(koers_codec_decode(c2, buf, n, &out, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown writer schema fingerprint"));
    int rc = koers_codec_add_writer(c2, embedded_json("goal_change"), err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "\nadd v1 writer to v2 reader: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    rc = koers_codec_decode(c2, buf, n, &out, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "\ndecode v1 with v2 reader: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(out.v[0].s, "Woning-1");
    CU_ASSERT_EQUAL(out.v[3].i, 1);
    CU_ASSERT_EQUAL(out.v[4].present, 1);
    CU_ASSERT_EQUAL(out.v[4].i, -2);
    CU_ASSERT_EQUAL(out.v[5].i, 7);

    /* Its own messages: horizon_days given, and written with its default by the encoder. */
    n = goal_bytes(buf, fp2, 2, 0, 90);
    CU_ASSERT_EQUAL(koers_codec_decode(c2, buf, n, &out, err, sizeof err), 0);
    CU_ASSERT_EQUAL(out.v[4].i, 2);
    CU_ASSERT_EQUAL(out.v[5].present, 0);
    koers_event_t in;
    make_event(KOERS_GOAL_CHANGE, &in);
    size_t len;
    CU_ASSERT_EQUAL_FATAL(koers_codec_encode(c2, &in, buf, sizeof buf, &len, err, sizeof err), 0);
    CU_ASSERT_EQUAL(buf[len - 1], 0); /* horizon_days: the null branch, its default */
    CU_ASSERT_EQUAL(koers_codec_decode(c2, buf, len, &out, err, sizeof err), 0);
    assert_same(&in, &out);
    koers_codec_free(c2);
    free(v2);
}

/* The current reader reads version-2 messages once it knows that writer schema (what
 * koers-consume --schema-dir does); the field it does not know is skipped. */
static void test_older_reader_reads_newer_writer(void)
{
    char err[256] = "";
    char *v2 = read_data_file("schemas/evolution/goal_change-v2.avsc");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v2);
    koers_codec_t *c1 = koers_codec_new(err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
    uint64_t fp2;
    CU_ASSERT_EQUAL_FATAL(koers_schema_fingerprint(v2, &fp2, err, sizeof err), 0);
    unsigned char buf[1024];
    size_t n = goal_bytes(buf, fp2, 1, 1, 45);
    koers_event_t out;
    CU_ASSERT_EQUAL(koers_codec_decode(c1, buf, n, &out, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown writer schema fingerprint"));
    CU_ASSERT_EQUAL_FATAL(koers_codec_add_writer(c1, v2, err, sizeof err), 0);
    CU_ASSERT_EQUAL(koers_codec_decode(c1, buf, n, &out, err, sizeof err), 0);
    CU_ASSERT_EQUAL(out.v[4].i, 1);
    CU_ASSERT_EQUAL(out.v[5].i, 7);
    koers_codec_free(c1);
    free(v2);
}

/* Writer schemas that lack reader fields: an optional catalogue field takes its default
 * (null: absent); a required field, or an envelope field, makes the schema unreadable. */
static void test_writer_lacking_fields(void)
{
    char err[256] = "";
    char *v1 = strdup(embedded_json("goal_change"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(v1);
    /* Version 0: without weight. Cut the field object out of the JSON text. */
    char *w = strstr(v1, "\"name\": \"weight\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    char *open = w;
    while (*open != '{')
        open--;
    while (open[-1] != ',')
        open--;
    open--; /* the comma before the object */
    char *close = strchr(w, '}');
    memmove(open, close + 1, strlen(close + 1) + 1);
    koers_codec_t *c1 = koers_codec_new(err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
    int rc = koers_codec_add_writer(c1, v1, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "\nwriter without weight: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    uint64_t fp0;
    CU_ASSERT_EQUAL_FATAL(koers_schema_fingerprint(v1, &fp0, err, sizeof err), 0);
    unsigned char buf[1024];
    size_t n = goal_bytes(buf, fp0, -1, -1, -1);
    koers_event_t out;
    rc = koers_codec_decode(c1, buf, n, &out, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "\ndecode version 0: %s\n", err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(out.v[4].i, -1);
    CU_ASSERT_EQUAL(out.v[5].present, 0);

    static const struct {
        const char *field, *reason;
    } lacking[] = {{"\"name\": \"goal_ref\"", "lacks field goal_ref, which has no default"},
                   {"\"name\": \"source\"", "lacks envelope field source"}};
    for (size_t i = 0; i < sizeof lacking / sizeof lacking[0]; i++) {
        char *s = strdup(embedded_json("goal_change"));
        char *f = strstr(s, lacking[i].field);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        char *o = f;
        while (*o != '{')
            o--;
        char *cl = f;
        int depth = 1;
        while (depth) { /* the field object may hold a nested type object */
            cl++;
            depth += *cl == '{' ? 1 : *cl == '}' ? -1 : 0;
        }
        char *after = cl + 1;
        while (*after == ' ' || *after == '\n' || *after == ',')
            after++;
        memmove(o, after, strlen(after) + 1);
        err[0] = '\0';
        CU_ASSERT_EQUAL(koers_codec_add_writer(c1, s, err, sizeof err), -1);
        if (!strstr(err, lacking[i].reason))
            fprintf(stderr, "\nwriter without %s: '%s'\n", lacking[i].field, err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, lacking[i].reason));
        free(s);
    }
    koers_codec_free(c1);
    free(v1);
}

/* A reader schema with a field outside the catalogue and without a default is refused: the
 * codec could not write it. So is one that is not the type's record. */
static void test_reader_schema_refused(void)
{
    char err[256] = "";
    char *v2 = read_data_file("schemas/evolution/goal_change-v2.avsc");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v2);
    char *d = strstr(v2, "\"default\": null,\n      \"doc\": \"days");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    memcpy(d, "\"nodeflt\"", 9); /* same length: "default" is no longer a key */
    CU_ASSERT_PTR_NULL(codec_with_goal_change(v2, err, sizeof err));
    if (!strstr(err, "horizon_days is not"))
        fprintf(stderr, "\nreader without a default: '%s'\n", err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "horizon_days is not in the catalogue and has no default"));
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(codec_with_goal_change(embedded_json("crisis"), err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a record named goal_change"));
    free(v2);
}

static int codec_init(void)
{
    char err[256];
    codec = koers_codec_new(err, sizeof err);
    if (!codec)
        fprintf(stderr, "codec: %s\n", err);
    return codec ? 0 : -1;
}

static int codec_clean(void)
{
    koers_codec_free(codec);
    return 0;
}

static const unit_test_t codec_tests[] = {
    {"round trip of every event type", test_round_trip_every_type},
    {"optional field absent", test_optional_absent},
    {"bytes match the Avro specification", test_bytes_match_spec},
    {"direct path writes and reads what Avro C does", test_direct_path_matches_avro_c},
    {"bad messages refused with a reason", test_bad_messages},
    {"older writer schema resolved", test_old_writer_schema},
    {"previous crisis schema read by default", test_history_crisis_v1},
    {"crisis stay opened and closed by episode_ref", test_crisis_episode_forms},
    {"newer reader reads an older writer (defaults applied)", test_newer_reader_reads_older_writer},
    {"older reader reads a newer writer it was taught", test_older_reader_reads_newer_writer},
    {"writer schemas lacking reader fields", test_writer_lacking_fields},
    {"reader schemas that cannot be used", test_reader_schema_refused},
};

int main(void)
{
    const unit_suite_t suite = {"codec", codec_init, codec_clean, UNIT_TESTS(codec_tests)};
    return unit_main(&suite);
}
