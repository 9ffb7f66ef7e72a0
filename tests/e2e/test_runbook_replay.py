#!/usr/bin/env python3
"""End to end: the runbook's replay procedure, run as written, rebuilds an identical database.

1. A stream of its own (fresh topic prefix): two synth cohorts, and between and after them bad
   messages written with kcat (garbage, a wrong marker, a truncated real message, a message on
   the wrong topic), consumed into a database in three runs of different batch sizes, so that
   batch boundaries differ from the replay's. A unit cost is edited there and a dashboard
   user added (configuration that no event carries).
2. The fenced block after the marker in docs/runbook.md section 3 is extracted and run with
   bash, unchanged, with the variables the runbook defines (KOERS_DB, KOERS_REBUILD_DB,
   KOERS_KEEP_DB, KOERS_GROUP) and the services' environment; the programs on PATH are the
   ones under test.
3. The database now named KOERS_DB is the rebuilt one, the original is kept as KOERS_KEEP_DB,
   and the two are identical: every table of schema koers in full (wall-clock columns aside:
   rejected_at, updated_at, applied_at), every view, the measures (koers-report --format json at
   a fixed date and today), and the offsets.
4. The block refuses to swap when the databases differ: one row deleted from the current
   database makes it exit non-zero and leave both names as they were.
"""
import json
import os
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

MARKER = "<!-- tests/e2e/test_runbook_replay.py runs the next block as written -->"
WALL_CLOCK = {"rejected_at", "updated_at", "applied_at"}
SYNTH = ["--participants", "8", "--months", "6", "--start", "2024-02-01"]


def runbook_block():
    text = (k.repo_dir() / "docs" / "runbook.md").read_text()
    at = text.index(MARKER) + len(MARKER)
    m = re.compile(r"\n```sh\n(.*?)\n```\n", re.S).search(text, at)
    if not m or text[at:m.start()].strip():
        raise RuntimeError("no ```sh block right after the marker in docs/runbook.md")
    return m.group(1)


def db_exists(name):
    return k.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'", "postgres") == [["1"]]


def snapshot(db):
    """Everything the replay must reproduce, as comparable Python values."""
    snap = {}
    tables = [r[0] for r in k.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'koers'"
                                   " ORDER BY 1", db)]
    snap["tables"] = tables
    for t in tables:
        cols = [r[0] for r in k.psql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'koers'"
            f" AND table_name = '{t}' ORDER BY ordinal_position", db)]
        keep = [f'"{c}"' for c in cols if c not in WALL_CLOCK]
        snap[f"table {t}"] = sorted(tuple(r) for r in k.psql(
            f"SELECT {', '.join(keep)} FROM koers.\"{t}\"", db))
    views = [r[0] for r in k.psql("SELECT viewname FROM pg_views WHERE schemaname = 'koers'"
                                  " ORDER BY 1", db)]
    snap["views"] = views
    for v in views:
        snap[f"view {v}"] = sorted(tuple(r) for r in k.psql(f'SELECT * FROM koers."{v}"', db))
    for as_of in ("2024-06-30", None):
        args = ["-d", f"dbname={db}", "--format", "json"] + (["--as-of", as_of] if as_of else [])
        r = k.run([k.program("koers-report"), *args], env=k.program_env(), timeout=180)
        if r.rc != 0:
            raise RuntimeError(f"koers-report on {db}: {r.err}")
        snap[f"report as of {as_of or 'today'}"] = json.loads(r.out)
    return snap


def compare(c, what, a, b):
    keys = sorted(set(a) | set(b))
    for key in keys:
        va, vb = a.get(key), b.get(key)
        if isinstance(va, list) and isinstance(vb, list) and va and isinstance(va[0], tuple):
            c.rows(f"{what}: {key}", va, vb)
        else:
            n = len(va) if isinstance(va, list) else ""
            c.ok(f"{what}: {key} {f'({n} rows)' if n != '' else ''}".rstrip(), va == vb,
                 str(va)[:300], str(vb)[:300])


