#!/usr/bin/env python3
"""koers-dash over HTTP: no data without a session, hostile parameters refused or harmless,
logins throttled, sessions that end, the audit of micro-data, CSV exports, /metrics.

Starts a real koers-dash (built with the sanitizers by scripts/test) on a database filled
through the pipeline (tests/browser/dashfixture.py), and stops it with SIGTERM at the end:
it must exit 0 without a sanitizer report.

Environment: as the other e2e tests. Last line "N passed, M failed"; exit 1 on any failure.
"""
import json
import re
import secrets
import socket
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402
import test_measures_v2_csv as v2  # noqa: E402  (its day-by-day computation of Measures v2)

API = ("me", "overview", "crisis", "support", "cost", "quality", "unit_costs", "timeline",
       "participants", "users", "audit", "overview.csv", "timeline.csv", "participants.csv",
       "evidence", "evidence.csv", "paired", "paired.csv", "instruments", "instruments.csv")
PAGES = ("/", "/crisis", "/support", "/cost", "/quality", "/instruments", "/timeline", "/admin")
METRICS_TOKEN = "t-" + secrets.token_hex(16)
REFUSED = "the filter would single out too small a group"


def raw_request(port, data):
    """Sends raw bytes; returns the status line."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\r\n", 1)[0].decode("latin-1")
    finally:
        s.close()


def main():
    c = e2e.Checks("test_dashboard_api")
    token_file = Path(e2e.tempdir(c, "dash-metrics")) / "metrics.token"
    token_file.write_text(METRICS_TOKEN + "\n")
    token_file.chmod(0o600)
    fx = c.run(dashfixture.Fixture, c, "dashapi", ("--metrics-token-file", str(token_file)))
    if fx:
        c.run(checks, c, fx)
    c.finish()


def v2_people(db):
    """test_measures_v2_csv's Persons, from the stored events (voided ones left out) instead of
    its CSV rows: the computation itself is that test's, day by day, no SQL of the measures."""
    ps = defaultdict(v2.Person)
    voided = {r[0] for r in e2e.psql("SELECT target_event_id FROM koers.correction", db)}
    ms = "(extract(epoch FROM {0}) * 1000)::bigint"
    for pid, t, rec, eid, change, cohort in e2e.psql(
            f"SELECT participant, {ms.format('occurred_at')}, {ms.format('recorded_at')}, event_id, change,"
            " coalesce(cohort, '') FROM koers.enrolment", db):
        if eid not in voided:
            ps[pid].enrolment.append((int(t), f"{int(rec):015d}:{eid}", change, cohort))
    for pid, t, eid, source, kind, days, ref in e2e.psql(
            f"SELECT participant, {ms.format('occurred_at')}, event_id, source, kind, coalesce(days::text, ''),"
            " coalesce(episode_ref, '') FROM koers.crisis", db):
        if eid not in voided:
            ps[pid].crisis.append({"ms": int(t), "source": source, "kind": kind, "days": days, "episode_ref": ref})
    for pid, t, eid, kind in e2e.psql(f"SELECT participant, {ms.format('occurred_at')}, event_id, kind FROM koers.police_call", db):
        if eid not in voided:
            ps[pid].police.append((v2.local_day(int(t)), kind))
    return ps


# The measures whose days are known by the police sources' coverage (the others: crisis).
POLICE_MEASURES = {"police_use_calls", "confused_person_calls", "police_victim_calls"}


