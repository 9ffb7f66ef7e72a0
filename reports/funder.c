/* The funder report: the suppressed cells of schema report laid out as a printable HTML
 * document (Dutch or English); the figures come from SQL as they are, only formatted here. */
#include "funder.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "koers/pg.h"

extern char **environ;

typedef struct {
    char *chart, *series, *category;
    double value;
    int has_value, suppressed;
} fcell_t;

typedef struct {
    FILE *out;
    int en;                /* 0: Dutch, 1: English */
    int k;                 /* suppression threshold: hidden figures print as "<k" */
    PGresult *cells_res;   /* owns the strings of cells */
    fcell_t *cells;
    int ncells;
} fctx_t;

enum { K_INT, K_DEC1, K_DEC2, K_EUR, K_PCT };

/* ---------------------------------------------------------------- labels */

typedef struct {
    const char *key, *nl, *en;
} flabel_t;

static const flabel_t flabels[] = {
    {"title", "Koers: rapportage voor financiers", "Koers: report for funders"},
    {"intro", "Deze rapportage volgt de deelnemers van het programma over de tijd: de doelen die zij "
              "zelf stelden, hun gebruik van crisisdiensten en politie voor en tijdens deelname, en "
              "een indicatieve maatschappelijke kosten-batenanalyse (MKBA) per belanghebbende. Alle "
              "cijfers zijn groepscijfers; een cijfer dat op minder dan {k} deelnemers berust, staat "
              "er als \"&lt;{k}\".",
     "This report follows the programme's participants over time: the goals they set themselves, "
     "their use of crisis services and police before and during enrolment, and an indicative "
     "social cost-benefit analysis (MKBA) per stakeholder. Every figure is a group figure; a "
     "figure drawn from fewer than {k} participants is shown as \"&lt;{k}\"."},
    {"as_of", "Cijfers tot en met", "Figures up to and including"},
    {"made", "Gemaakt op", "Made on"},
    {"page", "Pagina", "Page"},
    {"of", "van", "of"},
    {"h_participants", "Deelnemers", "Participants"},
    {"enrolled_all", "Ooit ingeschreven", "Ever enrolled"},
    {"enrolled_now", "Nu ingeschreven", "Enrolled now"},
    {"self_set_achieved_share", "Deel met minstens \u00e9\u00e9n zelf gesteld doel bereikt (van de ingeschrevenen)",
     "Share with at least one self-set goal achieved (of those enrolled)"},
    {"mean_t_score", "Gemiddelde GAS T-score, laatst", "Mean GAS T-score, latest"},
    {"mean_t_score_change", "Gemiddelde verandering in T-score", "Mean change in T-score"},
    {"h_goals", "Doelen naar hoek van het stabiliteitsmodel en domein", "Goals by corner of the stability model and domain"},
    {"goals_note", "Doelen stellen de deelnemers zelf; bijstellen of loslaten is een uitkomst, geen fout.",
     "Participants set their own goals; revising or dropping one is an outcome, not an error."},
    {"set", "Gesteld", "Set"}, {"achieved", "Bereikt", "Achieved"}, {"open", "Open", "Open"},
    {"revised", "Bijgesteld", "Revised"}, {"abandoned", "Losgelaten", "Abandoned"},
    {"all", "Alle", "All"},
    {"participation", "Meedoen", "Taking part"},
    {"living_environment", "Eigen leefomgeving", "Living environment"},
    {"continuity_of_support", "Continu\u00efteit van ondersteuning", "Continuity of support"},
    {"unclassified", "Overig", "Other"},
    {"daytime_activity", "dagbesteding", "daytime activity"}, {"work", "werk", "work"},
    {"social_contact", "sociaal contact", "social contact"}, {"family", "familie", "family"},
    {"pet", "huisdier", "pet"}, {"leisure", "vrije tijd", "leisure"}, {"housing", "wonen", "housing"},
    {"finances", "financi\u00ebn", "finances"}, {"safety_justice", "veiligheid en justitie", "safety and justice"},
    {"self_care", "zelfzorg", "self-care"}, {"physical_health", "lichamelijke gezondheid", "physical health"},
    {"mental_health", "psychische gezondheid", "mental health"}, {"addiction", "verslaving", "addiction"},
    {"other", "overig", "other"},
    {"h_crisis", "Crisis en politie, voor en tijdens deelname", "Crisis and police, before and during enrolment"},
    {"crisis_note", "Voor: de 12 maanden voor de start. Tijdens: de ingeschreven tijd. Per persoonsmaand "
                    "(30,4375 dagen). Meldingen waarin de deelnemer slachtoffer was, staan apart.",
     "Before: the 12 months before the start. During: enrolled time. Per person-month (30.4375 days). "
     "Calls where the participant was the victim are shown apart."},
    {"measure", "Maat", "Measure"},
    {"count_before", "Aantal voor", "Count before"}, {"count_during", "Aantal tijdens", "Count during"},
    {"rate_before", "Per persoonsmaand voor", "Per person-month before"},
    {"rate_during", "Per persoonsmaand tijdens", "Per person-month during"},
    {"person_months", "Persoonsmaanden", "Person-months"},
    {"acute_events", "Acute crisis (gebeurtenissen)", "Acute crisis (events)"},
    {"acute_days", "Acute opnamedagen", "Acute admission days"},
    {"alternative_events", "Respijt en opvang (gebeurtenissen)", "Respite and shelter (events)"},
    {"alternative_days", "Respijt- en opvangdagen", "Respite and shelter days"},
    {"police_use_calls", "Politiemeldingen over de deelnemer", "Police calls about the participant"},
    {"confused_person_calls", "waarvan verward gedrag", "of which confused behaviour"},
    {"police_victim_calls", "Meldingen als slachtoffer", "Calls as a victim"},
    {"h_spread", "Verandering per deelnemer", "Change per participant"},
    {"spread_note", "Per deelnemer het gebruik per persoonsmaand voor en in het venster {w}; mediaan (interkwartielafstand), "
                    "de mediane verandering met een bootstrap-95%-interval, en de p-waarde van de Wilcoxon-rangtekentoets.",
     "Per participant the use per person-month before and in the window {w}; median (interquartile range), the median "
     "change with a bootstrap 95% interval, and the p-value of the Wilcoxon signed-rank test."},
    {"n", "n", "n"}, {"median_before", "Mediaan voor", "Median before"},
    {"median_during", "Mediaan tijdens", "Median during"},
    {"median_difference", "Mediane verandering [95%]", "Median change [95%]"}, {"p_value", "p", "p"},
    {"h_mkba", "Indicatieve MKBA per belanghebbende", "Indicative social cost-benefit (MKBA) per stakeholder"},
    {"mkba_note", "Kosten: de ondersteuning van het programma in het venster {w}, naar wie die betaalt. Baten: "
                  "kosten van crisis, verblijf, politie en huisuitzettingen die zijn vermeden ten opzichte van het nulalternatief. "
                  "Nulalternatief: het gebruik per bekende persoonsmaand van de 12 maanden voor de start (voor de "
                  "hele groep samen, \u00d7 {f}) was doorgegaan; dat veronderstelt dat er zonder het programma "
                  "niets was veranderd. Bedragen in euro's, prijspeil {y}.",
     "Costs: the programme's support in the window {w}, by who pays it. Benefits: crisis, stay, police and eviction costs "
     "avoided against the null alternative. Null alternative: the use per known person-month of the 12 months "
     "before the start (the whole group pooled, \u00d7 {f}) had gone on; that assumes nothing would have changed "
     "without the programme. Amounts in euros, price level {y}."},
    {"payer", "Belanghebbende", "Stakeholder"},
    {"support_cost", "Kosten ondersteuning", "Cost of support"},
    {"cost_before", "Kosten voor (12 mnd)", "Cost before (12 mo)"},
    {"cost_expected", "Verwacht zonder programma", "Expected without programme"},
    {"cost_during", "Kosten tijdens", "Cost during"},
    {"benefit", "Baten (vermeden)", "Benefit (avoided)"}, {"balance", "Saldo", "Balance"},
    {"total", "Totaal", "Total"},
    {"payer_municipality", "Gemeente", "Municipality"}, {"payer_health_insurer", "Zorgverzekeraar", "Health insurer"},
    {"payer_long_term_care", "Wlz (zorgkantoor)", "Long-term care (Wlz)"}, {"payer_police", "Politie", "Police"},
    {"payer_justice", "Justitie", "Justice"}, {"payer_housing_corporation", "Woningcorporatie", "Housing corporation"},
    {"payer_other", "Overig", "Other"}, {"payer_total", "Totaal", "Total"},
    {"h_sensitivity", "Gevoeligheid van het saldo", "Sensitivity of the balance"},
    {"sens_note", "Het totale saldo als \u00e9\u00e9n aanname anders is: elke eenheidsprijs op zijn lage en hoge "
                  "waarde (de bandbreedte van de bron, anders \u00b1{r}%), en het gebruik van voor de start \u00d7 {v} "
                  "(regressie naar het gemiddelde: mensen starten vaak op een piek). De lijn is het saldo in het basisgeval.",
     "The total balance when one assumption differs: each unit price at its low and high value (the source's "
     "range, otherwise \u00b1{r}%), and the use before the start \u00d7 {v} (regression to the mean: people often "
     "start at a peak). The line is the balance in the base case."},
    {"variation", "Aanname", "Assumption"}, {"value_low", "Waarde laag", "Value low"},
    {"value_high", "Waarde hoog", "Value high"}, {"balance_low", "Saldo bij laag", "Balance at low"},
    {"balance_high", "Saldo bij hoog", "Balance at high"}, {"rtm", "Gebruik voor \u00d7 factor", "Use before \u00d7 factor"},
    {"h_yearly", "Wie verdient terug", "Who cashes in"},
    {"yearly_note", "Vermeden kosten per deelnemerjaar in het venster, en het deel van de kosten van ondersteuning dat "
                    "elke belanghebbende draagt. Vermenigvuldig met het aantal deelnemers per jaar voor de jaarlijkse besparing.",
     "Costs avoided per participant-year of the window, and the share of the cost of support each stakeholder "
     "bears. Multiply by the number of participants a year for the yearly saving."},
    {"benefit_per_person_year", "Baten per deelnemerjaar", "Benefit per participant-year"},
    {"cost_share", "Deel van de kosten", "Share of the cost"},
    {"h_assumptions", "Aannames en bronnen", "Assumptions and sources"},
    {"item", "Post", "Item"}, {"amount", "Prijs", "Price"}, {"year", "Prijspeil", "Price level"},
    {"price_in", "Prijs in", "Price in"}, {"low_high", "Laag \u2013 hoog", "Low \u2013 high"},
    {"per", "Per", "Per"}, {"payers", "Betaald door", "Paid by"}, {"sources", "Bronnen", "Sources"},
    {"event", "gebeurtenis", "event"}, {"day", "dag", "day"}, {"hour", "uur", "hour"},
    {"h_cpi", "Consumentenprijsindex", "Consumer price index"}, {"cpi", "Index", "Index"},
    {"h_quality", "Datadekking en kwaliteit", "Data coverage and quality"},
    {"quality_note", "Elke bron geeft per soort gegevens op welke periode ze dekt; dagen daarbuiten tellen niet "
                     "mee. Per maat: hoeveel deelnemers in beide perioden gegevens hadden (n), en hoeveel van hen op "
                     "elke dag van beide perioden.",
     "Each source states per type of data the period it covers; days outside it do not count. Per measure: "
     "how many participants had data in both periods (n), and how many of them on every day of both."},
    {"full_coverage", "Volledige dekking", "Full coverage"},
    {"window_intention_to_treat", "alle tijd vanaf de start (intention-to-treat)", "every day from the start (intention-to-treat)"},
    {"window_per_protocol", "de ingeschreven tijd (per protocol)", "enrolled time (per protocol)"},
    {"window_follow_up", "de 12 maanden na uitstroom (follow-up)", "the 12 months after exit (follow-up)"},
    {"caveat", "Een indicatie, geen effectmeting: er is geen vergelijkingsgroep.",
     "An indication, not an impact estimate: there is no comparison group."},
};