def make_stream(c, run, tmp):
    """Synth events and bad messages on a fresh prefix, consumed in three runs."""
    def consume(batch):
        r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up",
                      "--batch-size", str(batch))
        return c.program(f"consume (batch size {batch})", r, 0)

    r = k.produce("synth", *SYNTH, "--seed", "5101", "--topic-prefix", run["prefix"])
    if not c.program("synth, first cohort", r, 0) or not consume(17):
        return False
    first = k.kcat_first_payload(f"{run['prefix']}contact", Path(tmp) / "real.bin")
    bad = {
        "garbage.bin": (f"{run['prefix']}contact", b"not avro at all\n"),
        "marker.bin": (f"{run['prefix']}crisis", b"\xc3\x02" + first[2:]),
        "truncated.bin": (f"{run['prefix']}goal_change", first[:len(first) // 2]),
        "wrong_topic.bin": (f"{run['prefix']}police_call", first),
    }
    for name, (topic, data) in bad.items():
        p = Path(tmp) / name
        p.write_bytes(data)
        k.kcat_produce_file(topic, 0, p, key="k-" + name)
    r = k.produce("synth", *SYNTH, "--seed", "5102", "--cohort", "second", "--topic-prefix",
                  run["prefix"])
    if not c.program("synth, second cohort", r, 0) or not consume(500):
        return False
    p = Path(tmp) / "late.bin"
    p.write_bytes(b"\xc3\x01" + b"\x00" * 8)
    k.kcat_produce_file(f"{run['prefix']}enrolment", 1, p)
    if not consume(5000):
        return False
    n_rejected = int(k.psql("SELECT count(*) FROM koers.rejected_events", run["db"])[0][0])
    c.equal("the stream's bad messages are rejected", len(bad) + 1, n_rejected)
    k.psql("UPDATE koers.unit_cost SET amount_eur = amount_eur + 11"
           " WHERE item = (SELECT min(item) FROM koers.unit_cost)", run["db"])
    # A dashboard user of a partner organisation, when this tree has the dashboard.
    dash = k.program("koers-dash")
    if os.access(dash, os.X_OK) and k.psql("SELECT to_regclass('koers.dash_user') IS NOT NULL",
                                           run["db"]) == [["t"]]:
        r = k.run([dash, "-d", f"dbname={run['db']}", "user", "add", "replay-tester", "--role",
                   "partner", "--organisation", "ggz-noord", "--password-stdin"],
                  stdin_bytes=b"a-long-enough-password-1\n", env=k.program_env(), timeout=60)
        c.program("koers-dash user add (configuration that no event carries)", r, 0)
    return True


def run_block(block, env):
    return k.run(["bash", "-c", block], env=env, timeout=600)


def main():
    k.require_env()
    c = k.Checks("test_runbook_replay")
    tmp = k.tempdir(c, "replay")
    run = k.new_run_names("replay")
    db = run["db"]
    names = {"KOERS_DB": db, "KOERS_REBUILD_DB": f"{db}_rb", "KOERS_KEEP_DB": f"{db}_kept",
             "KOERS_GROUP": run["group"]}
    for name in (db, f"{db}_rb", f"{db}_kept", f"{db}_rb2", f"{db}_kept2"):
        c.cleanup(k.drop_db, name)
    k.create_db(db)
    if not c.program("koers-consume --migrate", k.migrate(db), 0):
        c.finish()
    if not c.run(make_stream, c, run, tmp):
        c.finish()
    before = snapshot(db)
    c.ok("the original database holds events", len(before["table contact"]) > 50, "> 50 contacts",
         len(before["table contact"]))

    block = runbook_block()
    env = k.program_env()
    env.update(names, KOERS_TOPIC_PREFIX=run["prefix"],
               PATH=f"{k.bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}")
    r = run_block(block, env)
    if not c.program("the runbook's replay block, as written", r, 0):
        print(r.out[-3000:])
        c.finish()
    print("     " + r.out.strip().replace("\n", "\n     "))
    c.ok("the rebuilt database took the name; the original is kept",
         db_exists(db) and db_exists(f"{db}_kept") and not db_exists(f"{db}_rb"))
    after_kept = snapshot(f"{db}_kept")
    compare(c, "the kept original is untouched", before, after_kept)
    rebuilt = snapshot(db)
    compare(c, "rebuilt = original", before, rebuilt)
    c.rows("offsets: the rebuilt database is as far as the original", k.offsets(f"{db}_kept",
           run["group"]), k.offsets(db, run["group"]))

    # The comparison guards the swap: a difference leaves both databases where they were.
    k.psql("DELETE FROM koers.contact WHERE event_id ="
           " (SELECT event_id FROM koers.contact ORDER BY event_id LIMIT 1)", db)
    env2 = dict(env, KOERS_REBUILD_DB=f"{db}_rb2", KOERS_KEEP_DB=f"{db}_kept2")
    r = run_block(block, env2)
    c.program("the block stops when the rebuilt database differs", r, 1)
    c.ok("... saying which table differs", "koers.contact differs" in r.err, "koers.contact differs",
         r.err.strip()[-500:])
    c.ok("... and swaps nothing", db_exists(db) and db_exists(f"{db}_rb2")
         and not db_exists(f"{db}_kept2"))
    c.finish()


if __name__ == "__main__":
    main()
