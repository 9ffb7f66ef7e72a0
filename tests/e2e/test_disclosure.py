#!/usr/bin/env python3
"""An attacker with a solver against small-cell suppression (issue 15; docs/disclosure.md).

Runs on seeded synthetic cohorts through the real pipeline (koers-produce synth -> Kafka ->
koers-consume; tests/browser/dashfixture.py): in CI one database with the cohorts twaalf (12
participants, seed 212) and veertig (40, seed 240); with KOERS_DISCLOSURE_DEMO=1 also the
dashboard fixture (noord 40, zuid 24, klein 3), which takes several times longer (more
settings, larger groups of facts) and is left out of CI for that reason.

Logs in over HTTP as the funder and as a partner and fetches every page (overview, crisis,
support, quality) under every filter setting it can ask for: no filter, each cohort and each
organisation, including those it is refused (a refusal gives no figure); /metrics without a
token too. Every figure fetched becomes a fact about unknown true cell values (non-negative
integers): a shown cell is fixed, a suppressed one unknown. The facts that tie them together
are those the definitions publish (docs/dashboards.md, docs/disclosure.md):
  - a total and its parts in one chart (the series and category paths of the contributions),
    and the same quantity in two charts (the links);
  - quality: a source's months and its event types add up to the same total;
  - an organisation filter cuts the contributions by source: the unfiltered cell is the sum of
    the cell under every organisation (siblings; the refused ones are unknowns too), and a
    figure without a source is the same under every organisation filter;
  - a cohort filter cuts by participant: the unfiltered cell is the sum over the cohorts;
  - a partner's own contacts per month (support.own_mode) add up to support.mode under its
    own organisation filter;
  - complements: participants minus enrolled_now, and the participants with and without an
    achieved self-set goal (self_set_achieved_share x participants), are counts of people.
Each fact is first checked against the true values (the same cells unsuppressed, read as
superuser): only facts that hold go in, so the solver's model is feasible and the truth lies
in every interval (checked too). Only counts are modelled; rates, means and costs are not.

HiGHS (the highspy package of scripts/install-tools) then computes, for every suppressed cell
of an answered setting and every complement, its least and greatest value under all facts
(integer program per connected group of facts). It fails when a suppressed cell is pinned to
one value (0 included) or its interval is narrower than k, or a complement lies within
1..k-1; each is listed with its interval and true value. The cells of refused settings are
unknowns of the model but not targets: they are protected as a group (the sibling rule of
docs/disclosure.md). It prints the information lost per role: cells hidden, settings refused.

Environment: as the other e2e tests; KOERS_DISCLOSURE_DB=<database> attacks a database already
filled instead (e.g. one kept with KOERS_KEEP_TEST_DB, to compare two versions of the rules);
runs under $KOERS_STATE_DIR/venv's python when the python running it lacks highspy. Last line
"N passed, M failed"; exit 1 on any failure.
"""
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
try:
    import highspy
    import numpy as np
except ImportError:
    _venv = Path(os.environ.get("KOERS_STATE_DIR") or Path(__file__).resolve().parents[2] / ".koers") / "venv"
    _py = _venv / "bin" / "python3"
    if _py.exists() and os.environ.get("KOERS_DISCLOSURE_REEXEC") != "1":
        os.environ["KOERS_DISCLOSURE_REEXEC"] = "1"
        os.execv(str(_py), [str(_py), *sys.argv])
    print("FAIL highspy is not installed: run scripts/install-tools")
    print("0 passed, 1 failed")
    sys.exit(1)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402

PAGES = {"overview": "overview", "crisis": "outcomes", "support": "outcomes", "quality": "quality"}
GROUPS = ("overview", "outcomes", "quality")
INF = highspy.kHighsInf
BIG = 1e7


# The seeded synthetic cohorts of every run (CI): 12 and 40 participants, one database.
SMALL = (("twaalf", 12, 212, "2024-03-01"), ("veertig", 40, 240, "2024-01-01"))


class Small(dashfixture.Fixture):
    cohorts = SMALL


class Reuse(dashfixture.Fixture):
    """A fixture on a database already filled (KOERS_DISCLOSURE_DB, for working on the rules)."""

    def load(self):
        self.db = os.environ["KOERS_DISCLOSURE_DB"]


