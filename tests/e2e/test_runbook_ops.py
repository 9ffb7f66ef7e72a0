#!/usr/bin/env python3
"""End to end: the runbook's dead-letter resend (section 4) and backup and restore (section 5),
run as written.

The fenced blocks after the markers "tests/e2e/test_runbook_ops.py runs the next block as
written: NAME" in docs/runbook.md are extracted and run with bash, unchanged, with the
variables the runbook defines and the services' environment; the programs on PATH are the ones
under test.

Dead letters (resend), the runbook's own example: a consumer that knows only the current
goal_change schema dead-letters messages of versions 0 and 2 ("unknown writer schema
fingerprint ..."); the fix is a consumer that knows them (--schema-dir). In the stream, besides
synth's events and those versions (test_schema_evolution's messages): a message of a schema
nobody knows (the same reason, so it is sent again, and must be rejected again, not lost), and
garbage (another reason: it must stay as it is). After the block and the fixed consumer:
goal_change holds synth's rows and every version's rows as computed here; rejected_events
holds the garbage at its offset and the unknown schema at its new offset only; each re-sent
message is on its own topic and partition again with the same key and bytes; a second run of
the consumer stores nothing.

Backup and restore: a database fed by a stream, with configuration no event carries (a unit
cost, a dashboard user), is backed up by the backup block; more events arrive and are consumed;
then the database is damaged. The restore block makes a new database from the newest dump,
migrates it, brings it up to date from Kafka and swaps it in, keeping the damaged one. The
restored database equals the database as it was before the damage in every table (wall-clock
columns aside), view, report and offset; the damaged one is kept under the runbook's name.
"""
import os
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import test_dead_letter as dl  # noqa: E402  (the hand-written Avro encoder)
import test_runbook_replay as replay  # noqa: E402  (snapshot and compare of a whole database)
import test_schema_evolution as evol  # noqa: E402  (messages of goal_change versions 0 and 2)

MARKER = "<!-- tests/e2e/test_runbook_ops.py runs the next block as written: {} -->"


def runbook_block(name):
    """The ```sh block right after the named marker, its indentation (a list item's) removed."""
    text = (k.repo_dir() / "docs" / "runbook.md").read_text()
    marker = MARKER.format(name)
    at = text.index(marker) + len(marker)
    m = re.compile(r"\n( *)```sh\n(.*?)\n\1```\n", re.S).search(text, at)
    if not m or text[at:m.start()].strip():
        raise RuntimeError(f"no ```sh block right after the marker {marker} in docs/runbook.md")
    indent = m.group(1)
    lines = m.group(2).split("\n")
    if any(line and not line.startswith(indent) for line in lines):
        raise RuntimeError(f"block {name}: a line outside the block's indentation")
    return "\n".join(line[len(indent):] for line in lines)


def block_env(**names):
    env = k.program_env()
    env.update(names, PATH=f"{k.bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}")
    return env


def run_block(name, env):
    return k.run(["bash", "-c", runbook_block(name)], env=env, timeout=600)


# ---------------------------------------------------------------- section 4: resend

def rejected(db):
    return sorted(tuple(r) for r in k.psql(
        "SELECT topic, partition::text, kafka_offset::text, encode(message_key, 'hex'),"
        " encode(payload, 'hex'), reason FROM koers.rejected_events", db))


