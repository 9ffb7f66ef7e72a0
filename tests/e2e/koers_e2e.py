"""Shared helpers of koers' end-to-end tests (Python 3 standard library only).

The tests run the real programs (koers-produce, koers-consume) against the Kafka broker and
the PostgreSQL cluster that scripts/services runs; the caller has eval'd
`scripts/services env`. Environment: KOERS_BIN (CMake build directory), KOERS_SOURCE_DIR,
KOERS_TEST_DATA (tests/data), KOERS_BROKERS, PG*, KOERS_KAFKA_DATA_DIR; KOERS_KEEP_TEST_DB
keeps the per-run database for inspection.

Everything a test expects is computed here from the input, independently of the C code:
pseudonyms, event ids, times, the catalogue's columns, rows and monthly counts.
"""
import csv
import datetime
import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
import zoneinfo
from collections import Counter
from pathlib import Path

ZONE_NAME = "Europe/Amsterdam"
ZONE = zoneinfo.ZoneInfo(ZONE_NAME)
UTC = datetime.timezone.utc

# ---------------------------------------------------------------- the catalogue (domain.md)

EVENT_TYPES = ("enrolment", "contact", "crisis", "goal_change", "police_call", "zrm_score",
               "stressor", "status_change", "coverage", "correction")
COMMON_COLUMNS = ("record_id", "client_id", "occurred_at", "source")
# A coverage statement is about a source, not a participant: no client_id column, no
# participant in the message or the table.
SOURCE_TYPES = ("coverage",)
# The types koers.event_count_month counts (koers.apply_staged(), sql/defs/20_prepared.sql):
# every type, coverage statements included.
MONTH_COUNTED_TYPES = EVENT_TYPES


def has_participant(etype):
    return etype not in SOURCE_TYPES

# Own fields of each type: (name, kind, symbols or (min, max), optional). Written from the
# domain brief, not from lib/catalog.c.
FIELDS = {
    "enrolment": [
        ("change", "enum", ("enrolled", "paused", "resumed", "exited"), False),
        ("cohort", "string", None, False),
    ],
    "contact": [
        ("with_role", "enum", ("care_worker", "addiction_worker", "neighbourhood_team",
                               "municipality", "experience_expert", "significant_other",
                               "general_practitioner", "housing", "police_liaison", "other"),
         False),
        ("mode", "enum", ("face_to_face", "home_visit", "outreach", "phone", "digital", "group"),
         False),
        ("initiated_by", "enum", ("participant", "professional", "network"), False),
        ("duration_min", "int", (0, 1440), False),
        ("planned", "bool", None, False),
    ],
    "crisis": [
        ("kind", "enum", ("crisis_contact", "crisis_admission", "emergency_department",
                          "compulsory_care", "respite_stay", "shelter_night"), False),
        ("days", "int", (0, 366), True),
        ("episode_ref", "string", None, True),
    ],
    "goal_change": [
        ("goal_ref", "string", None, False),
        ("domain", "enum", ("housing", "daytime_activity", "work", "social_contact", "family",
                            "pet", "leisure", "finances", "physical_health", "mental_health",
                            "addiction", "safety_justice", "self_care", "other"), False),
        ("change", "enum", ("set", "progress", "setback", "achieved", "revised", "abandoned",
                            "reopened"), False),
        ("set_by", "enum", ("participant", "participant_with_network", "professional"), False),
        ("gas", "int", (-2, 2), True),
        ("weight", "int", (1, 10), True),
    ],
    "police_call": [
        ("kind", "enum", ("confused_person", "nuisance", "threat_violence", "welfare_check",
                          "arrest", "victim", "other"), False),
        ("caller", "enum", ("participant", "family", "neighbour", "professional", "public",
                            "police"), False),
        ("outcome", "enum", ("none", "advice", "referred_to_care", "taken_to_crisis_service",
                             "custody", "other"), False),
    ],
    "zrm_score": [
        ("domain", "enum", ("finances", "work_and_education", "time_use", "housing",
                            "domestic_relations", "mental_health", "physical_health",
                            "substance_use", "basic_adl", "instrumental_adl", "social_network",
                            "community_participation", "justice", "parenting"), False),
        ("score", "int", (1, 5), False),
        ("scored_by", "enum", ("professional", "participant_with_professional", "participant"),
         False),
    ],
    "stressor": [
        ("kind", "enum", ("debts", "no_income", "no_work_or_daytime_activity",
                          "housing_insecurity", "eviction_threat", "conflict_or_violence", "loss",
                          "health", "justice", "other"), False),
        ("change", "enum", ("present", "reduced", "resolved", "returned"), False),
    ],
    # Every status optional; a row names at least one (the catalogue's rule).
    "status_change": [
        ("housing", "enum", ("homeless", "shelter", "supported_housing", "with_others",
                             "independent"), True),
        ("rent_arrears", "bool", None, True),
        ("eviction", "enum", ("notice", "evicted"), True),
        ("daytime_activity", "enum", ("none", "daytime_activity", "volunteer_work", "paid_work",
                                      "education"), True),
        ("income_source", "enum", ("none", "wages", "benefits", "pension", "student_finance",
                                   "other"), True),
        ("debt_counselling", "enum", ("none", "waiting", "active", "settled"), True),
    ],
    "coverage": [
        ("covered_type", "enum", ("enrolment", "contact", "crisis", "goal_change",
                                  "police_call", "zrm_score", "stressor", "status_change"), False),
        ("covered_from", "date", None, False),
        ("covered_to", "date", None, True),
    ],
    "correction": [
        ("target_event_id", "uuid", None, False),
        ("action", "enum", ("void",), False),
    ],
}


