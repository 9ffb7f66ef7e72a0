/* Avro Parsing Canonical Form and CRC-64-AVRO fingerprints, for the single-object encoding. */
#include "koers/schema.h"
#include "koers/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CRC-64-AVRO (Rabin) table for the polynomial of EMPTY: entry i is i shifted right eight
 * times, XOR-ing in EMPTY whenever a one falls off. Written out so that no code fills
 * global state at run time; tests/unit/test_schema.c recomputes it from that rule. */
#define SCHEMA_CRC64_EMPTY UINT64_C(0xc15d213aa4d7a795)
static const uint64_t schema_crc64_table[256] = {
    UINT64_C(0x0000000000000000), UINT64_C(0x2cf1cba6b75351fa), UINT64_C(0x59e3974d6ea6a3f4),
    UINT64_C(0x75125cebd9f5f20e), UINT64_C(0xb3c72e9add4d47e8), UINT64_C(0x9f36e53c6a1e1612),
    UINT64_C(0xea24b9d7b3ebe41c), UINT64_C(0xc6d5727104b8b5e6), UINT64_C(0xe5341f40f335c0fb),
    UINT64_C(0xc9c5d4e644669101), UINT64_C(0xbcd7880d9d93630f), UINT64_C(0x902643ab2ac032f5),
    UINT64_C(0x56f331da2e788713), UINT64_C(0x7a02fa7c992bd6e9), UINT64_C(0x0f10a69740de24e7),
    UINT64_C(0x23e16d31f78d751d), UINT64_C(0x48d27cf4afc4cedd), UINT64_C(0x6423b75218979f27),
    UINT64_C(0x1131ebb9c1626d29), UINT64_C(0x3dc0201f76313cd3), UINT64_C(0xfb15526e72898935),
    UINT64_C(0xd7e499c8c5dad8cf), UINT64_C(0xa2f6c5231c2f2ac1), UINT64_C(0x8e070e85ab7c7b3b),
    UINT64_C(0xade663b45cf10e26), UINT64_C(0x8117a812eba25fdc), UINT64_C(0xf405f4f93257add2),
    UINT64_C(0xd8f43f5f8504fc28), UINT64_C(0x1e214d2e81bc49ce), UINT64_C(0x32d0868836ef1834),
    UINT64_C(0x47c2da63ef1aea3a), UINT64_C(0x6b3311c55849bbc0), UINT64_C(0x91a4f9e95f899dba),
    UINT64_C(0xbd55324fe8dacc40), UINT64_C(0xc8476ea4312f3e4e), UINT64_C(0xe4b6a502867c6fb4),
    UINT64_C(0x2263d77382c4da52), UINT64_C(0x0e921cd535978ba8), UINT64_C(0x7b80403eec6279a6),
    UINT64_C(0x57718b985b31285c), UINT64_C(0x7490e6a9acbc5d41), UINT64_C(0x58612d0f1bef0cbb),
    UINT64_C(0x2d7371e4c21afeb5), UINT64_C(0x0182ba427549af4f), UINT64_C(0xc757c83371f11aa9),
    UINT64_C(0xeba60395c6a24b53), UINT64_C(0x9eb45f7e1f57b95d), UINT64_C(0xb24594d8a804e8a7),
    UINT64_C(0xd976851df04d5367), UINT64_C(0xf5874ebb471e029d), UINT64_C(0x809512509eebf093),
    UINT64_C(0xac64d9f629b8a169), UINT64_C(0x6ab1ab872d00148f), UINT64_C(0x464060219a534575),
    UINT64_C(0x33523cca43a6b77b), UINT64_C(0x1fa3f76cf4f5e681), UINT64_C(0x3c429a5d0378939c),
    UINT64_C(0x10b351fbb42bc266), UINT64_C(0x65a10d106dde3068), UINT64_C(0x4950c6b6da8d6192),
    UINT64_C(0x8f85b4c7de35d474), UINT64_C(0xa3747f616966858e), UINT64_C(0xd666238ab0937780),
    UINT64_C(0xfa97e82c07c0267a), UINT64_C(0xa1f3b1a7f6bc745f), UINT64_C(0x8d027a0141ef25a5),
    UINT64_C(0xf81026ea981ad7ab), UINT64_C(0xd4e1ed4c2f498651), UINT64_C(0x12349f3d2bf133b7),
    UINT64_C(0x3ec5549b9ca2624d), UINT64_C(0x4bd7087045579043), UINT64_C(0x6726c3d6f204c1b9),
    UINT64_C(0x44c7aee70589b4a4), UINT64_C(0x68366541b2dae55e), UINT64_C(0x1d2439aa6b2f1750),
    UINT64_C(0x31d5f20cdc7c46aa), UINT64_C(0xf700807dd8c4f34c), UINT64_C(0xdbf14bdb6f97a2b6),
    UINT64_C(0xaee31730b66250b8), UINT64_C(0x8212dc9601310142), UINT64_C(0xe921cd535978ba82),
    UINT64_C(0xc5d006f5ee2beb78), UINT64_C(0xb0c25a1e37de1976), UINT64_C(0x9c3391b8808d488c),
    UINT64_C(0x5ae6e3c98435fd6a), UINT64_C(0x7617286f3366ac90), UINT64_C(0x03057484ea935e9e),
    UINT64_C(0x2ff4bf225dc00f64), UINT64_C(0x0c15d213aa4d7a79), UINT64_C(0x20e419b51d1e2b83),
    UINT64_C(0x55f6455ec4ebd98d), UINT64_C(0x79078ef873b88877), UINT64_C(0xbfd2fc8977003d91),
    UINT64_C(0x9323372fc0536c6b), UINT64_C(0xe6316bc419a69e65), UINT64_C(0xcac0a062aef5cf9f),
    UINT64_C(0x3057484ea935e9e5), UINT64_C(0x1ca683e81e66b81f), UINT64_C(0x69b4df03c7934a11),
    UINT64_C(0x454514a570c01beb), UINT64_C(0x839066d47478ae0d), UINT64_C(0xaf61ad72c32bfff7),
    UINT64_C(0xda73f1991ade0df9), UINT64_C(0xf6823a3fad8d5c03), UINT64_C(0xd563570e5a00291e),
    UINT64_C(0xf9929ca8ed5378e4), UINT64_C(0x8c80c04334a68aea), UINT64_C(0xa0710be583f5db10),
    UINT64_C(0x66a47994874d6ef6), UINT64_C(0x4a55b232301e3f0c), UINT64_C(0x3f47eed9e9ebcd02),
    UINT64_C(0x13b6257f5eb89cf8), UINT64_C(0x788534ba06f12738), UINT64_C(0x5474ff1cb1a276c2),
    UINT64_C(0x2166a3f7685784cc), UINT64_C(0x0d976851df04d536), UINT64_C(0xcb421a20dbbc60d0),
    UINT64_C(0xe7b3d1866cef312a), UINT64_C(0x92a18d6db51ac324), UINT64_C(0xbe5046cb024992de),
    UINT64_C(0x9db12bfaf5c4e7c3), UINT64_C(0xb140e05c4297b639), UINT64_C(0xc452bcb79b624437),
    UINT64_C(0xe8a377112c3115cd), UINT64_C(0x2e7605602889a02b), UINT64_C(0x0287cec69fdaf1d1),
    UINT64_C(0x7795922d462f03df), UINT64_C(0x5b64598bf17c5225), UINT64_C(0xc15d213aa4d7a795),
    UINT64_C(0xedacea9c1384f66f), UINT64_C(0x98beb677ca710461), UINT64_C(0xb44f7dd17d22559b),
    UINT64_C(0x729a0fa0799ae07d), UINT64_C(0x5e6bc406cec9b187), UINT64_C(0x2b7998ed173c4389),
    UINT64_C(0x0788534ba06f1273), UINT64_C(0x24693e7a57e2676e), UINT64_C(0x0898f5dce0b13694),
    UINT64_C(0x7d8aa9373944c49a), UINT64_C(0x517b62918e179560), UINT64_C(0x97ae10e08aaf2086),
    UINT64_C(0xbb5fdb463dfc717c), UINT64_C(0xce4d87ade4098372), UINT64_C(0xe2bc4c0b535ad288),
    UINT64_C(0x898f5dce0b136948), UINT64_C(0xa57e9668bc4038b2), UINT64_C(0xd06cca8365b5cabc),
    UINT64_C(0xfc9d0125d2e69b46), UINT64_C(0x3a487354d65e2ea0), UINT64_C(0x16b9b8f2610d7f5a),
    UINT64_C(0x63abe419b8f88d54), UINT64_C(0x4f5a2fbf0fabdcae), UINT64_C(0x6cbb428ef826a9b3),
    UINT64_C(0x404a89284f75f849), UINT64_C(0x3558d5c396800a47), UINT64_C(0x19a91e6521d35bbd),
    UINT64_C(0xdf7c6c14256bee5b), UINT64_C(0xf38da7b29238bfa1), UINT64_C(0x869ffb594bcd4daf),
    UINT64_C(0xaa6e30fffc9e1c55), UINT64_C(0x50f9d8d3fb5e3a2f), UINT64_C(0x7c0813754c0d6bd5),
    UINT64_C(0x091a4f9e95f899db), UINT64_C(0x25eb843822abc821), UINT64_C(0xe33ef64926137dc7),
    UINT64_C(0xcfcf3def91402c3d), UINT64_C(0xbadd610448b5de33), UINT64_C(0x962caaa2ffe68fc9),
    UINT64_C(0xb5cdc793086bfad4), UINT64_C(0x993c0c35bf38ab2e), UINT64_C(0xec2e50de66cd5920),
    UINT64_C(0xc0df9b78d19e08da), UINT64_C(0x060ae909d526bd3c), UINT64_C(0x2afb22af6275ecc6),
    UINT64_C(0x5fe97e44bb801ec8), UINT64_C(0x7318b5e20cd34f32), UINT64_C(0x182ba427549af4f2),
    UINT64_C(0x34da6f81e3c9a508), UINT64_C(0x41c8336a3a3c5706), UINT64_C(0x6d39f8cc8d6f06fc),
    UINT64_C(0xabec8abd89d7b31a), UINT64_C(0x871d411b3e84e2e0), UINT64_C(0xf20f1df0e77110ee),
    UINT64_C(0xdefed65650224114), UINT64_C(0xfd1fbb67a7af3409), UINT64_C(0xd1ee70c110fc65f3),
    UINT64_C(0xa4fc2c2ac90997fd), UINT64_C(0x880de78c7e5ac607), UINT64_C(0x4ed895fd7ae273e1),
    UINT64_C(0x62295e5bcdb1221b), UINT64_C(0x173b02b01444d015), UINT64_C(0x3bcac916a31781ef),
    UINT64_C(0x60ae909d526bd3ca), UINT64_C(0x4c5f5b3be5388230), UINT64_C(0x394d07d03ccd703e),
    UINT64_C(0x15bccc768b9e21c4), UINT64_C(0xd369be078f269422), UINT64_C(0xff9875a13875c5d8),
    UINT64_C(0x8a8a294ae18037d6), UINT64_C(0xa67be2ec56d3662c), UINT64_C(0x859a8fdda15e1331),
    UINT64_C(0xa96b447b160d42cb), UINT64_C(0xdc791890cff8b0c5), UINT64_C(0xf088d33678abe13f),
    UINT64_C(0x365da1477c1354d9), UINT64_C(0x1aac6ae1cb400523), UINT64_C(0x6fbe360a12b5f72d),
    UINT64_C(0x434ffdaca5e6a6d7), UINT64_C(0x287cec69fdaf1d17), UINT64_C(0x048d27cf4afc4ced),
    UINT64_C(0x719f7b249309bee3), UINT64_C(0x5d6eb082245aef19), UINT64_C(0x9bbbc2f320e25aff),
    UINT64_C(0xb74a095597b10b05), UINT64_C(0xc25855be4e44f90b), UINT64_C(0xeea99e18f917a8f1),
    UINT64_C(0xcd48f3290e9addec), UINT64_C(0xe1b9388fb9c98c16), UINT64_C(0x94ab6464603c7e18),
    UINT64_C(0xb85aafc2d76f2fe2), UINT64_C(0x7e8fddb3d3d79a04), UINT64_C(0x527e16156484cbfe),
    UINT64_C(0x276c4afebd7139f0), UINT64_C(0x0b9d81580a22680a), UINT64_C(0xf10a69740de24e70),
    UINT64_C(0xddfba2d2bab11f8a), UINT64_C(0xa8e9fe396344ed84), UINT64_C(0x8418359fd417bc7e),
    UINT64_C(0x42cd47eed0af0998), UINT64_C(0x6e3c8c4867fc5862), UINT64_C(0x1b2ed0a3be09aa6c),
    UINT64_C(0x37df1b05095afb96), UINT64_C(0x143e7634fed78e8b), UINT64_C(0x38cfbd924984df71),
    UINT64_C(0x4ddde17990712d7f), UINT64_C(0x612c2adf27227c85), UINT64_C(0xa7f958ae239ac963),
    UINT64_C(0x8b08930894c99899), UINT64_C(0xfe1acfe34d3c6a97), UINT64_C(0xd2eb0445fa6f3b6d),
    UINT64_C(0xb9d81580a22680ad), UINT64_C(0x9529de261575d157), UINT64_C(0xe03b82cdcc802359),
    UINT64_C(0xccca496b7bd372a3), UINT64_C(0x0a1f3b1a7f6bc745), UINT64_C(0x26eef0bcc83896bf),
    UINT64_C(0x53fcac5711cd64b1), UINT64_C(0x7f0d67f1a69e354b), UINT64_C(0x5cec0ac051134056),
    UINT64_C(0x701dc166e64011ac), UINT64_C(0x050f9d8d3fb5e3a2), UINT64_C(0x29fe562b88e6b258),
    UINT64_C(0xef2b245a8c5e07be), UINT64_C(0xc3daeffc3b0d5644), UINT64_C(0xb6c8b317e2f8a44a),
    UINT64_C(0x9a3978b155abf5b0),
};

