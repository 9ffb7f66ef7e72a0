/* The PostgreSQL sink: batches of events, rejects and Kafka offsets, one transaction each. */
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
    PGconn *conn;
    koers_codec_t *codec;
    char topics[KOERS_EVENT_TYPES][256];
    char dead_letter_topic[256];

    koers_event_t *events;
    int nevents;
    sink_reject_t *rejects;
    size_t nrejects, caprejects;
    int rejects_sent; /* dead letters of this batch already delivered */
    sink_offset_t *offsets;
    size_t noffsets, capoffsets;
    int64_t opened_ms; /* when the first message entered the open batch */

    sink_buf_t buf;
    long stored, duplicates, rejected;
};

static int64_t sink_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
                 "CREATE TEMP TABLE stage_%s (LIKE koers.%s) ON COMMIT DELETE ROWS",
                 koers_types[t].name, koers_types[t].name);
        if (sink_exec(s, sql, errstr, errlen) != 0)
            return -1;
    }
    return 0;
}

consume_sink_t *consume_sink_new(const consume_sink_options_t *o, char *errstr, size_t errlen)
{
    consume_sink_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    s->o = *o;
    s->events = calloc((size_t)o->batch_size, sizeof *s->events);
    if (!s->events) {
        snprintf(errstr, errlen, "out of memory for a batch of %d", o->batch_size);
        consume_sink_free(s);
        return NULL;
    }
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
}

