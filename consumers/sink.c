/* The PostgreSQL sink: batches of events, rejects and Kafka offsets, one transaction each. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consume.h"
#include "koers/kafka.h"
#include "koers/log.h"
#include "koers/timeutil.h"

typedef struct {
    char topic[256];
    int32_t partition;
    int64_t next_offset;
} sink_offset_t;

typedef struct {
    char topic[256];
    int32_t partition;
    int64_t offset;
    void *key, *payload;
    size_t key_len, payload_len;
    char reason[300];
} sink_reject_t;

typedef struct {
    char *data;
    size_t len, cap;
} sink_buf_t;

struct consume_sink {
    consume_sink_options_t o;
    int gave_up; /* the database kept refusing a batch: the consumer is stopping */
    PGconn *conn;
    koers_codec_t *codec;
    char topics[KOERS_EVENT_TYPES][256];
    char dead_letter_topic[256];

    koers_event_t scratch; /* the message being decoded */
    int nevents;
    int staged[KOERS_EVENT_TYPES]; /* rows of the batch in raw[] and stage[], per type */
    sink_reject_t *rejects;
    size_t nrejects, caprejects;
    int rejects_sent; /* dead letters of this batch already delivered */
    sink_offset_t *offsets;
    size_t noffsets, capoffsets;
    int64_t opened_ms; /* when the first message entered the open batch */

    /* The batch, encoded as it arrives (a few hundred bytes an event, not the decoded
     * events): COPY rows for the event tables, and the same for the staging tables. */
    sink_buf_t raw[KOERS_EVENT_TYPES];
    sink_buf_t stage[KOERS_EVENT_TYPES];
    sink_buf_t buf; /* scratch for statements' parameters */
    int slow_batches; /* batches left on the slow path after meeting a stored event */
    long stored, duplicates, rejected;
    /* Where the time goes, logged when the sink is freed: seconds spent in COPY (staging and
     * event tables), koers.apply_staged(), the rest of the transaction (rejects, offsets,
     * COMMIT), over this many committed batches. */
    double t_copy, t_apply, t_commit, t_start;
    long batches;
};

static int sink_copy_row(sink_buf_t *raw, sink_buf_t *stage, const koers_event_t *ev, int ord);

static int64_t sink_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double sink_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sink_buf_reserve(sink_buf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

static int sink_buf_add(sink_buf_t *b, const char *s, size_t len)
{
    if (sink_buf_reserve(b, len) != 0)
        return -1;
    memcpy(b->data + b->len, s, len);
    b->len += len;
    return 0;
}

static int sink_buf_str(sink_buf_t *b, const char *s)
{
    return sink_buf_add(b, s, strlen(s));
}

/* Checks a command's result against the status expected, keeping the server's message. */
static int sink_check(PGresult *res, ExecStatusType want, const char *what, char *errstr,
                      size_t errlen)
{
    int ok = PQresultStatus(res) == want;
    if (!ok)
        snprintf(errstr, errlen, "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static int sink_exec(consume_sink_t *s, const char *sql, char *errstr, size_t errlen)
{
    return sink_check(PQexec(s->conn, sql), PGRES_COMMAND_OK, sql, errstr, errlen);
}

/* Connects and creates the per-session staging tables that COPY fills. */
static int sink_connect(consume_sink_t *s, char *errstr, size_t errlen)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = PQconnectdb(s->o.conninfo);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        snprintf(errstr, errlen, "connecting to PostgreSQL: %s",
                 s->conn ? PQerrorMessage(s->conn) : "out of memory");
        return -1;
    }
    if (sink_exec(s, "SET application_name = 'koers-consume'", errstr, errlen) != 0)
        return -1;
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "CREATE TEMP TABLE stage_%s (LIKE koers.%s, batch_ord integer NOT NULL)"
                 " ON COMMIT DELETE ROWS",
                 koers_types[t].name, koers_types[t].name);
        if (sink_exec(s, sql, errstr, errlen) != 0)
            return -1;
    }
    return 0;
}

#define SINK_SCHEMA_MAX (1 << 20) /* far above any .avsc; a bigger file is a mistake */

