#!/usr/bin/env python3
"""End-to-end test of the measures (sql/defs/) and koers-report on a real PostgreSQL.

Creates a fresh database, applies the migrations with `koers-consume --migrate`, loads a small
fixture the way the consumer stores a batch (INSERT ... ON CONFLICT (event_id) DO NOTHING into
the koers.* event tables, the rows inserted copied into the session's staging tables, then
SELECT koers.apply_staged(), one transaction per batch): a first import, a second batch, late
events, corrections, and a re-import of the first file. Then all of it again in a second
database with the rebuild hook, SELECT koers.refresh_participants(<the batch's participants>),
instead of koers.apply_staged(): both must give the same figures. Then it runs the pgTAP files in tests/sql/ (hand-computed
expectations), checks that koers.refresh_all() rebuilds the same prepared tables, and runs
koers-report in text, csv and json on the fixture.

The expected figures are constants worked out by hand in tests/sql/measures.sql and below; the
fixture itself is documented event by event in FIXTURE.

Environment: KOERS_BIN (CMake build directory with koers-consume and koers-report),
KOERS_SOURCE_DIR (the checkout), and libpq's PG* variables (eval "$(scripts/services env)").
KOERS_KEEP_DB=1 keeps the database for inspection. Last line: "N passed, M failed"; exit 1 on
any failure.
"""
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

