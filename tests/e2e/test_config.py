#!/usr/bin/env python3
"""End to end: configuration precedence (file < environment < flags) and log formats, on the
real programs.

1. --dump-config of koers-produce, koers-consume and koers-report: each setting comes from the
   highest-ranking place that sets it, with that place named; Kafka properties from the file's
   kafka.* give way to -X; secrets never appear; $KOERS_CONFIG names the file when -c is absent.
2. Refusals (exit 2) name path:line: an unknown key, a line without '=', a number out of
   range, an unknown librdkafka property.
3. The database: the file's dbname gives way to PGDATABASE, and -d wins over both, shown by
   --migrate on real databases.
4. One real run on Kafka and PostgreSQL from a file: synth and the consumer take brokers, topic
   prefix, group and batch size from the file; a flag overrides the file's (unreachable)
   brokers and its group. The events land in the right topics, database and group.
5. Logs: every stderr line of those runs, librdkafka's own included, is logfmt with ts, level,
   prog and msg; with --log-format json (or KOERS_LOG_FORMAT=json) every line is a JSON object.
"""
import json
import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402

PROGRAMS = ("koers-produce", "koers-consume", "koers-report")
CONFIG_ENV = ("KOERS_CONFIG", "KOERS_BROKERS", "KOERS_TOPIC_PREFIX", "KOERS_GROUP",
              "KOERS_BATCH_SIZE", "KOERS_BATCH_WAIT_MS", "KOERS_PARTITIONS", "KOERS_LOG_FORMAT",
              "KOERS_KEY_FILE", "KOERS_TIME_ZONE", "KOERS_CSV_DELIMITER", "KOERS_CSV_ENCODING",
              "KOERS_DATE_ORDER")


def clean_env(**extra):
    """The services' environment without any koers setting, plus extra."""
    env = dict(os.environ)
    for v in CONFIG_ENV:
        env.pop(v, None)
    env.update({key: str(val) for key, val in extra.items()})
    return env


def no_pgdatabase(**extra):
    """clean_env without PGDATABASE: the file's dbname decides."""
    env = clean_env(**extra)
    env.pop("PGDATABASE", None)
    return env


def write(path, text, mode=0o600):
    Path(path).write_text(text)
    os.chmod(path, mode)
    return str(path)


