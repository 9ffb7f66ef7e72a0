#!/usr/bin/env python3
"""End to end: coverage statements (Measures v2, "Source coverage") from coverage.csv to
PostgreSQL, against rows computed here.

1. An export's coverage.csv holds a closed statement, an open-ended one (no covered_to), one
   whose covered_to is before its covered_from (refused with file:line, column and reason)
   and one that its correction.csv voids. Another export's coverage.csv has a client_id
   column, with identifiers in it: that file is refused whole.
2. koers.coverage holds exactly the good rows (event ids derived from source, 'coverage' and
   record id with the key; no participant column), koers.coverage_valid the ones no
   correction voids; the correction names the statement's event id and is not dangling. A
   re-import stores nothing new. PostgreSQL itself refuses covered_to before covered_from.
3. On the bytes: the coverage messages are keyed by their source, and neither the record ids
   nor anything of the refused file reaches Kafka or PostgreSQL (messages, the broker's log
   files, pg_dump). Controls show the scans find what is there.
4. Rights: the consumer role may append coverage rows, the analyst and koers_reader read the
   valid statements.
"""
import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

COVERAGE_CSV = (
    "record_id,occurred_at,source,covered_type,covered_from,covered_to\r\n"
    "DEK-2024-001,2025-01-15,ggz-noord,crisis,2024-01-01,2024-12-31\r\n"
    "DEK-2024-002,2025-01-15T10:30:00+01:00,politie,police_call,2023-06-01,\r\n"
    "DEK-2024-003,2025-01-15,ggz-noord,contact,2024-02-01,2024-01-31\r\n"
    "DEK-2024-004,2025-01-16,wijkteam,contact,2024-01-01,2024-06-30\r\n"
)
# The correction keeps correction.csv's columns, client_id among them.
CORRECTION_CSV = (
    "record_id,client_id,occurred_at,source,target_record_id,target_type,action\r\n"
    "CORR-DEK-004,WT-beheer,2025-02-01,wijkteam,DEK-2024-004,coverage,void\r\n"
)
GOOD = ("DEK-2024-001", "DEK-2024-002", "DEK-2024-004")
VOIDED = "DEK-2024-004"
# A file of a type about a source with a client_id column: the column is not in the contract.
SECRET_NAME = "Wilma Hoekstra-Dijkstra"
SECRET_BSN = "111222333"  # passes the eleven-test
CLIENT_ID_CSV = (
    "record_id,client_id,occurred_at,source,covered_type,covered_from,covered_to\r\n"
    f"DEK-SECRET-9,\"{SECRET_NAME}\",2025-01-15,opvang,crisis,2024-01-01,\r\n"
    f"DEK-SECRET-10,{SECRET_BSN},2025-01-15,opvang,contact,2024-01-01,\r\n"
)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def check_import(c, run, export, other):
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], export)
    c.program("import of coverage.csv and correction.csv: one row refused", r, 1)
    c.ok("the refused row is named with file:line, column and reason",
         f"{export}/coverage.csv:4: column covered_to: covered_to: 2024-01-31 is before "
         "covered_from 2024-02-01" in r.err,
         "coverage.csv:4: column covered_to: ... before covered_from 2024-02-01", r.err[-800:])
    c.ok("the producer counts 4 rows read, 3 sent, 1 refused in coverage.csv",
         "coverage.csv: 4 row(s) read, 3 sent, 1 refused" in r.err, "4 read, 3 sent, 1 refused",
         r.err[-800:])
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], other)
    c.program("import of a coverage.csv with a client_id column: refused", r, 1)
    c.ok("... naming the column and refusing the file",
         "column 'client_id' is not in the contract for coverage; refusing the file" in r.err,
         "column 'client_id' is not in the contract for coverage", r.err[-600:])
    c.ok("... and sending none of its rows", "0 sent" in r.err, "0 sent", r.err[-600:])
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume", r, 0)
    c.equal("consumer: new (3 statements, 1 correction), already present, rejected", (4, 0, 0),
            k.consume_counts(r.err))


def check_stored(c, run, key, export):
    db = run["db"]
    rows = k.read_csv(export / "coverage.csv")
    expected = sorted(k.expected_row("coverage", r, key) for r in rows
                      if r["record_id"] in GOOD)
    c.rows("koers.coverage holds exactly the good statements", expected,
           k.table_rows(db, "coverage"))
    c.equal("koers.coverage has no participant column (nor client_id)", [],
            k.psql("SELECT column_name FROM information_schema.columns WHERE table_schema ="
                   " 'koers' AND table_name = 'coverage' AND column_name IN ('participant',"
                   " 'client_id')", db))
    open_ended = k.event_id(key, "politie", "coverage", "DEK-2024-002")
    c.equal("the open-ended statement has covered_to NULL", [[open_ended, "2023-06-01", "NULL"]],
            k.psql("SELECT event_id::text, covered_from::text, covered_to::text FROM koers.coverage"
                   " WHERE covered_to IS NULL", db))
    voided = k.event_id(key, "wijkteam", "coverage", VOIDED)
    c.equal("the correction names the voided statement's event id", [[voided, "void"]],
            k.psql("SELECT target_event_id::text, action::text FROM koers.correction", db))
    valid = sorted(k.event_id(key, r["source"], "coverage", r["record_id"]) for r in rows
                   if r["record_id"] in GOOD and r["record_id"] != VOIDED)
    c.equal("koers.coverage_valid: the statements no correction voids", valid,
            [r[0] for r in k.psql("SELECT event_id::text FROM koers.coverage_valid ORDER BY 1", db)])
    c.equal("a correction of a coverage statement is not dangling", [["0"]],
            k.psql("SELECT count(*) FROM koers.data_quality_dangling_correction", db))
    c.equal("no rejected messages", [["0"]], k.psql("SELECT count(*) FROM koers.rejected_events", db))
    try:
        k.psql("INSERT INTO koers.coverage VALUES (gen_random_uuid(), now(), now(), 'x',"
               " 'crisis', '2024-02-01', '2024-01-31')", db)
        refused = ""
    except RuntimeError as e:
        refused = str(e)
    c.ok("PostgreSQL refuses covered_to before covered_from",
         "coverage_covered_to_check" in refused, "coverage_covered_to_check", refused[-300:])
    try:
        k.psql("INSERT INTO koers.coverage VALUES (gen_random_uuid(), now(), now(), 'x',"
               " 'correction', '2024-02-01', NULL)", db)
        refused = ""
    except RuntimeError as e:
        refused = str(e)
    c.ok("... and a covered_type outside the catalogue's", "invalid input value for enum" in refused,
         "invalid input value for enum", refused[-300:])