/* Reads a schema file into a NUL-terminated buffer that the caller frees. */
static char *sink_read_file(const char *path, char *errstr, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SINK_SCHEMA_MAX + 1);
    size_t len = buf ? fread(buf, 1, SINK_SCHEMA_MAX + 1, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (!buf || failed || len > SINK_SCHEMA_MAX) {
        snprintf(errstr, errlen, "%s: %s", path,
                 !buf ? "out of memory" : failed ? "read error" : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Other versions of the event schemas (older ones still in the topics, newer ones from
 * producers upgraded first) become known writer schemas, so that their messages are read
 * instead of dead-lettered. Name order, so that errors are reproducible. */
int consume_sink_load_schemas(consume_sink_t *s, const char *dir, char *errstr, size_t errlen)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        snprintf(errstr, errlen, "--schema-dir %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0, loaded = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (rc == 0 && len > 5 && strcmp(name + len - 5, ".avsc") == 0) {
            char path[4096], why[512];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            char *json = sink_read_file(path, errstr, errlen);
            if (!json) {
                rc = -1;
            } else if (koers_codec_add_writer(s->codec, json, why, sizeof why) != 0) {
                snprintf(errstr, errlen, "%s: %s", path, why);
                rc = -1;
            } else {
                loaded++;
            }
            free(json);
        }
        free(names[i]);
    }
    free(names);
    if (rc == 0)
        koers_log_info("%d writer schema(s) read from %s", loaded, dir);
    return rc;
}

consume_sink_t *consume_sink_new(const consume_sink_options_t *o, char *errstr, size_t errlen)
{
    consume_sink_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    s->o = *o;
    s->t_start = sink_now_s();
    for (int t = 0; t < KOERS_EVENT_TYPES; t++)
        koers_kafka_topic_name(o->prefix, koers_types[t].name, s->topics[t], sizeof s->topics[t]);
    koers_kafka_topic_name(o->prefix, KOERS_DEAD_LETTER, s->dead_letter_topic,
                           sizeof s->dead_letter_topic);
    s->codec = koers_codec_new(errstr, errlen);
    if (!s->codec || sink_connect(s, errstr, errlen) != 0) {
        consume_sink_free(s);
        return NULL;
    }
    return s;
}

static void sink_clear_batch(consume_sink_t *s)
{
    for (size_t i = 0; i < s->nrejects; i++) {
        free(s->rejects[i].key);
        free(s->rejects[i].payload);
    }
    s->nrejects = 0;
    s->rejects_sent = 0;
    s->nevents = 0;
    s->noffsets = 0;
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        s->raw[t].len = 0;
        s->stage[t].len = 0;
        s->staged[t] = 0;
    }
}

void consume_sink_free(consume_sink_t *s)
{
    if (!s)
        return;
    if (s->batches)
        koers_log_info("%ld batch(es) committed; seconds in COPY %.2f, in koers.apply_staged() "
                       "%.2f, in offsets and COMMIT %.2f, elsewhere (Kafka, decoding) %.2f",
                       s->batches, s->t_copy, s->t_apply, s->t_commit,
                       sink_now_s() - s->t_start - s->t_copy - s->t_apply - s->t_commit);
    sink_clear_batch(s);
    free(s->rejects);
    free(s->offsets);
    free(s->buf.data);
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        free(s->raw[t].data);
        free(s->stage[t].data);
    }
    koers_codec_free(s->codec);
    if (s->conn)
        PQfinish(s->conn);
    free(s);
}

static int sink_note_offset(consume_sink_t *s, const char *topic, int32_t partition,
                            int64_t offset)
{
    for (size_t i = 0; i < s->noffsets; i++)
        if (s->offsets[i].partition == partition && strcmp(s->offsets[i].topic, topic) == 0) {
            if (offset + 1 > s->offsets[i].next_offset)
                s->offsets[i].next_offset = offset + 1;
            return 0;
        }
    if (s->noffsets == s->capoffsets) {
        size_t cap = s->capoffsets ? s->capoffsets * 2 : 16;
        sink_offset_t *p = realloc(s->offsets, cap * sizeof *p);
        if (!p)
            return -1;
        s->offsets = p;
        s->capoffsets = cap;
    }
    sink_offset_t *o = &s->offsets[s->noffsets++];
    snprintf(o->topic, sizeof o->topic, "%s", topic);
    o->partition = partition;
    o->next_offset = offset + 1;
    return 0;
}