def csv_columns(etype):
    """The CSV columns of a type: the common ones, then its own (a correction names its target
    by record id and type)."""
    common = COMMON_COLUMNS if has_participant(etype) else \
        tuple(c for c in COMMON_COLUMNS if c != "client_id")
    if etype == "correction":
        return common + ("target_record_id", "target_type", "action")
    return common + tuple(f[0] for f in FIELDS[etype])


# ---------------------------------------------------------------- environment and names

def repo_dir():
    return Path(os.environ.get("KOERS_SOURCE_DIR") or Path(__file__).resolve().parents[2])


def bin_dir():
    return Path(os.environ.get("KOERS_BIN") or repo_dir() / "build")


def test_data():
    return Path(os.environ.get("KOERS_TEST_DATA") or repo_dir() / "tests" / "data")


def program(name):
    return str(bin_dir() / name)


def brokers():
    return os.environ["KOERS_BROKERS"]


def require_env():
    """Stops the test (as one failure) when the services' environment is missing."""
    missing = [v for v in ("KOERS_BROKERS", "PGHOST", "PGPORT", "PGUSER", "KOERS_KAFKA_DATA_DIR")
               if not os.environ.get(v)]
    for p in ("koers-produce", "koers-consume"):
        if not os.access(program(p), os.X_OK):
            missing.append(f"{program(p)} (not built)")
    for tool in ("kcat", "psql"):
        if not shutil.which(tool):
            missing.append(tool)
    if missing:
        print("FAIL environment: missing " + ", ".join(missing) +
              " (run: eval \"$(scripts/services env)\" and build)")
        print("0 passed, 1 failed")
        sys.exit(1)


def unique(prefix):
    return f"{prefix}{secrets.token_hex(5)}"


def new_run_names(tag):
    """A topic prefix, a consumer group and a database name of their own for one test run."""
    h = secrets.token_hex(5)
    return {"prefix": f"t{h}.", "group": f"g{h}-{tag}", "db": f"koers_test_{tag}_{h}"}


# ---------------------------------------------------------------- running programs

class Result:
    def __init__(self, argv, rc, out, err, seconds, timed_out=False):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err
        self.seconds, self.timed_out = seconds, timed_out

    def describe(self):
        err = self.err if len(self.err) < 4000 else self.err[:2000] + "\n...\n" + self.err[-2000:]
        return (f"$ {' '.join(self.argv)}\n  exit {self.rc}{' (timed out)' if self.timed_out else ''}"
                f" after {self.seconds:.1f}s\n  stderr:\n    " + err.replace("\n", "\n    "))


