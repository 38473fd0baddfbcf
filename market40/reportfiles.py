"""Adoption report files: XLSX (first-class), CSV, HTML and JSON.

* **XLSX** (openpyxl): one sheet per view (summary, tier, locality, market, trend, anomalies,
  and the stalls when asked), native Excel charts (accepting and active by tier; the monthly
  trend), frozen headers, number and percent formats. Every user-supplied string goes
  through :func:`market40.tabular.safe_cell` and is written as a *string* cell (openpyxl would
  turn ``=…`` into a formula); account numbers appear masked and as text (`field-notes.md` §5.4).
* **CSV**: the chosen view, UTF-8 with a BOM so that Excel shows Vietnamese; rates are
  percentages with a decimal point.
* **HTML**: one self-contained printable page (inline CSS, inline SVG charts, no script, nothing
  fetched from the internet).
* **JSON**: :meth:`AdoptionReport.as_dict`.

The layout is for Vietnamese officers: headers in Vietnamese, the definitions of every
figure on the summary sheet and the page.
"""
from __future__ import annotations

import html
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from . import reconciliation as rules
from . import formats
from . import tabular  # the one place that makes cells safe
from .tabular import string_cell

from .adoption import AdoptionReport

__all__ = ["write_xlsx", "write_csv", "write_html", "write_json", "FIGURE_COLUMNS", "MARKET_COLUMNS"]

#: (key, Vietnamese header, kind) of a figures table.
FIGURE_COLUMNS = (
    ("label", "Nhóm", "text"),
    ("markets", "Số chợ", "int"),
    ("households", "Số hộ kinh doanh", "int"),
    ("households_accepting", "Hộ chấp nhận TTKDTM", "int"),
    ("household_accepting_rate", "% hộ chấp nhận", "pct"),
    ("households_active", "Hộ có giao dịch trong tháng", "int"),
    ("household_active_rate", "% hộ có giao dịch", "pct"),
    ("stalls", "Số sạp (mẫu số)", "int"),
    ("registered", "Sạp đã đăng ký, chờ xác minh", "int"),
    ("accepting", "Sạp chấp nhận TTKDTM", "int"),
    ("accepting_rate", "% sạp chấp nhận (theo số sạp)", "pct"),
    ("mean_accepting_rate", "% sạp chấp nhận (bình quân các chợ)", "pct"),
    ("active", "Sạp có giao dịch trong tháng", "int"),
    ("active_rate", "% sạp có giao dịch (theo số sạp)", "pct"),
    ("mean_active_rate", "% sạp có giao dịch (bình quân các chợ)", "pct"),
    ("covered", "Sạp có dữ liệu giao dịch", "int"),
    ("markets_at_target", "Chợ đạt mục tiêu", "int"),
    ("stalls_to_target", "Sạp cần thêm để đạt mục tiêu", "int"),
    ("census_markets", "Chợ có danh sách hộ của BQL", "int"),
    ("fees_billed", "Phí chợ đã lập phiếu (đ)", "money"),
    ("fees_cashless", "Phí chợ thu không dùng tiền mặt (đ)", "money"),
    ("fees_cashless_rate", "% phí chợ thu không dùng tiền mặt", "pct"),
)
MARKET_COLUMNS = (
    ("code", "Mã chợ", "text"), ("name", "Tên chợ", "text"), ("tier", "Hạng", "text"),
    ("locality", "Địa phương", "text"), ("households", "Số hộ kinh doanh", "int"),
    ("households_accepting", "Hộ chấp nhận TTKDTM", "int"), ("household_accepting_rate", "% hộ chấp nhận", "pct"),
    ("stalls", "Số sạp (mẫu số)", "int"),
    ("denominator", "Nguồn mẫu số", "text"), ("registered", "Sạp đã đăng ký, chờ xác minh", "int"),
    ("accepting", "Sạp chấp nhận TTKDTM", "int"), ("accepting_rate", "% sạp chấp nhận", "pct"),
    ("active", "Sạp có giao dịch trong tháng", "int"), ("active_rate", "% sạp có giao dịch", "pct"),
    ("covered", "Sạp có dữ liệu giao dịch", "int"), ("at_target", "Đạt mục tiêu", "text"),
    ("to_target", "Sạp cần thêm để đạt mục tiêu", "int"),
    ("fees_billed", "Phí chợ đã lập phiếu (đ)", "money"),
    ("fees_cashless", "Phí chợ thu không dùng tiền mặt (đ)", "money"),
    ("fees_cashless_rate", "% phí chợ thu không dùng tiền mặt", "pct"),
)
TREND_COLUMNS = (
    ("period", "Kỳ (tháng)", "text"), ("state", "Tình trạng", "text"),
    ("households", "Số hộ kinh doanh", "int"), ("households_accepting", "Hộ chấp nhận", "int"),
    ("household_accepting_rate", "% hộ chấp nhận", "pct"),
    ("stalls", "Số sạp", "int"), ("accepting", "Sạp chấp nhận", "int"),
    ("accepting_rate", "% sạp chấp nhận (theo số sạp)", "pct"),
    ("mean_accepting_rate", "% sạp chấp nhận (bình quân các chợ)", "pct"),
    ("active", "Sạp có giao dịch", "int"), ("active_rate", "% sạp có giao dịch (theo số sạp)", "pct"),
    ("mean_active_rate", "% sạp có giao dịch (bình quân các chợ)", "pct"),
    ("fees_cashless_rate", "% phí chợ thu không dùng tiền mặt", "pct"),
)
NOT_RECONCILED = "Chưa đối soát"
ANOMALY_SUMMARY_COLUMNS = (
    ("label", "Loại bất thường", "text"), ("count", "Số trường hợp", "int"), ("markets", "Số chợ", "int"),
    ("transfers", "Số giao dịch", "int"), ("amount", "Số tiền (đ)", "money"),
)
ANOMALY_COLUMNS = (
    ("label", "Loại", "text"), ("market", "Chợ", "text"), ("stall", "Sạp", "text"),
    ("account", "Tài khoản (che số)", "text"), ("bank_bin", "BIN ngân hàng", "text"), ("detail", "Chi tiết", "text"),
    ("transfers", "Số giao dịch", "int"), ("amount", "Số tiền (đ)", "money"),
)
STALL_COLUMNS = (
    ("market", "Chợ", "text"), ("stall", "Sạp", "text"), ("shop_name", "Tên cửa hàng", "text"),
    ("state_label", "Trạng thái", "text"), ("accepting", "Chấp nhận", "bool"), ("active", "Có giao dịch", "bool"),
    ("in_census", "Trong danh sách BQL", "bool"), ("counted", "Tính vào mẫu số", "bool"),
    ("account", "Tài khoản (che số)", "text"), ("transfers", "Số giao dịch", "int"),
    ("amount", "Số tiền (đ)", "money"), ("last_transfer_at", "Giao dịch gần nhất", "datetime"),
    ("evidence", "Căn cứ", "text"),
)
VIEW_TITLES = {"tier": "Theo hạng chợ", "locality": "Theo địa phương", "market": "Theo chợ",
               "province": "Toàn bộ phạm vi"}
