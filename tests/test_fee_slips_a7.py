"""A7 fee slips (issue #11): eight to an A4 sheet, every QR decodes back to its bill at ≥ 1.5 mm modules.

The PDF is rasterised with pdftoppm and every symbol is read with zxing-cpp, whose corners give
the printed size: the module is measured on paper, not taken from the layout's own numbers.
"""
from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlmodel import Session

from market40 import db, fees as rules, feeslips, posters, vietqr
from market40.exceptions import ValidationError
from market40.services.fees import Fees

from test_fees import MARKET, OP, PERIOD, _setup  # noqa: E402  (same folder)

DPI = 200


@pytest.fixture
def demo(demo_copy: Path):
    engine = db.make_engine(db.database_url(str(demo_copy)))
    yield engine
    engine.dispose()


def _read(pdf: Path, folder: Path) -> tuple[list[Path], list[tuple[str, float, int]]]:
    """Every QR on the rasterised pages: (text, module in mm measured on the raster, version)."""
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(folder / "page")], check=True)
    pages = sorted(folder.glob("page-*.png"))
    found = []
    for page in pages:
        for barcode in zxingcpp.read_barcodes(Image.open(page), formats=zxingcpp.BarcodeFormat.QRCode):
            p = barcode.position
            side = ((p.top_right.x - p.top_left.x) ** 2 + (p.top_right.y - p.top_left.y) ** 2) ** 0.5
            version = int(barcode.extra["Version"])
            found.append((barcode.text, side / (17 + 4 * version) * 25.4 / DPI, version))
    return pages, found


