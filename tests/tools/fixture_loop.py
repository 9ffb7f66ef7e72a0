#!/usr/bin/env python3
"""Runs the dashboard fixture's pipeline (tests/browser/dashfixture.py: three synth cohorts,
67 participants, one junk message, koers-consume --until-caught-up) again and again, each
run with a random pseudonymisation key (so the participants fall on other partitions), and
records what each run stored against what Kafka holds. Written to hunt the "66 of 67" of
issue 16 (docs/flaky-66-of-67.md keeps the results).

usage: tests/tools/fixture_loop.py [--runs N] [--first I] [--fresh-every K] [--batch-size N]
                                  [--synth-x KEY=VALUE]... [--log FILE]
       tests/tools/fixture_loop.py --summarize FILE    (a Markdown table of a --log file)
  --produce-only    synth to Kafka only, and count the messages against synth's CSV
  --batch-size N    the consumer's batch size (small: each participant's events split over
                    many batches, the incremental measures' hard case)
  --fresh-every K   every K-th run gets a broker (and PostgreSQL) of its own, started with
                    scripts/services in a new state directory and stopped after the run
  --synth-x K=V     a librdkafka property for synth; each run keeps synth's warnings and
                    errors, and Kafka's count per partition
Needs the services' environment (eval "$(scripts/services env)") and KOERS_BIN (the build).
One JSON line per run on stdout (and in --log); exit 1 if any run differs from Kafka.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402


def kafka_counts(prefix):
    """Messages per topic and partition, read with kcat (independent of koers-consume)."""
    out = {}
    for t in e2e.EVENT_TYPES:
        per = {}
        for m in e2e.kcat_messages(prefix + t):
            per[m["partition"]] = per.get(m["partition"], 0) + 1
        out[t] = per
    return out


def snapshot(db):
    return e2e.psql("SELECT participant, cohort, first_enrolled, first_event_day, last_event_day,"
                    " open_since, last_span_end FROM koers.participant ORDER BY participant", db)


def expected_counts():
    """Rows per event type of the three cohorts, from synth --csv (no Kafka involved)."""
    total = {t: 0 for t in e2e.EVENT_TYPES}
    with tempfile.TemporaryDirectory(prefix="koers-loop-csv-") as d:
        for cohort, n, seed, start in dashfixture.COHORTS:
            out = Path(d) / cohort
            out.mkdir()
            r = e2e.produce("synth", "--participants", str(n), "--seed", str(seed), "--cohort", cohort,
                            "--start", start, "--months", "24", "--csv", str(out))
            if r.rc != 0:
                raise RuntimeError(r.describe())
            for t in e2e.EVENT_TYPES:
                f = out / f"{t}.csv"
                if f.exists():
                    total[t] += len(e2e.read_csv(f))
    return total


def one_run(i, fresh, expected, consume_args, produce_only=False, synth_x=()):
    names = e2e.new_run_names("loop")
    db, prefix, group = names["db"], names["prefix"], names["group"]
    tmp = tempfile.mkdtemp(prefix="koers-loop-")
    rec = {"run": i, "fresh_broker": fresh, "database": db, "prefix": prefix}
    try:
        e2e.create_db(db)
        r = e2e.migrate(db)
        if r.rc != 0:
            rec["error"] = "migrate: " + r.err[-500:]
            return rec
        key, _ = e2e.write_key_file(tmp)
        for cohort, n, seed, start in dashfixture.COHORTS:
            r = e2e.produce("synth", "--key-file", key, "--participants", str(n), "--seed", str(seed),
                            "--cohort", cohort, "--start", start, "--months", "24",
                            "--topic-prefix", prefix, "-b", e2e.brokers(),
                            *[a for x in synth_x for a in ("-X", x)])
            # librdkafka's warnings and errors (retries, timeouts, idempotence state): the
            # trail to follow when Kafka holds less than synth had acknowledged.
            rec.setdefault("synth_warnings", []).extend(
                ln for ln in e2e.log_text(r.err).splitlines()[-2000:]
                if "level=warn" in ln or "level=error" in ln)
            if r.rc != 0:
                rec["error"] = f"synth {cohort}: " + r.err[-500:]
                return rec
            # What synth says it made and had acknowledged: tells a message synth never
            # made from one the broker acknowledged and does not hold.
            rec.setdefault("synth_said", []).extend(
                ln for ln in e2e.log_text(r.err).splitlines() if "synthetic event(s)" in ln)
        if produce_only:
            kafka_total = {t: sum(v.values()) for t, v in kafka_counts(prefix).items()}
            rec["kafka"] = kafka_total
            rec["kafka_short_of_synth"] = {t: expected[t] - kafka_total[t] for t in e2e.EVENT_TYPES
                                           if expected[t] != kafka_total[t]}
            return rec
        junk = Path(tmp) / "junk.bin"
        junk.write_bytes(b"not an Avro event")
        e2e.kcat_produce_file(prefix + "contact", 0, junk)
        t0 = time.monotonic()
        r = e2e.consume(db, prefix, group, "-b", e2e.brokers(), "--until-caught-up", *consume_args)
        rec["consume_s"] = round(time.monotonic() - t0, 1)
        rec["consume_rc"] = r.rc
        rec["stored_new_dup_rej"] = e2e.consume_counts(r.err)
        rec["assigned_logs"] = [ln for ln in e2e.log_text(r.err).splitlines() if "assigned" in ln or "gave up" in ln]
        kafka = kafka_counts(prefix)
        db_rows = {t: int(e2e.psql(f"SELECT count(*) FROM koers.{t}", db)[0][0]) for t in e2e.EVENT_TYPES}
        kafka_total = {t: sum(v.values()) for t, v in kafka.items()}
        rec["kafka"] = kafka_total
        rec["kafka_partitions"] = {t: v for t, v in kafka.items()}
        rec["kafka_short_of_synth"] = {t: expected[t] - kafka_total[t] - (-1 if t == "contact" else 0)
                                       for t in e2e.EVENT_TYPES if expected[t] + (1 if t == "contact" else 0) != kafka_total[t]}
        rec["db"] = db_rows
        # The junk message on contact is rejected, not stored.
        rec["missing"] = {t: kafka_total[t] - db_rows[t] - (1 if t == "contact" else 0)
                          for t in e2e.EVENT_TYPES if kafka_total[t] - db_rows[t] - (1 if t == "contact" else 0)}
        rec["participants_enrolled"] = int(e2e.psql(
            "SELECT count(*) FROM koers.participant WHERE first_enrolled IS NOT NULL", db)[0][0])
        rec["enrolled_in_raw"] = int(e2e.psql(
            "SELECT count(DISTINCT participant) FROM koers.enrolment WHERE change = 'enrolled'", db)[0][0])
        before = snapshot(db)
        e2e.psql("SELECT koers.refresh_all()", db)
        after = snapshot(db)
        rec["incremental_equals_rebuild"] = before == after
        if before != after:
            rec["differs"] = [list(x) for x in sorted(set(map(tuple, before)) ^ set(map(tuple, after)))][:6]
        return rec
    finally:
        e2e.drop_db(db)
        shutil.rmtree(tmp, ignore_errors=True)


def services_env(state_dir):
    """The environment of a services instance of its own (scripts/services env)."""
    env = dict(os.environ, KOERS_STATE_DIR=state_dir)
    r = subprocess.run([str(e2e.repo_dir() / "scripts/services"), "env"], env=env, capture_output=True,
                       text=True, check=True)
    for line in r.stdout.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export "):].partition("=")
            env[k] = v.strip("'\"")
    return env


def summarize(path):
    """A Markdown table of a --log file: one row per run."""
    print("| run | fresh broker | consumer s | stored, duplicates, rejected | Kafka = synth | DB = Kafka |"
          " enrolled participants | = rebuild |")
    print("|---|---|---|---|---|---|---|---|")
    for line in open(path):
        r = json.loads(line)
        if "error" in r:
            print(f"| {r['run']} | {'yes' if r['fresh_broker'] else ''} | error: {r['error'].strip().splitlines()[-1]} |"
                  " | | | | |")
            continue
        print(f"| {r['run']} | {'yes' if r['fresh_broker'] else ''} | {r['consume_s']} |"
              f" {', '.join(map(str, r['stored_new_dup_rej']))} | {'yes' if not r['kafka_short_of_synth'] else r['kafka_short_of_synth']} |"
              f" {'yes' if not r['missing'] else r['missing']} | {r['participants_enrolled']} |"
              f" {'yes' if r['incremental_equals_rebuild'] else 'NO'} |")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--summarize":
        summarize(sys.argv[2])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--first", type=int, default=1, help="number of the first run (to go on with a log)")
    ap.add_argument("--fresh-every", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--produce-only", action="store_true",
                    help="only synth to Kafka and count the messages against synth's CSV")
    ap.add_argument("--synth-x", action="append", default=[], metavar="KEY=VALUE",
                    help="a librdkafka property for synth (-X), e.g. debug=eos,msg (repeatable)")
    ap.add_argument("--batch-size", type=int, default=0,
                    help="koers-consume --batch-size (default: the fixture's, the consumer's default)")
    a = ap.parse_args()
    e2e.require_env()
    base_env = dict(os.environ)
    bad = 0
    expected = expected_counts()
    print(json.dumps({"expected_from_synth_csv": expected}), flush=True)
    log = open(a.log, "a") if a.log else None
    for i in range(a.first, a.first + a.runs):
        fresh = bool(a.fresh_every) and i % a.fresh_every == 0
        state = None
        if fresh:
            state = tempfile.mkdtemp(prefix="koers-loop-services-")
            env = dict(base_env, KOERS_STATE_DIR=state)
            subprocess.run([str(e2e.repo_dir() / "scripts/services"), "start"], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            fresh_env = services_env(state)
            os.environ.clear()
            os.environ.update(fresh_env)
        try:
            rec = one_run(i, fresh, expected, ["--batch-size", str(a.batch_size)] if a.batch_size else [],
                          a.produce_only, a.synth_x)
        except Exception:  # noqa: BLE001 - recorded, the loop goes on
            rec = {"run": i, "fresh_broker": fresh, "error": traceback.format_exc()[-1500:]}
        finally:
            if fresh:
                subprocess.run([str(e2e.repo_dir() / "scripts/services"), "stop"], env=dict(os.environ),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                os.environ.clear()
                os.environ.update(base_env)
                shutil.rmtree(state, ignore_errors=True)
        if a.produce_only:
            wrong = "error" in rec or rec.get("kafka_short_of_synth")
        else:
            wrong = ("error" in rec or rec.get("missing") or rec.get("kafka_short_of_synth")
                     or rec.get("consume_rc") != 0 or rec.get("participants_enrolled") != 67
                     or not rec.get("incremental_equals_rebuild"))
        bad += bool(wrong)
        line = json.dumps(rec)
        print(line, flush=True)
        if log:
            log.write(line + "\n")
            log.flush()
    print(f"# {a.runs} runs from {a.first}, {bad} differ from Kafka or from 67", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