DEFINITIONS_VI = (
    ("Số hộ kinh doanh", "Số hộ kinh doanh có sạp trong mẫu số: các sạp cùng mã số thuế (hoặc cùng số điện thoại "
     "và tên chủ hộ) là một hộ, được tính một lần."),
    ("Hộ chấp nhận TTKDTM", "Hộ có ít nhất một sạp chấp nhận thanh toán không dùng tiền mặt vào cuối tháng."),
    ("Số sạp (mẫu số)", "Số sạp trong danh sách hộ đang kinh doanh do ban quản lý chợ gửi cho tháng; chợ "
     "chưa gửi danh sách thì dùng số sạp đang kinh doanh trong sổ đăng ký."),
    ("Sạp chấp nhận TTKDTM", "Sạp có tài khoản nhận tiền đã được xác minh (có biển QR) vào cuối tháng."),
    ("Sạp có giao dịch", "Sạp có ít nhất một giao dịch chuyển khoản đến trong tháng, xác định theo số tài khoản "
     "nhận hoặc theo mã sạp trong nội dung (nguồn: sao kê ngân hàng, webhook SePay/Casso)."),
    ("% theo số sạp", "Tổng số sạp chấp nhận (có giao dịch) chia tổng số sạp của cả nhóm."),
    ("% bình quân các chợ", "Trung bình cộng tỷ lệ sạp của từng chợ."),
    ("Mục tiêu", "Tỷ lệ chấp nhận mà tỉnh đặt cho mỗi chợ; \"Sạp cần thêm\" là số sạp phải đưa vào để mọi chợ "
     "đạt."),
    ("% phí chợ thu không dùng tiền mặt", "Số tiền phí chợ của tháng đã thu qua chuyển khoản (khớp với phiếu thu) "
     "chia tổng số tiền phí chợ đã lập phiếu của tháng; tiền mặt nộp tại ban quản lý không tính."),
    ("Sạp có dữ liệu giao dịch", "Sạp mà ngân hàng của tài khoản có dữ liệu giao dịch trong tháng: chỉ với các "
     "sạp này mới biết được có giao dịch hay không."),
    ("Chưa đối soát", "Tháng chưa được đối soát thì chưa có số liệu: không ghi 0%."),
)
TARGET_SOURCES = {"province": "mục tiêu của tỉnh", "given": "mục tiêu chọn khi lập báo cáo",
                  "default": "chưa đặt mục tiêu của tỉnh: dùng 100%"}


