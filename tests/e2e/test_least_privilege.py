#!/usr/bin/env python3
"""End to end: each PostgreSQL role can do its own work and nothing else; Kafka TLS and SASL
settings reach librdkafka.

Roles (sql/0007_least_privilege.sql, sql/0003_access.sql): a login role that is a member of
koers_consumer runs koers-consume for real (a synthetic stream, a redelivery of it, a bad
message: events, the measures hook, rejects, dead letters and offsets all stored), and a
member of koers_analyst reads the measures. Then each of them, and the dashboards' web
server role koers_dash (with one of the roles it may SET ROLE to), tries what it must not
do: change or delete stored events, rejects or offsets, run DDL, rebuild the measures, read
what is not theirs (raw events, rejected payloads, dashboard users, the audit trail),
become another role, create roles or databases, read or write server files. Every such
statement must fail with SQLSTATE 42501 (insufficient privilege). And when a right the
consumer needs is taken away, it stops with exit 1 and the reason instead of retrying
forever, storing nothing of the refused batch; with the right back it goes on.

Kafka: -X security.protocol / ssl.* / sasl.* are handed to librdkafka as they are: the
producer and the consumer work through the broker's SASL_PLAINTEXT/PLAIN listener (which
scripts/services runs beside the plain one) with the right password and are refused with a
wrong one; a CA file that does not exist is refused by librdkafka itself when the client is
made (so the TLS setting got there); an unknown protocol is refused with librdkafka's reason;
--dump-config shows the settings with the password redacted.
"""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import koers_e2e as k  # noqa: E402
import koers_reliability as rel  # noqa: E402
import test_dead_letter as dl  # noqa: E402


def as_role(db, role, sql, set_role=None):
    """Runs sql connected as role (trust on the test cluster); returns (ok, SQLSTATE, text)."""
    stmts = ["\\set VERBOSITY verbose"]
    if set_role:
        stmts.append(f"SET ROLE {set_role};")
    stmts.append(sql)
    argv = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", role, "-d", db]
    for s in stmts:
        argv += ["-c", s]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    m = re.search(r"ERROR:\s+([0-9A-Z]{5}):\s*(.*)", r.stderr)
    return r.returncode == 0, m.group(1) if m else "", (m.group(2) if m else r.stdout.strip())[:160]