static int sink_add_reject(consume_sink_t *s, const rd_kafka_message_t *m, const char *topic,
                           const char *reason)
{
    if (s->nrejects == s->caprejects) {
        size_t cap = s->caprejects ? s->caprejects * 2 : 16;
        sink_reject_t *p = realloc(s->rejects, cap * sizeof *p);
        if (!p)
            return -1;
        s->rejects = p;
        s->caprejects = cap;
    }
    sink_reject_t *r = &s->rejects[s->nrejects];
    memset(r, 0, sizeof *r);
    snprintf(r->topic, sizeof r->topic, "%s", topic);
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    r->partition = m->partition;
    r->offset = m->offset;
    /* +1 so that an empty payload still gets a pointer of its own. */
    r->payload = malloc(m->len + 1);
    r->key = m->key_len ? malloc(m->key_len) : NULL;
    if (!r->payload || (m->key_len && !r->key)) {
        free(r->payload);
        free(r->key);
        return -1;
    }
    if (m->len)
        memcpy(r->payload, m->payload, m->len);
    r->payload_len = m->len;
    if (m->key_len)
        memcpy(r->key, m->key, m->key_len);
    r->key_len = m->key_len;
    s->nrejects++;
    return 0;
}

int consume_sink_add(consume_sink_t *s, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int t = 0;
    while (t < KOERS_EVENT_TYPES && strcmp(s->topics[t], topic) != 0)
        t++;
    char reason[300];
    koers_event_t *ev = &s->scratch;
    int ok = 0;
    if (t == KOERS_EVENT_TYPES) {
        snprintf(reason, sizeof reason, "topic %s is not an event type's topic", topic);
    } else if (koers_codec_decode(s->codec, m->payload, m->len, ev, reason, sizeof reason) != 0) {
        /* reason set by the codec */
    } else if ((int)ev->type != t) {
        snprintf(reason, sizeof reason, "a %s event on the %s topic", koers_types[ev->type].name,
                 topic);
    } else if (ev->recorded_at > koers_time_now_ms() + KOERS_TIME_SKEW_MS) {
        snprintf(reason, sizeof reason, "recorded_at: more than a day in the future");
    } else {
        ok = 1;
    }
    if (s->nevents == 0 && s->nrejects == 0)
        s->opened_ms = sink_now_ms();
    if (ok) {
        if (sink_copy_row(&s->raw[t], &s->stage[t], ev, s->nevents) != 0)
            goto oom;
        s->staged[t]++;
        s->nevents++;
    } else if (sink_add_reject(s, m, topic, reason) != 0) {
        goto oom;
    }
    if (sink_note_offset(s, topic, m->partition, m->offset) != 0)
        goto oom;
    if (s->nevents >= s->o.batch_size || s->nrejects >= (size_t)s->o.batch_size)
        return consume_sink_flush(s);
    return 0;
oom:
    koers_log_error("out of memory");
    return -1;
}

int consume_sink_tick(consume_sink_t *s)
{
    if ((s->nevents || s->nrejects) && sink_now_ms() - s->opened_ms >= s->o.batch_wait_ms)
        return consume_sink_flush(s);
    return 0;
}

/* COPY binary format (PostgreSQL "COPY", "Binary Format"): a header, then per row a 16-bit
 * field count and each field as a 32-bit length (-1 for NULL) and its bytes, all big-endian;
 * a 16-bit -1 ends the data. Values go in their binary send form: uuid as 16 bytes,
 * timestamptz as microseconds since 2000-01-01 UTC, date as days since 2000-01-01 (int4),
 * int4, bool, and text (enum labels too) as bytes. Nothing is parsed or escaped on either side. */
static const char sink_copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

