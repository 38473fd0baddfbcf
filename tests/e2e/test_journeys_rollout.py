"""Issue #12 in a real browser (Debian's Chromium through Playwright): the owner at 360×740, bank staff
at 1366×768. The onboarding slip and its QR code, forgiving enrolment, an account change without a gap,
a forgotten password, status notices, erasure carried out, the readable trail and the review queue.
Screenshots go to ``test-artifacts/e2e/rollout-*.png``.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlmodel import Session, select

from market40 import db, passwords, qrimage
from market40.models import Market, User, UserScope
from market40.services.registry import Actor, Registry

from browser import ARTIFACTS, DESK, PHONE, serve, sign_in
from test_journey import _fits_the_phone, _see

SECRET = "e2e rollout: a deployment secret of 32+ bytes"
STAFF_PASSWORD = "nhân viên ngân hàng 2026"
OWNER_PASSWORD = "cô lan bán cá 2026"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """One market with a board contact; A-12 with a verified account and an owner login; A-14 to enrol;
    five stalls with accounts waiting (two banks); one staff member (no second factor here: its own test
    covers it)."""
    from market40.notify import FileSender
    from web import create_app
    url = str(tmp_path / "rollout.db")
    db.upgrade(url)
    engine = db.make_engine(url)
    with Session(engine) as session:
        registry = Registry(session, Actor.operator("e2e"))
        registry.add_locality(code="L-HL", name="Phường Hạ Long", kind="commune", unit_type="phường",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1))
        registry.save_market(code="HL1", name="Chợ Hạ Long I", tier="I", locality="L-HL",
                             board_contact_name="Ban quản lý chợ Hạ Long I", board_contact_phone="0203 3825 123")
        registry.save_stall("HL1", code="A-12", shop_name="Hải sản Cô Lan", owner_name="Nguyễn Thị Lan")
        registry.register_account("HL1/A-12", bank="vietcombank", number="0011012345678", holder_name="Nguyen Thi Lan")
        registry.verify_account("HL1/A-12")
        registry.save_stall("HL1", code="A-14", shop_name="Rau Tư", owner_name="Phạm Văn Tư")
        for i, (bank, name) in enumerate((("bidv", "TRAN VAN AN"), ("vietinbank", "LE THI BICH"),
                                          ("bidv", "HOANG VAN CUONG"), ("vietinbank", "DO THI DUNG"),
                                          ("bidv", "VU VAN EM"))):
            registry.save_stall("HL1", code=f"B-{i + 1}", shop_name=f"Sạp B-{i + 1}", owner_name=name.title())
            registry.register_account(f"HL1/B-{i + 1}", bank=bank, number=f"3141000{i + 1:07d}", holder_name=name)
        stall = registry.stall("HL1/A-12")
        session.add(User(username="0912345678", display_name="Nguyễn Thị Lan", role="owner", phone="0912345678",
                         stall_id=stall.id, password_hash=passwords.hash_password(OWNER_PASSWORD)))
        staff = User(username="nv.halong", display_name="Phạm Minh Châu", role="staff",
                     password_hash=passwords.hash_password(STAFF_PASSWORD))
        session.add(staff)
        session.flush()
        session.add(UserScope(user_id=staff.id, market_id=registry.market("HL1").id))
        session.commit()
    outbox = FileSender(tmp_path / "outbox.jsonl")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "SECOND_FACTOR_ROLES": "",
                      "TX_STORE": str(tmp_path / "none.duckdb")})
    app.extensions["market40.sender"] = outbox
    try:
        with serve(app) as base:
            app.config["PUBLIC_URL"] = base
            yield {"base": base, "engine": engine, "outbox": outbox, "tmp": tmp_path}
    finally:
        app.extensions["market40.engine"].dispose()
        engine.dispose()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"rollout-{name}.png"), full_page=True)


def _login(page: Any, site: dict[str, Any], username: str, password: str) -> None:
    sign_in(page, site["base"], username, password)


def test_the_rollout_journeys(site: dict[str, Any], chromium: Any, tmp_path: Path) -> None:
    browser = chromium  # this process's Chromium (tests/browser.py); contexts are closed after the test
    desk = browser.new_context(viewport=DESK, accept_downloads=True).new_page()
    phone = browser.new_context(viewport=PHONE).new_page()
    _login(desk, site, "nv.halong", STAFF_PASSWORD)

    # 1. The slip: staff re-issue a code as a PDF; its QR opens the enrolment page filled in.
    desk.goto(site["base"] + "/staff/stall/HL1/A-14")
    with desk.expect_download() as download:
        desk.click("button:has-text('Cấp mã mới và tải phiếu PDF')")
    pdf = ARTIFACTS / "rollout-slip.pdf"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    download.value.save_as(str(pdf))
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / "slip")],
                   check=True, timeout=60)
    shutil.copy(tmp_path / "slip.png", ARTIFACTS / "rollout-01-slip-pdf.png")
    [url] = qrimage.read(tmp_path / "slip.png")
    assert url == site["base"] + "/enrol?market=HL1&stall=A-14"
    desk.goto(site["base"] + "/staff/stall/HL1/A-14")
    desk.click("button:has-text('Cấp mã đăng ký mới')")
    _see(desk, "Quét mã QR")
    _shot(desk, "02-slip-html")
    code = desk.locator(".slip .code").inner_text()

    # 2. Forgiving enrolment on the phone: the QR's address, every error at once, then in.
    phone.goto(url)
    assert phone.input_value("#f-market") == "HL1" and phone.input_value("#f-stall") == "A-14"
    assert phone.is_hidden("[data-market-step]")  # JavaScript fills the picker instead
    assert phone.locator("#stall-list option").count() == 7
    phone.fill("#f-stall", "a 14")
    phone.fill("#f-phone", "12345")
    phone.fill("#f-password", "tư bán rau 2026")
    phone.fill("#f-password2", "tư bán rau 2027")
    phone.check("#f-consent")
    phone.click("main button[type=submit]:has-text('Đăng ký')")
    _see(phone, "Hãy sửa những chỗ sau")
    summary = phone.locator(".error-summary li").all_inner_texts()
    assert len(summary) == 3 and "Mã đăng ký" in summary[0] and "Hai lần" in summary[2], summary
    assert phone.input_value("#f-stall") == "a 14" and phone.is_checked("#f-consent")
    _fits_the_phone(phone)
    _shot(phone, "03-enrol-errors")
    phone.fill("#f-code", code.lower())
    phone.fill("#f-phone", "0904 222 333")
    phone.fill("#f-password", "tư bán rau 2026")
    phone.fill("#f-password2", "tư bán rau 2026")
    phone.click("main button[type=submit]:has-text('Đăng ký')")
    phone.wait_for_url("**/owner/")
    _shot(phone, "04-enrolled")

    # 3. The owner of A-12 changes the account: sees what happens, confirms, the old QR keeps working.
    owner = browser.new_context(viewport=PHONE).new_page()
    _login(owner, site, "0912 345 678", OWNER_PASSWORD)
    owner.goto(site["base"] + "/owner/account")
    owner.select_option("#f-bank", "970418")
    owner.fill("#f-number", "31410009999999")
    owner.fill("#f-holder_name", "Nguyễn Thị Lan")
    owner.click("button[value=preview]")
    _see(owner, "Điều sẽ xảy ra khi bạn gửi")
    owner.check("#f-consent")
    owner.click("button[value=submit]")
    _see(owner, "Hãy đọc điều sẽ xảy ra")
    assert owner.is_checked("#f-consent")
    _fits_the_phone(owner)
    _shot(owner, "05-change-confirm")
    owner.check("#f-confirm_change")
    owner.click("button[value=submit]")
    owner.wait_for_url("**/owner/")
    _see(owner, "Tài khoản mới đang chờ xác minh")
    assert owner.is_visible("img.qr") and owner.is_visible("text=Tải biển để in")
    _fits_the_phone(owner)
    _shot(owner, "06-change-waiting")

    # 4. Staff review at market scale: filters, keyboard selection, a confirmation naming which.
    desk.goto(site["base"] + "/staff/queue")
    _see(desk, "6 tài khoản chờ xác minh")
    desk.select_option("#q-bank", "970418")
    desk.click("button:has-text('Lọc')")
    _see(desk, "4 tài khoản chờ xác minh")
    _shot(desk, "07-queue-filtered")
    desk.locator("body").press("j")
    desk.keyboard.press("x")
    desk.keyboard.press("j")
    desk.keyboard.press("x")
    desk.keyboard.press("v")
    _see(desk, "Xác minh 2 tài khoản?")
    chosen = desk.locator("ul.chosen li").all_inner_texts()
    assert len(chosen) == 2
    _shot(desk, "08-bulk-confirm")
    desk.click("button:has-text('Xác minh 2 tài khoản')")
    _see(desk, "Đã xác minh 2 tài khoản")
    _see(desk, "2 tài khoản chờ xác minh")
    _shot(desk, "09-queue-after")
    desk.goto(site["base"] + "/staff/queue?market=HL1")
    desk.click("a:has-text('HL1/A-12')")
    _see(desk, "tài khoản thay thế")
    _shot(desk, "10-stall-replacement")
    desk.click("button:has-text('Xác minh tài khoản')")
    _see(desk, "Đã xác minh tài khoản của sạp HL1/A-12")
    owner.reload()
    _see(owner, "biển đã sẵn sàng để tải và in")
    assert "31410009999999" in qrimage.read(owner.locator("img.qr").screenshot())[0]
    _shot(owner, "11-notice-verified")
    kinds = [json.loads(line)["kind"] for line in (site["tmp"] / "outbox.jsonl").read_text().splitlines()]
    assert kinds.count("account_verified") == 1  # the B stalls have no owner login yet

    # 5. The readable trail, on the desk and on a phone.
    desk.goto(site["base"] + "/staff/audit/HL1/A-12")
    _see(desk, "Phạm Minh Châu (nv.halong)")
    assert "user:" not in desk.content()
    _shot(desk, "12-trail")
    small = browser.new_context(viewport=PHONE).new_page()
    _login(small, site, "nv.halong", STAFF_PASSWORD)
    small.goto(site["base"] + "/staff/audit/HL1/A-12")
    assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(small, "13-trail-phone")

    # 6. Forgot password on the phone: a code through the sender, a new password, old sessions end.
    phone.context.clear_cookies()
    phone.goto(site["base"] + "/login")
    phone.click("text=Quên mật khẩu?")
    phone.fill("#f-phone", "0904222333")
    phone.click("button:has-text('Gửi mã')")
    _see(phone, "Mã dùng được 30 phút")
    message = json.loads((site["tmp"] / "outbox.jsonl").read_text().splitlines()[-1])
    assert message["kind"] == "reset_code"
    phone.fill("#f-code", message["data"]["code"])
    phone.fill("#f-new_password", "mật khẩu mới của tư 1")
    phone.fill("#f-new_password2", "mật khẩu mới của tư 1")
    _fits_the_phone(phone)
    _shot(phone, "14-reset")
    phone.click("main button[type=submit]")
    phone.wait_for_url("**/login")
    _login(phone, site, "0904222333", "mật khẩu mới của tư 1")
    phone.wait_for_url("**/owner/")

    # 7. Erasure: asked on the phone, carried out by staff with a confirmation, shown as done.
    phone.goto(site["base"] + "/owner/erasure")
    phone.check("#f-confirm")
    phone.click("button:has-text('Gửi yêu cầu xoá')")
    phone.goto(site["base"] + "/owner/")
    _see(phone, "chậm nhất ngày")
    _shot(phone, "15-erasure-requested")
    desk.goto(site["base"] + "/staff/queue")
    _see(desk, "Chờ thực hiện")
    desk.click("a:has-text('HL1/A-14')")
    desk.check("#f-confirm_erase")
    _shot(desk, "16-erasure-confirm")
    desk.once("dialog", lambda dialog: dialog.accept())
    desk.click("button:has-text('Thực hiện xoá dữ liệu')")
    _see(desk, "Đã xoá dữ liệu của sạp HL1/A-14")
    _shot(desk, "17-erasure-done")
    phone.reload()
    assert "/login" in phone.url  # the login is locked
    with Session(site["engine"]) as session:
        market = session.exec(select(Market)).one()
        assert market.code == "HL1"
        assert not session.exec(select(User).where(User.username == "0904222333")).first()