def target_label(report: "AdoptionReport") -> str:
    """``90,0% (mục tiêu của tỉnh Quảng Ninh — KH 123/UBND)``: the target and where it comes from."""
    where = TARGET_SOURCES.get(report.target_source, "")
    if report.target_source == "province" and report.province_name:
        where += f" {report.province_name}"
    if report.target_note:
        where += f" — {report.target_note}"
    return f"{formats.percent(report.target)} ({where})"


def _figure_values(f: rules.Figures) -> dict[str, Any]:
    return f.as_dict()


def _market_values(report: "AdoptionReport") -> list[dict[str, Any]]:
    out = []
    for m in report.markets:
        needed = -(-round(report.target * m.stalls * 1e9) // int(1e9)) if m.stalls else 0
        out.append({"code": m.code, "name": m.name, "tier": m.tier or "—",
                    "locality": ", ".join(m.groups.get("locality", ())), "stalls": m.stalls,
                    "households": m.household_count, "households_accepting": m.households_accepting,
                    "household_accepting_rate": m.households_accepting / m.household_count
                    if m.household_count else None,
                    "denominator": "Danh sách BQL" if m.denominator == "census" else "Sổ đăng ký",
                    "registered": m.registered, "accepting": m.accepting, "accepting_rate": m.accepting_rate,
                    "active": m.active, "active_rate": m.active_rate, "covered": m.covered,
                    "at_target": "Có" if m.stalls and m.accepting >= needed else "Chưa",
                    "to_target": max(0, needed - m.accepting), "fees_billed": m.fees_billed,
                    "fees_cashless": m.fees_cashless, "fees_cashless_rate": m.fees_cashless_rate})
    return out


def _trend_values(report: "AdoptionReport") -> list[dict[str, Any]]:
    rows = []
    for point in report.trend:
        f = point.figures
        rows.append({"period": point.period, "state": "Đã đối soát" if f else NOT_RECONCILED,
                     **({k: getattr(f, k) for k, _, _ in TREND_COLUMNS[2:]} if f else {})})
    return rows


def _period_title(period: str) -> str:
    year, month = period.split("-")
    return f"tháng {month}/{year}"


# ------------------------------------------------------------------------------------ XLSX

def write_xlsx(report: "AdoptionReport", target: str | os.PathLike[str] | IO[bytes]) -> None:
    """The workbook described in the module docstring (openpyxl write-only mode: it streams)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    header_fill = PatternFill("solid", start_color="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    book = Workbook(write_only=True)
    summary = book.create_sheet("Tổng hợp")
    sheets = {view: book.create_sheet(VIEW_TITLES[view]) for view in ("tier", "locality", "market")}
    trend_sheet = book.create_sheet("Xu hướng")
    anomaly_sheet = book.create_sheet("Bất thường")
    stall_sheet = book.create_sheet("Chi tiết sạp") if report.stalls is not None else None

    def cell(sheet: Any, value: Any, kind: str, *, font: Any = None, fill: Any = None, align: Any = None) -> Any:
        c = _value_cell(WriteOnlyCell(sheet), value, kind)
        if font is not None:
            c.font = font
        if fill is not None:
            c.fill = fill
        if align is not None:
            c.alignment = align
        return c

    def table(sheet: Any, columns: Sequence[tuple[str, str, str]], rows: Sequence[dict[str, Any]], *,
              total: dict[str, Any] | None = None, widths: dict[str, int] | None = None) -> None:
        for index, (key, _, kind) in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = (widths or {}).get(
                key, 34 if kind == "text" and index == 1 else 16)
        sheet.freeze_panes = "B2"
        if rows:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
        sheet.append([cell(sheet, title, "label", font=bold, fill=header_fill, align=wrap)
                      for _, title, _ in columns])
        for row in rows:
            sheet.append([cell(sheet, row.get(key), kind) for key, _, kind in columns])
        if total is not None:
            sheet.append([cell(sheet, total.get(key), kind, font=bold) for key, _, kind in columns])

    p = report.province
    # the summary sheet: title, key figures, definitions, notes; charts on the right
    summary.column_dimensions["A"].width = 44
    summary.column_dimensions["B"].width = 70
    head = [("BÁO CÁO TỶ LỆ THANH TOÁN KHÔNG DÙNG TIỀN MẶT TẠI CHỢ (CHỢ 4.0)", Font(bold=True, size=14)),
            (f"Kỳ báo cáo: {_period_title(report.period)}", None), (f"Phạm vi: {report.scope}", None),
            (f"Cấp địa phương: {report.level_label}", None),
            (f"Lập lúc {formats.when(report.generated_at)} bởi {report.generated_by}", None),
            ("", None)]
    summary.freeze_panes = f"A{len(head) + 1}"
    for text, font in head:
        summary.append([cell(summary, text, "label", font=font)])
    figures = [
        ("Số chợ", p.markets, "int"), ("Số hộ kinh doanh", p.households, "int"),
        ("Hộ chấp nhận TTKDTM", p.households_accepting, "int"),
        ("Tỷ lệ hộ chấp nhận – theo số hộ kinh doanh", p.household_accepting_rate, "pct"),
        ("Hộ có giao dịch trong tháng", p.households_active, "int"),
        ("Tỷ lệ hộ có giao dịch – theo số hộ kinh doanh", p.household_active_rate, "pct"),
        ("Số sạp (mẫu số)", p.stalls, "int"), ("Sạp chấp nhận TTKDTM", p.accepting, "int"),
        ("Tỷ lệ sạp chấp nhận – theo số sạp", p.accepting_rate, "pct"),
        ("Tỷ lệ sạp chấp nhận – bình quân các chợ", p.mean_accepting_rate, "pct"),
        ("Sạp có giao dịch trong tháng", p.active, "int"),
        ("Tỷ lệ sạp có giao dịch – theo số sạp", p.active_rate, "pct"),
        ("Tỷ lệ sạp có giao dịch – bình quân các chợ", p.mean_active_rate, "pct"),
        ("Sạp đã đăng ký, chờ xác minh", p.registered, "int"),
        ("Mục tiêu (tỷ lệ chấp nhận mỗi chợ)", report.target, "pct"),
        ("Nguồn mục tiêu", target_label(report), "label"),
        ("Chợ đạt mục tiêu", p.markets_at_target, "int"),
        ("Sạp cần thêm để mọi chợ đạt mục tiêu", p.stalls_to_target, "int"),
    ]
    if not report.reconciled:
        summary.append([cell(summary, "Tình trạng kỳ", "label"),
                        cell(summary, f"{NOT_RECONCILED}: chưa có số liệu của kỳ này", "label", font=bold)])
    for label, value, kind in figures:
        if not report.reconciled and kind in ("int", "pct") and label != "Mục tiêu (tỷ lệ chấp nhận mỗi chợ)":
            value, kind = NOT_RECONCILED, "label"
        summary.append([cell(summary, label, "label"), cell(summary, value, kind, font=bold)])
    summary.append([])
    summary.append([cell(summary, "Giải thích", "label", font=bold)])
    for term, meaning in DEFINITIONS_VI:
        summary.append([cell(summary, term, "label", font=bold, align=wrap), cell(summary, meaning, "label", align=wrap)])
    for note in report.notes:
        summary.append([cell(summary, note, "label")])

    # the views, the trend, the anomalies, the stalls
    for view, sheet in sheets.items():
        if view == "market":
            table(sheet, MARKET_COLUMNS, _market_values(report), widths={"code": 10, "name": 30, "locality": 28})
        else:
            table(sheet, FIGURE_COLUMNS, [_figure_values(f) for f in report.views.get(view, [])],
                  total=_figure_values(p))
    table(trend_sheet, TREND_COLUMNS, _trend_values(report), widths={"period": 14})
    table(anomaly_sheet, ANOMALY_COLUMNS, report.anomalies, widths={"label": 40, "detail": 70, "account": 16})
    if stall_sheet is not None:
        table(stall_sheet, STALL_COLUMNS, report.stalls or [],
              widths={"shop_name": 28, "state_label": 22, "evidence": 80, "account": 16})

    # native charts: they read the cells of the tier and trend sheets
    tiers = report.views.get("tier", [])
    if tiers:
        summary.add_chart(_bar_chart(sheets["tier"], len(tiers)), "D1")
        sheets["tier"].add_chart(_bar_chart(sheets["tier"], len(tiers)), f"B{len(tiers) + 4}")
    if len(report.trend) > 1:
        summary.add_chart(_line_chart(trend_sheet, len(report.trend)), "D18")
        trend_sheet.add_chart(_line_chart(trend_sheet, len(report.trend)), f"B{len(report.trend) + 3}")
    book.active = {"tier": 1, "locality": 2, "market": 3}.get(report.by, 0)  # Excel opens on the chosen view
    book.save(target)


def _column(columns: Sequence[tuple[str, str, str]], key: str) -> int:
    """The 1-based sheet column of ``key`` in a table written with ``columns``."""
    return [k for k, _, _ in columns].index(key) + 1


def _bar_chart(sheet: Any, n: int) -> Any:
    """Households accepting and active by tier (the tier sheet's household rate columns)."""
    from openpyxl.chart import BarChart, Reference
    chart = BarChart()
    chart.type = "col"
    chart.title = "Tỷ lệ hộ chấp nhận và có giao dịch theo hạng chợ"
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.y_axis.title = "% số hộ kinh doanh"
    for column in (_column(FIGURE_COLUMNS, "household_accepting_rate"), _column(FIGURE_COLUMNS, "household_active_rate"),
                   _column(FIGURE_COLUMNS, "fees_cashless_rate")):
        chart.add_data(Reference(sheet, min_col=column, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=n + 1))
    chart.height, chart.width = 8, 16
    return chart


def _line_chart(sheet: Any, n: int) -> Any:
    """The monthly trend: households accepting, stalls accepting (by stalls, mean of markets), stalls active."""
    from openpyxl.chart import LineChart, Reference
    chart = LineChart()
    chart.title = "Xu hướng theo tháng"
    chart.y_axis.title = "% số hộ"
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    for column in [_column(TREND_COLUMNS, k) for k in ("household_accepting_rate", "accepting_rate",
                                                        "mean_accepting_rate", "active_rate",
                                                        "fees_cashless_rate")]:
        chart.add_data(Reference(sheet, min_col=column, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=n + 1))
    chart.height, chart.width = 8, 16
    return chart


def _value_cell(cell: Any, value: Any, kind: str) -> Any:
    """A typed cell: numbers as numbers with a format, text always as a safe string cell."""
    if value is None:
        cell.value = None
        return cell
    if kind == "pct":
        cell.value = float(value)
        cell.number_format = "0.0%"
    elif kind in ("int", "money"):
        cell.value = int(value)
        cell.number_format = "#,##0"
    elif kind == "bool":
        string_cell(cell, "Có" if value else "Không", text_format=False)
    elif kind == "datetime":
        cell.value = value if isinstance(value, (datetime, date)) else None
        cell.number_format = "dd/mm/yyyy hh:mm"
    elif kind == "label":  # our own headings and notes: string cells, general format
        string_cell(cell, value, text_format=False)
    else:  # user data (names, codes, masked accounts): string cells formatted as Text
        string_cell(cell, value)
    return cell


# ------------------------------------------------------------------------------------ CSV

def _csv_value(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "pct":
        return f"{float(value) * 100:.2f}"
    if kind == "bool":
        return "1" if value else "0"
    if kind == "datetime":
        return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value)
    return value


def write_csv(report: "AdoptionReport", target: str | os.PathLike[str] | IO[bytes]) -> None:
    """The chosen view (``report.by``) as CSV, UTF-8 with BOM; percentages with a decimal point."""
    if report.by == "market":
        columns, rows = MARKET_COLUMNS, _market_values(report)
    else:
        columns = FIGURE_COLUMNS
        rows = [_figure_values(f) for f in report.rows]
        if report.by != "province":
            rows.append(_figure_values(report.province))
    state = "Đã đối soát" if report.reconciled else NOT_RECONCILED
    lines = [[title for _, title, _ in columns] + ["Kỳ", "Tình trạng kỳ", "Mục tiêu (%)"]]
    lines += [[_csv_value(row.get(key), kind) if report.reconciled or kind == "text" else ""
               for key, _, kind in columns] + [report.period, state, _csv_value(report.target, "pct")]
              for row in rows]
    tabular.write_csv(target, lines)


# ------------------------------------------------------------------------------------ JSON

def write_json(report: "AdoptionReport", target: str | os.PathLike[str] | IO[bytes]) -> None:
    data = json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=_json_default).encode("utf-8")
    if isinstance(target, (str, os.PathLike)):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


# ------------------------------------------------------------------------------------ HTML

_CSS = """
body{font-family:"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;margin:24px;color:#1b1b1b;font-size:13px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:2px solid #1f6fb2}
.meta{color:#555;margin:2px 0}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #cfd8e3;border-radius:6px;padding:10px 14px;min-width:170px}
.card b{display:block;font-size:22px;color:#1f6fb2}.card small{color:#555}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}th,td{border:1px solid #cfd8e3;padding:4px 6px;text-align:right}
th{background:#ddebf7;text-align:center}td.t{text-align:left}tr.total td{font-weight:bold;background:#f3f6fa}
.charts{display:flex;flex-wrap:wrap;gap:24px}.note{color:#444}dl{display:grid;grid-template-columns:260px 1fr;gap:4px 12px}
dt{font-weight:bold}dd{margin:0}
.warning{border:2px solid #c0392b;background:#fdecea;padding:8px 12px;font-weight:bold}
figure{margin:0}svg{max-width:100%;height:auto}.charts figure{flex:1 1 320px;max-width:560px}
@page{size:A4 landscape;margin:9mm}
@media print{body{margin:0;font-size:10px}h1{font-size:16px}h2{font-size:13px;margin:12px 0 4px;break-after:avoid}
.meta{font-size:10px}.cards{margin:8px 0;gap:6px}.card{padding:4px 8px;min-width:0;flex:1}.card b{font-size:17px}
table{page-break-inside:auto;margin:4px 0 8px}th,td{padding:1px 4px}tr{break-inside:avoid}
.charts{break-inside:avoid;flex-wrap:nowrap;gap:12px}.charts figure{flex:1 1 0;max-width:none}
.charts svg{max-height:62mm;width:auto}p.note{margin:3px 0}dl{grid-template-columns:200px 1fr;gap:1px 8px}}
"""
_COLOURS = ("#1f6fb2", "#f28e2b", "#59a14f", "#e15759")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return formats.percent(float(value))
    if kind == "int":
        return formats.count(int(value))
    if kind == "money":
        return formats.money(int(value))
    if kind == "bool":
        return "Có" if value else "Không"
    if kind == "datetime" and isinstance(value, datetime):
        return formats.when(value if value.tzinfo else value.replace(tzinfo=formats.VN_TZ))  # naive: Vietnam time
    return _e(value)


def _html_table(columns: Sequence[tuple[str, str, str]], rows: Sequence[dict[str, Any]],
                total: dict[str, Any] | None = None) -> str:
    head = "".join(f"<th>{_e(title)}</th>" for _, title, _ in columns)
    body = []
    for row in [*rows, *([total] if total else [])]:
        cells = "".join(f'<td class="t">{_fmt(row.get(k), kind)}</td>' if kind == "text" else
                        f"<td>{_fmt(row.get(k), kind)}</td>" for k, _, kind in columns)
        body.append(f'<tr class="total">{cells}</tr>' if total is not None and row is total else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _svg_open(title: str, width: int, height: int) -> list[str]:
    # viewBox + width 100%: the chart scales to its box (a 360 px phone, a 1366 px laptop, A4 paper)
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" style="max-width:100%;height:auto" role="img" aria-label="{_e(title)}">'
            f"<title>{_e(title)}</title>",
            f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="15" font-weight="bold">{_e(title)}</text>']


def _grid(left: float, right: float, top: float, plot_h: float) -> list[str]:
    out = []
    for tick in range(0, 101, 25):
        y = top + plot_h - plot_h * tick / 100
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="12">{tick}%</text>')
    return out


def _target_line(target: float | None, label: str, left: float, right: float, top: float, plot_h: float) -> str:
    if target is None:
        return ""
    y = top + plot_h - plot_h * float(target)
    return (f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c0392b" stroke-width="1.5" '
            f'stroke-dasharray="6 4"/><text x="{right - 2}" y="{y + 14:.1f}" text-anchor="end" font-size="12" '
            f'fill="#c0392b">{_e(label)} {_e(formats.percent(float(target), digits=0))}</text>')


def svg_bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
             title: str, width: int = 520, height: int = 300, target: float | None = None,
             target_label: str = "Mục tiêu") -> str:
    """A grouped bar chart of rates (0–1) as inline SVG that scales to its box, with the target as a line."""
    left, bottom, top, right = 46, 64, 34, width - 10
    plot_w, plot_h = right - left, height - bottom - top
    parts = _svg_open(title, width, height) + _grid(left, right, top, plot_h)
    group = plot_w / max(1, len(categories))
    bar = group * 0.8 / max(1, len(series))
    for i, category in enumerate(categories):
        x0 = left + i * group + group * 0.1
        for j, (_, values) in enumerate(series):
            value = values[i]
            if value is None:
                continue
            h = plot_h * float(value)
            x = x0 + j * bar
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                         f'fill="{_COLOURS[j % len(_COLOURS)]}"><title>{_e(category)}: '
                         f'{_e(formats.percent(float(value)))}</title></rect>'
                         f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" '
                         f'font-size="12">{_e(formats.percent(float(value), digits=0))}</text>')
        parts.append(f'<text x="{left + i * group + group / 2:.1f}" y="{top + plot_h + 17}" text-anchor="middle" '
                     f'font-size="13">{_e(category)}</text>')
    parts.append(_target_line(target, target_label, left, right, top, plot_h))
    parts.append(_legend([name for name, _ in series], left, height - 26, width))
    parts.append("</svg>")
    return "".join(parts)