def check_resend(c, tmp):
    run = k.new_run_names("rbdl")
    db, prefix, group = run["db"], run["prefix"], run["group"]
    k.create_db(db)
    c.cleanup(k.drop_db, db)
    if not c.program("koers-consume --migrate", k.migrate(db), 0):
        return
    msgs, fp_v = evol.send(c, {"prefix": prefix}, tmp)
    expected = evol.synth_rows(c, tmp)
    # A schema nobody knows (same reason: it is sent again and fails again) and garbage.
    nobody = dl.message(b"\x5a" * 8, evol.datum(1, evol.goal("nobody-knows")))
    nobody_key = evol.goal("nobody-knows")["participant"].encode()
    dl.kcat_send(prefix + "goal_change", 3, nobody, nobody_key, tmp)
    garbage = Path(tmp) / "garbage.bin"
    garbage.write_bytes(b"not an event at all")
    k.kcat_produce_file(prefix + "contact", 1, garbage, key="k-garbage")

    r = k.consume(db, prefix, group, "--until-caught-up")
    c.program("the consumer before the fix (knows the current schema only)", r, 0)
    unknown = [m for m in msgs if m[0] != 1]
    before = rejected(db)
    reasons = [row[5] for row in before]
    c.equal("before the fix: versions 0 and 2 and the unknown schema rejected for an unknown"
            " fingerprint, the garbage for another reason",
            (len(unknown) + 1, 1),
            (sum(x.startswith("unknown writer schema fingerprint ") for x in reasons),
             sum(not x.startswith("unknown writer schema fingerprint ") for x in reasons)))
    ends = {p: int(o) for p, o in k.psql(
        "SELECT partition, max(kafka_offset) FROM koers.rejected_events"
        f" WHERE topic = '{prefix}goal_change' GROUP BY 1", db)}

    env = block_env(KOERS_DB=db)
    r = run_block("resend", env)
    if not c.program("the runbook's resend block, as written", r, 0):
        print(r.out[-3000:])
        return
    c.ok("... says how many it sent", f"sent again: {len(unknown) + 1} message(s)" in r.out,
         f"sent again: {len(unknown) + 1}", r.out.strip()[-300:])
    garbage_row = [row for row in before if not row[5].startswith("unknown writer schema")]
    c.rows("right after the block: only the other reason's row is left", garbage_row, rejected(db))

    # The re-sent messages: on their own topic and partition, after the originals, same key and
    # bytes (read back with kcat, independently of the consumer).
    sent = [row for row in before if row[5].startswith("unknown writer schema")]
    on_kafka = [m for m in k.kcat_messages(prefix + "goal_change")
                if m["offset"] > ends.get(str(m["partition"]), -1)
                and (str(m["partition"]), m["key"].hex() if m["key"] is not None else "",
                     m["payload"].hex()) in {(row[1], row[3], row[4]) for row in sent}]
    c.equal("each re-sent message is on Kafka again: its partition, key and bytes",
            sorted((row[1], row[3], row[4]) for row in sent),
            sorted((str(m["partition"]), m["key"].hex(), m["payload"].hex()) for m in on_kafka))

    r = k.consume(db, prefix, group, "--until-caught-up", "--schema-dir", evol.EVOLUTION)
    c.program("the fixed consumer (--schema-dir)", r, 0)
    c.equal("it stores the re-sent messages and rejects the unknown schema again",
            (len(unknown), 0, 1), k.consume_counts(r.err))
    want = sorted(expected["goal_change"] + [m[2] for m in msgs])
    c.rows("koers.goal_change: synth's rows and every version's rows", want,
           k.table_rows(db, "goal_change"))
    after = rejected(db)
    again = [row for row in after if row[4] == nobody.hex()]
    c.ok("the unknown schema is rejected again, at its new offset",
         len(again) == 1 and int(again[0][2]) > ends.get(again[0][1], -1)
         and again[0][5].startswith("unknown writer schema fingerprint "),
         "one row, new offset", again)
    c.rows("rejected_events: the garbage as before, the unknown schema at its new offset",
           garbage_row + again, after)
    r = k.consume(db, prefix, group, "--until-caught-up", "--schema-dir", evol.EVOLUTION)
    c.program("the fixed consumer once more", r, 0)
    c.equal("... stores nothing and rejects nothing", (0, 0, 0), k.consume_counts(r.err))


# ---------------------------------------------------------------- section 5: backup, restore

