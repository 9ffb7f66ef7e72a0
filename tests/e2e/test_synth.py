#!/usr/bin/env python3
"""End to end: koers-produce synth, to CSV and to Kafka, against rows computed here.

1. `synth --seed S --csv DIR` twice gives byte-identical files; another seed gives others.
2. `synth --seed S` to Kafka, consumed into a fresh database, equals the rows computed here
   from DIR's CSV files with the seed-derived key (koers-synth-key-%020llu): every column but
   recorded_at, which synth simulates (checked to be no earlier than occurred_at).
3. koers.event_count_month equals the counts computed from the CSV and a recount in SQL.
4. Importing DIR with that key as --key-file gives the same events: consuming it adds 0 new.
5. `--now T` takes the cohort at T: nothing that occurred after T is written, a later T
   writes more, and an unreadable T is a usage error (exit 2) naming the option. (Every
   synth run of the tests passes one moment, koers_e2e.SYNTH_NOW: with the clock, two runs
   of a seed a minute apart could differ.)

KOERS_TEST_SEED fixes the seed (it is printed, so that a failing run can be replayed).
"""
import filecmp
import os
import random
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

PARTICIPANTS, MONTHS = 30, 12
SYNTH = ["--participants", str(PARTICIPANTS), "--months", str(MONTHS)]


def csv_dir_files(d):
    return sorted(p.name for p in Path(d).iterdir())


def check_reproducible(c, tmp, seed):
    dirs = {}
    for name, s in (("a", seed), ("b", seed), ("other", seed + 1)):
        d = Path(tmp) / name
        d.mkdir()
        r = k.produce("synth", *SYNTH, "--seed", str(s), "--csv", d)
        c.program(f"synth --seed {s} --csv {name}/", r, 0)
        dirs[name] = d
    names = [f"{t}.csv" for t in k.EVENT_TYPES]
    c.equal("synth --csv writes one file per event type", sorted(names), csv_dir_files(dirs["a"]))
    _match, mismatch, errors = filecmp.cmpfiles(dirs["a"], dirs["b"], names, shallow=False)
    c.ok("the same seed gives byte-identical CSV files", not mismatch and not errors,
         "all identical", f"differ: {mismatch}, missing: {errors}")
    _match, mismatch, errors = filecmp.cmpfiles(dirs["a"], dirs["other"], names, shallow=False)
    c.ok("another seed gives different CSV files", len(mismatch) == len(names),
         f"all {len(names)} differ", f"differ: {mismatch}")
    for n in names:
        cols = next(iter(open(dirs["a"] / n, newline="", encoding="utf-8"))).rstrip("\r\n")
        c.equal(f"{n}: header is the contract's columns", ",".join(k.csv_columns(n[:-4])), cols)
    return dirs["a"]


def check_kafka_equals_csv(c, run, seed, csv_dir):
    key = k.synth_key(seed)
    expected = k.expected_from_dir(csv_dir, key)
    n = sum(len(v) for v in expected.values())
    n_rows = sum(len(k.read_csv(Path(csv_dir) / f"{t}.csv")) for t in k.EVENT_TYPES)
    c.equal("synth CSV rows are distinct events", n_rows, n)
    c.ok("synth made a cohort of some size", n > 30 * PARTICIPANTS, f"> {30 * PARTICIPANTS} events", n)
    r = k.produce("synth", *SYNTH, "--seed", str(seed), "--topic-prefix", run["prefix"])
    c.program(f"synth --seed {seed} to Kafka", r, 0)
    c.ok("synth reports every event delivered", f"{n} delivered, 0 not" in r.err,
         f"'{n} delivered, 0 not'", r.err.strip()[-300:])
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume the synthetic stream", r, 0)
    c.equal("consumer: new, already present, rejected", (n, 0, 0), k.consume_counts(r.err))
    tables = k.all_tables(run["db"], recorded=True)
    for t in k.EVENT_TYPES:
        c.rows(f"koers.{t} = rows computed from {t}.csv with the seed's key", expected[t],
               [row[:-1] for row in tables[t]])
    early = [(t, row[0], row[2], k.format_ms(int(row[-1]))) for t in k.EVENT_TYPES
             for row in tables[t] if int(row[-1]) < k.parse_time_ms(row[2])]
    c.ok("simulated recorded_at is never before occurred_at", not early, "none", early[:5])
    void = k.psql("SELECT count(*) FROM koers.correction c WHERE NOT EXISTS ("
                  + " UNION ALL ".join(f"SELECT 1 FROM koers.{t} e WHERE e.event_id = c.target_event_id"
                                       for t in ("contact", "crisis", "police_call")) + ")",
                  run["db"])
    c.equal("every synthetic correction voids a stored contact, crisis or police call", [["0"]], void)
    months = k.expected_month_counts(expected)
    c.rows("koers.event_count_month = counts computed from the CSV", months,
           k.count_month_rows(run["db"]))
    c.rows("koers.event_count_month = recount from the raw tables", months,
           k.recount_month_rows(run["db"]))
    return n


