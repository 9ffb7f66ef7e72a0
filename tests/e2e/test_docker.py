#!/usr/bin/env python3
"""The docker/ stack, checked without a Docker engine (none runs on the development machines).

1. `docker-compose config -q` (Debian's docker-compose) accepts docker/compose.yaml with the
   secrets that docker/make-secrets writes, with and without the demo and grafana profiles;
   a copy with one mistake is refused, so the validator does validate.
2. The resolved configuration has what the deployment promises: Kafka in KRaft mode from the
   official image, PostgreSQL 15, a one-shot migration that the consumer waits for
   (service_completed_successfully), health checks, named volumes only (plus Grafana's
   provisioning, read-only), the demo producer and Grafana behind profiles, koers containers
   read-only without capabilities, and no secret in the file: every secret is a file, every
   variable that names a password, secret or key ends in _FILE.
3. hadolint (scripts/install-tools) passes docker/Dockerfile with docker/.hadolint.yaml; each
   ignored rule there carries a reason, and without the ignores hadolint finds nothing else.
4. The runtime stage installs the Debian package of every shared library the programs link
   directly (objdump NEEDED -> dpkg -S), so the image's programs can start; the build stage
   installs the -dev package of every pkg-config module CMake asks for; and the build context
   that .dockerignore leaves (no build trees, tests, secrets, .git) configures with CMake.
5. The entrypoint, run here with sh: PGPASSWORD_FILE becomes PGPASSWORD; KOERS_KEY_SECRET_FILE
   (a world-readable file, as a mounted secret is) becomes a private copy that the real
   koers-produce accepts, where the file itself is refused.
6. docker/make-secrets: a 0700 directory of 0444 files, kept on a second run.
"""
import fnmatch
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

SERVICES = {"kafka", "postgres", "migrate", "dash-role", "consume", "dash", "produce", "grafana"}
KOERS_SERVICES = {"migrate", "consume", "dash", "produce"}
SECRETS = {"pg_password", "dash_db_password", "koers_key", "grafana_admin_password",
           "grafana_db_password"}


def docker_dir():
    return k.repo_dir() / "docker"


def compose(env, *args, compose_file=None):
    f = compose_file or docker_dir() / "compose.yaml"
    return k.run(["docker-compose", "-f", f, *args], env=env, timeout=120)


def yaml_to_json(text):
    """docker-compose 1.29 prints YAML only; Debian's python3-yaml (a docker-compose
    dependency) turns it into JSON."""
    p = subprocess.run(["/usr/bin/python3", "-c",
                        "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
                       input=text.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())
    return json.loads(p.stdout)


def check_make_secrets(c, tmp):
    d = Path(tmp) / "secrets"
    env = dict(os.environ, KOERS_SECRETS_DIR=str(d))
    r = k.run([docker_dir() / "make-secrets"], env=env, timeout=60)
    if not c.program("make-secrets", r, 0):
        return None
    c.equal("make-secrets writes every secret compose.yaml names", sorted(SECRETS),
            sorted(p.name for p in d.iterdir()))
    c.equal("the secrets directory is private (0700)", "0o700", oct(stat.S_IMODE(d.stat().st_mode)))
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in d.iterdir()}
    c.ok("each secret file is 0444 (read by the container's own user)",
         set(modes.values()) == {"0o444"}, "0o444", modes)
    key = (d / "koers_key").read_bytes()
    c.ok("the key is 64 hex characters (32 random bytes)", re.fullmatch(rb"[0-9a-f]{64}", key),
         "64 hex", len(key))
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    r = k.run([docker_dir() / "make-secrets"], env=env, timeout=60)
    c.program("make-secrets again", r, 0)
    c.ok("a second run keeps every secret", before == {p.name: p.read_bytes() for p in d.iterdir()})
    return d


