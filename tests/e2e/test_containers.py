#!/usr/bin/env python3
"""End to end: the koers image, built with podman from docker/Dockerfile, runs against the Kafka
and PostgreSQL of scripts/services; optionally the whole compose stack on stand-in images.

1. `scripts/containers build` makes the image (a Debian base from debootstrap, cached per
   machine; the chart library from the host's dashboards/node_modules, as npm cannot reach its
   registry from inside a build here).
2. The image's programs, run as compose.yaml runs them (read-only root, /tmp a tmpfs, no
   capabilities, no-new-privileges, the host's network): `koers-consume --migrate` on a fresh
   database; `koers-produce import` of synthetic CSV files (written on the host by synth),
   the key given as a mounted 0444 secret that the entrypoint turns into a private copy;
   `koers-consume --until-caught-up` stores them. Every event table equals the rows computed
   here from the CSV files and the key. The same files imported again put every message on
   Kafka twice (counted with kcat); the image's consumer then stores nothing new: the rows
   stay those of the first import, exactly once.
3. `koers-dash user add` and `koers-dash` from the image: the server answers /healthz, refuses
   a wrong password, accepts the right one with a session cookie, then serves /api/me for that
   user and the chart library that the image took from the build context.
4. podman-compose (Debian's 1.0.3) brings docker/compose.yaml up with images built here in
   place of the official ones (KOERS_KAFKA_IMAGE, KOERS_POSTGRES_IMAGE: PostgreSQL 15 from
   Debian's packages, Kafka from the jars Maven resolved for scripts/services), the secrets
   from make-secrets; the steps go in the order of the file's depends_on conditions (see
   Stack). The demo producer's cohort is stored as computed here from synth's CSV with the
   secret key; a second run of it puts every event on Kafka twice and none in PostgreSQL twice;
   the published dashboard answers a login. Containers, volumes and network are removed.

Skipped (exit 77, reported by ctest as skipped, not passed) when KOERS_CONTAINERS=0, unless
CI=true: the image build takes minutes, the everyday run may leave it out; CI always runs it.
"""
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import koers_e2e as k  # noqa: E402
import dashfixture  # noqa: E402  (its HTTP client and free_port)

SKIP = 77  # tests/CMakeLists.txt: SKIP_RETURN_CODE
SYNTH = ["--participants", "12", "--months", "6", "--start", "2024-03-01"]
# What compose.yaml gives every koers container.
HARDENING = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
             "--security-opt", "no-new-privileges", "--network", "host"]


def enabled():
    if os.environ.get("CI", "").lower() in ("true", "1"):
        return True
    return os.environ.get("KOERS_CONTAINERS", "1") != "0"


def image_tag():
    """One tag per clone: worktrees on one machine share podman's store."""
    h = hashlib.sha1(str(k.repo_dir()).encode()).hexdigest()[:10]
    return f"localhost/koers:test-{h}"


def containers_env():
    r = k.run([k.repo_dir() / "scripts" / "containers", "env"], timeout=30)
    if r.rc != 0:
        raise RuntimeError(f"scripts/containers env: {r.err}")
    env = dict(os.environ)
    for m in re.finditer(r"^export (\w+)=(.*)$", r.out, re.M):
        env[m.group(1)] = m.group(2)
    return env


class Podman:
    def __init__(self, env):
        self.env = env

    def run(self, *args, timeout=300, stdin_bytes=None):
        return k.run(["podman", *args], timeout=timeout, env=self.env, stdin_bytes=stdin_bytes)


def koers_env(db, prefix, group, user="koers"):
    """The settings compose.yaml passes, pointed at the host's services."""
    return {"KOERS_BROKERS": k.brokers(), "KOERS_TOPIC_PREFIX": prefix, "KOERS_GROUP": group,
            "KOERS_LOG_FORMAT": "logfmt", "KOERS_TIME_ZONE": "Europe/Amsterdam",
            # the services' PostgreSQL trusts loopback; the socket directory is not mounted
            "PGHOST": "127.0.0.1", "PGPORT": os.environ["PGPORT"], "PGDATABASE": db,
            "PGUSER": user}


