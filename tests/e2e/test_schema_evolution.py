#!/usr/bin/env python3
"""End to end: versions of the goal_change schema mixed on one topic.

tests/data/schemas/evolution holds goal_change version 2 (adds the optional horizon_days,
default null) and version 0 (before weight was added; the current schema gives weight the
default null). On one goal_change topic, in one stream: synth's events (version 1, the
current schema) and hand-built messages of versions 0, 1 and 2 (version 2 with horizon_days
null and set), encoded here byte by byte, fingerprints from the schemas' canonical forms.

- The consumer that knows the other versions (koers-consume --schema-dir
  tests/data/schemas/evolution) stores every message: version 2's extra field is skipped,
  version 0's missing weight takes its default (NULL); nothing is rejected.
- The consumer that does not (no --schema-dir) stores versions 1, and dead-letters each
  version 0 and version 2 message with "unknown writer schema fingerprint <fingerprint>",
  which names the schema it would need.
- A schema directory with a version that cannot be read as the current schema (it lacks the
  required goal_ref, or the envelope's source) stops the consumer at start with exit 2 and
  the reason; so does a file that is not an event schema.

The C side of the same (a newer reader reading older writers, defaults applied by koers'
codec since Avro C does not) is in tests/unit/test_codec.c.
"""
import json
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402
import test_dead_letter as dl  # noqa: E402  (the hand-written Avro encoder)

EVOLUTION = k.test_data() / "schemas" / "evolution"


def goal(tag, **kw):
    ev = {"event_id": dl.uuid.uuid5(dl.uuid.NAMESPACE_URL, "koers-evolution-" + tag).__str__(),
          "participant": dl.hashlib.sha256(b"evolution " + tag.encode()).hexdigest(),
          "occurred_at": 1718013600000, "recorded_at": 1718100000000, "source": "evolutie",
          "goal_ref": f"Doel-{tag}", "domain": 5, "change": 0, "set_by": 1, "gas": 0,
          "weight": 3}
    ev.update(kw)
    return ev


def datum(version, ev, horizon=None):
    """goal_change bytes of a version: 1 is the catalogue's layout; 0 lacks weight; 2 adds
    horizon_days (["null", "int"]) at the end."""
    if version == 0:
        ev = dict(ev)
        weight = ev.pop("weight")
        assert weight is None, "version 0 has no weight"
        out = dl.encode("goal_change", dict(ev, weight=None))
        return out[:-1]  # drop weight's null branch: the field is not there
    out = dl.encode("goal_change", ev)
    if version == 2:
        out += dl.zz(0) if horizon is None else dl.zz(1) + dl.zz(horizon)
    return out


def send(c, run, tmp):
    fp_v = {1: rel.fingerprints()["goal_change"]}
    for name, fp in rel.fingerprints(sorted(EVOLUTION.glob("*.avsc"))).items():
        fp_v[int(re.search(r"-v(\d+)$", name).group(1))] = fp  # goal_change-vN.avsc
    c.equal("the evolution directory holds versions 0 and 2 of goal_change", {0, 1, 2}, set(fp_v))
    c.ok("the three versions have three fingerprints", len(set(fp_v.values())) == 3, 3, fp_v)
    prefix = run["prefix"]
    c.program("synth (version 1) to the topic",
              k.produce("synth", "--participants", "5", "--months", "5", "--seed", "5511",
                        "--topic-prefix", prefix), 0)
    msgs = []  # (version, event, expected row)
    plan = [(1, goal("v1-a")), (2, goal("v2-null")), (0, goal("v0-a", weight=None)),
            (2, goal("v2-set", gas=None, weight=None)), (1, goal("v1-b", gas=None)),
            (0, goal("v0-b", gas=2, weight=None)), (2, goal("v2-c", weight=10))]
    for i, (v, ev) in enumerate(plan):
        horizon = 90 if ev["event_id"] == goal("v2-set")["event_id"] else None
        payload = dl.message(fp_v[v], datum(v, ev, horizon))
        dl.kcat_send(prefix + "goal_change", i % 6, payload, ev["participant"].encode(), tmp)
        msgs.append((v, ev, dl.control_row("goal_change", ev), payload))
    c.program("more synth (version 1) after them",
              k.produce("synth", "--participants", "5", "--months", "5", "--seed", "5512",
                        "--topic-prefix", prefix), 0)
    return msgs, fp_v


def synth_rows(c, tmp):
    rows = []
    for seed in (5511, 5512):
        d = Path(tmp) / f"csv-{seed}"
        d.mkdir()
        c.program(f"synth --seed {seed} --csv", k.produce("synth", "--participants", "5", "--months",
                                                          "5", "--seed", str(seed), "--csv", d), 0)
        rows.append(k.expected_from_dir(d, k.synth_key(seed)))
    return k.merge_expected(*rows)