def check_reimport(c, run, export):
    before = k.table_rows(run["db"], "coverage", recorded=True)
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"],
                  export / "coverage.csv")
    c.program("re-import of coverage.csv (its bad row refused again)", r, 1)
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume the re-import", r, 0)
    c.equal("consumer after re-import: 0 new, 3 already present, 0 rejected", (0, 3, 0),
            k.consume_counts(r.err))
    c.rows("koers.coverage unchanged by the re-import (recorded_at included)", before,
           k.table_rows(run["db"], "coverage", recorded=True))


def check_bytes(c, run, key):
    msgs = k.kcat_messages(run["prefix"] + "coverage")
    c.equal("the coverage topic holds the 3 statements of each of 2 imports", 6, len(msgs))
    c.equal("coverage messages are keyed by their source", sorted([b"ggz-noord", b"politie",
                                                                  b"wijkteam"] * 2),
            sorted(m["key"] for m in msgs))
    needles = [SECRET_NAME.encode(), SECRET_BSN.encode(), b"WT-beheer"] + \
        [f"DEK-{s}".encode() for s in ("2024-001", "2024-002", "2024-003", "2024-004", "SECRET")]
    blob = k.messages_blob(run["prefix"])
    found = [n.decode() for n in needles if n in blob]
    c.ok("no record id, client id or refused value in any message key or payload", not found,
         "none", found)
    c.ok("control: the messages carry the statements' sources", b"ggz-noord" in blob, "found",
         "not found")
    hits = k.files_containing(os.environ["KOERS_KAFKA_DATA_DIR"],
                              needles + [(run["prefix"] + "coverage").encode()])
    control = hits.pop((run["prefix"] + "coverage").encode(), None)
    c.ok("control: the scan finds the coverage topic's name in the broker's files", control,
         "found", "not found")
    c.ok("none of them in any file under the Kafka log directory", not hits, "none",
         {n.decode(): v[:3] for n, v in hits.items()})
    dump = k.pg_dump_bytes(run["db"])
    found = [n.decode() for n in needles if n in dump]
    c.ok("none of them in a full pg_dump of the database", not found, "none", found)
    stmt = k.event_id(key, "ggz-noord", "coverage", "DEK-2024-001").encode()
    c.ok("control: the dump holds a statement's event id", stmt in dump, "found", "not found")


def check_rights(c, run):
    got = k.psql("SELECT has_table_privilege('koers_consumer', 'koers.coverage', 'INSERT'),"
                 " has_table_privilege('koers_consumer', 'koers.coverage', 'UPDATE'),"
                 " has_table_privilege('koers_consumer', 'koers.coverage', 'DELETE'),"
                 " has_table_privilege('koers_analyst', 'koers.coverage_valid', 'SELECT'),"
                 " has_table_privilege('koers_analyst', 'koers.coverage', 'INSERT'),"
                 " has_table_privilege('koers_reader', 'koers.coverage_valid', 'SELECT')",
                 run["db"])
    c.equal("consumer appends only; analyst and koers_reader read the valid statements",
            [["t", "f", "f", "t", "f", "t"]], got)


def main():
    k.require_env()
    c = k.Checks("test_coverage_import")
    run = k.new_run_names("coverage")
    print(f"# topic prefix {run['prefix']}, database {run['db']}")
    tmp = Path(k.tempdir(c, "coverage"))
    run["keyfile"], key = k.write_key_file(tmp)
    export, other = tmp / "export", tmp / "other"
    write(export / "coverage.csv", COVERAGE_CSV)
    write(export / "correction.csv", CORRECTION_CSV)
    write(other / "coverage.csv", CLIENT_ID_CSV)
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    if not c.program("koers-consume --migrate", k.migrate(run["db"]), 0):
        c.finish()
    c.run(check_import, c, run, export, other)
    c.run(check_stored, c, run, key, export)
    c.run(check_reimport, c, run, export)
    c.run(check_bytes, c, run, key)
    c.run(check_rights, c, run)
    c.finish()


if __name__ == "__main__":
    main()
