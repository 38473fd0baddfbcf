"""Issue #12, the owner's and staff's journeys as a real market lives them: the onboarding slip,
forgiving forms, account changes without a gap, forgotten passwords, notices, erasure carried
out, a readable audit trail and review at market scale."""
from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from market40 import qrimage
from market40.models import AuditEvent, Market, PaymentAccount, User
from market40.services import slips as slip_service
from market40.services.registry import Actor, Registry

from webhelpers import SECRET, audit_events, csrf_token, fetch, post, sign_in

PIN = "27051990"


def _issue(engine, ref="HL1/A-12"):
    with Session(engine) as session:
        slip = Registry(session, Actor.operator("tests")).issue_enrollment_codes(key=SECRET, stall=ref)[0]
        session.commit()
    return slip.code


def _enrol(client, code, *, market="HL1", stall="A-12", phone="0903 123 456", password=PIN, password2=None,
           consent="yes"):
    token = csrf_token(client, "/enrol")
    data = {"csrf_token": token, "market": market, "stall": stall, "code": code, "phone": phone,
            "password": password, "password2": password if password2 is None else password2}
    if consent:
        data["consent"] = consent
    return client.post("/enrol", data=data)


def _pdf_text_and_sizes(pdf: bytes) -> tuple[str, list[float]]:
    import pypdfium2 as pdfium  # a test extra
    import pypdfium2.raw as raw
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0].get_textpage()
        text = page.get_text_range()
        sizes = [raw.FPDFText_GetFontSize(page.raw, i) for i in range(page.count_chars())
                 if not text[i].isspace()] if len(text) == page.count_chars() else \
            [raw.FPDFText_GetFontSize(page.raw, i) for i in range(page.count_chars())]
        image = document[0].render(scale=300 / 72).to_pil().convert("L")
    finally:
        document.close()
    return text, sizes, image  # type: ignore[return-value]


# ------------------------------------------------------------------ 1. the onboarding slip

def test_the_slip_pdf_says_where_to_go_whom_to_call_in_large_print(client, world, engine, app):
    """The staff page re-issues a code as a PDF slip: the address, a QR code opening the enrolment page
    with market and stall filled in (never the code), the board's contact, body text ≥ 11 pt."""
    with Session(engine) as session:
        market = session.exec(select(Market).where(Market.code == "HL1")).one()
        market.board_contact_name, market.board_contact_phone = "Ban quản lý chợ Hạ Long", "0203 3825 123"
        session.add(market)
        session.commit()
    app.config["PUBLIC_URL"] = "https://cho40.example.vn"
    sign_in(client, world.user("staff_hl"))
    response = post(client, "/staff/stall/HL1/A-12", {"action": "reissue", "format": "pdf"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text, sizes, image = _pdf_text_and_sizes(response.data)
    flat = " ".join(text.split())
    assert "https://cho40.example.vn/enrol" in flat
    assert "0203 3825 123" in flat and "Ban quản lý chợ Hạ Long" in flat
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", flat).group(0)
    assert min(sizes) >= 11, sizes
    urls = qrimage.read(image)
    assert urls == ["https://cho40.example.vn/enrol?market=HL1&stall=A-12"]
    assert code not in urls[0] and code.replace("-", "") not in urls[0]
    # The QR's address opens the enrolment page with the market and stall chosen.
    page = client.application.test_client().get("/enrol?market=HL1&stall=A-12")
    assert re.search(r'<option value="HL1" selected', page.text)
    assert 'name="stall" type="text" value="A-12"' in page.text
    # The code works (the slip is the real one) and the issue is in the stall's trail.
    assert _enrol(client.application.test_client(), code).status_code == 302
    events = [e for e in audit_events(engine, "enrollment.issue") if e.entity == "stall"]
    assert len(events) == 1


def test_the_html_slip_shows_the_qr_and_the_deployment_contact(client, world, app):
    app.config.update(PUBLIC_URL="https://cho40.example.vn/", SUPPORT_CONTACT="Vietcombank Hạ Long — 0203 1111 222")
    sign_in(client, world.user("staff_hl"))
    page = post(client, "/staff/stall/HL1/A-12", {"action": "reissue"})
    assert "https://cho40.example.vn/enrol?market=HL1&amp;stall=A-12" in page.text
    assert 'src="data:image/png;base64,' in page.text
    assert "Hỗ trợ: Vietcombank Hạ Long — 0203 1111 222" in page.text
    assert "data-print" in page.text


def test_cli_slips_carry_the_address_and_contact(monkeypatch, tmp_path):
    from datetime import datetime, timezone
    from market40.services.registry import EnrollmentSlip
    slip = EnrollmentSlip("HL1/A-12", "Chợ Hạ Long I", "Cá", "Lan", "7KQM-X3HC",
                          datetime(2026, 1, 1, tzinfo=timezone.utc), None, None)
    text = slip_service.as_text([slip], base_url="https://x.vn", contact="Ngân hàng — 0203")
    assert "https://x.vn/enrol?market=HL1&stall=A-12" in text and "Hỗ trợ: Ngân hàng — 0203" in text


# ------------------------------------------------------------------ 2. forgiving input

@pytest.mark.parametrize("typed", ["a12", "A 12", "a-12", " A12 "])
def test_enrolment_finds_the_stall_in_any_spelling(client, world, engine, typed):
    response = _enrol(client, _issue(engine), stall=typed)
    assert response.status_code == 302, response.text[:2000]
    (user,) = fetch(engine, User, User.username == "0903123456")
    assert user.stall_id == world.user("owner_a").stall_id


def test_the_stall_picker_follows_the_market_without_javascript(client, world):
    page = client.get("/enrol")
    assert 'data-market-step' in page.text and 'name="action" value="market"' in page.text
    step = client.post("/enrol", data={"csrf_token": csrf_token(client, "/enrol"), "market": "HL1",
                                       "action": "market"})
    assert '<option value="A-12">A-12 — Hải sản Cô Lan</option>' in step.text
    assert "B-1" not in step.text.split('id="stall-list"')[1].split("</datalist>")[0]
    assert client.get("/enrol/stalls?market=CP1").json == {"stalls": [{"code": "B-1", "shop": "Rau sạch Bình"}]}
    assert "Nguyễn Thị Lan" not in step.text  # no owner names on a public page


def test_every_error_at_once_in_form_order_and_the_form_keeps_what_was_typed(client, world, engine):
    page = _enrol(client, "abc", market="HL1", stall="A12", phone="12345", password="1234", password2="99999999")
    order = re.findall(r'<li><a href="#f-([a-z0-9]+)">', page.text)
    assert order == ["code", "phone", "password", "password2"], order
    assert 'value="A12"' in page.text and 'value="12345"' in page.text and 'value="abc"' in page.text
    assert "1234" not in re.sub(r'value="12345"', "", page.text.split('id="f-password"')[1][:200])
    assert re.search(r'id="f-consent"[^>]*checked', page.text)  # the consent tick stays
