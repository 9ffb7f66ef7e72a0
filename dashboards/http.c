/* The HTTP server (libmicrohttpd, a thread per connection, bounded): routes, sessions from
 * cookies, the login form, security headers on every response, and a deadline for receiving
 * each request. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "dash.h"
#include "koers/log.h"

#define HTTP_POOL_WAIT_MS 10000
#define HTTP_URL_MAX 256

/* No inline script or style anywhere: the pages load their code and styles from 'self'. */
#define HTTP_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "             \
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* A connection while it is open: the guard thread shuts down the socket of one that has not
 * sent its whole request (headers and body) within --request-deadline seconds, however
 * slowly it trickles (libmicrohttpd's own timeout only counts idle time). */
typedef struct http_conn {
    struct http_conn *prev, *next;
    int fd;
    long since_ms;  /* the connection's start, or the end of its previous request */
    int reading;    /* a request is being received: the deadline applies */
    int cut;        /* past the deadline: its socket was shut down */
    char client[64];
} http_conn_t;

typedef struct {
    pthread_mutex_t lock;
    http_conn_t *head;
    pthread_t thread;
    int stop;
    long deadline_ms;
} http_guard_t;

static struct MHD_Daemon *http_daemon;
static const dash_config_t *http_cfg;
static dash_pool_t *http_pool;
static dash_ratelimit_t *http_rl;
static http_guard_t *http_guard;

static long http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ responses */

static void http_redirect(dash_resp_t *r, const char *location)
{
    dash_resp_text(r, 303, "text/plain; charset=utf-8", "See Other\n");
    snprintf(r->location, sizeof r->location, "%s", location);
}

static enum MHD_Result http_queue(dash_req_t *req, dash_resp_t *r)
{
    struct MHD_Response *m;
    if (r->static_body)
        m = MHD_create_response_from_buffer(r->len, (void *)r->static_body, MHD_RESPMEM_PERSISTENT);
    else
        m = MHD_create_response_from_buffer(r->len, r->body ? r->body : "",
                                            r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!m) {
        free(r->body);
        return MHD_NO;
    }
    r->body = NULL; /* MHD owns it now */
    MHD_add_response_header(m, "Content-Type", r->content_type ? r->content_type : "text/plain");
    MHD_add_response_header(m, "Content-Security-Policy", HTTP_CSP);
    MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(m, "X-Frame-Options", "DENY");
    MHD_add_response_header(m, "Referrer-Policy", "same-origin");
    MHD_add_response_header(m, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(m, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(m, "Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    MHD_add_response_header(m, "Cache-Control", r->cacheable ? "private, max-age=300" : "no-store");
    if (http_cfg->secure_cookies)
        MHD_add_response_header(m, "Strict-Transport-Security", "max-age=31536000");
    if (r->location[0])
        MHD_add_response_header(m, "Location", r->location);
    if (r->cookie[0])
        MHD_add_response_header(m, "Set-Cookie", r->cookie);
    if (r->disposition[0])
        MHD_add_response_header(m, "Content-Disposition", r->disposition);
    if (r->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(m, "Retry-After", ra);
    }
    req->status = r->status;
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)r->status, m);
    MHD_destroy_response(m);
    return ret;
}

/* ------------------------------------------------------------------ request helpers */

static void http_client(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, outlen, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)outlen);
}

/* Decodes one application/x-www-form-urlencoded value in place. */
static void http_urldecode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0' && v > 0) {
                *o++ = (char)v;
                s += 2;
            } else {
                *o++ = *s;
            }
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* The value of field name in a urlencoded body (copied, decoded), or empty. */
static void http_form_field(const char *body, const char *name, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = body; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= outlen)
                vl = outlen - 1;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            http_urldecode(out);
            return;
        }
        p = amp ? amp + 1 : NULL;
    }
}

static int http_wants_json(dash_req_t *req)
{
    const char *accept = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Accept");
    return accept && strstr(accept, "application/json") && !strstr(accept, "text/html");
}

/* A POST from another site carries an Origin (or Sec-Fetch-Site) that is not ours: refuse
 * it. (Cookies are SameSite=Strict too; this also covers login forms posted cross-site.) */
static int http_same_origin(dash_req_t *req)
{
    const char *site = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return 0;
    const char *origin = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Host");
    if (!origin || strcmp(origin, "null") == 0)
        return origin == NULL;
    if (!host)
        return 0;
    const char *sep = strstr(origin, "://");
    return sep && strcmp(sep + 3, host) == 0;
}