def run(argv, timeout=120, stdin_bytes=None, env=None):
    """Runs argv with captured output (decoded with replacement); never raises on exit status."""
    argv = [str(a) for a in argv]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(stdin_bytes, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        timed_out = True
    return Result(argv, p.returncode, out.decode("utf-8", "replace"),
                  err.decode("utf-8", "replace"), time.monotonic() - t0, timed_out)


def program_env():
    """The environment for the programs, without the settings a test passes explicitly or
    whose defaults its expectations rely on (time zone Europe/Amsterdam; synth's seed key;
    how import reads CSV)."""
    env = dict(os.environ)
    for v in ("KOERS_TIME_ZONE", "KOERS_KEY_FILE", "KOERS_TOPIC_PREFIX", "KOERS_GROUP",
              "KOERS_CSV_DELIMITER", "KOERS_CSV_ENCODING", "KOERS_DATE_ORDER"):
        env.pop(v, None)
    return env


# One moment for every synth run of a test: with the clock, two runs of a seed a minute apart
# can differ (a registration recorded in that minute is left out of the first only).
SYNTH_NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def produce(*args, timeout=180):
    if args and args[0] == "synth" and "--now" not in args:
        args = (*args, "--now", SYNTH_NOW)
    return run([program("koers-produce"), *args], timeout=timeout, env=program_env())


def consume(db, prefix, group, *args, timeout=180):
    return run([program("koers-consume"), "-d", f"dbname={db}", "--topic-prefix", prefix,
                "-g", group, *args], timeout=timeout, env=program_env())


def consume_argv(db, prefix, group, *args):
    return [program("koers-consume"), "-d", f"dbname={db}", "--topic-prefix", prefix, "-g", group,
            *args]


LOGFMT_PAIR_RE = re.compile(r'([^\s="]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))(?:\s+|$)')
LOGFMT_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def parse_logfmt(line):
    """The key/value pairs of one logfmt line (koers' logger: bare words, or double-quoted
    values with \\ \" \n \t \r \\uXXXX escapes), or None if the line is not logfmt."""
    pairs, at = {}, 0
    line = line.rstrip("\n")
    while at < len(line):
        m = LOGFMT_PAIR_RE.match(line, at)
        if not m:
            return None
        key, quoted, bare = m.groups()
        if quoted is not None:
            bare = re.sub(r'\\(u[0-9a-fA-F]{4}|.)',
                          lambda e: chr(int(e.group(1)[1:], 16)) if e.group(1)[0] == "u"
                          else LOGFMT_ESCAPES.get(e.group(1), "\0"), quoted)
            if "\0" in bare:
                return None
        pairs[key] = bare
        at = m.end()
    return pairs if pairs else None


def log_records(stderr):
    """Every koers log line of stderr (logfmt, with ts, level, prog and msg) as a dict."""
    out = []
    for line in stderr.splitlines():
        rec = parse_logfmt(line)
        if rec and {"ts", "level", "prog", "msg"} <= rec.keys():
            out.append(rec)
    return out


def log_text(stderr):
    """The messages of stderr's log lines, one a line, unescaped: what a test matches on."""
    return "\n".join(r["msg"] for r in log_records(stderr))


STORED_RE = re.compile(r"stored (\d+) new event\(s\), (\d+) already present, (\d+) rejected")


def consume_counts(stderr):
    """(new, already present, rejected) from the consumer's closing log line, or None."""
    m = STORED_RE.findall(stderr)
    return tuple(int(x) for x in m[-1]) if m else None


# ---------------------------------------------------------------- PostgreSQL

def psql(sql, db=None, timeout=120):
    """Runs sql; returns rows as lists of strings (NULL shown as NULL). Raises on error."""
    argv = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-F", "|", "-P", "null=NULL",
            "-d", db or os.environ.get("PGDATABASE", "koers"), "-c", sql]
    r = run(argv, timeout=timeout)
    if r.rc != 0:
        raise RuntimeError(f"psql failed: {sql[:200]}\n{r.err}")
    return [line.split("|") for line in r.out.split("\n") if line != ""]


def create_db(name):
    psql(f'CREATE DATABASE "{name}"')


def drop_db(name):
    if os.environ.get("KOERS_KEEP_TEST_DB"):
        print(f"kept database {name} (KOERS_KEEP_TEST_DB)")
        return
    try:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except RuntimeError as e:
        print(f"warning: could not drop {name}: {e}")


def migrate(db):
    return run([program("koers-consume"), "-d", f"dbname={db}", "--migrate"], timeout=60,
               env=program_env())


def envelope_select(etype=None):
    """The envelope as text; a type without participant shows NULL in its place, so that
    every type's rows have the same shape."""
    who = "participant" if etype is None or has_participant(etype) else "NULL::text"
    return (f"event_id::text, {who},"
            " to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), source")


