/* Pseudonymisation: the secret key file, participant pseudonyms and event ids (HMAC-SHA256). */
#include "koers/pseudo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "koers/log.h"

#define PSEUDO_STACK_MSG 512

/* One HMAC-SHA256 context per thread, keyed once: OpenSSL 3's one-shot HMAC() fetches the
 * algorithm, hashes the key into fresh inner and outer states and frees it all again on
 * every call, four times the work of the message itself. Re-initialising a keyed context
 * with no key restarts from the states it keeps. The key copy tells a new key apart. */
typedef struct {
    EVP_MAC_CTX *ctx;
    unsigned char key[KOERS_KEY_MAX];
    size_t len;
} pseudo_mac_t;

static _Thread_local pseudo_mac_t pseudo_mac;

static EVP_MAC_CTX *pseudo_keyed_ctx(const koers_key_t *key)
{
    pseudo_mac_t *m = &pseudo_mac;
    if (m->ctx && m->len == key->len && memcmp(m->key, key->bytes, key->len) == 0)
        return EVP_MAC_init(m->ctx, NULL, 0, NULL) == 1 ? m->ctx : NULL;
    if (!m->ctx) {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        m->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac); /* the context keeps its own reference */
        if (!m->ctx)
            return NULL;
    }
    OPENSSL_cleanse(m->key, sizeof m->key);
    m->len = 0;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(m->ctx, key->bytes, key->len, params) != 1)
        return NULL;
    memcpy(m->key, key->bytes, key->len);
    m->len = key->len;
    return m->ctx;
}

/* Returns 0, or -1 when OpenSSL could not compute it (no SHA-256 provider, no memory). */
static int pseudo_compute_hmac(const koers_key_t *key, const unsigned char *msg, size_t len,
                               unsigned char md[32])
{
    size_t mdlen = 0;
    EVP_MAC_CTX *ctx = pseudo_keyed_ctx(key);
    if (!ctx || EVP_MAC_update(ctx, msg, len) != 1 || EVP_MAC_final(ctx, md, &mdlen, 32) != 1 ||
        mdlen != 32)
        return -1;
    return 0;
}

/* A pseudonym computed wrongly or not at all must never be sent, and the callers have no
 * error path (load_key has already proved HMAC works), so this is the one place the
 * library stops the process. */
static void pseudo_abort_hmac(void)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    koers_log_error("HMAC-SHA256 failed: %s", e ? buf : "out of memory");
    abort();
}

/* HMAC over parts joined with NUL bytes, the last part without one. Builds the message in
 * one buffer because the one-shot HMAC() takes one; the buffer holds client identifiers,
 * so it is wiped. */
static void pseudo_mac_parts(const koers_key_t *key, const char *const *parts,
                              const size_t *lens, size_t nparts, unsigned char md[32])
{
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++)
        total += lens[i] + (i + 1 < nparts);

    unsigned char stackbuf[PSEUDO_STACK_MSG];
    unsigned char *msg = total <= sizeof stackbuf ? stackbuf : malloc(total);
    if (msg == NULL)
        pseudo_abort_hmac();
    size_t at = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (lens[i] > 0)
            memcpy(msg + at, parts[i], lens[i]);
        at += lens[i];
        if (i + 1 < nparts)
            msg[at++] = 0;
    }
    int rc = pseudo_compute_hmac(key, msg, total, md);
    OPENSSL_cleanse(msg, total);
    if (msg != stackbuf)
        free(msg);
    if (rc < 0)
        pseudo_abort_hmac();
}

int koers_pseudo_load_key(const char *path, koers_key_t *key, char *errstr, size_t errlen)
{
    unsigned char buf[KOERS_KEY_MAX + 2];
    size_t n = 0;
    int rc = -1;

    memset(key, 0, sizeof *key);
    /* O_NONBLOCK so that a FIFO cannot hang us before fstat refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errstr, errlen, "%s: not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(errstr, errlen, "%s: %s by group or others (mode %04o); chmod 600 it", path,
                 (st.st_mode & 044) ? "readable" : "accessible",
                 (unsigned)(st.st_mode & 07777));
        goto out;
    }
    if (st.st_size > (off_t)sizeof buf) {
        snprintf(errstr, errlen, "%s: key is longer than %d bytes", path, KOERS_KEY_MAX);
        goto out;
    }
    while (n < sizeof buf) {
        ssize_t got = read(fd, buf + n, sizeof buf - n);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    if (n < KOERS_KEY_MIN) {
        snprintf(errstr, errlen, "%s: key is %zu bytes, at least %d needed", path, n,
                 KOERS_KEY_MIN);
        goto out;
    }
    if (n > KOERS_KEY_MAX) {
        snprintf(errstr, errlen, "%s: key is longer than %d bytes", path, KOERS_KEY_MAX);
        goto out;
    }
    memcpy(key->bytes, buf, n);
    key->len = n;

    /* Prove here, where an error can still be reported, that HMAC-SHA256 is available. */
    unsigned char md[32];
    if (pseudo_compute_hmac(key, (const unsigned char *)"", 0, md) < 0) {
        char ebuf[256];
        ERR_error_string_n(ERR_get_error(), ebuf, sizeof ebuf);
        snprintf(errstr, errlen, "%s: HMAC-SHA256 unavailable: %s", path, ebuf);
        OPENSSL_cleanse(key, sizeof *key);
        goto out;
    }
    OPENSSL_cleanse(md, sizeof md);
    rc = 0;
out:
    OPENSSL_cleanse(buf, sizeof buf);
    close(fd);
    return rc;
}

void koers_pseudo_participant(const koers_key_t *key, const char *client_id, size_t len,
                              char out[65])
{
    static const char hex[] = "0123456789abcdef";
    const char *parts[2] = {"participant", client_id};
    size_t lens[2] = {sizeof "participant" - 1, len};
    unsigned char md[32];

    pseudo_mac_parts(key, parts, lens, 2, md);
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[64] = '\0';
    OPENSSL_cleanse(md, sizeof md);
}

void koers_pseudo_event_id(const koers_key_t *key, const char *source, const char *event_type,
                           const char *record_id, size_t record_len, char out[37])
{
    const char *parts[4] = {"event", source, event_type, record_id};
    size_t lens[4] = {sizeof "event" - 1, strlen(source), strlen(event_type), record_len};
    unsigned char md[32];

    static const char hex[] = "0123456789abcdef";
    pseudo_mac_parts(key, parts, lens, 4, md);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x80);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[md[i] >> 4];
        *o++ = hex[md[i] & 0x0f];
    }
    *o = '\0';
    OPENSSL_cleanse(md, sizeof md);
}
