/* koers-report: prints koers' seven measures for a cohort and period, or writes them as CSV/JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "koers/cli.h"
#include "koers/config.h"
#include "koers/log.h"
#include "koers/pg.h"
#include "koers/pg_oid.h"

#include "funder.h"

#define EXIT_DB 1
#define EXIT_USAGE 2
#define EXIT_OUTPUT 3
#define SHORT_PSEUDONYM 12
#define REPORT_TEXT_WIDTH 160   /* wider tables are transposed or printed as blocks */
#define REPORT_TRANSPOSE_ROWS 8 /* at most this many rows are transposed */

enum { FMT_TEXT, FMT_CSV, FMT_JSON, FMT_HTML, FMT_PDF };

/* Parameters of every query: $1 cohort (NULL: all), $2 from, $3 to (NULL: open), $4 as_of. */
#define COHORT "($1::text IS NULL OR cohort = $1::text)"
#define MONTHS(col) "($2::date IS NULL OR " col " >= date_trunc('month', $2::date)::date)" \
    " AND ($3::date IS NULL OR " col " <= $3::date)"

#define COST_COLUMNS "person_months_before, person_months_during, crisis_cost_before," \
    " crisis_cost_during, police_cost_before, police_cost_during, cost_before, cost_during," \
    " crisis_cost_before_per_pm, crisis_cost_during_per_pm, police_cost_before_per_pm," \
    " police_cost_during_per_pm, cost_before_per_pm, cost_during_per_pm, difference_per_pm," \
    " difference_total, support_cost_during, support_cost_during_per_pm, net_benefit_total"

typedef struct {
    const char *name;  /* CSV file name and JSON key */
    const char *title; /* heading in text */
    const char *note;  /* printed under the heading in text, may be NULL */
    const char *sql;
    int text;          /* shown in text format */
    int as_list;       /* text: one "column: value" block per row instead of a table */
} report_measure_t;