uint64_t koers_schema_crc64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t fp = SCHEMA_CRC64_EMPTY;
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ schema_crc64_table[(fp ^ p[i]) & 0xff];
    return fp;
}

static const char *const schema_primitives[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string", NULL
};

/* The canonical text grows here; oom is sticky so that emitters need not check each append. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} schema_out_t;

/* Fullnames of the named types defined so far, in definition order: the canonical form
 * writes a named type out once and by its fullname after that. */
typedef struct {
    schema_out_t out;
    char **names;
    size_t nnames, capnames;
    char *errstr;
    size_t errlen;
    int failed;
} schema_ctx_t;

static void schema_append_bytes(schema_out_t *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (o->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(o->s, cap);
        if (!p) {
            o->oom = 1;
            return;
        }
        o->s = p;
        o->cap = cap;
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = '\0';
}

static void schema_append_str(schema_out_t *o, const char *s)
{
    schema_append_bytes(o, s, strlen(s));
}

/* Only names that passed schema_check_name and primitive names are quoted here, and those
 * need no escaping: that is also how [STRINGS] comes out, as UTF-8 without escapes. */
static void schema_append_quoted(schema_out_t *o, const char *s)
{
    schema_append_bytes(o, "\"", 1);
    schema_append_str(o, s);
    schema_append_bytes(o, "\"", 1);
}

static int schema_set_error(schema_ctx_t *c, const char *fmt, ...) KOERS_PRINTF(2, 3);

static int schema_set_error(schema_ctx_t *c, const char *fmt, ...)
{
    /* The first error is the one worth reporting; later ones are consequences. */
    if (!c->failed) {
        va_list ap;
        va_start(ap, fmt);
        if (c->errstr && c->errlen)
            vsnprintf(c->errstr, c->errlen, fmt, ap);
        va_end(ap);
        c->failed = 1;
    }
    return -1;
}

static int schema_is_primitive(const char *s)
{
    for (int i = 0; schema_primitives[i]; i++)
        if (strcmp(s, schema_primitives[i]) == 0)
            return 1;
    return 0;
}

/* An Avro name is [A-Za-z_][A-Za-z0-9_]*; n bytes of s. */
static int schema_check_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
        int digit = ch >= '0' && ch <= '9';
        if (!alpha && !(digit && i > 0))
            return 0;
    }
    return 1;
}