def measures_v2(c, fx, funder, ev):
    """The crisis page's v2 measures and the evidence per window, against test_measures_v2_csv's
    computation from the stored events; what funders get of them; the window parameter."""
    import datetime
    as_of = datetime.date.fromisoformat(e2e.psql("SELECT koers.today()", fx.db)[0][0])
    people = v2_people(fx.db)
    # The crisis page's before/during charts and the evidence count the known days only: a
    # day outside the stated coverage of a type adds neither events nor person-months to that
    # type's measures (docs/measures.md).
    known = v2.known_days_db(fx.db)
    exp = v2.expected_windows(people, as_of, known)
    pairs_of = v2.paired(exp, by_cohort=False)
    status, doc = ev.json("/api/crisis")
    cells = {(r["chart"], r["series"], r["category"]): r for r in doc["rows"]} if status == 200 else {}
    names = [r[0] for r in e2e.psql("SELECT unnest(koers.window_measure_names())", fx.db)]
    c.equal("crisis page: the measures are koers.window_measure_names()", list(v2.MEASURES), names)
    c.equal("crisis page: crisis.bd_count has exactly the v2 measures",
            sorted(names), sorted({k[1] for k in cells if k[0] == "crisis.bd_count"}))
    got, want = {}, {}
    for period, window in (("before", "before"), ("during", "per_protocol")):
        rows = [v for (pid, w), v in exp.items() if w == window]
        for m in names:
            n = sum(r[2][m] for r in rows)
            typ = "police_covered_days" if m in POLICE_MEASURES else "crisis_covered_days"
            pm = sum(Decimal(r[2][typ]) for r in rows) / v2.PM
            want[("crisis.bd_count", m, period)] = float(n)
            want[("crisis.bd_rate", m, period)] = float(v2.round4(n / pm))
            for chart in ("crisis.bd_count", "crisis.bd_rate"):
                cell = cells.get((chart, m, period))
                got[(chart, m, period)] = cell and cell["value"]
    c.equal("evaluator /api/crisis: the v2 counts and rates before and during equal the day-by-day computation "
            "from the events (stays on the days they cover, open ones to today)", want, got)
    c.ok("the fixture has days outside a source's stated coverage (the known days cut)",
         any(r[2]["crisis_covered_days"] < r[1] or r[2]["police_covered_days"] < r[1]
             for r in exp.values()), "some", "none")
    c.ok("the fixture has open stays and stays over a window bound",
         int(e2e.psql("SELECT count(*) FROM koers.open_stay", fx.db)[0][0]) > 0, "> 0", "none")

    # The evidence over all participants (no cohort filter), each window, against the same
    # computation: n, pooled and median rates, the signed-rank p and the bootstrap interval.
    # The windows are the database's list (koers.dash_window_names()); the server's own list
    # (api_windows in api.c) must accept each of them.
    windows = [r[0] for r in e2e.psql("SELECT unnest(koers.dash_window_names())", fx.db)]
    c.equal("the windows of the database", ["per_protocol", "intention_to_treat", "follow_up"], windows)
    bad, seen = [], 0
    for window in windows:
        status, doc = ev.json(f"/api/evidence?window={window}")
        if not c.ok(f"evaluator /api/evidence?window={window}", status == 200 and doc.get("window") == window, 200, (status, doc)):
            continue
        e = {(r["series"], r["category"]): r["value"] for r in doc["rows"] if r["chart"] == "evidence.stats"}
        for m in names:
            pairs = sorted(pairs_of.get((None, window, m), []))
            br = [v2.round4(Decimal(x[1]) * v2.PM / x[2]) for x in pairs]
            dr = [v2.round4(Decimal(x[3]) * v2.PM / x[4]) for x in pairs]
            diffs = [d - b for b, d in zip(br, dr)]
            want = {"n": len(pairs)}
            if pairs:
                _w, p, _method, _m = v2.signed_rank(diffs)
                lo, hi = v2.bootstrap(diffs)
                want.update({
                    "pooled_before_rate": v2.round4(sum(Decimal(x[1]) for x in pairs) * v2.PM / sum(x[2] for x in pairs)),
                    "pooled_during_rate": v2.round4(sum(Decimal(x[3]) for x in pairs) * v2.PM / sum(x[4] for x in pairs)),
                    "full_coverage": sum(1 for x in pairs if x[5]),
                    "median_before_rate": v2.round4(v2.quantile(br, "0.5")), "q3_during_rate": v2.round4(v2.quantile(dr, "0.75")),
                    "median_difference": v2.round4(v2.quantile(diffs, "0.5")), "p_value": p, "boot_lo": lo, "boot_hi": hi})
            for fig, val in want.items():
                seen += 1
                if e.get((m, fig)) is None or Decimal(str(e[(m, fig)])) != Decimal(val):
                    bad.append((window, m, fig, str(val), e.get((m, fig))))
    c.ok(f"evaluator /api/evidence: n, pooled and median rates, p and bootstrap interval of every window and measure "
         f"equal the day-by-day computation ({seen} figures)", not bad, "equal", bad[:4])

    # The window parameter: checked against the three names, by the server and the database.
    for w in ("before", "per-protocol", "PER_PROTOCOL", "per_protocol%27--", "x" * 40):
        status, doc = ev.json(f"/api/evidence?window={w}")
        c.ok(f"an invalid window is refused: {w[:20]}", status == 400 and doc.get("error") == "bad_parameter", 400, (status, doc))
    status, doc = ev.json("/api/paired?window=before")
    c.equal("an invalid window is refused by /api/paired too", 400, status)
    ok, out = e2e.run(["psql", "-X", "-At", "-d", fx.db, "-c", "SELECT koers.dash_window_check('before')"]).rc == 0, None
    c.ok("the database refuses a window of another name itself", not ok, "refused", "accepted")

    # Evaluators: the paired rates behind the slope chart, one row per participant and
    # measure, audited.
    status, doc = ev.json("/api/paired?window=per_protocol&cohort=zuid")
    pids = {r["participant"] for r in doc["rows"]} if status == 200 else set()
    c.ok("evaluator /api/paired: every participant of cohort zuid, 7 measures each", status == 200 and len(pids) == 24
         and len(doc["rows"]) == 24 * 7, "24 x 7", (status, len(pids)))
    last = e2e.psql("SELECT resource, action, detail->>'window', detail->>'participants' FROM koers.dash_audit"
                    " ORDER BY id DESC LIMIT 1", fx.db)
    c.equal("the paired rates are audited", [["paired", "view", "per_protocol", "24"]], last)

    # Funders: the aggregates, suppressed; never a participant's rates.
    for path in ("/api/paired", "/api/paired.csv", "/api/paired?window=follow_up"):
        status, _, body = funder.request(path)
        c.ok(f"funder: {path} is 403, no participant", status == 403 and not re.search(rb"[0-9a-f]{64}", body), 403, (status, body[:80]))
    status, doc = funder.json("/api/evidence?window=follow_up")
    body = json.dumps(doc)
    c.ok("funder /api/evidence: aggregates only (evidence.stats), no pseudonym",
         status == 200 and doc["rows"] and all(r["chart"] == "evidence.stats" for r in doc["rows"])
         and not re.search(r"[0-9a-f]{64}", body), "evidence.stats", (status, body[:120]))
    # With k = 10 the follow-up window (participants who exited) has fewer than k: its
    # rows leave as "<10", without a value.
    n_follow = {r["series"]: r["value"] for r in doc["rows"] if r["category"] == "n"}
    fx.sql("UPDATE koers.setting SET value = '10' WHERE name = 'min_cell'")
    try:
        status, doc10 = funder.json("/api/evidence?window=follow_up")
        status_ev, doc_ev = ev.json("/api/evidence?window=follow_up")
        status_pp, doc_pp = funder.json("/api/evidence?window=per_protocol")
    finally:
        fx.sql("UPDATE koers.setting SET value = '5' WHERE name = 'min_cell'")
    small = [m for m, n in n_follow.items() if n is not None and 1 <= n < 10]
    c.ok("the fixture's follow-up window has 5..9 participants", small, "some", n_follow)
    rows10 = [r for r in doc10["rows"] if r["series"] in small] if status == 200 else []
    c.ok("k = 10: every figure of a follow-up row with n < 10 is hidden from the funder, shown as <10, no value",
         rows10 and all(r["suppressed"] and r["value"] is None and r["shown_as"] == "<10" for r in rows10),
         "<10", [r for r in rows10 if not r["suppressed"]][:3])
    c.ok("k = 10: the evaluator still sees them", status_ev == 200 and all(not r["suppressed"] for r in doc_ev["rows"]),
         "shown", [r for r in doc_ev["rows"] if r["suppressed"]][:2])
    c.ok("k = 10: the per-protocol rows (every participant) stay shown to the funder",
         status_pp == 200 and all(not r["suppressed"] for r in doc_pp["rows"] if r["category"] == "n"),
         "shown", [r for r in doc_pp["rows"] if r["category"] == "n" and r["suppressed"]][:2])
    status, doc = funder.json("/api/evidence?cohort=klein")
    c.ok("funder: the evidence refuses a filter that isolates 3 participants (422)", status == 422, 422, (status, doc))