static const report_measure_t report_measures[] = {
    {"cohort_month", "Per month: the cohort's enrolment, support, crisis, police and cost",
     "Sums over the cohort's participants per local month (koers.cohort_month). Counts are "
     "whole-month counts of valid events.",
     "SELECT * FROM koers.cohort_month($4::date) WHERE " COHORT " AND " MONTHS("month")
     " ORDER BY cohort, month",
     1, 0},
    {"participant_month", "Per participant and month", NULL,
     "SELECT * FROM koers.participant_month_at($4::date) WHERE " COHORT " AND " MONTHS("month")
     " ORDER BY cohort, participant, month",
     0, 0},
    {"participant_month_cost", "Cost per participant and month", NULL,
     "SELECT * FROM koers.participant_month_cost WHERE " COHORT " AND " MONTHS("month")
     " ORDER BY cohort, participant, month",
     0, 0},
    {"goal_summary", "1. Goals per cohort, stability corner and domain",
     "Status at the end of the as-of day. Self-set: set by the participant, alone or with their "
     "network.",
     "SELECT * FROM koers.goal_summary($4::date) WHERE " COHORT
     " ORDER BY cohort, stability_corner <> 'all', stability_corner, domain <> 'all', domain",
     1, 0},
    {"goal_status", "1. Goals per participant", NULL,
     "SELECT participant, cohort, goal_ref, domain, stability_corner, set_by, status,"
     " set_at::date AS set_on, achieved_at::date AS achieved_on, days_to_achieved, revisions,"
     " latest_gas, weight FROM koers.goal_status_at($4::date) WHERE " COHORT
     " ORDER BY cohort, participant, goal_ref",
     1, 0},
    {"gas_tscore", "2. Goal attainment scaling: T-score per participant",
     "T = 50 + 10*sum(w*x) / sqrt(0.7*sum(w^2) + 0.3*(sum w)^2) over the latest score x of every "
     "goal not abandoned at the as-of date; weight w 1 where none was given.",
     "SELECT * FROM koers.gas_tscore($4::date) WHERE " COHORT " ORDER BY cohort, participant",
     1, 0},
    {"gas_tscore_cohort", "2. Goal attainment scaling per cohort", NULL,
     "SELECT * FROM koers.gas_tscore_cohort($4::date) WHERE " COHORT " ORDER BY cohort",
     1, 0},
    {"before_during", "3-4. Before and during enrolment: crisis and police per participant",
     "Before: the 12 calendar months before the first enrolled day. During: enrolled days up to "
     "the as-of date, paused time excluded. Rates per person-month (30.4375 days).",
     "SELECT * FROM koers.before_during($4::date) WHERE " COHORT " ORDER BY cohort, participant",
     1, 0},
    {"before_during_cohort", "3-4. Before and during enrolment per cohort (pooled rates)", NULL,
     "SELECT * FROM koers.before_during_cohort($4::date) WHERE " COHORT " ORDER BY cohort",
     1, 0},
    {"support_intensity", "5. Support intensity (enrolled time; cohort rows have no participant)",
     NULL,
     "SELECT * FROM koers.support_intensity($4::date) WHERE " COHORT
     " ORDER BY cohort, participant NULLS LAST",
     1, 0},
    {"cost_benefit", "6. Cost of crisis and police use before and during, per participant (EUR)",
     "difference_per_pm = before - during per person-month; difference_total = that times the "
     "person-months during; net_benefit_total = difference_total - support_cost_during. "
     "Indicative: see the unit costs below.",
     "SELECT participant, cohort, " COST_COLUMNS " FROM koers.cost_benefit($4::date) WHERE " COHORT
     " ORDER BY cohort, participant",
     1, 0},
    {"cost_benefit_cohort", "6. Cost before and during per cohort (EUR)", NULL,
     "SELECT cohort, " COST_COLUMNS " FROM koers.cost_benefit_cohort($4::date) WHERE " COHORT
     " ORDER BY cohort",
     1, 0},
    {"unit_cost", "6. Unit costs used (assumptions; editable in koers.unit_cost)", NULL,
     "SELECT u.item, u.amount_eur, u.per, u.price_year, u.source,"
     " (SELECT string_agg(m.event_type || ':' || m.kind, ', ' ORDER BY m.event_type, m.kind)"
     "  FROM koers.unit_cost_map m WHERE m.item = u.item) AS prices"
     " FROM koers.unit_cost u ORDER BY u.item",
     1, 1},
    {"unit_cost_map", "6. Which unit cost prices which event kind", NULL,
     "SELECT event_type, kind, item, amount_eur, per FROM koers.cost_assumptions",
     0, 0},
    {"data_quality", "7. Data quality: events per source and month, lateness in hours",
     "All cohorts (sources are not cohort-bound). Lateness = recorded_at - occurred_at, nearest "
     "rank over whole minutes, over events not voided.",
     "SELECT * FROM koers.data_quality WHERE " MONTHS("month")
     " ORDER BY source, month, event_type = 'all', event_type",
     1, 0},
    {"data_quality_rejected", "7. Data quality: rejected messages per reason", NULL,
     "SELECT * FROM koers.data_quality_rejected WHERE " MONTHS("month")
     " ORDER BY month, topic, reason",
     1, 0},
};
#define REPORT_NMEASURES (sizeof report_measures / sizeof report_measures[0])

typedef struct {
    const char *conninfo, *cohort, *from, *to, *as_of, *out_dir, *lang;
    int format, funder;
} report_options_t;

/* What a configuration file (--config), the environment or a flag may set. */
static const koers_setting_t report_settings[] = {
    {"dbname", NULL, "", KOERS_SETTING_CONNINFO, 0, 0, 0, NULL},
    {"log.format", KOERS_LOG_FORMAT_ENV, "logfmt", KOERS_SETTING_TEXT, 0, 0, 0,
     koers_log_formats},
};

enum { OPT_COHORT = 1, OPT_FROM, OPT_TO, OPT_AS_OF, OPT_FORMAT, OPT_OUT, OPT_AUDIENCE, OPT_LANG };

