/* The JSON and CSV API: each endpoint one function of schema dash, run as the user's role. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dash.h"
#include "koers/log.h"

typedef enum {
    API_ME,
    API_CELLS,
    API_EVIDENCE,
    API_MKBA,
    API_PAIRED,
    API_UNIT_COSTS,
    API_MKBA_ASSUMPTIONS,
    API_PRICE_INDEX,
    API_TIMELINE,
    API_PARTICIPANTS,
    API_USERS,
    API_AUDIT
} api_kind_t;

typedef struct {
    const char *name;    /* /api/<name> (and /api/<name>.csv) */
    api_kind_t kind;
    unsigned roles;      /* checked here first; the database checks again */
    const char *const *args;
    long limit_max;      /* the largest limit parameter (rows or lanes), when it takes one */
    const char *limit_default;
} api_endpoint_t;

static const char *const api_args_none[] = {NULL};
static const char *const api_args_cells[] = {"cohort", "organisation", "from", "to", "chart", NULL};
static const char *const api_args_timeline[] = {"cohort", "organisation", "from", "to", "offset",
                                                "limit", NULL};
static const char *const api_args_participants[] = {"cohort", "organisation", "to", NULL};
static const char *const api_args_evidence[] = {"cohort", "organisation", "from", "to", "chart",
                                                "window", NULL};
static const char *const api_args_paired[] = {"cohort", "organisation", "to", "window", NULL};
static const char *const api_args_audit[] = {"limit", NULL};

static const api_endpoint_t api_endpoints[] = {
    {"me", API_ME, DASH_ROLE_ANY, api_args_none, 0, NULL},
    {"overview", API_CELLS, DASH_ROLE_ANY, api_args_cells, 0, NULL},
    {"crisis", API_CELLS, DASH_ROLE_ANY, api_args_cells, 0, NULL},
    {"support", API_CELLS, DASH_ROLE_ANY, api_args_cells, 0, NULL},
    {"cost", API_CELLS, DASH_ROLE_ANY, api_args_cells, 0, NULL},
    {"quality", API_CELLS, DASH_ROLE_ANY, api_args_cells, 0, NULL},
    {"instruments", API_CELLS, DASH_ROLE_ANY, api_args_cells, 0, NULL},
    {"evidence", API_EVIDENCE, DASH_ROLE_ANY, api_args_evidence, 0, NULL},
    {"mkba", API_MKBA, DASH_ROLE_ANY, api_args_evidence, 0, NULL},
    {"mkba_assumptions", API_MKBA_ASSUMPTIONS, DASH_ROLE_ANY, api_args_none, 0, NULL},
    {"price_index", API_PRICE_INDEX, DASH_ROLE_ANY, api_args_none, 0, NULL},
    {"paired", API_PAIRED, DASH_ROLE_EVALUATOR, api_args_paired, 0, NULL},
    {"unit_costs", API_UNIT_COSTS, DASH_ROLE_ANY, api_args_none, 0, NULL},
    {"timeline", API_TIMELINE, DASH_ROLE_EVALUATOR, api_args_timeline, 500, "25"},
    {"participants", API_PARTICIPANTS, DASH_ROLE_EVALUATOR, api_args_participants, 0, NULL},
    {"users", API_USERS, DASH_ROLE_ADMIN, api_args_none, 0, NULL},
    {"audit", API_AUDIT, DASH_ROLE_ADMIN, api_args_audit, 10000, "200"},
};

/* The windows of the evidence (koers.dash_window_names() in sql/defs/70_dash_cells.sql, which
 * checks again); the first is the default, but the MKBA's is intention-to-treat (the
 * setting mkba_window's shipped value, sql/0015_mkba.sql). */
static const char *const api_windows[] = {"per_protocol", "intention_to_treat", "follow_up"};

typedef struct {
    const char *cohort, *organisation, *chart, *window;
    char from[16], to[16], offset[16], limit[16];
    int has_from, has_to;
} api_params_t;

