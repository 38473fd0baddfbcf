"""The whole owner journey in a real browser (Debian's Chromium driven by Playwright), at 360×740.

Enrol with the code from the slip → register an account with the bank picker → see the
preview → staff verify it (a second browser context) → the owner downloads the poster,
and the downloaded PDF's QR, rasterised with pdftoppm, decodes to the registered payload.
The same again without JavaScript, up to the preview. Screenshots go to
``test-artifacts/e2e/`` (kept by CI as artefacts).

The browser and the server come from :mod:`browser` (one Chromium per test process; never
downloaded: ``/usr/bin/chromium``, or ``$MARKET40_CHROMIUM``). Without it the test is skipped,
except in CI (``$CI`` set), where it fails.
"""
from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlmodel import Session, select

from market40 import db, passwords, qrimage
from market40.models import PaymentAccount, User, UserScope
from market40.services.registry import Actor, Registry

from browser import ARTIFACTS, PHONE, serve

SECRET = "e2e tests: a deployment secret of 32+ bytes"
STAFF_PASSWORD = "nhân viên ngân hàng 2026"
ACCOUNT = "0011012345678"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A small registry (one market, two stalls, one staff member) served by waitress on 127.0.0.1:<any>."""
    from web import create_app
    url = str(tmp_path / "e2e.db")
    db.upgrade(url)
    engine = db.make_engine(url)
    with Session(engine) as session:
        registry = Registry(session, Actor.operator("e2e"))
        from datetime import date
        registry.add_locality(code="L-HL", name="Phường Hạ Long", kind="commune", unit_type="phường",
                              province="Quảng Ninh", valid_from=date(2025, 7, 1))
        registry.save_market(code="HL1", name="Chợ Hạ Long I", tier="I", locality="L-HL")
        codes = {}
        for stall, owner in (("A-12", "Nguyễn Thị Lan"), ("A-14", "Phạm Văn Tư")):
            registry.save_stall("HL1", code=stall, shop_name=f"Sạp {owner.split()[-1]}", owner_name=owner)
            codes[stall] = registry.issue_enrollment_codes(key=SECRET, stall=f"HL1/{stall}")[0].code
        staff = User(username="nv.halong", display_name="Nhân viên Hạ Long", role="staff",
                     password_hash=passwords.hash_password(STAFF_PASSWORD))
        session.add(staff)
        session.flush()
        session.add(UserScope(user_id=staff.id, market_id=registry.market("HL1").id))
        session.commit()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    try:
        with serve(app) as base:
            yield {"base": base, "codes": codes, "engine": engine}
    finally:
        app.extensions["market40.engine"].dispose()
        engine.dispose()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fits_the_phone(page: Any) -> None:
    """Usable at 360 px: nothing wider than the screen, every input has a label, big enough to tap."""
    # After a click the new page's text can show before its stylesheet has loaded; a measure taken
    # then sees the unstyled page (the 827 px poster preview), which no phone ever paints.
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url
    unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(e => e.type !== 'hidden' && e.offsetParent !== null && e.labels.length === 0).map(e => e.name)""")
    assert unlabelled == [], page.url
    small = page.evaluate("""() => Array.from(document.querySelectorAll('main button, main .button'))
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
        .map(e => e.textContent.trim())""")
    assert small == [], page.url
    # every field a thumb types into (an <input> with no type is a text field too)
    fields = page.evaluate("""() => Array.from(document.querySelectorAll('main input, main select, main textarea'))
        .filter(e => !['hidden', 'checkbox', 'radio', 'file', 'submit', 'button'].includes(e.type)
                     && e.offsetParent !== null && e.getBoundingClientRect().height < 44)
        .map(e => e.name || e.id)""")
    assert fields == [], page.url


def _see(page: Any, text: str) -> None:
    """Wait (up to Playwright's timeout) until ``text`` shows on the page: after a click, the next page may
    still be loading."""
    page.get_by_text(text, exact=False).first.wait_for()