def main():
    c = e2e.Checks("test_disclosure")
    if os.environ.get("KOERS_DISCLOSURE_DB"):
        runs = [("reused", Reuse)]
    else:
        runs = [("small", Small)]
        if os.environ.get("KOERS_DISCLOSURE_DEMO") == "1":
            runs.append(("demo", dashfixture.Fixture))
    for name, cls in runs:
        t0 = time.monotonic()
        fx = c.run(cls, c, "disclosure")
        if fx:
            c.run(checks, c, fx, name)
            fx.stop()
        print(f"# {name}: {time.monotonic() - t0:.0f}s")
    c.finish()


def q(v):
    return "NULL" if v is None else "'" + v.replace("'", "''") + "'"


# ---------------------------------------------------------------- what the attacker fetches

def settings(cohorts, orgs):
    """The filter settings asked for: none, each cohort, each organisation. (Each pair too would
    triple the solver's work; docs/disclosure.md says what that leaves out.)"""
    return [("", "")] + [(co, "") for co in cohorts] + [("", org) for org in orgs]


def fetch(c, fx, role):
    """{setting: {(chart, series, category): (value or None, suppressed)}} of every page under
    every filter setting (cohort, organisation; '' for none) the role's login gets an answer
    to, the settings refused, and the role's /api/me."""
    cl = dashfixture.Client(fx.base)
    status, _, _ = cl.login(*fx.users[role])
    c.ok(f"{role}: logs in", status in (200, 303), "200 or 303", status)
    status, me = cl.json("/api/me")
    c.ok(f"{role}: /api/me", status == 200 and me, 200, status)
    # The attacker asks for every cohort and organisation there is, offered or not.
    cohorts = [r[0] for r in fx.sql("SELECT DISTINCT cohort FROM koers.participant WHERE cohort IS NOT NULL ORDER BY 1")]
    orgs = [r[0] for r in fx.sql("SELECT DISTINCT source FROM koers.event_count_month ORDER BY 1")]
    got, refused = {}, set()
    for co, org in settings(cohorts, orgs):
        cells = {}
        for page in PAGES:
            status, doc = cl.json(f"/api/{page}?cohort={co}&organisation={org}")
            if status == 422:
                refused.add((co, org))
                break
            if status != 200:
                c.ok(f"{role}: /api/{page}?cohort={co}&organisation={org} answers", False, 200, status)
            for r in (doc or {}).get("rows", []):
                v = r["value"]
                cells[(r["chart"], r["series"], r["category"])] = (None if v is None else float(v), r["suppressed"])
        if (co, org) not in refused:
            got[(co, org)] = cells
    status, _, body = cl.request("/metrics")
    metrics = body.decode("utf-8", "replace") if status == 200 else ""
    c.ok(f"{role}: /metrics without a token gives no figure", status in (401, 404), "401 or 404", status)
    return me, cohorts, orgs, got, refused, metrics


def truth(fx, as_of, own_org, cohorts, orgs):
    """The true cells of every setting, unsuppressed (superuser), and the structure of each group
    from its contributions: count cells, source-cut charts, series and category pairs."""
    caller = f"ROW('attack-truth', 'partner', {q(own_org)}, false)::koers.dash_caller_row" if own_org \
        else "ROW('attack-truth', 'funder', NULL, false)::koers.dash_caller_row"
    args = {"overview": "ARRAY['overview.goals=overview.goals_set_by'], NULL",
            "outcomes": "koers.dash_outcomes_links(), koers.dash_outcomes_extra()",
            "quality": "NULL, NULL"}
    true = {}
    for co, org in settings(cohorts, orgs):
        cells = {}
        for g in GROUPS:
            for ch, se, ca, v in fx.sql(
                    f"SELECT chart, series, category, value FROM koers.dash_cells('{g}', {caller},"
                    f" {q(co or None)}, {q(org or None)}, '{as_of}', {args[g]})"):
                cells[(ch, se, ca)] = float(v) if v not in ("", "NULL") else None
        true[(co, org)] = cells
    st = {"count": set(), "srccut": set(), "nosrc": set(), "spairs": set(), "cpairs": set(), "links": []}
    for g in GROUPS:
        rows = fx.sql(
            f"SELECT chart, series_path, category_path, bool_and(den IS NULL), bool_or(participant IS NOT NULL),"
            f" bool_and(source IS NOT NULL OR participant IS NULL), bool_and(source IS NULL)"
            f" FROM koers.dash_contrib_{g}('{as_of}', {q(own_org)}) GROUP BY 1, 2, 3")
        per_series = defaultdict(lambda: True)
        drawn = defaultdict(bool)
        per_chart_cut = defaultdict(lambda: True)
        per_chart_nosrc = defaultdict(lambda: True)
        for ch, sp, cp, counts, people, cut, nosrc in rows:
            sp, cp = sp.strip("{}").split(","), cp.strip("{}").split(",")
            for s in sp:
                per_series[(ch, s.strip('"'))] &= counts == "t"
                drawn[(ch, s.strip('"'))] |= people == "t"
            per_chart_cut[ch] &= cut == "t"
            per_chart_nosrc[ch] &= nosrc == "t"
            for path, key in ((sp, "spairs"), (cp, "cpairs")):
                for a, b in zip(path, path[1:]):
                    st[key].add((ch, a.strip('"'), b.strip('"')))
        # Counts: sums of numerators only, drawn from participants, whole numbers in truth.
        whole = defaultdict(lambda: True)
        for cells in true.values():
            for (ch, se, _), v in cells.items():
                whole[(ch, se)] &= v is not None and v == int(v)
        st["count"] |= {k for k, v in per_series.items() if v and drawn[k] and whole[k]}
        st["srccut"] |= {k for k, v in per_chart_cut.items() if v}
        st["nosrc"] |= {k for k, v in per_chart_nosrc.items() if v}
    links = fx.sql("SELECT unnest(koers.dash_outcomes_links() || ARRAY['overview.goals=overview.goals_set_by'])")
    st["links"] = [tuple(r[0].split("=")) for r in links]
    return true, st


