/* koers-produce: registrations (CSV exports, or a synthetic cohort) to Kafka as Avro events. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "koers/cli.h"
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
    {"brokers", "KOERS_BROKERS", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"topic.prefix", "KOERS_TOPIC_PREFIX", KOERS_DEFAULT_TOPIC_PREFIX,
     KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"partitions", "KOERS_PARTITIONS", "6", KOERS_SETTING_INT, 1, 10000, 0, NULL},
    {"key.file", "KOERS_KEY_FILE", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"time.zone", "KOERS_TIME_ZONE", KOERS_DEFAULT_TIME_ZONE, KOERS_SETTING_TEXT,
     0, 0, 0, NULL},
    {"log.format", KOERS_LOG_FORMAT_ENV, "logfmt", KOERS_SETTING_TEXT, 0, 0, 0,
     koers_log_formats},
    {"csv.delimiter", "KOERS_CSV_DELIMITER", "auto", KOERS_SETTING_TEXT, 0, 0, 0,
     main_delimiters},
    {"csv.encoding", "KOERS_CSV_ENCODING", "utf-8", KOERS_SETTING_TEXT, 0, 0, 0,
     main_encodings},
    {"csv.date.order", "KOERS_DATE_ORDER", "iso", KOERS_SETTING_TEXT, 0, 0, 0,
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

enum { MAIN_PARTICIPANTS = 1, MAIN_MONTHS, MAIN_SEED, MAIN_START, MAIN_COHORT, MAIN_NOW, MAIN_CSV };

/* Every option once: getopt_long's tables and the usage are made from it. */
static const koers_option_t main_options[] = {
    {"config", 'c', "FILE", KOERS_OPT_CONFIG, NULL, NULL,
     "configuration file, key=value lines (default: $KOERS_CONFIG; none if unset). "
     "Precedence: file < environment < flags.", "Options:"},
    {"dump-config", 0, NULL, KOERS_OPT_DUMP, NULL, NULL,
     "print the effective settings (secrets redacted), exit", NULL},
    {"log-format", 0, "F", KOERS_OPT_SETTING, "log.format", NULL, "logfmt or json", NULL},
    {"brokers", 'b', "LIST", KOERS_OPT_SETTING, "brokers", NULL, "bootstrap servers", NULL},
    {NULL, 'X', "KEY=VALUE", KOERS_OPT_X, NULL, NULL,
     "librdkafka property, passed through (repeatable); wins over the file's kafka.KEY", NULL},
    {"topic-prefix", 0, "P", KOERS_OPT_SETTING, "topic.prefix", NULL, "topic prefix", NULL},
    {"partitions", 0, "N", KOERS_OPT_SETTING, "partitions", NULL,
     "partitions of topics created now", NULL},
    {"key-file", 0, "FILE", KOERS_OPT_SETTING, "key.file", NULL,
     "pseudonymisation key; must not be readable by group or others", NULL},
    {"time-zone", 0, "ZONE", KOERS_OPT_SETTING, "time.zone", NULL, "zone of date-only values",
     NULL},
    {"delimiter", 0, "SEP", KOERS_OPT_SETTING, "csv.delimiter", NULL,
     "field separator: ',' (or comma), ';' (or semicolon), or auto: detected from each "
     "file's header", "import options:"},
    {"encoding", 0, "ENC", KOERS_OPT_SETTING, "csv.encoding", NULL,
     "utf-8, or windows-1252 (cp1252), converted to UTF-8", NULL},
    {"date-order", 0, "ORDER", KOERS_OPT_SETTING, "csv.date.order", NULL,
     "iso: occurred_at is ISO 8601 only; dmy: also day first, 14-03-2025 or 14-3-2025 10:30 "
     "(a local time in the zone of --time-zone); never guessed", NULL},
    {"participants", 0, "N", MAIN_PARTICIPANTS, NULL, NULL, "participants (default 50)",
     "synth options:"},
    {"months", 0, "M", MAIN_MONTHS, NULL, NULL, "months of programme after --start (default 24)",
     NULL},
    {"seed", 0, "S", MAIN_SEED, NULL, NULL, "random seed (default 1)", NULL},
    {"start", 0, "DATE", MAIN_START, NULL, NULL, "first possible enrolment day (default "
     "2024-01-01)", NULL},
    {"cohort", 0, "NAME", MAIN_COHORT, NULL, NULL, "cohort name (default demo)", NULL},
    {"now", 0, "TIME", MAIN_NOW, NULL, NULL,
     "the moment the cohort is taken at: what would be recorded after it is not sent (ISO "
     "8601; default: the clock, so two runs of a seed can differ; fix it to repeat a run)",
     NULL},
    {"csv", 0, "DIR", MAIN_CSV, NULL, NULL,
     "write DIR/<event type>.csv instead of sending (without --key-file, synth derives a key "
     "from the seed)", NULL},
    {"help", 'h', NULL, KOERS_OPT_HELP, NULL, NULL, "show this help", NULL},
    {"version", 'V', NULL, KOERS_OPT_VERSION, NULL, NULL, "show the version", NULL},
};

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
        "crisis.csv, ...), or directories holding them. Bad rows are refused with\n"
        "file:line: column: reason and not sent; the good rows around them are sent.\n"
        "Exports saved by a spreadsheet in a Dutch locale: --encoding windows-1252\n"
        "--date-order dmy (the semicolons are detected).\n"
        "synth makes a synthetic cohort; the same seed gives the same events.\n"
        "\n");
    koers_cli_usage(out, main_options, KOERS_CLI_N(main_options), main_settings,
                    KOERS_CLI_N(main_settings));
    fprintf(out,
        "\n"
        "Exit status: 0 all sent; 1 some input refused (the rest was sent); 2 usage or\n"
        "configuration error; 3 Kafka or output failure (some events not delivered);\n"
        "130 interrupted.\n");
}