/* Every option once: getopt_long's tables and the usage are made from it. */
static const koers_option_t report_options[] = {
    {"config", 0, "FILE", KOERS_OPT_CONFIG, NULL, NULL,
     "configuration file, key=value lines (default: $KOERS_CONFIG; none if unset). "
     "Precedence: file < environment < flags.", NULL},
    {"dump-config", 0, NULL, KOERS_OPT_DUMP, NULL, NULL,
     "print the effective settings (secrets redacted), exit", NULL},
    {"log-format", 0, "F", KOERS_OPT_SETTING, "log.format", NULL, "logfmt or json", NULL},
    {"dbname", 'd', "CONNINFO", KOERS_OPT_SETTING, "dbname", NULL,
     "libpq connection string or URI (default: PG* environment; a PG* variable wins over the "
     "same parameter in the file)", NULL},
    {"cohort", 'c', "C", OPT_COHORT, NULL, NULL, "only this cohort (default: every cohort)", NULL},
    {"from", 'f', "DATE", OPT_FROM, NULL, NULL,
     "monthly tables from the month of DATE (YYYY-MM-DD)", NULL},
    {"to", 't', "DATE", OPT_TO, NULL, NULL, "monthly tables up to DATE", NULL},
    {"as-of", 'a', "DATE", OPT_AS_OF, NULL, NULL,
     "date where enrolled time and goal states end (default: --to, else today in the "
     "programme's time zone)", NULL},
    {"format", 'F', "FMT", OPT_FORMAT, NULL, NULL,
     "text (default): readable tables on stdout; html, pdf: the --audience funder document "
     "(pdf printed with headless chromium, $KOERS_CHROMIUM); csv: one file per measure, "
     "NAME.csv in --out DIR (required); json: one document on stdout, or "
     "DIR/koers-report.json", NULL},
    {"out", 'o', "DIR", OPT_OUT, NULL, NULL,
     "directory to write into (created if missing); for html and pdf the file to write "
     "(html: default stdout)", NULL},
    {"audience", 0, "funder", OPT_AUDIENCE, NULL, NULL,
     "a document for a council or board (--format html or pdf): aggregates only, small "
     "numbers suppressed as on the funder pages, whoever runs it; no cohort, period or as-of "
     "choice (the end of the last complete month)", NULL},
    {"lang", 0, "L", OPT_LANG, NULL, NULL, "nl (default) or en, for --audience funder", NULL},
    {"help", 'h', NULL, KOERS_OPT_HELP, NULL, NULL, "show this help", NULL},
    {"version", 'V', NULL, KOERS_OPT_VERSION, NULL, NULL, "show the version", NULL},
};

static void report_usage(FILE *out)
{
    fprintf(out,
        "Usage: koers-report [OPTION]...\n"
        "Print koers' measures (goals, goal attainment, crisis and police before and during\n"
        "enrolment, support intensity, cost-benefit, data quality) for a cohort and period.\n"
        "\n");
    koers_cli_usage(out, report_options, KOERS_CLI_N(report_options), report_settings,
                    KOERS_CLI_N(report_settings));
    fprintf(out,
        "\n"
        "Text shortens pseudonyms to their first %d characters; csv and json keep them whole.\n"
        "Exit status: 0 done; 1 database failure (the server's message on stderr);\n"
        "2 usage error; 3 output could not be written.\n",
        SHORT_PSEUDONYM);
}

/* The report's own options; a bad value is a usage error. */
static int report_own_option(void *ctx, int id, const char *arg, char *errstr, size_t errlen)
{
    static const char *const formats[] = {[FMT_TEXT] = "text", [FMT_CSV] = "csv",
                                          [FMT_JSON] = "json", [FMT_HTML] = "html",
                                          [FMT_PDF] = "pdf"};
    report_options_t *o = ctx;
    switch (id) {
    case OPT_COHORT: o->cohort = arg; return 0;
    case OPT_FROM: o->from = arg; return 0;
    case OPT_TO: o->to = arg; return 0;
    case OPT_AS_OF: o->as_of = arg; return 0;
    case OPT_OUT: o->out_dir = arg; return 0;
    case OPT_AUDIENCE:
        o->funder = strcmp(arg, "funder") == 0;
        if (!o->funder)
            snprintf(errstr, errlen, "--audience: funder, not '%s'", arg);
        return o->funder ? 0 : -1;
    case OPT_LANG:
        o->lang = arg;
        if (strcmp(arg, "nl") == 0 || strcmp(arg, "en") == 0)
            return 0;
        snprintf(errstr, errlen, "--lang: nl or en, not '%s'", arg);
        return -1;
    default: /* OPT_FORMAT */
        for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
            if (formats[i] && strcmp(arg, formats[i]) == 0) {
                o->format = (int)i;
                return 0;
            }
        snprintf(errstr, errlen, "--format: text, csv, json, html or pdf, not '%s'", arg);
        return -1;
    }
}