# ---------------------------------------------------------------- the facts

def facts(st, true, cohorts, orgs, own_org, metrics):
    """Linear facts [(coefficients {(setting, cell): a}, kind '=' or '>=', rhs)] by the
    definitions, over count cells only."""
    out = []
    is_count = lambda key: (key[0], key[1]) in st["count"]  # noqa: E731
    settings = list(true)
    for s in settings:
        cells = true[s]
        keys = [k for k in cells if is_count(k)]
        by_chart = defaultdict(list)
        for k in keys:
            by_chart[k[0]].append(k)
        # A total and its parts, in the series and in the categories.
        for dim, pairs in ((1, st["spairs"]), (2, st["cpairs"])):
            children = defaultdict(set)
            for ch, a, b in pairs:
                children[(ch, b)].add(a)
            for (ch, parent), kids in children.items():
                for k in by_chart[ch]:
                    if k[dim] != parent:
                        continue
                    parts = [k[:dim] + (kid,) + k[dim + 1:] for kid in kids]
                    parts = [p for p in parts if p in cells and is_count(p)]
                    if parts:
                        co = {(s, k): 1.0}
                        for p in parts:
                            co[(s, p)] = co.get((s, p), 0) - 1.0
                        out.append((co, "=", 0.0, f"total {k} {s}"))
        # The same quantity in two charts.
        for a, b in st["links"]:
            for k in by_chart[a]:
                kb = (b, k[1], k[2])
                if kb in cells and is_count(kb):
                    out.append(({(s, k): 1.0, (s, kb): -1.0}, "=", 0.0, f"link {k} {kb} {s}"))
        # Quality: a source's months and its types, one total.
        srcs = {k[1] for k in by_chart["quality.events"]}
        for src in srcs:
            co = {}
            for k in by_chart["quality.events"]:
                if k[1] == src:
                    co[(s, k)] = 1.0
            for k in by_chart["quality.types"]:
                if k[1] == src:
                    co[(s, k)] = -1.0
            out.append((co, "=", 0.0, f"quality months=types {src} {s}"))
        # Quality under an organisation filter: the other sources' rows are zero.
        if s[1]:
            for ch in ("quality.events", "quality.types"):
                for k in by_chart[ch]:
                    if k[1] != s[1]:
                        out.append(({(s, k): 1.0}, "=", 0.0, f"other source {k} {s}"))
        # A partner's own contacts per month against support.mode under its organisation.
        if own_org and s[1] == "" and (s[0], own_org) in true:
            modes = {k[1] for k in by_chart["support.own_mode"]}
            for m in modes:
                target = ("support.mode", m, "during")
                if target not in true[(s[0], own_org)]:
                    continue
                co = {(s, k): 1.0 for k in by_chart["support.own_mode"] if k[1] == m}
                co[((s[0], own_org), target)] = -1.0
                out.append((co, "=", 0.0, f"own_mode {m} {s}"))
    # Filters: organisations cut by source, cohorts by participant.
    for s in settings:
        co_, org_ = s
        for k, v in true[s].items():
            if not is_count(k):
                continue
            if org_ == "" and k[0] in st["srccut"]:
                sib = [(co_, o) for o in orgs]
                if all(x in true and k in true[x] for x in sib):
                    f = {(s, k): 1.0}
                    for x in sib:
                        f[(x, k)] = -1.0
                    out.append((f, "=", 0.0, f"organisations {k} {s}"))
            if org_ != "" and k[0] in st["nosrc"] and k in true.get((co_, ""), {}):
                out.append(({(s, k): 1.0, ((co_, ""), k): -1.0}, "=", 0.0, f"no source {k} {s}"))
            if co_ == "":
                sib = [(x, org_) for x in cohorts]
                if all(x in true and k in true[x] for x in sib):
                    f = {(s, k): 1.0}
                    for x in sib:
                        f[(x, k)] = -1.0
                    out.append((f, "=", 0.0, f"cohorts {k} {s}"))
    # /metrics, should it answer: stored events per type are the sums of quality.types.
    for line in metrics.splitlines():
        if line.startswith("koers_events_stored_total{"):
            t = line.split('"')[1]
            val = float(line.rsplit(" ", 1)[1])
            f = {(("", ""), k): 1.0 for k in true[("", "")] if k[0] == "quality.types" and k[2] == t}
            out.append((f, "=", val, f"metrics {t}"))
    return out


