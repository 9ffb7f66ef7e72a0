/* Catalogue tests: the string rules, including the refusal of identifier-shaped values, the
 * crisis rows' rule on days and episode_ref, and coverage statements (no participant, dates,
 * covered_to on or after covered_from). */
#include <stdio.h>
#include <string.h>

#include "koers/catalog.h"
#include "koers/event.h"
#include "harness.h"

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

static const koers_field_t *crisis_field(const char *name)
{
    const koers_type_t *t = &koers_types[KOERS_CRISIS];
    int i = koers_field_find(t, name, strlen(name));
    CU_ASSERT_FATAL(i >= 0);
    return &t->fields[i];
}

/* episode_ref is a free key like goal_ref: the same characters, length and refusal of
 * identifier shapes. */
static void test_episode_ref_rules(void)
{
    static const string_case_t cases[] = {
        {"adm-2024-17", NULL},
        {"E12_3", NULL},
        {"Opname-ABC", NULL},
        {"1234567890123456789012345678901234567890123456789012345678901234", NULL},
        {"12345678901234567890123456789012345678901234567890123456789012345",
         "episode_ref: length 65 outside 1..64"},
        {"", "length 0 outside 1..64"},
        {"opname 1", "episode_ref: character 7 is not one of [A-Za-z0-9_-]"},
        {"J.de.Vries", "character 2 is not"},
        {"123456782", "episode_ref: has the shape of a citizen service number"},
        {"06-12345678", "episode_ref: has the shape of a phone number"},
        {"9711AB", "episode_ref: has the shape of a postcode"},
        {"A9711AB", NULL},
    };
    const koers_field_t *f = crisis_field("episode_ref");
    CU_ASSERT_EQUAL(f->kind, KOERS_KIND_STRING);
    CU_ASSERT_EQUAL(f->optional, 1);
    CU_ASSERT_EQUAL(f->upper, goal_ref()->upper);
    check_cases(f, cases, sizeof cases / sizeof cases[0]);
    const koers_field_t *days = crisis_field("days");
    CU_ASSERT_EQUAL(days->kind, KOERS_KIND_INT);
    CU_ASSERT_EQUAL(days->optional, 1);
    CU_ASSERT_EQUAL(days->min, 0);
    CU_ASSERT_EQUAL(days->max, 366);
}

/* A crisis event has days, an episode_ref or both: the rule of the catalogue, applied by
 * koers_event_validate to CSV rows and Kafka messages alike. */
static void test_crisis_days_or_episode_ref(void)
{
    static const struct {
        const char *name;
        int days;          /* -1: absent */
        const char *ref;   /* NULL: absent */
        const char *reason; /* NULL: valid */
    } cases[] = {
        {"old form, a stay", 12, NULL, NULL},
        {"old form, a contact", 0, NULL, NULL},
        {"opening a stay", -1, "adm-7", NULL},
        {"closing a stay", 9, "adm-7", NULL},
        {"closing a same-day stay", 0, "adm-7", NULL},
        {"neither", -1, NULL,
         "days or episode_ref: neither is given; a crisis event needs at least one of them"},
        {"days too large", 367, "adm-7", "days: 367 outside 0..366"},
        {"episode_ref a phone number", -1, "0612345678", "episode_ref: has the shape of a phone"},
    };
    const koers_type_t *t = &koers_types[KOERS_CRISIS];
    int days = koers_field_find(t, "days", 4), ref = koers_field_find(t, "episode_ref", 11);
    CU_ASSERT_FATAL(days >= 0 && ref >= 0);
    CU_ASSERT_EQUAL(t->need_any, 1u << days | 1u << ref);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        koers_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.type = KOERS_CRISIS;
        snprintf(ev.event_id, sizeof ev.event_id, "0123abcd-0000-8000-8000-000000000002");
        memset(ev.participant, 'c', KOERS_PARTICIPANT_LEN);
        ev.occurred_at = 1704099600000LL;
        ev.recorded_at = 1704186000000LL;
        snprintf(ev.source, sizeof ev.source, "ggz-noord");
        ev.v[0].present = 1;
        ev.v[0].i = 1; /* crisis_admission */
        ev.v[days].present = cases[i].days >= 0;
        ev.v[days].i = cases[i].days;
        ev.v[ref].present = cases[i].ref != NULL;
        snprintf(ev.v[ref].s, sizeof ev.v[ref].s, "%s", cases[i].ref ? cases[i].ref : "");
        char err[256] = "";
        int rc = koers_event_validate(&ev, err, sizeof err);
        int ok = cases[i].reason ? rc == -1 && strstr(err, cases[i].reason) != NULL : rc == 0;
        if (!ok)
            fprintf(stderr, "\n%s: rc %d, error '%s'\n", cases[i].name, rc, err);
        CU_ASSERT(ok);
    }
    /* No other type but status_change has such a rule: their optional fields may all be
     * absent. */
    for (int k = 0; k < KOERS_EVENT_TYPES; k++)
        if (k != KOERS_CRISIS && k != KOERS_STATUS_CHANGE)
            CU_ASSERT_EQUAL(koers_types[k].need_any, 0);
    char small[8];
    CU_ASSERT_EQUAL(koers_type_check_present(t, 0, small, sizeof small), -1);
    CU_ASSERT_EQUAL(strlen(small), sizeof small - 1); /* cut, never overrun */
}

