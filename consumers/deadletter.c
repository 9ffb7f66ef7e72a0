/* The batch's rejected messages: kept whole with their reason, stored in
 * koers.rejected_events and sent to the dead-letter topic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consume.h"

struct consume_reject {
    char topic[256];
    int32_t partition;
    int64_t offset;
    void *key, *payload;
    size_t key_len, payload_len;
    char reason[300];
};

int consume_rejects_add(consume_rejects_t *l, const rd_kafka_message_t *m, const char *topic,
                        const char *reason)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        consume_reject_t *p = realloc(l->r, cap * sizeof *p);
        if (!p)
            return -1;
        l->r = p;
        l->cap = cap;
    }
    consume_reject_t *r = &l->r[l->n];
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
    l->n++;
    return 0;
}

void consume_rejects_clear(consume_rejects_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->r[i].key);
        free(l->r[i].payload);
    }
    l->n = 0;
    l->sent = 0;
}

void consume_rejects_free(consume_rejects_t *l)
{
    consume_rejects_clear(l);
    free(l->r);
    l->r = NULL;
    l->cap = 0;
}

int consume_rejects_store(const consume_rejects_t *l, PGconn *conn, koers_pg_error_t *err)
{
    for (size_t i = 0; i < l->n; i++) {
        const consume_reject_t *r = &l->r[i];
        char part[16], off[24];
        snprintf(part, sizeof part, "%ld", (long)r->partition);
        snprintf(off, sizeof off, "%lld", (long long)r->offset);
        const char *values[6] = {r->topic, part, off, r->key, r->payload, r->reason};
        int lengths[6] = {0, 0, 0, (int)r->key_len, (int)r->payload_len, 0};
        int formats[6] = {0, 0, 0, 1, 1, 0};
        PGresult *res = PQexecParams(
            conn,
            "INSERT INTO koers.rejected_events"
            " (topic, partition, kafka_offset, message_key, payload, reason)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            6, NULL, values, lengths, formats, 0);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            koers_pg_error(err, res, conn);
        PQclear(res);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Waits until Kafka has every one: the table row and the dead letter go together, and a
 * batch retried after a failed transaction does not send its dead letters twice. */
int consume_rejects_send(consume_rejects_t *l, rd_kafka_t *producer, const char *topic,
                         char *errstr, size_t errlen)
{
    if (l->sent || !l->n || !producer)
        return 0;
    for (size_t i = 0; i < l->n; i++) {
        consume_reject_t *r = &l->r[i];
        char part[16], off[24];
        snprintf(part, sizeof part, "%ld", (long)r->partition);
        snprintf(off, sizeof off, "%lld", (long long)r->offset);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(r->payload, r->payload_len),
            RD_KAFKA_V_KEY(r->key, r->key_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("koers.reason", r->reason, -1),
            RD_KAFKA_V_HEADER("koers.topic", r->topic, -1),
            RD_KAFKA_V_HEADER("koers.partition", part, -1),
            RD_KAFKA_V_HEADER("koers.offset", off, -1), RD_KAFKA_V_END);
        if (e) {
            snprintf(errstr, errlen, "dead-letter topic: %s", rd_kafka_err2str(e));
            return -1;
        }
    }
    if (rd_kafka_flush(producer, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errlen, "dead-letter topic: not delivered within 30 s");
        return -1;
    }
    l->sent = 1;
    return 0;
}
