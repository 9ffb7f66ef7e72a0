/* Program settings from a key=value file, the environment and flags, with origins for --dump-config. */
#include "koers/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define KAFKA_PREFIX "kafka."
#define CONFIG_LINE_MAX 65536

typedef struct {
    char *value;
    char *where;
    koers_origin_t origin;
} config_value_t;

typedef struct {
    char *key; /* without "kafka." */
    config_value_t v;
} config_kafka_t;

struct koers_config {
    const char *program;
    const koers_setting_t *settings;
    size_t nsettings;
    config_value_t *values; /* one per setting */
    config_kafka_t *kafka;
    size_t nkafka, capkafka;
    char *path;
};

static char *config_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

koers_config_t *koers_config_new(const char *program, const koers_setting_t *settings,
                                 size_t nsettings)
{
    koers_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->values = calloc(nsettings ? nsettings : 1, sizeof *c->values);
    if (!c->values) {
        free(c);
        return NULL;
    }
    c->program = program;
    c->settings = settings;
    c->nsettings = nsettings;
    return c;
}

static void config_value_clear(config_value_t *v)
{
    free(v->value);
    free(v->where);
    v->value = v->where = NULL;
    v->origin = KOERS_FROM_UNSET;
}

void koers_config_free(koers_config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsettings; i++)
        config_value_clear(&c->values[i]);
    for (size_t i = 0; i < c->nkafka; i++) {
        free(c->kafka[i].key);
        config_value_clear(&c->kafka[i].v);
    }
    free(c->kafka);
    free(c->values);
    free(c->path);
    free(c);
}

static char *config_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int koers_config_parse_line(char *line, char **key, char **value, char *errstr, size_t errlen)
{
    char *s = config_trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(errstr, errlen, "expected key=value");
        return -1;
    }
    *eq = '\0';
    char *k = config_trim(s);
    if (*k == '\0') {
        snprintf(errstr, errlen, "empty key");
        return -1;
    }
    for (const char *p = k; *p; p++)
        if (isspace((unsigned char)*p)) {
            snprintf(errstr, errlen, "key '%s' contains white space", k);
            return -1;
        }
    *key = k;
    *value = config_trim(eq + 1);
    return 1;
}

