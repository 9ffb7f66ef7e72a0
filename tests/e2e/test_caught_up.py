#!/usr/bin/env python3
"""End to end: what `koers-consume --until-caught-up` means. It exits once every partition of
every event topic has been read up to the end (high watermark) it had when the program
started: read by this process, or stored in the database for the group by another member.
Not when the partitions it happens to be assigned are read (issue 16, "66 of 67").

A synthetic cohort goes to topics of six partitions; the rows expected are computed here
from the same seed's CSV (synth --csv), not by the consumer.

1. Assignment incomplete: member B (its own database B, no --until-caught-up) holds the
   partitions when A (database A, --until-caught-up) joins the group; the rebalance gives A
   only part of them. A reads its part and must go on waiting (still running seconds later)
   rather than exit; when B leaves (SIGTERM), A is given the rest, reads it and exits 0, and
   database A holds exactly the cohort. Before the change A exited 0 with part of it.
2. Another member's progress counts: B (database A this time) has read everything and keeps
   running; A joins with --until-caught-up and exits 0 within a minute although B keeps
   partitions A never reads, because B's stored offsets reach the ends; nothing is stored
   twice.
3. Topics that do not exist yet (created by the consumer, their leaders just elected):
   their ends are 0, so it exits at once with nothing stored.
"""
import re
import signal
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402

SEED = 16016
SYNTH = ["synth", "--participants", "24", "--months", "6", "--seed", str(SEED)]
ASSIGNED_RE = re.compile(r"(assigned|gave up) (\d+) partition\(s\)")


def holding(consumer):
    held = 0
    for what, n in ASSIGNED_RE.findall(consumer.stderr()):
        held = int(n) if what == "assigned" else 0
    return held


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def new_db(c, name):
    k.create_db(name)
    c.cleanup(k.drop_db, name)
    return c.program(f"migrate {name}", k.migrate(name), 0)


def stop(c, consumer, what):
    consumer.kill(signal.SIGTERM)
    rc = consumer.wait(60)
    c.equal(f"{what} stops on SIGTERM with exit 0", 0, rc)


def check_rows(c, db, expected, what):
    tables = k.all_tables(db)
    for t in k.EVENT_TYPES:
        c.rows(f"{what}: koers.{t} = the cohort computed here", expected[t], tables[t])


def incomplete_assignment(c, tmp, run, expected):
    """Scenario 1: A joins while B holds the partitions."""
    db_a, db_b = run["db"] + "_a", run["db"] + "_b"
    if not (new_db(c, db_a) and new_db(c, db_b)):
        return
    b = rel.Consumer(db_b, run["prefix"], run["group"], tmp, "member-b")
    c.cleanup(lambda: b.kill() and b.wait(10))
    total = 6 * len(k.EVENT_TYPES)
    c.ok("member B holds every partition", wait_for(lambda: holding(b) == total, 60), total, holding(b))
    a = rel.Consumer(db_a, run["prefix"], run["group"], tmp, "member-a", "--until-caught-up")
    c.cleanup(lambda: a.kill() and a.wait(10))
    shared = wait_for(lambda: 0 < holding(a) < total and 0 < holding(b) < total or not a.alive(), 60)
    c.ok("the group shares the partitions between A and B", shared and holding(a) + holding(b) == total,
         f"sum {total}", (holding(a), holding(b), a.stderr()[-600:]))
    # A reads its share while B keeps the rest: A must then say what it waits for (every 10 s),
    # not exit (what it did before, as soon as its share was read).
    wait_for(lambda: not a.alive() or "waiting for" in k.log_text(a.stderr()), 120)
    c.ok("A (--until-caught-up) still runs and says it waits: B holds partitions A has not read",
         a.alive() and "waiting for" in k.log_text(a.stderr()), "running, waiting",
         f"exit {a.p.poll()}: {k.log_text(a.stderr())[-800:]}")
    stop(c, b, "member B")
    rc = a.wait(120)
    c.equal("A exits 0 once it has read the rest", 0, rc)
    check_rows(c, db_a, expected, "database A")


def other_member_progress(c, tmp, run, expected):
    """Scenario 2: B has stored everything in the shared database; A need not read it."""
    db = run["db"] + "_s"
    if not new_db(c, db):
        return
    group = run["group"] + "-s"
    b = rel.Consumer(db, run["prefix"], group, tmp, "shared-b")
    c.cleanup(lambda: b.kill() and b.wait(10))
    n = sum(len(v) for v in expected.values())
    stored = lambda: sum(int(k.psql(f"SELECT count(*) FROM koers.{t}", db)[0][0]) for t in k.EVENT_TYPES)  # noqa: E731
    c.ok("member B stores the cohort", wait_for(lambda: stored() == n, 120), n, stored())
    a = rel.Consumer(db, run["prefix"], group, tmp, "shared-a", "--until-caught-up")
    c.cleanup(lambda: a.kill() and a.wait(10))
    rc = a.wait(60)
    c.equal("A exits 0 while B keeps running (B's stored offsets reach the ends)", 0, rc)
    c.ok("B still runs", b.alive(), "running", b.p.poll())
    stop(c, b, "member B")
    check_rows(c, db, expected, "shared database")
    c.equal("A read nothing itself (new, already present, rejected)", (0, 0, 0), k.consume_counts(a.stderr()))


def end_at_start(c, tmp, run):
    """Scenario 3: new topics, nothing to read: exit at once."""
    prefix = run["prefix"] + "empty."
    db = run["db"] + "_e"
    if not new_db(c, db):
        return
    t0 = time.monotonic()
    r = k.consume(db, prefix, run["group"] + "-e", "--until-caught-up", *rel.GROUP_X, timeout=120)
    c.program("--until-caught-up on new, empty topics", r, 0)
    c.ok("... exits within 60 s", time.monotonic() - t0 < 60, "< 60 s", f"{time.monotonic() - t0:.1f} s")
    c.equal("... stores nothing", (0, 0, 0), k.consume_counts(r.err))


def main():
    k.require_env()
    c = k.Checks("test_caught_up")
    tmp = k.tempdir(c, "caught-up")
    run = k.new_run_names("caughtup")
    csv_dir = Path(tmp) / "csv"
    csv_dir.mkdir()
    r = k.produce(*SYNTH, "--csv", str(csv_dir))
    c.program("synth --csv", r, 0)
    expected = k.expected_from_dir(csv_dir, k.synth_key(SEED))
    r = k.produce(*SYNTH, "--topic-prefix", run["prefix"], "--partitions", "6", "-b", k.brokers())
    if not c.program("synth to topics of 6 partitions", r, 0):
        c.finish()
    c.run(incomplete_assignment, c, tmp, run, expected)
    c.run(other_member_progress, c, tmp, run, expected)
    c.run(end_at_start, c, tmp, run)
    c.finish()


if __name__ == "__main__":
    main()
