/* Unit tests for time parsing and formatting, against values computed with Python. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>


#include "koers/timeutil.h"
#include "harness.h"

/* Expected ms from Python, e.g. for a date in Europe/Amsterdam:
 *   (datetime.fromisoformat(s).replace(tzinfo=ZoneInfo("Europe/Amsterdam"))
 *    - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)
 * and for a date-time with an offset:
 *   (datetime.fromisoformat(s.replace("Z", "+00:00"))
 *    - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1) */
static const struct {
    const char *in;
    int64_t want;
} time_valid[] = {
    {"2024-01-15", 1705273200000},  /* winter: local midnight is 23:00Z */
    {"2024-07-15", 1720994400000},  /* summer: local midnight is 22:00Z */
    {"2024-03-31", 1711839600000},  /* clocks go forward at 02:00; midnight still CET */
    {"2024-10-27", 1729980000000},  /* clocks go back at 03:00; midnight still CEST */
    {"2024-02-29", 1709161200000},
    {"1970-01-01", -3600000},
    {"2024-01-15T10:30:00Z", 1705314600000},
    {"2024-01-15T10:30Z", 1705314600000},
    {"2024-01-15 10:30:00Z", 1705314600000},
    {"2024-07-15T10:30:00+02:00", 1721032200000},
    {"2024-07-15T10:30:00-05:30", 1721059200000},
    {"2024-01-15T10:30:00.5Z", 1705314600500},
    {"2024-01-15T10:30:00.123456789Z", 1705314600123},
    {"2024-01-15 10:30:00.12+01:00", 1705311000120},
    {"1969-12-31T23:59:59.999Z", -1},
    {"0001-01-01T00:00:00Z", -62135596800000},
    {"9999-12-31T23:59:59.999Z", 253402300799999},
    {"2000-02-29T12:00:00+0530", 951805800000},
    {"2000-02-29T12:00:00+05", 951807600000},
    {"2024-12-31T23:59:59-00:00", 1735689599000},
};

static const struct {
    const char *in;
    const char *err;
} time_invalid[] = {
    {"", "invalid time \"\": empty"},
    {"2023-02-29", "invalid time \"2023-02-29\": day 29 out of range for 2023-02"},
    {"1900-02-29", "invalid time \"1900-02-29\": day 29 out of range for 1900-02"},
    {"2024-04-31", "invalid time \"2024-04-31\": day 31 out of range for 2024-04"},
    {"2024-01-00", "invalid time \"2024-01-00\": day 00 out of range for 2024-01"},
    {"2024-13-01", "invalid time \"2024-13-01\": month 13 out of range"},
    {"2024-00-01", "invalid time \"2024-00-01\": month 00 out of range"},
    {"0000-01-01", "invalid time \"0000-01-01\": year 0000 is out of range"},
    {"2024-1-15", "invalid time \"2024-1-15\": expected YYYY-MM-DD"},
    {"24-01-15", "invalid time \"24-01-15\": expected YYYY-MM-DD"},
    {" 2024-01-15", "invalid time \" 2024-01-15\": expected YYYY-MM-DD"},
    {"2024/01/15", "invalid time \"2024/01/15\": expected YYYY-MM-DD"},
    {"2024-01-15x", "invalid time \"2024-01-15x\": expected 'T' or end after the date"},
    {"2024-01-15t10:30Z",
     "invalid time \"2024-01-15t10:30Z\": expected 'T' or end after the date"},
    {"2024-01-15T25:00Z", "invalid time \"2024-01-15T25:00Z\": hour 25 out of range"},
    {"2024-01-15T24:00Z", "invalid time \"2024-01-15T24:00Z\": hour 24 out of range"},
    {"2024-01-15T10:60Z", "invalid time \"2024-01-15T10:60Z\": minute 60 out of range"},
    {"2024-01-15T10:30:60Z", "invalid time \"2024-01-15T10:30:60Z\": second 60 out of range"},
    {"2024-01-15T1:30Z", "invalid time \"2024-01-15T1:30Z\": expected HH:MM after the date"},
    {"2024-01-15T10:3Z", "invalid time \"2024-01-15T10:3Z\": expected HH:MM after the date"},
    {"2024-01-15T", "invalid time \"2024-01-15T\": expected HH:MM after the date"},
    {"2024-01-15T10:30:0Z",
     "invalid time \"2024-01-15T10:30:0Z\": expected two digits of seconds"},
    {"2024-01-15T10:30", "invalid time \"2024-01-15T10:30\": missing Z or UTC offset"},
    {"2024-01-15T10:30:00", "invalid time \"2024-01-15T10:30:00\": missing Z or UTC offset"},
    {"2024-01-15T10:30.5Z", "invalid time \"2024-01-15T10:30.5Z\": missing Z or UTC offset"},
    {"2024-01-15T10:30:00.Z",
     "invalid time \"2024-01-15T10:30:00.Z\": fraction needs 1 to 9 digits"},
    {"2024-01-15T10:30:00.1234567890Z",
     "invalid time \"2024-01-15T10:30:00.1234567890Z\": fraction needs 1 to 9 digits"},
    {"2024-01-15T10:30:00Zjunk",
     "invalid time \"2024-01-15T10:30:00Zjunk\": unexpected characters after the time"},
    {"2024-01-15T10:30:00Z ",
     "invalid time \"2024-01-15T10:30:00Z \": unexpected characters after the time"},
    {"2024-01-15T10:30:00+01:00:00",
     "invalid time \"2024-01-15T10:30:00+01:00:00\": unexpected characters after the time"},
    {"2024-01-15T10:30:00+1",
     "invalid time \"2024-01-15T10:30:00+1\": UTC offset must be +HH:MM, +HHMM or +HH"},
    {"2024-01-15T10:30:00+01:0",
     "invalid time \"2024-01-15T10:30:00+01:0\": UTC offset must be +HH:MM, +HHMM or +HH"},
    {"2024-01-15T10:30:00+24:00",
     "invalid time \"2024-01-15T10:30:00+24:00\": UTC offset out of range"},
    {"2024-01-15T10:30:00+01:60",
     "invalid time \"2024-01-15T10:30:00+01:60\": UTC offset out of range"},
    {"2024-01-15T10:30:00z", "invalid time \"2024-01-15T10:30:00z\": missing Z or UTC offset"},
    {"2024-01-15\n", "invalid time \"2024-01-15?\": expected 'T' or end after the date"},
    {"2024-01-15T10:30:00Z and a very long tail of junk after it",
     /* the input is cut after 44 bytes */
     "invalid time \"2024-01-15T10:30:00Z and a very long tail of...\": "
     "unexpected characters after the time"},
};

