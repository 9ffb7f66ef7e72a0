/* Unit tests for the API's parameter checks (dashboards/params.c): each rule at its edges. */
#include <string.h>

#include "dash.h"
#include "harness.h"

static void test_params_name(void)
{
    static const char *const good[] = {"a", "noord", "ggz-noord_2", "0",
                                       "abcdefghijklmnopqrstuvwxyz012345"};
    static const char *const bad[] = {"", "Noord", "noord ", "noo.rd", "'; drop", "é",
                                      "abcdefghijklmnopqrstuvwxyz0123456"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CU_ASSERT_EQUAL(dash_param_name(good[i]), 1);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CU_ASSERT_EQUAL(dash_param_name(bad[i]), 0);
}

static void test_params_month(void)
{
    char out[16] = "";
    CU_ASSERT_EQUAL(dash_param_month("2024-03", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "2024-03-01");
    CU_ASSERT_EQUAL(dash_param_month("2000-01", out, sizeof out), 1);
    CU_ASSERT_EQUAL(dash_param_month("2099-12", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "2099-12-01");
    static const char *const bad[] = {"1999-12", "2100-01", "2024-00", "2024-13", "2024-3",
                                      "2024/03", "2024-03-01", "20a4-03", "-024-03", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CU_ASSERT_EQUAL(dash_param_month(bad[i], out, sizeof out), 0);
}

static void test_params_chart(void)
{
    char longest[49];
    memset(longest, 'a', 48);
    longest[48] = '\0';
    longest[10] = '.';
    CU_ASSERT_EQUAL(dash_param_chart(longest), 1);
    CU_ASSERT_EQUAL(dash_param_chart("crisis.bd_rate"), 1);
    CU_ASSERT_EQUAL(dash_param_chart("a.b"), 1);
    char too_long[50];
    memcpy(too_long, longest, 48);
    too_long[48] = 'a';
    too_long[49] = '\0';
    static const char *const bad[] = {"ab", ".ab", "ab.", "a.b.c", "crisis", "Crisis.kind",
                                      "crisis.kind2", "crisis.k-ind", ""};
    CU_ASSERT_EQUAL(dash_param_chart(too_long), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CU_ASSERT_EQUAL(dash_param_chart(bad[i]), 0);
}

static void test_params_int(void)
{
    long v = -1;
    CU_ASSERT_EQUAL(dash_param_int("0", 0, 10, &v), 1);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(dash_param_int("10", 0, 10, &v), 1);
    CU_ASSERT_EQUAL(v, 10);
    CU_ASSERT_EQUAL(dash_param_int("10000", 1, 10000, &v), 1);
    CU_ASSERT_EQUAL(v, 10000);
    CU_ASSERT_EQUAL(dash_param_int("999999999", 0, 1000000000, &v), 1);
    static const char *const bad[] = {"", "-1", "+1", "1.5", " 1", "1e3", "0x10",
                                      "1000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CU_ASSERT_EQUAL(dash_param_int(bad[i], 0, 2000000000, &v), 0);
    CU_ASSERT_EQUAL(dash_param_int("11", 0, 10, &v), 0);
    CU_ASSERT_EQUAL(dash_param_int("0", 1, 10, &v), 0);
}

static const unit_test_t params_tests[] = {
    {"names: [a-z0-9_-]{1,32}", test_params_name},
    {"months: YYYY-MM within 2000..2099", test_params_month},
    {"chart ids: page.chart, 3..48 characters", test_params_chart},
    {"numbers: digits only, within the range", test_params_int},
};

int main(void)
{
    const unit_suite_t suite = {"params", NULL, NULL, UNIT_TESTS(params_tests)};
    return unit_main(&suite);
}