def holds(f, true):
    co, kind, rhs, _ = f
    total = 0.0
    for (s, k), a in co.items():
        v = true.get(s, {}).get(k)
        if v is None:
            return None
        total += a * v
    return abs(total - rhs) < 1e-6 if kind == "=" else total >= rhs - 1e-6


# ---------------------------------------------------------------- the solver

class Model:
    """One connected group of facts as an integer program over its cells."""

    def __init__(self, cols, rows, fixed, integer=False):
        self.cols = cols
        self.index = {x: i for i, x in enumerate(cols)}
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", 0.0)
        for x in cols:
            v = fixed.get(x)
            # An unknown is at most BIG: a bound at BIG means no bound from the facts.
            h.addVar(v, v) if v is not None else h.addVar(0.0, BIG)
        if integer:
            idx = np.arange(len(cols), dtype=np.int32)
            h.changeColsIntegrality(len(cols), idx, np.array([highspy.HighsVarType.kInteger] * len(cols)))
        for co, kind, rhs, _ in rows:
            ii = np.array([self.index[x] for x in co], dtype=np.int32)
            vv = np.array(list(co.values()), dtype=np.float64)
            h.addRow(rhs, rhs if kind == "=" else INF, len(ii), ii, vv)
        self.h = h

    def bounds(self, expr, const=0.0):
        """(least, greatest) of sum(a * x) + const; None where unbounded."""
        h = self.h
        n = len(self.cols)
        out = []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            cost = np.zeros(n)
            for x, a in expr.items():
                cost[self.index[x]] = a
            h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
            h.changeObjectiveSense(sense)
            h.run()
            st = h.getModelStatus()
            if st == highspy.HighsModelStatus.kOptimal:
                v = h.getInfo().objective_function_value
                out.append(None if abs(v) >= BIG / 2 else round(v + const, 6))
            else:
                raise RuntimeError(f"solver: {h.modelStatusToString(st)}")
        return tuple(out)


def components(cols, rows):
    parent = {x: x for x in cols}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for co, *_ in rows:
        xs = list(co)
        for y in xs[1:]:
            a, b = find(xs[0]), find(y)
            if a != b:
                parent[a] = b
    groups = defaultdict(list)
    for x in cols:
        groups[find(x)].append(x)
    return {x: find(x) for x in cols}, groups


