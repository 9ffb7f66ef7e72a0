/* Unit tests for the configuration: the key=value parser, files, precedence, checks, dump. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "koers/config.h"
#include "harness.h"

extern char **environ;

static char tmpdir[] = "/tmp/koers-test-config-XXXXXX";

static const char *const formats[] = {"logfmt", "json", NULL};

static const koers_setting_t settings[] = {
    {"brokers", "KOERS_TEST_BROKERS", NULL, KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"group", "KOERS_TEST_GROUP", "koers", KOERS_SETTING_TEXT, 0, 0, 0, NULL},
    {"batch.size", "KOERS_TEST_BATCH_SIZE", "5000", KOERS_SETTING_INT, 1,
     1000000, 0, NULL},
    {"log.format", "KOERS_TEST_LOG_FORMAT", "logfmt", KOERS_SETTING_TEXT, 0, 0, 0,
     formats},
    {"dbname", NULL, "", KOERS_SETTING_CONNINFO, 0, 0, 0, NULL},
    {"session.secret", NULL, NULL, KOERS_SETTING_TEXT, 0, 0, 1, NULL},
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static void config_clear_env(void)
{
    unsetenv("KOERS_TEST_BROKERS");
    unsetenv("KOERS_TEST_GROUP");
    unsetenv("KOERS_TEST_BATCH_SIZE");
    unsetenv("KOERS_TEST_LOG_FORMAT");
    unsetenv("KOERS_CONFIG");
    /* Every libpq variable (the test runs inside the services' environment). */
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "PG", 2) == 0) {
                char name[128];
                size_t n = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)n, *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
}

/* Writes text to tmpdir/name and returns the path (static buffer). */
static const char *config_write(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    return path;
}

static koers_config_t *config_new(void)
{
    koers_config_t *c = koers_config_new("koers-test", settings, NSETTINGS);
    CU_ASSERT_FATAL(c != NULL);
    return c;
}

/* Sets name as its flag would: from "--name" with dots as dashes, as koers_cli_parse does. */
static int config_set_flag(koers_config_t *c, const char *name, const char *value, char *err,
                           size_t len)
{
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", name);
    for (char *p = flag; *p; p++)
        if (*p == '.')
            *p = '-';
    return koers_config_set(c, name, value, KOERS_FROM_FLAG, flag, err, len);
}

static void test_config_parse_line(void)
{
    const struct {
        const char *line;
        int rc;
        const char *key, *value, *err;
    } cases[] = {
        {"brokers=a:9092", 1, "brokers", "a:9092", NULL},
        {"  brokers \t=  a:9092 , b:9092 \r\n", 1, "brokers", "a:9092 , b:9092", NULL},
        {"kafka.sasl.password=p#ss=word", 1, "kafka.sasl.password", "p#ss=word", NULL},
        {"group=", 1, "group", "", NULL},
        {"", 0, NULL, NULL, NULL},
        {"   \t \n", 0, NULL, NULL, NULL},
        {"# brokers=x", 0, NULL, NULL, NULL},
        {"   # indented comment", 0, NULL, NULL, NULL},
        {"brokers", -1, NULL, NULL, "expected key=value"},
        {"=value", -1, NULL, NULL, "empty key"},
        {"  = value", -1, NULL, NULL, "empty key"},
        {"batch size=5", -1, NULL, NULL, "key 'batch size' contains white space"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[128], err[128] = "", *key = NULL, *value = NULL;
        snprintf(line, sizeof line, "%s", cases[i].line);
        int rc = koers_config_parse_line(line, &key, &value, err, sizeof err);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc == 1) {
            CU_ASSERT_STRING_EQUAL(key, cases[i].key);
            CU_ASSERT_STRING_EQUAL(value, cases[i].value);
        }
        if (cases[i].err)
            CU_ASSERT_STRING_EQUAL(err, cases[i].err);
    }
}

