/* Catalogue tests: the string rules, including the refusal of identifier-shaped values. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "koers/catalog.h"

typedef struct {
    const char *value;
    const char *reason; /* expected substring of the error, or NULL when valid */
} string_case_t;

static void check_cases(const koers_field_t *f, const string_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[256] = "";
        int rc = koers_field_check_string(f, cases[i].value, strlen(cases[i].value), err,
                                          sizeof err);
        int ok = cases[i].reason ? rc == -1 && strstr(err, cases[i].reason) != NULL : rc == 0;
        if (!ok)
            fprintf(stderr, "\n%s '%s': rc %d, error '%s'\n", f->name, cases[i].value, rc, err);
        CU_ASSERT(ok);
        if (cases[i].reason && strlen(cases[i].value) > 3)
            CU_ASSERT_PTR_NULL(strstr(err, cases[i].value)); /* never echoed */
    }
}

static const koers_field_t *goal_ref(void)
{
    const koers_type_t *t = &koers_types[KOERS_GOAL_CHANGE];
    return &t->fields[koers_field_find(t, "goal_ref", 8)];
}

static void test_goal_ref_rules(void)
{
    static const string_case_t cases[] = {
        {"Woning-1", NULL},
        {"G12-3", NULL},
        {"123456789", NULL},   /* nine digits that fail the eleven-test: a plain number */
        {"12345678", NULL},
        {"doel 1", "character 5 is not one of [A-Za-z0-9_-]"},
        {"", "length 0 outside 1..64"},
        {"Jan de Vries", "character 4 is not"},
        {"Hoofdstraat 12, 9711 AB Groningen", "character 12 is not"},
        {"123456782", "shape of a citizen service number"},
        {"111222333", "shape of a citizen service number"},
        {"1234-56-782", "shape of a citizen service number"},
        {"87654312", NULL},
        {"0612345678", "shape of a phone number"},
        {"06-12345678", "shape of a phone number"},
        {"050-3123456", "shape of a phone number"},
        {"31612345678", "shape of a phone number"},
        {"0031612345678", "shape of a phone number"},
        {"+31612345678", "character 1 is not"},
        {"0000000000", NULL},  /* not a phone number: no area or mobile code */
        {"00000000", NULL},
        {"9711AB", "shape of a postcode"},
        {"9711-ab", "shape of a postcode"},
        {"0711AB", NULL},      /* postcodes do not start with 0 */
        {"9711ABC", NULL},
        {"AB9711", NULL},
        {"G9711AB", NULL},
        {"97A11B", NULL},
    };
    check_cases(goal_ref(), cases, sizeof cases / sizeof cases[0]);
}

static void test_source_rules(void)
{
    static const string_case_t cases[] = {
        {"ggz-noord", NULL},
        {"GGZ-Noord", "character 1 is not one of [a-z0-9_-]"},
        {"123456782", "shape of a citizen service number"},
        {"0612345678", "shape of a phone number"},
        {"9711nv", "shape of a postcode"},
        {"abcdefghijklmnopqrstuvwxyz0123456", "length 33 outside 1..32"},
    };
    check_cases(&koers_source_field, cases, sizeof cases / sizeof cases[0]);
}

/* Every 8- and 9-digit string that passes the eleven-test is refused, every other one is
 * accepted: checked on a sample against an independent computation. */
static void test_eleven_test_sample(void)
{
    unsigned long x = 100000000UL;
    int refused = 0, accepted = 0;
    for (int i = 0; i < 20000; i++, x += 49999) {
        char s[16];
        snprintf(s, sizeof s, "%09lu", x % 1000000000UL);
        int sum = 0;
        for (int k = 0; k < 9; k++)
            sum += (k == 8 ? -1 : 9 - k) * (s[k] - '0');
        int bsn = sum % 11 == 0 && sum != 0;
        char err[256];
        int rc = koers_field_check_string(goal_ref(), s, 9, err, sizeof err);
        CU_ASSERT_EQUAL(rc, bsn ? -1 : 0);
        bsn ? refused++ : accepted++;
    }
    CU_ASSERT(refused > 1000 && accepted > 10000);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("catalog", NULL, NULL);
    CU_add_test(s, "goal_ref: characters, length, identifier shapes", test_goal_ref_rules);
    CU_add_test(s, "source: characters, length, identifier shapes", test_source_rules);
    CU_add_test(s, "the eleven-test on a sample of numbers", test_eleven_test_sample);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures != 0 || CU_get_error() != CUE_SUCCESS;
}
