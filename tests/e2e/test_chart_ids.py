#!/usr/bin/env python3
"""Chart ids have one meaning across the layers: the SQL that makes the dashboards' cells
(sql/defs/*.sql), the pages that draw them (dashboards/static/*.js) and the Grafana
dashboards (dashboards/grafana/dashboards/*.json).

An id is '<page>.<name>'. Some SQL ids are made by concatenation ('instruments.zrm_' || at):
such a prefix stands for every id that starts with it.
1. Every id a page or a Grafana panel reads is one the SQL makes (a renamed or removed chart
   cannot leave a page reading nothing).
2. Every id the SQL makes is read by a page or a Grafana panel (no cell is computed for no one).
"""
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

PAGES = r"(?:overview|crisis|support|cost|quality|instruments|evidence|mkba)"
ID = re.compile(r"""['"](%s\.[a-z_]+)['"]""" % PAGES)
PREFIX = re.compile(r"""'(%s\.[a-z_]*)'\s*\|\|""" % PAGES)


def scan(paths, rx):
    found = {}
    for p in paths:
        for m in rx.finditer(p.read_text()):
            found.setdefault(m.group(1), p.relative_to(k.repo_dir()).as_posix())
    return found


def main():
    c = k.Checks("test_chart_ids")
    root = k.repo_dir()
    sql_files = sorted((root / "sql" / "defs").glob("*.sql"))
    sql_ids, sql_prefixes = scan(sql_files, ID), scan(sql_files, PREFIX)
    for p in sql_prefixes:
        sql_ids.pop(p, None)  # the literal before || is a prefix, not an id
    readers = {"page": scan(sorted((root / "dashboards" / "static").glob("*.js")), ID),
               "Grafana panel": scan(sorted((root / "dashboards" / "grafana" / "dashboards")
                                            .glob("*.json")), ID)}
    c.ok("the SQL makes chart ids", len(sql_ids) >= 10, ">= 10", len(sql_ids))
    c.ok("the pages read chart ids", len(readers["page"]) >= 10, ">= 10", len(readers["page"]))

    def made(i):
        return i in sql_ids or any(i.startswith(p) for p in sql_prefixes)

    for who, ids in readers.items():
        unknown = sorted(f"{i} ({where})" for i, where in ids.items() if not made(i))
        c.equal(f"every chart id a {who} reads is made by the SQL", [], unknown)
    read = set(readers["page"]) | set(readers["Grafana panel"])
    unread = sorted(f"{i} ({where})" for i, where in sql_ids.items() if i not in read)
    unread += sorted(f"{p}* ({where})" for p, where in sql_prefixes.items()
                     if not any(i.startswith(p) for i in read))
    c.equal("every chart id the SQL makes is read by a page or a Grafana panel", [], unread)
    c.finish()


if __name__ == "__main__":
    main()
