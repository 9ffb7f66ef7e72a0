#!/usr/bin/env python3
"""bench/latency.py: p50 and p95 latency of each dashboard query (or HTTP endpoint).

SQL mode (default): the blocks of --queries ("-- name: X" then one statement) run --runs times
each, round robin, in one psql session with \\timing; the time psql reports (send to last
row received) is the latency. HTTP mode (--url BASE with --endpoints FILE of "name path"
lines, --login USER:PASSWORD or $BENCH_DASH_LOGIN): logs in, then GETs BASE+path --runs times each, round robin,
with urllib, timed from the request to the last byte of the answer.
Prints key=value lines for bench/report.py: dash_<name>_p50, dash_<name>_p95 (milliseconds),
dash_<name>_rows. Python standard library only; the PG* environment selects the database.
"""
import argparse
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def nearest_rank(values, q):
    """The q-quantile by nearest rank (the smallest value with at least q of them at or below)."""
    v = sorted(values)
    k = max(1, -(-len(v) * q // 1))  # ceil(len * q)
    return v[int(k) - 1]


def psql(sql, *args):
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *args], input=sql,
                       text=True, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"latency.py: psql failed: {r.stderr.strip()}")
    return r.stdout


def sql_mode(args):
    blocks = re.split(r"^-- name: *(\S+) *$", open(args.queries).read(), flags=re.M)
    queries = [(blocks[i], blocks[i + 1].strip()) for i in range(1, len(blocks), 2)]
    cohort, participant = psql(
        "SELECT p.cohort, (SELECT q.participant FROM koers.participant q WHERE q.cohort = p.cohort"
        " ORDER BY q.last_event_day DESC, q.participant LIMIT 1)"
        " FROM koers.participant p WHERE p.cohort IS NOT NULL"
        " GROUP BY p.cohort ORDER BY count(*) DESC LIMIT 1").strip().split("|")
    script = [f"\\set cohort '{cohort}'", f"\\set participant '{participant}'"]
    # One untimed warm-up round, so that the first run does not pay for plans and cold pages
    # alone; then the timed rounds.
    for _, q in queries:
        script.append("\\o /dev/null")
        script.append(q)
    script.append("\\o")
    script.append("\\timing on")
    script.append("\\o /dev/null")
    for _ in range(args.runs):
        for _, q in queries:
            script.append(q)
    out = psql("\n".join(script) + "\n")
    times = [float(m) for m in re.findall(r"^Time: ([0-9.]+) ms", out, flags=re.M)]
    if len(times) != args.runs * len(queries):
        sys.exit(f"latency.py: expected {args.runs * len(queries)} timings, got {len(times)}")
    print(f"dash_cohort={cohort}")
    for i, (name, q) in enumerate(queries):
        mine = times[i::len(queries)]
        rows = psql(f"\\set cohort '{cohort}'\n\\set participant '{participant}'\n"
                    f"SELECT count(*) FROM ({q.rstrip(';')}) x;\n")
        print(f"dash_{name}_p50={nearest_rank(mine, 0.5):.2f}")
        print(f"dash_{name}_p95={nearest_rank(mine, 0.95):.2f}")
        print(f"dash_{name}_rows={rows.strip()}")


def login(base, user_password):
    """POST /login (as the login form does, asking for JSON); returns the session cookie."""
    user, password = user_password.split(":", 1)
    body = urllib.parse.urlencode({"user": user, "password": password}).encode()
    req = urllib.request.Request(base + "/login", data=body, method="POST",
                                 headers={"Accept": "application/json",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=60) as r:
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("koers_session="):
                return v.split(";", 1)[0]
    sys.exit("latency.py: login gave no session cookie")


def http_mode(args):
    endpoints = [line.split(None, 1) for line in open(args.endpoints) if line.strip()
                 and not line.startswith("#")]
    headers = {}
    user_password = args.login or os.environ.get("BENCH_DASH_LOGIN")
    if user_password:
        args.cookie = login(args.url, user_password)
    if args.cookie:
        headers["Cookie"] = args.cookie
    samples = {name: [] for name, _ in endpoints}

    errors = {name: 0 for name, _ in endpoints}

    def get(path, name):
        """Milliseconds to the last byte; a failed request counts its time and an error."""
        req = urllib.request.Request(args.url + path.strip(), headers=headers)
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=3600) as r:
                r.read()
        except (OSError, urllib.error.URLError) as e:
            errors[name] += 1
            print(f"latency.py: {path.strip()}: {e}", file=sys.stderr)
        return (time.perf_counter() - t0) * 1000

    # A warm-up request each (reported apart: the first after the data changed computes and
    # fills koers-dash's cache), then one timed request that sets the pace: an endpoint slower
    # than --budget allows for --runs requests gets fewer (at least 3), and one slower than
    # the whole budget only that request (reported as 1 request), so that a run at 10 million
    # events still ends.
    runs = {}
    firsts = {}
    for name, path in endpoints:
        firsts[name] = get(path, name)
    for name, path in endpoints:
        probe = get(path, name)
        samples[name].append(probe)
        if probe > args.budget * 1000:
            runs[name] = 0
        else:
            runs[name] = max(3, min(args.runs, int(args.budget * 1000 / max(probe, 1)))) - 1
    for rnd in range(args.runs):
        for name, path in endpoints:
            if rnd < runs[name]:
                samples[name].append(get(path, name))
    for name, path in endpoints:
        print(f"dash_{name}_p50={nearest_rank(samples[name], 0.5):.2f}")
        print(f"dash_{name}_p95={nearest_rank(samples[name], 0.95):.2f}")
        print(f"dash_{name}_rows={path.strip()}")
        print(f"dash_{name}_runs={len(samples[name])}")
        print(f"dash_{name}_first={firsts[name]:.2f}")
        print(f"dash_{name}_errors={errors[name]}")
    print("dash_mode=http")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--queries")
    ap.add_argument("--url")
    ap.add_argument("--endpoints")
    ap.add_argument("--cookie")
    ap.add_argument("--login", help="USER:PASSWORD for POST /login (or $BENCH_DASH_LOGIN, "
                    "which keeps it off the command line)")
    ap.add_argument("--budget", type=float, default=60,
                    help="seconds an endpoint's timed requests may take in all (HTTP mode)")
    args = ap.parse_args()
    if args.url:
        http_mode(args)
    else:
        sql_mode(args)


if __name__ == "__main__":
    main()
