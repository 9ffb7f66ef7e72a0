#!/usr/bin/env python3
"""End to end: hand-made CSV exports -> koers-produce import -> Kafka -> koers-consume -> PostgreSQL.

1. tests/data/csv/handmade (BOM, CRLF, quoted commas/quotes/newlines, empty optionals, dates
   with and without time and offsets, a duplicate row, corrections) becomes exactly the rows
   computed here from the CSV with the key: full rows, one per distinct record.
2. Importing the same files again and consuming changes nothing: same rows (recorded_at
   included), same koers.event_count_month, and the consumer reports 0 new.
3. Each file under tests/data/csv/bad has one kind of problem: the producer exits 1, names
   file, line, column and reason; none of the bad rows reach the database, the good ones do.
4. Privacy: no client_id (nor a name from the bad files) is in any byte under
   $KOERS_KAFKA_DATA_DIR, in any message of the run's topics, nor in a pg_dump.
"""
import os
import re
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

HANDMADE = k.test_data() / "csv" / "handmade"
BAD = k.test_data() / "csv" / "bad"

# (file under bad/, messages expected after "<path>:" , good record ids, refused records as
# (event type, source, record id)). Lines are physical lines: bad_enum has a client_id with
# a newline before its bad row.
BAD_CASES = [
    ("unknown_column/contact.csv",
     [r"1: column 'naam' is not in the contract for contact; refusing the file"],
     [],
     [("contact", "wijkteam-oost", r) for r in ("wt-9001", "wt-9002", "wt-9003")]),
    ("bad_enum/police_call.csv",
     [r"5: column kind: 'verward_persoon' is not one of the 7 symbols of kind"],
     ["PN-2024-07001", "PN-2024-07002", "PN-2024-07004"],
     [("police_call", "politie-noord", "PN-2024-07003")]),
    ("out_of_range/crisis.csv",
     [r"3: column days: '400' is not a whole number in 0\.\.366",
      r"4: column days: '-1' is not a whole number in 0\.\.366"],
     ["GN-OPN-0201", "GN-OPN-0204"],
     [("crisis", "ggz-noord", "GN-OPN-0202"), ("crisis", "ggz-noord", "GN-OPN-0203")]),
    ("unbalanced_quote/goal_change.csv",
     [r"3: unterminated quoted field 2\b.*the rest of the file is not read"],
     ["DOEL-9-a"],
     [("goal_change", "wijkteam-oost", "DOEL-9-b"), ("goal_change", "wijkteam-oost", "DOEL-9-c")]),
    ("bad_date/enrolment.csv",
     [r'3: column occurred_at: invalid time "2024-02-30": day 30 out of range',
      r'4: column occurred_at: invalid time "15-03-2024": expected YYYY-MM-DD',
      r'5: column occurred_at: invalid time "2024-03-05T10:00:00": missing Z or UTC offset'],
     ["INS-2024-101", "INS-2024-105"],
     [("enrolment", "gemeente-groningen", r) for r in ("INS-2024-102", "INS-2024-103",
                                                       "INS-2024-104")]),
    ("missing_value/contact.csv",
     [r"3: column mode: required but empty",
      r"4: column client_id: required but empty",
      r"5: column planned: required but empty"],
     ["ggz-c-60001", "ggz-c-60005"],
     [("contact", "ggz-noord", r) for r in ("ggz-c-60002", "ggz-c-60003", "ggz-c-60004")]),
    ("wrong_name/contacten.csv",
     [r" not named after an event type"],
     [],
     [("contact", "wijkteam-oost", "wt-9501"), ("contact", "wijkteam-oost", "wt-9502")]),
]

# Client ids the csv module cannot separate in the unbalanced file (the rest of the file is
# one field there), and the names of the unknown column.
EXTRA_SECRETS = ["WT-6611-R", "WT-6612-S", "Wolters-Bakker", "van der Molen", "Sietske Hoekstra"]


def type_of(path):
    stem = Path(path).stem
    return stem if stem in k.EVENT_TYPES else "contact"  # contacten.csv holds contact rows


# The types handmade/ has a file of (no coverage.csv: test_coverage_import.py has its own).
HANDMADE_TYPES = [t for t in k.EVENT_TYPES if (HANDMADE / f"{t}.csv").exists()]


def handmade_row_count():
    return sum(len(k.read_csv(HANDMADE / f"{t}.csv")) for t in HANDMADE_TYPES)


