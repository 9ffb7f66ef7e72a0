/* Login throttling: failed attempts per client address and per user name, in memory. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dash.h"

/* After MAX_FAILURES within WINDOW seconds, a key waits until the window has passed since
 * its first failure; the wait doubles (to LOCK_MAX) for each failure beyond. */
#define RL_SLOTS 1024
#define RL_WINDOW 600
#define RL_MAX_FAILURES_CLIENT 20
#define RL_MAX_FAILURES_USER 5
#define RL_LOCK_MAX 3600

typedef struct {
    char key[80]; /* "c:<address>" or "u:<user name>" */
    time_t first;
    int failures;
} rl_slot_t;

static rl_slot_t rl_slots[RL_SLOTS];
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t rl_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of key (claimed when free or stale; a collision evicts the older entry). */
static rl_slot_t *rl_slot(const char *key, time_t now, int create)
{
    rl_slot_t *s = &rl_slots[rl_hash(key) % RL_SLOTS];
    if (strcmp(s->key, key) == 0 && now - s->first < RL_LOCK_MAX)
        return s;
    if (!create)
        return NULL;
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", key);
    s->first = now;
    return s;
}

static int rl_wait_for(const char *key, int max, time_t now)
{
    rl_slot_t *s = rl_slot(key, now, 0);
    if (!s || s->failures < max)
        return 0;
    long lock = RL_WINDOW;
    for (int i = max; i < s->failures && lock < RL_LOCK_MAX; i++)
        lock *= 2;
    if (lock > RL_LOCK_MAX)
        lock = RL_LOCK_MAX;
    long left = (long)(s->first + lock - now);
    return left > 0 ? (int)left : 0;
}

void dash_ratelimit_init(void)
{
    pthread_mutex_lock(&rl_lock);
    memset(rl_slots, 0, sizeof rl_slots);
    pthread_mutex_unlock(&rl_lock);
}

static void rl_keys(const char *client, const char *user, char *ck, char *uk, size_t n)
{
    snprintf(ck, n, "c:%s", client ? client : "");
    snprintf(uk, n, "u:%s", user ? user : "");
}

int dash_ratelimit_wait(const char *client, const char *user)
{
    char ck[80], uk[80];
    rl_keys(client, user, ck, uk, sizeof ck);
    time_t now = time(NULL);
    pthread_mutex_lock(&rl_lock);
    int a = rl_wait_for(ck, RL_MAX_FAILURES_CLIENT, now);
    int b = rl_wait_for(uk, RL_MAX_FAILURES_USER, now);
    pthread_mutex_unlock(&rl_lock);
    return a > b ? a : b;
}

void dash_ratelimit_failure(const char *client, const char *user)
{
    char ck[80], uk[80];
    rl_keys(client, user, ck, uk, sizeof ck);
    time_t now = time(NULL);
    pthread_mutex_lock(&rl_lock);
    const char *keys[2] = {ck, uk};
    for (int i = 0; i < 2; i++) {
        rl_slot_t *s = rl_slot(keys[i], now, 1);
        if (now - s->first >= RL_WINDOW && s->failures < (i ? RL_MAX_FAILURES_USER : RL_MAX_FAILURES_CLIENT)) {
            s->first = now; /* an old, unlocked window starts again */
            s->failures = 0;
        }
        s->failures++;
    }
    pthread_mutex_unlock(&rl_lock);
}

void dash_ratelimit_success(const char *client, const char *user)
{
    char ck[80], uk[80];
    rl_keys(client, user, ck, uk, sizeof ck);
    (void)ck; /* the address keeps its count: one good password does not clear guessing */
    time_t now = time(NULL);
    pthread_mutex_lock(&rl_lock);
    rl_slot_t *s = rl_slot(uk, now, 0);
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&rl_lock);
}
