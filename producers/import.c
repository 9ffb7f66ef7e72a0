/* koers-produce import: CSV exports of the source organisations, row by row, to Kafka. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "koers/csv.h"
#include "koers/log.h"
#include "koers/timeutil.h"
#include "produce.h"

#define IMPORT_MAX_FIELD 65536 /* far above any valid value; stops a runaway field early */
/* Rows of one file refused as not UTF-8 from which on the file, not a row, is the likely
 * cause: a spreadsheet's export in Windows-1252. */
#define IMPORT_ENCODING_HINT_ROWS 3

typedef struct {
    long rows, sent, refused;
    long not_utf8; /* rows refused as not UTF-8 */
    int file_refused;
} import_stats_t;

/* Says once that a file looks like Windows-1252, and both ways out. */
static void import_hint_encoding(const char *path, long rows)
{
    koers_log_warn("%s: %ld rows are not UTF-8: the file looks like Windows-1252, as "
                   "spreadsheets save it; import it with --encoding windows-1252, or convert it "
                   "first: iconv -f cp1252 -t utf-8 %s > converted.csv",
                   path, rows, path);
}

/* A header read as one column that holds another separator: the file is separated by that
 * one. Says what was seen and what to give; returns 1 if it did. */
static int import_explain_header(const char *path, char delim, char **fields, size_t *lens,
                                 size_t n)
{
    if (n != 1)
        return 0;
    const char *seen = NULL, *fix = NULL;
    if (delim != ';' && memchr(fields[0], ';', lens[0])) {
        seen = "semicolons";
        fix = "leave --delimiter out to detect it, or give --delimiter ';'";
    } else if (delim != ',' && memchr(fields[0], ',', lens[0])) {
        seen = "commas";
        fix = "leave --delimiter out to detect it, or give --delimiter ,";
    } else if (memchr(fields[0], '\t', lens[0])) {
        seen = "tabs";
        fix = "tab-separated files are not read: save it as CSV (comma or semicolon)";
    }
    if (!seen)
        return 0;
    koers_log_error("%s:1: the header is one column, '%.*s%s', read with separator '%c': it "
                    "looks separated by %s; %s",
                    path, (int)(lens[0] > 60 ? 60 : lens[0]), fields[0], lens[0] > 60 ? "..." : "",
                    delim, seen, fix);
    return 1;
}

/* Maps header columns to their places in a produce_row_t; refuses unknown, doubled and
 * missing columns, since an unexpected column may carry free text such as names (and a
 * client_id in a file of a type about a source would be an identifier for nothing). */
static int import_map_header(const char *path, koers_event_type_t t, char delim, char **fields,
                             size_t *lens, size_t n, int *map)
{
    if (import_explain_header(path, delim, fields, lens, n))
        return -1;
    produce_columns_t cols;
    produce_columns(t, &cols);
    int seen[PRODUCE_MAX_COLS] = {0};
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        int c = -1;
        for (int k = 0; k < cols.n; k++)
            if (strlen(cols.names[k]) == lens[i] && memcmp(cols.names[k], fields[i], lens[i]) == 0)
                c = k;
        if (c < 0) {
            koers_log_error("%s:1: column '%.*s' is not in the contract for %s; refusing the file",
                            path, (int)(lens[i] > 64 ? 64 : lens[i]), fields[i],
                            koers_types[t].name);
            ok = 0;
        } else if (seen[c]++) {
            koers_log_error("%s:1: column '%s' appears twice", path, cols.names[c]);
            ok = 0;
        }
        map[i] = c < 0 ? -1 : cols.place[c];
    }
    for (int k = 0; k < cols.n; k++) {
        int place = cols.place[k];
        int optional = t != KOERS_CORRECTION && place >= COL_COMMON &&
                       koers_types[t].fields[place - COL_COMMON].optional;
        if (!seen[k] && !optional) {
            koers_log_error("%s:1: required column '%s' is missing", path, cols.names[k]);
            ok = 0;
        }
    }
    return ok ? 0 : -1;
}

/* Opens path's reader with the import's separator and encoding. Returns NULL (after
 * saying why, with *fatal set when the run should stop) on failure. */