/* Reads and checks the parameters of endpoint ep; 0, or -1 with a 400 response. */
static int api_params(dash_req_t *req, const api_endpoint_t *ep, api_params_t *p, dash_resp_t *resp)
{
    memset(p, 0, sizeof *p);
    const char *v;
    if ((v = dash_req_arg(req, "cohort")) && *v) {
        if (!dash_param_name(v))
            goto bad;
        p->cohort = v;
    }
    if ((v = dash_req_arg(req, "organisation")) && *v) {
        if (!dash_param_name(v))
            goto bad;
        p->organisation = v;
    }
    if ((v = dash_req_arg(req, "from")) && *v) {
        if (!dash_param_month(v, p->from, sizeof p->from))
            goto bad;
        p->has_from = 1;
    }
    if ((v = dash_req_arg(req, "to")) && *v) {
        if (!dash_param_month(v, p->to, sizeof p->to))
            goto bad;
        p->has_to = 1;
    }
    if ((v = dash_req_arg(req, "chart")) && *v) {
        if (!dash_param_chart(v))
            goto bad;
        p->chart = v;
    }
    p->window = ep->kind == API_MKBA ? api_windows[1] : api_windows[0];
    if ((v = dash_req_arg(req, "window")) && *v) {
        p->window = NULL;
        for (size_t i = 0; i < sizeof api_windows / sizeof *api_windows; i++)
            if (strcmp(v, api_windows[i]) == 0)
                p->window = api_windows[i];
        if (!p->window) {
            dash_resp_json_error(resp, 400, "bad_parameter",
                                 "window is one of per_protocol, intention_to_treat, follow_up");
            return -1;
        }
    }
    long n;
    v = dash_req_arg(req, "offset");
    if (v && *v && !dash_param_int(v, 0, 1000000, &n))
        goto bad;
    snprintf(p->offset, sizeof p->offset, "%s", v && *v ? v : "0");
    v = dash_req_arg(req, "limit");
    if (v && *v && !dash_param_int(v, 1, ep->limit_max, &n)) {
        char why[64];
        snprintf(why, sizeof why, "limit is a number 1..%ld", ep->limit_max);
        dash_resp_json_error(resp, 400, "bad_parameter", why);
        return -1;
    }
    snprintf(p->limit, sizeof p->limit, "%s", v && *v ? v : ep->limit_default ? ep->limit_default : "");
    return 0;
bad:
    dash_resp_json_error(resp, 400, "bad_parameter",
                         "a parameter is not valid: cohort and organisation are names "
                         "([a-z0-9_-]{1,32}), from and to months (YYYY-MM), offset and limit numbers");
    return -1;
}

/* Maps a database error to a response, by SQLSTATE. */
static void api_db_error(dash_resp_t *resp, const koers_pg_error_t *err, const char *what)
{
    if (strcmp(err->sqlstate, "KS001") == 0) {
        /* One text for every reason: which check refused (too few, or too few apart from a
         * wider setting) would tell how small a group is. */
        dash_resp_json_error(resp, 422, "filter_refused",
                             "the filter would single out too small a group");
    } else if (strcmp(err->sqlstate, "42501") == 0) {
        dash_resp_json_error(resp, 403, "forbidden", "your role may not read this");
    } else if (strncmp(err->sqlstate, "28", 2) == 0) {
        dash_resp_json_error(resp, 401, "no_session", "log in first");
    } else if (strncmp(err->sqlstate, "22", 2) == 0) {
        dash_resp_json_error(resp, 400, "bad_parameter", err->primary);
    } else {
        koers_log_error("%s: %s (SQLSTATE %s)", what, err->primary, err->sqlstate);
        dash_resp_json_error(resp, 500, "internal", "the database could not answer");
    }
}

