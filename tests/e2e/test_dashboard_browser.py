#!/usr/bin/env python3
"""The dashboards in a real browser: headless Debian chromium driven by playwright-core
(tests/browser/dashboard.js; scripts/install-web --tests installs it from its lock file).

Logs in as each role through the login form, opens every page the role may open, reads every
figure shown (KPIs and table cells carry data-chart/-series/-category) and compares it with
the database: with the same function called by a login role of the same group, and for the
headline figures with counts made here from the prepared tables. A funder sees "<5" exactly
where the database hides a cell, and is refused the evaluator's and admin's pages. Checks the
basics of accessibility (landmarks, lang, labels, a table and a text alternative for every
chart), the English pages, runs axe-core (pinned in tests/browser/package-lock.json) on every page
of every role, the login and refusal pages too, with the chart tables opened, for the WCAG 2.1
A and AA rules and fails on any violation, and saves a screenshot of every page in tests/artifacts/dashboard/
(or $KOERS_ARTIFACTS_DIR/dashboard/).

Environment: as the other e2e tests; /usr/bin/chromium (scripts/install-deps) and npm.
Last line "N passed, M failed"; exit 1 on any failure.
"""
import json
import os
import re
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
ALL_PAGES = ["/", "/crisis", "/support", "/cost", "/quality", "/instruments"]
PLAN = {
    "funder": {"pages": ALL_PAGES, "forbidden": ["/timeline", "/admin"], "switchWindow": "intention_to_treat"},
    "partner": {"pages": ["/", "/support", "/cost"], "forbidden": ["/timeline"]},
    "evaluator": {"pages": ["/timeline", "/", "/crisis", "/instruments"], "forbidden": ["/admin"], "switchWindow": "intention_to_treat"},
    "admin": {"pages": ["/admin", "/cost"], "forbidden": ["/timeline"]},
}
PAGE_FN = {"/": "overview", "/crisis": "crisis", "/support": "support", "/cost": "cost", "/quality": "quality",
           "/instruments": "instruments"}


def parse_shown(text):
    """A figure as the page shows it (nl-NL): '1.234' 1234, '0,93', '78%', '€ 1.564', '-€ 12'.
    Returns (value, decimals, percent)."""
    t = text.replace("\u00a0", " ").replace("\u202f", " ").replace("€", "").replace(" ", "").replace("\u2212", "-")
    percent = t.endswith("%")
    t = t.rstrip("%").replace(".", "").replace(",", ".")
    decimals = len(t.split(".")[1]) if "." in t else 0
    return float(t), decimals, percent


def db_cells(db, role, fn, window=None):
    """The cells of a page function; the crisis page also shows dash.evidence of a window, the
    cost page dash.mkba (intention-to-treat, its default)."""
    sql = f"SELECT chart, series, category, value, suppressed FROM dash.{fn}(NULL, NULL, NULL, NULL)"
    if fn == "cost":
        sql += (" UNION ALL SELECT chart, series, category, value, suppressed"
                " FROM dash.mkba(NULL, NULL, NULL, NULL, 'intention_to_treat')")
    if window:
        sql += f" UNION ALL SELECT chart, series, category, value, suppressed FROM dash.evidence(NULL, NULL, NULL, NULL, '{window}')"
    r = e2e.run(["psql", "-X", "-At", "-F", "|", "-P", "null=NULL", "-U", role, "-d", db, "-c", sql])
    if r.rc != 0:
        raise RuntimeError(r.err)
    out = {}
    for line in r.out.splitlines():
        ch, s, g, v, sup = line.split("|")
        out[(ch, s, g)] = (None if v == "NULL" else float(v), sup == "t")
    return out


