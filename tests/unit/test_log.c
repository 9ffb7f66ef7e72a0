/* Unit tests for the logger: logfmt quoting and escaping, JSON lines, extra fields, errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "koers/log.h"
#include "harness.h"

static char path[] = "/tmp/koers-test-log-XXXXXX";
static int saved_stderr = -1;

/* Sends stderr to a fresh temporary file. */
static void log_capture_start(void)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    close(fd);
}

/* Restores stderr and returns what was written (malloc'd). */
static char *log_capture_end(void)
{
    dup2(saved_stderr, STDERR_FILENO);
    FILE *f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    static char buf[70000];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

/* The part of a logfmt line after "ts=... " (the timestamp varies). */
static const char *log_after_ts(const char *line)
{
    CU_ASSERT(strncmp(line, "ts=", 3) == 0);
    const char *sp = strchr(line, ' ');
    CU_ASSERT_FATAL(sp != NULL);
    CU_ASSERT_EQUAL(sp - line, 3 + 24); /* 2025-03-14T10:30:00.123Z */
    CU_ASSERT_EQUAL(line[3 + 23], 'Z');
    return sp + 1;
}

static void test_log_logfmt(void)
{
    CU_ASSERT_EQUAL(koers_log_set_format("logfmt"), 0);
    const struct {
        void (*fn)(const char *, ...);
        const char *msg;
        const char *want; /* after ts */
    } cases[] = {
        {koers_log_info, "plain", "level=info prog=test_log msg=plain\n"},
        {koers_log_warn, "two words", "level=warn prog=test_log msg=\"two words\"\n"},
        {koers_log_error, "a \"quoted\" back\\slash",
         "level=error prog=test_log msg=\"a \\\"quoted\\\" back\\\\slash\"\n"},
        {koers_log_info, "line one\nline two\n", "level=info prog=test_log msg=\"line one\\nline two\"\n"},
        {koers_log_info, "tab\there\x01", "level=info prog=test_log msg=\"tab\\there\\u0001\"\n"},
        {koers_log_info, "k=v", "level=info prog=test_log msg=\"k=v\"\n"},
        {koers_log_info, "", "level=info prog=test_log msg=\"\"\n"},
        {koers_log_info, "Jos\xC3\xA9", "level=info prog=test_log msg=\"Jos\xC3\xA9\"\n"},
        {koers_log_info, "bad \xC3 utf8 \xFF", "level=info prog=test_log msg=\"bad \xEF\xBF\xBD utf8 \xEF\xBF\xBD\"\n"},
        {koers_log_info, "server said: FATAL: no\n", "level=info prog=test_log msg=\"server said: FATAL: no\"\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        log_capture_start();
        cases[i].fn("%s", cases[i].msg);
        char *got = log_capture_end();
        CU_ASSERT_STRING_EQUAL(log_after_ts(got), cases[i].want);
        free(got);
    }
}

static void test_log_kv_and_errno(void)
{
    CU_ASSERT_EQUAL(koers_log_set_format("logfmt"), 0);
    log_capture_start();
    const char *kv[] = {"kafka_client", "rdkafka#producer-1", "kafka_facility", NULL,
                        "extra", "x y"};
    errno = EPIPE;
    koers_log_kv(KOERS_LOG_DEBUG, kv, 3, "%s %d", "n", 5);
    int e = errno;
    char *got = log_capture_end();
    CU_ASSERT_EQUAL(e, EPIPE);
    CU_ASSERT_STRING_EQUAL(log_after_ts(got), "level=debug prog=test_log msg=\"n 5\" "
                                              "kafka_client=rdkafka#producer-1 extra=\"x y\"\n");
    free(got);
    CU_ASSERT_EQUAL(koers_log_set_format("xml"), -1);
    CU_ASSERT_STRING_EQUAL(getenv(KOERS_LOG_FORMAT_ENV), "logfmt");
}

static void test_log_json(void)
{
    CU_ASSERT_EQUAL(koers_log_set_format("json"), 0);
    const char *msgs[] = {"plain", "a \"q\" \\ b\nc\t\x01", "bad \xC3 utf8", ""};
    const char *want[] = {"plain", "a \"q\" \\ b\nc\t\x01", "bad \xEF\xBF\xBD utf8", ""};
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        log_capture_start();
        const char *kv[] = {"kafka_facility", "FAIL"};
        koers_log_kv(KOERS_LOG_WARN, kv, 1, "%s", msgs[i]);
        char *got = log_capture_end();
        size_t n = strlen(got);
        CU_ASSERT(n > 0 && got[n - 1] == '\n' && strchr(got, '\n') == got + n - 1);
        json_error_t jerr;
        json_t *doc = json_loads(got, 0, &jerr);
        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "level")), "warn");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "prog")), "test_log");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "msg")), want[i]);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "kafka_facility")), "FAIL");
        CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(doc, "ts"))), 24);
        CU_ASSERT_EQUAL(json_object_size(doc), 5);
        json_decref(doc);
        free(got);
    }
    /* A message of the largest size still gives one whole, valid line. */
    static char big[5000];
    memset(big, '"', sizeof big - 1);
    log_capture_start();
    koers_log_error("%s", big);
    char *got = log_capture_end();
    json_error_t jerr;
    json_t *doc = json_loads(got, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL(doc);
    json_decref(doc);
    free(got);
    CU_ASSERT_EQUAL(koers_log_set_format("logfmt"), 0);
}

static int log_init(void)
{
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    saved_stderr = dup(STDERR_FILENO);
    return saved_stderr < 0 ? -1 : 0;
}

static int log_clean(void)
{
    close(saved_stderr);
    return unlink(path);
}

static const unit_test_t log_tests[] = {
    {"logfmt quoting and escaping", test_log_logfmt},
    {"extra fields, levels, errno kept", test_log_kv_and_errno},
    {"JSON lines", test_log_json},
};

int main(void)
{
    const unit_suite_t suite = {"log", log_init, log_clean, UNIT_TESTS(log_tests)};
    return unit_main(&suite);
}
