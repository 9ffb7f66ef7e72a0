/* The emitter: events to Kafka with an idempotent producer, or rows to CSV files (synth --csv). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/kafka.h"
#include "koers/log.h"
#include "produce.h"

struct produce_emitter {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topics[KOERS_EVENT_TYPES];
    koers_codec_t *codec;
    long delivered, failed;
    char first_error[256];
    const volatile sig_atomic_t *stop;
    FILE *csv[KOERS_EVENT_TYPES];
};

/* Runs inside rd_kafka_poll on this thread, so it may touch the emitter freely. */
static void emit_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    produce_emitter_t *e = opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        e->delivered++;
        return;
    }
    if (e->failed++ == 0)
        snprintf(e->first_error, sizeof e->first_error, "%s", rd_kafka_err2str(m->err));
}

static void emit_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    koers_log_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int emit_open_csv(produce_emitter_t *e, const char *dir, char *errstr, size_t errlen)
{
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.csv", dir, koers_types[t].name);
        e->csv[t] = fopen(path, "w");
        if (!e->csv[t]) {
            snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
        produce_columns_t cols;
        produce_columns((koers_event_type_t)t, &cols);
        for (int c = 0; c < cols.n; c++)
            fprintf(e->csv[t], "%s%s", c ? "," : "", cols.names[c]);
        fputs("\r\n", e->csv[t]);
    }
    return 0;
}

static int emit_open_kafka(produce_emitter_t *e, const produce_options_t *o, char *errstr,
                           size_t errlen)
{
    char why[512];
    /* Set before the file's kafka.* and -X, so that those can still change any of them. */
    static const char *const defaults[][2] = {
        {"enable.idempotence", "true"}, {"acks", "all"},
        {"linger.ms", "20"},           {"compression.type", "lz4"},
        {"batch.num.messages", "10000"}, {"queue.buffering.max.kbytes", "262144"}};
    rd_kafka_conf_t *conf = koers_kafka_conf_new(o->brokers, NULL, 0, errstr, errlen);
    if (!conf)
        return -1;
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], why, sizeof why) !=
            RD_KAFKA_CONF_OK) {
            snprintf(errstr, errlen, "%s: %s", defaults[i][0], why);
            rd_kafka_conf_destroy(conf);
            return -1;
        }
    if (o->config && koers_kafka_conf_apply(conf, o->config, errstr, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, emit_on_delivery);
    rd_kafka_conf_set_error_cb(conf, emit_on_error);
    rd_kafka_conf_set_opaque(conf, e);
    e->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!e->rk) {
        snprintf(errstr, errlen, "kafka producer: %s", why);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    conf = NULL; /* rd_kafka_new took it */
    const char *prefix = koers_kafka_topic_prefix(o->prefix);
    if (koers_kafka_ensure_topics(e->rk, prefix, o->partitions, errstr, errlen) != 0)
        return -1;
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        char name[256];
        if (koers_kafka_topic_name(prefix, koers_types[t].name, name, sizeof name) != 0) {
            snprintf(errstr, errlen, "topic prefix too long");
            return -1;
        }
        e->topics[t] = rd_kafka_topic_new(e->rk, name, NULL);
        if (!e->topics[t]) {
            snprintf(errstr, errlen, "topic %s: %s", name, rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
    }
    return 0;
}

produce_emitter_t *produce_emitter_new(const produce_options_t *o, char *errstr, size_t errlen)
{
    produce_emitter_t *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    e->stop = o->stop;
    int rc = o->csv_dir ? emit_open_csv(e, o->csv_dir, errstr, errlen)
                        : emit_open_kafka(e, o, errstr, errlen);
    if (rc == 0 && !o->csv_dir) {
        e->codec = koers_codec_new(errstr, errlen);
        rc = e->codec ? 0 : -1;
    }
    if (rc != 0) {
        long sent;
        produce_emitter_close(e, 0, &sent);
        return NULL;
    }
    return e;
}

static int emit_write_csv(FILE *f, const produce_row_t *row, const produce_columns_t *cols)
{
    for (int c = 0; c < cols->n; c++) {
        if (c && fputc(',', f) == EOF)
            return -1;
        const char *s = row->v[cols->place[c]];
        size_t len = row->len[cols->place[c]];
        if (strcspn(s, ",\"\r\n") < len) {
            fputc('"', f);
            for (size_t i = 0; i < len; i++) {
                if (s[i] == '"')
                    fputc('"', f);
                fputc(s[i], f);
            }
            fputc('"', f);
        } else if (fwrite(s, 1, len, f) != len) {
            return -1;
        }
    }
    return fputs("\r\n", f) == EOF ? -1 : 0;
}

int produce_emitter_send(produce_emitter_t *e, const koers_event_t *ev, const produce_row_t *row,
                         char *errstr, size_t errlen)
{
    if (!e->rk) {
        produce_columns_t cols;
        produce_columns(ev->type, &cols);
        if (emit_write_csv(e->csv[ev->type], row, &cols) != 0) {
            snprintf(errstr, errlen, "writing %s.csv: %s", koers_types[ev->type].name,
                     strerror(errno));
            return -1;
        }
        e->delivered++;
        return 0;
    }
    unsigned char buf[1024];
    size_t len;
    if (koers_codec_encode(e->codec, ev, buf, sizeof buf, &len, errstr, errlen) != 0)
        return -1;
    /* Keyed by participant, so that a participant's events stay in order; a statement about
     * a source by its source. */
    const char *msg_key = koers_types[ev->type].has_participant ? ev->participant : ev->source;
    for (;;) {
        if (rd_kafka_produce(e->topics[ev->type], RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, buf,
                             len, msg_key, strlen(msg_key), NULL) == 0)
            break;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || (e->stop && *e->stop)) {
            snprintf(errstr, errlen, "produce: %s", rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(e->rk, 100);
    }
    rd_kafka_poll(e->rk, 0);
    char fatal[512];
    if (rd_kafka_fatal_error(e->rk, fatal, sizeof fatal)) {
        snprintf(errstr, errlen, "kafka fatal error: %s", fatal);
        return -1;
    }
    return 0;
}

long produce_emitter_close(produce_emitter_t *e, int drain, long *sent)
{
    long failed = 0;
    if (e->rk) {
        /* Every queued event gets its delivery report: librdkafka fails each one that is not
         * acknowledged within message.timeout.ms (-X), so the wait is bounded by the one
         * setting a user tunes, not by a second deadline of ours that drops a queue a
         * restarting broker would still have taken. */
        while (drain && rd_kafka_flush(e->rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
            ;
        int left = rd_kafka_outq_len(e->rk);
        if (left)
            koers_log_error("%d event(s) still undelivered", left);
        failed = e->failed + left;
        if (e->failed)
            koers_log_error("%ld event(s) failed delivery, first: %s", e->failed,
                            e->first_error);
        for (int t = 0; t < KOERS_EVENT_TYPES; t++)
            if (e->topics[t])
                rd_kafka_topic_destroy(e->topics[t]);
        rd_kafka_destroy(e->rk);
    }
    for (int t = 0; t < KOERS_EVENT_TYPES; t++)
        if (e->csv[t] && fclose(e->csv[t]) != 0) {
            koers_log_error("closing %s.csv: %s", koers_types[t].name, strerror(errno));
            failed++;
        }
    koers_codec_free(e->codec);
    *sent = e->delivered;
    free(e);
    return failed;
}