static koers_csv_t *import_open_reader(FILE *f, const char *path, const produce_import_t *imp,
                                       int *fatal)
{
    char errstr[512];
    koers_csv_t *r = koers_csv_open(f, path, IMPORT_MAX_FIELD);
    if (!r) {
        koers_log_error("out of memory");
        *fatal = 1;
        return NULL;
    }
    if (koers_csv_set_delimiter(r, imp->delimiter) != 0) {
        koers_log_error("%s: separator '%c' is neither ',' nor ';'", path, imp->delimiter);
        koers_csv_close(r);
        return NULL;
    }
    if (koers_csv_set_encoding(r, imp->encoding, errstr, sizeof errstr) != 0) {
        koers_log_error("%s: %s", path, errstr);
        koers_csv_close(r);
        *fatal = 1;
        return NULL;
    }
    return r;
}

static int import_file(produce_emitter_t *e, const koers_key_t *key, const char *path,
                       koers_event_type_t t, const produce_import_t *imp,
                       const volatile sig_atomic_t *stop, import_stats_t *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        koers_log_error("%s: %s", path, strerror(errno));
        st->file_refused = 1;
        return 0;
    }
    int fatal = 0;
    koers_csv_t *r = import_open_reader(f, path, imp, &fatal);
    if (!r) {
        fclose(f);
        st->file_refused = 1;
        return fatal ? -1 : 0;
    }
    char errstr[512];
    char **fields;
    size_t *lens, n;
    int map[PRODUCE_MAX_COLS * 2];
    size_t ncols = 0;
    int rc = 0, got = koers_csv_next(r, &fields, &lens, &n, errstr, sizeof errstr);
    if (got == KOERS_CSV_END) {
        koers_log_error("%s: empty file, no header row", path);
        st->file_refused = 1;
    } else if (got < 0) {
        /* No encoding hint here: the contract's column names are ASCII, so a header that is
         * not UTF-8 is binary data rather than a spreadsheet's Windows-1252. */
        koers_log_error("%s", errstr);
        st->file_refused = 1;
    } else if (n > PRODUCE_MAX_COLS * 2) {
        koers_log_error("%s:1: %zu columns, more than the contract has", path, n);
        st->file_refused = 1;
    } else if (import_map_header(path, t, koers_csv_delimiter(r), fields, lens, n, map) != 0) {
        st->file_refused = 1;
    } else {
        ncols = n;
        if (imp->delimiter == 0 && koers_csv_delimiter(r) != ',')
            koers_log_info("%s: separated by '%c' (detected from the header)", path,
                           koers_csv_delimiter(r));
    }
    int64_t recorded_at = koers_time_now_ms();
    while (ncols && !(stop && *stop)) {
        got = koers_csv_next(r, &fields, &lens, &n, errstr, sizeof errstr);
        if (got == KOERS_CSV_END)
            break;
        if (got == KOERS_CSV_FAILED) {
            koers_log_error("%s (the rest of the file is not read)", errstr);
            st->file_refused = 1;
            break;
        }
        st->rows++;
        if (got == KOERS_CSV_REFUSED) {
            /* Bad bytes spoil one record only: the reader has skipped to its end. */
            koers_log_error("%s", errstr);
            st->refused++;
            if (koers_csv_problem(r) == KOERS_CSV_BAD_ENCODING)
                st->not_utf8++;
            continue;
        }
        long line = koers_csv_line(r);
        if (n != ncols) {
            koers_log_error("%s:%ld: %zu fields, the header has %zu", path, line, n, ncols);
            st->refused++;
            continue;
        }
        produce_row_t row;
        for (int k = 0; k < PRODUCE_MAX_COLS; k++) {
            row.v[k] = "";
            row.len[k] = 0;
        }
        for (size_t i = 0; i < n; i++) {
            row.v[map[i]] = fields[i];
            row.len[map[i]] = lens[i];
        }
        koers_event_t ev;
        int bad;
        if (produce_row_to_event(t, &row, key, recorded_at, imp->date_order, &ev, &bad, errstr,
                                 sizeof errstr)) {
            const char *col = bad >= 0 ? produce_column_name(t, bad) : NULL;
            if (col)
                koers_log_error("%s:%ld: column %s: %s", path, line, col, errstr);
            else
                koers_log_error("%s:%ld: %s", path, line, errstr);
            st->refused++;
            continue;
        }
        if (produce_emitter_send(e, &ev, &row, errstr, sizeof errstr) != 0) {
            koers_log_error("%s:%ld: %s", path, line, errstr);
            rc = -1;
            break;
        }
        st->sent++;
    }
    if (st->not_utf8 >= IMPORT_ENCODING_HINT_ROWS && imp->encoding == KOERS_CSV_UTF8)
        import_hint_encoding(path, st->not_utf8);
    koers_csv_close(r);
    fclose(f);
    return rc;
}

