#!/usr/bin/env python3
"""End to end: messages that are not valid koers events go to the dead letters, the rest is stored.

On a fresh topic prefix: synthetic events (two small synth runs) and, between and after
them, bad messages written with kcat straight onto the event topics: garbage, an empty
message, too short, a wrong marker, an unknown fingerprint, a truncated datum, a byte too
many, and hand-built Avro (zig-zag varints, length-prefixed strings, with the fingerprint
copied from bytes 2..10 of a real message of that topic) breaking one rule each: an enum
index out of range, numbers out of range, the lower-case rules, times out of bounds, and a
valid crisis event on the contact topic. Two hand-built valid events are controls that
must be stored, so that the encoder here is known to be right.

After one `--until-caught-up` run (exit 0): every bad message is in koers.rejected_events
with its topic, partition, offset, exact bytes and key, and the reason expected for it; each
is on <prefix>dead_letter once, with the same bytes and koers.reason/topic/partition/offset
headers; every good message is stored as computed here from synth's CSV with the seed's key.
"""
import hashlib
import os
import random
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

SEEDS = (7301, 7302)
SYNTH = ["--participants", "6", "--months", "6", "--start", "2024-03-01"]

# ---------------------------------------------------------------- Avro binary, by hand


def zz(n):
    """Avro int/long: zig-zag, then base-128 varint, low groups first."""
    u = (n << 1) ^ (n >> 63)
    u &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def avro_str(s):
    b = s.encode("utf-8")
    return zz(len(b)) + b


def encode(etype, ev):
    """The binary datum of an event of etype: envelope, then own fields in schema order.
    ev holds texts for strings, ints for enums (index), ints, bools; None for an absent
    optional (union branch 0 = null)."""
    out = avro_str(ev["event_id"]) + avro_str(ev["participant"]) + zz(ev["occurred_at"]) \
        + zz(ev["recorded_at"]) + avro_str(ev["source"])
    for name, kind, _spec, optional in k.FIELDS[etype]:
        v = ev[name]
        if optional:
            if v is None:
                out += zz(0)
                continue
            out += zz(1)
        if kind in ("enum", "int"):
            out += zz(v)
        elif kind == "bool":
            out += b"\x01" if v else b"\x00"
        else:
            out += avro_str(v)
    return out


def message(fp, datum, marker=b"\xc3\x01"):
    return marker + fp + datum


NOW_MS = int(time.time() * 1000)
DAY_MS = 86400000


def base_contact(tag):
    return {"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "koers-dl-" + tag)),
            "participant": hashlib.sha256(b"dead-letter " + tag.encode()).hexdigest(),
            "occurred_at": 1718013600000,  # 2024-06-10T10:00:00Z
            "recorded_at": 1718100000000,
            "source": "wijkteam-oost",
            "with_role": 2, "mode": 2, "initiated_by": 1, "duration_min": 45, "planned": True}


def base_goal(tag):
    ev = base_contact(tag)
    for f in ("with_role", "mode", "initiated_by", "duration_min", "planned"):
        del ev[f]
    ev.update({"goal_ref": "Woning-1", "domain": 0, "change": 0, "set_by": 0, "gas": -1,
               "weight": None})
    return ev


def base_crisis(tag):
    ev = base_contact(tag)
    for f in ("with_role", "mode", "initiated_by", "duration_min", "planned"):
        del ev[f]
    ev.update({"kind": 1, "days": 12, "episode_ref": None, "source": "ggz-noord"})
    return ev


def with_(ev, **kw):
    ev = dict(ev)
    ev.update(kw)
    return ev


def control_row(etype, ev):
    """The table row a valid hand-built event must become (text, like k.table_rows)."""
    vals = []
    for name, kind, spec, _opt in k.FIELDS[etype]:
        v = ev[name]
        vals.append("NULL" if v is None else spec[v] if kind == "enum" else
                    ("true" if v else "false") if kind == "bool" else str(v))
    return (ev["event_id"], ev["participant"], k.format_ms(ev["occurred_at"]), ev["source"], *vals)


