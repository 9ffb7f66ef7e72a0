#!/usr/bin/env python3
"""What each dashboard role may read, enforced by PostgreSQL (sql/0003_access.sql, sql/defs/60_access.sql).

Fills a database of its own through the real pipeline (tests/browser/dashfixture.py), makes a
login role in each group role (as Grafana would connect), and connects as each to try what it
may and may not do: raw and prepared tables, pseudonyms, the evaluators' and admins'
functions, the audit trail. Then it checks small-cell suppression against counts it makes
itself from the prepared tables (as superuser): every funder cell drawn from 1..k-1
participants is hidden, every shown cell is right, no relation (a total and its parts) has
exactly one hidden member, filters that isolate fewer than k are refused (also with k raised
to 30), and the web role cannot read another role's data with a session of the wrong role.

Environment: as the other e2e tests (KOERS_BIN, PG*, KOERS_BROKERS). Last line "N passed, M
failed"; exit 1 on any failure.
"""
import hashlib
import re
import secrets
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def as_role(db, role, sql):
    """(ok, rows or error text) of sql run by login role `role`."""
    r = e2e.run(["psql", "-X", "-At", "-F", "|", "-P", "null=NULL", "-v", "ON_ERROR_STOP=1",
                 "-U", role, "-d", db, "-c", sql], timeout=120)
    if r.rc != 0:
        return False, r.err.strip()
    return True, [line.split("|") for line in r.out.split("\n") if line]


def cells_of(rows):
    return {(r[0], r[1], r[2]): (None if r[3] == "NULL" else float(r[3]), r[4] == "t") for r in rows}


def check_relations(c, what, cells, relations):
    """No relation may have exactly one hidden member: it would be the total less the rest."""
    bad = []
    for rel in relations:
        members = [m for m in rel if m in cells]
        hidden = [m for m in members if cells[m][1]]
        if len(hidden) == 1:
            bad.append((rel[0], hidden[0]))
    c.ok(f"{what}: no relation with exactly one hidden cell ({len(relations)} relations)", not bad, "none", bad[:5])


def main():
    c = e2e.Checks("test_dashboard_access")
    fx = c.run(dashfixture.Fixture, c, "dashacc")
    if fx:
        c.run(checks, c, fx)
    c.finish()