SRC = Path(os.environ.get("KOERS_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ.get("KOERS_BIN", SRC / "build"))
DB = f"koers_measures_{os.getpid()}"
# The batch hook under test: "apply_staged" (what koers-consume calls) or "refresh_participants".
HOOK = "apply_staged"
NS = uuid.UUID("6f1c7f3e-2b1a-4d8e-9c55-0a4b6f3d2e10")

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {what}")
    else:
        failed += 1
        print(f"FAILED - {what}" + (f": {detail}" if detail else ""))


def pseudonym(name):
    # The same as encode(sha256(convert_to(name, 'UTF8')), 'hex') in tests/sql/measures.sql.
    return hashlib.sha256(name.encode()).hexdigest()


def psql(sql, db=None, check_rc=True):
    db = db or DB
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", "-d", db],
                       input=sql, text=True, capture_output=True, timeout=600)
    if check_rc and r.returncode != 0:
        raise RuntimeError(f"psql failed ({r.returncode}):\n{r.stderr}\n--- sql ---\n{sql[:2000]}")
    return r.stdout


# ------------------------------------------------------------------------------ the fixture
# (type, record key, participant name, occurred_at with its offset, lateness in minutes,
#  source, own fields). Europe/Amsterdam: +01:00 in winter, +02:00 from the last Sunday of
# March. Comments say where each event must count (as of 2025-06-30).
A, B, C, D = "A", "B", "C", "D"


def enr(key, who, at, change, cohort="grn1", late=1440, source="ggz"):
    return ("enrolment", key, who, at, late, source, {"change": change, "cohort": cohort})


def con(key, who, at, role, mode, by, minutes, late=1440, source="ggz"):
    return ("contact", key, who, at, late, source,
            {"with_role": role, "mode": mode, "initiated_by": by, "duration_min": minutes,
             "planned": True})


def cri(key, who, at, kind, days, late=1440, source="crisis_svc"):
    return ("crisis", key, who, at, late, source, {"kind": kind, "days": days})


def pol(key, who, at, kind, late=1440, caller="public", outcome="advice", source="police"):
    return ("police_call", key, who, at, late, source,
            {"kind": kind, "caller": caller, "outcome": outcome})


def goal(key, who, at, ref, domain, change, set_by, gas=None, weight=None, late=1440, source="ggz"):
    return ("goal_change", key, who, at, late, source,
            {"goal_ref": ref, "domain": domain, "change": change, "set_by": set_by, "gas": gas,
             "weight": weight})


def void(key, who, at, target_key, late=60, source="ggz"):
    return ("correction", key, who, at, late, source,
            {"target_event_id": str(uuid.uuid5(NS, target_key)), "action": "void"})


BATCH1 = [
    # A: enrolled 15 Jan 2025 00:30 local (= 14 Jan 23:30 UTC), paused 1 Mar, resumed 11 Mar.
    # Spans [2025-01-15, 2025-03-01) and [2025-03-11, open). Before: 2024-01-15 .. 2025-01-14.
    enr("a-enr-1", A, "2025-01-15T00:30:00+01:00", "enrolled"),
    enr("a-enr-2", A, "2025-03-01T10:00:00+01:00", "paused"),
    enr("a-enr-3", A, "2025-03-11T09:00:00+01:00", "resumed"),
    cri("a-cr-1", A, "2024-01-14T12:00:00+01:00", "crisis_contact", 0),      # before the before period
    cri("a-cr-2", A, "2024-03-10T12:00:00+01:00", "crisis_admission", 5),    # before
    cri("a-cr-3", A, "2024-06-01T03:00:00+02:00", "emergency_department", 0),  # before
    cri("a-cr-4", A, "2025-03-05T12:00:00+01:00", "crisis_contact", 0),      # paused: nowhere
    cri("a-cr-7", A, "2025-03-01T12:00:00+01:00", "respite_stay", 0),        # day of paused: nowhere
    cri("a-cr-6", A, "2025-04-10T08:00:00+02:00", "shelter_night", 3),       # during
    # confused-person call on the last day of the before period (22:30 UTC = 23:30 local)
    pol("a-po-1", A, "2025-01-14T23:30:00+01:00", "confused_person", late=30),
    # 14 Jan 23:10 UTC is 15 Jan 00:10 local: the day of enrolled, so during
    pol("a-po-2", A, "2025-01-15T00:10:00+01:00", "nuisance", late=90),
    pol("a-po-4", A, "2025-03-11T08:00:00+01:00", "confused_person"),       # day of resumed: during
    pol("a-po-5", A, "2024-12-01T12:00:00+01:00", "welfare_check"),         # before
    con("a-co-1", A, "2025-01-20T10:00:00+01:00", "care_worker", "home_visit", "participant", 60),
    con("a-co-2", A, "2025-02-03T10:00:00+01:00", "experience_expert", "outreach", "professional", 90,
        source="wijkteam"),
    con("a-co-3", A, "2025-03-05T10:00:00+01:00", "neighbourhood_team", "phone", "participant", 30,
        source="wijkteam"),                                                  # paused
    con("a-co-5", A, "2024-06-10T10:00:00+02:00", "care_worker", "face_to_face", "professional", 30),  # before
    # B: enrolled 1 Mar 2025, exited 1 May 2025; nothing at all in the year before.
    enr("b-enr-1", B, "2025-03-01T09:00:00+01:00", "enrolled"),
    enr("b-enr-2", B, "2025-05-01T09:00:00+02:00", "exited"),
    con("b-co-1", B, "2025-03-03T10:00:00+01:00", "municipality", "face_to_face", "participant", 60),
    goal("b-g1-1", B, "2025-03-05T10:00:00+01:00", "B1", "leisure", "set", "participant", gas=2),
    goal("b-g1-2", B, "2025-04-20T10:00:00+02:00", "B1", "leisure", "achieved", "participant"),
    # C: enrolled only after the as-of date; a goal set by a professional, achieved, never scored.
    enr("c-enr-1", C, "2025-07-10T09:00:00+02:00", "enrolled"),
    con("c-co-1", C, "2025-06-01T10:00:00+02:00", "housing", "home_visit", "network", 30),
    goal("c-g1-1", C, "2025-06-01T10:00:00+02:00", "C1", "housing", "set", "professional"),
    goal("c-g1-2", C, "2025-06-10T10:00:00+02:00", "C1", "housing", "achieved", "professional"),
    # D: the correction arrives before the event it voids.
    enr("d-enr-1", D, "2025-01-01T09:00:00+01:00", "enrolled", cohort="grn2"),
    void("d-void-1", D, "2025-06-02T09:00:00+02:00", "d-po-1"),
]

BATCH2 = [
    cri("b-cr-1", B, "2025-04-02T10:00:00+02:00", "crisis_contact", 0),      # during
    pol("b-po-1", B, "2025-05-20T10:00:00+02:00", "nuisance", late=120),    # after exit: nowhere
    pol("a-po-3", A, "2025-05-05T20:00:00+02:00", "arrest"),                # voided in batch 4
    con("a-co-4", A, "2025-04-15T10:00:00+02:00", "significant_other", "face_to_face", "network", 45),
    pol("d-po-1", D, "2025-02-01T09:00:00+01:00", "confused_person"),       # voided already
    # A's goals
    goal("a-g1-1", A, "2025-01-20T10:00:00+01:00", "G1", "housing", "set", "participant", -1, 3),
    goal("a-g1-2", A, "2025-04-01T10:00:00+02:00", "G1", "housing", "progress", "participant", 1),
    goal("a-g1-3", A, "2025-06-01T10:00:00+02:00", "G1", "housing", "achieved", "participant", 2),
    goal("a-g1-4", A, "2025-06-20T10:00:00+02:00", "G1", "housing", "setback", "participant", -2),  # voided
    goal("a-g2-1", A, "2025-01-20T11:00:00+01:00", "G2", "work", "set", "participant_with_network", 0, 2),
    goal("a-g2-2", A, "2025-03-15T10:00:00+01:00", "G2", "work", "revised", "participant_with_network", -1),
    goal("a-g2-3", A, "2025-05-10T10:00:00+02:00", "G2", "work", "achieved", "participant_with_network", 1),
    goal("a-g3-1", A, "2025-02-01T10:00:00+01:00", "G3", "mental_health", "set", "professional", -2),
    goal("a-g4-1", A, "2025-02-01T10:00:00+01:00", "G4", "social_contact", "set", "participant"),
    goal("a-g5-1", A, "2025-01-25T10:00:00+01:00", "G5", "pet", "set", "participant", 1, 5),
    goal("a-g5-2", A, "2025-05-01T10:00:00+02:00", "G5", "pet", "abandoned", "participant"),
]

# Late: occurred long before they were recorded (a-cr-5: 20 Feb 11:00 UTC, recorded 125 days later).
BATCH3 = [
    cri("a-cr-5", A, "2025-02-20T12:00:00+01:00", "crisis_admission", 4, late=125 * 1440),  # during
    goal("a-g3-2", A, "2025-06-15T10:00:00+02:00", "G3", "mental_health", "progress", "professional", 0,
         late=10 * 1440),
]

BATCH4 = [
    void("a-void-1", A, "2025-06-21T09:00:00+02:00", "a-po-3"),
    void("a-void-2", A, "2025-06-21T09:05:00+02:00", "a-g1-4"),
]

COLUMNS = {
    "enrolment": ["change", "cohort"],
    "contact": ["with_role", "mode", "initiated_by", "duration_min", "planned"],
    "crisis": ["kind", "days"],
    "goal_change": ["goal_ref", "domain", "change", "set_by", "gas", "weight"],
    "police_call": ["kind", "caller", "outcome"],
    "correction": ["target_event_id", "action"],
}


def lit(v):
    if v is None:
        return "NULL"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def batch_sql(events, extra_late=0):
    """One consumer batch: inserts that skip known event ids, then the hook, in one transaction.
    For apply_staged, the rows inserted are also staged, as koers-consume leaves them."""
    out = ["BEGIN;"]
    for t, cols in COLUMNS.items():
        if HOOK == "apply_staged":
            out.append(f"CREATE TEMP TABLE IF NOT EXISTS stage_{t} (LIKE koers.{t}) ON COMMIT DELETE ROWS;")
        rows = [e for e in events if e[0] == t]
        if not rows:
            continue
        values = []
        for (_, key, who, at, late, source, f) in rows:
            values.append("(" + ", ".join([
                lit(str(uuid.uuid5(NS, key))), lit(pseudonym(who)), lit(at) + "::timestamptz",
                f"{lit(at)}::timestamptz + interval '{late + extra_late} minutes'", lit(source)]
                + [lit(f[c]) for c in cols]) + ")")
        insert = (f"INSERT INTO koers.{t} (event_id, participant, occurred_at, recorded_at, source, "
                  f"{', '.join(cols)}) VALUES\n  " + ",\n  ".join(values)
                  + "\nON CONFLICT (event_id) DO NOTHING")
        if HOOK == "apply_staged":
            insert = f"WITH ins AS ({insert} RETURNING *) INSERT INTO stage_{t} SELECT * FROM ins"
        out.append(insert + ";")
    who = sorted({pseudonym(e[2]) for e in events})
    if HOOK == "apply_staged":
        out.append("SELECT koers.apply_staged();")
    else:
        out.append("SELECT koers.refresh_participants(ARRAY[" + ", ".join(lit(w) for w in who)
                   + "]::text[]);")
    out.append("COMMIT;")
    return "\n".join(out)


def one(sql):
    return psql(sql).strip()


def tscore(name, as_of, include_abandoned=True):
    """The T-score; include_abandoned=False sets gas_include_abandoned false for this query only."""
    flag = "true" if include_abandoned else "false"
    out = psql(f"BEGIN; UPDATE koers.setting SET value = '{flag}' WHERE name = 'gas_include_abandoned';"
               f"SELECT t_score FROM koers.gas_tscore('{as_of}') WHERE participant = '{pseudonym(name)}';"
               "ROLLBACK;")
    return out.strip()


def bd(name, col, as_of="2025-06-30"):
    return one(f"SELECT {col} FROM koers.before_during('{as_of}') WHERE participant = '{pseudonym(name)}'")


def run_pgtap():
    """Runs every tests/sql/*.sql with psql and counts TAP lines."""
    for f in sorted((SRC / "tests" / "sql").glob("*.sql")):
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", DB, "-f", str(f)],
                           text=True, capture_output=True, timeout=600)
        planned = None
        seen = 0
        for line in r.stdout.splitlines():
            m = re.match(r"^(not ok|ok) (\d+)(.*)$", line)
            if m:
                seen += 1
                check(m.group(1) == "ok", f"{f.name}:{m.group(2)}{m.group(3)}")
            elif re.match(r"^1\.\.(\d+)$", line):
                planned = int(line[3:])
            elif line.startswith("#"):
                print(f"  {line}")
        check(r.returncode == 0, f"{f.name} ran to the end", r.stderr.strip())
        check(planned is not None and planned == seen, f"{f.name}: plan 1..{planned}, {seen} tests seen")