def check_new(c, run, msgs, expected):
    r = k.consume(run["db_new"], run["prefix"], run["group"] + "-new", "--until-caught-up",
                  "--schema-dir", EVOLUTION)
    c.program("consumer with --schema-dir (knows versions 0 and 2)", r, 0)
    c.ok("it says which writer schemas it read", re.search(r"2 writer schema\(s\) read from", r.err)
         is not None, "'2 writer schema(s) read from ...'", r.err[-600:])
    n = sum(len(v) for v in expected.values()) + len(msgs)
    c.equal("it stores every message, old and new: new, already present, rejected", (n, 0, 0),
            k.consume_counts(r.err))
    want = sorted(expected["goal_change"] + [m[2] for m in msgs])
    c.rows("koers.goal_change: synth's rows and every version's hand-built rows", want,
           k.table_rows(run["db_new"], "goal_change"))
    by_id = {r_[0]: r_ for r_ in k.table_rows(run["db_new"], "goal_change")}
    for v, ev, row, _p in msgs:
        c.equal(f"version {v} message {ev['goal_ref']}: stored as sent"
                + (" (weight: the default NULL)" if v == 0 else ""), row, by_id.get(ev["event_id"]))
    return n


def check_old(c, run, msgs, fp_v, expected):
    r = k.consume(run["db_old"], run["prefix"], run["group"] + "-old", "--until-caught-up")
    c.program("consumer without --schema-dir (knows version 1 only)", r, 0)
    unknown = [m for m in msgs if m[0] != 1]
    n = sum(len(v) for v in expected.values()) + len(msgs) - len(unknown)
    c.equal("it stores version 1 and dead-letters the others: new, already present, rejected",
            (n, 0, len(unknown)), k.consume_counts(r.err))
    rejected = {p: reason for p, reason in k.psql(
        "SELECT encode(payload, 'hex'), reason FROM koers.rejected_events", run["db_old"])}
    for v, ev, _row, payload in unknown:
        fp = int.from_bytes(fp_v[v], "little")
        c.equal(f"version {v} message {ev['goal_ref']}: dead-lettered, naming the fingerprint",
                f"unknown writer schema fingerprint {fp:016x}", rejected.get(payload.hex()))
    stored = {r_[0] for r_ in k.table_rows(run["db_old"], "goal_change")}
    c.ok("every version 1 message is stored", all(m[1]["event_id"] in stored for m in msgs if m[0] == 1),
         "all", stored)


def check_bad_dirs(c, run, tmp):
    v1 = json.loads((k.repo_dir() / "schemas" / "goal_change.avsc").read_text())
    cases = [
        ("lacks goal_ref", [f for f in v1["fields"] if f["name"] != "goal_ref"],
         r"goal_change-bad\.avsc: writer schema of goal_change lacks field goal_ref, which has no"
         r" default in the reader"),
        ("lacks the envelope's source", [f for f in v1["fields"] if f["name"] != "source"],
         r"goal_change-bad\.avsc: writer schema of goal_change lacks envelope field source"),
    ]
    for name, fields, rx in cases:
        d = Path(tmp) / f"bad-{name.replace(' ', '-')}"
        d.mkdir()
        (d / "goal_change-bad.avsc").write_text(json.dumps(dict(v1, fields=fields)))
        r = k.consume(run["db_new"], run["prefix"], run["group"] + "-bad", "--until-caught-up",
                      "--schema-dir", d, timeout=60)
        c.program(f"--schema-dir with a version that {name}: refused at start", r, 2)
        c.ok(f"--schema-dir with a version that {name}: the reason", re.search(rx, r.err) is not None,
             rx, r.err[-600:])
    d = Path(tmp) / "bad-not-an-event"
    d.mkdir()
    (d / "note.avsc").write_text('{"type": "record", "name": "note", "fields": []}')
    r = k.consume(run["db_new"], run["prefix"], run["group"] + "-bad", "--until-caught-up",
                  "--schema-dir", d, timeout=60)
    c.program("--schema-dir with a schema that is no event type: refused at start", r, 2)
    c.ok("... naming it", "writer schema note is not an event type of the catalogue" in r.err,
         "'writer schema note is not an event type'", r.err[-600:])


def main():
    k.require_env()
    c = k.Checks("test_schema_evolution")
    names = k.new_run_names("evol")
    run = {"prefix": names["prefix"], "group": names["group"], "db_new": names["db"] + "_new",
           "db_old": names["db"] + "_old"}
    print(f"# topic prefix {run['prefix']}, databases {run['db_new']} {run['db_old']}")
    tmp = k.tempdir(c, "evol")
    for db in (run["db_new"], run["db_old"]):
        k.create_db(db)
        c.cleanup(k.drop_db, db)
        if not c.program(f"koers-consume --migrate ({db})", k.migrate(db), 0):
            c.finish()
    got = c.run(send, c, run, tmp)
    stored = rejected = 0
    if got:
        msgs, fp_v = got
        expected = c.run(synth_rows, c, tmp)
        if expected:
            stored = c.run(check_new, c, run, msgs, expected) or 0
            c.run(check_old, c, run, msgs, fp_v, expected)
            rejected = sum(1 for m in msgs if m[0] != 1)
    c.run(check_bad_dirs, c, run, tmp)
    rel.record("schema_evolution", {"stored_by_new_consumer": stored,
                                    "dead_lettered_by_old_consumer": rejected,
                                    "versions": [0, 1, 2], "passed": c.passed, "failed": c.failed})
    c.finish()


if __name__ == "__main__":
    main()