def field_select(etype):
    return ", ".join(f"{name}::text" for name, *_ in FIELDS[etype])


def table_rows(db, etype, recorded=False):
    """Every row of koers.<etype> as a tuple of text, ordered by event_id; with recorded=True,
    recorded_at (epoch ms) is appended."""
    extra = ", (extract(epoch FROM recorded_at) * 1000)::bigint::text" if recorded else ""
    rows = psql(f"SELECT {envelope_select(etype)}, {field_select(etype)}{extra}"
                f" FROM koers.{etype} ORDER BY event_id", db)
    return [tuple(r) for r in rows]


def all_tables(db, recorded=False):
    return {t: table_rows(db, t, recorded) for t in EVENT_TYPES}


def count_month_rows(db):
    return sorted(tuple(r) for r in psql(
        "SELECT event_type, source, month::text, events::text FROM koers.event_count_month"
        " ORDER BY 1, 2, 3", db))


def recount_month_rows(db):
    """The monthly counts recomputed in SQL from the raw tables, with the month taken in
    Europe/Amsterdam directly (not through koers.local_month)."""
    parts = [f"SELECT '{t}' AS event_type, source, occurred_at FROM koers.{t}"
             for t in MONTH_COUNTED_TYPES]
    return sorted(tuple(r) for r in psql(
        "SELECT event_type, source,"
        f" date_trunc('month', occurred_at AT TIME ZONE '{ZONE_NAME}')::date::text, count(*)::text"
        f" FROM ({' UNION ALL '.join(parts)}) e GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", db))


def offsets(db, group=None):
    where = f" WHERE group_id = '{group}'" if group else ""
    return sorted(tuple(r) for r in psql(
        f"SELECT topic, partition::text, next_offset::text FROM koers.consumer_offset{where}"
        " ORDER BY 1, 2", db))


def wait_backends_gone(db, timeout=20):
    """Waits until no other session is connected to db (a killed consumer's server process
    may still be finishing a COMMIT it had sent; only then is the stored state final)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                 " AND pid <> pg_backend_pid()", db)
        if n == [["0"]]:
            return True
        time.sleep(0.05)
    return False


def pg_dump_bytes(db):
    p = subprocess.run(["pg_dump", "-d", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError("pg_dump failed: " + p.stderr.decode("utf-8", "replace"))
    return p.stdout


# ---------------------------------------------------------------- key, pseudonyms, times

def write_key_file(directory, key=None):
    """Writes a secret key (mode 0600) and returns (path, the key's bytes as the program
    reads them: without the trailing newline)."""
    key = key if key is not None else secrets.token_hex(24).encode()
    path = Path(directory) / "koers.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    os.chmod(path, 0o600)
    return str(path), key


def synth_key(seed):
    """The key synth uses without --key-file (producers/main.c): koers-synth-key-%020llu."""
    return b"koers-synth-key-%020d" % seed


def participant(key, client_id):
    return hmac.new(key, b"participant\0" + client_id.encode("utf-8"), hashlib.sha256).hexdigest()


def event_id(key, source, etype, record_id):
    msg = b"event\0" + source.encode() + b"\0" + etype.encode() + b"\0" + record_id.encode("utf-8")
    b = bytearray(hmac.new(key, msg, hashlib.sha256).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x80
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})"
                     r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
                     r"(Z|[+-]\d{2}(?::?\d{2})?))?$")


def parse_time_ms(text, zone=ZONE):
    """ms since the epoch of a CSV occurred_at: a date is midnight in zone; a date and time
    must carry Z or an offset. Raises ValueError otherwise."""
    m = TIME_RE.match(text)
    if not m:
        raise ValueError(f"not a contract time: {text!r}")
    y, mo, d, hh, mi, ss, frac, off = m.groups()
    if hh is None:
        local = datetime.datetime(int(y), int(mo), int(d), tzinfo=zone)
        return int(local.timestamp()) * 1000
    if off == "Z":
        tz = UTC
    else:
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
        tz = datetime.timezone(sign * datetime.timedelta(minutes=minutes))
    dt = datetime.datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss or 0), tzinfo=tz)
    millis = int((frac or "")[:3].ljust(3, "0"))
    return int(dt.timestamp()) * 1000 + millis


def format_ms(ms):
    dt = datetime.datetime(1970, 1, 1, tzinfo=UTC) + datetime.timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def local_month(ms, zone=ZONE):
    dt = datetime.datetime.fromtimestamp(ms / 1000, tz=zone)
    return f"{dt.year:04d}-{dt.month:02d}-01"


# ---------------------------------------------------------------- expected rows from CSV

def read_csv(path):
    """Rows of a CSV export as dicts (BOM and CRLF handled by the csv module)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def expected_row(etype, row, key):
    """The table row (text, like table_rows) that a valid CSV row must become."""
    src = row["source"]
    vals = []
    if etype == "correction":
        vals = [event_id(key, src, row["target_type"], row["target_record_id"]), row["action"]]
    else:
        for name, kind, _spec, _optional in FIELDS[etype]:
            v = row.get(name) or ""
            if v == "":
                vals.append("NULL")
            elif kind == "int":
                vals.append(str(int(v)))
            elif kind == "bool":
                vals.append({"true": "true", "false": "false"}[v])
            elif kind == "date":
                vals.append(datetime.date.fromisoformat(v).isoformat())
            else:
                vals.append(v)
    who = participant(key, row["client_id"]) if has_participant(etype) else "NULL"
    return (event_id(key, src, etype, row["record_id"]), who,
            format_ms(parse_time_ms(row["occurred_at"])), src, *vals)


