"""Helpers of koers' reliability tests (faults, scale-out, bad input, privacy, privileges).

Built on koers_e2e (same environment). What is here:
- result records: each reliability test writes one JSON file that scripts/reliability turns
  into the reliability report (KOERS_RELIABILITY_DIR, default $KOERS_BIN/reliability);
- the stream as Kafka holds it: every message's envelope decoded by hand from the bytes,
  partition end offsets, and the event ids a consumer that stopped at given offsets must have;
- what the database holds, as digests and as comparisons with a recomputation from the raw
  tables (event_count_month, and the prepared measure tables against koers.refresh_all());
- fault machinery: consumer processes that are started and SIGKILLed, restarts of the
  services through scripts/services (which honours KOERS_STATE_DIR), slow CSV input through
  a named pipe so that a producer is reliably part-way through a file.
"""
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import koers_e2e as k

# ---------------------------------------------------------------- result records


def soak():
    """True for the long release-check run (scripts/reliability --soak sets KOERS_SOAK=1)."""
    return os.environ.get("KOERS_SOAK", "") not in ("", "0")


def env_int(name, default, soak_default=None):
    """An integer setting from the environment, else the default (the soak one in a soak)."""
    v = os.environ.get(name)
    if v:
        return int(v)
    return soak_default if soak() and soak_default is not None else default


def record(test, data):
    """Writes the test's figures as JSON for the reliability report; returns the path."""
    d = Path(os.environ.get("KOERS_RELIABILITY_DIR") or k.bin_dir() / "reliability")
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{test}.json"
    data = dict(data, test=test, soak=soak(), written_at=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                      time.gmtime()))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------- Avro envelope, by hand


def read_long(b, at):
    """A zig-zag varint at b[at:]: (value, next position)."""
    shift, z = 0, 0
    while True:
        x = b[at]
        at += 1
        z |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return (z >> 1) ^ -(z & 1), at


def read_string(b, at):
    n, at = read_long(b, at)
    return b[at:at + n].decode("utf-8"), at + n


def envelope(payload, participant=True):
    """The envelope of a koers message (single-object encoding; the envelope comes first in
    every event schema): {event_id, participant, occurred_at, recorded_at, source}; a type
    about a source (coverage) has no participant (None here)."""
    if payload[:2] != b"\xc3\x01":
        raise ValueError("not single-object encoded")
    at = 10
    ev = {"participant": None}
    ev["event_id"], at = read_string(payload, at)
    if participant:
        ev["participant"], at = read_string(payload, at)
    ev["occurred_at"], at = read_long(payload, at)
    ev["recorded_at"], at = read_long(payload, at)
    ev["source"], at = read_string(payload, at)
    return ev


# ---------------------------------------------------------------- Kafka


def end_offsets(prefix, types=k.EVENT_TYPES, partitions=6):
    """{(topic, partition): end offset} of the run's topics (kcat -Q, timestamp -1). Retries
    for a while: right after a broker restart the partitions' leaders are still being
    elected ("Not leader for partition")."""
    argv = ["kcat", "-b", k.brokers(), "-Q"]
    for t in types:
        for p in range(partitions):
            argv += ["-t", f"{prefix}{t}:{p}:-1"]
    deadline = time.monotonic() + 60
    while True:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if r.returncode != 0:
        raise RuntimeError("kcat -Q: " + r.stderr.decode("utf-8", "replace"))
    out = {}
    for m in re.finditer(r"^(\S+) \[(\d+)\] offset (-?\d+)$", r.stdout.decode(), re.M):
        out[(m.group(1), int(m.group(2)))] = int(m.group(3))
    return out


def total_messages(prefix, types=k.EVENT_TYPES):
    return sum(max(v, 0) for v in end_offsets(prefix, types).values())


