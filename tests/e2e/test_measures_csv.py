#!/usr/bin/env python3
"""End to end: the measures of hand-made CSV exports equal an independent computation in Python.

tests/data/csv/handmade (written by another engineer, not for this test) goes through the real
programs: fresh database, koers-consume --migrate, koers-produce import with a key,
koers-consume --until-caught-up. Then the measures are computed here straight from the CSV
files (stdlib csv, local months in Europe/Amsterdam, voided events = targets of correction rows
left out, a record id that appears twice counted once) and compared with the database, per
participant (pseudonym computed here with the key), following docs/measures.md:

1. koers.participant_month: contacts, contact_minutes, crisis_events (a stay on its first
   day, occurred_at minus days), police_calls per participant x local month (every month with a non-zero count; the view also has rows with
   zeros, which must stay zero).
2. koers.goal_status: per (participant, goal_ref) the status (last of set / achieved / revised /
   abandoned / reopened in event-time order; set and reopened mean open; progress and setback
   change nothing; only those -> open), revisions (number of revised changes), domain and
   set_by (first set, else first change), latest_gas and weight (latest values given).
3. koers.gas_tscore(as_of) for a fixed as-of after the last event, and for one in the middle
   of the data: goals (goals with a change up to the end of the local as-of day, any status),
   goals_scored (a goal with a score: the latest gas given, or 0 after an achieved without
   one; abandoned goals keep their last score) and
   T = 50 + 10*sum(w*x) / sqrt(0.7*sum(w^2) + 0.3*(sum w)^2), 2 decimals, NULL when no goal
   is scored; w the latest weight given, 1 when none.
"""
import datetime
import math
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

HANDMADE = k.test_data() / "csv" / "handmade"
RHO = 0.3
# After the last event of handmade/ (2025-03-31), and one in the middle of the goals.
AS_OF_DATES = ("2025-12-31", "2024-06-30")


# ---------------------------------------------------------------- the input, read here

def load_events(key):
    """{etype: [event dict]} from handmade/*.csv, one per (source, type, record_id), voided
    events left out. Each event: participant, ms (occurred_at), source, record_id, row."""
    raw = {}
    for etype in k.EVENT_TYPES:
        path = HANDMADE / f"{etype}.csv"
        rows = k.read_csv(path) if path.exists() else []
        seen, events = set(), []
        for row in rows:
            ident = (row["source"], row["record_id"])
            if ident in seen:  # the same record twice: stored once
                continue
            seen.add(ident)
            events.append({"participant": k.participant(key, row["client_id"]),
                           "ms": k.parse_time_ms(row["occurred_at"]),
                           "source": row["source"], "record_id": row["record_id"],
                           "event_id": k.event_id(key, row["source"], etype, row["record_id"]),
                           "row": row})
        raw[etype] = events
    # A correction names its target by (its own source, target_type, target_record_id).
    voided = {(c["source"], c["row"]["target_type"], c["row"]["target_record_id"])
              for c in raw["correction"] if c["row"]["action"] == "void"}
    out = {}
    for etype, events in raw.items():
        out[etype] = [e for e in events if (e["source"], etype, e["record_id"]) not in voided]
    return out, voided


def expected_months(events):
    """{(participant, month): (contacts, contact_minutes, crisis_events, police_calls)} for
    every participant-month with a non-zero count."""
    acc = defaultdict(lambda: [0, 0, 0, 0])
    for e in events["contact"]:
        a = acc[(e["participant"], k.local_month(e["ms"]))]
        a[0] += 1
        a[1] += int(e["row"]["duration_min"])
    for e in events["crisis"]:
        # A stay reported at discharge counts on its first day: days before occurred_at.
        first = (datetime.datetime.fromtimestamp(e["ms"] / 1000, tz=k.ZONE).date()
                 - datetime.timedelta(days=int(e["row"]["days"] or 0)))
        acc[(e["participant"], first.strftime("%Y-%m-01"))][2] += 1
    for e in events["police_call"]:
        acc[(e["participant"], k.local_month(e["ms"]))][3] += 1
    return {key: tuple(v) for key, v in acc.items() if any(v)}


def goals(events, until_ms=None):
    """{(participant, goal_ref): [changes in event-time order]} (changes up to until_ms).
    Ties on occurred_at would be broken by recorded_at, which the CSV does not have; event_id
    is the last tie-breaker (handmade/ has no ties within a goal)."""
    out = defaultdict(list)
    for e in events["goal_change"]:
        if until_ms is None or e["ms"] <= until_ms:
            out[(e["participant"], e["row"]["goal_ref"])].append(e)
    for changes in out.values():
        changes.sort(key=lambda e: (e["ms"], e["event_id"]))
    return out


def goal_state(changes):
    status, revisions, gas, weight, score = "open", 0, None, None, None
    for e in changes:
        r = e["row"]
        ch = r["change"]
        if ch in ("set", "reopened"):
            status = "open"
        elif ch in ("achieved", "revised", "abandoned"):
            status = ch
        if ch == "revised":
            revisions += 1
        if r["gas"] != "":
            gas = int(r["gas"])
            score = gas
        elif ch == "achieved":
            score = 0
        if r["weight"] != "":
            weight = int(r["weight"])
    first = next((e for e in changes if e["row"]["change"] == "set"), changes[0])
    return {"status": status, "revisions": revisions, "latest_gas": gas, "weight": weight,
            "score": score,
            "domain": first["row"]["domain"], "set_by": first["row"]["set_by"]}


def expected_goal_status(events):
    out = []
    for (p, ref), changes in goals(events).items():
        s = goal_state(changes)
        out.append((p, ref, s["status"], str(s["revisions"]), s["domain"], s["set_by"],
                    "NULL" if s["latest_gas"] is None else str(s["latest_gas"]),
                    "NULL" if s["weight"] is None else str(s["weight"])))
    return sorted(out)


