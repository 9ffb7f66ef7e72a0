/* koers-dash user: add, passwd, disable, enable, delete and list dashboard users. Runs as a
 * role that may create roles (a partner organisation gets its own database role). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "dash.h"
#include "koers/log.h"

#define USER_PASSWORD_MIN 12
#define USER_PASSWORD_MAX 256

static void user_usage(FILE *out)
{
    fprintf(out,
            "Usage: koers-dash user add NAME --role ROLE [--organisation ORG] [PASSWORD OPTION] [--replace]\n"
            "       koers-dash user passwd NAME [PASSWORD OPTION]\n"
            "       koers-dash user disable|enable|delete NAME\n"
            "       koers-dash user list\n"
            "Manage the dashboard's users (table koers.dash_user). ROLE is evaluator, funder,\n"
            "partner (with --organisation, a source name such as wijkteam) or admin.\n"
            "Passwords are stored only as Argon2id hashes (libsodium crypto_pwhash_str).\n"
            "\n"
            "Password options (default: generate one and print it on stdout):\n"
            "      --password-file FILE   read the password from the first line of FILE\n"
            "      --password-stdin       read the password from the first line of stdin\n"
            "Connection: -d CONNINFO before the word user (a role that may create roles).\n"
            "Exit status: 0 done; 1 database failure; 2 usage error.\n");
}

static int user_read_line(FILE *f, char *out, size_t outlen)
{
    if (!fgets(out, (int)outlen, f))
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* A password of 20 characters from an alphabet without look-alikes, in groups of five. */
static void user_generate(char *out, size_t outlen)
{
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
    size_t j = 0;
    for (int i = 0; i < 20 && j + 2 < outlen; i++) {
        if (i && i % 5 == 0)
            out[j++] = '-';
        out[j++] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    }
    out[j] = '\0';
}