def svg_lines(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
              title: str, width: int = 520, height: int = 300, missing: Sequence[bool] | None = None,
              missing_label: str = "chưa đối soát", target: float | None = None,
              target_label: str = "Mục tiêu") -> str:
    """A line chart of rates (0–1) over months as inline SVG; a month without data is a gap, marked
    ``missing_label`` when ``missing`` says it was not reconciled (never drawn as 0%)."""
    left, bottom, top, right = 46, 64 + 16 * max(0, (len(series) - 2) // 2), 34, width - 16
    height = max(height, bottom + top + 160)
    plot_w, plot_h = right - left, height - bottom - top
    parts = _svg_open(title, width, height) + _grid(left, right, top, plot_h)
    step = plot_w / max(1, len(categories) - 1)
    every = max(1, -(-len(categories) * 46 // plot_w))  # thin the month labels when they would overlap
    for i, category in enumerate(categories):
        x = left + i * step
        if i % every == 0 or i == len(categories) - 1:
            parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 17}" text-anchor="middle" '
                         f'font-size="12">{_e(category)}</text>')
        if missing and missing[i]:
            parts.append(f'<rect x="{x - 9:.1f}" y="{top}" width="18" height="{plot_h}" fill="#f3f3f3"/>'
                         f'<text transform="translate({x + 4:.1f},{top + plot_h - 6}) rotate(-90)" font-size="11" '
                         f'fill="#777">{_e(missing_label)}</text>')
    for j, (name, values) in enumerate(series):
        colour = _COLOURS[j % len(_COLOURS)]
        run: list[str] = []
        for i, value in enumerate(values):
            if value is None:
                if len(run) > 1:
                    parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" '
                                 f'points="{" ".join(run)}"/>')
                run = []
                continue
            x, y = left + i * step, top + plot_h - plot_h * float(value)
            run.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>{_e(name)} '
                         f'{_e(categories[i])}: {_e(formats.percent(float(value)))}</title></circle>')
        if len(run) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="{" ".join(run)}"/>')
    parts.append(_target_line(target, target_label, left, right, top, plot_h))
    parts.append(_legend([name for name, _ in series], left, height - bottom + 40, width))
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: Sequence[str], x: float, y: float, width: float) -> str:
    """Legend items left to right, wrapping to another line when the next one would not fit."""
    out = []
    start = x
    for j, name in enumerate(names):
        size = 20 + 6.8 * len(name)
        if x > start and x + size > width:
            x, y = start, y + 17
        out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{_COLOURS[j % len(_COLOURS)]}"/>'
                   f'<text x="{x + 16:.1f}" y="{y:.1f}" font-size="12">{_e(name)}</text>')
        x += size + 10
    return "".join(out)


