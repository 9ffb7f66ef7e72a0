/* /metrics in Prometheus text format: requests and their latency, login failures, rejects,
 * consumer offsets and lag per partition (lag needs the brokers), live sessions. No figure of
 * the data: a total per event type, next to the suppressed cells of the pages, could give a
 * hidden cell away. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "dash.h"
#include "koers/kafka.h"
#include "koers/log.h"

/* The route label of each dash_route_t. */
static const char *const metrics_routes[DASH_ROUTES] = {
    [DASH_ROUTE_PAGE] = "page",           [DASH_ROUTE_STATIC] = "static",
    [DASH_ROUTE_API] = "api",             [DASH_ROUTE_API_MICRODATA] = "api_microdata",
    [DASH_ROUTE_API_ADMIN] = "api_admin", [DASH_ROUTE_LOGIN] = "login",
    [DASH_ROUTE_LOGOUT] = "logout",       [DASH_ROUTE_METRICS] = "metrics",
    [DASH_ROUTE_HEALTHZ] = "healthz",     [DASH_ROUTE_OTHER] = "other"};
#define METRICS_NROUTES DASH_ROUTES
static const double metrics_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define METRICS_NBUCKETS (sizeof metrics_buckets / sizeof *metrics_buckets)
#define METRICS_NCODES 12

typedef struct {
    unsigned long long buckets[METRICS_NBUCKETS]; /* cumulative when rendered */
    unsigned long long count;
    double sum;
    int codes[METRICS_NCODES];
    unsigned long long code_counts[METRICS_NCODES];
} metrics_route_t;

static metrics_route_t metrics_data[METRICS_NROUTES];
static unsigned long long metrics_login_failures;
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static rd_kafka_t *metrics_kafka; /* for watermarks; NULL without brokers */
static pthread_mutex_t metrics_kafka_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *metrics_group;

void dash_metrics_init(const dash_config_t *cfg)
{
    metrics_group = cfg->group;
    if (!cfg->brokers || !*cfg->brokers)
        return;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* TLS and SASL properties (-X, kafka.* in the file) apply here as in the other programs. */
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", "koers-dash", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        (cfg->settings && koers_kafka_conf_apply(conf, cfg->settings, errstr, sizeof errstr) != 0)) {
        koers_log_warn("metrics: no consumer lag: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return;
    }
    metrics_kafka = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!metrics_kafka) {
        koers_log_warn("metrics: no consumer lag: %s", errstr);
        rd_kafka_conf_destroy(conf);
    }
    conf = NULL; /* rd_kafka_new took it */
}

void dash_metrics_free(void)
{
    if (metrics_kafka) {
        rd_kafka_destroy(metrics_kafka);
        metrics_kafka = NULL;
    }
}

void dash_metrics_observe(dash_route_t route, int status, double seconds)
{
    size_t r = route < DASH_ROUTES ? route : DASH_ROUTE_OTHER;
    pthread_mutex_lock(&metrics_lock);
    metrics_route_t *m = &metrics_data[r];
    for (size_t b = 0; b < METRICS_NBUCKETS; b++)
        if (seconds <= metrics_buckets[b])
            m->buckets[b]++;
    m->count++;
    m->sum += seconds;
    for (int i = 0; i < METRICS_NCODES; i++) {
        if (m->codes[i] == status || m->codes[i] == 0) {
            m->codes[i] = status;
            m->code_counts[i]++;
            break;
        }
    }
    pthread_mutex_unlock(&metrics_lock);
}

void dash_metrics_login_failure(void)
{
    pthread_mutex_lock(&metrics_lock);
    metrics_login_failures++;
    pthread_mutex_unlock(&metrics_lock);
}

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} metrics_buf_t;