/* A strict YYYY-MM-DD with a real day of the month. */
static int report_valid_date(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || s[4] != '-' ||
        s[7] != '-')
        return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

static int report_is_number(Oid t)
{
    return t == KOERS_OID_INT2 || t == KOERS_OID_INT4 || t == KOERS_OID_INT8 || t == KOERS_OID_FLOAT4 || t == KOERS_OID_FLOAT8 ||
           t == KOERS_OID_NUMERIC;
}

/* The value shown in text: "-" for NULL, pseudonyms shortened. */
static const char *report_text_value(const PGresult *res, int r, int c, char *buf, size_t len)
{
    if (PQgetisnull(res, r, c))
        return "-";
    const char *v = PQgetvalue(res, r, c);
    if (strcmp(PQfname(res, c), "participant") == 0 && strlen(v) > SHORT_PSEUDONYM) {
        snprintf(buf, len, "%.*s", SHORT_PSEUDONYM, v);
        return buf;
    }
    return v;
}

/* Characters, not bytes, so that UTF-8 text lines up. */
static size_t report_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* One "column  value" block per row: for long text and for many rows of a wide table. */
static int report_print_blocks(FILE *out, const PGresult *res)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    char buf[64];
    size_t w = 0;
    for (int c = 0; c < cols; c++)
        if (report_width(PQfname(res, c)) > w)
            w = report_width(PQfname(res, c));
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++)
            fprintf(out, "  %-*s  %s\n", (int)w, PQfname(res, c),
                    report_text_value(res, r, c, buf, sizeof buf));
        fprintf(out, "\n");
    }
    return ferror(out) ? -1 : 0;
}

/* A wide table with few rows: one line per column, one column per row. */
static int report_print_transposed(FILE *out, const PGresult *res)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    char buf[64];
    size_t wname = 0, wval = 0;
    for (int c = 0; c < cols; c++) {
        if (report_width(PQfname(res, c)) > wname)
            wname = report_width(PQfname(res, c));
        for (int r = 0; r < rows; r++) {
            size_t n = report_width(report_text_value(res, r, c, buf, sizeof buf));
            if (n > wval)
                wval = n;
        }
    }
    for (int c = 0; c < cols; c++) {
        const char *h = PQfname(res, c);
        fprintf(out, "%s%*s", h, (int)(wname - report_width(h)), "");
        for (int r = 0; r < rows; r++) {
            const char *v = report_text_value(res, r, c, buf, sizeof buf);
            fprintf(out, "  %*s%s", (int)(wval - report_width(v)), "", v);
        }
        fprintf(out, "\n");
        if (c == 0) {
            for (size_t i = 0; i < wname + (size_t)rows * (wval + 2); i++)
                fputc('-', out);
            fprintf(out, "\n");
        }
    }
    return ferror(out) ? -1 : 0;
}

