/* koers-produce internals: the emitter (to Kafka or CSV) and the row-to-event conversion. */
#ifndef KOERS_PRODUCE_H
#define KOERS_PRODUCE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "koers/codec.h"
#include "koers/csv.h"
#include "koers/config.h"
#include "koers/event.h"
#include "koers/pseudo.h"
#include "koers/timeutil.h"

/* Where a row's values are (produce_row_t): the common columns, then the type's own. A
 * correction's own columns are target_record_id, target_type and action. A type without
 * participant has no client_id column; its row leaves that place empty. */
enum { COL_RECORD_ID, COL_CLIENT_ID, COL_OCCURRED_AT, COL_SOURCE, COL_COMMON };
#define PRODUCE_MAX_COLS (COL_COMMON + KOERS_MAX_FIELDS + 1)

typedef struct {
    const char *names[PRODUCE_MAX_COLS]; /* the file's columns, in the order synth writes them */
    int place[PRODUCE_MAX_COLS];         /* where each column's value goes in a produce_row_t */
    int n;
} produce_columns_t;

/* The CSV columns of event type t. */
void produce_columns(koers_event_type_t t, produce_columns_t *cols);

/* The name of the column whose value is at place in a row of type t, or NULL. */
const char *produce_column_name(koers_event_type_t t, int place);

/* A row of strings by place (COL_RECORD_ID, ..., COL_COMMON + own field); an empty string
 * is an absent value. */
typedef struct {
    const char *v[PRODUCE_MAX_COLS];
    size_t len[PRODUCE_MAX_COLS];
} produce_row_t;

/* Turns a row into a pseudonymised, validated event; recorded_at is given, order says which
 * dates occurred_at and date fields may hold besides ISO 8601. Returns 0, or -1 with
 * *bad_col set to the offending column's place (or -1) and the reason in errstr. */
int produce_row_to_event(koers_event_type_t t, const produce_row_t *row, const koers_key_t *key,
                         int64_t recorded_at, koers_date_order_t order, koers_event_t *ev,
                         int *bad_col, char *errstr, size_t errlen);

/* Where events go: Kafka (idempotent producer) or, for synth --csv, files. */
typedef struct produce_emitter produce_emitter_t;

typedef struct {
    const char *brokers;  /* NULL: KOERS_BROKERS */
    const koers_config_t *config; /* Kafka properties (kafka.* of the file, then -X) */
    const char *prefix;   /* topic prefix */
    int partitions;       /* for topics that do not exist yet */
    const char *csv_dir;  /* when set, rows go to DIR/<type>.csv instead of Kafka */
    const volatile sig_atomic_t *stop;
} produce_options_t;

/* Returns NULL with errstr on failure. */
produce_emitter_t *produce_emitter_new(const produce_options_t *o, char *errstr, size_t errlen);

/* Sends one row (already converted to ev); for CSV output the row itself is written.
 * Returns 0, or -1 with errstr on a fatal error (the run should stop). */
int produce_emitter_send(produce_emitter_t *e, const koers_event_t *ev, const produce_row_t *row,
                         char *errstr, size_t errlen);

/* With drain, waits for every event's delivery report (librdkafka's message.timeout.ms
 * bounds it), then frees e. Returns the number of events not delivered (0 when all were);
 * *sent gets the number delivered. */
long produce_emitter_close(produce_emitter_t *e, int drain, long *sent);

/* How import reads its files. */
typedef struct {
    char delimiter;                /* ',' or ';', or 0: detected from each file's header */
    koers_csv_encoding_t encoding; /* UTF-8, or Windows-1252 converted to it */
    koers_date_order_t date_order; /* KOERS_DATE_DMY: occurred_at may also be day-first */
} produce_import_t;

/* The subcommands. Return the process exit code. */
int produce_import(const produce_options_t *o, const koers_key_t *key, const produce_import_t *imp,
                   char **paths, int npaths);

typedef struct {
    int participants;
    int months;
    uint64_t seed;
    const char *start;  /* first enrolment month, YYYY-MM-DD */
    const char *cohort;
    const char *now;    /* the moment the cohort is taken at; NULL: the clock */
} produce_synth_t;

int produce_synth(const produce_options_t *o, const koers_key_t *key, const produce_synth_t *s);

#endif
