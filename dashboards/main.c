/* koers-dash: the dashboards for evaluators, funders and partner organisations (HTTP server),
 * and `koers-dash user ...` to manage their users. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <microhttpd.h>

#include "dash.h"
#include "koers/cli.h"
#include "koers/config.h"
#include "koers/log.h"

/* Where the pages are, when --static-dir, static.dir and KOERS_DASH_STATIC_DIR say nothing.
 * FROM_BIN: the installed pages relative to the directory of the installed program (so that
 * `cmake --install --prefix` anywhere, or a moved tree, finds them); INSTALLED: the same
 * at the prefix given at configure time; SOURCE: the source tree, for the program in its
 * build directory (BUILD_DIR). */
#ifndef KOERS_DASH_STATIC_FROM_BIN
#define KOERS_DASH_STATIC_FROM_BIN "../share/koers/dashboards/static"
#endif
#ifndef KOERS_DASH_STATIC_INSTALLED
#define KOERS_DASH_STATIC_INSTALLED "/usr/local/share/koers/dashboards/static"
#endif
#ifndef KOERS_DASH_STATIC_SOURCE
#define KOERS_DASH_STATIC_SOURCE "dashboards/static"
#endif
#ifndef KOERS_DASH_BUILD_DIR
#define KOERS_DASH_BUILD_DIR ""
#endif

static volatile sig_atomic_t main_stop;

static void main_on_signal(int sig)
{
    if (main_stop)
        _exit(128 + sig); /* a second signal: stop at once */
    main_stop = 1;
}

static char *main_read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[256];
    char *ok = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!ok)
        return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    return strlen(buf) >= 16 ? strdup(buf) : NULL;
}

static int main_has_pages(const char *dir)
{
    char path[PATH_MAX + 32];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/app.html", dir) >= sizeof path)
        return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory of the pages: the one given; else beside the running program (its
 * directory from /proc/self/exe, then KOERS_DASH_STATIC_FROM_BIN), unless the program runs
 * from its build directory, where the source tree's pages are the current ones; else the
 * configured install directory; else the source tree. Returns `given`, a string literal or
 * buf (of size PATH_MAX). */
static const char *main_static_dir(const char *given, char *buf)
{
    if (given)
        return given;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char build[PATH_MAX];
            int in_build = KOERS_DASH_BUILD_DIR[0] && realpath(KOERS_DASH_BUILD_DIR, build) &&
                           strcmp(build, exe) == 0;
            char rel[PATH_MAX];
            if (!in_build &&
                (size_t)snprintf(rel, sizeof rel, "%s/%s", exe, KOERS_DASH_STATIC_FROM_BIN) < sizeof rel &&
                realpath(rel, buf) && main_has_pages(buf))
                return buf;
            if (in_build && main_has_pages(KOERS_DASH_STATIC_SOURCE))
                return KOERS_DASH_STATIC_SOURCE;
        } else {
            koers_log_warn("/proc/self/exe is %s: the pages are looked for at fixed places", exe);
        }
    } else {
        koers_log_warn("cannot read /proc/self/exe (%s): the pages are looked for at fixed places",
                       strerror(errno));
    }
    if (main_has_pages(KOERS_DASH_STATIC_INSTALLED))
        return KOERS_DASH_STATIC_INSTALLED;
    return KOERS_DASH_STATIC_SOURCE;
}

/* ADDR:PORT, [IPv6]:PORT. */
static int main_listen(const char *s, dash_config_t *cfg)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    const char *host = s;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hl < 3 || s[hl - 1] != ']')
            return -1;
        host = s + 1;
        hl -= 2;
    }
    if (hl >= sizeof cfg->listen_host)
        return -1;
    memcpy(cfg->listen_host, host, hl);
    cfg->listen_host[hl] = '\0';
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (*end || v < 1 || v > 65535)
        return -1;
    cfg->listen_port = (uint16_t)v;
    return 0;
}

static const char *const main_bools[] = {"true", "false", NULL};