/* A namespace is dot-separated names, or empty (the null namespace). */
static int schema_check_namespace(const char *s, size_t n)
{
    size_t start = 0;
    if (n == 0)
        return 1;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!schema_check_name(s + start, i - start))
                return 0;
            start = i + 1;
        }
    }
    return 1;
}

/* Joins namespace and short name; returns a malloc'd string or NULL when out of memory. */
static char *schema_join_name(const char *ns, size_t nslen, const char *name, size_t namelen)
{
    char *full = malloc(nslen + 1 + namelen + 1);
    if (!full)
        return NULL;
    size_t k = 0;
    if (nslen) {
        memcpy(full, ns, nslen);
        full[nslen] = '.';
        k = nslen + 1;
    }
    memcpy(full + k, name, namelen);
    full[k + namelen] = '\0';
    return full;
}

static int schema_find_name(const schema_ctx_t *c, const char *full)
{
    for (size_t i = 0; i < c->nnames; i++)
        if (strcmp(c->names[i], full) == 0)
            return 1;
    return 0;
}

/* Takes ownership of full, also on failure. */
static int schema_add_name(schema_ctx_t *c, char *full)
{
    if (schema_find_name(c, full)) {
        schema_set_error(c, "duplicate definition of %s", full);
        free(full);
        return -1;
    }
    if (c->nnames == c->capnames) {
        size_t cap = c->capnames ? c->capnames * 2 : 16;
        char **p = realloc(c->names, cap * sizeof *p);
        if (!p) {
            free(full);
            return schema_set_error(c, "out of memory");
        }
        c->names = p;
        c->capnames = cap;
    }
    c->names[c->nnames++] = full;
    return 0;
}