def attack(c, role, k, got, true, fs, extras):
    """Solves; returns the disclosures [(what, interval, true value)] and the narrow ones."""
    fixed, unknown = {}, set()
    for s, cells in true.items():
        for key in cells:
            x = (s, key)
            shown = got.get(s, {}).get(key)
            if shown is not None and not shown[1] and shown[0] is not None:
                fixed[x] = shown[0]
            else:
                unknown.add(x)

    def reduce(co, rhs):
        """The unknown part of a fact, the shown figures moved to the right-hand side."""
        u = {x: a for x, a in co.items() if x in unknown}
        return u, rhs - sum(a * fixed[x] for x, a in co.items() if x not in unknown)
    rows = []
    for co, kind, rhs, what in fs:
        u, r = reduce(co, rhs)
        if u:
            rows.append((u, kind, r, what))
    ex = []
    for what, expr, const, tv, rounded in extras:
        u, r = reduce(expr, -const)
        ex.append((what, u, -r, tv, rounded))
    cols = sorted({x for f in rows for x in f[0]} | {x for e in ex for x in e[1]})
    root, groups = components(cols, rows + [(e[1],) for e in ex if e[1]])
    rows_of = defaultdict(list)
    for f in rows:
        rows_of[root[next(iter(f[0]))]].append(f)
    print(f"# {role}: {len(unknown)} unknowns, {len(rows)} facts with unknowns, {len(groups)} groups, "
          f"the largest {max((len(g) for g in groups.values()), default=0)} unknowns")
    models = {}

    def model(x, integer):
        r = (root[x], integer)
        if r not in models:
            models[r] = Model(groups[root[x]], rows_of[root[x]], {}, integer)
        return models[r]

    def bounds(expr, const):
        """The linear relaxation first (fast, warm-started); the integer program where the
        relaxation's interval, made whole, is narrow or starts above 0, where whole numbers
        could narrow it into a disclosure."""
        if not expr:
            return const, const
        x = next(iter(expr))
        lo, hi = model(x, False).bounds(expr, const)
        whole = all(float(a).is_integer() for a in expr.values()) and float(const).is_integer()
        if whole and lo is not None:
            lo = math.ceil(lo - 1e-6)
            hi = None if hi is None else math.floor(hi + 1e-6)
            if lo >= 1 or (hi is not None and hi - lo < 2 * k):
                lo, hi = model(x, True).bounds(expr, const)
        return lo, hi
    disclosed, narrow, checked, outside = [], [], 0, []
    # Every hidden cell of an answered setting. (The cells of refused settings are unknowns
    # too, but many equal shown figures by definition, e.g. a figure without a source under
    # a refused organisation: telling their secret ones apart needs their contributors.)
    targets = [(f"{'suppressed' if x[0] in got else 'refused'} {x[1]} under {x[0]}", {x: 1.0}, 0.0, true[x[0]][x[1]], True, False)
               for x in sorted(unknown)
               if x in root and x[0] in got and got[x[0]].get(x[1], (None, False))[1]]
    targets += [(w, e, const, tv, False, r) for w, e, const, tv, r in ex]
    for what, expr, const, tv, is_cell, rounded in targets:
        lo, hi = bounds(expr, const)
        checked += 1
        if rounded and lo is not None and hi is not None:
            lo, hi = round(lo), round(hi)  # a share of people times the people: whole people
        if (lo is not None and tv < lo - 1e-6) or (hi is not None and tv > hi + 1e-6):
            outside.append((what, (lo, hi), tv))
        bad = (lo is not None and 1 <= lo and hi is not None and hi <= k - 1) or \
              (is_cell and lo is not None and lo == hi and lo != 0)
        if bad:
            disclosed.append((what, (lo, hi), tv))
        elif is_cell and hi is not None and hi - lo < k:
            narrow.append((what, (lo, hi), tv))
    c.ok(f"{role}: the truth lies in every interval the solver finds ({checked} checked)", not outside,
         "none outside", outside[:5])
    return disclosed, narrow, checked


def complements(got, true, s):
    """Counts of people a setting's shown figures give away: participants less enrolled_now;
    those with and without an achieved self-set goal."""
    out = []
    cells, tr = got.get(s, {}), true[s]
    pop = ("overview.enrolment", "new", "all")
    now = ("overview.kpi", "enrolled_now", "all")
    share = ("overview.kpi", "self_set_achieved_share", "all")
    if pop in tr and now in tr:
        out.append((f"participants - enrolled_now under {s}", {(s, pop): 1.0, (s, now): -1.0}, 0.0,
                    tr[pop] - tr[now], False))
    sh = cells.get(share)
    if sh and not sh[1] and pop in tr:
        # share x participants: when participants is known, the achievers are known too.
        a = sh[0]
        out.append((f"participants with an achieved self-set goal under {s}", {(s, pop): a}, 0.0,
                    round(tr[share] * tr[pop]), True))
        out.append((f"participants without one under {s}", {(s, pop): 1.0 - a}, 0.0,
                    tr[pop] - round(tr[share] * tr[pop]), True))
    return out