class Stream:
    """Every message of the run's event topics, with its decoded envelope."""

    def __init__(self, prefix, types=k.EVENT_TYPES):
        self.by_part = {}  # (topic, partition) -> [(offset, event_id, recorded_at)] by offset
        for t in types:
            topic = prefix + t
            rows = defaultdict(list)
            for m in k.kcat_messages(topic, timeout=300):
                ev = envelope(m["payload"], k.has_participant(t))
                rows[m["partition"]].append((m["offset"], ev["event_id"], ev["recorded_at"]))
            for p, lst in rows.items():
                lst.sort()
                self.by_part[(topic, p)] = lst

    def messages(self):
        return sum(len(v) for v in self.by_part.values())

    def first_recorded(self):
        """{event_id: recorded_at of its first copy in the stream} (a copy always lands in
        the partition of its key (participant, or source for coverage), so 'first' is the lowest
        offset there)."""
        out = {}
        for lst in self.by_part.values():
            for _off, eid, rec in lst:
                out.setdefault(eid, rec)
        return out

    def prefix_ids(self, next_offsets):
        """The distinct event ids below each partition's next offset: what a consumer that
        stopped there must have stored. next_offsets: {(topic, partition): next offset}."""
        ids = set()
        for key, lst in self.by_part.items():
            stop = next_offsets.get(key, 0)
            for off, eid, _rec in lst:
                if off >= stop:
                    break
                ids.add(eid)
        return ids


def digest(ids):
    """(count, md5 of the sorted ids joined by commas): what db_digest computes in SQL."""
    s = ",".join(sorted(ids))
    return len(ids), hashlib.md5(s.encode()).hexdigest()


# ---------------------------------------------------------------- PostgreSQL

def all_ids_sql():
    return " UNION ALL ".join(f"SELECT event_id FROM koers.{t}" for t in k.EVENT_TYPES)


def db_digest(db):
    """(rows in the event tables, md5 of their sorted event ids), like digest()."""
    r = k.psql(f"SELECT count(*), md5(coalesce(string_agg(event_id::text, ','"
               f" ORDER BY event_id::text), '')) FROM ({all_ids_sql()}) e", db)
    return int(r[0][0]), r[0][1]


def db_offsets(db, group):
    """{(topic, partition): next offset} stored for group."""
    return {(t, int(p)): int(o) for t, p, o in k.psql(
        f"SELECT topic, partition, next_offset FROM koers.consumer_offset"
        f" WHERE group_id = '{group}'", db)}


def stored_progress(db, group):
    r = k.psql(f"SELECT coalesce(sum(next_offset), 0) FROM koers.consumer_offset"
               f" WHERE group_id = '{group}'", db)
    return int(r[0][0])


PREPARED = ("participant", "enrolment_span", "daily_use", "open_stay", "participant_month_count",
            "goal_history", "registration_month", "lateness_histogram")


def prepared_mismatches(db):
    """{prepared table: rows that differ from a recomputation from the raw tables}: copies
    the prepared tables, runs koers.refresh_all() and compares, in one transaction that is
    rolled back (so the database is left as it was)."""
    sql = ["BEGIN;"]
    for t in PREPARED:
        sql.append(f"CREATE TEMP TABLE was_{t} ON COMMIT DROP AS SELECT * FROM koers.{t};")
    sql.append("SELECT koers.refresh_all() \\g /dev/null")
    for t in PREPARED:
        sql.append(f"SELECT '{t}', count(*) FROM ((TABLE was_{t} EXCEPT ALL TABLE koers.{t})"
                   f" UNION ALL (TABLE koers.{t} EXCEPT ALL TABLE was_{t})) d;")
    sql.append("ROLLBACK;")
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-F", "|", "-d", db],
                       input="\n".join(sql), text=True, capture_output=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("recomputing the prepared tables: " + r.stderr)
    out = {}
    for line in r.stdout.splitlines():
        name, n = line.split("|")
        out[name] = int(n)
    return out


def prepared_rows(db, table):
    """Every row of a prepared table as text tuples (for comparing two databases)."""
    return [tuple(r) for r in k.psql(f"SELECT t::text FROM koers.{table} t ORDER BY 1", db)]


def month_count_mismatches(db):
    """Rows of koers.event_count_month that differ from a recount from the raw tables."""
    return len(set(k.count_month_rows(db)) ^ set(k.recount_month_rows(db)))


# ---------------------------------------------------------------- processes and services

GROUP_X = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"]


