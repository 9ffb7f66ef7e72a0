#!/usr/bin/env python3
"""End to end: the outcome instruments (zrm_score, stressor, status_change) of a generated CSV
set equal an independent computation, and bad instrument rows and messages are refused.

A seeded generator writes CSV exports: enrolments (with pauses and exits), ZRM scores per
domain at several moments (some on one instant, some voided), stressor changes, status
changes (housing, rent arrears, evictions, daytime activity, income, debt counselling) with a
coverage statement for status_change that leaves early days unknown. They go through the
real programs (koers-produce import, koers-consume). Then the figures are recomputed here
from the CSV rows alone, day by day (no SQL of the measures reused), and compared with:

1. koers.zrm_participant(as_of): first and latest score per participant and domain (ordered
   by occurred_at, then recorded order), change and direction (none with one score).
2. koers.stressor_participant(as_of): present at the intake day (first enrolled + 30 days),
   present at as_of, first present day, first resolved day after it.
3. koers.status_window(as_of): known days per window in each housing and daytime-activity
   state ('unknown' before the first report); koers.eviction_window(as_of): known days,
   notices and evictions per window.
4. koers.work_month(as_of): the daytime activity at each month end while enrolled.

Then rows with bad values in each of the three files (a score of 0 and 6, an unknown domain,
a status row naming no status, rent_arrears "yes", an unknown stressor change, a free-text
column) are refused by the producer with file:line and reason, exit 1, and none reaches the
database; and a message on the zrm_score topic that is not Avro is dead-lettered.

KOERS_TEST_SEED fixes the seed (printed).
"""
import datetime
import os
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import test_measures_v2_csv as v2  # noqa: E402  (windows, days, local_day, Person.spans)

D = datetime.date
START, END = D(2023, 6, 1), D(2025, 6, 30)
AS_OF = (D(2024, 9, 15), END)
DOMAINS = [f[2] for f in k.FIELDS["zrm_score"] if f[0] == "domain"][0]
KINDS = [f[2] for f in k.FIELDS["stressor"] if f[0] == "kind"][0]
HOUSING = [f[2] for f in k.FIELDS["status_change"] if f[0] == "housing"][0]
ACTIVITY = [f[2] for f in k.FIELDS["status_change"] if f[0] == "daytime_activity"][0]
STATUS_COLS = [f[0] for f in k.FIELDS["status_change"]]
INTAKE_DAYS = 30
COVERED_FROM = D(2023, 9, 1)