static void http_cookie(dash_resp_t *r, const char *value, int max_age)
{
    snprintf(r->cookie, sizeof r->cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
             DASH_COOKIE, value, max_age, http_cfg->secure_cookies ? "; Secure" : "");
}

/* ------------------------------------------------------------------ routes */

static void http_login(dash_req_t *req, dash_resp_t *resp)
{
    int json = http_wants_json(req);
    if (req->body_too_big) {
        dash_resp_json_error(resp, 413, "too_large", "the form is too large");
        return;
    }
    char user[128], password[512];
    http_form_field(req->body ? req->body : "", "user", user, sizeof user);
    http_form_field(req->body ? req->body : "", "password", password, sizeof password);
    long now = http_now_ms() / 1000;
    int wait = dash_ratelimit_wait(http_rl, req->client, user, now);
    if (wait > 0) {
        koers_log_warn("login throttled for %s (user %.64s): %d s", req->client, user, wait);
        if (json)
            dash_resp_json_error(resp, 429, "too_many_attempts", "too many failed logins; wait");
        else
            http_redirect(resp, "/login?error=wait");
        resp->retry_after = wait;
        return;
    }
    if (!user[0] || !password[0] || strlen(user) > 64) {
        if (json)
            dash_resp_json_error(resp, 401, "login_failed", "user name or password is wrong");
        else
            http_redirect(resp, "/login?error=1");
        return;
    }
    PGconn *conn = dash_pool_acquire(http_pool, HTTP_POOL_WAIT_MS);
    if (!conn) {
        dash_resp_json_error(resp, 503, "busy", "the server is busy; try again");
        return;
    }
    char token[DASH_TOKEN_HEX + 1];
    dash_user_t who;
    int rc = dash_session_login(conn, http_cfg, user, password, req->client, token, &who);
    memset(password, 0, sizeof password);
    if (rc == 1) {
        dash_session_failed(conn, user, req->client);
        if (dash_ratelimit_failure(http_rl, req->client, user, now) != 0)
            koers_log_warn("login throttle full: new names and addresses wait until entries run out");
        dash_metrics_login_failure();
        koers_log_info("login refused for user %.64s from %s", user, req->client);
    }
    dash_pool_release(http_pool, conn);
    if (rc < 0) {
        dash_resp_json_error(resp, 500, "internal", "the login could not be checked");
    } else if (rc == 1) {
        if (json)
            dash_resp_json_error(resp, 401, "login_failed", "user name or password is wrong");
        else
            http_redirect(resp, "/login?error=1");
    } else {
        dash_ratelimit_success(http_rl, req->client, user, now);
        koers_log_info("login: user %s (%s) from %s", who.user, who.role, req->client);
        if (json) {
            char buf[256];
            snprintf(buf, sizeof buf, "{\"user\":\"%s\",\"role\":\"%s\"}", who.user, who.role);
            dash_resp_text(resp, 200, "application/json; charset=utf-8", buf);
        } else {
            http_redirect(resp, "/");
        }
        http_cookie(resp, token, http_cfg->session_ttl);
    }
}

static void http_logout(dash_req_t *req, dash_resp_t *resp)
{
    const char *token = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, DASH_COOKIE);
    if (token) {
        PGconn *conn = dash_pool_acquire(http_pool, HTTP_POOL_WAIT_MS);
        if (conn) {
            dash_session_logout(conn, token, req->client);
            dash_pool_release(http_pool, conn);
        }
    }
    if (http_wants_json(req))
        dash_resp_text(resp, 200, "application/json; charset=utf-8", "{\"logged_out\":true}");
    else
        http_redirect(resp, "/login?logged_out=1");
    http_cookie(resp, "", 0);
}

/* Whether the request carries "Authorization: Bearer <the metrics token>", compared in
 * constant time. */
static int http_metrics_authorized(dash_req_t *req)
{
    const char *auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    const char *token = http_cfg->metrics_token;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    size_t n = strlen(token);
    return strlen(auth + 7) == n && sodium_memcmp(auth + 7, token, n) == 0;
}