def test_a7_slips_of_a_whole_market_decode_to_their_bills_at_1_5_mm_modules(demo, tmp_path):
    _setup(demo, tmp_path)
    with Session(demo) as session:
        fees = Fees(session, OP)
        fees.issue(MARKET, PERIOD)
        session.commit()
        views = {v.versions[-1]["number"]: v for v in fees.slips(MARKET, PERIOD)}
        pdf = tmp_path / "a7.pdf"
        assert fees.write_slips(MARKET, PERIOD, pdf, size="a7") == len(views)
    pages, found = _read(pdf, tmp_path)
    assert len(pages) == -(-len(views) // 8)  # eight A7 slips to an A4 sheet
    index = rules.bill_index([(v.reference, number) for number, v in views.items()])
    seen = set()
    for text, module, version in found:
        qr = vietqr.parse(text)
        number = index.match(qr.purpose).stall  # attribution: 62.08 names the bill
        assert number in views, qr.purpose
        assert qr.bill_number in rules.qr_bill_numbers(number)  # 62.01: the number, maybe shortened
        assert qr.crc_ok and qr.initiation == vietqr.DYNAMIC and (qr.bin, qr.account) == ("970436", "0011009876543")
        assert qr.amount == views[number].owed
        assert version <= 5 and module >= posters.MIN_MODULE_MM - 0.03, (number, module)  # raster rounding
        seen.add(number)
    assert seen == set(views)


def _slip(number: str, reference: str, payload: str, lines: int = 3) -> feeslips.Slip:
    items = [{"name": "Tiền thuê điểm kinh doanh", "kind": "rent", "quantity": "4,5", "unit": "m²/tháng",
              "unit_price": 40_000, "amount": 180_000},
             {"name": "Phí vệ sinh môi trường", "kind": "fixed", "quantity": "1", "unit": "tháng",
              "unit_price": 50_000, "amount": 50_000},
             {"name": "Tiền điện", "kind": "metered", "quantity": "120", "unit": "kWh", "unit_price": 3_000,
              "amount": 360_000}, {"name": "Phí an ninh", "kind": "fixed", "quantity": "1", "unit": "tháng",
                                   "unit_price": 20_000, "amount": 20_000}][:lines]
    return feeslips.Slip("Ban quản lý chợ Hà An", "Chợ Hà An", number.split("-")[2], "Nguyễn Thị Hường", None,
                         PERIOD, number, reference, date(2026, 12, 15), vietqr.parse(payload).amount or 0, items,
                         payload, "BAN QUAN LY CHO HA AN", "Vietcombank")


def test_a7_shortens_the_bill_number_in_62_01_only_when_that_makes_the_symbol_smaller(tmp_path):
    number, reference = rules.bill_number("M01", PERIOD, "D-1234", 2), rules.bill_reference("M01", PERIOD, "D-1234")
    payload = vietqr.build(bin="970436", account="1234567890123456789", amount=9_999_999, bill_number=number,
                           purpose=reference).payload
    assert posters._symbol(payload).version == 6  # 41 modules: 73.5 mm at 1.5 mm, no room on a 74 mm slip
    printed, symbol = feeslips.slip_symbol(payload, number, "a7")
    qr = vietqr.parse(printed)
    assert symbol.version == 5 and qr.bill_number == "2" and qr.purpose == reference  # the version alone
    assert (qr.bin, qr.account, qr.amount) == ("970436", "1234567890123456789", 9_999_999)
    # the longest form that reaches the smallest symbol: here the market is dropped (the account names it)
    number = rules.bill_number("HA3", PERIOD, "B-105", 2)
    payload = vietqr.build(bin="970436", account="0011009876543", amount=99_999_999, bill_number=number,
                           purpose=rules.bill_reference("HA3", PERIOD, "B-105")).payload
    printed, symbol = feeslips.slip_symbol(payload, number, "a7")
    assert posters._symbol(payload).version == 6 and symbol.version == 5
    assert vietqr.parse(printed).bill_number == "2612-B105-2"
    # on A6 the payload is printed as issued
    assert feeslips.slip_symbol(payload, number, "a6")[0] == payload
    short = vietqr.build(bin="970436", account="0011009876543", amount=50_000, bill_number="HL1-2612-A12",
                         purpose="F2612HL1 A12").payload
    assert feeslips.slip_symbol(short, "HL1-2612-A12", "a7")[0] == short


def test_a7_refuses_bills_whose_qr_cannot_reach_1_5_mm_and_names_those_that_fit(tmp_path):
    fits = _slip("HL1-2612-A12", "F2612HL1 A12", vietqr.build(
        bin="970436", account="0011009876543", amount=450_000, bill_number="HL1-2612-A12",
        purpose="F2612HL1 A12").payload)
    # lower-case letters in the account force byte mode: even the version alone in 62.01 needs version 6
    number, reference = rules.bill_number("QNH12", PERIOD, "AB-1234"), rules.bill_reference("QNH12", PERIOD, "AB-1234")
    big = _slip(number, reference, vietqr.build(bin="970436", account="abcdef1234567890123", amount=99_999_999,
                                                bill_number=number, purpose=reference, upper=False).payload)
    out = tmp_path / "refused.pdf"
    with pytest.raises(ValidationError) as caught:
        feeslips.render_slips_pdf([fits, big], out, size="a7")
    message = str(caught.value)
    assert caught.value.field == "size" and caught.value.value == [number]
    assert number in message and "at most 40 modules" in message and "1.5 mm" in message and "41 modules" in message
    assert "1 bills fit A7: HL1-2612-A12" in message and "A6" in message
    assert not out.exists()  # nothing half-written
    # the same bill prints on A6
    assert feeslips.render_slips_pdf([fits, big], out, size="a6") == 2


def test_a7_slip_with_many_lines_sums_up_the_rest_and_keeps_vietnamese_text(tmp_path):
    number = "HL1-2612-A12"
    payload = vietqr.build(bin="970436", account="0011009876543", amount=610_000, bill_number=number,
                           purpose="F2612HL1 A12").payload
    out = tmp_path / "one.pdf"
    feeslips.render_slips_pdf([_slip(number, "F2612HL1 A12", payload, lines=4)], out, size="a7")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "PHIẾU THU PHÍ CHỢ · KỲ 12/2026" in text and "Nguyễn Thị Hường" in text and "610.000 đ" in text
    assert "Tiền thuê điểm kinh doanh" in text and "khoản khác" in text  # four lines: the last ones summed
    _, found = _read(out, tmp_path)
    assert [vietqr.parse(t).amount for t, _, _ in found] == [610_000]
    assert found[0][1] >= posters.MIN_MODULE_MM - 0.03
