"""`market40 tx simulate` against a running server, and `market40 serve --demo` paying the demo owner live."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import Session

from market40 import db
from test_serve import ROOT, _env, _start, _stop
from webhelpers import build_world


def test_simulate_sends_signed_webhooks_with_retries_and_duplicates(tmp_path: Path) -> None:
    path = str(tmp_path / "registry.db")
    db.upgrade(path)
    engine = db.make_engine(path)
    with Session(engine) as session:
        build_world(session)
    engine.dispose()
    hooks = tmp_path / "webhooks.json"
    hooks.write_text(json.dumps({"sources": [{"name": "qn", "provider": "market40",
                                              "secrets": ["simulate-secret-0123456789"]}]}))
    env = {**_env(), "MARKET40_WEBHOOKS": str(hooks)}
    process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "--db", path, "serve", "--port", "0"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            found = re.search(r"market40 web app on (http://127\.0\.0\.1:\d+/)", line)
            if found:
                break
        result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--db", path, "tx", "simulate", "--url",
                                 found.group(1), "--market", "HL1", "--count", "12", "--rate", "40", "--retries", "1",
                                 "--duplicates", "0.5", "--seed", "7", "--json"],
                                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert report["transfers"] == 12 and report["requests"] >= 24 and report["by_status"] == {
            "200": report["requests"]}
        with create_engine(f"sqlite:///{path}").connect() as conn:
            stored = conn.execute(text("SELECT count(*), count(DISTINCT tx_id), min(stall_id) FROM live_transfer")).one()
        assert stored[:2] == (12, 12) and stored[2] is not None
    finally:
        assert _stop(process) == 0


def test_serve_demo_has_live_payments_within_a_minute(tmp_path: Path) -> None:
    process, url, lines = _start(tmp_path, "serve", "--demo", "--port", "0")
    try:
        output = "".join(lines)
        assert "Loa báo tiền" in output
        database = re.search(r"building the demo province into sqlite:///(\S+) ", output).group(1)
        engine = create_engine(f"sqlite:///{database}")
        deadline = time.monotonic() + 60
        paid = 0
        while time.monotonic() < deadline and not paid:
            time.sleep(0.25)  # look often: the test ends at the first payment
            with engine.connect() as conn:
                paid = conn.execute(text(
                    "SELECT count(*) FROM live_transfer t JOIN stall s ON s.id = t.stall_id "
                    "JOIN market m ON m.id = s.market_id WHERE m.code = 'HL1' AND s.code = 'A-1'")).scalar_one()
        engine.dispose()
        assert paid >= 1
    finally:
        assert _stop(process) == 0