/* What a configuration file (-c), the environment or a flag may set; see --dump-config. */
static const koers_setting_t main_settings[] = {
    {"dbname", NULL, "", KOERS_SETTING_CONNINFO, 0, 0, 0, NULL},
    {"listen", "KOERS_DASH_LISTEN", "127.0.0.1:8080", KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"static.dir", "KOERS_DASH_STATIC_DIR", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"session.ttl", NULL, "28800", KOERS_SETTING_INT, 60, 86400, 0, NULL},
    {"session.idle", NULL, "1800", KOERS_SETTING_INT, 60, 86400, 0, NULL},
    {"max.connections", NULL, "64", KOERS_SETTING_INT, 1, 1024, 0, NULL},
    {"max.connections.per.address", NULL, "8", KOERS_SETTING_INT,
     1, 1024, 0, NULL},
    {"request.deadline", NULL, "10", KOERS_SETTING_INT, 1, 300, 0, NULL},
    {"db.connections", NULL, "4", KOERS_SETTING_INT, 1, 64, 0, NULL},
    {"cache.refresh", NULL, "30", KOERS_SETTING_INT, 0, 86400, 0, NULL},
    {"secure.cookies", NULL, "false", KOERS_SETTING_TEXT, 0, 0, 0, main_bools},
    {"metrics.token.file", "KOERS_DASH_METRICS_TOKEN_FILE", NULL,
     KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"brokers", "KOERS_BROKERS", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"group", "KOERS_GROUP", "koers", KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"log.format", KOERS_LOG_FORMAT_ENV, "logfmt", KOERS_SETTING_TEXT, 0, 0, 0,
     koers_log_formats},
};

/* Every option once: getopt_long's tables and the usage are made from it. */
static const koers_option_t main_options[] = {
    {"config", 'c', "FILE", KOERS_OPT_CONFIG, NULL, NULL,
     "key=value settings (default: $KOERS_CONFIG).", "Options:"},
    {"dump-config", 0, NULL, KOERS_OPT_DUMP, NULL, NULL,
     "print the effective settings (secrets redacted) and exit", NULL},
    {"dbname", 'd', "CONNINFO", KOERS_OPT_SETTING, "dbname", NULL,
     "libpq connection string (default: PG* environment); the role must be koers_dash, never a "
     "superuser", NULL},
    {"listen", 0, "ADDR:PORT", KOERS_OPT_SETTING, "listen", NULL,
     "address to serve on, e.g. 127.0.0.1:8080 or [::1]:8080", NULL},
    {"static-dir", 0, "DIR", KOERS_OPT_SETTING, "static.dir", NULL,
     "pages and scripts; when not set, share/koers/dashboards/static beside the program's "
     "bin/, else the source tree", NULL},
    {"session-ttl", 0, "SECONDS", KOERS_OPT_SETTING, "session.ttl", NULL,
     "a session's lifetime", NULL},
    {"session-idle", 0, "SECONDS", KOERS_OPT_SETTING, "session.idle", NULL,
     "idle time that ends a session", NULL},
    {"max-connections", 0, "N", KOERS_OPT_SETTING, "max.connections", NULL,
     "concurrent HTTP connections", NULL},
    {"max-connections-per-address", 0, "N", KOERS_OPT_SETTING, "max.connections.per.address",
     NULL, "of those, from one client address (behind a reverse proxy, most of them: every "
     "client has its address)", NULL},
    {"request-deadline", 0, "SECONDS", KOERS_OPT_SETTING, "request.deadline", NULL,
     "close a connection that has not sent its whole request (headers and body) by then", NULL},
    {"db-connections", 0, "N", KOERS_OPT_SETTING, "db.connections", NULL,
     "PostgreSQL connections", NULL},
    {"cache-refresh", 0, "SECONDS", KOERS_OPT_SETTING, "cache.refresh", NULL,
     "recompute cached answers whose data changed, in the background, this often (0: never)",
     NULL},
    {"secure-cookies", 0, NULL, KOERS_OPT_SETTING, "secure.cookies", "true",
     "Secure cookies and HSTS, behind TLS", NULL},
    {"metrics-token-file", 0, "F", KOERS_OPT_SETTING, "metrics.token.file", NULL,
     "/metrics needs 'Authorization: Bearer <token in F>'; without a token there is no "
     "/metrics (404)", NULL},
    {"brokers", 'b', "LIST", KOERS_OPT_SETTING, "brokers", NULL,
     "Kafka brokers, for consumer lag in /metrics (without them, no lag)", NULL},
    {"group", 'g', "GROUP", KOERS_OPT_SETTING, "group", NULL, "consumer group whose lag is shown",
     NULL},
    {NULL, 'X', "KEY=VALUE", KOERS_OPT_X, NULL, NULL,
     "librdkafka property for the lag query (kafka.KEY in a --config file)", NULL},
    {"log-format", 0, "FORMAT", KOERS_OPT_SETTING, "log.format", NULL, "logfmt or json", NULL},
    {"help", 'h', NULL, KOERS_OPT_HELP, NULL, NULL, "show this help", NULL},
    {"version", 'V', NULL, KOERS_OPT_VERSION, NULL, NULL, "show the version", NULL},
};

