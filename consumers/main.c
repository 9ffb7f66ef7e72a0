/* koers-consume: Kafka events into PostgreSQL, exactly once, with offsets in the database. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consume.h"
#include "koers/cli.h"
#include "koers/config.h"
#include "koers/kafka.h"
#include "koers/log.h"

static volatile sig_atomic_t stop_requested;

static void main_on_signal(int sig)
{
    if (stop_requested)
        _exit(128 + sig);
    stop_requested = 1;
}

/* --until-caught-up: one partition of a subscribed topic and the end it had at start. */
typedef struct {
    char topic[256];
    int32_t partition;
    int64_t end;  /* high watermark when the program started */
    int64_t next; /* the next offset known read (here, or stored for the group); -1: none */
    int done;     /* next >= end */
} main_target_t;

typedef struct {
    consume_sink_t *sink;
    main_target_t *targets; /* every partition of every subscribed topic (--until-caught-up) */
    int ntargets, ndone;
    int failed;
} main_app_t;

/* The dead-letter producer gets every -X setting too (TLS and SASL apply to both), so
 * silence its warnings about consumer-only properties. */
static void main_on_dead_letter_log(const rd_kafka_t *rk, int level, const char *fac,
                                    const char *buf)
{
    if (strcmp(fac, "CONFWARN") != 0)
        koers_kafka_log(rk, level, fac, buf);
}