#: The columns the printed page shows (the XLSX has them all).
HTML_FIGURE_KEYS = ("label", "markets", "households", "households_accepting", "household_accepting_rate",
                    "household_active_rate", "stalls", "accepting", "accepting_rate", "mean_accepting_rate",
                    "active_rate", "markets_at_target")
HTML_MARKET_KEYS = ("code", "name", "tier", "households", "household_accepting_rate", "stalls", "accepting_rate",
                    "active_rate", "at_target")


def _pick(columns: Sequence[tuple[str, str, str]], keys: Sequence[str]) -> tuple[tuple[str, str, str], ...]:
    by_key = {c[0]: c for c in columns}
    return tuple(by_key[k] for k in keys)


def tier_chart(report: "AdoptionReport", *, width: int = 520, labels: dict[str, str] | None = None) -> str | None:
    """Households accepting and active by market tier (None when there are no tiers)."""
    tiers = report.views.get("tier", [])
    if not tiers or not report.reconciled:
        return None
    names = labels or {}
    return svg_bars([f"{names.get('tier', 'Hạng')} {f.label}" if f.label in ("I", "II", "III") else f.label
                     for f in tiers],
                    [(names.get("accepting", "% hộ chấp nhận"), [f.household_accepting_rate for f in tiers]),
                     (names.get("active", "% hộ có giao dịch"), [f.household_active_rate for f in tiers])],
                    title=names.get("bars", "Hộ chấp nhận và có giao dịch theo hạng chợ"), width=width,
                    target=report.target, target_label=names.get("target", "Mục tiêu"))