def expected_from_rows(rows_by_type, key):
    """{type: sorted unique expected rows} from {type: [csv dict rows]}."""
    out = {}
    for etype in EVENT_TYPES:
        rows = {expected_row(etype, r, key) for r in rows_by_type.get(etype, [])}
        out[etype] = sorted(rows)
    return out


def expected_from_dir(directory, key):
    rows = {}
    for etype in EVENT_TYPES:
        p = Path(directory) / f"{etype}.csv"
        if p.exists():
            rows[etype] = read_csv(p)
    return expected_from_rows(rows, key)


def expected_month_counts(expected):
    """koers.event_count_month recomputed from expected rows (occurred_at is column 2)."""
    c = Counter()
    for etype, rows in expected.items():
        if etype not in MONTH_COUNTED_TYPES:
            continue
        for r in rows:
            ms = parse_time_ms(r[2])
            c[(etype, r[3], local_month(ms))] += 1
    return sorted((t, s, m, str(n)) for (t, s, m), n in c.items())


def merge_expected(*parts):
    out = {}
    for etype in EVENT_TYPES:
        out[etype] = sorted({r for p in parts for r in p.get(etype, [])})
    return out


# ---------------------------------------------------------------- Kafka via kcat

def kcat_messages(topic, timeout=60):
    """Every message of topic as dicts {partition, offset, key, payload} (bytes; key None
    when NULL), read binary-safely with length-prefixed output."""
    argv = ["kcat", "-b", brokers(), "-C", "-q", "-e", "-o", "beginning", "-t", topic,
            "-f", r"%p\t%o\t%K\t%S\t%k%s"]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"kcat {topic}: {p.stderr.decode('utf-8', 'replace')}")
    data, at, out = p.stdout, 0, []
    while at < len(data):
        fields = []
        for _ in range(4):
            tab = data.index(b"\t", at)
            fields.append(int(data[at:tab]))
            at = tab + 1
        part, off, klen, plen = fields
        key = data[at:at + klen] if klen >= 0 else None
        at += max(klen, 0)
        payload = data[at:at + plen] if plen >= 0 else None
        at += max(plen, 0)
        out.append({"partition": part, "offset": off, "key": key, "payload": payload})
    return out


def messages_blob(prefix):
    """Every key and payload (decompressed) on the topics of a run, NUL-separated: what a
    search for identifiers in the messages reads."""
    blob = b""
    for t in EVENT_TYPES + ("dead_letter",):
        for m in kcat_messages(prefix + t):
            blob += (m["key"] or b"") + b"\0" + (m["payload"] or b"") + b"\0"
    return blob


