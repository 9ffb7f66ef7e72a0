/* The unit suites' shared main: registers a suite's table with CUnit and runs it. */
#include <stdio.h>

#include <CUnit/Basic.h>

#include "harness.h"

int unit_main(const unit_suite_t *suite)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "%s: CUnit: %s\n", suite->name, CU_get_error_msg());
        return 1;
    }
    CU_pSuite s = CU_add_suite(suite->name, suite->init, suite->clean);
    for (size_t i = 0; s && i < suite->n; i++)
        if (!CU_add_test(s, suite->tests[i].name, suite->tests[i].run))
            s = NULL;
    if (!s) {
        fprintf(stderr, "%s: CUnit: %s\n", suite->name, CU_get_error_msg());
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_ErrorCode err = CU_basic_run_tests();
    const CU_RunSummary *r = CU_get_run_summary();
    int failed = err != CUE_SUCCESS || r->nAssertsFailed || r->nTestsFailed || r->nSuitesFailed ||
                 r->nTestsRun != suite->n;
    CU_cleanup_registry();
    return failed;
}
