#!/usr/bin/env python3
"""The Grafana provisioning (dashboards/grafana/) against the real schema: every panel's SQL,
and every variable's query, runs without error as a Grafana-like login role (member of
koers_funder, as dashboards/grafana/README.md says), on a database filled through the pipeline,
and returns rows; the provisioning files are well formed and point at the data source the
panels use. Variables are substituted as Grafana would (${name:sqlstring} -> a quoted value),
with "all" and with each cohort, including one too small to show (that one must be refused by
the database, not answered).

Environment: as the other e2e tests. Last line "N passed, M failed"; exit 1 on any failure.
"""
import json
import re
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402

GRAFANA = e2e.repo_dir() / "dashboards" / "grafana"


def substitute(sql, values):
    def repl(m):
        name, fmt = m.group(1), m.group(2)
        v = values[name]
        if fmt == "sqlstring":
            return "'" + v.replace("'", "''") + "'"
        return v
    return re.sub(r"\$\{(\w+)(?::(\w+))?\}", repl, sql)


def as_role(db, role, sql):
    r = e2e.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-U", role, "-d", db, "-c", sql], timeout=120)
    return r.rc == 0, (r.out if r.rc == 0 else r.err.strip())


def main():
    c = e2e.Checks("test_dashboard_grafana")
    c.run(files, c)
    fx = c.run(dashfixture.Fixture, c, "dashgraf")
    if fx:
        c.run(panels, c, fx)
    c.finish()


def files(c):
    ds = json.loads((GRAFANA / "provisioning" / "datasources" / "koers.yaml").read_text())
    d0 = ds["datasources"][0]
    c.ok("data source provisioning: one PostgreSQL data source koers-pg",
         ds["apiVersion"] == 1 and d0["type"] == "grafana-postgresql-datasource" and d0["uid"] == "koers-pg", "postgres koers-pg", d0)
    c.ok("data source: the password only in secureJsonData, from the environment",
         d0["secureJsonData"]["password"].startswith("${") and "password" not in d0.get("jsonData", {}), "secure", d0)
    prov = json.loads((GRAFANA / "provisioning" / "dashboards" / "koers.yaml").read_text())
    c.equal("dashboard provider: a file provider", "file", prov["providers"][0]["type"])
    boards = sorted((GRAFANA / "dashboards").glob("*.json"))
    c.ok("three dashboards", len(boards) == 3, 3, [b.name for b in boards])
    for b in boards:
        d = json.loads(b.read_text())
        uids = {p["datasource"]["uid"] for p in d["panels"]} | {t["datasource"]["uid"] for p in d["panels"] for t in p["targets"]}
        c.equal(f"{b.name}: every panel uses the data source koers-pg", {"koers-pg"}, uids)
        ids = [p["id"] for p in d["panels"]]
        c.equal(f"{b.name}: panel ids unique", len(ids), len(set(ids)))


def panels(c, fx):
    db = fx.db
    role = f"t{secrets.token_hex(3)}_grafana"
    e2e.psql(f'CREATE ROLE "{role}" LOGIN IN ROLE koers_funder', db)
    c.cleanup(e2e.psql, f'DROP ROLE IF EXISTS "{role}"', db)
    for b in sorted((GRAFANA / "dashboards").glob("*.json")):
        d = json.loads(b.read_text())
        for v in d["templating"]["list"]:
            ok, out = as_role(db, role, v["query"])
            values = out.split()
            c.ok(f"{b.name}: variable {v['name']} query", ok and "all" in values and len(values) > 1, "all and values", out[:200])
        for p in d["panels"]:
            for t in p["targets"]:
                for cohort in ("all", "noord", "zuid"):
                    sql = substitute(t["rawSql"], {"cohort": cohort, "organisation": "all"})
                    ok, out = as_role(db, role, sql)
                    c.ok(f"{b.name}: panel '{p['title']}' (cohort {cohort})", ok and out.strip() != "", "rows", out[:300])
                sql = substitute(t["rawSql"], {"cohort": "klein", "organisation": "all"})
                ok, out = as_role(db, role, sql)
                if "dash.unit_costs()" in sql:
                    c.ok(f"{b.name}: panel '{p['title']}' does not depend on the cohort", ok, "rows", out[:200])
                else:
                    c.ok(f"{b.name}: panel '{p['title']}' refuses cohort klein (3 participants)",
                         not ok and "fewer than 5" in out, "refused", out[:200])
                sql = substitute(t["rawSql"], {"cohort": "x'); DROP TABLE koers.contact; --", "organisation": "all"})
                ok, out = as_role(db, role, sql)
                c.ok(f"{b.name}: panel '{p['title']}': a quote in a variable stays a value",
                     ("not a cohort name" in out or ok) and e2e.psql("SELECT to_regclass('koers.contact') IS NOT NULL", db) == [["t"]],
                     "refused as a value", out[:200])


if __name__ == "__main__":
    main()