static int report_print_text(FILE *out, const report_measure_t *m, const PGresult *res)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    char buf[64];
    fprintf(out, "\n== %s ==\n", m->title);
    if (m->note)
        fprintf(out, "%s\n", m->note);
    fprintf(out, "\n");
    if (rows == 0) {
        fprintf(out, "(no rows)\n");
        return ferror(out) ? -1 : 0;
    }
    if (m->as_list)
        return report_print_blocks(out, res);
    size_t *w = calloc((size_t)cols, sizeof *w);
    if (!w)
        return -1;
    size_t total = 0;
    for (int c = 0; c < cols; c++) {
        w[c] = report_width(PQfname(res, c));
        for (int r = 0; r < rows; r++) {
            size_t n = report_width(report_text_value(res, r, c, buf, sizeof buf));
            if (n > w[c])
                w[c] = n;
        }
        total += w[c] + 2;
    }
    if (total > REPORT_TEXT_WIDTH) {
        free(w);
        return rows <= REPORT_TRANSPOSE_ROWS ? report_print_transposed(out, res)
                                             : report_print_blocks(out, res);
    }
    for (int c = 0; c < cols; c++) {
        const char *h = PQfname(res, c);
        size_t pad = w[c] - report_width(h);
        if (report_is_number(PQftype(res, c)))
            fprintf(out, "%s%*s%s", c ? "  " : "", (int)pad, "", h);
        else
            fprintf(out, "%s%s%*s", c ? "  " : "", h, c == cols - 1 ? 0 : (int)pad, "");
    }
    fprintf(out, "\n");
    for (int c = 0; c < cols; c++) {
        fprintf(out, "%s", c ? "  " : "");
        for (size_t i = 0; i < w[c]; i++)
            fputc('-', out);
    }
    fprintf(out, "\n");
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            const char *v = report_text_value(res, r, c, buf, sizeof buf);
            size_t pad = w[c] - report_width(v);
            if (report_is_number(PQftype(res, c)))
                fprintf(out, "%s%*s%s", c ? "  " : "", (int)pad, "", v);
            else
                fprintf(out, "%s%s%*s", c ? "  " : "", v, c == cols - 1 ? 0 : (int)pad, "");
        }
        fprintf(out, "\n");
    }
    free(w);
    return ferror(out) ? -1 : 0;
}

/* One RFC 4180 file with a header row; NULL is an empty field. */
static int report_write_csv(const char *dir, const report_measure_t *m, const PGresult *res,
                            char *errstr, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.csv", dir, m->name);
    size_t len;
    char *csv = koers_pg_csv(res, -1, NULL, &len);
    if (!csv) {
        snprintf(errstr, errlen, "%s: out of memory", path);
        return -1;
    }
    FILE *out = fopen(path, "w");
    if (!out) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        free(csv);
        return -1;
    }
    int bad = fwrite(csv, 1, len, out) != len;
    free(csv);
    if (fclose(out) != 0 || bad) {
        snprintf(errstr, errlen, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int report_mkdir(const char *dir, char *errstr, size_t errlen)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        errno = ENOTDIR;
    }
    snprintf(errstr, errlen, "%s: %s", dir, strerror(errno));
    return -1;
}

/* Runs one query with the report's parameters; on error prints the server's message. */
static PGresult *report_query(PGconn *conn, const char *what, const char *sql,
                              const char *const params[4])
{
    /* Declared types, so that a query need not use all four. */
    static const Oid types[4] = {KOERS_OID_TEXT, KOERS_OID_DATE, KOERS_OID_DATE, KOERS_OID_DATE};
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec_typed(conn, sql, 4, types, params, PGRES_TUPLES_OK, &err);
    if (!res)
        koers_log_error("%s: %s", what, err.message);
    return res;
}

