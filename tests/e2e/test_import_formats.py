#!/usr/bin/env python3
"""End to end: CSV exports that are not plain UTF-8 commas -> koers-produce import -> PostgreSQL.

1. Bad bytes refuse their row only. A file with rows holding invalid UTF-8 (one of them in a
   quoted field that goes on over a line break and holds a comma), a NUL byte and a field of
   more than 64 KiB between good rows: the producer exits 1, names each bad row by file and
   line (the line of the bad byte, counted here from the bytes), stores every good row before
   and after them and none of the bad ones. A file with three or more rows in Windows-1252
   gets one warning that says so, with the iconv command and the --encoding option; a file
   with fewer does not.
2. Exports as a spreadsheet in a Dutch locale writes them: semicolons, Windows-1252, CRLF,
   day-first dates and local times. The same registrations written as UTF-8, comma-separated
   ISO 8601 (times with the Amsterdam offset computed here with zoneinfo) and imported as they
   are, and the Dutch files imported with --encoding windows-1252 --date-order dmy (the
   separator detected), give the same stored events, equal to the rows computed here from the
   registrations. Importing the Dutch files again with --delimiter ';' changes nothing.
   Without the options each refusal names the option that fits: --encoding (once per file,
   with iconv), --date-order dmy (per row), and --delimiter for a header read with the
   wrong separator (one message, not one per column).

All fixtures are written as bytes by this test.
"""
import csv
import datetime
import io
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

SOURCE = "formats"
FIELD_LIMIT = 65536  # the import's documented field limit ("more than 64 KiB")
HINT_ROWS = 3        # rows not UTF-8 from which on a file gets the Windows-1252 warning


def contact_values(rid, client, occurred):
    return {"record_id": rid, "client_id": client, "occurred_at": occurred, "source": SOURCE,
            "with_role": "care_worker", "mode": "home_visit", "initiated_by": "participant",
            "duration_min": "45", "planned": "true"}


