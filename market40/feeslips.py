"""Fee slips (phiếu thu phí chợ) and receipts (biên lai) as vector PDFs.

Drawn with the poster machinery of :mod:`market40.posters` — its embedded Vietnamese fonts,
its QR symbols as one filled path (:func:`market40.qrimage.matrix` underneath), its sheet grid
and cut marks — so there is one renderer of QR codes on paper, not two. A slip is A6 (four to
an A4 sheet, cut marks between them); its QR has modules of at least
:data:`~market40.posters.MIN_MODULE_MM` and a 4-module quiet zone.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, NamedTuple, Sequence

from . import fees as rules, posters, qrimage
from .exceptions import ValidationError
from .formats import money, to_vietnam

__all__ = ["Slip", "Receipt", "render_slips_pdf", "check_size", "render_receipts_pdf", "SLIP_SIZE", "SLIP_SIZES", "A7_MIN_PT",
           "CUT_TOLERANCE", "max_modules", "slip_symbol"]

SLIP_SIZE = "a6"
_F = posters._FAMILY


class _Cell(NamedTuple):
    name: str
    width: float
    height: float


#: Slip sizes (ISO 216, portrait), mm.
SLIP_SIZES = {"a6": _Cell("A6", 105.0, 148.0), "a7": _Cell("A7", 74.0, 105.0)}
#: The smallest text on an A7 slip, pt.
A7_MIN_PT = 6.0
#: Slip kept beside the QR's quiet zone on A7 so that a cut a little off still leaves it whole, mm.
CUT_TOLERANCE = 1.0


def max_modules(size: str) -> int | None:
    """The largest symbol (modules a side) an A7 slip holds at the least module size; None: A6 lays out freely.

    >>> max_modules("a7")
    40
    """
    if size != "a7":
        return None
    room = SLIP_SIZES["a7"].width - 2 * CUT_TOLERANCE
    return int(room / posters.MIN_MODULE_MM + 1e-9) - 2 * posters.QUIET_ZONE


def _version(payload: str) -> int:
    """The version :func:`market40.posters._symbol` gives ``payload`` (its optimum), without drawing it:
    qrimage's fast bit count for ASCII payloads (VietQR payloads are ASCII), else the symbol itself."""
    if payload.isascii():
        return qrimage._optimal_version(payload, posters.ERROR_LEVEL)
    return posters._symbol(payload).version


def slip_symbol(payload: str, number: str, size: str = SLIP_SIZE) -> tuple[str, Any]:
    """The payload a slip prints and its symbol: on A7 the smallest symbol among the payload's
    forms (the longest bill number of that size); on A6 the payload as it is. One symbol is
    built (with the poster service's fast builder); the forms are compared by their versions."""
    if size == "a7":
        forms = rules.qr_payloads(payload, number)
        versions = [_version(form) for form in forms]
        payload = forms[versions.index(min(versions))]
    return payload, posters._symbol(payload)


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


def _width(pdf: Any, text: str, bold: bool, pt: float) -> float:
    """``text``'s width in mm at ``pt``: the poster fonts' advance widths (what fpdf2 sums too,
    without its per-call graphics-state copies: a third of a slip's cost), else fpdf2's own."""
    try:
        return posters._metrics(posters._BOLD if bold else posters._REGULAR).width(text) * pt * posters._PT
    except KeyError:  # a character the font lacks: fpdf2 measures (and later reports) it
        pdf.set_font(_F, "B" if bold else "", pt)
        return pdf.get_string_width(text)


def _fit(pdf: Any, text: str, width: float, bold: bool, pt: float, least: float = 5.5) -> float:
    """The largest size ≤ ``pt`` (steps of 0.25 pt, at least ``least``) at which ``text`` fits ``width`` mm."""
    full = _width(pdf, text, bold, pt)
    if full <= width:
        return pt
    # widths scale with the size: the largest step that fits, at once
    size = max(least, int(pt * width / full * 4 + 1e-9) / 4)
    return size


