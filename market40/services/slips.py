"""Onboarding slips: the paper an owner receives with their one-time enrollment code.

Vietnamese first; the code appears here once (the registry keeps only its keyed hash).
"""
from __future__ import annotations

from pathlib import Path
from typing import IO, Iterable

from .registry import EnrollmentSlip

__all__ = ["as_text", "write_pdf"]

VI_ZONE = "Asia/Ho_Chi_Minh"


def _local(slip: EnrollmentSlip) -> str:
    from zoneinfo import ZoneInfo
    try:
        return slip.expires_at.astimezone(ZoneInfo(VI_ZONE)).strftime("%H:%M ngày %d/%m/%Y")
    except Exception:  # no tz database on the machine: UTC, said so
        return slip.expires_at.strftime("%H:%M ngày %d/%m/%Y (UTC)")


def lines(slip: EnrollmentSlip) -> list[str]:
    return [
        f"{slip.market_name} — sạp {slip.stall.split('/', 1)[1]}",
        f"Chủ hộ: {slip.owner_name}" + (f" — {slip.shop_name}" if slip.shop_name else ""),
        f"Mã đăng ký: {slip.code}",
        f"Dùng một lần, hết hạn lúc {_local(slip)}.",
        "Vào trang đăng ký, chọn chợ và sạp, nhập mã này, số điện thoại và mật khẩu của bạn.",
        "Không đưa mã này cho người khác. Cán bộ ngân hàng không bao giờ hỏi mật khẩu của bạn.",
        f"(Enrollment code for stall {slip.stall}; one use only.)",
    ]


def as_text(slips: Iterable[EnrollmentSlip]) -> str:
    out = []
    for slip in slips:
        out.append("\n".join(lines(slip)))
    return ("\n" + "-" * 60 + "\n").join(out) + ("\n" if out else "")


def write_pdf(slips: Iterable[EnrollmentSlip], out: str | Path | IO[bytes]) -> None:
    """A4 pages, eight slips each (two columns), with cut lines; text in an embedded font."""
    from fpdf import FPDF

    from ..posters import font_path  # the poster font: full Vietnamese coverage, embedded
    slips = list(slips)
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("body", "", str(font_path("regular")))
    pdf.add_font("body", "B", str(font_path("bold")))
    width, height = 105.0, 74.25  # A4 in eight: a comfortable slip
    for index, slip in enumerate(slips):
        if index % 8 == 0:
            pdf.add_page()
            pdf.set_draw_color(160)
            pdf.set_dash_pattern(dash=1, gap=1)
            pdf.line(105, 0, 105, 297)
            for row in range(1, 4):
                pdf.line(0, row * height, 210, row * height)
            pdf.set_dash_pattern()
        x = (index % 2) * width + 8
        y = ((index % 8) // 2) * height + 8
        text = lines(slip)
        pdf.set_xy(x, y)
        pdf.set_font("body", "B", 11)
        pdf.multi_cell(width - 16, 5.5, text[0])
        pdf.set_font("body", "", 10)
        pdf.set_x(x)
        pdf.multi_cell(width - 16, 5, text[1])
        pdf.set_x(x)
        pdf.set_font("body", "B", 20)
        pdf.cell(width - 16, 12, slip.code, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("body", "", 8.5)
        for line in text[3:]:
            pdf.set_x(x)
            pdf.multi_cell(width - 16, 4.2, line)
    if not slips:
        pdf.add_page()
    data = bytes(pdf.output())
    if hasattr(out, "write"):
        out.write(data)  # type: ignore[union-attr]
    else:
        Path(out).write_bytes(data)
