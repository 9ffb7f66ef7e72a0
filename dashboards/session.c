/* Passwords (Argon2id), session tokens, and the role a request runs as in PostgreSQL. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dash.h"
#include "koers/log.h"

/* Each check of a password takes crypto_pwhash_MEMLIMIT_INTERACTIVE (64 MiB): at most this
 * many at once, so a burst of logins cannot exhaust memory. */
#define SESSION_VERIFY_CONCURRENCY 2

static sem_t session_verify_slots;
static char session_dummy_hash[crypto_pwhash_STRBYTES];

int dash_session_init(void)
{
    if (sodium_init() < 0)
        return -1;
    if (sem_init(&session_verify_slots, 0, SESSION_VERIFY_CONCURRENCY) != 0)
        return -1;
    /* Unknown users are checked against this, so that their answer takes as long. */
    char pw[33];
    randombytes_buf(pw, sizeof pw - 1);
    for (size_t i = 0; i < sizeof pw - 1; i++)
        pw[i] = (char)('a' + (unsigned char)pw[i] % 26);
    pw[sizeof pw - 1] = '\0';
    return dash_session_hash_password(pw, session_dummy_hash, sizeof session_dummy_hash);
}

int dash_session_hash_password(const char *password, char *out, size_t outlen)
{
    if (outlen < crypto_pwhash_STRBYTES)
        return -1;
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -1;
}

static int session_verify(const char *hash, const char *password)
{
    sem_wait(&session_verify_slots);
    int ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    sem_post(&session_verify_slots);
    return ok;
}

/* The dashboard's roles, as koers.dash_user.role names them. */
static const struct {
    const char *name;
    unsigned bit;
} session_roles[] = {{"evaluator", DASH_ROLE_EVALUATOR}, {"funder", DASH_ROLE_FUNDER},
                     {"partner", DASH_ROLE_PARTNER},     {"admin", DASH_ROLE_ADMIN}};

unsigned dash_role_bit(const char *role)
{
    for (size_t i = 0; i < sizeof session_roles / sizeof session_roles[0]; i++)
        if (strcmp(role, session_roles[i].name) == 0)
            return session_roles[i].bit;
    return 0;
}

/* SHA-256 of the raw token, as hex; the database keeps only this. 0, or -1 for a token
 * that is not DASH_TOKEN_HEX hex digits. */
static int session_token_hash(const char *token_hex, char out[2 * crypto_hash_sha256_BYTES + 1])
{
    unsigned char raw[DASH_TOKEN_BYTES], h[crypto_hash_sha256_BYTES];
    size_t n = 0;
    if (!token_hex || strlen(token_hex) != DASH_TOKEN_HEX ||
        sodium_hex2bin(raw, sizeof raw, token_hex, DASH_TOKEN_HEX, NULL, &n, NULL) != 0 ||
        n != DASH_TOKEN_BYTES)
        return -1;
    crypto_hash_sha256(h, raw, sizeof raw);
    sodium_bin2hex(out, 2 * crypto_hash_sha256_BYTES + 1, h, sizeof h);
    return 0;
}

static void session_fill(dash_user_t *who, const PGresult *res, const char *hash_hex)
{
    snprintf(who->user, sizeof who->user, "%s", PQgetvalue(res, 0, 0));
    snprintf(who->role, sizeof who->role, "%s", PQgetvalue(res, 0, 1));
    snprintf(who->organisation, sizeof who->organisation, "%s", PQgetvalue(res, 0, 2));
    snprintf(who->db_role, sizeof who->db_role, "%s", PQgetvalue(res, 0, 3));
    snprintf(who->token_hash_hex, sizeof who->token_hash_hex, "%s", hash_hex);
    who->role_bit = dash_role_bit(who->role);
}

