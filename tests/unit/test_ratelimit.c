/* Unit tests for the login throttle (dashboards/ratelimit.c): names that share a user's
 * slot cannot reset its lock, a full limiter refuses instead of forgetting, the failure
 * budget of all names together, and waits that grow. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "dash.h"
#include "harness.h"

/* A fixed key: the test can look for colliding names as an attacker could if the key were
 * known (the server draws a random one). */
static const unsigned char test_key[16] = "0123456789abcdef";

/* Writes count names other than victim whose first slot is the victim's. */
static void rl_colliding_names(const dash_ratelimit_t *rl, const char *victim, char names[][32],
                               int count)
{
    size_t home = dash_ratelimit_user_slot(rl, victim);
    int found = 0;
    for (long i = 0; found < count && i < 10000000; i++) {
        char name[32];
        snprintf(name, sizeof name, "x%ld", i);
        if (dash_ratelimit_user_slot(rl, name) == home)
            snprintf(names[found++], 32, "%s", name);
    }
    CU_ASSERT_FATAL(found == count);
}

static void test_ratelimit_collisions(void)
{
    dash_ratelimit_conf_t conf = {1024, 600, 5, 1000, 1000, 3600};
    dash_ratelimit_t *rl = dash_ratelimit_new(&conf, test_key);
    CU_ASSERT_FATAL(rl != NULL);
    char names[40][32];
    rl_colliding_names(rl, "anne", names, 40);
    long t = 1000;
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.0.0.1", "anne", t), 0);
        CU_ASSERT_EQUAL(dash_ratelimit_failure(rl, "10.0.0.1", "anne", t), 0);
    }
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.0.0.9", "anne", t + 1), 599);
    /* One failure under each colliding name, from other addresses: the lock stays. */
    for (int i = 0; i < 40; i++) {
        char client[32];
        snprintf(client, sizeof client, "10.0.1.%d", i);
        CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, client, names[i], t + 2), 0);
        CU_ASSERT_EQUAL(dash_ratelimit_failure(rl, client, names[i], t + 2), 0);
        dash_ratelimit_success(rl, client, names[i], t + 2);
    }
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.0.0.9", "anne", t + 3), 597);
    /* Each colliding name counts for itself. */
    for (int i = 0; i < 4; i++)
        dash_ratelimit_failure(rl, "10.0.2.1", names[0], t + 4);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.0.2.2", names[0], t + 4), 0);
    dash_ratelimit_failure(rl, "10.0.2.1", names[0], t + 4);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.0.2.2", names[0], t + 4), 600);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.0.0.9", "anne", t + 4), 596);
    dash_ratelimit_free(rl);
}

static void test_ratelimit_full(void)
{
    dash_ratelimit_conf_t conf = {8, 600, 3, 1000, 1000, 3600};
    dash_ratelimit_t *rl = dash_ratelimit_new(&conf, test_key);
    CU_ASSERT_FATAL(rl != NULL);
    long t = 5000;
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(dash_ratelimit_failure(rl, "c", "anne", t), 0);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "anne", t), 600);
    /* c and anne hold two slots; six more names fill the table. */
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", i);
        CU_ASSERT_EQUAL(dash_ratelimit_failure(rl, "c", name, t + 10), 0);
    }
    CU_ASSERT_EQUAL(dash_ratelimit_failure(rl, "c", "bert", t + 20), -1);
    CU_ASSERT(dash_ratelimit_wait(rl, "c", "carla", t + 20) > 0); /* fail closed */
    CU_ASSERT(dash_ratelimit_wait(rl, "d", "u1", t + 20) > 0);    /* d cannot be kept either */
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "anne", t + 20), 580); /* nothing forgotten */
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "u1", t + 20), 0);
    /* Once the names of one failure have run out, new names are kept again; anne's lock
     * (from t, 600 s) is over as well, but remembered for a window more. */
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "carla", t + 611), 0);
    CU_ASSERT_EQUAL(dash_ratelimit_failure(rl, "c", "carla", t + 611), 0);
    CU_ASSERT_EQUAL(dash_ratelimit_failure(rl, "c", "anne", t + 612), 0);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "anne", t + 612), 1200);
    dash_ratelimit_free(rl);
}

static void test_ratelimit_global(void)
{
    dash_ratelimit_conf_t conf = {1024, 600, 5, 20, 10, 3600};
    dash_ratelimit_t *rl = dash_ratelimit_new(&conf, test_key);
    CU_ASSERT_FATAL(rl != NULL);
    long t = 100;
    for (int i = 0; i < 10; i++) {
        char name[16], client[16];
        snprintf(name, sizeof name, "n%d", i);
        snprintf(client, sizeof client, "a%d", i);
        CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, client, name, t + i), 0);
        dash_ratelimit_failure(rl, client, name, t + i);
    }
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "fresh", "fresh", t + 10), 590);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "fresh", "fresh", t + 600), 0);
    dash_ratelimit_free(rl);
}

static void test_ratelimit_growing(void)
{
    dash_ratelimit_conf_t conf = {64, 600, 5, 1000, 1000, 3600};
    dash_ratelimit_t *rl = dash_ratelimit_new(&conf, test_key);
    CU_ASSERT_FATAL(rl != NULL);
    long t = 0;
    for (int i = 0; i < 5; i++)
        dash_ratelimit_failure(rl, "c", "anne", t);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "anne", t), 600);
    long waits[] = {1200, 2400, 3600, 3600};
    for (int i = 0; i < 4; i++) {
        t += dash_ratelimit_wait(rl, "c", "anne", t);
        CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "anne", t), 0);
        dash_ratelimit_failure(rl, "c", "anne", t);
        CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "anne", t), waits[i]);
    }
    /* A right password does not end a lock; after it, the name starts afresh. */
    dash_ratelimit_success(rl, "c", "anne", t);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "anne", t), 0);
    dash_ratelimit_failure(rl, "c", "anne", t);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "c", "anne", t), 0);
    dash_ratelimit_free(rl);
}

static void test_ratelimit_address(void)
{
    dash_ratelimit_conf_t conf = {64, 600, 5, 3, 1000, 3600};
    dash_ratelimit_t *rl = dash_ratelimit_new(&conf, test_key);
    CU_ASSERT_FATAL(rl != NULL);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        dash_ratelimit_failure(rl, "10.1.1.1", name, 50);
    }
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.1.1.1", "other", 50), 600);
    dash_ratelimit_success(rl, "10.1.1.1", "other", 50); /* does not clear the address */
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.1.1.1", "other", 51), 599);
    CU_ASSERT_EQUAL(dash_ratelimit_wait(rl, "10.1.1.2", "other", 51), 0);
    dash_ratelimit_free(rl);
    dash_ratelimit_conf_t bad = {0, 600, 5, 3, 1000, 3600};
    CU_ASSERT_PTR_NULL(dash_ratelimit_new(&bad, NULL));
}

static int ratelimit_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

static const unit_test_t ratelimit_tests[] = {
    {"names sharing a user's slot do not reset its lock", test_ratelimit_collisions},
    {"full: refuses new keys, forgets no lock", test_ratelimit_full},
    {"the failure budget of all names", test_ratelimit_global},
    {"waits double up to the maximum", test_ratelimit_growing},
    {"per address, not cleared by a success", test_ratelimit_address},
};

int main(void)
{
    const unit_suite_t suite = {"ratelimit", ratelimit_init, NULL, UNIT_TESTS(ratelimit_tests)};
    return unit_main(&suite);
}