#define SINK_PG_EPOCH_MS 946684800000LL /* 2000-01-01T00:00:00Z in ms since 1970 */
#define SINK_PG_EPOCH_DAYS 10957        /* 2000-01-01 in days since 1970-01-01 */

static void sink_put16(unsigned char *p, int v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void sink_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void sink_put64(unsigned char *p, uint64_t v)
{
    sink_put32(p, (uint32_t)(v >> 32));
    sink_put32(p + 4, (uint32_t)v);
}

static int sink_hex(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Appends one field; data NULL with len -1 is SQL NULL. Space is reserved by the caller. */
static unsigned char *sink_field(unsigned char *p, const void *data, int32_t len)
{
    sink_put32(p, (uint32_t)len);
    if (len > 0)
        memcpy(p + 4, data, (size_t)len);
    return p + 4 + (len > 0 ? len : 0);
}

/* Appends an event as one row to raw (the event table's columns) and to stage (the same,
 * then batch_ord: the message's place in the batch). The codec has validated the event,
 * so the UUID is canonical and every string fits its field. */
static int sink_copy_row(sink_buf_t *raw, sink_buf_t *stage, const koers_event_t *ev, int ord)
{
    const koers_type_t *t = &koers_types[ev->type];
    size_t most = 2 + 5 * 4 + 16 + 8 + 8 + KOERS_PARTICIPANT_LEN + sizeof ev->source +
                  (size_t)t->nfields * (4 + KOERS_STR_MAX + 64);
    if (sink_buf_reserve(raw, most) != 0 || sink_buf_reserve(stage, most + 8) != 0)
        return -1;
    unsigned char *start = (unsigned char *)raw->data + raw->len, *p = start;
    unsigned char uuid[16], num[8];
    int ncols = 4 + t->has_participant + t->nfields;
    sink_put16(p, ncols);
    p += 2;
    for (int i = 0, k = 0; i < 16; i++, k += 2) {
        if (ev->event_id[k] == '-')
            k++;
        uuid[i] = (unsigned char)(sink_hex(ev->event_id[k]) << 4 | sink_hex(ev->event_id[k + 1]));
    }
    p = sink_field(p, uuid, 16);
    if (t->has_participant)
        p = sink_field(p, ev->participant, (int32_t)strlen(ev->participant));
    sink_put64(num, (uint64_t)((ev->occurred_at - SINK_PG_EPOCH_MS) * 1000));
    p = sink_field(p, num, 8);
    sink_put64(num, (uint64_t)((ev->recorded_at - SINK_PG_EPOCH_MS) * 1000));
    p = sink_field(p, num, 8);
    p = sink_field(p, ev->source, (int32_t)strlen(ev->source));
    for (int i = 0; i < t->nfields; i++) {
        const koers_field_t *f = &t->fields[i];
        const koers_value_t *v = &ev->v[i];
        if (!v->present) {
            p = sink_field(p, NULL, -1);
        } else if (f->kind == KOERS_KIND_ENUM) {
            p = sink_field(p, f->symbols[v->i], (int32_t)strlen(f->symbols[v->i]));
        } else if (f->kind == KOERS_KIND_BOOL) {
            num[0] = v->i != 0;
            p = sink_field(p, num, 1);
        } else if (f->kind == KOERS_KIND_INT) {
            sink_put32(num, (uint32_t)v->i);
            p = sink_field(p, num, 4);
        } else if (f->kind == KOERS_KIND_DATE) {
            sink_put32(num, (uint32_t)(v->i - SINK_PG_EPOCH_DAYS));
            p = sink_field(p, num, 4);
        } else if (f->kind == KOERS_KIND_UUID) {
            for (int b = 0, k = 0; b < 16; b++, k += 2) {
                if (v->s[k] == '-')
                    k++;
                uuid[b] = (unsigned char)(sink_hex(v->s[k]) << 4 | sink_hex(v->s[k + 1]));
            }
            p = sink_field(p, uuid, 16);
        } else {
            p = sink_field(p, v->s, (int32_t)strlen(v->s));
        }
    }
    size_t len = (size_t)(p - start);
    raw->len += len;
    unsigned char *q = (unsigned char *)stage->data + stage->len;
    memcpy(q, start, len);
    sink_put16(q, ncols + 1);
    q += len;
    sink_put32(num, (uint32_t)ord);
    q = sink_field(q, num, 4);
    stage->len = (size_t)(q - (unsigned char *)stage->data);
    return 0;
}

/* Sends one COPY ... FROM STDIN (FORMAT binary) of a buffer that holds rows, as pg_dump
 * does. Returns 0, or -1 with errstr; *sqlstate gets the error's SQLSTATE (or ""). */
static int sink_copy_send(consume_sink_t *s, const char *sql, const sink_buf_t *b,
                          char sqlstate[6], char *errstr, size_t errlen)
{
    sqlstate[0] = '\0';
    if (sink_check(PQexec(s->conn, sql), PGRES_COPY_IN, sql, errstr, errlen) != 0)
        return -1;
    static const char trailer[2] = {'\377', '\377'};
    int ok = PQputCopyData(s->conn, sink_copy_header, sizeof sink_copy_header) == 1 &&
             PQputCopyData(s->conn, b->data, (int)b->len) == 1 &&
             PQputCopyData(s->conn, trailer, 2) == 1;
    if (PQputCopyEnd(s->conn, ok ? NULL : "sending rows failed") != 1)
        ok = 0;
    PGresult *res;
    int first = 1;
    while ((res = PQgetResult(s->conn))) {
        if (first && PQresultStatus(res) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            snprintf(sqlstate, 6, "%s", state ? state : "");
            snprintf(errstr, errlen, "%s: %s", sql, PQresultErrorMessage(res));
            ok = 0;
        }
        first = 0;
        PQclear(res);
    }
    if (!ok && !*errstr)
        snprintf(errstr, errlen, "%s: %s", sql, PQerrorMessage(s->conn));
    return ok ? 0 : -1;
}

/* The event table's columns, in the order sink_copy_row writes them. */
static void sink_columns(koers_event_type_t t, char *out, size_t outlen)
{
    snprintf(out, outlen, "event_id%s, occurred_at, recorded_at, source",
             koers_types[t].has_participant ? ", participant" : "");
    for (int i = 0; i < koers_types[t].nfields; i++) {
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, ", %s", koers_types[t].fields[i].name);
    }
}

/* The slow path, for a batch that holds an event already stored (a redelivery, a
 * re-import) or one event twice: inserts what is new, keeping the first in the stream of an
 * event_id doubled within the batch (as if the two had come in different batches, so that
 * the stored row does not depend on where batches end), and leaves exactly the inserted
 * rows staged for koers.apply_staged(). *added gets their number. */
static int sink_merge_type(consume_sink_t *s, koers_event_type_t t, long *added, char *errstr,
                           size_t errlen)
{
    const char *n = koers_types[t].name;
    char cols[512];
    sink_columns(t, cols, sizeof cols);
    char sql[4096];
    snprintf(sql, sizeof sql,
             "WITH ins AS ("
             " INSERT INTO koers.%s (%s)"
             " SELECT DISTINCT ON (event_id) %s FROM stage_%s ORDER BY event_id, batch_ord"
             " ON CONFLICT (event_id) DO NOTHING RETURNING %s),"
             " old AS (DELETE FROM stage_%s)"
             " INSERT INTO stage_%s (%s, batch_ord) SELECT %s, 0 FROM ins",
             n, cols, cols, n, cols, n, n, cols, cols);
    PGresult *res = PQexec(s->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(errstr, errlen, "storing %s: %s", n, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    *added += atol(PQcmdTuples(res));
    PQclear(res);
    return 0;
}

/* Stores the batch's events: COPY into the staging tables, then (the fast path) COPY into
 * the event tables under a savepoint; an event_id already stored sends the batch down the
 * slow path (sink_merge_type) instead, and keeps the next batches there for a while, as
 * redeliveries and re-imports come in runs. *added gets the number of new rows. */
static int sink_store_events(consume_sink_t *s, long *added, char *errstr, size_t errlen)
{
    const int *staged = s->staged;
    char sql[1024], cols[512], state[6];
    *added = 0;
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        if (!staged[t])
            continue;
        sink_columns((koers_event_type_t)t, cols, sizeof cols);
        snprintf(sql, sizeof sql, "COPY stage_%s (%s, batch_ord) FROM STDIN (FORMAT binary)",
                 koers_types[t].name, cols);
        if (sink_copy_send(s, sql, &s->stage[t], state, errstr, errlen) != 0)
            return -1;
    }
    int fast = s->slow_batches == 0;
    if (s->slow_batches > 0)
        s->slow_batches--;
    if (fast) {
        if (sink_exec(s, "SAVEPOINT koers_fast", errstr, errlen) != 0)
            return -1;
        for (int t = 0; t < KOERS_EVENT_TYPES && fast; t++) {
            if (!staged[t])
                continue;
            sink_columns((koers_event_type_t)t, cols, sizeof cols);
            snprintf(sql, sizeof sql, "COPY koers.%s (%s) FROM STDIN (FORMAT binary)",
                     koers_types[t].name, cols);
            if (sink_copy_send(s, sql, &s->raw[t], state, errstr, errlen) == 0) {
                *added += staged[t];
            } else if (strcmp(state, "23505") == 0) { /* unique_violation: seen before */
                fast = 0;
                s->slow_batches = 16;
                errstr[0] = '\0';
            } else {
                return -1;
            }
        }
        if (sink_exec(s, fast ? "RELEASE SAVEPOINT koers_fast"
                              : "ROLLBACK TO SAVEPOINT koers_fast", errstr, errlen) != 0)
            return -1;
    }
    if (!fast) {
        *added = 0;
        for (int t = 0; t < KOERS_EVENT_TYPES; t++)
            if (staged[t] && sink_merge_type(s, (koers_event_type_t)t, added, errstr, errlen))
                return -1;
    }
    return 0;
}

/* Brings event_count_month and the prepared measure tables up to date from the staged new
 * rows (sql/defs/20_prepared.sql), in the batch's transaction, so that readers never see rows
 * without their measures. */
static int sink_apply_measures(consume_sink_t *s, char *errstr, size_t errlen)
{
    if (s->nevents == 0)
        return 0;
    return sink_check(PQexec(s->conn, "SELECT koers.apply_staged()"), PGRES_TUPLES_OK,
                      "updating measures", errstr, errlen);
}

static int sink_store_rejects(consume_sink_t *s, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < s->nrejects; i++) {
        sink_reject_t *r = &s->rejects[i];
        char part[16], off[24];
        snprintf(part, sizeof part, "%ld", (long)r->partition);
        snprintf(off, sizeof off, "%lld", (long long)r->offset);
        const char *values[6] = {r->topic, part, off, r->key, r->payload, r->reason};
        int lengths[6] = {0, 0, 0, (int)r->key_len, (int)r->payload_len, 0};
        int formats[6] = {0, 0, 0, 1, 1, 0};
        PGresult *res = PQexecParams(
            s->conn,
            "INSERT INTO koers.rejected_events"
            " (topic, partition, kafka_offset, message_key, payload, reason)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            6, NULL, values, lengths, formats, 0);
        if (sink_check(res, PGRES_COMMAND_OK, "storing a rejected message", errstr, errlen))
            return -1;
    }
    return 0;
}

static int sink_store_offsets(consume_sink_t *s, char *errstr, size_t errlen)
{
    if (s->noffsets == 0)
        return 0;
    /* One statement for every partition of the batch: arrays of topics (Kafka's names need
     * no escaping inside double quotes: [a-zA-Z0-9._-]), partitions and offsets. */
    sink_buf_t *b = &s->buf;
    char num[48];
    b->len = 0;
    int rc = sink_buf_str(b, "{");
    for (size_t i = 0; i < s->noffsets && rc == 0; i++)
        rc = sink_buf_str(b, i ? ",\"" : "\"") || sink_buf_str(b, s->offsets[i].topic) ||
             sink_buf_str(b, "\"");
    size_t parts = b->len + 2;
    rc = rc || sink_buf_add(b, "}", 2) || sink_buf_str(b, "{");
    for (size_t i = 0; i < s->noffsets && rc == 0; i++) {
        snprintf(num, sizeof num, "%s%ld", i ? "," : "", (long)s->offsets[i].partition);
        rc = sink_buf_str(b, num);
    }
    size_t offs = b->len + 2;
    rc = rc || sink_buf_add(b, "}", 2) || sink_buf_str(b, "{");
    for (size_t i = 0; i < s->noffsets && rc == 0; i++) {
        snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)s->offsets[i].next_offset);
        rc = sink_buf_str(b, num);
    }
    if (rc || sink_buf_add(b, "}", 2)) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    const char *values[4] = {s->o.group, b->data, b->data + parts, b->data + offs};
    /* GREATEST: a consumer that lost its partitions without knowing must not move the
     * group's position back. */
    return sink_check(
        PQexecParams(s->conn,
                     "INSERT INTO koers.consumer_offset AS o (group_id, topic, partition, next_offset)"
                     " SELECT $1, t, p, n FROM unnest($2::text[], $3::integer[], $4::bigint[]) AS u(t, p, n)"
                     " ON CONFLICT (group_id, topic, partition) DO UPDATE"
                     " SET next_offset = GREATEST(o.next_offset, excluded.next_offset), updated_at = now()",
                     4, NULL, values, NULL, NULL, 0),
        PGRES_COMMAND_OK, "storing offsets", errstr, errlen);
}

