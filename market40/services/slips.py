"""Onboarding slips: the paper an owner receives with their one-time enrollment code.

Vietnamese first; the code appears here once (the registry keeps only its keyed hash).
A slip says where to go: the enrolment page's address and a QR code opening it with the
market and stall filled in, and whom to call. The QR carries the market and stall only,
never the code: an address ends up in browser history, server logs and shared screenshots,
and the code must stay on paper (the owner types it).

>>> enrol_url("https://cho40.example.vn/", "HL1/A-12")
'https://cho40.example.vn/enrol?market=HL1&stall=A-12'
>>> enrol_url(None, "HL1/A-12") is None
True
"""
from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import IO, Iterable
from urllib.parse import urlencode

from .registry import EnrollmentSlip

__all__ = ["as_text", "write_pdf", "enrol_url", "contact_line", "lines", "BODY_PT"]

VI_ZONE = "Asia/Ho_Chi_Minh"
#: The smallest text on a printed slip (older eyes; the issue asks for at least 11 pt).
BODY_PT = 12.0


def enrol_url(base: str | None, stall: str) -> str | None:
    """The enrolment page for ``MARKET/STALL`` under the deployment's public address (no secret in it)."""
    if not base:
        return None
    market, code = stall.split("/", 1)
    return f"{base.strip().rstrip('/')}/enrol?{urlencode({'market': market, 'stall': code})}"


def contact_line(slip: EnrollmentSlip, fallback: str | None = None) -> str | None:
    """Whom the owner calls: the market board's contact, else the deployment's (bank branch)."""
    parts = [p for p in (slip.contact_name, slip.contact_phone) if p]
    if parts:
        return "Ban quản lý chợ: " + " — ".join(parts)
    return f"Hỗ trợ: {fallback}" if fallback else None


def _local(slip: EnrollmentSlip) -> str:
    from ..formats import to_vietnam
    return to_vietnam(slip.expires_at).strftime("%H:%M ngày %d/%m/%Y")


def lines(slip: EnrollmentSlip, *, base_url: str | None = None, contact: str | None = None) -> list[str]:
    """The slip's lines: heading, owner, code, then the instructions (Vietnamese, an English last line)."""
    url = enrol_url(base_url, slip.stall)
    out = [
        f"{slip.market_name} — sạp {slip.stall.split('/', 1)[1]}",
        f"Chủ hộ: {slip.owner_name}" + (f" — {slip.shop_name}" if slip.shop_name else ""),
        f"Mã đăng ký: {slip.code}",
        f"Dùng một lần, hết hạn lúc {_local(slip)}.",
    ]
    if url:
        out.append(f"Quét mã QR hoặc vào {base_url.strip().rstrip('/')}/enrol (chợ và sạp đã điền sẵn), "  # type: ignore
                   "nhập mã này, số điện thoại và mật khẩu của bạn.")
    else:
        out.append("Vào trang đăng ký (hỏi cán bộ ngân hàng địa chỉ), chọn chợ và sạp, nhập mã này, "
                   "số điện thoại và mật khẩu của bạn.")
    line = contact_line(slip, contact)
    if line:
        out.append(line)
    out.append("Không đưa mã này cho người khác. Cán bộ ngân hàng không bao giờ hỏi mật khẩu của bạn.")
    out.append(f"(Enrollment code for stall {slip.stall}; one use only.)")
    return out


def as_text(slips: Iterable[EnrollmentSlip], *, base_url: str | None = None, contact: str | None = None) -> str:
    out = []
    for slip in slips:
        text = lines(slip, base_url=base_url, contact=contact)
        url = enrol_url(base_url, slip.stall)
        out.append("\n".join(text + ([url] if url else [])))
    return ("\n" + "-" * 60 + "\n").join(out) + ("\n" if out else "")


def _qr_png(url: str) -> BytesIO:
    from .. import qrimage
    out = BytesIO()
    qrimage.write(url, out, kind="png", pixels=600, error="M")
    out.seek(0)
    return out


def write_pdf(slips: Iterable[EnrollmentSlip], out: str | Path | IO[bytes], *, base_url: str | None = None,
              contact: str | None = None) -> None:
    """A4 pages, four A6 slips each (two columns), with cut lines; text at least :data:`BODY_PT`
    in an embedded font; the enrolment QR code when the deployment's address is known."""
    from fpdf import FPDF

    from ..posters import font_path  # the poster font: full Vietnamese coverage, embedded
    slips = list(slips)
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("body", "", str(font_path("regular")))
    pdf.add_font("body", "B", str(font_path("bold")))
    width, height = 105.0, 148.5  # A4 in four: A6 slips
    inner = width - 16
    for index, slip in enumerate(slips):
        if index % 4 == 0:
            pdf.add_page()
            pdf.set_draw_color(160)
            pdf.set_dash_pattern(dash=1, gap=1)
            pdf.line(105, 0, 105, 297)
            pdf.line(0, height, 210, height)
            pdf.set_dash_pattern()
        x = (index % 2) * width + 8
        y = ((index % 4) // 2) * height + 8
        text = lines(slip, base_url=base_url, contact=contact)
        pdf.set_xy(x, y)
        pdf.set_font("body", "B", 14)
        pdf.multi_cell(inner, 6.5, text[0], align="L")
        pdf.set_font("body", "", BODY_PT)
        pdf.set_x(x)
        pdf.multi_cell(inner, 5.5, text[1], align="L")
        pdf.set_x(x)
        pdf.set_font("body", "B", 22)
        pdf.cell(inner, 12, slip.code, new_x="LMARGIN", new_y="NEXT")
        url = enrol_url(base_url, slip.stall)
        top = pdf.get_y()
        text_x, text_w = x, inner
        if url:
            pdf.image(_qr_png(url), x=x, y=top, w=34, h=34)
            text_x, text_w = x + 37, inner - 37
        pdf.set_font("body", "", BODY_PT)
        pdf.set_y(top)
        for line in text[3:5]:
            pdf.set_x(text_x)
            pdf.multi_cell(text_w, 5.2, line, align="L")
        pdf.set_y(max(pdf.get_y(), top + (36 if url else 0)))
        for line in text[5:]:
            pdf.set_x(x)
            pdf.multi_cell(inner, 5.2, line, align="L")
        if url:
            pdf.set_x(x)
            pdf.multi_cell(inner, 5.2, url, align="L")
    if not slips:
        pdf.add_page()
    data = bytes(pdf.output())
    if hasattr(out, "write"):
        out.write(data)  # type: ignore[union-attr]
    else:
        Path(out).write_bytes(data)