def check_compose(c, tmp, secrets_dir):
    if not shutil.which("docker-compose"):
        c.ok("docker-compose is installed (Debian package docker-compose)", False)
        return
    env = dict(os.environ, KOERS_SECRETS_DIR=str(secrets_dir))
    for v in [v for v in env if v.startswith(("KOERS_", "KAFKA_", "GRAFANA_"))]:
        if v != "KOERS_SECRETS_DIR":
            env.pop(v)
    r = compose(env, "config", "-q")
    c.program("docker-compose config -q", r, 0)
    r = compose(env, "--profile", "demo", "--profile", "grafana", "config", "-q")
    c.program("docker-compose --profile demo --profile grafana config -q", r, 0)
    r = compose(env, "config")
    if not c.program("docker-compose config", r, 0):
        return
    cfg = yaml_to_json(r.out)
    svc = cfg["services"]
    c.equal("services", sorted(SERVICES), sorted(svc))

    kafka = svc["kafka"]
    c.ok("kafka: the official image", kafka["image"].startswith("apache/kafka:"), "apache/kafka:*",
         kafka["image"])
    ke = kafka["environment"]
    c.equal("kafka: KRaft combined mode", "broker,controller", ke.get("KAFKA_PROCESS_ROLES"))
    c.ok("kafka: a controller quorum of itself", ke.get("KAFKA_CONTROLLER_QUORUM_VOTERS") == "1@kafka:9093")
    c.ok("kafka: a cluster id of 22 base64url characters",
         re.fullmatch(r"[A-Za-z0-9_-]{22}", str(ke.get("CLUSTER_ID", ""))), "22 chars",
         ke.get("CLUSTER_ID"))
    for t in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        c.equal(f"kafka: {t} = 1 on one node", "1", str(ke.get(t)))
    c.ok("postgres: PostgreSQL 15", svc["postgres"]["image"].startswith("postgres:15"),
         "postgres:15*", svc["postgres"]["image"])
    c.ok("migrate: koers-consume --migrate, once", svc["migrate"]["command"] == ["koers-consume", "--migrate"]
         and str(svc["migrate"].get("restart")) in ("no", "False"), "one shot", svc["migrate"])
    dep = svc["consume"]["depends_on"]
    c.equal("consume waits for the migration to finish", "service_completed_successfully",
            dep.get("migrate", {}).get("condition"))
    c.equal("consume waits for a healthy broker", "service_healthy", dep.get("kafka", {}).get("condition"))
    c.equal("migrate waits for a healthy database", "service_healthy",
            svc["migrate"]["depends_on"].get("postgres", {}).get("condition"))
    c.ok("dash listens on all interfaces inside its container",
         "0.0.0.0:8080" in svc["dash"]["command"], "--listen 0.0.0.0:8080", svc["dash"]["command"])
    c.equal("produce is in profile demo", ["demo"], svc["produce"].get("profiles"))
    c.equal("grafana is in profile grafana", ["grafana"], svc["grafana"].get("profiles"))
    prov = [v for v in svc["grafana"].get("volumes", []) if str(v).find("/etc/grafana/provisioning") >= 0]
    c.ok("grafana is provisioned from dashboards/grafana, read-only",
         len(prov) == 1 and str(prov[0]).startswith(str(k.repo_dir() / "dashboards" / "grafana"))
         and str(prov[0]).endswith(":ro"), "../dashboards/grafana:/etc/grafana/provisioning:ro", prov)
    for name in ("kafka", "postgres", "consume", "dash", "grafana"):
        hc = svc[name].get("healthcheck", {})
        c.ok(f"{name}: has a health check", hc.get("test"), "healthcheck.test", hc)
    named = set(cfg.get("volumes", {}))
    c.equal("named volumes", ["grafana-data", "kafka-data", "pg-data"], sorted(named))
    for name, s in svc.items():
        for v in s.get("volumes", []):
            src = str(v).split(":", 1)[0]
            ok = src in named or (name == "grafana" and "/etc/grafana/provisioning" in str(v))
            c.ok(f"{name}: volume {src} is named (no host path)", ok, "a named volume", v)
    for name in KOERS_SERVICES:
        s = svc[name]
        c.ok(f"{name}: read-only root, no capabilities, no new privileges",
             s.get("read_only") is True and s.get("cap_drop") == ["ALL"]
             and "no-new-privileges:true" in s.get("security_opt", []), "hardened", s)
    c.equal("secrets: every one is a file", sorted(SECRETS), sorted(cfg.get("secrets", {})))
    for name, sec in cfg.get("secrets", {}).items():
        c.ok(f"secret {name} comes from $KOERS_SECRETS_DIR", sec.get("file") == str(secrets_dir / name),
             str(secrets_dir / name), sec)
    for name, s in svc.items():
        for var in s.get("environment", {}):
            if re.search(r"PASSWORD|SECRET|KEY", var):
                c.ok(f"{name}: {var} names a file, not a value", var.endswith("_FILE"), "*_FILE", var)
    for name, s in svc.items():
        mounted = {x if isinstance(x, str) else x.get("source") for x in s.get("secrets", [])}
        for var, value in s.get("environment", {}).items():
            m = re.fullmatch(r"/run/secrets/([\w-]+)", str(value or ""))
            if m:
                c.ok(f"{name}: {var} names a secret the service mounts", m.group(1) in mounted,
                     m.group(1), sorted(mounted))
    text = (docker_dir() / "compose.yaml").read_text()
    leaked = [p.name for p in secrets_dir.iterdir() if p.read_text().strip() in r.out + text]
    c.equal("no secret value appears in the resolved configuration", [], leaked)

    # The images' names come from variables (tests/e2e/test_containers.py sets them to
    # stand-ins); the tags stay those of the file.
    env2 = dict(env, KOERS_IMAGE="localhost/k:t", KOERS_KAFKA_IMAGE="localhost/kafka",
                KOERS_POSTGRES_IMAGE="localhost/pg", KOERS_GRAFANA_IMAGE="localhost/gf")
    r2 = compose(env2, "config")
    if c.program("docker-compose config with other image names", r2, 0):
        images = {n: s["image"] for n, s in yaml_to_json(r2.out)["services"].items()}
        c.equal("image names from KOERS_*_IMAGE, tags kept",
                {"kafka": "localhost/kafka:" + kafka["image"].split(":", 1)[1],
                 "postgres": "localhost/pg:15-bookworm", "dash-role": "localhost/pg:15-bookworm",
                 "grafana": "localhost/gf:" + svc["grafana"]["image"].split(":", 1)[1],
                 **{n: "localhost/k:t" for n in KOERS_SERVICES}}, images)

    # One mistake makes the validator fail: it checks, it does not just print.
    broken = Path(tmp) / "broken.yaml"
    broken.write_text(text.replace("condition: service_completed_successfully",
                                   "condition: service_finished", 1))
    r = compose(env, "config", "-q", compose_file=broken)
    c.ok("a compose file with an unknown depends_on condition is refused", r.rc != 0,
         "exit != 0", f"exit {r.rc}")


