#!/usr/bin/env python3
"""Writes koers' reliability report (Markdown) from what the reliability suite left behind.

Inputs: the JSON files the tests and scripts/fuzz write (faults, scale_out, bad_input,
schema_evolution, privacy, least_privilege, fuzz; see tests/e2e/koers_reliability.py), the
JUnit XML of the ctest run, and the test build's CMakeCache (sanitizer settings).
usage: reliability_report.py --dir DIR --junit FILE --build DIR --out FILE [--mode bounded|soak]
       [--seconds N] [--exit N]
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def load(d, name):
    p = Path(d) / f"{name}.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def junit(path):
    """[(name, status, seconds, sanitizer marks found)] from ctest's JUnit file."""
    out = []
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return out
    for tc in root.iter("testcase"):
        status = tc.get("status") or "run"
        if tc.find("failure") is not None or tc.find("error") is not None:
            status = "failed"
        elif tc.find("skipped") is not None:
            status = "skipped"
        else:
            status = "passed"
        text = "".join(x.text or "" for x in tc.iter() if x.tag in ("system-out", "failure", "error"))
        marks = [m for m in SANITIZER_MARKS if m in text]
        out.append((tc.get("name"), status, float(tc.get("time") or 0), marks))
    return out


def cache(build):
    vals = {}
    try:
        for line in (Path(build) / "CMakeCache.txt").read_text().splitlines():
            m = re.match(r"^([A-Za-z_]+):\w+=(.*)$", line)
            if m:
                vals[m.group(1)] = m.group(2)
    except OSError:
        pass
    return vals


def git(*args):
    repo = Path(__file__).resolve().parents[2]
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def yesno(ok):
    return "yes" if ok else "**NO**"


