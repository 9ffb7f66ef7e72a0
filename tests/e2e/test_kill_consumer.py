#!/usr/bin/env python3
"""End to end: SIGKILL the consumer at random moments; nothing is lost and nothing doubles.

A synthetic stream (300 participants x 24 months, some 80,000 events) is produced once.
Database A gets one uninterrupted `--until-caught-up` run. Database B (same topics, its own
group) gets a consumer with --batch-size 500 that is SIGKILLed at random moments, at least
5 times while it is part-way through the stream, restarted each time, and finally run until
caught up. Then A and B must be identical: every event table (full rows), the monthly
aggregate, and the stored offsets per topic and partition; the aggregate must equal a recount
from the raw tables, and the offsets must equal the number of rows.

The moments come from a seeded random generator; the seed is printed and KOERS_TEST_SEED
replays it. The consumers run with -X session.timeout.ms=6000 so that the group notices a
killed member in seconds rather than the default 45.
"""
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

PARTICIPANTS, MONTHS, SYNTH_SEED = 300, 24, 20241
MIN_KILLS = 5
MAX_ATTEMPTS = 20
GROUP_X = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"]


def stored_offsets(db, group):
    rows = k.psql(f"SELECT coalesce(sum(next_offset), 0) FROM koers.consumer_offset"
                  f" WHERE group_id = '{group}'", db)
    return int(rows[0][0])


def produce_stream(c, run):
    r = k.produce("synth", "--participants", str(PARTICIPANTS), "--months", str(MONTHS),
                  "--seed", str(SYNTH_SEED), "--topic-prefix", run["prefix"], timeout=300)
    c.program(f"synth {PARTICIPANTS} x {MONTHS} months to Kafka", r, 0)
    m = re.search(r"(\d+) synthetic event\(s\) for \d+ participant\(s\): (\d+) delivered, 0 not",
                    r.err)
    c.ok("synth reports every event delivered", m and m.group(1) == m.group(2),
         "'N synthetic event(s) ...: N delivered, 0 not'", r.err.strip()[-300:])
    n = int(m.group(2)) if m else 0
    c.ok("the stream has tens of thousands of events", n >= 20000, ">= 20000", n)
    return n


def consume_uninterrupted(c, run, n):
    t0 = time.monotonic()
    r = k.consume(run["dbA"], run["prefix"], run["groupA"], "--until-caught-up", *GROUP_X,
                  timeout=300)
    c.program("database A: one uninterrupted run", r, 0)
    c.equal("database A: new, already present, rejected", (n, 0, 0), k.consume_counts(r.err))
    print(f"# database A took {time.monotonic() - t0:.1f}s")


def consume_with_kills(c, run, n, rng, tmp):
    db, group = run["dbB"], run["groupB"]
    argv = k.consume_argv(db, run["prefix"], group, "--batch-size", "500", *GROUP_X)
    kills_mid = 0
    progress = 0
    attempt = 0
    while kills_mid < MIN_KILLS and attempt < MAX_ATTEMPTS and progress < n:
        attempt += 1
        log = open(Path(tmp) / f"consume-{attempt}.log", "wb")
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                             env=k.program_env())
        run["children"].append(p)
        t0 = time.monotonic()
        # Mostly: once it is storing, after a random delay (mid-batch, mid-commit, between
        # batches). Sometimes: at a random moment from the start (joining, assigning).
        early = rng.random() < 0.25
        delay = rng.uniform(0.05, 2.0) if early else rng.uniform(0.0, 0.4)
        if not early:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and p.poll() is None:
                if stored_offsets(db, group) > progress:
                    break
                time.sleep(0.05)
        time.sleep(delay)
        alive = p.poll() is None
        if alive:
            os.kill(p.pid, signal.SIGKILL)
        p.wait()
        log.close()
        if not k.wait_backends_gone(db, timeout=15):
            c.ok(f"attempt {attempt}: the killed consumer's database session ends", False,
                 "no session left", "still connected after 15 s")
        before, progress = progress, stored_offsets(db, group)
        mid = alive and not early and before < progress < n
        kills_mid += mid
        print(f"# attempt {attempt}: {'early' if early else 'after progress'} +{delay:.2f}s,"
              f" killed at {time.monotonic() - t0:.1f}s: {'SIGKILL' if alive else f'exited {p.returncode}'},"
              f" offsets {before} -> {progress} of {n}{' (mid-stream kill)' if mid else ''}")
        if not alive:
            c.ok(f"attempt {attempt}: the consumer (without --until-caught-up) was still running",
                 False, "running", f"exited {p.returncode}: "
                 + (Path(tmp) / f"consume-{attempt}.log").read_text(errors="replace")[-1500:])
    c.ok(f"database B: at least {MIN_KILLS} SIGKILLs part-way through the stream",
         kills_mid >= MIN_KILLS, f">= {MIN_KILLS}", kills_mid)
    r = k.consume(db, run["prefix"], group, "--until-caught-up", "--batch-size", "500", *GROUP_X,
                  timeout=300)
    c.program("database B: final run until caught up", r, 0)
    c.equal("database B final run: the rest is new, nothing already present, nothing rejected",
            (n - progress, 0, 0), k.consume_counts(r.err))


