/* bench/raw_produce: librdkafka's raw producer speed on recorded koers messages, the baseline
 * of the producer benchmark (no encoding, no pseudonymisation: bytes in, bytes out). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/* One recorded message: the topic it came from (an index into topics[]), key and payload. */
typedef struct {
    int topic;
    char *key, *payload;
    size_t key_len, payload_len;
} raw_msg_t;

static long delivered, failed;

static void raw_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
    else
        delivered++;
}

static double raw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void raw_usage(void)
{
    fprintf(stderr,
            "Usage: raw_produce -b BROKERS -i DUMP -o TOPIC_PREFIX -n COUNT [-X key=value]...\n"
            "       raw_produce -b BROKERS -D TOPIC_PREFIX   (deletes the topics so named)\n"
            "DUMP holds records written by kcat -f '%%t\\t%%K\\t%%S\\n%%k%%s'. Each record is\n"
            "sent COUNT times over in total (cycling), to TOPIC_PREFIX + the part of its topic\n"
            "name after the last '.', with its own key. Prints messages/s on stdout.\n");
    exit(2);
}

/* Reads the dump into msgs; returns the number read, exits on malformed input. */
static size_t raw_load(const char *path, raw_msg_t **out, char topics[][256], int *ntopics)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "raw_produce: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    size_t n = 0, cap = 0;
    raw_msg_t *msgs = NULL;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char topic[256];
        long klen, plen;
        if (sscanf(line, "%255[^\t]\t%ld\t%ld", topic, &klen, &plen) != 3 || klen < 0 ||
            plen < 0) {
            fprintf(stderr, "raw_produce: %s: malformed record header after %zu records\n", path,
                    n);
            exit(2);
        }
        const char *dot = strrchr(topic, '.');
        const char *base = dot ? dot + 1 : topic;
        int t = 0;
        while (t < *ntopics && strcmp(topics[t], base) != 0)
            t++;
        if (t == *ntopics) {
            if (*ntopics == 16) {
                fprintf(stderr, "raw_produce: more than 16 topics\n");
                exit(2);
            }
            snprintf(topics[(*ntopics)++], 256, "%s", base);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            msgs = realloc(msgs, cap * sizeof *msgs);
            if (!msgs) {
                fprintf(stderr, "raw_produce: out of memory\n");
                exit(2);
            }
        }
        raw_msg_t *m = &msgs[n++];
        m->topic = t;
        m->key_len = (size_t)klen;
        m->payload_len = (size_t)plen;
        m->key = malloc(m->key_len + 1);
        m->payload = malloc(m->payload_len + 1);
        if (!m->key || !m->payload || fread(m->key, 1, m->key_len, f) != m->key_len ||
            fread(m->payload, 1, m->payload_len, f) != m->payload_len ||
            fgetc(f) != '\n') {
            fprintf(stderr, "raw_produce: %s: truncated record %zu\n", path, n);
            exit(2);
        }
    }
    fclose(f);
    *out = msgs;
    return n;
}

/* Creates the topics with 6 partitions, as koers creates its own (an existing one is fine). */
static void raw_create_topics(rd_kafka_t *rk, const char *prefix, char topics[][256], int ntopics)
{
    rd_kafka_NewTopic_t *nt[16];
    char errstr[512];
    for (int t = 0; t < ntopics; t++) {
        char name[600];
        snprintf(name, sizeof name, "%.200s%.255s", prefix, topics[t]);
        nt[t] = rd_kafka_NewTopic_new(name, 6, -1, errstr, sizeof errstr);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, (size_t)ntopics, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    for (int t = 0; t < ntopics; t++)
        rd_kafka_NewTopic_destroy(nt[t]);
}

/* Deletes every topic whose name starts with prefix (the benchmark's own). Returns 0 or 1. */
static int raw_delete_topics(rd_kafka_t *rk, const char *prefix)
{
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 1;
    rd_kafka_DeleteTopic_t *del[1024];
    size_t n = 0;
    for (int i = 0; i < md->topic_cnt && n < 1024; i++)
        if (strncmp(md->topics[i].topic, prefix, strlen(prefix)) == 0)
            del[n++] = rd_kafka_DeleteTopic_new(md->topics[i].topic);
    rd_kafka_metadata_destroy(md);
    if (n) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_DeleteTopics(rk, del, n, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_DeleteTopic_destroy_array(del, n);
    }
    printf("deleted %zu topic(s)\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    const char *brokers = getenv("KOERS_BROKERS"), *dump = NULL, *prefix = NULL, *delete = NULL;
    long count = 0;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int c;
    while ((c = getopt(argc, argv, "b:i:o:n:X:D:")) != -1) {
        switch (c) {
        case 'D': delete = optarg; break;
        case 'b': brokers = optarg; break;
        case 'i': dump = optarg; break;
        case 'o': prefix = optarg; break;
        case 'n': count = atol(optarg); break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq)
                raw_usage();
            *eq = '\0';
            if (rd_kafka_conf_set(conf, optarg, eq + 1, errstr, sizeof errstr) !=
                RD_KAFKA_CONF_OK) {
                fprintf(stderr, "raw_produce: %s\n", errstr);
                return 2;
            }
            break;
        }
        default: raw_usage();
        }
    }
    if (brokers && delete && strlen(delete) >= 3) {
        rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
        rd_kafka_t *admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!admin)
            return 2;
        int rc = raw_delete_topics(admin, delete);
        rd_kafka_destroy(admin);
        return rc;
    }
    if (!brokers || !dump || !prefix || count <= 0 || strlen(prefix) > 200)
        raw_usage();
    char topics[16][256];
    int ntopics = 0;
    raw_msg_t *msgs;
    size_t n = raw_load(dump, &msgs, topics, &ntopics);
    if (n == 0) {
        fprintf(stderr, "raw_produce: %s holds no records\n", dump);
        return 2;
    }
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "raw_produce: %s\n", errstr);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, raw_on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "raw_produce: %s\n", errstr);
        return 2;
    }
    raw_create_topics(rk, prefix, topics, ntopics);
    rd_kafka_topic_t *rkt[16];
    for (int t = 0; t < ntopics; t++) {
        char name[600];
        snprintf(name, sizeof name, "%.200s%.255s", prefix, topics[t]);
        rkt[t] = rd_kafka_topic_new(rk, name, NULL);
    }
    /* Metadata first, so that the timed loop measures producing and not the first lookup. */
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);

    double t0 = raw_now();
    for (long i = 0; i < count; i++) {
        raw_msg_t *m = &msgs[(size_t)i % n];
        while (rd_kafka_produce(rkt[m->topic], RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                m->payload, m->payload_len, m->key, m->key_len, NULL) != 0) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "raw_produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
                return 3;
            }
            rd_kafka_poll(rk, 100);
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double secs = raw_now() - t0;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += msgs[i].payload_len;
    printf("messages=%ld delivered=%ld failed=%ld seconds=%.3f per_second=%.0f avg_bytes=%.1f\n",
           count, delivered, failed, secs, delivered / secs, (double)bytes / (double)n);
    for (int t = 0; t < ntopics; t++)
        rd_kafka_topic_destroy(rkt[t]);
    rd_kafka_destroy(rk);
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].key);
        free(msgs[i].payload);
    }
    free(msgs);
    return failed || delivered != count ? 3 : 0;
}
