/* Schema upgrades: forward-only migrations from sql/ (tables, types, constraints, backfills),
 * recorded in koers.schema_migration, then the re-runnable definitions from sql/defs/
 * (functions, views and their rights), recorded with their digests in koers.schema_definition. */
#include <stdio.h>
#include <string.h>

#include "consume.h"
#include "koers/log.h"

#define MIGRATE_LOCK "7012341" /* advisory lock key: any constant the project owns */

/* A migration whose functions moved to sql/defs/ may hold comments only: a script, which may
 * be empty. */
static int migrate_exec(PGconn *conn, const char *sql, char *errstr, size_t errlen)
{
    koers_pg_error_t err;
    return koers_pg_script(conn, sql, &err) == 0 ? 0 : koers_pg_errstr(&err, NULL, errstr, errlen);
}

/* Runs a query whose one row holds one boolean; sets *out. Returns 0, or -1 with the server's
 * message in errstr. */
static int migrate_query_bool(PGconn *conn, const char *sql, int nparams,
                              const char *const *params, int *out, char *errstr, size_t errlen)
{
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, sql, nparams, params, PGRES_TUPLES_OK, &err);
    if (!res)
        return koers_pg_errstr(&err, NULL, errstr, errlen);
    int ok = PQntuples(res) == 1;
    if (ok)
        *out = PQgetvalue(res, 0, 0)[0] == 't';
    else
        snprintf(errstr, errlen, "%s: %d rows where one was expected", sql, PQntuples(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static int migrate_is_applied(PGconn *conn, const char *name, int *applied, char *errstr,
                              size_t errlen)
{
    const char *params[1] = {name};
    return migrate_query_bool(conn,
                              "SELECT EXISTS (SELECT 1 FROM koers.schema_migration WHERE name = $1)",
                              1, params, applied, errstr, errlen);
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
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, "INSERT INTO koers.schema_migration (name) VALUES ($1)",
                                  1, params, PGRES_COMMAND_OK, &err);
    if (!res) {
        snprintf(why, sizeof why, "recording %s", f->name);
        koers_pg_errstr(&err, why, errstr, errlen);
        migrate_exec(conn, "ROLLBACK", why, sizeof why);
        return -1;
    }
    PQclear(res);
    return migrate_exec(conn, "COMMIT", errstr, errlen);
}

/* A definition file that carries this line defines rules the prepared tables were built by:
 * when it changes, they are rebuilt from the stored events. */
#define DEFS_REBUILD_MARK "\n-- koers-defs: rebuild\n"

/* Drops every view and function of schemas koers and dash, so that the definition files alone
 * say what exists (one renamed or removed there is gone here too), except the functions that
 * a table needs (a trigger's): the files replace those in place. No CASCADE: an object of
 * someone else's built on ours stops the upgrade with the server naming it. */
static const char defs_drop_sql[] =
    "DO $$\n"
    "DECLARE\n"
    "    objs text;\n"
    "BEGIN\n"
    "    SELECT string_agg(c.oid::regclass::text, ', ') INTO objs FROM pg_class c\n"
    "    WHERE c.relnamespace IN ('koers'::regnamespace, 'dash'::regnamespace) AND c.relkind = 'v';\n"
    "    IF objs IS NOT NULL THEN EXECUTE 'DROP VIEW ' || objs; END IF;\n"
    "    SELECT string_agg(p.oid::regprocedure::text, ', ') INTO objs FROM pg_proc p\n"
    "    WHERE p.pronamespace IN ('koers'::regnamespace, 'dash'::regnamespace)\n"
    "      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_proc'::regclass\n"
    "                      AND d.refobjid = p.oid AND d.classid <> 'pg_proc'::regclass);\n"
    "    IF objs IS NOT NULL THEN EXECUTE 'DROP FUNCTION ' || objs; END IF;\n"
    "END\n"
    "$$";

/* Compares koers.schema_definition with the compiled-in files: *stale when a file is new or
 * differs or a recorded one is gone, *rebuild when a changed file carries DEFS_REBUILD_MARK. */
static int defs_status(PGconn *conn, int *stale, int *rebuild, char *errstr, size_t errlen)
{
    int n = 0;
    *stale = *rebuild = 0;
    for (const consume_sql_file_t *f = consume_sql_defs; f->name; f++, n++) {
        const char *params[2] = {f->name, f->sql};
        int changed;
        if (migrate_query_bool(conn,
                               "SELECT NOT EXISTS (SELECT 1 FROM koers.schema_definition"
                               " WHERE name = $1 AND sha256 = encode(sha256(convert_to($2, 'UTF8')), 'hex'))",
                               2, params, &changed, errstr, errlen) != 0)
            return -1;
        *stale |= changed;
        *rebuild |= changed && strstr(f->sql, DEFS_REBUILD_MARK) != NULL;
    }
    char count[16];
    snprintf(count, sizeof count, "%d", n);
    const char *params[1] = {count};
    int other;
    if (migrate_query_bool(conn, "SELECT count(*) <> $1::integer FROM koers.schema_definition", 1,
                           params, &other, errstr, errlen) != 0)
        return -1;
    *stale |= other;
    return 0;
}

/* In one transaction: drop, run every definition file in name order, record them; rebuild the
 * prepared rows if asked (a file marked DEFS_REBUILD_MARK changed); forget the dashboards' cached
 * answers, which the old definitions computed. Bodies are checked when they run: a function
 * may call one defined in a later file, and some read the consumer's session tables. */
static int defs_apply(PGconn *conn, int rebuild, char *errstr, size_t errlen)
{
    char why[1024];
    if (migrate_exec(conn, "BEGIN", errstr, errlen) != 0)
        return -1;
    int rc = migrate_exec(conn, "SET LOCAL check_function_bodies = off", errstr, errlen);
    if (rc == 0 && migrate_exec(conn, defs_drop_sql, why, sizeof why) != 0) {
        snprintf(errstr, errlen, "dropping the old definitions: %s", why);
        rc = -1;
    }
    for (const consume_sql_file_t *f = consume_sql_defs; rc == 0 && f->name; f++) {
        if (migrate_exec(conn, f->sql, why, sizeof why) != 0) {
            snprintf(errstr, errlen, "defs/%s.sql: %s", f->name, why);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = migrate_exec(conn, "DELETE FROM koers.schema_definition", errstr, errlen);
    for (const consume_sql_file_t *f = consume_sql_defs; rc == 0 && f->name; f++) {
        const char *params[2] = {f->name, f->sql};
        koers_pg_error_t err;
        PGresult *res = koers_pg_exec(conn,
                                      "INSERT INTO koers.schema_definition (name, sha256)"
                                      " VALUES ($1, encode(sha256(convert_to($2, 'UTF8')), 'hex'))",
                                      2, params, PGRES_COMMAND_OK, &err);
        if (!res) {
            snprintf(why, sizeof why, "recording defs/%s.sql", f->name);
            rc = koers_pg_errstr(&err, why, errstr, errlen);
        }
        PQclear(res);
    }
    if (rc == 0 && rebuild) {
        koers_log_info("a rule of the prepared tables changed: rebuilding them from the stored events");
        if (migrate_exec(conn, "SELECT koers.refresh_all()", why, sizeof why) != 0) {
            snprintf(errstr, errlen, "rebuilding the prepared tables: %s", why);
            rc = -1;
        }
    }
    if (rc == 0 && migrate_exec(conn, "SELECT koers.dash_cache_clear()", why, sizeof why) != 0) {
        snprintf(errstr, errlen, "clearing the dashboards' cache: %s", why);
        rc = -1;
    }
    if (rc != 0) {
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
                          " applied_at timestamptz NOT NULL DEFAULT now());"
                          "CREATE TABLE IF NOT EXISTS koers.schema_definition ("
                          " name text PRIMARY KEY,"
                          " sha256 text NOT NULL,"
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
    int stale = 0, rebuild = 0;
    if (rc == 0)
        rc = defs_status(conn, &stale, &rebuild, errstr, errlen);
    if (rc == 0 && stale) {
        rc = defs_apply(conn, rebuild, errstr, errlen);
        if (rc == 0) {
            koers_log_info("applied the definitions of sql/defs/");
            applied_now++;
        }
    }
    char why[256];
    migrate_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", why, sizeof why);
    return rc == 0 ? applied_now : -1;
}
