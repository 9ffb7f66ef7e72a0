#!/usr/bin/env python3
"""End to end: `cmake --install` into a fresh prefix gives a working set of programs.

1. Configure and build the source tree without tests into build-install-test (beside the
   source, gitignored; kept between runs so that a rebuild is incremental), then
   `cmake --install --prefix` into a new temporary directory.
2. The files are where the usual layout puts them: bin/koers-{produce,consume,report},
   share/koers/schemas/*.avsc (and schemas/history/*.avsc) and share/koers/sql/*.sql
   (byte-identical to the source),
   share/koers/examples/*.conf, share/doc/koers/runbook.md, and systemd units in
   lib/systemd/system whose ExecStart names the installed program and PREFIX/etc/koers.
3. The installed programs answer --version and --help; every example configuration is read
   by the program it is for (--dump-config, secrets redacted); `systemd-analyze verify`
   accepts the units of the programs that are installed, and `systemd-analyze security`
   scores their hardening at most 2.0 (of 10).
4. Only the installed programs, on the real services: --migrate on a fresh database, a small
   synth cohort to Kafka and consumed into it, equal to the rows computed here from the same
   seed's CSV (written by the installed synth --csv), and koers-report over it.
5. The tree is relocatable: configured for one prefix, installed into another and then moved
   to a third place, koers-dash (no --static-dir) serves the moved tree's own pages: its
   login page carries a mark added here to the moved copy, and the chart library is served
   when it was installed.
"""
import filecmp
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

PROGRAMS = ("koers-produce", "koers-consume", "koers-report")
SEED = 90210


def installed_env():
    env = k.program_env()
    for v in ("KOERS_BIN", "KOERS_CONFIG", "KOERS_LOG_FORMAT"):
        env.pop(v, None)
    return env


def build_and_install(c, prefix, configured):
    src = k.repo_dir()
    build = Path(os.environ.get("KOERS_INSTALL_TEST_BUILD_DIR") or src / "build-install-test")
    jobs = str(min(2, os.cpu_count() or 1))
    steps = [
        # Configured for a prefix that never exists: nothing may depend on it (koers-dash
        # finds its pages relative to its own place).
        ("configure", ["cmake", "-S", src, "-B", build, "-DBUILD_TESTING=OFF",
                       "-DCMAKE_BUILD_TYPE=RelWithDebInfo", f"-DCMAKE_INSTALL_PREFIX={configured}"]),
        ("build", ["cmake", "--build", build, "-j", jobs]),
        ("install", ["cmake", "--install", build, "--prefix", prefix]),
    ]
    for what, argv in steps:
        r = k.run(argv, timeout=800)
        if not c.program(f"cmake {what}", r, 0):
            if r.out:
                print("     " + r.out[-3000:].replace("\n", "\n     "))
            return False
    return True


def check_layout(c, prefix):
    src = k.repo_dir()
    p = Path(prefix)
    for name in PROGRAMS:
        c.ok(f"bin/{name} is installed and executable", os.access(p / "bin" / name, os.X_OK))
    schemas = sorted(x.name for x in (src / "schemas").glob("*.avsc"))
    c.equal("share/koers/schemas holds every schema", schemas,
            sorted(x.name for x in (p / "share/koers/schemas").glob("*.avsc")))
    _m, mismatch, errors = filecmp.cmpfiles(src / "schemas", p / "share/koers/schemas", schemas,
                                            shallow=False)
    c.ok("installed schemas are byte-identical", not mismatch and not errors, "identical",
         mismatch + errors)
    history = sorted(x.name for x in (src / "schemas/history").glob("*.avsc"))
    c.ok("schemas/history holds earlier schema versions", bool(history), "some", history)
    c.equal("share/koers/schemas/history holds them too", history,
            sorted(x.name for x in (p / "share/koers/schemas/history").glob("*.avsc")))
    _m, mismatch, errors = filecmp.cmpfiles(src / "schemas/history", p / "share/koers/schemas/history",
                                            history, shallow=False)
    c.ok("installed earlier schema versions are byte-identical", not mismatch and not errors,
         "identical", mismatch + errors)
    sqls = sorted(x.name for x in (src / "sql").glob("*.sql"))
    c.equal("share/koers/sql holds every migration", sqls,
            sorted(x.name for x in (p / "share/koers/sql").glob("*.sql")))
    _m, mismatch, errors = filecmp.cmpfiles(src / "sql", p / "share/koers/sql", sqls, shallow=False)
    c.ok("installed migrations are byte-identical", not mismatch and not errors, "identical",
         mismatch + errors)
    examples = sorted(x.name for x in (src / "packaging/config").iterdir())
    c.equal("share/koers/examples holds the example configuration", examples,
            sorted(x.name for x in (p / "share/koers/examples").iterdir()))
    c.ok("share/doc/koers/runbook.md is installed", (p / "share/doc/koers/runbook.md").is_file())
    if (p / "bin/koers-dash").exists():
        pages = p / "share/koers/dashboards/static"
        c.ok("share/koers/dashboards/static holds the dashboard's pages",
             pages.is_dir() and any(pages.glob("*.html")), "*.html", pages)
    for unit, prog in (("koers-consume.service", "koers-consume"),
                       ("koers-dash.service", "koers-dash")):
        f = p / "lib/systemd/system" / unit
        if not c.ok(f"lib/systemd/system/{unit} is installed", f.is_file()):
            continue
        text = f.read_text()
        want = f"ExecStart={p}/bin/{prog} --config {p}/etc/koers/{prog}.conf"
        c.ok(f"{unit}: ExecStart names the installed program and its configuration",
             want in text, want, [x for x in text.splitlines() if x.startswith("ExecStart")])
        c.ok(f"{unit}: no placeholder left", "@" not in text.replace("@system-service", "")
             .replace("~@privileged @resources", ""), "no @...@", "placeholder")