def parse_dump(text):
    """{key: (value, origin)} from --dump-config: each key=value under a '# origin' comment;
    unset keys appear as '#key=' under '# not set'."""
    out, origin = {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            body = line[1:].strip()
            if "=" in body and origin == "not set":
                out[body.split("=", 1)[0]] = (None, "not set")
            elif "=" not in body and not body.startswith("libpq will use"):
                origin = body
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            out[key] = (value, origin)
    return out


def dump(name, *args, env):
    return k.run([k.program(name), *args, "--dump-config"], env=env, timeout=60)


def check_dump_precedence(c, tmp):
    secret = "s3cret-" + os.urandom(6).hex()
    conf = write(Path(tmp) / "koers.conf", f"""# a file as an operator writes it
brokers = file-broker:9092
topic.prefix = fileprefix.
group=file-group
batch.size=100
partitions = 3
log.format=logfmt
kafka.linger.ms=5
kafka.client.id = from-file
kafka.sasl.password={secret}
""")
    env = clean_env(KOERS_GROUP="env-group", KOERS_BATCH_SIZE="200", KOERS_TOPIC_PREFIX="envprefix.")
    r = dump("koers-consume", "-c", conf, "--batch-size", "300", "-X", "linger.ms=7", env=env)
    if not c.program("koers-consume --dump-config", r, 0):
        return
    d = parse_dump(r.out)
    c.equal("brokers: from the file (nothing else sets it)",
            ("file-broker:9092", f"file {conf}:2"), d.get("brokers"))
    c.equal("topic.prefix: the environment beats the file",
            ("envprefix.", "environment KOERS_TOPIC_PREFIX"), d.get("topic.prefix"))
    c.equal("group: the environment beats the file", ("env-group", "environment KOERS_GROUP"),
            d.get("group"))
    c.equal("batch.size: the flag beats environment and file", ("300", "flag --batch-size"),
            d.get("batch.size"))
    c.equal("partitions: from the file", ("3", f"file {conf}:6"), d.get("partitions"))
    c.equal("batch.wait.ms: the default", ("200", "default"), d.get("batch.wait.ms"))
    c.equal("kafka.linger.ms: -X beats the file's kafka.linger.ms", ("7", "flag -X"),
            d.get("kafka.linger.ms"))
    c.equal("kafka.client.id: from the file", ("from-file", f"file {conf}:9"),
            d.get("kafka.client.id"))
    c.equal("kafka.sasl.password: redacted", ("<redacted>", f"file {conf}:10"),
            d.get("kafka.sasl.password"))
    c.ok("the secret appears nowhere in the output", secret not in r.out + r.err, "absent",
         "present")

    # The same file through $KOERS_CONFIG, for each program; keys a program does not know are
    # refused (one file per program), so koers-produce and koers-report get files of their own.
    pconf = write(Path(tmp) / "produce.conf", "brokers=file-broker:9092\ntopic.prefix=fileprefix.\n"
                  "key.file=/etc/koers/key\ntime.zone=UTC\nkafka.sasl.password=" + secret + "\n")
    r = dump("koers-produce", env=clean_env(KOERS_CONFIG=pconf, KOERS_TIME_ZONE="Europe/Berlin"))
    if c.program("koers-produce --dump-config with $KOERS_CONFIG", r, 0):
        d = parse_dump(r.out)
        c.ok("koers-produce names the file it read", f"# configuration file: {pconf}" in r.out,
             pconf, r.out[:300])
        c.equal("koers-produce key.file from the file", ("/etc/koers/key", f"file {pconf}:3"),
                d.get("key.file"))
        c.equal("koers-produce time.zone: environment beats file",
                ("Europe/Berlin", "environment KOERS_TIME_ZONE"), d.get("time.zone"))
        c.ok("koers-produce: the secret is redacted", secret not in r.out, "absent", "present")
    r = dump("koers-produce", "-c", pconf, "--topic-prefix", "flagprefix.", env=clean_env(
        KOERS_CONFIG="/nonexistent/ignored.conf", KOERS_TOPIC_PREFIX="envprefix."))
    if c.program("koers-produce -c FILE wins over $KOERS_CONFIG", r, 0):
        c.equal("koers-produce topic.prefix: the flag beats env and file",
                ("flagprefix.", "flag --topic-prefix"), parse_dump(r.out).get("topic.prefix"))
    rconf = write(Path(tmp) / "report.conf", "dbname = dbname=fromfile password=" + secret + "\n"
                  "log.format = json\n")
    r = dump("koers-report", "--config", rconf, "--log-format", "logfmt", env=no_pgdatabase())
    if c.program("koers-report --dump-config", r, 0):
        d = parse_dump(r.out)
        c.equal("koers-report log.format: the flag beats the file", ("logfmt", "flag --log-format"),
                d.get("log.format"))
        c.ok("koers-report dbname from the file, password redacted",
             d.get("dbname", ("",))[0].startswith("password='<redacted>'") and
             "dbname='fromfile'" in d["dbname"][0] and secret not in r.out,
             "password='<redacted>' dbname='fromfile'", d.get("dbname"))


def check_refusals(c, tmp):
    cases = [
        ("unknown key", "brokers=x\ngroupid=y\n", ":2: unknown setting 'groupid'"),
        ("no '='", "\n\n# fine\nbrokers\n", ":4: expected key=value"),
        ("number out of range", "batch.size=0\n", "batch.size: '0' (from {path}:1) is not a whole"
                                                  " number in 1..1000000"),
        ("unknown librdkafka property", "kafka.linger.mss=5\n",
         "{path}:1: linger.mss: No such configuration property"),
        ("bad choice", "log.format=xml\n", "log.format: 'xml' (from {path}:1) is not one of: logfmt json"),
    ]
    for i, (what, text, want) in enumerate(cases):
        path = write(Path(tmp) / f"bad{i}.conf", text)
        want = want.format(path=path)
        if want.startswith(":"):
            want = path + want
        r = dump("koers-consume", "-c", path, env=clean_env())
        c.program(f"a file with {what} is refused", r, 2)
        c.ok(f"{what}: the message names where", want in k.log_text(r.err), want, r.err.strip())
    r = dump("koers-consume", "-c", str(Path(tmp) / "missing.conf"), env=clean_env())
    c.program("a missing file is refused", r, 2)
    c.ok("missing file: the message names it", "missing.conf: No such file or directory" in
         k.log_text(r.err), "missing.conf: No such file or directory", r.err.strip())


def check_database_precedence(c, tmp, db):
    conf = write(Path(tmp) / "db.conf", "dbname = dbname=koers_no_such_db_cfg\n")
    r = k.run([k.program("koers-consume"), "-c", conf, "--migrate"],
              env=clean_env(PGDATABASE=db), timeout=60)
    c.program("--migrate: PGDATABASE beats the file's dbname", r, 0)
    r = k.run([k.program("koers-consume"), "-c", conf, "--migrate"], env=no_pgdatabase(),
              timeout=60)
    c.program("--migrate: without PGDATABASE the file's dbname is used (and does not exist)", r, 1)
    c.ok("the failure names the file's database", "koers_no_such_db_cfg" in k.log_text(r.err),
         "koers_no_such_db_cfg", r.err.strip())
    r = k.run([k.program("koers-consume"), "-c", conf, "-d", f"dbname={db}", "--migrate"],
              env=clean_env(PGDATABASE="koers_no_such_db_env"), timeout=60)
    c.program("--migrate: -d beats PGDATABASE and the file", r, 0)
    r = dump("koers-consume", "-c", conf, env=clean_env(PGDATABASE=db))
    c.ok("--dump-config shows what libpq will use", f"dbname={db}" in r.out, f"dbname={db}", r.out)


def all_logfmt(c, what, result):
    lines = [line for line in result.err.splitlines() if line.strip()]
    bad = [line for line in lines if not (k.parse_logfmt(line) and
                                          {"ts", "level", "prog", "msg"} <= k.parse_logfmt(line).keys())]
    c.ok(f"{what}: every stderr line is logfmt ({len(lines)} lines)", lines and not bad,
         "ts=... level=... prog=... msg=...", bad[:3])
    return [k.parse_logfmt(line) for line in lines if line not in bad]


def check_real_run(c, tmp, db):
    run = k.new_run_names("config")
    seed = 4711
    # The file names an unreachable broker: the flag -b must win for a run to work at all.
    pconf = write(Path(tmp) / "p.conf", f"brokers=127.0.0.1:1\ntopic.prefix={run['prefix']}\n"
                  "partitions=2\n")
    # A consumer property given to the producer: librdkafka warns (CONFWARN) when the client
    # starts, and that line must come through koers' logger.
    r = k.run([k.program("koers-produce"), "synth", "--participants", "5", "--months", "4",
               "--seed", str(seed), "-c", pconf, "-b", k.brokers(), "-X",
               "auto.offset.reset=earliest"], env=clean_env(), timeout=180)
    if not c.program("synth from a file, -b overriding its brokers", r, 0):
        return
    recs = all_logfmt(c, "synth", r)
    c.ok("librdkafka's own lines come through koers' logger",
         any(rec.get("kafka_facility") == "CONFWARN" and rec.get("kafka_client") and
             rec["level"] == "warn" and "auto.offset.reset" in rec["msg"] for rec in recs),
         "a line with kafka_facility and kafka_client", [rec["msg"] for rec in recs][:5])
    c.ok("every line names the program", all(rec["prog"] == "koers-produce" for rec in recs),
         "prog=koers-produce", {rec["prog"] for rec in recs})
    topics = k.run(["kcat", "-b", k.brokers(), "-L"], timeout=60).out
    c.ok("the file's topic prefix made the topics", f'topic "{run["prefix"]}contact"' in topics,
         f"{run['prefix']}contact", "not listed")
    c.ok("the file's partitions were used", f'topic "{run["prefix"]}contact" with 2 partitions'
         in topics, "2 partitions", "other")

    cconf = write(Path(tmp) / "c.conf", f"brokers={k.brokers()}\ntopic.prefix={run['prefix']}\n"
                  f"group=file-group-{run['group']}\ndbname=dbname={db}\nbatch.size=7\n")
    r = k.run([k.program("koers-consume"), "-c", cconf, "-g", run["group"], "--until-caught-up",
               "--log-format", "json"], env=no_pgdatabase(), timeout=180)
    if not c.program("consume from a file (-g overriding its group; json logs)", r, 0):
        return
    lines = [line for line in r.err.splitlines() if line.strip()]
    docs = []
    for line in lines:
        try:
            doc = json.loads(line)
            if isinstance(doc, dict) and {"ts", "level", "prog", "msg"} <= doc.keys():
                docs.append(doc)
        except ValueError:
            pass
    c.ok(f"--log-format json: every stderr line is a JSON object ({len(lines)} lines)",
         lines and len(docs) == len(lines), len(lines), len(docs))
    stored = k.consume_counts("\n".join(d["msg"] for d in docs))
    expected_n = None
    csv_dir = Path(tmp) / "csv"
    csv_dir.mkdir()
    rr = k.run([k.program("koers-produce"), "synth", "--participants", "5", "--months", "4",
                "--seed", str(seed), "--csv", csv_dir], env=clean_env(), timeout=60)
    if c.program("synth --csv of the same seed", rr, 0):
        expected = k.expected_from_dir(csv_dir, k.synth_key(seed))
        expected_n = sum(len(v) for v in expected.values())
        tables = k.all_tables(db)
        for t in k.EVENT_TYPES:
            c.rows(f"koers.{t} holds the run's events", expected[t], tables[t])
    c.equal("the consumer stored every event", (expected_n, 0, 0), stored)
    groups = k.psql("SELECT DISTINCT group_id FROM koers.consumer_offset", db)
    c.equal("offsets are stored under the flag's group, not the file's", [[run["group"]]], groups)
    topics = sorted({t for t, _p, _o in k.offsets(db)})
    c.equal("offsets are for the file's topic prefix",
            sorted(f"{run['prefix']}{t}" for t in k.EVENT_TYPES), topics)
    # KOERS_LOG_FORMAT=json without a flag: the environment chooses JSON too.
    r = k.run([k.program("koers-consume"), "-c", cconf, "-g", run["group"], "--until-caught-up"],
              env=no_pgdatabase(KOERS_LOG_FORMAT="json"), timeout=180)
    c.program("consume again (KOERS_LOG_FORMAT=json)", r, 0)
    first = r.err.splitlines()[0] if r.err.strip() else ""
    c.ok("KOERS_LOG_FORMAT=json gives JSON lines", first.startswith("{\"ts\":"), "{\"ts\":...", first)
    r = k.run([k.program("koers-consume"), "-c", cconf, "-g", run["group"], "--until-caught-up"],
              env=no_pgdatabase(), timeout=180)
    c.program("consume again (logfmt by default)", r, 0)
    recs = all_logfmt(c, "consume", r)
    c.equal("nothing new on the second pass", (0, 0, 0), k.consume_counts(k.log_text(r.err)))
    c.ok("the closing line is level=info", any(rec["level"] == "info" and "stored 0 new" in
                                               rec["msg"] for rec in recs), "info", recs[-1:])


def main():
    k.require_env()
    c = k.Checks("test_config")
    tmp = k.tempdir(c, "config")
    db = k.new_run_names("config")["db"]
    k.create_db(db)
    c.cleanup(k.drop_db, db)
    c.run(check_dump_precedence, c, tmp)
    c.run(check_refusals, c, tmp)
    c.run(check_database_precedence, c, tmp, db)
    c.run(check_real_run, c, tmp, db)
    c.finish()


if __name__ == "__main__":
    main()