def env_args(env):
    out = []
    for name, value in env.items():
        out += ["-e", f"{name}={value}"]
    return out


def run_image(pm, tag, env, argv, mounts=(), timeout=300, stdin_bytes=None, extra=()):
    args = ["run", "--rm", *(["-i"] if stdin_bytes is not None else []), *HARDENING,
            *env_args(env), *extra]
    for src, dst in mounts:
        args += ["-v", f"{src}:{dst}:ro"]
    return pm.run(*args, tag, *argv, timeout=timeout, stdin_bytes=stdin_bytes)


def event_messages(prefix):
    return sum(len(k.kcat_messages(prefix + t)) for t in k.EVENT_TYPES)


def check_stream(c, pm, tag, run, tmp):
    db, prefix, group = run["db"], run["prefix"], run["group"]
    env = koers_env(db, prefix, group)
    k.create_db(db)
    c.cleanup(k.drop_db, db)
    r = run_image(pm, tag, env, ["koers-consume", "--migrate"])
    if not c.program("image: koers-consume --migrate", r, 0):
        return False
    applied = k.psql("SELECT count(*) FROM koers.schema_migration", db)[0][0] \
        if k.psql("SELECT to_regclass('koers.schema_migration') IS NOT NULL", db) == [["t"]] \
        else k.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'koers'", db)[0][0]
    c.ok("the image's migrations made schema koers", int(applied) > 0, "> 0", applied)

    # Synthetic exports written on the host; the key as compose mounts a secret (mode 0444).
    csv_dir = Path(tmp) / "exports"
    csv_dir.mkdir()
    os.chmod(tmp, 0o755)
    os.chmod(csv_dir, 0o755)
    r = k.produce("synth", *SYNTH, "--seed", "7316", "--csv", csv_dir)
    if not c.program("host: synth --csv (the exports)", r, 0):
        return False
    for f in csv_dir.iterdir():
        os.chmod(f, 0o444)
    key = secrets.token_hex(24).encode()
    keyfile = Path(tmp) / "koers_key"
    keyfile.write_bytes(key + b"\n")
    os.chmod(keyfile, 0o444)
    expected = k.expected_from_dir(csv_dir, key)
    n = sum(len(v) for v in expected.values())
    c.ok("the exports hold a cohort", n > 100, "> 100 events", n)

    penv = dict(env, KOERS_KEY_SECRET_FILE="/run/secrets/koers_key")
    mounts = [(keyfile, "/run/secrets/koers_key"), (csv_dir, "/exports")]
    r = run_image(pm, tag, penv, ["koers-produce", "import", "/exports"], mounts)
    if not c.program("image: koers-produce import /exports (key from the secret)", r, 0):
        return False
    c.equal("Kafka holds one message per event", n, event_messages(prefix))
    r = run_image(pm, tag, env, ["koers-consume", "--until-caught-up"])
    if not c.program("image: koers-consume --until-caught-up", r, 0):
        return False
    c.equal("image's consumer: new, already present, rejected", (n, 0, 0), k.consume_counts(r.err))
    tables = k.all_tables(db)
    for t in k.EVENT_TYPES:
        c.rows(f"koers.{t} = rows computed from {t}.csv with the key", expected[t], tables[t])

    # The same exports again: every message twice on Kafka, every event once in PostgreSQL.
    r = run_image(pm, tag, penv, ["koers-produce", "import", "/exports"], mounts)
    c.program("image: the same exports imported again", r, 0)
    c.equal("Kafka now holds every event twice", 2 * n, event_messages(prefix))
    r = run_image(pm, tag, env, ["koers-consume", "--until-caught-up"])
    c.program("image: koers-consume --until-caught-up, again", r, 0)
    c.equal("... stores nothing new", (0, n, 0), k.consume_counts(r.err))
    counts = {t: int(k.psql(f"SELECT count(*) FROM koers.{t}", db)[0][0]) for t in k.EVENT_TYPES}
    c.equal("PostgreSQL holds each produced event exactly once",
            {t: len(expected[t]) for t in k.EVENT_TYPES}, counts)
    return True