typedef struct {
    produce_options_t *o;
    produce_synth_t *s;
} main_own_t;

static int main_own_option(void *ctx, int id, const char *arg, char *errstr, size_t errlen)
{
    main_own_t *m = ctx;
    char *end;
    long x;
    switch (id) {
    case MAIN_START: m->s->start = arg; return 0;
    case MAIN_COHORT: m->s->cohort = arg; return 0;
    case MAIN_NOW: m->s->now = arg; return 0;
    case MAIN_CSV: m->o->csv_dir = arg; return 0;
    case MAIN_SEED:
        m->s->seed = strtoull(arg, &end, 10);
        if (!*arg || *end) {
            snprintf(errstr, errlen, "--seed: '%s' is not a number", arg);
            return -1;
        }
        return 0;
    default: /* participants, months */
        x = strtol(arg, &end, 10);
        if (!*arg || *end || x < 1 || x > (id == MAIN_MONTHS ? 600 : 10000000)) {
            snprintf(errstr, errlen, "--%s: '%s' is not a number in range",
                     id == MAIN_MONTHS ? "months" : "participants", arg);
            return -1;
        }
        if (id == MAIN_MONTHS)
            m->s->months = (int)x;
        else
            m->s->participants = (int)x;
        return 0;
    }
}

int main(int argc, char **argv)
{
    produce_options_t o = {.partitions = 6, .stop = &stop_requested};
    produce_synth_t s = {.participants = 50, .months = 24, .seed = 1, .start = "2024-01-01",
                         .cohort = "demo"};
    const char *key_file, *zone;
    char errstr[512];
    koers_config_t *cfg = koers_config_new("koers-produce", main_settings,
                                           KOERS_CLI_N(main_settings));
    if (!cfg) {
        koers_log_error("out of memory");
        return 2;
    }
    o.config = cfg;
    int rc = 2;
    koers_cli_t cli;
    main_own_t own = {&o, &s};
    /* GNU getopt permutes, so options may come before or after the command and paths. */
    /* optind is left at the command (getopt's permutation moved the options before it). */
    if (koers_cli_parse(argc, argv, main_options, KOERS_CLI_N(main_options), 0, cfg, &cli,
                        main_own_option, &own, errstr, sizeof errstr) < 0) {
        koers_log_error("%s", errstr);
        fprintf(stderr, "Try 'koers-produce --help'.\n");
        goto out;
    }
    if (cli.help || cli.version) {
        if (cli.help)
            main_usage(stdout);
        else
            printf("koers-produce %s (librdkafka %s)\n", KOERS_VERSION, rd_kafka_version_str());
        rc = 0;
        goto out;
    }
    if (koers_config_resolve(cfg, cli.config_path, errstr, sizeof errstr) != 0) {
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
    if (cli.dump) {
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