static int config_find(const koers_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->nsettings; i++)
        if (strcmp(c->settings[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Replaces v when origin ranks at least as high. Returns 0, or -1 when out of memory. */
static int config_value_set(config_value_t *v, const char *value, koers_origin_t origin,
                            const char *where)
{
    if (origin < v->origin)
        return 0;
    char *nv = config_strdup(value), *nw = config_strdup(where ? where : "");
    if (!nv || !nw) {
        free(nv);
        free(nw);
        return -1;
    }
    config_value_clear(v);
    v->value = nv;
    v->where = nw;
    v->origin = origin;
    return 0;
}

static int config_set_kafka(koers_config_t *c, const char *key, const char *value,
                            koers_origin_t origin, const char *where, char *errstr, size_t errlen)
{
    if (*key == '\0') {
        snprintf(errstr, errlen, "empty Kafka property name");
        return -1;
    }
    for (size_t i = 0; i < c->nkafka; i++)
        if (strcmp(c->kafka[i].key, key) == 0) {
            if (config_value_set(&c->kafka[i].v, value, origin, where) != 0)
                goto oom;
            return 0;
        }
    if (c->nkafka == c->capkafka) {
        size_t cap = c->capkafka ? c->capkafka * 2 : 16;
        config_kafka_t *nk = realloc(c->kafka, cap * sizeof *nk);
        if (!nk)
            goto oom;
        c->kafka = nk;
        c->capkafka = cap;
    }
    config_kafka_t *k = &c->kafka[c->nkafka];
    memset(k, 0, sizeof *k);
    k->key = config_strdup(key);
    if (!k->key || config_value_set(&k->v, value, origin, where) != 0) {
        free(k->key);
        goto oom;
    }
    c->nkafka++;
    return 0;
oom:
    snprintf(errstr, errlen, "out of memory");
    return -1;
}

int koers_config_set(koers_config_t *c, const char *name, const char *value,
                     koers_origin_t origin, const char *where, char *errstr, size_t errlen)
{
    if (strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0)
        return config_set_kafka(c, name + strlen(KAFKA_PREFIX), value, origin, where, errstr,
                                errlen);
    int i = config_find(c, name);
    if (i < 0) {
        snprintf(errstr, errlen, "unknown setting '%s' (%s knows:", name, c->program);
        for (size_t j = 0; j < c->nsettings; j++) {
            size_t n = strlen(errstr);
            snprintf(errstr + n, errlen - n, " %s", c->settings[j].name);
        }
        size_t n = strlen(errstr);
        snprintf(errstr + n, errlen - n, ", and kafka.<librdkafka property>)");
        return -1;
    }
    if (config_value_set(&c->values[i], value, origin, where) != 0) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int koers_config_set_x(koers_config_t *c, const char *kv, char *errstr, size_t errlen)
{
    char *copy = config_strdup(kv), *key, *value;
    char why[256];
    if (!copy) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    int r = koers_config_parse_line(copy, &key, &value, why, sizeof why);
    if (r <= 0) {
        snprintf(errstr, errlen, "-X %s: %s", kv, r == 0 ? "expected key=value" : why);
        free(copy);
        return -1;
    }
    r = config_set_kafka(c, key, value, KOERS_FROM_FLAG, "-X", errstr, errlen);
    free(copy);
    return r;
}

int koers_config_load_file(koers_config_t *c, const char *path, char *errstr, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* Read whole, check whole, then apply: a bad line leaves the config as it was. */
    struct {
        char *key, *value;
        long line;
    } *items = NULL;
    size_t nitems = 0, cap = 0;
    char *buf = NULL;
    size_t bufcap = 0;
    ssize_t got;
    char **lines = NULL;
    size_t nlines = 0;
    int rc = -1;
    long lineno = 0;
    errno = 0;
    while ((got = getline(&buf, &bufcap, f)) >= 0) {
        lineno++;
        if (got > CONFIG_LINE_MAX) {
            snprintf(errstr, errlen, "%s:%ld: line longer than %d bytes", path, lineno,
                     CONFIG_LINE_MAX);
            goto out;
        }
        if (memchr(buf, '\0', (size_t)got) != NULL) {
            snprintf(errstr, errlen, "%s:%ld: NUL byte", path, lineno);
            goto out;
        }
        char *line = config_strdup(buf), *key, *value, why[256];
        char **nl = line ? realloc(lines, (nlines + 1) * sizeof *nl) : NULL;
        if (!nl) {
            free(line);
            snprintf(errstr, errlen, "out of memory");
            goto out;
        }
        lines = nl;
        lines[nlines++] = line;
        int r = koers_config_parse_line(line, &key, &value, why, sizeof why);
        if (r < 0) {
            snprintf(errstr, errlen, "%s:%ld: %s", path, lineno, why);
            goto out;
        }
        if (r == 0)
            continue;
        if (strncmp(key, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) != 0 && config_find(c, key) < 0) {
            koers_config_set(c, key, value, KOERS_FROM_FILE, NULL, why, sizeof why);
            snprintf(errstr, errlen, "%s:%ld: %s", path, lineno, why);
            goto out;
        }
        if (strcmp(key, KAFKA_PREFIX) == 0) {
            snprintf(errstr, errlen, "%s:%ld: empty Kafka property name after 'kafka.'", path,
                     lineno);
            goto out;
        }
        for (size_t i = 0; i < nitems; i++)
            if (strcmp(items[i].key, key) == 0) {
                snprintf(errstr, errlen, "%s:%ld: '%s' already set on line %ld", path, lineno,
                         key, items[i].line);
                goto out;
            }
        if (nitems == cap) {
            cap = cap ? cap * 2 : 16;
            void *ni = realloc(items, cap * sizeof *items);
            if (!ni) {
                snprintf(errstr, errlen, "out of memory");
                goto out;
            }
            items = ni;
        }
        items[nitems].key = key;
        items[nitems].value = value;
        items[nitems].line = lineno;
        nitems++;
    }
    if (ferror(f)) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
        goto out;
    }
    for (size_t i = 0; i < nitems; i++) {
        char where[4200];
        snprintf(where, sizeof where, "%s:%ld", path, items[i].line);
        if (koers_config_set(c, items[i].key, items[i].value, KOERS_FROM_FILE, where, errstr,
                             errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    free(items);
    free(buf);
    fclose(f);
    return rc;
}

static int config_check(const koers_config_t *c, size_t i, char *errstr, size_t errlen)
{
    const koers_setting_t *s = &c->settings[i];
    const config_value_t *v = &c->values[i];
    if (!v->value)
        return 0;
    char from[4300];
    if (v->origin == KOERS_FROM_DEFAULT)
        snprintf(from, sizeof from, "default");
    else if (v->origin == KOERS_FROM_ENV)
        snprintf(from, sizeof from, "from environment %s", v->where);
    else
        snprintf(from, sizeof from, "from %s", v->where);
    const char *shown = s->secret ? "<redacted>" : v->value;
    if (s->kind == KOERS_SETTING_INT) {
        char *end;
        errno = 0;
        long x = strtol(v->value, &end, 10);
        if (!*v->value || *end || errno || x < s->min || x > s->max) {
            snprintf(errstr, errlen, "%s: '%s' (%s) is not a whole number in %ld..%ld", s->name,
                     shown, from, s->min, s->max);
            return -1;
        }
    }
    if (s->choices) {
        for (const char *const *ch = s->choices; *ch; ch++)
            if (strcmp(*ch, v->value) == 0)
                return 0;
        size_t n = (size_t)snprintf(errstr, errlen, "%s: '%s' (%s) is not one of:", s->name,
                                    shown, from);
        for (const char *const *ch = s->choices; *ch && n < errlen; ch++)
            n += (size_t)snprintf(errstr + n, errlen - n, " %s", *ch);
        return -1;
    }
    if (s->kind == KOERS_SETTING_CONNINFO && *v->value) {
        char *why = NULL;
        PQconninfoOption *opts = PQconninfoParse(v->value, &why);
        if (!opts) {
            snprintf(errstr, errlen, "%s (%s): %s", s->name, from,
                     why ? config_trim(why) : "out of memory");
            PQfreemem(why);
            return -1;
        }
        PQconninfoFree(opts);
    }
    return 0;
}

int koers_config_resolve(koers_config_t *c, const char *path, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < c->nsettings; i++) {
        const koers_setting_t *s = &c->settings[i];
        const char *e = s->env ? getenv(s->env) : NULL;
        if (e && *e && config_value_set(&c->values[i], e, KOERS_FROM_ENV, s->env) != 0) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
    }
    if (!path) {
        const char *e = getenv("KOERS_CONFIG");
        if (e && *e)
            path = e;
    }
    if (path) {
        free(c->path);
        c->path = config_strdup(path);
        if (!c->path) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
        if (koers_config_load_file(c, path, errstr, errlen) != 0)
            return -1;
    }
    for (size_t i = 0; i < c->nsettings; i++) {
        const koers_setting_t *s = &c->settings[i];
        if (s->def && config_value_set(&c->values[i], s->def, KOERS_FROM_DEFAULT, "default")) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
        if (config_check(c, i, errstr, errlen) != 0)
            return -1;
    }
    return 0;
}

const char *koers_config_get(const koers_config_t *c, const char *name)
{
    int i = config_find(c, name);
    return i < 0 ? NULL : c->values[i].value;
}

long koers_config_get_long(const koers_config_t *c, const char *name)
{
    const char *v = koers_config_get(c, name);
    return v ? strtol(v, NULL, 10) : 0;
}

koers_origin_t koers_config_origin(const koers_config_t *c, const char *name)
{
    int i = config_find(c, name);
    return i < 0 ? KOERS_FROM_UNSET : c->values[i].origin;
}

const char *koers_config_path(const koers_config_t *c)
{
    return c->path;
}

size_t koers_config_kafka_count(const koers_config_t *c)
{
    return c->nkafka;
}

void koers_config_kafka_get(const koers_config_t *c, size_t i, const char **key,
                            const char **value, const char **where)
{
    if (key)
        *key = c->kafka[i].key;
    if (value)
        *value = c->kafka[i].v.value;
    if (where)
        *where = c->kafka[i].v.where;
}

/* Appends " keyword='value'" with libpq's quoting. Returns 0 or -1 (no memory). */
static int config_conninfo_append(char **s, size_t *len, const char *keyword, const char *value)
{
    size_t need = *len + strlen(keyword) + 2 * strlen(value) + 6;
    char *ns = realloc(*s, need);
    if (!ns)
        return -1;
    *s = ns;
    size_t n = *len;
    if (n)
        ns[n++] = ' ';
    n += (size_t)sprintf(ns + n, "%s='", keyword);
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || *p == '\\')
            ns[n++] = '\\';
        ns[n++] = *p;
    }
    ns[n++] = '\'';
    ns[n] = '\0';
    *len = n;
    return 0;
}

char *koers_config_conninfo(const koers_config_t *c, const char *name, char *errstr,
                            size_t errlen)
{
    int i = config_find(c, name);
    const config_value_t *v = i >= 0 ? &c->values[i] : NULL;
    if (!v || !v->value || !*v->value || v->origin != KOERS_FROM_FILE) {
        /* A flag's (or the default's) string is taken whole: libpq lets it win over PG*. */
        char *s = config_strdup(v && v->value ? v->value : "");
        if (!s)
            snprintf(errstr, errlen, "out of memory");
        return s;
    }
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(v->value, &why);
    if (!opts) {
        snprintf(errstr, errlen, "%s (from %s): %s", name, v->where,
                 why ? config_trim(why) : "out of memory");
        PQfreemem(why);
        return NULL;
    }
    char *s = config_strdup("");
    size_t len = 0;
    for (PQconninfoOption *o = opts; s && o->keyword; o++) {
        if (!o->val)
            continue;
        const char *e = o->envvar ? getenv(o->envvar) : NULL;
        if (e && *e)
            continue; /* the environment wins over the file */
        if (config_conninfo_append(&s, &len, o->keyword, o->val) != 0) {
            free(s);
            s = NULL;
        }
    }
    PQconninfoFree(opts);
    if (!s)
        snprintf(errstr, errlen, "out of memory");
    return s;
}

int koers_config_is_secret(const char *name)
{
    static const char *const words[] = {"password", "secret", "key.pem", "ssl_key",
                                        "oauthbearer.config", "keystore", "token", NULL};
    for (const char *const *w = words; *w; w++)
        if (strstr(name, *w))
            return 1;
    return 0;
}

static const char *config_origin_text(const config_value_t *v, char *buf, size_t len)
{
    switch (v->origin) {
    case KOERS_FROM_DEFAULT: return "default";
    case KOERS_FROM_FILE: snprintf(buf, len, "file %s", v->where); return buf;
    case KOERS_FROM_ENV: snprintf(buf, len, "environment %s", v->where); return buf;
    case KOERS_FROM_FLAG: snprintf(buf, len, "flag %s", v->where); return buf;
    default: return "not set";
    }
}

/* A connection string with the password replaced. Returns malloc'd text or NULL. */
static char *config_conninfo_redacted(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    if (!opts)
        return NULL;
    char *s = config_strdup("");
    size_t len = 0;
    for (PQconninfoOption *o = opts; s && o->keyword; o++) {
        if (!o->val)
            continue;
        const char *val = strcmp(o->keyword, "password") == 0 ? "<redacted>" : o->val;
        if (config_conninfo_append(&s, &len, o->keyword, val) != 0) {
            free(s);
            s = NULL;
        }
    }
    PQconninfoFree(opts);
    return s;
}

/* "# libpq will use: host=... dbname=..." : the connection string over libpq's defaults and
 * PG* variables, the way PQconnectdb combines them. */
static int config_dump_resolved(FILE *out, const char *conninfo)
{
    PQconninfoOption *given = PQconninfoParse(conninfo, NULL);
    PQconninfoOption *defs = PQconndefaults();
    if (!given || !defs) {
        PQconninfoFree(given);
        PQconninfoFree(defs);
        return 0;
    }
    static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user",
                                        "password", "sslmode", "sslrootcert", "sslcert",
                                        "sslkey", "application_name", NULL};
    fputs("# libpq will use:", out);
    for (const char *const *k = shown; *k; k++) {
        const char *val = NULL;
        for (PQconninfoOption *o = given; o->keyword; o++)
            if (strcmp(o->keyword, *k) == 0 && o->val)
                val = o->val;
        for (PQconninfoOption *o = defs; !val && o->keyword; o++)
            if (strcmp(o->keyword, *k) == 0 && o->val && *o->val)
                val = o->val;
        if (val)
            fprintf(out, " %s=%s", *k, strcmp(*k, "password") == 0 ? "<redacted>" : val);
    }
    fputc('\n', out);
    PQconninfoFree(given);
    PQconninfoFree(defs);
    return 0;
}

int koers_config_dump(const koers_config_t *c, FILE *out)
{
    char buf[4400];
    fprintf(out, "# %s: effective configuration (precedence: file < environment < flags;"
                 " secrets redacted)\n", c->program);
    fprintf(out, "# a connection parameter of the file gives way to its PG* variable\n");
    fprintf(out, "# configuration file: %s\n", c->path ? c->path : "none");
    for (size_t i = 0; i < c->nsettings; i++) {
        const koers_setting_t *s = &c->settings[i];
        const config_value_t *v = &c->values[i];
        fprintf(out, "# %s\n", config_origin_text(v, buf, sizeof buf));
        if (!v->value) {
            fprintf(out, "#%s=\n", s->name);
            continue;
        }
        if (s->kind == KOERS_SETTING_CONNINFO) {
            char why[256];
            char *merged = koers_config_conninfo(c, s->name, why, sizeof why);
            char *red = merged ? config_conninfo_redacted(merged) : NULL;
            fprintf(out, "%s=%s\n", s->name, red ? red : "<unparsable>");
            if (merged)
                config_dump_resolved(out, merged);
            free(red);
            free(merged);
            continue;
        }
        int secret = s->secret || koers_config_is_secret(s->name);
        fprintf(out, "%s=%s\n", s->name, secret && *v->value ? "<redacted>" : v->value);
    }
    for (size_t i = 0; i < c->nkafka; i++) {
        const config_kafka_t *k = &c->kafka[i];
        fprintf(out, "# %s\n", config_origin_text(&k->v, buf, sizeof buf));
        fprintf(out, "%s%s=%s\n", KAFKA_PREFIX, k->key,
                koers_config_is_secret(k->key) ? "<redacted>" : k->v.value);
    }
    return fflush(out) != 0 || ferror(out) ? -1 : 0;
}