/* Resolves a reference to a named type. A name with a dot is a fullname; without one it
 * is looked for in the enclosing namespace and then in the null namespace, as Java's
 * parser does. Returns the registered fullname (owned by the context) or NULL. */
static const char *schema_resolve_name(schema_ctx_t *c, const char *ref, const char *ns)
{
    const char *dot = strrchr(ref, '.');
    if (dot) {
        size_t nslen = (size_t)(dot - ref);
        if (!schema_check_namespace(ref, nslen) || !schema_check_name(dot + 1, strlen(dot + 1)))
            return NULL;
        /* A leading dot means the null namespace. */
        const char *want = nslen ? ref : dot + 1;
        for (size_t i = 0; i < c->nnames; i++)
            if (strcmp(c->names[i], want) == 0)
                return c->names[i];
        return NULL;
    }
    if (*ns) {
        size_t nslen = strlen(ns), reflen = strlen(ref);
        for (size_t i = 0; i < c->nnames; i++) {
            const char *n = c->names[i];
            if (strncmp(n, ns, nslen) == 0 && n[nslen] == '.' && strcmp(n + nslen + 1, ref) == 0
                && strlen(n) == nslen + 1 + reflen)
                return n;
        }
    }
    for (size_t i = 0; i < c->nnames; i++)
        if (strcmp(c->names[i], ref) == 0)
            return c->names[i];
    return NULL;
}

