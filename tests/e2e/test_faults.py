#!/usr/bin/env python3
"""End to end: faults while a stream of over 200,000 events flows; nothing lost, nothing twice.

A synthetic cohort (800 participants x 24 months, some 210,000 events) is written as CSV,
split into chunks and imported chunk by chunk with koers-produce while consumer B (its own
database and group, --batch-size 1000) stores it. Faults, each while the stream runs:
- consumer B is SIGKILLed at random moments (mostly a fraction of a second after one of its
  commits, now and then at any moment, e.g. while it is still joining the group), at least
  12 times part-way through the stream, and restarted each time;
- the producer is stopped part-way through a file, once with SIGKILL and once with SIGTERM,
  and the same chunk is imported again (its file comes through a named pipe, slowly, so
  that the stop really falls in the middle);
- the Kafka broker is restarted (scripts/services restart kafka) while the producer is
  part-way through a file and the consumer is reading; the first time it stays down for
  KAFKA_DOWN seconds, longer than a producer's give-up time of its own would be (the
  producer waits as long as librdkafka's message.timeout.ms, 300 s unless -X sets it);
- PostgreSQL is restarted while consumer B has a batch transaction open: the test holds the
  advisory locks that the consumer's measures hook takes at the end of each batch
  (koers.refresh_participants, or koers.apply_staged), waits until B's transaction (its rows
  COPYed and INSERTed) is blocked on them, and restarts PostgreSQL under it.

After every kill (the consumer dead, its database session gone) B is checked: the stored
events are exactly the distinct events of the stream below each partition's stored offset
(count and digest, computed here from the messages' bytes), koers.event_count_month equals a
recount from the raw tables, and every prepared measure table equals a recomputation by
koers.refresh_all() (in a transaction that is rolled back).

At the end B runs until caught up, and database A gets one uninterrupted run over the same
topics. Then: B's rows equal the rows computed here from the CSV (every column but
recorded_at) and each recorded_at is that of the event's first copy in the stream (a
re-imported copy never replaces it); A equals B in every event table (recorded_at included),
event_count_month, every prepared table and the stored offsets, which equal the partitions'
end offsets; both aggregates equal recomputations; nothing was rejected.

KOERS_TEST_SEED replays the random moments and the chunking. KOERS_SOAK=1 (scripts/reliability
--soak) runs a longer stream with more faults; KOERS_FAULT_PARTICIPANTS, _CHUNKS, _KILLS,
_KAFKA_RESTARTS, _PG_RESTARTS and _PRODUCER_STOPS set the sizes one by one.
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
import koers_reliability as rel  # noqa: E402

PARTICIPANTS = rel.env_int("KOERS_FAULT_PARTICIPANTS", 800, 3000)
MONTHS = 24
CHUNKS = rel.env_int("KOERS_FAULT_CHUNKS", 10, 30)
KILLS = rel.env_int("KOERS_FAULT_KILLS", 12, 45)
KAFKA_RESTARTS = rel.env_int("KOERS_FAULT_KAFKA_RESTARTS", 1, 3)
PG_RESTARTS = rel.env_int("KOERS_FAULT_PG_RESTARTS", 1, 3)
PRODUCER_STOPS = rel.env_int("KOERS_FAULT_PRODUCER_STOPS", 2, 4)
KAFKA_DOWN = 70
MIN_EVENTS = 200000
BATCH = "1000"
REFRESH_LOCK = 7012342  # the advisory lock class of the measures hook (sql/defs/20_prepared.sql)


class Run:
    def __init__(self, c, rng, tmp):
        names = k.new_run_names("faults")
        self.c, self.rng, self.tmp = c, rng, Path(tmp)
        self.prefix = names["prefix"]
        self.group_a, self.group_b = names["group"] + "-a", names["group"] + "-b"
        self.db_a, self.db_b = names["db"] + "_a", names["db"] + "_b"
        self.consumer = None
        self.consumers = []  # every process, for the cleanup
        self.attempt = 0
        self.faults = []  # what the report lists
        self.checkpoints = []  # (label, offsets, digest, month mismatches, prepared mismatches)
        self.kills = self.kills_mid = 0
        self.progress = 0

    # ------------------------------------------------------------ consumer B

    def start_b(self):
        self.attempt += 1
        self.consumer = rel.Consumer(self.db_b, self.prefix, self.group_b, self.tmp,
                                     f"consumer-b-{self.attempt:03d}", "--batch-size", BATCH)
        self.consumers.append(self.consumer)

    def ensure_b(self):
        if self.consumer is None or not self.consumer.alive():
            if self.consumer is not None:
                rc = self.consumer.wait()
                self.c.ok(f"{self.consumer.name}: still running when the test came back to it",
                          False, "running", f"exited {rc}: {self.consumer.stderr()[-1500:]}")
            self.start_b()

    def kill_b(self, label):
        """One SIGKILL at a random moment, then a checkpoint and a restart."""
        self.ensure_b()
        early = self.rng.random() < 0.2
        before = self.progress
        produced = rel.total_messages(self.prefix)
        if early:
            delay = self.rng.uniform(0.05, 2.0)
        else:
            delay = self.rng.uniform(0.0, 0.4)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.consumer.alive():
                if rel.stored_progress(self.db_b, self.group_b) > before:
                    break
                time.sleep(0.05)
        time.sleep(delay)
        alive = self.consumer.kill()
        self.consumer.wait()
        if not k.wait_backends_gone(self.db_b):
            self.c.ok(f"{label}: the killed consumer's database session ends", False,
                      "no session left", "still connected after 20 s")
        self.progress = rel.stored_progress(self.db_b, self.group_b)
        # Part-way through the stream: it had stored more since its last start, not yet all.
        mid = alive and before < self.progress < produced
        self.kills += alive
        self.kills_mid += mid
        what = (f"consumer SIGKILL {'at random' if early else 'after its next commit'} "
                f"+{delay:.2f}s: offsets {before} -> {self.progress} of {produced}"
                + (" (mid-stream)" if mid else ""))
        print(f"# {label}: {what}")
        if not alive:
            self.c.ok(f"{label}: the consumer was running when it was to be killed", False,
                      "running", self.consumer.stderr()[-1500:])
        self.faults.append({"kind": "consumer SIGKILL", "label": label, "mid_stream": mid,
                            "offsets_before": before, "offsets_after": self.progress,
                            "produced": produced})
        self.checkpoint(label)
        self.start_b()

    def checkpoint(self, label):
        """Records B's state now (the consumer stopped); checked against the stream later."""
        offs = rel.db_offsets(self.db_b, self.group_b)
        dig = rel.db_digest(self.db_b)
        months = rel.month_count_mismatches(self.db_b)
        prepared = rel.prepared_mismatches(self.db_b)
        self.checkpoints.append((label, offs, dig, months, prepared))

    # ------------------------------------------------------------ producer

    def import_dir(self, d, what):
        r = k.produce("import", "--key-file", self.keyfile, "--topic-prefix", self.prefix,
                      "--partitions", "6", d, timeout=600)
        self.c.program(what, r, 0)
        return r

    def slow_dir(self, chunk, pause):
        """A copy of the chunk whose contact.csv is a named pipe fed slowly."""
        d = self.tmp / f"slow-{chunk.name}-{self.rng.randrange(10**6)}"
        d.mkdir()
        for f in chunk.iterdir():
            if f.name != "contact.csv":
                (d / f.name).write_bytes(f.read_bytes())
        feed = rel.SlowFile(d / "contact.csv", (chunk / "contact.csv").read_bytes(),
                            piece=32768, pause=pause)
        return d, feed

    def start_producer(self, d):
        log = open(self.tmp / f"producer-{d.name}.log", "wb")
        p = subprocess.Popen([k.program("koers-produce"), "import", "--key-file", self.keyfile,
                              "--topic-prefix", self.prefix, "--partitions", "6", str(d)],
                             stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                             env=k.program_env())
        return p, log

    def wait_delivering(self, p, feed, before, share):
        """Waits until the producer has read `share` of the slow file and Kafka holds some of
        this chunk's messages. Returns the messages delivered so far."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            now = rel.total_messages(self.prefix)
            if feed.written >= share * len(feed.content) and now > before:
                return now - before
            time.sleep(0.1)
        return rel.total_messages(self.prefix) - before

    def producer_stop(self, chunk, sig, label):
        """Stops the producer part-way through the chunk, then imports the chunk again."""
        before = rel.total_messages(self.prefix)
        d, feed = self.slow_dir(chunk, pause=0.15)
        p, log = self.start_producer(d)
        delivered = self.wait_delivering(p, feed, before, self.rng.uniform(0.3, 0.6))
        alive = p.poll() is None
        if alive:
            os.kill(p.pid, sig)
        rc = p.wait(timeout=120)
        log.close()
        feed.unblock()
        err = Path(log.name).read_text(errors="replace")
        partial = rel.total_messages(self.prefix) - before
        rows = sum(len(k.read_csv(f)) for f in chunk.iterdir())
        want = -signal.SIGKILL if sig == signal.SIGKILL else 130
        name = "SIGKILL" if sig == signal.SIGKILL else "SIGTERM"
        self.c.ok(f"{label}: producer {name}ed part-way through {chunk.name}/contact.csv"
                  f" ({partial} of {rows} events in Kafka)", alive and 0 < partial < rows,
                  f"running, 0 < delivered < {rows}", f"alive={alive}, delivered={partial}")
        self.c.equal(f"{label}: producer exit status after {name}", want, rc)
        if sig == signal.SIGTERM:
            self.c.ok(f"{label}: the stopped producer reports what it delivered",
                      re.search(r"\d+ row\(s\) read, \d+ delivered, \d+ refused, 0 not delivered",
                                err) is not None, "'N delivered, ..., 0 not delivered'", err[-800:])
        self.import_dir(chunk, f"{label}: {chunk.name} imported again after the stop")
        self.faults.append({"kind": f"producer {name} mid-import", "label": label,
                            "delivered_before_stop": partial, "rows": rows, "exit": rc,
                            "survived": alive and 0 < partial < rows and rc == want})

    def kafka_restart(self, chunk, label, down=0):
        """Restarts the broker, down for down seconds, while the producer is part-way
        through the chunk."""
        self.ensure_b()
        before = rel.total_messages(self.prefix)
        progress0 = rel.stored_progress(self.db_b, self.group_b)
        d, feed = self.slow_dir(chunk, pause=0.4)
        p, log = self.start_producer(d)
        delivered = self.wait_delivering(p, feed, before, 0.2)
        producing = p.poll() is None
        t0 = time.monotonic()
        rel.restart("kafka", down)
        down = time.monotonic() - t0
        try:
            rc = p.wait(timeout=600)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            rc = p.wait()
        log.close()
        feed.unblock()
        err = Path(log.name).read_text(errors="replace")
        rows = sum(len(k.read_csv(f)) for f in chunk.iterdir())
        self.c.ok(f"{label}: the producer was part-way through {chunk.name} when the broker"
                  f" went down ({delivered} of {rows} delivered)", producing and delivered < rows,
                  "running", f"exited {p.returncode}")
        self.c.equal(f"{label}: the producer finished the import across the broker restart",
                     0, rc)
        self.c.ok(f"{label}: every row of {chunk.name} delivered, none lost",
                  f"{rows} row(s) read, {rows} delivered, 0 refused, 0 not delivered" in err,
                  f"'{rows} row(s) read, {rows} delivered, 0 refused, 0 not delivered'",
                  err[-800:])
        # The consumer goes on by itself once the broker is back.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.consumer.alive():
            if rel.stored_progress(self.db_b, self.group_b) > max(progress0, self.progress):
                break
            time.sleep(0.2)
        after = rel.stored_progress(self.db_b, self.group_b)
        ok = self.consumer.alive() and after > progress0
        self.c.ok(f"{label}: the consumer survived the broker restart and goes on storing",
                  ok, f"running, offsets > {progress0}",
                  f"alive={self.consumer.alive()}, offsets {after}")
        self.faults.append({"kind": "Kafka broker restart mid-stream", "label": label,
                            "restart_seconds": round(down, 1), "producer_exit": rc,
                            "delivered_before": delivered, "rows": rows,
                            "consumer_offsets_before": progress0, "consumer_offsets_after": after,
                            "survived": rc == 0 and ok})

    def pg_restart(self, label):
        """Restarts PostgreSQL while consumer B has a batch transaction open."""
        self.ensure_b()
        locker = subprocess.Popen(["psql", "-X", "-q", "-At", "-d", self.db_b],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        locker.stdin.write(f"SELECT count(pg_advisory_lock({REFRESH_LOCK}, b))"
                           " FROM generate_series(0, 63) b;\n")
        locker.stdin.flush()
        locker.stdout.readline()  # the locks are held once psql answers
        blocked = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.consumer.alive():
            rows = k.psql("SELECT pid, now() - xact_start, query FROM pg_stat_activity"
                          " WHERE datname = current_database() AND application_name = 'koers-consume'"
                          " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                          " AND xact_start IS NOT NULL", self.db_b)
            if rows:
                blocked = rows[0]
                break
            time.sleep(0.05)
        # Only the batch hook (after the batch's COPY and INSERTs) takes that lock.
        self.c.ok(f"{label}: consumer B's batch transaction is open, its rows written, blocked"
                  " in the measures hook", blocked is not None, "a waiting koers-consume"
                  " transaction", blocked)
        log_before = self.consumer.stderr()
        t0 = time.monotonic()
        rel.restart("postgres")
        down = time.monotonic() - t0
        try:
            locker.communicate(timeout=10)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            locker.kill()
        progress0 = rel.stored_progress(self.db_b, self.group_b)
        deadline = time.monotonic() + 120
        recovered = False
        while time.monotonic() < deadline and self.consumer.alive():
            new = self.consumer.stderr()[len(log_before):]
            if "reconnected to PostgreSQL" in new and \
                    rel.stored_progress(self.db_b, self.group_b) > progress0:
                recovered = True
                break
            time.sleep(0.2)
        new = self.consumer.stderr()[len(log_before):]
        failed_batch = re.search(r"batch of (\d+) event\(s\) and \d+ reject\(s\) not stored", new)
        self.c.ok(f"{label}: the interrupted batch failed and is kept for a retry",
                  failed_batch is not None, "'batch of N event(s) ... not stored'", new[-1500:])
        self.c.ok(f"{label}: the consumer reconnected and stores again", recovered,
                  "'reconnected to PostgreSQL' and progress", new[-1500:])
        self.faults.append({"kind": "PostgreSQL restart mid-batch", "label": label,
                            "restart_seconds": round(down, 1),
                            "batch_events_in_flight": int(failed_batch.group(1)) if failed_batch else None,
                            "waiting_query": blocked[2][:80] if blocked else None,
                            "survived": bool(blocked and failed_batch and recovered)})


def schedule(n_chunks):
    """What happens with each chunk: a plain import, or one of the faults, spread out."""
    kinds = (["stop-kill", "stop-term"] * PRODUCER_STOPS)[:PRODUCER_STOPS]
    kinds += ["kafka"] * KAFKA_RESTARTS + ["pg"] * PG_RESTARTS
    # Interleave the kinds: stop, kafka, pg, stop, ...
    order = []
    pools = {"stop": [x for x in kinds if x.startswith("stop")], "kafka": ["kafka"] * KAFKA_RESTARTS,
             "pg": ["pg"] * PG_RESTARTS}
    while any(pools.values()):
        for key in ("stop", "kafka", "pg"):
            if pools[key]:
                order.append(pools[key].pop(0))
    plan = ["plain"] * n_chunks
    slots = list(range(1, n_chunks))
    step = max(1, len(slots) // max(1, len(order)))
    for i, kind in enumerate(order):
        plan[slots[min(i * step, len(slots) - 1)]] = kind
    return plan


def stream(c, run):
    csv_dir = run.tmp / "csv"
    csv_dir.mkdir()
    r = k.produce("synth", "--participants", str(PARTICIPANTS), "--months", str(MONTHS),
                  "--seed", "424242", "--csv", csv_dir, timeout=600)
    c.program(f"synth {PARTICIPANTS} participants x {MONTHS} months to CSV", r, 0)
    run.keyfile, key = k.write_key_file(run.tmp)
    t0 = time.monotonic()
    expected = k.expected_from_dir(csv_dir, key)
    n = sum(len(v) for v in expected.values())
    print(f"# {n} distinct events expected (computed in {time.monotonic() - t0:.1f}s)")
    if not os.environ.get("KOERS_FAULT_PARTICIPANTS"):  # a smaller stream was asked for
        c.ok(f"the stream has at least {MIN_EVENTS} events", n >= MIN_EVENTS, f">= {MIN_EVENTS}", n)
    chunks = rel.split_csv(csv_dir, run.tmp / "chunks", CHUNKS, run.rng)
    return expected, n, chunks


def inject(c, run, chunks):
    plan = schedule(len(chunks))
    print("# plan: " + ", ".join(f"{ch.name}={p}" for ch, p in zip(chunks, plan)))
    kills_left = KILLS
    run.start_b()
    for i, (chunk, kind) in enumerate(zip(chunks, plan)):
        label = f"{chunk.name} ({kind})"
        if kind == "stop-kill":
            run.producer_stop(chunk, signal.SIGKILL, label)
        elif kind == "stop-term":
            run.producer_stop(chunk, signal.SIGTERM, label)
        elif kind == "kafka":
            run.kafka_restart(chunk, label, KAFKA_DOWN if kind not in plan[:i] else 0)
        else:
            run.import_dir(chunk, f"{label}: import")
        if kind == "pg":
            run.pg_restart(label)
        # Kills for this chunk: at least one (each fault is followed by a checkpoint), and
        # the ones still owed spread over the chunks left, while the consumer works through
        # the backlog.
        left = len(chunks) - i
        quota = max(1, -(-kills_left // left))
        mid_before, j = run.kills_mid, 0
        while run.kills_mid - mid_before < quota and j < quota + 3:
            j += 1
            run.kill_b(f"{chunk.name} kill {j}")
        kills_left = max(kills_left - (run.kills_mid - mid_before), 0)
    # Kills still owed: while a backlog is left, kill into it; when there is none, import a
    # chunk again (its events are all "already present": a valid stream too).
    extra = 0
    while run.kills_mid < KILLS and extra < 2 * KILLS:
        extra += 1
        if rel.total_messages(run.prefix) - run.progress < 5000:
            run.import_dir(chunks[extra % len(chunks)], f"top-up {extra}: a chunk imported again")
        run.kill_b(f"top-up {extra}")
    c.ok(f"consumer B: at least {KILLS} SIGKILLs part-way through a backlog",
         run.kills_mid >= KILLS, f">= {KILLS}", run.kills_mid)
    if run.consumer and run.consumer.alive():
        run.consumer.kill()
        run.consumer.wait()
    k.wait_backends_gone(run.db_b)


def finish_and_compare(c, run, expected, n):
    r = k.consume(run.db_b, run.prefix, run.group_b, "--until-caught-up", *rel.GROUP_X,
                  timeout=900)
    c.program("database B: final run until caught up", r, 0)
    t0 = time.monotonic()
    r = k.consume(run.db_a, run.prefix, run.group_a, "--until-caught-up", *rel.GROUP_X,
                  timeout=900)
    c.program("database A: one uninterrupted run over the same topics", r, 0)
    counts = k.consume_counts(r.err)
    messages = rel.total_messages(run.prefix)
    c.equal("database A: new, already present (re-imported copies), rejected",
            (n, messages - n, 0), counts)
    print(f"# database A: {messages} messages in {time.monotonic() - t0:.1f}s")

    stream_ = rel.Stream(run.prefix)
    c.equal("the topics hold as many messages as their end offsets say", messages,
            stream_.messages())
    first = stream_.first_recorded()
    total = 0
    for t in k.EVENT_TYPES:
        rows_b = k.table_rows(run.db_b, t, recorded=True)
        total += len(rows_b)
        c.rows(f"koers.{t}: B holds exactly the rows computed from the CSV (all but recorded_at)",
               expected[t], [row[:-1] for row in rows_b])
        late = [row[0] for row in rows_b if first.get(row[0]) != int(row[-1])]
        c.ok(f"koers.{t}: every recorded_at in B is that of the event's first copy in the stream",
             not late, "none differ", f"{len(late)} differ, e.g. {late[:3]}")
        c.rows(f"koers.{t}: A equals B (full rows, recorded_at included)",
               k.table_rows(run.db_a, t, recorded=True), rows_b)
    c.equal("B holds every event once", n, total)
    months_b = k.count_month_rows(run.db_b)
    c.rows("koers.event_count_month: A equals B", k.count_month_rows(run.db_a), months_b)
    c.rows("koers.event_count_month: B equals the counts computed from the CSV",
           k.expected_month_counts(expected), months_b)
    for name, db in (("A", run.db_a), ("B", run.db_b)):
        c.equal(f"{name}: koers.event_count_month equals a recount from the raw tables", 0,
                rel.month_count_mismatches(db))
        c.equal(f"{name}: every prepared measure table equals a recomputation from the raw"
                " tables", {t: 0 for t in rel.PREPARED}, rel.prepared_mismatches(db))
        c.equal(f"{name}: no rejected events", [["0"]],
                k.psql("SELECT count(*) FROM koers.rejected_events", db))
    for t in rel.PREPARED:
        c.rows(f"koers.{t} (prepared measures): A equals B", rel.prepared_rows(run.db_a, t),
               rel.prepared_rows(run.db_b, t))
    ends = {key: v for key, v in rel.end_offsets(run.prefix).items() if v > 0}
    c.equal("B's stored offsets are the partitions' end offsets", ends,
            rel.db_offsets(run.db_b, run.group_b))
    c.equal("A's stored offsets are the partitions' end offsets", ends,
            rel.db_offsets(run.db_a, run.group_a))
    return stream_, messages


def check_checkpoints(c, run, stream_):
    bad = []
    for label, offs, dig, months, prepared in run.checkpoints:
        want = rel.digest(stream_.prefix_ids(offs))
        ok = want == dig and months == 0 and not any(prepared.values())
        for f in run.faults:  # a kill is survived when the state after it is right
            if f["label"] == label:
                f["survived"] = ok
        if not ok:
            bad.append((label, f"stored {dig[0]} events (digest {dig[1][:8]}), the stream below"
                        f" the stored offsets has {want[0]} (digest {want[1][:8]}); month rows"
                        f" differing {months}; prepared rows differing {prepared}"))
        c.ok(f"after {label}: B holds exactly the events below its stored offsets ({dig[0]}),"
             " and its aggregates equal a recomputation", ok, "equal", bad[-1][1] if bad else "")
    return bad


def main():
    k.require_env()
    c = k.Checks("test_faults")
    seed = int(os.environ.get("KOERS_TEST_SEED") or random.SystemRandom().randrange(1, 10**9))
    tmp = k.tempdir(c, "faults")
    run = Run(c, random.Random(seed), tmp)
    print(f"# seed {seed} (KOERS_TEST_SEED={seed} replays it), topic prefix {run.prefix},"
          f" databases {run.db_a} {run.db_b}{' (soak)' if rel.soak() else ''}")

    def stop_children():
        for p in run.consumers:
            if p.alive():
                p.kill()
                p.wait()
    c.cleanup(stop_children)
    for db in (run.db_a, run.db_b):
        k.create_db(db)
        c.cleanup(k.drop_db, db)
        if not c.program(f"koers-consume --migrate ({db})", k.migrate(db), 0):
            c.finish()
    t0 = time.monotonic()
    got = c.run(stream, c, run)
    stream_ = messages = None
    if got:
        expected, n, chunks = got
        c.run(inject, c, run, chunks)
        res = c.run(finish_and_compare, c, run, expected, n)
        if res:
            stream_, messages = res
            c.run(check_checkpoints, c, run, stream_)
    kinds = {}
    for f in run.faults:
        kinds.setdefault(f["kind"], [0, 0])
        kinds[f["kind"]][0] += 1
        kinds[f["kind"]][1] += 1 if f.get("survived", True) else 0
    rel.record("faults", {
        "seed": seed, "events": got[1] if got else 0, "messages": messages,
        "participants": PARTICIPANTS, "chunks": CHUNKS, "consumer_kills": run.kills,
        "consumer_kills_mid_stream": run.kills_mid, "checkpoints": len(run.checkpoints),
        "faults_by_kind": kinds, "faults": run.faults, "seconds": round(time.monotonic() - t0),
        "passed": c.passed, "failed": c.failed})
    c.finish()


if __name__ == "__main__":
    main()
