"""Market boards' spreadsheets as they really are (issue #12): banks with branches, spaced account
numbers, everyday status words, totals rows, and reasons in Vietnamese naming row and column."""
import csv

import pytest
from sqlmodel import select

from market40 import banks, messages
from market40.models import PaymentAccount, Stall
from market40.services.imports import import_stalls
from market40.services.registry import Actor, Registry

ACTOR = Actor.operator("tester")
HEADER = ["STT", "Mã sạp", "Tên chủ hộ", "Số điện thoại", "Ngân hàng", "Số tài khoản", "Tên chủ tài khoản",
          "Trạng thái"]
ROWS = [
    ["1", "A-1", "Nguyễn Thị Lan", "0912345678", "Vietcombank chi nhánh Hạ Long", "0011 0123 44418",
     "NGUYEN THI LAN", "Đang KD"],
    ["2", "A-2", "Trần Văn Bình", "0987654321", "BIDV - CN Hạ Long", "4511-0000-1234", "TRAN VAN BINH",
     "Đang kinh doanh"],
    ["3", "A-3", "Lê Thị Hoa", "0356000111", "Agribank Quảng Ninh", "8000 205 123456", "LE THI HOA", "Tạm nghỉ"],
    ["4", "A-4", "Phạm Văn Đức", "0356000112", "NH Nông nghiệp và PTNT Hạ Long", "8000205654321", "PHAM VAN DUC",
     "Nghỉ"],
    ["5", "A-5", "Công Thị Hoa", "0356000113", "", "", "", "Đóng cửa"],
    ["", "Tổng cộng: 5 hộ", "", "", "", "", "", ""],
    ["", "", "", "", "", "", "", ""],
    ["5", "", "", "", "", "", "", ""],
]


def write(path, rows, header=HEADER):
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("text, code, branch", [
    ("Vietcombank chi nhánh Hạ Long", "VCB", "chi nhánh Hạ Long"),
    ("BIDV - CN Hạ Long", "BIDV", "CN Hạ Long"),
    ("Agribank Quảng Ninh", "VBA", "Quảng Ninh"),
    ("NH Nông nghiệp", "VBA", None),
    ("Ngân hàng Nông nghiệp và Phát triển Nông thôn - Chi nhánh Quảng Ninh", "VBA", "Chi nhánh Quảng Ninh"),
    ("Techcombank, PGD Bãi Cháy", "TCB", "PGD Bãi Cháy"),
    ("VietinBank", "ICB", None),
])
def test_a_bank_written_with_its_branch_resolves_to_the_bank(text, code, branch):
    found = banks.resolve(text)
    assert (found.bank.code, found.branch) == (code, branch)


def test_the_web_form_and_imports_share_the_resolver(session, market):
    account = Registry(session, ACTOR).prepare_account("HL1", "A-9", bank="BIDV - CN Hạ Long",
                                                      number="4511 0000 1234", holder_name="TRAN VAN BINH")
    assert (account["bin"], account["number"], account["bank_branch"]) == ("970418", "451100001234", "CN Hạ Long")


def test_a_board_list_as_it_really_is_imports_whole(session, market, tmp_path):
    report = import_stalls(session, ACTOR, write(tmp_path / "bql.csv", ROWS), market="HL1")
    assert report.problems == [] and report.written
    assert report.rows == 5 and report.totals_rows == [7, 9]  # the totals lines are counted, not rejected
    assert "2 totals rows skipped (rows 7, 9)" in report.summary()
    stalls = {s.code: s for s in session.exec(select(Stall)).all()}
    assert {c: s.status for c, s in stalls.items()} == {
        "A-1": "operating", "A-2": "operating", "A-3": "closed", "A-4": "closed", "A-5": "closed"}
    accounts = {a.holder_name: a for a in session.exec(select(PaymentAccount)).all()}
    assert {n: (a.bin, a.number, a.bank_branch) for n, a in accounts.items()} == {
        "NGUYEN THI LAN": ("970436", "0011012344418", "chi nhánh Hạ Long"),
        "TRAN VAN BINH": ("970418", "451100001234", "CN Hạ Long"),
        "LE THI HOA": ("970405", "8000205123456", "Quảng Ninh"),
        "PHAM VAN DUC": ("970405", "8000205654321", "Hạ Long"),
    }
    again = import_stalls(session, ACTOR, write(tmp_path / "bql.csv", ROWS), market="HL1")
    assert not again.changed and again.unchanged == 5


def test_reasons_are_in_vietnamese_naming_row_and_column_with_english_available(session, market, tmp_path):
    bad = [["1", "B-1", "Nguyễn Thị Lan", "0912", "Ngân hàng Không Có Thật", "0011012344418", "NGUYEN THI LAN",
            "Đang KD"],
           ["2", "B-2", "Trần Văn Bình", "0987654321", "Vietcombank", "", "", "Hoạt động cầm chừng"]]
    rejects = tmp_path / "loi.csv"
    report = import_stalls(session, ACTOR, write(tmp_path / "bql.csv", bad), market="HL1", rejects=rejects)
    lines = [line for p in report.problems for line in p.lines()]
    assert "Dòng 2, cột «Số điện thoại»: số điện thoại «0912» không đúng: số 0 và 9–10 chữ số" in lines
    assert any(line.startswith("Dòng 2, cột «Ngân hàng»: không tìm thấy ngân hàng «Ngân hàng Không Có Thật»")
               for line in lines)
    assert "Dòng 3, cột «Số tài khoản»: cần điền cùng các cột tài khoản khác (ngân hàng, số tài khoản, tên chủ tài " \
           "khoản), hoặc để trống cả ba" in lines
    assert any(line.startswith("Dòng 3, cột «Trạng thái»: không hiểu trạng thái «Hoạt động cầm chừng»")
               for line in lines)
    english = [line for p in report.problems for line in p.lines("en")]
    assert any(line.startswith("row 2, column 'owner phone': owner_phone: a Vietnamese phone number") for line in english)
    with open(rejects, encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["Dòng"], r["Cột"]) for r in rows} == {("2", "Số điện thoại"), ("2", "Ngân hàng"),
                                                    ("3", "Số tài khoản"), ("3", "Tên chủ tài khoản"),
                                                    ("3", "Trạng thái")}
    assert all(r["Lý do"] and r["Reason (English)"] and r["Lý do"] != r["Reason (English)"] for r in rows)


def test_every_import_rule_has_both_languages():
    rules = [code for code in messages.TEXTS if not code.startswith("field")]
    assert all(all(messages.TEXTS[code]) for code in rules)