/* Coverage is the one type about a source; it states coverage of every type about a
 * participant but correction, by their catalogue names (one list, checked here). */
static void test_coverage_catalogue(void)
{
    CU_ASSERT_EQUAL(koers_type_find("coverage", 8), KOERS_COVERAGE);
    CU_ASSERT_EQUAL(KOERS_CORRECTION, KOERS_EVENT_TYPES - 1); /* imported last */
    for (int k = 0; k < KOERS_EVENT_TYPES; k++)
        CU_ASSERT_EQUAL(koers_types[k].has_participant, k != KOERS_COVERAGE);
    const koers_type_t *t = &koers_types[KOERS_COVERAGE];
    CU_ASSERT_EQUAL_FATAL(t->nfields, 3);
    const koers_field_t *ct = &t->fields[0];
    CU_ASSERT_STRING_EQUAL(ct->name, "covered_type");
    CU_ASSERT_EQUAL(ct->kind, KOERS_KIND_ENUM);
    int n = 0;
    for (int k = 0; k < KOERS_EVENT_TYPES; k++) {
        if (!koers_types[k].has_participant || k == KOERS_CORRECTION)
            continue;
        CU_ASSERT_FATAL(n < ct->nsymbols);
        CU_ASSERT_STRING_EQUAL(ct->symbols[n], koers_types[k].name);
        n++;
    }
    CU_ASSERT_EQUAL(n, ct->nsymbols);
    CU_ASSERT_STRING_EQUAL(t->fields[1].name, "covered_from");
    CU_ASSERT_EQUAL(t->fields[1].kind, KOERS_KIND_DATE);
    CU_ASSERT_EQUAL(t->fields[1].optional, 0);
    CU_ASSERT_STRING_EQUAL(t->fields[2].name, "covered_to");
    CU_ASSERT_EQUAL(t->fields[2].kind, KOERS_KIND_DATE);
    CU_ASSERT_EQUAL(t->fields[2].optional, 1);
    CU_ASSERT_EQUAL(t->ordered, 1u << 1 | 1u << 2);
    for (int k = 0; k < KOERS_EVENT_TYPES; k++)
        if (k != KOERS_COVERAGE)
            CU_ASSERT_EQUAL(koers_types[k].ordered, 0);
}

/* koers_event_validate on coverage statements: the rules that CSV rows and Kafka messages
 * share. Days since 1970-01-01: 19754 is 2024-02-01, 19753 2024-01-31. */
