/* Unit tests for pseudonymisation: known HMAC values, key dependence, UUID bits, key files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "koers/pseudo.h"
#include "harness.h"

#define KEY1 "koers-unit-test-key-0123456789ab" /* 32 bytes */
#define KEY2 "another-key-for-koers-unit-tests-x" /* 34 bytes */

static char tmpdir[] = "/tmp/koers-test-pseudo-XXXXXX";

static koers_key_t pseudo_make_key(const char *text)
{
    koers_key_t k;
    memset(&k, 0, sizeof k);
    k.len = strlen(text);
    memcpy(k.bytes, text, k.len);
    return k;
}

/* Expected values from Python, independently of OpenSSL's C API:
 *   hmac.new(key, b"participant\0" + client_id, hashlib.sha256).hexdigest() */
static void test_pseudo_participant_known(void)
{
    static char x600[601];
    memset(x600, 'x', 600);
    const struct {
        const char *key, *client;
        const char *want;
    } cases[] = {
        {KEY1, "C-1001", "3856367dcfda7833b0dae756a54dd77b869ec76fdba9204a2c99dcc5fb9767d6"},
        {KEY1, "", "bd5eefcd2bb22bdf346ccaaf5d47c1f132a46efcbdbee27b4c4a0ee2aa5d3893"},
        {KEY1, "Jos\xC3\xA9 12",
         "006b955e26608fa7f2e0e7ecdcd64dd6330e22f4738c092f67ecf886051ffb8c"},
        /* longer than the stack buffer: the heap path */
        {KEY1, x600, "b675f165563500106360e56dba92d92a2722025d88555b4ccac88c2d4442e450"},
        {KEY2, "C-1001", "0dbfce6c7ee321528b91e64c0a8394465f17a4cd11d66a3f89047625b8a8486e"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        koers_key_t k = pseudo_make_key(cases[i].key);
        char out[65];
        memset(out, '#', sizeof out);
        koers_pseudo_participant(&k, cases[i].client, strlen(cases[i].client), out);
        CU_ASSERT_STRING_EQUAL(out, cases[i].want);
    }
}

/* Expected values from Python:
 *   d = bytearray(hmac.new(key, b"event\0" + source + b"\0" + type + b"\0" + record_id,
 *                          hashlib.sha256).digest()[:16])
 *   d[6] = d[6] & 0x0f | 0x80; d[8] = d[8] & 0x3f | 0x80; h = d.hex()
 *   f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" */
static void test_pseudo_event_id_known(void)
{
    const struct {
        const char *key, *source, *type, *record;
        const char *want;
    } cases[] = {
        {KEY1, "ggz_noord", "contact", "R-17", "e219a26f-91c9-8b08-ac38-957651c97e2b"},
        {KEY1, "ggz_noord", "crisis", "R-17", "007dd2ff-75f8-8257-9f55-4a1ce28cda36"},
        {KEY1, "ggz_noord", "contact", "", "2e0955f1-90b3-8655-8333-2c3eac876617"},
        {KEY2, "ggz_noord", "contact", "R-17", "adc62258-a6da-8756-9c82-c7a712eb59bb"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        koers_key_t k = pseudo_make_key(cases[i].key);
        char out[37];
        koers_pseudo_event_id(&k, cases[i].source, cases[i].type, cases[i].record,
                              strlen(cases[i].record), out);
        CU_ASSERT_STRING_EQUAL(out, cases[i].want);
    }
}

static void test_pseudo_stable_and_keyed(void)
{
    koers_key_t k1 = pseudo_make_key(KEY1), k2 = pseudo_make_key(KEY2);
    char a[65], b[65], c[65];
    koers_pseudo_participant(&k1, "client-42", 9, a);
    koers_pseudo_participant(&k1, "client-42", 9, b);
    koers_pseudo_participant(&k2, "client-42", 9, c);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_STRING_NOT_EQUAL(a, c);
    /* len, not the NUL, ends the identifier */
    koers_pseudo_participant(&k1, "client-42XYZ", 9, b);
    CU_ASSERT_STRING_EQUAL(a, b);

    char e1[37], e2[37], e3[37];
    koers_pseudo_event_id(&k1, "src", "contact", "7", 1, e1);
    koers_pseudo_event_id(&k1, "src", "contact", "7", 1, e2);
    koers_pseudo_event_id(&k2, "src", "contact", "7", 1, e3);
    CU_ASSERT_STRING_EQUAL(e1, e2);
    CU_ASSERT_STRING_NOT_EQUAL(e1, e3);
    /* The NUL separators keep ("ab","c") and ("a","bc") apart. */
    koers_pseudo_event_id(&k1, "srca", "contact", "7", 1, e2);
    koers_pseudo_event_id(&k1, "src", "acontact", "7", 1, e3);
    CU_ASSERT_STRING_NOT_EQUAL(e2, e3);
}

static void test_pseudo_uuid_bits(void)
{
    koers_key_t k = pseudo_make_key(KEY1);
    int ok = 1;
    for (int i = 0; i < 2000 && ok; i++) {
        char rec[16], out[37];
        int n = snprintf(rec, sizeof rec, "r%d", i);
        koers_pseudo_event_id(&k, "src", "goal_change", rec, (size_t)n, out);
        ok = strlen(out) == 36 && out[8] == '-' && out[13] == '-' && out[18] == '-' &&
             out[23] == '-' && out[14] == '8' && strchr("89ab", out[19]) != NULL;
        for (int j = 0; j < 36 && ok; j++)
            if (j != 8 && j != 13 && j != 18 && j != 23)
                ok = strchr("0123456789abcdef", out[j]) != NULL && out[j] != '\0';
        if (!ok)
            fprintf(stderr, "\nbad event id %s\n", out);
    }
    CU_ASSERT(ok);
}

/* Writes bytes to a new file in tmpdir with mode; returns its path (static buffer). */
static const char *pseudo_write_file(const char *bytes, size_t len, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/keyXXXXXX", tmpdir);
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, bytes, len) == (ssize_t)len);
    CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
    close(fd);
    return path;
}