static int schema_emit_node(schema_ctx_t *c, json_t *node, const char *ns);

static int schema_emit_reference(schema_ctx_t *c, const char *ref, const char *ns)
{
    if (schema_is_primitive(ref)) {
        schema_append_quoted(&c->out, ref);
        return 0;
    }
    const char *full = schema_resolve_name(c, ref, ns);
    if (!full)
        return schema_set_error(c, "unknown type %s", ref);
    schema_append_quoted(&c->out, full);
    return 0;
}

/* Defines the named type described by obj: validates its name, works out its fullname
 * from name, namespace and the enclosing namespace ns, and registers it. Returns the
 * fullname (owned by the context) or NULL. */
static const char *schema_define_name(schema_ctx_t *c, json_t *obj, const char *type, const char *ns)
{
    json_t *jname = json_object_get(obj, "name");
    json_t *jns = json_object_get(obj, "namespace");
    if (!json_is_string(jname)) {
        schema_set_error(c, "%s without a name", type);
        return NULL;
    }
    const char *name = json_string_value(jname);
    const char *dot = strrchr(name, '.');
    const char *space, *simple;
    size_t spacelen;
    if (dot) {
        space = name;
        spacelen = (size_t)(dot - name);
        simple = dot + 1;
    } else if (jns && !json_is_null(jns)) {
        if (!json_is_string(jns)) {
            schema_set_error(c, "%s %s: namespace must be a string", type, name);
            return NULL;
        }
        space = json_string_value(jns);
        spacelen = strlen(space);
        simple = name;
    } else {
        space = ns;
        spacelen = strlen(ns);
        simple = name;
    }
    if (!schema_check_name(simple, strlen(simple)) || !schema_check_namespace(space, spacelen)) {
        schema_set_error(c, "invalid name \"%s\"", dot || !jns || json_is_null(jns) ? name : space);
        return NULL;
    }
    if (schema_is_primitive(simple) && spacelen == 0) {
        schema_set_error(c, "%s may not be named after the primitive type %s", type, simple);
        return NULL;
    }
    char *full = schema_join_name(space, spacelen, simple, strlen(simple));
    if (!full) {
        schema_set_error(c, "out of memory");
        return NULL;
    }
    if (schema_add_name(c, full) < 0)
        return NULL;
    return c->names[c->nnames - 1];
}

