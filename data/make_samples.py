"""Regenerate the sample market-board files in ``data/samples/`` from the demo generator.

    python data/make_samples.py              # writes data/samples/
    python data/make_samples.py --out /tmp/x # writes somewhere else

Everything written is synthetic demo data (see ``data/samples/README.md``). The CSV
files are byte-for-byte reproducible; the XLSX differs between runs only in its
"last modified" timestamp (openpyxl stamps it on save).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from market40 import demo  # noqa: E402

SEED = 2025

#: New markets that are not among the 43 demo markets. Classified after the
#: 2025 reform, so their locality is already a commune-level unit.
NEW_MARKETS = [
    {
        "market_code": "HH1", "name": "Chợ Hồng Hà", "tier": "III",
        "tier_source": "QĐ phân hạng chợ của UBND phường Hạ Long (dữ liệu demo)",
        "tier_date": "2025-09-15", "central": False, "locality": "06688",
        "address": "Phường Hạ Long, tỉnh Quảng Ninh",
        "board_contact": "Lê Thị Thu Trang (Tổ quản lý chợ)", "board_phone": "0984216530",
    },
    {
        "market_code": "TC1", "name": "Chợ Tuần Châu", "tier": "III",
        "tier_source": "QĐ phân hạng chợ của UBND phường Tuần Châu (dữ liệu demo)",
        "tier_date": "2025-10-02", "central": False, "locality": "06706",
        "address": "Phường Tuần Châu, tỉnh Quảng Ninh",
        "board_contact": "Vũ Văn Thắng (Tổ quản lý chợ)", "board_phone": "0356892417",
    },
]
#: The sample stall list: HH1, a new market still enrolling (70% with an account).
SAMPLE_MARKET, SAMPLE_COUNT, SAMPLE_ADOPTION = "HH1", 150, 0.70

MARKET_HEADERS = {
    "market_code": "Mã chợ", "name": "Tên chợ", "tier": "Hạng", "tier_source": "Nguồn phân hạng",
    "tier_date": "Ngày phân hạng", "central": "Chợ trung tâm", "locality": "Địa phương",
    "address": "Địa chỉ", "board_contact": "Ban quản lý", "board_phone": "Điện thoại BQL",
}
STALL_HEADERS = {
    "stall_code": "Mã sạp", "shop_name": "Tên cửa hàng", "category": "Ngành hàng",
    "owner_name": "Tên chủ hộ", "owner_phone": "Số điện thoại", "bank": "Ngân hàng",
    "account": "Số tài khoản", "account_holder": "Tên chủ tài khoản", "account_kind": "Loại tài khoản",
    "reference": "Mã tham chiếu", "status": "Trạng thái",
}
#: BIN -> the name a market board types (not the directory's short_name).
BOARD_BANK_NAMES = {
    "970405": "Agribank", "970436": "Vietcombank", "970415": "VietinBank", "970418": "BIDV",
    "970422": "MB", "970407": "Techcombank", "970416": "ACB", "970403": "Sacombank",
    "970432": "VPBank", "970423": "TPBank", "970449": "LPBank", "971005": "Viettel Money",
    "971011": "VNPT Money", "971025": "MoMo",
}
KIND_LABELS = {"bank_account": "Tài khoản ngân hàng", "ewallet": "Ví điện tử", "card": "Thẻ ngân hàng", "": ""}
STATUS_LABELS = {"operating": "Đang kinh doanh", "closed": "Nghỉ kinh doanh"}


def board_rows() -> list[list[str]]:
    """The sample market's stall list as the board would type it (Vietnamese values)."""
    rows = []
    for stall in demo.stalls(SAMPLE_MARKET, seed=SEED, count=SAMPLE_COUNT, adoption=SAMPLE_ADOPTION):
        board = dict(stall)
        board["bank"] = BOARD_BANK_NAMES[stall["bank"]] if stall["bank"] else ""
        board["account_kind"] = KIND_LABELS[stall["account_kind"]]
        board["status"] = STATUS_LABELS[stall["status"]]
        rows.append([board[key] for key in STALL_HEADERS])
    return rows


def error_rows(rows: list[list[str]]) -> tuple[list[list[str]], list[str]]:
    """Ten good rows followed by four bad ones, and a description of each bad row."""
    col = {key: i for i, key in enumerate(STALL_HEADERS)}
    good = [list(row) for row in rows[:10]]
    spare = [list(row) for row in rows[10:] if row[col["account"]] and row[col["bank"]] in ("Agribank", "Vietcombank", "BIDV", "VietinBank", "MB")]
    too_long, unknown_bank, no_owner, duplicate = spare[:4]
    too_long[col["account"]] = "12345678901234567890"
    unknown_bank[col["bank"]] = "Ngân hàng Vịnh Xanh"
    no_owner[col["owner_name"]] = ""
    duplicate[col["stall_code"]] = good[2][col["stall_code"]]
    notes = [
        f"dòng 12 (sạp {too_long[0]}): Số tài khoản có 20 chữ số (tối đa 19)",
        f"dòng 13 (sạp {unknown_bank[0]}): Ngân hàng \"Ngân hàng Vịnh Xanh\" không có trong danh bạ NAPAS",
        f"dòng 14 (sạp {no_owner[0]}): thiếu Tên chủ hộ",
        f"dòng 15: Mã sạp {duplicate[0]} trùng với dòng 4",
    ]
    return good + [too_long, unknown_bank, no_owner, duplicate], notes


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    # UTF-8 with BOM and CRLF: what Excel on a Vietnamese office PC opens cleanly.
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_xlsx(path: Path, header: list[str], rows: list[list[str]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Danh sách sạp"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.number_format = "@"  # text: keeps 0912…, 0141000… and long account numbers intact
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for index, title in enumerate(header):
        width = max([len(title)] + [len(row[index]) for row in rows])
        sheet.column_dimensions[chr(ord("A") + index)].width = min(40, width + 2)
    workbook.properties.creator = "market40 data/make_samples.py"
    workbook.properties.created = datetime.datetime(2025, 10, 1, 8, 0, 0)
    workbook.save(path)


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stall_header = list(STALL_HEADERS.values())
    rows = board_rows()
    bad, _notes = error_rows(rows)
    markets = [[("Có" if m[key] else "Không") if key == "central" else m[key] for key in MARKET_HEADERS]
               for m in NEW_MARKETS]
    written = [
        out / f"stalls-{SAMPLE_MARKET}.csv",
        out / f"stalls-{SAMPLE_MARKET}.xlsx",
        out / f"stalls-{SAMPLE_MARKET}-with-errors.csv",
        out / "markets-new.csv",
    ]
    write_csv(written[0], stall_header, rows)
    write_xlsx(written[1], stall_header, rows)
    write_csv(written[2], stall_header, bad)
    write_csv(written[3], list(MARKET_HEADERS.values()), markets)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "samples", help="output folder (default: data/samples)")
    args = parser.parse_args()
    for path in main(args.out):
        print(path)
    for note in error_rows(board_rows())[1]:
        print("  lỗi cố ý:", note)