static void api_json(dash_resp_t *resp, json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!s) {
        dash_resp_json_error(resp, 500, "internal", "out of memory");
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json; charset=utf-8";
    resp->body = s;
    resp->len = strlen(s);
}

static void api_csv(dash_resp_t *resp, const PGresult *res, int filter_col, const char *filter_val,
                    const char *filename)
{
    size_t len = 0;
    char *csv = koers_pg_csv(res, filter_col, filter_val, &len);
    if (!csv) {
        dash_resp_json_error(resp, 500, "internal", "out of memory");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/csv; charset=utf-8";
    resp->body = csv;
    resp->len = len;
    snprintf(resp->disposition, sizeof resp->disposition, "attachment; filename=\"%s\"", filename);
}

/* The one row of a query as a JSON object (NULL if out of memory); on a database error the
 * response is that error and *failed is set. */
static json_t *api_row_object(PGconn *conn, const char *sql, const char *what, dash_resp_t *resp,
                              int *failed)
{
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, sql, 0, NULL, PGRES_TUPLES_OK, &err);
    if (!res) {
        api_db_error(resp, &err, what);
        *failed = 1;
        return NULL;
    }
    json_t *rows = koers_pg_json_rows(res);
    json_t *obj = rows && json_array_size(rows) == 1 ? json_incref(json_array_get(rows, 0)) : NULL;
    json_decref(rows);
    PQclear(res);
    return obj;
}

/* /api/me: who the user is, and the choices of the filters. */
static void api_me(PGconn *conn, dash_resp_t *resp)
{
    int failed = 0;
    json_t *doc = api_row_object(conn, "SELECT user_name, role, organisation, suppressed_below, as_of"
                                       " FROM dash.whoami()", "whoami", resp, &failed);
    if (failed)
        return;
    koers_pg_error_t err;
    PGresult *f = koers_pg_exec(conn, "SELECT name, value FROM dash.filters()", 0, NULL,
                               PGRES_TUPLES_OK, &err);
    if (!f) {
        json_decref(doc);
        api_db_error(resp, &err, "filters");
        return;
    }
    json_t *cohorts = json_array(), *orgs = json_array();
    for (int r = 0; doc && cohorts && orgs && r < PQntuples(f); r++) {
        const char *name = PQgetvalue(f, r, 0), *value = PQgetvalue(f, r, 1);
        if (strcmp(name, "cohort") == 0)
            json_array_append_new(cohorts, json_string(value));
        else if (strcmp(name, "organisation") == 0)
            json_array_append_new(orgs, json_string(value));
        else if (!PQgetisnull(f, r, 1))
            json_object_set_new(doc, name, json_string(value));
    }
    if (doc) {
        json_object_set_new(doc, "cohorts", cohorts);
        json_object_set_new(doc, "organisations", orgs);
    } else {
        json_decref(cohorts);
        json_decref(orgs);
    }
    PQclear(f);
    api_json(resp, doc);
}

/* The cells of a page; with_window: the page function takes the window as a fifth argument. */
static void api_cells(PGconn *conn, const char *name, int with_window, int csv,
                      const api_params_t *p, dash_resp_t *resp)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT c.chart, c.series, c.category, c.value, c.suppressed,"
             " CASE WHEN c.suppressed THEN '<' || w.suppressed_below END AS shown_as"
             " FROM dash.%s($1, $2, $3::date, $4::date%s) c CROSS JOIN dash.whoami() w",
             name, with_window ? ", $5" : ""); /* name is one of api_endpoints[] */
    const char *params[5] = {p->cohort, p->organisation, p->has_from ? p->from : NULL,
                             p->has_to ? p->to : NULL, p->window};
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, sql, with_window ? 5 : 4, params, PGRES_TUPLES_OK, &err);
    if (!res) {
        api_db_error(resp, &err, name);
        return;
    }
    if (csv) {
        char file[96];
        snprintf(file, sizeof file, "koers-%s.csv", p->chart ? p->chart : name);
        api_csv(resp, res, p->chart ? 0 : -1, p->chart, file);
        PQclear(res);
        return;
    }
    int failed = 0;
    json_t *doc = api_row_object(conn, "SELECT suppressed_below, as_of FROM dash.whoami()",
                                 "whoami", resp, &failed);
    if (failed) {
        PQclear(res);
        return;
    }
    json_t *rows = koers_pg_json_rows(res);
    if (doc && rows) {
        json_object_set_new(doc, "page", json_string(name));
        if (with_window)
            json_object_set_new(doc, "window", json_string(p->window));
        json_object_set_new(doc, "rows", rows);
    } else {
        json_decref(rows);
        json_decref(doc);
        doc = NULL;
    }
    PQclear(res);
    api_json(resp, doc);
}

