#!/usr/bin/env python3
"""End to end: direct identifiers never reach Kafka or PostgreSQL, proven on the bytes.

Makes identifiers of the kinds a source's export holds, new for each run: names ("Fatima El
Amrani", "de Vries, Jan", "J. de Vries"), citizen service numbers that pass the eleven-test
(with and without separators), addresses ("Oosterstraat 44-2, 9711 NV Groningen", a postcode
alone), and phone numbers (06-12345678, 0612345678, +31 6 12345678, 050-3123456,
0031612345678). For every event type a CSV file holds rows whose client_id is one of them,
and rows with one of them in each other column in turn (record_id, occurred_at, source,
cohort, goal_ref, episode_ref, the enums, numbers, dates and booleans, a correction's target
columns; coverage.csv has no client_id), and a file with an extra free-text column full of
them.

koers-produce imports them: client_id becomes a pseudonym, record_id and target_record_id
only feed the keyed event id, every other column refuses such a value (its rules, and the
refusal of identifier-shaped values in the free key columns goal_ref, episode_ref, cohort
and source), and the file with the extra column is refused whole. koers-consume stores what
came. Then none of the identifiers (as written, and in digits only) appears in any byte of any file
under the Kafka log directory ($KOERS_KAFKA_DATA_DIR), in any message of the run's topics
after decompression, in a full pg_dump of the database, or in any file of the PostgreSQL
data directory ($KOERS_PG_DATA_DIR: heap, indexes, write-ahead log; after a CHECKPOINT).
Controls show each scan can find what is there: the topic name in the broker's files, the
pseudonyms in the messages, the dump and the data directory.
"""
import csv
import io
import os
import random
import re
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402

FIRST = ["Fatima", "Jan", "Sanne", "Mohamed", "Anouk", "Pieter-Jan", "Ayse", "Henk", "Lotte",
         "Rachid", "Wilma", "Dirk", "Ilse", "Youssef", "Gerrit", "Naima"]
LAST = ["El Amrani", "de Vries", "Bakker", "van den Berg", "Yilmaz", "Hoekstra", "Mulder",
        "Wolters", "Kuipers", "Postma", "de Boer", "Dijkstra", "Visser", "Smit"]
STREETS = ["Oosterstraat", "Vismarkt", "Hoofdstraat", "Korreweg", "Paterswoldseweg",
           "Damsterdiep", "Helperzoom", "Zuiderdiep"]
CITIES = ["Groningen", "Haren", "Hoogezand", "Leek", "Zuidhorn"]


def bsn(rng):
    """A random 9-digit number that passes the eleven-test."""
    while True:
        d = [rng.randrange(10) for _ in range(8)]
        if d[0] == 0:
            continue
        s = sum((9 - i) * x for i, x in enumerate(d))
        last = s % 11
        if last < 10:
            return "".join(map(str, d + [last]))