def run_report(args):
    r = subprocess.run([str(BIN / "koers-report"), "-d", f"dbname={DB}"] + args,
                       text=True, capture_output=True, timeout=300)
    return r


def check_report():
    base = ["--cohort", "grn1", "--as-of", "2025-06-30", "--from", "2024-01-01", "--to", "2025-06-30"]
    r = run_report(base + ["--format", "text"])
    check(r.returncode == 0, "koers-report --format text exits 0", r.stderr)
    text = r.stdout
    a12 = pseudonym(A)[:12]
    # Hand-computed figures (see tests/sql/measures.sql for the arithmetic).
    for fig, what in [("66.30", "A's GAS T-score"), ("16.30", "A's change in T-score"),
                      ("55.43", "cohort mean T-score"), ("12.0246", "A's person-months before"),
                      ("5.1581", "A's person-months during"), ("0.7755", "A's acute crisis-day rate during"),
                      ("-186.42", "A's difference per person-month"),
                      ("-1421.53", "cohort difference over the enrolled time"),
                      ("police_confused_person_call", "the unit-cost assumptions"),
                      ("3000.00", "a-cr-5's lateness in hours"), (a12, "A's shortened pseudonym")]:
        check(fig in text, f"report text shows {what} ({fig})")
    check(pseudonym(D)[:12] not in text, "report text --cohort grn1 leaves out cohort grn2")
    for heading in ["Goals", "Goal attainment", "Before and during", "Support intensity",
                    "Cost", "Data quality", "Unit costs"]:
        check(heading.lower() in text.lower(), f"report text has a section '{heading}'")

    with tempfile.TemporaryDirectory() as out:
        r = run_report(base + ["--format", "csv", "--out", out])
        check(r.returncode == 0, "koers-report --format csv exits 0", r.stderr)
        files = sorted(p.name for p in Path(out).glob("*.csv"))
        for need in ["participant_month.csv", "goal_status.csv", "gas_tscore.csv",
                     "gas_tscore_cohort.csv", "before_during.csv", "before_during_cohort.csv",
                     "cost_benefit.csv", "cost_benefit_cohort.csv", "unit_cost.csv",
                     "data_quality.csv", "data_quality_rejected.csv", "support_intensity.csv",
                     "goal_summary.csv"]:
            check(need in files, f"csv: {need} written", str(files))
        try:
            rows = list(csv.DictReader(open(Path(out) / "before_during.csv", newline="")))
            a = [x for x in rows if x["participant"] == pseudonym(A)]
            check(len(a) == 1 and a[0]["crisis_during"] == "1" and a[0]["crisis_days_during"] == "4"
                  and a[0]["alternative_days_during"] == "3"
                  and a[0]["person_months_before"] == "12.0246",
                  "csv before_during: A's row has the hand-computed figures", str(a))
            rows = list(csv.DictReader(open(Path(out) / "participant_month.csv", newline="")))
            a = [x for x in rows if x["participant"] == pseudonym(A)]
            check(len(a) == 18, "csv participant_month: 18 months for A (Jan 2024 - Jun 2025)", str(len(a)))
            rows = list(csv.DictReader(open(Path(out) / "gas_tscore.csv", newline="")))
            check(any(x["participant"] == pseudonym(A) and x["t_score"] == "66.30"
                      and x["baseline_t_score"] == "50.00" for x in rows),
                  "csv gas_tscore: A 66.30, baseline 50.00")
        except (OSError, KeyError) as e:
            check(False, "csv files readable", str(e))

    r = run_report(base + ["--format", "json"])
    check(r.returncode == 0, "koers-report --format json exits 0", r.stderr)
    try:
        doc = json.loads(r.stdout)
        g = [x for x in doc["measures"]["gas_tscore"] if x["participant"] == pseudonym(A)]
        check(len(g) == 1 and abs(g[0]["t_score"] - 66.30) < 1e-9 and g[0]["goals_scored"] == 4,
              "json gas_tscore: A has t_score 66.30 from 4 goals (numbers as JSON numbers)", str(g))
        cb = doc["measures"]["cost_benefit_cohort"]
        check(len(cb) == 1 and abs(cb[0]["net_benefit_total"] - (-1778.53)) < 1e-9,
              "json cost_benefit_cohort: net -1778.53", str(cb))
        check(doc["parameters"]["as_of"] == "2025-06-30" and doc["parameters"]["cohort"] == "grn1",
              "json carries its parameters")
    except (ValueError, KeyError, TypeError) as e:
        check(False, "json parses", str(e))

    r = run_report(["--format", "csv"])
    check(r.returncode == 2, "koers-report --format csv without --out is a usage error (2)")
    r = run_report(["--as-of", "2025-13-01"])
    check(r.returncode == 2, "koers-report refuses a bad date (2)")
    r = subprocess.run([str(BIN / "koers-report"), "-d", "dbname=koers_no_such_db_x"],
                       text=True, capture_output=True, timeout=60)
    check(r.returncode == 1 and "koers_no_such_db_x" in r.stderr,
          "koers-report: database failure exits 1 with the server's message", r.stderr)