def _enrol(page: Any, site: dict[str, Any], stall: str, phone: str, pin: str) -> None:
    page.goto(site["base"] + "/enrol")
    page.select_option("#f-market", "HL1")
    page.fill("#f-stall", stall)
    page.fill("#f-code", site["codes"][stall].lower())
    page.fill("#f-phone", phone)
    page.fill("#f-password", pin)
    page.fill("#f-password2", pin)
    page.check("#f-consent")


def _payload(engine: Any, stall_status: str) -> str:
    with Session(engine) as session:
        return session.exec(select(PaymentAccount.payload).where(PaymentAccount.status == stall_status)).one()


def test_owner_journey_on_a_phone(site: dict[str, Any], chromium: Any, tmp_path: Path) -> None:
    browser = chromium  # this process's Chromium (tests/browser.py); contexts are closed after the test
    owner = browser.new_context(viewport=PHONE, accept_downloads=True)
    page = owner.new_page()
    # 1. Enrol with the code from the slip.
    _enrol(page, site, "A-12", "0903 123 456", "27051990")
    _fits_the_phone(page)
    _shot(page, "01-enrol")
    page.click("button:has-text('Đăng ký')")
    page.wait_for_url("**/owner/")
    _see(page, "Đăng ký thành công")
    _shot(page, "02-status-new")
    # 2. Register the account: pick the bank by typing without diacritics, preview, send.
    page.click("main a:has-text('Đăng ký tài khoản nhận tiền')")
    page.wait_for_url("**/owner/account")
    page.fill("#f-bank-search", "ngoai thuong")
    assert page.input_value("#f-bank") == "970436"
    page.fill("#f-number", ACCOUNT)
    page.fill("#f-holder_name", "Nguyễn Thị Lan")
    page.click("button[value=preview]")
    page.wait_for_function("() => { const i = document.getElementById('live-preview-image');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    assert page.is_visible("#live-preview-image")
    preview_png = page.evaluate("""() => {  // the picture the owner sees, read back through a canvas
        const image = document.getElementById('live-preview-image');
        const canvas = document.createElement('canvas');
        canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
        canvas.getContext('2d').drawImage(image, 0, 0);
        return canvas.toDataURL('image/png').split(',')[1]; }""")
    [previewed] = qrimage.read(io.BytesIO(base64.b64decode(preview_png)))
    assert ACCOUNT in previewed
    _fits_the_phone(page)
    _shot(page, "03-account-preview")
    page.check("#f-consent")
    page.click("button[value=submit]")
    page.wait_for_url("**/owner/")
    _see(page, "Chờ xác minh")
    assert ACCOUNT not in page.content()
    _shot(page, "04-status-pending")
    assert previewed == _payload(site["engine"], "pending")

    # 3. Staff verify it, in their own browser.
    staff = browser.new_context(viewport=PHONE)
    desk = staff.new_page()
    desk.goto(site["base"] + "/login")
    desk.fill("#f-username", "nv.halong")
    desk.fill("#f-password", STAFF_PASSWORD)
    desk.click("main button[type=submit]")
    # Staff must set up the second factor first (QR code, then a code from the app).
    desk.wait_for_url("**/2fa")
    _fits_the_phone(desk)
    _shot(desk, "05a-staff-2fa-setup")
    import pyotp
    secret = desk.locator("code.secret").inner_text().replace(" ", "")
    desk.fill("#f-code", pyotp.TOTP(secret).now())
    desk.click("main button[type=submit]")
    _see(desk, "Mã khôi phục")
    assert desk.locator("ul.recovery-codes li").count() == 10
    desk.click("a:has-text('Tôi đã cất các mã')")
    desk.wait_for_url("**/staff/")
    _fits_the_phone(desk)
    _shot(desk, "05-staff-queue")
    desk.click("a:has-text('HL1/A-12')")
    desk.wait_for_url("**/staff/stall/HL1/A-12**")
    desk.click("button:has-text('Hiện số tài khoản đầy đủ')")
    _see(desk, "0011 012 345 678")
    _shot(desk, "06-staff-stall")
    desk.click("button:has-text('Xác minh tài khoản')")
    _see(desk, "Đã xác minh tài khoản")

    # 4. The owner downloads the poster; its QR is the registered payload.
    page.reload()
    _see(page, "Tải biển để in")
    _fits_the_phone(page)
    _shot(page, "07-status-verified")
    with page.expect_download() as download_info:
        page.click("a:has-text('PDF A6')")
    pdf = ARTIFACTS / "poster-a6.pdf"
    download_info.value.save_as(str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile", str(pdf), str(tmp_path / "poster")],
                   check=True, timeout=60)
    shutil.copy(tmp_path / "poster.png", ARTIFACTS / "08-poster-a6-rasterised.png")
    assert qrimage.read(tmp_path / "poster.png") == [_payload(site["engine"], "verified")]
    page.click("a:has-text('Xem biển và số tài khoản đầy đủ')")
    page.wait_for_url("**/owner/poster")
    _see(page, "0011 012 345 678")
    _fits_the_phone(page)
    # The number is read aloud group by group: on one line, not "0011 012 345" above "678".
    assert page.locator("dl.facts dd.number").evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e); return r.getClientRects().length; }") == 1
    _shot(page, "09-poster-page")