/* The endpoints that return one query's rows as they are. */
static void api_rows(PGconn *conn, const char *what, const char *sql, int n,
                     const char *const *params, int csv, const char *file, dash_resp_t *resp)
{
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, sql, n, params, PGRES_TUPLES_OK, &err);
    if (!res) {
        api_db_error(resp, &err, what);
        return;
    }
    if (csv) {
        api_csv(resp, res, -1, NULL, file);
    } else {
        json_t *doc = json_object();
        json_t *rows = koers_pg_json_rows(res);
        if (doc && rows) {
            json_object_set_new(doc, "rows", rows);
        } else {
            json_decref(rows);
            json_decref(doc);
            doc = NULL;
        }
        api_json(resp, doc);
    }
    PQclear(res);
}

static void api_timeline(PGconn *conn, int csv, const api_params_t *p, dash_resp_t *resp)
{
    const char *params[7] = {p->cohort, p->organisation, p->has_from ? p->from : NULL,
                             p->has_to ? p->to : NULL, p->offset, p->limit,
                             csv ? "export" : "page"};
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn,
                                 "SELECT lane, participant, cohort_name AS cohort, item, detail,"
                                 " start_day, end_day, events, days FROM dash.timeline($1, $2,"
                                 " $3::date, $4::date, $5::integer, $6::integer, $7)",
                                 7, params, PGRES_TUPLES_OK, &err);
    if (!res) {
        api_db_error(resp, &err, "timeline");
        return;
    }
    if (csv) {
        api_csv(resp, res, -1, NULL, "koers-timeline.csv");
        PQclear(res);
        return;
    }
    const char *p3[3] = {p->cohort, p->organisation, p->has_to ? p->to : NULL};
    PGresult *n = koers_pg_exec(conn, "SELECT dash.timeline_lanes($1, $2, $3::date),"
                                     " (SELECT as_of FROM dash.whoami())",
                               3, p3, PGRES_TUPLES_OK, &err);
    if (!n) {
        PQclear(res);
        api_db_error(resp, &err, "timeline_lanes");
        return;
    }
    json_t *doc = json_object();
    json_t *rows = koers_pg_json_rows(res);
    if (doc && rows) {
        json_object_set_new(doc, "lanes_total", json_integer(atoi(PQgetvalue(n, 0, 0))));
        json_object_set_new(doc, "offset", json_integer(atoi(p->offset)));
        json_object_set_new(doc, "as_of", json_string(PQgetvalue(n, 0, 1)));
        json_object_set_new(doc, "rows", rows);
    } else {
        json_decref(rows);
        json_decref(doc);
        doc = NULL;
    }
    PQclear(res);
    PQclear(n);
    api_json(resp, doc);
}

