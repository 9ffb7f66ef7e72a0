#!/usr/bin/env python3
"""The event catalogue has one source, lib/catalog.c; the SQL tables are a copy of it, and
this test holds the copy to it. tests/tools/catalog-dump prints the catalogue the programs
use; a freshly migrated database must have, for every event type:

1. a table koers.<type> with the envelope (event_id uuid, participant text when the type has
   one, occurred_at and recorded_at timestamptz, source text) and then the type's fields, in
   the catalogue's order and no other column;
2. per field the column type of its kind (enum: an enum type whose labels are the symbols in
   order; int: integer; bool: boolean; string: text; uuid: uuid; date: date), NOT NULL exactly
   when the field is required;
3. the catalogue's rules as CHECKs: an int's range (min <= x <= max), a string's characters
   and longest length, a participant of 64 hex digits, the source's characters and length, at
   least one of the need_any fields, and the ordered fields not decreasing.
"""
import json
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

SQL_TYPE = {"int": "integer", "bool": "boolean", "string": "text", "uuid": "uuid", "date": "date"}
ENVELOPE = [("event_id", "uuid"), ("participant", "text"),
            ("occurred_at", "timestamp with time zone"),
            ("recorded_at", "timestamp with time zone"), ("source", "text")]


def norm(check):
    """A CHECK as pg_get_constraintdef prints it, without parentheses, casts and quotes around
    numbers, so that `((gas >= '-2'::integer) AND (gas <= 2))` reads `gas >= -2 AND gas <= 2`."""
    s = re.sub(r"'(-?\d+)'::integer", r"\1", check)
    s = re.sub(r"::text", "", s)
    s = s.replace("(", " ").replace(")", " ")
    s = re.sub(r"^\s*CHECK\s*", "", s)
    return re.sub(r"\s+", " ", s).strip()


def expected_checks(t):
    """The CHECKs the catalogue asks of table t, normalised like norm()."""
    out = ['source ~ \'^[a-z0-9_-]+$\' AND length source <= 32']
    if t["has_participant"]:
        out.append("participant ~ '^[0-9a-f]+$' AND length participant = 64")
    for f in t["fields"]:
        n = f["name"]
        if f["kind"] == "int":
            out.append(f"{n} >= {f['min']} AND {n} <= {f['max']}")
        elif f["kind"] == "string":
            chars = "A-Za-z0-9_-" if f["upper"] else "a-z0-9_-"
            out.append(f"{n} ~ '^[{chars}]+$' AND length {n} <= {f['max']}")
    if t["need_any"]:
        names = t["need_any"]
        out.append(("num_nonnulls " + ", ".join(names) + " > 0") if len(names) > 2 else
                   " OR ".join(f"{n} IS NOT NULL" for n in names))
    if t["ordered"]:
        a, b = t["ordered"]
        out.append(f"{b} IS NULL OR {b} >= {a}")
    return sorted(out)


def main():
    k.require_env()
    c = k.Checks("test_catalog_sql")
    r = k.run([str(k.bin_dir() / "tests" / "catalog-dump")], timeout=30)
    c.program("catalog-dump", r)
    catalogue = json.loads(r.out)
    c.equal("the catalogue's types are the brief's", list(k.EVENT_TYPES),
            [t["name"] for t in catalogue])
    db = k.unique("koers_test_catalog")
    k.create_db(db)
    c.cleanup(k.drop_db, db)
    c.program("migrate a new database", k.migrate(db))
    for t in catalogue:
        name = t["name"]
        cols = k.psql("SELECT column_name, data_type, udt_name, is_nullable"
                      " FROM information_schema.columns WHERE table_schema = 'koers'"
                      f" AND table_name = '{name}' ORDER BY ordinal_position", db)
        want = [(n, ty) for n, ty in ENVELOPE if n != "participant" or t["has_participant"]]
        want += [(f["name"], "USER-DEFINED" if f["kind"] == "enum" else SQL_TYPE[f["kind"]])
                 for f in t["fields"]]
        c.equal(f"koers.{name}: columns and types in the catalogue's order", want,
                [(col, ty) for col, ty, _, _ in cols])
        nullable = {col: nul == "YES" for col, _, _, nul in cols}
        c.equal(f"koers.{name}: NULL allowed exactly in the optional fields",
                {f["name"]: bool(f["optional"]) for f in t["fields"]},
                {f["name"]: nullable.get(f["name"]) for f in t["fields"]})
        udt = {col: u for col, _, u, _ in cols}
        for f in t["fields"]:
            if f["kind"] != "enum":
                continue
            labels = k.psql("SELECT e.enumlabel FROM pg_enum e JOIN pg_type y ON y.oid = e.enumtypid"
                            " WHERE y.typnamespace = 'koers'::regnamespace"
                            f" AND y.typname = '{udt.get(f['name'], '')}' ORDER BY e.enumsortorder", db)
            c.equal(f"koers.{name}.{f['name']}: the enum's labels are the symbols, in order",
                    f["symbols"], [x[0] for x in labels])
        checks = k.psql("SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k"
                        " JOIN pg_class r ON r.oid = k.conrelid"
                        f" WHERE k.contype = 'c' AND r.relnamespace = 'koers'::regnamespace"
                        f" AND r.relname = '{name}'", db)
        c.equal(f"koers.{name}: the CHECKs are the catalogue's rules", expected_checks(t),
                sorted(norm(x[0]) for x in checks))
    c.finish()


if __name__ == "__main__":
    main()