/* The namespace that a named type's fullname gives to the types nested in it. Returns a
 * malloc'd string ("" for the null namespace) or NULL when out of memory. */
static char *schema_copy_namespace(const char *full)
{
    const char *dot = strrchr(full, '.');
    size_t n = dot ? (size_t)(dot - full) : 0;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, full, n);
        s[n] = '\0';
    }
    return s;
}

static int schema_emit_record(schema_ctx_t *c, json_t *obj, const char *type, const char *ns)
{
    const char *full = schema_define_name(c, obj, type, ns);
    if (!full)
        return -1;
    json_t *fields = json_object_get(obj, "fields");
    if (!json_is_array(fields))
        return schema_set_error(c, "record %s: fields must be an array", full);
    char *inner = schema_copy_namespace(full);
    if (!inner)
        return schema_set_error(c, "out of memory");
    /* Java's canonical form writes "record" for an error type too: one Schema.Type serves both. */
    schema_append_str(&c->out, "{\"name\":");
    schema_append_quoted(&c->out, full);
    schema_append_str(&c->out, ",\"type\":\"record\",\"fields\":[");
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(fields, i, f) {
        json_t *fname = json_object_get(f, "name");
        json_t *ftype = json_object_get(f, "type");
        if (!json_is_object(f) || !json_is_string(fname)) {
            rc = schema_set_error(c, "record %s: field %zu has no name", full, i);
            break;
        }
        const char *fn = json_string_value(fname);
        if (!schema_check_name(fn, strlen(fn))) {
            rc = schema_set_error(c, "record %s: invalid field name \"%s\"", full, fn);
            break;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(json_string_value(json_object_get(json_array_get(fields, j), "name")), fn) == 0) {
                rc = schema_set_error(c, "record %s: duplicate field %s", full, fn);
                break;
            }
        }
        if (rc < 0)
            break;
        if (!ftype) {
            rc = schema_set_error(c, "record %s: field %s has no type", full, fn);
            break;
        }
        schema_append_str(&c->out, i ? ",{\"name\":" : "{\"name\":");
        schema_append_quoted(&c->out, fn);
        schema_append_str(&c->out, ",\"type\":");
        if (schema_emit_node(c, ftype, inner) < 0) {
            rc = -1;
            break;
        }
        schema_append_bytes(&c->out, "}", 1);
    }
    free(inner);
    if (rc < 0)
        return -1;
    schema_append_str(&c->out, "]}");
    return 0;
}