def trend_chart(report: "AdoptionReport", *, width: int = 520, labels: dict[str, str] | None = None) -> str | None:
    """The monthly trend; months not reconciled are gaps marked as such (None with fewer than two months)."""
    if len(report.trend) < 2 or sum(1 for t in report.trend if t.figures) < 1:
        return None
    names = labels or {}
    return svg_lines([_month_label(t.period) for t in report.trend],
                     [(names.get("households", "% hộ chấp nhận"),
                       [t.figures.household_accepting_rate if t.figures else None for t in report.trend]),
                      (names.get("accepting", "% sạp chấp nhận"),
                       [t.figures.accepting_rate if t.figures else None for t in report.trend]),
                      (names.get("active", "% sạp có giao dịch"),
                       [t.figures.active_rate if t.figures else None for t in report.trend])],
                     title=names.get("trend", "Xu hướng theo tháng"), width=width,
                     missing=[t.figures is None for t in report.trend],
                     missing_label=names.get("missing", "chưa đối soát"), target=report.target,
                     target_label=names.get("target", "Mục tiêu"))


def _month_label(period: str) -> str:
    year, month = period.split("-")
    return f"{month}/{year[2:]}"


def write_html(report: "AdoptionReport", target: str | os.PathLike[str] | IO[bytes]) -> None:
    """One printable report of a few A4 pages: key figures, charts, the views, the trend, the anomalies
    summarised by kind (the full list is in the XLSX), the definitions."""
    p = report.province
    done = report.reconciled

    def figure(value: Any, kind: str) -> str:
        return _fmt(value, kind) if done else NOT_RECONCILED

    cards = [("Hộ chấp nhận TTKDTM – theo số hộ kinh doanh", figure(p.household_accepting_rate, "pct"),
              f"{_fmt(p.households_accepting, 'int')} / {_fmt(p.households, 'int')} hộ" if done else ""),
             ("Sạp chấp nhận – theo số sạp", figure(p.accepting_rate, "pct"),
              f"{_fmt(p.accepting, 'int')} / {_fmt(p.stalls, 'int')} sạp" if done else ""),
             ("Sạp chấp nhận – bình quân các chợ", figure(p.mean_accepting_rate, "pct"), f"{p.markets} chợ"),
             ("Hộ có giao dịch – theo số hộ kinh doanh", figure(p.household_active_rate, "pct"),
              f"{_fmt(p.households_active, 'int')} hộ" if done else ""),
             ("Chợ đạt mục tiêu", f"{p.markets_at_target}/{p.markets}" if done else NOT_RECONCILED,
              f"mục tiêu {target_label(report)}")]
    charts = [c for c in (tier_chart(report, width=440), trend_chart(report, width=440)) if c]
    sections = []
    figure_columns = _pick(FIGURE_COLUMNS, HTML_FIGURE_KEYS)
    if done:
        order = [report.by] + [v for v in ("tier", "locality", "market") if v != report.by]
        for view in order:
            if view == "province":
                continue
            if view == "market":
                sections.append(f"<h2>{VIEW_TITLES[view]}</h2>" + _html_table(
                    _pick(MARKET_COLUMNS, HTML_MARKET_KEYS), _market_values(report)))
            else:
                sections.append(f"<h2>{VIEW_TITLES[view]}</h2>" + _html_table(
                    figure_columns, [_figure_values(f) for f in report.views.get(view, [])], _figure_values(p)))
    trend_columns = _pick(TREND_COLUMNS, ("period", "state", "households", "household_accepting_rate", "stalls",
                                          "accepting_rate", "mean_accepting_rate", "active_rate"))
    sections.append("<h2>Xu hướng theo tháng</h2>" + _html_table(trend_columns, _trend_values(report)))
    if report.anomalies:
        sections.append(f"<h2>Bất thường cần kiểm tra: {_fmt(len(report.anomalies), 'int')} trường hợp</h2>"
                        + _html_table(ANOMALY_SUMMARY_COLUMNS, report.anomaly_summary)
                        + '<p class="note">Danh sách đầy đủ từng trường hợp có trong tệp Excel của báo cáo '
                          '(trang “Bất thường”).</p>')
    if report.stalls is not None:
        sections.append(f'<p class="note">Chi tiết {_fmt(len(report.stalls), "int")} sạp có trong tệp Excel của '
                        'báo cáo (trang “Chi tiết sạp”).</p>')
    definitions = "".join(f"<dt>{_e(a)}</dt><dd>{_e(b)}</dd>" for a, b in DEFINITIONS_VI)
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in report.notes)
    warning = ("" if done else f'<p class="warning">Kỳ {_e(_period_title(report.period))} chưa được đối soát: '
               "chưa có số liệu (không phải 0%).</p>")
    page = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Báo cáo thanh toán không dùng tiền mặt tại chợ – {_e(_period_title(report.period))}</title>
