"""The owner's loa in a real browser (Debian's Chromium, Playwright) at 360×740.

A signed webhook is posted → the page shows the amount within 1 s and speaks the exact
Vietnamese words (``speechSynthesis`` is captured: the init script gives the page a ``vi-VN``
voice and records every ``speak`` call); a short payment against a requested amount says
THIẾU; the server is stopped and started again (a real ``market40 serve`` process) and the page
reconnects by itself, announcing every payment exactly once. Screenshots: ``test-artifacts/e2e/loa-*.png``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session

from market40 import db, passwords, webhooks
from market40.models import User
from market40.reconciliation import VN_TZ
from market40.services.registry import Actor, Registry
from browser import PHONE, sign_in
from test_journey import _fits_the_phone, _shot

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e loa tests: a deployment secret of 32+ bytes"
SOURCE = webhooks.Source("e2e-bank", "market40", ("e2e-webhook-secret-0123456789",))
ACCOUNT = "0011012345678"
PHONE_NUMBER, PASSWORD = "0903123456", "mật khẩu loa 2026"

CAPTURE = """
(() => {
  window.__spoken = [];
  const voice = {lang: 'vi-VN', name: 'Tiếng Việt (test)', voiceURI: 'vi-test', localService: true, default: true};
  const fake = {
    getVoices: () => [voice], speaking: false, pending: false, paused: false, onvoiceschanged: null,
    speak: (u) => window.__spoken.push({text: u.text, lang: u.lang, voice: u.voice && u.voice.lang, at: Date.now()}),
    cancel() {}, pause() {}, resume() {}, addEventListener() {}, removeEventListener() {}
  };
  Object.defineProperty(window, 'speechSynthesis', {value: fake, configurable: true});
  window.SpeechSynthesisUtterance = function (t) { this.text = t; };
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, path: str, port: int, tmp: Path) -> None:
        hooks = tmp / "webhooks.json"
        hooks.write_text(json.dumps({"sources": [{"name": SOURCE.name, "provider": "market40",
                                                  "secrets": list(SOURCE.secrets)}]}))
        self.args = [sys.executable, str(ROOT / "cli.py"), "--db", path, "serve", "--port", str(port), "--workers", "8"]
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "MARKET40_SECRET_KEY": SECRET,
                    "MARKET40_WEBHOOKS": str(hooks)}
        self.tmp, self.base, self.process = tmp, f"http://127.0.0.1:{port}", None

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, cwd=self.tmp, env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        for line in self.process.stdout:  # type: ignore[union-attr]
            if "market40 web app on" in line:
                return
        raise AssertionError("server did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)
        said = self.process.stdout.read()  # type: ignore[union-attr]
        self.process.stdout.close()  # type: ignore[union-attr]
        # the open pages' streams end at the signal: waitress did not have to wait out its 5 s for them
        assert "still running" not in said, said


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    path = str(tmp_path / "loa.db")
    db.upgrade(path)
    engine = db.make_engine(path)
    with Session(engine) as session:
        registry = Registry(session, Actor.operator("e2e"))
        registry.add_locality(code="L-HL", name="Phường Hạ Long", kind="commune", unit_type="phường",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1))
        registry.save_market(code="HL1", name="Chợ Hạ Long I", tier="I", locality="L-HL")
        stall, _ = registry.save_stall("HL1", code="A-12", shop_name="Hải sản Cô Lan", owner_name="Nguyễn Thị Lan")
        registry.register_account("HL1/A-12", bank="vietcombank", number=ACCOUNT, holder_name="Nguyễn Thị Lan")
        registry.verify_account("HL1/A-12")
        session.add(User(username=PHONE_NUMBER, display_name="Nguyễn Thị Lan", role="owner", phone=PHONE_NUMBER,
                         stall_id=stall.id, password_hash=passwords.hash_password(PASSWORD)))
        session.commit()
    server = Server(path, _free_port(), tmp_path)
    server.start()
    try:
        yield {"server": server, "engine": engine}
    finally:
        if server.process and server.process.poll() is None:
            server.stop()
        engine.dispose()


def _pay(base: str, tx_id: str, amount: int, content: str = "HL1 A12") -> float:
    body = json.dumps({"bank_bin": "970436", "account": ACCOUNT, "tx_id": tx_id, "amount": amount,
                       "booked_at": datetime.now(VN_TZ).strftime("%Y-%m-%d %H:%M:%S"), "content": content}).encode()
    request = urllib.request.Request(f"{base}/hook/{SOURCE.name}", data=body, headers=webhooks.sign(SOURCE, body),
                                     method="POST")
    sent = time.monotonic()
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return sent


