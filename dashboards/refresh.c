/* The background refresh of the dashboard cache (sql/defs/70_dash_cells.sql): between requests,
 * recomputes the cached answers whose data has changed, so that a reader seldom waits for a
 * computation that takes minutes on a large programme. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash.h"
#include "koers/log.h"

struct dash_refresh {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    dash_pool_t *pool;
    int interval;
    int stop;
    PGcancel *running; /* set while a refresh runs, so that stopping can cancel it */
};

/* Waits interval seconds, or until stopped. Called and returns with r->lock held. */
static void refresh_wait(dash_refresh_t *r)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += r->interval;
    while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
        ;
}

static void refresh_once(dash_refresh_t *r)
{
    PGconn *conn = dash_pool_acquire(r->pool, 1000);
    if (!conn)
        return; /* every connection serves a request: try again next time */
    PGcancel *cancel = PQgetCancel(conn);
    pthread_mutex_lock(&r->lock);
    int stop = r->stop;
    r->running = stop ? NULL : cancel;
    pthread_mutex_unlock(&r->lock);
    /* One entry per transaction, for at most one interval, so that stopping or new requests
     * never wait long behind the refresh. */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int done = 0;
    while (!stop) {
        koers_pg_error_t err;
        PGresult *res = koers_pg_exec(conn, "SELECT cache_key, error FROM dash.cache_refresh()", 0,
                                     NULL, PGRES_TUPLES_OK, &err);
        pthread_mutex_lock(&r->lock);
        stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        if (!res) {
            if (!stop)
                koers_log_warn("refreshing the dashboard cache: %s (SQLSTATE %s)", err.primary,
                               err.sqlstate);
            break;
        }
        int none = PQgetisnull(res, 0, 0);
        if (!none && !PQgetisnull(res, 0, 1))
            koers_log_warn("cached dashboard answer %s forgotten: %s", PQgetvalue(res, 0, 0),
                           PQgetvalue(res, 0, 1));
        else if (!none)
            done++;
        PQclear(res);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (none || t.tv_sec - t0.tv_sec >= r->interval)
            break;
    }
    pthread_mutex_lock(&r->lock);
    r->running = NULL;
    pthread_mutex_unlock(&r->lock);
    if (done > 0)
        koers_log_info("recomputed %d cached dashboard answer(s) whose data changed", done);
    if (cancel)
        PQfreeCancel(cancel);
    dash_pool_release(r->pool, conn);
}

static void *refresh_main(void *arg)
{
    dash_refresh_t *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        refresh_wait(r);
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->lock);
        refresh_once(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

dash_refresh_t *dash_refresh_start(dash_pool_t *pool, int interval, char *errstr, size_t errlen)
{
    dash_refresh_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    r->pool = pool;
    r->interval = interval;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    int e = pthread_create(&r->thread, NULL, refresh_main, r);
    if (e != 0) {
        snprintf(errstr, errlen, "cannot start the cache refresh: %s", strerror(e));
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    return r;
}

void dash_refresh_stop(dash_refresh_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    if (r->running) {
        char buf[256];
        if (!PQcancel(r->running, buf, sizeof buf))
            koers_log_warn("cancelling the cache refresh: %s", buf);
    }
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