/* The event type a file is for, from its name: <event type>.csv. Returns -1 if none. */
static int import_type_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len < 5 || strcmp(base + len - 4, ".csv") != 0)
        return -1;
    return koers_type_find(base, len - 4);
}

static int import_one(produce_emitter_t *e, const koers_key_t *key, const char *path,
                      const produce_import_t *imp, const volatile sig_atomic_t *stop,
                      import_stats_t *st)
{
    int t = import_type_of(path);
    if (t < 0) {
        /* The names from the catalogue, so that a new type is named here too. */
        char names[512];
        size_t used = 0;
        names[0] = '\0';
        for (int k = 0; k < KOERS_EVENT_TYPES && used < sizeof names; k++) {
            int n = snprintf(names + used, sizeof names - used, "%s%s.csv", k ? ", " : "",
                             koers_types[k].name);
            used += n > 0 ? (size_t)n : 0;
        }
        koers_log_error("%s: not named after an event type (%s)", path, names);
        st->file_refused = 1;
        return 0;
    }
    import_stats_t fs = {0};
    int rc = import_file(e, key, path, (koers_event_type_t)t, imp, stop, &fs);
    koers_log_info("%s: %ld row(s) read, %ld sent, %ld refused%s", path, fs.rows, fs.sent,
                   fs.refused, fs.file_refused ? " (file refused or cut short)" : "");
    st->rows += fs.rows;
    st->sent += fs.sent;
    st->refused += fs.refused;
    st->file_refused |= fs.file_refused;
    return rc;
}

/* A directory holds the seven files, any of which may be missing; other files are refused
 * loudly rather than skipped, so a misnamed export is not silently left out. */
static int import_dir(produce_emitter_t *e, const koers_key_t *key, const char *dir,
                      const produce_import_t *imp, const volatile sig_atomic_t *stop,
                      import_stats_t *st)
{
    DIR *d = opendir(dir);
    if (!d) {
        koers_log_error("%s: %s", dir, strerror(errno));
        st->file_refused = 1;
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && import_type_of(de->d_name) < 0) {
            koers_log_error("%s/%s: not named after an event type; not imported", dir,
                            de->d_name);
            st->file_refused = 1;
        }
    closedir(d);
    /* Catalogue order, so corrections come after what they correct. */
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.csv", dir, koers_types[t].name);
        if (access(path, F_OK) != 0)
            continue;
        if (import_one(e, key, path, imp, stop, st) != 0)
            return -1;
    }
    return 0;
}

int produce_import(const produce_options_t *o, const koers_key_t *key, const produce_import_t *imp,
                   char **paths, int npaths)
{
    char errstr[512];
    produce_emitter_t *e = produce_emitter_new(o, errstr, sizeof errstr);
    if (!e) {
        koers_log_error("%s", errstr);
        return 3;
    }
    import_stats_t st = {0};
    int rc = 0;
    for (int i = 0; i < npaths && rc == 0 && !(o->stop && *o->stop); i++) {
        struct stat sb;
        if (stat(paths[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            rc = import_dir(e, key, paths[i], imp, o->stop, &st);
        else
            rc = import_one(e, key, paths[i], imp, o->stop, &st);
    }
    long sent = 0;
    long failed = produce_emitter_close(e, 1, &sent);
    koers_log_info("%ld row(s) read, %ld delivered, %ld refused, %ld not delivered", st.rows,
                   sent, st.refused, failed);
    if (rc != 0 || failed)
        return 3;
    if (o->stop && *o->stop)
        return 130;
    return st.refused || st.file_refused ? 1 : 0;
}
