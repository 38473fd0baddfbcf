"""Fee slips (phiếu thu phí chợ) and receipts (biên lai) as vector PDFs.

Drawn with the poster machinery of :mod:`market40.posters` — its embedded Vietnamese fonts,
its QR symbols as one filled path (:func:`market40.qrimage.matrix` underneath), its sheet grid
and cut marks — so there is one renderer of QR codes on paper, not two. A slip is A6 (four to
an A4 sheet, cut marks between them); its QR has modules of at least
:data:`~market40.posters.MIN_MODULE_MM` and a 4-module quiet zone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Sequence

from . import posters
from .exceptions import ValidationError
from .formats import money, to_vietnam

__all__ = ["Slip", "Receipt", "render_slips_pdf", "render_receipts_pdf", "SLIP_SIZE"]

SLIP_SIZE = "a6"
_F = posters._FAMILY


@dataclass(frozen=True)
class Slip:
    board_name: str
    market_name: str
    stall_code: str
    owner_name: str
    shop_name: str | None
    period: str  # "2026-12"
    number: str
    reference: str
    due_date: date
    amount: int  # what this slip's QR asks for
    lines: Sequence[dict[str, Any]]
    payload: str
    holder_name: str
    bank: str


@dataclass(frozen=True)
class Receipt:
    serial: str
    board_name: str
    market_name: str
    stall_code: str
    owner_name: str
    period: str
    number: str
    amount: int
    paid_at: datetime
    lines: Sequence[dict[str, Any]]
    payments: Sequence[dict[str, Any]] = field(default_factory=tuple)


def _month(period: str) -> str:
    year, month = period.split("-")
    return f"{month}/{year}"


def _fit(pdf: Any, text: str, width: float, bold: bool, pt: float, least: float = 5.5) -> float:
    """The largest size ≤ ``pt`` at which ``text`` fits ``width`` mm."""
    while pt > least:
        pdf.set_font(_F, "B" if bold else "", pt)
        if pdf.get_string_width(text) <= width:
            return pt
        pt -= 0.25
    pdf.set_font(_F, "B" if bold else "", least)
    return least


def _line(pdf: Any, x: float, y: float, width: float, text: str, *, pt: float, bold: bool = False,
          align: str = "L") -> None:
    size = _fit(pdf, text, width, bold, pt)
    pdf.set_font(_F, "B" if bold else "", size)
    if align == "C":
        x += (width - pdf.get_string_width(text)) / 2
    elif align == "R":
        x += width - pdf.get_string_width(text)
    pdf.text(x, y, text)


def _draw_slip(pdf: Any, slip: Slip, symbol: Any, dx: float, dy: float) -> None:
    geometry = posters.SIZES[SLIP_SIZE]
    margin = 6.0
    width = geometry.width - 2 * margin
    x = dx + margin
    y = dy + 9.5
    _line(pdf, x, y, width, "PHIẾU THU PHÍ CHỢ", pt=12, bold=True, align="C")
    y += 4.6
    _line(pdf, x, y, width, slip.board_name, pt=8, align="C")
    y += 4.6
    _line(pdf, x, y, width, f"Kỳ {_month(slip.period)} · Số phiếu {slip.number}", pt=8, bold=True)
    y += 3.9
    shop = f" · {slip.shop_name}" if slip.shop_name else ""
    _line(pdf, x, y, width, f"Sạp {slip.stall_code}{shop} — {slip.owner_name}", pt=8)
    y += 1.6
    pdf.set_line_width(0.15)
    pdf.line(x, y, x + width, y)
    for item in list(slip.lines)[:6]:
        y += 3.5
        label = f"{item['name']} ({item['quantity']} {item['unit']} × {money(int(item['unit_price']))})" \
            if item["kind"] != "fixed" else str(item["name"])
        _line(pdf, x, y, width - 24, label, pt=7)
        _line(pdf, x + width - 23, y, 23, money(int(item["amount"])), pt=7, align="R")
    y += 1.6
    pdf.line(x, y, x + width, y)
    y += 5.2
    _line(pdf, x, y, width * 0.45, "Số tiền cần nộp", pt=9, bold=True)
    _line(pdf, x + width * 0.45, y, width * 0.55, money(slip.amount), pt=13, bold=True, align="R")
    y += 4.0
    _line(pdf, x, y, width, f"Hạn nộp: {slip.due_date:%d/%m/%Y} · Quét mã bằng ứng dụng ngân hàng", pt=7)
    module = posters.MIN_MODULE_MM
    side = (symbol.modules + 2 * posters.QUIET_ZONE) * module
    bottom_text = 10.5
    room = geometry.height - (y - dy) - bottom_text - 4
    if room >= side:
        module = min(room / (symbol.modules + 2 * posters.QUIET_ZONE), width / (symbol.modules + 8), 2.0)
        side = (symbol.modules + 2 * posters.QUIET_ZONE) * module
    if module < posters.MIN_MODULE_MM - 1e-9 or side > room + 1e-6:
        raise ValidationError(f"slip {slip.number}: the QR ({symbol.modules} modules) does not fit an "
                              f"{geometry.name} slip at {posters.MIN_MODULE_MM} mm modules",
                              field="size", value=SLIP_SIZE, limit=f"modules ≥ {posters.MIN_MODULE_MM} mm")
    qx = dx + (geometry.width - side) / 2
    qy = y + 1.0
    k = pdf.k
    scale = module * k
    ox = qx + posters.QUIET_ZONE * module
    oy = qy + posters.QUIET_ZONE * module
    pdf._out(f"q {scale:.5f} 0 0 {-scale:.5f} {ox * k:.4f} {(pdf.h - oy) * k:.4f} cm {symbol.path} f Q")
    y = qy + side + 2.8
    _line(pdf, x, y, width, f"Người nhận: {slip.holder_name} — {slip.bank}", pt=7, bold=True, align="C")
    y += 3.4
    _line(pdf, x, y, width, f"Nội dung chuyển khoản: {slip.reference} (ứng dụng tự điền)", pt=7, align="C")
    y += 3.2
    _line(pdf, x, y, width, "Fee slip: scan with any banking app; amount and reference are filled in.", pt=5.5,
          align="C")


def render_slips_pdf(slips: Iterable[Slip], out: Any, *, sheet: str = "a4") -> int:
    """Write slips as A6 cells of ``sheet`` pages (cut marks between them); returns how many."""
    grid = posters._grid(SLIP_SIZE, posters._check_size(sheet, posters.SHEETS, "sheet"))
    geometry = posters.SIZES[SLIP_SIZE]
    per_page = grid.columns * grid.rows
    done = 0
    with posters._document("Phiếu thu phí chợ", grid.width, grid.height) as pdf:
        for slip in slips:
            symbol = posters._symbol(slip.payload)
            cell = done % per_page
            if cell == 0:
                pdf.add_page()
                if per_page > 1:
                    posters._cut_marks(pdf, grid, geometry)
            _draw_slip(pdf, slip, symbol, grid.left + (cell % grid.columns) * geometry.width,
                       grid.top + (cell // grid.columns) * geometry.height)
            done += 1
        if not done:
            raise ValidationError("slips: no bill with an amount to pay in this period", field="period",
                                  value=None, limit="at least one bill")
        document = pdf.output()
    posters._write(out, document)
    return done


def render_receipts_pdf(receipts: Iterable[Receipt], out: Any) -> int:
    """Write receipts, one A6 page each."""
    geometry = posters.SIZES[SLIP_SIZE]
    done = 0
    with posters._document("Biên lai thu phí chợ", geometry.width, geometry.height) as pdf:
        for receipt in receipts:
            pdf.add_page()
            x, width, y = 8.0, geometry.width - 16, 14.0
            _line(pdf, x, y, width, "BIÊN LAI THU PHÍ CHỢ", pt=13, bold=True, align="C")
            y += 5.5
            _line(pdf, x, y, width, f"Số: {receipt.serial}", pt=9, bold=True, align="C")
            y += 5
            _line(pdf, x, y, width, receipt.board_name, pt=8, align="C")
            y += 7
            for text in (f"Sạp {receipt.stall_code} — {receipt.owner_name}",
                         f"Kỳ {_month(receipt.period)} · Phiếu {receipt.number}",
                         f"Đã nộp đủ lúc {to_vietnam(receipt.paid_at):%H:%M %d/%m/%Y}"):
                _line(pdf, x, y, width, text, pt=8.5)
                y += 4.6
            y += 1
            pdf.set_line_width(0.15)
            pdf.line(x, y, x + width, y)
            for item in list(receipt.lines)[:8]:
                y += 4.2
                _line(pdf, x, y, width - 26, str(item["name"]), pt=8)
                _line(pdf, x + width - 25, y, 25, money(int(item["amount"])), pt=8, align="R")
            y += 2
            pdf.line(x, y, x + width, y)
            y += 6
            _line(pdf, x, y, width * 0.5, "Tổng đã thu", pt=10, bold=True)
            _line(pdf, x + width * 0.5, y, width * 0.5, money(receipt.amount), pt=12, bold=True, align="R")
            y += 7
            _line(pdf, x, y, width, "Hình thức nộp:", pt=8, bold=True)
            for pay in list(receipt.payments)[:8]:
                y += 4.2
                how = "tiền mặt" if pay["method"] == "cash" else "chuyển khoản"
                _line(pdf, x, y, width, f"{to_vietnam(pay['paid_at']):%d/%m/%Y} · {how} · {money(pay['amount'])}",
                      pt=7.5)
            _line(pdf, x, geometry.height - 8, width, "Receipt for market fees, issued by market40.", pt=6,
                  align="C")
            done += 1
        if not done:
            raise ValidationError("receipts: no paid bill", field="bill", value=None, limit="a paid bill")
        document = pdf.output()
    posters._write(out, document)
    return done