def check_hadolint(c):
    venv = Path(os.environ.get("KOERS_STATE_DIR") or k.repo_dir() / ".koers") / "venv"
    hadolint = venv / "bin" / "hadolint"
    if not os.access(hadolint, os.X_OK):
        r = k.run([k.repo_dir() / "scripts" / "install-tools"], timeout=600)
        c.program("scripts/install-tools (hadolint)", r, 0)
    if not c.ok("hadolint is installed in the state directory's venv", os.access(hadolint, os.X_OK),
                str(hadolint), "missing"):
        return
    conf = docker_dir() / ".hadolint.yaml"
    dockerfile = docker_dir() / "Dockerfile"
    r = k.run([hadolint, "--config", conf, dockerfile], timeout=120)
    c.program("hadolint docker/Dockerfile", r, 0)
    c.equal("hadolint finds nothing", "", (r.out + r.err).strip())
    lines = conf.read_text().splitlines()
    ignored = []
    for i, line in enumerate(lines):
        m = re.match(r"\s*-\s*(DL\d{4}|SC\d{4})\s*$", line)
        if m:
            ignored.append(m.group(1))
            c.ok(f".hadolint.yaml: {m.group(1)} is ignored with a reason",
                 i > 0 and lines[i - 1].strip().startswith("#") and len(lines[i - 1]) > 20,
                 "a comment line above it", lines[i - 1] if i else "")
    r = k.run([hadolint, "--no-fail", "-f", "json", dockerfile], timeout=120)
    found = sorted({f["code"] for f in json.loads(r.out or "[]")})
    c.ok("without the ignores hadolint finds only what is ignored", set(found) <= set(ignored),
         f"subset of {ignored}", found)