static void metrics_printf(metrics_buf_t *b, const char *fmt, ...) KOERS_PRINTF(2, 3);
static void metrics_printf(metrics_buf_t *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Label values from the database, escaped for the text format. */
static void metrics_label(char *out, size_t outlen, const char *v)
{
    size_t j = 0;
    for (; *v && j + 3 < outlen; v++) {
        if (*v == '\\' || *v == '"') {
            out[j++] = '\\';
            out[j++] = *v;
        } else if (*v == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
        } else {
            out[j++] = *v;
        }
    }
    out[j] = '\0';
}

static void metrics_requests(metrics_buf_t *b)
{
    metrics_printf(b, "# HELP koers_dash_http_requests_total HTTP requests answered, by route and status.\n"
                      "# TYPE koers_dash_http_requests_total counter\n");
    pthread_mutex_lock(&metrics_lock);
    metrics_route_t snap[METRICS_NROUTES];
    memcpy(snap, metrics_data, sizeof snap);
    unsigned long long fails = metrics_login_failures;
    pthread_mutex_unlock(&metrics_lock);
    for (size_t r = 0; r < METRICS_NROUTES; r++)
        for (int i = 0; i < METRICS_NCODES && snap[r].codes[i]; i++)
            metrics_printf(b, "koers_dash_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                           metrics_routes[r], snap[r].codes[i], snap[r].code_counts[i]);
    metrics_printf(b, "# HELP koers_dash_http_request_duration_seconds Time to answer a request.\n"
                      "# TYPE koers_dash_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < METRICS_NROUTES; r++) {
        for (size_t k = 0; k < METRICS_NBUCKETS; k++)
            metrics_printf(b, "koers_dash_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                           metrics_routes[r], metrics_buckets[k], snap[r].buckets[k]);
        metrics_printf(b, "koers_dash_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                          "koers_dash_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                          "koers_dash_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                       metrics_routes[r], snap[r].count, metrics_routes[r], snap[r].sum,
                       metrics_routes[r], snap[r].count);
    }
    metrics_printf(b, "# HELP koers_dash_login_failures_total Logins refused (wrong user or password).\n"
                      "# TYPE koers_dash_login_failures_total counter\n"
                      "koers_dash_login_failures_total %llu\n", fails);
}

/* Lag of each partition the group has stored an offset for: the high watermark less the
 * next offset to consume. */
static void metrics_lag(metrics_buf_t *b, const PGresult *res)
{
    int header = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        if (strcmp(PQgetvalue(res, r, 0), "koers_consumer_next_offset") != 0 ||
            strcmp(PQgetvalue(res, r, 1), metrics_group) != 0)
            continue;
        const char *topic = PQgetvalue(res, r, 2);
        int32_t partition = (int32_t)atoi(PQgetvalue(res, r, 3));
        long long next = atoll(PQgetvalue(res, r, 4));
        int64_t lo = 0, hi = 0;
        pthread_mutex_lock(&metrics_kafka_lock);
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(metrics_kafka, topic, partition,
                                                                  &lo, &hi, 2000);
        pthread_mutex_unlock(&metrics_kafka_lock);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            koers_log_warn("metrics: watermarks of %s [%d]: %s", topic, (int)partition, rd_kafka_err2str(e));
            continue;
        }
        if (!header) {
            metrics_printf(b, "# HELP koers_consumer_lag Messages in a partition not yet stored by the group.\n"
                              "# TYPE koers_consumer_lag gauge\n");
            header = 1;
        }
        char g[128], t[512];
        metrics_label(g, sizeof g, metrics_group);
        metrics_label(t, sizeof t, topic);
        long long lag = (long long)hi - next;
        metrics_printf(b, "koers_consumer_lag{group=\"%s\",topic=\"%s\",partition=\"%d\"} %lld\n", g,
                       t, (int)partition, lag > 0 ? lag : 0);
    }
}

char *dash_metrics_render(PGconn *conn, size_t *len)
{
    metrics_buf_t b = {malloc(8192), 0, 8192, 0};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    metrics_requests(&b);

    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, "SELECT metric, l1, l2, l3, value FROM dash.metrics()", 0, NULL,
                                 PGRES_TUPLES_OK, &err);
    if (!res) {
        koers_log_error("metrics: %s", err.primary);
        metrics_printf(&b, "# koers_up: the database did not answer\nkoers_dash_database_up 0\n");
    } else {
        metrics_printf(&b, "# HELP koers_dash_database_up Whether PostgreSQL answered.\n"
                           "# TYPE koers_dash_database_up gauge\nkoers_dash_database_up 1\n");
        static const struct {
            const char *name, *help, *type, *l1, *l2, *l3;
        } defs[] = {
            {"koers_events_rejected_total", "Messages the consumer rejected, by topic.", "counter",
             "topic", NULL, NULL},
            {"koers_consumer_next_offset", "Next offset the group will consume, per partition.",
             "gauge", "group", "topic", "partition"},
            {"koers_dash_sessions_live", "Dashboard sessions not expired.", "gauge", NULL, NULL, NULL},
        };
        for (size_t d = 0; d < sizeof defs / sizeof *defs; d++) {
            metrics_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", defs[d].name, defs[d].help,
                           defs[d].name, defs[d].type);
            for (int r = 0; r < PQntuples(res); r++) {
                if (strcmp(PQgetvalue(res, r, 0), defs[d].name) != 0)
                    continue;
                const char *names[3] = {defs[d].l1, defs[d].l2, defs[d].l3};
                char labels[1024] = "";
                size_t used = 0;
                for (int l = 0; l < 3 && names[l]; l++) {
                    char v[512];
                    metrics_label(v, sizeof v, PQgetvalue(res, r, 1 + l));
                    used += (size_t)snprintf(labels + used, sizeof labels - used, "%s%s=\"%s\"",
                                             l ? "," : "", names[l], v);
                    if (used >= sizeof labels)
                        break;
                }
                metrics_printf(&b, "%s%s%s%s %s\n", defs[d].name, labels[0] ? "{" : "", labels,
                               labels[0] ? "}" : "", PQgetvalue(res, r, 4));
            }
        }
        if (metrics_kafka)
            metrics_lag(&b, res);
        PQclear(res);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
