/* Kafka configuration, topic names and topic creation shared by producer and consumer. */
#include "koers/kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/log.h"

int koers_kafka_conf_set_kv(rd_kafka_conf_t *conf, const char *kv, char *errstr, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(errstr, errlen, "-X %s: expected key=value", kv);
        return -1;
    }
    char key[256];
    size_t klen = (size_t)(eq - kv);
    if (klen >= sizeof key) {
        snprintf(errstr, errlen, "-X %.40s...: key too long", kv);
        return -1;
    }
    memcpy(key, kv, klen);
    key[klen] = '\0';
    char why[512];
    if (rd_kafka_conf_set(conf, key, eq + 1, why, sizeof why) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errlen, "-X %s: %s", key, why);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *koers_kafka_conf_new(const char *brokers, char **xs, size_t nxs, char *errstr,
                                      size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, koers_kafka_log);
    if (!brokers)
        brokers = getenv("KOERS_BROKERS");
    char why[512];
    if (brokers &&
        rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why, sizeof why) !=
            RD_KAFKA_CONF_OK) {
        snprintf(errstr, errlen, "bootstrap.servers: %s", why);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; i < nxs; i++) {
        if (koers_kafka_conf_set_kv(conf, xs[i], errstr, errlen) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

int koers_kafka_conf_apply(rd_kafka_conf_t *conf, const koers_config_t *cfg, char *errstr,
                           size_t errlen)
{
    size_t n = koers_config_kafka_count(cfg);
    for (size_t i = 0; i < n; i++) {
        const char *key, *value, *where;
        char why[512];
        koers_config_kafka_get(cfg, i, &key, &value, &where);
        if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errlen, "%s: %s: %s", where, key, why);
            return -1;
        }
    }
    return 0;
}

void koers_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* librdkafka uses syslog levels: 0..3 errors, 4 warning, 5..6 notice and info, 7 debug. */
    koers_log_level_t l = level <= 3 ? KOERS_LOG_ERROR : level == 4 ? KOERS_LOG_WARN
                        : level <= 6 ? KOERS_LOG_INFO : KOERS_LOG_DEBUG;
    const char *kv[] = {"kafka_client", rk ? rd_kafka_name(rk) : NULL, "kafka_facility", fac};
    koers_log_kv(l, kv, 2, "%s", buf);
}

const char *koers_kafka_topic_prefix(const char *prefix)
{
    if (prefix)
        return prefix;
    const char *env = getenv("KOERS_TOPIC_PREFIX");
    return env ? env : KOERS_DEFAULT_TOPIC_PREFIX;
}

int koers_kafka_topic_name(const char *prefix, const char *name, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s%s", prefix, name);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int koers_kafka_ensure_topics(rd_kafka_t *rk, const char *prefix, int partitions, char *errstr,
                              size_t errlen)
{
    enum { NTOPICS = KOERS_EVENT_TYPES + 1 };
    char names[NTOPICS][256];
    rd_kafka_NewTopic_t *topics[NTOPICS] = {0};
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    int rc = -1;
    char why[512];

    for (int i = 0; i < NTOPICS; i++) {
        const char *base = i < KOERS_EVENT_TYPES ? koers_types[i].name : KOERS_DEAD_LETTER;
        if (koers_kafka_topic_name(prefix, base, names[i], sizeof names[i]) != 0) {
            snprintf(errstr, errlen, "topic prefix too long");
            goto out;
        }
        topics[i] = rd_kafka_NewTopic_new(names[i], partitions, -1, why, sizeof why);
        if (!topics[i]) {
            snprintf(errstr, errlen, "topic %s: %s", names[i], why);
            goto out;
        }
        /* The topics are the raw store a rebuild replays from: keep every event. */
        rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(topics[i], "retention.ms", "-1");
        if (err) {
            snprintf(errstr, errlen, "topic %s: retention.ms: %s", names[i], rd_kafka_err2str(err));
            goto out;
        }
    }
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    q = rd_kafka_queue_new(rk);
    if (!opts || !q) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, why, sizeof why);
    rd_kafka_AdminOptions_set_request_timeout(opts, 30000, why, sizeof why);
    rd_kafka_CreateTopics(rk, topics, NTOPICS, opts, q);
    ev = rd_kafka_queue_poll(q, 60000);
    if (!ev) {
        snprintf(errstr, errlen, "creating topics: no answer from the cluster within 60 s");
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errlen, "creating topics: %s", rd_kafka_event_error_string(ev));
        goto out;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(errstr, errlen, "creating topic %s: %s", rd_kafka_topic_result_name(tr[i]),
                     rd_kafka_topic_result_error_string(tr[i]));
            goto out;
        }
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    for (int i = 0; i < NTOPICS; i++)
        if (topics[i])
            rd_kafka_NewTopic_destroy(topics[i]);
    return rc;
}
