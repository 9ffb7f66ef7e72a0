/* koers-dash internals: configuration, and the interface of each module (one file each). */
#ifndef KOERS_DASH_H
#define KOERS_DASH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "koers/pg.h"

#define DASH_COOKIE "koers_session"
#define DASH_TOKEN_BYTES 32
#define DASH_TOKEN_HEX (2 * DASH_TOKEN_BYTES)
#define DASH_BODY_MAX 4096      /* a POST body larger than this is refused (413) */
#define DASH_PARAM_MAX 64       /* a query parameter value longer than this is refused (400) */
#define DASH_QUERY_MAX 1024     /* the whole query string */

/* Roles, as bits so that an endpoint can name the roles it serves. */
enum {
    DASH_ROLE_EVALUATOR = 1,
    DASH_ROLE_FUNDER = 2,
    DASH_ROLE_PARTNER = 4,
    DASH_ROLE_ADMIN = 8,
    DASH_ROLE_ANY = 15
};

typedef struct {
    const char *conninfo;      /* -d: libpq connection string (the role koers_dash) */
    char listen_host[64];      /* --listen ADDR:PORT */
    uint16_t listen_port;
    const char *static_dir;    /* --static-dir */
    int session_ttl;           /* --session-ttl seconds: absolute lifetime of a session */
    int session_idle;          /* --session-idle seconds: idle timeout */
    int max_connections;       /* --max-connections: concurrent HTTP connections (threads) */
    int max_connections_per_address; /* --max-connections-per-address: of those, from one address */
    int request_deadline;      /* --request-deadline seconds to receive a whole request */
    int db_pool;               /* --db-connections: PostgreSQL connections */
    int cache_refresh;         /* --cache-refresh seconds between background refreshes; 0: off */
    int secure_cookies;        /* --secure-cookies: add Secure (behind TLS) */
    const char *metrics_token; /* read from --metrics-token-file; NULL: no /metrics (404) */
    const char *brokers;       /* -b / KOERS_BROKERS: for consumer lag in /metrics */
    const char *group;         /* --group: consumer group whose lag is shown */
    const struct koers_config *settings; /* all settings, for the Kafka properties (-X) */
} dash_config_t;

/* ---- db.c: a small pool of PostgreSQL connections, and checked queries. */

typedef struct dash_pool dash_pool_t;

/* Opens size connections with conninfo and checks that they are not a superuser's (the
 * database decides what each role may read only when koers-dash is an ordinary role).
 * Returns NULL with errstr on failure. Free with dash_pool_free(). */
dash_pool_t *dash_pool_new(const char *conninfo, int size, char *errstr, size_t errlen);
void dash_pool_free(dash_pool_t *pool);
/* Waits up to timeout_ms for a free connection; NULL on time-out. Give it back with
 * dash_pool_release(), which rolls back an open transaction and reconnects a broken one. */
PGconn *dash_pool_acquire(dash_pool_t *pool, int timeout_ms);
void dash_pool_release(dash_pool_t *pool, PGconn *conn);


/* ---- refresh.c: recomputes the cached answers whose data changed, in the background. */

typedef struct dash_refresh dash_refresh_t;

/* Starts a thread that every interval seconds calls dash.cache_refresh on a connection of the
 * pool. Returns NULL with errstr on failure. */
dash_refresh_t *dash_refresh_start(dash_pool_t *pool, int interval, char *errstr, size_t errlen);
/* Stops it, cancelling a refresh that is running. */
void dash_refresh_stop(dash_refresh_t *r);

/* ---- ratelimit.c: login throttling per client address, per user name and in all. */

typedef struct {
    size_t slots;   /* addresses and user names kept at once */
    int window;     /* seconds in which failures count */
    int max_user;   /* failures of a user name within a window before it waits */
    int max_client; /* the same for a client address */
    int max_global; /* failures of all keys together within a window before every login waits */
    int lock_max;   /* the longest wait; a wait starts at window and doubles per failure beyond */
} dash_ratelimit_conf_t;

typedef struct dash_ratelimit dash_ratelimit_t;

/* A limiter whose slots are chosen by SipHash (crypto_shorthash) under key (16 bytes; NULL:
 * a random one, as the server uses; tests give a fixed one). A live entry is never evicted:
 * when no slot is free, new keys are refused until one runs out. NULL when conf is not
 * valid or out of memory. Free with dash_ratelimit_free(). Thread-safe; now is in seconds
 * of any monotonic clock. */
dash_ratelimit_t *dash_ratelimit_new(const dash_ratelimit_conf_t *conf, const unsigned char *key);
void dash_ratelimit_free(dash_ratelimit_t *rl);
/* Seconds the caller must still wait before another attempt (0: go ahead). */
int dash_ratelimit_wait(dash_ratelimit_t *rl, const char *client, const char *user, long now);
/* Counts a failed login; 0, or -1 when a key could not be kept (the limiter is full: its
 * next attempts wait). */
int dash_ratelimit_failure(dash_ratelimit_t *rl, const char *client, const char *user, long now);
void dash_ratelimit_success(dash_ratelimit_t *rl, const char *client, const char *user, long now);
/* The first slot tried for a user name (for tests that look for colliding names). */
size_t dash_ratelimit_user_slot(const dash_ratelimit_t *rl, const char *user);

/* ---- session.c: passwords, session tokens and the session of a request. */

typedef struct {
    char user[72];
    char role[16];
    char organisation[40];
    char db_role[72];
    unsigned role_bit; /* DASH_ROLE_* */
    char token_hash_hex[2 * 32 + 1];
} dash_user_t;

/* DASH_ROLE_* of a role's name (koers.dash_user.role), or 0 for none of them. */
unsigned dash_role_bit(const char *role);