def csv_bytes(etype, rows, delimiter=",", encoding="utf-8", end="\r\n"):
    """A CSV file of rows (dicts) in the type's column order, quoted as the csv module does."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter, lineterminator=end)
    cols = k.csv_columns(etype)
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
    return out.getvalue().encode(encoding)


def line_of(content, offset):
    return content[:offset].count(b"\n") + 1


def stored_ids(db):
    return {row[0] for t in k.EVENT_TYPES for row in k.table_rows(db, t)}


def hint_lines(text, path):
    return [ln for ln in text.splitlines()
            if ln.startswith(f"{path}: ") and "not UTF-8" in ln and "Windows-1252" in ln]


# ---------------------------------------------------------------- 1. bad bytes

def bad_bytes_file():
    """(content, good rows, bad rows as (record id, line of the bad byte, reason regex)).
    Lines and byte offsets are taken from the bytes as they are written."""
    head = (",".join(k.csv_columns("contact")) + "\r\n").encode()
    content = bytearray(head)
    good, bad = [], []

    def add_good(rid, client):
        r = contact_values(rid, client, "2025-02-03T09:15:00Z")
        good.append(r)
        content.extend(",".join(r[c] for c in k.csv_columns("contact")).encode() + b"\r\n")

    def add_bad(rid, client_bytes, marker, reason):
        r = contact_values(rid, "X", "2025-02-03T09:15:00Z")
        before = ",".join(r[c] for c in k.csv_columns("contact")[:1]).encode() + b","
        after = b"," + ",".join(r[c] for c in k.csv_columns("contact")[2:]).encode() + b"\r\n"
        start = len(content) + len(before)
        content.extend(before + client_bytes + after)
        at = start + client_bytes.index(marker)
        bad.append((rid, line_of(content, at), reason))

    add_good("fmt-good-1", "client-good-1")
    add_bad("fmt-bad-utf8", b"Jos\xe9 Jansen", b"\xe9", r"invalid UTF-8 in field 2")
    add_good("fmt-good-2", "client-good-2")
    # A quoted field over a line break: the bad byte is on the first of its lines, and the
    # comma and the line break after it are inside the quotes, so the row ends one line on.
    add_bad("fmt-bad-quoted", b'"Anne\xff de Boer\r\n, Groningen"', b"\xff",
            r"invalid UTF-8 in field 2")
    add_good("fmt-good-3", "client-good-3")
    add_bad("fmt-bad-nul", b"cli\x00ent", b"\x00", r"NUL byte in field 2")
    add_good("fmt-good-4", "client-good-4")
    big = b"x" * (FIELD_LIMIT + 4000)
    add_bad("fmt-bad-long", big, b"x" * (FIELD_LIMIT + 1),
            rf"field 2 longer than {FIELD_LIMIT} bytes")
    # The last row: no line end after it.
    add_good("fmt-good-5", "client-good-5")
    del content[-2:]
    return bytes(content), good, bad


def check_bad_bytes(c, run, key, tmp):
    d = Path(tmp) / "bad-bytes"
    d.mkdir()
    path = d / "contact.csv"
    content, good, bad = bad_bytes_file()
    path.write_bytes(content)
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], path)
    c.program("import of a file with bad bytes between good rows: some input refused", r, 1)
    text = k.log_text(r.err)
    for rid, line, reason in bad:
        rx = re.escape(f"{path}:{line}: ") + reason + r"(?!.)"
        c.ok(f"{rid} is refused with its file and line {line}", re.search(rx, text) is not None,
             rx, text[-1500:])
    c.ok("no message says the rest of the file is not read",
         "the rest of the file is not read" not in text, "absent", text[-800:])
    errors = [rec for rec in k.log_records(r.err) if rec["level"] == "error"]
    c.equal("one error line per bad row", len(bad), len(errors))
    n = len(good) + len(bad)
    want = f"{path}: {n} row(s) read, {len(good)} sent, {len(bad)} refused"
    c.ok("the file's summary counts every row", want in text, want, text[-600:])
    c.equal(f"fewer than {HINT_ROWS} rows not UTF-8: no Windows-1252 warning", [],
            hint_lines(text, path))

    # Three or more rows in Windows-1252: one warning for the file.
    path2 = Path(tmp) / "cp1252-rows" / "contact.csv"
    path2.parent.mkdir()
    names = ["Zoë de Wit", "Sjoerd Hoekstra-Brouwer", "Renée Bakker", "Fenna Smit", "Jurriën Post"]
    rows2 = [contact_values(f"fmt-w-{i}", nm, "2025-02-04") for i, nm in enumerate(names)]
    content2 = csv_bytes("contact", rows2, encoding="cp1252")
    path2.write_bytes(content2)
    non_ascii = [r_ for r_ in rows2 if not r_["client_id"].isascii()]
    good2 = [r_ for r_ in rows2 if r_["client_id"].isascii()]
    r2 = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], path2)
    c.program("import of a Windows-1252 file as UTF-8: some input refused", r2, 1)
    text2 = k.log_text(r2.err)
    hints = hint_lines(text2, path2)
    c.equal(f"{len(non_ascii)} rows not UTF-8: exactly one Windows-1252 warning", 1, len(hints))
    if hints:
        c.ok("the warning counts the rows and gives --encoding and the iconv command",
             f"{len(non_ascii)} rows are not UTF-8" in hints[0]
             and "--encoding windows-1252" in hints[0] and "iconv -f cp1252 -t utf-8" in hints[0],
             "count, --encoding windows-1252, iconv -f cp1252 -t utf-8", hints[0])
    warn = [rec for rec in k.log_records(r2.err) if rec["level"] == "warn" and "Windows-1252" in rec["msg"]]
    c.equal("the warning is logged at level warn", 1, len(warn))

    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume after the bad-bytes imports", r, 0)
    want_rows = k.expected_from_rows({"contact": good + good2}, key)
    c.rows("koers.contact holds exactly the good rows, before and after the bad ones",
           want_rows["contact"], k.table_rows(run["db"], "contact"))
    ids = stored_ids(run["db"])
    leaked = [rid for rid, *_ in bad if k.event_id(key, SOURCE, "contact", rid) in ids]
    leaked += [r_["record_id"] for r_ in non_ascii
               if k.event_id(key, SOURCE, "contact", r_["record_id"]) in ids]
    c.ok("none of the refused rows is stored", not leaked, "none", leaked)


# ---------------------------------------------------------------- 2. Dutch spreadsheet exports

ZONE = k.ZONE

# (record id, client id, local date and time or date only, own fields). Names and record ids
# with characters Windows-1252 has (é, ë, ï, ß, €) so that a wrong conversion shows in the
# pseudonym and the event id; a client id with a semicolon so that the Dutch file quotes it.
REGISTRATIONS = {
    "contact": [
        ("nl-c-1", "Zoë Jansen", (2025, 3, 14, 10, 30), {"with_role": "care_worker", "mode": "home_visit", "initiated_by": "participant", "duration_min": "45", "planned": "true"}),
        ("nl-c-2", "de Vries; Jan", (2025, 3, 4, 9, 5), {"with_role": "experience_expert", "mode": "outreach", "initiated_by": "professional", "duration_min": "90", "planned": "false"}),
        ("nl-c-ß3", "Renée Smit", (2025, 7, 1), {"with_role": "housing", "mode": "phone", "initiated_by": "network", "duration_min": "10", "planned": "true"}),
        ("nl-c-4", "Jurriën Post", (2024, 12, 31, 23, 59), {"with_role": "other", "mode": "group", "initiated_by": "participant", "duration_min": "120", "planned": "false"}),
        ("nl-c-5", "Anouk Bos", (2025, 8, 15, 14, 0), {"with_role": "municipality", "mode": "digital", "initiated_by": "participant", "duration_min": "0", "planned": "true"}),
    ],
    "goal_change": [
        ("nl-g-1", "Zoë Jansen", (2025, 3, 14), {"goal_ref": "Woning-1", "domain": "housing", "change": "set", "set_by": "participant", "gas": "-1", "weight": "5"}),
        ("nl-g-2", "Zoë Jansen", (2025, 6, 2, 11, 15), {"goal_ref": "Woning-1", "domain": "housing", "change": "progress", "set_by": "participant", "gas": "", "weight": ""}),
        ("nl-g-€3", "Noëlle Kuipers", (2025, 5, 9), {"goal_ref": "Werk-2", "domain": "work", "change": "achieved", "set_by": "participant_with_network", "gas": "2", "weight": ""}),
        ("nl-g-4", "Anouk Bos", (2025, 1, 20, 8, 0), {"goal_ref": "Hond-1", "domain": "pet", "change": "abandoned", "set_by": "professional", "gas": "", "weight": "1"}),
    ],
}


def iso_time(t):
    if len(t) == 3:
        return f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
    return datetime.datetime(*t, tzinfo=ZONE).isoformat(timespec="minutes")


def dutch_time(t, i):
    """Day first, as a Dutch spreadsheet writes it; with and without leading zeros."""
    if i % 2:
        date = f"{t[2]}-{t[1]}-{t[0]:04d}"
    else:
        date = f"{t[2]:02d}-{t[1]:02d}-{t[0]:04d}"
    return date if len(t) == 3 else f"{date} {t[3]}:{t[4]:02d}"


def registration_rows(etype, timefmt):
    out = []
    for i, (rid, client, t, own) in enumerate(REGISTRATIONS[etype]):
        r = {"record_id": rid, "client_id": client, "occurred_at": timefmt(t, i), "source": SOURCE}
        r.update(own)
        out.append(r)
    return out


def write_exports(tmp):
    """The same registrations twice: UTF-8/comma/ISO and Dutch (cp1252/semicolon/day first)."""
    plain, dutch = Path(tmp) / "plain", Path(tmp) / "dutch"
    plain.mkdir()
    dutch.mkdir()
    rows = {}
    for etype in REGISTRATIONS:
        rows[etype] = registration_rows(etype, lambda t, i: iso_time(t))
        (plain / f"{etype}.csv").write_bytes(csv_bytes(etype, rows[etype]))
        (dutch / f"{etype}.csv").write_bytes(
            csv_bytes(etype, registration_rows(etype, dutch_time), delimiter=";",
                      encoding="cp1252"))
    return plain, dutch, rows


def import_and_store(c, run, what, directory, *opts):
    db = run["db"] + what
    k.create_db(db)
    c.cleanup(k.drop_db, db)
    c.program(f"{what}: koers-consume --migrate", k.migrate(db), 0)
    prefix = run["prefix"][:-1] + what + "."
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", prefix, *opts, directory)
    c.program(f"{what}: import {' '.join(opts) or '(no options)'}", r, 0)
    r2 = k.consume(db, prefix, run["group"] + what, "--until-caught-up")
    c.program(f"{what}: consume", r2, 0)
    return db, prefix, r


def check_dutch(c, run, key, tmp):
    plain, dutch, rows = write_exports(tmp)
    n = sum(len(v) for v in rows.values())
    # The fixtures are what they claim to be.
    raw = (dutch / "contact.csv").read_bytes()
    c.ok("the Dutch file is Windows-1252 with semicolons, CRLF, day-first dates and a quoted ';'",
         b"Zo\xeb" in raw and b"record_id;client_id;" in raw and b"\r\n" in raw
         and b";14-03-2025 10:30;" in raw and b'"de Vries; Jan"' in raw,
         "all present", raw[:300])

    want = k.expected_from_rows(rows, key)
    db_plain, _, _ = import_and_store(c, run, "plain", plain)
    db_dutch, prefix_dutch, r = import_and_store(c, run, "dutch", dutch, "--encoding",
                                                 "windows-1252", "--date-order", "dmy")
    text = k.log_text(r.err)
    for etype in REGISTRATIONS:
        msg = f"{dutch / (etype + '.csv')}: separated by ';' (detected from the header)"
        c.ok(f"dutch {etype}.csv: the separator is detected", msg in text, msg, text[-600:])
    got_plain = k.all_tables(db_plain)
    got_dutch = k.all_tables(db_dutch)
    for etype in REGISTRATIONS:
        c.rows(f"UTF-8 comma ISO {etype}.csv: stored rows equal the rows computed here",
               want[etype], got_plain[etype])
        c.rows(f"Dutch {etype}.csv (--encoding windows-1252 --date-order dmy): the same rows",
               want[etype], got_dutch[etype])
    c.equal("both imports store the same events in every table", got_plain, got_dutch)

    # Again with the separator given: the same event ids, nothing new.
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", prefix_dutch,
                  "--delimiter", ";", "--encoding", "cp1252", "--date-order", "dmy", dutch)
    c.program("dutch again with --delimiter ';' --encoding cp1252", r, 0)
    r = k.consume(db_dutch, prefix_dutch, run["group"] + "dutch", "--until-caught-up")
    c.program("consume the second Dutch import", r, 0)
    c.equal("the second Dutch import: 0 new, all already present, 0 rejected", (0, n, 0),
            k.consume_counts(r.err))

    # Without the options: refused, each with the option that fits. Sent to a prefix that is
    # never consumed; what reached it does not matter here.
    lost = run["prefix"][:-1] + "lost."
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", lost, dutch)
    c.program("the Dutch files without options: some input refused", r, 1)
    text = k.log_text(r.err)
    for etype, regs in rows.items():
        path = dutch / f"{etype}.csv"
        not_ascii = [x for x in regs if not (x["client_id"] + x["record_id"]).isascii()]
        hints = hint_lines(text, path)
        c.equal(f"{etype}.csv without --encoding: {len(not_ascii)} rows not UTF-8, "
                f"{1 if len(not_ascii) >= HINT_ROWS else 0} warning",
                1 if len(not_ascii) >= HINT_ROWS else 0, len(hints))
        for i, x in enumerate(regs):
            if x in not_ascii:
                continue
            shown = dutch_time(REGISTRATIONS[etype][i][2], i)
            rx = (re.escape(f"{path}:") + r"\d+: column occurred_at: invalid time \""
                  + re.escape(shown) + r"\": .*\(a day-first date: give --date-order dmy\)")
            c.ok(f"{etype}.csv {x['record_id']}: the day-first date names --date-order dmy",
                 re.search(rx, text) is not None, rx, text[-800:])

    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", lost, "--encoding",
                  "windows-1252", "--date-order", "dmy", "--delimiter", ",", dutch / "contact.csv")
    c.program("the Dutch contact.csv with --delimiter ,: refused", r, 1)
    errors = [rec["msg"] for rec in k.log_records(r.err) if rec["level"] == "error"]
    c.equal("one error for the header, not one per column", 1, len(errors))
    rx = (re.escape(f"{dutch / 'contact.csv'}:1: the header is one column, 'record_id;client_id;")
          + r".*it looks separated by semicolons; .*--delimiter ';'")
    c.ok("the header message says what was seen and which option fits",
         bool(errors) and re.search(rx, errors[0]) is not None, rx, errors)


def main():
    k.require_env()
    c = k.Checks("test_import_formats")
    run = k.new_run_names("formats")
    tmp = k.tempdir(c, "formats")
    run["keyfile"], key = k.write_key_file(tmp)
    print(f"# topic prefix {run['prefix']}, database {run['db']}, group {run['group']}")
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    if not c.program("koers-consume --migrate", k.migrate(run["db"]), 0):
        c.finish()
    c.run(check_bad_bytes, c, run, key, tmp)
    c.run(check_dutch, c, run, key, tmp)
    c.finish()


if __name__ == "__main__":
    main()