static int schema_emit_enum(schema_ctx_t *c, json_t *obj, const char *ns)
{
    const char *full = schema_define_name(c, obj, "enum", ns);
    if (!full)
        return -1;
    json_t *symbols = json_object_get(obj, "symbols");
    if (!json_is_array(symbols))
        return schema_set_error(c, "enum %s: symbols must be an array", full);
    schema_append_str(&c->out, "{\"name\":");
    schema_append_quoted(&c->out, full);
    schema_append_str(&c->out, ",\"type\":\"enum\",\"symbols\":[");
    size_t i;
    json_t *sym;
    json_array_foreach(symbols, i, sym) {
        const char *s = json_string_value(sym);
        if (!s || !schema_check_name(s, strlen(s)))
            return schema_set_error(c, "enum %s: invalid symbol at index %zu", full, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(symbols, j)), s) == 0)
                return schema_set_error(c, "enum %s: duplicate symbol %s", full, s);
        if (i)
            schema_append_bytes(&c->out, ",", 1);
        schema_append_quoted(&c->out, s);
    }
    schema_append_str(&c->out, "]}");
    return 0;
}

/* [INTEGERS]: the size may come as a JSON integer or as a quoted decimal, and is written
 * without quotes or leading zeros. */
static int schema_emit_fixed(schema_ctx_t *c, json_t *obj, const char *ns)
{
    const char *full = schema_define_name(c, obj, "fixed", ns);
    if (!full)
        return -1;
    json_t *size = json_object_get(obj, "size");
    long long n = -1;
    if (json_is_integer(size)) {
        n = json_integer_value(size);
    } else if (json_is_string(size)) {
        const char *s = json_string_value(size);
        n = *s ? 0 : -1;
        for (; *s && n >= 0; s++)
            n = (*s >= '0' && *s <= '9' && n <= 214748364) ? n * 10 + (*s - '0') : -1;
    }
    if (n < 0 || n > 2147483647)
        return schema_set_error(c, "fixed %s: size must be a non-negative integer", full);
    char num[32];
    snprintf(num, sizeof num, "%lld", n);
    schema_append_str(&c->out, "{\"name\":");
    schema_append_quoted(&c->out, full);
    schema_append_str(&c->out, ",\"type\":\"fixed\",\"size\":");
    schema_append_str(&c->out, num);
    schema_append_bytes(&c->out, "}", 1);
    return 0;
}

/* The key under which a union branch counts as a duplicate: its canonical text names a
 * primitive or named type in quotes, or starts {"name":"..."; an array or a map keeps its
 * {"type":" prefix in the key so that it cannot meet a named type called "array" or "map". */
static void schema_find_branch_key(const char *s, const char **key, size_t *len)
{
    static const char named[] = "{\"name\":\"", typed[] = "{\"type\":\"";
    size_t skip = 0;
    if (*s == '"')
        s += 1;
    else if (strncmp(s, named, sizeof named - 1) == 0)
        s += sizeof named - 1;
    else if (strncmp(s, typed, sizeof typed - 1) == 0)
        skip = sizeof typed - 1;
    *key = s;
    *len = skip + strcspn(s + skip, "\"");
}

