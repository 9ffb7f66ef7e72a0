#!/usr/bin/env python3
"""End to end: crisis stays reported open at admission and closed at discharge (episode_ref).

1. A crisis.csv with the optional episode_ref column: an opening record (episode_ref, days
   empty), its closing record (same episode_ref, days), a stay still open, old-form rows
   (days, no episode_ref), a row with neither days nor episode_ref and one whose episode_ref
   has the shape of a citizen service number. The producer exits 1 and names file:line and
   the reason of each refused row; koers.crisis holds exactly the other rows, computed here
   from the CSV with the key, with days NULL on the opening records and episode_ref NULL on
   the old-form ones.
2. An export in the old layout (no episode_ref column in the header) is still imported whole.
3. A message written with the previous crisis schema (schemas/history/crisis-v1.avsc: days a
   plain int, no episode_ref), encoded here byte by byte, is stored by a consumer started
   without --schema-dir: days as sent, episode_ref NULL; nothing is rejected.
4. The database's own rules (sql/0010_crisis_episode.sql): a row with neither days nor
   episode_ref, or an episode_ref outside [A-Za-z0-9_-]{1,64}, is refused by its CHECKs.
"""
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402
import test_dead_letter as dl  # noqa: E402  (the hand-written Avro encoder)

HEADER = "record_id,client_id,occurred_at,source,kind,days,episode_ref"
# The rows in file order: line 2 onwards (line 1 is the header).
EPISODE_ROWS = [
    "GN-1001,client-ep-1,2024-03-01T10:00:00Z,ggz-noord,crisis_admission,,opn-2024-17",
    "GN-1002,client-ep-1,2024-03-11T09:30:00+01:00,ggz-noord,crisis_admission,10,opn-2024-17",
    "GN-1003,client-ep-1,2024-04-02,ggz-noord,crisis_contact,0,",
    "GN-1004,client-ep-2,2024-03-20,ggz-noord,crisis_admission,,",
    "OPV-77,client-ep-2,2024-05-01,opvang,shelter_night,3,",
    "OPV-78,client-ep-2,2024-06-10T20:00:00Z,opvang,respite_stay,,Verblijf_B-2",
    "GN-1005,client-ep-3,2024-06-12,ggz-noord,compulsory_care,,123456782",
    "GN-1006,client-ep-3,2024-06-13,ggz-noord,compulsory_care,0,same-day-1",
]
# Refused rows: (line, record id, reason after "<path>:<line>: ").
REFUSED = [
    (5, "GN-1004", r"days or episode_ref: neither is given; a crisis event needs at least one of"
                   r" them"),
    (8, "GN-1005", r"column episode_ref: episode_ref: has the shape of a citizen service number"
                   r" \(BSN\); direct identifiers are refused"),
]
OLD_LAYOUT = ("record_id,client_id,occurred_at,source,kind,days\r\n"
              "CD-5,client-ep-4,2024-02-02T02:00:00Z,crisisdienst,crisis_contact,0\r\n"
              "ZH-9,client-ep-4,2024-02-03,ziekenhuis,emergency_department,1\r\n")


def write_exports(tmp):
    new = Path(tmp) / "episodes"
    new.mkdir()
    (new / "crisis.csv").write_text(HEADER + "\n" + "\n".join(EPISODE_ROWS) + "\n")
    old = Path(tmp) / "old-layout"
    old.mkdir()
    (old / "crisis.csv").write_bytes(OLD_LAYOUT.encode())
    return new, old


def expected_rows(new, old, key):
    refused = {rid for _line, rid, _why in REFUSED}
    rows = [r for r in k.read_csv(new / "crisis.csv") if r["record_id"] not in refused]
    rows += k.read_csv(old / "crisis.csv")
    return k.expected_from_rows({"crisis": rows}, key)["crisis"]


def import_exports(c, run, new, old):
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], new)
    c.program("import episodes/crisis.csv (two rows refused)", r, 1)
    for line, rid, why in REFUSED:
        rx = re.escape(str(new / "crisis.csv")) + f":{line}: " + why
        c.ok(f"refused row {rid} named with file:line and reason", re.search(rx, r.err) is not None,
             rx, r.err[-1500:])
    n = len(EPISODE_ROWS)
    c.ok("producer: every row read, the others delivered",
         f"{n} row(s) read, {n - len(REFUSED)} delivered, {len(REFUSED)} refused, 0 not delivered"
         in r.err, f"{n} read, {n - len(REFUSED)} delivered", r.err.strip()[-400:])
    c.ok("the refused values are not echoed", "123456782" not in r.err, "no BSN-shaped value",
         r.err[-800:])
    r = k.produce("import", "--key-file", run["keyfile"], "--topic-prefix", run["prefix"], old)
    c.program("import old-layout/crisis.csv (no episode_ref column)", r, 0)
    c.ok("old layout: both rows delivered", "2 row(s) read, 2 delivered, 0 refused" in r.err,
         "2 read, 2 delivered", r.err.strip()[-400:])


def old_schema_message(run, tmp):
    """A crisis message of the previous schema (crisis-v1: days a plain int, no episode_ref),
    sent to the crisis topic; returns the row it must become."""
    v1 = k.repo_dir() / "schemas" / "history" / "crisis-v1.avsc"
    fp = rel.fingerprints([v1])["crisis-v1"]
    ev = dl.base_crisis("episode-v1")
    ev.update({"kind": 3, "days": 21, "episode_ref": None, "source": "ggz-zuid"})
    # The catalogue layout ends with days ["null","int"] and episode_ref ["null","string"];
    # version 1 has days as a bare int and nothing after it.
    datum = dl.encode("crisis", dict(ev, days=None))[:-2] + dl.zz(ev["days"])
    dl.kcat_send(run["prefix"] + "crisis", 2, dl.message(fp, datum), ev["participant"].encode(), tmp)
    return fp, dl.control_row("crisis", ev)