static int user_exec(PGconn *conn, const char *sql, int n, const char *const *params,
                     ExecStatusType want, PGresult **out)
{
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, sql, n, params, want, &err);
    if (!res) {
        koers_log_error("%s", err.primary);
        return -1;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

static int user_list(PGconn *conn)
{
    PGresult *res;
    if (user_exec(conn,
                  "SELECT u.name, u.role, coalesce(u.organisation, ''), u.db_role,"
                  " to_char(u.created_at, 'YYYY-MM-DD'), coalesce(to_char(u.last_login_at,"
                  " 'YYYY-MM-DD HH24:MI'), '-'), CASE WHEN u.disabled THEN 'disabled' ELSE 'enabled' END"
                  " FROM koers.dash_user u ORDER BY u.name",
                  0, NULL, PGRES_TUPLES_OK, &res) != 0)
        return 1;
    printf("%-24s %-10s %-16s %-28s %-10s %-16s %s\n", "name", "role", "organisation", "db_role",
           "created", "last login", "state");
    for (int r = 0; r < PQntuples(res); r++)
        printf("%-24s %-10s %-16s %-28s %-10s %-16s %s\n", PQgetvalue(res, r, 0),
               PQgetvalue(res, r, 1), PQgetvalue(res, r, 2), PQgetvalue(res, r, 3),
               PQgetvalue(res, r, 4), PQgetvalue(res, r, 5), PQgetvalue(res, r, 6));
    PQclear(res);
    return 0;
}

int dash_user_main(int argc, char **argv, const char *conninfo)
{
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},
        {"organisation", required_argument, NULL, 'o'},
        {"password-file", required_argument, NULL, 'f'},
        {"password-stdin", no_argument, NULL, 's'},
        {"replace", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *role = NULL, *org = NULL, *pwfile = NULL;
    int pwstdin = 0, replace = 0, c;
    optind = 0; /* glibc: 0 starts a new scan (main stopped at "user") */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': role = optarg; break;
        case 'o': org = optarg; break;
        case 'f': pwfile = optarg; break;
        case 's': pwstdin = 1; break;
        case 'R': replace = 1; break;
        case 'h': user_usage(stdout); return 0;
        default: user_usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        user_usage(stderr);
        return 2;
    }
    const char *verb = argv[optind];
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    int is_add = strcmp(verb, "add") == 0, is_passwd = strcmp(verb, "passwd") == 0;
    int is_list = strcmp(verb, "list") == 0;
    int is_state = strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0 || strcmp(verb, "delete") == 0;
    if (!(is_add || is_passwd || is_list || is_state) || (!is_list && !name) ||
        optind + (is_list ? 1 : 2) != argc) {
        user_usage(stderr);
        return 2;
    }
    if (is_add) {
        if (!role || !dash_role_bit(role)) {
            fprintf(stderr, "koers-dash user add: --role is evaluator, funder, partner or admin\n");
            return 2;
        }
        if ((strcmp(role, "partner") == 0) != (org != NULL)) {
            fprintf(stderr, "koers-dash user add: --organisation goes with --role partner, and only with it\n");
            return 2;
        }
    } else if (role || org || replace) {
        fprintf(stderr, "koers-dash user %s: --role, --organisation and --replace are for add\n", verb);
        return 2;
    }
    if (pwfile && pwstdin) {
        fprintf(stderr, "koers-dash user: give --password-file or --password-stdin, not both\n");
        return 2;
    }

    char password[USER_PASSWORD_MAX + 2] = "";
    int generated = 0;
    if (is_add || is_passwd) {
        if (pwfile) {
            FILE *f = fopen(pwfile, "r");
            if (!f || user_read_line(f, password, sizeof password) != 0) {
                fprintf(stderr, "koers-dash user: cannot read a password from %s\n", pwfile);
                if (f)
                    fclose(f);
                return 2;
            }
            fclose(f);
        } else if (pwstdin) {
            if (user_read_line(stdin, password, sizeof password) != 0) {
                fprintf(stderr, "koers-dash user: no password on stdin\n");
                return 2;
            }
        } else {
            user_generate(password, sizeof password);
            generated = 1;
        }
        if (strlen(password) < USER_PASSWORD_MIN || strlen(password) > USER_PASSWORD_MAX) {
            fprintf(stderr, "koers-dash user: a password has %d to %d characters\n", USER_PASSWORD_MIN,
                    USER_PASSWORD_MAX);
            return 2;
        }
    }

    PGconn *conn = PQconnectdb(conninfo ? conninfo : "");
    if (PQstatus(conn) != CONNECTION_OK) {
        koers_log_error("cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    int rc = 0;
    if (is_list) {
        rc = user_list(conn);
        PQfinish(conn);
        return rc;
    }

    char hash[256] = "";
    if ((is_add || is_passwd) && dash_session_hash_password(password, hash, sizeof hash) != 0) {
        koers_log_error("hashing the password failed (out of memory?)");
        PQfinish(conn);
        return 1;
    }
    if (user_exec(conn, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL) != 0) {
        PQfinish(conn);
        return 1;
    }
    PGresult *res = NULL;
    if (is_add) {
        char db_role[80];
        if (org) {
            const char *p[1] = {org};
            if (user_exec(conn, "SELECT koers.dash_partner_role($1)", 1, p, PGRES_TUPLES_OK, &res) != 0)
                goto fail;
            snprintf(db_role, sizeof db_role, "%s", PQgetvalue(res, 0, 0));
            PQclear(res);
        } else {
            snprintf(db_role, sizeof db_role, "koers_%s", role);
        }
        const char *p[5] = {name, role, org, db_role, hash};
        const char *sql = replace
            ? "INSERT INTO koers.dash_user (name, role, organisation, db_role, password_hash)"
              " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role,"
              " organisation = EXCLUDED.organisation, db_role = EXCLUDED.db_role,"
              " password_hash = EXCLUDED.password_hash, password_changed_at = now(), disabled = false"
            : "INSERT INTO koers.dash_user (name, role, organisation, db_role, password_hash)"
              " VALUES ($1, $2, $3, $4, $5)";
        if (user_exec(conn, sql, 5, p, PGRES_COMMAND_OK, NULL) != 0)
            goto fail;
        const char *p1[1] = {name};
        if (replace && user_exec(conn, "DELETE FROM koers.dash_session WHERE user_name = $1", 1, p1,
                                 PGRES_COMMAND_OK, NULL) != 0)
            goto fail;
    } else {
        const char *sql = is_passwd
            ? "UPDATE koers.dash_user SET password_hash = $2, password_changed_at = now() WHERE name = $1"
            : strcmp(verb, "disable") == 0 ? "UPDATE koers.dash_user SET disabled = true WHERE name = $1"
            : strcmp(verb, "enable") == 0 ? "UPDATE koers.dash_user SET disabled = false WHERE name = $1"
            : "DELETE FROM koers.dash_user WHERE name = $1";
        const char *p[2] = {name, hash};
        if (user_exec(conn, sql, is_passwd ? 2 : 1, p, PGRES_COMMAND_OK, &res) != 0)
            goto fail;
        int changed = atoi(PQcmdTuples(res));
        PQclear(res);
        if (!changed) {
            koers_log_error("no user %s", name);
            goto fail;
        }
        /* A new password, a disabled or deleted user: their sessions end now. */
        const char *p1[1] = {name};
        if (strcmp(verb, "enable") != 0 &&
            user_exec(conn, "DELETE FROM koers.dash_session WHERE user_name = $1", 1, p1,
                      PGRES_COMMAND_OK, NULL) != 0)
            goto fail;
    }
    if (user_exec(conn, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL) != 0)
        goto fail;
    if (generated)
        printf("%s\n", password);
    koers_log_info("user %s: %s done", name, verb);
    sodium_memzero(password, sizeof password);
    PQfinish(conn);
    return 0;
fail:
    rc = 1;
    sodium_memzero(password, sizeof password);
    PQfinish(conn);
    return rc;
}
