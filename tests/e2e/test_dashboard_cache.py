#!/usr/bin/env python3
"""The dashboard cache (sql/defs/70_dash_cells.sql): a cached answer is the answer the uncached
computation gives, for every role and filter setting, before and after new events arrive
through the pipeline and after a setting changes; a stale answer is served only within the
allowed staleness and koers-dash's background refresh replaces it; the cache keeps no user
and is closed to the dashboards' roles; a read-only transaction still gets its answer.

The oracle is the same function with the cache switched off (koers.setting dash_cache = off),
whose figures the other dashboard tests check against the data.

Environment: as the other e2e tests. Last line "N passed, M failed"; exit 1 on any failure.
"""
import re
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
PAGES = ("overview", "crisis", "support", "cost", "quality")
FILTERS = ("NULL, NULL", "'noord', NULL", "'klein', NULL", f"NULL, '{dashfixture.PARTNER_ORG}'")


def as_role(db, role, sql):
    """(ok, text) of sql run by login role `role`: the rows, or the error."""
    r = e2e.run(["psql", "-X", "-At", "-F", "|", "-P", "null=NULL", "-v", "ON_ERROR_STOP=1",
                 "-U", role, "-d", db, "-c", sql], timeout=600)
    if r.rc != 0:
        return False, re.sub(r"^psql:.*?ERROR:\s*", "", r.err.strip())
    return True, r.out


def queries():
    """(role group, statement) of every answer the cache keeps."""
    out = []
    for group in ("evaluator", "funder", "partner"):
        for page in PAGES:
            for f in FILTERS:
                out.append((group, f"SELECT * FROM dash.{page}({f}, NULL, NULL)"))
        out.append((group, "SELECT * FROM dash.overview(NULL, NULL, '2025-01-01', '2025-06-01')"))
    out += [("evaluator", "SELECT * FROM dash.timeline(NULL, NULL, NULL, NULL, 0, 20, 'page')"),
            ("evaluator", "SELECT * FROM dash.timeline('zuid', NULL, NULL, NULL, 10, 5, 'page')"),
            ("evaluator", "SELECT dash.timeline_lanes(NULL, NULL, NULL)"),
            ("evaluator", "SELECT * FROM dash.participants(NULL, NULL, NULL, 'page')"),
            ("evaluator", f"SELECT * FROM dash.participants('noord', '{dashfixture.PARTNER_ORG}', NULL, 'page')"),
            # The evidence of a window (groups evidence.<window> of the same cache).
            ("evaluator", "SELECT * FROM dash.evidence(NULL, NULL, NULL, NULL, 'per_protocol')"),
            ("funder", "SELECT * FROM dash.evidence(NULL, NULL, NULL, NULL, 'intention_to_treat')"),
            ("funder", "SELECT * FROM dash.evidence('noord', NULL, NULL, NULL, 'follow_up')")]
    return out


def main():
    c = e2e.Checks("test_dashboard_cache")
    fx = c.run(dashfixture.Fixture, c, "dashcache", ("--cache-refresh", "1"))
    if fx:
        c.run(checks, c, fx)
    c.finish()


def answers(fx, roles):
    return {(g, q): as_role(fx.db, roles[g], q) for g, q in queries()}


def differences(got, want):
    """The statements whose answers differ, with the first differing line of each."""
    out = []
    for k in want:
        if got.get(k) != want[k]:
            a = str(got.get(k)).split("\\n")
            b = str(want[k]).split("\\n")
            line = next((f"{x} != {y}" for x, y in zip(a, b) if x != y), f"{len(a)} != {len(b)} lines")
            out.append((k, line[:300]))
    return out


def compare(c, what, got, want):
    bad = differences(got, want)
    c.ok(f"{what}: all {len(want)} answers equal the uncached computation", not bad, "equal", bad[:3])


def uncached(fx, roles):
    fx.sql("INSERT INTO koers.setting VALUES ('dash_cache', 'off') ON CONFLICT (name) DO UPDATE SET value = 'off'")
    try:
        return answers(fx, roles)
    finally:
        fx.sql("DELETE FROM koers.setting WHERE name = 'dash_cache'")


def add_cohort(c, fx, cohort, n, seed):
    key, _ = e2e.write_key_file(e2e.tempdir(c, "cache-key"))
    c.program(f"koers-produce synth cohort {cohort}", e2e.produce(
        "synth", "--key-file", key, "--participants", str(n), "--seed", str(seed), "--cohort", cohort,
        "--start", "2024-02-01", "--months", "24", "--topic-prefix", fx.prefix, "-b", e2e.brokers()))
    c.program("koers-consume --until-caught-up", e2e.consume(
        fx.db, fx.prefix, fx.group, "-b", e2e.brokers(), "--until-caught-up"))