def check_backup_restore(c, tmp):
    run = k.new_run_names("rbbr")
    db, prefix, group = run["db"], run["prefix"], run["group"]
    restore_db, broken_db = f"{db}_restored", f"{db}_broken"
    for name in (db, restore_db, broken_db):
        c.cleanup(k.drop_db, name)
    k.create_db(db)
    if not c.program("koers-consume --migrate", k.migrate(db), 0):
        return
    synth = ["--participants", "8", "--months", "6", "--start", "2024-02-01", "--topic-prefix",
             prefix]
    c.program("synth, before the backup", k.produce("synth", *synth, "--seed", "5201"), 0)
    c.program("consume", k.consume(db, prefix, group, "--until-caught-up"), 0)
    # Configuration that no event carries: only the dump brings it back.
    k.psql("UPDATE koers.unit_cost SET amount_eur = amount_eur + 13"
           " WHERE item = (SELECT min(item) FROM koers.unit_cost)", db)
    r = k.run([k.program("koers-dash"), "-d", f"dbname={db}", "user", "add", "restore-tester",
               "--role", "partner", "--organisation", "ggz-noord", "--password-stdin"],
              stdin_bytes=b"a-long-enough-password-2\n", env=k.program_env(), timeout=60)
    c.program("koers-dash user add", r, 0)

    backups = Path(tmp) / "backups"
    env = block_env(KOERS_DB=db, KOERS_BACKUP_DIR=str(backups), KOERS_GROUP=group,
                    KOERS_TOPIC_PREFIX=prefix)
    r = run_block("backup", env)
    if not c.program("the runbook's backup block, as written", r, 0):
        print(r.out[-2000:])
        return
    dumps = sorted(p.name for p in backups.iterdir())
    c.ok("one dump in the backup directory, no partial file",
         len(dumps) == 1 and re.fullmatch(re.escape(db) + r"-\d{4}-\d\d-\d\d\.dump", dumps[0]),
         f"{db}-YYYY-MM-DD.dump", dumps)

    # Events after the dump; the database as it should be; then the loss.
    c.program("synth, after the backup", k.produce("synth", *synth, "--seed", "5202", "--cohort",
                                                   "later"), 0)
    r = k.consume(db, prefix, group, "--until-caught-up")
    c.program("consume the later events", r, 0)
    n_later = (k.consume_counts(r.err) or (0,))[0]
    c.ok("events arrived after the dump", n_later > 50, "> 50", n_later)
    want = replay.snapshot(db)
    offsets = k.offsets(db, group)
    k.psql("DELETE FROM koers.contact WHERE event_id IN"
           " (SELECT event_id FROM koers.contact ORDER BY event_id LIMIT 10)", db)
    k.psql("UPDATE koers.unit_cost SET amount_eur = 0, low_eur = NULL, high_eur = NULL,"
           " range_source = NULL", db)

    r = run_block("restore", env)
    if not c.program("the runbook's restore block, as written", r, 0):
        print(r.out[-3000:])
        return
    print("     " + r.out.strip().replace("\n", "\n     "))
    c.ok("the restored database took the name; the damaged one is kept",
         replay.db_exists(db) and replay.db_exists(broken_db) and not replay.db_exists(restore_db))
    replay.compare(c, "restored = the database before the damage", want, replay.snapshot(db))
    c.rows("offsets: the restored database went on from the dump to the end", offsets,
           k.offsets(db, group))
    c.equal("the damaged database is kept as it was (10 contacts fewer)",
            len(want["table contact"]) - 10,
            int(k.psql("SELECT count(*) FROM koers.contact", broken_db)[0][0]))


def main():
    k.require_env()
    c = k.Checks("test_runbook_ops")
    tmp = k.tempdir(c, "runbook-ops")
    (Path(tmp) / "resend").mkdir()
    (Path(tmp) / "backup").mkdir()
    c.run(check_resend, c, str(Path(tmp) / "resend"))
    c.run(check_backup_restore, c, str(Path(tmp) / "backup"))
    c.finish()


if __name__ == "__main__":
    main()