/* What a configuration file (-c), the environment or a flag may set; see --dump-config. */
static const koers_setting_t main_settings[] = {
    {"dbname", NULL, "", KOERS_SETTING_CONNINFO, 0, 0, 0, NULL},
    {"brokers", "KOERS_BROKERS", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"group", "KOERS_GROUP", "koers", KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"topic.prefix", "KOERS_TOPIC_PREFIX", KOERS_DEFAULT_TOPIC_PREFIX,
     KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"partitions", "KOERS_PARTITIONS", "6", KOERS_SETTING_INT, 1, 100000, 0, NULL},
    {"batch.size", "KOERS_BATCH_SIZE", "5000", KOERS_SETTING_INT, 1, 1000000, 0,
     NULL},
    {"batch.wait.ms", "KOERS_BATCH_WAIT_MS", "200", KOERS_SETTING_INT, 0,
     100000, 0, NULL},
    {"log.format", KOERS_LOG_FORMAT_ENV, "logfmt", KOERS_SETTING_TEXT, 0, 0, 0,
     koers_log_formats},
    {"schema.dir", "KOERS_SCHEMA_DIR", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
};

enum { MAIN_UNTIL = 1, MAIN_MIGRATE };

/* Every option once: getopt_long's tables and the usage are made from it. */
static const koers_option_t main_options[] = {
    {"config", 'c', "FILE", KOERS_OPT_CONFIG, NULL, NULL,
     "configuration file, key=value lines (default: $KOERS_CONFIG; none if unset). "
     "Precedence: file < environment < flags.", NULL},
    {"dump-config", 0, NULL, KOERS_OPT_DUMP, NULL, NULL,
     "print the effective settings (secrets redacted), exit", NULL},
    {"log-format", 0, "F", KOERS_OPT_SETTING, "log.format", NULL, "logfmt or json", NULL},
    {"dbname", 'd', "CONNINFO", KOERS_OPT_SETTING, "dbname", NULL,
     "libpq connection string or URI (default: PG* environment; a PG* variable wins over the "
     "same parameter in the file)", NULL},
    {"brokers", 'b', "LIST", KOERS_OPT_SETTING, "brokers", NULL, "bootstrap servers", NULL},
    {NULL, 'X', "KEY=VALUE", KOERS_OPT_X, NULL, NULL,
     "librdkafka property, passed through (repeatable); wins over the file's kafka.KEY", NULL},
    {"group", 'g', "ID", KOERS_OPT_SETTING, "group", NULL, "consumer group", NULL},
    {"topic-prefix", 0, "P", KOERS_OPT_SETTING, "topic.prefix", NULL, "topic prefix", NULL},
    {"partitions", 0, "N", KOERS_OPT_SETTING, "partitions", NULL,
     "partitions of topics created now", NULL},
    {"batch-size", 0, "N", KOERS_OPT_SETTING, "batch.size", NULL,
     "events per transaction at most", NULL},
    {"batch-wait-ms", 0, "MS", KOERS_OPT_SETTING, "batch.wait.ms", NULL,
     "longest an event waits in an open batch", NULL},
    {"until-caught-up", 0, NULL, MAIN_UNTIL, NULL, NULL,
     "exit once every partition of every event topic has been read up to the end it had when "
     "the program started (by this process, or stored for the group by another member)", NULL},
    {"schema-dir", 0, "DIR", KOERS_OPT_SETTING, "schema.dir", NULL,
     "also read messages written with the schemas DIR/*.avsc (other versions of the event "
     "schemas); without it they are dead-lettered (the earlier versions in schemas/history "
     "are always read)", NULL},
    {"migrate", 0, NULL, MAIN_MIGRATE, NULL, NULL, "apply the database migrations, then exit",
     NULL},
    {"help", 'h', NULL, KOERS_OPT_HELP, NULL, NULL, "show this help", NULL},
    {"version", 'V', NULL, KOERS_OPT_VERSION, NULL, NULL, "show the version", NULL},
};

static void main_usage(FILE *out)
{
    fprintf(out,
        "Usage: koers-consume [OPTION]...\n"
        "Read koers events from Kafka and store them in PostgreSQL (schema koers), with the\n"
        "consumed offsets in the same transaction. Undecodable or contract-breaking messages\n"
        "go to <prefix>dead_letter and koers.rejected_events.\n"
        "\n");
    koers_cli_usage(out, main_options, KOERS_CLI_N(main_options), main_settings,
                    KOERS_CLI_N(main_settings));
    fprintf(out,
        "\n"
        "SIGINT or SIGTERM: finish and commit the open batch, leave the group, exit 0.\n"
        "Exit status: 0 done; 1 database failure (nothing half-stored); 2 usage or\n"
        "configuration error; 3 Kafka error.\n");
}

typedef struct {
    int until, migrate;
} main_flags_t;

static int main_own_option(void *ctx, int id, const char *arg, char *errstr, size_t errlen)
{
    (void)arg;
    (void)errstr;
    (void)errlen;
    main_flags_t *f = ctx;
    if (id == MAIN_UNTIL)
        f->until = 1;
    else
        f->migrate = 1;
    return 0;
}

static main_target_t *main_find_target(main_app_t *a, const char *topic, int32_t partition)
{
    for (int i = 0; i < a->ntargets; i++)
        if (a->targets[i].partition == partition && strcmp(a->targets[i].topic, topic) == 0)
            return &a->targets[i];
    return NULL;
}

/* Offset `next` of a partition is known read: the next message to read there is `next`. */
static void main_reached(main_app_t *a, const char *topic, int32_t partition, int64_t next)
{
    main_target_t *t = main_find_target(a, topic, partition);
    if (!t || next < 0)
        return;
    if (next > t->next)
        t->next = next;
    if (!t->done && t->next >= t->end) {
        t->done = 1;
        a->ndone++;
    }
}

/* The partitions of every subscribed topic and their high watermarks, taken once at start:
 * what --until-caught-up must read. A topic just created may have no leader yet; retries
 * for up to 60 s. Returns 0, or -1 with errstr. */
static int main_load_targets(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *topics,
                             main_app_t *a, char *errstr, size_t errlen)
{
    time_t deadline = time(NULL) + 60;
    for (int i = 0; i < topics->cnt; i++) {
        const char *name = topics->elems[i].topic;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        for (;;) {
            rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
            if (!rkt) {
                snprintf(errstr, errlen, "topic %s: %s", name, rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
            }
            err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
            rd_kafka_topic_destroy(rkt);
            if (!err && md->topic_cnt != 1)
                err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
            else if (!err && md->topics[0].err)
                err = md->topics[0].err;
            if (!err && md->topics[0].partition_cnt > 0)
                break;
            if (md) {
                rd_kafka_metadata_destroy(md);
                md = NULL;
            }
            if (stop_requested || time(NULL) >= deadline) {
                snprintf(errstr, errlen, "the partitions of %s: %s", name,
                         err ? rd_kafka_err2str(err) : "none");
                return -1;
            }
            usleep(200000);
        }
        const rd_kafka_metadata_topic_t *mt = &md->topics[0];
        main_target_t *nt = realloc(a->targets, (size_t)(a->ntargets + mt->partition_cnt) * sizeof *nt);
        if (!nt) {
            rd_kafka_metadata_destroy(md);
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
        a->targets = nt;
        for (int p = 0; p < mt->partition_cnt; p++) {
            int64_t lo = 0, hi = 0;
            int32_t id = mt->partitions[p].id;
            while ((err = rd_kafka_query_watermark_offsets(rk, name, id, &lo, &hi, 10000)) != 0) {
                if (stop_requested || time(NULL) >= deadline) {
                    rd_kafka_metadata_destroy(md);
                    snprintf(errstr, errlen, "the end of %s [%d]: %s", name, (int)id,
                             rd_kafka_err2str(err));
                    return -1;
                }
                usleep(200000);
            }
            main_target_t *t = &a->targets[a->ntargets++];
            snprintf(t->topic, sizeof t->topic, "%s", name);
            t->partition = id;
            t->end = hi;
            t->next = -1;
            t->done = hi <= lo; /* nothing there (or nothing left) to read */
            a->ndone += t->done;
        }
        rd_kafka_metadata_destroy(md);
    }
    return 0;
}

/* Partitions that another member of the group (or an earlier run) has stored past their
 * end count as read: the offsets in the database are the group's progress. Returns 0, or
 * -1 when the database could not be read. */
static int main_check_stored(main_app_t *a)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(a->ntargets - a->ndone);
    if (!l)
        return -1;
    for (int i = 0; i < a->ntargets; i++)
        if (!a->targets[i].done)
            rd_kafka_topic_partition_list_add(l, a->targets[i].topic, a->targets[i].partition);
    char errstr[512];
    int rc = consume_sink_load_offsets(a->sink, l, errstr, sizeof errstr);
    if (rc != 0)
        koers_log_error("%s", errstr);
    for (int i = 0; rc == 0 && i < l->cnt; i++)
        main_reached(a, l->elems[i].topic, l->elems[i].partition, l->elems[i].offset);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* Says which partitions --until-caught-up still waits for (the first few). */
static void main_log_waiting(const main_app_t *a)
{
    char list[512] = "";
    size_t at = 0;
    int shown = 0;
    for (int i = 0; i < a->ntargets && shown < 4; i++) {
        const main_target_t *t = &a->targets[i];
        if (t->done)
            continue;
        int n = snprintf(list + at, sizeof list - at, "%s%s[%d] at %lld of %lld", shown ? ", " : "",
                         t->topic, (int)t->partition, (long long)(t->next < 0 ? 0 : t->next),
                         (long long)t->end);
        if (n < 0 || (size_t)n >= sizeof list - at)
            break;
        at += (size_t)n;
        shown++;
    }
    koers_log_info("caught up on %d of %d partition(s); waiting for %s", a->ndone, a->ntargets, list);
}

/* Offsets live in PostgreSQL: on assignment, start each partition where the database says;
 * before giving partitions up, store the open batch so the next owner starts after it. */
static void main_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    main_app_t *a = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    char errstr[512];
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (consume_sink_load_offsets(a->sink, parts, errstr, sizeof errstr) != 0) {
            koers_log_error("%s", errstr);
            a->failed = 1;
            stop_requested = 1;
            return;
        }
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        koers_log_info("assigned %d partition(s)", parts->cnt);
    } else {
        if (consume_sink_flush(a->sink) != 0)
            a->failed = 1;
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
        koers_log_info("gave up %d partition(s)", parts->cnt);
    }
    if (e) {
        koers_log_error("rebalance: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static int main_migrate(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        koers_log_error("connecting to PostgreSQL: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    char errstr[1024];
    int n = consume_migrate(conn, errstr, sizeof errstr);
    PQfinish(conn);
    if (n < 0) {
        koers_log_error("migration failed: %s", errstr);
        return 1;
    }
    koers_log_info("%d step(s) applied (migrations, and the definitions when they changed); the database is current", n);
    return 0;
}

int main(int argc, char **argv)
{
    const char *brokers, *prefix, *group;
    char *conninfo = NULL;
    long partitions, batch_size, batch_wait;
    char errstr[512];
    koers_config_t *cfg = koers_config_new("koers-consume", main_settings,
                                           KOERS_CLI_N(main_settings));
    if (!cfg) {
        koers_log_error("out of memory");
        return 2;
    }
    koers_cli_t cli;
    main_flags_t flags = {0};
    int first = koers_cli_parse(argc, argv, main_options, KOERS_CLI_N(main_options), 0, cfg,
                                &cli, main_own_option, &flags, errstr, sizeof errstr);
    if (first >= 0 && (cli.help || cli.version)) {
        if (cli.help)
            main_usage(stdout);
        else
            printf("koers-consume %s (librdkafka %s, libpq %d)\n", KOERS_VERSION,
                   rd_kafka_version_str(), PQlibVersion());
        koers_config_free(cfg);
        return 0;
    }
    if (first >= 0 && first != argc)
        snprintf(errstr, sizeof errstr, "unexpected argument '%s'", argv[first]);
    if (first < 0 || first != argc) {
        koers_log_error("%s", errstr);
        fprintf(stderr, "Try 'koers-consume --help'.\n");
        koers_config_free(cfg);
        return 2;
    }
    int until = flags.until, migrate = flags.migrate, dump = cli.dump;
    if (koers_config_resolve(cfg, cli.config_path, errstr, sizeof errstr) != 0 ||
        !(conninfo = koers_config_conninfo(cfg, "dbname", errstr, sizeof errstr))) {
        koers_log_error("%s", errstr);
        koers_config_free(cfg);
        return 2;
    }
    koers_log_set_format(koers_config_get(cfg, "log.format"));
    if (dump) {
        /* Kafka properties are checked too, so that a dump shows a configuration that runs. */
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        int drc = 0;
        if (!kc || koers_kafka_conf_apply(kc, cfg, errstr, sizeof errstr) != 0) {
            koers_log_error("%s", kc ? errstr : "out of memory");
            drc = 2;
        } else if (koers_config_dump(cfg, stdout) != 0) {
            drc = 3;
        }
        if (kc)
            rd_kafka_conf_destroy(kc);
        free(conninfo);
        koers_config_free(cfg);
        return drc;
    }
    if (migrate) {
        int mrc = main_migrate(conninfo);
        free(conninfo);
        koers_config_free(cfg);
        return mrc;
    }
    brokers = koers_config_get(cfg, "brokers");
    prefix = koers_config_get(cfg, "topic.prefix");
    group = koers_config_get(cfg, "group");
    partitions = koers_config_get_long(cfg, "partitions");
    batch_size = koers_config_get_long(cfg, "batch.size");
    batch_wait = koers_config_get_long(cfg, "batch.wait.ms");

    struct sigaction sa = {0};
    sa.sa_handler = main_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc = 2;
    main_app_t app = {0};
    rd_kafka_t *consumer = NULL, *dead_letter = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    koers_codec_t *codec = NULL;

    rd_kafka_conf_t *conf = koers_kafka_conf_new(brokers, NULL, 0, errstr, sizeof errstr);
    if (!conf || koers_kafka_conf_apply(conf, cfg, errstr, sizeof errstr) != 0 ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr)) {
        koers_log_error("%s", errstr);
        if (conf)
            rd_kafka_conf_destroy(conf);
        goto out;
    }
    rd_kafka_conf_set_log_cb(conf, main_on_dead_letter_log);
    dead_letter = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!dead_letter) {
        koers_log_error("kafka producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    /* What the design relies on comes first; the file's kafka.* and -X are applied after
     * it, for tuning. */
    static const char *const defaults[][2] = {
        {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"}, {"enable.partition.eof", "true"},
        /* Memory stays bounded whatever the backlog (bench/run measures it): librdkafka's
         * defaults prefetch up to 64 MiB plus 50 MiB fetches; 16 MiB (four batches) keep
         * the database, the bottleneck, fed. A full queue backs fetching off for
         * fetch.error.backoff.ms (500 by default), which would starve it: 50. */
        {"queued.max.messages.kbytes", "16384"}, {"queued.min.messages", "20000"},
        {"fetch.max.bytes", "2097152"}, {"max.partition.fetch.bytes", "262144"},
        {"fetch.error.backoff.ms", "50"}};
    conf = koers_kafka_conf_new(brokers, NULL, 0, errstr, sizeof errstr);
    if (!conf) {
        koers_log_error("%s", errstr);
        goto out;
    }
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, sizeof errstr);
    if (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        koers_log_error("group.id: %s", errstr);
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    if (koers_kafka_conf_apply(conf, cfg, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", errstr);
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    rd_kafka_conf_set_rebalance_cb(conf, main_on_rebalance);
    rd_kafka_conf_set_opaque(conf, &app);
    consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!consumer) {
        koers_log_error("kafka consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    conf = NULL; /* rd_kafka_new took it */
    rd_kafka_poll_set_consumer(consumer);
    rc = 3;
    if (koers_kafka_ensure_topics(consumer, prefix, (int)partitions, errstr, sizeof errstr)) {
        koers_log_error("%s", errstr);
        goto out;
    }
    rc = 1;
    codec = koers_codec_new(errstr, sizeof errstr);
    if (!codec) {
        koers_log_error("%s", errstr);
        goto out;
    }
    const char *schema_dir = koers_config_get(cfg, "schema.dir");
    int loaded;
    if (schema_dir &&
        koers_codec_add_writer_dir(codec, schema_dir, &loaded, errstr, sizeof errstr) != 0) {
        koers_log_error("--schema-dir %s", errstr);
        rc = 2;
        goto out;
    }
    if (schema_dir)
        koers_log_info("%d writer schema(s) read from %s", loaded, schema_dir);
    consume_sink_options_t so = {.conninfo = conninfo, .group = group, .prefix = prefix,
                                 .batch_size = (int)batch_size, .batch_wait_ms = (int)batch_wait,
                                 .dead_letter = dead_letter, .codec = codec,
                                 .stop = &stop_requested};
    app.sink = consume_sink_new(&so, errstr, sizeof errstr);
    if (!app.sink) {
        koers_log_error("%s", errstr);
        goto out;
    }
    topics = rd_kafka_topic_partition_list_new(KOERS_EVENT_TYPES);
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        char name[256];
        koers_kafka_topic_name(prefix, koers_types[t].name, name, sizeof name);
        rd_kafka_topic_partition_list_add(topics, name, RD_KAFKA_PARTITION_UA);
    }
    /* The ends are taken before subscribing: what arrives later is not waited for. */
    if (until && main_load_targets(consumer, topics, &app, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", errstr);
        rc = 3;
        goto out;
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer, topics);
    if (err) {
        koers_log_error("subscribing: %s", rd_kafka_err2str(err));
        rc = 3;
        goto out;
    }
    int progress = isatty(STDERR_FILENO);
    time_t last_progress = 0, last_stored_check = time(NULL), last_waiting_log = time(NULL);
    rc = 0;
    while (!stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
        if (m) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                /* The end of the partition as fetched now: offset is the next one. */
                main_reached(&app, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
            } else if (m->err) {
                koers_log_warn("kafka: %s", rd_kafka_message_errstr(m));
                if (rd_kafka_fatal_error(consumer, errstr, sizeof errstr)) {
                    koers_log_error("kafka fatal error: %s", errstr);
                    rc = 3;
                    stop_requested = 1;
                }
            } else {
                if (consume_sink_add(app.sink, m) != 0)
                    app.failed = 1;
                main_reached(&app, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
            }
            rd_kafka_message_destroy(m);
        }
        if (consume_sink_tick(app.sink) != 0)
            app.failed = 1;
        if (app.failed)
            break;
        if (until && app.ndone < app.ntargets && time(NULL) - last_stored_check >= 1) {
            /* Partitions read by another member of the group are not fetched here. */
            if (main_check_stored(&app) != 0)
                app.failed = 1;
            last_stored_check = time(NULL);
            if (app.ndone < app.ntargets && last_stored_check - last_waiting_log >= 10) {
                main_log_waiting(&app);
                last_waiting_log = last_stored_check;
            }
        }
        if (app.failed)
            break;
        if (until && app.ndone == app.ntargets)
            break;
        if (progress && time(NULL) != last_progress) {
            long stored, dups, rejected;
            consume_sink_counts(app.sink, &stored, &dups, &rejected);
            fprintf(stderr, "\rstored %ld, duplicates %ld, rejected %ld ", stored, dups, rejected);
            last_progress = time(NULL);
        }
    }
    if (progress)
        fputc('\n', stderr);
    if (!app.failed && consume_sink_flush(app.sink) != 0)
        app.failed = 1;
out:
    if (consumer) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    if (app.sink) {
        long stored, dups, rejected;
        consume_sink_counts(app.sink, &stored, &dups, &rejected);
        koers_log_info("stored %ld new event(s), %ld already present, %ld rejected", stored, dups,
                       rejected);
        consume_sink_free(app.sink);
    }
    koers_codec_free(codec);
    if (app.failed && rc == 0)
        rc = 1;
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    if (dead_letter) {
        rd_kafka_flush(dead_letter, 10000);
        rd_kafka_destroy(dead_letter);
    }
    free(app.targets);
    free(conninfo);
    koers_config_free(cfg);
    return rc;
}