def compare_figures(c, who, page, figures, cells):
    wrong, hidden_ok, hidden_bad, missing = [], 0, [], []
    for f in figures:
        key = (f["chart"], f["series"], f["category"])
        if key not in cells:
            missing.append(key)
            continue
        value, suppressed = cells[key]
        if suppressed:
            if f["text"] == "<5" and f["suppressed"]:
                hidden_ok += 1
            else:
                hidden_bad.append((key, f["text"]))
            continue
        if f["text"] == "<5" or f["suppressed"]:
            hidden_bad.append((key, f["text"], "shown in the database"))
            continue
        shown, decimals, percent = parse_shown(f["text"])
        want = value * 100 if percent else value
        if abs(shown - want) > 0.5 * 10 ** -decimals + 1e-9:
            wrong.append((key, f["text"], value))
    c.ok(f"{who} {page}: every figure is a cell of the database", not missing, "none missing", missing[:5])
    c.ok(f"{who} {page}: {len(figures) - hidden_ok - len(hidden_bad)} figures shown equal the database",
         not wrong, "equal", wrong[:5])
    c.ok(f"{who} {page}: '<5' exactly where the database hides ({hidden_ok} cells)", not hidden_bad, "consistent", hidden_bad[:5])
    return hidden_ok


def axe_ok(c, who, axe):
    """axe-core ran its WCAG 2.1 A/AA rules (some apply to every page: lang, title, contrast)
    and found no violation; a failure names rule, count and the first nodes."""
    violations = axe["violations"]
    c.ok(f"{who}: axe-core, WCAG 2.1 A and AA: {axe['rules']} rules applied, no violations",
         axe["rules"] >= 10 and violations == [], ">= 10 rules, no violations",
         [axe["rules"]] + [(v["id"], v["count"], [n["target"] + " " + n["html"] for n in v["nodes"][:2]]) for v in violations])


def run_browser(c, fx, users, lang, tag):
    plan = {"base": fx.base, "out": str(dashfixture.artifacts_dir()), "lang": lang, "screenshotLogin": lang == "nl",
            "users": users}
    plan_path = Path(e2e.tempdir(c, "dash-plan")) / f"plan-{tag}.json"
    plan_path.write_text(json.dumps(plan))
    r = e2e.run(["node", str(BROWSER_DIR / "dashboard.js"), str(plan_path)], timeout=600)
    if not c.ok(f"browser run ({tag}) completes", r.rc == 0, "exit 0", r.describe()):
        return None
    return json.loads(r.out)


def main():
    c = e2e.Checks("test_dashboard_browser")
    r = e2e.run([str(e2e.repo_dir() / "scripts" / "install-web"), "--tests"], timeout=600)
    ok = c.program("scripts/install-web --tests", r)
    c.ok("Debian's chromium is installed", os.access("/usr/bin/chromium", os.X_OK), "/usr/bin/chromium", "missing")
    if ok and os.access("/usr/bin/chromium", os.X_OK):
        fx = c.run(dashfixture.Fixture, c, "dashweb")
        if fx:
            c.run(checks, c, fx)
    c.finish()