def compare(c, run, n):
    a, b = run["dbA"], run["dbB"]
    total = 0
    for t in k.EVENT_TYPES:
        rows_a = k.table_rows(a, t, recorded=True)
        total += len(rows_a)
        c.rows(f"koers.{t}: B equals A (full rows)", rows_a, k.table_rows(b, t, recorded=True))
    c.equal("A holds every event of the stream", n, total)
    months_a = k.count_month_rows(a)
    c.rows("koers.event_count_month: B equals A", months_a, k.count_month_rows(b))
    c.rows("A: event_count_month equals a recount from the raw tables", k.recount_month_rows(a),
           months_a)
    c.rows("B: event_count_month equals a recount from the raw tables", k.recount_month_rows(b),
           k.count_month_rows(b))
    offs_a = k.offsets(a, run["groupA"])
    c.rows("koers.consumer_offset: next_offset per topic and partition, B equals A", offs_a,
           k.offsets(b, run["groupB"]))
    sums = {}
    for topic, _p, nxt in offs_a:
        sums[topic] = sums.get(topic, 0) + int(nxt)
    counts = {f"{run['prefix']}{t}": int(k.psql(f"SELECT count(*) FROM koers.{t}", a)[0][0])
              for t in k.EVENT_TYPES}
    counts = {t: v for t, v in counts.items() if v}
    c.equal("A: sum of next_offset per topic = rows stored from it (fresh topics)", counts, sums)
    for name, db in (("A", a), ("B", b)):
        c.equal(f"{name}: no rejected events", [["0"]],
                k.psql("SELECT count(*) FROM koers.rejected_events", db))


def main():
    k.require_env()
    c = k.Checks("test_kill_consumer")
    seed = int(os.environ.get("KOERS_TEST_SEED") or random.SystemRandom().randrange(1, 10**9))
    rng = random.Random(seed)
    names = k.new_run_names("kill")
    run = {"prefix": names["prefix"], "groupA": names["group"] + "-a",
           "groupB": names["group"] + "-b", "dbA": names["db"] + "_a", "dbB": names["db"] + "_b",
           "children": []}
    print(f"# kill seed {seed} (KOERS_TEST_SEED={seed} replays the moments), topic prefix"
          f" {run['prefix']}, databases {run['dbA']} {run['dbB']}")
    tmp = k.tempdir(c, "kill")

    def stop_children():
        for p in run["children"]:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
    c.cleanup(stop_children)
    for db in (run["dbA"], run["dbB"]):
        k.create_db(db)
        c.cleanup(k.drop_db, db)
        if not c.program(f"koers-consume --migrate ({db})", k.migrate(db), 0):
            c.finish()
    n = c.run(produce_stream, c, run)
    if n:
        c.run(consume_uninterrupted, c, run, n)
        c.run(consume_with_kills, c, run, n, rng, tmp)
        c.run(compare, c, run, n)
    c.finish()


if __name__ == "__main__":
    main()
