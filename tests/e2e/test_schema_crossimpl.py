#!/usr/bin/env python3
"""Checks koers' Parsing Canonical Form and CRC-64-AVRO fingerprints against Apache Avro for Java.

Runs tests/tools/java-fingerprints (SchemaNormalization) and the C tool schema-fp over
schemas/*.avsc, schemas/history/*.avsc and tests/data/schemas/*.avsc, and compares canonical
form and fingerprint of every file. A third, independent CRC-64-AVRO in Python checks both fingerprints.

Environment: KOERS_BIN (CMake build directory, holds tests/schema-fp), KOERS_SOURCE_DIR
(defaults to this checkout), KOERS_STATE_DIR (defaults to <repo>/.koers; the Java classpath
is cached under its cache/ folder). Needs mvn and java on PATH.
"""
import os
import subprocess
import sys
from pathlib import Path

EVENT_TYPES = ("enrolment", "contact", "crisis", "goal_change", "police_call", "zrm_score",
               "stressor", "status_change", "coverage", "correction")
CRC64_EMPTY = 0xC15D213AA4D7A795


def crc64_avro(data: bytes) -> int:
    # Bit by bit from the specification, sharing nothing with lib/schema.c's table.
    fp = CRC64_EMPTY
    for b in data:
        x = (fp ^ b) & 0xFF
        for _ in range(8):
            x = (x >> 1) ^ (CRC64_EMPTY & -(x & 1))
        fp = (fp >> 8) ^ x
    return fp


def java_classpath(tool_dir: Path, cache: Path) -> str:
    pom = tool_dir / "pom.xml"
    cp_file = cache / "classpath.txt"
    # The cached list is reused until the pom changes or a jar it names has gone away.
    if cp_file.exists() and cp_file.stat().st_mtime >= pom.stat().st_mtime:
        cp = cp_file.read_text().strip()
        if cp and all(Path(j).is_file() for j in cp.split(os.pathsep)):
            return cp
    cache.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(pom),
         "dependency:build-classpath", f"-Dmdep.outputFile={cp_file}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if r.returncode != 0 or not cp_file.exists():
        sys.exit(f"mvn dependency:build-classpath failed ({r.returncode}):\n{r.stdout}")
    return cp_file.read_text().strip()


def run_tool(argv, what):
    """Runs a tool that prints name<TAB>canonical<TAB>fingerprint; returns {name: (canon, fp)}."""
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    out = {}
    for line in r.stdout.decode("utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].isdigit():
            print(f"{what}: unexpected output line {line!r}")
            continue
        out[parts[0]] = (parts[1], int(parts[2]))
    if r.returncode != 0:
        print(f"{what} exited {r.returncode}:\n{r.stderr.decode('utf-8', 'replace')}")
    return out


def main() -> int:
    repo = Path(os.environ.get("KOERS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
    state = Path(os.environ.get("KOERS_STATE_DIR") or repo / ".koers")
    kbin = os.environ.get("KOERS_BIN")
    if not kbin:
        print("KOERS_BIN is not set: point it at the CMake build directory")
        print("0 passed, 1 failed")
        return 1
    c_tool = Path(kbin) / "tests" / "schema-fp"
    tool_dir = repo / "tests" / "tools" / "java-fingerprints"

    files = sorted((repo / "schemas").glob("*.avsc")) + sorted((repo / "schemas" / "history").glob("*.avsc")) \
        + sorted((repo / "tests" / "data" / "schemas").glob("*.avsc"))
    names = [f.stem for f in files]
    passed = failed = 0

    # The tools name their output lines by file stem, so stems must not repeat.
    if len(set(names)) != len(names):
        print(f"FAIL: schema file names repeat: {names}")
        failed += 1
    missing = [t for t in EVENT_TYPES if not (repo / "schemas" / f"{t}.avsc").is_file()]
    if missing:
        print(f"FAIL: schemas/ lacks {', '.join(missing)}")
        failed += 1
    else:
        passed += 1

    cp = java_classpath(tool_dir, state / "cache" / "java-fingerprints")
    java = run_tool(["java", "-cp", cp, str(tool_dir / "Fingerprints.java")] + [str(f) for f in files], "java")
    c = run_tool([str(c_tool)] + [str(f) for f in files], "schema-fp")

    for name in names:
        problems = []
        if name not in java:
            problems.append("no result from Java")
        if name not in c:
            problems.append("no result from C")
        if not problems:
            (jcanon, jfp), (ccanon, cfp) = java[name], c[name]
            if jcanon != ccanon:
                problems.append(f"canonical forms differ:\n  java {jcanon}\n  c    {ccanon}")
            if jfp != cfp:
                problems.append(f"fingerprints differ: java {jfp}, c {cfp}")
            pyfp = crc64_avro(jcanon.encode("utf-8"))
            if pyfp != jfp:
                problems.append(f"Java's fingerprint {jfp} is not CRC-64-AVRO of its canonical form ({pyfp})")
        if problems:
            print(f"FAIL {name}: " + "; ".join(problems))
            failed += 1
        else:
            print(f"ok   {name} {c[name][1]}")
            passed += 1

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
