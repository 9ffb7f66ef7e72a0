/* Pseudonymisation: keyed HMAC-SHA256 pseudonyms and deterministic event ids. */
#ifndef KOERS_PSEUDO_H
#define KOERS_PSEUDO_H

#include <stddef.h>

#define KOERS_KEY_MIN 32
#define KOERS_KEY_MAX 256

typedef struct {
    unsigned char bytes[KOERS_KEY_MAX];
    size_t len;
} koers_key_t;

/* Reads the secret key: the file's bytes without one trailing newline, at least
 * KOERS_KEY_MIN long. Refuses a file that group or others may read or write, or that is not
 * a regular file. Returns 0, or -1 with "path: reason" in errstr. */
int koers_pseudo_load_key(const char *path, koers_key_t *key, char *errstr, size_t errlen);

/* out = lower-case hex of HMAC-SHA256(key, "participant" NUL client_id): 64 chars + NUL. */
void koers_pseudo_participant(const koers_key_t *key, const char *client_id, size_t len,
                              char out[65]);

/* out = UUID text (version 8, RFC 9562 variant) from the first 16 bytes of
 * HMAC-SHA256(key, "event" NUL source NUL event_type NUL record_id): 36 chars + NUL. */
void koers_pseudo_event_id(const koers_key_t *key, const char *source, const char *event_type,
                           const char *record_id, size_t record_len, char out[37]);

#endif