def check_programs(c, prefix):
    env = installed_env()
    if (Path(prefix) / "bin/koers-dash").exists():
        for arg in ("--version", "--help"):
            r = k.run([Path(prefix) / "bin/koers-dash", arg], env=env, timeout=30)
            c.program(f"installed koers-dash {arg}", r, 0)
    for name in PROGRAMS:
        exe = str(Path(prefix) / "bin" / name)
        r = k.run([exe, "--version"], env=env, timeout=30)
        c.program(f"installed {name} --version", r, 0)
        c.ok(f"{name} --version names program and version", r.out.startswith(f"{name} 0."),
             f"{name} 0.x", r.out.strip())
        r = k.run([exe, "--help"], env=env, timeout=30)
        c.program(f"installed {name} --help", r, 0)
        c.ok(f"{name} --help documents --config and --dump-config",
             "--config" in r.out and "--dump-config" in r.out, "--config, --dump-config", r.out[:200])
    # Each example is read by its program; secrets are redacted.
    ex = Path(prefix) / "share/koers/examples"
    for conf in sorted(ex.glob("*.conf")):
        prog = next(p for p in PROGRAMS if conf.name.startswith(p))
        r = k.run([str(Path(prefix) / "bin" / prog), "--config", conf, "--dump-config"], env=env,
                  timeout=30)
        c.program(f"{prog} reads examples/{conf.name}", r, 0)
        c.ok(f"examples/{conf.name}: no secret printed", "CHANGE-ME" not in r.out, "redacted",
             [x for x in r.out.splitlines() if "CHANGE-ME" in x])
    tls = (ex / "koers-consume-tls.conf").read_text()
    c.ok("the TLS example uses SASL_SSL and sslmode=verify-full",
         "kafka.security.protocol = SASL_SSL" in tls and "sslmode=verify-full" in tls)


def check_systemd(c, prefix):
    tool = shutil.which("systemd-analyze")
    if not tool:
        c.ok("systemd-analyze is available (Debian package systemd)", False)
        return
    units = Path(prefix) / "lib/systemd/system"
    for unit, prog in (("koers-consume.service", "koers-consume"),
                       ("koers-dash.service", "koers-dash")):
        if not (Path(prefix) / "bin" / prog).exists():
            print(f"# {unit}: not verified, {prog} is not built in this tree")
            continue
        r = k.run([tool, "verify", str(units / unit)], timeout=60)
        # verify also reports on units it pulls in from the host (none here) and cannot
        # resolve a missing User= at build time; what it says about our unit must be nothing.
        ours = [line for line in (r.out + r.err).splitlines() if unit in line]
        c.ok(f"systemd-analyze verify {unit}: no complaint", r.rc == 0 and not ours, "exit 0, quiet",
             f"exit {r.rc}: {ours or (r.out + r.err).strip()[:800]}")
        # The hardening options: systemd's own exposure score, 0 (locked down) .. 10 (none).
        r = k.run([tool, "security", "--offline=true", "--threshold=20", str(units / unit)],
                  timeout=60)
        score = [line for line in r.out.splitlines() if "Overall exposure level" in line]
        c.ok(f"systemd-analyze security {unit}: exposure at most 2.0", r.rc == 0 and score,
             "exit 0, exposure <= 2.0", f"exit {r.rc}: {score or r.err.strip()[:300]}")


