#!/usr/bin/env python3
"""End to end: a database that holds v1 data (migrated up to sql/0010, measures kept by the
v1 rules) migrates to Measures v2 without losing or rewriting a stored event.

The v1 schema is built from the migration files as v1 shipped them (functions and views
included; they have since moved to sql/defs/), kept in tests/data/upgrade/v1-migrations.tar.xz
(`git archive 6ba7d65 sql/0001_core.sql ... sql/0010_crisis_episode.sql | xz`), applied and
recorded the way koers-consume --migrate records them; v1 events are stored and the v1
prepared rows built by v1's koers.refresh_all(); a dashboard answer is cached. Then `koers-consume --migrate` applies
the rest, and:
- every stored event is there, byte for byte the same (a digest of every event table);
- the prepared rows are the v2 rules' (a 300-day stay reported at discharge now counts its
  days in the months it covered), equal to a rebuild;
- the dashboards' cache no longer holds answers computed by the v1 definitions.
"""
import sys
import tarfile
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402

V1_LAST = "0010_crisis_episode"
TABLES = ("enrolment", "contact", "crisis", "goal_change", "police_call", "correction")
P = "a" * 64  # a pseudonym's shape


def digest(db):
    return k.psql("SELECT " + ", ".join(
        f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM koers.{t} t)"
        for t in TABLES), db)[0]


def main():
    k.require_env()
    c = k.Checks("test_upgrade_v2")
    db = k.unique("koers_test_upgrade")
    k.create_db(db)
    c.cleanup(k.drop_db, db)
    with tarfile.open(k.test_data() / "upgrade" / "v1-migrations.tar.xz") as tar:
        v1 = {Path(m.name).stem: tar.extractfile(m).read() for m in tar.getmembers()
              if m.isfile() and Path(m.name).stem <= V1_LAST}
    c.equal("v1 shipped nine migrations up to " + V1_LAST, 9, len(v1))
    k.psql("CREATE SCHEMA koers; CREATE TABLE koers.schema_migration ("
           " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", db)
    for name, text in sorted(v1.items()):
        r = k.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-1", "-f", "-"],
                  stdin_bytes=text)
        c.program(f"v1 schema: {name}", r, 0)
        k.psql(f"INSERT INTO koers.schema_migration (name) VALUES ('{name}')", db)

    # v1 data: enrolled 1 Mar 2025; a 300-day admission reported at discharge on 3 Mar 2025
    # (v1 books all 300 days on 3 Mar), a contact, a police call.
    k.psql(f"""
        INSERT INTO koers.enrolment VALUES (md5('e1')::uuid, '{P}', '2025-03-01T09:00+01',
            '2025-03-02T09:00+01', 'ggz', 'enrolled', 'up');
        INSERT INTO koers.crisis (event_id, participant, occurred_at, recorded_at, source, kind, days)
            VALUES (md5('c1')::uuid, '{P}', '2025-03-03T12:00+01', '2025-03-04T12:00+01',
                    'crisis_svc', 'crisis_admission', 300);
        INSERT INTO koers.contact VALUES (md5('k1')::uuid, '{P}', '2025-03-10T10:00+01',
            '2025-03-11T10:00+01', 'ggz', 'care_worker', 'home_visit', 'participant', 60, true);
        INSERT INTO koers.police_call VALUES (md5('p1')::uuid, '{P}', '2025-04-01T12:00+02',
            '2025-04-02T12:00+02', 'police', 'victim', 'participant', 'advice');
        SELECT koers.refresh_all();
        INSERT INTO koers.dash_cache (cache_key, data_version, computed_at, compute_ms, last_hit_at, cells)
            VALUES ('v1-answer', koers.data_version(), now(), 1, now(), '{{}}');
    """, db)
    v1_days = k.psql(f"SELECT month::text, crisis_days FROM koers.participant_month_count"
                     f" WHERE participant = '{P}' AND crisis_days > 0", db)
    c.equal("v1 books the 300 stay days on the discharge month", [["2025-03-01", "300"]], v1_days)
    before = digest(db)

    c.program("koers-consume --migrate (v1 -> v2)", k.migrate(db), 0)
    c.equal("every stored event is kept as it was", before, digest(db))
    v2_days = k.psql(f"SELECT month::text, crisis_days FROM koers.participant_month_count"
                     f" WHERE participant = '{P}' AND crisis_days > 0 ORDER BY 1", db)
    # 7 May 2024 .. 2 Mar 2025: May 25, Jun 30, Jul 31, Aug 31, Sep 30, Oct 31, Nov 30, Dec 31,
    # Jan 31, Feb 28, Mar 2.
    c.equal("v2 counts the stay days in the months they covered", [
        ["2024-05-01", "25"], ["2024-06-01", "30"], ["2024-07-01", "31"], ["2024-08-01", "31"],
        ["2024-09-01", "30"], ["2024-10-01", "31"], ["2024-11-01", "30"], ["2024-12-01", "31"],
        ["2025-01-01", "31"], ["2025-02-01", "28"], ["2025-03-01", "2"]], v2_days)
    mism = rel.prepared_mismatches(db)
    c.equal("after the migration the prepared tables equal a rebuild", {t: 0 for t in rel.PREPARED},
            mism)
    c.equal("the victim call lost its price", [["0"]], k.psql(
        "SELECT count(*) FROM koers.unit_cost_map WHERE kind = 'victim'", db))
    c.equal("no dashboard answer of the v1 definitions is left in the cache", [["0"]],
            k.psql("SELECT count(*) FROM koers.dash_cache", db))
    c.finish()


if __name__ == "__main__":
    main()
