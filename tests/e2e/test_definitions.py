#!/usr/bin/env python3
"""The definition files sql/defs/*.sql: each rule once, applied by koers-consume --migrate when
their content changes (consumers/migrate.c).

1. Each rule has one home: every function and view of schemas koers and dash is created by
   exactly one statement in sql/defs/, and no numbered migration creates one (but the
   trigger function a table needs); none is longer than 150 lines.
2. A fresh database records every file with its SHA-256 (computed here with hashlib), and has
   exactly the functions and views the files name (read from the files here, not from the
   code under test).
3. Unchanged files: a second --migrate changes nothing (no function is made anew).
4. A changed file that does not carry the rebuild mark: every definition is made anew (a
   function or view that no file names is gone), the rights are given again, the dashboards'
   cache is emptied, and the prepared tables are left as they are.
5. A changed file marked `-- koers-defs: rebuild`: the prepared tables are rebuilt (a row put
   into them by hand is gone, and they equal a rebuild).
6. A view of someone else's built on ours stops the upgrade: exit 1, the server's message names
   it, and nothing changed (the old definitions are still there).
"""
import hashlib
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402

CREATE = re.compile(r"^CREATE (?:OR REPLACE )?(FUNCTION|VIEW) ((?:koers|dash)\.\w+)", re.M)
# A table's part: made by sql/0003_access.sql and sql/0015_mkba.sql.
TRIGGER_FUNCTIONS = {"koers.dash_audit_refuse", "koers.unit_cost_payer_check"}
MAX_LINES = 150


def statement_lengths(text):
    """Lines of each CREATE FUNCTION/VIEW statement: up to the line that ends it (a function's
    closing dollar quote, or a view's first line ending in ';')."""
    lines = text.splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = CREATE.match(line)
        if not m:
            continue
        quote = None
        for j in range(i, len(lines)):
            if quote is None:
                q = re.search(r"AS (\$\w*\$)", lines[j])
                if q and lines[j].count(q.group(1)) == 1:
                    quote = q.group(1)
                    continue
                if lines[j].rstrip().endswith(";"):
                    break
            elif quote in lines[j]:
                break
        out[m.group(2)] = j - i + 1
    return out


def objects(db):
    rows = k.psql("SELECT p.pronamespace::regnamespace || '.' || p.proname || '('"
                  " || pg_get_function_identity_arguments(p.oid) || ')', p.oid FROM pg_proc p"
                  " WHERE p.pronamespace IN ('koers'::regnamespace, 'dash'::regnamespace)"
                  " UNION ALL SELECT c.relnamespace::regnamespace || '.' || c.relname, c.oid"
                  " FROM pg_class c"
                  " WHERE c.relnamespace IN ('koers'::regnamespace, 'dash'::regnamespace)"
                  " AND c.relkind = 'v'", db)
    return {name: oid for name, oid in rows}


def names(objs):
    return {re.sub(r"\(.*", "", n) for n in objs}


def grants(db):
    return k.psql("SELECT has_function_privilege('koers_funder',"
                  " 'dash.overview(text,text,date,date)', 'EXECUTE'),"
                  " has_function_privilege('koers_funder', 'dash.paired(text,text,date,text,text)',"
                  " 'EXECUTE'),"
                  " has_table_privilege('koers_analyst', 'koers.participant_month', 'SELECT'),"
                  " has_function_privilege('koers_consumer', 'koers.apply_staged()', 'EXECUTE'),"
                  " has_function_privilege('koers_consumer', 'koers.refresh_all()', 'EXECUTE')", db)