def instruments(c, fx, funder, ev):
    """The instruments page (synth's ZRM scores and stressors): the evaluator's ZRM direction
    and stressor cells against a computation here from the stored rows (voided ones left
    out); the funder's cells suppressed where 1..4 participants make them; a cohort of 3
    refused."""
    import datetime
    as_of = datetime.date.fromisoformat(e2e.psql("SELECT koers.today()", fx.db)[0][0])
    voided = {r[0] for r in e2e.psql("SELECT target_event_id FROM koers.correction", fx.db)}
    enrolled = {r[0]: datetime.date.fromisoformat(r[1]) for r in e2e.psql(
        "SELECT participant, first_enrolled FROM koers.participant WHERE first_enrolled IS NOT NULL", fx.db)}
    scores = defaultdict(list)
    for pid, dom, score, ms, rec, eid in e2e.psql(
            "SELECT participant, domain, score, (extract(epoch FROM occurred_at) * 1000)::bigint,"
            " (extract(epoch FROM recorded_at) * 1000)::bigint, event_id FROM koers.zrm_score", fx.db):
        day = v2.local_day(int(ms))
        if eid not in voided and day <= as_of and pid in enrolled and enrolled[pid] <= as_of:
            scores[(pid, dom)].append((int(ms), int(rec), eid, int(score)))
    want = defaultdict(int)
    for (pid, dom), xs in scores.items():
        xs.sort()
        if len(xs) > 1:
            b, l = xs[0][3], xs[-1][3]
            want[("up" if l > b else "down" if l < b else "same", dom)] += 1
            want[("paired", dom)] += 1
    status, doc = ev.json("/api/instruments")
    cells = {(r["series"], r["category"]): r for r in doc.get("rows", []) if r["chart"] == "instruments.zrm_direction"}
    got = {k: int(v["value"]) for k, v in cells.items() if v["value"]}
    c.ok("evaluator /api/instruments: the ZRM direction per domain equals the count from the stored scores",
         status == 200 and got == dict(want) and want, dict(sorted(want.items())[:4]), dict(sorted(got.items())[:4]))
    c.ok("the fixture's ZRM data move up, stay and move down", {k[0] for k in want} >= {"up", "same", "down"},
         "all three", {k[0] for k in want})
    status, fdoc = funder.json("/api/instruments")
    frows = {(r["chart"], r["series"], r["category"]): r for r in fdoc.get("rows", [])} if status == 200 else {}
    small = [k for k, n in want.items() if 1 <= n < 5]
    c.ok("funder /api/instruments: every ZRM direction cell of 1..4 participants is hidden (no value)",
         status == 200 and small and all(frows[("instruments.zrm_direction",) + k]["suppressed"]
                                         and frows[("instruments.zrm_direction",) + k]["value"] is None for k in small),
         "hidden", [k for k in small if not frows.get(("instruments.zrm_direction",) + k, {}).get("suppressed")][:3])
    c.ok("funder /api/instruments: no pseudonym in the answer", not re.search(r"[0-9a-f]{64}", json.dumps(fdoc)),
         "none", "a pseudonym")
    shown_small = [k for k, r in frows.items() if k[0] == "instruments.zrm_direction" and not r["suppressed"]
                   and r["value"] is not None and 1 <= r["value"] < 5]
    c.ok("funder: no shown ZRM direction count is 1..4", not shown_small, "none", shown_small[:3])
    status, _ = funder.json("/api/instruments?cohort=klein")
    c.equal("funder: the instruments refuse a filter that isolates 3 participants (422)", 422, status)
    status, _, body = ev.request("/api/instruments.csv?chart=instruments.housing")
    c.ok("evaluator: the housing table as CSV", status == 200 and b"instruments.housing" in body, 200, (status, body[:80]))