def esc(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--junit", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", default="bounded")
    ap.add_argument("--seconds", type=int, default=0)
    ap.add_argument("--exit", type=int, default=0)
    a = ap.parse_args()

    faults = load(a.dir, "faults")
    scale = load(a.dir, "scale_out")
    bad = load(a.dir, "bad_input")
    evol = load(a.dir, "schema_evolution")
    priv = load(a.dir, "privacy")
    lp = load(a.dir, "least_privilege")
    fuzz = load(a.dir, "fuzz")
    tests = junit(a.junit)
    cc = cache(a.build)
    L = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    passed = sum(1 for t in tests if t[1] == "passed")
    failed = [t for t in tests if t[1] == "failed"]
    marks = [(t[0], t[3]) for t in tests if t[3]]
    L.append("# koers reliability report")
    L.append("")
    L.append(f"Generated {now} by `scripts/reliability{' --soak' if a.mode == 'soak' else ''}` "
             f"({a.mode} run, {a.seconds // 60} min {a.seconds % 60} s) at commit {head}{dirty}, "
             f"on {platform.system()} {platform.release()}, {os.cpu_count()} cores. "
             f"Every figure below was measured in this run.")
    L.append("")
    L.append("## Summary")
    L.append("")
    L.append("| what | result |")
    L.append("|---|---|")
    L.append(f"| whole test suite (ctest), built with AddressSanitizer + UBSan | {passed} passed, "
             f"{len(failed)} failed of {len(tests)}; sanitizer reports: {len(marks)} |")
    if faults:
        kinds = faults.get("faults_by_kind", {})
        inj = sum(v[0] for v in kinds.values())
        surv = sum(v[1] for v in kinds.values())
        L.append(f"| faults injected / survived (test_faults) | {inj} / {surv} over a stream of "
                 f"{faults.get('events', 0):,} events ({faults.get('messages') or 0:,} messages); "
                 f"{faults.get('checkpoints', 0)} checkpoints; "
                 f"{faults.get('passed', 0)} checks passed, {faults.get('failed', 0)} failed |")
    if scale:
        L.append(f"| scale-out (test_scale_out) | {scale.get('events', 0):,} events, 3 members on "
                 f"{scale.get('partitions')} partitions, {scale.get('killed')} killed, "
                 f"{scale.get('added')} added; {scale.get('passed', 0)} checks passed, "
                 f"{scale.get('failed', 0)} failed |")
    if bad:
        cases = bad.get("cases", [])
        ok = sum(1 for x in cases if x.get("ok"))
        L.append(f"| bad inputs tried (test_bad_input) | {len(cases)} cases ({bad.get('messages', 0)} "
                 f"messages, {bad.get('csv_files', 0)} CSV files); handled as specified: {ok} of "
                 f"{len(cases)} |")
    if evol:
        L.append(f"| schema evolution (test_schema_evolution) | versions {evol.get('versions')}: "
                 f"{evol.get('stored_by_new_consumer', 0)} messages stored by the consumer that "
                 f"knows them, {evol.get('dead_lettered_by_old_consumer', 0)} dead-lettered by the "
                 f"one that does not; {evol.get('passed', 0)} checks passed, {evol.get('failed', 0)} failed |")
    if fuzz:
        parts = [f"{t}: {v.get('executions', 0):,} executions in {v.get('seconds', 0)} s "
                 f"({v.get('status')})" for t, v in fuzz.get("targets", {}).items()]
        L.append(f"| fuzzing (scripts/fuzz, libFuzzer) | {'; '.join(parts)}; findings: "
                 f"{fuzz.get('findings', 0)} |")
    if priv:
        L.append(f"| privacy on the bytes (test_privacy) | {priv.get('needles', 0)} identifiers in "
                 f"{priv.get('rows_with_identifiers', 0)} rows; scanned: "
                 f"{', '.join(priv.get('scanned', []))}; {priv.get('passed', 0)} checks passed, "
                 f"{priv.get('failed', 0)} failed |")
    if lp:
        L.append(f"| least privilege (test_least_privilege) | roles {', '.join(lp.get('roles', []))}: "
                 f"{lp.get('forbidden_tried', 0)} forbidden actions tried, "
                 f"{lp.get('forbidden_refused', 0)} refused; {lp.get('passed', 0)} checks passed, "
                 f"{lp.get('failed', 0)} failed |")
    check_failures = sum((x or {}).get("failed", 0) for x in (faults, scale, bad, evol, priv, lp))
    if fuzz and fuzz.get("findings"):
        check_failures += fuzz["findings"]
    green = a.exit == 0 and not failed and not marks and not check_failures
    overall = "green" if green else (f"**RED** (suite exit {a.exit}, {len(failed)} test(s) failed,"
                                     f" {check_failures} failed check(s))")
    L.append(f"| overall | {overall} |")
    L.append("")

    if faults:
        L.append("## Faults on the real stack (test_faults)")
        L.append("")
        L.append(f"Stream: {faults.get('participants')} synthetic participants x 24 months, "
                 f"{faults.get('events', 0):,} distinct events, imported as CSV in "
                 f"{faults.get('chunks')} chunks; {faults.get('messages') or 0:,} messages in the "
                 f"topics at the end (a stopped import run again adds copies). Seed "
                 f"{faults.get('seed')}; run time {faults.get('seconds')} s.")
        L.append("")
        L.append("| fault | injected | survived |")
        L.append("|---|---|---|")
        for kind, (n, s) in faults.get("faults_by_kind", {}).items():
            L.append(f"| {esc(kind)} | {n} | {s} |")
        L.append(f"| consumer SIGKILLs part-way through the stream | "
                 f"{faults.get('consumer_kills_mid_stream')} of {faults.get('consumer_kills')} | |")
        L.append("")
        L.append("After every kill the database was checked against the stream: exactly the "
                 "distinct events below the stored offsets (count and digest), event_count_month "
                 "equal to a recount, every prepared measure table equal to a recomputation. At "
                 "the end the faulted database equalled an uninterrupted run and the CSV, "
                 "recorded_at included.")
        L.append("")
        L.append("| # | fault | detail |")
        L.append("|---|---|---|")
        for i, f in enumerate(faults.get("faults", []), 1):
            detail = ", ".join(f"{k_}={v}" for k_, v in f.items() if k_ not in ("kind", "label"))
            L.append(f"| {i} | {esc(f.get('kind'))} ({esc(f.get('label'))}) | {esc(detail)} |")
        L.append("")
    if scale:
        L.append("## Scale-out (test_scale_out)")
        L.append("")
        L.append(f"{scale.get('events', 0):,} events, {scale.get('messages', 0):,} messages on "
                 f"topics of {scale.get('partitions')} partitions; members "
                 f"{', '.join(scale.get('members', []))}; {scale.get('killed')} SIGKILLed and "
                 f"{scale.get('added')} added while the stream ran; new events stored per member "
                 f"at the end: {scale.get('stored_by_member_at_the_end')}. The group's database "
                 f"equalled one uninterrupted consumer's in every table, offset and aggregate.")
        L.append("")
    if bad:
        L.append("## Bad input catalogue (test_bad_input)")
        L.append("")
        L.append("Messages went onto the event topics between valid ones (all of which were "
                 "stored); CSV files were imported one at a time. Producer: exit 1 and a "
                 "`file:line: reason` message for a bad file or row, none of its bad rows sent. "
                 "Consumer: each bad message dead-lettered with its reason, its bytes kept.")
        L.append("")
        L.append("| # | input | category | case | how it was handled | as specified |")
        L.append("|---|---|---|---|---|---|")
        for i, x in enumerate(bad.get("cases", []), 1):
            how = x.get("handled", "")
            if x.get("kind") == "csv":
                how = f"exit {x.get('exit')}: {how}; good rows stored {x.get('good_rows')}, bad rows sent 0 of {x.get('bad_rows')}"
            L.append(f"| {i} | {x.get('kind')} | {esc(x.get('category'))} | {esc(x.get('name'))} | "
                     f"{esc(how)} | {yesno(x.get('ok'))} |")
        L.append("")
    if evol:
        L.append("## Schema evolution (test_schema_evolution, unit_codec)")
        L.append("")
        L.append("goal_change versions 0 (no weight), 1 (current) and 2 (adds horizon_days, "
                 "default null) mixed on one topic. `koers-consume --schema-dir "
                 "tests/data/schemas/evolution` stored all of them (weight defaulted to NULL for "
                 "version 0, horizon_days skipped); without it versions 0 and 2 were dead-lettered "
                 "as `unknown writer schema fingerprint …`. A schema directory with a version that "
                 "lacks a required or envelope field stops the consumer at start (exit 2). The "
                 "codec applies reader defaults itself (Avro C does not): unit_codec reads version "
                 "1 messages with a version 2 reader.")
        L.append("")
    if fuzz:
        L.append("## Fuzzing (scripts/fuzz)")
        L.append("")
        L.append(f"{fuzz.get('compiler')}, -fsanitize={fuzz.get('sanitizers')}; "
                 f"{fuzz.get('seconds_per_target')} s per target; findings go to "
                 "tests/data/fuzz/crashes/<target>/ and are replayed by the ctest tests "
                 "fuzz_replay_decode and fuzz_replay_csv in every build.")
        L.append("")
        L.append("| target | executions | seconds | coverage (edges) | corpus | crash files kept | new findings |")
        L.append("|---|---|---|---|---|---|---|")
        for t, v in fuzz.get("targets", {}).items():
            L.append(f"| fuzz_{t} | {v.get('executions', 0):,} | {v.get('seconds')} | "
                     f"{v.get('coverage_edges')} | {v.get('corpus')} | {v.get('crash_files')} | "
                     f"{v.get('new_findings')} |")
        L.append("")
    if priv:
        L.append("## Privacy on the bytes (test_privacy)")
        L.append("")
        L.append(f"Identifiers made for this run: {priv.get('identifiers')}; "
                 f"{priv.get('needles')} byte strings searched (as written and as digits). "
                 f"None was found in: {', '.join(priv.get('scanned', []))}.")
        L.append("")
        L.append("| column holding an identifier | rows stored | rows refused |")
        L.append("|---|---|---|")
        for col, v in sorted(priv.get("by_column", {}).items()):
            L.append(f"| {col} | {v.get('stored')} | {v.get('refused')} |")
        L.append("")
        L.append("client_id is pseudonymised; record_id and target_record_id only enter the keyed "
                 "event id; every other column refuses such values.")
        L.append("")
    if lp:
        L.append("## Least privilege (test_least_privilege)")
        L.append("")
        L.append(lp.get("note", ""))
        L.append("")
        L.append("| role | action | expected | result |")
        L.append("|---|---|---|---|")
        for x in lp.get("actions", []):
            L.append(f"| {x.get('role')} | {esc(x.get('action'))} | {x.get('expected')} | "
                     f"{esc(x.get('result'))} |")
        L.append("")
    L.append("## Sanitizers")
    L.append("")
    L.append(f"Test build `{a.build}`: CMAKE_BUILD_TYPE={cc.get('CMAKE_BUILD_TYPE', '?')}, "
             f"KOERS_SANITIZE={cc.get('KOERS_SANITIZE', '?')} (-fsanitize=address,undefined, "
             f"-fno-sanitize-recover=undefined), compiler {cc.get('CMAKE_C_COMPILER', '?')}; "
             f"ASAN_OPTIONS={os.environ.get('ASAN_OPTIONS', 'abort_on_error=1:detect_leaks=1')}, "
             f"UBSAN_OPTIONS={os.environ.get('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')}. "
             f"Every program the tests run is that build. Sanitizer reports in the test output: "
             f"{len(marks)}{' — ' + '; '.join(f'{n}: {m}' for n, m in marks) if marks else ''}.")
    L.append("")
    L.append("| test | result | seconds |")
    L.append("|---|---|---|")
    for name, status, secs, _m in tests:
        L.append(f"| {name} | {status if status == 'passed' else '**' + status + '**'} | {secs:.1f} |")
    L.append("")
    Path(a.out).write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
