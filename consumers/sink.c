/* The PostgreSQL sink: batches of events, rejects and Kafka offsets, one transaction each. */
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

struct consume_sink {
    consume_sink_options_t o;
    int gave_up; /* the database kept refusing a batch: the consumer is stopping */
    PGconn *conn;
    koers_codec_t *codec; /* not owned */
    char topics[KOERS_EVENT_TYPES][256];
    char dead_letter_topic[256];

    koers_event_t scratch; /* the message being decoded */
    int nevents;
    int staged[KOERS_EVENT_TYPES]; /* rows of the batch in raw[] and stage[], per type */
    consume_rejects_t rejects;
    sink_offset_t *offsets;
    size_t noffsets, capoffsets;
    int64_t opened_ms; /* when the first message entered the open batch */

    /* The batch, encoded as it arrives (a few hundred bytes an event, not the decoded
     * events): COPY rows for the event tables, and the same for the staging tables. */
    koers_pg_copy_t raw[KOERS_EVENT_TYPES];
    koers_pg_copy_t stage[KOERS_EVENT_TYPES];
    char *params; /* scratch for statements' parameters */
    size_t params_cap;
    int slow_batches; /* batches left on the slow path after meeting a stored event */
    long stored, duplicates, rejected;
    /* Where the time goes, logged when the sink is freed: seconds spent in COPY (staging and
     * event tables), koers.apply_staged(), the rest of the transaction (rejects, offsets,
     * COMMIT), over this many committed batches. */
    double t_copy, t_apply, t_commit, t_start;
    long batches;
};

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

static int sink_exec(consume_sink_t *s, const char *sql, char *errstr, size_t errlen)
{
    koers_pg_error_t err;
    return koers_pg_command(s->conn, sql, &err) == 0 ? 0 : koers_pg_errstr(&err, sql, errstr, errlen);
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
    s->codec = o->codec;
    if (sink_connect(s, errstr, errlen) != 0) {
        consume_sink_free(s);
        return NULL;
    }
    return s;
}

static void sink_clear_batch(consume_sink_t *s)
{
    consume_rejects_clear(&s->rejects);
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
    consume_rejects_free(&s->rejects);
    free(s->offsets);
    free(s->params);
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        koers_pg_copy_free(&s->raw[t]);
        koers_pg_copy_free(&s->stage[t]);
    }
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
    if (s->nevents == 0 && s->rejects.n == 0)
        s->opened_ms = sink_now_ms();
    if (ok) {
        if (consume_copy_event(&s->raw[t], &s->stage[t], ev, s->nevents) != 0)
            goto oom;
        s->staged[t]++;
        s->nevents++;
    } else if (consume_rejects_add(&s->rejects, m, topic, reason) != 0) {
        goto oom;
    }
    if (sink_note_offset(s, topic, m->partition, m->offset) != 0)
        goto oom;
    if (s->nevents >= s->o.batch_size || s->rejects.n >= (size_t)s->o.batch_size)
        return consume_sink_flush(s);
    return 0;
oom:
    koers_log_error("out of memory");
    return -1;
}