def run(hook):
    """The whole test in a database of its own, with hook as the consumer's batch hook."""
    global DB, HOOK
    DB, HOOK = f"koers_measures_{os.getpid()}_{hook}", hook
    print(f"# batch hook: koers.{hook}")
    subprocess.run(["dropdb", "--if-exists", DB], capture_output=True)
    r = subprocess.run(["createdb", DB], capture_output=True, text=True)
    if r.returncode != 0:
        check(False, "createdb", r.stderr.strip())
        return
    try:
        r = subprocess.run([str(BIN / "koers-consume"), "-d", f"dbname={DB}", "--migrate"],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"koers-consume --migrate failed:\n{r.stderr}")
        psql("CREATE EXTENSION pgtap;")

        psql(batch_sql(BATCH1))
        psql(batch_sql(BATCH2))
        # After batches 1-2, at 2025-06-30: G1 has the (not yet voided) setback gas -2 (w 3), G2
        # gas 1 (w 2), G3 still its set score -2 (w 1); G4 unscored; G5 abandoned with its last
        # score 1 (w 5), kept by default:
        # T = 50 + 10*(3*-2 + 2*1 + 1*-2 + 5*1) / sqrt(0.7*(9+4+1+25) + 0.3*(3+2+1+5)^2)
        #   = 50 - 10/sqrt(63.6) = 50 - 1.2539 = 48.75
        # Without abandoned goals: 50 + 10*(-6 + 2 - 2) / sqrt(0.7*14 + 0.3*36)
        #   = 50 - 60/sqrt(20.6) = 50 - 13.2196 = 36.78
        check(tscore(A, "2025-06-30") == "48.75", "before the late goal change: A's T-score 48.75",
              tscore(A, "2025-06-30"))
        check(tscore(A, "2025-06-30", False) == "36.78",
              "before the late goal change, abandoned goals left out: 36.78",
              tscore(A, "2025-06-30", False))
        # a-cr-6 (shelter) is a stay alternative, not acute crisis
        check(bd(A, "crisis_during") == "0", "before the late crisis: A has no acute crisis during")
        check(bd(A, "alternative_during") == "1", "A's shelter stay counts as a stay alternative")
        check(bd(A, "police_during") == "3", "before the correction: A has 3 police calls during")
        psql(batch_sql(BATCH3))
        # Late G3 progress to 0: 50 + 10*(-6 + 2 + 0 + 5)/sqrt(63.6) = 50 + 1.2539 = 51.25;
        # without G5: 50 + 10*(-6 + 2 + 0)/sqrt(20.6) = 50 - 8.8131 = 41.19
        check(tscore(A, "2025-06-30") == "51.25", "after the late goal change: A's T-score 51.25",
              tscore(A, "2025-06-30"))
        check(tscore(A, "2025-06-30", False) == "41.19",
              "after the late goal change, abandoned goals left out: 41.19",
              tscore(A, "2025-06-30", False))
        check(bd(A, "crisis_during") == "1", "after the late crisis: A has 1 acute crisis during")
        psql(batch_sql(BATCH4))
        check(bd(A, "police_during") == "2", "after the correction: A has 2 police calls during")
        # The voided setback drops out: G1 back to 2 (achieved):
        # 50 + 10*(6 + 2 + 0 + 5)/sqrt(63.6) = 50 + 16.3010 = 66.30; without G5:
        # 50 + 10*(6 + 2 + 0)/sqrt(20.6) = 67.63
        check(tscore(A, "2025-06-30") == "66.30", "after the correction: A's T-score 66.30",
              tscore(A, "2025-06-30"))
        check(tscore(A, "2025-06-30", False) == "67.63",
              "after the correction, abandoned goals left out: 67.63",
              tscore(A, "2025-06-30", False))
        snapshot = psql("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM koers.daily_use t;"
                        "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM koers.registration_month t;"
                        "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM koers.lateness_histogram t;")
        # Re-import of the first file: the same event ids, recorded again 10 days later.
        psql(batch_sql(BATCH1, extra_late=10 * 1440))
        # And a redelivered batch.
        psql(batch_sql(BATCH4))
        again = psql("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM koers.daily_use t;"
                     "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM koers.registration_month t;"
                     "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM koers.lateness_histogram t;")
        check(snapshot == again, "a re-import and a redelivered batch change no prepared row")
        check(one("SELECT count(*) FROM koers.contact") == str(sum(e[0] == "contact" for e in BATCH1 + BATCH2)),
              "the re-import stored no second copy")
        # Two rejected messages, as the consumer stores them.
        psql("INSERT INTO koers.rejected_events (topic, partition, kafka_offset, payload, reason, rejected_at)"
             " VALUES ('koers.contact', 0, 7, '\\x00', 'recorded_at: more than a day in the future', '2025-06-03T10:00Z'),"
             " ('koers.contact', 0, 9, '\\x00', 'recorded_at: more than a day in the future', '2025-06-04T10:00Z');")

        run_pgtap()
        check_report()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        check(False, "the test ran to the end", str(e))
    finally:
        if os.environ.get("KOERS_KEEP_DB") != "1":
            subprocess.run(["dropdb", "--if-exists", DB], capture_output=True)
        else:
            print(f"kept database {DB}")


def main():
    for hook in ("apply_staged", "refresh_participants"):
        run(hook)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
