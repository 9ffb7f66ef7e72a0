/* Event <-> Avro single-object encoding (C3 01, fingerprint, binary datum). */
#ifndef KOERS_CODEC_H
#define KOERS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "koers/event.h"

/* Owns the reader schemas of every event type, the known writer schemas by
 * fingerprint, and reusable Avro values. Not thread-safe: one per thread. */
typedef struct koers_codec koers_codec_t;

/* Builds a codec from the embedded schemas; the embedded earlier versions
 * (schemas/history) are known writer schemas too. Returns NULL with errstr on failure. */
koers_codec_t *koers_codec_new(char *errstr, size_t errlen);

/* Builds a codec whose reader schema of each event type t is reader_json[t] (catalogue
 * order), e.g. a newer version of a schema: a record named after the type, with the
 * envelope and every catalogue field; a field outside the catalogue needs a default (it is
 * written with it and ignored when read). Each reader schema is also a known writer schema.
 * The texts are copied. Returns NULL with errstr on failure. */
koers_codec_t *koers_codec_new_from(const char *const reader_json[KOERS_EVENT_TYPES],
                                    char *errstr, size_t errlen);
void koers_codec_free(koers_codec_t *c);

/* Teaches the codec another writer schema (an older or newer version of an event
 * type's schema) so that messages written with it can be read. Writer fields the reader
 * lacks are skipped; reader fields the writer lacks take the reader's default (Avro C does
 * not apply defaults, so the codec does), and without a default the schema is refused, as
 * is one that lacks an envelope field. Returns 0, or -1 with the reason in errstr. */
int koers_codec_add_writer(koers_codec_t *c, const char *json, char *errstr, size_t errlen);

/* Teaches the codec every DIR/NAME.avsc (koers_codec_add_writer), in name order so that
 * errors are reproducible; *loaded gets their number. Returns 0, or -1 with "path: reason"
 * in errstr. */
int koers_codec_add_writer_dir(koers_codec_t *c, const char *dir, int *loaded, char *errstr,
                               size_t errlen);

/* Fingerprint of the current schema of type t. */
uint64_t koers_codec_fingerprint(const koers_codec_t *c, koers_event_type_t t);

/* Encodes ev into buf (capacity cap); *len gets the length. Returns 0, or -1 with errstr
 * (including a buffer too small). Does not validate: call koers_event_validate first. */
int koers_codec_encode(koers_codec_t *c, const koers_event_t *ev, void *buf, size_t cap,
                       size_t *len, char *errstr, size_t errlen);

/* Decodes a message into *ev and validates it against the contract. Returns 0, or -1
 * with the reason (bad marker, unknown fingerprint, truncated datum, contract rule). */
int koers_codec_decode(koers_codec_t *c, const void *buf, size_t len, koers_event_t *ev,
                       char *errstr, size_t errlen);

#endif