static void test_pseudo_load_key_good(void)
{
    const struct {
        const char *bytes;
        size_t keylen; /* expected key length */
    } cases[] = {
        {KEY1, 32},
        {KEY1 "\n", 32},
        {KEY1 "\r\n", 32},
        {KEY1 "\n\n", 33}, /* only one newline is taken off */
        {KEY2 "\n", 34},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = pseudo_write_file(cases[i].bytes, strlen(cases[i].bytes), 0600);
        koers_key_t k;
        char err[256] = "";
        CU_ASSERT_EQUAL(koers_pseudo_load_key(path, &k, err, sizeof err), 0);
        CU_ASSERT_EQUAL(k.len, cases[i].keylen);
        CU_ASSERT(memcmp(k.bytes, cases[i].bytes, k.len) == 0);
        unlink(path);
    }

    /* The loaded key gives the same pseudonym as the Python reference above. */
    const char *path = pseudo_write_file(KEY1 "\n", 33, 0400);
    koers_key_t k;
    char err[256], out[65];
    CU_ASSERT_EQUAL_FATAL(koers_pseudo_load_key(path, &k, err, sizeof err), 0);
    koers_pseudo_participant(&k, "C-1001", 6, out);
    CU_ASSERT_STRING_EQUAL(out, "3856367dcfda7833b0dae756a54dd77b869ec76fdba9204a2c99dcc5fb9767d6");
    unlink(path);

    /* Exactly KOERS_KEY_MAX bytes, with and without CRLF. */
    char big[KOERS_KEY_MAX + 2];
    memset(big, 'k', sizeof big);
    big[KOERS_KEY_MAX] = '\r';
    big[KOERS_KEY_MAX + 1] = '\n';
    path = pseudo_write_file(big, sizeof big, 0600);
    CU_ASSERT_EQUAL(koers_pseudo_load_key(path, &k, err, sizeof err), 0);
    CU_ASSERT_EQUAL(k.len, KOERS_KEY_MAX);
    unlink(path);
    path = pseudo_write_file(big, KOERS_KEY_MAX, 0600);
    CU_ASSERT_EQUAL(koers_pseudo_load_key(path, &k, err, sizeof err), 0);
    CU_ASSERT_EQUAL(k.len, KOERS_KEY_MAX);
    unlink(path);
}

