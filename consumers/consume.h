/* koers-consume internals: migrations and the PostgreSQL sink with offsets in the database. */
#ifndef KOERS_CONSUME_H
#define KOERS_CONSUME_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "koers/codec.h"
#include "koers/pg.h"

typedef struct {
    const char *name; /* NNNN_name, without .sql */
    const char *sql;
} consume_sql_file_t;

/* Every sql/NNNN_*.sql, compiled in, in name order; ends with {NULL, NULL}. */
extern const consume_sql_file_t consume_sql_files[];
/* Every sql/defs/NN_area.sql (functions and views), compiled in, in name order; ends with {NULL, NULL}. */
extern const consume_sql_file_t consume_sql_defs[];

/* Applies the migrations not yet recorded in koers.schema_migration, each in its own
 * transaction, then, when the definition files differ from those recorded in
 * koers.schema_definition, all of them in one transaction; under an advisory lock so that
 * concurrent consumers do not race. Returns the number of migrations applied plus 1 if the
 * definitions were, or -1 with the server's message in errstr. */
int consume_migrate(PGconn *conn, char *errstr, size_t errlen);

typedef struct consume_sink consume_sink_t;

typedef struct {
    const char *conninfo;   /* libpq connection string; "" uses PG* environment variables */
    const char *group;      /* consumer group, also the key of stored offsets */
    const char *prefix;     /* topic prefix */
    int batch_size;         /* events per transaction at most */
    int batch_wait_ms;      /* longest a message waits in an open batch */
    rd_kafka_t *dead_letter;        /* producer for the dead-letter topic (not owned) */
    koers_codec_t *codec;           /* decodes the messages (not owned) */
    const volatile sig_atomic_t *stop;
} consume_sink_options_t;

/* Connects and prepares. Returns NULL with errstr. */
consume_sink_t *consume_sink_new(const consume_sink_options_t *o, char *errstr, size_t errlen);
void consume_sink_free(consume_sink_t *s);

/* Takes one message into the open batch: decoded into an event, or kept as a reject with
 * its reason. Flushes when the batch is full. Returns 0, or -1 when a flush failed for good
 * (stop requested while the database was away). */
int consume_sink_add(consume_sink_t *s, const rd_kafka_message_t *m);

/* Writes the open batch, its rejects and its offsets in one transaction; retries (with a
 * new connection) until it succeeds or stop is requested, or until a database that is
 * reachable has refused it 8 times in a row (a missing privilege or function, a row it
 * rejects: retrying will not help). Returns 0 or -1. */
int consume_sink_flush(consume_sink_t *s);

/* Flushes when the oldest message of the open batch has waited batch_wait_ms. */
int consume_sink_tick(consume_sink_t *s);

/* Sets each partition's offset to the one stored for the group (or the beginning when
 * none is), retrying while the database is away. Returns 0, or -1 with errstr when stop
 * was requested first or a reachable database refused the read 8 times in a row. */
int consume_sink_load_offsets(consume_sink_t *s, rd_kafka_topic_partition_list_t *parts,
                              char *errstr, size_t errlen);

/* Events stored (new rows) and rejected so far, for the closing log line. */
void consume_sink_counts(const consume_sink_t *s, long *stored, long *duplicates,
                         long *rejected);

/* ---- copy.c: events as binary COPY rows. */

/* The columns of event type t's table, in the order consume_copy_event writes them. */
void consume_copy_columns(koers_event_type_t t, char *out, size_t outlen);
/* Appends ev as a row of its table to raw, and to stage with batch_ord = ord after it.
 * Returns 0, or -1 when out of memory. */
int consume_copy_event(koers_pg_copy_t *raw, koers_pg_copy_t *stage, const koers_event_t *ev,
                       int ord);

/* ---- deadletter.c: the batch's rejected messages. */

typedef struct consume_reject consume_reject_t;
typedef struct {
    consume_reject_t *r;
    size_t n, cap;
    int sent; /* already delivered to the dead-letter topic */
} consume_rejects_t;

/* Keeps a copy of m (key, payload, origin) with the reason it was refused. 0, or -1 when out
 * of memory. */
int consume_rejects_add(consume_rejects_t *l, const rd_kafka_message_t *m, const char *topic,
                        const char *reason);
/* Inserts them into koers.rejected_events (in the caller's transaction). 0, or -1 with err. */
int consume_rejects_store(const consume_rejects_t *l, PGconn *conn, koers_pg_error_t *err);
/* Produces them to topic with the reason and origin in headers and waits for delivery; once
 * per batch. 0 (also without a producer), or -1 with errstr. */
int consume_rejects_send(consume_rejects_t *l, rd_kafka_t *producer, const char *topic,
                         char *errstr, size_t errlen);
void consume_rejects_clear(consume_rejects_t *l);
void consume_rejects_free(consume_rejects_t *l);

#endif