def check_stored(c, run, expected, v1_row, fp_v1, fp_now):
    c.ok("the previous schema has another fingerprint than the current one", fp_v1 != fp_now,
         "two fingerprints", (fp_v1.hex(), fp_now.hex()))
    r = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up")
    c.program("consume without --schema-dir", r, 0)
    c.equal("consumer: new, already present, rejected", (len(expected) + 1, 0, 0),
            k.consume_counts(r.err))
    c.rows("koers.crisis holds exactly the rows computed from the CSV, and the version-1 message",
           sorted(expected + [v1_row]), k.table_rows(run["db"], "crisis"))
    db = run["db"]
    c.equal("opening and closing record of opn-2024-17: days NULL, then 10",
            [["opn-2024-17", "2024-03-01 11:00", "NULL"], ["opn-2024-17", "2024-03-11 09:30", "10"]],
            k.psql("SELECT episode_ref, to_char(occurred_at AT TIME ZONE 'Europe/Amsterdam',"
                   " 'YYYY-MM-DD HH24:MI'), coalesce(days::text, 'NULL') FROM koers.crisis"
                   " WHERE episode_ref = 'opn-2024-17' ORDER BY occurred_at", db))
    c.equal("a stay still open: episode_ref Verblijf_B-2 with days NULL",
            [["Verblijf_B-2", "respite_stay", "NULL"]],
            k.psql("SELECT episode_ref, kind, coalesce(days::text, 'NULL') FROM koers.crisis"
                   " WHERE episode_ref = 'Verblijf_B-2'", db))
    c.equal("old-form rows (CSV and the version-1 message): episode_ref NULL, days given",
            [["5", "0"]],
            k.psql("SELECT count(*), count(*) FILTER (WHERE days IS NULL) FROM koers.crisis"
                   " WHERE episode_ref IS NULL", db))
    c.equal("the version-1 message: days 21, episode_ref NULL",
            [["compulsory_care", "21", "NULL"]],
            k.psql(f"SELECT kind, days, coalesce(episode_ref, 'NULL') FROM koers.crisis"
                   f" WHERE event_id = '{v1_row[0]}'", db))
    c.equal("no rejected events", [["0"]], k.psql("SELECT count(*) FROM koers.rejected_events", db))
    c.equal("the refused rows are not stored", [["0"]],
            k.psql("SELECT count(*) FROM koers.crisis WHERE episode_ref = '123456782'"
                   " OR (days IS NULL AND episode_ref IS NULL)", db))


def check_constraints(c, run):
    db = run["db"]
    row = ("INSERT INTO koers.crisis (event_id, participant, occurred_at, recorded_at, source,"
           " kind, days, episode_ref) VALUES (gen_random_uuid(), repeat('a', 64), now(), now(),"
           " 'ggz-noord', 'crisis_admission', {days}, {ref})")
    cases = [("neither days nor episode_ref", "NULL", "NULL", "crisis_days_or_episode_ref_check"),
             ("episode_ref with a space", "NULL", "'opn 1'", "crisis_episode_ref_check"),
             ("episode_ref of 65 characters", "NULL", "repeat('x', 65)", "crisis_episode_ref_check"),
             ("empty episode_ref", "3", "''", "crisis_episode_ref_check")]
    for what, days, ref, constraint in cases:
        try:
            k.psql("BEGIN; " + row.format(days=days, ref=ref) + "; ROLLBACK", db)
            c.ok(f"the database refuses a crisis row with {what}", False, constraint, "accepted")
        except RuntimeError as e:
            c.ok(f"the database refuses a crisis row with {what}", constraint in str(e), constraint,
                 str(e)[-300:])
    got = k.psql("BEGIN; " + row.format(days="NULL", ref="repeat('x', 64)")
                 + " RETURNING episode_ref IS NOT NULL; ROLLBACK", db)
    c.ok("... and takes one with an episode_ref of 64 characters and no days", ["t"] in got, "t", got)
    c.equal("an index on (participant, episode_ref) for episode rows",
            [["crisis_participant_episode_ref_idx",
              "CREATE INDEX crisis_participant_episode_ref_idx ON koers.crisis USING btree"
              " (participant, episode_ref) WHERE (episode_ref IS NOT NULL)"]],
            k.psql("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'koers'"
                   " AND tablename = 'crisis' AND indexdef LIKE '%episode_ref%'", db))


def main():
    k.require_env()
    c = k.Checks("test_crisis_episode")
    names = k.new_run_names("episode")
    run = dict(names)
    print(f"# topic prefix {run['prefix']}, database {run['db']}")
    tmp = k.tempdir(c, "episode")
    run["keyfile"], key = k.write_key_file(tmp)
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    if not c.program("koers-consume --migrate", k.migrate(run["db"]), 0):
        c.finish()
    new, old = write_exports(tmp)
    c.run(import_exports, c, run, new, old)
    got = c.run(old_schema_message, run, tmp)
    if got:
        fp_v1, v1_row = got
        fp_now = rel.fingerprints()["crisis"]
        c.run(check_stored, c, run, expected_rows(new, old, key), v1_row, fp_v1, fp_now)
    c.run(check_constraints, c, run)
    c.finish()


if __name__ == "__main__":
    main()