def check_dash(c, pm, tag, run, tmp):
    db, prefix, group = run["db"], run["prefix"], run["group"]
    name, password = "dash-" + secrets.token_hex(3), "pw-" + secrets.token_urlsafe(15)
    r = run_image(pm, tag, koers_env(db, prefix, group),
                  ["koers-dash", "user", "add", name, "--role", "evaluator", "--password-stdin"],
                  stdin_bytes=(password + "\n").encode())
    if not c.program("image: koers-dash user add", r, 0):
        return
    port = dashfixture.free_port()
    cname = f"koers-dash-{secrets.token_hex(4)}"
    env = koers_env(db, prefix, group, user="koers_dash")
    r = pm.run("run", "-d", "--name", cname, *HARDENING, *env_args(env), tag,
               "koers-dash", "--listen", f"127.0.0.1:{port}", "--group", group)
    if not c.program("image: koers-dash started", r, 0):
        return
    c.cleanup(lambda: pm.run("rm", "-f", "-t", "20", cname, timeout=60))
    base = f"http://127.0.0.1:{port}"
    client = dashfixture.Client(base)
    status, deadline = None, time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _, _ = client.request("/healthz")
            if status == 200:
                break
        except OSError:
            pass
        time.sleep(0.5)
    if not c.equal("koers-dash in the image answers /healthz", 200, status):
        print(pm.run("logs", cname).err[-2000:])
        return
    status, _, _ = client.login(name, "not-" + password)
    c.equal("a wrong password is refused", 401, status)
    status, _, _ = dashfixture.Client(base).request("/api/me")
    c.ok("no session: /api/me is refused", status in (401, 303), "401", status)
    status, headers, _ = client.login(name, password)
    c.ok("login: 200 with a session cookie", status == 200
         and dashfixture.session_of(client), "200 + koers_session", (status, headers.get("Set-Cookie")))
    status, me = client.json("/api/me")
    c.ok("/api/me names the user and role", status == 200 and me and me.get("user_name") == name
         and me.get("role") == "evaluator", f"{name} evaluator", (status, me))
    status, _, body = client.request("/static/chart.umd.min.js")
    want = (k.repo_dir() / "dashboards" / "node_modules" / "chart.js" / "dist"
            / "chart.umd.min.js").read_bytes()
    c.ok("the chart library the image took from the build context is served", status == 200
         and body == want, f"200, {len(want)} bytes", (status, len(body)))
    r = pm.run("stop", "-t", "30", cname, timeout=60)
    r2 = pm.run("inspect", "-f", "{{.State.ExitCode}}", cname, timeout=30)
    c.equal("koers-dash in the image stops on SIGTERM with exit 0", "0", r2.out.strip())