int consume_sink_tick(consume_sink_t *s)
{
    if ((s->nevents || s->rejects.n) && sink_now_ms() - s->opened_ms >= s->o.batch_wait_ms)
        return consume_sink_flush(s);
    return 0;
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
    consume_copy_columns(t, cols, sizeof cols);
    char sql[4096];
    snprintf(sql, sizeof sql,
             "WITH ins AS ("
             " INSERT INTO koers.%s (%s)"
             " SELECT DISTINCT ON (event_id) %s FROM stage_%s ORDER BY event_id, batch_ord"
             " ON CONFLICT (event_id) DO NOTHING RETURNING %s),"
             " old AS (DELETE FROM stage_%s)"
             " INSERT INTO stage_%s (%s, batch_ord) SELECT %s, 0 FROM ins",
             n, cols, cols, n, cols, n, n, cols, cols);
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(s->conn, sql, 0, NULL, PGRES_COMMAND_OK, &err);
    if (!res) {
        snprintf(sql, sizeof sql, "storing %s", n);
        return koers_pg_errstr(&err, sql, errstr, errlen);
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
    char sql[1024], cols[512];
    koers_pg_error_t err;
    *added = 0;
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        if (!staged[t])
            continue;
        consume_copy_columns((koers_event_type_t)t, cols, sizeof cols);
        snprintf(sql, sizeof sql, "COPY stage_%s (%s, batch_ord) FROM STDIN (FORMAT binary)",
                 koers_types[t].name, cols);
        if (koers_pg_copy_send(s->conn, sql, &s->stage[t], &err) != 0)
            return koers_pg_errstr(&err, sql, errstr, errlen);
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
            consume_copy_columns((koers_event_type_t)t, cols, sizeof cols);
            snprintf(sql, sizeof sql, "COPY koers.%s (%s) FROM STDIN (FORMAT binary)",
                     koers_types[t].name, cols);
            if (koers_pg_copy_send(s->conn, sql, &s->raw[t], &err) == 0) {
                *added += staged[t];
            } else if (strcmp(err.sqlstate, "23505") == 0) { /* unique_violation: seen before */
                fast = 0;
                s->slow_batches = 16;
            } else {
                return koers_pg_errstr(&err, sql, errstr, errlen);
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
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(s->conn, "SELECT koers.apply_staged()", 0, NULL,
                                  PGRES_TUPLES_OK, &err);
    PQclear(res);
    return res ? 0 : koers_pg_errstr(&err, "updating measures", errstr, errlen);
}

/* Appends element i to an array literal being built at b + *used: the text in double quotes,
 * or when text is NULL the number n. */
static void sink_array_add(char *b, size_t *used, size_t cap, size_t i, const char *text,
                           long long n)
{
    const char *sep = i ? "," : "";
    if (text)
        *used += (size_t)snprintf(b + *used, cap - *used, "%s\"%s\"", sep, text);
    else
        *used += (size_t)snprintf(b + *used, cap - *used, "%s%lld", sep, n);
}

static int sink_store_offsets(consume_sink_t *s, char *errstr, size_t errlen)
{
    if (s->noffsets == 0)
        return 0;
    /* One statement for every partition of the batch: arrays of topics (Kafka's names need
     * no escaping inside double quotes: [a-zA-Z0-9._-]), partitions and offsets. */
    size_t each = sizeof s->offsets[0].topic + 4, cap = 3 * (s->noffsets * each + 3);
    if (cap > s->params_cap) {
        char *p = realloc(s->params, cap);
        if (!p) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
        s->params = p;
        s->params_cap = cap;
    }
    char *topics = s->params, *parts = topics + cap / 3, *offs = parts + cap / 3;
    size_t nt = 1, np = 1, no = 1, part = cap / 3;
    topics[0] = parts[0] = offs[0] = '{';
    for (size_t i = 0; i < s->noffsets; i++) {
        sink_array_add(topics, &nt, part, i, s->offsets[i].topic, 0);
        sink_array_add(parts, &np, part, i, NULL, s->offsets[i].partition);
        sink_array_add(offs, &no, part, i, NULL, s->offsets[i].next_offset);
    }
    snprintf(topics + nt, part - nt, "}");
    snprintf(parts + np, part - np, "}");
    snprintf(offs + no, part - no, "}");
    const char *values[4] = {s->o.group, topics, parts, offs};
    /* GREATEST: a consumer that lost its partitions without knowing must not move the
     * group's position back. */
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(
        s->conn,
        "INSERT INTO koers.consumer_offset AS o (group_id, topic, partition, next_offset)"
        " SELECT $1, t, p, n FROM unnest($2::text[], $3::integer[], $4::bigint[]) AS u(t, p, n)"
        " ON CONFLICT (group_id, topic, partition) DO UPDATE"
        " SET next_offset = GREATEST(o.next_offset, excluded.next_offset), updated_at = now()",
        4, values, PGRES_COMMAND_OK, &err);
    PQclear(res);
    return res ? 0 : koers_pg_errstr(&err, "storing offsets", errstr, errlen);
}

static int sink_try_flush(consume_sink_t *s, char *errstr, size_t errlen)
{
    if (consume_rejects_send(&s->rejects, s->o.dead_letter, s->dead_letter_topic, errstr,
                             errlen) != 0)
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
    koers_pg_error_t err;
    if (consume_rejects_store(&s->rejects, s->conn, &err) != 0) {
        koers_pg_errstr(&err, "storing a rejected message", errstr, errlen);
        goto fail;
    }
    if (sink_store_offsets(s, errstr, errlen) != 0 || sink_exec(s, "COMMIT", errstr, errlen) != 0)
        goto fail;
    s->t_copy += t1 - t0;
    s->t_apply += t2 - t1;
    s->t_commit += sink_now_s() - t2;
    s->batches++;
    s->stored += added;
    s->duplicates += s->nevents - added;
    s->rejected += (long)s->rejects.n;
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
    if (!s->nevents && !s->rejects.n && !s->noffsets)
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
                        s->rejects.n, errstr);
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
        koers_pg_error_t err;
        PGresult *res = koers_pg_exec(s->conn,
                                      "SELECT next_offset FROM koers.consumer_offset"
                                      " WHERE group_id = $1 AND topic = $2 AND partition = $3",
                                      3, values, PGRES_TUPLES_OK, &err);
        if (!res)
            return koers_pg_errstr(&err, "reading stored offsets", errstr, errlen);
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
