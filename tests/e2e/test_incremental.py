#!/usr/bin/env python3
"""End to end: the consumer's incremental measures (koers.apply_staged) equal a rebuild.

koers-consume keeps every prepared measure table current by difference, batch by batch. This
drives the real programs through the orders that make that hard, and after each step compares
every prepared table with koers.refresh_all() (in a rolled-back transaction) and
koers.event_count_month with a recount from the raw tables:

1. A synthetic cohort (late events, corrections, goals, pauses and exits) consumed in small
   batches, so that each participant's history is split over many batches and event types.
2. The same cohort again (a redelivery): nothing new is stored, nothing changes (the
   consumer's slow path for batches holding stored events).
3. A second cohort imported from CSV, corrections first (they arrive before their targets),
   then its enrolments, then the rest: events born voided, enrolment changes that move spans
   under stored events; and another whose corrections come last, voiding stored events.
4. A third cohort in large batches, many participants per batch (the live shape).
5. Each participant's enrolment changes in batches of their own (issue 16's suspect for a
   participant missing from the population): a cohort's other events first, then the first
   enrolment change of every participant, then the second, and so on; a second cohort with
   them last change first. After each step the state equals a rebuild, and at the end every
   participant enrolled in the CSV (counted here) has a first_enrolled day, the one the CSV
   gives.

KOERS_TEST_SEED fixes the seeds (printed, so that a failing run can be replayed).
"""
import csv
import datetime
import os
import random
import shutil
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402


def check_state(c, db, what):
    mism = rel.prepared_mismatches(db)
    for table in rel.PREPARED:
        c.equal(f"{what}: koers.{table} equals a rebuild from the raw tables", 0,
                mism.get(table))
    c.equal(f"{what}: koers.event_count_month equals a recount", 0,
            rel.month_count_mismatches(db))


def consume(c, names, what, *args):
    r = k.consume(names["db"], names["prefix"], names["group"], "--until-caught-up", *args,
                  timeout=600)
    c.program(what, r, 0)
    return k.consume_counts(r.err)


def main():
    k.require_env()
    c = k.Checks("test_incremental")
    seed = int(os.environ.get("KOERS_TEST_SEED", random.randrange(1, 1_000_000)))
    print(f"# seed {seed}")
    names = k.new_run_names("incr")
    k.create_db(names["db"])
    c.cleanup(k.drop_db, names["db"])
    k.migrate(names["db"])
    tmp = k.tempdir(c, "incr")

    # 1. Small batches: histories split over many transactions.
    r = k.produce("synth", "--participants", "40", "--months", "18", "--seed", str(seed),
                  "--topic-prefix", names["prefix"])
    c.program("synth cohort 1 to Kafka", r, 0)
    counts = consume(c, names, "consume cohort 1 in batches of 37", "--batch-size", "37")
    c.ok("cohort 1 stored", counts and counts[0] > 1000, "> 1000 new", counts)
    check_state(c, names["db"], "cohort 1, small batches")
    before = {t: rel.prepared_rows(names["db"], t) for t in rel.PREPARED}

    # 2. The same events again: all already stored.
    r = k.produce("synth", "--participants", "40", "--months", "18", "--seed", str(seed),
                  "--topic-prefix", names["prefix"])
    c.program("synth cohort 1 again", r, 0)
    counts = consume(c, names, "consume the redelivery", "--batch-size", "500")
    c.ok("the redelivery stores nothing new", counts and counts[0] == 0 and counts[1] > 1000,
         "0 new", counts)
    for t in rel.PREPARED:
        c.ok(f"the redelivery changes no row of koers.{t}",
             rel.prepared_rows(names["db"], t) == before[t])
    check_state(c, names["db"], "after the redelivery")

    # 3. A cohort imported in an awkward order: corrections, enrolments, the rest.
    key, _ = k.write_key_file(tmp)
    src = Path(tmp) / "cohort2"
    src.mkdir()
    r = k.produce("synth", "--participants", "25", "--months", "24", "--seed", str(seed + 1),
                  "--cohort", "second", "--csv", src)
    c.program("synth cohort 2 to CSV", r, 0)
    for step, files in (("corrections", ["correction.csv"]), ("enrolments", ["enrolment.csv"]),
                        ("the rest", ["contact.csv", "crisis.csv", "goal_change.csv",
                                      "police_call.csv"])):
        d = Path(tmp) / f"step-{step.replace(' ', '-')}"
        d.mkdir()
        for f in files:
            shutil.copy(src / f, d / f)
        r = k.produce("import", "--key-file", key, "--topic-prefix", names["prefix"], d)
        c.program(f"import cohort 2: {step}", r, 0)
        consume(c, names, f"consume cohort 2: {step}", "--batch-size", "61")
        check_state(c, names["db"], f"cohort 2 after {step}")

    # ... and one whose corrections come last, voiding events stored by earlier batches.
    src = Path(tmp) / "cohort2b"
    src.mkdir()
    r = k.produce("synth", "--participants", "25", "--months", "24", "--seed", str(seed + 3),
                  "--cohort", "second_b", "--csv", src)
    c.program("synth cohort 2b to CSV", r, 0)
    corrections = Path(tmp) / "cohort2b-corrections"
    corrections.mkdir()
    shutil.move(src / "correction.csv", corrections / "correction.csv")
    for step, d in (("everything but corrections", src), ("corrections", corrections)):
        r = k.produce("import", "--key-file", key, "--topic-prefix", names["prefix"], d)
        c.program(f"import cohort 2b: {step}", r, 0)
        consume(c, names, f"consume cohort 2b: {step}", "--batch-size", "43")
        check_state(c, names["db"], f"cohort 2b after {step}")
    voided = k.psql("SELECT (SELECT coalesce(sum(voided), 0) FROM koers.registration_month),"
                    " (SELECT coalesce(sum(u.n), 0) FROM koers.lateness_histogram l,"
                    "  unnest(l.events) AS u(n) WHERE l.voided)",
                    names["db"])
    c.ok("corrections voided stored events", int(voided[0][0]) > 0 and voided[0][0] == voided[0][1],
         "> 0, the same in both tables", voided)

    # 4. Large batches over many participants.
    r = k.produce("synth", "--participants", "60", "--months", "12", "--seed", str(seed + 2),
                  "--cohort", "third", "--topic-prefix", names["prefix"])
    c.program("synth cohort 3 to Kafka", r, 0)
    consume(c, names, "consume cohort 3 in batches of 5000", "--batch-size", "5000")
    check_state(c, names["db"], "cohort 3, large batches")

    # 5. Enrolment changes of one participant in different batches, forwards and backwards.
    for cohort, order, sd in (("fourth", "in event order", seed + 4), ("fifth", "last change first", seed + 5)):
        split_enrolments(c, names, tmp, key, cohort, order, sd)
    c.finish()