def end_of_local_day_ms(as_of):
    d = datetime.date.fromisoformat(as_of) + datetime.timedelta(days=1)
    start_next = datetime.datetime(d.year, d.month, d.day, tzinfo=k.ZONE)
    return int(start_next.timestamp()) * 1000 - 1


def round2(x):
    return str(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def expected_tscores(events, as_of):
    per = defaultdict(list)
    for (p, _ref), changes in goals(events, end_of_local_day_ms(as_of)).items():
        per[p].append(goal_state(changes))
    out = []
    for p, states in per.items():
        # Abandoned goals keep their last score; an achieved without a score scores 0.
        scored = [s for s in states if s["score"] is not None]
        if scored:
            w = [s["weight"] if s["weight"] is not None else 1 for s in scored]
            x = [s["score"] for s in scored]
            t = 50 + 10 * sum(wi * xi for wi, xi in zip(w, x)) / math.sqrt(
                (1 - RHO) * sum(wi * wi for wi in w) + RHO * sum(w) ** 2)
            t = round2(t)
        else:
            t = "NULL"
        out.append((p, str(len(states)), str(len(scored)), t))
    return sorted(out)


# ---------------------------------------------------------------- the checks

def check_pipeline(c, run):
    r = k.migrate(run["db"])
    c.program("koers-consume --migrate on a fresh database", r, 0)
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], HANDMADE)
    c.program("koers-produce import handmade/", r, 0)
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("koers-consume --until-caught-up", r, 0)
    c.equal("no rejected events", [["0"]],
            k.psql("SELECT count(*) FROM koers.rejected_events", run["db"]))


def check_inputs(c, events, voided):
    # Sanity of the reading, so a later mismatch is not a misreading of the files.
    c.equal("handmade/ names two voided events", 2, len(voided))
    c.ok("every voided target is a record of handmade/", all(
        any(r["source"] == s and r["record_id"] == rid
            for r in k.read_csv(HANDMADE / f"{t}.csv")) for s, t, rid in voided), "", voided)


def check_participant_month(c, db, events, names):
    exp = expected_months(events)
    rows = k.psql("SELECT participant, month::text, contacts::text, contact_minutes::text,"
                  " crisis_events::text, police_calls::text FROM koers.participant_month"
                  " ORDER BY 1, 2", db)
    found = {}
    for p, m, *vals in rows:
        if (p, m) in found:
            c.ok(f"participant_month has one row per participant x month ({names.get(p, p)} {m})",
                 False, "one row", "several")
        found[(p, m)] = tuple(int(v) if v != "NULL" else None for v in vals)
    found_nonzero = {key: v for key, v in found.items() if any(v)}
    cols = "contacts, contact_minutes, crisis_events, police_calls"
    for key in sorted(set(exp) | set(found_nonzero)):
        p, m = key
        c.equal(f"participant_month {names.get(p, p[:12])} {m}: ({cols})",
                exp.get(key, "(no non-zero row)"), found.get(key, "(no row)"))
    c.ok("participant_month: every expected non-zero month has a row",
         set(exp) <= set(found), sorted(set(exp)), sorted(set(exp) - set(found)))
    # Totals, as a summary the reader can check against the files by eye.
    tot_exp = tuple(sum(v[i] for v in exp.values()) for i in range(4))
    tot_got = tuple(sum(v[i] or 0 for v in found.values()) for i in range(4))
    c.equal(f"participant_month totals ({cols})", tot_exp, tot_got)


def check_goal_status(c, db, events, names):
    exp = expected_goal_status(events)
    got = sorted(tuple(r) for r in k.psql(
        "SELECT participant, goal_ref, status::text, revisions::text, domain::text,"
        " set_by::text, latest_gas::text, weight::text FROM koers.goal_status", db))
    show = lambda rows: [(names.get(r[0], r[0][:12]),) + r[1:] for r in rows]  # noqa: E731
    c.rows("koers.goal_status (participant, goal_ref, status, revisions, domain, set_by,"
           " latest_gas, weight) equals the Python computation", show(exp), show(got))


def check_tscore(c, db, events, names, as_of):
    exp = expected_tscores(events, as_of)
    got = sorted(tuple(r) for r in k.psql(
        "SELECT participant, goals::text, goals_scored::text, t_score::text"
        f" FROM koers.gas_tscore('{as_of}')", db))
    show = lambda rows: [(names.get(r[0], r[0][:12]),) + r[1:] for r in rows]  # noqa: E731
    c.rows(f"koers.gas_tscore('{as_of}') (participant, goals, goals_scored, t_score)"
           " equals the Python computation", show(exp), show(got))


def main():
    k.require_env()
    c = k.Checks("test_measures_csv")
    run = k.new_run_names("mcsv")
    d = k.tempdir(c, "mcsv")
    run["keyfile"], key = k.write_key_file(d)
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    try:
        check_pipeline(c, run)
        events, voided = load_events(key)
        names = {}
        for etype in k.EVENT_TYPES:
            for path in [HANDMADE / f"{etype}.csv"]:
                if path.exists():
                    for row in k.read_csv(path):
                        names[k.participant(key, row["client_id"])] = repr(row["client_id"])
        c.run(check_inputs, c, events, voided)
        c.run(check_participant_month, c, run["db"], events, names)
        c.run(check_goal_status, c, run["db"], events, names)
        for as_of in AS_OF_DATES:
            c.run(check_tscore, c, run["db"], events, names, as_of)
    except Exception:  # noqa: BLE001
        import traceback
        c.failed += 1
        print("FAIL the test raised:")
        traceback.print_exc(file=sys.stdout)
    c.finish()


if __name__ == "__main__":
    main()