def generate(rnd):
    rows = defaultdict(list)
    n = [0]

    def rid(prefix):
        n[0] += 1
        return f"{prefix}-{n[0]}"

    def day_between(a, b):
        return a + datetime.timedelta(days=rnd.randrange((b - a).days + 1))

    def at(d, hour):
        return f"{d.isoformat()}T{hour:02d}:{rnd.randrange(60):02d}:00+01:00" if rnd.random() < 0.5 \
            else f"{d.isoformat()}T{hour:02d}:{rnd.randrange(60):02d}:00Z"

    for i in range(40):
        client = f"INS-{i:03d}"
        first = day_between(D(2024, 1, 1), D(2024, 12, 31))
        changes = [(first, "enrolled")]
        d = first
        while rnd.random() < 0.5:
            d += datetime.timedelta(days=rnd.randrange(30, 150))
            if d >= END:
                break
            nxt = rnd.choice(["paused", "exited"]) if changes[-1][1] in ("enrolled", "resumed") else "resumed"
            changes.append((d, nxt))
        for d, ch in changes:
            rows["enrolment"].append({"record_id": rid("E"), "client_id": client, "occurred_at": d.isoformat(),
                                      "source": "ggz", "change": ch, "cohort": "ins"})
        # ZRM: a few moments; sometimes two scores of one domain on one instant.
        for _ in range(rnd.randrange(0, 5)):
            d = day_between(first - datetime.timedelta(days=20), END + datetime.timedelta(days=20))
            when = at(d, rnd.randrange(0, 24))
            for dom in rnd.sample(DOMAINS, rnd.randrange(1, 6)):
                for _twice in range(2 if rnd.random() < 0.1 else 1):
                    rows["zrm_score"].append({"record_id": rid("Z"), "client_id": client, "occurred_at": when,
                                              "source": "wijkteam", "domain": dom, "score": str(rnd.randrange(1, 6)),
                                              "scored_by": rnd.choice(["professional", "participant_with_professional",
                                                                       "participant"])})
        # Stressors: changes in any order (a resolved before a present is data as it comes).
        for kind in rnd.sample(KINDS, rnd.randrange(0, 4)):
            for _ in range(rnd.randrange(1, 5)):
                d = day_between(first - datetime.timedelta(days=60), END)
                rows["stressor"].append({"record_id": rid("S"), "client_id": client,
                                         "occurred_at": at(d, rnd.randrange(0, 24)), "source": "wijkteam",
                                         "kind": kind, "change": rnd.choice(["present", "present", "reduced",
                                                                             "resolved", "returned"])})
        # Statuses: some of the six on each row (at least one).
        for _ in range(rnd.randrange(0, 7)):
            d = day_between(first - datetime.timedelta(days=400), END)
            r = {"record_id": rid("T"), "client_id": client, "occurred_at": at(d, rnd.randrange(0, 24)),
                 "source": "woco"}
            for col in STATUS_COLS:
                r[col] = ""
            cols = rnd.sample(STATUS_COLS, rnd.randrange(1, 4))
            for col in cols:
                spec = [f for f in k.FIELDS["status_change"] if f[0] == col][0]
                r[col] = rnd.choice(["true", "false"]) if spec[1] == "bool" else rnd.choice(spec[2])
            rows["status_change"].append(r)
    rows["coverage"].append({"record_id": "COV-1", "source": "woco", "occurred_at": "2025-01-01",
                             "covered_type": "status_change", "covered_from": COVERED_FROM.isoformat(),
                             "covered_to": ""})
    # Void some of each.
    for etype in ("zrm_score", "stressor", "status_change"):
        for r in rnd.sample(rows[etype], max(1, len(rows[etype]) // 15)):
            rows["correction"].append({"record_id": rid("X"), "client_id": r["client_id"],
                                       "occurred_at": END.isoformat(), "source": r["source"],
                                       "target_record_id": r["record_id"], "target_type": etype,
                                       "action": "void"})
    # One participant for each direction of a ZRM change (and one with a single score), never
    # voided: a seed alone need not reach all four.
    for name, scores in (("up", (2, 4)), ("same", (3, 3)), ("down", (4, 2)), ("single", (3,))):
        client = f"INS-{name}"
        rows["enrolment"].append({"record_id": rid("E"), "client_id": client, "occurred_at": "2024-02-01",
                                  "source": "ggz", "change": "enrolled", "cohort": "ins"})
        for d, score in zip(("2024-03-01T10:00:00Z", "2024-06-01T10:00:00Z"), scores):
            rows["zrm_score"].append({"record_id": rid("Z"), "client_id": client, "occurred_at": d,
                                      "source": "wijkteam", "domain": "finances", "score": str(score),
                                      "scored_by": "professional"})
    return rows


# ---------------------------------------------------------------- the computation here

def valid(rows, etype):
    voided = {(c["source"], c["target_type"], c["target_record_id"]) for c in rows["correction"]}
    return [r for r in rows[etype] if (r["source"], etype, r["record_id"]) not in voided]


def people(rows, key):
    ps = defaultdict(v2.Person)
    for r in rows["enrolment"]:
        ps[k.participant(key, r["client_id"])].enrolment.append(
            (k.parse_time_ms(r["occurred_at"]), r["record_id"], r["change"], r["cohort"]))
    return ps


def order_key(r, seq):
    """Event time, then recorded_at, then event_id (the documented order). One import stamps
    every row of a file with one recorded_at, so within a type it is event_id's order."""
    return (k.parse_time_ms(r["occurred_at"]), seq[r["record_id"]])


def expected_zrm(rows, key, ps, as_of, seq):
    by = defaultdict(list)
    for r in valid(rows, "zrm_score"):
        if v2.local_day(k.parse_time_ms(r["occurred_at"])) <= as_of:
            by[(k.participant(key, r["client_id"]), r["domain"])].append(r)
    out = set()
    for (p, dom), rs in by.items():
        spans = ps[p].spans() if p in ps else []
        if not spans or spans[0][0] > as_of:
            continue
        rs.sort(key=lambda r: order_key(r, seq))
        b, l = int(rs[0]["score"]), int(rs[-1]["score"])
        change = str(l - b) if len(rs) > 1 else "NULL"
        direction = "NULL" if len(rs) == 1 else "up" if l > b else "down" if l < b else "same"
        out.add((p, dom, str(len(rs)), str(b), str(l), change, direction))
    return out


def state_on(changes, day):
    """The state of the last change on or before day, or None; changes: [(day, order, state)]."""
    best = None
    for d, o, s in changes:
        if d <= day and (best is None or (d, o) > best[:2]):
            best = (d, o, s)
    return best[2] if best else None


def expected_stressors(rows, key, ps, as_of, seq):
    by = defaultdict(list)
    for r in valid(rows, "stressor"):
        d = v2.local_day(k.parse_time_ms(r["occurred_at"]))
        if d <= as_of:
            by[(k.participant(key, r["client_id"]), r["kind"])].append(
                (d, order_key(r, seq), r["change"] != "resolved"))
    out = set()
    for (p, kind), ch in by.items():
        spans = ps[p].spans() if p in ps else []
        if not spans or spans[0][0] > as_of:
            continue
        intake = min(spans[0][0] + datetime.timedelta(days=INTAKE_DAYS), as_of)
        days_sorted = sorted({d for d, _, _ in ch})
        present_days = [d for d in days_sorted if state_on(ch, d)]
        if not present_days:
            continue
        first = present_days[0]
        resolved = [d for d in days_sorted if d > first and not state_on(ch, d)]
        first_res = resolved[0] if resolved else None
        out.add((p, kind, str(bool(state_on(ch, intake))).lower(), str(bool(state_on(ch, as_of))).lower(),
                 first.isoformat(), first_res.isoformat() if first_res else "NULL",
                 str((first_res - first).days) if first_res else "NULL"))
    return out


def status_changes(rows, key, as_of, seq):
    """{(participant, status): [(day, order, state)]} for housing and daytime_activity."""
    by = defaultdict(list)
    for r in valid(rows, "status_change"):
        d = v2.local_day(k.parse_time_ms(r["occurred_at"]))
        if d > as_of:
            continue
        for col in ("housing", "daytime_activity"):
            if r[col]:
                by[(k.participant(key, r["client_id"]), col)].append((d, order_key(r, seq), r[col]))
    return by


def expected_status(rows, key, ps, as_of, seq):
    ch = status_changes(rows, key, as_of, seq)
    status_out, evict_out = set(), set()
    evictions = defaultdict(list)
    for r in valid(rows, "status_change"):
        if r["eviction"]:
            evictions[k.participant(key, r["client_id"])].append(
                (v2.local_day(k.parse_time_ms(r["occurred_at"])), r["eviction"]))
    for p, person in ps.items():
        w = v2.windows(person, as_of)
        if w is None:
            continue
        for name, ds in w.items():
            known = {d for d in ds if d >= COVERED_FROM}
            for col, states in (("housing", HOUSING), ("daytime_activity", ACTIVITY)):
                count = defaultdict(int)
                reported = ch.get((p, col), [])
                for d in known:
                    count[state_on(reported, d) or "unknown"] += 1
                for s in states:
                    if any(st == s for _, _, st in reported):
                        status_out.add((p, name, col, s, str(count[s])))
                status_out.add((p, name, col, "unknown", str(count["unknown"])))
            ev = [e for d, e in evictions[p] if d in known]
            evict_out.add((p, name, str(len(known)), str(ev.count("notice")), str(ev.count("evicted"))))
    return status_out, evict_out


def expected_work(rows, key, ps, as_of, seq):
    ch = status_changes(rows, key, as_of, seq)
    out = set()
    for p, person in ps.items():
        spans = person.spans()
        if not spans or spans[0][0] > as_of:
            continue
        m = D(spans[0][0].year, spans[0][0].month, 1)
        while m <= as_of:
            end = min(v2.months_add(m, 1) - datetime.timedelta(days=1), as_of)
            if any(s <= end and (e is None or e > end) for s, e, _ in spans):
                out.add((p, m.isoformat(), state_on(ch.get((p, "daytime_activity"), []), end) or "NULL"))
            m = v2.months_add(m, 1)
    return out


def compare(c, what, expected, got):
    missing, extra = expected - got, got - expected
    c.ok(f"{what}: {len(expected)} rows equal the computation from the CSV", not missing and not extra,
         "equal", f"missing {sorted(missing)[:3]} extra {sorted(extra)[:3]}")


def check_measures(c, db, rows, key, ps, seq, as_of):
    got = {tuple(r) for r in k.psql(
        f"SELECT participant, domain, scores, baseline_score, latest_score, coalesce(change::text, 'NULL'),"
        f" coalesce(direction, 'NULL') FROM koers.zrm_participant('{as_of}')", db)}
    exp = expected_zrm(rows, key, ps, as_of, seq)
    compare(c, f"zrm_participant({as_of})", exp, got)
    c.ok(f"zrm ({as_of}): the data reach up, same, down and single scores",
         {"up", "same", "down", "NULL"} <= {e[6] for e in exp}, "all four", {e[6] for e in exp})
    got = {tuple(r) for r in k.psql(
        f"SELECT participant, kind, at_enrolment::text, now::text, first_present, coalesce(first_resolved::text, 'NULL'),"
        f" coalesce(days_to_resolution::text, 'NULL') FROM koers.stressor_participant('{as_of}')", db)}
    compare(c, f"stressor_participant({as_of})", expected_stressors(rows, key, ps, as_of, seq), got)
    exp_s, exp_e = expected_status(rows, key, ps, as_of, seq)
    got = {tuple(r) for r in k.psql(
        f"SELECT participant, window_name, status, state, days FROM koers.status_window('{as_of}')", db)}
    compare(c, f"status_window({as_of})", exp_s, got)
    got = {tuple(r) for r in k.psql(
        f"SELECT participant, window_name, days, notices, evictions FROM koers.eviction_window('{as_of}')", db)}
    compare(c, f"eviction_window({as_of})", exp_e, got)
    got = {tuple(r) for r in k.psql(
        f"SELECT participant, month, coalesce(daytime_activity, 'NULL') FROM koers.work_month('{as_of}')", db)}
    compare(c, f"work_month({as_of})", expected_work(rows, key, ps, as_of, seq), got)


# ---------------------------------------------------------------- refusals

BAD = {
    "zrm_score.csv": (
        "record_id,client_id,occurred_at,source,domain,score,scored_by\n"
        "ok-1,BAD-1,2025-01-05,wijkteam,finances,3,professional\n"
        "bad-1,BAD-1,2025-01-05,wijkteam,finances,0,professional\n"
        "bad-2,BAD-1,2025-01-05,wijkteam,finances,6,professional\n"
        "bad-3,BAD-1,2025-01-05,wijkteam,money,3,professional\n"
        "bad-4,BAD-1,2025-01-05,wijkteam,finances,,professional\n",
        {3: "score", 4: "score", 5: "domain", 6: "score"}),
    "status_change.csv": (
        "record_id,client_id,occurred_at,source,housing,rent_arrears,eviction,daytime_activity,income_source,debt_counselling\n"
        "ok-2,BAD-1,2025-01-05,woco,shelter,,,,,\n"
        "bad-5,BAD-1,2025-01-05,woco,,,,,,\n"
        "bad-6,BAD-1,2025-01-05,woco,,yes,,,,\n"
        "bad-7,BAD-1,2025-01-05,woco,castle,,,,,\n",
        {3: "none is given", 4: "rent_arrears", 5: "housing"}),
    "stressor.csv": (
        "record_id,client_id,occurred_at,source,kind,change\n"
        "ok-3,BAD-1,2025-01-05,wijkteam,debts,present\n"
        "bad-8,BAD-1,2025-01-05,wijkteam,debts,gone\n",
        {3: "change"}),
}


def check_refusals(c, d, run):
    bad = Path(d) / "bad"
    bad.mkdir()
    for name, (text, _lines) in BAD.items():
        (bad / name).write_text(text, encoding="utf-8")
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], bad)
    c.equal("bad instrument rows: the producer exits 1", 1, r.rc)
    for name, (_text, lines) in BAD.items():
        for line, word in lines.items():
            hits = [ln for ln in r.err.splitlines() if f"{name}:{line}:" in ln]
            c.ok(f"{name}:{line} refused naming {word}", hits and word in hits[0], word, hits[:1] or r.err[-400:])
    # A column that is not in the contract (free text could carry a name) refuses the file.
    free = Path(d) / "free"
    free.mkdir()
    (free / "stressor.csv").write_text("record_id,client_id,occurred_at,source,kind,change,note\n"
                                       "f-1,BAD-1,2025-01-05,wijkteam,debts,present,Jan is ziek\n", encoding="utf-8")
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], free)
    c.ok("a free-text column in stressor.csv is refused", r.rc == 1 and "note" in r.err, "exit 1 naming note",
         (r.rc, r.err[-300:]))
    # A message on the zrm_score topic that is not Avro: dead-lettered, the rest stored.
    path = Path(d) / "garbage.bin"
    path.write_bytes(b"\x00not avro at all")
    k.kcat_produce_file(run["prefix"] + "zrm_score", 0, path, "garbage")
    before = int(k.psql("SELECT count(*) FROM koers.zrm_score", run["db"])[0][0])
    c.program("koers-consume --until-caught-up (bad rows)",
              k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up"), 0)
    c.equal("of the bad files only the good rows are stored (one ZRM score)", before + 1,
            int(k.psql("SELECT count(*) FROM koers.zrm_score", run["db"])[0][0]))
    c.equal("no bad row reached the database", 0, int(k.psql(
        "SELECT (SELECT count(*) FROM koers.zrm_score WHERE score NOT BETWEEN 1 AND 5)"
        " + (SELECT count(*) FROM koers.status_change WHERE num_nonnulls(housing, rent_arrears, eviction,"
        " daytime_activity, income_source, debt_counselling) = 0)", run["db"])[0][0]))
    rej = k.psql(f"SELECT reason FROM koers.rejected_events WHERE topic = '{run['prefix']}zrm_score'", run["db"])
    c.equal("the message that is not Avro is dead-lettered from the zrm_score topic", 1, len(rej))


def main():
    k.require_env()
    c = k.Checks("test_instruments_csv")
    seed = int(os.environ.get("KOERS_TEST_SEED", random.randrange(1, 1_000_000)))
    print(f"# seed {seed}")
    rows = generate(random.Random(seed))
    run = k.new_run_names("ins")
    d = k.tempdir(c, "ins")
    run["keyfile"], key = k.write_key_file(d)
    exports = Path(d) / "exports"
    exports.mkdir()
    v2.write_csv(exports, rows)
    # Two rows of one type on one instant: ordered by event_id (derived here as the producer
    # does), as one import gives every row of a file the same recorded_at.
    seq = {r["record_id"]: k.event_id(key, r["source"], etype, r["record_id"])
           for etype in ("zrm_score", "stressor", "status_change") for r in rows[etype]}
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    try:
        c.program("koers-consume --migrate", k.migrate(run["db"]), 0)
        c.program("koers-produce import", k.produce("import", "--key-file", run["keyfile"],
                                                    "--topic-prefix", run["prefix"], exports), 0)
        c.program("koers-consume --until-caught-up",
                  k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up"), 0)
        for etype in ("zrm_score", "stressor", "status_change"):
            c.equal(f"every {etype} row is stored once", len(rows[etype]),
                    int(k.psql(f"SELECT count(*) FROM koers.{etype}", run["db"])[0][0]))
        ps = people(rows, key)
        for as_of in AS_OF:
            c.run(check_measures, c, run["db"], rows, key, ps, seq, as_of)
        c.run(check_refusals, c, d, run)
    except Exception:  # noqa: BLE001
        import traceback
        c.failed += 1
        print("FAIL the test raised:")
        traceback.print_exc(file=sys.stdout)
    c.finish()


if __name__ == "__main__":
    main()
