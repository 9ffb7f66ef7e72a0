/* The event catalogue of the domain brief as tables: one place for every name and rule. */
#include "koers/catalog.h"

#include <stdio.h>
#include <string.h>

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define ENUM_FIELD(nm, syms) {nm, KOERS_KIND_ENUM, 0, syms, N(syms), 0, N(syms) - 1, 0}

static const char *const enrolment_change[] = {"enrolled", "paused", "resumed", "exited"};
static const char *const contact_with_role[] = {
    "care_worker", "addiction_worker", "neighbourhood_team", "municipality",
    "experience_expert", "significant_other", "general_practitioner", "housing",
    "police_liaison", "other"};
static const char *const contact_mode[] = {"face_to_face", "home_visit", "outreach",
                                           "phone", "digital", "group"};
static const char *const contact_initiated_by[] = {"participant", "professional", "network"};
static const char *const crisis_kind[] = {"crisis_contact", "crisis_admission",
                                          "emergency_department", "compulsory_care",
                                          "respite_stay", "shelter_night"};
static const char *const goal_change_domain[] = {
    "housing", "daytime_activity", "work", "social_contact", "family", "pet", "leisure",
    "finances", "physical_health", "mental_health", "addiction", "safety_justice",
    "self_care", "other"};
static const char *const goal_change_change[] = {"set", "progress", "setback", "achieved",
                                                 "revised", "abandoned", "reopened"};
static const char *const goal_change_set_by[] = {"participant", "participant_with_network",
                                                 "professional"};
static const char *const police_call_kind[] = {"confused_person", "nuisance", "threat_violence",
                                               "welfare_check", "arrest", "victim", "other"};
static const char *const police_call_caller[] = {"participant", "family", "neighbour",
                                                 "professional", "public", "police"};
static const char *const police_call_outcome[] = {"none", "advice", "referred_to_care",
                                                  "taken_to_crisis_service", "custody", "other"};
/* The self-sufficiency matrix (Zelfredzaamheidsmatrix, ZRM 2017): its domains, each scored
 * 1 (acute problems) .. 5 (fully self-reliant); parenting only where it applies. */
static const char *const zrm_score_domain[] = {
    "finances", "work_and_education", "time_use", "housing", "domestic_relations",
    "mental_health", "physical_health", "substance_use", "basic_adl", "instrumental_adl",
    "social_network", "community_participation", "justice", "parenting"};
static const char *const zrm_score_scored_by[] = {"professional", "participant_with_professional",
                                                  "participant"};
static const char *const stressor_kind[] = {
    "debts", "no_income", "no_work_or_daytime_activity", "housing_insecurity",
    "eviction_threat", "conflict_or_violence", "loss", "health", "justice", "other"};
static const char *const stressor_change[] = {"present", "reduced", "resolved", "returned"};
static const char *const status_change_housing[] = {"homeless", "shelter", "supported_housing",
                                                    "with_others", "independent"};
static const char *const status_change_eviction[] = {"notice", "evicted"};
static const char *const status_change_daytime_activity[] = {
    "none", "daytime_activity", "volunteer_work", "paid_work", "education"};
static const char *const status_change_income_source[] = {"none", "wages", "benefits", "pension",
                                                          "student_finance", "other"};
static const char *const status_change_debt_counselling[] = {"none", "waiting", "active",
                                                             "settled"};
static const char *const coverage_covered_type[] = {"enrolment", "contact", "crisis",
                                                    "goal_change", "police_call", "zrm_score",
                                                    "stressor", "status_change"};
static const char *const correction_action[] = {"void"};

static const koers_field_t enrolment_fields[] = {
    ENUM_FIELD("change", enrolment_change),
    {"cohort", KOERS_KIND_STRING, 0, NULL, 0, 1, 32, 0},
};
static const koers_field_t contact_fields[] = {
    ENUM_FIELD("with_role", contact_with_role),
    ENUM_FIELD("mode", contact_mode),
    ENUM_FIELD("initiated_by", contact_initiated_by),
    {"duration_min", KOERS_KIND_INT, 0, NULL, 0, 0, 1440, 0},
    {"planned", KOERS_KIND_BOOL, 0, NULL, 0, 0, 1, 0},
};
/* A stay may be reported open at admission (episode_ref, no days) and closed at discharge
 * by a record with the same episode_ref and its days; the old form has days only. */
