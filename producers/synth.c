/* koers-produce synth: a realistic synthetic cohort from a seed, through the same path as CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/log.h"
#include "koers/timeutil.h"
#include "produce.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MONTH_DAYS 30.4375
#define SYNTH_TEXT 48
#define SYNTH_EPISODE_SHARE 0.3 /* stays reported open at admission, closed at discharge */

typedef struct {
    uint64_t s;
} synth_rng_t;

/* splitmix64: tiny, fast, and the same on every platform, so a seed means one cohort. */
static uint64_t synth_next(synth_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double synth_unit(synth_rng_t *r)
{
    return (double)(synth_next(r) >> 11) * 0x1.0p-53;
}

static int synth_between(synth_rng_t *r, int lo, int hi)
{
    return lo + (int)(synth_unit(r) * (hi - lo + 1));
}

/* Picks an index by weights (which need not sum to anything in particular). */
static int synth_pick(synth_rng_t *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double x = synth_unit(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* Days until the next event of a Poisson process with the given rate per day. */
static double synth_gap(synth_rng_t *r, double per_day)
{
    return -log(1.0 - synth_unit(r)) / per_day;
}

typedef struct {
    koers_event_type_t type;
    int64_t occurred_at, recorded_at;
    int ncols;
    char text[PRODUCE_MAX_COLS][SYNTH_TEXT];
} synth_event_t;

typedef struct {
    synth_event_t *ev;
    size_t n, cap;
    int counter;
    int participant;
    uint64_t seed;
    synth_rng_t rng;
} synth_person_t;

/* Appends an event; the caller fills its own columns. NULL when out of memory. */
static synth_event_t *synth_add(synth_person_t *p, koers_event_type_t t, int64_t at,
                                const char *source)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        synth_event_t *ev = realloc(p->ev, cap * sizeof *ev);
        if (!ev)
            return NULL;
        p->ev = ev;
        p->cap = cap;
    }
    synth_event_t *e = &p->ev[p->n++];
    memset(e, 0, sizeof *e);
    e->type = t;
    e->occurred_at = at;
    /* Most registrations follow within days; a few arrive months late, as they do. */
    int64_t lag = synth_unit(&p->rng) < 0.04 ? synth_between(&p->rng, 30, 180) * DAY_MS
                                              : synth_between(&p->rng, 1, 72) * HOUR_MS;
    e->recorded_at = at + lag;
    snprintf(e->text[COL_RECORD_ID], SYNTH_TEXT, "s%llu-p%d-%d", (unsigned long long)p->seed,
             p->participant, ++p->counter);
    snprintf(e->text[COL_CLIENT_ID], SYNTH_TEXT, "client-%llu-%d", (unsigned long long)p->seed,
             p->participant);
    koers_time_format(at, e->text[COL_OCCURRED_AT], SYNTH_TEXT);
    snprintf(e->text[COL_SOURCE], SYNTH_TEXT, "%s", source);
    e->ncols = COL_COMMON;
    return e;
}

static void synth_col(synth_event_t *e, const char *s)
{
    snprintf(e->text[e->ncols++], SYNTH_TEXT, "%s", s);
}

static void synth_col_int(synth_event_t *e, int x)
{
    snprintf(e->text[e->ncols++], SYNTH_TEXT, "%d", x);
}

static const char *synth_sym(koers_event_type_t t, int field, int i)
{
    return koers_types[t].fields[field].symbols[i];
}

typedef struct {
    int64_t from, to; /* enrolled from..to */
} synth_span_t;

typedef struct {
    int64_t start, end, enrol;
    synth_span_t spans[3];
    int nspans;
    int64_t exit_at; /* end of the person's story: exit, or the end of the simulation */
    double crisis_rate, police_rate, contact_rate;
} synth_story_t;

static int synth_enrolled(const synth_story_t *s, int64_t at)
{
    for (int i = 0; i < s->nspans; i++)
        if (at >= s->spans[i].from && at < s->spans[i].to)
            return 1;
    return 0;
}

/* How much lower crisis and police use runs during the programme, growing with time. */
static double synth_effect(const synth_story_t *s, int64_t at)
{
    if (at < s->enrol)
        return 1.0;
    double months = (double)(at - s->enrol) / (MONTH_DAYS * DAY_MS);
    return 0.9 - 0.55 * (months > 18 ? 1.0 : months / 18.0);
}

static int synth_enrolment(synth_person_t *p, synth_story_t *s, const char *cohort)
{
    synth_rng_t *r = &p->rng;
    int64_t at = s->enrol;
    s->nspans = 0;
    s->exit_at = s->end;
    const char *changes[4];
    int64_t times[4];
    int n = 0;
    changes[n] = "enrolled";
    times[n++] = at;
    int64_t span_from = at;
    if (synth_unit(r) < 0.2) {
        int64_t pause = at + synth_between(r, 90, 300) * DAY_MS;
        int64_t resume = pause + synth_between(r, 20, 90) * DAY_MS;
        if (resume < s->end) {
            changes[n] = "paused";
            times[n++] = pause;
            changes[n] = "resumed";
            times[n++] = resume;
            s->spans[s->nspans++] = (synth_span_t){span_from, pause};
            span_from = resume;
        }
    }
    if (synth_unit(r) < 0.12) {
        int64_t exit_at = span_from + synth_between(r, 180, 400) * DAY_MS;
        if (exit_at < s->end) {
            changes[n] = "exited";
            times[n++] = exit_at;
            s->exit_at = exit_at;
        }
    }
    s->spans[s->nspans++] = (synth_span_t){span_from, s->exit_at};
    for (int i = 0; i < n; i++) {
        synth_event_t *e = synth_add(p, KOERS_ENROLMENT, times[i], "gemeente");
        if (!e)
            return -1;
        synth_col(e, changes[i]);
        synth_col(e, cohort);
    }
    return 0;
}

static int synth_crisis_and_police(synth_person_t *p, const synth_story_t *s)
{
    static const double crisis_w[] = {40, 12, 20, 3, 10, 15};
    static const int crisis_days[][2] = {{0, 0}, {3, 40}, {0, 0}, {7, 60}, {2, 14}, {1, 10}};
    static const char *const crisis_source[] = {"crisisdienst", "ggz-noord", "ziekenhuis",
                                                "ggz-noord", "ggz-noord", "opvang"};
    static const double police_kind_w[] = {35, 25, 10, 15, 5, 5, 5};
    static const double caller_w[] = {10, 20, 25, 20, 15, 10};
    static const double outcome_w[] = {20, 30, 25, 12, 8, 5};
    synth_rng_t *r = &p->rng;
    int64_t from = s->enrol - 365 * DAY_MS;
    for (double day = synth_gap(r, s->crisis_rate / MONTH_DAYS);; ) {
        int64_t at = from + (int64_t)(day * DAY_MS);
        if (at >= s->exit_at)
            break;
        /* Thinning: keep an event with the programme's effect as probability. */
        if (synth_unit(r) < synth_effect(s, at)) {
            int k = synth_pick(r, crisis_w, 6);
            int days = synth_between(r, crisis_days[k][0], crisis_days[k][1]);
            /* Some sources report a stay open at admission and close it at discharge, the
             * two records linked by their episode_ref; the others report it at discharge. */
            char ref[SYNTH_TEXT] = "";
            if (days > 0 && synth_unit(r) < SYNTH_EPISODE_SHARE) {
                synth_event_t *o = synth_add(p, KOERS_CRISIS, at - days * DAY_MS, crisis_source[k]);
                if (!o)
                    return -1;
                snprintf(ref, sizeof ref, "adm-%d-%d", p->participant, p->counter);
                synth_col(o, synth_sym(KOERS_CRISIS, 0, k));
                synth_col(o, "");
                synth_col(o, ref);
            }
            synth_event_t *e = synth_add(p, KOERS_CRISIS, at, crisis_source[k]);
            if (!e)
                return -1;
            synth_col(e, synth_sym(KOERS_CRISIS, 0, k));
            synth_col_int(e, days);
            synth_col(e, ref);
        }
        day += synth_gap(r, s->crisis_rate / MONTH_DAYS);
    }
    for (double day = synth_gap(r, s->police_rate / MONTH_DAYS);; ) {
        int64_t at = from + (int64_t)(day * DAY_MS);
        if (at >= s->exit_at)
            break;
        if (synth_unit(r) < synth_effect(s, at)) {
            synth_event_t *e = synth_add(p, KOERS_POLICE_CALL, at, "politie");
            if (!e)
                return -1;
            synth_col(e, synth_sym(KOERS_POLICE_CALL, 0, synth_pick(r, police_kind_w, 7)));
            synth_col(e, synth_sym(KOERS_POLICE_CALL, 1, synth_pick(r, caller_w, 6)));
            synth_col(e, synth_sym(KOERS_POLICE_CALL, 2, synth_pick(r, outcome_w, 6)));
        }
        day += synth_gap(r, s->police_rate / MONTH_DAYS);
    }
    return 0;
}

static int synth_contacts(synth_person_t *p, const synth_story_t *s)
{
    static const double role_w[] = {30, 12, 18, 6, 10, 6, 4, 6, 3, 5};
    static const char *const role_source[] = {"ggz-noord", "verslavingszorg", "wijkteam",
                                              "gemeente",  "wijkteam",        "wijkteam",
                                              "huisarts",  "woningcorporatie", "politie",
                                              "wijkteam"};
    static const double mode_early[] = {25, 20, 30, 15, 5, 5};
    static const double mode_late[] = {35, 20, 10, 20, 10, 5};
    synth_rng_t *r = &p->rng;
    for (int64_t at = s->enrol + (int64_t)(synth_gap(r, s->contact_rate / 7) * DAY_MS);
         at < s->exit_at; at += (int64_t)(synth_gap(r, s->contact_rate / 7) * DAY_MS)) {
        if (!synth_enrolled(s, at))
            continue;
        double months = (double)(at - s->enrol) / (MONTH_DAYS * DAY_MS);
        double late = months > 12 ? 1.0 : months / 12.0;
        double mode_w[6];
        for (int i = 0; i < 6; i++)
            mode_w[i] = mode_early[i] * (1 - late) + mode_late[i] * late;
        int role = synth_pick(r, role_w, 10);
        int mode = synth_pick(r, mode_w, 6);
        /* Participants start more of the contacts as trust grows. */
        double own = 0.15 + 0.3 * late;
        double init_w[] = {own, 0.85 - own, 0.1};
        int64_t local = at - at % DAY_MS + synth_between(r, 8, 20) * HOUR_MS;
        synth_event_t *e = synth_add(p, KOERS_CONTACT, local, role_source[role]);
        if (!e)
            return -1;
        synth_col(e, synth_sym(KOERS_CONTACT, 0, role));
        synth_col(e, synth_sym(KOERS_CONTACT, 1, mode));
        synth_col(e, synth_sym(KOERS_CONTACT, 2, synth_pick(r, init_w, 3)));
        synth_col_int(e, mode == 3 ? synth_between(r, 5, 30) : synth_between(r, 15, 120));
        synth_col(e, synth_unit(r) < 0.7 ? "true" : "false");
    }
    return 0;
}

static int synth_goal_event(synth_person_t *p, int64_t at, const char *ref, int domain,
                            const char *change, int set_by, int gas, int weight)
{
    synth_event_t *e = synth_add(p, KOERS_GOAL_CHANGE, at, "wijkteam");
    if (!e)
        return -1;
    synth_col(e, ref);
    synth_col(e, synth_sym(KOERS_GOAL_CHANGE, 1, domain));
    synth_col(e, change);
    synth_col(e, synth_sym(KOERS_GOAL_CHANGE, 3, set_by));
    if (gas > -3)
        synth_col_int(e, gas);
    else
        synth_col(e, "");
    if (weight > 0)
        synth_col_int(e, weight);
    else
        synth_col(e, "");
    return 0;
}

static int synth_goals(synth_person_t *p, const synth_story_t *s)
{
    static const double domain_w[] = {20, 12, 8, 12, 6, 4, 5, 8, 5, 6, 8, 3, 2, 1};
    static const double set_by_w[] = {70, 20, 10};
    synth_rng_t *r = &p->rng;
    int ngoals = synth_between(r, 2, 5);
    for (int g = 0; g < ngoals; g++) {
        char ref[SYNTH_TEXT];
        snprintf(ref, sizeof ref, "G%d-%d", p->participant, g + 1);
        int domain = synth_pick(r, domain_w, 14);
        int set_by = synth_pick(r, set_by_w, 3);
        int scored = synth_unit(r) < 0.85;
        int weight = synth_unit(r) < 0.7 ? synth_between(r, 1, 10) : 0;
        int gas = synth_unit(r) < 0.3 ? -2 : -1;
        int64_t at = s->enrol + synth_between(r, 0, 90) * DAY_MS + 10 * HOUR_MS;
        if (at >= s->exit_at)
            continue;
        if (synth_goal_event(p, at, ref, domain, "set", set_by, scored ? gas : -3, weight))
            return -1;
        int open = 1, revisions = 0;
        for (at += synth_between(r, 20, 40) * DAY_MS; at < s->exit_at;
             at += synth_between(r, 20, 40) * DAY_MS) {
            double x = synth_unit(r);
            const char *change = NULL;
            if (!open) {
                if (x < 0.05) {
                    change = "reopened";
                    open = 1;
                } else {
                    continue;
                }
            } else if (gas >= 1 && x < 0.3) {
                change = "achieved";
                gas = 2;
                open = 0;
            } else if (x < 0.4) {
                change = "progress";
                gas = gas < 2 ? gas + 1 : gas;
            } else if (x < 0.55) {
                change = "setback";
                gas = gas > -2 ? gas - 1 : gas;
            } else if (x < 0.58 && revisions < 2) {
                change = "revised";
                revisions++;
                gas = -1;
            } else if (x < 0.61) {
                change = "abandoned";
                open = 0;
            } else {
                continue;
            }
            int with_score = scored && strcmp(change, "abandoned") != 0 &&
                             strcmp(change, "reopened") != 0 && synth_unit(r) < 0.8;
            if (synth_goal_event(p, at, ref, domain, change, set_by, with_score ? gas : -3, 0))
                return -1;
        }
    }
    return 0;
}

/* Voids a few registrations, as sources do when they find a mistake. */
static int synth_corrections(synth_person_t *p)
{
    size_t n = p->n;
    for (size_t i = 0; i < n; i++) {
        koers_event_type_t t = p->ev[i].type;
        if ((t != KOERS_CONTACT && t != KOERS_CRISIS && t != KOERS_POLICE_CALL) ||
            synth_unit(&p->rng) >= 0.01)
            continue;
        char target[SYNTH_TEXT], source[SYNTH_TEXT];
        memcpy(target, p->ev[i].text[COL_RECORD_ID], SYNTH_TEXT);
        memcpy(source, p->ev[i].text[COL_SOURCE], SYNTH_TEXT);
        int64_t at = p->ev[i].recorded_at + synth_between(&p->rng, 5, 60) * DAY_MS;
        synth_event_t *e = synth_add(p, KOERS_CORRECTION, at, source);
        if (!e)
            return -1;
        e->recorded_at = at;
        synth_col(e, target);
        synth_col(e, koers_types[t].name);
        synth_col(e, "void");
    }
    return 0;
}

/* The outcome instruments (zrm_score, stressor, status_change): self-reliance that grows,
 * stressors that resolve and return, housing and work that improve during the programme,
 * evictions that run lower. Drawn from a generator of their own (r), so that the other
 * events of a seed stay as they were; synth_add's registration lag still draws from p. */
enum { ST_HOUSING, ST_RENT_ARREARS, ST_EVICTION, ST_ACTIVITY, ST_INCOME, ST_DEBT, ST_N };

static int synth_status(synth_person_t *p, int64_t at, const char *source, const int v[ST_N])
{
    synth_event_t *e = synth_add(p, KOERS_STATUS_CHANGE, at, source);
    if (!e)
        return -1;
    for (int f = 0; f < ST_N; f++) {
        if (v[f] < 0)
            synth_col(e, "");
        else if (f == ST_RENT_ARREARS)
            synth_col(e, v[f] ? "true" : "false");
        else
            synth_col(e, synth_sym(KOERS_STATUS_CHANGE, f, v[f]));
    }
    return 0;
}

static int synth_zrm(synth_person_t *p, const synth_story_t *s, synth_rng_t *r, double sev)
{
    int ndomains = synth_unit(r) < 0.2 ? 14 : 13; /* parenting where it applies */
    int score[14];
    for (int d = 0; d < ndomains; d++) {
        int x = (int)lround(3.0 - 1.6 * sev + (synth_unit(r) - 0.5) * 2.0);
        score[d] = x < 1 ? 1 : x > 5 ? 5 : x;
    }
    int moment = 0;
    for (int64_t at = s->enrol + synth_between(r, 7, 30) * DAY_MS + 2 * HOUR_MS; at < s->exit_at;
         at += synth_between(r, 90, 150) * DAY_MS, moment++) {
        double b = synth_unit(r);
        int by = moment == 0 || b < 0.4 ? 0 : b < 0.9 ? 1 : 2;
        for (int d = 0; d < ndomains; d++) {
            if (moment > 0) {
                double x = synth_unit(r) / synth_effect(s, at);
                if (x < 0.25 && score[d] > 1)
                    score[d]--;
                else if (x > 0.75 && score[d] < 5)
                    score[d]++;
            }
            synth_event_t *e = synth_add(p, KOERS_ZRM_SCORE, at, "wijkteam");
            if (!e)
                return -1;
            synth_col(e, synth_sym(KOERS_ZRM_SCORE, 0, d));
            synth_col_int(e, score[d]);
            synth_col(e, synth_sym(KOERS_ZRM_SCORE, 2, by));
        }
    }
    return 0;
}

static int synth_stressors(synth_person_t *p, const synth_story_t *s, synth_rng_t *r, double sev)
{
    static const double present_p[] = {0.6, 0.2, 0.5, 0.45, 0.15, 0.3, 0.15, 0.35, 0.2, 0.1};
    static const char *const source[] = {"gemeente", "gemeente", "wijkteam", "woningcorporatie",
                                         "woningcorporatie", "wijkteam", "wijkteam", "ggz-noord",
                                         "wijkteam", "wijkteam"};
    for (int k = 0; k < 10; k++) {
        if (synth_unit(r) >= present_p[k] * (0.6 + 0.8 * sev))
            continue;
        int64_t at = s->enrol + synth_between(r, 2, 25) * DAY_MS + 3 * HOUR_MS;
        int state = 0; /* 0 present, 1 reduced, 2 resolved */
        for (int step = 0; at < s->exit_at; step++) {
            const char *change = NULL;
            if (step == 0) {
                change = "present";
            } else {
                double x = synth_unit(r);
                if (state == 2 && x < 0.15) {
                    change = "returned";
                    state = 0;
                } else if (state < 2 && x < 0.35 * (1.3 - synth_effect(s, at))) {
                    change = "resolved";
                    state = 2;
                } else if (state == 0 && x > 0.8) {
                    change = "reduced";
                    state = 1;
                }
            }
            if (change) {
                synth_event_t *e = synth_add(p, KOERS_STRESSOR, at, source[k]);
                if (!e)
                    return -1;
                synth_col(e, synth_sym(KOERS_STRESSOR, 0, k));
                synth_col(e, change);
            }
            at += synth_between(r, 30, 120) * DAY_MS;
        }
    }
    return 0;
}

static int synth_statuses(synth_person_t *p, const synth_story_t *s, synth_rng_t *r, double sev)
{
    static const double housing_w[] = {30, 25, 10, 25, 10};
    static const double activity_w[] = {80, 10, 5, 4, 1};
    static const double income_w[] = {10, 4, 80, 1, 0, 5};
    static const double debt_w[] = {55, 25, 20, 0};
    /* The intake records the situation of the year before enrolment. */
    int v[ST_N];
    v[ST_HOUSING] = synth_pick(r, housing_w, 5);
    v[ST_RENT_ARREARS] = v[ST_HOUSING] >= 2 ? synth_unit(r) < 0.5 : -1;
    v[ST_EVICTION] = -1;
    v[ST_ACTIVITY] = synth_pick(r, activity_w, 5);
    v[ST_INCOME] = synth_pick(r, income_w, 6);
    v[ST_DEBT] = synth_pick(r, debt_w, 4);
    int64_t at = s->enrol - 360 * DAY_MS + 1 * HOUR_MS;
    if (synth_status(p, at, "wijkteam", v))
        return -1;
    /* Eviction notices, some carried out (then homeless), fewer during the programme. */
    double rate = (0.05 + 0.1 * sev) / MONTH_DAYS;
    for (double day = synth_gap(r, rate);; day += synth_gap(r, rate)) {
        int64_t when = at + (int64_t)(day * DAY_MS);
        if (when >= s->exit_at)
            break;
        if (synth_unit(r) >= synth_effect(s, when))
            continue;
        int n[ST_N] = {-1, -1, 0, -1, -1, -1};
        if (synth_status(p, when, "woningcorporatie", n))
            return -1;
        if (synth_unit(r) < 0.35) {
            int ev[ST_N] = {0, -1, 1, -1, -1, -1};
            if (synth_status(p, when + synth_between(r, 30, 90) * DAY_MS, "woningcorporatie", ev))
                return -1;
        }
    }
    /* During the programme: a review every two to four months, each status a step better
     * with some chance. */
    for (at = s->enrol + synth_between(r, 20, 60) * DAY_MS + 4 * HOUR_MS; at < s->exit_at;
         at += synth_between(r, 60, 120) * DAY_MS) {
        int n[ST_N] = {-1, -1, -1, -1, -1, -1};
        if (v[ST_HOUSING] < 4 && synth_unit(r) < 0.3)
            n[ST_HOUSING] = v[ST_HOUSING] = v[ST_HOUSING] == 3 ? 4 : v[ST_HOUSING] + 1;
        if (v[ST_ACTIVITY] < 3 && synth_unit(r) < 0.25)
            n[ST_ACTIVITY] = v[ST_ACTIVITY] = v[ST_ACTIVITY] + 1;
        if (v[ST_DEBT] < 3 && synth_unit(r) < 0.3)
            n[ST_DEBT] = v[ST_DEBT] = v[ST_DEBT] + 1;
        if (v[ST_ACTIVITY] == 3 && v[ST_INCOME] != 1 && synth_unit(r) < 0.5)
            n[ST_INCOME] = v[ST_INCOME] = 1; /* wages */
        if (v[ST_HOUSING] >= 2 && synth_unit(r) < 0.3)
            n[ST_RENT_ARREARS] = synth_unit(r) < 0.3;
        int any = 0;
        for (int f = 0; f < ST_N; f++)
            any |= n[f] >= 0;
        if (any && synth_status(p, at, "wijkteam", n))
            return -1;
    }
    return 0;
}

static int synth_instruments(synth_person_t *p, const synth_story_t *s)
{
    synth_rng_t r = {p->rng.s ^ 0x14a5c3e1d2b4f607ULL};
    double sev = (s->crisis_rate - 0.3) / 1.6;
    return synth_zrm(p, s, &r, sev) || synth_stressors(p, s, &r, sev) ||
           synth_statuses(p, s, &r, sev);
}

static int synth_by_recorded(const void *a, const void *b)
{
    const synth_event_t *x = a, *y = b;
    if (x->recorded_at != y->recorded_at)
        return x->recorded_at < y->recorded_at ? -1 : 1;
    return strcmp(x->text[COL_RECORD_ID], y->text[COL_RECORD_ID]);
}

static int synth_person(synth_person_t *p, const produce_synth_t *cfg, int64_t start)
{
    synth_rng_t *r = &p->rng;
    synth_story_t s = {0};
    s.start = start;
    s.end = start + (int64_t)(cfg->months * MONTH_DAYS * DAY_MS);
    s.enrol = start + synth_between(r, 0, 59) * DAY_MS + 9 * HOUR_MS;
    /* One underlying severity drives crisis and police use, as in the seeds' outsiders. */
    double u = synth_unit(r);
    s.crisis_rate = 0.3 + 1.6 * u * u;
    s.police_rate = 0.2 + 1.2 * u * synth_unit(r);
    s.contact_rate = 1.2 + 2.0 * synth_unit(r);
    if (synth_enrolment(p, &s, cfg->cohort) || synth_crisis_and_police(p, &s) ||
        synth_contacts(p, &s) || synth_goals(p, &s) || synth_corrections(p) ||
        synth_instruments(p, &s))
        return -1;
    qsort(p->ev, p->n, sizeof *p->ev, synth_by_recorded);
    return 0;
}

/* What the cohort's sources deliver: each (event type, source) pair that emitted an event,
 * and the days the emitted events cover. */
#define SYNTH_MAX_COVERED 64

typedef struct {
    koers_event_type_t type[SYNTH_MAX_COVERED];
    char source[SYNTH_MAX_COVERED][33];
    int n;
    int32_t first_day;   /* the earliest local day an emitted event covers */
    int64_t last_record; /* the latest recorded_at of an emitted event */
} synth_coverage_t;

/* Notes an emitted event's type, source and days (a stay's too, before its discharge day).
 * Returns 0, or -1 when more pairs than the generator makes (a generator bug). */
static int synth_note_coverage(synth_coverage_t *c, const koers_event_t *ev)
{
    const koers_field_t *covered = &koers_types[KOERS_COVERAGE].fields[0];
    const char *name = koers_types[ev->type].name;
    if (koers_enum_find(covered, name, strlen(name)) < 0)
        return 0; /* corrections and coverage itself are not covered */
    int32_t day = koers_time_local_day(ev->occurred_at);
    if (ev->recorded_at > c->last_record)
        c->last_record = ev->recorded_at;
    int days = koers_field_find(&koers_types[ev->type], "days", 4);
    if (days >= 0 && ev->v[days].present)
        day -= ev->v[days].i;
    if (day < c->first_day)
        c->first_day = day;
    for (int i = 0; i < c->n; i++)
        if (c->type[i] == ev->type && strcmp(c->source[i], ev->source) == 0)
            return 0;
    if (c->n == SYNTH_MAX_COVERED)
        return -1;
    c->type[c->n] = ev->type;
    snprintf(c->source[c->n], sizeof c->source[c->n], "%s", ev->source);
    c->n++;
    return 0;
}

/* One coverage statement per source and event type, covering the whole generated period:
 * from the first day an event covers to the end of the simulation, or still delivering
 * when that end is not yet past. Made with the last delivery (the latest recorded_at), so
 * that a seed gives the same statements as it gives the same events. Returns 0, or an
 * exit code. */
static int synth_send_coverage(produce_emitter_t *e, const koers_key_t *key,
                               const produce_synth_t *cfg, const synth_coverage_t *c,
                               int64_t end, int64_t now, long *made)
{
    char errstr[512];
    int64_t at = c->last_record;
    int32_t last = koers_time_local_day(end - 1);
    for (int i = 0; i < c->n; i++) {
        char text[COL_COMMON + 3][SYNTH_TEXT];
        const char *type = koers_types[c->type[i]].name;
        snprintf(text[COL_RECORD_ID], SYNTH_TEXT, "s%llu-cov-%s-%s",
                 (unsigned long long)cfg->seed, c->source[i], type);
        text[COL_CLIENT_ID][0] = '\0'; /* about the source, not a client */
        koers_time_format(at, text[COL_OCCURRED_AT], SYNTH_TEXT);
        snprintf(text[COL_SOURCE], SYNTH_TEXT, "%s", c->source[i]);
        snprintf(text[COL_COMMON], SYNTH_TEXT, "%s", type);
        koers_time_format_date(c->first_day, text[COL_COMMON + 1], SYNTH_TEXT);
        text[COL_COMMON + 2][0] = '\0';
        if (end <= now)
            koers_time_format_date(last, text[COL_COMMON + 2], SYNTH_TEXT);
        produce_row_t row;
        for (int k = 0; k < COL_COMMON + 3; k++) {
            row.v[k] = text[k];
            row.len[k] = strlen(text[k]);
        }
        koers_event_t ev;
        int bad;
        if (produce_row_to_event(KOERS_COVERAGE, &row, key, at, KOERS_DATE_ISO, &ev, &bad,
                                 errstr, sizeof errstr) != 0) {
            koers_log_error("synth coverage %s: %s", text[COL_RECORD_ID], errstr);
            return 3;
        }
        if (produce_emitter_send(e, &ev, &row, errstr, sizeof errstr) != 0) {
            koers_log_error("%s", errstr);
            return 3;
        }
        (*made)++;
    }
    return 0;
}

int produce_synth(const produce_options_t *o, const koers_key_t *key, const produce_synth_t *cfg)
{
    char errstr[512];
    int64_t start;
    if (koers_time_parse(cfg->start, strlen(cfg->start), &start, errstr, sizeof errstr) != 0) {
        koers_log_error("--start %s: %s", cfg->start, errstr);
        return 2;
    }
    /* Registrations the story places after this moment have not happened yet. A fixed one
     * makes a seed give the same events at every run; the clock's moves between runs. */
    int64_t now = koers_time_now_ms();
    if (cfg->now && koers_time_parse(cfg->now, strlen(cfg->now), &now, errstr, sizeof errstr) != 0) {
        koers_log_error("--now %s: %s", cfg->now, errstr);
        return 2;
    }
    produce_emitter_t *e = produce_emitter_new(o, errstr, sizeof errstr);
    if (!e) {
        koers_log_error("%s", errstr);
        return 3;
    }
    synth_person_t p = {0};
    synth_coverage_t coverage = {.first_day = INT32_MAX, .last_record = INT64_MIN};
    int rc = 0;
    long made = 0;
    for (int i = 0; i < cfg->participants && rc == 0 && !(o->stop && *o->stop); i++) {
        p.n = 0;
        p.counter = 0;
        p.participant = i + 1;
        p.seed = cfg->seed;
        p.rng.s = cfg->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)(i + 1);
        if (synth_person(&p, cfg, start) != 0) {
            koers_log_error("out of memory");
            rc = 3;
            break;
        }
        for (size_t k = 0; k < p.n && rc == 0; k++) {
            synth_event_t *se = &p.ev[k];
            if (se->recorded_at > now)
                continue;
            produce_row_t row;
            for (int c = 0; c < se->ncols; c++) {
                row.v[c] = se->text[c];
                row.len[c] = strlen(se->text[c]);
            }
            koers_event_t ev;
            int bad;
            if (produce_row_to_event(se->type, &row, key, se->recorded_at, KOERS_DATE_ISO, &ev,
                                     &bad, errstr, sizeof errstr) != 0) {
                /* A generator bug, not bad input: stop rather than emit a partial cohort. */
                koers_log_error("synth %s %s: %s", koers_types[se->type].name,
                                se->text[COL_RECORD_ID], errstr);
                rc = 3;
            } else if (produce_emitter_send(e, &ev, &row, errstr, sizeof errstr) != 0) {
                koers_log_error("%s", errstr);
                rc = 3;
            } else if (synth_note_coverage(&coverage, &ev) != 0) {
                koers_log_error("synth: more than %d sources and event types", SYNTH_MAX_COVERED);
                rc = 3;
            } else {
                made++;
            }
        }
    }
    free(p.ev);
    /* The statements come after the events, as a source sends them with its delivery. */
    if (rc == 0 && coverage.n && !(o->stop && *o->stop))
        rc = synth_send_coverage(e, key, cfg, &coverage,
                                 start + (int64_t)(cfg->months * MONTH_DAYS * DAY_MS), now, &made);
    long sent = 0;
    long failed = produce_emitter_close(e, 1, &sent);
    koers_log_info("%ld synthetic event(s) for %d participant(s): %ld delivered, %ld not", made,
                   cfg->participants, sent, failed);
    if (rc)
        return rc;
    if (failed)
        return 3;
    return o->stop && *o->stop ? 130 : 0;
}