# ---------------------------------------------------------------- the bad messages


def bad_messages(prefix, real, fps, rng):
    """[(name, topic, payload, key, [reason patterns])]; real: a real contact message."""
    contact, goal, crisis = prefix + "contact", prefix + "goal_change", prefix + "crisis"
    fp_c, fp_g, fp_k = fps["contact"], fps["goal_change"], fps["crisis"]
    garbage = bytes([0x47]) + bytes(rng.randrange(256) for _ in range(63))
    unknown_fp = bytes(rng.randrange(256) for _ in range(8))
    while unknown_fp in fps.values():
        unknown_fp = bytes(rng.randrange(256) for _ in range(8))
    c = base_contact
    out = [
        ("garbage", contact, garbage, None,
         [rf"no single-object marker \(C3 01\): starts with 47 {garbage[1]:02X}"]),
        ("empty message", crisis, b"", b"dl-empty",
         [r"message of 0 bytes is shorter than the 10-byte header"]),
        ("shorter than the header", goal, b"\xc3\x01" + fp_g[:5], None,
         [r"message of 7 bytes is shorter than the 10-byte header"]),
        ("wrong marker", contact, b"\xc3\x02" + real[2:], None,
         [r"no single-object marker \(C3 01\): starts with C3 02"]),
        ("unknown fingerprint", contact, b"\xc3\x01" + unknown_fp + real[10:], None,
         [rf"unknown writer schema fingerprint {int.from_bytes(unknown_fp, 'little'):016x}"]),
        ("truncated datum", contact, real[:10 + (len(real) - 10) // 2], None,
         [r"datum: string length beyond the message at byte \d+"]),
        ("header only", contact, real[:10], None, [r"datum: truncated number at byte 10 of 10"]),
        ("a byte after the datum", contact, real + b"\x00", None,
         [r"1 byte\(s\) left over after the datum"]),
        ("enum index out of range", contact, message(fp_c, encode("contact", with_(c("e1"), with_role=10))),
         None, [r"datum: enum index out of range at byte \d+"]),
        ("negative enum index", contact, message(fp_c, encode("contact", with_(c("e2"), mode=-1))),
         None, [r"datum: enum index out of range at byte \d+"]),
        ("number out of range", contact,
         message(fp_c, encode("contact", with_(c("n1"), duration_min=1441))), None,
         [r"duration_min: 1441 outside 0\.\.1440"]),
        ("optional number out of range", goal,
         message(fp_g, encode("goal_change", with_(base_goal("n2"), gas=3))), None,
         [r"gas: 3 outside -2\.\.2"]),
        ("upper case in source", contact,
         message(fp_c, encode("contact", with_(c("l1"), source="GGZ-Noord"))), None,
         [r"source: character 1 is not one of \[a-z0-9_-\]"]),
        ("upper-case event_id", contact,
         message(fp_c, encode("contact", with_(c("l2"), event_id=c("l2")["event_id"].upper()))), None,
         [r"event_id: not a lower-case UUID"]),
        ("upper-case participant", contact,
         message(fp_c, encode("contact", with_(c("l3"), participant=c("l3")["participant"].upper()))),
         None, [r"participant: not a 64-character lower-case hex pseudonym"]),
        ("space in goal_ref", goal,
         message(fp_g, encode("goal_change", with_(base_goal("l4"), goal_ref="doel 1"))), None,
         [r"goal_ref: character 5 is not one of \[A-Za-z0-9_-\]"]),
        ("recorded_at in the future", contact,
         message(fp_c, encode("contact", with_(c("t1"), occurred_at=NOW_MS,
                                               recorded_at=NOW_MS + 3 * DAY_MS))), None,
         [r"recorded_at: more than a day in the future"]),
        ("occurred_at after recorded_at", contact,
         message(fp_c, encode("contact", with_(c("t2"), occurred_at=1718100000000 + 2 * DAY_MS))),
         None, [r"occurred_at: more than a day after recorded_at"]),
        ("crisis event on the contact topic", contact,
         message(fp_k, encode("crisis", base_crisis("x1"))),
         base_crisis("x1")["participant"].encode(), [rf"a crisis event on the {re.escape(contact)} topic"]),
    ]
    return out


def controls(fps, prefix):
    """Valid hand-built events: (name, topic, payload, key, etype, expected row)."""
    ev1 = base_contact("ok1")
    ev2 = with_(base_goal("ok2"), gas=None, weight=10, goal_ref="Eigen_Woning-2024")
    return [("valid hand-built contact", prefix + "contact", message(fps["contact"], encode("contact", ev1)),
             ev1["participant"].encode(), "contact", control_row("contact", ev1)),
            ("valid hand-built goal_change", prefix + "goal_change",
             message(fps["goal_change"], encode("goal_change", ev2)), ev2["participant"].encode(),
             "goal_change", control_row("goal_change", ev2))]


# ---------------------------------------------------------------- kcat


def kcat_send(topic, partition, payload, key, tmp):
    if payload == b"":
        # kcat skips an empty file; on stdin, "key<delim>" with nothing after is an empty value.
        p = subprocess.run(["kcat", "-b", k.brokers(), "-P", "-q", "-t", topic, "-p", str(partition),
                            "-K", "\\x01"], input=(key or b"") + b"\x01\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.decode("utf-8", "replace"))
        return
    path = Path(tmp) / f"msg-{os.urandom(6).hex()}.bin"
    path.write_bytes(payload)
    k.kcat_produce_file(topic, partition, path, key.decode() if key else None)


# ---------------------------------------------------------------- the test


def synth_to_kafka(c, run, seed, tmp):
    d = Path(tmp) / f"csv-{seed}"
    d.mkdir()
    c.program(f"synth --seed {seed} --csv", k.produce("synth", *SYNTH, "--seed", str(seed), "--csv", d), 0)
    c.program(f"synth --seed {seed} to Kafka",
              k.produce("synth", *SYNTH, "--seed", str(seed), "--topic-prefix", run["prefix"]), 0)
    return k.expected_from_dir(d, k.synth_key(seed))


def check_dead_letters(c, run, tmp, rng):
    prefix = run["prefix"]
    expected = synth_to_kafka(c, run, SEEDS[0], tmp)
    real = k.kcat_first_payload(prefix + "contact", Path(tmp) / "real-contact.bin")
    fps = {}
    for t in ("contact", "crisis", "goal_change"):
        first = real if t == "contact" else k.kcat_first_payload(prefix + t, Path(tmp) / f"real-{t}.bin")
        c.equal(f"a real {t} message starts with the single-object marker", b"\xc3\x01", first[:2])
        fps[t] = first[2:10]
    bad = bad_messages(prefix, real, fps, rng)
    good = controls(fps, prefix)
    c.equal("all bad payloads are distinct", len(bad), len({b[2] for b in bad}))
    sent = []  # (name, topic, partition, payload, key, patterns)
    # Interleaved: half the bad messages, the controls, the second synth run, the rest.
    half = len(bad) // 2
    for name, topic, payload, key, pats in bad[:half]:
        part = rng.randrange(6)
        kcat_send(topic, part, payload, key, tmp)
        sent.append((name, topic, part, payload, key, pats))
    for name, topic, payload, key, _t, _row in good:
        kcat_send(topic, rng.randrange(6), payload, key, tmp)
    expected = k.merge_expected(expected, synth_to_kafka(c, run, SEEDS[1], tmp))
    for name, topic, payload, key, pats in bad[half:]:
        part = rng.randrange(6)
        kcat_send(topic, part, payload, key, tmp)
        sent.append((name, topic, part, payload, key, pats))
    for _n, _topic, _p, _k, etype, row in good:
        expected[etype] = sorted(expected[etype] + [row])
    n_good = sum(len(v) for v in expected.values())

    r = k.consume(run["db"], prefix, run["group"], "--until-caught-up")
    c.program("consume the mixed stream", r, 0)
    c.equal("consumer: new, already present, rejected", (n_good, 0, len(bad)), k.consume_counts(r.err))

    tables = k.all_tables(run["db"])
    for t in k.EVENT_TYPES:
        c.rows(f"koers.{t}: every good message stored (synth rows + controls)", expected[t], tables[t])

    rejected = {(t, int(p), int(o)): (kh, ph, reason) for t, p, o, kh, ph, reason in k.psql(
        "SELECT topic, partition, kafka_offset, coalesce(encode(message_key, 'hex'), 'NULL'),"
        " encode(payload, 'hex'), reason FROM koers.rejected_events", run["db"])}
    c.equal("koers.rejected_events holds one row per bad message", len(bad), len(rejected))
    in_kafka = {}
    for t in {s[1] for s in sent}:
        for m in k.kcat_messages(t):
            in_kafka.setdefault((t, m["payload"] or b""), []).append((m["partition"], m["offset"]))
    dead = {}
    for m in k.kcat_messages(prefix + "dead_letter"):
        dead.setdefault(m["payload"] or b"", []).append(m)
    for name, topic, part, payload, key, pats in sent:
        where = in_kafka.get((topic, payload), [])
        if not c.ok(f"{name}: written once to {topic} [{part}]", [p for p, _ in where] == [part],
                    f"partition {part}", where):
            continue
        loc = (topic, part, where[0][1])
        row = rejected.get(loc)
        if not c.ok(f"{name}: in koers.rejected_events at {loc}", row is not None, loc,
                    sorted(rejected)[:5]):
            continue
        kh, ph, reason = row
        c.equal(f"{name}: stored payload is the exact bytes", payload.hex(), ph)
        c.equal(f"{name}: stored key", key.hex() if key is not None else "NULL", kh)
        for pat in pats:
            c.ok(f"{name}: reason matches /{pat}/", re.search(pat, reason) is not None, pat, reason)
        # The reason is about this message: Avro C prepends each read error to the last one,
        # so a stale "Cannot read ... from memory buffer" from earlier messages must not ride along.
        c.ok(f"{name}: reason names this message's problem only (no stale Avro errors)",
             reason.count("from memory buffer") <= 1, "at most one 'Cannot read N bytes from memory buffer'",
             reason)
        letters = dead.get(payload, [])
        if not c.ok(f"{name}: exactly one dead letter with the same bytes", len(letters) == 1,
                    1, len(letters)):
            continue
        c.equal(f"{name}: dead letter key", key, letters[0]["key"])
        h = k.kcat_headers(prefix + "dead_letter", letters[0]["partition"], letters[0]["offset"])
        want = f"koers.reason={reason},koers.topic={topic},koers.partition={part},koers.offset={loc[2]}"
        c.equal(f"{name}: dead letter headers (koers.reason, topic, partition, offset)", want, h)
    total_dead = sum(len(v) for v in dead.values())
    c.equal("the dead-letter topic holds exactly the bad messages", len(bad), total_dead)
    months = k.expected_month_counts(expected)
    c.rows("koers.event_count_month counts the stored events only", months,
           k.count_month_rows(run["db"]))


def main():
    k.require_env()
    c = k.Checks("test_dead_letter")
    seed = int(os.environ.get("KOERS_TEST_SEED") or random.SystemRandom().randrange(1, 10**9))
    rng = random.Random(seed)
    run = k.new_run_names("dl")
    print(f"# seed {seed} (KOERS_TEST_SEED={seed} replays it), topic prefix {run['prefix']},"
          f" database {run['db']}")
    tmp = k.tempdir(c, "dl")
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    if not c.program("koers-consume --migrate", k.migrate(run["db"]), 0):
        c.finish()
    c.run(check_dead_letters, c, run, tmp, rng)
    c.finish()


if __name__ == "__main__":
    main()
