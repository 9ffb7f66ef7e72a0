#!/usr/bin/env python3
"""End to end: a catalogue of bad input, each case a named check; nothing crashes or hangs.

Messages (written with kcat straight onto the event topics of a fresh prefix, each between
two valid hand-built events on the same partition, and between two synthetic streams):
truncated Avro, wrong markers and other formats, an unknown fingerprint, enum symbols out of
range, numbers out of range, bad unions and booleans, over-long varints, dates before 1900
and far in the future, oversized messages, invalid UTF-8 and NUL bytes, missing envelope and
required fields, identifier-shaped values, a message of another type. The consumer
(one --until-caught-up run, within a time limit) must exit 0, dead-letter each with the
reason expected for it (koers.rejected_events with the exact bytes, and one message on
<prefix>dead_letter with the koers.reason header), and store every good message.

Corrections that point at nothing are not errors: a correction may come before its target.
Such a correction is stored, and koers.data_quality_dangling_correction lists it until its
target arrives; one whose target comes later in the stream voids that target and leaves the
list.

CSV files (each imported on its own, within a time limit): an unknown column, unbalanced
quotes, a byte-order mark, CRLF, an empty file, a header only, a 10 MB field, binary files,
UTF-16, Latin-1, NUL bytes, bare CR line ends, stray quotes, rows with too many or too few
fields, a doubled or missing column, 5,000 columns, dates before 1900 and far in the
future, impossible dates, numbers out of range and not numbers, unknown or wrongly cased
symbols, booleans, bad sources, over-long record ids, corrections of an unknown type or
pointing at nothing. The producer answers a bad file or row with a message naming file,
line and reason and exits 1 (a valid file: 0); none of the bad rows reach the database, the
good rows do.

Each case and how it was handled goes into the reliability report.
"""
import os
import random
import re
import sys
import time
import uuid
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402
import test_dead_letter as dl  # noqa: E402  (the hand-written Avro encoder)

SOURCE = "bad-input"
NOW_MS = int(time.time() * 1000)
DAY_MS = 86400000
CSV_TIMEOUT = 60       # seconds an import of one case may take: "nothing hangs"
CONSUME_TIMEOUT = 300


def log_text(err):
    f = getattr(k, "log_text", None)
    return f(err) if f else err


# ---------------------------------------------------------------- valid events by hand

def eid(tag):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "koers-bad-input-" + tag))


def pseudonym(tag):
    return dl.hashlib.sha256(b"bad input " + tag.encode()).hexdigest()


def contact(tag, **kw):
    ev = {"event_id": eid(tag), "participant": pseudonym(tag), "occurred_at": 1718013600000,
          "recorded_at": 1718100000000, "source": SOURCE, "with_role": 2, "mode": 2,
          "initiated_by": 1, "duration_min": 45, "planned": True}
    ev.update(kw)
    return ev


def goal(tag, **kw):
    ev = {k_: v for k_, v in contact(tag).items() if k_ in ("event_id", "participant",
                                                             "occurred_at", "recorded_at", "source")}
    ev.update({"goal_ref": "Woning-1", "domain": 0, "change": 0, "set_by": 0, "gas": -1,
               "weight": None})
    ev.update(kw)
    return ev


def crisis(tag, **kw):
    ev = {k_: v for k_, v in contact(tag).items() if k_ in ("event_id", "participant",
                                                             "occurred_at", "recorded_at", "source")}
    ev.update({"kind": 1, "days": 12, "episode_ref": None})
    ev.update(kw)
    return ev


def correction(tag, target, **kw):
    ev = {k_: v for k_, v in contact(tag).items() if k_ in ("event_id", "participant",
                                                             "occurred_at", "recorded_at", "source")}
    ev.update({"target_event_id": target, "action": 0})
    ev.update(kw)
    return ev


BUILD = {"contact": contact, "goal_change": goal, "crisis": crisis}


def datum(etype, ev):
    return dl.encode(etype, ev)


# ---------------------------------------------------------------- the message catalogue

