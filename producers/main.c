/* koers-produce: registrations (CSV exports, or a synthetic cohort) to Kafka as Avro events. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "koers/config.h"
#include "koers/kafka.h"
#include "koers/log.h"
#include "koers/timeutil.h"
#include "produce.h"

static volatile sig_atomic_t stop_requested;

static void main_on_signal(int sig)
{
    if (stop_requested)
        _exit(128 + sig);
    stop_requested = 1;
}

/* How import reads CSV files. A spreadsheet in a Dutch locale saves semicolons,
 * Windows-1252 and day-first dates; the separator can be detected, the others cannot. */
static const char *const main_delimiters[] = {"auto", ",", ";", "comma", "semicolon", NULL};
static const char *const main_encodings[] = {"utf-8", "windows-1252", "cp1252", NULL};
static const char *const main_date_orders[] = {"iso", "dmy", NULL};

/* What a configuration file (-c), the environment or a flag may set; see --dump-config. */
static const koers_setting_t main_settings[] = {
    {"brokers", "--brokers", "KOERS_BROKERS", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"topic.prefix", "--topic-prefix", "KOERS_TOPIC_PREFIX", KOERS_DEFAULT_TOPIC_PREFIX,
     KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"partitions", "--partitions", "KOERS_PARTITIONS", "6", KOERS_SETTING_INT, 1, 10000, 0, NULL},
    {"key.file", "--key-file", "KOERS_KEY_FILE", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"time.zone", "--time-zone", "KOERS_TIME_ZONE", KOERS_DEFAULT_TIME_ZONE, KOERS_SETTING_TEXT,
     0, 0, 0, NULL},
    {"log.format", "--log-format", KOERS_LOG_FORMAT_ENV, "logfmt", KOERS_SETTING_TEXT, 0, 0, 0,
     koers_log_formats},
    {"csv.delimiter", "--delimiter", "KOERS_CSV_DELIMITER", "auto", KOERS_SETTING_TEXT, 0, 0, 0,
     main_delimiters},
    {"csv.encoding", "--encoding", "KOERS_CSV_ENCODING", "utf-8", KOERS_SETTING_TEXT, 0, 0, 0,
     main_encodings},
    {"csv.date.order", "--date-order", "KOERS_DATE_ORDER", "iso", KOERS_SETTING_TEXT, 0, 0, 0,
     main_date_orders},
};

/* The import settings, checked against their choices by koers_config_resolve. */
static void main_get_import_settings(const koers_config_t *cfg, produce_import_t *imp)
{
    const char *d = koers_config_get(cfg, "csv.delimiter");
    imp->delimiter = strcmp(d, ",") == 0 || strcmp(d, "comma") == 0       ? ','
                     : strcmp(d, ";") == 0 || strcmp(d, "semicolon") == 0 ? ';'
                                                                          : 0;
    imp->encoding = strcmp(koers_config_get(cfg, "csv.encoding"), "utf-8") == 0
                        ? KOERS_CSV_UTF8
                        : KOERS_CSV_WINDOWS_1252;
    imp->date_order = strcmp(koers_config_get(cfg, "csv.date.order"), "dmy") == 0
                          ? KOERS_DATE_DMY
                          : KOERS_DATE_ISO;
}