int dash_session_init(void); /* libsodium and the dummy hash; 0 or -1 */
/* Hashes a password for storage (Argon2id, crypto_pwhash_str). 0 or -1. */
int dash_session_hash_password(const char *password, char *out, size_t outlen);
/* Checks a login against the database; on success makes a session and writes its token
 * (hex) to token_out. Returns 0 ok, 1 refused (wrong user or password), -1 failure. */
int dash_session_login(PGconn *conn, const dash_config_t *cfg, const char *user,
                       const char *password, const char *client, char *token_out,
                       dash_user_t *who);
/* The live session of a token (hex, from the cookie): 0 found (who filled), 1 none, -1 db
 * failure. */
int dash_session_lookup(PGconn *conn, const char *token_hex, dash_user_t *who);
void dash_session_logout(PGconn *conn, const char *token_hex, const char *client);
void dash_session_failed(PGconn *conn, const char *user, const char *client);
/* Starts the request's transaction as the user: BEGIN, the session and client settings,
 * SET ROLE to the user's database role. 0 or -1 with err (rolled back). */
int dash_session_begin(PGconn *conn, const dash_user_t *who, const char *client,
                       koers_pg_error_t *err);

/* ---- assets.c: the pages, scripts and styles, from a fixed list read at start-up. */

typedef struct {
    const char *path;         /* URL path, e.g. /static/app.js */
    const char *content_type;
    int public_;              /* served without a session */
    unsigned roles;           /* for pages: the roles that may open it */
    const unsigned char *data;
    size_t len;
} dash_asset_t;

/* Loads every asset from static_dir (and the chart library); 0 or -1 with errstr. */
int dash_assets_load(const char *static_dir, char *errstr, size_t errlen);
void dash_assets_free(void);
const dash_asset_t *dash_assets_find(const char *path);

/* ---- request.c: a request's parameters, and the response being built. */

typedef struct dash_resp {
    int status;
    const char *content_type;
    char *body;               /* malloc'd, or NULL with static_body */
    const void *static_body;
    size_t len;
    char location[256];       /* Location header when not empty */
    char cookie[256];         /* Set-Cookie header when not empty */
    char disposition[160];    /* Content-Disposition when not empty */
    int retry_after;          /* Retry-After seconds when > 0 */
    int cacheable;            /* static assets: may be cached briefly */
} dash_resp_t;

/* What a request was, for /metrics' route label (metrics.c names them). */
typedef enum {
    DASH_ROUTE_OTHER, /* calloc's zero: a request not (yet) routed */
    DASH_ROUTE_PAGE,
    DASH_ROUTE_STATIC,
    DASH_ROUTE_API,
    DASH_ROUTE_API_MICRODATA,
    DASH_ROUTE_API_ADMIN,
    DASH_ROUTE_LOGIN,
    DASH_ROUTE_LOGOUT,
    DASH_ROUTE_METRICS,
    DASH_ROUTE_HEALTHZ,
    DASH_ROUTES
} dash_route_t;

struct MHD_Connection;
typedef struct dash_req {
    struct MHD_Connection *conn;
    struct timespec start;
    dash_route_t route; /* what the request was, for /metrics */
    int status;
    char client[64];
    char *body;
    size_t body_len;
    int body_too_big;
} dash_req_t;

/* A query parameter of the request (NULL when absent). */
const char *dash_req_arg(dash_req_t *req, const char *name);
/* 0 if every query parameter is in allowed (NULL-terminated) and short enough; else -1 and
 * a reason in why. */
int dash_req_check_args(dash_req_t *req, const char *const *allowed, char *why, size_t whylen);

/* Response helpers (the body is copied). */
void dash_resp_text(dash_resp_t *r, int status, const char *content_type, const char *text);
void dash_resp_json_error(dash_resp_t *r, int status, const char *code, const char *message);

/* ---- http.c: the HTTP server. */

/* Serves cfg with pool; rl throttles logins (both must outlive dash_http_stop()). 0, or -1
 * with errstr. */
int dash_http_start(const dash_config_t *cfg, dash_pool_t *pool, dash_ratelimit_t *rl, char *errstr,
                    size_t errlen);
void dash_http_stop(void);

/* ---- params.c: the API's parameter values. 1 when valid, else 0. */

/* A cohort or organisation name: [a-z0-9_-]{1,32}. */
int dash_param_name(const char *s);
/* YYYY-MM, 2000-01..2099-12; out gets YYYY-MM-01. */
int dash_param_month(const char *s, char *out, size_t outlen);
/* A chart id: page.chart, lower case and underscores, 3..48 characters. */
int dash_param_chart(const char *s);
/* Decimal digits only (at most 9), within lo..hi; *out gets the value. */
int dash_param_int(const char *s, long lo, long hi, long *out);

/* ---- api.c: the JSON and CSV API over schema dash. */

/* Serves GET /api/<name>[.csv] for who (logged in). */
void dash_api_handle(PGconn *conn, const dash_user_t *who, const char *client, const char *name,
                     dash_req_t *req, dash_resp_t *resp);

/* ---- metrics.c: Prometheus text format. */

void dash_metrics_init(const dash_config_t *cfg);
void dash_metrics_free(void);
/* Records one request: what it was, its status and its duration. */
void dash_metrics_observe(dash_route_t route, int status, double seconds);
void dash_metrics_login_failure(void);
/* The exposition (text format 0.0.4); malloc'd, caller frees; NULL on failure. */
char *dash_metrics_render(PGconn *conn, size_t *len);

/* ---- user.c: koers-dash user add|passwd|disable|enable|delete|list. */

int dash_user_main(int argc, char **argv, const char *conninfo);

#endif
