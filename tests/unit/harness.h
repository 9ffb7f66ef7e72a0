/* The one CUnit harness of the unit suites: a suite is a table of tests, and its main is
 * `return unit_main(&suite);`. */
#ifndef KOERS_TESTS_HARNESS_H
#define KOERS_TESTS_HARNESS_H

#include <stddef.h>

#include <CUnit/CUnit.h>

typedef struct {
    const char *name;
    CU_TestFunc run;
} unit_test_t;

typedef struct {
    const char *name;
    CU_InitializeFunc init; /* before the tests (NULL: none); nonzero fails the suite */
    CU_CleanupFunc clean;   /* after them (NULL: none) */
    const unit_test_t *tests;
    size_t n;
} unit_suite_t;

#define UNIT_TESTS(t) (t), (sizeof(t) / sizeof((t)[0]))

/* Runs the suite verbosely; returns the process's exit status: 0 when every test ran and
 * passed, 1 otherwise (a failed assertion, a failed init or clean, a CUnit error). */
int unit_main(const unit_suite_t *suite);

#endif