def _line(pdf: Any, x: float, y: float, width: float, text: str, *, pt: float, bold: bool = False,
          align: str = "L", least: float = 5.5) -> None:
    text = unicodedata.normalize("NFC", text)
    size = _fit(pdf, text, width, bold, pt, least)
    pdf.set_font(_F, "B" if bold else "", size)
    if align != "L":
        room = width - _width(pdf, text, bold, size)
        x += room / 2 if align == "C" else room
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


def _draw_slip_a7(pdf: Any, slip: Slip, symbol: Any, dx: float, dy: float) -> None:
    """An A7 slip: the text above, the QR across the whole width at the bottom."""
    cell = SLIP_SIZES["a7"]
    least = A7_MIN_PT
    total = symbol.modules + 2 * posters.QUIET_ZONE
    items = list(slip.lines)
    # The QR's module: as large as the width allows (≤ 1.7 mm), but no larger than leaves the text
    # and every bill line above it; never under 1.5 mm (then the lines are summed up instead).
    head, step, tail = 18.1 + 1.2, 2.7, 4.6 + 2.9 + 2.9 + 0.6
    widest = (cell.width - 2 * CUT_TOLERANCE) / total
    module = max(posters.MIN_MODULE_MM, min(widest, 1.7, (cell.height - head - tail - step * len(items)) / total))
    side = total * module
    qy = dy + cell.height - side  # the bottom of the quiet zone on the slip's edge
    margin = 4.0
    width = cell.width - 2 * margin
    x = dx + margin

    def line(y: float, text: str, pt: float, bold: bool = False, align: str = "L", w: float = width,
             at: float = x) -> None:
        _line(pdf, at, y, w, text, pt=pt, bold=bold, align=align, least=least)

    y = dy + 7.0
    line(y, f"PHIẾU THU PHÍ CHỢ · KỲ {_month(slip.period)}", 9, bold=True, align="C")
    y += 3.2
    line(y, slip.board_name, 6.5, align="C")
    y += 3.6
    shop = f" · {slip.shop_name}" if slip.shop_name else ""
    line(y, f"Sạp {slip.stall_code}{shop} — {slip.owner_name}", 7, bold=True)
    y += 3.1
    line(y, f"Số phiếu {slip.number} · Hạn nộp {slip.due_date:%d/%m/%Y}", 6.5)
    room = int((max(0.0, qy - dy - head - tail) + 1e-6) // step)
    y += 1.2
    pdf.set_line_width(0.15)
    pdf.line(x, y, x + width, y)
    shown = items if len(items) <= room else items[:max(0, room - 1)]
    for item in shown:
        y += step
        label = f"{item['name']} ({item['quantity']} {item['unit']})" if item["kind"] != "fixed" else str(item["name"])
        line(y, label, 6, w=width - 17)
        line(y, money(int(item["amount"])), 6, align="R", w=17, at=x + width - 17)
    if len(shown) < len(items):
        y += step
        rest = items[len(shown):]
        line(y, f"và {len(rest)} khoản khác", 6, w=width - 17)
        line(y, money(sum(int(i["amount"]) for i in rest)), 6, align="R", w=17, at=x + width - 17)
    y += 4.6
    line(y, "Cần nộp", 7.5, bold=True, w=width * 0.4)
    line(y, money(slip.amount), 11, bold=True, align="R", w=width * 0.6, at=x + width * 0.4)
    y += 2.9
    line(y, f"Người nhận: {slip.holder_name} — {slip.bank}", 6, bold=True, align="C")
    y += 2.9
    line(y, f"Nội dung CK: {slip.reference} (ứng dụng tự điền)", 6, align="C")
    if y > qy - 0.5:
        raise ValidationError(f"slip {slip.number}: the text does not fit above the QR on an A7 slip",
                              field="size", value="a7", limit="A6")
    k = pdf.k
    scale = module * k
    ox = dx + (cell.width - side) / 2 + posters.QUIET_ZONE * module
    oy = qy + posters.QUIET_ZONE * module
    pdf._out(f"q {scale:.5f} 0 0 {-scale:.5f} {ox * k:.4f} {(pdf.h - oy) * k:.4f} cm {symbol.path} f Q")


def _grid(size: str, sheet: str) -> Any:
    """The slips of ``size`` on a ``sheet`` (landscape when that holds more), centred."""
    cell = SLIP_SIZES[size]
    best = None
    sheet_w, sheet_h = posters.SHEETS[sheet]
    for width, height in ((sheet_w, sheet_h), (sheet_h, sheet_w)):
        columns, rows = int(width // cell.width), int(height // cell.height)
        if columns * rows and (best is None or columns * rows > best.columns * best.rows):
            best = posters._Grid(width, height, columns, rows, (width - columns * cell.width) / 2,
                                 (height - rows * cell.height) / 2)
    if best is None:
        raise ValidationError(f"sheet: an {cell.name} slip does not fit on a {sheet.upper()} sheet", field="sheet",
                              value=sheet, limit=f"a sheet at least {cell.name}")
    return best


def _symbols(slips: list[Slip], size: str, workers: int) -> list[tuple[str, Any]]:
    """Each slip's printed payload and symbol, in order (``workers`` processes when > 1)."""
    jobs = [(s.payload, s.number, size) for s in slips]
    if workers <= 1 or len(jobs) < 64:
        return [slip_symbol(*job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_slip_symbol, jobs, chunksize=max(16, len(jobs) // (4 * workers))))


def _slip_symbol(job: tuple[str, str, str]) -> tuple[str, Any]:
    return slip_symbol(*job)


def check_size(size: Any) -> str:
    return posters._check_size(size, SLIP_SIZES, "size")


def render_slips_pdf(slips: Iterable[Slip], out: Any, *, sheet: str = "a4", size: str = SLIP_SIZE,
                     workers: int = 1) -> int:
    """Write slips as A6 or A7 cells of ``sheet`` pages (cut marks between them); returns how many.

    On A7 every slip's QR is checked first: if one does not fit at 1.5 mm modules nothing is
    written and the error names those bills, the limit, their symbol size and the bills that fit.
    ``workers`` > 1 builds the QR symbols in that many processes ("spawn").
    """
    key = check_size(size)
    grid = _grid(key, posters._check_size(sheet, posters.SHEETS, "sheet"))
    cell = SLIP_SIZES[key]
    workers = posters._check_workers(workers)
    slips = list(slips)
    if not slips:
        raise ValidationError("slips: no bill with an amount to pay in this period", field="period",
                              value=None, limit="at least one bill")
    symbols = _symbols(slips, key, workers)
    limit = max_modules(key)
    if limit is not None:
        too_big = [(s, sym) for s, (_, sym) in zip(slips, symbols) if sym.modules > limit]
        if too_big:
            fit = [s.number for s, (_, sym) in zip(slips, symbols) if sym.modules <= limit]
            named = "; ".join(f"{s.number}: version {sym.version}, {sym.modules} modules" for s, sym in too_big[:20])
            more = f" and {len(too_big) - 20} more" if len(too_big) > 20 else ""
            fits = (f"{len(fit)} bills fit A7: {', '.join(fit[:20])}{' …' if len(fit) > 20 else ''}" if fit
                    else "no bill fits A7")
            raise ValidationError(
                f"size: {len(too_big)} bills do not fit an A7 slip — its QR holds at most {limit} modules a side "
                f"(version {(limit - 17) // 4}) at {posters.MIN_MODULE_MM} mm modules, even with the bill number "
                f"shortened in 62.01 ({named}{more}); print them on A6. {fits}.",
                field="size", value=[s.number for s, _ in too_big], limit=f"QR ≤ {limit} modules at "
                f"{posters.MIN_MODULE_MM} mm on A7")
    per_page = grid.columns * grid.rows
    draw = _draw_slip_a7 if key == "a7" else _draw_slip
    with posters._document("Phiếu thu phí chợ", grid.width, grid.height) as pdf:
        for done, (slip, (_, symbol)) in enumerate(zip(slips, symbols)):
            cell_no = done % per_page
            if cell_no == 0:
                pdf.add_page()
                if per_page > 1:
                    posters._cut_marks(pdf, grid, cell)
            draw(pdf, slip, symbol, grid.left + (cell_no % grid.columns) * cell.width,
                 grid.top + (cell_no // grid.columns) * cell.height)
        document = pdf.output()
    posters._write(out, document)
    return len(slips)


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