/* Sends the batch's rejects to the dead-letter topic, with the reason and origin in
 * headers, and waits until Kafka has them: the table row and the dead letter go together. */
static int sink_send_dead_letters(consume_sink_t *s, char *errstr, size_t errlen)
{
    if (s->rejects_sent || !s->nrejects || !s->o.dead_letter)
        return 0;
    for (size_t i = 0; i < s->nrejects; i++) {
        sink_reject_t *r = &s->rejects[i];
        char part[16], off[24];
        snprintf(part, sizeof part, "%ld", (long)r->partition);
        snprintf(off, sizeof off, "%lld", (long long)r->offset);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            s->o.dead_letter, RD_KAFKA_V_TOPIC(s->dead_letter_topic),
            RD_KAFKA_V_VALUE(r->payload, r->payload_len), RD_KAFKA_V_KEY(r->key, r->key_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("koers.reason", r->reason, -1),
            RD_KAFKA_V_HEADER("koers.topic", r->topic, -1),
            RD_KAFKA_V_HEADER("koers.partition", part, -1),
            RD_KAFKA_V_HEADER("koers.offset", off, -1), RD_KAFKA_V_END);
        if (err) {
            snprintf(errstr, errlen, "dead-letter topic: %s", rd_kafka_err2str(err));
            return -1;
        }
    }
    if (rd_kafka_flush(s->o.dead_letter, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errlen, "dead-letter topic: not delivered within 30 s");
        return -1;
    }
    s->rejects_sent = 1;
    return 0;
}