static void main_usage(FILE *out)
{
    fprintf(out,
        "Usage: koers-produce import [OPTION]... PATH...\n"
        "       koers-produce synth [OPTION]...\n"
        "Send registrations to Kafka as Avro single-object encoded events, one topic per\n"
        "event type (<prefix><event type>), keyed by the participant's pseudonym (a\n"
        "coverage statement, which is about a source, by its source).\n"
        "\n"
        "import reads CSV files named after their event type (enrolment.csv, contact.csv,\n"
        "crisis.csv, goal_change.csv, police_call.csv, coverage.csv, correction.csv), or\n"
        "directories holding them. Bad rows are refused with file:line: column: reason and not sent;\n"
        "the good rows around them are sent.\n"
        "Exports saved by a spreadsheet in a Dutch locale: --encoding windows-1252\n"
        "--date-order dmy (the semicolons are detected).\n"
        "synth makes a synthetic cohort; the same seed gives the same events (registrations\n"
        "the story places after today are held back until then).\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE       configuration file, key=value lines (default:\n"
        "                          $KOERS_CONFIG; none if unset). Precedence: file <\n"
        "                          environment < flags. Keys: brokers, topic.prefix,\n"
        "                          partitions, key.file, time.zone, log.format,\n"
        "                          csv.delimiter, csv.encoding, csv.date.order, and\n"
        "                          kafka.<librdkafka property>\n"
        "      --dump-config       print the effective settings (secrets redacted), exit\n"
        "      --log-format F      logfmt (default) or json (default: $KOERS_LOG_FORMAT)\n"
        "  -b, --brokers LIST      bootstrap servers (default: $KOERS_BROKERS)\n"
        "  -X KEY=VALUE            librdkafka property, passed through (repeatable); wins\n"
        "                          over the file's kafka.KEY\n"
        "      --topic-prefix P    topic prefix (default: $KOERS_TOPIC_PREFIX or koers.)\n"
        "      --partitions N      partitions of topics created now (default: \n"
        "                          $KOERS_PARTITIONS or 6)\n"
        "      --key-file FILE     pseudonymisation key (default: $KOERS_KEY_FILE); must not\n"
        "                          be readable by group or others\n"
        "      --time-zone ZONE    zone of date-only values (default: $KOERS_TIME_ZONE or\n"
        "                          Europe/Amsterdam)\n"
        "import options:\n"
        "      --delimiter SEP     field separator: ',' (or comma), ';' (or semicolon), or\n"
        "                          auto: detected from each file's header (default:\n"
        "                          $KOERS_CSV_DELIMITER or auto)\n"
        "      --encoding ENC      utf-8, or windows-1252 (cp1252), converted to UTF-8\n"
        "                          (default: $KOERS_CSV_ENCODING or utf-8)\n"
        "      --date-order ORDER  iso: occurred_at is ISO 8601 only; dmy: also day first,\n"
        "                          14-03-2025 or 14-3-2025 10:30 (a local time in the zone of\n"
        "                          --time-zone); never guessed (default: $KOERS_DATE_ORDER\n"
        "                          or iso)\n"
        "synth options:\n"
        "      --participants N    participants (default 50)\n"
        "      --months M          months of programme after --start (default 24)\n"
        "      --seed S            random seed (default 1)\n"
        "      --start DATE        first possible enrolment day (default 2024-01-01)\n"
        "      --cohort NAME       cohort name (default demo)\n"
        "      --now TIME          the moment the cohort is taken at: what would be recorded\n"
        "                          after it is not sent (ISO 8601; default: the clock, so\n"
        "                          two runs of a seed can differ; fix it to repeat a run)\n"
        "      --csv DIR           write DIR/<event type>.csv instead of sending\n"
        "                          (without --key-file, synth derives a key from the seed)\n"
        "  -h, --help              show this help\n"
        "  -V, --version           show the version\n"
        "\n"
        "Exit status: 0 all sent; 1 some input refused (the rest was sent); 2 usage or\n"
        "configuration error; 3 Kafka or output failure (some events not delivered);\n"
        "130 interrupted.\n");
}