static void test_time_parse_valid(void)
{
    for (size_t i = 0; i < sizeof time_valid / sizeof time_valid[0]; i++) {
        int64_t ms = 42;
        char err[256] = "";
        int rc = koers_time_parse(time_valid[i].in, strlen(time_valid[i].in), &ms, err, sizeof err);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(ms, time_valid[i].want);
        if (rc != 0 || ms != time_valid[i].want)
            fprintf(stderr, "\n%s: rc %d ms %lld (%s), want %lld\n", time_valid[i].in, rc,
                    (long long)ms, err, (long long)time_valid[i].want);
    }
}

static void test_time_parse_invalid(void)
{
    for (size_t i = 0; i < sizeof time_invalid / sizeof time_invalid[0]; i++) {
        int64_t ms = 42;
        char err[256] = "";
        int rc = koers_time_parse(time_invalid[i].in, strlen(time_invalid[i].in), &ms, err,
                                  sizeof err);
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_STRING_EQUAL(err, time_invalid[i].err);
        if (rc != -1 || strcmp(err, time_invalid[i].err) != 0)
            fprintf(stderr, "\n%s:\n got: %s\nwant: %s\n", time_invalid[i].in, err,
                    time_invalid[i].err);
    }
}

/* The input is (s, len), not a C string: nothing past len is looked at. */
static void test_time_parse_length_bounded(void)
{
    int64_t ms;
    char err[128];
    CU_ASSERT_EQUAL(koers_time_parse("2024-01-15T10:30:00ZXYZ", 20, &ms, err, sizeof err), 0);
    CU_ASSERT_EQUAL(ms, 1705314600000);
    CU_ASSERT_EQUAL(koers_time_parse("2024-01-15T10:30", 10, &ms, err, sizeof err), 0);
    CU_ASSERT_EQUAL(ms, 1705273200000);
    CU_ASSERT_EQUAL(koers_time_parse("2024-01-15", 9, &ms, err, sizeof err), -1);
}