void dash_api_handle(PGconn *conn, const dash_user_t *who, const char *client, const char *name,
                     dash_req_t *req, dash_resp_t *resp)
{
    char base[40];
    size_t n = strlen(name);
    int csv = n > 4 && strcmp(name + n - 4, ".csv") == 0;
    if (n - (csv ? 4 : 0) >= sizeof base) {
        dash_resp_json_error(resp, 404, "not_found", "no such endpoint");
        return;
    }
    snprintf(base, sizeof base, "%.*s", (int)(n - (csv ? 4 : 0)), name);
    const api_endpoint_t *ep = NULL;
    for (size_t i = 0; i < sizeof api_endpoints / sizeof *api_endpoints; i++)
        if (strcmp(api_endpoints[i].name, base) == 0)
            ep = &api_endpoints[i];
    if (!ep || (csv && (ep->kind == API_ME || ep->kind == API_USERS || ep->kind == API_AUDIT))) {
        dash_resp_json_error(resp, 404, "not_found", "no such endpoint");
        return;
    }
    if (!(ep->roles & who->role_bit)) {
        dash_resp_json_error(resp, 403, "forbidden", "your role may not read this");
        return;
    }
    char why[128];
    if (dash_req_check_args(req, ep->args, why, sizeof why) != 0) {
        dash_resp_json_error(resp, 400, "bad_parameter", why);
        return;
    }
    api_params_t p;
    if (api_params(req, ep, &p, resp) != 0)
        return;

    koers_pg_error_t err;
    if (dash_session_begin(conn, who, client, &err) != 0) {
        api_db_error(resp, &err, "starting the request");
        return;
    }
    switch (ep->kind) {
    case API_ME:
        api_me(conn, resp);
        break;
    case API_CELLS:
    case API_EVIDENCE:
    case API_MKBA:
        api_cells(conn, ep->name, ep->kind != API_CELLS, csv, &p, resp);
        break;
    case API_PAIRED: {
        const char *params[5] = {p.cohort, p.organisation, p.has_to ? p.to : NULL, p.window,
                                 csv ? "export" : "page"};
        api_rows(conn, "paired", "SELECT * FROM dash.paired($1, $2, $3::date, $4, $5)", 5, params,
                 csv, "koers-paired.csv", resp);
        break;
    }
    case API_UNIT_COSTS:
        api_rows(conn, "unit_costs", "SELECT * FROM dash.unit_costs()", 0, NULL, csv,
                 "koers-unit-costs.csv", resp);
        break;
    case API_MKBA_ASSUMPTIONS:
        api_rows(conn, "mkba_assumptions", "SELECT * FROM dash.mkba_assumptions()", 0, NULL, csv,
                 "koers-mkba-assumptions.csv", resp);
        break;
    case API_PRICE_INDEX:
        api_rows(conn, "price_index", "SELECT * FROM dash.price_index()", 0, NULL, csv,
                 "koers-price-index.csv", resp);
        break;
    case API_TIMELINE:
        api_timeline(conn, csv, &p, resp);
        break;
    case API_PARTICIPANTS: {
        const char *params[4] = {p.cohort, p.organisation, p.has_to ? p.to : NULL,
                                 csv ? "export" : "page"};
        api_rows(conn, "participants", "SELECT * FROM dash.participants($1, $2, $3::date, $4)", 4,
                 params, csv, "koers-participants.csv", resp);
        break;
    }
    case API_USERS:
        api_rows(conn, "users", "SELECT * FROM dash.users()", 0, NULL, 0, NULL, resp);
        break;
    case API_AUDIT: {
        const char *params[1] = {p.limit};
        api_rows(conn, "audit", "SELECT * FROM dash.audit_log($1::integer)", 1, params, 0, NULL,
                 resp);
        break;
    }
    }
    /* Commit what the functions wrote (the audit rows of micro-data); on a failed request,
     * roll back. */
    if (resp->status == 200) {
        if (koers_pg_command(conn, "COMMIT", &err) != 0) {
            koers_log_error("commit: %s", err.primary);
            free(resp->body);
            resp->body = NULL;
            dash_resp_json_error(resp, 500, "internal", "the database could not answer");
        }
    } else {
        koers_pg_command(conn, "ROLLBACK", &err);
    }
}