def main():
    k.require_env()
    c = k.Checks("test_definitions")
    sql = k.repo_dir() / "sql"
    files = sorted((sql / "defs").glob("*.sql"))

    # 1. One home per rule.
    made = {}
    for f in files:
        for kind, name in CREATE.findall(f.read_text()):
            made.setdefault(name, []).append(f.name)
    c.equal("no function or view is created twice in sql/defs/", {},
            {n: fs for n, fs in made.items() if len(fs) > 1})
    in_migrations = set()
    for f in sorted(sql.glob("0*.sql")):
        in_migrations |= {n for _, n in CREATE.findall(f.read_text())}
    c.equal("the numbered migrations create no function or view but a trigger's",
            TRIGGER_FUNCTIONS, in_migrations)
    long = {n: ln for f in files for n, ln in statement_lengths(f.read_text()).items()
            if ln > MAX_LINES}
    c.equal(f"no definition is longer than {MAX_LINES} lines", {}, long)
    c.ok("the lengths are measured (a known short one is found)",
         0 < statement_lengths((sql / "defs" / "10_base.sql").read_text()).get("koers.today", 0) < 10)

    db = k.unique("koers_test_defs")
    k.create_db(db)
    c.cleanup(k.drop_db, db)
    c.program("koers-consume --migrate (fresh)", k.migrate(db), 0)

    # 2. Recorded with their digests; exactly the named objects exist.
    want = sorted([f.stem, hashlib.sha256(f.read_bytes()).hexdigest()] for f in files)
    c.equal("every definition file is recorded with its SHA-256", want,
            k.psql("SELECT name, sha256 FROM koers.schema_definition ORDER BY name", db))
    objs = objects(db)
    c.equal("the database has exactly the functions and views the files name (and the trigger's)",
            sorted(set(made) | TRIGGER_FUNCTIONS), sorted(names(objs)))
    c.equal("rights as given by 90_grants.sql", [["t", "f", "t", "t", "f"]], grants(db))

    # 3. Unchanged: nothing made anew.
    r = k.migrate(db)
    c.program("koers-consume --migrate (unchanged)", r, 0)
    c.equal("unchanged files: no definition is made anew", objs, objects(db))

    # Some data, prepared; a stale object of an older version; a cached answer; a row in a
    # prepared table that no event explains.
    k.psql("""
        INSERT INTO koers.enrolment VALUES (md5('e1')::uuid, repeat('b', 64),
            '2025-03-01T09:00+01', '2025-03-02T09:00+01', 'ggz', 'enrolled', 'up');
        INSERT INTO koers.contact VALUES (md5('k1')::uuid, repeat('b', 64), '2025-03-10T10:00+01',
            '2025-03-11T10:00+01', 'ggz', 'care_worker', 'home_visit', 'participant', 60, true);
        SELECT koers.refresh_all();
        CREATE FUNCTION koers.stale_rule() RETURNS integer LANGUAGE sql AS 'SELECT 1';
        CREATE VIEW koers.stale_view AS SELECT 1 AS one;
        REVOKE EXECUTE ON FUNCTION dash.overview(text,text,date,date) FROM koers_funder;
        INSERT INTO koers.dash_cache (cache_key, data_version, computed_at, compute_ms,
            last_hit_at, cells) VALUES ('old-answer', koers.data_version(), now(), 1, now(), '{}');
        UPDATE koers.daily_use SET events = events + 7;
    """, db)

    # 4. A changed file without the rebuild mark.
    k.psql("UPDATE koers.schema_definition SET sha256 = 'changed' WHERE name = '50_quality'", db)
    c.program("koers-consume --migrate (50_quality changed)", k.migrate(db), 0)
    after = objects(db)
    c.equal("an object no file names is gone", set(),
            {"koers.stale_rule", "koers.stale_view"} & names(after))
    kept = {n for n, oid in after.items() if objs.get(n) == oid}
    c.equal("every definition was made anew (the trigger's replaced in place)",
            TRIGGER_FUNCTIONS, names(kept))
    c.equal("the rights are given again", [["t", "f", "t", "t", "f"]], grants(db))
    c.equal("the dashboards' cache is emptied", [["0"]],
            k.psql("SELECT count(*) FROM koers.dash_cache", db))
    c.equal("without the rebuild mark the prepared tables are left as they are", [["8"]],
            k.psql("SELECT sum(events) FROM koers.daily_use", db))

    # 5. A changed file with the rebuild mark.
    c.ok("20_prepared.sql carries the rebuild mark",
         "\n-- koers-defs: rebuild\n" in (sql / "defs" / "20_prepared.sql").read_text())
    k.psql("UPDATE koers.schema_definition SET sha256 = 'changed' WHERE name = '20_prepared'", db)
    c.program("koers-consume --migrate (20_prepared changed)", k.migrate(db), 0)
    c.equal("with the rebuild mark the prepared tables are rebuilt from the events", [["1"]],
            k.psql("SELECT sum(events) FROM koers.daily_use", db))
    c.equal("... and equal a rebuild", {t: 0 for t in rel.PREPARED}, rel.prepared_mismatches(db))

    # 6. Someone else's view on ours.
    k.psql("CREATE SCHEMA analyst; CREATE VIEW analyst.my_months AS"
           " SELECT * FROM koers.participant_month;"
           " UPDATE koers.schema_definition SET sha256 = 'changed' WHERE name = '30_measures'", db)
    before = objects(db)
    r = k.migrate(db)
    c.program("koers-consume --migrate with a dependent view of another schema", r, 1)
    c.ok("the error names the dependent view", "analyst.my_months" in r.err, "analyst.my_months",
         r.err[-400:])
    c.equal("nothing changed", before, objects(db))
    c.equal("the changed file is still recorded as changed", [["changed"]],
            k.psql("SELECT sha256 FROM koers.schema_definition WHERE name = '30_measures'", db))
    c.finish()


if __name__ == "__main__":
    main()
