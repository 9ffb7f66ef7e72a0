/* Login throttling: failed attempts per client address, per user name and in all, in memory. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dash.h"

/* One entry per "c:<address>" or "u:<user name>". A slot once used is never empty again:
 * an entry that has run out is only reusable, so that a lookup that probes past it still
 * finds the entries placed beyond it (open addressing, linear probing). */
typedef struct {
    char key[80];
    long first;   /* the first failure of the window */
    long last;    /* the latest failure: a lock runs from it */
    int failures;
    int used;
} rl_entry_t;

struct dash_ratelimit {
    dash_ratelimit_conf_t conf;
    unsigned char key[crypto_shorthash_KEYBYTES];
    pthread_mutex_t lock;
    long global_first; /* the window of the failure budget of all keys together */
    int global_failures;
    rl_entry_t *entries;
};

dash_ratelimit_t *dash_ratelimit_new(const dash_ratelimit_conf_t *conf, const unsigned char *key)
{
    if (conf->slots < 1 || conf->window < 1 || conf->max_user < 1 || conf->max_client < 1 ||
        conf->max_global < 1 || conf->lock_max < conf->window)
        return NULL;
    dash_ratelimit_t *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->entries = calloc(conf->slots, sizeof *rl->entries);
    if (!rl->entries || pthread_mutex_init(&rl->lock, NULL) != 0) {
        free(rl->entries);
        free(rl);
        return NULL;
    }
    rl->conf = *conf;
    /* A key nobody outside the process knows: names that share a user's home slot cannot be
     * worked out offline. */
    if (key)
        memcpy(rl->key, key, sizeof rl->key);
    else
        crypto_shorthash_keygen(rl->key);
    return rl;
}

void dash_ratelimit_free(dash_ratelimit_t *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    sodium_memzero(rl->key, sizeof rl->key);
    free(rl->entries);
    free(rl);
}

static size_t rl_home(const dash_ratelimit_t *rl, const char *key)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), rl->key);
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof h; i++)
        v = (v << 8) | h[i];
    return (size_t)(v % rl->conf.slots);
}

static int rl_max(const dash_ratelimit_t *rl, const char *key)
{
    return key[0] == 'u' ? rl->conf.max_user : rl->conf.max_client;
}

/* Seconds a key with this many failures is locked from its latest one: none below the
 * maximum, then the window, doubling with each failure beyond, up to lock_max. */
static long rl_lock_for(const dash_ratelimit_t *rl, int failures, int max)
{
    if (failures < max)
        return 0;
    long lock = rl->conf.window;
    for (int i = max; i < failures && lock < rl->conf.lock_max; i++)
        lock *= 2;
    return lock < rl->conf.lock_max ? lock : rl->conf.lock_max;
}

/* When an entry stops mattering: its window is over, or, once it was locked, a window more
 * than its lock (a failure within that makes the next lock twice as long). */
static long rl_expires(const dash_ratelimit_t *rl, const rl_entry_t *e)
{
    long lock = rl_lock_for(rl, e->failures, rl_max(rl, e->key));
    return lock ? e->last + lock + rl->conf.window : e->first + rl->conf.window;
}

static int rl_live(const dash_ratelimit_t *rl, const rl_entry_t *e, long now)
{
    return e->used && e->failures > 0 && now < rl_expires(rl, e);
}

/* Finds key's live entry; else, when free is given, the first reusable slot on its probe
 * sequence (NULL in *free when the table is full of live entries). */
static rl_entry_t *rl_find(dash_ratelimit_t *rl, const char *key, long now, rl_entry_t **free_)
{
    size_t h = rl_home(rl, key);
    if (free_)
        *free_ = NULL;
    for (size_t i = 0; i < rl->conf.slots; i++) {
        rl_entry_t *e = &rl->entries[(h + i) % rl->conf.slots];
        int live = rl_live(rl, e, now);
        if (live && strcmp(e->key, key) == 0)
            return e;
        if (!live && free_ && !*free_)
            *free_ = e;
        /* Never used: the key is not further on. Its own entry, run out: nor is a live one,
         * since a key is always stored in the first reusable slot of its sequence. */
        if (!e->used || strcmp(e->key, key) == 0)
            break;
    }
    return NULL;
}