int dash_session_login(PGconn *conn, const dash_config_t *cfg, const char *user,
                       const char *password, const char *client, char *token_out,
                       dash_user_t *who)
{
    koers_pg_error_t err;
    const char *p1[1] = {user};
    PGresult *res = koers_pg_exec(conn, "SELECT password_hash, role, organisation, db_role"
                                       " FROM dash.auth_user($1)",
                                 1, p1, PGRES_TUPLES_OK, &err);
    if (!res) {
        koers_log_error("login: %s", err.primary);
        return -1;
    }
    int known = PQntuples(res) == 1;
    int ok = session_verify(known ? PQgetvalue(res, 0, 0) : session_dummy_hash, password) && known;
    PQclear(res);
    if (!ok)
        return 1;

    unsigned char raw[DASH_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token_out, DASH_TOKEN_HEX + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    char hash_hex[2 * crypto_hash_sha256_BYTES + 1], bytea[2 * crypto_hash_sha256_BYTES + 3];
    if (session_token_hash(token_out, hash_hex) != 0)
        return -1;
    snprintf(bytea, sizeof bytea, "\\x%s", hash_hex);
    char ttl[16], idle[16];
    snprintf(ttl, sizeof ttl, "%d", cfg->session_ttl);
    snprintf(idle, sizeof idle, "%d", cfg->session_idle);
    const char *p5[5] = {user, bytea, ttl, idle, client};
    res = koers_pg_exec(conn, "SELECT dash.auth_session_create($1, $2::bytea, $3::integer,"
                             " $4::integer, $5)",
                       5, p5, PGRES_TUPLES_OK, &err);
    if (!res) {
        koers_log_error("creating a session: %s", err.primary);
        return -1;
    }
    PQclear(res);
    return dash_session_lookup(conn, token_out, who) == 0 ? 0 : -1;
}

int dash_session_lookup(PGconn *conn, const char *token_hex, dash_user_t *who)
{
    char hash_hex[2 * crypto_hash_sha256_BYTES + 1], bytea[2 * crypto_hash_sha256_BYTES + 3];
    if (session_token_hash(token_hex, hash_hex) != 0)
        return 1;
    snprintf(bytea, sizeof bytea, "\\x%s", hash_hex);
    const char *p[1] = {bytea};
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, "SELECT user_name, role, coalesce(organisation, ''), db_role"
                                       " FROM dash.auth_session($1::bytea)",
                                 1, p, PGRES_TUPLES_OK, &err);
    if (!res) {
        koers_log_error("looking up a session: %s", err.primary);
        return -1;
    }
    int found = PQntuples(res) == 1;
    if (found)
        session_fill(who, res, hash_hex);
    PQclear(res);
    return found && who->role_bit ? 0 : 1;
}

void dash_session_logout(PGconn *conn, const char *token_hex, const char *client)
{
    char hash_hex[2 * crypto_hash_sha256_BYTES + 1], bytea[2 * crypto_hash_sha256_BYTES + 3];
    if (session_token_hash(token_hex, hash_hex) != 0)
        return;
    snprintf(bytea, sizeof bytea, "\\x%s", hash_hex);
    const char *p[2] = {bytea, client};
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, "SELECT dash.auth_session_end($1::bytea, $2)", 2, p,
                                 PGRES_TUPLES_OK, &err);
    if (!res)
        koers_log_error("ending a session: %s", err.primary);
    PQclear(res);
}

void dash_session_failed(PGconn *conn, const char *user, const char *client)
{
    const char *p[2] = {user, client};
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, "SELECT dash.auth_failed($1, $2)", 2, p, PGRES_TUPLES_OK, &err);
    if (!res)
        koers_log_error("auditing a failed login: %s", err.primary);
    PQclear(res);
}

int dash_session_begin(PGconn *conn, const dash_user_t *who, const char *client,
                       koers_pg_error_t *err)
{
    if (koers_pg_command(conn, "BEGIN", err) != 0)
        return -1;
    /* The database checks that the session is live and that the role is its user's. */
    const char *p[3] = {who->token_hash_hex, client, who->db_role};
    PGresult *res = koers_pg_exec(conn,
                                 "SELECT set_config('koers.dash_session', $1, true),"
                                 " set_config('koers.dash_client', $2, true),"
                                 " set_config('role', $3, true)",
                                 3, p, PGRES_TUPLES_OK, err);
    if (!res) {
        koers_pg_error_t ignored;
        koers_pg_command(conn, "ROLLBACK", &ignored);
        return -1;
    }
    PQclear(res);
    return 0;
}
