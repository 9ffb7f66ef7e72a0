/* What producers and consumers share about Kafka: configuration and topic names. */
#ifndef KOERS_KAFKA_H
#define KOERS_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "koers/catalog.h"
#include "koers/config.h"

#define KOERS_DEFAULT_TOPIC_PREFIX "koers."
#define KOERS_DEAD_LETTER "dead_letter"

/* Sets "key=value" (as given to -X) on conf. Returns 0, or -1 with the reason. */
int koers_kafka_conf_set_kv(rd_kafka_conf_t *conf, const char *kv, char *errstr, size_t errlen);

/* Returns a new configuration with bootstrap.servers from brokers (when not NULL) or
 * KOERS_BROKERS, then every -X setting in xs applied in order, so -X wins, and
 * koers_kafka_log as its log callback. The caller owns it. Returns NULL with errstr on a
 * bad setting. */
rd_kafka_conf_t *koers_kafka_conf_new(const char *brokers, char **xs, size_t nxs, char *errstr,
                                      size_t errlen);

/* Applies the Kafka properties of cfg (kafka.* keys of its file, then -X, one value per
 * key) to conf. Returns 0, or -1 with "where: key: reason" in errstr. */
int koers_kafka_conf_apply(rd_kafka_conf_t *conf, const koers_config_t *cfg, char *errstr,
                           size_t errlen);

/* librdkafka's log callback that writes through koers' logger (logfmt or JSON), with the
 * client's name and librdkafka's facility as extra fields. koers_kafka_conf_new sets it. */
void koers_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* The topic prefix: prefix when not NULL, else KOERS_TOPIC_PREFIX, else the default. */
const char *koers_kafka_topic_prefix(const char *prefix);

/* Writes prefix + name into out. Returns 0, or -1 if it does not fit. */
int koers_kafka_topic_name(const char *prefix, const char *name, char *out, size_t outlen);

/* Creates the topics of every event type and the dead-letter topic when missing, with
 * partitions partitions each, replication factor -1 (the broker's default) and unlimited
 * retention (they are the store a rebuild replays from). Existing
 * topics are left as they are. Returns 0, or -1 with errstr. */
int koers_kafka_ensure_topics(rd_kafka_t *rk, const char *prefix, int partitions, char *errstr,
                              size_t errlen);

#endif