def _shown_within(page: Any, digits: str, sent: float, limit: float = 1.0) -> float:
    page.wait_for_function("(d) => document.getElementById('loa-amount').textContent === d", arg=digits,
                           timeout=5000, polling=20)
    took = time.monotonic() - sent
    assert took <= limit, f"{digits} shown after {took:.2f} s"
    return took


def test_the_loa_announces_each_payment_once_across_a_restart(site: dict[str, Any], chromium: Any) -> None:
    server: Server = site["server"]
    browser = chromium  # this process's Chromium (tests/browser.py); contexts are closed after the test
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    context.add_init_script(CAPTURE)
    page = context.new_page()
    sign_in(page, server.base, PHONE_NUMBER, PASSWORD, lands_on="**/owner/")
    page.goto(server.base + "/loa/")
    page.click("#loa-on")
    page.wait_for_function("() => document.getElementById('loa').className.indexOf('live') >= 0")
    _fits_the_phone(page)
    _shot(page, "loa-01-ready")

    # 1. a payment: shown within a second, spoken in exact words
    took = _shown_within(page, "9.034", _pay(server.base, "FT-E2E-1", 9_034))
    page.wait_for_function("() => window.__spoken.length === 1")
    spoken = page.evaluate("window.__spoken")
    assert spoken[0]["text"] == "Đã nhận chín nghìn không trăm ba mươi tư đồng"
    assert spoken[0]["lang"] == "vi-VN" and spoken[0]["voice"] == "vi-VN"
    assert "Đã nhận chín nghìn không trăm ba mươi tư đồng" in page.inner_text("#loa-text")
    _shot(page, "loa-02-paid")

    # 2. collect 200,000 đ; 200 đ arrives: THIẾU, never the full amount
    page.fill("#amount", "200.000")
    page.click("form.loa-collect button[type=submit]")
    page.wait_for_selector("#loa-request img")
    # the QR has loaded (a broken image never gets a width: the wait times out)
    page.wait_for_function("() => document.querySelector('#loa-request img').naturalWidth > 0")
    page.wait_for_function("() => document.getElementById('loa').className.indexOf('live') >= 0")
    page.click("#loa-on") if page.is_visible("#loa-on") else None
    with site["engine"].connect() as conn:
        code = conn.execute(text("SELECT code FROM live_request")).scalar_one()
    _shown_within(page, "200", _pay(server.base, "FT-E2E-2", 200, f"HL1 A12 {code}"))
    page.wait_for_function("() => window.__spoken.length >= 1 && window.__spoken[window.__spoken.length-1].text.indexOf('THIẾU') > 0")
    last = page.evaluate("window.__spoken[window.__spoken.length-1].text")
    assert last == ("Chỉ nhận hai trăm đồng. THIẾU một trăm chín mươi chín nghìn tám trăm đồng")
    assert "THIẾU 199.800 đ" in page.inner_text("#loa-verdict")
    _shot(page, "loa-03-short")
    spoken_before = page.evaluate("window.__spoken.map(s => s.text)")

    # 3. the server restarts; the page reconnects by itself and misses nothing, repeats nothing
    server.stop()
    page.wait_for_function("() => document.getElementById('loa').className.indexOf('offline') >= 0", timeout=10000)
    _shot(page, "loa-04-offline")
    server.start()
    page.wait_for_function("() => document.getElementById('loa').className.indexOf('live') >= 0", timeout=15000)
    took_after = _shown_within(page, "21.000", _pay(server.base, "FT-E2E-3", 21_000))
    _pay(server.base, "FT-E2E-3", 21_000)  # the provider's retry
    page.wait_for_timeout(1500)
    texts = page.evaluate("window.__spoken.map(s => s.text)")
    assert texts[:len(spoken_before)] == spoken_before
    assert texts[len(spoken_before):] == ["Đã nhận hai mươi mốt nghìn đồng"]
    assert page.inner_text("#loa-count") == "3"
    assert page.inner_text("#loa-total") == "30.234"
    page.click("#loa-list li:first-child button")
    detail = page.inner_text("#loa-list li:first-child .c")
    assert "21.000 đ" in detail and "HL1 A12" in detail and ACCOUNT not in page.content()
    _shot(page, "loa-05-after-restart")
    print(f"\nshown after {took:.3f} s, after the restart {took_after:.3f} s")