def avro_cases(fps, rng):
    """[(name, issue category, event type of the topic, payload, reason regex)]."""
    fc, fg, fk, fx = fps["contact"], fps["goal_change"], fps["crisis"], fps["correction"]
    m = dl.message
    good = m(fc, datum("contact", contact("base")))
    env_only = (dl.avro_str(eid("env")) + dl.avro_str(pseudonym("env")) + dl.zz(1718013600000)
                + dl.zz(1718100000000))
    unknown = bytes(rng.randrange(256) for _ in range(8))
    while unknown in fps.values():
        unknown = bytes(rng.randrange(256) for _ in range(8))
    goal_big = datum("goal_change", goal("big", goal_ref="G" * 900000))
    cases = [
        ("truncated: half of the datum", "truncated Avro", "contact",
         good[:10 + (len(good) - 10) // 2], r"^datum: (string length beyond the message|truncated number) at byte \d+ of \d+$"),
        ("truncated: the last byte cut off", "truncated Avro", "contact", good[:-1],
         r"^datum: truncated boolean at byte \d+ of \d+$"),
        ("truncated: the header only", "truncated Avro", "contact", good[:10],
         r"^datum: truncated number at byte 10 of 10$"),
        ("truncated: 9 bytes, shorter than the header", "truncated Avro", "goal_change",
         b"\xc3\x01" + fg[:7], r"^message of 9 bytes is shorter than the 10-byte header$"),
        ("empty message", "truncated Avro", "crisis", b"",
         r"^message of 0 bytes is shorter than the 10-byte header$"),
        ("wrong marker C3 02", "wrong marker", "contact", b"\xc3\x02" + good[2:],
         r"^no single-object marker \(C3 01\): starts with C3 02$"),
        ("Confluent wire format (magic 0, schema id) instead", "wrong marker", "contact",
         b"\x00\x00\x00\x00\x07" + good[10:], r"^no single-object marker \(C3 01\): starts with 00 00$"),
        ("JSON text instead of Avro", "wrong marker", "contact",
         b'{"event_id": "' + eid("json").encode() + b'", "participant": "x"}',
         r"^no single-object marker \(C3 01\): starts with 7B 22$"),
        ("unknown fingerprint", "unknown fingerprint", "contact", b"\xc3\x01" + unknown + good[10:],
         rf"^unknown writer schema fingerprint {int.from_bytes(unknown, 'little'):016x}$"),
        ("enum symbol index 10 of 10 (with_role)", "enum symbol out of range", "contact",
         m(fc, datum("contact", contact("e1", with_role=10))), r"^datum: enum index out of range at byte \d+"),
        ("enum symbol index -1 (mode)", "enum symbol out of range", "contact",
         m(fc, datum("contact", contact("e2", mode=-1))), r"^datum: enum index out of range at byte \d+"),
        ("enum symbol index 2^40 (goal domain)", "enum symbol out of range", "goal_change",
         m(fg, datum("goal_change", goal("e3", domain=1 << 40))), r"^datum: enum index out of range"),
        ("duration_min 1441", "number out of range", "contact",
         m(fc, datum("contact", contact("n1", duration_min=1441))), r"^duration_min: 1441 outside 0\.\.1440$"),
        ("days -1", "number out of range", "crisis",
         m(fk, datum("crisis", crisis("n2", days=-1))), r"^days: -1 outside 0\.\.366$"),
        ("gas 3 (optional field)", "number out of range", "goal_change",
         m(fg, datum("goal_change", goal("n3", gas=3))), r"^gas: 3 outside -2\.\.2$"),
        ("weight 0", "number out of range", "goal_change",
         m(fg, datum("goal_change", goal("n4", weight=0))), r"^weight: 0 outside 1\.\.10$"),
        ("int beyond 32 bits (duration_min 2^33)", "number out of range", "contact",
         m(fc, datum("contact", contact("n5", duration_min=1 << 33))), r"^datum: int out of 32-bit range at byte \d+"),
        ("varint of 11 bytes", "number out of range", "contact",
         m(fc, datum("contact", contact("n6"))[:-3] + b"\xff" * 11),
         r"^datum: number longer than 10 bytes at byte \d+"),
        ("union branch 2 of [null, int] (gas)", "number out of range", "goal_change",
         m(fg, datum("goal_change", goal("n7", gas=None))[:-2] + dl.zz(2) + dl.zz(0)),
         r"^datum: union branch out of range at byte \d+"),
        ("boolean byte 2 (planned)", "number out of range", "contact",
         m(fc, datum("contact", contact("n8"))[:-1] + b"\x02"), r"^datum: boolean neither 0 nor 1 at byte \d+"),
        ("occurred_at 1899-12-31", "date before 1900", "contact",
         m(fc, datum("contact", contact("d1", occurred_at=-2209075200000))), r"^occurred_at: before 1900-01-01$"),
        ("occurred_at -2^63", "date before 1900", "contact",
         m(fc, datum("contact", contact("d2", occurred_at=-(1 << 63)))), r"^occurred_at: before 1900-01-01$"),
        ("occurred_at in the year 3000", "date far in the future", "contact",
         m(fc, datum("contact", contact("d3", occurred_at=32503680000000))),
         r"^occurred_at: more than a day after recorded_at \(in the future\)$"),
        ("recorded_at in the year 10000", "date far in the future", "crisis",
         m(fk, datum("crisis", crisis("d4", recorded_at=253402300800000))),
         r"^recorded_at: before 1900-01-01 or after 9999-12-31$"),
        ("recorded_at 2^63-1", "date far in the future", "crisis",
         m(fk, datum("crisis", crisis("d5", recorded_at=(1 << 63) - 1))),
         r"^recorded_at: before 1900-01-01 or after 9999-12-31$"),
        ("recorded_at three days from now", "date far in the future", "crisis",
         m(fk, datum("crisis", crisis("d6", occurred_at=NOW_MS, recorded_at=NOW_MS + 3 * DAY_MS))),
         r"^recorded_at: more than a day in the future$"),
        ("oversized: a goal_ref of 900,000 bytes", "oversized message", "goal_change",
         m(fg, goal_big), r"^goal_ref: 900000 bytes, longer than 64$"),
        ("oversized: 600 KiB after a valid datum", "oversized message", "contact",
         m(fc, datum("contact", contact("o2"))) + bytes(614400), r"^614400 byte\(s\) left over after the datum$"),
        ("invalid UTF-8 in source (FF)", "invalid UTF-8", "contact",
         m(fc, datum("contact", contact("u1", source="ggz-\udcff"))),
         r"^source: character 5 is not one of \[a-z0-9_-\]$"),
        ("overlong UTF-8 in goal_ref (C0 AF)", "invalid UTF-8", "goal_change",
         m(fg, datum("goal_change", goal("u2", goal_ref="doel\udcc0\udcaf1"))),
         r"^goal_ref: character 5 is not one of \[A-Za-z0-9_-\]$"),
        ("NUL byte in event_id", "invalid UTF-8", "contact",
         m(fc, datum("contact", contact("u3", event_id=eid("u3")[:10] + "\0" + eid("u3")[11:]))),
         r"^event_id: contains a NUL byte$"),
        ("missing envelope field: the datum stops before source", "missing envelope field",
         "contact", m(fc, env_only), r"^datum: truncated number at byte \d+ of \d+$"),
        ("missing envelope field: empty participant", "missing envelope field", "contact",
         m(fc, datum("contact", contact("f2", participant=""))),
         r"^participant: not a 64-character lower-case hex pseudonym$"),
        ("missing envelope field: empty source", "missing envelope field", "crisis",
         m(fk, datum("crisis", crisis("f3", source=""))), r"^source: length 0 outside 1\.\.32$"),
        ("missing field: the datum stops before planned", "missing envelope field", "contact",
         m(fc, datum("contact", contact("f4"))[:-1]), r"^datum: truncated boolean at byte \d+ of \d+$"),
        ("negative string length", "truncated Avro", "contact",
         m(fc, dl.zz(-5) + datum("contact", contact("s1"))[37:]),
         r"^datum: string length beyond the message at byte \d+"),
        ("event_id that is not a UUID", "contract rule", "contact",
         m(fc, datum("contact", contact("s2", event_id="not-a-uuid-but-36-characters-long!!"))),
         r"^event_id: not a lower-case UUID$"),
        ("goal_ref of 65 characters", "contract rule", "goal_change",
         m(fg, datum("goal_change", goal("s3", goal_ref="G" * 65))), r"^goal_ref: 65 bytes, longer than 64$"),
        ("target_event_id that is not a UUID", "contract rule", "correction",
         m(fx, datum("correction", correction("s4", "void-me-please"))),
         r"^target_event_id: not a lower-case UUID$"),
        ("a citizen service number as source", "contract rule", "contact",
         m(fc, datum("contact", contact("p1", source="123456782"))),
         r"^source: has the shape of a citizen service number \(BSN\)"),
        ("a phone number as goal_ref", "contract rule", "goal_change",
         m(fg, datum("goal_change", goal("p2", goal_ref="0612345678"))),
         r"^goal_ref: has the shape of a phone number"),
        ("a crisis event on the contact topic", "contract rule", "contact",
         m(fk, datum("crisis", crisis("x1"))), r"^a crisis event on the \S+contact topic$"),
    ]
    return cases


def patch_encoder():
    """Lets dl.avro_str write raw bytes given as surrogate escapes ("\\udcff" is byte FF)."""
    def avro_str(s):
        b = s.encode("utf-8", "surrogateescape")
        return dl.zz(len(b)) + b
    dl.avro_str = avro_str


# ---------------------------------------------------------------- the CSV catalogue

HEADER = {t: ",".join(k.csv_columns(t)) for t in k.EVENT_TYPES}


def row(etype, rid, **kw):
    vals = {"record_id": rid, "client_id": f"client-{rid}", "occurred_at": "2024-05-06T10:00:00Z",
            "source": SOURCE}
    if etype == "contact":
        vals.update(with_role="care_worker", mode="outreach", initiated_by="participant",
                    duration_min="30", planned="true")
    elif etype == "crisis":
        vals.update(kind="crisis_contact", days="0", episode_ref="")
    elif etype == "goal_change":
        vals.update(goal_ref="Doel-1", domain="housing", change="set", set_by="participant",
                    gas="", weight="")
    elif etype == "police_call":
        vals.update(kind="welfare_check", caller="family", outcome="advice")
    elif etype == "enrolment":
        vals.update(change="enrolled", cohort="bi")
    elif etype == "correction":
        vals.update(target_record_id="nothing", target_type="contact", action="void")
    vals.update(kw)
    return ",".join(vals[c] for c in k.csv_columns(etype))


def lines(*ls, end="\r\n"):
    return (end.join(ls) + end).encode("utf-8")


def csv_cases():
    """[(name, issue category, file name, content, exit, message regexes, good ids, bad ids)].
    Record ids are made unique per case by the caller (prefix). {p} marks them."""
    c = "contact"
    H = HEADER[c]
    rng = random.Random(99)
    binary = bytes(rng.randrange(256) for _ in range(4096))
    big = "x" * (10 * 1024 * 1024)
    return [
        ("a column not in the contract (naam)", "unknown column", "contact.csv",
         lines(H + ",naam", row(c, "{p}1") + ",Jan de Vries", row(c, "{p}2") + ",Piet"), 1,
         [r"1: column 'naam' is not in the contract for contact; refusing the file"], [], ["{p}1", "{p}2"]),
        ("a doubled column", "unknown column", "contact.csv",
         lines(H + ",mode", row(c, "{p}1") + ",outreach"), 1,
         [r"1: column 'mode' appears twice"], [], ["{p}1"]),
        ("a required column missing", "unknown column", "contact.csv",
         lines(H.replace(",planned", ""), row(c, "{p}1").rsplit(",", 1)[0]), 1,
         [r"1: required column 'planned' is missing"], [], ["{p}1"]),
        ("5,000 columns", "unknown column", "contact.csv",
         lines(",".join(f"c{i}" for i in range(5000)), row(c, "{p}1")), 1,
         [r"1: more than 4096 fields"], [], ["{p}1"]),
        ("unbalanced quotes", "unbalanced quotes", "contact.csv",
         lines(H, row(c, "{p}1"), row(c, "{p}2", client_id='"client open'), row(c, "{p}3")), 1,
         [r"3: unterminated quoted field 2 \(the rest of the file is not read\)"], ["{p}1"], ["{p}2", "{p}3"]),
        ("a quote inside an unquoted field", "unbalanced quotes", "contact.csv",
         lines(H, row(c, "{p}1"), row(c, "{p}2", client_id='cli"ent'), row(c, "{p}3")), 1,
         [r"3: quote inside unquoted field 2"], ["{p}1"], ["{p}2", "{p}3"]),
        ("text after a closing quote", "unbalanced quotes", "contact.csv",
         lines(H, row(c, "{p}1"), row(c, "{p}2", client_id='"client"x'), row(c, "{p}3")), 1,
         [r"3: character after closing quote in field 2"], ["{p}1"], ["{p}2", "{p}3"]),
        ("a byte-order mark", "BOM", "contact.csv",
         b"\xef\xbb\xbf" + lines(H, row(c, "{p}1"), row(c, "{p}2")), 0, [], ["{p}1", "{p}2"], []),
        ("CRLF line ends", "CRLF", "contact.csv",
         lines(H, row(c, "{p}1"), row(c, "{p}2"), end="\r\n"), 0, [], ["{p}1", "{p}2"], []),
        ("LF line ends, no newline at the end", "CRLF", "contact.csv",
         (H + "\n" + row(c, "{p}1") + "\n" + row(c, "{p}2")).encode(), 0, [], ["{p}1", "{p}2"], []),
        ("BOM, CRLF, quoted comma, quote and line break", "BOM", "contact.csv",
         b"\xef\xbb\xbf" + lines(H, row(c, "{p}1", client_id='"de Vries, ""Jan""\r\nGroningen"'),
                                  row(c, "{p}2")), 0, [], ["{p}1", "{p}2"], []),
        ("bare CR line ends (classic Mac)", "CRLF", "contact.csv",
         lines(H, row(c, "{p}1"), row(c, "{p}2"), end="\r"), 1,
         [r"1: carriage return not followed by line feed"], [], ["{p}1", "{p}2"]),
        ("an empty file", "empty file", "contact.csv", b"", 1,
         [r" empty file, no header row"], [], []),
        ("a header only", "empty file", "contact.csv", lines(H), 0, [], [], []),
        ("blank lines only", "empty file", "contact.csv", b"\r\n\r\n\r\n", 1,
         [r" empty file, no header row"], [], []),
        ("a 10 MB field", "10 MB field", "contact.csv",
         lines(H, row(c, "{p}1"), row(c, "{p}2", client_id=big), row(c, "{p}3")), 1,
         [r"3: field 2 longer than 65536 bytes(?!.)"], ["{p}1", "{p}3"], ["{p}2"]),
        ("a binary file (a PNG image)", "binary file", "contact.csv",
         b"\x89PNG\r\n\x1a\n" + binary, 1, [r"1: invalid UTF-8 in field 1"], [], []),
        ("a gzip-compressed export", "binary file", "contact.csv",
         b"\x1f\x8b\x08\x00" + binary[:200], 1, [r"1: invalid UTF-8 in field 1"], [], []),
        ("UTF-16 with a byte-order mark", "binary file", "contact.csv",
         b"\xff\xfe" + "\r\n".join([H, row(c, "{p}1")]).encode("utf-16-le"), 1,
         [r"1: invalid UTF-8 in field 1"], [], ["{p}1"]),
        ("a Latin-1 byte in a value", "invalid UTF-8", "contact.csv",
         lines(H, row(c, "{p}1")) + row(c, "{p}2", client_id="Jos\xe9").encode("latin-1") + b"\r\n"
         + lines(row(c, "{p}3")), 1,
         [r"3: invalid UTF-8 in field 2(?!.)"], ["{p}1", "{p}3"], ["{p}2"]),
        ("a NUL byte in a field", "binary file", "contact.csv",
         lines(H, row(c, "{p}1"), row(c, "{p}2", client_id="cli\0ent"), row(c, "{p}3")), 1,
         [r"3: NUL byte in field 2(?!.)"], ["{p}1", "{p}3"], ["{p}2"]),
        ("a row with a field too many", "row shape", "contact.csv",
         lines(H, row(c, "{p}1") + ",extra", row(c, "{p}2")), 1,
         [r"2: 10 fields, the header has 9"], ["{p}2"], ["{p}1"]),
        ("a row with a field too few", "row shape", "contact.csv",
         lines(H, row(c, "{p}1").rsplit(",", 1)[0], row(c, "{p}2")), 1,
         [r"2: 8 fields, the header has 9"], ["{p}2"], ["{p}1"]),
        ("a date before 1900", "date before 1900", "contact.csv",
         lines(H, row(c, "{p}1", occurred_at="1899-12-31"), row(c, "{p}2", occurred_at="1900-01-01T00:00:00Z")), 1,
         [r"2: column occurred_at: occurred_at: before 1900-01-01"], ["{p}2"], ["{p}1"]),
        ("a date far in the future", "date far in the future", "contact.csv",
         lines(H, row(c, "{p}1", occurred_at="2999-01-01"), row(c, "{p}2")), 1,
         [r"2: column occurred_at: occurred_at: more than a day after recorded_at \(in the future\)"],
         ["{p}2"], ["{p}1"]),
        ("an impossible date (2024-02-30) and a time without zone", "date", "contact.csv",
         lines(H, row(c, "{p}1", occurred_at="2024-02-30"), row(c, "{p}2", occurred_at="2024-03-05T10:00:00"),
               row(c, "{p}3")), 1,
         [r'2: column occurred_at: invalid time "2024-02-30": day 30 out of range',
          r'3: column occurred_at: invalid time "2024-03-05T10:00:00": missing Z or UTC offset'],
         ["{p}3"], ["{p}1", "{p}2"]),
        ("numbers out of range and not numbers", "number out of range", "contact.csv",
         lines(H, row(c, "{p}1", duration_min="1441"), row(c, "{p}2", duration_min="-5"),
               row(c, "{p}3", duration_min="twee"), row(c, "{p}4", duration_min="99999999999"),
               row(c, "{p}5", duration_min="1440")), 1,
         [r"2: column duration_min: '1441' is not a whole number in 0\.\.1440",
          r"3: column duration_min: '-5' is not a whole number in 0\.\.1440",
          r"4: column duration_min: 'twee' is not a whole number in 0\.\.1440",
          r"5: column duration_min: '99999999999' is not a whole number in 0\.\.1440"],
         ["{p}5"], ["{p}1", "{p}2", "{p}3", "{p}4"]),
        ("optional numbers out of range (gas 3, weight 11)", "number out of range", "goal_change.csv",
         lines(HEADER["goal_change"], row("goal_change", "{p}1", gas="3"),
               row("goal_change", "{p}2", weight="11"), row("goal_change", "{p}3", gas="-2", weight="10")), 1,
         [r"2: column gas: '3' is not a whole number in -2\.\.2",
          r"3: column weight: '11' is not a whole number in 1\.\.10"], ["{p}3"], ["{p}1", "{p}2"]),
        ("an unknown symbol and a wrongly cased one", "enum symbol", "contact.csv",
         lines(H, row(c, "{p}1", mode="Outreach"), row(c, "{p}2", with_role="buurman"), row(c, "{p}3")), 1,
         [r"2: column mode: 'Outreach' is not one of the 6 symbols of mode",
          r"3: column with_role: 'buurman' is not one of the 10 symbols of with_role"],
         ["{p}3"], ["{p}1", "{p}2"]),
        ("a boolean that is neither true nor false", "enum symbol", "contact.csv",
         lines(H, row(c, "{p}1", planned="yes"), row(c, "{p}2", planned="false")), 1,
         [r"2: column planned: 'yes' is neither true nor false"], ["{p}2"], ["{p}1"]),
        ("a source with capitals, and one too long", "contract rule", "contact.csv",
         lines(H, row(c, "{p}1", source="GGZ-Noord"), row(c, "{p}2", source="s" * 33), row(c, "{p}3")), 1,
         [r"2: column source: source: character 1 is not one of \[a-z0-9_-\]",
          r"3: column source: source: length 33 outside 1\.\.32"], ["{p}3"], ["{p}1", "{p}2"]),
        ("a record_id of 300 bytes", "contract rule", "contact.csv",
         lines(H, row(c, "{p}1" + "r" * 300), row(c, "{p}2")), 1,
         [r"2: column record_id: longer than 256 bytes"], ["{p}2"], ["{p}1" + "r" * 300]),
        ("a correction of an unknown type, and of a correction", "correction", "correction.csv",
         lines(HEADER["correction"], row("correction", "{p}1", target_type="contacten"),
               row("correction", "{p}2", target_type="correction")), 1,
         [r"2: column target_type: not an event type that can be corrected",
          r"3: column target_type: not an event type that can be corrected"], [], ["{p}1", "{p}2"]),
        ("a correction pointing at nothing", "correction pointing at nothing", "correction.csv",
         lines(HEADER["correction"], row("correction", "{p}1", target_record_id="never-imported")), 0,
         [], ["{p}1"], []),
    ]


# ---------------------------------------------------------------- the test


def send_messages(c, run, tmp, rng):
    prefix = run["prefix"]
    for seed in (8801,):
        c.program(f"synth --seed {seed} to Kafka (good messages before the bad ones)",
                  k.produce("synth", "--participants", "4", "--months", "4", "--start", "2024-02-01",
                            "--seed", str(seed), "--topic-prefix", prefix), 0)
    fps = rel.fingerprints()
    real = k.kcat_first_payload(prefix + "contact", Path(tmp) / "real-contact.bin")
    c.equal("the fingerprint of a real contact message is the schema's", fps["contact"], real[2:10])
    patch_encoder()
    cases = avro_cases(fps, rng)
    c.equal("the message catalogue's payloads are distinct", len(cases), len({x[3] for x in cases}))
    controls = []  # (topic, partition, payload, etype, expected row)
    sent = []
    late_target = contact("late-target", occurred_at=1718013600000)
    waiting = correction("waits-for-target", late_target["event_id"])
    dangling = correction("points-at-nothing", str(uuid.uuid4()))
    for i, (name, cat, etype, payload, reason) in enumerate(cases):
        part = i % 6
        topic = prefix + etype
        ctype = etype if etype in BUILD else "contact"
        ctopic = topic if etype in BUILD else prefix + "contact"
        for side in ("before", "after"):
            ev = BUILD[ctype](f"ctl-{i}-{side}")
            payload_c = dl.message(fps[ctype], datum(ctype, ev))
            if side == "after":
                sent.append((name, cat, topic, part, payload, reason))
                dl.kcat_send(topic, part, payload, b"bad-input-key", tmp)
            dl.kcat_send(ctopic, part, payload_c, ev["participant"].encode(), tmp)
            controls.append((ctype, dl.control_row(ctype, ev)))
    # Corrections: one whose target arrives later, one that points at nothing.
    for ev in (waiting, dangling):
        dl.kcat_send(prefix + "correction", 0, dl.message(fps["correction"], datum("correction", ev)),
                     ev["participant"].encode(), tmp)
    c.program("synth --seed 8802 to Kafka (good messages after the bad ones)",
              k.produce("synth", "--participants", "4", "--months", "4", "--start", "2024-02-01",
                        "--seed", "8802", "--topic-prefix", prefix), 0)
    dl.kcat_send(prefix + "contact", 3, dl.message(fps["contact"], datum("contact", late_target)),
                 late_target["participant"].encode(), tmp)
    run["late_target"], run["waiting"], run["dangling"] = late_target, waiting, dangling
    return sent, controls


def import_csv(c, run, key, tmp):
    results = []
    for i, (name, cat, fname, content, want_rc, messages, good, bad) in enumerate(csv_cases()):
        p = f"bi{i:02d}-"
        d = Path(tmp) / f"csv-{i:02d}"
        d.mkdir()
        path = d / fname
        path.write_bytes(content.replace(b"{p}", p.encode()))
        t0 = time.monotonic()
        r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], path,
                      timeout=CSV_TIMEOUT)
        took = time.monotonic() - t0
        ok = c.program(f"CSV {name}: exit {want_rc}", r, want_rc)
        c.ok(f"CSV {name}: finished within {CSV_TIMEOUT}s, no crash", not r.timed_out and r.rc >= 0,
             "an exit status", f"rc {r.rc}, timed out {r.timed_out}")
        text = log_text(r.err)
        for mrx in messages:
            rx = re.escape(str(path)) + ":" + mrx
            ok &= c.ok(f"CSV {name}: message /{mrx}/", re.search(rx, text) is not None, rx, text[-1200:])
        errors = [ln for ln in text.splitlines() if ln.startswith(str(path))
                  and not re.search(r"row\(s\) read", ln)]
        if messages:
            c.ok(f"CSV {name}: one message per refusal", len(errors) >= len(messages), len(messages),
                 errors)
        etype = fname[:-4]
        goods = [g.replace("{p}", p) for g in good]
        bads = [b.replace("{p}", p) for b in bad]
        results.append({"name": name, "category": cat, "kind": "csv", "exit": r.rc,
                        "seconds": round(took, 2), "handled": (errors[0].split(": ", 1)[1]
                                                               if errors else "accepted"),
                        "good_rows": len(goods), "bad_rows": len(bads), "etype": etype,
                        "good_ids": [k.event_id(key, SOURCE, etype, g) for g in goods],
                        "bad_ids": [k.event_id(key, SOURCE, etype, b) for b in bads],
                        "ok": bool(ok)})
    return results