static void test_config_file_errors(void)
{
    const struct {
        const char *text;
        const char *err; /* after "path:" */
    } cases[] = {
        {"# ok\nbrokers=a\nnonsense\n", "3: expected key=value"},
        {"brokers=a\n\n=x\n", "3: empty key"},
        {"brokrs=a\n", "1: unknown setting 'brokrs' (koers-test knows: brokers group batch.size "
                       "log.format dbname session.secret, and kafka.<librdkafka property>)"},
        {"group=a\ngroup=b\n", "2: 'group' already set on line 1"},
        {"kafka.=x\n", "1: empty Kafka property name after 'kafka.'"},
        {"kafka.linger.ms=1\nkafka.linger.ms=2\n", "2: 'kafka.linger.ms' already set on line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_clear_env();
        koers_config_t *c = config_new();
        const char *path = config_write("bad.conf", cases[i].text);
        char err[512], want[512];
        CU_ASSERT_EQUAL(koers_config_load_file(c, path, err, sizeof err), -1);
        snprintf(want, sizeof want, "%s:%s", path, cases[i].err);
        CU_ASSERT_STRING_EQUAL(err, want);
        /* Nothing is half-applied: the good lines before the bad one did not land. */
        CU_ASSERT_PTR_NULL(koers_config_get(c, "brokers"));
        CU_ASSERT_EQUAL(koers_config_kafka_count(c), 0);
        koers_config_free(c);
    }
    /* A NUL byte and a missing file. */
    koers_config_t *c = config_new();
    char path[256], err[512], want[512];
    snprintf(path, sizeof path, "%s/nul.conf", tmpdir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fwrite("group=a\nbrokers=x\0y\n", 1, 20, f);
    fclose(f);
    CU_ASSERT_EQUAL(koers_config_load_file(c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: NUL byte", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    snprintf(path, sizeof path, "%s/missing.conf", tmpdir);
    CU_ASSERT_EQUAL(koers_config_resolve(c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    koers_config_free(c);
}

/* file < environment < flags, whatever order they are given in; defaults last. */
static void test_config_precedence(void)
{
    config_clear_env();
    const char *path = config_write("p.conf", "brokers=file:9092\ngroup=file-group\n"
                                              "batch.size=10\nkafka.linger.ms=5\n"
                                              "kafka.acks=1\n");
    koers_config_t *c = config_new();
    char err[512];
    CU_ASSERT_EQUAL(config_set_flag(c, "brokers", "flag:9092", err, sizeof err), 0);
    CU_ASSERT_EQUAL(koers_config_set_x(c, "linger.ms = 7", err, sizeof err), 0);
    setenv("KOERS_TEST_BROKERS", "env:9092", 1);
    setenv("KOERS_TEST_GROUP", "env-group", 1);
    setenv("KOERS_TEST_BATCH_SIZE", "", 1); /* empty counts as unset */
    CU_ASSERT_EQUAL_FATAL(koers_config_resolve(c, path, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(koers_config_get(c, "brokers"), "flag:9092");
    CU_ASSERT_EQUAL(koers_config_origin(c, "brokers"), KOERS_FROM_FLAG);
    CU_ASSERT_STRING_EQUAL(koers_config_get(c, "group"), "env-group");
    CU_ASSERT_EQUAL(koers_config_origin(c, "group"), KOERS_FROM_ENV);
    CU_ASSERT_EQUAL(koers_config_get_long(c, "batch.size"), 10);
    CU_ASSERT_EQUAL(koers_config_origin(c, "batch.size"), KOERS_FROM_FILE);
    CU_ASSERT_STRING_EQUAL(koers_config_get(c, "log.format"), "logfmt");
    CU_ASSERT_EQUAL(koers_config_origin(c, "log.format"), KOERS_FROM_DEFAULT);
    CU_ASSERT_PTR_NULL(koers_config_get(c, "session.secret"));
    CU_ASSERT_PTR_NULL(koers_config_get(c, "no.such.setting"));
    CU_ASSERT_STRING_EQUAL(koers_config_path(c), path);
    CU_ASSERT_EQUAL_FATAL(koers_config_kafka_count(c), 2);
    for (size_t i = 0; i < 2; i++) {
        const char *key, *value, *where;
        koers_config_kafka_get(c, i, &key, &value, &where);
        if (strcmp(key, "linger.ms") == 0) {
            CU_ASSERT_STRING_EQUAL(value, "7"); /* -X wins over the file's kafka.linger.ms */
            CU_ASSERT_STRING_EQUAL(where, "-X");
        } else {
            CU_ASSERT_STRING_EQUAL(key, "acks");
            CU_ASSERT_STRING_EQUAL(value, "1");
            char want[300];
            snprintf(want, sizeof want, "%s:5", path);
            CU_ASSERT_STRING_EQUAL(where, want);
        }
    }
    koers_config_free(c);

    /* $KOERS_CONFIG names the file when no path is given. */
    config_clear_env();
    setenv("KOERS_CONFIG", path, 1);
    c = config_new();
    CU_ASSERT_EQUAL_FATAL(koers_config_resolve(c, NULL, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(koers_config_get(c, "brokers"), "file:9092");
    CU_ASSERT_EQUAL(koers_config_origin(c, "brokers"), KOERS_FROM_FILE);
    koers_config_free(c);
    config_clear_env();
}

static void test_config_checks(void)
{
    const struct {
        const char *name, *value;
        const char *err;
    } cases[] = {
        {"batch.size", "0", "batch.size: '0' (from --batch-size) is not a whole number in 1..1000000"},
        {"batch.size", "1000001",
         "batch.size: '1000001' (from --batch-size) is not a whole number in 1..1000000"},
        {"batch.size", "12x", "batch.size: '12x' (from --batch-size) is not a whole number in 1..1000000"},
        {"batch.size", "", "batch.size: '' (from --batch-size) is not a whole number in 1..1000000"},
        {"batch.size", "99999999999999999999",
         "batch.size: '99999999999999999999' (from --batch-size) is not a whole number in 1..1000000"},
        {"log.format", "xml", "log.format: 'xml' (from --log-format) is not one of: logfmt json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_clear_env();
        koers_config_t *c = config_new();
        char err[512];
        CU_ASSERT_EQUAL(config_set_flag(c, cases[i].name, cases[i].value, err, sizeof err), 0);
        CU_ASSERT_EQUAL(koers_config_resolve(c, NULL, err, sizeof err), -1);
        CU_ASSERT_STRING_EQUAL(err, cases[i].err);
        koers_config_free(c);
    }
    /* The origin of a bad value from the environment and from a file is named too. */
    koers_config_t *c = config_new();
    char err[512], want[512];
    setenv("KOERS_TEST_BATCH_SIZE", "-3", 1);
    CU_ASSERT_EQUAL(koers_config_resolve(c, NULL, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "batch.size: '-3' (from environment KOERS_TEST_BATCH_SIZE) is "
                                "not a whole number in 1..1000000");
    koers_config_free(c);
    config_clear_env();
    c = config_new();
    const char *path = config_write("n.conf", "\nbatch.size = lots\n");
    CU_ASSERT_EQUAL(koers_config_resolve(c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "batch.size: 'lots' (from %s:2) is not a whole number in 1..1000000",
             path);
    CU_ASSERT_STRING_EQUAL(err, want);
    koers_config_free(c);
    /* A connection string that libpq cannot parse. */
    c = config_new();
    CU_ASSERT_EQUAL(config_set_flag(c, "dbname", "host='unterminated", err, sizeof err), 0);
    CU_ASSERT_EQUAL(koers_config_resolve(c, NULL, err, sizeof err), -1);
    CU_ASSERT(strncmp(err, "dbname (from --dbname): ", 24) == 0);
    koers_config_free(c);
    /* -X without '='. */
    c = config_new();
    CU_ASSERT_EQUAL(koers_config_set_x(c, "linger.ms", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "-X linger.ms: expected key=value");
    CU_ASSERT_EQUAL(config_set_flag(c, "nope", "1", err, sizeof err), -1);
    CU_ASSERT(strncmp(err, "unknown setting 'nope'", 22) == 0);
    koers_config_free(c);
}

/* A file's connection parameters give way to PG* variables one by one; a flag's string wins. */
static void test_config_conninfo(void)
{
    config_clear_env();
    const char *path = config_write("db.conf", "dbname = host=db.example port=6543 "
                                               "dbname=filedb sslmode=verify-full "
                                               "password=it's\n");
    koers_config_t *c = config_new();
    char err[512];
    setenv("PGDATABASE", "envdb", 1);
    CU_ASSERT_EQUAL_FATAL(koers_config_resolve(c, path, err, sizeof err), 0);
    char *ci = koers_config_conninfo(c, "dbname", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ci);
    /* libpq's order of parameters; dbname left out for PGDATABASE */
    CU_ASSERT_STRING_EQUAL(ci, "password='it\\'s' host='db.example' port='6543' "
                               "sslmode='verify-full'");
    free(ci);
    koers_config_free(c);

    c = config_new();
    CU_ASSERT_EQUAL(config_set_flag(c, "dbname", "dbname=flagdb", err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(koers_config_resolve(c, path, err, sizeof err), 0);
    ci = koers_config_conninfo(c, "dbname", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ci);
    CU_ASSERT_STRING_EQUAL(ci, "dbname=flagdb");
    free(ci);
    koers_config_free(c);

    c = config_new(); /* nothing anywhere: "" lets libpq use its environment */
    CU_ASSERT_EQUAL_FATAL(koers_config_resolve(c, NULL, err, sizeof err), 0);
    ci = koers_config_conninfo(c, "dbname", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ci);
    CU_ASSERT_STRING_EQUAL(ci, "");
    free(ci);
    koers_config_free(c);
    config_clear_env();
}

static void test_config_secret_names(void)
{
    const char *secret[] = {"sasl.password", "ssl.key.password", "ssl.keystore.password",
                            "ssl.key.pem", "sasl.oauthbearer.client.secret",
                            "sasl.oauthbearer.config", "session.secret"};
    const char *plain[] = {"bootstrap.servers", "security.protocol", "sasl.username",
                           "sasl.mechanisms", "ssl.ca.location", "ssl.certificate.location",
                           "linger.ms", "group"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        CU_ASSERT(koers_config_is_secret(secret[i]));
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        CU_ASSERT(!koers_config_is_secret(plain[i]));
}

static void test_config_dump(void)
{
    config_clear_env();
    const char *path = config_write("d.conf", "kafka.sasl.password=hunter2\n"
                                              "kafka.sasl.username=koers\n"
                                              "session.secret=s3cr3t\n"
                                              "dbname=dbname=x password=pw123 host=h\n");
    koers_config_t *c = config_new();
    char err[512];
    CU_ASSERT_EQUAL(config_set_flag(c, "group", "g1", err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(koers_config_resolve(c, path, err, sizeof err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CU_ASSERT_FATAL(out != NULL);
    CU_ASSERT_EQUAL(koers_config_dump(c, out), 0);
    fclose(out);
    CU_ASSERT_PTR_NULL(strstr(text, "hunter2"));
    CU_ASSERT_PTR_NULL(strstr(text, "s3cr3t"));
    CU_ASSERT_PTR_NULL(strstr(text, "pw123"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nkafka.sasl.password=<redacted>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nkafka.sasl.username=koers\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nsession.secret=<redacted>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "password='<redacted>'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# flag --group\ngroup=g1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# default\nbatch.size=5000\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# not set\n#brokers=\n"));
    char want[300];
    snprintf(want, sizeof want, "# file %s:1\nkafka.sasl.password=<redacted>\n", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
    /* Every line is a comment, blank, or key=value that the parser takes back. */
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *k, *v, e[128];
        CU_ASSERT(koers_config_parse_line(line, &k, &v, e, sizeof e) >= 0);
    }
    free(text);
    koers_config_free(c);
}

static int config_init(void)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int config_clean(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const unit_test_t config_tests[] = {
    {"the key=value parser", test_config_parse_line},
    {"file errors name path:line", test_config_file_errors},
    {"precedence: file < environment < flags", test_config_precedence},
    {"numbers and choices checked, origin named", test_config_checks},
    {"connection strings merged with PG*", test_config_conninfo},
    {"secret names", test_config_secret_names},
    {"dump: origins, redaction, parseable", test_config_dump},
};

int main(void)
{
    const unit_suite_t suite = {"config", config_init, config_clean, UNIT_TESTS(config_tests)};
    return unit_main(&suite);
}
