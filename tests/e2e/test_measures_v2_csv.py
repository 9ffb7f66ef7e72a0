#!/usr/bin/env python3
"""End to end: the Measures v2 figures of a generated CSV set equal an independent computation.

A seeded generator writes CSV exports for two cohorts (enrolments with pauses, resumptions and
exits; crisis events of every kind, stays in the old form (days at discharge) and as episodes
opened at admission and closed later or still open; police calls of every kind; corrections
voiding some of them; goals with GAS scores). They go through the real programs (koers-produce
import, koers-consume). Then everything is recomputed here from the CSV rows alone, day by
day (no piece of the SQL is reused), following docs/measures.md:

1. koers.window_measures(as_of): per participant and window (before, per_protocol,
   intention_to_treat, follow_up) the days and the acute / alternative events and stay days
   and the police use, confused-person and victim calls.
2. koers.participant_month_at(as_of): crisis_events, crisis_days (acute) and stay_days
   (alternatives) per participant-month: a stay's days in the months they fall in.
3. koers.window_paired and koers.window_evidence: per-participant rates (4 decimals) and their
   differences; per cohort the pooled rates, medians and quartiles (type 7), the Wilcoxon
   signed-rank W+ and two-sided p (exact by enumeration of sign assignments for up to 25
   non-zero differences, normal with tie and continuity correction above), and the bootstrap
   interval from the md5 stream documented in docs/measures.md.
4. koers.gas_tscore(as_of): latest and baseline T with abandoned goals kept and achieved
   without a score as 0.
5. Source coverage (coverage.csv, one statement voided): a day outside the days every
   stating source covers adds neither events nor days to its type's measures; the known days
   are the rates' denominators, and a participant with none drops out of the pairs.

KOERS_TEST_SEED fixes the seed (printed).
"""
import datetime
import hashlib
import math
import os
import random
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

D = datetime.date
PM = Decimal("30.4375")
START, END = D(2023, 1, 1), D(2025, 6, 30)
AS_OF = (D(2024, 11, 15), END)
ACUTE = ("crisis_contact", "emergency_department", "crisis_admission", "compulsory_care")
ALTERNATIVE = ("respite_stay", "shelter_night")
POLICE = ("confused_person", "nuisance", "threat_violence", "welfare_check", "arrest", "victim",
          "other")
MEASURES = ("acute_events", "acute_days", "alternative_events", "alternative_days",
            "police_use_calls", "confused_person_calls", "police_victim_calls")
WINDOWS = ("before", "per_protocol", "intention_to_treat", "follow_up")