/* The earliest moment a live entry runs out (when the table is full). */
static long rl_first_expiry(const dash_ratelimit_t *rl)
{
    long first = 0;
    for (size_t i = 0; i < rl->conf.slots; i++) {
        long x = rl_expires(rl, &rl->entries[i]);
        if (i == 0 || x < first)
            first = x;
    }
    return first;
}

static int rl_wait_key(dash_ratelimit_t *rl, const char *key, long now)
{
    rl_entry_t *free_;
    rl_entry_t *e = rl_find(rl, key, now, &free_);
    if (!e && !free_) {
        /* Full: a failure of this key could not be counted, so refuse rather than forget. */
        long left = rl_first_expiry(rl) - now;
        return left > 0 ? (int)left : 1;
    }
    if (!e)
        return 0;
    long left = e->last + rl_lock_for(rl, e->failures, rl_max(rl, key)) - now;
    return left > 0 ? (int)left : 0;
}

static void rl_keys(const char *client, const char *user, char *ck, char *uk, size_t n)
{
    snprintf(ck, n, "c:%s", client ? client : "");
    snprintf(uk, n, "u:%s", user ? user : "");
}

int dash_ratelimit_wait(dash_ratelimit_t *rl, const char *client, const char *user, long now)
{
    char ck[sizeof rl->entries->key], uk[sizeof rl->entries->key];
    rl_keys(client, user, ck, uk, sizeof ck);
    pthread_mutex_lock(&rl->lock);
    int g = 0;
    if (rl->global_failures >= rl->conf.max_global && now - rl->global_first < rl->conf.window)
        g = (int)(rl->global_first + rl->conf.window - now);
    int a = rl_wait_key(rl, ck, now);
    int b = rl_wait_key(rl, uk, now);
    pthread_mutex_unlock(&rl->lock);
    int w = a > b ? a : b;
    return g > w ? g : w;
}

int dash_ratelimit_failure(dash_ratelimit_t *rl, const char *client, const char *user, long now)
{
    char ck[sizeof rl->entries->key], uk[sizeof rl->entries->key];
    rl_keys(client, user, ck, uk, sizeof ck);
    int rc = 0;
    pthread_mutex_lock(&rl->lock);
    if (rl->global_failures == 0 || now - rl->global_first >= rl->conf.window) {
        rl->global_first = now;
        rl->global_failures = 0;
    }
    rl->global_failures++;
    const char *keys[2] = {ck, uk};
    for (int i = 0; i < 2; i++) {
        rl_entry_t *free_;
        rl_entry_t *e = rl_find(rl, keys[i], now, &free_);
        if (!e && !free_) {
            rc = -1; /* full; dash_ratelimit_wait() refuses this key until a slot is free */
            continue;
        }
        if (!e) {
            e = free_;
            memset(e, 0, sizeof *e);
            snprintf(e->key, sizeof e->key, "%s", keys[i]);
            e->used = 1;
            e->first = now;
        }
        e->failures++;
        e->last = now;
    }
    pthread_mutex_unlock(&rl->lock);
    return rc;
}

void dash_ratelimit_success(dash_ratelimit_t *rl, const char *client, const char *user, long now)
{
    char ck[sizeof rl->entries->key], uk[sizeof rl->entries->key];
    rl_keys(client, user, ck, uk, sizeof ck);
    (void)ck; /* the address keeps its count: one good password does not clear guessing */
    pthread_mutex_lock(&rl->lock);
    rl_entry_t *e = rl_find(rl, uk, now, NULL);
    if (e)
        e->failures = 0; /* run out, but still used: the probe sequences through it stay whole */
    pthread_mutex_unlock(&rl->lock);
}

size_t dash_ratelimit_user_slot(const dash_ratelimit_t *rl, const char *user)
{
    char ck[sizeof rl->entries->key], uk[sizeof rl->entries->key];
    rl_keys(NULL, user, ck, uk, sizeof ck);
    return rl_home(rl, uk);
}
