/* A small, bounded pool of PostgreSQL connections, and queries whose results are checked. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash.h"
#include "koers/log.h"

struct dash_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *conninfo;
    int size;
    PGconn **conns;
    int *busy;
};

/* Opens one connection and checks who it is: koers-dash refuses to run as a superuser. */
static PGconn *db_connect(const char *conninfo, char *errstr, size_t errlen)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(errstr, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn,
                                 "SELECT r.rolsuper, pg_has_role(current_user, 'koers_funder', 'MEMBER'),"
                                 " current_user, set_config('application_name', 'koers-dash', false)"
                                 " FROM pg_roles r WHERE r.rolname = current_user",
                                 0, NULL, PGRES_TUPLES_OK, &err);
    if (!res) {
        snprintf(errstr, errlen, "checking the database role: %s", err.primary);
        PQfinish(conn);
        return NULL;
    }
    int super = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    int member = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    if (super || !member) {
        snprintf(errstr, errlen,
                 "connected as %s: koers-dash must connect as koers_dash (e.g. -d 'user=koers_dash "
                 "dbname=koers'), %s",
                 PQntuples(res) == 1 ? PQgetvalue(res, 0, 2) : "?",
                 super ? "never as a superuser, or the database could not limit what it reads"
                       : "a role that may SET ROLE to koers_evaluator, koers_funder, koers_partner "
                         "and koers_admin (was koers-consume --migrate run?)");
        PQclear(res);
        PQfinish(conn);
        return NULL;
    }
    PQclear(res);
    return conn;
}

dash_pool_t *dash_pool_new(const char *conninfo, int size, char *errstr, size_t errlen)
{
    dash_pool_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->size = size;
    p->conninfo = strdup(conninfo ? conninfo : "");
    p->conns = calloc((size_t)size, sizeof *p->conns);
    p->busy = calloc((size_t)size, sizeof *p->busy);
    if (!p->conninfo || !p->conns || !p->busy) {
        snprintf(errstr, errlen, "out of memory");
        dash_pool_free(p);
        return NULL;
    }
    for (int i = 0; i < size; i++) {
        p->conns[i] = db_connect(p->conninfo, errstr, errlen);
        if (!p->conns[i]) {
            dash_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void dash_pool_free(dash_pool_t *p)
{
    if (!p)
        return;
    for (int i = 0; p->conns && i < p->size; i++)
        if (p->conns[i])
            PQfinish(p->conns[i]);
    free(p->conns);
    free(p->busy);
    free(p->conninfo);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

PGconn *dash_pool_acquire(dash_pool_t *p, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    for (;;) {
        for (int i = 0; i < p->size; i++) {
            if (!p->busy[i]) {
                p->busy[i] = 1;
                PGconn *c = p->conns[i];
                pthread_mutex_unlock(&p->lock);
                if (PQstatus(c) != CONNECTION_OK) {
                    koers_log_warn("PostgreSQL connection lost; reconnecting");
                    PQreset(c);
                }
                return c;
            }
        }
        if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void dash_pool_release(dash_pool_t *p, PGconn *c)
{
    if (!c)
        return;
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE) {
        koers_pg_error_t err;
        if (koers_pg_command(c, "ROLLBACK", &err) != 0)
            koers_log_warn("rollback on release: %s", err.primary);
    }
    /* A connection must never keep a role or a session setting from its last request. */
    if (PQstatus(c) == CONNECTION_OK) {
        koers_pg_error_t err;
        if (koers_pg_command(c, "RESET ROLE", &err) != 0)
            koers_log_warn("reset role on release: %s", err.primary);
    }
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->size; i++)
        if (p->conns[i] == c)
            p->busy[i] = 0;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