def kcat_headers(topic, partition, offset):
    """The headers of one message as kcat prints them (n=v, comma-separated)."""
    p = subprocess.run(["kcat", "-b", brokers(), "-C", "-q", "-e", "-t", topic, "-p",
                        str(partition), "-o", str(offset), "-c", "1", "-f", "%h"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"kcat headers {topic}: {p.stderr.decode('utf-8', 'replace')}")
    return p.stdout.decode("utf-8", "replace")


def kcat_first_payload(topic, path, timeout=60):
    """Writes the first message of topic's first non-empty partition to path (raw bytes,
    kcat -e -o beginning -c 1 -f '%s'); returns its bytes."""
    p = subprocess.run(["kcat", "-b", brokers(), "-C", "-q", "-e", "-o", "beginning", "-c", "1",
                        "-t", topic, "-f", "%s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if p.returncode != 0 or not p.stdout:
        raise RuntimeError(f"kcat first message of {topic}: {p.stderr.decode('utf-8', 'replace')}")
    Path(path).write_bytes(p.stdout)
    return p.stdout


def kcat_produce_file(topic, partition, path, key=None):
    """Sends the whole file as one message (kcat -P with a file argument)."""
    argv = ["kcat", "-b", brokers(), "-P", "-q", "-t", topic, "-p", str(partition)]
    if key is not None:
        argv += ["-k", key]
    argv.append(str(path))
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"kcat produce {topic}: {p.stderr.decode('utf-8', 'replace')}")


def data_regions(f):
    """The parts of an open file that hold data, skipping holes: Kafka preallocates its
    index files as 10 MB sparse files, which read as zeros. A needle without NUL bytes can
    neither lie in a hole nor span one, so searching the data regions is searching every
    byte of the file."""
    fd = f.fileno()
    size = os.fstat(fd).st_size
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole is left
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        f.seek(start)
        yield f.read(end - start)
        pos = end


def files_containing(root, needles):
    """{needle: [files under root whose bytes contain it]} for byte-string needles (which
    must not contain NUL bytes)."""
    assert all(n and b"\0" not in n for n in needles)
    rx = re.compile(b"|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    hits = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    for chunk in data_regions(f):
                        # Overlapping needles: check each one that the alternation hit, and
                        # the others by plain search only where the cheap pass saw something.
                        if rx.search(chunk):
                            for n in needles:
                                if n in chunk and path not in hits.setdefault(n, []):
                                    hits[n].append(path)
            except OSError:
                continue
    return hits


# ---------------------------------------------------------------- checks and the final line

class Checks:
    """Counts checks; every failure prints what was expected and what was found."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self.cleanups = []

    def ok(self, what, cond, expected="", found=""):
        if cond:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}")
            if expected != "" or found != "":
                print(f"     expected: {expected}")
                print(f"     found:    {found}")
        sys.stdout.flush()
        return bool(cond)

    def equal(self, what, expected, found):
        return self.ok(what, expected == found, repr(expected), repr(found))

    def rows(self, what, expected, found, limit=8):
        """Compares two row lists as multisets, printing the differences."""
        exp, got = Counter(expected), Counter(found)
        if exp == got:
            return self.ok(f"{what} ({sum(exp.values())} rows)", True)
        missing = list((exp - got).elements())
        extra = list((got - exp).elements())
        self.ok(what, False, f"{sum(exp.values())} rows", f"{sum(got.values())} rows; "
                f"{len(missing)} expected rows missing, {len(extra)} unexpected rows")
        for r in sorted(missing)[:limit]:
            print(f"     missing:    {'|'.join(r)}")
        for r in sorted(extra)[:limit]:
            print(f"     unexpected: {'|'.join(r)}")
        return False

    def program(self, what, result, want_rc=0):
        good = result.rc == want_rc and not result.timed_out
        self.ok(f"{what}: exit {want_rc}", good, f"exit {want_rc}", f"exit {result.rc}")
        if not good:
            print("     " + result.describe().replace("\n", "\n     "))
        for bad in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if bad in result.err:
                self.ok(f"{what}: no sanitizer report", False, "no sanitizer output",
                        result.err[result.err.index(bad):][:1500])
                break
        return good

    def run(self, fn, *args):
        """Runs a check function; an exception in it counts as one failure."""
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 -- report and go on with the other checks
            self.failed += 1
            print(f"FAIL {fn.__name__} raised:")
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            return None

    def cleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def finish(self):
        for fn, args in reversed(self.cleanups):
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001
                print(f"warning: cleanup {fn.__name__}: {e}")
        print(f"# {self.name}: {time.monotonic() - self.t0:.1f}s")
        print(f"{self.passed} passed, {self.failed} failed")
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def tempdir(checks, tag):
    d = tempfile.mkdtemp(prefix=f"koers-{tag}-")
    checks.cleanup(shutil.rmtree, d, True)
    return d