class Consumer:
    """A koers-consume process in the background, its stderr in a file."""

    def __init__(self, db, prefix, group, logdir, name, *args):
        self.name = name
        self.log_path = Path(logdir) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        argv = k.consume_argv(db, prefix, group, *GROUP_X, *args)
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.log,
                                  start_new_session=True, env=k.program_env())
        self.started = time.monotonic()

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Sends sig if still running; returns True if it was running."""
        alive = self.alive()
        if alive:
            os.kill(self.p.pid, sig)
        return alive

    def wait(self, timeout=120):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.p.pid, signal.SIGKILL)
            rc = self.p.wait()
        self.log.close()
        return rc

    def stderr(self):
        return self.log_path.read_text(errors="replace")


def services(*args, timeout=300):
    """Runs scripts/services with the test's environment (KOERS_STATE_DIR names the
    instance). Returns a koers_e2e.Result."""
    return k.run([str(k.repo_dir() / "scripts" / "services"), *args], timeout=timeout,
                 env=dict(os.environ))


def services_env():
    """What `scripts/services env` says now: {name: value}."""
    r = services("env")
    out = {}
    for line in r.out.splitlines():
        m = re.match(r"export (\w+)=(.*)$", line)
        if m:
            out[m.group(1)] = subprocess.run(["bash", "-c", f"printf %s {m.group(2)}"],
                                             capture_output=True, text=True).stdout
    return out


def restart(what, down=0):
    """Restarts kafka or postgres, kept stopped for down seconds; fails (raises) if it came
    back on another port, since the running programs would then be talking to nothing."""
    before = services_env()
    r = services("restart", what, "--down", str(down))
    if r.rc != 0:
        raise RuntimeError(f"scripts/services restart {what} failed:\n{r.describe()}")
    after = services_env()
    for v in ("KOERS_BROKERS", "PGPORT"):
        if before.get(v) != after.get(v):
            raise RuntimeError(f"{what} came back with {v}={after.get(v)} (was {before.get(v)})")
    return r


class SlowFile:
    """Feeds a CSV file through a named pipe in slices, so that a producer reading it is
    part-way through for as long as the test wants. The pipe is at path; the content is
    written in pieces of piece bytes with pause seconds between them."""

    def __init__(self, path, content, piece=65536, pause=0.2):
        self.path = Path(path)
        os.mkfifo(self.path)
        self.content, self.piece, self.pause = content, piece, pause
        self.written = 0
        self.error = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self):
        try:
            with open(self.path, "wb") as f:  # blocks until the producer opens it
                for at in range(0, len(self.content), self.piece):
                    f.write(self.content[at:at + self.piece])
                    f.flush()
                    self.written = at + len(self.content[at:at + self.piece])
                    time.sleep(self.pause)
        except (BrokenPipeError, OSError) as e:  # the producer was stopped: expected
            self.error = e
        finally:
            self.done.set()

    def unblock(self):
        """Lets the feeding thread end if nobody ever opened the pipe."""
        if not self.done.is_set():
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError:
                pass
        self.thread.join(timeout=10)


def split_csv(src_dir, dest_root, chunks, rng):
    """Splits each <type>.csv of src_dir into `chunks` directories dest_root/chunkNN (every
    row in exactly one, header in each; rows keep their order). Returns the directories."""
    dirs = [Path(dest_root) / f"chunk{i:02d}" for i in range(chunks)]
    for d in dirs:
        d.mkdir(parents=True)
    for t in k.EVENT_TYPES:
        src = Path(src_dir) / f"{t}.csv"
        if not src.exists():
            continue
        lines = src.read_bytes().split(b"\r\n")
        header, rows = lines[0], [x for x in lines[1:] if x]
        outs = [[header] for _ in dirs]
        for row in rows:
            outs[rng.randrange(chunks)].append(row)
        for d, rows_of in zip(dirs, outs):
            (d / f"{t}.csv").write_bytes(b"\r\n".join(rows_of) + b"\r\n")
    return dirs


def fingerprints(paths=None):
    """{schema name: its 8-byte little-endian fingerprint as the single-object header holds
    it}, by the tests' schema-fp tool, for schemas/*.avsc (or the given files)."""
    paths = paths or sorted((k.repo_dir() / "schemas").glob("*.avsc"))
    r = k.run([str(k.bin_dir() / "tests" / "schema-fp"), *paths], timeout=60)
    if r.rc != 0:
        raise RuntimeError("schema-fp: " + r.err)
    out = {}
    for line in r.out.splitlines():
        name, _canonical, fp = line.split("\t")
        out[name] = int(fp).to_bytes(8, "little")
    return out