static int report_run(PGconn *conn, const report_options_t *o)
{
    char errstr[4200];
    koers_pg_error_t err;
    PGresult *res = koers_pg_exec(conn, "SELECT set_config('TimeZone', koers.time_zone(), false)",
                                  0, NULL, PGRES_TUPLES_OK, &err);
    if (!res) {
        koers_log_error("setting the programme's time zone: %s", err.message);
        return EXIT_DB;
    }
    char tz[128];
    snprintf(tz, sizeof tz, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    const char *p0[4] = {NULL, NULL, NULL, o->as_of ? o->as_of : o->to};
    res = report_query(conn, "as-of date", "SELECT coalesce($4::date, koers.today())::text", p0);
    if (!res)
        return EXIT_DB;
    char as_of[16];
    snprintf(as_of, sizeof as_of, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    const char *params[4] = {o->cohort, o->from, o->to, as_of};

    if (o->out_dir && report_mkdir(o->out_dir, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", errstr);
        return EXIT_OUTPUT;
    }
    FILE *out = stdout;
    char path[4096];
    if (o->out_dir && o->format != FMT_CSV) {
        snprintf(path, sizeof path, "%s/%s", o->out_dir,
                 o->format == FMT_JSON ? "koers-report.json" : "koers-report.txt");
        out = fopen(path, "w");
        if (!out) {
            koers_log_error("%s: %s", path, strerror(errno));
            return EXIT_OUTPUT;
        }
    }

    int rc = 0;
    json_t *doc = NULL, *measures = NULL;
    if (o->format == FMT_JSON) {
        doc = json_pack("{s:{s:s?,s:s?,s:s?,s:s,s:s},s:{}}", "parameters", "cohort", o->cohort,
                        "from", o->from, "to", o->to, "as_of", as_of, "time_zone", tz,
                        "measures");
        measures = doc ? json_object_get(doc, "measures") : NULL;
        if (!measures) {
            koers_log_error("out of memory");
            rc = EXIT_OUTPUT;
            goto done;
        }
    } else if (o->format == FMT_TEXT) {
        fprintf(out, "koers report: cohort %s; months %s .. %s; as of %s (time zone %s)\n",
                o->cohort ? o->cohort : "(all)", o->from ? o->from : "(first)",
                o->to ? o->to : "(last)", as_of, tz);
        fprintf(out, "Voided events count nowhere; duplicates count once. Pseudonyms shortened "
                     "to %d characters.\n", SHORT_PSEUDONYM);
    }

    for (size_t i = 0; i < REPORT_NMEASURES && rc == 0; i++) {
        const report_measure_t *m = &report_measures[i];
        if (o->format == FMT_TEXT && !m->text)
            continue;
        res = report_query(conn, m->name, m->sql, params);
        if (!res) {
            rc = EXIT_DB;
            break;
        }
        if (o->format == FMT_TEXT) {
            if (report_print_text(out, m, res) != 0) {
                koers_log_error("writing the report: %s", strerror(errno));
                rc = EXIT_OUTPUT;
            }
        } else if (o->format == FMT_CSV) {
            if (report_write_csv(o->out_dir, m, res, errstr, sizeof errstr) != 0) {
                koers_log_error("%s", errstr);
                rc = EXIT_OUTPUT;
            }
        } else {
            json_t *rows = koers_pg_json_rows(res);
            if (!rows || json_object_set_new(measures, m->name, rows) != 0) {
                koers_log_error("out of memory");
                rc = EXIT_OUTPUT;
            }
        }
        PQclear(res);
    }
    if (rc == 0 && doc) {
        if (json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) != 0 ||
            fputc('\n', out) == EOF) {
            koers_log_error("writing JSON: %s", strerror(errno));
            rc = EXIT_OUTPUT;
        }
    }
done:
    json_decref(doc);
    if (out != stdout) {
        if (fclose(out) != 0 && rc == 0) {
            koers_log_error("%s: %s", path, strerror(errno));
            rc = EXIT_OUTPUT;
        }
    } else if (fflush(out) != 0 && rc == 0) {
        koers_log_error("writing to stdout: %s", strerror(errno));
        rc = EXIT_OUTPUT;
    }
    return rc;
}

/* --audience funder: the HTML document to o->out_dir (a file) or stdout, or printed to PDF. */
static int report_run_funder(PGconn *conn, const report_options_t *o)
{
    char errstr[512], tmp[] = "/tmp/koers-report-XXXXXX.html";
    FILE *out = stdout;
    int db_failed = 0, rc = 0;
    if (o->format == FMT_PDF) {
        int fd = mkstemps(tmp, 5);
        if (fd < 0 || !(out = fdopen(fd, "w"))) {
            koers_log_error("a temporary file for the HTML: %s", strerror(errno));
            if (fd >= 0) {
                close(fd);
                unlink(tmp);
            }
            return EXIT_OUTPUT;
        }
    } else if (o->out_dir && !(out = fopen(o->out_dir, "w"))) {
        koers_log_error("%s: %s", o->out_dir, strerror(errno));
        return EXIT_OUTPUT;
    }
    if (report_funder_html(conn, o->lang, out, &db_failed, errstr, sizeof errstr) != 0) {
        koers_log_error("%s", errstr);
        rc = db_failed ? EXIT_DB : EXIT_OUTPUT;
    }
    if (out != stdout) {
        if (fclose(out) != 0 && rc == 0) {
            koers_log_error("writing the report: %s", strerror(errno));
            rc = EXIT_OUTPUT;
        }
    } else if (fflush(out) != 0 && rc == 0) {
        koers_log_error("writing to stdout: %s", strerror(errno));
        rc = EXIT_OUTPUT;
    }
    if (o->format == FMT_PDF) {
        if (rc == 0 && report_print_pdf(tmp, o->out_dir, errstr, sizeof errstr) != 0) {
            koers_log_error("%s", errstr);
            rc = EXIT_OUTPUT;
        }
        unlink(tmp);
    }
    return rc;
}

int main(int argc, char **argv)
{
    report_options_t o = {.conninfo = "", .format = FMT_TEXT, .lang = "nl"};
    char errstr[512], *conninfo = NULL;
    koers_config_t *cfg = koers_config_new("koers-report", report_settings,
                                           KOERS_CLI_N(report_settings));
    if (!cfg) {
        koers_log_error("out of memory");
        return EXIT_USAGE;
    }
    int rc = EXIT_USAGE;
    koers_cli_t cli;
    int first = koers_cli_parse(argc, argv, report_options, KOERS_CLI_N(report_options), 0, cfg,
                                &cli, report_own_option, &o, errstr, sizeof errstr);
    if (first >= 0 && (cli.help || cli.version)) {
        if (cli.help)
            report_usage(stdout);
        else
            printf("koers-report %s\n", KOERS_VERSION);
        rc = 0;
        goto out;
    }
    if (first >= 0 && first < argc)
        snprintf(errstr, sizeof errstr, "unexpected argument '%s'", argv[first]);
    if (first < 0 || first < argc) {
        koers_log_error("%s", errstr);
        fprintf(stderr, "Try 'koers-report --help'.\n");
        goto out;
    }
    int dump = cli.dump;
    const char *dates[3][2] = {{"--from", o.from}, {"--to", o.to}, {"--as-of", o.as_of}};
    for (int i = 0; i < 3; i++)
        if (dates[i][1] && !report_valid_date(dates[i][1])) {
            koers_log_error("%s: not a date YYYY-MM-DD: '%s'", dates[i][0],
                    dates[i][1]);
            goto out;
        }
    if (o.from && o.to && strcmp(o.from, o.to) > 0) {
        koers_log_error("--from %s is after --to %s", o.from, o.to);
        goto out;
    }
    /* The other formats print per-participant rows: never for a funder. */
    if (o.funder != (o.format == FMT_HTML || o.format == FMT_PDF)) {
        koers_log_error("--audience funder goes with --format html or pdf, and they with it");
        goto out;
    }
    if (o.funder && (o.cohort || o.from || o.to || o.as_of)) {
        koers_log_error("--audience funder takes no --cohort, --from, --to or --as-of: it shows "
                        "what a funder's pages show");
        goto out;
    }
    if (o.format == FMT_PDF && !o.out_dir && !dump) {
        koers_log_error("--format pdf: give the file to write with --out FILE");
        goto out;
    }
    if (o.format == FMT_CSV && !o.out_dir && !dump) {
        koers_log_error("--format csv writes one file per measure: give --out DIR");
        goto out;
    }

    if (koers_config_resolve(cfg, cli.config_path, errstr, sizeof errstr) != 0 ||
        !(conninfo = koers_config_conninfo(cfg, "dbname", errstr, sizeof errstr))) {
        koers_log_error("%s", errstr);
        goto out;
    }
    koers_log_set_format(koers_config_get(cfg, "log.format"));
    if (dump) {
        rc = koers_config_dump(cfg, stdout) == 0 ? 0 : EXIT_OUTPUT;
        goto out;
    }
    o.conninfo = conninfo;
    PGconn *conn = PQconnectdb(o.conninfo);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        koers_log_error("connecting to PostgreSQL: %s",
                        conn ? PQerrorMessage(conn) : "out of memory");
        PQfinish(conn);
        rc = EXIT_DB;
        goto out;
    }
    rc = o.funder ? report_run_funder(conn, &o) : report_run(conn, &o);
    PQfinish(conn);
out:
    free(conninfo);
    koers_config_free(cfg);
    return rc;
}