static void http_metrics(dash_req_t *req, dash_resp_t *resp)
{
    /* Every client of a reverse proxy is loopback: the address proves nothing, a token does. */
    if (!http_cfg->metrics_token) {
        dash_resp_text(resp, 404, "text/plain; charset=utf-8", "Not Found\n");
        return;
    }
    if (!http_metrics_authorized(req)) {
        dash_resp_text(resp, 401, "text/plain; charset=utf-8", "a bearer token is required\n");
        return;
    }
    PGconn *conn = dash_pool_acquire(http_pool, HTTP_POOL_WAIT_MS);
    if (!conn) {
        dash_resp_text(resp, 503, "text/plain; charset=utf-8", "busy\n");
        return;
    }
    size_t len = 0;
    char *text = dash_metrics_render(conn, &len);
    dash_pool_release(http_pool, conn);
    if (!text) {
        dash_resp_text(resp, 500, "text/plain; charset=utf-8", "metrics failed\n");
        return;
    }
    free(resp->body);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->body = text;
    resp->len = len;
}

static void http_asset(dash_resp_t *resp, const dash_asset_t *a, int status)
{
    resp->status = status;
    resp->content_type = a->content_type;
    resp->static_body = a->data;
    resp->len = a->len;
    resp->cacheable = strncmp(a->path, "/static/", 8) == 0;
}

static void http_route(dash_req_t *req, const char *url, const char *method, dash_resp_t *resp)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    if (strlen(url) > HTTP_URL_MAX) {
        req->route = DASH_ROUTE_OTHER;
        dash_resp_text(resp, 414, "text/plain; charset=utf-8", "URI too long\n");
        return;
    }
    if (strcmp(url, "/healthz") == 0) {
        req->route = DASH_ROUTE_HEALTHZ;
        dash_resp_text(resp, 200, "text/plain; charset=utf-8", "ok\n");
        return;
    }
    if (strcmp(url, "/metrics") == 0 && get) {
        req->route = DASH_ROUTE_METRICS;
        http_metrics(req, resp);
        return;
    }
    if ((strcmp(url, "/login") == 0 && post) || (strcmp(url, "/logout") == 0 && post)) {
        int login = strcmp(url, "/login") == 0;
        req->route = login ? DASH_ROUTE_LOGIN : DASH_ROUTE_LOGOUT;
        if (!http_same_origin(req)) {
            dash_resp_text(resp, 403, "text/plain; charset=utf-8", "cross-site request refused\n");
            return;
        }
        if (login)
            http_login(req, resp);
        else
            http_logout(req, resp);
        return;
    }

    int api = strncmp(url, "/api/", 5) == 0;
    const dash_asset_t *asset = api ? NULL : dash_assets_find(url);
    req->route = api     ? DASH_ROUTE_API
                 : asset ? (strncmp(url, "/static/", 8) == 0 ? DASH_ROUTE_STATIC : DASH_ROUTE_PAGE)
                         : DASH_ROUTE_OTHER;
    if (!api && !asset) {
        dash_resp_text(resp, 404, "text/plain; charset=utf-8", "Not Found\n");
        return;
    }
    if (!get) {
        dash_resp_text(resp, 405, "text/plain; charset=utf-8", "Method Not Allowed\n");
        return;
    }
    if (asset && asset->public_) {
        http_asset(resp, asset, 200);
        return;
    }

    /* Everything else needs a live session. */
    const char *token = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, DASH_COOKIE);
    PGconn *conn = dash_pool_acquire(http_pool, HTTP_POOL_WAIT_MS);
    if (!conn) {
        dash_resp_json_error(resp, 503, "busy", "the server is busy; try again");
        return;
    }
    dash_user_t who;
    int found = token ? dash_session_lookup(conn, token, &who) : 1;
    if (found != 0) {
        dash_pool_release(http_pool, conn);
        if (found < 0)
            dash_resp_json_error(resp, 500, "internal", "the session could not be checked");
        else if (api || !strncmp(url, "/static/", 8))
            dash_resp_json_error(resp, 401, "no_session", "log in first");
        else
            http_redirect(resp, "/login");
        if (found > 0 && token)
            http_cookie(resp, "", 0);
        return;
    }
    if (api) {
        if (strncmp(url + 5, "users", 5) == 0 || strncmp(url + 5, "audit", 5) == 0)
            req->route = DASH_ROUTE_API_ADMIN;
        else if (strncmp(url + 5, "timeline", 8) == 0 || strncmp(url + 5, "participants", 12) == 0
                 || strncmp(url + 5, "paired", 6) == 0)
            req->route = DASH_ROUTE_API_MICRODATA;
        dash_api_handle(conn, &who, req->client, url + 5, req, resp);
    } else if (!(asset->roles & who.role_bit)) {
        const dash_asset_t *denied = dash_assets_find("/denied");
        http_asset(resp, denied, 403);
        koers_log_info("user %s (%s) refused page %s", who.user, who.role, url);
    } else {
        http_asset(resp, asset, 200);
    }
    dash_pool_release(http_pool, conn);
}