def checks(c, fx):
    db = fx.db
    tag = secrets.token_hex(3)
    members = {"evaluator": "koers_evaluator", "funder": "koers_funder", "admin": "koers_admin",
               "partner": "koers_partner_" + dashfixture.PARTNER_ORG}
    db_role = {}
    for role, group in members.items():
        name = f"t{tag}_{role}"
        e2e.psql(f'CREATE ROLE "{name}" LOGIN IN ROLE {group}', db)
        c.cleanup(e2e.psql, f'DROP ROLE IF EXISTS "{name}"', db)
        db_role[role] = name

    users = [{"name": fx.users[role][0], "password": fx.users[role][1], "role": role, **PLAN[role]} for role in PLAN]
    result = run_browser(c, fx, users, "nl", "nl")
    if not result:
        return
    unexpected = [e for e in result["consoleErrors"] if "403" not in e and "favicon" not in e and "404" not in e
                  and "400" not in e]  # 400: the bad window the script asks for on purpose
    c.equal("no script errors in the browser console", [], unexpected)

    as_of_funder = e2e.psql("SELECT (date_trunc('month', koers.today()) - interval '1 day')::date", db)[0][0]
    for ur in result["users"]:
        role = ur["role"]
        axe_ok(c, f"{role} /login", ur["loginAxe"])
        for page_key, d in ur["pages"].items():
            page, _, window = page_key.partition("#")
            window = window or ("per_protocol" if page == "/crisis" else None)
            who = f"{role} {page_key}"
            axe_ok(c, who, d["axe"])
            c.ok(f"{who}: 200 and rendered", d["status"] == 200 and d["ready"] == "true" and not d["error"], "ready",
                 (d["status"], d["ready"], d["error"]))
            c.equal(f"{who}: landmarks header, nav, main, footer", {"main": 1, "nav": 1, "header": 1, "footer": 1}, d["landmarks"])
            c.equal(f"{who}: <html lang>", "nl", d["lang"])
            c.equal(f"{who}: every input and select has a label", 0, d["unlabelled"])
            c.ok(f"{who}: every chart drawn, with a text alternative", all(cv["drawn"] and cv["label"] for cv in d["canvases"]),
                 "drawn, labelled", d["canvases"][:3])
            c.ok(f"{who}: a table behind every chart", d["tables"] >= len(d["canvases"]), f">= {len(d['canvases'])}", d["tables"])
            shot = Path(d["screenshot"])
            c.ok(f"{who}: screenshot {shot.name}", shot.exists() and shot.stat().st_size > 20000, "> 20 kB",
                 shot.stat().st_size if shot.exists() else "missing")
            if page in PAGE_FN:
                c.ok(f"{who}: figures on the page", len(d["figures"]) > 5, "> 5", len(d["figures"]))
                cells = db_cells(db, db_role[role], PAGE_FN[page], window)
                hidden = compare_figures(c, role, page_key, d["figures"], cells)
                if role in ("funder", "partner") and page in ("/", "/quality", "/instruments"):
                    c.ok(f"{who}: small cells shown as <5", hidden > 0, "> 0", hidden)
                if role in ("evaluator", "admin"):
                    c.equal(f"{who}: nothing hidden from an {role}", 0, hidden)
                if page in ("/", "/crisis", "/cost", "/support", "/instruments"):
                    c.ok(f"{who}: every chart's data downloadable as CSV", len(d["csvLinks"]) >= len(d["canvases"]),
                         f">= {len(d['canvases'])}", d["csvLinks"][:3])
        for page, f in ur["forbidden"].items():
            c.ok(f"{role}: refused {page} (403, 'Geen toegang')", f["status"] == 403 and "Geen toegang" in f["text"],
                 "403", {k: v for k, v in f.items() if k != "axe"})
            axe_ok(c, f"{role} {page} (refused)", f["axe"])
        api = ur["api"]
        want = {"/api/timeline": 200 if role == "evaluator" else 403, "/api/participants": 200 if role == "evaluator" else 403,
                "/api/users": 200 if role == "admin" else 403, "/api/audit": 200 if role == "admin" else 403, "/api/overview": 200,
                "/api/paired": 200 if role == "evaluator" else 403, "/api/evidence": 200, "/api/evidence?window=before": 400}
        c.equal(f"{role}: the API as the page's script sees it", want, api)

    by_role = {ur["role"]: ur for ur in result["users"]}
    # Headline figures against counts made here, not by the dashboard's functions.
    funder_figs = {(f["chart"], f["series"], f["category"]): f["text"] for f in by_role["funder"]["pages"]["/"]["figures"]}
    participants = e2e.psql(f"SELECT count(*) FROM koers.participant WHERE first_enrolled <= '{as_of_funder}'", db)[0][0]
    c.equal("funder overview: participants = enrolled by the as-of date", participants,
            funder_figs.get(("overview.enrolment", "new", "all")))
    achieved = e2e.psql(f"SELECT count(*) FROM koers.goal_status_at('{as_of_funder}') g JOIN koers.participant p"
                        f" USING (participant) WHERE p.first_enrolled <= '{as_of_funder}' AND g.status = 'achieved'", db)[0][0]
    c.equal("funder overview: goals achieved", f"{int(achieved):,}".replace(",", "."), funder_figs.get(("overview.goals", "achieved", "all")))
    crisis_figs = {(f["chart"], f["series"], f["category"]): f["text"] for f in by_role["funder"]["pages"]["/crisis"]["figures"]}
    # Measures v2: crisis_* of before_during_cohort is acute crisis, police_* police use.
    bd = e2e.psql(f"SELECT sum(crisis_before), sum(crisis_during), sum(alternative_before), sum(alternative_during),"
                  f" sum(police_before), sum(police_during), sum(victim_before), sum(victim_during)"
                  f" FROM koers.before_during_cohort('{as_of_funder}')", db)[0]
    nl = lambda n: f"{int(n):,}".replace(",", ".")  # noqa: E731
    c.equal("funder crisis: acute, alternatives, police use and victim calls before/during = koers.before_during_cohort",
            [nl(x) for x in bd], [crisis_figs.get(("crisis.bd_count", m, p)) for m in
                                  ("acute_events", "alternative_events", "police_use_calls", "police_victim_calls")
                                  for p in ("before", "during")])

    # Change per participant: the section, the window select, and the slope chart for evaluators only.
    for role in ("funder", "evaluator"):
        first = by_role[role]["pages"]["/crisis"]["evidence"]
        switched = by_role[role]["pages"].get("/crisis#intention_to_treat", {}).get("evidence")
        c.ok(f"{role} crisis: the evidence section, per-protocol by default, 7 measures",
             first and first["window"] == "per_protocol" and first["rows"] == 7 and first["windowLabel"], "shown", first)
        c.ok(f"{role} crisis: a note says what the test and the interval mean",
             first and "Wilcoxon" in (first["note"] or "") and "95%" in (first["note"] or ""), "note", first and first["note"])
        c.ok(f"{role} crisis: choosing intention-to-treat loads it again in place",
             switched and switched["window"] == "intention_to_treat" and "intention-to-treat" in switched["status"]
             and by_role[role]["pages"]["/crisis#intention_to_treat"]["url"].endswith("window=intention_to_treat"),
             "reloaded", switched)
    paired = int(e2e.psql(f"SELECT count(DISTINCT participant) FROM koers.window_paired(koers.today())"
                          f" WHERE window_name = 'per_protocol'", db)[0][0])
    ev = by_role["evaluator"]["pages"]["/crisis"]["evidence"]
    c.ok(f"evaluator crisis: slope chart with one line per participant ({paired}) and the median, and its table",
         ev and ev["slope"] and ev["slopeLines"] == paired + 1 and ev["slopeRows"] == paired, f"{paired} + 1 lines",
         ev and (ev["slope"], ev["slopeLines"], ev["slopeRows"]))
    fe = by_role["funder"]["pages"]["/crisis"]["evidence"]
    c.ok("funder crisis: no slope chart", fe and not fe["slope"] and fe["slopeRows"] == 0, "none", fe)
    audited = e2e.psql(f"SELECT count(*) FROM koers.dash_audit WHERE user_name = '{fx.users['evaluator'][0]}'"
                       " AND resource = 'paired' AND action = 'view'", db)[0][0]
    c.ok("evaluator: the slope chart's views are in the audit trail", int(audited) >= 2, ">= 2", audited)
    cost_figs = {(f["chart"], f["series"], f["category"]): f["text"] for f in by_role["funder"]["pages"]["/cost"]["figures"]}
    cb = e2e.psql(f"SELECT round(sum(support_cost_during)) FROM koers.cost_benefit_cohort('{as_of_funder}')", db)[0][0]
    c.ok("funder cost: support cost = koers.cost_benefit_cohort", parse_shown(cost_figs.get(("cost.total", "support", "during"), "0"))[0] == float(cb),
         cb, cost_figs.get(("cost.total", "support", "during")))
    c.ok("funder cost: the unit costs with their sources are shown", by_role["funder"]["pages"]["/cost"]["tables"] >= 3, ">= 3 tables",
         by_role["funder"]["pages"]["/cost"]["tables"])

    # The MKBA on the cost page, for the roles that see it suppressed (their figures are
    # compared with dash.mkba above): the table per stakeholder, the tornado and its table,
    # who cashes in, the prices with their payers and the index; the label promises what it
    # shows ("Indicatieve MKBA" on the section with the table, not on the page's title).
    payers = int(e2e.psql("SELECT count(*) FROM koers.payer", db)[0][0])
    years = int(e2e.psql("SELECT count(*) FROM koers.price_index", db)[0][0])
    for role in ("funder", "partner", "admin"):
        mk = by_role[role]["pages"]["/cost"]["mkba"]
        variations = len({s for (ch, s, g) in db_cells(db, db_role[role], "cost") if ch == "mkba.sensitivity"})
        c.ok(f"{role} cost: the MKBA section, intention-to-treat by default, 'Indicatieve MKBA' in its heading",
             mk and mk["window"] == "intention_to_treat" and "Indicatieve MKBA" in (mk["heading"] or ""), "shown",
             mk and (mk["window"], mk["heading"]))
        c.ok(f"{role} cost: the MKBA table has a row per stakeholder ({payers}) and the total",
             mk and mk["rows"] == payers + 1, payers + 1, mk and mk["rows"])
        c.ok(f"{role} cost: the tornado chart drawn with a bar per variation of dash.mkba ({variations}), and its table",
             mk and mk["tornado"] and mk["tornadoBars"] == variations and mk["tornadoRows"] == variations and variations > 1,
             variations,
             mk and (mk["tornado"], mk["tornadoBars"], mk["tornadoRows"]))
        c.ok(f"{role} cost: who cashes in per stakeholder, the index ({years} years)",
             mk and mk["yearlyRows"] == payers and mk["cpiRows"] == years, (payers, years),
             mk and (mk["yearlyRows"], mk["cpiRows"]))
        c.ok(f"{role} cost: the null alternative is stated", mk and "Nulalternatief" in mk["text"], "stated", None)
        c.ok(f"{role} cost: the page title does not promise an MKBA", "MKBA" not in by_role[role]["pages"]["/cost"]["h1"],
             "no MKBA in h1", by_role[role]["pages"]["/cost"]["h1"])

    tl = by_role["evaluator"]["pages"]["/timeline"]
    # The lanes are every participant enrolled by the as-of date, counted here from the raw
    # enrolment table rather than through the dashboard's own functions.
    lanes = int(e2e.psql("SELECT count(DISTINCT participant) FROM koers.enrolment"
                         " WHERE change = 'enrolled' AND event_id NOT IN (SELECT target_event_id FROM koers.correction)", db)[0][0])
    c.ok(f"evaluator: timeline of the first 20 of {lanes} participants",
         tl["timelineLanes"] and re.search(rf"1.20 van {lanes}\b", tl["timelineLanes"]),
         f"1-20 van {lanes}", tl["timelineLanes"])
    ename = fx.users["evaluator"][0]
    audited = e2e.psql(f"SELECT count(*) FROM koers.dash_audit WHERE user_name = '{ename}' AND resource = 'timeline' AND action = 'view'", db)[0][0]
    c.ok("evaluator: the timeline view is in the audit trail", int(audited) >= 1, ">= 1", audited)
    own = [f for f in by_role["partner"]["pages"]["/support"]["figures"] if f["chart"] == "support.own_mode"]
    c.ok("partner: own organisation's contacts per month and mode", len(own) > 20, "> 20 figures", len(own))
    c.ok("funder: no own-organisation chart", not [f for f in by_role["funder"]["pages"]["/support"]["figures"] if f["chart"] == "support.own_mode"],
         "none", "some")

    # English.
    result = run_browser(c, fx, [{"name": fx.users["funder"][0], "password": fx.users["funder"][1], "role": "funder-en",
                                  "pages": ["/", "/cost"], "forbidden": []}], "en", "en")
    if result:
        axe_ok(c, "English /login", result["users"][0]["loginAxe"])
        for page, d in result["users"][0]["pages"].items():
            c.ok(f"English {page}: lang en, English heading", d["lang"] == "en" and d["h1"] in ("Overview", "Costs and benefits"),
                 "en", (d["lang"], d["h1"]))
            axe_ok(c, f"English {page}", d["axe"])
    print(f"# screenshots: {dashfixture.artifacts_dir()}")


if __name__ == "__main__":
    main()
