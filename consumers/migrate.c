/* Forward-only schema migrations from sql/, recorded in koers.schema_migration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consume.h"
#include "koers/log.h"

#define MIGRATE_LOCK "7012341" /* advisory lock key: any constant the project owns */

static int migrate_exec(PGconn *conn, const char *sql, char *errstr, size_t errlen)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(errstr, errlen, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static int migrate_is_applied(PGconn *conn, const char *name, int *applied, char *errstr,
                              size_t errlen)
{
    const char *params[1] = {name};
    PGresult *res = PQexecParams(conn, "SELECT 1 FROM koers.schema_migration WHERE name = $1", 1,
                                 NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(errstr, errlen, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    *applied = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

static int migrate_apply(PGconn *conn, const consume_sql_file_t *f, char *errstr, size_t errlen)
{
    char why[1024];
    if (migrate_exec(conn, "BEGIN", errstr, errlen) != 0)
        return -1;
    if (migrate_exec(conn, f->sql, why, sizeof why) != 0) {
        snprintf(errstr, errlen, "%s.sql: %s", f->name, why);
        migrate_exec(conn, "ROLLBACK", why, sizeof why);
        return -1;
    }
    const char *params[1] = {f->name};
    PGresult *res = PQexecParams(conn, "INSERT INTO koers.schema_migration (name) VALUES ($1)", 1,
                                 NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(errstr, errlen, "recording %s: %s", f->name, PQresultErrorMessage(res));
    PQclear(res);
    if (!ok) {
        migrate_exec(conn, "ROLLBACK", why, sizeof why);
        return -1;
    }
    return migrate_exec(conn, "COMMIT", errstr, errlen);
}

int consume_migrate(PGconn *conn, char *errstr, size_t errlen)
{
    if (migrate_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", errstr, errlen) != 0)
        return -1;
    int applied_now = 0;
    int rc = migrate_exec(conn,
                          "CREATE SCHEMA IF NOT EXISTS koers;"
                          "CREATE TABLE IF NOT EXISTS koers.schema_migration ("
                          " name text PRIMARY KEY,"
                          " applied_at timestamptz NOT NULL DEFAULT now())",
                          errstr, errlen);
    for (const consume_sql_file_t *f = consume_sql_files; rc == 0 && f->name; f++) {
        int applied;
        rc = migrate_is_applied(conn, f->name, &applied, errstr, errlen);
        if (rc == 0 && !applied) {
            rc = migrate_apply(conn, f, errstr, errlen);
            if (rc == 0) {
                koers_log_info("applied migration %s", f->name);
                applied_now++;
            }
        }
    }
    char why[256];
    migrate_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", why, sizeof why);
    return rc == 0 ? applied_now : -1;
}