/* ------------------------------------------------------------------ the request deadline */

static http_conn_t *http_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Marks the connection as receiving a request (reading) or done with it; a new request on a
 * kept-alive connection gets a deadline of its own. Returns whether the deadline has passed. */
static int http_conn_mark(struct MHD_Connection *conn, int reading)
{
    http_conn_t *c = http_conn_of(conn);
    if (!c || !http_guard)
        return 0;
    pthread_mutex_lock(&http_guard->lock);
    long now = http_now_ms();
    int late = c->cut || (c->reading && now - c->since_ms > http_guard->deadline_ms);
    if (reading && !c->reading)
        c->since_ms = now;
    c->reading = reading;
    pthread_mutex_unlock(&http_guard->lock);
    return late;
}

static void http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                   enum MHD_ConnectionNotificationCode toe)
{
    http_guard_t *g = cls;
    http_conn_t *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* libmicrohttpd closes the socket after this: the guard never shuts down a number
         * that another connection has been given since. */
        if (!c)
            return;
        pthread_mutex_lock(&g->lock);
        if (c->prev)
            c->prev->next = c->next;
        else
            g->head = c->next;
        if (c->next)
            c->next->prev = c->prev;
        pthread_mutex_unlock(&g->lock);
        free(c);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci ? ci->connect_fd : -1;
    c = calloc(1, sizeof *c);
    if (!c) {
        /* Without an entry no deadline could apply: refuse the connection instead. */
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
        return;
    }
    c->fd = fd;
    c->since_ms = http_now_ms();
    c->reading = 1;
    http_client(conn, c->client, sizeof c->client);
    pthread_mutex_lock(&g->lock);
    c->next = g->head;
    if (g->head)
        g->head->prev = c;
    g->head = c;
    pthread_mutex_unlock(&g->lock);
    *socket_context = c;
}

/* Every 100 ms: shuts down the sockets of connections past the deadline. A shut-down socket
 * reads as closed, so the connection's thread ends it. */