static int sink_try_flush(consume_sink_t *s, char *errstr, size_t errlen)
{
    if (sink_send_dead_letters(s, errstr, errlen) != 0)
        return -1;
    if (sink_exec(s, "BEGIN", errstr, errlen) != 0)
        return -1;
    long added = 0;
    double t0 = sink_now_s(), t1, t2;
    if (s->nevents && sink_store_events(s, &added, errstr, errlen) != 0)
        goto fail;
    t1 = sink_now_s();
    if (sink_apply_measures(s, errstr, errlen) != 0)
        goto fail;
    t2 = sink_now_s();
    if (sink_store_rejects(s, errstr, errlen) != 0 || sink_store_offsets(s, errstr, errlen) != 0 ||
        sink_exec(s, "COMMIT", errstr, errlen) != 0)
        goto fail;
    s->t_copy += t1 - t0;
    s->t_apply += t2 - t1;
    s->t_commit += sink_now_s() - t2;
    s->batches++;
    s->stored += added;
    s->duplicates += s->nevents - added;
    s->rejected += (long)s->nrejects;
    return 0;
fail:
    if (PQstatus(s->conn) == CONNECTION_OK) {
        char why[256];
        sink_exec(s, "ROLLBACK", why, sizeof why);
        return -2; /* the database is there and said no */
    }
    return -1;
}