enum { CRISIS_KIND, CRISIS_DAYS, CRISIS_EPISODE_REF };
static const koers_field_t crisis_fields[] = {
    [CRISIS_KIND] = ENUM_FIELD("kind", crisis_kind),
    [CRISIS_DAYS] = {"days", KOERS_KIND_INT, 1, NULL, 0, 0, 366, 0},
    [CRISIS_EPISODE_REF] = {"episode_ref", KOERS_KIND_STRING, 1, NULL, 0, 1, 64, 1},
};
static const koers_field_t goal_change_fields[] = {
    {"goal_ref", KOERS_KIND_STRING, 0, NULL, 0, 1, 64, 1},
    ENUM_FIELD("domain", goal_change_domain),
    ENUM_FIELD("change", goal_change_change),
    ENUM_FIELD("set_by", goal_change_set_by),
    {"gas", KOERS_KIND_INT, 1, NULL, 0, -2, 2, 0},
    {"weight", KOERS_KIND_INT, 1, NULL, 0, 1, 10, 0},
};
static const koers_field_t police_call_fields[] = {
    ENUM_FIELD("kind", police_call_kind),
    ENUM_FIELD("caller", police_call_caller),
    ENUM_FIELD("outcome", police_call_outcome),
};
static const koers_field_t zrm_score_fields[] = {
    ENUM_FIELD("domain", zrm_score_domain),
    {"score", KOERS_KIND_INT, 0, NULL, 0, 1, 5, 0},
    ENUM_FIELD("scored_by", zrm_score_scored_by),
};
static const koers_field_t stressor_fields[] = {
    ENUM_FIELD("kind", stressor_kind),
    ENUM_FIELD("change", stressor_change),
};
/* A status_change reports the statuses that changed (or were assessed) on a day: each is
 * optional, and a row names at least one. */
#define OPT_ENUM_FIELD(nm, syms) {nm, KOERS_KIND_ENUM, 1, syms, N(syms), 0, N(syms) - 1, 0}
static const koers_field_t status_change_fields[] = {
    OPT_ENUM_FIELD("housing", status_change_housing),
    {"rent_arrears", KOERS_KIND_BOOL, 1, NULL, 0, 0, 1, 0},
    OPT_ENUM_FIELD("eviction", status_change_eviction),
    OPT_ENUM_FIELD("daytime_activity", status_change_daytime_activity),
    OPT_ENUM_FIELD("income_source", status_change_income_source),
    OPT_ENUM_FIELD("debt_counselling", status_change_debt_counselling),
};
/* A source states per event type the days its data covers, covered_to included; an open
 * statement (no covered_to) covers every day since covered_from. Dates from 1900-01-01 to
 * 9999-12-31, as days since 1970-01-01. */
enum { COVERAGE_COVERED_TYPE, COVERAGE_COVERED_FROM, COVERAGE_COVERED_TO };
#define COVERAGE_DAY_MIN (-25567)   /* 1900-01-01 */
#define COVERAGE_DAY_MAX 2932896    /* 9999-12-31 */
static const koers_field_t coverage_fields[] = {
    [COVERAGE_COVERED_TYPE] = ENUM_FIELD("covered_type", coverage_covered_type),
    [COVERAGE_COVERED_FROM] = {"covered_from", KOERS_KIND_DATE, 0, NULL, 0, COVERAGE_DAY_MIN,
                               COVERAGE_DAY_MAX, 0},
    [COVERAGE_COVERED_TO] = {"covered_to", KOERS_KIND_DATE, 1, NULL, 0, COVERAGE_DAY_MIN,
                             COVERAGE_DAY_MAX, 0},
};
static const koers_field_t correction_fields[] = {
    {"target_event_id", KOERS_KIND_UUID, 0, NULL, 0, 36, 36, 0},
    ENUM_FIELD("action", correction_action),
};

/* name, fields, nfields, need_any, ordered, has_participant */
const koers_type_t koers_types[KOERS_EVENT_TYPES] = {
    [KOERS_ENROLMENT] = {"enrolment", enrolment_fields, N(enrolment_fields), 0, 0, 1},
    [KOERS_CONTACT] = {"contact", contact_fields, N(contact_fields), 0, 0, 1},
    [KOERS_CRISIS] = {"crisis", crisis_fields, N(crisis_fields),
                      1u << CRISIS_DAYS | 1u << CRISIS_EPISODE_REF, 0, 1},
    [KOERS_GOAL_CHANGE] = {"goal_change", goal_change_fields, N(goal_change_fields), 0, 0, 1},
    [KOERS_POLICE_CALL] = {"police_call", police_call_fields, N(police_call_fields), 0, 0, 1},
    [KOERS_ZRM_SCORE] = {"zrm_score", zrm_score_fields, N(zrm_score_fields), 0, 0, 1},
    [KOERS_STRESSOR] = {"stressor", stressor_fields, N(stressor_fields), 0, 0, 1},
    [KOERS_STATUS_CHANGE] = {"status_change", status_change_fields, N(status_change_fields),
                             (1u << N(status_change_fields)) - 1, 0, 1},
    [KOERS_COVERAGE] = {"coverage", coverage_fields, N(coverage_fields), 0,
                        1u << COVERAGE_COVERED_FROM | 1u << COVERAGE_COVERED_TO, 0},
    [KOERS_CORRECTION] = {"correction", correction_fields, N(correction_fields), 0, 0, 1},
};