def checks(c, fx):
    db = fx.db
    tag = secrets.token_hex(3)
    roles = {}
    for group, member in (("evaluator", "koers_evaluator"), ("funder", "koers_funder"),
                          ("partner", "koers_partner_" + dashfixture.PARTNER_ORG), ("admin", "koers_admin")):
        name = f"t{tag}_{group}"
        e2e.psql(f'CREATE ROLE "{name}" LOGIN IN ROLE {member}', db)
        c.cleanup(e2e.psql, f'DROP ROLE IF EXISTS "{name}"', db)
        roles[group] = name
    stranger = f"t{tag}_stranger"
    e2e.psql(f'CREATE ROLE "{stranger}" LOGIN', db)
    c.cleanup(e2e.psql, f'DROP ROLE IF EXISTS "{stranger}"', db)

    # ---- nobody reads tables: raw events, prepared rows, users, sessions, audit
    for who in list(roles.values()) + ["koers_dash", stranger]:
        for table in ("koers.contact", "koers.participant", "koers.goal_history", "koers.daily_use",
                      "koers.dash_user", "koers.dash_session", "koers.dash_audit"):
            ok, out = as_role(db, who, f"SELECT count(*) FROM {table}")
            c.ok(f"{who} cannot read {table}", not ok and "permission denied" in out, "permission denied", out)
    ok, out = as_role(db, stranger, "SELECT count(*) FROM dash.overview(NULL, NULL, NULL, NULL)")
    c.ok("a role outside the dashboard groups cannot call dash.overview", not ok and "permission denied" in out, "permission denied", out)
    ok, out = as_role(db, "koers_dash", "SELECT count(*) FROM dash.overview(NULL, NULL, NULL, NULL)")
    c.ok("koers_dash itself (no SET ROLE) cannot call dash.overview", not ok, "refused", out)
    for fn in ("koers.refresh_all()", "koers.dash_cells('overview', ('x', 'evaluator', NULL, false)::koers.dash_caller_row, NULL, NULL, current_date, NULL, NULL)",
               "koers.dash_partner_role('x')"):
        ok, out = as_role(db, "koers_dash", f"SELECT * FROM {fn}")
        c.ok(f"koers_dash cannot call {fn.split('(')[0]}", not ok and "permission denied" in out, "permission denied", out)

    # ---- micro-data and administration only for their roles
    micro = ("dash.timeline(NULL, NULL, NULL, NULL, 0, 5, 'page')", "dash.participants(NULL, NULL, NULL, 'page')")
    admin = ("dash.users()", "dash.audit_log(10)")
    for group, who in roles.items():
        for fn in micro:
            ok, out = as_role(db, who, f"SELECT count(*) FROM {fn}")
            c.ok(f"{group} {'may' if group == 'evaluator' else 'may not'} call {fn.split('(')[0]}",
                 ok == (group == "evaluator"), "allowed" if group == "evaluator" else "refused", out)
        for fn in admin:
            ok, out = as_role(db, who, f"SELECT count(*) FROM {fn}")
            c.ok(f"{group} {'may' if group == 'admin' else 'may not'} call {fn.split('(')[0]}",
                 ok == (group == "admin"), "allowed" if group == "admin" else "refused", out)

    # ---- aggregates for everyone; funders and partners see no pseudonym
    for group in ("funder", "partner"):
        for fn in ("overview", "crisis", "support", "cost", "quality"):
            ok, out = as_role(db, roles[group], f"SELECT * FROM dash.{fn}(NULL, NULL, NULL, NULL)")
            c.ok(f"{group} reads dash.{fn}", ok and len(out) > 0, "rows", out if not ok else len(out))
            if ok:
                text = "\n".join("|".join(r) for r in out)
                c.ok(f"{group}: dash.{fn} shows no pseudonym", not HEX64.search(text), "none", HEX64.findall(text)[:2])
                c.ok(f"{group}: dash.{fn} has no value where suppressed",
                     all(r[3] == "NULL" for r in out if r[4] == "t"), "NULL", [r for r in out if r[4] == "t" and r[3] != "NULL"][:3])

    # ---- change per participant: the aggregates for everyone, the paired rates (one row per
    # participant) for evaluators only, enforced by the database
    for group in ("funder", "partner", "admin"):
        ok, out = as_role(db, roles[group], "SELECT count(*) FROM dash.paired(NULL, NULL, NULL, 'per_protocol', 'page')")
        c.ok(f"{group} may not call dash.paired (per-participant rates)", not ok and "permission denied" in out, "refused", out)
    ok, out = as_role(db, roles["evaluator"], "SELECT count(DISTINCT participant) FROM dash.paired(NULL, NULL, NULL, 'per_protocol', 'page')")
    c.equal("evaluator: dash.paired has every participant", [["67"]], out)
    for group in ("funder", "partner"):
        for window in ("per_protocol", "intention_to_treat", "follow_up"):
            ok, out = as_role(db, roles[group], f"SELECT * FROM dash.evidence(NULL, NULL, NULL, NULL, '{window}')")
            text = "\n".join("|".join(r) for r in out)
            c.ok(f"{group}: dash.evidence {window}: aggregates only, no pseudonym, no value where suppressed",
                 ok and out and all(r[0] == "evidence.stats" for r in out) and not HEX64.search(text)
                 and all(r[3] == "NULL" for r in out if r[4] == "t"), "aggregates", out[:2])
    ok, out = as_role(db, roles["funder"], "SELECT * FROM dash.evidence(NULL, NULL, NULL, NULL, 'before')")
    c.ok("dash.evidence refuses a window of another name", not ok and "window is one of" in out, "refused", out)

    as_of = e2e.psql("SELECT (date_trunc('month', koers.today()) - interval '1 day')::date", db)[0][0]
    k = 5

    # ---- goals: independent counts (superuser) against what the funder and evaluator see
    goal_rows = rows = e2e.psql("SELECT g.participant, g.status, g.domain::text, koers.stability_corner(g.domain)"
                                f" FROM koers.goal_status_at('{as_of}') g JOIN koers.participant p USING (participant)"
                                f" WHERE p.first_enrolled <= '{as_of}'", db)
    count, people = defaultdict(int), defaultdict(set)
    domains = {r[0]: r[1] for r in e2e.psql("SELECT d::text, koers.stability_corner(d) FROM unnest(enum_range(NULL::koers.goal_change_domain)) d", db)}
    for p, status, domain, corner in rows:
        for s in (status, "set"):
            for g in (domain, corner, "all"):
                count[(s, g)] += 1
                people[(s, g)].add(p)
    statuses = ("open", "achieved", "revised", "abandoned")
    keys = [(s, g) for s in statuses + ("set",) for g in list(domains) + sorted(set(domains.values())) + ["all"]]
    ok, out = as_role(db, roles["funder"], "SELECT * FROM dash.overview(NULL, NULL, NULL, NULL) WHERE chart = 'overview.goals'")
    funder = cells_of(out)
    ok2, out2 = as_role(db, roles["evaluator"], "SELECT * FROM dash.overview(NULL, NULL, NULL, NULL) WHERE chart = 'overview.goals'")
    evaluator = cells_of(out2)
    small = [key for key in keys if 1 <= len(people[key]) < k]
    c.ok("the fixture has goal cells drawn from 1..4 participants", len(small) > 0, "> 0", len(small))
    c.equal("funder: every goal cell from 1..4 participants is hidden",
            [], [key for key in small if not funder.get(("overview.goals",) + key, (None, False))[1]])
    c.equal("funder: every goal cell shown has the independent count",
            [], [(key, funder[("overview.goals",) + key][0], count[key]) for key in keys
                 if ("overview.goals",) + key in funder and not funder[("overview.goals",) + key][1]
                 and funder[("overview.goals",) + key][0] != count[key]])
    c.equal("evaluator: every goal cell shown, with the independent count",
            [], [(key, evaluator.get(("overview.goals",) + key)) for key in keys
                 if evaluator.get(("overview.goals",) + key) != (float(count[key]), False)])
    relations = []
    for g in list(domains) + sorted(set(domains.values())) + ["all"]:
        relations.append([("overview.goals", "set", g)] + [("overview.goals", s, g) for s in statuses])
    for s in statuses + ("set",):
        for corner in set(domains.values()):
            relations.append([("overview.goals", s, corner)] + [("overview.goals", s, d) for d, cn in domains.items() if cn == corner])
        relations.append([("overview.goals", s, "all")] + [("overview.goals", s, cn) for cn in set(domains.values())])
    check_relations(c, "funder goals", funder, relations)

    # ---- crisis kinds before and during: independent counts from the prepared daily use as
    # at the as-of day (stays cut there, open stays to it); kinds are parts of acute_events
    # or alternative_events (Measures v2)
    alternative = {"respite_stay", "shelter_night"}
    rows = e2e.psql("SELECT d.participant, d.kind, d.period, d.events FROM koers.use_at('" + as_of + "') d"
                    " JOIN koers.participant p USING (participant)"
                    f" WHERE d.event_type = 'crisis' AND d.period IS NOT NULL"
                    f" AND p.first_enrolled <= '{as_of}'", db)
    count, people = defaultdict(int), defaultdict(set)
    for p, kind, period, n in rows:
        for s in (kind, "alternative_events" if kind in alternative else "acute_events"):
            count[(s, period)] += int(n)
            if int(n):
                people[(s, period)].add(p)
    ok, out = as_role(db, roles["funder"], "SELECT * FROM dash.crisis(NULL, NULL, NULL, NULL)")
    funder = cells_of(out)
    bad = [(key, funder.get(("crisis.kind",) + key), count[key]) for key in count
           if not funder[("crisis.kind",) + key][1] and funder[("crisis.kind",) + key][0] != count[key]]
    c.equal("funder: crisis counts by kind shown are the independent counts", [], bad)
    bad = [key for key in count if 1 <= len(people[key]) < k and not funder[("crisis.kind",) + key][1]]
    c.equal("funder: crisis kinds from 1..4 participants are hidden", [], bad)
    kinds = [r[0] for r in e2e.psql("SELECT unnest(enum_range(NULL::koers.crisis_kind))::text", db)]
    groups = {"acute_events": [kd for kd in kinds if kd not in alternative],
              "alternative_events": [kd for kd in kinds if kd in alternative]}
    police_use = [r[0] for r in e2e.psql("SELECT k::text FROM unnest(enum_range(NULL::koers.police_call_kind)) k"
                                         " WHERE k <> 'victim'", db)]
    ok, out = as_role(db, roles["funder"], "SELECT * FROM dash.cost(NULL, NULL, NULL, NULL)")
    check_relations(c, "funder crisis kinds and costs", {**funder, **cells_of(out)},
                    [[("crisis.kind", g, p)] + [("crisis.kind", kd, p) for kd in ks] for g, ks in groups.items() for p in ("before", "during")]
                    + [[("crisis.kind", g, p), ("crisis.bd_count", g, p)] for g in groups for p in ("before", "during")]
                    + [[("cost.total", g[:-7], p)] + [("crisis.kind", kd, p) for kd in ks] for g, ks in groups.items() for p in ("before", "during")]
                    + [[("cost.total", "crisis", p), ("cost.total", "acute", p), ("cost.total", "alternative", p)] for p in ("before", "during")]
                    + [[("crisis.bd_count", "police_use_calls", p), ("cost.total", "police", p)] for p in ("before", "during")]
                    + [[("cost.total", "police", p)] + [("crisis.police_kind", kd, p) for kd in police_use] for p in ("before", "during")]
                    + [[("crisis.bd_count", "confused_person_calls", p), ("crisis.police_kind", "confused_person", p)] for p in ("before", "during")])
    pop = int(e2e.psql(f"SELECT count(*) FROM koers.participant WHERE first_enrolled <= '{as_of}'", db)[0][0])
    c.equal("funder: person-months before cover every participant (cell shown)",
            False, funder[("crisis.person_months", "person_months", "before")][1])
    c.ok("fixture population", pop == 67, 67, pop)

    # ---- filters that isolate fewer than k participants are refused
    ok, out = as_role(db, roles["funder"], "SELECT count(*) FROM dash.overview('klein', NULL, NULL, NULL)")
    c.ok("funder: cohort klein (3 participants) is refused", not ok and "fewer than 5" in out, "refused", out)
    ok, out = as_role(db, roles["evaluator"], "SELECT count(*) FROM dash.overview('klein', NULL, NULL, NULL)")
    c.ok("evaluator: cohort klein is shown", ok, "rows", out)
    ok, out = as_role(db, roles["partner"], "SELECT count(*) FROM dash.crisis('zuid', NULL, NULL, NULL)")
    c.ok("partner: cohort zuid (24 participants) is allowed", ok, "rows", out)
    for org in ("politie", "huisarts", "opvang"):
        n = e2e.psql("SELECT count(*) FILTER (WHERE f), count(*) FILTER (WHERE NOT f) FROM ("
                     # From the raw events: a registration of the organisation, not voided.
                     " SELECT EXISTS (SELECT 1 FROM (SELECT participant, source, event_id FROM koers.enrolment"
                     " UNION ALL SELECT participant, source, event_id FROM koers.contact"
                     " UNION ALL SELECT participant, source, event_id FROM koers.crisis"
                     " UNION ALL SELECT participant, source, event_id FROM koers.goal_change"
                     " UNION ALL SELECT participant, source, event_id FROM koers.police_call) e"
                     f" WHERE e.participant = p.participant AND e.source = '{org}'"
                     " AND NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id)) AS f"
                     f" FROM koers.participant p WHERE p.first_enrolled <= '{as_of}') x", db)[0]
        inside, outside = int(n[0]), int(n[1])
        want_refused = inside < k or 0 < outside < k
        ok, out = as_role(db, roles["funder"], f"SELECT count(*) FROM dash.support(NULL, '{org}', NULL, NULL)")
        c.ok(f"funder: organisation {org} ({inside} in, {outside} out) {'refused' if want_refused else 'allowed'}",
             ok != want_refused, "refused" if want_refused else "allowed", out)

    # ---- k is a setting: raise it to 30
    e2e.psql("UPDATE koers.setting SET value = '30' WHERE name = 'min_cell'", db)
    try:
        ok, out = as_role(db, roles["funder"], "SELECT count(*) FROM dash.overview('zuid', NULL, NULL, NULL)")
        c.ok("k = 30: cohort zuid (24) is refused", not ok and "fewer than 30" in out, "refused", out)
        ok, out = as_role(db, roles["funder"], "SELECT count(*) FROM dash.overview('noord', NULL, NULL, NULL)")
        c.ok("k = 30: cohort noord (40) is refused: it differs from all cohorts by 27",
             not ok and "differs from a wider one" in out, "refused", out)
        ok, out = as_role(db, roles["funder"], "SELECT * FROM dash.overview(NULL, NULL, NULL, NULL) WHERE chart = 'overview.goals'")
        f30 = cells_of(out)
        people30 = defaultdict(set)
        for p, st, d, cn in goal_rows:
            for s in (st, "set"):
                for g in (d, cn, "all"):
                    people30[(s, g)].add(p)
        shown_small = [key for key in keys if ("overview.goals",) + key in f30
                       and not f30[("overview.goals",) + key][1] and 1 <= len(people30[key]) < 30]
        c.equal("k = 30: no goal cell from 1..29 participants is shown", [], shown_small)
        ok, out = as_role(db, roles["funder"], "SELECT suppressed_below FROM dash.whoami()")
        c.equal("k = 30: whoami tells the pages", [["30"]], out)
    finally:
        e2e.psql("UPDATE koers.setting SET value = '5' WHERE name = 'min_cell'", db)

    # ---- the web role: sessions decide, the role must be the session user's
    funder_user = fx.users["funder"][0]
    token = secrets.token_bytes(32)
    hashhex = hashlib.sha256(token).hexdigest()
    ok, out = as_role(db, "koers_dash", f"SELECT dash.auth_session_create('{funder_user}', '\\x{hashhex}'::bytea, 3600, 600, 'test')")
    c.ok("koers_dash creates a session", ok, "ok", out)
    begin = f"BEGIN; SELECT set_config('koers.dash_session', '{hashhex}', true);"
    ok, out = as_role(db, "koers_dash", begin + " SET LOCAL ROLE koers_funder;"
                      " SELECT count(*) FROM dash.overview(NULL, NULL, NULL, NULL) WHERE suppressed; COMMIT;")
    counts = [int(r[0]) for r in out if r[0].isdigit()] if ok else []
    c.ok("funder session as koers_funder: suppressed overview", counts and counts[-1] > 0, "> 0 hidden", out)
    ok, out = as_role(db, "koers_dash", begin + " SET LOCAL ROLE koers_evaluator;"
                      " SELECT count(*) FROM dash.timeline(NULL, NULL, NULL, NULL, 0, 5, 'page'); COMMIT;")
    c.ok("funder session with the evaluator role (a web-layer bug) reads no timeline",
         not ok and "not the role of the session" in out, "refused", out)
    ok, out = as_role(db, "koers_dash", begin + " SET LOCAL ROLE koers_evaluator;"
                      " SELECT count(*) FROM dash.overview(NULL, NULL, NULL, NULL) WHERE NOT suppressed; COMMIT;")
    c.ok("funder session with the evaluator role gets no unsuppressed overview",
         not ok and "not the role of the session" in out, "refused", out)
    ok, out = as_role(db, "koers_dash", begin + " SET LOCAL ROLE koers_funder;"
                      " SELECT count(*) FROM dash.timeline(NULL, NULL, NULL, NULL, 0, 5, 'page'); COMMIT;")
    c.ok("funder session as koers_funder cannot call dash.timeline", not ok and "permission denied" in out, "refused", out)
    e2e.psql(f"UPDATE koers.dash_session SET last_seen_at = now() - interval '1 hour' WHERE token_hash = '\\x{hashhex}'", db)
    ok, out = as_role(db, "koers_dash", begin + " SET LOCAL ROLE koers_funder;"
                      " SELECT count(*) FROM dash.overview(NULL, NULL, NULL, NULL); COMMIT;")
    c.ok("an idle session reads nothing", not ok and "no valid dashboard session" in out, "refused", out)
    ok, out = as_role(db, "koers_dash", f"SELECT count(*) FROM dash.auth_session('\\x{hashhex}'::bytea)")
    c.equal("an idle session is no session", [["0"]], out)

    # ---- audit trail: micro-data access is written by the database; append-only
    before = int(e2e.psql("SELECT count(*) FROM koers.dash_audit WHERE resource = 'timeline'", db)[0][0])
    as_role(db, roles["evaluator"], "SELECT count(*) FROM dash.timeline('noord', NULL, NULL, NULL, 0, 3, 'export')")
    rows = e2e.psql("SELECT user_name, role, action, detail->>'cohort', detail->>'participants' FROM koers.dash_audit"
                    " WHERE resource = 'timeline' ORDER BY id DESC LIMIT 1", db)
    after = int(e2e.psql("SELECT count(*) FROM koers.dash_audit WHERE resource = 'timeline'", db)[0][0])
    c.equal("timeline export audited: who, role, action, filters, how many", [[roles["evaluator"], "evaluator", "export", "noord", "3"]], rows)
    c.equal("one audit row per access", before + 1, after)
    ok, out = as_role(db, "koers_dash", "INSERT INTO koers.dash_audit (user_name, action, resource) VALUES ('x', 'view', 'test')")
    c.ok("koers_dash appends to the audit trail", ok, "ok", out)
    for stmt in ("UPDATE koers.dash_audit SET user_name = 'y'", "DELETE FROM koers.dash_audit",
                 "TRUNCATE koers.dash_audit", "INSERT INTO koers.dash_audit (id, action, resource) OVERRIDING SYSTEM VALUE VALUES (1, 'view', 'x')"):
        ok, out = as_role(db, "koers_dash", stmt)
        c.ok(f"koers_dash may not: {stmt.split(' SET')[0][:40]}", not ok, "refused", out)
    ok, out = as_role(db, fx_superuser(), "UPDATE koers.dash_audit SET user_name = 'y'")
    c.ok("not even the owner can change the audit trail", not ok and "append-only" in out, "refused", out)


def fx_superuser():
    import os
    return os.environ.get("PGUSER", "koers")


if __name__ == "__main__":
    main()