static void main_usage(FILE *out)
{
    fprintf(out,
            "Usage: koers-dash [OPTION]...\n"
            "       koers-dash [-d CONNINFO] user add|passwd|disable|enable|delete|list ...\n"
            "Serve koers' dashboards (pages and a JSON/CSV API over schema dash) to logged-in\n"
            "evaluators, funders, partner organisations and admins. PostgreSQL decides what each\n"
            "role may read and suppresses small cells; koers-dash connects as koers_dash.\n"
            "\n");
    koers_cli_usage(out, main_options, KOERS_CLI_N(main_options), main_settings,
                    KOERS_CLI_N(main_settings));
    fprintf(out,
            "\n"
            "koers-dash user --help tells how to manage users.\n"
            "Exit status: 0 stopped by SIGINT or SIGTERM; 1 could not start; 2 usage or\n"
            "configuration error.\n");
}

static int main_no_own(void *ctx, int id, const char *arg, char *errstr, size_t errlen)
{
    (void)ctx;
    (void)arg;
    snprintf(errstr, errlen, "option %d has no handler", id);
    return -1;
}

/* Parses the command line into settings, stopping at the first word that is not an option
 * (the user command). Returns -1 to go on, or an exit status. */
static int main_parse(int argc, char **argv, koers_config_t *settings, koers_cli_t *cli)
{
    char errstr[512];
    if (koers_cli_parse(argc, argv, main_options, KOERS_CLI_N(main_options), 1, settings, cli,
                        main_no_own, NULL, errstr, sizeof errstr) < 0) {
        koers_log_error("%s", errstr);
        fprintf(stderr, "Try 'koers-dash --help'.\n");
        return 2;
    }
    if (cli->help) {
        main_usage(stdout);
        return 0;
    }
    if (cli->version) {
        printf("koers-dash %s (libmicrohttpd %s, libsodium %s, libpq %d)\n", KOERS_VERSION,
               MHD_get_version(), sodium_version_string(), PQlibVersion());
        return 0;
    }
    return -1;
}