def enrolled_all(text):
    for line in text.split("\n"):
        f = line.split("|")
        if f[:3] == ["overview.enrolment", "new", "all"]:
            return float(f[3])
    return None


def wait_refreshed(fx, idle=120, most=1500):
    """Waits until the background refresh has renewed (and committed) every stale answer: as
    long as it makes progress (fewer stale answers than idle seconds ago), at most `most`
    seconds. Each answer is a full computation, so on a loaded machine the refresh takes
    minutes; what is checked is that it gets there, not how fast."""
    start = last_change = time.monotonic()
    last = None
    while time.monotonic() - last_change < idle and time.monotonic() - start < most:
        n = int(fx.sql("SELECT count(*) FROM koers.dash_cache WHERE data_version <> koers.data_version()"
                       " AND last_hit_at > now() - interval '1 day'")[0][0])
        if n == 0:
            return True
        if last is None or n < last:
            last, last_change = n, time.monotonic()
        time.sleep(1)
    return False


def checks(c, fx):
    db = fx.db
    tag = secrets.token_hex(3)
    roles = {}
    for group, member in (("evaluator", "koers_evaluator"), ("funder", "koers_funder"),
                          ("partner", "koers_partner_" + dashfixture.PARTNER_ORG)):
        name = f"t{tag}_{group}"
        fx.sql(f'CREATE ROLE "{name}" LOGIN IN ROLE {member}')
        c.cleanup(e2e.psql, f'DROP ROLE IF EXISTS "{name}"', db)
        roles[group] = name
    fx.sql("INSERT INTO koers.setting VALUES ('dash_cache_max_stale', '0')")
    n_queries = len(queries())

    # ---- first requests compute and store; repeated ones are read, not recomputed
    first = answers(fx, roles)
    refused = sorted({v[1] for v in first.values() if not v[0]})
    c.ok("some filter settings are refused to funders and partners (the cache must not change that)",
         bool(refused) and all("fewer than" in r for r in refused), "KS001 refusals", refused)
    stored = fx.sql("SELECT cache_key, computed_at FROM koers.dash_cache ORDER BY 1")
    c.ok("answers are stored in koers.dash_cache", len(stored) >= 20, ">= 20 entries", len(stored))
    second = answers(fx, roles)
    bad = differences(second, first)
    c.ok("a repeated request gives the same answers", not bad, "equal", bad[:3])
    c.equal("a repeated request recomputes nothing (computed_at unchanged)", stored,
            fx.sql("SELECT cache_key, computed_at FROM koers.dash_cache ORDER BY 1"))
    compare(c, "before new events", second, uncached(fx, roles))

    # ---- the cache keeps what decides an answer, never who asked; the roles cannot read it
    users = [name for name, _ in fx.users.values()] + list(roles.values())
    meta = "\n".join(r[0] for r in fx.sql("SELECT cache_key || ' ' || coalesce(refresh, '') FROM koers.dash_cache"))
    c.ok("no user name in the cache's keys or refresh statements",
         not any(u in meta for u in users), "none", [u for u in users if u in meta])
    suppressed_cells = "\n".join(r[0] for r in fx.sql(
        "SELECT cells::text FROM koers.dash_cache WHERE cache_key LIKE 'cells|%|t|%'"))
    c.ok("cached answers of suppressed callers hold no pseudonym", suppressed_cells and not HEX64.search(suppressed_cells),
         "none", HEX64.findall(suppressed_cells)[:2] or fx.sql("SELECT cache_key FROM koers.dash_cache"))
    for group, name in roles.items():
        for table in ("koers.dash_cache", "koers.dash_cache_lane"):
            ok, out = as_role(db, name, f"SELECT count(*) FROM {table}")
            c.ok(f"{group} cannot read {table}", not ok and "permission denied" in out, "refused", out)
        ok, out = as_role(db, name, "SELECT * FROM dash.cache_refresh()")
        c.ok(f"{group} cannot call dash.cache_refresh", not ok and "permission denied" in out, "refused", out)

    # ---- new events through the pipeline: no stale answer is served (max stale 0)
    before = enrolled_all(second[("evaluator", "SELECT * FROM dash.overview(NULL, NULL, NULL, NULL)")][1])
    add_cohort(c, fx, "west", 10, 21)
    after = answers(fx, roles)
    now = enrolled_all(after[("evaluator", "SELECT * FROM dash.overview(NULL, NULL, NULL, NULL)")][1])
    c.equal("after 10 more participants, the overview counts them", (before or 0) + 10, now)
    compare(c, "after new events", after, uncached(fx, roles))

    # ---- a setting changes the answers: k of the suppression
    fx.sql("INSERT INTO koers.setting VALUES ('min_cell', '11') ON CONFLICT (name) DO UPDATE SET value = '11'")
    k11 = answers(fx, roles)
    funder_q = ("funder", "SELECT * FROM dash.crisis(NULL, NULL, NULL, NULL)")
    c.ok("with k = 11 the funder sees other suppression than with k = 5", k11[funder_q] != after[funder_q],
         "different", k11[funder_q][1][:200])
    compare(c, "after min_cell changed", k11, uncached(fx, roles))
    fx.sql("DELETE FROM koers.setting WHERE name = 'min_cell'")

    # ---- allowed staleness, and the background refresh that ends it
    fx.sql("UPDATE koers.setting SET value = '3600' WHERE name = 'dash_cache_max_stale'")
    ev = ("evaluator", "SELECT * FROM dash.overview(NULL, NULL, NULL, NULL)")
    held = as_role(db, roles["evaluator"], ev[1])
    # Out of the background refresh's reach (it renews what was asked for in the last day)
    # until the stale answer has been read once.
    fx.sql("UPDATE koers.dash_cache SET last_hit_at = now() - interval '2 days'"
           " WHERE cache_key = 'cells|overview|f|-|-|-|' || koers.today()")
    add_cohort(c, fx, "oost", 6, 22)
    stale = as_role(db, roles["evaluator"], ev[1])
    c.ok("within the allowed staleness the stored answer is served", held == stale, "the held answer",
         differences({0: stale}, {0: held}))
    fresh = wait_refreshed(fx)
    c.ok("koers-dash recomputes every stale answer in the background", fresh, "none stale",
         fx.sql("SELECT string_agg(cache_key, ', ') FROM koers.dash_cache WHERE data_version <> koers.data_version()"))
    c.ok("koers-dash logs the refresh", "recomputed" in fx.log(), "a log line", fx.log()[-400:])
    refreshed = answers(fx, roles)
    c.equal("after the refresh: 6 more participants in the overview", (now or 0) + 6,
            enrolled_all(refreshed[ev][1]))
    compare(c, "after the background refresh", refreshed, uncached(fx, roles))
    # A changed k is never served stale, whatever the allowed staleness.
    funder_q = ("funder", "SELECT * FROM dash.crisis(NULL, NULL, NULL, NULL)")
    as_role(db, roles["funder"], funder_q[1])
    fx.sql("INSERT INTO koers.setting VALUES ('min_cell', '11') ON CONFLICT (name) DO UPDATE SET value = '11'")
    got = {funder_q: as_role(db, roles["funder"], funder_q[1])}
    fx.sql("INSERT INTO koers.setting VALUES ('dash_cache', 'off')")
    want = {funder_q: as_role(db, roles["funder"], funder_q[1])}
    fx.sql("DELETE FROM koers.setting WHERE name IN ('dash_cache', 'min_cell')")
    c.ok("a changed k is never served stale", not differences(got, want), "the answer with k = 11",
         differences(got, want))
    c.ok("every query was answered in each state", all(len(a) == n_queries for a in (first, after, k11, refreshed)),
         n_queries, [len(a) for a in (first, after, k11, refreshed)])

    # ---- a read-only transaction (e.g. a Grafana data source) computes without storing
    # (once the refresh is idle: an answer it is renewing while the cache is cleared is
    # stored when it commits, after the clear)
    wait_refreshed(fx)
    fx.sql("SELECT koers.dash_cache_clear()")
    ok, out = as_role(db, roles["evaluator"], "BEGIN READ ONLY; SELECT count(*) FROM dash.support('zuid', NULL, NULL, NULL);"
                      " SELECT count(*) FROM dash.quality(NULL, NULL, NULL, NULL); COMMIT;")
    c.ok("a read-only transaction gets its answers", ok and out.split("\n")[0] not in ("", "0"), "rows", out)
    c.equal("... and stores nothing", "0", fx.sql("SELECT count(*) FROM koers.dash_cache")[0][0])


if __name__ == "__main__":
    main()
