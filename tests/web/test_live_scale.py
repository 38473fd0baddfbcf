"""The serving model: `market40 serve --processes 2` holds hundreds of open loa streams at once and
delivers a payment to all of them (gevent workers; a threaded server with 2 × 4 threads cannot)."""
from __future__ import annotations

import os

import pytest

import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text

from market40 import db, webhooks
from market40.reconciliation import VN_TZ
from test_serve import ROOT, _env, _stop
from webhelpers import ACCOUNT_A, build_world

STREAMS = 300
SOURCE = webhooks.Source("scale", "market40", ("scale-secret-0123456789",))
SECRET = "serve tests: a secret of 32+ bytes"


async def _open(port: int, cookie: str, results: list, ready: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /loa/xem/stream?after=0 HTTP/1.1\r\nHost: x\r\nCookie: market40={cookie}\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    ready.append(status)
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), 30)
            if not line:
                break
            if line.startswith(b"data: {"):
                results.append(json.loads(line[6:])["amount"])
                break
    finally:
        writer.close()


@pytest.mark.skipif(not os.environ.get("MARKET40_SCALE_TESTS"),
                    reason="a load test (300 open streams): run with MARKET40_SCALE_TESTS=1, or "
                           "benchmarks/bench_live.py for the figures; it depends on the machine's load")
def test_hundreds_of_streams_on_two_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "registry.db")
    db.upgrade(path)
    engine = db.make_engine(path)
    from sqlmodel import Session
    with Session(engine) as session:
        build_world(session)
    with engine.begin() as conn:
        stall = conn.execute(text("SELECT stall_id FROM payment_account WHERE number = :n"), {"n": ACCOUNT_A}).scalar()
        watch = conn.execute(text("INSERT INTO live_watch (stall_id, token_hash, label, created_at, created_by) "
                                  "VALUES (:s, :h, 't', :n, 't') RETURNING id"),
                             {"s": stall, "h": uuid.uuid4().hex, "n": datetime.now(timezone.utc)}).scalar()
    from web import create_app
    app = create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "LIVE_SOURCES": {}})
    cookie = app.session_interface.get_signing_serializer(app).dumps({"watch": watch})
    hooks = tmp_path / "webhooks.json"
    hooks.write_text(json.dumps({"sources": [{"name": SOURCE.name, "provider": "market40",
                                              "secrets": list(SOURCE.secrets), "rate_per_minute": 100000}]}))
    env = {**_env(), "MARKET40_WEBHOOKS": str(hooks), "MARKET40_SECRET_KEY": SECRET}
    process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "--db", path, "serve", "--port", "0",
                                "--processes", "2"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        import re
        for line in process.stdout:  # type: ignore[union-attr]
            found = re.search(r"on http://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        import urllib.request
        for _ in range(100):  # the workers boot
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read()
                break
            except OSError:
                time.sleep(0.3)

        async def scenario() -> tuple[list, list]:
            results: list = []
            ready: list = []
            tasks = [asyncio.ensure_future(_open(port, cookie, results, ready)) for _ in range(STREAMS)]
            deadline = time.monotonic() + 60
            while len(ready) < STREAMS and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            body = json.dumps({"bank_bin": "970436", "account": ACCOUNT_A, "tx_id": "SCALE-1", "amount": 21_000,
                               "booked_at": datetime.now(VN_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                               "content": "HL1 A12"}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/hook/{SOURCE.name}", data=body,
                                             headers=webhooks.sign(SOURCE, body), method="POST")
            await asyncio.get_running_loop().run_in_executor(None, lambda: urllib.request.urlopen(request).read())
            await asyncio.wait(tasks, timeout=40)
            return results, ready

        results, ready = asyncio.run(scenario())
        assert len(ready) == STREAMS and all(b" 200 " in status for status in ready)
        assert results == [21_000] * STREAMS
    finally:
        engine.dispose()
        assert _stop(process) == 0
