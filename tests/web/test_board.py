"""The market board's fee pages and the owner's bills (issue #11), on both backends."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlmodel import Session

from market40 import qrimage, vietqr
from market40.models import FeePayment
from market40.services.fees import Fees
from market40.services.registry import Actor
from webhelpers import audit_events, fetch, post, sign_in

TARIFFS = ("Mã khoản thu,Loại,Tên khoản thu,Đơn vị tính,Đơn giá (đ),Hạng chợ,Vị trí,Căn cứ,Hiệu lực từ\n"
           "VESINH,cố định,Phí vệ sinh môi trường,tháng,50000,,,QĐ 48/2017/QĐ-UBND,01/01/2026\n")


@pytest.fixture
def billed(world, engine, tmp_path):
    """Both markets billed for 2026-12 (a fixed sanitation fee), each to its board's account."""
    path = tmp_path / "t.csv"
    path.write_text(TARIFFS, encoding="utf-8")
    with Session(engine) as session:
        fees = Fees(session, Actor.operator("tests"))
        fees.set_account("HL1", bank="vietcombank", number="0011009876543", holder_name="BAN QUAN LY CHO HA LONG")
        fees.set_account("CP1", bank="vietinbank", number="102030405060", holder_name="BAN QUAN LY CHO CAM PHA")
        session.commit()
        fees.import_tariffs(path)
        fees.issue("HL1", "2026-12")
        fees.issue("CP1", "2026-12")
        session.commit()
    return world


def test_board_sees_its_market_bills_and_downloads_slips(app, client, billed):
    sign_in(client, billed.user("board_hl"))
    assert client.get("/", follow_redirects=False).headers["Location"].endswith("/board/")
    page = client.get("/board/HL1?period=2026-12")
    assert page.status_code == 200 and "HL1-2612-A12" in page.text and "50.000 đ" in page.text
    assert "Chưa nộp" in page.text or "Quá hạn" in page.text
    english = client.get("/board/HL1?period=2026-12&lang=en")
    assert "Market fees" in english.text and "Bill number" in english.text
    pdf = client.get("/board/HL1/slips.pdf?period=2026-12")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/board/HL1/arrears").status_code == 200


def test_board_cannot_reach_another_market(app, client, billed, engine):
    sign_in(client, billed.user("board_hl"))
    for url in ("/board/CP1?period=2026-12", "/board/CP1/arrears", "/board/CP1/slips.pdf?period=2026-12",
                "/board/CP1/receipt/CP1-2612-B1", "/board/HL1/receipt/CP1-2612-B1"):
        assert client.get(url).status_code in (403, 404), url
    for market in ("CP1", "HL1"):
        response = post(client, f"/board/{market}/cash", {"bill": "CP1-2612-B1", "amount": "50000"})
        assert response.status_code in (403, 404)
    assert fetch(engine, FeePayment) == []
    assert any(e.entity == "market" and e.entity_id == "CP1" for e in audit_events(engine, "access.denied"))
    assert "CP1" not in client.get("/board/").text


def test_board_records_cash_and_the_receipt_follows(app, client, billed, engine):
    sign_in(client, billed.user("board_hl"))
    response = post(client, "/board/HL1/cash", {"bill": "HL1-2612-A12", "amount": "50.000", "note": "tại văn phòng"})
    assert response.status_code == 302
    page = client.get("/board/HL1?period=2026-12")
    assert "BL-HL1-" in page.text
    receipt = client.get("/board/HL1/receipt/HL1-2612-A12")
    assert receipt.status_code == 200 and receipt.data.startswith(b"%PDF")
    assert audit_events(engine, "fee.cash")
    again = post(client, "/board/HL1/cash", {"bill": "HL1-2612-A12", "amount": "1000"}, follow_redirects=True)
    assert again.status_code == 200 and "Không ghi được" in again.text


def test_owner_sees_their_bill_with_a_qr_to_scan_or_save(app, client, billed):
    sign_in(client, billed.user("owner_a"))
    page = client.get("/owner/bills")
    assert page.status_code == 200 and "HL1-2612-A12" in page.text and "CP1-2612-B1" not in page.text
    image = client.get("/owner/bills/HL1-2612-A12/qr.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    [text] = qrimage.read(Image.open(io.BytesIO(image.data)))
    qr = vietqr.parse(text)
    assert (qr.account, qr.amount, qr.bill_number) == ("0011009876543", 50_000, "HL1-2612-A12")
    assert client.get("/owner/bills/CP1-2612-B1/qr.png").status_code == 403
    assert client.get("/owner/bills/NOPE/qr.png").status_code == 404


def test_a_matched_transfer_shows_paid_on_the_owners_page(app, client, billed, engine):
    from datetime import datetime
    from market40 import fees as rules
    with Session(engine) as session:
        fees = Fees(session, Actor.operator("tests"))
        run = fees.match("HL1", [rules.Incoming("970436:FT1", datetime(2026, 12, 3, 9), 50_000,
                                                "MBVCB.123.F2612HL1A12.CT tu 0011")])
        session.commit()
        assert (run.applied, run.receipts) == (1, 1)
    sign_in(client, billed.user("owner_a"))
    page = client.get("/owner/bills")
    assert "Đã nộp" in page.text and "BL-HL1-" in page.text
    assert client.get("/owner/bills/HL1-2612-A12/qr.png").status_code == 404  # nothing left to pay