def main():
    k.require_env()
    c = k.Checks("test_least_privilege")
    names = k.new_run_names("lp")
    db, prefix, group = names["db"], names["prefix"], names["group"]
    h = prefix.strip("t.")
    consumer, analyst = f"lp_consume_{h}", f"lp_analyst_{h}"
    print(f"# database {db}, roles {consumer} (koers_consumer), {analyst} (koers_analyst)")
    tmp = k.tempdir(c, "lp")
    k.create_db(db)
    c.cleanup(k.drop_db, db)
    if not c.program("koers-consume --migrate (as the owner)", k.migrate(db), 0):
        c.finish()
    k.psql(f"CREATE ROLE {consumer} LOGIN IN ROLE koers_consumer;"
           f" CREATE ROLE {analyst} LOGIN IN ROLE koers_analyst", db)
    c.cleanup(lambda: k.psql(f"DROP ROLE IF EXISTS {consumer}; DROP ROLE IF EXISTS {analyst}",
                             "postgres"))
    t0 = time.monotonic()
    actions = []

    # ------------------------------------------------------------ their own work
    c.program("synth to Kafka", k.produce("synth", "--participants", "8", "--months", "8",
                                          "--seed", "7707", "--topic-prefix", prefix), 0)
    d = Path(tmp) / "csv"
    d.mkdir()
    c.program("synth --csv", k.produce("synth", "--participants", "8", "--months", "8", "--seed",
                                       "7707", "--csv", d), 0)
    expected = k.expected_from_dir(d, k.synth_key(7707))
    n = sum(len(v) for v in expected.values())
    dl.kcat_send(prefix + "crisis", 0, b"\xc3\x01not koers", b"lp", tmp)
    argv = [k.program("koers-consume"), "-d", f"dbname={db} user={consumer}", "--topic-prefix",
            prefix, "-g", group, "--until-caught-up"]
    r = k.run(argv, timeout=300, env=k.program_env())
    c.program(f"koers-consume as {consumer} (koers_consumer): stores the stream", r, 0)
    c.equal("... new, already present, rejected", (n, 0, 1), k.consume_counts(r.err))
    c.program("the same stream again (a redelivery)",
              k.produce("synth", "--participants", "8", "--months", "8", "--seed", "7707",
                        "--topic-prefix", prefix), 0)
    r = k.run(argv, timeout=300, env=k.program_env())
    c.program(f"koers-consume as {consumer}: the redelivery", r, 0)
    c.equal("... new, already present, rejected", (0, n, 0), k.consume_counts(r.err))
    for t in k.EVENT_TYPES:
        c.rows(f"koers.{t}: stored by the consumer role", expected[t], k.table_rows(db, t))
    c.equal("the measures hook kept every prepared table right (vs a recomputation)",
            {t: 0 for t in rel.PREPARED}, rel.prepared_mismatches(db))
    c.equal("the reject is stored", [["1"]], k.psql("SELECT count(*) FROM koers.rejected_events", db))
    c.ok("the offsets are stored", rel.stored_progress(db, group) == 2 * n + 1, 2 * n + 1,
         rel.stored_progress(db, group))
    reads = ["SELECT count(*) FROM koers.participant_month",
             "SELECT count(*) FROM koers.goal_status",
             "SELECT count(*) FROM koers.goal_summary(current_date)",
             "SELECT count(*) FROM koers.gas_tscore(current_date)",
             "SELECT count(*) FROM koers.before_during(current_date)",
             "SELECT count(*) FROM koers.cost_benefit(current_date)",
             "SELECT count(*) FROM koers.data_quality",
             "SELECT count(*) FROM koers.data_quality_rejected",
             "SELECT count(*) FROM koers.data_quality_dangling_correction",
             "SELECT count(*) FROM koers.cost_assumptions",
             "SELECT count(*) FROM koers.daily_use",
             # The instruments' measures (computed when read, from their valid rows).
             "SELECT count(*) FROM koers.zrm_participant(current_date)",
             "SELECT count(*) FROM koers.stressor_participant(current_date)",
             "SELECT count(*) FROM koers.status_window(current_date)",
             "SELECT count(*) FROM koers.eviction_window(current_date)"]
    for sql in reads:
        ok, state, out = as_role(db, analyst, sql)
        c.ok(f"koers_analyst may: {sql}", ok, "a result", f"{state} {out}")
        actions.append({"role": "koers_analyst", "action": sql, "expected": "allowed",
                        "result": "allowed" if ok else f"{state} {out}"})

    # ------------------------------------------------------------ what they must not do
    ev = k.table_rows(db, "contact")[0][0]
    forbidden = {
        (consumer, None, "koers_consumer"): [
            f"UPDATE koers.contact SET duration_min = 0 WHERE event_id = '{ev}'",
            "DELETE FROM koers.contact",
            "TRUNCATE koers.contact",
            "DROP TABLE koers.contact",
            "ALTER TABLE koers.contact ADD COLUMN note text",
            "CREATE TABLE koers.notes (note text)",
            "CREATE FUNCTION koers.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "SELECT count(*) FROM koers.rejected_events",
            "UPDATE koers.rejected_events SET reason = 'fine'",
            "DELETE FROM koers.rejected_events",
            "DELETE FROM koers.consumer_offset",
            "SELECT koers.refresh_all()",
            "UPDATE koers.unit_cost SET amount_eur = 0",
            "SELECT count(*) FROM koers.dash_user",
            "INSERT INTO koers.dash_audit (user_name, action, resource) VALUES ('x', 'y', 'z')",
            "SELECT * FROM dash.metrics()",
            "SET ROLE koers_admin",
            "CREATE ROLE lp_intruder",
            "CREATE DATABASE lp_intruder",
            "COPY koers.contact TO '/tmp/koers-lp-contact.txt'",
            "SELECT pg_read_file('/etc/hostname')",
        ],
        (analyst, None, "koers_analyst"): [
            "SELECT count(*) FROM koers.contact",
            "SELECT count(*) FROM koers.contact_valid",
            "SELECT count(*) FROM koers.zrm_score",
            "INSERT INTO koers.stressor SELECT * FROM koers.stressor LIMIT 0",
            "SELECT count(*) FROM koers.consumer_offset",
            "SELECT payload FROM koers.rejected_events",
            "SELECT count(*) FROM koers.dash_user",
            "SELECT count(*) FROM koers.dash_audit",
            "INSERT INTO koers.contact SELECT * FROM koers.contact LIMIT 0",
            "UPDATE koers.unit_cost SET amount_eur = 0",
            "DELETE FROM koers.daily_use",
            "SELECT koers.refresh_participants(ARRAY['x'])",
            "SELECT koers.refresh_all()",
            "CREATE TABLE koers.notes (note text)",
            "SET ROLE koers_consumer",
            "SELECT * FROM dash.metrics()",
        ],
        ("koers_dash", None, "koers_dash"): [
            "SELECT count(*) FROM koers.contact",
            "SELECT count(*) FROM koers.participant",
            "INSERT INTO koers.contact SELECT * FROM koers.contact LIMIT 0",
            "SELECT count(*) FROM koers.consumer_offset",
            "SELECT koers.refresh_all()",
            "UPDATE koers.dash_audit SET action = 'nothing'",
            "DELETE FROM koers.dash_audit",
            "SET ROLE koers_consumer",
            "CREATE TABLE koers.notes (note text)",
        ],
        ("koers_dash", "koers_funder", "koers_dash as koers_funder"): [
            "SELECT count(*) FROM koers.participant",
            "SELECT count(*) FROM koers.contact",
            "SELECT * FROM dash.participants(NULL, NULL, NULL, 'export')",
            "SELECT * FROM dash.users()",
            "UPDATE koers.unit_cost SET amount_eur = 0",
        ],
    }
    tried = refused = 0
    for (login, set_role, label), stmts in forbidden.items():
        for sql in stmts:
            ok, state, out = as_role(db, login, sql, set_role)
            good = not ok and state == "42501"
            tried += 1
            refused += good
            c.ok(f"{label} may not: {sql}", good, "ERROR 42501 (insufficient privilege)",
                 f"{'succeeded' if ok else state} {out}")
            actions.append({"role": label, "action": sql, "expected": "refused (42501)",
                            "result": f"refused ({state}): {out}" if not ok else "ALLOWED"})
    c.equal("nothing changed by the attempts: the events are all there", n,
            sum(len(k.table_rows(db, t)) for t in k.EVENT_TYPES))

    # ------------------------------------------------------------ a right taken away
    # A reachable database that refuses every attempt at a batch (here: the consumer may no
    # longer store rejects) must not keep the consumer looping unseen: it stops with exit 1
    # and the reason, stores nothing of that batch, and once the right is back it goes on.
    k.psql("REVOKE INSERT ON koers.rejected_events FROM koers_consumer", db)
    before = rel.stored_progress(db, group)
    dl.kcat_send(prefix + "police_call", 1, b"\xc3\x01also not koers", b"lp2", tmp)
    r = k.run(argv, timeout=120, env=k.program_env())
    c.program("without INSERT on koers.rejected_events: the consumer stops instead of looping",
              r, 1)
    c.ok("... saying why", "permission denied for table rejected_events" in r.err and
         "refused this batch 8 times in a row" in r.err, "permission denied ... 8 times",
         r.err[-600:])
    c.equal("... and stores nothing of that batch (offsets unchanged)", before,
            rel.stored_progress(db, group))
    k.psql("GRANT INSERT ON koers.rejected_events TO koers_consumer", db)
    r = k.run(argv, timeout=120, env=k.program_env())
    c.program("with the right back, the same consumer goes on", r, 0)
    c.equal("... storing the batch it could not: new, already present, rejected", (0, 0, 1),
            k.consume_counts(r.err))

    # ------------------------------------------------------------ Kafka TLS and SASL
    sec = ["-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
           "-X", "sasl.username=koers", "-X", "sasl.password=zeer-geheim-42",
           "-X", "ssl.ca.location=/nonexistent/koers-ca.pem"]
    r = k.run([k.program("koers-consume"), "--dump-config", *sec], env=k.program_env())
    c.program("--dump-config with TLS and SASL settings", r, 0)
    for kv in ("kafka.security.protocol=SASL_SSL", "kafka.sasl.mechanisms=SCRAM-SHA-512",
               "kafka.sasl.username=koers", "kafka.sasl.password=<redacted>",
               "kafka.ssl.ca.location=/nonexistent/koers-ca.pem"):
        c.ok(f"--dump-config shows {kv}", kv in r.out, kv, r.out[-800:])
    c.ok("--dump-config never prints the password", "zeer-geheim-42" not in r.out + r.err,
         "absent", "printed")
    keyfile, _ = k.write_key_file(tmp)
    for name, argv in (("koers-produce", [k.program("koers-produce"), "import", "--key-file",
                                          keyfile, str(d / "contact.csv")]),
                       ("koers-consume", [k.program("koers-consume"), "-d", f"dbname={db}",
                                          "--until-caught-up"])):
        r = k.run([*argv, *sec], timeout=60, env=k.program_env())
        c.ok(f"{name}: librdkafka itself refuses the missing CA file (the setting got through)",
             r.rc in (2, 3) and "ssl.ca.location" in r.err and "zeer-geheim-42" not in r.err,
             "exit 2 or 3 naming ssl.ca.location", f"exit {r.rc}: {r.err[-400:]}")
        r = k.run([*argv, "-X", "security.protocol=carrier-pigeon"], timeout=60, env=k.program_env())
        c.ok(f"{name}: an unknown security.protocol is refused with librdkafka's reason",
             r.rc == 2 and "security.protocol" in r.err, "exit 2 naming security.protocol",
             f"exit {r.rc}: {r.err[-300:]}")
    # A real SASL/PLAIN listener (scripts/services): the settings work end to end, and a wrong
    # password is refused by the broker (exit 3, the reason logged, the password not).
    env = rel.services_env()
    if not env.get("KOERS_BROKERS_SASL"):
        print("# the broker predates its SASL listener: restarting it (scripts/services)")
        rel.restart("kafka")
        env = rel.services_env()
    sasl_ok = False
    if c.ok("the broker has a SASL_PLAINTEXT listener", env.get("KOERS_BROKERS_SASL"), "an address",
            env.get("KOERS_BROKERS_SASL")):
        pw = env["KOERS_SASL_PASSWORD"]
        via = ["-b", env["KOERS_BROKERS_SASL"], "-X", "security.protocol=SASL_PLAINTEXT",
               "-X", "sasl.mechanisms=PLAIN", "-X", f"sasl.username={env['KOERS_SASL_USERNAME']}"]
        p2 = prefix.rstrip(".") + "-sasl."
        r = k.produce("synth", "--participants", "3", "--months", "3", "--seed", "7711",
                      "--topic-prefix", p2, *via, "-X", f"sasl.password={pw}")
        ok1 = c.program("koers-produce over SASL_PLAINTEXT/PLAIN", r, 0)
        r = k.run([k.program("koers-consume"), "-d", f"dbname={db} user={consumer}",
                   "--topic-prefix", p2, "-g", group + "-sasl", "--until-caught-up", *via,
                   "-X", f"sasl.password={pw}"], timeout=300, env=k.program_env())
        ok2 = c.program("koers-consume over SASL_PLAINTEXT/PLAIN (as the consumer role)", r, 0)
        counts = k.consume_counts(r.err)
        ok3 = c.ok("... stores what came that way", counts is not None and counts[0] > 0, "> 0 new",
                   counts)
        r = k.produce("synth", "--participants", "3", "--months", "3", "--seed", "7712",
                      "--topic-prefix", p2, *via, "-X", "sasl.password=not-the-password",
                      timeout=120)
        ok4 = c.program("koers-produce with a wrong SASL password is refused", r, 3)
        ok5 = c.ok("... the broker's reason is logged, the password is not",
                   "Authentication failed" in r.err and "not-the-password" not in r.err,
                   "Authentication failed", r.err[-400:])
        sasl_ok = all((ok1, ok2, ok3, ok4, ok5))
        actions.append({"role": "Kafka client", "action": "produce and consume over SASL_PLAINTEXT"
                        " with the right password, produce with a wrong one", "expected":
                        "stored; refused (exit 3)", "result": "as expected" if sasl_ok else "NOT"})
    rel.record("least_privilege", {
        "roles": ["koers_consumer", "koers_analyst", "koers_dash", "koers_dash as koers_funder"],
        "forbidden_tried": tried, "forbidden_refused": refused, "actions": actions,
        "note": "A member of koers_consumer ran koers-consume for real (stream, redelivery, "
                "reject); a member of koers_analyst read the measures. The dashboards' own roles "
                "are tested in depth by test_dashboard_access.",
        "seconds": round(time.monotonic() - t0), "passed": c.passed, "failed": c.failed})
    c.finish()


if __name__ == "__main__":
    main()