def identifiers(rng):
    """{kind: [values]} of this run; the same person's data in several spellings."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    b1, b2 = bsn(rng), bsn(rng)
    street, city = rng.choice(STREETS), rng.choice(CITIES)
    num, pc = rng.randrange(2, 200), f"{rng.randrange(9700, 9999)} {rng.choice('ABCDEHJKLMNP')}{rng.choice('ABCDEHJKLMNP')}"
    mob = f"{rng.randrange(10000000, 99999999)}"
    land = f"{rng.randrange(3100000, 3999999)}"
    return {
        "name": [f"{first} {last}", f"{last}, {first}", f"{first[0]}. {last}",
                 f"{first.upper()} {last.upper()}"],
        "citizen service number": [b1, f"{b2[:4]}.{b2[4:6]}.{b2[6:]}", f"BSN {b2}"],
        "address": [f"{street} {num}, {pc} {city}", f"{street} {num}-2", pc.replace(" ", ""),
                    f"{street} {num}"],
        "phone": [f"06-{mob}", f"06{mob}", f"+31 6 {mob}", f"050-{land}", f"0031 6{mob}",
                  f"316{mob}"],
    }


def needles_of(ids):
    """Byte strings to look for: every value, and the digits of those that have digits."""
    out = set()
    for values in ids.values():
        for v in values:
            out.add(v.encode())
            digits = re.sub(r"\D", "", v)
            if len(digits) >= 8:
                out.add(digits.encode())
    return sorted(out)


def valid_row(etype, i):
    vals = {"record_id": f"priv-{etype}-{i}", "client_id": f"priv-client-{i % 7}",
            "occurred_at": "2024-04-0%dT09:00:00Z" % (1 + i % 9), "source": "privacy-test"}
    vals.update({"contact": dict(with_role="care_worker", mode="home_visit",
                                 initiated_by="network", duration_min="20", planned="false"),
                 "crisis": dict(kind="shelter_night", days="1", episode_ref=""),
                 "goal_change": dict(goal_ref="Huis-1", domain="housing", change="set",
                                     set_by="participant", gas="", weight="2"),
                 "police_call": dict(kind="nuisance", caller="neighbour", outcome="none"),
                 "zrm_score": dict(domain="housing", score="2", scored_by="professional"),
                 "stressor": dict(kind="debts", change="present"),
                 "status_change": dict(housing="shelter", rent_arrears="", eviction="",
                                       daytime_activity="none", income_source="",
                                       debt_counselling=""),
                 "enrolment": dict(change="enrolled", cohort="privacy"),
                 "coverage": dict(covered_type="crisis", covered_from="2024-01-01",
                                  covered_to=""),
                 "correction": dict(target_record_id="priv-contact-0", target_type="contact",
                                    action="void")}[etype])
    return vals


def write_csv(path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r[h] for h in header])
    Path(path).write_text(buf.getvalue(), encoding="utf-8")


def make_input(d, ids):
    """The CSV files; returns {(etype, record_id): column holding an identifier}."""
    values = [v for vs in ids.values() for v in vs]
    planted = {}
    for etype in k.EVENT_TYPES:
        cols = k.csv_columns(etype)
        rows, i = [], 0
        for v in values if "client_id" in cols else []:  # as the client id: pseudonymised
            r = valid_row(etype, i)
            r["client_id"] = v
            rows.append(r)
            planted[(etype, r["record_id"])] = "client_id"
            i += 1
        for col in cols:  # and in every other column in turn
            if col == "client_id":
                continue
            for v in values:
                r = valid_row(etype, i)
                r[col] = v
                rows.append(r)
                planted[(etype, r["record_id"])] = col
                i += 1
        write_csv(Path(d) / f"{etype}.csv", cols, rows)
    return planted


def main():
    k.require_env()
    c = k.Checks("test_privacy")
    seed = int(os.environ.get("KOERS_TEST_SEED") or random.SystemRandom().randrange(1, 10**9))
    rng = random.Random(seed)
    run = k.new_run_names("privacy")
    print(f"# seed {seed}, topic prefix {run['prefix']}, database {run['db']}")
    tmp = Path(k.tempdir(c, "privacy"))
    keyfile, key = k.write_key_file(tmp)
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    if not c.program("koers-consume --migrate", k.migrate(run["db"]), 0):
        c.finish()
    t0 = time.monotonic()
    ids = identifiers(rng)
    needles = needles_of(ids)
    d = tmp / "export"
    d.mkdir()
    planted = make_input(d, ids)
    extra = tmp / "extra-column"
    extra.mkdir()
    cols = list(k.csv_columns("contact")) + ["notes"]
    rows = []
    for i, v in enumerate(v for vs in ids.values() for v in vs):
        r = valid_row("contact", 1000 + i)
        r["notes"] = f"gesprek met {v}"
        rows.append(r)
    write_csv(extra / "contact.csv", cols, rows)

    r = k.produce("import", "--key-file", keyfile, "--topic-prefix", run["prefix"], d, timeout=300)
    c.program("import of the files with identifiers in every column: some rows refused", r, 1)
    r2 = k.produce("import", "--key-file", keyfile, "--topic-prefix", run["prefix"], extra)
    c.program("a file with an extra free-text column is refused", r2, 1)
    c.ok("... naming the column", "column 'notes' is not in the contract" in r2.err, "notes", r2.err[-500:])
    r3 = k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up", timeout=300)
    c.program("consume", r3, 0)

    # What was stored, per column that held an identifier.
    stored = {row[0] for t in k.EVENT_TYPES for row in k.table_rows(run["db"], t)}
    by_col = {}
    for (etype, rid), col in planted.items():
        by_col.setdefault(col, [0, 0])
        by_col[col][0 if k.event_id(key, "privacy-test", etype, rid) in stored else 1] += 1
    for col, (kept, refused) in sorted(by_col.items()):
        if col in ("client_id", "record_id", "target_record_id"):
            c.ok(f"identifiers in {col}: the rows are stored ({kept}), the value only through the"
                 " key", refused == 0, "all stored", (kept, refused))
        else:
            c.ok(f"identifiers in {col}: every such row refused ({refused})", kept == 0,
                 "none stored", (kept, refused))

    c.ok(f"{len(needles)} identifiers to look for, of {len(ids)} kinds", len(needles) >= 20,
         ">= 20", len(needles))
    data_dir = os.environ["KOERS_KAFKA_DATA_DIR"]
    control = (run["prefix"] + "contact").encode()
    hits = k.files_containing(data_dir, needles + [control])
    c.ok("control: the scan finds the run's topic name in the broker's files", control in hits,
         "found", "not found")
    hits.pop(control, None)
    c.ok("no identifier in any file under the Kafka log directory", not hits, "none",
         {n.decode(): v[:3] for n, v in hits.items()})
    blob = k.messages_blob(run["prefix"])
    found = [n.decode() for n in needles if n in blob]
    c.ok("no identifier in any message key or payload (decompressed)", not found, "none", found)
    pseudonym = k.participant(key, ids["name"][0]).encode()
    c.ok("control: the messages carry the pseudonym of a name", pseudonym in blob,
         pseudonym.decode(), "not found")
    dump = k.pg_dump_bytes(run["db"])
    found = [n.decode() for n in needles if n in dump]
    c.ok("no identifier in a full pg_dump of the database", not found, "none", found)
    c.ok("control: the dump holds the pseudonym", pseudonym in dump, "found", "not found")
    pg_dir = os.environ.get("KOERS_PG_DATA_DIR")
    scanned_pg = False
    if pg_dir and os.access(pg_dir, os.R_OK | os.X_OK):
        k.psql("CHECKPOINT", run["db"])
        hits = k.files_containing(pg_dir, needles + [pseudonym])
        c.ok("control: the scan finds the pseudonym in PostgreSQL's data directory",
             pseudonym in hits, "found", "not found")
        hits.pop(pseudonym, None)
        c.ok("no identifier in any file of PostgreSQL's data directory (tables, indexes, WAL)",
             not hits, "none", {n.decode(): v[:3] for n, v in hits.items()})
        scanned_pg = True
    else:
        print(f"# PostgreSQL data directory {pg_dir} not readable here: scanned pg_dump only")
    rel.record("privacy", {"identifiers": {kind: len(v) for kind, v in ids.items()},
                           "needles": len(needles), "rows_with_identifiers": len(planted),
                           "by_column": {col: {"stored": a, "refused": b} for col, (a, b) in by_col.items()},
                           "scanned": ["Kafka log directory", "messages (decompressed)", "pg_dump"]
                           + (["PostgreSQL data directory"] if scanned_pg else []),
                           "seconds": round(time.monotonic() - t0), "passed": c.passed,
                           "failed": c.failed})
    c.finish()


if __name__ == "__main__":
    main()