static void test_pseudo_load_key_refused(void)
{
    char big[KOERS_KEY_MAX + 10];
    memset(big, 'k', sizeof big);
    big[KOERS_KEY_MAX + 1] = '\n'; /* 257 key bytes then a newline */
    const struct {
        const char *bytes;
        size_t len;
        mode_t mode;
        const char *reason; /* after "path: " */
    } cases[] = {
        {KEY1 "\n", 33, 0644, "readable by group or others (mode 0644); chmod 600 it"},
        {KEY1 "\n", 33, 0604, "readable by group or others (mode 0604); chmod 600 it"},
        {KEY1 "\n", 33, 0620, "accessible by group or others (mode 0620); chmod 600 it"},
        {KEY1 "\n", 33, 0601, "accessible by group or others (mode 0601); chmod 600 it"},
        {"short-key-31-bytes-long-xxxxxxx\n", 32, 0600, "key is 31 bytes, at least 32 needed"},
        {"short-key-31-bytes-long-xxxxxxx\r\n", 33, 0600, "key is 31 bytes, at least 32 needed"},
        {"", 0, 0600, "key is 0 bytes, at least 32 needed"},
        {"\n", 1, 0600, "key is 0 bytes, at least 32 needed"},
        {big, KOERS_KEY_MAX + 1, 0600, "key is longer than 256 bytes"},
        {big, KOERS_KEY_MAX + 2, 0600, "key is longer than 256 bytes"},
        {big, KOERS_KEY_MAX + 3, 0600, "key is longer than 256 bytes"},
        {big, sizeof big, 0600, "key is longer than 256 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = pseudo_write_file(cases[i].bytes, cases[i].len, cases[i].mode);
        koers_key_t k;
        char err[256] = "", want[256];
        snprintf(want, sizeof want, "%s: %s", path, cases[i].reason);
        CU_ASSERT_EQUAL(koers_pseudo_load_key(path, &k, err, sizeof err), -1);
        CU_ASSERT_STRING_EQUAL(err, want);
        CU_ASSERT_EQUAL(k.len, 0);
        if (strcmp(err, want) != 0)
            fprintf(stderr, "\ncase %zu:\n got: %s\nwant: %s\n", i, err, want);
        unlink(path);
    }

    koers_key_t k;
    char err[256], want[256];
    CU_ASSERT_EQUAL(koers_pseudo_load_key(tmpdir, &k, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: not a regular file", tmpdir);
    CU_ASSERT_STRING_EQUAL(err, want);

    char path[160];
    snprintf(path, sizeof path, "%s/missing", tmpdir);
    CU_ASSERT_EQUAL(koers_pseudo_load_key(path, &k, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    CU_ASSERT_STRING_EQUAL(err, want);

    /* A FIFO with no writer must be refused, not waited on. */
    snprintf(path, sizeof path, "%s/fifo", tmpdir);
    CU_ASSERT_FATAL(mkfifo(path, 0600) == 0);
    CU_ASSERT_EQUAL(koers_pseudo_load_key(path, &k, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: not a regular file", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);
}

static int pseudo_init(void)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int pseudo_clean(void)
{
    return rmdir(tmpdir);
}

static const unit_test_t pseudo_tests[] = {
    {"participant pseudonyms (Python reference)", test_pseudo_participant_known},
    {"event ids (Python reference)", test_pseudo_event_id_known},
    {"stable and key-dependent", test_pseudo_stable_and_keyed},
    {"UUID version and variant bits", test_pseudo_uuid_bits},
    {"key files accepted", test_pseudo_load_key_good},
    {"key files refused", test_pseudo_load_key_refused},
};

int main(void)
{
    const unit_suite_t suite = {"pseudo", pseudo_init, pseudo_clean, UNIT_TESTS(pseudo_tests)};
    return unit_main(&suite);
}