def check(c, run, key, sent, controls, csv_results):
    db = run["db"]
    t0 = time.monotonic()
    r = k.consume(db, run["prefix"], run["group"], "--until-caught-up", timeout=CONSUME_TIMEOUT)
    c.program("consume the whole stream (bad messages among good ones)", r, 0)
    c.ok(f"the consumer finished within {CONSUME_TIMEOUT}s", not r.timed_out, "finished",
         f"{time.monotonic() - t0:.0f}s")
    counts = k.consume_counts(r.err)
    c.ok("the consumer rejected exactly the bad messages", counts is not None and counts[2] == len(sent),
         len(sent), counts)
    rejected = {(t, int(p), int(o)): (ph, reason) for t, p, o, ph, reason in k.psql(
        "SELECT topic, partition, kafka_offset, encode(sha256(payload), 'hex'), reason"
        " FROM koers.rejected_events", db)}
    in_kafka = {}
    for t in {s[2] for s in sent}:
        for m in k.kcat_messages(t):
            in_kafka.setdefault((t, m["payload"] or b""), []).append((m["partition"], m["offset"]))
    dead = {}
    for m in k.kcat_messages(run["prefix"] + "dead_letter"):
        dead.setdefault(m["payload"] or b"", []).append(m)
    results = []
    for name, cat, topic, part, payload, reason_rx in sent:
        where = in_kafka.get((topic, payload), [])
        loc = (topic, part, where[0][1]) if where else None
        row_ = rejected.get(loc) if loc else None
        reason = row_[1] if row_ else None
        ok = c.ok(f"message {name}: dead-lettered with a clear reason",
                  row_ is not None and re.search(reason_rx, reason) is not None,
                  f"/{reason_rx}/", reason)
        ok &= c.ok(f"message {name}: the exact bytes are kept",
                   row_ is not None and row_[0] == dl.hashlib.sha256(payload).hexdigest(),
                   "same sha256", "differs or missing")
        letters = dead.get(payload, [])
        ok &= c.ok(f"message {name}: one dead letter with the reason header", len(letters) == 1 and
                   f"koers.reason={reason}," in k.kcat_headers(run["prefix"] + "dead_letter",
                                                              letters[0]["partition"],
                                                              letters[0]["offset"]),
                   "1 with koers.reason", len(letters))
        results.append({"name": name, "category": cat, "kind": "message", "bytes": len(payload),
                        "handled": f"dead-lettered: {reason}" if reason else "NOT dead-lettered",
                        "ok": bool(ok)})
    # Every good message around them is stored.
    by_type = {}
    for etype, r_ in controls:
        by_type.setdefault(etype, []).append(r_)
    for etype, rows in by_type.items():
        stored = set(k.table_rows(db, etype))
        missing = [r_ for r_ in rows if r_ not in stored]
        c.ok(f"every valid {etype} message between the bad ones is stored ({len(rows)})",
             not missing, "none missing", missing[:3])
    # Corrections: stored, listed while their target is missing, voiding it once it comes.
    late, waiting, dangling = run["late_target"], run["waiting"], run["dangling"]
    corr = {r_[0] for r_ in k.table_rows(db, "correction")}
    c.ok("a correction pointing at nothing is stored, not dead-lettered",
         dangling["event_id"] in corr and waiting["event_id"] in corr, "both stored", corr)
    listed = {r_[0]: r_[1] for r_ in k.psql(
        "SELECT correction_event_id::text, target_event_id::text"
        " FROM koers.data_quality_dangling_correction", db)}
    csv_dangling = [res for res in csv_results if res["category"] == "correction pointing at nothing"]
    want = {dangling["event_id"]: dangling["target_event_id"]}
    for res in csv_dangling:
        for g in res["good_ids"]:
            want[g] = k.event_id(key, SOURCE, "contact", "never-imported")
    c.equal("koers.data_quality_dangling_correction lists exactly the corrections whose target"
            " never came", want, listed)
    voided = k.psql(f"SELECT count(*) FROM koers.contact_valid WHERE event_id = '{late['event_id']}'", db)
    stored_late = k.psql(f"SELECT count(*) FROM koers.contact WHERE event_id = '{late['event_id']}'", db)
    c.ok("a correction that came before its target voids the target once it arrives",
         stored_late == [["1"]] and voided == [["0"]], "stored, and not valid", (stored_late, voided))
    results.append({"name": "a correction pointing at nothing", "category": "correction pointing at nothing",
                    "kind": "message", "handled": "stored; listed in koers.data_quality_dangling_correction"
                    " until its target arrives", "ok": dangling["event_id"] in listed})
    results.append({"name": "a correction that comes before its target", "category":
                    "correction pointing at nothing", "kind": "message",
                    "handled": "stored; voids the target when it arrives",
                    "ok": voided == [["0"]] and waiting["event_id"] not in listed})
    # CSV rows: the good ones stored, the bad ones nowhere.
    stored_ids = {r_[0] for t in k.EVENT_TYPES for r_ in k.table_rows(db, t)}
    for res in csv_results:
        miss = [g for g in res["good_ids"] if g not in stored_ids]
        leak = [b for b in res["bad_ids"] if b in stored_ids]
        ok = c.ok(f"CSV {res['name']}: good rows stored ({len(res['good_ids'])}), bad rows not"
                  f" ({len(res['bad_ids'])})", not miss and not leak, "all good in, no bad in",
                  f"missing {miss[:2]}, leaked {leak[:2]}")
        res["ok"] = res["ok"] and ok
    return results