def check_runtime_libraries(c):
    pkgs = stage_packages("runtime")
    c.ok("the runtime stage installs tzdata and ca-certificates", {"tzdata", "ca-certificates"} <= pkgs,
         "tzdata ca-certificates", sorted(pkgs))
    for prog in ("koers-produce", "koers-consume", "koers-report", "koers-dash"):
        exe = Path(k.program(prog))
        if not exe.exists():
            if prog == "koers-dash":
                print(f"# {prog}: not built in this tree, its libraries not checked")
                continue
            c.ok(f"{prog} is built", False)
            continue
        p = subprocess.run(["objdump", "-p", exe], stdout=subprocess.PIPE, timeout=60)
        needed = re.findall(rb"NEEDED\s+(\S+)", p.stdout)
        for lib in (n.decode() for n in needed):
            if lib.startswith(("libasan", "libubsan")):
                continue  # the sanitizers of this test build; the image is built without them
            q = subprocess.run(["dpkg", "-S", f"*/{lib}"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            owners = {line.split(":")[0] for line in q.stdout.decode().splitlines()}
            ok = bool(owners & pkgs) or owners & {"libc6"}
            c.ok(f"{prog}: {lib} comes from a runtime package", ok, f"one of {sorted(owners)}",
                 sorted(pkgs))


def stage_packages(stage_name):
    """The packages that one stage of the Dockerfile installs with apt-get."""
    text = (docker_dir() / "Dockerfile").read_text()
    stage = text[text.index(f"AS {stage_name}"):]
    start = stage.index("apt-get install -y --no-install-recommends")
    return set(stage[start:stage.index("&&", start)].replace("\\\n", " ").split()[4:])


def check_build_stage(c, tmp):
    """The build stage's -dev packages provide every pkg-config module CMake asks for, and the
    build context that .dockerignore leaves configures."""
    pkgs = stage_packages("build")
    cmake_text = "\n".join(p.read_text() for p in [k.repo_dir() / "CMakeLists.txt",
                                                    *k.repo_dir().glob("*/CMakeLists.txt")]
                           if "tests" not in p.parts)
    modules = set()
    for m in re.finditer(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET ([^)]+)\)", cmake_text):
        modules.update(m.group(1).split())
    modules.discard("cunit")  # tests only; the image builds without them
    for mod in sorted(modules):
        p = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], stdout=subprocess.PIPE,
                           timeout=30)
        pc = Path(p.stdout.decode().strip()) / f"{mod}.pc"
        q = subprocess.run(["dpkg", "-S", str(pc.resolve())], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        owners = {line.split(":")[0] for line in q.stdout.decode().splitlines()}
        c.ok(f"build stage: pkg-config module {mod} comes from an installed -dev package",
             owners & pkgs, f"one of {sorted(owners)}", sorted(pkgs))
    # The context docker build would send: the tree less .dockerignore's patterns.
    patterns = [line.strip() for line in (k.repo_dir() / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(rel):
        for pat in patterns:
            pat = pat.rstrip("/")
            if pat.startswith("**/"):
                if any(fnmatch.fnmatch(part, pat[3:]) for part in rel.parts):
                    return True
            elif fnmatch.fnmatch(rel.as_posix(), pat) or fnmatch.fnmatch(rel.parts[0], pat) \
                    and "/" not in pat or rel.as_posix().startswith(pat + "/"):
                return True
        return False

    ctx = Path(tmp) / "context"
    src = k.repo_dir()
    for dirpath, dirs, files in os.walk(src):
        rel_dir = Path(dirpath).relative_to(src)
        dirs[:] = [d for d in dirs if not ignored(rel_dir / d)]
        for f in files:
            rel = rel_dir / f
            if not ignored(rel):
                (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, ctx / rel)
    c.ok("the build context leaves out build trees, tests, secrets and .git",
         not any((ctx / d).exists() for d in ("build", ".git", ".koers", "tests", "docker/secrets")))
    r = k.run(["cmake", "-S", ctx, "-B", Path(tmp) / "context-build", "-DBUILD_TESTING=OFF",
               "-DCMAKE_INSTALL_PREFIX=/usr"], timeout=300)
    c.program("the build context (as .dockerignore leaves it) configures", r, 0)
    if r.rc != 0:
        print(r.out[-2000:])


def check_entrypoint(c, tmp):
    ep = docker_dir() / "entrypoint.sh"
    secret = Path(tmp) / "pg_password"
    secret.write_text("pw-" + os.urandom(4).hex())
    env = dict(os.environ, PGPASSWORD_FILE=str(secret))
    r = k.run(["sh", ep, "sh", "-c", 'printf "%s|%s" "$PGPASSWORD" "${PGPASSWORD_FILE-unset}"'],
              env=env, timeout=30)
    c.program("entrypoint with PGPASSWORD_FILE", r, 0)
    c.equal("PGPASSWORD_FILE becomes PGPASSWORD (and is unset)", f"{secret.read_text()}|unset", r.out)
    keyfile = Path(tmp) / "koers_key"
    keyfile.write_text(os.urandom(32).hex())
    os.chmod(keyfile, 0o444)  # what a mounted file secret looks like
    env = k.program_env()
    env.update(KOERS_KEY_SECRET_FILE=str(keyfile), TMPDIR=tmp)
    r = k.run(["sh", ep, "sh", "-c", 'stat -c %a "$KOERS_KEY_FILE"; cat "$KOERS_KEY_FILE"'],
              env=env, timeout=30)
    c.program("entrypoint with KOERS_KEY_SECRET_FILE", r, 0)
    lines = r.out.splitlines()
    c.equal("the key is copied to a 0600 file with the same bytes", ["600", keyfile.read_text()],
            lines[:2])
    out = Path(tmp) / "csv"
    out.mkdir()
    r = k.run(["sh", ep, k.program("koers-produce"), "synth", "--participants", "2", "--months",
               "2", "--csv", out], env=env, timeout=60)
    c.program("koers-produce through the entrypoint accepts the copied key", r, 0)
    env2 = k.program_env()
    env2.update(KOERS_KEY_FILE=str(keyfile))
    r = k.run([k.program("koers-produce"), "synth", "--participants", "2", "--months", "2",
               "--csv", out], env=env2, timeout=60)
    c.program("the mounted (0444) key file itself is refused", r, 2)
    r = k.run(["sh", ep, "true"], env=dict(os.environ, PGPASSWORD_FILE="/nonexistent/x"), timeout=30)
    c.program("an unreadable *_FILE stops the container", r, 2)
    c.ok("... with a logfmt error line", k.log_records(r.err) and k.log_records(r.err)[0]["level"]
         == "error", "level=error", r.err)


def main():
    c = k.Checks("test_docker")
    tmp = k.tempdir(c, "docker")
    secrets_dir = c.run(check_make_secrets, c, tmp)
    if secrets_dir:
        c.run(check_compose, c, tmp, secrets_dir)
    c.run(check_hadolint, c)
    c.run(check_runtime_libraries, c)
    c.run(check_build_stage, c, tmp)
    c.run(check_entrypoint, c, tmp)
    c.finish()


if __name__ == "__main__":
    main()