const koers_field_t koers_source_field = {"source", KOERS_KIND_STRING, 0, NULL, 0, 1, 32, 0};

static int catalog_equals(const char *name, const char *s, size_t len)
{
    return strlen(name) == len && memcmp(name, s, len) == 0;
}

int koers_type_find(const char *name, size_t len)
{
    for (int t = 0; t < KOERS_EVENT_TYPES; t++)
        if (catalog_equals(koers_types[t].name, name, len))
            return t;
    return -1;
}

int koers_field_find(const koers_type_t *t, const char *name, size_t len)
{
    for (int i = 0; i < t->nfields; i++)
        if (catalog_equals(t->fields[i].name, name, len))
            return i;
    return -1;
}

int koers_enum_find(const koers_field_t *f, const char *sym, size_t len)
{
    for (int i = 0; i < f->nsymbols; i++)
        if (catalog_equals(f->symbols[i], sym, len))
            return i;
    return -1;
}

int koers_type_check_present(const koers_type_t *t, uint32_t present, char *errstr,
                             size_t errlen)
{
    if (!t->need_any || (present & t->need_any))
        return 0;
    /* "days or episode_ref: ...": the names come from the table, so a rule over other
     * fields reads right without a message of its own. */
    size_t used = 0;
    if (errlen)
        errstr[0] = '\0';
    for (int i = 0; i < t->nfields && used < errlen; i++) {
        if (!(t->need_any & 1u << i))
            continue;
        int n = snprintf(errstr + used, errlen - used, "%s%s", used ? " or " : "",
                         t->fields[i].name);
        used += n > 0 ? (size_t)n : 0;
    }
    int named = 0;
    for (int i = 0; i < t->nfields; i++)
        named += (t->need_any >> i) & 1u;
    if (used < errlen)
        snprintf(errstr + used, errlen - used, ": %s is given; a %s event needs at least one of them",
                 named > 2 ? "none" : "neither", t->name);
    return -1;
}

/* Free key columns (goal_ref, episode_ref, cohort, source) must not carry a direct
 * identifier. Names and addresses hold spaces, dots or commas, which the character rule
 * refuses; what is left without them has a shape, refused here: 8 or 9 digits that pass the
 * BSN eleven-test, a Dutch phone number (0 and 9 digits, 31 and 9, 0031 and 9), or a
 * postcode (4 digits, the first not 0, and 2 letters), hyphens ignored. Returns what it
 * looks like, or NULL. */
static const char *catalog_identifier_shape(const char *s, size_t len)
{
    char d[16];
    size_t n = 0, letters = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '-')
            continue;
        if (n == sizeof d)
            return NULL;
        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) {
            if (n != 4 + letters) /* letters only right after four digits */
                return NULL;
            letters++;
        } else if (s[i] < '0' || s[i] > '9' || letters) {
            return NULL;
        }
        d[n++] = s[i];
    }
    if (letters)
        return n == 6 && letters == 2 && d[0] != '0' ? "a postcode" : NULL;
    if (n == 8 || n == 9) {
        /* Eleven-test: 9*d1 + 8*d2 + ... + 2*d8 - 1*d9, a multiple of 11 (8 digits: a
         * leading zero left out). */
        int sum = 0, w = (int)n;
        for (size_t i = 0; i < n; i++, w--)
            sum += (w == 1 ? -1 : w) * (d[i] - '0');
        if (sum % 11 == 0 && sum != 0)
            return "a citizen service number (BSN)";
    }
    if ((n == 10 && d[0] == '0' && d[1] != '0') || (n == 11 && d[0] == '3' && d[1] == '1') ||
        (n == 13 && memcmp(d, "0031", 4) == 0))
        return "a phone number";
    return NULL;
}

int koers_field_check_string(const koers_field_t *f, const char *s, size_t len, char *errstr,
                             size_t errlen)
{
    if (len < (size_t)f->min || len > (size_t)f->max) {
        snprintf(errstr, errlen, "%s: length %zu outside %d..%d", f->name, len, f->min, f->max);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
            (f->upper && ch >= 'A' && ch <= 'Z'))
            continue;
        snprintf(errstr, errlen, "%s: character %zu is not one of [%s0-9_-]", f->name, i + 1,
                 f->upper ? "A-Za-z" : "a-z");
        return -1;
    }
    const char *shape = catalog_identifier_shape(s, len);
    if (shape) {
        snprintf(errstr, errlen, "%s: has the shape of %s; direct identifiers are refused",
                 f->name, shape);
        return -1;
    }
    return 0;
}

int koers_uuid_check(const char *s, size_t len)
{
    if (len != 36)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return -1;
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return -1;
        }
    }
    return 0;
}