def main():
    k.require_env()
    c = k.Checks("test_bad_input")
    seed = int(os.environ.get("KOERS_TEST_SEED") or random.SystemRandom().randrange(1, 10**9))
    rng = random.Random(seed)
    run = k.new_run_names("badin")
    print(f"# seed {seed}, topic prefix {run['prefix']}, database {run['db']}")
    tmp = k.tempdir(c, "badin")
    run["keyfile"], key = k.write_key_file(tmp)
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    if not c.program("koers-consume --migrate", k.migrate(run["db"]), 0):
        c.finish()
    t0 = time.monotonic()
    got = c.run(send_messages, c, run, tmp, rng)
    csv_results = c.run(import_csv, c, run, key, tmp) or []
    results = []
    if got:
        results = c.run(check, c, run, key, got[0], got[1], csv_results) or []
    cases = [r for r in results] + [{k_: v for k_, v in r.items() if not k_.endswith("_ids")}
                                    for r in csv_results]
    rel.record("bad_input", {"cases": cases, "messages": sum(1 for r in cases if r["kind"] == "message"),
                             "csv_files": sum(1 for r in cases if r["kind"] == "csv"),
                             "seconds": round(time.monotonic() - t0), "passed": c.passed,
                             "failed": c.failed})
    c.finish()


if __name__ == "__main__":
    main()
