#!/usr/bin/env python3
"""End to end: three consumers in one group on topics of six partitions; one is killed and
another added while the stream runs; the result is that of a single uninterrupted consumer.

A synthetic cohort (300 participants x 24 months, some 80,000 events) is written as CSV,
split into chunks and imported one chunk at a time (topics of 6 partitions each). Three
koers-consume processes share one group and one database (B). After the first chunks one of
them, picked at random, is SIGKILLed; later a fourth joins; the stream goes on around both.
Each time the test waits until the group has settled: every partition of the six topics
assigned to exactly the live members, each of them holding some. When the stream is complete
and the group's stored offsets reach the partitions' ends, the members are stopped with
SIGTERM (exit 0: each finishes its batch and leaves the group).

Then B is compared with database A, filled by one consumer in one uninterrupted run over the
same topics: every event table (recorded_at included), koers.event_count_month, every
prepared measure table and the stored offsets are equal; B holds exactly the rows computed
here from the CSV; its aggregates equal a recomputation from the raw tables.
"""
import os
import random
import re
import signal
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402

PARTICIPANTS = rel.env_int("KOERS_SCALE_PARTICIPANTS", 300, 1500)
CHUNKS = 8
PARTITIONS = 6
ASSIGNED_RE = re.compile(r"(assigned|gave up) (\d+) partition\(s\)")


def holding(consumer):
    """Partitions a member holds now, from its log (eager rebalancing: each assignment
    replaces the last, a revocation empties it)."""
    held = 0
    for what, n in ASSIGNED_RE.findall(consumer.stderr()):
        held = int(n) if what == "assigned" else 0
    return held


def wait_settled(c, members, what, timeout=90):
    """Waits until the live members together hold every partition, each some."""
    total = PARTITIONS * len(k.EVENT_TYPES)
    deadline = time.monotonic() + timeout
    held = []
    while time.monotonic() < deadline:
        held = [holding(m) for m in members]
        if all(m.alive() for m in members) and sum(held) == total and all(held):
            break
        time.sleep(0.2)
    c.ok(f"{what}: the {len(members)} live members hold all {total} partitions, each some",
         sum(held) == total and all(held), f"sum {total}, none 0",
         dict(zip([m.name for m in members], held)))
    return held