static int main_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_PREFIX = 256, O_PARTITIONS, O_KEY, O_TZ, O_PARTICIPANTS, O_MONTHS, O_SEED,
           O_START, O_COHORT, O_NOW, O_CSV, O_DUMP, O_LOGFMT, O_DELIM, O_ENCODING, O_DATE_ORDER };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic-prefix", required_argument, NULL, O_PREFIX},
        {"partitions", required_argument, NULL, O_PARTITIONS},
        {"key-file", required_argument, NULL, O_KEY},
        {"time-zone", required_argument, NULL, O_TZ},
        {"participants", required_argument, NULL, O_PARTICIPANTS},
        {"months", required_argument, NULL, O_MONTHS},
        {"seed", required_argument, NULL, O_SEED},
        {"start", required_argument, NULL, O_START},
        {"cohort", required_argument, NULL, O_COHORT},
        {"now", required_argument, NULL, O_NOW},
        {"csv", required_argument, NULL, O_CSV},
        {"config", required_argument, NULL, 'c'},
        {"dump-config", no_argument, NULL, O_DUMP},
        {"log-format", required_argument, NULL, O_LOGFMT},
        {"delimiter", required_argument, NULL, O_DELIM},
        {"encoding", required_argument, NULL, O_ENCODING},
        {"date-order", required_argument, NULL, O_DATE_ORDER},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    produce_options_t o = {.partitions = 6, .stop = &stop_requested};
    produce_synth_t s = {.participants = 50, .months = 24, .seed = 1, .start = "2024-01-01",
                         .cohort = "demo"};
    const char *key_file, *zone, *config_path = NULL;
    char errstr[512];
    koers_config_t *cfg = koers_config_new("koers-produce", main_settings,
                                           sizeof main_settings / sizeof main_settings[0]);
    if (!cfg) {
        koers_log_error("out of memory");
        return 2;
    }
    o.config = cfg;
    int c, rc = 2, dump = 0;
    long x;
    /* GNU getopt permutes, so options may come before or after the command and paths. */
    while ((c = getopt_long(argc, argv, "b:X:c:hV", longopts, NULL)) != -1) {
        const char *setting = NULL;
        switch (c) {
        case 'b': setting = "brokers"; break;
        case 'X':
            if (koers_config_set_x(cfg, optarg, errstr, sizeof errstr) != 0) {
                koers_log_error("%s", errstr);
                goto out;
            }
            break;
        case 'c': config_path = optarg; break;
        case O_DUMP: dump = 1; break;
        case O_LOGFMT: setting = "log.format"; break;
        case O_PREFIX: setting = "topic.prefix"; break;
        case O_KEY: setting = "key.file"; break;
        case O_TZ: setting = "time.zone"; break;
        case O_PARTITIONS: setting = "partitions"; break;
        case O_DELIM: setting = "csv.delimiter"; break;
        case O_ENCODING: setting = "csv.encoding"; break;
        case O_DATE_ORDER: setting = "csv.date.order"; break;
        case O_START: s.start = optarg; break;
        case O_COHORT: s.cohort = optarg; break;
        case O_NOW: s.now = optarg; break;
        case O_CSV: o.csv_dir = optarg; break;
        case O_PARTICIPANTS:
        case O_MONTHS:
            if (main_parse_int(optarg, 1, c == O_MONTHS ? 600 : 10000000, &x) != 0) {
                koers_log_error("'%s' is not a number in range", optarg);
                goto out;
            }
            if (c == O_MONTHS)
                s.months = (int)x;
            else
                s.participants = (int)x;
            break;
        case O_SEED: {
            char *end;
            s.seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end) {
                koers_log_error("--seed: '%s' is not a number", optarg);
                goto out;
            }
            break;
        }
        case 'h': main_usage(stdout); rc = 0; goto out;
        case 'V':
            printf("koers-produce %s (librdkafka %s)\n", KOERS_VERSION, rd_kafka_version_str());
            rc = 0;
            goto out;
        default: main_usage(stderr); goto out;
        }
        if (setting && koers_config_set_flag(cfg, setting, optarg, errstr, sizeof errstr) != 0) {
            koers_log_error("%s", errstr);
            goto out;
        }
    }
    if (koers_config_resolve(cfg, config_path, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", errstr);
        goto out;
    }
    koers_log_set_format(koers_config_get(cfg, "log.format"));
    /* Kafka properties are checked before anything runs: a bad one is a configuration error
     * (exit 2), not a Kafka failure, and a dump shows a configuration that runs. */
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (!kc || koers_kafka_conf_apply(kc, cfg, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", kc ? errstr : "out of memory");
        if (kc)
            rd_kafka_conf_destroy(kc);
        goto out;
    }
    rd_kafka_conf_destroy(kc);
    if (dump) {
        rc = koers_config_dump(cfg, stdout) == 0 ? 0 : 3;
        goto out;
    }
    o.brokers = koers_config_get(cfg, "brokers");
    o.prefix = koers_config_get(cfg, "topic.prefix");
    o.partitions = (int)koers_config_get_long(cfg, "partitions");
    key_file = koers_config_get(cfg, "key.file");
    zone = koers_config_get(cfg, "time.zone");
    if (optind >= argc) {
        main_usage(stderr);
        goto out;
    }
    const char *cmd = argv[optind++];
    if (koers_time_set_zone(zone, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", errstr);
        goto out;
    }
    struct sigaction sa = {0};
    sa.sa_handler = main_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    koers_key_t key;
    int is_synth = strcmp(cmd, "synth") == 0;
    if (!is_synth && strcmp(cmd, "import") != 0) {
        koers_log_error("unknown command '%s' (import or synth)", cmd);
        main_usage(stderr);
        goto out;
    }
    if (key_file) {
        if (koers_pseudo_load_key(key_file, &key, errstr, sizeof errstr) != 0) {
            koers_log_error("%s", errstr);
            goto out;
        }
    } else if (is_synth) {
        /* Synthetic people need no secret; a seed-derived key keeps runs reproducible. */
        int n = snprintf((char *)key.bytes, sizeof key.bytes, "koers-synth-key-%020llu",
                         (unsigned long long)s.seed);
        key.len = (size_t)n;
    } else {
        koers_log_error("no key: give --key-file FILE or set KOERS_KEY_FILE");
        goto out;
    }
    if (is_synth) {
        if (optind != argc) {
            koers_log_error("synth takes no paths");
            goto out;
        }
        rc = produce_synth(&o, &key, &s);
    } else {
        if (optind == argc) {
            koers_log_error("import needs at least one PATH");
            goto out;
        }
        if (o.csv_dir) {
            koers_log_error("--csv is for synth only");
            goto out;
        }
        produce_import_t imp;
        main_get_import_settings(cfg, &imp);
        rc = produce_import(&o, &key, &imp, argv + optind, argc - optind);
    }
out:
    koers_config_free(cfg);
    return rc;
}