def cached(name, fn, *args):
    """fn(*args), kept in $KOERS_DISCLOSURE_CACHE/name.pickle when that is set (for working on
    the attack against a fixed database; never set in CI)."""
    d = os.environ.get("KOERS_DISCLOSURE_CACHE")
    if not d:
        return fn(*args)
    import pickle
    path = Path(d) / f"{name}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    out = fn(*args)
    path.write_bytes(pickle.dumps(out))
    return out


def checks(c, fx, name):
    k = int(fx.sql("SELECT koers.min_cell()")[0][0])
    own = dashfixture.PARTNER_ORG
    report = {}
    true_all = None
    for role in ("partner", "funder"):
        t0 = time.monotonic()
        me, cohorts, orgs, got, refused, metrics = cached(f"{name}-fetch-{role}", fetch, c, fx, role)
        as_of = me["as_of"]
        role = f"{name} {role}"
        c.ok(f"{role}: the fixture has refused settings and small cells",
             refused and any(v[1] for cells in got.values() for v in cells.values()), "some", (len(refused),))
        print(f"# {role}: fetched in {time.monotonic() - t0:.0f}s")
        if true_all is None:  # the partner's cells: the funder's and its own contacts
            true_all, st = cached(f"{name}-truth", truth, fx, as_of, own, cohorts, orgs)
        true = {s: {key: v for key, v in cells.items() if role.endswith("partner") or key[0] != "support.own_mode"}
                for s, cells in true_all.items()}
        fs_all = facts(st, true, cohorts, orgs, own if role.endswith("partner") else None, metrics)
        fs, dropped = [], []
        for f in fs_all:
            h = holds(f, true)
            if h:
                fs.append(f)
            elif h is False and f[1] == "=":
                g = (f[0], ">=", f[2], f[3])  # e.g. people with events but not enrolled yet
                (fs if holds(g, true) else dropped).append(g)
        c.ok(f"{role}: every fact of the definitions holds in the fixture ({len(fs)} facts)", not dropped,
             "all hold", [d[3] for d in dropped[:5]])
        print(f"# {role}: facts by {time.monotonic() - t0:.0f}s")
        extras = [e for s in true for e in complements(got, true, s)]
        disclosed, narrow, checked = attack(c, role, k, got, true, fs, extras)
        c.ok(f"{role}: the solver pins no suppressed cell and no complement of 1..{k - 1} "
             f"({checked} checked, {len(disclosed)} disclosed)", not disclosed, "none",
             "\n     ".join(f"{w}: interval {iv}, true {tv}" for w, iv, tv in disclosed[:40]))
        for what, found in (("disclosed", disclosed), ("narrower than k", narrow)):
            by = defaultdict(int)
            for w, _, _ in found:
                by[w.split(" under ")[0].split("', '")[0].replace("suppressed ('", "")] += 1
            if by:
                print(f"# {role}: {what} by chart: " + ", ".join(f"{kk} {v}" for kk, v in sorted(by.items())))
        c.ok(f"{role}: every suppressed cell's interval is at least k = {k} wide ({len(narrow)} narrower)",
             not narrow, "none", "\n     ".join(f"{w}: interval {iv}, true {tv}" for w, iv, tv in narrow[:40]))
        # The information lost: cells hidden in the answered settings (the unfiltered one
        # apart), and the settings refused with their cells (as the superuser counts them).
        hidden = sum(v[1] for cells in got.values() for v in cells.values())
        shown = sum(not v[1] for cells in got.values() for v in cells.values())
        top = got.get(("", ""), {})
        lost = sum(len(true[s]) for s in refused if s in true)
        print(f"# {role}: {time.monotonic() - t0:.0f}s, {len(got)} settings answered, {len(refused)} refused "
              f"({', '.join('/'.join(x or '-' for x in s) for s in sorted(refused))}; {lost} cells), "
              f"{hidden} of {hidden + shown} cells hidden in the answered settings, "
              f"{sum(v[1] for v in top.values())} of {len(top)} unfiltered "
              f"({sum(v[1] for kk, v in top.items() if kk[0].startswith('quality.'))} of "
              f"{sum(1 for kk in top if kk[0].startswith('quality.'))} quality); {len(fs)} facts, "
              f"{checked} unknowns checked, {len(disclosed)} disclosed, {len(narrow)} narrower than k={k}")
        report[role] = (len(disclosed), len(narrow))
    return report


if __name__ == "__main__":
    main()