class Stack:
    """docker/compose.yaml under podman-compose, as project NAME, with the stand-in images.

    Debian's podman-compose 1.0.3 does not wait on depends_on conditions, and podman 4.3 without
    systemd runs no health checks by itself: the services are started here one step at a time
    in the order the conditions say, each step waiting for what the file waits for
    (service_healthy: `podman healthcheck run` until it passes; service_completed_successfully:
    `podman wait` and exit 0)."""

    def __init__(self, c, pm, tag, stand_ins, tmp):
        self.c, self.pm = c, pm
        self.project = f"koers{secrets.token_hex(4)}"
        self.secrets = Path(tmp) / "secrets"
        self.env = dict(pm.env, KOERS_SECRETS_DIR=str(self.secrets), KOERS_IMAGE=tag,
                        KOERS_DASH_BIND="127.0.0.1", KOERS_DASH_PORT=str(dashfixture.free_port()),
                        KOERS_DEMO_PARTICIPANTS="10", **stand_ins)
        for v in ("KOERS_TOPIC_PREFIX", "KOERS_GROUP", "KOERS_TIME_ZONE", "KOERS_LOG_FORMAT"):
            self.env.pop(v, None)

    def compose(self, *args, timeout=300):
        return k.run(["podman-compose", "-p", self.project, "-f",
                      k.repo_dir() / "docker" / "compose.yaml", *args], env=self.env,
                     timeout=timeout)

    def name(self, service):
        return f"{self.project}_{service}_1"

    def healthy(self, service, timeout=240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pm.run("healthcheck", "run", self.name(service), timeout=60).rc == 0:
                return True
            time.sleep(2)
        return False

    def completed(self, service, timeout=240):
        r = self.pm.run("wait", self.name(service), timeout=timeout)
        return r.out.strip()

    def up(self, *services):
        # 1.0.3 starts the dependencies again whatever --no-deps says; they exist already,
        # and podman refuses the second container of a name: only the named ones count.
        self.compose("up", "-d", "--no-build", "--no-deps", *services)
        r = self.pm.run("inspect", "-f", "{{.State.Status}}", *[self.name(s) for s in services])
        return r.rc == 0

    def logs(self, service):
        return self.pm.run("logs", self.name(service)).err[-2500:]

    def down(self):
        self.compose("down", "-v", "-t", "30", timeout=300)
        # Whatever down left (1.0.3 keeps the network).
        r = self.pm.run("ps", "-a", "-q", "--filter", f"label=io.podman.compose.project={self.project}")
        if r.out.split():
            self.pm.run("rm", "-f", *r.out.split(), timeout=120)
        r = self.pm.run("volume", "ls", "-q", "--filter", f"label=io.podman.compose.project={self.project}")
        if r.out.split():
            self.pm.run("volume", "rm", "-f", *r.out.split(), timeout=120)
        self.pm.run("network", "rm", "-f", f"{self.project}_default", timeout=120)


def check_compose(c, pm, tag, tmp):
    """The whole stack of docker/compose.yaml on stand-in images: the demo cohort is stored
    exactly once and the dashboard answers a login."""
    r = k.run([k.repo_dir() / "scripts" / "containers", "stack-images"], env=pm.env, timeout=1800)
    if not c.program("scripts/containers stack-images (PostgreSQL 15 from Debian, Kafka from Maven)",
                     r, 0):
        return
    stand_ins = dict(re.findall(r"(\w+)=(\S+)", r.out.strip().splitlines()[-1]))
    c.ok("stand-in image names printed", {"KOERS_KAFKA_IMAGE", "KOERS_POSTGRES_IMAGE"} <= set(stand_ins),
         "KOERS_KAFKA_IMAGE, KOERS_POSTGRES_IMAGE", r.out)
    st = Stack(c, pm, tag, stand_ins, tmp)
    r = k.run([k.repo_dir() / "docker" / "make-secrets"], env=st.env, timeout=60)
    if not c.program("docker/make-secrets", r, 0):
        return
    c.cleanup(st.down)

    st.up("kafka", "postgres")
    for s in ("kafka", "postgres"):
        if not c.ok(f"compose: {s} becomes healthy", st.healthy(s), "healthy", st.logs(s)):
            return
    for s in ("migrate", "dash-role"):  # each waits for the one before (depends_on)
        st.up(s)
        if not c.equal(f"compose: {s} completes successfully", "0", st.completed(s)):
            print(st.logs(s))
            return
    st.up("consume", "dash")
    for s in ("consume", "dash"):
        if not c.ok(f"compose: {s} is healthy", st.healthy(s, 120), "healthy", st.logs(s)):
            return

    # The demo cohort, and what it must become, computed here from synth's CSV with the key
    # that make-secrets wrote (the service runs synth with the same arguments and no seed).
    r = st.compose("run", "--rm", "--no-deps", "-T", "produce", timeout=600)
    if not c.program("compose: the demo producer (profile demo)", r, 0):
        return
    csv_dir = Path(tmp) / "demo"
    csv_dir.mkdir()
    r = k.produce("synth", "--participants", st.env["KOERS_DEMO_PARTICIPANTS"], "--months", "24",
                  "--csv", csv_dir)
    c.program("host: synth with the demo's arguments, as CSV", r, 0)
    key = (st.secrets / "koers_key").read_bytes().strip()
    expected = k.expected_from_dir(csv_dir, key)
    n = sum(len(v) for v in expected.values())
    ip = st.pm.run("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                   st.name("postgres")).out.strip()
    pw = (st.secrets / "pg_password").read_text().strip()
    db = f"host={ip} port=5432 dbname=koers user=koers password={pw}"

    def stored():
        return sum(int(k.psql(f"SELECT count(*) FROM koers.{t}", db)[0][0]) for t in k.EVENT_TYPES)

    deadline = time.monotonic() + 180
    while stored() < n and time.monotonic() < deadline:
        time.sleep(2)
    tables = k.all_tables(db)
    for t in k.EVENT_TYPES:
        c.rows(f"compose: koers.{t} = rows computed from synth's {t}.csv with the secret key",
               expected[t], tables[t])
    # The same cohort again: every event twice on Kafka, once in PostgreSQL.
    r = st.compose("run", "--rm", "--no-deps", "-T", "produce", timeout=600)
    c.program("compose: the demo producer again", r, 0)
    c.ok("... delivers every event again", f"{n} delivered, 0 not" in r.err + r.out,
         f"{n} delivered, 0 not", (r.err + r.out)[-400:])
    offsets = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        offsets = k.psql("SELECT coalesce(sum(next_offset), 0) FROM koers.consumer_offset", db)[0][0]
        if int(offsets) >= 2 * n:
            break
        time.sleep(2)
    c.equal("compose: the consumer read both copies (offsets)", 2 * n, int(offsets))
    c.equal("compose: each event stored exactly once", n, stored())

    name, password = "dash-" + secrets.token_hex(3), "pw-" + secrets.token_urlsafe(15)
    r = st.pm.run("exec", "-i", st.name("consume"), "/usr/local/bin/koers-entrypoint", "koers-dash",
                  "user", "add", name, "--role", "evaluator", "--password-stdin",
                  stdin_bytes=(password + "\n").encode())
    if not c.program("compose: koers-dash user add (in the consume container)", r, 0):
        return
    client = dashfixture.Client(f"http://127.0.0.1:{st.env['KOERS_DASH_PORT']}")
    status, _, _ = client.login(name, password)
    c.equal("compose: the published dashboard answers a login (as koers_dash, password from the"
            " dash-role step)", 200, status)
    status, me = client.json("/api/me")
    c.ok("compose: /api/me names the user", status == 200 and me and me.get("user_name") == name,
         name, (status, me))


def main():
    if not enabled():
        print("skipped: KOERS_CONTAINERS=0 (CI=true runs it)")
        sys.exit(SKIP)
    k.require_env()
    c = k.Checks("test_containers")
    for tool in ("podman", "runc", "debootstrap", "podman-compose"):
        if not shutil.which(tool):
            c.ok(f"{tool} installed (scripts/install-deps)", False, tool, "missing")
            c.finish()
    env = containers_env()
    pm = Podman(env)
    tag = image_tag()
    t0 = time.monotonic()
    r = k.run([k.repo_dir() / "scripts" / "containers", "build", tag], env=env, timeout=2400)
    if not c.program(f"scripts/containers build {tag}", r, 0):
        c.finish()
    print(f"# image built in {time.monotonic() - t0:.0f}s")
    r = pm.run("run", "--rm", *HARDENING, tag, "sh", "-c", "id -u; koers-consume --version")
    c.program("image: runs as uid 10001, koers-consume --version", r, 0)
    c.equal("... as uid 10001", "10001", r.out.splitlines()[0] if r.out else "")
    tmp = k.tempdir(c, "containers")
    run = k.new_run_names("containers")
    if c.run(check_stream, c, pm, tag, run, tmp):
        c.run(check_dash, c, pm, tag, run, tmp)
    t0 = time.monotonic()
    c.run(check_compose, c, pm, tag, tmp)
    print(f"# compose stack: {time.monotonic() - t0:.0f}s")
    c.finish()


if __name__ == "__main__":
    main()