def check_import_of_synth_csv(c, run, seed, csv_dir, tmp, n):
    # The seed's key as a key file: importing synth's CSV must give the very same events.
    keydir = Path(tmp) / "key"
    keydir.mkdir()
    keyfile, _ = k.write_key_file(keydir, k.synth_key(seed))
    r = k.produce("import", "--key-file", keyfile, "--topic-prefix", run["prefix"], csv_dir)
    c.program("import of synth's CSV with the seed's key", r, 0)
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume the import", r, 0)
    c.equal("the imported CSV holds the same events: 0 new", (0, n, 0), k.consume_counts(r.err))


def check_now(c, tmp, seed):
    import datetime
    counts = {}
    for name, now in (("early", "2024-07-01T00:00:00Z"), ("late", "2030-01-01T00:00:00Z")):
        d = Path(tmp) / f"now-{name}"
        d.mkdir()
        r = k.produce("synth", *SYNTH, "--seed", str(seed), "--now", now, "--csv", d)
        c.program(f"synth --now {now}", r, 0)
        limit = datetime.datetime.fromisoformat(now.replace("Z", "+00:00"))
        rows = [row for t in k.EVENT_TYPES if t != "coverage"
                for row in k.read_csv(d / f"{t}.csv")]
        after = [row["occurred_at"] for row in rows
                 if datetime.datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00")) > limit]
        c.equal(f"--now {now}: nothing that occurred after it", [], after[:3])
        counts[name] = len(rows)
    c.ok("a later --now writes more of the cohort", 0 < counts["early"] < counts["late"],
         "0 < early < late", counts)
    r = k.produce("synth", *SYNTH, "--now", "soon", "--csv", Path(tmp) / "now-bad")
    c.program("synth --now soon", r, 2)
    c.ok("the error names --now", "--now soon" in r.err, "--now soon", r.err[-200:])


def main():
    k.require_env()
    c = k.Checks("test_synth")
    seed = int(os.environ.get("KOERS_TEST_SEED") or random.SystemRandom().randrange(1, 2**64 - 1))
    run = k.new_run_names("synth")
    print(f"# seed {seed} (KOERS_TEST_SEED={seed} replays it), topic prefix {run['prefix']},"
          f" database {run['db']}")
    tmp = k.tempdir(c, "synth")
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    if not c.program("koers-consume --migrate", k.migrate(run["db"]), 0):
        c.finish()
    c.run(check_now, c, tmp, seed)
    csv_dir = c.run(check_reproducible, c, tmp, seed)
    if csv_dir:
        n = c.run(check_kafka_equals_csv, c, run, seed, csv_dir)
        if n:
            c.run(check_import_of_synth_csv, c, run, seed, csv_dir, tmp, n)
    c.finish()


if __name__ == "__main__":
    main()