def main():
    k.require_env()
    c = k.Checks("test_scale_out")
    seed = int(os.environ.get("KOERS_TEST_SEED") or random.SystemRandom().randrange(1, 10**9))
    rng = random.Random(seed)
    names = k.new_run_names("scale")
    prefix, group = names["prefix"], names["group"]
    db_a, db_b = names["db"] + "_a", names["db"] + "_b"
    print(f"# seed {seed}, topic prefix {prefix}, databases {db_a} {db_b}")
    tmp = Path(k.tempdir(c, "scale"))
    members, everyone = [], []

    def stop_all():
        for m in everyone:
            if m.alive():
                m.kill()
                m.wait()
    c.cleanup(stop_all)
    for db in (db_a, db_b):
        k.create_db(db)
        c.cleanup(k.drop_db, db)
        if not c.program(f"koers-consume --migrate ({db})", k.migrate(db), 0):
            c.finish()
    t0 = time.monotonic()
    csv_dir = tmp / "csv"
    csv_dir.mkdir()
    c.program("synth to CSV", k.produce("synth", "--participants", str(PARTICIPANTS), "--months",
                                        "24", "--seed", "3131", "--csv", csv_dir), 0)
    keyfile, key = k.write_key_file(tmp)
    expected = k.expected_from_dir(csv_dir, key)
    n = sum(len(v) for v in expected.values())
    chunks = rel.split_csv(csv_dir, tmp / "chunks", CHUNKS, rng)

    def produce(i):
        r = k.produce("import", "--key-file", keyfile, "--topic-prefix", prefix, "--partitions",
                      str(PARTITIONS), chunks[i], timeout=300)
        c.program(f"import {chunks[i].name}", r, 0)
        time.sleep(0.5)  # the stream trickles in

    def start(name):
        m = rel.Consumer(db_b, prefix, group, tmp, name, "--batch-size", "2000")
        members.append(m)
        everyone.append(m)
        return m

    produce(0)  # creates the topics
    parts = k.run(["kcat", "-b", k.brokers(), "-L", "-t", prefix + "contact"]).out
    c.ok(f"the topics have {PARTITIONS} partitions", f"with {PARTITIONS} partitions" in parts,
         f"{PARTITIONS} partitions", parts[-300:])
    for i in range(3):
        start(f"member-{i + 1}")
    wait_settled(c, members, "three members")
    produce(1)
    produce(2)
    victim = rng.choice(members)
    progress = rel.stored_progress(db_b, group)
    c.ok(f"{victim.name} is storing its share when it is killed", holding(victim) > 0 and progress > 0,
         "holds partitions, offsets stored", (holding(victim), progress))
    victim.kill()
    victim.wait()
    members.remove(victim)
    print(f"# SIGKILLed {victim.name} at offsets {progress} of {rel.total_messages(prefix)}")
    produce(3)
    wait_settled(c, members, f"after {victim.name} was killed")
    produce(4)
    newcomer = start("member-4")
    produce(5)
    wait_settled(c, members, "after member-4 joined")
    c.ok("member-4 took over partitions", holding(newcomer) > 0, "> 0", holding(newcomer))
    produce(6)
    produce(7)
    total = rel.total_messages(prefix)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and rel.stored_progress(db_b, group) < total:
        time.sleep(0.5)
    c.equal("the group stored offsets up to the end of every partition", total,
            rel.stored_progress(db_b, group))
    for m in members:
        m.kill(signal.SIGTERM)
        rc = m.wait(timeout=60)
        c.equal(f"{m.name}: SIGTERM, finishes its batch and leaves the group: exit", 0, rc)
        for bad in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
            c.ok(f"{m.name}: no sanitizer report", bad not in m.stderr(), "none", bad)
    stored_by = {m.name: (k.consume_counts(m.stderr()) or (0,))[0] for m in members}
    print(f"# stored per member (new events): {stored_by}")
    k.wait_backends_gone(db_b)

    r = k.consume(db_a, prefix, group + "-a", "--until-caught-up", *rel.GROUP_X, timeout=600)
    c.program("database A: one consumer, one uninterrupted run", r, 0)
    c.equal("database A: new, already present, rejected", (n, 0, 0), k.consume_counts(r.err))
    for t in k.EVENT_TYPES:
        rows_b = k.table_rows(db_b, t, recorded=True)
        c.rows(f"koers.{t}: B holds exactly the rows computed from the CSV", expected[t],
               [row[:-1] for row in rows_b])
        c.rows(f"koers.{t}: B equals A (recorded_at included)", k.table_rows(db_a, t, recorded=True),
               rows_b)
    c.rows("koers.event_count_month: B equals A", k.count_month_rows(db_a), k.count_month_rows(db_b))
    c.equal("B: koers.event_count_month equals a recount from the raw tables", 0,
            rel.month_count_mismatches(db_b))
    c.equal("B: every prepared measure table equals a recomputation from the raw tables",
            {t: 0 for t in rel.PREPARED}, rel.prepared_mismatches(db_b))
    for t in rel.PREPARED:
        c.rows(f"koers.{t} (prepared measures): B equals A", rel.prepared_rows(db_a, t),
               rel.prepared_rows(db_b, t))
    c.equal("stored offsets: B's group equals A's", rel.db_offsets(db_a, group + "-a"),
            rel.db_offsets(db_b, group))
    c.equal("no rejected events", [["0"]], k.psql("SELECT count(*) FROM koers.rejected_events", db_b))
    rel.record("scale_out", {"seed": seed, "events": n, "messages": total, "partitions": PARTITIONS,
                             "members": [m.name for m in everyone], "killed": victim.name,
                             "added": newcomer.name, "stored_by_member_at_the_end": stored_by,
                             "seconds": round(time.monotonic() - t0), "passed": c.passed,
                             "failed": c.failed})
    c.finish()


if __name__ == "__main__":
    main()
