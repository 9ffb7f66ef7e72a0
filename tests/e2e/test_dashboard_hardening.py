#!/usr/bin/env python3
"""koers-dash against hostile clients (issue 15, items 4, 6, 7, 8 on the server's side):
/metrics without a configured token does not exist; requests without one Host, with two
Content-Lengths or with Content-Length and Transfer-Encoding are refused; failed logins under
names that shared the user's throttle slot in the old unkeyed table do not end a lock; and many
slow connections from one address neither shut out other clients nor stay open past the
request deadline.

Runs a real koers-dash (built with the sanitizers by scripts/test) on a migrated database
without events (tests/browser/dashfixture.py), with --max-connections 16,
--max-connections-per-address 4 and --request-deadline 3. Every connection goes to
127.0.0.1 (sources 127.0.0.1..127.0.0.3, all loopback); at most 12 slow connections, for at
most 15 seconds.

Environment: as the other e2e tests. Last line "N passed, M failed"; exit 1 on any failure.
"""
import select
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402

PER_ADDRESS = 4
DEADLINE = 3
SLOW = 20          # slow connections from one address: more than --max-connections


def main():
    c = e2e.Checks("test_dashboard_hardening")
    fx = c.run(dashfixture.Fixture, c, "dashhard",
               ("--max-connections", "16", "--max-connections-per-address", str(PER_ADDRESS),
                "--request-deadline", str(DEADLINE)), False)
    if fx:
        c.run(metrics_off, c, fx)
        c.run(framing, c, fx)
        c.run(throttle, c, fx)
        c.run(slow_clients, c, fx)
    c.finish()


def connect(port, source="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def status_of(port, data):
    """Sends raw bytes, returns the status line (or what ended the connection)."""
    s = connect(port)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\r\n", 1)[0].decode("latin-1") or "closed"
    except OSError as e:
        return f"error {e}"
    finally:
        s.close()


def metrics_off(c, fx):
    anon = dashfixture.Client(fx.base)
    status, _, body = anon.request("/metrics")
    c.ok("/metrics without a configured token: 404, nothing served", status == 404 and b"koers_" not in body,
         404, (status, body[:80]))


def framing(c, fx):
    ok = status_of(fx.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    c.ok("control: a well-framed request is answered (200)", " 200 " in ok, "200", ok)
    cases = [
        ("no Host header (HTTP/1.1)", b"GET /healthz HTTP/1.1\r\n\r\n"),
        ("no Host header (HTTP/1.0)", b"GET /healthz HTTP/1.0\r\n\r\n"),
        ("two Host headers", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ("two Content-Length headers",
         b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
         b"Content-Length: 5\r\nContent-Length: 20\r\n\r\nuser=xxxxxxxxxxxxxxx"),
        ("Content-Length and Transfer-Encoding",
         b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
         b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nuser=\r\n0\r\n\r\n"),
    ]
    for what, data in cases:
        st = status_of(fx.port, data)
        c.ok(f"refused with 400: {what}", " 400 " in st, "400", st)


def fnv_slot(key):
    """The slot the old limiter (FNV-1a, unkeyed, 1024 slots) gave a key."""
    h = 2166136261
    for b in key.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h % 1024


def throttle(c, fx):
    victim, victim_pw = fx.users["funder"]
    home = fnv_slot("u:" + victim)
    colliding = []
    i = 0
    while len(colliding) < 8:
        name = f"z{i}"
        if fnv_slot("u:" + name) == home:
            colliding.append(name)
        i += 1
    client = dashfixture.Client(fx.base)
    codes = [client.login(victim, f"guess-{k}")[0] for k in range(6)]
    c.ok("throttle: the user is locked after 5 failures", codes == [401] * 5 + [429], "401 x5, 429", codes)
    other = [client.login(name, "wrong-password-1")[0] for name in colliding]
    c.ok("throttle: failed logins under 8 names that shared the user's slot are refused (401)",
         other == [401] * 8, "401 x8", other)
    status, headers, _ = client.login(victim, victim_pw)
    c.ok("throttle: the user is still locked after them, even with the right password (429)",
         status == 429 and int(headers.get("Retry-After", "0")) > 500, "429, Retry-After > 500",
         (status, headers.get("Retry-After")))


def slow_clients(c, fx):
    t0 = time.monotonic()
    conns = []          # [socket, source, opened_at, closed_at]
    for i in range(SLOW):
        try:
            s = connect(fx.port, "127.0.0.2", timeout=5)
            s.setblocking(False)
            s.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            conns.append([s, "127.0.0.2", time.monotonic(), None])
        except OSError:
            conns.append([None, "127.0.0.2", time.monotonic(), time.monotonic()])
    # A body that trickles, from another address.
    s = connect(fx.port, "127.0.0.3", timeout=5)
    s.setblocking(False)
    s.send(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: 200\r\n\r\nuser=")
    body = [s, "127.0.0.3", time.monotonic(), None]
    conns.append(body)
    served = []
    ticks = 0
    while time.monotonic() - t0 < 15 and any(x[3] is None for x in conns):
        for x in conns:
            if x[3] is not None:
                continue
            try:
                r, _, _ = select.select([x[0]], [], [], 0)
                if r and x[0].recv(4096) == b"":
                    raise ConnectionResetError("closed")
                x[0].send(b"a")  # one byte of a header line (or of the body) at a time
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                x[3] = time.monotonic()
        if ticks in (2, 4):  # while the slow ones are open: another client, from 127.0.0.1
            st = status_of(fx.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            served.append(st)
        ticks += 1
        time.sleep(0.5)
    for x in conns:
        if x[0]:
            x[0].close()
    slow = conns[:SLOW]
    refused = [x for x in slow if x[3] is not None and x[3] - x[2] < 1.0]
    held = [x for x in slow if x not in refused]
    c.ok(f"slow clients: at most {PER_ADDRESS} connections from one address are kept, the others closed at once",
         len(held) == PER_ADDRESS and len(refused) == SLOW - PER_ADDRESS, f"{PER_ADDRESS} kept",
         f"{len(held)} kept, {len(refused)} closed at once")
    c.ok("slow clients: other clients are served meanwhile (200)", len(served) == 2 and all(" 200 " in s for s in served),
         "200, 200", served)
    late = [round(x[3] - x[2], 1) if x[3] else None for x in held]
    c.ok(f"slow clients: trickling headers are closed by the {DEADLINE} s deadline (within 2 s more)",
         held and all(x is not None and DEADLINE - 0.5 <= x <= DEADLINE + 2 for x in late),
         f"{DEADLINE}..{DEADLINE + 2} s", late)
    took = round(body[3] - body[2], 1) if body[3] else None
    c.ok(f"slow clients: a trickling body is closed by the {DEADLINE} s deadline",
         took is not None and DEADLINE - 0.5 <= took <= DEADLINE + 2, f"{DEADLINE}..{DEADLINE + 2} s", took)
    c.ok("slow clients: the server logs the connections it closed",
         fx.log().count("closed a connection from 127.0.0.2") >= PER_ADDRESS, f">= {PER_ADDRESS} log lines",
         [l for l in fx.log().splitlines() if "closed a connection" in l][:6])
    st = status_of(fx.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    c.ok("slow clients: afterwards the server still answers", " 200 " in st, "200", st)


if __name__ == "__main__":
    main()