def test_enrol_and_preview_without_javascript(site: dict[str, Any], chromium: Any) -> None:
    browser = chromium  # this process's Chromium (tests/browser.py); contexts are closed after the test
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    _enrol(page, site, "A-14", "0904 222 333", "tư bán rau 2026")
    page.click("button:has-text('Đăng ký')")
    page.wait_for_url("**/owner/")
    page.goto(site["base"] + "/owner/account")
    assert not page.is_visible("#f-bank-search")  # the filter box needs JavaScript; the list does not
    page.select_option("#f-bank", "970415")
    page.fill("#f-number", "12345")  # too short for nothing: any length 1–19 is an account
    page.fill("#f-holder_name", "Phạm Văn Tư 2")
    page.click("button[value=preview]")
    _see(page, "Tên chủ tài khoản chỉ gồm chữ cái")
    assert page.get_attribute("#f-holder_name", "aria-invalid") == "true"
    _shot(page, "10-nojs-errors")
    page.fill("#f-holder_name", "Phạm Văn Tư")
    page.click("button[value=preview]")
    _see(page, "PHAM VAN TU")
    assert page.is_visible("#preview img")
    _fits_the_phone(page)
    _shot(page, "11-nojs-preview")
    page.check("#f-consent")
    page.click("button[value=submit]")
    page.wait_for_url("**/owner/")
    _see(page, "Chờ xác minh")


def test_a_slow_stall_list_never_takes_the_owner_back_to_the_stall_field(site: dict[str, Any], chromium: Any) -> None:
    """On a slow network the market's stall list arrives after the owner has gone on to the next field:
    it must not take the focus back (what they type next would land in the stall code)."""
    page = chromium.new_context(viewport=PHONE).new_page()
    held: list[Any] = []
    page.route("**/enrol/stalls*", lambda route: held.append(route))
    page.goto(site["base"] + "/enrol")
    page.select_option("#f-market", "HL1")
    page.fill("#f-stall", "A-12")
    page.click("#f-code")
    while not held:
        page.wait_for_timeout(20)
    held[0].continue_()  # the list arrives now, while the owner is in the code field
    page.wait_for_function("() => document.querySelectorAll('#stall-list option').length > 0")
    page.keyboard.type("4mmt-ntv3")
    assert page.evaluate("document.activeElement.id") == "f-code"
    assert page.input_value("#f-stall") == "A-12" and page.input_value("#f-code") == "4mmt-ntv3"