<style>{_CSS}</style></head><body>
<h1>Báo cáo tỷ lệ thanh toán không dùng tiền mặt tại chợ (Chợ 4.0)</h1>
<p class="meta">Kỳ báo cáo: {_e(_period_title(report.period))} · Phạm vi: {_e(report.scope)} ·
Cấp địa phương: {_e(report.level_label)} · Mục tiêu: {_e(target_label(report))} ·
Lập lúc {formats.when(report.generated_at)} bởi {_e(report.generated_by)}</p>
{warning}
<div class="cards">{''.join(f'<div class="card"><small>{_e(a)}</small><b>{_e(b)}</b><small>{_e(c)}</small></div>'
                          for a, b, c in cards)}</div>
<div class="charts">{''.join(f'<figure>{c}</figure>' for c in charts)}</div>
{notes}
{''.join(sections)}
<h2>Giải thích</h2><dl>{definitions}</dl>
</body></html>
"""
    data = page.encode("utf-8")
    if isinstance(target, (str, os.PathLike)):
        Path(target).write_bytes(data)
    else:
        target.write(data)


#: format → the writer, the media type and the file suffix (the one table both doors read).
EXPORT_FORMATS = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "html": ("text/html; charset=utf-8", ".html"),
    "json": ("application/json", ".json"),
}
WRITERS: dict[str, Callable[[AdoptionReport, Any], None]] = {
    "xlsx": write_xlsx, "csv": write_csv, "html": write_html, "json": write_json}