static const char *fl(const fctx_t *x, const char *key)
{
    for (size_t i = 0; i < sizeof flabels / sizeof flabels[0]; i++)
        if (strcmp(flabels[i].key, key) == 0)
            return x->en ? flabels[i].en : flabels[i].nl;
    return key;
}

/* ---------------------------------------------------------------- output helpers */

static void fesc(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* A label with {name} replaced by values (already HTML-safe). */
static void fsub(FILE *out, const char *text, const char *const *names, const char *const *values, int n)
{
    for (const char *p = text; *p;) {
        int done = 0;
        for (int i = 0; i < n && !done; i++) {
            size_t len = strlen(names[i]);
            if (*p == '{' && strncmp(p + 1, names[i], len) == 0 && p[1 + len] == '}') {
                fputs(values[i], out);
                p += len + 2;
                done = 1;
            }
        }
        if (!done)
            fputc(*p++, out);
    }
}

/* A number in the report's language: grouping and decimal separators, euro sign, percent. */
static void ffmt(const fctx_t *x, double v, int kind, char *buf, size_t len)
{
    int dec = kind == K_DEC2 ? 2 : kind == K_DEC1 ? 1 : 0;
    double shown = kind == K_PCT ? v * 100 : v;
    char raw[64];
    snprintf(raw, sizeof raw, "%.*f", dec, fabs(shown));
    if (strtod(raw, NULL) == 0)
        shown = 0; /* no "-0" */
    const char *dot = strchr(raw, '.');
    size_t intlen = dot ? (size_t)(dot - raw) : strlen(raw);
    char grp = x->en ? ',' : '.', decsep = x->en ? '.' : ',';
    char num[96];
    size_t o = 0;
    for (size_t i = 0; i < intlen && o < sizeof num - 2; i++) {
        if (i > 0 && (intlen - i) % 3 == 0)
            num[o++] = grp;
        num[o++] = raw[i];
    }
    if (dot && o < sizeof num - 1) {
        num[o++] = decsep;
        for (const char *p = dot + 1; *p && o < sizeof num - 1; p++)
            num[o++] = *p;
    }
    num[o] = '\0';
    const char *sign = shown < 0 ? "\u2212" : "";
    if (kind == K_EUR)
        snprintf(buf, len, "%s\u20ac\u00a0%s", sign, num);
    else if (kind == K_PCT)
        snprintf(buf, len, "%s%s%%", sign, num);
    else
        snprintf(buf, len, "%s%s", sign, num);
}

static const fcell_t *fcell(const fctx_t *x, const char *chart, const char *series, const char *cat)
{
    for (int i = 0; i < x->ncells; i++)
        if (strcmp(x->cells[i].chart, chart) == 0 && strcmp(x->cells[i].series, series) == 0 &&
            strcmp(x->cells[i].category, cat) == 0)
            return &x->cells[i];
    return NULL;
}

/* One figure: marked with its cell's key (the test compares it with the database), "<k"
 * when suppressed, a dash when the database has no such cell or no value. */
static void ffig(const fctx_t *x, const char *tag, const char *chart, const char *series,
                 const char *cat, int kind)
{
    const fcell_t *c = fcell(x, chart, series, cat);
    fprintf(x->out, "<%s class=\"num\" data-chart=\"%s\" data-series=\"%s\" data-category=\"%s\">", tag,
            chart, series, cat);
    if (c && c->suppressed)
        fprintf(x->out, "<span class=\"sup\">&lt;%d</span>", x->k);
    else if (c && c->has_value) {
        char buf[96];
        ffmt(x, c->value, kind, buf, sizeof buf);
        fputs(buf, x->out);
    } else
        fputs("\u2013", x->out);
    fprintf(x->out, "</%s>", tag);
}

static void fth(const fctx_t *x, const char *key)
{
    fputs("<th scope=\"row\">", x->out);
    fesc(x->out, fl(x, key));
    fputs("</th>", x->out);
}

/* A payer's row heading (payer labels apart: "other" is a goal domain too). */
static void fpayer(const fctx_t *x, const char *payer)
{
    char key[64];
    snprintf(key, sizeof key, "payer_%s", payer);
    fth(x, key);
}

static void fhead(const fctx_t *x, const char *const *keys, int n)
{
    fputs("<thead><tr>", x->out);
    for (int i = 0; i < n; i++) {
        fputs("<th scope=\"col\">", x->out);
        fesc(x->out, fl(x, keys[i]));
        fputs("</th>", x->out);
    }
    fputs("</tr></thead>\n", x->out);
}

static double fval(const fctx_t *x, const char *chart, const char *series, const char *cat, int *ok)
{
    const fcell_t *c = fcell(x, chart, series, cat);
    *ok = c && !c->suppressed && c->has_value;
    return *ok ? c->value : 0;
}

/* ---------------------------------------------------------------- sections */

static const char *const CORNERS[][7] = {
    {"participation", "daytime_activity", "work", "social_contact", "family", "pet", "leisure"},
    {"living_environment", "housing", "finances", "safety_justice", "self_care", NULL, NULL},
    {"continuity_of_support", "physical_health", "mental_health", "addiction", NULL, NULL, NULL},
    {"unclassified", "other", NULL, NULL, NULL, NULL, NULL},
};
static const char *const MEASURES[] = {"acute_events", "acute_days", "alternative_events", "alternative_days",
                                       "police_use_calls", "confused_person_calls", "police_victim_calls"};
static const char *const PAYERS[] = {"municipality", "health_insurer", "long_term_care", "police",
                                     "justice", "housing_corporation", "other"};
#define NMEASURES (sizeof MEASURES / sizeof MEASURES[0])
#define NPAYERS (sizeof PAYERS / sizeof PAYERS[0])

static void section_participants(const fctx_t *x)
{
    fprintf(x->out, "<section><h2>%s</h2>\n<table class=\"kv\"><tbody>\n", fl(x, "h_participants"));
    fputs("<tr>", x->out);
    fth(x, "enrolled_all");
    ffig(x, "td", "overview.enrolment", "new", "all", K_INT);
    fputs("</tr>\n", x->out);
    static const struct { const char *key; int kind; } kpis[] = {
        {"enrolled_now", K_INT}, {"self_set_achieved_share", K_PCT}, {"mean_t_score", K_DEC1},
        {"mean_t_score_change", K_DEC1}};
    for (size_t i = 0; i < sizeof kpis / sizeof kpis[0]; i++) {
        fputs("<tr>", x->out);
        fth(x, kpis[i].key);
        ffig(x, "td", "overview.kpi", kpis[i].key, "all", kpis[i].kind);
        fputs("</tr>\n", x->out);
    }
    fputs("</tbody></table></section>\n", x->out);
}

static void section_goals(const fctx_t *x)
{
    static const char *const cols[] = {"", "set", "achieved", "open", "revised", "abandoned"};
    fprintf(x->out, "<section><h2>%s</h2><p>%s</p>\n<table>", fl(x, "h_goals"), fl(x, "goals_note"));
    fhead(x, cols, 6);
    fputs("<tbody>\n", x->out);
    for (size_t c = 0; c < sizeof CORNERS / sizeof CORNERS[0]; c++)
        for (int d = 0; d < 7 && CORNERS[c][d]; d++) {
            fprintf(x->out, "<tr%s>", d == 0 ? " class=\"group\"" : "");
            fputs(d ? "<th scope=\"row\" class=\"indent\">" : "<th scope=\"row\">", x->out);
            fesc(x->out, fl(x, CORNERS[c][d]));
            fputs("</th>", x->out);
            for (int s = 1; s < 6; s++)
                ffig(x, "td", "overview.goals", cols[s], CORNERS[c][d], K_INT);
            fputs("</tr>\n", x->out);
        }
    fputs("<tr class=\"total\">", x->out);
    fth(x, "all");
    for (int s = 1; s < 6; s++)
        ffig(x, "td", "overview.goals", cols[s], "all", K_INT);
    fputs("</tr>\n</tbody></table></section>\n", x->out);
}

static void section_crisis(const fctx_t *x, const char *win)
{
    static const char *const cols[] = {"measure", "count_before", "count_during", "rate_before", "rate_during"};
    fprintf(x->out, "<section><h2>%s</h2><p>%s</p>\n<table>", fl(x, "h_crisis"), fl(x, "crisis_note"));
    fhead(x, cols, 5);
    fputs("<tbody>\n", x->out);
    for (size_t m = 0; m < NMEASURES; m++) {
        fputs("<tr>", x->out);
        fth(x, MEASURES[m]);
        ffig(x, "td", "crisis.bd_count", MEASURES[m], "before", K_INT);
        ffig(x, "td", "crisis.bd_count", MEASURES[m], "during", K_INT);
        ffig(x, "td", "crisis.bd_rate", MEASURES[m], "before", K_DEC2);
        ffig(x, "td", "crisis.bd_rate", MEASURES[m], "during", K_DEC2);
        fputs("</tr>\n", x->out);
    }
    fputs("<tr class=\"total\">", x->out);
    fth(x, "person_months");
    ffig(x, "td", "crisis.person_months", "person_months", "before", K_DEC1);
    ffig(x, "td", "crisis.person_months", "person_months", "during", K_DEC1);
    fputs("<td></td><td></td></tr>\n</tbody></table>\n", x->out);

    static const char *const scols[] = {"measure", "n", "median_before", "median_during", "median_difference", "p_value"};
    const char *names[] = {"w"}, *values[] = {fl(x, win)};
    fprintf(x->out, "<h3>%s</h3><p>", fl(x, "h_spread"));
    fsub(x->out, fl(x, "spread_note"), names, values, 1);
    fputs("</p>\n<table>", x->out);
    fhead(x, scols, 6);
    fputs("<tbody>\n", x->out);
    for (size_t m = 0; m < NMEASURES; m++) {
        const char *ms = MEASURES[m];
        fputs("<tr>", x->out);
        fth(x, ms);
        ffig(x, "td", "evidence.stats", ms, "n", K_INT);
        for (int side = 0; side < 2; side++) {
            char a[40], b[40], c[40];
            snprintf(a, sizeof a, "median_%s_rate", side ? "during" : "before");
            snprintf(b, sizeof b, "q1_%s_rate", side ? "during" : "before");
            snprintf(c, sizeof c, "q3_%s_rate", side ? "during" : "before");
            fputs("<td class=\"num\">", x->out);
            ffig(x, "span", "evidence.stats", ms, a, K_DEC2);
            fputs(" (", x->out);
            ffig(x, "span", "evidence.stats", ms, b, K_DEC2);
            fputs("\u2013", x->out);
            ffig(x, "span", "evidence.stats", ms, c, K_DEC2);
            fputs(")</td>", x->out);
        }
        fputs("<td class=\"num\">", x->out);
        ffig(x, "span", "evidence.stats", ms, "median_difference", K_DEC2);
        fputs(" [", x->out);
        ffig(x, "span", "evidence.stats", ms, "boot_lo", K_DEC2);
        fputs("; ", x->out);
        ffig(x, "span", "evidence.stats", ms, "boot_hi", K_DEC2);
        fputs("]</td>", x->out);
        ffig(x, "td", "evidence.stats", ms, "p_value", K_DEC2);
        fputs("</tr>\n", x->out);
    }
    fputs("</tbody></table></section>\n", x->out);
}

static void section_mkba(const fctx_t *x, const char *win, int price_year, const char *factor)
{
    static const char *const cols[] = {"payer", "support_cost", "cost_before", "cost_expected",
                                       "cost_during", "benefit", "balance"};
    char y[16];
    snprintf(y, sizeof y, "%d", price_year);
    const char *names[] = {"w", "f", "y"}, *values[] = {fl(x, win), factor, y};
    fprintf(x->out, "<section class=\"break\"><h2>%s</h2><p>", fl(x, "h_mkba"));
    fsub(x->out, fl(x, "mkba_note"), names, values, 3);
    fputs("</p>\n<table class=\"mkba\">", x->out);
    fhead(x, cols, 7);
    fputs("<tbody>\n", x->out);
    for (size_t p = 0; p <= NPAYERS; p++) {
        const char *payer = p < NPAYERS ? PAYERS[p] : "total";
        fprintf(x->out, "<tr%s>", p < NPAYERS ? "" : " class=\"total\"");
        fpayer(x, payer);
        for (int c = 1; c < 7; c++)
            ffig(x, "td", "mkba.table", payer, cols[c], K_EUR);
        fputs("</tr>\n", x->out);
    }
    fprintf(x->out, "</tbody></table><p class=\"note\">%s</p></section>\n", fl(x, "caveat"));
}

/* The tornado chart as SVG: a bar per variation from its low to its high balance, the widest
 * first, the base balance as a line; a hidden variation gets a label and no bar. */
static void section_sensitivity(const fctx_t *x, const char *rtm_var, const char *range_pct)
{
    typedef struct { const char *series; double lo, hi; int ok; } var_t;
    var_t v[64];
    int n = 0, okb;
    double base = fval(x, "mkba.sensitivity", "rtm_factor", "balance_base", &okb);
    double mn = okb ? base : 0, mx = okb ? base : 0;
    for (int i = 0; i < x->ncells && n < 64; i++) {
        const fcell_t *c = &x->cells[i];
        if (strcmp(c->chart, "mkba.sensitivity") != 0 || strcmp(c->category, "balance_low") != 0)
            continue;
        int a, b;
        double lo = fval(x, "mkba.sensitivity", c->series, "balance_low", &a);
        double hi = fval(x, "mkba.sensitivity", c->series, "balance_high", &b);
        v[n] = (var_t){c->series, fmin(lo, hi), fmax(lo, hi), a && b};
        if (v[n].ok) {
            mn = fmin(mn, v[n].lo);
            mx = fmax(mx, v[n].hi);
        }
        n++;
    }
    for (int i = 1; i < n; i++) /* widest first, hidden last */
        for (int j = i; j > 0; j--) {
            double wj = v[j].ok ? v[j].hi - v[j].lo : -1, wp = v[j - 1].ok ? v[j - 1].hi - v[j - 1].lo : -1;
            if (wj <= wp)
                break;
            var_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    mn = fmin(mn, 0);
    mx = fmax(mx, 0);
    if (mx - mn < 1)
        mx = mn + 1;
    const double left = 250, width = 400, row = 22, top = 10;
    double h = top + n * row + 30;
#define FX(val) (left + ((val) - mn) / (mx - mn) * width)
    const char *names[] = {"r", "v"}, *values[] = {range_pct, rtm_var};
    fprintf(x->out, "<section class=\"break\"><h2>%s</h2><p>", fl(x, "h_sensitivity"));
    fsub(x->out, fl(x, "sens_note"), names, values, 2);
    fprintf(x->out, "</p>\n<figure><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 680 %.0f\" "
                    "width=\"680\" height=\"%.0f\" role=\"img\" aria-label=\"%s\">\n",
            h, h, fl(x, "h_sensitivity"));
    for (int i = 0; i < n; i++) {
        double y = top + i * row;
        fputs("<text x=\"244\" y=\"", x->out);
        fprintf(x->out, "%.1f\" text-anchor=\"end\" font-size=\"11\">", y + 14);
        if (strcmp(v[i].series, "rtm_factor") == 0)
            fesc(x->out, fl(x, "rtm"));
        else
            for (const char *p = v[i].series + strlen("unit_cost:"); *p; p++)
                fputc(*p == '_' ? ' ' : *p, x->out);
        fputs("</text>", x->out);
        if (v[i].ok)
            fprintf(x->out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" fill=\"#1f5fa8\"/>",
                    FX(v[i].lo), y + 3, fmax(FX(v[i].hi) - FX(v[i].lo), 1));
        else
            fprintf(x->out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">&lt;%d</text>", left + 4, y + 14, x->k);
        fputs("\n", x->out);
    }
    char a[96], b[96];
    ffmt(x, mn, K_EUR, a, sizeof a);
    ffmt(x, mx, K_EUR, b, sizeof b);
    fprintf(x->out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>", left,
            left + width, top + n * row + 2, top + n * row + 2);
    fprintf(x->out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%s</text>", left, h - 6, a);
    fprintf(x->out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%s</text>", left + width, h - 6, b);
    fprintf(x->out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"3 2\"/>",
            FX(0), FX(0), top, top + n * row);
    if (okb)
        fprintf(x->out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" stroke-width=\"2\"/>",
                FX(base), FX(base), top - 4, top + n * row + 4);
    fputs("</svg></figure>\n", x->out);
#undef FX
    static const char *const cols[] = {"variation", "value_low", "value_high", "balance_low", "balance_high"};
    fputs("<table>", x->out);
    fhead(x, cols, 5);
    fputs("<tbody>\n", x->out);
    for (int i = 0; i < n; i++) {
        int rtm = strcmp(v[i].series, "rtm_factor") == 0;
        fputs("<tr><th scope=\"row\">", x->out);
        if (rtm)
            fesc(x->out, fl(x, "rtm"));
        else
            for (const char *p = v[i].series + strlen("unit_cost:"); *p; p++)
                fputc(*p == '_' ? ' ' : *p, x->out);
        fputs("</th>", x->out);
        ffig(x, "td", "mkba.sensitivity", v[i].series, "value_low", rtm ? K_DEC2 : K_EUR);
        ffig(x, "td", "mkba.sensitivity", v[i].series, "value_high", rtm ? K_DEC2 : K_EUR);
        ffig(x, "td", "mkba.sensitivity", v[i].series, "balance_low", K_EUR);
        ffig(x, "td", "mkba.sensitivity", v[i].series, "balance_high", K_EUR);
        fputs("</tr>\n", x->out);
    }
    fputs("<tr class=\"total\">", x->out);
    fth(x, "balance");
    fputs("<td></td><td></td>", x->out);
    ffig(x, "td", "mkba.sensitivity", "rtm_factor", "balance_base", K_EUR);
    fputs("<td></td></tr>\n</tbody></table></section>\n", x->out);
}

static void section_yearly(const fctx_t *x)
{
    static const char *const cols[] = {"payer", "benefit_per_person_year", "cost_share"};
    fprintf(x->out, "<section class=\"keep\"><h2>%s</h2><p>%s</p>\n<table>", fl(x, "h_yearly"),
            fl(x, "yearly_note"));
    fhead(x, cols, 3);
    fputs("<tbody>\n", x->out);
    for (size_t p = 0; p < NPAYERS; p++) {
        fputs("<tr>", x->out);
        fpayer(x, PAYERS[p]);
        ffig(x, "td", "mkba.yearly", PAYERS[p], "benefit_per_person_year", K_EUR);
        ffig(x, "td", "mkba.yearly", PAYERS[p], "cost_share", K_PCT);
        fputs("</tr>\n", x->out);
    }
    fputs("</tbody></table></section>\n", x->out);
}

static int section_assumptions(const fctx_t *x, PGconn *conn, int price_year, char *errstr, size_t errlen)
{
    koers_pg_error_t err;
    PGresult *r = koers_pg_exec(conn, "SELECT item, per, amount_eur::float8, price_year, price::float8,"
                                " price_low::float8, price_high::float8, payers, source,"
                                " coalesce(payer_source, ''), range_source FROM dash.mkba_assumptions()"
                                " WHERE prices IS NOT NULL",
                                0, NULL, PGRES_TUPLES_OK, &err);
    if (!r)
        return koers_pg_errstr(&err, "dash.mkba_assumptions", errstr, errlen);
    char y[32];
    snprintf(y, sizeof y, "%s %d", fl(x, "price_in"), price_year);
    fprintf(x->out, "<section class=\"break\"><h2>%s</h2>\n<table class=\"small\"><thead><tr>", fl(x, "h_assumptions"));
    const char *heads[] = {fl(x, "item"), fl(x, "amount"), fl(x, "year"), y, fl(x, "low_high"), fl(x, "per"),
                           fl(x, "payers"), fl(x, "sources")};
    for (int i = 0; i < 8; i++) {
        fputs("<th scope=\"col\">", x->out);
        fesc(x->out, heads[i]);
        fputs("</th>", x->out);
    }
    fputs("</tr></thead><tbody>\n", x->out);
    for (int i = 0; i < PQntuples(r); i++) {
        char a[96], b[96], c[96], d[96];
        ffmt(x, strtod(PQgetvalue(r, i, 2), NULL), K_DEC2, a, sizeof a);
        ffmt(x, strtod(PQgetvalue(r, i, 4), NULL), K_DEC2, b, sizeof b);
        ffmt(x, strtod(PQgetvalue(r, i, 5), NULL), K_DEC2, c, sizeof c);
        ffmt(x, strtod(PQgetvalue(r, i, 6), NULL), K_DEC2, d, sizeof d);
        fputs("<tr><th scope=\"row\">", x->out);
        for (const char *p = PQgetvalue(r, i, 0); *p; p++)
            fputc(*p == '_' ? ' ' : *p, x->out);
        fprintf(x->out, "</th><td class=\"num\">%s</td><td>%s</td><td class=\"num\">%s</td>"
                        "<td class=\"num\">%s \u2013 %s</td><td>", a, PQgetvalue(r, i, 3), b, c, d);
        fesc(x->out, fl(x, PQgetvalue(r, i, 1)));
        fputs("</td><td>", x->out);
        fesc(x->out, PQgetvalue(r, i, 7));
        fputs("</td><td>", x->out);
        fesc(x->out, PQgetvalue(r, i, 8));
        fputs(" \u00b7 ", x->out);
        fesc(x->out, PQgetvalue(r, i, 9));
        fputs(" \u00b7 ", x->out);
        fesc(x->out, PQgetvalue(r, i, 10));
        fputs("</td></tr>\n", x->out);
    }
    PQclear(r);
    fputs("</tbody></table>\n", x->out);
    r = koers_pg_exec(conn, "SELECT year, cpi::float8, source FROM dash.price_index()", 0, NULL,
                      PGRES_TUPLES_OK, &err);
    if (!r)
        return koers_pg_errstr(&err, "dash.price_index", errstr, errlen);
    fprintf(x->out, "<h3>%s</h3><p>", fl(x, "h_cpi"));
    if (PQntuples(r) > 0)
        fesc(x->out, PQgetvalue(r, 0, 2));
    fprintf(x->out, "</p><table class=\"narrow\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>\n",
            fl(x, "year"), fl(x, "cpi"));
    for (int i = 0; i < PQntuples(r); i++) {
        char a[96];
        ffmt(x, strtod(PQgetvalue(r, i, 1), NULL), K_DEC1, a, sizeof a);
        fprintf(x->out, "<tr><th scope=\"row\">%s</th><td class=\"num\">%s</td></tr>\n", PQgetvalue(r, i, 0), a);
    }
    PQclear(r);
    fputs("</tbody></table></section>\n", x->out);
    return 0;
}

static void section_quality(const fctx_t *x)
{
    static const char *const cols[] = {"measure", "n", "full_coverage"};
    fprintf(x->out, "<section><h2>%s</h2><p>%s</p>\n<table>", fl(x, "h_quality"), fl(x, "quality_note"));
    fhead(x, cols, 3);
    fputs("<tbody>\n", x->out);
    for (size_t m = 0; m < NMEASURES; m++) {
        fputs("<tr>", x->out);
        fth(x, MEASURES[m]);
        ffig(x, "td", "evidence.stats", MEASURES[m], "n", K_INT);
        ffig(x, "td", "evidence.stats", MEASURES[m], "full_coverage", K_INT);
        fputs("</tr>\n", x->out);
    }
    fputs("</tbody></table></section>\n", x->out);
}

static const char FCSS[] =
    "@page{size:A4;margin:16mm 14mm 18mm 14mm;"
    "@bottom-left{content:\"koers \\00b7 %s\";font:9pt sans-serif;color:#555}"
    "@bottom-right{content:\"%s \" counter(page) \" %s \" counter(pages);font:9pt sans-serif;color:#555}}"
    "body{font:10.5pt/1.4 'DejaVu Sans',sans-serif;color:#1f2933}"
    "h1{font-size:18pt;margin:0 0 4mm}h2{font-size:13pt;margin:6mm 0 2mm;color:#1f5fa8}"
    "h3{font-size:11pt;margin:4mm 0 2mm}p{margin:0 0 2mm}"
    "table{border-collapse:collapse;width:100%%;margin:0 0 3mm;page-break-inside:auto}"
    "tr{page-break-inside:avoid}th,td{border-bottom:1px solid #d1d5db;padding:1.2mm 1.6mm;text-align:left;vertical-align:top}"
    "thead th{border-bottom:2px solid #1f2933;font-size:9pt}td.num,th.num{text-align:right;white-space:nowrap}"
    "tr.total th,tr.total td{font-weight:bold;border-top:2px solid #1f2933}tr.group th{font-weight:bold}"
    "th.indent{padding-left:6mm;font-weight:normal}table.kv{width:auto}table.narrow{width:auto}"
    "table.small{font-size:8pt}.sup{font-style:italic}.note{font-size:9pt;color:#374151}"
    "section.break{page-break-before:always}figure{margin:0 0 3mm}"
    /* A short table is not split: a row alone on the next page reads as a page of its own. */
    "section.keep{break-inside:avoid;page-break-inside:avoid}";

int report_funder_html(PGconn *conn, const char *lang, FILE *out, int *db_failed, char *errstr,
                       size_t errlen)
{
    fctx_t x = {.out = out, .en = strcmp(lang, "en") == 0, .k = 5};
    *db_failed = 1;
    koers_pg_error_t err;
    PGresult *meta = koers_pg_exec(conn, "SELECT as_of, to_char(generated_at AT TIME ZONE time_zone, 'YYYY-MM-DD HH24:MI'),"
                                   " suppressed_below, price_year, window_name, rtm_factor::float8,"
                                   " rtm_variation::float8, default_range::float8 FROM report.meta()",
                                   0, NULL, PGRES_TUPLES_OK, &err);
    if (!meta)
        return koers_pg_errstr(&err, "report.meta", errstr, errlen);
    if (PQntuples(meta) != 1) {
        snprintf(errstr, errlen, "report.meta: %d rows where one was expected", PQntuples(meta));
        PQclear(meta);
        return -1;
    }
    x.cells_res = koers_pg_exec(conn, "SELECT chart, series, category, value::float8, suppressed"
                                " FROM report.funder_cells()", 0, NULL, PGRES_TUPLES_OK, &err);
    if (!x.cells_res) {
        PQclear(meta);
        return koers_pg_errstr(&err, "report.funder_cells", errstr, errlen);
    }
    x.ncells = PQntuples(x.cells_res);
    x.cells = calloc(x.ncells ? (size_t)x.ncells : 1, sizeof *x.cells);
    if (!x.cells) {
        snprintf(errstr, errlen, "out of memory");
        PQclear(x.cells_res);
        PQclear(meta);
        *db_failed = 0;
        return -1;
    }
    for (int i = 0; i < x.ncells; i++) {
        fcell_t *c = &x.cells[i];
        c->chart = PQgetvalue(x.cells_res, i, 0);
        c->series = PQgetvalue(x.cells_res, i, 1);
        c->category = PQgetvalue(x.cells_res, i, 2);
        c->has_value = !PQgetisnull(x.cells_res, i, 3);
        c->value = c->has_value ? strtod(PQgetvalue(x.cells_res, i, 3), NULL) : 0;
        c->suppressed = strcmp(PQgetvalue(x.cells_res, i, 4), "t") == 0;
    }
    x.k = atoi(PQgetvalue(meta, 0, 2));
    const char *as_of = PQgetvalue(meta, 0, 0), *made = PQgetvalue(meta, 0, 1);
    int price_year = atoi(PQgetvalue(meta, 0, 3));
    char win[64], factor[32], variation[32], range[32], kbuf[16];
    snprintf(win, sizeof win, "window_%s", PQgetvalue(meta, 0, 4));
    ffmt(&x, strtod(PQgetvalue(meta, 0, 5), NULL), K_DEC2, factor, sizeof factor);
    ffmt(&x, strtod(PQgetvalue(meta, 0, 6), NULL), K_DEC2, variation, sizeof variation);
    ffmt(&x, strtod(PQgetvalue(meta, 0, 7), NULL) * 100, K_INT, range, sizeof range);
    snprintf(kbuf, sizeof kbuf, "%d", x.k);

    *db_failed = 0;
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\"><title>%s</title><style>",
            x.en ? "en" : "nl", fl(&x, "title"));
    fprintf(out, FCSS, as_of, fl(&x, "page"), fl(&x, "of"));
    fprintf(out, "</style></head><body>\n<header><h1>%s</h1>\n<p>", fl(&x, "title"));
    const char *kn[] = {"k"}, *kv[] = {kbuf};
    fsub(out, fl(&x, "intro"), kn, kv, 1);
    fprintf(out, "</p>\n<table class=\"kv\"><tbody><tr><th scope=\"row\">%s</th><td id=\"as-of\">%s</td></tr>"
                 "<tr><th scope=\"row\">%s</th><td id=\"made\">%s</td></tr></tbody></table></header>\n",
            fl(&x, "as_of"), as_of, fl(&x, "made"), made);
    section_participants(&x);
    section_goals(&x);
    /* The spread is that of the MKBA's window: report.funder_cells gives its evidence. */
    section_crisis(&x, win);
    section_mkba(&x, win, price_year, factor);
    section_sensitivity(&x, variation, range);
    section_yearly(&x);
    int rc = section_assumptions(&x, conn, price_year, errstr, errlen);
    if (rc != 0)
        *db_failed = 1;
    else
        section_quality(&x);
    fputs("</body></html>\n", out);
    free(x.cells);
    PQclear(x.cells_res);
    PQclear(meta);
    if (rc == 0 && ferror(out)) {
        snprintf(errstr, errlen, "writing the report: %s", strerror(errno));
        return -1;
    }
    return rc;
}

int report_print_pdf(const char *html_path, const char *pdf_path, char *errstr, size_t errlen)
{
    const char *chromium = getenv("KOERS_CHROMIUM");
    if (!chromium || !*chromium)
        chromium = "chromium";
    char out_arg[4200], url[4200];
    if ((size_t)snprintf(out_arg, sizeof out_arg, "--print-to-pdf=%s", pdf_path) >= sizeof out_arg ||
        (size_t)snprintf(url, sizeof url, "file://%s", html_path) >= sizeof url) {
        snprintf(errstr, errlen, "path too long");
        return -1;
    }
    char *const argv[] = {(char *)chromium, "--headless", "--no-sandbox", "--disable-gpu",
                          "--no-pdf-header-footer", "--allow-file-access-from-files", out_arg, url, NULL};
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        snprintf(errstr, errlen, "posix_spawn_file_actions_init failed");
        return -1;
    }
    /* chromium talks on stdout and stderr; the report's own stdout may be the document. */
    int e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (e == 0)
        e = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (e != 0) {
        posix_spawn_file_actions_destroy(&fa);
        snprintf(errstr, errlen, "posix_spawn_file_actions_addopen: %s", strerror(e));
        return -1;
    }
    pid_t pid;
    e = posix_spawnp(&pid, chromium, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        snprintf(errstr, errlen, "starting %s: %s", chromium, strerror(e));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(errstr, errlen, "waiting for %s: %s", chromium, strerror(errno));
            return -1;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(errstr, errlen, "%s could not print the report to PDF (status %d)", chromium, status);
        return -1;
    }
    FILE *f = fopen(pdf_path, "rb");
    char magic[5] = {0};
    if (!f || fread(magic, 1, 4, f) != 4 || memcmp(magic, "%PDF", 4) != 0) {
        if (f)
            fclose(f);
        snprintf(errstr, errlen, "%s wrote no PDF to %s", chromium, pdf_path);
        return -1;
    }
    fclose(f);
    return 0;
}