def check_first_import(c, run, key, expected):
    n_rows = handmade_row_count()
    n_unique = sum(len(v) for v in expected.values())
    t0 = int(time.time() * 1000) - 1000
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], HANDMADE)
    t1 = int(time.time() * 1000) + 1000
    run["stderr"].append(r.err)
    c.program("import handmade/", r, 0)
    c.ok("producer reports every row delivered",
         f"{n_rows} row(s) read, {n_rows} delivered, 0 refused, 0 not delivered" in r.err,
         f"'{n_rows} row(s) read, {n_rows} delivered, 0 refused, 0 not delivered'", r.err.strip()[-400:])
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume after the first import", r, 0)
    c.equal("consumer: new, already present (the duplicate crisis row), rejected",
            (n_unique, n_rows - n_unique, 0), k.consume_counts(r.err))
    tables = k.all_tables(run["db"], recorded=True)
    for t in k.EVENT_TYPES:
        c.rows(f"koers.{t} holds exactly the rows computed from handmade/{t}.csv",
               expected[t], [row[:-1] for row in tables[t]])
    late = [row for t in k.EVENT_TYPES for row in tables[t] if not t0 <= int(row[-1]) <= t1]
    c.ok("recorded_at of every row lies within the import run", not late,
         f"between {k.format_ms(t0)} and {k.format_ms(t1)}",
         [(r[0], k.format_ms(int(r[-1]))) for r in late[:5]])
    months = k.expected_month_counts(expected)
    c.rows("koers.event_count_month equals counts by type, source and Amsterdam month",
           months, k.count_month_rows(run["db"]))
    c.rows("koers.event_count_month equals a recount from the raw tables", months,
           k.recount_month_rows(run["db"]))
    hits = k.psql("SELECT c.target_event_id::text, coalesce(k.event_id::text, p.event_id::text, 'NULL')"
                  " FROM koers.correction c"
                  " LEFT JOIN koers.contact k ON k.event_id = c.target_event_id"
                  " LEFT JOIN koers.police_call p ON p.event_id = c.target_event_id"
                  " ORDER BY 1", run["db"])
    void_contact = k.event_id(key, "ggz-noord", "contact", "ggz-c-50150")
    c.ok("the correction voiding contact ggz-c-50150 names that contact's stored event_id",
         [void_contact, void_contact] in hits, void_contact, hits)
    c.ok("every correction targets a stored event", hits and all(h[1] != "NULL" for h in hits),
         "no NULL", hits)
    c.equal("no rejected events", [["0"]],
            k.psql("SELECT count(*) FROM koers.rejected_events", run["db"]))
    return tables


def check_reimport(c, run, snapshot):
    n_rows = handmade_row_count()
    months_before = k.count_month_rows(run["db"])
    # This time file by file, corrections first: the order must not matter.
    files = [HANDMADE / f"{t}.csv" for t in reversed(HANDMADE_TYPES)]
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], *files)
    c.program("second import of handmade/*.csv (reverse order)", r, 0)
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume after the second import", r, 0)
    c.equal("consumer after re-import: 0 new, all already present, 0 rejected",
            (0, n_rows, 0), k.consume_counts(r.err))
    after = k.all_tables(run["db"], recorded=True)
    for t in k.EVENT_TYPES:
        c.rows(f"koers.{t} unchanged by the re-import (recorded_at included)", snapshot[t], after[t])
    c.rows("koers.event_count_month unchanged by the re-import", months_before,
           k.count_month_rows(run["db"]))
    offs = k.offsets(run["db"], run["group"])
    total = {}
    for topic, _p, nxt in offs:
        total[topic] = total.get(topic, 0) + int(nxt)
    want = {f"{run['prefix']}{t}": 2 * len(k.read_csv(HANDMADE / f"{t}.csv")) for t in HANDMADE_TYPES}
    c.equal("stored offsets cover both imports (sum of next_offset per topic = 2 x rows)",
            want, total)


def check_bad_files(c, run, key, expected):
    good_rows = {t: [] for t in k.EVENT_TYPES}
    refused = []
    for rel, messages, good_ids, refused_ids in BAD_CASES:
        path = BAD / rel
        r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], path)
        run["stderr"].append(r.err)
        c.program(f"import bad/{rel} is refused", r, 1)
        logged = k.log_text(r.err)
        for m in messages:
            rx = re.escape(str(path)) + ":" + m
            c.ok(f"bad/{rel}: message /{m}/", re.search(rx, logged) is not None, rx, r.err.strip())
        errors = [rec for rec in k.log_records(r.err) if rec["level"] == "error"]
        c.equal(f"bad/{rel}: one error line per bad row or file", len(messages), len(errors))
        etype = type_of(path)
        for row in k.read_csv(path):
            if row.get("record_id") in good_ids:
                good_rows[etype].append(row)
        c.equal(f"bad/{rel}: good rows found in the file", len(good_ids),
                sum(1 for row in good_rows[etype] if row["record_id"] in good_ids))
        refused += refused_ids
    # A directory holding a misnamed file is refused loudly too.
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"],
                  BAD / "wrong_name")
    c.program("import of the directory bad/wrong_name is refused", r, 1)
    rx = re.escape(str(BAD / "wrong_name")) + r"/contacten\.csv: not named after an event type"
    c.ok("bad/wrong_name/: message names the misnamed file",
         re.search(rx, k.log_text(r.err)) is not None,
         rx, r.err.strip())

    good = k.expected_from_rows(good_rows, key)
    n_good = sum(len(v) for v in good.values())
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume after the bad imports", r, 0)
    c.equal("consumer after the bad imports: only the good rows are new",
            (n_good, 0, 0), k.consume_counts(r.err))
    merged = k.merge_expected(expected, good)
    tables = k.all_tables(run["db"])
    for t in k.EVENT_TYPES:
        c.rows(f"koers.{t} = handmade rows + the good rows of the bad files", merged[t], tables[t])
    stored_ids = {row[0] for t in k.EVENT_TYPES for row in tables[t]}
    leaked = [(t, s, rid) for t, s, rid in refused if k.event_id(key, s, t, rid) in stored_ids]
    c.ok(f"none of the {len(refused)} refused records reached the database", not leaked,
         "none", leaked)
    c.rows("koers.event_count_month after the bad imports", k.expected_month_counts(merged),
           k.count_month_rows(run["db"]))


