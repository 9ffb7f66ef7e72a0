/* Avro schemas: the embedded .avsc files, Parsing Canonical Form and CRC-64-AVRO fingerprints. */
#ifndef KOERS_SCHEMA_H
#define KOERS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name; /* file name without extension: the event type */
    const char *json; /* the file's text */
} koers_schema_file_t;

/* Every schemas/<type>.avsc, compiled in; ends with {NULL, NULL}. */
extern const koers_schema_file_t koers_schema_files[];

/* Every schemas/history/<type>-v<N>.avsc: earlier versions of the event schemas, whose
 * messages may still be in the topics; compiled in, ends with {NULL, NULL}. */
extern const koers_schema_file_t koers_schema_history_files[];

/* Returns the Parsing Canonical Form of the schema in json (Avro specification,
 * "Parsing Canonical Form for Schemas"), malloc'd and owned by the caller, or NULL with
 * the reason in errstr. */
char *koers_schema_canonical(const char *json, char *errstr, size_t errlen);

/* CRC-64-AVRO (Rabin) fingerprint of len bytes. */
uint64_t koers_schema_crc64(const void *data, size_t len);

/* Fingerprint of the canonical form of json. Returns 0, or -1 with errstr. */
int koers_schema_fingerprint(const char *json, uint64_t *fp, char *errstr, size_t errlen);

#endif