static int schema_emit_union(schema_ctx_t *c, json_t *arr, const char *ns)
{
    size_t n = json_array_size(arr);
    size_t *starts = malloc((n ? n : 1) * sizeof *starts);
    if (!starts)
        return schema_set_error(c, "out of memory");
    schema_append_bytes(&c->out, "[", 1);
    size_t i;
    json_t *branch;
    int rc = 0;
    json_array_foreach(arr, i, branch) {
        if (json_is_array(branch)) {
            rc = schema_set_error(c, "a union may not contain a union directly");
            break;
        }
        if (i)
            schema_append_bytes(&c->out, ",", 1);
        starts[i] = c->out.len;
        if (schema_emit_node(c, branch, ns) < 0) {
            rc = -1;
            break;
        }
        if (c->out.oom)
            break;
        const char *k, *kj;
        size_t klen, kjlen;
        schema_find_branch_key(c->out.s + starts[i], &k, &klen);
        for (size_t j = 0; j < i; j++) {
            schema_find_branch_key(c->out.s + starts[j], &kj, &kjlen);
            if (klen == kjlen && memcmp(k, kj, klen) == 0) {
                size_t skip = *k == '{' ? strlen("{\"type\":\"") : 0;
                rc = schema_set_error(c, "duplicate type in union: %.*s", (int)(klen - skip), k + skip);
                break;
            }
        }
        if (rc < 0)
            break;
    }
    free(starts);
    if (rc < 0)
        return -1;
    schema_append_bytes(&c->out, "]", 1);
    return 0;
}

static int schema_emit_object(schema_ctx_t *c, json_t *obj, const char *ns)
{
    json_t *jtype = json_object_get(obj, "type");
    if (!jtype)
        return schema_set_error(c, "schema object without a type");
    if (!json_is_string(jtype))
        return schema_set_error(c, "type must be a string");
    const char *type = json_string_value(jtype);
    /* [PRIMITIVES] and [STRIP]: {"type":"string","logicalType":"uuid"} is just "string". */
    if (schema_is_primitive(type)) {
        schema_append_quoted(&c->out, type);
        return 0;
    }
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0)
        return schema_emit_record(c, obj, type, ns);
    if (strcmp(type, "enum") == 0)
        return schema_emit_enum(c, obj, ns);
    if (strcmp(type, "fixed") == 0)
        return schema_emit_fixed(c, obj, ns);
    if (strcmp(type, "array") == 0) {
        json_t *items = json_object_get(obj, "items");
        if (!items)
            return schema_set_error(c, "array without items");
        schema_append_str(&c->out, "{\"type\":\"array\",\"items\":");
        if (schema_emit_node(c, items, ns) < 0)
            return -1;
        schema_append_bytes(&c->out, "}", 1);
        return 0;
    }
    if (strcmp(type, "map") == 0) {
        json_t *values = json_object_get(obj, "values");
        if (!values)
            return schema_set_error(c, "map without values");
        schema_append_str(&c->out, "{\"type\":\"map\",\"values\":");
        if (schema_emit_node(c, values, ns) < 0)
            return -1;
        schema_append_bytes(&c->out, "}", 1);
        return 0;
    }
    /* {"type":"SomeRecord"} refers to a named type defined earlier, as Java allows. */
    return schema_emit_reference(c, type, ns);
}

static int schema_emit_node(schema_ctx_t *c, json_t *node, const char *ns)
{
    if (c->out.oom)
        return schema_set_error(c, "out of memory");
    if (json_is_string(node))
        return schema_emit_reference(c, json_string_value(node), ns);
    if (json_is_array(node))
        return schema_emit_union(c, node, ns);
    if (json_is_object(node))
        return schema_emit_object(c, node, ns);
    return schema_set_error(c, "a schema must be a string, an object or an array");
}

char *koers_schema_canonical(const char *json, char *errstr, size_t errlen)
{
    schema_ctx_t c = {.errstr = errstr, .errlen = errlen};
    if (!json) {
        schema_set_error(&c, "no schema text");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        schema_set_error(&c, "invalid JSON at line %d: %s", jerr.line, jerr.text);
        return NULL;
    }
    int rc = schema_emit_node(&c, root, "");
    if (rc == 0 && c.out.oom)
        rc = schema_set_error(&c, "out of memory");
    json_decref(root);
    for (size_t i = 0; i < c.nnames; i++)
        free(c.names[i]);
    free(c.names);
    if (rc < 0) {
        free(c.out.s);
        return NULL;
    }
    return c.out.s;
}

int koers_schema_fingerprint(const char *json, uint64_t *fp, char *errstr, size_t errlen)
{
    char *canon = koers_schema_canonical(json, errstr, errlen);
    if (!canon)
        return -1;
    *fp = koers_schema_crc64(canon, strlen(canon));
    free(canon);
    return 0;
}
