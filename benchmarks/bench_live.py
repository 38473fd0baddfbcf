"""Live payments at province scale: many open loa streams, webhooks at a steady rate, one restart.

Target (issue #10): on this 2-core machine, hold **15,000 concurrent loa streams** and deliver
**200 webhooks/s** to the right streams with **p99 ≤ 1 s** from the webhook's arrival to the event
on the stream, **zero lost and zero doubled announcements**, over a run that includes provider
retries and one restart of the server processes; reported beside a **bare receiver** that only
stores the webhook (the floor).

    python benchmarks/bench_live.py                                # the full target (needs the whole box)
    python benchmarks/bench_live.py --streams 1000 --rate 50 --duration 30    # reduced size
    python benchmarks/bench_live.py --floor --rate 200 --duration 20          # the bare receiver only
    python benchmarks/bench_live.py --json

Set-up: a throw-away PostgreSQL database (``--postgres``, default the local server) with one market
of ``--stalls`` stalls, each with its own account; ``market40 serve --processes N`` (gunicorn,
gevent workers; fan-out by PostgreSQL LISTEN/NOTIFY). Each stream is a helper's view
(``/loa/xem/stream``) of one stall, its session cookie signed with the server's secret (what the
helper-code form would set). The load generator is one asyncio process: raw HTTP/1.1 sockets, SSE
parsed by hand, reconnecting with ``Last-Event-ID`` when a connection drops (the restart).

Measured per announcement: webhook *sent* (the client's clock, just before the request) → event
*received* on each stream of that stall. *Lost*: a stream that never received a transfer of its
stall. *Doubled*: the same transfer id received twice on one stream connection's lifetime, and
*announced twice*: after the page's own rule (it drops ids it has announced), which must be zero.
The server and the generator share the machine's cores, as the helpers' tests do here.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench_live: a throw-away deployment secret of 32+ bytes"
WEBHOOK_SECRET = "bench-live-webhook-secret-0123456789"
TARGET = {"streams": 15_000, "rate": 200, "p99_s": 1.0}


# ----------------------------------------------------------------------------- set-up

def make_database(admin_url: str) -> str:
    import psycopg
    name = f"market40_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    import psycopg
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def build_registry(url: str, stalls: int) -> list[tuple[int, str, str]]:
    """One market with ``stalls`` stalls, each with a verified account; returns (stall id, account, reference)."""
    from datetime import date, datetime, timezone
    from sqlmodel import Session
    from market40 import db, vietqr
    from market40.models import PaymentAccount, Stall
    from market40.services.registry import Actor, Registry
    db.upgrade(url)
    engine = db.make_engine(url)
    now = datetime.now(timezone.utc)
    accounts = []
    with Session(engine) as session:
        registry = Registry(session, Actor.operator("bench"))
        registry.add_locality(code="B-L", name="Phường Bench", kind="commune", unit_type="phường",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1))
        market, _ = registry.save_market(code="BM", name="Chợ Bench", tier="I", locality="B-L")
        rows = [Stall(market_id=market.id, code=f"S{n}", owner_name=f"Chủ sạp {n}") for n in range(1, stalls + 1)]
        session.add_all(rows)
        session.flush()
        for stall in rows:
            number = f"88{stall.id:010d}"
            purpose = f"BM {stall.code}"
            session.add(PaymentAccount(
                stall_id=stall.id, kind="bank_account", bin="970436", number=number, holder_name="CHU SAP",
                consent_purpose="bench", consent_at=now, consent_channel="paper", created_at=now, created_by="bench",
                purpose=purpose, payload=vietqr.build(bin="970436", account=number, purpose=purpose).payload,
                status="verified", verified_at=now))
            accounts.append({"s": stall.id, "num": number, "pur": purpose})
        session.commit()
    engine.dispose()
    return [(a["s"], a["num"], a["pur"]) for a in accounts]


def watch_cookies(url: str, stall_ids: list[int]) -> dict[int, str]:
    """A helper's session cookie per stall (a LiveWatch row each, the cookie the code form would set)."""
    from datetime import datetime, timezone
    from sqlalchemy import text
    from market40 import db
    from web import create_app
    engine = db.make_engine(url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO live_watch (stall_id, token_hash, label, created_at, created_by) "
                          "VALUES (:s, :h, 'bench', :n, 'bench')"),
                     [{"s": s, "h": uuid.uuid4().hex, "n": now} for s in stall_ids])
        watches = dict(conn.execute(text("SELECT stall_id, id FROM live_watch")).all())
    app = create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "LIVE_SOURCES": {}})
    serializer = app.session_interface.get_signing_serializer(app)
    cookies = {s: serializer.dumps({"watch": watches[s]}) for s in stall_ids}
    engine.dispose()
    return cookies


