#!/usr/bin/env python3
"""koers-dash's lists held to one another: the roles, and who may fetch each endpoint and page.

The C side has one table each: the roles (dashboards/session.c, session_roles), the endpoints
with their roles (dashboards/api.c, api_endpoints) and the pages with theirs
(dashboards/assets.c, assets_list). The database checks the same things again, in
koers.dash_user's CHECK (sql/0003_access.sql) and in each dash function's dash_require
(sql/defs/). A role added on one side only, or an endpoint whose roles differ between the
server and the database, would show a page that the database then refuses, or refuse one it
would answer; this test reads both sides' tables and compares them:
1. the roles of session.c are those koers.dash_user.role allows;
2. every endpoint's roles in api.c are those its dash function requires (dash.whoami, for
   /api/me, is every logged-in user's);
3. a page's roles are those of the endpoint that fills it.
"""
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

ALL = {"evaluator", "funder", "partner", "admin"}
BITS = {"DASH_ROLE_EVALUATOR": {"evaluator"}, "DASH_ROLE_FUNDER": {"funder"},
        "DASH_ROLE_PARTNER": {"partner"}, "DASH_ROLE_ADMIN": {"admin"}, "DASH_ROLE_ANY": ALL}
# The endpoints whose dash function has another name than the endpoint.
FUNCTION_OF = {"me": "whoami", "audit": "audit_log"}
# The page an endpoint fills: /<name>, but the overview is the root and the users are /admin.
PAGE_OF = {"overview": "/", "users": "/admin"}


def roles_of(expr):
    out = set()
    for bit in expr.split("|"):
        out |= BITS[bit.strip()]
    return out


def dash_functions(root):
    """{dash.name: set of roles of its first dash_require, or None when it has none}."""
    out = {}
    for f in sorted((root / "sql" / "defs").glob("*.sql")):
        text = f.read_text()
        for m in re.finditer(r"CREATE OR REPLACE FUNCTION dash\.(\w+)\((.*?)\n\$\$;", text, re.S):
            req = re.search(r"dash_require\(ARRAY\[([^\]]*)\]", m.group(2))
            out[m.group(1)] = set(re.findall(r"'(\w+)'", req.group(1))) if req else None
    return out


def main():
    c = k.Checks("test_dash_lists")
    root = k.repo_dir()
    session = (root / "dashboards" / "session.c").read_text()
    c_roles = set(re.findall(r'\{"(\w+)", DASH_ROLE_\w+\}', session))
    m = re.search(r"role\s+text NOT NULL CHECK \(role IN \(([^)]*)\)\)",
                  (root / "sql" / "0003_access.sql").read_text())
    sql_roles = set(re.findall(r"'(\w+)'", m.group(1))) if m else set()
    c.equal("the server's roles are those koers.dash_user.role allows", sorted(sql_roles),
            sorted(c_roles))
    c.equal("the roles are the brief's", sorted(ALL), sorted(c_roles))

    api = (root / "dashboards" / "api.c").read_text()
    endpoints = {name: roles_of(bits) for name, bits in
                 re.findall(r'\{"(\w+)", API_\w+, ([A-Z_| ]+),', api)}
    c.ok("the endpoint table is read", len(endpoints) >= 10, ">= 10 endpoints", len(endpoints))
    functions = dash_functions(root)
    for name, roles in sorted(endpoints.items()):
        fn = FUNCTION_OF.get(name, name)
        if fn not in functions:
            c.ok(f"/api/{name}: its function dash.{fn} exists", False, f"dash.{fn}", "none")
            continue
        want = functions[fn] if functions[fn] is not None else ALL
        c.equal(f"/api/{name}: the roles the server lets through are those dash.{fn} requires",
                sorted(want), sorted(roles))

    assets = (root / "dashboards" / "assets.c").read_text()
    pages = {path: roles_of(bits) for path, bits in
             re.findall(r'\{"(/[a-z]*)", "app\.html", [^,]+, 0, ([A-Z_| ]+)\}', assets)}
    c.ok("the page table is read", len(pages) >= 5, ">= 5 pages", len(pages))
    for name, roles in sorted(endpoints.items()):
        page = PAGE_OF.get(name, "/" + name)
        if page in pages:
            c.equal(f"page {page}: the roles that see it are those of /api/{name}", sorted(roles),
                    sorted(pages[page]))
    filled = {PAGE_OF.get(n, "/" + n) for n in endpoints}
    c.equal("every page is filled by an endpoint", [], sorted(set(pages) - filled))
    c.finish()


if __name__ == "__main__":
    main()
