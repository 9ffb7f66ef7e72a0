#!/usr/bin/env python3
"""End to end: the MKBA per stakeholder (koers.mkba, koers.mkba_sensitivity in
sql/defs/45_mkba.sql) of a generated CSV set equals an independent computation.

test_measures_v2_csv's seeded generator writes the enrolments, crisis stays (old form and
episodes, open and closed), police calls, coverage statements and corrections of two cohorts;
this test adds support contacts of every role and length, and eviction steps (status_change:
notices, which are not priced, and evictions carried out) with a coverage statement of their
own. They go through the real programs
(koers-produce import, koers-consume). Then the MKBA is recomputed here from the CSV rows,
day by day and in exact fractions, with the shipped unit costs, their mapping, payer shares and
price index read from the database as the inputs they are (no SQL function is reused):

- windows: before (12 months before the first enrolled day) and the during window
  (intention_to_treat, the default, and per_protocol), up to the as-of day;
- units: events per event-priced kind; per day-priced kind the days of stays that fall in the
  window (a one-day event: one day on its day); contact hours (duration_min / 60) where the
  unit is an hour, contacts where it is a contact; days outside the stated coverage of a type
  add nothing, and the known days are the person-months;
- prices: amount x cpi(price year) / cpi(its own year); each kind's cost split by its item's
  payer shares (other 100% without any);
- evictions carried out: one unit each on its day, priced by the eviction item;
- benefits per payer: for each crisis, police and eviction kind the cohort's before units x known
  person-months in the window / known person-months before, minus the units in the window,
  times price and share; support cost: the contacts in the window; balance = benefit - cost;
- sensitivity: the whole balance recomputed with one item's price at its low and high value
  (+-25% where no range is given) and with the before rate x 0.75.

KOERS_TEST_SEED fixes the seed (printed).
"""
import datetime
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
import test_measures_v2_csv as v2  # noqa: E402  (its generator, windows and stays)

ROLES = ("care_worker", "addiction_worker", "neighbourhood_team", "municipality", "experience_expert",
         "significant_other", "general_practitioner", "housing", "police_liaison", "other")
MODES = ("face_to_face", "home_visit", "outreach", "phone", "digital", "group")
PM = Fraction("30.4375")


def add_contacts(rows, rnd):
    """Support contacts for every client of the enrolment rows, before and after their start."""
    clients = sorted({r["client_id"] for r in rows["enrolment"]})
    n = 0
    for client in clients:
        for _ in range(rnd.randrange(0, 14)):
            n += 1
            d = v2.START + datetime.timedelta(days=rnd.randrange((v2.END - v2.START).days + 1))
            rows["contact"].append({
                "record_id": f"K-{n}", "client_id": client, "occurred_at": d.isoformat() + "T10:00:00+01:00",
                "source": "wijkteam", "with_role": rnd.choice(ROLES), "mode": rnd.choice(MODES),
                "initiated_by": rnd.choice(["participant", "professional", "network"]),
                "duration_min": str(rnd.choice([0, 15, 30, 45, 60, 75, 90, 120, 200])),
                "planned": rnd.choice(["true", "false"])})