def check_key_file_mode(c, run, tmp):
    loose = Path(tmp) / "loose"
    loose.mkdir()
    path, _ = k.write_key_file(loose)
    os.chmod(path, 0o640)
    r = k.produce("import", "--key-file", path, "--topic-prefix", run["prefix"], HANDMADE)
    c.program("a key file readable by the group is refused", r, 2)
    c.ok("the refusal names the key file and the fix", f"{path}: readable by group or others" in r.err
         and "chmod 600" in r.err, f"'{path}: readable by group or others ... chmod 600'", r.err.strip())


def secrets_of_input():
    """Every client_id of the input and every value of a column outside the contract."""
    out = set(EXTRA_SECRETS)
    files = [HANDMADE / f"{t}.csv" for t in HANDMADE_TYPES] + [BAD / rel for rel, *_ in BAD_CASES]
    for f in files:
        for row in k.read_csv(f):
            for col, v in row.items():
                if v and (col == "client_id" or col not in k.csv_columns(type_of(f))):
                    out.add(v)
                    out.update(part for part in v.splitlines() if len(part) >= 6)
    return sorted(s for s in out if s)


def check_privacy(c, run, key, producer_stderr):
    needles = [s.encode("utf-8") for s in secrets_of_input()]
    c.ok(f"privacy: {len(needles)} client ids and names collected from the input",
         len(needles) > 20, "> 20", len(needles))
    data_dir = os.environ["KOERS_KAFKA_DATA_DIR"]
    ours = [d for d in os.listdir(data_dir) if d.startswith(run["prefix"])]
    c.ok("the run's topics have partitions under $KOERS_KAFKA_DATA_DIR", len(ours) >= 6,
         ">= 6 directories", len(ours))
    control = (run["prefix"] + "contact").encode()
    hits = k.files_containing(data_dir, needles + [control])
    c.ok("control: the scan finds the run's topic name in the broker's files", control in hits,
         f"{control.decode()} in some file", "not found")
    hits.pop(control, None)
    c.ok("no client id or name in any file under $KOERS_KAFKA_DATA_DIR", not hits, "none",
         {n.decode(): v[:3] for n, v in hits.items()})
    blob = k.messages_blob(run["prefix"])
    found = [n.decode() for n in needles if n in blob]
    c.ok("no client id or name in any (decompressed) message key or payload", not found, "none",
         found)
    pseudonym = k.participant(key, "GGZN-0047113").encode()
    c.ok("control: the messages carry the pseudonym instead", pseudonym in blob,
         pseudonym.decode(), "not found")
    dump = k.pg_dump_bytes(run["db"])
    found = [n.decode() for n in needles if n in dump]
    c.ok("no client id or name in pg_dump of the test database", not found, "none", found)
    c.ok("control: pg_dump holds the pseudonym", pseudonym in dump, pseudonym.decode(), "not found")
    found = [n.decode() for n in needles if n in producer_stderr.encode("utf-8")]
    c.ok("the producer's messages echo no client id or name", not found, "none", found)


def main():
    k.require_env()
    c = k.Checks("test_import")
    run = k.new_run_names("import")
    tmp = k.tempdir(c, "import")
    run["keyfile"], key = k.write_key_file(tmp)
    run["stderr"] = []  # every producer message, for the privacy check
    print(f"# topic prefix {run['prefix']}, database {run['db']}, group {run['group']}")
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    if not c.program("koers-consume --migrate", k.migrate(run["db"]), 0):
        c.finish()
    expected = k.expected_from_dir(HANDMADE, key)
    snapshot = c.run(check_first_import, c, run, key, expected)
    if snapshot:
        c.run(check_reimport, c, run, snapshot)
    c.run(check_bad_files, c, run, key, expected)
    c.run(check_key_file_mode, c, run, tmp)
    c.run(check_privacy, c, run, key, "".join(run["stderr"]))
    c.finish()


if __name__ == "__main__":
    main()