def local_day(text):
    return datetime.datetime.fromtimestamp(k.parse_time_ms(text) / 1000, tz=k.ZONE).date().isoformat()


def split_enrolments(c, names, tmp, key, cohort, order, seed):
    src = Path(tmp) / cohort
    src.mkdir()
    r = k.produce("synth", "--participants", "30", "--months", "24", "--seed", str(seed),
                  "--cohort", cohort, "--csv", src)
    c.program(f"synth cohort {cohort} to CSV", r, 0)
    rows = k.read_csv(src / "enrolment.csv")
    header = list(rows[0].keys())
    by_client = {}
    for row in sorted(rows, key=lambda x: x["occurred_at"]):
        by_client.setdefault(row["client_id"], []).append(row)
    if order != "in event order":
        for v in by_client.values():
            v.reverse()
    steps = max(len(v) for v in by_client.values())
    c.ok(f"cohort {cohort}: participants with several enrolment changes",
         sum(len(v) > 1 for v in by_client.values()) >= 2, ">= 2", {k_: len(v) for k_, v in by_client.items()})
    (src / "enrolment.csv").rename(Path(tmp) / f"{cohort}-enrolment.csv")
    r = k.produce("import", "--key-file", key, "--topic-prefix", names["prefix"], src)
    c.program(f"import cohort {cohort}: everything but enrolments", r, 0)
    consume(c, names, f"consume cohort {cohort}: everything but enrolments", "--batch-size", "500")
    check_state(c, names["db"], f"cohort {cohort} before its enrolments")
    for i in range(steps):
        d = Path(tmp) / f"{cohort}-enrolment-{i}"
        d.mkdir()
        with open(d / "enrolment.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=header)
            w.writeheader()
            w.writerows(v[i] for v in by_client.values() if i < len(v))
        r = k.produce("import", "--key-file", key, "--topic-prefix", names["prefix"], d)
        c.program(f"import cohort {cohort}: enrolment change {i + 1} of each ({order})", r, 0)
        consume(c, names, f"consume cohort {cohort}: enrolment change {i + 1}", "--batch-size", "500")
        check_state(c, names["db"], f"cohort {cohort} after enrolment change {i + 1} ({order})")
    # Each participant's first enrolled day, from the CSV (local day in Europe/Amsterdam).
    secret = Path(key).read_bytes().rstrip(b"\n")
    want = sorted((k.participant(secret, client), local_day(min(
        (r_["occurred_at"] for r_ in v if r_["change"] == "enrolled"), key=k.parse_time_ms)))
        for client, v in by_client.items() if any(r_["change"] == "enrolled" for r_ in v))
    got = sorted(tuple(x) for x in k.psql(f"SELECT participant, first_enrolled FROM koers.participant"
                                           f" WHERE cohort = '{cohort}' AND first_enrolled IS NOT NULL", names["db"]))
    c.equal(f"cohort {cohort}: every enrolled participant has the first enrolled day of the CSV ({len(want)})",
            [list(x) for x in want], [list(x) for x in got])


if __name__ == "__main__":
    main()