def months_add(d, n):
    """d moved n calendar months (negative: back), the day clamped to the month's end."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    m += 1
    last = (D(y + (m == 12), m % 12 + 1, 1) - datetime.timedelta(days=1)).day
    return D(y, m, min(d.day, last))


def days(a, b):
    """The days a .. b - 1."""
    return [a + datetime.timedelta(days=i) for i in range((b - a).days)]


# ---------------------------------------------------------------- the generated exports

def generate(rnd):
    """{etype: [row dict]} for two cohorts."""
    rows = defaultdict(list)
    n = [0]

    def rid(prefix):
        n[0] += 1
        return f"{prefix}-{n[0]}"

    def day_between(a, b):
        return a + datetime.timedelta(days=rnd.randrange((b - a).days + 1))

    for cohort, size in (("v2a", 50), ("v2b", 10)):
        for i in range(size):
            client = f"{cohort.upper()}-{i:03d}"
            first = day_between(D(2024, 1, 1), D(2024, 12, 31))
            changes = [(first, "enrolled")]
            d = first
            while rnd.random() < 0.6:
                d = d + datetime.timedelta(days=rnd.randrange(20, 120))
                if d >= END:
                    break
                last = changes[-1][1]
                nxt = rnd.choice(["paused", "exited"]) if last in ("enrolled", "resumed") else "resumed"
                changes.append((d, nxt))
            for d, ch in changes:
                rows["enrolment"].append({"record_id": rid("E"), "client_id": client,
                                          "occurred_at": d.isoformat(), "source": "ggz",
                                          "change": ch, "cohort": cohort})
            for _ in range(rnd.randrange(0, 7)):
                kind = rnd.choice(ACUTE + ALTERNATIVE)
                occ = day_between(START, END)
                form = rnd.random()
                if kind in ("crisis_contact", "emergency_department") or form < 0.15:
                    rows["crisis"].append({"record_id": rid("C"), "client_id": client,
                                           "occurred_at": occ.isoformat(), "source": "crisis_svc",
                                           "kind": kind, "days": "0", "episode_ref": ""})
                elif form < 0.6:  # old form: days reported at discharge
                    n_days = rnd.randrange(1, 120)
                    rows["crisis"].append({"record_id": rid("C"), "client_id": client,
                                           "occurred_at": occ.isoformat(), "source": "crisis_svc",
                                           "kind": kind, "days": str(n_days), "episode_ref": ""})
                else:  # an episode: opened, and (mostly) closed later
                    ep = rid("EP")
                    rows["crisis"].append({"record_id": rid("C"), "client_id": client,
                                           "occurred_at": occ.isoformat(), "source": "crisis_svc",
                                           "kind": kind, "days": "", "episode_ref": ep})
                    if rnd.random() < 0.75:
                        end = occ + datetime.timedelta(days=rnd.randrange(1, 90))
                        if end <= END:
                            rows["crisis"].append({
                                "record_id": rid("C"), "client_id": client,
                                "occurred_at": end.isoformat(), "source": "crisis_svc",
                                "kind": kind, "days": str((end - occ).days), "episode_ref": ep})
            for _ in range(rnd.randrange(0, 10)):
                t = datetime.datetime.combine(day_between(START, END), datetime.time(23, 30))
                # 23:30 UTC is the next local day: the day of a call is taken in local time.
                rows["police_call"].append({"record_id": rid("P"), "client_id": client,
                                            "occurred_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                            "source": "police", "kind": rnd.choice(POLICE),
                                            "caller": "public", "outcome": "advice"})
            for g in range(rnd.randrange(0, 4)):
                ref = f"G{g}"
                d = day_between(first, END - datetime.timedelta(days=60))
                rows["goal_change"].append({
                    "record_id": rid("G"), "client_id": client, "occurred_at": d.isoformat(),
                    "source": "ggz", "goal_ref": ref, "domain": "housing", "change": "set",
                    "set_by": "participant", "gas": str(rnd.randrange(-2, 1)),
                    "weight": str(rnd.randrange(1, 6)) if rnd.random() < 0.7 else ""})
                d2 = d + datetime.timedelta(days=rnd.randrange(1, 50))
                ch = rnd.choice(["progress", "achieved", "abandoned"])
                gas = "" if ch != "progress" and rnd.random() < 0.5 else str(rnd.randrange(-2, 3))
                rows["goal_change"].append({
                    "record_id": rid("G"), "client_id": client, "occurred_at": d2.isoformat(),
                    "source": "ggz", "goal_ref": ref, "domain": "housing", "change": ch,
                    "set_by": "participant", "gas": gas, "weight": ""})
    # Coverage: crisis_svc states its crisis data from some day on; police its police data
    # for a period, in two statements, one of them voided below.
    rows["coverage"] = [
        {"record_id": "COV-1", "occurred_at": END.isoformat(), "source": "crisis_svc",
         "covered_type": "crisis", "covered_from": day_between(D(2023, 3, 1), D(2024, 3, 1)).isoformat(),
         "covered_to": ""},
        {"record_id": "COV-2", "occurred_at": END.isoformat(), "source": "police",
         "covered_type": "police_call", "covered_from": day_between(D(2023, 1, 1), D(2023, 12, 1)).isoformat(),
         "covered_to": day_between(D(2024, 6, 1), D(2025, 5, 1)).isoformat()},
        {"record_id": "COV-3", "occurred_at": END.isoformat(), "source": "police",
         "covered_type": "police_call", "covered_from": "2020-01-01", "covered_to": ""}]
    rows["correction"].append({"record_id": rid("V"), "client_id": "", "occurred_at": END.isoformat(),
                               "source": "police", "target_record_id": "COV-3",
                               "target_type": "coverage", "action": "void"})
    # Corrections: void a few police calls and old-form crisis events.
    for etype, pool in (("police_call", rows["police_call"]),
                        ("crisis", [r for r in rows["crisis"] if r["episode_ref"] == ""])):
        for r in rnd.sample(pool, min(4, len(pool))):
            rows["correction"].append({"record_id": rid("V"), "client_id": r["client_id"],
                                       "occurred_at": END.isoformat(), "source": r["source"],
                                       "target_record_id": r["record_id"], "target_type": etype,
                                       "action": "void"})
    return rows


def write_csv(directory, rows):
    import csv
    for etype, rs in rows.items():
        if etype == "correction":  # a correction of a statement names no client: give one
            rs = [dict(r, client_id=r["client_id"] or "COVERAGE") for r in rs]
        with open(Path(directory) / f"{etype}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rs[0].keys()))
            w.writeheader()
            w.writerows(rs)


# ---------------------------------------------------------------- the computation here

def local_day(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, tz=k.ZONE).date()


class Person:
    def __init__(self):
        self.enrolment = []   # (ms, record, change, cohort)
        self.crisis = []      # rows (not voided)
        self.police = []
        self.goals = defaultdict(list)

    def spans(self):
        out, start = [], None
        for _ms, _rid, ch, _c in sorted(self.enrolment):
            d = local_day(_ms)
            if ch in ("enrolled", "resumed") and start is None:
                start = d
            elif ch in ("paused", "exited") and start is not None:
                out.append((start, d, ch))
                start = None
        if start is not None:
            out.append((start, None, None))
        return out

    def cohort(self):
        return sorted(self.enrolment)[0][3] if self.enrolment else None

    def stays(self, as_of):
        """[(kind, event_day, covered days)] up to as_of."""
        out, episodes = [], defaultdict(list)
        for r in self.crisis:
            if r["episode_ref"]:
                episodes[(r["source"], r["episode_ref"])].append(r)
            else:
                out.append(old_form(r))
        for recs in episodes.values():
            recs.sort(key=lambda r: r["ms"])
            first, last = local_day(recs[0]["ms"]), local_day(recs[-1]["ms"])
            if len(recs) > 1:
                out.append((recs[0]["kind"], first, days(first, last)))
            elif recs[0]["days"] != "":
                out.append(old_form(recs[0]))
            else:  # open at as_of
                out.append((recs[0]["kind"], first, days(first, as_of + datetime.timedelta(days=1))))
        return [(kind, ev, [d for d in cov if d <= as_of]) for kind, ev, cov in out]


def old_form(r):
    d, n = local_day(r["ms"]), int(r["days"])
    return (r["kind"], d - datetime.timedelta(days=n), days(d - datetime.timedelta(days=n), d))


def known_days_db(db):
    """known_days() of the valid coverage statements stored in a database."""
    rows = [{"record_id": r[0], "source": r[1], "covered_type": r[2], "covered_from": r[3],
             "covered_to": r[4]} for r in k.psql(
        "SELECT event_id::text, source, covered_type::text, covered_from::text,"
        " coalesce(covered_to::text, '') FROM koers.coverage_valid", db)]
    return known_days({"coverage": rows, "correction": []})


def known_days(rows):
    """{event type: set of known days}: the days every source that stated its coverage of the
    type covers, voided statements left out; a type without statements is not in it."""
    voided = {(c["source"], c["target_type"], c["target_record_id"]) for c in rows["correction"]}
    per = defaultdict(lambda: defaultdict(set))
    for r in rows.get("coverage", []):
        if (r["source"], "coverage", r["record_id"]) in voided:
            continue
        a = D.fromisoformat(r["covered_from"])
        b = D.fromisoformat(r["covered_to"]) + datetime.timedelta(days=1) if r["covered_to"] else D(2100, 1, 1)
        per[r["covered_type"]][r["source"]] |= set(days(max(a, D(2019, 1, 1)), b))
    return {t: set.intersection(*srcs.values()) for t, srcs in per.items()}


def people(rows, key):
    voided = {(c["source"], c["target_type"], c["target_record_id"]) for c in rows["correction"]}
    ps = defaultdict(Person)
    for r in rows["enrolment"]:
        ps[k.participant(key, r["client_id"])].enrolment.append(
            (k.parse_time_ms(r["occurred_at"]), r["record_id"], r["change"], r["cohort"]))
    for r in rows["crisis"]:
        if (r["source"], "crisis", r["record_id"]) not in voided:
            ps[k.participant(key, r["client_id"])].crisis.append(
                dict(r, ms=k.parse_time_ms(r["occurred_at"])))
    for r in rows["police_call"]:
        if (r["source"], "police_call", r["record_id"]) not in voided:
            ps[k.participant(key, r["client_id"])].police.append(
                (local_day(k.parse_time_ms(r["occurred_at"])), r["kind"]))
    for r in rows["goal_change"]:
        ps[k.participant(key, r["client_id"])].goals[r["goal_ref"]].append(
            (k.parse_time_ms(r["occurred_at"]), r))
    return ps


def windows(p, as_of):
    """{window: set of days} of an enrolled participant, up to as_of."""
    spans = p.spans()
    first = spans[0][0]
    if first > as_of:
        return None
    nxt = as_of + datetime.timedelta(days=1)
    w = {"before": set(days(months_add(first, -12), first)),
         "per_protocol": set(), "intention_to_treat": set(days(first, nxt))}
    for s, e, _ in spans:
        w["per_protocol"] |= set(days(s, min(e or nxt, nxt)))
    last = [sp for sp in spans if sp[0] <= as_of][-1]
    if last[2] == "exited" and last[1] <= as_of:
        w["follow_up"] = set(days(last[1], min(months_add(last[1], 12), nxt)))
    return w


def expected_windows(ps, as_of, known):
    def is_known(t, d):
        return t not in known or d in known[t]
    out = {}
    for pid, p in ps.items():
        if not p.enrolment:
            continue
        w = windows(p, as_of)
        if w is None:
            continue
        stays = p.stays(as_of)
        for name, ds in w.items():
            m = dict.fromkeys(MEASURES, 0)
            for kind, ev, cov in stays:
                grp = "acute" if kind in ACUTE else "alternative"
                if ev in ds and ev <= as_of and is_known("crisis", ev):
                    m[f"{grp}_events"] += 1
                m[f"{grp}_days"] += sum(1 for d in cov if d in ds and is_known("crisis", d))
            m["crisis_covered_days"] = sum(1 for d in ds if is_known("crisis", d))
            m["police_covered_days"] = sum(1 for d in ds if is_known("police_call", d))
            for d, kind in p.police:
                if d in ds and d <= as_of and is_known("police_call", d):
                    if kind == "victim":
                        m["police_victim_calls"] += 1
                    else:
                        m["police_use_calls"] += 1
                        m["confused_person_calls"] += kind == "confused_person"
            out[(pid, name)] = (p.cohort(), len(ds), m)
    return out


def round4(x):
    return Decimal(x).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def quantile(xs, q):
    xs = sorted(xs)
    h = (len(xs) - 1) * Decimal(q) + 1
    lo = int(h)
    nxt = xs[lo] if lo < len(xs) else xs[lo - 1]
    return xs[lo - 1] + (h - lo) * (nxt - xs[lo - 1])


def signed_rank(diffs):
    nz = [d for d in diffs if d != 0]
    m = len(nz)
    if m == 0:
        return Decimal("0.0"), Decimal(1), "exact", 0
    order = sorted(abs(d) for d in nz)
    rank = {}
    for v in set(order):
        first = order.index(v) + 1
        rank[v] = Fraction(2 * first + order.count(v) - 1, 2)
    w = sum(rank[abs(d)] for d in nz if d > 0)
    if m <= 25:
        counts = {Fraction(0): 1}
        for d in nz:
            nxt = defaultdict(int)
            for s, c in counts.items():
                nxt[s] += c
                nxt[s + rank[abs(d)]] += c
            counts = nxt
        lo = sum(c for s, c in counts.items() if s <= w)
        hi = sum(c for s, c in counts.items() if s >= w)
        p = min(Fraction(1), 2 * Fraction(min(lo, hi), 2 ** m))
        return Decimal(float(w)).quantize(Decimal("0.1")), round4(Decimal(p.numerator) / p.denominator), "exact", m
    ties = sum(order.count(v) ** 3 - order.count(v) for v in set(order))
    mu = m * (m + 1) / 4
    sigma = math.sqrt(m * (m + 1) * (2 * m + 1) / 24 - ties / 48)
    # Continuity correction towards the mean, none when W is the mean (R's wilcox.test:
    # sign(0) = 0), so that the p-value is then 1.
    dw = float(w) - mu
    z = (dw - (math.copysign(0.5, dw) if dw != 0 else 0.0)) / sigma
    p = min(1.0, math.erfc(abs(z) / math.sqrt(2)))
    return Decimal(float(w)).quantize(Decimal("0.1")), round4(Decimal(repr(p))), "normal", m


def bootstrap(diffs):
    n = len(diffs)
    meds = []
    for b in range(1, 2001):
        sample = [diffs[int(hashlib.md5(f"koers:{b}:{i}".encode()).hexdigest()[:8], 16) % n]
                  for i in range(1, n + 1)]
        meds.append(quantile(sample, "0.5"))
    return round4(quantile(meds, "0.025")), round4(quantile(meds, "0.975"))


# ---------------------------------------------------------------- the checks

def check_windows(c, db, exp, as_of):
    got = {}
    cols = MEASURES + ("crisis_covered_days", "police_covered_days")
    for r in k.psql("SELECT participant, window_name, cohort, days, " + ", ".join(cols)
                    + f" FROM koers.window_measures('{as_of}')", db):
        got[(r[0], r[1])] = (r[2], int(r[3]), dict(zip(cols, map(int, r[4:]))))
    c.equal(f"window_measures({as_of}): the same participant windows", sorted(exp), sorted(got))
    bad = [(key, exp[key], got.get(key)) for key in sorted(exp) if exp[key] != got.get(key)]
    c.ok(f"window_measures({as_of}): every window's days and counts equal the Python computation "
         f"({len(exp)} windows)", not bad, "", bad[:3])


def check_months(c, db, ps, as_of):
    exp = defaultdict(lambda: [0, 0, 0])
    for pid, p in ps.items():
        for kind, ev, cov in p.stays(as_of):
            if ev <= as_of:
                exp[(pid, ev.strftime("%Y-%m-01"))][0] += 1
            for d in cov:
                exp[(pid, d.strftime("%Y-%m-01"))][1 if kind in ACUTE else 2] += 1
    got = {(r[0], r[1]): [int(x) for x in r[2:]] for r in k.psql(
        "SELECT participant, month::text, crisis_events, crisis_days, stay_days"
        f" FROM koers.participant_month_at('{as_of}')", db) if any(int(x) for x in r[2:])}
    exp = {key: v for key, v in exp.items() if any(v)}
    bad = [(key, exp.get(key), got.get(key)) for key in sorted(set(exp) | set(got))
           if exp.get(key) != got.get(key)]
    c.ok(f"participant_month_at({as_of}): crisis events, acute and alternative stay days per month "
         f"equal the day-by-day computation ({len(exp)} months)", not bad, "", bad[:3])


def paired(exp, by_cohort=True):
    """{(cohort or None, window, measure): [(pid, count before, known days before, count
    during, known days during, full coverage)]}: each measure over the known days of its type,
    participants with known days in both windows."""
    pairs = defaultdict(list)
    for (pid, name), (cohort, nd, m) in exp.items():
        if name == "before":
            continue
        _c, bd, b = exp[(pid, "before")]
        for ms in MEASURES:
            kk = "police_covered_days" if ms.startswith(("police", "confused")) else "crisis_covered_days"
            if m[kk] > 0 and b[kk] > 0:
                pairs[(cohort if by_cohort else None, name, ms)].append(
                    (pid, b[ms], b[kk], m[ms], m[kk], b[kk] == bd and m[kk] == nd))
    return pairs


def check_evidence(c, db, exp, as_of):
    pairs = paired(exp)
    got = {(r[0], r[1], r[2]): r[3:] for r in k.psql(
        "SELECT cohort, window_name, measure, n, pooled_before_rate, pooled_during_rate,"
        " median_before_rate, median_during_rate, (stats).w_plus, (stats).p_value,"
        " (stats).p_method, (stats).median_difference, (stats).q1_difference,"
        " (stats).q3_difference, (stats).boot_lo, (stats).boot_hi, full_coverage"
        f" FROM koers.window_evidence('{as_of}')",
        db)}
    bad, methods = [], set()
    for key, ps in sorted(pairs.items()):
        ps.sort()
        br = [round4(Decimal(x[1]) * PM / x[2]) for x in ps]
        dr = [round4(Decimal(x[3]) * PM / x[4]) for x in ps]
        diffs = [d - b for b, d in zip(br, dr)]
        w, p, method, _m = signed_rank(diffs)
        methods.add(method)
        lo, hi = bootstrap(diffs)
        e = [str(len(ps)),
             str(round4(sum(Decimal(x[1]) for x in ps) * PM / sum(x[2] for x in ps))),
             str(round4(sum(Decimal(x[3]) for x in ps) * PM / sum(x[4] for x in ps))),
             str(round4(quantile(br, "0.5"))), str(round4(quantile(dr, "0.5"))),
             str(w), str(p), method, str(round4(quantile(diffs, "0.5"))),
             str(round4(quantile(diffs, "0.25"))), str(round4(quantile(diffs, "0.75"))),
             str(lo), str(hi), str(sum(1 for x in ps if x[5]))]
        if got.get(key) != e:
            bad.append((key, e, got.get(key)))
    c.equal(f"window_evidence({as_of}): the same cohort x window x measure rows",
            sorted(pairs), sorted(got))
    c.ok(f"window_evidence({as_of}): n, pooled rates, medians, signed-rank test and bootstrap "
         f"interval equal the Python computation ({len(pairs)} rows, methods {sorted(methods)})",
         not bad, "", bad[:2])
    return methods


def expected_gas(ps, as_of):
    end = int(datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time(),
                                        tzinfo=k.ZONE).timestamp()) * 1000
    out = {}
    for pid, p in ps.items():
        goals = []
        for changes in p.goals.values():
            ch = sorted(x for x in changes if x[0] < end)
            if not ch:
                continue
            scores = [int(r["gas"]) if r["gas"] != "" else (0 if r["change"] == "achieved" else None)
                      for _, r in ch]
            scores = [s for s in scores if s is not None]
            weights = [int(r["weight"]) for _, r in ch if r["weight"] != ""]
            goals.append((scores, weights[-1] if weights else 1))
        if not goals:
            continue
        scored = [(s, w) for s, w in goals if s]

        def t(xs):
            sw = sum(w for _, w in xs)
            den = math.sqrt(0.7 * sum(w * w for _, w in xs) + 0.3 * sw * sw)
            return Decimal(repr(50 + 10 * sum(w * x for x, w in xs) / den)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP)
        if scored:
            latest = t([(s[-1], w) for s, w in scored])
            base = t([(s[0], w) for s, w in scored])
            out[pid] = (len(goals), len(scored), str(latest), str(base))
        else:
            out[pid] = (len(goals), 0, "NULL", "NULL")
    return out


def check_gas(c, db, ps, as_of):
    exp = expected_gas(ps, as_of)
    got = {r[0]: (int(r[1]), int(r[2]), r[3], r[4]) for r in k.psql(
        "SELECT participant, goals, goals_scored, t_score::text, baseline_t_score::text"
        f" FROM koers.gas_tscore('{as_of}')", db)}
    bad = [(key, exp.get(key), got.get(key)) for key in sorted(set(exp) | set(got))
           if exp.get(key) != got.get(key)]
    c.ok(f"gas_tscore({as_of}): latest and baseline T (abandoned kept, achieved without a score "
         f"0) equal the Python computation ({len(exp)} participants)", not bad, "", bad[:3])


def main():
    k.require_env()
    c = k.Checks("test_measures_v2_csv")
    seed = int(os.environ.get("KOERS_TEST_SEED", random.randrange(1, 1_000_000)))
    print(f"# seed {seed}")
    rows = generate(random.Random(seed))
    run = k.new_run_names("mv2")
    d = k.tempdir(c, "mv2")
    run["keyfile"], key = k.write_key_file(d)
    exports = Path(d) / "exports"
    exports.mkdir()
    write_csv(exports, rows)
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    try:
        c.program("koers-consume --migrate", k.migrate(run["db"]), 0)
        c.program("koers-produce import", k.produce("import", "--key-file", run["keyfile"],
                                                    "--topic-prefix", run["prefix"], exports), 0)
        c.program("koers-consume --until-caught-up",
                  k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up"), 0)
        ps = people(rows, key)
        known = known_days(rows)
        c.ok("the generated statements make some days unknown", bool(known), "", known.keys())
        methods = set()
        for as_of in AS_OF:
            exp = expected_windows(ps, as_of, known)
            c.run(check_windows, c, run["db"], exp, as_of)
            methods |= check_evidence(c, run["db"], exp, as_of) or set()
            c.run(check_gas, c, run["db"], ps, as_of)
        # Months count whole (a closed stay's month holds all its days): compared at the end
        # of the data, a month's end.
        c.run(check_months, c, run["db"], ps, END)
        c.ok("the generated data reach both the exact and the normal signed-rank test",
             methods == {"exact", "normal"}, {"exact", "normal"}, methods)
    except Exception:  # noqa: BLE001
        import traceback
        c.failed += 1
        print("FAIL the test raised:")
        traceback.print_exc(file=sys.stdout)
    c.finish()


if __name__ == "__main__":
    main()