def check_round_trip(c, prefix, tmp):
    env = installed_env()
    b = Path(prefix) / "bin"
    run = k.new_run_names("install")
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    r = k.run([b / "koers-consume", "-d", f"dbname={run['db']}", "--migrate"], env=env, timeout=60)
    if not c.program("installed koers-consume --migrate on a fresh database", r, 0):
        return
    synth = ["synth", "--participants", "6", "--months", "4", "--seed", str(SEED)]
    csv_dir = Path(tmp) / "csv"
    csv_dir.mkdir()
    r = k.run([b / "koers-produce", *synth, "--csv", csv_dir], env=env, timeout=120)
    c.program("installed synth --csv", r, 0)
    r = k.run([b / "koers-produce", *synth, "--topic-prefix", run["prefix"]], env=env, timeout=180)
    if not c.program("installed synth to Kafka", r, 0):
        return
    r = k.run([b / "koers-consume", "-d", f"dbname={run['db']}", "--topic-prefix", run["prefix"],
               "-g", run["group"], "--until-caught-up"], env=env, timeout=180)
    if not c.program("installed koers-consume --until-caught-up", r, 0):
        return
    expected = k.expected_from_dir(csv_dir, k.synth_key(SEED))
    n = sum(len(v) for v in expected.values())
    c.equal("consumer: new, already present, rejected", (n, 0, 0), k.consume_counts(r.err))
    tables = k.all_tables(run["db"])
    for t in k.EVENT_TYPES:
        c.rows(f"koers.{t} = the cohort computed here", expected[t], tables[t])
    r = k.run([b / "koers-report", "-d", f"dbname={run['db']}", "--as-of", "2024-06-30"], env=env,
              timeout=120)
    c.program("installed koers-report", r, 0)
    c.ok("the report covers the cohort", "cohort demo" in r.out or "demo" in r.out, "demo",
         r.out[:300])


def http_get(url):
    """(status, body) of a GET; (None, error text) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return None, str(e).encode()


def check_relocated(c, prefix, configured, tmp):
    """Moves the installed tree and runs its koers-dash without --static-dir."""
    env = installed_env()
    env.pop("KOERS_DASH_STATIC_DIR", None)
    if not (Path(prefix) / "bin/koers-dash").exists():
        c.ok("koers-dash is built in this tree (libmicrohttpd, libsodium)", False)
        return
    moved = Path(tmp) / "moved" / "koers-elsewhere"
    moved.parent.mkdir()
    shutil.move(str(prefix), str(moved))
    c.ok("neither the configured nor the install prefix exists any more",
         not Path(prefix).exists() and not Path(configured).exists(), "gone", (prefix, configured))
    static = moved / "share/koers/dashboards/static"
    mark = f"<!-- koers relocated tree {secrets.token_hex(8)} -->"
    with open(static / "login.html", "a", encoding="utf-8") as f:
        f.write(mark + "\n")

    run = k.new_run_names("reloc")
    k.create_db(run["db"])
    c.cleanup(k.drop_db, run["db"])
    r = k.run([moved / "bin/koers-consume", "-d", f"dbname={run['db']}", "--migrate"], env=env, timeout=60)
    if not c.program("moved koers-consume --migrate", r, 0):
        return
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log_path = Path(tmp) / "koers-dash-moved.log"
    with open(log_path, "wb") as log:
        # From another working directory: nothing may be found relative to the current one.
        proc = subprocess.Popen([moved / "bin/koers-dash", "-d", f"dbname={run['db']} user=koers_dash",
                                 "--listen", f"127.0.0.1:{port}"], env=env, cwd=tmp, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            status, _ = http_get(base + "/healthz")
            if status == 200:
                break
            time.sleep(0.2)
        if not c.ok("moved koers-dash starts and answers /healthz", status == 200, 200,
                    (status, log_path.read_text(errors="replace")[-1500:])):
            return
        status, body = http_get(base + "/login")
        c.ok("moved koers-dash serves the login page of the moved tree (with the mark added here)",
             status == 200 and mark.encode() in body, f"200 with {mark}",
             (status, body[-200:], log_path.read_text(errors="replace")[-800:]))
        c.ok("koers-dash names the directory it serves the pages from",
             f"(pages from {static})" in log_path.read_text(errors="replace"), str(static),
             log_path.read_text(errors="replace")[-800:])
        status, body = http_get(base + "/static/style.css")
        c.ok("moved koers-dash serves style.css byte for byte", status == 200 and body == (static / "style.css").read_bytes(),
             "the installed file", status)
        chart = static / "vendor/chart.umd.min.js"
        if chart.exists():
            # Behind the login: a 401/303 says it is known; the content is compared by the
            # browser test. Here: the server did not warn that it is missing.
            c.ok("the installed chart library is found", "chart library is missing" not in
                 log_path.read_text(errors="replace"), "no warning", log_path.read_text(errors="replace")[-800:])
        else:
            print("# chart library not installed (scripts/install-web not run): not checked")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        c.equal("moved koers-dash stops on SIGTERM with exit 0", 0, rc)


def main():
    k.require_env()
    c = k.Checks("test_install")
    tmp = k.tempdir(c, "install")
    prefix = Path(tmp) / "prefix"
    configured = Path(tmp) / "configured-prefix"
    if not c.run(build_and_install, c, prefix, configured):
        c.finish()
    c.run(check_layout, c, prefix)
    c.run(check_programs, c, prefix)
    c.run(check_systemd, c, prefix)
    c.run(check_round_trip, c, prefix, tmp)
    c.run(check_relocated, c, prefix, configured, tmp)
    c.finish()


if __name__ == "__main__":
    main()
