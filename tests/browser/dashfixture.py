"""Fixture of the dashboard tests (tests/e2e/test_dashboard_*.py): a database of its own filled
through the real pipeline (koers-produce synth -> Kafka -> koers-consume), dashboard users of
every role, and a running koers-dash. Standard library only; uses tests/e2e/koers_e2e.py.

Cohorts: noord (40 participants), zuid (24, enrolling from June 2024) and klein (3: a cohort
too small to be shown to funders or partners).
"""
import http.cookiejar
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
import koers_e2e as e2e  # noqa: E402

COHORTS = (("noord", 40, 11, "2024-01-01"), ("zuid", 24, 12, "2024-06-01"), ("klein", 3, 13, "2024-03-01"))
ROLES = ("evaluator", "funder", "partner", "admin")
PARTNER_ORG = "wijkteam"


def artifacts_dir():
    d = Path(os.environ.get("KOERS_ARTIFACTS_DIR") or e2e.repo_dir() / "tests" / "artifacts") / "dashboard"
    d.mkdir(parents=True, exist_ok=True)
    return d


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Fixture:
    """The database, users and server of one test run; cleaned up by the Checks."""

    def __init__(self, checks, tag, server_args=(), data=True):
        """data=False: a migrated database without events (for tests of the server alone)."""
        self.checks = checks
        names = e2e.new_run_names(tag)
        self.db, self.prefix, self.group = names["db"], names["prefix"], names["group"]
        self.users = {}
        self.server = None
        self.server_log = None
        if data:
            self.load()
        else:
            e2e.create_db(self.db)
            checks.cleanup(e2e.drop_db, self.db)
            checks.program("koers-consume --migrate", e2e.migrate(self.db))
        self.add_users()
        self.start(server_args)

    # ------------------------------------------------------------ data
    def load(self):
        c = self.checks
        e2e.create_db(self.db)
        c.cleanup(e2e.drop_db, self.db)
        c.program("koers-consume --migrate", e2e.migrate(self.db))
        key, _ = e2e.write_key_file(e2e.tempdir(c, "dash-key"))
        for cohort, n, seed, start in COHORTS:
            r = e2e.produce("synth", "--key-file", key, "--participants", str(n), "--seed", str(seed),
                            "--cohort", cohort, "--start", start, "--months", "24",
                            "--topic-prefix", self.prefix, "-b", e2e.brokers())
            c.program(f"koers-produce synth cohort {cohort}", r)
        # One message that is not an event: the consumer rejects it (data quality shows it).
        junk = Path(e2e.tempdir(c, "dash-junk")) / "junk.bin"
        junk.write_bytes(b"not an Avro event")
        e2e.kcat_produce_file(self.prefix + "contact", 0, junk)
        r = e2e.consume(self.db, self.prefix, self.group, "-b", e2e.brokers(), "--until-caught-up")
        c.program("koers-consume --until-caught-up", r)

    def sql(self, query):
        return e2e.psql(query, self.db)

    # ------------------------------------------------------------ users and server
    def add_users(self):
        for role in ROLES:
            name = f"{role[:4]}-{secrets.token_hex(2)}"
            password = "pw-" + secrets.token_urlsafe(12)
            argv = [e2e.program("koers-dash"), "-d", f"dbname={self.db}", "user", "add", name,
                    "--role", role, "--password-stdin"]
            if role == "partner":
                argv += ["--organisation", PARTNER_ORG]
            r = e2e.run(argv, stdin_bytes=(password + "\n").encode())
            self.checks.program(f"koers-dash user add {role}", r)
            self.users[role] = (name, password)

    def start(self, extra=()):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        log_path = Path(e2e.tempdir(self.checks, "dash-log")) / "koers-dash.log"
        self.server_log = open(log_path, "w+b")
        argv = [e2e.program("koers-dash"), "-d", f"dbname={self.db} user=koers_dash",
                "--listen", f"127.0.0.1:{self.port}", "-b", e2e.brokers(), "-g", self.group, *extra]
        self.server = subprocess.Popen(argv, stdout=self.server_log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.checks.cleanup(self.stop)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                if self.server.poll() is not None:
                    break
                time.sleep(0.2)
        self.checks.ok("koers-dash starts and answers /healthz", False, "200", self.log())

    def log(self):
        self.server_log.flush()
        self.server_log.seek(0)
        return self.server_log.read().decode("utf-8", "replace")

    def stop(self):
        """SIGTERM: the server must stop by itself, with exit 0 and no sanitizer report."""
        if not self.server or self.server.poll() is not None:
            return
        self.server.send_signal(signal.SIGTERM)
        try:
            rc = self.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            rc = self.server.wait()
        log = self.log()
        self.checks.ok("koers-dash stops on SIGTERM with exit 0", rc == 0, 0, rc)
        bad = [b for b in ("AddressSanitizer", "runtime error:", "LeakSanitizer") if b in log]
        self.checks.ok("koers-dash: no sanitizer report", not bad, "none", log[-1500:] if bad else "")


class Client:
    """An HTTP client with its own cookies; never raises on an HTTP status."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  NoRedirect())

    def request(self, path, data=None, headers=None, method=None):
        h = {"Accept": "application/json"}
        h.update(headers or {})
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        req = urllib.request.Request(self.base + path, data=body, headers=h, method=method)
        try:
            with self.opener.open(req, timeout=120) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def login(self, name, password):
        return self.request("/login", {"user": name, "password": password})

    def json(self, path):
        status, headers, body = self.request(path)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def session_of(client):
    for c in client.jar:
        if c.name == "koers_session":
            return c.value
    return None