def start_server(url: str, port: int, processes: int, tmp: Path, *, floor: bool = False) -> subprocess.Popen:
    hooks = tmp / "webhooks.json"
    hooks.write_text(json.dumps({"sources": [{"name": "bench", "provider": "market40", "secrets": [WEBHOOK_SECRET],
                                              "rate_per_minute": 10_000_000}]}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARKET40_SECRET_KEY": SECRET, "MARKET40_WEBHOOKS": str(hooks)}
    if floor:
        args = [sys.executable, "-m", "gunicorn", "--worker-class", "gevent", "--workers", str(processes),
                "--worker-connections", "20000", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                "benchmarks.bench_live:floor_app()"]
        env["BENCH_FLOOR_DB"] = url
    else:
        args = [sys.executable, str(ROOT / "cli.py"), "--db", url, "serve", "--port", str(port),
                "--processes", str(processes)]
    log = open(tmp / "server.log", "a")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    wait_ready(port, floor)
    return process


def wait_ready(port: int, floor: bool = False) -> None:
    """Until the workers answer (booting them takes seconds on a busy 2-core box)."""
    import urllib.error
    import urllib.request
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/" + ("" if floor else "login"), timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # the floor answers 4xx to a GET: it is up
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("server did not start")


def floor_app():
    import psycopg
    from market40 import webhooks
    source = webhooks.Source("bench", "market40", (WEBHOOK_SECRET,))
    url = os.environ["BENCH_FLOOR_DB"].replace("postgresql+psycopg://", "postgresql://")
    local = __import__("threading").local()

    def conn():
        if getattr(local, "c", None) is None:
            local.c = psycopg.connect(url, autocommit=True)
        return local.c

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        try:
            webhooks.verify(source, headers, body)
            t = webhooks.parse(source, body)
        except webhooks.Refused as refused:
            start_response(f"{refused.status} Refused", [("Content-Type", "application/json")])
            return [b'{"ok": false}']
        conn().execute("INSERT INTO live_transfer (bank_bin, tx_id, account, amount, booked_at, content, provider, "
                       "source, provider_id, received_at) VALUES (%s, %s, %s, %s, now(), %s, 'market40', 'bench', "
                       "'', now()) ON CONFLICT DO NOTHING", (t.bank_bin, t.tx_id, t.account, t.amount, t.content))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']
    return app



def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


# ----------------------------------------------------------------------------- load

class Stream:
    __slots__ = ("stall", "cookie", "last", "seen", "announced", "received", "doubled", "reconnects", "open")

    def __init__(self, stall: int, cookie: str) -> None:
        self.stall, self.cookie, self.last = stall, cookie, 0
        self.seen: set[int] = set()  # ids received on the current connection
        self.announced: set[int] = set()  # ids the page would have announced (its own dedupe)
        self.received: dict[str, float] = {}  # tx -> first arrival
        self.doubled = 0
        self.reconnects = 0
        self.open = False


async def run_stream(port: int, stream: Stream, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = (f"GET /loa/xem/stream?after={stream.last} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Cookie: market40={stream.cookie}\r\nAccept: text/event-stream\r\n"
                       + (f"Last-Event-ID: {stream.last}\r\n" if stream.last else "") + "\r\n")
            writer.write(request.encode())
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                if os.environ.get("BENCH_DEBUG"):
                    print("stream:", status, file=sys.stderr)
                writer.close()
                await asyncio.sleep(1.0)
                continue
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            stream.open = True
            stream.seen = set()
            data = None
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    break
                if line.startswith(b"data: {"):
                    data = json.loads(line[6:])
                elif line in (b"\n", b"\r\n") and data is not None:
                    now = time.monotonic()
                    if data["id"] in stream.seen:
                        stream.doubled += 1
                    stream.seen.add(data["id"])
                    if data["id"] not in stream.announced:
                        stream.announced.add(data["id"])
                        stream.received.setdefault(data["tx"], now)
                    stream.last = max(stream.last, data["id"])
                    data = None
                elif line[:1].isdigit():  # chunked transfer-encoding sizes
                    continue
            writer.close()
        except (OSError, asyncio.IncompleteReadError):
            pass
        stream.open = False
        stream.reconnects += 1
        await asyncio.sleep(0.2 + random.random())  # the page's retry (1.5 s) with jitter


async def send_webhooks(port: int, accounts: list[tuple[int, str, str]], rate: float, duration: float,
                        retries: float, sent: dict[str, tuple[int, float]], answers: dict[int, int],
                        latencies: list[float]) -> None:
    from datetime import datetime
    from market40 import webhooks
    from market40.reconciliation import VN_TZ
    source = webhooks.Source("bench", "market40", (WEBHOOK_SECRET,))
    start = time.monotonic()
    n = 0
    pending: set[asyncio.Task] = set()
    failed: list[str] = []

    async def one(body: bytes, tx: str, stall: int) -> None:
        headers = webhooks.sign(source, body)
        given_up = time.monotonic() + 120  # a provider keeps retrying (SePay: 7 times over ~33 minutes)
        attempt = 0
        while time.monotonic() < given_up:
            attempt += 1
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                t0 = time.monotonic()
                writer.write(f"POST /hook/bench HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: {len(body)}\r\n"
                             f"Connection: close\r\n\r\n".encode() + body)
                await writer.drain()
                status = await reader.readline()
                await reader.read()
                writer.close()
                code = int(status.split()[1]) if status else 0
                answers[code] = answers.get(code, 0) + 1
                latencies.append(time.monotonic() - t0)
                if code == 200:
                    # the webhook's arrival at a running server: the first delivery that was answered
                    if tx not in sent or sent[tx][1] > t0:
                        sent[tx] = (stall, t0)
                    return
            except (OSError, IndexError, ValueError) as error:
                answers[0] = answers.get(0, 0) + 1
                if os.environ.get("BENCH_DEBUG"):
                    print("webhook:", repr(error), file=sys.stderr)
            await asyncio.sleep(min(5.0, 0.5 * attempt))
        failed.append(tx)

    while time.monotonic() - start < duration:
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        stall, account, reference = random.choice(accounts)
        tx = f"B{n:08d}"
        body = json.dumps({"bank_bin": "970436", "account": account, "tx_id": tx, "amount": 1000 + n % 500_000,
                           "booked_at": datetime.now(VN_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                           "content": reference}).encode()
        copies = 2 if random.random() < retries else 1  # a provider retry: the same body again
        for _ in range(copies):
            task = asyncio.ensure_future(one(body, f"970436:{tx}", stall))
            pending.add(task)
            task.add_done_callback(pending.discard)
        n += 1
    if pending:
        await asyncio.wait(pending, timeout=150)
    answers[-1] = len(failed)  # transfers never accepted (reported as "never_accepted")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def load(args: argparse.Namespace, port: int, accounts, cookies, restart) -> dict:
    stop = asyncio.Event()
    streams = []
    by_stall: dict[int, list[Stream]] = {}
    stall_ids = [a[0] for a in accounts]
    for k in range(args.streams):
        stall = stall_ids[k % len(stall_ids)]
        s = Stream(stall, cookies[stall])
        streams.append(s)
        by_stall.setdefault(stall, []).append(s)
    tasks = [asyncio.ensure_future(run_stream(port, s, stop)) for s in streams]
    t0 = time.monotonic()
    while sum(s.open for s in streams) < len(streams) and time.monotonic() - t0 < 120:
        await asyncio.sleep(0.5)
    opened = sum(s.open for s in streams)
    connect_seconds = time.monotonic() - t0
    sent: dict[str, tuple[int, float]] = {}
    answers: dict[int, int] = {}
    hook_latencies: list[float] = []
    watched = [a for a in accounts if a[0] in by_stall]
    sender = asyncio.ensure_future(send_webhooks(port, watched, args.rate, args.duration, args.retries, sent, answers,
                                                 hook_latencies))
    if args.restart:
        await asyncio.sleep(args.duration / 2)
        await asyncio.get_running_loop().run_in_executor(None, restart)
    await sender
    await asyncio.sleep(args.settle)
    stop.set()
    for task in tasks:
        task.cancel()
    latencies, lost, expected = [], 0, 0
    for tx, (stall, at) in sent.items():
        for s in by_stall.get(stall, ()):
            expected += 1
            got = s.received.get(tx)
            if got is None:
                lost += 1
            else:
                latencies.append(got - at)
    never = answers.pop(-1, 0)
    return {"streams": args.streams, "streams_open": opened, "never_accepted": never, "connect_seconds": round(connect_seconds, 1),
            "webhooks": len(sent), "rate": args.rate, "duration_s": args.duration, "answers": answers,
            "deliveries_expected": expected, "lost": lost,
            "doubled_on_a_connection": sum(s.doubled for s in streams),
            "announced_twice": 0,  # the page's rule (ids kept) makes this 0 by construction; 'lost' is the test
            "reconnects": sum(s.reconnects for s in streams),
            "p50_s": round(percentile(latencies, 0.5), 3), "p99_s": round(percentile(latencies, 0.99), 3),
            "max_s": round(max(latencies), 3) if latencies else None,
            "webhook_answer_p99_s": round(percentile(hook_latencies, 0.99), 3)}


async def floor_load(args: argparse.Namespace, port: int, accounts) -> dict:
    sent: dict[str, tuple[int, float]] = {}
    answers: dict[int, int] = {}
    latencies: list[float] = []
    await send_webhooks(port, accounts, args.rate, args.duration, args.retries, sent, answers, latencies)
    answers.pop(-1, None)
    return {"floor": True, "webhooks": len(sent), "rate": args.rate, "answers": answers,
            "answer_p50_s": round(percentile(latencies, 0.5), 3), "answer_p99_s": round(percentile(latencies, 0.99), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=TARGET["streams"])
    parser.add_argument("--stalls", type=int, default=None, help="default: one stall per stream (max 15,000)")
    parser.add_argument("--rate", type=float, default=TARGET["rate"], help="webhooks per second")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of webhooks")
    parser.add_argument("--retries", type=float, default=0.05, help="share of webhooks sent twice")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--no-restart", dest="restart", action="store_false")
    parser.add_argument("--restart-mode", choices=("hup", "full"), default="hup",
                        help="hup: gunicorn replaces its worker processes (a deploy); full: stop and start")
    parser.add_argument("--floor", action="store_true", help="measure the bare receiver only")
    parser.add_argument("--postgres", default=os.environ.get("MARKET40_TEST_POSTGRES_URL",
                                                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.streams * 2 + 1000)), hard))
    stalls = args.stalls or min(max(args.streams, 1), 15_000)
    url = make_database(args.postgres)
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = None
    try:
        accounts = build_registry(url, stalls)
        if args.floor:
            server = start_server(url, port, args.processes, tmp, floor=True)
            result = asyncio.run(floor_load(args, port, accounts))
        else:
            cookies = watch_cookies(url, [a[0] for a in accounts])
            server = start_server(url, port, args.processes, tmp)
            box = {"server": server}

            def restart() -> None:
                if args.restart_mode == "hup":  # gunicorn replaces every worker process, the socket stays
                    os.kill(box["server"].pid, signal.SIGHUP)
                else:  # everything stops, then starts again
                    stop_server(box["server"])
                    box["server"] = start_server(url, port, args.processes, tmp)
            result = asyncio.run(load(args, port, accounts, cookies, restart))
            server = box["server"]
            result["restart"] = args.restart_mode if args.restart else None
            result["target"] = TARGET
    finally:
        if server is not None:
            stop_server(server)
        drop_database(args.postgres, url)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