/* Attempts in a row that a reachable database refuses before the consumer gives up: enough
 * for a deadlock or serialization failure to pass (about 20 s of backing off), not so many
 * that a missing privilege or function, or a row it rejects, keeps it looping unseen. */
#define SINK_MAX_REFUSALS 8

/* Waits for the database after a failed attempt: backs off, reconnects when the connection
 * is gone. Returns 0 to try again, or -1 when stop was requested meanwhile. */
static int sink_recover(consume_sink_t *s, unsigned *delay_ms)
{
    char errstr[1024];
    while (!*s->o.stop) {
        usleep(*delay_ms * 1000);
        if (*delay_ms < 5000)
            *delay_ms *= 2;
        if (PQstatus(s->conn) == CONNECTION_OK)
            return 0;
        if (sink_connect(s, errstr, sizeof errstr) == 0) {
            koers_log_info("reconnected to PostgreSQL");
            return 0;
        }
        koers_log_warn("%s", errstr);
    }
    return -1;
}

int consume_sink_flush(consume_sink_t *s)
{
    if (!s->nevents && !s->nrejects && !s->noffsets)
        return 0;
    if (s->gave_up)
        return -1;
    char errstr[1024];
    unsigned delay_ms = 200;
    int refused = 0;
    for (;;) {
        errstr[0] = '\0';
        int rc = sink_try_flush(s, errstr, sizeof errstr);
        if (rc == 0)
            break;
        koers_log_error("batch of %d event(s) and %zu reject(s) not stored: %s", s->nevents,
                        s->nrejects, errstr);
        /* A lost connection is waited for as long as it takes; a database that is up and
         * keeps refusing the batch will not change its mind by itself, so stop and show it
         * (nothing is lost: the offsets were not stored either). */
        refused = rc == -2 ? refused + 1 : 0;
        if (refused >= SINK_MAX_REFUSALS) {
            koers_log_error("the database refused this batch %d times in a row; stopping: it"
                            " will be consumed again once that is put right", refused);
            s->gave_up = 1; /* the flush of the rebalance on the way out need not try again */
            return -1;
        }
        /* The batch stays in memory and is tried again as a whole, so nothing is lost
         * while the database or broker is away. */
        if (sink_recover(s, &delay_ms) != 0) {
            koers_log_error("stopping with an unstored batch; it will be consumed again");
            return -1;
        }
    }
    sink_clear_batch(s);
    return 0;
}