static void test_coverage_validate(void)
{
    static const struct {
        const char *name;
        int32_t from, to;      /* to INT32_MIN: absent (still delivering) */
        int participant;       /* 1: a participant pseudonym is set */
        const char *reason;    /* NULL: valid */
    } cases[] = {
        {"closed", 19754, 20000, 0, NULL},
        {"open-ended", 19754, INT32_MIN, 0, NULL},
        {"one day", 19754, 19754, 0, NULL},
        {"to before from", 19754, 19753, 0,
         "covered_to: 2024-01-31 is before covered_from 2024-02-01"},
        {"with a participant", 19754, 20000, 1,
         "participant: a coverage event is about a source and has none"},
        {"from before 1900", -25568, INT32_MIN, 0, "covered_from: -25568 outside"},
        {"from on 1900-01-01", -25567, INT32_MIN, 0, NULL},
        {"to after 9999", 19754, 2932897, 0, "covered_to: 2932897 outside"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        koers_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.type = KOERS_COVERAGE;
        snprintf(ev.event_id, sizeof ev.event_id, "0123abcd-0000-8000-8000-000000000007");
        if (cases[i].participant)
            memset(ev.participant, 'c', KOERS_PARTICIPANT_LEN);
        ev.occurred_at = 1704099600000LL;
        ev.recorded_at = 1704186000000LL;
        snprintf(ev.source, sizeof ev.source, "ggz-noord");
        ev.v[0].present = 1;
        ev.v[0].i = 2; /* crisis */
        ev.v[1].present = 1;
        ev.v[1].i = cases[i].from;
        ev.v[2].present = cases[i].to != INT32_MIN;
        ev.v[2].i = cases[i].to;
        char err[256] = "";
        int rc = koers_event_validate(&ev, err, sizeof err);
        int ok = cases[i].reason ? rc == -1 && strstr(err, cases[i].reason) != NULL : rc == 0;
        if (!ok)
            fprintf(stderr, "\n%s: rc %d, error '%s'\n", cases[i].name, rc, err);
        CU_ASSERT(ok);
    }
    /* And a type about a participant still needs its pseudonym. */
    koers_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = KOERS_POLICE_CALL;
    snprintf(ev.event_id, sizeof ev.event_id, "0123abcd-0000-8000-8000-000000000005");
    ev.occurred_at = 1704099600000LL;
    ev.recorded_at = 1704186000000LL;
    snprintf(ev.source, sizeof ev.source, "politie");
    for (int k = 0; k < 3; k++)
        ev.v[k].present = 1;
    char err[256] = "";
    CU_ASSERT_EQUAL(koers_event_validate(&ev, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "participant: not a 64-character"));
}

/* The outcome instruments (issue 14) through koers_event_validate: a ZRM score 1..5, a
 * stressor's kind and change, a status_change naming at least one of its six statuses. */
static void test_instruments_validate(void)
{
    static const struct {
        const char *name;
        koers_event_type_t type;
        int present[6]; /* 1: field i present */
        int value[6];
        const char *reason; /* NULL: valid */
    } cases[] = {
        {"zrm score 1", KOERS_ZRM_SCORE, {1, 1, 1}, {3, 1, 0}, NULL},
        {"zrm score 5", KOERS_ZRM_SCORE, {1, 1, 1}, {13, 5, 2}, NULL},
        {"zrm score 0", KOERS_ZRM_SCORE, {1, 1, 1}, {3, 0, 0}, "score: 0 outside 1..5"},
        {"zrm score 6", KOERS_ZRM_SCORE, {1, 1, 1}, {3, 6, 0}, "score: 6 outside 1..5"},
        {"zrm domain 14", KOERS_ZRM_SCORE, {1, 1, 1}, {14, 3, 0}, "domain"},
        {"zrm without score", KOERS_ZRM_SCORE, {1, 0, 1}, {3, 3, 0}, "score"},
        {"stressor", KOERS_STRESSOR, {1, 1}, {0, 3}, NULL},
        {"stressor change 4", KOERS_STRESSOR, {1, 1}, {0, 4}, "change"},
        {"status: housing only", KOERS_STATUS_CHANGE, {1}, {4}, NULL},
        {"status: eviction only", KOERS_STATUS_CHANGE, {0, 0, 1}, {0, 0, 1}, NULL},
        {"status: all six", KOERS_STATUS_CHANGE, {1, 1, 1, 1, 1, 1}, {0, 1, 0, 3, 2, 3}, NULL},
        {"status: none", KOERS_STATUS_CHANGE, {0}, {0},
         "housing or rent_arrears or eviction or daytime_activity or income_source or "
         "debt_counselling: none is given; a status_change event needs at least one of them"},
        {"status: housing 5", KOERS_STATUS_CHANGE, {1}, {5}, "housing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        koers_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.type = cases[i].type;
        snprintf(ev.event_id, sizeof ev.event_id, "0123abcd-0000-8000-8000-000000000014");
        memset(ev.participant, 'c', KOERS_PARTICIPANT_LEN);
        ev.occurred_at = 1704099600000LL;
        ev.recorded_at = 1704186000000LL;
        snprintf(ev.source, sizeof ev.source, "wijkteam");
        CU_ASSERT_FATAL(koers_types[ev.type].nfields <= 6);
        for (int f = 0; f < koers_types[ev.type].nfields; f++) {
            ev.v[f].present = cases[i].present[f];
            ev.v[f].i = cases[i].value[f];
        }
        char err[256] = "";
        int rc = koers_event_validate(&ev, err, sizeof err);
        int ok = cases[i].reason ? rc == -1 && strstr(err, cases[i].reason) != NULL : rc == 0;
        if (!ok)
            fprintf(stderr, "\n%s: rc %d, error '%s'\n", cases[i].name, rc, err);
        CU_ASSERT(ok);
    }
    CU_ASSERT_EQUAL(koers_type_find("zrm_score", 9), KOERS_ZRM_SCORE);
    CU_ASSERT_EQUAL(koers_type_find("stressor", 8), KOERS_STRESSOR);
    CU_ASSERT_EQUAL(koers_type_find("status_change", 13), KOERS_STATUS_CHANGE);
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

static const unit_test_t catalog_tests[] = {
    {"goal_ref: characters, length, identifier shapes", test_goal_ref_rules},
    {"source: characters, length, identifier shapes", test_source_rules},
    {"episode_ref: characters, length, identifier shapes", test_episode_ref_rules},
    {"crisis: days or episode_ref or both", test_crisis_days_or_episode_ref},
    {"the eleven-test on a sample of numbers", test_eleven_test_sample},
    {"coverage: about a source, its covered types", test_coverage_catalogue},
    {"coverage: dates, covered_to on or after covered_from", test_coverage_validate},
    {"zrm_score, stressor, status_change: values and rules", test_instruments_validate},
};

int main(void)
{
    const unit_suite_t suite = {"catalog", NULL, NULL, UNIT_TESTS(catalog_tests)};
    return unit_main(&suite);
}