/* Serves until SIGINT or SIGTERM. Returns the exit status. */
static int main_serve(dash_config_t *cfg, const char *static_dir)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = main_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char errstr[1024];
    char dir_buf[PATH_MAX];
    const char *dir = main_static_dir(static_dir, dir_buf);
    if (dash_assets_load(dir, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", errstr);
        dash_assets_free();
        return 1;
    }
    if (dash_session_init() != 0) {
        koers_log_error("password hashing could not start");
        dash_assets_free();
        return 1;
    }
    /* Logins: 5 failures of a user name or 20 of an address within 10 minutes, or 200 in
     * all, make the next ones wait (10 minutes, doubling to an hour). 8192 slots hold more
     * names and addresses than the failure budget can create within an hour. */
    static const dash_ratelimit_conf_t rl_conf = {8192, 600, 5, 20, 200, 3600};
    dash_ratelimit_t *rl = dash_ratelimit_new(&rl_conf, NULL);
    if (!rl) {
        koers_log_error("out of memory");
        dash_assets_free();
        return 1;
    }
    dash_pool_t *pool = dash_pool_new(cfg->conninfo, cfg->db_pool, errstr, sizeof errstr);
    if (!pool) {
        koers_log_error("%s", errstr);
        dash_ratelimit_free(rl);
        dash_assets_free();
        return 1;
    }
    dash_metrics_init(cfg);
    if (dash_http_start(cfg, pool, rl, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", errstr);
        dash_metrics_free();
        dash_pool_free(pool);
        dash_ratelimit_free(rl);
        dash_assets_free();
        return 1;
    }
    dash_refresh_t *refresh = NULL;
    if (cfg->cache_refresh > 0 &&
        !(refresh = dash_refresh_start(pool, cfg->cache_refresh, errstr, sizeof errstr)))
        koers_log_warn("%s; pages are computed when asked for", errstr);
    int v6 = strchr(cfg->listen_host, ':') != NULL;
    koers_log_info("serving http://%s%s%s:%u/ (pages from %s)", v6 ? "[" : "", cfg->listen_host,
                   v6 ? "]" : "", (unsigned)cfg->listen_port, dir);
    while (!main_stop) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    koers_log_info("stopping");
    dash_refresh_stop(refresh);
    dash_http_stop();
    dash_metrics_free();
    dash_pool_free(pool);
    dash_ratelimit_free(rl);
    dash_assets_free();
    return 0;
}

int main(int argc, char **argv)
{
    char errstr[1024];
    koers_cli_t cli;
    koers_config_t *settings = koers_config_new("koers-dash", main_settings,
                                                KOERS_CLI_N(main_settings));
    if (!settings) {
        koers_log_error("out of memory");
        return 1;
    }
    int rc = main_parse(argc, argv, settings, &cli);
    char *conninfo = NULL;
    if (rc < 0 && (koers_config_resolve(settings, cli.config_path, errstr, sizeof errstr) != 0 ||
                   !(conninfo = koers_config_conninfo(settings, "dbname", errstr, sizeof errstr)))) {
        koers_log_error("%s", errstr);
        rc = 2;
    }
    if (rc < 0) {
        koers_log_set_format(koers_config_get(settings, "log.format"));
        if (sodium_init() < 0) {
            koers_log_error("libsodium could not start");
            rc = 1;
        }
    }
    if (rc < 0 && optind < argc) {
        if (strcmp(argv[optind], "user") == 0) {
            rc = dash_user_main(argc - optind, argv + optind, conninfo);
        } else {
            koers_log_error("unknown command %s", argv[optind]);
            fprintf(stderr, "Try 'koers-dash --help'.\n");
            rc = 2;
        }
    }
    if (rc < 0 && cli.dump)
        rc = koers_config_dump(settings, stdout) == 0 ? 0 : 1;
    if (rc < 0) {
        dash_config_t cfg = {
            .conninfo = conninfo,
            .session_ttl = (int)koers_config_get_long(settings, "session.ttl"),
            .session_idle = (int)koers_config_get_long(settings, "session.idle"),
            .max_connections = (int)koers_config_get_long(settings, "max.connections"),
            .max_connections_per_address =
                (int)koers_config_get_long(settings, "max.connections.per.address"),
            .request_deadline = (int)koers_config_get_long(settings, "request.deadline"),
            .db_pool = (int)koers_config_get_long(settings, "db.connections"),
            .cache_refresh = (int)koers_config_get_long(settings, "cache.refresh"),
            .secure_cookies = strcmp(koers_config_get(settings, "secure.cookies"), "true") == 0,
            .brokers = koers_config_get(settings, "brokers"),
            .group = koers_config_get(settings, "group"),
            .settings = settings,
        };
        if (cfg.max_connections_per_address > cfg.max_connections)
            cfg.max_connections_per_address = cfg.max_connections; /* one address may use all */
        const char *listen = koers_config_get(settings, "listen");
        const char *token_file = koers_config_get(settings, "metrics.token.file");
        if (main_listen(listen, &cfg) != 0) {
            koers_log_error("listen: '%s' is not ADDR:PORT, e.g. 127.0.0.1:8080", listen);
            rc = 2;
        } else if (cfg.session_idle > cfg.session_ttl) {
            koers_log_error("session.idle (%d) cannot exceed session.ttl (%d)", cfg.session_idle,
                            cfg.session_ttl);
            rc = 2;
        } else if (token_file && !(cfg.metrics_token = main_read_token(token_file))) {
            koers_log_error("%s must hold a token of at least 16 characters", token_file);
            rc = 2;
        } else {
            rc = main_serve(&cfg, koers_config_get(settings, "static.dir"));
        }
        free((char *)cfg.metrics_token);
    }
    free(conninfo);
    koers_config_free(settings);
    return rc;
}