static void test_time_zone(void)
{
    char err[256];
    int64_t ms;

    /* (datetime(2024, 1, 15, tzinfo=timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc))
     *   // timedelta(milliseconds=1) */
    CU_ASSERT_EQUAL_FATAL(koers_time_set_zone("UTC", err, sizeof err), 0);
    CU_ASSERT_EQUAL(koers_time_parse("2024-01-15", 10, &ms, err, sizeof err), 0);
    CU_ASSERT_EQUAL(ms, 1705276800000);
    CU_ASSERT_EQUAL_FATAL(koers_time_set_zone(KOERS_DEFAULT_TIME_ZONE, err, sizeof err), 0);
    CU_ASSERT_EQUAL(koers_time_parse("2024-01-15", 10, &ms, err, sizeof err), 0);
    CU_ASSERT_EQUAL(ms, 1705273200000);

    const struct {
        const char *zone, *err;
    } bad[] = {
        {"Mars/Olympus_Mons",
         "unknown time zone \"Mars/Olympus_Mons\" (not in /usr/share/zoneinfo/)"},
        {"Europe", "unknown time zone \"Europe\" (not in /usr/share/zoneinfo/)"},
        {"../../../etc/passwd", "invalid time zone name \"../../../etc/passwd\""},
        {"Europe/../UTC", "invalid time zone name \"Europe/../UTC\""},
        {"/etc/localtime", "invalid time zone name \"/etc/localtime\""},
        {"", "invalid time zone name \"\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(koers_time_set_zone(bad[i].zone, err, sizeof err), -1);
        CU_ASSERT_STRING_EQUAL(err, bad[i].err);
    }
    /* A refused zone leaves the one in force alone. */
    CU_ASSERT_EQUAL(koers_time_parse("2024-07-15", 10, &ms, err, sizeof err), 0);
    CU_ASSERT_EQUAL(ms, 1720994400000);
}

/* Expected text from Python (years below 1000 padded by hand):
 *   (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms))
 *     .strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (microsecond // 1000) */
static const struct {
    int64_t ms;
    const char *want;
} time_formatted[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {-1000, "1969-12-31T23:59:59.000Z"},
    {-1001, "1969-12-31T23:59:58.999Z"},
    {-86400000, "1969-12-31T00:00:00.000Z"},
    {1705314600123, "2024-01-15T10:30:00.123Z"},
    {951782400000, "2000-02-29T00:00:00.000Z"},
    {1709164800000, "2024-02-29T00:00:00.000Z"},
    {253402300799999, "9999-12-31T23:59:59.999Z"},
    {-62135596800000, "0001-01-01T00:00:00.000Z"},
};

static void test_time_format(void)
{
    for (size_t i = 0; i < sizeof time_formatted / sizeof time_formatted[0]; i++) {
        char out[32];
        int64_t back = 0;
        char err[128];
        koers_time_format(time_formatted[i].ms, out, sizeof out);
        CU_ASSERT_STRING_EQUAL(out, time_formatted[i].want);
        /* and back again */
        CU_ASSERT_EQUAL(koers_time_parse(out, strlen(out), &back, err, sizeof err), 0);
        CU_ASSERT_EQUAL(back, time_formatted[i].ms);
    }

    /* Every valid input formats to a text that parses to the same instant. */
    for (size_t i = 0; i < sizeof time_valid / sizeof time_valid[0]; i++) {
        char out[32], err[128];
        int64_t back = 0;
        koers_time_format(time_valid[i].want, out, sizeof out);
        CU_ASSERT_EQUAL(koers_time_parse(out, strlen(out), &back, err, sizeof err), 0);
        CU_ASSERT_EQUAL(back, time_valid[i].want);
    }

    /* The extremes do not overflow and fit the documented 32 bytes. */
    char out[32];
    koers_time_format(INT64_MAX, out, sizeof out);
    CU_ASSERT(strlen(out) < 32 && out[strlen(out) - 1] == 'Z');
    koers_time_format(INT64_MIN, out, sizeof out);
    CU_ASSERT(strlen(out) < 32 && out[strlen(out) - 1] == 'Z');
}

/* Day-first dates with KOERS_DATE_DMY: local times in Europe/Amsterdam; expected ms from
 *   datetime(y, m, d, H, M, S, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp() * 1000 */
static const struct {
    const char *in;
    int64_t want;
} time_dmy_valid[] = {
    {"14-03-2025", 1741906800000},
    {"14-3-2025", 1741906800000},
    {"14/03/2025", 1741906800000},
    {"14.03.2025", 1741906800000},
    {"14-03-2025 10:30", 1741944600000},
    {"4-3-2025 9:05", 1741075500000},
    {"04-03-2025 09:05:00", 1741075500000},
    {"15-07-2024 23:59:59", 1721080799000}, /* summer time */
    {"29-02-2024", 1709161200000},
    {"30-03-2025 12:00", 1743328800000}, /* the day clocks go forward, after the change */
    /* ISO values keep their meaning in either order. */
    {"2025-03-14", 1741906800000},
    {"2024-01-15T10:30:00Z", 1705314600000},
};

static const struct {
    const char *in;
    const char *err;
} time_dmy_invalid[] = {
    {"31-04-2025", "invalid time \"31-04-2025\": day 31 out of range for 2025-04"},
    {"29-02-2025", "invalid time \"29-02-2025\": day 29 out of range for 2025-02"},
    {"14-13-2025", "invalid time \"14-13-2025\": month 13 out of range"},
    {"14-03-25", "invalid time \"14-03-25\": expected YYYY-MM-DD or D-M-YYYY, with H:MM[:SS] "
                 "after a space"},
    {"14-03/2025", "invalid time \"14-03/2025\": expected YYYY-MM-DD or D-M-YYYY, with "
                   "H:MM[:SS] after a space"},
    {"114-03-2025", "invalid time \"114-03-2025\": expected YYYY-MM-DD or D-M-YYYY, with "
                    "H:MM[:SS] after a space"},
    {"14-03-2025T10:30", "invalid time \"14-03-2025T10:30\": expected YYYY-MM-DD or D-M-YYYY, "
                         "with H:MM[:SS] after a space"},
    {"14-03-2025 10:30Z", "invalid time \"14-03-2025 10:30Z\": unexpected characters after "
                          "the time (a day-first time is local, without an offset)"},
    {"14-03-2025 24:00", "invalid time \"14-03-2025 24:00\": hour 24 out of range"},
    {"14-03-2025 10:60", "invalid time \"14-03-2025 10:60\": minute 60 out of range"},
    {"14-03-2025 10:3", "invalid time \"14-03-2025 10:3\": expected YYYY-MM-DD or D-M-YYYY, "
                        "with H:MM[:SS] after a space"},
    {"03-14-2025", "invalid time \"03-14-2025\": month 14 out of range"}, /* month first */
};

static void test_time_parse_dmy(void)
{
    char err[256];
    CU_ASSERT_EQUAL_FATAL(koers_time_set_zone(KOERS_DEFAULT_TIME_ZONE, err, sizeof err), 0);
    for (size_t i = 0; i < sizeof time_dmy_valid / sizeof time_dmy_valid[0]; i++) {
        int64_t ms = 42;
        err[0] = '\0';
        int rc = koers_time_parse_order(time_dmy_valid[i].in, strlen(time_dmy_valid[i].in),
                                        KOERS_DATE_DMY, &ms, err, sizeof err);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(ms, time_dmy_valid[i].want);
        if (rc != 0 || ms != time_dmy_valid[i].want)
            fprintf(stderr, "\n%s: rc %d ms %lld (%s), want %lld\n", time_dmy_valid[i].in, rc,
                    (long long)ms, err, (long long)time_dmy_valid[i].want);
    }
    for (size_t i = 0; i < sizeof time_dmy_invalid / sizeof time_dmy_invalid[0]; i++) {
        int64_t ms = 42;
        err[0] = '\0';
        int rc = koers_time_parse_order(time_dmy_invalid[i].in, strlen(time_dmy_invalid[i].in),
                                        KOERS_DATE_DMY, &ms, err, sizeof err);
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_STRING_EQUAL(err, time_dmy_invalid[i].err);
        if (rc != -1 || strcmp(err, time_dmy_invalid[i].err) != 0)
            fprintf(stderr, "\n%s:\n got: %s\nwant: %s\n", time_dmy_invalid[i].in, err,
                    time_dmy_invalid[i].err);
    }
    /* Never guessed: without the order a day-first date is refused, as before. */
    int64_t ms;
    CU_ASSERT_EQUAL(koers_time_parse_order("14-03-2025", 10, KOERS_DATE_ISO, &ms, err, sizeof err),
                    -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid time \"14-03-2025\": expected YYYY-MM-DD");
}

static void test_time_now(void)
{
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t now = koers_time_now_ms();
    int64_t after = ((int64_t)time(NULL) + 1) * 1000;
    CU_ASSERT(now >= before && now <= after);
}

static int time_init(void)
{
    char err[256];
    if (koers_time_set_zone(KOERS_DEFAULT_TIME_ZONE, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "test_time: %s\n", err);
    return -1;
}

static const unit_test_t time_tests[] = {
    {"valid forms", test_time_parse_valid},
    {"invalid forms and their errors", test_time_parse_invalid},
    {"length-bounded input", test_time_parse_length_bounded},
    {"time zone", test_time_zone},
    {"formatting and round trip", test_time_format},
    {"day-first dates", test_time_parse_dmy},
    {"clock", test_time_now},
};

int main(void)
{
    const unit_suite_t suite = {"time", time_init, NULL, UNIT_TESTS(time_tests)};
    return unit_main(&suite);
}
