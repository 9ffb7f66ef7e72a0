/* Codec tests: round trips for every event type, bytes checked against the Avro spec by hand. */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "koers/codec.h"
#include "koers/schema.h"

static koers_codec_t *codec;

/* A complete, valid event of type t with every field present; values differ per field. */
static void make_event(koers_event_type_t t, koers_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = t;
    snprintf(ev->event_id, sizeof ev->event_id, "0123abcd-0000-8000-8000-00000000000%d", (int)t);
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
        if (koers_types[a->type].fields[i].kind >= KOERS_KIND_STRING) {
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

static size_t crisis_bytes(unsigned char *p, uint64_t fp, int kind, int days)
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
    n += put_long(p + n, days);
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
    size_t wlen = crisis_bytes(want, fp, 5, 366);
    CU_ASSERT_EQUAL(len, wlen);
    CU_ASSERT(memcmp(got, want, wlen) == 0);
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
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case_t *c = &cases[i];
        unsigned char buf[1024];
        uint64_t fp = koers_codec_fingerprint(codec, KOERS_CRISIS);
        size_t n = crisis_bytes(buf, c->bad_fp ? fp ^ 1 : fp, c->kind, c->days);
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
    size_t n = crisis_bytes(buf, fp, 1, 12);
    n += put_long(buf + n, 77); /* note_code: a field the reader does not know, skipped */
    koers_event_t out;
    CU_ASSERT_EQUAL(koers_codec_decode(codec, buf, n, &out, err, sizeof err), 0);
    CU_ASSERT_EQUAL(out.type, KOERS_CRISIS);
    CU_ASSERT_EQUAL(out.v[0].i, 1);
    CU_ASSERT_EQUAL(out.v[1].i, 12);
}

int main(void)
{
    char err[256];
    codec = koers_codec_new(err, sizeof err);
    if (!codec) {
        fprintf(stderr, "codec: %s\n", err);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("codec", NULL, NULL);
    CU_add_test(s, "round trip of every event type", test_round_trip_every_type);
    CU_add_test(s, "optional field absent", test_optional_absent);
    CU_add_test(s, "bytes match the Avro specification", test_bytes_match_spec);
    CU_add_test(s, "bad messages refused with a reason", test_bad_messages);
    CU_add_test(s, "older writer schema resolved", test_old_writer_schema);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    koers_codec_free(codec);
    return failures != 0 || CU_get_error() != CUE_SUCCESS;
}