static int sink_try_load_offsets(consume_sink_t *s, rd_kafka_topic_partition_list_t *parts,
                                 char *errstr, size_t errlen)
{
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        char part[16];
        snprintf(part, sizeof part, "%ld", (long)p->partition);
        const char *values[3] = {s->o.group, p->topic, part};
        PGresult *res = PQexecParams(s->conn,
                                     "SELECT next_offset FROM koers.consumer_offset"
                                     " WHERE group_id = $1 AND topic = $2 AND partition = $3",
                                     3, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            snprintf(errstr, errlen, "reading stored offsets: %s", PQresultErrorMessage(res));
            PQclear(res);
            return -1;
        }
        p->offset = PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : RD_KAFKA_OFFSET_BEGINNING;
        PQclear(res);
    }
    return 0;
}

int consume_sink_load_offsets(consume_sink_t *s, rd_kafka_topic_partition_list_t *parts,
                              char *errstr, size_t errlen)
{
    unsigned delay_ms = 200;
    int refused = 0;
    while (sink_try_load_offsets(s, parts, errstr, errlen) != 0) {
        koers_log_error("%s", errstr);
        refused = PQstatus(s->conn) == CONNECTION_OK ? refused + 1 : 0;
        if (refused >= SINK_MAX_REFUSALS || sink_recover(s, &delay_ms) != 0)
            return -1;
    }
    return 0;
}

void consume_sink_counts(const consume_sink_t *s, long *stored, long *duplicates, long *rejected)
{
    *stored = s->stored;
    *duplicates = s->duplicates;
    *rejected = s->rejected;
}
