"""A market fee bill turns "paid" on the owner's phone without a reload (issue #11), in Debian's Chromium at 360 px.

A real ``market40 serve`` process; the owner opens their bill page; a signed webhook brings a
transfer to the market board's collection account with the bill's reference, first part of the
amount ("partly paid, still owed …"), then the rest ("Đã thanh toán"). The page is never
reloaded (a marker set on ``window`` survives). Screenshots: ``test-artifacts/e2e/fee-live-*.png``.
"""
from __future__ import annotations

import json
import urllib.request
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlmodel import Session, select

from market40 import db, passwords, qrimage, vietqr, webhooks
from market40.models import FeePayment, User
from market40.reconciliation import VN_TZ
from market40.services.fees import Fees
from market40.services.registry import Actor, Registry
from browser import PHONE, sign_in
from test_journey import _fits_the_phone, _shot
from test_loa import SOURCE, Server, _free_port

BOARD_ACCOUNT = "0011009876543"
PHONE_NUMBER, PASSWORD = "0903123457", "mật khẩu phí chợ 2026"
TARIFFS = """Mã khoản thu,Loại,Tên khoản thu,Đơn vị tính,Đơn giá (đ),Hạng chợ,Vị trí,Căn cứ,Hiệu lực từ
THUE,thuê,Tiền thuê điểm kinh doanh,m²/tháng,70.000,I,,QĐ 48/2017/QĐ-UBND,01/01/2026
VESINH,cố định,Phí vệ sinh môi trường,tháng,50000,,,QĐ 48/2017/QĐ-UBND,01/01/2026
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    path = str(tmp_path / "fees.db")
    db.upgrade(path)
    engine = db.make_engine(path)
    period = datetime.now(VN_TZ).strftime("%Y-%m")
    with Session(engine) as session:
        registry = Registry(session, Actor.operator("e2e"))
        registry.add_locality(code="L-HL", name="Phường Hạ Long", kind="commune", unit_type="phường",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1))
        registry.save_market(code="HL1", name="Chợ Hạ Long I", tier="I", locality="L-HL")
        stall, _ = registry.save_stall("HL1", code="A-12", shop_name="Hải sản Cô Lan", owner_name="Nguyễn Thị Lan")
        session.add(User(username=PHONE_NUMBER, display_name="Nguyễn Thị Lan", role="owner", phone=PHONE_NUMBER,
                         stall_id=stall.id, password_hash=passwords.hash_password(PASSWORD)))
        session.commit()
        fees = Fees(session, Actor.operator("e2e"))
        fees.set_account("HL1", bank="970436", number=BOARD_ACCOUNT, holder_name="BAN QUAN LY CHO HA LONG")
        session.commit()
        (tmp_path / "t.csv").write_text(TARIFFS, encoding="utf-8")
        assert fees.import_tariffs(tmp_path / "t.csv").created == 2
        (tmp_path / "a.csv").write_text("Mã sạp,Diện tích (m²)\nA-12,4,5\n", encoding="utf-8")
        assert Fees(session, Actor.operator("e2e")).import_stalls(tmp_path / "a.csv", market="HL1").created == 1
        fees = Fees(session, Actor.operator("e2e"))
        assert fees.issue("HL1", period).created == 1
        session.commit()
        bill = fees.bills("HL1", period)[0]
    server = Server(path, _free_port(), tmp_path)
    server.start()
    try:
        yield {"server": server, "engine": engine, "bill": bill}
    finally:
        if server.process and server.process.poll() is None:
            server.stop()
        engine.dispose()


def _pay(base: str, tx_id: str, amount: int, content: str) -> None:
    body = json.dumps({"bank_bin": "970436", "account": BOARD_ACCOUNT, "tx_id": tx_id, "amount": amount,
                       "booked_at": datetime.now(VN_TZ).strftime("%Y-%m-%d %H:%M:%S"), "content": content}).encode()
    request = urllib.request.Request(f"{base}/hook/{SOURCE.name}", data=body, headers=webhooks.sign(SOURCE, body),
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_owner_bill_page_turns_paid_when_the_webhook_brings_the_transfer(site: dict[str, Any],
                                                                         chromium: Any) -> None:
    server: Server = site["server"]
    bill = site["bill"]
    selector = f"[data-bill='{bill.number}']"
    context = chromium.new_context(viewport=PHONE, locale="vi-VN")  # tests/browser.py's Chromium
    try:
        page = context.new_page()
        sign_in(page, server.base, PHONE_NUMBER, PASSWORD, lands_on="**/owner/")
        page.goto(server.base + "/owner/bills")
        page.evaluate("window.__notReloaded = true")
        assert page.inner_text(f"{selector} [data-field=state]") == "Chưa nộp"
        assert not page.is_visible(f"{selector} [data-field=notice]")
        assert page.is_visible(f"{selector} img")
        _fits_the_phone(page)
        _shot(page, "fee-live-01-unpaid")

        # part of the amount, the reference as a bank app mangles it
        part = 200_000
        _pay(server.base, "FT-FEE-1", part, f"MBVCB.123.{bill.reference.replace(' ', '').lower()}.CT")
        page.wait_for_function("(s) => document.querySelector(s).getAttribute('data-state') === 'partly_paid'",
                               arg=selector, timeout=5000)
        notice = page.inner_text(f"{selector} [data-field=notice]")
        assert "Đã nhận một phần" in notice and f"{bill.amount - part:,}".replace(",", ".") in notice
        # the QR now asks for what is still owed
        page.wait_for_function("(s) => document.querySelector(s + ' img').src.indexOf('paid=') > 0 && "
                               "document.querySelector(s + ' img').complete", arg=selector, timeout=5000)
        shown = qrimage.read(page.locator(f"{selector} img").screenshot())
        assert [vietqr.parse(t).amount for t in shown] == [bill.amount - part]
        _shot(page, "fee-live-02-partly")

        # the rest: "Đã thanh toán", the QR goes away, no reload
        _pay(server.base, "FT-FEE-2", bill.amount - part, bill.reference)
        page.wait_for_function("(s) => document.querySelector(s).getAttribute('data-state') === 'paid'",
                               arg=selector, timeout=5000)
        assert page.inner_text(f"{selector} [data-field=notice]") == "Đã thanh toán"
        assert page.inner_text(f"{selector} [data-field=state]") == "Đã nộp"
        assert not page.is_visible(f"{selector} img")
        assert page.evaluate("window.__notReloaded") is True
        _fits_the_phone(page)
        _shot(page, "fee-live-03-paid")
    finally:
        context.close()
    with Session(site["engine"]) as session:
        pays = session.exec(select(FeePayment)).all()
        assert sorted((p.amount, p.channel, p.method) for p in pays) == sorted(
            [(part, "webhook", "reference"), (bill.amount - part, "webhook", "reference")])