static void *http_guard_run(void *arg)
{
    http_guard_t *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        long now = http_now_ms();
        for (http_conn_t *c = g->head; c; c = c->next) {
            if (c->reading && !c->cut && c->fd >= 0 && now - c->since_ms > g->deadline_ms) {
                shutdown(c->fd, SHUT_RDWR);
                c->cut = 1;
                koers_log_warn("closed a connection from %s: no complete request within %ld s",
                               c->client, g->deadline_ms / 1000);
            }
        }
        pthread_mutex_unlock(&g->lock);
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

static http_guard_t *http_guard_start(int deadline_s, char *errstr, size_t errlen)
{
    http_guard_t *g = calloc(1, sizeof *g);
    if (!g || pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    g->deadline_ms = (long)deadline_s * 1000;
    if (pthread_create(&g->thread, NULL, http_guard_run, g) != 0) {
        pthread_mutex_destroy(&g->lock);
        free(g);
        snprintf(errstr, errlen, "cannot start the request deadline thread");
        return NULL;
    }
    return g;
}

static void http_guard_stop(http_guard_t *g)
{
    pthread_mutex_lock(&g->lock);
    g->stop = 1;
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
}

/* Called once the daemon has stopped: every connection has been closed (and unlinked). */
static void http_guard_free(http_guard_t *g)
{
    while (g->head) {
        http_conn_t *c = g->head;
        g->head = c->next;
        free(c);
    }
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* ------------------------------------------------------------------ request framing */

typedef struct {
    int host, content_length, transfer_encoding;
} http_framing_t;

static enum MHD_Result http_count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    (void)kind;
    (void)value;
    http_framing_t *f = cls;
    if (strcasecmp(key, "Host") == 0)
        f->host++;
    else if (strcasecmp(key, "Content-Length") == 0)
        f->content_length++;
    else if (strcasecmp(key, "Transfer-Encoding") == 0)
        f->transfer_encoding++;
    return MHD_YES;
}

/* A request whose length two parties could read differently (request smuggling through a
 * proxy), or without exactly one Host, is refused: NULL if it is well framed, else why. */
static const char *http_bad_framing(struct MHD_Connection *conn)
{
    http_framing_t f = {0, 0, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http_count_header, &f);
    if (f.host != 1)
        return "exactly one Host header is required\n";
    if (f.content_length > 1)
        return "more than one Content-Length\n";
    if (f.content_length && f.transfer_encoding)
        return "Content-Length together with Transfer-Encoding\n";
    return NULL;
}

/* ------------------------------------------------------------------ libmicrohttpd glue */

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    (void)cls;
    (void)version;
    dash_req_t *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->conn = conn;
        req->route = DASH_ROUTE_OTHER;
        clock_gettime(CLOCK_MONOTONIC, &req->start);
        http_client(conn, req->client, sizeof req->client);
        *con_cls = req;
        const char *bad = http_bad_framing(conn);
        if (!bad)
            return MHD_YES;
        /* Answered before any body is read; libmicrohttpd then closes the connection. */
        http_conn_mark(conn, 0);
        dash_resp_t resp;
        memset(&resp, 0, sizeof resp);
        dash_resp_text(&resp, 400, "text/plain; charset=utf-8", bad);
        return http_queue(req, &resp);
    }
    if (*upload_data_size > 0) {
        if (http_conn_mark(conn, 1)) {
            koers_log_warn("closed a connection from %s: its body took too long", req->client);
            return MHD_NO;
        }
        if (req->body_len + *upload_data_size > DASH_BODY_MAX) {
            req->body_too_big = 1;
        } else if (!req->body_too_big) {
            char *b = realloc(req->body, req->body_len + *upload_data_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + req->body_len, upload_data, *upload_data_size);
            req->body = b;
            req->body_len += *upload_data_size;
            req->body[req->body_len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->status)
        return MHD_YES; /* refused on the first call; the answer is queued */
    /* The whole request is in: answering may take long (a page computed), that is no
     * client's doing. */
    if (http_conn_mark(conn, 0))
        return MHD_NO;
    dash_resp_t resp;
    memset(&resp, 0, sizeof resp);
    http_route(req, url, method, &resp);
    if (!resp.status)
        dash_resp_text(&resp, 500, "text/plain; charset=utf-8", "Internal Server Error\n");
    return http_queue(req, &resp);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    http_conn_mark(conn, 1); /* a kept-alive connection: the next request's deadline starts */
    dash_req_t *req = *con_cls;
    if (!req)
        return;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double secs = (double)(end.tv_sec - req->start.tv_sec) +
                  (double)(end.tv_nsec - req->start.tv_nsec) / 1e9;
    dash_metrics_observe(req->route, req->status, secs);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

static void http_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    koers_log_warn("http: %s", buf);
}

int dash_http_start(const dash_config_t *cfg, dash_pool_t *pool, dash_ratelimit_t *rl, char *errstr,
                    size_t errlen)
{
    http_cfg = cfg;
    http_pool = pool;
    http_rl = rl;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->listen_host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(cfg->listen_port);
    } else if (inet_pton(AF_INET6, cfg->listen_host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(cfg->listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(errstr, errlen, "--listen: %s is not an IPv4 or IPv6 address", cfg->listen_host);
        return -1;
    }
    if (!(http_guard = http_guard_start(cfg->request_deadline, errstr, errlen)))
        return -1;
    /* One address may hold only a part of the connections (a thread each), so that clients
     * that never finish their requests cannot take all of them. */
    http_daemon = MHD_start_daemon(
        flags, cfg->listen_port, NULL, NULL, http_handler, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_address,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
        MHD_OPTION_NOTIFY_CONNECTION, http_notify_connection, http_guard,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
        MHD_OPTION_END);
    if (!http_daemon) {
        snprintf(errstr, errlen, "cannot listen on %s:%u (in use, or not an address here?)",
                 cfg->listen_host, (unsigned)cfg->listen_port);
        http_guard_stop(http_guard);
        http_guard_free(http_guard);
        http_guard = NULL;
        return -1;
    }
    return 0;
}

void dash_http_stop(void)
{
    if (http_guard)
        http_guard_stop(http_guard);
    if (http_daemon) {
        MHD_stop_daemon(http_daemon);
        http_daemon = NULL;
    }
    if (http_guard) {
        http_guard_free(http_guard);
        http_guard = NULL;
    }
}