void consume_sink_free(consume_sink_t *s)
{
    if (!s)
        return;
    sink_clear_batch(s);
    free(s->rejects);
    free(s->offsets);
    free(s->events);
    free(s->buf.data);
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
    koers_event_t *ev = &s->events[s->nevents];
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
    if (ok)
        s->nevents++;
    else if (sink_add_reject(s, m, topic, reason) != 0)
        goto oom;
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

/* COPY text format: every value we write is already restricted to safe characters by the
 * contract, but escape anyway so that the format can never be broken. */
static int sink_copy_text(sink_buf_t *b, const char *s)
{
    for (; *s; s++) {
        const char *esc = NULL;
        switch (*s) {
        case '\\': esc = "\\\\"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        }
        if (esc ? sink_buf_str(b, esc) : sink_buf_add(b, s, 1))
            return -1;
    }
    return 0;
}

static int sink_copy_row(sink_buf_t *b, const koers_event_t *ev)
{
    char ts[2][40], num[16];
    koers_time_format(ev->occurred_at, ts[0], sizeof ts[0]);
    koers_time_format(ev->recorded_at, ts[1], sizeof ts[1]);
    if (sink_copy_text(b, ev->event_id) || sink_buf_str(b, "\t") ||
        sink_copy_text(b, ev->participant) || sink_buf_str(b, "\t") || sink_buf_str(b, ts[0]) ||
        sink_buf_str(b, "\t") || sink_buf_str(b, ts[1]) || sink_buf_str(b, "\t") ||
        sink_copy_text(b, ev->source))
        return -1;
    const koers_type_t *t = &koers_types[ev->type];
    for (int i = 0; i < t->nfields; i++) {
        const koers_field_t *f = &t->fields[i];
        const koers_value_t *v = &ev->v[i];
        int rc = sink_buf_str(b, "\t");
        if (!v->present)
            rc |= sink_buf_str(b, "\\N");
        else if (f->kind == KOERS_KIND_ENUM)
            rc |= sink_buf_str(b, f->symbols[v->i]);
        else if (f->kind == KOERS_KIND_BOOL)
            rc |= sink_buf_str(b, v->i ? "t" : "f");
        else if (f->kind == KOERS_KIND_INT) {
            snprintf(num, sizeof num, "%ld", (long)v->i);
            rc |= sink_buf_str(b, num);
        } else
            rc |= sink_copy_text(b, v->s);
        if (rc)
            return -1;
    }
    return sink_buf_str(b, "\n");
}

static int sink_copy_type(consume_sink_t *s, koers_event_type_t t, int *staged, char *errstr,
                          size_t errlen)
{
    s->buf.len = 0;
    *staged = 0;
    for (int i = 0; i < s->nevents; i++) {
        if (s->events[i].type != t)
            continue;
        if (sink_copy_row(&s->buf, &s->events[i]) != 0) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
        (*staged)++;
    }
    if (*staged == 0)
        return 0;
    char sql[128];
    snprintf(sql, sizeof sql, "COPY stage_%s FROM STDIN", koers_types[t].name);
    if (sink_check(PQexec(s->conn, sql), PGRES_COPY_IN, sql, errstr, errlen) != 0)
        return -1;
    int ok = PQputCopyData(s->conn, s->buf.data, (int)s->buf.len) == 1;
    if (PQputCopyEnd(s->conn, ok ? NULL : "sending rows failed") != 1)
        ok = 0;
    PGresult *res;
    int first = 1;
    while ((res = PQgetResult(s->conn))) {
        if (first && PQresultStatus(res) != PGRES_COMMAND_OK) {
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

/* Moves staged rows into the event table; only rows new to it count in the aggregate. */
static int sink_merge_type(consume_sink_t *s, koers_event_type_t t, int staged, char *errstr,
                           size_t errlen)
{
    const char *n = koers_types[t].name;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH ins AS ("
             " INSERT INTO koers.%s SELECT DISTINCT ON (event_id) * FROM stage_%s"
             " ON CONFLICT (event_id) DO NOTHING RETURNING source, occurred_at),"
             " agg AS ("
             " INSERT INTO koers.event_count_month AS c (event_type, source, month, events)"
             " SELECT '%s', source, koers.local_month(occurred_at), count(*) FROM ins"
             " GROUP BY 2, 3 ORDER BY 2, 3"
             " ON CONFLICT (event_type, source, month) DO UPDATE SET events = c.events + excluded.events"
             " RETURNING 1)"
             " SELECT count(*) FROM ins",
             n, n, n);
    PGresult *res = PQexec(s->conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        snprintf(errstr, errlen, "storing %s: %s", n, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    long added = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    s->stored += added;
    s->duplicates += staged - added;
    return 0;
}

static int sink_compare_participant(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Brings the prepared per-participant measures up to date for everyone in the batch, in
 * the batch's transaction, so that readers never see rows without their measures. */
static int sink_refresh_measures(consume_sink_t *s, char *errstr, size_t errlen)
{
    if (s->nevents == 0)
        return 0;
    const char **p = malloc((size_t)s->nevents * sizeof *p);
    if (!p) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < s->nevents; i++)
        p[i] = s->events[i].participant;
    qsort(p, (size_t)s->nevents, sizeof *p, sink_compare_participant);
    s->buf.len = 0;
    int rc = sink_buf_str(&s->buf, "{");
    for (int i = 0; i < s->nevents && rc == 0; i++)
        if (i == 0 || strcmp(p[i], p[i - 1]) != 0)
            rc = (s->buf.len > 1 ? sink_buf_str(&s->buf, ",") : 0) || sink_buf_str(&s->buf, p[i]);
    free(p);
    if (rc || sink_buf_add(&s->buf, "}", 2)) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    const char *values[1] = {s->buf.data};
    return sink_check(PQexecParams(s->conn, "SELECT koers.refresh_participants($1::text[])", 1,
                                   NULL, values, NULL, NULL, 0),
                      PGRES_TUPLES_OK, "refreshing measures", errstr, errlen);
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
    for (size_t i = 0; i < s->noffsets; i++) {
        char part[16], off[24];
        snprintf(part, sizeof part, "%ld", (long)s->offsets[i].partition);
        snprintf(off, sizeof off, "%lld", (long long)s->offsets[i].next_offset);
        const char *values[4] = {s->o.group, s->offsets[i].topic, part, off};
        /* GREATEST: a consumer that lost its partitions without knowing must not move the
         * group's position back. */
        PGresult *res = PQexecParams(
            s->conn,
            "INSERT INTO koers.consumer_offset AS o (group_id, topic, partition, next_offset)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, topic, partition) DO UPDATE"
            " SET next_offset = GREATEST(o.next_offset, excluded.next_offset), updated_at = now()",
            4, NULL, values, NULL, NULL, 0);
        if (sink_check(res, PGRES_COMMAND_OK, "storing offsets", errstr, errlen))
            return -1;
    }
    return 0;
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
    long stored = s->stored, duplicates = s->duplicates;
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        int staged;
        if (sink_copy_type(s, (koers_event_type_t)t, &staged, errstr, errlen) != 0 ||
            (staged && sink_merge_type(s, (koers_event_type_t)t, staged, errstr, errlen) != 0))
            goto fail;
    }
    if (sink_refresh_measures(s, errstr, errlen) != 0 ||
        sink_store_rejects(s, errstr, errlen) != 0 || sink_store_offsets(s, errstr, errlen) != 0 ||
        sink_exec(s, "COMMIT", errstr, errlen) != 0)
        goto fail;
    s->rejected += (long)s->nrejects;
    return 0;
fail:
    s->stored = stored;
    s->duplicates = duplicates;
    if (PQstatus(s->conn) == CONNECTION_OK) {
        char why[256];
        sink_exec(s, "ROLLBACK", why, sizeof why);
    }
    return -1;
}

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
    char errstr[1024];
    unsigned delay_ms = 200;
    for (;;) {
        errstr[0] = '\0';
        if (sink_try_flush(s, errstr, sizeof errstr) == 0)
            break;
        koers_log_error("batch of %d event(s) and %zu reject(s) not stored: %s", s->nevents,
                        s->nrejects, errstr);
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
    while (sink_try_load_offsets(s, parts, errstr, errlen) != 0) {
        koers_log_error("%s", errstr);
        if (sink_recover(s, &delay_ms) != 0)
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