def add_evictions(rows, rnd):
    """Eviction notices and evictions carried out for some clients, over the whole period, and
    a statement of the housing corporation's coverage that starts part-way."""
    clients = sorted({r["client_id"] for r in rows["enrolment"]})
    rows["status_change"] = []
    for i, client in enumerate(rnd.sample(clients, max(4, len(clients) // 2))):
        for j in range(rnd.randrange(1, 4)):
            d = v2.START + datetime.timedelta(days=rnd.randrange((v2.END - v2.START).days + 1))
            rows["status_change"].append({
                "record_id": f"S-{i}-{j}", "client_id": client, "occurred_at": d.isoformat() + "T09:00:00+01:00",
                "source": "woningcorp", "housing": "", "rent_arrears": "",
                "eviction": rnd.choice(["notice", "evicted", "evicted"]), "daytime_activity": "",
                "income_source": "", "debt_counselling": ""})
    rows["coverage"].append({
        "record_id": "COV-S", "occurred_at": v2.END.isoformat(), "source": "woningcorp",
        "covered_type": "status_change",
        "covered_from": (v2.START + datetime.timedelta(days=rnd.randrange(30, 300))).isoformat(),
        "covered_to": ""})


def inputs(db):
    """The tables the MKBA prices with: {(event_type, kind): item}, {item: (amount, per, year,
    low, high)}, {item: [(payer, share)]}, {year: cpi}, settings."""
    cmap = {(r[0], r[1]): r[2] for r in k.psql("SELECT event_type, kind, item FROM koers.unit_cost_map", db)}
    items = {r[0]: (Fraction(r[1]), r[2], int(r[3]), Fraction(r[4]) if r[4] not in ("", "NULL") else None,
                    Fraction(r[5]) if r[5] not in ("", "NULL") else None)
             for r in k.psql("SELECT item, amount_eur, per, price_year, low_eur, high_eur FROM koers.unit_cost", db)}
    payers = defaultdict(list)
    for item, payer, share in k.psql("SELECT item, payer, share FROM koers.unit_cost_payer", db):
        payers[item].append((payer, Fraction(share)))
    cpi = {int(r[0]): Fraction(r[1]) for r in k.psql("SELECT year, cpi FROM koers.price_index", db)}
    setting = dict(k.psql("SELECT name, value FROM koers.setting WHERE name LIKE 'mkba%'", db))
    return cmap, items, payers, cpi, setting


def units(rows, ps, key, as_of, window, cmap, items, known):
    """{(event_type, kind): [units before, units in the window]}, {type: [known days before,
    in the window]}: over every participant enrolled by as_of."""
    def is_known(t, d):
        return t not in known or d in known[t]
    contacts = defaultdict(list)
    voided = {(c["source"], c["target_type"], c["target_record_id"]) for c in rows["correction"]}
    for r in rows["contact"]:
        if (r["source"], "contact", r["record_id"]) not in voided:
            contacts[k.participant(key, r["client_id"])].append(
                (v2.local_day(k.parse_time_ms(r["occurred_at"])), r["with_role"], int(r["duration_min"])))
    evictions = defaultdict(list)
    for r in rows.get("status_change", []):
        if r["eviction"] == "evicted" and (r["source"], "status_change", r["record_id"]) not in voided:
            evictions[k.participant(key, r["client_id"])].append(v2.local_day(k.parse_time_ms(r["occurred_at"])))
    u = defaultdict(lambda: [Fraction(0), Fraction(0)])
    exposure = defaultdict(lambda: [0, 0])
    for pid, p in ps.items():
        if not p.enrolment:
            continue
        w = v2.windows(p, as_of)
        if w is None or window not in w:
            continue
        sides = ((0, w["before"]), (1, w[window]))
        for side, ds in sides:
            for t in ("crisis", "police_call", "contact", "status_change"):
                exposure[t][side] += sum(1 for d in ds if is_known(t, d))
            if ("status_change", "evicted") in cmap:
                for d in evictions[pid]:
                    if d in ds and d <= as_of and is_known("status_change", d):
                        u[("status_change", "evicted")][side] += 1
            for kind, ev, cov in p.stays(as_of):
                item = cmap.get(("crisis", kind))
                if not item:
                    continue
                if items[item][1] == "event":
                    if ev in ds and ev <= as_of and is_known("crisis", ev):
                        u[("crisis", kind)][side] += 1
                elif cov:
                    u[("crisis", kind)][side] += sum(1 for d in cov if d in ds and is_known("crisis", d))
                elif ev in ds and ev <= as_of and is_known("crisis", ev):
                    u[("crisis", kind)][side] += 1  # a one-day event: one billable day
            for d, kind in p.police:
                if (("police_call", kind) in cmap and d in ds and d <= as_of
                        and is_known("police_call", d)):
                    u[("police_call", kind)][side] += 1
            if side == 1:
                for d, role, minutes in contacts[pid]:
                    item = cmap.get(("contact", role))
                    if item and d in ds and d <= as_of and is_known("contact", d):
                        u[("contact", role)][1] += Fraction(minutes, 60) if items[item][1] == "hour" else 1
    return u, exposure


def table(u, exposure, cmap, items, payers, cpi, price_year, f, price_of=None):
    """{payer: [support cost, benefit]} (exact); price_of(item) overrides an item's price."""
    out = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for (t, kind), (ub, ud) in u.items():
        item = cmap[(t, kind)]
        amount, _per, year, _lo, _hi = items[item]
        price = price_of(item) if price_of and price_of(item) is not None else amount * cpi[price_year] / cpi[year]
        for payer, share in payers.get(item) or [("other", Fraction(1))]:
            if t == "contact":
                out[payer][0] += share * price * ud
            else:
                pmb, pmd = Fraction(exposure[t][0]) / PM, Fraction(exposure[t][1]) / PM
                out[payer][1] += share * price * (f * ub * pmd / pmb - ud)
    return out


def r2(x):
    return Decimal(x.numerator) / Decimal(x.denominator) if isinstance(x, Fraction) else Decimal(x)


def money(x):
    return r2(x).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def check(c, db, rows, ps, key, known, as_of, window, inp):
    cmap, items, payers, cpi, setting = inp
    py = int(setting["mkba_price_year"])
    f = Fraction(setting["mkba_rtm_factor"])
    fv = Fraction(setting["mkba_rtm_variation"])
    rng = Fraction(setting["mkba_default_range"])
    u, exposure = units(rows, ps, key, as_of, window, cmap, items, known)
    exp = table(u, exposure, cmap, items, payers, cpi, py, f)
    got = {r[0]: (Decimal(r[1]), Decimal(r[2]), Decimal(r[3])) for r in k.psql(
        f"SELECT payer, support_cost, benefit, balance FROM koers.mkba('{as_of}', '{window}')", db)}
    want = {p: (money(sc), money(b), money(b - sc)) for p, (sc, b) in exp.items()}
    tot_sc = sum((v[0] for v in exp.values()), Fraction(0))
    tot_b = sum((v[1] for v in exp.values()), Fraction(0))
    want["total"] = (money(tot_sc), money(tot_b), money(tot_b - tot_sc))
    # Each payer row is rounded once from its exact sum; allow a cent for the database's
    # numeric division (20 significant digits) landing on the other side of a half cent.
    bad = [(p, want.get(p), got.get(p)) for p in sorted(set(want) | set(got))
           if any(abs((want.get(p) or (0, 0, 0))[i] - (got.get(p) or (0, 0, 0))[i]) > Decimal("0.01")
                  for i in range(3))]
    c.ok(f"mkba({as_of}, {window}): support cost, benefit and balance per stakeholder and in total equal "
         f"the Python computation ({len(want)} rows; total balance {want['total'][2]})", not bad, "", bad[:4])
    c.ok(f"mkba({as_of}, {window}): the data exercise the split item, benefits and support",
         tot_sc > 0 and any(len(v) > 1 for v in payers.values()) and len([p for p in exp if exp[p][1] != 0]) >= 3,
         "", (tot_sc, len(exp)))
    c.ok(f"mkba({as_of}, {window}): evictions carried out are priced (before or in the window), "
         "for the housing corporation",
         any(u.get(("status_change", "evicted"), ())) and exp.get("housing_corporation", (0, 0))[1] != 0, "",
         (u.get(("status_change", "evicted")), exp.get("housing_corporation")))

    # Sensitivity: each variation recomputed whole, not by the linear shortcut.
    sens = {(r[0], r[1]): (Decimal(r[2]), Decimal(r[3])) for r in k.psql(
        f"SELECT variation, coalesce(item, ''), balance_low, balance_high"
        f" FROM koers.mkba_sensitivity('{as_of}', '{window}')", db)}
    used = sorted({cmap[key_] for key_ in u})
    wants = {}
    for item in used:
        amount, _per, year, lo, hi = items[item]
        for side, v in (("lo", lo if lo is not None else amount * (1 - rng)),
                        ("hi", hi if hi is not None else amount * (1 + rng))):
            t = table(u, exposure, cmap, items, payers, cpi, py, f,
                      price_of=lambda it, it0=item, v=v, year=year: v * cpi[py] / cpi[year] if it == it0 else None)
            wants.setdefault(("unit_cost", item), []).append(money(sum((b - sc for sc, b in t.values()), Fraction(0))))
    for fx in (min(f, fv), max(f, fv)):
        t = table(u, exposure, cmap, items, payers, cpi, py, fx)
        wants.setdefault(("rtm_factor", ""), []).append(money(sum((b - sc for sc, b in t.values()), Fraction(0))))
    bad = [(key_, wants.get(key_), sens.get(key_)) for key_ in sorted(set(wants) | set(sens))
           if key_ not in wants or key_ not in sens
           or any(abs(a - b) > Decimal("0.01") for a, b in zip(wants[key_], sens[key_]))]
    c.ok(f"mkba_sensitivity({as_of}, {window}): the balance with each unit cost low and high and the "
         f"before rate x {fv} equals the table recomputed ({len(wants)} variations)", not bad, "", bad[:4])


def main():
    k.require_env()
    c = k.Checks("test_mkba_csv")
    seed = int(os.environ.get("KOERS_TEST_SEED", random.randrange(1, 1_000_000)))
    print(f"# seed {seed}")
    rnd = random.Random(seed)
    rows = v2.generate(rnd)
    add_contacts(rows, rnd)
    add_evictions(rows, rnd)
    run = k.new_run_names("mkba")
    d = k.tempdir(c, "mkba")
    run["keyfile"], key = k.write_key_file(d)
    exports = Path(d) / "exports"
    exports.mkdir()
    v2.write_csv(exports, rows)
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    try:
        c.program("koers-consume --migrate", k.migrate(run["db"]), 0)
        c.program("koers-produce import", k.produce("import", "--key-file", run["keyfile"],
                                                    "--topic-prefix", run["prefix"], exports), 0)
        c.program("koers-consume --until-caught-up",
                  k.consume(run["db"], run["prefix"], run["group"], "--until-caught-up"), 0)
        ps = v2.people(rows, key)
        known = v2.known_days(rows)
        inp = inputs(run["db"])
        for as_of in v2.AS_OF:
            for window in ("intention_to_treat", "per_protocol"):
                c.run(check, c, run["db"], rows, ps, key, known, as_of, window, inp)
    except Exception:  # noqa: BLE001
        import traceback
        c.failed += 1
        print("FAIL the test raised:")
        traceback.print_exc(file=sys.stdout)
    c.finish()


if __name__ == "__main__":
    main()