def checks(c, fx):
    anon = dashfixture.Client(fx.base)
    # ---- nothing without a session
    for name in API:
        status, headers, body = anon.request("/api/" + name)
        c.ok(f"no session: /api/{name} is 401 and carries no data", status == 401 and b"rows" not in body
             and b"participant" not in body, 401, (status, body[:120]))
    for page in PAGES:
        status, headers, _ = anon.request(page, headers={"Accept": "text/html"})
        c.ok(f"no session: {page} redirects to the login", status == 303 and headers.get("Location") == "/login",
             "303 /login", (status, headers.get("Location")))
    chart_lib = (e2e.repo_dir() / "dashboards" / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js").exists()
    for path, want in (("/static/app.js", 401), ("/static/chart.umd.min.js", 401 if chart_lib else 404), ("/login", 200),
                       ("/static/style.css", 200), ("/static/i18n.js", 200)):
        status, _, _ = anon.request(path)
        c.equal(f"no session: {path}", want, status)
    status, headers, _ = anon.request("/login")
    csp = headers.get("Content-Security-Policy", "")
    c.ok("security headers: CSP without inline script, frame-ancestors none",
         "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, "CSP", csp)
    c.equal("security headers: nosniff", "nosniff", headers.get("X-Content-Type-Options"))
    c.equal("security headers: no framing", "DENY", headers.get("X-Frame-Options"))

    # ---- logins: wrong passwords, throttling, the cookie
    name, password = fx.users["funder"]
    status, _, body = anon.login(name, "wrong-password")
    c.equal("wrong password: 401", 401, status)
    status, _, _ = anon.login("nobody-" + name, password)
    c.equal("unknown user: 401", 401, status)
    status, _, _ = anon.request("/login", {"user": name, "password": password}, headers={"Origin": "http://evil.example"})
    c.equal("login posted from another site: 403", 403, status)
    victim, victim_pw = fx.users["partner"]
    codes = [anon.login(victim, f"guess-{i}")[0] for i in range(7)]
    c.ok("a user name is throttled after 5 failures (429)", codes[:5] == [401] * 5 and codes[-1] == 429, "401 x5, then 429", codes)
    status, headers, _ = anon.login(victim, victim_pw)
    c.ok("while throttled, even the right password waits (429, Retry-After)", status == 429 and int(headers.get("Retry-After", "0")) > 0,
         "429", (status, headers.get("Retry-After")))
    failed = e2e.psql(f"SELECT count(*) FROM koers.dash_audit WHERE action = 'login_failed' AND user_name = '{victim}'", fx.db)[0][0]
    c.ok("failed logins are audited", int(failed) >= 5, ">= 5", failed)

    funder = dashfixture.Client(fx.base)
    status, headers, body = funder.login(name, password)
    cookie = headers.get("Set-Cookie", "")
    c.ok("login: 200 and a session cookie, HttpOnly, SameSite=Strict",
         status == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=" in cookie, "cookie", (status, cookie))
    token = dashfixture.session_of(funder)
    stored = e2e.psql("SELECT count(*) FROM koers.dash_session WHERE token_hash = sha256(decode("
                      f"'{token}', 'hex'))", fx.db)[0][0] if token else "0"
    c.equal("the database keeps the SHA-256 of the token, never the token", "1", stored)
    hashes = e2e.psql("SELECT password_hash FROM koers.dash_user", fx.db)
    c.ok("passwords are stored as Argon2id hashes only", all(h[0].startswith("$argon2id$") for h in hashes)
         and all(fx.users[r][1] not in h[0] for r in fx.users for h in hashes), "$argon2id$...", hashes[:1])

    # ---- the funder's data: suppressed, no micro-data
    status, doc = funder.json("/api/overview")
    c.ok("funder: overview", status == 200 and doc and doc.get("suppressed_below") == 5 and doc["rows"], "rows, k 5",
         (status, doc and doc.get("suppressed_below")))
    hidden = [r for r in doc["rows"] if r["suppressed"]] if doc else []
    c.ok("funder: some cells hidden, none with a value", hidden and all(r["value"] is None for r in hidden), "hidden cells", len(hidden))
    for name_ in ("timeline", "participants", "users", "audit", "timeline.csv", "participants.csv"):
        status, _, body = funder.request("/api/" + name_)
        c.ok(f"funder: /api/{name_} is 403", status == 403 and b"participant" not in body, 403, (status, body[:100]))
    status, headers, body = funder.request("/api/overview.csv?chart=overview.goals")
    lines = body.decode().splitlines()
    c.ok("funder: CSV of one chart, with <5 where hidden", status == 200 and headers.get("Content-Type", "").startswith("text/csv")
         and "attachment" in headers.get("Content-Disposition", "") and lines[0] == "chart,series,category,value,suppressed,shown_as"
         and all(l.startswith("overview.goals,") for l in lines[1:]) and any(l.endswith(",,t,<5") for l in lines[1:]),
         "text/csv", (status, lines[:3]))
    status, doc = funder.json("/api/crisis?cohort=klein")
    c.ok("funder: a filter that isolates 3 participants is refused (422)", status == 422 and doc.get("error") == "filter_refused",
         422, (status, doc))
    # Every refusal has the same text, whichever check refused (too few participants, or
    # too few apart from a wider setting): the text must not tell how small the group is.
    # With k = 30, cohort zuid (24) has too few and noord (40) differs from all (67) by too
    # few (test_dashboard_access.py checks the database's own reasons).
    fx.sql("UPDATE koers.setting SET value = '30' WHERE name = 'min_cell'")
    try:
        refusals = [funder.json(p) for p in ("/api/overview?cohort=zuid", "/api/overview?cohort=noord",
                                             "/api/crisis?cohort=klein")]
    finally:
        fx.sql("UPDATE koers.setting SET value = '5' WHERE name = 'min_cell'")
    c.ok("funder: refusals carry one generic text, not which check failed",
         all(st == 422 and d.get("message") == REFUSED for st, d in refusals), REFUSED,
         [(st, d.get("message")) for st, d in refusals])
    # The filter lists offered to a funder name no group too small to show; each offered
    # name is accepted. The evaluator sees every name.
    _, me_f = funder.json("/api/me")
    all_cohorts = [r[0] for r in e2e.psql("SELECT DISTINCT cohort FROM koers.participant ORDER BY 1", fx.db)]
    all_orgs = [r[0] for r in e2e.psql("SELECT DISTINCT source FROM koers.event_count_month ORDER BY 1", fx.db)]
    c.ok("funder: /api/me offers cohorts noord and zuid, not klein (3 participants)",
         me_f and me_f.get("cohorts") == ["noord", "zuid"], ["noord", "zuid"], me_f and me_f.get("cohorts"))
    offered = (me_f or {}).get("organisations", [])
    answers = {o: funder.json(f"/api/quality?organisation={o}")[0] for o in all_orgs}
    c.ok("funder: /api/me offers exactly the organisations a filter accepts",
         offered and offered == [o for o in all_orgs if answers[o] == 200] and set(answers.values()) <= {200, 422},
         [o for o in all_orgs if answers[o] == 200], (offered, answers))
    c.ok("funder: some organisation is not offered (the fixture has small ones)", len(offered) < len(all_orgs),
         f"fewer than {len(all_orgs)}", offered)

    # ---- hostile parameters: refused, or harmless
    counts_before = e2e.psql("SELECT (SELECT count(*) FROM koers.contact), (SELECT count(*) FROM koers.dash_user),"
                             " (SELECT count(*) FROM koers.participant)", fx.db)
    hostile = [
        "/api/overview?cohort=%27%20OR%201%3D1--", "/api/overview?cohort=noord%27%3B%20DROP%20TABLE%20koers.contact%3B--",
        "/api/overview?organisation=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/api/overview?from=2024-13",
        "/api/overview?to=2024-01-01%27%3A%3Adate", "/api/overview?chart=..%2F..%2Fetc%2Fpasswd",
        "/api/overview.csv?chart=overview.goals%27--", "/api/overview?cohort=" + "a" * 5000,
        "/api/overview?x=1", "/api/overview?cohort=noord&cohort=zuid&" + "&".join(f"p{i}=1" for i in range(20)),
        "/api/timeline?offset=-1", "/api/audit?limit=99999999999",
    ]
    for path in hostile:
        status, _, body = funder.request(path)
        c.ok(f"hostile parameter refused: {path[:70]}", status in (400, 403, 414, 431), "400", (status, body[:120]))
    for path in ("/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/api/../login",
                 "/api/..%2f..%2fetc%2fpasswd", "/../../etc/shadow", "/static/", "/static/app.js/../../../etc/passwd"):
        status, _, body = funder.request(path)
        c.ok(f"path traversal harmless: {path}", status in (400, 404) and b"root:" not in body, 404, (status, body[:80]))
    status, _, body = funder.request("/static/app.js%00.png")
    app_js = (e2e.repo_dir() / "dashboards" / "static" / "app.js").read_bytes()
    c.ok("a NUL in the path serves at most a file of the fixed list", status in (400, 404) or body == app_js,
         "404 or app.js", (status, body[:60]))
    status = raw_request(fx.port, b"GET /api/overview?" + b"a=" + b"b" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    c.ok("a 100 kB request line is refused", any(code in status for code in ("414", "431", "400", "413")), "414", status)
    status = raw_request(fx.port, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                  b"Content-Length: 20000\r\n\r\n" + b"user=" + b"x" * 19995)
    c.ok("an oversized login form is refused", "413" in status or "401" in status, "413", status)
    counts_after = e2e.psql("SELECT (SELECT count(*) FROM koers.contact), (SELECT count(*) FROM koers.dash_user),"
                            " (SELECT count(*) FROM koers.participant)", fx.db)
    c.equal("after the hostile requests the data are unchanged", counts_before, counts_after)
    status, _, _ = funder.request("/api/overview", method="DELETE")
    c.equal("other methods: 405", 405, status)

    # ---- the evaluator: micro-data, audited
    ename, epw = fx.users["evaluator"]
    ev = dashfixture.Client(fx.base)
    ev.login(ename, epw)
    audit0 = int(e2e.psql("SELECT count(*) FROM koers.dash_audit WHERE resource IN ('timeline', 'participants')", fx.db)[0][0])
    status, doc = ev.json("/api/timeline?limit=5&cohort=zuid")
    lanes = {r["lane"] for r in doc["rows"]} if status == 200 else set()
    c.ok("evaluator: timeline of 5 lanes of cohort zuid", status == 200 and len(lanes) == 5 and doc["lanes_total"] == 24
         and all(len(r["participant"]) == 64 for r in doc["rows"]), "5 lanes of 24", (status, len(lanes), doc and doc.get("lanes_total")))
    status, headers, body = ev.request("/api/participants.csv?cohort=noord")
    c.ok("evaluator: participants CSV (41 lines: header and 40)", status == 200 and len(body.decode().splitlines()) == 41,
         41, (status, len(body.decode().splitlines())))
    rows = e2e.psql("SELECT user_name, role, action, resource, detail->>'cohort', client FROM koers.dash_audit"
                    " WHERE resource IN ('timeline', 'participants') ORDER BY id", fx.db)[audit0:]
    c.equal("micro-data access audited: who, what, how, filters, from where",
            [[ename, "evaluator", "view", "timeline", "zuid", "127.0.0.1"], [ename, "evaluator", "export", "participants", "noord", "127.0.0.1"]], rows)
    status, doc = ev.json("/api/users")
    c.equal("evaluator: /api/users is 403", 403, status)
    status, doc = ev.json("/api/timeline?limit=501")
    c.ok("evaluator: /api/timeline?limit=501 is refused (400), the maximum named",
         status == 400 and "500" in (doc or {}).get("message", ""), 400, (status, doc))

    c.run(measures_v2, c, fx, funder, ev)
    c.run(instruments, c, fx, funder, ev)

    # ---- admin: users and audit, no micro-data
    aname, apw = fx.users["admin"]
    ad = dashfixture.Client(fx.base)
    ad.login(aname, apw)
    status, doc = ad.json("/api/users")
    c.ok("admin: users, without password hashes", status == 200 and len(doc["rows"]) == 4 and "password_hash" not in json.dumps(doc),
         "4 users", (status, doc and len(doc.get("rows", []))))
    status, doc = ad.json("/api/audit?limit=50")
    c.ok("admin: the audit trail", status == 200 and any(r["action"] == "login" for r in doc["rows"]), "rows", status)
    status, doc = ad.json("/api/audit?limit=10000")
    c.equal("admin: /api/audit?limit=10000 (the documented maximum) is allowed", 200, status)
    status, doc = ad.json("/api/audit?limit=10001")
    c.ok("admin: /api/audit?limit=10001 is refused (400) with the maximum named",
         status == 400 and "10000" in (doc or {}).get("message", ""), 400, (status, doc))
    status, _, _ = ad.request("/api/timeline")
    c.equal("admin: /api/timeline is 403", 403, status)

    # ---- sessions end: logout, idle time, expiry
    status, _, _ = funder.request("/logout", data=b"", headers={"Origin": fx.base})
    status2, _, _ = funder.request("/api/overview")
    c.ok("after logout the session is gone", status == 200 and status2 == 401, "200 then 401", (status, status2))
    e2e.psql(f"UPDATE koers.dash_session SET last_seen_at = now() - interval '2 hours' WHERE user_name = '{ename}'", fx.db)
    status, _, _ = ev.request("/api/me")
    c.equal("an idle session (past --session-idle) is refused", 401, status)
    ad_status0, _ = ad.json("/api/me")
    e2e.psql(f"UPDATE koers.dash_session SET expires_at = now() - interval '1 second' WHERE user_name = '{aname}'", fx.db)
    status, _, _ = ad.request("/api/me")
    c.ok("an expired session is refused", ad_status0 == 200 and status == 401, "200 then 401", (ad_status0, status))
    status, _, _ = anon.request("/api/me", headers={"Cookie": "koers_session=" + "0" * 64})
    c.equal("a made-up token is refused", 401, status)
    status, _, _ = anon.request("/api/me", headers={"Cookie": "koers_session=%27%20OR%201=1"})
    c.equal("a malformed token is refused", 401, status)

    # ---- /metrics: a bearer token always (every client of a reverse proxy is loopback)
    for what, hdrs in (("no token", {}), ("a wrong token", {"Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"}),
                       ("a prefix of the token", {"Authorization": "Bearer " + METRICS_TOKEN[:-4]}),
                       ("the token as a cookie", {"Cookie": "koers_session=" + METRICS_TOKEN})):
        status, _, body = anon.request("/metrics", headers=hdrs)
        c.ok(f"/metrics from loopback with {what}: 401, no figures", status == 401 and b"koers_" not in body, 401,
             (status, body[:80]))
    status, headers, body = anon.request("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
    text = body.decode()
    c.ok("/metrics: Prometheus text format", status == 200 and headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
         200, status)
    c.ok("/metrics: no totals of the data (events per type)", "koers_events_stored_total" not in text and "event_type=" not in text,
         "absent", [l for l in text.splitlines() if "event_type" in l][:3])
    lag = f'koers_consumer_lag{{group="{fx.group}",topic="{fx.prefix}contact",partition="0"}} 0'
    for what, line in (("rejects per topic", "koers_events_rejected_total{topic="), ("consumer lag per partition", lag),
                       ("request latencies", 'koers_dash_http_request_duration_seconds_bucket{route="api",le="0.5"}'),
                       ("requests per route and status", 'koers_dash_http_requests_total{route="login",code="401"}'),
                       ("login failures", "koers_dash_login_failures_total")):
        c.ok(f"/metrics: {what}", line in text, line, [l for l in text.splitlines() if line.split("{")[0] in l][:4])

if __name__ == "__main__":
    main()
